import click

from ._common import (
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
@output_options
@global_options
def risk(holdings_path, weights_path, fmt, output):
    """Risk report: volatility, VaR/CVaR, drawdown, risk contributions, limits, exposure."""
    if (holdings_path is None) == (weights_path is None):
        raise click.UsageError("give exactly one of --holdings FILE or --weights FILE",
                               ctx=click.get_current_context())
    from portfolio.data.holdings import read_holdings, read_target_weights
    from portfolio.jobs.risk import risk_report
    from portfolio.report.risk import risk_report_document

    config = load_config()
    if holdings_path is not None:
        portfolio = read_holdings(holdings_file(holdings_path), known_tickers=config.tickers)
    else:
        portfolio = read_target_weights(weights_path, known_tickers=config.tickers)
    report = risk_report(portfolio, config=config, options=data_options())
    notice(report.notice)
    emit(risk_report_document(report), fmt, output)
