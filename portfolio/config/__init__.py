"""The portfolio configuration: typed, frozen and validated once.

``load_config(path)`` reads a TOML file (the packaged ``default.toml`` when no path is
given) and ``parse_config(mapping, source)`` validates a mapping; both return a frozen
:class:`Config`. The deal graph (``ecosystem.toml``) is read by :func:`load_ecosystem`.
Every error names the file and the key, says why and how to fix it; unknown keys are
errors with a "did you mean".

Units: every limit is a fraction of portfolio value (``0.20`` = 20 %), never a percent.
Lookbacks are in trading days.
"""

from portfolio.config.ecosystem import load_ecosystem, parse_ecosystem
from portfolio.config.parse import (
    COVARIANCE_METHODS,
    EXPECTED_RETURN_METHODS,
    FREQUENCIES,
    OBJECTIVES,
    RAGGED_POLICIES,
    SOLVERS,
    check_lookback,
    load_config,
    parse_config,
)
from portfolio.config.paths import (
    EXAMPLE_HOLDINGS,
    backtest_path,
    default_config_path,
    holdings_path,
    packaged_backtests,
    packaged_config_path,
)
from portfolio.config.schema import (
    Config,
    CustomScenario,
    DataSettings,
    EcosystemSettings,
    Limits,
    MarketCaps,
    OptimizerSettings,
    StressSettings,
    ThemeCapSpec,
    TradingSettings,
)
from portfolio.config.table import Table
from portfolio.config.universe import parse_tickers, with_universe
from portfolio.estimate.equilibrium import View
from portfolio.estimate.inputs import RiskSettings

__all__ = [
    "COVARIANCE_METHODS",
    "EXAMPLE_HOLDINGS",
    "EXPECTED_RETURN_METHODS",
    "FREQUENCIES",
    "OBJECTIVES",
    "RAGGED_POLICIES",
    "SOLVERS",
    "Config",
    "CustomScenario",
    "DataSettings",
    "EcosystemSettings",
    "Limits",
    "MarketCaps",
    "OptimizerSettings",
    "RiskSettings",
    "StressSettings",
    "Table",
    "ThemeCapSpec",
    "TradingSettings",
    "View",
    "backtest_path",
    "check_lookback",
    "default_config_path",
    "holdings_path",
    "load_config",
    "load_ecosystem",
    "packaged_backtests",
    "packaged_config_path",
    "parse_config",
    "parse_ecosystem",
    "parse_tickers",
    "with_universe",
]
