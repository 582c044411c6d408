"""The cvxpy side of a problem: Parameters, the compiled objective and the solver chain.

:class:`CvxpyChain` is what :class:`~portfolio.optimization.problem.PortfolioProblem`
runs when no fast path answers (or for objectives without one). It holds the cvxpy
Parameters (:class:`~portfolio.optimization.cvxpy_objectives.ProblemData`), compiles the
objective on first use and re-solves it through the Parameters (DPP). ``solver="auto"``
runs Clarabel, then OSQP (only for problems cvxpy recognises as QPs), then SCS; a solver
that raises, or returns an inaccurate or unbounded status, is recorded as
``"SOLVER: reason"`` and the next one runs. An inaccurate answer is returned only when no
later solver does better. Clarabel comes first for QPs too: measured on capped
min-variance with a dense 500 x 500 factor (cvxpy 1.9), Clarabel solves in about 0.9 s
against 12 s for OSQP at the tolerances that match it; at N = 100 they are within a few
ms of each other.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import cvxpy as cp
import numpy as np

from portfolio.errors import InfeasibleError, SolverError
from portfolio.estimate.factor_risk import FactorCovariance
from portfolio.optimization.cvxpy_objectives import (
    CompiledObjective,
    ProblemData,
    compile_objective,
)
from portfolio.optimization.objectives import MinTrackingError, Objective, TargetReturn
from portfolio.optimization.results import SOLVER_CHAIN, SolveInfo

__all__ = ["DENSE_ONLY", "CvxpyChain", "covariance_factor"]

DENSE_ONLY = (MinTrackingError, TargetReturn)
"""Objectives whose cvxpy form uses the dense covariance factor: a factor model is formed."""


@functools.cache
def _installed_solvers() -> frozenset[str]:
    """Solvers cvxpy can use (probing them costs ~50 ms, so once per process)."""
    return frozenset(cp.installed_solvers())


def covariance_factor(covariance: np.ndarray) -> np.ndarray:
    """A matrix ``F`` (n x n) with ``F' F = covariance``.

    The upper-triangular Cholesky factor ``L'`` (``covariance = L L'``) when the matrix is
    positive definite: about ten times cheaper than an eigendecomposition, and half the
    nonzeros for the solver. A singular or indefinite matrix (rounding, a zero-variance
    placeholder) falls back to the symmetric square root with negative eigenvalues clipped
    at 0, so that ``F' F`` is the nearest positive semi-definite matrix.
    """
    symmetric = (covariance + covariance.T) / 2.0
    try:
        return np.linalg.cholesky(symmetric).T
    except np.linalg.LinAlgError:
        eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
        return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


class CvxpyChain:
    """Parameters, compiled objective and solver chain of one problem.

    Parameters
    ----------
    tickers : sequence of str
        Order of the weight vector (n names).
    objective : Objective
        The frozen spec to compile.
    limits : sequence
        Limit and penalty objects other than the per-name boxes (folded into bounds).
    budget : float
        ``1 - cash_floor``.
    solver : str
        ``"auto"`` (the chain) or one cvxpy solver name.
    parametric : bool
        Compile once and re-solve through Parameters (True), or rebuild at every solve
        with the covariance as a constant (False, cheaper for one solve).
    infeasible : callable
        Returns the error to raise when a solver proves the limits infeasible.
    """

    def __init__(self, tickers: Sequence[str], objective: Objective, limits: Sequence[Any],
                 budget: float, solver: str, parametric: bool,
                 infeasible: Callable[[], InfeasibleError]) -> None:
        n = len(tickers)
        self.objective = objective
        self.solver = solver
        self.parametric = parametric
        self._infeasible = infeasible
        self.data = ProblemData(
            tickers=tuple(tickers),
            factor=cp.Parameter((n, n), name="covariance_factor"),
            mu=cp.Parameter(n, name="expected_returns"),
            upper=cp.Parameter(n, nonneg=True, name="upper"),
            lower=cp.Parameter(n, nonneg=True, name="lower"),
            budget=budget,
            limits=tuple(limits),
        )
        self.compiled: CompiledObjective | None = None

    @property
    def problem(self) -> cp.Problem:
        """The cvxpy problem (compiled on first use)."""
        if self.compiled is None:
            self.compiled = compile_objective(self.objective, self.data, {})
        return self.compiled.problem

    def _set_risk(self, sigma: np.ndarray | FactorCovariance) -> bool:
        """Put the covariance into the Parameters; True when the form changed (recompile).

        A factor model keeps its form (``U'`` and ``sqrt(d)`` Parameters, O(n k)), except
        for the objectives that work on the dense factor (:data:`DENSE_ONLY`).
        """
        if isinstance(sigma, FactorCovariance) and isinstance(self.objective, DENSE_ONLY):
            sigma = sigma.dense()
        k = sigma.root.shape[1] if isinstance(sigma, FactorCovariance) else None
        current = None if self.data.loadings is None else self.data.loadings.shape[0]
        changed = k != current
        if changed:
            n = len(self.data.tickers)
            self.data = replace(
                self.data,
                loadings=None if k is None else cp.Parameter((k, n), name="factor_loadings"),
                specific=None if k is None else cp.Parameter(n, nonneg=True,
                                                             name="specific_volatility"))
        if k is None:
            self.data.factor.value = covariance_factor(sigma)
        else:
            self.data.loadings.value = sigma.root.T
            self.data.specific.value = np.sqrt(sigma.specific)
        if not self.parametric:
            self.data = replace(self.data, covariance=None if k else sigma,
                                model=sigma if k else None)
        return changed

    def fill(self, sigma: np.ndarray | FactorCovariance, mu: np.ndarray, upper: np.ndarray,
             lower: np.ndarray, extra: Mapping[str, Any]) -> None:
        """Set every Parameter (compiling when needed) and check the objective's data."""
        changed = self._set_risk(sigma)
        self.data.mu.value = mu
        self.data.upper.value = upper
        self.data.lower.value = lower
        if self.compiled is None or not self.parametric or changed:
            self.compiled = compile_objective(self.objective, self.data, extra)
        self.compiled.set_data(**extra)
        if self.compiled.needs_rebuild():
            self.compiled = compile_objective(self.objective, self.data, extra)
            self.compiled.set_data(**extra)
        self.compiled.check_data()

    def weights(self) -> np.ndarray:
        """Risky weights of the last solve, shape ``(n,)``."""
        return self.compiled.weights()

    def explain_infeasible(self) -> InfeasibleError | None:
        """The objective's own explanation of an infeasible solve, if it has one."""
        return None if self.compiled is None else self.compiled.explain_infeasible()

    def _chain(self) -> tuple[str, ...]:
        if self.solver != "auto":
            return (self.solver,)
        return tuple(name for name in SOLVER_CHAIN if name != "OSQP" or self.problem.is_qp())

    def solve(self) -> SolveInfo:
        """Run the solver chain on the Parameters set by :meth:`fill`.

        Raises
        ------
        InfeasibleError
            A solver proved the limits infeasible.
        SolverError
            Every solver of the chain failed.
        """
        failures: list[str] = []
        inaccurate: tuple[str, dict[cp.Variable, Any], float] | None = None
        proven_infeasible = False
        started = time.perf_counter()
        problem = self.problem
        for name in self._chain():
            if name not in _installed_solvers():
                failures.append(f"{name}: not installed")
                continue
            try:
                with warnings.catch_warnings():  # an inaccurate status is handled below
                    warnings.filterwarnings("ignore", "Solution may be inaccurate")
                    problem.solve(solver=name, **self.compiled.solver_options(name))
            except cp.error.SolverError as exc:
                failures.append(f"{name}: {str(exc).splitlines()[0]}")
                continue
            status = problem.status
            if status == cp.OPTIMAL:
                return SolveInfo(name, status, time.perf_counter() - started,
                                 float(problem.value), tuple(failures))
            if status == cp.INFEASIBLE:
                raise self._infeasible()
            failures.append(f"{name}: status {status}")
            if status == cp.OPTIMAL_INACCURATE and inaccurate is None:
                values = {v: np.copy(v.value) for v in problem.variables()}
                inaccurate = (name, values, float(problem.value))
            proven_infeasible = proven_infeasible or status == cp.INFEASIBLE_INACCURATE
        if inaccurate is not None:
            name, values, value = inaccurate
            for variable, saved in values.items():
                variable.value = saved
            return SolveInfo(name, cp.OPTIMAL_INACCURATE, time.perf_counter() - started, value,
                             tuple(failures))
        if proven_infeasible:
            raise self._infeasible()
        raise SolverError(
            "every solver failed",
            f"objective {self.objective.name}",
            "; ".join(failures),
            "try --solver SCS, relax the limits, or check the data for extreme values",
        )
