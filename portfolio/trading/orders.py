"""Rebalancing engine: current holdings + target weights -> trade orders.

Pure computation, no I/O, no config.  Units everywhere:

* ``shares``: share counts per ticker (float, >= 0; fractional holdings allowed);
* ``prices``: USD per share at the as-of close;
* ``cash``, notionals, fees, values: USD;
* weights: fractions of total portfolio value (holdings at ``prices`` plus cash;
  0.25 = 25 %).  Target weights carry a ``"CASH"`` entry and sum to 1.

Cash accounting
---------------
A buy of notional ``n`` USD takes ``n + fee`` from cash, a sell adds ``n - fee``,
with ``fee = max(min_fee, bps / 1e4 * n)`` (:class:`TradingCosts`).  At unchanged
prices the value after trading is the value before minus the fees.  The **cash
rule** is ``cash_after >= cash_floor * value_after`` (with ``cash_floor`` in
``[0, 1)`` this also keeps cash >= 0).  It is separable in the signed share
trades ``d_i``::

    sum_i [p_i * d_i + (1 - cash_floor) * fee_i(d_i)] <= cash - cash_floor * value_before

Whenever something trades, a safety slack of ``1e-10 * value_before`` USD is
kept so that float rounding in :func:`apply_orders` can never push cash below the
floor.

Objective
---------
The sum over names (cash excluded) of squared dollar deviations from target,
``sum_i (p_i * (s_i + d_i) - T_i) ** 2`` with ``T_i = w_i * V_ref``.  ``V_ref`` is
the value left after the fees of the exact fractional rebalance, the fixed point
``V_ref = V - fees(trades to w * V_ref)`` (a contraction since ``bps < 1e4``), so
with fractional shares and a slack cash rule the after-trade weights equal the
targets even when trading costs money.  L2 rather than L1: under a binding cash
rule L1 values every dollar of shortfall alike, so roundings tie massively; L2
spreads a shortfall across names and fixes the largest gaps first.

Fractional and whole shares
---------------------------
The plan that meets the cash rule with the least squared deviation is found by
:mod:`portfolio.trading.rounding` (exact for fractional shares, a certified search for
whole shares).

No-trade band
-------------
After optimising, an order is skipped when its notional is below
``no_trade_weight`` times the value before trading or below ``no_trade_dollars``
USD.  Skipped buys only free cash.  Skipped sells are tried smallest first and
kept (with a note) when skipping them would break the cash rule.  Freed cash is
not reinvested (that could create new small orders).

Turnover
--------
One-way (one-sided) turnover against the value before trading,
``0.5 * (sum(|notional|) + |cash_after - cash_before|) / value_before``: the
fraction of the portfolio bought, equal to the fraction sold once cash counts as a
position.  Switching everything from A to B is 1.0, buying 10 % from cash is 0.1.
This is the definition of ``constraints.MaxTurnover`` and of the backtest.

When the cash rule cannot hold at all (fees larger than the proceeds, or a
fractional remainder that whole-share orders cannot sell), the plan sells every
position whose sale raises cash and a note states the shortfall in USD and as a
weight.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.errors import InputError
from portfolio.trading.book import (
    Book,
    align_book,
    numeric_series,
    real_number,
    reference_value,
    sell_out_trades,
)
from portfolio.trading.costs import DEFAULT_COSTS, TradingCosts, is_real
from portfolio.trading.rounding import fractional_trades, whole_share_trades
from portfolio.weights import CASH

__all__ = [
    "DEFAULT_COSTS",
    "Order",
    "RebalancePlan",
    "TradingCosts",
    "apply_orders",
    "plan_rebalance",
]


@dataclass(frozen=True)
class Order:
    """One trade order.

    Parameters
    ----------
    ticker : str
        Ticker traded.
    side : str
        ``"buy"`` or ``"sell"``.
    shares : float
        Shares traded, > 0 (a whole number in whole-share mode).
    price : float
        USD per share, > 0.
    notional : float
        ``shares * price``, USD, >= 0.
    cost : float
        Fee, USD, >= 0; paid from cash (a buy takes ``notional + cost``, a sell
        raises ``notional - cost``).
    """

    ticker: str
    side: str
    shares: float
    price: float
    notional: float
    cost: float

    def __post_init__(self) -> None:
        where = f"order {self.ticker}"
        if self.side not in ("buy", "sell"):
            raise InputError(
                f"unknown order side {self.side!r}", where, "side is 'buy' or 'sell'", None
            )
        checks = (
            ("shares", self.shares, False),
            ("price", self.price, False),
            ("notional", self.notional, True),
            ("cost", self.cost, True),
        )
        for name, value, zero_ok in checks:
            if not is_real(value) or not math.isfinite(value) or value < 0:
                raise InputError(
                    f"invalid order {name} {value!r}",
                    where,
                    f"{name} must be a finite number",
                    None,
                )
            if value == 0 and not zero_ok:
                raise InputError(f"order {name} is zero", where, f"{name} must be > 0", None)

    @property
    def cash_flow(self) -> float:
        """Change of cash in USD: ``-(notional + cost)`` (buy) or ``notional - cost`` (sell)."""
        if self.side == "buy":
            return -(self.notional + self.cost)
        return self.notional - self.cost


@dataclass(frozen=True, eq=False)
class RebalancePlan:
    """Result of :func:`plan_rebalance` (immutable; compared by identity).

    Share Series are indexed by ticker (target tickers first, then held tickers
    outside the target); weight Series have the same tickers plus ``"CASH"``.

    Attributes
    ----------
    orders : tuple of Order
        Sells first, then buys.
    before_shares, after_shares : pd.Series
        Shares per ticker before / after the orders.  ``after_shares, after_cash``
        are computed by :func:`apply_orders`, so that identity holds exactly.
    before_cash, after_cash : float
        Cash in USD before / after (after includes all fees).
    prices : pd.Series
        USD per share used for every notional and weight.
    before_weights, after_weights, target_weights : pd.Series
        Fractions of total value (before: value before trading; after: value after
        fees), each summing to 1 including ``"CASH"``; targets normalised to sum 1.
    turnover : float
        One-way turnover ``0.5 * (sum(|notional|) + |cash change|) / value_before``
        (a full switch from one stock to another is 1.0), as in ``MaxTurnover``.
    total_cost : float
        Sum of the order fees, USD (= value before - value after at the same prices).
    skipped : tuple of str
        Tickers whose order the no-trade band suppressed.
    notes : tuple of str
        Plain-language remarks: unmet or binding cash floor, sells kept despite the
        band, rounding fallbacks, fractional remainders.
    """

    orders: tuple[Order, ...]
    before_shares: pd.Series
    after_shares: pd.Series
    before_cash: float
    after_cash: float
    prices: pd.Series
    before_weights: pd.Series
    after_weights: pd.Series
    target_weights: pd.Series
    turnover: float
    total_cost: float
    skipped: tuple[str, ...]
    notes: tuple[str, ...]


def apply_orders(
    shares: pd.Series, cash: float, orders: Iterable[Order]
) -> tuple[pd.Series, float]:
    """Apply orders, in sequence, to holdings and cash.

    Parameters
    ----------
    shares : pd.Series
        Shares per ticker, shape ``(n_tickers,)``.
    cash : float
        Cash in USD.
    orders : iterable of Order
        A buy adds ``shares`` and takes ``notional + cost`` USD from cash; a sell
        removes ``shares`` and adds ``notional - cost`` USD.

    Returns
    -------
    (pd.Series, float)
        Shares after (the input tickers in their order, then newly bought tickers)
        and cash after in USD.

    Raises
    ------
    InputError
        On a non-numeric or duplicated holding, a non-finite cash, or a sell of
        more shares than held.
    """
    held = numeric_series(shares, "holdings")
    cash_after = real_number(cash, "cash")
    position = dict(zip(held.index, held.to_numpy(dtype=float).tolist()))
    for order in orders:
        if not isinstance(order, Order):
            raise InputError(
                f"not an order: {order!r}", "orders", "apply_orders takes Order objects", None
            )
        current = position.get(order.ticker, 0.0)
        if order.side == "buy":
            position[order.ticker] = current + order.shares
            cash_after = cash_after - (order.notional + order.cost)
        else:
            if order.shares > current:
                raise InputError(
                    f"cannot sell {order.shares:g} shares of {order.ticker}",
                    f"order {order.ticker}",
                    f"only {current:g} shares are held",
                    "sell at most the shares held",
                )
            position[order.ticker] = current - order.shares
            cash_after = cash_after + (order.notional - order.cost)
    index = pd.Index(list(position), name=held.index.name)
    return pd.Series(list(position.values()), index=index, dtype=float, name=held.name), cash_after


def plan_rebalance(
    shares: pd.Series,
    cash: float,
    prices: pd.Series,
    target_weights: pd.Series,
    *,
    costs: TradingCosts = DEFAULT_COSTS,
    cash_floor: float = 0.0,
    whole_shares: bool = True,
    no_trade_weight: float = 0.0,
    no_trade_dollars: float = 0.0,
) -> RebalancePlan:
    """Turn current holdings and a target allocation into orders.

    Orders start from the current holdings.  The plan minimises the sum of squared
    dollar deviations of each name from its target value while the cash after
    trading and fees stays >= ``cash_floor`` times the value after fees (see the
    module docstring for the method and its optimality).

    Parameters
    ----------
    shares : pd.Series
        Current shares per ticker (>= 0), shape ``(n_held,)``.  A held ticker
        absent from the target has target weight 0 (it is sold).
    cash : float
        Current cash, USD, >= 0.
    prices : pd.Series
        USD per share at the as-of close, indexed by ticker; may hold extra tickers.
        Every target ticker and every held ticker needs a price.
    target_weights : pd.Series
        Target fractions of total value indexed by ticker, under the implicit-cash rule
        of :func:`portfolio.weights.parse_weights`: with ``"CASH"`` they sum to 1 (within
        1e-6, then normalised), without it to at most 1 and the rest is the cash target.
        A target ticker not held starts from 0 shares.
    costs : TradingCosts
        Fee model; fees are paid from cash.
    cash_floor : float
        Minimum cash after trading as a fraction of the value after fees, in [0, 1).
    whole_shares : bool
        True: orders in whole shares; False: fractional shares.
    no_trade_weight : float
        Skip orders whose notional is below this fraction of the value before.
    no_trade_dollars : float
        Skip orders whose notional is below this many USD.

    Returns
    -------
    RebalancePlan
        Orders, before / after / target state, turnover, costs, skipped tickers, notes.

    Raises
    ------
    InputError
        Weights not summing to 1, negative weights, shares or cash, tickers
        without a price, duplicated tickers, ``"CASH"`` used as a ticker, or
        out-of-range options.
    DataError
        A needed price that is not a finite positive number.
    """
    book = align_book(
        shares, cash, prices, target_weights, costs, cash_floor, no_trade_weight, no_trade_dollars
    )
    notes: list[str] = []
    target_values = book.weight * reference_value(book)
    most_slack = sell_out_trades(book, whole_shares, keep_if="slack")
    if not (book.feasible(most_slack) or book.budget >= 0):
        trades = sell_out_trades(book, whole_shares, keep_if="cash")
    elif whole_shares:
        trades = whole_share_trades(book, target_values, most_slack, notes)
    else:
        trades = fractional_trades(book, target_values, most_slack, notes)
    trades, skipped, kept = _apply_no_trade_band(book, trades, no_trade_weight, no_trade_dollars)
    orders = _orders(book, trades)

    index = pd.Index(book.tickers, name="ticker")
    before_shares = pd.Series(book.held, index=index, name="shares")
    after_shares, after_cash = apply_orders(before_shares, book.cash, orders)
    after_value = float(np.sum(after_shares.to_numpy() * book.price)) + after_cash

    notes += _kept_sell_notes(book, trades, kept)
    notes.extend(_cash_floor_notes(book, after_cash, after_value))
    if whole_shares:
        notes.extend(_remainder_notes(book, after_shares.to_numpy()))

    return RebalancePlan(
        orders=orders,
        before_shares=before_shares,
        after_shares=after_shares,
        before_cash=book.cash,
        after_cash=after_cash,
        prices=pd.Series(book.price, index=index, name="price"),
        before_weights=_weights(index, book.held * book.price, book.cash, book.value),
        after_weights=_weights(
            index, after_shares.to_numpy() * book.price, after_cash, after_value
        ),
        target_weights=pd.Series(
            np.append(book.weight, book.cash_weight),
            index=_with_cash(index),
            name="weight",
        ),
        turnover=0.5
        * (sum(order.notional for order in orders) + abs(after_cash - book.cash))
        / book.value,
        total_cost=sum(order.cost for order in orders),
        skipped=tuple(str(book.tickers[i]) for i in skipped),
        notes=tuple(notes),
    )


def _apply_no_trade_band(
    book: Book, trades: np.ndarray, no_trade_weight: float, no_trade_dollars: float
) -> tuple[np.ndarray, list[int], list[int]]:
    """Drop small orders; return trades, skipped and kept-sell positions."""
    notional = np.abs(trades) * book.price
    small = (trades != 0) & (
        (notional / book.value < no_trade_weight) | (notional < no_trade_dollars)
    )
    banded = np.where(small & (trades > 0), 0.0, trades)
    skipped = [int(i) for i in np.flatnonzero(small & (trades > 0))]
    kept: list[int] = []
    small_sells = np.flatnonzero(small & (trades < 0))
    for i in small_sells[np.argsort(notional[small_sells], kind="stable")]:
        trial = banded.copy()
        trial[i] = 0.0
        if book.feasible(trial):
            banded = trial
            skipped.append(int(i))
        else:
            kept.append(int(i))
    return banded, sorted(skipped), sorted(kept)


def _orders(book: Book, trades: np.ndarray) -> tuple[Order, ...]:
    orders = []
    for side, selected in (("sell", trades < 0), ("buy", trades > 0)):
        for i in np.flatnonzero(selected):
            shares = float(abs(trades[i]))
            price = float(book.price[i])
            notional = shares * price
            orders.append(
                Order(book.tickers[i], side, shares, price, notional, book.costs.cost(notional))
            )
    return tuple(orders)


def _kept_sell_notes(book: Book, trades: np.ndarray, kept: list[int]) -> list[str]:
    return [
        f"kept the {book.tickers[i]} sell of ${abs(trades[i]) * book.price[i]:,.2f} "
        "inside the no-trade band: skipping it would break the cash floor or make cash negative"
        for i in kept
    ]


def _cash_floor_notes(book: Book, after_cash: float, after_value: float) -> list[str]:
    required = book.floor * after_value
    if after_cash < required or after_cash < 0:
        short = max(required, 0.0) - after_cash
        share = short / after_value if after_value > 0 else float("nan")
        return [
            f"cash floor not met: cash after trading is ${after_cash:,.2f} but the "
            f"{book.floor:.2%} floor needs ${required:,.2f}; short by ${short:,.2f} "
            f"({share:.2%} of value) even after selling every position whose sale raises cash"
        ]
    if book.cash_weight < book.floor:
        return [
            f"the cash floor ({book.floor:.2%}) is above the target {CASH} weight "
            f"({book.cash_weight:.2%}): positions were kept below target to hold at least "
            f"${required:,.2f} in cash"
        ]
    return []


def _remainder_notes(book: Book, after_shares: np.ndarray) -> list[str]:
    remainders = (book.weight == 0) & (after_shares > 0) & (after_shares < 1)
    return [
        f"{book.tickers[i]} keeps {after_shares[i]:g} shares: whole-share orders cannot sell a "
        "fractional remainder (use fractional shares to sell it)"
        for i in np.flatnonzero(remainders)
    ]


def _weights(index: pd.Index, holding_values: np.ndarray, cash: float, value: float) -> pd.Series:
    divisor = value if value > 0 else float("nan")
    return pd.Series(
        np.append(holding_values, cash) / divisor, index=_with_cash(index), name="weight"
    )


def _with_cash(index: pd.Index) -> pd.Index:
    return pd.Index([*index, CASH], name=index.name)
