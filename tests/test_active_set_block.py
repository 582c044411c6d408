"""The active set's block phase and its linear algebra: same optimum whichever path runs.

The primal active set changes one bound per iteration; when most names are held that is one
iteration per name (the worst case of issue 14). The block phase (block principal pivoting)
changes every wrong bound at once, and a large free block is solved through a Cholesky
factor (range-space) instead of an LU of the whole optimality system. These tests check the
answers against Clarabel at tight tolerances and against the one-at-a-time path, and count
iterations (never time).
"""

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from test_active_set import clarabel, problems

from portfolio.estimate.factor_risk import FactorCovariance
from portfolio.optimization import active_set, kkt
from portfolio.optimization.active_set import ActiveSetQP
from portfolio.optimization.constraints import GroupCap
from portfolio.optimization.kkt import DenseHessian, FactorHessian, hessian_of


def dense_answer_covariance(n: int, seed: int = 0) -> np.ndarray:
    """One market factor, betas within 1 %, idiosyncratic volatilities 29-31 % (annual).

    The minimum-variance portfolio under a 2 % cap holds about half the names or more.
    """
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.99, 1.01, n)
    idiosyncratic = rng.uniform(0.29, 0.31, n)
    return 0.18**2 * np.outer(beta, beta) + np.diag(idiosyncratic**2)


def reference(sigma, cap):
    w = cp.Variable(len(sigma))
    problem = cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(sigma))),
                         [cp.sum(w) == 1, w >= 0, w <= cap])
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return w.value, problem.value


def test_the_dense_answer_is_certified_in_a_few_block_rounds():
    n = 400
    sigma = dense_answer_covariance(n)
    tickers = [f"S{i}" for i in range(n)]
    solver = ActiveSetQP(tickers, 1.0, [])
    weights = solver.solve(sigma, np.zeros(n), np.full(n, 0.02))
    assert weights is not None and solver.certificate.ok
    held = int((weights > 1e-9).sum())
    assert held > n // 2
    # one-at-a-time would need about one iteration per name held
    assert solver.certificate.iterations < active_set.BLOCK_AFTER + 15 < held
    expected, value = reference(sigma, 0.02)
    np.testing.assert_allclose(weights, expected, atol=1e-7)
    assert weights @ sigma @ weights == pytest.approx(value, rel=1e-9)


def test_the_block_phase_and_one_at_a_time_reach_the_same_optimum(monkeypatch):
    n = 300
    sigma = dense_answer_covariance(n, seed=1)
    tickers = [f"S{i}" for i in range(n)]
    limits = [GroupCap(group="first", members=tuple(tickers[:100]), cap=0.25)]
    block = ActiveSetQP(tickers, 0.95, limits).solve(sigma, np.zeros(n), np.full(n, 0.02))
    block_after = active_set.BLOCK_AFTER
    monkeypatch.setattr(active_set, "BLOCK_AFTER", 10**9)  # the primal method alone
    single = ActiveSetQP(tickers, 0.95, limits)
    one_at_a_time = single.solve(sigma, np.zeros(n), np.full(n, 0.02))
    assert single.certificate.iterations > 2 * block_after  # the block phase had its turn
    np.testing.assert_allclose(block, one_at_a_time, atol=1e-12)
    assert block[:100].sum() == pytest.approx(0.25, abs=1e-12)


# The same examples on every run (no flaky CI); the block phase starts at once.
@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems())
def test_block_pivoting_from_the_first_iteration_matches_clarabel(problem):
    tickers, sigma, lower, upper, budget, limits, gamma = problem
    expected = clarabel(sigma, lower, upper, budget, limits, tickers, gamma)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(active_set, "BLOCK_AFTER", 1)
        solver = ActiveSetQP(tickers, budget, limits)
        weights = solver.solve(sigma, lower, upper)
    if expected is None:
        assert weights is None
        return
    assert weights is not None, solver.last_status
    assert solver.certificate.ok
    value = weights @ sigma @ weights + gamma * weights @ weights
    assert value - expected[1] <= 1e-9 * max(expected[1], 1e-12)
    np.testing.assert_allclose(weights, expected[0], atol=1e-6)


def test_when_the_block_phase_gives_up_the_primal_iterations_finish(monkeypatch):
    n = 120
    sigma = dense_answer_covariance(n, seed=2)
    tickers = [f"S{i}" for i in range(n)]
    monkeypatch.setattr(active_set, "BLOCK_AFTER", 2)
    monkeypatch.setattr(active_set, "_block_pivoting", lambda *args: None)  # a cycle, say
    solver = ActiveSetQP(tickers, 1.0, [])
    weights = solver.solve(sigma, np.zeros(n), np.full(n, 0.05))
    assert solver.certificate.ok and solver.certificate.iterations > 20
    np.testing.assert_allclose(weights, reference(sigma, 0.05)[0], atol=1e-7)


# --------------------------------------------------------------------------- linear algebra


def _working_set(rng, n, n_rows=3):
    free = np.sort(rng.choice(n, size=n - n // 4, replace=False))
    fixed = np.zeros(n)
    bound = np.setdiff1d(np.arange(n), free)
    fixed[bound[: len(bound) // 2]] = 0.01  # some at a cap, the rest at 0
    matrix = np.vstack([np.ones(n), rng.uniform(0, 1, (n_rows - 1, n))])
    target = np.concatenate([[1.0], rng.uniform(0.2, 0.4, n_rows - 1)])
    return fixed, free, matrix, target


def test_the_range_space_solve_equals_the_lu_of_the_optimality_system(monkeypatch):
    rng = np.random.default_rng(3)
    n = 60
    factors = rng.normal(size=(n, n)) * 0.2
    hessian = DenseHessian(2 * (factors @ factors.T + np.diag(rng.uniform(0.01, 0.05, n))))
    fixed, free, matrix, target = _working_set(rng, n)
    lu = hessian.equality_qp(fixed, free, matrix, target)
    monkeypatch.setattr(kkt, "RANGE_SPACE_FROM", 1)
    cholesky = hessian.equality_qp(fixed, free, matrix, target)
    np.testing.assert_allclose(cholesky[0], lu[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cholesky[1], lu[1], rtol=1e-9, atol=1e-12)


def test_a_kept_factor_solves_a_smaller_free_set_as_a_fresh_factor_does(monkeypatch):
    """The incremental path (the factor of a superset, moved names held by unit rows)."""
    monkeypatch.setattr(kkt, "RANGE_SPACE_FROM", 8)
    rng = np.random.default_rng(6)
    n = 50
    factors = rng.normal(size=(n, n)) * 0.2
    matrix = 2 * (factors @ factors.T + np.diag(rng.uniform(0.01, 0.05, n)))
    fixed, free, rows, target = _working_set(rng, n)
    kept = DenseHessian(matrix)
    kept.equality_qp(fixed, free, rows, target)  # factors the free block
    smaller = free[np.sort(rng.choice(free.size, free.size - 6, replace=False))]
    fixed_smaller = fixed.copy()
    moved = np.setdiff1d(free, smaller)
    fixed_smaller[moved] = [0.0, 0.01, 0.0, 0.02, 0.0, 0.01]  # now at a bound
    incremental = kept.equality_qp(fixed_smaller, smaller, rows, target)
    assert kept._factor[0].size == free.size  # reused, not refactored
    fresh = DenseHessian(matrix).equality_qp(fixed_smaller, smaller, rows, target)
    np.testing.assert_allclose(incremental[0], fresh[0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(incremental[1], fresh[1], rtol=1e-9, atol=1e-13)
    outside = np.setdiff1d(np.arange(n), free)[:1]  # not in the kept block: refactored
    grown = np.union1d(smaller, outside)
    kept.equality_qp(np.where(np.isin(np.arange(n), grown), 0.0, fixed_smaller), grown, rows,
                     target)
    np.testing.assert_array_equal(kept._factor[0], grown)


@pytest.mark.parametrize("extra", [0, 1])
def test_the_factor_hessian_is_the_dense_one_without_forming_it(extra):
    rng = np.random.default_rng(4)
    n, k = 80, 4
    model = FactorCovariance(rng.normal(1, 0.4, (n, k)), np.diag(rng.uniform(0.01, 0.04, k)),
                             rng.uniform(0.02, 0.09, n), tuple(f"S{i}" for i in range(n)),
                             tuple(f"F{j}" for j in range(k)))
    factor, dense = hessian_of(model, 0.01, extra), hessian_of(model.dense(), 0.01, extra)
    assert isinstance(factor, FactorHessian) and isinstance(dense, DenseHessian)
    z = rng.uniform(0, 0.02, n + extra)
    np.testing.assert_allclose(factor.times(z), dense.times(z), rtol=1e-12)
    np.testing.assert_allclose(factor.diagonal(), dense.diagonal(), rtol=1e-12)
    fixed, free, matrix, target = _working_set(rng, n + extra)
    got, expected = (h.equality_qp(fixed, free, matrix, target) for h in (factor, dense))
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-8, atol=1e-12)
