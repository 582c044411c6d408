"""A warm-started OSQP backend for minimum-variance problems with linear limits.

For the most common problem -- minimise ``w' Sigma w (+ gamma ||w||^2)`` subject to the
budget, per-name bounds and linear limits (group caps and floors, cash floor, theme
caps) -- going through cvxpy on every re-solve costs several milliseconds of
bookkeeping per solve. This backend sets OSQP up once with the full sparsity pattern
and, on every solve, only updates the Hessian values and the bounds in place; OSQP then
starts from the previous solution (warm start), which in a walk-forward is close to the
new one.

Accuracy: every answer must be *polished* (OSQP solves the KKT system of the active
set it found, which gives the exact optimum when the active set is right). When OSQP
does not report ``solved`` with a successful polish, the caller falls back to the cvxpy
solver chain, so the result is never less accurate than Clarabel's
(``tests/test_linear_qp.py`` compares both to 1e-6 relative).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from portfolio.estimate.factor_risk import FactorCovariance
from portfolio.optimization.constraints import CashFloor, L2Regularization, _LinearRow

__all__ = ["LinearQP", "linear_only", "linear_rows", "ridge_hessian"]

OSQP_SETTINGS = {
    "verbose": False,
    "eps_abs": 1e-8,
    "eps_rel": 1e-8,
    "polishing": True,
    "max_iter": 20_000,
    "warm_starting": True,
}


def linear_only(limits: Sequence[Any]) -> bool:
    """Whether every limit is a linear row or an L2 penalty (what the fast paths take)."""
    return all(isinstance(item, _LinearRow | L2Regularization) for item in limits)


def linear_rows(
    tickers: Sequence[str], limits: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The general rows ``row_low <= G w <= row_high`` of linear limits, and the L2 weight.

    Parameters
    ----------
    tickers : sequence of str
        Order of the weight vector (n names).
    limits : sequence
        Linear limit objects (``linear_form``) and L2 penalties. A cash floor is left out:
        it is the budget ``sum(w) = 1 - floor`` that every backend adds itself (a duplicate
        row would make the optimality system singular).

    Returns
    -------
    rows : ndarray, shape (k, n)
    row_low, row_high : ndarray, shape (k,)
        Bounds of the rows (fractions; -inf / inf when one-sided).
    gamma : float
        Sum of the L2 penalty weights.
    """
    gamma = sum(item.gamma for item in limits if isinstance(item, L2Regularization))
    rows, low, high = [], [], []
    for item in limits:
        if isinstance(item, L2Regularization | CashFloor):
            continue
        loadings, offset, bound, sense = item.linear_form(tickers)
        rows.append(loadings)
        low.append(bound - offset if sense == ">=" else -np.inf)
        high.append(bound - offset if sense == "<=" else np.inf)
    return (
        np.array(rows, dtype=float).reshape(len(rows), len(tickers)),
        np.array(low, dtype=float),
        np.array(high, dtype=float),
        float(gamma),
    )


def ridge_hessian(covariance: np.ndarray, gamma: float) -> np.ndarray:
    """``2 (Sigma + gamma I)`` (n x n): the Hessian of ``w' Sigma w + gamma ||w||^2``."""
    hessian = 2.0 * covariance
    if gamma:
        hessian = hessian + 2.0 * gamma * np.eye(len(covariance))
    return hessian


def _error_name(exc: Exception) -> str:
    """``OSQP_NONCVX_ERROR`` for an ``OSQPException`` carrying code 4."""
    import osqp

    code = exc.args[0] if exc.args else None
    try:
        return osqp.SolverError(code).name
    except ValueError:
        return repr(code)


class LinearQP:
    """``min w' Sigma w + gamma ||w||^2`` s.t. ``1'w = budget``, bounds and linear rows.

    With a dense covariance OSQP gets the n x n Hessian (upper triangle). With a factor
    model ``Sigma = B F B' + D`` (:class:`~portfolio.estimate.factor_risk.FactorCovariance`)
    it gets ``k`` more variables ``y = U' w`` (``U U' = B F B'``) and the Hessian
    ``diag(2 (d + gamma)) + 2 I_k``: O(n k) nonzeros instead of n^2. The OSQP problem is
    set up on the first solve and updated in place afterwards; a change of form (dense /
    factor, or the number of factors) sets it up afresh.

    Parameters
    ----------
    tickers : sequence of str
        Order of the weight vector (n names).
    budget : float
        Sum of the risky weights (``1 - cash_floor``).
    limits : sequence
        Linear limit objects (``linear_form``) and L2 penalties.
    """

    def __init__(self, tickers: Sequence[str], budget: float, limits: Sequence[Any]) -> None:
        n = len(tickers)
        self.n = n
        rows, row_low, row_high, self.gamma = linear_rows(tickers, limits)
        self._rows = np.vstack([np.ones(n), rows])
        self._row_lower = np.concatenate([[budget], row_low])
        self._row_upper = np.concatenate([[budget], row_high])
        self._solver: Any = None
        self._form: tuple[str, int] | None = None
        self._triangle: tuple[np.ndarray, np.ndarray] | None = None
        self._A_order: np.ndarray | None = None
        self.last_status = ""

    def objective_value(self, covariance: Any, weights: np.ndarray) -> float:
        """``w' Sigma w + gamma ||w||^2`` (annual)."""
        return float(weights @ covariance @ weights + self.gamma * weights @ weights)

    def _dense_problem(self, covariance: np.ndarray, setup: bool
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Setup (when ``setup``) and update arguments for a dense covariance."""
        import scipy.sparse as sp  # loaded on use, as OSQP itself

        n = self.n
        if self._triangle is None:
            cols, rows_idx = np.tril_indices(n)  # (j, i) of the lower = (i, j) of the upper
            self._triangle = (rows_idx, cols)
        values = ridge_hessian(covariance, self.gamma)[self._triangle]
        if not setup:
            return {}, {"Px": values}
        indptr = np.concatenate([[0], np.cumsum(np.arange(1, n + 1))])
        return {"P": sp.csc_matrix((values, self._triangle[0], indptr), shape=(n, n)),
                "A": sp.vstack([sp.csc_matrix(self._rows), sp.identity(n, format="csc")],
                               format="csc")}, {}

    def _factor_problem(self, model: FactorCovariance, setup: bool
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Setup (when ``setup``) and update arguments for ``x = (w, y)``, ``y = U' w``."""
        import scipy.sparse as sp  # loaded on use, as OSQP itself

        n, k = self.n, model.root.shape[1]
        p = np.concatenate([2.0 * (model.specific + self.gamma), np.full(k, 2.0)])
        general = sp.coo_matrix(self._rows)
        m = general.shape[0]
        # every entry of U' is stored, zeros too, so that an update keeps the pattern
        row = np.concatenate([general.row, m + np.arange(n), np.repeat(np.arange(k), n) + m + n,
                              m + n + np.arange(k)])
        col = np.concatenate([general.col, np.arange(n), np.tile(np.arange(n), k),
                              n + np.arange(k)])
        data = np.concatenate([general.data, np.ones(n), model.root.T.ravel(), -np.ones(k)])
        shape = (m + n + k, n + k)
        if setup:
            # where each entry lands in the CSC data of A (OSQP updates A in that order)
            matrix = sp.csc_matrix((np.arange(1.0, data.size + 1), (row, col)), shape=shape)
            self._A_order = matrix.data.astype(int) - 1
            matrix.data = data[self._A_order]
            return {"P": sp.diags(p, format="csc"), "A": matrix}, {}
        return {}, {"Px": p, "Ax": data[self._A_order]}

    def solve(
        self, covariance: np.ndarray | FactorCovariance, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray | None:
        """Solve for a covariance (n x n annual, or a factor model) and bounds (n,).

        Returns
        -------
        ndarray of shape (n,) or None
            The polished optimum, or None when OSQP did not solve and polish the problem
            or raised (``last_status`` says why; the caller then uses the cvxpy chain).
        """
        import osqp

        factor = isinstance(covariance, FactorCovariance)
        form = ("factor", covariance.root.shape[1]) if factor else ("dense", 0)
        fresh = self._solver is None or form != self._form
        setup, update = (self._factor_problem(covariance, fresh) if factor
                         else self._dense_problem(covariance, fresh))
        extra = form[1]
        low = np.concatenate([self._row_lower, lower, np.zeros(extra)])
        high = np.concatenate([self._row_upper, upper, np.zeros(extra)])
        try:
            if fresh:
                self._solver = osqp.OSQP()
                self._solver.setup(q=np.zeros(self.n + extra), l=low, u=high, **setup,
                                   **OSQP_SETTINGS)
                self._form = form
            else:
                self._solver.update(l=low, u=high, **update)
            result = self._solver.solve(raise_error=False)
        except osqp.OSQPException as exc:  # e.g. a Hessian OSQP finds non-convex
            self._solver = None  # set up afresh on the next solve
            self.last_status = f"OSQP error {_error_name(exc)}"
            return None
        self.last_status = str(result.info.status)
        if self.last_status == "solved" and result.info.status_polish != 1:
            self.last_status = "solved, polish failed"
        if self.last_status != "solved":
            return None
        return np.asarray(result.x[: self.n], dtype=float)
