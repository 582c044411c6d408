"""Large and dense-answer benchmarks (issue 14): ``portfolio`` vs PyPortfolioOpt, skfolio
and one cvxpy problem built once and re-solved with OSQP, one process, same data.

Cases
-----
1. ``dense``: the active set's former worst case -- returns whose sample covariance is a
   one-factor model with near-equal betas and idiosyncratic volatilities
   (:func:`_synthetic.dense_answer_returns`, T = N + 60), Ledoit-Wolf, cap 2 %: the optimum
   holds almost every name. N = 1,000 and 3,000.
2. ``ledoit_wolf``: capped minimum variance end to end on the 5-factor synthetic returns of
   ``bench_optimizer.py`` (T = 1,260, cap 5 %), Ledoit-Wolf. N = 1,000, 3,000, 5,000.
3. ``factor``: the same with a 20-factor model estimated from the factor returns
   (:func:`_synthetic.synthetic_factor_market`, T = 1,260, cap 5 %). Ours:
   ``covariance(returns, "factor", factor_returns=...)`` kept in factor form, then
   ``optimize``; PyPortfolioOpt: the same OLS model in numpy, formed as an N x N matrix
   (it has no factor form); skfolio: ``MeanRisk`` with its ``TimeSeriesFactorModel`` prior (OLS
   loadings with ``LinearRegression``; it divides residual variances by T - 1 where we use
   T - k - 1, a 1.6 % difference that shows in its gap); the built-once baseline takes the
   numpy model as Parameters ``U'`` (k x N) and ``sqrt(d)``.

Every timed call starts from returns (estimation included). Timing as in
``bench_optimizer.py`` (one untimed warm-up call, then ``--repeats`` calls, libraries
interleaved, median and best), except that a library whose first call takes longer than
``--slow`` seconds is timed once (that call; for the built-once baseline, whose first call
compiles, one more call): at N = 3,000-5,000 one call of a peer takes minutes. The
built-once baseline with a dense N x N Parameter is left out above ``--baseline-max-n``
(3,000): its compile alone took 274 s and 2 GB at N = 3,000.

Accuracy: relative objective gap to Clarabel at tolerances 1e-12 on the same covariance
(scikit-learn's Ledoit-Wolf x 252, or the numpy factor model), solved in low-rank form
(``Sigma = A'A + c I`` for Ledoit-Wolf, ``U U' + D`` for factors) so that N = 5,000 stays
tractable; ``max abs dw`` the largest weight difference to it.

Run from the project root::

    .venv/bin/python benchmarks/bench_scale.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import (
    TRADING_DAYS,
    dense_answer_returns,
    synthetic_factor_market,
    synthetic_returns,
)
from bench_optimizer import (
    OSQP_ONCE,
    OURS,
    PYPFOPT,
    REFERENCE_OPTIONS,
    SKFOLIO,
    BuiltOnce,
    Row,
    Timing,
    markdown_table,
    osqp_once_min_variance,
    ours_min_variance,
    print_footer,
    pypfopt_min_variance,
    skfolio_min_variance,
    violation,
)

LIBRARIES = (OURS, PYPFOPT, SKFOLIO, OSQP_ONCE)


# --------------------------------------------------------------------------- timing


def compare(functions: Mapping[str, Callable[[], np.ndarray]], repeats: int, slow: float
            ) -> tuple[dict[str, Timing], dict[str, np.ndarray]]:
    """Interleaved timing; a function whose first call took over ``slow`` s is timed once.

    That one timing is the first call itself, except for the built-once baseline, whose
    first call compiles its problem: it gets one more (timed) call.
    """
    results: dict[str, np.ndarray] = {}
    seconds: dict[str, list[float]] = {}
    for name, function in functions.items():
        started = time.perf_counter()
        results[name] = function()
        elapsed = time.perf_counter() - started
        if elapsed > slow and name == OSQP_ONCE:
            started = time.perf_counter()
            results[name] = function()
            seconds[name] = [time.perf_counter() - started]
        elif elapsed > slow:
            seconds[name] = [elapsed]
    once = set(seconds)
    for _ in range(repeats):
        for name, function in functions.items():
            if name in once:
                continue
            started = time.perf_counter()
            results[name] = function()
            seconds.setdefault(name, []).append(time.perf_counter() - started)
    return {name: Timing(statistics.median(s), min(s)) for name, s in seconds.items()}, results


# --------------------------------------------------------------------------- factor models


def numpy_factor_model(returns: pd.DataFrame, factors: pd.DataFrame
                       ) -> tuple[np.ndarray, np.ndarray]:
    """OLS factor model in plain numpy: ``U`` (N x k) with ``U U' = B F B'`` and ``d`` (N,).

    Each name regressed with an intercept on the factors; ``F`` the sample covariance
    (ddof 1) of the factors, ``d`` the residual variances ``SSR / (T - k - 1)``; annual.
    """
    x, y = factors.to_numpy(), returns.to_numpy()
    design = np.column_stack([np.ones(len(x)), x])
    coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    residuals = y - design @ coefficients
    specific = (residuals**2).sum(axis=0) / (len(x) - x.shape[1] - 1) * TRADING_DAYS
    factor_cov = np.atleast_2d(np.cov(x, rowvar=False)) * TRADING_DAYS
    return coefficients[1:].T @ np.linalg.cholesky(factor_cov), specific


def ours_factor(returns: pd.DataFrame, factors: pd.DataFrame, cap: float) -> np.ndarray:
    """``covariance(..., "factor")`` (kept in factor form) + ``optimize``."""
    import portfolio
    from portfolio.estimate.covariance import covariance

    estimate = covariance(returns, "factor", factor_returns=factors)
    allocation = portfolio.optimize(estimate, "min_variance", [portfolio.MaxWeight(cap)])
    return allocation.weights.reindex(returns.columns).to_numpy()


def pypfopt_factor(returns: pd.DataFrame, factors: pd.DataFrame, cap: float) -> np.ndarray:
    """The numpy factor model formed as an N x N matrix, then ``min_volatility``."""
    from pypfopt import EfficientFrontier

    root, specific = numpy_factor_model(returns, factors)
    matrix = root @ root.T + np.diag(specific)
    frame = pd.DataFrame(matrix, index=returns.columns, columns=returns.columns)
    weights = EfficientFrontier(None, frame, weight_bounds=(0, cap)).min_volatility()
    return np.array([weights[t] for t in returns.columns])


def skfolio_factor(returns: pd.DataFrame, factors: pd.DataFrame, cap: float) -> np.ndarray:
    """skfolio ``MeanRisk`` (variance) with a ``TimeSeriesFactorModel`` prior (OLS)."""
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk
    from skfolio.prior import LoadingMatrixRegression, TimeSeriesFactorModel
    from sklearn.linear_model import LinearRegression

    prior = TimeSeriesFactorModel(
        loading_matrix_estimator=LoadingMatrixRegression(LinearRegression()))
    model = MeanRisk(risk_measure=RiskMeasure.VARIANCE, max_weights=cap, prior_estimator=prior)
    return np.asarray(model.fit(returns, factors=factors).weights_)


def osqp_once_factor(returns: pd.DataFrame, factors: pd.DataFrame, cap: float) -> np.ndarray:
    """The numpy factor model as the built-once baseline's Parameters."""
    root, specific = numpy_factor_model(returns, factors)
    return BuiltOnce.factor_form(root, specific, cap)


# --------------------------------------------------------------------------- references


def _clarabel_low_rank(a: np.ndarray, diagonal: np.ndarray, cap: float) -> np.ndarray:
    """``min ||A w||^2 + sum(diagonal w^2)`` s.t. budget and box, Clarabel at 1e-12."""
    w, y = cp.Variable(a.shape[1]), cp.Variable(a.shape[0])
    problem = cp.Problem(
        cp.Minimize(cp.sum_squares(y) + cp.sum_squares(cp.multiply(np.sqrt(diagonal), w))),
        [y == a @ w, cp.sum(w) == 1, w >= 0, w <= cap])
    # faer: Clarabel's supernodal factorisation, much faster than QDLDL on these blocks
    problem.solve(solver="CLARABEL", direct_solve_method="faer", **REFERENCE_OPTIONS)
    return np.asarray(w.value)


def ledoit_wolf_parts(returns: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's Ledoit-Wolf x 252 as ``A' A + diag(c)`` (A: T x N, c: N)."""
    values = returns.to_numpy()
    centred = values - values.mean(axis=0)
    model = LedoitWolf(store_precision=False).fit(values)
    shrinkage, rows = model.shrinkage_, len(values)
    mean_variance = float((centred**2).sum()) / (rows * values.shape[1])
    a = centred * np.sqrt(TRADING_DAYS * (1 - shrinkage) / rows)
    return a, np.full(values.shape[1], TRADING_DAYS * shrinkage * mean_variance)


def _accuracy(weights: np.ndarray, reference: np.ndarray, variance: Callable, cap: float
              ) -> tuple[float, float, float]:
    best = variance(reference)
    return (float(np.abs(weights - reference).max()), (variance(weights) - best) / best,
            violation(weights, cap))


# --------------------------------------------------------------------------- cases


def _reference(key: str, cache: Path | None, solve: Callable[[], np.ndarray]) -> np.ndarray:
    """The reference weights, from ``cache/key.npy`` when a previous run saved them."""
    path = None if cache is None else cache / f"{key}.npy"
    if path is not None and path.exists():
        return np.load(path)
    weights = solve()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, weights)
    return weights


def bench_case(case: str, n: int, repeats: int, slow: float,
               libraries: Sequence[str] = LIBRARIES, baseline_max_n: int = 3000,
               cache: Path | None = None) -> list[Row]:
    """One case at one size: timings and accuracy rows.

    The built-once baseline with a dense covariance runs up to ``baseline_max_n`` names:
    its DPP compile with an N x N Parameter took 274 s and 2 GB at N = 3,000. ``cache``: a
    folder where the Clarabel references are kept between runs (the data are seeded).
    """
    if case == "factor":
        returns, factors = synthetic_factor_market(n, 1260, n_factors=20, seed=5)
        cap = 0.05
        functions = {OURS: ours_factor, PYPFOPT: pypfopt_factor, SKFOLIO: skfolio_factor,
                     OSQP_ONCE: osqp_once_factor}
        arguments: tuple = (returns, factors, cap)
        root, specific = numpy_factor_model(returns, factors)
        reference = _reference(f"{case}-{n}", cache,
                               lambda: _clarabel_low_rank(root.T, specific, cap))

        def variance(w):
            return float(np.sum((root.T @ w) ** 2) + specific @ w**2)
    else:
        returns = (dense_answer_returns(n, seed=4) if case == "dense"
                   else synthetic_returns(n, 1260, seed=1))
        cap = 0.02 if case == "dense" else 0.05
        functions = {OURS: ours_min_variance, PYPFOPT: pypfopt_min_variance,
                     SKFOLIO: skfolio_min_variance, OSQP_ONCE: osqp_once_min_variance}
        arguments = (returns, cap)
        a, diagonal = ledoit_wolf_parts(returns)
        reference = _reference(f"{case}-{n}", cache, lambda: _clarabel_low_rank(a, diagonal, cap))

        def variance(w):
            return float(np.sum((a @ w) ** 2) + diagonal @ w**2)
    chosen = {name: functions[name] for name in libraries if name in functions
              and not (name == OSQP_ONCE and case != "factor" and n > baseline_max_n)}
    timings, weights = compare({name: lambda f=f: f(*arguments) for name, f in chosen.items()},
                               repeats, slow)
    ours = timings[OURS].median
    return [Row(case, n, name, timing, timing.median / ours,
                *_accuracy(weights[name], reference, variance, cap),
                notes=(f"{(weights[name] > 1e-6).sum()} names held",))
            for name, timing in timings.items()]


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the selected cases and sizes, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="dense:1000,3000;ledoit_wolf:1000,3000,5000;"
                        "factor:1000,3000,5000", help="case:N,N;case:N...")
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--slow", type=float, default=20.0,
                        help="a library slower than this (s) on its first call is timed once")
    parser.add_argument("--baseline-max-n", type=int, default=3000,
                        help="largest N of the built-once baseline with a dense covariance")
    parser.add_argument("--reference-cache", type=Path, default=None,
                        help="folder keeping the Clarabel references between runs")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS/LAPACK threads (threadpoolctl); 0 = library default")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore", category=UserWarning)
    libraries = args.libraries.split(",")
    started = time.perf_counter()
    rows: list[Row] = []
    with threadpool_limits(args.blas_threads) if args.blas_threads else nullcontext():
        for item in args.cases.split(";"):
            case, sizes = item.split(":")
            for n in (int(size) for size in sizes.split(",")):
                new = bench_case(case, n, args.repeats, args.slow, libraries,
                                 args.baseline_max_n, args.reference_cache)
                print(markdown_table(new), flush=True)
                rows += new
    print()
    print(markdown_table(rows))
    print_footer(args.blas_threads, started)


if __name__ == "__main__":
    main()
