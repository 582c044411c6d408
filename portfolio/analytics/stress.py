"""Stress scenarios: hub failure through the deal graph, historical replays, custom shocks.

Every scenario gives each holding a *shock* -- a simple return, as a fraction -- and values
the holdings at the as-of close (:func:`portfolio.analytics.valuation.value_holdings`): the P&L of
a position is ``value_i * shock_i`` (USD) and the scenario's P&L is their sum; cash earns 0.
``pnl_pct`` divides by the total portfolio value including cash. A shock is floored at -1
(a long position cannot lose more than its value).

Scenario kinds
--------------
``hub_failure``
    ``shock_i = -severity * x_i + beta_i * market_shock``, where ``x_i`` is the holding's
    look-through exposure to the hub (:func:`portfolio.analytics.exposure.lookthrough_exposure`) and
    ``beta_i`` its beta to the config benchmark, estimated by :func:`daily_betas` on daily
    simple returns over the last ``risk.lookback_days`` rows of prices. A name listed for
    less than the lookback (CRWV) uses the dates it shares with the benchmark in that window;
    fewer than ``MIN_BETA_OBSERVATIONS`` such dates is a :class:`DataError`.
``historical``
    The actual price path of each holding over a window of :data:`REPLAY_WINDOWS`:
    ``shock_i = P_end / P_start - 1`` with the close on (or the last trading day before)
    the window's start and end, applied to today's position value -- the same as holding
    ``n = value_i / P_start`` shares through the window, ``P&L = n * (P_end - P_start)``.
    A holding with no price at either end (CRWV before its 2025-03-28 IPO, Alphabet in the
    dot-com bust) is proxied by ``beta_i * r_proxy``: its beta to the first proxy priced
    over the window (SMH, then QQQ, then SPY) on its whole available daily history (which
    lies after the window: a look-ahead that is the point of a proxy) times the proxy's
    return over the window; it is flagged in ``ScenarioResult.proxied``. Each position's
    daily path, trough and days to recover are in ``ScenarioResult.paths``
    (:mod:`portfolio.analytics.replay`).
``custom``
    ``[[stress.custom]]`` of the config: ``{ticker or group: return}``. A ticker's own shock
    overrides its group's; holdings not named get 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import pandas as pd

from portfolio.analytics.exposure import hub_failure_shocks
from portfolio.analytics.replay import (
    MIN_BETA_OBSERVATIONS,
    PROXIES,
    ReplayPaths,
    WindowReturns,
    daily_betas,
    replay_paths,
    replay_returns,
    window_dates,
)
from portfolio.errors import InputError
from portfolio.weights import CASH

__all__ = [
    "ALL",
    "KINDS",
    "MIN_BETA_OBSERVATIONS",
    "PROXIES",
    "PROXY",
    "REPLAY_WINDOWS",
    "CustomScenario",
    "ReplayWindow",
    "ScenarioResult",
    "StressReport",
    "WindowReturns",
    "custom_scenario",
    "daily_betas",
    "hub_failure_scenario",
    "hub_scenario_name",
    "replay_returns",
    "replay_scenario",
    "window_dates",
]

KINDS = ("hub_failure", "historical", "custom")
PROXY = PROXIES[0]
"""The first proxy (SMH); :data:`~portfolio.analytics.replay.PROXIES` lists them all."""
ALL = "all"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class CustomScenario:
    """A user-defined shock: returns by ticker or group (fractions, -0.3 = -30 %)."""

    name: str
    shocks: Mapping[str, float]


@dataclass(frozen=True)
class ReplayWindow:
    """A historical episode replayed on today's holdings.

    Attributes
    ----------
    name : str
        Scenario name, e.g. ``"covid_crash"``.
    start, end : str
        ISO dates; the closes on (or last before) these dates are compared.
    description : str
        One line for reports.
    """

    name: str
    start: str
    end: str
    description: str


REPLAY_WINDOWS: tuple[ReplayWindow, ...] = (
    ReplayWindow(
        "dotcom_bust",
        "2000-03-10",
        "2002-10-09",
        "Dot-com bust, Nasdaq peak to trough (2000-03-10 .. 2002-10-09)",
    ),
    ReplayWindow(
        "financial_crisis",
        "2007-10-09",
        "2009-03-09",
        "Global financial crisis, S&P 500 peak to trough (2007-10-09 .. 2009-03-09)",
    ),
    ReplayWindow(
        "covid_crash",
        "2020-02-19",
        "2020-03-23",
        "COVID-19 crash, S&P 500 peak to trough (2020-02-19 .. 2020-03-23)",
    ),
    ReplayWindow(
        "rate_shock_2022",
        "2022-01-03",
        "2022-10-12",
        "2022 rate shock: Fed hikes, growth and chip sell-off (2022-01-03 .. 2022-10-12)",
    ),
    ReplayWindow(
        "deepseek_selloff",
        "2025-01-24",
        "2025-01-27",
        "DeepSeek R1 sell-off in AI names (2025-01-24 .. 2025-01-27)",
    ),
    ReplayWindow(
        "ai_pullback_2024",
        "2024-07-10",
        "2024-08-07",
        "Summer 2024 AI pullback and yen-carry unwind (2024-07-10 .. 2024-08-07)",
    ),
)
"""The historical replays, in display order."""


@dataclass(frozen=True)
class ScenarioResult:
    """The outcome of one scenario for one portfolio.

    Attributes
    ----------
    name : str
        Scenario name (``"openai_failure"``, ``"covid_crash"``, a custom name).
    kind : str
        ``"hub_failure"``, ``"historical"`` or ``"custom"``.
    description : str
        One line saying what the scenario assumes.
    pnl : float
        Total P&L, USD (negative = loss).
    pnl_pct : float
        ``pnl`` / total portfolio value including cash (fraction).
    positions : Mapping[str, float]
        Ticker -> P&L in USD, in holdings order; ``CASH`` (0) when the portfolio holds cash.
    shocks : Mapping[str, float]
        Ticker -> return applied (simple return, fraction); ``CASH`` 0 when held.
    proxied : tuple of str
        Tickers whose shock is ``beta * r_proxy`` instead of their own price path.
    window : tuple of Timestamp or None
        Dates of the start and end closes used by a historical replay; None otherwise.
    proxy : str or None
        The proxy of the ``proxied`` tickers (SMH, QQQ or SPY); None when none is proxied.
    paths : ReplayPaths or None
        A historical replay's daily paths, troughs and recoveries; None otherwise.
    """

    name: str
    kind: str
    description: str
    pnl: float
    pnl_pct: float
    positions: Mapping[str, float]
    shocks: Mapping[str, float]
    proxied: tuple[str, ...] = ()
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None
    proxy: str | None = None
    paths: ReplayPaths | None = None


@dataclass(frozen=True)
class StressReport:
    """Every scenario run on one portfolio.

    Attributes
    ----------
    scenarios : tuple of ScenarioResult
        Worst P&L first (ties by name).
    total_value : float
        Portfolio value at the as-of close including cash, USD.
    as_of : Timestamp
        Date of the closes the holdings are valued at.
    data_source : str
        ``bundled``, ``cache`` or ``yahoo``.
    notice : str
        Data provenance, plus the replays skipped because the prices do not cover them.
    """

    scenarios: tuple[ScenarioResult, ...]
    total_value: float
    as_of: pd.Timestamp
    data_source: str
    notice: str = ""

    @property
    def worst(self) -> ScenarioResult | None:
        """The scenario with the largest loss (None when no scenario ran)."""
        return self.scenarios[0] if self.scenarios else None


# --------------------------------------------------------------------------- scenarios


def hub_failure_scenario(
    values: pd.Series,
    exposures: pd.Series,
    betas: pd.Series,
    *,
    hub: str,
    severity: float,
    market_shock: float,
    cash: float = 0.0,
    benchmark: str = "SPY",
) -> ScenarioResult:
    """Hub failure: ``shock_i = -severity * x_i + beta_i * market_shock`` (floored at -1).

    Parameters
    ----------
    values : pd.Series
        Ticker -> position value at the as-of close, USD (no CASH).
    exposures : pd.Series
        Ticker -> look-through exposure to the hub (fraction in [0, 1]); must cover
        ``values``.
    betas : pd.Series
        Ticker -> beta to the market; must cover ``values``.
    hub : str
        Name of the failing entity (for the name and description).
    severity : float
        Loss of a fully exposed company (fraction in [0, 1]).
    market_shock : float
        Market return (fraction, -0.1 = -10 %).
    cash : float
        Cash, USD (counts in the total, P&L 0).
    benchmark : str
        Market ticker the betas refer to (for the description).

    Returns
    -------
    ScenarioResult
    """
    _require_labels(betas, values.index, "betas")
    shocks = hub_failure_shocks(exposures, betas.reindex(values.index), severity, market_shock)
    description = (
        f"{hub} fails: each holding loses {severity:.0%} x its look-through exposure to "
        f"{hub}, plus its beta to {benchmark} x a {market_shock:+.0%} market move"
    )
    missing = tuple(exposures.attrs.get("missing", ()))
    if missing:
        description += f"; not in the deal graph (exposure 0): {', '.join(missing)}"
    return _result(hub_scenario_name(hub), "hub_failure", description, values, shocks, cash)


def replay_scenario(
    values: pd.Series,
    window: ReplayWindow,
    prices: pd.DataFrame,
    *,
    cash: float = 0.0,
    proxy: str | Sequence[str] = PROXIES,
) -> ScenarioResult:
    """Replay a historical window on today's positions.

    Parameters
    ----------
    values : pd.Series
        Ticker -> position value at the as-of close, USD (no CASH).
    window : ReplayWindow
    prices : pd.DataFrame
        Daily closes (USD) of at least the tickers of ``values``, whole history up to the
        as-of date (the recoveries are searched up to its last row); plus the proxies when
        a holding lacks prices in the window.
    cash : float
        Cash, USD.
    proxy : str or sequence of str
        Proxy tickers in order of preference (see
        :func:`~portfolio.analytics.replay.replay_returns`).

    Returns
    -------
    ScenarioResult
        ``shocks`` = window returns, ``proxied`` = holdings given ``beta * proxy return``,
        ``window`` = dates of the two closes, ``paths`` = daily paths and recoveries.
    """
    _require_labels(prices.columns, values.index, "prices")
    proxies = (proxy,) if isinstance(proxy, str) else tuple(proxy)
    columns = list(dict.fromkeys([*values.index, *(p for p in proxies if p in prices.columns)]))
    replay = replay_returns(prices[columns], window.start, window.end, proxies)
    proxied = tuple(t for t in values.index if t in replay.proxied)
    description = window.description
    if proxied:
        details = ", ".join(f"{t} (beta {replay.proxy_betas[t]:.2f})" for t in proxied)
        description += f"; proxied by beta to {replay.proxy}: {details}"
    result = _result(
        window.name,
        "historical",
        description,
        values,
        replay.returns,
        cash,
        proxied=proxied,
        window=(replay.start, replay.end),
    )
    return replace(result, proxy=replay.proxy if proxied else None,
                   paths=replay_paths(values, prices[columns], replay, cash))


def custom_scenario(
    values: pd.Series,
    scenario: CustomScenario,
    groups: Mapping[str, Sequence[str]],
    *,
    cash: float = 0.0,
) -> ScenarioResult:
    """Apply a config's custom shocks; a ticker's own shock overrides its group's.

    Parameters
    ----------
    values : pd.Series
        Ticker -> position value at the as-of close, USD (no CASH).
    scenario : CustomScenario
        ``shocks``: ticker or group name -> return (fraction).
    groups : Mapping[str, sequence of str]
        Group name -> member tickers (``Config.groups``).
    cash : float
        Cash, USD.

    Returns
    -------
    ScenarioResult
        Holdings not named (directly or through a group) get 0.

    Raises
    ------
    InputError
        A holding belongs to two shocked groups with different shocks and has no shock of
        its own.
    """
    shocks = pd.Series(0.0, index=values.index, dtype=float)
    from_group: dict[str, str] = {}
    for label, shock in scenario.shocks.items():
        if label not in groups:
            continue
        for ticker in groups[label]:
            if ticker not in shocks.index or ticker in scenario.shocks:
                continue
            earlier = from_group.get(ticker)
            if earlier is not None and scenario.shocks[earlier] != shock:
                raise InputError(
                    f"conflicting shocks for {ticker}",
                    f"stress.custom '{scenario.name}'",
                    f"{ticker} is in group {earlier} ({scenario.shocks[earlier]:+g}) and in "
                    f"group {label} ({shock:+g})",
                    f"add a shock for {ticker} itself",
                )
            from_group[ticker] = label
            shocks[ticker] = shock
    for label, shock in scenario.shocks.items():
        if label not in groups and label in shocks.index:
            shocks[label] = shock
    named = ", ".join(f"{label} {shock:+.0%}" for label, shock in scenario.shocks.items())
    description = f"custom shocks: {named}; other holdings 0"
    return _result(scenario.name, "custom", description, values, shocks, cash)


def hub_scenario_name(hub: str) -> str:
    """Scenario name of a hub's failure: ``"OpenAI"`` -> ``"openai_failure"``."""
    return re.sub(r"[^0-9a-z]+", "_", hub.lower()).strip("_") + "_failure"


# --------------------------------------------------------------------------- helpers


def _result(
    name: str,
    kind: str,
    description: str,
    values: pd.Series,
    shocks: pd.Series,
    cash: float,
    *,
    proxied: tuple[str, ...] = (),
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> ScenarioResult:
    _require_labels(shocks.index, values.index, "shocks")
    applied = shocks.reindex(values.index).astype(float).clip(lower=-1.0)
    pnl = values * applied
    total = float(values.sum()) + cash
    positions = {str(t): float(v) for t, v in pnl.items()}
    shock_map = {str(t): float(v) for t, v in applied.items()}
    if cash > 0.0:
        positions[CASH] = 0.0
        shock_map[CASH] = 0.0
    total_pnl = float(pnl.sum())
    return ScenarioResult(
        name=name,
        kind=kind,
        description=description,
        pnl=total_pnl,
        pnl_pct=total_pnl / total if total > 0.0 else float("nan"),
        positions=MappingProxyType(positions),
        shocks=MappingProxyType(shock_map),
        proxied=tuple(proxied),
        window=window,
    )


def _require_labels(labels: pd.Index | pd.Series, needed: pd.Index, what: str) -> None:
    present = labels.index if isinstance(labels, pd.Series) else labels
    missing = [str(t) for t in needed if t not in present]
    if missing:
        raise InputError(
            f"no {what} for {', '.join(missing)}",
            what,
            f"every holding needs {what}",
            f"give {what} for {', '.join(missing)}",
        )
