"""Backtest benchmark (issue 7): our walk-forward engine vs a plain PyPortfolioOpt loop.

Case
----
N = 50 synthetic names (:mod:`_synthetic`), 504 + 2520 daily returns (two years of lookback,
then ten years simulated), monthly rebalancing on the first trading day of each month, a
Ledoit-Wolf covariance of the 504 daily returns strictly before the rebalance date and
capped minimum variance (cap 5 %, fully invested), trades at that day's close, weights
drifting with prices in between, zero costs and zero cash yield.

* ``portfolio``: :func:`portfolio.backtesting.engine.backtest` on a backtest config built in a
  temporary folder (base config with the synthetic universe, ``use_limits = "caps"``),
  the synthetic prices passed as ``market=`` -- the whole engine (one compiled
  ``PortfolioProblem`` re-solved per date, metrics, run manifest).
* ``PyPortfolioOpt``: a plain loop doing the same walk-forward, with a new
  ``CovarianceShrinkage(...).ledoit_wolf()`` + ``EfficientFrontier.min_volatility()`` at
  each rebalance.

Both run in this process on the same prices; the table gives the median and best of
``--repeats`` interleaved runs after one warm-up each, the largest weight difference at the
rebalance dates (vs each other and vs a Clarabel 1e-12 reference on scikit-learn's
Ledoit-Wolf), the largest relative variance gap to that reference and the relative
difference of the final portfolio values. ``--cli`` also times
``portfolio backtest config/backtests/ai_policy.toml --offline`` on the bundled data (a
subprocess, wall time including interpreter start-up and the output folder with plots).

Run from the project root::

    /work/venv/bin/python benchmarks/bench_backtest.py --repeats 3 --cli
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import synthetic_prices, synthetic_returns
from bench_optimizer import (
    OURS,
    PYPFOPT,
    Timing,
    annual_ledoit_wolf,
    compare,
    print_footer,
    pypfopt_min_variance,
    reference_min_variance,
    variance_gap,
)

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = "BENCH"  # equal-weight index of the synthetic names, the backtest's benchmark
STRATEGY = "min_variance"


@dataclass(frozen=True)
class Market:
    """Synthetic prices (dates x names, plus the benchmark column) and the walk-forward."""

    prices: pd.DataFrame
    tickers: list[str]
    lookback: int
    cap: float


def synthetic_market(
    n_assets: int = 50, years: int = 10, lookback: int = 504, cap: float = 0.05, seed: int = 4
) -> Market:
    """``lookback + 252 * years`` daily returns of ``n_assets`` names, as prices."""
    returns = synthetic_returns(n_assets, lookback + 252 * years, seed=seed)
    prices = synthetic_prices(returns)
    tickers = list(prices.columns)
    prices[BENCHMARK] = prices[tickers].mean(axis=1)
    return Market(prices, tickers, lookback, cap)


def rebalance_rows(dates: pd.DatetimeIndex, first: int) -> list[int]:
    """Row ``first`` (inception), then the first trading day of every later month."""
    months = dates.year * 12 + dates.month
    return [first] + [i for i in range(first + 1, len(dates)) if months[i] != months[i - 1]]


# --------------------------------------------------------------------------- ours


def backtest_config(market: Market, folder: Path):
    """A validated :class:`portfolio.backtesting.engine.BacktestConfig` for the synthetic market."""
    from portfolio.backtesting.spec import parse_backtest

    names = ", ".join(f'"{t}"' for t in market.tickers)
    base = folder / "synthetic.toml"
    base.write_text(
        f'[universe]\ntickers = [{names}]\nbenchmark = "{BENCHMARK}"\n\n'
        f"[limits]\nmax_weight = {market.cap}\ncash_floor = 0.0\n\n"
        f'[risk]\nmethod = "ledoit_wolf"\nlookback_days = {market.lookback}\nfactors = []\n',
        encoding="utf-8",
    )
    spec = {
        "base_config": str(base),
        "lookback_days": market.lookback,
        "min_history_days": market.lookback,
        "rebalance": "monthly",
        "initial_capital": 1_000_000.0,
        "cost_bps": 0.0,
        "min_fee": 0.0,
        "benchmarks": [BENCHMARK],
        "cash_yield": 0.0,
        "strategies": [
            {
                "name": STRATEGY,
                "kind": "min_variance",
                "covariance": "ledoit_wolf",
                "use_limits": "caps",
            }
        ],
    }
    return parse_backtest(spec, source="<bench_backtest>", base_dir=folder)


def ours_backtest(market: Market, config) -> tuple[pd.DataFrame, pd.Series]:
    """Run the engine; return the rebalance weights (dates x names) and the equity."""
    from portfolio.jobs.backtest import backtest

    result = backtest(config, market=market.prices)
    strategy = result.strategies[STRATEGY]
    return strategy.weights[market.tickers], strategy.equity


# --------------------------------------------------------------------------- peer


def pypfopt_backtest(market: Market, capital: float = 1_000_000.0):
    """The same walk-forward with PyPortfolioOpt, fully invested, zero costs."""
    prices = market.prices[market.tickers]
    close = prices.to_numpy()
    first = market.lookback + 1
    rebalance = set(rebalance_rows(prices.index, first))
    values, cash = np.zeros(len(market.tickers)), capital
    weights, equity = {}, np.empty(len(prices) - first)
    for i in range(first, len(prices)):
        if i > first:
            values = values * close[i] / close[i - 1]
        if i in rebalance:
            window = prices.iloc[i - market.lookback - 1 : i].pct_change().iloc[1:]
            w = pypfopt_min_variance(window, market.cap)
            total = values.sum() + cash
            values, cash = w * total, total - (w * total).sum()
            weights[prices.index[i]] = w
        equity[i - first] = values.sum() + cash
    frame = pd.DataFrame.from_dict(weights, orient="index", columns=market.tickers)
    return frame, pd.Series(equity, index=prices.index[first:])


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Outcome:
    """Timings and agreement of the two backtests."""

    timings: dict[str, Timing]
    dates: int
    max_dw_between: float
    max_dw_reference: dict[str, float]
    gap_reference: dict[str, float]
    final_value_gap: float
    cli_seconds: tuple[float, ...] = ()


def compare_backtests(market: Market, repeats: int) -> Outcome:
    """Time both backtests and compare them with each other and with a reference."""
    with tempfile.TemporaryDirectory() as folder:
        config = backtest_config(market, Path(folder))
        timings, results = compare(
            {
                OURS: lambda: ours_backtest(market, config),
                PYPFOPT: lambda: pypfopt_backtest(market),
            },
            repeats,
        )
    (ours_w, ours_eq), (peer_w, peer_eq) = results[OURS], results[PYPFOPT]
    if not ours_w.index.equals(peer_w.index):
        raise AssertionError("the two backtests rebalanced on different dates")
    prices = market.prices[market.tickers]
    max_dw, gaps = {OURS: 0.0, PYPFOPT: 0.0}, {OURS: -np.inf, PYPFOPT: -np.inf}
    for date in ours_w.index:
        i = prices.index.get_loc(date)
        window = prices.iloc[i - market.lookback - 1 : i].pct_change().iloc[1:]
        covariance = annual_ledoit_wolf(window)
        reference = reference_min_variance(covariance, market.cap)
        for name, frame in ((OURS, ours_w), (PYPFOPT, peer_w)):
            w = frame.loc[date].to_numpy()
            max_dw[name] = max(max_dw[name], float(np.abs(w - reference).max()))
            gaps[name] = max(gaps[name], variance_gap(w, reference, covariance))
    return Outcome(
        timings=timings,
        dates=len(ours_w),
        max_dw_between=float(np.abs(ours_w.to_numpy() - peer_w.to_numpy()).max()),
        max_dw_reference=max_dw,
        gap_reference=gaps,
        final_value_gap=float(ours_eq.iloc[-1] / peer_eq.iloc[-1] - 1.0),
    )


def time_cli(
    repeats: int, blas_threads: int = 0, config: str = "config/backtests/ai_policy.toml"
) -> list[float]:
    """Wall seconds of ``portfolio backtest CONFIG --offline`` (a subprocess per run)."""
    executable = Path(sys.executable).with_name("portfolio")
    env = dict(os.environ)
    if blas_threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(blas_threads)
    seconds = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            subprocess.run(
                [
                    str(executable),
                    "backtest",
                    config,
                    "--offline",
                    "--output-dir",
                    folder,
                    "--format",
                    "json",
                ],
                cwd=ROOT,
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            seconds.append(time.perf_counter() - started)
    return seconds


def markdown(outcome: Outcome, market: Market) -> str:
    """The outcome as a markdown table and notes."""
    ours = outcome.timings[OURS].median
    lines = [
        "| engine | median s | best s | peer/ours | max abs dw vs ref | objective gap |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, timing in outcome.timings.items():
        lines.append(
            f"| {name} | {timing.median:.3f} | {timing.best:.3f} "
            f"| {timing.median / ours:.2f} | {outcome.max_dw_reference[name]:.1e} "
            f"| {outcome.gap_reference[name]:.1e} |"
        )
    lines += [
        "",
        f"N = {len(market.tickers)}, {len(market.prices) - 1} daily returns, "
        f"{outcome.dates} monthly rebalances, lookback {market.lookback}, cap {market.cap}.",
        f"Largest weight difference portfolio vs PyPortfolioOpt: {outcome.max_dw_between:.1e}; "
        f"final value portfolio / PyPortfolioOpt - 1: {outcome.final_value_gap:.1e}.",
    ]
    if outcome.cli_seconds:
        runs = ", ".join(f"{s:.1f}" for s in outcome.cli_seconds)
        lines.append(
            "`portfolio backtest config/backtests/ai_policy.toml --offline` wall time: "
            f"{runs} s (median {np.median(outcome.cli_seconds):.1f} s)."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--cli", action="store_true", help="also time the bundled example")
    parser.add_argument("--cli-repeats", type=int, default=1)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS/LAPACK threads (threadpoolctl); 0 = library default",
    )
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore", category=UserWarning)
    started = time.perf_counter()
    market = synthetic_market(args.assets, args.years)
    with threadpool_limits(args.blas_threads) if args.blas_threads else nullcontext():
        outcome = compare_backtests(market, args.repeats)
    if args.cli:
        seconds = time_cli(args.cli_repeats, args.blas_threads)
        outcome = replace(outcome, cli_seconds=tuple(seconds))
    print(markdown(outcome, market))
    print_footer(args.blas_threads, started)


if __name__ == "__main__":
    main()
