"""Tests of the walk-forward backtest engine, its config, outputs and CLI (no network).

Synthetic prices are passed through ``market=``; expected values are computed here with
independent loops, never taken from the engine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import portfolio.estimate.inputs as estimate_inputs_module
import portfolio.optimization.problem
from portfolio.analytics import metrics as metrics_module
from portfolio.backtesting.engine import _Book
from portfolio.backtesting.market import PastView, build_market
from portfolio.backtesting.results import ANNUALISED, BacktestResult, performance_metrics
from portfolio.backtesting.spec import load_backtest, parse_backtest
from portfolio.backtesting.splits import walk_forward_dates
from portfolio.config.paths import packaged_config_path
from portfolio.data.bundled import treasury_bill_rates
from portfolio.errors import ConfigError, DataError, InputError
from portfolio.estimate.returns import to_returns
from portfolio.jobs.backtest import backtest
from portfolio.optimization.objectives import OBJECTIVES
from portfolio.report import render
from portfolio.report.backtest import backtest_report, write_backtest_outputs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE")

BASE_TOML = """
[universe]
tickers = {tickers}
benchmark = "SPY"

[groups]
tech = ["AAA", "BBB"]

[limits]
max_weight = {max_weight}
cash_floor = {cash_floor}

[limits.group_caps]
tech = 0.6

[risk]
method = "ledoit_wolf"
lookback_days = 60
min_observations = 20
factors = ["SPY"]

[optimizer]
objective = "min_variance"
expected_returns = "historical"
"""


# ----------------------------------------------------------------------------- helpers


def synthetic_prices(days: int = 320, tickers=TICKERS, seed: int = 7) -> pd.DataFrame:
    """Random-walk closes (USD) on business days, plus SPY and QQQ."""
    rng = np.random.default_rng(seed)
    names = [*tickers, "SPY", "QQQ"]
    drift = np.linspace(0.0002, 0.0008, len(names))
    vol = np.linspace(0.010, 0.025, len(names))
    market = rng.normal(0.0003, 0.01, (days, 1))
    returns = drift + 0.6 * market + rng.normal(0.0, 1.0, (days, len(names))) * vol
    dates = pd.bdate_range("2021-01-04", periods=days, name="date")
    return pd.DataFrame(100.0 * np.cumprod(1.0 + returns, axis=0), index=dates, columns=names)


def write_base(folder: Path, tickers=TICKERS, max_weight: float = 0.4, cash_floor: float = 0.05,
               name: str = "base.toml") -> Path:
    path = folder / name
    path.write_text(BASE_TOML.format(tickers=json.dumps(list(tickers)), max_weight=max_weight,
                                     cash_floor=cash_floor))
    return path


def make_config(folder: Path, strategies, base: str = "base.toml", **keys):
    data = {
        "base_config": base, "lookback_days": 40, "min_history_days": 20,
        "rebalance": "monthly", "initial_capital": 100_000.0, "cost_bps": 0.0, "min_fee": 0.0,
        "benchmarks": ["SPY", "QQQ"], "cash_yield": 0.0,
        "strategies": [dict(s) for s in strategies],
    }
    data.update(keys)
    return parse_backtest(data, source=str(folder / "test_backtest.toml"), base_dir=folder)


def run(folder: Path, prices: pd.DataFrame, strategies, **keys) -> BacktestResult:
    return backtest(make_config(folder, strategies, **keys), market=prices)


EQUAL = {"name": "ew", "kind": "equal_weight"}
HOLD = {"name": "hold", "kind": "buy_and_hold"}
MINVAR = {"name": "minvar", "kind": "min_variance"}
POLICY = {"name": "policy", "kind": "policy"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_base(tmp_path)
    return tmp_path


# ----------------------------------------------------------------------------- schedule


def test_walk_forward_dates_take_the_first_trading_day_of_each_period():
    index = pd.bdate_range("2024-01-01", "2024-12-31")
    monthly = list(walk_forward_dates(index, "2024-01-17", "2024-06-30", "monthly"))
    assert monthly[0] == pd.Timestamp("2024-01-17")  # inception
    expected = [index[(index.year == 2024) & (index.month == m)][0] for m in range(2, 7)]
    assert monthly[1:] == expected
    quarterly = list(walk_forward_dates(index, None, None, "quarterly"))
    assert quarterly == [pd.Timestamp(d) for d in
                         ("2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01")]
    weekly = list(walk_forward_dates(index, "2024-03-06", "2024-03-31", "weekly"))
    assert weekly == [pd.Timestamp(d) for d in
                      ("2024-03-06", "2024-03-11", "2024-03-18", "2024-03-25")]
    # ISO week 1 of 2025 starts on Monday 2024-12-30: one rebalance for that week
    turn = pd.bdate_range("2024-12-16", "2025-01-10")
    assert list(walk_forward_dates(turn, "2024-12-18", None, "weekly")) == [
        pd.Timestamp(d) for d in ("2024-12-18", "2024-12-23", "2024-12-30", "2025-01-06")]
    drift = list(walk_forward_dates(index, "2024-03-06", "2024-03-12", "drift"))
    assert drift == list(index[(index >= "2024-03-06") & (index <= "2024-03-12")])
    with pytest.raises(InputError, match=r"(?i)did you mean 'monthly'"):
        list(walk_forward_dates(index, None, None, "montly"))


# ----------------------------------------------------------------------------- time


@pytest.mark.parametrize(("schedule", "spike_offset"),
                         [("monthly", 0), ("monthly", 1), ("drift", 0), ("drift", 1)])
def test_a_price_spike_after_t_changes_no_weight_chosen_at_or_before_t(
    folder, schedule, spike_offset
):
    prices = synthetic_prices(days=250)
    strategies = [EQUAL, MINVAR]
    if schedule != "drift":
        strategies.append(POLICY)
        if "max_sharpe" in OBJECTIVES:
            strategies.append({"name": "sharpe", "kind": "max_sharpe"})
    extra = {"drift_threshold": 0.04} if schedule == "drift" else {}
    keys = {"start": "2021-03-01", "rebalance": schedule, "cost_bps": 5.0, "min_fee": 1.0,
            **extra}
    clean = run(folder, prices, strategies, **keys)
    rebalances = clean.strategies["minvar"].weights.index
    t = rebalances[len(rebalances) // 2]
    spiked = prices.copy()
    first_spiked = prices.index[prices.index.get_loc(t) + spike_offset]
    spiked.loc[first_spiked:, "BBB"] *= 10.0  # x10 from t (its close) or from t+1 on
    dirty = run(folder, spiked, strategies, **keys)
    for name in clean.strategies:
        before = clean.strategies[name].weights.loc[:t]
        after = dirty.strategies[name].weights.loc[:t]
        assert len(before) >= (1 if name == "ew" and schedule == "drift" else 2)
        pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=0, atol=1e-12)
        # ... and the spike is visible later, so the test would catch a leak
        assert not clean.strategies[name].equity.equals(dirty.strategies[name].equity)


# ----------------------------------------------------------------------------- money


def test_buy_and_hold_is_the_average_price_ratio(folder):
    prices = synthetic_prices()
    result = run(folder, prices, [HOLD], start="2021-03-15")
    hold = result.strategies["hold"]
    start, end = hold.equity.index[0], hold.equity.index[-1]
    ratio = (prices.loc[end, list(TICKERS)] / prices.loc[start, list(TICKERS)]).mean()
    assert hold.equity.iloc[-1] == pytest.approx(100_000.0 * ratio, rel=1e-12)
    assert list(hold.weights.index) == [start]  # never rebalanced
    assert hold.weights.loc[start, list(TICKERS)].tolist() == pytest.approx([0.2] * 5)


def test_costs_reduce_the_final_value_by_exactly_the_amount_charged(folder):
    prices = synthetic_prices()
    free = run(folder, prices, [HOLD], start="2021-03-15")
    bps, fee = 10.0, 5.0
    costly = run(folder, prices, [HOLD], start="2021-03-15", cost_bps=bps, min_fee=fee)
    charged = costly.strategies["hold"].costs
    assert len(charged) == 1
    cost = float(charged.iloc[0])
    # 5 buys of (initial - cost) / 5 each, every one above the minimum fee:
    # cost = bps * (initial - cost)  =>  cost = bps * initial / (1 + bps)
    rate = bps / 1e4
    assert cost == pytest.approx(rate * 100_000.0 / (1 + rate), rel=1e-12)
    assert costly.strategies["hold"].trades["cost"].sum() == pytest.approx(cost, rel=1e-12)
    final_free = free.strategies["hold"].equity.iloc[-1]
    final_costly = costly.strategies["hold"].equity.iloc[-1]
    assert final_costly == pytest.approx((100_000.0 - cost) / 100_000.0 * final_free, rel=1e-12)
    # the minimum fee binds for small trades
    tiny = run(folder, prices, [HOLD], start="2021-03-15", initial_capital=1000.0, cost_bps=1.0,
               min_fee=fee)
    assert float(tiny.strategies["hold"].costs.iloc[0]) == pytest.approx(5 * fee)


def test_zero_cost_monthly_equal_weight_matches_a_hand_loop(folder):
    prices = synthetic_prices(days=200).iloc[:, :3]
    prices["SPY"] = synthetic_prices(days=200)["SPY"]
    prices["QQQ"] = synthetic_prices(days=200)["QQQ"]
    write_base(folder, tickers=("AAA", "BBB", "CCC"), name="three.toml", max_weight=0.5)
    result = run(folder, prices, [EQUAL], base="three.toml", start="2021-03-10")
    engine = result.strategies["ew"].equity

    names = ["AAA", "BBB", "CCC"]
    dates = prices.loc["2021-03-10":].index
    holdings = None
    expected, turnover = [], {}
    for k, date in enumerate(dates):
        close = prices.loc[date, names].to_numpy()
        if holdings is not None:
            holdings = holdings * close / prices.loc[dates[k - 1], names].to_numpy()
        new_month = k == 0 or date.month != dates[k - 1].month
        if new_month:
            value = 100_000.0 if holdings is None else holdings.sum()
            before = np.zeros(3) if holdings is None else holdings
            holdings = np.full(3, value / 3)
            cash_change = 100_000.0 if k == 0 else 0.0  # inception: all cash is spent
            turnover[date] = 0.5 * (np.abs(holdings - before).sum() + cash_change) / value
        expected.append(holdings.sum())
    np.testing.assert_allclose(engine.to_numpy(), expected, rtol=1e-12)
    # one-way turnover: half the traded notional, cash included, over the value before
    pd.testing.assert_series_equal(result.strategies["ew"].turnover,
                                   pd.Series(turnover, name="turnover"), rtol=1e-10,
                                   check_index_type=False, check_names=False)
    months = pd.Series(dates.month, index=dates)
    assert len(result.strategies["ew"].weights) == months.ne(months.shift()).sum()


def test_cash_earns_the_given_yield_daily(folder):
    prices = synthetic_prices()
    write_base(folder, tickers=TICKERS, max_weight=1.0, cash_floor=0.5, name="cashy.toml")
    result = run(folder, prices, [{"name": "mv", "kind": "min_variance"}], base="cashy.toml",
                 start="2021-03-15", cash_yield=0.0252)
    daily = result.strategies["mv"].daily_weights
    equity = result.strategies["mv"].equity
    cash_value = daily["CASH"] * equity
    # between two rebalances the cash grows by exactly 1.0252 ** (1 / 252) a day
    rebalances = set(result.strategies["mv"].weights.index)
    for previous, date in zip(equity.index[:-1], equity.index[1:]):
        if date not in rebalances:
            assert cash_value[date] == pytest.approx(cash_value[previous] * 1.0252 ** (1 / 252),
                                                   rel=1e-12)


# ----------------------------------------------------------------------------- drift


def test_drift_band_trades_only_when_a_limit_or_the_band_is_exceeded(folder):
    prices = synthetic_prices(days=420, seed=3)
    threshold, tolerance = 0.03, 0.005
    result = run(folder, prices, [EQUAL, MINVAR], start="2021-04-01", rebalance="drift",
                 drift_threshold=threshold, limit_tolerance=tolerance, cost_bps=5.0, min_fee=1.0)
    columns = [*TICKERS, "CASH"]
    for name, strategy in result.strategies.items():
        daily = strategy.daily_weights[columns]
        trades_on = set(strategy.weights.index)
        assert set(strategy.trades["date"]) <= trades_on
        target = None
        triggers = {"drift": 0, "limit": 0}
        for k, date in enumerate(daily.index):
            if k == 0:
                assert date in trades_on
            else:
                held = daily.iloc[k - 1].to_numpy()
                drifted = np.abs(held - target).max() > threshold
                breached = False
                if name == "minvar":  # caps 40 % per name, cash >= 5 %
                    breached = held[:-1].max() > 0.4 + tolerance or held[-1] < 0.05 - tolerance
                assert (date in trades_on) == (drifted or breached), (name, date)
                if date in trades_on:
                    triggers["drift" if drifted else "limit"] += 1
            if date in trades_on:
                target = strategy.weights.loc[date, columns].to_numpy()
        assert triggers["drift"] > 0
        if name == "minvar":
            reasons = strategy.reasons.iloc[1:]
            assert reasons.str.startswith(("drift", "limit")).all()


def test_drift_keys_are_rejected_without_the_drift_schedule(folder):
    with pytest.raises(ConfigError, match="drift_threshold") as error:
        make_config(folder, [EQUAL], drift_threshold=0.05)
    assert "test_backtest.toml" in str(error.value)


# ----------------------------------------------------------------------------- universe


def test_a_new_name_enters_only_after_min_history_days(folder):
    prices = synthetic_prices(days=360)
    listing = prices.index[200]
    prices.loc[: prices.index[199], "EEE"] = np.nan  # EEE lists on day 200
    result = run(folder, prices, [EQUAL, MINVAR, POLICY], start="2021-03-15",
                 rebalance="weekly", min_history_days=30)
    entry = prices.index[230]  # the first date with 30 prices strictly before it
    for name, strategy in result.strategies.items():
        weights = strategy.weights["EEE"]
        assert (weights.loc[: entry - pd.Timedelta(days=1)] == 0).all(), name
        assert (strategy.daily_weights.loc[: entry - pd.Timedelta(days=1), "EEE"] == 0).all()
        assert listing < entry
    ew = result.strategies["ew"].weights
    first_held = ew.index[ew["EEE"] > 0][0]
    assert first_held == ew.index[ew.index >= entry][0]
    assert ew.loc[first_held, "EEE"] == pytest.approx(0.2)


def test_start_moves_later_when_the_lookback_does_not_fit_and_says_so(folder):
    prices = synthetic_prices()
    result = run(folder, prices, [EQUAL], start="2020-06-01", lookback_days=40)
    assert result.start == prices.index[41]
    assert any(note.startswith("Start moved from 2020-06-01 to 2021-03-02") for note in
               result.notes), result.notes
    with pytest.raises(DataError, match="not enough history"):
        run(folder, prices.iloc[:30], [EQUAL], lookback_days=40)
    with pytest.raises(DataError, match="after the last price"):
        run(folder, prices, [EQUAL], start="2030-01-02")
    unset = run(folder, prices, [EQUAL], lookback_days=40)
    assert unset.start == prices.index[41]
    assert any(note.startswith("No start given") for note in unset.notes)


# ----------------------------------------------------------------------------- optimizer


def built_problems(monkeypatch) -> list:
    """The objective of every PortfolioProblem built from now on, in order."""
    built = []
    original = portfolio.optimization.problem.PortfolioProblem.__init__

    def counting_init(self, *args, **kwargs):
        built.append(args[1] if len(args) > 1 else kwargs.get("objective"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(portfolio.optimization.problem.PortfolioProblem, "__init__", counting_init)
    return built


def test_one_compiled_problem_per_strategy_and_failures_are_recorded(folder, monkeypatch):
    prices = synthetic_prices(days=360)
    prices.loc[: prices.index[149], ["DDD", "EEE"]] = np.nan  # only 3 names before day 150
    base = write_base(folder, max_weight=0.4, cash_floor=0.0, name="floor.toml")
    # a floor on DDD + EEE cannot hold before they list: infeasible, whatever the cash
    base.write_text(base.read_text().replace('tech = ["AAA", "BBB"]',
                                             'tech = ["AAA", "BBB"]\nlate = ["DDD", "EEE"]')
                    + "\n[limits.group_floors]\nlate = 0.2\n")
    built = built_problems(monkeypatch)
    result = run(folder, prices, [MINVAR, POLICY], base="floor.toml", start="2021-03-15",
                 min_history_days=20)
    names = [getattr(objective, "name", objective) for objective in built]
    assert names == ["min_variance", "min_variance"]  # once per strategy, not per date
    assert not result.strategies["minvar"].failures  # caps only: no floor to miss
    policy = result.strategies["policy"]
    # the floor of group late cannot hold until DDD/EEE have 20 prices
    assert policy.failures
    assert all("cannot" in failure.error or "infeasible" in failure.error
               for failure in policy.failures)
    assert all(f.date < prices.index[170] for f in policy.failures)
    assert policy.weights.index[0] >= prices.index[170]
    assert policy.daily_weights.loc[: policy.failures[-1].date, "CASH"].eq(1.0).all()
    assert policy.metrics.failures == len(policy.failures)
    assert sum(policy.solvers.values()) == len(policy.weights)


def test_caps_holding_less_than_the_budget_invest_what_they_allow(folder, monkeypatch):
    prices = synthetic_prices(days=360)
    prices.loc[: prices.index[149], ["DDD", "EEE"]] = np.nan  # only 3 names before day 150
    write_base(folder, max_weight=0.3, cash_floor=0.0, name="tight.toml")
    built = built_problems(monkeypatch)
    result = run(folder, prices, [MINVAR, POLICY], base="tight.toml", start="2021-03-15",
                 min_history_days=20)
    assert len(built) == 4  # each strategy's problem, and one copy with 10 % cash each
    listed = prices.index[170]  # DDD and EEE have 20 prices
    for name in ("minvar", "policy"):
        strategy = result.strategies[name]
        assert not strategy.failures
        early = strategy.weights.loc[: listed - pd.Timedelta(days=1)]
        late = strategy.weights.loc[listed:]
        # 3 names x 30 % hold 90 %: the rest stays in cash until DDD and EEE list
        np.testing.assert_allclose(early["CASH"], 0.10, atol=1e-7)
        np.testing.assert_allclose(early[["AAA", "BBB", "CCC"]], 0.30, atol=1e-7)
        np.testing.assert_allclose(late["CASH"], 0.0, atol=1e-7)
    notes = [note for note in result.notes if "could hold only 90.0 %" in note]
    assert len(notes) == 2 and notes[0].startswith("minvar: on ")


def test_vectorised_drift_between_rebalances_equals_stepping_day_by_day(folder, monkeypatch):
    prices = synthetic_prices(days=360)
    strategies = [EQUAL, HOLD, MINVAR, POLICY]
    keys = {"start": "2021-03-15", "cost_bps": 10.0, "min_fee": 1.0, "cash_yield": 0.04}
    fast = run(folder, prices, strategies, **keys)

    def day_by_day(self, start, stop):
        for j in range(start, stop):
            self.step(j, False)

    monkeypatch.setattr(_Book, "drift", day_by_day)
    slow = run(folder, prices, strategies, **keys)
    for name, strategy in fast.strategies.items():
        pd.testing.assert_series_equal(strategy.equity, slow.strategies[name].equity,
                                       rtol=1e-13)
        pd.testing.assert_frame_equal(strategy.daily_weights,
                                      slow.strategies[name].daily_weights, rtol=1e-13)


def test_window_returns_are_the_returns_of_the_window_prices(folder):
    prices = synthetic_prices(days=200)
    prices.loc[: prices.index[89], "EEE"] = np.nan  # lists inside some windows
    prices.iloc[120, 2] = np.nan  # a gap
    config = make_config(folder, [EQUAL])
    market, _, _ = build_market(config, prices, [])
    for i in (5, 41, 90, 91, 121, 150, 199):
        window = prices.iloc[max(0, i - config.lookback_days - 1): i]
        past = PastView.at(market, i)
        pd.testing.assert_frame_equal(past.returns(config.lookback_days), to_returns(window),
                                      check_freq=False)


def test_what_a_view_hands_out_is_a_copy(folder):
    prices = synthetic_prices(days=200)
    config = make_config(folder, [EQUAL])
    market, _, _ = build_market(config, prices, [])
    before = (market.prices.copy(), market.daily_returns.copy())
    past = PastView.at(market, 150)
    for frame in (past.prices(), past.prices(20), past.returns(), past.returns(20),
                  past.returns(20, frequency="weekly")):
        frame.iloc[:, :] = -1.0  # a strategy scribbling on what it was given
    pd.testing.assert_frame_equal(market.prices, before[0])
    pd.testing.assert_frame_equal(market.daily_returns, before[1])
    assert (past.prices() > 0).all().all()


def test_the_numpy_covariance_path_gives_the_general_paths_weights(folder, monkeypatch):
    prices = synthetic_prices(days=360)
    prices.loc[: prices.index[159], "EEE"] = np.nan  # ragged windows after EEE lists
    strategies = [MINVAR, POLICY, {"name": "rp", "kind": "risk_parity"}]
    used = []
    original = estimate_inputs_module._complete_window_estimate

    def recording(*args):
        estimate = original(*args)
        used.append(estimate is not None)
        return estimate

    monkeypatch.setattr(estimate_inputs_module, "_complete_window_estimate", recording)
    fast = run(folder, prices, strategies, start="2021-03-15", rebalance="weekly",
               min_history_days=20)
    assert any(used) and not all(used)  # both paths ran
    monkeypatch.setattr(estimate_inputs_module, "_complete_window_estimate", lambda *args: None)
    general = run(folder, prices, strategies, start="2021-03-15", rebalance="weekly",
                  min_history_days=20)
    for name, strategy in fast.strategies.items():
        pd.testing.assert_frame_equal(strategy.weights, general.strategies[name].weights,
                                      rtol=0, atol=1e-8)


def test_strategies_differing_in_expected_returns_share_one_covariance(folder, monkeypatch):
    prices = synthetic_prices(days=360)
    sharpe = {"name": "sharpe", "kind": "max_sharpe", "expected_returns": "james_stein"}
    estimated = []
    original = estimate_inputs_module._window_covariance

    def counting(*args):
        estimated.append(1)
        return original(*args)

    monkeypatch.setattr(estimate_inputs_module, "_window_covariance", counting)
    result = run(folder, prices, [MINVAR, sharpe], start="2021-03-15", rebalance="weekly")
    dates = result.strategies["minvar"].weights.index
    assert len(estimated) == len(dates)  # one estimate per date, not one per strategy


def test_padding_before_any_estimate_estimates_the_covariance(folder):
    from portfolio.backtesting.strategies import WindowEstimates
    from portfolio.estimate.inputs import RiskSettings

    prices = synthetic_prices(days=300)
    market, _, _ = build_market(make_config(folder, [EQUAL]), prices, [])
    past = PastView.at(market, 280)
    tickers = [*past.tickers, "ZZZ"]  # one name to pad
    alone = WindowEstimates(RiskSettings(factors=()), 120).padded(past, "ledoit_wolf", tickers)
    after = WindowEstimates(RiskSettings(factors=()), 120)
    after.at(past, "ledoit_wolf", None)
    pd.testing.assert_frame_equal(alone.matrix,
                                  after.padded(past, "ledoit_wolf", tickers).matrix)
    assert list(alone.matrix.index) == tickers


def test_a_shared_covariance_gives_the_inputs_of_a_fresh_estimate():
    from portfolio.estimate.inputs import ReturnSettings, RiskSettings, estimate_inputs

    returns = to_returns(synthetic_prices(days=300))
    names = list(returns.columns)
    risk, expected = RiskSettings(method="ledoit_wolf"), ReturnSettings(method="james_stein")
    fresh = estimate_inputs(returns, names, risk, expected=expected, risk_free_rate=0.03)
    alone = estimate_inputs(returns, names, risk)
    shared = estimate_inputs(returns, names, risk, expected=expected, risk_free_rate=0.03,
                             covariance=alone.covariance)
    pd.testing.assert_frame_equal(shared.covariance.matrix, fresh.covariance.matrix,
                                  rtol=0, atol=0)
    pd.testing.assert_series_equal(shared.expected_returns, fresh.expected_returns,
                                   rtol=0, atol=0)
    assert shared.warnings == fresh.warnings


# ----------------------------------------------------------------------------- metrics


def test_performance_metrics_on_a_hand_built_path():
    dates = pd.bdate_range("2024-01-01", periods=4)
    equity = pd.Series([99.0, 110.0, 88.0, 121.0], index=dates)
    benchmark = pd.Series([0.0, 0.05, -0.1, 0.2], index=dates)
    turnover = pd.Series([1.0, 0.2, 0.4], index=dates[[0, 1, 3]])
    costs = pd.Series([1.0, 0.5, 2.0], index=dates[[0, 1, 3]])
    m = performance_metrics(equity, 100.0, 0.0, benchmark, turnover=turnover, costs=costs,
                            min_days=0)  # the formulas, annualised even over four days
    returns = np.array([99 / 100 - 1, 110 / 99 - 1, 88 / 110 - 1, 121 / 88 - 1])
    assert m.cagr == pytest.approx(1.21 ** (252 / 4) - 1)
    assert m.volatility == pytest.approx(returns.std(ddof=1) * math.sqrt(252))
    assert m.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(252))
    assert m.max_drawdown == pytest.approx(0.2)
    assert (m.drawdown_peak, m.drawdown_trough, m.drawdown_recovery) == (
        dates[1], dates[2], dates[3])
    assert m.turnover == pytest.approx(0.3)  # inception excluded
    assert m.annual_turnover == pytest.approx(0.6 / (4 / 252))
    pre_trade = np.array([99 + 1.0, 110 + 0.5, 121 + 2.0])
    assert m.cost_drag == pytest.approx((np.array([1.0, 0.5, 2.0]) / pre_trade).sum() / (4 / 252))
    assert m.total_costs == 3.5 and m.rebalances == 3 and m.final_value == 121.0
    cov = np.cov(returns, benchmark.to_numpy(), ddof=1)
    assert m.beta == pytest.approx(cov[0, 1] / cov[1, 1])
    assert m.tracking_error == pytest.approx(
        (returns - benchmark.to_numpy()).std(ddof=1) * math.sqrt(252))


def test_a_period_under_a_year_shows_no_annualised_figures():
    dates = pd.bdate_range("2024-01-01", periods=4)
    equity = pd.Series([99.0, 110.0, 88.0, 121.0], index=dates)
    m = performance_metrics(equity, 100.0, 0.0, pd.Series(0.01, index=dates))
    assert m.total_return == pytest.approx(0.21) and m.days == 4 and not m.annualised
    for name in ANNUALISED:
        assert math.isnan(getattr(m, name)), name
        assert m.as_dict()[name] is None
    assert m.max_drawdown == pytest.approx(0.2) and m.final_value == 121.0


def test_strategy_metrics_are_wired_to_the_metrics_module(folder):
    prices = synthetic_prices()
    result = run(folder, prices, [EQUAL], start="2021-03-15", cost_bps=5.0, min_fee=1.0,
                 cash_yield="tbill")
    ew = result.strategies["ew"]
    returns = ew.returns
    assert returns.iloc[0] == pytest.approx(ew.equity.iloc[0] / 100_000.0 - 1)
    m = ew.metrics
    assert m.cagr == metrics_module.cagr(returns)
    assert m.sharpe == metrics_module.sharpe(returns, result.cash_rate)
    assert m.sortino == metrics_module.sortino(returns, result.cash_rate)
    spy = result.benchmarks["SPY"]
    spy_returns = spy / spy.shift(1) - 1
    spy_returns.iloc[0] = 0.0
    assert m.beta == pytest.approx(metrics_module.beta(returns, spy_returns), rel=1e-12)
    assert result.benchmark_metrics["SPY"].beta == pytest.approx(1.0)
    assert result.benchmark_metrics["SPY"].tracking_error == pytest.approx(0.0, abs=1e-12)
    # cash earns the previous trading day's bundled T-bill yield (carried over holidays)
    rates = treasury_bill_rates()
    on_dates = rates.reindex(rates.index.union(prices.index)).ffill().reindex(prices.index)
    expected = on_dates.shift(1).loc[result.cash_rate.index]
    pd.testing.assert_series_equal(result.cash_rate, expected, check_names=False)


# ----------------------------------------------------------------------------- config


def test_config_errors_name_the_file_and_the_key(folder):
    with pytest.raises(ConfigError) as error:
        make_config(folder, [EQUAL], lookback_day=40)
    message = str(error.value)
    assert "test_backtest.toml, key lookback_day" in message
    assert "did you mean 'lookback_days'" in message.lower()

    with pytest.raises(ConfigError) as error:
        make_config(folder, [EQUAL], start="2022-01-01", end="2021-01-01")
    assert "test_backtest.toml, key start" in str(error.value)

    with pytest.raises(ConfigError) as error:
        make_config(folder, [{"name": "x", "kind": "min_varience"}])
    message = str(error.value)
    assert "key strategies[0].kind" in message
    assert "did you mean 'min_variance'" in message.lower()

    with pytest.raises(ConfigError, match=r"key strategies\[1\].name"):
        make_config(folder, [EQUAL, EQUAL])
    with pytest.raises(ConfigError, match=r"(?s)strategies\[1\].name.*weights_ew\.png"):
        make_config(folder, [EQUAL, {"name": "EW", "kind": "equal_weight"}])
    with pytest.raises(ConfigError, match=r"(?i)write \[\[strategies\]\]\."):
        parse_backtest({"base_config": "base.toml", "strategies": 3},
                       source=str(folder / "test_backtest.toml"), base_dir=folder)
    with pytest.raises(ConfigError, match=r"strategies\[0\].objective"):
        make_config(folder, [{"name": "x", "kind": "equal_weight", "objective": "min_variance"}])
    with pytest.raises(ConfigError, match="key base_config"):
        make_config(folder, [EQUAL], base="missing.toml")
    with pytest.raises(ConfigError, match="key cash_yield"):
        make_config(folder, [EQUAL], cash_yield="tbil")


def test_load_backtest_hashes_the_file_and_reads_toml_dates(folder):
    path = folder / "bt.toml"
    path.write_text('base_config = "base.toml"\nstart = 2021-03-01\n'
                    '[[strategies]]\nname = "ew"\nkind = "equal_weight"\n')
    config = load_backtest(path)
    import hashlib

    assert config.config_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert config.start == "2021-03-01"
    assert config.tickers == TICKERS
    assert config.benchmarks == ("SPY",)


def test_packaged_example_config_is_valid():
    config = load_backtest(packaged_config_path("backtests/ai_policy.toml"))
    assert [s.kind for s in config.strategies] == [
        "buy_and_hold", "equal_weight", "min_variance", "risk_parity", "max_sharpe", "policy",
        "policy"]
    assert [s.objective for s in config.strategies[-2:]] == ["group_risk_budget", "min_variance"]
    assert config.universe_chosen == "2026-07-31"  # from the base config: hindsight noted
    assert config.benchmarks == ("SPY", "QQQ")
    assert (config.start, config.end, config.lookback_days) == ("2019-01-01", "2026-07-31", 504)
    assert {s.use_limits for s in config.strategies if s.kind == "policy"} == {"all"}


# ----------------------------------------------------------------------------- outputs


def check_output_folder(folder: Path, strategies) -> dict:
    for name in ("metrics.json", "equity.csv", "weights.csv", "trades.csv", "report.md",
                 "manifest.json", "equity.png", "drawdowns.png"):
        assert (folder / name).is_file(), name
    for png in folder.glob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC
    assert len(list(folder.glob("weights_*.png"))) == len(strategies)
    data = json.loads((folder / "metrics.json").read_text())
    assert {"metrics", "benchmarks", "annualised", "hindsight", "warnings", "notes"} <= set(data)
    metrics = data["metrics"]
    assert list(metrics) == list(strategies)
    for values in metrics.values():
        for key in ("cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar",
                    "turnover", "cost_drag", "beta", "tracking_error"):
            assert key in values
    report = (folder / "report.md").read_text()
    for image in folder.glob("*.png"):
        assert f"]({image.name})" in report
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["config"]["sha256"]) == 64 and len(manifest["data"]["sha256"]) == 64
    assert {"cvxpy", "clarabel", "osqp", "numpy", "pandas"} <= set(manifest["versions"])
    return metrics


def test_write_backtest_outputs(folder):
    prices = synthetic_prices()
    result = run(folder, prices.iloc[:200], [HOLD, MINVAR], start="2021-03-15", cost_bps=5.0,
                 min_fee=1.0)
    out = folder / "out" / "nested"
    files = write_backtest_outputs(result, out)
    assert all(path.parent == out for path in files)
    metrics = check_output_folder(out, result.strategies)
    assert metrics["minvar"]["total_return"] == pytest.approx(
        result.strategies["minvar"].metrics.total_return)
    assert metrics["minvar"]["cagr"] is None  # under a year: not annualised
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    assert list(equity.columns) == ["hold", "minvar", "Equal weight (reference)", "SPY", "QQQ"]
    np.testing.assert_allclose(equity["minvar"], result.strategies["minvar"].equity, rtol=1e-9)
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == sum(len(s.trades) for s in result.strategies.values())
    assert trades["cost"].sum() == pytest.approx(
        sum(s.metrics.total_costs for s in result.strategies.values()))
    table = render(backtest_report(result), "table")
    for name in ("hold", "minvar", "SPY (benchmark)", "CAGR", "Sharpe", "drawdown", "total"):
        assert name in table
    weights = pd.read_csv(out / "weights.csv")
    assert list(weights.columns) == ["strategy", "date", *TICKERS, "CASH"]
    np.testing.assert_allclose(weights[[*TICKERS, "CASH"]].sum(axis=1), 1.0, atol=1e-9)


# ----------------------------------------------------------------------------- CLI


def short_copy(tmp_path: Path) -> Path:
    """The packaged example, cut to a year with three strategies (fast)."""
    base = packaged_config_path("default.toml")
    path = tmp_path / "short_policy.toml"
    path.write_text(
        f'base_config = "{base.as_posix()}"\nstart = "2025-06-02"\nend = "2026-07-31"\n'
        'lookback_days = 250\nmin_history_days = 126\nrebalance = "quarterly"\n'
        'benchmarks = ["SPY", "QQQ"]\n'
        '[[strategies]]\nname = "Equal weight"\nkind = "equal_weight"\n'
        '[[strategies]]\nname = "Min variance (capped)"\nkind = "min_variance"\n'
        '[[strategies]]\nname = "Article policy"\nkind = "policy"\n'
    )
    return path


def invoke(args):
    from cli.main import cli

    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_cli_backtest_writes_the_folder_and_prints_metrics(tmp_path):
    config = short_copy(tmp_path)
    out = tmp_path / "out"
    result = invoke(["--offline", "backtest", str(config), "--output-dir", str(out),
                     "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout holds the JSON object and nothing else
    assert f"to {out}" in result.stderr and "Data: bundled" in result.stderr
    names = ["Equal weight", "Min variance (capped)", "Article policy"]
    metrics = check_output_folder(out, names)
    assert metrics["Article policy"]["failures"] == 0
    assert list(data["metrics"]) == names
    assert data["metrics"]["Equal weight"]["cagr"] == pytest.approx(
        metrics["Equal weight"]["cagr"])
    assert sorted(Path(f).name for f in data["files"]) == sorted(p.name for p in out.iterdir())


def test_cli_backtest_bad_config_exits_2_with_one_line(tmp_path, capsys):
    from cli.main import main

    path = tmp_path / "bad.toml"
    path.write_text('rebalanse = "monthly"\n[[strategies]]\nname = "a"\nkind = "equal_weight"\n')
    with pytest.raises(SystemExit) as exit_:
        main(["backtest", str(path), "--offline"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: unknown key 'rebalanse'")
    assert "did you mean 'rebalance'" in err.lower()
    assert "bad.toml, key rebalanse" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_backtest_of_the_packaged_example_end_to_end(tmp_path):
    config = packaged_config_path("backtests/ai_policy.toml")
    out = tmp_path / "ai_policy"
    result = invoke(["backtest", str(config), "--offline", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    names = [s.name for s in load_backtest(config).strategies]
    metrics = check_output_folder(out, names)
    for values in metrics.values():
        assert math.isfinite(values["cagr"]) and values["max_drawdown"] > 0
        assert values["rebalances"] + values["failures"] >= 80 or values["rebalances"] == 1
    assert metrics["Article policy"]["failures"] == 0
    assert metrics["Buy and hold"]["rebalances"] == 1
    crwv = pd.read_csv(out / "weights.csv", parse_dates=["date"])
    # CoreWeave lists 2025-03-28 and needs 126 prices before it may be held
    held = crwv.loc[crwv["CRWV"] > 0, "date"]
    assert held.empty or held.min() > pd.Timestamp("2025-09-01")


def test_manifest_price_hash_is_stable_and_sees_any_change():
    from portfolio.backtesting.engine import frame_hash as _frame_hash

    prices = pd.DataFrame({"A": [1.0, 2.0, 3.0], "B": [4.0, 5.0, 6.0]},
                          index=pd.date_range("2024-01-01", periods=3))
    assert _frame_hash(prices) == _frame_hash(prices.copy())
    changed = prices.copy()
    changed.iloc[1, 0] = 2.0000001
    assert _frame_hash(changed) != _frame_hash(prices)
    assert _frame_hash(prices.rename(columns={"B": "C"})) != _frame_hash(prices)


# ----------------------------------------------------------------------------- review fixes


def test_cash_alone_earns_exactly_the_rate_its_sharpe_is_measured_against(folder):
    prices = synthetic_prices()
    prices.index = pd.bdate_range("2023-01-02", periods=len(prices), name="date")  # ~5 % bills
    write_base(folder, tickers=TICKERS, max_weight=1.0, cash_floor=0.5, name="cashy.toml")
    result = run(folder, prices, [MINVAR], base="cashy.toml", start="2023-03-15",
                 cash_yield="tbill")
    strategy = result.strategies["minvar"]
    cash_value = strategy.daily_weights["CASH"] * strategy.equity
    rebalances = set(strategy.weights.index)
    dates = [d for d in strategy.equity.index[1:] if d not in rebalances]
    previous = {d: strategy.equity.index[strategy.equity.index.get_loc(d) - 1] for d in dates}
    cash_returns = pd.Series([cash_value[d] / cash_value[previous[d]] - 1 for d in dates],
                             index=pd.DatetimeIndex(dates))
    # the per-day rate portfolio.analytics.metrics subtracts for Sharpe / Sortino
    per_day = (1.0 + result.cash_rate.loc[cash_returns.index]) ** (1 / 252) - 1
    np.testing.assert_allclose(cash_returns.to_numpy(), per_day.to_numpy(), rtol=1e-9)
    # rate / 252 would credit ~2 % more a day: a T-bill Sharpe of ~100 against itself
    simple = result.cash_rate.loc[cash_returns.index] / 252
    assert (simple / per_day - 1 > 0.01).all()


def test_tbill_cash_yield_only_needs_rates_for_the_simulated_dates(folder):
    rng = np.random.default_rng(5)
    names = [*TICKERS, "SPY", "QQQ"]
    dates = pd.bdate_range("1998-06-01", "1999-12-31", name="date")
    returns = rng.normal(0.0003, 0.01, (len(dates), len(names)))
    prices = pd.DataFrame(100.0 * np.cumprod(1.0 + returns, axis=0), index=dates,
                          columns=names)
    # the lookback starts before the bundled T-bill series (1999-01-04), the backtest after
    result = run(folder, prices, [EQUAL], start="1999-06-01", cash_yield="tbill")
    assert result.start == pd.Timestamp("1999-06-01")
    rates = treasury_bill_rates()
    on_dates = rates.reindex(rates.index.union(dates)).ffill().reindex(dates).shift(1)
    pd.testing.assert_series_equal(result.cash_rate, on_dates.loc[result.cash_rate.index],
                                   check_names=False)
    with pytest.raises(DataError, match="no T-bill yield before"):
        run(folder, prices, [EQUAL], start="1998-09-01", cash_yield="tbill")


def test_a_universe_without_prices_in_the_period_is_a_data_error(folder, tmp_path, capsys):
    prices = synthetic_prices()
    unlisted = prices.copy()
    unlisted[list(TICKERS)] = np.nan
    with pytest.raises(DataError, match="no prices for the universe in the period"):
        run(folder, unlisted, [EQUAL])
    from portfolio.jobs.market import DataOptions

    with pytest.raises(DataError, match="no prices for the universe in the period"):
        backtest(make_config(folder, [EQUAL]), market=prices,
                 options=DataOptions(as_of="2020-06-01"))

    from cli.main import main

    path = tmp_path / "unlisted.toml"  # CoreWeave lists 2025-03-28
    path.write_text(f'base_config = "{packaged_config_path("default.toml").as_posix()}"\n'
                    'tickers = ["CRWV"]\nend = "2024-01-01"\n'
                    '[[strategies]]\nname = "a"\nkind = "equal_weight"\n')
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["--offline", "backtest", str(path), "--output-dir", str(out)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: no prices for the universe") and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_failed_write_leaves_no_partial_output_folder(folder, monkeypatch):
    from portfolio.data import output
    from portfolio.errors import InputError

    prices = synthetic_prices()
    result = run(folder, prices.iloc[:200], [HOLD], start="2021-03-15")

    blocked = folder / "blocked"
    (blocked / "report.md").mkdir(parents=True)
    with pytest.raises(InputError, match=r"report\.md"):
        write_backtest_outputs(result, blocked)
    assert [p.name for p in blocked.iterdir()] == ["report.md"]  # nothing written

    original = output.os.fsync
    calls = []

    def failing_fsync(descriptor):
        calls.append(descriptor)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(descriptor)

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    target = folder / "new" / "nested"
    with pytest.raises(InputError, match="No space left"):
        write_backtest_outputs(result, target)
    assert not (folder / "new").exists()
    assert len(calls) == 3

    kept = folder / "kept"  # an existing folder keeps its other files
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    calls.clear()
    with pytest.raises(InputError, match="No space left"):
        write_backtest_outputs(result, kept)
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]

    monkeypatch.setattr(output.os, "fsync", original)  # a re-run into a full folder
    written = write_backtest_outputs(result, kept)
    before = {path.name: path.read_bytes() for path in written}
    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    calls.clear()
    other = run(folder, prices.iloc[:220], [HOLD], start="2021-03-15")
    with pytest.raises(InputError, match="No space left"):
        write_backtest_outputs(other, kept)
    assert {path.name: path.read_bytes() for path in written} == before  # no mix of runs


# ----------------------------------------------------------------------------- honest reports


def test_a_universe_chosen_after_the_start_is_flagged_as_hindsight(folder):
    prices = synthetic_prices()
    flagged = run(folder, prices, [EQUAL], start="2021-03-15", universe_chosen="2026-07-31")
    assert flagged.hindsight and "2026-07-31" in flagged.hindsight
    assert "hindsight" in render(backtest_report(flagged), "markdown").lower()
    clean = run(folder, prices, [EQUAL], start="2021-03-15", universe_chosen="2020-12-31")
    assert clean.hindsight is None
    unknown = run(folder, prices, [EQUAL], start="2021-03-15")  # base config has no date
    assert "unknown" in unknown.hindsight and "universe_chosen" in unknown.hindsight


def test_the_default_config_dates_its_universe_and_a_tickers_override_drops_it(tmp_path):
    base = packaged_config_path("default.toml")
    data = {"base_config": str(base), "strategies": [EQUAL]}
    assert parse_backtest(data, "b.toml", tmp_path).universe_chosen == "2026-07-31"
    data["tickers"] = ["NVDA", "AMD"]
    assert parse_backtest(data, "b.toml", tmp_path).universe_chosen is None
    data["universe_chosen"] = "July 2026"
    with pytest.raises(ConfigError, match="universe_chosen"):
        parse_backtest(data, "b.toml", tmp_path)


def test_an_equal_weight_reference_is_added_when_the_file_has_none(folder):
    config = make_config(folder, [HOLD, {"name": "Equal weight (reference)", "kind": "policy"}])
    added = config.strategies[-1]
    assert (added.kind, added.reference) == ("equal_weight", True)
    assert added.name == "Equal weight (reference) 2"
    assert [s.name for s in make_config(folder, [EQUAL, HOLD]).strategies] == ["ew", "hold"]


def test_a_backtest_under_a_year_warns_and_leaves_ratios_out(folder, capsys):
    prices = synthetic_prices()
    result = run(folder, prices, [EQUAL], start="2021-03-15", end="2021-03-19")
    assert result.warnings and "less than a year" in result.warnings[0]
    metrics = result.strategies["ew"].metrics
    assert metrics.days == 5 and math.isnan(metrics.sharpe) and math.isnan(metrics.calmar)
    assert metrics.total_return == pytest.approx(metrics.final_value / 100_000 - 1)
    table = render(backtest_report(result), "markdown")
    assert table.startswith("# Backtest") and "Warning: The backtest covers 5 trading days" in table
    data = json.loads(render(backtest_report(result), "json"))
    assert data["annualised"] is False and data["metrics"]["ew"]["sharpe"] is None
