"""Compare strategies walk-forward on the bundled prices, from a script.

Run: python examples/backtest_script.py          (2024 .. 2026, a few seconds, no network)
     python examples/backtest_script.py --full   (the packaged ai_policy.toml, 2019 .. 2026)

The same backtest runs from the command line with
``portfolio backtest config/backtests/ai_policy.toml --offline``.
"""

import os
import sys
from pathlib import Path

import portfolio as pf
from portfolio.report import render
from portfolio.report.backtest import backtest_report

if "--full" in sys.argv:
    config = pf.load_backtest(pf.packaged_config_path("backtests/ai_policy.toml"))
else:
    # A backtest config written in code: the same keys as a config/backtests/*.toml file.
    config = pf.parse_backtest(
        {
            "base_config": str(pf.packaged_config_path("default.toml")),  # universe and limits
            "start": "2024-01-02",
            "end": "2026-07-31",
            "lookback_days": 504,          # two years of daily returns before each rebalance
            "min_history_days": 126,       # CoreWeave (listed 2025-03-28) enters in the autumn
            "rebalance": "monthly",
            "initial_capital": 100_000,
            "cost_bps": 5,
            "min_fee": 1.0,
            "benchmarks": ["SPY", "QQQ"],
            "cash_yield": "tbill",
            "strategies": [
                {"name": "Equal weight", "kind": "equal_weight"},
                {"name": "Min variance (capped)", "kind": "min_variance"},
                {"name": "Article policy", "kind": "policy"},
            ],
        },
        source="examples/backtest_script.py",
    )

result = pf.backtest(config, options=pf.DataOptions(source="bundled", offline=True))
print(render(backtest_report(result), "markdown"))

# Everything is in the immutable result: equity curves, weights, trades, metrics.
policy = result.strategies["Article policy"]
last = policy.weights.iloc[-1]
print(f"Article policy on {last.name.date()}: "
      + ", ".join(f"{t} {w:.1%}" for t, w in last[last > 0].sort_values(ascending=False).items()))
print(f"CAGR {policy.metrics.cagr:.1%} vs SPY {result.benchmark_metrics['SPY'].cagr:.1%}; "
      f"{len(policy.trades)} trades costing {policy.metrics.total_costs:,.2f} USD")

folder = Path(os.environ.get("PORTFOLIO_EXAMPLE_OUTPUT", "backtest-output")) / "backtest_script"
files = pf.write_backtest_outputs(result, folder)
print(f"Wrote {len(files)} files to {folder}")
