"""Portfolio optimisation: a cvxpy problem built once and re-solved through Parameters.

Model
-----
Risky weights ``w`` (shape ``(n,)``, fractions) over ``tickers``; cash is implicit and
sits at its floor: ``sum(w) = 1 - cash_floor`` (the budget). Per-name caps and floors
enter as Parameter vectors ``lower <= w <= upper``, so a backtest can exclude a name that
is not listed yet by setting its upper bound to 0 without rebuilding. The covariance
enters as a factor ``F`` with ``Sigma = F' F`` (annualised), so the risk term
``||F w||^2`` stays DPP and a re-solve only updates ``F`` (and ``mu`` and the objective's
own Parameters). Nothing is rebuilt between solves, except for ``min_cvar`` when the number
of scenarios changes (the scenario matrix is a Parameter of fixed shape). A problem solved
only once (:func:`optimize`) is built with ``parametric=False`` instead: the covariance
enters as a constant quadratic term, which compiles and solves in about half the time of
the factor form (see ``benchmarks/RESULTS.md``).

Solver policy
-------------
Minimum variance and maximum Sharpe with only linear limits (the backtests' and the
walk-forward's problems) first go through fast paths built once: a dense active-set method
(:mod:`portfolio.optimization.active_set`, warm-started, every answer KKT-certified) and, for minimum
variance when it cannot certify an answer, OSQP set up once and updated in place
(:mod:`portfolio.optimization.linear_qp`, accepted only when polished). The cvxpy Parameters are only
filled when no fast path answers. Otherwise ``solver="auto"`` runs Clarabel, then OSQP (only
for problems cvxpy recognises as QPs), then SCS; a solver that raises, or returns an
inaccurate or unbounded status, is recorded in :attr:`SolveInfo.fallbacks` as
``"SOLVER: reason"`` and the next one runs. An inaccurate answer is returned only when no
later solver does better. Clarabel comes first for QPs too: measured on capped min-variance
with a dense 500 x 500 factor (cvxpy 1.9), Clarabel solves in about 0.9 s against 12 s for
OSQP at the tolerances that match it (OSQP needs thousands of ADMM iterations on a dense KKT
system; Clarabel about 10 interior-point steps); at N = 100 they are within a few ms of each
other. OSQP runs with tolerances 1e-9, scaling and polishing
(:data:`portfolio.optimization.objectives.OSQP_OPTIONS`) on the annualised covariance, which keeps its
objective within 1e-6 relative of a high-accuracy Clarabel solve.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd
from scipy.linalg.lapack import dpotrf

from portfolio.optimization.active_set import ActiveSetQP, SharpeActiveSet
from portfolio.optimization.constraints import (
    CASH,
    CashFloor,
    LimitCheck,
    MaxWeight,
    MinWeight,
    check_all,
)
from portfolio.errors import ConfigError, DataError, InfeasibleError, InputError, SolverError
from portfolio.optimization.linear_qp import LinearQP, linear_only
from portfolio.optimization.objectives import (
    OBJECTIVES,
    MaxSharpe,
    MinVariance,
    Objective,
    ProblemData,
    make_objective,
)
from portfolio.estimate.covariance import is_psd, nearest_psd

__all__ = [
    "Allocation",
    "PortfolioProblem",
    "SolveInfo",
    "availability_mask",
    "covariance_factor",
    "optimize",
]

SOLVER_CHAIN = ("CLARABEL", "OSQP", "SCS")
BINDING_TOLERANCE = 1e-5
DUST = 1e-7  # solver noise below this weight is set to 0 (the difference goes to cash)


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
    limits : tuple of LimitCheck
        Every limit row evaluated at the solution (computed on first use: a walk-forward
        that never reads it does not pay for it).
    binding : tuple of str
        Labels of the limit rows that hold with equality.
    """

    weights: pd.Series
    objective: str
    expected_return: float | None
    volatility: float
    solve: SolveInfo
    constraints: tuple[Any, ...] = field(default=(), repr=False)

    @functools.cached_property
    def limits(self) -> tuple[LimitCheck, ...]:
        """Every limit row evaluated at the solution."""
        risky = self.weights.drop(CASH)
        return check_all(self.constraints, risky.to_numpy(), tuple(risky.index))

    @functools.cached_property
    def binding(self) -> tuple[str, ...]:
        """Labels of the limit rows that hold with equality (to ``BINDING_TOLERANCE``)."""
        return tuple(
            row.name for row in self.limits if abs(row.value - row.limit) <= BINDING_TOLERANCE
        )

    @property
    def risky_weights(self) -> pd.Series:
        """Weights without cash."""
        return self.weights.drop(CASH)


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


def _positive_semidefinite(matrix: np.ndarray) -> np.ndarray:
    """The symmetric part of ``matrix``, or the nearest PSD matrix when it is not PSD.

    What every solver path sees (active set, OSQP, cvxpy, the reported volatility). For a
    positive definite matrix the test is one Cholesky factorisation; a singular one is
    tested by :func:`portfolio.estimate.covariance.is_psd` (eigenvalues); a matrix with a negative
    eigenvalue beyond rounding gets them clipped at 0
    (:func:`portfolio.estimate.covariance.nearest_psd`).
    """
    symmetric = matrix + matrix.T
    symmetric *= 0.5  # exact: a symmetric matrix comes back bit for bit
    # LAPACK's Cholesky directly: numpy's wrapper (inside is_psd) costs twice as much at
    # N = 50, a few per cent of a warm re-solve.
    if dpotrf(symmetric, lower=True, clean=False)[1] == 0 or is_psd(symmetric):
        return symmetric
    return nearest_psd(symmetric)[0]


def _split_limits(constraints: Sequence[Any]) -> tuple[list[Any], list[Any], float]:
    """Separate box limits (folded into Parameters) from the rest; find the cash floor."""
    boxes, others = [], []
    cash_floor = 0.0
    for item in constraints:
        if isinstance(item, MaxWeight | MinWeight):
            boxes.append(item)
        else:
            others.append(item)
            if isinstance(item, CashFloor):
                cash_floor = max(cash_floor, item.floor)
    return boxes, others, cash_floor


def _fast_paths(
    objective: Objective, tickers: tuple[str, ...], budget: float, limits: Sequence[Any],
    solver: str,
) -> tuple[tuple[str, Any, str], ...]:
    """Backends tried in order before the cvxpy chain: (solver name, backend, label).

    Minimum variance and maximum Sharpe under linear limits only: the active set (with
    ``solver="auto"``), then for minimum variance the warm-started OSQP (``"auto"`` or
    ``"OSQP"``).
    """
    if not linear_only(limits):
        return ()
    paths: list[tuple[str, Any, str]] = []
    if type(objective) is MinVariance:
        if solver == "auto":
            paths.append(("ACTIVE_SET", ActiveSetQP(tickers, budget, limits), "active set"))
        if solver in ("auto", "OSQP"):
            paths.append(("OSQP", LinearQP(tickers, budget, limits), "OSQP (warm-started)"))
    elif type(objective) is MaxSharpe and solver == "auto":
        paths.append(("ACTIVE_SET", SharpeActiveSet(tickers, budget, limits), "active set"))
    return tuple(paths)


def availability_mask(
    tickers: Sequence[str], available: Mapping[str, bool] | Sequence[bool]
) -> np.ndarray:
    """Which names may hold weight, bool shape ``(n,)`` in ``tickers`` order.

    Parameters
    ----------
    tickers : sequence of str
        Order of the result (n names).
    available : mapping ticker -> bool, or sequence of n bools in ``tickers`` order
        A ticker missing from a mapping is not available.

    Raises
    ------
    InputError
        A sequence of the wrong length.
    """
    mask = (
        np.array([bool(available.get(t, False)) for t in tickers], dtype=bool)
        if isinstance(available, Mapping)
        else np.asarray(available, dtype=bool)
    )
    if mask.shape != (len(tickers),):
        raise InputError(
            "available has the wrong length",
            "available",
            f"expected {len(tickers)} flags, got {mask.size}",
            "pass a mapping ticker -> bool",
        )
    return mask


def _numbers(values: Any, what: str, where: str) -> np.ndarray:
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


def _cash_weight(risky: np.ndarray) -> float:
    """``1 - sum(risky)``, with float noise around a fully invested book shown as 0."""
    cash = 1.0 - float(risky.sum())
    return 0.0 if abs(cash) < 1e-12 else cash


class PortfolioProblem:
    """A compiled optimisation problem for a fixed universe, objective and limit set.

    Parameters
    ----------
    tickers : sequence of str
        Order of the weight vector.
    objective : str or Objective
        One of :data:`portfolio.optimization.objectives.OBJECTIVES` or an objective object.
    constraints : sequence
        Limit and penalty objects from :mod:`portfolio.optimization.constraints`.
    solver : str
        ``"auto"`` (Clarabel, then OSQP, then SCS) or a cvxpy solver name.
    parametric : bool
        True (default): compile once with the covariance factor as a Parameter and
        re-solve through Parameters. False: build the problem inside each :meth:`solve`
        with the covariance as a constant quadratic term -- about twice as fast for a
        problem solved once (what :func:`optimize` does), slower for repeated solves.
    **objective_options
        Passed to the objective (e.g. ``risk_aversion``).

    Notes
    -----
    Build once, then call :meth:`solve` with new data as often as needed; only
    Parameter values change between solves (DPP), so cvxpy reuses its compilation.
    """

    def __init__(
        self,
        tickers: Sequence[str],
        objective: str | Objective = "min_variance",
        constraints: Sequence[Any] = (),
        *,
        solver: str = "auto",
        parametric: bool = True,
        **objective_options: Any,
    ) -> None:
        self.tickers = tuple(tickers)
        self._labels = pd.Index(self.tickers)
        self._weight_labels = pd.Index([*self.tickers, CASH])
        self.constraints = tuple(constraints)
        self.solver = solver
        self.parametric = parametric
        self.objective = (
            make_objective(objective, **objective_options)
            if isinstance(objective, str)
            else objective
        )
        n = len(self.tickers)
        boxes, others, cash_floor = _split_limits(self.constraints)
        self.cash_floor = cash_floor
        self.budget = 1.0 - cash_floor
        self._upper_limits = np.ones(n)
        self._lower_limits = np.zeros(n)
        for box in boxes:
            if isinstance(box, MaxWeight):
                self._upper_limits = np.minimum(self._upper_limits, box.caps(self.tickers))
            else:
                self._lower_limits = np.maximum(self._lower_limits, box.floors(self.tickers))
        self.data = ProblemData(
            tickers=self.tickers,
            factor=cp.Parameter((n, n), name="covariance_factor"),
            mu=cp.Parameter(n, name="expected_returns"),
            upper=cp.Parameter(n, nonneg=True, name="upper"),
            lower=cp.Parameter(n, nonneg=True, name="lower"),
            budget=self.budget,
            limits=tuple(others),
        )
        self._fast_paths = _fast_paths(self.objective, self.tickers, self.budget, others, solver)
        self._upper = self._upper_limits.copy()
        self._lower = self._lower_limits.copy()
        self._checked_bounds: tuple[bytes, bytes] | None = None
        # The cvxpy problem: built now when parametric, or on demand (every solve when not
        # parametric; only as a fallback when there are fast paths).
        self._problem: cp.Problem | None = None
        if parametric and not self._fast_paths:
            self._build()

    def _build(self) -> None:
        self._problem, self._weights_expr = self.objective.build(self.data)

    @property
    def problem(self) -> cp.Problem:
        """The cvxpy problem (compiled on first use when the fast path serves the solves)."""
        if self._problem is None:
            self._build()
        return self._problem

    # -- data ------------------------------------------------------------------------
    @property
    def caps(self) -> np.ndarray:
        """Per-name caps the limits set (``MaxWeight``, 1 by default), (n,) fractions."""
        return self._upper_limits

    @property
    def floors(self) -> np.ndarray:
        """Per-name floors the limits set (``MinWeight``, 0 by default), (n,) fractions."""
        return self._lower_limits

    @property
    def upper_bounds(self) -> np.ndarray:
        """Per-name upper bounds of the last solve (caps, 0 for unavailable names), (n,)."""
        return self._upper

    @property
    def lower_bounds(self) -> np.ndarray:
        """Per-name lower bounds of the last solve (floors, 0 for unavailable names), (n,)."""
        return self._lower

    def _prepare(
        self,
        covariance: pd.DataFrame | np.ndarray,
        expected_returns: pd.Series | np.ndarray | None,
        available: Mapping[str, bool] | Sequence[bool] | None,
        extra: Mapping[str, Any],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate and align the data; set the bounds. Return (covariance, mu) as numpy."""
        unknown = sorted(set(extra) - set(self.objective.DATA))
        if unknown:
            from portfolio.config import did_you_mean

            accepted = ", ".join(self.objective.DATA) or "none"
            raise ConfigError(
                f"unknown data {', '.join(unknown)} for objective {self.objective.name}",
                "solve",
                f"{self.objective.name} accepts: {accepted}",
                did_you_mean(unknown[0], self.objective.DATA) or "remove it",
            )
        if expected_returns is None and self.objective.NEEDS_EXPECTED_RETURNS:
            raise ConfigError(
                f"{self.objective.name} needs expected returns",
                f"objective {self.objective.name}",
                "the objective trades return against risk",
                "pass expected_returns= or choose an expected-return method in the config",
            )
        sigma = self._aligned_matrix(covariance)
        mu = (
            np.zeros(len(self.tickers))
            if expected_returns is None
            else self._aligned_vector(expected_returns, "expected returns")
        )
        if available is None:
            self._upper, self._lower = self._upper_limits, self._lower_limits
            return sigma, mu
        mask = availability_mask(self.tickers, available)
        self._upper = np.where(mask, self._upper_limits, 0.0)
        self._lower = np.where(mask, self._lower_limits, 0.0)
        return sigma, mu

    def _fill_parameters(self, sigma: np.ndarray, mu: np.ndarray, extra: Mapping[str, Any]) -> None:
        """Set every cvxpy Parameter (and build the problem when needed) for the chain."""
        self.data.factor.value = covariance_factor(sigma)
        self.data.mu.value = mu
        self.data.upper.value = self._upper
        self.data.lower.value = self._lower
        if not self.parametric:
            self.data = replace(self.data, covariance=sigma)
        if self._problem is None or not self.parametric:
            # before set_data: build creates the objective's Parameters
            self._build()
        self.objective.set_data(self.data, **extra)
        if self.objective.needs_rebuild():
            self._build()
            self.objective.set_data(self.data, **extra)

    def _aligned_matrix(self, covariance: pd.DataFrame | np.ndarray) -> np.ndarray:
        n = len(self.tickers)
        if isinstance(covariance, pd.DataFrame) and not (
            covariance.index.equals(self._labels) and covariance.columns.equals(self._labels)
        ):
            missing = [
                t for t in self.tickers if t not in covariance.index or t not in covariance.columns
            ]
            if missing:
                raise InfeasibleError(
                    f"no covariance for {', '.join(missing)}",
                    "risk model",
                    "the risk model must cover every ticker of the problem",
                    "estimate the covariance on the same universe",
                )
            covariance = covariance.loc[list(self.tickers), list(self.tickers)]
        matrix = _numbers(covariance, "the covariance", "risk model")
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
        return _positive_semidefinite(matrix)

    def _aligned_vector(self, values: pd.Series | np.ndarray, what: str) -> np.ndarray:
        if isinstance(values, pd.Series) and not values.index.equals(self._labels):
            missing = [t for t in self.tickers if t not in values.index]
            if missing:
                raise InfeasibleError(
                    f"no {what} for {', '.join(missing)}",
                    what,
                    "every ticker needs a value",
                    "estimate them on the same universe",
                )
            values = values.loc[list(self.tickers)]
        vector = _numbers(values, what, what)
        if vector.shape != (len(self.tickers),) or not np.isfinite(vector).all():
            raise DataError(
                f"bad {what}",
                what,
                f"expected {len(self.tickers)} finite numbers, got {vector.shape}",
                "estimate them on the same universe",
            )
        return vector

    # -- solve -----------------------------------------------------------------------
    def _chain(self) -> tuple[str, ...]:
        if self.solver != "auto":
            return (self.solver,)
        return tuple(name for name in SOLVER_CHAIN if name != "OSQP" or self.problem.is_qp())

    def _solve_chain(self) -> SolveInfo:
        failures: list[str] = []
        inaccurate: tuple[str, dict[cp.Variable, Any], float] | None = None
        proven_infeasible = False
        started = time.perf_counter()
        for name in self._chain():
            if name not in _installed_solvers():
                failures.append(f"{name}: not installed")
                continue
            try:
                with warnings.catch_warnings():  # an inaccurate status is handled below
                    warnings.filterwarnings("ignore", "Solution may be inaccurate")
                    self.problem.solve(solver=name, **self.objective.solver_options(name))
            except cp.error.SolverError as exc:
                failures.append(f"{name}: {str(exc).splitlines()[0]}")
                continue
            status = self.problem.status
            if status == cp.OPTIMAL:
                return SolveInfo(
                    name,
                    status,
                    time.perf_counter() - started,
                    float(self.problem.value),
                    tuple(failures),
                )
            if status == cp.INFEASIBLE:
                raise self._infeasible()
            failures.append(f"{name}: status {status}")
            if status == cp.OPTIMAL_INACCURATE and inaccurate is None:
                values = {v: np.copy(v.value) for v in self.problem.variables()}
                inaccurate = (name, values, float(self.problem.value))
            proven_infeasible = proven_infeasible or status == cp.INFEASIBLE_INACCURATE
        if inaccurate is not None:
            name, values, value = inaccurate
            for variable, saved in values.items():
                variable.value = saved
            return SolveInfo(
                name, cp.OPTIMAL_INACCURATE, time.perf_counter() - started, value, tuple(failures)
            )
        if proven_infeasible:
            raise self._infeasible()
        raise SolverError(
            "every solver failed",
            f"objective {self.objective.name}",
            "; ".join(failures),
            "try --solver SCS, relax the limits, or check the data for extreme values",
        )

    def _solve_fast(
        self, sigma: np.ndarray, mu: np.ndarray, extra: Mapping[str, Any]
    ) -> tuple[np.ndarray | None, Any]:
        """Try the fast paths in order; return (weights, SolveInfo) or (None, reasons)."""
        reasons: list[str] = []
        data = {}
        if isinstance(self.objective, MaxSharpe):
            data = {"expected_returns": mu,
                    "risk_free_rate": self.objective.rate(extra.get("risk_free_rate"))}
        for name, backend, label in self._fast_paths:
            started = time.perf_counter()
            risky = backend.solve(sigma, self._lower, self._upper, **data)
            if risky is None:
                reasons.append(f"{label}: {backend.last_status or 'no answer'}")
                continue
            info = SolveInfo(name, cp.OPTIMAL, time.perf_counter() - started,
                             backend.objective_value(sigma, risky), tuple(reasons))
            return risky, info
        return None, tuple(reasons)

    def _infeasible(self) -> InfeasibleError:
        from portfolio.optimization.diagnosis import diagnose_infeasible

        return self.objective.explain_infeasible(self.data) or diagnose_infeasible(self)

    def solve(
        self,
        covariance: pd.DataFrame | np.ndarray,
        expected_returns: pd.Series | np.ndarray | None = None,
        *,
        available: Mapping[str, bool] | Sequence[bool] | None = None,
        **extra: Any,
    ) -> Allocation:
        """Solve for new data and return the allocation.

        Parameters
        ----------
        covariance : DataFrame or ndarray, shape (n, n)
            Annualised covariance (fraction^2 per year), aligned by ticker label. Its
            symmetric part is used; when that is not positive semi-definite, every solver
            (and the reported volatility) uses the nearest PSD matrix instead (negative
            eigenvalues clipped at 0).
        expected_returns : Series or ndarray, shape (n,), optional
            Annual expected returns (fraction) for objectives that use them.
        available : mapping or sequence of bool, optional
            Names allowed in the portfolio (others are held at 0).
        **extra
            Objective-specific data, the objective's ``DATA`` (e.g. ``scenarios`` for
            min-CVaR, ``risk_free_rate`` for max-Sharpe).

        Raises
        ------
        ConfigError
            Data the objective does not accept, or expected returns missing for an
            objective that needs them.
        InfeasibleError
            The limits cannot hold together (or max-Sharpe has no positive excess return);
            carries the conflicting limits.
        SolverError
            Every solver of the chain failed.
        """
        risky, info, sigma, mu = self._solve(covariance, expected_returns, available, extra)
        weights = pd.Series(
            np.append(risky, _cash_weight(risky)), index=self._weight_labels, copy=False
        )
        volatility = float(np.sqrt(max(risky @ sigma @ risky, 0.0)))
        expected = None if expected_returns is None else float(mu @ risky)
        return Allocation(
            weights, self.objective.name, expected, volatility, info, self.constraints
        )

    def solve_weights(
        self,
        covariance: pd.DataFrame | np.ndarray,
        expected_returns: pd.Series | np.ndarray | None = None,
        *,
        available: Mapping[str, bool] | Sequence[bool] | None = None,
        **extra: Any,
    ) -> tuple[np.ndarray, SolveInfo]:
        """:meth:`solve` without the :class:`Allocation`: for loops that need only weights.

        Same parameters and errors as :meth:`solve`.

        Returns
        -------
        risky : ndarray, shape (n,)
            Weights in ticker order (fractions; cash is ``1 - risky.sum()``).
        info : SolveInfo
        """
        return self._solve(covariance, expected_returns, available, extra)[:2]

    def _solve(self, covariance, expected_returns, available, extra):
        """Risky weights, SolveInfo and the aligned covariance and expected returns."""
        from portfolio.optimization.diagnosis import check_feasibility_arithmetic

        sigma, mu = self._prepare(covariance, expected_returns, available, extra)
        # The arithmetic checks depend only on the limits and the bounds: a re-solve with
        # the bounds of the last passed check skips them.
        bounds = (self._upper.tobytes(), self._lower.tobytes())
        if bounds != self._checked_bounds:
            check_feasibility_arithmetic(self)
            self._checked_bounds = bounds
        risky, info = self._solve_fast(sigma, mu, extra)
        if risky is None:
            self._fill_parameters(sigma, mu, extra)
            self.objective.check_data(self.data)
            chain = self._solve_chain()
            info = replace(chain, fallbacks=(*info, *chain.fallbacks))
            risky = self.objective.weights(self.data)
        return np.where(np.abs(risky) < DUST, 0.0, risky), info, sigma, mu


def optimize(
    returns_or_risk_model: pd.DataFrame | Any,
    objective: str | Objective = "min_variance",
    constraints: Sequence[Any] = (),
    *,
    covariance: pd.DataFrame | None = None,
    expected_returns: pd.Series | None = None,
    covariance_method: str = "ledoit_wolf",
    frequency: str = "daily",
    solver: str = "auto",
    **options: Any,
) -> Allocation:
    """Optimise a portfolio in one call.

    Parameters
    ----------
    returns_or_risk_model : DataFrame or CovarianceEstimate
        Periodic simple returns (dates x tickers, fractions) from which the covariance is
        estimated with ``covariance_method``, or an estimate from
        :func:`portfolio.estimate.covariance.covariance`.
    objective : str
        One of :data:`portfolio.optimization.objectives.OBJECTIVES`.
    constraints : sequence
        Limit and penalty objects (:func:`portfolio.optimization.constraints.constraints_from_config`).
    covariance : DataFrame, optional
        Annualised covariance that overrides the estimate.
    expected_returns : Series, optional
        Annual expected returns (fractions) for return-seeking objectives.
    covariance_method, frequency : str
        Estimator and return frequency when returns are given.
    solver : str
        ``"auto"`` or a cvxpy solver name.
    **options
        Objective options (``risk_aversion``, ...) and objective data (``scenarios``, ...).
        When returns are given they are also passed as the ``returns`` data of objectives
        that accept it (``min_cvar`` scenarios, ``min_tracking_error``), with
        ``frequency``.

    Returns
    -------
    Allocation
    """
    returns = None
    if covariance is None:
        if isinstance(returns_or_risk_model, pd.DataFrame):
            from portfolio.estimate.covariance import covariance as estimate

            returns = returns_or_risk_model
            covariance = estimate(returns, covariance_method, frequency=frequency).matrix
        else:
            covariance = returns_or_risk_model.matrix
    elif isinstance(returns_or_risk_model, pd.DataFrame):
        returns = returns_or_risk_model
    tickers = list(covariance.index)
    objective_cls = OBJECTIVES.get(objective) if isinstance(objective, str) else type(objective)
    option_names = set(getattr(objective_cls, "OPTIONS", ()))
    objective_options = {k: v for k, v in options.items() if k in option_names}
    data = {k: v for k, v in options.items() if k not in option_names}
    accepted = set(getattr(objective_cls, "DATA", ()))
    if returns is not None and "returns" in accepted and "returns" not in data:
        data["returns"] = returns
    if "frequency" in accepted and "frequency" not in data:
        data["frequency"] = frequency
    problem = PortfolioProblem(
        tickers, objective, constraints, solver=solver, parametric=False, **objective_options
    )
    return problem.solve(covariance, expected_returns, **data)
