"""Typed, frozen configuration, validated once.

``load_config(path)`` is the only place a TOML file is read (through :func:`read_toml`);
``parse_config(mapping, source)`` is pure. Every error names the file and the key,
says why the value is wrong and how to fix it. Unknown keys are errors with a
"did you mean" suggestion.

Units: every limit is a fraction of portfolio value (``0.20`` means 20 %), never a
percent. Lookbacks are in trading days (rows of the daily price table).

This module is light (standard library only) so that the CLI can import it cheaply.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from portfolio.errors import ConfigError

__all__ = [
    "COVARIANCE_METHODS",
    "EXPECTED_RETURN_METHODS",
    "OBJECTIVES",
    "Config",
    "CustomScenario",
    "DataSettings",
    "EcosystemSettings",
    "Limits",
    "OptimizerSettings",
    "RiskSettings",
    "StressSettings",
    "ThemeCapSpec",
    "TradingSettings",
    "View",
    "default_config_path",
    "load_config",
    "packaged_config_path",
    "parse_config",
    "read_toml",
]

COVARIANCE_METHODS = ("sample", "ledoit_wolf", "oas", "ewma", "factor")
EXPECTED_RETURN_METHODS = ("none", "historical", "ewma", "james_stein", "capm", "black_litterman")
OBJECTIVES = (
    "min_variance",
    "max_sharpe",
    "utility",
    "risk_parity",
    "max_diversification",
    "min_cvar",
    "min_tracking_error",
)
FREQUENCIES = ("daily", "weekly", "monthly")
RAGGED_POLICIES = ("auto", "pairwise", "factor")
SOLVERS = ("auto", "CLARABEL", "OSQP", "SCS")
CASH = "CASH"


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class View:
    """An investor view for Black-Litterman.

    Attributes
    ----------
    asset : str
        Ticker the view is about.
    value : float
        Annual return as a fraction (absolute view, ``0.15`` = +15 % a year), or the
        annual outperformance of ``asset`` over ``versus`` (relative view).
    confidence : float
        Confidence in (0, 1]; 1 means the view holds exactly.
    versus : str or None
        For a relative view, the ticker that ``asset`` beats by ``value``.
    """

    asset: str
    value: float
    confidence: float
    versus: str | None = None

    @property
    def is_relative(self) -> bool:
        """Whether the view compares two assets."""
        return self.versus is not None


@dataclass(frozen=True)
class ThemeCapSpec:
    """A cap on the portfolio's look-through exposure to a hub of the deal graph.

    Attributes
    ----------
    name : str
        Label used in reports, e.g. ``"openai_lookthrough"``.
    hub : str
        Entity of the ecosystem graph, e.g. ``"OpenAI"``.
    cap : float
        Maximum of ``sum_i w_i * exposure_i`` (fraction).
    """

    name: str
    hub: str
    cap: float


@dataclass(frozen=True)
class Limits:
    """Concentration and liquidity limits, all fractions of portfolio value.

    Attributes
    ----------
    max_weight : float
        Cap on every single name.
    min_weight : float
        Floor on every single name (0 = the name may be left out).
    max_weight_overrides, min_weight_overrides : Mapping[str, float]
        Per-ticker caps / floors replacing the global ones.
    group_caps, group_floors : Mapping[str, float]
        Cap / floor on the summed weight of a group of ``Config.groups``.
    cash_floor : float
        Minimum cash weight (liquidity).
    max_turnover : float or None
        Maximum one-way turnover ``sum |w - w_current| / 2`` against current weights.
    theme_caps : tuple of ThemeCapSpec
        Look-through exposure caps (see :mod:`portfolio.analytics.exposure`).
    """

    max_weight: float = 1.0
    min_weight: float = 0.0
    max_weight_overrides: Mapping[str, float] = field(default_factory=dict)
    min_weight_overrides: Mapping[str, float] = field(default_factory=dict)
    group_caps: Mapping[str, float] = field(default_factory=dict)
    group_floors: Mapping[str, float] = field(default_factory=dict)
    cash_floor: float = 0.0
    max_turnover: float | None = None
    theme_caps: tuple[ThemeCapSpec, ...] = ()

    def cap_of(self, ticker: str) -> float:
        """Return the weight cap that applies to ``ticker`` (fraction)."""
        return self.max_weight_overrides.get(ticker, self.max_weight)

    def floor_of(self, ticker: str) -> float:
        """Return the weight floor that applies to ``ticker`` (fraction)."""
        return self.min_weight_overrides.get(ticker, self.min_weight)


@dataclass(frozen=True)
class RiskSettings:
    """How risk is estimated.

    Attributes
    ----------
    method : str
        Covariance estimator, one of ``COVARIANCE_METHODS``.
    lookback_days : int
        Trading days of history used (daily rows before the as-of date).
    frequency : str
        Return frequency: ``daily``, ``weekly`` or ``monthly``.
    half_life : float
        EWMA half-life in periods of ``frequency``.
    min_observations : int
        Names with fewer return observations in the lookback are flagged.
    ragged : str
        Policy for names with short histories: ``auto``, ``pairwise`` or ``factor``.
    factors : tuple of str
        Factor tickers (e.g. SPY, SMH) for the factor model and short-history fill-in.
    """

    method: str = "ledoit_wolf"
    lookback_days: int = 756
    frequency: str = "daily"
    half_life: float = 63.0
    min_observations: int = 126
    ragged: str = "auto"
    factors: tuple[str, ...] = ("SPY", "SMH")


@dataclass(frozen=True)
class OptimizerSettings:
    """Objective and its inputs.

    Attributes
    ----------
    objective : str
        One of ``OBJECTIVES``.
    expected_returns : str
        One of ``EXPECTED_RETURN_METHODS``.
    risk_aversion : float
        Risk aversion of the mean-variance utility objective.
    risk_free_rate : float or None
        Annual fraction; None means the bundled 3-month T-bill yield at the as-of date.
    l2_gamma : float
        L2 regularisation strength (0 = off).
    transaction_cost_bps : float
        Linear transaction cost in the objective, basis points of traded weight.
    solver : str
        ``auto`` (Clarabel, falling back to OSQP then SCS) or a solver name.
    cvar_confidence : float
        Confidence level of the minimum-CVaR objective.
    tracking_benchmark : str or None
        Ticker tracked by ``min_tracking_error`` (default: the config benchmark).
    frontier_points : int
        Points on the efficient frontier.
    views : tuple of View
        Black-Litterman views.
    risk_budgets : Mapping[str, float]
        Risk-parity budgets by ticker or group (missing names share the rest equally).
    """

    objective: str = "min_variance"
    expected_returns: str = "historical"
    risk_aversion: float = 2.5
    risk_free_rate: float | None = None
    l2_gamma: float = 0.0
    transaction_cost_bps: float = 0.0
    solver: str = "auto"
    cvar_confidence: float = 0.95
    tracking_benchmark: str | None = None
    frontier_points: int = 20
    views: tuple[View, ...] = ()
    risk_budgets: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TradingSettings:
    """How targets become orders.

    Attributes
    ----------
    cost_bps : float
        Cost of a trade in basis points of its notional.
    min_fee : float
        Minimum fee per order, USD.
    no_trade_weight : float
        Skip trades smaller than this weight change (fraction).
    no_trade_dollars : float
        Skip trades smaller than this notional (USD).
    whole_shares : bool
        Round orders to whole shares.
    """

    cost_bps: float = 5.0
    min_fee: float = 1.0
    no_trade_weight: float = 0.0
    no_trade_dollars: float = 0.0
    whole_shares: bool = True


@dataclass(frozen=True)
class DataSettings:
    """Price-data policy.

    Attributes
    ----------
    start : str
        First date to load (ISO).
    max_fill_days : int
        Longest gap (rows) that is forward-filled, e.g. a Tokyo holiday for 9984.T.
    """

    start: str = "2015-01-01"
    max_fill_days: int = 5


@dataclass(frozen=True)
class EcosystemSettings:
    """Where the deal graph lives and how exposure propagates.

    Attributes
    ----------
    file : Path or None
        Path of the ecosystem TOML (resolved against the config file's folder).
    damping : float
        Damping ``alpha`` of the look-through propagation, in [0, 1).
    """

    file: Path | None = None
    damping: float = 0.5


@dataclass(frozen=True)
class CustomScenario:
    """A user-defined shock: returns by ticker or group (fractions, -0.3 = -30 %)."""

    name: str
    shocks: Mapping[str, float]


@dataclass(frozen=True)
class StressSettings:
    """Stress-test parameters.

    Attributes
    ----------
    hub : str
        Entity whose failure is simulated.
    hub_severity : float
        Fractional loss of a company fully exposed to the hub.
    market_shock : float
        Market return added through each name's beta (negative = fall).
    custom : tuple of CustomScenario
        User-defined shocks.
    """

    hub: str = "OpenAI"
    hub_severity: float = 0.5
    market_shock: float = -0.10
    custom: tuple[CustomScenario, ...] = ()


@dataclass(frozen=True)
class Config:
    """The whole validated configuration.

    Attributes
    ----------
    source : str
        File the configuration came from (used in messages).
    tickers : tuple of str
        Investable universe (no cash, no benchmark unless listed).
    benchmark : str
        Benchmark ticker (e.g. SPY).
    groups : Mapping[str, tuple of str]
        Named groups of tickers.
    """

    source: str
    tickers: tuple[str, ...]
    benchmark: str = "SPY"
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    risk: RiskSettings = field(default_factory=RiskSettings)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    trading: TradingSettings = field(default_factory=TradingSettings)
    data: DataSettings = field(default_factory=DataSettings)
    ecosystem: EcosystemSettings = field(default_factory=EcosystemSettings)
    stress: StressSettings = field(default_factory=StressSettings)

    @property
    def market_tickers(self) -> tuple[str, ...]:
        """Universe plus benchmark, tracking benchmark and factor tickers, without duplicates."""
        tracked = (self.optimizer.tracking_benchmark,) if self.optimizer.tracking_benchmark else ()
        extra = (self.benchmark, *tracked, *self.risk.factors)
        return tuple(dict.fromkeys((*self.tickers, *extra)))

    def check_known(self, tickers: Iterable[str], where: str) -> None:
        """Raise InputError for the first ticker (CASH aside) outside the universe.

        ``where`` names the user's file or argument the tickers come from.
        """
        from portfolio.errors import InputError

        for ticker in tickers:
            if ticker != CASH and ticker not in self.tickers:
                raise InputError(
                    f"unknown ticker {ticker!r}", where,
                    f"it is not in the configured universe ({self.source})",
                    did_you_mean(str(ticker), self.tickers)
                    or f"add {ticker} to universe.tickers or remove it",
                )

    def group_of(self, ticker: str) -> str | None:
        """Return the first group containing ``ticker``, or None."""
        for name, members in self.groups.items():
            if ticker in members:
                return name
        return None


# --------------------------------------------------------------------------- reading


def packaged_config_path(name: str = "default.toml") -> Path:
    """Return the path of a configuration shipped with the package.

    Parameters
    ----------
    name : str
        File name inside the packaged ``config/`` folder, e.g. ``"ecosystem.toml"``
        or ``"backtests/ai_policy.toml"``.
    """
    try:
        return Path(str(resources.files("portfolio.configs").joinpath(name)))
    except ModuleNotFoundError:  # a source checkout: config/ sits beside portfolio/
        return Path(__file__).resolve().parent.parent / "config" / name


def default_config_path() -> Path:
    """Return the packaged default configuration's path."""
    return packaged_config_path("default.toml")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; the only TOML reader of the toolkit.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or not valid TOML (with the line number).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "config file not found", str(path), "no such file",
            "check the file path (relative paths start from the current folder)",
        ) from None
    except OSError as exc:
        raise ConfigError(
            "cannot read config file", str(path), exc.strerror or str(exc), "check permissions"
        ) from None
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(
            "config file is not UTF-8 text", str(path), "TOML must be UTF-8", "save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        line, column, why = _toml_error_position(exc, raw.decode("utf-8-sig"))
        where = f"{path}, line {line}" + (f", column {column}" if column else "")
        raise ConfigError(
            "malformed TOML", where, why,
            "fix the syntax at that line (strings need quotes, tables [name], arrays [a, b])",
        ) from None


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _toml_error_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, int | None, str]:
    """Line, column and bare message of a TOML error.

    Python 3.14 sets ``lineno``/``colno``/``msg``; 3.11-3.13 only write
    ``"<msg> (at line L, column C)"`` or ``"<msg> (at end of document)"`` in the text.
    """
    message = str(exc)
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    match = _TOML_POSITION.search(message)
    if match:
        message = message[: match.start()]
        if match[1] is not None:
            line, column = line or int(match[1]), column or int(match[2])
    if line is None:  # "at end of document": the last line of the file
        line, column = max(len(text.splitlines()), 1), None
    return line, column, getattr(exc, "msg", None) or message


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a configuration file.

    Parameters
    ----------
    path : str or Path, optional
        TOML file; the packaged ``default.toml`` when omitted.

    Returns
    -------
    Config
        Frozen, validated configuration.
    """
    path = Path(path) if path is not None else default_config_path()
    return parse_config(read_toml(path), source=str(path), base_dir=path.parent)


# --------------------------------------------------------------------------- validation


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" did you mean 'x'?"`` for the closest choice, or an empty string."""
    choices = list(choices)
    upper = {c.upper(): c for c in choices}
    match = difflib.get_close_matches(word.upper(), list(upper), n=1, cutoff=0.6)
    return f"did you mean '{upper[match[0]]}'?" if match else ""


class Table:
    """Typed access to one TOML table, recording the keys read.

    ``finish()`` raises on any key that was not read, with a "did you mean".
    Reusable by every config parser of the toolkit (backtests, ecosystem).
    """

    def __init__(self, data: Any, source: str, key: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(
                f"'{key}' must be a table", f"{source}, key {key}",
                f"got {type(data).__name__}", f"write it as [{key}]",
            )
        self.data = data
        self.source = source
        self.key = key
        self._seen: set[str] = set()

    def where(self, name: str) -> str:
        """Location string for a key of this table."""
        dotted = f"{self.key}.{name}" if self.key else name
        return f"{self.source}, key {dotted}"

    def error(self, name: str, why: str, fix: str) -> ConfigError:
        """Build a ConfigError about key ``name``."""
        value = self.data.get(name)
        return ConfigError(f"invalid value {value!r}", self.where(name), why, fix)

    def has(self, name: str) -> bool:
        """Whether the key is present."""
        return name in self.data

    def raw(self, name: str, default: Any = None) -> Any:
        """Return the raw value, marking the key as read."""
        self._seen.add(name)
        return self.data.get(name, default)

    def _dotted(self, name: str) -> str:
        """``name``'s full key (``limits.group_caps``; ``name`` itself at the top level)."""
        return f"{self.key}.{name}" if self.key else name

    def table(self, name: str) -> Table:
        """Return a sub-table (empty when absent)."""
        return Table(self.raw(name, {}), self.source, self._dotted(name))

    def string(self, name: str, default: str | None = None, choices: Iterable[str] = ()) -> Any:
        """Return a string, optionally one of ``choices``."""
        value = self.raw(name, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(name, "expected a string", f'write {name} = "..."')
        choices = tuple(choices)
        if choices and value not in choices:
            hint = did_you_mean(value, choices)
            raise ConfigError(
                f"unknown value '{value}'", self.where(name),
                f"must be one of {', '.join(choices)}", hint or f"use one of {', '.join(choices)}",
            )
        return value

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        low: float | None = None,
        high: float | None = None,
        what: str = "a number",
    ) -> Any:
        """Return a finite float within [low, high]."""
        value = self.raw(name, default)
        if value is None:
            return None
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not math.isfinite(value):
            raise self.error(name, f"expected {what}", f"write {name} = <number>")
        if low is not None and value < low:
            raise self.error(name, f"must be >= {low}", f"use a value between {low} and {high}")
        if high is not None and value > high:
            fix = f"use a value between {low} and {high}"
            if high == 1.0 and value <= 100:
                fix = f"limits are fractions: write {value / 100:g} for {value:g} %"
            raise self.error(name, f"must be <= {high}", fix)
        return float(value)

    def fraction(self, name: str, default: float | None = None) -> Any:
        """Return a fraction in [0, 1]; a value like 25 gets a 'write 0.25' hint."""
        return self.number(name, default, low=0.0, high=1.0, what="a fraction between 0 and 1")

    def integer(self, name: str, default: int, *, low: int = 0) -> int:
        """Return an integer >= low."""
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, "expected a whole number", f"write {name} = <integer>")
        if value < low:
            raise self.error(name, f"must be >= {low}", f"use a value >= {low}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """Return a boolean."""
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, "expected true or false", f"write {name} = true")
        return value

    def strings(self, name: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        """Return a list of strings as a tuple."""
        value = self.raw(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "expected a list of strings", f'write {name} = ["A", "B"]')
        return tuple(value)

    def tickers(self, name: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        """Return a non-empty list of distinct tickers (CASH is not one)."""
        tickers = self.strings(name, default)
        where = self.where(name)
        if not tickers:
            raise ConfigError("no tickers", where, "at least one ticker is needed",
                              f'write {name} = ["NVDA", "AMD", ...]')
        duplicates = sorted({t for t in tickers if tickers.count(t) > 1})
        if duplicates:
            raise ConfigError(f"duplicate ticker {duplicates[0]}", where,
                              "each ticker may appear once", "remove the repeated entry")
        if CASH in tickers:
            raise ConfigError("CASH is not a ticker", where, "cash is always part of the portfolio",
                              "remove CASH (set limits.cash_floor for a cash reserve)")
        return tickers

    def tables(self, name: str) -> list[Table]:
        """Return an array of tables (``[[name]]``)."""
        value = self.raw(name, [])
        if not isinstance(value, list):
            raise self.error(name, "expected an array of tables",
                             f"write [[{self._dotted(name)}]]")
        return [Table(item, self.source, f"{self._dotted(name)}[{i}]")
                for i, item in enumerate(value)]

    def fraction_map(self, name: str) -> dict[str, float]:
        """Return a ``{label: fraction}`` table."""
        sub = self.table(name)
        return {label: sub.fraction(label) for label in list(sub.data)}

    def finish(self) -> None:
        """Raise on keys that were never read (unknown keys)."""
        for name in self.data:
            if name not in self._seen:
                hint = did_you_mean(name, self._seen)
                raise ConfigError(
                    f"unknown key '{name}'", self.where(name),
                    "the key is not part of the configuration",
                    hint or f"remove it; known keys here: {', '.join(sorted(self._seen))}",
                )


def _check_tickers(names: Iterable[str], universe: Iterable[str], where: str, what: str) -> None:
    universe = tuple(universe)
    for name in names:
        if name not in universe:
            hint = did_you_mean(name, universe)
            raise ConfigError(
                f"{what} '{name}' is not in the universe", where,
                "every ticker must be listed in universe.tickers",
                hint or f"add it to universe.tickers ({', '.join(universe)})",
            )


def parse_config(
    data: Mapping[str, Any], source: str = "<config>", base_dir: Path | None = None
) -> Config:
    """Validate a configuration mapping (pure: no I/O).

    Parameters
    ----------
    data : Mapping
        The parsed TOML document.
    source : str
        File name used in error messages.
    base_dir : Path, optional
        Folder against which relative file paths (ecosystem file) are resolved.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        On any unknown key, wrong type, out-of-range value or inconsistent ticker.
    """
    root = Table(dict(data), source, "")
    universe_table = root.table("universe")
    tickers = universe_table.tickers("tickers")
    benchmark = universe_table.string("benchmark", "SPY")
    universe_table.finish()

    groups_table = root.table("groups")
    groups: dict[str, tuple[str, ...]] = {}
    for name in list(groups_table.data):
        members = groups_table.strings(name)
        _check_tickers(members, tickers, groups_table.where(name), f"ticker of group {name}")
        groups[name] = members
    groups_table.finish()

    limits = _parse_limits(root.table("limits"), tickers, groups)
    risk = _parse_risk(root.table("risk"))
    optimizer = _parse_optimizer(root.table("optimizer"), tickers, groups)
    trading = _parse_trading(root.table("trading"))
    data_settings = _parse_data(root.table("data"))
    ecosystem = _parse_ecosystem(root.table("ecosystem"), base_dir)
    stress = _parse_stress(root.table("stress"), tickers, groups)
    root.finish()
    return Config(
        source=source,
        tickers=tickers,
        benchmark=benchmark,
        groups=_frozen(groups),
        limits=limits,
        risk=risk,
        optimizer=optimizer,
        trading=trading,
        data=data_settings,
        ecosystem=ecosystem,
        stress=stress,
    )


def _parse_limits(table: Table, tickers: tuple[str, ...], groups: Mapping[str, Any]) -> Limits:
    max_weight = table.fraction("max_weight", 1.0)
    min_weight = table.fraction("min_weight", 0.0)
    overrides = {}
    for key in ("max_weight_overrides", "min_weight_overrides"):
        values = table.fraction_map(key)
        _check_tickers(values, tickers, table.where(key), "ticker")
        overrides[key] = values
    group_limits = {}
    for key in ("group_caps", "group_floors"):
        values = table.fraction_map(key)
        for name in values:
            if name not in groups:
                hint = did_you_mean(name, groups)
                raise ConfigError(
                    f"unknown group '{name}'", table.where(f"{key}.{name}"),
                    "limits can only refer to groups defined under [groups]",
                    hint or f"define it under [groups] (known: {', '.join(groups) or 'none'})",
                )
        group_limits[key] = values
    cash_floor = table.fraction("cash_floor", 0.0)
    if cash_floor >= 1.0:
        raise table.error("cash_floor", "a 100 % cash floor leaves nothing to invest",
                          "use a value below 1, e.g. 0.05 for 5 %")
    max_turnover = table.fraction("max_turnover", None)
    theme_caps = []
    for item in table.tables("theme_caps"):
        theme_caps.append(
            ThemeCapSpec(
                name=item.string("name", None) or "theme_cap",
                hub=item.string("hub", "OpenAI"),
                cap=item.fraction("cap", None) if item.has("cap") else _missing(item, "cap"),
            )
        )
        item.finish()
    table.finish()
    return Limits(
        max_weight=max_weight,
        min_weight=min_weight,
        max_weight_overrides=_frozen(overrides["max_weight_overrides"]),
        min_weight_overrides=_frozen(overrides["min_weight_overrides"]),
        group_caps=_frozen(group_limits["group_caps"]),
        group_floors=_frozen(group_limits["group_floors"]),
        cash_floor=cash_floor,
        max_turnover=max_turnover,
        theme_caps=tuple(theme_caps),
    )


def _missing(table: Table, name: str) -> Any:
    raise ConfigError(
        f"missing key '{name}'", table.where(name), "the key is required", f"add {name} = <value>"
    )


def _parse_risk(table: Table) -> RiskSettings:
    settings = RiskSettings(
        method=table.string("method", "ledoit_wolf", COVARIANCE_METHODS),
        lookback_days=table.integer("lookback_days", 756, low=20),
        frequency=table.string("frequency", "daily", FREQUENCIES),
        half_life=table.number("half_life", 63.0, low=1.0),
        min_observations=table.integer("min_observations", 126, low=2),
        ragged=table.string("ragged", "auto", RAGGED_POLICIES),
        factors=table.strings("factors", ("SPY", "SMH")),
    )
    table.finish()
    return settings


def _parse_optimizer(
    table: Table, tickers: tuple[str, ...], groups: Mapping[str, Any]
) -> OptimizerSettings:
    views = []
    for item in table.tables("views"):
        asset = item.string("asset", None) or _missing(item, "asset")
        versus = item.string("versus", None)
        key = "outperformance" if versus is not None else "return"
        if not item.has(key):
            _missing(item, key)
        value = item.number(key, None, low=-1.0, high=10.0)
        confidence = item.number("confidence", 0.5, low=0.0, high=1.0)
        if confidence == 0.0:
            raise item.error(
                "confidence", "a view with confidence 0 has no effect", "use a value in (0, 1]"
            )
        _check_tickers([asset] + ([versus] if versus else []), tickers, item.where("asset"), "view")
        item.finish()
        views.append(View(asset=asset, value=value, confidence=confidence, versus=versus))
    budgets = table.fraction_map("risk_budgets")
    for name in budgets:
        if name not in tickers and name not in groups:
            raise ConfigError(
                f"unknown risk-budget target '{name}'", table.where(f"risk_budgets.{name}"),
                "a budget names a ticker or a group",
                did_you_mean(name, (*tickers, *groups)) or "use a ticker or a group name",
            )
    settings = OptimizerSettings(
        objective=table.string("objective", "min_variance", OBJECTIVES),
        expected_returns=table.string("expected_returns", "historical", EXPECTED_RETURN_METHODS),
        risk_aversion=table.number("risk_aversion", 2.5, low=0.0),
        risk_free_rate=table.number("risk_free_rate", None, low=-0.05, high=0.5),
        l2_gamma=table.number("l2_gamma", 0.0, low=0.0),
        transaction_cost_bps=table.number("transaction_cost_bps", 0.0, low=0.0, high=10_000.0),
        solver=table.string("solver", "auto", SOLVERS),
        cvar_confidence=table.number("cvar_confidence", 0.95, low=0.5, high=0.999),
        tracking_benchmark=table.string("tracking_benchmark", None),
        frontier_points=table.integer("frontier_points", 20, low=2),
        views=tuple(views),
        risk_budgets=_frozen(budgets),
    )
    table.finish()
    return settings


def _parse_trading(table: Table) -> TradingSettings:
    settings = TradingSettings(
        cost_bps=table.number("cost_bps", 5.0, low=0.0, high=10_000.0),
        min_fee=table.number("min_fee", 1.0, low=0.0),
        no_trade_weight=table.fraction("no_trade_weight", 0.0),
        no_trade_dollars=table.number("no_trade_dollars", 0.0, low=0.0),
        whole_shares=table.boolean("whole_shares", True),
    )
    table.finish()
    return settings


def _parse_data(table: Table) -> DataSettings:
    start = table.string("start", "2015-01-01")
    _check_iso_date(start, table.where("start"))
    settings = DataSettings(start=start, max_fill_days=table.integer("max_fill_days", 5, low=0))
    table.finish()
    return settings


def _check_iso_date(value: str, where: str) -> None:
    import datetime as _dt

    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"invalid date '{value}'", where, "dates are written YYYY-MM-DD", "e.g. 2020-01-31"
        ) from None


def _parse_ecosystem(table: Table, base_dir: Path | None) -> EcosystemSettings:
    file_name = table.string("file", None)
    path = None
    if file_name is not None:
        path = Path(file_name)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
    damping = table.number("damping", 0.5, low=0.0, high=0.99)
    table.finish()
    return EcosystemSettings(file=path, damping=damping)


def _parse_stress(
    table: Table, tickers: tuple[str, ...], groups: Mapping[str, Any]
) -> StressSettings:
    custom = []
    for item in table.tables("custom"):
        name = item.string("name", None) or _missing(item, "name")
        shocks_table = item.table("shocks")
        shocks = {}
        for label in list(shocks_table.data):
            if label not in tickers and label not in groups:
                raise ConfigError(
                    f"unknown shock target '{label}'", shocks_table.where(label),
                    "a shock names a ticker or a group",
                    did_you_mean(label, (*tickers, *groups)) or "use a ticker or a group name",
                )
            shocks[label] = shocks_table.number(label, None, low=-1.0, high=10.0)
        item.finish()
        custom.append(CustomScenario(name=name, shocks=_frozen(shocks)))
    settings = StressSettings(
        hub=table.string("hub", "OpenAI"),
        hub_severity=table.fraction("hub_severity", 0.5),
        market_shock=table.number("market_shock", -0.10, low=-1.0, high=1.0),
        custom=tuple(custom),
    )
    table.finish()
    return settings
