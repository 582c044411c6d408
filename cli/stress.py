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
    default=None,
    metavar="NAME",
    help="One scenario (hub failure, a replay such as dotcom_bust, a custom name) or all "
         "(default).",
)
@click.option(
    "--given",
    multiple=True,
    metavar="TICKER=RETURN[,...]",
    help="Conditional stress: the move of every holding given these shocks, e.g. "
         "NVDA=-0.30,TSM=-0.20 (fractions; repeatable).",
)
@click.option(
    "--horizon",
    default=None,
    metavar="1m|1w|...",
    help="With --given: the time the shocks take (default 1m = 21 trading days).",
)
@click.option(
    "--reverse",
    type=float,
    default=None,
    metavar="LOSS",
    help="Reverse stress: the most likely move that loses this fraction, e.g. 0.20.",
)
@output_options
@global_options
def stress(holdings_path, scenario, given, horizon, reverse, fmt, output):
    """P&L of the holdings under a hub failure, historical replays and custom shocks.

    With --given, the conditional move of the other holdings; with --reverse, the most
    likely move that loses that much.
    """
    ctx = click.get_current_context()
    modes = [name for name, used in (("--scenario", scenario is not None),
                                     ("--given", bool(given)),
                                     ("--reverse", reverse is not None)) if used]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} cannot be combined: give one", ctx=ctx)
    if horizon is not None and not given:
        raise click.UsageError("--horizon applies to --given: give the shocks too", ctx=ctx)
    from portfolio.data.holdings import read_holdings

    config = load_config()
    holdings = read_holdings(holdings_file(holdings_path), known_tickers=config.tickers)
    if given:
        from portfolio.jobs.scenarios import DEFAULT_HORIZON, conditional_stress
        from portfolio.report.scenarios import conditional_stress_document

        result = conditional_stress(holdings, ",".join(given), config=config,
                                    horizon=horizon or DEFAULT_HORIZON, options=data_options())
        document = conditional_stress_document(result)
    elif reverse is not None:
        from portfolio.jobs.scenarios import reverse_stress
        from portfolio.report.scenarios import reverse_stress_document

        result = reverse_stress(holdings, reverse, config=config, options=data_options())
        document = reverse_stress_document(result)
    else:
        from portfolio.jobs.stress import stress_test
        from portfolio.report.stress import stress_report_document

        result = stress_test(holdings, config=config, scenario=scenario or "all",
                             options=data_options())
        document = stress_report_document(result)
    notice(result.notice)
    emit(document, fmt, output)
