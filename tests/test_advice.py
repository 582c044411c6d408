"""The default advice on the bundled data: the article's diversification, plausible inputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run

import portfolio as pf
from portfolio.jobs.optimize import config_inputs


@pytest.fixture(scope="module")
def default_run(config, market):
    return pf.optimize_from_config(config, market=market, capital=100_000)


def test_the_default_objective_diversifies_across_the_ecosystem(config, default_run):
    assert config.optimizer.objective == "group_risk_budget"
    weights = default_run.allocation.weights
    for group, members in config.groups.items():
        assert weights[list(members)].sum() > 0.01, group  # every group is held
    for ticker in config.tickers:
        assert weights[ticker] <= config.limits.cap_of(ticker) + 1e-6
    assert all(row.ok for row in default_run.allocation.limits)
    assert weights["NVDA"] > 0.01  # Nvidia gets a place and a reason
    assert default_run.explanation.effective_names >= 8


def test_group_budgets_are_met_where_no_limit_binds():
    # three groups, no limit: each group carries a third of the risk, names share it
    tickers = ["A1", "A2", "B1", "C1", "C2", "C3"]
    rng = np.random.default_rng(0)
    loadings = rng.normal(1.0, 0.3, (6, 1))
    sigma = loadings @ loadings.T * 0.03 + np.diag(rng.uniform(0.02, 0.1, 6))
    cov = pd.DataFrame(sigma, index=tickers, columns=tickers)
    groups = {"a": ("A1", "A2"), "b": ("B1",), "c": ("C1", "C2", "C3")}
    allocation = pf.PortfolioProblem(tickers, "group_risk_budget", solver="CLARABEL").solve(
        cov, groups=groups)
    w = allocation.weights.reindex(tickers).to_numpy()
    shares = w * (sigma @ w) / (w @ sigma @ w)
    assert shares[:2].sum() == pytest.approx(1 / 3, abs=1e-6)
    assert shares[2] == pytest.approx(1 / 3, abs=1e-6)
    np.testing.assert_allclose(shares[3:], 1 / 9, atol=1e-6)
    custom = pf.PortfolioProblem(tickers, "group_risk_budget", solver="CLARABEL").solve(
        cov, groups=groups, group_budgets={"a": 0.5})
    w = custom.weights.reindex(tickers).to_numpy()
    shares = w * (sigma @ w) / (w @ sigma @ w)
    assert shares[:2].sum() == pytest.approx(0.5, abs=1e-6)
    assert shares[2] == pytest.approx(0.25, abs=1e-6)


def test_black_litterman_prior_is_the_market_cap_equilibrium_by_hand(config, market):
    inputs = config_inputs(config, market, with_returns=True)
    model = inputs.expected_model
    sigma = inputs.covariance.matrix
    names = list(sigma.index)
    caps = pd.Series(dict(config.market_caps.usd_bn)).reindex(names)
    w_mkt = (caps / caps.sum()).to_numpy()
    delta, rf = config.market_caps.risk_aversion, inputs.risk_free_rate
    assert delta == 2.5 and model.risk_aversion == 2.5
    prior = delta * sigma.to_numpy() @ w_mkt + rf
    np.testing.assert_allclose(model.prior.reindex(names), prior, rtol=1e-12)
    # posterior by hand: pi + tau S P' (P tau S P' + Omega)^-1 (Q - P pi), Idzorek's Omega
    tau, s = 0.05, sigma.to_numpy()
    views = config.optimizer.views
    p = np.zeros((len(views), len(names)))
    q = np.array([v.value for v in views])
    for k, v in enumerate(views):
        p[k, names.index(v.asset)] = 1.0
        if v.versus:
            p[k, names.index(v.versus)] = -1.0
    omega = np.diag([tau * (1 - v.confidence) / v.confidence * p[k] @ s @ p[k]
                     for k, v in enumerate(views)])
    posterior = prior + tau * s @ p.T @ np.linalg.solve(tau * p @ s @ p.T + omega, q - p @ prior)
    np.testing.assert_allclose(model.posterior.reindex(names), posterior, rtol=1e-10)
    assert model.posterior.max() <= 0.60  # plausible single-name returns
    assert not inputs.implausible


def test_implausible_returns_are_flagged(config, market, capsys):
    narrow = replace(config, optimizer=replace(config.optimizer, plausible_returns=(0.0, 0.2)))
    inputs = config_inputs(narrow, market, with_returns=True)
    assert inputs.implausible and all("outside the plausible band" in w for w in inputs.implausible)
    assert set(inputs.implausible) <= set(inputs.warnings)
    code, _out, err = run(capsys, "optimize", "--offline", "--objective", "max_sharpe",
                         "--format", "json")
    assert code == 0 and "Warning:" not in err  # the default band holds on the bundled data


def test_json_carries_prior_views_and_posterior(capsys):
    import json

    code, out, _ = run(capsys, "optimize", "--offline", "--objective", "max_sharpe",
                       "--capital", "50000", "--format", "json")
    assert code == 0
    data = json.loads(out)
    returns = data["expected_returns"]
    assert returns["method"] == "black_litterman"
    assert set(returns["prior"]) == set(returns["posterior"])
    assert returns["views"][0]["asset"] == "NVDA"
    names = data["explanation"]["names"]
    assert sum(n["amount"] for n in names) == pytest.approx(50_000 * (1 - data["weights"]["CASH"]))
    assert data["explanation"]["sharpe"] is not None
