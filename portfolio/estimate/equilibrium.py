"""Equilibrium expected returns: CAPM-implied returns and Black-Litterman with views.

Every function returns **annual simple returns as fractions** by ticker. Inputs are
periodic simple returns (dates x tickers) at a ``frequency`` of ``daily``, ``weekly`` or
``monthly`` and an **annual** covariance (fraction^2 a year).

- :func:`market_implied_risk_aversion` -- ``delta = (E[R_m] - rf) / Var[R_m]``.
- :func:`capm_implied` -- equilibrium returns ``pi = delta * Sigma @ w_mkt + rf``.
- :func:`capm_beta_returns` -- ``rf + beta * (E[R_m] - rf)``.
- :func:`black_litterman` -- posterior mean of a prior blended with investor views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError, did_you_mean
from portfolio.estimate.returns import periods_per_year
from portfolio.estimate.validation import (
    check_finite,
    check_market_variance,
    check_positive,
    check_same_tickers,
    is_finite_number,
    validated_cov,
    validated_market,
    validated_returns,
)

__all__ = [
    "View",
    "black_litterman",
    "capm_beta_returns",
    "capm_implied",
    "market_implied_risk_aversion",
]


@dataclass(frozen=True)
class View:
    """An investor view for Black-Litterman.

    Attributes
    ----------
    asset : str
        Ticker the view is about.
    value : float
        Annual return as a fraction (absolute view, ``0.15`` = +15 % a year), or the
        annual outperformance of ``asset`` over ``versus`` (relative view).
    confidence : float
        Confidence in (0, 1]; 1 means the view holds exactly.
    versus : str or None
        For a relative view, the ticker that ``asset`` beats by ``value``.
    """

    asset: str
    value: float
    confidence: float
    versus: str | None = None

    @property
    def is_relative(self) -> bool:
        """Whether the view compares two assets."""
        return self.versus is not None


def market_implied_risk_aversion(
    market_returns: pd.Series, risk_free_rate: float = 0.0, frequency: str = "daily"
) -> float:
    """Market price of risk ``delta = (E[R_m] - rf) / Var[R_m]``, both annualised.

    ``E[R_m] = periods * mean(r_m)`` and ``Var[R_m] = periods * var(r_m)`` (ddof 1).

    Parameters
    ----------
    market_returns : pd.Series, shape (n_dates,)
        Periodic simple returns of the market proxy (e.g. SPY); NaN rows are dropped.
    risk_free_rate : float
        Annual risk-free rate (fraction).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``market_returns``.

    Returns
    -------
    float
        Risk aversion ``delta`` (dimensionless, > 0).

    Raises
    ------
    DataError
        The market's mean return is not above the risk-free rate (delta would not be
        positive), or the market series has no variance.
    """
    periods = periods_per_year(frequency)
    risk_free_rate = check_finite(risk_free_rate, "risk_free_rate")
    market = validated_market(market_returns)
    annual_mean = market.mean() * periods
    annual_variance = market.var() * periods
    if annual_mean <= risk_free_rate:
        raise DataError(
            "the market-implied risk aversion is not positive",
            "market_returns",
            f"the market's mean return {annual_mean:.2%} a year is not above the "
            f"risk-free rate {risk_free_rate:.2%}",
            "pass risk_aversion explicitly (2 to 4 is typical) or use a longer history",
        )
    return float((annual_mean - risk_free_rate) / annual_variance)


def capm_implied(
    cov: pd.DataFrame,
    market_weights: pd.Series | Mapping[str, float] | None = None,
    risk_aversion: float | None = None,
    risk_free_rate: float = 0.0,
    market_returns: pd.Series | None = None,
    frequency: str = "daily",
) -> pd.Series:
    """Equilibrium (reverse-optimised) returns ``pi = delta * Sigma @ w_mkt + rf``.

    Parameters
    ----------
    cov : pd.DataFrame, shape (n_tickers, n_tickers)
        **Annual** covariance of simple returns, labelled by ticker on both axes.
    market_weights : pd.Series, optional
        Market-capitalisation weights (or the caps themselves) by ticker; normalised to sum
        to 1. Must name exactly the tickers of ``cov``. Default: equal weights ``1 / n``.
    risk_aversion : float, optional
        ``delta`` (> 0). Default: :func:`market_implied_risk_aversion` of
        ``market_returns``.
    risk_free_rate : float
        Annual risk-free rate (fraction), added to every ticker.
    market_returns : pd.Series, optional
        Periodic simple returns of the market proxy; required when ``risk_aversion`` is
        None.
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``market_returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple equilibrium returns (fractions), in the order of ``cov``.

    Raises
    ------
    InputError
        Neither ``risk_aversion`` nor ``market_returns`` given; a non-positive
        ``risk_aversion``; negative or all-zero market weights.
    DataError
        Mismatched tickers, a bad covariance matrix or market series.
    """
    tickers = pd.Index(cov.index) if isinstance(cov, pd.DataFrame) else pd.Index([])
    return _capm_implied(
        validated_cov(cov, tickers), market_weights, risk_aversion, risk_free_rate,
        market_returns, frequency,
    )


def _capm_implied(
    sigma: pd.DataFrame,
    market_weights: pd.Series | Mapping[str, float] | None,
    risk_aversion: float | None,
    risk_free_rate: float,
    market_returns: pd.Series | None,
    frequency: str,
) -> pd.Series:
    """:func:`capm_implied` on a covariance already checked by :func:`validated_cov`."""
    tickers = sigma.index
    risk_free_rate = check_finite(risk_free_rate, "risk_free_rate")
    if risk_aversion is None:
        if market_returns is None:
            raise InputError(
                "no risk aversion for the CAPM equilibrium",
                "risk_aversion",
                "neither risk_aversion nor market_returns was given",
                "pass risk_aversion (2 to 4 is typical) or the market proxy's returns",
            )
        delta = market_implied_risk_aversion(market_returns, risk_free_rate, frequency)
    else:
        delta = check_positive(
            risk_aversion, "risk_aversion", "give a positive number, 2 to 4 is typical"
        )
    weights = _market_weights(market_weights, tickers)
    return delta * (sigma @ weights) + risk_free_rate


def _market_weights(
    market_weights: pd.Series | Mapping[str, float] | None, tickers: pd.Index
) -> pd.Series:
    if market_weights is None:
        return pd.Series(1.0 / len(tickers), index=tickers)
    try:
        weights = pd.Series(market_weights, dtype=float)
    except (TypeError, ValueError) as error:
        raise InputError(
            "market weights are not all numbers",
            "market_weights",
            str(error),
            "give one number per ticker",
        ) from None
    check_same_tickers(weights.index, tickers, "market_weights")
    weights = weights.reindex(tickers)
    if not np.isfinite(weights.to_numpy()).all() or (weights < 0).any() or weights.sum() <= 0:
        raise InputError(
            "market weights must be non-negative numbers with a positive total",
            "market_weights",
            f"got {weights.to_dict()}",
            "give market capitalisations or long-only weights",
        )
    return weights / weights.sum()


def capm_beta_returns(
    returns: pd.DataFrame,
    market_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    frequency: str = "daily",
) -> pd.Series:
    """CAPM returns ``mu_i = rf + beta_i * (E[R_m] - rf)``.

    ``beta_i = cov(r_i, r_m) / var(r_m)`` on the dates where both ticker ``i`` and the market
    have an observation (the OLS slope over the ticker's own history).
    ``E[R_m] = periods * mean(r_m)`` (arithmetic) over the dates of ``returns``. This matches
    PyPortfolioOpt's ``capm_return(..., compounding=False)`` on complete data.

    Parameters
    ----------
    returns : pd.DataFrame, shape (n_dates, n_tickers)
        Periodic simple returns (fractions); NaN = no observation.
    market_returns : pd.Series, optional
        Periodic simple returns of the market proxy, aligned to ``returns`` by date label.
        Default: the equal-weighted mean of the available tickers on each date.
    risk_free_rate : float
        Annual risk-free rate (fraction).
    frequency : {"daily", "weekly", "monthly"}
        Frequency of ``returns`` and ``market_returns``.

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Annual simple expected returns (fractions), indexed by ticker.

    Raises
    ------
    DataError
        Fewer than 2 dates shared by a ticker and the market, a market without variance,
        non-numeric or infinite returns.
    """
    periods = periods_per_year(frequency)
    risk_free_rate = check_finite(risk_free_rate, "risk_free_rate")
    values = validated_returns(returns, min_observations=2)
    if market_returns is None:
        market = values.mean(axis=1).dropna()
    else:
        market = validated_market(market_returns).reindex(values.index).dropna()
    check_market_variance(market)
    betas = {}
    for ticker in values.columns:
        pair = pd.concat([values[ticker], market], axis=1, keys=["asset", "market"]).dropna()
        if len(pair) < 2 or pair["market"].var() <= 0:
            raise DataError(
                f"cannot estimate the market beta of {ticker}",
                f"returns, {ticker}",
                f"{len(pair)} date(s) shared with the market returns, with no market variance",
                "check that the market series covers the dates of the returns",
            )
        betas[ticker] = pair["asset"].cov(pair["market"]) / pair["market"].var()
    market_mean = market.mean() * periods
    return risk_free_rate + pd.Series(betas) * (market_mean - risk_free_rate)


def _describe_view(number: int, view: View) -> str:
    if view.versus is None:
        return f"view {number}: {view.asset} returns {view.value:.2%} a year"
    return f"view {number}: {view.asset} beats {view.versus} by {view.value:.2%} a year"


def _check_view_ticker(ticker: object, number: int, view: View, tickers: pd.Index) -> None:
    if ticker in tickers:
        return
    known = [str(t) for t in tickers]
    raise InputError(
        f"unknown ticker {ticker!r} in a view",
        _describe_view(number, view),
        f"the known tickers are {', '.join(known)}",
        did_you_mean(str(ticker), known) or "use one of the known tickers",
    )


def _view_matrices(
    views: Sequence[View], tickers: pd.Index
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build the picking matrix ``P`` (k, n), view returns ``Q`` (k,) and confidences (k,)."""
    picking = np.zeros((len(views), len(tickers)))
    targets = np.zeros(len(views))
    confidences = np.zeros(len(views))
    for row, view in enumerate(views):
        number = row + 1
        if not isinstance(view, View):
            raise InputError(
                "a view is not a View",
                f"view {number}",
                f"got {type(view).__name__}",
                "build views with portfolio.View(asset, value, confidence, versus)",
            )
        if not is_finite_number(view.value):
            raise InputError(
                "a view's value must be a finite number",
                f"view {number} on {view.asset}",
                f"got {view.value!r}",
                "give an annual fraction, e.g. 0.15",
            )
        where = _describe_view(number, view)
        _check_view_ticker(view.asset, number, view, tickers)
        picking[row, tickers.get_loc(view.asset)] = 1.0
        if view.versus is not None:
            _check_view_ticker(view.versus, number, view, tickers)
            if view.versus == view.asset:
                raise InputError(
                    "a relative view compares a ticker with itself",
                    where,
                    "asset and versus are the same",
                    "name two different tickers or make it an absolute view",
                )
            picking[row, tickers.get_loc(view.versus)] = -1.0
        confidence = view.confidence
        if not is_finite_number(confidence) or not 0 < confidence <= 1:
            raise InputError(
                "a view's confidence must be in (0, 1]",
                where,
                f"got {confidence!r}",
                "give a fraction, e.g. 0.5 for 50 %; 1 makes the view hold exactly",
            )
        targets[row] = view.value
        confidences[row] = confidence
    return picking, targets, confidences


def black_litterman(
    prior: pd.Series,
    cov: pd.DataFrame,
    views: Sequence[View],
    tau: float = 0.05,
    risk_free_rate: float = 0.0,
) -> pd.Series:
    """Black-Litterman posterior mean of the returns.

    With ``P`` (k, n) the picking matrix, ``Q`` (k,) the view returns and ``c_k`` the view
    confidences::

        Omega_kk  = tau * (1 - c_k) / c_k * P_k Sigma P_k'      (diagonal)
        posterior = pi + tau Sigma P' (P tau Sigma P' + Omega)^-1 (Q - P pi)

    ``Omega`` is Idzorek's confidence mapping in the closed form of Walters (2014), the same
    as PyPortfolioOpt's ``omega="idzorek"`` (and a He-Litterman ``tau P Sigma P'`` scaled by
    ``(1 - c) / c``). Confidence 1 gives ``Omega_kk = 0`` and the view holds exactly
    (``P_k @ posterior == Q_k``); as the confidence goes to 0 the posterior goes to ``pi``.

    An absolute view ``View(asset, value, c)`` is the row ``e_asset`` with ``Q = value``;
    a relative view ``View(asset, value, c, versus)`` is ``+1`` on ``asset`` and ``-1`` on
    ``versus`` with ``Q = value``.

    Parameters
    ----------
    prior : pd.Series, shape (n_tickers,)
        Prior annual expected returns ``pi`` (fractions), e.g. :func:`capm_implied`.
    cov : pd.DataFrame, shape (n_tickers, n_tickers)
        **Annual** covariance ``Sigma``, labelled by ticker on both axes.
    views : sequence of View
        Investor views; annual fractions. Empty: the prior is returned.
    tau : float
        Scale of the uncertainty of the prior (> 0), typically 0.01 to 0.05.
    risk_free_rate : float
        Annual risk-free rate (fraction). ``prior`` and absolute views are total returns;
        shifting both by the risk-free rate does not change the posterior mean, so this
        argument is only checked (kept so the call mirrors :func:`capm_implied`).

    Returns
    -------
    pd.Series, shape (n_tickers,)
        Posterior annual expected returns (fractions), in the order of ``prior``.

    Raises
    ------
    InputError
        A view on an unknown ticker (with the known tickers and a "did you mean"), a
        confidence outside (0, 1], views at confidence 1 that are redundant or
        contradictory, a non-positive ``tau``.
    DataError
        Prior and covariance with different tickers, a bad covariance matrix.
    """
    if not isinstance(prior, pd.Series):
        raise DataError(
            "the prior must be a pandas Series",
            "prior",
            f"got {type(prior).__name__}",
            "pass annual expected returns indexed by ticker",
        )
    return _black_litterman(
        prior, validated_cov(cov, pd.Index(prior.index)), views, tau, risk_free_rate
    )


def _black_litterman(
    prior: pd.Series,
    sigma: pd.DataFrame,
    views: Sequence[View],
    tau: float,
    risk_free_rate: float,
) -> pd.Series:
    """:func:`black_litterman` with ``sigma`` already checked and ordered like ``prior``."""
    tickers = pd.Index(prior.index)
    try:
        prior = prior.astype(float)
    except (TypeError, ValueError) as error:
        raise DataError("the prior is not all numbers", "prior", str(error),
                        "estimate the prior for every ticker") from None
    pi = prior.to_numpy()
    sigma = sigma.to_numpy()
    if not np.isfinite(pi).all():
        raise DataError(
            "the prior has missing or infinite entries",
            "prior",
            fix="estimate the prior for every ticker",
        )
    tau = check_positive(tau, "tau", "give a positive number, typically 0.01 to 0.05")
    check_finite(risk_free_rate, "risk_free_rate")
    views = list(views)
    if not views:
        return prior
    picking, targets, confidences = _view_matrices(views, tickers)

    scaled_cov_picking = tau * sigma @ picking.T  # (n, k)
    view_variances = np.einsum("kn,nk->k", picking, scaled_cov_picking)  # tau P_k Sigma P_k'
    omega = np.diag((1.0 - confidences) / confidences * view_variances)
    system = picking @ scaled_cov_picking + omega
    if np.linalg.matrix_rank(system) < len(views):
        _raise_singular_views(views, picking, confidences)
    solution = np.linalg.solve(system, targets - picking @ pi)
    return pd.Series(pi + scaled_cov_picking @ solution, index=tickers)


def _raise_singular_views(
    views: list[View], picking: np.ndarray, confidences: np.ndarray
) -> NoReturn:
    certain = np.flatnonzero(confidences == 1.0)
    if len(certain) and np.linalg.matrix_rank(picking[certain]) < len(certain):
        described = "; ".join(_describe_view(int(row) + 1, views[row]) for row in certain)
        raise InputError(
            "views held with confidence 1 are redundant or contradictory",
            described,
            "views at confidence 1 must be linearly independent to hold exactly",
            "drop one of them or lower its confidence below 1",
        )
    raise DataError(
        "the covariance matrix gives a view portfolio zero variance",
        "cov",
        "the Black-Litterman system is singular",
        "check the covariance of the tickers in the views",
    )
