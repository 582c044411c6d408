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
    "to_returns": "portfolio.returns",
    "covariance": "portfolio.risk_models",
    "expected_returns": "portfolio.return_models",
    # limits and optimisation
    "MaxWeight": "portfolio.constraints",
    "MinWeight": "portfolio.constraints",
    "GroupCap": "portfolio.constraints",
    "GroupFloor": "portfolio.constraints",
    "CashFloor": "portfolio.constraints",
    "MaxTurnover": "portfolio.constraints",
    "ThemeCap": "portfolio.constraints",
    "TransactionCosts": "portfolio.constraints",
    "L2Regularization": "portfolio.constraints",
    "constraints_from_config": "portfolio.constraints",
    "optimize": "portfolio.optimizer",
    "Allocation": "portfolio.optimizer",
    "PortfolioProblem": "portfolio.optimizer",
    "black_litterman": "portfolio.return_models",
    "efficient_frontier": "portfolio.frontier",
    "Frontier": "portfolio.frontier",
    # risk, exposure, stress
    "risk_report": "portfolio.risk",
    "RiskReport": "portfolio.risk",
    "value_holdings": "portfolio.risk",
    "load_ecosystem": "portfolio.exposure",
    "lookthrough_exposure": "portfolio.exposure",
    "portfolio_exposure": "portfolio.exposure",
    "stress_test": "portfolio.stress",
    "StressReport": "portfolio.stress",
    # rebalancing
    "plan_rebalance": "portfolio.orders",
    "apply_orders": "portfolio.orders",
    "rebalance": "portfolio.rebalancing",
    "drift_check": "portfolio.rebalancing",
    "RebalanceRun": "portfolio.rebalancing",
    # backtests
    "backtest": "portfolio.backtesting",
    "load_backtest": "portfolio.backtesting",
    "parse_backtest": "portfolio.backtesting",
    "write_backtest_outputs": "portfolio.backtesting",
    "BacktestConfig": "portfolio.backtesting",
    "BacktestResult": "portfolio.backtesting",
    # jobs
    "frontier_from_config": "portfolio.frontier",
    "DataOptions": "portfolio.workflows",
    "market_data": "portfolio.workflows",
    "optimize_from_config": "portfolio.workflows",
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
