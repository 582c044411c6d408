"""Stress tests of a config's portfolio: ``portfolio stress``.

Wiring of the scenarios of :mod:`portfolio.analytics.stress` to a config: the hub failure
of ``[stress]`` through the config's deal graph and betas to its benchmark, the historical
replays the prices cover, and the config's custom shocks, on holdings valued at the as-of
close.
"""

from __future__ import annotations

import pandas as pd

from portfolio.analytics.stress import (
    ALL,
    REPLAY_WINDOWS,
    ReplayWindow,
    ScenarioResult,
    StressReport,
    custom_scenario,
    daily_betas,
    hub_failure_scenario,
    hub_scenario_name,
    replay_scenario,
    window_dates,
)
from portfolio.analytics.valuation import value_holdings
from portfolio.config import Config, load_config
from portfolio.data.holdings import Holdings
from portfolio.errors import ConfigError, InputError, did_you_mean
from portfolio.jobs.limits import hub_exposure
from portfolio.jobs.market import DataOptions, MarketData, market_data

__all__ = ["scenario_names", "stress_test"]


def scenario_names(config: Config) -> tuple[str, ...]:
    """Names of every scenario a config defines: hub failure, replays, custom ones.

    Raises
    ------
    ConfigError
        A custom scenario reuses a built-in name, another custom name, or ``all``.
    """
    builtin = (hub_scenario_name(config.stress.hub), *(w.name for w in REPLAY_WINDOWS))
    names = list(builtin)
    for custom in config.stress.custom:
        if custom.name in names or custom.name == ALL:
            raise ConfigError(
                f"duplicate scenario name '{custom.name}'",
                f"{config.source}, key stress.custom",
                f"the names {', '.join((ALL, *names))} are taken",
                "rename the custom scenario",
            )
        names.append(custom.name)
    return tuple(names)


def stress_test(
    holdings: Holdings,
    *,
    config: Config | None = None,
    scenario: str = ALL,
    market: MarketData | None = None,
    options: DataOptions = DataOptions(),  # noqa: B008 (frozen, so a safe default)
) -> StressReport:
    """Run the config's stress scenarios on holdings valued at the as-of close.

    Parameters
    ----------
    holdings : Holdings
        Shares per ticker and cash (USD).
    config : Config, optional
        Benchmark, groups, lookback, deal graph and ``[stress]`` settings; default the
        packaged configuration.
    scenario : str
        ``"all"`` or one name of :func:`scenario_names`.
    market : MarketData, optional
        Prices already loaded (must include the holdings and the benchmark; a replay
        proxies an unlisted holding by the first of ``stress.proxies`` it holds).
    options : DataOptions
        Price source when ``market`` is not given.

    Returns
    -------
    StressReport
        With ``scenario="all"``, replays whose window the prices do not cover (a late
        ``data.start``, an early ``--as-of``) are skipped and named in ``notice``.

    Raises
    ------
    InputError
        Unknown scenario (with the valid names), a holding without prices, or a portfolio
        worth nothing.
    DataError
        A named replay outside the prices, or too little history for a beta.
    ConfigError
        Unknown hub, bad custom scenarios.
    """
    config = config or load_config()
    names = scenario_names(config)
    selected = _select(names, scenario)
    market = market or market_data(config, options, extra=config.stress.proxies)
    prices = market.prices
    valuation = value_holdings(holdings, prices.iloc[-1])
    values, cash, total = valuation.values, valuation.cash, valuation.total
    results: list[ScenarioResult] = []
    skipped: list[str] = []
    if hub_scenario_name(config.stress.hub) in selected:
        results.append(_hub_failure(values, cash, config, prices))
    for window in REPLAY_WINDOWS:
        if window.name not in selected:
            continue
        if scenario == ALL and not _covers(prices.index, window):
            skipped.append(window.name)
            continue
        results.append(replay_scenario(values, window, prices, cash=cash,
                                       proxy=config.stress.proxies))
    for custom in config.stress.custom:
        if custom.name in selected:
            results.append(custom_scenario(values, custom, config.groups, cash=cash))
    notice = market.frame.notice
    if skipped:
        notice += (
            f"; skipped {', '.join(skipped)}: the prices "
            f"({prices.index[0].date()} .. {prices.index[-1].date()}) do not cover their windows"
        )
    return StressReport(
        scenarios=tuple(sorted(results, key=lambda r: (r.pnl, r.name))),
        total_value=total,
        as_of=market.as_of,
        data_source=market.frame.source,
        notice=notice,
    )


def _hub_failure(
    values: pd.Series, cash: float, config: Config, prices: pd.DataFrame
) -> ScenarioResult:
    settings = config.stress
    exposures = hub_exposure(config, settings.hub, values.index)
    wanted = dict.fromkeys([*values.index, config.benchmark])
    columns = [t for t in wanted if t in prices.columns]  # daily_betas names a missing one
    betas = daily_betas(prices[columns], config.benchmark, lookback_days=config.risk.lookback_days)
    return hub_failure_scenario(
        values,
        exposures,
        betas,
        hub=settings.hub,
        severity=settings.hub_severity,
        market_shock=settings.market_shock,
        cash=cash,
        benchmark=config.benchmark,
    )


def _select(names: tuple[str, ...], scenario: str) -> tuple[str, ...]:
    if scenario == ALL:
        return names
    if scenario in names:
        return (scenario,)
    raise InputError(
        f"unknown scenario '{scenario}'",
        "scenario",
        f"valid names are {ALL}, {', '.join(names)}",
        did_you_mean(scenario, (ALL, *names)) or f"use {ALL} or one of the names",
    )


def _covers(index: pd.Index, window: ReplayWindow) -> bool:
    first, last = window_dates(window.start, window.end)
    return bool(len(index)) and index[0] <= first and last <= index[-1]
