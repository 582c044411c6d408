"""Factor-form risk models end to end: the same answers as the dense matrix, never formed.

A factor estimate (``method="factor"``) keeps ``B``, ``F`` and ``d``; every solver path (the
active set, OSQP, the cvxpy chain), the risk report and the backtest use them. The oracle is
the same problem on the dense matrix ``B F B' + D``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import portfolio as pf
from portfolio.analytics.risk import measure_risk
from portfolio.estimate.covariance import covariance
from portfolio.estimate.factor_risk import FactorCovariance
from portfolio.jobs.risk import risk_context
from portfolio.optimization.constraints import GroupCap, MaxWeight, MinWeight, ThemeCap
from portfolio.optimization.problem import PortfolioProblem
from portfolio.weights import CASH


def factor_market(n=60, days=500, seed=0):
    """Daily returns of ``n`` names on three factors, and the factor returns."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(0, [0.011, 0.007, 0.006], (days, 3))
    betas = np.column_stack([rng.uniform(0.6, 1.4, n), rng.normal(0, 0.5, (n, 2))])
    returns = factors @ betas.T + rng.normal(0, 1, (days, n)) * rng.uniform(0.01, 0.025, n)
    index = pd.bdate_range("2020-01-01", periods=days)
    return (pd.DataFrame(returns, index=index, columns=[f"S{i:02d}" for i in range(n)]),
            pd.DataFrame(factors, index=index, columns=["MKT", "F1", "F2"]))


@pytest.fixture(scope="module")
def estimate():
    returns, factors = factor_market()
    return covariance(returns, "factor", factor_returns=factors)


def dense_twin(estimate):
    """The same estimate as a dense matrix (the oracle)."""
    return replace(estimate, dense=estimate.factor.frame(), factor=None)


def never_formed(monkeypatch):
    """Make forming the N x N matrix of a factor model fail the test."""
    def refuse(self):
        raise AssertionError("the N x N matrix was formed")

    monkeypatch.setattr(FactorCovariance, "dense", refuse)


def test_the_operator_is_the_matrix(estimate):
    model, dense = estimate.factor, estimate.factor.dense()
    w = np.linspace(0.0, 1.0, len(model.tickers))
    np.testing.assert_allclose(model @ w, dense @ w, rtol=1e-12)
    assert w @ model @ w == pytest.approx(w @ dense @ w, rel=1e-12)
    np.testing.assert_allclose(model.diagonal(), np.diag(dense), rtol=1e-12)
    names = ["S03", "S01"]
    pd.testing.assert_frame_equal(estimate.block(names),
                                  estimate.matrix.loc[names, names], rtol=1e-12)


def test_a_factor_model_gives_the_dense_optimum_through_every_fast_path():
    rng = np.random.default_rng(5)
    n, k = 150, 3
    model = FactorCovariance(rng.normal(1, 0.3, (n, k)), np.diag([0.03, 0.01, 0.008]),
                             rng.uniform(0.05, 0.12, n), tuple(f"S{i}" for i in range(n)),
                             tuple(f"F{j}" for j in range(k)))
    tickers = list(model.tickers)
    limits = [MaxWeight(0.03), ThemeCap("hub", dict(zip(tickers, rng.uniform(0, 1, n))), 0.4)]
    for solver in ("auto", "OSQP"):
        problem = PortfolioProblem(tickers, "min_variance", limits, solver=solver)
        factor = problem.solve(model)
        dense = problem.solve(model.dense())
        assert factor.solve.solver == dense.solve.solver
        np.testing.assert_allclose(factor.weights, dense.weights, atol=1e-9)
        assert factor.volatility == pytest.approx(dense.volatility, rel=1e-12)


def test_the_fast_paths_never_form_the_matrix(estimate, monkeypatch):
    dense = dense_twin(estimate)
    limits = [MaxWeight(0.05), MinWeight(0.0, {"S00": 0.01}), pf.CashFloor(0.05)]
    expected = pf.optimize(dense, "min_variance", limits)
    never_formed(monkeypatch)
    got = pf.optimize(estimate, "min_variance", limits)
    assert got.solve.solver == expected.solve.solver == "ACTIVE_SET"
    np.testing.assert_allclose(got.weights, expected.weights, atol=1e-10)
    assert got.volatility == pytest.approx(expected.volatility, rel=1e-12)
    assert got.explain().table()["reason"].notna().all()  # explanations work on the parts


@pytest.mark.parametrize(("objective", "options"), [
    ("min_variance", {}),
    ("utility", {"risk_aversion": 3.0}),
    ("max_sharpe", {"risk_free_rate": 0.02}),
    ("max_diversification", {}),
    ("risk_parity", {}),
])
def test_the_cvxpy_chain_takes_the_factor_form(estimate, objective, options, monkeypatch):
    tickers = list(estimate.tickers)
    mu = pd.Series(np.linspace(0.02, 0.15, len(tickers)), index=tickers)
    limits = [MaxWeight(0.08), GroupCap("first", tuple(tickers[:20]), 0.4)]
    problem = PortfolioProblem(tickers, objective, limits, solver="CLARABEL", **options)
    expected = problem.solve(dense_twin(estimate), mu)
    never_formed(monkeypatch)
    got = problem.solve(estimate, mu)  # the same compiled problem, now in factor form
    assert got.solve.objective_value == pytest.approx(expected.solve.objective_value,
                                                      rel=1e-6, abs=1e-10)
    np.testing.assert_allclose(got.weights, expected.weights, atol=2e-5)


def test_a_one_off_factor_problem_matches_the_dense_one(estimate):
    tickers = list(estimate.tickers)
    limits = [MaxWeight(0.06)]
    got, expected = (
        PortfolioProblem(tickers, "min_variance", limits, solver="CLARABEL",
                         parametric=False).solve(risk)
        for risk in (estimate, dense_twin(estimate)))
    assert got.solve.objective_value == pytest.approx(expected.solve.objective_value, rel=1e-7)


def test_the_risk_report_forms_the_held_block_only(config, market):
    config = replace(config, risk=replace(config.risk, asynchronous="off"))
    model = risk_context(config, market, covariance_method="factor")
    estimate = model.inputs.covariance
    assert estimate.factor is not None and estimate.psd == "factor"
    held = list(estimate.tickers)[:4]
    weights = pd.Series(0.0, index=[*config.tickers, CASH])
    weights[held] = [0.3, 0.25, 0.2, 0.15]
    weights[CASH] = 0.1
    report = measure_risk(weights, model)
    assert "matrix" not in vars(estimate)  # the N x N matrix was never formed
    dense = replace(model, inputs=replace(model.inputs, covariance=dense_twin(estimate)))
    oracle = measure_risk(weights, dense)
    assert report.volatility == pytest.approx(oracle.volatility, rel=1e-12)
    pd.testing.assert_series_equal(report.risk_contributions, oracle.risk_contributions,
                                   rtol=1e-10)
    assert report.var["parametric"]["99%"]["10d"] == pytest.approx(
        oracle.var["parametric"]["99%"]["10d"], rel=1e-12)


def test_a_backtest_on_the_factor_model_takes_the_dense_models_weights(tmp_path, monkeypatch):
    from test_backtest import run, synthetic_prices, write_base

    import portfolio.estimate.inputs as inputs_module

    write_base(tmp_path)
    prices = synthetic_prices(days=300)
    strategies = [{"name": "minvar", "kind": "min_variance", "covariance": "factor"},
                  {"name": "rp", "kind": "risk_parity", "covariance": "factor"}]
    factor = run(tmp_path, prices, strategies, start="2021-03-15")
    original = inputs_module._window_estimate
    seen = []

    def as_dense(*args):
        estimate = original(*args)
        seen.append(estimate.factor is not None)
        return dense_twin(estimate) if estimate.factor is not None else estimate

    monkeypatch.setattr(inputs_module, "_window_estimate", as_dense)
    dense = run(tmp_path, prices, strategies, start="2021-03-15")
    assert seen and all(seen)
    for name, strategy in factor.strategies.items():
        pd.testing.assert_frame_equal(strategy.weights, dense.strategies[name].weights,
                                      rtol=0, atol=1e-7)


def test_padding_keeps_the_factor_form_and_the_certificate(estimate):
    inputs = pf.RiskInputs(returns=pd.DataFrame(), covariance=estimate, expected_returns=None,
                           risk_free_rate=0.0)
    tickers = ["NEW", *estimate.tickers]
    padded = inputs.padded_estimate(tickers)
    assert padded.factor is not None and padded.psd == estimate.psd
    matrix = padded.factor.dense()
    assert matrix[0, 0] == pytest.approx(estimate.factor.diagonal().max())
    assert not matrix[0, 1:].any()
    np.testing.assert_allclose(matrix[1:, 1:], estimate.factor.dense(), rtol=1e-12)
    pd.testing.assert_frame_equal(inputs.padded_covariance(tickers), padded.matrix)
