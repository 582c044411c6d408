"""The efficient frontier under the configured limits.

Each point minimises annualised variance ``w' Sigma w`` subject to a target expected
return ``mu @ w >= target`` and the SAME limit objects the optimiser uses (caps, floors,
group and theme caps, cash floor, turnover), so every point is a portfolio the investor
may actually hold. Targets run evenly from the minimum-variance portfolio's return to the
largest feasible return (a linear programme). The target enters as a cvxpy Parameter:
the problem is compiled once and re-solved per point (DPP).

Penalty terms (transaction costs, L2 regularisation) are not part of the frontier: it
traces pure risk against return. Units: annual fractions (0.25 = 25 % a year).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cvxpy as cp
import numpy as np
import pandas as pd

from portfolio.optimization.constraints import CASH, check_all
from portfolio.errors import DataError, InputError
from portfolio.optimization.objectives import Objective, ProblemData, feasible_set
from portfolio.optimization.problem import PortfolioProblem, availability_mask

if TYPE_CHECKING:
    from portfolio.config import Config
    from portfolio.data.holdings import Holdings
    from portfolio.jobs.market import DataOptions, MarketData

__all__ = [
    "Frontier",
    "FrontierRun",
    "MarkedPortfolio",
    "efficient_frontier",
    "frontier_from_config",
]

MAX_POINTS = 500
_TOP_SHRINK = 1e-7  # the last target sits this fraction of the return range below the maximum


class _TargetReturn(Objective):
    """Minimum variance with ``mu @ w >= target`` (target a Parameter)."""

    name = "target_return"
    DATA = ("target_return",)
    NEEDS_EXPECTED_RETURNS = True

    def __init__(self) -> None:
        self.target = cp.Parameter(name="target_return")

    def build(self, data: ProblemData) -> tuple[cp.Problem, Any]:
        w = cp.Variable(len(data.tickers), name="w")
        self._weights = w
        constraints = [*feasible_set(data, w), data.mu @ w >= self.target]
        return cp.Problem(cp.Minimize(cp.sum_squares(data.factor @ w)), constraints), w

    def set_data(self, data: ProblemData, target_return: float | None = None, **extra: Any) -> None:
        if target_return is None:  # below any feasible return: plain minimum variance
            target_return = min(float(np.min(data.mu.value)), 0.0) - 1.0
        self.target.value = float(target_return)


class _MaxReturn(Objective):
    """Largest expected return ``mu @ w`` on the feasible set (a linear programme)."""

    name = "max_return"
    NEEDS_EXPECTED_RETURNS = True

    def build(self, data: ProblemData) -> tuple[cp.Problem, Any]:
        w = cp.Variable(len(data.tickers), name="w")
        self._weights = w
        return cp.Problem(cp.Maximize(data.mu @ w), feasible_set(data, w)), w


@dataclass(frozen=True)
class Frontier:
    """Points of the efficient frontier.

    Attributes
    ----------
    points : DataFrame
        Index ``point`` (0 = minimum variance, increasing return); columns
        ``volatility`` (annualised, fraction), ``expected_return`` (annual, fraction) and
        ``sharpe`` (``(expected_return - risk_free_rate) / volatility``).
    weights : DataFrame
        Index ``point``; columns the tickers then ``"CASH"``; each row sums to 1.
    risk_free_rate : float
        Annual risk-free rate used for the Sharpe ratios (fraction).
    assets : DataFrame
        Index ticker; columns ``volatility`` and ``expected_return`` of each single name.
    """

    points: pd.DataFrame
    weights: pd.DataFrame
    risk_free_rate: float
    assets: pd.DataFrame


def _aligned(
    covariance: pd.DataFrame | np.ndarray, expected_returns: pd.Series | np.ndarray,
    tickers: Sequence[str] | None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    if tickers is None:
        if isinstance(covariance, pd.DataFrame):
            tickers = list(covariance.index)
        elif isinstance(expected_returns, pd.Series):
            tickers = list(expected_returns.index)
        else:
            raise InputError(
                "no ticker labels for the frontier", "efficient_frontier",
                "plain arrays carry no labels", "pass tickers=[...] or labelled pandas objects",
            )
    tickers = list(tickers)
    if isinstance(covariance, pd.DataFrame):
        missing = [t for t in tickers if t not in covariance.index or t not in covariance.columns]
        if missing:
            raise InputError(f"no covariance for {', '.join(missing)}", "covariance",
                             "every ticker needs a row and a column", "estimate it on the universe")
        sigma = covariance.loc[tickers, tickers].to_numpy(dtype=float)
    else:
        sigma = np.asarray(covariance, dtype=float)
    if isinstance(expected_returns, pd.Series):
        missing = [t for t in tickers if t not in expected_returns.index]
        if missing:
            raise InputError(f"no expected return for {', '.join(missing)}", "expected returns",
                             "every ticker needs one", "estimate them on the universe")
        mu = expected_returns.loc[tickers].to_numpy(dtype=float)
    else:
        mu = np.asarray(expected_returns, dtype=float)
    n = len(tickers)
    if sigma.shape != (n, n) or mu.shape != (n,):
        raise InputError(
            f"shapes do not match {n} tickers", "efficient_frontier",
            f"covariance {sigma.shape}, expected returns {mu.shape}",
            "pass an n x n covariance and n expected returns",
        )
    if not (np.isfinite(sigma).all() and np.isfinite(mu).all()):
        raise DataError("non-finite covariance or expected returns", "efficient_frontier",
                        "the estimates contain NaN or infinity", "check the price history")
    return tickers, sigma, mu


def efficient_frontier(
    covariance: pd.DataFrame | np.ndarray,
    expected_returns: pd.Series | np.ndarray,
    constraints: Sequence[Any] = (),
    *,
    points: int = 20,
    tickers: Sequence[str] | None = None,
    solver: str = "auto",
    risk_free_rate: float = 0.0,
    available: Mapping[str, bool] | Sequence[bool] | None = None,
) -> Frontier:
    """Trace ``points`` minimum-variance portfolios from least risk to most return.

    Parameters
    ----------
    covariance : DataFrame or ndarray, shape (n, n)
        Annualised covariance (fraction^2 per year), aligned by ticker label.
    expected_returns : Series or ndarray, shape (n,)
        Annual expected returns (fractions).
    constraints : sequence
        Limit objects (:func:`portfolio.optimization.constraints.constraints_from_config`); penalties
        are ignored.
    points : int
        Number of points (>= 2, <= 500); fewer when the return range is empty.
    tickers : sequence of str, optional
        Order of the names; default the covariance's (or the returns') labels.
    solver : str
        ``"auto"`` or a cvxpy solver name.
    risk_free_rate : float
        Annual rate (fraction) for the Sharpe column.
    available : mapping of str to bool, or sequence of bool in ticker order, optional
        Names allowed in the portfolio (others, e.g. not listed yet, are held at 0 and
        get no asset point); default all.

    Returns
    -------
    Frontier
        Point 0 is the minimum-variance portfolio under the limits; the last point has
        the largest feasible expected return (up to 1e-7 of the return range).

    Raises
    ------
    InfeasibleError
        The limits cannot hold together (with the conflicting limits named).
    InputError
        Bad point count or misaligned inputs.
    """
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or not (
        2 <= points <= MAX_POINTS
    ):
        raise InputError(f"invalid number of frontier points {points!r}", "points",
                         f"need a whole number from 2 to {MAX_POINTS}", "use e.g. points=20")
    names, sigma, mu = _aligned(covariance, expected_returns, tickers)
    top = PortfolioProblem(names, _MaxReturn(), constraints, solver=solver)
    highest = top.solve(sigma, mu, available=available).expected_return
    problem = PortfolioProblem(names, _TargetReturn(), constraints, solver=solver)
    lowest = problem.solve(sigma, mu, available=available, target_return=None)
    start = float(lowest.expected_return)
    span = highest - start
    if span <= 1e-10 * max(1.0, abs(highest)):
        targets = np.array([start])
    else:
        targets = np.linspace(start, highest - _TOP_SHRINK * span, int(points))
    allocations = [lowest] + [
        problem.solve(sigma, mu, available=available, target_return=float(target))
        for target in targets[1:]
    ]
    weights = pd.DataFrame(
        [a.weights.reindex([*names, CASH]).to_numpy() for a in allocations],
        columns=[*names, CASH],
    ).rename_axis("point")
    volatility = np.array([a.volatility for a in allocations])
    returns = np.array([a.expected_return for a in allocations], dtype=float)
    table = pd.DataFrame(
        {"volatility": volatility, "expected_return": returns,
         "sharpe": _sharpe(returns, volatility, risk_free_rate)},
    ).rename_axis("point")
    assets = pd.DataFrame(
        {"volatility": np.sqrt(np.clip(np.diag(sigma), 0.0, None)), "expected_return": mu},
        index=pd.Index(names, name="ticker"),
    )
    if available is not None:
        assets = assets.loc[availability_mask(names, available)]
    return Frontier(points=table, weights=weights, risk_free_rate=float(risk_free_rate),
                    assets=assets)


def _sharpe(returns: np.ndarray, volatility: np.ndarray, rf: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(volatility > 1e-12, (returns - rf) / volatility, np.nan)


# --------------------------------------------------------------------------- from a config


@dataclass(frozen=True)
class MarkedPortfolio:
    """A portfolio placed on the frontier chart.

    Attributes
    ----------
    label : str
        ``"current holdings"`` or ``"optimum (<objective>)"``.
    volatility : float
        Annualised volatility (fraction).
    expected_return : float
        Annual expected return (fraction).
    sharpe : float
        ``(expected_return - risk_free_rate) / volatility``.
    weights : Series
        Ticker -> weight incl. ``"CASH"``.
    breaches : tuple of str
        Labels of the limit rows it breaches (a breaching portfolio may lie above the
        frontier, which only holds portfolios within the limits).
    """

    label: str
    volatility: float
    expected_return: float
    sharpe: float
    weights: pd.Series
    breaches: tuple[str, ...] = ()


@dataclass(frozen=True)
class FrontierRun:
    """A frontier with the context it was computed in.

    Attributes
    ----------
    frontier : Frontier
        The points.
    optimum : MarkedPortfolio
        The config objective's allocation under the same limits.
    current : MarkedPortfolio or None
        The current holdings, when given.
    as_of : Timestamp
        Last price date used.
    data_source : str
        ``bundled``, ``cache`` or ``yahoo``.
    notice : str
        Data provenance line.
    warnings : tuple of str
        Risk-model warnings.
    covariance_method, expected_returns_method : str
        Estimators used.
    """

    frontier: Frontier
    optimum: MarkedPortfolio
    current: MarkedPortfolio | None
    as_of: pd.Timestamp
    data_source: str
    notice: str
    warnings: tuple[str, ...]
    covariance_method: str
    expected_returns_method: str


def _holdings_weights(holdings: Holdings, prices: pd.Series, tickers: Sequence[str]) -> pd.Series:
    """Weights (``tickers`` then ``"CASH"``) of holdings valued at the as-of ``prices``."""
    from portfolio.analytics.risk import value_holdings

    outside = [t for t in holdings.shares if t not in set(tickers)]
    if outside:
        raise InputError(
            f"holdings outside the universe: {', '.join(outside)}", holdings.source,
            "the frontier covers the configured universe only",
            "add them to universe.tickers or remove them from the holdings",
        )
    weights = value_holdings(holdings, prices).weights
    return weights.reindex([*tickers, CASH]).fillna(0.0).astype(float)


def _mark(label: str, weights: pd.Series, sigma: pd.DataFrame, mu: pd.Series, rf: float,
          constraints: Sequence[Any]) -> MarkedPortfolio:
    tickers = list(sigma.index)
    breaches = tuple(row.name for row in check_all(constraints, weights, tickers) if not row.ok)
    risky = weights.drop(CASH).reindex(sigma.index).fillna(0.0).to_numpy(dtype=float)
    volatility = float(np.sqrt(max(risky @ sigma.to_numpy() @ risky, 0.0)))
    expected = float(mu.reindex(sigma.index).to_numpy() @ risky)
    sharpe = float(_sharpe(np.array([expected]), np.array([volatility]), rf)[0])
    return MarkedPortfolio(label, volatility, expected, sharpe, weights, breaches)


def frontier_from_config(
    config: Config,
    options: DataOptions | None = None,
    *,
    points: int | None = None,
    holdings: Holdings | None = None,
    market: MarketData | None = None,
) -> FrontierRun:
    """The efficient frontier of a config's universe under its limits, on prices up to as-of.

    Parameters
    ----------
    config : Config
        Universe, limits, risk model, expected-return method and objective.
    options : DataOptions, optional
        Price source (ignored when ``market`` is given).
    points : int, optional
        Number of points (default ``optimizer.frontier_points``).
    holdings : Holdings, optional
        Current holdings: marked on the frontier (valued at the as-of prices) and used as
        the current weights of the turnover limit and transaction costs.
    market : MarketData, optional
        Prices already loaded.

    Returns
    -------
    FrontierRun
        The frontier, the config objective's optimum and the current holdings' point.
    """
    from portfolio.optimization.constraints import constraints_from_config
    from portfolio.jobs.market import (
        DataOptions,
        estimate_inputs,
        market_data,
        solve_config,
        theme_exposures,
    )

    market = market or market_data(config, options or DataOptions())
    inputs = estimate_inputs(config, market, with_returns=True)
    tickers = list(config.tickers)
    sigma = inputs.padded_covariance(tickers)
    available = {t: t in inputs.available for t in tickers}
    mu = inputs.expected_returns.reindex(tickers)
    rf = float(inputs.risk_free_rate)
    current_weights: Mapping[str, float] | None = None
    if holdings is not None:
        current_weights = _holdings_weights(holdings, market.prices.iloc[-1], tickers)
    constraints = constraints_from_config(
        config, exposures=theme_exposures(config), current_weights=current_weights
    )
    current = None
    if current_weights is not None:
        current = _mark("current holdings", current_weights, sigma, mu, rf, constraints)
    frontier = efficient_frontier(
        sigma, mu, constraints, points=points or config.optimizer.frontier_points,
        solver=config.optimizer.solver, risk_free_rate=rf, available=available,
    )
    allocation = solve_config(config, inputs, constraints)
    optimum = _mark(f"optimum ({allocation.objective})", allocation.weights, sigma, mu, rf,
                    constraints)
    return FrontierRun(
        frontier=frontier, optimum=optimum, current=current, as_of=market.as_of,
        data_source=market.frame.source, notice=market.frame.notice,
        warnings=tuple(inputs.warnings), covariance_method=config.risk.method,
        expected_returns_method=config.optimizer.expected_returns,
    )
