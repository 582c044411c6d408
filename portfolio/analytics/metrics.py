"""Return and risk metrics as pure functions.

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

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from portfolio.errors import ConfigError, DataError, InputError
from portfolio.estimate.returns import PERIODS_PER_YEAR, periods_per_year

__all__ = [
    "TRADING_DAYS_PER_YEAR",
    "Drawdown",
    "annualized_volatility",
    "beta",
    "cagr",
    "calmar",
    "calmar_ratio",
    "effective_number_of_bets",
    "effective_number_of_names",
    "hhi",
    "historical_cvar",
    "historical_var",
    "max_drawdown",
    "parametric_cvar",
    "parametric_var",
    "percent_risk_contributions",
    "portfolio_volatility",
    "risk_contributions",
    "sharpe",
    "sortino",
    "top_n_share",
    "tracking_error",
]

TRADING_DAYS_PER_YEAR = PERIODS_PER_YEAR["daily"]
"""Trading days in a year (252), used to scale annual figures to a horizon in days."""


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


# ---------------------------------------------------------------------------
# Covariance-based risk
# ---------------------------------------------------------------------------


def portfolio_volatility(weights, cov) -> float:
    """Volatility of a portfolio, sqrt(w' Sigma w).

    Parameters
    ----------
    weights : pandas.Series or mapping
        Fractions by ticker; the same tickers as ``cov``.
    cov : pandas.DataFrame
        Tickers x tickers covariance, annualised (fraction^2/year).

    Returns
    -------
    float
        Annual volatility as a fraction (0.2 = 20 % a year) when ``cov`` is
        annual; in general, the units of sqrt(cov).
    """
    w, sigma, _ = _aligned(weights, cov)
    return float(np.sqrt(max(w @ sigma @ w, 0.0)))


def risk_contributions(weights, cov) -> pd.Series:
    """Component contributions to volatility, w_i (Sigma w)_i / sigma.

    Parameters
    ----------
    weights : pandas.Series or mapping
        Fractions by ticker; the same tickers as ``cov``.
    cov : pandas.DataFrame
        Tickers x tickers covariance, annualised (fraction^2/year).

    Returns
    -------
    pandas.Series
        Per ticker (in the order of ``cov``), annual volatility units; they sum
        to :func:`portfolio_volatility`. All zero for a zero-volatility portfolio.
    """
    w, sigma, labels = _aligned(weights, cov)
    variance = w @ sigma @ w
    volatility = np.sqrt(max(variance, 0.0))
    marginal = sigma @ w
    contributions = w * marginal / volatility if volatility > 0 else np.zeros_like(w)
    return pd.Series(contributions, index=labels, name="risk_contribution")


def percent_risk_contributions(weights, cov) -> pd.Series:
    """Shares of volatility, w_i (Sigma w)_i / (w' Sigma w), summing to 1.

    Parameters
    ----------
    weights : pandas.Series or mapping
        Fractions by ticker; the same tickers as ``cov``.
    cov : pandas.DataFrame
        Tickers x tickers covariance (any consistent units).

    Returns
    -------
    pandas.Series
        Per ticker, fractions of total risk (may be negative for hedges).

    Raises
    ------
    InputError
        If the portfolio has zero variance.
    """
    w, sigma, labels = _aligned(weights, cov)
    variance = w @ sigma @ w
    if variance <= 0:
        raise InputError(
            "risk shares are undefined",
            "weights",
            "the portfolio has zero variance",
            "Give the portfolio a non-zero position in a risky asset",
        )
    return pd.Series(w * (sigma @ w) / variance, index=labels, name="percent_risk_contribution")


def parametric_var(
    weights, cov_annual, horizon_days: int = 1, confidence: float = 0.95, mean: float = 0.0
) -> float:
    """Compute the normal (variance-covariance) value at risk.

    VaR = z_c sigma_h - mu_h, with sigma_h = sqrt(w' Sigma w h / 252),
    mu_h = mean h / 252 and z_c the standard normal quantile at ``confidence``.

    Parameters
    ----------
    weights : pandas.Series or mapping
        Fractions by ticker; the same tickers as ``cov_annual``.
    cov_annual : pandas.DataFrame
        Annualised covariance (fraction^2/year).
    horizon_days : int
        Horizon in trading days (>= 1).
    confidence : float
        Confidence level in (0, 1), e.g. 0.95.
    mean : float
        Expected portfolio return, annual fraction (default 0).

    Returns
    -------
    float
        Loss over the horizon as a positive fraction of portfolio value.
    """
    _check_confidence(confidence)
    _check_horizon(horizon_days)
    sigma_h, mu_h = _horizon_moments(weights, cov_annual, horizon_days, mean)
    return float(NormalDist().inv_cdf(confidence) * sigma_h - mu_h)


def parametric_cvar(
    weights, cov_annual, horizon_days: int = 1, confidence: float = 0.95, mean: float = 0.0
) -> float:
    """Compute the normal expected shortfall (CVaR), sigma_h phi(z_c) / (1 - c) - mu_h.

    Parameters
    ----------
    weights : pandas.Series or mapping
        Fractions by ticker; the same tickers as ``cov_annual``.
    cov_annual : pandas.DataFrame
        Annualised covariance (fraction^2/year).
    horizon_days : int
        Horizon in trading days (>= 1).
    confidence : float
        Confidence level in (0, 1).
    mean : float
        Expected portfolio return, annual fraction (default 0).

    Returns
    -------
    float
        Mean loss beyond the VaR over the horizon, positive fraction of value.
    """
    _check_confidence(confidence)
    _check_horizon(horizon_days)
    sigma_h, mu_h = _horizon_moments(weights, cov_annual, horizon_days, mean)
    normal = NormalDist()
    tail_density = normal.pdf(normal.inv_cdf(confidence))
    return float(sigma_h * tail_density / (1.0 - confidence) - mu_h)


# ---------------------------------------------------------------------------
# Historical tail risk
# ---------------------------------------------------------------------------


def historical_var(portfolio_returns, confidence: float = 0.95, horizon_days: int = 1) -> float:
    """Historical value at risk from daily portfolio returns.

    For a horizon of h days the sample is every overlapping h-day compounded
    return prod(1 + r_t..r_{t+h-1}) - 1; VaR = -numpy.quantile(sample, 1 - c)
    with numpy's default ``linear`` interpolation. For h = 1 this is
    ``-np.quantile(returns, 1 - c)``.

    Parameters
    ----------
    portfolio_returns : pandas.Series or array-like
        Daily simple portfolio returns (fractions), no NaN, at least h values.
    confidence : float
        Confidence level in (0, 1).
    horizon_days : int
        Horizon in trading days (>= 1).

    Returns
    -------
    float
        Loss as a positive fraction of value (negative if even the tail gains).
    """
    sample = _horizon_returns(portfolio_returns, confidence, horizon_days)
    return float(-np.quantile(sample, 1.0 - confidence))


def historical_cvar(portfolio_returns, confidence: float = 0.95, horizon_days: int = 1) -> float:
    """Historical expected shortfall: minus the mean of the h-day returns <= the VaR quantile.

    Parameters
    ----------
    portfolio_returns : pandas.Series or array-like
        Daily simple portfolio returns (fractions), no NaN, at least h values.
    confidence : float
        Confidence level in (0, 1).
    horizon_days : int
        Horizon in trading days (>= 1); overlapping compounded returns as in
        :func:`historical_var`.

    Returns
    -------
    float
        Mean tail loss, positive fraction of value; >= :func:`historical_var`.
    """
    sample = _horizon_returns(portfolio_returns, confidence, horizon_days)
    cutoff = np.quantile(sample, 1.0 - confidence)
    return float(-sample[sample <= cutoff].mean())


# ---------------------------------------------------------------------------
# Path metrics
# ---------------------------------------------------------------------------


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
        raise ConfigError(
            f"unknown series kind {kind!r}", "kind", "kind must be values or returns", None
        )
    data = _clean_series(series, "max_drawdown")
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
    data = _clean_series(returns, "cagr").to_numpy()
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
    data = _clean_series(returns, "annualized_volatility", minimum=2).to_numpy()
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
    ConfigError
        If ``risk_free`` is neither a real number nor a pandas Series (e.g. ``"4%"``).
    """
    excess, per_year = _excess_returns(returns, risk_free, frequency, "sharpe")
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
    ConfigError
        If ``risk_free`` is neither a real number nor a pandas Series.
    """
    excess, per_year = _excess_returns(returns, risk_free, frequency, "sortino")
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
    depth = max_drawdown(_clean_series(returns, "calmar"), kind="returns").depth
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
    portfolio, benchmark = _common_dates(returns, benchmark_returns, "beta")
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
    portfolio, benchmark = _common_dates(returns, benchmark_returns, "tracking_error")
    return float((portfolio - benchmark).std(ddof=1) * np.sqrt(per_year))


# ---------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------


def hhi(weights) -> float:
    """Herfindahl-Hirschman index of the weights, sum w_i^2 (weights as given).

    Parameters
    ----------
    weights : pandas.Series, mapping or array-like
        Fractions by ticker. Not renormalised: for a fully invested long-only
        portfolio the result lies in [1/N, 1].

    Returns
    -------
    float
        Fraction^2.
    """
    w = _weight_values(weights)
    return float(np.sum(w**2))


def effective_number_of_names(weights) -> float:
    """Effective number of positions, 1 / HHI.

    Parameters
    ----------
    weights : pandas.Series, mapping or array-like
        Fractions by ticker.

    Returns
    -------
    float
        N for N equal weights summing to 1.
    """
    concentration = hhi(weights)
    if concentration == 0:
        raise InputError(
            "effective number of names is undefined",
            "weights",
            "every weight is zero",
            "Pass a portfolio with at least one position",
        )
    return 1.0 / concentration


def effective_number_of_bets(weights, cov) -> float:
    """Effective number of independent risk bets, 1 / sum(p_i^2).

    p are the percent risk contributions (:func:`percent_risk_contributions`);
    this is the inverse HHI of risk shares (chosen over the exponential of
    their entropy because risk shares can be negative). N equal risk shares
    give N.

    Parameters
    ----------
    weights : pandas.Series or mapping
        Fractions by ticker; the same tickers as ``cov``.
    cov : pandas.DataFrame
        Tickers x tickers covariance (any consistent units).

    Returns
    -------
    float
        A number of bets, >= 1 when every share is in [0, 1].
    """
    shares = percent_risk_contributions(weights, cov).to_numpy()
    return float(1.0 / np.sum(shares**2))


def top_n_share(weights, n: int = 5) -> float:
    """Sum of the ``n`` largest weights (by value, not absolute value).

    Parameters
    ----------
    weights : pandas.Series, mapping or array-like
        Fractions by ticker.
    n : int
        How many of the largest weights to add (>= 1); all of them if fewer.

    Returns
    -------
    float
        Fraction of the portfolio.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(
            f"invalid n {n!r}", "top_n_share", "n must be a whole number >= 1", "Use e.g. 5"
        )
    w = _weight_values(weights)
    return float(np.sort(w)[::-1][:n].sum())


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _aligned(weights, cov) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Weights and covariance as arrays in the covariance's ticker order."""
    if isinstance(cov, pd.DataFrame):
        if list(cov.index) != list(cov.columns):
            raise InputError(
                "covariance rows and columns differ",
                "cov",
                "they must list the same tickers in the same order",
                "Reindex it with cov.loc[tickers, tickers]",
            )
        if not isinstance(weights, pd.Series | Mapping):
            raise InputError(
                "weights have no tickers",
                "weights",
                "weights are aligned with the covariance by ticker, never by position",
                "Pass a pandas Series indexed by ticker",
            )
        weights = pd.Series(weights) if isinstance(weights, Mapping) else weights
        labels = cov.index
        missing = [t for t in labels if t not in weights.index]
        extra = [t for t in weights.index if t not in labels]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"no weight for {', '.join(map(str, missing))}")
            if extra:
                parts.append(f"no covariance for {', '.join(map(str, extra))}")
            raise InputError(
                "weights and covariance cover different tickers",
                "weights",
                "; ".join(parts),
                "Give a weight (0 if none) for every ticker of the covariance and no other",
            )
        if weights.index.duplicated().any():
            raise InputError(
                "duplicate tickers in weights",
                ", ".join(map(str, weights.index[weights.index.duplicated()])),
                "each ticker must appear once",
                "Merge the duplicate weights",
            )
        w = _numbers(weights.loc[labels], "weights")
        sigma = _numbers(cov, "cov")
    else:
        if isinstance(weights, pd.Series | Mapping):
            raise InputError(
                "covariance has no tickers",
                "cov",
                "labelled weights cannot be aligned with an unlabelled covariance",
                "Pass the covariance as a DataFrame indexed by ticker",
            )
        w = _numbers(weights, "weights").ravel()
        sigma = _numbers(cov, "cov")
        if sigma.shape != (len(w), len(w)):
            raise InputError(
                "weights and covariance sizes differ",
                f"{len(w)} weights, covariance {sigma.shape}",
                "the covariance must be N x N for N weights",
                None,
            )
        labels = pd.RangeIndex(len(w))
    if not (np.isfinite(w).all() and np.isfinite(sigma).all()):
        raise InputError(
            "missing or infinite numbers",
            "weights/cov",
            "weights and covariance must be finite",
            "Fill or drop the missing values",
        )
    return w, sigma, labels


def _numbers(values, what: str) -> np.ndarray:
    """``values`` as a float array; InputError naming ``what`` if they are not numbers."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{what} are not numbers", what, str(exc), "Pass numbers, e.g. 0.25 for 25 %"
        ) from None


def _weight_values(weights) -> np.ndarray:
    if isinstance(weights, Mapping):
        weights = pd.Series(weights)
    w = _numbers(weights, "weights").ravel()
    if not np.isfinite(w).all():
        raise InputError(
            "missing or infinite weight", "weights", "weights must be finite", "Fill them with 0"
        )
    return w


def _clean_series(series, function: str, minimum: int = 1) -> pd.Series:
    """Return the data as a float Series with no NaN and at least ``minimum`` values."""
    data = series if isinstance(series, pd.Series) else pd.Series(np.asarray(series).ravel())
    try:
        data = data.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{function} needs numbers", function, str(exc), None) from None
    missing = int(data.isna().sum())
    if missing:
        raise DataError(
            f"{missing} missing value(s) in the series",
            f"{function}, first at {data.index[data.isna().to_numpy()][0]}",
            "metrics need a complete series",
            "Drop (series.dropna()) or fill the missing values first",
        )
    if not np.isfinite(data.to_numpy()).all():
        raise DataError("infinite value in the series", function, "values must be finite", None)
    if len(data) < minimum:
        raise DataError(
            "series too short",
            function,
            f"{len(data)} value(s); at least {minimum} needed",
            "Use a longer history",
        )
    return data


def _excess_returns(returns, risk_free, frequency: str, function: str):
    """Per-period excess returns over an annual risk-free rate (number or series)."""
    per_year = periods_per_year(frequency)
    data = _clean_series(returns, function, minimum=2)
    if isinstance(risk_free, pd.Series):
        missing = data.index.difference(risk_free.index)
        if len(missing):
            raise DataError(
                f"risk-free rate missing on {len(missing)} date(s)",
                f"{function}, first {missing[0]}",
                "the risk-free series must cover every return date",
                "Forward-fill the rate series onto the return dates",
            )
        annual = _clean_series(risk_free.loc[data.index], function).to_numpy()
    elif isinstance(risk_free, numbers.Real) and not isinstance(risk_free, bool):
        annual = float(risk_free)
    else:
        raise ConfigError(
            f"invalid risk-free rate {risk_free!r}",
            f"{function}(risk_free=...)",
            "the risk-free rate is an annual fraction, a number or a series by date",
            "Use e.g. 0.04 for 4 % a year",
        )
    per_period = (1.0 + annual) ** (1.0 / per_year) - 1.0
    return data.to_numpy() - per_period, per_year


def _common_dates(returns, benchmark_returns, function: str):
    for name, series in (("returns", returns), ("benchmark_returns", benchmark_returns)):
        if not isinstance(series, pd.Series):
            raise DataError(
                f"{name} must be a series indexed by date",
                function,
                "series are aligned by date, never by position",
                "Pass a pandas Series",
            )
    dates = returns.index.intersection(benchmark_returns.index)
    portfolio = _clean_series(returns.loc[dates], function, minimum=2)
    benchmark = _clean_series(benchmark_returns.loc[dates], function, minimum=2)
    return portfolio.to_numpy(), benchmark.to_numpy()


def _horizon_moments(weights, cov_annual, horizon_days: int, mean: float):
    years = horizon_days / TRADING_DAYS_PER_YEAR
    sigma_h = portfolio_volatility(weights, cov_annual) * np.sqrt(years)
    return sigma_h, float(mean) * years


def _horizon_returns(portfolio_returns, confidence: float, horizon_days: int) -> np.ndarray:
    """Overlapping compounded h-day returns of a daily series."""
    _check_confidence(confidence)
    _check_horizon(horizon_days)
    daily = _clean_series(portfolio_returns, "historical VaR", minimum=horizon_days).to_numpy()
    if horizon_days == 1:
        return daily
    windows = np.lib.stride_tricks.sliding_window_view(1.0 + daily, horizon_days)
    return np.prod(windows, axis=1) - 1.0


def _check_confidence(confidence: float) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float | np.number):
        valid = False
    else:
        valid = 0.0 < confidence < 1.0
    if not valid:
        raise ConfigError(
            f"invalid confidence {confidence!r}",
            "confidence",
            "the confidence level must lie strictly between 0 and 1",
            "Use e.g. 0.95 or 0.99",
        )


def _check_horizon(horizon_days: int) -> None:
    if (
        isinstance(horizon_days, bool)
        or not isinstance(horizon_days, int | np.integer)
        or horizon_days < 1
    ):
        raise ConfigError(
            f"invalid horizon {horizon_days!r}",
            "horizon_days",
            "the horizon must be a whole number of trading days >= 1",
            "Use e.g. 1, 5 or 21",
        )
