"""Config-driven walk-forward backtests: several strategies compared in one run.

A backtest file (``config/backtests/*.toml``) names a portfolio config for the universe,
groups, limits and risk settings (``base_config``), the period, the rebalancing rule,
costs, benchmarks and a list of strategies. :func:`load_backtest` validates it once;
:func:`backtest` runs every strategy on the same prices and returns an immutable
:class:`BacktestResult`; :func:`write_backtest_outputs` writes the output folder.

Time only moves forward (DESIGN principle 8)
--------------------------------------------
* Rebalance dates come from :func:`walk_forward_dates`: the first trading day of the
  backtest (inception), then the first trading day of every week, month or quarter.
* At a rebalance date ``t`` a strategy sees only prices **strictly before** ``t``: the
  ``lookback_days + 1`` price rows before ``t`` give ``lookback_days`` daily returns
  (fewer for a name listed inside the window). Which names may be held is decided on the
  same data: a name is *available* at ``t`` once it has at least ``min_history_days``
  prices before ``t`` and a price at ``t`` -- never before it lists.
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

Strategies
----------
``buy_and_hold``
    Equal weight of the names available at inception, never rebalanced.
``equal_weight``
    Equal weight of the names available at each rebalance date, fully invested.
``min_variance``, ``risk_parity``, ``max_sharpe``
    The objective of that name; ``use_limits`` ``"caps"`` (default for min-variance and
    max-Sharpe) applies the base config's per-name caps and cash floor, ``"none"``
    (default for risk parity) none, ``"all"`` every limit of the base config.
``policy``
    The base config's objective under all its limits, incl. the look-through theme cap
    (the article's policy).

Every optimised strategy compiles ONE :class:`~portfolio.optimization.problem.PortfolioProblem`
and re-solves it through Parameters at each date; names not available yet are held at
0 through the ``available`` mask. A failed solve (infeasible limits, solver failure,
unusable data at that date) keeps the positions as they are and is recorded in
:attr:`StrategyResult.failures`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from portfolio.config import (
    CASH,
    COVARIANCE_METHODS,
    EXPECTED_RETURN_METHODS,
    OBJECTIVES,
    Config,
    Table,
    default_config_path,
    did_you_mean,
    load_config,
    read_toml,
)
from portfolio.optimization.constraints import CashFloor, MaxWeight, check_all, constraints_from_config
from portfolio.data.prices import PriceFrame
from portfolio.errors import ConfigError, DataError, InfeasibleError, SolverError
from portfolio.jobs.market import DataOptions, MarketData

__all__ = [
    "LIMIT_SETS",
    "SCHEDULES",
    "STRATEGY_KINDS",
    "BacktestConfig",
    "BacktestResult",
    "PerformanceMetrics",
    "RebalanceFailure",
    "StrategyResult",
    "StrategySpec",
    "backtest",
    "load_backtest",
    "parse_backtest",
    "performance_metrics",
    "walk_forward_dates",
    "write_backtest_outputs",
]

SCHEDULES = ("weekly", "monthly", "quarterly", "drift")
STRATEGY_KINDS = (
    "buy_and_hold", "equal_weight", "min_variance", "risk_parity", "max_sharpe", "policy",
)
OPTIMIZED_KINDS = ("min_variance", "risk_parity", "max_sharpe", "policy")
LIMIT_SETS = ("all", "caps", "none")
DEFAULT_LIMITS = {"min_variance": "caps", "max_sharpe": "caps", "risk_parity": "none",
                  "policy": "all"}
TRADING_DAYS = 252
TRADE_TOLERANCE = 1e-9  # trades below this fraction of the portfolio are not made


# =========================================================================== config


@dataclass(frozen=True)
class StrategySpec:
    """One strategy of a backtest file (``[[strategies]]``).

    Attributes
    ----------
    name : str
        Label in tables, files and plots.
    kind : str
        One of :data:`STRATEGY_KINDS`.
    objective : str or None
        Optimiser objective (None for ``buy_and_hold`` / ``equal_weight``).
    covariance : str
        Covariance estimator (:data:`portfolio.config.COVARIANCE_METHODS`).
    expected_returns : str
        Expected-return estimator, used by objectives that need returns.
    use_limits : str
        ``"all"`` (every limit of the base config), ``"caps"`` (per-name caps and cash
        floor) or ``"none"``.
    """

    name: str
    kind: str
    objective: str | None = None
    covariance: str = "ledoit_wolf"
    expected_returns: str = "james_stein"
    use_limits: str = "none"


@dataclass(frozen=True)
class BacktestConfig:
    """A validated backtest file.

    Attributes
    ----------
    source : str
        File the backtest came from (used in messages).
    base : Config
        The portfolio config (universe -- with the ``tickers`` override applied --,
        groups, limits, risk and optimizer settings).
    base_source : str
        Path of the base config.
    strategies : tuple of StrategySpec
        At least one, unique names.
    start, end : str or None
        First and last date (ISO); None = as early / late as the data allow.
    lookback_days : int
        Daily returns (trading days) seen by a strategy at each rebalance.
    min_history_days : int
        Prices a name needs before a date to be held.
    rebalance : str
        One of :data:`SCHEDULES`.
    drift_threshold : float
        Largest ``|w - target|`` (fraction, cash included) tolerated in drift mode.
    limit_tolerance : float
        Slack (fraction) before a limit counts as breached in drift mode.
    initial_capital : float
        USD at inception.
    cost_bps : float
        Cost per trade, basis points of notional.
    min_fee : float
        Minimum cost per name traded, USD.
    benchmarks : tuple of str
        Benchmark tickers; the first one is used for beta and tracking error.
    cash_yield : str or float
        ``"tbill"`` or a fixed annual fraction.
    config_hash : str
        sha256 of the backtest file's bytes (of its canonical JSON when parsed from a
        mapping).
    base_config_hash : str
        sha256 of the base config file's bytes.
    """

    source: str
    base: Config
    base_source: str
    strategies: tuple[StrategySpec, ...]
    start: str | None = None
    end: str | None = None
    lookback_days: int = 504
    min_history_days: int = 126
    rebalance: str = "monthly"
    drift_threshold: float = 0.05
    limit_tolerance: float = 0.01
    initial_capital: float = 100_000.0
    cost_bps: float = 5.0
    min_fee: float = 1.0
    benchmarks: tuple[str, ...] = ("SPY",)
    cash_yield: str | float = "tbill"
    config_hash: str = ""
    base_config_hash: str = ""

    @property
    def tickers(self) -> tuple[str, ...]:
        """The investable universe."""
        return self.base.tickers

    @property
    def market_tickers(self) -> tuple[str, ...]:
        """Universe, benchmarks, the base config's benchmark and risk factors."""
        extra = (*self.benchmarks, self.base.benchmark, *self.base.risk.factors)
        return tuple(dict.fromkeys((*self.tickers, *extra)))


def load_backtest(path: str | Path) -> BacktestConfig:
    """Read and validate a backtest TOML file.

    Parameters
    ----------
    path : str or Path
        The backtest file; ``base_config`` is resolved against its folder.

    Returns
    -------
    BacktestConfig

    Raises
    ------
    ConfigError
        Missing file, malformed TOML, unknown key, bad value -- naming file and key.
    """
    path = Path(path)
    data = read_toml(path)
    return parse_backtest(data, source=str(path), base_dir=path.parent,
                          content_hash=_file_hash(path))


def parse_backtest(
    data: Mapping[str, Any],
    source: str = "<backtest>",
    base_dir: Path | None = None,
    *,
    content_hash: str | None = None,
) -> BacktestConfig:
    """Validate a backtest mapping (the parsed TOML).

    The only I/O is loading the base config named by ``base_config`` (through
    :func:`portfolio.config.load_config`).

    Parameters
    ----------
    data : Mapping
        Parsed TOML document.
    source : str
        File name used in error messages.
    base_dir : Path, optional
        Folder against which ``base_config`` is resolved (default: working directory).
    content_hash : str, optional
        sha256 of the file's bytes; default the sha256 of ``data`` as canonical JSON.

    Returns
    -------
    BacktestConfig

    Raises
    ------
    ConfigError
        On any unknown key (with a "did you mean"), wrong type or inconsistent value.
    """
    root = Table(dict(data), source, "")
    base_name = root.string("base_config", None)
    if base_name is None:
        base_path = default_config_path()
    else:
        base_path = Path(base_name)
        if not base_path.is_absolute():
            base_path = (base_dir or Path.cwd()) / base_path
        if not base_path.is_file():
            raise ConfigError(
                "base config not found", root.where("base_config"), f"no such file {base_path}",
                "give a path relative to the backtest file, or leave base_config out to use "
                "the packaged default.toml",
            )
    base = load_config(base_path)
    if root.has("tickers"):
        base = replace(base, tickers=root.tickers("tickers"))
    start = _date(root, "start")
    end = _date(root, "end")
    if start is not None and end is not None and start >= end:
        raise ConfigError(
            f"start {start} is not before end {end}", root.where("start"),
            "the backtest needs a period", "set start earlier than end",
        )
    lookback = root.integer("lookback_days", base.risk.lookback_days, low=20)
    min_history = root.integer("min_history_days", base.risk.min_observations, low=3)
    rebalance = root.string("rebalance", "monthly", SCHEDULES)
    drift_threshold, limit_tolerance = 0.05, 0.01
    if rebalance == "drift":
        drift_threshold = root.fraction("drift_threshold", 0.05)
        limit_tolerance = root.fraction("limit_tolerance", 0.01)
        if drift_threshold <= 0:
            raise root.error("drift_threshold", "must be above 0", "e.g. drift_threshold = 0.05")
    else:
        for key in ("drift_threshold", "limit_tolerance"):
            if root.has(key):
                root.raw(key)
                raise root.error(key, 'only used with rebalance = "drift"',
                                 f'remove {key} or set rebalance = "drift"')
    initial = root.number("initial_capital", 100_000.0, low=0.0)
    if initial <= 0:
        raise root.error("initial_capital", "must be above 0", "e.g. initial_capital = 100000")
    cost_bps = root.number("cost_bps", base.trading.cost_bps, low=0.0, high=10_000.0)
    min_fee = root.number("min_fee", base.trading.min_fee, low=0.0)
    benchmarks = root.tickers("benchmarks", (base.benchmark,))
    cash_yield = _cash_yield(root)
    strategies = tuple(_parse_strategy(item, base) for item in root.tables("strategies"))
    if not strategies:
        raise ConfigError(
            "no strategies", root.where("strategies"), "a backtest compares at least one",
            'add [[strategies]] with name = "..." and kind = "equal_weight"',
        )
    from portfolio.report.backtest import weights_plot_name

    names = [s.name for s in strategies]
    plots = [weights_plot_name(name) for name in names]
    for i, name in enumerate(names):
        where = f"{source}, key strategies[{i}].name"
        if names.index(name) != i:
            raise ConfigError(f"duplicate strategy name '{name}'", where,
                              "names label columns and files", "give each strategy its own name")
        first = plots.index(plots[i])
        if first != i:
            raise ConfigError(
                f"strategy name '{name}' gives the same plot file as '{names[first]}'", where,
                f"both would be written to {plots[i]}",
                "make the names differ in letters or digits")
        if name in benchmarks or name == CASH:
            raise ConfigError(f"strategy name '{name}' is taken", where,
                              "benchmarks and CASH use that label", "choose another name")
    root.finish()
    return BacktestConfig(
        source=source, base=base, base_source=str(base_path), strategies=strategies,
        start=start, end=end, lookback_days=lookback, min_history_days=min_history,
        rebalance=rebalance, drift_threshold=drift_threshold, limit_tolerance=limit_tolerance,
        initial_capital=initial, cost_bps=cost_bps, min_fee=min_fee, benchmarks=benchmarks,
        cash_yield=cash_yield,
        config_hash=content_hash or _mapping_hash(data),
        base_config_hash=_file_hash(base_path),
    )


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError("cannot read config file", str(path), exc.strerror or str(exc),
                          "check the path and permissions") from None


def _mapping_hash(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _date(table: Table, key: str) -> str | None:
    value = table.raw(key, None)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise table.error(key, "dates are written YYYY-MM-DD", f'e.g. {key} = "2019-01-01"')


def _cash_yield(table: Table) -> str | float:
    value = table.raw("cash_yield", "tbill")
    if isinstance(value, str):
        if value != "tbill":
            raise table.error("cash_yield", 'use "tbill" or an annual fraction',
                              did_you_mean(value, ["tbill"]) or 'e.g. cash_yield = "tbill"')
        return value
    return table.number("cash_yield", None, low=-0.05, high=0.5,
                        what='"tbill" or an annual fraction (0.02 = 2 %)')


def _parse_strategy(item: Table, base: Config) -> StrategySpec:
    name = item.string("name", None)
    if not name:
        raise ConfigError("missing key 'name'", item.where("name"), "every strategy needs a name",
                          'add name = "my strategy"')
    if not item.has("kind"):
        raise ConfigError("missing key 'kind'", item.where("kind"), "every strategy needs a kind",
                          f"use one of {', '.join(STRATEGY_KINDS)}")
    kind = item.string("kind", None, STRATEGY_KINDS)
    if kind not in OPTIMIZED_KINDS:
        for key in ("objective", "covariance", "expected_returns", "use_limits"):
            if item.has(key):
                item.raw(key)
                raise item.error(
                    key, f"kind {kind} does not use an optimiser",
                    f"remove {key}, or choose a kind among {', '.join(OPTIMIZED_KINDS)}")
        item.finish()
        return StrategySpec(name=name, kind=kind)
    if kind == "policy":
        objective = item.string("objective", base.optimizer.objective, OBJECTIVES)
    else:
        if item.has("objective") and item.raw("objective") != kind:
            raise item.error("objective", f"kind {kind} fixes the objective",
                             'remove objective, or use kind = "policy" with this objective')
        objective = kind
    spec = StrategySpec(
        name=name, kind=kind, objective=objective,
        covariance=item.string("covariance", base.risk.method, COVARIANCE_METHODS),
        expected_returns=item.string("expected_returns", base.optimizer.expected_returns,
                                     EXPECTED_RETURN_METHODS),
        use_limits=item.string("use_limits", DEFAULT_LIMITS[kind], LIMIT_SETS),
    )
    item.finish()
    return spec


# =========================================================================== schedule


def _period_keys(index: pd.DatetimeIndex, schedule: str) -> np.ndarray:
    """An integer per date, equal within one ISO week / calendar month / quarter."""
    if schedule == "weekly":
        iso = index.isocalendar()
        return iso["year"].to_numpy(dtype=np.int64) * 100 + iso["week"].to_numpy(dtype=np.int64)
    months = index.year.to_numpy(dtype=np.int64) * 12 + index.month.to_numpy(dtype=np.int64) - 1
    return months if schedule == "monthly" else months // 3


def walk_forward_dates(
    index: pd.DatetimeIndex,
    start: str | pd.Timestamp | None,
    end: str | pd.Timestamp | None,
    schedule: str,
) -> Iterator[pd.Timestamp]:
    """Rebalance dates of a schedule (pure generator).

    Parameters
    ----------
    index : DatetimeIndex
        Trading dates, sorted.
    start, end : date-like or None
        Inclusive period; None = the first / last date of ``index``.
    schedule : {"weekly", "monthly", "quarterly", "drift"}
        ``weekly`` / ``monthly`` / ``quarterly``: the first trading day of the period
        at or after ``start`` (inception), then the first trading day of every later
        ISO week, calendar month or quarter up to ``end``. ``drift``: every trading day
        is a candidate (the engine rebalances only when a band is exceeded).

    Yields
    ------
    Timestamp
        Dates of ``index``, increasing.

    Raises
    ------
    ConfigError
        For an unknown schedule.
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule '{schedule}'", "rebalance",
                          f"must be one of {', '.join(SCHEDULES)}",
                          did_you_mean(schedule, SCHEDULES) or "use monthly")
    in_range = np.ones(len(index), dtype=bool)
    if start is not None:
        in_range &= index >= pd.Timestamp(start)
    if end is not None:
        in_range &= index <= pd.Timestamp(end)
    chosen = in_range.copy()
    if schedule != "drift":
        keys = _period_keys(index, schedule)
        chosen &= np.concatenate([[True], keys[1:] != keys[:-1]])  # a period's first day
        inside = np.flatnonzero(in_range)
        if inside.size:
            chosen[inside[0]] = True  # the inception
    yield from index[chosen]


# =========================================================================== results


@dataclass(frozen=True)
class RebalanceFailure:
    """A rebalance that could not be computed; the positions were kept.

    Attributes
    ----------
    date : Timestamp
        Rebalance date.
    error : str
        One-line message of the error (infeasible limits, solver or data failure).
    """

    date: pd.Timestamp
    error: str


@dataclass(frozen=True)
class PerformanceMetrics:
    """Performance of one equity curve (strategy or benchmark).

    Attributes
    ----------
    cagr : float
        Compound annual growth rate (fraction/year).
    volatility : float
        Annualised volatility of daily returns (fraction).
    sharpe, sortino : float
        Annualised ratios of daily returns in excess of the cash rate.
    max_drawdown : float
        Largest peak-to-trough fall (positive fraction).
    drawdown_peak, drawdown_trough : Timestamp
        Dates of that peak and trough.
    drawdown_recovery : Timestamp or None
        First date back at the peak; None if not recovered.
    calmar : float
        CAGR / max drawdown.
    turnover : float
        Average one-way turnover per rebalance after inception (fraction of value).
    annual_turnover : float
        One-way turnover after inception per year (fraction).
    cost_drag : float
        Costs as a fraction of the pre-trade value, summed and divided by the years
        (fraction/year, inception included).
    total_costs : float
        USD charged.
    beta, tracking_error : float
        Against the first benchmark's daily returns (tracking error annualised).
    final_value : float
        USD at the end.
    rebalances : int
        Rebalances executed (inception included).
    failures : int
        Rebalance dates whose solve failed.
    """

    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    drawdown_peak: pd.Timestamp
    drawdown_trough: pd.Timestamp
    drawdown_recovery: pd.Timestamp | None
    calmar: float
    turnover: float
    annual_turnover: float
    cost_drag: float
    total_costs: float
    beta: float
    tracking_error: float
    final_value: float
    rebalances: int
    failures: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates as ISO strings, NaN/inf as None)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, pd.Timestamp):
                value = value.date().isoformat()
            elif isinstance(value, float) and not np.isfinite(value):
                value = None
            out[name] = value
        return out


@dataclass(frozen=True, eq=False)
class StrategyResult:
    """One strategy's path.

    Attributes
    ----------
    name, kind : str
        From the config.
    equity : Series
        Daily portfolio value, USD, after the day's trades and costs.
    returns : Series
        Daily simple returns; the first one is measured from the initial capital.
    weights : DataFrame
        Rebalance dates x (tickers + CASH): post-trade weights (fractions).
    daily_weights : DataFrame
        Trading dates x (tickers + CASH): weights at each close (drifted).
    trades : DataFrame
        Columns date, ticker, side (buy/sell), shares (fractional), price (USD),
        notional (USD, positive), cost (USD).
    turnover : Series
        One-way turnover per rebalance, ``0.5 * sum |value change| / value`` over
        tickers and cash.
    costs : Series
        USD charged per rebalance.
    reasons : Series
        Why each rebalance happened (inception, schedule, drift ..., limit ...).
    failures : tuple of RebalanceFailure
        Rebalance dates whose solve failed (positions kept).
    solvers : Mapping[str, int]
        Solves per solver name.
    metrics : PerformanceMetrics
        Summary figures.
    """

    name: str
    kind: str
    equity: pd.Series
    returns: pd.Series
    weights: pd.DataFrame
    daily_weights: pd.DataFrame
    trades: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    reasons: pd.Series
    failures: tuple[RebalanceFailure, ...]
    solvers: Mapping[str, int]
    metrics: PerformanceMetrics


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Everything a backtest produced.

    Attributes
    ----------
    config : BacktestConfig
        The validated config.
    strategies : Mapping[str, StrategyResult]
        By strategy name, in config order.
    benchmarks : DataFrame
        Trading dates x benchmark tickers: USD value of ``initial_capital`` invested at
        the first close.
    benchmark_metrics : Mapping[str, PerformanceMetrics]
        By benchmark ticker.
    cash_rate : Series
        Annual cash rate (fraction) credited on each date (the previous day's yield).
    start, end : Timestamp
        First and last trading date simulated.
    notes : tuple of str
        What the engine decided for the user (later start, shortened end, ignored limits).
    data_notice : str
        Provenance of the prices (source, last date).
    manifest : Mapping
        Run manifest (hashes, versions, solvers, period, created UTC).
    """

    config: BacktestConfig
    strategies: Mapping[str, StrategyResult]
    benchmarks: pd.DataFrame
    benchmark_metrics: Mapping[str, PerformanceMetrics]
    cash_rate: pd.Series
    start: pd.Timestamp
    end: pd.Timestamp
    notes: tuple[str, ...]
    data_notice: str
    manifest: Mapping[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, PerformanceMetrics]:
        """Metrics by strategy name."""
        return {name: result.metrics for name, result in self.strategies.items()}

    @property
    def equity(self) -> pd.DataFrame:
        """Trading dates x (strategies + benchmarks), USD."""
        curves = {name: result.equity for name, result in self.strategies.items()}
        return pd.concat([pd.DataFrame(curves), self.benchmarks], axis=1)


# =========================================================================== metrics


def performance_metrics(
    equity: pd.Series,
    initial_capital: float,
    risk_free: pd.Series | float,
    benchmark_returns: pd.Series,
    *,
    turnover: pd.Series | None = None,
    costs: pd.Series | None = None,
    failures: int = 0,
) -> PerformanceMetrics:
    """Summary figures of a daily equity curve (wiring of :mod:`portfolio.analytics.metrics`).

    Parameters
    ----------
    equity : Series
        Daily values (USD) by date, at least 2.
    initial_capital : float
        Value before the first date (USD); the first return is ``equity[0] / initial - 1``.
    risk_free : Series or float
        Annual rate (fraction) by date, or a number; excess for Sharpe / Sortino.
    benchmark_returns : Series
        Daily returns of the benchmark on the same dates.
    turnover, costs : Series, optional
        Per rebalance (the first one is the inception); absent for benchmarks.
    failures : int
        Failed rebalances.

    Returns
    -------
    PerformanceMetrics
    """
    from portfolio.analytics import metrics

    returns = _equity_returns(equity, initial_capital)
    years = len(returns) / TRADING_DAYS
    drawdown = metrics.max_drawdown(returns, kind="returns")
    turnover = turnover if turnover is not None else pd.Series(dtype=float)
    costs = costs if costs is not None else pd.Series(dtype=float)
    after_inception = turnover.iloc[1:]
    pre_trade_value = equity.reindex(costs.index) + costs
    growth_rate = metrics.cagr(returns)
    return PerformanceMetrics(
        cagr=growth_rate,
        volatility=metrics.annualized_volatility(returns),
        sharpe=metrics.sharpe(returns, risk_free),
        sortino=metrics.sortino(returns, risk_free),
        max_drawdown=drawdown.depth,
        drawdown_peak=drawdown.peak,
        drawdown_trough=drawdown.trough,
        drawdown_recovery=drawdown.recovery,
        calmar=metrics.calmar_ratio(growth_rate, drawdown.depth),
        turnover=float(after_inception.mean()) if len(after_inception) else 0.0,
        annual_turnover=float(after_inception.sum()) / years,
        cost_drag=float((costs / pre_trade_value).sum()) / years if len(costs) else 0.0,
        total_costs=float(costs.sum()),
        beta=metrics.beta(returns, benchmark_returns),
        tracking_error=metrics.tracking_error(returns, benchmark_returns),
        final_value=float(equity.iloc[-1]),
        rebalances=len(turnover),
        failures=failures,
    )


def _equity_returns(equity: pd.Series, initial_capital: float) -> pd.Series:
    previous = equity.shift(1)
    previous.iloc[0] = initial_capital
    return (equity / previous - 1.0).rename(equity.name)


# =========================================================================== engine


@dataclass(frozen=True)
class _Market:
    """Arrays the simulation reads; rows are trading dates, columns the universe."""

    dates: pd.DatetimeIndex
    tickers: tuple[str, ...]
    prices: pd.DataFrame  # every loaded ticker (universe, benchmarks, factors), NaN kept
    close: np.ndarray  # (days, n) forward-filled closes of the universe, USD
    growth: np.ndarray  # (days, n) close[i] / close[i-1], 1 where undefined
    available: np.ndarray  # (days, n) bool: listed with min_history_days before, price at i
    cash_growth: np.ndarray  # (days,) (1 + rate[i-1]) ** (1 / 252), as metrics de-compound
    cash_rate: pd.Series  # annual rate credited on each date


def _price_frame(
    config: BacktestConfig,
    options: DataOptions,
    market: MarketData | PriceFrame | pd.DataFrame | None,
) -> PriceFrame:
    if market is None:
        from portfolio.data.prices import load_prices

        end = min(filter(None, (config.end, options.as_of)), default=None)
        return load_prices(
            config.market_tickers, end=end, source=options.source, cache_dir=options.cache_dir,
            offline=options.offline, max_fill_days=config.base.data.max_fill_days,
        )
    if isinstance(market, MarketData):
        return market.frame
    if isinstance(market, PriceFrame):
        return market
    if isinstance(market, pd.DataFrame):
        last = market.index[-1].date() if len(market) else "?"
        return PriceFrame(market, "given", f"Data: prices given by the caller up to {last}")
    raise DataError("unsupported market data", "backtest(market=...)",
                    f"got {type(market).__name__}", "pass MarketData, a PriceFrame or a DataFrame")


def _checked_prices(config: BacktestConfig, frame: PriceFrame) -> pd.DataFrame:
    prices = frame.prices
    required = (*config.tickers, *config.benchmarks)
    missing = [t for t in required if t not in prices.columns]
    if missing:
        raise DataError(f"no prices for {', '.join(missing)}", config.source,
                        f"the {frame.source} prices lack them",
                        "remove them from the backtest or choose another --data-source")
    wanted = [t for t in config.market_tickers if t in prices.columns]
    prices = prices[wanted].sort_index()
    if prices.index.has_duplicates:
        raise DataError("duplicate dates in prices", config.source, "each date must appear once",
                        "drop the duplicate rows")
    rows = prices[list(config.tickers)].notna().any(axis=1)
    return prices.loc[rows]


def _cash_rates(
    config: BacktestConfig, dates: pd.DatetimeIndex, notes: list[str], first: int = 0
) -> pd.Series:
    """Annual rate credited on each date: the previous trading day's yield.

    Only the simulated dates (from row ``first`` on) need a yield; the lookback rows
    before them may predate the bundled series (they are never credited).
    """
    if isinstance(config.cash_yield, float | int):
        return pd.Series(float(config.cash_yield), index=dates, name="cash_rate")
    from portfolio.data.bundled import treasury_bill_rates

    rates = treasury_bill_rates().dropna()
    if dates[first] < rates.index[0]:
        raise DataError("no T-bill yield before the first bundled date",
                        f"{config.source}, key cash_yield",
                        f"the bundled IRX series starts {rates.index[0].date()}",
                        "set cash_yield to an annual fraction, e.g. 0.02")
    if dates[-1] > rates.index[-1]:
        notes.append(f"The T-bill yield after {rates.index[-1].date()} is carried forward "
                     f"({100 * rates.iloc[-1]:.2f} %).")
    aligned = rates.reindex(rates.index.union(dates)).ffill().reindex(dates)
    return aligned.shift(1).bfill().rename("cash_rate")


def _availability(prices: pd.DataFrame, min_history: int) -> np.ndarray:
    listed = prices.notna()
    before = listed.cumsum().shift(1, fill_value=0)
    return ((before >= min_history) & listed).to_numpy()


def _first_start(
    config: BacktestConfig, dates: pd.DatetimeIndex, available: np.ndarray, notes: list[str]
) -> int:
    wanted = 0 if config.start is None else int(dates.searchsorted(pd.Timestamp(config.start)))
    if wanted >= len(dates):
        raise DataError(
            f"start {config.start} is after the last price", f"{config.source}, key start",
            f"the prices end {dates[-1].date()}", "choose an earlier start",
        )
    enough_rows = config.lookback_days + 1
    first = max(wanted, enough_rows)
    while first < len(dates) and not available[first].any():
        first += 1
    if first >= len(dates):
        raise DataError(
            "not enough history for the lookback", f"{config.source}, key lookback_days",
            f"{config.lookback_days} trading days of returns need {enough_rows} price rows "
            f"before the first rebalance, and a name with {config.min_history_days} prices; "
            f"the prices ({dates[0].date()} .. {dates[-1].date()}) do not have them",
            "shorten lookback_days or min_history_days, or use more data",
        )
    if config.start is None:
        notes.append(f"No start given: the backtest starts {dates[first].date()}, the first "
                     f"date with {enough_rows} price rows before it.")
    elif first > wanted:
        requested = config.start
        notes.append(
            f"Start moved from {requested} to {dates[first].date()}: a lookback of "
            f"{config.lookback_days} trading days needs {enough_rows} price rows before the "
            f"first rebalance (prices start {dates[0].date()})"
            + ("" if first == max(wanted, enough_rows) else
               f" and a name with {config.min_history_days} prices")
            + "."
        )
    return first


def _last_index(config: BacktestConfig, dates: pd.DatetimeIndex, notes: list[str]) -> int:
    if config.end is None:
        return len(dates) - 1
    end = pd.Timestamp(config.end)
    last = int(dates.searchsorted(end, side="right")) - 1
    if end > dates[-1]:
        notes.append(f"End moved from {config.end} to {dates[-1].date()}, the last price date.")
    return last


def _build_market(
    config: BacktestConfig, prices: pd.DataFrame, notes: list[str]
) -> tuple[_Market, int, int]:
    tickers = list(config.tickers)
    if prices.empty:
        raise DataError(
            "no prices for the universe in the period", f"{config.source}, keys start/end",
            f"none of {', '.join(tickers)} has a price"
            + (f" up to {config.end}" if config.end else ""),
            "choose a later end, or tickers listed in the period",
        )
    universe = prices[tickers]
    available = _availability(universe, config.min_history_days)
    first = _first_start(config, prices.index, available, notes)
    last = _last_index(config, prices.index, notes)
    if last - first < 1:
        raise DataError(
            "the backtest period holds fewer than 2 trading days",
            f"{config.source}, keys start/end",
            f"after the lookback it runs {prices.index[first].date()} .. "
            f"{prices.index[max(last, 0)].date()}",
            "set an earlier start, a later end or a shorter lookback_days",
        )
    close = universe.ffill().to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = close / np.vstack([close[:1], close[:-1]])
    growth = np.where(np.isfinite(growth), growth, 1.0)
    cash_rate = _cash_rates(config, prices.index, notes, first)
    market = _Market(
        dates=prices.index, tickers=tuple(tickers), prices=prices, close=close, growth=growth,
        available=available, cash_growth=(1.0 + cash_rate.to_numpy()) ** (1.0 / TRADING_DAYS),
        cash_rate=cash_rate,
    )
    return market, first, last


@dataclass(frozen=True)
class _Inputs:
    """Estimates at one date for the full universe (unavailable names as placeholders)."""

    covariance: pd.DataFrame | np.ndarray  # (n, n) in universe order, annual
    expected_returns: pd.Series | None
    risk_inputs: Any  # portfolio.jobs.market.RiskInputs for the objective's extra data


# Objective data that needs the returns table (the numpy fast path has none).
_RETURNS_DATA = frozenset({"scenarios", "returns", "benchmark_returns", "target_weights"})
_BLOCK_METHODS = frozenset({"sample", "ledoit_wolf", "oas", "ewma"})


class _Estimator:
    """Risk inputs from the returns strictly before a date, cached across strategies.

    With daily returns, the returns of the whole history are computed once: a daily
    return depends only on its own two prices, so a window's returns are a slice of them.
    When the names available at a date all have complete returns in the window (the
    usual case), the covariance is estimated on that numpy slice directly
    (:func:`portfolio.estimate.covariance.complete_covariance`), which gives the same matrix as
    :func:`portfolio.estimate.covariance.covariance` on the window without its table handling.
    Ragged windows, factor models and estimates that need expected returns or the
    returns table go through the general path.
    """

    def __init__(self, config: BacktestConfig, market: _Market) -> None:
        self.config = config
        self.market = market
        self._returns: dict[int, pd.DataFrame] = {}
        self._covariances: dict[tuple, Any] = {}
        self._means: dict[tuple, pd.Series] = {}
        self._daily: pd.DataFrame | None = None
        if config.base.risk.frequency == "daily":
            from portfolio.estimate.returns import to_returns

            try:
                self._daily = to_returns(market.prices).reindex(market.dates)
            except DataError:  # a bad price: the window path reports it at its date
                self._daily = None
        if self._daily is not None:
            self._daily_values = self._daily.to_numpy()
            position = {t: k for k, t in enumerate(self._daily.columns)}
            self._universe = np.array([position[t] for t in market.tickers], dtype=int)

    def _window_rows(self, i: int) -> slice:
        """Rows of the daily returns of the ``lookback_days + 1`` prices before row ``i``."""
        return slice(max(1, i - self.config.lookback_days), i)

    def returns(self, i: int) -> pd.DataFrame:
        """Returns of the ``lookback_days + 1`` price rows strictly before row ``i``."""
        if i not in self._returns:
            if self._daily is not None:
                window = self._daily.iloc[self._window_rows(i)].dropna(how="all")
            else:
                from portfolio.estimate.returns import to_returns

                prices = self.market.prices.iloc[max(0, i - self.config.lookback_days - 1): i]
                window = to_returns(prices, frequency=self.config.base.risk.frequency)
            self._returns = {i: window}
        return self._returns[i]

    def _complete_covariance(self, i: int, available: np.ndarray, method: str
                             ) -> np.ndarray | None:
        """The padded covariance from the numpy slice, or None when the window is ragged."""
        from portfolio.estimate.covariance import complete_covariance, is_psd

        risk = self.config.base.risk
        if self._daily is None or method not in _BLOCK_METHODS:
            return None
        window = self._daily_values[self._window_rows(i)][:, self._universe[available]]
        if len(window) < max(2, risk.min_observations) or np.isnan(window).any():
            return None
        block = complete_covariance(method, window, "daily", risk.half_life)
        if not is_psd(block):
            return None  # the general path repairs it and says so
        chosen = np.flatnonzero(available)
        padded = np.zeros((available.size, available.size))
        padded[np.ix_(chosen, chosen)] = block
        missing = np.flatnonzero(~available)
        padded[missing, missing] = np.max(np.diag(block))
        return padded

    def inputs(self, i: int, available: np.ndarray, spec: StrategySpec, rf: float,
               needs_returns: bool, data: Sequence[str] = ()) -> _Inputs:
        """Covariance (and expected returns when ``needs_returns``) for row ``i``.

        ``data`` names the objective data the strategy needs (``Objective.DATA``).
        """
        from portfolio.jobs.market import RiskInputs

        tickers = list(self.market.tickers)
        names = tuple(t for t, ok in zip(tickers, available) if ok)
        if not names:
            raise DataError("no name is available", str(self.market.dates[i].date()),
                            "no ticker has enough history yet", "use a later start")
        if not needs_returns and not _RETURNS_DATA.intersection(data):
            key = (i, names, spec.covariance, "complete")
            if key not in self._covariances:
                self._covariances = {key: self._complete_covariance(
                    i, available, spec.covariance)} | {
                    k: v for k, v in self._covariances.items() if k[0] == i}
            if self._covariances[key] is not None:
                return _Inputs(self._covariances[key], None, RiskInputs(
                    returns=None, covariance=None, expected_returns=None,
                    risk_free_rate=rf, available=names))
        returns = self.returns(i)
        estimate = self._covariance(i, names, spec.covariance, returns)
        mu = None
        if needs_returns:
            mu = self._mean(i, names, spec, returns, estimate.matrix, rf)
            mu = mu.reindex(tickers).fillna(0.0)
        risk_inputs = RiskInputs(returns=returns.fillna(0.0), covariance=estimate,
                                 expected_returns=mu, risk_free_rate=rf, available=names)
        # Names not available are padded (their weight is held at 0 by the problem's mask).
        return _Inputs(risk_inputs.padded_covariance(tickers), mu, risk_inputs)

    def _covariance(self, i: int, names: tuple[str, ...], method: str, returns: pd.DataFrame):
        key = (i, names, method)
        if key not in self._covariances:
            from portfolio.estimate.covariance import covariance

            risk = self.config.base.risk
            universe = returns[list(names)]
            rows = universe.notna().any(axis=1)
            factors = [f for f in risk.factors if f in returns.columns
                       and returns.loc[rows, f].notna().all()]
            self._covariances = {key: covariance(
                universe, method, frequency=risk.frequency, half_life=risk.half_life,
                factor_returns=returns.loc[rows, factors] if factors else None,
                ragged=risk.ragged, min_observations=risk.min_observations,
            )} | {k: v for k, v in self._covariances.items() if k[0] == i}
        return self._covariances[key]

    def _mean(self, i, names, spec, returns, matrix, rf) -> pd.Series:
        key = (i, names, spec.expected_returns, spec.covariance)
        if key not in self._means:
            from portfolio.estimate.expected import expected_returns

            base = self.config.base
            views = tuple(v for v in base.optimizer.views
                          if v.asset in names and (v.versus is None or v.versus in names))
            if spec.expected_returns != "black_litterman":
                views = ()
            self._means = {key: expected_returns(
                returns[list(names)], spec.expected_returns, frequency=base.risk.frequency,
                cov=matrix, market_returns=returns.get(base.benchmark), risk_free_rate=rf,
                views=views, half_life=base.risk.half_life, risk_aversion=None,
            )} | {k: v for k, v in self._means.items() if k[0] == i}
        return self._means[key]


class _EqualWeight:
    """Equal weight of the available names, fully invested."""

    rebalances = True
    limits: tuple[Any, ...] = ()

    def target(self, i: int, available: np.ndarray, market: _Market) -> tuple[np.ndarray, str]:
        count = int(available.sum())
        weights = available / count if count else np.zeros(len(available))
        return weights.astype(float), ""


class _BuyAndHold(_EqualWeight):
    """The inception's equal weight, never rebalanced."""

    rebalances = False


class _Optimized:
    """One compiled PortfolioProblem re-solved at each rebalance date."""

    rebalances = True

    def __init__(self, spec: StrategySpec, config: BacktestConfig, estimator: _Estimator) -> None:
        from portfolio.optimization.problem import PortfolioProblem
        from portfolio.jobs.market import _objective_options

        self.spec = spec
        self.config = config
        self.estimator = estimator
        self.limits = _limit_objects(config.base, spec.use_limits)
        base = config.base
        self.problem = PortfolioProblem(
            base.tickers, spec.objective, self.limits, solver=base.optimizer.solver,
            **_objective_options(base, spec.objective),
        )

    def target(self, i: int, available: np.ndarray, market: _Market) -> tuple[np.ndarray, str]:
        from portfolio.jobs.market import _objective_data

        rf = float(market.cash_rate.iloc[i])
        objective = self.problem.objective
        needs_returns = getattr(objective, "NEEDS_EXPECTED_RETURNS", False)
        inputs = self.estimator.inputs(i, available, self.spec, rf, needs_returns,
                                       objective.DATA)
        extra = _objective_data(self.config.base, self.spec.objective, inputs.risk_inputs)
        mu = inputs.expected_returns
        # Both inputs are in the problem's ticker order (the universe's); plain arrays
        # skip the optimiser's re-alignment on every solve.
        weights, info = self.problem.solve_weights(
            np.asarray(inputs.covariance, dtype=float),
            None if mu is None else mu.to_numpy(), available=available, **extra)
        return weights, info.solver


def _limit_objects(base: Config, use_limits: str) -> tuple[Any, ...]:
    if use_limits == "none":
        return ()
    limits = base.limits
    if use_limits == "caps":
        return (MaxWeight(limits.max_weight, MappingProxyType(dict(limits.max_weight_overrides))),
                CashFloor(limits.cash_floor))
    from portfolio.jobs.market import theme_exposures

    return constraints_from_config(base, exposures=theme_exposures(base))


def _rule(spec: StrategySpec, config: BacktestConfig, estimator: _Estimator):
    if spec.kind == "buy_and_hold":
        return _BuyAndHold()
    if spec.kind == "equal_weight":
        return _EqualWeight()
    return _Optimized(spec, config, estimator)


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

    def __init__(self, spec: StrategySpec, rule: Any, config: BacktestConfig, market: _Market,
                 first: int, last: int) -> None:
        self.spec, self.rule, self.config, self.market = spec, rule, config, market
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
        if not self.rule.rebalances:
            return None
        if self.config.rebalance != "drift":
            return "schedule" if scheduled else None
        return _drift_trigger(self.daily[j - 1], self.target, self.rule.limits, self.tickers,
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
                weights, solver = self.rule.target(i, market.available[i], market)
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
        config, spec = self.config, self.spec
        dates = self.market.dates[self.first: self.last + 1]
        equity = pd.Series(self.equity, index=dates, name=spec.name)
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
            name=spec.name, kind=spec.kind, equity=equity,
            returns=_equity_returns(equity, config.initial_capital),
            weights=weights, daily_weights=pd.DataFrame(self.daily, index=dates,
                                                        columns=self.columns),
            trades=trades, turnover=turnover, costs=costs,
            reasons=pd.Series(self.reasons, dtype=object, name="reason"),
            failures=tuple(self.failures), solvers=MappingProxyType(dict(self.solvers)),
            metrics=metrics,
        )


def _config_notes(config: BacktestConfig) -> list[str]:
    notes = []
    uses_all = any(s.use_limits == "all" for s in config.strategies)
    if uses_all and config.base.limits.max_turnover is not None:
        notes.append("limits.max_turnover of the base config is not applied in backtests.")
    if uses_all and config.base.optimizer.transaction_cost_bps:
        notes.append("optimizer.transaction_cost_bps of the base config is not applied in "
                     "backtests; trading costs come from cost_bps and min_fee.")
    if uses_all and config.base.limits.theme_caps:
        notes.append("The theme caps use today's deal graph at every date (it has no history).")
    return notes


def _frame_hash(prices: pd.DataFrame) -> str:
    """SHA-256 of the price frame's labels and values (pandas' row hashes, not a CSV dump)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(prices, index=True).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, prices.columns)).encode("utf-8"))
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    """A copy of :func:`_installed_versions` for one manifest."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Versions of Python and the packages of the run (looked up once per process)."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("portfolio-ai-infra", "cvxpy", "clarabel", "osqp", "numpy", "pandas",
                 "scikit-learn"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def backtest(
    config_or_path: BacktestConfig | str | Path,
    *,
    options: DataOptions | None = None,
    market: MarketData | PriceFrame | pd.DataFrame | None = None,
    on_progress: Callable[[int, int], None] | None = None,
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
        ``on_progress(done, total)`` in trading days simulated (every strategy steps
        through each day together).

    Returns
    -------
    BacktestResult

    Raises
    ------
    ConfigError
        Invalid config (also an objective missing from the registry).
    DataError
        Missing prices, or not enough history for the lookback anywhere in the data.
    """
    started = time.perf_counter()
    options = options or DataOptions()
    config = (config_or_path if isinstance(config_or_path, BacktestConfig)
              else load_backtest(config_or_path))
    frame = _price_frame(config, options, market)
    prices = _checked_prices(config, frame)
    notes = _config_notes(config)
    if market is not None and options.as_of is not None:
        prices = prices.loc[: pd.Timestamp(options.as_of)]
    mkt, first, last = _build_market(config, prices, notes)
    dates = mkt.dates[first: last + 1]
    scheduled = np.zeros(len(mkt.dates), dtype=bool)
    if config.rebalance != "drift":
        chosen = set(walk_forward_dates(mkt.dates, dates[0], dates[-1], config.rebalance))
        scheduled = mkt.dates.isin(list(chosen))

    benchmark_prices = prices[list(config.benchmarks)].ffill().loc[dates]
    unpriced = [b for b in config.benchmarks if not np.isfinite(benchmark_prices[b].iloc[0])]
    if unpriced:
        raise DataError(
            f"no price for benchmark {', '.join(unpriced)} at the start",
            f"{config.source}, key benchmarks", f"the backtest starts {dates[0].date()}",
            "choose a benchmark listed before the start")
    benchmarks = config.initial_capital * benchmark_prices / benchmark_prices.iloc[0]
    lead_returns = _equity_returns(benchmarks[config.benchmarks[0]], config.initial_capital)
    rates = mkt.cash_rate.loc[dates]
    benchmark_metrics = {b: performance_metrics(benchmarks[b], config.initial_capital, rates,
                                                lead_returns) for b in config.benchmarks}

    estimator = _Estimator(config, mkt)
    books = [_Book(spec, _rule(spec, config, estimator), config, mkt, first, last)
             for spec in config.strategies]
    # A calendar schedule trades only on its dates (and at inception): the days between
    # two of them drift in one vectorised pass. A drift band checks every day.
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
    results = {book.spec.name: book.result(lead_returns) for book in books}

    solvers: Counter[str] = Counter()
    for result in results.values():
        solvers.update(result.solvers)
    manifest = {
        "config": {"source": config.source, "sha256": config.config_hash,
                   "base_config": config.base_source,
                   "base_config_sha256": config.base_config_hash},
        "data": {"source": frame.source, "notice": frame.notice, "sha256": _frame_hash(prices),
                 "first_date": prices.index[0].date().isoformat(),
                 "last_date": prices.index[-1].date().isoformat(),
                 "tickers": list(prices.columns)},
        "versions": _versions(),
        "solver": {"setting": config.base.optimizer.solver, "used": dict(solvers)},
        "start": dates[0].date().isoformat(),
        "end": dates[-1].date().isoformat(),
        "strategies": [spec.name for spec in config.strategies],
        "runtime_seconds": round(time.perf_counter() - started, 3),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return BacktestResult(
        config=config, strategies=MappingProxyType(results), benchmarks=benchmarks,
        benchmark_metrics=MappingProxyType(benchmark_metrics), cash_rate=rates,
        start=dates[0], end=dates[-1], notes=tuple(notes), data_notice=frame.notice,
        manifest=MappingProxyType(manifest),
    )



# =========================================================================== outputs


def write_backtest_outputs(result: BacktestResult, folder: str | Path) -> list[Path]:
    """Write the output folder of a backtest (all files or none).

    Files: ``metrics.json`` ({strategy: {cagr, volatility, sharpe, ...}}), ``equity.csv``,
    ``weights.csv``, ``trades.csv``, ``equity.png``, ``drawdowns.png``,
    ``weights_<strategy>.png`` (one per strategy), ``report.md`` (metrics tables and the
    plots by relative path) and ``manifest.json``.

    Parameters
    ----------
    result : BacktestResult
        From :func:`backtest`.
    folder : str or Path
        Created (with parents) if missing; existing files of the same names are replaced.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        When the folder cannot be created or written; the folder is then as it was
        (:func:`portfolio.data.output.write_files`: every file is written in full
        before any is put in place).
    """
    from portfolio.data.output import write_files
    from portfolio.report import backtest as report

    # Everything is rendered before the folder is touched.
    plots = report.backtest_plots(result)
    contents: dict[str, str | bytes] = {
        "metrics.json": report.metrics_json(result),
        "equity.csv": report.equity_csv(result),
        "weights.csv": report.weights_csv(result),
        "trades.csv": report.trades_csv(result),
        **plots,
        "report.md": report.backtest_markdown(result, tuple(plots)),
        "manifest.json": report.manifest_json(result),
    }
    return write_files(folder, contents)
