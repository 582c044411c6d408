"""SQLite price cache and incremental update. No network: fetch is a spy."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import portfolio.data.cache as cache_module
from portfolio.data.cache import SCHEMA_VERSION, PriceCache, default_cache_dir
from portfolio.data.cache_update import UpdateReport, update_cache
from portfolio.data.yahoo import (
    NO_DATA,
    RATE_LIMITED,
    FetchResult,
    YahooUnavailableError,
)
from portfolio.errors import DataError

FETCHED_AT = datetime(2024, 1, 9, 21, 30, tzinfo=UTC)


def prices_frame(data: dict[str, list[float]], start: str = "2024-01-02") -> pd.DataFrame:
    length = len(next(iter(data.values())))
    index = pd.bdate_range(start, periods=length, name="date")
    return pd.DataFrame(data, index=index, dtype=float)


@pytest.fixture
def cache(tmp_path) -> PriceCache:
    return PriceCache(tmp_path / "cache")


@pytest.fixture
def stored(cache) -> pd.DataFrame:
    frame = prices_frame(
        {"NVDA": [100.0, 101.0, np.nan, 103.0], "AMD": [150.0, 151.0, 152.0, 153.0]}
    )
    assert cache.write(frame, source="yahoo", fetched_at=FETCHED_AT) == 7
    return frame


# ------------------------------------------------------------------ location
def test_default_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PORTFOLIO_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "portfolio-ai-infra"

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "portfolio-ai-infra"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "portfolio-ai-infra"

    monkeypatch.setenv("PORTFOLIO_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"


def test_cache_file_lives_in_the_directory(tmp_path):
    cache = PriceCache(str(tmp_path / "c"))
    assert cache.path == tmp_path / "c" / "prices.sqlite"


def test_no_directory_means_the_default_one(isolated_cache_dir):
    assert PriceCache().directory == default_cache_dir() == isolated_cache_dir
    assert PriceCache(None).path == isolated_cache_dir / "prices.sqlite"


# ---------------------------------------------------------------- round trip
def test_missing_file_reads_empty_and_creates_nothing(cache):
    frame = cache.read(["NVDA"])

    assert frame.empty
    assert frame.index.name == "date"
    assert cache.summary().empty
    assert cache.last_dates() == {}
    assert not cache.directory.exists()


def test_round_trip_keeps_values_nan_and_requested_order(cache, stored):
    assert cache.directory.is_dir()
    back = cache.read(["NVDA", "AMD"])

    pd.testing.assert_frame_equal(back, stored, check_freq=False, check_index_type=False)
    assert back.index.name == "date"
    assert isinstance(back.index, pd.DatetimeIndex)
    assert list(cache.read(["AMD", "NVDA"]).columns) == ["AMD", "NVDA"]
    assert list(cache.read().columns) == ["AMD", "NVDA"]  # all, alphabetical


def test_read_filters_dates_inclusively_and_skips_unknown_tickers(cache, stored):
    window = cache.read(["NVDA", "MSFT", "AMD"], start="2024-01-03", end="2024-01-04")

    assert list(window.columns) == ["NVDA", "AMD"]  # MSFT absent, caller decides
    assert list(window.index) == list(pd.to_datetime(["2024-01-03", "2024-01-04"]))
    assert np.isnan(window.loc["2024-01-04", "NVDA"])
    assert window.loc["2024-01-04", "AMD"] == 152.0


def test_write_upserts_overlapping_dates(cache, stored):
    update = prices_frame({"NVDA": [103.5, 104.0]}, start="2024-01-05")
    assert cache.write(update, source="yahoo") == 2

    nvda = cache.read(["NVDA"])["NVDA"]
    assert nvda.loc["2024-01-05"] == 103.5  # replaced
    assert nvda.loc["2024-01-08"] == 104.0  # added
    assert nvda.loc["2024-01-02"] == 100.0  # untouched


def test_write_replace_drops_the_old_history_of_named_tickers(cache, stored):
    fresh = prices_frame({"NVDA": [50.0, 51.0]}, start="2024-01-04")
    cache.write(fresh, source="yahoo", replace=["NVDA"])

    nvda = cache.read(["NVDA"])["NVDA"]
    assert nvda.tolist() == [50.0, 51.0]
    assert cache.read(["AMD"])["AMD"].tolist() == [150.0, 151.0, 152.0, 153.0]


def test_tz_aware_write_is_stored_on_local_dates(cache):
    index = pd.date_range("2024-01-02", periods=2, freq="D", tz="Asia/Tokyo")
    cache.write(pd.DataFrame({"9984.T": [7000.0, 7100.0]}, index=index), source="yahoo")

    assert list(cache.read().index) == list(pd.to_datetime(["2024-01-02", "2024-01-03"]))


def test_summary_and_last_dates(cache, stored):
    later = datetime(2024, 1, 10, 8, 0)  # naive means UTC
    cache.write(prices_frame({"AMD": [154.0]}, start="2024-01-08"), "csv", fetched_at=later)
    summary = cache.summary()

    assert list(summary.index) == ["AMD", "NVDA"]
    assert summary.index.name == "ticker"
    assert list(summary.columns) == ["first_date", "last_date", "rows", "source", "fetched_at"]
    nvda, amd = summary.loc["NVDA"], summary.loc["AMD"]
    assert (nvda["first_date"], nvda["last_date"]) == (
        pd.Timestamp("2024-01-02"),
        pd.Timestamp("2024-01-05"),
    )
    assert nvda["rows"] == 3  # the NaN day is not stored
    assert nvda["source"] == "yahoo"
    assert nvda["fetched_at"] == pd.Timestamp(FETCHED_AT)
    assert amd["rows"] == 5
    assert amd["last_date"] == pd.Timestamp("2024-01-08")
    assert amd["source"] == "csv"
    assert amd["fetched_at"] == pd.Timestamp("2024-01-10 08:00", tz="UTC")
    assert cache.last_dates() == {
        "AMD": pd.Timestamp("2024-01-08"),
        "NVDA": pd.Timestamp("2024-01-05"),
    }


def test_schema_is_as_documented(cache, stored):
    with sqlite3.connect(cache.path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        row = conn.execute(
            "SELECT ticker, date, close FROM prices WHERE ticker='AMD' ORDER BY date"
        ).fetchone()
        fetched = conn.execute("SELECT fetched_at FROM tickers WHERE ticker='AMD'").fetchone()
    conn.close()
    assert tables == {"meta", "prices", "tickers"}
    assert version == (str(SCHEMA_VERSION),)
    assert row == ("AMD", "2024-01-02", 150.0)
    assert fetched == ("2024-01-09T21:30:00+00:00",)


# ---------------------------------------------------------------- atomicity
def test_exception_midway_through_inserts_rolls_everything_back(cache, stored, monkeypatch):
    before = cache.read()
    summary_before = cache.summary()
    yielded = []

    def failing_rows(prices):
        for row in [("NVDA", "2024-01-02", -1.0), ("ZZZ", "2024-01-02", 1.0)]:
            yielded.append(row)
            yield row
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cache_module, "_price_rows", failing_rows)
    with pytest.raises(RuntimeError, match="disk on fire"):
        cache.write(prices_frame({"NVDA": [1.0]}), source="yahoo")

    assert len(yielded) == 2  # the inserts had started
    pd.testing.assert_frame_equal(cache.read(), before)
    pd.testing.assert_frame_equal(cache.summary(), summary_before)


def test_exception_in_metadata_step_rolls_back_the_prices(cache, stored, monkeypatch):
    before = cache.read()

    def failing_tickers(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module, "_ticker_rows", failing_tickers)
    with pytest.raises(KeyboardInterrupt):
        cache.write(prices_frame({"NVDA": [1.0, 2.0], "NEW": [3.0, 4.0]}), source="yahoo")

    pd.testing.assert_frame_equal(cache.read(), before)


def test_write_while_another_process_holds_the_lock_is_a_data_error(tmp_path, stored, cache):
    blocker = sqlite3.connect(cache.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        impatient = PriceCache(cache.directory, timeout=0.05)
        with pytest.raises(DataError, match="locked"):
            impatient.write(prices_frame({"NVDA": [1.0]}), source="yahoo")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    pd.testing.assert_frame_equal(cache.read(), stored, check_freq=False, check_like=True)


# ---------------------------------------------------------- unusable files
def _assert_names_file_and_fix(error: DataError, cache: PriceCache) -> None:
    message = str(error)
    assert str(cache.path) in message
    assert "Move it away or delete it; it will be rebuilt from Yahoo" in message
    assert "--data-source bundled" in message


def test_garbage_file_is_a_data_error_and_left_untouched(cache):
    cache.directory.mkdir()
    garbage = b"this is not sqlite\x00\x01\x02" * 100
    cache.path.write_bytes(garbage)

    for action in (
        cache.read,
        cache.summary,
        cache.last_dates,
        lambda: cache.write(prices_frame({"NVDA": [1.0]}), source="yahoo"),
    ):
        with pytest.raises(DataError) as caught:
            action()
        _assert_names_file_and_fix(caught.value, cache)
        assert "not a valid SQLite database" in str(caught.value)
    assert cache.path.read_bytes() == garbage
    assert sorted(p.name for p in cache.directory.iterdir()) == ["prices.sqlite"]


def test_foreign_sqlite_database_is_refused(cache):
    cache.directory.mkdir()
    with sqlite3.connect(cache.path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    size = cache.path.stat().st_size

    with pytest.raises(DataError, match="not a portfolio price cache") as caught:
        cache.write(prices_frame({"NVDA": [1.0]}), source="yahoo")
    _assert_names_file_and_fix(caught.value, cache)
    assert cache.path.stat().st_size == size


def test_other_schema_version_is_refused(cache, stored):
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()

    with pytest.raises(DataError, match="schema version 99"):
        cache.read()


def test_empty_file_is_a_new_cache(cache):
    cache.directory.mkdir()
    cache.path.touch()

    assert cache.read().empty
    assert cache.write(prices_frame({"NVDA": [1.0]}), source="yahoo") == 1


def test_directory_that_is_a_file_is_a_data_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot use the price cache directory"):
        PriceCache(blocker / "cache").write(prices_frame({"NVDA": [1.0]}), source="yahoo")


def test_non_date_index_is_refused(cache):
    with pytest.raises(DataError, match="date index"):
        cache.write(pd.DataFrame({"NVDA": [1.0]}, index=["not a date"]), source="yahoo")


def traced_statements(monkeypatch) -> list[str]:
    """Record every SQL statement the cache runs (a trace callback on each connection)."""
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    return statements


def test_integrity_is_checked_once_per_file_version(cache, stored, monkeypatch):
    monkeypatch.setattr(cache_module, "_verified", {})  # as in a new process
    statements = traced_statements(monkeypatch)

    def quick_checks() -> int:
        return sum(s == "PRAGMA quick_check" for s in statements)

    cache.read()
    assert quick_checks() == 1
    cache.summary(), cache.last_dates(), cache.read(["NVDA"])
    assert quick_checks() == 1  # the schema is still checked on every open
    assert sum("sqlite_master" in s for s in statements) == 4
    cache.write(prices_frame({"NVDA": [104.0]}, start="2024-01-08"), source="yahoo")
    PriceCache(cache.directory).read()  # our own write keeps the file verified
    assert quick_checks() == 1

    stamp = cache.path.stat().st_mtime_ns + 1_000_000_000  # changed by someone else
    os.utime(cache.path, ns=(stamp, stamp))
    cache.read()
    assert quick_checks() == 2
    cache.read()
    assert quick_checks() == 2


def test_a_file_replaced_after_its_check_is_checked_again(cache, stored):
    pd.testing.assert_frame_equal(cache.read(), stored, check_freq=False, check_like=True)
    garbage = b"this is not sqlite\x00" * 100
    cache.path.write_bytes(garbage)
    with pytest.raises(DataError, match="not a valid SQLite database"):
        cache.read()
    assert cache.path.read_bytes() == garbage


# ------------------------------------------------------------ update_cache
@dataclass
class FakeYahoo:
    """Spy fetch serving ``market`` (dates x tickers) like fetch_yahoo: [start, end)."""

    market: pd.DataFrame
    fail: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[list[str], str, str]] = field(default_factory=list)

    def __call__(self, tickers, start=None, end=None) -> FetchResult:
        self.calls.append((list(tickers), start, end))
        window = self.market.loc[
            (self.market.index >= pd.Timestamp(start)) & (self.market.index < pd.Timestamp(end))
        ]
        prices = window.reindex(columns=[t for t in tickers if t not in self.fail])
        prices = prices.dropna(axis=1, how="all").dropna(axis=0, how="all")
        failed = tuple(t for t in tickers if t not in prices.columns)
        reasons = {t: self.fail.get(t, NO_DATA) for t in failed}
        if not len(prices.columns):
            raise YahooUnavailableError(failed, reasons)
        return FetchResult(prices=prices, failed=failed, reasons=reasons)


def market_frame(days: int = 10) -> pd.DataFrame:
    index = pd.bdate_range("2024-01-02", periods=days, name="date")
    steps = np.arange(days, dtype=float)
    return pd.DataFrame(
        {"NVDA": 100.0 + steps, "AMD": 150.0 + steps, "ORCL": 110.0 + steps}, index=index
    )


def test_first_update_fetches_full_history_before_today(cache):
    market = market_frame()  # 2024-01-02 .. 2024-01-15
    fake = FakeYahoo(market)
    report = update_cache(
        cache, ["NVDA", "AMD"], fetch=fake, start="2024-01-02", today="2024-01-10"
    )

    assert fake.calls == [(["NVDA", "AMD"], "2024-01-02", "2024-01-10")]
    assert isinstance(report, UpdateReport)
    assert report.added == {"NVDA": 6, "AMD": 6}
    assert report.failed == ()
    stored = cache.read(["NVDA", "AMD"])
    expected = market.loc[:"2024-01-09", ["NVDA", "AMD"]]
    pd.testing.assert_frame_equal(stored, expected, check_freq=False)


def test_incremental_update_asks_only_from_the_last_cached_date(cache):
    market = market_frame()
    update_cache(
        cache, ["NVDA", "AMD"], fetch=FakeYahoo(market), start="2024-01-02", today="2024-01-05"
    )
    assert cache.last_dates() == {
        "NVDA": pd.Timestamp("2024-01-04"),
        "AMD": pd.Timestamp("2024-01-04"),
    }

    fake = FakeYahoo(market)
    progress = []
    report = update_cache(
        cache,
        ["NVDA", "AMD", "ORCL"],
        fetch=fake,
        start="2024-01-02",
        today="2024-01-12",
        on_progress=lambda d, t: progress.append((d, t)),
    )

    # cached tickers share one call starting at their last date (one day of overlap
    # to detect re-adjusted histories); the new ticker starts at `start`
    assert fake.calls == [
        (["NVDA", "AMD"], "2024-01-04", "2024-01-12"),
        (["ORCL"], "2024-01-02", "2024-01-12"),
    ]
    assert report.added == {"NVDA": 5, "AMD": 5, "ORCL": 8}  # 01-05 .. 01-11
    assert report.refetched == ()
    assert progress == [(0, 3), (2, 3), (3, 3)]  # announced before the first fetch
    pd.testing.assert_frame_equal(
        cache.read(["NVDA", "AMD", "ORCL"]), market.loc[:"2024-01-11"], check_freq=False
    )


def test_up_to_date_tickers_are_not_fetched(cache):
    market = market_frame()
    update_cache(
        cache, ["NVDA"], fetch=FakeYahoo(market), start="2024-01-02", today="2024-01-13"
    )  # Saturday: last complete weekday is Friday 01-12
    fake = FakeYahoo(market)
    report = update_cache(cache, ["NVDA"], fetch=fake, start="2024-01-02", today="2024-01-15")

    assert fake.calls == []
    assert report.added == {"NVDA": 0}


def test_no_newer_prices_after_a_holiday_is_not_a_failure(cache):
    market = market_frame()
    update_cache(
        cache, ["NVDA", "AMD"], fetch=FakeYahoo(market), start="2024-01-02", today="2024-01-09"
    )
    holiday_market = market.loc[:"2024-01-05"]  # Yahoo has nothing for 01-08 yet
    fake = FakeYahoo(holiday_market)
    before = cache.read()
    report = update_cache(
        cache, ["NVDA", "AMD"], fetch=fake, start="2024-01-02", today="2024-01-10"
    )

    assert len(fake.calls) == 1
    assert report.failed == ()
    assert report.added == {"NVDA": 0, "AMD": 0}
    pd.testing.assert_frame_equal(cache.read(), before)


def test_split_since_last_update_replaces_the_whole_history(cache):
    market = market_frame()
    update_cache(
        cache, ["NVDA", "AMD"], fetch=FakeYahoo(market), start="2024-01-02", today="2024-01-08"
    )
    split = market.copy()
    split["NVDA"] = split["NVDA"] / 10.0  # a 10:1 split re-adjusts every past close
    fake = FakeYahoo(split)
    report = update_cache(
        cache, ["NVDA", "AMD"], fetch=fake, start="2024-01-02", today="2024-01-12"
    )

    assert fake.calls == [
        (["NVDA", "AMD"], "2024-01-05", "2024-01-12"),
        (["NVDA"], "2024-01-02", "2024-01-12"),
    ]
    assert report.refetched == ("NVDA",)
    assert report.added == {"NVDA": 4, "AMD": 4}
    pd.testing.assert_frame_equal(
        cache.read(["NVDA", "AMD"]), split.loc[:"2024-01-11", ["NVDA", "AMD"]], check_freq=False
    )


def test_partial_failure_is_reported_and_the_rest_written(cache):
    fake = FakeYahoo(market_frame(), fail={"AMD": RATE_LIMITED})
    report = update_cache(
        cache, ["NVDA", "AMD"], fetch=fake, start="2024-01-02", today="2024-01-10"
    )

    assert report.failed == ("AMD",)
    assert report.reasons == {"AMD": RATE_LIMITED}
    assert report.added == {"NVDA": 6}
    assert list(cache.read().columns) == ["NVDA"]


def test_unavailable_yahoo_mid_update_writes_nothing(cache):
    market = market_frame()
    update_cache(cache, ["NVDA"], fetch=FakeYahoo(market), start="2024-01-02", today="2024-01-05")
    before = cache.read()
    summary_before = cache.summary()
    # NVDA (incremental) succeeds, then the call for new tickers finds Yahoo unreachable
    fake = FakeYahoo(market, fail={"AMD": "network unreachable", "ORCL": "network unreachable"})

    with pytest.raises(YahooUnavailableError):
        update_cache(
            cache, ["NVDA", "AMD", "ORCL"], fetch=fake, start="2024-01-02", today="2024-01-12"
        )

    assert len(fake.calls) == 2
    pd.testing.assert_frame_equal(cache.read(), before)
    pd.testing.assert_frame_equal(cache.summary(), summary_before)


def test_corrupt_cache_stops_the_update_before_any_fetch(cache):
    cache.directory.mkdir()
    cache.path.write_bytes(b"garbage" * 50)
    fake = FakeYahoo(market_frame())

    with pytest.raises(DataError):
        update_cache(cache, ["NVDA"], fetch=fake, start="2024-01-02", today="2024-01-10")
    assert fake.calls == []
    assert cache.path.read_bytes() == b"garbage" * 50
