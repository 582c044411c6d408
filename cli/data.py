import click

from ._common import (
    echo,
    emit,
    global_options,
    load_config,
    notice,
    output_options,
    progress,
    settings,
)


@click.group()
@global_options
def data():
    """Manage price data: the SQLite cache and the bundled dataset."""


@data.command()
@click.argument("tickers", nargs=-1)
@global_options
def update(tickers):
    """Fetch missing dates from Yahoo into the cache (default: the config's tickers)."""
    from portfolio.data.inventory import update_prices
    from portfolio.errors import DataError

    if settings().offline:
        raise DataError("`data update` needs the network", "--offline",
                        "it downloads from Yahoo Finance", "drop --offline")
    config = load_config()
    names = [t.upper() for t in tickers] or list(config.market_tickers)
    timeout = settings().timeout or config.data.timeout
    with progress("Downloading prices") as update_bar:
        report = update_prices(names, settings().cache_dir, start=config.data.start,
                               on_progress=update_bar, timeout=timeout)
    added = sum(report.added.values())
    echo(f"Added {added} rows for {len(report.added)} tickers.")
    if report.failed:
        details = "; ".join(f"{t}: {report.reasons.get(t, 'no data')}" for t in report.failed)
        notice(f"Warning: no data for {', '.join(report.failed)} ({details})")


@data.command()
@output_options
@global_options
def show(fmt, output):
    """Per ticker: first date, last date, rows, source and age."""
    from portfolio.data.inventory import data_inventory
    from portfolio.report.data import inventory_report

    s = settings()
    emit(inventory_report(data_inventory(s.data_source, s.cache_dir)), fmt, output)
