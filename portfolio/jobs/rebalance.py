"""The rebalancing job: current holdings + a target -> orders, before/after risk and limits.

:func:`rebalance` is what ``portfolio rebalance`` runs; :func:`drift_check` is
``portfolio rebalance --check``.  The order arithmetic lives in :mod:`portfolio.trading.orders`
(pure, no config); this module wires it to a :class:`~portfolio.config.Config`, the prices
at the as-of close and the risk report.

Units
-----
Shares are share counts, prices and cash USD (9984.T converted to USD at the as-of
close), weights fractions of portfolio value (0.25 = 25 %) with ``"CASH"`` as a weight.
Before-trade weights are fractions of the value before trading, after-trade weights of
the value after fees.

Steps of :func:`rebalance`
--------------------------
1. Value the holdings at the as-of close (:func:`~portfolio.analytics.risk.value_holdings`).
2. The target: a weights mapping (e.g. from ``--target FILE``), or the config's optimiser
   result computed with the current weights (for turnover limits and costs).
3. Orders from :func:`~portfolio.trading.orders.plan_rebalance` with the config's
   ``[trading]`` settings (cost in bps plus a minimum fee per order, the no-trade band,
   whole shares unless ``fractional``) and ``limits.cash_floor``.
4. **Limit repair.**  Rounding to whole shares (and the no-trade band) can push a name
   just over a cap the target sits on, e.g. GOOGL at 20.03 % against a 20 % cap.  Every
   limit the target meets is evaluated on the after-trade weights with the same limit
   objects the optimiser uses (:func:`~portfolio.optimization.constraints.constraints_from_config` +
   :func:`~portfolio.optimization.constraints.check_all`).  For each one broken, the target of one
   name in the limit is moved to or from cash by the excess plus half a share -- the name
   with the most room under the other limits -- and the orders are planned again, at most
   :data:`MAX_REPAIR_ROUNDS` times.  The plan kept breaks no limit that plain rounding
   keeps, and among those has the fewest broken limits, then the smallest total excess
   (the plain plan wins ties).  Each moved target is named in ``notes``; every limit
   still broken is reported there as ``"rounding makes <limit> unreachable by <x> %"``.
   Limits the target itself breaches are reported as such (the orders cannot meet them
   either).
5. Risk before and after (:func:`~portfolio.analytics.risk.risk_report`) on the same market
   data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolio.config import Config, load_config
from portfolio.optimization.constraints import CASH, Constraint, LimitCheck, check_all, constraints_from_config
from portfolio.data.holdings import MEMORY_SOURCE, Holdings
from portfolio.errors import InputError
from portfolio.trading.orders import Order, RebalancePlan, TradingCosts, plan_rebalance
from portfolio.analytics.risk import RiskReport, risk_context, risk_report, value_holdings
from portfolio.jobs.market import (
    DataOptions,
    MarketData,
    market_data,
    optimize_from_config,
    theme_exposures,
)

__all__ = [
    "MAX_REPAIR_ROUNDS",
    "DriftCheck",
    "RebalanceRun",
    "drift_check",
    "rebalance",
]

MAX_REPAIR_ROUNDS = 25
"""Most re-plans spent keeping the limits the target meets (step 4 of the module docstring)."""

WEIGHT_SUM_TOLERANCE = 1e-6
"""Absolute tolerance on the sum of target weights (fractions, CASH included)."""

AFTER_SOURCE = "holdings after the orders"
DEFAULT_DATA_OPTIONS = DataOptions()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class RebalanceRun:
    """Everything ``portfolio rebalance`` shows (immutable; compared by identity).

    Attributes
    ----------
    plan : RebalancePlan
        The orders with before / after shares, cash and weights, turnover and costs.
        ``plan.target_weights`` is the target the orders were planned for (after the
        limit repair of the module docstring); ``target`` is the one asked for.
    before, after : RiskReport
        Risk of the holdings before and after the orders (same prices, same config).
    target : pandas.Series
        Target weights as asked for, every universe ticker plus ``"CASH"``; sums to 1.
    target_source : str
        Where the target came from: ``"optimizer"``, the target file, or ``"<memory>"``.
    objective : str or None
        The optimiser objective when the target is the config's allocation, else None.
    orders : tuple of Order
        Sells first, then buys (``plan.orders``).
    notes : tuple of str
        Plain-language remarks: engine notes (cash floor, band, remainders), targets moved
        to keep a limit, limits rounding makes unreachable, limits the target breaches.
    breaches_before, breaches_after : tuple of LimitCheck
        Limit rows that do not hold before / after trading.
    unreachable : tuple of LimitCheck
        After-trade rows of limits the target meets but the orders do not.
    adjusted : tuple of str
        Tickers whose target was moved so that the orders keep a limit (see ``notes``).
    as_of : pandas.Timestamp
        Date of the closes used.
    data_source : str
        ``bundled``, ``cache`` or ``yahoo``.
    notice : str
        Data provenance line.
    warnings : tuple of str
        Risk-model warnings (short histories, back-cast renormalisation).
    """

    plan: RebalancePlan
    before: RiskReport
    after: RiskReport
    target: pd.Series
    target_source: str
    objective: str | None
    orders: tuple[Order, ...]
    notes: tuple[str, ...]
    breaches_before: tuple[LimitCheck, ...]
    breaches_after: tuple[LimitCheck, ...]
    unreachable: tuple[LimitCheck, ...]
    adjusted: tuple[str, ...]
    as_of: pd.Timestamp
    data_source: str
    notice: str
    warnings: tuple[str, ...]

    @property
    def turnover(self) -> float:
        """One-way turnover, fraction of the value before trading."""
        return self.plan.turnover

    @property
    def total_cost(self) -> float:
        """Sum of the order fees, USD."""
        return self.plan.total_cost

    @property
    def value_before(self) -> float:
        """Portfolio value before trading, USD."""
        return float(self.before.total_value)

    @property
    def value_after(self) -> float:
        """Portfolio value after trading and fees, USD."""
        return float(self.after.total_value)

    @property
    def after_holdings(self) -> Holdings:
        """Shares (> 0) and cash after the orders."""
        return _after_holdings(self.plan)

    @property
    def fixed(self) -> tuple[str, ...]:
        """Names of the limits breached before and met after."""
        after = {row.name for row in self.breaches_after}
        return tuple(row.name for row in self.breaches_before if row.name not in after)


@dataclass(frozen=True, eq=False)
class DriftCheck:
    """The limit table of the current holdings (``portfolio rebalance --check``).

    Attributes
    ----------
    weights : pandas.Series
        Fractions of value per held ticker plus ``"CASH"`` (last); sums to 1.
    value : float
        Portfolio value, USD.
    limits : tuple of LimitCheck
        Every limit row of the config at ``weights``.
    as_of, data_source, notice
        As in :class:`RebalanceRun`.
    """

    weights: pd.Series
    value: float
    limits: tuple[LimitCheck, ...]
    as_of: pd.Timestamp
    data_source: str
    notice: str

    @property
    def breaches(self) -> tuple[LimitCheck, ...]:
        """Limit rows that do not hold."""
        return tuple(row for row in self.limits if not row.ok)

    @property
    def ok(self) -> bool:
        """True when every limit holds."""
        return not self.breaches


# --------------------------------------------------------------------------- the jobs


def drift_check(
    holdings: Holdings,
    *,
    config: Config | None = None,
    options: DataOptions = DEFAULT_DATA_OPTIONS,
    market: MarketData | None = None,
) -> DriftCheck:
    """Evaluate every limit of the config on the current holdings (no orders).

    Parameters
    ----------
    holdings : Holdings
        Shares per ticker and cash (USD).
    config : Config, optional
        Universe and limits (default: the packaged config).
    options : DataOptions
        Price source and as-of date when ``market`` is not given.
    market : MarketData, optional
        Prices already loaded.

    Returns
    -------
    DriftCheck

    Raises
    ------
    InputError
        A ticker outside the universe, or a held ticker without a price at the as-of date.
    DataError
        From loading prices.
    """
    config = config if config is not None else load_config()
    config.check_known(holdings.tickers(), holdings.source)
    market = market if market is not None else market_data(config, options)
    valuation = value_holdings(holdings, market.prices.loc[market.as_of])
    limits = check_all(_limit_objects(config), valuation.weights, config.tickers)
    return DriftCheck(
        weights=valuation.weights,
        value=valuation.total,
        limits=limits,
        as_of=market.as_of,
        data_source=market.frame.source,
        notice=market.frame.notice,
    )


def rebalance(
    holdings: Holdings,
    *,
    config: Config | None = None,
    target: Mapping[str, float] | pd.Series | None = None,
    options: DataOptions = DEFAULT_DATA_OPTIONS,
    market: MarketData | None = None,
    fractional: bool = False,
    target_source: str | None = None,
) -> RebalanceRun:
    """Turn current holdings and a target into orders, with risk and limits before and after.

    Parameters
    ----------
    holdings : Holdings
        Shares per ticker and cash (USD) now.
    config : Config, optional
        Universe, limits, optimiser and ``[trading]`` settings (default: the packaged
        config).
    target : mapping or pandas.Series, optional
        Target weights (fractions by ticker, may include ``"CASH"``): with CASH they sum
        to 1, without it to at most 1 and the rest is cash.  Default: the config's
        optimiser result given the current weights.
    options : DataOptions
        Price source and as-of date when ``market`` is not given.
    market : MarketData, optional
        Prices already loaded (used for the orders and both risk reports).
    fractional : bool
        Fractional-share orders instead of the config's ``trading.whole_shares``.
    target_source : str, optional
        Where ``target`` came from (e.g. its file), for messages and the report.

    Returns
    -------
    RebalanceRun
        See the module docstring for the steps and the limit repair.

    Raises
    ------
    InputError
        Unknown tickers in the holdings or target, target weights that are negative or do
        not sum to 1, a held or targeted ticker without a price at the as-of date.
    DataError, ConfigError, InfeasibleError, SolverError
        From loading prices and optimising.
    """
    config = config if config is not None else load_config()
    config.check_known(holdings.tickers(), holdings.source)
    market = market if market is not None else market_data(config, options)
    closes = market.prices.loc[market.as_of]
    current = value_holdings(holdings, closes).weights

    warnings: list[str] = []
    if target is None:
        run = optimize_from_config(config, market=market, current_weights=current.to_dict())
        target_weights = _full_target(run.allocation.weights, config)
        target_source, objective = "optimizer", config.optimizer.objective
        warnings += run.warnings
    else:
        target_source, objective = target_source or MEMORY_SOURCE, None
        target_weights = _checked_target(target, config, target_source)
    _check_priced(target_weights, closes, market.as_of)

    trading = config.trading
    settings = {
        "costs": TradingCosts(bps=trading.cost_bps, min_fee=trading.min_fee),
        "cash_floor": config.limits.cash_floor,
        "whole_shares": trading.whole_shares and not fractional,
        "no_trade_weight": trading.no_trade_weight,
        "no_trade_dollars": trading.no_trade_dollars,
    }
    shares = pd.Series({t: float(s) for t, s in holdings.shares.items() if s > 0}, dtype=float)
    limits = _limit_objects(config)
    plan, moved = _plan_within_limits(
        shares, float(holdings.cash), closes, target_weights, settings, limits, config.tickers
    )

    context = risk_context(config, market)  # one estimate for both reports
    before = risk_report(holdings, context=context)
    after = risk_report(_after_holdings(plan), context=context)
    target_rows = check_all(limits, target_weights, config.tickers)
    met_by_target = {row.name for row in target_rows if row.ok}
    unreachable = tuple(row for row in after.breaches if row.name in met_by_target)

    notes = list(plan.notes)
    notes += _moved_notes(moved, target_weights, plan.after_weights)
    notes += [_unreachable_note(row, settings["whole_shares"]) for row in unreachable]
    notes += [
        f"the target itself breaches {row.name} ({_pct(row.value)} against "
        f"{row.sense} {_pct(row.limit)}), so the orders cannot meet it"
        for row in target_rows if not row.ok
    ]
    max_turnover = config.limits.max_turnover
    if max_turnover is not None and plan.turnover > max_turnover + WEIGHT_SUM_TOLERANCE:
        notes.append(
            f"turnover {_pct(plan.turnover)} is above the max_turnover limit {_pct(max_turnover)}"
        )
    for warning in (*before.warnings, *after.warnings):
        if warning not in warnings:
            warnings.append(warning)

    return RebalanceRun(
        plan=plan,
        before=before,
        after=after,
        target=target_weights,
        target_source=target_source,
        objective=objective,
        orders=plan.orders,
        notes=tuple(notes),
        breaches_before=before.breaches,
        breaches_after=after.breaches,
        unreachable=unreachable,
        adjusted=tuple(moved),
        as_of=market.as_of,
        data_source=market.frame.source,
        notice=market.frame.notice,
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------- inputs


def _limit_objects(config: Config) -> tuple[Any, ...]:
    """The optimiser's limit objects (theme caps included), as the risk report builds them."""
    return constraints_from_config(config, exposures=theme_exposures(config))


def _full_target(weights: pd.Series, config: Config) -> pd.Series:
    """Every universe ticker (0 when absent) then CASH, as floats."""
    index = [*config.tickers, CASH]
    return weights.reindex(index).fillna(0.0).astype(float).rename("weight")


def _checked_target(
    target: Mapping[str, float] | pd.Series, config: Config, where: str
) -> pd.Series:
    """Validate target weights like a target file: known tickers, in [0, 1], summing to 1.

    Weights within 1e-6 outside [0, 1] (float noise such as ``1 - sum(...)``) are
    accepted and clipped to the range.
    """
    if not isinstance(target, pd.Series | Mapping):
        raise InputError(
            "target weights have no tickers", where,
            "weights are aligned by ticker, never by position",
            "pass a mapping or a pandas Series indexed by ticker",
        )
    items = list(target.items())
    tickers = [str(ticker).strip().upper() for ticker, _ in items]
    repeated = sorted({t for t in tickers if tickers.count(t) > 1})
    if repeated:
        raise InputError(
            f"duplicate ticker {repeated[0]} in the target weights", where,
            "each ticker may appear once", "merge the duplicate weights",
        )
    config.check_known(tickers, where)
    weights: dict[str, float] = {}
    for ticker, (_, raw) in zip(tickers, items):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        tolerated = -WEIGHT_SUM_TOLERANCE <= value <= 1 + WEIGHT_SUM_TOLERANCE
        if not (math.isfinite(value) and tolerated):
            raise InputError(
                f"invalid target weight {raw!r} for {ticker}", where,
                "target weights are fractions between 0 and 1 (no short positions)",
                "write e.g. 0.25 for 25 %",
            )
        weights[ticker] = max(value, 0.0)  # -1e-16 from float arithmetic is 0
    total = math.fsum(weights.values())
    if CASH in weights:
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            invested = total - weights[CASH]
            raise InputError(
                f"target weights sum to {total:.6g}, not 1", where,
                "with a CASH weight, all weights including CASH must sum to 1 (100 %)",
                f"set CASH to {1.0 - invested:.6g}" if 0 <= 1.0 - invested <= 1
                else "scale the weights so that they sum to 1",
            )
    elif total > 1.0 + WEIGHT_SUM_TOLERANCE:
        raise InputError(
            f"target weights sum to {total:.6g}, more than 1", where,
            "the weights must sum to at most 1 (100 %); the remainder is held as cash",
            f"reduce the weights by {total - 1.0:.6g} in total",
        )
    else:
        weights[CASH] = max(1.0 - total, 0.0)
    return _full_target(pd.Series(weights, dtype=float), config)


def _check_priced(target: pd.Series, closes: pd.Series, as_of: pd.Timestamp) -> None:
    """Every ticker with a positive target weight needs a price at the as-of close."""
    wanted = [t for t, w in target.items() if t != CASH and w > 0]
    prices = pd.to_numeric(closes.reindex(wanted), errors="coerce")
    unpriced = [t for t in wanted if not (np.isfinite(prices[t]) and prices[t] > 0)]
    if unpriced:
        names = ", ".join(unpriced)
        date = pd.Timestamp(as_of).date()
        raise InputError(
            f"no price for {names} on {date}", f"target weights, ticker {unpriced[0]}",
            f"an order is priced at the as-of close and the price data has none for {names} "
            "(not yet listed then, or a gap in the data)",
            f"use a later --as-of date or give {names} a target weight of 0",
        )


def _after_holdings(plan: RebalancePlan) -> Holdings:
    shares = {str(t): float(s) for t, s in plan.after_shares.items() if s > 0}
    return Holdings(shares=shares, cash=float(plan.after_cash), source=AFTER_SOURCE)


# --------------------------------------------------------------------------- limit repair


@dataclass(frozen=True)
class _LinearLimit:
    """One limit row ``loadings @ w (+ constant) sense limit`` over the universe tickers."""

    sense: str
    loadings: np.ndarray


def _linear_limits(constraints: Sequence[Any], tickers: Sequence[str]) -> dict[str, _LinearLimit]:
    """Loadings of every limit row, read off the limit objects on unit weight vectors.

    The limits of :func:`_limit_objects` are linear in the risky weights (no turnover
    row, which needs current weights), so ``values(e_j) - values(0)`` is column ``j``.
    """
    n = len(tickers)
    rows: dict[str, _LinearLimit] = {}
    for constraint in constraints:
        if not isinstance(constraint, Constraint):
            continue
        labels, _ = constraint.rows(tickers)
        base = np.asarray(constraint.values(np.zeros(n), tickers), dtype=float)
        columns = [np.asarray(constraint.values(unit, tickers), dtype=float) - base
                   for unit in np.eye(n)]
        matrix = np.column_stack(columns) if columns else np.zeros((len(labels), 0))
        for label, loadings in zip(labels, matrix):
            rows[label] = _LinearLimit(constraint.sense, loadings)
    return rows


def _plan_within_limits(
    shares: pd.Series,
    cash: float,
    closes: pd.Series,
    target: pd.Series,
    settings: dict[str, Any],
    constraints: Sequence[Any],
    tickers: Sequence[str],
) -> tuple[RebalancePlan, dict[str, tuple[str, ...]]]:
    """Plan the orders, re-planning with moved targets while a limit the target meets breaks.

    Returns the plan kept and, per ticker whose target was moved, the limits it was
    moved for (see step 4 of the module docstring).
    """
    linear = _linear_limits(constraints, tickers)
    kept = {row.name for row in check_all(constraints, target, tickers) if row.ok}
    prices = pd.to_numeric(closes.reindex(list(tickers)), errors="coerce").astype(float)

    def plan_for(weights: pd.Series) -> RebalancePlan:
        wanted = [t for t in weights.index if t == CASH or weights[t] > 0]
        return plan_rebalance(shares, cash, closes, weights[wanted], **settings)

    def broken_rows(plan: RebalancePlan) -> list[LimitCheck]:
        rows = check_all(constraints, plan.after_weights, tickers)
        return [row for row in rows if not row.ok and row.name in kept]

    adjusted = target.copy()
    plan = plan_for(adjusted)
    plain_broken = {row.name for row in broken_rows(plan)}

    def score(broken: list[LimitCheck]) -> tuple[int, int, float]:
        """(new breaches against the plain plan, breaches, total excess): lower is better."""
        new = sum(row.name not in plain_broken for row in broken)
        return new, len(broken), math.fsum(row.excess for row in broken)

    reasons: dict[str, list[str]] = {}
    best = (score(broken_rows(plan)), plan, {})
    seen = {tuple(np.round(adjusted.to_numpy(), 12))}
    for _ in range(MAX_REPAIR_ROUNDS):
        broken = broken_rows(plan)
        if not broken:
            break
        after_rows = check_all(constraints, plan.after_weights, tickers)
        move = _move_targets(adjusted, broken, after_rows, kept, linear, prices, plan)
        if move is None:
            break
        adjusted, ticker, row_name = move
        state = tuple(np.round(adjusted.to_numpy(), 12))
        if state in seen:
            break
        seen.add(state)
        if row_name not in reasons.setdefault(ticker, []):
            reasons[ticker].append(row_name)
        plan = plan_for(adjusted)
        candidate = score(broken_rows(plan))
        if candidate < best[0]:
            changed = (adjusted - target).abs() > 1e-12
            best = (candidate, plan, {t: tuple(r) for t, r in reasons.items() if changed[t]})
    return best[1], best[2]


def _move_targets(
    target: pd.Series,
    broken: list[LimitCheck],
    after_rows: Sequence[LimitCheck],
    kept: set[str],
    linear: dict[str, _LinearLimit],
    prices: pd.Series,
    plan: RebalancePlan,
) -> tuple[pd.Series, str, str] | None:
    """One move of target weight between a name and cash; None if nothing can move.

    A move of ``delta`` from cash into name ``j`` changes row ``r`` by
    ``loadings[r, j] * delta``.  Over the broken rows and the names in them, the move
    chosen is, in this order of preference: one whose whole shares can close the gap
    within the name's room (how far it can move before another kept limit breaks), the
    largest excess, the most room.  The amount is the excess plus half a share of the
    name.  Returns the moved target, the ticker and the row name.
    """
    tickers = list(prices.index)
    value_after = float(plan.after_cash) + float(
        (plan.after_shares * plan.prices.reindex(plan.after_shares.index)).sum()
    )
    share_weight = (prices / value_after).to_numpy()
    status = [(row, linear[row.name]) for row in after_rows if row.name in kept]
    best: tuple[tuple[bool, float, float, float, int], LimitCheck, int, int] | None = None
    for row in broken:
        loadings = linear[row.name].loadings
        lowers = row.sense == "<="
        for j, ticker in enumerate(tickers):
            a = float(loadings[j])
            if a == 0 or not np.isfinite(share_weight[j]):
                continue
            direction = -1 if (a > 0) == lowers else 1  # -1: name -> cash, +1: cash -> name
            available = target[ticker] if direction < 0 else target[CASH]
            if available <= 0:
                continue
            room = _room(j, direction, row.name, status, available)
            whole_shares = math.ceil(row.excess / abs(a) / share_weight[j]) * share_weight[j]
            key = (whole_shares <= room + 1e-12, row.excess, room, abs(a), -j)
            if best is None or key > best[0]:
                best = (key, row, j, direction)
    if best is None:
        return None
    _, row, j, direction = best
    ticker = tickers[j]
    size = abs(float(linear[row.name].loadings[j]))
    delta = (row.excess + 0.5 * size * share_weight[j]) / size
    delta = min(delta, target[ticker] if direction < 0 else target[CASH])
    if not delta > 0:
        return None
    moved = target.copy()
    moved[ticker] += direction * delta
    moved[CASH] -= direction * delta
    return moved, ticker, row.name


def _room(
    j: int,
    direction: int,
    fixing: str,
    status: Sequence[tuple[LimitCheck, _LinearLimit]],
    available: float,
) -> float:
    """How much weight can move for name ``j`` before another kept limit breaks."""
    room = available
    for row, limit in status:
        if row.name == fixing:
            continue
        change = direction * float(limit.loadings[j])
        if row.sense == "<=" and change > 0:
            room = min(room, max(row.limit - row.value, 0.0) / change)
        elif row.sense == ">=" and change < 0:
            room = min(room, max(row.value - row.limit, 0.0) / -change)
    return room


# --------------------------------------------------------------------------- notes


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _moved_notes(
    moved: Mapping[str, Sequence[str]], asked: pd.Series, after: pd.Series
) -> list[str]:
    return [
        f"{ticker} ends at {_pct(float(after.get(ticker, 0.0)))} against its "
        f"{_pct(float(asked.get(ticker, 0.0)))} target so that the orders keep "
        f"{', '.join(limits)}"
        for ticker, limits in moved.items()
    ]


def _unreachable_note(row: LimitCheck, whole_shares: bool) -> str:
    cause = "rounding makes" if whole_shares else "the cash floor and no-trade band make"
    return (
        f"{cause} {row.name} unreachable by {_pct(row.excess)} ({_pct(row.value)} after "
        f"trading against {row.sense} {_pct(row.limit)}, which the target meets)"
    )
