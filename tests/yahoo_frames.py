"""Frames shaped exactly like yfinance 1.x ``download`` output, and fake downloads.

Shapes recorded from yfinance 1.7 with ``auto_adjust=True, group_by="column"``:

* columns: ``MultiIndex`` with level names ``['Price', 'Ticker']``, sorted by
  price field then ticker (``Close, High, Low, Open, Volume``); tickers upper case;
* index: ``DatetimeIndex`` named ``'Date'``, tz-naive for daily bars;
* a single ticker is still a ``MultiIndex`` with one ticker;
* a ticker that failed inside a successful call has all-NaN columns, including
  an ``'Adj Close'`` column (yfinance's empty placeholder frame has one);
* offline, every ticker fails: 0 rows, columns ``Adj Close, Close, High, Low,
  Open, Volume`` x tickers, and nothing is raised.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PRICE_FIELDS = ("Close", "High", "Low", "Open", "Volume")
OFFLINE_FIELDS = ("Adj Close", *PRICE_FIELDS)


def trading_days(count: int, start: str = "2024-01-02", tz: str | None = None) -> pd.DatetimeIndex:
    """Weekdays from ``start`` (yfinance's daily index, named 'Date')."""
    return pd.bdate_range(start, periods=count, tz=tz, name="Date")


def _columns(fields: Sequence[str], tickers: Sequence[str]) -> pd.MultiIndex:
    pairs = sorted((f, t.upper()) for f in fields for t in tickers)
    return pd.MultiIndex.from_tuples(pairs, names=["Price", "Ticker"])


def multi_ticker_frame(
    closes: Mapping[str, Sequence[float]],
    index: pd.DatetimeIndex | None = None,
    failed: Sequence[str] = (),
) -> pd.DataFrame:
    """Successful download of several tickers; ``failed`` tickers are all NaN.

    ``closes`` maps ticker -> adjusted closes (NaN allowed for a non-trading day).
    """
    length = len(next(iter(closes.values()))) if closes else 0
    index = trading_days(length) if index is None else index
    pairs = [(f, t.upper()) for f in PRICE_FIELDS for t in [*closes, *failed]]
    pairs += [("Adj Close", t.upper()) for t in failed]  # only failed tickers carry it
    columns = pd.MultiIndex.from_tuples(sorted(pairs), names=["Price", "Ticker"])
    frame = pd.DataFrame(np.nan, index=index, columns=columns)
    for ticker, values in closes.items():
        close = np.asarray(values, dtype=float)
        symbol = ticker.upper()
        frame[("Close", symbol)] = close
        frame[("High", symbol)] = close * 1.01
        frame[("Low", symbol)] = close * 0.99
        frame[("Open", symbol)] = close * 1.001
        frame[("Volume", symbol)] = np.where(np.isnan(close), np.nan, 1_000_000.0)
    return frame


def single_ticker_frame(
    ticker: str, closes: Sequence[float], index: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    """Successful download of one ticker (still a two-level MultiIndex in 1.x)."""
    return multi_ticker_frame({ticker: closes}, index=index)


def flat_single_ticker_frame(closes: Sequence[float]) -> pd.DataFrame:
    """One ticker with ``multi_level_index=False`` (or older yfinance): flat fields."""
    frame = single_ticker_frame("X", closes)
    return frame.droplevel("Ticker", axis=1).rename_axis(None, axis=1)


def offline_frame(tickers: Sequence[str]) -> pd.DataFrame:
    """What ``yf.download(tickers, auto_adjust=True)`` returns with no network."""
    return pd.DataFrame(
        index=pd.DatetimeIndex([], dtype="datetime64[s]"),
        columns=_columns(OFFLINE_FIELDS, tickers),
        dtype=float,
    )


def rate_limit_error() -> Exception:
    """The exception yfinance raises when Yahoo answers 429."""
    from yfinance.exceptions import YFRateLimitError

    return YFRateLimitError()


Response = pd.DataFrame | BaseException | Callable[[list[str]], Any]


@dataclass
class FakeDownload:
    """Stand-in for ``yfinance.download`` that records its calls.

    ``responses`` are consumed one per call (the last one repeats): a frame is
    returned, an exception raised, a callable called with the tickers.
    ``noisy`` makes each call print to stdout/stderr, log to the ``yfinance``
    logger and warn, as yfinance does.
    """

    responses: Sequence[Response]
    noisy: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, tickers: list[str], **options: Any) -> pd.DataFrame:
        self.calls.append({"tickers": list(tickers), **options})
        if self.noisy:
            print("[*********************100%***********************]  2 of 2 completed")
            print("\n1 Failed download:", file=sys.stderr)
            logger = logging.getLogger("yfinance")
            logger.error("Failed to get ticker 'AMD' reason: Failed to perform, curl: (6)")
            logging.getLogger("yfinance.data").warning("Cookie/crumb fetch failed")
            import warnings

            warnings.warn("The inplace keyword is deprecated", FutureWarning, stacklevel=1)
        response = self.responses[min(len(self.calls) - 1, len(self.responses) - 1)]
        if isinstance(response, BaseException):
            raise response
        if callable(response) and not isinstance(response, pd.DataFrame):
            return response(list(tickers))
        return response.copy()

    @property
    def tickers_per_call(self) -> list[list[str]]:
        return [call["tickers"] for call in self.calls]


def frame_for(closes: Mapping[str, Sequence[float]], index: pd.DatetimeIndex | None = None):
    """Response callable: a multi-ticker frame restricted to the requested tickers.

    Requested tickers absent from ``closes`` come back all NaN, like yfinance.
    """

    def respond(tickers: list[str]) -> pd.DataFrame:
        present = {t: closes[t] for t in tickers if t in closes}
        missing = [t for t in tickers if t not in closes]
        if not present:
            return offline_frame(tickers)
        return multi_ticker_frame(present, index=index, failed=missing)

    return respond


class FakeClock:
    """Monotonic clock advanced only by ``sleep`` (and optionally by each call)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
