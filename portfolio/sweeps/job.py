"""Run a sweep: ``portfolio sweep SWEEP.toml`` and :func:`portfolio.sweep`.

The steps: validate every variant (:func:`portfolio.sweeps.spec.load_sweep`); load the
prices every variant needs, once; key each variant by the sha256 of the package version,
the data and the variant's full config; open the results store in the output folder and
leave out the keys it holds (a re-run resumes an interrupted sweep, or adds only new
variants); run the rest in process or on Dask, storing each outcome as it arrives; read
the whole sweep back from the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from portfolio.backtesting.engine import frame_hash, package_versions
from portfolio.data.prices import PriceFrame
from portfolio.data.sweep_store import RESULTS_FILE_NAME, StoredVariant, SweepStore
from portfolio.errors import InputError
from portfolio.jobs.backtest import backtest_prices
from portfolio.jobs.market import DataOptions, MarketData
from portfolio.sweeps.cluster import ClusterInfo, run_in_process
from portfolio.sweeps.results import SweepProgress, SweepResult, VariantResult
from portfolio.sweeps.spec import SweepConfig, load_sweep
from portfolio.sweeps.tasks import Task

__all__ = ["sweep", "variant_keys"]


def sweep(
    sweep_or_path: SweepConfig | str | Path,
    *,
    output_dir: str | Path,
    options: DataOptions | None = None,
    market: MarketData | PriceFrame | pd.DataFrame | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    in_process: bool = False,
    connect_timeout: float = 10.0,
    on_progress: Callable[[SweepProgress], None] | None = None,
) -> SweepResult:
    """Run every variant of a sweep as a walk-forward backtest, resuming what is stored.

    Parameters
    ----------
    sweep_or_path : SweepConfig or path
        A validated sweep or the path of a sweep TOML file.
    output_dir : str or Path
        Folder of the results store (``results.sqlite``); created if missing. Variants
        already stored there under the same key are not run again.
    options : DataOptions, optional
        Price source (default auto); ``as_of`` caps the end.
    market : MarketData, PriceFrame or DataFrame, optional
        Prices already loaded (must hold every variant's tickers).
    workers : int, optional
        Worker processes of the embedded LocalCluster (default: the cores available).
    scheduler : str, optional
        Address of an existing Dask scheduler (default: ``[sweep] scheduler`` of the
        file unless ``in_process`` or ``workers`` is given, else the embedded cluster).
    in_process : bool
        Run every variant in this process, one after the other, without Dask.
    connect_timeout : float
        Seconds allowed to reach a scheduler and to see its first worker.
    on_progress : callable, optional
        Called with a :class:`SweepProgress` before the first and after every variant.

    Returns
    -------
    SweepResult
        Every variant of the sweep (this run's and those stored before), in sweep order.

    Raises
    ------
    ConfigError
        An invalid sweep file or variant (nothing runs).
    InputError
        Conflicting options, an unreachable scheduler, workers without this package.
    DataError
        Missing prices, an unusable results store, a cluster lost mid-way (what finished
        is stored).
    """
    started = time.perf_counter()
    config = (sweep_or_path if isinstance(sweep_or_path, SweepConfig)
              else load_sweep(sweep_or_path))
    if scheduler is None and not in_process and workers is None:
        scheduler = config.scheduler  # --no-cluster and --workers run on this machine
    _check_mode(in_process, scheduler, workers)
    options = options or DataOptions()
    base = config.variants[0].config.base
    frame = backtest_prices(config.market_tickers, config.end, base.data.max_fill_days, options,
                            market, timeout=options.timeout_for(base))
    if scheduler and not in_process:  # before anything is written
        from portfolio.sweeps.cluster import check_scheduler  # imports dask

        check_scheduler(scheduler, connect_timeout)
    data_sha = frame_hash(frame.prices)
    keys = variant_keys(config, data_sha)
    with SweepStore(Path(output_dir) / RESULTS_FILE_NAME) as store:
        stored = store.keys()
        tasks = _tasks(config, keys, stored)
        skipped = len(dict.fromkeys(keys)) - len(tasks)
        counter = _Counter(store, len(tasks), skipped, on_progress)
        info = _execute(tasks, frame, counter.record, in_process, scheduler, workers,
                        connect_timeout)
        rows = store.read(keys)
    variants = tuple(_variant(v.index, v.parameters, rows[key])
                     for v, key in zip(config.variants, keys) if key in rows)
    manifest = _manifest(config, frame, data_sha, info, counter, started)
    return SweepResult(config=config, variants=variants, ran=counter.finished,
                       skipped=skipped, store=Path(output_dir) / RESULTS_FILE_NAME,
                       data_notice=frame.notice, manifest=manifest)


def variant_keys(config: SweepConfig, data_sha: str) -> list[str]:
    """Results-store key of each variant: sha256 of version, data and the variant's config."""
    from portfolio import __version__

    return [hashlib.sha256(f"{__version__}\n{data_sha}\n{v.fingerprint}".encode())
            .hexdigest() for v in config.variants]


def _check_mode(in_process: bool, scheduler: str | None, workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise InputError(f"invalid worker count {workers}", "--workers",
                         "a cluster needs at least one worker", "use --workers 1 or more")
    if in_process and scheduler:
        raise InputError("--no-cluster and --scheduler together", "sweep",
                         "in-process runs use no cluster", "drop one of them")
    if in_process and workers not in (None, 1):
        raise InputError(f"--no-cluster with --workers {workers}", "sweep",
                         "an in-process run is serial", "drop --workers or --no-cluster")
    if scheduler and workers is not None:
        raise InputError(f"--workers {workers} with a scheduler", "sweep",
                         "an existing cluster has its own workers",
                         "start more with `dask worker`, or drop --workers")


def _tasks(config: SweepConfig, keys: Sequence[str], stored: set[str]) -> list[Task]:
    """One task per distinct key not in the store, in sweep order."""
    tasks: dict[str, Task] = {}
    for variant, key in zip(config.variants, keys):
        if key not in stored and key not in tasks:
            tasks[key] = Task(key, variant.index, variant.parameters, variant.config,
                              variant.exposures)
    return list(tasks.values())


class _Counter:
    """Stores each outcome as it arrives and reports progress."""

    def __init__(self, store: SweepStore, total: int, skipped: int,
                 on_progress: Callable[[SweepProgress], None] | None) -> None:
        self.store, self.total, self.skipped = store, total, skipped
        self.on_progress = on_progress
        self.run = uuid.uuid4().hex[:12]
        self.done = self.failed = 0
        self.started = time.perf_counter()
        self._report()

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def record(self, outcome: StoredVariant) -> None:
        self.store.record(replace(
            outcome, run=self.run,
            finished_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        if outcome.status == "ok":
            self.done += 1
        else:
            self.failed += 1
        self._report()

    def per_minute(self) -> float:
        minutes = (time.perf_counter() - self.started) / 60.0
        return self.finished / minutes if minutes > 0 else 0.0

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(SweepProgress(self.done, self.failed, self.total - self.finished,
                                           self.skipped, self.per_minute()))


def _execute(tasks: Sequence[Task], frame: PriceFrame, record: Callable[[StoredVariant], None],
             in_process: bool, scheduler: str | None, workers: int | None,
             timeout: float) -> ClusterInfo:
    if in_process:
        return run_in_process(tasks, frame, record)
    if not tasks:
        return ClusterInfo("none (every variant was stored)")
    from portfolio.sweeps.cluster import run_on_dask  # imports dask

    if scheduler is None and workers is None:
        from portfolio.sweeps.cluster import default_workers

        workers = min(default_workers(), len(tasks))
    return run_on_dask(tasks, frame, record, scheduler=scheduler, workers=workers,
                       connect_timeout=timeout)


def _variant(index: int, parameters: tuple[tuple[str, Any], ...],
             row: StoredVariant) -> VariantResult:
    return VariantResult(
        index=index, key=row.key, parameters=parameters, status=row.status,
        metrics=row.metrics, fingerprints=row.fingerprints, notes=tuple(row.notes),
        error=row.error, seconds=row.seconds, worker=row.worker, run=row.run,
    )


def _manifest(config: SweepConfig, frame: PriceFrame, data_sha: str, info: ClusterInfo,
              counter: _Counter, started: float) -> dict[str, Any]:
    """Run manifest: sweep, data, versions, where it ran, counts and timing."""
    prices = frame.prices
    extra = ("dask", "distributed") if info.dask_version else ()
    return {
        "sweep": {"source": config.source, "sha256": config.config_hash,
                  "backtest": config.backtest_source, "mode": config.mode,
                  "variants": len(config.variants), "parameters": list(config.parameters),
                  "strategies": list(config.strategies)},
        "data": {"source": frame.source, "notice": frame.notice, "sha256": data_sha,
                 "first_date": prices.index[0].date().isoformat(),
                 "last_date": prices.index[-1].date().isoformat(),
                 "tickers": list(prices.columns)},
        "versions": package_versions(*extra),
        "cluster": {"mode": info.mode, "scheduler": info.scheduler, "workers": info.workers,
                    "threads_per_worker": info.threads_per_worker,
                    "dask_version": info.dask_version or None},
        "run": {"id": counter.run, "ran": counter.finished, "failed": counter.failed,
                "skipped": counter.skipped,
                "variants_per_minute": round(counter.per_minute(), 2)},
        "runtime_seconds": round(time.perf_counter() - started, 3),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
