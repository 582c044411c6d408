"""Strategies: what decides the target weights at each rebalance date of a backtest.

A strategy implements the :class:`Strategy` protocol: a ``name``, whether it
``rebalances`` after inception, the ``limits`` a drift band checks, and
``target(past)``, which receives a :class:`~portfolio.backtesting.market.PastView` --
only the prices and returns strictly before the decision date -- and returns target
weights: a pandas Series or mapping by ticker under the implicit-cash rule of
:func:`portfolio.weights.parse_weights` (without ``CASH`` the rest is cash), or a
:class:`Target` that also names the solver. Names not available at the date must get 0.

A strategy may also have ``prepare(pasts, ahead)``: the engine, given an
:data:`AheadMap`, calls it once before the walk with the views of every calendar
decision date, so that work which needs only those views can start ahead.

Subclass :class:`BaseStrategy` for the defaults. The built-in strategies are
:class:`EqualWeight`, :class:`BuyAndHold` and :class:`OptimizedStrategy` (a
:class:`~portfolio.optimization.problem.PortfolioProblem` compiled once and re-solved at
each date on the estimates of :class:`WindowEstimates`, shared across strategies).

While few names are listed (a backtest starting in 2000), the group and theme caps over
the names available may hold less than the invested budget ``1 - cash_floor``: an
:class:`OptimizedStrategy` then invests what they can hold
(:func:`~portfolio.optimization.turnover.most_invested`) and keeps the rest in cash, and
lists those dates in :meth:`OptimizedStrategy.notes`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from portfolio.backtesting.market import PastView
from portfolio.estimate.covariance import CovarianceEstimate
from portfolio.estimate.inputs import ReturnSettings, RiskInputs, RiskSettings, estimate_inputs
from portfolio.optimization.constraints import CashFloor
from portfolio.optimization.problem import PortfolioProblem
from portfolio.optimization.turnover import most_invested, turnover_set

__all__ = [
    "AheadMap",
    "BaseStrategy",
    "BuyAndHold",
    "EqualWeight",
    "OptimizedStrategy",
    "Strategy",
    "Target",
    "WindowEstimates",
    "estimate_window",
]


@dataclass(frozen=True)
class Target:
    """Target weights with how they were found.

    Attributes
    ----------
    weights : Series or mapping
        Fractions by ticker (``CASH`` optional: without it the rest is cash).
    solver : str
        The solver that produced them, counted in the run's manifest ("" for none).
    """

    weights: pd.Series | Mapping[str, float]
    solver: str = ""


@runtime_checkable
class Strategy(Protocol):
    """The protocol every backtest strategy implements (module docstring)."""

    name: str
    rebalances: bool
    limits: tuple[Any, ...]

    def target(self, past: PastView) -> Target | pd.Series | Mapping[str, float]:
        """Target weights at ``past.date`` from what is known before it."""
        ...


class BaseStrategy:
    """Defaults for a strategy: rebalances at every scheduled date, no limit objects.

    Parameters
    ----------
    name : str
        Label in tables, files and plots.
    """

    rebalances: bool = True
    limits: tuple[Any, ...] = ()

    def __init__(self, name: str) -> None:
        self.name = name

    def target(self, past: PastView) -> Target | pd.Series | Mapping[str, float]:
        """Target weights at ``past.date``; subclasses implement it."""
        raise NotImplementedError

    def prepare(self, pasts: Sequence[PastView], ahead: AheadMap) -> None:
        """Start work for the decision dates ``pasts`` with ``ahead`` (optional).

        The engine calls it once before the walk when it is given an :data:`AheadMap` and
        the schedule is a calendar. The default does nothing.
        """


class EqualWeight(BaseStrategy):
    """Equal weight of the available names, fully invested."""

    def target(self, past: PastView) -> Target:
        """``1 / n`` of each of the ``n`` available names (0 for the others).

        A float Series over the universe, the form the engine takes without parsing.
        """
        listed = set(past.available)
        share = 1.0 / len(listed) if listed else 0.0
        return Target(pd.Series([share if t in listed else 0.0 for t in past.tickers],
                                index=list(past.tickers), dtype=float))


class BuyAndHold(EqualWeight):
    """The inception's equal weight, never rebalanced."""

    rebalances = False


AheadMap = Callable[[Callable[[Any], Any], Sequence[Any]], Iterator[tuple[bool, Any]]]
"""``ahead(function, items)``: ``function(item)`` for each item, in order, computed ahead of
the reader (e.g. in a forked process, :func:`portfolio.jobs.workers.forked_map`); per item
``(True, result)`` or ``(False, None)`` when that item is to be computed by the reader."""


class WindowEstimates:
    """Risk inputs of each decision date, estimated once and shared by the strategies.

    Strategies :meth:`request` what they will ask :meth:`at` for when they are built.
    Given an :data:`AheadMap` (:meth:`prefetch`), the next decision dates are estimated
    elsewhere while the strategies solve the current one. A date is estimated by the same
    function either way (:func:`estimate_window`), so the results are identical.

    Parameters
    ----------
    risk : RiskSettings
        Estimator settings (the method is chosen per request).
    lookback_days : int
        Daily returns seen at each date.
    markets : mapping ticker -> exchange, optional
        Where each name trades (the asynchronous-close correction).
    """

    def __init__(self, risk: RiskSettings, lookback_days: int,
                 markets: Mapping[str, str] | None = None) -> None:
        self.risk = risk
        self.lookback_days = lookback_days
        self.markets = dict(markets or {})
        self.requests: list[tuple[str, ReturnSettings | None]] = []
        self._cache: dict[tuple, RiskInputs] = {}
        self._padded: dict[tuple, CovarianceEstimate] = {}
        self._upcoming: deque[PastView] = deque()
        self._ahead: Iterator[tuple[bool, Any]] | None = None

    def request(self, method: str, expected: ReturnSettings | None) -> None:
        """Declare that a strategy will ask :meth:`at` for ``(method, expected)``."""
        if (method, expected) not in self.requests:
            self.requests.append((method, expected))

    def prefetch(self, pasts: Sequence[PastView], ahead: AheadMap) -> None:
        """Estimate every request at the decision dates ``pasts`` ahead, with ``ahead``.

        :meth:`at` takes a date's estimates from there, and estimates in this process a
        date whose work failed (its error is then raised here). Only the first call
        starts anything.
        """
        if self._ahead is not None or not self.requests or not pasts:
            return
        self._upcoming = deque(sorted(pasts, key=lambda past: past.date))
        self._ahead = ahead(self._estimate, list(self._upcoming))

    def at(self, past: PastView, method: str, expected: ReturnSettings | None) -> RiskInputs:
        """:func:`~portfolio.estimate.inputs.estimate_inputs` of the window before ``past.date``.

        Only the current date's estimates are kept (a walk-forward never goes back); the
        window's returns are taken once a date, and the covariance of a date, names and
        method is estimated once, whatever the expected returns asked with it.
        """
        key = (past.date, past.available, method, expected)
        if key not in self._cache:
            if any(k[0] != past.date for k in self._cache):
                self._cache, self._padded = {}, {}
            self._cache.update(self._prefetched(past))
        if key not in self._cache:
            shared = next((v.covariance for k, v in self._cache.items() if k[:3] == key[:3]),
                          None)
            window = next((v.returns for k, v in self._cache.items() if k[:2] == key[:2]),
                          None)
            self._cache[key] = estimate_inputs(
                self._window(past) if window is None else window, past.tickers,
                replace(self.risk, method=method), expected=expected, covariance=shared,
                **self._context(past))
        return self._cache[key]

    def padded(self, past: PastView, method: str, tickers: Sequence[str]) -> CovarianceEstimate:
        """The date's covariance (that of :meth:`at`) padded to ``tickers``, padded once.

        See :meth:`~portfolio.estimate.inputs.RiskInputs.padded_estimate`.
        """
        key = (past.date, past.available, method, tuple(tickers))
        if key not in self._padded:
            inputs = next((v for k, v in self._cache.items() if k[:3] == key[:3]), None)
            if inputs is None:  # asked before at(): estimate the covariance alone
                inputs = self.at(past, method, None)
            self._padded[key] = inputs.padded_estimate(tickers)
        return self._padded[key]

    def _window(self, past: PastView) -> pd.DataFrame:
        return past.returns(self.lookback_days, frequency=self.risk.frequency)

    def _context(self, past: PastView) -> dict[str, Any]:
        return {"available": past.available, "risk_free_rate": past.cash_rate,
                "markets": self.markets, "where": str(past.date.date())}

    def _estimate(self, past: PastView) -> tuple[dict[tuple, RiskInputs],
                                                 dict[str, CovarianceEstimate]]:
        """A date's requests (:func:`estimate_window`) and each method's padded covariance."""
        found = estimate_window(self._window(past), past.tickers, self.risk,
                                tuple(self.requests), self._context(past))
        padded: dict[str, CovarianceEstimate] = {}
        for (method, _), inputs in found.items():  # the requests of a method share one
            if method not in padded:
                padded[method] = inputs.padded_estimate(past.tickers)
        return found, padded

    def _prefetched(self, past: PastView) -> dict[tuple, RiskInputs]:
        """The estimates made ahead for ``past.date`` by key of :meth:`at` ({} if none).

        The padded covariances made with them go to :meth:`padded`'s store.
        """
        found: tuple[bool, Any] = (False, None)
        while self._upcoming and self._upcoming[0].date <= past.date:
            planned = self._upcoming.popleft()
            made = next(self._ahead, (False, None))  # an earlier date is read and dropped
            if planned.date == past.date and planned.available == past.available:
                found = made
        if not self._upcoming and hasattr(self._ahead, "close"):
            self._ahead.close()  # the last date: the worker is done
        ok, estimates = found
        if not ok:
            return {}
        inputs, padded = estimates
        key = (past.date, past.available)
        self._padded.update({(*key, method, tuple(past.tickers)): estimate
                             for method, estimate in padded.items()})
        return {(*key, *request): value for request, value in inputs.items()}


def estimate_window(window: pd.DataFrame, tickers: Sequence[str], risk: RiskSettings,
                    requests: Sequence[tuple[str, ReturnSettings | None]],
                    context: Mapping[str, Any]) -> dict[tuple, RiskInputs]:
    """Every request of one decision date, each method's covariance estimated once.

    Parameters
    ----------
    window : DataFrame
        The date's returns (:meth:`~portfolio.backtesting.market.PastView.returns`).
    tickers : sequence of str
        The universe.
    risk : RiskSettings
        Estimator settings; each request names its method.
    requests : sequence of (method, ReturnSettings or None)
        What the strategies ask for.
    context : mapping
        ``available``, ``risk_free_rate``, ``markets`` and ``where`` of
        :func:`~portfolio.estimate.inputs.estimate_inputs`.

    Returns
    -------
    dict
        ``(method, expected) -> RiskInputs``.
    """
    found: dict[tuple, RiskInputs] = {}
    for method, expected in requests:
        shared = next((v.covariance for (m, _), v in found.items() if m == method), None)
        found[(method, expected)] = estimate_inputs(
            window, tickers, replace(risk, method=method), expected=expected,
            covariance=shared, **context)
    return found


class OptimizedStrategy(BaseStrategy):
    """One compiled problem re-solved at each rebalance date.

    Parameters
    ----------
    name : str
        Label of the strategy.
    problem : PortfolioProblem
        Universe, objective and limits (built once).
    estimates : WindowEstimates
        Shared estimates of each date.
    method : str
        Covariance estimator.
    expected : ReturnSettings or None
        How expected returns are estimated, when the objective needs them.
    solve_data : callable
        ``solve_data(inputs) -> dict``: the objective's data of the date.
    """

    def __init__(self, name: str, problem: PortfolioProblem, estimates: WindowEstimates,
                 method: str, expected: ReturnSettings | None,
                 solve_data: Callable[[RiskInputs], dict[str, Any]]) -> None:
        super().__init__(name)
        self.problem = problem
        self.limits = problem.constraints
        self.estimates = estimates
        self.method = method
        self.expected = expected
        self.solve_data = solve_data
        estimates.request(method, expected)
        self._invested: dict[bytes, float | None] = {}
        self._variants: dict[float, PortfolioProblem] = {}
        self.reduced: dict[pd.Timestamp, float] = {}
        """Rebalance date -> invested fraction, where the limits held less than the budget."""

    def target(self, past: PastView) -> Target:
        """The problem's solution on the estimates of the window before ``past.date``."""
        inputs = self.estimates.at(past, self.method, self.expected)
        tickers = self.problem.tickers
        mu = inputs.expected_returns
        listed = set(past.available)
        available = np.array([t in listed for t in tickers])
        problem = self._problem_for(available, past.date)
        weights, info = problem.solve_weights(
            self.estimates.padded(past, self.method, tickers),
            None if mu is None else mu.reindex(list(tickers)).to_numpy(),
            available=available,
            **self.solve_data(inputs),
        )
        return Target(pd.Series(weights, index=tickers), info.solver)

    def prepare(self, pasts: Sequence[PastView], ahead: AheadMap) -> None:
        """Estimate the windows of ``pasts`` ahead (:meth:`WindowEstimates.prefetch`)."""
        self.estimates.prefetch(pasts, ahead)

    def _problem_for(self, available: np.ndarray, date: pd.Timestamp) -> PortfolioProblem:
        """The problem, or a copy whose cash floor leaves what the limits can hold invested.

        The largest investable fraction is one LP per set of available names; a copy is
        built once per such fraction (a few in a backtest from 2000).
        """
        key = available.tobytes()
        if key not in self._invested:
            feasible = turnover_set(self.problem.constraints, self.problem.tickers)
            reached = most_invested(replace(feasible, upper=np.where(available, feasible.upper,
                                                                     0.0)))
            self._invested[key] = None if reached is None else round(reached[0], 10)
        invested = self._invested[key]
        if invested is None or invested >= self.problem.budget - 1e-9 or invested <= 0:
            return self.problem  # its own checks name an empty set
        if invested not in self._variants:
            kept = [c for c in self.problem.constraints if not isinstance(c, CashFloor)]
            self._variants[invested] = PortfolioProblem(
                self.problem.tickers, self.problem.objective, [*kept, CashFloor(1.0 - invested)],
                solver=self.problem.solver)
        self.reduced[date] = invested
        return self._variants[invested]

    def notes(self) -> list[str]:
        """One line on the dates the limits held less than the invested budget, if any."""
        if not self.reduced:
            return []
        dates, invested = list(self.reduced), list(self.reduced.values())
        return [
            f"{self.name}: on {len(dates)} rebalance dates ({dates[0].date()} .. "
            f"{dates[-1].date()}) the limits over the names then listed could hold only "
            f"{100 * min(invested):.1f} % .. {100 * max(invested):.1f} % invested, not the "
            f"{100 * self.problem.budget:.0f} % above the cash floor; the rest stayed in cash."
        ]
