"""Allocation.explain(): weights, binding limits and zero-weight reasons from optimality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import portfolio as pf
from portfolio.optimization.explain import SCORES, SolveContext

TICKERS = ["A", "B", "C", "D", "E", "F"]


def covariance(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.8, 0.3, (6, 2))
    sigma = loadings @ np.diag([0.04, 0.01]) @ loadings.T + np.diag(rng.uniform(0.01, 0.09, 6))
    return pd.DataFrame(sigma, index=TICKERS, columns=TICKERS)


MU = pd.Series([0.08, 0.12, 0.10, 0.05, 0.20, 0.07], index=TICKERS)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_every_score_gradient_equals_finite_differences(name):
    sigma = covariance(1).to_numpy()
    spec = pf.make_objective(name)
    context = SolveContext(tuple(TICKERS), sigma, MU.to_numpy(), np.zeros(6), np.ones(6), spec,
                           {"risk_free_rate": 0.03})
    rng = np.random.default_rng(2)
    w = rng.dirichlet(np.ones(6)) * 0.9
    score = SCORES[name]
    step = 1e-6
    numeric = np.array([(score.value(w + step * e, context) - score.value(w - step * e, context))
                        / (2 * step) for e in np.eye(6)])
    np.testing.assert_allclose(score.gradient(w, context), numeric, rtol=1e-6, atol=1e-9)


def min_variance_with_zeros():
    sigma = covariance(3)
    for ticker, scale in (("E", 3.0), ("F", 2.5)):  # same correlations, 2.5-3x the volatility
        sigma.loc[ticker, :] *= scale
        sigma.loc[:, ticker] *= scale
    limits = [pf.MaxWeight(0.6), pf.CashFloor(0.05),
              pf.GroupCap(group="ab", members=("A", "B"), cap=0.9)]
    problem = pf.PortfolioProblem(TICKERS, "min_variance", limits)
    return problem.solve(sigma, available={t: t != "D" for t in TICKERS}), sigma


def test_min_variance_explanation_reads_the_optimality_conditions():
    allocation, sigma = min_variance_with_zeros()
    explained = allocation.explain(capital=200_000)
    names = {n.ticker: n for n in explained.names}
    w = allocation.weights.reindex(TICKERS).to_numpy()
    vol = np.sqrt(w @ sigma.to_numpy() @ w)
    assert explained.volatility == pytest.approx(vol)
    assert sum(n.risk_contribution for n in explained.names) == pytest.approx(vol)
    assert sum(n.risk_share for n in explained.names) == pytest.approx(1.0)
    assert names["D"].reason.startswith("not available")
    assert names["A"].amount == pytest.approx(200_000 * names["A"].weight)
    free = [n for n in explained.names if n.reason.startswith("held freely")]
    assert free and np.ptp([n.marginal_risk for n in free]) < 1e-6  # equal marginal risk
    zeros = [n for n in explained.names if n.score_change is not None]
    assert {n.ticker for n in zeros} == {"E", "F"}
    for n in zeros:
        assert n.score_change > 0  # KKT: more of it would only raise the volatility
        assert f"{n.score_change * 1e4:.2g} bp" in n.reason
        assert n.reason.startswith(f"adding 1 % of {n.ticker} in place of")
        # the number is the finite difference of the volatility along that trade
        funders = np.array([f.ticker for f in free])
        d = np.zeros(6)
        for f in funders:
            d[TICKERS.index(f)] = -w[TICKERS.index(f)]
        d /= -d.sum()
        d[TICKERS.index(n.ticker)] += 1.0
        moved = w + 1e-7 * d
        numeric = (np.sqrt(moved @ sigma.to_numpy() @ moved) - vol) / 1e-7 * 0.01
        assert n.score_change == pytest.approx(numeric, rel=1e-4)


def test_binding_limits_are_named():
    limits = [pf.MaxWeight(0.3), pf.CashFloor(0.05),
              pf.GroupCap(group="ab", members=("A", "B"), cap=0.35)]
    allocation = pf.PortfolioProblem(TICKERS, "min_variance", limits).solve(covariance(2))
    names = {n.ticker: n for n in allocation.explain().names}  # D at its cap, ab full
    at_cap = [n for n in names.values() if n.weight >= 0.3 - 1e-6]
    assert at_cap
    for n in at_cap:
        assert f"max_weight[{n.ticker}]" in n.binding and "at its 30 % cap" in n.reason
    assert allocation.weights[["A", "B"]].sum() == pytest.approx(0.35, abs=1e-6)
    for ticker in "AB":
        assert "group_cap[ab]" in names[ticker].binding
        assert "the ab cap of 35 % is full" in names[ticker].reason


def test_a_zero_behind_a_full_group_cap_names_the_cap():
    sigma = covariance(4)
    limits = [pf.GroupCap(group="low", members=("A", "B", "C"), cap=0.2), pf.MaxWeight(0.5)]
    allocation = pf.PortfolioProblem(TICKERS, "min_variance", limits).solve(sigma)
    names = {n.ticker: n for n in allocation.explain().names}
    in_group = [names[t] for t in "ABC"]
    assert allocation.weights[list("ABC")].sum() == pytest.approx(0.2, abs=1e-6)
    for n in in_group:
        assert "group_cap[low]" in n.binding and "the low cap of 20 % is full" in n.reason


def test_max_sharpe_reports_return_and_sharpe():
    sigma = covariance(5)
    allocation = pf.PortfolioProblem(TICKERS, "max_sharpe", [pf.MaxWeight(0.4)]).solve(
        sigma, MU, risk_free_rate=0.03)
    explained = allocation.explain()
    w = allocation.weights.reindex(TICKERS).to_numpy()
    vol = np.sqrt(w @ sigma.to_numpy() @ w)
    assert explained.expected_return == pytest.approx(MU.to_numpy() @ w)
    assert explained.sharpe == pytest.approx((MU.to_numpy() - 0.03) @ w / vol)
    for n in explained.names:
        if n.score_change is not None:
            assert n.score_change <= 1e-9  # KKT: any zero would lower the Sharpe ratio
            assert "lower the Sharpe ratio" in n.reason


def test_risk_budgets_explain_shares_against_budgets(config, market):
    run = pf.optimize_from_config(config, market=market, objective="group_risk_budget")
    explained = run.allocation.explain(groups=config.groups)
    assert all(n.weight > 0 for n in explained.names)  # every group, every name held
    for n in explained.names:
        assert "of the risk against a budget of" in n.reason
    assert {g.group for g in explained.groups} == set(config.groups)
    assert sum(g.risk_share for g in explained.groups) == pytest.approx(1.0)


def test_explain_needs_the_solve_data():
    allocation = pf.Allocation(pd.Series({"A": 1.0, "CASH": 0.0}), "min_variance", None, 0.1,
                               pf.SolveInfo("X", "optimal", 0.0, 0.0))
    with pytest.raises(pf.InputError, match="no solve data"):
        allocation.explain()
