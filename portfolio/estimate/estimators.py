"""Covariance estimators on complete returns, and the factor model.

Every covariance here is **annualised** (fraction^2 per year): the estimators take periodic
returns (fractions per period, dates x tickers) of a stated ``frequency`` and multiply the
periodic covariance by 252 (daily), 52 (weekly) or 12 (monthly).

Estimators on complete returns (no NaN) each return a tickers x tickers DataFrame:
:func:`sample_covariance` (ddof=1, as ``numpy.cov``), :func:`ledoit_wolf_covariance` and
:func:`oas_covariance` (scikit-learn's ``LedoitWolf`` / ``OAS`` with
``assume_centered=False``; their empirical covariance uses ddof=0),
:func:`ewma_covariance` (pandas' ``ewm(halflife).cov()`` at the last date: ``adjust=True``
weights and the ``bias=False`` correction (sum w)^2 / ((sum w)^2 - sum w^2)).
:func:`factor_covariance` fits a factor model and accepts ragged returns.
:func:`complete_covariance` is their numpy core for callers that checked their input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError
from portfolio.estimate.returns import numeric_table, periods_per_year

__all__ = [
    "FactorModel",
    "complete_covariance",
    "ewma_covariance",
    "factor_covariance",
    "ledoit_wolf_covariance",
    "ledoit_wolf_matrix",
    "oas_covariance",
    "oas_matrix",
    "sample_covariance",
]


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
    checks here. The shrinkage estimators are numpy implementations of scikit-learn's
    (:func:`ledoit_wolf_matrix`, :func:`oas_matrix`): no scikit-learn import.

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
        matrix = ledoit_wolf_matrix(values) if method == "ledoit_wolf" else oas_matrix(values)
    matrix = matrix * periods_per_year(frequency)
    return (matrix + matrix.T) / 2


def _centred_moment(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centred returns ``X`` (T x n) and their biased covariance ``S = X'X / T``."""
    centred = values - values.mean(axis=0)
    return centred, centred.T @ centred / len(centred)


def _shrunk(empirical: np.ndarray, shrinkage: float) -> np.ndarray:
    """``(1 - d) S + d tr(S) / n I``: shrinkage toward the average-variance identity."""
    n = empirical.shape[0]
    shrunk = (1.0 - shrinkage) * empirical
    shrunk.flat[:: n + 1] += shrinkage * np.trace(empirical) / n
    return shrunk


def ledoit_wolf_matrix(values: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf shrunk covariance of complete returns (periodic, not annualised).

    The estimator of Ledoit and Wolf (2004) with the scaled-identity target, as
    scikit-learn's ``LedoitWolf(assume_centered=False)`` defines it: with centred returns
    ``X`` (T x n) and ``S = X'X / T``,

    * ``mu = tr(S) / n``, ``delta = (||S||_F^2 - n mu^2) / n``,
    * ``beta = (sum_t ||x_t||^4 / T - ||S||_F^2) / (n T)`` (the sum over ``X2'X2`` of
      squared returns is the sum over days of the squared row norms squared),
    * shrinkage ``min(beta, delta) / delta`` (0 when ``beta`` is 0), 0 for one name.

    numpy only (no scikit-learn import); equal to scikit-learn's to 1e-12 relative
    (``tests/test_risk_models.py``). Cost O(T n^2).

    Parameters
    ----------
    values : ndarray, shape (T, n)
        Periodic returns (fractions), finite, ``T >= 2``.

    Returns
    -------
    ndarray, shape (n, n)
        Shrunk covariance, periodic fraction^2.
    """
    centred, empirical = _centred_moment(values)
    periods, n = centred.shape
    if n == 1:
        return empirical
    mu = np.trace(empirical) / n
    frobenius = float(np.sum(empirical**2))
    beta = (float(np.sum(np.sum(centred**2, axis=1) ** 2)) / periods - frobenius) / (n * periods)
    delta = (frobenius - 2.0 * mu * np.trace(empirical) + n * mu**2) / n
    beta = min(beta, delta)
    return _shrunk(empirical, 0.0 if beta == 0 else beta / delta)


def oas_matrix(values: np.ndarray) -> np.ndarray:
    """Oracle Approximating Shrinkage covariance of complete returns (periodic).

    Chen, Wiesel, Eldar and Hero (2010), as scikit-learn's ``OAS(assume_centered=False)``
    computes it: with ``S = X'X / T`` of the centred returns, ``alpha = mean(S_ij^2)``
    and ``mu = tr(S) / n``, shrinkage ``min((alpha + mu^2) / ((T + 1) (alpha - mu^2 /
    n)), 1)`` (1 when the denominator is 0) toward ``mu I``; one name: ``S``.
    numpy only; equal to scikit-learn's to 1e-12 relative.

    Parameters
    ----------
    values : ndarray, shape (T, n)
        Periodic returns (fractions), finite, ``T >= 2``.

    Returns
    -------
    ndarray, shape (n, n)
        Shrunk covariance, periodic fraction^2.
    """
    centred, empirical = _centred_moment(values)
    periods, n = centred.shape
    if n == 1:
        return empirical
    alpha = float(np.mean(empirical**2))
    mu = np.trace(empirical) / n
    denominator = (periods + 1) * (alpha - mu**2 / n)
    shrinkage = 1.0 if denominator == 0 else min((alpha + mu**2) / denominator, 1.0)
    return _shrunk(empirical, shrinkage)


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


def _estimate(
    method: str, returns: pd.DataFrame, frequency: str, half_life: float
) -> pd.DataFrame:
    """Apply a block estimator (not ``factor``) to returns already checked complete."""
    return _labelled_as_is(
        complete_covariance(method, returns.to_numpy(), frequency, half_life), returns.columns
    )


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


def _check_half_life(half_life) -> None:
    valid = isinstance(half_life, int | float | np.number) and not isinstance(half_life, bool)
    if not valid or not np.isfinite(half_life) or half_life <= 0:
        raise InputError(
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


def _labelled(matrix: np.ndarray, names: pd.Index) -> pd.DataFrame:
    """Symmetrise a covariance and label it tickers x tickers."""
    return pd.DataFrame((matrix + matrix.T) / 2, index=names, columns=names)


def _labelled_as_is(matrix: np.ndarray, names: list) -> pd.DataFrame:
    return pd.DataFrame(matrix, index=names, columns=names)
