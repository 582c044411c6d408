"""The warm-started OSQP path for linear min-variance against Clarabel through cvxpy."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portfolio.constraints import (
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
from portfolio.errors import InfeasibleError
from portfolio.optimizer import PortfolioProblem


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


@settings(max_examples=20, deadline=None)
@given(n=st.integers(6, 40), seed=st.integers(0, 10_000))
@example(n=6, seed=1922)  # degenerate optimum: polish fails, the cvxpy chain answers
def test_fast_path_matches_clarabel(n, seed):
    tickers, sigma = covariance(n, seed)
    constraints = limits(tickers, seed)
    try:
        reference = PortfolioProblem(
            tickers, "min_variance", constraints, solver="CLARABEL"
        ).solve(sigma)
    except InfeasibleError:  # small universes can make the random limits conflict
        with pytest.raises(InfeasibleError):
            PortfolioProblem(tickers, "min_variance", constraints).solve(sigma)
        return
    fast = PortfolioProblem(tickers, "min_variance", constraints).solve(sigma)
    # OSQP's polish cannot settle a degenerate optimum (more active limits than names);
    # the problem then falls back to the cvxpy chain, which must say why.
    assert fast.solve.solver == "OSQP" or fast.solve.fallbacks == (
        "OSQP (warm-started): solved, polish failed",
    )
    gap = objective(fast.weights, sigma) - objective(reference.weights, sigma)
    assert gap <= 1e-6 * objective(reference.weights, sigma)
    assert np.abs(fast.weights - reference.weights).max() < 1e-4
    assert all(row.ok for row in check_all(constraints, fast.weights, tickers))


def test_resolves_with_new_data_and_masks_equal_fresh_clarabel_solves():
    tickers, _ = covariance(30, 0)
    constraints = limits(tickers, 0)
    problem = PortfolioProblem(tickers, "min_variance", constraints)
    for step in range(8):
        _, sigma = covariance(30, step)
        available = {t: not (step % 3 == 0 and t in tickers[5:8]) for t in tickers}
        fast = problem.solve(sigma, available=available)
        reference = PortfolioProblem(
            tickers, "min_variance", constraints, solver="CLARABEL"
        ).solve(sigma, available=available)
        assert fast.solve.solver == "OSQP"
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


def test_a_failed_fast_solve_falls_back_to_the_cvxpy_chain(monkeypatch):
    tickers, sigma = covariance(10, 2)
    problem = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.3)])
    monkeypatch.setattr(problem._linear_qp, "solve", lambda *args: None)
    problem._linear_qp.last_status = "maximum iterations reached"
    allocation = problem.solve(sigma)
    assert allocation.solve.solver == "CLARABEL"
    assert allocation.solve.fallbacks == (
        "OSQP (warm-started): maximum iterations reached",
    )


def test_problems_outside_the_fast_path_use_the_chain():
    tickers, sigma = covariance(8, 3)
    current = dict.fromkeys(tickers, 1 / 8)
    limits_with_turnover = [MaxWeight(0.3), MaxTurnover(0.5, current)]
    turnover = PortfolioProblem(tickers, "min_variance", limits_with_turnover)
    assert turnover._linear_qp is None
    assert turnover.solve(sigma).solve.solver == "CLARABEL"
