"""A covariance kept in factor form, ``Sigma = B F B' + diag(d)``, never formed.

A factor risk model of N names on k factors needs O(N k) numbers: the loadings ``B``
(N x k), the factor covariance ``F`` (k x k) and the specific variances ``d`` (N,).
:class:`FactorCovariance` holds them and acts as the N x N matrix where the optimiser and
the reports need one: ``Sigma @ x`` and ``x @ Sigma`` cost O(N k), the diagonal O(N k),
the block of a few held names O(m^2 k); :meth:`FactorCovariance.dense` forms the whole
matrix only when asked.

Units: ``F`` and ``d`` are annualised (fraction^2 a year), so ``Sigma`` is too; the
loadings are dimensionless (betas of the names' returns on the factors' returns).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.errors import DataError
from portfolio.estimate.estimators import _regress_each
from portfolio.estimate.returns import periods_per_year

__all__ = ["FactorCovariance", "fit_factor_risk"]


@dataclass(frozen=True, eq=False)
class FactorCovariance:
    """``Sigma = B F B' + diag(d)`` (annualised) as its parts.

    Attributes
    ----------
    loadings : ndarray, shape (N, k)
        ``B``: each name's betas on the factors (dimensionless).
    factor_cov : ndarray, shape (k, k)
        ``F``: covariance of the factor returns, annualised (fraction^2 a year), PSD.
    specific : ndarray, shape (N,)
        ``d``: specific (residual) variances, annualised, ``>= 0``.
    tickers : tuple of str
        The N names, in the order of the rows of ``loadings``.
    factors : tuple of str
        The k factors.

    Notes
    -----
    The object works with ``@`` like the N x N matrix it stands for (``Sigma @ w``,
    ``w @ Sigma``, ``w @ Sigma @ w`` for 1-D ``w``), without forming it.
    """

    loadings: np.ndarray
    factor_cov: np.ndarray
    specific: np.ndarray
    tickers: tuple[str, ...]
    factors: tuple[str, ...]

    __array_ufunc__ = None  # ``ndarray @ self`` defers to :meth:`__rmatmul__`

    def __post_init__(self) -> None:
        n, k = np.shape(self.loadings) if np.ndim(self.loadings) == 2 else (-1, -1)
        if (n != len(self.tickers) or k != len(self.factors)
                or np.shape(self.factor_cov) != (k, k) or np.shape(self.specific) != (n,)):
            raise DataError(
                "inconsistent factor risk model", "factor model",
                f"loadings {np.shape(self.loadings)}, factor covariance "
                f"{np.shape(self.factor_cov)}, specific variances {np.shape(self.specific)} "
                f"for {len(self.tickers)} names and {len(self.factors)} factors",
                "give loadings N x k, factor covariance k x k and N specific variances",
            )
        for name in ("loadings", "factor_cov", "specific"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        if not (np.isfinite(self.loadings).all() and np.isfinite(self.factor_cov).all()
                and np.isfinite(self.specific).all()) or (self.specific < 0).any():
            raise DataError(
                "bad factor risk model", "factor model",
                "every entry must be finite and every specific variance >= 0",
                "check the factor regressions",
            )

    # -- the matrix it stands for -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(N, N)``."""
        return (len(self.tickers), len(self.tickers))

    @functools.cached_property
    def root(self) -> np.ndarray:
        """``U = B L`` (N x k) with ``U U' = B F B'`` (``L`` a square root of ``F``).

        The Cholesky factor of ``F`` when it is positive definite, else its symmetric
        square root with negative eigenvalues (rounding) clipped at 0.
        """
        symmetric = (self.factor_cov + self.factor_cov.T) / 2
        try:
            root = np.linalg.cholesky(symmetric)
        except np.linalg.LinAlgError:
            values, vectors = np.linalg.eigh(symmetric)
            root = vectors * np.sqrt(np.clip(values, 0.0, None))
        return self.loadings @ root

    def diagonal(self) -> np.ndarray:
        """Variances ``diag(Sigma)``, shape (N,), fraction^2 a year."""
        return self.specific + np.einsum("ij,ij->i", self.root, self.root)

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        """``Sigma @ x`` for x of shape (N,) or (N, m), in O(N k m)."""
        x = np.asarray(other, dtype=float)
        scaled = self.specific * x if x.ndim == 1 else self.specific[:, None] * x
        return scaled + self.root @ (self.root.T @ x)

    def __rmatmul__(self, other: np.ndarray) -> np.ndarray:
        """``x @ Sigma`` for x of shape (N,) or (m, N) (Sigma is symmetric)."""
        x = np.asarray(other, dtype=float)
        return self @ x if x.ndim == 1 else (self @ x.T).T

    def dense(self) -> np.ndarray:
        """The N x N matrix ``B F B' + diag(d)``, exactly symmetric (O(N^2) memory)."""
        matrix = self.loadings @ self.factor_cov @ self.loadings.T + np.diag(self.specific)
        return (matrix + matrix.T) / 2

    def frame(self) -> pd.DataFrame:
        """:meth:`dense` labelled by ticker."""
        return pd.DataFrame(self.dense(), index=list(self.tickers), columns=list(self.tickers))

    # -- subsets ------------------------------------------------------------------------
    def take(self, tickers: Sequence[str]) -> FactorCovariance:
        """The model of ``tickers`` (a subset, in that order)."""
        index = self._positions(tickers)
        return FactorCovariance(self.loadings[index], self.factor_cov, self.specific[index],
                                tuple(tickers), self.factors)

    def block(self, tickers: Sequence[str]) -> pd.DataFrame:
        """The covariance of ``tickers`` only (m x m, labelled), formed in O(m^2 k)."""
        return self.take(tickers).frame()

    def padded(self, tickers: Sequence[str], variance: float) -> FactorCovariance:
        """The model over ``tickers``; a name it lacks gets ``variance`` and no factor risk.

        Such a name is uncorrelated with every other (zero loadings), so the matrix stays
        positive semi-definite; the optimiser holds it at 0.
        """
        known = {t: i for i, t in enumerate(self.tickers)}
        n, k = len(tickers), len(self.factors)
        loadings, specific = np.zeros((n, k)), np.full(n, float(variance))
        rows = [i for i, t in enumerate(tickers) if t in known]
        source = [known[tickers[i]] for i in rows]
        loadings[rows], specific[rows] = self.loadings[source], self.specific[source]
        return FactorCovariance(loadings, self.factor_cov, specific, tuple(tickers),
                                self.factors)

    def _positions(self, tickers: Sequence[str]) -> np.ndarray:
        known = {t: i for i, t in enumerate(self.tickers)}
        missing = [t for t in tickers if t not in known]
        if missing:
            raise DataError(
                f"no covariance for {', '.join(map(str, missing))}", "risk model",
                "the factor model must cover every ticker asked for",
                "estimate it on the same universe",
            )
        return np.array([known[t] for t in tickers], dtype=int)


def fit_factor_risk(returns: pd.DataFrame, factors: pd.DataFrame, frequency: str
                    ) -> tuple[FactorCovariance, np.ndarray]:
    """OLS factor model of every name, kept in factor form (no N x N matrix).

    The same model as :func:`portfolio.estimate.estimators.factor_covariance`: each name
    regressed with an intercept on the factor returns over its own rows; names with a
    return on every date are regressed together (one least-squares solve with N
    right-hand sides), the others one by one.

    Parameters
    ----------
    returns : DataFrame
        Dates x tickers, periodic returns (fractions, floats), NaN where a name has none.
    factors : DataFrame
        Dates x factors, periodic returns on the same dates, complete.
    frequency : str
        Frequency of both; sets the annualisation.

    Returns
    -------
    model : FactorCovariance
        Betas, annualised factor covariance (ddof 1) and specific variances
        ``SSR / (n - k - 1)``, annualised.
    observations : ndarray of int, shape (N,)
        Rows of each name's regression.

    Raises
    ------
    DataError
        A name with fewer than k + 2 returns.
    """
    scale = periods_per_year(frequency)
    values, regressors = returns.to_numpy(dtype=float), factors.to_numpy(dtype=float)
    n, k = values.shape[1], regressors.shape[1]
    betas, specific = np.zeros((n, k)), np.zeros(n)
    counts = np.sum(~np.isnan(values), axis=0)
    complete = counts == len(values)
    if complete.any() and len(values) >= k + 2:
        design = np.column_stack([np.ones(len(regressors)), regressors])
        targets = values if complete.all() else values[:, complete]
        # the least-squares solution of every name at once: the pseudo-inverse of the
        # (T x k+1) design (one small SVD, as lstsq) times the returns
        coefficients = np.linalg.pinv(design) @ targets
        residuals = targets - design @ coefficients
        betas[complete] = coefficients[1:].T
        specific[complete] = np.einsum("ij,ij->j", residuals, residuals) / (len(values) - k - 1)
    else:
        complete[:] = False
    if not complete.all():
        ragged = returns.columns[~complete]
        betas[~complete], specific[~complete], _ = _regress_each(
            returns[ragged], regressors, "factor_covariance")
    factor_cov = np.atleast_2d(np.cov(regressors, rowvar=False, ddof=1)) * scale
    model = FactorCovariance(betas, factor_cov, specific * scale,
                             tuple(returns.columns), tuple(factors.columns))
    return model, counts
