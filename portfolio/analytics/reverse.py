"""Reverse stress: the most likely joint move that makes the portfolio lose a given fraction.

Returns ``r`` (simple, fractions) of the names of an annual covariance ``Sigma`` are taken as
normal with mean 0; the most likely move among those that lose ``L`` (USD) on positions
``v`` (USD) minimises the Mahalanobis distance::

    minimise  r' Sigma^-1 r   subject to   v . r = -L

Lagrange's conditions give the closed form (the portfolio is linear in ``r``)::

    r* = -L Sigma v / (v' Sigma v),      distance d = sqrt(r*' Sigma^-1 r*) = L / sqrt(v' Sigma v)

so each name moves with its covariance to the portfolio, names not held move too (their
co-move), and a holding's share of the loss, ``v_i r*_i / (-L) = v_i (Sigma v)_i / (v' Sigma v)``,
is its share of the portfolio's variance: the names that drive the loss are those that
carry the risk. ``d`` counts annual standard deviations of the portfolio's P&L, so under the
same normal model a loss of at least ``L`` within a year has probability ``Phi(-d)``.

A long position cannot lose more than its value: when the closed form takes a held name
below -100 %, the move is searched numerically with ``r_i >= -1`` (SLSQP), and ``method``
says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from portfolio.errors import InputError, SolverError

__all__ = ["DRIVER_SHARE", "ReverseStress", "reverse_stress_move"]

DRIVER_SHARE = 0.8
"""The drivers are the fewest names carrying at least this share of the loss."""


@dataclass(frozen=True, eq=False)
class ReverseStress:
    """The most likely move that loses ``loss`` of the portfolio (module docstring).

    Attributes
    ----------
    loss : float
        Loss as a fraction of the total value including cash.
    loss_usd : float
        The same in USD.
    moves : pd.Series
        Ticker -> return of the move (fraction): the holdings first, then the other names
        of the covariance (their co-move).
    pnl : pd.Series
        Holding -> P&L of the move (USD); sums to ``-loss_usd``.
    shares : pd.Series
        Holding -> share of the loss (fractions summing to 1), largest first.
    drivers : tuple of str
        The fewest holdings carrying at least :data:`DRIVER_SHARE` of the loss.
    distance : float
        Mahalanobis distance of the move under the annual covariance.
    probability : float
        ``Phi(-distance)``: chance of losing at least ``loss`` within a year under the
        normal, zero-mean model.
    method : str
        ``"closed form"`` or ``"numerical (moves floored at -100 %)"``.
    total_value : float
        Positions plus cash (USD).
    as_of : Timestamp or None
        Date of the closes the holdings are valued at (set by the job).
    data_source, notice : str
        Provenance of the prices (set by the job).
    warnings : tuple of str
        From the risk model (set by the job).
    """

    loss: float
    loss_usd: float
    moves: pd.Series
    pnl: pd.Series
    shares: pd.Series
    drivers: tuple[str, ...]
    distance: float
    probability: float
    method: str
    total_value: float = 0.0
    as_of: pd.Timestamp | None = None
    data_source: str = ""
    notice: str = ""
    warnings: tuple[str, ...] = ()


def reverse_stress_move(cov_annual: pd.DataFrame, values: pd.Series, cash: float = 0.0,
                        loss: float = 0.20) -> ReverseStress:
    """The most likely joint move that loses ``loss`` of the portfolio's value.

    Parameters
    ----------
    cov_annual : pd.DataFrame
        Annual covariance (fraction^2 a year) over at least the holdings.
    values : pd.Series
        Holding -> position value at the as-of close (USD, no CASH, > 0).
    cash : float
        Cash (USD): it counts in the total and does not move.
    loss : float
        Fraction of the total value to lose, in (0, 1).

    Returns
    -------
    ReverseStress

    Raises
    ------
    InputError
        ``loss`` outside (0, 1), a holding without a covariance, no risky position, or a
        loss larger than the value invested (cash cannot fall).
    """
    values = values[values > 0].astype(float)
    total = float(values.sum()) + cash
    _check(cov_annual, values, total, loss)
    target = loss * total
    held = list(values.index)
    names = held + [t for t in cov_annual.index if t not in values.index]
    sigma = cov_annual.loc[names, names].to_numpy(dtype=float)
    v = np.concatenate([values.to_numpy(), np.zeros(len(names) - len(held))])
    exposure = sigma @ v
    variance = float(v @ exposure)
    if variance <= 0:
        raise InputError("the holdings do not move in the risk model", "reverse stress",
                         "their variance is 0", "check the covariance")
    moves = -target * exposure / variance
    method = "closed form"
    if moves[: len(held)].min() < -1.0:
        moves = _floored(sigma, v, target, moves, len(held))
        method = "numerical (moves floored at -100 %)"
    distance = math.sqrt(max(float(moves @ np.linalg.solve(sigma, moves)), 0.0))
    return _result(loss, target, pd.Series(moves, index=names, name="move"), values,
                   distance, method, total)


def _check(cov: pd.DataFrame, values: pd.Series, total: float, loss: float) -> None:
    if not (isinstance(loss, int | float) and 0.0 < loss < 1.0):
        raise InputError(f"invalid loss {loss!r}", "reverse stress",
                         "the loss is a fraction of the portfolio's value in (0, 1)",
                         "write e.g. 0.20 for a 20 % loss")
    missing = [t for t in values.index if t not in cov.index]
    if missing:
        raise InputError(f"no risk estimate for {', '.join(missing)}", "reverse stress",
                         "every holding needs a covariance", "load prices for these tickers")
    invested = float(values.sum())
    if invested <= 0:
        raise InputError("no risky position", "reverse stress",
                         "cash alone cannot lose value", "hold a risky name")
    if loss * total > invested * (1 - 1e-9):
        raise InputError(
            f"a {100 * loss:g} % loss is impossible", "reverse stress",
            f"only {100 * invested / total:.1f} % of the value is invested and cash does not "
            "fall", f"choose a loss below {invested / total:.2f}",
        )


def _floored(sigma: np.ndarray, v: np.ndarray, target: float, start: np.ndarray,
             held: int) -> np.ndarray:
    """The least Mahalanobis move with ``v . r = -target`` and held names at or above -1.

    SLSQP, started from the closed form clipped at -1.
    """
    from scipy.optimize import minimize  # loaded on use

    precision = np.linalg.inv(sigma)
    precision = (precision + precision.T) / 2.0
    bounds = [(-1.0, None)] * held + [(None, None)] * (len(v) - held)
    x0 = np.maximum(start, -1.0)
    x0[:held] *= target / max(-float(v[:held] @ x0[:held]), 1e-12)  # back on the constraint
    done = minimize(lambda r: float(r @ precision @ r), np.maximum(x0, -1.0),
                    jac=lambda r: 2.0 * precision @ r, method="SLSQP", bounds=bounds,
                    constraints=[{"type": "eq", "fun": lambda r: float(v @ r) + target,
                                  "jac": lambda r: v}],
                    options={"ftol": 1e-12, "maxiter": 500})
    if not done.success or abs(float(v @ done.x) + target) > 1e-6 * target:
        raise SolverError("the reverse stress search failed", "reverse stress", done.message,
                          "choose a smaller loss")
    return done.x


def _result(loss: float, target: float, moves: pd.Series, values: pd.Series,
            distance: float, method: str, total: float) -> ReverseStress:
    pnl = (values * moves.reindex(values.index)).rename("pnl")
    shares = (pnl / -target).sort_values(ascending=False, kind="stable").rename("share")
    cumulative = shares.cumsum()
    count = int((cumulative < DRIVER_SHARE - 1e-12).sum()) + 1
    return ReverseStress(
        loss=loss, loss_usd=target, moves=moves, pnl=pnl, shares=shares,
        drivers=tuple(shares.index[:count]), distance=distance,
        probability=NormalDist().cdf(-distance), method=method, total_value=total,
    )
