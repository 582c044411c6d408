"""Infeasibility diagnosis: arithmetic before the solver, the elastic LP after it.

Oracles: hand-computed conflicts and relaxations; property tests on random limit sets built
around a known feasible portfolio (so they must solve and meet every limit) and on sets with
a planted conflict (so they must fail and name a limit of that conflict); every suggested
relaxation is applied and re-solved, and a relaxation 10 % smaller still fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.errors import InfeasibleError, InputError
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
    check_all,
)
from portfolio.optimization.diagnosis import elastic_diagnosis, relax
from portfolio.optimization.feasibility import arithmetic_diagnosis, minimum_turnover
from portfolio.optimization.problem import PortfolioProblem
from portfolio.optimization.relaxation import Relaxation, config_key
from portfolio.weights import CASH

TICKERS = ["A", "B", "C", "D", "E", "F"]


def covariance(n: int, seed: int = 0) -> np.ndarray:
    """A positive-definite annual covariance (vols around 20-40 %)."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n, n)) * 0.1
    return factor @ factor.T + 0.02 * np.eye(n)


def solve(constraints, tickers=TICKERS, cov=None, **kwargs):
    cov = covariance(len(tickers)) if cov is None else cov
    problem = PortfolioProblem(tickers, "min_variance", constraints)
    return problem, problem.solve(cov, **kwargs)


def failing(constraints, tickers=TICKERS):
    """Solve, expect InfeasibleError; return the problem and the error."""
    problem = PortfolioProblem(tickers, "min_variance", constraints)
    with pytest.raises(InfeasibleError) as info:
        problem.solve(covariance(len(tickers)))
    return problem, info.value


def assert_meets_every_limit(constraints, weights, tickers=TICKERS):
    rows = check_all(constraints, weights, tickers, tol=1e-6)
    assert all(row.ok for row in rows), [row for row in rows if not row.ok]
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (weights.drop(CASH) >= -1e-9).all()


def assert_plan_restores_feasibility(constraints, plan, tickers=TICKERS):
    relaxed = relax(constraints, plan)
    _, allocation = solve(relaxed, tickers)
    assert_meets_every_limit(relaxed, allocation.weights, tickers)


def assert_plan_is_smallest(constraints, relaxation: Relaxation, tickers=TICKERS):
    """Moving the key only 90 % of the way still leaves the limits infeasible."""
    short = relaxation.current + 0.9 * (relaxation.proposed - relaxation.current)
    smaller = Relaxation(relaxation.key, relaxation.direction, relaxation.current, short)
    failing(relax(constraints, [smaller]), tickers)


def says(error: InfeasibleError, text: str) -> bool:
    """Whether the one-line message contains ``text`` (the fix starts with a capital)."""
    return text.lower() in error.message.lower()


def assert_one_line(error: InfeasibleError):
    assert "\n" not in error.message
    assert says(error, "%")
    assert error.suggestion
    assert error.suggestion.lower() in error.message.lower()


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(("label", "key"), [
    ("group_cap[semiconductors]", "limits.group_caps.semiconductors"),
    ("group_floor[hyperscalers]", "limits.group_floors.hyperscalers"),
    ("max_weight[NVDA]", "limits.max_weight"),
    ("max_weight[CRWV]", "limits.max_weight_overrides.CRWV"),
    ("min_weight[NVDA]", "limits.min_weight"),
    ("cash_floor", "limits.cash_floor"),
    ("max_turnover", "limits.max_turnover"),
    ("theme_cap[openai_lookthrough]", "limits.theme_caps[openai_lookthrough].cap"),
])
def test_config_key_maps_row_labels_to_config_keys(label, key):
    constraints = [MaxWeight(0.2, {"CRWV": 0.05}), MinWeight(0.01)]
    assert config_key(label, constraints) == key


def test_relax_changes_only_the_named_key_and_rejects_unknown_keys():
    constraints = (MaxWeight(0.2, {"F": 0.05}), GroupCap("g", ("A", "B"), 0.3), CashFloor(0.05))
    plan = [Relaxation("limits.max_weight_overrides.F", "raise", 0.05, 0.1),
            Relaxation("limits.group_caps.g", "raise", 0.3, 0.4)]
    relaxed = relax(constraints, plan)
    assert relaxed[0].cap == 0.2 and relaxed[0].overrides["F"] == 0.1
    assert relaxed[1].cap == 0.4 and relaxed[2] is constraints[2]
    assert constraints[0].overrides["F"] == 0.05  # the input is unchanged
    with pytest.raises(InputError, match="no limit carries the key"):
        relax(constraints, [Relaxation("limits.group_floors.h", "lower", 0.2, 0.1)])


# --------------------------------------------------------------------------- arithmetic


def test_caps_below_budget_named_before_the_solver_with_both_fixes():
    constraints = [MaxWeight(0.15), CashFloor(0.05)]
    problem, error = failing(constraints)
    assert set(error.conflicts) == {f"max_weight[{t}]" for t in TICKERS} | {"cash_floor"}
    # 6 x 15 % = 90 % < 95 %: a 95/6 = 15.833 % cap (rounded up) or a 10 % cash floor
    assert says(error, "raise limits.max_weight from 15 % to 15.84 %")
    assert says(error, "raise limits.cash_floor from 5 % to 10 %")
    assert_one_line(error)
    for plan in arithmetic_diagnosis(problem).plans:
        assert_plan_restores_feasibility(constraints, plan)


def test_availability_mask_counts_in_the_caps_sum():
    problem = PortfolioProblem(TICKERS, "min_variance", [MaxWeight(0.25)])
    available = {t: t in ("A", "B", "C") for t in TICKERS}
    with pytest.raises(InfeasibleError) as info:
        problem.solve(covariance(6), available=available)
    assert "75 %" in info.value.message
    assert "D, E, F cannot be held" in info.value.message


def test_name_floor_above_its_cap():
    constraints = [MaxWeight(0.3), MinWeight(0.0, {"A": 0.4})]
    _, error = failing(constraints)
    assert error.conflicts == ("min_weight[A]", "max_weight[A]")
    assert says(error, "lower limits.min_weight_overrides.A from 40 % to 30 %")


def test_floors_above_budget():
    _, error = failing([MinWeight(0.15), CashFloor(0.2)])
    assert "cash_floor" in error.conflicts
    assert says(error, "lower limits.min_weight from 15 % to 13.33 %")


def test_group_floor_above_members_caps():
    constraints = [MaxWeight(0.2), GroupFloor("g", ("A", "B"), 0.5)]
    problem, error = failing(constraints)
    assert set(error.conflicts) == {"group_floor[g]", "max_weight[A]", "max_weight[B]"}
    assert says(error, "lower limits.group_floors.g from 50 % to 40 %")
    assert says(error, "raise limits.max_weight from 20 % to 25 %")
    for plan in arithmetic_diagnosis(problem).plans:
        assert_plan_restores_feasibility(constraints, plan)


def test_group_floor_above_its_own_cap():
    _, error = failing([GroupFloor("g", ("A", "B"), 0.5), GroupCap("g", ("A", "B"), 0.3)])
    assert set(error.conflicts) == {"group_floor[g]", "group_cap[g]"}
    assert says(error, "raise limits.group_caps.g from 30 % to 50 %")


def test_group_cap_below_members_floors():
    _, error = failing([MinWeight(0.1), GroupCap("g", ("A", "B", "C"), 0.2)])
    assert "group_cap[g]" in error.conflicts
    assert says(error, "raise limits.group_caps.g from 20 % to 30 %")


def test_group_cap_too_small_for_what_the_others_cannot_hold():
    constraints = [MaxWeight(0.3), GroupCap("g", ("A", "B", "C", "D"), 0.2), CashFloor(0.05)]
    problem, error = failing(constraints)
    # E and F hold at most 60 % of the 95 % invested, so the group needs 35 %
    assert {"group_cap[g]", "cash_floor", "max_weight[E]", "max_weight[F]"} == set(error.conflicts)
    assert says(error, "raise limits.group_caps.g from 20 % to 35 %")
    assert says(error, "raise limits.cash_floor from 5 % to 20 %")
    for plan in arithmetic_diagnosis(problem).plans:
        assert_plan_restores_feasibility(constraints, plan)


def test_disjoint_group_floors_above_budget():
    constraints = [GroupFloor("a", ("A", "B"), 0.6), GroupFloor("b", ("C", "D"), 0.5),
                   CashFloor(0.05)]
    problem, error = failing(constraints)
    assert {"group_floor[a]", "group_floor[b]"} <= set(error.conflicts)
    assert says(error, "lower limits.group_floors.a from 60 % to 45 %")
    for plan in arithmetic_diagnosis(problem).plans:
        assert_plan_restores_feasibility(constraints, plan)


def test_group_caps_together_below_budget():
    constraints = [MaxWeight(0.3), GroupCap("a", ("A", "B", "C"), 0.4),
                   GroupCap("b", ("D", "E", "F"), 0.45), CashFloor(0.05)]
    problem, error = failing(constraints)
    # each cap alone leaves room (the other group's names may hold 90 %); together they
    # hold 40 % + 45 % = 85 % of the 95 % to invest
    assert {"group_cap[a]", "group_cap[b]", "cash_floor"} <= set(error.conflicts)
    assert error.what == "the group and theme caps cannot hold the invested budget"
    assert says(error, "raise limits.cash_floor from 5 % to 15 %")
    for plan in arithmetic_diagnosis(problem).plans:
        assert_plan_restores_feasibility(constraints, plan)


def test_theme_cap_below_least_exposure():
    exposures = {"A": 1.0, "B": 1.0, "C": 0.5, "D": 0.5, "E": 0.5, "F": 0.5}
    constraints = [MaxWeight(0.3), ThemeCap("oa", exposures, 0.2)]
    _, error = failing(constraints)
    # least exposure: C..F at 30 %, 30 %, 30 %, 10 % -> 0.5 x 100 % = 50 %
    assert "theme_cap[oa]" in error.conflicts
    assert says(error, "raise limits.theme_caps[oa].cap from 20 % to 50 %")


def test_minimum_turnover_closed_form_against_hand_values():
    lower, upper = np.zeros(3), np.array([0.5, 0.5, 0.5])
    # from 100 % in X: clip to 50 %, then add 50 % elsewhere; cash 0 -> 0
    assert minimum_turnover({"X": 1.0}, ["X", "Y", "Z"], lower, upper, 1.0) == pytest.approx(0.5)
    # from all cash to 95 % invested: buy 95 %, cash 100 % -> 5 %
    assert minimum_turnover({CASH: 1.0}, ["X", "Y", "Z"], lower, upper, 0.95) == pytest.approx(
        0.95)


def test_turnover_too_small_to_reach_the_limits():
    constraints = [MaxWeight(0.2), MaxTurnover(0.1, {"A": 1.0, CASH: 0.0})]
    problem, error = failing(constraints)
    assert "max_turnover" in error.conflicts
    assert says(error, "raise limits.max_turnover from 10 % to 80 %")
    assert_plan_restores_feasibility(constraints, arithmetic_diagnosis(problem).plans[0])


def test_feasible_default_shaped_limits_pass_arithmetic():
    constraints = [MaxWeight(0.25, {"F": 0.05}), GroupCap("g", ("A", "B", "C"), 0.5),
                   GroupFloor("g", ("A", "B", "C"), 0.1), GroupFloor("h", ("D", "E"), 0.1),
                   CashFloor(0.05)]
    problem, allocation = solve(constraints)
    assert arithmetic_diagnosis(problem) is None
    assert_meets_every_limit(constraints, allocation.weights)


# --------------------------------------------------------------------------- elastic LP


OVERLAP = [MaxWeight(0.5, {"C": 0.05}), GroupFloor("a", ("A", "B", "C"), 0.6),
           GroupFloor("b", ("C", "D", "E"), 0.5), CashFloor(0.05)]


def test_overlapping_group_floors_only_the_solver_sees():
    problem, error = failing(OVERLAP)
    assert arithmetic_diagnosis(problem) is None  # no sum proves it: the groups share C
    assert set(error.conflicts) == {"group_floor[a]", "group_floor[b]", "max_weight[C]"}
    assert error.what == "the limits cannot all hold at once"
    # A+B >= 55 %, D+E >= 45 %, C <= 5 %: 105 % > 95 % -> each alone moves by 10 %
    for text in ("lower limits.group_floors.a from 60 % to 50 %",
                 "lower limits.group_floors.b from 50 % to 40 %",
                 "raise limits.max_weight_overrides.C from 5 % to 15 %"):
        assert says(error, text)
    assert_one_line(error)
    diagnosis = elastic_diagnosis(problem)
    assert len(diagnosis.plans) == 3
    for plan in diagnosis.plans:
        assert len(plan) == 1
        assert_plan_restores_feasibility(OVERLAP, plan)
        assert_plan_is_smallest(OVERLAP, plan[0])


def test_theme_cap_with_group_floor_conflict():
    constraints = [MaxWeight(0.5), ThemeCap("oa", {"A": 1.0, "B": 0.8}, 0.2),
                   GroupFloor("semis", ("A", "B"), 0.4)]
    problem, error = failing(constraints)
    assert arithmetic_diagnosis(problem) is None
    assert set(error.conflicts) == {"theme_cap[oa]", "group_floor[semis]"}
    # the group floor forces at least 40 % x 0.8 = 32 % exposure
    assert says(error, "raise limits.theme_caps[oa].cap from 20 % to 32 %")
    assert says(error, "lower limits.group_floors.semis from 40 % to 25 %")
    for plan in elastic_diagnosis(problem).plans:
        assert_plan_restores_feasibility(constraints, plan)
        assert_plan_is_smallest(constraints, plan[0])


def test_turnover_with_group_floor_conflict():
    # from 95 % in A: the floor on D+E (40 %) needs 40 % turnover; the cap is 30 %. The
    # arithmetic check finds it (the least turnover into every limit is one LP) and
    # names the floor that forces the trade.
    constraints = [MaxTurnover(0.3, {"A": 0.95, CASH: 0.05}), GroupFloor("de", ("D", "E"), 0.4),
                   CashFloor(0.05)]
    problem, error = failing(constraints)
    assert arithmetic_diagnosis(problem) is not None
    assert {"max_turnover", "group_floor[de]"} <= set(error.conflicts)
    assert says(error, "raise limits.max_turnover from 30 % to 40 %")
    for plan in elastic_diagnosis(problem).plans:
        assert_plan_restores_feasibility(constraints, plan)


def test_two_independent_conflicts_get_a_joint_plan():
    constraints = [MaxWeight(0.5, {"C": 0.05}), GroupFloor("a", ("A", "B", "C"), 0.6),
                   GroupFloor("b", ("C", "D", "E"), 0.5), CashFloor(0.05),
                   MaxTurnover(0.2, {"F": 0.95, CASH: 0.05}), GroupCap("f", ("F",), 1.0)]
    problem, _ = failing(constraints)
    diagnosis = elastic_diagnosis(problem)
    assert "max_turnover" in diagnosis.conflicts
    for plan in diagnosis.plans:
        assert_plan_restores_feasibility(constraints, plan)


# --------------------------------------------------------------------------- properties


@st.composite
def feasible_limits(draw):
    """Random limits generated around a known feasible portfolio ``w`` (cash = cash floor)."""
    n = draw(st.integers(3, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tickers = [f"T{i}" for i in range(n)]
    cash = draw(st.sampled_from([0.0, 0.02, 0.05, 0.2]))
    w = rng.dirichlet(np.full(n, 0.7)) * (1 - cash)
    tight = draw(st.booleans())  # margins of 0 make some limits hold with equality

    def margin():
        return 0.0 if tight and rng.random() < 0.5 else rng.uniform(0.0, 0.2)

    overrides = {t: w[i] + margin() for i, t in enumerate(tickers) if rng.random() < 0.3}
    others = [w[i] for i, t in enumerate(tickers) if t not in overrides]
    constraints = [MaxWeight(max(others, default=0.0) + margin(), overrides),
                   CashFloor(cash)]
    if rng.random() < 0.5:
        floors = {t: w[i] * rng.uniform(0, 1) for i, t in enumerate(tickers) if rng.random() < 0.4}
        constraints.append(MinWeight(float(w.min()) * rng.uniform(0, 1), floors))
    for g in range(rng.integers(0, 4)):
        members = tuple(t for t in tickers if rng.random() < 0.5) or (tickers[0],)
        held = float(sum(w[tickers.index(t)] for t in members))
        if rng.random() < 0.6:
            constraints.append(GroupCap(f"g{g}", members, held + margin()))
        if rng.random() < 0.6:
            constraints.append(GroupFloor(f"g{g}", members, held * rng.uniform(0, 1)))
    if rng.random() < 0.4:
        exposures = {t: float(rng.uniform(0, 1)) for t in tickers if rng.random() < 0.6}
        loadings = np.array([exposures.get(t, 0.0) for t in tickers])
        constraints.append(ThemeCap("theme", exposures, float(loadings @ w) + margin()))
    if rng.random() < 0.4:
        w0 = rng.dirichlet(np.ones(n + 1))
        current = {**dict(zip(tickers, w0[:n])), CASH: w0[n]}
        turnover = 0.5 * (np.abs(w - w0[:n]).sum() + abs(cash - w0[n]))
        constraints.append(MaxTurnover(float(turnover) + margin(), current))
    return tickers, constraints, rng.integers(0, 1000)


@settings(max_examples=25, deadline=None)
@given(feasible_limits())
def test_random_feasible_limits_are_met(case):
    tickers, constraints, seed = case
    problem, allocation = solve(constraints, tickers, covariance(len(tickers), seed))
    assert arithmetic_diagnosis(problem) is None
    assert_meets_every_limit(constraints, allocation.weights, tickers)


CONFLICTS = ("caps", "name_floor", "group_floor_caps", "group_cap_floors", "disjoint_floors",
             "turnover", "overlap", "theme_floor")


@st.composite
def infeasible_limits(draw):
    """A planted conflict (and the labels taking part) plus limits that never bind.

    Each kind has exactly one conflict, so the first suggested plan must remove it.
    """
    kind = draw(st.sampled_from(CONFLICTS))
    n = draw(st.integers(4, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tickers = [f"T{i}" for i in range(n)]
    cash = float(rng.choice([0.0, 0.05, 0.1]))
    budget = 1 - cash
    gap = rng.uniform(0.01, 0.2)  # how far the conflict misses
    a, b = tickers[:2], tickers[2:4]
    if kind == "caps":
        cap = budget / n - gap / n
        constraints = [MaxWeight(cap)]
        planted = {f"max_weight[{t}]" for t in tickers} | {"cash_floor"}
    elif kind == "name_floor":
        constraints = [MaxWeight(0.5), MinWeight(0.0, {a[0]: 0.5 + gap})]
        planted = {f"min_weight[{a[0]}]", f"max_weight[{a[0]}]"}
    elif kind == "group_floor_caps":
        cap = rng.uniform(max(0.2, budget / n + 0.01), 0.4)  # caps alone hold the budget
        constraints = [MaxWeight(cap), GroupFloor("g", tuple(a), min(2 * cap + gap, 1.0))]
        planted = {"group_floor[g]"} | {f"max_weight[{t}]" for t in a}
    elif kind == "group_cap_floors":
        floor = rng.uniform(0.03, budget / n - 0.01)  # floors alone fit in the budget
        constraints = [MinWeight(floor), GroupCap("g", tuple(a), 2 * floor - gap * floor)]
        planted = {"group_cap[g]"} | {f"min_weight[{t}]" for t in a}
    elif kind == "disjoint_floors":
        first = rng.uniform(0.2, 0.7)
        constraints = [GroupFloor("a", tuple(a), first),
                       GroupFloor("b", tuple(b), min(budget - first + gap, 1.0))]
        planted = {"group_floor[a]", "group_floor[b]"}
    elif kind == "turnover":
        constraints = [MaxWeight(0.3), MaxTurnover(rng.uniform(0.0, 0.65 - cash),
                                                   {a[0]: 1.0, CASH: 0.0})]
        planted = {"max_turnover"}
    elif kind == "overlap":
        shared = rng.uniform(0.0, 0.1)
        first = rng.uniform(0.45, 0.6)  # keeps floor b below the budget on its own
        constraints = [MaxWeight(1.0, {b[0]: shared}),
                       GroupFloor("a", (*a, b[0]), first),
                       GroupFloor("b", tuple(b), budget - first + 2 * shared + gap)]
        planted = {"group_floor[a]", "group_floor[b]", f"max_weight[{b[0]}]"}
    else:  # theme_floor
        floor = rng.uniform(0.3, 0.8)
        loading = rng.uniform(0.3, 1.0)
        constraints = [ThemeCap("theme", {t: loading for t in a}, floor * loading * (1 - gap)),
                       GroupFloor("g", tuple(a), floor)]
        planted = {"theme_cap[theme]", "group_floor[g]"}
    constraints += [CashFloor(cash), GroupCap("loose", tuple(tickers[1:]), 1.0),
                    ThemeCap("loose", {tickers[-1]: 0.5}, 1.0)]
    return tickers, constraints, planted


@pytest.mark.slow  # 2-7 s: every example runs the elastic diagnosis and a re-solve
@settings(max_examples=25, deadline=None)
@given(infeasible_limits())
def test_random_infeasible_limits_name_the_planted_conflict(case):
    tickers, constraints, planted = case
    problem, error = failing(constraints, tickers)
    assert set(error.conflicts) & planted, (error.conflicts, planted, error.message)
    assert "\n" not in error.message and error.suggestion
    diagnosis = arithmetic_diagnosis(problem) or elastic_diagnosis(problem)
    assert diagnosis.plans
    assert_plan_restores_feasibility(constraints, diagnosis.plans[0], tickers)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_the_largest_invested_fraction_without_an_lp_is_the_lps(seed):
    # most_invested answers from a greedy fill within the caps when that fill reaches an
    # upper bound of sum(w); the LP (greedy switched off) is the oracle, floors included
    from unittest import mock

    from portfolio.optimization import turnover

    rng = np.random.default_rng(seed)
    tickers = [f"N{i}" for i in range(8)]
    members = [tuple(rng.choice(tickers, rng.integers(2, 5), replace=False)) for _ in range(3)]
    limits = [GroupCap(f"g{k}", m, float(rng.uniform(0.1, 0.6))) for k, m in enumerate(members)]
    limits.append(ThemeCap("t", {t: float(rng.uniform(0, 1)) for t in tickers},
                           float(rng.uniform(0.05, 0.5))))
    if rng.uniform() < 0.5:
        limits.append(GroupFloor("f", members[0], float(rng.uniform(0.0, 0.2))))
    limits.append(CashFloor(float(rng.choice([0.0, 0.05]))))
    upper = np.full(len(tickers), float(rng.uniform(0.1, 0.4)))
    feasible = turnover.turnover_set(limits, tickers, (0.0, 1.0), np.zeros(len(tickers)), upper)
    fast = turnover.most_invested(feasible)
    with mock.patch.object(turnover, "greedy_fill", return_value=None):
        exact = turnover.most_invested(feasible)
    assert (fast is None) == (exact is None)
    if exact is not None:
        assert fast[0] == pytest.approx(exact[0], abs=1e-9)
        weights = fast[1][:-1]
        assert np.all(feasible.rows @ weights <= feasible.bounds + 1e-9)
        assert np.all((weights >= -1e-12) & (weights <= upper + 1e-12))
