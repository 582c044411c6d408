"""Report for an optimisation run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portfolio.jobs.optimize import OptimizationRun
from portfolio.optimization.constraints import LimitCheck
from portfolio.report import Report, Section, fmt_pct


def limits_section(limits: Sequence[LimitCheck], title: str = "Limits") -> Section:
    """The limit table: name, value, limit, ok/breach."""
    rows = tuple(
        (row.name, fmt_pct(row.value), f"{row.sense} {fmt_pct(row.limit)}",
         "ok" if row.ok else "BREACH")
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
    """Weights, risk, solver and limits of an :class:`~portfolio.jobs.market.OptimizationRun`."""
    allocation = run.allocation
    weights = allocation.weights
    order = [*weights.drop("CASH").sort_values(ascending=False).index, "CASH"]
    at_cap = {row.subject for row in allocation.binding_rows if row.kind == "max_weight"}
    weight_rows = tuple((t, fmt_pct(weights[t]), "yes" if t in at_cap else "") for t in order)
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
    }
    sections = (
        Section("Weights", ("ticker", "weight", "at cap"), weight_rows),
        limits_section(allocation.limits),
    )
    return Report("Optimal allocation", tuple(summary), sections, data)
