"""One small object per limit, shared by the optimizer, the reports and the backtests.

Conventions
-----------
* ``tickers`` fixes the order of the risky-weight vector ``w`` (shape ``(n,)``); cash is
  implicit: ``cash = 1 - sum(w)``. Weights are fractions of portfolio value.
* Every limit is a set of *rows* ``value_r(w) <= bound_r`` (or ``>=``). A row has a
  label (``"max_weight[NVDA]"``) used in the limit table and in infeasibility messages.
* ``check(weights)`` evaluates a plain :class:`pandas.Series` of weights (ticker ->
  fraction, may include ``"CASH"``) without a solver; ``to_cvxpy(w, tickers, slack)``
  returns the cvxpy constraints, optionally relaxed by a non-negative slack vector (the
  elastic problem used to diagnose infeasibility).
* Penalties (:class:`TransactionCosts`, :class:`L2Regularization`) are objective terms,
  not limits: they expose ``penalty(w, tickers)`` and no rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from portfolio.errors import InputError
from portfolio.weights import WEIGHT_TOLERANCE, weights_and_cash, weights_vector

__all__ = [
    "CashFloor",
    "Constraint",
    "GroupCap",
    "GroupFloor",
    "L2Regularization",
    "LimitCheck",
    "MaxTurnover",
    "MaxWeight",
    "MinWeight",
    "ThemeCap",
    "TransactionCosts",
    "check_all",
]


@dataclass(frozen=True)
class LimitCheck:
    """One row of the limit table.

    Attributes
    ----------
    name : str
        Row label, e.g. ``"group_cap[semiconductors]"``.
    value : float
        Current value (fraction).
    limit : float
        The bound (fraction).
    sense : str
        ``"<="`` for a cap, ``">="`` for a floor.
    ok : bool
        Whether the bound holds within the tolerance.
    kind : str
        The kind of limit (``"max_weight"``, ``"group_cap"``, ``"cash_floor"``, ...).
    subject : str
        What the row is about: a ticker, a group, a theme cap's name; ``""`` for a
        portfolio-wide row (cash floor, turnover).
    """

    name: str
    value: float
    limit: float
    sense: str
    ok: bool
    kind: str = ""
    subject: str = ""

    @property
    def excess(self) -> float:
        """How far the value is beyond the bound (0 when ok)."""
        gap = self.value - self.limit if self.sense == "<=" else self.limit - self.value
        return max(gap, 0.0)


class Constraint:
    """Base class: a limit made of rows ``value(w) sense bound``.

    Subclasses define :meth:`rows` (labels, bounds) and :meth:`values` (numpy) and
    :meth:`expression` (cvxpy); both evaluate the same formula.
    """

    sense = "<="
    kind = ""

    def rows(self, tickers: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """Return the row labels and bounds for the given ticker order."""
        raise NotImplementedError

    def subjects(self, tickers: Sequence[str]) -> list[str]:
        """What each row is about (a ticker, a group, a theme); ``""`` portfolio-wide."""
        return [""] * len(self.rows(tickers)[0])

    def values(self, w: np.ndarray, tickers: Sequence[str]) -> np.ndarray:
        """Evaluate the rows on a numpy weight vector, shape ``(n,)`` -> ``(m,)``."""
        raise NotImplementedError

    def expression(self, w: Any, tickers: Sequence[str], scale: Any = 1.0) -> Any:
        """The rows as a cvxpy expression of the variable ``w``.

        ``scale`` homogenises the rows for the max-Sharpe change of variables
        (``y = kappa * w``): constants are multiplied by it.
        """
        raise NotImplementedError

    def check(self, weights: pd.Series | Mapping[str, float], tickers: Sequence[str],
              tol: float = WEIGHT_TOLERANCE) -> tuple[LimitCheck, ...]:
        """Evaluate the limit on plain weights (no solver).

        ``weights`` is a mapping / Series by ticker, or a numpy vector already in
        ``tickers`` order (the optimiser's fast path).
        """
        labels, bounds = self.rows(tickers)
        vector = weights if isinstance(weights, np.ndarray) else weights_vector(weights, tickers)
        values = self.values(vector, tickers)
        sign = 1.0 if self.sense == "<=" else -1.0
        return tuple(
            LimitCheck(label, float(v), float(b), self.sense, bool(sign * (v - b) <= tol),
                       self.kind, subject)
            for label, v, b, subject in zip(labels, values, bounds, self.subjects(tickers))
        )

    def to_cvxpy(self, w: Any, tickers: Sequence[str], slack: Any = None, scale: Any = 1.0) -> list:
        """Return the cvxpy constraints; ``slack`` (shape ``(m,)``, >= 0) relaxes every row."""
        _, bounds = self.rows(tickers)
        if len(bounds) == 0:
            return []
        expr = self.expression(w, tickers, scale)
        bound = bounds * scale if scale is not None else bounds
        if slack is not None:
            bound = bound + slack if self.sense == "<=" else bound - slack
        return [expr <= bound] if self.sense == "<=" else [expr >= bound]


def _frozen(mapping: Mapping[str, float] | None) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class MaxWeight(Constraint):
    """Cap on each name: ``w_i <= cap_i`` (global cap plus per-ticker overrides)."""

    cap: float = 1.0
    overrides: Mapping[str, float] = field(default_factory=dict)
    kind = "max_weight"

    def subjects(self, tickers):
        """The ticker of each row."""
        return list(tickers)

    def caps(self, tickers: Sequence[str]) -> np.ndarray:
        """Cap per ticker, shape ``(n,)``."""
        return np.array([self.overrides.get(t, self.cap) for t in tickers], dtype=float)

    def rows(self, tickers):
        """Row labels and bounds; see :meth:`Constraint.rows`."""
        return [f"max_weight[{t}]" for t in tickers], self.caps(tickers)

    def values(self, w, tickers):
        """Row values on numpy weights; see :meth:`Constraint.values`."""
        return w

    def expression(self, w, tickers, scale=1.0):
        """Rows as a cvxpy expression; see :meth:`Constraint.expression`."""
        return w


@dataclass(frozen=True)
class MinWeight(Constraint):
    """Floor on each name: ``w_i >= floor_i`` (global floor plus per-ticker overrides)."""

    floor: float = 0.0
    overrides: Mapping[str, float] = field(default_factory=dict)
    sense = ">="
    kind = "min_weight"

    def subjects(self, tickers):
        """The ticker of each row."""
        return list(tickers)

    def floors(self, tickers: Sequence[str]) -> np.ndarray:
        """Floor per ticker, shape ``(n,)``."""
        return np.array([self.overrides.get(t, self.floor) for t in tickers], dtype=float)

    def rows(self, tickers):
        """Row labels and bounds; see :meth:`Constraint.rows`."""
        return [f"min_weight[{t}]" for t in tickers], self.floors(tickers)

    def values(self, w, tickers):
        """Row values on numpy weights; see :meth:`Constraint.values`."""
        return w

    def expression(self, w, tickers, scale=1.0):
        """Rows as a cvxpy expression; see :meth:`Constraint.expression`."""
        return w


@dataclass(frozen=True)
class _LinearRow(Constraint):
    """A single linear row ``loadings @ w (+ offset)`` against ``bound``."""

    def loadings(self, tickers: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    offset = 0.0

    def label(self) -> str:
        raise NotImplementedError

    def bound(self) -> float:
        raise NotImplementedError

    def rows(self, tickers):
        """Row labels and bounds; see :meth:`Constraint.rows`."""
        return [self.label()], np.array([self.bound()])

    def linear_form(self, tickers: Sequence[str]) -> tuple[np.ndarray, float, float, str]:
        """Return ``(loadings, offset, bound, sense)``: the row is ``loadings @ w + offset``."""
        return self.loadings(tickers), self.offset, self.bound(), self.sense

    def values(self, w, tickers):
        """Row values on numpy weights; see :meth:`Constraint.values`."""
        return np.atleast_1d(self.loadings(tickers) @ w + self.offset)

    def expression(self, w, tickers, scale=1.0):
        """Rows as a cvxpy expression; see :meth:`Constraint.expression`."""
        return self.loadings(tickers) @ w + self.offset * scale


def _finite_number(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _membership(members: Sequence[str], tickers: Sequence[str]) -> np.ndarray:
    chosen = set(members)
    return np.array([1.0 if t in chosen else 0.0 for t in tickers])


@dataclass(frozen=True)
class GroupCap(_LinearRow):
    """Cap on a group's summed weight: ``sum_{i in group} w_i <= cap``."""

    group: str = ""
    members: tuple[str, ...] = ()
    cap: float = 1.0
    kind = "group_cap"

    def subjects(self, tickers):
        """The group."""
        return [self.group]

    def loadings(self, tickers):
        """Weight of each ticker in the row, shape ``(n,)``."""
        return _membership(self.members, tickers)

    def label(self):
        """Row label."""
        return f"group_cap[{self.group}]"

    def bound(self):
        """Row bound (fraction)."""
        return self.cap


@dataclass(frozen=True)
class GroupFloor(_LinearRow):
    """Floor on a group's summed weight: ``sum_{i in group} w_i >= floor``."""

    group: str = ""
    members: tuple[str, ...] = ()
    floor: float = 0.0
    sense = ">="
    kind = "group_floor"

    def subjects(self, tickers):
        """The group."""
        return [self.group]

    def loadings(self, tickers):
        """Weight of each ticker in the row, shape ``(n,)``."""
        return _membership(self.members, tickers)

    def label(self):
        """Row label."""
        return f"group_floor[{self.group}]"

    def bound(self):
        """Row bound (fraction)."""
        return self.floor


@dataclass(frozen=True)
class CashFloor(_LinearRow):
    """Minimum cash weight: ``1 - sum(w) >= floor``."""

    floor: float = 0.0
    sense = ">="
    offset = 1.0
    kind = "cash_floor"

    def loadings(self, tickers):
        """Weight of each ticker in the row, shape ``(n,)``."""
        return -np.ones(len(tickers))

    def label(self):
        """Row label."""
        return "cash_floor"

    def bound(self):
        """Row bound (fraction)."""
        return self.floor


@dataclass(frozen=True)
class ThemeCap(_LinearRow):
    """Cap on a linear exposure: ``sum_i w_i * loading_i <= cap``.

    Used for the OpenAI look-through exposure (loadings from :mod:`portfolio.analytics.exposure`);
    tickers without a loading count 0.

    Raises
    ------
    InputError
        An exposure that is not a finite number.
    """

    name: str = "theme_cap"
    exposures: Mapping[str, float] = field(default_factory=dict)
    cap: float = 1.0
    kind = "theme_cap"

    def subjects(self, tickers):
        """The theme cap's name."""
        return [self.name]

    def __post_init__(self) -> None:
        bad = [str(t) for t, x in self.exposures.items() if not _finite_number(x)]
        if bad:
            raise InputError(
                f"exposure of {', '.join(bad)} is not a finite number", self.label(),
                "an exposure is a finite number (fraction of the name's value)",
                "give a number per ticker, e.g. 0.1",
            )

    def loadings(self, tickers):
        """Weight of each ticker in the row, shape ``(n,)``."""
        return np.array([float(self.exposures.get(t, 0.0)) for t in tickers])

    def label(self):
        """Row label."""
        return f"theme_cap[{self.name}]"

    def bound(self):
        """Row bound (fraction)."""
        return self.cap


@dataclass(frozen=True)
class MaxTurnover(Constraint):
    """One-way turnover cap against current weights.

    ``turnover = 0.5 * (sum_i |w_i - w0_i| + |cash - cash0|)``: the fraction of the
    portfolio bought (equal to the fraction sold, cash included).
    """

    limit: float = 1.0
    current: Mapping[str, float] = field(default_factory=dict)
    kind = "max_turnover"

    def rows(self, tickers):
        """Row labels and bounds; see :meth:`Constraint.rows`."""
        return ["max_turnover"], np.array([self.limit])

    def values(self, w, tickers):
        """Row values on numpy weights; see :meth:`Constraint.values`."""
        w0, cash0 = weights_and_cash(self.current, tickers)
        cash = 1.0 - w.sum()
        return np.array([0.5 * (np.abs(w - w0).sum() + abs(cash - cash0))])

    def expression(self, w, tickers, scale=1.0):
        """Rows as a cvxpy expression; see :meth:`Constraint.expression`."""
        import cvxpy as cp

        w0, cash0 = weights_and_cash(self.current, tickers)
        return 0.5 * (cp.norm1(w - scale * w0) + cp.abs(scale * (1 - cash0) - cp.sum(w)))


@dataclass(frozen=True)
class TransactionCosts:
    """Linear cost in the objective: ``bps / 1e4 * sum_i |w_i - w0_i|`` (fraction of value)."""

    bps: float = 0.0
    current: Mapping[str, float] = field(default_factory=dict)

    def penalty(self, w: Any, tickers: Sequence[str]) -> Any:
        """Return the cvxpy expression of the cost, in fractions of portfolio value."""
        import cvxpy as cp

        return self.bps / 1e4 * cp.norm1(w - weights_vector(self.current, tickers))


@dataclass(frozen=True)
class L2Regularization:
    """``gamma * ||w||^2``: pulls weights toward equal to avoid corner solutions."""

    gamma: float = 0.0

    def penalty(self, w: Any, tickers: Sequence[str]) -> Any:
        """Return the cvxpy expression of the penalty."""
        import cvxpy as cp

        return self.gamma * cp.sum_squares(w)


def check_all(
    constraints: Sequence[Any], weights: pd.Series | Mapping[str, float], tickers: Sequence[str],
    tol: float = WEIGHT_TOLERANCE,
) -> tuple[LimitCheck, ...]:
    """The limit table: every row of every limit (penalties are skipped)."""
    if not isinstance(weights, np.ndarray):
        weights = weights_vector(weights, tickers)  # align once, not once per limit
    rows: list[LimitCheck] = []
    for constraint in constraints:
        if isinstance(constraint, Constraint):
            rows.extend(constraint.check(weights, tickers, tol))
    return tuple(rows)
