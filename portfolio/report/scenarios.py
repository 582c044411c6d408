"""Reports of a conditional stress and a reverse stress (presentation only).

Conditional stress JSON: ``{"given": {ticker: shock}, "horizon_days", "horizon",
"total_value", "cash", "values": {ticker: USD}, "methods": {"gaussian": M, "historical": M
or null}, "history": [start, end] or null, "as_of", "data_source", "warnings"}`` with
``M = {"moves", "spread", "pnl" (USD by holding), "pnl_mean" (USD), "pnl_quantiles"
({"5%": USD, "1%": USD}), "pnl_pct" ({"mean", "5%", "1%"} fractions of the total),
"samples", "nearest" (window end dates)}``.

Reverse stress JSON: ``{"loss", "loss_usd", "total_value", "distance", "probability",
"method", "drivers", "moves" (every name, fraction), "pnl" (USD by holding), "shares"
(of the loss, by holding), "as_of", "data_source", "warnings"}``.
"""

from __future__ import annotations

from typing import Any

from portfolio.analytics.conditional import ConditionalMoves, ConditionalStress
from portfolio.analytics.inputs import horizon_label
from portfolio.analytics.reverse import ReverseStress
from portfolio.report import Report, Section, fmt_money, fmt_pct

__all__ = ["conditional_stress_document", "reverse_stress_document"]

NEAREST_SHOWN = 5


def _worth(total: float, as_of: Any, source: str) -> str:
    return (f"a portfolio worth {fmt_money(total)} USD at the "
            f"{as_of.date() if as_of is not None else '-'} close ({source} prices)")


def _distribution_text(moves: ConditionalMoves) -> str:
    pct = moves.pnl_pct
    quantiles = "; ".join(f"{round(100 * q)} % quantile {fmt_money(v)} USD "
                          f"({fmt_pct(pct[f'{round(100 * q)}%'])})"
                          for q, v in moves.pnl_quantiles.items())
    return f"expected P&L {fmt_money(moves.pnl_mean)} USD ({fmt_pct(pct['mean'])}); {quantiles}"


def conditional_stress_document(result: ConditionalStress) -> Report:
    """Summary, the moves by holding and the P&L distribution of both methods."""
    horizon = horizon_label(result.horizon_days)
    given = ", ".join(f"{t} {fmt_pct(s, 1)}" for t, s in result.given.items())
    summary = [
        f"Given {given} over {horizon} ({result.horizon_days} trading days), on "
        f"{_worth(result.total_value, result.as_of, result.data_source)}.",
        f"Gaussian (the risk model's covariance, closed form): "
        f"{_distribution_text(result.gaussian)}.",
    ]
    historical = result.historical
    if historical is not None:
        start, end = result.history
        nearest = ", ".join(str(d.date()) for d in historical.nearest[:NEAREST_SHOWN])
        summary += [
            f"Historical ({historical.samples} nearest {horizon} windows of {start.date()} .. "
            f"{end.date()}, moved onto the shock): {_distribution_text(historical)}.",
            f"Nearest windows end {nearest}.",
        ]
    summary += [f"Warning: {w}" for w in result.warnings]
    return Report("Conditional stress", tuple(summary),
                  (_moves_section(result), _distribution_section(result)), _data(result))


def _moves_section(result: ConditionalStress) -> Section:
    methods = result.methods
    rows = []
    for ticker, value in result.values.items():
        label = f"{ticker} (given)" if ticker in result.given else ticker
        cells = [label, fmt_money(value)]
        for moves in methods:
            cells += [fmt_pct(moves.moves[ticker]), fmt_pct(moves.spread[ticker]),
                      fmt_money(moves.pnl[ticker])]
        rows.append(tuple(cells))
    columns = ["ticker", "value (USD)"]
    for moves in methods:
        columns += [f"{moves.method} move", f"{moves.method} sd", f"{moves.method} P&L"]
    return Section("Moves given the shocks", tuple(columns), tuple(rows),
                   f"Expected return of each holding over {horizon_label(result.horizon_days)} "
                   "given the shocks, its standard deviation around it, and the expected P&L "
                   "(USD).")


def _distribution_section(result: ConditionalStress) -> Section:
    rows = []
    for moves in result.methods:
        pct = moves.pnl_pct
        rows.append((moves.method, fmt_money(moves.pnl_mean), fmt_pct(pct["mean"]),
                     *(cell for q, v in moves.pnl_quantiles.items()
                       for cell in (fmt_money(v), fmt_pct(pct[f"{round(100 * q)}%"]))),
                     str(moves.samples) if moves.samples else "-"))
    return Section(
        "P&L distribution", ("method", "mean USD", "mean %", "5% USD", "5% %", "1% USD",
                             "1% %", "windows"),
        tuple(rows), "P&L of the whole portfolio (cash included) given the shocks; a loss is "
                     "negative.")


def _moves_data(moves: ConditionalMoves | None) -> dict[str, Any] | None:
    if moves is None:
        return None
    return {
        "moves": {t: float(v) for t, v in moves.moves.items()},
        "spread": {t: float(v) for t, v in moves.spread.items()},
        "pnl": {t: float(v) for t, v in moves.pnl.items()},
        "pnl_mean": moves.pnl_mean,
        "pnl_quantiles": {f"{round(100 * q)}%": v for q, v in moves.pnl_quantiles.items()},
        "pnl_pct": dict(moves.pnl_pct),
        "samples": moves.samples,
        "nearest": list(moves.nearest),
    }


def _data(result: ConditionalStress) -> dict[str, Any]:
    return {
        "given": dict(result.given), "horizon_days": result.horizon_days,
        "horizon": horizon_label(result.horizon_days), "total_value": result.total_value,
        "cash": result.cash, "values": {t: float(v) for t, v in result.values.items()},
        "methods": {"gaussian": _moves_data(result.gaussian),
                    "historical": _moves_data(result.historical)},
        "history": list(result.history) if result.history else None,
        "as_of": result.as_of, "data_source": result.data_source,
        "warnings": list(result.warnings), "notice": result.notice,
    }


def reverse_stress_document(result: ReverseStress) -> Report:
    """Summary, the move and the loss by holding, and the co-moves of the other names."""
    drivers = ", ".join(f"{t} ({fmt_pct(result.shares[t], 1)} of the loss)"
                        for t in result.drivers)
    summary = [
        f"The most likely move that loses {fmt_pct(result.loss, 0)} "
        f"({fmt_money(result.loss_usd)} USD) of "
        f"{_worth(result.total_value, result.as_of, result.data_source)}: "
        f"{result.distance:.2f} annual standard deviations of the portfolio from no move "
        f"(a loss this large within a year has probability {fmt_pct(result.probability, 1)} "
        "under the normal risk model).",
        f"Driven by {drivers}.",
        f"Method: {result.method}; each name moves with its covariance to the portfolio, so "
        "a holding's share of the loss is its share of the portfolio's variance.",
        *(f"Warning: {w}" for w in result.warnings),
    ]
    held = list(result.pnl.index)
    rows = tuple((t, fmt_pct(result.moves[t]), fmt_money(result.pnl[t]),
                  fmt_pct(result.shares[t], 1)) for t in result.shares.index)
    others = tuple((t, fmt_pct(m)) for t, m in result.moves.items() if t not in held)
    sections = [Section("Move and loss by holding", ("ticker", "move", "P&L USD",
                                                      "share of loss"), rows,
                        "Largest share of the loss first.")]
    if others:
        sections.append(Section("Co-moves of the names not held", ("ticker", "move"), others,
                                "Their expected move given the holdings' move."))
    data = {
        "loss": result.loss, "loss_usd": result.loss_usd, "total_value": result.total_value,
        "distance": result.distance, "probability": result.probability,
        "method": result.method, "drivers": list(result.drivers),
        "moves": {t: float(v) for t, v in result.moves.items()},
        "pnl": {t: float(v) for t, v in result.pnl.items()},
        "shares": {t: float(v) for t, v in result.shares.items()},
        "as_of": result.as_of, "data_source": result.data_source,
        "warnings": list(result.warnings), "notice": result.notice,
    }
    return Report("Reverse stress", tuple(summary), tuple(sections), data)
