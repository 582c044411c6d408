"""The cvxpy form of every objective: a spec compiled around the shared feasible set.

:func:`compile_objective` is the one compile step of an objective spec (this module, and so
cvxpy, loads only when a cvxpy path runs). A :class:`CompiledObjective` holds the cvxpy
problem and the Parameters of one :class:`~portfolio.optimization.cvxpy_data.ProblemData`
(the covariance -- a dense factor or a factor model --, expected returns, per-name bounds
and the other limit objects; that module also builds the feasible set and the
penalties). Every problem is DPP: data enter only through cvxpy Parameters, so
:class:`portfolio.optimization.problem.PortfolioProblem` compiles it once and re-solves
it by setting Parameter values. The one exception is a problem built for a single solve
(``parametric=False``): the risk term (:meth:`ProblemData.variance`) then takes the
covariance as a constant.

Units: weights are fractions of portfolio value; the covariance ``Sigma = F' F`` is
annualised (fraction^2 a year) and ``mu`` is annual (fraction a year). Penalties
(transaction costs, L2) apply to every objective, in the same annual-fraction units as the
objective they join (see :func:`penalties` for the homogenised objectives).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd

from portfolio.errors import DataError, InfeasibleError, InputError
from portfolio.estimate.returns import periods_per_year
from portfolio.optimization.cvxpy_data import (
    CLARABEL_OPTIONS,
    OSQP_OPTIONS,
    SCS_OPTIONS,
    ProblemData,
    feasible_set,
    penalties,
    ridge,
    risk,
)
from portfolio.optimization.objectives import (
    GroupRiskBudget,
    MaxDiversification,
    MaxReturn,
    MaxSharpe,
    MinCVaR,
    MinTrackingError,
    MinVariance,
    Objective,
    RiskParity,
    TargetReturn,
    Utility,
)
from portfolio.weights import weights_vector

__all__ = [
    "CLARABEL_OPTIONS",
    "OSQP_OPTIONS",
    "SCS_OPTIONS",
    "CompiledObjective",
    "ProblemData",
    "compile_objective",
    "feasible_set",
    "penalties",
    "ridge",
]


def _pct(value: float) -> str:
    return f"{100 * value:.3g} %"


class CompiledObjective:
    """An objective spec compiled on :class:`ProblemData`.

    Attributes
    ----------
    spec : Objective
        The frozen spec (options).
    data : ProblemData
        The Parameters and limits the problem was built on.
    problem : cvxpy.Problem
        The compiled problem; re-solved after :meth:`set_data`.
    """

    def __init__(self, spec: Objective, data: ProblemData, extra: Mapping[str, Any]) -> None:
        self.spec = spec
        self.data = data
        self.problem, self._weights = self.build(data, extra)

    def build(self, data: ProblemData, extra: Mapping[str, Any]) -> tuple[cp.Problem, Any]:
        """Return the cvxpy problem and the variable of the risky weights."""
        raise NotImplementedError

    def set_data(self, **extra: Any) -> None:
        """Update objective-specific Parameters before a solve (keys of ``solve_data``)."""

    def needs_rebuild(self) -> bool:
        """Whether the data set last changed a Parameter's shape (compile again)."""
        return False

    def check_data(self) -> None:
        """Raise a clear error when the data make the objective meaningless."""

    def explain_infeasible(self) -> InfeasibleError | None:
        """After an infeasible solve: an objective-specific cause, or None (the limits)."""
        return None

    def weights(self) -> np.ndarray:
        """Risky weights after a solve, shape ``(n,)``."""
        return np.asarray(self._weights.value, dtype=float)

    def solver_options(self, solver: str) -> dict[str, Any]:
        """Keyword arguments for ``Problem.solve`` with this solver (high accuracy)."""
        options = {"CLARABEL": CLARABEL_OPTIONS, "OSQP": OSQP_OPTIONS, "SCS": SCS_OPTIONS}
        return dict(options.get(solver, {}))


class _MinVariance(CompiledObjective):
    def build(self, data, extra):
        w = cp.Variable(len(data.tickers), name="w")
        problem = cp.Problem(cp.Minimize(data.variance(w) + penalties(data, w)),
                             feasible_set(data, w))
        return problem, w


class _Utility(CompiledObjective):
    def build(self, data, extra):
        w = cp.Variable(len(data.tickers), name="w")
        loss = (self.spec.risk_aversion / 2 * data.variance(w) - data.mu @ w
                + penalties(data, w))
        return cp.Problem(cp.Minimize(loss), feasible_set(data, w)), w


class _Ratio(CompiledObjective):
    """Maximise ``(a @ w - c(w)) / sqrt(w' Sigma w)`` through ``y = kappa * w``.

    The Cornuejols-Tutuncu transformation: minimise ``||F y||^2`` subject to
    ``a @ y - kappa * c(y / kappa) >= 1``, ``sum(y) = budget * kappa``, ``kappa >= 0`` and
    every limit homogenised by ``kappa``; then ``w = y / kappa``. The ratio is
    scale-invariant in ``w``, which is what makes this exact; at the optimum
    ``||F y||^2 = 1 / ratio^2`` (the reported objective value). ``c`` are the transaction
    costs (net ratio); an L2 penalty ``gamma`` acts as a ridge on the risk.
    """

    def numerator(self, data: ProblemData) -> Any:
        """Parameter-affine vector ``a`` (shape ``(n,)``)."""
        raise NotImplementedError

    def build(self, data, extra):
        y = cp.Variable(len(data.tickers), name="y")
        self._kappa = cp.Variable(nonneg=True, name="kappa")
        constraints = [
            self.numerator(data) @ y - penalties(data, y, scale=self._kappa) >= 1,
            *feasible_set(data, y, scale=self._kappa),
        ]
        return cp.Problem(cp.Minimize(risk(data, y)), constraints), y

    def weights(self):
        return np.asarray(self._weights.value, dtype=float) / float(self._kappa.value)


class _MaxSharpe(_Ratio):
    def numerator(self, data):
        self._rf = cp.Parameter(name="risk_free_rate")
        self._rf.value = self.spec.risk_free_rate
        return data.mu - self._rf

    def set_data(self, risk_free_rate: float | None = None, **extra):
        self._rf.value = self.spec.rate(risk_free_rate)

    def check_data(self):
        data = self.data
        excess = np.asarray(data.mu.value) - float(self._rf.value)
        self.spec.check_excess(data.tickers, excess, data.available())

    def explain_infeasible(self):
        """Name a limit set that leaves no positive excess return (an LP on ``w``)."""
        data = self.data
        w = cp.Variable(len(data.tickers))
        excess = (data.mu - self._rf) @ w - penalties(data, w)
        problem = cp.Problem(cp.Maximize(excess), feasible_set(data, w))
        try:
            problem.solve(solver="CLARABEL", **CLARABEL_OPTIONS)
        except cp.error.SolverError:
            return None
        if problem.status != cp.OPTIMAL or problem.value > 1e-9:
            return None
        return InfeasibleError(
            "max-Sharpe has no solution",
            None,
            "no portfolio within the limits has a positive expected excess return "
            f"(best: {_pct(problem.value)})",
            "use min_variance, relax the limits that force low-return names in, or use a "
            "lower risk-free rate",
            conflicts=("expected_returns", "risk_free_rate"),
        )


class _MaxDiversification(_Ratio):
    def numerator(self, data):
        self._vol = cp.Parameter(len(data.tickers), nonneg=True, name="volatilities")
        return self._vol

    def set_data(self, **extra):
        self._vol.value = self.data.volatilities()


class _RiskParity(CompiledObjective):
    def build(self, data, extra):
        if data.budget <= 0:
            raise InputError(
                "risk parity needs a positive invested budget",
                "cash_floor",
                "the cash floor leaves nothing to invest",
                "lower the cash floor",
            )
        n = len(data.tickers)
        x = cp.Variable(n, name="x")
        shifted = cp.Variable(n, name="x_shifted")  # x + excluded: log argument, DPP-safe
        self._budgets = cp.Parameter(n, nonneg=True, name="risk_budgets")
        self._excluded = cp.Parameter(n, nonneg=True, name="excluded")
        scale = cp.sum(x) / data.budget
        barrier = self._budgets @ cp.log(shifted)
        loss = 0.5 * risk(data, x) - barrier + penalties(data, x, scale=scale)
        constraints = [
            shifted == x + self._excluded,
            cp.multiply(self._excluded, x) == 0,
            *feasible_set(data, x, scale=scale),
        ]
        return cp.Problem(cp.Minimize(loss), constraints), x

    def set_data(self, **extra):
        shares = self.spec.budget_shares(self.data.tickers, self.data.available(), **extra)
        self._budgets.value = shares
        self._excluded.value = (shares <= 0).astype(float)

    def solver_options(self, solver):
        """Tighter Clarabel gaps: the log terms need 1e-12 for budgets met to 1e-8."""
        options = super().solver_options(solver)
        if solver == "CLARABEL":
            options.update(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        return options

    def weights(self):
        x = np.where(self._excluded.value > 0, 0.0, np.asarray(self._weights.value, dtype=float))
        return self.data.budget * x / x.sum()


class _MinCVaR(CompiledObjective):
    def build(self, data, extra):
        source = extra.get("scenarios", extra.get("returns"))
        periods = 1 if source is None else _scenario_matrix(source, data.tickers).shape[0]
        n = len(data.tickers)
        w = cp.Variable(n, name="w")
        alpha = cp.Variable(name="value_at_risk")
        excess_loss = cp.Variable(periods, nonneg=True, name="excess_loss")
        self._matrix: np.ndarray | None = None
        self._scenarios = cp.Parameter((periods, n), name="scenarios")
        cvar = alpha + cp.sum(excess_loss) / ((1 - self.spec.confidence) * periods)
        constraints = [excess_loss >= -self._scenarios @ w - alpha, *feasible_set(data, w)]
        return cp.Problem(cp.Minimize(cvar + penalties(data, w)), constraints), w

    def set_data(self, scenarios=None, returns=None, **extra):
        source = scenarios if scenarios is not None else returns
        if source is None:
            raise InputError(
                "min_cvar needs scenarios",
                "objective min_cvar",
                "CVaR is computed on historical return scenarios",
                "pass scenarios= (periodic returns, dates x tickers)",
            )
        self._matrix = _scenario_matrix(source, self.data.tickers)
        if not self.needs_rebuild():
            self._scenarios.value = self._matrix

    def needs_rebuild(self):
        """True when the number of scenarios differs from the one compiled."""
        return self._matrix is not None and self._matrix.shape != self._scenarios.shape


class _MinTrackingError(CompiledObjective):
    def build(self, data, extra):
        n = len(data.tickers)
        w = cp.Variable(n, name="w")
        self._target_factor = cp.Parameter(n, name="target_factor")
        self._cross = cp.Parameter(n, name="benchmark_covariance")
        self._benchmark_variance = cp.Parameter(nonneg=True, name="benchmark_variance")
        variance = (
            cp.sum_squares(data.factor @ w - self._target_factor)
            - 2 * self._cross @ w
            + self._benchmark_variance
        )
        return cp.Problem(cp.Minimize(variance + penalties(data, w)), feasible_set(data, w)), w

    def set_data(self, target_weights=None, benchmark_returns=None, returns=None,
                 frequency="daily", **extra):
        data = self.data
        n = len(data.tickers)
        if (target_weights is None) == (benchmark_returns is None):
            raise InputError(
                "min_tracking_error needs exactly one benchmark",
                "objective min_tracking_error",
                "give either target_weights or benchmark_returns (with returns)",
                "set optimizer.tracking_benchmark or pass target_weights=",
            )
        if target_weights is not None:
            target = weights_vector(target_weights, data.tickers)  # CASH is ignored
            self._target_factor.value = np.asarray(data.factor.value) @ target
            self._cross.value = np.zeros(n)
            self._benchmark_variance.value = 0.0
            return
        cross, variance = _benchmark_moments(returns, benchmark_returns, data, frequency)
        self._target_factor.value = np.zeros(n)
        self._cross.value = cross
        self._benchmark_variance.value = variance


class _TargetReturn(CompiledObjective):
    def build(self, data, extra):
        w = cp.Variable(len(data.tickers), name="w")
        self._target = cp.Parameter(name="target_return")
        constraints = [*feasible_set(data, w), data.mu @ w >= self._target]
        return cp.Problem(cp.Minimize(cp.sum_squares(data.factor @ w)), constraints), w

    def set_data(self, target_return=None, **extra):
        if target_return is None:  # below any feasible return: plain minimum variance
            target_return = min(float(np.min(self.data.mu.value)), 0.0) - 1.0
        self._target.value = float(target_return)


class _MaxReturn(CompiledObjective):
    def build(self, data, extra):
        w = cp.Variable(len(data.tickers), name="w")
        return cp.Problem(cp.Maximize(data.mu @ w), feasible_set(data, w)), w


_COMPILED: dict[type[Objective], type[CompiledObjective]] = {
    MinVariance: _MinVariance,
    Utility: _Utility,
    MaxSharpe: _MaxSharpe,
    MaxDiversification: _MaxDiversification,
    RiskParity: _RiskParity,
    GroupRiskBudget: _RiskParity,
    MinCVaR: _MinCVaR,
    MinTrackingError: _MinTrackingError,
    TargetReturn: _TargetReturn,
    MaxReturn: _MaxReturn,
}


def compile_objective(spec: Objective, data: ProblemData, extra: Mapping[str, Any]
                      ) -> CompiledObjective:
    """The cvxpy problem of ``spec`` on ``data`` (Parameters and limits).

    ``extra`` is the objective data of the first solve: it sizes Parameters whose shape
    depends on the data (the number of CVaR scenarios).
    """
    compiled = _COMPILED.get(type(spec))
    if compiled is None:
        raise InputError(
            f"objective {type(spec).__name__} has no cvxpy form", "objective",
            "an objective spec needs a compiled form to run through the cvxpy solvers",
            "use one of the objectives of portfolio.optimization.objectives",
        )
    return compiled(spec, data, extra)


def _scenario_matrix(source: pd.DataFrame | np.ndarray, tickers: Sequence[str]) -> np.ndarray:
    """``(T, n)`` float matrix in ``tickers`` order; NaN -> 0."""
    labelled = isinstance(source, pd.DataFrame)
    if labelled:
        _check_columns(source.columns, tickers, "scenarios")
    try:
        matrix = (source[list(tickers)].to_numpy(dtype=float) if labelled
                  else np.asarray(source, dtype=float))
    except (TypeError, ValueError) as exc:
        raise DataError(
            "scenario returns must be numbers", "scenarios", f"could not read them ({exc})",
            "pass periodic simple returns (fractions), one column per ticker",
        ) from None
    if matrix.ndim != 2 or matrix.shape[1] != len(tickers):
        raise DataError(
            "scenarios have the wrong shape",
            "scenarios",
            f"expected (T, {len(tickers)}), got {matrix.shape}",
            "pass a DataFrame with one column per ticker",
        )
    if matrix.shape[0] == 0:
        raise DataError(
            "no scenarios", "scenarios", "CVaR needs at least one period", "use a longer lookback"
        )
    if np.isinf(matrix).any():
        raise DataError(
            "infinite scenario returns",
            "scenarios",
            "a zero price gives an infinite return",
            "clean the prices",
        )
    return np.nan_to_num(matrix, nan=0.0)


def _check_columns(columns: Sequence[Any], tickers: Sequence[str], what: str) -> None:
    missing = [t for t in tickers if t not in set(columns)]
    extra = [str(c) for c in columns if c not in set(tickers)]
    if missing or extra:
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"extra {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise DataError(
            f"{what} do not match the problem's tickers",
            what,
            detail,
            "pass one column per ticker of the problem, no more",
        )


def _benchmark_moments(
    returns: pd.DataFrame | None, benchmark: pd.Series, data: ProblemData, frequency: str
) -> tuple[np.ndarray, float]:
    """Annualised ``Cov(R_i, r_b)`` (n,) and ``Var(r_b)`` on common dates."""
    periods = periods_per_year(frequency)
    if not isinstance(returns, pd.DataFrame) or not isinstance(benchmark, pd.Series):
        raise InputError(
            "tracking a benchmark series needs the tickers' returns",
            "objective min_tracking_error",
            "benchmark_returns must be a Series and returns a DataFrame by date",
            "pass returns= (dates x tickers) with benchmark_returns=",
        )
    _check_columns(returns.columns, data.tickers, "returns")
    frame = returns[list(data.tickers)].astype(float)
    bench = benchmark.astype(float).reindex(frame.index)
    if bench.count() < 2:
        raise DataError(
            "the benchmark returns share fewer than 2 dates with the returns",
            "benchmark_returns",
            "tracking needs overlapping history",
            "align the benchmark with the tickers' dates",
        )
    cross = frame.apply(lambda column: column.cov(bench)).to_numpy() * periods
    unknown = np.isnan(cross) & data.available()
    if unknown.any():
        names = ", ".join(t for t, bad in zip(data.tickers, unknown) if bad)
        raise DataError(
            f"no overlapping history with the benchmark for {names}",
            "benchmark_returns",
            "their covariance with the benchmark is unknown",
            "use a longer lookback or exclude them",
        )
    return np.nan_to_num(cross, nan=0.0), float(bench.var() * periods)
