"""The rebalancing job: current holdings + a target -> orders, before/after risk and limits.

:func:`rebalance` is what ``portfolio rebalance`` runs; :func:`drift_check` is
``portfolio rebalance --check``.  The order arithmetic lives in :mod:`portfolio.trading`
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
1. Value the holdings at the as-of close (:func:`~portfolio.analytics.valuation.value_holdings`).
2. The target: a weights mapping (e.g. from ``--target FILE``), or the config's optimiser
   result computed with the current weights (for turnover limits and costs).
3. Orders from :func:`~portfolio.trading.orders.plan_rebalance` with the config's
   ``[trading]`` settings (cost in bps plus a minimum fee per order, the no-trade band,
   whole shares unless ``fractional``) and ``limits.cash_floor``.
4. **Limit repair** (:func:`portfolio.trading.repair.plan_within_limits`): the orders are
   re-planned while whole-share rounding breaks a limit the target meets. Limits the target
   itself breaches are reported as such (the orders cannot meet them either).
5. Risk before and after (:func:`~portfolio.jobs.risk.risk_report`) on the same market
   data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolio.analytics.risk import RiskReport
from portfolio.analytics.valuation import value_holdings
from portfolio.config import Config, load_config
from portfolio.data.holdings import MEMORY_SOURCE, Holdings
from portfolio.errors import InputError
from portfolio.jobs.limits import constraints_from_config, theme_exposures
from portfolio.jobs.market import DataOptions, MarketData, market_data
from portfolio.jobs.optimize import optimize_from_config
from portfolio.jobs.risk import risk_context, risk_report
from portfolio.optimization.constraints import LimitCheck, check_all
from portfolio.optimization.explain import Explanation
from portfolio.trading.orders import Order, RebalancePlan, TradingCosts
from portfolio.trading.repair import plan_within_limits
from portfolio.weights import CASH, WEIGHT_TOLERANCE, parse_weights

__all__ = [
    "DriftCheck",
    "RebalanceRun",
    "drift_check",
    "rebalance",
]

AFTER_SOURCE = "holdings after the orders"


DEFAULT_DATA_OPTIONS = DataOptions()


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
    explanation : Explanation or None
        The optimiser's target explained, in USD of the holdings' value (None for a
        target given by the user).
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
    explanation: Explanation | None = None

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
    explanation = None
    if target is None:
        run = optimize_from_config(config, market=market, current_weights=current.to_dict(),
                                   capital=value_holdings(holdings, closes).total)
        explanation = run.explanation
        target_weights = _full_target(run.allocation.weights, config)
        target_source, objective = "optimizer", config.optimizer.objective
        warnings += run.warnings
    else:
        target_source, objective = target_source or MEMORY_SOURCE, None
        target_weights = _full_target(parse_weights(
            target, universe=config.tickers, what="target weights", where=target_source,
            universe_source=f"the configured universe ({config.source})"), config)
    _check_priced(target_weights, closes, market.as_of)
    whole_shares = config.trading.whole_shares and not fractional
    limits = _limit_objects(config)
    plan, moved = plan_within_limits(
        pd.Series({t: float(s) for t, s in holdings.shares.items() if s > 0}, dtype=float),
        float(holdings.cash), closes, target_weights, _order_settings(config, whole_shares),
        limits, config.tickers,
    )
    context = risk_context(config, market)  # one estimate for both reports
    before = risk_report(holdings, context=context)
    after = risk_report(_after_holdings(plan), context=context)
    target_rows = check_all(limits, target_weights, config.tickers)
    met_by_target = {row.name for row in target_rows if row.ok}
    unreachable = tuple(row for row in after.breaches if row.name in met_by_target)
    notes = _plan_notes(plan, moved, target_weights, target_rows, unreachable, whole_shares,
                        config.limits.max_turnover)
    for warning in (*before.warnings, *after.warnings):
        if warning not in warnings:
            warnings.append(warning)
    return RebalanceRun(
        plan=plan, before=before, after=after, target=target_weights,
        target_source=target_source, objective=objective, orders=plan.orders,
        notes=tuple(notes), breaches_before=before.breaches, breaches_after=after.breaches,
        unreachable=unreachable, adjusted=tuple(moved), as_of=market.as_of,
        data_source=market.frame.source, notice=market.frame.notice,
        warnings=tuple(warnings), explanation=explanation,
    )


def _order_settings(config: Config, whole_shares: bool) -> dict[str, Any]:
    """Keyword arguments of :func:`~portfolio.trading.orders.plan_rebalance` from ``[trading]``."""
    trading = config.trading
    return {
        "costs": TradingCosts(bps=trading.cost_bps, min_fee=trading.min_fee),
        "cash_floor": config.limits.cash_floor,
        "whole_shares": whole_shares,
        "no_trade_weight": trading.no_trade_weight,
        "no_trade_dollars": trading.no_trade_dollars,
    }


def _plan_notes(plan: RebalancePlan, moved: Mapping[str, tuple[str, ...]], target: pd.Series,
                target_rows: tuple[LimitCheck, ...], unreachable: tuple[LimitCheck, ...],
                whole_shares: bool, max_turnover: float | None) -> list[str]:
    """The plan's own notes, then moved targets, unreachable limits, breaches, turnover."""
    notes = list(plan.notes)
    notes += _moved_notes(moved, target, plan.after_weights)
    notes += [_unreachable_note(row, whole_shares) for row in unreachable]
    notes += [
        f"the target itself breaches {row.name} ({_pct(row.value)} against "
        f"{row.sense} {_pct(row.limit)}), so the orders cannot meet it"
        for row in target_rows if not row.ok
    ]
    if max_turnover is not None and plan.turnover > max_turnover + WEIGHT_TOLERANCE:
        notes.append(
            f"turnover {_pct(plan.turnover)} is above the max_turnover limit {_pct(max_turnover)}"
        )
    return notes


def _limit_objects(config: Config) -> tuple[Any, ...]:
    """The optimiser's limit objects (theme caps included), as the risk report builds them."""
    return constraints_from_config(config, exposures=theme_exposures(config))


def _full_target(weights: pd.Series, config: Config) -> pd.Series:
    """Every universe ticker (0 when absent) then CASH, as floats."""
    index = [*config.tickers, CASH]
    return weights.reindex(index).fillna(0.0).astype(float).rename("weight")


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
