from pathlib import Path

import click

from ._common import (
    FORMATS,
    check_output_dir,
    data_options,
    emit,
    global_options,
    notice,
    progress,
    settings,
    table_option,
    tickers_option,
)

CHART_MODULES = ("matplotlib.figure", "matplotlib.backends.backend_agg",
                 "portfolio.report.backtest")
"""What the workers import once the estimates are done: the charts then start at once."""


@click.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--output-dir", type=click.Path(file_okay=False), default=None,
              callback=check_output_dir,
              help="Folder for metrics, CSVs, plots, report.md, report.html and manifest.json "
                   "(default ./backtest-output/<config name>).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Format of the metrics printed on stdout.")
@click.option("--html/--no-html", "with_html", default=True, show_default=True,
              help="Write report.html, the interactive tearsheet (self-contained, a few MB).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes that estimate the next dates and draw the charts "
                   "while this one solves and writes (default: the cores, at most 2; "
                   "0: all in this process). The results are the same.")
@table_option
@tickers_option
@global_options
def backtest(config_file, output_dir, fmt, with_html, workers, tickers):
    """Run the walk-forward backtest described by CONFIG (a config/backtests/*.toml file).

    The universe, groups and limits come from the file's base_config (not --config).
    Prices strictly before each rebalance date drive the strategy; trades execute at that
    day's close. Writes the output folder and prints the metrics table.
    """
    from portfolio.backtesting.spec import backtest_with_tickers, load_backtest
    from portfolio.jobs.backtest import backtest as run_backtest
    from portfolio.jobs.workers import default_workers, worker_processes
    from portfolio.report.backtest import (
        backtest_report,
        backtest_tearsheet,
        write_backtest_outputs,
    )

    if settings().config_path:
        notice("Note: --config is not used by backtest; set base_config in the backtest file.")
    config = load_backtest(config_file)
    if tickers is not None:
        config, notes = backtest_with_tickers(config, tickers)
        settings().notes.extend(f"Note: {note}" for note in notes)
    folder = Path(output_dir) if output_dir else Path("backtest-output") / Path(config_file).stem
    with worker_processes(default_workers() if workers is None else workers,
                          warm=CHART_MODULES) as pool:
        with progress("Backtest") as update:
            result = run_backtest(config, options=data_options(spinner=False),
                                  on_progress=update, workers=pool)
        notice(result.data_notice)
        for warning in result.warnings:
            notice(f"Warning: {warning}")
        if result.hindsight:
            notice(f"Note: {result.hindsight}")
        for note in result.notes:
            notice(f"Note: {note}")
        files = write_backtest_outputs(result, folder, html=with_html, executor=pool)
    # --format html prints the tearsheet, the same page as report.html (with the file list)
    report = (backtest_tearsheet if fmt == "html" else backtest_report)(result, files)
    emit(report, fmt, None)
    notice(f"Wrote {len(files)} files to {folder}")
