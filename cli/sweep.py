import sys
from contextlib import contextmanager
from pathlib import Path

import click

from ._common import (
    TABLE_KEY,
    LazyChoice,
    check_output_dir,
    data_options,
    echo,
    emit,
    global_options,
    notice,
    output_options,
    settings,
)


def _metrics() -> tuple[str, ...]:
    from portfolio.sweeps.spec import METRICS

    return tuple(METRICS)


@click.command()
@click.argument("sweep_file", metavar="SWEEP", type=click.Path(dir_okay=False))
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the embedded Dask cluster (default: the cores).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                   "(default: [sweep] scheduler of the file, else an embedded cluster).")
@click.option("--no-cluster", is_flag=True, default=False,
              help="Run every variant in this process, one after the other (debugging).")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None,
              callback=check_output_dir,
              help="Folder for results.sqlite, results.csv, plots, report.md and "
                   "manifest.json (default ./sweep-output/<sweep name>).")
@click.option("--rank-by", type=LazyChoice(_metrics), default=None,
              help="Metric the table is ranked by (default: the file's, else sharpe).")
@output_options
@global_options
def sweep(sweep_file, workers, scheduler, no_cluster, output_dir, rank_by, fmt, output):
    """Run every variant of SWEEP (a config/sweeps/*.toml file) as a walk-forward backtest.

    Variants run on an embedded Dask cluster (one worker process per core, bound to
    127.0.0.1), on an existing cluster with --scheduler, or in this process with
    --no-cluster. Each finished variant is stored at once in OUTPUT-DIR/results.sqlite;
    running the same sweep again skips what is stored, so an interrupted sweep resumes.
    Prints the variants ranked by a metric and writes results.csv and the plots.
    """
    from portfolio.report.sweep import results_csv, sweep_report, write_sweep_outputs
    from portfolio.sweeps import load_sweep
    from portfolio.sweeps import sweep as run_sweep

    if settings().config_path:
        notice("Note: --config is not used by sweep; the backtest file names its base_config.")
    config = load_sweep(sweep_file)
    folder = Path(output_dir) if output_dir else Path("sweep-output") / Path(sweep_file).stem
    with _progress() as update:
        result = run_sweep(config, output_dir=folder, options=data_options(), workers=workers,
                           scheduler=scheduler, in_process=no_cluster, on_progress=update)
    notice(result.data_notice)
    for note, count in result.notes.items():
        notice(f"Note ({count} of {len(result.variants)} variants): {note}")
    if result.skipped:
        notice(f"Resumed: {result.skipped} variant(s) were already in "
               f"{result.store}; {result.ran} ran now.")
    if result.failed:
        notice(f"{len(result.failed)} variant(s) failed; their errors are in the table and "
               "results.csv.")
    files = [result.store, *write_sweep_outputs(result, folder, rank_by)]
    if fmt == "csv" and click.get_current_context().meta.get(TABLE_KEY) is None:
        # raw numbers, one row per variant and strategy (as results.csv)
        _emit_text(results_csv(result, rank_by), output)
    else:
        emit(sweep_report(result, rank_by, files), fmt, output)
    notice(f"Wrote {len(files)} files to {folder}")


def _emit_text(text, output):
    from portfolio.data.output import write_atomic

    if output:
        write_atomic(output, text)
        notice(f"Wrote {output}")
    else:
        echo(text, nl=False)


@contextmanager
def _progress():
    """Yield ``update(SweepProgress)``: a bar with done / failed / left and variants per minute.

    Only on a terminal and without --quiet.
    """
    if settings().quiet or not sys.stderr.isatty():
        yield lambda progress: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    with Progress("Sweep", BarColumn(), "{task.fields[status]}", TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("Sweep", total=None, status="starting")

        def update(progress) -> None:
            finished = progress.done + progress.failed
            status = (f"done {progress.done} · failed {progress.failed} · left "
                      f"{progress.remaining}"
                      + (f" · {progress.skipped} stored before" if progress.skipped else "")
                      + f" · {progress.per_minute:.1f}/min")
            bar.update(task, completed=finished, total=progress.total, status=status)

        yield update
