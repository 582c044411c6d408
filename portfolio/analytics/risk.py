"""Risk report of a portfolio given as weights or as holdings.

:func:`measure_risk` computes an immutable :class:`RiskReport` of weights (or valued
holdings) against a :class:`RiskModel` -- the estimates, returns and limits every report on
one config and one market shares (built once by :func:`portfolio.jobs.risk.risk_context`
from the same estimate the optimiser uses). Pure: no config, no I/O.

Units
-----
* Weights are fractions of portfolio value (0.25 = 25 %); ``"CASH"`` is a weight like the
  others. Cash has zero risk and earns 0 in the back-cast.
* Volatility, risk contributions and tracking error are **annual** fractions (0.30 = 30 %
  a year); the covariance is annualised with 252 trading days.
* VaR and CVaR are **positive loss fractions** of portfolio value over a horizon of 1 or
  10 trading days (0.03 = a 3 % loss), and in USD when holdings are given.
* The back-cast is a series of **daily** simple returns (fractions).

Choices
-------
* Covariance-based figures (volatility, risk contributions, parametric VaR/CVaR,
  correlation, effective number of bets) use the config's estimator over the universe
  names that have a price at the as-of date and at least
  :data:`~portfolio.estimate.inputs.MIN_USABLE_OBSERVATIONS` returns in the lookback, so a
  report and an optimisation of the same config see the same matrix. A held name
  without that history (e.g. CRWV in its first weeks) is an error naming the fix; an
  unheld one is left out with a warning. Parametric VaR assumes a zero mean return.
  A factor-model estimate (``risk.method = "factor"``) is used through its parts: only
  the covariance of the held names is formed.
* The historical back-cast applies today's weights to every day of the lookback (daily
  rebalancing to constant weights). On a day a held name has no return (before its
  listing, e.g. CRWV before 2025-03-28, or a data gap) its weight is spread pro rata over
  the held names that do have one, so the risky weight stays the same; the cash weight
  never changes. Days on which no held name has a return are dropped. Each renormalised
  name is reported in the warnings. Historical VaR/CVaR, maximum drawdown, beta and
  tracking error come from this back-cast (beta and tracking error against the config's
  benchmark, on their common dates).
* The VaR backtest (:mod:`portfolio.analytics.var_backtest`) applies today's weights the
  same way to every day of the available history (``RiskModel.history``, from the
  config's ``data.start``) and checks the 1-day 95 % and 99 % VaR, historical and
  parametric, each estimated on the ``lookback`` days before the day it forecasts.
* Concentration is measured on the **risky** weights renormalised to sum to 1 (cash left
  out): HHI in [1/N, 1], effective number of names 1/HHI, top-5 share of the invested
  part. The effective number of bets is 1 / sum(p_i^2) of the percent risk
  contributions p (:func:`portfolio.analytics.metrics.effective_number_of_bets`).
* Groups: each name counts in its first group of ``config.groups``; names in no group are
  counted in ``"other"``, so the group contributions add up to the volatility.
* The limit table uses the same limit objects as the optimizer
  (DESIGN.md principle 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from portfolio.analytics.backcast import backcast_returns, history_backcast
from portfolio.analytics.bootstrap import LossDistribution
from portfolio.analytics.exposure import ExposureReport, portfolio_exposure
from portfolio.analytics.metrics import Drawdown, beta, max_drawdown, tracking_error
from portfolio.analytics.risk_measures import (
    effective_number_of_bets,
    hhi,
    historical_cvar,
    historical_var,
    parametric_cvar,
    parametric_var,
    portfolio_volatility,
    risk_contributions,
    top_n_share,
)
from portfolio.analytics.valuation import Valuation, date_text
from portfolio.analytics.var_backtest import VaRBacktest, var_backtest
from portfolio.errors import InputError
from portfolio.estimate.covariance import CovarianceEstimate
from portfolio.estimate.inputs import MIN_USABLE_OBSERVATIONS, RiskInputs
from portfolio.optimization.constraints import LimitCheck, check_all
from portfolio.weights import CASH

__all__ = [
    "CONFIDENCE_LEVELS",
    "HORIZONS_DAYS",
    "OTHER_GROUP",
    "Concentration",
    "RiskModel",
    "RiskReport",
    "backcast_returns",
    "measure_risk",
]

CONFIDENCE_LEVELS = (0.95, 0.99)
"""Confidence levels of the VaR / CVaR table."""


HORIZONS_DAYS = (1, 10)
"""Horizons of the VaR / CVaR table, trading days."""


TOP_N = 5


OTHER_GROUP = "other"
"""Group label of names that belong to no group of the config."""


TailTable = Mapping[str, Mapping[str, Mapping[str, float]]]
"""``{"parametric"|"historical": {"95%"|"99%": {"1d"|"10d": loss}}}``."""


@dataclass(frozen=True)
class Concentration:
    """Concentration of the invested part (risky weights renormalised to sum to 1).

    Attributes
    ----------
    hhi : float
        Herfindahl-Hirschman index sum(v_i^2) of the renormalised risky weights v, in
        [1/N, 1]; NaN without risky positions.
    effective_names : float
        1 / hhi (N for N equal positions).
    effective_bets : float
        1 / sum(p_i^2) of the percent risk contributions p; NaN at zero volatility.
    top5_share : float
        Sum of the five largest renormalised risky weights (fraction of the invested part).
    """

    hhi: float
    effective_names: float
    effective_bets: float
    top5_share: float


@dataclass(frozen=True, eq=False)
class RiskReport:
    """Everything ``portfolio risk`` shows; see the module docstring for units and choices.

    Attributes
    ----------
    weights : pandas.Series
        Fractions per held name (weight > 0, largest first) and ``"CASH"`` (last); sums to 1.
    valuation : Valuation or None
        USD values when the report was made from holdings.
    volatility : float
        Annual volatility (fraction), sqrt(w' Sigma w).
    var, cvar : mapping
        ``{"parametric"|"historical": {"95%"|"99%": {"1d"|"10d": loss fraction}}}``.
    var_usd, cvar_usd : mapping or None
        The same in USD (loss fraction x total value) when holdings were given.
    max_drawdown : Drawdown
        Largest fall of the back-cast value path, with peak, trough and recovery dates.
    beta : float
        Beta of the back-cast to the benchmark's daily returns.
    tracking_error : float
        Annualised std of (back-cast - benchmark) daily returns (fraction).
    benchmark : str
        Benchmark ticker.
    correlation : pandas.DataFrame
        Held names x held names, correlations implied by the covariance estimate.
    risk_contributions : pandas.Series
        Annual volatility contribution w_i (Sigma w)_i / sigma per held name; sums to
        ``volatility``. Cash contributes 0 and is not listed.
    risk_contributions_pct : pandas.Series
        ``risk_contributions / volatility`` (fractions summing to 1; NaN at zero volatility).
    group_risk : pandas.DataFrame
        Index: every config group plus ``"other"`` when a held name is in no group;
        columns ``weight``, ``risk_contribution`` (annual), ``risk_share`` (fraction of
        volatility).
    concentration : Concentration
    limits : tuple of LimitCheck
        Every limit row of the config evaluated at ``weights``.
    exposure : ExposureReport
        Look-through exposure to ``exposure_hub``: ``per_holding`` w_i x_i for the held
        names and CASH, ``total`` (fraction of portfolio value).
    exposure_hub : str
        The hub (``config.stress.hub``, e.g. OpenAI).
    exposure_cap : float or None
        The theme cap on that hub, if the config sets one.
    backcast : pandas.Series
        Daily simple returns of today's weights over the lookback (see module docstring).
    covariance : CovarianceEstimate
        The estimate used (annualised), over the universe names priced at the as-of date.
    covariance_method : str
    as_of : pandas.Timestamp
        Last price date used.
    data_source : str
        ``bundled``, ``cache`` or ``yahoo``.
    notice : str
        Data provenance line.
    warnings : tuple of str
        Short histories, PSD repairs, back-cast renormalisation, names left out.
    var_backtest : VaRBacktest or None
        Rolling out-of-sample 1-day VaR backtest of today's weights over the history
        (None when the history is not longer than the lookback).
    loss_distribution : LossDistribution or None
        Monte Carlo return and drawdown over a horizon, when asked for
        (:func:`portfolio.jobs.risk.risk_report` with ``horizon``).
    history_notes : tuple of str
        How the back-cast over the whole history (the sample of the VaR backtest and the
        Monte Carlo) treats names listed later, or why there is no VaR backtest.
    """

    weights: pd.Series
    valuation: Valuation | None
    volatility: float
    var: TailTable
    cvar: TailTable
    var_usd: TailTable | None
    cvar_usd: TailTable | None
    max_drawdown: Drawdown
    beta: float
    tracking_error: float
    benchmark: str
    correlation: pd.DataFrame
    risk_contributions: pd.Series
    risk_contributions_pct: pd.Series
    group_risk: pd.DataFrame
    concentration: Concentration
    limits: tuple[LimitCheck, ...]
    exposure: ExposureReport
    exposure_hub: str
    exposure_cap: float | None
    backcast: pd.Series
    covariance: CovarianceEstimate
    covariance_method: str
    as_of: pd.Timestamp
    data_source: str
    notice: str
    warnings: tuple[str, ...]
    var_backtest: VaRBacktest | None = None
    loss_distribution: LossDistribution | None = None
    history_notes: tuple[str, ...] = ()

    @property
    def breaches(self) -> tuple[LimitCheck, ...]:
        """Limit rows that do not hold."""
        return tuple(row for row in self.limits if not row.ok)

    @property
    def total_value(self) -> float | None:
        """Portfolio value in USD when made from holdings, else None."""
        return None if self.valuation is None else self.valuation.total

    @property
    def worst_var(self) -> tuple[str, str, str, float]:
        """The largest VaR of the table as ``(method, confidence, horizon, loss)``."""
        return max(
            ((method, level, horizon, loss)
             for method, levels in self.var.items()
             for level, horizons in levels.items()
             for horizon, loss in horizons.items()),
            key=lambda item: item[3],
        )


@dataclass(frozen=True)
class RiskModel:
    """What every risk report on one universe and one market shares, estimated once.

    Attributes
    ----------
    tickers : tuple of str
        The universe (weights outside it are errors).
    groups : Mapping[str, tuple of str]
        Named groups of tickers.
    benchmark : str
        Benchmark ticker of beta and tracking error.
    closes : Series
        As-of closes (USD) by ticker.
    inputs : RiskInputs
        Covariance and returns of the names priced at the as-of date.
    daily : DataFrame
        Daily simple returns of the lookback (dates x tickers), for the back-cast.
    benchmark_returns : Series
        Daily returns of the benchmark over the lookback.
    hub : str
        The stress hub of the look-through exposure (e.g. OpenAI).
    hub_exposures : Series
        Look-through exposure (fraction of position value) of each ticker to the hub.
    limits : tuple
        The limit objects (theme caps included).
    exposure_cap : float or None
        The tightest theme cap on the hub.
    covariance_method : str
        The covariance estimator.
    frequency : str
        Return frequency of the estimate.
    as_of : Timestamp
        Last price date used.
    data_source, notice : str
        Provenance of the prices.
    warnings : tuple of str
        The covariance warnings and the names left out of the risk model.
    history : DataFrame or None
        Daily simple returns of every date loaded (from ``data.start``; dates x tickers,
        NaN before a listing), for the VaR backtest and the Monte Carlo sample; None: the
        lookback (``daily``) only.
    """

    tickers: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]]
    benchmark: str
    closes: pd.Series
    inputs: RiskInputs
    daily: pd.DataFrame
    benchmark_returns: pd.Series
    hub: str
    hub_exposures: pd.Series
    limits: tuple[Any, ...]
    exposure_cap: float | None
    covariance_method: str
    frequency: str
    as_of: pd.Timestamp
    data_source: str
    notice: str
    warnings: tuple[str, ...]
    history: pd.DataFrame | None = None

    def group_of(self, ticker: str) -> str | None:
        """The first group containing ``ticker``, or None."""
        return next((name for name, members in self.groups.items() if ticker in members),
                    None)


def measure_risk(weights: pd.Series, model: RiskModel, *, valuation: Valuation | None = None,
                 source: str = "weights") -> RiskReport:
    """Risk of a portfolio: volatility, VaR/CVaR, drawdown, contributions, limits, exposure.

    Parameters
    ----------
    weights : Series
        Fractions by ticker with ``CASH``, summing to 1 (from
        :func:`portfolio.weights.parse_weights` or a :class:`Valuation`).
    model : RiskModel
        The estimates and limits to measure against.
    valuation : Valuation, optional
        The holdings' USD values when the weights come from holdings.
    source : str
        Where the weights came from (a file), for messages.

    Returns
    -------
    RiskReport
        Units and modelling choices in the module docstring.

    Raises
    ------
    InputError
        A held ticker without a price at the as-of date or with fewer than
        :data:`~portfolio.estimate.inputs.MIN_USABLE_OBSERVATIONS` returns in the lookback.
    """
    held = _held_names(weights)
    _check_priced(held, model.closes, model.as_of)
    _check_history(held, model.inputs, model.frequency, source, model.as_of)
    estimate = model.inputs.covariance
    # a factor-model estimate forms the covariance of the held names only (m x m)
    cov = estimate.matrix if estimate.factor is None else estimate.block(held)
    warnings = list(model.warnings)
    risky_weights = weights.reindex(cov.index).fillna(0.0)

    volatility = portfolio_volatility(risky_weights, cov)
    contributions = risk_contributions(risky_weights, cov)[held]
    shares = contributions / volatility if volatility > 0 else contributions * np.nan

    backcast, renormalised = backcast_returns(weights, model.daily)
    warnings += _backcast_notes(renormalised, model.daily, len(backcast))
    checked, history_notes = _var_backtest(weights, model)
    var = _tail_table(parametric_var, historical_var, risky_weights, cov, backcast)
    cvar = _tail_table(parametric_cvar, historical_cvar, risky_weights, cov, backcast)
    total = valuation.total if valuation is not None else None
    reported = weights[[*held, CASH]].rename("weight")
    return RiskReport(
        weights=reported,
        valuation=valuation,
        volatility=volatility,
        var=var,
        cvar=cvar,
        var_usd=None if total is None else _scaled(var, total),
        cvar_usd=None if total is None else _scaled(cvar, total),
        max_drawdown=max_drawdown(backcast, kind="returns"),
        beta=beta(backcast, model.benchmark_returns),
        tracking_error=tracking_error(backcast, model.benchmark_returns, "daily"),
        benchmark=model.benchmark,
        correlation=_correlation(cov.loc[held, held]),
        risk_contributions=contributions.rename("risk_contribution"),
        risk_contributions_pct=shares.rename("risk_share"),
        group_risk=_group_risk(model, weights[held], contributions, volatility),
        concentration=_concentration(weights[held], risky_weights, cov, volatility),
        limits=check_all(model.limits, weights, model.tickers),
        exposure=portfolio_exposure(reported, model.hub_exposures),
        exposure_hub=model.hub,
        exposure_cap=model.exposure_cap,
        backcast=backcast,
        covariance=estimate,
        covariance_method=model.covariance_method,
        as_of=model.as_of,
        data_source=model.data_source,
        notice=model.notice,
        warnings=tuple(warnings),
        var_backtest=checked,
        history_notes=tuple(history_notes),
    )


def _var_backtest(weights: pd.Series, model: RiskModel) -> tuple[VaRBacktest | None, list[str]]:
    """The VaR backtest over the history, and its note (none when it is too short)."""
    window = len(model.daily)
    history = model.history if model.history is not None else model.daily
    backcast, note = history_backcast(weights, history)
    if len(backcast) <= max(window, 20) + 1:
        return None, [f"no VaR backtest: {len(backcast)} back-cast days, not more than the "
                      f"{window}-day window"]
    return var_backtest(backcast, window), note


# --------------------------------------------------------------------------- helpers


def _held_names(weights: pd.Series) -> list[str]:
    """Risky names with a positive weight, largest first (ties in input order)."""
    risky = weights.drop(CASH)
    risky = risky[risky > 0]
    return list(risky.sort_values(ascending=False, kind="stable").index)


def _check_priced(held: list[str], closes: pd.Series, as_of: pd.Timestamp) -> None:
    unpriced = [t for t in held if t not in closes.index or not np.isfinite(closes[t])]
    if unpriced:
        names = ", ".join(unpriced)
        raise InputError(
            f"no price for {names} on {date_text(as_of)}", f"weights, ticker {unpriced[0]}",
            "a held name needs a price at the as-of date to be in the risk model",
            f"use a later --as-of date or give {names} a weight of 0",
        )


def _check_history(held: list[str], inputs: RiskInputs, frequency: str, source: str,
                   as_of: pd.Timestamp) -> None:
    """Every held name needs enough returns in the lookback to be in the covariance."""
    short = [t for t in held if t not in inputs.available]
    if short:
        names = ", ".join(short)
        counts = ", ".join(f"{t} has {int(inputs.returns[t].count())}" for t in short)
        raise InputError(
            f"too little price history for {names} up to {date_text(as_of)}",
            f"{source}, ticker {short[0]}",
            f"{counts} {frequency} returns in the lookback and a held name needs at least "
            f"{MIN_USABLE_OBSERVATIONS} to be in the risk model (listed recently?)",
            f"use a later --as-of date or give {names} a weight of 0",
        )


def _backcast_notes(renormalised: pd.Series, daily: pd.DataFrame, kept: int) -> list[str]:
    notes = []
    for ticker, days in renormalised.items():
        if days:
            first = daily[ticker].first_valid_index()
            since = f"; first return {date_text(first)}" if first is not None else ""
            notes.append(
                f"{ticker} has no return on {days} of the {kept} back-cast days{since}; on "
                "those days its weight is spread pro rata over the other held names"
            )
    dropped = len(daily) - kept
    if dropped:
        notes.append(f"{dropped} back-cast days without a return for any held name were dropped")
    return notes


def _level(confidence: float) -> str:
    return f"{round(confidence * 100):d}%"


def _tail_table(parametric: Any, historical: Any, weights: pd.Series, cov: pd.DataFrame,
                backcast: pd.Series) -> TailTable:
    table = {
        "parametric": {
            _level(c): {f"{h}d": parametric(weights, cov, h, c) for h in HORIZONS_DAYS}
            for c in CONFIDENCE_LEVELS
        },
        "historical": {
            _level(c): {f"{h}d": historical(backcast, c, h) for h in HORIZONS_DAYS}
            for c in CONFIDENCE_LEVELS
        },
    }
    return _frozen_table(table)


def _scaled(table: TailTable, factor: float) -> TailTable:
    return _frozen_table({
        method: {level: {h: loss * factor for h, loss in horizons.items()}
                 for level, horizons in levels.items()}
        for method, levels in table.items()
    })


def _frozen_table(table: dict) -> TailTable:
    return MappingProxyType({
        method: MappingProxyType({level: MappingProxyType(dict(horizons))
                                  for level, horizons in levels.items()})
        for method, levels in table.items()
    })


def _correlation(cov: pd.DataFrame) -> pd.DataFrame:
    sd = np.sqrt(np.clip(np.diag(cov.to_numpy()), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = cov.to_numpy() / np.outer(sd, sd)
    values = np.clip(values, -1.0, 1.0)
    np.fill_diagonal(values, 1.0)
    return pd.DataFrame(values, index=cov.index, columns=cov.columns)


def _group_risk(model: RiskModel, weights: pd.Series, contributions: pd.Series,
                volatility: float) -> pd.DataFrame:
    membership = {t: model.group_of(t) or OTHER_GROUP for t in weights.index}
    groups = list(model.groups)
    if OTHER_GROUP in membership.values() and OTHER_GROUP not in groups:
        groups.append(OTHER_GROUP)
    rows = {}
    for group in groups:
        members = [t for t, g in membership.items() if g == group]
        risk = float(contributions[members].sum())
        rows[group] = {
            "weight": float(weights[members].sum()),
            "risk_contribution": risk,
            "risk_share": risk / volatility if volatility > 0 else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["weight", "risk_contribution", "risk_share"])


def _concentration(held_weights: pd.Series, risky_weights: pd.Series, cov: pd.DataFrame,
                   volatility: float) -> Concentration:
    invested = float(held_weights.sum())
    if invested <= 0:
        nan = float("nan")
        return Concentration(nan, nan, nan, nan)
    normalised = held_weights / invested
    index = hhi(normalised)
    return Concentration(
        hhi=index,
        effective_names=1.0 / index,
        effective_bets=effective_number_of_bets(risky_weights, cov) if volatility > 0
        else float("nan"),
        top5_share=top_n_share(normalised, TOP_N),
    )
