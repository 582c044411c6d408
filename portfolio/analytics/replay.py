"""Historical replays: window returns with proxies, and each position's path and recovery.

A replay applies the actual price path of each holding over a historical window to
today's position (:func:`portfolio.analytics.stress.replay_scenario`). This module gives:

* :func:`replay_returns` -- the return of every name between the closes on (or last before)
  the window's start and end dates. A name without a price at either close (not listed
  yet: CRWV before 2025-03-28, Alphabet before 2004) is proxied by its beta to the first
  of the proxies (default :data:`PROXIES`: SMH, then QQQ, then SPY) priced at both closes,
  estimated by :func:`daily_betas` on the name's whole available history -- which lies
  after the window: a look-ahead that is the point of a proxy. The beta is a daily one,
  so it applies to the proxy's daily returns, compounded: ``prod(1 + beta * r_proxy,t) - 1``
  over the window (each daily factor floored at 0). Over a long fall the plain
  ``beta * r_window`` could pass -100 % (2.1 x QQQ's -83 % in the dot-com bust).
* :func:`replay_paths` -- the daily path of every position from the window's start close,
  ``g_i(t) = P_i(t) / P_i(start) - 1`` (proxied: the compounded product up to ``t``), and
  of the whole portfolio (cash flat); for each, the trough (the lowest
  close inside the window) and the recovery: the first close after the trough back at or
  above the start close, searched up to the last price (the as-of date), with the number
  of trading days from the trough.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from portfolio.analytics.metrics import beta as beta_of
from portfolio.errors import DataError, InputError
from portfolio.estimate.returns import to_returns

__all__ = [
    "MIN_BETA_OBSERVATIONS",
    "PORTFOLIO",
    "PROXIES",
    "Recovery",
    "ReplayPaths",
    "WindowReturns",
    "daily_betas",
    "proxy_daily_returns",
    "replay_paths",
    "replay_returns",
    "window_dates",
]

PROXIES = ("SMH", "QQQ", "SPY")
"""Tickers whose window return, times a holding's beta to it, stands in for a missing
price, in order of preference (SMH starts 2000-06-05, so the dot-com bust uses QQQ)."""
MIN_BETA_OBSERVATIONS = 20
"""Fewest daily returns shared with the factor for a beta estimate (about a trading month)."""
PORTFOLIO = "portfolio"
"""Column of :attr:`ReplayPaths.returns` holding the whole portfolio's path."""


@dataclass(frozen=True, eq=False)
class WindowReturns:
    """Returns of every ticker over a historical window.

    Attributes
    ----------
    returns : pd.Series
        Ticker -> simple return between the two closes (fraction).
    proxied : tuple of str
        Tickers without a price at either close, given the compounded ``beta`` times the
        proxy's daily returns.
    proxy_betas : Mapping[str, float]
        Beta to the proxy of each proxied ticker (daily returns, whole history).
    start, end : Timestamp
        Dates of the two closes (the last trading day on or before the window's dates).
    proxy : str or None
        The proxy used (None when no ticker needed one).
    """

    returns: pd.Series
    proxied: tuple[str, ...]
    proxy_betas: Mapping[str, float] = field(default_factory=dict)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    proxy: str | None = None


@dataclass(frozen=True)
class Recovery:
    """Trough and recovery of one position (or of the portfolio) in a replay.

    Attributes
    ----------
    trough : Timestamp
        Date of the lowest close inside the window (the start when it never fell).
    trough_return : float
        Cumulative return from the start close to the trough (fraction, <= 0).
    recovered : Timestamp or None
        First close after the trough at or above the start close; None when it has not
        come back by :attr:`ReplayPaths.until`.
    days : int or None
        Trading days from the trough to ``recovered`` (0 when it never fell below the start).
    """

    trough: pd.Timestamp
    trough_return: float
    recovered: pd.Timestamp | None
    days: int | None

    def text(self, until: pd.Timestamp) -> str:
        """How long it took, in words (``"412 trading days (2004-05-03)"``).

        ``"not recovered by 2026-07-31"`` when it has not come back by ``until``, ``"never
        below the start"`` when it did not fall.
        """
        if self.recovered is None:
            return f"not recovered by {until.date()}"
        if self.days == 0:
            return "never below the start"
        return f"{self.days:,} trading days ({self.recovered.date()})"


@dataclass(frozen=True, eq=False)
class ReplayPaths:
    """Daily paths of a replay on today's positions.

    Attributes
    ----------
    returns : pd.DataFrame
        Window dates (start close .. end close) x (holdings, then ``"portfolio"``):
        cumulative simple return since the start close (fraction, >= -1). The portfolio
        column is the replayed P&L over today's total value including cash.
    recoveries : Mapping[str, Recovery]
        Per holding and ``"portfolio"``.
    until : Timestamp
        Last date searched for a recovery (the last price, i.e. the as-of date).
    """

    returns: pd.DataFrame
    recoveries: Mapping[str, Recovery]
    until: pd.Timestamp


def daily_betas(
    prices: pd.DataFrame,
    factor: str,
    *,
    lookback_days: int | None = None,
    min_observations: int = MIN_BETA_OBSERVATIONS,
) -> pd.Series:
    """Beta of every column of ``prices`` to ``factor`` on daily simple returns.

    Parameters
    ----------
    prices : pd.DataFrame
        Dates x tickers (daily closes, any currency per column), including ``factor``.
    factor : str
        Column regressed on, e.g. ``"SPY"`` or ``"SMH"``.
    lookback_days : int, optional
        Use only the last ``lookback_days + 1`` rows (``lookback_days`` returns); default
        the whole table.
    min_observations : int
        Fewest daily returns a ticker must share with the factor.

    Returns
    -------
    pd.Series
        Beta per column (dimensionless, ``cov(r_i, r_f) / var(r_f)`` with ddof 1) on the
        dates where both returns exist; 1 for the factor itself. Same order as the columns.

    Raises
    ------
    DataError
        The factor is missing, or a ticker shares fewer than ``min_observations`` returns
        with it, or the factor does not move.
    """
    if factor not in prices.columns:
        raise DataError(
            f"no prices for {factor}",
            "beta estimation",
            f"betas are measured against {factor}",
            f"load {factor} with the other prices (config risk.factors / universe.benchmark)",
        )
    window = prices.iloc[-(lookback_days + 1) :] if lookback_days else prices
    returns = to_returns(window)
    betas = {}
    for ticker in prices.columns:
        if ticker == factor:
            betas[ticker] = 1.0
            continue
        pair = returns[[ticker, factor]].dropna()
        if len(pair) < min_observations:
            span = f"last {lookback_days} trading days" if lookback_days else "whole history"
            raise DataError(
                f"too little history to estimate the beta of {ticker} to {factor}",
                f"{ticker}, {span}",
                f"{len(pair)} daily returns shared with {factor}, at least {min_observations} "
                "are needed",
                "use a later --as-of or remove the holding",
            )
        value = beta_of(pair[ticker], pair[factor])
        if not math.isfinite(value):
            raise DataError(
                f"cannot estimate the beta of {ticker} to {factor}",
                f"{ticker}, {len(pair)} daily returns",
                f"{factor} does not move over those dates",
                "check the prices of the factor",
            )
        betas[ticker] = value
    return pd.Series(betas, dtype=float, name=f"beta_{factor}").rename_axis("ticker")


def replay_returns(
    prices: pd.DataFrame, start: str, end: str, proxy: str | Sequence[str] = PROXIES
) -> WindowReturns:
    """Return of every column of ``prices`` over a window; proxies for missing prices.

    Parameters
    ----------
    prices : pd.DataFrame
        Daily closes, dates x tickers (USD), sorted by date, covering the window; the whole
        available history of each ticker (a proxied ticker's beta is estimated on it).
    start, end : str
        ISO dates of the window; the close on, or the last row before, each date is used.
    proxy : str or sequence of str
        Columns that may stand in for tickers without a price at either close, in order
        of preference: the first priced at both closes is used (needed only then).

    Returns
    -------
    WindowReturns
        ``returns`` per column: ``P_end / P_start - 1``, or ``prod(1 + beta * r_t) - 1``
        over the proxy's daily returns ``r_t`` in the window, with ``beta`` from
        :func:`daily_betas` on the ticker's whole history in ``prices``.

    Raises
    ------
    InputError
        ``start`` or ``end`` is not a date, or ``end`` is before ``start``.
    DataError
        The prices do not cover the window, a proxy is needed but none is priced at both
        closes, or a proxied ticker has too little history for its beta.
    """
    first, last = window_dates(start, end)
    index = prices.index
    if not len(index) or first < index[0] or last > index[-1]:
        covered = f"{index[0].date()} .. {index[-1].date()}" if len(index) else "no dates"
        raise DataError(
            f"prices do not cover the window {first.date()} .. {last.date()}",
            f"prices {covered}",
            "a replay needs prices at both ends of its window",
            "load prices over the window (config data.start, --as-of)",
        )
    start_row = index[index <= first][-1]
    end_row = index[index <= last][-1]
    returns = prices.loc[end_row].astype(float) / prices.loc[start_row].astype(float) - 1.0
    missing = tuple(str(t) for t in returns.index[returns.isna()])
    if not missing:
        return WindowReturns(returns.rename("return"), (), MappingProxyType({}), start_row,
                             end_row)
    candidates = (proxy,) if isinstance(proxy, str) else tuple(proxy)
    chosen = next((p for p in candidates if p in prices.columns and pd.notna(returns.get(p))),
                  None)
    if chosen is None:
        raise DataError(
            f"no {' or '.join(candidates)} prices to proxy {', '.join(missing)}",
            f"window {start_row.date()} .. {end_row.date()}",
            f"a holding without prices in a window is proxied by its beta to "
            f"{' or '.join(candidates)}",
            f"load {candidates[0]} (add it to risk.factors of the config)",
        )
    columns = list(dict.fromkeys([*missing, chosen]))
    betas = daily_betas(prices[columns], chosen).drop(chosen, errors="ignore").to_dict()
    daily = proxy_daily_returns(prices[chosen], start_row, end_row)
    for ticker, value in betas.items():
        returns[ticker] = float(_compounded(daily, value).iloc[-1])
    return WindowReturns(returns.rename("return"), missing, MappingProxyType(betas), start_row,
                         end_row, chosen)


def replay_paths(values: pd.Series, prices: pd.DataFrame, window: WindowReturns,
                 cash: float = 0.0) -> ReplayPaths:
    """Daily path, trough and recovery of every position of a replay (module docstring).

    Parameters
    ----------
    values : pd.Series
        Ticker -> position value at the as-of close, USD (no CASH).
    prices : pd.DataFrame
        Daily closes (USD) of the holdings and of ``window.proxy``, up to the as-of date.
    window : WindowReturns
        From :func:`replay_returns` on the same prices (dates, proxy and betas).
    cash : float
        Cash, USD (flat: it counts in the portfolio's total).

    Returns
    -------
    ReplayPaths
    """
    span = prices.loc[window.start:, list(values.index)].ffill()
    growth = span / span.iloc[0] - 1.0
    proxied = [t for t in values.index if t in window.proxied]
    if proxied:
        daily = proxy_daily_returns(prices[window.proxy], window.start, growth.index[-1])
        for ticker in proxied:
            growth[ticker] = _compounded(daily, window.proxy_betas[ticker])
    total = float(values.sum()) + cash
    growth[PORTFOLIO] = growth[list(values.index)].mul(values).sum(axis=1) / total
    recoveries = {str(name): _recovery(growth[name], window.end) for name in growth.columns}
    return ReplayPaths(growth.loc[: window.end], MappingProxyType(recoveries), growth.index[-1])


def proxy_daily_returns(closes: pd.Series, start: pd.Timestamp, end: pd.Timestamp
                        ) -> pd.Series:
    """Daily simple returns of a proxy from ``start`` to ``end`` (0 on ``start``)."""
    span = closes.loc[start:end].ffill()
    return (span / span.shift(1) - 1.0).fillna(0.0)


def _compounded(daily: pd.Series, beta: float) -> pd.Series:
    """``prod(1 + beta * r) - 1`` up to each date, each daily factor floored at 0."""
    return (1.0 + beta * daily).clip(lower=0.0).cumprod() - 1.0


def _recovery(path: pd.Series, end: pd.Timestamp) -> Recovery:
    """Trough inside the window (up to ``end``) and the first close back at the start level."""
    inside = path.loc[:end]
    low = float(inside.min())
    if low >= 0.0:
        return Recovery(path.index[0], 0.0, path.index[0], 0)
    trough = inside.idxmin()
    position = path.index.get_loc(trough)
    back = path.iloc[position + 1:]
    back = back[back >= 0.0]
    if back.empty:
        return Recovery(trough, low, None, None)
    return Recovery(trough, low, back.index[0], path.index.get_loc(back.index[0]) - position)


def window_dates(start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The two dates of a window, checked (``end`` not before ``start``)."""
    try:
        first, last = pd.Timestamp(start), pd.Timestamp(end)
    except (TypeError, ValueError):
        raise InputError(
            f"invalid window {start!r} .. {end!r}",
            "replay window",
            "dates are written YYYY-MM-DD",
            "e.g. 2020-02-19",
        ) from None
    if last < first:
        raise InputError(
            f"window ends before it starts ({start} .. {end})",
            "replay window",
            "the end date must not precede the start date",
            "swap the dates",
        )
    return first, last
