"""Risk report of a portfolio given as weights or as holdings.

:func:`risk_report` is the one entry point (the ``portfolio risk`` command calls it). It
values the holdings at the as-of close (:func:`value_holdings`), estimates the config's
covariance over the lookback (the same estimate the optimizer uses, through
:func:`portfolio.jobs.market.estimate_inputs`) and returns an immutable :class:`RiskReport`.

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
  :data:`~portfolio.jobs.market.MIN_USABLE_OBSERVATIONS` returns in the lookback, so a
  report and an optimisation of the same config see the same matrix. A held name
  without that history (e.g. CRWV in its first weeks) is an error naming the fix; an
  unheld one is left out with a warning. Parametric VaR assumes a zero mean return.
* The historical back-cast applies today's weights to every day of the lookback (daily
  rebalancing to constant weights). On a day a held name has no return (before its
  listing, e.g. CRWV before 2025-03-28, or a data gap) its weight is spread pro rata over
  the held names that do have one, so the risky weight stays the same; the cash weight
  never changes. Days on which no held name has a return are dropped. Each renormalised
  name is reported in the warnings. Historical VaR/CVaR, maximum drawdown, beta and
  tracking error come from this back-cast (beta and tracking error against the config's
  benchmark, on their common dates).
* Concentration is measured on the **risky** weights renormalised to sum to 1 (cash left
  out): HHI in [1/N, 1], effective number of names 1/HHI, top-5 share of the invested
  part. The effective number of bets is 1 / sum(p_i^2) of the percent risk
  contributions p (:func:`portfolio.analytics.metrics.effective_number_of_bets`).
* Groups: each name counts in its first group of ``config.groups``; names in no group are
  counted in ``"other"``, so the group contributions add up to the volatility.
* The limit table uses the same limit objects as the optimizer
  (:func:`portfolio.optimization.constraints.constraints_from_config`, DESIGN.md principle 4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from portfolio.config import CASH, Config, load_config
from portfolio.optimization.constraints import LimitCheck, check_all, constraints_from_config
from portfolio.data.holdings import Holdings
from portfolio.errors import DataError, InputError
from portfolio.analytics.exposure import ExposureReport, portfolio_exposure
from portfolio.analytics.metrics import (
    Drawdown,
    beta,
    effective_number_of_bets,
    hhi,
    historical_cvar,
    historical_var,
    max_drawdown,
    parametric_cvar,
    parametric_var,
    portfolio_volatility,
    risk_contributions,
    top_n_share,
    tracking_error,
)
from portfolio.estimate.returns import to_returns
from portfolio.jobs.market import (
    MIN_USABLE_OBSERVATIONS,
    DataOptions,
    MarketData,
    RiskInputs,
    estimate_inputs,
    hub_exposure,
    lookback_prices,
    market_data,
    theme_exposures,
)

__all__ = [
    "CONFIDENCE_LEVELS",
    "HORIZONS_DAYS",
    "OTHER_GROUP",
    "Concentration",
    "RiskContext",
    "RiskReport",
    "Valuation",
    "backcast_returns",
    "risk_context",
    "risk_report",
    "value_holdings",
]

CONFIDENCE_LEVELS = (0.95, 0.99)
"""Confidence levels of the VaR / CVaR table."""

HORIZONS_DAYS = (1, 10)
"""Horizons of the VaR / CVaR table, trading days."""

TOP_N = 5
OTHER_GROUP = "other"
"""Group label of names that belong to no group of the config."""

WEIGHT_SUM_TOLERANCE = 1e-6
"""Absolute tolerance on the sum of the weights (fractions, CASH included)."""

DEFAULT_DATA_OPTIONS = DataOptions()
"""Default price source: ``auto`` (cache refreshed from Yahoo, else bundled)."""

TailTable = Mapping[str, Mapping[str, Mapping[str, float]]]
"""``{"parametric"|"historical": {"95%"|"99%": {"1d"|"10d": loss}}}``."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Valuation:
    """Holdings valued at the as-of close.

    Attributes
    ----------
    values : pandas.Series
        USD value per held ticker (shares x price), in file order, no ``CASH``.
    cash : float
        Cash, USD.
    total : float
        Positions plus cash, USD (> 0).
    weights : pandas.Series
        Fraction of ``total`` per ticker plus ``"CASH"`` (last); sums to 1.
    prices : pandas.Series
        USD per share of each held ticker at the as-of date (NaN for a zero-share row
        without a price).
    """

    values: pd.Series
    cash: float
    total: float
    weights: pd.Series
    prices: pd.Series


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
    covariance: Any
    covariance_method: str
    as_of: pd.Timestamp
    data_source: str
    notice: str
    warnings: tuple[str, ...]

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


# --------------------------------------------------------------------------- valuation


def value_holdings(holdings: Holdings, prices_at_as_of: pd.Series) -> Valuation:
    """Value holdings at the as-of close.

    Parameters
    ----------
    holdings : Holdings
        Shares per ticker and cash (USD).
    prices_at_as_of : pandas.Series
        USD per share by ticker at the as-of date (a row of the price table; its ``name``
        is the date). Aligned by label; extra tickers are ignored.

    Returns
    -------
    Valuation

    Raises
    ------
    InputError
        If a ticker held with shares > 0 has no positive price at the as-of date, or the
        holdings are worth nothing.
    """
    date = _date_text(prices_at_as_of.name)
    tickers = list(holdings.tickers())
    shares = pd.Series(dict(holdings.shares), index=tickers, dtype=float)
    prices = pd.to_numeric(prices_at_as_of.reindex(tickers), errors="coerce").astype(float)
    priced = np.isfinite(prices.to_numpy()) & (prices.to_numpy() > 0)
    unpriced = [t for t, ok in zip(tickers, priced) if shares[t] > 0 and not ok]
    if unpriced:
        names = ", ".join(unpriced)
        raise InputError(
            f"no price for {names} on {date}",
            f"{holdings.source}, ticker {unpriced[0]}",
            f"a held ticker is valued at its close on the as-of date and the price data has "
            f"none for {names} on {date} (not yet listed then, or a gap in the data)",
            f"use a later --as-of date or remove the {names} row from {holdings.source}",
        )
    values = (shares * prices.where(priced, 0.0)).rename("value")
    total = float(values.sum()) + float(holdings.cash)
    if not total > 0:
        raise InputError(
            "the holdings are worth nothing",
            holdings.source,
            "every share count and the cash are zero, so weights are undefined",
            "add positions or a CASH row",
        )
    weights = pd.concat([values / total, pd.Series({CASH: holdings.cash / total})])
    return Valuation(
        values=values, cash=float(holdings.cash), total=total,
        weights=weights.rename("weight"), prices=prices.rename("price"),
    )


# --------------------------------------------------------------------------- back-cast


def backcast_returns(weights: pd.Series, returns: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Daily returns of constant weights applied to past returns (daily rebalancing).

    Parameters
    ----------
    weights : pandas.Series
        Fractions by ticker, may include ``"CASH"`` (return 0); non-negative.
    returns : pandas.DataFrame
        Dates x tickers, daily simple returns; NaN where a name has no return.

    Returns
    -------
    backcast : pandas.Series
        Daily portfolio returns (fractions). On each date the weights of held names
        without a return are spread pro rata over the held names with one (the risky
        weight and the cash weight stay constant). Dates on which no held name has a
        return are dropped; without risky weight the series is 0 on every date.
    renormalised_days : pandas.Series
        Per held name, the number of kept dates on which it had no return.

    Raises
    ------
    DataError
        If a held name has no column in ``returns``.
    """
    risky = weights.drop(CASH, errors="ignore").astype(float)
    risky = risky[risky != 0]
    missing = [t for t in risky.index if t not in returns.columns]
    if missing:
        raise DataError(
            f"no returns for {', '.join(missing)}", "back-cast",
            "every held name needs a return history", "load prices for these tickers",
        )
    if risky.empty:
        return pd.Series(0.0, index=returns.index, name="portfolio"), pd.Series(dtype=int)
    held = returns[list(risky.index)]
    available = held.notna()
    present_weight = available.astype(float).mul(risky, axis=1).sum(axis=1)
    kept = present_weight > 0
    scale = risky.sum() / present_weight[kept]
    daily = held[kept].fillna(0.0).mul(risky, axis=1).sum(axis=1) * scale
    renormalised = (~available[kept]).sum().astype(int).rename("renormalised_days")
    return daily.rename("portfolio"), renormalised


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class RiskContext:
    """What every risk report on one config and one market shares, estimated once.

    Attributes
    ----------
    config : Config
        The configuration (with the covariance method override applied).
    market : MarketData
        Prices up to the as-of date.
    closes : Series
        As-of closes (USD) by ticker.
    inputs : RiskInputs
        Covariance and returns of the names priced at the as-of date.
    daily : DataFrame
        Daily simple returns of the lookback (dates x tickers), for the back-cast.
    benchmark_returns : Series
        Daily returns of the benchmark over the lookback.
    hub_exposures : Series
        Look-through exposure (fraction of position value) of each ticker to the
        stress hub.
    limits : tuple
        The config's limit objects (theme caps included).
    exposure_cap : float or None
        The tightest theme cap on the stress hub.
    warnings : tuple of str
        The covariance warnings and the names left out of the risk model.
    """

    config: Config
    market: MarketData
    closes: pd.Series
    inputs: Any
    daily: pd.DataFrame
    benchmark_returns: pd.Series
    hub_exposures: pd.Series
    limits: tuple[Any, ...]
    exposure_cap: float | None
    warnings: tuple[str, ...]


def risk_context(
    config: Config | None = None,
    market: MarketData | None = None,
    options: DataOptions = DEFAULT_DATA_OPTIONS,
    covariance_method: str | None = None,
) -> RiskContext:
    """Estimate what :func:`risk_report` needs for any portfolio of ``config``'s universe.

    Pass the result as ``context=`` to report on several portfolios (before and after a
    rebalance) with one estimate. Parameters as for :func:`risk_report`.
    """
    config = config if config is not None else load_config()
    if covariance_method is not None:
        config = replace(config, risk=replace(config.risk, method=covariance_method))
    market = market if market is not None else market_data(config, options)
    closes = market.prices.loc[market.as_of]

    modelled = [t for t in config.tickers if t in closes.index and np.isfinite(closes[t])]
    warnings: list[str] = []
    left_out = [t for t in config.tickers if t not in modelled]
    if left_out:
        warnings.append(
            f"{', '.join(left_out)} {'has' if len(left_out) == 1 else 'have'} no price on "
            f"{_date_text(market.as_of)} and {'is' if len(left_out) == 1 else 'are'} left out "
            "of the risk model (not held)"
        )
    inputs = estimate_inputs(replace(config, tickers=tuple(modelled)), market)
    short = [t for t in modelled if t not in inputs.available]
    if short:
        warnings.append(
            f"{', '.join(short)} {'has' if len(short) == 1 else 'have'} fewer than "
            f"{MIN_USABLE_OBSERVATIONS} returns in the lookback and "
            f"{'is' if len(short) == 1 else 'are'} left out of the risk model (not held)"
        )
    daily = (
        inputs.returns if config.risk.frequency == "daily"
        else to_returns(lookback_prices(config, market), frequency="daily")
    )
    exposures = theme_exposures(config)
    hub = config.stress.hub
    hub_exposures = (
        pd.Series(dict(exposures[hub]), dtype=float) if hub in exposures
        else hub_exposure(config, hub, config.tickers)
    )
    caps = [spec.cap for spec in config.limits.theme_caps if spec.hub == hub]
    return RiskContext(
        config=config, market=market, closes=closes, inputs=inputs, daily=daily,
        benchmark_returns=_benchmark_returns(daily, config), hub_exposures=hub_exposures,
        limits=tuple(constraints_from_config(config, exposures=exposures)),
        exposure_cap=min(caps) if caps else None,
        warnings=(*inputs.covariance.warnings, *warnings),
    )


def risk_report(
    weights_or_holdings: Holdings | pd.Series | Mapping[str, float],
    *,
    config: Config | None = None,
    market: MarketData | None = None,
    options: DataOptions = DEFAULT_DATA_OPTIONS,
    covariance_method: str | None = None,
    context: RiskContext | None = None,
) -> RiskReport:
    """Risk of a portfolio: volatility, VaR/CVaR, drawdown, contributions, limits, exposure.

    Parameters
    ----------
    weights_or_holdings : Holdings, pandas.Series or mapping
        Holdings (valued at the as-of close), or weights as fractions by ticker, which
        may include ``"CASH"`` and must sum to 1 (within 1e-6), each in [0, 1].
    config : Config, optional
        Universe, groups, limits and risk settings (default: the packaged config).
    market : MarketData, optional
        Prices already loaded (``options`` is then ignored).
    options : DataOptions
        Price source and as-of date when ``market`` is not given.
    covariance_method : str, optional
        Overrides ``config.risk.method`` (sample, ledoit_wolf, oas, ewma, factor).
    context : RiskContext, optional
        From :func:`risk_context`: the estimates to reuse (``config``, ``market``,
        ``options`` and ``covariance_method`` are then ignored).

    Returns
    -------
    RiskReport
        Units and modelling choices in the module docstring.

    Raises
    ------
    InputError
        Weights that do not sum to 1, are negative or not finite; a ticker outside the
        universe; a held ticker without a price at the as-of date or with fewer than
        :data:`~portfolio.jobs.market.MIN_USABLE_OBSERVATIONS` returns in the lookback.
    DataError, ConfigError
        From loading prices and estimating the covariance.
    """
    if context is not None:
        config = context.config
    elif config is None:
        config = load_config()
    if isinstance(weights_or_holdings, Holdings):  # before any price is loaded
        config.check_known(weights_or_holdings.tickers(), weights_or_holdings.source)
    if context is None:
        context = risk_context(config, market, options, covariance_method)
    config, market, closes = context.config, context.market, context.closes

    valuation = None
    if isinstance(weights_or_holdings, Holdings):
        source = weights_or_holdings.source
        valuation = value_holdings(weights_or_holdings, closes)
        weights = valuation.weights
    else:
        source = "weights"
        weights = _checked_weights(weights_or_holdings, config)
    held = _held_names(weights)
    _check_priced(held, closes, market.as_of)
    _check_history(held, context.inputs, config.risk.frequency, source, market.as_of)
    estimate = context.inputs.covariance
    cov = estimate.matrix
    warnings = list(context.warnings)
    risky_weights = weights.reindex(cov.index).fillna(0.0)

    volatility = portfolio_volatility(risky_weights, cov)
    contributions = risk_contributions(risky_weights, cov)[held]
    shares = contributions / volatility if volatility > 0 else contributions * np.nan

    backcast, renormalised = backcast_returns(weights, context.daily)
    warnings += _backcast_notes(renormalised, context.daily, len(backcast))
    benchmark_returns = context.benchmark_returns

    var = _tail_table(parametric_var, historical_var, risky_weights, cov, backcast)
    cvar = _tail_table(parametric_cvar, historical_cvar, risky_weights, cov, backcast)
    total = valuation.total if valuation is not None else None

    reported = weights[[*held, CASH]].rename("weight")
    exposure = portfolio_exposure(reported, context.hub_exposures)
    limits = check_all(context.limits, weights, config.tickers)

    return RiskReport(
        weights=reported,
        valuation=valuation,
        volatility=volatility,
        var=var,
        cvar=cvar,
        var_usd=None if total is None else _scaled(var, total),
        cvar_usd=None if total is None else _scaled(cvar, total),
        max_drawdown=max_drawdown(backcast, kind="returns"),
        beta=beta(backcast, benchmark_returns),
        tracking_error=tracking_error(backcast, benchmark_returns, "daily"),
        benchmark=config.benchmark,
        correlation=_correlation(cov.loc[held, held]),
        risk_contributions=contributions.rename("risk_contribution"),
        risk_contributions_pct=shares.rename("risk_share"),
        group_risk=_group_risk(config, weights[held], contributions, volatility),
        concentration=_concentration(weights[held], risky_weights, cov, volatility),
        limits=limits,
        exposure=exposure,
        exposure_hub=config.stress.hub,
        exposure_cap=context.exposure_cap,
        backcast=backcast,
        covariance=estimate,
        covariance_method=config.risk.method,
        as_of=market.as_of,
        data_source=market.frame.source,
        notice=market.frame.notice,
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------- helpers


def _date_text(value: Any) -> str:
    try:
        return str(pd.Timestamp(value).date())
    except (TypeError, ValueError):
        return "the as-of date"


def _checked_weights(weights: pd.Series | Mapping[str, float], config: Config) -> pd.Series:
    """Validate weights (fractions, may include CASH, sum 1) and add CASH if absent."""
    if not isinstance(weights, pd.Series | Mapping):
        raise InputError(
            "weights have no tickers", "weights",
            "weights are aligned by ticker, never by position",
            "pass a mapping or a pandas Series indexed by ticker",
        )
    try:
        series = pd.Series(dict(weights) if isinstance(weights, Mapping) else weights, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            "weights are not numbers", "weights", "every weight must be a fraction",
            "pass numbers such as 0.25",
        ) from None
    series.index = [str(t) for t in series.index]
    duplicated = series.index[series.index.duplicated()]
    if len(duplicated):
        raise InputError(
            f"duplicate ticker {duplicated[0]} in the weights", "weights",
            "each ticker may appear once", "merge the duplicate weights",
        )
    config.check_known(series.index, "weights")
    for ticker, value in series.items():
        if not math.isfinite(value) or value < 0 or value > 1 + WEIGHT_SUM_TOLERANCE:
            raise InputError(
                f"invalid weight {value!r} for {ticker}", "weights",
                "weights are fractions between 0 and 1 (no short positions)",
                "write e.g. 0.25 for 25 %",
            )
    total = math.fsum(series.to_numpy())
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        cash = float(series.get(CASH, 0.0))
        raise InputError(
            f"weights sum to {total:.6g}, not 1", "weights",
            "the weights, CASH included, must sum to 1 (100 %)",
            f"set CASH to {cash + 1.0 - total:.6g}" if 0 <= cash + 1.0 - total <= 1
            else "scale the weights so that they sum to 1",
        )
    if CASH not in series.index:
        series[CASH] = 0.0
    return series


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
            f"no price for {names} on {_date_text(as_of)}", f"weights, ticker {unpriced[0]}",
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
            f"too little price history for {names} up to {_date_text(as_of)}",
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
            since = f"; first return {_date_text(first)}" if first is not None else ""
            notes.append(
                f"{ticker} has no return on {days} of the {kept} back-cast days{since}; on "
                "those days its weight is spread pro rata over the other held names"
            )
    dropped = len(daily) - kept
    if dropped:
        notes.append(f"{dropped} back-cast days without a return for any held name were dropped")
    return notes


def _benchmark_returns(daily: pd.DataFrame, config: Config) -> pd.Series:
    if config.benchmark not in daily.columns or daily[config.benchmark].notna().sum() < 2:
        raise DataError(
            f"no prices for the benchmark {config.benchmark}", config.source,
            "beta and tracking error need the benchmark's returns over the lookback",
            "choose a benchmark with prices (universe.benchmark)",
        )
    return daily[config.benchmark].dropna()


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


def _group_risk(config: Config, weights: pd.Series, contributions: pd.Series,
                volatility: float) -> pd.DataFrame:
    membership = {t: config.group_of(t) or OTHER_GROUP for t in weights.index}
    groups = list(config.groups)
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

