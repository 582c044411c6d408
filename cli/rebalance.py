from dataclasses import replace

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

LIMIT_BREACH_EXIT = 3


@click.command()
@click.option("--holdings", "holdings_path", type=click.Path(dir_okay=False), required=True,
              help="Holdings CSV (ticker,shares; a CASH row holds USD), or `example`.")
@click.option("--target", "target_path", type=click.Path(dir_okay=False), default=None,
              help="Target weights CSV (ticker,weight); default: the config's optimizer.")
@click.option("--fractional", is_flag=True, default=False,
              help="Fractional-share orders instead of whole shares.")
@click.option("--mode", type=click.Choice(["target", "minimal"]), default=None,
              help="target: trade to the target; minimal: the least turnover that brings "
                   "every limit back, reinvested toward the target (default: [trading] mode).")
@click.option("--max-turnover", type=click.FloatRange(0, 1), default=None,
              help="Largest one-way turnover, a fraction of the value (0.25 = 25 %); "
                   "overrides limits.max_turnover.")
@click.option("--check", is_flag=True, default=False,
              help="No orders: check the holdings against the limits; exit 3 on a breach.")
@output_options
@global_options
def rebalance(holdings_path, target_path, fractional, mode, max_turnover, check, fmt, output):
    """Orders from current holdings to a target, with costs and risk before and after.

    With --mode minimal, the smallest trade that restores every limit instead of the
    full move to the target.  With --check, only the limit table of the current
    holdings: exit 0 when every limit holds, 3 when any is breached (for a scheduled job).
    """
    if check and (target_path is not None or fractional or mode or max_turnover is not None):
        raise click.UsageError("--check takes no --target, --fractional, --mode or "
                               "--max-turnover", ctx=click.get_current_context())
    from portfolio.data.holdings import read_holdings, read_target_weights
    from portfolio.jobs.rebalance import drift_check
    from portfolio.jobs.rebalance import rebalance as rebalance_job
    from portfolio.report.rebalance import drift_report, rebalance_report

    config = load_config()
    if max_turnover is not None:
        config = replace(config, limits=replace(config.limits, max_turnover=max_turnover))
    holdings = read_holdings(holdings_file(holdings_path), known_tickers=config.tickers)
    if check:
        result = drift_check(holdings, config=config, options=data_options())
        notice(result.notice)
        emit(drift_report(result), fmt, output)
        if result.breaches:
            click.get_current_context().exit(LIMIT_BREACH_EXIT)
        return
    target = None
    if target_path is not None:
        target = read_target_weights(target_path, known_tickers=config.tickers)
    run = rebalance_job(holdings, config=config, target=target, options=data_options(),
                        fractional=fractional, target_source=target_path, mode=mode)
    notice(run.notice)
    emit(rebalance_report(run), fmt, output)
