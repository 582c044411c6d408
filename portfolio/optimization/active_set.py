"""A dense primal active-set solver for the linear-limit QPs, KKT-certified.

Two problems of the optimiser are convex QPs with linear limits and go through here
first (``PortfolioProblem`` falls back to OSQP and the cvxpy chain when this module
declines):

* minimum variance (:class:`ActiveSetQP`)::

      minimise    w' (Sigma + gamma I) w
      subject to  sum(w) = budget,  lower <= w <= upper,  row_lo <= G w <= row_hi

* maximum Sharpe (:class:`SharpeActiveSet`), in the homogenised form of Cornuejols and
  Tutuncu: with ``y = kappa w``, minimise ``y' (Sigma + gamma I) y`` subject to
  ``(mu - rf) @ y = 1``, ``sum(y) = budget kappa``, ``lower kappa <= y <= upper kappa``,
  ``row_lo kappa <= G y <= row_hi kappa`` and ``kappa >= 0``; then ``w = y / kappa``.

A portfolio under caps holds few names away from a bound, and only those need linear
algebra. A primal active-set method works on exactly that: each iteration solves the
equality-constrained problem of the current working set (one LU factorisation of the KKT
system of the free variables, ``|free| + equalities + active rows`` square) and then either
walks to the first limit it meets (adding it to the working set) or, at the working set's
optimum, releases the limit whose multiplier has the wrong sign. A walk-forward starts
from the previous answer, which is usually optimal or a few iterations away.

Every answer is certified before it is returned: primal feasibility, stationarity and the
signs of the multipliers are checked on the final point to tight tolerances, so for these
convex problems a returned answer *is* the optimum (the KKT conditions are sufficient).
Anything else -- a singular system, an iteration limit reached through degenerate
cycling, no feasible start -- returns None with the reason in ``last_status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from portfolio.optimization.kkt import DenseHessian, FactorHessian, hessian_of
from portfolio.optimization.linear_qp import LinearQP, linear_rows
from portfolio.optimization.starts import PRIMAL_TOLERANCE, fill_budget, start_within_caps

__all__ = ["ActiveSetQP", "Certificate", "SharpeActiveSet"]

# Working-set states of a variable.
FREE, AT_LOWER, AT_UPPER, FIXED = 0, -1, 1, 2
# Working-set states of a general row.
INACTIVE, AT_ROW_LOW, AT_ROW_HIGH = 0, -1, 1

DUAL_TOLERANCE = 1e-9  # multipliers, relative to the largest Hessian diagonal entry
SNAP = 1e-12  # a variable this close to a bound is put on it
BLOCK_AFTER = 32  # primal iterations before the first block phase
BLOCK_ROUNDS = 30  # rounds of a block phase before it gives up


@dataclass(frozen=True)
class Certificate:
    """KKT residuals of a returned answer (all must be within tolerance).

    Attributes
    ----------
    primal : float
        Largest violation of an equality, a bound or a row.
    stationarity : float
        Largest gradient residual of a free variable, relative to the Hessian scale.
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


@dataclass(frozen=True)
class _QP:
    """``min z' H z / 2`` s.t. ``E z = e``, ``row_low <= R z <= row_high``, bounds.

    Shapes: ``hessian`` (N, N), ``equality`` (m, N), ``target`` (m,), ``rows`` (k, N),
    ``row_low`` / ``row_high`` (k,) with -inf / inf for one-sided rows, ``lower`` /
    ``upper`` (N,) with infinities allowed.
    """

    hessian: DenseHessian | FactorHessian
    equality: np.ndarray
    target: np.ndarray
    rows: np.ndarray
    row_low: np.ndarray
    row_high: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def violation(self, z: np.ndarray) -> float:
        """Largest violation of the equalities, the bounds and the rows at ``z``."""
        worst = max(
            np.abs(self.equality @ z - self.target).max(),
            (self.lower - z).max(),
            (z - self.upper).max(),
        )
        if self.rows.shape[0]:
            values = self.rows @ z
            worst = max(worst, (values - self.row_high).max(), (self.row_low - values).max())
        return max(float(worst), 0.0)


class _Solver:
    """The primal active-set iterations on a :class:`_QP`, from a feasible point.

    From :data:`BLOCK_AFTER` iterations on (and again after twice as many, and so on) it
    tries a block phase (:func:`_block_pivoting`) that changes every wrong bound at once;
    when that phase certifies an optimum it is returned, otherwise the one-at-a-time
    iterations go on from where they were.
    """

    def __init__(self, max_iterations: int) -> None:
        self.max_iterations = max_iterations
        self.last_status = ""
        self.certificate: Certificate | None = None

    def solve(self, qp: _QP, start: np.ndarray | None) -> np.ndarray | None:
        """The certified optimum from ``start`` (or an LP vertex when None), or None."""
        if start is None or qp.violation(start) > PRIMAL_TOLERANCE:
            start = _linear_vertex(qp)
        if start is None:
            self.last_status = "no feasible starting point"
            return None
        z = _snap(start, qp.lower, qp.upper)
        state = np.full(z.size, FREE)
        state[z == qp.lower] = AT_LOWER
        state[z == qp.upper] = AT_UPPER
        state[qp.lower == qp.upper] = FIXED
        if not _independent(qp.equality, state):
            self.last_status = "the equalities are dependent on the bounds at the start"
            return None
        try:
            return self._iterate(qp, z, state, np.full(qp.rows.shape[0], INACTIVE))
        except np.linalg.LinAlgError:
            self.last_status = "singular covariance block"
            return None

    def _iterate(
        self, qp: _QP, z: np.ndarray, state: np.ndarray, row_state: np.ndarray
    ) -> np.ndarray | None:
        hessian = qp.hessian
        scale = max(float(np.max(hessian.diagonal())), np.finfo(float).tiny)
        block_at = BLOCK_AFTER
        for iteration in range(1, self.max_iterations + 1):
            if iteration == block_at:
                block_at *= 2
                found = _block_pivoting(qp, state, row_state, scale)
                if found is not None:
                    point, free_gradient, dual, rounds = found
                    return self._certify(qp, point, free_gradient, scale, iteration + rounds,
                                         dual)
            is_free = state == FREE
            free = np.flatnonzero(is_free)
            active = np.flatnonzero(row_state != INACTIVE) if row_state.size else row_state
            matrix, target = _working_rows(qp, active, row_state)
            candidate, multipliers = hessian.equality_qp(
                np.where(is_free, 0.0, z), free, matrix, target
            )
            step = candidate - z[free]
            length, blocking = _ratio_test(qp, z, step, free, row_state)
            if blocking is not None:
                z[free] += length * step
                kind, index, side = blocking
                if kind == "variable":
                    state[index] = side
                    z[index] = qp.lower[index] if side == AT_LOWER else qp.upper[index]
                else:
                    row_state[index] = side
                continue
            z[free] = candidate
            gradient = hessian.times(z) + matrix.T @ multipliers
            variable_wrong, row_wrong = _wrong_signs(qp, gradient, multipliers, state,
                                                     row_state, active)
            worst_variable = int(np.argmax(variable_wrong))
            variable_value = variable_wrong[worst_variable] / scale
            worst_row, row_value = -1, -np.inf
            if active.size:
                worst_row = int(np.argmax(row_wrong))
                row_value = row_wrong[worst_row] / scale
            if max(variable_value, row_value) <= DUAL_TOLERANCE:
                return self._certify(
                    qp, z, gradient[is_free], scale, iteration, max(variable_value, row_value, 0.0)
                )
            if variable_value >= row_value:
                state[worst_variable] = FREE
            else:
                row_state[active[worst_row]] = INACTIVE
        self.last_status = f"no optimum after {self.max_iterations} iterations"
        return None

    def _certify(self, qp, z, free_gradient, scale, iterations, dual):
        """Check the KKT conditions on the final point; return it or None."""
        stationarity = float(np.max(np.abs(free_gradient), initial=0.0)) / scale
        self.certificate = Certificate(qp.violation(z), stationarity, dual, iterations)
        if not self.certificate.ok:
            self.last_status = f"KKT check failed: {self.certificate}"
            return None
        self.last_status = "solved"
        return z.copy()


def _wrong_signs(qp: _QP, gradient: np.ndarray, multipliers: np.ndarray, state: np.ndarray,
                 row_state: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far each bound and each active row's multiplier has the wrong sign (> 0: wrong).

    The multipliers of the bounds are the gradient entries (-inf for a variable that is
    not on a bound); of the active rows, the solution's multipliers after the equalities.
    """
    variable_wrong = np.where(
        state == AT_LOWER, -gradient, np.where(state == AT_UPPER, gradient, -np.inf)
    )
    row_wrong = -multipliers[qp.equality.shape[0]:] * row_state[active]
    return variable_wrong, row_wrong


def _block_pivoting(qp: _QP, state: np.ndarray, row_state: np.ndarray, scale: float
                    ) -> tuple[np.ndarray, np.ndarray, float, int] | None:
    """Block principal pivoting (primal-dual active set) from a working set.

    Each round solves the equality QP of the working set, then changes at once every
    free variable beyond a bound (fixed at it), the bounds with the most wrong-sign
    multipliers (freed; at most as many as there are free variables, so the free set at
    most doubles and the first rounds stay cheap), every inactive row beyond its bound
    (made active) and every active row with a wrong-sign multiplier (released). A round
    without a change is the optimum. This
    takes a few rounds where the one-at-a-time iterations take one per name held (the
    worst case of the primal method: most names held), but it may cycle; a repeated
    working set, :data:`BLOCK_ROUNDS` rounds or a singular system return None and the
    caller goes on with its own iterations. The arrays passed in are not changed.

    Returns
    -------
    (point, free gradient, largest wrong multiplier / scale, rounds) or None
    """
    state, row_state = state.copy(), row_state.copy()
    seen: set[bytes] = set()
    for rounds in range(1, BLOCK_ROUNDS + 1):
        is_free = state == FREE
        fixed = np.where(state == AT_UPPER, qp.upper, np.where(is_free, 0.0, qp.lower))
        active = np.flatnonzero(row_state != INACTIVE) if row_state.size else row_state
        matrix, target = _working_rows(qp, active, row_state)
        try:
            candidate, multipliers = qp.hessian.equality_qp(fixed, np.flatnonzero(is_free),
                                                            matrix, target)
        except np.linalg.LinAlgError:
            return None
        z = fixed
        z[is_free] = candidate
        gradient = qp.hessian.times(z) + matrix.T @ multipliers
        variable_wrong, row_wrong = _wrong_signs(qp, gradient, multipliers, state,
                                                 row_state, active)
        below = is_free & (z < qp.lower - SNAP)
        above = is_free & (z > qp.upper + SNAP)
        release = _largest(variable_wrong, DUAL_TOLERANCE * scale,
                           max(BLOCK_AFTER, int(is_free.sum())))
        rows_changed = _pivot_rows(qp, z, row_state, active, row_wrong > DUAL_TOLERANCE * scale)
        if not (below.any() or above.any() or release.any() or rows_changed):
            dual = max(float(np.max(variable_wrong, initial=0.0)),
                       float(np.max(row_wrong, initial=0.0))) / scale
            return np.clip(z, qp.lower, qp.upper), gradient[is_free], dual, rounds
        state[below], state[above], state[release] = AT_LOWER, AT_UPPER, FREE
        key = state.tobytes() + row_state.tobytes()
        if key in seen:
            return None
        seen.add(key)
    return None


def _largest(values: np.ndarray, threshold: float, count: int) -> np.ndarray:
    """Mask of the (at most) ``count`` largest entries of ``values`` above ``threshold``."""
    above = values > threshold
    if above.sum() <= count:
        return above
    keep = np.argpartition(-values, count - 1)[:count]
    mask = np.zeros(values.size, dtype=bool)
    mask[keep] = True
    return mask


def _pivot_rows(qp: _QP, z: np.ndarray, row_state: np.ndarray, active: np.ndarray,
                release: np.ndarray) -> bool:
    """Activate the inactive rows beyond a bound, release ``active[release]``; say if any."""
    if not row_state.size:
        return False
    values = qp.rows @ z
    inactive = row_state == INACTIVE
    high = inactive & (values > qp.row_high + SNAP)
    low = inactive & (values < qp.row_low - SNAP)
    row_state[high], row_state[low] = AT_ROW_HIGH, AT_ROW_LOW
    row_state[active[release]] = INACTIVE
    return bool(high.any() or low.any() or release.any())


def _working_rows(qp: _QP, active: np.ndarray, row_state: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The equalities and the active rows (at the bound they hold) as ``C z = d``."""
    if not active.size:
        return qp.equality, qp.target
    bounds = np.where(row_state[active] > 0, qp.row_high[active], qp.row_low[active])
    return (
        np.vstack([qp.equality, qp.rows[active]]),
        np.concatenate([qp.target, bounds]),
    )


def _ratio_test(
    qp: _QP, z: np.ndarray, step: np.ndarray, free: np.ndarray, row_state: np.ndarray
) -> tuple[float, tuple[str, int, int] | None]:
    """Longest step ``<= 1`` along ``step`` that stays feasible, and what blocks it.

    The blocking limit is ``(kind, index, side)``: kind ``"variable"`` or ``"row"``,
    side the working-set state it enters with.
    """
    length, blocking = 1.0, None
    current = z[free]
    gap = np.where(step < 0, qp.lower[free] - current, qp.upper[free] - current)
    to_bound = np.full(step.size, np.inf)
    np.divide(gap, step, out=to_bound, where=np.abs(step) > SNAP)
    if to_bound.size:
        first = int(np.argmin(to_bound))
        if to_bound[first] < length:
            side = AT_LOWER if step[first] < 0 else AT_UPPER
            length, blocking = max(float(to_bound[first]), 0.0), ("variable", free[first], side)
    inactive = np.flatnonzero(row_state == INACTIVE) if row_state.size else row_state
    if inactive.size:
        values = qp.rows[inactive] @ z
        change = qp.rows[inactive][:, free] @ step
        room = np.where(change > 0, qp.row_high[inactive] - values,
                        qp.row_low[inactive] - values)
        to_row = np.full(change.size, np.inf)
        np.divide(room, change, out=to_row, where=np.abs(change) > SNAP)
        first = int(np.argmin(to_row))
        if to_row[first] < length:
            side = AT_ROW_HIGH if change[first] > 0 else AT_ROW_LOW
            length, blocking = max(float(to_row[first]), 0.0), ("row", inactive[first], side)
    return length, blocking


def _independent(equality: np.ndarray, state: np.ndarray) -> bool:
    """Free variables until the equalities restricted to them have full row rank.

    Frees bound (not fixed) variables one at a time, first those whose column raises the
    rank; returns False when no choice gets there.
    """
    m = equality.shape[0]
    free = state == FREE
    if m == 1 and np.any(equality[0, free] != 0):  # the budget row alone: the common case
        return True
    if np.linalg.matrix_rank(equality[:, free]) == m:
        return True
    for index in np.flatnonzero((state == AT_LOWER) | (state == AT_UPPER)):
        trial = free.copy()
        trial[index] = True
        if np.linalg.matrix_rank(equality[:, trial]) > np.linalg.matrix_rank(equality[:, free]):
            state[index], free = FREE, trial
            if np.linalg.matrix_rank(equality[:, free]) == m:
                return True
    return False


def _linear_vertex(qp: _QP) -> np.ndarray | None:
    """A vertex of the feasible set from an LP (HiGHS) favouring low-variance variables."""
    from scipy.optimize import linprog

    high, low = np.isfinite(qp.row_high), np.isfinite(qp.row_low)
    a_ub = np.vstack([qp.rows[high], -qp.rows[low]])
    b_ub = np.concatenate([qp.row_high[high], -qp.row_low[low]])
    bounds = [(None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi)
              for lo, hi in zip(qp.lower, qp.upper)]
    result = linprog(
        qp.hessian.diagonal(),
        A_ub=a_ub if a_ub.size else None,
        b_ub=b_ub if a_ub.size else None,
        A_eq=qp.equality,
        b_eq=qp.target,
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:
        return None
    z = np.clip(result.x, qp.lower, qp.upper)
    return z if qp.violation(z) <= PRIMAL_TOLERANCE else None


def _snap(z: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Put values within :data:`SNAP` of a bound exactly on it."""
    z = np.where(np.abs(z - lower) <= SNAP, lower, z)
    return np.where(np.abs(z - upper) <= SNAP, upper, z)


class _Backend:
    """What the two problems share: the limit rows, the solver and the last answer.

    Parameters
    ----------
    tickers : sequence of str
        Order of the weight vector (n names).
    budget : float
        Sum of the risky weights (``1 - cash_floor``).
    limits : sequence
        Linear limit objects (``linear_form``) and L2 penalties, as for
        :class:`portfolio.optimization.linear_qp.LinearQP`.
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
        self.n = len(tickers)
        self.budget = float(budget)
        self._rows, self._row_low, self._row_high, self.gamma = linear_rows(tickers, limits)
        self._solver = _Solver(max_iterations or 10 * self.n + 100)
        self._previous: np.ndarray | None = None

    @property
    def last_status(self) -> str:
        """Why the last solve returned None ("solved" otherwise)."""
        return self._solver.last_status

    @last_status.setter
    def last_status(self, value: str) -> None:
        self._solver.last_status = value

    @property
    def certificate(self) -> Certificate | None:
        """KKT residuals of the last returned answer."""
        return self._solver.certificate


class ActiveSetQP(_Backend):
    """Minimum variance ``w' (Sigma + gamma I) w`` over the budget, bounds and linear rows.

    Parameters as for :class:`_Backend`.
    """

    def solve(
        self, covariance: np.ndarray, lower: np.ndarray, upper: np.ndarray, **_: Any
    ) -> np.ndarray | None:
        """Solve for a covariance (n x n, annual) and per-name bounds (n,).

        Returns
        -------
        ndarray of shape (n,) or None
            The certified optimum, or None (``last_status`` says why) when the method
            could not certify one; the caller then uses another solver.
        """
        qp = _QP(hessian_of(covariance, self.gamma), np.ones((1, self.n)),
                 np.array([self.budget]), self._rows, self._row_low, self._row_high,
                 np.asarray(lower, dtype=float), np.asarray(upper, dtype=float))
        start = None
        if self._previous is not None:
            start = np.clip(self._previous, qp.lower, qp.upper)
        if start is None or qp.violation(start) > PRIMAL_TOLERANCE:
            start = fill_budget(self.budget, qp.lower, qp.upper, qp.hessian.diagonal())
        if qp.violation(start) > PRIMAL_TOLERANCE:  # a row cap: fill within it (no LP)
            start = start_within_caps(qp, self.budget)
        weights = self._solver.solve(qp, start)
        if weights is not None:
            self._previous = weights
        return weights

    objective_value = LinearQP.objective_value


class SharpeActiveSet(_Backend):
    """Maximum Sharpe ratio over the budget, bounds and linear rows (homogenised form).

    Parameters as for :class:`_Backend`; an L2 penalty is a ridge on the risk, as in
    :class:`portfolio.optimization.objectives.MaxSharpe`.
    """

    def solve(
        self,
        covariance: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        *,
        expected_returns: np.ndarray,
        risk_free_rate: float,
    ) -> np.ndarray | None:
        """Weights ``w = y / kappa`` (n,) of the certified optimum, or None.

        ``expected_returns`` (n,) and ``risk_free_rate`` are annual fractions. None also
        when no name may hold a positive excess return: the caller's checks explain it.
        """
        n = self.n
        excess = np.asarray(expected_returns, dtype=float) - risk_free_rate
        lower = np.asarray(lower, dtype=float)
        upper = np.asarray(upper, dtype=float)
        if not np.any(excess[upper > 0] > 0):
            # MaxSharpe.check_data explains it (the same test as the cvxpy path)
            self._solver.last_status = "no name has a positive excess return"
            return None
        fixed = lower == upper
        if np.any(lower[fixed] != 0.0):
            self._solver.last_status = "a name is held at a non-zero fixed weight"
            return None
        hessian = hessian_of(covariance, self.gamma, extra=1)
        equality = np.zeros((2, n + 1))
        equality[0, :n] = excess
        equality[1, :n], equality[1, n] = 1.0, -self.budget
        # Homogenised bounds ``lower kappa <= y <= upper kappa`` are rows, except for the
        # plain ``y >= 0`` of a zero floor and names held at a fixed weight (0 when not
        # available); the general rows are homogenised the same way.
        rows, low, high = [], [], []
        for i in np.flatnonzero(~fixed):
            for bound, is_cap in ((upper[i], True), (lower[i], False)):
                if not np.isfinite(bound) or (not is_cap and bound == 0.0):
                    continue
                row = np.zeros(n + 1)
                row[i], row[n] = 1.0, -bound
                rows.append(row)
                low.append(-np.inf if is_cap else 0.0)
                high.append(0.0 if is_cap else np.inf)
        for loadings, row_low, row_high in zip(self._rows, self._row_low, self._row_high):
            for bound, is_cap in ((row_high, True), (row_low, False)):
                if np.isfinite(bound):
                    rows.append(np.append(loadings, -bound))
                    low.append(-np.inf if is_cap else 0.0)
                    high.append(0.0 if is_cap else np.inf)
        variable_lower = np.append(np.where(fixed, 0.0, np.where(lower >= 0, 0.0, -np.inf)), 0.0)
        variable_upper = np.append(np.where(fixed, 0.0, np.inf), np.inf)
        qp = _QP(hessian, equality, np.array([1.0, 0.0]),
                 np.array(rows).reshape(len(rows), n + 1), np.array(low), np.array(high),
                 variable_lower, variable_upper)
        # Every limit is homogeneous in (y, kappa): a feasible w with a positive excess
        # return, scaled by it, is a feasible start; the last answer is one when its
        # excess return is still positive, else the budget filled in order of excess
        # return per unit of variance.
        start = self._previous
        if start is None or float(excess @ start[:n]) <= 0:
            start = np.append(self._fresh_start(covariance, excess, lower, upper), 1.0)
        gain = float(excess @ start[:n])
        solution = self._solver.solve(qp, start / gain if gain > 0 else None)
        if solution is None or solution[n] <= 0:
            if solution is not None:
                self._solver.last_status = "kappa is 0 at the optimum"
            return None
        self._previous = solution
        return solution[:n] / solution[n]

    def _fresh_start(self, covariance: Any, excess: np.ndarray, lower: np.ndarray,
                     upper: np.ndarray) -> np.ndarray:
        """Weights (n,) within every limit, from scratch.

        The budget filled in order of excess return per unit of variance, or within the
        caps when that fill breaks one.
        """
        priority = -excess / np.maximum(covariance.diagonal(), 1e-300)
        weights = fill_budget(self.budget, lower, upper, priority)
        plain = _QP(hessian_of(covariance, self.gamma), np.ones((1, self.n)),
                    np.array([self.budget]), self._rows, self._row_low, self._row_high,
                    lower, upper)
        if plain.violation(weights) > PRIMAL_TOLERANCE:  # a row cap: fill within it
            within = start_within_caps(plain, self.budget)
            weights = weights if within is None else within
        return weights

    def objective_value(self, covariance: np.ndarray, weights: np.ndarray) -> float:
        """``y' (Sigma + gamma I) y`` at the last answer, as the cvxpy form reports it."""
        y = self._previous[: self.n]
        return float(y @ covariance @ y + self.gamma * y @ y)
