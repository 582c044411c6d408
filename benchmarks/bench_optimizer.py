"""Optimizer benchmarks: ``portfolio`` vs PyPortfolioOpt vs skfolio, one process, same data.

Cases (issue 4)
---------------
1. ``min_variance``: capped minimum variance end to end (daily returns -> Ledoit-Wolf ->
   weights) for N = 20, 100, 500 names and T = 1260 daily returns, cap ``max(2 / N, 0.05)``.
2. ``max_sharpe``: capped maximum Sharpe for N = 100 (expected returns = sample mean x 252,
   risk-free rate 2 % a year).
3. ``resolves``: 120 monthly re-solves for N = 50: at each step a Ledoit-Wolf estimate on
   the last 504 daily returns and capped minimum variance. Ours builds ONE
   :class:`portfolio.PortfolioProblem` and re-solves it (the loop API the backtest engine
   uses); the peers build a new model each step, as their documentation does.

Cases 1 and 3 also have the strongest cvxpy baseline (issue 14), ``cvxpy+OSQP built
once``: one DPP problem compiled once and re-solved through its Parameter with OSQP,
warm-started (:class:`BuiltOnce`). The large and dense-answer cases are in
``bench_scale.py``.

Every library gets the same synthetic returns (:mod:`_synthetic`). Each timed function is
called once untimed (warm-up: imports, solver probing), then ``--repeats`` times, the
libraries interleaved so machine load hits them alike; the table gives the median and the
best time. Accuracy is measured against a reference solve of the same problem on the same
Ledoit-Wolf covariance (scikit-learn, annualised x 252) with Clarabel at tolerances 1e-12:
``max |dw|`` is the largest weight difference, ``gap`` the relative objective gap
(variance: ``(f(w) - f_ref) / f_ref``; Sharpe: ``(S_ref - S(w)) / S_ref``), ``viol`` the
largest violation of the budget and the bounds.

Run from the project root::

    /work/venv/bin/python benchmarks/bench_optimizer.py --repeats 5

``--blas-threads`` (default 1) limits the BLAS/LAPACK threads of every library through
threadpoolctl (see RESULTS.md for why).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import cvxpy as cp
import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import TRADING_DAYS, synthetic_returns

OURS, PYPFOPT, SKFOLIO = "portfolio", "PyPortfolioOpt", "skfolio"
OSQP_ONCE = "cvxpy+OSQP built once"
REFERENCE_OPTIONS = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "max_iter": 500}
RISK_FREE_RATE = 0.02


def cap_for(n_assets: int) -> float:
    """Per-name cap ``max(2 / N, 0.05)`` (binds for every N of the benchmarks)."""
    return max(2.0 / n_assets, 0.05)


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    """Seconds of the timed calls."""

    median: float
    best: float


def compare(
    functions: Mapping[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, Timing], dict[str, object]]:
    """Time every function ``repeats`` times, interleaved, after one untimed warm-up call.

    Returns the timings and the result of each function's last call.
    """
    results = {name: function() for name, function in functions.items()}
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            results[name] = function()
            seconds[name].append(time.perf_counter() - started)
    timings = {name: Timing(statistics.median(s), min(s)) for name, s in seconds.items()}
    return timings, results


# --------------------------------------------------------------------------- accuracy


def annual_ledoit_wolf(returns: pd.DataFrame) -> np.ndarray:
    """The common covariance: scikit-learn Ledoit-Wolf of daily returns x 252 (n x n)."""
    return LedoitWolf(store_precision=False).fit(returns.to_numpy()).covariance_ * TRADING_DAYS


def reference_min_variance(covariance: np.ndarray, cap: float) -> np.ndarray:
    """Capped minimum-variance weights from Clarabel at tolerances 1e-12."""
    w = cp.Variable(covariance.shape[0])
    problem = cp.Problem(
        cp.Minimize(cp.quad_form(w, cp.psd_wrap(covariance))), [cp.sum(w) == 1, w >= 0, w <= cap]
    )
    problem.solve(solver="CLARABEL", **REFERENCE_OPTIONS)
    return np.asarray(w.value)


def reference_max_sharpe(
    covariance: np.ndarray, mu: np.ndarray, cap: float, risk_free_rate: float
) -> np.ndarray:
    """Capped maximum-Sharpe weights (Cornuejols-Tutuncu form) from Clarabel at 1e-12."""
    y = cp.Variable(covariance.shape[0])
    kappa = cp.Variable(nonneg=True)
    problem = cp.Problem(
        cp.Minimize(cp.quad_form(y, cp.psd_wrap(covariance))),
        [(mu - risk_free_rate) @ y == 1, cp.sum(y) == kappa, y >= 0, y <= cap * kappa],
    )
    problem.solve(solver="CLARABEL", **REFERENCE_OPTIONS)
    return np.asarray(y.value) / float(kappa.value)


def variance_gap(weights: np.ndarray, reference: np.ndarray, covariance: np.ndarray) -> float:
    """Relative excess variance ``(f(w) - f_ref) / f_ref`` (negative only if infeasible)."""
    best = float(reference @ covariance @ reference)
    return (float(weights @ covariance @ weights) - best) / best


def sharpe(weights: np.ndarray, covariance: np.ndarray, mu: np.ndarray, rate: float) -> float:
    """Annual Sharpe ratio ``(mu - rf) @ w / sqrt(w' Sigma w)``."""
    return float((mu - rate) @ weights / np.sqrt(weights @ covariance @ weights))


def sharpe_gap(weights, reference, covariance, mu, rate) -> float:
    """Relative Sharpe shortfall ``(S_ref - S(w)) / S_ref``."""
    best = sharpe(reference, covariance, mu, rate)
    return (best - sharpe(weights, covariance, mu, rate)) / best


def violation(weights: np.ndarray, cap: float) -> float:
    """Largest violation of ``sum(w) = 1`` and ``0 <= w <= cap``."""
    return float(max(abs(weights.sum() - 1.0), -weights.min(), (weights - cap).max(), 0.0))


# --------------------------------------------------------------------------- libraries


def ours_min_variance(returns: pd.DataFrame, cap: float, solver: str = "auto") -> np.ndarray:
    """``portfolio.optimize`` end to end (Ledoit-Wolf inside), weights in column order."""
    import portfolio

    allocation = portfolio.optimize(
        returns, "min_variance", [portfolio.MaxWeight(cap)], solver=solver
    )
    return allocation.weights.reindex(returns.columns).to_numpy()


def ours_max_sharpe(
    returns: pd.DataFrame, cap: float, rate: float, solver: str = "auto"
) -> np.ndarray:
    """``portfolio.optimize`` max-Sharpe with the sample mean x 252 as expected returns."""
    import portfolio

    mu = returns.mean() * TRADING_DAYS
    allocation = portfolio.optimize(
        returns,
        "max_sharpe",
        [portfolio.MaxWeight(cap)],
        expected_returns=mu,
        risk_free_rate=rate,
        solver=solver,
    )
    return allocation.weights.reindex(returns.columns).to_numpy()


def pypfopt_covariance(returns: pd.DataFrame) -> pd.DataFrame:
    """PyPortfolioOpt's Ledoit-Wolf (constant-variance target) of daily returns, annual."""
    from pypfopt.risk_models import CovarianceShrinkage

    return CovarianceShrinkage(returns, returns_data=True).ledoit_wolf()


def pypfopt_min_variance(returns: pd.DataFrame, cap: float) -> np.ndarray:
    """``CovarianceShrinkage.ledoit_wolf`` + ``EfficientFrontier.min_volatility``."""
    from pypfopt import EfficientFrontier

    frontier = EfficientFrontier(None, pypfopt_covariance(returns), weight_bounds=(0, cap))
    weights = frontier.min_volatility()
    return np.array([weights[t] for t in returns.columns])


def pypfopt_max_sharpe(returns: pd.DataFrame, cap: float, rate: float) -> np.ndarray:
    """``mean_historical_return`` (no compounding) + ``EfficientFrontier.max_sharpe``."""
    from pypfopt import EfficientFrontier, expected_returns

    mu = expected_returns.mean_historical_return(returns, returns_data=True, compounding=False)
    frontier = EfficientFrontier(mu, pypfopt_covariance(returns), weight_bounds=(0, cap))
    weights = frontier.max_sharpe(risk_free_rate=rate)
    return np.array([weights[t] for t in returns.columns])


def _skfolio_model(cap: float, ratio: bool = False, rate: float = 0.0):
    from skfolio import RiskMeasure
    from skfolio.moments import LedoitWolf as SkfolioLedoitWolf
    from skfolio.optimization import MeanRisk, ObjectiveFunction
    from skfolio.prior import EmpiricalPrior

    return MeanRisk(
        risk_measure=RiskMeasure.VARIANCE,
        objective_function=(
            ObjectiveFunction.MAXIMIZE_RATIO if ratio else ObjectiveFunction.MINIMIZE_RISK
        ),
        max_weights=cap,
        risk_free_rate=rate,
        prior_estimator=EmpiricalPrior(covariance_estimator=SkfolioLedoitWolf()),
    )


def skfolio_min_variance(returns: pd.DataFrame, cap: float) -> np.ndarray:
    """skfolio ``MeanRisk`` (variance, minimise risk) with a Ledoit-Wolf prior."""
    return np.asarray(_skfolio_model(cap).fit(returns).weights_)


def skfolio_max_sharpe(returns: pd.DataFrame, cap: float, rate: float) -> np.ndarray:
    """skfolio ``MeanRisk`` (variance, maximise ratio); daily data, so ``rf / 252``."""
    model = _skfolio_model(cap, ratio=True, rate=rate / TRADING_DAYS)
    return np.asarray(model.fit(returns).weights_)


class BuiltOnce:
    """The strongest cvxpy baseline: ONE capped min-variance problem, re-solved with OSQP.

    ``minimise ||F w||^2`` s.t. ``sum(w) = 1``, ``0 <= w <= cap``, with ``F`` a cvxpy
    Parameter (the upper Cholesky factor of the covariance, so the problem is DPP): it is
    compiled on the first solve (the untimed warm-up of :func:`compare`) and every later
    call only sets ``F`` and calls OSQP with ``warm_start=True`` (cvxpy's OSQP defaults:
    eps 1e-5, polishing on). Repeated one-shot calls therefore start from the previous
    answer of the same problem -- the most favourable reading for the baseline.
    :meth:`factor_form` is the same with a factor model: Parameters ``U'`` (k x n) and
    ``sqrt(d)`` (n,), ``||U' w||^2 + ||sqrt(d) w||^2``.
    """

    _problems: ClassVar[dict[tuple, tuple]] = {}

    @classmethod
    def _dense(cls, n: int, cap: float) -> tuple:
        key = ("dense", n, cap)
        if key not in cls._problems:
            factor, w = cp.Parameter((n, n)), cp.Variable(n)
            problem = cp.Problem(cp.Minimize(cp.sum_squares(factor @ w)),
                                 [cp.sum(w) == 1, w >= 0, w <= cap])
            cls._problems[key] = (problem, w, factor)
        return cls._problems[key]

    @classmethod
    def solve(cls, covariance: np.ndarray, cap: float) -> np.ndarray:
        """Weights for an annual covariance (n x n)."""
        problem, w, factor = cls._dense(covariance.shape[0], cap)
        factor.value = np.linalg.cholesky(covariance).T
        problem.solve(solver="OSQP", warm_start=True)
        return np.asarray(w.value)

    @classmethod
    def factor_form(cls, root: np.ndarray, specific: np.ndarray, cap: float) -> np.ndarray:
        """Weights for ``Sigma = U U' + diag(d)`` given ``U`` (n x k) and ``d`` (n,)."""
        n, k = root.shape
        key = ("factor", n, k, cap)
        if key not in cls._problems:
            loadings, scale = cp.Parameter((k, n)), cp.Parameter(n, nonneg=True)
            w = cp.Variable(n)
            risk = cp.sum_squares(loadings @ w) + cp.sum_squares(cp.multiply(scale, w))
            problem = cp.Problem(cp.Minimize(risk), [cp.sum(w) == 1, w >= 0, w <= cap])
            cls._problems[key] = (problem, w, loadings, scale)
        problem, w, loadings, scale = cls._problems[key]
        loadings.value, scale.value = root.T, np.sqrt(specific)
        problem.solve(solver="OSQP", warm_start=True)
        return np.asarray(w.value)


def osqp_once_min_variance(returns: pd.DataFrame, cap: float) -> np.ndarray:
    """scikit-learn Ledoit-Wolf x 252, then the built-once problem (:class:`BuiltOnce`)."""
    return BuiltOnce.solve(annual_ledoit_wolf(returns), cap)


def step_ends(n_rows: int, lookback: int, every: int, steps: int) -> list[int]:
    """Row positions (exclusive window ends) of a walk-forward: ``lookback``, ``+every``..."""
    ends = list(range(lookback, n_rows + 1, every))[:steps]
    if len(ends) < steps:
        raise ValueError(f"{n_rows} rows give {len(ends)} steps, not {steps}")
    return ends


def ours_walk_forward(
    returns: pd.DataFrame, cap: float, ends: Sequence[int], lookback: int, solver: str = "auto"
) -> np.ndarray:
    """ONE ``PortfolioProblem`` re-solved with a Ledoit-Wolf estimate per step (steps x n).

    The loop API, as the backtest engine uses it: the estimator's numpy core on the
    window's array (:func:`~portfolio.estimate.estimators.complete_covariance`) and
    :meth:`~portfolio.PortfolioProblem.solve_weights` (weights without an Allocation).
    """
    from portfolio import MaxWeight, PortfolioProblem
    from portfolio.estimate.estimators import complete_covariance

    problem = PortfolioProblem(
        list(returns.columns), "min_variance", [MaxWeight(cap)], solver=solver
    )
    values = returns.to_numpy()
    return np.array([
        problem.solve_weights(complete_covariance("ledoit_wolf", values[end - lookback:end]))[0]
        for end in ends
    ])


def osqp_once_walk_forward(returns, cap, ends, lookback) -> np.ndarray:
    """The built-once cvxpy problem re-solved with OSQP, warm-started, per step (steps x n)."""
    values = returns.to_numpy()
    return np.array([BuiltOnce.solve(
        LedoitWolf(store_precision=False).fit(values[end - lookback:end]).covariance_
        * TRADING_DAYS, cap)
        for end in ends])


def pypfopt_walk_forward(returns, cap, ends, lookback) -> np.ndarray:
    """A new PyPortfolioOpt model per step (steps x n)."""
    return np.array([pypfopt_min_variance(returns.iloc[end - lookback : end], cap) for end in ends])


def skfolio_walk_forward(returns, cap, ends, lookback) -> np.ndarray:
    """A new skfolio model fitted per step (steps x n)."""
    return np.array([skfolio_min_variance(returns.iloc[end - lookback : end], cap) for end in ends])


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Row:
    """One line of a results table."""

    case: str
    n_assets: int
    library: str
    timing: Timing
    ratio: float  # this library's median / ours (ours: 1)
    max_dw: float  # vs the reference
    gap: float
    viol: float
    notes: tuple[str, ...] = field(default=())


def variant(solver: str) -> str:
    """Library label of our toolkit forced to one cvxpy solver, e.g. ``portfolio[HIGHS]``."""
    return f"{OURS}[{solver}]"


def _pick(functions: Mapping[str, Callable], name: str) -> Callable:
    """The function of a library label (``portfolio[SOLVER]``: ours with that solver)."""
    if name.startswith(f"{OURS}["):
        return functools.partial(functions[OURS], solver=name[len(OURS) + 1 : -1])
    return functions[name]


def _rows(case, n_assets, timings, weights, accuracy) -> list[Row]:
    ours = timings[OURS].median
    return [
        Row(case, n_assets, name, timing, timing.median / ours, *accuracy(weights[name]))
        for name, timing in timings.items()
    ]


def bench_min_variance(
    sizes: Sequence[int],
    n_days: int,
    repeats: int,
    seed: int = 1,
    libraries: Sequence[str] = (OURS, PYPFOPT, SKFOLIO),
) -> list[Row]:
    """Case 1: capped min-variance end to end for each N."""
    functions = {
        OURS: ours_min_variance,
        PYPFOPT: pypfopt_min_variance,
        SKFOLIO: skfolio_min_variance,
        OSQP_ONCE: osqp_once_min_variance,
    }
    rows = []
    for n in sizes:
        returns = synthetic_returns(n, n_days, seed=seed)
        cap = cap_for(n)
        timings, weights = compare(
            {name: functools.partial(_pick(functions, name), returns, cap) for name in libraries},
            repeats,
        )
        covariance = annual_ledoit_wolf(returns)
        reference = reference_min_variance(covariance, cap)

        def accuracy(w, reference=reference, covariance=covariance, cap=cap):
            return (
                float(np.abs(w - reference).max()),
                variance_gap(w, reference, covariance),
                violation(w, cap),
            )

        rows += _rows("min_variance", n, timings, weights, accuracy)
    return rows


def bench_max_sharpe(
    n: int,
    n_days: int,
    repeats: int,
    seed: int = 2,
    rate: float = RISK_FREE_RATE,
    libraries: Sequence[str] = (OURS, PYPFOPT, SKFOLIO),
) -> list[Row]:
    """Case 2: capped max-Sharpe end to end (sample-mean expected returns)."""
    functions = {OURS: ours_max_sharpe, PYPFOPT: pypfopt_max_sharpe, SKFOLIO: skfolio_max_sharpe}
    returns = synthetic_returns(n, n_days, seed=seed)
    cap = cap_for(n)
    timings, weights = compare(
        {name: functools.partial(_pick(functions, name), returns, cap, rate) for name in libraries
         if name != OSQP_ONCE},  # the built-once baseline is a min-variance problem
        repeats,
    )
    covariance = annual_ledoit_wolf(returns)
    mu = returns.mean().to_numpy() * TRADING_DAYS
    reference = reference_max_sharpe(covariance, mu, cap, rate)

    def accuracy(w):
        return (
            float(np.abs(w - reference).max()),
            sharpe_gap(w, reference, covariance, mu, rate),
            violation(w, cap),
        )

    return _rows("max_sharpe", n, timings, weights, accuracy)


def bench_resolves(
    n: int,
    steps: int,
    lookback: int,
    every: int,
    repeats: int,
    seed: int = 3,
    libraries: Sequence[str] = (OURS, PYPFOPT, SKFOLIO),
) -> list[Row]:
    """Case 3: ``steps`` monthly re-solves (Ledoit-Wolf on the last ``lookback`` rows)."""
    functions = {
        OURS: ours_walk_forward,
        PYPFOPT: pypfopt_walk_forward,
        SKFOLIO: skfolio_walk_forward,
        OSQP_ONCE: osqp_once_walk_forward,
    }
    returns = synthetic_returns(n, lookback + every * (steps - 1), seed=seed)
    cap = cap_for(n)
    ends = step_ends(len(returns), lookback, every, steps)
    timings, weights = compare(
        {
            name: functools.partial(_pick(functions, name), returns, cap, ends, lookback)
            for name in libraries
        },
        repeats,
    )
    covariances = [annual_ledoit_wolf(returns.iloc[end - lookback : end]) for end in ends]
    references = [reference_min_variance(c, cap) for c in covariances]

    def accuracy(w):
        return (
            float(max(np.abs(row - ref).max() for row, ref in zip(w, references))),
            max(variance_gap(row, ref, c) for row, ref, c in zip(w, references, covariances)),
            max(violation(row, cap) for row in w),
        )

    rows = _rows(f"resolves x{steps}", n, timings, weights, accuracy)
    ours = weights[OURS]
    return [
        row
        if row.library == OURS
        else replace(
            row, notes=(f"max abs w - ours {np.abs(weights[row.library] - ours).max():.1e}",)
        )
        for row in rows
    ]


# --------------------------------------------------------------------------- report


def print_footer(blas_threads: int | None, started: float) -> None:
    """Print the environment line and the total wall time under a results table."""
    print()
    print(
        "Environment: "
        + ", ".join(f"{k} {v}" for k, v in versions().items())
        + f", BLAS threads {blas_threads or 'default'}"
    )
    print(f"Total wall time {time.perf_counter() - started:.0f} s")


def versions() -> dict[str, str]:
    """Python and package versions, CPU count and thread settings."""
    found = {"python": platform.python_version()}
    for name in (
        "numpy",
        "scipy",
        "pandas",
        "scikit-learn",
        "cvxpy",
        "clarabel",
        "osqp",
        "highspy",
        "pyportfolioopt",
        "skfolio",
        "portfolio-ai-infra",
    ):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["cpus"] = str(os.cpu_count())
    found["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            found[key] = os.environ[key]
    return found


def markdown_table(rows: Sequence[Row]) -> str:
    """Rows as a markdown table (seconds; ratio = peer median / ours, > 1: we are faster)."""
    lines = [
        "| case | N | library | median s | best s | peer/ours | max abs dw vs ref "
        "| objective gap | max violation | notes |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.case} | {row.n_assets} | {row.library} | {row.timing.median:.4f} "
            f"| {row.timing.best:.4f} | {row.ratio:.2f} | {row.max_dw:.1e} | {row.gap:.1e} "
            f"| {row.viol:.1e} | {'; '.join(row.notes)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the selected cases and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="20,100,500", help="N of the min-variance case")
    parser.add_argument("--days", type=int, default=1260, help="T of cases 1 and 2")
    parser.add_argument("--sharpe-size", type=int, default=100)
    parser.add_argument("--resolve-size", type=int, default=50)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--lookback", type=int, default=504)
    parser.add_argument("--cases", default="min_variance,max_sharpe,resolves")
    parser.add_argument(
        "--variants",
        default="",
        help="extra rows: ours forced to these cvxpy solvers, e.g. OSQP,HIGHS",
    )
    parser.add_argument("--no-skfolio", action="store_true", help="leave skfolio out")
    parser.add_argument("--no-baseline", action="store_true",
                        help="leave out the cvxpy problem built once and re-solved with OSQP")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS/LAPACK threads (threadpoolctl); 0 = library default",
    )
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    cases = set(args.cases.split(","))
    libraries = [OURS, *(variant(s) for s in args.variants.split(",") if s), PYPFOPT]
    libraries += [] if args.no_skfolio else [SKFOLIO]
    libraries += [] if args.no_baseline else [OSQP_ONCE]
    warnings.filterwarnings("ignore", category=UserWarning)
    started = time.perf_counter()
    rows: list[Row] = []
    with threadpool_limits(args.blas_threads) if args.blas_threads else nullcontext():
        if "min_variance" in cases:
            sizes = [int(s) for s in args.sizes.split(",")]
            rows += bench_min_variance(sizes, args.days, args.repeats, libraries=libraries)
        if "max_sharpe" in cases:
            rows += bench_max_sharpe(args.sharpe_size, args.days, args.repeats, libraries=libraries)
        if "resolves" in cases:
            rows += bench_resolves(
                args.resolve_size, args.steps, args.lookback, 21, args.repeats, libraries=libraries
            )
    print(markdown_table(rows))
    print_footer(args.blas_threads, started)


if __name__ == "__main__":
    main()
