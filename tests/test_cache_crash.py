"""Crash-safe cache: a writer killed mid-transaction, and values that are not prices.

The SIGKILL test kills a real writer process (``tests/cache_writer.py``) inside its update
transaction, after SQLite has already written changed pages into the database file, then
reads: the cache must hold exactly its last committed state. Before issue 16 every read
failed with "attempt to write a readonly database" because a read-only open cannot roll
back the journal.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run

from portfolio.data.cache import MAX_PRICE, PriceCache
from portfolio.data.prices import load_prices
from portfolio.errors import DataError

WRITER = Path(__file__).with_name("cache_writer.py")
ROOT = Path(__file__).resolve().parents[1]


def _committed(cache: PriceCache) -> pd.DataFrame:
    frame = pd.DataFrame({"NVDA": np.linspace(100.0, 130.0, 300),
                          "AMD": np.linspace(50.0, 80.0, 300)},
                         index=pd.bdate_range("2023-01-02", periods=300, name="date"))
    cache.write(frame, source="yahoo")
    return frame


def _kill_writer_inside_its_transaction(directory: Path, tmp_path: Path) -> None:
    """Start the writer, wait (bounded) until it is inside the transaction, SIGKILL it."""
    ready = tmp_path / "ready"
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    writer = subprocess.Popen([sys.executable, str(WRITER), str(directory), str(ready), "150000"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert writer.poll() is None, writer.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer never reached its transaction"
            time.sleep(0.02)
        assert (directory / "prices.sqlite-journal").stat().st_size > 0  # under way
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL
    # The killed writer left a hot journal: a plain read-only open cannot roll it back.
    uri = (directory / "prices.sqlite").resolve().as_uri() + "?mode=ro"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        sqlite3.connect(uri, uri=True).execute("SELECT count(*) FROM prices").fetchone()


def test_a_writer_killed_mid_transaction_leaves_the_last_committed_state(tmp_path):
    directory = tmp_path / "cache"
    cache = PriceCache(directory)
    frame = _committed(cache)
    summary = cache.summary()
    _kill_writer_inside_its_transaction(directory, tmp_path)

    pd.testing.assert_frame_equal(PriceCache(directory).read(["NVDA", "AMD"]), frame,
                                  check_freq=False)
    assert list(cache.summary().index) == ["AMD", "NVDA"]
    pd.testing.assert_frame_equal(cache.summary(), summary)
    assert not (directory / "prices.sqlite-journal").exists()  # rolled back, not deleted
    with sqlite3.connect(directory / "prices.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    cache.write(frame.iloc[:5] * 2, source="yahoo")  # and it takes writes again
    assert cache.read(["NVDA"]).iloc[0, 0] == 200.0


def test_a_killed_writer_does_not_stop_a_command(tmp_path, capsys):
    directory = tmp_path / "cache"
    _committed(PriceCache(directory))
    _kill_writer_inside_its_transaction(directory, tmp_path)
    code, out, err = run(capsys, "data", "show", "--cache-dir", str(directory),
                         "--data-source", "cache", "--format", "csv")
    assert code == 0, err
    assert "AMD,2023-01-02,2024-02-23,300,yahoo" in out
    assert "NVDA,2023-01-02,2024-02-23,300,yahoo" in out
    assert "T00" not in out and "killed" not in out


def test_a_journal_without_write_access_is_explained(tmp_path, monkeypatch):
    """Rolling back needs write access; the message says so and not to delete the journal."""
    directory = tmp_path / "cache"
    cache = PriceCache(directory)
    _committed(cache)
    (directory / "prices.sqlite-journal").write_bytes(b"\0" * 512)
    connect = sqlite3.connect

    def read_only(database, *args, **kwargs):
        if "mode=rw" in str(database):
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    with pytest.raises(DataError) as caught:
        cache.read()
    message = caught.value.message
    assert "interrupted" in message and "write access" in message
    assert "do not delete prices.sqlite-journal" in message


@pytest.mark.parametrize(("column", "value", "words"), [
    ("close", "'abc'", ["invalid cached price 'abc' for NVDA on 2023-01-03", "found text"]),
    ("close", "0", ["invalid cached price 0.0 for NVDA on 2023-01-03"]),
    ("close", "-3.5", ["invalid cached price -3.5"]),
    ("close", "1e999", ["invalid cached price inf"]),
    ("close", f"{2 * MAX_PRICE}", ["invalid cached price 2000000000.0"]),
    ("close", "x'00ff'", ["found blob"]),
    ("date", "'2023-02-30'", ["invalid cached date '2023-02-30' for NVDA"]),
    ("date", "'3 Jan 2023'", ["invalid cached date '3 Jan 2023' for NVDA"]),
])
def test_a_stored_value_that_is_not_a_price_names_ticker_and_date(tmp_path, column, value,
                                                                  words):
    cache = PriceCache(tmp_path / "cache")
    _committed(cache)
    with sqlite3.connect(cache.path) as conn:
        conn.execute(f"UPDATE prices SET {column} = {value} "
                     "WHERE ticker = 'NVDA' AND date = '2023-01-03'")
    for read in (cache.read, cache.summary, cache.last_dates, lambda: cache.read(["NVDA"])):
        with pytest.raises(DataError) as caught:
            read()
        for word in words:
            assert word in caught.value.message
    assert cache.read(["AMD"]).shape == (300, 1)  # rows not asked for are not checked


def test_a_text_price_is_a_data_error_on_the_command_line(tmp_path, capsys):
    cache = PriceCache(tmp_path / "cache")
    _committed(cache)
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE prices SET close = 'abc' WHERE date = '2023-01-03'")
    code, out, err = run(capsys, "optimize", "--data-source", "cache", "--cache-dir",
                         str(tmp_path / "cache"))
    assert_one_line_error(code, out, err, "invalid cached price 'abc'", "2023-01-03")
    # auto falls back to the bundled data and says why
    frame = load_prices(["NVDA"], source="auto", offline=True, cache_dir=tmp_path / "cache")
    assert frame.source == "bundled"


def test_writes_refuse_values_that_are_not_prices(tmp_path):
    cache = PriceCache(tmp_path / "cache")
    for bad in (0.0, -1.0, np.inf, 2 * MAX_PRICE):
        frame = pd.DataFrame({"NVDA": [1.0, bad]},
                             index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
        with pytest.raises(DataError, match="for NVDA on 2024-01-03"):
            cache.write(frame, source="yahoo")
    assert not cache.path.exists()
