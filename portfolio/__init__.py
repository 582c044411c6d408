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
    # jobs
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
