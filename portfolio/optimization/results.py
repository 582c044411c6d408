"""What an optimisation returns: the allocation and how it was solved (immutable values)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from portfolio.errors import InputError
from portfolio.optimization.constraints import LimitCheck, check_all
from portfolio.optimization.explain import Explanation, SolveContext, explain
from portfolio.weights import CASH

__all__ = ["BINDING_TOLERANCE", "SOLVERS", "SOLVER_CHAIN", "Allocation", "SolveInfo"]

SOLVER_CHAIN = ("CLARABEL", "OSQP", "SCS")
"""The cvxpy solvers tried in order by ``solver="auto"`` after the fast paths."""

SOLVERS = ("auto", *SOLVER_CHAIN)
"""Values of the ``solver`` setting: the automatic policy or one cvxpy solver."""

BINDING_TOLERANCE = 1e-5
"""A limit row binds when its value is within this of its bound (fraction of value)."""


@dataclass(frozen=True)
class SolveInfo:
    """How a problem was solved.

    Attributes
    ----------
    solver : str
        Solver that produced the answer.
    status : str
        cvxpy status.
    seconds : float
        Wall time of the solve call(s).
    objective_value : float
        Optimal objective value (annual units of the objective).
    fallbacks : tuple of str
        ``"SOLVER: reason"`` for every solver that failed before.
    """

    solver: str
    status: str
    seconds: float
    objective_value: float
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Allocation:
    """The optimiser's answer.

    Attributes
    ----------
    weights : Series
        Ticker -> weight (fraction), including ``"CASH"``; sums to 1.
    objective : str
        Objective name.
    expected_return : float or None
        Annual expected return of the portfolio (fraction), when returns were given.
    volatility : float
        Annualised volatility (fraction).
    solve : SolveInfo
        Solver, status, time and objective value.
    constraints : tuple
        The limit and penalty objects of the problem.
    context : SolveContext or None
        The data of the solve (covariance, expected returns, bounds, objective data),
        kept for :meth:`explain`.
    limits : tuple of LimitCheck
        Every limit row evaluated at the solution (computed on first use: a walk-forward
        that never reads it does not pay for it).
    binding_rows : tuple of LimitCheck
        The limit rows that hold with equality.
    binding : tuple of str
        Their labels.
    """

    weights: pd.Series
    objective: str
    expected_return: float | None
    volatility: float
    solve: SolveInfo
    constraints: tuple[Any, ...] = field(default=(), repr=False)
    context: SolveContext | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def limits(self) -> tuple[LimitCheck, ...]:
        """Every limit row evaluated at the solution."""
        risky = self.weights.drop(CASH)
        return check_all(self.constraints, risky.to_numpy(), tuple(risky.index))

    @functools.cached_property
    def binding_rows(self) -> tuple[LimitCheck, ...]:
        """The limit rows that hold with equality (to ``BINDING_TOLERANCE``)."""
        return tuple(row for row in self.limits
                     if abs(row.value - row.limit) <= BINDING_TOLERANCE)

    @property
    def binding(self) -> tuple[str, ...]:
        """Labels of the limit rows that hold with equality (to ``BINDING_TOLERANCE``)."""
        return tuple(row.name for row in self.binding_rows)

    def explain(self, *, groups: Mapping[str, Sequence[str]] | None = None,
                capital: float | None = None) -> Explanation:
        """Every weight with what binds it, every zero with its reason (see :func:`explain`).

        Parameters
        ----------
        groups : mapping group -> members, optional
            Groups for the totals (default: the groups the limits name).
        capital : float, optional
            Portfolio value in USD for the amounts.
        """
        if self.context is None:
            raise InputError("this allocation carries no solve data", "Allocation.explain",
                             "it was not made by PortfolioProblem.solve",
                             "solve it with PortfolioProblem or portfolio.optimize")
        return explain(self, groups=groups, capital=capital)

    @property
    def risky_weights(self) -> pd.Series:
        """Weights without cash."""
        return self.weights.drop(CASH)
