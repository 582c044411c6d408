"""Stress scenarios against hand-computed values on the bundled prices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli.main import main
from portfolio.analytics.exposure import lookthrough_exposure
from portfolio.analytics.stress import (
    REPLAY_WINDOWS,
    custom_scenario,
    hub_failure_scenario,
    replay_returns,
)
from portfolio.config.ecosystem import load_ecosystem
from portfolio.config.parse import parse_config
from portfolio.config.schema import CustomScenario
from portfolio.data.holdings import Holdings, read_holdings
from portfolio.data.prices import PriceFrame, load_prices
from portfolio.errors import ConfigError, DataError, InputError
from portfolio.jobs.market import DataOptions, MarketData
from portfolio.jobs.stress import scenario_names, stress_test

EXAMPLE_HOLDINGS = Path(__file__).parents[1] / "examples" / "holdings.csv"
BUNDLED = DataOptions(source="bundled", offline=True)

# Written out again here (not read from REPLAY_WINDOWS) so the test checks the module constant.
WINDOWS = {
    "dotcom_bust": ("2000-03-10", "2002-10-09"),
    "financial_crisis": ("2007-10-09", "2009-03-09"),
    "covid_crash": ("2020-02-19", "2020-03-23"),
    "rate_shock_2022": ("2022-01-03", "2022-10-12"),
    "deepseek_selloff": ("2025-01-24", "2025-01-27"),
    "ai_pullback_2024": ("2024-07-10", "2024-08-07"),
}


@pytest.fixture(scope="module")
def holdings():
    return read_holdings(EXAMPLE_HOLDINGS)


@pytest.fixture(scope="module")
def prices(holdings):
    """Independent read of the bundled closes (USD) of the holdings and SMH."""
    return load_prices([*holdings.tickers(), "SMH", "SPY"], source="bundled").prices


@pytest.fixture(scope="module")
def full_report(holdings, config, market):
    return stress_test(holdings, config=config, market=market)


def close_on_or_before(series: pd.Series, date: str) -> float:
    return float(series.loc[:date].iloc[-1])


def own_beta(asset: pd.Series, factor: pd.Series) -> float:
    frame = pd.concat([asset, factor], axis=1)
    returns = (frame / frame.shift(1) - 1.0).dropna()
    a, f = returns.iloc[:, 0].to_numpy(), returns.iloc[:, 1].to_numpy()
    return float(np.cov(a, f, ddof=1)[0, 1] / np.var(f, ddof=1))


# --------------------------------------------------------------------------- replays


def test_replay_windows_constant_holds_the_six_episodes():
    assert {w.name: (w.start, w.end) for w in REPLAY_WINDOWS} == WINDOWS


@pytest.mark.parametrize("name", list(WINDOWS))
def test_replay_pnl_equals_price_ratios_over_the_window(name, full_report, holdings, prices):
    start, end = WINDOWS[name]
    result = next(s for s in full_report.scenarios if s.name == name)
    total = sum(holdings.shares[t] * prices[t].iloc[-1] for t in holdings.tickers())
    total += holdings.cash
    assert full_report.total_value == pytest.approx(total, rel=1e-12)
    expected_total = 0.0
    for ticker in holdings.tickers():
        if ticker in result.proxied:
            expected_total += result.positions[ticker]
            continue
        p_start = close_on_or_before(prices[ticker], start)
        p_end = close_on_or_before(prices[ticker], end)
        value_now = holdings.shares[ticker] * prices[ticker].iloc[-1]
        # Today's position replayed: as many shares as today's value buys at p_start.
        expected = value_now / p_start * (p_end - p_start)
        assert result.positions[ticker] == pytest.approx(expected, rel=1e-9), ticker
        assert result.shocks[ticker] == pytest.approx(p_end / p_start - 1.0, rel=1e-9)
        expected_total += expected
    assert result.positions["CASH"] == 0.0
    assert result.pnl == pytest.approx(expected_total, rel=1e-9)
    assert result.pnl_pct == pytest.approx(expected_total / total, rel=1e-9)
    assert result.kind == "historical"
    assert result.window[0] <= pd.Timestamp(start) and result.window[1] <= pd.Timestamp(end)


def test_crwv_before_its_ipo_is_proxied_by_beta_times_smh(full_report, holdings, prices):
    result = next(s for s in full_report.scenarios if s.name == "deepseek_selloff")
    assert result.proxied == ("CRWV",)
    assert "CRWV" in result.description
    beta = own_beta(prices["CRWV"], prices["SMH"])
    smh = (
        close_on_or_before(prices["SMH"], "2025-01-27")
        / close_on_or_before(prices["SMH"], "2025-01-24")
        - 1.0
    )
    value_now = holdings.shares["CRWV"] * prices["CRWV"].iloc[-1]
    assert result.shocks["CRWV"] == pytest.approx(beta * smh, rel=1e-9)
    assert result.positions["CRWV"] == pytest.approx(value_now * beta * smh, rel=1e-9)
    assert smh < 0 and result.positions["CRWV"] < 0


def test_replay_returns_flags_only_names_without_prices(prices):
    replay = replay_returns(prices[["NVDA", "CRWV", "SMH"]], "2025-01-24", "2025-01-27")
    assert replay.proxied == ("CRWV",)
    assert set(replay.proxy_betas) == {"CRWV"}
    assert (replay.start, replay.end) == (pd.Timestamp("2025-01-24"), pd.Timestamp("2025-01-27"))
    nvda = prices["NVDA"]
    assert replay.returns["NVDA"] == pytest.approx(nvda["2025-01-27"] / nvda["2025-01-24"] - 1)
    # After the IPO CRWV has its own path.
    later = replay_returns(prices[["CRWV", "SMH"]], "2025-07-01", "2025-07-15")
    assert later.proxied == ()


def test_window_start_on_a_weekend_uses_the_last_close_before(prices):
    replay = replay_returns(prices[["NVDA"]], "2025-01-25", "2025-01-27")  # a Saturday
    assert replay.start == pd.Timestamp("2025-01-24")


def test_replay_outside_the_prices_is_a_data_error(prices):
    with pytest.raises(DataError, match="do not cover"):
        replay_returns(prices[["NVDA", "SMH"]].loc[:"2024-12-31"], "2025-01-24", "2025-01-27")
    with pytest.raises(InputError, match="ends before"):
        replay_returns(prices[["NVDA"]], "2025-01-27", "2025-01-24")


def test_proxy_without_smh_prices_is_a_data_error(prices):
    with pytest.raises(DataError, match="SMH"):
        replay_returns(prices[["NVDA", "CRWV"]], "2025-01-24", "2025-01-27")


def test_all_skips_replays_the_prices_do_not_cover(config, market):
    early = market.prices.loc[:"2024-12-31"]
    frame = PriceFrame(early, market.frame.source, market.frame.notice)
    truncated = MarketData(frame=frame, as_of=early.index[-1])
    holdings = Holdings({"NVDA": 10.0, "MSFT": 5.0}, cash=100.0)
    report = stress_test(holdings, config=config, market=truncated)
    names = {s.name for s in report.scenarios}
    assert "deepseek_selloff" not in names and "covid_crash" in names
    assert "skipped deepseek_selloff" in report.notice
    with pytest.raises(DataError, match="do not cover"):
        stress_test(holdings, config=config, market=truncated, scenario="deepseek_selloff")


# --------------------------------------------------------------------------- hub failure


def test_hub_failure_shocks_from_given_exposures_and_betas():
    values = pd.Series({"A": 1000.0, "B": 2000.0, "C": 500.0})
    exposures = pd.Series({"A": 0.2, "B": 0.5, "C": 0.0})
    betas = pd.Series({"A": 1.5, "B": 0.8, "C": 1.0})
    result = hub_failure_scenario(
        values, exposures, betas, hub="OpenAI", severity=0.5, market_shock=-0.1, cash=500.0
    )
    # A: -0.5*0.2 + 1.5*-0.1 = -0.25; B: -0.5*0.5 + 0.8*-0.1 = -0.33; C: 1.0*-0.1 = -0.1
    assert dict(result.shocks) == pytest.approx({"A": -0.25, "B": -0.33, "C": -0.1, "CASH": 0.0})
    assert dict(result.positions) == pytest.approx(
        {"A": -250.0, "B": -660.0, "C": -50.0, "CASH": 0.0}
    )
    assert result.pnl == pytest.approx(-960.0)
    assert result.pnl_pct == pytest.approx(-960.0 / 4000.0)
    assert (result.name, result.kind, result.window) == ("openai_failure", "hub_failure", None)


def test_hub_failure_loss_is_floored_at_the_position_value():
    values = pd.Series({"A": 1000.0})
    result = hub_failure_scenario(
        values,
        pd.Series({"A": 1.0}),
        pd.Series({"A": 3.0}),
        hub="OpenAI",
        severity=1.0,
        market_shock=-0.5,
    )
    assert result.shocks["A"] == -1.0 and result.pnl == -1000.0


def test_hub_failure_end_to_end_uses_lookthrough_and_lookback_betas(
    full_report, holdings, config, prices
):
    result = next(s for s in full_report.scenarios if s.kind == "hub_failure")
    graph = load_ecosystem(config.ecosystem.file)
    exposures = lookthrough_exposure(graph, "OpenAI", config.ecosystem.damping)
    lookback = prices.iloc[-(config.risk.lookback_days + 1) :]
    for ticker in holdings.tickers():
        beta = own_beta(lookback[ticker], lookback["SPY"])
        expected = -0.5 * exposures[ticker] + beta * -0.10
        assert result.shocks[ticker] == pytest.approx(expected, rel=1e-9), ticker


# --------------------------------------------------------------------------- custom


def test_custom_scenario_ticker_overrides_its_group():
    values = pd.Series({"A": 100.0, "B": 200.0, "C": 300.0, "D": 400.0})
    groups = {"chips": ("A", "B"), "cloud": ("C",)}
    for shocks in ({"chips": -0.3, "B": -0.6}, {"B": -0.6, "chips": -0.3}):
        result = custom_scenario(values, CustomScenario("crash", shocks), groups)
        assert dict(result.shocks) == {"A": -0.3, "B": -0.6, "C": 0.0, "D": 0.0}
        assert result.pnl == pytest.approx(-30.0 - 120.0)
        assert result.pnl_pct == pytest.approx(-150.0 / 1000.0)
        assert "CASH" not in result.positions


def test_custom_scenario_conflicting_groups_need_a_ticker_shock():
    values = pd.Series({"A": 100.0})
    groups = {"chips": ("A",), "ai": ("A",)}
    with pytest.raises(InputError, match="conflicting shocks for A"):
        custom_scenario(values, CustomScenario("x", {"chips": -0.3, "ai": -0.5}), groups)
    result = custom_scenario(
        values, CustomScenario("x", {"chips": -0.3, "ai": -0.5, "A": 0.1}), groups
    )
    assert result.shocks["A"] == 0.1


def test_default_chip_crash_on_the_example(full_report, holdings, prices):
    result = next(s for s in full_report.scenarios if s.name == "chip_crash")
    for ticker, shock in {
        "NVDA": -0.3,
        "AVGO": -0.3,
        "AMD": -0.3,
        "CRWV": -0.6,
        "MSFT": 0.0,
        "ORCL": 0.0,
        "9984.T": 0.0,
    }.items():
        value = holdings.shares[ticker] * prices[ticker].iloc[-1]
        assert result.positions[ticker] == pytest.approx(value * shock, rel=1e-12)


# --------------------------------------------------------------------------- entry point


def test_scenarios_are_sorted_worst_first(full_report, config):
    pnls = [s.pnl for s in full_report.scenarios]
    assert pnls == sorted(pnls)
    assert full_report.worst is full_report.scenarios[0]
    assert {s.name for s in full_report.scenarios} == set(scenario_names(config))
    for scenario in full_report.scenarios:
        assert sum(scenario.positions.values()) == pytest.approx(scenario.pnl, rel=1e-12)


def test_one_named_scenario(holdings, config, market):
    report = stress_test(holdings, config=config, market=market, scenario="chip_crash")
    assert [s.name for s in report.scenarios] == ["chip_crash"]


def test_unknown_scenario_lists_valid_names(holdings, config, market):
    with pytest.raises(InputError) as error:
        stress_test(holdings, config=config, market=market, scenario="covid")
    assert "covid_crash" in error.value.message and "did you mean" in error.value.message.lower()


def test_custom_name_clashing_with_a_builtin_is_a_config_error():
    config = parse_config(
        {
            "universe": {"tickers": ["NVDA"]},
            "stress": {"custom": [{"name": "covid_crash", "shocks": {"NVDA": -0.2}}]},
        }
    )
    with pytest.raises(ConfigError, match="duplicate scenario name"):
        scenario_names(config)


# --------------------------------------------------------------------------- CLI


def run_cli(args, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PORTFOLIO_CACHE_DIR", str(tmp_path))  # empty cache: bundled prices
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return exit_.value.code, capsys.readouterr()


def test_cli_json_shape(capsys, monkeypatch, tmp_path):
    code, out = run_cli(
        ["stress", "--holdings", str(EXAMPLE_HOLDINGS), "--offline", "--format", "json"],
        capsys,
        monkeypatch,
        tmp_path,
    )
    assert code == 0, out.err
    data = json.loads(out.out)
    assert {"scenarios", "total_value", "as_of", "data_source"} <= set(data)
    assert data["as_of"] == "2026-07-31" and data["data_source"] == "bundled"
    scenarios = data["scenarios"]
    assert len(scenarios) == 8
    assert [s["pnl"] for s in scenarios] == sorted(s["pnl"] for s in scenarios)
    for scenario in scenarios:
        assert {"name", "kind", "pnl", "pnl_pct", "positions", "shocks", "proxied"} <= set(scenario)
        assert set(scenario["positions"]) == {
            "NVDA",
            "CRWV",
            "MSFT",
            "AVGO",
            "AMD",
            "ORCL",
            "9984.T",
            "CASH",
        }
        assert sum(scenario["positions"].values()) == pytest.approx(scenario["pnl"])
        assert scenario["pnl_pct"] == pytest.approx(scenario["pnl"] / data["total_value"])
    by_name = {s["name"]: s for s in scenarios}
    assert by_name["deepseek_selloff"]["proxied"] == ["CRWV"]
    assert by_name["openai_failure"]["proxied"] == []


def test_cli_unknown_scenario_exits_2_with_one_line(capsys, monkeypatch, tmp_path):
    code, out = run_cli(
        ["stress", "--holdings", str(EXAMPLE_HOLDINGS), "--offline", "--scenario", "covid"],
        capsys,
        monkeypatch,
        tmp_path,
    )
    assert code == 2
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: unknown scenario 'covid'")
    assert "covid_crash" in lines[0]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_cli_other_formats_name_every_scenario(fmt, capsys, monkeypatch, tmp_path):
    code, out = run_cli(
        ["--offline", "stress", "--holdings", str(EXAMPLE_HOLDINGS), "--format", fmt],
        capsys,
        monkeypatch,
        tmp_path,
    )
    assert code == 0, out.err
    for window in REPLAY_WINDOWS:
        assert window.name[:12] in out.out
    assert "openai_failure" in out.out and "chip_crash" in out.out
