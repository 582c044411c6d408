"""Hessians of the variance QPs and the optimality systems of their working sets.

The active set (:mod:`portfolio.optimization.active_set`) asks three things of the
Hessian ``H`` of its quadratic objective: its diagonal, the product ``H z`` and the
solution of the equality-constrained QP on a set of free variables. Two forms answer:

* :class:`DenseHessian`: ``H`` as an n x n array (``2 (Sigma + gamma I)``);
* :class:`FactorHessian`: ``H = diag(h) + U U'`` with ``U`` n x k (``2 (B F B' + D +
  gamma I)`` of a factor model): products cost O(n k) and a free block of m names is
  solved by the Sherman-Morrison-Woodbury identity in O(m k^2), so the n x n matrix is
  never formed.

The equality-constrained QP of a working set::

    minimise  z' H z / 2   over the free variables F (the others fixed at z_fixed)
    subject to  C z = d    (the equalities and the active rows)

is the KKT system ``[[H_FF, C_F'], [C_F, 0]] [x; lam] = [-H_F. z_fixed; d - C z_fixed]``.
Small blocks are solved by one LU factorisation of that system (LAPACK ``gesv``); from
:data:`RANGE_SPACE_FROM` free variables on, by the range-space method (a Cholesky
factor of ``H_FF``, about half the work of the LU), which falls back to the LU when
``H_FF`` is not positive definite. A dense Hessian keeps its last large factor and
reuses it while the free set only shrinks (:class:`DenseHessian`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from portfolio.estimate.factor_risk import FactorCovariance
from portfolio.optimization import lapack

__all__ = ["RANGE_SPACE_FROM", "DenseHessian", "FactorHessian", "hessian_of"]

RANGE_SPACE_FROM = 128
"""Free variables from which a dense block is solved through a Cholesky factor."""


def _kkt_lu(block: np.ndarray, rhs: np.ndarray, constraint: np.ndarray,
            target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``[[block, C'], [C, 0]] [x; lam] = [rhs; target]`` by one LU factorisation.

    Raises ``LinAlgError`` when the system is singular.
    """
    n_free, n_rows = block.shape[0], constraint.shape[0]
    system = np.zeros((n_free + n_rows, n_free + n_rows))
    system[:n_free, :n_free] = block
    system[:n_free, n_free:] = constraint.T
    system[n_free:, :n_free] = constraint
    solution = lapack.solve(system, np.concatenate([rhs, target]))
    return solution[:n_free], solution[n_free:]


def _range_space(inverse: Any, rhs: np.ndarray, constraint: np.ndarray,
                 target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x = H^-1 (rhs - C' lam)`` with ``(C H^-1 C') lam = C H^-1 rhs - target``.

    ``inverse(v)`` applies ``H_FF^-1`` to the columns of ``v`` (free x r).
    """
    solved = inverse(np.column_stack([rhs, constraint.T]))
    particular, directions = solved[:, 0], solved[:, 1:]
    schur = constraint @ directions
    multipliers = lapack.solve(schur, constraint @ particular - target)  # dependent rows raise
    return particular - directions @ multipliers, multipliers


def _dense_block(block: np.ndarray, rhs: np.ndarray, constraint: np.ndarray,
                 target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The KKT system of a dense free block: LU when small, Cholesky range-space when large."""
    if block.shape[0] >= RANGE_SPACE_FROM:
        factor = lapack.cholesky(block)
        if factor is not None:
            return _range_space(_cholesky_inverse(factor), rhs, constraint, target)
    return _kkt_lu(block, rhs, constraint, target)


def _cholesky_inverse(factor: np.ndarray) -> Any:
    """``v -> H^-1 v`` from the upper Cholesky factor of ``H``."""
    def inverse(v: np.ndarray) -> np.ndarray:
        return lapack.cholesky_solve(factor, v)

    return inverse


class DenseHessian:
    """``H`` as an n x n array (symmetric positive semi-definite).

    The Cholesky factor of the last large free block is kept: a later working set whose
    free variables are a subset of it (a few of them moved to a bound) is solved from
    that factor, with the moved variables held by extra equality rows, instead of a new
    factorisation (O(k^2 r) for r moved variables instead of O(k^3 / 3)).
    """

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix
        self._factor: tuple[np.ndarray, np.ndarray] | None = None  # (free set, factor)

    @property
    def size(self) -> int:
        """Number of variables n."""
        return self.matrix.shape[0]

    def diagonal(self) -> np.ndarray:
        """``diag(H)``, shape (n,)."""
        return np.diag(self.matrix)

    def times(self, z: np.ndarray) -> np.ndarray:
        """``H z``, shape (n,)."""
        return self.matrix @ z

    def equality_qp(self, fixed: np.ndarray, free: np.ndarray, matrix: np.ndarray,
                    target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Optimum of the free variables under ``matrix z = target``, and the multipliers.

        ``fixed`` (n,) is the point with the free variables set to 0; ``matrix`` (m, n)
        the working rows; ``free`` sorted. Raises ``LinAlgError`` for a singular system
        (``C_F`` without full row rank, or ``H_FF`` singular on the null space of ``C_F``).
        """
        if free.size < RANGE_SPACE_FROM:
            free_rows = self.matrix[free]
            return _kkt_lu(free_rows[:, free], -(free_rows @ fixed), matrix[:, free],
                           target - matrix @ fixed)
        if not self._reusable(free):
            block = self.matrix[np.ix_(free, free)]
            factor = lapack.cholesky(block)
            if factor is None:
                self._factor = None
                held = np.flatnonzero(fixed)
                return _kkt_lu(block, -(self.matrix[np.ix_(free, held)] @ fixed[held]),
                               matrix[:, free], target - matrix @ fixed)
            self._factor = (free.copy(), factor)
        return self._from_factor(fixed, free, matrix, target)

    def _reusable(self, free: np.ndarray) -> bool:
        """Whether the kept factor covers ``free`` with at most a quarter of it moved."""
        if self._factor is None:
            return False
        base = self._factor[0]
        return base.size - free.size <= base.size // 4 and bool(np.isin(free, base).all())

    def _from_factor(self, fixed: np.ndarray, free: np.ndarray, matrix: np.ndarray,
                     target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The equality QP on ``free`` from the kept factor of a superset ``base``.

        The variables of ``base`` not in ``free`` stay unknowns held at their ``fixed``
        values by unit rows; the multipliers of those rows are dropped (the others are
        those of the smaller system).
        """
        base, factor = self._factor
        keep = np.isin(base, free)
        moved = np.flatnonzero(~keep)
        zeroed = fixed.copy()
        zeroed[base] = 0.0
        held = np.flatnonzero(zeroed)
        units = np.zeros((moved.size, base.size))
        units[np.arange(moved.size), moved] = 1.0
        solution, multipliers = _range_space(
            _cholesky_inverse(factor), -(self.matrix[np.ix_(base, held)] @ zeroed[held]),
            np.vstack([matrix[:, base], units]),
            np.concatenate([target - matrix @ zeroed, fixed[base[moved]]]))
        return solution[keep], multipliers[: matrix.shape[0]]


class FactorHessian:
    """``H = diag(h) + U U'`` with ``h`` (n,) ``>= 0`` and ``U`` (n, k), never formed."""

    def __init__(self, diagonal: np.ndarray, root: np.ndarray) -> None:
        self.h = diagonal
        self.root = root

    @property
    def size(self) -> int:
        """Number of variables n."""
        return self.h.size

    def diagonal(self) -> np.ndarray:
        """``diag(H)``, shape (n,)."""
        return self.h + np.einsum("ij,ij->i", self.root, self.root)

    def times(self, z: np.ndarray) -> np.ndarray:
        """``H z`` in O(n k)."""
        return self.h * z + self.root @ (self.root.T @ z)

    def equality_qp(self, fixed: np.ndarray, free: np.ndarray, matrix: np.ndarray,
                    target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`DenseHessian.equality_qp`, through the factor structure.

        With ``h > 0`` on every free variable and more free variables than factors,
        ``H_FF^-1 = D^-1 - D^-1 U_F (I + U_F' D^-1 U_F)^-1 U_F' D^-1`` (Woodbury): one
        k x k Cholesky factor, O(m k^2). Otherwise the m x m block is formed.
        """
        constraint = matrix[:, free]
        u_free = self.root[free]
        rhs = -(u_free @ (self.root.T @ fixed))  # the diagonal part of H_F. is 0 off F
        d = self.h[free]
        reduced = target - matrix @ fixed
        if free.size <= self.root.shape[1] or not (d > 0).all():
            block = u_free @ u_free.T
            block[np.diag_indices_from(block)] += d
            return _dense_block(block, rhs, constraint, reduced)
        scaled = u_free / d[:, None]
        capacitance = u_free.T @ scaled
        capacitance[np.diag_indices_from(capacitance)] += 1.0
        factor = lapack.cholesky(capacitance)
        if factor is None:
            raise np.linalg.LinAlgError("singular factor capacitance")

        def inverse(v: np.ndarray) -> np.ndarray:
            inner = lapack.cholesky_solve(factor, scaled.T @ v)
            return v / d[:, None] - scaled @ inner

        return _range_space(inverse, rhs, constraint, reduced)


def hessian_of(covariance: Any, gamma: float, extra: int = 0) -> DenseHessian | FactorHessian:
    """``2 (Sigma + gamma I)`` as an operator, with ``extra`` variables of zero curvature.

    Parameters
    ----------
    covariance : ndarray (n, n) or FactorCovariance
        Annualised covariance, dense or in factor form (then never formed).
    gamma : float
        L2 penalty weight (annual variance units).
    extra : int
        Variables appended after the n weights with a zero Hessian (max-Sharpe's kappa).
    """
    if isinstance(covariance, FactorCovariance):
        h = np.append(2.0 * (covariance.specific + gamma), np.zeros(extra))
        root = np.sqrt(2.0) * covariance.root
        if extra:
            root = np.vstack([root, np.zeros((extra, root.shape[1]))])
        return FactorHessian(h, root)
    n = covariance.shape[0]
    matrix = np.zeros((n + extra, n + extra)) if extra else None
    hessian = 2.0 * covariance
    if gamma:
        hessian = hessian + 2.0 * gamma * np.eye(n)
    if matrix is None:
        return DenseHessian(hessian)
    matrix[:n, :n] = hessian
    return DenseHessian(matrix)
