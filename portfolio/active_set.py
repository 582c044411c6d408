"""A dense primal active-set solver for minimum variance with linear limits, KKT-certified.

The problem is the one :mod:`portfolio.linear_qp` serves::

    minimise    w' (Sigma + gamma I) w
    subject to  sum(w) = budget,  lower <= w <= upper,  row_lo <= G w <= row_hi

A min-variance portfolio under caps holds few names: most weights sit at a bound and only
the free ones need linear algebra. A primal active-set method works on exactly that: each
iteration solves the equality-constrained problem of the current working set (a Cholesky
system of the free block, ``|free| + rows`` square) and then either walks to the first limit it
meets (adding it to the working set) or, at the working set's optimum, releases the limit
whose multiplier has the wrong sign. A walk-forward starts from the previous answer, which
is usually optimal or one or two iterations away; a cold start begins at a vertex that
fills the budget with the lowest-variance names.

Every answer is certified before it is returned: primal feasibility, stationarity and the
signs of the multipliers are checked on the final point to tight tolerances, so for this
convex problem a returned answer *is* the optimum (the KKT conditions are sufficient).
Anything else -- a singular covariance block, an iteration limit reached through
degenerate cycling, no feasible start -- returns None and the caller falls back to
OSQP and the cvxpy solver chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg.lapack import dgesv

from portfolio.linear_qp import linear_rows

__all__ = ["ActiveSetQP", "Certificate"]

# Working-set states of a name.
FREE, AT_LOWER, AT_UPPER, FIXED = 0, -1, 1, 2
# Working-set states of a general row.
INACTIVE, AT_ROW_LOW, AT_ROW_HIGH = 0, -1, 1

PRIMAL_TOLERANCE = 1e-9  # weights and row values (fractions)
DUAL_TOLERANCE = 1e-9  # multipliers, relative to the largest Hessian diagonal entry
SNAP = 1e-12  # a weight this close to a bound is put on it


@dataclass(frozen=True)
class Certificate:
    """KKT residuals of a returned answer (all must be within tolerance).

    Attributes
    ----------
    primal : float
        Largest violation of the budget, a bound or a row (fraction of the portfolio).
    stationarity : float
        Largest gradient residual of a free name, relative to the Hessian scale.
    dual : float
        Largest wrong-sign multiplier, relative to the Hessian scale.
    iterations : int
        Active-set iterations of the solve.
    """

    primal: float
    stationarity: float
    dual: float
    iterations: int

    @property
    def ok(self) -> bool:
        """Whether every residual is within its tolerance."""
        return (
            self.primal <= PRIMAL_TOLERANCE
            and self.stationarity <= DUAL_TOLERANCE
            and self.dual <= DUAL_TOLERANCE
        )


class ActiveSetQP:
    """``min w' (Sigma + gamma I) w`` over the budget, bounds and linear rows.

    Parameters
    ----------
    tickers : sequence of str
        Order of the weight vector (n names).
    budget : float
        Sum of the risky weights (``1 - cash_floor``).
    limits : sequence
        Linear limit objects (``linear_form``) and L2 penalties, as for
        :class:`portfolio.linear_qp.LinearQP`.
    max_iterations : int, optional
        Iteration limit; default ``10 n + 100``.
    """

    def __init__(
        self,
        tickers: Sequence[str],
        budget: float,
        limits: Sequence[Any],
        max_iterations: int | None = None,
    ) -> None:
        rows, row_low, row_high, gamma = linear_rows(tickers, limits)
        self.n = len(tickers)
        self.budget = float(budget)
        self.gamma = gamma
        self._rows, self._row_low, self._row_high = rows, row_low, row_high
        self._budget_row = np.ones((1, self.n))
        self._budget_target = np.array([self.budget])
        self.max_iterations = max_iterations or 10 * self.n + 100
        self._previous: np.ndarray | None = None
        self.last_status = ""
        self.certificate: Certificate | None = None

    # -- public ----------------------------------------------------------------------
    def solve(
        self, covariance: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray | None:
        """Solve for a covariance (n x n, annual) and per-name bounds (n,).

        Returns
        -------
        ndarray of shape (n,) or None
            The certified optimum, or None (``last_status`` says why) when the method
            could not certify one; the caller then uses another solver.
        """
        hessian = 2.0 * covariance
        if self.gamma:
            hessian = hessian + 2.0 * self.gamma * np.eye(self.n)
        lower = np.asarray(lower, dtype=float)
        upper = np.asarray(upper, dtype=float)
        start = self._start(hessian, lower, upper)
        if start is None:
            self.last_status = "no feasible starting point"
            return None
        try:
            weights = self._iterate(hessian, lower, upper, *start)
        except np.linalg.LinAlgError:
            weights, self.last_status = None, "singular covariance block"
        if weights is not None:
            self._previous = weights
        return weights

    # -- start -----------------------------------------------------------------------
    def _states(self, weights: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """Working-set state of every name at ``weights`` (already snapped to bounds)."""
        state = np.full(self.n, FREE)
        state[weights == lower] = AT_LOWER
        state[weights == upper] = AT_UPPER
        state[lower == upper] = FIXED
        return state

    def _feasible(self, weights: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
        return self._primal_violation(weights, lower, upper) <= PRIMAL_TOLERANCE

    def _start(
        self, hessian: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """A feasible point, the names' states and the rows' states (all inactive)."""
        weights = None
        if self._previous is not None:
            weights = np.clip(self._previous, lower, upper)
            if not self._feasible(weights, lower, upper):
                weights = None
        if weights is None:
            weights = self._vertex(np.diag(hessian), lower, upper)
        if weights is None:
            return None
        weights = _snap(weights, lower, upper)
        state = self._states(weights, lower, upper)
        if not np.any(state == FREE):
            # The budget row must keep a free name to stay independent of the bounds.
            movable = np.flatnonzero(state != FIXED)
            if movable.size == 0:
                return None
            state[movable[-1]] = FREE
        return weights, state, np.full(len(self._rows), INACTIVE)

    def _vertex(
        self, variances: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray | None:
        """Fill the budget from the floors with the lowest-variance names first."""
        weights = lower.copy()
        remaining = self.budget - weights.sum()
        for i in np.argsort(variances, kind="stable"):
            if remaining <= 0:
                break
            add = min(upper[i] - lower[i], remaining)
            weights[i] += add
            remaining -= add
        if abs(remaining) <= PRIMAL_TOLERANCE and self._feasible(weights, lower, upper):
            return weights
        return self._linear_vertex(variances, lower, upper)

    def _linear_vertex(
        self, variances: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray | None:
        """A vertex of the feasible set from an LP (HiGHS), used when rows bind at the start."""
        from scipy.optimize import linprog

        finite_high = np.isfinite(self._row_high)
        finite_low = np.isfinite(self._row_low)
        a_ub = np.vstack([self._rows[finite_high], -self._rows[finite_low]])
        b_ub = np.concatenate([self._row_high[finite_high], -self._row_low[finite_low]])
        result = linprog(
            variances,
            A_ub=a_ub if a_ub.size else None,
            b_ub=b_ub if a_ub.size else None,
            A_eq=np.ones((1, self.n)),
            b_eq=[self.budget],
            bounds=np.column_stack([lower, upper]),
            method="highs",
        )
        if result.status != 0:
            return None
        weights = np.clip(result.x, lower, upper)
        return weights if self._feasible(weights, lower, upper) else None

    # -- iterations ------------------------------------------------------------------
    def _iterate(
        self,
        hessian: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        weights: np.ndarray,
        state: np.ndarray,
        row_state: np.ndarray,
    ) -> np.ndarray | None:
        """Primal active-set iterations from a feasible point and its working set."""
        scale = max(float(np.max(np.diag(hessian))), np.finfo(float).tiny)
        for iteration in range(1, self.max_iterations + 1):
            is_free = state == FREE
            free = np.flatnonzero(is_free)
            active = np.flatnonzero(row_state != INACTIVE) if row_state.size else row_state
            matrix, target = self._working_rows(active, row_state)
            candidate, multipliers = _equality_qp(
                hessian, np.where(is_free, 0.0, weights), free, matrix, target
            )
            step = candidate - weights[free]
            length, blocking = self._ratio_test(weights, step, free, lower, upper, row_state)
            if blocking is not None:
                weights[free] += length * step
                kind, index, side = blocking
                if kind == "name":
                    state[index] = side
                    weights[index] = lower[index] if side == AT_LOWER else upper[index]
                else:
                    row_state[index] = side
                continue
            weights[free] = candidate
            gradient = hessian @ weights + matrix.T @ multipliers
            # Multipliers of the bounds are the gradient entries; of the rows, ``multipliers``.
            name_wrong = np.where(
                state == AT_LOWER, -gradient, np.where(state == AT_UPPER, gradient, -np.inf)
            )
            row_wrong = -multipliers[1:] * row_state[active]
            worst_name = int(np.argmax(name_wrong))
            name_value = name_wrong[worst_name] / scale
            worst_row, row_value = -1, -np.inf
            if active.size:
                worst_row = int(np.argmax(row_wrong))
                row_value = row_wrong[worst_row] / scale
            if max(name_value, row_value) <= DUAL_TOLERANCE:
                return self._certify(
                    lower, upper, weights, gradient[is_free], scale, iteration,
                    max(name_value, row_value, 0.0),
                )
            if name_value >= row_value:
                state[worst_name] = FREE
            else:
                row_state[active[worst_row]] = INACTIVE
        self.last_status = f"no optimum after {self.max_iterations} iterations"
        return None

    def _working_rows(
        self, active: np.ndarray, row_state: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The budget row and the active general rows as equalities ``C w = d``."""
        if not active.size:
            return self._budget_row, self._budget_target
        bounds = np.where(
            row_state[active] > 0, self._row_high[active], self._row_low[active]
        )
        return (
            np.vstack([self._budget_row, self._rows[active]]),
            np.concatenate([self._budget_target, bounds]),
        )

    def _ratio_test(
        self,
        weights: np.ndarray,
        step: np.ndarray,
        free: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        row_state: np.ndarray,
    ) -> tuple[float, tuple[str, int, int] | None]:
        """Longest step ``<= 1`` along ``step`` that stays feasible, and what blocks it.

        The blocking limit is ``(kind, index, side)``: kind ``"name"`` or ``"row"``,
        side the working-set state it enters with.
        """
        length, blocking = 1.0, None
        current = weights[free]
        gap = np.where(step < 0, lower[free] - current, upper[free] - current)
        to_bound = np.full(step.size, np.inf)
        np.divide(gap, step, out=to_bound, where=np.abs(step) > SNAP)
        if to_bound.size:
            first = int(np.argmin(to_bound))
            if to_bound[first] < length:
                side = AT_LOWER if step[first] < 0 else AT_UPPER
                length, blocking = max(float(to_bound[first]), 0.0), ("name", free[first], side)
        inactive = np.flatnonzero(row_state == INACTIVE) if row_state.size else row_state
        if inactive.size:
            values = self._rows[inactive] @ weights
            change = self._rows[inactive][:, free] @ step
            room = np.where(
                change > 0, self._row_high[inactive] - values, self._row_low[inactive] - values
            )
            to_row = np.full(change.size, np.inf)
            np.divide(room, change, out=to_row, where=np.abs(change) > SNAP)
            first = int(np.argmin(to_row))
            if to_row[first] < length:
                side = AT_ROW_HIGH if change[first] > 0 else AT_ROW_LOW
                length, blocking = max(float(to_row[first]), 0.0), ("row", inactive[first], side)
        return length, blocking

    # -- certificate -----------------------------------------------------------------
    def _primal_violation(
        self, weights: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> float:
        violation = max(
            abs(weights.sum() - self.budget), (lower - weights).max(), (weights - upper).max()
        )
        if self._rows.shape[0]:
            values = self._rows @ weights
            violation = max(violation, (values - self._row_high).max(),
                            (self._row_low - values).max())
        return max(float(violation), 0.0)

    def _certify(self, lower, upper, weights, free_gradient, scale, iterations, dual):
        """Check the KKT conditions on the final point; return it or None."""
        stationarity = float(np.max(np.abs(free_gradient), initial=0.0)) / scale
        self.certificate = Certificate(
            self._primal_violation(weights, lower, upper), stationarity, dual, iterations
        )
        if not self.certificate.ok:
            self.last_status = f"KKT check failed: {self.certificate}"
            return None
        self.last_status = "solved"
        return weights.copy()


def _snap(weights: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Put weights within :data:`SNAP` of a bound exactly on it."""
    weights = np.where(np.abs(weights - lower) <= SNAP, lower, weights)
    return np.where(np.abs(weights - upper) <= SNAP, upper, weights)


def _equality_qp(
    hessian: np.ndarray,
    fixed: np.ndarray,
    free: np.ndarray,
    matrix: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimum of the free names with the working set as equalities, and its multipliers.

    Solves the KKT system ``[[H_FF, C_F'], [C_F, 0]] [x; lam] = [-H_F. w_fixed;
    d - C w_fixed]`` (size ``|free| + rows``) with one LU factorisation (LAPACK
    ``dgesv``, called directly: numpy's wrapper costs twice the solve at this size);
    ``fixed`` is the weight vector with the free names set to 0. The system is
    nonsingular when ``C_F`` has full row rank (the working set keeps it so) and ``H_FF``
    is positive definite on the null space of ``C_F``; otherwise ``LinAlgError`` is
    raised or the final certificate rejects the answer.
    """
    n_free, n_rows = free.size, matrix.shape[0]
    constraint = matrix[:, free]
    free_rows = hessian[free]
    system = np.zeros((n_free + n_rows, n_free + n_rows))
    system[:n_free, :n_free] = free_rows[:, free]
    system[:n_free, n_free:] = constraint.T
    system[n_free:, :n_free] = constraint
    rhs = np.concatenate([-(free_rows @ fixed), target - matrix @ fixed])
    _, _, solution, info = dgesv(system, rhs)
    if info != 0:
        raise np.linalg.LinAlgError("singular optimality system")
    return solution[:n_free], solution[n_free:]
