"""Report for a :class:`~portfolio.analytics.stress.StressReport` (presentation only)."""

from __future__ import annotations

from typing import Any

from portfolio.analytics.stress import ScenarioResult, StressReport
from portfolio.report import Cell, Report, Section, fmt_money, fmt_pct


def stress_report_document(report: StressReport) -> Report:
    """Summary, scenario table and per-position P&L of a stress test.

    Parameters
    ----------
    report : StressReport
        Scenarios already sorted worst first.

    Returns
    -------
    Report
        Sections "Scenarios" (name, kind, window, P&L USD, P&L %, proxied) and "P&L by
        position (USD)" (tickers x scenarios, plus a total row). JSON data:
        ``{"scenarios": [{"name", "kind", "description", "window", "pnl", "pnl_pct",
        "positions", "shocks", "proxied"}], "total_value", "as_of", "data_source"}``, worst
        scenario first; P&L in USD, ``pnl_pct`` and shocks as fractions.
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
    proxied = sorted({t for s in scenarios for t in s.proxied})
    if proxied:
        summary.append(
            f"{', '.join(proxied)}: no prices in some windows, replayed as beta to SMH x SMH's "
            "return (marked in the proxied column)."
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
            note="* proxied by beta to SMH." if proxied else "",
        ),
    )
    data = {
        "scenarios": [_scenario_data(s) for s in scenarios],
        "total_value": report.total_value,
        "as_of": report.as_of,
        "data_source": report.data_source,
    }
    return Report("Stress scenarios", tuple(summary), sections, data)


def _scenario_data(scenario: ScenarioResult) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "kind": scenario.kind,
        "description": scenario.description,
        "window": list(scenario.window) if scenario.window else None,
        "pnl": scenario.pnl,
        "pnl_pct": scenario.pnl_pct,
        "positions": dict(scenario.positions),
        "shocks": dict(scenario.shocks),
        "proxied": list(scenario.proxied),
    }


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
