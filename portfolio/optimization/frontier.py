"""The efficient frontier under the configured limits.

Each point minimises annualised variance ``w' Sigma w`` subject to a target expected
return ``mu @ w >= target`` and the SAME limit objects the optimiser uses (caps, floors,
group and theme caps, cash floor, turnover), so every point is a portfolio the investor
may actually hold. Targets run evenly from the minimum-variance portfolio's return to the
largest feasible return (a linear programme). The target enters as a cvxpy Parameter:
the problem is compiled once and re-solved per point (DPP). :func:`mark_portfolio` places
another portfolio (the optimum, the current holdings) on the same axes.

Penalty terms (transaction costs, L2 regularisation) are not part of the frontier: it
traces pure risk against return. Units: annual fractions (0.25 = 25 % a year).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError
from portfolio.optimization.constraints import check_all
from portfolio.optimization.objectives import MaxReturn, TargetReturn
from portfolio.optimization.problem import PortfolioProblem, availability_mask
from portfolio.weights import CASH

__all__ = ["Frontier", "MarkedPortfolio", "efficient_frontier", "mark_portfolio"]

MAX_POINTS = 500


_TOP_SHRINK = 1e-7  # the last target sits this fraction of the return range below the maximum


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
        Limit objects (penalties are ignored).
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
    top = PortfolioProblem(names, MaxReturn(), constraints, solver=solver)
    highest = top.solve(sigma, mu, available=available).expected_return
    problem = PortfolioProblem(names, TargetReturn(), constraints, solver=solver)
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


def mark_portfolio(label: str, weights: pd.Series, sigma: pd.DataFrame, mu: pd.Series,
                   rf: float, constraints: Sequence[Any]) -> MarkedPortfolio:
    """A portfolio's risk, return, Sharpe ratio and breached limits, for the frontier chart.

    Parameters
    ----------
    label : str
        Legend text.
    weights : Series
        Ticker -> weight incl. ``"CASH"`` (fractions).
    sigma : DataFrame
        Annualised covariance of the universe.
    mu : Series
        Annual expected returns.
    rf : float
        Annual risk-free rate.
    constraints : sequence
        The limit objects whose breaches are listed.
    """
    tickers = list(sigma.index)
    breaches = tuple(row.name for row in check_all(constraints, weights, tickers) if not row.ok)
    risky = weights.drop(CASH).reindex(sigma.index).fillna(0.0).to_numpy(dtype=float)
    volatility = float(np.sqrt(max(risky @ sigma.to_numpy() @ risky, 0.0)))
    expected = float(mu.reindex(sigma.index).to_numpy() @ risky)
    sharpe = float(_sharpe(np.array([expected]), np.array([volatility]), rf)[0])
    return MarkedPortfolio(label, volatility, expected, sharpe, weights, breaches)
