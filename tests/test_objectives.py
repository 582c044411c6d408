"""Objectives against closed forms, PyPortfolioOpt and an independent LP (scipy)."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from portfolio.errors import DataError, InfeasibleError, InputError
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    L2Regularization,
    MaxTurnover,
    MaxWeight,
    TransactionCosts,
)
from portfolio.optimization.objectives import OBJECTIVES, make_objective, risk_budget_shares
from portfolio.optimization.problem import PortfolioProblem, optimize
from portfolio.weights import CASH

TICKERS = ["NVDA", "AMD", "MSFT", "GOOGL", "TSM", "ORCL"]


def _constant_correlation(vols: np.ndarray, rho: float = 0.3) -> np.ndarray:
    corr = np.full((len(vols), len(vols)), rho) + (1 - rho) * np.eye(len(vols))
    return corr * np.outer(vols, vols)


def _frame(matrix: np.ndarray, names=TICKERS) -> pd.DataFrame:
    return pd.DataFrame(matrix, index=names, columns=names)


def _covariance(seed: int = 0, n: int = len(TICKERS)) -> np.ndarray:
    """A factor-model covariance (annual), well conditioned."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.8, 0.3, (n, 2))
    return loadings @ np.diag([0.03, 0.01]) @ loadings.T + np.diag(rng.uniform(0.02, 0.08, n))


def _scenarios(seed: int = 0, periods: int = 400, names=TICKERS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.standard_t(4, (periods, 1)) * 0.012
    values = market * rng.uniform(0.6, 1.6, len(names)) + rng.normal(
        3e-4, 0.015, (periods, len(names))
    )
    dates = pd.bdate_range("2023-01-02", periods=periods)
    return pd.DataFrame(values, index=dates, columns=names)


def _contributions(weights: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return weights * (sigma @ weights) / (weights @ sigma @ weights)


# --------------------------------------------------------------------------- DPP, registry


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_objective_is_dpp_and_resolves_like_a_fresh_build(name):
    scenarios = _scenarios(1)
    data = {
        "min_cvar": {"scenarios": scenarios},
        "min_tracking_error": {"target_weights": dict.fromkeys(TICKERS, 1 / 6)},
        "risk_parity": {"risk_budgets": {"NVDA": 0.3}},
    }.get(name, {})
    limits = [
        MaxWeight(0.35),
        CashFloor(0.02),
        GroupCap(group="chips", members=("NVDA", "AMD"), cap=0.5),
    ]
    mu = pd.Series(np.linspace(0.05, 0.2, 6), index=TICKERS)
    # CLARABEL: min_variance and max_sharpe would otherwise take the active-set fast path
    problem = PortfolioProblem(TICKERS, name, limits, solver="CLARABEL")
    problem.solve(_frame(_covariance(2)), mu, **data)
    assert problem.problem.is_dpp()
    compiled = problem.problem
    second = problem.solve(_frame(_covariance(3)), mu[::-1].set_axis(TICKERS), **data)
    assert problem.problem is compiled  # re-solved through the Parameters, not rebuilt
    fresh = PortfolioProblem(TICKERS, name, limits, solver="CLARABEL").solve(
        _frame(_covariance(3)), mu[::-1].set_axis(TICKERS), **data
    )
    assert second.solve.solver == fresh.solve.solver == "CLARABEL"
    np.testing.assert_allclose(second.weights, fresh.weights, atol=1e-7)
    assert second.weights.sum() == pytest.approx(1.0)
    assert second.weights[CASH] == pytest.approx(0.02, abs=1e-8)
    assert all(row.ok for row in second.limits)


def test_make_objective_rejects_unknown_names_and_options():
    with pytest.raises(InputError, match="Did you mean 'max_sharpe'"):
        make_objective("max_sharp")
    with pytest.raises(InputError, match="utility accepts: risk_aversion"):
        make_objective("utility", risk_aversio=3.0)
    with pytest.raises(InputError, match="risk_aversion"):
        make_objective("utility", risk_aversion=-1.0)
    with pytest.raises(InputError, match="confidence"):
        make_objective("min_cvar", confidence=1.5)


# --------------------------------------------------------------------------- min variance


def test_unconstrained_min_variance_is_the_closed_form():
    sigma = _constant_correlation(np.array([0.20, 0.25, 0.30, 0.22, 0.28, 0.35]))
    ones = np.ones(len(TICKERS))
    closed = np.linalg.solve(sigma, ones)
    closed /= closed.sum()
    assert (closed > 0).all()
    allocation = PortfolioProblem(TICKERS, "min_variance").solve(_frame(sigma))
    np.testing.assert_allclose(allocation.risky_weights.to_numpy(), closed, atol=1e-6)
    assert allocation.solve.objective_value == pytest.approx(closed @ sigma @ closed, rel=1e-7)


def _bundled_ledoit_wolf() -> pd.DataFrame:
    from sklearn.covariance import LedoitWolf

    from portfolio.data.prices import load_prices

    names = [
        "NVDA",
        "AMD",
        "ORCL",
        "CRWV",
        "GOOGL",
        "MSFT",
        "META",
        "AVGO",
        "AMZN",
        "TSM",
        "SMCI",
        "INTC",
        "MU",
        "9984.T",
    ]
    prices = load_prices(names, source="bundled").prices.iloc[-757:]
    returns = prices.pct_change().iloc[1:]
    returns = returns.loc[:, returns.notna().all()]
    matrix = LedoitWolf().fit(returns.to_numpy()).covariance_ * 252
    return pd.DataFrame(matrix, index=returns.columns, columns=returns.columns)


@pytest.mark.parametrize("cap", [0.15, 0.25])
def test_capped_min_variance_matches_pyportfolioopt_on_bundled_data(cap):
    from pypfopt import EfficientFrontier

    sigma = _bundled_ledoit_wolf()
    assert len(sigma) >= 10
    reference = pd.Series(EfficientFrontier(None, sigma, weight_bounds=(0, cap)).min_volatility())
    allocation = PortfolioProblem(list(sigma.index), "min_variance", [MaxWeight(cap)]).solve(sigma)
    np.testing.assert_allclose(allocation.risky_weights[reference.index], reference, atol=1e-4)
    assert any(name.startswith("max_weight") for name in allocation.binding)


# --------------------------------------------------------------------------- max Sharpe


def test_max_sharpe_equals_the_tangency_portfolio():
    sigma = _covariance(4)
    rng = np.random.default_rng(4)
    tangency = rng.uniform(0.05, 0.3, len(TICKERS))
    tangency /= tangency.sum()
    rf = 0.03
    mu = pd.Series(rf + 0.7 * sigma @ tangency, index=TICKERS)
    closed = np.linalg.solve(sigma, mu.to_numpy() - rf)
    np.testing.assert_allclose(closed / closed.sum(), tangency, rtol=1e-12)
    by_option = PortfolioProblem(TICKERS, "max_sharpe", risk_free_rate=rf).solve(_frame(sigma), mu)
    np.testing.assert_allclose(by_option.risky_weights.to_numpy(), tangency, atol=1e-6)
    # the risk-free rate as data overrides the option, and can change between solves
    problem = PortfolioProblem(TICKERS, "max_sharpe", risk_free_rate=0.0)
    by_data = problem.solve(_frame(sigma), mu, risk_free_rate=rf)
    np.testing.assert_allclose(by_data.risky_weights.to_numpy(), tangency, atol=1e-6)
    sharpe = (tangency @ mu - rf) / np.sqrt(tangency @ sigma @ tangency)
    assert by_data.solve.objective_value == pytest.approx(1 / sharpe**2, rel=1e-6)


def test_max_sharpe_with_cash_floor_scales_the_tangency_portfolio():
    sigma = _covariance(5)
    tangency = np.full(len(TICKERS), 1 / len(TICKERS))
    mu = pd.Series(0.02 + sigma @ tangency, index=TICKERS)
    allocation = PortfolioProblem(
        TICKERS, "max_sharpe", [CashFloor(0.1)], risk_free_rate=0.02
    ).solve(_frame(sigma), mu)
    np.testing.assert_allclose(allocation.risky_weights.to_numpy(), 0.9 * tangency, atol=1e-6)
    assert allocation.weights[CASH] == pytest.approx(0.1, abs=1e-8)


def test_max_sharpe_beats_every_sampled_portfolio_net_of_penalties():
    sigma = _covariance(6)
    mu = pd.Series([0.25, 0.18, 0.12, 0.10, 0.15, 0.08], index=TICKERS)
    current = dict(zip(TICKERS, [0.1, 0.2, 0.3, 0.1, 0.2, 0.1], strict=True))
    costs = TransactionCosts(bps=50, current=current)
    l2 = L2Regularization(gamma=0.05)
    limits = [MaxWeight(0.4), costs, l2]
    rf = 0.03
    allocation = PortfolioProblem(TICKERS, "max_sharpe", limits, risk_free_rate=rf).solve(
        _frame(sigma), mu
    )
    w0 = np.array(list(current.values()))

    def net_sharpe(w):  # costs net of the return, L2 as a ridge on the risk
        cost = 50 / 1e4 * np.abs(w - w0).sum()
        return (w @ mu.to_numpy() - rf - cost) / np.sqrt(w @ sigma @ w + 0.05 * w @ w)

    best = net_sharpe(allocation.risky_weights.to_numpy())
    samples = np.random.default_rng(0).dirichlet(np.ones(6), 4000)
    samples = samples[(samples <= 0.4).all(axis=1)]
    assert best >= max(net_sharpe(w) for w in samples)
    assert best >= net_sharpe(w0)


def test_max_sharpe_with_prohibitive_costs_keeps_current_weights():
    sigma = _covariance(7)
    mu = pd.Series([0.25, 0.18, 0.12, 0.10, 0.15, 0.08], index=TICKERS)
    current = dict(zip(TICKERS, [0.2, 0.2, 0.2, 0.1, 0.2, 0.1], strict=True))
    limits = [MaxWeight(0.4), TransactionCosts(bps=1e5, current=current)]
    allocation = PortfolioProblem(TICKERS, "max_sharpe", limits).solve(_frame(sigma), mu)
    np.testing.assert_allclose(
        allocation.risky_weights.to_numpy(), list(current.values()), atol=1e-6
    )


def test_max_sharpe_with_turnover_limit_respects_it():
    sigma = _covariance(8)
    mu = pd.Series([0.25, 0.18, 0.12, 0.10, 0.15, 0.08], index=TICKERS)
    current = dict.fromkeys(TICKERS, 1 / 6)
    allocation = PortfolioProblem(TICKERS, "max_sharpe", [MaxTurnover(0.1, current)]).solve(
        _frame(sigma), mu
    )
    (row,) = [r for r in allocation.limits if r.name == "max_turnover"]
    assert row.value == pytest.approx(0.1, abs=1e-6)
    assert "max_turnover" in allocation.binding


def test_max_sharpe_without_positive_excess_return_raises_before_solving():
    sigma = _covariance(9)
    mu = pd.Series([0.028, 0.01, 0.0, -0.02, 0.02, 0.015], index=TICKERS)
    problem = PortfolioProblem(TICKERS, "max_sharpe", risk_free_rate=0.04)
    problem.problem.solve = None  # the solver must not run
    with pytest.raises(InfeasibleError) as caught:
        problem.solve(_frame(sigma), mu)
    assert str(caught.value) == (
        "max-Sharpe has no solution: every expected excess return is <= 0 (best: NVDA -1.2 %). "
        "Use min_variance, another expected-return method, or a lower risk-free rate."
    )


def test_max_sharpe_ignores_unavailable_names_in_the_excess_return_check():
    sigma = _covariance(9)
    mu = pd.Series([0.30, 0.01, 0.0, -0.02, 0.02, 0.015], index=TICKERS)
    available = dict.fromkeys(TICKERS[1:], True)
    with pytest.raises(InfeasibleError, match="best: TSM -2 %"):
        PortfolioProblem(TICKERS, "max_sharpe", risk_free_rate=0.04).solve(
            _frame(sigma), mu, available=available
        )


def test_max_sharpe_names_limits_that_leave_no_positive_excess_return():
    sigma = _covariance(10)
    mu = pd.Series([0.30, 0.0, 0.0, 0.0, 0.0, 0.0], index=TICKERS)
    limits = [MaxWeight(0.5, {"NVDA": 0.05})]
    with pytest.raises(InfeasibleError, match="no portfolio within the limits") as caught:
        PortfolioProblem(TICKERS, "max_sharpe", limits, risk_free_rate=0.1).solve(_frame(sigma), mu)
    assert "best: -8.5 %" in str(caught.value)


def test_return_seeking_objectives_need_expected_returns():
    with pytest.raises(InputError, match="max_sharpe needs expected returns"):
        PortfolioProblem(TICKERS, "max_sharpe").solve(_frame(_covariance()))


@pytest.mark.parametrize("name", ["min_variance", "max_sharpe", "risk_parity"])
def test_l2_regularisation_acts_as_a_ridge_on_the_covariance(name):
    sigma = _covariance(24)
    gamma = 0.04
    mu = pd.Series([0.25, 0.18, 0.12, 0.10, 0.15, 0.08], index=TICKERS)
    regularised = PortfolioProblem(TICKERS, name, [MaxWeight(0.4), L2Regularization(gamma)])
    ridge = PortfolioProblem(TICKERS, name, [MaxWeight(0.4)])
    with_l2 = regularised.solve(_frame(sigma), mu)
    on_ridge = ridge.solve(_frame(sigma + gamma * np.eye(6)), mu)
    np.testing.assert_allclose(with_l2.weights, on_ridge.weights, atol=1e-6)
    assert regularised.problem.is_dpp()


# --------------------------------------------------------------------------- utility


def test_utility_with_huge_risk_aversion_is_min_variance():
    sigma = _frame(_covariance(11))
    mu = pd.Series(np.linspace(0.3, -0.1, 6), index=TICKERS)
    limits = [MaxWeight(0.3)]
    minimum = PortfolioProblem(TICKERS, "min_variance", limits).solve(sigma)
    utility = PortfolioProblem(TICKERS, "utility", limits, risk_aversion=1e7).solve(sigma, mu)
    np.testing.assert_allclose(utility.weights, minimum.weights, atol=1e-6)


def test_utility_without_caps_is_the_closed_form_mean_variance_portfolio():
    sigma = _covariance(12)
    gamma = 4.0
    rng = np.random.default_rng(12)
    target = rng.uniform(0.1, 0.25, 6)
    target /= target.sum()
    # stationarity: gamma * Sigma w - mu + nu 1 = 0 with w = target, nu = 0.05
    mu = pd.Series(gamma * sigma @ target + 0.05, index=TICKERS)
    allocation = PortfolioProblem(TICKERS, "utility", risk_aversion=gamma).solve(_frame(sigma), mu)
    np.testing.assert_allclose(allocation.risky_weights.to_numpy(), target, atol=1e-6)


# --------------------------------------------------------------------------- risk parity


def test_risk_parity_gives_equal_risk_contributions():
    sigma = _covariance(13)
    allocation = PortfolioProblem(TICKERS, "risk_parity").solve(_frame(sigma))
    weights = allocation.risky_weights.to_numpy()
    np.testing.assert_allclose(_contributions(weights, sigma), 1 / 6, rtol=1e-6)
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)


def test_risk_budgets_by_name_and_group_are_matched():
    sigma = _covariance(14)
    groups = {"chips": ("NVDA", "AMD", "TSM")}
    budgets = {"chips": 0.6, "MSFT": 0.1}
    expected = risk_budget_shares(TICKERS, budgets, groups)
    np.testing.assert_allclose(expected, [0.2, 0.2, 0.1, 0.15, 0.2, 0.15])
    allocation = PortfolioProblem(TICKERS, "risk_parity", [CashFloor(0.05)]).solve(
        _frame(sigma), risk_budgets=budgets, groups=groups
    )
    weights = allocation.risky_weights.to_numpy()
    np.testing.assert_allclose(_contributions(weights, sigma), expected, rtol=1e-6)
    assert weights.sum() == pytest.approx(0.95, abs=1e-9)


def test_risk_parity_excludes_unavailable_and_zero_budget_names():
    sigma = _covariance(15)
    available = [True, False, True, True, True, True]
    allocation = PortfolioProblem(TICKERS, "risk_parity").solve(
        _frame(sigma), available=available, risk_budgets={"ORCL": 0.0}
    )
    weights = allocation.risky_weights
    assert weights["AMD"] == 0 and weights["ORCL"] == 0
    live = [0, 2, 3, 4]
    sub = sigma[np.ix_(live, live)]
    np.testing.assert_allclose(_contributions(weights.to_numpy()[live], sub), 0.25, rtol=1e-6)


def test_risk_parity_with_a_binding_cap_respects_it():
    sigma = _covariance(16)
    free = PortfolioProblem(TICKERS, "risk_parity").solve(_frame(sigma)).risky_weights
    cap = float(free.max()) - 0.02
    capped = PortfolioProblem(TICKERS, "risk_parity", [MaxWeight(cap)]).solve(_frame(sigma))
    assert capped.risky_weights.max() <= cap + 1e-8
    assert capped.risky_weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert any(name.startswith("max_weight") for name in capped.binding)
    contributions = _contributions(capped.risky_weights.to_numpy(), sigma)
    assert contributions.std() > 1e-4  # budgets no longer met exactly once a cap binds


def test_risk_budget_shares_rejects_unknown_targets_and_normalises():
    with pytest.raises(InputError, match="Did you mean 'NVDA'"):
        risk_budget_shares(TICKERS, {"NVDAA": 0.2})
    shares = risk_budget_shares(TICKERS, {"NVDA": 2.0, "AMD": 2.0})
    np.testing.assert_allclose(shares, [0.5, 0.5, 0, 0, 0, 0])
    with pytest.raises(InputError, match="no available name"):
        risk_budget_shares(TICKERS, {}, available=[False] * 6)


# --------------------------------------------------------------------------- max diversification


def test_max_diversification_equals_its_closed_form():
    vols = np.array([0.20, 0.25, 0.30, 0.22, 0.28, 0.35])
    sigma = _constant_correlation(vols, rho=0.4)
    closed = np.linalg.solve(sigma, vols)
    closed /= closed.sum()
    assert (closed > 0).all()
    allocation = PortfolioProblem(TICKERS, "max_diversification").solve(_frame(sigma))
    np.testing.assert_allclose(allocation.risky_weights.to_numpy(), closed, atol=1e-6)
    ratio = closed @ vols / np.sqrt(closed @ sigma @ closed)
    assert allocation.solve.objective_value == pytest.approx(1 / ratio**2, rel=1e-6)


# --------------------------------------------------------------------------- min CVaR


def _cvar_by_linprog(returns: np.ndarray, confidence: float, cap: float) -> float:
    periods, n = returns.shape
    cost = np.concatenate([np.zeros(n), [1.0], np.full(periods, 1 / ((1 - confidence) * periods))])
    # -R w - alpha - u <= 0
    upper_rows = np.hstack([-returns, -np.ones((periods, 1)), -np.eye(periods)])
    budget_row = np.concatenate([np.ones(n), [0.0], np.zeros(periods)])[None, :]
    bounds = [(0, cap)] * n + [(None, None)] + [(0, None)] * periods
    result = linprog(
        cost,
        A_ub=upper_rows,
        b_ub=np.zeros(periods),
        A_eq=budget_row,
        b_eq=[1.0],
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    assert result.status == 0
    return float(result.fun)


def _empirical_cvar(losses: np.ndarray, confidence: float) -> float:
    """CVaR as the minimum over alpha of the Rockafellar-Uryasev function (exact for a sample)."""
    candidates = np.sort(losses)
    values = [a + np.maximum(losses - a, 0).mean() / (1 - confidence) for a in candidates]
    return float(min(values))


@pytest.mark.parametrize(("confidence", "cap"), [(0.95, 0.3), (0.9, 1.0)])
def test_min_cvar_matches_an_independent_linear_program(confidence, cap):
    scenarios = _scenarios(17, periods=300)
    reference = _cvar_by_linprog(scenarios.to_numpy(), confidence, cap)
    allocation = PortfolioProblem(
        TICKERS, "min_cvar", [MaxWeight(cap)], confidence=confidence
    ).solve(_frame(_covariance()), scenarios=scenarios)
    assert allocation.solve.objective_value == pytest.approx(reference, rel=1e-6)
    losses = -scenarios.to_numpy() @ allocation.risky_weights.to_numpy()
    assert _empirical_cvar(losses, confidence) == pytest.approx(reference, rel=1e-6)


def test_min_cvar_rebuilds_for_a_new_scenario_count_and_treats_nan_as_zero():
    scenarios = _scenarios(18, periods=250)
    problem = PortfolioProblem(TICKERS, "min_cvar", [MaxWeight(0.4)])
    problem.solve(_frame(_covariance()), scenarios=scenarios)
    shorter = scenarios.iloc[:200].copy()
    shorter.iloc[:50, 0] = np.nan  # NVDA not listed yet
    again = problem.solve(_frame(_covariance()), scenarios=shorter)
    fresh = PortfolioProblem(TICKERS, "min_cvar", [MaxWeight(0.4)]).solve(
        _frame(_covariance()), scenarios=shorter.fillna(0.0)
    )
    np.testing.assert_allclose(again.weights, fresh.weights, atol=1e-7)
    assert problem.problem.is_dpp()


def test_min_cvar_scenarios_are_aligned_by_label():
    scenarios = _scenarios(19, periods=200)
    reordered = scenarios[TICKERS[::-1]]
    first = PortfolioProblem(TICKERS, "min_cvar").solve(_frame(_covariance()), scenarios=scenarios)
    second = PortfolioProblem(TICKERS, "min_cvar").solve(_frame(_covariance()), scenarios=reordered)
    np.testing.assert_allclose(first.weights, second.weights, atol=1e-8)
    with pytest.raises(DataError, match="missing ORCL; extra SPY"):
        PortfolioProblem(TICKERS, "min_cvar").solve(
            _frame(_covariance()), scenarios=scenarios.rename(columns={"ORCL": "SPY"})
        )
    with pytest.raises(InputError, match="min_cvar needs scenarios"):
        PortfolioProblem(TICKERS, "min_cvar").solve(_frame(_covariance()))


def test_optimize_passes_its_returns_as_cvar_scenarios():
    scenarios = _scenarios(20, periods=300)
    by_returns = optimize(scenarios, "min_cvar", [MaxWeight(0.3)], confidence=0.9)
    direct = PortfolioProblem(TICKERS, "min_cvar", [MaxWeight(0.3)], confidence=0.9).solve(
        scenarios.cov() * 252, scenarios=scenarios
    )
    np.testing.assert_allclose(by_returns.weights, direct.weights, atol=1e-7)


# --------------------------------------------------------------------------- tracking error


def test_tracking_error_to_a_feasible_target_is_zero():
    target = {
        "NVDA": 0.25,
        "AMD": 0.1,
        "MSFT": 0.2,
        "GOOGL": 0.15,
        "TSM": 0.15,
        "ORCL": 0.1,
        CASH: 0.05,
    }
    allocation = PortfolioProblem(
        TICKERS, "min_tracking_error", [MaxWeight(0.3), CashFloor(0.05)]
    ).solve(_frame(_covariance(21)), target_weights=target)
    np.testing.assert_allclose(allocation.weights[list(target)], list(target.values()), atol=1e-6)
    assert abs(allocation.solve.objective_value) < 1e-10


def test_tracking_error_to_an_infeasible_target_is_the_projection():
    sigma = _covariance(22)
    target = {"NVDA": 0.6, "AMD": 0.4}
    allocation = PortfolioProblem(TICKERS, "min_tracking_error", [MaxWeight(0.3)]).solve(
        _frame(sigma), target_weights=target
    )
    gap = allocation.risky_weights.to_numpy() - np.array([0.6, 0.4, 0, 0, 0, 0])
    assert allocation.solve.objective_value == pytest.approx(gap @ sigma @ gap, rel=1e-6)
    assert allocation.risky_weights.max() <= 0.3 + 1e-8


def test_tracking_a_benchmark_series_recovers_its_weights():
    returns = _scenarios(23, periods=500)
    hidden = np.array([0.3, 0.1, 0.2, 0.1, 0.2, 0.1])
    benchmark = pd.Series(returns.to_numpy() @ hidden, index=returns.index)
    sample = returns.cov() * 52
    allocation = PortfolioProblem(TICKERS, "min_tracking_error").solve(
        sample, benchmark_returns=benchmark, returns=returns, frequency="weekly"
    )
    np.testing.assert_allclose(allocation.risky_weights.to_numpy(), hidden, atol=1e-6)
    assert abs(allocation.solve.objective_value) < 1e-9


def test_tracking_error_needs_exactly_one_benchmark():
    with pytest.raises(InputError, match="exactly one benchmark"):
        PortfolioProblem(TICKERS, "min_tracking_error").solve(_frame(_covariance()))
    with pytest.raises(InputError, match="needs the tickers' returns"):
        PortfolioProblem(TICKERS, "min_tracking_error").solve(
            _frame(_covariance()), benchmark_returns=_scenarios()["NVDA"]
        )
