"""Portfolio optimisation: one problem built once and re-solved with new data.

Model
-----
Risky weights ``w`` (shape ``(n,)``, fractions) over ``tickers``; cash is implicit and
sits at its floor: ``sum(w) = 1 - cash_floor`` (the budget). Per-name caps and floors are
bounds ``lower <= w <= upper``, so a backtest can exclude a name that is not listed yet by
setting its upper bound to 0 (``available``) without rebuilding. The covariance is
annualised (fraction^2 a year), expected returns annual.

Solver policy
-------------
An objective declares which fast path can answer it (:attr:`Objective.fast_path`). Under
linear limits only (name caps and floors, group caps and floors, theme caps, the cash
floor, L2), ``"variance"`` objectives go first to a dense active-set method
(:mod:`portfolio.optimization.active_set`, warm-started, every answer KKT-certified), then
to OSQP set up once and updated in place (:mod:`portfolio.optimization.linear_qp`,
accepted only when polished); ``"sharpe"`` objectives go to the active set in homogenised
form. Everything else, and every fast-path miss, runs through the cvxpy chain
(:mod:`portfolio.optimization.cvxpy_chain`: Clarabel, then OSQP, then SCS), which is
imported and compiled only then. Each backend that fails is recorded in
:attr:`SolveInfo.fallbacks` with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InfeasibleError, InputError, did_you_mean
from portfolio.estimate.covariance import covariance as estimate_covariance
from portfolio.optimization.active_set import ActiveSetQP, SharpeActiveSet
from portfolio.optimization.constraints import CashFloor, MaxWeight, MinWeight
from portfolio.optimization.explain import SolveContext
from portfolio.optimization.feasibility import check_feasibility_arithmetic
from portfolio.optimization.linear_qp import LinearQP, linear_only
from portfolio.optimization.objectives import OBJECTIVES, MaxSharpe, Objective, make_objective
from portfolio.optimization.results import Allocation, SolveInfo
from portfolio.optimization.risk_budget import RiskBudgetSolver
from portfolio.optimization.risk_input import RiskInput, aligned_risk, numbers
from portfolio.weights import CASH

if TYPE_CHECKING:
    from portfolio.optimization.cvxpy_chain import CvxpyChain

__all__ = [
    "DUST",
    "PortfolioProblem",
    "availability_mask",
    "optimize",
]

DUST = 1e-7
"""Solver noise below this weight is set to 0 (the difference goes to cash)."""


def _split_limits(constraints: Sequence[Any]) -> tuple[list[Any], list[Any], float]:
    """Separate box limits (folded into the bounds) from the rest; find the cash floor."""
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

    Chosen by the objective's declared :attr:`~Objective.fast_path`, under linear limits
    only: the active set (with ``solver="auto"``), then for ``"variance"`` the
    warm-started OSQP (``"auto"`` or ``"OSQP"``).
    """
    if not linear_only(limits):
        return ()
    paths: list[tuple[str, Any, str]] = []
    if objective.fast_path == "variance":
        if solver == "auto":
            paths.append(("ACTIVE_SET", ActiveSetQP(tickers, budget, limits), "active set"))
        if solver in ("auto", "OSQP"):
            paths.append(("OSQP", LinearQP(tickers, budget, limits), "OSQP (warm-started)"))
    elif objective.fast_path == "sharpe" and solver == "auto":
        paths.append(("ACTIVE_SET", SharpeActiveSet(tickers, budget, limits), "active set"))
    elif objective.fast_path == "risk_budget" and solver == "auto":
        paths.append(("INTERIOR_POINT", RiskBudgetSolver(tickers, budget, limits),
                      "interior point"))
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


def _cash_weight(risky: np.ndarray) -> float:
    """``1 - sum(risky)``, with float noise around a fully invested book shown as 0."""
    cash = 1.0 - float(risky.sum())
    return 0.0 if abs(cash) < 1e-12 else cash


class PortfolioProblem:
    """An optimisation problem for a fixed universe, objective and limit set.

    Parameters
    ----------
    tickers : sequence of str
        Order of the weight vector.
    objective : str or Objective
        A name of :data:`portfolio.optimization.objectives.OBJECTIVES` or a spec.
    constraints : sequence
        Limit and penalty objects from :mod:`portfolio.optimization.constraints`.
    solver : str
        ``"auto"`` (fast paths, then Clarabel, OSQP, SCS) or a cvxpy solver name.
    parametric : bool
        True (default): the cvxpy problem (when needed) is compiled once with the
        covariance factor as a Parameter and re-solved through Parameters. False: it is
        built at each :meth:`solve` with the covariance as a constant quadratic term --
        about twice as fast for a problem solved once (what :func:`optimize` does).
    **objective_options
        Options of a named objective (e.g. ``risk_aversion``).

    Notes
    -----
    Build once, then call :meth:`solve` with new data as often as needed: fast paths
    start from the previous answer, and the cvxpy problem only has its Parameters reset.
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
        if isinstance(objective, str):
            objective = make_objective(objective, **objective_options)
        elif objective_options:
            raise InputError(
                f"options {', '.join(objective_options)} given with an objective object",
                "PortfolioProblem", "a spec carries its own options",
                f"write {type(objective).__name__}({next(iter(objective_options))}=...)",
            )
        self.objective = objective
        n = len(self.tickers)
        boxes, self._others, cash_floor = _split_limits(self.constraints)
        self.cash_floor = cash_floor
        self.budget = 1.0 - cash_floor
        self._upper_limits = np.ones(n)
        self._lower_limits = np.zeros(n)
        for box in boxes:
            if isinstance(box, MaxWeight):
                self._upper_limits = np.minimum(self._upper_limits, box.caps(self.tickers))
            else:
                self._lower_limits = np.maximum(self._lower_limits, box.floors(self.tickers))
        self._fast_paths = _fast_paths(self.objective, self.tickers, self.budget, self._others,
                                       solver)
        self._upper = self._upper_limits.copy()
        self._lower = self._lower_limits.copy()
        self._checked_bounds: tuple[bytes, bytes] | None = None
        self._chain: CvxpyChain | None = None

    @property
    def chain(self) -> CvxpyChain:
        """The cvxpy side (Parameters, compiled objective, solver chain), made on first use.

        cvxpy itself is imported only here: a problem the fast paths answer never loads it.
        """
        if self._chain is None:
            from portfolio.optimization.cvxpy_chain import CvxpyChain

            self._chain = CvxpyChain(self.tickers, self.objective, self._others, self.budget,
                                     self.solver, self.parametric, self._infeasible)
        return self._chain

    @property
    def problem(self) -> Any:
        """The cvxpy problem (compiled on first use when the fast path serves the solves)."""
        return self.chain.problem

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
        covariance: RiskInput,
        expected_returns: pd.Series | np.ndarray | None,
        available: Mapping[str, bool] | Sequence[bool] | None,
        extra: Mapping[str, Any],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate and align the data; set the bounds. Return (covariance, mu).

        The covariance comes back as an (n, n) array or, for a factor model, a
        :class:`~portfolio.estimate.factor_risk.FactorCovariance` in ticker order.
        """
        accepted_data = self.objective.solve_data
        unknown = sorted(set(extra) - set(accepted_data))
        if unknown:
            accepted = ", ".join(accepted_data) or "none"
            raise InputError(
                f"unknown data {', '.join(unknown)} for objective {self.objective.name}",
                "solve",
                f"{self.objective.name} accepts: {accepted}",
                did_you_mean(unknown[0], accepted_data) or "remove it",
            )
        if expected_returns is None and self.objective.needs_expected_returns:
            raise InputError(
                f"{self.objective.name} needs expected returns",
                f"objective {self.objective.name}",
                "the objective trades return against risk",
                "pass expected_returns= or choose an expected-return method in the config",
            )
        sigma = aligned_risk(covariance, self.tickers, self._labels)
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

    def _aligned_vector(self, values: pd.Series | np.ndarray, what: str) -> np.ndarray:
        if isinstance(values, pd.Series) and not values.index.equals(self._labels):
            missing = [t for t in self.tickers if t not in values.index]
            if missing:
                raise DataError(
                    f"no {what} for {', '.join(missing)}",
                    what,
                    "every ticker needs a value",
                    "estimate them on the same universe",
                )
            values = values.loc[list(self.tickers)]
        vector = numbers(values, what, what)
        if vector.shape != (len(self.tickers),) or not np.isfinite(vector).all():
            raise DataError(
                f"bad {what}",
                what,
                f"expected {len(self.tickers)} finite numbers, got {vector.shape}",
                "estimate them on the same universe",
            )
        return vector

    # -- solve -----------------------------------------------------------------------
    def _solve_fast(
        self, sigma: np.ndarray, mu: np.ndarray, extra: Mapping[str, Any]
    ) -> tuple[np.ndarray | None, Any]:
        """Try the fast paths in order; return (weights, SolveInfo) or (None, reasons)."""
        reasons: list[str] = []
        data = {}
        if isinstance(self.objective, MaxSharpe):
            rate = self.objective.rate(extra.get("risk_free_rate"))
            self.objective.check_excess(self.tickers, mu - rate, self._upper > 0)
            data = {"expected_returns": mu, "risk_free_rate": rate}
        elif self.objective.fast_path == "risk_budget":
            data = {"budgets": self.objective.budget_shares(self.tickers, self._upper > 0,
                                                            **extra)}
        for name, backend, label in self._fast_paths:
            started = time.perf_counter()
            risky = backend.solve(sigma, self._lower, self._upper, **data)
            if risky is None:
                reasons.append(f"{label}: {backend.last_status or 'no answer'}")
                continue
            info = SolveInfo(name, "optimal", time.perf_counter() - started,
                             backend.objective_value(sigma, risky), tuple(reasons))
            return risky, info
        return None, tuple(reasons)

    def _infeasible(self) -> InfeasibleError:
        """The error for limits a solver proved infeasible (the objective's, or the IIS)."""
        from portfolio.optimization.diagnosis import diagnose_infeasible

        return self.chain.explain_infeasible() or diagnose_infeasible(self)

    def solve(
        self,
        covariance: RiskInput,
        expected_returns: pd.Series | np.ndarray | None = None,
        *,
        available: Mapping[str, bool] | Sequence[bool] | None = None,
        **extra: Any,
    ) -> Allocation:
        """Solve for new data and return the allocation.

        Parameters
        ----------
        covariance : CovarianceEstimate, FactorCovariance, DataFrame or ndarray
            Annualised covariance (fraction^2 per year, n x n), aligned by ticker label.
            An estimate's PSD certificate is trusted and a factor model is used in factor
            form, without forming the n x n matrix (:mod:`~portfolio.optimization.
            risk_input`). A plain matrix is tested: its symmetric part is used, and when
            that is not positive semi-definite every solver (and the reported
            volatility) uses the nearest PSD matrix instead (negative eigenvalues clipped
            at 0).
        expected_returns : Series or ndarray, shape (n,), optional
            Annual expected returns (fraction) for objectives that use them.
        available : mapping or sequence of bool, optional
            Names allowed in the portfolio (others are held at 0).
        **extra
            Objective-specific data, the objective's ``solve_data`` (e.g. ``scenarios``
            for min-CVaR, ``risk_free_rate`` for max-Sharpe).

        Raises
        ------
        InputError
            Data the objective does not accept, or expected returns missing for an
            objective that needs them.
        DataError
            A covariance or expected returns that do not cover the tickers or are not
            finite numbers.
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
        context = SolveContext(self.tickers, sigma, None if expected_returns is None else mu,
                               self._lower, self._upper, self.objective, dict(extra))
        return Allocation(
            weights, self.objective.name, expected, volatility, info, self.constraints, context
        )

    def solve_weights(
        self,
        covariance: RiskInput,
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
        sigma, mu = self._prepare(covariance, expected_returns, available, extra)
        # The arithmetic checks depend only on the limits and the bounds: a re-solve with
        # the bounds of the last passed check skips them.
        bounds = (self._upper.tobytes(), self._lower.tobytes())
        if bounds != self._checked_bounds:
            check_feasibility_arithmetic(self)
            self._checked_bounds = bounds
        risky, info = self._solve_fast(sigma, mu, extra)
        if risky is None:
            self.chain.fill(sigma, mu, self._upper, self._lower, extra)
            chain = self.chain.solve()
            info = replace(chain, fallbacks=(*info, *chain.fallbacks))
            risky = self.chain.weights()
        return np.where(np.abs(risky) < DUST, 0.0, risky), info, sigma, mu


def optimize(
    returns_or_risk_model: pd.DataFrame | Any,
    objective: str | Objective = "min_variance",
    constraints: Sequence[Any] = (),
    *,
    covariance: RiskInput | None = None,
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
        :func:`portfolio.estimate.covariance.covariance` (used as it is: its PSD
        certificate is trusted and a factor model stays in factor form).
    objective : str or Objective
        A name of :data:`portfolio.optimization.objectives.OBJECTIVES` or a spec.
    constraints : sequence
        Limit and penalty objects (``MaxWeight(0.2)``, ``CashFloor(0.05)``, ...).
    covariance : DataFrame, CovarianceEstimate or FactorCovariance, optional
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
            returns = returns_or_risk_model
            covariance = estimate_covariance(returns, covariance_method, frequency=frequency)
        else:
            covariance = returns_or_risk_model
    elif isinstance(returns_or_risk_model, pd.DataFrame):
        returns = returns_or_risk_model
    tickers = list(covariance.index if isinstance(covariance, pd.DataFrame)
                   else covariance.tickers)
    if isinstance(objective, str):
        objective = make_objective(objective, **{
            k: v for k, v in options.items() if k in _option_names(objective)})
    data = {k: v for k, v in options.items() if k not in objective.options()}
    accepted = set(objective.solve_data)
    if returns is not None and "returns" in accepted and "returns" not in data:
        data["returns"] = returns
    if "frequency" in accepted and "frequency" not in data:
        data["frequency"] = frequency
    problem = PortfolioProblem(tickers, objective, constraints, solver=solver, parametric=False)
    return problem.solve(covariance, expected_returns, **data)


def _option_names(name: str) -> tuple[str, ...]:
    """Options of the named objective (empty for an unknown name: make_objective says so)."""
    return OBJECTIVES[name].options() if name in OBJECTIVES else ()
