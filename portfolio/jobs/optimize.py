"""Optimise a config: its universe, limits, risk model and objective on prices up to as-of.

The wiring of the ``portfolio optimize`` command and of every job that needs the config's
allocation (frontier, rebalance, the backtest's policy strategy): estimate the risk inputs
of the config (:func:`config_inputs`), build the objective spec with the config's options
(:func:`objective_for`) and the solve data it declares (:func:`objective_data`), and solve
under the limit objects of :func:`portfolio.jobs.limits.constraints_from_config`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from portfolio.config import Config
from portfolio.data.bundled import treasury_bill_rate
from portfolio.data.fx import exchange_of
from portfolio.errors import DataError
from portfolio.estimate.expected import ExpectedReturnModel
from portfolio.estimate.inputs import (
    ReturnSettings,
    RiskInputs,
    estimate_inputs,
    proxy_filled_returns,
    window_returns,
)
from portfolio.jobs.limits import constraints_from_config, theme_exposures
from portfolio.jobs.market import DataOptions, MarketData, market_data
from portfolio.optimization.explain import Explanation
from portfolio.optimization.objectives import OBJECTIVES, Objective
from portfolio.optimization.problem import PortfolioProblem
from portfolio.optimization.results import Allocation

__all__ = [
    "OptimizationRun",
    "config_inputs",
    "objective_data",
    "objective_for",
    "optimize_from_config",
    "return_settings",
    "risk_free_rate",
    "solve_config",
]


@dataclass(frozen=True)
class OptimizationRun:
    """An allocation with the context it was computed in.

    Attributes
    ----------
    allocation : Allocation
        Weights (incl. CASH), risk, solver info, limit table.
    as_of : Timestamp
        Last price date used.
    data_source : str
        ``bundled``, ``cache`` or ``yahoo``.
    notice : str
        Data provenance line.
    warnings : tuple of str
        Short-history and repair warnings from the risk model.
    covariance_method : str
        Estimator used.
    explanation : Explanation
        Every weight with what binds it, every zero with its reason.
    expected_model : ExpectedReturnModel or None
        Prior, views and posterior when expected returns were estimated.
    implausible : tuple of str
        Expected returns outside the plausible band (also in ``warnings``).
    """

    allocation: Allocation
    as_of: pd.Timestamp
    data_source: str
    notice: str
    warnings: tuple[str, ...]
    covariance_method: str
    explanation: Explanation | None = None
    expected_model: ExpectedReturnModel | None = None
    implausible: tuple[str, ...] = ()


def objective_for(config: Config, name: str | None = None) -> Objective:
    """The objective spec ``name`` (default the config's) with the config's options.

    The config keys map to the spec's options: ``optimizer.risk_aversion`` ->
    ``risk_aversion``, ``optimizer.risk_free_rate`` -> ``risk_free_rate``,
    ``optimizer.cvar_confidence`` -> ``confidence``; a spec takes the ones it declares.
    """
    spec = OBJECTIVES[name or config.optimizer.objective]
    settings = config.optimizer
    available = {
        "risk_aversion": settings.risk_aversion,
        "risk_free_rate": settings.risk_free_rate,
        "confidence": settings.cvar_confidence,
    }
    return spec(**{k: v for k, v in available.items()
                   if k in spec.options() and v is not None})


def objective_data(config: Config, objective: Objective, inputs: RiskInputs) -> dict[str, Any]:
    """The solve data ``objective`` declares (``solve_data``), from the config and inputs.

    Raises
    ------
    DataError
        The tracking benchmark has no prices.
    """
    accepted = objective.solve_data
    data: dict[str, Any] = {}
    tickers = list(config.tickers)
    if "scenarios" in accepted:
        data["scenarios"] = proxy_filled_returns(inputs.returns, tickers, config.risk.factors)
    if "risk_free_rate" in accepted:
        data["risk_free_rate"] = inputs.risk_free_rate
    if "benchmark_returns" in accepted:
        benchmark = config.optimizer.tracking_benchmark or config.benchmark
        if benchmark not in inputs.returns.columns:
            raise DataError(f"no prices for benchmark {benchmark}", config.source,
                            "the tracking benchmark needs prices", "choose a bundled ticker")
        data["benchmark_returns"] = inputs.returns[benchmark]
        data["returns"] = inputs.returns[tickers]
        data["frequency"] = config.risk.frequency
    if "group_budgets" in accepted:
        data["group_budgets"] = dict(config.optimizer.group_budgets)
        data["groups"] = {k: tuple(v) for k, v in config.groups.items()}
    if "risk_budgets" in accepted:
        data["risk_budgets"] = dict(config.optimizer.risk_budgets)
        data["groups"] = {k: tuple(v) for k, v in config.groups.items()}
    return data


def return_settings(config: Config) -> ReturnSettings:
    """How the config estimates expected returns (method, views, market caps, band)."""
    settings, caps = config.optimizer, config.market_caps
    return ReturnSettings(
        method=settings.expected_returns, views=settings.views, benchmark=config.benchmark,
        market_caps=tuple(caps.usd_bn.items()), risk_aversion=caps.risk_aversion,
        plausible=settings.plausible_returns,
    )


def risk_free_rate(config: Config, as_of: pd.Timestamp) -> float:
    """``optimizer.risk_free_rate``, else the bundled 13-week T-bill yield at ``as_of``."""
    rate = config.optimizer.risk_free_rate
    return treasury_bill_rate(as_of) if rate is None else rate


def config_inputs(config: Config, market: MarketData, *, with_returns: bool = False
                  ) -> RiskInputs:
    """The config's risk inputs over its lookback (see :func:`estimate_inputs`).

    Names with fewer than :data:`~portfolio.estimate.inputs.MIN_USABLE_OBSERVATIONS`
    returns in the lookback (e.g. CRWV before its 2025-03-28 listing) are left out of the
    estimates and listed in ``warnings``; the optimiser holds them at 0.
    """
    returns = window_returns(market.prices, config.risk.lookback_days, config.risk.frequency)
    return estimate_inputs(
        returns, config.tickers, config.risk,
        expected=return_settings(config) if with_returns else None,
        risk_free_rate=risk_free_rate(config, market.as_of),
        markets={t: exchange_of(t) for t in returns.columns},
        where=f"as of {market.as_of.date()} (risk.lookback_days = "
              f"{config.risk.lookback_days})",
    )


def optimize_from_config(
    config: Config,
    options: DataOptions = DataOptions(),  # noqa: B008 (frozen, so a safe default)
    *,
    objective: str | None = None,
    market: MarketData | None = None,
    current_weights: Mapping[str, float] | None = None,
    capital: float | None = None,
) -> OptimizationRun:
    """Optimise the config's universe under its limits on prices up to the as-of date.

    Parameters
    ----------
    config : Config
        Universe, limits, risk model and optimizer settings.
    options : DataOptions
        Price source (ignored when ``market`` is given).
    objective : str, optional
        Overrides ``config.optimizer.objective``.
    market : MarketData, optional
        Prices already loaded.
    current_weights : mapping, optional
        Current weights (incl. CASH) for turnover limits and transaction costs.
    capital : float, optional
        Portfolio value in USD: the explanation shows each name's amount.

    Returns
    -------
    OptimizationRun
    """
    market = market or market_data(config, options)
    spec = objective_for(config, objective)
    wants_returns = spec.needs_expected_returns or spec.reports_expected_return
    inputs = config_inputs(config, market, with_returns=wants_returns)
    constraints = constraints_from_config(
        config, exposures=theme_exposures(config), current_weights=current_weights
    )
    allocation = solve_config(config, inputs, constraints, spec)
    return OptimizationRun(
        allocation=allocation, as_of=market.as_of, data_source=market.frame.source,
        notice=market.frame.notice, warnings=inputs.warnings,
        covariance_method=config.risk.method,
        explanation=allocation.explain(groups=config.groups, capital=capital),
        expected_model=inputs.expected_model, implausible=inputs.implausible,
    )


def solve_config(
    config: Config, inputs: RiskInputs, constraints: Sequence[Any],
    objective: Objective | None = None,
) -> Allocation:
    """The allocation of a config's objective on inputs already estimated (no I/O).

    Parameters
    ----------
    config : Config
        Universe, solver and objective settings.
    inputs : RiskInputs
        From :func:`config_inputs`.
    constraints : sequence
        From :func:`portfolio.jobs.limits.constraints_from_config`.
    objective : Objective, optional
        Default: the config's objective with its options.

    Returns
    -------
    Allocation
    """
    spec = objective or objective_for(config)
    problem = PortfolioProblem(config.tickers, spec, constraints,
                               solver=config.optimizer.solver)
    return problem.solve(
        inputs.padded_estimate(config.tickers), inputs.expected_returns,
        available={t: t in inputs.available for t in config.tickers},
        **objective_data(config, spec, inputs),
    )

