"""Turn what you hold into whole-share orders toward a diversified target, in a few lines.

Run: python examples/rebalance_holdings.py   (uses the bundled prices; no network)
"""

from pathlib import Path

import portfolio as pf

here = Path(__file__).parent
config = pf.load_config()  # limits, the optimizer and [trading]: 5 bps, 1 USD min fee, band
offline = pf.DataOptions(source="bundled", offline=True)
holdings = pf.read_holdings(here / "holdings.csv", known_tickers=config.tickers)

# Toward the config's optimizer allocation (default), then toward a target-weights file.
for target in (None, pf.read_target_weights(here / "target_weights.csv")):
    run = pf.rebalance(holdings, config=config, target=target, options=offline)
    print(f"{len(run.orders)} orders toward {run.objective or 'target_weights.csv'}:")
    for order in run.orders:
        print(f"  {order.side:<4} {order.shares:>5g} {order.ticker:<6} at {order.price:>8.2f} USD"
              f"  notional {order.notional:>10,.2f}  cost {order.cost:>5.2f}")
    print(f"  turnover {run.turnover:.1%}, fees {run.total_cost:,.2f} USD")
    print("  breached before:", ", ".join(row.name for row in run.breaches_before) or "none")
    print("  breached after: ", ", ".join(row.name for row in run.breaches_after) or "none")
    for note in run.notes:
        print("  note:", note)
