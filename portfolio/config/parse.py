"""Reading and validating the portfolio configuration (``config/default.toml`` and copies).

``load_config(path)`` reads a TOML file (through :func:`portfolio.data.tomlfile.read_toml`);
``parse_config(mapping, source)`` is pure. Every error names the file and the key, says why
the value is wrong and how to fix it. Unknown keys are errors with a "did you mean"
suggestion. Tickers are normalised once here (stripped, upper-cased), as holdings and
targets are, so ``"nvda"`` in the universe and ``NVDA`` in a holdings file are one name.
Names of estimators and objectives are checked against the lists their own modules own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portfolio.analytics.replay import PROXIES
from portfolio.config.paths import default_config_path
from portfolio.config.schema import (
    Config,
    CustomScenario,
    DataSettings,
    EcosystemSettings,
    Limits,
    MarketCaps,
    OptimizerSettings,
    StressSettings,
    ThemeCapSpec,
    TradingSettings,
    frozen_mapping,
)
from portfolio.config.table import Table, check_tickers
from portfolio.data.network import DEFAULT_TIMEOUT
from portfolio.data.tomlfile import read_toml
from portfolio.errors import ConfigError, did_you_mean
from portfolio.estimate.asynchronous import ASYNC_MODES
from portfolio.estimate.covariance import METHODS as COVARIANCE_METHODS
from portfolio.estimate.covariance import RAGGED_MODES as RAGGED_POLICIES
from portfolio.estimate.equilibrium import View
from portfolio.estimate.expected import METHODS as EXPECTED_RETURN_METHODS
from portfolio.estimate.inputs import MIN_USABLE_OBSERVATIONS, RiskSettings, min_lookback_days
from portfolio.estimate.returns import PERIODS_PER_YEAR
from portfolio.optimization.objectives import OBJECTIVES
from portfolio.optimization.results import SOLVERS
from portfolio.trading.minimal import REBALANCE_MODES
from portfolio.weights import ticker_text

__all__ = [
    "COVARIANCE_METHODS",
    "EXPECTED_RETURN_METHODS",
    "FREQUENCIES",
    "OBJECTIVES",
    "RAGGED_POLICIES",
    "SOLVERS",
    "check_lookback",
    "load_config",
    "parse_config",
]

FREQUENCIES = tuple(PERIODS_PER_YEAR)
"""Return frequencies of ``risk.frequency``."""


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
    config = parse_config(read_toml(path), source=str(path), base_dir=path.parent)
    _check_ecosystem_file(config, path)
    return config


def _check_ecosystem_file(config: Config, path: Path) -> None:
    """Raise a :class:`ConfigError` naming ``[ecosystem] file`` when the deal graph is missing."""
    graph = config.ecosystem.file
    if graph is None or graph.is_file():
        return
    raise ConfigError(
        "ecosystem file not found", f"{path}, key ecosystem.file",
        f"no file {graph}; a relative [ecosystem] file starts from the config file's folder "
        f"({path.parent}), not from the current folder",
        "copy ecosystem.toml next to the config (`portfolio init DIR` writes both), or set "
        "[ecosystem] file to the deal graph's path",
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
    benchmark = _ticker(universe_table, "benchmark", "SPY")
    chosen = universe_table.string("chosen", None)
    if chosen is not None:
        _check_iso_date(chosen, universe_table.where("chosen"))
    universe_table.finish()

    groups_table = root.table("groups")
    groups: dict[str, tuple[str, ...]] = {}
    for name in list(groups_table.data):
        members = groups_table.ticker_list(name)
        check_tickers(members, tickers, groups_table.where(name), f"ticker of group {name}")
        groups[name] = members
    groups_table.finish()

    limits = _parse_limits(root.table("limits"), tickers, groups)
    risk = _parse_risk(root.table("risk"))
    optimizer = _parse_optimizer(root.table("optimizer"), tickers, groups)
    trading = _parse_trading(root.table("trading"))
    data_settings = _parse_data(root.table("data"))
    ecosystem = _parse_ecosystem(root.table("ecosystem"), base_dir)
    stress = _parse_stress(root.table("stress"), tickers, groups)
    market_caps = _parse_market_caps(root.table("market_caps"), tickers)
    root.finish()
    return Config(
        source=source,
        tickers=tickers,
        benchmark=benchmark,
        universe_chosen=chosen,
        groups=frozen_mapping(groups),
        limits=limits,
        risk=risk,
        optimizer=optimizer,
        trading=trading,
        data=data_settings,
        ecosystem=ecosystem,
        stress=stress,
        market_caps=market_caps,
    )


def _ticker(table: Table, name: str, default: str | None) -> str | None:
    """A ticker-valued key, normalised like every ticker (stripped, upper-case)."""
    value = table.string(name, default)
    return None if value is None else ticker_text(value)


def _label(key: str, tickers: tuple[str, ...]) -> str:
    """A key naming a ticker or a group: the ticker's spelling when it is a ticker."""
    normalised = ticker_text(key)
    return normalised if normalised in tickers else key


def _parse_limits(table: Table, tickers: tuple[str, ...], groups: Mapping[str, Any]) -> Limits:
    max_weight = table.fraction("max_weight", 1.0)
    min_weight = table.fraction("min_weight", 0.0)
    overrides = {}
    for key in ("max_weight_overrides", "min_weight_overrides"):
        values = {_label(k, tickers): v for k, v in table.fraction_map(key).items()}
        check_tickers(values, tickers, table.where(key), "ticker")
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
        max_weight_overrides=frozen_mapping(overrides["max_weight_overrides"]),
        min_weight_overrides=frozen_mapping(overrides["min_weight_overrides"]),
        group_caps=frozen_mapping(group_limits["group_caps"]),
        group_floors=frozen_mapping(group_limits["group_floors"]),
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
        factors=table.ticker_list("factors", ("SPY", "SMH")),
        asynchronous=table.string("asynchronous", "lead_lag", ASYNC_MODES),
    )
    check_lookback(table, "lookback_days", settings.lookback_days, settings.frequency,
                   "risk.frequency")
    table.finish()
    return settings


def check_lookback(table: Table, key: str, lookback_days: int, frequency: str,
                   frequency_key: str) -> None:
    """Raise a :class:`ConfigError` naming both keys when a lookback gives too few returns.

    Parameters
    ----------
    table : Table
        The table holding ``key`` (for the file and dotted key in the message).
    key : str
        The lookback key, e.g. ``"lookback_days"``.
    lookback_days : int
        Its value, in trading days.
    frequency : str
        The return frequency the lookback is cut into.
    frequency_key : str
        Where the frequency is set, e.g. ``"risk.frequency"``.
    """
    needed = min_lookback_days(frequency)
    if lookback_days >= needed:
        return
    key = f"{table.key}.{key}" if table.key else key
    raise ConfigError(
        f"{key} = {lookback_days} is too short for {frequency} returns",
        f"{table.source}, key {key}",
        f"{frequency} returns ({frequency_key}) over {lookback_days} trading days are fewer "
        f"than {MIN_USABLE_OBSERVATIONS}, the fewest a risk model is estimated from",
        f"set {key} to at least {needed}"
        + ("" if frequency == "daily" else f", or {frequency_key} to a finer frequency"),
    )


def _parse_optimizer(
    table: Table, tickers: tuple[str, ...], groups: Mapping[str, Any]
) -> OptimizerSettings:
    settings = OptimizerSettings(
        objective=table.string("objective", "min_variance", OBJECTIVES),
        expected_returns=table.string("expected_returns", "historical", EXPECTED_RETURN_METHODS),
        risk_aversion=table.number("risk_aversion", 2.5, low=0.0),
        risk_free_rate=table.number("risk_free_rate", None, low=-0.05, high=0.5),
        l2_gamma=table.number("l2_gamma", 0.0, low=0.0),
        transaction_cost_bps=table.number("transaction_cost_bps", 0.0, low=0.0, high=10_000.0),
        solver=table.string("solver", "auto", SOLVERS),
        cvar_confidence=table.number("cvar_confidence", 0.95, low=0.5, high=0.999),
        tracking_benchmark=_ticker(table, "tracking_benchmark", None),
        frontier_points=table.integer("frontier_points", 20, low=2),
        plausible_returns=_band(table, "plausible_returns", (-0.5, 0.6)),
        views=_parse_views(table, tickers),
        risk_budgets=frozen_mapping(_budgets(table, "risk_budgets", tickers, groups)),
        group_budgets=frozen_mapping(_budgets(table, "group_budgets", (), groups)),
    )
    table.finish()
    return settings


def _parse_views(table: Table, tickers: tuple[str, ...]) -> tuple[View, ...]:
    views = []
    for item in table.tables("views"):
        asset = _ticker(item, "asset", None) or _missing(item, "asset")
        versus = _ticker(item, "versus", None)
        key = "outperformance" if versus is not None else "return"
        if not item.has(key):
            _missing(item, key)
        value = item.number(key, None, low=-1.0, high=10.0)
        confidence = item.number("confidence", 0.5, low=0.0, high=1.0)
        if confidence == 0.0:
            raise item.error(
                "confidence", "a view with confidence 0 has no effect", "use a value in (0, 1]"
            )
        check_tickers([asset] + ([versus] if versus else []), tickers, item.where("asset"), "view")
        item.finish()
        views.append(View(asset=asset, value=value, confidence=confidence, versus=versus))
    return tuple(views)


def _budgets(table: Table, key: str, tickers: tuple[str, ...], groups: Mapping[str, Any]
             ) -> dict[str, float]:
    """Risk shares by ticker or group (``tickers`` empty: by group only)."""
    budgets = {_label(k, tickers): v for k, v in table.fraction_map(key).items()}
    what = "a ticker or a group" if tickers else "a group of [groups]"
    for name in budgets:
        if name not in tickers and name not in groups:
            raise ConfigError(
                f"unknown risk-budget target '{name}'", table.where(f"{key}.{name}"),
                f"a budget names {what}",
                did_you_mean(name, (*tickers, *groups)) or f"use {what}",
            )
    if sum(budgets.values()) > 1.0 + 1e-9:
        raise table.error(key, f"the shares sum to {sum(budgets.values()):.4g}, more than 1",
                          "give shares of total risk that sum to at most 1")
    return budgets


def _band(table: Table, key: str, default: tuple[float, float]) -> tuple[float, float]:
    value = table.raw(key, list(default))
    numbers = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if not numbers or not value[0] < value[1]:
        raise table.error(key, "expected [low, high] with low < high (annual fractions)",
                          f"write {key} = [-0.5, 0.6]")
    return float(value[0]), float(value[1])


def _parse_market_caps(table: Table, tickers: tuple[str, ...]) -> MarketCaps:
    caps_table = table.table("usd_bn")
    caps = {}
    for key in list(caps_table.data):
        ticker = _label(key, tickers)
        check_tickers([ticker], tickers, caps_table.where(key), "ticker")
        caps[ticker] = caps_table.number(key, None, low=0.0)
        if caps[ticker] <= 0:
            raise caps_table.error(key, "a market cap is a positive amount (USD billions)",
                                   f"write {key} = <USD bn>, e.g. 4878")
    caps_table.finish()
    date = table.string("date", None)
    if date is not None:
        _check_iso_date(date, table.where("date"))
    settings = MarketCaps(
        usd_bn=frozen_mapping(caps), date=date, source=table.string("source", ""),
        risk_aversion=table.number("risk_aversion", 2.5, low=0.01, high=20.0),
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
        mode=table.string("mode", "target", REBALANCE_MODES),
    )
    table.finish()
    return settings


def _parse_data(table: Table) -> DataSettings:
    start = table.string("start", "1999-01-01")
    _check_iso_date(start, table.where("start"))
    settings = DataSettings(
        start=start, max_fill_days=table.integer("max_fill_days", 5, low=0),
        timeout=table.number("timeout", DEFAULT_TIMEOUT, low=0.1, high=3600.0),
    )
    table.finish()
    return settings


def _check_iso_date(value: str, where: str) -> None:
    try:
        dt.date.fromisoformat(value)
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
        for key in list(shocks_table.data):
            label = _label(key, tickers)
            if label not in tickers and label not in groups:
                raise ConfigError(
                    f"unknown shock target '{label}'", shocks_table.where(label),
                    "a shock names a ticker or a group",
                    did_you_mean(label, (*tickers, *groups)) or "use a ticker or a group name",
                )
            shocks[label] = shocks_table.number(key, None, low=-1.0, high=10.0)
        item.finish()
        custom.append(CustomScenario(name=name, shocks=frozen_mapping(shocks)))
    settings = StressSettings(
        hub=table.string("hub", "OpenAI"),
        hub_severity=table.fraction("hub_severity", 0.5),
        market_shock=table.number("market_shock", -0.10, low=-1.0, high=1.0),
        custom=tuple(custom),
        proxies=table.tickers("proxies", PROXIES),
    )
    table.finish()
    return settings
