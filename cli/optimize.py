import click

from ._common import (
    LazyChoice,
    data_options,
    emit,
    global_options,
    load_config,
    notice,
    output_options,
    tickers_option,
)


def _objective_names():
    from portfolio.optimization.objectives import OBJECTIVES

    return tuple(OBJECTIVES)


@click.command()
@click.option("--capital", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="USD", help="Portfolio value: the explanation shows each amount.")
@click.option("--objective", type=LazyChoice(_objective_names), default=None,
              help="Objective (default: optimizer.objective of the config).")
@tickers_option
@output_options
@global_options
def optimize(capital, objective, tickers, fmt, output):
    """Propose an allocation that respects every limit of the config."""
    from portfolio.jobs.optimize import optimize_from_config
    from portfolio.report.optimize import optimization_report

    run = optimize_from_config(load_config(tickers), data_options(), objective=objective,
                               capital=capital)
    notice(run.notice)
    for warning in run.implausible:
        notice(f"Warning: {warning}")
    emit(optimization_report(run), fmt, output)
