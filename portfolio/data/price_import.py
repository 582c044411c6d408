"""Daily prices from a CSV file into the price cache: ``portfolio data import FILE.csv``.

Two layouts are read (the header decides, names case-insensitive)::

    date,NVDA,TSLA            wide: one column of closes per ticker; a blank cell is
    2024-01-02,48.1,248.4     "no price that day" (before a listing, a holiday)

    date,ticker,close[,currency]
    2024-01-02,TSLA,248.4     long: one row per ticker and date; the optional currency
                              must be the listing's (USD; JPY for a ``.T`` ticker)

Closes are daily adjusted closes in the listing's currency, as Yahoo's. Every value is
checked before anything is written: a date that is not ``YYYY-MM-DD``, a date in the future,
a date (or ticker and date) given twice, a price that is not a number, not above 0 or above
:data:`~portfolio.data.cache.MAX_PRICE` is an :class:`~portfolio.errors.InputError` naming
the file and line. Gaps longer than :data:`GAP_DAYS` calendar days are reported, not refused.
The prices are written in ONE transaction; each imported ticker's cached history is replaced
by the file's (two sources' adjustments never meet inside one series), and its source is
recorded as ``import <file name>`` so that ``portfolio data show`` lists it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from portfolio.data.cache import MAX_PRICE, PriceCache
from portfolio.data.csvrows import parse_number, read_text, records
from portfolio.data.fx import currency_of
from portfolio.errors import InputError
from portfolio.weights import CASH, normalize_ticker

__all__ = ["GAP_DAYS", "ImportReport", "import_prices", "parse_price_file"]

GAP_DAYS = 10
"""A ticker's consecutive prices further apart than this many calendar days are a gap."""

_FORMATS = ("the file has a header 'date,NVDA,TSLA' (one column per ticker) or "
            "'date,ticker,close' (one row per ticker and date)")
_LONG_COLUMNS = ("date", "ticker", "close", "currency")


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_prices` stored.

    Attributes
    ----------
    rows : Mapping[str, int]
        Prices stored per ticker, in file order.
    first, last : Mapping[str, pandas.Timestamp]
        First and last date of each ticker.
    gaps : tuple of str
        One plain-language note per ticker with gaps over :data:`GAP_DAYS` days.
    source : str
        The source recorded in the cache (``import <file name>``).
    cache_path : str
        The cache file written.
    """

    rows: Mapping[str, int]
    first: Mapping[str, pd.Timestamp]
    last: Mapping[str, pd.Timestamp]
    gaps: tuple[str, ...]
    source: str
    cache_path: str

    @property
    def tickers(self) -> tuple[str, ...]:
        """Tickers imported, in file order."""
        return tuple(self.rows)


def import_prices(path: str | os.PathLike[str], cache_dir: str | Path | None = None, *,
                  today: dt.date | None = None) -> ImportReport:
    """Validate a CSV file of daily closes and store it in the price cache, all or nothing.

    Parameters
    ----------
    path : str or path-like
        The CSV file (layouts in the module docstring), UTF-8.
    cache_dir : str or Path, optional
        Cache folder (default :func:`~portfolio.data.cache.default_cache_dir`).
    today : date, optional
        Dates after it are refused (default: today).

    Returns
    -------
    ImportReport

    Raises
    ------
    InputError
        A malformed file (the file and line named); nothing is written.
    DataError
        An unusable cache file; nothing is written.
    """
    source = str(path)
    text = read_text(path, "price", formats=_FORMATS)
    prices = parse_price_file(text, source, today=today)
    label = f"import {Path(source).name}"
    cache = PriceCache(cache_dir)
    cache.write(prices, source=label, replace=list(prices.columns))
    columns = {t: prices[t].dropna() for t in prices.columns}
    return ImportReport(
        rows={t: len(c) for t, c in columns.items()},
        first={t: c.index[0] for t, c in columns.items()},
        last={t: c.index[-1] for t, c in columns.items()},
        gaps=tuple(note for t, c in columns.items() if (note := _gap_note(t, c.index))),
        source=label, cache_path=str(cache.path),
    )


def parse_price_file(text: str, source: str = "<memory>", *,
                     today: dt.date | None = None) -> pd.DataFrame:
    """Parse and validate the text of a price file (pure: no I/O).

    Parameters
    ----------
    text : str
        The whole file.
    source : str
        Its name, for messages.
    today : date, optional
        Dates after it are refused (default: today).

    Returns
    -------
    pandas.DataFrame
        Dates x tickers (file order), closes in the listing's currency, NaN where a ticker
        has no price; index ``date``, sorted. Every ticker has at least one price.

    Raises
    ------
    InputError
        On any problem listed in the module docstring, naming ``source`` and the line.
    """
    lines = records(text, source)
    header_line, header = next(lines, (0, None))
    if header is None:
        raise InputError("empty price file", source, "it has no header and no rows",
                         f"write a header: {_FORMATS}")
    names = [field.strip().lower() for field in header]
    where = f"{source}, line {header_line}"
    if "ticker" in names:
        values = _long_values(names, lines, source, where)
    else:
        values = _wide_values(header, names, lines, source, where)
    today = today or dt.date.today()
    closes: dict[str, dict[pd.Timestamp, float]] = {}
    for ticker, day, close in values:
        if day.date() > today:
            raise InputError(f"date {day.date()} is in the future", close.where,
                             f"prices are closes of past sessions (today is {today})",
                             "remove the row or fix the date")
        closes.setdefault(ticker, {})[day] = close.value
    if not closes:
        raise InputError("no prices", source, "the file has a header but no prices",
                         f"add rows below the header: {_FORMATS}")
    frame = pd.DataFrame(closes, dtype=float).sort_index()
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    return frame


@dataclass(frozen=True)
class _Close:
    value: float
    where: str


def _long_values(names: list[str], lines: Iterator[tuple[int, list[str]]], source: str,
                 where: str) -> Iterator[tuple[str, pd.Timestamp, _Close]]:
    """(ticker, date, close) of a ``date,ticker,close[,currency]`` file."""
    unknown = [n for n in names if n not in _LONG_COLUMNS]
    missing = [n for n in ("date", "close") if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise InputError("unexpected columns for one row per ticker and date", where,
                         f"the header has {', '.join(names)}",
                         "write the header date,ticker,close (and optionally currency)")
    column = {name: names.index(name) for name in names}
    seen: dict[tuple[str, pd.Timestamp], int] = {}
    for line_no, fields in lines:
        here = f"{source}, line {line_no}"
        _check_width(fields, names, here)
        ticker = _ticker(fields[column["ticker"]], here)
        day = _date(fields[column["date"]], here)
        if (ticker, day) in seen:
            raise InputError(f"{ticker} on {day.date()} is given twice", here,
                             f"it is already on line {seen[ticker, day]}",
                             "keep one close per ticker and date")
        seen[ticker, day] = line_no
        if "currency" in column:
            _check_currency(fields[column["currency"]], ticker, here)
        yield ticker, day, _price(fields[column["close"]], ticker, here)


def _wide_values(header: list[str], names: list[str], lines: Iterator[tuple[int, list[str]]],
                 source: str, where: str) -> Iterator[tuple[str, pd.Timestamp, _Close]]:
    """(ticker, date, close) of a ``date,TICKER1,TICKER2,...`` file (blank cells skipped)."""
    if names[0] != "date" or len(names) < 2:
        raise InputError("the first column must be the date", where,
                         f"the header starts with {header[0].strip()!r}", f"write {_FORMATS}")
    if any(n in ("close", "adj close", "adj_close", "open") for n in names):
        raise InputError("a price column without a ticker", where,
                         "this looks like one ticker's OHLC export (Date,Open,...,Close)",
                         "keep the date and the adjusted close and name the close column by "
                         "its ticker (date,TSLA), or write date,ticker,close rows")
    tickers = [_ticker(name, where) for name in header[1:]]
    repeated = sorted({t for t in tickers if tickers.count(t) > 1})
    if repeated:
        raise InputError(f"ticker {repeated[0]} has two columns", where,
                         "each ticker has one column of closes", "merge the columns")
    seen: dict[pd.Timestamp, int] = {}
    for line_no, fields in lines:
        here = f"{source}, line {line_no}"
        _check_width(fields, names, here)
        day = _date(fields[0], here)
        if day in seen:
            raise InputError(f"date {day.date()} is given twice", here,
                             f"it is already on line {seen[day]}", "keep one row per date")
        seen[day] = line_no
        for ticker, cell in zip(tickers, fields[1:], strict=True):
            if cell.strip():
                yield ticker, day, _price(cell, ticker, here)


def _check_width(fields: list[str], names: list[str], where: str) -> None:
    if len(fields) != len(names):
        raise InputError("wrong number of fields", where,
                         f"the row has {len(fields)} fields and the header {len(names)}",
                         "write one value per column (leave a cell empty for no price)")


def _ticker(text: str, where: str) -> str:
    ticker = normalize_ticker(text, where)
    if ticker == CASH or any(char.isspace() for char in ticker):
        raise InputError(f"invalid ticker {ticker!r}", where,
                         "a ticker is one exchange symbol such as TSLA or 9984.T",
                         "write the Yahoo ticker")
    return ticker


def _date(text: str, where: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(dt.date.fromisoformat(text.strip()))
    except ValueError:
        raise InputError(f"invalid date {text.strip()!r}", where,
                         "dates are real calendar dates written YYYY-MM-DD",
                         "e.g. 2024-01-31") from None


def _price(text: str, ticker: str, where: str) -> _Close:
    value = parse_number(text, "price", ticker, where)
    if not 0 < value <= MAX_PRICE:
        raise InputError(f"invalid price {text.strip()} for {ticker}", where,
                         f"a close is a number above 0 and at most {MAX_PRICE:.0e}",
                         "fix the price or leave the cell empty")
    return _Close(value, where)


def _check_currency(text: str, ticker: str, where: str) -> None:
    currency = text.strip().upper()
    expected = currency_of(ticker)
    if currency and currency != expected:
        raise InputError(f"currency {currency} for {ticker}", where,
                         f"the cache holds each ticker in its listing currency, {expected} "
                         f"for {ticker}, and converts to USD itself",
                         f"give {ticker}'s closes in {expected}")


def _gap_note(ticker: str, dates: pd.DatetimeIndex) -> str:
    """``"TSLA: 2 gaps over 10 days, the longest 2020-03-02 .. 2020-04-01 (30 days)"``."""
    steps = pd.Series(dates[1:] - dates[:-1], index=dates[1:]).dt.days
    long_steps = steps[steps > GAP_DAYS]
    if long_steps.empty:
        return ""
    end = long_steps.idxmax()
    start = dates[dates.get_loc(end) - 1]
    count = len(long_steps)
    return (f"{ticker}: {count} gap{'s' if count > 1 else ''} over {GAP_DAYS} days without a "
            f"price, the longest {start.date()} .. {end.date()} ({long_steps.max()} days)")
