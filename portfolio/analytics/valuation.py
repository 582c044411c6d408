"""Holdings valued at the as-of close: USD per position, cash, total and weights.

Every job that turns share counts into weights (risk, stress, rebalance, the frontier
with holdings) values them here, once; :func:`checked_total` is the one plausibility check
of position values, shared with :func:`portfolio.trading.orders.plan_rebalance`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolio.data.holdings import Holdings
from portfolio.errors import InputError
from portfolio.weights import CASH

__all__ = ["MAX_PORTFOLIO_VALUE", "Valuation", "checked_total", "date_text", "value_holdings"]

MAX_PORTFOLIO_VALUE = 1e15
"""Largest plausible value of a position, the cash or a whole portfolio (USD): about ten
times every listed share in the world. Anything above it (or not finite) is a units error."""


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
        If a ticker held with shares > 0 has no positive price at the as-of date, a
        position, the cash or the total is not finite or above :data:`MAX_PORTFOLIO_VALUE`
        (see :func:`checked_total`), or the holdings are worth nothing.
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
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        values = (shares * prices.where(priced, 0.0)).rename("value")
    total = checked_total(values, float(holdings.cash), holdings.source, shares=shares,
                          prices=prices)
    weights = pd.concat([values / total, pd.Series({CASH: holdings.cash / total})])
    return Valuation(
        values=values, cash=float(holdings.cash), total=total,
        weights=weights.rename("weight"), prices=prices.rename("price"),
    )


def checked_total(
    values: Mapping[str, float] | pd.Series,
    cash: float,
    source: str,
    *,
    shares: Mapping[str, float] | None = None,
    prices: Mapping[str, float] | None = None,
) -> float:
    """Total value of positions and cash (USD), after checking every part is plausible.

    The one valuation check of the toolkit: a value that overflowed or is absurdly large
    (``NVDA,1e308`` in a holdings file) is an error naming its row, never a NaN that a
    later sum treats as zero.

    Parameters
    ----------
    values : mapping or pandas.Series
        USD value per position (shares x price), by ticker.
    cash : float
        Cash, USD.
    source : str
        Where the holdings come from (a file, ``"<memory>"``), for messages.
    shares, prices : mapping, optional
        Share counts and USD prices by ticker, quoted in the message of a bad position.

    Returns
    -------
    float
        Positions plus cash, USD, in (0, :data:`MAX_PORTFOLIO_VALUE`].

    Raises
    ------
    InputError
        A position or the cash that is not a finite number in [0, MAX_PORTFOLIO_VALUE]
        (naming the ticker or ``CASH``), a total above it, or a total of zero.
    """
    limit = f"{MAX_PORTFOLIO_VALUE:.0e}"
    for ticker, value in dict(values).items():
        if not 0 <= value <= MAX_PORTFOLIO_VALUE:  # also catches inf and NaN
            detail = ""
            if shares is not None and prices is not None:
                detail = f"{float(shares[ticker]):g} shares x {float(prices[ticker]):g} USD = "
            raise InputError(
                f"implausible value of {ticker}: {detail}{float(value):.3g} USD",
                f"{source}, ticker {ticker}",
                f"a position is worth a finite amount of at most {limit} USD",
                f"check the {ticker} share count for a units error",
            )
    if not 0 <= cash <= MAX_PORTFOLIO_VALUE:
        raise InputError(
            f"implausible cash amount {float(cash):.3g} USD", f"{source}, ticker {CASH}",
            f"cash is a finite amount of at most {limit} USD",
            "check the CASH row for a units error",
        )
    total = math.fsum(dict(values).values()) + float(cash)
    if total > MAX_PORTFOLIO_VALUE:
        raise InputError(
            f"the portfolio is worth {total:.3g} USD", source,
            f"more than {limit} USD cannot be a real portfolio (share counts times prices, "
            "plus cash)", "check the share counts and the cash for a units error",
        )
    if not total > 0:
        raise InputError(
            "the holdings are worth nothing", source,
            "every share count and the cash are zero, so weights are undefined",
            "add positions or a CASH row",
        )
    return total


def date_text(value: Any) -> str:
    """``YYYY-MM-DD`` of a date-like value, or ``"the as-of date"``."""
    try:
        return str(pd.Timestamp(value).date())
    except (TypeError, ValueError):
        return "the as-of date"
