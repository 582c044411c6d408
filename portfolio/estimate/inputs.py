"""The risk inputs every job and the backtest share: one estimate per window of returns.

:func:`estimate_inputs` turns a window of periodic returns into the covariance (and, when
asked, the expected returns) of the names that may be held, with the warnings a user
should see. The optimiser, the risk report, the frontier and every backtest strategy call
it, so a change to estimation is made here once.

Units: returns are periodic simple returns (fractions per period of
``RiskSettings.frequency``); the covariance is annualised (fraction^2 a year) and expected
returns are annual fractions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.errors import DataError
from portfolio.estimate.covariance import CovarianceEstimate, covariance
from portfolio.estimate.equilibrium import View
from portfolio.estimate.estimators import complete_covariance
from portfolio.estimate.expected import expected_returns
from portfolio.estimate.psd import is_psd
from portfolio.estimate.returns import PERIODS_PER_YEAR, periods_per_year, to_returns

__all__ = [
    "MIN_USABLE_OBSERVATIONS",
    "RiskInputs",
    "RiskSettings",
    "estimate_inputs",
    "min_lookback_days",
    "proxy_filled_returns",
    "window_returns",
]

MIN_USABLE_OBSERVATIONS = 20
"""Names with fewer returns in the window (not listed yet) are held at 0, with a warning."""



def min_lookback_days(frequency: str) -> int:
    """Fewest trading days of lookback that give :data:`MIN_USABLE_OBSERVATIONS` returns.

    Parameters
    ----------
    frequency : str
        ``daily``, ``weekly`` or ``monthly``.

    Returns
    -------
    int
        Trading days (rows of daily prices): 20 daily, 102 weekly, 441 monthly (a weekly
        or monthly window also loses up to one period at its start to resampling).
    """
    days_per_period = PERIODS_PER_YEAR["daily"] / periods_per_year(frequency)
    if days_per_period == 1:
        return MIN_USABLE_OBSERVATIONS
    return math.ceil((MIN_USABLE_OBSERVATIONS + 1) * days_per_period)


BLOCK_METHODS = frozenset({"sample", "ledoit_wolf", "oas", "ewma"})
"""Estimators that :func:`estimate_inputs` may apply to a complete window's numpy array."""


@dataclass(frozen=True)
class RiskSettings:
    """How risk is estimated (the config's ``[risk]`` table).

    Attributes
    ----------
    method : str
        Covariance estimator, one of :data:`portfolio.estimate.covariance.METHODS`.
    lookback_days : int
        Trading days of history used (daily rows before the as-of date).
    frequency : str
        Return frequency: ``daily``, ``weekly`` or ``monthly``.
    half_life : float
        EWMA half-life in periods of ``frequency``.
    min_observations : int
        Names with fewer return observations in the lookback are flagged.
    ragged : str
        Policy for names with short histories: ``auto``, ``pairwise`` or ``factor``.
    factors : tuple of str
        Factor tickers (e.g. SPY, SMH) for the factor model and short-history fill-in.
    """

    method: str = "ledoit_wolf"
    lookback_days: int = 756
    frequency: str = "daily"
    half_life: float = 63.0
    min_observations: int = 126
    ragged: str = "auto"
    factors: tuple[str, ...] = ("SPY", "SMH")


@dataclass(frozen=True)
class RiskInputs:
    """Estimates the optimiser and the reports share.

    Attributes
    ----------
    returns : DataFrame
        Periodic simple returns in the window (dates x the tickers given, NaN kept).
    covariance : CovarianceEstimate
        Annualised covariance of the available names with its diagnostics.
    expected_returns : Series or None
        Annual expected returns (fractions) of every universe name when requested
        (0 for names that are not available).
    risk_free_rate : float
        Annual risk-free rate (fraction).
    available : tuple of str
        Universe names in the estimate (the others are held at 0).
    warnings : tuple of str
        The covariance warnings plus one line per excluded name.
    """

    returns: pd.DataFrame
    covariance: CovarianceEstimate
    expected_returns: pd.Series | None
    risk_free_rate: float
    available: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def padded_covariance(self, tickers: Sequence[str]) -> pd.DataFrame:
        """Covariance over ``tickers``, padded for names that are not available.

        An unavailable name gets the largest variance of the available ones and no
        correlation; it is held at 0, so the value only keeps the matrix positive definite.
        """
        matrix = self.covariance.matrix
        padded = matrix.reindex(index=list(tickers), columns=list(tickers)).fillna(0.0)
        largest = float(np.diag(matrix.to_numpy()).max()) if len(matrix) else 1.0
        for ticker in tickers:
            if ticker not in matrix.index:
                padded.loc[ticker, ticker] = largest
        return padded


def window_returns(prices: pd.DataFrame, lookback_days: int, frequency: str) -> pd.DataFrame:
    """Returns of the last ``lookback_days + 1`` price rows at ``frequency``.

    Parameters
    ----------
    prices : DataFrame
        Daily closes up to the decision date (dates x tickers, NaN before a listing).
    lookback_days : int
        Daily returns wanted (trading days).
    frequency : str
        ``daily``, ``weekly`` or ``monthly`` returns of that window.
    """
    return to_returns(prices.iloc[-(lookback_days + 1):], frequency=frequency)


def estimate_inputs(
    returns: pd.DataFrame,
    tickers: Sequence[str],
    risk: RiskSettings,
    *,
    available: Sequence[str] | None = None,
    expected_return_method: str | None = None,
    views: Sequence[View] = (),
    benchmark: str | None = None,
    risk_free_rate: float = 0.0,
    where: str = "the lookback",
) -> RiskInputs:
    """Estimate the covariance (and expected returns) of a window of returns.

    Parameters
    ----------
    returns : DataFrame
        Periodic returns over the window (dates x tickers), the universe plus any factor
        and benchmark columns; NaN where a name has no return.
    tickers : sequence of str
        The universe, in the order of the result's padding and expected returns.
    risk : RiskSettings
        Estimator, frequency, half-life, ragged policy, factors.
    available : sequence of str, optional
        Names that may be held (a backtest's listing rule). Default: the universe names
        with at least :data:`MIN_USABLE_OBSERVATIONS` returns in the window; the others
        are listed in ``warnings``.
    expected_return_method : str, optional
        An expected-return method; None estimates no expected returns.
    views : sequence of View
        Black-Litterman views; those on names outside ``available`` are dropped with a
        warning, and views are used only by ``black_litterman``.
    benchmark : str, optional
        Column of the market proxy for CAPM and Black-Litterman.
    risk_free_rate : float
        Annual risk-free rate (fraction).
    where : str
        The window's description for messages (e.g. ``"as of 2026-07-31"``).

    Returns
    -------
    RiskInputs

    Raises
    ------
    DataError
        No name has enough history, or the estimators reject the window.

    Notes
    -----
    When no expected returns are asked for, the estimator is a block method and every
    available name has a return on every date of the window (the usual case in a
    walk-forward), the covariance comes from the numpy array of the window directly
    (:func:`~portfolio.estimate.estimators.complete_covariance`): the same matrix as
    :func:`~portfolio.estimate.covariance.covariance`, without its table handling.
    """
    warnings: list[str] = []
    if available is None:
        counts = returns.reindex(columns=list(tickers)).count()
        names = [t for t in tickers if counts[t] >= MIN_USABLE_OBSERVATIONS]
        warnings += [f"{t} has {counts[t]} returns in the lookback (not listed yet?); it is "
                     "held at 0" for t in tickers if t not in names]
    else:
        names = [t for t in tickers if t in set(available)]
    if not names:
        raise DataError(
            "no ticker has enough history", where,
            f"every name has fewer than {MIN_USABLE_OBSERVATIONS} returns in the lookback",
            "use a later --as-of date (more history before it), or more returns per window "
            "(a longer risk.lookback_days or a finer risk.frequency)",
        )
    estimate = None
    if expected_return_method is None:
        estimate = _complete_window_estimate(returns[names], risk)
    if estimate is None:
        estimate = _window_estimate(returns, names, risk)
    mu = None
    if expected_return_method is not None:
        usable = tuple(v for v in views if v.asset in names
                       and (v.versus is None or v.versus in names))
        warnings += [f"view on {v.asset} ignored: not enough history"
                     for v in views if v not in usable]
        mu = expected_returns(
            returns[names], expected_return_method, frequency=risk.frequency,
            cov=estimate.matrix,
            market_returns=returns.get(benchmark) if benchmark else None,
            risk_free_rate=risk_free_rate, half_life=risk.half_life,
            views=usable if expected_return_method == "black_litterman" else (),
        ).reindex(list(tickers)).fillna(0.0)
    return RiskInputs(
        returns=returns, covariance=estimate, expected_returns=mu,
        risk_free_rate=risk_free_rate, available=tuple(names),
        warnings=(*estimate.warnings, *warnings),
    )


def _complete_window_estimate(returns: pd.DataFrame, risk: RiskSettings
                              ) -> CovarianceEstimate | None:
    """The block estimate on the window's numpy array, or None when the window is ragged."""
    values = returns.to_numpy(dtype=float)
    if (risk.method not in BLOCK_METHODS or len(values) < max(2, risk.min_observations)
            or np.isnan(values).any()):
        return None
    block = complete_covariance(risk.method, values, risk.frequency, risk.half_life)
    if not is_psd(block):
        return None  # the general path repairs it and says so
    columns = returns.columns
    observations = pd.Series(len(values), index=columns, name="observations", dtype=int)
    matrix = pd.DataFrame(block, index=columns, columns=columns)
    return CovarianceEstimate(matrix, risk.method, observations, 0.0, (), risk.frequency)


def _window_estimate(returns: pd.DataFrame, names: Sequence[str], risk: RiskSettings
                     ) -> CovarianceEstimate:
    """:func:`covariance` of ``names``, with the factors complete on the window's dates."""
    universe = returns[list(names)]
    rows = universe.notna().any(axis=1)
    factors = [f for f in risk.factors
               if f in returns.columns and returns.loc[rows, f].notna().all()]
    return covariance(
        universe, risk.method, frequency=risk.frequency, half_life=risk.half_life,
        factor_returns=returns.loc[rows, factors] if factors else None,
        ragged=risk.ragged, min_observations=risk.min_observations,
    )


def proxy_filled_returns(
    returns: pd.DataFrame, tickers: Sequence[str], factors: Sequence[str]
) -> pd.DataFrame:
    """Returns of ``tickers`` with gaps (before a listing) filled by ``beta * factor return``.

    The beta of each name on the first available factor (e.g. SPY) is estimated on their
    overlapping rows. Historical scenarios (min-CVaR) then do not treat a young name as
    riskless on the days before it listed. Names without overlap keep 0 on those days.
    """
    filled = returns[list(tickers)].copy()
    factor = next((f for f in factors if f in returns.columns), None)
    if factor is None:
        return filled.fillna(0.0)
    f = returns[factor]
    for ticker in tickers:
        gaps = filled[ticker].isna()
        if not gaps.any():
            continue
        both = filled[ticker].notna() & f.notna()
        if both.sum() >= 2 and f[both].var() > 0:
            beta = filled.loc[both, ticker].cov(f[both]) / f[both].var()
            filled.loc[gaps, ticker] = beta * f[gaps]
    return filled.fillna(0.0)
