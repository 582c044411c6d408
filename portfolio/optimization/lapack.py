"""Dense LU and Cholesky solves for the optimisers, loading scipy.linalg only for big systems.

Importing scipy.linalg costs 0.1-0.2 s (its array-API layer loads numpy.testing and
numpy.f2py), more than all the solves of an everyday CLI command on the bundled 18 names.
Systems of fewer than :data:`SCIPY_FROM` rows therefore go through ``numpy.linalg`` (the
same LAPACK routines behind a heavier Python wrapper: about 4 microseconds more per call);
larger ones through scipy's direct LAPACK wrappers, where the wrapper cost is nothing next
to the factorisation and a Cholesky factor is reused by triangular solves in O(n^2).

Every function raises ``numpy.linalg.LinAlgError`` for a singular system (or returns
``None`` where it says so), whichever side answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SCIPY_FROM", "LUFactor", "cholesky", "cholesky_solve", "solve"]

SCIPY_FROM = 64
"""Order of a system from which scipy's LAPACK wrappers answer (imported on first use)."""


def _scipy_lapack() -> Any:
    from scipy.linalg import lapack  # loaded on use: about 0.15 s

    return lapack


def solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``matrix^-1 rhs`` by an LU factorisation with partial pivoting (LAPACK ``gesv``).

    ``matrix`` (n, n); ``rhs`` (n,) or (n, r). Raises ``LinAlgError`` when singular.
    """
    if matrix.shape[0] < SCIPY_FROM:
        return np.linalg.solve(matrix, rhs)
    _, _, solution, info = _scipy_lapack().dgesv(matrix, rhs)
    if info != 0:
        raise np.linalg.LinAlgError("singular matrix")
    return solution


def cholesky(matrix: np.ndarray) -> np.ndarray | None:
    """The upper Cholesky factor ``U`` (``U'U = matrix``), or None when not positive definite.

    ``matrix`` (n, n) symmetric; only its upper triangle is read by LAPACK, the numpy side
    reads the lower one, so pass a symmetric matrix.
    """
    if matrix.shape[0] < SCIPY_FROM:
        try:
            return np.linalg.cholesky(matrix).T
        except np.linalg.LinAlgError:
            return None
    factor, info = _scipy_lapack().dpotrf(matrix, lower=False, clean=True,
                                          overwrite_a=False)
    return factor if info == 0 else None


def cholesky_solve(factor: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``(U'U)^-1 rhs`` for an upper factor ``U`` from :func:`cholesky`; rhs (n,) or (n, r)."""
    if factor.shape[0] < SCIPY_FROM:
        return np.linalg.solve(factor, np.linalg.solve(factor.T, rhs))
    return _scipy_lapack().dpotrs(factor, rhs, lower=False)[0]


class LUFactor:
    """An LU factorisation of a square matrix, solved against several right-hand sides.

    Small matrices keep the matrix and let ``numpy.linalg.solve`` factor it per solve
    (cheaper than importing scipy.linalg for a handful of solves); large ones keep the
    factors of LAPACK ``getrf``. Non-finite entries raise ``ValueError`` here; singularity
    raises ``LinAlgError`` here (large) or at :meth:`solve` (small), so callers guard both.
    """

    def __init__(self, matrix: np.ndarray) -> None:
        if not np.isfinite(matrix).all():
            raise ValueError("the matrix has non-finite entries")
        self._small = matrix.shape[0] < SCIPY_FROM
        if self._small:
            self._matrix = matrix
        else:
            self._lu, self._pivots, info = _scipy_lapack().dgetrf(matrix)
            if info != 0:
                raise np.linalg.LinAlgError("singular matrix")

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``matrix^-1 rhs``; rhs (n,) or (n, r)."""
        if self._small:
            return np.linalg.solve(self._matrix, rhs)
        solution, info = _scipy_lapack().dgetrs(self._lu, self._pivots, rhs)
        if info != 0:
            raise np.linalg.LinAlgError("invalid LU solve")
        return solution

