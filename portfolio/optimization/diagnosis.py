"""Infeasibility diagnosis after the solver: an elastic linear programme names the conflict.

:func:`diagnose_infeasible` runs after a solver proved infeasibility that the arithmetic of
:mod:`portfolio.optimization.feasibility` did not. It solves an *elastic* linear programme:
the same feasible set with every limit row relaxed by a non-negative slack, minimising the
total slack. Rows that need slack conflict; a deletion filter (one small LP re-solve per
row, through cvxpy Parameters) then extracts an irreducible infeasible subset (IIS: every
row of it is needed for the conflict), and one LP per configuration key finds the smallest
change of that key alone that restores feasibility. The model and the row labels are those
of :mod:`portfolio.optimization.feasibility`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import cvxpy as cp
import numpy as np

from portfolio.errors import InfeasibleError, InputError
from portfolio.optimization.constraints import (
    CashFloor,
    Constraint,
    GroupCap,
    GroupFloor,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
)
from portfolio.optimization.feasibility import _box
from portfolio.optimization.relaxation import (
    CONFIG_KEYS,
    FREE_SLACK,
    Diagnosis,
    Relaxation,
    config_key,
    pct,
    relaxation,
)

if TYPE_CHECKING:
    from portfolio.optimization.problem import PortfolioProblem

__all__ = ["diagnose_infeasible", "elastic_diagnosis", "relax"]

SLACK_TOLERANCE = 1e-7  # elastic LP: a row with more slack than this conflicts


MAX_FILTER_ROWS = 80  # deletion filter (one LP per row) only up to this many relaxable rows


@dataclass(frozen=True)
class _Row:
    label: str
    key: str
    direction: str
    current: float
    most: float  # largest useful slack


class _Elastic:
    """The elastic LP, built once and re-solved with different slack bounds.

    Each relaxable row ``r`` gets slack ``s_r + t_k`` with ``s_r`` its own and ``t_k`` the
    shared slack of its configuration key ``k`` (moving ``limits.max_weight`` raises every
    row it sets). Parameters ``row_bound`` and ``key_bound`` bound ``s`` and ``t``: 0 makes
    a row hard, :attr:`_Row.most` drops it. The objective is ``sum(s) + sum(t)``.
    """

    def __init__(self, problem: PortfolioProblem) -> None:
        box = _box(problem)
        tickers, n = box.tickers, len(box.tickers)
        w = cp.Variable(n, name="w")
        rows: list[_Row] = []
        builders: list[tuple[int, Callable[[Any], list]]] = []

        def add(new_rows: list[_Row], build: Callable[[Any], list]) -> None:
            if new_rows:
                builders.append((len(new_rows), build))
                rows.extend(new_rows)

        relax_cap = np.flatnonzero(box.available & (box.upper < 1.0))
        hard = [w >= 0, w <= np.where(box.available, np.maximum(box.upper, 1.0), box.upper)]
        add([_Row(f"max_weight[{tickers[i]}]", box.cap_key(i), "raise", box.upper[i], FREE_SLACK)
             for i in relax_cap],
            lambda s, idx=relax_cap: [w[idx] <= box.upper[idx] + s])
        relax_floor = np.flatnonzero(box.lower > 0)
        add([_Row(f"min_weight[{tickers[i]}]", box.floor_key(i), "lower", box.lower[i],
                  box.lower[i]) for i in relax_floor],
            lambda s, idx=relax_floor: [w[idx] >= box.lower[idx] - s])
        cash = CONFIG_KEYS["cash_floor"]
        add([_Row("cash_floor", cash, "lower", box.cash_floor, box.cash_floor)],
            lambda s: [cp.sum(w) <= box.budget + s[0]])
        add([_Row("cash_floor", cash, "raise", box.cash_floor, box.budget)],
            lambda s: [cp.sum(w) >= box.budget - s[0]])
        for item in problem.constraints:
            folded = isinstance(item, MaxWeight | MinWeight | CashFloor)  # box and budget rows
            if folded or not isinstance(item, Constraint):
                continue
            labels, bounds = item.rows(tickers)
            direction = "raise" if item.sense == "<=" else "lower"
            add([_Row(label, config_key(label, box.constraints), direction, float(bound),
                      FREE_SLACK if direction == "raise" else max(float(bound), 0.0))
                 for label, bound in zip(labels, bounds)],
                lambda s, c=item: c.to_cvxpy(w, tickers, slack=s))

        self.rows = tuple(rows)
        self.keys = tuple(dict.fromkeys((r.key, r.direction) for r in rows))
        m, k = len(rows), len(self.keys)
        incidence = np.zeros((m, k))
        for j, row in enumerate(rows):
            incidence[j, self.keys.index((row.key, row.direction))] = 1.0
        self.incidence = incidence
        self.most = np.array([r.most for r in rows])
        self.key_most = np.array([self.most[incidence[:, j] > 0].max() for j in range(k)])
        self.row_slack = cp.Variable(m, nonneg=True, name="row_slack")
        self.key_slack = cp.Variable(k, nonneg=True, name="key_slack")
        self.row_bound = cp.Parameter(m, nonneg=True, name="row_bound")
        self.key_bound = cp.Parameter(k, nonneg=True, name="key_bound")
        slack = self.row_slack + incidence @ self.key_slack
        constraints = [*hard, self.row_slack <= self.row_bound, self.key_slack <= self.key_bound]
        start = 0
        for count, build in builders:
            constraints += build(slack[start:start + count])
            start += count
        self.problem = cp.Problem(
            cp.Minimize(cp.sum(self.row_slack) + cp.sum(self.key_slack)), constraints
        )
        self.solver = "SCIPY" if "SCIPY" in cp.installed_solvers() else "CLARABEL"

    def solve(self, row_bound: np.ndarray, key_bound: np.ndarray) -> bool:
        """Solve with the given slack bounds; True when feasible (values are then set)."""
        self.row_bound.value = row_bound
        self.key_bound.value = key_bound
        self.problem.solve(solver=self.solver)
        if self.problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            return False
        if self.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise cp.error.SolverError(f"elastic LP status {self.problem.status}")
        return True

    def row_slacks(self) -> np.ndarray:
        return np.asarray(self.row_slack.value) + self.incidence @ np.asarray(self.key_slack.value)

    def deletion_filter(self, order: Sequence[int]) -> list[int]:
        """Rows of an irreducible infeasible subset (empty when all rows hold together)."""
        bound = np.zeros(len(self.rows))
        keys_hard = np.zeros(len(self.keys))
        if self.solve(bound, keys_hard):
            return []
        needed = []
        for j in order:
            if self.most[j] <= 0.0:
                continue  # cannot be relaxed: structural, not a limit choice
            bound[j] = self.most[j]
            if self.solve(bound, keys_hard):
                bound[j] = 0.0  # the rest holds without it: it takes part in the conflict
                needed.append(j)
        return sorted(needed)

    def key_plan(self, chosen: Sequence[int]) -> tuple[Relaxation, ...] | None:
        """Smallest relaxation of the keys ``chosen`` only (rows hard); None if impossible."""
        key_bound = np.zeros(len(self.keys))
        key_bound[list(chosen)] = self.key_most[list(chosen)]
        if not self.solve(np.zeros(len(self.rows)), key_bound):
            return None
        amounts = np.asarray(self.key_slack.value)
        plan = []
        for j in chosen:
            if amounts[j] > SLACK_TOLERANCE:
                key, direction = self.keys[j]
                rows = [r for r in self.rows if (r.key, r.direction) == (key, direction)]
                current = rows[0].current
                target = current + amounts[j] if direction == "raise" else current - amounts[j]
                plan.append(relaxation(key, direction, current, target,
                                        dict.fromkeys(r.label for r in rows)))
        return tuple(plan)


def elastic_diagnosis(problem: PortfolioProblem) -> Diagnosis:
    """Name the conflicting limits of a problem the solver proved infeasible.

    Steps (all LPs over the box, budget and every limit row, solved by SciPy's HiGHS
    through cvxpy -- the standalone HIGHS interface prints a banner on stdout):

    1. Elastic LP: every relaxable row gets a slack; minimise the total slack. Rows with
       slack above 1e-7 are the cheapest set of limits to relax.
    2. Deletion filter (up to :data:`MAX_FILTER_ROWS` rows): drop rows one at a time,
       keeping a row only when the rest becomes feasible without it; what remains is an
       irreducible infeasible subset. ``conflicts`` = IIS rows plus the elastic rows.
    3. For every configuration key of the conflict, the smallest change of that key alone
       (one LP each); plans are sorted by size. When no single key suffices (several
       independent conflicts), the plan is the smallest joint change of all their keys.

    Returns
    -------
    Diagnosis
        ``what`` = "the limits cannot all hold at once"; ``why`` names the limits with
        their values; ``plans`` the relaxations.
    """
    elastic = _Elastic(problem)
    if not elastic.solve(elastic.most, np.zeros(len(elastic.keys))):
        return Diagnosis(
            "the limits cannot all hold at once", None,
            "even with every limit relaxed no portfolio fits the names that can be held",
            (), (),
        )
    slacks = elastic.row_slacks()
    cheapest = [j for j in range(len(elastic.rows)) if slacks[j] > SLACK_TOLERANCE]
    if not cheapest:
        return Diagnosis(
            "the solver reported the limits infeasible", None,
            "an exact LP finds a portfolio meeting every limit, so the solver failed numerically",
            (), (),
        )
    iis: list[int] = []
    if len(elastic.rows) <= MAX_FILTER_ROWS:
        order = sorted(range(len(elastic.rows)), key=lambda j: (slacks[j] > SLACK_TOLERANCE, j))
        iis = elastic.deletion_filter(order)
    rows = list(dict.fromkeys([*iis, *cheapest]))
    key_index = list(dict.fromkeys(
        elastic.keys.index((elastic.rows[j].key, elastic.rows[j].direction)) for j in rows
    ))
    plans = [plan for j in key_index if (plan := elastic.key_plan([j]))]
    plans.sort(key=lambda p: abs(p[0].proposed - p[0].current))
    if not plans:
        joint = elastic.key_plan(key_index)
        plans = [joint] if joint else []
    conflicts = tuple(dict.fromkeys(elastic.rows[j].label for j in rows))
    return Diagnosis(
        "the limits cannot all hold at once", None, _conflict_text(elastic, rows),
        conflicts, tuple(plans),
    )


def _conflict_text(elastic: _Elastic, rows: Sequence[int]) -> str:
    parts: dict[str, str] = {}
    for j in rows:
        row = elastic.rows[j]
        if row.key == CONFIG_KEYS["cash_floor"]:
            parts[row.key] = f"{row.key} = {pct(row.current)}"
        else:
            sense = "<=" if row.direction == "raise" else ">="
            parts.setdefault(row.key, f"{row.key} {sense} {pct(row.current)}")
    listing = list(parts.values())
    text = listing[0] if len(listing) == 1 else ", ".join(listing[:-1]) + " and " + listing[-1]
    return f"{text} conflict"


def diagnose_infeasible(problem: PortfolioProblem) -> InfeasibleError:
    """Build the error for a problem the solver proved infeasible (see :func:`elastic_diagnosis`).

    Never raises: if the diagnosis itself fails, the error says the limits conflict
    without naming them.
    """
    try:
        return elastic_diagnosis(problem).error()
    except cp.error.SolverError as exc:
        return InfeasibleError(
            "the limits cannot all hold at once", None,
            f"the solver proved the problem infeasible (the diagnosis failed: {exc})",
            "relax the tightest limits (group floors, caps, cash floor, turnover)",
        )


# --------------------------------------------------------------------------- applying a fix


def relax(constraints: Sequence[Any], plan: Iterable[Relaxation]) -> tuple[Any, ...]:
    """Apply relaxations to limit objects (returns new objects; the input is unchanged).

    Parameters
    ----------
    constraints : sequence
        Limit and penalty objects.
    plan : iterable of Relaxation
        E.g. one of :attr:`Diagnosis.plans`.

    Raises
    ------
    InputError
        When a relaxation names a key no object carries.
    """
    result = list(constraints)
    for change in plan:
        changed = False
        for i, item in enumerate(result):
            updated = _relax_one(item, change)
            if updated is not item:
                result[i], changed = updated, True
        if not changed and change.key == CONFIG_KEYS["cash_floor"]:
            result.append(CashFloor(change.proposed))
        elif not changed:
            raise InputError(
                f"no limit carries the key {change.key}", "relaxation",
                "a relaxation must name a limit of the problem",
                "pass the constraints the diagnosis was made for",
            )
    return tuple(result)


def _override(mapping: Any, ticker: str, value: float) -> MappingProxyType:
    return MappingProxyType({**dict(mapping), ticker: value})


def _relax_one(item: Any, r: Relaxation) -> Any:
    key, value = r.key, r.proposed
    prefix, _, name = key.rpartition(".")
    if isinstance(item, MaxWeight):
        if key == CONFIG_KEYS["max_weight"] and math.isclose(item.cap, r.current, abs_tol=1e-12):
            return replace(item, cap=value)
        if prefix == "limits.max_weight_overrides" and name in item.overrides:
            return replace(item, overrides=_override(item.overrides, name, value))
    if isinstance(item, MinWeight):
        if key == CONFIG_KEYS["min_weight"] and math.isclose(item.floor, r.current, abs_tol=1e-12):
            return replace(item, floor=value)
        if prefix == "limits.min_weight_overrides" and name in item.overrides:
            return replace(item, overrides=_override(item.overrides, name, value))
    if isinstance(item, GroupCap) and key == config_key(item.label()):
        return replace(item, cap=value)
    if isinstance(item, GroupFloor) and key == config_key(item.label()):
        return replace(item, floor=value)
    if isinstance(item, ThemeCap) and key == config_key(item.label()):
        return replace(item, cap=value)
    if isinstance(item, CashFloor) and key == CONFIG_KEYS["cash_floor"]:
        return replace(item, floor=value)
    if isinstance(item, MaxTurnover) and key == CONFIG_KEYS["max_turnover"]:
        return replace(item, limit=value)
    return item
