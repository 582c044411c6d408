"""The fast paths for linear min-variance (active set, warm-started OSQP) against Clarabel."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portfolio.errors import InfeasibleError
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    L2Regularization,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
    check_all,
)
from portfolio.optimization.linear_qp import LinearQP, ridge_hessian
from portfolio.optimization.problem import PortfolioProblem

# solver option -> the fast path that must answer, and the fallback reasons it may give
# on the degenerate example below
FAST_PATHS = {
    "auto": ("ACTIVE_SET", ()),
    # OSQP's polish cannot settle a degenerate optimum (more active limits than names);
    # the problem then falls back to the cvxpy chain (whose solver is also "OSQP"), which
    # must say why.
    "OSQP": ("OSQP", ("OSQP (warm-started): solved, polish failed",)),
}
DEGENERATE = {"n": 6, "seed": 1922}


def covariance(n, seed):
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3)) * 0.2
    sigma = factors @ factors.T + np.diag(rng.uniform(0.01, 0.09, n))
    tickers = [f"T{i}" for i in range(n)]
    return tickers, pd.DataFrame(sigma, index=tickers, columns=tickers)


def limits(tickers, seed):
    rng = np.random.default_rng(seed)
    half = tickers[: len(tickers) // 2]
    return [
        MaxWeight(0.25, {tickers[0]: 0.05}),
        MinWeight(0.0, {tickers[-1]: 0.02}),
        GroupCap(group="a", members=tuple(half), cap=0.45),
        GroupFloor(group="a", members=tuple(half), floor=0.2),
        CashFloor(0.05),
        ThemeCap("hub", {t: float(x) for t, x in zip(tickers, rng.uniform(0, 1, len(tickers)))},
                 0.4),
        L2Regularization(0.001),
    ]


def objective(weights, sigma, gamma=0.001):
    w = weights.drop("CASH").to_numpy()
    return w @ sigma.to_numpy() @ w + gamma * w @ w


@pytest.mark.parametrize("solver", sorted(FAST_PATHS))
@settings(max_examples=20, deadline=None, derandomize=True)  # the same examples each run
@given(n=st.integers(6, 40), seed=st.integers(0, 10_000))
@example(**DEGENERATE)  # degenerate optimum: more active limits than free names
def test_fast_path_matches_clarabel(solver, n, seed):
    tickers, sigma = covariance(n, seed)
    constraints = limits(tickers, seed)
    try:
        reference = PortfolioProblem(
            tickers, "min_variance", constraints, solver="CLARABEL"
        ).solve(sigma)
    except InfeasibleError:  # small universes can make the random limits conflict
        with pytest.raises(InfeasibleError):
            PortfolioProblem(tickers, "min_variance", constraints, solver=solver).solve(sigma)
        return
    fast = PortfolioProblem(tickers, "min_variance", constraints, solver=solver).solve(sigma)
    name, fallbacks = FAST_PATHS[solver]
    assert fast.solve.solver == name
    # Only the degenerate example may fall back to the cvxpy chain (on the CI examples the
    # other 20 are answered by the fast path itself).
    allowed = {(), fallbacks} if {"n": n, "seed": seed} == DEGENERATE else {()}
    assert fast.solve.fallbacks in allowed
    gap = objective(fast.weights, sigma) - objective(reference.weights, sigma)
    assert gap <= 1e-6 * objective(reference.weights, sigma)
    assert np.abs(fast.weights - reference.weights).max() < 1e-4
    assert all(row.ok for row in check_all(constraints, fast.weights, tickers))


@pytest.mark.parametrize("solver", sorted(FAST_PATHS))
def test_resolves_with_new_data_and_masks_equal_fresh_clarabel_solves(solver):
    tickers, _ = covariance(30, 0)
    constraints = limits(tickers, 0)
    problem = PortfolioProblem(tickers, "min_variance", constraints, solver=solver)
    for step in range(8):
        _, sigma = covariance(30, step)
        available = {t: not (step % 3 == 0 and t in tickers[5:8]) for t in tickers}
        fast = problem.solve(sigma, available=available)
        reference = PortfolioProblem(
            tickers, "min_variance", constraints, solver="CLARABEL"
        ).solve(sigma, available=available)
        assert fast.solve.solver == FAST_PATHS[solver][0]
        assert fast.solve.fallbacks == ()  # the warm re-solve answered, not the cvxpy chain
        np.testing.assert_allclose(fast.weights, reference.weights, atol=1e-5)
        if step % 3 == 0:
            assert (fast.weights[tickers[5:8]] == 0).all()


def test_infeasible_limits_still_get_the_diagnosis():
    tickers, sigma = covariance(6, 1)
    conflict = [MaxWeight(0.5), GroupFloor(group="a", members=tuple(tickers[:2]), floor=0.6),
                GroupFloor(group="b", members=tuple(tickers[2:4]), floor=0.6),
                GroupCap(group="ab", members=tuple(tickers[:4]), cap=0.9)]
    with pytest.raises(InfeasibleError) as error:
        PortfolioProblem(tickers, "min_variance", conflict).solve(sigma)
    assert error.value.conflicts


def test_failed_fast_paths_fall_back_in_order_and_say_why(monkeypatch):
    tickers, sigma = covariance(10, 2)
    problem = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.3)])
    (_, active_set, _), (_, osqp, _) = problem._fast_paths
    monkeypatch.setattr(active_set, "solve", lambda *args: None)
    active_set.last_status = "no optimum after 200 iterations"
    assert problem.solve(sigma).solve.fallbacks == (
        "active set: no optimum after 200 iterations",
    )
    monkeypatch.setattr(osqp, "solve", lambda *args: None)
    osqp.last_status = "maximum iterations reached"
    allocation = problem.solve(sigma)
    assert allocation.solve.solver == "CLARABEL"
    assert allocation.solve.fallbacks == (
        "active set: no optimum after 200 iterations",
        "OSQP (warm-started): maximum iterations reached",
    )


def test_problems_outside_the_fast_path_use_the_chain():
    tickers, sigma = covariance(8, 3)
    current = dict.fromkeys(tickers, 1 / 8)
    limits_with_turnover = [MaxWeight(0.3), MaxTurnover(0.5, current)]
    turnover = PortfolioProblem(tickers, "min_variance", limits_with_turnover)
    assert turnover._fast_paths == ()
    assert turnover.solve(sigma).solve.solver == "CLARABEL"
    assert PortfolioProblem(tickers, "min_variance", solver="SCS")._fast_paths == ()


def test_an_osqp_exception_is_a_declined_answer_not_a_traceback():
    tickers = ["A", "B", "C"]
    indefinite = np.array([[0.04, 0.1, 0.0], [0.1, 0.04, 0.0], [0.0, 0.0, 0.1]])
    backend = LinearQP(tickers, 1.0, [])
    assert backend.solve(indefinite, np.zeros(3), np.full(3, 0.6)) is None
    assert backend.last_status == "OSQP error OSQP_NONCVX_ERROR"
    # set up afresh afterwards: a convex problem is solved again
    weights = backend.solve(np.diag([0.04, 0.09, 0.16]), np.zeros(3), np.full(3, 0.6))
    assert backend.last_status == "solved"
    inverse = 1 / np.array([0.04, 0.09, 0.16])
    np.testing.assert_allclose(weights, inverse / inverse.sum(), atol=1e-8)


def test_ridge_hessian_is_twice_the_ridged_covariance():
    _, sigma = covariance(5, 0)
    matrix = sigma.to_numpy()
    np.testing.assert_array_equal(ridge_hessian(matrix, 0.0), 2 * matrix)
    np.testing.assert_allclose(ridge_hessian(matrix, 0.01), 2 * (matrix + 0.01 * np.eye(5)),
                               rtol=1e-15)
