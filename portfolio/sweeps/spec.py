"""Sweep files (``config/sweeps/*.toml``): a base backtest and the parameters to vary.

A sweep file names a backtest file (``backtest``), optionally the strategies of it that
every variant runs (``strategies``, default all), overrides for every variant
(``[fixed]``) and exactly one of ``[grid]``, ``[[variants]]`` or ``[random]``
(:mod:`portfolio.sweeps.expand`). ``[sweep] scheduler`` names a Dask scheduler to run on;
``[report]`` chooses the ranking metric, the scatter plot's axes and the heatmap's
parameters.

Parameters are dotted names:

* a key of the backtest file: ``lookback_days``, ``rebalance``, ``drift_threshold``,
  ``cost_bps``, ``start``, ...;
* a key of its base portfolio config, by section: ``limits.max_weight``,
  ``limits.cash_floor``, ``limits.group_caps.semiconductors``, ``risk.method``,
  ``optimizer.objective``; an array of tables is entered by an item's ``name``
  (``limits.theme_caps.openai_lookthrough.cap``) or index;
* ``strategy.<key>``: a key of every strategy the sweep runs (``strategy.covariance``,
  ``strategy.objective``, ``strategy.use_limits``).

Every variant is validated when the file is loaded, by the backtest and config parsers
themselves; an error names the sweep file, the parameter's key and line, and the variant.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from portfolio.backtesting.spec import BacktestConfig, parse_backtest
from portfolio.config import Table, default_config_path, parse_config
from portfolio.data.tomlfile import read_toml
from portfolio.data.tomllines import read_toml_with_lines
from portfolio.errors import ConfigError, did_you_mean
from portfolio.jobs.limits import theme_exposures
from portfolio.sweeps.expand import Point, flatten, points

__all__ = [
    "BASE_SECTIONS",
    "METRICS",
    "SweepConfig",
    "Variant",
    "load_sweep",
    "parameter_label",
    "parse_sweep",
]

BASE_SECTIONS = ("universe", "groups", "limits", "risk", "optimizer", "trading", "data",
                 "ecosystem", "stress")
"""Tables of a portfolio config (``config/default.toml``) a parameter may name first."""

METRICS = {
    "sharpe": True, "sortino": True, "cagr": True, "calmar": True, "final_value": True,
    "volatility": False, "max_drawdown": False, "turnover": False, "annual_turnover": False,
    "cost_drag": False, "total_costs": False, "tracking_error": False, "beta": False,
    "failures": False,
}
"""Metrics a sweep ranks and plots by, and whether a higher value ranks first."""


@dataclass(frozen=True, eq=False)
class Variant:
    """One backtest of a sweep.

    Attributes
    ----------
    index : int
        Position in the sweep (from 1).
    parameters : tuple of (str, value)
        The swept parameters and this variant's values.
    config : BacktestConfig
        The validated backtest with the values applied, running the sweep's strategies.
    exposures : Mapping
        Hub -> ticker -> look-through exposure for theme caps (empty when unused), so a
        worker need not read the deal graph.
    fingerprint : str
        sha256 of the variant's full effective config (backtest, base config, exposures).
    """

    index: int
    parameters: tuple[tuple[str, Any], ...]
    config: BacktestConfig
    exposures: Mapping[str, Mapping[str, float]]
    fingerprint: str

    @property
    def label(self) -> str:
        """``limits.max_weight=0.2, rebalance=monthly``."""
        return parameter_label(self.parameters)


@dataclass(frozen=True, eq=False)
class SweepConfig:
    """A validated sweep file.

    Attributes
    ----------
    source : str
        The sweep file (used in messages).
    backtest_source : str
        The base backtest file.
    mode : str
        ``grid``, ``variants`` or ``random``.
    parameters : tuple of str
        Every swept parameter, in order of first appearance.
    variants : tuple of Variant
        In sweep order.
    strategies : tuple of str
        Strategy names every variant runs.
    rank_by : str
        Default ranking metric (a key of :data:`METRICS`).
    scatter : tuple of (str, str)
        Metrics on the scatter plot's x and y axes.
    heatmap : tuple of (str, str) or None
        Two swept parameters for the heatmap (None: fewer than two vary).
    scheduler : str or None
        Address of a Dask scheduler from ``[sweep] scheduler``.
    config_hash : str
        sha256 of the sweep file's bytes (of its canonical JSON when parsed from a mapping).
    """

    source: str
    backtest_source: str
    mode: str
    parameters: tuple[str, ...]
    variants: tuple[Variant, ...]
    strategies: tuple[str, ...]
    rank_by: str = "sharpe"
    scatter: tuple[str, str] = ("max_drawdown", "cagr")
    heatmap: tuple[str, str] | None = None
    scheduler: str | None = None
    config_hash: str = ""

    @property
    def market_tickers(self) -> tuple[str, ...]:
        """Every ticker some variant needs (universe, benchmarks, factors)."""
        tickers = (t for v in self.variants for t in v.config.market_tickers)
        return tuple(dict.fromkeys(tickers))

    @property
    def end(self) -> str | None:
        """The latest end of any variant (None: as late as the data allow)."""
        ends = [v.config.end for v in self.variants]
        return None if None in ends else max(ends)


class _Lined(Table):
    """A :class:`Table` whose error locations also give the line of the key."""

    def __init__(self, data: Any, source: str, key: str, lines: Mapping[str, int]) -> None:
        super().__init__(data, source, key)
        self.lines = lines

    def where(self, name: str) -> str:
        """``<file>, key <dotted>, line <n>`` (no line when it cannot be found)."""
        dotted = f"{self.key}.{name}" if self.key else name
        line = self.lines.get(dotted)
        return f"{self.source}, key {dotted}" + (f", line {line}" if line else "")

    def table(self, name: str) -> _Lined:
        """A sub-table (empty when absent), with lines."""
        dotted = f"{self.key}.{name}" if self.key else name
        return _Lined(self.raw(name, {}), self.source, dotted, self.lines)

    def tables(self, name: str) -> list[Table]:
        """An array of tables, with lines."""
        return [_Lined(t.data, t.source, t.key, self.lines) for t in super().tables(name)]


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file, every variant included.

    Parameters
    ----------
    path : str or Path
        The sweep TOML file; ``backtest`` is resolved against its folder.

    Returns
    -------
    SweepConfig

    Raises
    ------
    ConfigError
        Missing or malformed file, unknown key, bad value, a variant its backtest or base
        config rejects -- naming the file, the key and its line.
    """
    path = Path(path)
    data, lines = read_toml_with_lines(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return parse_sweep(data, source=str(path), base_dir=path.parent, lines=lines,
                       content_hash=digest)


def parse_sweep(
    data: Mapping[str, Any],
    source: str = "<sweep>",
    base_dir: Path | None = None,
    *,
    lines: Mapping[str, int] | None = None,
    content_hash: str | None = None,
) -> SweepConfig:
    """Validate a sweep mapping (the parsed TOML) and every variant it describes.

    Reads the backtest file, its base config and the deal graph (when a theme cap is
    used); nothing else.

    Parameters
    ----------
    data : Mapping
        Parsed TOML document.
    source : str
        File name used in error messages.
    base_dir : Path, optional
        Folder against which ``backtest`` is resolved (default: working directory).
    lines : Mapping, optional
        Line of each dotted key (:func:`portfolio.data.tomllines.key_lines`).
    content_hash : str, optional
        sha256 of the file's bytes; default the sha256 of ``data`` as canonical JSON.

    Returns
    -------
    SweepConfig

    Raises
    ------
    ConfigError
        As :func:`load_sweep`.
    """
    root = _Lined(dict(data), source, "", lines or {})
    backtest_path = _path(root, "backtest", base_dir)
    backtest_data = read_toml(backtest_path)
    base_path = _base_path(backtest_data, backtest_path)
    base_data = read_toml(base_path)
    strategies = _strategies(root, backtest_data)
    scheduler = _scheduler(root.table("sweep"))
    fixed_table = root.table("fixed")
    fixed = flatten({name: fixed_table.raw(name) for name in list(fixed_table.data)})
    mode, found = points(root)
    report = root.table("report")
    context = _Context(root, backtest_path, backtest_data, base_path, base_data, strategies,
                       fixed)
    variants = tuple(context.variant(i, point) for i, point in enumerate(found, start=1))
    parameters = tuple(dict.fromkeys(name for v in variants for name, _ in v.parameters))
    rank_by, scatter, heatmap = _report(report, variants, parameters)
    root.finish()
    return SweepConfig(
        source=source, backtest_source=str(backtest_path), mode=mode, parameters=parameters,
        variants=variants, strategies=strategies, rank_by=rank_by, scatter=scatter,
        heatmap=heatmap, scheduler=scheduler,
        config_hash=content_hash or _digest(data),
    )


def _path(root: Table, key: str, base_dir: Path | None) -> Path:
    name = root.string(key, None)
    if not name:
        raise ConfigError(f"missing key '{key}'", root.where(key),
                          "a sweep varies a backtest file",
                          'add backtest = "../backtests/ai_policy.toml"')
    path = Path(name)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.is_file():
        raise ConfigError("backtest file not found", root.where(key), f"no such file {path}",
                          "give a path relative to the sweep file")
    return path


def _base_path(backtest_data: Mapping[str, Any], backtest_path: Path) -> Path:
    """The base config file a backtest names (as :func:`parse_backtest` resolves it)."""
    name = backtest_data.get("base_config")
    if not isinstance(name, str):
        return default_config_path()
    path = Path(name)
    return path if path.is_absolute() else backtest_path.parent / path


def _strategies(root: Table, backtest_data: Mapping[str, Any]) -> tuple[str, ...]:
    items = backtest_data.get("strategies")
    names = [item.get("name") for item in items or [] if isinstance(item, dict)]
    chosen = root.strings("strategies", names)
    for name in chosen:
        if name not in names:
            raise ConfigError(f"unknown strategy '{name}'", root.where("strategies"),
                              f"the backtest has {', '.join(map(str, names)) or 'none'}",
                              did_you_mean(name, map(str, names)) or "use one of them")
    if not chosen:
        raise root.error("strategies", "a sweep runs at least one strategy",
                         "name one of the backtest's strategies, or leave the key out")
    if len(set(chosen)) < len(chosen):
        raise root.error("strategies", "a strategy is listed twice", "list each once")
    return tuple(chosen)


def _scheduler(table: Table) -> str | None:
    scheduler = table.string("scheduler", None)
    table.finish()
    if scheduler is not None and not scheduler.strip():
        raise table.error("scheduler", "an empty address",
                          'write scheduler = "tcp://HOST:8786" or remove it')
    return scheduler


class _Context:
    """What every variant starts from: the files' mappings, the strategies, the fixed values."""

    def __init__(self, root: _Lined, backtest_path: Path, backtest_data: Mapping[str, Any],
                 base_path: Path, base_data: Mapping[str, Any], strategies: tuple[str, ...],
                 fixed: Mapping[str, Any]) -> None:
        self.root, self.backtest_path, self.base_path = root, backtest_path, base_path
        self.backtest_data = dict(backtest_data)
        self.backtest_data["strategies"] = [
            item for item in backtest_data.get("strategies", [])
            if isinstance(item, dict) and item.get("name") in strategies]
        self.base_data = base_data
        self.fixed = fixed
        self._exposures: dict[str, Mapping[str, Mapping[str, float]]] = {}

    def variant(self, index: int, point: Point) -> Variant:
        """Apply the fixed values and the point, validate, fingerprint."""
        backtest, base = copy.deepcopy(self.backtest_data), copy.deepcopy(dict(self.base_data))
        origins = {**dict.fromkeys(self.fixed, "fixed"), **{n: point.origin
                                                            for n, _ in point.values}}
        for name, value in (*self.fixed.items(), *point.values):
            _apply(name, value, backtest, base, self._where(origins[name], name))
        label = parameter_label(point.values)
        try:
            parsed_base = parse_config(base, source=str(self.base_path),
                                       base_dir=self.base_path.parent)
            config = parse_backtest(backtest, source=f"{self.root.source} (variant {index})",
                                    base_dir=self.backtest_path.parent, base=parsed_base,
                                    reference=False)
        except ConfigError as error:
            raise self._blame(error, index, label, origins, point.origin) from None
        exposures = self.exposures(config)
        fingerprint = _digest({"backtest": backtest, "base": base, "exposures": exposures})
        config = replace(config, config_hash=fingerprint)
        return Variant(index, point.values, config, exposures, fingerprint)

    def exposures(self, config: BacktestConfig) -> Mapping[str, Mapping[str, float]]:
        """Theme-cap exposures when a strategy uses every limit (read once per deal graph)."""
        base = config.base
        if not base.limits.theme_caps or all(s.use_limits != "all" for s in config.strategies):
            return {}
        key = _digest([str(base.ecosystem.file), base.ecosystem.damping, base.tickers,
                       sorted(spec.hub for spec in base.limits.theme_caps)])
        if key not in self._exposures:
            self._exposures[key] = theme_exposures(base)
        return self._exposures[key]

    def _where(self, origin: str, name: str) -> str:
        return self.root.where(f"{origin}.{name}")

    def _blame(self, error: ConfigError, index: int, label: str, origins: Mapping[str, str],
               origin: str) -> ConfigError:
        """The error of a variant, placed at the parameter it is about (or the variant)."""
        match = re.search(r", keys? ([^,\s]+)", error.where or "")
        key = match[1] if match else ""
        key = re.sub(r"^strategies\[\d+\]\.", "strategy.", key)
        blamed = next((name for name in origins if key == name or key.startswith(f"{name}.")
                       or name.startswith(f"{key}.")), None)
        where = (self._where(origins[blamed], blamed) if blamed
                 else self.root.where(origin.split(".")[0]))
        what = f"variant {index}" + (f" ({label})" if label else "") + f": {error.what}"
        return ConfigError(what, where, error.why, error.fix)


def _apply(name: str, value: Any, backtest: dict[str, Any], base: dict[str, Any],
           where: str) -> None:
    """Set parameter ``name`` to ``value`` in the backtest or base config mapping."""
    head, _, rest = name.partition(".")
    value = copy.deepcopy(value)
    if head == "strategy":
        if not rest or "." in rest or rest == "name":
            raise ConfigError(f"invalid parameter '{name}'", where,
                              "strategy.<key> sets one key of every strategy swept",
                              "use e.g. strategy.covariance (names come from the backtest)")
        for item in backtest["strategies"]:
            item[rest] = value
    elif head == "data":
        raise ConfigError(f"parameter '{name}' cannot be swept", where,
                          "prices are loaded once for the whole sweep",
                          "set [data] in the base config")
    elif head in BASE_SECTIONS:
        _set_path(base, name.split("."), value, where)
    elif rest:
        hint = did_you_mean(head, (*BASE_SECTIONS, "strategy"))
        raise ConfigError(f"unknown parameter '{name}'", where,
                          f"'{head}' is neither a section of the base config nor 'strategy'",
                          hint or f"start with one of {', '.join(BASE_SECTIONS)} or strategy")
    elif head in ("base_config", "strategies"):
        raise ConfigError(f"parameter '{name}' cannot be swept", where,
                          "a sweep varies one backtest's settings",
                          "choose the strategies with the sweep's strategies key")
    else:
        backtest[head] = value


def _set_path(mapping: dict[str, Any], parts: list[str], value: Any, where: str) -> None:
    node: Any = mapping
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            found = [item for i, item in enumerate(node) if isinstance(item, dict)
                     and (item.get("name") == part or str(i) == part)]
            if not found:
                raise ConfigError(f"no item '{part}' in {'.'.join(parts[:depth])}", where,
                                  "an array of tables is entered by an item's name or index",
                                  "check the name in the base config")
            node = found[0]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"'{'.'.join(parts[:depth])}' is not a table", where,
                              "only tables have keys", "check the parameter's name")
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise ConfigError(f"'{'.'.join(parts[:-1])}' is not a table", where,
                          "only tables have keys", "check the parameter's name")
    node[parts[-1]] = value


def _report(table: Table, variants: tuple[Variant, ...], parameters: tuple[str, ...]
            ) -> tuple[str, tuple[str, str], tuple[str, str] | None]:
    metrics = tuple(METRICS)
    rank_by = table.string("rank_by", "sharpe", metrics)
    scatter = table.strings("scatter", ("max_drawdown", "cagr"))
    if len(scatter) != 2 or any(m not in METRICS for m in scatter):
        raise table.error("scatter", f"two metrics among {', '.join(metrics)}",
                          'e.g. scatter = ["max_drawdown", "cagr"]')
    varying = [name for name in parameters
               if len({repr(dict(v.parameters).get(name)) for v in variants}) > 1]
    heatmap = table.strings("heatmap", varying[:2] if len(varying) > 1 else ())
    table.finish()
    if heatmap and (len(heatmap) != 2 or any(p not in parameters for p in heatmap)):
        raise table.error("heatmap", f"two swept parameters among {', '.join(parameters)}",
                          "name two parameters of the grid")
    return rank_by, (scatter[0], scatter[1]), (heatmap[0], heatmap[1]) if heatmap else None


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parameter_label(parameters: Iterable[tuple[str, Any]]) -> str:
    """Parameters as text: ``limits.max_weight=0.2, rebalance=monthly``."""
    return ", ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in parameters)
