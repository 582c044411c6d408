"""Prices from a file (``portfolio data import``) and another universe for one run (--tickers).

Issue 16: adding TSLA offline said "no bundled prices for TSLA ... use --data-source yahoo";
now its closes come from a CSV file into the cache, and ``--tickers`` picks the universe.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run

import portfolio as pf
import portfolio.data.cache as cache_module
from portfolio.config import parse_tickers, with_universe
from portfolio.data.cache import PriceCache
from portfolio.data.price_import import GAP_DAYS, parse_price_file
from portfolio.data.prices import load_prices
from portfolio.errors import DataError, InputError

TODAY = dt.date(2026, 8, 3)
UNIVERSE = "NVDA,AMD,AVGO,MSFT,GOOGL,TSLA"


def tsla(days: int = 800) -> pd.Series:
    """A deterministic price path on the last ``days`` bundled NYSE dates."""
    dates = pf.load_prices(["SPY"], source="bundled").prices.index[-days:]
    steps = np.random.default_rng(16).normal(0.0005, 0.03, len(dates))
    return pd.Series(np.round(200 * np.exp(np.cumsum(steps)), 4), index=dates, name="TSLA")


def wide_file(path, series: pd.Series) -> None:
    lines = ["date,TSLA", *(f"{d.date()},{v}" for d, v in series.items())]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def price_file(tmp_path):
    path = tmp_path / "tsla.csv"
    wide_file(path, tsla())
    return path


# ------------------------------------------------------------------------------- import
def test_a_wide_file_lands_in_the_cache_with_its_source(tmp_path, price_file, capsys):
    report = pf.import_prices(price_file, tmp_path / "cache")
    assert report.tickers == ("TSLA",) and report.rows == {"TSLA": 800}
    assert report.source == "import tsla.csv" and report.gaps == ()
    expected = pd.read_csv(price_file, index_col="date", parse_dates=["date"])["TSLA"]
    stored = PriceCache(tmp_path / "cache").read(["TSLA"])["TSLA"]
    assert np.array_equal(stored.to_numpy(), expected.to_numpy())  # exact, value by value
    assert (stored.index == expected.index).all()
    code, out, _ = run(capsys, "data", "show", "--cache-dir", str(tmp_path / "cache"),
                       "--format", "csv")
    assert code == 0 and "TSLA," in out and ",800,import tsla.csv," in out


def test_long_and_wide_layouts_store_the_same_prices(tmp_path):
    wide = "date,NVDA,9984.T\n2024-01-02,48.1,5000\n2024-01-03,47.5,\n2024-01-04,48,5100\n"
    long = ("Date,Ticker,Close,Currency\n2024-01-04,nvda,48,USD\n2024-01-02,NVDA,48.1,\n"
            "2024-01-03,NVDA,47.5,usd\n2024-01-02,9984.T,5000,JPY\n2024-01-04,9984.t,5100,JPY\n")
    first = parse_price_file(wide, "w.csv", today=TODAY)
    second = parse_price_file(long, "l.csv", today=TODAY)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == ["NVDA", "9984.T"] and np.isnan(first.at["2024-01-03", "9984.T"])


@pytest.mark.parametrize(("text", "words"), [
    ("date,TSLA\n2024-01-02,1\n2024-02-30,2\n", ["invalid date '2024-02-30'", "line 3"]),
    ("date,TSLA\n02/01/2024,1\n", ["invalid date '02/01/2024'", "YYYY-MM-DD"]),
    ("date,TSLA\n2024-01-02,1\n2026-09-01,2\n", ["2026-09-01 is in the future", "line 3"]),
    ("date,TSLA\n2024-01-02,1\n2024-01-02,2\n", ["2024-01-02 is given twice", "line 2"]),
    ("date,ticker,close\n2024-01-02,TSLA,1\n2024-01-02,tsla,2\n",
     ["TSLA on 2024-01-02 is given twice", "line 3"]),
    ("date,TSLA\n2024-01-02,abc\n", ["price 'abc' for TSLA is not a number", "line 2"]),
    ("date,TSLA\n2024-01-02,\"1,234.5\"\n", ["without thousands separators"]),
    ("date,TSLA\n2024-01-02,0\n", ["invalid price 0 for TSLA", "above 0"]),
    ("date,TSLA\n2024-01-02,-5\n", ["invalid price -5 for TSLA"]),
    ("date,TSLA\n2024-01-02,nan\n", ["not a finite number"]),
    ("date,TSLA\n2024-01-02,1e12\n", ["invalid price 1e12", "at most 1e+09"]),
    ("date,ticker,close,currency\n2024-01-02,TSLA,1,EUR\n", ["currency EUR for TSLA", "USD"]),
    ("date,ticker,close,currency\n2024-01-02,9984.T,1,USD\n", ["currency USD for 9984.T"]),
    ("Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,1,1,1,1,1\n",
     ["a price column without a ticker", "OHLC"]),
    ("ticker,date,price\nTSLA,2024-01-02,1\n", ["unexpected columns", "date,ticker,close"]),
    ("TSLA,date\n1,2024-01-02\n", ["the first column must be the date"]),
    ("date,TSLA,tsla\n2024-01-02,1,2\n", ["ticker TSLA has two columns"]),
    ("date,CASH\n2024-01-02,1\n", ["invalid ticker 'CASH'"]),
    ("date,TSLA\n2024-01-02,1,2\n", ["wrong number of fields", "line 2"]),
    ("# nothing\n", ["empty price file"]),
    ("date,TSLA\n2024-01-02,\n", ["no prices", "header but no prices"]),
])
def test_every_bad_file_is_one_input_error_and_nothing_is_written(tmp_path, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        pf.import_prices(path, tmp_path / "cache", today=TODAY)
    message = caught.value.message
    assert "bad.csv" in message and "\n" not in message
    for word in words:
        assert word in message, message
    assert not (tmp_path / "cache").exists()


def test_a_missing_file_says_what_the_format_is(tmp_path, capsys):
    code, out, err = run(capsys, "data", "import", str(tmp_path / "nope.csv"))
    assert_one_line_error(code, out, err, "price file not found", "date,ticker,close")


def test_gaps_are_reported_not_refused(tmp_path):
    series = tsla(300)
    cut = series.drop(series.index[100:120])  # about four weeks without a price
    wide_file(tmp_path / "gappy.csv", cut)
    report = pf.import_prices(tmp_path / "gappy.csv", tmp_path / "cache")
    (note,) = report.gaps
    start, end = series.index[99].date(), series.index[120].date()
    assert note.startswith(f"TSLA: 1 gap over {GAP_DAYS} days")
    assert f"{start} .. {end} ({(end - start).days} days)" in note


def test_an_import_replaces_the_ticker_in_one_transaction(tmp_path, price_file, monkeypatch):
    cache = PriceCache(tmp_path / "cache")
    old = pd.DataFrame({"TSLA": [1.0, 2.0], "AMD": [3.0, 4.0]},
                       index=pd.to_datetime(["2010-01-04", "2010-01-05"]))
    cache.write(old, source="yahoo")
    rows = cache_module._price_rows

    def failing(prices):
        for count, row in enumerate(rows(prices)):
            if count == 500:
                raise OSError("disk full")
            yield row

    monkeypatch.setattr(cache_module, "_price_rows", failing)
    with pytest.raises(OSError, match="disk full"):
        pf.import_prices(price_file, tmp_path / "cache")
    pd.testing.assert_frame_equal(cache.read(), old[["AMD", "TSLA"]].rename_axis("date"),
                                  check_freq=False)
    monkeypatch.setattr(cache_module, "_price_rows", rows)
    pf.import_prices(price_file, tmp_path / "cache")
    summary = cache.summary()
    assert summary.at["TSLA", "first_date"] == tsla().index[0]  # 2010 rows replaced
    assert summary.at["TSLA", "source"] == "import tsla.csv"
    assert summary.at["AMD", "rows"] == 2 and summary.at["AMD", "source"] == "yahoo"


def test_importing_fixes_a_bad_cached_row(tmp_path, price_file):
    cache = PriceCache(tmp_path / "cache")
    pf.import_prices(price_file, tmp_path / "cache")
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE prices SET close = 'abc' WHERE date = (SELECT MIN(date) FROM prices)")
    with pytest.raises(DataError, match="data import"):
        cache.read()
    pf.import_prices(price_file, tmp_path / "cache")
    assert cache.read()["TSLA"].notna().all()


# ------------------------------------------------------------------- using the imports
def test_auto_offline_takes_imported_tickers_from_the_cache(tmp_path, price_file):
    pf.import_prices(price_file, tmp_path / "cache")
    frame = load_prices(["NVDA", "TSLA", "SPY"], source="auto", offline=True,
                        cache_dir=tmp_path / "cache")
    bundled = load_prices(["NVDA", "SPY"], source="bundled")
    assert frame.source == "bundled" and "TSLA from the cache" in frame.notice
    pd.testing.assert_frame_equal(frame.prices[["NVDA", "SPY"]], bundled.prices)
    series = tsla()
    assert np.array_equal(frame.prices["TSLA"].dropna().to_numpy(), series.to_numpy())
    assert frame.prices["TSLA"].first_valid_index() == series.index[0]


def test_optimize_with_an_imported_ticker_offline(tmp_path, price_file, capsys):
    code, out, err = run(capsys, "data", "import", str(price_file), "--cache-dir",
                         str(tmp_path / "cache"))
    assert code == 0 and out.startswith("Imported 800 prices for 1 tickers")
    code, out, err = run(capsys, "optimize", "--tickers", UNIVERSE.lower(), "--offline",
                         "--cache-dir", str(tmp_path / "cache"), "--format", "json")
    assert code == 0, err
    weights = json.loads(out)["weights"]
    assert set(weights) == {*UNIVERSE.split(","), "CASH"}
    assert abs(sum(weights.values()) - 1) < 1e-9
    assert "Note: limits.group_floors for hyperscalers" not in err  # MSFT, GOOGL are in it
    assert "Note: the optimizer view on AMD versus INTC left out" in err


@pytest.mark.parametrize("command", [["optimize"], ["frontier", "--points", "3"]])
def test_a_ticker_without_prices_names_where_to_get_them(capsys, command):
    code, out, err = run(capsys, *command, "--tickers", "NVDA,AMD,MSFT,GOOGL,META,TSLA",
                         "--offline")
    assert_one_line_error(code, out, err, "no prices for TSLA",
                          "portfolio data import FILE.csv", "portfolio data update TSLA")


def test_the_cache_source_is_strict(tmp_path, price_file, capsys):
    pf.import_prices(price_file, tmp_path / "cache")
    code, out, err = run(capsys, "optimize", "--tickers", UNIVERSE, "--data-source", "cache",
                         "--cache-dir", str(tmp_path / "cache"))
    assert_one_line_error(code, out, err, "no cached prices for NVDA, AMD", "data import",
                          "--data-source bundled")


def test_backtest_on_another_universe(tmp_path, price_file, capsys):
    pf.import_prices(price_file, tmp_path / "cache")
    spec = tmp_path / "bt.toml"
    spec.write_text('start = "2026-02-02"\nlookback_days = 252\nmin_history_days = 60\n'
                    'rebalance = "quarterly"\n[[strategies]]\nname = "EW"\n'
                    'kind = "equal_weight"\n')
    code, _, err = run(capsys, "backtest", str(spec), "--tickers", "NVDA,TSLA", "--offline",
                         "--cache-dir", str(tmp_path / "cache"), "--output-dir",
                         str(tmp_path / "out"), "--format", "json")
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["data"]["tickers"][:2] == ["NVDA", "TSLA"]
    weights = pd.read_csv(tmp_path / "out" / "weights.csv")
    assert {"NVDA", "TSLA", "CASH"} <= set(weights.columns) and "AMD" not in weights.columns


# ----------------------------------------------------------------------- with_universe
def test_with_universe_keeps_what_still_applies(config):
    restricted, notes = with_universe(config, [" nvda", "AMD", "TSLA"])
    assert restricted.tickers == ("NVDA", "AMD", "TSLA")
    assert dict(restricted.groups) == {"semiconductors": ("NVDA", "AMD")}
    assert dict(restricted.limits.group_floors) == {"semiconductors": 0.10}
    assert dict(restricted.limits.group_caps) == {"semiconductors": 0.40}
    assert dict(restricted.limits.max_weight_overrides) == {}
    assert [v.asset for v in restricted.optimizer.views] == ["NVDA"]
    assert restricted.limits.cash_floor == config.limits.cash_floor
    assert notes == (
        "limits.group_floors for hyperscalers left out: no name of the group is in --tickers",
        "the optimizer view on AMD versus INTC left out: not in --tickers",
    )
    same, none = with_universe(config, config.tickers)
    assert same == config and none == ()


@pytest.mark.parametrize(("text", "word"), [("NVDA,,AMD", "invalid ticker ''"),
                                            ("NVDA,nvda", "duplicate ticker NVDA"),
                                            ("NVDA,CASH", "CASH is not a ticker")])
def test_bad_tickers_lists_are_input_errors(text, word):
    with pytest.raises(InputError, match=word):
        parse_tickers(text)


def test_an_imported_gap_is_filled_once_on_the_bundled_calendar(tmp_path):
    """A price is carried over at most max_fill_days NYSE dates, then the gap stays NaN."""
    series = tsla(300)
    holes = series.drop(series.index[100:120])  # 20 NYSE dates without a price
    wide_file(tmp_path / "holes.csv", holes)
    pf.import_prices(tmp_path / "holes.csv", tmp_path / "cache")
    for fill in (0, 5):
        frame = load_prices(["SPY", "TSLA"], source="auto", offline=True, max_fill_days=fill,
                            cache_dir=tmp_path / "cache").prices["TSLA"]
        gap = frame.loc[series.index[100]:series.index[119]]
        assert gap.notna().sum() == fill
        assert (gap.iloc[:fill] == series.iloc[99]).all()  # the last price, carried
    cached = load_prices(["TSLA"], source="cache", max_fill_days=0,
                         cache_dir=tmp_path / "cache").prices["TSLA"]
    assert cached.notna().sum() == 280  # no fill at all, and no error for max_fill_days = 0
