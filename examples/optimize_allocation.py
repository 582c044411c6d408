"""Propose a diversified allocation for the AI-infrastructure universe, in a few lines.

Run: python examples/optimize_allocation.py   (uses the bundled prices; no network)
"""

import portfolio as pf

config = pf.load_config()  # the packaged default.toml: universe, caps, cash floor, OpenAI cap
offline = pf.DataOptions(source="bundled", offline=True)

for objective in ("min_variance", "max_sharpe", "risk_parity"):
    run = pf.optimize_from_config(config, offline, objective=objective)
    allocation = run.allocation
    top = allocation.weights.sort_values(ascending=False).head(5)
    print(f"{objective:>13}: volatility {allocation.volatility:.1%}, "
          f"top weights " + ", ".join(f"{t} {w:.1%}" for t, w in top.items()))
    assert all(row.ok for row in allocation.limits), "every limit holds"

# The same optimiser from plain returns, with limits written in code.
prices = pf.load_prices(["NVDA", "AMD", "AVGO", "MSFT", "GOOGL"], source="bundled").prices
returns = pf.to_returns(prices).iloc[-756:]
allocation = pf.optimize(returns, "min_variance", [pf.MaxWeight(0.30), pf.CashFloor(0.05)])
print(allocation.weights.round(4).to_dict())
