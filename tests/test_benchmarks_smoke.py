"""Smoke tests of the benchmark scripts at toy size, and of the one-shot optimizer path.

No timing assertions: the benchmark functions run on a few names and a few hundred days, and
the tests check the accuracy logic (objective gap, weight agreement, violations) and that
every library lands on the reference. The last block checks what the benchmarks motivated
in the optimizer: the Cholesky factor and ``PortfolioProblem(parametric=False)`` (the path
:func:`portfolio.optimize` takes) give the same answers as the compiled, parametric problem.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio.optimization.constraints import CashFloor, GroupCap, L2Regularization, MaxWeight
from portfolio.optimization.cvxpy_chain import covariance_factor
from portfolio.optimization.problem import PortfolioProblem, optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_backtest
import bench_optimizer as bench
import bench_scale
from _synthetic import (
    dense_answer_returns,
    synthetic_factor_market,
    synthetic_prices,
    synthetic_returns,
)

pytest.importorskip("pypfopt")
PEERS = (bench.OURS, bench.PYPFOPT)


def test_synthetic_returns_are_seeded_and_prices_compound_them():
    returns = synthetic_returns(4, 30, seed=7)
    assert returns.shape == (30, 4)
    assert list(returns.columns) == ["S000", "S001", "S002", "S003"]
    pd.testing.assert_frame_equal(returns, synthetic_returns(4, 30, seed=7))
    assert not returns.equals(synthetic_returns(4, 30, seed=8))
    prices = synthetic_prices(returns)
    assert len(prices) == 31 and (prices.iloc[0] == 100.0).all()
    pd.testing.assert_frame_equal(prices.pct_change().iloc[1:], returns, check_freq=False)


def test_gap_and_violation_logic():
    covariance = bench.annual_ledoit_wolf(synthetic_returns(6, 300, seed=1))
    reference = bench.reference_min_variance(covariance, 0.3)
    assert bench.variance_gap(reference, reference, covariance) == 0.0
    equal = np.full(6, 1 / 6)
    assert bench.variance_gap(equal, reference, covariance) > 1e-3  # feasible, worse
    assert bench.violation(reference, 0.3) < 1e-9
    assert bench.violation(np.array([0.5, 0.5, 0, 0, 0, 0]), 0.3) == pytest.approx(0.2)
    assert bench.violation(np.full(6, 0.15), 0.3) == pytest.approx(0.1)  # budget 0.9
    mu = np.linspace(0.05, 0.3, 6)
    best = bench.reference_max_sharpe(covariance, mu, 0.3, 0.02)
    assert bench.sharpe_gap(best, best, covariance, mu, 0.02) == 0.0
    assert bench.sharpe_gap(equal, best, covariance, mu, 0.02) > 1e-3


def test_walk_forward_steps():
    assert bench.step_ends(100, 60, 21, 2) == [60, 81]
    with pytest.raises(ValueError, match="give 2 steps, not 3"):
        bench.step_ends(100, 60, 21, 3)


def _check(rows, libraries, tolerance=1e-4):
    assert [row.library for row in rows] == list(libraries)
    assert rows[0].ratio == 1.0
    for row in rows:
        assert row.timing.best <= row.timing.median
        assert row.max_dw <= tolerance, row
        assert abs(row.gap) <= 1e-6, row
        assert row.viol <= 1e-6, row


def test_min_variance_case_agrees_with_the_reference():
    rows = bench.bench_min_variance([8], 250, repeats=1, libraries=PEERS)
    _check(rows, PEERS)


def test_max_sharpe_case_agrees_with_the_reference():
    rows = bench.bench_max_sharpe(10, 400, repeats=1, libraries=PEERS)
    _check(rows, PEERS)


def test_resolve_case_agrees_with_the_reference_and_names_the_difference():
    rows = bench.bench_resolves(6, steps=3, lookback=80, every=21, repeats=1, libraries=PEERS)
    _check(rows, PEERS)
    assert rows[0].notes == ()
    assert rows[1].notes[0].startswith("max abs w - ours ")


def test_solver_variant_label():
    label = bench.variant("OSQP")
    assert label == "portfolio[OSQP]"
    rows = bench.bench_min_variance([6], 200, repeats=1, libraries=(bench.OURS, label))
    _check(rows, (bench.OURS, label))


@pytest.mark.slow
def test_skfolio_rows():
    pytest.importorskip("skfolio")
    libraries = (bench.OURS, bench.SKFOLIO)
    rows = bench.bench_min_variance([8], 250, repeats=1, libraries=libraries)
    _check(rows, libraries, tolerance=1e-3)  # skfolio runs Clarabel at its default tolerances


def test_the_built_once_baseline_agrees_with_the_reference():
    libraries = (bench.OURS, bench.OSQP_ONCE)
    rows = bench.bench_min_variance([8], 250, repeats=1, libraries=libraries)
    _check(rows, libraries, tolerance=1e-3)  # OSQP at cvxpy's default tolerances
    rows = bench.bench_resolves(6, steps=3, lookback=80, every=21, repeats=1,
                                libraries=libraries)
    _check(rows, libraries, tolerance=1e-3)


def test_dense_answer_returns_have_the_one_factor_sample_covariance():
    returns = dense_answer_returns(30, extra_days=10, seed=1)
    assert returns.shape == (40, 30)
    sample = np.cov(returns.to_numpy(), rowvar=False) * 252
    off_diagonal = sample[~np.eye(30, dtype=bool)]
    assert np.allclose(off_diagonal, 0.18**2, rtol=3e-3)  # betas within 0.1 % of 1
    idiosyncratic = np.sqrt(np.diag(sample) - off_diagonal.mean())
    assert 0.288 < idiosyncratic.min() and idiosyncratic.max() < 0.312


def test_the_low_rank_ledoit_wolf_is_scikit_learns():
    from sklearn.covariance import LedoitWolf

    returns = synthetic_returns(12, 90, seed=3)
    a, diagonal = bench_scale.ledoit_wolf_parts(returns)
    expected = LedoitWolf().fit(returns.to_numpy()).covariance_ * 252
    np.testing.assert_allclose(a.T @ a + np.diag(diagonal), expected, rtol=1e-12)


@pytest.mark.parametrize("case", ["dense", "ledoit_wolf", "factor"])
def test_scale_cases_agree_with_the_reference(case, monkeypatch):
    small = {"dense": lambda n, seed: dense_answer_returns(n, seed=seed),
             "ledoit_wolf": lambda n, days, seed: synthetic_returns(n, 200, seed=seed),
             "factor": lambda n, days, n_factors, seed: synthetic_factor_market(
                 n, 200, n_factors=3, seed=seed)}
    name = {"dense": "dense_answer_returns", "ledoit_wolf": "synthetic_returns",
            "factor": "synthetic_factor_market"}[case]
    monkeypatch.setattr(bench_scale, name, lambda n, *args, **kwargs: small[case](
        n, *args, **kwargs))
    libraries = (bench.OURS, bench.PYPFOPT, bench.OSQP_ONCE)
    rows = bench_scale.bench_case(case, 60, repeats=1, slow=60.0, libraries=libraries)
    _check(rows, libraries, tolerance=1e-3)
    assert all(row.notes[0].endswith("names held") for row in rows)


def test_rebalance_rows_are_inception_then_month_starts():
    dates = pd.bdate_range("2024-01-25", "2024-04-05")
    rows = bench_backtest.rebalance_rows(dates, 2)
    assert [str(dates[i].date()) for i in rows] == [
        "2024-01-29",
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
    ]


def test_backtest_case_matches_the_plain_loop():
    market = bench_backtest.synthetic_market(n_assets=6, years=1, lookback=60, cap=0.3)
    outcome = bench_backtest.compare_backtests(market, repeats=1)
    first = market.lookback + 1  # the engine starts once the lookback fits, as the loop does
    assert outcome.dates == len(bench_backtest.rebalance_rows(market.prices.index, first)) >= 12
    assert outcome.max_dw_between <= 1e-4
    assert abs(outcome.final_value_gap) <= 1e-5
    for name in PEERS:
        assert outcome.max_dw_reference[name] <= 1e-4
        assert abs(outcome.gap_reference[name]) <= 1e-6
    assert "| portfolio |" in bench_backtest.markdown(outcome, market)


# --------------------------------------------------------------------------- optimizer paths


def test_covariance_factor_is_cholesky_and_falls_back_for_singular_matrices():
    returns = synthetic_returns(5, 200, seed=2).to_numpy()
    covariance = np.cov(returns, rowvar=False) * 252
    factor = covariance_factor(covariance)
    np.testing.assert_allclose(factor.T @ factor, covariance, rtol=1e-12, atol=1e-15)
    assert np.allclose(factor, np.triu(factor))
    singular = np.cov(returns[:3], rowvar=False) * 252  # rank 2 < 5: Cholesky fails
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(singular)
    factor = covariance_factor(singular)
    np.testing.assert_allclose(factor.T @ factor, singular, atol=1e-12)


TICKERS = [f"S{i:03d}" for i in range(8)]
RETURNS = synthetic_returns(8, 400, seed=5)
COVARIANCE = RETURNS.cov() * 252
MU = pd.Series(np.linspace(0.04, 0.25, 8), index=TICKERS)
ONE_SHOT_CASES = {
    "min_variance": ({}, {}),
    "utility": ({"risk_aversion": 3.0}, {}),
    "max_sharpe": ({"risk_free_rate": 0.02}, {}),
    "max_diversification": ({}, {}),
    "risk_parity": ({}, {}),
    "min_cvar": ({}, {"scenarios": RETURNS}),
    "min_tracking_error": ({}, {"target_weights": dict.fromkeys(TICKERS, 1 / 8)}),
}


@pytest.mark.parametrize("objective", list(ONE_SHOT_CASES))
@pytest.mark.parametrize("ridge", [False, True])
def test_one_shot_problem_matches_the_compiled_one(objective, ridge):
    options, extra = ONE_SHOT_CASES[objective]
    limits = [MaxWeight(0.3), CashFloor(0.05), GroupCap("first", tuple(TICKERS[:3]), 0.4)]
    if ridge and objective != "min_cvar":
        limits.append(L2Regularization(0.01))
    available = [True] * 7 + [False]
    answers = [
        PortfolioProblem(TICKERS, objective, limits, parametric=parametric, **options).solve(
            COVARIANCE, MU, available=available, **extra
        )
        for parametric in (True, False)
    ]
    compiled, one_shot = answers
    assert one_shot.weights["S007"] == 0.0
    np.testing.assert_allclose(one_shot.weights, compiled.weights, atol=2e-5)
    assert one_shot.solve.objective_value == pytest.approx(
        compiled.solve.objective_value, rel=1e-6, abs=1e-10
    )
    assert one_shot.volatility == pytest.approx(compiled.volatility, rel=1e-5)


def test_one_shot_problem_solves_again_with_new_data():
    problem = PortfolioProblem(TICKERS, "min_variance", [MaxWeight(0.3)], parametric=False)
    assert problem._chain is None  # built by solve (or never: the fast path needs none)
    first = problem.solve(COVARIANCE)
    scaled = problem.solve(COVARIANCE * 4)
    np.testing.assert_allclose(scaled.weights, first.weights, atol=1e-6)
    assert scaled.volatility == pytest.approx(2 * first.volatility, rel=1e-6)
    other = problem.solve(RETURNS.iloc[:100].cov() * 252)
    compiled = PortfolioProblem(TICKERS, "min_variance", [MaxWeight(0.3)]).solve(
        RETURNS.iloc[:100].cov() * 252
    )
    np.testing.assert_allclose(other.weights, compiled.weights, atol=2e-5)


def test_optimize_uses_the_one_shot_path_on_a_singular_covariance():
    short = RETURNS.iloc[:5]  # 5 days, 8 names: a rank-4 sample covariance
    singular = short.cov() * 252
    allocation = optimize(short, "min_variance", [MaxWeight(0.3)], covariance=singular)
    compiled = PortfolioProblem(TICKERS, "min_variance", [MaxWeight(0.3)]).solve(singular)
    assert allocation.weights.sum() == pytest.approx(1.0)
    assert allocation.volatility == pytest.approx(compiled.volatility, rel=1e-4, abs=1e-6)


def test_bench_cli_times_this_checkout_beside_a_baseline(capsys):
    import bench_cli

    root = Path(__file__).resolve().parents[1]
    bench_cli.main(["--repeats", "1", "--baseline", str(root)])  # itself as the baseline
    table = capsys.readouterr().out
    assert ("| command | CPU s | wall s | CPU / import pandas | wall / import pandas | "
            "baseline CPU s |") in table
    assert "| import pandas |" in table and "| rebalance |" in table
