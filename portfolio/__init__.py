"""Portfolio exposure, risk, allocation, rebalancing and backtests for the AI build-out.

The public API is listed in ``__all__``. Its names load on first use (PEP 562), so
``import portfolio`` costs a few milliseconds and a command pays only for the modules it
runs: cvxpy loads only when a problem runs through it, scikit-learn only when one of its
estimators is asked for, matplotlib only when a PNG is drawn, the backtest engine and Dask
only when a backtest or sweep runs. The metric functions are reachable as
``portfolio.metrics`` (return series: Sharpe, drawdown, beta...) and
``portfolio.risk_measures`` (weights and covariance: volatility, VaR, contributions...).
See the README for a tour and the module map.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Where each public name lives: ``{module under portfolio: (names...)}``.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "analytics.bootstrap": ("LossDistribution", "loss_distribution"),
    "analytics.conditional": ("ConditionalMoves", "ConditionalStress"),
    "analytics.exposure": (
        "DealGraph", "ExposureReport", "lookthrough_exposure", "portfolio_exposure",
    ),
    "analytics.metrics": ("Drawdown",),
    "analytics.replay": ("Recovery", "ReplayPaths"),
    "analytics.reverse": ("ReverseStress",),
    "analytics.risk": ("Concentration", "RiskModel", "RiskReport"),
    "analytics.stress": ("ScenarioResult", "StressReport"),
    "analytics.valuation": ("Valuation", "value_holdings"),
    "analytics.var_backtest": (
        "VaRBacktest", "VaRBacktestRow", "christoffersen_independence", "kupiec_pof",
        "var_backtest",
    ),
    "backtesting.market": ("LookAheadError", "PastView"),
    "backtesting.results": (
        "BacktestResult", "PerformanceMetrics", "RebalanceFailure", "StrategyResult",
    ),
    "backtesting.spec": ("BacktestConfig", "StrategySpec", "load_backtest", "parse_backtest"),
    "backtesting.strategies": ("BaseStrategy", "Strategy", "Target"),
    "config": (
        "Config", "View", "load_config", "load_ecosystem", "packaged_config_path",
        "parse_config", "with_universe",
    ),
    "data.holdings": ("Holdings", "read_holdings", "read_target_weights"),
    "data.price_import": ("ImportReport", "import_prices"),
    "data.prices": ("PriceFrame", "load_prices"),
    "errors": (
        "ConfigError", "DataError", "InfeasibleError", "InputError", "PortfolioError",
        "SolverError",
    ),
    "estimate.covariance": ("CovarianceEstimate", "covariance"),
    "estimate.equilibrium": ("black_litterman",),
    "estimate.expected": ("expected_returns",),
    "estimate.inputs": ("RiskInputs", "RiskSettings", "estimate_inputs"),
    "estimate.returns": ("to_returns",),
    "jobs.backtest": ("backtest",),
    "jobs.frontier": ("FrontierRun", "frontier_from_config"),
    "jobs.limits": ("constraints_from_config",),
    "jobs.market": ("DataOptions", "MarketData", "market_data"),
    "jobs.optimize": ("OptimizationRun", "optimize_from_config"),
    "jobs.rebalance": ("DriftCheck", "RebalanceRun", "drift_check", "rebalance"),
    "jobs.risk": ("risk_context", "risk_report"),
    "jobs.scenarios": ("conditional_stress", "reverse_stress"),
    "jobs.stress": ("stress_test",),
    "optimization.constraints": (
        "CashFloor", "GroupCap", "GroupFloor", "L2Regularization", "LimitCheck",
        "MaxTurnover", "MaxWeight", "MinWeight", "ThemeCap", "TransactionCosts",
    ),
    "optimization.frontier": ("Frontier", "MarkedPortfolio", "efficient_frontier"),
    "optimization.objectives": (
        "OBJECTIVES", "MaxDiversification", "MaxSharpe", "MinCVaR", "MinTrackingError",
        "MinVariance", "Objective", "RiskParity", "Utility", "make_objective",
    ),
    "optimization.problem": ("PortfolioProblem", "optimize"),
    "optimization.results": ("Allocation", "SolveInfo"),
    "report.backtest": ("write_backtest_outputs",),
    "report.sweep": ("write_sweep_outputs",),
    "sweeps": (
        "RankedRow", "SweepConfig", "SweepProgress", "SweepResult", "Variant",
        "VariantResult", "load_sweep", "parse_sweep", "sweep",
    ),
    "trading.orders": (
        "Order", "RebalancePlan", "TradingCosts", "apply_orders", "plan_rebalance",
    ),
    "weights": ("CASH", "parse_weights"),
}

#: ``portfolio.metrics`` and ``portfolio.risk_measures`` are modules, not names in one.
_SUBMODULE_ALIASES = {
    "metrics": "portfolio.analytics.metrics",
    "risk_measures": "portfolio.analytics.risk_measures",
}

_HOME = {name: f"portfolio.{module}" for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use and cache the value here."""
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    elif name in _SUBMODULE_ALIASES:
        value = importlib.import_module(_SUBMODULE_ALIASES[name])
    else:
        raise AttributeError(f"module 'portfolio' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULE_ALIASES, "__version__"})
