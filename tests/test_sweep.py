"""Running sweeps in process: the engine's numbers, the results store, resume, failures, CLI.

The Dask runs (LocalCluster, an existing scheduler, a killed sweep) are in
``test_sweep_cluster.py``; these tests use ``in_process=True`` / ``--no-cluster``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run
from sweep_helpers import GRID, write_sweep
from threadpoolctl import threadpool_limits

import portfolio as pf
from portfolio.backtesting.engine import frame_hash
from portfolio.data.sweep_store import StoredVariant, SweepStore
from portfolio.errors import DataError, InputError
from portfolio.jobs.backtest import backtest_prices
from portfolio.sweeps.job import variant_keys

OFFLINE = pf.DataOptions(source="bundled", offline=True)


def _sweep(tmp_path: Path, sweep: str = GRID, **kwargs):
    path = write_sweep(tmp_path, sweep)
    return pf.sweep(path, output_dir=tmp_path / "out", options=OFFLINE, in_process=True,
                    **kwargs)


def test_every_variant_has_the_numbers_of_its_own_backtest(tmp_path):
    result = _sweep(tmp_path)
    assert [v.index for v in result.variants] == [1, 2, 3, 4]
    assert result.ran == 4 and result.skipped == 0 and not result.failed
    config = result.config
    frame = backtest_prices(config.market_tickers, config.end, 5, OFFLINE)
    for variant, stored in zip(config.variants, result.variants):
        with threadpool_limits(1):  # the sweep runs every variant on one BLAS thread
            plain = pf.backtest(variant.config, market=frame)
        assert stored.metrics == {name: m.as_dict() for name, m in plain.metrics.items()}
        assert stored.parameters == variant.parameters
    assert result.manifest["cluster"]["mode"] == "in-process"
    assert result.manifest["data"]["sha256"] == frame_hash(frame.prices)


def test_a_rerun_skips_the_stored_variants_and_a_longer_grid_runs_only_the_new_ones(tmp_path):
    first = _sweep(tmp_path)
    again = _sweep(tmp_path)
    assert again.ran == 0 and again.skipped == 4
    assert [v.run for v in again.variants] == [v.run for v in first.variants]
    assert [v.metrics for v in again.variants] == [v.metrics for v in first.variants]
    longer = _sweep(tmp_path, GRID.replace("[0.15, 0.25]", "[0.15, 0.25, 0.35]"))
    assert longer.ran == 2 and longer.skipped == 4
    new = {v.run for v in longer.variants[4:]}
    assert len(new) == 1 and new.isdisjoint({v.run for v in first.variants})
    assert [v.key for v in longer.variants[:4]] == [v.key for v in first.variants]


def test_failed_variants_are_recorded_and_the_others_finish(tmp_path):
    sweep = GRID.replace('"limits.max_weight" = [0.15, 0.25]',
                         '"limits.cash_floor" = [0.0, 0.9]').replace(
        'rebalance = ["monthly", "quarterly"]', "lookback_days = [126, 8000]")
    result = _sweep(tmp_path, sweep)
    status = {v.parameters: v.status for v in result.variants}
    assert status == {
        (("limits.cash_floor", 0.0), ("lookback_days", 126)): "ok",
        (("limits.cash_floor", 0.0), ("lookback_days", 8000)): "failed",
        (("limits.cash_floor", 0.9), ("lookback_days", 126)): "failed",
        (("limits.cash_floor", 0.9), ("lookback_days", 8000)): "failed",
    }
    infeasible = result.variants[2]
    assert "could not rebalance on any of its" in infeasible.error
    assert "group floors" in infeasible.error and "limits.cash_floor" in infeasible.error
    assert "lookback" in result.variants[1].error.lower()
    assert [row.variant.index for row in result.ranked()] == [1, 1]
    table = result.table()
    assert list(table["status"]) == ["ok", "ok", "failed", "failed", "failed"]
    assert table["error"].iloc[-1] == result.variants[3].error
    again = _sweep(tmp_path, sweep)  # a recorded failure is an answer: not run again
    assert again.ran == 0 and len(again.failed) == 3


def test_keys_follow_the_data_and_the_config(tmp_path):
    config = pf.load_sweep(write_sweep(tmp_path, GRID))
    keys = variant_keys(config, "a" * 64)
    assert len(set(keys)) == 4
    assert keys == variant_keys(pf.load_sweep(write_sweep(tmp_path / "b", GRID)), "a" * 64)
    assert set(keys).isdisjoint(variant_keys(config, "b" * 64))
    repeated = GRID.replace("[0.15, 0.25]", "[0.15, 0.15]")
    twice = pf.load_sweep(write_sweep(tmp_path / "c", repeated))
    assert len(set(variant_keys(twice, "a" * 64))) == 2  # identical variants share a key


def test_new_prices_mean_new_keys(tmp_path):
    first = _sweep(tmp_path)
    config = first.config
    frame = backtest_prices(config.market_tickers, config.end, 5, OFFLINE)
    same = pf.sweep(config, output_dir=tmp_path / "out", market=frame, in_process=True)
    assert same.ran == 0 and same.skipped == 4
    prices = frame.prices.copy()
    prices.loc["2025-03-03", "NVDA"] *= 1.01  # one price revised
    revised = pf.sweep(config, output_dir=tmp_path / "out", market=prices, in_process=True)
    assert revised.ran == 4 and revised.skipped == 0


def test_progress_counts_down_to_zero(tmp_path):
    seen = []
    _sweep(tmp_path, on_progress=seen.append)
    assert [(p.done, p.remaining) for p in seen] == [(0, 4), (1, 3), (2, 2), (3, 1), (4, 0)]
    assert all(p.total == 4 and p.failed == 0 for p in seen)
    assert seen[-1].per_minute > 0


def test_ranking_direction_ties_and_unknown_metrics(tmp_path):
    result = _sweep(tmp_path)
    sharpe = [row.metrics["sharpe"] for row in result.ranked("sharpe")]
    assert sharpe == sorted(sharpe, reverse=True) and len(sharpe) == 8
    drawdown = [row.metrics["max_drawdown"] for row in result.ranked("max_drawdown")]
    assert drawdown == sorted(drawdown)
    failures = result.ranked("failures")  # all zero: sweep order breaks the ties
    assert [row.variant.index for row in failures] == [1, 1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(InputError, match="unknown metric 'sharp'"):
        result.ranked("sharp")


def test_the_store_keeps_floats_bit_for_bit_and_refuses_other_files(tmp_path):
    values = {"a": 0.1 + 0.2, "b": 1e-300, "c": -0.0, "d": None, "e": 123456789.123456789}
    with SweepStore(tmp_path / "results.sqlite") as store:
        store.record(StoredVariant("k", "ok", metrics={"S": values}, notes=["n"]))
        read = store.read()["k"]
    assert read.metrics == {"S": values}
    assert math.copysign(1.0, read.metrics["S"]["c"]) == -1.0
    assert read.notes == ["n"] and read.error == ""
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE variants (key TEXT)")
    with pytest.raises(DataError, match="not a sweep results store"):
        SweepStore(other)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(DataError, match="not a sweep results store"):
        SweepStore(garbage)


def test_options_that_contradict_each_other_are_refused(tmp_path):
    path = write_sweep(tmp_path, GRID)
    for kwargs, word in [({"in_process": True, "scheduler": "tcp://127.0.0.1:1"}, "together"),
                         ({"in_process": True, "workers": 2}, "--workers 2"),
                         ({"scheduler": "tcp://127.0.0.1:1", "workers": 2}, "own workers"),
                         ({"workers": 0}, "worker count 0")]:
        with pytest.raises(InputError, match=word):
            pf.sweep(path, output_dir=tmp_path / "out", options=OFFLINE, **kwargs)
    assert not (tmp_path / "out").exists()


def test_scatter_gives_each_strategy_its_palette_colour(tmp_path):
    from matplotlib.colors import to_hex

    from portfolio.report.palette import strategy_colours
    from portfolio.report.sweep import scatter_figure

    result = _sweep(tmp_path)
    axis = scatter_figure(result, "sharpe").axes[0]
    colours = strategy_colours(result.config.strategies)
    drawn = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in axis.collections}
    assert drawn == {name: colours[name] for name in result.config.strategies}
    assert [t.get_text() for t in axis.get_legend().get_texts()] == list(
        result.config.strategies)


def test_no_cluster_overrides_the_files_scheduler(tmp_path):
    result = _sweep(tmp_path, GRID + '[sweep]\nscheduler = "tcp://127.0.0.1:1"\n')
    assert result.config.scheduler == "tcp://127.0.0.1:1"
    assert result.manifest["cluster"]["mode"] == "in-process" and result.ran == 4


def test_outputs_are_written_next_to_the_store(tmp_path):
    result = _sweep(tmp_path)
    files = pf.write_sweep_outputs(result, tmp_path / "out")
    names = sorted(p.name for p in files)
    assert names == ["heatmap_min_variance.png", "heatmap_policy.png", "manifest.json",
                     "report.md", "results.csv", "scatter.png"]
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(table) == 8 and list(table["rank"]) == list(range(1, 9))
    assert table["sharpe"].iloc[0] == pytest.approx(result.ranked()[0].metrics["sharpe"],
                                                    rel=1e-9)
    assert (tmp_path / "out" / "scatter.png").read_bytes().startswith(b"\x89PNG")
    assert "![scatter.png](scatter.png)" in (tmp_path / "out" / "report.md").read_text()
    assert (tmp_path / "out" / "results.sqlite").exists()


# --------------------------------------------------------------------------- CLI


def test_cli_prints_the_ranking_in_every_format(tmp_path, capsys):
    path = write_sweep(tmp_path, GRID)
    out = str(tmp_path / "out")
    code, stdout, stderr = run(capsys, "sweep", str(path), "--no-cluster", "--offline",
                               "--output-dir", out, "--format", "json")
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["rank_by"] == "sharpe" and len(data["ranking"]) == 8
    assert data["manifest"]["cluster"]["mode"] == "in-process"
    assert data["ranking"][0]["parameters"].keys() == {"limits.max_weight", "rebalance"}
    assert "Wrote 7 files" in stderr
    code, stdout, stderr = run(capsys, "sweep", str(path), "--no-cluster", "--offline",
                               "--output-dir", out, "--rank-by", "max_drawdown")
    assert code == 0 and "Ranking by max drawdown" in stdout and "Resumed: 4" in stderr
    code, stdout, _ = run(capsys, "--offline", "sweep", str(path), "--no-cluster",
                          "--output-dir", out, "--format", "markdown", "-q")
    assert code == 0 and stdout.startswith("# Sweep sweep.toml") and "| rank |" in stdout
    code, stdout, stderr = run(capsys, "sweep", str(path), "--no-cluster", "--offline",
                               "--output-dir", out, "--format", "csv", "--quiet")
    assert code == 0 and stderr == ""
    table = pd.read_csv(pd.io.common.StringIO(stdout))
    assert len(table) == 8 and table["sharpe"].is_monotonic_decreasing


@pytest.mark.parametrize(("args", "words"), [
    (("--no-cluster", "--scheduler", "tcp://127.0.0.1:1"), ("--scheduler", "together")),
    (("--no-cluster", "--workers", "2"), ("--workers 2",)),
    (("--rank-by", "sharp"), ("--rank-by",)),
])
def test_cli_option_errors_are_one_line(tmp_path, capsys, args, words):
    path = write_sweep(tmp_path, GRID)
    result = run(capsys, "sweep", str(path), "--offline", "--output-dir",
                 str(tmp_path / "out"), *args)
    assert_one_line_error(*result, *words)


def test_cli_config_error_names_file_key_and_line(tmp_path, capsys):
    path = write_sweep(tmp_path, GRID.replace("rebalance", "rebalence"))
    result = run(capsys, "sweep", str(path), "--offline", "--no-cluster")
    assert_one_line_error(*result, "sweep.toml", "grid.rebalence", "line 7", "rebalance")


def test_the_store_describes_each_variant_dates_included(tmp_path):
    sweep = 'backtest = "backtest.toml"\nstrategies = ["Policy"]\n[grid]\nend = [2025-05-30]\n'
    result = _sweep(tmp_path, sweep)
    with SweepStore(result.store) as store:
        row = store.read()[result.variants[0].key]
    assert row.parameters == {"end": "2025-05-30"} and row.status == "ok"
    assert row.run == result.manifest["run"]["id"] and row.worker == "in-process"
    assert set(row.metrics) == set(row.fingerprints) == {"Policy"}
