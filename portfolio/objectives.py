"""Objectives: each builds the cvxpy problem around the shared feasible set.

An objective receives :class:`ProblemData` (Parameters for the covariance factor, the
expected returns and the per-name bounds, plus the other limit objects) and returns
the cvxpy problem and the expression of the risky weights. Objectives that change
variables (max-Sharpe's ``y = kappa * w``) build the feasible set homogenised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import cvxpy as cp
import numpy as np

from portfolio.errors import ConfigError

__all__ = ["OBJECTIVES", "MinVariance", "Objective", "ProblemData", "make_objective"]


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
    """

    tickers: tuple[str, ...]
    factor: cp.Parameter
    mu: cp.Parameter
    upper: cp.Parameter
    lower: cp.Parameter
    budget: float
    limits: tuple[Any, ...]


def feasible_set(data: ProblemData, w: Any, scale: Any = 1.0) -> list:
    """Constraints of the feasible set for weights ``w`` (homogenised by ``scale``)."""
    from portfolio.constraints import Constraint

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


def penalties(data: ProblemData, w: Any) -> Any:
    """Sum of the penalty terms (transaction costs, L2) in the objective."""
    terms = [item.penalty(w, data.tickers) for item in data.limits if hasattr(item, "penalty")]
    return sum(terms) if terms else 0.0


class Objective:
    """Base class of objectives."""

    name: ClassVar[str] = ""
    OPTIONS: ClassVar[Sequence[str]] = ()

    def build(self, data: ProblemData) -> tuple[cp.Problem, Any]:
        """Return the cvxpy problem and the expression of the risky weights."""
        raise NotImplementedError

    def set_data(self, data: ProblemData, **extra: Any) -> None:
        """Update objective-specific Parameters before a solve."""

    def check_data(self, data: ProblemData) -> None:
        """Raise a clear error when the data make the objective meaningless."""

    def weights(self, data: ProblemData) -> np.ndarray:
        """Risky weights after a solve, shape ``(n,)``."""
        return np.asarray(self._weights.value, dtype=float)

    def solver_options(self, solver: str) -> dict[str, Any]:
        """Keyword arguments for ``Problem.solve`` with this solver."""
        if solver == "OSQP":
            return {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 200_000, "polish": True}
        if solver == "SCS":
            return {"eps": 1e-8, "max_iters": 200_000}
        return {}


class MinVariance(Objective):
    """Minimise annualised variance ``w' Sigma w`` (+ penalties)."""

    name = "min_variance"

    def build(self, data):
        w = cp.Variable(len(data.tickers), name="w")
        self._weights = w
        risk = cp.sum_squares(data.factor @ w)
        problem = cp.Problem(cp.Minimize(risk + penalties(data, w)), feasible_set(data, w))
        return problem, w


OBJECTIVES: dict[str, type[Objective]] = {MinVariance.name: MinVariance}


def make_objective(name: str, **options: Any) -> Objective:
    """Instantiate an objective by its config name.

    Raises
    ------
    ConfigError
        For an unknown name (listing the valid ones).
    """
    from portfolio.config import did_you_mean

    if name not in OBJECTIVES:
        raise ConfigError(
            f"unknown objective '{name}'", "objective",
            f"valid objectives: {', '.join(OBJECTIVES)}",
            did_you_mean(name, OBJECTIVES) or f"use one of {', '.join(OBJECTIVES)}",
        )
    return OBJECTIVES[name](**options)
