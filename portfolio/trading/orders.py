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

Fractional shares
-----------------
If the exact target satisfies the cash rule it is the answer.  Otherwise the
cash rule binds and the Lagrangian ``sum_i (x_i - T_i)^2 + lam * spend(x)`` is
minimised name by name in closed form (buy / no-trade / sell regions of the
proportional fee); ``lam >= 0`` is found by bisection to the smallest value whose
plan satisfies the cash rule with the real fees.  This is the exact optimum when
only the proportional fee matters (KKT), and a feasible, near-optimal plan when
the minimum fee binds on some order.

Whole shares
------------
Orders are whole shares (a fractional holding keeps its fractional remainder).
Rounding under the cash rule is a multiple-choice knapsack (NP-hard in general, so
no greedy rule is exact); the method is exact on every problem that finishes
within the search budget, and certified otherwise:

1. The nearest integer to each ideal trade minimises every term on its own; if
   that plan meets the cash rule it is optimal (the usual case with cash to spare).
2. Otherwise an incumbent comes from the greedy repair the textbook suggests
   (floor of the fractional optimum; sell single shares where that frees the most
   cash per unit of added deviation until the rule holds; buy single shares where
   that removes the most deviation per dollar while it still holds), refined by a
   local search over +-1 share on one name and 1-for-1 share swaps between names.
3. Any plan at least as good stays within ``sqrt(incumbent objective)`` USD of
   each target, which bounds the candidate share counts per name.  The Lagrangian
   dual ``max_lam sum_i min_d [dev_i(d) + lam * spend_i(d)] - lam * budget`` gives
   a lower bound (weak duality holds for any ``lam >= 0``, also with the
   non-convex minimum fee) and its minimiser plan a second incumbent.
4. A depth-first branch and bound over names, with that Lagrangian bound at each
   node, proves optimality (relative tolerance 1e-9) or finds a better plan.
   It stops after 300,000 nodes (about half a second); the plan is then within
   ``sqrt(upper - lower bound)`` USD of root-sum-square deviation of the optimum.
   That certified gap is reported in ``notes`` when it exceeds the dearest share
   price in the book, i.e. when the plan might be more than one share off.

Tests check the result against brute-force enumeration.  A MILP with HiGHS was
tried first: it needed seconds to prove optimality at 20-50 names, hit time
limits beyond, and HiGHS can write to stdout; the structure-specific search is
exact on the same instances (checked against HiGHS) and far faster.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError

__all__ = [
    "CASH",
    "DEFAULT_COSTS",
    "Order",
    "RebalancePlan",
    "TradingCosts",
    "apply_orders",
    "plan_rebalance",
]

CASH = "CASH"
"""Label of the cash line in weight Series."""

WEIGHT_SUM_TOLERANCE = 1e-6
MAX_PORTFOLIO_VALUE = 1e15  # USD, about ten times every listed share in the world
_DUST_RELATIVE = 1e-12  # trades below this fraction of value are float noise, not orders
_MARGIN_RELATIVE = 1e-10  # cash slack kept (fraction of value) whenever something trades
_FIXED_POINT_ROUNDS = 100
_BISECTION_ROUNDS = 200
_OPTIMALITY_TOLERANCE = 1e-9  # relative gap at which a whole-share plan counts as optimal
_CANDIDATE_LIMIT = 2_000_000  # most candidate share counts (all names) searched exactly
_DEPTH_LIMIT = 500  # most names searched exactly (one recursion level per name)
_NODE_LIMIT = 300_000  # branch-and-bound node budget


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclass(frozen=True)
class TradingCosts:
    """Per-order trading cost.

    Parameters
    ----------
    bps : float
        Proportional cost in basis points of the order notional (5.0 = 0.05 %), in
        ``[0, 10000)``.
    min_fee : float
        Minimum fee per order, USD, >= 0.

    Notes
    -----
    The cost of an order of notional ``n`` USD is ``max(min_fee, bps / 1e4 * n)``;
    an empty order costs nothing.
    """

    bps: float = 5.0
    min_fee: float = 1.0

    def __post_init__(self) -> None:
        for name, value in (("bps", self.bps), ("min_fee", self.min_fee)):
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise InputError(
                    f"invalid trading cost {name}={value!r}",
                    f"TradingCosts.{name}",
                    "costs must be finite numbers >= 0",
                    "use e.g. TradingCosts(bps=5.0, min_fee=1.0)",
                )
        if self.bps >= 10_000:
            raise InputError(
                f"invalid trading cost bps={self.bps!r}",
                "TradingCosts.bps",
                "a cost of 10000 bps or more eats the whole order",
                "give the cost in basis points (5.0 = 0.05 %)",
            )

    def cost(self, notional: float) -> float:
        """Fee of one order.

        Parameters
        ----------
        notional : float
            Order notional in USD (sign ignored).

        Returns
        -------
        float
            Fee in USD: 0 for a zero notional, else ``max(min_fee, bps / 1e4 * |notional|)``.
        """
        if notional == 0:
            return 0.0
        return float(max(self.min_fee, self.bps / 1e4 * abs(notional)))

    @property
    def is_free(self) -> bool:
        """True when trading costs nothing (``bps == min_fee == 0``)."""
        return self.bps == 0 and self.min_fee == 0


DEFAULT_COSTS = TradingCosts()
"""Default fee model: 5 bps, 1 USD minimum per order."""


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
            if not _is_real(value) or not math.isfinite(value) or value < 0:
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
    held = _numeric_series(shares, "holdings")
    cash_after = _real_number(cash, "cash")
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
        Target fractions of total value indexed by ticker plus ``"CASH"`` (missing
        CASH means 0), each >= 0, summing to 1 within 1e-6 (then normalised).  A
        target ticker not held starts from 0 shares.
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
    book = _align(
        shares, cash, prices, target_weights, costs, cash_floor, no_trade_weight, no_trade_dollars
    )
    notes: list[str] = []
    target_values = book.weight * _reference_value(book)
    most_slack = _sell_out_trades(book, whole_shares, keep_if="slack")
    if not (book.feasible(most_slack) or book.budget >= 0):
        trades = _sell_out_trades(book, whole_shares, keep_if="cash")
    elif whole_shares:
        trades = _whole_share_trades(book, target_values, most_slack, notes)
    else:
        trades = _fractional_trades(book, target_values, most_slack, notes)
    trades, skipped, kept = _apply_no_trade_band(book, trades, no_trade_weight, no_trade_dollars)
    orders = _orders(book, trades)

    index = pd.Index(book.tickers, name="ticker")
    before_shares = pd.Series(book.held, index=index, name="shares")
    after_shares, after_cash = apply_orders(before_shares, book.cash, orders)
    after_value = float(np.sum(after_shares.to_numpy() * book.price)) + after_cash

    for i in kept:
        notes.append(
            f"kept the {book.tickers[i]} sell of ${abs(trades[i]) * book.price[i]:,.2f} "
            "inside the no-trade band: skipping it would break the cash floor or make cash negative"
        )
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


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True, eq=False)
class _Book:
    """Label-aligned numeric view of one rebalancing problem (arrays share one order)."""

    tickers: tuple[str, ...]
    held: np.ndarray  # shares
    price: np.ndarray  # USD per share
    weight: np.ndarray  # target weight per ticker (normalised)
    cash_weight: float
    cash: float  # USD
    value: float  # USD, before trading
    costs: TradingCosts
    floor: float

    @property
    def budget(self) -> float:
        """Most the trades may spend (USD, incl. (1 - floor) * fees): cash - floor * value."""
        return self.cash - self.floor * self.value

    @property
    def margin(self) -> float:
        return _MARGIN_RELATIVE * self.value

    @property
    def dust(self) -> float:
        return _DUST_RELATIVE * self.value

    def fees(self, notional: np.ndarray) -> np.ndarray:
        rate = self.costs.bps / 1e4
        return np.where(notional > 0, np.maximum(self.costs.min_fee, rate * notional), 0.0)

    def spend(self, trades: np.ndarray, names=slice(None)) -> np.ndarray:
        """Per-name contribution to the cash rule (USD) of signed share trades."""
        price = self.price[names]
        return price * trades + (1.0 - self.floor) * self.fees(np.abs(trades) * price)

    def allows(self, total_spend, any_trade):
        """Cash rule for a total spend (vectorised over candidates)."""
        return total_spend <= self.budget - np.where(any_trade, self.margin, 0.0)

    def feasible(self, trades: np.ndarray) -> bool:
        return bool(self.allows(float(self.spend(trades).sum()), bool(np.any(trades != 0))))

    def deviations(
        self, trades: np.ndarray, target_values: np.ndarray, names=slice(None)
    ) -> np.ndarray:
        """Squared dollar deviation from target value, per name (USD^2)."""
        return (self.price[names] * (self.held[names] + trades) - target_values[names]) ** 2


def _align(
    shares, cash, prices, target_weights, costs, cash_floor, no_trade_weight, no_trade_dollars
) -> _Book:
    if not isinstance(costs, TradingCosts):
        raise InputError(
            f"costs must be a TradingCosts, got {type(costs).__name__}",
            "costs",
            None,
            "pass TradingCosts(bps=..., min_fee=...)",
        )
    cash = _real_number(cash, "cash")
    if cash < 0:
        raise InputError(
            f"negative cash {cash:,.2f} USD",
            "cash",
            "cash must be >= 0 (borrowing is not modelled)",
            "enter the actual cash balance, 0 or more",
        )
    floor = _real_number(cash_floor, "cash_floor")
    if not 0 <= floor < 1:
        raise InputError(
            f"cash_floor {floor!r} is out of range",
            "cash_floor",
            "the floor is a fraction of total value in [0, 1)",
            "use e.g. 0.02 for a 2 % floor",
        )
    for name, value in (
        ("no_trade_weight", no_trade_weight),
        ("no_trade_dollars", no_trade_dollars),
    ):
        if _real_number(value, name) < 0:
            raise InputError(
                f"{name} {value!r} is negative", name, "a band is >= 0", "use 0 or more"
            )

    held = _numeric_series(shares, "holdings")
    weights = _numeric_series(target_weights, "target weights")
    if not isinstance(prices, pd.Series):
        raise InputError(
            "prices must be a pandas Series indexed by ticker",
            "prices",
            f"got {type(prices).__name__}",
            "pass a pd.Series mapping ticker -> USD per share",
        )
    _check_unique(prices, "prices")
    for label, labels in (("holdings", held.index), ("prices", prices.index)):
        if CASH in labels:
            raise InputError(
                f"'{CASH}' is not a ticker",
                label,
                f"{CASH} is reserved for the cash balance",
                "pass cash through the cash argument",
            )
    short = held.index[held.to_numpy() < 0]
    if len(short):
        raise InputError(
            f"negative share counts for {_names(short)}",
            "holdings",
            "short positions are not supported",
            "enter long positions only (shares >= 0)",
        )
    negative = weights.index[weights.to_numpy() < 0]
    if len(negative):
        raise InputError(
            f"negative target weights for {_names(negative)}",
            "target weights",
            "targets are long-only fractions of total value",
            "use weights >= 0",
        )
    total = float(weights.sum())
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        fix = (
            f"add {1.0 - total:.6f} to the {CASH} weight"
            if total < 1
            else f"reduce the weights by {total - 1.0:.6f} in total"
        )
        raise InputError(
            f"target weights sum to {total:.6f}, not 1",
            "target weights",
            "weights are fractions of total value and must sum to 1 "
            f"(within {WEIGHT_SUM_TOLERANCE:g}), {CASH} included",
            fix,
        )
    ticker_weights = weights.drop(CASH, errors="ignore") / total
    cash_weight = float(weights.get(CASH, 0.0)) / total
    in_target = set(ticker_weights.index)
    universe = list(ticker_weights.index) + [t for t in held.index if t not in in_target]

    price = pd.to_numeric(prices.reindex(universe), errors="coerce").astype(float)
    unpriced = price.index[price.isna().to_numpy()]
    for label, group in (("target weights", ticker_weights.index), ("holdings", held.index)):
        missing = [t for t in unpriced if t in set(group)]
        if missing:
            raise InputError(
                f"no price for {_names(missing)}",
                label,
                "every target and held ticker needs a USD price at the as-of date",
                "fix the ticker spelling or add prices for them",
            )
    bad = price.index[~(np.isfinite(price.to_numpy()) & (price.to_numpy() > 0))]
    if len(bad):
        raise DataError(
            f"invalid prices for {_names(bad)}",
            "prices",
            "a price is USD per share and must be a finite number > 0",
            "check the price source for these tickers",
        )
    held_aligned = held.reindex(universe, fill_value=0.0).to_numpy(dtype=float)
    price_values = price.to_numpy(dtype=float)
    value = float(np.sum(held_aligned * price_values)) + cash
    if not value <= MAX_PORTFOLIO_VALUE:  # also catches inf and NaN
        raise InputError(
            f"the portfolio is worth {value:.3g} USD",
            "holdings and cash",
            f"more than {MAX_PORTFOLIO_VALUE:.0e} USD cannot be a real portfolio "
            "(share counts times prices, plus cash)",
            "check the share counts and the cash for a units error",
        )
    if value <= 0:
        raise InputError(
            "the portfolio has zero value",
            "holdings and cash",
            "weights are fractions of total value, which must be > 0",
            "add cash or holdings",
        )
    return _Book(
        tickers=tuple(universe),
        held=held_aligned,
        price=price_values,
        weight=ticker_weights.reindex(universe, fill_value=0.0).to_numpy(dtype=float),
        cash_weight=cash_weight,
        cash=cash,
        value=value,
        costs=costs,
        floor=floor,
    )


def _reference_value(book: _Book) -> float:
    """Value (USD) left after the fees of the exact fractional rebalance (fixed point)."""
    if book.costs.is_free:
        return book.value
    held_value = book.held * book.price
    reference = book.value
    for _ in range(_FIXED_POINT_ROUNDS):
        notional = np.abs(book.weight * reference - held_value)
        notional = np.where(notional <= book.dust, 0.0, notional)
        updated = book.value - float(book.fees(notional).sum())
        if abs(updated - reference) <= 1e-14 * book.value:
            return updated
        reference = updated
    return reference


def _sell_out_trades(book: _Book, whole_shares: bool, *, keep_if: str) -> np.ndarray:
    """Sell every (whole, if ``whole_shares``) share of the names whose sale helps.

    ``keep_if="slack"``: sales that raise ``cash - floor * value`` (the most slack any
    plan can reach; the cash rule can hold iff this plan or no trade satisfies it).
    ``keep_if="cash"``: sales whose proceeds exceed their fee (the fallback plan when
    the cash rule cannot hold).
    """
    trades = -(np.floor(book.held) if whole_shares else book.held)
    if keep_if == "slack":
        helps = book.spend(trades) < 0
    else:
        notional = np.abs(trades) * book.price
        helps = notional - book.fees(notional) > 0
    return np.where(helps, trades, 0.0)


def _fractional_plan(book: _Book, target_values: np.ndarray, lam: float) -> np.ndarray:
    """Share trades minimising the Lagrangian for multiplier ``lam`` (USD)."""
    held_value = book.held * book.price
    proportional = (1.0 - book.floor) * book.costs.bps / 1e4
    buy = target_values - lam * (1.0 + proportional) / 2.0
    sell = target_values - lam * (1.0 - proportional) / 2.0
    value = np.where(
        buy > held_value, buy, np.where(sell < held_value, np.maximum(sell, 0.0), held_value)
    )
    trades = np.where(
        value == held_value,
        0.0,
        np.where(value == 0.0, -book.held, value / book.price - book.held),
    )
    return np.where(np.abs(trades) * book.price <= book.dust, 0.0, trades)


def _cash_multiplier(book: _Book, target_values: np.ndarray) -> float | None:
    """Smallest ``lam >= 0`` (bisection) whose Lagrangian plan meets the cash rule.

    None when even the plan that sells everything does not (fees above proceeds).
    """
    if book.feasible(_fractional_plan(book, target_values, 0.0)):
        return 0.0
    proportional = (1.0 - book.floor) * book.costs.bps / 1e4
    high = 2.0 * float(target_values.max(initial=0.0)) / (1.0 - proportional) + 1.0
    if not book.feasible(_fractional_plan(book, target_values, high)):
        return None
    low = 0.0
    for _ in range(_BISECTION_ROUNDS):
        middle = 0.5 * (low + high)
        if not low < middle < high:
            break
        if book.feasible(_fractional_plan(book, target_values, middle)):
            high = middle
        else:
            low = middle
    return high


def _fractional_trades(
    book: _Book, target_values: np.ndarray, most_slack: np.ndarray, notes: list[str]
) -> np.ndarray:
    multiplier = _cash_multiplier(book, target_values)
    if multiplier is None:
        notes.append(
            "the cash floor forced a fallback plan (sell out the names whose sale helps) "
            "because fees exceed the proceeds of some sales"
        )
        return np.zeros_like(book.held) if book.budget >= 0 else most_slack
    return _fractional_plan(book, target_values, multiplier)


def _whole_share_trades(
    book: _Book, target_values: np.ndarray, most_slack: np.ndarray, notes: list[str]
) -> np.ndarray:
    ideal = target_values / book.price - book.held
    lowest = -np.floor(book.held)
    highest = np.maximum(0.0, np.ceil(ideal))
    nearest = np.clip(np.rint(ideal), lowest, highest)
    if book.feasible(nearest):
        return nearest

    multiplier = _cash_multiplier(book, target_values)
    fractional = (
        most_slack if multiplier is None else _fractional_plan(book, target_values, multiplier)
    )
    candidates = [most_slack, np.zeros_like(book.held)]
    repaired = _greedy_repair(book, target_values, np.clip(np.floor(fractional), lowest, highest))
    if repaired is not None:
        filled = _greedy_fill(book, target_values, repaired, highest)
        candidates.append(_local_search(book, target_values, filled, lowest, highest))
    incumbent = _best_feasible(book, target_values, candidates)

    choices = _Choices.around(book, target_values, lowest, highest, incumbent)
    if choices is None:
        notes.append(
            "whole-share rounding used the greedy plan without an optimality proof "
            "(too many share counts to search)"
        )
        return incumbent
    budget = book.budget - book.margin - _DUST_RELATIVE * book.value
    lam, lower_bound, lagrangian_plan = choices.dual(budget)
    filled = _greedy_fill(book, target_values, lagrangian_plan, highest)
    candidates = [incumbent, _local_search(book, target_values, filled, lowest, highest)]
    incumbent = _best_feasible(book, target_values, candidates)
    upper = float(book.deviations(incumbent, target_values).sum())
    if upper - lower_bound <= _OPTIMALITY_TOLERANCE * (1.0 + upper):
        return incumbent
    better, finished = choices.branch_and_bound(lam, budget, upper)
    if better is not None and book.feasible(better):
        incumbent = _best_feasible(book, target_values, [incumbent, better])
    upper = float(book.deviations(incumbent, target_values).sum())
    gap = math.sqrt(max(upper - lower_bound, 0.0))
    if not finished and gap > float(book.price.max()):
        notes.append(
            f"whole-share rounding stopped after {_NODE_LIMIT:,} search nodes without an "
            f"optimality proof; its root-sum-square deviation is within ${gap:,.2f} of the "
            "best possible"
        )
    return incumbent


def _best_feasible(
    book: _Book, target_values: np.ndarray, candidates: Sequence[np.ndarray]
) -> np.ndarray:
    feasible = [c for c in candidates if book.feasible(c)]
    return min(feasible, key=lambda c: float(book.deviations(c, target_values).sum()))


def _greedy_repair(book: _Book, target_values: np.ndarray, start: np.ndarray) -> np.ndarray | None:
    """Sell one share at a time where it frees the most cash per unit of added deviation.

    Stops as soon as the cash rule holds; None if no single-share sale frees cash.
    """
    lowest = -np.floor(book.held)
    trades = start.copy()
    for _ in range(int(np.sum(trades - lowest)) + 1):
        if book.feasible(trades):
            return trades
        down = trades - 1.0
        freed = book.spend(trades) - book.spend(down)
        added = book.deviations(down, target_values) - book.deviations(trades, target_values)
        usable = (trades > lowest) & (freed > 0)
        if not usable.any():
            return None
        ratio = np.where(usable, added / np.where(usable, freed, 1.0), np.inf)
        trades[int(np.argmin(ratio))] -= 1.0
    return None


def _greedy_fill(
    book: _Book, target_values: np.ndarray, start: np.ndarray, highest: np.ndarray
) -> np.ndarray:
    """Buy one share at a time where it removes the most deviation per dollar of cash used.

    Only steps that keep the cash rule are taken; stops when no step improves.
    """
    trades = start.copy()
    while True:
        spend = book.spend(trades)
        up = trades + 1.0
        used = book.spend(up) - spend
        removed = book.deviations(trades, target_values) - book.deviations(up, target_values)
        trading_after = (np.count_nonzero(trades) - (trades != 0) + (up != 0)) > 0
        usable = (
            (trades < highest)
            & (removed > 0)
            & book.allows(float(spend.sum()) + used, trading_after)
        )
        if not usable.any():
            return trades
        ratio = np.where(usable, removed / np.maximum(used, 1e-300), -np.inf)
        trades[int(np.argmax(ratio))] += 1.0


def _local_search(
    book: _Book,
    target_values: np.ndarray,
    start: np.ndarray,
    lowest: np.ndarray,
    highest: np.ndarray,
) -> np.ndarray:
    """Best-improvement local search: +-1 share on one name, or -1 on one and +1 on another.

    Only moves that keep the cash rule are taken; stops at a local optimum.
    """
    trades = start.copy()
    n = len(trades)
    others = ~np.eye(n, dtype=bool)
    for _ in range(100 * n + 100):
        spend = book.spend(trades)
        deviation = book.deviations(trades, target_values)
        down, up = trades - 1.0, trades + 1.0
        change_down = book.deviations(down, target_values) - deviation
        change_up = book.deviations(up, target_values) - deviation
        spend_down, spend_up = book.spend(down) - spend, book.spend(up) - spend
        can_down, can_up = trades > lowest, trades < highest
        trading = np.count_nonzero(trades) - (trades != 0)
        # row i: sell one more share of i; column j: buy one more of j; the diagonal is
        # reused for the single-name moves.
        pair_change = change_down[:, None] + change_up[None, :]
        pair_spend = float(spend.sum()) + spend_down[:, None] + spend_up[None, :]
        after_pair = (
            np.count_nonzero(trades)
            - (trades != 0)[:, None]
            - (trades != 0)[None, :]
            + (down != 0)[:, None]
            + (up != 0)[None, :]
        )
        pair_ok = (
            others & can_down[:, None] & can_up[None, :] & book.allows(pair_spend, after_pair > 0)
        )
        single_change = np.concatenate([change_down, change_up])
        single_spend = float(spend.sum()) + np.concatenate([spend_down, spend_up])
        single_after = np.concatenate([trading + (down != 0), trading + (up != 0)])
        single_ok = np.concatenate([can_down, can_up]) & book.allows(single_spend, single_after > 0)
        best_pair = np.where(pair_ok, pair_change, np.inf)
        best_single = np.where(single_ok, single_change, np.inf)
        pair_index = np.unravel_index(int(np.argmin(best_pair)), best_pair.shape)
        single_index = int(np.argmin(best_single))
        tolerance = 1e-12 * (float(deviation.sum()) + 1.0)
        if min(best_pair[pair_index], best_single[single_index]) >= -tolerance:
            return trades
        if best_pair[pair_index] < best_single[single_index]:
            trades[pair_index[0]] -= 1.0
            trades[pair_index[1]] += 1.0
        elif single_index < n:
            trades[single_index] -= 1.0
        else:
            trades[single_index - n] += 1.0
    return trades


class _SearchStopped(Exception):
    """Raised inside the branch and bound when the node budget is spent."""


@dataclass(frozen=True, eq=False)
class _Choices:
    """Candidate whole-share trades per name, flattened (a multiple-choice knapsack).

    Candidates of name ``i`` are ``trades[offsets[i]:offsets[i + 1]]``, with their
    squared deviation (USD^2) and cash-rule spend (USD).
    """

    offsets: np.ndarray
    trades: np.ndarray
    deviation: np.ndarray
    spend: np.ndarray

    @classmethod
    def around(
        cls,
        book: _Book,
        target_values: np.ndarray,
        lowest: np.ndarray,
        highest: np.ndarray,
        incumbent: np.ndarray,
    ) -> _Choices | None:
        """Every trade a plan at least as good as ``incumbent`` can use (None if too many).

        Such a plan has each squared deviation <= the incumbent's total, so each name
        stays within ``sqrt(total)`` USD of its target.
        """
        upper = float(book.deviations(incumbent, target_values).sum())
        radius = math.sqrt(upper) * (1.0 + 1e-9) + 1e-9 * book.value
        low = np.maximum(lowest, np.ceil((target_values - radius) / book.price - book.held))
        high = np.minimum(highest, np.floor((target_values + radius) / book.price - book.held))
        low, high = np.minimum(low, incumbent), np.maximum(high, incumbent)
        sizes = (high - low + 1.0).astype(np.int64)
        if int(sizes.sum()) > _CANDIDATE_LIMIT or len(sizes) > _DEPTH_LIMIT:
            return None
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        names = np.repeat(np.arange(len(sizes)), sizes)
        trades = low[names] + (np.arange(offsets[-1]) - offsets[names])
        return cls(
            offsets=offsets,
            trades=trades,
            deviation=book.deviations(trades, target_values, names),
            spend=book.spend(trades, names),
        )

    def _segments(self) -> Iterable[tuple[int, int]]:
        return zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist())

    def _minimisers(self, lam: float) -> tuple[float, np.ndarray]:
        """Sum over names of min (deviation + lam * spend), and the flat index of each minimiser."""
        values = self.deviation + lam * self.spend
        picks = np.array([a + int(np.argmin(values[a:b])) for a, b in self._segments()], int)
        return float(values[picks].sum()), picks

    def dual(self, budget: float) -> tuple[float, float, np.ndarray]:
        """Maximise the Lagrangian dual over ``lam >= 0``.

        Returns the best multiplier, the dual lower bound on the total squared
        deviation of any plan with spend <= ``budget``, and the per-name minimiser
        plan at the smallest multiplier found whose plan fits the budget.
        """

        def spend_at(lam: float) -> tuple[float, np.ndarray]:
            _, picks = self._minimisers(lam)
            return float(self.spend[picks].sum()), picks

        high = 1.0
        for _ in range(200):
            if spend_at(high)[0] <= budget:
                break
            high *= 2.0
        low = 0.0
        for _ in range(_BISECTION_ROUNDS):
            middle = 0.5 * (low + high)
            if not low < middle < high:
                break
            if spend_at(middle)[0] <= budget:
                high = middle
            else:
                low = middle
        bounds = {lam: self._minimisers(lam)[0] - lam * budget for lam in (low, high)}
        best = max(bounds, key=bounds.__getitem__)
        return best, bounds[best], self.trades[spend_at(high)[1]]

    def branch_and_bound(
        self, lam: float, budget: float, upper: float
    ) -> tuple[np.ndarray | None, bool]:
        """Exact depth-first search for a plan with spend <= budget beating ``upper``.

        Bound at a node (weak duality with multiplier ``lam``): fixed names count with
        their deviation + lam * spend, every open name with its smallest
        deviation + lam * spend, minus ``lam * budget``.  Candidates are visited in
        increasing deviation + lam * spend, so the first one whose bound reaches the
        incumbent ends its loop.  Returns the best plan found (None if nothing beats
        ``upper``) and whether the search finished within the node budget.
        """
        tolerance = 1e-12 * (abs(upper) + 1.0)
        lagrangian = self.deviation + lam * self.spend
        segments = list(self._segments())
        minima = np.array([lagrangian[a:b].min() for a, b in segments])
        allowance = upper + lam * budget - (minima.sum() - minima) + tolerance
        per_name = []
        for (a, b), limit in zip(segments, allowance):
            keep = a + np.flatnonzero(lagrangian[a:b] <= limit)
            keep = keep[np.argsort(lagrangian[keep], kind="stable")]
            per_name.append(keep)
        order = sorted(range(len(per_name)), key=lambda i: -len(per_name[i]))
        options = [
            list(zip(self.deviation[per_name[i]].tolist(), self.spend[per_name[i]].tolist()))
            for i in order
        ]
        suffix_lagrangian = np.append(np.cumsum(minima[order][::-1])[::-1], 0.0).tolist()
        least_spend = [min(g for _, g in option) if option else math.inf for option in options]
        suffix_spend = np.append(np.cumsum(least_spend[::-1])[::-1], 0.0).tolist()
        depth = len(options)
        best = {"value": upper, "choice": None}
        choice = [0] * depth
        nodes = [0]

        def visit(level: int, deviation: float, spend: float) -> None:
            if level == depth:
                if spend <= budget and deviation < best["value"] - tolerance:
                    best["value"], best["choice"] = deviation, list(choice)
                return
            rest_bound = suffix_lagrangian[level + 1] - lam * budget
            rest_spend = suffix_spend[level + 1]
            for position, (f, g) in enumerate(options[level]):
                nodes[0] += 1
                if nodes[0] > _NODE_LIMIT:
                    raise _SearchStopped
                if deviation + f + lam * (spend + g) + rest_bound >= best["value"] - tolerance:
                    break
                if spend + g + rest_spend > budget:
                    continue
                choice[level] = position
                visit(level + 1, deviation + f, spend + g)

        try:
            visit(0, 0.0, 0.0)
            finished = True
        except _SearchStopped:
            finished = False
        if best["choice"] is None:
            return None, finished
        trades = np.empty(depth)
        for level, name in enumerate(order):
            trades[name] = self.trades[per_name[name][best["choice"][level]]]
        return trades, finished


def _apply_no_trade_band(
    book: _Book, trades: np.ndarray, no_trade_weight: float, no_trade_dollars: float
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


def _orders(book: _Book, trades: np.ndarray) -> tuple[Order, ...]:
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


def _cash_floor_notes(book: _Book, after_cash: float, after_value: float) -> list[str]:
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


def _remainder_notes(book: _Book, after_shares: np.ndarray) -> list[str]:
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


def _real_number(value: object, name: str) -> float:
    if not _is_real(value) or not math.isfinite(float(value)):
        raise InputError(f"{name} must be a finite number, got {value!r}", name, None, None)
    return float(value)


def _check_unique(series: pd.Series, label: str) -> None:
    duplicated = series.index[series.index.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate tickers {_names(duplicated)}",
            label,
            "each ticker may appear once",
            "merge the duplicate rows",
        )


def _numeric_series(series: object, label: str) -> pd.Series:
    if not isinstance(series, pd.Series):
        raise InputError(
            f"{label} must be a pandas Series indexed by ticker",
            label,
            f"got {type(series).__name__}",
            "pass a pd.Series mapping ticker -> number",
        )
    _check_unique(series, label)
    values = pd.to_numeric(series, errors="coerce").astype(float)
    invalid = values.index[~np.isfinite(values.to_numpy())]
    if len(invalid):
        raise InputError(
            f"missing or non-numeric values for {_names(invalid)}",
            label,
            "every value must be a finite number",
            "fix or remove those rows",
        )
    return values


def _names(labels: Iterable[object], limit: int = 8) -> str:
    names = [str(label) for label in labels]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"
