import click

from cli._common import data_options, emit, global_options, load_config, notice, output_options

OBJECTIVE_NAMES = ("min_variance", "max_sharpe", "utility", "risk_parity",
                   "max_diversification", "min_cvar", "min_tracking_error")


@click.command()
@click.option("--objective", type=click.Choice(OBJECTIVE_NAMES), default=None,
              help="Objective (default: optimizer.objective of the config).")
@output_options
@global_options
def optimize(objective, fmt, output):
    """Propose an allocation that respects every limit of the config."""
    from portfolio.report.optimize import optimization_report
    from portfolio.jobs.market import optimize_from_config

    run = optimize_from_config(load_config(), data_options(), objective=objective)
    notice(run.notice)
    emit(optimization_report(run), fmt, output)
