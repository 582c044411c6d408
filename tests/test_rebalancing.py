"""Tests of portfolio.jobs.rebalance (the job) and portfolio.report.rebalance.

Invariants (round trip, cash floor, limits kept or reported, no-trade band, costs) and
hand-computed oracles. Prices: the bundled dataset (no network), loaded once per module.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from portfolio.data.holdings import Holdings, read_holdings, read_target_weights
from portfolio.errors import InputError
from portfolio.jobs.limits import constraints_from_config, theme_exposures
from portfolio.jobs.market import DataOptions, market_data
from portfolio.jobs.rebalance import RebalanceRun, drift_check, rebalance
from portfolio.jobs.risk import risk_report
from portfolio.optimization.constraints import check_all
from portfolio.report import fmt_pct, render
from portfolio.report.rebalance import drift_report, rebalance_report
from portfolio.trading.costs import TradingCosts
from portfolio.trading.orders import apply_orders, plan_rebalance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BUNDLED = DataOptions(source="bundled", offline=True)

# A diversified allocation that meets every limit of the default config (checked below).
COMPLIANT = {"TSM": 0.19, "INTC": 0.06, "GOOGL": 0.19, "MSFT": 0.19, "AMZN": 0.05,
             "META": 0.19, "9984.T": 0.04, "CASH": 0.09}


@pytest.fixture(scope="module")
def closes(market):
    return market.prices.loc[market.as_of]


@pytest.fixture(scope="module")
def holdings(config):
    return read_holdings(EXAMPLES / "holdings.csv", known_tickers=config.tickers)


@pytest.fixture(scope="module")
def target_file(config):
    return read_target_weights(EXAMPLES / "target_weights.csv", known_tickers=config.tickers)


@pytest.fixture(scope="module")
def optimizer_run(config, market, holdings):
    """Toward the min-variance allocation of the default limits (one optimisation)."""
    min_variance = replace(config, optimizer=replace(config.optimizer, objective="min_variance"))
    return rebalance(holdings, config=min_variance, market=market)


@pytest.fixture(scope="module")
def file_run(config, market, holdings, target_file):
    return rebalance(holdings, config=config, market=market, target=target_file,
                     target_source="target_weights.csv")


@pytest.fixture(scope="module")
def fractional_run(config, market, holdings, target_file):
    return rebalance(holdings, config=config, market=market, target=target_file,
                     fractional=True)


@pytest.fixture(scope="module")
def runs(optimizer_run, file_run, fractional_run):
    return {"optimizer": optimizer_run, "file": file_run, "fractional": fractional_run}


RUNS = ["optimizer", "file", "fractional"]


def limits(config):
    return constraints_from_config(config, exposures=theme_exposures(config))


def with_trading(config, **changes):
    return dataclasses.replace(config, trading=dataclasses.replace(config.trading, **changes))


def with_limits(config, **changes):
    return dataclasses.replace(config, limits=dataclasses.replace(config.limits, **changes))


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", RUNS)
def test_orders_applied_to_the_holdings_give_the_reported_after_holdings_exactly(
    runs, holdings, name
):
    run = runs[name]
    before = pd.Series(dict(holdings.shares), dtype=float)
    shares, cash = apply_orders(before, holdings.cash, run.orders)
    after = run.after_holdings
    assert {t: s for t, s in shares.items() if s > 0} == dict(after.shares)  # exact
    assert cash == after.cash == run.plan.after_cash == run.after.valuation.cash

    # the same by hand, order by order
    position, money = dict(holdings.shares), holdings.cash
    for order in run.orders:
        sign = 1.0 if order.side == "buy" else -1.0
        position[order.ticker] = position.get(order.ticker, 0.0) + sign * order.shares
        money = money - (order.notional + order.cost) if sign > 0 else (
            money + (order.notional - order.cost))
    assert {t: s for t, s in position.items() if s > 0} == dict(after.shares)
    assert money == after.cash


@pytest.mark.parametrize("name", RUNS)
def test_reported_after_weights_are_the_after_holdings_at_the_as_of_close(runs, closes, name):
    run = runs[name]
    after = run.after_holdings
    values = {t: s * closes[t] for t, s in after.shares.items()}
    total = sum(values.values()) + after.cash
    assert run.value_after == pytest.approx(total, rel=1e-12)
    for ticker, value in values.items():
        assert run.after.weights[ticker] == pytest.approx(value / total, rel=1e-12)
        assert run.plan.after_weights[ticker] == pytest.approx(value / total, rel=1e-12)
    assert run.after.weights["CASH"] == pytest.approx(after.cash / total, rel=1e-12)


def test_whole_share_orders_are_whole_and_priced_at_the_as_of_close(runs, closes):
    for name in ("optimizer", "file"):
        for order in runs[name].orders:
            assert order.shares == int(order.shares) > 0
            assert order.price == closes[order.ticker]
            assert order.notional == pytest.approx(order.shares * order.price, rel=1e-15)
    assert any(o.shares != int(o.shares) for o in runs["fractional"].orders)


def test_sells_come_before_buys_and_never_sell_more_than_held(runs, holdings):
    for run in runs.values():
        sides = [order.side for order in run.orders]
        assert sides == sorted(sides, key=lambda side: side != "sell")
        for order in run.orders:
            if order.side == "sell":
                assert order.shares <= holdings.shares[order.ticker]


# --------------------------------------------------------------------------- cash


@pytest.mark.parametrize("name", RUNS)
def test_cash_is_never_negative_and_meets_the_floor(runs, config, name):
    run = runs[name]
    floor = config.limits.cash_floor
    assert run.plan.after_cash >= 0
    assert run.plan.after_cash >= floor * run.value_after
    cash_row = next(row for row in run.after.limits if row.name == "cash_floor")
    assert cash_row.ok and cash_row.value >= floor
    # running cash stays >= 0 while the orders are executed (sells first)
    cash = run.plan.before_cash
    for order in run.orders:
        cash += order.cash_flow
        assert cash >= 0


def test_cash_floor_holds_when_the_target_wants_less_cash(config, market):
    poor = Holdings({"NVDA": 100.0, "MSFT": 40.0}, cash=0.0)
    target = {"NVDA": 0.5, "MSFT": 0.5}  # no cash at all; the config floor is 5 %
    run = rebalance(poor, config=config, market=market, target=target)
    assert run.plan.after_cash >= config.limits.cash_floor * run.value_after
    assert run.after.weights["CASH"] >= config.limits.cash_floor
    assert any("cash floor" in note for note in run.notes)


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize("name", RUNS)
def test_every_limit_the_target_meets_holds_after_trading_or_is_reported(
    runs, config, name
):
    run = runs[name]
    target_rows = check_all(limits(config), run.target, config.tickers)
    after = {row.name: row for row in run.after.limits}
    for row in target_rows:
        if row.ok and not after[row.name].ok:
            assert any(f" {row.name} unreachable by" in note for note in run.notes)
        if not row.ok:
            assert any(f"target itself breaches {row.name}" in note for note in run.notes)


def test_after_limit_table_uses_the_optimizer_limit_objects(runs, config):
    for run in runs.values():
        expected = check_all(limits(config), run.plan.after_weights, config.tickers)
        assert [(r.name, r.ok) for r in expected] == [(r.name, r.ok) for r in run.after.limits]
        assert run.breaches_after == tuple(r for r in run.after.limits if not r.ok)
        assert run.breaches_before == tuple(r for r in run.before.limits if not r.ok)


def test_rounding_repair_keeps_caps_with_at_most_one_share_less(optimizer_run, config):
    run = optimizer_run
    assert run.breaches_before and not run.breaches_after and not run.unreachable
    # plain rounding of the same target (no repair) breaks caps the target meets ...
    plain = plan_rebalance(
        run.plan.before_shares, run.plan.before_cash, run.plan.prices,
        run.target[run.target > 0],
        costs=TradingCosts(config.trading.cost_bps, config.trading.min_fee),
        cash_floor=config.limits.cash_floor, no_trade_weight=config.trading.no_trade_weight,
        no_trade_dollars=config.trading.no_trade_dollars,
    )
    plain_rows = check_all(limits(config), plain.after_weights, config.tickers)
    assert any(not row.ok for row in plain_rows)
    # ... while the repaired plan holds each moved name one share under its cap
    assert run.adjusted
    value = run.value_after
    for ticker in run.adjusted:
        if config.limits.cap_of(ticker) >= run.target[ticker] - 1e-9:
            shares = run.plan.after_shares[ticker]
            price = run.plan.prices[ticker]
            within = shares * price / value <= run.target[ticker] + 1e-9
            one_more_breaks = any(
                not row.ok for row in check_all(
                    limits(config),
                    _with_extra_share(run, ticker),
                    config.tickers,
                )
            )
            assert within and one_more_breaks, ticker
            assert abs(shares * price - run.target[ticker] * value) <= 1.5 * price
        assert any(note.startswith(f"{ticker} ends at") for note in run.notes)


def _with_extra_share(run: RebalanceRun, ticker: str) -> pd.Series:
    """After-trade weights with one more share of ``ticker`` bought from cash."""
    values = run.plan.after_shares * run.plan.prices
    values[ticker] += run.plan.prices[ticker]
    cash = run.plan.after_cash - run.plan.prices[ticker]
    total = values.sum() + cash
    return pd.concat([values / total, pd.Series({"CASH": cash / total})])


def test_a_limit_whole_shares_cannot_reach_is_reported_with_its_shortfall(config, market):
    # MSFT must be at least 10 % but one share (~465 USD) is ~46 % of 1,000 USD, above the
    # 20 % cap: no whole-share plan meets both.
    floored = with_limits(config, min_weight_overrides={"MSFT": 0.10})
    run = rebalance(Holdings({}, cash=1000.0), config=floored, market=market,
                    target={"MSFT": 0.10, "CASH": 0.90})
    assert [row.name for row in run.unreachable] == ["min_weight[MSFT]"]
    row = run.unreachable[0]
    assert row.excess == pytest.approx(0.10 - run.after.weights.get("MSFT", 0.0), abs=1e-12)
    assert any(note.startswith("rounding makes min_weight[MSFT] unreachable by 10.00 %")
               for note in run.notes)
    summary = " ".join(rebalance_report(run).summary)
    assert "min_weight[MSFT] off by 10.00 %" in summary


def test_the_target_file_is_compliant_fixture_is_compliant(config):
    rows = check_all(limits(config), COMPLIANT, config.tickers)
    assert all(row.ok for row in rows)


# --------------------------------------------------------------------------- band, costs


def compliant_holdings(closes: pd.Series, value: float = 1_000_000.0) -> Holdings:
    shares = {t: math.floor(w * value / closes[t]) for t, w in COMPLIANT.items() if t != "CASH"}
    invested = sum(s * closes[t] for t, s in shares.items())
    return Holdings({t: float(s) for t, s in shares.items()}, cash=value - invested)


def test_no_trade_band_suppresses_small_orders(config, market, closes):
    near = compliant_holdings(closes)
    drifted = dict(near.shares)
    drifted["TSM"] = drifted["TSM"] + 4  # ~1,600 USD, 0.16 % of the value
    drifted["MSFT"] = drifted["MSFT"] - 3
    holdings = Holdings(drifted, cash=near.cash)
    free = with_trading(config, no_trade_weight=0.0, no_trade_dollars=0.0)
    banded = with_trading(config, no_trade_weight=0.01, no_trade_dollars=0.0)
    unbanded_run = rebalance(holdings, config=free, market=market, target=COMPLIANT)
    banded_run = rebalance(holdings, config=banded, market=market, target=COMPLIANT)
    assert {o.ticker for o in unbanded_run.orders} >= {"TSM", "MSFT"}
    assert banded_run.orders == ()
    assert set(banded_run.plan.skipped) == {o.ticker for o in unbanded_run.orders}
    assert all(o.notional < 0.01 * banded_run.value_before for o in unbanded_run.orders)
    assert banded_run.plan.after_cash == holdings.cash
    assert banded_run.total_cost == 0.0 and banded_run.turnover == 0.0


def test_dollar_band_keeps_only_orders_at_least_that_large(config, market, holdings):
    band = 5_000.0
    run = rebalance(holdings, config=with_trading(config, no_trade_dollars=band),
                    market=market, target=COMPLIANT)
    for order in run.orders:
        kept_sell = any(f"kept the {order.ticker} sell" in note for note in run.notes)
        assert order.notional >= band or kept_sell
    assert run.plan.skipped


@pytest.mark.parametrize("name", RUNS)
def test_costs_add_up(runs, config, name):
    run = runs[name]
    bps, min_fee = config.trading.cost_bps, config.trading.min_fee
    for order in run.orders:
        assert order.cost == pytest.approx(max(min_fee, bps / 1e4 * order.notional), rel=1e-15)
    assert run.total_cost == pytest.approx(math.fsum(o.cost for o in run.orders), abs=1e-9)
    assert run.value_before - run.value_after == pytest.approx(run.total_cost, abs=1e-6)
    turnover = 0.5 * (sum(o.notional for o in run.orders)
                      + abs(run.plan.after_cash - run.plan.before_cash)) / run.value_before
    assert run.turnover == pytest.approx(turnover, rel=1e-12)
    data = rebalance_report(run).data
    assert data["cost"] == pytest.approx(sum(o["cost"] for o in data["orders"]), abs=1e-9)
    assert data["cost_bps"] == pytest.approx(1e4 * run.total_cost / run.value_before)


def test_fractional_orders_hit_the_target_when_cash_is_slack(config, market, holdings):
    free = with_trading(config, no_trade_weight=0.0, no_trade_dollars=0.0)
    run = rebalance(holdings, config=free, market=market, target=COMPLIANT, fractional=True)
    for ticker, weight in COMPLIANT.items():
        assert run.plan.after_weights[ticker] == pytest.approx(weight, abs=1e-9)
    assert not run.breaches_after and not run.adjusted


# --------------------------------------------------------------------------- risk


def test_before_and_after_risk_are_the_risk_report_of_each_holdings(file_run, config, market,
                                                                     holdings):
    before = risk_report(holdings, config=config, market=market)
    after = risk_report(file_run.after_holdings, config=config, market=market)
    assert file_run.before.volatility == before.volatility
    assert file_run.after.volatility == after.volatility
    assert file_run.after.var["parametric"]["95%"]["1d"] == after.var["parametric"]["95%"]["1d"]
    assert file_run.before.as_of == file_run.after.as_of == market.as_of
    assert file_run.after.risk_contributions.sum() == pytest.approx(file_run.after.volatility)


def test_the_optimizer_target_lowers_the_risk(optimizer_run):
    assert optimizer_run.objective == "min_variance"
    assert optimizer_run.after.volatility < optimizer_run.before.volatility
    assert optimizer_run.target.sum() == pytest.approx(1.0, abs=1e-9)


# --------------------------------------------------------------------------- drift check


def test_drift_check_reports_the_risk_report_breaches(config, market, holdings):
    check = drift_check(holdings, config=config, market=market)
    report = risk_report(holdings, config=config, market=market)
    assert [(r.name, r.ok) for r in check.limits] == [(r.name, r.ok) for r in report.limits]
    assert {r.name for r in check.breaches} == {
        "max_weight[NVDA]", "max_weight[CRWV]", "group_cap[semiconductors]",
        "group_cap[emerging]", "cash_floor", "theme_cap[openai_lookthrough]",
    }
    assert not check.ok


def test_drift_check_of_compliant_holdings_is_ok(config, market, closes):
    check = drift_check(compliant_holdings(closes), config=config, market=market)
    assert check.ok and check.breaches == ()
    report = drift_report(check)
    assert report.summary[0].endswith(f"all {len(check.limits)} limits hold.")
    assert report.data["ok"] is True


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ({"NVDA": 0.5, "MSFT": 0.3, "CASH": 0.1}, ("sum to 0.9", "set cash to 0.2")),
        ({"NVDA": 0.7, "MSFT": 0.4}, ("more than 1",)),
        ({"NVDAA": 0.5, "CASH": 0.5}, ("unknown ticker", "did you mean 'nvda'")),
        ({"NVDA": -0.1, "CASH": 1.1}, ("invalid target weight",)),
        ({"NVDA": "half", "CASH": 0.5}, ("invalid target weight",)),
    ],
)
def test_bad_target_weights_raise_input_error(config, market, holdings, target, words):
    with pytest.raises(InputError) as info:
        rebalance(holdings, config=config, market=market, target=target)
    for word in words:
        assert word in info.value.message.lower()


def test_target_without_a_price_at_the_as_of_date(config):
    early = market_data(config, DataOptions(source="bundled", offline=True, as_of="2024-06-01"))
    with pytest.raises(InputError) as info:
        rebalance(Holdings({"NVDA": 10.0}, cash=1000.0), config=config, market=early,
                  target={"CRWV": 0.5, "CASH": 0.5})
    assert "no price for CRWV on 2024-05-31" in info.value.message
    with pytest.raises(InputError) as info:
        rebalance(read_holdings(EXAMPLES / "holdings.csv"), config=config, market=early,
                  target={"NVDA": 0.5, "CASH": 0.5})
    assert "CRWV" in info.value.message and "2024-05-31" in info.value.message


def test_unknown_held_ticker_is_named(config, market):
    with pytest.raises(InputError, match="unknown ticker 'TSLA'"):
        rebalance(Holdings({"TSLA": 1.0}, cash=10.0), config=config, market=market,
                  target={"CASH": 1.0})
    with pytest.raises(InputError, match="unknown ticker 'TSLA'"):
        drift_check(Holdings({"TSLA": 1.0}, cash=10.0), config=config, market=market)


# --------------------------------------------------------------------------- report


def test_json_shape(file_run):
    data = json.loads(render(rebalance_report(file_run), "json"))
    assert {"orders", "before", "after", "turnover", "cost", "notes", "as_of",
            "data_source"} <= set(data)
    assert data["as_of"] == "2026-07-31" and data["data_source"] == "bundled"
    for order in data["orders"]:
        assert set(order) == {"ticker", "side", "shares", "price", "notional", "cost",
                              "realised_gain"}
    assert [(o["ticker"], o["side"], o["shares"]) for o in data["orders"]] == [
        (o.ticker, o.side, o.shares) for o in file_run.orders
    ]
    for side in ("before", "after"):
        block = data[side]
        assert {"weights", "limits", "volatility", "var", "risk_contributions",
                "exposure"} <= set(block)
        assert sum(block["weights"].values()) == pytest.approx(1.0, abs=1e-12)
        assert set(block["limits"][0]) == {"name", "value", "limit", "sense", "ok"}
        assert block["var"]["parametric"]["95%"]["1d"] > 0
        assert sum(block["risk_contributions"].values()) == pytest.approx(block["volatility"])
    assert data["before"]["weights"]["NVDA"] == pytest.approx(0.41, abs=0.01)
    assert data["turnover"] == file_run.turnover


def test_markdown_starts_with_a_summary_paragraph(optimizer_run):
    text = render(rebalance_report(optimizer_run), "markdown")
    title, blank, summary, blank2, *rest = text.splitlines()
    assert title == "# Rebalancing" and blank == "" == blank2
    assert summary[0].isdigit() and not summary.startswith(("#", "|"))
    for words in ("Before trading, 6 of 22 limits are breached", "fix all 6 breaches",
                  "USD in fees", "bps of the portfolio value", "turnover", "VaR"):
        assert words in summary
    assert rest[0] == "## Orders"
    for heading in ("## Weights", "## Groups", "## Risk", "## Risk contributions",
                    "## Limits", "## Notes"):
        assert heading in rest


def test_limit_table_shows_before_and_after(optimizer_run):
    report = rebalance_report(optimizer_run)
    table = next(s for s in report.sections if s.title == "Limits")
    nvda = next(row for row in table.rows if row[0] == "max_weight[NVDA]")
    assert nvda[3] == "BREACH" and nvda[5] == "ok"


def test_before_and_after_columns_come_from_the_before_and_after_reports(optimizer_run):
    run = optimizer_run
    sections = {s.title: s for s in rebalance_report(run).sections}
    for title, field in (("Groups", lambda r: r.group_risk["weight"]),
                         ("Risk contributions", lambda r: r.risk_contributions)):
        for key, before, after in sections[title].rows:
            assert before == fmt_pct(float(field(run.before).get(key, 0.0))), (title, key)
            assert after == fmt_pct(float(field(run.after).get(key, 0.0))), (title, key)
    risk = {row[0]: row[1:] for row in sections["Risk"].rows}
    assert risk["volatility (annual)"] == (fmt_pct(run.before.volatility),
                                           fmt_pct(run.after.volatility))
    assert risk["cash"] == (fmt_pct(run.before.weights["CASH"]),
                            fmt_pct(run.after.weights["CASH"]))
    assert run.before.volatility != run.after.volatility  # a swap would show


def test_result_is_immutable(file_run):
    with pytest.raises(dataclasses.FrozenInstanceError):
        file_run.notes = ()
    assert isinstance(file_run.orders, tuple)
    assert np.isclose(file_run.target.sum(), 1.0)


# --------------------------------------------------------------------------- property


@pytest.mark.slow
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    held=st.lists(st.integers(0, 400), min_size=14, max_size=14),
    cash=st.floats(0.0, 50_000.0),
    raw_target=st.lists(st.floats(0.0, 1.0), min_size=14, max_size=14),
    cash_weight=st.floats(0.0, 0.3),
    fractional=st.booleans(),
)
def test_invariants_hold_for_random_books(config, market, held, cash, raw_target, cash_weight,
                                          fractional):
    tickers = list(config.tickers)
    holdings = Holdings({t: float(s) for t, s in zip(tickers, held) if s}, cash=cash)
    assume(sum(held) > 0 or cash > 0)
    assume(sum(raw_target) > 0.01)
    scale = (1.0 - cash_weight) / sum(raw_target)
    target = {t: w * scale for t, w in zip(tickers, raw_target)}
    target["CASH"] = 1.0 - sum(target.values())
    run = rebalance(holdings, config=config, market=market, target=target, fractional=fractional)

    shares, money = apply_orders(pd.Series(dict(holdings.shares), dtype=float), holdings.cash,
                                 run.orders)
    assert {t: s for t, s in shares.items() if s > 0} == dict(run.after_holdings.shares)
    assert money == run.after_holdings.cash >= 0
    if not any(note.startswith("cash floor not met") for note in run.notes):
        assert money >= config.limits.cash_floor * run.value_after
    assert run.total_cost == pytest.approx(math.fsum(o.cost for o in run.orders), abs=1e-9)
    target_rows = check_all(limits(config), run.target, config.tickers)
    after = {row.name: row for row in run.after.limits}
    for row in target_rows:
        if row.ok and not after[row.name].ok:
            assert any(f" {row.name} unreachable by" in note for note in run.notes)
