"""The charts of a backtest's ``report.html`` (the tearsheet), from a :class:`BacktestResult`.

Every strategy and benchmark keeps one colour in every chart (strategies in the config's
order, benchmarks by ticker); tickers and groups use their fixed colours.
"""

from __future__ import annotations

import pandas as pd

from portfolio.backtesting.results import BacktestResult, equity_returns
from portfolio.report import Chart
from portfolio.report.charts import (
    distribution_chart,
    equity_chart,
    group_colours,
    group_weights,
    grouped_bars,
    monthly_heatmap,
    rolling_chart,
    stacked_area,
    underwater_chart,
)
from portfolio.report.palette import strategy_colours

__all__ = ["backtest_charts", "daily_returns"]


def daily_returns(result: BacktestResult) -> pd.DataFrame:
    """Daily simple returns of every strategy and benchmark (dates x series, fractions)."""
    capital = result.config.initial_capital
    equity = result.equity
    return pd.DataFrame({name: equity_returns(equity[name].dropna(), capital)
                         for name in equity.columns})


def backtest_charts(result: BacktestResult) -> tuple[Chart, ...]:
    """The tearsheet's charts, strategies and benchmarks in fixed colours.

    Equity, underwater, yearly returns, rolling risk, distribution, then per strategy a
    monthly calendar, weights and group exposure over time.
    """
    strategies = list(result.strategies)
    benchmarks = list(result.benchmarks.columns)
    colours = strategy_colours(strategies, benchmarks)
    equity = result.equity
    returns = daily_returns(result)
    yearly = (1.0 + returns.fillna(0.0)).groupby(returns.index.year).prod() - 1.0
    partial = " (first and last years partial)" if len(yearly) > 1 else ""
    market = returns[benchmarks[0]] if benchmarks else None
    charts = [
        equity_chart(equity, colours, dashed=benchmarks),
        underwater_chart(equity, colours, dashed=benchmarks),
        grouped_bars(yearly, colours, "Calendar-year returns", note="Each year's total return"
                     f"{partial}."),
        rolling_chart(returns[strategies], market, colours),
        distribution_chart({name: returns[name] for name in strategies}, colours,
                           "Daily returns, with the historical VaR and CVaR"),
    ]
    universe = list(result.config.base.tickers)
    groups = result.config.base.groups
    for name, strategy in result.strategies.items():
        charts.append(monthly_heatmap(strategy.returns, f"{name}: monthly returns"))
        charts.append(stacked_area(strategy.daily_weights, f"{name}: weights at each close",
                                   universe=universe))
        by_group = group_weights(strategy.daily_weights, groups)
        charts.append(stacked_area(by_group, f"{name}: exposure by group",
                                   colours=group_colours(list(by_group.columns)),
                                   universe=[*groups, "other"]))
    return tuple(charts)
