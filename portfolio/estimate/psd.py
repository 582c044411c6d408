"""Positive semi-definiteness: the test, the nearest PSD matrix, the block-preserving repair.

Units are those of the matrix given (an annualised covariance, fraction^2 a year). A matrix
is PSD when its smallest eigenvalue is at least ``-PSD_TOLERANCE`` times its largest
absolute eigenvalue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from portfolio.errors import DataError

__all__ = ["PSD_TOLERANCE", "is_psd", "nearest_psd", "psd_check", "schur_complement_repair"]

PSD_TOLERANCE = 1e-12
"""A matrix is PSD when its smallest eigenvalue >= -PSD_TOLERANCE x its largest."""


_RANGE_RCOND = 1e-10  # eigenvalues of A below this x the largest are treated as zero


def is_psd(matrix: pd.DataFrame | np.ndarray) -> bool:
    """Tell whether a symmetric matrix is positive semi-definite.

    Parameters
    ----------
    matrix : pandas.DataFrame or numpy.ndarray
        Square matrix; its symmetric part is tested.

    Returns
    -------
    bool
        True when the smallest eigenvalue >= -PSD_TOLERANCE x the largest
        absolute eigenvalue.
    """
    return bool(psd_check(matrix))


def psd_check(matrix: pd.DataFrame | np.ndarray) -> str:
    """How a symmetric matrix was found positive semi-definite, or ``""`` when it is not.

    Parameters
    ----------
    matrix : pandas.DataFrame or numpy.ndarray
        Square matrix; its symmetric part is tested.

    Returns
    -------
    str
        ``"cholesky"``: positive definite (a Cholesky factor exists, O(N^3 / 3));
        ``"eigenvalues"``: singular but PSD within :data:`PSD_TOLERANCE` (an
        eigenvalue decomposition, several times the cost); ``""``: not PSD. The value
        is the certificate a :class:`~portfolio.estimate.covariance.CovarianceEstimate`
        carries, so that the optimiser does not test the matrix again.
    """
    values = np.asarray(matrix, dtype=float)
    if values.size == 0:
        return "cholesky"
    symmetric = (values + values.T) / 2
    try:  # a Cholesky factor exists only for positive definite matrices: cheap common case
        np.linalg.cholesky(symmetric)
    except np.linalg.LinAlgError:
        return "eigenvalues" if _eigenvalues_psd(np.linalg.eigvalsh(symmetric)) else ""
    return "cholesky"


def nearest_psd(
    matrix: pd.DataFrame | np.ndarray,
) -> tuple[pd.DataFrame | np.ndarray, float]:
    """Repair a matrix to symmetric PSD by clipping negative eigenvalues to zero.

    Parameters
    ----------
    matrix : pandas.DataFrame or numpy.ndarray
        Square matrix (e.g. an annualised covariance).

    Returns
    -------
    repaired : pandas.DataFrame or numpy.ndarray
        Same type and labels; the symmetric part, unchanged if already PSD
        (see :func:`is_psd`), else with negative eigenvalues set to 0.
    repair_size : float
        Frobenius norm of ``repaired - matrix``; 0.0 for a symmetric PSD input.
    """
    values = _square(matrix)
    symmetric = (values + values.T) / 2
    repaired = symmetric
    if symmetric.size:
        eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
        if not _eigenvalues_psd(eigenvalues):
            clipped = (eigenvectors * np.clip(eigenvalues, 0.0, None)) @ eigenvectors.T
            repaired = (clipped + clipped.T) / 2
    repair_size = float(np.linalg.norm(repaired - values))
    if isinstance(matrix, pd.DataFrame):
        return pd.DataFrame(repaired, index=matrix.index, columns=matrix.columns), repair_size
    return repaired, repair_size


def schur_complement_repair(
    matrix: pd.DataFrame, keep: Sequence[str]
) -> tuple[pd.DataFrame, float]:
    """Repair a covariance to PSD without changing the block of ``keep`` names.

    With the names ordered as Sigma = [[A, B], [B', C]] (A = the ``keep`` block),
    B is projected onto the range of A (a no-op when A is well conditioned), the
    negative eigenvalues of the Schur complement S = C - B' A^+ B are clipped to
    zero, and C is set to B' A^+ B + S_clipped. A is returned bit for bit.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Symmetric tickers x tickers covariance (any units).
    keep : sequence of str
        Tickers whose block must not change; A must itself be PSD.

    Returns
    -------
    repaired : pandas.DataFrame
        Same labels and order; unchanged if ``matrix`` is already PSD.
    repair_size : float
        Frobenius norm of ``repaired - matrix``; 0.0 if nothing changed.
    """
    values = _square(matrix)
    if is_psd(values):
        return matrix, 0.0
    names = list(matrix.index)
    keep = list(keep)
    unknown = [name for name in keep if name not in names]
    if unknown:
        raise DataError(
            "unknown tickers in the block to keep",
            ", ".join(map(str, unknown)),
            "every kept ticker must be in the matrix",
            "Pass tickers of the matrix",
        )
    kept = np.array([names.index(name) for name in keep], dtype=int)
    rest = np.setdiff1d(np.arange(len(names)), kept)
    block = values[np.ix_(kept, kept)]
    cross = values[np.ix_(kept, rest)]
    short = values[np.ix_(rest, rest)]

    if len(kept):
        eigenvalues, eigenvectors = np.linalg.eigh(block)
        in_range = eigenvalues > _RANGE_RCOND * max(eigenvalues.max(), 0.0)
        basis, spectrum = eigenvectors[:, in_range], eigenvalues[in_range]
        coordinates = basis.T @ cross  # cross in the eigenbasis of A
        if not in_range.all():
            cross = basis @ coordinates  # drop the part outside the range of A
        whitened = coordinates / np.sqrt(spectrum)[:, None]
        explained = whitened.T @ whitened  # B' A^+ B
    else:
        explained = np.zeros_like(short)
    schur = short - explained
    schur = (schur + schur.T) / 2
    schur_values, schur_vectors = np.linalg.eigh(schur)
    clipped = (schur_vectors * np.clip(schur_values, 0.0, None)) @ schur_vectors.T
    new_short = explained + clipped
    new_short = (new_short + new_short.T) / 2

    repaired = values.copy()
    repaired[np.ix_(kept, rest)] = cross
    repaired[np.ix_(rest, kept)] = cross.T
    repaired[np.ix_(rest, rest)] = new_short
    repair_size = float(np.linalg.norm(repaired - values))
    return pd.DataFrame(repaired, index=matrix.index, columns=matrix.columns), repair_size


def _square(matrix) -> np.ndarray:
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise DataError(
            "covariance matrix is not square",
            f"shape {values.shape}",
            "a covariance has one row and one column per ticker",
            None,
        )
    if isinstance(matrix, pd.DataFrame) and list(matrix.index) != list(matrix.columns):
        raise DataError(
            "covariance rows and columns differ",
            "matrix",
            "the row and column labels must be the same tickers in the same order",
            "Reindex the matrix with matrix.loc[tickers, tickers]",
        )
    return values


def _eigenvalues_psd(eigenvalues: np.ndarray) -> bool:
    largest = np.abs(eigenvalues).max()
    return bool(eigenvalues.min() >= -PSD_TOLERANCE * largest)
