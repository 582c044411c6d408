"""The risk report of a config's portfolio: ``portfolio risk``.

:func:`risk_context` estimates once what every report on one config and one market shares
(a :class:`~portfolio.analytics.risk.RiskModel`: the optimiser's covariance over the names
priced at the as-of date, the daily returns of the back-cast, the limits, the look-through
exposures, the daily returns of every date loaded for the VaR backtest);
:func:`risk_report` values holdings (or checks weights) and measures them with
:func:`portfolio.analytics.risk.measure_risk`, and with a ``horizon`` adds the Monte Carlo
loss distribution (:mod:`portfolio.analytics.bootstrap`) of the same long back-cast. Units
and modelling choices are described in :mod:`portfolio.analytics.risk`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from portfolio.analytics.backcast import history_backcast
from portfolio.analytics.bootstrap import loss_distribution
from portfolio.analytics.inputs import parse_horizon
from portfolio.analytics.risk import RiskModel, RiskReport, measure_risk
from portfolio.analytics.valuation import date_text, value_holdings
from portfolio.config import Config, load_config
from portfolio.data.holdings import Holdings
from portfolio.errors import DataError
from portfolio.estimate.inputs import MIN_USABLE_OBSERVATIONS
from portfolio.estimate.returns import to_returns
from portfolio.jobs.limits import constraints_from_config, hub_exposure, theme_exposures
from portfolio.jobs.market import DataOptions, MarketData, lookback_prices, market_data
from portfolio.jobs.optimize import config_inputs
from portfolio.weights import check_known, parse_weights

__all__ = ["risk_context", "risk_report"]

DEFAULT_DATA_OPTIONS = DataOptions()
"""Default price source: ``auto`` (cache refreshed from Yahoo, else bundled)."""


def risk_context(
    config: Config | None = None,
    market: MarketData | None = None,
    options: DataOptions = DEFAULT_DATA_OPTIONS,
    covariance_method: str | None = None,
) -> RiskModel:
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
    left_out = [t for t in config.tickers if t not in modelled]
    inputs = config_inputs(replace(config, tickers=tuple(modelled)), market)
    short = [t for t in modelled if t not in inputs.available]
    warnings = [
        f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} {why} and "
        f"{'is' if len(names) == 1 else 'are'} left out of the risk model (not held)"
        for names, why in (
            (left_out, f"no price on {date_text(market.as_of)}"),
            (short, f"fewer than {MIN_USABLE_OBSERVATIONS} returns in the lookback"),
        ) if names
    ]
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
    return RiskModel(
        tickers=config.tickers, groups=config.groups, benchmark=config.benchmark,
        closes=closes, inputs=inputs, daily=daily,
        benchmark_returns=_benchmark_returns(daily, config), hub=hub,
        hub_exposures=hub_exposures,
        limits=tuple(constraints_from_config(config, exposures=exposures)),
        exposure_cap=min(caps) if caps else None, covariance_method=config.risk.method,
        frequency=config.risk.frequency, as_of=market.as_of,
        data_source=market.frame.source, notice=market.frame.notice,
        warnings=(*inputs.covariance.warnings, *warnings),
        history=to_returns(market.prices, frequency="daily"),
    )


def risk_report(
    weights_or_holdings: Holdings | pd.Series | Mapping[str, float],
    *,
    config: Config | None = None,
    market: MarketData | None = None,
    options: DataOptions = DEFAULT_DATA_OPTIONS,
    covariance_method: str | None = None,
    context: RiskModel | None = None,
    horizon: str | int | None = None,
    paths: int = 10_000,
    seed: int = 0,
    drift: str = "zero",
) -> RiskReport:
    """Risk of a portfolio: volatility, VaR/CVaR, drawdown, contributions, limits, exposure.

    Also the VaR backtest over the history and, with ``horizon``, the Monte Carlo loss
    distribution.

    Parameters
    ----------
    weights_or_holdings : Holdings, pandas.Series or mapping
        Holdings (valued at the as-of close), or weights as fractions by ticker under the
        implicit-cash rule of :func:`portfolio.weights.parse_weights` (with ``CASH`` they
        sum to 1; without, to at most 1 and the rest is cash).
    config : Config, optional
        Universe, groups, limits and risk settings (default: the packaged config).
    market : MarketData, optional
        Prices already loaded (``options`` is then ignored).
    options : DataOptions
        Price source and as-of date when ``market`` is not given.
    covariance_method : str, optional
        Overrides ``config.risk.method`` (sample, ledoit_wolf, oas, ewma, factor).
    context : RiskModel, optional
        From :func:`risk_context`: the estimates to reuse (``config``, ``market``,
        ``options`` and ``covariance_method`` are then ignored).
    horizon : str or int, optional
        ``"1m"``, ``"1y"`` or trading days: adds ``loss_distribution``, a stationary block
        bootstrap of today's weights over the history
        (:func:`portfolio.analytics.bootstrap.loss_distribution`, mean block 21 days).
    paths, seed : int
        Monte Carlo paths and the seed (same seed, same numbers).
    drift : {"zero", "sample"}
        Demean the history first (default), or keep its mean return.

    Returns
    -------
    RiskReport
        Units and modelling choices in :mod:`portfolio.analytics.risk`.

    Raises
    ------
    InputError
        Weights outside [0, 1] or summing to more than 1; a ticker outside the universe;
        a held ticker without a price at the as-of date or with fewer than
        :data:`~portfolio.estimate.inputs.MIN_USABLE_OBSERVATIONS` returns in the lookback;
        a bad horizon, number of paths or drift.
    DataError, ConfigError
        From loading prices and estimating the covariance.
    """
    days = None if horizon is None else parse_horizon(horizon)
    if context is None:
        config = config if config is not None else load_config()
    universe = context.tickers if context is not None else config.tickers
    described = "the configured universe" + (f" ({config.source})" if context is None else "")
    if isinstance(weights_or_holdings, Holdings):  # before any price is loaded
        source = weights_or_holdings.source
        check_known(weights_or_holdings.tickers(), universe, source, described)
    else:
        source = "weights"
        weights = parse_weights(weights_or_holdings, universe=universe,
                                universe_source=described)
    if context is None:
        context = risk_context(config, market, options, covariance_method)
    valuation = None
    if isinstance(weights_or_holdings, Holdings):
        valuation = value_holdings(weights_or_holdings, context.closes)
        weights = valuation.weights
    report = measure_risk(weights, context, valuation=valuation, source=source)
    if days is None:
        return report
    history = context.history if context.history is not None else context.daily
    backcast, _ = history_backcast(report.weights, history)
    simulated = loss_distribution(backcast, days, paths=paths, seed=seed, drift=drift)
    return replace(report, loss_distribution=simulated)


def _benchmark_returns(daily: pd.DataFrame, config: Config) -> pd.Series:
    if config.benchmark not in daily.columns or daily[config.benchmark].notna().sum() < 2:
        raise DataError(
            f"no prices for the benchmark {config.benchmark}", config.source,
            "beta and tracking error need the benchmark's returns over the lookback",
            "choose a benchmark with prices (universe.benchmark)",
        )
    return daily[config.benchmark].dropna()
