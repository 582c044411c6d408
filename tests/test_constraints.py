"""Limit objects: plain-weight checks by hand, and cvxpy forms that agree with them."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.config.parse import load_config
from portfolio.errors import InputError
from portfolio.jobs.limits import constraints_from_config
from portfolio.optimization.constraints import (
    CashFloor,
    Constraint,
    GroupCap,
    GroupFloor,
    L2Regularization,
    LimitCheck,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
    TransactionCosts,
    check_all,
)
from portfolio.weights import CASH, weights_and_cash, weights_vector

TICKERS = ("A", "B", "C", "D")


def by_name(checks) -> dict[str, LimitCheck]:
    return {row.name: row for row in checks}


# --------------------------------------------------------------------------- weights_vector


def test_weights_vector_aligns_by_label_not_position():
    weights = {"A": 0.1, "B": 0.2, "C": 0.3, "D": 0.4}
    shuffled = pd.Series(weights).loc[["C", "A", "D", "B"]]
    expected = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_array_equal(weights_vector(weights, TICKERS), expected)
    np.testing.assert_array_equal(weights_vector(shuffled, TICKERS), expected)
    np.testing.assert_array_equal(weights_vector(shuffled, ("D", "C", "B", "A")), expected[::-1])


def test_weights_vector_counts_absent_tickers_as_zero_and_ignores_cash():
    vector = weights_vector({"B": 0.5, CASH: 0.5}, TICKERS)
    np.testing.assert_array_equal(vector, [0.0, 0.5, 0.0, 0.0])


def test_weights_vector_rejects_unknown_tickers_by_name():
    with pytest.raises(InputError, match="outside the universe: NVDA, ZZZ"):
        weights_vector({"A": 0.5, "ZZZ": 0.2, "NVDA": 0.3}, TICKERS)


def test_weights_vector_rejects_a_repeated_ticker():
    with pytest.raises(InputError, match="repeated weight for A"):
        weights_vector(pd.Series([0.1, 0.2], index=["A", "A"]), TICKERS)


def test_weights_vector_rejects_text_with_a_named_error():
    with pytest.raises(InputError, match="weights must be numbers"):
        weights_vector({"A": "a quarter"}, TICKERS)


def test_weights_and_cash_takes_cash_as_given_or_as_the_rest():
    risky, cash = weights_and_cash({"B": 0.5, CASH: 0.3}, TICKERS)
    np.testing.assert_array_equal(risky, [0.0, 0.5, 0.0, 0.0])
    assert cash == 0.3
    assert weights_and_cash({"A": 0.25, "D": 0.5}, TICKERS)[1] == pytest.approx(0.25)


def test_theme_cap_rejects_exposures_that_are_not_numbers():
    with pytest.raises(InputError, match=r"exposure of B, C is not a finite number \(theme_cap"):
        ThemeCap(name="openai", exposures={"A": 0.5, "B": "high", "C": float("nan")}, cap=0.2)
    assert ThemeCap(name="openai", exposures={"A": np.float64(0.5), "B": 1}).loadings(
        ["A", "B", "C"]).tolist() == [0.5, 1.0, 0.0]


# --------------------------------------------------------------------------- check by hand

WEIGHTS = {"A": 0.30, "B": 0.15, "C": 0.20, "D": 0.0}  # cash 0.35


def test_max_weight_with_override():
    rows = by_name(MaxWeight(0.3, {"B": 0.10}).check(WEIGHTS, TICKERS))
    assert list(rows) == ["max_weight[A]", "max_weight[B]", "max_weight[C]", "max_weight[D]"]
    assert (rows["max_weight[A]"].value, rows["max_weight[A]"].limit) == (0.30, 0.30)
    assert rows["max_weight[A]"].ok  # at the cap is ok
    assert rows["max_weight[B]"].limit == 0.10
    assert not rows["max_weight[B]"].ok
    assert rows["max_weight[B]"].excess == pytest.approx(0.05)
    assert rows["max_weight[C]"].ok and rows["max_weight[C]"].excess == 0.0
    assert all(row.sense == "<=" for row in rows.values())


def test_cap_tolerance_is_one_in_a_million():
    assert MaxWeight(0.3).check({"A": 0.3 + 0.9e-6}, TICKERS)[0].ok
    assert not MaxWeight(0.3).check({"A": 0.3 + 1.1e-6}, TICKERS)[0].ok


def test_min_weight_with_override():
    rows = by_name(MinWeight(0.05, {"D": 0.0}).check(WEIGHTS, TICKERS))
    assert rows["min_weight[A]"].ok
    assert rows["min_weight[D]"].limit == 0.0 and rows["min_weight[D]"].ok
    weak = MinWeight(0.2).check(WEIGHTS, TICKERS)
    assert [row.ok for row in weak] == [True, False, True, False]
    assert weak[1].sense == ">=" and weak[1].excess == pytest.approx(0.05)


def test_group_cap_and_floor_sum_their_members():
    (cap,) = GroupCap(group="ab", members=("A", "B"), cap=0.40).check(WEIGHTS, TICKERS)
    assert cap.name == "group_cap[ab]"
    assert cap.value == pytest.approx(0.45) and not cap.ok
    assert cap.excess == pytest.approx(0.05)
    (floor,) = GroupFloor(group="cd", members=("C", "D"), floor=0.25).check(WEIGHTS, TICKERS)
    assert floor.name == "group_floor[cd]"
    assert floor.value == pytest.approx(0.20) and not floor.ok
    assert floor.excess == pytest.approx(0.05)


def test_cash_floor_is_one_minus_the_risky_weights():
    (row,) = CashFloor(0.05).check(WEIGHTS, TICKERS)
    assert row.value == pytest.approx(0.35) and row.ok
    (row,) = CashFloor(0.05).check({"A": 0.5, "B": 0.47}, TICKERS)
    assert row.value == pytest.approx(0.03) and not row.ok


def test_theme_cap_weights_the_exposures():
    theme = ThemeCap(name="openai", exposures={"A": 0.5, "C": 0.25, "ZZZ": 1.0}, cap=0.2)
    (row,) = theme.check(WEIGHTS, TICKERS)
    assert row.name == "theme_cap[openai]"
    assert row.value == pytest.approx(0.5 * 0.30 + 0.25 * 0.20)
    assert row.ok


def test_turnover_by_hand():
    current = {"A": 0.5, "B": 0.0, CASH: 0.5}
    # buy 0.3 B, sell 0.3 A, cash unchanged: one-way turnover 0.3
    (row,) = MaxTurnover(0.25, current).check({"A": 0.2, "B": 0.3}, TICKERS)
    assert row.value == pytest.approx(0.5 * (0.3 + 0.3 + 0.0))
    assert not row.ok
    # sell 0.3 A into cash: 0.5 * (|0.2 - 0.5| + |0.8 - 0.5|) = 0.3
    (row,) = MaxTurnover(0.3, current).check({"A": 0.2}, TICKERS)
    assert row.value == pytest.approx(0.3) and row.ok
    # current weights without CASH: cash is what the names leave
    (row,) = MaxTurnover(1.0, {"A": 1.0}).check({"B": 1.0}, TICKERS)
    assert row.value == pytest.approx(1.0)


def test_check_all_lists_every_row_and_skips_penalties():
    limits = (
        MaxWeight(0.3),
        GroupCap(group="ab", members=("A", "B"), cap=0.4),
        CashFloor(0.05),
        TransactionCosts(10.0, {"A": 0.5}),
        L2Regularization(0.1),
    )
    rows = check_all(limits, WEIGHTS, TICKERS)
    assert [row.name for row in rows] == [
        "max_weight[A]", "max_weight[B]", "max_weight[C]", "max_weight[D]",
        "group_cap[ab]", "cash_floor",
    ]
    assert [row.name for row in rows if not row.ok] == ["group_cap[ab]"]


@settings(max_examples=25, deadline=None)
@given(raw=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=5, max_size=5))
def test_checks_match_the_formulas_on_random_weights(raw):
    total = sum(raw) or 1.0
    w = np.array(raw[:4]) / total  # the fifth share is cash
    weights = dict(zip(TICKERS, w))
    rows = by_name(check_all(
        (MaxWeight(0.25), GroupCap(group="ab", members=("A", "B"), cap=0.5), CashFloor(0.1)),
        weights, TICKERS,
    ))
    for ticker, value in weights.items():
        assert rows[f"max_weight[{ticker}]"].value == pytest.approx(value)
        assert rows[f"max_weight[{ticker}]"].ok == (value <= 0.25 + 1e-6)
    assert rows["group_cap[ab]"].value == pytest.approx(w[0] + w[1])
    assert rows["cash_floor"].value == pytest.approx(1 - w.sum())


# --------------------------------------------------------------------------- cvxpy agrees


def push(limit: Constraint, direction: np.ndarray, slack=None, scale=1.0) -> np.ndarray:
    """Maximise ``direction @ w`` over long-only, fully invested-or-less weights under ``limit``."""
    w = cp.Variable(len(TICKERS))
    constraints = [w >= 0, cp.sum(w) <= scale, *limit.to_cvxpy(w, TICKERS, slack, scale)]
    problem = cp.Problem(cp.Maximize(direction @ w), constraints)
    problem.solve(solver=cp.CLARABEL)
    assert problem.status == cp.OPTIMAL
    return np.asarray(w.value) / scale


PUSHED = [
    # (limit, direction pushing against it, row whose value must reach the bound)
    (MaxWeight(0.3, {"B": 0.1}), np.array([0, 1.0, 0, 0]), "max_weight[B]"),
    (MaxWeight(0.3), np.array([1.0, 0, 0, 0]), "max_weight[A]"),
    (MinWeight(0.05, {"C": 0.2}), np.array([-0.0, 0, -1.0, 0]), "min_weight[C]"),
    (GroupCap(group="ab", members=("A", "B"), cap=0.4), np.array([1.0, 1.0, 0, 0]),
     "group_cap[ab]"),
    (GroupFloor(group="cd", members=("C", "D"), floor=0.3), np.array([1.0, 1.0, -1.0, -1.0]),
     "group_floor[cd]"),
    (CashFloor(0.07), np.ones(4), "cash_floor"),
    (ThemeCap(name="hub", exposures={"A": 0.5, "B": 0.2}, cap=0.15), np.array([1.0, 1, 0, 0]),
     "theme_cap[hub]"),
    (MaxTurnover(0.25, {"A": 1.0, CASH: 0.0}), np.array([0, 1.0, 0, 0]), "max_turnover"),
]


@pytest.mark.parametrize(("limit", "direction", "row"), PUSHED, ids=[p[2] for p in PUSHED])
def test_cvxpy_form_and_check_agree_at_the_bound(limit, direction, row):
    w = push(limit, direction)
    checks = by_name(limit.check(dict(zip(TICKERS, w)), TICKERS))
    assert checks[row].value == pytest.approx(checks[row].limit, abs=1e-6)
    assert all(check.ok for check in checks.values())


@pytest.mark.parametrize(("limit", "direction", "row"), PUSHED, ids=[p[2] for p in PUSHED])
def test_slack_relaxes_each_row_by_its_amount(limit, direction, row):
    labels, _ = limit.rows(TICKERS)
    relax = 0.02
    w = push(limit, direction, slack=np.full(len(labels), relax))
    checks = by_name(limit.check(dict(zip(TICKERS, w)), TICKERS))
    assert checks[row].excess == pytest.approx(relax, abs=1e-6)


def test_scale_homogenises_the_bounds_for_max_sharpe():
    # y = kappa * w: with kappa = 2 the cash floor 0.05 becomes sum(y) <= 2 * 0.95
    w = push(CashFloor(0.05), np.ones(4), scale=2.0)
    assert w.sum() == pytest.approx(0.95, abs=1e-6)
    w = push(GroupCap(group="ab", members=("A", "B"), cap=0.4), np.array([1.0, 1, 0, 0]),
             scale=2.0)
    assert w[0] + w[1] == pytest.approx(0.4, abs=1e-6)
    w = push(MaxTurnover(0.25, {"A": 1.0, CASH: 0.0}), np.array([0, 1.0, 0, 0]), scale=2.0)
    assert w[1] == pytest.approx(0.25, abs=1e-6)


def test_penalties_are_the_documented_formulas():
    w = cp.Variable(len(TICKERS))
    w.value = np.array([0.2, 0.3, 0.0, 0.1])
    cost = TransactionCosts(25.0, {"A": 0.5, "B": 0.1})
    assert cost.penalty(w, TICKERS).value == pytest.approx(25e-4 * (0.3 + 0.2 + 0.0 + 0.1))
    assert L2Regularization(0.5).penalty(w, TICKERS).value == pytest.approx(0.5 * 0.14)


# --------------------------------------------------------------------------- from config


def test_constraints_from_default_config_mirror_its_limits():
    config = load_config()
    exposures = {"OpenAI": {"ORCL": 0.4, "CRWV": 0.6}}
    objects = constraints_from_config(config, exposures=exposures)
    limit_objects = [o for o in objects if isinstance(o, Constraint)]
    rows = {}
    for limit in limit_objects:
        labels, bounds = limit.rows(config.tickers)
        rows.update(zip(labels, bounds))

    for ticker in config.tickers:
        assert rows[f"max_weight[{ticker}]"] == config.limits.cap_of(ticker)
    for group, cap in config.limits.group_caps.items():
        assert rows[f"group_cap[{group}]"] == cap
    for group, floor in config.limits.group_floors.items():
        assert rows[f"group_floor[{group}]"] == floor
    assert rows["cash_floor"] == config.limits.cash_floor
    for spec in config.limits.theme_caps:
        assert rows[f"theme_cap[{spec.name}]"] == spec.cap
    # without exposures the theme caps are left out; no turnover without current weights
    plain = constraints_from_config(config)
    assert not any(isinstance(o, ThemeCap | MaxTurnover) for o in plain)
