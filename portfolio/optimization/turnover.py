"""The least one-way turnover into every limit, and the portfolio closest to a reference.

Two small linear programmes on ``x = [w (n), c, u (n + 1)]`` -- risky weights, cash and
the absolute moves ``u >= |x - x0|`` -- solved by HiGHS (:func:`scipy.optimize.linprog`):

* :func:`least_turnover`: minimise ``T = 0.5 * sum(u)`` (one-way turnover, the
  convention of :class:`~portfolio.optimization.constraints.MaxTurnover`) subject to
  ``sum(w) + c = 1``, per-name bounds, cash bounds and every linear limit row (group caps
  and floors, theme caps, the cash floor).  Used by the feasibility diagnosis (the exact
  turnover a cap must allow) and by ``rebalance --mode minimal``.
* :func:`closest_within_turnover`: among the portfolios of the same set with
  ``T <= budget``, the one closest in L1 to a reference allocation.

Weights and turnover are fractions of portfolio value. Cost: two LPs of ``3n + 3``
variables, about a millisecond each for the 14-name universe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from portfolio.errors import SolverError
from portfolio.optimization.constraints import MaxWeight, MinWeight, _LinearRow
from portfolio.optimization.starts import greedy_fill

__all__ = ["TurnoverSet", "closest_within_turnover", "least_turnover", "most_invested",
           "turnover_set"]


@dataclass(frozen=True, eq=False)
class TurnoverSet:
    """The feasible set of the turnover programmes, as arrays.

    Attributes
    ----------
    lower, upper : ndarray, shape (n,)
        Per-name floors and caps (fractions).
    cash_bounds : tuple of float
        Lowest and highest cash weight.
    rows : ndarray, shape (m, n)
        Loadings of the linear limits in ``rows @ w <= bounds`` form.
    bounds : ndarray, shape (m,)
        Their right-hand sides.
    """

    lower: np.ndarray
    upper: np.ndarray
    cash_bounds: tuple[float, float]
    rows: np.ndarray
    bounds: np.ndarray


def turnover_set(constraints: Sequence[Any], tickers: Sequence[str],
                 cash_bounds: tuple[float, float] = (0.0, 1.0),
                 lower: np.ndarray | None = None, upper: np.ndarray | None = None
                 ) -> TurnoverSet:
    """The set of :func:`least_turnover` from limit objects.

    Parameters
    ----------
    constraints : sequence
        Limit objects: :class:`MaxWeight` / :class:`MinWeight` give the per-name bounds
        (unless ``lower`` / ``upper`` are given), every linear row (group caps and floors,
        theme caps, the cash floor) a row; others (a turnover cap) are ignored.
    tickers : sequence of str
        The universe, shape ``(n,)``.
    cash_bounds : tuple of float
        Lowest and highest cash weight.
    lower, upper : ndarray, optional
        Per-name bounds already known (e.g. after an availability mask).

    Returns
    -------
    TurnoverSet
    """
    n = len(tickers)
    floors, caps = np.zeros(n), np.ones(n)
    rows, bounds = [], []
    for item in constraints:
        if isinstance(item, MaxWeight):
            caps = np.minimum(caps, item.caps(tickers))
        elif isinstance(item, MinWeight):
            floors = np.maximum(floors, item.floors(tickers))
        elif isinstance(item, _LinearRow):
            loadings, offset, bound, sense = item.linear_form(tickers)
            sign = 1.0 if sense == "<=" else -1.0
            rows.append(sign * np.asarray(loadings, dtype=float))
            bounds.append(sign * (bound - offset))
    return TurnoverSet(
        lower=floors if lower is None else np.asarray(lower, dtype=float),
        upper=caps if upper is None else np.asarray(upper, dtype=float),
        cash_bounds=cash_bounds, rows=np.array(rows).reshape(len(rows), n),
        bounds=np.array(bounds, dtype=float))


def least_turnover(feasible: TurnoverSet, w0: np.ndarray, c0: float
                   ) -> tuple[float, np.ndarray] | None:
    """The least one-way turnover from ``(w0, c0)`` into ``feasible`` (module docstring).

    Parameters
    ----------
    feasible : TurnoverSet
        Bounds and limit rows.
    w0 : ndarray, shape (n,)
        Current risky weights.
    c0 : float
        Current cash weight.

    Returns
    -------
    (turnover, x) or None
        The least turnover and a portfolio attaining it, ``x = [w (n), c]``; None when
        the set is empty.
    """
    n = len(w0)
    cost = np.concatenate([np.zeros(n + 1), 0.5 * np.ones(n + 1)])
    a_ub, b_ub = _move_rows(feasible, np.append(w0, c0), extra=0)
    x = _solve(cost, a_ub, b_ub, _budget_row(n, extra=0), _bounds(feasible, extra=0))
    return None if x is None else (float(cost @ x), x[: n + 1])


def closest_within_turnover(feasible: TurnoverSet, w0: np.ndarray, c0: float,
                            budget: float, reference: np.ndarray) -> np.ndarray | None:
    """The portfolio of ``feasible`` within ``budget`` turnover closest (L1) to ``reference``.

    Parameters
    ----------
    feasible : TurnoverSet
        Bounds and limit rows.
    w0 : ndarray, shape (n,)
        Current risky weights.
    c0 : float
        Current cash weight.
    budget : float
        Largest one-way turnover (fraction).
    reference : ndarray, shape (n + 1,)
        Risky weights then cash to get close to.

    Returns
    -------
    ndarray, shape (n + 1,) or None
        ``[w, c]``, or None when no portfolio of the set is within the budget.
    """
    n = len(w0)
    a_ub, b_ub = _move_rows(feasible, np.append(w0, c0), extra=n + 1)
    within = np.concatenate([np.zeros(n + 1), 0.5 * np.ones(n + 1), np.zeros(n + 1)])
    distance_rows, distance_bounds = _abs_rows(n + 1, 2 * n + 2, reference, a_ub.shape[1])
    cost = np.concatenate([np.zeros(2 * n + 2), np.ones(n + 1)])
    x = _solve(cost, np.vstack([a_ub, within, distance_rows]),
               np.concatenate([b_ub, [budget], distance_bounds]),
               _budget_row(n, extra=n + 1), _bounds(feasible, extra=n + 1))
    return None if x is None else x[: n + 1]


def most_invested(feasible: TurnoverSet) -> tuple[float, np.ndarray] | None:
    """The largest risky weight ``sum(w)`` the set allows (an LP on ``x = [w, c]``).

    Few names listed (a backtest in 2000) can leave group caps unable to hold the invested
    budget ``1 - cash_floor``: this is what they can hold.

    Parameters
    ----------
    feasible : TurnoverSet
        Bounds and limit rows.

    Returns
    -------
    (invested, x) or None
        The largest invested fraction and a portfolio ``x = [w (n), c]`` reaching it;
        None when the set is empty.
    """
    n = len(feasible.lower)
    most = _invested_ceiling(feasible)
    caps = np.all(feasible.rows >= 0, axis=1)
    filled = greedy_fill(feasible.lower, feasible.upper, feasible.rows[caps],
                         feasible.bounds[caps])
    floor = feasible.lower.sum()
    reached = -np.inf if filled is None else filled.sum()
    if reached >= most - 1e-12 and floor < min(most, reached):
        # the caps hold the most the other limits allow: no LP (nor scipy.optimize) needed
        weights = feasible.lower + (filled - feasible.lower) * (most - floor) / (reached - floor)
        if (1.0 - weights.sum() <= feasible.cash_bounds[1]
                and np.all(feasible.rows @ weights <= feasible.bounds + 1e-9)):
            return float(weights.sum()), np.append(weights, 1.0 - weights.sum())
    cost = np.zeros(n + 1)
    cost[n] = 1.0  # the least cash
    rows = np.hstack([feasible.rows, np.zeros((len(feasible.bounds), 1))])
    x = _solve(cost, rows, feasible.bounds, np.ones((1, n + 1)),
               [*zip(feasible.lower, feasible.upper), feasible.cash_bounds])
    return None if x is None else (1.0 - float(x[n]), x)


def _invested_ceiling(feasible: TurnoverSet) -> float:
    """An upper bound of ``sum(w)``; a portfolio reaching it invests the most.

    From the cash floor, the caps, and each row that loads every name (``rows[r] >= c > 0``
    gives ``sum(w) <= bounds[r] / c``, e.g. a cash floor written as a row).
    """
    ceiling = min(1.0 - feasible.cash_bounds[0], float(feasible.upper.sum()))
    if feasible.rows.size:
        least = feasible.rows.min(axis=1)
        loads_all = least > 0
        if loads_all.any():
            ceiling = min(ceiling, float(np.min(feasible.bounds[loads_all] / least[loads_all])))
    return ceiling


def _move_rows(feasible: TurnoverSet, x0: np.ndarray, extra: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Limit rows on ``w`` and ``u >= |x - x0|`` rows, padded with ``extra`` columns."""
    n = len(x0) - 1
    size = 2 * n + 2 + extra
    limits = np.zeros((len(feasible.bounds), size))
    limits[:, :n] = feasible.rows
    moves, move_bounds = _abs_rows(n + 1, n + 1, x0, size)
    return np.vstack([limits, moves]), np.concatenate([feasible.bounds, move_bounds])


def _abs_rows(count: int, first_slack: int, centre: np.ndarray, size: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``+-(x_i - centre_i) <= s_i`` for the first ``count`` variables."""
    rows = np.zeros((2 * count, size))
    bounds = np.zeros(2 * count)
    for i in range(count):
        for k, sign in enumerate((1.0, -1.0)):
            rows[2 * i + k, i], rows[2 * i + k, first_slack + i] = sign, -1.0
            bounds[2 * i + k] = sign * centre[i]
    return rows, bounds


def _budget_row(n: int, extra: int) -> np.ndarray:
    row = np.zeros((1, 2 * n + 2 + extra))
    row[0, : n + 1] = 1.0
    return row


def _bounds(feasible: TurnoverSet, extra: int) -> list[tuple[float, float | None]]:
    n = len(feasible.lower)
    return [*zip(feasible.lower, feasible.upper), feasible.cash_bounds,
            *[(0.0, None)] * (n + 1 + extra)]


def _solve(cost: np.ndarray, a_ub: np.ndarray, b_ub: np.ndarray, a_eq: np.ndarray,
           bounds: list[tuple[float, float | None]]) -> np.ndarray | None:
    from scipy.optimize import linprog  # loaded on use: the config imports this stage

    done = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.array([1.0]),
                   bounds=bounds, method="highs")
    if done.status == 2:
        return None
    if done.status != 0:
        raise SolverError("the turnover programme failed", "least turnover", done.message,
                          "relax the limits or report the limits that trigger it")
    return done.x
