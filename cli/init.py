import click

from ._common import check_output_dir, echo, global_options


@click.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False),
                callback=check_output_dir)
@global_options
def init(folder):
    """Write an editable copy of the default config, deal graph, example holdings and
    backtests into DIR (a new or empty folder); their relative paths work from there."""
    from pathlib import Path

    from portfolio.jobs.starter import init_folder

    files = init_folder(folder)
    echo(f"Wrote {len(files)} files to {folder}:")
    for path in files:
        echo(f"  {path}")
    config, holdings = Path(folder) / "default.toml", Path(folder) / "holdings.csv"
    backtest = Path(folder) / "backtests" / "ai_policy.toml"
    echo("Edit them, then for example:")
    echo(f"  portfolio --config {config} risk --holdings {holdings} --offline")
    echo(f"  portfolio backtest {backtest} --offline")
