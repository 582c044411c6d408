"""Feasible starting points for the active set and the invested-budget checks, without an LP.

Both fill weights greedily: :func:`fill_budget` raises names to their caps in a priority
order; :func:`greedy_fill` also stays within linear cap rows (group and theme caps).
Everything is in fractions of the portfolio, shapes ``(n,)`` for names and ``(k, n)`` for
rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fill_budget", "greedy_fill", "start_within_caps"]

PRIMAL_TOLERANCE = 1e-9
"""Largest violation of a bound, equality or row the active set (and its starts) accept."""


def fill_budget(budget: float, lower: np.ndarray, upper: np.ndarray, priority: np.ndarray
                ) -> np.ndarray:
    """Weights from the floors up, filling the budget in increasing ``priority`` order.

    Parameters
    ----------
    budget : float
        Sum of the weights to reach (fraction).
    lower, upper : ndarray, shape (n,)
        Per-name bounds (fractions), ``sum(lower) <= budget``.
    priority : ndarray, shape (n,)
        Names are raised to their upper bound lowest ``priority`` first (ties in order).

    Returns
    -------
    ndarray, shape (n,)
        A vertex of the box and the budget (the last name raised may stop inside its
        bounds; the sum falls short of ``budget`` only when ``sum(upper)`` does). For a
        linear cost ``priority @ w`` it is the exact minimum over the box and the budget
        (the fractional knapsack); the active set uses it as a cheap start.
    """
    weights = lower.copy()
    remaining = budget - weights.sum()
    for i in np.argsort(priority, kind="stable"):
        if remaining <= 0:
            break
        add = min(upper[i] - lower[i], remaining)
        weights[i] += add
        remaining -= add
    return weights


def greedy_fill(lower: np.ndarray, upper: np.ndarray, rows: np.ndarray, room: np.ndarray
                ) -> np.ndarray | None:
    """Weights within every cap row, names using the least of the rows' room first.

    From the floors up, each name is raised to its upper bound or to the room its rows
    have left (``rows @ w <= room``), names with the smallest ``sum_r rows[r, i] / room[r]``
    first. The result meets the bounds and every row; it is the cheap lower bound of the
    largest invested fraction (and a start for the active set).

    Parameters
    ----------
    lower, upper : ndarray, shape (n,)
        Per-name bounds (fractions, finite).
    rows : ndarray, shape (k, n)
        Cap rows, loadings >= 0.
    room : ndarray, shape (k,)
        Their bounds, >= 0.

    Returns
    -------
    ndarray, shape (n,) or None
        None when a row has a negative loading, or the floors alone overfill a row.
    """
    room = np.asarray(room, dtype=float) - rows @ lower
    if np.any(rows < 0) or np.any(room < -PRIMAL_TOLERANCE):
        return None
    room = np.maximum(room, 0.0)
    weights = np.asarray(lower, dtype=float).copy()
    usage = (rows / np.maximum(room, 1e-12)[:, None]).sum(axis=0)
    for i in np.argsort(usage, kind="stable"):
        used = rows[:, i] > 0
        limit = float(np.min(room[used] / rows[used, i])) if used.any() else np.inf
        add = max(min(float(upper[i] - weights[i]), limit), 0.0)
        weights[i] += add
        room -= add * rows[:, i]
    return weights


def start_within_caps(qp: Any, budget: float) -> np.ndarray | None:
    """A start within the caps for a QP over the budget (an active-set ``_QP``).

    :func:`greedy_fill`, then scaled to the budget above the floors (None when the caps
    cannot hold it or a floor row fails).
    """
    high = np.isfinite(qp.row_high)
    filled = greedy_fill(qp.lower, qp.upper, qp.rows[high], qp.row_high[high])
    if filled is None:
        return None
    floor, total = float(qp.lower.sum()), float(filled.sum())
    if total < budget - PRIMAL_TOLERANCE or total <= floor:
        return None
    start = qp.lower + (filled - qp.lower) * (budget - floor) / (total - floor)
    return start if qp.violation(start) <= PRIMAL_TOLERANCE else None
