"""Report for a :class:`~portfolio.analytics.risk.RiskReport` (presentation only).

Display cells are formatted strings (percents of portfolio value, USD with thousands
separators); the JSON ``data`` keeps plain fractions and USD numbers:

* ``volatility``, ``tracking_error``: annual fractions; ``beta``: dimensionless.
* ``risk_contributions``: {ticker: annual volatility contribution}, summing to
  ``volatility``; ``risk_contributions_pct``: {ticker: share of volatility}, summing to 1.
* ``var`` / ``cvar``: {"parametric"|"historical": {"95%"|"99%": {"1d"|"10d": loss}}},
  positive loss fractions; ``var_usd`` / ``cvar_usd`` the same in USD (holdings only).
* ``max_drawdown``: {"depth" (fraction), "peak", "trough", "recovery" (dates or null)}.
* ``concentration``: {"hhi", "effective_names", "effective_bets", "top5_share", "basis"}.
* ``limits``: [{name, value, limit, sense, ok}]; ``exposure``: {"hub", "total", "cap",
  "per_holding"}; ``correlation``: {ticker: {ticker: rho}}.
* ``var_backtest`` (null when the history is too short) and, with a horizon,
  ``loss_distribution``: see :mod:`portfolio.report.tails`; ``history_notes``: how their
  back-cast over the whole history treats names listed later.
"""

from __future__ import annotations

import math
from typing import Any

from portfolio.analytics.exposure import DealGraph
from portfolio.analytics.risk import RiskReport
from portfolio.report import Cell, Chart, Report, Section, cell, fmt_money, fmt_pct
from portfolio.report.optimize import limits_data, limits_section
from portfolio.report.tails import (
    loss_distribution_data,
    loss_distribution_section,
    loss_distribution_summary,
    var_backtest_data,
    var_backtest_section,
    var_backtest_summary,
)
from portfolio.weights import CASH

__all__ = ["risk_report_document"]

CONCENTRATION_BASIS = "risky weights renormalised to sum to 1 (cash excluded)"
METHOD_NAMES = {"parametric": "parametric (normal)", "historical": "historical"}


def _number(value: float, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _date(value: Any) -> str | None:
    return None if value is None else str(value.date()) if hasattr(value, "date") else str(value)


def _plain(table: Any) -> dict[str, Any] | None:
    """Nested read-only mappings -> plain dicts (JSON)."""
    if table is None:
        return None
    if hasattr(table, "items"):
        return {key: _plain(value) for key, value in table.items()}
    return float(table)


def _summary(report: RiskReport) -> tuple[str, ...]:
    held = [t for t in report.weights.index if t != CASH]
    if report.valuation is not None:
        size = f"{len(held)} positions worth {fmt_money(report.valuation.total)} USD"
    else:
        size = f"{len(held)} positions (weights)"
    method, level, horizon, loss = report.worst_var
    worst = f"{level} {horizon.removesuffix('d')}-day {method} VaR {fmt_pct(loss)}"
    if report.var_usd is not None:
        worst += f" ({fmt_money(report.var_usd[method][level][horizon])} USD)"
    drawdown = report.max_drawdown
    breaches = report.breaches
    sentences = [
        f"{size}, {fmt_pct(report.weights[CASH])} cash; prices up to {report.as_of.date()} "
        f"({report.data_source}), {report.covariance_method} covariance.",
        f"Annual volatility {fmt_pct(report.volatility)}; beta {_number(report.beta)} and "
        f"tracking error {fmt_pct(report.tracking_error)} against {report.benchmark}.",
        f"Worst value at risk: {worst}; maximum drawdown of the back-cast "
        f"{fmt_pct(drawdown.depth)} ({_date(drawdown.peak)} to {_date(drawdown.trough)}).",
        (f"{len(breaches)} of {len(report.limits)} limits breached: "
         f"{', '.join(row.name for row in breaches)}." if breaches
         else f"All {len(report.limits)} limits hold."),
        f"{report.exposure_hub} look-through exposure {fmt_pct(report.exposure.total)} of the "
        "portfolio"
        + (f" (cap {fmt_pct(report.exposure_cap)})." if report.exposure_cap is not None else "."),
    ]
    sentences += var_backtest_summary(report.var_backtest)
    sentences += loss_distribution_summary(report.loss_distribution)
    sentences += [f"Note: {note[:1].upper()}{note[1:]}." for note in report.history_notes]
    return tuple(sentences) + tuple(f"Warning: {w}" for w in report.warnings)


def _positions(report: RiskReport) -> Section:
    exposure = report.exposure
    rows = []
    for ticker in report.weights.index:
        is_cash = ticker == CASH
        if report.valuation is None:
            value = "-"
        else:
            value = fmt_money(report.valuation.cash if is_cash else report.valuation.values[ticker])
        rows.append((
            ticker,
            value,
            fmt_pct(report.weights[ticker]),
            fmt_pct(0.0 if is_cash else report.risk_contributions[ticker]),
            fmt_pct(0.0 if is_cash else report.risk_contributions_pct[ticker], 1),
            fmt_pct(exposure.exposures[ticker], 1),
            fmt_pct(exposure.per_holding[ticker]),
        ))
    hub = report.exposure_hub
    return Section(
        "Positions",
        ("ticker", "value (USD)", "weight", "risk contrib.", "% of risk", f"{hub} exp.",
         f"{hub} contrib."),
        tuple(rows),
        "Risk contribution: annual volatility contributed (sums to the volatility). "
        f"{hub} exp.: the company's look-through exposure; contrib.: weight x exposure.",
    )


def _groups(report: RiskReport) -> Section:
    rows = tuple(
        (group, fmt_pct(row["weight"]), fmt_pct(row["risk_contribution"]),
         fmt_pct(row["risk_share"], 1))
        for group, row in report.group_risk.iterrows()
    )
    return Section("Groups", ("group", "weight", "risk contrib.", "% of risk"), rows,
                   "Each name counts in its first group; names in no group are in 'other'.")


def _level(level: str) -> Cell:
    """``"95%"`` shown as is, 0.95 in CSV."""
    return cell(float(level.rstrip("%")) / 100, level)


def _tail(report: RiskReport) -> Section:
    with_usd = report.var_usd is not None
    columns = ("method", "confidence", "horizon", "VaR", "CVaR")
    if with_usd:
        columns += ("VaR (USD)", "CVaR (USD)")
    rows = []
    for method, levels in report.var.items():
        for level, horizons in levels.items():
            for horizon in horizons:
                row = (METHOD_NAMES.get(method, method), _level(level),
                       cell(int(horizon.rstrip("d")), horizon.replace("d", " day")),
                       fmt_pct(report.var[method][level][horizon]),
                       fmt_pct(report.cvar[method][level][horizon]))
                if with_usd:
                    row += (fmt_money(report.var_usd[method][level][horizon]),
                            fmt_money(report.cvar_usd[method][level][horizon]))
                rows.append(row)
    return Section(
        "Value at risk", columns, tuple(rows),
        "Losses as positive fractions of portfolio value. Parametric: normal, zero mean, "
        "annual covariance scaled by sqrt(h/252). Historical: today's weights on the "
        "lookback's daily returns (overlapping compounded h-day returns).",
    )


def _risk_measures(report: RiskReport) -> Section:
    drawdown = report.max_drawdown
    rows = (
        ("volatility (annual)", fmt_pct(report.volatility)),
        (f"beta vs {report.benchmark}", _number(report.beta)),
        (f"tracking error vs {report.benchmark} (annual)", fmt_pct(report.tracking_error)),
        ("max drawdown (back-cast)", fmt_pct(drawdown.depth)),
        ("drawdown peak", _date(drawdown.peak) or "-"),
        ("drawdown trough", _date(drawdown.trough) or "-"),
        ("drawdown recovery", _date(drawdown.recovery) or "not recovered"),
    )
    return Section("Risk", ("measure", "value"), rows)


def _concentration(report: RiskReport) -> Section:
    c = report.concentration
    rows = (
        ("HHI of weights", _number(c.hhi, 4)),
        ("effective number of names (1/HHI)", _number(c.effective_names)),
        ("effective number of bets", _number(c.effective_bets)),
        ("top-5 share", fmt_pct(c.top5_share)),
    )
    return Section("Concentration", ("measure", "value"), rows,
                   f"Weights: {CONCENTRATION_BASIS}; bets from the risk contributions.")


def _correlation(report: RiskReport) -> Section:
    matrix = report.correlation
    rows = tuple(
        (ticker, *(_number(matrix.at[ticker, other]) for other in matrix.columns))
        for ticker in matrix.index
    )
    return Section("Correlation", ("ticker", *matrix.columns), rows,
                   f"Implied by the {report.covariance_method} covariance estimate.")


def _data(report: RiskReport) -> dict[str, Any]:
    drawdown = report.max_drawdown
    c = report.concentration
    correlation = report.correlation
    data: dict[str, Any] = {
        "as_of": report.as_of,
        "data_source": report.data_source,
        "covariance_method": report.covariance_method,
        "benchmark": report.benchmark,
        "weights": {t: float(w) for t, w in report.weights.items()},
        "volatility": report.volatility,
        "risk_contributions": {t: float(v) for t, v in report.risk_contributions.items()},
        "risk_contributions_pct": {
            t: float(v) for t, v in report.risk_contributions_pct.items()
        },
        "group_risk": {
            group: {k: float(v) for k, v in row.items()}
            for group, row in report.group_risk.iterrows()
        },
        "var": _plain(report.var),
        "cvar": _plain(report.cvar),
        "max_drawdown": {"depth": drawdown.depth, "peak": _date(drawdown.peak),
                         "trough": _date(drawdown.trough), "recovery": _date(drawdown.recovery)},
        "beta": report.beta,
        "tracking_error": report.tracking_error,
        "concentration": {"hhi": c.hhi, "effective_names": c.effective_names,
                          "effective_bets": c.effective_bets, "top5_share": c.top5_share,
                          "basis": CONCENTRATION_BASIS},
        "limits": limits_data(report.limits),
        "breaches": [row.name for row in report.breaches],
        "exposure": {
            "hub": report.exposure_hub,
            "total": report.exposure.total,
            "cap": report.exposure_cap,
            "per_holding": {t: float(v) for t, v in report.exposure.per_holding.items()},
            "lookthrough": {t: float(v) for t, v in report.exposure.exposures.items()},
        },
        "correlation": {
            t: {u: float(correlation.at[t, u]) for u in correlation.columns}
            for t in correlation.index
        },
        "warnings": list(report.warnings),
        "notice": report.notice,
        "var_backtest": var_backtest_data(report.var_backtest),
        "history_notes": list(report.history_notes),
    }
    if report.loss_distribution is not None:
        data["loss_distribution"] = loss_distribution_data(report.loss_distribution)
    if report.valuation is not None:
        valuation = report.valuation
        data["value"] = {
            "total": valuation.total,
            "cash": valuation.cash,
            "positions": {t: float(v) for t, v in valuation.values.items()},
            "prices": {t: float(p) for t, p in valuation.prices.items()},
        }
        data["var_usd"] = _plain(report.var_usd)
        data["cvar_usd"] = _plain(report.cvar_usd)
    return data


def risk_charts(report: RiskReport, graph: DealGraph | None = None) -> tuple[Chart, ...]:
    """The HTML charts of a risk report.

    Weights, risk contributions (name, group), the back-cast return distribution with
    VaR / CVaR, the clustered correlation, the deal graph (when given) and limit usage.
    """
    import pandas as pd

    from portfolio.report import charts

    held = report.weights.drop(CASH, errors="ignore")
    held = held[held.abs() > 1e-12]
    groups = report.group_risk
    made = [
        charts.bar_chart(report.weights, "Weights", note="Fractions of the portfolio value."),
        charts.weight_risk_chart(held, report.risk_contributions_pct,
                                 "Risk contributions by name"),
        charts.weight_risk_chart(groups["weight"], groups["risk_share"],
                                 "Risk contributions by group",
                                 charts.group_colours(list(groups.index))),
        charts.distribution_chart({"today's weights": report.backcast},
                                  {"today's weights": "#0072b2"},
                                  "Daily returns of today's weights over the lookback"),
    ]
    if len(report.correlation) > 1:
        made.append(charts.correlation_heatmap(report.correlation))
    if graph is not None:
        hub = report.exposure_hub
        deals = [(d.source, d.target, d.annual_flow_bn, d.kind)
                 for d in graph.transmitting_deals()]
        made.append(charts.deal_graph_chart(
            deals, hub, report.exposure.exposures.to_dict(),
            pd.Series(report.exposure.per_holding).to_dict(),
            members=sorted(graph.hub_members(hub) - {hub})))
    made.append(charts.limit_usage_chart(limits_data(report.limits)))
    return tuple(made)


def risk_report_document(report: RiskReport, graph: DealGraph | None = None) -> Report:
    """Turn a :class:`~portfolio.analytics.risk.RiskReport` into a :class:`Report`.

    Sections: positions, groups, value at risk, VaR backtest, loss distribution (with a
    horizon), risk measures, concentration, correlation, limits. ``data`` is the JSON
    object described in the module docstring. Charts: :func:`risk_charts` (the deal graph
    needs ``graph``).
    """
    checks = ((var_backtest_section(report.var_backtest),) if report.var_backtest else ())
    if report.loss_distribution is not None:
        checks += (loss_distribution_section(report.loss_distribution),)
    sections = (
        _positions(report),
        _groups(report),
        _tail(report),
        *checks,
        _risk_measures(report),
        _concentration(report),
        _correlation(report),
        limits_section(report.limits),
    )
    return Report("Portfolio risk", _summary(report), sections, _data(report),
                  risk_charts(report, graph))
