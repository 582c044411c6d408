"""What price data is available: per-ticker coverage of the cache or the bundled data."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from portfolio.data.bundled import bundled_prices, bundled_tokyo_prices
from portfolio.data.cache import PriceCache
from portfolio.data.cache_update import update_cache
from portfolio.data.fx import fx_tickers
from portfolio.data.network import DEFAULT_TIMEOUT, Deadline
from portfolio.data.yahoo import fetch_yahoo
from portfolio.errors import DataError

__all__ = ["DataInventory", "data_inventory", "update_prices"]


@dataclass(frozen=True)
class DataInventory:
    """Coverage per ticker.

    Attributes
    ----------
    table : DataFrame
        Index ticker; columns ``first_date``, ``last_date``, ``rows``, ``source``,
        ``fetched_at`` (UTC, None for bundled data) and ``age_days`` (days since the
        last date).
    source : str
        ``cache`` or ``bundled``.
    location : str
        Cache file path or ``"package data"``.
    """

    table: pd.DataFrame
    source: str
    location: str


def _bundled_table() -> pd.DataFrame:
    prices = bundled_prices()
    rows = {}
    for ticker in prices.columns:
        series = bundled_tokyo_prices() if ticker == "9984.T" else prices[ticker].dropna()
        rows[ticker] = {"first_date": series.index[0], "last_date": series.index[-1],
                        "rows": len(series), "source": "bundled", "fetched_at": None}
    return pd.DataFrame.from_dict(rows, orient="index")


def data_inventory(source: str = "auto", cache_dir: str | Path | None = None,
                   today: pd.Timestamp | None = None) -> DataInventory:
    """Coverage of the cache (``source`` cache, or auto with a non-empty cache) or bundled data.

    Raises
    ------
    DataError
        ``source="cache"`` with an empty cache, or a corrupt cache file.
    """
    today = (today or pd.Timestamp.now()).normalize()
    table, location, chosen = None, "package data", "bundled"
    if source in ("auto", "cache", "yahoo"):

        cache = PriceCache(cache_dir)
        summary = cache.summary()
        if len(summary):
            table, location, chosen = summary, str(cache.path), "cache"
        elif source == "cache":
            raise DataError("the price cache is empty", str(cache.path), "nothing was fetched yet",
                            "run `portfolio data update` with network access")
    if table is None:
        table = _bundled_table()
    table = table.copy()
    table["age_days"] = [(today - pd.Timestamp(d)).days for d in table["last_date"]]
    table.index.name = "ticker"
    return DataInventory(table=table, source=chosen, location=location)


def update_prices(tickers: list[str], cache_dir: str | Path | None = None, *,
                  start: str = "2015-01-01", on_progress=None,
                  timeout: float = DEFAULT_TIMEOUT, fetch=None):
    """Fetch missing dates for ``tickers`` and their exchange rates from Yahoo into the cache.

    The exchange rates that convert non-USD listings (``JPY=X`` for ``9984.T``) are added
    to ``tickers``; everything is written in one transaction.

    Parameters
    ----------
    tickers : list of str
        Yahoo symbols.
    cache_dir : path, optional
        Cache folder (default :func:`portfolio.data.cache.default_cache_dir`).
    start : str
        First date of a new ticker's history (ISO).
    on_progress : callable, optional
        ``on_progress(done, total)`` in tickers.
    timeout : float
        Seconds all Yahoo requests may take together.
    fetch : callable, optional
        Replacement for :func:`portfolio.data.yahoo.fetch_yahoo` (tests).

    Returns
    -------
    UpdateReport
        Rows added per ticker (exchange rates included) and the tickers that failed.

    Raises
    ------
    YahooUnavailableError
        No ticker got a price (unreachable, or no answer within ``timeout``).
    """
    fetch = fetch or functools.partial(fetch_yahoo, deadline=Deadline(timeout))
    return update_cache(PriceCache(cache_dir), [*tickers, *fx_tickers(tickers)], start=start,
                        on_progress=on_progress, fetch=fetch)
