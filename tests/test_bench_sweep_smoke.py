"""Smoke test of the sweep benchmark at toy size (no timing asserted, no Dask in process)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_sweep

ROOT = Path(__file__).resolve().parents[1]


def test_the_sweep_benchmark_runs_and_reports_the_overhead():
    runs, count = bench_sweep.bench(["in-process", "in-process"], limit=2,
                                    sweep=ROOT / "config" / "sweeps" / "policy_small.toml")
    assert count == 2 and [run.variants for run in runs] == [2, 2]
    assert runs[0].identical is None and runs[1].identical is True  # same bits on a re-run
    assert all(run.per_minute > 0 and run.median_variant > 0 for run in runs)
    dask = bench_sweep.Run("dask-1", 2, runs[0].wall + 1.5, runs[0].median_variant, True)
    text = bench_sweep.markdown([runs[0], dask], lifecycle=1.0)
    assert "| in-process | 2 |" in text and "| dask-1 | 2 |" in text
    assert "Dask overhead per variant" in text and "250 ms" in text
