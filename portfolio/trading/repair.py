"""Limit repair: re-plan whole-share orders so that rounding does not break a limit.

Rounding to whole shares (and the no-trade band) can push a name just over a cap the
target sits on, e.g. GOOGL at 20.03 % against a 20 % cap. :func:`plan_within_limits`
evaluates every limit the target meets on the after-trade weights, with the same limit
objects the optimiser uses. For each one broken, the target of one name in the limit is
moved to or from cash by the excess plus half a share -- the name with the most room
under the other limits -- and the orders are planned again, at most
:data:`MAX_REPAIR_ROUNDS` times. The plan kept breaks no limit that plain rounding keeps,
and among those has the fewest broken limits, then the smallest total excess (the plain
plan wins ties). Weights are fractions of value; ``CASH`` is a weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolio.optimization.constraints import Constraint, LimitCheck, check_all
from portfolio.trading.orders import RebalancePlan, plan_rebalance
from portfolio.weights import CASH

__all__ = ["MAX_REPAIR_ROUNDS", "plan_within_limits"]

MAX_REPAIR_ROUNDS = 25
"""Most re-plans spent keeping the limits the target meets (step 4 of the module docstring)."""


@dataclass(frozen=True)
class _LinearLimit:
    """One limit row ``loadings @ w (+ constant) sense limit`` over the universe tickers."""

    sense: str
    loadings: np.ndarray


def _linear_limits(constraints: Sequence[Any], tickers: Sequence[str]) -> dict[str, _LinearLimit]:
    """Loadings of every limit row, read off the limit objects on unit weight vectors.

    The limits of :func:`_limit_objects` are linear in the risky weights (no turnover
    row, which needs current weights), so ``values(e_j) - values(0)`` is column ``j``.
    """
    n = len(tickers)
    rows: dict[str, _LinearLimit] = {}
    for constraint in constraints:
        if not isinstance(constraint, Constraint):
            continue
        labels, _ = constraint.rows(tickers)
        base = np.asarray(constraint.values(np.zeros(n), tickers), dtype=float)
        columns = [np.asarray(constraint.values(unit, tickers), dtype=float) - base
                   for unit in np.eye(n)]
        matrix = np.column_stack(columns) if columns else np.zeros((len(labels), 0))
        for label, loadings in zip(labels, matrix):
            rows[label] = _LinearLimit(constraint.sense, loadings)
    return rows


def plan_within_limits(
    shares: pd.Series,
    cash: float,
    closes: pd.Series,
    target: pd.Series,
    settings: Mapping[str, Any],
    constraints: Sequence[Any],
    tickers: Sequence[str],
) -> tuple[RebalancePlan, dict[str, tuple[str, ...]]]:
    """Plan the orders, re-planning with moved targets while a limit the target meets breaks.

    Parameters
    ----------
    shares : Series
        Shares held per ticker (> 0).
    cash : float
        Cash held, USD.
    closes : Series
        USD per share at the as-of close.
    target : Series
        Target weights, every universe ticker plus ``CASH``.
    settings : mapping
        Keyword arguments of :func:`portfolio.trading.orders.plan_rebalance`.
    constraints : sequence
        The limit objects (linear in the weights).
    tickers : sequence of str
        The universe.

    Returns
    -------
    plan : RebalancePlan
        The plan kept (module docstring).
    moved : dict
        Per ticker whose target was moved, the limits it was moved for.
    """
    linear = _linear_limits(constraints, tickers)
    kept = {row.name for row in check_all(constraints, target, tickers) if row.ok}
    prices = pd.to_numeric(closes.reindex(list(tickers)), errors="coerce").astype(float)

    def plan_for(weights: pd.Series) -> RebalancePlan:
        wanted = [t for t in weights.index if t == CASH or weights[t] > 0]
        return plan_rebalance(shares, cash, closes, weights[wanted], **settings)

    def broken_rows(plan: RebalancePlan) -> list[LimitCheck]:
        rows = check_all(constraints, plan.after_weights, tickers)
        return [row for row in rows if not row.ok and row.name in kept]

    adjusted = target.copy()
    plan = plan_for(adjusted)
    plain_broken = {row.name for row in broken_rows(plan)}

    def score(broken: list[LimitCheck]) -> tuple[int, int, float]:
        """(new breaches against the plain plan, breaches, total excess): lower is better."""
        new = sum(row.name not in plain_broken for row in broken)
        return new, len(broken), math.fsum(row.excess for row in broken)

    reasons: dict[str, list[str]] = {}
    best = (score(broken_rows(plan)), plan, {})
    seen = {tuple(np.round(adjusted.to_numpy(), 12))}
    for _ in range(MAX_REPAIR_ROUNDS):
        broken = broken_rows(plan)
        if not broken:
            break
        after_rows = check_all(constraints, plan.after_weights, tickers)
        move = _move_targets(adjusted, broken, after_rows, kept, linear, prices, plan)
        if move is None:
            break
        adjusted, ticker, row_name = move
        state = tuple(np.round(adjusted.to_numpy(), 12))
        if state in seen:
            break
        seen.add(state)
        if row_name not in reasons.setdefault(ticker, []):
            reasons[ticker].append(row_name)
        plan = plan_for(adjusted)
        candidate = score(broken_rows(plan))
        if candidate < best[0]:
            changed = (adjusted - target).abs() > 1e-12
            best = (candidate, plan, {t: tuple(r) for t, r in reasons.items() if changed[t]})
    return best[1], best[2]


def _move_targets(
    target: pd.Series,
    broken: list[LimitCheck],
    after_rows: Sequence[LimitCheck],
    kept: set[str],
    linear: dict[str, _LinearLimit],
    prices: pd.Series,
    plan: RebalancePlan,
) -> tuple[pd.Series, str, str] | None:
    """One move of target weight between a name and cash; None if nothing can move.

    A move of ``delta`` from cash into name ``j`` changes row ``r`` by
    ``loadings[r, j] * delta``.  Over the broken rows and the names in them, the move
    chosen is, in this order of preference: one whose whole shares can close the gap
    within the name's room (how far it can move before another kept limit breaks), the
    largest excess, the most room.  The amount is the excess plus half a share of the
    name.  Returns the moved target, the ticker and the row name.
    """
    tickers = list(prices.index)
    value_after = float(plan.after_cash) + float(
        (plan.after_shares * plan.prices.reindex(plan.after_shares.index)).sum()
    )
    share_weight = (prices / value_after).to_numpy()
    status = [(row, linear[row.name]) for row in after_rows if row.name in kept]
    best: tuple[tuple[bool, float, float, float, int], LimitCheck, int, int] | None = None
    for row in broken:
        loadings = linear[row.name].loadings
        lowers = row.sense == "<="
        for j, ticker in enumerate(tickers):
            a = float(loadings[j])
            if a == 0 or not np.isfinite(share_weight[j]):
                continue
            direction = -1 if (a > 0) == lowers else 1  # -1: name -> cash, +1: cash -> name
            available = target[ticker] if direction < 0 else target[CASH]
            if available <= 0:
                continue
            room = _room(j, direction, row.name, status, available)
            whole_shares = math.ceil(row.excess / abs(a) / share_weight[j]) * share_weight[j]
            key = (whole_shares <= room + 1e-12, row.excess, room, abs(a), -j)
            if best is None or key > best[0]:
                best = (key, row, j, direction)
    if best is None:
        return None
    _, row, j, direction = best
    ticker = tickers[j]
    size = abs(float(linear[row.name].loadings[j]))
    delta = (row.excess + 0.5 * size * share_weight[j]) / size
    delta = min(delta, target[ticker] if direction < 0 else target[CASH])
    if not delta > 0:
        return None
    moved = target.copy()
    moved[ticker] += direction * delta
    moved[CASH] -= direction * delta
    return moved, ticker, row.name


def _room(
    j: int,
    direction: int,
    fixing: str,
    status: Sequence[tuple[LimitCheck, _LinearLimit]],
    available: float,
) -> float:
    """How much weight can move for name ``j`` before another kept limit breaks."""
    room = available
    for row, limit in status:
        if row.name == fixing:
            continue
        change = direction * float(limit.loadings[j])
        if row.sense == "<=" and change > 0:
            room = min(room, max(row.limit - row.value, 0.0) / change)
        elif row.sense == ">=" and change < 0:
            room = min(room, max(row.value - row.limit, 0.0) / -change)
    return room
