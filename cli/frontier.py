import click

from ._common import (
    check_png_file,
    data_options,
    emit,
    global_options,
    holdings_file,
    load_config,
    notice,
    output_options,
    tickers_option,
)


@click.command()
@click.option("--points", type=click.IntRange(2, 500), default=None,
              help="Number of points (default: optimizer.frontier_points of the config).")
@click.option("--holdings", type=click.Path(dir_okay=False), default=None,
              help="Holdings CSV (ticker,shares; CASH,<USD>), or `example`, to mark on the "
                   "frontier.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, callback=check_png_file,
              metavar="PATH.png", help="Also draw the frontier to this PNG file.")
@tickers_option
@output_options
@global_options
def frontier(points, holdings, plot, tickers, fmt, output):
    """Minimum-variance portfolios from least risk to most return, under the config's limits."""
    from portfolio.data.holdings import read_holdings
    from portfolio.data.output import write_atomic
    from portfolio.jobs.frontier import frontier_from_config
    from portfolio.report.frontier import frontier_png, frontier_report

    config = load_config(tickers)
    held = None
    if holdings:
        held = read_holdings(holdings_file(holdings), known_tickers=config.tickers)
    run = frontier_from_config(config, data_options(), points=points, holdings=held)
    notice(run.notice)
    for warning in run.implausible:
        notice(f"Warning: {warning}")
    if plot:
        write_atomic(plot, frontier_png(run))
        notice(f"Wrote {plot}")
    emit(frontier_report(run), fmt, output)
