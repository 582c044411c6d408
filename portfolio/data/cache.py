"""SQLite cache of daily adjusted close prices, refreshed incrementally from Yahoo.

Where it lives (see :func:`default_cache_dir`): ``$PORTFOLIO_CACHE_DIR`` if set,
else ``$XDG_CACHE_HOME/portfolio-ai-infra``, else ``~/.cache/portfolio-ai-infra``;
the database is the single file ``prices.sqlite`` in that directory. The CLI's
``--cache-dir`` overrides it. Deleting the file is always safe: it is rebuilt
from Yahoo on the next update.

Schema (version :data:`SCHEMA_VERSION`)::

    prices(ticker TEXT, date TEXT 'YYYY-MM-DD', close REAL, PRIMARY KEY (ticker, date))
    tickers(ticker TEXT PRIMARY KEY, source TEXT, fetched_at TEXT ISO-8601 UTC)
    meta(key TEXT PRIMARY KEY, value TEXT)         -- 'schema_version'

Every write is one transaction: it either lands completely or not at all. A writer
killed in the middle of one (a crash, ``kill -9``) leaves ``prices.sqlite-journal``; the
next open rolls it back (:meth:`PriceCache._roll_back_interrupted_write`), so the cache
holds exactly its last committed state. Every value read is checked (a close is a number
in (0, :data:`MAX_PRICE`], a date a real ``YYYY-MM-DD``); a bad row is a
:class:`~portfolio.errors.DataError` naming the ticker and the date. A file that is not
this cache (corrupt, another schema, unreadable) raises
:class:`~portfolio.errors.DataError`; it is never replaced or deleted silently.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from portfolio.data.yahoo import (
    _empty_prices,
    _iso_date,
    _unique_tickers,
)
from portfolio.errors import DataError

__all__ = [
    "CACHE_FILE_NAME",
    "MAX_PRICE",
    "SCHEMA_VERSION",
    "PriceCache",
    "default_cache_dir",
]

SCHEMA_VERSION = 1
"""Version stored in ``meta.schema_version``; a different value is refused."""

CACHE_FILE_NAME = "prices.sqlite"
"""Name of the database file inside the cache directory."""

APP_DIR_NAME = "portfolio-ai-infra"

MAX_PRICE = 1e9
"""Largest plausible close (in the listing's currency); a larger one is a data error."""


_REBUILD_FIX = (
    "Move it away or delete it; it will be rebuilt from Yahoo, or use --data-source bundled"
)
_EXPECTED_COLUMNS = {
    "meta": {"key", "value"},
    "prices": {"ticker", "date", "close"},
    "tickers": {"ticker", "source", "fetched_at"},
}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS prices (ticker TEXT NOT NULL, date TEXT NOT NULL,"
    " close REAL NOT NULL, PRIMARY KEY (ticker, date)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tickers (ticker TEXT PRIMARY KEY, source TEXT NOT NULL,"
    " fetched_at TEXT NOT NULL)",
)
_UPSERT_PRICE = (
    "INSERT INTO prices (ticker, date, close) VALUES (?, ?, ?)"
    " ON CONFLICT (ticker, date) DO UPDATE SET close = excluded.close"
)
_UPSERT_TICKER = (
    "INSERT INTO tickers (ticker, source, fetched_at) VALUES (?, ?, ?)"
    " ON CONFLICT (ticker) DO UPDATE SET source = excluded.source,"
    " fetched_at = excluded.fetched_at"
)
_SUMMARY_COLUMNS = ["first_date", "last_date", "rows", "source", "fetched_at"]
_VALID_ROW = (
    "typeof(ticker) = 'text' AND typeof(close) IN ('real', 'integer') AND close > 0"
    f" AND close <= {MAX_PRICE:.0f} AND typeof(date) = 'text' AND date(julianday(date)) IS date"
)
"""SQL condition a stored row meets: a text ticker, a close in (0, MAX_PRICE], a real date."""
_BAD_ROW_FIX = (
    "Import the ticker's correct closes with `portfolio data import FILE.csv` (it replaces"
    " them), move the cache file away to rebuild it from Yahoo, or use --data-source bundled"
)


def default_cache_dir() -> Path:
    """Directory of the price cache when none is given.

    Returns
    -------
    pathlib.Path
        ``$PORTFOLIO_CACHE_DIR`` if set and non-empty; else
        ``$XDG_CACHE_HOME/portfolio-ai-infra`` if ``XDG_CACHE_HOME`` is an
        absolute path; else ``~/.cache/portfolio-ai-infra``. Not created here.
    """
    explicit = os.environ.get("PORTFOLIO_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / APP_DIR_NAME
    return Path.home() / ".cache" / APP_DIR_NAME


class PriceCache:
    """Daily adjusted closes stored in ``<directory>/prices.sqlite``.

    Parameters
    ----------
    directory : pathlib.Path or str, optional
        Cache directory; created on the first write, never on a read. None (the
        default) means :func:`default_cache_dir`.
    timeout : float
        Seconds to wait for another process holding the database lock.

    Attributes
    ----------
    directory : pathlib.Path
    path : pathlib.Path
        The database file.
    """

    def __init__(self, directory: Path | str | None = None, *, timeout: float = 30.0) -> None:
        self.directory = default_cache_dir() if directory is None else Path(directory).expanduser()
        self.path = self.directory / CACHE_FILE_NAME
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"PriceCache({str(self.directory)!r})"

    # ------------------------------------------------------------------ reads
    def read(
        self,
        tickers: Iterable[str] | str | None = None,
        start: date | str | None = None,
        end: date | str | None = None,
    ) -> pd.DataFrame:
        """Read cached closes as a wide frame.

        Parameters
        ----------
        tickers : iterable of str, or str, optional
            Tickers wanted (None: every cached ticker, alphabetically).
        start, end : date or ISO string, optional
            First and last date, both INCLUSIVE (so ``end`` can be an as-of date).

        Returns
        -------
        pandas.DataFrame
            Shape (dates, tickers found). Daily adjusted close, float, NaN where a
            ticker has no price on a date. Index: ``DatetimeIndex`` named ``"date"``,
            sorted. Columns in the requested order; tickers not in the cache are
            absent (the caller decides whether that is an error). A missing cache
            file gives an empty frame.

        Raises
        ------
        DataError
            If the file is corrupt, of another schema or unreadable.
        """
        wanted = None if tickers is None else _unique_tickers(tickers)
        if wanted == []:
            return _empty_prices()
        clauses: list[str] = []
        params: list[str] = []
        if wanted is not None:
            clauses.append(f"ticker IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        for bound, operator in ((start, ">="), (end, "<=")):
            iso = _iso_date(bound, "start" if operator == ">=" else "end")
            if iso is not None:
                clauses.append(f"date {operator} ?")
                params.append(iso)
        sql = "SELECT ticker, date, close FROM prices"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = self._query(sql, params, checked=" AND ".join(clauses) or "1")
        if not rows:
            return _empty_prices()
        long = pd.DataFrame(rows, columns=["ticker", "date", "close"])
        wide = long.pivot(index="date", columns="ticker", values="close")
        order = sorted(wide.columns) if wanted is None else [t for t in wanted if t in wide.columns]
        wide = wide.loc[:, order].astype(float)
        wide.index = _dates(wide.index)
        wide.columns = pd.Index(list(order))
        return wide.sort_index()

    def summary(self) -> pd.DataFrame:
        """One row per cached ticker.

        Returns
        -------
        pandas.DataFrame
            Index ``"ticker"`` (sorted). Columns: ``first_date``, ``last_date``
            (Timestamp), ``rows`` (int, number of cached dates), ``source`` (str,
            e.g. ``"yahoo"``), ``fetched_at`` (tz-aware UTC Timestamp of the last
            write of that ticker). Empty when the cache is empty or absent.
        """
        rows = self._query(
            "SELECT p.ticker, MIN(p.date), MAX(p.date), COUNT(*), t.source, t.fetched_at"
            " FROM prices AS p LEFT JOIN tickers AS t ON t.ticker = p.ticker"
            " GROUP BY p.ticker ORDER BY p.ticker",
            [],
            checked="1",
        )
        frame = pd.DataFrame(rows, columns=["ticker", *_SUMMARY_COLUMNS])
        frame["first_date"] = _dates(frame["first_date"])
        frame["last_date"] = _dates(frame["last_date"])
        frame["rows"] = frame["rows"].astype("int64")
        frame["source"] = frame["source"].astype(object)
        try:
            frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True, format="ISO8601")
        except (TypeError, ValueError):
            raise self._unusable("a fetch time in table 'tickers' is not an ISO 8601 time",
                                 _BAD_ROW_FIX) from None
        return frame.set_index("ticker")

    def last_dates(self) -> dict[str, pd.Timestamp]:
        """Last cached date of each ticker (empty dict for an empty or absent cache)."""
        rows = self._query("SELECT ticker, MAX(date) FROM prices GROUP BY ticker", [],
                           checked="1")
        return {ticker: pd.Timestamp(last) for ticker, last in rows}

    # ----------------------------------------------------------------- writes
    def write(
        self,
        prices: pd.DataFrame,
        source: str,
        fetched_at: datetime | None = None,
        *,
        replace: Iterable[str] = (),
    ) -> int:
        """Upsert prices and their tickers' metadata in ONE transaction.

        Parameters
        ----------
        prices : pandas.DataFrame
            Shape (dates, tickers); daily adjusted closes. Index: dates (tz is
            dropped, times normalised). NaN cells are skipped, never stored.
        source : str
            Where the prices come from, e.g. ``"yahoo"``.
        fetched_at : datetime, optional
            When they were fetched (naive means UTC); default now.
        replace : iterable of str
            Tickers whose previously cached rows are deleted first (a history
            re-adjusted by a split or dividend is replaced, not merged).

        Returns
        -------
        int
            Number of price rows (ticker, date) inserted or updated.

        Raises
        ------
        DataError
            If the file is corrupt, of another schema, locked or not writable.
            Whatever the error, the cache keeps its previous content.
        """
        prices = _validated(prices)
        written_tickers = [str(t) for t in prices.columns[prices.notna().any(axis=0)]]
        stamp = _utc_iso(fetched_at)
        with self._connection(write=True) as conn:
            has_schema = self._check(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not has_schema:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                conn.executemany(
                    "DELETE FROM prices WHERE ticker = ?", [(str(t),) for t in replace]
                )
                before = conn.total_changes
                conn.executemany(_UPSERT_PRICE, _price_rows(prices))
                written = conn.total_changes - before
                conn.executemany(_UPSERT_TICKER, _ticker_rows(written_tickers, source, stamp))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        _remember_verified(self.path)  # our own committed write keeps the file intact
        return written

    # --------------------------------------------------------------- plumbing
    def _query(self, sql: str, params: list[str], *, checked: str) -> list[tuple]:
        """Run a read query; [] when the file is absent or has no schema yet.

        ``checked`` is the SQL filter of the price rows the query reads (``"1"``: all);
        they are validated first (see :meth:`_check_rows`).
        """
        with self._connection(write=False) as conn:
            if conn is None or not self._check(conn):
                return []
            self._check_rows(conn, checked, params)
            return conn.execute(sql, params).fetchall()

    def _check_rows(self, conn: sqlite3.Connection, where: str, params: list[str]) -> None:
        """Raise a :class:`DataError` naming the first stored row that is not a valid price.

        A valid row has a text ticker, a close that is a number in (0, :data:`MAX_PRICE`]
        and a real ``YYYY-MM-DD`` date; anything else (text in the close column, a zero, an
        infinity, a date such as ``2024-02-30``) was written by something other than this
        toolkit and would otherwise surface as a wrong number or a crash.
        """
        bad = conn.execute(
            f"SELECT ticker, date, close, typeof(close) FROM prices WHERE ({where})"
            f" AND NOT ({_VALID_ROW}) LIMIT 1", params,
        ).fetchone()
        if bad is None:
            return
        ticker, day, close, kind = bad
        if kind in ("real", "integer") and 0 < close <= MAX_PRICE:
            what, why = (f"invalid cached date {day!r} for {ticker}",
                         "dates are stored as real calendar dates written YYYY-MM-DD")
        else:
            what, why = (f"invalid cached price {close!r} for {ticker} on {day}",
                         f"a close is a number above 0 and at most {MAX_PRICE:.0e} (found "
                         f"{kind} {close!r})")
        raise DataError(what, str(self.path), why, _BAD_ROW_FIX)

    def _roll_back_interrupted_write(self) -> None:
        """Let SQLite roll back a write that was killed mid-transaction, before a read.

        A killed writer leaves ``prices.sqlite-journal`` (a *hot* journal: the pages as
        they were before the transaction). SQLite restores them on the next open that may
        write; a read-only open cannot, and fails. So when a journal (or a WAL file) is
        present, the file is opened read-write once and read, which rolls the journal back
        and keeps every committed write. A journal of a writer still running is not hot:
        SQLite then leaves it alone.

        Raises
        ------
        DataError
            When the file cannot be opened for writing: the user is told not to delete
            the journal, which holds the data to restore.
        """
        journal = self.path.with_name(self.path.name + "-journal")
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            pending = (journal.exists() and journal.stat().st_size > 0) or wal.exists()
        except OSError:
            pending = False
        if not pending:
            return
        try:
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=rw", uri=True,
                                   timeout=self.timeout, isolation_level=None)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                raise self._error(exc) from exc
            raise self._unusable(
                f"a write was interrupted (a crash or a kill) and its journal "
                f"{journal.name} can only be rolled back with write access ({exc})",
                f"Give this user write access to {self.directory} and {self.path.name}, then "
                f"run the command again; do not delete {journal.name}: it restores the last "
                "complete update",
            ) from exc

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """Open the database (read-only for reads; None if absent) and always close it."""
        try:
            exists = self.path.exists()
            if write and not exists:
                self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                "cannot use the price cache directory",
                where=str(self.directory),
                why=str(exc),
                fix="Point --cache-dir or PORTFOLIO_CACHE_DIR to a writable directory,"
                " or use --data-source bundled",
            ) from exc
        if not write and not exists:
            yield None
            return
        if not write:
            self._roll_back_interrupted_write()
        uri = self.path.resolve().as_uri() + ("?mode=rwc" if write else "?mode=ro")
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        finally:
            conn.close()

    def _check(self, conn: sqlite3.Connection) -> bool:
        """Verify schema and version on every open, integrity once per file version.

        Returns False for a new, empty database.
        """
        if not _is_verified(self.path):
            status = conn.execute("PRAGMA quick_check").fetchall()
            if status != [("ok",)]:
                raise self._unusable(f"SQLite integrity check failed ({status[0][0]})")
            _remember_verified(self.path)
        tables = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not tables:
            return False
        for table, columns in _EXPECTED_COLUMNS.items():
            if table not in tables:
                raise self._unusable(f"it is not a portfolio price cache (no table {table!r})")
            found = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if missing := sorted(columns - found):
                raise self._unusable(
                    f"it is not a portfolio price cache (table {table!r} lacks {missing})"
                )
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if version is None or version[0] != str(SCHEMA_VERSION):
            raise self._unusable(
                f"schema version {version[0] if version else 'missing'}, "
                f"this version of portfolio reads {SCHEMA_VERSION}"
            )
        return True

    def _unusable(self, why: str, fix: str = _REBUILD_FIX) -> DataError:
        return DataError("price cache is unusable", where=str(self.path), why=why, fix=fix)

    def _error(self, exc: sqlite3.Error) -> DataError:
        text = str(exc)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            return self._unusable(
                f"the database is locked by another process ({text})",
                "Wait for the other portfolio command to finish, or use --data-source bundled",
            )
        if any(k in lowered for k in ("readonly", "read-only", "unable to open", "permission")):
            return self._unusable(
                f"it cannot be opened or written ({text})",
                "Check the permissions of the file and its directory, point --cache-dir to a"
                " writable directory, or use --data-source bundled",
            )
        if "not a database" in lowered or "malformed" in lowered:
            return self._unusable(f"it is not a valid SQLite database ({text})")
        return self._unusable(text)


_verified: dict[Path, tuple[int, int]] = {}
"""Cache files whose ``PRAGMA quick_check`` passed in this process, with their
(size, mtime_ns) at that time; a file changed since is checked again."""


def _signature(path: Path) -> tuple[Path, tuple[int, int]] | None:
    try:
        resolved = path.resolve()
        info = resolved.stat()
    except OSError:
        return None
    return resolved, (info.st_size, info.st_mtime_ns)


def _is_verified(path: Path) -> bool:
    """True when ``path`` passed the integrity check and has not changed since."""
    signature = _signature(path)
    return signature is not None and _verified.get(signature[0]) == signature[1]


def _remember_verified(path: Path) -> None:
    if (signature := _signature(path)) is not None:
        _verified[signature[0]] = signature[1]


def _validated(prices: pd.DataFrame) -> pd.DataFrame:
    """Check a frame to write; return it with a normalised, tz-naive date index."""
    if not isinstance(prices, pd.DataFrame):
        raise DataError("prices to cache must be a DataFrame", why=f"got {type(prices).__name__}")
    try:
        index = pd.DatetimeIndex(prices.index)
    except (TypeError, ValueError) as exc:
        raise DataError(
            "prices to cache need a date index", why=str(exc), fix="Index the frame by date"
        ) from exc
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize()
    columns = [str(c) for c in prices.columns]
    if len(set(columns)) != len(columns) or index.has_duplicates:
        raise DataError(
            "prices to cache have duplicate tickers or dates",
            why="each (ticker, date) must appear once",
        )
    try:
        values = prices.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError("prices to cache must be numbers", why=str(exc)) from exc
    array = values.to_numpy()
    bad = ~np.isnan(array) & ~((array > 0) & (array <= MAX_PRICE))  # inf is bad too
    if bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(
            f"invalid price {array[row, column]:g} for {columns[column]} on "
            f"{index[row].date()}", "prices to cache",
            f"a close is a number above 0 and at most {MAX_PRICE:.0e}",
            "fix the price at its source; nothing was written",
        )
    return values.set_axis(index, axis=0).set_axis(columns, axis=1)


def _price_rows(prices: pd.DataFrame) -> Iterator[tuple[str, str, float]]:
    """(ticker, ISO date, close) for every non-NaN cell, lazily."""
    for ticker in prices.columns:
        column = prices[ticker].dropna()
        for day, close in zip(column.index.strftime("%Y-%m-%d"), column.to_numpy(), strict=True):
            yield ticker, day, float(close)


def _ticker_rows(tickers: list[str], source: str, stamp: str) -> Iterator[tuple[str, str, str]]:
    for ticker in tickers:
        yield ticker, source, stamp


def _utc_iso(moment: datetime | None) -> str:
    if moment is None:
        moment = datetime.now(UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _dates(values: Iterable[str]) -> pd.DatetimeIndex:
    """Stored ISO dates (checked by ``PriceCache._check_rows``) as a ``DatetimeIndex``."""
    parsed = pd.to_datetime(list(values), format="%Y-%m-%d")
    return pd.DatetimeIndex(parsed, name="date").as_unit("us")
