"""Solver policy, fallbacks, re-solves through Parameters, and limits met on random sets."""

import time

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.errors import DataError, InfeasibleError, InputError, SolverError
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
    check_all,
)
from portfolio.optimization.problem import PortfolioProblem, optimize
from portfolio.optimization.results import SOLVER_CHAIN
from portfolio.weights import CASH


def _market(n: int, seed: int = 0):
    """Daily returns from a 3-factor model, their annualised covariance and annual mu."""
    rng = np.random.default_rng(seed)
    periods = 3 * n + 60
    tickers = [f"S{i:03d}" for i in range(n)]
    factors = rng.normal(0, 0.01, (periods, 3))
    values = factors @ rng.normal(1, 0.4, (n, 3)).T + rng.normal(4e-4, 0.015, (periods, n))
    returns = pd.DataFrame(
        values, columns=tickers, index=pd.bdate_range("2021-01-04", periods=periods)
    )
    mu = pd.Series(rng.normal(0.12, 0.08, n), index=tickers)
    return tickers, returns, returns.cov() * 252, mu


def _limits(tickers):
    n = len(tickers)
    return [
        MaxWeight(3.0 / n),
        CashFloor(0.03),
        GroupCap(group="first", members=tuple(tickers[: n // 4]), cap=0.15),
        GroupFloor(group="last", members=tuple(tickers[n // 2 :]), floor=0.3),
    ]


# --------------------------------------------------------------------------- OSQP accuracy

QP_CASES = {
    "min_variance": ({}, False, {}),
    "utility": ({"risk_aversion": 3.0}, True, {}),
    "max_sharpe": ({"risk_free_rate": 0.02}, True, {}),
    "max_diversification": ({}, False, {}),
    "min_tracking_error": ({}, False, "benchmark"),
}


@pytest.mark.parametrize("n", [20, 100])
@pytest.mark.parametrize("name", sorted(QP_CASES))
def test_osqp_objective_is_within_1e6_of_a_high_accuracy_clarabel_solve(name, n):
    tickers, returns, covariance, mu = _market(n, seed=n)
    options, uses_mu, extra = QP_CASES[name]
    if extra == "benchmark":
        extra = {"benchmark_returns": returns.mean(axis=1), "returns": returns}
    limits = _limits(tickers)
    solved = {}
    for solver in ("CLARABEL", "OSQP"):
        problem = PortfolioProblem(tickers, name, limits, solver=solver, **options)
        problem._fast_paths = ()  # the cvxpy problem with OSQP_OPTIONS, not the warm OSQP
        assert problem.problem.is_qp()
        solved[solver] = problem.solve(covariance, mu if uses_mu else None, **extra)
        assert solved[solver].solve.solver == solver
        assert solved[solver].solve.status == cp.OPTIMAL
        assert solved[solver].solve.fallbacks == ()
    reference = solved["CLARABEL"].solve.objective_value
    assert solved["OSQP"].solve.objective_value == pytest.approx(reference, rel=1e-6)
    assert all(row.ok for row in solved["OSQP"].limits)
    if name == "min_variance":  # the warm-started OSQP fast path, to the same accuracy
        fast = PortfolioProblem(tickers, name, limits, solver="OSQP").solve(covariance)
        assert (fast.solve.solver, fast.solve.fallbacks) == ("OSQP", ())
        assert fast.solve.objective_value == pytest.approx(reference, rel=1e-6)


def test_auto_uses_clarabel_and_skips_osqp_for_conic_problems():
    tickers, _, covariance, _ = _market(10)
    qp = PortfolioProblem(tickers, "min_variance")
    assert qp.chain._chain() == SOLVER_CHAIN == ("CLARABEL", "OSQP", "SCS")
    # Linear min-variance is served by the active-set fast path (tests/test_linear_qp.py).
    assert qp.solve(covariance).solve.solver == "ACTIVE_SET"
    assert PortfolioProblem(tickers, "min_variance", solver="CLARABEL").solve(
        covariance).solve.solver == "CLARABEL"
    conic = PortfolioProblem(tickers, "risk_parity")
    assert conic.chain._chain() == ("CLARABEL", "SCS")


# --------------------------------------------------------------------------- fallbacks


def _patch(problem: PortfolioProblem, behaviour: dict[str, str]) -> None:
    """Make solvers raise ('raise') or report an inaccurate status ('inaccurate').

    The fast paths (active set, warm-started OSQP) are switched off so that the cvxpy
    chain runs.
    """
    problem._fast_paths = ()
    original = problem.problem.solve

    def solve(*, solver, **options):
        if behaviour.get(solver) == "raise":
            raise cp.error.SolverError(f"{solver} crashed\ntraceback")
        result = original(solver=solver, **options)
        if behaviour.get(solver) == "inaccurate":
            problem.problem._status = cp.OPTIMAL_INACCURATE
        return result

    problem.problem.solve = solve


def test_a_failing_solver_falls_back_and_the_reason_is_kept():
    tickers, _, covariance, _ = _market(12)
    reference = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.2)]).solve(covariance)
    problem = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.2)])
    _patch(problem, {"CLARABEL": "raise"})
    allocation = problem.solve(covariance)
    assert allocation.solve.solver == "OSQP"
    assert allocation.solve.fallbacks == ("CLARABEL: CLARABEL crashed",)
    np.testing.assert_allclose(allocation.weights, reference.weights, atol=1e-6)


def test_an_inaccurate_status_falls_back():
    tickers, _, covariance, _ = _market(12)
    problem = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.2)])
    _patch(problem, {"CLARABEL": "inaccurate"})
    allocation = problem.solve(covariance)
    assert allocation.solve.solver == "OSQP"
    assert allocation.solve.status == cp.OPTIMAL
    assert allocation.solve.fallbacks == ("CLARABEL: status optimal_inaccurate",)


def test_the_first_inaccurate_answer_is_kept_when_nothing_does_better():
    tickers, _, covariance, _ = _market(12)
    reference = PortfolioProblem(
        tickers, "min_variance", [MaxWeight(0.2)], solver="CLARABEL"
    ).solve(covariance)
    problem = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.2)])
    _patch(problem, {"CLARABEL": "inaccurate", "OSQP": "raise", "SCS": "inaccurate"})
    allocation = problem.solve(covariance)
    assert (allocation.solve.solver, allocation.solve.status) == ("CLARABEL", cp.OPTIMAL_INACCURATE)
    assert len(allocation.solve.fallbacks) == 3
    np.testing.assert_allclose(allocation.weights, reference.weights, atol=1e-9)
    assert allocation.solve.objective_value == pytest.approx(reference.solve.objective_value)


def test_every_solver_failing_raises_solver_error_with_each_reason():
    tickers, _, covariance, _ = _market(8)
    problem = PortfolioProblem(tickers, "risk_parity")
    _patch(problem, {"CLARABEL": "raise", "SCS": "raise"})
    with pytest.raises(SolverError, match="CLARABEL: CLARABEL crashed; SCS: SCS crashed"):
        problem.solve(covariance)


def test_an_explicit_solver_runs_alone():
    tickers, _, covariance, _ = _market(8)
    with pytest.raises(SolverError, match="OSQP"):
        PortfolioProblem(tickers, "risk_parity", solver="OSQP").solve(covariance)
    with pytest.raises(SolverError, match="NOPE: not installed"):
        PortfolioProblem(tickers, "min_variance", solver="NOPE").solve(covariance)
    allocation = PortfolioProblem(tickers, "min_variance", solver="SCS").solve(covariance)
    assert allocation.solve.solver == "SCS"


def test_solve_info_records_solver_status_time_and_objective():
    tickers, _, covariance, _ = _market(15)
    for solver in ("auto", "CLARABEL"):
        problem = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.15)], solver=solver)
        allocation = problem.solve(covariance)
        info = allocation.solve
        expected = "ACTIVE_SET" if solver == "auto" else "CLARABEL"
        assert (info.solver, info.status, info.fallbacks) == (expected, cp.OPTIMAL, ())
        assert info.seconds > 0
        w = allocation.risky_weights.to_numpy()
        assert info.objective_value == pytest.approx(w @ covariance.to_numpy() @ w, rel=1e-7)
        assert allocation.volatility == pytest.approx(np.sqrt(info.objective_value), rel=1e-7)


# --------------------------------------------------------------------------- re-solves


@pytest.mark.parametrize("solver", ["CLARABEL", "auto"])
def test_resolving_with_a_new_covariance_equals_a_fresh_problem(solver):
    """CLARABEL re-solves the compiled cvxpy problem through its Parameters; auto re-solves
    the warm-started active set."""
    tickers, returns, covariance, _ = _market(60, seed=3)
    later = returns.iloc[40:].cov() * 252
    limits = _limits(tickers)
    problem = PortfolioProblem(tickers, "min_variance", limits, solver=solver)
    started = time.perf_counter()
    first = problem.solve(covariance)
    first_seconds = time.perf_counter() - started
    compiled = problem._chain.compiled if problem._chain else None
    started = time.perf_counter()
    second = problem.solve(later)
    second_seconds = time.perf_counter() - started
    expected = "ACTIVE_SET" if solver == "auto" else solver
    assert [a.solve.solver for a in (first, second)] == [expected, expected]
    if solver != "auto":
        assert problem._chain.compiled is compiled  # re-solved, not rebuilt
    for allocation, matrix in ((first, covariance), (second, later)):
        fresh = PortfolioProblem(tickers, "min_variance", limits, solver=solver).solve(matrix)
        np.testing.assert_allclose(allocation.weights, fresh.weights, atol=1e-7)
    assert not np.allclose(first.weights, second.weights, atol=1e-4)
    print(
        f"\nN=60 capped min-variance ({solver}): first solve {first_seconds * 1e3:.1f} ms, "
        f"re-solve {second_seconds * 1e3:.1f} ms"
    )


def test_available_mask_holds_names_at_zero_like_a_smaller_problem():
    tickers, _, covariance, _ = _market(10, seed=4)
    available = {t: t not in ("S002", "S007") for t in tickers}
    allocation = PortfolioProblem(tickers, "min_variance", [MaxWeight(0.2)]).solve(
        covariance, available=available
    )
    assert allocation.weights["S002"] == 0 and allocation.weights["S007"] == 0
    live = [t for t in tickers if available[t]]
    smaller = PortfolioProblem(live, "min_variance", [MaxWeight(0.2)]).solve(
        covariance.loc[live, live]
    )
    np.testing.assert_allclose(allocation.weights[live], smaller.weights[live], atol=1e-7)


# --------------------------------------------------------------------------- bad input


def test_bad_data_is_a_named_error():
    tickers, _, covariance, _ = _market(5)
    problem = PortfolioProblem(tickers, "min_variance")
    with pytest.raises(InputError, match="unknown data scenario for objective min_variance"):
        problem.solve(covariance, scenario=1)
    broken = covariance.copy()
    broken.iloc[0, 1] = np.nan
    with pytest.raises(DataError, match="missing or infinite"):
        problem.solve(broken)
    with pytest.raises(DataError, match="no covariance for S004"):  # a data bug, not limits
        problem.solve(covariance.iloc[:4, :4])
    with pytest.raises(DataError, match="wrong shape"):
        problem.solve(covariance.to_numpy()[:4, :4])


def test_non_numeric_data_is_a_named_error():
    tickers, _, covariance, mu = _market(3)
    text = covariance.astype(object)
    text.iloc[0, 1] = "high"
    with pytest.raises(DataError, match="covariance has entries that are not numbers"):
        PortfolioProblem(tickers, "min_variance").solve(text)
    with pytest.raises(DataError, match="expected returns has entries that are not numbers"):
        PortfolioProblem(tickers, "max_sharpe").solve(covariance, mu.astype(object).replace(
            {mu.iloc[0]: "x"}))
    with pytest.raises(InputError, match="weights must be numbers"):
        PortfolioProblem(tickers, "min_tracking_error").solve(
            covariance, target_weights={tickers[0]: "half"})
    scenarios = pd.DataFrame([["a", 0.01, 0.02]], columns=tickers)
    with pytest.raises(DataError, match="scenario returns must be numbers"):
        PortfolioProblem(tickers, "min_cvar").solve(covariance, scenarios=scenarios)


# --------------------------------------------------------------------------- not PSD

INDEFINITE = np.array([[0.04, 0.1, 0.0], [0.1, 0.04, 0.0], [0.0, 0.0, 0.1]])  # eigenvalue -0.06


@pytest.mark.parametrize("parametric", [True, False])
def test_a_covariance_that_is_not_psd_is_repaired_once_for_every_solver(parametric):
    """auto (active set), OSQP (warm-started) and the cvxpy solvers see the same nearest
    PSD matrix, so they agree (the raw matrix gave the active set a wrong optimum and
    OSQP a non-convexity exception)."""
    from portfolio.estimate.psd import nearest_psd

    tickers = ["A", "B", "C"]
    repaired, _ = nearest_psd(INDEFINITE)
    solved = {
        solver: PortfolioProblem(
            tickers, "min_variance", [MaxWeight(0.6)], solver=solver, parametric=parametric
        ).solve(INDEFINITE)
        for solver in ("auto", "OSQP", "CLARABEL", "SCS")
    }
    assert solved["auto"].solve.solver == "ACTIVE_SET"
    assert solved["OSQP"].solve.fallbacks == ()
    # A and B are perfectly correlated once repaired: only their sum is determined.
    for allocation in solved.values():
        w = allocation.risky_weights.to_numpy()
        assert allocation.solve.objective_value == pytest.approx(w @ repaired @ w, rel=1e-7)
        assert allocation.solve.objective_value == pytest.approx(0.7 / 17, rel=1e-6)
        assert allocation.volatility == pytest.approx(np.sqrt(0.7 / 17), rel=1e-6)
        assert w[0] + w[1] == pytest.approx(10 / 17, abs=1e-6)
        assert w[2] == pytest.approx(7 / 17, abs=1e-6)
        assert all(row.ok for row in allocation.limits)


def test_a_psd_covariance_reaches_the_solvers_unchanged():
    from portfolio.optimization.risk_input import positive_semidefinite as _positive_semidefinite

    _, _, covariance, _ = _market(8)
    matrix = covariance.to_numpy()
    np.testing.assert_array_equal(_positive_semidefinite(matrix), matrix)
    singular = np.outer(np.arange(1.0, 4.0), np.arange(1.0, 4.0))  # PSD, rank 1
    np.testing.assert_array_equal(_positive_semidefinite(singular), singular)


def _count_psd_checks(monkeypatch) -> dict[str, int]:
    """Count eigen-decompositions and Cholesky factorisations of the covariance (n >= 20)."""
    from portfolio.optimization import lapack

    monkeypatch.setattr(lapack, "SCIPY_FROM", 10**9)  # every Cholesky through numpy's

    calls = {"eigen": 0, "cholesky": 0}

    def counted(kind, function):
        def wrapper(matrix, *args, **kwargs):
            if np.shape(matrix)[0] >= 20:
                calls[kind] += 1
            return function(matrix, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(np.linalg, "eigvalsh", counted("eigen", np.linalg.eigvalsh))
    monkeypatch.setattr(np.linalg, "eigh", counted("eigen", np.linalg.eigh))
    monkeypatch.setattr(np.linalg, "cholesky", counted("cholesky", np.linalg.cholesky))
    return calls


def test_a_certified_estimate_is_not_checked_again(monkeypatch):
    """PSD is established once, by the estimator; the optimiser trusts the certificate."""
    from portfolio.estimate.covariance import covariance as estimate

    rng = np.random.default_rng(11)
    returns = pd.DataFrame(rng.normal(0, 0.01, (30, 40)),
                           columns=[f"T{i}" for i in range(40)])  # T < N: singular
    calls = _count_psd_checks(monkeypatch)
    sample = estimate(returns, "sample")
    assert sample.psd == "eigenvalues" and calls == {"eigen": 1, "cholesky": 1}
    calls.update(eigen=0, cholesky=0)
    certified = optimize(sample, "min_variance", [MaxWeight(0.1)])
    assert calls == {"eigen": 0, "cholesky": 0}
    unchecked = optimize(returns, "min_variance", [MaxWeight(0.1)],
                         covariance=sample.matrix)  # a plain matrix is tested
    assert calls["eigen"] == 1
    np.testing.assert_allclose(certified.weights, unchecked.weights, atol=1e-12)
    calls.update(eigen=0, cholesky=0)
    optimize(returns, "min_variance", [MaxWeight(0.1)], covariance_method="sample")
    assert calls == {"eigen": 1, "cholesky": 1}  # end to end: the estimator's test only


def test_every_estimate_carries_its_certificate():
    from portfolio.estimate.covariance import PSD_CERTIFICATES
    from portfolio.estimate.covariance import covariance as estimate

    rng = np.random.default_rng(12)
    returns = pd.DataFrame(rng.normal(0, 0.01, (300, 5)), columns=list("ABCDE"))
    returns.iloc[:200, 4] = np.nan  # a ragged name, filled in and checked
    factors = pd.DataFrame({"MKT": returns["A"].to_numpy()}, index=returns.index)
    for method in ("sample", "ledoit_wolf", "oas", "ewma", "factor"):
        certificate = estimate(returns, method, factor_returns=factors).psd
        assert certificate in PSD_CERTIFICATES, method


def test_conflicting_floors_raise_infeasible_error():
    tickers, _, covariance, _ = _market(6)
    limits = [
        GroupFloor(group="a", members=tuple(tickers[:3]), floor=0.6),
        GroupFloor(group="b", members=tuple(tickers[3:]), floor=0.6),
    ]
    with pytest.raises(InfeasibleError):
        PortfolioProblem(tickers, "min_variance", limits).solve(covariance)


def test_optimize_tracks_a_benchmark_series_from_returns():
    _, returns, _, _ = _market(8, seed=5)
    hidden = np.linspace(1, 2, 8) / np.linspace(1, 2, 8).sum()
    benchmark = pd.Series(returns.to_numpy() @ hidden, index=returns.index)
    allocation = optimize(
        returns, "min_tracking_error", covariance_method="sample", benchmark_returns=benchmark
    )
    np.testing.assert_allclose(allocation.risky_weights.to_numpy(), hidden, atol=1e-6)


# --------------------------------------------------------------------------- random feasible sets


@st.composite
def _feasible_limits(draw):
    """Limits built around a strictly positive portfolio ``anchor`` so they always hold."""
    n = 8
    tickers = [f"S{i:03d}" for i in range(n)]
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    cash = draw(st.sampled_from([0.0, 0.05]))
    anchor = rng.dirichlet(np.ones(n)) * (1 - cash)
    slack = draw(st.floats(0.005, 0.1))
    first, second = tuple(tickers[:3]), tuple(tickers[3:6])
    current = dict(zip(tickers, rng.dirichlet(np.ones(n)), strict=True))
    exposures = rng.uniform(0, 0.5, n)
    turnover = 0.5 * (np.abs(anchor - np.array(list(current.values()))).sum() + cash)
    limits = [
        MaxWeight(float(anchor.max() + slack), {tickers[0]: float(anchor[0] + slack / 2)}),
        MinWeight(0.0, {tickers[1]: float(max(anchor[1] - slack, 0.0))}),
        GroupCap(group="first", members=first, cap=float(anchor[:3].sum() + slack)),
        GroupFloor(group="second", members=second, floor=float(anchor[3:6].sum() - slack)),
        CashFloor(cash),
        ThemeCap(
            name="hub",
            exposures=dict(zip(tickers, exposures, strict=True)),
            cap=float(exposures @ anchor + slack),
        ),
        MaxTurnover(float(turnover + slack), current),
    ]
    objective = draw(
        st.sampled_from(
            [
                "min_variance",
                "max_sharpe",
                "utility",
                "risk_parity",
                "max_diversification",
                "min_cvar",
                "min_tracking_error",
            ]
        )
    )
    return tickers, limits, objective, seed


@settings(max_examples=25, deadline=None)
@given(_feasible_limits())
def test_random_feasible_limit_sets_are_met_by_every_objective(case):
    tickers, limits, objective, seed = case
    _, returns, _, _ = _market(len(tickers), seed)
    returns.columns = tickers
    covariance = returns.cov() * 252
    mu = pd.Series(np.linspace(0.08, 0.2, len(tickers)), index=tickers)
    extra = {
        "min_cvar": {"scenarios": returns},
        "min_tracking_error": {"target_weights": dict.fromkeys(tickers, 1 / len(tickers))},
    }.get(objective, {})
    problem = PortfolioProblem(tickers, objective, limits)
    allocation = problem.solve(covariance, mu, **extra)
    assert allocation.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert allocation.weights[CASH] >= limits[4].floor - 1e-9
    worst = max(row.excess for row in check_all(limits, allocation.weights, tickers))
    assert worst <= 1e-6, [row for row in allocation.limits if not row.ok]
