"""The least trading that brings every limit back: a target for ``rebalance --mode minimal``.

An investor with a concentrated, appreciated position (650 NVDA shares, 83 % of the
portfolio) wants the smallest trade that restores the limits, not a jump to the
optimiser's allocation. :func:`minimal_trade_target` solves two linear programmes on the
weights ``w`` (risky, fractions of value) and cash ``c``:

1. minimise the one-way turnover ``T = 0.5 * (sum_i |w_i - w0_i| + |c - c0|)`` subject to
   ``sum(w) + c = 1``, every per-name cap and floor, every linear limit row (group caps
   and floors, theme caps, the cash floor) and -- with a reference -- cash at most
   ``max(c0, c_ref)``: the least trading ``T*`` that restores the limits *and reinvests
   the proceeds* of the forced sales rather than parking them in cash (if the cash cap
   cannot hold with the limits it is dropped);
2. among the portfolios with ``T <= T* (1 + 1e-9)``, the one closest (L1) to the
   reference allocation (the optimiser's target): the proceeds go toward it.

Selling into cash and buying with the proceeds have the same one-way turnover, so
without the cash cap the least-turnover portfolio may leave a quarter of the book in
cash when a theme cap blocks every name the reference would buy (on the example
holdings: 26 % cash).

A ``max_turnover`` below ``T*`` is infeasible: the error names both numbers. Both LPs
(:mod:`portfolio.optimization.turnover`) run on HiGHS. Weights are fractions of value;
``CASH`` is a weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from portfolio.errors import InfeasibleError
from portfolio.optimization.constraints import MaxTurnover
from portfolio.optimization.turnover import closest_within_turnover, least_turnover, turnover_set
from portfolio.weights import CASH, weights_and_cash

__all__ = ["REBALANCE_MODES", "TURNOVER_SLACK", "minimal_trade_target", "turnover_between"]

REBALANCE_MODES = ("target", "minimal")
"""``[trading] mode`` / ``rebalance --mode``: trade to the target, or the least trading."""

TURNOVER_SLACK = 1e-9
"""Relative slack on the least turnover allowed to the second programme."""


def minimal_trade_target(
    current: pd.Series,
    constraints: Sequence[Any],
    tickers: Sequence[str],
    reference: pd.Series | None = None,
    max_turnover: float | None = None,
) -> tuple[pd.Series, float]:
    """The target with the least turnover that meets every limit (module docstring).

    Parameters
    ----------
    current : Series
        Current weights by ticker with ``CASH`` (fractions, sum 1).
    constraints : sequence
        Limit objects: per-name caps and floors, linear rows (group caps and floors, theme
        caps, the cash floor); a :class:`MaxTurnover` among them caps the turnover like
        ``max_turnover``.
    tickers : sequence of str
        The universe.
    reference : Series, optional
        Weights with ``CASH`` to reinvest toward (default: none; the least-turnover
        portfolio the solver finds, proceeds possibly left in cash).
    max_turnover : float, optional
        Largest one-way turnover allowed (fraction).

    Returns
    -------
    target : Series
        Every universe ticker then ``CASH``; sums to 1.
    turnover : float
        Its one-way turnover against ``current``.

    Raises
    ------
    InfeasibleError
        The limits cannot all hold, or not within ``max_turnover``.
    """
    w0, c0 = weights_and_cash(current, tickers)
    caps = [item.limit for item in constraints if isinstance(item, MaxTurnover)]
    limit = min([*caps, *([max_turnover] if max_turnover is not None else [])], default=None)
    ref = None if reference is None else np.append(*weights_and_cash(reference, tickers))
    for cash_cap in ([1.0] if ref is None else [max(c0, float(ref[-1])), 1.0]):
        feasible = turnover_set(constraints, tickers, cash_bounds=(0.0, cash_cap))
        first = least_turnover(feasible, w0, c0)
        if first is not None:
            break
    if first is None:
        raise InfeasibleError("the limits cannot all hold at once", "rebalance --mode minimal",
                              "no portfolio meets every limit",
                              "run `portfolio optimize` to see which limits conflict")
    least, x = first
    if limit is not None and least > limit + 1e-9:
        needed = math.ceil(least * 1e4) / 1e4
        raise InfeasibleError(
            "the turnover cap is too small to bring every limit back",
            "limits.max_turnover / --max-turnover",
            f"the least trading that restores every limit turns over {least:.2%} one-way but "
            f"the cap is {limit:.2%}", f"raise the cap to at least {needed:.2%}",
            conflicts=("max_turnover",))
    if ref is not None:
        closest = closest_within_turnover(feasible, w0, c0, least * (1 + TURNOVER_SLACK) + 1e-12,
                                          ref)
        x = x if closest is None else closest
    weights = np.clip(x[: len(tickers)], 0.0, None)
    target = pd.Series([*weights, max(1.0 - weights.sum(), 0.0)], index=[*tickers, CASH])
    return target.rename("weight"), turnover_between(current, target, tickers)


def turnover_between(current: pd.Series, target: pd.Series, tickers: Sequence[str]) -> float:
    """One-way turnover ``0.5 * (sum |w - w0| + |c - c0|)`` between two weight Series."""
    w0, c0 = weights_and_cash(current, tickers)
    w1, c1 = weights_and_cash(target, tickers)
    return float(0.5 * (np.abs(w1 - w0).sum() + abs(c1 - c0)))
