"""The walk-forward engine: every strategy stepped through the same trading days.

:func:`simulate` runs strategies (:mod:`portfolio.backtesting.strategies`) on the prices of
a :class:`~portfolio.backtesting.spec.BacktestConfig` and returns an immutable
:class:`~portfolio.backtesting.results.BacktestResult`.

Time only moves forward (DESIGN principle 8)
--------------------------------------------
* Rebalance dates come from :func:`walk_forward_dates`: the first trading day of the
  backtest (inception), then the first trading day of every week, month or quarter.
* At a rebalance date ``t`` a strategy receives a
  :class:`~portfolio.backtesting.market.PastView`: copies of the prices and returns
  **strictly before** ``t`` (asking for later data raises), the names *available* at ``t``
  (at least ``min_history_days`` prices before ``t`` and a price at ``t`` -- never before
  a listing) and the cash rate known at ``t``.
* Trades execute at the close of ``t``. Between rebalances positions drift with prices.
* ``rebalance = "drift"`` checks every trading day ``t`` the weights held at the close of
  the previous day against the last target (``drift_threshold``, the largest
  ``|w - target|`` incl. cash) and against the strategy's own limit objects (their
  ``check``, with ``limit_tolerance`` of slack so a name sitting at its cap does not
  trade on every up-tick); it rebalances at the close of ``t`` only when one is exceeded.

Money
-----
* Fractional shares: a position is a USD amount; the trades' ``shares`` column is the
  notional divided by the close (not rounded).
* Costs: ``max(min_fee, cost_bps / 10_000 * |notional|)`` for every name traded, paid
  out of the portfolio: trade sizes are computed on the value net of costs, so the
  post-trade weights equal the target and the value falls by exactly the costs charged
  (the rounding rest of the fixed point sits in cash, below 1e-9 USD).
* Cash earns the T-bill yield: each trading day ``(1 + IRX / 100) ** (1 / 252) - 1`` of
  the previous day (``cash_yield = "tbill"``, the bundled 13-week rate), or
  ``(1 + cash_yield) ** (1 / 252) - 1`` for a fixed annual number. Sharpe and Sortino
  are measured in excess of the same per-day rate (:mod:`portfolio.analytics.metrics` de-compounds
  it the same way), so cash alone has zero excess return.

A failed decision (infeasible limits, solver failure, unusable data at that date) keeps
the positions as they are and is recorded in
:attr:`~portfolio.backtesting.results.StrategyResult.failures`; a strategy that breaks the
protocol (weights on a name not available, asking for future data) stops the run.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from portfolio.backtesting.market import Market, PastView, build_market, checked_prices
from portfolio.backtesting.results import (
    TRADING_DAYS,
    BacktestResult,
    RebalanceFailure,
    StrategyResult,
    equity_returns,
    performance_metrics,
)
from portfolio.backtesting.spec import BacktestConfig, check_strategy_names
from portfolio.backtesting.splits import walk_forward_dates
from portfolio.backtesting.strategies import AheadMap, Strategy, Target
from portfolio.data.prices import PriceFrame
from portfolio.errors import DataError, InfeasibleError, InputError, SolverError
from portfolio.optimization.constraints import check_all
from portfolio.weights import CASH, aligned_weight_vector, parse_weights

__all__ = ["config_notes", "frame_hash", "hindsight_note", "package_versions",
           "short_period_warning", "simulate"]


class _Views:
    """One :class:`PastView` per decision row, made when first asked and shared."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self._row = -1
        self._view: PastView | None = None

    def at(self, row: int) -> PastView:
        if row != self._row:
            self._row, self._view = row, PastView.at(self.market, row)
        return self._view


TRADE_TOLERANCE = 1e-9  # trades below this fraction of the portfolio are not made


def _trade(
    values: np.ndarray, cash: float, weights: np.ndarray, cost_bps: float, min_fee: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Trade to ``weights`` of the value net of costs; return values, cash, notional, fees."""
    total = float(values.sum() + cash)
    rate = cost_bps / 1e4
    tiny = TRADE_TOLERANCE * max(abs(total), 1.0)

    def fees_of(notional: np.ndarray) -> np.ndarray:
        traded = np.abs(notional) > tiny
        return np.where(traded, np.maximum(min_fee, rate * np.abs(notional)), 0.0)

    cost = 0.0
    for _ in range(100):
        new_cost = float(fees_of(weights * (total - cost) - values).sum())
        if abs(new_cost - cost) <= 1e-12 * max(total, 1.0):
            cost = new_cost
            break
        cost = new_cost
    if cost >= total:
        raise DataError("trading costs exceed the portfolio value", "backtest",
                        f"{cost:.2f} USD of costs on {total:.2f} USD",
                        "lower min_fee or raise initial_capital")
    target_values = weights * (total - cost)
    notional = np.where(np.abs(target_values - values) > tiny, target_values - values, 0.0)
    new_values = values + notional
    fees = fees_of(notional)
    new_cash = total - float(fees.sum()) - float(new_values.sum())
    return new_values, new_cash, notional, fees


def _drift_trigger(
    held: np.ndarray, target: np.ndarray | None, limits: Sequence[Any], tickers: Sequence[str],
    threshold: float, tolerance: float,
) -> str | None:
    """Why the weights held at the previous close call for a rebalance, or None."""
    if target is None:
        return "retry (no target yet)"
    gaps = np.abs(held - target)
    worst = int(np.argmax(gaps))
    if gaps[worst] > threshold:
        label = [*tickers, CASH][worst]
        return f"drift {label} {gaps[worst]:.4f} > {threshold:g}"
    if limits:
        weights = pd.Series(held, index=[*tickers, CASH])
        breached = [row.name for row in check_all(limits, weights, tickers, tol=tolerance)
                    if not row.ok]
        if breached:
            return "limit " + ", ".join(breached)
    return None


class _Book:
    """One strategy's positions, stepped one trading day at a time.

    All strategies step through the same day together, so that day's estimates are
    computed once and shared.
    """

    def __init__(self, strategy: Strategy, kind: str, config: BacktestConfig, market: Market,
                 first: int, last: int, views: _Views) -> None:
        self.strategy, self.kind, self.config, self.market = strategy, kind, config, market
        self.views = views
        self.first, self.last = first, last
        self.tickers = list(market.tickers)
        self.columns = [*self.tickers, CASH]
        days = last - first + 1
        self.values = np.zeros(len(self.tickers))
        self.cash = float(config.initial_capital)
        self.equity = np.empty(days)
        self.daily = np.empty((days, len(self.columns)))
        self.target: np.ndarray | None = None
        self.weight_rows: dict[pd.Timestamp, np.ndarray] = {}
        self.trade_rows: list[tuple] = []
        self.turnover: dict[pd.Timestamp, float] = {}
        self.costs: dict[pd.Timestamp, float] = {}
        self.reasons: dict[pd.Timestamp, str] = {}
        self.failures: list[RebalanceFailure] = []
        self.solvers: Counter[str] = Counter()

    def _reason(self, j: int, scheduled: bool) -> str | None:
        if j == 0:
            return "inception"
        if not self.strategy.rebalances:
            return None
        if self.config.rebalance != "drift":
            return "schedule" if scheduled else None
        return _drift_trigger(self.daily[j - 1], self.target, self.strategy.limits, self.tickers,
                              self.config.drift_threshold, self.config.limit_tolerance)

    def step(self, j: int, scheduled: bool) -> None:
        """Drift to the close of day ``first + j``, rebalance if due, record the close."""
        market, i = self.market, self.first + j
        if j:
            self.values = self.values * market.growth[i]
            self.cash = self.cash * market.cash_growth[i]
        reason = self._reason(j, scheduled)
        if reason is not None:
            date = market.dates[i]
            try:
                weights, solver = self._decide(i)
            except (InfeasibleError, SolverError, DataError) as error:
                self.failures.append(RebalanceFailure(date, error.message))
            else:
                if solver:
                    self.solvers[solver] += 1
                self._execute(i, date, weights, reason)
        total = float(self.values.sum() + self.cash)
        self.equity[j] = total
        self.daily[j, :-1] = self.values / total
        self.daily[j, -1] = self.cash / total

    def _decide(self, i: int) -> tuple[np.ndarray, str]:
        """The strategy's target at row ``i`` as risky weights in universe order, and solver."""
        view = self.views.at(i)
        decision = self.strategy.target(view)
        weights, solver = ((decision.weights, decision.solver) if isinstance(decision, Target)
                           else (decision, ""))
        where = f"strategy {self.strategy.name!r} on {view.date.date()}"
        vector = aligned_weight_vector(weights, self.tickers)
        if vector is None:
            parsed = parse_weights(weights, universe=self.tickers, what="target weights",
                                   where=where)
            vector = parsed.reindex(self.tickers).fillna(0.0).to_numpy()
        unavailable = [t for t, w, ok in zip(self.tickers, vector, self.market.available[i])
                       if w > 0 and not ok]
        if unavailable:
            raise InputError(
                f"weights on names not available: {', '.join(unavailable)}", where,
                "a name may be held once it has min_history_days prices and a price that "
                "day", "give those names 0 (PastView.available lists the names allowed)",
            )
        return vector, solver

    def drift(self, start: int, stop: int) -> None:
        """Days ``first + start .. first + stop - 1`` without a rebalance, in one pass.

        The same products as :meth:`step` day by day (a running product starting from
        today's positions), so the values are identical; only the Python loop is gone.
        """
        market, i = self.market, self.first + start
        values = np.cumprod(np.vstack([self.values, market.growth[i: i + stop - start]]), axis=0)
        cash = np.cumprod(np.append(self.cash, market.cash_growth[i: i + stop - start]))
        values, cash = values[1:], cash[1:]
        totals = values.sum(axis=1) + cash
        self.equity[start:stop] = totals
        self.daily[start:stop, :-1] = values / totals[:, None]
        self.daily[start:stop, -1] = cash / totals
        self.values, self.cash = values[-1].copy(), float(cash[-1])

    def _execute(self, i: int, date: pd.Timestamp, weights: np.ndarray, reason: str) -> None:
        before = float(self.values.sum() + self.cash)
        old_cash = self.cash
        self.values, self.cash, notional, fees = _trade(
            self.values, self.cash, weights, self.config.cost_bps, self.config.min_fee)
        after = float(self.values.sum() + self.cash)
        self.target = np.append(self.values, self.cash) / after
        self.weight_rows[date] = self.target
        self.turnover[date] = 0.5 * (np.abs(notional).sum() + abs(self.cash - old_cash)) / before
        self.costs[date] = float(fees.sum())
        self.reasons[date] = reason
        prices = self.market.close[i]
        for k in np.flatnonzero(notional):
            self.trade_rows.append((date, self.tickers[k], "buy" if notional[k] > 0 else "sell",
                                    notional[k] / prices[k], prices[k], abs(notional[k]), fees[k]))

    def result(self, benchmark_returns: pd.Series) -> StrategyResult:
        """The immutable result after the last day."""
        config, name = self.config, self.strategy.name
        dates = self.market.dates[self.first: self.last + 1]
        equity = pd.Series(self.equity, index=dates, name=name)
        turnover = pd.Series(self.turnover, dtype=float, name="turnover")
        costs = pd.Series(self.costs, dtype=float, name="costs")
        metrics = performance_metrics(
            equity, config.initial_capital, self.market.cash_rate.loc[dates], benchmark_returns,
            turnover=turnover, costs=costs, failures=len(self.failures),
        )
        trades = pd.DataFrame(self.trade_rows, columns=["date", "ticker", "side", "shares",
                                                        "price", "notional", "cost"])
        weights = pd.DataFrame.from_dict(self.weight_rows, orient="index", columns=self.columns)
        weights.index.name = "date"
        return StrategyResult(
            name=name, kind=self.kind, equity=equity,
            returns=equity_returns(equity, config.initial_capital),
            weights=weights, daily_weights=pd.DataFrame(self.daily, index=dates,
                                                        columns=self.columns),
            trades=trades, turnover=turnover, costs=costs,
            reasons=pd.Series(self.reasons, dtype=object, name="reason"),
            failures=tuple(self.failures), solvers=MappingProxyType(dict(self.solvers)),
            metrics=metrics,
        )


def config_notes(config: BacktestConfig) -> list[str]:
    """What the engine tells the user about base-config settings backtests do not apply."""
    notes = []
    uses_all = any(s.use_limits == "all" for s in config.strategies)
    if uses_all and config.base.limits.max_turnover is not None:
        notes.append("limits.max_turnover of the base config is not applied in backtests.")
    if uses_all and config.base.optimizer.transaction_cost_bps:
        notes.append("optimizer.transaction_cost_bps of the base config is not applied in "
                     "backtests; trading costs come from cost_bps and min_fee.")
    if uses_all and config.base.limits.theme_caps:
        notes.append("The theme caps use today's deal graph at every date (it has no history).")
    notes += [f"{s.name} is added: the file has no equal-weight strategy to compare with."
              for s in config.strategies if s.reference]
    return notes


def hindsight_note(config: BacktestConfig, start: pd.Timestamp) -> str | None:
    """The hindsight warning when the universe was picked after ``start`` (or unknown)."""
    names = f"{len(config.tickers)} names"
    if config.universe_chosen is None:
        return (f"Hindsight: the date the universe ({names}) was chosen is unknown; if they "
                "were picked knowing how they fared, every strategy here benefits from it. "
                "Set universe_chosen in the backtest file (or [universe] chosen in the base "
                "config).")
    if pd.Timestamp(config.universe_chosen) <= start:
        return None
    return (f"Hindsight: the universe ({names}) was chosen on {config.universe_chosen}, after "
            f"the backtest starts ({start.date()}): today's AI-infrastructure names, picked "
            "knowing they boomed, so every strategy here benefits from hindsight (survivors "
            "only). Compare the strategies with each other; against the benchmarks the gap "
            "is flattered.")


def short_period_warning(days: int) -> str | None:
    """The warning of a backtest shorter than one year (``days`` daily returns)."""
    if days >= TRADING_DAYS:
        return None
    return (f"The backtest covers {days} trading day{'s' if days != 1 else ''}, less than a "
            "year: annualised figures (CAGR, volatility, Sharpe, Sortino, Calmar, turnover "
            "and cost drag per year, tracking error) are not shown; see the total return.")


def frame_hash(prices: pd.DataFrame) -> str:
    """SHA-256 of the price frame's labels and values (pandas' row hashes, not a CSV dump)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(prices, index=True).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, prices.columns)).encode("utf-8"))
    return digest.hexdigest()


def package_versions(*extra: str) -> dict[str, str]:
    """Python's version and the run's packages' (plus ``extra`` distributions), for a manifest."""
    versions = dict(_installed_versions())
    for name in extra:
        versions[name] = _version_of(name)
    return versions


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Versions of Python and the packages of the run (looked up once per process)."""
    import platform

    versions = {"python": platform.python_version()}
    for name in ("portfolio-ai-infra", "cvxpy", "clarabel", "osqp", "numpy", "pandas",
                 "scikit-learn"):
        versions[name] = _version_of(name)
    return versions


def _version_of(distribution: str) -> str:
    """The installed version of a distribution, or ``"not installed"``."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def simulate(
    config: BacktestConfig,
    frame: PriceFrame,
    strategies: Sequence[tuple[Strategy, str]],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    notes: Sequence[str] = (),
    ahead: AheadMap | None = None,
) -> BacktestResult:
    """Run strategies walk-forward on the same prices (see the module docstring).

    Parameters
    ----------
    config : BacktestConfig
        Period, schedule, costs, benchmarks, capital.
    frame : PriceFrame
        Prices (dates x tickers, USD; NaN before a listing) with their provenance; must
        hold the universe and the benchmarks.
    strategies : sequence of (Strategy, kind)
        The strategies and their kind label (``"equal_weight"``, ``"custom"``, ...).
    on_progress : callable, optional
        ``on_progress(done, total)`` in trading days simulated.
    notes : sequence of str
        Notes already made for the user (they lead the result's notes).
    ahead : AheadMap, optional
        How strategies may compute ahead of the walk (their ``prepare(pasts, ahead)``,
        calendar schedules only; :data:`~portfolio.backtesting.strategies.AheadMap`); the
        results are the same with or without it.

    Returns
    -------
    BacktestResult

    Raises
    ------
    InputError
        An object that is not a :class:`Strategy`, repeated names, or a strategy that
        breaks the protocol.
    DataError
        Missing prices, or not enough history for the lookback anywhere in the data.
    """
    started = time.perf_counter()
    _check_strategies(config, strategies)
    prices = checked_prices(config, frame)
    notes = [*notes, *config_notes(config)]
    market, first, last = build_market(config, prices, notes)
    dates = market.dates[first: last + 1]
    benchmarks, lead_returns, benchmark_metrics = _benchmarks(config, prices, market, dates)
    views = _Views(market)
    books = [_Book(strategy, kind, config, market, first, last, views)
             for strategy, kind in strategies]
    scheduled = _scheduled(config, market, first, last)
    if ahead is not None and config.rebalance != "drift":
        pasts = [PastView.at(market, first + j)
                 for j in sorted({0, *np.flatnonzero(scheduled[first: last + 1])})]
        for strategy, _ in strategies:
            prepare = getattr(strategy, "prepare", None)
            if callable(prepare):
                prepare(pasts, ahead)
    _run_days(config, market, books, first, last, scheduled, on_progress)
    results = {book.strategy.name: book.result(lead_returns) for book in books}
    manifest = _manifest(config, frame, prices, results, dates, started)
    hindsight = hindsight_note(config, dates[0])
    short = short_period_warning(len(dates))
    return BacktestResult(
        config=config, strategies=MappingProxyType(results), benchmarks=benchmarks,
        benchmark_metrics=MappingProxyType(benchmark_metrics),
        cash_rate=market.cash_rate.loc[dates], start=dates[0], end=dates[-1],
        notes=tuple(notes), data_notice=frame.notice, manifest=MappingProxyType(manifest),
        hindsight=hindsight, warnings=(short,) if short else (),
    )


def _check_strategies(config: BacktestConfig, strategies: Sequence[tuple[Strategy, str]]
                      ) -> None:
    for strategy, _ in strategies:
        if not isinstance(strategy, Strategy):
            raise InputError(
                f"{type(strategy).__name__} is not a strategy", "backtest(strategies=...)",
                "a strategy has name, rebalances, limits and target(past)",
                "subclass portfolio.BaseStrategy and implement target(past)",
            )
    names = [strategy.name for strategy, _ in strategies]
    check_strategy_names(names, config.benchmarks, lambda i: f"strategy {names[i]!r}")


def _benchmarks(config: BacktestConfig, prices: pd.DataFrame, market: Market,
                dates: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    """Benchmark values from the capital, the lead benchmark's returns, their metrics."""
    benchmark_prices = prices[list(config.benchmarks)].ffill().loc[dates]
    unpriced = [b for b in config.benchmarks if not np.isfinite(benchmark_prices[b].iloc[0])]
    if unpriced:
        raise DataError(
            f"no price for benchmark {', '.join(unpriced)} at the start",
            f"{config.source}, key benchmarks", f"the backtest starts {dates[0].date()}",
            "choose a benchmark listed before the start")
    benchmarks = config.initial_capital * benchmark_prices / benchmark_prices.iloc[0]
    lead_returns = equity_returns(benchmarks[config.benchmarks[0]], config.initial_capital)
    rates = market.cash_rate.loc[dates]
    metrics = {b: performance_metrics(benchmarks[b], config.initial_capital, rates,
                                      lead_returns) for b in config.benchmarks}
    return benchmarks, lead_returns, metrics


def _scheduled(config: BacktestConfig, market: Market, first: int, last: int) -> np.ndarray:
    """Whether each market row is a calendar rebalance date (all False for a drift band)."""
    if config.rebalance == "drift":
        return np.zeros(len(market.dates), dtype=bool)
    chosen = walk_forward_dates(market.dates, market.dates[first], market.dates[last],
                                config.rebalance)
    return market.dates.isin(list(set(chosen)))


def _run_days(config: BacktestConfig, market: Market, books: Sequence[_Book], first: int,
              last: int, scheduled: np.ndarray,
              on_progress: Callable[[int, int], None] | None) -> None:
    """Step every book through the simulated days together.

    A calendar schedule trades only on its dates (``scheduled``, by market row) and at
    inception: the days between two of them drift in one vectorised pass. A drift band
    checks every day.
    """
    dates = market.dates[first: last + 1]
    upcoming = np.flatnonzero(scheduled[first: last + 1])
    j = reported = 0
    while j < len(dates):
        for book in books:
            book.step(j, bool(scheduled[first + j]))
        j += 1
        if config.rebalance != "drift" and j < len(dates):
            later = upcoming[upcoming >= j]
            stop = int(later[0]) if later.size else len(dates)
            for book in books:
                book.drift(j, stop)
            j = stop
        if on_progress is not None and (j - reported >= 21 or j == len(dates)):
            on_progress(j, len(dates))
            reported = j


def _manifest(config: BacktestConfig, frame: PriceFrame, prices: pd.DataFrame,
              results: dict[str, StrategyResult], dates: pd.DatetimeIndex,
              started: float) -> dict[str, Any]:
    """The run manifest: config and data hashes, versions, solvers, period, timing."""
    solvers: Counter[str] = Counter()
    for result in results.values():
        solvers.update(result.solvers)
    return {
        "config": {"source": config.source, "sha256": config.config_hash,
                   "base_config": config.base_source,
                   "base_config_sha256": config.base_config_hash},
        "data": {"source": frame.source, "notice": frame.notice, "sha256": frame_hash(prices),
                 "first_date": prices.index[0].date().isoformat(),
                 "last_date": prices.index[-1].date().isoformat(),
                 "tickers": list(prices.columns)},
        "versions": package_versions(),
        "solver": {"setting": config.base.optimizer.solver, "used": dict(solvers)},
        "start": dates[0].date().isoformat(),
        "end": dates[-1].date().isoformat(),
        "strategies": list(results),
        "runtime_seconds": round(time.perf_counter() - started, 3),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
