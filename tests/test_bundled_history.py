"""The bundled 1999-2014 history: NYSE calendar, listings, splice, known drawdowns, lazy load."""

from __future__ import annotations

import pandas as pd
import pytest

from portfolio.analytics.metrics import max_drawdown
from portfolio.data import bundled
from portfolio.data.bundled import (
    BUNDLED_TICKERS,
    bundled_aux,
    bundled_prices,
    treasury_bill_rate,
)
from portfolio.data.prices import load_prices

# NYSE sessions per year (exchange calendars: 9/11 closed four days in 2001, Reagan's and
# Ford's funerals in 2004 and 2007, Hurricane Sandy two days in 2012).
SESSIONS = {1999: 252, 2000: 252, 2001: 248, 2002: 252, 2003: 252, 2004: 252, 2005: 252,
            2006: 251, 2007: 251, 2008: 253, 2009: 252, 2010: 252, 2011: 252, 2012: 250,
            2013: 252, 2014: 252}
CLOSED = ["2001-09-11", "2001-09-14", "2004-06-11", "2007-01-02", "2012-10-29", "2012-10-30",
          "2008-12-25", "2000-01-17"]
LISTED = {"NVDA": "1999-01-22", "QQQ": "1999-03-10", "SMH": "2000-06-05",
          "SOXX": "2001-07-13", "GOOGL": "2004-08-19", "SMCI": "2007-03-29",
          "AVGO": "2009-08-06", "META": "2012-05-18", "9984.T": "2015-01-05",
          "CRWV": "2025-03-28", "AMD": "1999-01-04", "SPY": "1999-01-04"}


@pytest.fixture(scope="module")
def prices():
    return bundled_prices()


def test_history_is_on_the_nyse_calendar(prices):
    old = prices.loc[:"2014-12-31"]
    assert old.index[0] == pd.Timestamp("1999-01-04")
    assert old.groupby(old.index.year).size().to_dict() == SESSIONS
    assert prices.index.is_unique and prices.index.is_monotonic_increasing
    assert prices.index.day_of_week.max() <= 4
    assert not set(pd.to_datetime(CLOSED)) & set(prices.index)
    assert list(prices.columns) == list(BUNDLED_TICKERS)


def test_names_enter_at_their_listing_without_gaps(prices):
    for ticker, first in LISTED.items():
        series = prices[ticker]
        assert series.first_valid_index() == pd.Timestamp(first), ticker
    for ticker in prices.columns:
        if ticker == "9984.T":  # Tokyo holidays leave NYSE days blank
            continue
        life = prices[ticker].loc[prices[ticker].first_valid_index():]
        assert life.notna().all() and (life > 0).all(), ticker


def test_the_splice_into_2015_is_an_ordinary_day(prices):
    moves = prices.loc["2014-12-31":"2015-01-02"].pct_change(fill_method=None).iloc[-1]
    assert moves.drop(["CRWV", "9984.T"]).abs().max() < 0.05


@pytest.mark.parametrize(("ticker", "start", "end", "depth"), [
    # peak-to-trough falls inside each window, as documented with the source data
    ("QQQ", "2000-03-10", "2002-10-09", 0.830),
    ("NVDA", "2000-03-10", "2002-10-09", 0.897),
    ("SPY", "2007-10-09", "2009-03-09", 0.552),
    ("NVDA", "2007-10-09", "2009-03-09", 0.851),
])
def test_known_drawdowns(prices, ticker, start, end, depth):
    found = max_drawdown(prices[ticker].loc[start:end].dropna())
    assert found.depth == pytest.approx(depth, abs=0.0006)


def test_tbill_yield_and_aux_go_back_to_1999():
    aux = bundled_aux()
    assert aux.index.equals(bundled_prices().index)
    assert aux["IRX_pct"].loc[:"2014-12-31"].isna().sum() == 7  # bond-market holidays
    assert aux["FXY"].first_valid_index() == pd.Timestamp("2007-02-13")
    assert 0.05 < treasury_bill_rate("2000-06-30") < 0.07  # T-bills near 6 % in mid-2000


def test_recent_requests_do_not_read_the_history(monkeypatch):
    read = []
    original = bundled._read.__wrapped__
    monkeypatch.setattr(bundled, "_read", lambda name: read.append(name) or original(name))
    recent = load_prices(["NVDA", "9984.T"], start="2015-01-01", source="bundled")
    assert recent.prices.index[0] == pd.Timestamp("2015-01-02")  # 2015-01-01: a holiday
    assert not [name for name in read if "1999" in name]
    full = load_prices(["NVDA", "9984.T"], source="bundled")
    assert [name for name in read if "1999" in name]
    pd.testing.assert_frame_equal(full.prices.loc["2015-01-02":], recent.prices)
    assert full.prices["9984.T"].first_valid_index() == pd.Timestamp("2015-01-05")
