"""The efficient frontier of a config: its universe and limits on prices up to as-of.

Wiring of ``portfolio frontier``: the config's inputs (with expected returns), its limit
objects, the frontier traced by :func:`portfolio.optimization.frontier.efficient_frontier`,
the config objective's optimum and, when given, the current holdings marked on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from portfolio.analytics.valuation import value_holdings
from portfolio.config import Config
from portfolio.data.holdings import Holdings
from portfolio.errors import InputError
from portfolio.estimate.expected import ExpectedReturnModel
from portfolio.jobs.limits import constraints_from_config, theme_exposures
from portfolio.jobs.market import DataOptions, MarketData, market_data
from portfolio.jobs.optimize import config_inputs, solve_config
from portfolio.optimization.explain import Explanation
from portfolio.optimization.frontier import (
    Frontier,
    MarkedPortfolio,
    efficient_frontier,
    mark_portfolio,
)
from portfolio.weights import CASH

__all__ = ["FrontierRun", "frontier_from_config"]


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
    explanation : Explanation or None
        The optimum's weights explained (what binds each, why each zero).
    expected_model : ExpectedReturnModel or None
        Prior, views and posterior of the expected returns.
    implausible : tuple of str
        Expected returns outside the plausible band.
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
    explanation: Explanation | None = None
    expected_model: ExpectedReturnModel | None = None
    implausible: tuple[str, ...] = ()


def _holdings_weights(holdings: Holdings, prices: pd.Series, tickers: Sequence[str]) -> pd.Series:
    """Weights (``tickers`` then ``"CASH"``) of holdings valued at the as-of ``prices``."""
    outside = [t for t in holdings.shares if t not in set(tickers)]
    if outside:
        raise InputError(
            f"holdings outside the universe: {', '.join(outside)}", holdings.source,
            "the frontier covers the configured universe only",
            "add them to universe.tickers or remove them from the holdings",
        )
    weights = value_holdings(holdings, prices).weights
    return weights.reindex([*tickers, CASH]).fillna(0.0).astype(float)


def frontier_from_config(
    config: Config,
    options: DataOptions | None = None,
    *,
    points: int | None = None,
    holdings: Holdings | None = None,
    market: MarketData | None = None,
    capital: float | None = None,
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
    capital : float, optional
        Portfolio value in USD for the optimum's explanation (default: the holdings'
        value when holdings are given).

    Returns
    -------
    FrontierRun
        The frontier, the config objective's optimum and the current holdings' point.
    """
    market = market or market_data(config, options or DataOptions())
    inputs = config_inputs(config, market, with_returns=True)
    tickers = list(config.tickers)
    sigma = inputs.padded_covariance(tickers)
    available = {t: t in inputs.available for t in tickers}
    mu = inputs.expected_returns.reindex(tickers)
    rf = float(inputs.risk_free_rate)
    current_weights: Mapping[str, float] | None = None
    if holdings is not None:
        valuation = value_holdings(holdings, market.prices.iloc[-1])
        capital = capital if capital is not None else valuation.total
        current_weights = _holdings_weights(holdings, market.prices.iloc[-1], tickers)
    constraints = constraints_from_config(
        config, exposures=theme_exposures(config), current_weights=current_weights
    )
    current = None
    if current_weights is not None:
        current = mark_portfolio("current holdings", current_weights, sigma, mu, rf, constraints)
    frontier = efficient_frontier(
        sigma, mu, constraints, points=points or config.optimizer.frontier_points,
        solver=config.optimizer.solver, risk_free_rate=rf, available=available,
    )
    allocation = solve_config(config, inputs, constraints)
    optimum = mark_portfolio(f"optimum ({allocation.objective})", allocation.weights, sigma, mu, rf,
                    constraints)
    return FrontierRun(
        frontier=frontier, optimum=optimum, current=current, as_of=market.as_of,
        data_source=market.frame.source, notice=market.frame.notice,
        warnings=tuple(inputs.warnings), covariance_method=config.risk.method,
        expected_returns_method=config.optimizer.expected_returns,
        explanation=allocation.explain(groups=config.groups, capital=capital),
        expected_model=inputs.expected_model, implausible=inputs.implausible,
    )
