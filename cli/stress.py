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
@click.option(
    "--holdings",
    "holdings_path",
    required=True,
    metavar="FILE",
    help="Holdings CSV (ticker,shares; CASH,<USD>), or `example`.",
)
@click.option(
    "--scenario",
    default="all",
    show_default=True,
    metavar="NAME",
    help="One scenario (hub failure, a replay such as covid_crash, a custom name) or all.",
)
@output_options
@global_options
def stress(holdings_path, scenario, fmt, output):
    """P&L of the holdings under a hub failure, historical replays and custom shocks."""
    from portfolio.data.holdings import read_holdings
    from portfolio.jobs.stress import stress_test
    from portfolio.report.stress import stress_report_document

    config = load_config()
    holdings = read_holdings(holdings_file(holdings_path), known_tickers=config.tickers)
    report = stress_test(holdings, config=config, scenario=scenario, options=data_options())
    notice(report.notice)
    emit(stress_report_document(report), fmt, output)
