"""Prices as a frame: bundled data, USD conversion, gap policy, source selection, coverage.

No network: Yahoo is replaced by injected ``fetch`` functions (the seam of ``load_prices``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.data.bundled import (
    BUNDLED_TICKERS,
    bundled_aux,
    bundled_prices,
    bundled_tokyo_prices,
)
from portfolio.data.cache import PriceCache
from portfolio.data.fx import align_to_calendar, currency_of, fx_tickers, usd_per_jpy_from_fxy
from portfolio.data.prices import PriceFrame, _fill_gaps, coverage, load_prices
from portfolio.data.yahoo import FetchResult, YahooUnavailableError
from portfolio.errors import DataError

LAST_BUNDLED = pd.Timestamp("2026-07-31")
CRWV_LISTING = pd.Timestamp("2025-03-28")


@pytest.fixture(scope="module")
def bundled() -> PriceFrame:
    return load_prices(list(BUNDLED_TICKERS), source="bundled")


class FakeFetch:
    """Stand-in for ``fetch_yahoo``: records calls; raises or serves fixed prices."""

    def __init__(self, prices: pd.DataFrame | None = None) -> None:
        self.prices = prices
        self.calls: list[list[str]] = []

    def __call__(self, tickers, start=None, end=None, **kwargs) -> FetchResult:
        self.calls.append(list(tickers))
        if self.prices is None:
            reasons = dict.fromkeys(tickers, "network unreachable")
            raise YahooUnavailableError(list(tickers), reasons)
        served = [t for t in tickers if t in self.prices.columns]
        failed = tuple(t for t in tickers if t not in self.prices.columns)
        window = self.prices.loc[pd.Timestamp(start) : pd.Timestamp(end) - pd.Timedelta(days=1)]
        return FetchResult(window[served], failed, dict.fromkeys(failed, "no data returned"))


def us_frame(data: dict[str, list[float]], start: str = "2024-01-02") -> pd.DataFrame:
    index = pd.bdate_range(start, periods=len(next(iter(data.values()))), name="date")
    return pd.DataFrame(data, index=index, dtype=float)


def fill_cache(directory, frame: pd.DataFrame) -> PriceCache:
    cache = PriceCache(directory)
    cache.write(frame, source="yahoo")
    return cache


# --------------------------------------------------------------------------- bundled frame


def test_bundled_frame_is_nyse_dates_by_tickers(bundled):
    prices = bundled.prices
    assert list(prices.columns) == list(BUNDLED_TICKERS)
    assert len(prices.columns) == 18
    assert prices.index.equals(bundled_prices().index)  # the NYSE sessions of the data
    assert prices.index.is_monotonic_increasing and prices.index.is_unique
    assert prices.index[0] == pd.Timestamp("1999-01-04")
    assert prices.index[-1] == LAST_BUNDLED == bundled.last_date
    assert prices.index.day_of_week.max() <= 4  # no weekend
    assert pd.Timestamp("2024-07-04") not in prices.index  # NYSE holiday
    assert bundled.source == "bundled"
    assert bundled.converted == ("9984.T",)
    assert bundled.notice.startswith("Data: bundled prices up to 2026-07-31")


def test_usd_listings_are_the_bundled_closes_unchanged(bundled):
    raw = bundled_prices()
    for ticker in ("NVDA", "SPY", "CRWV"):
        pd.testing.assert_series_equal(bundled.prices[ticker], raw[ticker], check_names=False)


def test_crwv_is_nan_before_listing_and_never_back_filled(bundled):
    crwv = bundled.prices["CRWV"]
    assert crwv.first_valid_index() == CRWV_LISTING
    assert crwv.loc[: CRWV_LISTING - pd.Timedelta(days=1)].isna().all()
    assert crwv.loc[CRWV_LISTING:].notna().all()


def test_softbank_is_converted_to_usd_with_the_fxy_rate(bundled):
    tokyo = bundled_tokyo_prices()
    usd_per_jpy = usd_per_jpy_from_fxy(bundled_aux()["FXY"])
    assert tokyo.loc[LAST_BUNDLED] == 5260.0
    usd = bundled.prices.loc[LAST_BUNDLED, "9984.T"]
    assert 25.0 < usd < 45.0
    assert usd == pytest.approx(5260.0 * usd_per_jpy.loc[LAST_BUNDLED], rel=1e-12)


def test_softbank_usd_returns_are_jpy_returns_times_fx_returns(bundled):
    index = bundled.prices.index
    jpy = align_to_calendar(bundled_tokyo_prices(), index, 5)
    fx = usd_per_jpy_from_fxy(bundled_aux()["FXY"]).reindex(index)
    usd_returns = bundled.prices["9984.T"].pct_change(fill_method=None)
    product = (1 + jpy.pct_change(fill_method=None)) * (1 + fx.pct_change(fill_method=None)) - 1

    assert usd_returns.isna().equals(product.isna())
    assert usd_returns.notna().sum() > 2800
    np.testing.assert_allclose(usd_returns.dropna(), product.dropna(), rtol=1e-10, atol=1e-13)


def test_softbank_takes_the_last_tokyo_close_on_a_tokyo_holiday(bundled):
    tokyo = bundled_tokyo_prices()
    usd_per_jpy = usd_per_jpy_from_fxy(bundled_aux()["FXY"])
    holidays = bundled.prices.index.difference(tokyo.index)
    holidays = holidays[holidays > tokyo.index[0]]
    assert len(holidays) > 100  # Golden Week, Obon, New Year ...
    for day in holidays[:20]:
        last_tokyo = tokyo.loc[:day].iloc[-1]
        expected = last_tokyo * usd_per_jpy.loc[day]
        assert bundled.prices.loc[day, "9984.T"] == pytest.approx(expected, rel=1e-12)


def test_softbank_gap_longer_than_max_fill_days_stays_nan():
    # Golden Week 2019: Tokyo closed from Apr 27 to May 6, six NYSE sessions (Apr 29 .. May 6)
    last_close = bundled_tokyo_prices().loc[:"2019-04-28"].index[-1]
    assert last_close == pd.Timestamp("2019-04-26")
    week = load_prices(["NVDA", "9984.T"], start="2019-04-26", end="2019-05-07",
                       source="bundled").prices
    carried = week.loc["2019-04-29":"2019-05-03", "9984.T"]
    assert len(carried) == 5 and carried.notna().all()
    assert np.isnan(week.loc["2019-05-06", "9984.T"])  # the 6th session: not carried
    assert week.loc["2019-05-07", "9984.T"] > 0
    longer = load_prices(["NVDA", "9984.T"], start="2019-04-26", end="2019-05-07", source="bundled",
                         max_fill_days=6).prices
    assert longer["9984.T"].notna().all()


def test_start_and_end_are_inclusive(bundled):
    frame = load_prices(["NVDA", "9984.T"], start="2024-07-01", end="2024-07-10",
                        source="bundled")
    assert frame.prices.index[0] == pd.Timestamp("2024-07-01")
    assert frame.prices.index[-1] == pd.Timestamp("2024-07-10")
    expected = bundled.prices.loc["2024-07-01":"2024-07-10", ["NVDA", "9984.T"]]
    pd.testing.assert_frame_equal(frame.prices, expected)
    assert "up to 2024-07-10" in frame.notice


def test_unknown_bundled_ticker_is_named():
    with pytest.raises(DataError, match="NVDAA") as caught:
        load_prices(["NVDA", "NVDAA"], source="bundled")
    assert "bundled" in caught.value.message


def test_as_of_before_the_data_is_an_error():
    with pytest.raises(DataError, match="no prices in the requested date range"):
        load_prices(["NVDA"], end="1998-12-31", source="bundled")


def test_bad_arguments_are_data_errors():
    with pytest.raises(DataError, match="unknown data source 'web'"):
        load_prices(["NVDA"], source="web")
    with pytest.raises(DataError, match="no tickers"):
        load_prices([], source="bundled")
    with pytest.raises(DataError, match="--offline conflicts with --data-source yahoo"):
        load_prices(["NVDA"], source="yahoo", offline=True, fetch=FakeFetch())


# --------------------------------------------------------------------------- gap policy


def test_fill_gaps_carries_at_most_max_fill_days_and_never_before_listing():
    nan = np.nan
    frame = pd.DataFrame(
        {
            #       listing   2-gap        7-gap                          trailing 1-gap
            "A": [nan, nan, 1.0, nan, nan, 2.0, nan, nan, nan, nan, nan, nan, nan, 3.0, nan],
            "B": [5.0] * 15,
        },
        index=pd.bdate_range("2024-01-01", periods=15),
    )
    filled = _fill_gaps(frame, 3)
    expected_a = [nan, nan, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, nan, nan, nan, nan, 3.0, 3.0]
    np.testing.assert_array_equal(filled["A"].to_numpy(), expected_a)
    pd.testing.assert_series_equal(filled["B"], frame["B"])
    pd.testing.assert_frame_equal(_fill_gaps(frame, 0), frame)


@settings(max_examples=25, deadline=None)
@given(
    mask=st.lists(st.booleans(), min_size=2, max_size=40),
    max_fill_days=st.integers(min_value=0, max_value=6),
    cut=st.integers(min_value=1, max_value=40),
)
def test_fill_gaps_is_causal_and_bounded(mask, max_fill_days, cut):
    values = np.where(mask, np.arange(1.0, len(mask) + 1), np.nan)
    frame = pd.DataFrame({"X": values}, index=pd.bdate_range("2024-01-01", periods=len(mask)))
    filled = _fill_gaps(frame, max_fill_days)
    # no look-ahead: filling the past alone gives the same rows
    cut = min(cut, len(mask))
    pd.testing.assert_frame_equal(_fill_gaps(frame.iloc[:cut], max_fill_days), filled.iloc[:cut])
    # observed prices are untouched; a filled value is the last observed one, at most
    # max_fill_days rows back; nothing before the first observation
    observed = frame["X"].notna()
    assert (filled["X"][observed] == frame["X"][observed]).all()
    last_seen = frame["X"].ffill()
    rows_since = observed.astype(int).groupby(observed.cumsum()).cumcount()
    for i in np.flatnonzero(~observed.to_numpy()):
        if np.isnan(filled["X"].iloc[i]):
            assert np.isnan(last_seen.iloc[i]) or rows_since.iloc[i] > max_fill_days
        else:
            assert filled["X"].iloc[i] == last_seen.iloc[i]
            assert rows_since.iloc[i] <= max_fill_days


def test_cache_source_applies_the_gap_policy(isolated_cache_dir):
    nan = np.nan
    amd = [float(v) for v in range(10, 22)]
    nvda = [1.0, nan, 3.0, nan, nan, nan, nan, 8.0, 9.0, 10.0, 11.0, 12.0]
    fill_cache(isolated_cache_dir, us_frame({"NVDA": nvda, "AMD": amd}).dropna(how="all"))

    frame = load_prices(["NVDA", "AMD"], source="cache", max_fill_days=2).prices
    expected = [1.0, 1.0, 3.0, 3.0, 3.0, nan, nan, 8.0, 9.0, 10.0, 11.0, 12.0]
    np.testing.assert_array_equal(frame["NVDA"].to_numpy(), expected)
    np.testing.assert_array_equal(frame["AMD"].to_numpy(), amd)


# --------------------------------------------------------------------------- source selection


def test_auto_offline_uses_bundled_without_calling_yahoo():
    fetch = FakeFetch(us_frame({"NVDA": [1.0, 2.0]}))
    frame = load_prices(["NVDA", "CRWV"], source="auto", offline=True, fetch=fetch)
    assert fetch.calls == []
    assert frame.source == "bundled"
    assert frame.notice.startswith("Data: bundled prices up to 2026-07-31")
    assert "offline" in frame.notice


def test_auto_unreachable_with_empty_cache_falls_back_to_bundled():
    fetch = FakeFetch()  # unreachable
    frame = load_prices(["NVDA", "9984.T"], source="auto", fetch=fetch)
    assert fetch.calls, "auto must try Yahoo when not offline"
    assert frame.source == "bundled"
    assert frame.last_date == LAST_BUNDLED
    assert "bundled prices up to 2026-07-31" in frame.notice
    assert "Yahoo unreachable" in frame.notice


def test_auto_unreachable_with_cached_data_uses_the_cache(isolated_cache_dir):
    cached = us_frame({"NVDA": [10.0, 11.0, 12.0], "AMD": [20.0, 21.0, 22.0]})
    fill_cache(isolated_cache_dir, cached)
    frame = load_prices(["NVDA", "AMD"], source="auto", fetch=FakeFetch())
    assert frame.source == "cache"
    assert "cache prices up to 2024-01-04" in frame.notice
    assert "Yahoo unreachable" in frame.notice
    pd.testing.assert_frame_equal(frame.prices, cached, check_freq=False)


def test_auto_reachable_refreshes_the_cache_then_reads_it(tmp_path):
    served = us_frame({"NVDA": [10.0, 11.0, 12.0], "AMD": [20.0, 21.0, 22.0]})
    fetch = FakeFetch(served)
    frame = load_prices(["NVDA", "AMD"], source="auto", fetch=fetch, cache_dir=tmp_path / "c")
    assert fetch.calls == [["NVDA", "AMD"]]
    assert frame.source == "yahoo"
    assert "yahoo prices up to 2024-01-04" in frame.notice
    pd.testing.assert_frame_equal(frame.prices, served, check_freq=False)
    # it was stored: the cache alone now serves the same prices
    again = load_prices(["NVDA", "AMD"], source="cache", cache_dir=tmp_path / "c")
    pd.testing.assert_frame_equal(again.prices, served, check_freq=False)


def test_auto_reachable_fetches_the_yen_rate_with_a_tokyo_listing(tmp_path):
    served = us_frame({"NVDA": [10.0, 11.0], "9984.T": [9000.0, 9100.0],
                       "JPY=X": [150.0, 160.0]})
    fetch = FakeFetch(served)
    frame = load_prices(["NVDA", "9984.T"], source="auto", fetch=fetch, cache_dir=tmp_path / "c")
    assert fetch.calls == [["NVDA", "9984.T", "JPY=X"]]
    assert frame.source == "yahoo" and frame.converted == ("9984.T",)
    np.testing.assert_allclose(frame.prices["9984.T"].to_numpy(), [9000 / 150, 9100 / 160])


def test_update_prices_adds_the_exchange_rates_to_the_tickers(isolated_cache_dir, monkeypatch):
    from portfolio.data import inventory as inventory_module
    from portfolio.data.inventory import update_prices

    calls = []

    def spy(cache, tickers, **kwargs):
        calls.append((cache.directory, list(tickers), kwargs["start"]))
        return "report"

    monkeypatch.setattr(inventory_module, "update_cache", spy)
    other = isolated_cache_dir / "other"
    assert update_prices(["9984.T", "NVDA"], start="2020-01-01") == "report"
    assert update_prices(["NVDA"], other) == "report"
    assert calls == [(isolated_cache_dir, ["9984.T", "NVDA", "JPY=X"], "2020-01-01"),
                     (other, ["NVDA"], "2015-01-01")]


def test_yahoo_unreachable_is_an_error():
    with pytest.raises(DataError, match="Yahoo Finance returned no data") as caught:
        load_prices(["NVDA"], source="yahoo", fetch=FakeFetch())
    assert isinstance(caught.value, YahooUnavailableError)
    assert "--offline" in caught.value.fix


def test_empty_cache_source_says_how_to_fill_it():
    with pytest.raises(DataError) as caught:
        load_prices(["NVDA"], source="cache")
    assert "portfolio data update" in caught.value.fix
    assert "NVDA" in caught.value.message


def test_cache_source_reads_the_cache_and_never_fetches(isolated_cache_dir):
    cached = us_frame({"NVDA": [10.0, 11.0], "SPY": [400.0, 401.0]})
    fill_cache(isolated_cache_dir, cached)
    fetch = FakeFetch()
    frame = load_prices(["SPY", "NVDA"], source="cache", fetch=fetch)
    assert fetch.calls == []
    assert frame.source == "cache"
    pd.testing.assert_frame_equal(frame.prices, cached[["SPY", "NVDA"]], check_freq=False)


def test_cache_converts_tokyo_listing_with_the_cached_yen_rate(isolated_cache_dir):
    us_days = pd.DatetimeIndex(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"])
    nvda = pd.DataFrame({"NVDA": [1.0, 2.0, 3.0, 4.0]}, index=us_days)
    # Tokyo trades on July 4 (a US holiday) and is closed on July 3
    tokyo_days = pd.DatetimeIndex(["2024-07-01", "2024-07-02", "2024-07-04", "2024-07-05"])
    softbank = pd.DataFrame({"9984.T": [9000.0, 9100.0, 9300.0, 9400.0]}, index=tokyo_days)
    yen = pd.DataFrame({"JPY=X": [160.0, 161.0, 162.0, 163.0]}, index=us_days)
    cache = PriceCache(isolated_cache_dir)
    for part in (nvda, softbank, yen):
        cache.write(part, source="yahoo")

    frame = load_prices(["NVDA", "9984.T"], source="cache")
    assert list(frame.prices.index) == list(us_days)  # NYSE calendar only
    expected = pd.Series([9000 / 160, 9100 / 161, 9100 / 162, 9400 / 163], index=us_days)
    np.testing.assert_allclose(frame.prices["9984.T"].to_numpy(), expected.to_numpy())
    assert frame.converted == ("9984.T",)


def test_auto_with_a_corrupt_cache_says_so_in_the_notice(isolated_cache_dir):
    isolated_cache_dir.mkdir(parents=True)
    (isolated_cache_dir / "prices.sqlite").write_bytes(b"this is not a database" * 100)
    frame = load_prices(["NVDA"], source="auto", offline=True)
    assert frame.source == "bundled"
    assert "cache not used" in frame.notice
    assert "unusable" in frame.notice
    with pytest.raises(DataError, match="unusable"):
        load_prices(["NVDA"], source="cache")


# --------------------------------------------------------------------------- FX and calendar


def test_align_to_calendar_takes_same_date_or_last_before():
    local = pd.Series(
        [100.0, 101.0, 103.0, 104.0],
        index=pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-05", "2024-01-06"]),
    )
    calendar = pd.DatetimeIndex(
        ["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]
    )
    aligned = align_to_calendar(local, calendar, max_fill_days=5)
    #         before first  same   last before  same   last before (Sat 6th)
    expected = [np.nan, 100.0, 101.0, 103.0, 104.0, 104.0]
    np.testing.assert_array_equal(aligned.to_numpy(), expected)
    assert aligned.index.equals(calendar)


def test_align_to_calendar_stops_carrying_after_max_fill_days():
    local = pd.Series([1.0], index=pd.DatetimeIndex(["2024-01-01"]))
    calendar = pd.bdate_range("2024-01-01", periods=6)
    aligned = align_to_calendar(local, calendar, max_fill_days=2)
    np.testing.assert_array_equal(aligned.to_numpy(), [1.0, 1.0, 1.0, np.nan, np.nan, np.nan])


def test_fxy_yen_rate_matches_the_known_spot():
    usd_per_jpy = usd_per_jpy_from_fxy(bundled_aux()["FXY"])
    # USD/JPY closed near 161.7 on 2024-07-10 and near 120.5 on 2015-01-02
    assert usd_per_jpy.loc["2024-07-10"] == pytest.approx(1 / 161.7, rel=0.02)
    assert usd_per_jpy.loc["2015-01-02"] == pytest.approx(1 / 120.5, rel=0.02)


def test_fx_tickers_names_each_needed_rate_once():
    assert fx_tickers(["NVDA", "9984.T", "6758.T"]) == ["JPY=X"]
    assert fx_tickers(iter(["9984.T"])) == ["JPY=X"]
    assert fx_tickers(["NVDA", "SPY"]) == []
    assert fx_tickers([]) == []


def test_listing_currency_by_suffix():
    assert currency_of("9984.T") == "JPY"
    assert currency_of("NVDA") == "USD"
    assert currency_of("BRK.B") == "USD"


# --------------------------------------------------------------------------- coverage


def test_coverage_by_hand():
    nan = np.nan
    index = pd.bdate_range("2024-01-01", periods=6)
    prices = pd.DataFrame(
        {"A": [1.0] * 6, "B": [nan, nan, nan, 1.0, nan, 2.0], "C": [nan] * 6}, index=index
    )
    table = coverage(prices, lookback_days=4)
    assert list(table.index) == ["A", "B", "C"]
    assert table.loc["A", "first_date"] == index[0]
    assert table.loc["A", "last_date"] == index[5]
    assert table.loc["B", "first_date"] == index[3]
    assert table.loc["B", "last_date"] == index[5]
    assert pd.isna(table.loc["C", "first_date"])
    assert table["observations"].to_dict() == {"A": 6, "B": 2, "C": 0}
    assert table["in_window"].to_dict() == {"A": 4, "B": 2, "C": 0}
    assert coverage(prices)["in_window"].to_dict() == {"A": 6, "B": 2, "C": 0}


def test_bundled_coverage_flags_the_short_history(bundled):
    table = bundled.coverage(lookback_days=756)
    assert table.loc["CRWV", "first_date"] == CRWV_LISTING
    assert table.loc["CRWV", "in_window"] == bundled.prices["CRWV"].iloc[-756:].notna().sum()
    assert table.loc["CRWV", "in_window"] < 756 // 2
    assert table.loc["NVDA", "in_window"] == 756
    assert (table["last_date"] == LAST_BUNDLED).all()


def test_the_network_guard_stops_the_real_yahoo_path():
    # conftest.py replaces yfinance.download and Python sockets: the real default path
    # fails the test loudly instead of reaching Yahoo or silently falling back
    import socket

    with pytest.raises(pytest.fail.Exception, match="network"):
        load_prices(["NVDA"], source="yahoo")
    with pytest.raises(pytest.fail.Exception, match="network"):
        socket.create_connection(("example.com", 443), timeout=1)
