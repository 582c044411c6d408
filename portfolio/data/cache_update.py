"""Incremental refresh of the price cache from Yahoo: only the missing dates are fetched.

:func:`update_cache` fetches, for each ticker, the dates after its last cached one (a whole
history when Yahoo re-adjusted it), and writes everything in ONE transaction of
:class:`~portfolio.data.cache.PriceCache`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from pandas.tseries.offsets import BDay

from portfolio.data.cache import PriceCache
from portfolio.data.yahoo import (
    FetchResult,
    YahooUnavailableError,
    _empty_prices,
    _iso_date,
    _unique_tickers,
    fetch_yahoo,
    is_no_data_reason,
)

__all__ = ["READJUSTED_RTOL", "UpdateReport", "update_cache"]

@dataclass(frozen=True)
class UpdateReport:
    """What :func:`update_cache` did.

    Attributes
    ----------
    added : Mapping[str, int]
        For every ticker that did not fail: number of new trading dates stored
        (0 when it was already up to date or Yahoo had nothing newer).
    failed : tuple of str
        Tickers that could not be updated, in request order; their cached rows
        (if any) are unchanged.
    reasons : Mapping[str, str]
        Short reason for each failed ticker.
    refetched : tuple of str
        Tickers whose whole history was downloaded again and replaced because
        Yahoo re-adjusted it (split or dividend since the last update).
    """

    added: Mapping[str, int] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)
    refetched: tuple[str, ...] = ()


def update_cache(
    cache: PriceCache,
    tickers: Iterable[str] | str,
    *,
    fetch: Callable[..., FetchResult] = fetch_yahoo,
    start: date | str = "2015-01-01",
    today: date | str | None = None,
    on_progress: Callable[[int, int], object] | None = None,
) -> UpdateReport:
    """Bring the cache up to date for ``tickers``, downloading only what is missing.

    A ticker not in the cache is fetched from ``start``. A cached ticker is
    fetched from its last cached date (one day of overlap): if Yahoo's close on
    that date differs from the cached one (relative change above
    :data:`READJUSTED_RTOL`), its adjusted history changed (split, dividend) and
    the whole history is downloaded again and replaces the old one. A ticker is
    skipped when its last date is on or after the last weekday before ``today``.
    Tickers sharing a start date are fetched in one call; every call asks for
    dates before ``today`` only (``end=today``, exclusive), so a live intraday
    price is never stored as a close.

    Parameters
    ----------
    cache : PriceCache
    tickers : iterable of str, or str
        Yahoo symbols.
    fetch : callable
        ``fetch(tickers, start=ISO, end=ISO) -> FetchResult``; :func:`fetch_yahoo`.
    start : date or ISO string
        First date of a ticker's history.
    today : date or ISO string, optional
        Reference date (default: today, local time).
    on_progress : callable, optional
        ``on_progress(done, total)`` in tickers before the first fetch call and after
        each one; ``total`` grows if histories have to be downloaded again.

    Returns
    -------
    UpdateReport

    Raises
    ------
    YahooUnavailableError
        If a fetch call got no data at all (except when every ticker of the
        call is cached and Yahoo merely had no newer prices). Nothing is written.
    DataError
        If the cache file is unusable.

    Notes
    -----
    Everything fetched is written by ONE :meth:`PriceCache.write` (one
    transaction), after all fetches: an error at any point leaves the cache as
    it was. Holidays are not known: on the day after an exchange holiday a
    ticker may be fetched for nothing, which is harmless.
    """
    wanted = _unique_tickers(tickers)
    today_stamp = pd.Timestamp(_iso_date(today if today is not None else date.today(), "today"))
    first_start = pd.Timestamp(_iso_date(start, "start"))
    latest_complete = today_stamp - BDay(1)
    last = cache.last_dates()

    added: dict[str, int] = {}
    starts: dict[str, pd.Timestamp] = {}
    for ticker in wanted:
        previous = last.get(ticker)
        if previous is not None and previous >= latest_complete:
            added[ticker] = 0
        else:
            starts[ticker] = previous if previous is not None else first_start
    progress = _Progress(on_progress, len(starts))
    if starts:
        progress.advance(0)
    fetched, failures = _fetch_by_start(fetch, starts, today_stamp, set(last), progress)

    cached_closes = _closes_on(cache, {t: last[t] for t in fetched if t in last})
    to_write: dict[str, pd.Series] = {}
    refetch_starts: dict[str, pd.Timestamp] = {}
    for ticker, series in fetched.items():
        previous = last.get(ticker)
        if previous is None:
            to_write[ticker] = series
            added[ticker] = len(series)
        elif _readjusted(series, previous, cached_closes.get(ticker)):
            refetch_starts[ticker] = first_start
        else:
            to_write[ticker] = series[series.index >= previous]
            added[ticker] = int((series.index > previous).sum())
    reasons: dict[str, str] = {}
    for ticker, reason in failures.items():
        if ticker in last and is_no_data_reason(reason):
            added[ticker] = 0  # Yahoo answered, nothing newer than the cache
        else:
            reasons[ticker] = reason
    replaced = _refetch(cache, fetch, refetch_starts, today_stamp, progress, last, to_write,
                        added, reasons)
    if to_write:
        cache.write(pd.DataFrame(to_write), source="yahoo", replace=replaced)
    failed = tuple(t for t in wanted if t in reasons)
    return UpdateReport(
        added={t: added[t] for t in wanted if t in added and t not in reasons},
        failed=failed,
        reasons={t: reasons[t] for t in failed},
        refetched=tuple(t for t in wanted if t in replaced),
    )


def _refetch(cache: PriceCache, fetch: Callable[..., FetchResult],
             starts: dict[str, pd.Timestamp], today: pd.Timestamp, progress: _Progress,
             last: Mapping[str, pd.Timestamp], to_write: dict[str, pd.Series],
             added: dict[str, int], reasons: dict[str, str]) -> list[str]:
    """Download re-adjusted histories again; return the tickers whose history is replaced.

    Fills ``to_write``, ``added`` and ``reasons`` for those tickers.
    """
    if not starts:
        return []
    first_dates = cache.summary()["first_date"]
    starts = {t: min(s, first_dates.get(t, s)) for t, s in starts.items()}
    progress.grow(len(starts))
    refetched, failures = _fetch_by_start(fetch, starts, today, set(), progress)
    replaced = []
    for ticker in starts:
        if ticker in refetched:
            to_write[ticker] = refetched[ticker]
            added[ticker] = int((refetched[ticker].index > last[ticker]).sum())
            replaced.append(ticker)
        else:
            reasons[ticker] = (
                "history re-adjusted by Yahoo (split or dividend) and the full re-download"
                f" failed: {failures.get(ticker, 'no data returned')}"
            )
    return replaced


class _Progress:
    """Counts fetched tickers and reports them to an optional callback."""

    def __init__(self, callback: Callable[[int, int], object] | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0

    def grow(self, extra: int) -> None:
        self.total += extra

    def advance(self, count: int) -> None:
        self.done += count
        if self.callback is not None:
            self.callback(self.done, self.total)


def _fetch_by_start(
    fetch: Callable[..., FetchResult],
    starts: Mapping[str, pd.Timestamp],
    end: pd.Timestamp,
    cached: set[str],
    progress: _Progress,
) -> tuple[dict[str, pd.Series], dict[str, str]]:
    """One fetch per distinct start date; return non-empty series and failure reasons."""
    groups: dict[pd.Timestamp, list[str]] = {}
    for ticker, first in starts.items():
        groups.setdefault(first, []).append(ticker)
    series: dict[str, pd.Series] = {}
    failures: dict[str, str] = {}
    for first, group in groups.items():
        try:
            result = fetch(group, start=first.strftime("%Y-%m-%d"), end=end.strftime("%Y-%m-%d"))
        except YahooUnavailableError as exc:
            only_nothing_new = set(group) <= cached and all(
                is_no_data_reason(exc.reasons.get(t, "")) for t in group
            )
            if not only_nothing_new:
                raise
            result = FetchResult(prices=_empty_prices(), failed=tuple(group), reasons=exc.reasons)
        for ticker in group:
            column = result.prices[ticker].dropna() if ticker in result.prices.columns else None
            if column is not None and len(column):
                series[ticker] = column.astype(float)
            else:
                failures[ticker] = result.reasons.get(ticker, "no data returned")
        progress.advance(len(group))
    return series, failures


def _closes_on(cache: PriceCache, dates: Mapping[str, pd.Timestamp]) -> dict[str, float]:
    """Read the cached close of each ticker on its given date."""
    if not dates:
        return {}
    frame = cache.read(list(dates), start=min(dates.values()), end=max(dates.values()))
    closes: dict[str, float] = {}
    for ticker, day in dates.items():
        if ticker in frame.columns and day in frame.index:
            closes[ticker] = float(frame.at[day, ticker])
    return closes


def _readjusted(series: pd.Series, previous: pd.Timestamp, cached_close: float | None) -> bool:
    """Tell whether Yahoo's close on the overlap date differs from the cached close."""
    if cached_close is None or previous not in series.index:
        return False
    fresh = float(series.loc[previous])
    return abs(fresh - cached_close) > READJUSTED_RTOL * max(abs(cached_close), abs(fresh))


READJUSTED_RTOL = 1e-6
"""Relative change of an already cached close that reveals a re-adjusted history."""
