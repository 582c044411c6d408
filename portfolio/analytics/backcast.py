"""The back-cast: today's weights applied to past daily returns (daily rebalancing).

Cash has zero risk and earns 0. On a day a held name has no return (before its listing,
e.g. CRWV before 2025-03-28, or a data gap) its weight is spread pro rata over the held
names that do have one, so the risky weight stays the same; the cash weight never changes.
Days on which no held name has a return are dropped.
"""

from __future__ import annotations

import pandas as pd

from portfolio.analytics.valuation import date_text
from portfolio.errors import DataError
from portfolio.weights import CASH

__all__ = ["backcast_returns", "history_backcast"]


def backcast_returns(weights: pd.Series, returns: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Daily returns of constant weights applied to past returns (daily rebalancing).

    Parameters
    ----------
    weights : pandas.Series
        Fractions by ticker, may include ``"CASH"`` (return 0); non-negative.
    returns : pandas.DataFrame
        Dates x tickers, daily simple returns; NaN where a name has no return.

    Returns
    -------
    backcast : pandas.Series
        Daily portfolio returns (fractions). On each date the weights of held names
        without a return are spread pro rata over the held names with one (the risky
        weight and the cash weight stay constant). Dates on which no held name has a
        return are dropped; without risky weight the series is 0 on every date.
    renormalised_days : pandas.Series
        Per held name, the number of kept dates on which it had no return.

    Raises
    ------
    DataError
        If a held name has no column in ``returns``.
    """
    risky = weights.drop(CASH, errors="ignore").astype(float)
    risky = risky[risky != 0]
    missing = [t for t in risky.index if t not in returns.columns]
    if missing:
        raise DataError(
            f"no returns for {', '.join(missing)}", "back-cast",
            "every held name needs a return history", "load prices for these tickers",
        )
    if risky.empty:
        return pd.Series(0.0, index=returns.index, name="portfolio"), pd.Series(dtype=int)
    held = returns[list(risky.index)]
    available = held.notna()
    present_weight = available.astype(float).mul(risky, axis=1).sum(axis=1)
    kept = present_weight > 0
    scale = risky.sum() / present_weight[kept]
    daily = held[kept].fillna(0.0).mul(risky, axis=1).sum(axis=1) * scale
    renormalised = (~available[kept]).sum().astype(int).rename("renormalised_days")
    return daily.rename("portfolio"), renormalised


def history_backcast(weights: pd.Series, history: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """:func:`backcast_returns` over a long history, with a note on the names listed late.

    Parameters
    ----------
    weights : pandas.Series
        Fractions by ticker, may include ``"CASH"``.
    history : pandas.DataFrame
        Dates x tickers, daily simple returns, NaN before a listing.

    Returns
    -------
    backcast : pandas.Series
        Daily portfolio returns (fractions).
    note : list of str
        At most one line naming the held names without a return on some days (their
        weight is spread pro rata over the others on those days) and since when.
    """
    backcast, renormalised = backcast_returns(weights, history)
    late = [f"{t} before {date_text(history[t].first_valid_index())}"
            for t, days in renormalised.items() if days and history[t].notna().any()]
    note = []
    if late and len(backcast):
        note.append(f"the back-cast from {date_text(backcast.index[0])} spreads the weight of "
                    f"names not listed yet over the others ({', '.join(late)})")
    return backcast, note
