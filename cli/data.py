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
    from portfolio.config import parse_tickers

    config = load_config()
    names = list(parse_tickers(tickers, "data update") if tickers else config.market_tickers)
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


@data.command("import")
@click.argument("file", metavar="FILE.csv", type=click.Path(dir_okay=False))
@global_options
def import_(file):
    """Store daily closes from a CSV file in the cache (wide or long layout).

    \b
    Wide: date,NVDA,TSLA      (one column of closes per ticker)
    Long: date,ticker,close   (one row per ticker and date; optional currency)

    The whole file is checked first and written in one transaction; each ticker's cached
    history is replaced by the file's. Use the prices with --data-source cache, or
    --offline (auto), e.g. portfolio optimize --tickers NVDA,AMD,TSLA --offline.
    """
    from portfolio.data.price_import import import_prices

    report = import_prices(file, settings().cache_dir)
    total = sum(report.rows.values())
    echo(f"Imported {total} prices for {len(report.rows)} tickers from {file} into "
         f"{report.cache_path}:")
    for ticker, rows in report.rows.items():
        echo(f"  {ticker}: {rows} days, {report.first[ticker].date()} .. "
             f"{report.last[ticker].date()}")
    for gap in report.gaps:
        notice(f"Note: {gap}")
