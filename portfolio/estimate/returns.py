"""Prices to periodic returns, and the annualisation convention.

Prices come as a wide table: a ``DatetimeIndex`` of trading dates by one column
per ticker, NaN where a name has no price (before its listing, on a local
holiday). Returns keep those holes: a name's first return is at its second
price, and a return is NaN whenever either of its two prices is missing, so a
return never spans a listing or a gap. Risk models deal with the resulting
ragged histories (see :mod:`portfolio.estimate.covariance`).

Annualisation: 252 periods per year for daily data, 52 weekly, 12 monthly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio.errors import DataError, check_choice

__all__ = [
    "PERIODS_PER_YEAR",
    "RETURN_KINDS",
    "numeric_table",
    "periods_per_year",
    "to_returns",
]

PERIODS_PER_YEAR: dict[str, int] = {"daily": 252, "weekly": 52, "monthly": 12}
"""Number of return periods in a year for each supported frequency."""

RETURN_KINDS = ("simple", "log")
"""Supported return definitions: ``simple`` = p_t / p_{t-1} - 1, ``log`` = ln(p_t / p_{t-1})."""

_RESAMPLE_RULES = {"weekly": "W-FRI", "monthly": "ME"}


def periods_per_year(frequency: str) -> int:
    """Return the number of return periods per year for a frequency.

    Parameters
    ----------
    frequency : str
        One of ``"daily"``, ``"weekly"``, ``"monthly"``.

    Returns
    -------
    int
        252, 52 or 12.

    Raises
    ------
    InputError
        If ``frequency`` is not one of the supported names.
    """
    check_choice(frequency, PERIODS_PER_YEAR, "return frequency", where="frequency")
    return PERIODS_PER_YEAR[frequency]


def to_returns(
    prices: pd.DataFrame, kind: str = "simple", frequency: str = "daily"
) -> pd.DataFrame:
    """Turn a table of prices into periodic returns, keeping ragged histories.

    Parameters
    ----------
    prices : pandas.DataFrame
        Dates x tickers, positive prices (any currency; adjusted closes so that
        returns include dividends). NaN where a name has no price, e.g. before
        its listing. The index must be a ``DatetimeIndex`` without duplicates;
        it is sorted if needed.
    kind : {"simple", "log"}
        ``simple``: p_t / p_{t-1} - 1 (fraction per period); ``log``:
        ln(p_t / p_{t-1}).
    frequency : {"daily", "weekly", "monthly"}
        ``daily`` uses the rows as they are. ``weekly`` takes the last
        available price of each week ending Friday (``W-FRI``), ``monthly`` the
        last available price of each calendar month; rows are labelled with
        the period end (pandas ``resample(...).last()``), so a final partial
        period is labelled with its future period end.

    Returns
    -------
    pandas.DataFrame
        Dates x tickers, returns of the given kind and frequency (fractions per
        period). A return is NaN when either of its two prices is missing:
        nothing is filled across a listing or a gap, and a name's first return
        is at its second price. Rows where every return is NaN are dropped.

    Raises
    ------
    InputError
        If ``kind`` or ``frequency`` is not supported.
    DataError
        If the prices are empty, not numeric, not indexed by unique dates, or
        contain a non-positive or infinite price.
    """
    check_choice(kind, RETURN_KINDS, "return kind", where="kind")
    periods_per_year(frequency)  # validates the name
    prices = _checked_prices(prices)
    if frequency in _RESAMPLE_RULES:
        prices = prices.resample(_RESAMPLE_RULES[frequency]).last()
        prices = prices.dropna(how="all")
    ratio = prices / prices.shift(1)
    returns = np.log(ratio) if kind == "log" else ratio - 1.0
    return returns.dropna(how="all")


def numeric_table(table: pd.DataFrame, what: str, user: str) -> pd.DataFrame:
    """Check a dates x tickers table (a DataFrame, unique ticker columns) and cast to float.

    Parameters
    ----------
    table : DataFrame
        Prices or returns; NaN is allowed.
    what : str
        ``"prices"`` or ``"returns"``, used in messages.
    user : str
        Who needs the table (e.g. ``"to_returns"``), used in messages.

    Raises
    ------
    DataError
        Not a DataFrame, repeated ticker columns, or non-numeric values.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            f"{what} must be a table of dates by tickers",
            type(table).__name__,
            f"{user} expects a pandas DataFrame",
            "Pass a DataFrame with one column per ticker",
        )
    duplicated = table.columns[table.columns.duplicated()]
    if len(duplicated):
        raise DataError(
            f"duplicate tickers in {what}",
            ", ".join(map(str, duplicated)),
            "each ticker must be one column",
            "Drop the duplicate columns",
        )
    try:
        return table.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{what} are not numeric", what, str(exc), f"Clean the {what} table"
        ) from None


def _checked_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """Validate a price table and return it sorted by date, as floats."""
    values = numeric_table(prices, "prices", "to_returns")
    if prices.empty:
        raise DataError("no prices", "prices", "the price table is empty", "Load prices first")
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError(
            "prices are not indexed by date",
            f"index type {type(prices.index).__name__}",
            "returns need a DatetimeIndex",
            "Parse the date column and set it as the index",
        )
    duplicated_dates = prices.index[prices.index.duplicated()]
    if len(duplicated_dates):
        raise DataError(
            "duplicate dates in prices",
            ", ".join(str(d.date()) for d in duplicated_dates[:5]),
            "each date must appear once",
            "Drop or merge the duplicate rows",
        )
    bad = ~np.isfinite(values) | (values <= 0)
    bad = bad & values.notna()
    if bad.to_numpy().any():
        ticker = bad.any().idxmax()
        date = bad[ticker].idxmax()
        raise DataError(
            f"invalid price {values.at[date, ticker]!r}",
            f"{ticker} on {date.date()}",
            "prices must be positive and finite",
            "Fix or blank the price in the source data",
        )
    return values.sort_index()
