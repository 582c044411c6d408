"""Report for a :class:`~portfolio.analytics.stress.StressReport` (presentation only)."""

from __future__ import annotations

from typing import Any

from portfolio.analytics.replay import PORTFOLIO
from portfolio.analytics.stress import ScenarioResult, StressReport
from portfolio.report import Cell, Chart, Report, Section, fmt_money, fmt_pct

PATH_DECIMALS = 8
"""Decimals of the daily path returns in JSON (1e-8 of the start value)."""


def stress_report_document(report: StressReport) -> Report:
    """Summary, scenario table and per-position P&L of a stress test.

    Parameters
    ----------
    report : StressReport
        Scenarios already sorted worst first.

    Returns
    -------
    Report
        Sections "Scenarios" (name, kind, window, P&L USD, P&L %, proxied), "P&L by
        position (USD)" (tickers x scenarios, plus a total row) and, with historical
        replays, "Replays: trough and recovery" (per replay, each position and the
        portfolio). JSON data: ``{"scenarios": [{"name", "kind", "description", "window",
        "pnl", "pnl_pct", "positions", "shocks", "proxied", "proxy"}], "total_value",
        "as_of", "data_source"}``, worst scenario first; P&L in USD, ``pnl_pct`` and
        shocks as fractions. A replay adds ``"recoveries"`` ({ticker or "portfolio":
        {"trough", "trough_return", "recovered", "days"}}, ``recovered`` null when not
        back by ``"until"``) and ``"path"`` ({"dates": [...], ticker or "portfolio":
        [cumulative return since the start close, one per date, to 8 decimals]}).
    """
    scenarios = report.scenarios
    summary = [
        f"Portfolio worth {fmt_money(report.total_value)} USD at the {report.as_of.date()} "
        f"close ({report.data_source} prices)."
    ]
    if scenarios:
        worst = scenarios[0]
        summary.append(
            f"Worst scenario: {worst.name}, P&L {fmt_money(worst.pnl)} USD "
            f"({fmt_pct(worst.pnl_pct)}): {worst.description}."
        )
    summary += _recovery_summary(scenarios)
    proxied = sorted({t for s in scenarios for t in s.proxied})
    if proxied:
        summary.append(
            f"{', '.join(proxied)}: no prices in some windows, replayed as their beta x the "
            f"daily returns of {_proxies_text(scenarios)}, compounded (marked in the proxied "
            "column)."
        )
    scenario_rows = tuple(
        (
            s.name,
            s.kind,
            _window_text(s.window),
            fmt_money(s.pnl),
            fmt_pct(s.pnl_pct),
            ", ".join(s.proxied),
        )
        for s in scenarios
    )
    tickers = list(dict.fromkeys(t for s in scenarios for t in s.positions))
    position_rows = tuple(
        (ticker, *(_proxied_money(s, ticker) for s in scenarios)) for ticker in tickers
    )
    position_rows += (("Total", *(fmt_money(s.pnl) for s in scenarios)),)
    sections = (
        Section(
            "Scenarios",
            ("scenario", "kind", "window", "P&L USD", "P&L %", "proxied"),
            scenario_rows,
            note="Worst first. P&L % is of the whole portfolio including cash.",
        ),
        Section(
            "P&L by position (USD)",
            ("ticker", *(s.name for s in scenarios)),
            position_rows,
            note=f"* proxied by beta to {_proxies_text(scenarios)}." if proxied else "",
        ),
    )
    replays = [s for s in scenarios if s.paths is not None]
    if replays:
        sections += (_recovery_section(replays),)
    data = {
        "scenarios": [_scenario_data(s) for s in scenarios],
        "total_value": report.total_value,
        "as_of": report.as_of,
        "data_source": report.data_source,
    }
    return Report("Stress scenarios", tuple(summary), sections, data, stress_charts(report))


def stress_charts(report: StressReport) -> tuple[Chart, ...]:
    """P&L per scenario, P&L per scenario and position, and each replay's paths."""
    import pandas as pd

    from portfolio.report.charts import path_chart, pnl_heatmap, scenario_chart

    scenarios = report.scenarios
    if not scenarios:
        return ()
    pnl = pd.Series({s.name: s.pnl_pct for s in scenarios})
    positions = pd.DataFrame({s.name: pd.Series(dict(s.positions), dtype=float)
                              for s in scenarios}).T
    charts = [scenario_chart(pnl, "P&L by scenario",
                             "Fractions of the whole portfolio, cash included; worst first."),
              pnl_heatmap(positions, "P&L by scenario and position")]
    for scenario in scenarios:
        if scenario.paths is not None:
            start, end = (w.date() for w in scenario.window) if scenario.window else ("", "")
            charts.append(path_chart(
                scenario.paths.returns, f"{scenario.name}: cumulative return, {start} to {end}",
                "Each position's price path since the start close and the portfolio's "
                "(today's positions, cash included); hover to read a date."))
    return tuple(charts)


def _scenario_data(scenario: ScenarioResult) -> dict[str, Any]:
    data = {
        "name": scenario.name,
        "kind": scenario.kind,
        "description": scenario.description,
        "window": list(scenario.window) if scenario.window else None,
        "pnl": scenario.pnl,
        "pnl_pct": scenario.pnl_pct,
        "positions": dict(scenario.positions),
        "shocks": dict(scenario.shocks),
        "proxied": list(scenario.proxied),
        "proxy": scenario.proxy,
    }
    paths = scenario.paths
    if paths is not None:
        data["until"] = paths.until
        data["recoveries"] = {
            name: {"trough": r.trough, "trough_return": r.trough_return,
                   "recovered": r.recovered, "days": r.days}
            for name, r in paths.recoveries.items()
        }
        data["path"] = {"dates": list(paths.returns.index),
                        **{str(c): paths.returns[c].round(PATH_DECIMALS).tolist()
                           for c in paths.returns.columns}}
    return data


def _proxies_text(scenarios: tuple[ScenarioResult, ...]) -> str:
    """``"SMH"`` or ``"SMH (QQQ in dotcom_bust)"``: the proxy of each scenario that used one."""
    used = {s.name: s.proxy for s in scenarios if s.proxied and s.proxy}
    if not used:
        return "the proxy"
    common = max(set(used.values()), key=list(used.values()).count)
    others = [f"{proxy} in {name}" for name, proxy in used.items() if proxy != common]
    return common + (f" ({', '.join(others)})" if others else "")


def _recovery_summary(scenarios: tuple[ScenarioResult, ...]) -> list[str]:
    """One sentence on the replay whose portfolio path fell deepest."""
    replays = [s for s in scenarios if s.paths is not None]
    if not replays:
        return []
    deepest = min(replays, key=lambda s: s.paths.recoveries[PORTFOLIO].trough_return)
    paths = deepest.paths
    whole = paths.recoveries[PORTFOLIO]
    back = (f"is back at its start level after {whole.text(paths.until)}"
            if whole.recovered is not None else f"is {whole.text(paths.until)}")
    return [
        f"Deepest replay: {deepest.name}, the portfolio falls {fmt_pct(-whole.trough_return)} "
        f"to {whole.trough.date()} and {back}."
    ]


def _recovery_section(replays: list[ScenarioResult]) -> Section:
    rows = []
    for scenario in replays:
        paths = scenario.paths
        for name, recovery in paths.recoveries.items():
            end = float(paths.returns[name].iloc[-1])
            marked = f"{name} *" if name in scenario.proxied else name
            rows.append((scenario.name, marked, fmt_pct(end), str(recovery.trough.date()),
                         fmt_pct(recovery.trough_return), recovery.text(paths.until)))
    return Section(
        "Replays: trough and recovery",
        ("scenario", "position", "return at end", "trough", "trough return", "recovery"),
        tuple(rows),
        note="Returns from the window's start close; trough: the lowest close inside the "
             "window; recovery: trading days from the trough to the first close back at the "
             "start level, searched up to the last price. * proxied.",
    )


def _proxied_money(scenario: ScenarioResult, ticker: str) -> Cell:
    amount = fmt_money(scenario.positions.get(ticker))
    if ticker not in scenario.proxied:
        return amount
    return Cell(f"{amount} *", amount.value, "*")


def _window_text(window: Any) -> str:
    if not window:
        return "-"
    start, end = window
    return f"{start.date()} .. {end.date()}"
