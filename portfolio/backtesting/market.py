"""The market a backtest simulates on, and the view of it a strategy may see.

:func:`build_market` turns the loaded prices into the arrays the simulation reads (closes,
growth, availability, the cash rate) and finds the first and last simulated rows.
:class:`PastView` is what a strategy receives at a decision date ``t``: copies of the
prices and daily returns **strictly before** ``t``, the names it may hold at ``t`` and the
cash rate known at ``t``. It holds nothing later, and asking for a date on or after ``t``
raises :class:`LookAheadError`: no look-ahead holds by construction.

Availability: a name may be held at ``t`` once it has at least ``min_history_days`` prices
before ``t`` and a price at ``t`` (trades execute at the close of ``t``) -- never before it
lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.backtesting.results import TRADING_DAYS
from portfolio.backtesting.spec import BacktestConfig
from portfolio.data.bundled import treasury_bill_rates
from portfolio.data.prices import PriceFrame
from portfolio.errors import DataError, InputError
from portfolio.estimate.returns import to_returns

__all__ = ["LookAheadError", "Market", "PastView", "build_market", "checked_prices"]


class LookAheadError(InputError):
    """A strategy asked for data on or after its decision date."""


@dataclass(frozen=True, eq=False)
class PastView:
    """What a strategy knows at its decision date (see the module docstring).

    Attributes
    ----------
    date : Timestamp
        The decision date ``t``; trades execute at its close.
    tickers : tuple of str
        The universe, in the order the engine uses.
    available : tuple of str
        Names that may be held at ``t``.
    cash_rate : float
        Annual cash rate (fraction) credited at ``t`` (the previous day's yield).
    """

    date: pd.Timestamp
    tickers: tuple[str, ...]
    available: tuple[str, ...]
    cash_rate: float
    _prices: pd.DataFrame
    _returns: pd.DataFrame | None

    @classmethod
    def at(cls, market: Market, row: int) -> PastView:
        """The view of ``market`` at row ``row`` (the rows before it).

        The rows are not copied here: :meth:`prices` and :meth:`returns` hand out copies of
        what they are asked for, so a strategy never holds the market's own frames.
        """
        return cls(
            date=market.dates[row], tickers=market.tickers,
            available=tuple(t for t, ok in zip(market.tickers, market.available[row]) if ok),
            cash_rate=float(market.cash_rate.iloc[row]),
            _prices=market.prices.iloc[:row],
            _returns=None if market.daily_returns is None else market.daily_returns.iloc[:row],
        )

    def _check_end(self, end: str | pd.Timestamp | None) -> None:
        if end is not None and pd.Timestamp(end) >= self.date:
            raise LookAheadError(
                f"data up to {pd.Timestamp(end).date()} asked at {self.date.date()}",
                "strategy", "a strategy sees only data strictly before its decision date",
                f"ask for data up to {(self.date - pd.Timedelta(days=1)).date()} at most",
            )

    def prices(self, lookback_days: int | None = None, *,
               end: str | pd.Timestamp | None = None) -> pd.DataFrame:
        """Daily closes (USD, dates x tickers incl. benchmarks and factors) before ``t``.

        Parameters
        ----------
        lookback_days : int, optional
            Only the last ``lookback_days + 1`` rows (``lookback_days`` daily returns).
        end : date-like, optional
            Last date wanted; on or after ``t`` raises :class:`LookAheadError`.
        """
        self._check_end(end)
        prices = self._prices if end is None else self._prices.loc[:pd.Timestamp(end)]
        return (prices if lookback_days is None else prices.iloc[-(lookback_days + 1):]).copy()

    def returns(self, lookback_days: int | None = None, *, frequency: str = "daily",
                end: str | pd.Timestamp | None = None) -> pd.DataFrame:
        """Simple returns before ``t`` of the last ``lookback_days + 1`` price rows.

        Daily returns are those of the whole history (a return never spans a listing);
        rows where no ticker has a return are dropped. Weekly or monthly returns are
        computed on the window's prices.
        """
        self._check_end(end)
        if frequency != "daily" or self._returns is None:
            return to_returns(self.prices(lookback_days, end=end), frequency=frequency)
        returns = self._returns if end is None else self._returns.loc[:pd.Timestamp(end)]
        if lookback_days is not None:
            returns = returns.iloc[max(1, len(returns) - lookback_days):]
        return returns.dropna(how="all").copy()


@dataclass(frozen=True)
class Market:
    """Arrays the simulation reads; rows are trading dates, columns the universe.

    Attributes
    ----------
    dates : DatetimeIndex
        Trading dates (rows).
    tickers : tuple of str
        The universe (columns of ``close``, ``growth`` and ``available``).
    prices : DataFrame
        Every loaded ticker (universe, benchmarks, factors), NaN kept.
    daily_returns : DataFrame or None
        Daily simple returns of ``prices`` (row 0 NaN); None when a price is not
        positive (each window's returns are then computed, and fail, on their own).
    close : ndarray, shape (days, n)
        Forward-filled closes of the universe, USD.
    growth : ndarray, shape (days, n)
        ``close[i] / close[i-1]``, 1 where undefined.
    available : ndarray of bool, shape (days, n)
        Listed with ``min_history_days`` prices before, and a price at the row.
    cash_growth : ndarray, shape (days,)
        ``(1 + rate[i-1]) ** (1 / 252)``, as the metrics de-compound.
    cash_rate : Series
        Annual rate credited on each date.
    """

    dates: pd.DatetimeIndex
    tickers: tuple[str, ...]
    prices: pd.DataFrame
    daily_returns: pd.DataFrame | None
    close: np.ndarray
    growth: np.ndarray
    available: np.ndarray
    cash_growth: np.ndarray
    cash_rate: pd.Series


def checked_prices(config: BacktestConfig, frame: PriceFrame) -> pd.DataFrame:
    """The prices a backtest needs, sorted, from the first date a universe name trades.

    Raises
    ------
    DataError
        A universe ticker or benchmark without prices, or a repeated date.
    """
    prices = frame.prices
    required = (*config.tickers, *config.benchmarks)
    missing = [t for t in required if t not in prices.columns]
    if missing:
        raise DataError(f"no prices for {', '.join(missing)}", config.source,
                        f"the {frame.source} prices lack them",
                        "remove them from the backtest or choose another --data-source")
    wanted = [t for t in config.market_tickers if t in prices.columns]
    prices = prices[wanted].sort_index()
    if prices.index.has_duplicates:
        raise DataError("duplicate dates in prices", config.source, "each date must appear once",
                        "drop the duplicate rows")
    rows = prices[list(config.tickers)].notna().any(axis=1)
    return prices.loc[rows]


def _cash_rates(
    config: BacktestConfig, dates: pd.DatetimeIndex, notes: list[str], first: int = 0
) -> pd.Series:
    """Annual rate credited on each date: the previous trading day's yield.

    Only the simulated dates (from row ``first`` on) need a yield; the lookback rows
    before them may predate the bundled series (they are never credited).
    """
    if isinstance(config.cash_yield, float | int):
        return pd.Series(float(config.cash_yield), index=dates, name="cash_rate")
    rates = treasury_bill_rates().dropna()
    if dates[first] < rates.index[0]:
        raise DataError("no T-bill yield before the first bundled date",
                        f"{config.source}, key cash_yield",
                        f"the bundled IRX series starts {rates.index[0].date()}",
                        "set cash_yield to an annual fraction, e.g. 0.02")
    if dates[-1] > rates.index[-1]:
        notes.append(f"The T-bill yield after {rates.index[-1].date()} is carried forward "
                     f"({100 * rates.iloc[-1]:.2f} %).")
    aligned = rates.reindex(rates.index.union(dates)).ffill().reindex(dates)
    return aligned.shift(1).bfill().rename("cash_rate")


def _availability(prices: pd.DataFrame, min_history: int) -> np.ndarray:
    listed = prices.notna()
    before = listed.cumsum().shift(1, fill_value=0)
    return ((before >= min_history) & listed).to_numpy()


def _first_start(
    config: BacktestConfig, dates: pd.DatetimeIndex, available: np.ndarray, notes: list[str]
) -> int:
    wanted = 0 if config.start is None else int(dates.searchsorted(pd.Timestamp(config.start)))
    if wanted >= len(dates):
        raise DataError(
            f"start {config.start} is after the last price", f"{config.source}, key start",
            f"the prices end {dates[-1].date()}", "choose an earlier start",
        )
    enough_rows = config.lookback_days + 1
    first = max(wanted, enough_rows)
    while first < len(dates) and not available[first].any():
        first += 1
    if first >= len(dates):
        raise DataError(
            "not enough history for the lookback", f"{config.source}, key lookback_days",
            f"{config.lookback_days} trading days of returns need {enough_rows} price rows "
            f"before the first rebalance, and a name with {config.min_history_days} prices; "
            f"the prices ({dates[0].date()} .. {dates[-1].date()}) do not have them",
            "shorten lookback_days or min_history_days, or use more data",
        )
    if config.start is None:
        notes.append(f"No start given: the backtest starts {dates[first].date()}, the first "
                     f"date with {enough_rows} price rows before it.")
    elif first > wanted:
        requested = config.start
        notes.append(
            f"Start moved from {requested} to {dates[first].date()}: a lookback of "
            f"{config.lookback_days} trading days needs {enough_rows} price rows before the "
            f"first rebalance (prices start {dates[0].date()})"
            + ("" if first == max(wanted, enough_rows) else
               f" and a name with {config.min_history_days} prices")
            + "."
        )
    return first


def _last_index(config: BacktestConfig, dates: pd.DatetimeIndex, notes: list[str]) -> int:
    if config.end is None:
        return len(dates) - 1
    end = pd.Timestamp(config.end)
    last = int(dates.searchsorted(end, side="right")) - 1
    if end > dates[-1]:
        notes.append(f"End moved from {config.end} to {dates[-1].date()}, the last price date.")
    return last


def build_market(
    config: BacktestConfig, prices: pd.DataFrame, notes: list[str]
) -> tuple[Market, int, int]:
    """The simulation arrays and the first and last simulated rows.

    The first row leaves ``lookback_days + 1`` price rows before it and has a name
    available; ``notes`` gets a line when the start or the end had to move.
    """
    tickers = list(config.tickers)
    if prices.empty:
        raise DataError(
            "no prices for the universe in the period", f"{config.source}, keys start/end",
            f"none of {', '.join(tickers)} has a price"
            + (f" up to {config.end}" if config.end else ""),
            "choose a later end, or tickers listed in the period",
        )
    universe = prices[tickers]
    available = _availability(universe, config.min_history_days)
    first = _first_start(config, prices.index, available, notes)
    last = _last_index(config, prices.index, notes)
    if last - first < 1:
        raise DataError(
            "the backtest period holds fewer than 2 trading days",
            f"{config.source}, keys start/end",
            f"after the lookback it runs {prices.index[first].date()} .. "
            f"{prices.index[max(last, 0)].date()}",
            "set an earlier start, a later end or a shorter lookback_days",
        )
    close = universe.ffill().to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = close / np.vstack([close[:1], close[:-1]])
    growth = np.where(np.isfinite(growth), growth, 1.0)
    cash_rate = _cash_rates(config, prices.index, notes, first)
    try:
        daily = to_returns(prices).reindex(prices.index)
    except DataError:  # a bad price: the windows that hold it report it at their dates
        daily = None
    market = Market(
        dates=prices.index, tickers=tuple(tickers), prices=prices, daily_returns=daily,
        close=close, growth=growth,
        available=available, cash_growth=(1.0 + cash_rate.to_numpy()) ** (1.0 / TRADING_DAYS),
        cash_rate=cash_rate,
    )
    return market, first, last
