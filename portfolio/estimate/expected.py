"""Expected-return estimators.

Every function here returns a ``pd.Series`` of **annual simple returns as fractions**
(``0.12`` = 12 % a year), indexed by ticker in the column order of the input.

Inputs are **periodic simple returns** (``pd.DataFrame``, rows = dates, columns = tickers)
at a ``frequency`` of ``"daily"``, ``"weekly"`` or ``"monthly"``, annualised with 252, 52
and 12 periods a year. A NaN means "no observation" (e.g. before a listing): every
estimator uses each ticker's own available observations (covariances use pairwise-complete
observations).

Estimators
----------
- :func:`mean_historical` -- arithmetic (or geometric) mean of the history.
- :func:`ewma_mean` -- exponentially weighted mean with a half-life.
- :func:`james_stein` -- sample means shrunk toward their grand mean.
- :func:`~portfolio.estimate.equilibrium.capm_implied` and
  :func:`~portfolio.estimate.equilibrium.black_litterman` (in
  :mod:`portfolio.estimate.equilibrium`) -- equilibrium returns and views.
- :func:`expected_returns` -- one entry point choosing any of the above by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.errors import InputError, check_choice
from portfolio.estimate.equilibrium import (
    View,
    _black_litterman,
    _capm_implied,
    market_implied_risk_aversion,
)
from portfolio.estimate.returns import periods_per_year
from portfolio.estimate.validation import check_positive, validated_cov, validated_returns

__all__ = [
    "METHODS",
    "ExpectedReturnModel",
    "ewma_mean",
    "expected_return_model",
    "expected_returns",
    "james_stein",
    "mean_historical",
]

METHODS = ("none", "historical", "ewma", "james_stein", "capm", "black_litterman")
"""Expected-return methods accepted by :func:`expected_returns` (the config's names)."""


def mean_historical(
    returns: pd.DataFrame, frequency: str = "daily", *, compounding: bool = False
) -> pd.Series:
    """Annualised mean of the historical returns of each ticker.

    Arithmetic (default): ``mu_i = periods * mean_t(r_it)``.
    Geometric (``compounding=True``): ``mu_i = prod_t(1 + r_it) ** (periods / T_i) - 1``,
    the compound annual growth rate. ``T_i`` is the number of observations of ticker ``i``;
    ``periods`` is 252, 52 or 12.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN where a ticker has no observation.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.
    compounding : bool
        Geometric mean instead of arithmetic.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    InputError
        Unknown ``frequency``.
    DataError
        A ticker without any observation, non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    values = validated_returns(returns, min_observations=1)
    if compounding:
        growth = np.log1p(values).sum()
        return np.expm1(growth * periods / values.count())
    return values.mean() * periods


def ewma_mean(returns: pd.DataFrame, half_life: float, frequency: str = "daily") -> pd.Series:
    """Annualised exponentially weighted mean of the returns.

    ``mu_i = periods * ewm_mean_i`` at the last date, with pandas
    ``returns.ewm(halflife=half_life).mean()`` (weights ``(1 - alpha)**age`` with
    ``alpha = 1 - exp(-ln 2 / half_life)``, normalised over the ticker's observations).
    A ticker without an observation on the last date keeps its last weighted mean.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions), oldest row first; NaN = no observation.
    half_life : float
        Half-life of the weights, in periods of ``frequency`` (63 daily = about a quarter).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    InputError
        Unknown ``frequency`` or a non-positive ``half_life``.
    DataError
        A ticker without any observation, non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    half_life = check_positive(half_life, "half_life", "give a half-life in periods, e.g. 63")
    values = validated_returns(returns, min_observations=1)
    return values.ewm(halflife=half_life).mean().iloc[-1].rename(None) * periods


def james_stein(returns: pd.DataFrame, frequency: str = "daily") -> pd.Series:
    """Sample means shrunk toward their grand mean (positive-part James-Stein).

    With ``m_i`` the sample mean of ticker ``i`` over its ``T_i`` observations, ``s_i**2``
    its sample variance (ddof 1) and ``N`` the number of tickers::

        m_bar  = mean_i(m_i)                       grand mean
        v      = mean_i(s_i**2 / T_i)              sampling variance of a mean estimate
        D      = sum_i (m_i - m_bar)**2            dispersion of the means
        lambda = clip((N - 3) * v / D, 0, 1)       shrinkage intensity
        mu_i   = periods * (m_bar + (1 - lambda) * (m_i - m_bar))

    ``lambda = 1`` (all means equal to ``m_bar``) is the positive part; with ``N <= 3``
    James-Stein does not dominate the sample mean and ``lambda = 0``; with ``D = 0`` the
    means are already equal and are returned as they are.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN = no observation.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    InputError
        Unknown ``frequency``.
    DataError
        A ticker with fewer than 2 observations, non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    values = validated_returns(returns, min_observations=2)
    array = values.to_numpy()  # numpy's NaN-skipping moments: a backtest asks every month
    means = np.nanmean(array, axis=0)
    grand_mean = float(means.mean())
    counts = np.count_nonzero(~np.isnan(array), axis=0)
    sampling_variance = float((np.nanvar(array, axis=0, ddof=1) / counts).mean())
    dispersion = float(((means - grand_mean) ** 2).sum())
    n_tickers = len(means)
    if n_tickers <= 3 or dispersion == 0.0:
        intensity = 0.0
    else:
        intensity = min(1.0, max(0.0, (n_tickers - 3) * sampling_variance / dispersion))
    return pd.Series((grand_mean + (1.0 - intensity) * (means - grand_mean)) * periods,
                     index=values.columns)


@dataclass(frozen=True)
class ExpectedReturnModel:
    """Expected returns with how they were formed (annual fractions by ticker).

    Attributes
    ----------
    method : str
        The method (one of :data:`METHODS`).
    posterior : Series
        The expected returns used (for Black-Litterman, the posterior).
    prior : Series or None
        The CAPM equilibrium prior of ``capm`` and ``black_litterman``.
    views : tuple of View
        The views blended into the posterior.
    risk_aversion : float or None
        ``delta`` of the equilibrium prior.
    """

    method: str
    posterior: pd.Series
    prior: pd.Series | None = None
    views: tuple[View, ...] = ()
    risk_aversion: float | None = None


def expected_returns(
    returns: pd.DataFrame,
    method: str,
    *,
    frequency: str = "daily",
    cov: pd.DataFrame | None = None,
    market_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    views: Sequence[View] = (),
    half_life: float = 63,
    tau: float = 0.05,
    risk_aversion: float | None = None,
    market_weights: pd.Series | Mapping[str, float] | None = None,
) -> pd.Series:
    """Annual expected returns by the named method.

    ==================  ===========================================================
    method              estimator
    ==================  ===========================================================
    ``none``            zeros (the optimiser then looks at risk only)
    ``historical``      :func:`mean_historical`, arithmetic
    ``ewma``            :func:`ewma_mean` with ``half_life``
    ``james_stein``     :func:`james_stein`
    ``capm``            :func:`capm_implied`: ``market_weights`` (default equal),
                        ``delta`` = ``risk_aversion`` or implied by ``market_returns``
    ``black_litterman`` :func:`black_litterman` with the ``capm`` result as prior
    ==================  ===========================================================

    For ``capm`` and ``black_litterman``, ``cov`` defaults to the annualised sample
    covariance of ``returns`` (pairwise-complete observations) and ``market_returns`` to the
    equal-weighted mean of the available tickers on each date.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN = no observation.
    method : str
        One of ``none``, ``historical``, ``ewma``, ``james_stein``, ``capm``,
        ``black_litterman``.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns`` and ``market_returns``.
    cov : pd.DataFrame, optional
        **Annual** covariance labelled by the tickers of ``returns``.
    market_returns : pd.Series, optional
        Periodic simple returns of the market proxy (e.g. SPY).
    risk_free_rate : float
        Annual risk-free rate (fraction).
    views : sequence of View
        Investor views, used by ``black_litterman`` only.
    half_life : float
        EWMA half-life in periods of ``frequency``.
    tau : float
        Black-Litterman prior uncertainty scale.
    risk_aversion : float, optional
        CAPM ``delta``; default implied by the market returns.
    market_weights : Series or mapping, optional
        Market-capitalisation weights (or caps) of exactly the tickers of ``returns``
        for the CAPM prior; default equal weights.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by the tickers of ``returns``.

    Raises
    ------
    InputError
        An unknown method (listing the valid ones), views given to a method other than
        ``black_litterman``, or a bad parameter of the chosen estimator.
    DataError
        Bad or too short returns, a covariance with other tickers.
    """
    return expected_return_model(
        returns, method, frequency=frequency, cov=cov, market_returns=market_returns,
        risk_free_rate=risk_free_rate, views=views, half_life=half_life, tau=tau,
        risk_aversion=risk_aversion, market_weights=market_weights,
    ).posterior


def expected_return_model(
    returns: pd.DataFrame,
    method: str,
    *,
    frequency: str = "daily",
    cov: pd.DataFrame | None = None,
    market_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    views: Sequence[View] = (),
    half_life: float = 63,
    tau: float = 0.05,
    risk_aversion: float | None = None,
    market_weights: pd.Series | Mapping[str, float] | None = None,
) -> ExpectedReturnModel:
    """:func:`expected_returns` with the prior, the views and ``delta`` kept beside it.

    Same parameters, rules and errors as :func:`expected_returns`.
    """
    check_choice(method, METHODS, "expected-return method", where="expected_returns")
    views = tuple(views)
    if views and method != "black_litterman":
        raise InputError(
            f"views given to the {method!r} expected-return method",
            "expected_returns",
            "only black_litterman uses views",
            "set the method to 'black_litterman' or remove the views",
        )
    periods = periods_per_year(frequency)
    simple = {"historical": lambda: mean_historical(returns, frequency),
              "ewma": lambda: ewma_mean(returns, half_life, frequency),
              "james_stein": lambda: james_stein(returns, frequency)}
    if method == "none":
        return ExpectedReturnModel(method, pd.Series(0.0, index=validated_returns(
            returns).columns))
    if method in simple:
        return ExpectedReturnModel(method, simple[method]())
    values = validated_returns(returns, min_observations=2)
    sigma = validated_cov(values.cov() * periods if cov is None else cov, values.columns)
    if risk_aversion is None and market_returns is None:
        market_returns = values.mean(axis=1)
    prior = _capm_implied(sigma, market_weights, risk_aversion, risk_free_rate, market_returns,
                          frequency)
    delta = (market_implied_risk_aversion(market_returns, risk_free_rate, frequency)
             if risk_aversion is None else risk_aversion)
    if method == "capm":
        return ExpectedReturnModel(method, prior, prior, (), float(delta))
    posterior = _black_litterman(prior, sigma, views, tau, risk_free_rate)
    return ExpectedReturnModel(method, posterior, prior, views, float(delta))
