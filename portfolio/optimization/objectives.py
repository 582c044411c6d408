"""Objectives as frozen specs, and the registry of their names.

An objective is a small immutable value: its name, its options (the dataclass fields, e.g.
``Utility(risk_aversion=3.0)``) and the capabilities it declares:

* ``needs_expected_returns`` -- a solve needs annual expected returns;
* ``reports_expected_return`` -- the allocation reports its expected return although the
  objective does not use it (``min_cvar``);
* ``solve_data`` -- the keyword data a solve accepts (``scenarios``, ``risk_free_rate``...);
* ``fast_path`` -- the specialised backend that can answer it under linear limits:
  ``"variance"`` (a convex QP: active set, then warm OSQP), ``"sharpe"`` (the ratio in
  homogenised form through the active set) or ``"risk_budget"`` (Spinu's problem by a
  numpy interior-point method, :mod:`portfolio.optimization.risk_budget`); None for the
  cvxpy chain only.

:func:`portfolio.optimization.cvxpy_objectives.compile_objective` is the one compile step:
it turns a spec into a cvxpy problem around the shared feasible set (that module, and
cvxpy, load only when a cvxpy path runs). The spec itself keeps no state, so one spec may
serve any number of problems.

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

Units: weights are fractions of portfolio value; the covariance is annualised
(fraction^2 a year) and expected returns annual (fraction a year).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from portfolio.errors import InfeasibleError, InputError, did_you_mean

__all__ = [
    "OBJECTIVES",
    "GroupRiskBudget",
    "MaxDiversification",
    "MaxReturn",
    "MaxSharpe",
    "MinCVaR",
    "MinTrackingError",
    "MinVariance",
    "Objective",
    "RiskParity",
    "TargetReturn",
    "Utility",
    "group_budget_shares",
    "make_objective",
    "risk_budget_shares",
]


@dataclass(frozen=True)
class Objective:
    """Base of the objective specs (see the module docstring for the capabilities)."""

    name: ClassVar[str] = ""
    needs_expected_returns: ClassVar[bool] = False
    reports_expected_return: ClassVar[bool] = False
    solve_data: ClassVar[tuple[str, ...]] = ()
    fast_path: ClassVar[str | None] = None

    @classmethod
    def options(cls) -> tuple[str, ...]:
        """Names of the spec's options (its fields, fixed when a problem is built)."""
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class MinVariance(Objective):
    """Minimise annualised variance ``w' Sigma w`` (+ penalties).

    The reported objective value is the variance plus penalties (fraction^2 a year).
    """

    name: ClassVar[str] = "min_variance"
    fast_path: ClassVar[str | None] = "variance"


@dataclass(frozen=True)
class Utility(Objective):
    """Maximise the mean-variance utility ``mu @ w - risk_aversion / 2 * w' Sigma w``.

    Attributes
    ----------
    risk_aversion : float
        ``>= 0``; large values approach the minimum-variance portfolio, 0 maximises the
        expected return. Default 2.5.

    Notes
    -----
    Minimises ``risk_aversion / 2 * ||F w||^2 - mu @ w + penalties``; the reported
    objective value is that quantity (minus the utility, annual fraction).
    """

    name: ClassVar[str] = "utility"
    needs_expected_returns: ClassVar[bool] = True
    risk_aversion: float = 2.5

    def __post_init__(self) -> None:
        if not finite_number(self.risk_aversion) or self.risk_aversion < 0:
            raise InputError("risk_aversion must be a number >= 0", "optimizer.risk_aversion",
                             f"got {self.risk_aversion!r}", "use e.g. 2.5")


@dataclass(frozen=True)
class MaxSharpe(Objective):
    """Maximise the Sharpe ratio ``(mu - rf) @ w / sqrt(w' Sigma w)`` (net of penalties).

    Attributes
    ----------
    risk_free_rate : float
        Annual risk-free rate (fraction), default 0. The solve data ``risk_free_rate``
        overrides it for that solve.

    Notes
    -----
    Cash earns ``rf``: the portfolio's excess return is
    ``mu @ w + rf * (1 - sum(w)) - rf = (mu - rf) @ w``, so cash (at its floor,
    ``sum(w) = 1 - cash_floor``) adds no excess return and no risk and the ratio stays
    scale-invariant in ``w`` -- the homogenised reformulation is exact with a cash floor.
    Transaction costs are subtracted from the excess return (net Sharpe); an L2 penalty
    is a ridge on the risk. When every available name has ``mu - rf <= 0`` the problem
    has no solution and the solve raises :class:`~portfolio.errors.InfeasibleError`.
    """

    name: ClassVar[str] = "max_sharpe"
    needs_expected_returns: ClassVar[bool] = True
    solve_data: ClassVar[tuple[str, ...]] = ("risk_free_rate",)
    fast_path: ClassVar[str | None] = "sharpe"
    risk_free_rate: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "risk_free_rate", checked_rate(self.risk_free_rate))

    def rate(self, risk_free_rate: float | None = None) -> float:
        """The rate of a solve: its data ``risk_free_rate``, else the configured one."""
        return self.risk_free_rate if risk_free_rate is None else checked_rate(risk_free_rate)

    def check_excess(self, tickers: Sequence[str], excess: np.ndarray,
                     available: np.ndarray) -> None:
        """Raise InfeasibleError when no available name has ``mu - rf > 0``.

        Parameters
        ----------
        tickers : sequence of str
            Names, shape ``(n,)``.
        excess : ndarray, shape (n,)
            Expected excess returns ``mu - rf`` (annual fractions).
        available : ndarray of bool, shape (n,)
            Names that may hold weight.
        """
        if not available.any() or excess[available].max() > 0:
            return
        best = int(np.flatnonzero(available)[np.argmax(excess[available])])
        raise InfeasibleError(
            "max-Sharpe has no solution",
            None,
            f"every expected excess return is <= 0 (best: {tickers[best]} "
            f"{100 * excess[best]:.3g} %)",
            "use min_variance, another expected-return method, or a lower risk-free rate",
            conflicts=("expected_returns", "risk_free_rate"),
        )


@dataclass(frozen=True)
class MaxDiversification(Objective):
    """Maximise the diversification ratio ``sigma @ w / sqrt(w' Sigma w)``.

    ``sigma_i = sqrt(Sigma_ii)`` (annualised volatilities). Same transformation as
    :class:`MaxSharpe` with ``mu - rf`` replaced by ``sigma``; the reported value is
    ``1 / ratio^2``.
    """

    name: ClassVar[str] = "max_diversification"


@dataclass(frozen=True)
class RiskParity(Objective):
    """Risk budgeting: each name's share of portfolio risk equals its budget.

    Solves Spinu's convex problem (Bai, Scheinberg and Tutuncu)::

        minimise   0.5 * ||F x||^2 - sum_i b_i log(x_i)
        subject to every limit homogenised by s = sum(x) / budget

    and returns ``w = x / s`` (so ``sum(w) = budget``). Without binding limits the
    contributions ``w_i (Sigma w)_i / (w' Sigma w)`` equal the budgets exactly; when a limit
    binds the allocation still respects it and the contributions no longer match exactly.
    Names with a zero budget or not available are fixed at 0. The reported objective value
    is the log-barrier objective (no financial unit).

    Solve data: ``risk_budgets`` (mapping ticker-or-group -> share, see
    :func:`risk_budget_shares`; default equal) and ``groups`` (group -> members).
    """

    name: ClassVar[str] = "risk_parity"
    solve_data: ClassVar[tuple[str, ...]] = ("risk_budgets", "groups")
    fast_path: ClassVar[str | None] = "risk_budget"

    def budget_shares(self, tickers: Sequence[str], available: np.ndarray,
                      risk_budgets: Mapping[str, float] | None = None,
                      groups: Mapping[str, Sequence[str]] | None = None,
                      **_: Any) -> np.ndarray:
        """Risk budget per name, shape ``(n,)`` summing to 1 (:func:`risk_budget_shares`)."""
        return risk_budget_shares(tickers, risk_budgets or {}, groups or {}, available)


@dataclass(frozen=True)
class GroupRiskBudget(Objective):
    """Risk budgeting across groups: each group carries its share of portfolio risk.

    The article's guidance read as an objective: diversify *across* the ecosystem (chips,
    cloud, platforms, emerging players, Japan) rather than own the least volatile
    megacaps. Each group of the config gets a share of the portfolio's risk (equal by
    default, or ``group_budgets``); inside a group the names share it equally -- risk
    parity within the group, so a volatile name holds less weight but never nothing. Names
    in no group form one more group. It is solved as :class:`RiskParity` with these
    per-name budgets (Spinu's convex problem), under every limit; where a cap binds (a
    name cap, a group cap, the look-through cap), the group's risk share is smaller than
    its budget and the others grow.

    Solve data: ``groups`` (group -> members) and ``group_budgets`` (group -> share of
    risk, groups not named share the rest equally).
    """

    name: ClassVar[str] = "group_risk_budget"
    solve_data: ClassVar[tuple[str, ...]] = ("groups", "group_budgets")
    fast_path: ClassVar[str | None] = "risk_budget"

    def budget_shares(self, tickers: Sequence[str], available: np.ndarray,
                      groups: Mapping[str, Sequence[str]] | None = None,
                      group_budgets: Mapping[str, float] | None = None,
                      **_: Any) -> np.ndarray:
        """Risk budget per name, shape ``(n,)`` summing to 1 (:func:`group_budget_shares`)."""
        return group_budget_shares(tickers, groups or {}, group_budgets or {}, available)


@dataclass(frozen=True)
class MinCVaR(Objective):
    """Minimise the conditional value at risk of the scenario loss (Rockafellar-Uryasev).

    ``minimise alpha + 1 / ((1 - c) T) * sum_t max(-R_t @ w - alpha, 0)`` over ``w`` and
    ``alpha`` (the value at risk), with ``R`` (T x n) historical periodic simple returns.

    Attributes
    ----------
    confidence : float
        ``c`` in (0, 1), default 0.95.

    Notes
    -----
    The reported value is the CVaR of the loss over ONE period of the scenarios (e.g. a
    daily fraction), plus penalties. A solve with a different number of scenarios ``T``
    rebuilds the problem. A NaN scenario return (before a listing) counts as 0. Solve
    data: ``scenarios`` (DataFrame T x n labelled by ticker, or ndarray) or ``returns``
    (used when no scenarios are given).
    """

    name: ClassVar[str] = "min_cvar"
    reports_expected_return: ClassVar[bool] = True
    solve_data: ClassVar[tuple[str, ...]] = ("scenarios", "returns")
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not finite_number(self.confidence) or not 0 < self.confidence < 1:
            raise InputError("CVaR confidence must be in (0, 1)", "optimizer.cvar_confidence",
                             f"got {self.confidence!r}", "use e.g. 0.95")


@dataclass(frozen=True)
class MinTrackingError(Objective):
    """Minimise the annualised tracking variance to a benchmark or a target.

    Two kinds of benchmark (solve data, exactly one per solve):

    ``target_weights``
        Mapping ticker -> weight (``CASH`` ignored, absent tickers 0). Minimises
        ``(w - w_b)' Sigma (w - w_b)``.
    ``benchmark_returns``
        Periodic simple returns of the benchmark (Series by date) with ``returns``
        (periodic returns of the tickers) and ``frequency`` (``daily`` by default).
        Minimises ``Var(R w - r_b) = w' Sigma w - 2 c @ w + var_b`` with
        ``c_i = Cov(R_i, r_b)`` and ``var_b = Var(r_b)``, annualised, on common dates.

    Notes
    -----
    The reported value is the tracking variance (fraction^2 a year). With a benchmark series
    the covariance model and the sample ``c``, ``var_b`` come from different estimators, so
    the value can be slightly negative; the minimiser is still well defined.
    """

    name: ClassVar[str] = "min_tracking_error"
    solve_data: ClassVar[tuple[str, ...]] = (
        "target_weights", "benchmark_returns", "returns", "frequency")


@dataclass(frozen=True)
class TargetReturn(Objective):
    """Minimum variance with an expected return of at least ``target_return`` (a frontier point).

    Solve data ``target_return`` (annual fraction); None gives plain minimum variance.
    """

    name: ClassVar[str] = "target_return"
    needs_expected_returns: ClassVar[bool] = True
    solve_data: ClassVar[tuple[str, ...]] = ("target_return",)


@dataclass(frozen=True)
class MaxReturn(Objective):
    """The largest expected return ``mu @ w`` on the feasible set (a linear programme)."""

    name: ClassVar[str] = "max_return"
    needs_expected_returns: ClassVar[bool] = True


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
        GroupRiskBudget,
    )
}
"""The objectives by name: the one list the config, the CLI and the jobs validate against.

:class:`TargetReturn` and :class:`MaxReturn` trace the frontier and are not listed.
"""


def make_objective(name: str, **options: Any) -> Objective:
    """Instantiate an objective by its config name.

    Raises
    ------
    InputError
        For an unknown name (listing the valid ones), an option the objective does not
        take, or an option out of range.
    """
    if name not in OBJECTIVES:
        raise InputError(
            f"unknown objective '{name}'",
            "objective",
            f"valid objectives: {', '.join(OBJECTIVES)}",
            did_you_mean(name, OBJECTIVES) or f"use one of {', '.join(OBJECTIVES)}",
        )
    cls = OBJECTIVES[name]
    unknown = sorted(set(options) - set(cls.options()))
    if unknown:
        accepted = ", ".join(cls.options()) or "none"
        raise InputError(
            f"unknown option {', '.join(unknown)} for objective {name}",
            "objective options",
            f"{name} accepts: {accepted}",
            did_you_mean(unknown[0], cls.options()) or "remove it",
        )
    return cls(**options)


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
    InputError
        An unknown key, a negative share, or no positive budget on any available name.
    """
    groups = groups or {}
    names = list(tickers)
    mask = np.ones(len(names), bool) if available is None else np.asarray(available, bool)
    shares = np.zeros(len(names))
    assigned = np.zeros(len(names), dtype=bool)
    for key, share in risk_budgets.items():
        if not finite_number(share) or share < 0:
            raise InputError(
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
            raise InputError(
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
        raise InputError(
            "no available name has a positive risk budget",
            "optimizer.risk_budgets",
            "risk parity needs at least one",
            "give a positive budget to an available name",
        )
    return shares / shares.sum()


def group_budget_shares(
    tickers: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    group_budgets: Mapping[str, float] | None = None,
    available: np.ndarray | Sequence[bool] | None = None,
) -> np.ndarray:
    """Risk budget of each name when groups share the risk, shape ``(n,)``, summing to 1.

    Parameters
    ----------
    tickers : sequence of str
        Order of the result.
    groups : mapping group -> members
        Each name counts in its first group; names in no group form one more group.
    group_budgets : mapping group -> share, optional
        Shares of total risk; groups not named (with an available member) share the rest
        ``max(1 - sum(shares), 0)`` equally. Default: equal shares.
    available : array of bool, optional
        Names that may hold weight; a group's share is split equally among its available
        members, and a group without one drops out (the shares are renormalised).

    Raises
    ------
    InputError
        A budget for an unknown group, a negative share, or no available name with a
        positive budget.
    """
    names = list(tickers)
    mask = np.ones(len(names), bool) if available is None else np.asarray(available, bool)
    budgets = dict(group_budgets or {})
    for key, share in budgets.items():
        if key not in groups:
            raise InputError(f"unknown group '{key}'", f"optimizer.group_budgets.{key}",
                             "a group budget names a group of [groups]",
                             did_you_mean(str(key), groups) or "use a group name")
        if not finite_number(share) or share < 0:
            raise InputError(f"group budget of '{key}' must be a fraction >= 0",
                             f"optimizer.group_budgets.{key}", f"got {share!r}", "use e.g. 0.2")
    owner: dict[str, str] = {}
    for group, members in groups.items():
        for ticker in members:
            owner.setdefault(ticker, group)
    membership = [owner.get(t, "") for t in names]
    live = {g for g, ok in zip(membership, mask) if ok}
    unnamed = [g for g in dict.fromkeys(membership) if g in live and g not in budgets]
    rest = max(1.0 - sum(budgets.values()), 0.0)
    share_of = {g: s for g, s in budgets.items() if g in live}
    share_of.update({g: rest / len(unnamed) for g in unnamed} if unnamed else {})
    counts = {g: sum(1 for m, ok in zip(membership, mask) if ok and m == g) for g in live}
    shares = np.array([share_of.get(g, 0.0) / counts[g] if ok and g in counts else 0.0
                       for g, ok in zip(membership, mask)])
    if shares.sum() <= 0:
        raise InputError("no available name has a positive risk budget",
                         "optimizer.group_budgets", "risk budgeting needs at least one",
                         "give a positive budget to a group with an available name")
    return shares / shares.sum()


def finite_number(value: Any) -> bool:
    """Whether ``value`` is a real number (not a bool) and finite."""
    return (
        isinstance(value, int | float | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def checked_rate(rate: Any) -> float:
    """An annual rate as a float, or an :class:`InputError` when it is not a finite number."""
    if not finite_number(rate):
        raise InputError(
            "risk_free_rate must be a finite number",
            "optimizer.risk_free_rate",
            f"got {rate!r}",
            "give an annual fraction, e.g. 0.04 for 4 %",
        )
    return float(rate)
