"""Tiny sweeps for the tests: a 13-month backtest of two strategies on the bundled prices.

Longer than a year, so that the annualised metrics the ranking uses are defined.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "config" / "default.toml"

BACKTEST = f"""
base_config = "{DEFAULT.as_posix()}"
start = "2024-06-03"
end = "2025-06-30"
lookback_days = 126
min_history_days = 60
rebalance = "monthly"
benchmarks = ["SPY"]
cash_yield = 0.02

[[strategies]]
name = "Policy"
kind = "policy"

[[strategies]]
name = "Min variance"
kind = "min_variance"
use_limits = "caps"

[[strategies]]
name = "Equal weight"
kind = "equal_weight"
"""

GRID = """
backtest = "backtest.toml"
strategies = ["Policy", "Min variance"]

[grid]
"limits.max_weight" = [0.15, 0.25]
rebalance = ["monthly", "quarterly"]
"""


def write_sweep(folder: Path, sweep: str = GRID, backtest: str = BACKTEST) -> Path:
    """Write ``backtest.toml`` and ``sweep.toml`` into ``folder``; return the sweep's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "backtest.toml").write_text(backtest, encoding="utf-8")
    path = folder / "sweep.toml"
    path.write_text(sweep, encoding="utf-8")
    return path
