"""Price loading with source selection: Yahoo (through the SQLite cache) or bundled data.

Sources
-------
``bundled``
    The real prices shipped with the package (1999-01-04 .. 2026-07-31); never touches
    the network.
``cache``
    The local SQLite cache only (see :mod:`portfolio.data.cache`).
``yahoo``
    Refresh the cache from Yahoo Finance (only missing dates), then read it; fails with
    :class:`DataError` when Yahoo is unreachable.
``auto`` (default)
    The cache refreshed from Yahoo when reachable; otherwise the cache if it holds every
    ticker, else the bundled data, with the cache's prices for the tickers the bundled data
    lacks (imported with ``portfolio data import``). ``offline=True`` skips Yahoo.

Every :class:`PriceFrame` carries a one-line ``notice`` naming the source used and its
last date, which the CLI prints on stderr.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from portfolio.data.bundled import (
    BUNDLED_TICKERS,
    bundled_aux,
    bundled_prices,
    bundled_tokyo_prices,
)
from portfolio.data.cache import PriceCache
from portfolio.data.cache_update import update_cache
from portfolio.data.fx import (
    YAHOO_FX_TICKER,
    align_to_calendar,
    currency_of,
    fx_tickers,
    usd_per_jpy_from_fxy,
)
from portfolio.data.network import DEFAULT_TIMEOUT, Deadline
from portfolio.data.yahoo import YahooUnavailableError, fetch_yahoo
from portfolio.errors import DataError

__all__ = ["SOURCES", "PriceFrame", "coverage", "load_prices"]

SOURCES = ("auto", "yahoo", "cache", "bundled")


@dataclass(frozen=True)
class PriceFrame:
    """Daily prices with their provenance.

    Attributes
    ----------
    prices : DataFrame
        NYSE dates x tickers, adjusted closes in USD. NaN before a listing (never
        back-filled); a price is carried over at most ``max_fill_days`` missing rows, the
        rest of a longer gap stays NaN.
    source : str
        ``bundled``, ``cache`` or ``yahoo`` (cache refreshed from Yahoo).
    notice : str
        One line naming the source, its last date and why it was chosen.
    converted : tuple of str
        Tickers converted to USD from another listing currency.
    """

    prices: pd.DataFrame
    source: str
    notice: str
    converted: tuple[str, ...] = ()

    @property
    def last_date(self) -> pd.Timestamp:
        """Last date with any price."""
        return self.prices.dropna(how="all").index[-1]

    @property
    def tickers(self) -> tuple[str, ...]:
        """Column labels."""
        return tuple(self.prices.columns)

    def coverage(self, lookback_days: int | None = None) -> pd.DataFrame:
        """Per-ticker coverage; see :func:`coverage`."""
        return coverage(self.prices, lookback_days)


def coverage(prices: pd.DataFrame, lookback_days: int | None = None) -> pd.DataFrame:
    """Per-ticker first date, last date and observations.

    Parameters
    ----------
    prices : DataFrame
        Dates x tickers.
    lookback_days : int, optional
        Rows (trading days) at the end of ``prices`` counted as the lookback window.

    Returns
    -------
    DataFrame
        Index ticker; columns ``first_date``, ``last_date``, ``observations`` (all rows)
        and ``in_window`` (non-missing prices in the last ``lookback_days`` rows).
    """
    window = prices.iloc[-lookback_days:] if lookback_days else prices
    rows = {}
    for ticker in prices.columns:
        series = prices[ticker].dropna()
        rows[ticker] = {
            "first_date": series.index[0] if len(series) else pd.NaT,
            "last_date": series.index[-1] if len(series) else pd.NaT,
            "observations": len(series),
            "in_window": int(window[ticker].notna().sum()),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("ticker")


def _age_days(last: pd.Timestamp) -> int:
    return (pd.Timestamp.now().normalize() - last.normalize()).days


def where_to_get_prices(tickers: Sequence[str]) -> str:
    """The fix of every "no prices for TICKER" error: where prices for ``tickers`` come from."""
    its, names = ("its", "the ticker") if len(tickers) == 1 else ("their", "the tickers")
    options = [f"import {its} daily closes with `portfolio data import FILE.csv`",
               f"fetch them with `portfolio data update {' '.join(tickers)}` (needs the "
               "network)"]
    if set(tickers) <= set(BUNDLED_TICKERS):
        options.append("use --data-source bundled")
    return f"{', '.join(options)}, or remove {names}"


def _bundled_local(tickers: Sequence[str], max_fill_days: int, start: Any = None
                   ) -> pd.DataFrame:
    missing = [t for t in tickers if t not in BUNDLED_TICKERS]
    if missing:
        raise DataError(
            f"no bundled prices for {', '.join(missing)}",
            "bundled dataset",
            f"it holds {', '.join(BUNDLED_TICKERS)}",
            where_to_get_prices(missing),
        )
    frame = _fill_gaps(bundled_prices(start)[list(tickers)], max_fill_days)
    if "9984.T" in tickers:
        frame["9984.T"] = align_to_calendar(bundled_tokyo_prices(), frame.index, max_fill_days)
    return frame


def _bundled_usd_per_unit(currency: str, calendar: pd.DatetimeIndex) -> pd.Series:
    if currency != "JPY":
        raise DataError(
            f"no bundled exchange rate for {currency}", "bundled dataset",
            "only JPY (through FXY) is bundled", "use --data-source yahoo",
        )
    fxy = bundled_aux(calendar[0] if len(calendar) else None)["FXY"].dropna()
    return align_to_calendar(usd_per_jpy_from_fxy(fxy), calendar, 5)


def _to_usd(
    frame: pd.DataFrame, usd_per_unit: Callable[[str], pd.Series]
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    converted = []
    frame = frame.copy()
    for ticker in frame.columns:
        currency = currency_of(ticker)
        if currency != "USD":
            frame[ticker] = frame[ticker] * usd_per_unit(currency)
            converted.append(ticker)
    return frame, tuple(converted)


def _us_calendar(frame: pd.DataFrame) -> pd.DatetimeIndex:
    us = [t for t in frame.columns if currency_of(t) == "USD"]
    if not us:
        return frame.index
    return frame.index[frame[us].notna().any(axis=1)]


def _fill_gaps(frame: pd.DataFrame, max_fill_days: int) -> pd.DataFrame:
    """Carry each last price forward over at most ``max_fill_days`` missing rows.

    Rows of a longer gap past the first ``max_fill_days`` stay NaN; rows before a ticker's
    first price (its listing) are never filled. Causal: a value depends on earlier rows only.
    """
    filled = frame.ffill(limit=max_fill_days) if max_fill_days else frame
    started = frame.notna().cummax()
    return filled.where(started)


class _NotCachedError(DataError):
    """The cache is readable but lacks some requested tickers (``auto`` falls back quietly)."""


def _from_cache(
    tickers: Sequence[str], cache_dir: Path | None, max_fill_days: int
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    cache = PriceCache(cache_dir)
    raw = cache.read(list(tickers) + fx_tickers(tickers))
    missing = [t for t in tickers if t not in raw.columns or raw[t].isna().all()]
    if missing:
        raise _NotCachedError(
            f"no cached prices for {', '.join(missing)}",
            str(cache.path),
            "the cache has never fetched or imported them",
            where_to_get_prices(missing),
        )
    calendar = _us_calendar(raw[list(tickers)])
    local = pd.DataFrame(
        {t: align_to_calendar(raw[t].dropna(), calendar, max_fill_days) for t in tickers}
    )

    def usd_per_unit(currency: str) -> pd.Series:
        fx_ticker = YAHOO_FX_TICKER.get(currency)
        if fx_ticker in raw.columns and raw[fx_ticker].notna().any():
            return 1.0 / align_to_calendar(raw[fx_ticker].dropna(), calendar, max_fill_days)
        return _bundled_usd_per_unit(currency, calendar)

    return _to_usd(local, usd_per_unit)


def load_prices(
    tickers: Sequence[str],
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    source: str = "auto",
    *,
    cache_dir: str | Path | None = None,
    offline: bool = False,
    max_fill_days: int = 5,
    fetch: Callable | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_fetch: Callable[[int, int], object] | None = None,
) -> PriceFrame:
    """Load daily adjusted closes in USD on the NYSE calendar.

    Parameters
    ----------
    tickers : sequence of str
        Yahoo tickers, e.g. ``["NVDA", "9984.T", "SPY"]``.
    start, end : date-like, optional
        Inclusive date range; ``end`` doubles as the as-of date.
    source : {"auto", "yahoo", "cache", "bundled"}
        Where prices come from (see the module docstring).
    cache_dir : path, optional
        Folder of the SQLite cache (default :func:`portfolio.data.cache.default_cache_dir`).
    offline : bool
        Never touch the network.
    max_fill_days : int
        Most rows a price is carried forward over a gap (local holidays); the rest of a
        longer gap stays NaN.
    fetch : callable, optional
        Replacement for :func:`portfolio.data.yahoo.fetch_yahoo` (tests).
    timeout : float
        Seconds all Yahoo requests may take together (``yahoo`` and ``auto``), after which
        ``auto`` falls back to the cache or the bundled data and ``yahoo`` fails.
    on_fetch : callable, optional
        ``on_fetch(done, total)`` in tickers, before the first Yahoo request and after
        each one (for a progress display).

    Returns
    -------
    PriceFrame

    Raises
    ------
    DataError
        Unknown source, unreachable Yahoo for ``source="yahoo"``, tickers without prices,
        or an empty date range.
    """
    tickers = _checked_request(tickers, source, offline)
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    chosen, reason = source, ""
    if source in ("yahoo", "auto") and not offline:
        fetch = fetch or functools.partial(fetch_yahoo, deadline=Deadline(timeout))
        chosen, reason = _refresh_cache(tickers, cache_dir, source, fetch, on_fetch)
    elif source == "auto":
        chosen, reason = "auto-fallback", "offline"
    frame, converted, chosen, reason = _read(tickers, cache_dir, chosen, reason, max_fill_days,
                                             start)
    frame = _in_range(frame, start, end, chosen)
    last = frame.index[-1]
    notice = f"Data: {chosen} prices up to {last.date()} ({_age_days(last)} days old)"
    if reason:
        notice += f"; {reason}"
    return PriceFrame(prices=frame, source=chosen, notice=notice, converted=converted)


def _checked_request(tickers: Sequence[str], source: str, offline: bool) -> list[str]:
    """The tickers once each, after checking the source and the offline flag."""
    if source not in SOURCES:
        raise DataError(
            f"unknown data source '{source}'", "--data-source", f"use one of {', '.join(SOURCES)}",
            "e.g. --data-source bundled",
        )
    tickers = list(dict.fromkeys(tickers))
    if not tickers:
        raise DataError("no tickers requested", "load_prices", "the list is empty", "pass tickers")
    if offline and source == "yahoo":
        raise DataError(
            "--offline conflicts with --data-source yahoo", "command line",
            "Yahoo needs the network", "drop --offline or use --data-source auto|cache|bundled",
        )
    return tickers


def _refresh_cache(tickers: list[str], cache_dir: Path | None, source: str,
                   fetch: Callable, on_fetch: Callable[[int, int], object] | None
                   ) -> tuple[str, str]:
    """Update the cache from Yahoo; return the source to read and the reason for a fallback."""
    try:
        report = update_cache(PriceCache(cache_dir), tickers + fx_tickers(tickers),
                              fetch=fetch, on_progress=on_fetch)
    except YahooUnavailableError as exc:
        if source == "yahoo":
            raise
        if exc.timed_out:
            return "auto-fallback", f"Yahoo did not answer within {exc.timeout:g} s"
        return "auto-fallback", "Yahoo unreachable"
    return "yahoo", f"Yahoo failed for {', '.join(report.failed)}" if report.failed else ""


def _read(tickers: list[str], cache_dir: Path | None, chosen: str, reason: str,
          max_fill_days: int, start: Any = None) -> tuple[pd.DataFrame, tuple[str, ...], str, str]:
    """Prices from the cache, or the bundled data when ``auto`` falls back."""
    if chosen in ("yahoo", "cache", "auto-fallback"):
        try:
            frame, converted = _from_cache(tickers, cache_dir, max_fill_days)
            return frame, converted, "yahoo" if chosen == "yahoo" else "cache", reason
        except DataError as exc:
            if chosen != "auto-fallback":
                raise
            if not isinstance(exc, _NotCachedError):  # a corrupt cache is reported, not hidden
                reason += f"; cache not used: {exc.what} ({exc.where}): {exc.why}"
    others = [t for t in tickers if t not in BUNDLED_TICKERS]
    if chosen == "auto-fallback" and others and len(others) < len(tickers):  # imported ones
        frame, converted = _bundled_plus_cached(tickers, cache_dir, max_fill_days, start)
        return frame, converted, "bundled", f"{reason}; {', '.join(others)} from the cache"
    local = _bundled_local(tickers, max_fill_days, start)
    frame, converted = _to_usd(local, lambda c: _bundled_usd_per_unit(c, local.index))
    return frame, converted, "bundled", reason


def _bundled_plus_cached(tickers: list[str], cache_dir: Path | None, max_fill_days: int,
                         start: Any = None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Bundled prices, and the cache's for tickers the bundled data lacks, on its calendar.

    The cached series are put on the bundled NYSE dates (a price carried over at most
    ``max_fill_days`` missing dates); cached dates after the bundled data's end are left out.
    """
    others = [t for t in tickers if t not in BUNDLED_TICKERS]
    local = _bundled_local([t for t in tickers if t in BUNDLED_TICKERS], max_fill_days, start)
    frame, converted = _to_usd(local, lambda c: _bundled_usd_per_unit(c, local.index))
    try:  # gaps are filled once, on the bundled calendar below
        cached, cached_converted = _from_cache(others, cache_dir, max_fill_days=0)
    except _NotCachedError as exc:
        raise DataError(f"no prices for {', '.join(others)}", f"bundled dataset and {exc.where}",
                        "neither holds them", exc.fix) from None
    for ticker in others:
        frame[ticker] = align_to_calendar(cached[ticker].dropna(), frame.index, max_fill_days)
    return frame[tickers], (*converted, *cached_converted)


def _in_range(frame: pd.DataFrame, start: Any, end: Any, chosen: str) -> pd.DataFrame:
    """Rows from ``start`` to ``end`` with a price, labelled ``date``.

    Each source applied the gap policy once (filling twice would carry prices 2x too far).
    """
    frame = frame.sort_index()
    if start is not None:
        frame = frame.loc[pd.Timestamp(start) :]
    if end is not None:
        frame = frame.loc[: pd.Timestamp(end)]
    frame = frame.dropna(how="all")
    if frame.empty:
        raise DataError(
            "no prices in the requested date range", f"{start or 'start'} .. {end or 'end'}",
            f"the {chosen} data has no rows there", "choose dates inside the data's range",
        )
    frame.index.name = "date"
    frame.columns.name = None
    return frame
