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
import scipy.sparse as sp

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
        self._A = sp.vstack([sp.csc_matrix(self._rows), sp.identity(n, format="csc")],
                            format="csc")
        # Upper triangle of a dense n x n matrix in CSC order (column by column).
        cols, rows_idx = np.tril_indices(n)  # (j, i) of the lower = (i, j) of the upper
        self._triangle = (rows_idx, cols)
        self._indptr = np.concatenate([[0], np.cumsum(np.arange(1, n + 1))])
        self._solver: Any = None
        self.last_status = ""

    def objective_value(self, covariance: np.ndarray, weights: np.ndarray) -> float:
        """``w' Sigma w + gamma ||w||^2`` (annual)."""
        return float(weights @ covariance @ weights + self.gamma * weights @ weights)

    def _hessian_values(self, covariance: np.ndarray) -> np.ndarray:
        """Upper-triangle values of ``P = 2 (Sigma + gamma I)`` in CSC order."""
        return ridge_hessian(covariance, self.gamma)[self._triangle]

    def solve(
        self, covariance: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray | None:
        """Solve for a covariance (n x n, annual) and per-name bounds (n,).

        Returns
        -------
        ndarray of shape (n,) or None
            The polished optimum, or None when OSQP did not solve and polish the problem
            or raised (``last_status`` says why; the caller then uses the cvxpy chain).
        """
        import osqp

        values = self._hessian_values(covariance)
        low = np.concatenate([self._row_lower, lower])
        high = np.concatenate([self._row_upper, upper])
        try:
            if self._solver is None:
                hessian = sp.csc_matrix((values, self._triangle[0], self._indptr),
                                        shape=(self.n, self.n))
                self._solver = osqp.OSQP()
                self._solver.setup(P=hessian, q=np.zeros(self.n), A=self._A, l=low, u=high,
                                   **OSQP_SETTINGS)
            else:
                self._solver.update(Px=values, l=low, u=high)
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
        return np.asarray(result.x, dtype=float)
