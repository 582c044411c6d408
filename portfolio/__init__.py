"""Portfolio exposure, risk, allocation, rebalancing and backtests for the AI build-out.

The public API is listed in ``__all__`` and imported here explicitly. ``import portfolio``
stays light: cvxpy loads only when a problem runs through it, scikit-learn only when one of
its estimators is asked for, matplotlib only when a PNG is drawn. The metric functions are
reachable as ``portfolio.metrics`` (return series: Sharpe, drawdown, beta...) and
``portfolio.risk_measures`` (weights and covariance: volatility, VaR, contributions...).
See the README for a tour and the module map.
"""

from portfolio.analytics import metrics as metrics  # portfolio.metrics.sharpe(...)
from portfolio.analytics import risk_measures as risk_measures
from portfolio.analytics.bootstrap import LossDistribution, loss_distribution
from portfolio.analytics.conditional import ConditionalMoves, ConditionalStress
from portfolio.analytics.exposure import (
    DealGraph,
    ExposureReport,
    lookthrough_exposure,
    portfolio_exposure,
)
from portfolio.analytics.metrics import Drawdown
from portfolio.analytics.replay import Recovery, ReplayPaths
from portfolio.analytics.reverse import ReverseStress
from portfolio.analytics.risk import Concentration, RiskModel, RiskReport
from portfolio.analytics.stress import ScenarioResult, StressReport
from portfolio.analytics.valuation import Valuation, value_holdings
from portfolio.analytics.var_backtest import (
    VaRBacktest,
    VaRBacktestRow,
    christoffersen_independence,
    kupiec_pof,
    var_backtest,
)
from portfolio.backtesting.market import LookAheadError, PastView
from portfolio.backtesting.results import (
    BacktestResult,
    PerformanceMetrics,
    RebalanceFailure,
    StrategyResult,
)
from portfolio.backtesting.spec import BacktestConfig, StrategySpec, load_backtest, parse_backtest
from portfolio.backtesting.strategies import BaseStrategy, Strategy, Target
from portfolio.config import (
    Config,
    View,
    load_config,
    load_ecosystem,
    packaged_config_path,
    parse_config,
    with_universe,
)
from portfolio.data.holdings import Holdings, read_holdings, read_target_weights
from portfolio.data.price_import import ImportReport, import_prices
from portfolio.data.prices import PriceFrame, load_prices
from portfolio.errors import (
    ConfigError,
    DataError,
    InfeasibleError,
    InputError,
    PortfolioError,
    SolverError,
)
from portfolio.estimate.covariance import CovarianceEstimate, covariance
from portfolio.estimate.equilibrium import black_litterman
from portfolio.estimate.expected import expected_returns
from portfolio.estimate.inputs import RiskInputs, RiskSettings, estimate_inputs
from portfolio.estimate.returns import to_returns
from portfolio.jobs.backtest import backtest
from portfolio.jobs.frontier import FrontierRun, frontier_from_config
from portfolio.jobs.limits import constraints_from_config
from portfolio.jobs.market import DataOptions, MarketData, market_data
from portfolio.jobs.optimize import OptimizationRun, optimize_from_config
from portfolio.jobs.rebalance import DriftCheck, RebalanceRun, drift_check, rebalance
from portfolio.jobs.risk import risk_context, risk_report
from portfolio.jobs.scenarios import conditional_stress, reverse_stress
from portfolio.jobs.stress import stress_test
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    L2Regularization,
    LimitCheck,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
    TransactionCosts,
)
from portfolio.optimization.frontier import Frontier, MarkedPortfolio, efficient_frontier
from portfolio.optimization.objectives import (
    OBJECTIVES,
    MaxDiversification,
    MaxSharpe,
    MinCVaR,
    MinTrackingError,
    MinVariance,
    Objective,
    RiskParity,
    Utility,
    make_objective,
)
from portfolio.optimization.problem import PortfolioProblem, optimize
from portfolio.optimization.results import Allocation, SolveInfo
from portfolio.report.backtest import write_backtest_outputs
from portfolio.report.sweep import write_sweep_outputs
from portfolio.sweeps import (
    RankedRow,
    SweepConfig,
    SweepProgress,
    SweepResult,
    Variant,
    VariantResult,
    load_sweep,
    parse_sweep,
    sweep,
)
from portfolio.trading.orders import (
    Order,
    RebalancePlan,
    TradingCosts,
    apply_orders,
    plan_rebalance,
)
from portfolio.weights import CASH, parse_weights

__version__ = "0.1.0"

__all__ = [
    "CASH",
    "OBJECTIVES",
    "Allocation",
    "BacktestConfig",
    "BacktestResult",
    "BaseStrategy",
    "CashFloor",
    "Concentration",
    "ConditionalMoves",
    "ConditionalStress",
    "Config",
    "ConfigError",
    "CovarianceEstimate",
    "DataError",
    "DataOptions",
    "DealGraph",
    "Drawdown",
    "DriftCheck",
    "ExposureReport",
    "Frontier",
    "FrontierRun",
    "GroupCap",
    "GroupFloor",
    "Holdings",
    "ImportReport",
    "InfeasibleError",
    "InputError",
    "L2Regularization",
    "LimitCheck",
    "LookAheadError",
    "LossDistribution",
    "MarkedPortfolio",
    "MarketData",
    "MaxDiversification",
    "MaxSharpe",
    "MaxTurnover",
    "MaxWeight",
    "MinCVaR",
    "MinTrackingError",
    "MinVariance",
    "MinWeight",
    "Objective",
    "OptimizationRun",
    "Order",
    "PastView",
    "PerformanceMetrics",
    "PortfolioError",
    "PortfolioProblem",
    "PriceFrame",
    "RankedRow",
    "RebalanceFailure",
    "RebalancePlan",
    "RebalanceRun",
    "Recovery",
    "ReplayPaths",
    "ReverseStress",
    "RiskInputs",
    "RiskModel",
    "RiskParity",
    "RiskReport",
    "RiskSettings",
    "ScenarioResult",
    "SolveInfo",
    "SolverError",
    "Strategy",
    "StrategyResult",
    "StrategySpec",
    "StressReport",
    "SweepConfig",
    "SweepProgress",
    "SweepResult",
    "Target",
    "ThemeCap",
    "TradingCosts",
    "TransactionCosts",
    "Utility",
    "VaRBacktest",
    "VaRBacktestRow",
    "Valuation",
    "Variant",
    "VariantResult",
    "View",
    "apply_orders",
    "backtest",
    "black_litterman",
    "christoffersen_independence",
    "conditional_stress",
    "constraints_from_config",
    "covariance",
    "drift_check",
    "efficient_frontier",
    "estimate_inputs",
    "expected_returns",
    "frontier_from_config",
    "import_prices",
    "kupiec_pof",
    "load_backtest",
    "load_config",
    "load_ecosystem",
    "load_prices",
    "load_sweep",
    "lookthrough_exposure",
    "loss_distribution",
    "make_objective",
    "market_data",
    "optimize",
    "optimize_from_config",
    "packaged_config_path",
    "parse_backtest",
    "parse_config",
    "parse_sweep",
    "parse_weights",
    "plan_rebalance",
    "portfolio_exposure",
    "read_holdings",
    "read_target_weights",
    "rebalance",
    "reverse_stress",
    "risk_context",
    "risk_report",
    "stress_test",
    "sweep",
    "to_returns",
    "value_holdings",
    "var_backtest",
    "with_universe",
    "write_backtest_outputs",
    "write_sweep_outputs",
]
