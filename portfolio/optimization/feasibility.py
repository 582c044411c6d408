"""Feasibility by arithmetic, before any solver: which limits cannot all hold, and the fix.

:func:`check_feasibility_arithmetic` runs before every solve. Plain sums over the per-name
bounds (which include the availability mask: a name without a price has cap 0), the
budget ``sum(w) = 1 - cash_floor`` and one limit row at a time prove the common conflicts
-- caps summing below the budget, a group floor above what its members may hold, a
turnover cap below the minimal turnover -- in microseconds, and name the smallest change
in the words of the configuration file (``limits.group_caps.semiconductors``). When the
arithmetic proves nothing and the solver finds the problem infeasible,
:mod:`portfolio.optimization.diagnosis` solves an elastic programme instead.
:func:`relax` applies a proposed change to the limit objects.

Model
-----
Weights ``w`` (shape ``(n,)``, fractions) over ``problem.tickers``; cash is implicit and
the optimiser invests exactly the budget ``B = 1 - cash_floor``. Long-only (``w >= 0``)
and the availability mask are structural and never relaxed. A row label is the label of
:class:`~portfolio.optimization.constraints.LimitCheck` (``"group_cap[semiconductors]"``);
the budget row is ``"cash_floor"`` and relaxes both ways (lowering the cash floor invests
more, raising it invests less); a name that cannot be held at the date (availability
mask) appears as ``"available[T]"``. :func:`config_key` maps row labels to configuration
keys.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from portfolio.optimization.constraints import (
    GroupCap,
    GroupFloor,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
    _LinearRow,
)
from portfolio.optimization.relaxation import (
    CONFIG_KEYS,
    Diagnosis,
    Relaxation,
    config_key,
    governing,
    keys_text,
    names_text,
    pct,
    relaxation,
)
from portfolio.optimization.starts import fill_budget
from portfolio.optimization.turnover import least_turnover, most_invested, turnover_set
from portfolio.weights import weights_and_cash

if TYPE_CHECKING:
    from portfolio.optimization.problem import PortfolioProblem

__all__ = [
    "Diagnosis",
    "Relaxation",
    "arithmetic_diagnosis",
    "check_feasibility_arithmetic",
    "config_key",
    "minimum_turnover",
]

TOLERANCE = 1e-9  # arithmetic: a sum must miss its bound by more than this


@dataclass(frozen=True)
class _Structure:
    """What a problem's limits fix once: group members, theme loadings, turnover start."""

    masks: dict[int, np.ndarray]  # id(GroupCap / GroupFloor) -> membership, bool shape (n,)
    loadings: dict[int, np.ndarray]  # id(ThemeCap) -> loadings, shape (n,)
    current: dict[int, tuple[np.ndarray, float]]  # id(MaxTurnover) -> (w0, cash0)


_STRUCTURES: weakref.WeakKeyDictionary[Any, _Structure] = weakref.WeakKeyDictionary()


def _structure(problem: PortfolioProblem) -> _Structure:
    cached = _STRUCTURES.get(problem)
    if cached is not None:
        return cached
    tickers = tuple(problem.tickers)
    masks, loadings, current = {}, {}, {}
    for item in problem.constraints:
        if isinstance(item, GroupCap | GroupFloor):
            masks[id(item)] = item.loadings(tickers) > 0
        elif isinstance(item, ThemeCap):
            loadings[id(item)] = item.loadings(tickers)
        elif isinstance(item, MaxTurnover):
            current[id(item)] = weights_and_cash(item.current, tickers)
    structure = _Structure(masks, loadings, current)
    _STRUCTURES[problem] = structure
    return structure


@dataclass(frozen=True)
class _Box:
    """Per-name bounds, budget and label helpers of a problem (numpy, fractions)."""

    tickers: tuple[str, ...]
    upper: np.ndarray  # caps after the availability mask
    lower: np.ndarray  # floors after the availability mask
    caps: np.ndarray  # configured caps (PortfolioProblem.caps)
    floors: np.ndarray  # configured floors (PortfolioProblem.floors)
    budget: float
    cash_floor: float
    constraints: tuple[Any, ...]
    structure: _Structure

    def mask(self, group: GroupCap | GroupFloor) -> np.ndarray:
        return self.structure.masks[id(group)]

    @cached_property
    def available(self) -> np.ndarray:
        return ~((self.upper < self.caps - 1e-12) | (self.lower < self.floors - 1e-12))

    def cap_key(self, i: int) -> str:
        if not self.available[i]:
            return config_key(f"available[{self.tickers[i]}]")
        return config_key(f"max_weight[{self.tickers[i]}]", self.constraints)

    def floor_key(self, i: int) -> str:
        return config_key(f"min_weight[{self.tickers[i]}]", self.constraints)

    def cap_labels(self, index: Iterable[int]) -> list[str]:
        kinds = ("available", "max_weight")
        return [f"{kinds[bool(self.available[i])]}[{self.tickers[i]}]" for i in index]

    def floor_labels(self, index: Iterable[int]) -> list[str]:
        return [f"min_weight[{self.tickers[i]}]" for i in index if self.lower[i] > 0]

    def global_cap(self) -> float | None:
        source = governing(self.constraints, MaxWeight, "\0")
        return None if source is None else float(source.cap)

    def global_floor(self) -> float | None:
        source = governing(self.constraints, MinWeight, "\0")
        return None if source is None else float(source.floor)

    def uniform_cap_plan(self, index: np.ndarray, needed: float) -> tuple[Relaxation, ...]:
        """Raise ``limits.max_weight`` so that the names ``index`` hold ``needed`` in total."""
        index = np.asarray(index, dtype=int)
        glob = [i for i in index
                if self.available[i] and self.cap_key(i) == CONFIG_KEYS["max_weight"]]
        current = self.global_cap()
        if not glob or current is None:
            return ()
        fixed = float(self.upper[np.setdiff1d(index, glob)].sum())
        target = (needed - fixed) / len(glob)
        if target > 1.0 + TOLERANCE or target <= current:
            return ()
        return (relaxation(CONFIG_KEYS["max_weight"], "raise", current, target,
                           self.cap_labels(glob)),)

    def uniform_floor_plan(self, index: np.ndarray, allowed: float) -> tuple[Relaxation, ...]:
        """Lower ``limits.min_weight`` so that the names ``index`` need at most ``allowed``."""
        index = np.asarray(index, dtype=int)
        glob = [i for i in index
                if self.lower[i] > 0 and self.floor_key(i) == CONFIG_KEYS["min_weight"]]
        current = self.global_floor()
        if not glob or current is None:
            return ()
        fixed = float(self.lower[np.setdiff1d(index, glob)].sum())
        target = (allowed - fixed) / len(glob)
        if target < -TOLERANCE or target >= current:
            return ()
        return (relaxation(CONFIG_KEYS["min_weight"], "lower", current, max(target, 0.0),
                            self.floor_labels(glob)),)

    def cash_plan(self, budget_needed: float) -> tuple[Relaxation, ...]:
        """Move the cash floor so that exactly ``budget_needed`` is invested."""
        target = 1.0 - budget_needed
        if target < -TOLERANCE or target > 1.0 + TOLERANCE:
            return ()
        direction = "raise" if target > self.cash_floor else "lower"
        key = CONFIG_KEYS["cash_floor"]
        return (relaxation(key, direction, self.cash_floor, target, ["cash_floor"]),)


def _box(problem: PortfolioProblem) -> _Box:
    upper = np.asarray(problem.upper_bounds, dtype=float)
    lower = np.asarray(problem.lower_bounds, dtype=float)
    return _Box(tuple(problem.tickers), upper, lower, problem.caps, problem.floors,
                float(problem.budget), float(problem.cash_floor), tuple(problem.constraints),
                _structure(problem))


def minimum_turnover(
    current: Any, tickers: Sequence[str], lower: np.ndarray, upper: np.ndarray, budget: float
) -> float:
    """Smallest one-way turnover from ``current`` to the box-and-budget set (closed form).

    The set is ``{w : lower <= w <= upper, sum(w) = budget}``, cash ``1 - budget``.
    Clipping the current weights into the box is the nearest point in L1 per name; the
    budget gap ``|budget - sum(clipped)|`` then costs exactly its size, because every
    further move goes away from the current weights (assumes ``sum(lower) <= budget <=
    sum(upper)``). Turnover is ``0.5 * (sum |w - w0| + |cash - cash0|)``.

    Parameters
    ----------
    current : mapping
        Current weights (ticker -> fraction, may hold ``"CASH"``).
    tickers : sequence of str
        Order of ``lower`` and ``upper``.
    lower, upper : ndarray, shape (n,)
        Per-name bounds (fractions).
    budget : float
        Invested fraction.

    Returns
    -------
    float
        Minimal one-way turnover (fraction of portfolio value).
    """
    return _minimum_turnover(*weights_and_cash(current, tickers), lower, upper, budget)


def _minimum_turnover(w0: np.ndarray, cash0: float, lower: np.ndarray, upper: np.ndarray,
                      budget: float) -> float:
    clipped = np.clip(w0, lower, upper)
    moves = np.abs(clipped - w0).sum() + abs(budget - clipped.sum())
    return 0.5 * float(moves + abs((1.0 - budget) - cash0))


def _check_name_bounds(box: _Box) -> Diagnosis | None:
    bad = np.flatnonzero(box.lower > box.upper + TOLERANCE)
    if not len(bad):
        return None
    i = int(bad[0])
    ticker, cap_key, floor_key = box.tickers[i], box.cap_key(i), box.floor_key(i)
    low, high = box.lower[i], box.upper[i]
    plans = [(relaxation(floor_key, "lower", low, high, box.floor_labels([i])),)]
    if box.available[i]:
        plans.append((relaxation(cap_key, "raise", high, low, box.cap_labels([i])),))
    return Diagnosis(
        f"the floor on {ticker} is above its cap", f"{floor_key}, {cap_key}",
        f"{ticker} must hold at least {pct(box.lower[i])} ({floor_key}) and at most "
        f"{pct(box.upper[i])} ({cap_key})",
        (f"min_weight[{ticker}]", *box.cap_labels([i])), tuple(plans),
    )


def _unavailable_note(box: _Box, index: Iterable[int]) -> str:
    missing = [box.tickers[i] for i in index if not box.available[i]]
    return f"; {names_text(missing)} cannot be held at this date" if missing else ""


def _check_budget(box: _Box) -> Diagnosis | None:
    everyone = np.arange(len(box.tickers))
    held = np.flatnonzero(box.upper > 0)
    total_cap, total_floor = float(box.upper.sum()), float(box.lower.sum())
    if total_cap < box.budget - TOLERANCE:
        keys = [box.cap_key(i) for i in held]  # where: the keys a user can change
        plans = [box.uniform_cap_plan(everyone, box.budget), box.cash_plan(total_cap)]
        return Diagnosis(
            "the per-name caps cannot hold the invested budget",
            keys_text([*keys, "limits.cash_floor"]) if keys else "limits.cash_floor",
            f"the caps sum to {pct(total_cap)} but {pct(box.budget)} must be invested "
            f"(100 % minus the {pct(box.cash_floor)} cash floor)"
            + _unavailable_note(box, everyone),
            (*box.cap_labels(everyone), "cash_floor"), tuple(p for p in plans if p),
        )
    if total_floor > box.budget + TOLERANCE:
        floored = np.flatnonzero(box.lower > 0)
        plans = [box.uniform_floor_plan(everyone, box.budget), box.cash_plan(total_floor)]
        return Diagnosis(
            "the per-name floors need more than the invested budget",
            keys_text([*(box.floor_key(i) for i in floored), "limits.cash_floor"]),
            f"the floors sum to {pct(total_floor)} but only {pct(box.budget)} is invested "
            f"(100 % minus the {pct(box.cash_floor)} cash floor)",
            (*box.floor_labels(floored), "cash_floor"), tuple(p for p in plans if p),
        )
    return None


def _groups(box: _Box, kind: type) -> list[Any]:
    return [c for c in box.constraints if isinstance(c, kind) and c.members]


def _check_floor_under_cap(box: _Box) -> Diagnosis | None:
    """A group floor above the cap of a group that contains all its holdable members."""
    for floor in _groups(box, GroupFloor):
        holdable = box.mask(floor) & (box.upper > 0)
        for cap in _groups(box, GroupCap):
            inside = holdable.any() and not (holdable & ~box.mask(cap)).any()
            if inside and floor.floor > cap.cap + TOLERANCE:
                fkey, ckey = config_key(floor.label()), config_key(cap.label())
                same = "its own cap"
                if cap.group != floor.group:
                    same = f"the cap of group {cap.group}"
                return Diagnosis(
                    f"the floor of group {floor.group} is above {same}", f"{fkey}, {ckey}",
                    f"{fkey} is {pct(floor.floor)} but {ckey} allows at most {pct(cap.cap)}",
                    (floor.label(), cap.label()),
                    ((relaxation(fkey, "lower", floor.floor, cap.cap, [floor.label()]),),
                     (relaxation(ckey, "raise", cap.cap, floor.floor, [cap.label()]),)),
                )
    return None


def _check_group_floor(box: _Box, group: GroupFloor) -> Diagnosis | None:
    inside = box.mask(group)
    members, others = np.flatnonzero(inside), np.flatnonzero(~inside)
    key, label, floor = config_key(group.label()), group.label(), group.floor
    capacity = float(box.upper[members].sum())
    if floor > capacity + TOLERANCE:
        plans = [(relaxation(key, "lower", floor, capacity, [label]),),
                 box.uniform_cap_plan(members, floor)]
        return Diagnosis(
            f"the floor of group {group.group} is above what its members may hold", key,
            f"{key} is {pct(floor)} but the caps of its members "
            f"({names_text([box.tickers[i] for i in members])}) sum to {pct(capacity)}"
            + _unavailable_note(box, members),
            (label, *box.cap_labels(members)), tuple(p for p in plans if p),
        )
    others_floor = float(box.lower[others].sum())
    room = box.budget - others_floor
    if floor > room + TOLERANCE:
        plans = [(relaxation(key, "lower", floor, max(room, 0.0), [label]),),
                 box.cash_plan(floor + others_floor)]
        above = "100 %" if floor > 1 else f"the invested {pct(box.budget)}"
        others_text = (f" once the other names' floors ({pct(others_floor)}) are met"
                       if others_floor > 0 else "")
        return Diagnosis(
            f"the floor of group {group.group} needs more than the budget", key,
            f"{key} is {pct(floor)}, above {above} (100 % minus the {pct(box.cash_floor)} "
            f"cash floor){others_text}",
            (label, "cash_floor", *box.floor_labels(others)), tuple(p for p in plans if p),
        )
    return None


def _check_group_cap(box: _Box, group: GroupCap) -> Diagnosis | None:
    inside = box.mask(group)
    members, others = np.flatnonzero(inside), np.flatnonzero(~inside)
    key, label, cap = config_key(group.label()), group.label(), group.cap
    needed = float(box.lower[members].sum())
    if cap < needed - TOLERANCE:
        plans = [(relaxation(key, "raise", cap, needed, [label]),),
                 box.uniform_floor_plan(members, cap)]
        return Diagnosis(
            f"the cap of group {group.group} is below its members' floors", key,
            f"{key} is {pct(cap)} but the floors of its members sum to {pct(needed)}",
            (label, *box.floor_labels(members)), tuple(p for p in plans if p),
        )
    outside = float(box.upper[others].sum())
    forced = box.budget - outside
    if cap < forced - TOLERANCE:
        plans = [(relaxation(key, "raise", cap, forced, [label]),),
                 box.cash_plan(cap + outside),
                 box.uniform_cap_plan(others, box.budget - cap)]
        return Diagnosis(
            f"the cap of group {group.group} leaves too little room for the budget", key,
            f"{key} is {pct(cap)} but the names outside the group may hold only "
            f"{pct(outside)} of the invested {pct(box.budget)} (100 % minus the "
            f"{pct(box.cash_floor)} cash floor), so the group must hold {pct(forced)}"
            + _unavailable_note(box, others),
            (label, "cash_floor", *box.cap_labels(others)), tuple(p for p in plans if p),
        )
    return None


def _check_theme_cap(box: _Box, theme: ThemeCap) -> Diagnosis | None:
    loadings = box.structure.loadings[id(theme)]
    w = fill_budget(box.budget, box.lower, box.upper, loadings)  # the least exposure, exactly
    least = float(loadings @ w)
    if theme.cap >= least - TOLERANCE:
        return None
    key, label = config_key(theme.label()), theme.label()
    full = [i for i in np.flatnonzero(w > 0) if w[i] >= box.upper[i] - TOLERANCE]
    return Diagnosis(
        f"the cap on {theme.name} is below the least exposure the budget allows", key,
        f"{key} is {pct(theme.cap)} but investing {pct(box.budget)} within the per-name limits "
        f"gives at least {pct(least)} of it",
        (label, "cash_floor", *box.cap_labels(full), *box.floor_labels(range(len(w)))),
        ((relaxation(key, "raise", theme.cap, least, [label]),),),
    )


def _check_disjoint_floors(box: _Box) -> Diagnosis | None:
    """Floors of pairwise-disjoint groups (plus other names' floors) above the budget."""
    candidates = []
    for group in _groups(box, GroupFloor):
        members = set(np.flatnonzero(box.mask(group)).tolist())
        own = float(box.lower[list(members)].sum()) if members else 0.0
        candidates.append((group.floor - own, group, members))
    chosen, used = [], set()
    for excess, group, members in sorted(candidates, key=lambda c: -c[0]):
        if excess > TOLERANCE and not members & used:
            chosen.append((group, members))
            used |= members
    if len(chosen) < 2:
        return None
    outside = [i for i in range(len(box.tickers)) if i not in used]
    rest = float(box.lower[outside].sum())
    need = sum(g.floor for g, _ in chosen) + rest
    if need <= box.budget + TOLERANCE:
        return None
    excess = need - box.budget
    labels = [g.label() for g, _ in chosen]
    plans = [
        (relaxation(config_key(g.label()), "lower", g.floor, g.floor - excess, [g.label()]),)
        for g, members in chosen
        if g.floor - excess >= float(box.lower[list(members)].sum()) - TOLERANCE
    ]
    plans.append(box.cash_plan(need))
    listing = ", ".join(f"{g.group} ({pct(g.floor)})" for g, _ in chosen)
    extra = f" plus {pct(rest)} of per-name floors" if rest > 0 else ""
    return Diagnosis(
        "the group floors need more than the invested budget",
        keys_text([config_key(label) for label in labels]),
        f"the floors of the disjoint groups {listing}{extra} add up to {pct(need)} but only "
        f"{pct(box.budget)} is invested (100 % minus the {pct(box.cash_floor)} cash floor)",
        (*labels, "cash_floor", *box.floor_labels(outside)),
        tuple(sorted((p for p in plans if p), key=lambda p: abs(p[0].proposed - p[0].current))),
    )


def _check_invested(box: _Box) -> Diagnosis | None:
    """Group and theme caps that together cannot hold the budget (one LP over every row).

    Each cap alone may leave room (:func:`_check_group_cap`) while the caps of two groups
    plus the names outside them hold less than the budget, e.g. when few names are listed.
    """
    caps = [item for item in box.constraints if isinstance(item, GroupCap | ThemeCap)]
    if len(caps) < 2:
        return None
    linear = [item for item in box.constraints if isinstance(item, _LinearRow)]
    reached = most_invested(turnover_set(linear, box.tickers, (0.0, 1.0), box.lower, box.upper))
    if reached is None or reached[0] >= box.budget - TOLERANCE:
        return None
    invested, w = reached[0], reached[1][:-1]
    binding = [label for item in caps for label, ok in _binding_rows(item, w, box.tickers) if ok]
    full = np.flatnonzero(w >= box.upper - TOLERANCE)
    everyone = range(len(box.tickers))
    return Diagnosis(
        "the group and theme caps cannot hold the invested budget",
        keys_text([*(config_key(label) for label in binding), "limits.cash_floor"]),
        f"together with the per-name caps they let at most {pct(invested)} be invested but "
        f"{pct(box.budget)} must be (100 % minus the {pct(box.cash_floor)} cash floor)"
        + _unavailable_note(box, everyone),
        (*binding, "cash_floor", *box.cap_labels(full)),
        tuple(p for p in (box.cash_plan(invested),) if p),
    )


def _check_turnover(box: _Box, limit: MaxTurnover) -> Diagnosis | None:
    """The least turnover into every limit against the cap (closed form, then one LP)."""
    w0, cash0 = box.structure.current[id(limit)]
    least = _minimum_turnover(w0, cash0, box.lower, box.upper, box.budget)
    into, binding = "the per-name limits", []
    linear = [item for item in box.constraints if isinstance(item, _LinearRow)]
    if linear:
        cash = 1.0 - box.budget
        exact = least_turnover(turnover_set(linear, box.tickers, (cash, cash), box.lower,
                                            box.upper), w0, cash0)
        if exact is not None:  # group, theme and cash rows: the turnover a cap must allow
            least, into = exact[0], "every limit"
            binding = [label for item in linear
                       for label, ok in _binding_rows(item, exact[1][:-1], box.tickers) if ok]
    if limit.limit >= least - TOLERANCE:
        return None
    key = config_key("max_turnover")
    labels = ["max_turnover", *box.cap_labels(np.flatnonzero(w0 > box.upper + TOLERANCE)),
              *box.floor_labels(np.flatnonzero(w0 < box.lower - TOLERANCE)), *binding,
              "cash_floor"]
    return Diagnosis(
        "the turnover cap is too small to reach any portfolio within the limits", key,
        f"moving from the current weights into {into} with {pct(box.cash_floor)} "
        f"cash needs at least {pct(least)} one-way turnover but {key} is {pct(limit.limit)}",
        tuple(labels), ((relaxation(key, "raise", limit.limit, least, ["max_turnover"]),),),
    )


def _binding_rows(item: Any, w: np.ndarray, tickers: Sequence[str]
                  ) -> list[tuple[str, bool]]:
    """Each row label of ``item`` and whether it holds with equality at ``w``."""
    labels, bounds = item.rows(tickers)
    values = item.values(w, tickers)
    return [(label, abs(float(v) - float(b)) <= TOLERANCE and label != "cash_floor")
            for label, v, b in zip(labels, np.atleast_1d(values), np.atleast_1d(bounds))]


def arithmetic_diagnosis(problem: PortfolioProblem) -> Diagnosis | None:
    """The first conflict that plain arithmetic proves, or None.

    Checks, in order: a name's floor above its cap; the caps summing below the budget
    ``1 - cash_floor`` or the floors above it; a group floor above the cap of a group
    holding all its members; per group floor, cap and theme cap, the bound against the
    exact range the box and the budget allow for that row alone (a floor above the
    members' caps, a cap below the members' floors or below what the other names cannot
    absorb, a theme cap below the least exposure); the floors of pairwise-disjoint
    groups summing above the budget; the group and theme caps together holding less than
    the budget (one LP, :func:`~portfolio.optimization.turnover.most_invested`); the
    minimal turnover (:func:`minimum_turnover`)
    above a turnover cap. Uses the problem's bounds of the current solve
    (:attr:`PortfolioProblem.upper_bounds`, availability included), so it must run after
    the data are set. Cost: O(rows x names), no solver.
    """
    box = _box(problem)
    diagnosis = _check_name_bounds(box) or _check_budget(box) or _check_floor_under_cap(box)
    if diagnosis:
        return diagnosis
    checks: list[Callable[[], Diagnosis | None]] = []
    for item in problem.constraints:
        if isinstance(item, GroupFloor):
            checks.append(lambda g=item: _check_group_floor(box, g))
        elif isinstance(item, GroupCap):
            checks.append(lambda g=item: _check_group_cap(box, g))
        elif isinstance(item, ThemeCap):
            checks.append(lambda t=item: _check_theme_cap(box, t))
    checks.append(lambda: _check_disjoint_floors(box))
    checks.append(lambda: _check_invested(box))
    checks += [lambda t=item: _check_turnover(box, t)
               for item in problem.constraints if isinstance(item, MaxTurnover)]
    for check in checks:
        diagnosis = check()
        if diagnosis:
            return diagnosis
    return None


def check_feasibility_arithmetic(problem: PortfolioProblem) -> None:
    """Raise InfeasibleError when simple sums prove the limits cannot hold together.

    See :func:`arithmetic_diagnosis` for the checks.

    Raises
    ------
    InfeasibleError
        With ``conflicts`` (row labels) and a ``suggestion`` naming the numbers.
    """
    diagnosis = arithmetic_diagnosis(problem)
    if diagnosis is not None:
        raise diagnosis.error()
