"""Portfolio exposure, risk, allocation, rebalancing and backtests for the AI build-out.

The public API is listed in ``__all__``. Names load lazily (``import portfolio`` stays
cheap); see the README for a tour.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # data
    "load_prices": "portfolio.data.prices",
    "PriceFrame": "portfolio.data.prices",
    "read_holdings": "portfolio.data.holdings",
    "read_target_weights": "portfolio.data.holdings",
    "Holdings": "portfolio.data.holdings",
    # config
    "load_config": "portfolio.config",
    "parse_config": "portfolio.config",
    "Config": "portfolio.config",
    "View": "portfolio.config",
    "packaged_config_path": "portfolio.config",
    # returns and risk
    "to_returns": "portfolio.estimate.returns",
    "covariance": "portfolio.estimate.covariance",
    "expected_returns": "portfolio.estimate.expected",
    # limits and optimisation
    "MaxWeight": "portfolio.optimization.constraints",
    "MinWeight": "portfolio.optimization.constraints",
    "GroupCap": "portfolio.optimization.constraints",
    "GroupFloor": "portfolio.optimization.constraints",
    "CashFloor": "portfolio.optimization.constraints",
    "MaxTurnover": "portfolio.optimization.constraints",
    "ThemeCap": "portfolio.optimization.constraints",
    "TransactionCosts": "portfolio.optimization.constraints",
    "L2Regularization": "portfolio.optimization.constraints",
    "constraints_from_config": "portfolio.optimization.constraints",
    "optimize": "portfolio.optimization.problem",
    "Allocation": "portfolio.optimization.problem",
    "PortfolioProblem": "portfolio.optimization.problem",
    "black_litterman": "portfolio.estimate.expected",
    "efficient_frontier": "portfolio.optimization.frontier",
    "Frontier": "portfolio.optimization.frontier",
    # risk, exposure, stress
    "risk_report": "portfolio.analytics.risk",
    "RiskReport": "portfolio.analytics.risk",
    "value_holdings": "portfolio.analytics.risk",
    "load_ecosystem": "portfolio.analytics.exposure",
    "lookthrough_exposure": "portfolio.analytics.exposure",
    "portfolio_exposure": "portfolio.analytics.exposure",
    "stress_test": "portfolio.analytics.stress",
    "StressReport": "portfolio.analytics.stress",
    # rebalancing
    "plan_rebalance": "portfolio.trading.orders",
    "apply_orders": "portfolio.trading.orders",
    "rebalance": "portfolio.jobs.rebalance",
    "drift_check": "portfolio.jobs.rebalance",
    "RebalanceRun": "portfolio.jobs.rebalance",
    # backtests
    "backtest": "portfolio.backtesting.engine",
    "load_backtest": "portfolio.backtesting.engine",
    "parse_backtest": "portfolio.backtesting.engine",
    "write_backtest_outputs": "portfolio.backtesting.engine",
    "BacktestConfig": "portfolio.backtesting.engine",
    "BacktestResult": "portfolio.backtesting.engine",
    # jobs
    "frontier_from_config": "portfolio.optimization.frontier",
    "DataOptions": "portfolio.jobs.market",
    "market_data": "portfolio.jobs.market",
    "optimize_from_config": "portfolio.jobs.market",
    # errors
    "PortfolioError": "portfolio.errors",
    "ConfigError": "portfolio.errors",
    "DataError": "portfolio.errors",
    "InputError": "portfolio.errors",
    "InfeasibleError": "portfolio.errors",
    "SolverError": "portfolio.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'portfolio' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
