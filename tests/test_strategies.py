"""The Strategy protocol: a strategy sees only the past, user strategies run beside built-ins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_backtest import EQUAL, folder, make_config, synthetic_prices  # noqa: F401

import portfolio as pf
from portfolio.backtesting.market import PastView, build_market
from portfolio.errors import ConfigError, InputError


class Recorder(pf.BaseStrategy):
    """Equal weight of the available names; records every view it receives."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.views: list[PastView] = []

    def target(self, past):
        self.views.append(past)
        return {t: 1.0 / len(past.available) for t in past.available}


def test_a_view_holds_only_rows_before_its_date(folder):  # noqa: F811
    prices = synthetic_prices(days=120)
    config = make_config(folder, [EQUAL])
    market, first, _ = build_market(config, prices, [])
    past = PastView.at(market, first + 10)
    assert past.prices().index.max() < past.date
    assert past.returns().index.max() < past.date
    pd.testing.assert_frame_equal(past.prices(), prices.loc[: past.date].iloc[:-1],
                                  check_freq=False)
    with pytest.raises(pf.LookAheadError, match="strictly before"):
        past.prices(end=past.date)
    with pytest.raises(pf.LookAheadError):
        past.returns(end=past.date + pd.Timedelta(days=30))
    scribbled = past.prices()
    scribbled.iloc[:, :] = 0.0  # a strategy may scribble on what it gets
    assert (past.prices() > 0).all().all()


def test_every_decision_sees_only_the_past_and_matches_the_builtin(folder):  # noqa: F811
    prices = synthetic_prices(days=300)
    recorder = Recorder("mine")
    result = pf.backtest(make_config(folder, [EQUAL]), market=prices, strategies=[recorder])
    assert len(recorder.views) == len(result.strategies["mine"].weights)
    for past in recorder.views:
        assert past.prices().index.max() < past.date
        assert past.date in result.strategies["mine"].weights.index
    pd.testing.assert_series_equal(result.strategies["mine"].equity,
                                   result.strategies["ew"].equity, check_names=False)
    assert result.strategies["mine"].kind == "custom"


class Peeker(pf.BaseStrategy):
    def target(self, past):
        past.prices(end=past.date + pd.Timedelta(days=1))
        return {}


class Unlisted(pf.BaseStrategy):
    def target(self, past):
        unavailable = [t for t in past.tickers if t not in past.available]
        return {unavailable[0]: 0.5} if unavailable else {past.available[0]: 0.5}


def test_a_strategy_that_breaks_the_protocol_stops_the_run(folder):  # noqa: F811
    prices = synthetic_prices(days=300)
    config = make_config(folder, [EQUAL])
    with pytest.raises(pf.LookAheadError):
        pf.backtest(config, market=prices, strategies=[Peeker("peek")])
    prices.loc[: prices.index[200], "EEE"] = np.nan  # EEE lists late
    with pytest.raises(InputError, match="not available: EEE"):
        pf.backtest(config, market=prices, strategies=[Unlisted("early")])
    with pytest.raises(InputError, match="not a strategy"):
        pf.backtest(config, market=prices, strategies=[object()])
    with pytest.raises(ConfigError, match="duplicate strategy name 'ew'"):
        pf.backtest(config, market=prices, strategies=[Recorder("ew")])


def test_one_objective_spec_serves_two_problems():
    # a spec keeps no state: the same Utility object in two problems of different sizes
    spec = pf.Utility(risk_aversion=3.0)
    assert pf.Utility.options() == ("risk_aversion",)
    first = pf.PortfolioProblem(["A", "B", "C", "D"], spec, [pf.MaxWeight(0.5)], solver="CLARABEL")
    second = pf.PortfolioProblem(["A", "B"], spec, [pf.MaxWeight(0.8)], solver="CLARABEL")
    mu4, mu2 = pd.Series([0.1, 0.2, 0.15, 0.05], index=list("ABCD")), pd.Series(
        [0.1, 0.2], index=list("AB"))
    cov4 = pd.DataFrame(np.diag([0.04, 0.09, 0.0625, 0.01]), index=list("ABCD"),
                        columns=list("ABCD"))
    a = first.solve(cov4, mu4)
    b = second.solve(cov4.loc[list("AB"), list("AB")], mu2)
    c = first.solve(cov4, mu4)
    assert a.weights.sum() == pytest.approx(1.0) and b.weights.sum() == pytest.approx(1.0)
    pd.testing.assert_series_equal(a.weights, c.weights)
    # closed form with a diagonal covariance and no binding cap: w_i = (mu_i - nu) /
    # (delta s_i), nu such that the weights sum to 1
    s_ab, mu_ab = np.array([0.04, 0.09]), np.array([0.1, 0.2])
    nu = (np.sum(mu_ab / (3.0 * s_ab)) - 1.0) / np.sum(1.0 / (3.0 * s_ab))
    np.testing.assert_allclose(b.weights[["A", "B"]], (mu_ab - nu) / (3.0 * s_ab), atol=1e-7)
