"""Tests of the order-generation engine (portfolio.trading.orders); synthetic prices, no network."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portfolio.trading.rounding as rounding
from portfolio.errors import DataError, InputError, PortfolioError
from portfolio.trading.costs import TradingCosts
from portfolio.trading.orders import Order, apply_orders, plan_rebalance
from portfolio.weights import CASH

FREE = TradingCosts(bps=0.0, min_fee=0.0)


# ----------------------------------------------------------------------------- helpers


def portfolio_value(shares: pd.Series, cash: float, prices: pd.Series) -> float:
    return float((shares * prices.reindex(shares.index)).sum()) + cash


def after_value(plan) -> float:
    return portfolio_value(plan.after_shares, plan.after_cash, plan.prices)


def before_value(plan) -> float:
    return portfolio_value(plan.before_shares, plan.before_cash, plan.prices)


def assert_round_trip(plan) -> None:
    shares, cash = apply_orders(plan.before_shares, plan.before_cash, plan.orders)
    assert shares.equals(plan.after_shares)
    assert cash == plan.after_cash


def assert_cash_rule(plan, cash_floor: float) -> None:
    """Cash >= 0 always; cash >= floor * value after, unless a note reports the shortfall."""
    assert plan.after_cash >= 0
    required = cash_floor * after_value(plan)
    if plan.after_cash < required - 1e-12 * before_value(plan):
        assert any(note.startswith("cash floor not met") for note in plan.notes), plan.notes


def deviation_objective(after_shares: np.ndarray, prices: np.ndarray, targets: np.ndarray) -> float:
    return float(np.sum((after_shares * prices - targets) ** 2))


# ----------------------------------------------------------------------------- basics


@pytest.fixture
def book():
    shares = pd.Series({"NVDA": 10.0, "AMD": 50.0, "XOM": 7.0})
    prices = pd.Series({"NVDA": 180.3, "AMD": 160.1, "ORCL": 290.0, "XOM": 110.0, "SPARE": 12.0})
    target = pd.Series({"NVDA": 0.3, "AMD": 0.3, "ORCL": 0.35, CASH: 0.05})
    return shares, 5000.0, prices, target


@pytest.mark.parametrize("whole_shares", [True, False])
def test_round_trip_is_exact_and_matches_unaligned_input(book, whole_shares):
    shares, cash, prices, target = book
    plan = plan_rebalance(shares, cash, prices, target, whole_shares=whole_shares)
    assert plan.orders
    assert_round_trip(plan)
    from_input, cash_from_input = apply_orders(shares, cash, plan.orders)
    assert cash_from_input == plan.after_cash
    assert from_input.reindex(plan.after_shares.index).equals(plan.after_shares)


def test_universe_is_target_then_held_and_extra_prices_ignored(book):
    shares, cash, prices, target = book
    plan = plan_rebalance(shares, cash, prices, target)
    assert list(plan.before_shares.index) == ["NVDA", "AMD", "ORCL", "XOM"]
    assert list(plan.after_weights.index) == ["NVDA", "AMD", "ORCL", "XOM", CASH]
    assert plan.before_shares["ORCL"] == 0.0
    assert plan.target_weights["XOM"] == 0.0
    for weights in (plan.before_weights, plan.after_weights, plan.target_weights):
        assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    # before weights by hand
    total = 10 * 180.3 + 50 * 160.1 + 7 * 110.0 + 5000.0
    assert plan.before_weights["AMD"] == pytest.approx(50 * 160.1 / total, rel=1e-14)
    assert plan.before_weights[CASH] == pytest.approx(5000.0 / total, rel=1e-14)


def test_sells_held_name_missing_from_target(book):
    shares, cash, prices, target = book
    for whole_shares in (True, False):
        plan = plan_rebalance(shares, cash, prices, target, whole_shares=whole_shares)
        xom = [order for order in plan.orders if order.ticker == "XOM"]
        assert len(xom) == 1
        assert (xom[0].side, xom[0].shares) == ("sell", 7.0)
        assert plan.after_shares["XOM"] == 0.0
        assert plan.after_weights["XOM"] == 0.0


def test_whole_share_orders_are_integers_and_nearest_rounding_when_cash_allows(book):
    shares, cash, prices, target = book
    plan = plan_rebalance(shares, cash, prices, target, costs=FREE)
    assert all(float(order.shares).is_integer() for order in plan.orders)
    assert all(float(v).is_integer() for v in plan.after_shares)
    # target CASH 5 % leaves room, so each name is the nearest whole share to its target
    total = before_value(plan)
    ideal = plan.target_weights.drop(CASH) * total / plan.prices
    assert plan.after_shares.equals(np.rint(ideal).astype(float).rename("shares"))


def test_orders_sells_first_and_consistent_fields(book):
    shares, cash, prices, target = book
    costs = TradingCosts(bps=7.0, min_fee=2.0)
    plan = plan_rebalance(shares, cash, prices, target, costs=costs)
    sides = [order.side for order in plan.orders]
    assert sides == sorted(sides, key=lambda side: side == "buy")
    assert len({order.ticker for order in plan.orders}) == len(plan.orders)
    for order in plan.orders:
        assert order.price == plan.prices[order.ticker]
        assert order.notional == order.shares * order.price
        assert order.cost == costs.cost(order.notional)


@pytest.mark.parametrize(
    ("shares", "cash", "target", "expected"),
    [
        ({"A": 10.0}, 0.0, {"B": 1.0}, 1.0),  # full switch: 1000 sold, 1000 bought
        ({"A": 9.0}, 100.0, {"A": 1.0}, 0.1),  # 100 bought from cash
        ({"A": 10.0}, 0.0, {"A": 0.75, CASH: 0.25}, 0.25),  # 250 sold into cash
        ({"A": 10.0}, 0.0, {"A": 0.5, "B": 0.3, CASH: 0.2}, 0.5),  # sell 500, buy 300
    ],
)
def test_turnover_is_one_way_against_value_before(shares, cash, target, expected):
    prices = pd.Series({"A": 100.0, "B": 50.0})
    plan = plan_rebalance(
        pd.Series(shares), cash, prices, pd.Series(target), costs=FREE, whole_shares=False
    )
    assert plan.turnover == pytest.approx(expected, abs=1e-9)
    # the same number as MaxTurnover computes from the weights: 0.5 * sum |w - w0|
    change = plan.after_weights - plan.before_weights
    assert plan.turnover == pytest.approx(0.5 * change.abs().sum(), abs=1e-9)


def test_target_equal_to_holdings_trades_nothing():
    shares = pd.Series({"A": 10.0, "B": 4.0})
    prices = pd.Series({"A": 100.0, "B": 250.0})
    target = pd.Series({"A": 0.4, "B": 0.4, CASH: 0.2})
    for whole_shares in (True, False):
        plan = plan_rebalance(shares, 500.0, prices, target, whole_shares=whole_shares)
        assert plan.orders == ()
        assert plan.total_cost == 0.0
        assert plan.turnover == 0.0
        assert plan.after_cash == 500.0


# ----------------------------------------------------------------------------- fractional


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("costs", [FREE, TradingCosts()], ids=["free", "default-costs"])
def test_fractional_hits_target_weights(seed, costs):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    tickers = [f"T{i}" for i in range(n)]
    prices = pd.Series(rng.uniform(5, 900, n).round(2), index=tickers)
    shares = pd.Series(rng.integers(0, 200, n).astype(float), index=tickers)
    raw = rng.dirichlet(np.ones(n + 1))
    target = pd.Series(raw, index=[*tickers, CASH])
    plan = plan_rebalance(
        shares, float(rng.uniform(0, 5e4)), prices, target, costs=costs, whole_shares=False
    )
    assert_round_trip(plan)
    np.testing.assert_allclose(
        plan.after_weights.to_numpy(), plan.target_weights.to_numpy(), rtol=0, atol=1e-9
    )


def test_fractional_binding_floor_matches_closed_form():
    # no fees: the L2 optimum under "sum x <= budget" lowers every name by the same USD amount
    shares = pd.Series({"A": 10.0, "B": 20.0, "C": 5.0})
    prices = pd.Series({"A": 100.0, "B": 50.0, "C": 200.0})
    target = pd.Series({"A": 0.5, "B": 0.3, "C": 0.2})
    plan = plan_rebalance(
        shares, 0.0, prices, target, costs=FREE, cash_floor=0.1, whole_shares=False
    )
    total = 3000.0
    expected = target * total - 0.1 * total / 3  # USD per name
    np.testing.assert_allclose(
        (plan.after_shares * plan.prices).to_numpy(), expected.to_numpy(), rtol=1e-9
    )
    assert plan.after_cash >= 0.1 * after_value(plan)
    assert plan.after_cash == pytest.approx(300.0, abs=1e-6)  # + the 1e-10 * value slack
    assert any("above the target CASH weight" in note for note in plan.notes)


# ----------------------------------------------------------------------------- costs


def test_costs_sum_and_value_identity(book):
    shares, cash, prices, target = book
    costs = TradingCosts(bps=12.0, min_fee=3.0)
    for whole_shares in (True, False):
        plan = plan_rebalance(shares, cash, prices, target, costs=costs, whole_shares=whole_shares)
        assert plan.total_cost == sum(order.cost for order in plan.orders)
        assert plan.total_cost == pytest.approx(before_value(plan) - after_value(plan), abs=1e-8)
        assert plan.total_cost > 0


def test_min_fee_applies_to_small_orders_and_bps_to_large_ones():
    costs = TradingCosts(bps=5.0, min_fee=1.0)
    assert costs.cost(100.0) == 1.0
    assert costs.cost(0.0) == 0.0
    assert costs.cost(100_000.0) == pytest.approx(50.0)
    shares = pd.Series({"BIG": 0.0, "SMALL": 0.0})
    prices = pd.Series({"BIG": 100.0, "SMALL": 10.0})
    target = pd.Series({"BIG": 0.9, "SMALL": 0.001, CASH: 0.099})
    plan = plan_rebalance(shares, 100_000.0, prices, target, costs=costs)
    by_ticker = {order.ticker: order for order in plan.orders}
    assert by_ticker["SMALL"].notional == 100.0
    assert by_ticker["SMALL"].cost == 1.0
    assert by_ticker["BIG"].cost == pytest.approx(by_ticker["BIG"].notional * 5e-4)


def test_invalid_costs_raise():
    with pytest.raises(InputError, match="bps"):
        TradingCosts(bps=-1.0)
    with pytest.raises(InputError, match="min_fee"):
        TradingCosts(min_fee=float("nan"))


# ----------------------------------------------------------------------------- band


def test_no_trade_band_skips_small_orders_and_lists_them():
    shares = pd.Series({"A": 100.0, "B": 50.0})
    prices = pd.Series({"A": 10.0, "B": 20.0, "C": 10.0})
    target = pd.Series({"A": 0.51, "B": 0.30, "C": 0.19})  # A +20 USD, B -400, C +380
    base = plan_rebalance(shares, 0.0, prices, target, costs=FREE, whole_shares=False)
    assert {o.ticker for o in base.orders} == {"A", "B", "C"}
    for band in ({"no_trade_dollars": 50.0}, {"no_trade_weight": 0.02}):
        plan = plan_rebalance(shares, 0.0, prices, target, costs=FREE, whole_shares=False, **band)
        assert plan.skipped == ("A",)
        assert {o.ticker for o in plan.orders} == {"B", "C"}
        assert plan.after_shares["A"] == 100.0
        assert_round_trip(plan)
        assert plan.after_cash >= 0


def test_band_keeps_a_sell_that_funds_a_buy():
    shares = pd.Series({"A": 100.0, "B": 100.0})
    prices = pd.Series({"A": 10.0, "B": 10.0, "C": 10.0})
    target = pd.Series({"A": 0.49, "B": 0.49, "C": 0.02})  # sell 20 + 20, buy 40
    plan = plan_rebalance(
        shares, 0.0, prices, target, costs=FREE, whole_shares=False, no_trade_dollars=30.0
    )
    assert plan.skipped == ()
    assert {(o.ticker, o.side) for o in plan.orders} == {("A", "sell"), ("B", "sell"), ("C", "buy")}
    assert sum("kept the" in note for note in plan.notes) == 2
    assert plan.after_cash >= 0


@pytest.mark.parametrize(("cash_floor", "kept"), [(0.02, True), (0.0, False)])
def test_band_keeps_a_sell_needed_for_the_cash_floor(cash_floor, kept):
    shares = pd.Series({"A": 10.0})
    prices = pd.Series({"A": 100.0})
    target = pd.Series({"A": 0.98, CASH: 0.02})  # sell 20 USD
    plan = plan_rebalance(
        shares,
        0.0,
        prices,
        target,
        costs=FREE,
        whole_shares=False,
        cash_floor=cash_floor,
        no_trade_dollars=50.0,
    )
    if kept:
        assert [o.ticker for o in plan.orders] == ["A"]
        assert plan.skipped == ()
        assert any("kept the A sell" in note for note in plan.notes)
        assert plan.after_cash >= cash_floor * after_value(plan)
    else:
        assert plan.orders == ()
        assert plan.skipped == ("A",)


# ----------------------------------------------------------------------------- cash floor


def test_unreachable_cash_floor_is_a_note_not_a_crash():
    # 0.5 share cannot be sold with whole-share orders: cash stays 0 against a 5 % floor
    shares = pd.Series({"X": 0.5})
    prices = pd.Series({"X": 1000.0})
    plan = plan_rebalance(shares, 0.0, prices, pd.Series({"X": 1.0}), cash_floor=0.05)
    assert plan.orders == ()
    [note] = [n for n in plan.notes if n.startswith("cash floor not met")]
    assert "$25.00" in note and "5.00%" in note


def test_fees_above_proceeds_make_floor_unreachable_but_cash_stays_positive():
    costs = TradingCosts(bps=5.0, min_fee=1.0)
    prices = pd.Series({"PENNY": 0.2, "REAL": 30.0})
    # selling 0.60 USD of PENNY costs a 1 USD fee: no plan reaches a 30 % floor
    penny = plan_rebalance(
        pd.Series({"PENNY": 3.0}), 0.0, prices, pd.Series({CASH: 1.0}), costs=costs, cash_floor=0.3
    )
    assert penny.orders == ()
    assert penny.after_cash == 0.0
    assert any("short by $0.18 (30.00% of value)" in note for note in penny.notes)
    # with a real position to sell, even a 90 % floor is met
    both = plan_rebalance(
        pd.Series({"PENNY": 3.0, "REAL": 1.0}),
        0.0,
        prices,
        pd.Series({"PENNY": 0.5, "REAL": 0.5}),
        costs=costs,
        cash_floor=0.9,
    )
    assert both.after_cash >= 0.9 * after_value(both)
    assert not any(note.startswith("cash floor not met") for note in both.notes)


def test_fractional_remainder_is_kept_in_whole_share_mode_with_a_note():
    shares = pd.Series({"A": 2.5})
    prices = pd.Series({"A": 100.0})
    whole = plan_rebalance(shares, 0.0, prices, pd.Series({CASH: 1.0}), costs=FREE)
    assert whole.after_shares["A"] == 0.5
    assert any("A keeps 0.5 shares" in note for note in whole.notes)
    fractional = plan_rebalance(
        shares, 0.0, prices, pd.Series({CASH: 1.0}), costs=FREE, whole_shares=False
    )
    assert fractional.after_shares["A"] == 0.0
    assert fractional.after_cash == 250.0


# ----------------------------------------------------------------------------- optimality


def brute_force(shares, cash, prices, target, costs, cash_floor):
    """Enumerate every whole-share trade vector; return (best objective, target USD, prices).

    Target values use the reference value of the engine's own fractional plan (its value
    after fees), which the objective is documented against.
    """
    reference = plan_rebalance(shares, cash, prices, target, costs=costs, whole_shares=False)
    targets = reference.target_weights.drop(CASH).to_numpy() * after_value(reference)
    held = reference.before_shares.to_numpy()
    price = reference.prices.to_numpy()
    total = float(held @ price) + cash
    ranges = [np.arange(-np.floor(s), math.ceil(total / p) + 1) for s, p in zip(held, price)]
    trades = np.array(list(itertools.product(*ranges)), dtype=float)
    notional = np.abs(trades) * price
    fees = np.where(notional > 0, np.maximum(costs.min_fee, costs.bps / 1e4 * notional), 0.0)
    cash_after = cash - (trades * price).sum(axis=1) - fees.sum(axis=1)
    value_after = ((held + trades) * price).sum(axis=1) + cash_after
    objective = (((held + trades) * price - targets) ** 2).sum(axis=1)
    feasible = cash_after >= cash_floor * value_after + 1e-6
    return float(objective[feasible].min()), targets, price


def tiny_case(seed):
    rng = np.random.default_rng(seed)
    n = 2 if seed % 2 else 3
    tickers = ["A", "B", "C"][:n]
    prices = pd.Series(rng.uniform(60, 400, n).round(2), index=tickers)
    shares = pd.Series(rng.integers(0, 4, n).astype(float), index=tickers)
    cash = round(float(rng.uniform(0, 1200)), 2)
    cash_weight = [0.0, 0.0, 0.03, 0.1][seed % 4]
    weights = rng.dirichlet(np.ones(n)) * (1 - cash_weight)
    target = pd.Series([*weights, cash_weight], index=[*tickers, CASH])
    costs = [FREE, TradingCosts(bps=10.0, min_fee=1.0), TradingCosts(bps=50.0, min_fee=5.0)][
        seed % 3
    ]
    cash_floor = [0.0, 0.05, 0.2, 0.35][(seed // 3) % 4]
    return shares, cash, prices, target, costs, cash_floor


@pytest.mark.parametrize("seed", range(36))
def test_whole_share_rounding_is_optimal_against_brute_force(seed):
    shares, cash, prices, target, costs, cash_floor = tiny_case(seed)
    plan = plan_rebalance(shares, cash, prices, target, costs=costs, cash_floor=cash_floor)
    best, targets, price = brute_force(shares, cash, prices, target, costs, cash_floor)
    found = deviation_objective(plan.after_shares.to_numpy(), price, targets)
    assert plan.after_cash >= cash_floor * after_value(plan)
    assert found <= best * (1 + 1e-6) + 1e-6
    assert not any("optimality proof" in note for note in plan.notes)


def test_binding_case_needs_the_search_and_finds_the_optimum(monkeypatch):
    searches = []
    real_search = rounding._Choices.branch_and_bound

    def counting_search(self, *args):
        searches.append(1)
        return real_search(self, *args)

    monkeypatch.setattr(rounding._Choices, "branch_and_bound", counting_search)
    shares = pd.Series({"A": 0.0, "B": 0.0, "C": 0.0})
    prices = pd.Series({"A": 97.0, "B": 61.0, "C": 143.0})
    target = pd.Series({"A": 0.4, "B": 0.35, "C": 0.25})
    plan = plan_rebalance(shares, 1000.0, prices, target, costs=FREE, cash_floor=0.0)
    best, targets, price = brute_force(shares, 1000.0, prices, target, FREE, 0.0)
    assert searches, "greedy and the Lagrangian bound do not settle this case"
    assert deviation_objective(plan.after_shares.to_numpy(), price, targets) == pytest.approx(best)
    assert plan.notes == ()


def test_search_budget_exhausted_keeps_a_feasible_plan_within_the_bound(monkeypatch):
    outcomes = []
    real_search = rounding._Choices.branch_and_bound

    def recording_search(self, *args):
        result = real_search(self, *args)
        outcomes.append(result[1])
        return result

    monkeypatch.setattr(rounding, "_NODE_LIMIT", 0)
    monkeypatch.setattr(rounding._Choices, "branch_and_bound", recording_search)
    for seed in range(12):
        shares, cash, prices, target, costs, cash_floor = tiny_case(seed)
        plan = plan_rebalance(shares, cash, prices, target, costs=costs, cash_floor=cash_floor)
        assert_round_trip(plan)
        assert plan.after_cash >= cash_floor * after_value(plan)
        best, targets, price = brute_force(shares, cash, prices, target, costs, cash_floor)
        found = deviation_objective(plan.after_shares.to_numpy(), price, targets)
        assert found >= best * (1 - 1e-9) - 1e-6  # feasible, so never better than the optimum
        stopped = [note for note in plan.notes if "without an optimality proof" in note]
        if stopped:  # the stated certified bound holds
            gap = float(stopped[0].split("within $")[1].split(" ")[0].replace(",", ""))
            assert math.sqrt(max(found - best, 0.0)) <= gap + 0.01
        else:  # optimal, or silently within one share of the dearest name
            assert math.sqrt(max(found - best, 0.0)) <= prices.max() + 1e-6
    assert False in outcomes  # the search did run out of budget


def test_search_budget_note_states_a_certified_gap(monkeypatch):
    monkeypatch.setattr(rounding, "_NODE_LIMIT", 0)
    shares = pd.Series({"A": 0.0, "B": 0.0})
    prices = pd.Series({"A": 997.0, "B": 1301.0})
    target = pd.Series({"A": 0.6, "B": 0.4})
    plan = plan_rebalance(shares, 1e6, prices, target, costs=FREE, cash_floor=0.3)
    [note] = [note for note in plan.notes if "without an optimality proof" in note]
    gap = float(note.split("within $")[1].split(" ")[0].replace(",", ""))
    assert gap > prices.max()
    best, targets, price = brute_force(shares, 1e6, prices, target, FREE, 0.3)
    found = deviation_objective(plan.after_shares.to_numpy(), price, targets)
    assert best <= found
    assert math.sqrt(found - best) <= gap
    # with the normal budget the search proves optimality
    monkeypatch.setattr(rounding, "_NODE_LIMIT", 300_000)
    exact = plan_rebalance(shares, 1e6, prices, target, costs=FREE, cash_floor=0.3)
    assert not any("optimality proof" in note for note in exact.notes)
    found = deviation_objective(exact.after_shares.to_numpy(), price, targets)
    assert found == pytest.approx(best, rel=1e-9)


# ----------------------------------------------------------------------------- property test


@st.composite
def rebalancing_problems(draw):
    n = draw(st.integers(1, 5))
    tickers = [f"T{i}" for i in range(n)]
    prices = draw(st.lists(st.floats(0.5, 3000.0), min_size=n + 1, max_size=n + 1))
    held = draw(st.lists(st.integers(0, 400), min_size=n + 1, max_size=n + 1))
    fractional = draw(st.booleans())
    if fractional:
        held = [h + draw(st.floats(0.0, 0.99)) for h in held]
    raw = draw(st.lists(st.floats(0.0, 1.0), min_size=n + 1, max_size=n + 1))
    if sum(raw) == 0:
        raw[-1] = 1.0
    weights = np.array(raw) / sum(raw)
    index = [*tickers, "OLD"]  # OLD is held but not in the target
    return {
        "shares": pd.Series(held, index=index, dtype=float),
        "cash": draw(st.floats(1.0, 1e5)),
        "prices": pd.Series(prices, index=index),
        "target_weights": pd.Series(weights, index=[*tickers, CASH]),
        "costs": draw(st.sampled_from([FREE, TradingCosts(), TradingCosts(bps=25.0, min_fee=5.0)])),
        "cash_floor": draw(st.sampled_from([0.0, 0.01, 0.1, 0.3])),
        "whole_shares": draw(st.booleans()),
        "no_trade_weight": draw(st.sampled_from([0.0, 0.01])),
        "no_trade_dollars": draw(st.sampled_from([0.0, 100.0])),
    }


@settings(max_examples=25, deadline=None)
@given(rebalancing_problems())
def test_plan_invariants_hold_for_random_books(problem):
    shares, cash, prices = problem["shares"], problem["cash"], problem["prices"]
    plan = plan_rebalance(
        shares,
        cash,
        prices,
        problem["target_weights"],
        costs=problem["costs"],
        cash_floor=problem["cash_floor"],
        whole_shares=problem["whole_shares"],
        no_trade_weight=problem["no_trade_weight"],
        no_trade_dollars=problem["no_trade_dollars"],
    )
    assert_round_trip(plan)
    assert_cash_rule(plan, problem["cash_floor"])
    assert plan.total_cost == sum(order.cost for order in plan.orders)
    assert plan.total_cost == pytest.approx(
        before_value(plan) - after_value(plan), abs=1e-9 * before_value(plan)
    )
    assert plan.after_weights.sum() == pytest.approx(1.0, abs=1e-9)
    # the held name outside the target is never bought, and it is sold whenever its sale
    # helps the cash rule (proceeds above the fee share) and the band does not stop it
    old_shares = shares["OLD"]
    assert plan.after_shares["OLD"] <= old_shares
    sellable = np.floor(old_shares) if problem["whole_shares"] else old_shares
    notional = sellable * prices["OLD"]
    if notional - (1 - problem["cash_floor"]) * problem["costs"].cost(notional) > 0:
        assert plan.after_shares["OLD"] < 1.0 or "OLD" in plan.skipped
    traded = {order.ticker for order in plan.orders}
    assert traded.isdisjoint(plan.skipped)
    for order in plan.orders:
        assert order.notional == order.shares * order.price
        assert order.cost == problem["costs"].cost(order.notional)
        if problem["whole_shares"]:
            assert float(order.shares).is_integer()
    assert (plan.after_shares >= 0).all()


# ----------------------------------------------------------------------------- input errors


def _inputs():
    return {
        "shares": pd.Series({"A": 10.0, "B": 5.0}),
        "cash": 1000.0,
        "prices": pd.Series({"A": 100.0, "B": 50.0, "C": 20.0}),
        "target_weights": pd.Series({"A": 0.4, "B": 0.3, "C": 0.2, CASH: 0.1}),
    }


@pytest.mark.parametrize(
    ("change", "error", "fragments"),
    [
        (
            {"target_weights": pd.Series({"A": 0.5, "B": 0.4, CASH: 0.2})},
            InputError,
            ["1.1", "set cash to 0.1"],
        ),
        ({"target_weights": pd.Series({"A": 0.7, "B": 0.4})}, InputError, ["1.1", "reduce"]),
        ({"target_weights": pd.Series({"A": 0.5, "ZZ": 0.5})}, InputError, ["ZZ", "target"]),
        ({"prices": pd.Series({"B": 50.0, "C": 20.0})}, InputError, ["A"]),
        ({"shares": pd.Series({"A": 10.0, "Q": 1.0})}, InputError, ["Q", "holdings"]),
        ({"prices": pd.Series({"A": np.nan, "B": 50.0, "C": 20.0})}, InputError, ["A"]),
        ({"prices": pd.Series({"A": 0.0, "B": 50.0, "C": 20.0})}, DataError, ["A", "> 0"]),
        ({"cash": -5.0}, InputError, ["negative cash"]),
        ({"cash": float("nan")}, InputError, ["cash"]),
        ({"shares": pd.Series({"A": -1.0, "B": 5.0})}, InputError, ["A", "short"]),
        ({"shares": pd.Series({"A": "ten", "B": 5.0})}, InputError, ["A", "holdings"]),
        ({"shares": pd.Series([1.0, 2.0], index=["A", "A"])}, InputError, ["duplicate", "A"]),
        ({"shares": pd.Series({"A": 1.0, CASH: 2.0})}, InputError, ["CASH", "reserved"]),
        (
            {"target_weights": pd.Series({"A": 1.2, "B": -0.2})},
            InputError,
            ["negative target weights", "B"],
        ),
        ({"shares": {"A": 1.0}}, InputError, ["pandas Series"]),
        ({"cash_floor": 1.0}, InputError, ["cash_floor"]),
        ({"no_trade_dollars": -1.0}, InputError, ["no_trade_dollars"]),
        ({"costs": {"bps": 5}}, InputError, ["TradingCosts"]),
        ({"shares": pd.Series(dtype=float), "cash": 0.0}, InputError, ["worth nothing"]),
        ({"shares": pd.Series({"A": 1e100, "B": 5.0})}, InputError, ["1e+102", "units"]),
    ],
)
def test_bad_inputs_raise_named_errors(change, error, fragments):
    arguments = _inputs() | change
    with pytest.raises(error) as raised:
        plan_rebalance(**arguments)
    assert isinstance(raised.value, PortfolioError)
    for fragment in fragments:
        assert fragment.lower() in str(raised.value).lower()


def test_target_without_cash_holds_the_rest_as_cash():
    # one weights contract (portfolio.weights.parse_weights): without a CASH entry the
    # weights sum to at most 1 and the remainder is the cash target
    arguments = _inputs() | {"target_weights": pd.Series({"A": 0.5, "B": 0.4})}
    plan = plan_rebalance(**arguments)
    assert plan.target_weights[CASH] == pytest.approx(0.1, abs=1e-12)
    assert plan.target_weights[["A", "B"]].tolist() == pytest.approx([0.5, 0.4])


def test_weights_within_tolerance_are_normalised():
    arguments = _inputs() | {
        "target_weights": pd.Series({"A": 0.4, "B": 0.3, "C": 0.2, CASH: 0.1000005})
    }
    plan = plan_rebalance(**arguments)
    assert plan.target_weights.sum() == pytest.approx(1.0, abs=1e-15)


def test_apply_orders_rejects_overselling_and_adds_new_tickers():
    shares = pd.Series({"A": 2.0})
    with pytest.raises(InputError, match="cannot sell 3 shares of A"):
        apply_orders(shares, 0.0, [Order("A", "sell", 3.0, 10.0, 30.0, 1.0)])
    after, cash = apply_orders(shares, 100.0, [Order("B", "buy", 1.0, 40.0, 40.0, 1.0)])
    assert after.to_dict() == {"A": 2.0, "B": 1.0}
    assert cash == 59.0
    with pytest.raises(InputError, match="side"):
        Order("A", "hold", 1.0, 1.0, 1.0, 0.0)
