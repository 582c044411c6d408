"""Monte Carlo loss distribution: a seeded stationary block bootstrap of daily returns.

Politis and Romano's stationary bootstrap resamples a daily return series in blocks of
random (geometric) length with mean ``mean_block`` days, wrapping around its end: each
day of a path continues the block with probability ``1 - 1 / mean_block``, or jumps to a
uniformly drawn day. Every drawn day is thus uniform over the sample, so a path's daily
returns have the sample's mean and variance (``ddof=0``), while the blocks keep the
short-range dependence of the sample (volatility clustering, a crash spread over days).

A path of ``h`` days compounds its returns, ``V_t = prod(1 + r)`` from ``V_0 = 1``; the
loss distribution is that of ``1 - V_h`` over the paths, and each path's worst drawdown is
``max_t (1 - V_t / max_{u <= t} V_u)`` (``V_0`` included).

``drift="zero"`` (the default of the risk job) first subtracts the sample's mean daily
return: the history of today's AI winners has a mean that no one should count on; the
sample's own mean is kept with ``drift="sample"``. Units: returns and losses are
fractions of the starting value; the sample is daily.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from portfolio.analytics.risk_measures import TRADING_DAYS_PER_YEAR
from portfolio.analytics.validation import clean_series
from portfolio.errors import InputError

__all__ = [
    "DRAWDOWN_QUANTILES",
    "DRIFTS",
    "LOSS_LEVELS",
    "LossDistribution",
    "loss_distribution",
    "stationary_bootstrap",
]

LOSS_LEVELS = (0.10, 0.25, 0.50)
"""Losses whose probability is reported (fractions of the starting value)."""
DRAWDOWN_QUANTILES = (0.50, 0.95, 0.99)
"""Quantiles of the worst drawdown within the horizon that are reported."""
TERMINAL_QUANTILES = (0.01, 0.05, 0.50, 0.95)
"""Quantiles of the return over the horizon that are reported."""
DRIFTS = ("zero", "sample")


@dataclass(frozen=True, eq=False)
class LossDistribution:
    """The distribution of the portfolio's return and worst drawdown over a horizon.

    Attributes
    ----------
    horizon_days : int
        Trading days of each path.
    paths : int
        Number of simulated paths.
    mean_block : float
        Mean block length of the bootstrap (trading days).
    seed : int
        Seed of the random generator (same seed, same numbers).
    drift : str
        ``"zero"`` (sample demeaned) or ``"sample"``.
    sample_start, sample_end : Timestamp or None
        First and last date of the daily sample.
    sample_days : int
        Daily returns in the sample.
    sample_mean, sample_volatility : float
        Annualised mean (``252 * mean``) and volatility (``sqrt(252) * std``) of the
        sample before any demeaning (fractions).
    loss_probability : Mapping[float, float]
        Loss level -> probability that the return over the horizon is at or below
        ``-level``.
    drawdown_probability : Mapping[float, float]
        Loss level -> probability that the worst drawdown within the horizon reaches it.
    terminal_quantiles : Mapping[float, float]
        Quantile -> return over the horizon (fraction).
    drawdown_quantiles : Mapping[float, float]
        Quantile -> worst drawdown within the horizon (positive fraction).
    expected_return : float
        Mean return over the horizon across paths (fraction).
    terminal : numpy.ndarray
        Shape ``(paths,)``: each path's return over the horizon.
    drawdowns : numpy.ndarray
        Shape ``(paths,)``: each path's worst drawdown (positive fraction).
    """

    horizon_days: int
    paths: int
    mean_block: float
    seed: int
    drift: str
    sample_start: pd.Timestamp | None
    sample_end: pd.Timestamp | None
    sample_days: int
    sample_mean: float
    sample_volatility: float
    loss_probability: Mapping[float, float]
    drawdown_probability: Mapping[float, float]
    terminal_quantiles: Mapping[float, float]
    drawdown_quantiles: Mapping[float, float]
    expected_return: float
    terminal: np.ndarray
    drawdowns: np.ndarray


def stationary_bootstrap(sample: np.ndarray, horizon_days: int, paths: int,
                         mean_block: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of a stationary block bootstrap (module docstring).

    Parameters
    ----------
    sample : numpy.ndarray
        Shape ``(n,)``: the series resampled (only its length is used).
    horizon_days : int
        Days per path.
    paths : int
        Number of paths.
    mean_block : float
        Mean block length (>= 1); 1 is the plain i.i.d. bootstrap.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Shape ``(paths, horizon_days)`` of indices into ``sample``.
    """
    n = len(sample)
    jumps = rng.random((paths, horizon_days)) < 1.0 / mean_block
    jumps[:, 0] = True
    starts = rng.integers(0, n, size=(paths, horizon_days))
    days = np.arange(horizon_days)
    # the day each block began: index = its drawn start + the days since, wrapped
    began = np.maximum.accumulate(np.where(jumps, days, 0), axis=1)
    return (np.take_along_axis(starts, began, axis=1) + days - began) % n


def loss_distribution(daily_returns: pd.Series, horizon_days: int, *, paths: int = 10_000,
                      mean_block: float = 21.0, seed: int = 0, drift: str = "zero"
                      ) -> LossDistribution:
    """Simulate the portfolio's return and worst drawdown over ``horizon_days``.

    Parameters
    ----------
    daily_returns : pd.Series
        The portfolio's daily simple returns (fractions, no NaN; e.g. the back-cast of
        today's weights), at least ``2 * mean_block`` of them.
    horizon_days : int
        Trading days of a path (21 = one month, 252 = one year).
    paths : int
        Number of paths.
    mean_block : float
        Mean block length in trading days (>= 1).
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    drift : {"zero", "sample"}
        Demean the sample first, or keep its mean (module docstring).

    Returns
    -------
    LossDistribution

    Raises
    ------
    InputError
        A bad horizon, number of paths, block length or drift, or too short a sample.
    """
    sample = clean_series(daily_returns, "loss_distribution", minimum=2)
    _check(len(sample), horizon_days, paths, mean_block, drift)
    values = sample.to_numpy(dtype=float)
    mean = float(values.mean())
    drawn = values - mean if drift == "zero" else values
    rng = np.random.default_rng(seed)
    index = stationary_bootstrap(drawn, horizon_days, paths, mean_block, rng)
    growth = np.cumprod(1.0 + drawn[index], axis=1)
    terminal = growth[:, -1] - 1.0
    peaks = np.maximum(np.maximum.accumulate(growth, axis=1), 1.0)
    drawdowns = np.max(1.0 - growth / peaks, axis=1).clip(min=0.0)
    frozen = MappingProxyType
    return LossDistribution(
        horizon_days=horizon_days, paths=paths, mean_block=float(mean_block), seed=seed,
        drift=drift,
        sample_start=sample.index[0] if isinstance(sample.index, pd.DatetimeIndex) else None,
        sample_end=sample.index[-1] if isinstance(sample.index, pd.DatetimeIndex) else None,
        sample_days=len(values), sample_mean=mean * TRADING_DAYS_PER_YEAR,
        sample_volatility=float(values.std()) * np.sqrt(TRADING_DAYS_PER_YEAR),
        loss_probability=frozen({lv: float(np.mean(terminal <= -lv)) for lv in LOSS_LEVELS}),
        drawdown_probability=frozen({lv: float(np.mean(drawdowns >= lv)) for lv in LOSS_LEVELS}),
        terminal_quantiles=frozen({q: float(np.quantile(terminal, q))
                                   for q in TERMINAL_QUANTILES}),
        drawdown_quantiles=frozen({q: float(np.quantile(drawdowns, q))
                                   for q in DRAWDOWN_QUANTILES}),
        expected_return=float(terminal.mean()), terminal=terminal, drawdowns=drawdowns,
    )


def _check(n: int, horizon_days: int, paths: int, mean_block: float, drift: str) -> None:
    problems = [
        (not isinstance(horizon_days, int) or horizon_days < 1, "horizon_days",
         f"{horizon_days!r} is not a whole number of trading days >= 1", "e.g. 252 for a year"),
        (not isinstance(paths, int) or paths < 1, "paths", f"{paths!r} is not a count >= 1",
         "e.g. 10000"),
        (not mean_block >= 1.0, "mean_block", f"{mean_block!r} is below 1 day", "e.g. 21"),
        (drift not in DRIFTS, "drift", f"{drift!r} is not one of {', '.join(DRIFTS)}",
         "use zero or sample"),
        (n < 2 * mean_block, "daily_returns",
         f"{n} returns for blocks of {mean_block:g} days on average",
         "use a longer sample or a shorter mean_block"),
    ]
    for bad, where, why, fix in problems:
        if bad:
            raise InputError("invalid Monte Carlo setting", f"loss_distribution, {where}", why,
                             fix)
