"""Covariance estimators, including ragged histories, and PSD repair.

Every covariance here is **annualised** (fraction^2 per year): the estimators
take periodic returns (fractions per period, dates x tickers) of a stated
``frequency`` and multiply the periodic covariance by 252 (daily), 52 (weekly)
or 12 (monthly).

Estimators on complete returns (no NaN) each return a tickers x tickers
DataFrame: :func:`sample_covariance` (ddof=1, as ``numpy.cov``),
:func:`ledoit_wolf_covariance` and :func:`oas_covariance` (scikit-learn's
``LedoitWolf`` / ``OAS`` with ``assume_centered=False``; their empirical
covariance uses ddof=0), :func:`ewma_covariance` (pandas' ``ewm(halflife).cov()``
at the last date: ``adjust=True`` weights and the ``bias=False`` correction
(sum w)^2 / ((sum w)^2 - sum w^2)). :func:`factor_covariance` fits a factor model
and accepts ragged returns.

Ragged histories
----------------
Names list at different times (CRWV has about 16 months of prices, NVDA more than
ten years), so a lookback window holds NaN before a young name's first return.
:func:`covariance` does not truncate every name to the youngest. It:

1. drops dates on which no name has a return, then splits the names into a
   *full* block (a return on every date of the window) and *short* names (any
   NaN in the window, e.g. listed inside it or with a local-holiday gap);
2. applies the chosen estimator to the full block **alone**, so that block is
   exactly what the estimator gives for those names by themselves -- adding a
   young name never changes the estimate for the old ones;
3. fills the short names' rows and columns with

   * ``ragged="pairwise"``: each pair's correlation over the dates both names
     have, rescaled by each name's own volatility (full names: the block's
     diagonal; a short name: the same estimator applied to that name alone over
     its own history), so the short entries are on the same scale as the block;
   * ``ragged="factor"``: an OLS regression (with intercept) of the short name on
     the factor returns -- or, without factor returns, on the full-block names --
     over its own history. Its covariance with the full block is the one implied
     by the betas, beta' Cov(regressors, full names) (the sample covariance over
     the window for factors; the block itself for full-name regressors), and its
     variance is beta' Cov(regressors) beta plus its specific (residual) variance;
   * ``ragged="auto"``: ``factor`` when factor returns are given, else ``pairwise``;
4. repairs the result to positive semi-definite without touching the full block,
   by the Schur complement (:func:`schur_complement_repair`): with
   Sigma = [[A, B], [B', C]] (A the full block), the negative eigenvalues of
   S = C - B' A^+ B are clipped and C is set to B' A^+ B + S_clipped. The
   Frobenius norm of the change is reported as ``repair``.

``method="factor"`` puts every name on the factor model, each regressed over its
own rows, so ragged histories need no special treatment and ``ragged`` does not
apply. Names with fewer than ``min_observations`` returns in the window get a
warning saying how their risk was estimated; a name with fewer than 2 raises
:class:`~portfolio.errors.DataError`. Every returned matrix is symmetric and PSD
(smallest eigenvalue >= -1e-12 times the largest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sklearn
from sklearn.covariance import ledoit_wolf_shrinkage, oas

from portfolio.config import COVARIANCE_METHODS, RAGGED_POLICIES
from portfolio.errors import ConfigError, DataError
from portfolio.estimate.returns import check_choice, numeric_table, periods_per_year

__all__ = [
    "METHODS",
    "PSD_TOLERANCE",
    "RAGGED_MODES",
    "CovarianceEstimate",
    "FactorModel",
    "complete_covariance",
    "covariance",
    "ewma_covariance",
    "factor_covariance",
    "is_psd",
    "ledoit_wolf_covariance",
    "nearest_psd",
    "oas_covariance",
    "sample_covariance",
    "schur_complement_repair",
]

METHODS = COVARIANCE_METHODS
"""Covariance methods accepted by :func:`covariance` (the config's names)."""

RAGGED_MODES = RAGGED_POLICIES
"""Ways :func:`covariance` fills the rows of names with short histories."""

PSD_TOLERANCE = 1e-12
"""A matrix is PSD when its smallest eigenvalue >= -PSD_TOLERANCE x its largest."""

_RANGE_RCOND = 1e-10  # eigenvalues of A below this x the largest are treated as zero


@dataclass(frozen=True, eq=False)
class FactorModel:
    """A fitted linear factor model of returns (annualised).

    Attributes
    ----------
    betas : pandas.DataFrame
        Names x factors; OLS slopes (with intercept) of each name's periodic
        returns on the factor returns, dimensionless.
    factor_cov : pandas.DataFrame
        Factors x factors; sample covariance (ddof=1) of the factor returns over
        the window, annualised (fraction^2/year).
    specific_var : pandas.Series
        Per name; residual variance SSR / (n - k - 1), annualised.
    matrix : pandas.DataFrame
        Names x names; betas @ factor_cov @ betas.T + diag(specific_var).
    observations : pandas.Series
        Per name; number of return dates used in its regression.
    """

    betas: pd.DataFrame
    factor_cov: pd.DataFrame
    specific_var: pd.Series
    matrix: pd.DataFrame
    observations: pd.Series


@dataclass(frozen=True, eq=False)
class CovarianceEstimate:
    """Result of :func:`covariance`.

    Attributes
    ----------
    matrix : pandas.DataFrame
        Tickers x tickers, annualised covariance (fraction^2/year), symmetric PSD,
        in the column order of the input returns.
    method : str
        The estimator used for the full-history block (one of :data:`METHODS`).
    observations : pandas.Series
        Per ticker; number of returns it has in the window (the rows the estimate
        for that name rests on).
    repair : float
        Frobenius norm of the change made to reach PSD; 0.0 if none was needed.
    warnings : tuple of str
        Human-readable notes: short histories, how they were filled, repairs.
    frequency : str
        Frequency of the input returns (``daily``, ``weekly`` or ``monthly``).
    """

    matrix: pd.DataFrame
    method: str
    observations: pd.Series
    repair: float
    warnings: tuple[str, ...]
    frequency: str


# ---------------------------------------------------------------------------
# Estimators on complete returns
# ---------------------------------------------------------------------------


def sample_covariance(returns: pd.DataFrame, frequency: str = "daily") -> pd.DataFrame:
    """Sample covariance (ddof=1), annualised.

    Parameters
    ----------
    returns : pandas.DataFrame
        Dates x tickers, periodic returns (fractions), no NaN, at least 2 rows.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``; sets the annualisation factor.

    Returns
    -------
    pandas.DataFrame
        Tickers x tickers, fraction^2/year; equals ``numpy.cov(returns.T) * 252``
        for daily returns.
    """
    return _checked_estimate("sample", returns, frequency, "sample_covariance")


def ledoit_wolf_covariance(returns: pd.DataFrame, frequency: str = "daily") -> pd.DataFrame:
    """Ledoit-Wolf shrunk covariance from scikit-learn, annualised.

    Parameters
    ----------
    returns : pandas.DataFrame
        Dates x tickers, periodic returns (fractions), no NaN, at least 2 rows.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``; sets the annualisation factor.

    Returns
    -------
    pandas.DataFrame
        Tickers x tickers, fraction^2/year: ``LedoitWolf(assume_centered=False)
        .fit(returns).covariance_`` times the periods per year.
    """
    return _checked_estimate("ledoit_wolf", returns, frequency, "ledoit_wolf_covariance")


def oas_covariance(returns: pd.DataFrame, frequency: str = "daily") -> pd.DataFrame:
    """Oracle Approximating Shrinkage covariance from scikit-learn, annualised.

    Parameters
    ----------
    returns : pandas.DataFrame
        Dates x tickers, periodic returns (fractions), no NaN, at least 2 rows.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``; sets the annualisation factor.

    Returns
    -------
    pandas.DataFrame
        Tickers x tickers, fraction^2/year: ``OAS(assume_centered=False)
        .fit(returns).covariance_`` times the periods per year.
    """
    return _checked_estimate("oas", returns, frequency, "oas_covariance")


def _checked_estimate(method: str, returns: pd.DataFrame, frequency: str, function: str,
                      half_life: float = 63) -> pd.DataFrame:
    """Check the settings and complete returns, then :func:`complete_covariance` by ticker."""
    periods_per_year(frequency)
    _check_half_life(half_life)
    returns = _complete_returns(returns, function)
    return _estimate(method, returns, frequency, half_life)


def complete_covariance(
    method: str, values: np.ndarray, frequency: str = "daily", half_life: float = 63
) -> np.ndarray:
    """The block estimators on a plain array of complete returns, annualised.

    The numpy core of :func:`sample_covariance`, :func:`ledoit_wolf_covariance`,
    :func:`oas_covariance` and :func:`ewma_covariance`, for callers that have already
    checked their returns (the backtest's walk-forward, hundreds of windows): no input
    checks here. scikit-learn's own input and parameter validation is switched off for
    the same reason; it costs more than the estimate on a 504 x 50 window.

    Parameters
    ----------
    method : {"sample", "ledoit_wolf", "oas", "ewma"}
    values : ndarray, shape (T, n)
        Periodic returns (fractions), finite, ``T >= 2``.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``values``; sets the annualisation factor.
    half_life : float
        EWMA half-life in periods (``method="ewma"``).

    Returns
    -------
    ndarray, shape (n, n)
        Symmetric covariance, fraction^2/year.
    """
    if method == "sample":
        matrix = np.atleast_2d(np.cov(values, rowvar=False, ddof=1))
    elif method == "ewma":
        matrix = _ewma(values, half_life)
    else:
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            matrix = _ledoit_wolf(values) if method == "ledoit_wolf" else _oas(values)
    matrix = matrix * periods_per_year(frequency)
    return (matrix + matrix.T) / 2


def _ledoit_wolf(values: np.ndarray) -> np.ndarray:
    """``LedoitWolf(assume_centered=False).fit(values).covariance_`` (T x n -> n x n).

    The estimator is scikit-learn's: its shrinkage intensity ``ledoit_wolf_shrinkage`` on
    the centred data. The shrunk matrix ``(1 - d) S + d tr(S) / n I`` of the biased
    empirical covariance ``S`` is then formed as ``sklearn.covariance.shrunk_covariance``
    forms it, in place (that function's input checks cost more than the product itself).
    Equal to the estimator's to 1e-10 (``tests/test_risk_models.py``).
    """
    centred = values - values.mean(axis=0)
    empirical = centred.T @ centred / len(centred)
    shrinkage = ledoit_wolf_shrinkage(centred, assume_centered=True)
    n = empirical.shape[0]
    shrunk = (1.0 - shrinkage) * empirical
    shrunk.flat[:: n + 1] += shrinkage * np.trace(empirical) / n
    return shrunk


def _oas(values: np.ndarray) -> np.ndarray:
    """``OAS(assume_centered=False).fit(values).covariance_`` (T x n -> n x n)."""
    return oas(values, assume_centered=False)[0]


def ewma_covariance(
    returns: pd.DataFrame, half_life: float = 63, frequency: str = "daily"
) -> pd.DataFrame:
    """Exponentially weighted covariance at the last date, annualised.

    Equals ``returns.ewm(halflife=half_life).cov()`` at the last date (pandas
    defaults ``adjust=True``, ``bias=False``): weights w_i = (1 - alpha)^(T-1-i)
    with alpha = 1 - exp(-ln 2 / half_life), the weighted mean removed, and the
    weighted covariance multiplied by the bias correction
    (sum w)^2 / ((sum w)^2 - sum w^2).

    Parameters
    ----------
    returns : pandas.DataFrame
        Dates x tickers, periodic returns (fractions), no NaN, at least 2 rows.
    half_life : float
        Half-life of the weights, in periods of ``returns`` (> 0).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``; sets the annualisation factor.

    Returns
    -------
    pandas.DataFrame
        Tickers x tickers, fraction^2/year.
    """
    return _checked_estimate("ewma", returns, frequency, "ewma_covariance", half_life)


def _ewma(values: np.ndarray, half_life: float) -> np.ndarray:
    """Bias-corrected exponentially weighted covariance at the last row (periodic)."""
    decay = np.exp(-np.log(2.0) / half_life)  # = 1 - alpha
    weights = decay ** np.arange(len(values) - 1, -1, -1, dtype=float)
    total = weights.sum()
    mean = weights @ values / total
    centered = values - mean
    biased = (centered * weights[:, None]).T @ centered / total
    correction = total**2 / (total**2 - (weights**2).sum())
    return biased * correction


def factor_covariance(
    returns: pd.DataFrame,
    factor_returns: pd.DataFrame | pd.Series,
    frequency: str = "daily",
) -> FactorModel:
    """Fit a linear factor model by OLS, name by name, on each name's own rows.

    Parameters
    ----------
    returns : pandas.DataFrame
        Dates x tickers, periodic returns (fractions); NaN allowed (ragged
        histories): each name is regressed on the dates it has a return.
    factor_returns : pandas.DataFrame or pandas.Series
        Dates x factors, periodic returns of the same frequency, aligned by date
        label; must have a value on every date of ``returns``.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of both inputs; sets the annualisation factor.

    Returns
    -------
    FactorModel
        Betas (names x factors), annualised factor covariance (ddof=1 over all
        dates of ``returns``), annualised specific variances SSR / (n - k - 1),
        and matrix = B Sigma_f B' + D (fraction^2/year).

    Raises
    ------
    DataError
        If a factor return is missing on a date of ``returns``, either table
        repeats a date, or a name has fewer than k + 2 returns (k factors).
    """
    periods_per_year(frequency)
    returns = _numeric_returns(returns)
    return _fit_factor_model(returns, _aligned_factors(factor_returns, returns.index), frequency)


def _fit_factor_model(
    returns: pd.DataFrame, factors: pd.DataFrame, frequency: str
) -> FactorModel:
    """:func:`factor_covariance` on checked inputs (float returns, factors on their dates)."""
    scale = periods_per_year(frequency)
    factor_values = factors.to_numpy()
    betas, specific, counts = _regress_each(returns, factor_values, "factor_covariance")
    factor_cov = np.atleast_2d(np.cov(factor_values, rowvar=False, ddof=1)) * scale
    specific = specific * scale
    matrix = betas @ factor_cov @ betas.T + np.diag(specific)
    names = returns.columns
    return FactorModel(
        betas=pd.DataFrame(betas, index=names, columns=factors.columns),
        factor_cov=_labelled(factor_cov, factors.columns),
        specific_var=pd.Series(specific, index=names, name="specific_var"),
        matrix=_labelled(matrix, names),
        observations=pd.Series(counts, index=names, name="observations"),
    )


# ---------------------------------------------------------------------------
# PSD checks and repairs
# ---------------------------------------------------------------------------


def is_psd(matrix: pd.DataFrame | np.ndarray) -> bool:
    """Tell whether a symmetric matrix is positive semi-definite.

    Parameters
    ----------
    matrix : pandas.DataFrame or numpy.ndarray
        Square matrix; its symmetric part is tested.

    Returns
    -------
    bool
        True when the smallest eigenvalue >= -PSD_TOLERANCE x the largest
        absolute eigenvalue.
    """
    values = np.asarray(matrix, dtype=float)
    if values.size == 0:
        return True
    symmetric = (values + values.T) / 2
    try:  # a Cholesky factor exists only for positive definite matrices: cheap common case
        np.linalg.cholesky(symmetric)
    except np.linalg.LinAlgError:
        return _eigenvalues_psd(np.linalg.eigvalsh(symmetric))
    return True


def nearest_psd(
    matrix: pd.DataFrame | np.ndarray,
) -> tuple[pd.DataFrame | np.ndarray, float]:
    """Repair a matrix to symmetric PSD by clipping negative eigenvalues to zero.

    Parameters
    ----------
    matrix : pandas.DataFrame or numpy.ndarray
        Square matrix (e.g. an annualised covariance).

    Returns
    -------
    repaired : pandas.DataFrame or numpy.ndarray
        Same type and labels; the symmetric part, unchanged if already PSD
        (see :func:`is_psd`), else with negative eigenvalues set to 0.
    repair_size : float
        Frobenius norm of ``repaired - matrix``; 0.0 for a symmetric PSD input.
    """
    values = _square(matrix)
    symmetric = (values + values.T) / 2
    repaired = symmetric
    if symmetric.size:
        eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
        if not _eigenvalues_psd(eigenvalues):
            clipped = (eigenvectors * np.clip(eigenvalues, 0.0, None)) @ eigenvectors.T
            repaired = (clipped + clipped.T) / 2
    repair_size = float(np.linalg.norm(repaired - values))
    if isinstance(matrix, pd.DataFrame):
        return pd.DataFrame(repaired, index=matrix.index, columns=matrix.columns), repair_size
    return repaired, repair_size


def schur_complement_repair(
    matrix: pd.DataFrame, keep: Sequence[str]
) -> tuple[pd.DataFrame, float]:
    """Repair a covariance to PSD without changing the block of ``keep`` names.

    With the names ordered as Sigma = [[A, B], [B', C]] (A = the ``keep`` block),
    B is projected onto the range of A (a no-op when A is well conditioned), the
    negative eigenvalues of the Schur complement S = C - B' A^+ B are clipped to
    zero, and C is set to B' A^+ B + S_clipped. A is returned bit for bit.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Symmetric tickers x tickers covariance (any units).
    keep : sequence of str
        Tickers whose block must not change; A must itself be PSD.

    Returns
    -------
    repaired : pandas.DataFrame
        Same labels and order; unchanged if ``matrix`` is already PSD.
    repair_size : float
        Frobenius norm of ``repaired - matrix``; 0.0 if nothing changed.
    """
    values = _square(matrix)
    if is_psd(values):
        return matrix, 0.0
    names = list(matrix.index)
    keep = list(keep)
    unknown = [name for name in keep if name not in names]
    if unknown:
        raise DataError(
            "unknown tickers in the block to keep",
            ", ".join(map(str, unknown)),
            "every kept ticker must be in the matrix",
            "Pass tickers of the matrix",
        )
    kept = np.array([names.index(name) for name in keep], dtype=int)
    rest = np.setdiff1d(np.arange(len(names)), kept)
    block = values[np.ix_(kept, kept)]
    cross = values[np.ix_(kept, rest)]
    short = values[np.ix_(rest, rest)]

    if len(kept):
        eigenvalues, eigenvectors = np.linalg.eigh(block)
        in_range = eigenvalues > _RANGE_RCOND * max(eigenvalues.max(), 0.0)
        basis, spectrum = eigenvectors[:, in_range], eigenvalues[in_range]
        coordinates = basis.T @ cross  # cross in the eigenbasis of A
        if not in_range.all():
            cross = basis @ coordinates  # drop the part outside the range of A
        whitened = coordinates / np.sqrt(spectrum)[:, None]
        explained = whitened.T @ whitened  # B' A^+ B
    else:
        explained = np.zeros_like(short)
    schur = short - explained
    schur = (schur + schur.T) / 2
    schur_values, schur_vectors = np.linalg.eigh(schur)
    clipped = (schur_vectors * np.clip(schur_values, 0.0, None)) @ schur_vectors.T
    new_short = explained + clipped
    new_short = (new_short + new_short.T) / 2

    repaired = values.copy()
    repaired[np.ix_(kept, rest)] = cross
    repaired[np.ix_(rest, kept)] = cross.T
    repaired[np.ix_(rest, rest)] = new_short
    repair_size = float(np.linalg.norm(repaired - values))
    return pd.DataFrame(repaired, index=matrix.index, columns=matrix.columns), repair_size


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def covariance(
    returns: pd.DataFrame,
    method: str = "ledoit_wolf",
    *,
    frequency: str = "daily",
    half_life: float = 63,
    factor_returns: pd.DataFrame | pd.Series | None = None,
    ragged: str = "auto",
    min_observations: int = 126,
) -> CovarianceEstimate:
    """Estimate an annualised covariance matrix, handling ragged histories.

    See the module docstring for the ragged-history design.

    Parameters
    ----------
    returns : pandas.DataFrame
        Dates x tickers, periodic returns (fractions) over the lookback window;
        NaN where a name has no return (before its listing, gaps).
    method : {"sample", "ledoit_wolf", "oas", "ewma", "factor"}
        Estimator for the full-history block (``factor``: for every name).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns`` (and ``factor_returns``); sets annualisation.
    half_life : float
        EWMA half-life in periods of ``returns`` (used by ``method="ewma"``).
    factor_returns : pandas.DataFrame or pandas.Series, optional
        Dates x factors (e.g. SPY, SMH), periodic returns aligned by date; needed
        for ``method="factor"`` and used by ``ragged="factor"``/``"auto"``. Must
        have a value on every date of the window.
    ragged : {"auto", "pairwise", "factor"}
        How short-history names are filled in (ignored by ``method="factor"``).
    min_observations : int
        Names with fewer returns in the window get a warning.

    Returns
    -------
    CovarianceEstimate
        Symmetric PSD matrix (fraction^2/year) in the input column order, with
        observations per name, the repair size and warnings.

    Raises
    ------
    ConfigError
        If ``method``, ``ragged``, ``frequency``, ``half_life`` or
        ``min_observations`` is invalid, or ``method="factor"`` lacks factors.
    DataError
        If a name has fewer than 2 returns in the window, a regression has too
        few rows, or factor returns miss a date of the window (or, with factor
        returns, either table repeats a date).
    """
    check_choice(method, METHODS, "method")
    check_choice(ragged, RAGGED_MODES, "ragged")
    periods_per_year(frequency)
    _check_half_life(half_life)
    if isinstance(min_observations, bool) or not isinstance(min_observations, int | np.integer):
        raise ConfigError(
            f"invalid min_observations {min_observations!r}",
            "min_observations",
            "it must be a whole number of return periods",
            "Use e.g. 126 for half a year of daily returns",
        )
    if method == "factor" and factor_returns is None:
        raise ConfigError(
            "the factor covariance needs factor returns",
            "method = factor",
            "no factor returns were given",
            "Pass factor_returns (e.g. SPY and SMH returns) or choose another method",
        )

    returns = _numeric_returns(returns)
    present = ~np.isnan(returns.to_numpy())
    dated = present.any(axis=1)
    if not dated.all():
        returns, present = returns[dated], present[dated]
    counts = present.sum(axis=0)
    observations = pd.Series(counts, index=returns.columns, name="observations", dtype=int)
    _check_enough_observations(observations)
    factors = None if factor_returns is None else _aligned_factors(factor_returns, returns.index)
    names = list(returns.columns)
    complete = counts == len(returns)
    full = [name for name, ok in zip(names, complete) if ok]
    short = [name for name, ok in zip(names, complete) if not ok]

    notes: list[str] = []
    if method == "factor":
        model = _fit_factor_model(returns, factors, frequency)
        matrix = model.matrix
        how = f"its risk is estimated from {'/'.join(map(str, factors.columns))} factor betas"
        notes += _short_history_notes(observations, names, min_observations, how)
        matrix, repair = _ensure_psd(matrix, notes)
        return CovarianceEstimate(matrix, method, observations, repair, tuple(notes), frequency)

    block = (
        _estimate(method, returns if not short else returns[full], frequency, half_life)
        if full
        else None
    )
    if block is not None and not is_psd(block):
        block, block_repair = nearest_psd(block)
        notes.append(
            f"the {method} estimate was not positive semi-definite; eigenvalues clipped "
            f"(Frobenius change {block_repair:.3g})"
        )
    if full and len(returns) < min_observations:
        notes.append(
            f"{', '.join(map(str, full))} have {len(returns)} observations in the lookback, "
            f"fewer than the minimum {min_observations}; their covariance is the {method} "
            "estimate on those observations"
        )
    if not short:
        return CovarianceEstimate(block, method, observations, 0.0, tuple(notes), frequency)

    mode = ragged if ragged != "auto" else ("factor" if factors is not None else "pairwise")
    if mode == "pairwise":
        filled = _pairwise_fill(returns, block, full, short, method, frequency, half_life)
        how = "its covariances are pairwise estimates over its own history"
    elif factors is not None:
        filled = _factor_fill(returns, block, full, short, factors, frequency)
        how = f"its risk is estimated from {'/'.join(map(str, factors.columns))} factor betas"
    elif full:
        filled = _factor_fill(returns, block, full, short, None, frequency)
        how = f"its risk is estimated from betas on the {len(full)} full-history names"
    else:
        raise DataError(
            "no name has a full history in the window",
            ", ".join(map(str, short)),
            "ragged = factor without factor returns regresses on full-history names",
            "Pass factor_returns, use ragged = pairwise or shorten the lookback",
        )
    notes += _short_history_notes(observations, short, min_observations, how)
    matrix, repair = schur_complement_repair(filled, full)
    if repair > 0:
        notes.append(
            f"the filled-in covariance was not positive semi-definite; the rows of "
            f"{', '.join(map(str, short))} were repaired (Frobenius change {repair:.3g}) "
            "and the full-history block is unchanged"
        )
    if not is_psd(matrix):  # numerical safety net; not expected in practice
        matrix, extra = nearest_psd(matrix)
        repair = float(np.hypot(repair, extra))
        notes.append(f"eigenvalues clipped on the whole matrix (Frobenius change {extra:.3g})")
    matrix = matrix.loc[names, names]
    return CovarianceEstimate(matrix, method, observations, repair, tuple(notes), frequency)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _estimate(
    method: str, returns: pd.DataFrame, frequency: str, half_life: float
) -> pd.DataFrame:
    """Apply a block estimator (not ``factor``) to returns already checked complete."""
    return _labelled_as_is(
        complete_covariance(method, returns.to_numpy(), frequency, half_life), returns.columns
    )


def _pairwise_fill(returns, block, full, short, method, frequency, half_life) -> pd.DataFrame:
    """Covariance with short names from pairwise correlations x own volatilities."""
    names = full + short
    volatility = pd.Series(0.0, index=names)
    if full:
        volatility[full] = np.sqrt(np.diag(block.to_numpy()))
    for name in short:
        own = returns[[name]].dropna()
        volatility[name] = np.sqrt(_estimate(method, own, frequency, half_life).iat[0, 0])
    correlation = returns[names].corr(min_periods=2).fillna(0.0).to_numpy(copy=True)
    np.fill_diagonal(correlation, 1.0)
    values = correlation * np.outer(volatility, volatility)
    if full:
        values[: len(full), : len(full)] = block.to_numpy()
    return _labelled_as_is(values, names)


def _factor_fill(returns, block, full, short, factors, frequency) -> pd.DataFrame:
    """Covariance with short names implied by OLS betas on factors or full names."""
    scale = periods_per_year(frequency)
    if factors is None:
        regressors = returns[full].to_numpy()
        regressor_cov = block.to_numpy()
        cross_cov = regressor_cov  # Cov(regressors, full names) = the block itself
    else:
        regressors = factors.to_numpy()
        joint = np.cov(np.column_stack([regressors, returns[full].to_numpy()]), rowvar=False)
        joint = np.atleast_2d(joint) * scale
        k = regressors.shape[1]
        regressor_cov = joint[:k, :k]
        cross_cov = joint[:k, k:]
    betas, specific, _ = _regress_each(returns[short], regressors, "ragged = factor")
    specific = specific * scale
    names = full + short
    n_full = len(full)
    values = np.zeros((len(names), len(names)))
    if full:
        values[:n_full, :n_full] = block.to_numpy()
        values[n_full:, :n_full] = betas @ cross_cov
        values[:n_full, n_full:] = values[n_full:, :n_full].T
    short_block = betas @ regressor_cov @ betas.T + np.diag(specific)
    values[n_full:, n_full:] = (short_block + short_block.T) / 2
    return _labelled_as_is(values, names)


def _regress_each(returns: pd.DataFrame, regressors: np.ndarray, where: str):
    """OLS with intercept of each column on ``regressors`` over its non-NaN rows.

    Returns betas (names x k), periodic residual variances SSR / (n - k - 1) and
    the row counts.
    """
    k = regressors.shape[1]
    design = np.column_stack([np.ones(len(regressors)), regressors])
    betas = np.zeros((returns.shape[1], k))
    specific = np.zeros(returns.shape[1])
    counts = np.zeros(returns.shape[1], dtype=int)
    for j, name in enumerate(returns.columns):
        target = returns[name].to_numpy()
        rows = ~np.isnan(target)
        n = int(rows.sum())
        if n < k + 2:
            raise DataError(
                f"too few observations to regress {name} on {k} regressors",
                f"{name} ({where})",
                f"it has {n} returns in the lookback; OLS with intercept needs at least {k + 2}",
                "Use a longer lookback, fewer factors, or drop the ticker",
            )
        coefficients, *_ = np.linalg.lstsq(design[rows], target[rows], rcond=None)
        residuals = target[rows] - design[rows] @ coefficients
        betas[j] = coefficients[1:]
        specific[j] = residuals @ residuals / (n - k - 1)
        counts[j] = n
    return betas, specific, counts


def _short_history_notes(observations, names, min_observations, how) -> list[str]:
    return [
        f"{name} has {observations[name]} observations in the lookback, fewer than the "
        f"minimum {min_observations}; {how}"
        for name in names
        if observations[name] < min_observations
    ]


def _ensure_psd(matrix: pd.DataFrame, notes: list[str]) -> tuple[pd.DataFrame, float]:
    if is_psd(matrix):
        return matrix, 0.0
    repaired, repair = nearest_psd(matrix)
    notes.append(f"eigenvalues clipped to reach PSD (Frobenius change {repair:.3g})")
    return repaired, repair


def _check_enough_observations(observations: pd.Series) -> None:
    for name, count in observations.items():
        if count < 2:
            raise DataError(
                f"too few observations for {name}",
                str(name),
                f"{name} has {count} return(s) in the lookback; a covariance needs at least 2",
                f"Use a longer lookback or drop {name}",
            )


def _check_half_life(half_life) -> None:
    valid = isinstance(half_life, int | float | np.number) and not isinstance(half_life, bool)
    if not valid or not np.isfinite(half_life) or half_life <= 0:
        raise ConfigError(
            f"invalid EWMA half-life {half_life!r}",
            "half_life",
            "the half-life must be a positive number of return periods",
            "Use e.g. 63 for about three months of daily returns",
        )


def _numeric_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """Validate a returns table (NaN allowed) and return it as floats."""
    values = numeric_table(returns, "returns", "risk models")
    if returns.shape[1] == 0:
        raise DataError("no tickers", "returns", "the returns table has no columns", None)
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        column = values.columns[infinite.any(axis=0)][0]
        raise DataError(
            "infinite return",
            str(column),
            "returns must be finite",
            "Check the prices for zeros or bad values",
        )
    return values


def _complete_returns(returns: pd.DataFrame, function: str) -> pd.DataFrame:
    returns = _numeric_returns(returns)
    missing = returns.columns[np.isnan(returns.to_numpy()).any(axis=0)]
    if len(missing):
        raise DataError(
            f"{function} needs complete returns",
            ", ".join(map(str, missing)),
            "these tickers have missing returns in the window",
            "Use covariance(), which handles ragged histories, or drop the rows with NaN",
        )
    if len(returns) < 2:
        raise DataError(
            "too few observations",
            function,
            f"{len(returns)} return row(s); a covariance needs at least 2",
            "Use a longer lookback",
        )
    return returns


def _aligned_factors(factor_returns, dates: pd.Index) -> pd.DataFrame:
    """Factor returns on exactly ``dates`` (by label), complete, as floats."""
    if isinstance(factor_returns, pd.Series):
        factor_returns = factor_returns.to_frame(factor_returns.name or "factor")
    factors = _numeric_returns(factor_returns)
    for table, what in ((factors.index, "factor returns"), (dates, "returns")):
        duplicated = table[table.duplicated()]
        if len(duplicated):
            raise DataError(
                f"duplicate dates in {what}",
                ", ".join(_date_text(date) for date in duplicated[:5]),
                "each date must appear once to align factor returns with returns by date",
                "Drop or merge the duplicate rows",
            )
    missing = dates.difference(factors.index)
    if len(missing):
        raise DataError(
            f"factor returns miss {len(missing)} date(s) of the returns",
            ", ".join(_date_text(date) for date in missing[:3]),
            "factor returns are aligned by date and needed on every date of the window",
            "Compute factor returns on the same calendar and frequency as the returns",
        )
    factors = factors.loc[dates]
    gaps = factors.isna().any()
    if gaps.any():
        factor = gaps.idxmax()
        date = factors.index[factors[factor].isna().to_numpy()][0]
        raise DataError(
            f"missing factor return for {factor}",
            f"{factor} on {_date_text(date)}",
            "factor returns are needed on every date of the window",
            "Use a factor with a full history over the lookback",
        )
    return factors


def _date_text(date) -> str:
    return str(date.date()) if isinstance(date, pd.Timestamp) else str(date)


def _square(matrix) -> np.ndarray:
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise DataError(
            "covariance matrix is not square",
            f"shape {values.shape}",
            "a covariance has one row and one column per ticker",
            None,
        )
    if isinstance(matrix, pd.DataFrame) and list(matrix.index) != list(matrix.columns):
        raise DataError(
            "covariance rows and columns differ",
            "matrix",
            "the row and column labels must be the same tickers in the same order",
            "Reindex the matrix with matrix.loc[tickers, tickers]",
        )
    return values


def _eigenvalues_psd(eigenvalues: np.ndarray) -> bool:
    largest = np.abs(eigenvalues).max()
    return bool(eigenvalues.min() >= -PSD_TOLERANCE * largest)


def _labelled(matrix: np.ndarray, names: pd.Index) -> pd.DataFrame:
    """Symmetrise a covariance and label it tickers x tickers."""
    return pd.DataFrame((matrix + matrix.T) / 2, index=names, columns=names)


def _labelled_as_is(matrix: np.ndarray, names: list) -> pd.DataFrame:
    return pd.DataFrame(matrix, index=names, columns=names)
