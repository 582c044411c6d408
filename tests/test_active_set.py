"""The active-set solver against Clarabel at tight tolerances, and its certificate."""

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.errors import InfeasibleError, SolverError
from portfolio.optimization.active_set import ActiveSetQP, SharpeActiveSet
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    L2Regularization,
    MaxWeight,
    MinWeight,
    ThemeCap,
)
from portfolio.optimization.problem import PortfolioProblem
from portfolio.optimization.starts import fill_budget

CLARABEL_TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


def random_covariance(rng, n, rank=None):
    factors = rng.normal(size=(n, rank or n)) * 0.2
    return factors @ factors.T + np.diag(rng.uniform(0.005, 0.05, n)) * (rank is None)


def clarabel(sigma, lower, upper, budget, limits, tickers, gamma=0.0):
    """Reference optimum (weights, objective) or None when Clarabel finds no optimum."""
    w = cp.Variable(len(tickers))
    constraints = [cp.sum(w) == budget, w >= lower, w <= upper]
    for item in limits:
        if isinstance(item, L2Regularization):
            continue
        loadings, offset, bound, sense = item.linear_form(tickers)
        row = loadings @ w + offset
        constraints.append(row <= bound if sense == "<=" else row >= bound)
    problem = cp.Problem(
        cp.Minimize(cp.quad_form(w, cp.psd_wrap(sigma)) + gamma * cp.sum_squares(w)), constraints
    )
    problem.solve(solver="CLARABEL", **CLARABEL_TIGHT)
    return (w.value, problem.value) if problem.status == cp.OPTIMAL else None


@st.composite
def problems(draw):
    n = draw(st.integers(2, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tickers = [f"T{i}" for i in range(n)]
    upper = np.full(n, draw(st.floats(1.0 / n, 1.0)))
    lower = np.zeros(n)
    if draw(st.booleans()):
        lower[: n // 3] = draw(st.floats(0.0, 0.5 / n))
    if n > 2 and draw(st.booleans()):
        upper[-1] = lower[-1] = 0.0  # a name that is not available
    budget = draw(st.sampled_from([1.0, 0.95, 0.8]))
    limits = []
    if draw(st.booleans()):
        limits.append(GroupCap(group="a", members=tuple(tickers[: n // 2 + 1]),
                               cap=draw(st.floats(0.1, 0.9))))
    if draw(st.booleans()):
        limits.append(GroupFloor(group="b", members=tuple(tickers[n // 2:]),
                                 floor=draw(st.floats(0.05, 0.6))))
    if draw(st.booleans()):
        loadings = dict(zip(tickers, rng.uniform(0, 1, n)))
        limits.append(ThemeCap("hub", loadings, draw(st.floats(0.1, 0.6))))
    gamma = draw(st.sampled_from([0.0, 0.0, 0.01]))
    if gamma:
        limits.append(L2Regularization(gamma))
    return tickers, random_covariance(rng, n), lower, upper, budget, limits, gamma


# The same examples on every run, so CI cannot flake; 6,500 random examples of this test
# were run by hand on 2026-11-28 without a failure.
@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems())
def test_matches_clarabel_or_declines_only_when_there_is_no_optimum(problem):
    tickers, sigma, lower, upper, budget, limits, gamma = problem
    reference = clarabel(sigma, lower, upper, budget, limits, tickers, gamma)
    solver = ActiveSetQP(tickers, budget, limits)
    weights = solver.solve(sigma, lower, upper)
    if reference is None:
        assert weights is None
        return
    assert weights is not None, solver.last_status
    assert solver.certificate.ok
    value = weights @ sigma @ weights + gamma * weights @ weights
    assert value - reference[1] <= 1e-9 * reference[1]
    np.testing.assert_allclose(weights, reference[0], atol=1e-6)
    # a warm re-solve on slightly different data starts from this answer
    again = solver.solve(sigma * 1.01, lower, upper)
    assert again is not None and solver.certificate.iterations <= 10


def test_a_warm_start_on_the_same_data_needs_one_iteration():
    rng = np.random.default_rng(0)
    tickers = [f"T{i}" for i in range(40)]
    sigma = random_covariance(rng, 40)
    solver = ActiveSetQP(tickers, 1.0, [])
    lower, upper = np.zeros(40), np.full(40, 0.1)
    first = solver.solve(sigma, lower, upper)
    assert solver.certificate.iterations > 1
    np.testing.assert_array_equal(solver.solve(sigma, lower, upper), first)
    assert solver.certificate.iterations == 1


def test_unconstrained_minimum_variance_equals_the_closed_form():
    rng = np.random.default_rng(1)
    tickers = [f"T{i}" for i in range(8)]
    sigma = random_covariance(rng, 8)
    weights = ActiveSetQP(tickers, 1.0, []).solve(sigma, np.full(8, -5.0), np.full(8, 5.0))
    inverse_ones = np.linalg.solve(sigma, np.ones(8))
    np.testing.assert_allclose(weights, inverse_ones / inverse_ones.sum(), atol=1e-12)


def test_rows_binding_at_the_start_use_a_linear_programming_vertex():
    # The lowest-variance names are all in a group whose cap the greedy start breaks.
    tickers = [f"T{i}" for i in range(6)]
    sigma = np.diag([0.01, 0.011, 0.012, 0.2, 0.3, 0.4])
    limits = [GroupCap(group="low", members=tuple(tickers[:3]), cap=0.3)]
    weights = ActiveSetQP(tickers, 1.0, limits).solve(sigma, np.zeros(6), np.full(6, 0.5))
    reference = clarabel(sigma, np.zeros(6), np.full(6, 0.5), 1.0, limits, tickers)
    np.testing.assert_allclose(weights, reference[0], atol=1e-7)
    assert weights[:3].sum() == pytest.approx(0.3, abs=1e-12)


def test_declines_with_a_reason_instead_of_guessing():
    tickers = ["A", "B", "C"]
    solver = ActiveSetQP(tickers, 1.0, [])
    # zero risk: every feasible point is optimal, and the certificate accepts one
    weights = solver.solve(np.zeros((3, 3)), np.zeros(3), np.full(3, 0.6))
    assert weights.sum() == pytest.approx(1.0) and solver.certificate.ok
    # two free names with zero risk: the optimality system is singular
    solver._previous = np.array([0.5, 0.5, 0.0])
    assert solver.solve(np.zeros((3, 3)), np.zeros(3), np.full(3, 0.6)) is None
    assert solver.last_status == "singular covariance block"
    assert solver.solve(np.eye(3), np.zeros(3), np.full(3, 0.2)) is None  # caps sum to 0.6
    assert solver.last_status == "no feasible starting point"


def test_a_singular_covariance_gets_the_same_optimum_whichever_path_answers():
    rng = np.random.default_rng(2)
    tickers = [f"T{i}" for i in range(12)]
    sigma = random_covariance(rng, 12, rank=3)
    allocation = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.2)]).solve(sigma)
    reference = clarabel(sigma, np.zeros(12), np.full(12, 0.2), 1.0, [], tickers)
    assert allocation.solve.objective_value == pytest.approx(reference[1], rel=1e-6, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_fill_budget_is_the_least_linear_cost_over_the_box_and_budget(n, seed):
    """Filling the cheapest names first is the exact LP optimum (the fractional knapsack)."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(seed)
    lower = rng.uniform(0, 0.1, n) * (rng.random(n) < 0.5)
    upper = lower + rng.uniform(0, 0.5, n)
    budget = float(rng.uniform(lower.sum(), upper.sum()))
    cost = rng.normal(size=n)
    cost[rng.random(n) < 0.3] = 0.0  # ties
    weights = fill_budget(budget, lower, upper, cost)
    assert weights.sum() == pytest.approx(budget, abs=1e-12)
    assert (weights >= lower).all() and (weights <= upper).all()
    result = linprog(cost, A_eq=np.ones((1, n)), b_eq=[budget],
                     bounds=list(zip(lower, upper)), method="highs")
    assert cost @ weights == pytest.approx(result.fun, abs=1e-9)


# --------------------------------------------------------------------------- max Sharpe


@st.composite
def sharpe_problems(draw):
    tickers, sigma, lower, upper, budget, limits, _ = draw(problems())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mu = rng.normal(0.08, 0.1, len(tickers))
    mu[draw(st.integers(0, len(tickers) - 1))] = 0.3  # at least one positive excess return
    return tickers, sigma, lower, upper, budget, limits, mu


@settings(max_examples=40, deadline=None, derandomize=True)
@given(sharpe_problems())
def test_max_sharpe_matches_clarabel_through_the_optimiser(problem):
    tickers, sigma, lower, upper, budget, limits, mu = problem
    constraints = [MaxWeight(float(upper.max()), dict(zip(tickers, upper.tolist()))),
                   MinWeight(0.0, dict(zip(tickers, lower.tolist()))), *limits]
    if budget < 1:
        constraints.append(CashFloor(1 - budget))
    available = upper > 0
    solved = {}
    for solver in ("auto", "CLARABEL"):
        problem_ = PortfolioProblem(tickers, "max_sharpe", constraints, solver=solver,
                                    risk_free_rate=0.02)
        try:
            solved[solver] = problem_.solve(sigma, mu, available=available)
        except InfeasibleError:
            solved[solver] = None
        except SolverError:
            if solver != "CLARABEL":
                raise
            solved[solver] = None  # Clarabel failed numerically: no reference to compare with
    reference, fast = solved["CLARABEL"], solved["auto"]
    if reference is None or reference.solve.status != cp.OPTIMAL:
        return
    assert fast is not None
    assert fast.solve.objective_value == pytest.approx(reference.solve.objective_value,
                                                       rel=1e-6)
    assert all(row.ok for row in fast.limits)


def test_max_sharpe_equals_the_tangency_portfolio_and_re_solves_warm():
    rng = np.random.default_rng(5)
    tickers = [f"T{i}" for i in range(10)]
    sigma = random_covariance(rng, 10)
    mu = rng.uniform(0.05, 0.2, 10)
    solver = SharpeActiveSet(tickers, 1.0, [])
    # wide floors and caps: the unconstrained tangency sigma^-1 (mu - rf), normalised
    weights = solver.solve(sigma, np.full(10, -10.0), np.full(10, 10.0), expected_returns=mu,
                           risk_free_rate=0.01)
    tangency = np.linalg.solve(sigma, mu - 0.01)
    np.testing.assert_allclose(weights, tangency / tangency.sum(), atol=1e-10)
    lower, upper = np.zeros(10), np.full(10, 0.2)
    solver.solve(sigma, lower, upper, expected_returns=mu, risk_free_rate=0.01)
    cold = solver.certificate.iterations
    solver.solve(sigma * 1.02, lower, upper, expected_returns=mu * 1.01, risk_free_rate=0.01)
    assert solver.certificate.iterations < max(cold, 3)


def test_max_sharpe_without_a_positive_excess_return_still_explains_itself():
    tickers = ["A", "B", "C"]
    problem = PortfolioProblem(tickers, "max_sharpe", [MaxWeight(0.5)], risk_free_rate=0.05)
    with pytest.raises(InfeasibleError, match="max-Sharpe has no solution"):
        problem.solve(np.eye(3) * 0.04, np.array([0.01, 0.02, 0.03]))
