"""The covariance a solve uses: aligned by ticker, PSD, dense or in factor form.

:class:`~portfolio.optimization.problem.PortfolioProblem` accepts the risk model in four
forms, all annualised (fraction^2 a year):

* a :class:`~portfolio.estimate.covariance.CovarianceEstimate` -- its PSD certificate
  (:attr:`~portfolio.estimate.covariance.CovarianceEstimate.psd`) is trusted, so the
  O(N^3) test the estimator made is not made again, and a factor-model estimate is used
  in factor form;
* a :class:`~portfolio.estimate.factor_risk.FactorCovariance` (``B F B' + D``, never
  formed; PSD when ``F`` is, which its square root ensures);
* a DataFrame labelled by ticker, or an ndarray in the problem's order: tested here (one
  Cholesky factorisation when positive definite, eigenvalues when singular) and, when
  not PSD, replaced by the nearest PSD matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from portfolio.errors import DataError
from portfolio.estimate.covariance import CovarianceEstimate
from portfolio.estimate.factor_risk import FactorCovariance
from portfolio.estimate.psd import is_psd, nearest_psd
from portfolio.optimization import lapack

__all__ = ["RiskInput", "aligned_risk", "numbers", "positive_semidefinite"]

RiskInput = CovarianceEstimate | FactorCovariance | pd.DataFrame | np.ndarray
"""What :func:`aligned_risk` (and so ``PortfolioProblem.solve``) accepts as the covariance."""


def positive_semidefinite(matrix: np.ndarray) -> np.ndarray:
    """The symmetric part of ``matrix``, or the nearest PSD matrix when it is not PSD.

    What every solver path sees (active set, OSQP, cvxpy, the reported volatility) for an
    uncertified matrix. For a positive definite matrix the test is one Cholesky
    factorisation; a singular one is tested by :func:`portfolio.estimate.psd.is_psd`
    (eigenvalues); a matrix with a negative eigenvalue beyond rounding gets them clipped
    at 0 (:func:`portfolio.estimate.psd.nearest_psd`).
    """
    symmetric = _symmetric(matrix)
    if lapack.cholesky(symmetric) is not None or is_psd(symmetric):
        return symmetric
    return nearest_psd(symmetric)[0]


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    """``(M + M') / 2``; exact: a symmetric matrix comes back bit for bit."""
    symmetric = matrix + matrix.T
    symmetric *= 0.5
    return symmetric


def numbers(values: Any, what: str, where: str) -> np.ndarray:
    """``values`` (array-like or pandas, already in ticker order) as a float array.

    Raises
    ------
    DataError
        An entry that is not a number.
    """
    try:
        if isinstance(values, pd.DataFrame | pd.Series):
            return values.to_numpy(dtype=float)  # np.asarray costs 40 times more here
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{what} has entries that are not numbers", where, f"could not read them ({exc})",
            "pass annual fractions",
        ) from None


def aligned_risk(covariance: RiskInput, tickers: Sequence[str], labels: pd.Index
                 ) -> np.ndarray | FactorCovariance:
    """The covariance of ``tickers`` (in that order) as the solvers take it.

    Parameters
    ----------
    covariance : CovarianceEstimate, FactorCovariance, DataFrame or ndarray
        Annualised covariance; labelled forms are aligned by ticker, an ndarray must
        already be in ``tickers`` order.
    tickers : sequence of str
        The problem's names (n).
    labels : Index
        ``pandas.Index(tickers)`` (built once by the caller).

    Returns
    -------
    ndarray (n, n) or FactorCovariance
        Symmetric PSD; a factor model stays in factor form.

    Raises
    ------
    DataError
        A ticker without a covariance, the wrong shape, or entries that are not finite
        numbers.
    """
    certified = False
    if isinstance(covariance, CovarianceEstimate):
        certified = bool(covariance.psd)
        covariance = covariance.factor if covariance.factor is not None else covariance.dense
    if isinstance(covariance, FactorCovariance):
        if covariance.tickers != tuple(tickers):
            covariance = covariance.take(tickers)
        return covariance
    matrix = _aligned_dense(covariance, tickers, labels)
    return _symmetric(matrix) if certified else positive_semidefinite(matrix)


def _aligned_dense(covariance: pd.DataFrame | np.ndarray, tickers: Sequence[str],
                   labels: pd.Index) -> np.ndarray:
    n = len(tickers)
    if isinstance(covariance, pd.DataFrame) and not (
        covariance.index.equals(labels) and covariance.columns.equals(labels)
    ):
        missing = [t for t in tickers if t not in covariance.index or t not in covariance.columns]
        if missing:
            raise DataError(
                f"no covariance for {', '.join(missing)}",
                "risk model",
                "the risk model must cover every ticker of the problem",
                "estimate the covariance on the same universe",
            )
        covariance = covariance.loc[list(tickers), list(tickers)]
    matrix = numbers(covariance, "the covariance", "risk model")
    if matrix.shape != (n, n):
        raise DataError(
            "the covariance has the wrong shape",
            "risk model",
            f"expected ({n}, {n}), got {matrix.shape}",
            "estimate the covariance on the problem's tickers",
        )
    if not np.isfinite(matrix).all():
        raise DataError(
            "the covariance has missing or infinite entries",
            "risk model",
            "every entry must be a finite number",
            "check the returns for gaps or bad prices",
        )
    return matrix
