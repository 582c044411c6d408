"""Gains and losses the sells of a rebalance realise, from the holdings' cost basis.

A number to see what a sale realises, not tax advice: one average cost basis per ticker
(USD per share, the base currency also for 9984.T), no tax lots, no wash-sale rules.

* realised gain of a sell = proceeds - fee - shares sold * cost basis, USD;
* the basis after trading: unchanged for a sell, the share-weighted average of the old
  basis and the buy price for a buy (the buy price alone for a new position).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portfolio.trading.orders import Order

__all__ = ["RealisedGain", "basis_after", "realised_gains"]


@dataclass(frozen=True)
class RealisedGain:
    """What one sell realises against the cost basis.

    Attributes
    ----------
    ticker : str
        Ticker sold.
    shares : float
        Shares sold.
    proceeds : float
        Notional minus fee, USD.
    basis : float
        Shares sold times the cost basis per share, USD.
    """

    ticker: str
    shares: float
    proceeds: float
    basis: float

    @property
    def gain(self) -> float:
        """Realised gain (negative: a loss), USD."""
        return self.proceeds - self.basis


def realised_gains(orders: Sequence[Order], cost_basis: Mapping[str, float]
                   ) -> tuple[tuple[RealisedGain, ...], tuple[str, ...]]:
    """The gain of every sell whose ticker has a cost basis.

    Parameters
    ----------
    orders : sequence of Order
        The rebalance's orders (buys are skipped).
    cost_basis : mapping
        Ticker -> USD per share.

    Returns
    -------
    gains : tuple of RealisedGain
        One per sell with a known basis, in order.
    unknown : tuple of str
        Tickers sold without a known basis.
    """
    gains, unknown = [], []
    for order in orders:
        if order.side != "sell":
            continue
        if order.ticker not in cost_basis:
            unknown.append(order.ticker)
            continue
        gains.append(RealisedGain(order.ticker, order.shares, order.notional - order.cost,
                                  order.shares * cost_basis[order.ticker]))
    return tuple(gains), tuple(unknown)


def basis_after(orders: Sequence[Order], shares_before: Mapping[str, float],
                cost_basis: Mapping[str, float]) -> dict[str, float]:
    """Cost basis per share after the orders (module docstring), USD.

    Parameters
    ----------
    orders : sequence of Order
        The orders.
    shares_before : mapping
        Ticker -> shares held before.
    cost_basis : mapping
        Ticker -> USD per share before (tickers without a basis stay without one, unless
        the position is new).

    Returns
    -------
    dict
        Ticker -> USD per share for every ticker whose basis is known after trading.
    """
    basis = dict(cost_basis)
    for order in orders:
        if order.side != "buy":
            continue
        held = float(shares_before.get(order.ticker, 0.0))
        if held <= 0:
            basis[order.ticker] = order.price
        elif order.ticker in basis:
            basis[order.ticker] = ((held * basis[order.ticker] + order.notional)
                                   / (held + order.shares))
    return basis
