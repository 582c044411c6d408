"""The data every compiled objective shares: Parameters, limits, penalties, solver options.

:class:`ProblemData` holds the cvxpy Parameters of a problem (the covariance, expected
returns, per-name bounds) and its other limit objects; :func:`feasible_set` and
:func:`penalties` turn the limits into constraints and objective terms. The covariance
enters in one of three forms (:meth:`ProblemData.variance`): a dense square-root Parameter
``F`` (``Sigma = F' F``), a constant matrix for a problem solved once, or a factor model
``Sigma = U U' + D`` as Parameters ``U'`` (k x n) and ``sqrt(diag(D))`` (n,), which keeps
the problem at O(n k) nonzeros. Loaded only when a cvxpy path runs.

Units: weights are fractions of portfolio value; the covariance is annualised
(fraction^2 a year) and expected returns annual (fraction a year).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

from portfolio.errors import InputError
from portfolio.estimate.factor_risk import FactorCovariance
from portfolio.optimization.constraints import Constraint, L2Regularization, TransactionCosts
from portfolio.weights import weights_vector

__all__ = [
    "CLARABEL_OPTIONS",
    "OSQP_OPTIONS",
    "SCS_OPTIONS",
    "ProblemData",
    "feasible_set",
    "penalties",
    "ridge",
    "risk",
]

CLARABEL_OPTIONS = {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "max_iter": 500}


OSQP_OPTIONS = {
    "eps_abs": 1e-9,
    "eps_rel": 1e-9,
    "max_iter": 400_000,
    "polishing": True,
    "polish_refine_iter": 10,
    "scaling": 10,
    "adaptive_rho": True,
}


SCS_OPTIONS = {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000}


@dataclass(frozen=True)
class ProblemData:
    """Parameters and limits shared by every objective.

    Attributes
    ----------
    tickers : tuple of str
        Order of the weight vector (n names).
    factor : cvxpy.Parameter, shape (n, n)
        ``F`` with ``F' F`` = annualised covariance.
    mu : cvxpy.Parameter, shape (n,)
        Annual expected returns (fractions).
    upper, lower : cvxpy.Parameter, shape (n,)
        Per-name bounds (0 for names not available).
    budget : float
        Sum of risky weights (``1 - cash_floor``).
    limits : tuple
        Other limit and penalty objects.
    covariance : ndarray, shape (n, n), optional
        Constant annualised covariance (positive semi-definite) of a problem built for ONE
        solve; None (the default) for a problem compiled once and re-solved through
        ``factor``. See :meth:`variance`.
    loadings : cvxpy.Parameter, shape (k, n), optional
        Factor form of the covariance: ``U'`` with ``U U' = B F B'`` (a factor model
        ``Sigma = B F B' + D``); then ``factor`` is not used.
    specific : cvxpy.Parameter, shape (n,), optional
        With ``loadings``: the specific volatilities ``sqrt(diag(D))``.
    model : FactorCovariance, optional
        The factor model as a constant, for a problem built for ONE solve.
    """

    tickers: tuple[str, ...]
    factor: cp.Parameter
    mu: cp.Parameter
    upper: cp.Parameter
    lower: cp.Parameter
    budget: float
    limits: tuple[Any, ...]
    covariance: np.ndarray | None = None
    loadings: cp.Parameter | None = None
    specific: cp.Parameter | None = None
    model: FactorCovariance | None = None

    def variance(self, w: Any) -> Any:
        """The annualised variance ``w' Sigma w`` as a cvxpy expression of ``w``.

        ``||F w||^2`` with the Parameter factor (DPP: a re-solve only updates ``F``), or,
        when :attr:`covariance` is set, ``quad_form`` of that constant: the solver then
        gets ``Sigma`` as its quadratic term instead of ``n`` extra variables
        ``t = F w``, which roughly halves compile plus solve time of a one-off problem.
        In factor form, ``||U' w||^2 + ||sqrt(d) * w||^2``: k extra variables and a
        diagonal, never the n x n matrix (Parameters, or constants for one solve).
        """
        if self.covariance is not None:
            return cp.quad_form(w, cp.psd_wrap(self.covariance))
        if self.model is not None:
            return (cp.sum_squares(self.model.root.T @ w)
                    + cp.sum_squares(cp.multiply(np.sqrt(self.model.specific), w)))
        if self.loadings is not None:
            return (cp.sum_squares(self.loadings @ w)
                    + cp.sum_squares(cp.multiply(self.specific, w)))
        return cp.sum_squares(self.factor @ w)

    def available(self) -> np.ndarray:
        """Names that may hold weight (upper bound > 0), bool shape ``(n,)``."""
        return np.asarray(self.upper.value) > 0

    def volatilities(self) -> np.ndarray:
        """Annualised volatilities ``sqrt(diag(Sigma))``, shape ``(n,)``."""
        if self.loadings is not None:
            loadings = np.asarray(self.loadings.value)
            return np.sqrt(np.sum(loadings**2, axis=0) + np.asarray(self.specific.value) ** 2)
        return np.sqrt(np.sum(np.asarray(self.factor.value) ** 2, axis=0))


def feasible_set(data: ProblemData, w: Any, scale: Any = 1.0) -> list:
    """Constraints of the feasible set for weights ``w`` (homogenised by ``scale``).

    With a variable ``scale`` (max-Sharpe's ``kappa``, risk parity's ``sum(x) / budget``)
    every constant is multiplied by it, so ``w / scale`` lies in the feasible set.
    """
    homogenised = not isinstance(scale, int | float)
    constraints = [
        cp.sum(w) == data.budget * scale,
        w <= (cp.multiply(data.upper, scale) if homogenised else data.upper),
        w >= (cp.multiply(data.lower, scale) if homogenised else data.lower),
    ]
    for item in data.limits:
        if isinstance(item, Constraint):
            constraints += item.to_cvxpy(w, data.tickers, scale=scale)
    return constraints


def penalties(data: ProblemData, w: Any, scale: Any = 1.0) -> Any:
    """Sum of the penalty terms (transaction costs, L2) in the objective.

    Costs are fractions of portfolio value, added as they are to annual objectives (a
    one-off cost weighed against a year of return or risk); the L2 term
    ``gamma * ||w||^2`` adds to the variance like a ridge ``Sigma + gamma I``.

    With a variable ``scale`` (the homogenised objectives) transaction costs enter in
    perspective form ``bps * ||w - scale * w0||_1`` (= ``scale * cost(w / scale)``, convex
    in ``(w, scale)``) and L2 terms are left out: those objectives add
    :func:`ridge` to their risk term instead, which keeps them QPs.
    """
    homogenised = not isinstance(scale, int | float)
    terms = []
    for item in data.limits:
        if not hasattr(item, "penalty"):
            continue
        if not homogenised:
            terms.append(item.penalty(w, data.tickers))
        elif isinstance(item, TransactionCosts):
            w0 = weights_vector(item.current, data.tickers)
            terms.append(item.bps / 1e4 * cp.norm1(w - scale * w0))
        elif not isinstance(item, L2Regularization):
            raise InputError(
                f"penalty {type(item).__name__} has no homogenised form",
                "optimizer",
                "max_sharpe, max_diversification and risk_parity rescale the weights",
                "use transaction costs or L2 regularisation, or another objective",
            )
    return sum(terms) if terms else 0.0


def ridge(data: ProblemData) -> float:
    """Total L2 coefficient ``gamma`` of the :class:`L2Regularization` items (annual variance)."""
    return float(sum(item.gamma for item in data.limits if isinstance(item, L2Regularization)))


def risk(data: ProblemData, w: Any) -> Any:
    """``w' Sigma w + gamma ||w||^2``: variance under the ridge ``Sigma + gamma I``."""
    gamma = ridge(data)
    return data.variance(w) + (gamma * cp.sum_squares(w) if gamma else 0.0)
