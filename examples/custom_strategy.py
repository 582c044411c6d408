"""Your own strategy in a walk-forward backtest, next to the built-in ones.

Run: python examples/custom_strategy.py   (2023 .. 2026 on the bundled prices, no network)

A strategy is any object with a ``name``, ``rebalances``, ``limits`` and a
``target(past)`` method; subclassing ``pf.BaseStrategy`` gives the defaults. ``past`` is a
``pf.PastView``: the prices and returns strictly BEFORE the decision date, the names that
may be held that day and the cash rate. It holds nothing later: asking for data on or after
the decision date raises ``pf.LookAheadError``, so a strategy cannot peek by accident.
"""

import pandas as pd

import portfolio as pf


class Momentum(pf.BaseStrategy):
    """Equal weight of the ``top`` names with the best 12-month return, skipping the last month.

    A classic "12-1" momentum rule, capped at ``cap`` per name, the rest in cash.
    """

    def __init__(self, name: str, top: int = 5, cap: float = 0.20) -> None:
        super().__init__(name)
        self.top = top
        self.cap = cap

    def target(self, past: pf.PastView) -> pd.Series:
        prices = past.prices(lookback_days=252)[list(past.available)]
        ranked = (prices.iloc[-21] / prices.iloc[0] - 1).dropna().sort_values(ascending=False)
        chosen = ranked.index[: self.top]
        return pd.Series(min(1.0 / len(chosen), self.cap), index=chosen)  # rest: cash


config = pf.parse_backtest(
    {
        "base_config": str(pf.packaged_config_path("default.toml")),
        "start": "2023-01-03",
        "end": "2026-07-31",
        "lookback_days": 252,
        "min_history_days": 252,       # a name needs a year of prices to be ranked
        "rebalance": "monthly",
        "benchmarks": ["SPY", "QQQ"],
        "strategies": [
            {"name": "Equal weight", "kind": "equal_weight"},
            {"name": "Article policy", "kind": "policy"},
        ],
    },
    source="examples/custom_strategy.py",
)
result = pf.backtest(config, options=pf.DataOptions(source="bundled", offline=True),
                     strategies=[Momentum("Momentum 12-1 (top 5)")])
for name, metrics in {**result.metrics, **result.benchmark_metrics}.items():
    print(f"{name:24s} CAGR {metrics.cagr:6.1%}  volatility {metrics.volatility:5.1%}  "
          f"max drawdown {metrics.max_drawdown:6.1%}")
momentum = result.strategies["Momentum 12-1 (top 5)"]
last = momentum.weights.iloc[-1]
print(f"Momentum holds on {last.name.date()}: "
      + ", ".join(f"{t} {w:.0%}" for t, w in last[last > 0].items()))
