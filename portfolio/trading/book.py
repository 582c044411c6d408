"""One rebalancing problem as label-aligned arrays, and the cash rule it must keep.

:func:`align_book` checks the inputs of :func:`portfolio.trading.orders.plan_rebalance`
(holdings, cash, prices, target weights under the implicit-cash rule of
:mod:`portfolio.weights`, options) and returns a :class:`Book`: every array in one ticker
order, the value before trading, the fee model and the cash floor. Units: shares, USD per
share, USD, fractions of value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.analytics.valuation import checked_total
from portfolio.errors import DataError, InputError
from portfolio.trading.costs import TradingCosts, is_real
from portfolio.weights import CASH, parse_weights

__all__ = ["DUST_RELATIVE", "Book", "align_book", "names", "numeric_series", "real_number",
           "reference_value", "sell_out_trades"]


DUST_RELATIVE = 1e-12  # trades below this fraction of value are float noise, not orders


_MARGIN_RELATIVE = 1e-10  # cash slack kept (fraction of value) whenever something trades


_FIXED_POINT_ROUNDS = 100


@dataclass(frozen=True, eq=False)
class Book:
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
        """Cash slack kept whenever something trades (USD)."""
        return _MARGIN_RELATIVE * self.value

    @property
    def dust(self) -> float:
        """Trades below this notional are float noise, not orders (USD)."""
        return DUST_RELATIVE * self.value

    def fees(self, notional: np.ndarray) -> np.ndarray:
        """Fee of each order of the given notionals (USD; 0 for no order)."""
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
        """Whether signed share trades keep the cash rule."""
        return bool(self.allows(float(self.spend(trades).sum()), bool(np.any(trades != 0))))

    def deviations(
        self, trades: np.ndarray, target_values: np.ndarray, names=slice(None)
    ) -> np.ndarray:
        """Squared dollar deviation from target value, per name (USD^2)."""
        return (self.price[names] * (self.held[names] + trades) - target_values[names]) ** 2


def align_book(
    shares: pd.Series, cash: float, prices: pd.Series, target_weights: pd.Series,
    costs: TradingCosts, cash_floor: float, no_trade_weight: float, no_trade_dollars: float,
) -> Book:
    """Check the inputs of a rebalance and put them in one ticker order.

    The universe is the target tickers, then the held tickers outside the target. Target
    weights follow the implicit-cash rule of :func:`portfolio.weights.parse_weights` and
    are normalised to sum to exactly 1.

    Raises
    ------
    InputError
        Bad options, holdings, cash or weights; a ticker without a price; a portfolio
        worth nothing or implausibly much.
    DataError
        A needed price that is not a finite number > 0.
    """
    cash, floor = _checked_options(cash, costs, cash_floor, no_trade_weight, no_trade_dollars)
    held = numeric_series(shares, "holdings")
    weights = parse_weights(numeric_series(target_weights, "target weights"),
                            what="target weights")
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
            f"negative share counts for {names(short)}",
            "holdings",
            "short positions are not supported",
            "enter long positions only (shares >= 0)",
        )
    total = float(weights.sum())
    ticker_weights = weights.drop(CASH) / total
    universe = list(ticker_weights.index) + [t for t in held.index
                                             if t not in set(ticker_weights.index)]
    price = _universe_prices(prices, universe, ticker_weights.index, held.index)
    held_aligned = held.reindex(universe, fill_value=0.0).to_numpy(dtype=float)
    return Book(
        tickers=tuple(universe),
        held=held_aligned,
        price=price,
        weight=ticker_weights.reindex(universe, fill_value=0.0).to_numpy(dtype=float),
        cash_weight=float(weights[CASH]) / total,
        cash=cash,
        value=_portfolio_value(universe, held_aligned, price, cash),
        costs=costs,
        floor=floor,
    )


def _checked_options(cash: float, costs: TradingCosts, cash_floor: float,
                     no_trade_weight: float, no_trade_dollars: float) -> tuple[float, float]:
    """The cash and the cash floor as floats, after checking every option."""
    if not isinstance(costs, TradingCosts):
        raise InputError(
            f"costs must be a TradingCosts, got {type(costs).__name__}",
            "costs",
            None,
            "pass TradingCosts(bps=..., min_fee=...)",
        )
    cash = real_number(cash, "cash")
    if cash < 0:
        raise InputError(
            f"negative cash {cash:,.2f} USD",
            "cash",
            "cash must be >= 0 (borrowing is not modelled)",
            "enter the actual cash balance, 0 or more",
        )
    floor = real_number(cash_floor, "cash_floor")
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
        if real_number(value, name) < 0:
            raise InputError(
                f"{name} {value!r} is negative", name, "a band is >= 0", "use 0 or more"
            )
    return cash, floor


def _universe_prices(prices: pd.Series, universe: list[str], targets: pd.Index,
                     held: pd.Index) -> np.ndarray:
    """USD per share of every ticker of the universe (each needs a finite price > 0)."""
    price = pd.to_numeric(prices.reindex(universe), errors="coerce").astype(float)
    unpriced = price.index[price.isna().to_numpy()]
    for label, group in (("target weights", targets), ("holdings", held)):
        missing = [t for t in unpriced if t in set(group)]
        if missing:
            raise InputError(
                f"no price for {names(missing)}",
                label,
                "every target and held ticker needs a USD price at the as-of date",
                "fix the ticker spelling or add prices for them",
            )
    bad = price.index[~(np.isfinite(price.to_numpy()) & (price.to_numpy() > 0))]
    if len(bad):
        raise DataError(
            f"invalid prices for {names(bad)}",
            "prices",
            "a price is USD per share and must be a finite number > 0",
            "check the price source for these tickers",
        )
    return price.to_numpy(dtype=float)


def _portfolio_value(tickers: list[str], held: np.ndarray, price: np.ndarray,
                     cash: float) -> float:
    """Holdings at their prices plus cash, USD, checked to be > 0 and plausible.

    The check is :func:`portfolio.analytics.valuation.checked_total`, shared with every job
    that values holdings.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by the check
        values = dict(zip(tickers, held * price, strict=True))
    return checked_total(values, cash, "holdings", shares=dict(zip(tickers, held, strict=True)),
                         prices=dict(zip(tickers, price, strict=True)))


def reference_value(book: Book) -> float:
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


def sell_out_trades(book: Book, whole_shares: bool, *, keep_if: str) -> np.ndarray:
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


def real_number(value: object, name: str) -> float:
    """``value`` as a float, or an :class:`InputError` when it is not a finite number."""
    if not is_real(value) or not math.isfinite(float(value)):
        raise InputError(f"{name} must be a finite number, got {value!r}", name, None, None)
    return float(value)


def _check_unique(series: pd.Series, label: str) -> None:
    duplicated = series.index[series.index.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate tickers {names(duplicated)}",
            label,
            "each ticker may appear once",
            "merge the duplicate rows",
        )


def numeric_series(series: object, label: str) -> pd.Series:
    """A Series of finite floats with unique tickers, or an :class:`InputError`."""
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
            f"missing or non-numeric values for {names(invalid)}",
            label,
            "every value must be a finite number",
            "fix or remove those rows",
        )
    return values


def names(labels: Iterable[object], limit: int = 8) -> str:
    """Labels joined by commas for a message, at most ``limit`` of them."""
    texts = [str(label) for label in labels]
    shown = ", ".join(texts[:limit])
    return shown if len(texts) <= limit else f"{shown} and {len(texts) - limit} more"
