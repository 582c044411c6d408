"""Performance metrics of return series as pure functions (growth, ratios, drawdown, beta).

Risk measures of weights against a covariance (volatility, contributions, VaR, concentration)
are in :mod:`portfolio.analytics.risk_measures`.

Units and conventions
---------------------
- Weights are fractions (0.25 = 25 %), a ``pandas.Series`` (or mapping) indexed by
  ticker; they are aligned to a covariance's labels, never by position. Plain
  numpy arrays are accepted only together with a plain-array covariance.
- Covariances are **annualised** (fraction^2/year), tickers x tickers, as
  produced by :mod:`portfolio.estimate.covariance`.
- Return series are **periodic simple returns** (fractions per period) of a
  stated ``frequency`` (``daily`` = 252 periods a year, ``weekly`` = 52,
  ``monthly`` = 12), indexed by date; NaN is an error (drop or fill first).
- Value at risk and expected shortfall are **positive numbers for losses**, as a
  fraction of portfolio value over the horizon (0.03 = a 3 % loss). Horizons are
  in trading days, 252 a year.
- Risk-free rates are **annual** fractions (0.04 = 4 % a year), a number or a
  series by date; they are turned into per-period rates by de-compounding,
  (1 + rf) ** (1 / periods_per_year) - 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from portfolio.analytics.validation import clean_series, common_dates, excess_returns
from portfolio.errors import DataError, InputError
from portfolio.estimate.returns import periods_per_year

__all__ = [
    "Drawdown",
    "annualized_volatility",
    "beta",
    "cagr",
    "calmar",
    "calmar_ratio",
    "max_drawdown",
    "sharpe",
    "sortino",
    "tracking_error",
]


@dataclass(frozen=True)
class Drawdown:
    """The largest peak-to-trough fall of a value path.

    Attributes
    ----------
    depth : float
        Fall from the peak to the trough as a positive fraction of the peak
        (0.25 = the value fell 25 %); 0.0 if the path never fell.
    peak : Any
        Index label (date) of the last high before the trough.
    trough : Any
        Index label (date) of the lowest point of the drawdown.
    recovery : Any or None
        First label after the trough at which the value is back at or above the
        peak value; None if it has not recovered by the end of the series.
    """

    depth: float
    peak: Any
    trough: Any
    recovery: Any | None


def max_drawdown(series, *, kind: str = "values") -> Drawdown:
    """Largest peak-to-trough fall, with its dates.

    Parameters
    ----------
    series : pandas.Series
        Indexed by date. ``kind="values"``: positive portfolio values (any
        currency) or prices. ``kind="returns"``: periodic simple returns; the
        value path is 1.0 before the first return, then prod(1 + r); that start
        is dated at the first label.
    kind : {"values", "returns"}
        What ``series`` holds.

    Returns
    -------
    Drawdown
        Depth (positive fraction), peak, trough and recovery labels. Ties go to
        the earliest trough; the peak is the last date at the running high
        before it. A path that never falls gives depth 0.0 with peak, trough and
        recovery at the first label.
    """
    if kind not in ("values", "returns"):
        raise InputError(
            f"unknown series kind {kind!r}", "kind", "kind must be values or returns", None
        )
    data = clean_series(series, "max_drawdown")
    labels = list(data.index)
    if kind == "returns":
        values = np.concatenate([[1.0], np.cumprod(1.0 + data.to_numpy())])
        labels = [labels[0], *labels]
    else:
        values = data.to_numpy()
        if (values <= 0).any():
            raise DataError(
                "non-positive value in the series",
                str(data.index[np.argmax(values <= 0)]),
                "drawdowns need positive values",
                "Pass kind='returns' if the series holds returns",
            )
    running_high = np.maximum.accumulate(values)
    drawdowns = 1.0 - values / running_high
    trough = int(np.argmax(drawdowns))
    depth = float(drawdowns[trough])
    if depth <= 0.0:
        return Drawdown(0.0, labels[0], labels[0], labels[0])
    high = running_high[trough]
    peak = int(np.flatnonzero(values[: trough + 1] == high)[-1])
    recovered = np.flatnonzero(values[trough + 1 :] >= high)
    recovery = labels[trough + 1 + recovered[0]] if len(recovered) else None
    return Drawdown(depth, labels[peak], labels[trough], recovery)


def cagr(returns, frequency: str = "daily") -> float:
    """Compound annual growth rate, prod(1 + r) ** (periods_per_year / n) - 1.

    Parameters
    ----------
    returns : pandas.Series or array-like
        Periodic simple returns (fractions), no NaN.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``; n periods span n / periods_per_year years.

    Returns
    -------
    float
        Annual fraction; -1.0 if the value was wiped out.
    """
    per_year = periods_per_year(frequency)
    data = clean_series(returns, "cagr").to_numpy()
    growth = float(np.prod(1.0 + data))
    if growth <= 0:
        return -1.0
    return growth ** (per_year / len(data)) - 1.0


def annualized_volatility(returns, frequency: str = "daily") -> float:
    """Annualise volatility: std of periodic returns (ddof=1) x sqrt(periods_per_year).

    Parameters
    ----------
    returns : pandas.Series or array-like
        Periodic simple returns (fractions), no NaN, at least 2 values.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    float
        Annual volatility, fraction.
    """
    per_year = periods_per_year(frequency)
    data = clean_series(returns, "annualized_volatility", minimum=2).to_numpy()
    return float(data.std(ddof=1) * np.sqrt(per_year))


def sharpe(returns, risk_free=0.0, frequency: str = "daily") -> float:
    """Annualised Sharpe ratio, mean(excess) / std(excess, ddof=1) x sqrt(periods_per_year).

    Parameters
    ----------
    returns : pandas.Series or array-like
        Periodic simple returns (fractions), no NaN, at least 2 values.
    risk_free : float or pandas.Series
        Annual risk-free rate (fraction/year), a number or a series by date
        covering every date of ``returns``; de-compounded to per-period rates.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    float
        Dimensionless; NaN if the excess returns do not vary.

    Raises
    ------
    InputError
        If ``risk_free`` is neither a real number nor a pandas Series (e.g. ``"4%"``).
    """
    excess, per_year = excess_returns(returns, risk_free, frequency, "sharpe")
    spread = excess.std(ddof=1)
    if spread == 0:
        return float("nan")
    return float(excess.mean() / spread * np.sqrt(per_year))


def sortino(returns, risk_free=0.0, frequency: str = "daily") -> float:
    """Annualised Sortino ratio against the risk-free rate.

    sortino = mean(e) / sqrt(mean(min(e, 0)^2)) x sqrt(periods_per_year), with e the
    per-period excess returns; the downside deviation averages over all periods.

    Parameters
    ----------
    returns : pandas.Series or array-like
        Periodic simple returns (fractions), no NaN, at least 2 values.
    risk_free : float or pandas.Series
        Annual risk-free rate (fraction/year), number or series by date.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    float
        Dimensionless; +inf if no period falls below the risk-free rate and the
        mean excess is positive, NaN if there is neither downside nor gain.

    Raises
    ------
    InputError
        If ``risk_free`` is neither a real number nor a pandas Series.
    """
    excess, per_year = excess_returns(returns, risk_free, frequency, "sortino")
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    if downside == 0:
        return float("inf") if excess.mean() > 0 else float("nan")
    return float(excess.mean() / downside * np.sqrt(per_year))


def calmar(returns, frequency: str = "daily") -> float:
    """Calmar ratio, CAGR / maximum drawdown depth (of the compounded returns).

    Parameters
    ----------
    returns : pandas.Series or array-like
        Periodic simple returns (fractions), no NaN.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    float
        Dimensionless; +inf (or NaN for a flat path) when there is no drawdown.
    """
    growth_rate = cagr(returns, frequency)
    depth = max_drawdown(clean_series(returns, "calmar"), kind="returns").depth
    return calmar_ratio(growth_rate, depth)


def calmar_ratio(growth_rate: float, depth: float) -> float:
    """:func:`calmar` from a CAGR and a drawdown depth already computed (fractions)."""
    if depth == 0:
        return float("inf") if growth_rate > 0 else float("nan")
    return growth_rate / depth


def beta(returns, benchmark_returns) -> float:
    """Beta to a benchmark, cov(r, b) / var(b) (ddof=1), on their common dates.

    Parameters
    ----------
    returns, benchmark_returns : pandas.Series
        Periodic simple returns of the same frequency, indexed by date; only the
        dates both have are used, and those must hold no NaN.

    Returns
    -------
    float
        Dimensionless; NaN if the benchmark does not vary.
    """
    portfolio, benchmark = common_dates(returns, benchmark_returns, "beta")
    variance = benchmark.var(ddof=1)
    if variance == 0:
        return float("nan")
    return float(np.cov(portfolio, benchmark, ddof=1)[0, 1] / variance)


def tracking_error(returns, benchmark_returns, frequency: str = "daily") -> float:
    """Annualised tracking error, std(r - b, ddof=1) x sqrt(periods_per_year).

    Parameters
    ----------
    returns, benchmark_returns : pandas.Series
        Periodic simple returns of the same frequency, indexed by date; the
        common dates are used.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of both series.

    Returns
    -------
    float
        Annual fraction.
    """
    per_year = periods_per_year(frequency)
    portfolio, benchmark = common_dates(returns, benchmark_returns, "tracking_error")
    return float((portfolio - benchmark).std(ddof=1) * np.sqrt(per_year))
