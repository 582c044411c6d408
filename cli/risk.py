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
)


@click.command()
@click.option("--holdings", "holdings_path", type=click.Path(dir_okay=False), default=None,
              help="Holdings CSV (ticker,shares; a CASH row holds USD), or `example`.")
@click.option("--weights", "weights_path", type=click.Path(dir_okay=False), default=None,
              help="Weights CSV (ticker,weight) instead of holdings.")
@click.option("--horizon", default=None, metavar="1m|1y|...",
              help="Add the Monte Carlo loss distribution over this horizon (d, w, m = 21 "
                   "trading days, y = 252).")
@click.option("--paths", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True,
              help="Monte Carlo paths (with --horizon).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Monte Carlo seed: the same seed gives the same numbers.")
@click.option("--drift", type=click.Choice(["zero", "sample"]), default="zero", show_default=True,
              help="zero: demean the history first; sample: keep its mean return.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, callback=check_png_file,
              metavar="PATH.png", help="With --horizon: draw the loss distribution to this PNG.")
@output_options
@global_options
def risk(holdings_path, weights_path, horizon, paths, seed, drift, plot, fmt, output):
    """Risk report: volatility, VaR/CVaR and its backtest, drawdown, contributions, limits.

    With --horizon, the Monte Carlo loss distribution of today's weights over that horizon.
    """
    ctx = click.get_current_context()
    if (holdings_path is None) == (weights_path is None):
        raise click.UsageError("give exactly one of --holdings FILE or --weights FILE", ctx=ctx)
    if plot and horizon is None:
        raise click.UsageError("--plot draws the loss distribution: give --horizon too", ctx=ctx)
    from portfolio.data.holdings import read_holdings, read_target_weights
    from portfolio.data.output import write_atomic
    from portfolio.jobs.risk import risk_report
    from portfolio.report.risk import risk_report_document
    from portfolio.report.tails import loss_distribution_png

    config = load_config()
    if holdings_path is not None:
        portfolio = read_holdings(holdings_file(holdings_path), known_tickers=config.tickers)
    else:
        portfolio = read_target_weights(weights_path, known_tickers=config.tickers)
    report = risk_report(portfolio, config=config, options=data_options(), horizon=horizon,
                         paths=paths, seed=seed, drift=drift)
    notice(report.notice)
    if plot:
        write_atomic(plot, loss_distribution_png(report.loss_distribution))
        notice(f"Wrote {plot}")
    graph = None
    if fmt == "html":  # the deal graph is drawn only in the HTML page
        from portfolio.config import load_ecosystem

        graph = load_ecosystem(config.ecosystem.file)
    emit(risk_report_document(report, graph), fmt, output)
