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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from portfolio.errors import DataError
from portfolio.estimate.asynchronous import lead_lag_corrected
from portfolio.estimate.covariance import CovarianceEstimate, covariance
from portfolio.estimate.equilibrium import View
from portfolio.estimate.estimators import complete_covariance
from portfolio.estimate.expected import ExpectedReturnModel, expected_return_model
from portfolio.estimate.psd import psd_check
from portfolio.estimate.returns import PERIODS_PER_YEAR, periods_per_year, to_returns

__all__ = [
    "MIN_USABLE_OBSERVATIONS",
    "ReturnSettings",
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
    asynchronous : str
        ``lead_lag`` (default): correct the covariances of names on exchanges that close
        at different times (:mod:`portfolio.estimate.asynchronous`); ``off``: same-day
        returns only.
    """

    method: str = "ledoit_wolf"
    lookback_days: int = 756
    frequency: str = "daily"
    half_life: float = 63.0
    min_observations: int = 126
    ragged: str = "auto"
    factors: tuple[str, ...] = ("SPY", "SMH")
    asynchronous: str = "lead_lag"


@dataclass(frozen=True)
class ReturnSettings:
    """How expected returns are estimated (the config's ``[optimizer]`` and ``[market_caps]``).

    Attributes
    ----------
    method : str
        One of :data:`portfolio.estimate.expected.METHODS`.
    views : tuple of View
        Black-Litterman views (used by ``black_litterman`` only).
    benchmark : str or None
        Column of the market proxy (implied risk aversion when none is given).
    market_caps : tuple of (ticker, USD bn)
        Market capitalisations: the CAPM / Black-Litterman prior holds the market in
        these proportions. Empty: equal weights.
    risk_aversion : float or None
        ``delta`` of the prior; None implies it from the benchmark's returns.
    plausible : tuple of float
        Annual expected returns outside ``[low, high]`` are flagged in the warnings.
    """

    method: str = "historical"
    views: tuple[View, ...] = ()
    benchmark: str | None = None
    market_caps: tuple[tuple[str, float], ...] = ()
    risk_aversion: float | None = None
    plausible: tuple[float, float] = (-0.5, 0.6)


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
    expected_model : ExpectedReturnModel or None
        The expected returns of the available names with their prior and views.
    risk_free_rate : float
        Annual risk-free rate (fraction).
    available : tuple of str
        Universe names in the estimate (the others are held at 0).
    warnings : tuple of str
        The covariance warnings, one line per excluded name, and the implausible
        expected returns.
    implausible : tuple of str
        The expected returns outside the plausible band, in words.
    """

    returns: pd.DataFrame
    covariance: CovarianceEstimate
    expected_returns: pd.Series | None
    risk_free_rate: float
    available: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    expected_model: ExpectedReturnModel | None = None
    implausible: tuple[str, ...] = ()

    def padded_covariance(self, tickers: Sequence[str]) -> pd.DataFrame:
        """Covariance over ``tickers``, padded for names that are not available.

        An unavailable name gets the largest variance of the available ones and no
        correlation; it is held at 0, so the value only keeps the matrix positive definite.
        """
        return self.padded_estimate(tickers).matrix

    def padded_estimate(self, tickers: Sequence[str]) -> CovarianceEstimate:
        """:attr:`covariance` over ``tickers``, padded as in :meth:`padded_covariance`.

        Padding keeps what the optimiser needs: the PSD certificate (a positive diagonal
        entry with no correlation keeps a PSD matrix PSD) and the factor form (the name
        gets zero loadings and the variance as its specific variance).
        """
        estimate = self.covariance
        names = list(tickers)
        if list(estimate.tickers) == names:
            return estimate
        observations = estimate.observations.reindex(names, fill_value=0)
        if estimate.factor is not None:
            largest = float(estimate.factor.diagonal().max()) if estimate.tickers else 1.0
            return replace(estimate, observations=observations,
                           factor=estimate.factor.padded(names, largest))
        values = estimate.matrix.to_numpy()
        position = {t: k for k, t in enumerate(estimate.tickers)}
        where = np.array([position.get(t, -1) for t in names], dtype=int)
        known = where >= 0
        padded = np.zeros((len(names), len(names)))
        padded[np.ix_(known, known)] = values[np.ix_(where[known], where[known])]
        padded[~known, ~known] = float(np.diag(values).max()) if len(values) else 1.0
        return replace(estimate, dense=pd.DataFrame(padded, index=names, columns=names),
                       observations=observations)


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
    expected: ReturnSettings | None = None,
    risk_free_rate: float = 0.0,
    markets: Mapping[str, str] | None = None,
    where: str = "the lookback",
    covariance: CovarianceEstimate | None = None,
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
        Estimator, frequency, half-life, ragged policy, factors, asynchronous closes.
    available : sequence of str, optional
        Names that may be held (a backtest's listing rule). Default: the universe names
        with at least :data:`MIN_USABLE_OBSERVATIONS` returns in the window; the others
        are listed in ``warnings``.
    expected : ReturnSettings, optional
        How to estimate expected returns; None estimates none. Views on names outside
        ``available`` are dropped with a warning.
    risk_free_rate : float
        Annual risk-free rate (fraction).
    markets : mapping ticker -> exchange, optional
        Where each name trades; names on exchanges that close at different times get
        the lead-lag correction when ``risk.asynchronous`` is ``lead_lag``.
    where : str
        The window's description for messages (e.g. ``"as of 2026-07-31"``).
    covariance : CovarianceEstimate, optional
        The covariance of this window, names and settings already estimated (the
        ``covariance`` of an earlier result, e.g. one without expected returns): reused
        as it is, so strategies of a backtest that differ only in their expected returns
        share one estimate.

    Returns
    -------
    RiskInputs

    Raises
    ------
    DataError
        No name has enough history, or the estimators reject the window.

    Notes
    -----
    When the estimator is a block method and every available name has a return on every
    date of the window (the usual case in a walk-forward), the covariance comes from the
    numpy array of the window directly
    (:func:`~portfolio.estimate.estimators.complete_covariance`): the same matrix as
    :func:`~portfolio.estimate.covariance.covariance`, without its table handling.
    """
    names, warnings = _available_names(returns, tickers, available, where)
    estimate = (covariance if covariance is not None
                else _window_covariance(returns, names, risk, markets))
    model, mu, implausible = None, None, ()
    if expected is not None:
        model, notes = _expected_model(returns, names, estimate, expected, risk,
                                       risk_free_rate)
        mu = model.posterior.reindex(list(tickers)).fillna(0.0)
        implausible = _implausible(model.posterior, expected.plausible)
        warnings += [*notes, *implausible]
    return RiskInputs(
        returns=returns, covariance=estimate, expected_returns=mu,
        risk_free_rate=risk_free_rate, available=tuple(names),
        warnings=(*estimate.warnings, *warnings), expected_model=model,
        implausible=implausible,
    )


def _window_covariance(returns: pd.DataFrame, names: list[str], risk: RiskSettings,
                       markets: Mapping[str, str] | None) -> CovarianceEstimate:
    """The covariance of ``names`` over the window, lead-lag corrected when asked."""
    estimate = _complete_window_estimate(returns[names], risk)
    if estimate is None:
        estimate = _window_estimate(returns, names, risk)
    if markets and risk.asynchronous == "lead_lag":
        estimate = _lead_lag(estimate, returns, markets)
    return estimate


def _available_names(returns: pd.DataFrame, tickers: Sequence[str],
                     available: Sequence[str] | None, where: str) -> tuple[list[str], list[str]]:
    """The names in the estimate, and a warning per universe name left out."""
    warnings = []
    if available is None:
        counts = returns.reindex(columns=list(tickers)).count()
        names = [t for t in tickers if counts[t] >= MIN_USABLE_OBSERVATIONS]
        warnings = [f"{t} has {counts[t]} returns in the lookback (not listed yet?); it is "
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
    return names, warnings


def _expected_model(returns: pd.DataFrame, names: list[str], estimate: CovarianceEstimate,
                    expected: ReturnSettings, risk: RiskSettings, risk_free_rate: float
                    ) -> tuple[ExpectedReturnModel, list[str]]:
    """The expected-return model of the available names, and notes on what was left out."""
    usable = tuple(v for v in expected.views if v.asset in names
                   and (v.versus is None or v.versus in names))
    notes = [f"view on {v.asset} ignored: not enough history"
             for v in expected.views if v not in usable]
    weights, missing = _market_weights(expected.market_caps, names)
    if missing and expected.method in ("capm", "black_litterman"):
        notes.append(f"no market cap for {', '.join(missing)}: the prior gives "
                     f"{'it' if len(missing) == 1 else 'them'} the median cap (market_caps)")
    model = expected_return_model(
        returns[names], expected.method, frequency=risk.frequency, cov=estimate.matrix,
        market_returns=returns.get(expected.benchmark) if expected.benchmark else None,
        risk_free_rate=risk_free_rate, half_life=risk.half_life,
        views=usable if expected.method == "black_litterman" else (),
        risk_aversion=expected.risk_aversion, market_weights=weights,
    )
    return model, notes


def _market_weights(caps: tuple[tuple[str, float], ...], names: list[str]
                    ) -> tuple[pd.Series | None, list[str]]:
    """Market weights of ``names`` from the caps (median cap where one is missing)."""
    known = dict(caps)
    if not known:
        return None, []
    missing = [t for t in names if t not in known]
    fill = float(np.median(list(known.values())))
    values = pd.Series({t: known.get(t, fill) for t in names}, dtype=float)
    return values / values.sum(), missing


def _implausible(mu: pd.Series, band: tuple[float, float]) -> tuple[str, ...]:
    """One warning per expected return outside ``band`` (annual fractions)."""
    low, high = band
    return tuple(
        f"{t}: expected return {100 * value:.1f} % a year is outside the plausible band "
        f"{100 * low:+.0f} % .. {100 * high:+.0f} % (optimizer.plausible_returns); check "
        "the method and the views"
        for t, value in mu.items() if not low <= value <= high
    )


def _complete_window_estimate(returns: pd.DataFrame, risk: RiskSettings
                              ) -> CovarianceEstimate | None:
    """The block estimate on the window's numpy array, or None when the window is ragged."""
    values = returns.to_numpy(dtype=float)
    if (risk.method not in BLOCK_METHODS or len(values) < max(2, risk.min_observations)
            or np.isnan(values).any()):
        return None
    block = complete_covariance(risk.method, values, risk.frequency, risk.half_life)
    certificate = psd_check(block)
    if not certificate:
        return None  # the general path repairs it and says so
    columns = returns.columns
    observations = pd.Series(len(values), index=columns, name="observations", dtype=int)
    matrix = pd.DataFrame(block, index=columns, columns=columns)
    return CovarianceEstimate(matrix, risk.method, observations, 0.0, (), risk.frequency,
                              certificate)


def _lead_lag(estimate: CovarianceEstimate, returns: pd.DataFrame,
              markets: Mapping[str, str]) -> CovarianceEstimate:
    """The estimate with its cross-exchange covariances corrected (a note says which).

    The corrected matrix is dense (a factor estimate loses its factor form) and is
    certified again: ``repaired`` when the correction needed the PSD repair, else tested.
    """
    exchanges = {markets[t] for t in estimate.tickers if t in markets}
    if len(exchanges) < 2 or estimate.frequency != "daily":
        return estimate  # nothing to correct: do not form a factor estimate's matrix
    matrix, repair, notes = lead_lag_corrected(estimate.matrix, returns, markets,
                                               estimate.frequency)
    if not notes:
        return estimate
    certificate = "repaired" if repair > 0 else psd_check(matrix)
    return replace(estimate, dense=matrix, factor=None, psd=certificate,
                   repair=float(np.hypot(estimate.repair, repair)),
                   warnings=(*estimate.warnings, *notes))


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
