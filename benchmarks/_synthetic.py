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
    returns, _, index = _factor_model(n_assets, n_days, n_factors, seed)
    columns = [f"S{i:03d}" for i in range(n_assets)]
    return pd.DataFrame(returns, index=index, columns=columns)


def _factor_model(n_assets: int, n_days: int, n_factors: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """Daily returns (n_days, n_assets), factor returns (n_days, n_factors), their dates."""
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
    return returns, factors, pd.bdate_range(end="2025-12-31", periods=n_days, name="date")


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


def dense_answer_returns(n_assets: int, *, extra_days: int = 60, seed: int = 0) -> pd.DataFrame:
    """Daily returns whose sample covariance IS a one-factor model with a dense optimum.

    ``Sigma = 0.18^2 b b' + diag(s^2)`` (annual): betas ``b`` within 0.1 % of 1,
    idiosyncratic volatilities ``s`` between 29 % and 31 % a year. Its capped minimum
    variance holds almost every name (the active set's worst case in issue 14). The
    returns are ``Q L'`` with ``Q`` orthonormal, centred columns scaled so that their
    sample covariance (ddof 1) is exactly ``Sigma / 252``: ``n_assets + extra_days`` rows.

    Returns
    -------
    DataFrame
        ``(n_assets + extra_days) x n_assets`` daily simple returns (fractions), a drift of
        3 bp a day added, business-day index ending 2025-12-31.
    """
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.999, 1.001, n_assets)
    idiosyncratic = rng.uniform(0.29, 0.31, n_assets)
    sigma = (0.18**2 * np.outer(beta, beta) + np.diag(idiosyncratic**2)) / TRADING_DAYS
    days = n_assets + extra_days
    noise = rng.standard_normal((days, n_assets))
    orthonormal, _ = np.linalg.qr(noise - noise.mean(axis=0))
    returns = orthonormal * np.sqrt(days - 1) @ np.linalg.cholesky(sigma).T + 0.0003
    index = pd.bdate_range(end="2025-12-31", periods=days, name="date")
    return pd.DataFrame(returns, index=index, columns=[f"S{i:04d}" for i in range(n_assets)])


def synthetic_factor_market(
    n_assets: int, n_days: int, *, n_factors: int = 20, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns from :func:`synthetic_returns`' model AND the factor returns that drove them.

    Returns
    -------
    returns : DataFrame
        ``n_days x n_assets`` daily simple returns (fractions).
    factors : DataFrame
        ``n_days x n_factors`` daily factor returns (``F00`` the market), same index.
    """
    returns, factors, index = _factor_model(n_assets, n_days, n_factors, seed)
    return (pd.DataFrame(returns, index=index, columns=[f"S{i:04d}" for i in range(n_assets)]),
            pd.DataFrame(factors, index=index, columns=[f"F{j:02d}" for j in range(n_factors)]))
