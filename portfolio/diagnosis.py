"""Infeasibility diagnosis: arithmetic before solving, an elastic problem after."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from portfolio.errors import InfeasibleError

if TYPE_CHECKING:
    from portfolio.optimizer import PortfolioProblem

__all__ = ["check_feasibility_arithmetic", "diagnose_infeasible"]


def _pct(x: float) -> str:
    return f"{100 * x:.4g} %"


def check_feasibility_arithmetic(problem: PortfolioProblem) -> None:
    """Raise InfeasibleError when simple sums prove the limits cannot hold together."""
    upper = np.asarray(problem.data.upper.value)
    budget = problem.budget
    if upper.sum() < budget - 1e-9:
        raise InfeasibleError(
            "the per-name caps cannot hold the invested budget", "limits.max_weight",
            f"the caps sum to {_pct(upper.sum())} but {_pct(budget)} must be invested "
            f"(100 % minus the {_pct(problem.cash_floor)} cash floor)",
            f"raise the caps so they sum to at least {_pct(budget)}, or raise the cash floor "
            f"to {_pct(1 - upper.sum())}",
            conflicts=("max_weight", "cash_floor"),
        )


def diagnose_infeasible(problem: PortfolioProblem) -> InfeasibleError:
    """Build the error for a problem the solver proved infeasible."""
    return InfeasibleError(
        "the limits cannot all hold at once", f"objective {problem.objective.name}",
        "the solver proved the problem infeasible", "relax the limits",
        conflicts=(),
    )
