"""Backtest files (``config/backtests/*.toml``): validated once into a frozen BacktestConfig.

A backtest file names a portfolio config for the universe, groups, limits and risk
settings (``base_config``), the period, the rebalancing rule, costs, benchmarks and a list
of strategies. Every error names the file and the key; unknown keys are errors with a
"did you mean".

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

Every backtest holds an equal-weight strategy for reference: when the file has none,
``Equal weight (reference)`` is added (``reference = true`` on its spec).

Hindsight: ``universe_chosen`` (ISO date; default the base config's ``[universe]
chosen`` unless the file overrides ``tickers``) says when the names were picked. A
backtest starting before it, or without it, carries a note that the universe may be
chosen with hindsight.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from portfolio.config import (
    COVARIANCE_METHODS,
    EXPECTED_RETURN_METHODS,
    OBJECTIVES,
    Config,
    Table,
    backtest_path,
    check_lookback,
    default_config_path,
    load_config,
    with_universe,
)
from portfolio.data.tomlfile import read_toml
from portfolio.errors import ConfigError, did_you_mean
from portfolio.weights import CASH

__all__ = [
    "LIMIT_SETS",
    "SCHEDULES",
    "STRATEGY_KINDS",
    "BacktestConfig",
    "StrategySpec",
    "backtest_with_tickers",
    "check_strategy_names",
    "load_backtest",
    "parse_backtest",
    "strategy_slug",
]

SCHEDULES = ("weekly", "monthly", "quarterly", "drift")


STRATEGY_KINDS = (
    "buy_and_hold", "equal_weight", "min_variance", "risk_parity", "max_sharpe", "policy",
)


OPTIMIZED_KINDS = ("min_variance", "risk_parity", "max_sharpe", "policy")


LIMIT_SETS = ("all", "caps", "none")


REFERENCE_NAME = "Equal weight (reference)"
"""The equal-weight strategy added to a backtest that has none."""


DEFAULT_LIMITS = {"min_variance": "caps", "max_sharpe": "caps", "risk_parity": "none",
                  "policy": "all"}


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
    reference : bool
        Added by the parser for comparison (not in the file).
    """

    name: str
    kind: str
    objective: str | None = None
    covariance: str = "ledoit_wolf"
    expected_returns: str = "james_stein"
    use_limits: str = "none"
    reference: bool = False


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
    universe_chosen : str or None
        ISO date the universe was picked (module docstring); None: unknown.
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
    universe_chosen: str | None = None

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
        The backtest file, or the name of a packaged one (``"ai_policy"``, see
        :func:`portfolio.config.paths.backtest_path`); ``base_config`` is resolved against
        its folder.

    Returns
    -------
    BacktestConfig

    Raises
    ------
    ConfigError
        Missing file, malformed TOML, unknown key, bad value -- naming file and key.
    """
    path = backtest_path(path)
    data = read_toml(path)
    return parse_backtest(data, source=str(path), base_dir=path.parent,
                          content_hash=_file_hash(path))


def parse_backtest(
    data: Mapping[str, Any],
    source: str = "<backtest>",
    base_dir: Path | None = None,
    *,
    content_hash: str | None = None,
    base: Config | None = None,
    reference: bool = True,
) -> BacktestConfig:
    """Validate a backtest mapping (the parsed TOML).

    The only I/O is loading the base config named by ``base_config`` (through
    :func:`portfolio.config.load_config`), unless ``base`` is given.

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
    base : Config, optional
        The base config already validated (a sweep's variant of the file ``base_config``
        names); used instead of loading that file. ``tickers`` still applies to it.
    reference : bool
        Add ``Equal weight (reference)`` when no strategy is equal weight (the module
        docstring); a sweep, which ranks the strategies it names, passes False.

    Returns
    -------
    BacktestConfig

    Raises
    ------
    ConfigError
        On any unknown key (with a "did you mean"), wrong type or inconsistent value.
    """
    root = Table(dict(data), source, "")
    base_path, base = _base_config(root, base_dir, base)
    start, end = _date(root, "start"), _date(root, "end")
    if start is not None and end is not None and start >= end:
        raise ConfigError(
            f"start {start} is not before end {end}", root.where("start"),
            "the backtest needs a period", "set start earlier than end",
        )
    lookback = root.integer("lookback_days", base.risk.lookback_days, low=20)
    check_lookback(root, "lookback_days", lookback, base.risk.frequency,
                   "risk.frequency of the base config")
    min_history = root.integer("min_history_days", base.risk.min_observations, low=3)
    rebalance = root.string("rebalance", "monthly", SCHEDULES)
    drift_threshold, limit_tolerance = _drift_settings(root, rebalance)
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
    check_strategy_names([s.name for s in strategies], benchmarks,
                         lambda i: f"{source}, key strategies[{i}].name")
    if reference and not any(s.kind == "equal_weight" for s in strategies):
        strategies += (_reference_strategy([s.name for s in strategies]),)
    chosen = (_date(root, "universe_chosen") if root.has("universe_chosen")
              else None if root.has("tickers") else base.universe_chosen)
    root.finish()
    return BacktestConfig(
        source=source, base=base, base_source=str(base_path), strategies=strategies,
        start=start, end=end, lookback_days=lookback, min_history_days=min_history,
        rebalance=rebalance, drift_threshold=drift_threshold, limit_tolerance=limit_tolerance,
        initial_capital=initial, cost_bps=cost_bps, min_fee=min_fee, benchmarks=benchmarks,
        cash_yield=cash_yield, universe_chosen=chosen,
        config_hash=content_hash or _mapping_hash(data),
        base_config_hash=_file_hash(base_path),
    )


def _reference_strategy(names: Sequence[str]) -> StrategySpec:
    """``Equal weight (reference)``, renamed if the file already uses that name."""
    name, number = REFERENCE_NAME, 2
    while name in names:
        name, number = f"{REFERENCE_NAME} {number}", number + 1
    return StrategySpec(name=name, kind="equal_weight", reference=True)


def _base_config(root: Table, base_dir: Path | None, base: Config | None
                 ) -> tuple[Path, Config]:
    """The path and the validated portfolio config of ``base_config`` (with ``tickers``).

    ``base``, when given, is that config already validated (it is not read again).
    """
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
    base = base if base is not None else load_config(base_path)
    if root.has("tickers"):  # the same restriction as --tickers (group limits kept or dropped)
        base, _ = with_universe(base, root.tickers("tickers"), root.where("tickers"))
    return base_path, base


def backtest_with_tickers(config: BacktestConfig, tickers: str | Sequence[str],
                          where: str = "--tickers") -> tuple[BacktestConfig, tuple[str, ...]]:
    """``config`` run on another universe, and notes on the settings that no longer apply.

    The base config is restricted by :func:`portfolio.config.with_universe`; benchmarks,
    strategies and the schedule are unchanged.
    """
    base, notes = with_universe(config.base, tickers, where)
    return replace(config, base=base), notes


def _drift_settings(root: Table, rebalance: str) -> tuple[float, float]:
    """``drift_threshold`` and ``limit_tolerance`` (only allowed with ``rebalance = "drift"``)."""
    if rebalance == "drift":
        drift_threshold = root.fraction("drift_threshold", 0.05)
        limit_tolerance = root.fraction("limit_tolerance", 0.01)
        if drift_threshold <= 0:
            raise root.error("drift_threshold", "must be above 0", "e.g. drift_threshold = 0.05")
        return drift_threshold, limit_tolerance
    for key in ("drift_threshold", "limit_tolerance"):
        if root.has(key):
            root.raw(key)
            raise root.error(key, 'only used with rebalance = "drift"',
                             f'remove {key} or set rebalance = "drift"')
    return 0.05, 0.01


def check_strategy_names(names: Sequence[str], benchmarks: Sequence[str],
                         where: Callable[[int], str]) -> None:
    """Raise a :class:`ConfigError` for a repeated name, one that shares a file, or a taken one.

    ``where(i)`` names the place of the ``i``-th name (a config key, a strategy object).
    """
    slugs = [strategy_slug(name) for name in names]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(f"duplicate strategy name '{name}'", where(i),
                              "names label columns and files", "give each strategy its own name")
        first = slugs.index(slugs[i])
        if first != i:
            raise ConfigError(
                f"strategy name '{name}' gives the same plot file as '{names[first]}'",
                where(i), f"both would be written to weights_{slugs[i]}.png",
                "make the names differ in letters or digits")
        if name in benchmarks or name == CASH:
            raise ConfigError(f"strategy name '{name}' is taken", where(i),
                              "benchmarks and CASH use that label", "choose another name")


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


def strategy_slug(name: str) -> str:
    """A strategy name as a file name: ``"Min variance (capped)"`` -> ``min_variance_capped``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "strategy"
