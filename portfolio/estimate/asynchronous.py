"""Covariances across exchanges that close at different times (asynchronous closes).

SoftBank (9984.T) closes in Tokyo about 15 hours before New York. News that moves US
names during the New York session of day ``t`` reaches the Tokyo price only on day
``t + 1``, so same-day daily returns understate the co-movement: over three years of the
bundled data, 9984.T's same-day correlation with TSM is about 0.11, against 0.38 with
TSM's previous day and 0.47 on weekly returns.

The lead-lag correction (Dimson 1979; the one-lag cross terms of Newey-West with full
weight) adds, for every pair of names on different exchanges, the covariances at one lag
in both directions::

    Sigma_ij <- Sigma_ij + P * (cov(r_i,t, r_j,t-1) + cov(r_i,t-1, r_j,t))

with ``P`` the periods per year (the same annualisation as the estimate). Pairs on the
same exchange and every variance are left as the estimator gave them. The result is
repaired to positive semi-definite, if needed, by the Schur complement that keeps the
block of the largest exchange unchanged
(:func:`~portfolio.estimate.psd.schur_complement_repair`). Only daily returns are
corrected: a weekly or monthly return spans the gap of a few hours almost entirely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

from portfolio.estimate.psd import schur_complement_repair
from portfolio.estimate.returns import periods_per_year

__all__ = ["ASYNC_MODES", "lagged_covariance", "lead_lag_corrected"]

ASYNC_MODES = ("lead_lag", "off")
"""``risk.asynchronous``: correct cross-exchange covariances (default) or not."""

MIN_PAIRS = 20
"""Fewest overlapping return pairs for a lagged covariance (else the pair is left as is)."""


def lagged_covariance(leader: pd.Series, follower: pd.Series) -> float:
    """``cov(follower_t, leader_{t-1})`` over the rows where both exist (periodic units).

    Parameters
    ----------
    leader, follower : Series
        Periodic returns on the same dates (NaN where a name has no return).

    Returns
    -------
    float
        Sample covariance (ddof 1); NaN with fewer than :data:`MIN_PAIRS` pairs.
    """
    a = follower.to_numpy(dtype=float)[1:]
    b = leader.to_numpy(dtype=float)[:-1]
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < MIN_PAIRS:
        return float("nan")
    a, b = a[both], b[both]
    return float(np.dot(a - a.mean(), b - b.mean()) / (len(a) - 1))


def _lagged_column(one: np.ndarray, many: np.ndarray, follower_first: bool = False
                   ) -> np.ndarray:
    """:func:`lagged_covariance` of one name against each column of ``many`` at once.

    ``cov(many_t, one_{t-1})`` per column (``one`` leads), or ``cov(one_t, many_{t-1})``
    with ``follower_first``; each column over its own rows where both exist; NaN with
    fewer than :data:`MIN_PAIRS` pairs. Shapes: ``one`` (T,), ``many`` (T, k) -> (k,).
    """
    if follower_first:
        a, b = many[:-1], one[1:, None]
    else:
        a, b = many[1:], one[:-1, None]
    both = np.isfinite(a) & np.isfinite(b)
    count = both.sum(axis=0)
    a, b = np.where(both, a, 0.0), np.where(both, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_a, mean_b = a.sum(axis=0) / count, b.sum(axis=0) / count
        products = np.where(both, (a - mean_a) * (b - mean_b), 0.0).sum(axis=0)
        result = products / (count - 1)
    return np.where(count >= MIN_PAIRS, result, np.nan)


def lead_lag_corrected(
    matrix: pd.DataFrame,
    returns: pd.DataFrame,
    markets: Mapping[str, str],
    frequency: str = "daily",
) -> tuple[pd.DataFrame, float, tuple[str, ...]]:
    """The covariance with cross-exchange pairs corrected for asynchronous closes.

    Parameters
    ----------
    matrix : DataFrame
        Annualised covariance (tickers x tickers) from an estimator.
    returns : DataFrame
        The periodic returns it was estimated on (dates x tickers, at least the
        matrix's tickers; NaN allowed).
    markets : mapping ticker -> exchange
        The exchange of each ticker (``"tokyo"``, ``"new_york"``); a ticker not listed
        counts as its own exchange only if given, else as the most common one.
    frequency : str
        Frequency of ``returns``; only ``daily`` is corrected.

    Returns
    -------
    matrix : DataFrame
        Same labels; unchanged when every name trades on one exchange.
    repair : float
        Frobenius norm of the PSD repair after the correction (0 when none).
    notes : tuple of str
        What was corrected, in words.
    """
    names = list(matrix.index)
    exchange = _exchanges(names, markets)
    if frequency != "daily" or len(set(exchange.values())) < 2:
        return matrix, 0.0, ()
    periods = periods_per_year(frequency)
    values = matrix.to_numpy(copy=True)
    data = returns[names].to_numpy(dtype=float)
    corrected = []
    largest = Counter(exchange.values()).most_common(1)[0][0]
    minority = [i for i, t in enumerate(names) if exchange[t] != largest]
    for i in minority:  # one vectorised pass per name off the largest exchange
        others = [j for j, t in enumerate(names) if exchange[t] != exchange[names[i]]
                  and (j not in minority or j > i)]
        lags = (_lagged_column(data[:, i], data[:, others])
                + _lagged_column(data[:, i], data[:, others], follower_first=True))
        for j, lag in zip(others, lags):
            if np.isfinite(lag):
                values[i, j] = values[j, i] = values[i, j] + periods * lag
                corrected.append(tuple(sorted((names[i], names[j]), key=names.index)))
    adjusted = pd.DataFrame(values, index=matrix.index, columns=matrix.columns)
    adjusted, repair = schur_complement_repair(
        adjusted, [t for t in names if exchange[t] == largest])
    return adjusted, repair, _notes(corrected, exchange, largest, repair)


def _exchanges(names: list[str], markets: Mapping[str, str]) -> dict[str, str]:
    known = [markets[t] for t in names if t in markets]
    default = Counter(known).most_common(1)[0][0] if known else "home"
    return {t: markets.get(t, default) for t in names}


def _notes(corrected: list[tuple[str, str]], exchange: Mapping[str, str], largest: str,
           repair: float) -> tuple[str, ...]:
    if not corrected:
        return ()
    foreign = sorted({t for pair in corrected for t in pair if exchange[t] != largest})
    market = largest.replace("_", " ").title()
    note = (f"{', '.join(foreign)}: covariances with {market} names corrected for the "
            "different closing time (one-day lead-lag)")
    if repair > 0:
        note += f"; made positive semi-definite (Frobenius change {repair:.3g})"
    return (note + ".",)
