"""Rebalance calendars of a walk-forward backtest (pure).

The first trading day of the backtest (inception), then the first trading day of every
ISO week, calendar month or quarter; in drift mode every trading day is a candidate.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from portfolio.backtesting.spec import SCHEDULES
from portfolio.errors import InputError, did_you_mean

__all__ = ["walk_forward_dates"]


def _period_keys(index: pd.DatetimeIndex, schedule: str) -> np.ndarray:
    """An integer per date, equal within one ISO week / calendar month / quarter."""
    if schedule == "weekly":
        iso = index.isocalendar()
        return iso["year"].to_numpy(dtype=np.int64) * 100 + iso["week"].to_numpy(dtype=np.int64)
    months = index.year.to_numpy(dtype=np.int64) * 12 + index.month.to_numpy(dtype=np.int64) - 1
    return months if schedule == "monthly" else months // 3


def walk_forward_dates(
    index: pd.DatetimeIndex,
    start: str | pd.Timestamp | None,
    end: str | pd.Timestamp | None,
    schedule: str,
) -> Iterator[pd.Timestamp]:
    """Rebalance dates of a schedule (pure generator).

    Parameters
    ----------
    index : DatetimeIndex
        Trading dates, sorted.
    start, end : date-like or None
        Inclusive period; None = the first / last date of ``index``.
    schedule : {"weekly", "monthly", "quarterly", "drift"}
        ``weekly`` / ``monthly`` / ``quarterly``: the first trading day of the period
        at or after ``start`` (inception), then the first trading day of every later
        ISO week, calendar month or quarter up to ``end``. ``drift``: every trading day
        is a candidate (the engine rebalances only when a band is exceeded).

    Yields
    ------
    Timestamp
        Dates of ``index``, increasing.

    Raises
    ------
    InputError
        For an unknown schedule.
    """
    if schedule not in SCHEDULES:
        raise InputError(f"unknown schedule '{schedule}'", "rebalance",
                          f"must be one of {', '.join(SCHEDULES)}",
                          did_you_mean(schedule, SCHEDULES) or "use monthly")
    in_range = np.ones(len(index), dtype=bool)
    if start is not None:
        in_range &= index >= pd.Timestamp(start)
    if end is not None:
        in_range &= index <= pd.Timestamp(end)
    chosen = in_range.copy()
    if schedule != "drift":
        keys = _period_keys(index, schedule)
        chosen &= np.concatenate([[True], keys[1:] != keys[:-1]])  # a period's first day
        inside = np.flatnonzero(in_range)
        if inside.size:
            chosen[inside[0]] = True  # the inception
    yield from index[chosen]
