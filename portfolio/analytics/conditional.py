"""Conditional stress: how every holding moves given shocks to some names.

Given shocks ``s`` to the names ``S`` (``{"NVDA": -0.30}``: simple returns over a horizon of
``h`` trading days), the other names ``O`` move, by two methods:

Gaussian (closed form, the risk model)
    Returns over ``h`` days are normal with mean 0 and covariance ``Sigma * h / 252``
    (``Sigma``: the annual covariance of the risk model). Then

    * ``E[r_O | r_S = s] = Sigma_OS Sigma_SS^-1 s`` -- the regression of each name on the
      shocked ones, independent of the horizon;
    * ``Cov[r_O | r_S = s] = (Sigma_OO - Sigma_OS Sigma_SS^-1 Sigma_SO) * h / 252``;

    and the P&L ``v_S . s + v_O . r_O`` (USD, ``v`` the position values) is normal, so its
    quantiles are ``mean + z_q * sd``.
Historical (fat-tailed: nearest neighbours with a regression adjustment)
    From daily returns, every overlapping ``h``-day compounded return; the ``k`` windows
    whose shocked names' returns lie nearest to ``s`` (Mahalanobis distance with their
    sample covariance), each moved to the shock along the least-squares regression of the
    other names on the shocked ones over all windows: ``r_O + B' (s - r_S)`` (Beaumont et
    al.'s adjustment, floored at -1). The P&L of these ``k`` adjusted windows is the
    conditional distribution: the tails and the wider spread of crash periods, which the
    normal law misses, come from history. ``k = max(20, round(sqrt(n)))`` of ``n``
    windows: as ``n`` grows, ``k`` grows and ``k / n`` shrinks, so the estimate converges to
    the conditional law (overlapping windows make neighbours come in runs: a few episodes).

Units: shocks and moves are simple returns over the horizon (fractions); values and P&L in
USD; ``pnl_pct`` figures divide by the total value including cash (earning 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from types import MappingProxyType

import numpy as np
import pandas as pd

from portfolio.analytics.risk_measures import TRADING_DAYS_PER_YEAR
from portfolio.errors import DataError, InputError

__all__ = [
    "MIN_NEIGHBOURS",
    "QUANTILES",
    "ConditionalMoves",
    "ConditionalStress",
    "gaussian_conditional",
    "historical_conditional",
    "horizon_returns",
]

QUANTILES = (0.05, 0.01)
"""Lower quantiles of the P&L reported (5 % and 1 %)."""
MIN_NEIGHBOURS = 20
"""Fewest nearest windows of the historical method."""


@dataclass(frozen=True, eq=False)
class ConditionalMoves:
    """The moves of every holding and the P&L distribution given the shocks (one method).

    Attributes
    ----------
    method : str
        ``"gaussian"`` or ``"historical"``.
    moves : pd.Series
        Holding -> expected return over the horizon (fraction); a shocked holding's is its
        shock.
    spread : pd.Series
        Holding -> standard deviation of its return around ``moves`` (fraction; 0 for a
        shocked one).
    pnl : pd.Series
        Holding -> expected P&L (USD), ``value * move``.
    pnl_mean : float
        Expected P&L of the portfolio (USD).
    pnl_quantiles : Mapping[float, float]
        ``{0.05: USD, 0.01: USD}``: the P&L at these lower quantiles (a loss is negative).
    total_value : float
        Portfolio value including cash (USD).
    samples : int
        Windows behind the historical estimate (0 for the Gaussian one).
    nearest : tuple of Timestamp
        End dates of the nearest windows, nearest first (historical only).
    """

    method: str
    moves: pd.Series
    spread: pd.Series
    pnl: pd.Series
    pnl_mean: float
    pnl_quantiles: Mapping[float, float]
    total_value: float
    samples: int = 0
    nearest: tuple[pd.Timestamp, ...] = ()

    @property
    def pnl_pct(self) -> Mapping[str, float]:
        """``{"mean", "5%", "1%"}`` as fractions of the total value."""
        return {"mean": self.pnl_mean / self.total_value,
                **{f"{round(100 * q)}%": v / self.total_value
                   for q, v in self.pnl_quantiles.items()}}


@dataclass(frozen=True, eq=False)
class ConditionalStress:
    """Both methods' answer for one portfolio and one set of shocks.

    Attributes
    ----------
    given : Mapping[str, float]
        Shocked ticker -> return over the horizon (fraction).
    horizon_days : int
        Trading days the shocks happen over.
    values : pd.Series
        Holding -> value at the as-of close (USD).
    cash : float
        Cash (USD).
    gaussian : ConditionalMoves
        The closed form under the risk model's covariance.
    historical : ConditionalMoves or None
        The nearest-neighbour estimate (None when the history is too short).
    history : tuple of Timestamp or None
        First and last date of the daily returns behind the historical estimate.
    as_of : Timestamp or None
        Date of the closes the holdings are valued at.
    data_source, notice : str
        Provenance of the prices.
    warnings : tuple of str
        Names filled before their listing, a missing historical estimate.
    """

    given: Mapping[str, float]
    horizon_days: int
    values: pd.Series
    cash: float
    gaussian: ConditionalMoves
    historical: ConditionalMoves | None
    history: tuple[pd.Timestamp, pd.Timestamp] | None = None
    as_of: pd.Timestamp | None = None
    data_source: str = ""
    notice: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def total_value(self) -> float:
        """Positions plus cash (USD)."""
        return float(self.values.sum()) + self.cash

    @property
    def methods(self) -> tuple[ConditionalMoves, ...]:
        """The Gaussian answer, then the historical one when there is one."""
        return (self.gaussian,) + ((self.historical,) if self.historical is not None else ())


def gaussian_conditional(cov_annual: pd.DataFrame, shocks: Mapping[str, float],
                         values: pd.Series, horizon_days: int, cash: float = 0.0
                         ) -> ConditionalMoves:
    """Closed-form normal conditional moves and P&L (module docstring).

    Parameters
    ----------
    cov_annual : pd.DataFrame
        Annual covariance (fraction^2 a year) over the holdings and the shocked names.
    shocks : mapping
        Shocked ticker -> return over the horizon (fraction).
    values : pd.Series
        Holding -> position value at the as-of close (USD, no CASH).
    horizon_days : int
        Trading days the shocks happen over (scales the conditional spread).
    cash : float
        Cash (USD; counts in the total, moves 0).

    Returns
    -------
    ConditionalMoves
        Moves below -100 % (a huge shock times a large beta) are floored at -1.
    """
    given, others, total = _split(cov_annual.index, shocks, values, cash)
    s = np.array([shocks[t] for t in given])
    sigma = cov_annual.to_numpy(dtype=float)
    idx = {t: i for i, t in enumerate(cov_annual.index)}
    g, o = [idx[t] for t in given], [idx[t] for t in others]
    solve = np.linalg.solve(sigma[np.ix_(g, g)], np.column_stack([s, sigma[np.ix_(g, o)]]))
    mean_o = sigma[np.ix_(o, g)] @ solve[:, 0]
    cond = (sigma[np.ix_(o, o)] - sigma[np.ix_(o, g)] @ solve[:, 1:]) * (
        horizon_days / TRADING_DAYS_PER_YEAR)
    cond = (cond + cond.T) / 2.0
    moves = pd.Series(dict(zip(others, np.maximum(mean_o, -1.0))), dtype=float)
    spread = pd.Series(dict(zip(others, np.sqrt(np.clip(np.diag(cond), 0.0, None)))),
                       dtype=float)
    v_o = values.reindex(others).to_numpy(dtype=float)
    sd = math.sqrt(max(float(v_o @ cond @ v_o), 0.0))
    moves, spread = _with_shocks(moves, spread, shocks, values)
    mean = float((values * moves).sum())
    quantiles = {q: mean + NormalDist().inv_cdf(q) * sd for q in QUANTILES}
    return ConditionalMoves("gaussian", moves, spread, (values * moves).rename("pnl"), mean,
                            MappingProxyType(quantiles), total)


def horizon_returns(daily: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Every overlapping ``h``-day compounded return of complete daily returns.

    Parameters
    ----------
    daily : pd.DataFrame
        Daily simple returns (dates x tickers, fractions, each > -1, no NaN).
    horizon_days : int
        Window length in trading days.

    Returns
    -------
    pd.DataFrame
        Indexed by each window's last date: ``prod(1 + r) - 1`` over the ``h`` days ending
        there (``len(daily) - h + 1`` rows).
    """
    logs = np.log1p(daily.to_numpy(dtype=float))
    cumulative = np.vstack([np.zeros((1, logs.shape[1])), np.cumsum(logs, axis=0)])
    windows = np.expm1(cumulative[horizon_days:] - cumulative[:-horizon_days])
    return pd.DataFrame(windows, index=daily.index[horizon_days - 1:], columns=daily.columns)


def historical_conditional(daily: pd.DataFrame, shocks: Mapping[str, float],
                           values: pd.Series, horizon_days: int, cash: float = 0.0,
                           neighbours: int | None = None) -> ConditionalMoves:
    """Nearest-neighbour conditional moves and P&L from history (module docstring).

    Parameters
    ----------
    daily : pd.DataFrame
        Daily simple returns (dates x tickers) of the holdings and the shocked names,
        complete (no NaN; fill names listed late before calling).
    shocks, values, horizon_days, cash
        As for :func:`gaussian_conditional`.
    neighbours : int, optional
        ``k``; default ``max(MIN_NEIGHBOURS, round(sqrt(n)))`` of ``n`` windows.

    Returns
    -------
    ConditionalMoves
        ``samples`` = ``k``; ``nearest`` = end dates of the ``k`` windows, nearest first.

    Raises
    ------
    DataError
        NaN or a return at or below -1 in ``daily``, or fewer than ``2 * MIN_NEIGHBOURS``
        windows.
    """
    given, others, total = _split(daily.columns, shocks, values, cash)
    matrix = daily[[*given, *others]].to_numpy(dtype=float)
    if np.isnan(matrix).any() or (matrix <= -1.0).any():
        raise DataError("missing or impossible daily returns", "historical conditional stress",
                        "every name needs a return above -100 % on every date",
                        "fill the gaps first")
    windows = horizon_returns(daily[[*given, *others]], horizon_days)
    n = len(windows)
    if n < 2 * MIN_NEIGHBOURS:
        raise DataError(
            "too little history for the historical conditional stress",
            f"{n} windows of {horizon_days} trading days",
            f"at least {2 * MIN_NEIGHBOURS} are needed", "use a shorter horizon or more data",
        )
    k = min(n, neighbours or max(MIN_NEIGHBOURS, round(math.sqrt(n))))
    x = windows[given].to_numpy()
    y = windows[others].to_numpy()
    s = np.array([shocks[t] for t in given])
    nearest = _nearest(x, s, k)
    design = np.column_stack([np.ones(n), x])
    slopes = np.linalg.lstsq(design, y, rcond=None)[0][1:]
    adjusted = np.maximum(y[nearest] + (s - x[nearest]) @ slopes, -1.0)
    v_o = values.reindex(others).to_numpy(dtype=float)
    v_s = sum(float(values.get(t, 0.0)) * shocks[t] for t in given)
    pnl = v_s + adjusted @ v_o
    moves = pd.Series(adjusted.mean(axis=0), index=others, dtype=float)
    spread = pd.Series(adjusted.std(axis=0, ddof=1), index=others, dtype=float)
    moves, spread = _with_shocks(moves, spread, shocks, values)
    quantiles = {q: float(np.quantile(pnl, q)) for q in QUANTILES}
    return ConditionalMoves("historical", moves, spread, (values * moves).rename("pnl"),
                            float(pnl.mean()), MappingProxyType(quantiles), total, k,
                            tuple(windows.index[nearest]))


def _split(available: pd.Index, shocks: Mapping[str, float], values: pd.Series, cash: float
           ) -> tuple[list[str], list[str], float]:
    """Shocked names, the other holdings, and the total value; every name must be known."""
    given = list(shocks)
    others = [t for t in values.index if t not in shocks]
    missing = [t for t in (*given, *others) if t not in available]
    if missing:
        raise InputError(f"no risk estimate for {', '.join(missing)}", "conditional stress",
                         "every shocked name and holding needs returns",
                         "load prices for these tickers")
    if not given:
        raise InputError("no shock given", "conditional stress",
                         "at least one name must be shocked", "give e.g. {'NVDA': -0.30}")
    total = float(values.sum()) + cash
    if total <= 0:
        raise InputError("the portfolio is worth nothing", "conditional stress",
                         "a P&L needs a positive value", "check the holdings")
    return given, others, total


def _with_shocks(moves: pd.Series, spread: pd.Series, shocks: Mapping[str, float],
                 values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Moves and spreads in holdings order, a shocked holding at its shock with spread 0."""
    for ticker, shock in shocks.items():
        if ticker in values.index:
            moves[ticker], spread[ticker] = shock, 0.0
    order = list(values.index)
    return moves.reindex(order).rename("move"), spread.reindex(order).rename("spread")


def _nearest(x: np.ndarray, s: np.ndarray, k: int) -> np.ndarray:
    """Rows of ``x`` nearest to ``s`` in Mahalanobis distance, nearest first (``k`` of them)."""
    centred = x - s
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    distances = np.einsum("ij,ij->i", centred @ np.linalg.pinv(cov), centred)
    chosen = np.argpartition(distances, k - 1)[:k]
    return chosen[np.argsort(distances[chosen], kind="stable")]
