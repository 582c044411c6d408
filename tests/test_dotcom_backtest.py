"""config/backtests/dotcom_to_now.toml: 2000 -> 2026 on the bundled prices, names at listing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio.backtesting.spec import load_backtest
from portfolio.data.bundled import bundled_prices
from portfolio.jobs.backtest import backtest
from portfolio.jobs.market import DataOptions

FILE = Path(__file__).parents[1] / "config" / "backtests" / "dotcom_to_now.toml"
LISTED_IN_2000 = ["NVDA", "AMD", "TSM", "MU", "INTC", "ORCL", "MSFT", "AMZN"]


@pytest.fixture(scope="module")
def result():
    return backtest(load_backtest(FILE), options=DataOptions(source="bundled", offline=True))


def test_the_file_is_the_article_policy_against_equal_weight_spy_and_qqq():
    config = load_backtest(FILE)
    assert [s.kind for s in config.strategies] == ["policy", "equal_weight"]
    assert config.benchmarks == ("SPY", "QQQ")
    assert (config.start, config.end) == ("2000-01-03", "2026-07-31")


@pytest.mark.slow
def test_runs_from_2000_with_names_entering_at_listing(result):
    assert result.start == pd.Timestamp("2000-01-03")
    assert result.end == pd.Timestamp("2026-07-31")
    assert result.hindsight  # today's winners, picked in 2026
    weights = result.strategies["Article policy"].weights
    first = weights.iloc[0]
    assert set(first[first > 0].index) == {*LISTED_IN_2000, "CASH"}
    # a name is held once it has min_history_days (126) prices after its listing
    prices = bundled_prices()
    for ticker in ("GOOGL", "SMCI", "AVGO", "META"):
        listed = prices[ticker].first_valid_index()
        allowed = prices.index[prices.index.get_loc(listed) + 126]
        assert (weights.loc[:allowed - pd.Timedelta(days=1), ticker] == 0).all(), ticker
        assert (weights.loc[allowed:, ticker] > 0).any(), ticker
    # semiconductors <= 40 % and hyperscalers <= 45 % of 8 names: 85 % invested, 15 % cash
    assert first["CASH"] == pytest.approx(0.15, abs=1e-6)
    assert any("could hold only 85.0 %" in note for note in result.notes)
    assert not result.strategies["Article policy"].failures


@pytest.mark.slow
def test_benchmarks_are_buy_and_hold_of_spy_and_qqq(result):
    prices = bundled_prices()
    for ticker in ("SPY", "QQQ"):
        path = result.benchmarks[ticker]
        expected = prices[ticker].loc[path.index[0]:path.index[-1]]
        np.testing.assert_allclose(path.to_numpy() / path.iloc[0],
                                   (expected / expected.iloc[0]).to_numpy(), rtol=1e-9)
    # the Nasdaq-100 fund lost 83 % from its March 2000 top and took until 2015 to recover
    assert result.benchmark_metrics["QQQ"].max_drawdown == pytest.approx(0.83, abs=0.005)
