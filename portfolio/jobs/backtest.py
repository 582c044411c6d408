"""Backtest a config: ``portfolio backtest CONFIG`` and :func:`portfolio.backtest`.

Loads the prices the backtest file needs, builds the strategies its ``[[strategies]]``
describe from the base config (objective with the config's options, the limit set of
``use_limits``, estimates shared across strategies) and runs them, with any strategy
objects the caller adds, through :func:`portfolio.backtesting.engine.simulate`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from portfolio.backtesting.engine import simulate
from portfolio.backtesting.results import BacktestResult
from portfolio.backtesting.spec import BacktestConfig, StrategySpec, load_backtest
from portfolio.backtesting.strategies import (
    BuyAndHold,
    EqualWeight,
    OptimizedStrategy,
    Strategy,
    WindowEstimates,
)
from portfolio.config import Config
from portfolio.data.fx import exchange_of
from portfolio.data.prices import PriceFrame, load_prices
from portfolio.errors import DataError
from portfolio.jobs.limits import caps_and_cash_floor, constraints_from_config, theme_exposures
from portfolio.jobs.market import DataOptions, MarketData
from portfolio.jobs.optimize import objective_data, objective_for, return_settings
from portfolio.jobs.workers import ForkedWorkers
from portfolio.optimization.problem import PortfolioProblem

__all__ = ["backtest", "backtest_prices", "builtin_strategies"]


def backtest(
    config_or_path: BacktestConfig | str | Path,
    *,
    options: DataOptions | None = None,
    market: MarketData | PriceFrame | pd.DataFrame | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    strategies: Sequence[Strategy] = (),
    workers: ForkedWorkers | None = None,
) -> BacktestResult:
    """Run every strategy of a backtest config walk-forward on the same prices.

    Parameters
    ----------
    config_or_path : BacktestConfig or path
        A validated config or the path of a backtest TOML file.
    options : DataOptions, optional
        Price source (default ``DataOptions()``: auto); ``as_of`` caps the end. The
        source is ignored when ``market`` is given.
    market : MarketData, PriceFrame or DataFrame, optional
        Prices already loaded (dates x tickers, USD; NaN before a listing). Must hold
        the universe and the benchmarks; risk factors are used when present.
    on_progress : callable, optional
        ``on_progress(done, total)`` in trading days simulated.
    strategies : sequence of Strategy
        Your own strategy objects (:class:`portfolio.backtesting.strategies.Strategy`),
        run after the config's, on the same prices and costs.
    workers : ForkedWorkers, optional
        Worker processes (:func:`portfolio.jobs.workers.worker_processes`): the first
        estimates the next decision dates while the strategies solve the current one.
        The result is the same without them.

    Returns
    -------
    BacktestResult

    Raises
    ------
    ConfigError
        Invalid config.
    InputError
        An object that is not a strategy, a repeated name, a strategy breaking the
        protocol.
    DataError
        Missing prices, or not enough history for the lookback anywhere in the data.
    """
    options = options or DataOptions()
    config = (config_or_path if isinstance(config_or_path, BacktestConfig)
              else load_backtest(config_or_path))
    frame = backtest_prices(config.market_tickers, config.end,
                            config.base.data.max_fill_days, options, market,
                            timeout=options.timeout_for(config.base))
    runs = [*builtin_strategies(config), *((strategy, "custom") for strategy in strategies)]
    result = simulate(config, frame, runs, on_progress=on_progress,
                      ahead=None if workers is None else workers.ahead)
    notes = [line for strategy, _ in runs if isinstance(strategy, OptimizedStrategy)
             for line in strategy.notes()]
    return replace(result, notes=(*result.notes, *notes)) if notes else result


def builtin_strategies(
    config: BacktestConfig, *, exposures: Mapping[str, Mapping[str, float]] | None = None
) -> list[tuple[Strategy, str]]:
    """The strategies of ``[[strategies]]`` with their kinds, estimates shared among them.

    ``exposures`` (hub -> ticker -> look-through exposure, from
    :func:`portfolio.jobs.limits.theme_exposures`) saves reading the deal graph again;
    by default it is read when a strategy uses every limit.
    """
    base = config.base
    estimates = WindowEstimates(base.risk, config.lookback_days,
                                {t: exchange_of(t) for t in config.market_tickers})
    if exposures is None and any(spec.use_limits not in ("none", "caps")
                                 for spec in config.strategies):
        exposures = theme_exposures(base)  # read once for every strategy that uses them
    return [(_builtin(spec, base, estimates, exposures), spec.kind)
            for spec in config.strategies]


def _builtin(spec: StrategySpec, base: Config, estimates: WindowEstimates,
             exposures: Mapping[str, Mapping[str, float]] | None) -> Strategy:
    if spec.kind == "buy_and_hold":
        return BuyAndHold(spec.name)
    if spec.kind == "equal_weight":
        return EqualWeight(spec.name)
    objective = objective_for(base, spec.objective)
    problem = PortfolioProblem(base.tickers, objective,
                               _limit_objects(base, spec.use_limits, exposures),
                               solver=base.optimizer.solver)
    return OptimizedStrategy(
        spec.name, problem, estimates, spec.covariance,
        (replace(return_settings(base), method=spec.expected_returns)
         if objective.needs_expected_returns else None),
        functools.partial(objective_data, base, objective),
    )


def _limit_objects(base: Config, use_limits: str,
                   exposures: Mapping[str, Mapping[str, float]] | None) -> tuple[Any, ...]:
    if use_limits == "none":
        return ()
    if use_limits == "caps":
        return caps_and_cash_floor(base)
    return constraints_from_config(base, exposures=exposures)


def backtest_prices(
    tickers: Sequence[str],
    end: str | None,
    max_fill_days: int,
    options: DataOptions,
    market: MarketData | PriceFrame | pd.DataFrame | None = None,
    timeout: float | None = None,
) -> PriceFrame:
    """The prices of a backtest (or a sweep): loaded once, or the caller's, up to ``as_of``.

    Parameters
    ----------
    tickers : sequence of str
        Universe, benchmarks and factors to load.
    end : str or None
        Last date needed (ISO); None = the latest.
    max_fill_days : int
        Sessions a missing price may be carried over.
    options : DataOptions
        Source and ``as_of`` (which also caps prices the caller gives).
    market : MarketData, PriceFrame or DataFrame, optional
        Prices already loaded (dates x tickers, USD).
    timeout : float, optional
        Network budget in seconds (``DataOptions.timeout_for`` the base config).

    Returns
    -------
    PriceFrame

    Raises
    ------
    DataError
        Prices that cannot be loaded, or an unsupported ``market``.
    """
    if market is None:
        end = min(filter(None, (end, options.as_of)), default=None)
        return load_prices(
            list(tickers), end=end, source=options.source, cache_dir=options.cache_dir,
            offline=options.offline, max_fill_days=max_fill_days, timeout=timeout,
            on_fetch=options.on_fetch,
        )
    if isinstance(market, MarketData):
        frame = market.frame
    elif isinstance(market, PriceFrame):
        frame = market
    elif isinstance(market, pd.DataFrame):
        last = market.index[-1].date() if len(market) else "?"
        frame = PriceFrame(market, "given", f"Data: prices given by the caller up to {last}")
    else:
        raise DataError("unsupported market data", "backtest(market=...)",
                        f"got {type(market).__name__}",
                        "pass MarketData, a PriceFrame or a DataFrame")
    if options.as_of is not None:
        frame = PriceFrame(frame.prices.loc[: pd.Timestamp(options.as_of)], frame.source,
                           frame.notice, frame.converted)
    return frame
