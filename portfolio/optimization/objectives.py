"""Objectives: each builds the cvxpy problem around the shared feasible set.

An objective receives :class:`ProblemData` (Parameters for the covariance factor, the
expected returns and the per-name bounds, plus the other limit objects) and returns the
cvxpy problem and the expression of the risky weights. Every problem is DPP: data enter
only through cvxpy Parameters, so :class:`portfolio.optimization.problem.PortfolioProblem` compiles
it once and re-solves it by setting Parameter values. The one exception is a problem built
for a single solve (``PortfolioProblem(..., parametric=False)``, used by
:func:`portfolio.optimization.problem.optimize`): the risk term (:meth:`ProblemData.variance`) then
takes the covariance as a constant, which is cheaper to compile and to solve.

Units: weights are fractions of portfolio value; the covariance ``Sigma = F' F`` is
annualised (fraction^2 a year) and ``mu`` is annual (fraction a year). Penalties
(transaction costs, L2) apply to every objective, in the same annual-fraction units as the
objective they join (see :func:`penalties` for the homogenised objectives).

=======================  ====================================================  ==============
name                     problem (``w`` risky weights, ``sum(w) = budget``)     value reported
=======================  ====================================================  ==============
``min_variance``         min ``w' Sigma w``                                     variance
``max_sharpe``           max ``(mu - rf) @ w / sqrt(w' Sigma w)``               1 / Sharpe^2
``utility``              max ``mu @ w - risk_aversion / 2 * w' Sigma w``        - utility
``risk_parity``          risk contributions ``w_i (Sigma w)_i`` in budget       log-barrier
                         shares (Spinu's log-barrier problem)                   objective
``max_diversification``  max ``sigma @ w / sqrt(w' Sigma w)``                   1 / ratio^2
``min_cvar``             min CVaR of the scenario loss ``-R w``                 CVaR (periodic)
``min_tracking_error``   min ``Var(w - benchmark)``                             TE^2 (annual)
=======================  ====================================================  ==============

Each objective class lists ``OPTIONS`` (keyword arguments of its constructor, fixed when the
problem is built) and ``DATA`` (keyword arguments of :meth:`Objective.set_data`, given at
every :meth:`~portfolio.optimization.problem.PortfolioProblem.solve`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import cvxpy as cp
import numpy as np
import pandas as pd

from portfolio.optimization.constraints import L2Regularization, TransactionCosts, weights_vector
from portfolio.errors import ConfigError, DataError, InfeasibleError

__all__ = [
    "OBJECTIVES",
    "MaxDiversification",
    "MaxSharpe",
    "MinCVaR",
    "MinTrackingError",
    "MinVariance",
    "Objective",
    "ProblemData",
    "RiskParity",
    "Utility",
    "feasible_set",
    "make_objective",
    "penalties",
    "ridge",
    "risk_budget_shares",
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
    """

    tickers: tuple[str, ...]
    factor: cp.Parameter
    mu: cp.Parameter
    upper: cp.Parameter
    lower: cp.Parameter
    budget: float
    limits: tuple[Any, ...]
    covariance: np.ndarray | None = None

    def variance(self, w: Any) -> Any:
        """The annualised variance ``w' Sigma w`` as a cvxpy expression of ``w``.

        ``||F w||^2`` with the Parameter factor (DPP: a re-solve only updates ``F``), or,
        when :attr:`covariance` is set, ``quad_form`` of that constant: the solver then
        gets ``Sigma`` as its quadratic term instead of ``n`` extra variables
        ``t = F w``, which roughly halves compile plus solve time of a one-off problem.
        """
        if self.covariance is not None:
            return cp.quad_form(w, cp.psd_wrap(self.covariance))
        return cp.sum_squares(self.factor @ w)

    def available(self) -> np.ndarray:
        """Names that may hold weight (upper bound > 0), bool shape ``(n,)``."""
        return np.asarray(self.upper.value) > 0

    def volatilities(self) -> np.ndarray:
        """Annualised volatilities ``sqrt(diag(F' F))``, shape ``(n,)``."""
        return np.sqrt(np.sum(np.asarray(self.factor.value) ** 2, axis=0))


def feasible_set(data: ProblemData, w: Any, scale: Any = 1.0) -> list:
    """Constraints of the feasible set for weights ``w`` (homogenised by ``scale``).

    With a variable ``scale`` (max-Sharpe's ``kappa``, risk parity's ``sum(x) / budget``)
    every constant is multiplied by it, so ``w / scale`` lies in the feasible set.
    """
    from portfolio.optimization.constraints import Constraint

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
            raise ConfigError(
                f"penalty {type(item).__name__} has no homogenised form",
                "optimizer",
                "max_sharpe, max_diversification and risk_parity rescale the weights",
                "use transaction costs or L2 regularisation, or another objective",
            )
    return sum(terms) if terms else 0.0


def ridge(data: ProblemData) -> float:
    """Total L2 coefficient ``gamma`` of the :class:`L2Regularization` items (annual variance)."""
    return float(sum(item.gamma for item in data.limits if isinstance(item, L2Regularization)))


def _risk(data: ProblemData, w: Any) -> Any:
    """``w' Sigma w + gamma ||w||^2``: variance under the ridge ``Sigma + gamma I``."""
    gamma = ridge(data)
    return data.variance(w) + (gamma * cp.sum_squares(w) if gamma else 0.0)


def _pct(value: float) -> str:
    return f"{100 * value:.3g} %"


class Objective:
    """Base class of objectives.

    Subclasses set ``name``, ``OPTIONS`` (constructor keywords), ``DATA`` (keywords of
    :meth:`set_data`) and ``NEEDS_EXPECTED_RETURNS``, and implement :meth:`build`.
    """

    name: ClassVar[str] = ""
    OPTIONS: ClassVar[tuple[str, ...]] = ()
    DATA: ClassVar[tuple[str, ...]] = ()
    NEEDS_EXPECTED_RETURNS: ClassVar[bool] = False

    def build(self, data: ProblemData) -> tuple[cp.Problem, Any]:
        """Return the cvxpy problem and the expression of the risky weights."""
        raise NotImplementedError

    def set_data(self, data: ProblemData, **extra: Any) -> None:
        """Update objective-specific Parameters before a solve (``extra`` keys in DATA)."""

    def needs_rebuild(self) -> bool:
        """Whether the data set last changed a Parameter's shape (rebuild before solving)."""
        return False

    def check_data(self, data: ProblemData) -> None:
        """Raise a clear error when the data make the objective meaningless."""

    def explain_infeasible(self, data: ProblemData) -> InfeasibleError | None:
        """After an infeasible solve: an objective-specific cause, or None (the limits)."""
        return None

    def weights(self, data: ProblemData) -> np.ndarray:
        """Risky weights after a solve, shape ``(n,)``."""
        return np.asarray(self._weights.value, dtype=float)

    def solver_options(self, solver: str) -> dict[str, Any]:
        """Keyword arguments for ``Problem.solve`` with this solver (high accuracy)."""
        options = {"CLARABEL": CLARABEL_OPTIONS, "OSQP": OSQP_OPTIONS, "SCS": SCS_OPTIONS}
        return dict(options.get(solver, {}))


class MinVariance(Objective):
    """Minimise annualised variance ``w' Sigma w`` (+ penalties).

    The reported objective value is the variance plus penalties (fraction^2 a year).
    """

    name = "min_variance"

    def build(self, data):
        """See :meth:`Objective.build`."""
        w = cp.Variable(len(data.tickers), name="w")
        self._weights = w
        risk = data.variance(w)
        problem = cp.Problem(cp.Minimize(risk + penalties(data, w)), feasible_set(data, w))
        return problem, w


class Utility(Objective):
    """Maximise the mean-variance utility ``mu @ w - risk_aversion / 2 * w' Sigma w``.

    Parameters
    ----------
    risk_aversion : float
        ``>= 0``; large values approach the minimum-variance portfolio, 0 maximises the
        expected return. Default 2.5.

    Notes
    -----
    Minimises ``risk_aversion / 2 * ||F w||^2 - mu @ w + penalties``; the reported
    objective value is that quantity (minus the utility, annual fraction).
    """

    name = "utility"
    OPTIONS = ("risk_aversion",)
    NEEDS_EXPECTED_RETURNS = True

    def __init__(self, risk_aversion: float = 2.5) -> None:
        if not _finite(risk_aversion) or risk_aversion < 0:
            raise ConfigError(
                "risk_aversion must be a number >= 0",
                "optimizer.risk_aversion",
                f"got {risk_aversion!r}",
                "use e.g. 2.5",
            )
        self.risk_aversion = float(risk_aversion)

    def build(self, data):
        """See :meth:`Objective.build`."""
        w = cp.Variable(len(data.tickers), name="w")
        self._weights = w
        loss = self.risk_aversion / 2 * data.variance(w) - data.mu @ w + penalties(data, w)
        return cp.Problem(cp.Minimize(loss), feasible_set(data, w)), w


class _RatioObjective(Objective):
    """Maximise ``(a @ w - c(w)) / sqrt(w' Sigma w)`` through ``y = kappa * w``.

    The Cornuejols-Tutuncu transformation: minimise ``||F y||^2`` subject to
    ``a @ y - kappa * c(y / kappa) >= 1``, ``sum(y) = budget * kappa``, ``kappa >= 0`` and
    every limit homogenised by ``kappa``; then ``w = y / kappa``. The ratio is
    scale-invariant in ``w``, which is what makes this exact; at the optimum
    ``||F y||^2 = 1 / ratio^2`` (the reported objective value). ``c`` are the transaction
    costs (net ratio); an L2 penalty ``gamma`` acts as a ridge on the risk,
    ``sqrt(w' (Sigma + gamma I) w)``, as it does for ``min_variance``.
    """

    def _numerator(self, data: ProblemData) -> Any:
        """Parameter-affine vector ``a`` (shape ``(n,)``)."""
        raise NotImplementedError

    def build(self, data):
        """See :meth:`Objective.build`."""
        n = len(data.tickers)
        y = cp.Variable(n, name="y")
        kappa = cp.Variable(nonneg=True, name="kappa")
        self._y, self._kappa = y, kappa
        constraints = [
            self._numerator(data) @ y - penalties(data, y, scale=kappa) >= 1,
            *feasible_set(data, y, scale=kappa),
        ]
        return cp.Problem(cp.Minimize(_risk(data, y)), constraints), y

    def weights(self, data):
        """See :meth:`Objective.weights`."""
        return np.asarray(self._y.value, dtype=float) / float(self._kappa.value)


class MaxSharpe(_RatioObjective):
    """Maximise the Sharpe ratio ``(mu - rf) @ w / sqrt(w' Sigma w)`` (net of penalties).

    Parameters
    ----------
    risk_free_rate : float
        Annual risk-free rate (fraction), default 0. The DATA ``risk_free_rate`` given to a
        solve overrides it for that solve (it is a Parameter).

    Notes
    -----
    Cash earns ``rf``: the portfolio's excess return is
    ``mu @ w + rf * (1 - sum(w)) - rf = (mu - rf) @ w``, so cash (at its floor,
    ``sum(w) = 1 - cash_floor``) adds no excess return and no risk and the ratio stays
    scale-invariant in ``w`` -- the reformulation is exact with a cash floor. Transaction
    costs are subtracted from the excess return (net Sharpe, homogenised as a perspective);
    an L2 penalty is a ridge on the risk (see :class:`_RatioObjective`).

    When every available name has ``mu - rf <= 0`` the problem has no solution and
    :meth:`check_data` raises :class:`InfeasibleError` before solving; when the limits
    leave no portfolio with a positive excess return, :meth:`explain_infeasible` says so.
    """

    name = "max_sharpe"
    OPTIONS = ("risk_free_rate",)
    DATA = ("risk_free_rate",)
    NEEDS_EXPECTED_RETURNS = True

    def __init__(self, risk_free_rate: float = 0.0) -> None:
        self.risk_free_rate = _checked_rate(risk_free_rate)
        self._rf = cp.Parameter(name="risk_free_rate")
        self._rf.value = self.risk_free_rate

    def _numerator(self, data):
        return data.mu - self._rf

    def rate(self, risk_free_rate: float | None = None) -> float:
        """The rate of a solve: its DATA ``risk_free_rate``, else the configured one."""
        return self.risk_free_rate if risk_free_rate is None else _checked_rate(risk_free_rate)

    def set_data(self, data, risk_free_rate: float | None = None, **extra):
        """See :meth:`Objective.set_data`."""
        self._rf.value = self.rate(risk_free_rate)

    def check_data(self, data):
        """See :meth:`Objective.check_data`."""
        available = data.available()
        excess = np.asarray(data.mu.value) - float(self._rf.value)
        if not available.any() or excess[available].max() > 0:
            return
        best = int(np.flatnonzero(available)[np.argmax(excess[available])])
        raise InfeasibleError(
            "max-Sharpe has no solution",
            None,
            f"every expected excess return is <= 0 (best: {data.tickers[best]} "
            f"{_pct(excess[best])})",
            "use min_variance, another expected-return method, or a lower risk-free rate",
            conflicts=("expected_returns", "risk_free_rate"),
        )

    def explain_infeasible(self, data):
        """Name a limit set that leaves no positive excess return (an LP on ``w``)."""
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


class MaxDiversification(_RatioObjective):
    """Maximise the diversification ratio ``sigma @ w / sqrt(w' Sigma w)``.

    ``sigma_i = sqrt(Sigma_ii)`` (annualised volatilities) is a Parameter refreshed from the
    covariance factor at every solve. Same transformation as :class:`MaxSharpe` with
    ``mu - rf`` replaced by ``sigma``; the reported value is ``1 / ratio^2``.
    """

    name = "max_diversification"

    def __init__(self) -> None:
        self._vol: cp.Parameter | None = None

    def _numerator(self, data):
        self._vol = cp.Parameter(len(data.tickers), nonneg=True, name="volatilities")
        return self._vol

    def set_data(self, data, **extra):
        """See :meth:`Objective.set_data`."""
        self._vol.value = data.volatilities()


class RiskParity(Objective):
    """Risk budgeting: each name's share of portfolio risk equals its budget.

    Solves Spinu's convex problem (Bai, Scheinberg and Tutuncu)::

        minimise   0.5 * ||F x||^2 - sum_i b_i log(x_i)
        subject to every limit homogenised by s = sum(x) / budget

    and returns ``w = x / s`` (so ``sum(w) = budget``). Without binding limits the
    optimality conditions ``x_i (Sigma x)_i = b_i`` make the risk contributions
    ``w_i (Sigma w)_i / (w' Sigma w)`` equal to the budgets exactly. When a limit binds the
    problem is still convex (``s`` is affine in ``x``) and gives a feasible, limit-respecting
    allocation, but the contributions then no longer match the budgets exactly. Transaction
    costs enter in perspective form ``s * cost(x / s)`` and likewise tilt the contributions;
    an L2 penalty ``gamma`` budgets the risk of the ridge ``Sigma + gamma I``.

    Names with a zero budget or not available are fixed at 0 (their log term is dropped).
    The reported objective value is the log-barrier objective (no financial unit).

    DATA
    ----
    risk_budgets : mapping ticker-or-group -> share, optional
        See :func:`risk_budget_shares`; default equal budgets.
    groups : mapping group -> members, optional
        Group definitions for group budgets.
    """

    name = "risk_parity"
    DATA = ("risk_budgets", "groups")

    def build(self, data):
        """See :meth:`Objective.build`."""
        if data.budget <= 0:
            raise ConfigError(
                "risk parity needs a positive invested budget",
                "cash_floor",
                "the cash floor leaves nothing to invest",
                "lower the cash floor",
            )
        n = len(data.tickers)
        x = cp.Variable(n, name="x")
        shifted = cp.Variable(n, name="x_shifted")  # x + excluded: log argument, DPP-safe
        self._x = x
        self._budgets = cp.Parameter(n, nonneg=True, name="risk_budgets")
        self._excluded = cp.Parameter(n, nonneg=True, name="excluded")
        scale = cp.sum(x) / data.budget
        barrier = self._budgets @ cp.log(shifted)
        loss = 0.5 * _risk(data, x) - barrier + penalties(data, x, scale=scale)
        constraints = [
            shifted == x + self._excluded,
            cp.multiply(self._excluded, x) == 0,
            *feasible_set(data, x, scale=scale),
        ]
        return cp.Problem(cp.Minimize(loss), constraints), x

    def set_data(self, data, risk_budgets=None, groups=None, **extra):
        """See :meth:`Objective.set_data`."""
        shares = risk_budget_shares(
            data.tickers, risk_budgets or {}, groups or {}, available=data.available()
        )
        self._budgets.value = shares
        self._excluded.value = (shares <= 0).astype(float)

    def solver_options(self, solver):
        """Tighter Clarabel gaps: the log terms need 1e-12 for budgets met to 1e-8."""
        options = super().solver_options(solver)
        if solver == "CLARABEL":
            options.update(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        return options

    def weights(self, data):
        """See :meth:`Objective.weights`."""
        x = np.where(self._excluded.value > 0, 0.0, np.asarray(self._x.value, dtype=float))
        return data.budget * x / x.sum()


def risk_budget_shares(
    tickers: Sequence[str],
    risk_budgets: Mapping[str, float],
    groups: Mapping[str, Sequence[str]] | None = None,
    available: np.ndarray | Sequence[bool] | None = None,
) -> np.ndarray:
    """Risk budget of each name, shape ``(n,)``, summing to 1.

    Parameters
    ----------
    tickers : sequence of str
        Order of the result.
    risk_budgets : mapping
        ``{ticker or group: share}`` (fractions of total risk). A group's share is split
        equally among its members in ``tickers`` that are available; names reached by no
        key share the remainder ``max(1 - sum(shares), 0)`` equally.
    groups : mapping group -> members, optional
        Group definitions (a key that is a ticker is a ticker).
    available : array of bool, optional
        Names that may hold weight; others get budget 0.

    Returns
    -------
    ndarray
        Budgets over the available names, normalised to sum to 1.

    Raises
    ------
    ConfigError
        An unknown key, a negative share, or no positive budget on any available name.
    """
    groups = groups or {}
    names = list(tickers)
    mask = np.ones(len(names), bool) if available is None else np.asarray(available, bool)
    shares = np.zeros(len(names))
    assigned = np.zeros(len(names), dtype=bool)
    for key, share in risk_budgets.items():
        if not _finite(share) or share < 0:
            raise ConfigError(
                f"risk budget of '{key}' must be a fraction >= 0",
                f"optimizer.risk_budgets.{key}",
                f"got {share!r}",
                "use e.g. 0.2",
            )
        if key in names:
            members = [names.index(key)]
        elif key in groups:
            members = [names.index(t) for t in groups[key] if t in names]
        else:
            from portfolio.config import did_you_mean

            raise ConfigError(
                f"unknown risk-budget target '{key}'",
                f"optimizer.risk_budgets.{key}",
                "a key must be a ticker of the universe or a group",
                did_you_mean(str(key), [*names, *groups]) or "use a ticker or a group name",
            )
        assigned[members] = True
        live = [i for i in members if mask[i]]
        if live:
            shares[live] += float(share) / len(live)
    rest = mask & ~assigned
    if rest.any():
        shares[rest] = max(1.0 - float(sum(risk_budgets.values())), 0.0) / rest.sum()
    shares = np.where(mask, shares, 0.0)
    if shares.sum() <= 0:
        raise ConfigError(
            "no available name has a positive risk budget",
            "optimizer.risk_budgets",
            "risk parity needs at least one",
            "give a positive budget to an available name",
        )
    return shares / shares.sum()


class MinCVaR(Objective):
    """Minimise the conditional value at risk of the scenario loss (Rockafellar-Uryasev).

    ``minimise alpha + 1 / ((1 - c) T) * sum_t max(-R_t @ w - alpha, 0)`` over ``w`` and
    ``alpha`` (the value at risk), with ``R`` (T x n) historical periodic simple returns.

    Parameters
    ----------
    confidence : float
        ``c`` in (0, 1), default 0.95.

    Notes
    -----
    The reported value is the CVaR of the loss over ONE period of the scenarios (e.g. a
    daily fraction), plus penalties. ``R`` is a Parameter of fixed shape: the problem is
    built for a number of scenarios ``T``; a solve with a different ``T`` rebuilds it
    (same ``T`` re-solves). A NaN scenario return (no price yet, before a listing) counts
    as a 0 return.

    DATA
    ----
    scenarios : DataFrame (T x n) or ndarray
        Periodic simple returns labelled by ticker (exactly the problem's tickers).
    returns : DataFrame
        Used as ``scenarios`` when those are not given (``optimize`` passes its returns).
    """

    name = "min_cvar"
    OPTIONS = ("confidence",)
    DATA = ("scenarios", "returns")

    def __init__(self, confidence: float = 0.95) -> None:
        if not _finite(confidence) or not 0 < confidence < 1:
            raise ConfigError(
                "CVaR confidence must be in (0, 1)",
                "optimizer.cvar_confidence",
                f"got {confidence!r}",
                "use e.g. 0.95",
            )
        self.confidence = float(confidence)
        self._matrix: np.ndarray | None = None
        self._scenarios: cp.Parameter | None = None

    def build(self, data):
        """See :meth:`Objective.build`."""
        n = len(data.tickers)
        periods = 1 if self._matrix is None else self._matrix.shape[0]
        w = cp.Variable(n, name="w")
        alpha = cp.Variable(name="value_at_risk")
        excess_loss = cp.Variable(periods, nonneg=True, name="excess_loss")
        self._weights = w
        self._scenarios = cp.Parameter((periods, n), name="scenarios")
        if self._matrix is not None:
            self._scenarios.value = self._matrix
        cvar = alpha + cp.sum(excess_loss) / ((1 - self.confidence) * periods)
        constraints = [excess_loss >= -self._scenarios @ w - alpha, *feasible_set(data, w)]
        return cp.Problem(cp.Minimize(cvar + penalties(data, w)), constraints), w

    def set_data(self, data, scenarios=None, returns=None, **extra):
        """See :meth:`Objective.set_data`."""
        source = scenarios if scenarios is not None else returns
        if source is None:
            raise ConfigError(
                "min_cvar needs scenarios",
                "objective min_cvar",
                "CVaR is computed on historical return scenarios",
                "pass scenarios= (periodic returns, dates x tickers)",
            )
        self._matrix = _scenario_matrix(source, data.tickers)
        if not self.needs_rebuild():
            self._scenarios.value = self._matrix

    def needs_rebuild(self):
        """True when the number of scenarios changed since the last build."""
        return self._matrix is not None and self._matrix.shape != self._scenarios.shape


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


class MinTrackingError(Objective):
    """Minimise the annualised tracking variance to a benchmark or a target.

    Two kinds of benchmark (DATA, exactly one per solve):

    ``target_weights``
        Mapping ticker -> weight (``CASH`` allowed and ignored, absent tickers 0).
        Minimises ``(w - w_b)' Sigma (w - w_b)`` = ``||F w - F w_b||^2``; ``F w_b`` is a
        Parameter so the problem stays DPP.
    ``benchmark_returns``
        Periodic simple returns of the benchmark (Series by date) with ``returns`` (periodic
        returns of the tickers, dates x tickers) and ``frequency`` (``daily`` by default).
        Minimises ``Var(R w - r_b) = ||F w||^2 - 2 c @ w + var_b`` with
        ``c_i = Cov(R_i, r_b)`` and ``var_b = Var(r_b)``, annualised, estimated on the
        dates both have (pairwise for names listed later).

    Notes
    -----
    The reported value is the tracking variance (fraction^2 a year). With a benchmark series
    the covariance model ``Sigma`` (e.g. shrunk) and the sample ``c``, ``var_b`` come from
    different estimators, so the value can be slightly negative; the minimiser is still
    well defined (the problem is convex for any ``c``).
    """

    name = "min_tracking_error"
    DATA = ("target_weights", "benchmark_returns", "returns", "frequency")

    def build(self, data):
        """See :meth:`Objective.build`."""
        n = len(data.tickers)
        w = cp.Variable(n, name="w")
        self._weights = w
        self._target_factor = cp.Parameter(n, name="target_factor")
        self._cross = cp.Parameter(n, name="benchmark_covariance")
        self._benchmark_variance = cp.Parameter(nonneg=True, name="benchmark_variance")
        variance = (
            cp.sum_squares(data.factor @ w - self._target_factor)
            - 2 * self._cross @ w
            + self._benchmark_variance
        )
        return cp.Problem(cp.Minimize(variance + penalties(data, w)), feasible_set(data, w)), w

    def set_data(
        self,
        data,
        target_weights=None,
        benchmark_returns=None,
        returns=None,
        frequency="daily",
        **extra,
    ):
        """See :meth:`Objective.set_data`."""
        n = len(data.tickers)
        if (target_weights is None) == (benchmark_returns is None):
            raise ConfigError(
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


def _benchmark_moments(
    returns: pd.DataFrame | None, benchmark: pd.Series, data: ProblemData, frequency: str
) -> tuple[np.ndarray, float]:
    """Annualised ``Cov(R_i, r_b)`` (n,) and ``Var(r_b)`` on common dates."""
    from portfolio.estimate.returns import periods_per_year

    periods = periods_per_year(frequency)
    if not isinstance(returns, pd.DataFrame) or not isinstance(benchmark, pd.Series):
        raise ConfigError(
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


def _finite(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _checked_rate(rate: Any) -> float:
    if not _finite(rate):
        raise ConfigError(
            "risk_free_rate must be a finite number",
            "optimizer.risk_free_rate",
            f"got {rate!r}",
            "give an annual fraction, e.g. 0.04 for 4 %",
        )
    return float(rate)


OBJECTIVES: dict[str, type[Objective]] = {
    cls.name: cls
    for cls in (
        MinVariance,
        MaxSharpe,
        Utility,
        RiskParity,
        MaxDiversification,
        MinCVaR,
        MinTrackingError,
    )
}


def make_objective(name: str, **options: Any) -> Objective:
    """Instantiate an objective by its config name.

    Raises
    ------
    ConfigError
        For an unknown name (listing the valid ones) or an option the objective does not
        take.
    """
    from portfolio.config import did_you_mean

    if name not in OBJECTIVES:
        raise ConfigError(
            f"unknown objective '{name}'",
            "objective",
            f"valid objectives: {', '.join(OBJECTIVES)}",
            did_you_mean(name, OBJECTIVES) or f"use one of {', '.join(OBJECTIVES)}",
        )
    cls = OBJECTIVES[name]
    unknown = sorted(set(options) - set(cls.OPTIONS))
    if unknown:
        accepted = ", ".join(cls.OPTIONS) or "none"
        raise ConfigError(
            f"unknown option {', '.join(unknown)} for objective {name}",
            "objective options",
            f"{name} accepts: {accepted}",
            did_you_mean(unknown[0], cls.OPTIONS) or "remove it",
        )
    return cls(**options)
