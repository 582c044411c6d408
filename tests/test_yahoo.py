"""Yahoo Finance source: yfinance 1.x shapes, failures, retries, silence. No network."""

from __future__ import annotations

import logging
import pickle
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from yahoo_frames import (
    FakeClock,
    FakeDownload,
    flat_single_ticker_frame,
    frame_for,
    multi_ticker_frame,
    offline_frame,
    rate_limit_error,
    single_ticker_frame,
    trading_days,
)

from portfolio.data.yahoo import (
    NETWORK_UNREACHABLE,
    NO_DATA,
    RATE_LIMITED,
    TIMED_OUT,
    FetchResult,
    YahooUnavailableError,
    fetch_yahoo,
    is_no_data_reason,
)
from portfolio.errors import DataError, InputError

NVDA = [100.0, 101.0, 99.5, 102.25]
AMD = [150.0, 151.5, 149.0, 148.0]


def fetch(download, tickers=("NVDA", "AMD"), clock=None, **kwargs):
    clock = clock or FakeClock()
    return fetch_yahoo(list(tickers), download=download, sleep=clock.sleep, clock=clock, **kwargs)


def test_multi_ticker_frame_gives_adjusted_closes_in_request_order():
    download = FakeDownload([multi_ticker_frame({"NVDA": NVDA, "AMD": AMD})])
    result = fetch(download, start="2024-01-02", end=pd.Timestamp("2024-01-08"))

    assert isinstance(result, FetchResult)
    assert list(result.prices.columns) == ["NVDA", "AMD"]  # yfinance sorts them AMD, NVDA
    assert result.prices["NVDA"].tolist() == NVDA
    assert result.prices["AMD"].tolist() == AMD
    assert result.prices.index.equals(pd.DatetimeIndex(trading_days(4), name="date"))
    assert result.prices.index.tz is None
    assert result.prices.dtypes.eq(np.float64).all()
    assert result.failed == ()
    assert result.reasons == {}


def test_download_is_called_with_pinned_options_and_a_list():
    download = FakeDownload([multi_ticker_frame({"NVDA": NVDA, "AMD": AMD})])
    fetch(download, start="2024-01-02", end="2024-01-08", timeout=7.5)

    (call,) = download.calls
    assert call["tickers"] == ["NVDA", "AMD"]
    assert call["auto_adjust"] is True
    assert call["progress"] is False
    assert call["threads"] is False
    assert call["group_by"] == "column"
    assert call["timeout"] == 7.5
    assert (call["start"], call["end"]) == ("2024-01-02", "2024-01-08")


def test_single_ticker_multiindex_and_flat_columns():
    multi = fetch(FakeDownload([single_ticker_frame("NVDA", NVDA)]), tickers=["NVDA"])
    flat = fetch(FakeDownload([flat_single_ticker_frame(NVDA)]), tickers=["NVDA"])

    for result in (multi, flat):
        assert list(result.prices.columns) == ["NVDA"]
        assert result.prices["NVDA"].tolist() == NVDA


def test_ticker_case_and_duplicates_follow_the_request():
    download = FakeDownload([single_ticker_frame("NVDA", NVDA)])
    result = fetch(download, tickers=["nvda", "nvda"])

    assert download.calls[0]["tickers"] == ["nvda"]
    assert list(result.prices.columns) == ["nvda"]


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo", "UTC"])
def test_tz_aware_index_keeps_the_local_trading_date(tz):
    index = trading_days(4, tz=tz)
    download = FakeDownload([multi_ticker_frame({"NVDA": NVDA}, index=index)])
    result = fetch(download, tickers=["NVDA"])

    assert result.prices.index.tz is None
    expected = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    assert list(result.prices.index) == list(expected)
    assert result.prices.index.name == "date"


def test_offline_empty_frame_raises_unavailable_with_reasons():
    download = FakeDownload([offline_frame(["NVDA", "AMD"])], noisy=True)
    with pytest.raises(YahooUnavailableError) as caught:
        fetch(download)

    error = caught.value
    assert isinstance(error, DataError)
    assert error.failed == ("NVDA", "AMD")
    # the noisy fake logs "Failed to get ticker 'AMD' reason: ... curl: (6)" only for AMD
    assert error.reasons == {"NVDA": NO_DATA, "AMD": NETWORK_UNREACHABLE}
    message = str(error)
    assert message.startswith("Yahoo Finance returned no data (NVDA, AMD): the network is")
    assert "--offline / --data-source bundled, or retry later" in message
    assert len(download.calls) == 1  # an empty answer is not retried


def test_unavailable_error_survives_pickling_and_truncates_long_lists():
    tickers = [f"T{i}" for i in range(12)]
    error = YahooUnavailableError(tickers, dict.fromkeys(tickers, RATE_LIMITED))
    copy = pickle.loads(pickle.dumps(error))

    assert copy.failed == error.failed
    assert str(copy) == str(error)
    assert "T7 and 4 more" in str(error)
    assert "T8" not in str(error)


def test_summary_log_line_gives_the_reason_of_each_ticker():
    def respond(tickers):
        logging.getLogger("yfinance").error(
            "['AMD', 'NVDA']: DNSError('Failed to perform, curl: (6) Could not resolve host')"
        )
        return offline_frame(tickers)

    with pytest.raises(YahooUnavailableError) as caught:
        fetch(FakeDownload([respond]))

    assert caught.value.reasons == {"NVDA": NETWORK_UNREACHABLE, "AMD": NETWORK_UNREACHABLE}


def test_partial_failure_returns_the_rest_without_filling():
    closes = {"NVDA": [100.0, np.nan, 102.0, np.nan]}
    index = trading_days(4)
    download = FakeDownload([multi_ticker_frame(closes, index=index, failed=["AMD"])])
    result = fetch(download)

    assert result.failed == ("AMD",)
    assert result.reasons == {"AMD": NO_DATA}
    assert list(result.prices.columns) == ["NVDA"]
    # all-NaN rows are dropped, never forward-filled
    assert list(result.prices.index) == [index[0], index[2]]
    assert result.prices["NVDA"].tolist() == [100.0, 102.0]


def test_nan_is_kept_when_another_ticker_traded():
    closes = {"NVDA": [100.0, np.nan, 102.0], "AMD": [150.0, 151.0, 152.0]}
    result = fetch(FakeDownload([multi_ticker_frame(closes)]))

    assert np.isnan(result.prices["NVDA"].iloc[1])
    assert result.prices["AMD"].tolist() == [150.0, 151.0, 152.0]


def test_legacy_shared_errors_are_read_defensively(monkeypatch):
    legacy = SimpleNamespace(_ERRORS={"AMD": "AMD: possibly delisted; no price data found"})
    monkeypatch.setitem(sys.modules, "yfinance.shared", legacy)
    download = FakeDownload([multi_ticker_frame({"NVDA": NVDA}, failed=["AMD"])])
    result = fetch(download)

    assert result.reasons["AMD"].startswith("no data (AMD: possibly delisted")
    assert is_no_data_reason(result.reasons["AMD"])
    assert not is_no_data_reason(RATE_LIMITED)


def test_rate_limit_then_success_retries_once_after_backoff():
    clock = FakeClock()
    frame = multi_ticker_frame({"NVDA": NVDA, "AMD": AMD})
    download = FakeDownload([rate_limit_error(), frame])
    result = fetch(download, clock=clock, backoff_seconds=1.5)

    assert list(result.prices.columns) == ["NVDA", "AMD"]
    assert len(download.calls) == 2
    assert clock.sleeps == [1.5]


def test_transient_error_then_success():
    clock = FakeClock()
    frame = multi_ticker_frame({"NVDA": NVDA, "AMD": AMD})
    download = FakeDownload([ConnectionError("reset by peer"), TimeoutError(), frame])
    result = fetch(download, clock=clock)

    assert result.failed == ()
    assert clock.sleeps == [1.0, 2.0]


def test_persistent_rate_limit_stops_after_max_retries():
    clock = FakeClock()
    download = FakeDownload([rate_limit_error()])
    with pytest.raises(YahooUnavailableError) as caught:
        fetch(download, clock=clock, max_retries=3, backoff_seconds=1.0, max_total_seconds=30)

    assert len(download.calls) == 4  # first attempt + 3 retries
    assert clock.sleeps == [1.0, 2.0, 4.0]  # backoff_seconds * 2**attempt
    assert caught.value.reasons == {"NVDA": RATE_LIMITED, "AMD": RATE_LIMITED}


def test_persistent_rate_limit_never_sleeps_past_the_budget():
    clock = FakeClock()
    download = FakeDownload([rate_limit_error()])
    with pytest.raises(YahooUnavailableError) as caught:
        fetch(download, clock=clock, max_retries=10, backoff_seconds=4.0, max_total_seconds=10)

    assert clock.sleeps == [4.0]  # the next wait (8 s) would end at 12 s > 10 s
    assert sum(clock.sleeps) <= 10
    assert len(download.calls) == 2
    assert set(caught.value.reasons.values()) == {RATE_LIMITED}


def test_slow_transient_failures_end_as_timed_out_within_budget():
    clock = FakeClock()

    def slow_failure(tickers):
        clock.now += 6.0  # the request itself takes time
        raise ConnectionError("curl: (28) Operation timed out")

    download = FakeDownload([slow_failure])
    with pytest.raises(YahooUnavailableError) as caught:
        fetch(download, clock=clock, max_retries=5, backoff_seconds=1.0, max_total_seconds=10)

    # t=6 fail, sleep 1 -> t=7, fail at t=13; a 2 s wait would end past 10 s
    assert clock.sleeps == [1.0]
    assert len(download.calls) == 2
    assert caught.value.reasons == {"NVDA": TIMED_OUT, "AMD": TIMED_OUT}


def test_rate_limited_ticker_inside_a_successful_call_is_retried_alone():
    def first(tickers):
        logging.getLogger("yfinance").error(
            "['AMD']: YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"
        )
        return multi_ticker_frame({"NVDA": NVDA}, failed=["AMD"])

    clock = FakeClock()
    download = FakeDownload([first, frame_for({"AMD": AMD})])
    result = fetch(download, clock=clock)

    assert download.tickers_per_call == [["NVDA", "AMD"], ["AMD"]]
    assert list(result.prices.columns) == ["NVDA", "AMD"]
    assert result.prices["AMD"].tolist() == AMD
    assert clock.sleeps == [1.0]


def test_batches_of_k_tickers():
    tickers = ["A", "B", "C", "D", "E"]
    closes = {t: [float(i + 1)] * 3 for i, t in enumerate(tickers)}
    download = FakeDownload([frame_for(closes)])
    result = fetch(download, tickers=tickers, batch_size=2)

    assert download.tickers_per_call == [["A", "B"], ["C", "D"], ["E"]]
    assert list(result.prices.columns) == tickers
    assert result.prices.loc[:, "E"].tolist() == [5.0, 5.0, 5.0]


def test_partial_batch_failure_keeps_other_batches():
    closes = {"A": [1.0, 2.0], "B": [3.0, 4.0], "D": [5.0, 6.0]}
    download = FakeDownload([frame_for(closes)])
    result = fetch(download, tickers=["A", "B", "C", "D"], batch_size=2)

    assert list(result.prices.columns) == ["A", "B", "D"]
    assert result.failed == ("C",)


def test_spent_budget_skips_remaining_batches():
    clock = FakeClock()

    def slow_success(tickers):
        clock.now += 20.0
        return frame_for({"A": [1.0], "B": [2.0], "C": [3.0]})(tickers)

    download = FakeDownload([slow_success])
    result = fetch(
        download, clock=clock, tickers=["A", "B", "C"], batch_size=1, max_total_seconds=30
    )

    assert download.tickers_per_call == [["A"], ["B"]]  # C would start at t=40 > 30
    assert result.failed == ("C",)
    assert result.reasons == {"C": TIMED_OUT}


def test_nothing_is_printed_or_logged_even_by_a_noisy_download(capsys, caplog):
    logger = logging.getLogger("yfinance")
    before = (logger.level, list(logger.handlers), logger.propagate)
    caplog.set_level(logging.DEBUG)
    download = FakeDownload([multi_ticker_frame({"NVDA": NVDA}, failed=["AMD"])], noisy=True)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        result = fetch(download)

    assert [str(w.message) for w in escaped] == []
    assert result.failed == ("AMD",)
    assert result.reasons == {"AMD": NETWORK_UNREACHABLE}
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert [r for r in caplog.records if r.name.startswith("yfinance")] == []
    assert (logger.level, list(logger.handlers), logger.propagate) == before


def test_default_download_is_yfinance_download(monkeypatch):
    import yfinance

    fake = FakeDownload([single_ticker_frame("NVDA", NVDA)])
    monkeypatch.setattr(yfinance, "download", fake)
    result = fetch_yahoo(["NVDA"])

    assert len(fake.calls) == 1
    assert result.prices["NVDA"].tolist() == NVDA


def test_no_tickers_means_no_call_and_an_empty_result():
    download = FakeDownload([offline_frame(["X"])])
    result = fetch(download, tickers=[])

    assert download.calls == []
    assert result.prices.empty
    assert result.failed == ()


def test_invalid_date_is_an_input_error():
    with pytest.raises(InputError, match="invalid start date"):
        fetch(FakeDownload([offline_frame(["X"])]), start="2024-13-45")


def test_unexpected_exception_is_retried_then_reported():
    clock = FakeClock()
    download = FakeDownload([OSError("curl: (35) SSL connect error")])
    with pytest.raises(YahooUnavailableError) as caught:
        fetch(download, clock=clock, max_retries=1)

    assert len(download.calls) == 2
    reason = caught.value.reasons["NVDA"]
    assert reason.startswith("request failed (OSError: curl: (35)")
    assert not is_no_data_reason(reason)
