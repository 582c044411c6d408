"""Risk measures as pure functions: volatility, risk contributions, VaR/CVaR, concentration.

Performance metrics of return series are in :mod:`portfolio.analytics.metrics`.

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

from statistics import NormalDist

import numpy as np
import pandas as pd

from portfolio.analytics.validation import (
    aligned_weights,
    check_confidence,
    check_horizon,
    clean_series,
    weight_values,
)
from portfolio.errors import InputError
from portfolio.estimate.returns import PERIODS_PER_YEAR

__all__ = [
    "TRADING_DAYS_PER_YEAR",
    "effective_number_of_bets",
    "effective_number_of_names",
    "hhi",
    "historical_cvar",
    "historical_var",
    "parametric_cvar",
    "parametric_var",
    "percent_risk_contributions",
    "portfolio_volatility",
    "risk_contributions",
    "top_n_share",
]


TRADING_DAYS_PER_YEAR = PERIODS_PER_YEAR["daily"]
"""Trading days in a year (252), used to scale annual figures to a horizon in days."""


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
    w, sigma, _ = aligned_weights(weights, cov)
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
    w, sigma, labels = aligned_weights(weights, cov)
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
    w, sigma, labels = aligned_weights(weights, cov)
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
    check_confidence(confidence)
    check_horizon(horizon_days)
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
    check_confidence(confidence)
    check_horizon(horizon_days)
    sigma_h, mu_h = _horizon_moments(weights, cov_annual, horizon_days, mean)
    normal = NormalDist()
    tail_density = normal.pdf(normal.inv_cdf(confidence))
    return float(sigma_h * tail_density / (1.0 - confidence) - mu_h)


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
    w = weight_values(weights)
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
        raise InputError(
            f"invalid n {n!r}", "top_n_share", "n must be a whole number >= 1", "Use e.g. 5"
        )
    w = weight_values(weights)
    return float(np.sort(w)[::-1][:n].sum())


def _horizon_moments(weights, cov_annual, horizon_days: int, mean: float):
    years = horizon_days / TRADING_DAYS_PER_YEAR
    sigma_h = portfolio_volatility(weights, cov_annual) * np.sqrt(years)
    return sigma_h, float(mean) * years


def _horizon_returns(portfolio_returns, confidence: float, horizon_days: int) -> np.ndarray:
    """Overlapping compounded h-day returns of a daily series."""
    check_confidence(confidence)
    check_horizon(horizon_days)
    daily = clean_series(portfolio_returns, "historical VaR", minimum=horizon_days).to_numpy()
    if horizon_days == 1:
        return daily
    windows = np.lib.stride_tricks.sliding_window_view(1.0 + daily, horizon_days)
    return np.prod(windows, axis=1) - 1.0
