"""Seeded synthetic factor-model returns shared by every benchmark.

Daily simple returns ``r_t = alpha + B f_t + e_t`` for ``n_assets`` names over ``n_days``
business days: ``n_factors`` Gaussian factors (a market factor with annual volatility 18 %
plus sector-like factors at 8-12 %), loadings ``B`` around 1 for the market and around 0
for the rest, idiosyncratic volatilities between 15 % and 45 % a year, and annual drifts
``alpha`` between -5 % and +20 % (so max-Sharpe has positive excess returns). Units: daily
fractions; the index is a business-day ``DatetimeIndex`` ending 2025-12-31; tickers are
``S000``, ``S001``, ...

The same ``seed`` gives the same numbers on every machine (``numpy.random.default_rng``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRADING_DAYS = 252


def synthetic_returns(
    n_assets: int, n_days: int, *, n_factors: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Daily simple returns from a seeded factor model.

    Parameters
    ----------
    n_assets : int
        Number of names (columns).
    n_days : int
        Number of daily returns (rows).
    n_factors : int
        Number of factors (the first is the market).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    DataFrame
        ``n_days x n_assets`` daily simple returns (fractions), business-day index.
    """
    rng = np.random.default_rng(seed)
    daily = np.sqrt(TRADING_DAYS)
    factor_vol = np.concatenate([[0.18], rng.uniform(0.08, 0.12, n_factors - 1)]) / daily
    loadings = rng.normal(0.0, 0.5, (n_assets, n_factors))
    loadings[:, 0] = rng.uniform(0.6, 1.5, n_assets)
    idio_vol = rng.uniform(0.15, 0.45, n_assets) / daily
    alpha = rng.uniform(-0.05, 0.20, n_assets) / TRADING_DAYS
    factors = rng.standard_normal((n_days, n_factors)) * factor_vol
    noise = rng.standard_normal((n_days, n_assets)) * idio_vol
    returns = alpha + factors @ loadings.T + noise
    index = pd.bdate_range(end="2025-12-31", periods=n_days, name="date")
    columns = [f"S{i:03d}" for i in range(n_assets)]
    return pd.DataFrame(returns, index=index, columns=columns)


def synthetic_prices(returns: pd.DataFrame, start: float = 100.0) -> pd.DataFrame:
    """Prices (USD) whose simple returns are ``returns``; one extra first row at ``start``.

    Parameters
    ----------
    returns : DataFrame
        Dates x tickers, daily simple returns (fractions).
    start : float
        Price of every name on the day before the first return.

    Returns
    -------
    DataFrame
        ``(len(returns) + 1) x n`` prices; the first row is dated one business day before
        the first return.
    """
    first = returns.index[0] - pd.offsets.BDay(1)
    growth = np.vstack([np.ones(returns.shape[1]), 1.0 + returns.to_numpy()])
    index = pd.DatetimeIndex([first, *returns.index], name=returns.index.name)
    return pd.DataFrame(start * np.cumprod(growth, axis=0), index=index, columns=returns.columns)
