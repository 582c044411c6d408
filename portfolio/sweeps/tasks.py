"""One variant's work, the same wherever it runs: in-process, a local or a remote Dask worker.

:func:`run_task` builds the variant's strategies and runs the walk-forward engine on the
prices given (the sweep's one price frame, scattered once to every worker). BLAS runs on
one thread in every mode, so a variant gives the same floating-point result, bit for bit,
in the sweep's process, on a LocalCluster worker or on a remote one.

A variant *fails* when an error stops its backtest (not enough data for its lookback,
an unexpected internal error) or when one of its strategies could not make a single
rebalance decision (limits infeasible at every date: the path would be cash only). The
failure is returned as a failed result with the one-line error; it never raises, so
one variant cannot stop the sweep. Single failed dates inside an otherwise working
backtest are counted in the ``failures`` metric, as in a backtest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portfolio.backtesting.engine import frame_hash, simulate
from portfolio.backtesting.results import BacktestResult
from portfolio.backtesting.spec import BacktestConfig
from portfolio.data.prices import PriceFrame
from portfolio.data.sweep_store import StoredVariant
from portfolio.errors import PortfolioError
from portfolio.jobs.backtest import builtin_strategies

__all__ = ["Task", "run_task"]


@dataclass(frozen=True, eq=False)
class Task:
    """A variant to run.

    Attributes
    ----------
    key : str
        Results-store key (sha256 of the variant's config and the data).
    index : int
        The variant's position in the sweep (from 1).
    parameters : tuple of (str, value)
        The swept parameters' values (stored with the result).
    config : BacktestConfig
        The variant's validated backtest.
    exposures : Mapping
        Hub -> ticker -> look-through exposure for theme caps.
    """

    key: str
    index: int
    parameters: tuple[tuple[str, Any], ...]
    config: BacktestConfig
    exposures: Mapping[str, Mapping[str, float]]


def run_task(task: Task, frame: PriceFrame, worker: str = "in-process") -> StoredVariant:
    """Run one variant; return its metrics, or its error as a failed outcome.

    Parameters
    ----------
    task : Task
        The variant.
    frame : PriceFrame
        The sweep's prices (every variant's tickers, USD).
    worker : str
        Label of where it runs, stored with the result.

    Returns
    -------
    StoredVariant
        Plain values, cheap to send back from a worker: ``status`` ``"ok"`` with the
        metrics (:meth:`PerformanceMetrics.as_dict
        <portfolio.backtesting.results.PerformanceMetrics.as_dict>` by strategy), the
        paths' fingerprints and the engine's notes, or ``"failed"`` with the one-line
        error. ``run`` and ``finished_utc`` are set where it is stored.
    """
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    with threadpool_limits(1):
        try:
            result = simulate(task.config, frame,
                              builtin_strategies(task.config, exposures=task.exposures))
            error = _no_decision(result)
        except PortfolioError as failure:
            result, error = None, failure.message
        except Exception as failure:  # a bug in one variant must not stop the sweep
            result, error = None, f"internal error ({type(failure).__name__}): {failure}"
    seconds = time.perf_counter() - started
    parameters = dict(task.parameters)
    if result is None or error:
        return StoredVariant(task.key, "failed", parameters, error=error, seconds=seconds,
                             worker=worker)
    return StoredVariant(
        task.key, "ok", parameters,
        metrics={name: s.metrics.as_dict() for name, s in result.strategies.items()},
        fingerprints={name: _fingerprint(s) for name, s in result.strategies.items()},
        notes=list(result.notes), seconds=seconds, worker=worker,
    )


def _no_decision(result: BacktestResult) -> str:
    """The error of the first strategy that never rebalanced, or ""."""
    for name, strategy in result.strategies.items():
        if strategy.weights.empty and strategy.failures:
            first = strategy.failures[0]
            return (f"strategy {name!r} could not rebalance on any of its "
                    f"{len(strategy.failures)} dates; on {first.date.date()}: {first.error}")
    return ""


def _fingerprint(strategy: Any) -> str:
    """sha256 of a strategy's equity curve, daily weights and trades (values and labels)."""
    digest = hashlib.sha256()
    for table in (strategy.equity.to_frame(), strategy.daily_weights, strategy.trades):
        digest.update(frame_hash(table).encode("ascii"))
    return digest.hexdigest()
