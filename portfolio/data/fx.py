"""Currency conversion and calendar alignment for non-USD listings.

Policy
------
Every price frame is on the **NYSE calendar** and in **USD**. A listing on another
exchange (9984.T, Tokyo, JPY) takes, for each NYSE date, its local close of the same
date or, when its exchange was closed that day, the last local close before it (at most
``max_fill_days`` sessions back). Its local close happens before the US close of the
same date, so same-day correlations with US names are understated; prefer weekly
returns for betas of such names.

USD conversion multiplies the local price by a USD-per-unit rate on the same NYSE date:

* online: Yahoo's ``JPY=X`` (yen per dollar), inverted;
* bundled / offline: the yen ETF FXY. One FXY share holds about 10,000 JPY less its
  0.40 %/year fee accrued since launch (2007-02-13), so
  ``USD per JPY = FXY / (10,000 * (1 - 0.004) ** years_since_launch)``; this tracks the
  spot rate to within about 1 % (checked at 2015-01-02 and 2024-07-10).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = [
    "LISTING_CURRENCY",
    "YAHOO_FX_TICKER",
    "align_to_calendar",
    "currency_of",
    "exchange_of",
    "fx_tickers",
    "usd_per_jpy_from_fxy",
]

LISTING_CURRENCY = {".T": "JPY"}
LISTING_EXCHANGE = {".T": "tokyo"}
"""Exchange of a Yahoo ticker suffix; no suffix means a US listing (``new_york``)."""
YAHOO_FX_TICKER = {"JPY": "JPY=X"}
FXY_LAUNCH = pd.Timestamp("2007-02-13")
FXY_YEN_PER_SHARE = 10_000.0
FXY_ANNUAL_FEE = 0.004


def currency_of(ticker: str) -> str:
    """Listing currency of a Yahoo ticker (``"9984.T"`` -> ``"JPY"``; default USD)."""
    for suffix, currency in LISTING_CURRENCY.items():
        if ticker.endswith(suffix):
            return currency
    return "USD"


def exchange_of(ticker: str) -> str:
    """Exchange a Yahoo ticker trades on (``"9984.T"`` -> ``"tokyo"``; default ``new_york``)."""
    for suffix, exchange in LISTING_EXCHANGE.items():
        if ticker.endswith(suffix):
            return exchange
    return "new_york"


def fx_tickers(tickers: Iterable[str]) -> list[str]:
    """Yahoo exchange-rate tickers needed to convert ``tickers`` to USD, sorted.

    ``["NVDA", "9984.T"]`` -> ``["JPY=X"]``; empty when every ticker is listed in USD.
    """
    return sorted({YAHOO_FX_TICKER[c] for t in tickers if (c := currency_of(t)) != "USD"})


def usd_per_jpy_from_fxy(fxy: pd.Series) -> pd.Series:
    """USD value of one yen from FXY adjusted closes (see the module policy)."""
    years = (fxy.index - FXY_LAUNCH).days / 365.25
    return fxy / (FXY_YEN_PER_SHARE * (1.0 - FXY_ANNUAL_FEE) ** years)


def align_to_calendar(
    local: pd.Series, calendar: pd.DatetimeIndex, max_fill_days: int
) -> pd.Series:
    """Put a local-exchange series on another calendar.

    Parameters
    ----------
    local : Series
        Prices on the local exchange's own sessions.
    calendar : DatetimeIndex
        Target dates (NYSE sessions).
    max_fill_days : int
        Largest number of sessions a value is carried forward (a local holiday).

    Returns
    -------
    Series
        On ``calendar``: the local close of the same date, else the last one before it,
        NaN before the first local session or past ``max_fill_days``.
    """
    union = local.index.union(calendar)
    carried = local.reindex(union)
    if max_fill_days:  # pandas refuses limit=0
        carried = carried.ffill(limit=max_fill_days)
    return carried.reindex(calendar)
