"""Why an allocation holds what it holds: every weight, what binds it, every zero's reason.

:func:`explain` reads an allocation's optimality conditions in plain words (DESIGN
principle 13). For each name: the weight (and USD amount for a capital), its risk
contribution ``w_i (Sigma w)_i / sigma`` and marginal risk ``(Sigma w)_i / sigma`` (annual
volatility per unit of weight), the limits that bind it, and a reason:

* a name held at a bound: the binding limit ("at its 20 % cap", "the semiconductors cap of
  40 % is full", "the openai_lookthrough cap of 15 % is full");
* a name at 0 %: not available (too little history), no risk budget, a full limit it
  belongs to, or -- the optimality condition itself -- what 1 % of it would do to the
  objective in place of the names held freely (off every bound and binding limit), e.g.
  "adding 1 % of NVDA in place of AMZN, ORCL would raise volatility by 14 bp";
* a name held freely: what the objective balances (equal marginal risk for minimum
  variance, the risk share against the budget for risk budgeting, ...).

The per-objective scores (what is minimised, in the units of the message) and their
gradients are in :data:`SCORES`; ``tests/test_explain.py`` checks every gradient against
finite differences of the score. Units: weights and risk are fractions (annual); a
change of the score for 1 % of weight is shown in basis points of volatility or utility,
or in Sharpe-ratio units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from portfolio.optimization.constraints import Constraint, LimitCheck, check_all
from portfolio.optimization.objectives import group_budget_shares, risk_budget_shares
from portfolio.weights import CASH

__all__ = [
    "SCORES",
    "Explanation",
    "GroupExplanation",
    "NameExplanation",
    "Score",
    "SolveContext",
    "explain",
]

BOUND_TOLERANCE = 1e-5
"""A weight within this of a bound, or a limit row within this of its bound, binds."""

STEP = 0.01
"""The weight moved in the zero-weight reasons: 1 % of the portfolio."""


@dataclass(frozen=True, eq=False)
class SolveContext:
    """The data an allocation was solved on (kept for :func:`explain`).

    Attributes
    ----------
    tickers : tuple of str
        Order of the arrays.
    covariance : ndarray, shape (n, n), or FactorCovariance
        Annualised covariance (the PSD matrix the solvers saw; a factor model stays in
        factor form, which supports ``@`` and ``diagonal()`` as the matrix does).
    expected_returns : ndarray, shape (n,), or None
        Annual expected returns, when the objective used them.
    lower, upper : ndarray, shape (n,)
        Per-name bounds of the solve (0 for names not available).
    objective : Objective
        The spec solved.
    data : Mapping
        The objective's solve data (budgets, groups, scenarios, risk-free rate...).
    """

    tickers: tuple[str, ...]
    covariance: Any
    expected_returns: np.ndarray | None
    lower: np.ndarray
    upper: np.ndarray
    objective: Any
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Score:
    """What an objective minimises, in words, with its gradient.

    Attributes
    ----------
    label : str
        The quantity (``"volatility"``, ``"Sharpe ratio"``, ``"utility"``).
    value : callable
        ``value(w, context) -> float``: the quantity at risky weights ``w``.
    gradient : callable
        ``gradient(w, context) -> ndarray``: its partial derivatives, shape ``(n,)``.
    higher_is_better : bool
        Whether the objective raises the quantity (Sharpe, utility) or lowers it.
    unit : str
        How a change is shown: ``"bp"`` (basis points of an annual fraction) or
        ``"ratio"``.
    """

    label: str
    value: Callable[[np.ndarray, SolveContext], float]
    gradient: Callable[[np.ndarray, SolveContext], np.ndarray]
    higher_is_better: bool = False
    unit: str = "bp"


def _volatility(w: np.ndarray, c: SolveContext) -> float:
    return float(np.sqrt(max(w @ c.covariance @ w, 0.0)))


def _volatility_gradient(w: np.ndarray, c: SolveContext) -> np.ndarray:
    sigma = _volatility(w, c)
    return c.covariance @ w / sigma if sigma > 0 else np.zeros_like(w)


def _excess(c: SolveContext) -> np.ndarray:
    rate = float(c.data.get("risk_free_rate", getattr(c.objective, "risk_free_rate", 0.0)))
    return np.asarray(c.expected_returns, dtype=float) - rate


def _sharpe(w: np.ndarray, c: SolveContext) -> float:
    sigma = _volatility(w, c)
    return float(_excess(c) @ w / sigma) if sigma > 0 else 0.0


def _sharpe_gradient(w: np.ndarray, c: SolveContext) -> np.ndarray:
    sigma = _volatility(w, c)
    if sigma <= 0:
        return np.zeros_like(w)
    return _excess(c) / sigma - (_excess(c) @ w) * (c.covariance @ w) / sigma**3


def _utility(w: np.ndarray, c: SolveContext) -> float:
    delta = c.objective.risk_aversion
    return float(c.expected_returns @ w - delta / 2 * w @ c.covariance @ w)


def _utility_gradient(w: np.ndarray, c: SolveContext) -> np.ndarray:
    return c.expected_returns - c.objective.risk_aversion * (c.covariance @ w)


def _diversification(w: np.ndarray, c: SolveContext) -> float:
    sigma = _volatility(w, c)
    return float(np.sqrt(c.covariance.diagonal()) @ w / sigma) if sigma > 0 else 0.0


def _diversification_gradient(w: np.ndarray, c: SolveContext) -> np.ndarray:
    sigma = _volatility(w, c)
    vols = np.sqrt(c.covariance.diagonal())
    if sigma <= 0:
        return np.zeros_like(w)
    return vols / sigma - (vols @ w) * (c.covariance @ w) / sigma**3


VOLATILITY = Score("volatility", _volatility, _volatility_gradient)
SCORES: dict[str, Score] = {
    "min_variance": VOLATILITY,
    "max_sharpe": Score("the Sharpe ratio", _sharpe, _sharpe_gradient, True, "ratio"),
    "utility": Score("the utility", _utility, _utility_gradient, True),
    "max_diversification": Score("the diversification ratio", _diversification,
                                 _diversification_gradient, True, "ratio"),
}
"""Scores by objective name; others (risk budgets, CVaR, tracking) explain by volatility."""


@dataclass(frozen=True)
class NameExplanation:
    """One name of an explained allocation.

    Attributes
    ----------
    ticker : str
    weight : float
        Fraction of the portfolio.
    amount : float or None
        USD, when a capital was given.
    risk_contribution : float
        ``w_i (Sigma w)_i / sigma``: its part of the annual volatility (fraction).
    risk_share : float
        ``risk_contribution / sigma`` (fractions summing to 1 over the names).
    marginal_risk : float
        ``(Sigma w)_i / sigma``: annual volatility added per unit of weight.
    group : str
        Its group ("" when none).
    binding : tuple of str
        Labels of the limit rows that bind it.
    reason : str
        Why it holds this weight, in words.
    score_change : float or None
        For a name at 0 % explained by the objective: the change of the objective's
        score (:data:`SCORES`) if 1 % of it replaced the freely held names pro rata
        (annual fraction, or ratio units).
    """

    ticker: str
    weight: float
    amount: float | None
    risk_contribution: float
    risk_share: float
    marginal_risk: float
    group: str
    binding: tuple[str, ...]
    reason: str
    score_change: float | None = None


@dataclass(frozen=True)
class GroupExplanation:
    """A group's totals: weight, risk contribution and share, the limits that bind it."""

    group: str
    weight: float
    risk_contribution: float
    risk_share: float
    binding: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    """An allocation explained (see the module docstring).

    Attributes
    ----------
    objective : str
    names : tuple of NameExplanation
        Largest weight first, then the names at 0 %.
    groups : tuple of GroupExplanation
    cash : float
        Cash weight.
    volatility : float
        Annual volatility.
    expected_return, sharpe : float or None
        Annual expected return and ``(mu - rf) w / sigma``, when the objective used
        expected returns.
    capital : float or None
        USD the amounts are computed on.
    """

    objective: str
    names: tuple[NameExplanation, ...]
    groups: tuple[GroupExplanation, ...]
    cash: float
    volatility: float
    expected_return: float | None
    sharpe: float | None
    capital: float | None

    @property
    def effective_names(self) -> float:
        """``1 / sum(v_i^2)`` of the risky weights renormalised to sum to 1 (N for N equal)."""
        w = np.array([n.weight for n in self.names])
        invested = w.sum()
        return float(1.0 / np.sum((w / invested) ** 2)) if invested > 0 else float("nan")

    def table(self) -> pd.DataFrame:
        """One row per name: weight, amount, risk contribution, marginal risk, reason."""
        return pd.DataFrame([vars(n) for n in self.names]).set_index("ticker")


def explain(allocation: Any, *, groups: Mapping[str, Sequence[str]] | None = None,
            capital: float | None = None) -> Explanation:
    """Explain an allocation from its optimality conditions (module docstring).

    Parameters
    ----------
    allocation : Allocation
        Solved by :class:`~portfolio.optimization.problem.PortfolioProblem` (which keeps
        the :class:`SolveContext`).
    groups : mapping group -> members, optional
        Groups for the totals; default the groups the limits name.
    capital : float, optional
        Portfolio value in USD for the amounts.

    Returns
    -------
    Explanation
    """
    context = allocation.context
    tickers = context.tickers
    w = allocation.weights.reindex(list(tickers)).to_numpy(dtype=float)
    groups = dict(groups) if groups is not None else _limit_groups(allocation.constraints)
    rows = check_all(allocation.constraints, w, tickers)
    binding = [r for r in rows if abs(r.value - r.limit) <= BOUND_TOLERANCE]
    sigma = _volatility(w, context)
    marginal = _volatility_gradient(w, context)
    contribution = w * marginal
    share = contribution / sigma if sigma > 0 else np.zeros_like(w)
    reasons = _Reasons(allocation, context, w, binding, share, groups)
    names = [
        NameExplanation(
            ticker=t, weight=float(w[i]),
            amount=None if capital is None else float(w[i] * capital),
            risk_contribution=float(contribution[i]), risk_share=float(share[i]),
            marginal_risk=float(marginal[i]), group=_group_of(t, groups),
            binding=tuple(r.name for r in reasons.rows_of(i)), reason=reasons.of(i),
            score_change=reasons.changes.get(i),
        )
        for i, t in enumerate(tickers)
    ]
    names.sort(key=lambda n: (-n.weight, tickers.index(n.ticker)))
    expected = allocation.expected_return
    return Explanation(
        objective=allocation.objective, names=tuple(names),
        groups=_group_rows(groups, tickers, w, contribution, sigma, binding),
        cash=float(allocation.weights.get(CASH, 0.0)), volatility=sigma,
        expected_return=expected,
        sharpe=None if context.expected_returns is None else _sharpe(w, context),
        capital=capital,
    )


class _Reasons:
    """The reason of each name, from the bounds, the binding rows and the score."""

    def __init__(self, allocation: Any, context: SolveContext, w: np.ndarray,
                 binding: list[LimitCheck], share: np.ndarray,
                 groups: Mapping[str, Sequence[str]]) -> None:
        self.context, self.w, self.binding, self.share = context, w, binding, share
        self.tickers = context.tickers
        self.loadings = _row_loadings(allocation.constraints, self.tickers)
        self.score = SCORES.get(allocation.objective, VOLATILITY)
        self.budgets = _budgets(context, groups)
        self.free = self._free_names()
        self.changes: dict[int, float] = {}

    def rows_of(self, i: int) -> list[LimitCheck]:
        """Binding rows that involve name ``i`` (its own bounds, groups, themes)."""
        ticker = self.tickers[i]
        own = [r for r in self.binding if r.subject == ticker]
        shared = [r for r in self.binding if r.kind in ("group_cap", "group_floor", "theme_cap")
                  and self.loadings.get(r.name, np.zeros(len(self.tickers)))[i] > 0]
        return own + shared

    def _free_names(self) -> np.ndarray:
        c, w = self.context, self.w
        off_bounds = (w > c.lower + BOUND_TOLERANCE) & (w < c.upper - BOUND_TOLERANCE)
        in_rows = np.zeros(len(w), dtype=bool)
        for row in self.binding:
            if row.kind in ("group_cap", "group_floor", "theme_cap"):
                in_rows |= self.loadings.get(row.name, np.zeros(len(w))) > 0
        return off_bounds & ~in_rows

    def of(self, i: int) -> str:
        c, w, ticker = self.context, self.w, self.tickers[i]
        if c.upper[i] <= 0:
            return "not available: too little price history at the date, held at 0"
        rows = self.rows_of(i)
        exposure = self._exposure(i)
        if self.budgets is not None and w[i] > 0:
            return (f"carries {100 * self.share[i]:.1f} % of the risk against a budget of "
                    f"{100 * self.budgets[i]:.1f} %" + _limits_text(rows, ticker, exposure))
        if rows:
            return _limits_text(rows, ticker, exposure).removeprefix("; ")
        if w[i] <= BOUND_TOLERANCE:
            return self._zero_reason(i)
        return self._free_reason(i)

    def _exposure(self, i: int) -> Callable[[LimitCheck], float]:
        return lambda row: float(self.loadings.get(row.name, np.zeros(len(self.w)))[i])

    def _zero_reason(self, i: int) -> str:
        if self.budgets is not None:
            return "no risk budget: held at 0"
        change, names = self.replacement_change(i)
        self.changes[i] = change
        verb = "raise" if change > 0 else "lower"
        return (f"adding 1 % of {self.tickers[i]} in place of {names} would {verb} "
                f"{self.score.label} by {_amount(change, self.score)}")

    def replacement_change(self, i: int) -> tuple[float, str]:
        """Change of the score for 1 % of name ``i`` funded by the freely held names."""
        w = self.w
        funders = self.free if self.free.any() else (w > self.context.lower + BOUND_TOLERANCE)
        direction = -np.where(funders, w, 0.0) / max(float(w[funders].sum()), 1e-12)
        direction[i] += 1.0
        gradient = self.score.gradient(w, self.context)
        held = [self.tickers[j] for j in np.flatnonzero(funders)]
        listed = ", ".join(held[:4]) + (f" and {len(held) - 4} more" if len(held) > 4 else "")
        return float(gradient @ direction) * STEP, listed or "the held names"

    def _free_reason(self, i: int) -> str:
        if self.score is VOLATILITY:
            return ("held freely: its marginal risk "
                    f"({100 * _volatility_gradient(self.w, self.context)[i]:.1f} % per unit) "
                    "equals that of the other names held off their limits")
        return f"held freely: the {self.score.label} is at its best for this weight"


def _amount(change: float, score: Score) -> str:
    if score.unit == "ratio":
        return f"{abs(change):.2g}"
    return f"{abs(change) * 1e4:.2g} bp"


def _limits_text(rows: list[LimitCheck], ticker: str,
                 exposure: Callable[[LimitCheck], float] = lambda row: 0.0) -> str:
    texts = []
    for row in rows:
        bound = f"{100 * row.limit:.4g} %"
        if row.kind == "max_weight":
            texts.append(f"at its {bound} cap")
        elif row.kind == "min_weight":
            texts.append(f"at its {bound} floor")
        elif row.kind == "group_cap":
            texts.append(f"the {row.subject} cap of {bound} is full")
        elif row.kind == "theme_cap":
            texts.append(f"the {row.subject} cap of {bound} is full (look-through exposure "
                         f"of {ticker} {100 * exposure(row):.1f} %)")
        elif row.kind == "group_floor":
            texts.append(f"the {row.subject} floor of {bound} holds it in")
    return "".join(f"; {t}" for t in texts)


def _row_loadings(constraints: Sequence[Any], tickers: tuple[str, ...]) -> dict[str, np.ndarray]:
    loadings = {}
    for item in constraints:
        if isinstance(item, Constraint) and hasattr(item, "loadings"):
            loadings[item.rows(tickers)[0][0]] = np.asarray(item.loadings(tickers), dtype=float)
    return loadings


def _limit_groups(constraints: Sequence[Any]) -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    for item in constraints:
        if getattr(item, "kind", "") in ("group_cap", "group_floor"):
            groups.setdefault(item.group, tuple(item.members))
    return groups


def _group_of(ticker: str, groups: Mapping[str, Sequence[str]]) -> str:
    return next((g for g, members in groups.items() if ticker in members), "")


def _budgets(context: SolveContext, groups: Mapping[str, Sequence[str]]) -> np.ndarray | None:
    """The per-name risk budgets of a risk-budgeting objective, else None."""
    name = getattr(context.objective, "name", "")
    available = context.upper > 0
    if name == "group_risk_budget":
        return group_budget_shares(context.tickers, context.data.get("groups", groups),
                                   context.data.get("group_budgets"), available)
    if name == "risk_parity":
        return risk_budget_shares(context.tickers, context.data.get("risk_budgets") or {},
                                  context.data.get("groups"), available)
    return None


def _group_rows(groups: Mapping[str, Sequence[str]], tickers: tuple[str, ...], w: np.ndarray,
                contribution: np.ndarray, sigma: float, binding: list[LimitCheck]
                ) -> tuple[GroupExplanation, ...]:
    rows = []
    for group, members in groups.items():
        index = [i for i, t in enumerate(tickers) if t in set(members)]
        risk = float(contribution[index].sum())
        rows.append(GroupExplanation(
            group=group, weight=float(w[index].sum()), risk_contribution=risk,
            risk_share=risk / sigma if sigma > 0 else 0.0,
            binding=tuple(r.name for r in binding if r.subject == group),
        ))
    return tuple(rows)
