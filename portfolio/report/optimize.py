"""Report for an optimisation run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from portfolio.jobs.optimize import OptimizationRun
from portfolio.optimization.constraints import LimitCheck
from portfolio.optimization.explain import Explanation
from portfolio.report import Cell, Chart, Report, Section, fmt_pct
from portfolio.report.explain import (
    expected_returns_data,
    expected_returns_section,
    explanation_charts,
    explanation_data,
    explanation_section,
    explanation_summary,
)
from portfolio.weights import CASH


def bound_cell(row: LimitCheck) -> Cell:
    """``<= 20.00 %``: the bound as text; 0.2 with the flag ``<=`` in CSV."""
    return Cell(f"{row.sense} {fmt_pct(row.limit)}", row.limit, row.sense)


def limits_section(limits: Sequence[LimitCheck], title: str = "Limits") -> Section:
    """The limit table: name, value, limit, ok/breach."""
    rows = tuple(
        (row.name, fmt_pct(row.value), bound_cell(row), "ok" if row.ok else "BREACH")
        for row in limits
    )
    return Section(title, ("limit", "value", "bound", "status"), rows)


def limits_data(limits: Sequence[LimitCheck]) -> list[dict[str, Any]]:
    """Limit rows as JSON objects ``{name, value, limit, sense, ok}``."""
    return [
        {"name": r.name, "value": r.value, "limit": r.limit, "sense": r.sense, "ok": r.ok}
        for r in limits
    ]


def optimization_report(run: OptimizationRun) -> Report:
    """Weights and why, risk, solver and limits of an optimisation run.

    JSON adds ``explanation`` (per name: weight, amount, risk share, marginal risk,
    binding limits, reason; group totals; effective names; return and Sharpe) and
    ``expected_returns`` (prior, views and posterior) when the objective used them.
    """
    allocation = run.allocation
    weights = allocation.weights
    order = [*weights.drop(CASH).sort_values(ascending=False).index, CASH]
    solve = allocation.solve
    summary = [
        f"Objective {allocation.objective} on {run.covariance_method} covariance, "
        f"prices up to {run.as_of.date()} ({run.data_source}).",
        f"Annual volatility {fmt_pct(allocation.volatility)}"
        + (f", expected return {fmt_pct(allocation.expected_return)}"
           if allocation.expected_return is not None else "")
        + f"; solved by {solve.solver} in {solve.seconds * 1000:.0f} ms.",
    ]
    if allocation.binding:
        summary.append(f"Binding limits: {', '.join(allocation.binding)}.")
    if run.explanation is not None:
        summary.append(explanation_summary(run.explanation))
    summary += list(run.warnings)
    data = {
        "weights": {t: float(weights[t]) for t in order},
        "objective": allocation.objective,
        "volatility": allocation.volatility,
        "expected_return": allocation.expected_return,
        "as_of": run.as_of,
        "data_source": run.data_source,
        "covariance_method": run.covariance_method,
        "solver": {"name": solve.solver, "status": solve.status, "seconds": solve.seconds,
                   "objective_value": solve.objective_value, "fallbacks": list(solve.fallbacks)},
        "binding": list(allocation.binding),
        "limits": limits_data(allocation.limits),
        "warnings": list(run.warnings),
        "explanation": None if run.explanation is None else explanation_data(run.explanation),
        "expected_returns": expected_returns_data(run.expected_model),
    }
    sections = [limits_section(allocation.limits)]
    if run.explanation is not None:
        sections.insert(0, explanation_section(run.explanation))
    returns = expected_returns_section(run.expected_model)
    if returns is not None:
        sections.append(returns)
    return Report("Optimal allocation", tuple(summary), tuple(sections), data,
                  allocation_charts(data["weights"], run.explanation, data["limits"]))


def allocation_charts(weights: dict[str, float], explanation: Explanation | None,
                      limits: Sequence[dict[str, Any]]) -> tuple[Chart, ...]:
    """Weights, risk contributions (name, group) and limit usage (HTML charts)."""
    from portfolio.report.charts import bar_chart, limit_usage_chart

    charts = [bar_chart(pd.Series(weights), "Weights", note="Fractions of the portfolio.")]
    if explanation is not None:
        charts += explanation_charts(explanation)
    return (*charts, *([limit_usage_chart(limits)] if limits else []))
