"""Bubble replays on real prices: proxies by daily beta, paths, troughs and recoveries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio.analytics.replay import (
    PORTFOLIO,
    Recovery,
    replay_paths,
    replay_returns,
)
from portfolio.data.holdings import read_holdings
from portfolio.data.prices import load_prices
from portfolio.errors import DataError
from portfolio.jobs.market import DataOptions
from portfolio.jobs.stress import stress_test

EXAMPLE = Path(__file__).parents[1] / "examples" / "holdings.csv"
DOTCOM = ("2000-03-10", "2002-10-09")
CRISIS = ("2007-10-09", "2009-03-09")


@pytest.fixture(scope="module")
def prices():
    holdings = read_holdings(EXAMPLE)
    return load_prices([*holdings.tickers(), "SMH", "QQQ", "SPY"], source="bundled").prices


@pytest.fixture(scope="module")
def report():
    return stress_test(read_holdings(EXAMPLE),
                       options=DataOptions(source="bundled", offline=True))


def own_beta(asset: pd.Series, factor: pd.Series) -> float:
    frame = pd.concat([asset, factor], axis=1)
    returns = (frame / frame.shift(1) - 1.0).dropna()
    return float(np.cov(returns.iloc[:, 0], returns.iloc[:, 1], ddof=1)[0, 1]
                 / np.var(returns.iloc[:, 1], ddof=1))


def compounded(closes: pd.Series, beta: float, start: str, end: str) -> float:
    window = closes.loc[:start].iloc[-1:].index[0], closes.loc[:end].index[-1]
    daily = closes.loc[window[0]:window[1]].pct_change().dropna()
    return float(np.prod(1.0 + beta * daily) - 1.0)


def scenario(report, name):
    return next(s for s in report.scenarios if s.name == name)


# --------------------------------------------------------------------------- returns


def test_dotcom_names_that_traded_use_their_own_prices(report, prices):
    result = scenario(report, "dotcom_bust")
    assert result.window == (pd.Timestamp("2000-03-10"), pd.Timestamp("2002-10-09"))
    for ticker in ("NVDA", "MSFT", "AMD", "ORCL"):
        expected = prices[ticker].loc["2002-10-09"] / prices[ticker].loc["2000-03-10"] - 1.0
        assert result.shocks[ticker] == pytest.approx(expected, rel=1e-12), ticker
    assert result.shocks["NVDA"] == pytest.approx(-0.750, abs=0.001)


def test_names_not_listed_then_are_proxied_by_daily_beta_compounded(report, prices):
    dotcom, crisis = scenario(report, "dotcom_bust"), scenario(report, "financial_crisis")
    # SMH starts 2000-06-05: the dot-com bust falls back to QQQ; 2008 uses SMH
    assert dotcom.proxy == "QQQ" and crisis.proxy == "SMH"
    assert set(dotcom.proxied) == {"CRWV", "AVGO", "9984.T"} == set(crisis.proxied)
    assert "proxied by beta to QQQ" in dotcom.description
    for result, proxy, (start, end) in ((dotcom, "QQQ", DOTCOM), (crisis, "SMH", CRISIS)):
        for ticker in result.proxied:
            beta = own_beta(prices[ticker], prices[proxy])
            expected = compounded(prices[proxy], beta, start, end)
            assert result.shocks[ticker] == pytest.approx(expected, rel=1e-9), ticker
            assert -1.0 < result.shocks[ticker] < 0.0
    # CoreWeave's beta to QQQ (about 2.1) times the fund's -83 % would be below -100 %
    assert dotcom.shocks["CRWV"] > -1.0


def test_a_one_day_window_proxy_equals_beta_times_the_proxy_return(prices):
    replay = replay_returns(prices[["CRWV", "SMH"]], "2025-01-24", "2025-01-27")
    smh = prices["SMH"].loc["2025-01-27"] / prices["SMH"].loc["2025-01-24"] - 1.0
    assert replay.returns["CRWV"] == pytest.approx(replay.proxy_betas["CRWV"] * smh, rel=1e-12)
    assert replay.proxy == "SMH"


def test_proxies_are_tried_in_order(prices):
    replay = replay_returns(prices[["CRWV", "SMH", "SPY"]], *DOTCOM, ("SMH", "SPY"))
    assert replay.proxy == "SPY"  # SMH has no price on 2000-03-10
    with pytest.raises(DataError, match="no SMH prices to proxy CRWV"):
        replay_returns(prices[["CRWV", "SMH"]], *DOTCOM, "SMH")


# --------------------------------------------------------------------------- paths


def test_path_trough_and_recovery_by_hand():
    dates = pd.bdate_range("2024-01-01", periods=8)
    prices = pd.DataFrame({
        "A": [100.0, 80.0, 60.0, 90.0, 100.0, 110.0, 120.0, 130.0],  # back on day 4
        "B": [50.0, 55.0, 60.0, 40.0, 45.0, 45.0, 46.0, 48.0],      # never back
        "C": [10.0, 11.0, 12.0, 13.0, 12.0, 11.0, 12.0, 13.0],      # never below the start
    }, index=dates)
    window = replay_returns(prices, str(dates[0].date()), str(dates[3].date()))
    values = pd.Series({"A": 1000.0, "B": 500.0, "C": 250.0})
    paths = replay_paths(values, prices, window, cash=250.0)
    assert list(paths.returns.index) == list(dates[:4])
    np.testing.assert_allclose(paths.returns["A"], [0.0, -0.2, -0.4, -0.1])
    expected_portfolio = (1000 * np.array([0, -0.2, -0.4, -0.1])
                          + 500 * np.array([0, 0.1, 0.2, -0.2])
                          + 250 * np.array([0, 0.1, 0.2, 0.3])) / 2000.0
    np.testing.assert_allclose(paths.returns[PORTFOLIO], expected_portfolio)
    assert paths.recoveries["A"] == Recovery(dates[2], pytest.approx(-0.4), dates[4], 2)
    assert paths.recoveries["B"] == Recovery(dates[3], pytest.approx(-0.2), None, None)
    assert paths.recoveries["C"] == Recovery(dates[0], 0.0, dates[0], 0)
    assert paths.until == dates[-1]
    assert paths.recoveries["B"].text(paths.until) == f"not recovered by {dates[-1].date()}"
    assert paths.recoveries["A"].text(paths.until) == f"2 trading days ({dates[4].date()})"


def test_replay_paths_end_at_the_shocks_and_recover_on_real_prices(report, prices):
    for result in report.scenarios:
        if result.kind != "historical":
            continue
        paths = result.paths
        assert paths.returns.index[0] == result.window[0]
        assert paths.returns.index[-1] == result.window[1]
        for ticker, shock in result.shocks.items():
            if ticker != "CASH":
                assert paths.returns[ticker].iloc[-1] == pytest.approx(shock, abs=1e-12)
        assert paths.returns[PORTFOLIO].iloc[-1] == pytest.approx(result.pnl_pct, abs=1e-12)
    nvda = scenario(report, "dotcom_bust").paths.recoveries["NVDA"]
    closes = prices["NVDA"]
    start = closes.loc["2000-03-10"]
    inside = closes.loc["2000-03-10":"2002-10-09"]
    assert nvda.trough == inside.idxmin()
    assert nvda.trough_return == pytest.approx(inside.min() / start - 1.0)
    later = closes.loc[nvda.trough:].iloc[1:]
    assert nvda.recovered == later[later >= start].index[0]
    assert nvda.days == closes.index.get_loc(nvda.recovered) - closes.index.get_loc(nvda.trough)
