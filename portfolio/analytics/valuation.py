"""Holdings valued at the as-of close: USD per position, cash, total and weights.

Every job that turns share counts into weights (risk, stress, rebalance, the frontier
with holdings) values them here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolio.data.holdings import Holdings
from portfolio.errors import InputError
from portfolio.weights import CASH

__all__ = ["Valuation", "date_text", "value_holdings"]


@dataclass(frozen=True, eq=False)
class Valuation:
    """Holdings valued at the as-of close.

    Attributes
    ----------
    values : pandas.Series
        USD value per held ticker (shares x price), in file order, no ``CASH``.
    cash : float
        Cash, USD.
    total : float
        Positions plus cash, USD (> 0).
    weights : pandas.Series
        Fraction of ``total`` per ticker plus ``"CASH"`` (last); sums to 1.
    prices : pandas.Series
        USD per share of each held ticker at the as-of date (NaN for a zero-share row
        without a price).
    """

    values: pd.Series
    cash: float
    total: float
    weights: pd.Series
    prices: pd.Series


def value_holdings(holdings: Holdings, prices_at_as_of: pd.Series) -> Valuation:
    """Value holdings at the as-of close.

    Parameters
    ----------
    holdings : Holdings
        Shares per ticker and cash (USD).
    prices_at_as_of : pandas.Series
        USD per share by ticker at the as-of date (a row of the price table; its ``name``
        is the date). Aligned by label; extra tickers are ignored.

    Returns
    -------
    Valuation

    Raises
    ------
    InputError
        If a ticker held with shares > 0 has no positive price at the as-of date, or the
        holdings are worth nothing.
    """
    date = date_text(prices_at_as_of.name)
    tickers = list(holdings.tickers())
    shares = pd.Series(dict(holdings.shares), index=tickers, dtype=float)
    prices = pd.to_numeric(prices_at_as_of.reindex(tickers), errors="coerce").astype(float)
    priced = np.isfinite(prices.to_numpy()) & (prices.to_numpy() > 0)
    unpriced = [t for t, ok in zip(tickers, priced) if shares[t] > 0 and not ok]
    if unpriced:
        names = ", ".join(unpriced)
        raise InputError(
            f"no price for {names} on {date}",
            f"{holdings.source}, ticker {unpriced[0]}",
            f"a held ticker is valued at its close on the as-of date and the price data has "
            f"none for {names} on {date} (not yet listed then, or a gap in the data)",
            f"use a later --as-of date or remove the {names} row from {holdings.source}",
        )
    values = (shares * prices.where(priced, 0.0)).rename("value")
    total = float(values.sum()) + float(holdings.cash)
    if not total > 0:
        raise InputError(
            "the holdings are worth nothing",
            holdings.source,
            "every share count and the cash are zero, so weights are undefined",
            "add positions or a CASH row",
        )
    weights = pd.concat([values / total, pd.Series({CASH: holdings.cash / total})])
    return Valuation(
        values=values, cash=float(holdings.cash), total=total,
        weights=weights.rename("weight"), prices=prices.rename("price"),
    )


def date_text(value: Any) -> str:
    """``YYYY-MM-DD`` of a date-like value, or ``"the as-of date"``."""
    try:
        return str(pd.Timestamp(value).date())
    except (TypeError, ValueError):
        return "the as-of date"
