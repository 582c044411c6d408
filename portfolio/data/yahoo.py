"""Daily adjusted close prices from Yahoo Finance (through yfinance).

The only function that touches the network is :func:`fetch_yahoo`. It calls
``yfinance.download`` (or an injected ``download`` with the same signature) in
batches, retries rate limits and transient errors with a bounded exponential
backoff, silences everything yfinance prints or logs, and turns yfinance's
output shapes into one wide frame of adjusted closes. Everything it does, yfinance's
own session requests included, ends by one :class:`~portfolio.data.network.Deadline`.

Adjustment is pinned: ``auto_adjust=True``, so yfinance's ``Close`` column is
the close adjusted for splits and dividends, in the listing's currency.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from portfolio.data.network import DEFAULT_TIMEOUT, Deadline
from portfolio.errors import DataError, InputError

__all__ = [
    "NETWORK_UNREACHABLE",
    "NO_DATA",
    "RATE_LIMITED",
    "TIMED_OUT",
    "FetchResult",
    "YahooUnavailableError",
    "fetch_yahoo",
    "is_no_data_reason",
]

RATE_LIMITED = "rate limited"
"""Reason given for a ticker Yahoo refused because of rate limiting."""

TIMED_OUT = "timed out"
"""Reason given for a ticker not fetched because the time budget ran out."""

NETWORK_UNREACHABLE = "network unreachable"
"""Reason given for a ticker whose request could not reach Yahoo (DNS, connection)."""

NO_DATA = "no data returned"
"""Reason given for a ticker Yahoo answered for without any price (unknown, delisted, empty range).

Reasons that carry yfinance's own explanation start with ``"no data ("``.
"""

_YFINANCE_LOGGER = "yfinance"
_MAX_REASON_CHARS = 120
_MAX_TICKERS_IN_MESSAGE = 8

# "Failed to get ticker 'AMD' reason: <message>"
_FAILED_TICKER = re.compile(
    r"Failed to get ticker '(?P<ticker>[^']+)' reason: (?P<reason>.*)", re.S
)
# "['AMD', 'NVDA']: DNSError('...')" -- yfinance's summary after "N Failed downloads:"
_FAILED_SUMMARY = re.compile(r"^\s*\[(?P<tickers>[^\]]*)\]:\s*(?P<reason>.*)$", re.S)

Download = Callable[..., pd.DataFrame]


@dataclass(frozen=True, eq=False)
class FetchResult:
    """Prices fetched from Yahoo Finance and the tickers that could not be fetched.

    Attributes
    ----------
    prices : pandas.DataFrame
        Shape (dates, tickers that succeeded). Daily adjusted close (splits and
        dividends) in each listing's currency, float. Index: tz-naive
        ``DatetimeIndex`` of normalised dates named ``"date"``, sorted, with no
        all-NaN row. NaN where a ticker did not trade on a date (never
        forward-filled). Columns are in the order the tickers were requested.
    failed : tuple of str
        Tickers without any price, in request order.
    reasons : Mapping[str, str]
        Short reason for each failed ticker, e.g. ``"rate limited"``,
        ``"timed out"``, ``"network unreachable"``, ``"no data returned"``.
    """

    prices: pd.DataFrame
    failed: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)


class YahooUnavailableError(DataError):
    """Yahoo Finance returned no price at all for any requested ticker.

    Parameters
    ----------
    failed : iterable of str
        Every requested ticker.
    reasons : Mapping[str, str]
        Short reason per ticker (see :class:`FetchResult`).
    timeout : float, optional
        The time budget (seconds), given when it ran out.
    """

    def __init__(self, failed: Iterable[str], reasons: Mapping[str, str],
                 timeout: float | None = None) -> None:
        self.failed = tuple(failed)
        self.reasons = dict(reasons)
        self.timeout = timeout
        distinct = list(dict.fromkeys(self.reasons.get(t, NO_DATA) for t in self.failed))
        if self.timed_out:
            why = f"no answer within the {timeout:g} s time limit (a stalled network or proxy)"
            fix = ("Use --offline / --data-source bundled, retry later, or allow more time "
                   "with --timeout SECONDS ([data] timeout)")
        else:
            why = "the network is unreachable or Yahoo refused the request" + (
                f" (yfinance: {'; '.join(distinct)})" if distinct else "")
            fix = "Use --offline / --data-source bundled, or retry later"
        super().__init__("Yahoo Finance returned no data", where=_list_tickers(self.failed),
                         why=why, fix=fix)

    @property
    def timed_out(self) -> bool:
        """True when the time budget ran out."""
        return self.timeout is not None

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.failed, self.reasons, self.timeout))


def is_no_data_reason(reason: str) -> bool:
    """Tell whether a failure reason means "Yahoo answered, but without prices".

    Parameters
    ----------
    reason : str
        A value of :attr:`FetchResult.reasons`.

    Returns
    -------
    bool
        True for an unknown or delisted ticker or an empty date range; False for
        rate limits, timeouts and network or request errors.
    """
    return reason.startswith(NO_DATA) or reason.startswith("no data (")


def fetch_yahoo(
    tickers: Iterable[str] | str,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    *,
    download: Download | None = None,
    batch_size: int = 20,
    timeout: float = 10.0,
    max_retries: int = 3,
    backoff_seconds: float = 1.0,
    max_total_seconds: float = DEFAULT_TIMEOUT,
    deadline: Deadline | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Download daily adjusted closes from Yahoo Finance.

    Parameters
    ----------
    tickers : iterable of str, or str
        Yahoo symbols (``"NVDA"``, ``"9984.T"``); a single string is one ticker.
        Duplicates are ignored; matching yfinance's answer is case-insensitive.
    start : date, datetime or ISO string, optional
        First date requested (inclusive). None lets yfinance pick its default period.
    end : date, datetime or ISO string, optional
        End of the range, EXCLUSIVE (as in yfinance): ``end="2024-07-01"`` stops
        at 2024-06-28 for a Friday-last month. None means up to the latest bar,
        which during a trading session is a live, not yet final, price.
    download : callable, optional
        Function with ``yfinance.download``'s signature; defaults to it (yfinance
        is imported only when needed). It is always called with a list of
        tickers and ``auto_adjust=True, progress=False, threads=False,
        timeout=<at most timeout>, group_by="column", session=deadline.session()``.
    batch_size : int
        Tickers per ``download`` call.
    timeout : float
        Seconds per HTTP request, passed to yfinance (never more than the time left).
    max_retries : int
        Retries per batch after a rate limit or a transient error (an exception
        raised by ``download``, or tickers yfinance reports as rate limited).
        Other per-ticker failures (unknown ticker, no network name resolution)
        are not retried.
    backoff_seconds : float
        Wait before retry ``k`` (0-based) is ``backoff_seconds * 2**k`` seconds.
    max_total_seconds : float
        Budget for the whole call as measured by ``clock`` (when no ``deadline`` is
        given): every HTTP request, yfinance's cookie and crumb requests included, ends
        by it (:class:`~portfolio.data.network.Deadline`); no wait that would end past
        it is started, and no batch starts once it is spent; tickers left are failed
        with reason ``"rate limited"`` or ``"timed out"``.
    deadline : Deadline, optional
        A budget shared with other calls (one command's whole update).
    sleep, clock : callable
        Injected for tests: ``sleep(seconds)`` and a monotonic ``clock()`` in seconds.

    Returns
    -------
    FetchResult
        Adjusted closes of the tickers that succeeded, plus failed tickers and reasons.

    Raises
    ------
    YahooUnavailableError
        When no ticker at all returned a price (offline, blocked, rate limited, no
        answer in time).
    InputError
        When ``start`` or ``end`` is not a date.

    Notes
    -----
    Never prints: yfinance's stdout/stderr, warnings and ``yfinance`` logger are
    captured during each call, so a JSON document on stdout stays clean.
    """
    requested = _unique_tickers(tickers)
    if not requested:
        return FetchResult(prices=_empty_prices())
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if download is None:
        import yfinance  # heavy: only imported when the network is actually used

        download = yfinance.download
    deadline = deadline or Deadline(max_total_seconds, clock)
    call_options = {
        "start": _iso_date(start, "start"),
        "end": _iso_date(end, "end"),
        "auto_adjust": True,
        "progress": False,
        "threads": False,
        "timeout": timeout,
        "group_by": "column",
        "session": deadline.session(),
    }

    closes: list[pd.DataFrame] = []
    reasons: dict[str, str] = {}
    retry = _Retry(max_retries, backoff_seconds, deadline, sleep)
    with deadline.bounding():
        for first in range(0, len(requested), batch_size):
            batch = requested[first : first + batch_size]
            if deadline.remaining() <= 0:
                reasons.update(dict.fromkeys(batch, TIMED_OUT))
                continue
            closes += _fetch_batch(download, batch, call_options, retry, reasons)

    prices = _combine(closes, requested)
    failed = tuple(t for t in requested if t not in prices.columns)
    expired = deadline.remaining() <= 0
    # yfinance reports requests cut short by the deadline as "no data"; they are not
    failure_reasons = {t: TIMED_OUT if expired else reasons.get(t, NO_DATA) for t in failed}
    if not len(prices.columns):
        raise YahooUnavailableError(failed, failure_reasons,
                                    deadline.seconds if expired else None)
    return FetchResult(prices=prices, failed=failed, reasons=failure_reasons)


@dataclass(frozen=True)
class _Retry:
    """The retry policy of one :func:`fetch_yahoo` call (see its parameters)."""

    max_retries: int
    backoff_seconds: float
    deadline: Deadline
    sleep: Callable[[float], object]


def _fetch_batch(download: Download, batch: list[str], options: Mapping[str, Any],
                 retry: _Retry, reasons: dict[str, str]) -> list[pd.DataFrame]:
    """Closes of one batch, retrying what is rate limited or transient; fills ``reasons``."""
    closes = []
    attempt = 0
    pending = batch
    while pending:
        left = retry.deadline.remaining()
        if left <= 0:
            reasons.update(dict.fromkeys(pending, TIMED_OUT))
            break
        call_options = {**options, "timeout": min(options["timeout"], left)}
        retry_reason, frame, failures = _attempt(download, pending, call_options)
        if frame is not None:
            closes.append(frame)
        reasons.update(failures)
        pending = [t for t in pending if failures.get(t) == retry_reason]
        if not pending or attempt >= retry.max_retries:
            break
        delay = retry.backoff_seconds * 2**attempt
        if delay >= retry.deadline.remaining():
            budget_reason = RATE_LIMITED if retry_reason == RATE_LIMITED else TIMED_OUT
            reasons.update(dict.fromkeys(pending, budget_reason))
            break
        retry.sleep(delay)
        attempt += 1
    return closes


def _attempt(
    download: Download, tickers: list[str], options: Mapping[str, Any]
) -> tuple[str | None, pd.DataFrame | None, dict[str, str]]:
    """Call ``download`` once, quietly.

    Returns ``(retry_reason, closes, failures)``: ``retry_reason`` is the reason
    value that marks a ticker of ``failures`` as worth retrying (None: none is).
    """
    with _quiet_yfinance() as messages:
        try:
            raw = download(list(tickers), **options)
        except Exception as exc:  # yfinance raises many kinds; all are worth a retry
            reason = _exception_reason(exc)
            return reason, None, dict.fromkeys(tickers, reason)
    closes = _close_columns(raw, tickers)
    missing = [t for t in tickers if t not in closes.columns]
    failure_messages = _failure_messages(messages)
    failures = {t: _short_reason(failure_messages.get(t.upper())) for t in missing}
    return RATE_LIMITED, (closes if len(closes.columns) else None), failures


@contextlib.contextmanager
def _quiet_yfinance() -> Iterator[list[str]]:
    """Silence yfinance for the duration of the block; yield the messages it logged."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with contextlib.suppress(Exception):
                messages.append(record.getMessage())

    logger = logging.getLogger(_YFINANCE_LOGGER)
    saved = (logger.level, logger.handlers[:], logger.propagate)
    logger.handlers = [_Collect()]
    logger.propagate = False
    logger.setLevel(logging.ERROR)
    sink = io.StringIO()
    try:
        with (
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            yield messages
    finally:
        logger.setLevel(saved[0])
        logger.handlers = saved[1]
        logger.propagate = saved[2]


def _failure_messages(log_messages: Iterable[str]) -> dict[str, str]:
    """Map upper-case ticker -> yfinance's failure message (logger, then ``shared._ERRORS``)."""
    found: dict[str, str] = {}
    shared = sys.modules.get("yfinance.shared")  # older yfinance kept per-call errors here
    errors = getattr(shared, "_ERRORS", None)
    if isinstance(errors, Mapping):
        found.update({str(t).upper(): str(m) for t, m in errors.items()})
    for message in log_messages:
        if match := _FAILED_TICKER.search(message):
            found[match["ticker"].upper()] = match["reason"]
        elif match := _FAILED_SUMMARY.match(message):
            for ticker in re.findall(r"'([^']+)'", match["tickers"]):
                found[ticker.upper()] = match["reason"]
    return found


def _short_reason(message: str | None) -> str:
    """Classify a yfinance failure message into a short reason."""
    if not message:
        return NO_DATA
    text = " ".join(message.split())
    lowered = text.lower()
    if any(k in lowered for k in ("ratelimit", "rate limit", "too many requests")):
        return RATE_LIMITED
    if any(k in lowered for k in ("timed out", "timeout", "curl: (28)")):
        return TIMED_OUT
    network_keys = ("could not resolve", "dnserror", "connection", "curl: (6)", "curl: (7)")
    if any(k in lowered for k in network_keys):
        return NETWORK_UNREACHABLE
    return f"no data ({_truncate(text)})"


def _exception_reason(exc: BaseException) -> str:
    """Short reason for an exception raised by ``download``."""
    if any(cls.__name__ == "YFRateLimitError" for cls in type(exc).__mro__):
        return RATE_LIMITED
    if isinstance(exc, TimeoutError):
        return TIMED_OUT
    if isinstance(exc, ConnectionError):
        return NETWORK_UNREACHABLE
    reason = _short_reason(f"{type(exc).__name__}: {exc}")
    if is_no_data_reason(reason):  # an exception is a request failure, not an empty answer
        return f"request failed ({_truncate(f'{type(exc).__name__}: {exc}')})"
    return reason


def _close_columns(raw: object, tickers: list[str]) -> pd.DataFrame:
    """Extract the adjusted closes of ``tickers`` from a yfinance frame (all-NaN ones dropped)."""
    if not isinstance(raw, pd.DataFrame) or raw.empty:
        return _empty_prices()
    columns = raw.columns
    if isinstance(columns, pd.MultiIndex):
        level = _price_level(columns)
        if level is None:
            return _empty_prices()
        closes = raw.xs("Close", axis=1, level=level, drop_level=True)
        if isinstance(closes, pd.Series):  # pragma: no cover - defensive
            closes = closes.to_frame()
    elif "Close" in columns and len(tickers) == 1:
        closes = raw[["Close"]].set_axis([tickers[0]], axis=1)
    else:
        return _empty_prices()
    by_upper = {t.upper(): t for t in tickers}
    keep = [c for c in closes.columns if str(c).upper() in by_upper]
    closes = closes.loc[:, keep]
    closes.columns = [by_upper[str(c).upper()] for c in keep]
    closes = closes.loc[:, ~closes.columns.duplicated()]
    closes = closes.apply(pd.to_numeric, errors="coerce").astype(float)
    closes = closes.dropna(axis=1, how="all")
    return _normalise_index(closes)


def _price_level(columns: pd.MultiIndex) -> int | None:
    """Index of the column level holding the price fields ('Close', ...)."""
    names = list(columns.names)
    if "Price" in names:
        level = names.index("Price")
        return level if "Close" in columns.get_level_values(level) else None
    for level in range(columns.nlevels):
        if "Close" in columns.get_level_values(level):
            return level
    return None


def _normalise_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Tz-naive, normalised, sorted, unique ``DatetimeIndex`` named ``"date"``.

    A tz-aware daily index is made naive in its own time zone (not converted to
    UTC), so a Tokyo bar at 00:00+09:00 stays on its own trading date.
    """
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize().as_unit("us")
    frame = frame.set_axis(index.rename("date"), axis=0)
    frame = frame.loc[~frame.index.duplicated(keep="last")]
    return frame.sort_index()


def _combine(closes: list[pd.DataFrame], requested: list[str]) -> pd.DataFrame:
    """Join per-batch closes on date, in request order, without all-NaN rows."""
    if not closes:
        return _empty_prices()
    combined = pd.concat(closes, axis=1, join="outer", sort=True)
    combined = combined.loc[:, ~combined.columns.duplicated(keep="first")]
    combined = combined.loc[:, [t for t in requested if t in combined.columns]]
    combined = combined.dropna(axis=0, how="all").astype(float)
    combined.columns.name = None
    combined.index.name = "date"
    return combined


def _empty_prices() -> pd.DataFrame:
    return pd.DataFrame(
        index=pd.DatetimeIndex([], name="date", dtype="datetime64[us]"),
        columns=pd.Index([], dtype="str"),
        dtype=float,
    )


def _unique_tickers(tickers: Iterable[str] | str) -> list[str]:
    if isinstance(tickers, str):
        tickers = [tickers]
    cleaned = (str(t).strip() for t in tickers)
    return list(dict.fromkeys(t for t in cleaned if t))


def _iso_date(value: date | datetime | str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"invalid {name} date {value!r}",
            where=name,
            why=f"expected a date such as 2024-01-31 ({exc})",
            fix=f"Pass {name} as YYYY-MM-DD",
        ) from exc
    if pd.isna(stamp):
        raise InputError(f"invalid {name} date {value!r}", where=name, fix="Pass YYYY-MM-DD")
    return stamp.strftime("%Y-%m-%d")


def _truncate(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _MAX_REASON_CHARS:
        return text
    return text[: _MAX_REASON_CHARS - 3] + "..."


def _list_tickers(tickers: tuple[str, ...]) -> str:
    shown = ", ".join(tickers[:_MAX_TICKERS_IN_MESSAGE])
    extra = len(tickers) - _MAX_TICKERS_IN_MESSAGE
    return f"{shown} and {extra} more" if extra > 0 else shown
