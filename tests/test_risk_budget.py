"""The numpy interior-point solver of the risk-budgeting objectives against Clarabel.

Oracles: the cvxpy chain (Clarabel at 1e-12 gaps) on the same problem, the defining
property of risk budgets without binding limits (contributions equal budgets), and the
KKT conditions at the answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    L2Regularization,
    MaxWeight,
    MinWeight,
    ThemeCap,
)
from portfolio.optimization.problem import optimize
from portfolio.optimization.risk_budget import RiskBudgetSolver

TICKERS = [f"N{i}" for i in range(12)]
GROUPS = {"a": TICKERS[:4], "b": TICKERS[4:8], "c": TICKERS[8:]}


def _covariance(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.0, 0.2, (12, 3)) + np.array([0.25, 0.0, 0.0])
    specific = rng.uniform(0.15, 0.5, 12) ** 2
    matrix = loadings @ loadings.T + np.diag(specific)
    return pd.DataFrame(matrix, TICKERS, TICKERS)


LIMIT_SETS = {
    "none": (),
    "caps": (MaxWeight(0.12), CashFloor(0.05)),
    "groups": (MaxWeight(0.2), GroupCap("a", tuple(GROUPS["a"]), 0.25),
               GroupFloor("c", tuple(GROUPS["c"]), 0.3), CashFloor(0.1)),
    "theme": (MaxWeight(0.25, {"N0": 0.02}), ThemeCap("t", {"N1": 1.0, "N2": 0.5}, 0.05),
              MinWeight(0.01), CashFloor(0.05)),
    "ridge": (MaxWeight(0.15), L2Regularization(0.05), CashFloor(0.05)),
}


@pytest.mark.parametrize("limits", LIMIT_SETS.values(), ids=LIMIT_SETS.keys())
@pytest.mark.parametrize("objective", ["risk_parity", "group_risk_budget"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interior_point_equals_clarabel(objective, limits, seed):
    covariance = _covariance(seed)
    returns = pd.DataFrame(np.zeros((2, 12)), columns=TICKERS)
    kwargs = {"covariance": covariance, "groups": GROUPS}
    ours = optimize(returns, objective, limits, **kwargs)
    reference = optimize(returns, objective, limits, solver="CLARABEL", **kwargs)
    assert ours.solve.solver == "INTERIOR_POINT"
    assert reference.solve.solver == "CLARABEL"
    np.testing.assert_allclose(ours.weights.to_numpy(), reference.weights.to_numpy(),
                               atol=1e-8)
    assert ours.solve.objective_value == pytest.approx(reference.solve.objective_value, rel=1e-9,
                                                      abs=1e-9)


def test_without_binding_limits_risk_contributions_equal_the_budgets():
    covariance = _covariance(3).to_numpy()
    budgets = np.linspace(1.0, 3.0, 12)
    budgets /= budgets.sum()
    solver = RiskBudgetSolver(TICKERS, 1.0, ())
    w = solver.solve(covariance, np.zeros(12), np.ones(12), budgets=budgets)
    contributions = w * (covariance @ w) / (w @ covariance @ w)
    np.testing.assert_allclose(contributions, budgets, atol=1e-10)
    assert solver.last_x @ covariance @ solver.last_x == pytest.approx(1.0, rel=1e-10)


def test_zero_budgets_and_unavailable_names_hold_nothing():
    covariance = _covariance(4).to_numpy()
    budgets = np.r_[np.zeros(2), np.full(10, 0.1)]
    upper = np.r_[np.full(11, 0.3), 0.0]  # caps come as bounds; the last name unavailable
    solver = RiskBudgetSolver(TICKERS, 0.9, ())
    w = solver.solve(covariance, np.zeros(12), upper, budgets=budgets * (upper > 0) / 0.9)
    assert w[:2].tolist() == [0.0, 0.0] and w[-1] == 0.0
    assert w.sum() == pytest.approx(0.9, abs=1e-12)


def test_a_limit_without_interior_is_solved_like_clarabel():
    # a group floor equal to its cap leaves no interior point; the infeasible-start
    # method on the augmented system still converges, to Clarabel's answer
    covariance = _covariance(5)
    returns = pd.DataFrame(np.zeros((2, 12)), columns=TICKERS)
    members = tuple(GROUPS["a"])
    limits = (GroupCap("a", members, 0.3), GroupFloor("a", members, 0.3))
    ours = optimize(returns, "risk_parity", limits, covariance=covariance)
    reference = optimize(returns, "risk_parity", limits, covariance=covariance,
                         solver="CLARABEL")
    assert ours.solve.solver == "INTERIOR_POINT"
    assert ours.weights[list(members)].sum() == pytest.approx(0.3, abs=1e-9)
    np.testing.assert_allclose(ours.weights.to_numpy(), reference.weights.to_numpy(),
                               atol=1e-7)


def test_a_floor_on_a_name_without_budget_is_declined():
    solver = RiskBudgetSolver(TICKERS, 1.0, ())
    budgets = np.r_[0.0, np.full(11, 1 / 11)]
    lower = np.r_[0.05, np.zeros(11)]
    assert solver.solve(_covariance(6).to_numpy(), lower, np.ones(12), budgets=budgets) is None
    assert "floor" in solver.last_status
