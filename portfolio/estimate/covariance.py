"""Covariance estimators, including ragged histories, and PSD repair.

Every covariance here is **annualised** (fraction^2 per year): the estimators
take periodic returns (fractions per period, dates x tickers) of a stated
``frequency`` and multiply the periodic covariance by 252 (daily), 52 (weekly)
or 12 (monthly).

The estimators themselves are in :mod:`portfolio.estimate.estimators`; this module's
:func:`covariance` applies one of them to a lookback window whose names have histories of
different lengths.

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
apply; the estimate keeps the model's parts (:attr:`CovarianceEstimate.factor`:
loadings N x k, factor covariance k x k, specific variances) and never forms the
N x N matrix unless :attr:`CovarianceEstimate.matrix` is read. Names with fewer
than ``min_observations`` returns in the window get a warning saying how their risk
was estimated; a name with fewer than 2 raises :class:`~portfolio.errors.DataError`.

Every returned matrix is symmetric and PSD (smallest eigenvalue >= -1e-12 times the
largest) and says how that was established (:attr:`CovarianceEstimate.psd`, the PSD
certificate): the optimiser trusts a certified estimate instead of testing it again.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError, check_choice
from portfolio.estimate.estimators import (
    _aligned_factors,
    _check_half_life,
    _estimate,
    _labelled_as_is,
    _numeric_returns,
    _regress_each,
)
from portfolio.estimate.factor_risk import FactorCovariance, fit_factor_risk
from portfolio.estimate.psd import is_psd, nearest_psd, psd_check, schur_complement_repair
from portfolio.estimate.returns import periods_per_year

__all__ = ["METHODS", "PSD_CERTIFICATES", "RAGGED_MODES", "CovarianceEstimate", "covariance"]

METHODS = ("sample", "ledoit_wolf", "oas", "ewma", "factor")
"""Covariance methods accepted by :func:`covariance` (the config's names)."""

RAGGED_MODES = ("auto", "pairwise", "factor")
"""Ways :func:`covariance` fills the rows of names with short histories."""


PSD_CERTIFICATES = ("cholesky", "eigenvalues", "repaired", "factor")
"""How an estimate was made sure to be positive semi-definite (:attr:`CovarianceEstimate.psd`).

``cholesky``: tested positive definite; ``eigenvalues``: tested PSD by its eigenvalues
(singular, e.g. a sample covariance of fewer returns than names); ``repaired``: made PSD
(eigenvalues clipped, or the Schur-complement repair) and the result tested; ``factor``:
``B F B' + D`` with ``F`` tested PSD (k x k) and ``D >= 0``, PSD by construction.
"""


@dataclass(frozen=True, eq=False)
class CovarianceEstimate:
    """Result of :func:`covariance`.

    Attributes
    ----------
    dense : pandas.DataFrame or None
        Tickers x tickers, annualised covariance (fraction^2/year), symmetric PSD, in
        the column order of the input returns; None for an estimate kept in factor
        form (:attr:`factor`).
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
    psd : str
        The PSD certificate, one of :data:`PSD_CERTIFICATES`; ``""`` when the matrix was
        not checked (the optimiser then checks it). A certified estimate is used by the
        optimiser as it is: the O(N^3) test is not done twice.
    factor : FactorCovariance or None
        The parts ``B`` (N x k), ``F`` (k x k), ``d`` (N,) of a factor-model estimate
        (``method="factor"``): the optimiser and the reports use them without forming
        the N x N matrix.
    matrix : pandas.DataFrame
        The covariance as a labelled matrix: :attr:`dense`, or formed from
        :attr:`factor` on first use (O(N^2) memory).
    """

    dense: pd.DataFrame | None
    method: str
    observations: pd.Series
    repair: float
    warnings: tuple[str, ...]
    frequency: str
    psd: str = ""
    factor: FactorCovariance | None = None

    def __post_init__(self) -> None:
        if (self.dense is None) == (self.factor is None):
            raise InputError("a covariance estimate is either dense or in factor form",
                             "CovarianceEstimate", "give exactly one of dense and factor",
                             "pass dense=<DataFrame> or factor=<FactorCovariance>")

    @functools.cached_property
    def matrix(self) -> pd.DataFrame:
        """The labelled N x N covariance (formed from the factor parts when needed)."""
        return self.dense if self.dense is not None else self.factor.frame()

    @property
    def tickers(self) -> tuple[str, ...]:
        """The names of the estimate, in its order."""
        return tuple(self.observations.index)

    def block(self, tickers: Sequence[str]) -> pd.DataFrame:
        """The covariance of ``tickers`` only (labelled), without forming the rest."""
        if self.factor is not None:
            return self.factor.block(list(tickers))
        return self.dense.loc[list(tickers), list(tickers)]


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
    InputError
        If ``method``, ``ragged``, ``frequency``, ``half_life`` or
        ``min_observations`` is invalid, or ``method="factor"`` lacks factors.
    DataError
        If a name has fewer than 2 returns in the window, a regression has too
        few rows, or factor returns miss a date of the window (or, with factor
        returns, either table repeats a date).
    """
    _check_arguments(method, ragged, frequency, half_life, min_observations, factor_returns)
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
        model, _ = fit_factor_risk(returns, factors, frequency)
        how = f"its risk is estimated from {'/'.join(map(str, factors.columns))} factor betas"
        notes += _short_history_notes(observations, names, min_observations, how)
        model, repair = _factor_psd(model, notes)
        return CovarianceEstimate(None, method, observations, repair, tuple(notes), frequency,
                                  "factor", model)
    block, certificate, repair = _full_block(returns, full, short, method, frequency,
                                             half_life, min_observations, notes)
    if not short:
        return CovarianceEstimate(block, method, observations, repair, tuple(notes), frequency,
                                  certificate)
    filled, how = _filled(returns, block, full, short, method, ragged, factors, frequency,
                          half_life)
    notes += _short_history_notes(observations, short, min_observations, how)
    matrix, repair, certificate = _repaired(filled, full, short, notes)
    return CovarianceEstimate(matrix.loc[names, names], method, observations, repair,
                              tuple(notes), frequency, certificate)


def _check_arguments(method, ragged, frequency, half_life, min_observations,
                     factor_returns) -> None:
    """Raise an :class:`InputError` for any invalid option of :func:`covariance`."""
    check_choice(method, METHODS, "method")
    check_choice(ragged, RAGGED_MODES, "ragged")
    periods_per_year(frequency)
    _check_half_life(half_life)
    if isinstance(min_observations, bool) or not isinstance(min_observations, int | np.integer):
        raise InputError(
            f"invalid min_observations {min_observations!r}",
            "min_observations",
            "it must be a whole number of return periods",
            "Use e.g. 126 for half a year of daily returns",
        )
    if method == "factor" and factor_returns is None:
        raise InputError(
            "the factor covariance needs factor returns",
            "method = factor",
            "no factor returns were given",
            "Pass factor_returns (e.g. SPY and SMH returns) or choose another method",
        )


def _full_block(returns, full, short, method, frequency, half_life, min_observations,
                notes) -> tuple[pd.DataFrame | None, str, float]:
    """The estimator on the names with a return on every date (PSD-repaired if needed).

    Returns the block, its PSD certificate and the size of the repair.
    """
    if not full:
        return None, "", 0.0
    block = _estimate(method, returns if not short else returns[full], frequency, half_life)
    certificate, block_repair = psd_check(block), 0.0
    if not certificate:
        block, block_repair = nearest_psd(block)
        certificate = "repaired"
        notes.append(
            f"the {method} estimate was not positive semi-definite; eigenvalues clipped "
            f"(Frobenius change {block_repair:.3g})"
        )
    if len(returns) < min_observations:
        notes.append(
            f"{', '.join(map(str, full))} have {len(returns)} observations in the lookback, "
            f"fewer than the minimum {min_observations}; their covariance is the {method} "
            "estimate on those observations"
        )
    return block, certificate, block_repair


def _filled(returns, block, full, short, method, ragged, factors, frequency,
            half_life) -> tuple[pd.DataFrame, str]:
    """The full block with the short names' rows filled in, and how they were filled."""
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
    return filled, how


def _repaired(filled: pd.DataFrame, full: list, short: list, notes: list[str]
              ) -> tuple[pd.DataFrame, float, str]:
    """PSD repair that keeps the full block (Schur complement), noted in ``notes``.

    Returns the matrix, the size of the repair and the PSD certificate.
    """
    certificate = psd_check(filled)
    if certificate:
        return filled, 0.0, certificate
    matrix, repair = schur_complement_repair(filled, full)
    notes.append(
        f"the filled-in covariance was not positive semi-definite; the rows of "
        f"{', '.join(map(str, short))} were repaired (Frobenius change {repair:.3g}) "
        "and the full-history block is unchanged"
    )
    if not is_psd(matrix):  # numerical safety net; not expected in practice
        matrix, extra = nearest_psd(matrix)
        repair = float(np.hypot(repair, extra))
        notes.append(f"eigenvalues clipped on the whole matrix (Frobenius change {extra:.3g})")
    return matrix, repair, "repaired"


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


def _short_history_notes(observations, names, min_observations, how) -> list[str]:
    counts = dict(zip(observations.index, observations.to_numpy()))  # no per-name lookups
    return [
        f"{name} has {counts[name]} observations in the lookback, fewer than the "
        f"minimum {min_observations}; {how}"
        for name in names
        if counts[name] < min_observations
    ]


def _factor_psd(model: FactorCovariance, notes: list[str]) -> tuple[FactorCovariance, float]:
    """The model with its factor covariance made PSD (k x k) if needed, and the repair.

    ``B F B' + D`` is PSD when ``F`` is (``D >= 0`` always): testing the k x k ``F``
    certifies the N x N matrix without forming it. The repair reported is the Frobenius
    change of ``F``.
    """
    if is_psd(model.factor_cov):
        return model, 0.0
    repaired, repair = nearest_psd(model.factor_cov)
    notes.append(f"factor covariance eigenvalues clipped to reach PSD (Frobenius change "
                 f"{repair:.3g})")
    return replace(model, factor_cov=repaired), repair


def _check_enough_observations(observations: pd.Series) -> None:
    for name, count in observations[observations.to_numpy() < 2].items():
        if count < 2:
            raise DataError(
                f"too few observations for {name}",
                str(name),
                f"{name} has {count} return(s) in the lookback; a covariance needs at least 2",
                f"Use a longer lookback or drop {name}",
            )
