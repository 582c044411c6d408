"""Sweep benchmark (issue 15): variants per minute in process and on Dask, and Dask's overhead.

Case
----
The article-policy sweep ``config/sweeps/article_policy.toml`` (90 walk-forward backtests
of the article's policy, 2019-01 .. 2026-07, bundled prices), each mode into a fresh
output folder so nothing is skipped:

* ``in-process``: ``pf.sweep(..., in_process=True)``, one variant after the other;
* ``dask-1``, ``dask-2``: the embedded LocalCluster with 1 and 2 worker processes (one
  thread each), the default way ``portfolio sweep`` runs.

Reported per mode: wall time of the ``pf.sweep`` call (cluster start and stop included),
variants per minute, the median seconds a variant took on its worker, and whether every
variant's stored metrics and path fingerprints equal the in-process run's bit for bit.
Dask's overhead per variant is ``(wall(dask-1) - wall(in-process) - lifecycle) / N``,
where ``lifecycle`` is the time to start and stop an empty LocalCluster of one worker
(measured separately); the lifecycle itself is reported too.

Run from the project root::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "config" / "sweeps" / "article_policy.toml"


@dataclass(frozen=True)
class Run:
    """One mode's timing."""

    mode: str
    variants: int
    wall: float
    median_variant: float
    identical: bool | None
    compute: float = 0.0  # sum of the variants' seconds on their workers

    @property
    def per_minute(self) -> float:
        return 60.0 * self.variants / self.wall


def run_mode(config, mode: str, folder: Path):
    """Run the sweep in ``mode`` (``in-process`` or ``dask-<workers>``); return result, wall."""
    import portfolio as pf

    options = pf.DataOptions(source="bundled", offline=True)
    kwargs = ({"in_process": True} if mode == "in-process"
              else {"workers": int(mode.split("-")[1])})
    started = time.perf_counter()
    result = pf.sweep(config, output_dir=folder, options=options, **kwargs)
    return result, time.perf_counter() - started


def cluster_lifecycle(repeats: int = 2) -> float:
    """Median seconds to start and stop an empty embedded LocalCluster of one worker."""
    import logging

    import distributed

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None,
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster, set_as_default=False) as client:
            client.submit(sum, [1, 2]).result()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _bits(result) -> dict:
    return {v.key: (v.metrics, v.fingerprints) for v in result.variants}


def bench(modes: Sequence[str], limit: int | None = None, sweep: Path = SWEEP
          ) -> tuple[list[Run], int]:
    """Run every mode on a fresh folder; the first mode is the reference for bit equality."""
    import portfolio as pf

    config = pf.load_sweep(sweep)
    if limit:
        config = replace(config, variants=config.variants[:limit])
    runs, reference = [], None
    for mode in modes:
        with tempfile.TemporaryDirectory() as folder:
            result, wall = run_mode(config, mode, Path(folder))
        bits = _bits(result)
        identical = None if reference is None else bits == reference
        reference = reference if reference is not None else bits
        seconds = [v.seconds for v in result.variants]
        runs.append(Run(mode, len(result.variants), wall, statistics.median(seconds),
                        identical, sum(seconds)))
    return runs, len(config.variants)


def markdown(runs: Sequence[Run], lifecycle: float | None) -> str:
    """The runs as a markdown table, with Dask's overhead per variant."""
    lines = ["| mode | variants | wall s | variants/min | median s per variant | "
             "sum of variant s | identical to in-process |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for run in runs:
        same = "reference" if run.identical is None else ("yes" if run.identical else "NO")
        lines.append(f"| {run.mode} | {run.variants} | {run.wall:.1f} | "
                     f"{run.per_minute:.1f} | {run.median_variant:.3f} | {run.compute:.1f} | "
                     f"{same} |")
    by_mode = {run.mode: run for run in runs}
    if lifecycle is not None and {"in-process", "dask-1"} <= by_mode.keys():
        serial, dask = by_mode["in-process"], by_mode["dask-1"]
        overhead = (dask.wall - serial.wall - lifecycle) / dask.variants
        scheduling = ((dask.wall - lifecycle - dask.compute)
                      - (serial.wall - serial.compute)) / dask.variants
        lines += ["", f"Embedded LocalCluster (1 worker) start + stop: {lifecycle:.1f} s. "
                      f"Dask overhead per variant (dask-1 vs in-process, lifecycle "
                      f"excluded): {1000 * overhead:.0f} ms of wall time "
                      f"({100 * overhead / (serial.wall / serial.variants):.1f} % of an "
                      f"in-process variant); of which outside the variants' own compute "
                      f"(scheduling, transfer, storing): {1000 * scheduling:.0f} ms."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="in-process,dask-1,dask-2")
    parser.add_argument("--limit", type=int, default=None, help="first N variants only")
    parser.add_argument("--sweep", type=Path, default=SWEEP)
    args = parser.parse_args(argv)
    import os
    import platform
    from importlib import metadata

    started = time.perf_counter()
    modes = args.modes.split(",")
    runs, count = bench(modes, args.limit, args.sweep)
    lifecycle = cluster_lifecycle() if any(m.startswith("dask") for m in modes) else None
    print(markdown(runs, lifecycle))
    versions = ", ".join(f"{name} {metadata.version(name)}"
                         for name in ("dask", "distributed", "numpy", "pandas"))
    print(f"\n{count} variants of {args.sweep.name}; python {platform.python_version()}, "
          f"{versions}; cpus {os.cpu_count()}; OPENBLAS_NUM_THREADS "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; load average at the end "
          f"{os.getloadavg()[0]:.1f}; total {time.perf_counter() - started:.0f} s.",
          file=sys.stdout)


if __name__ == "__main__":
    main()
