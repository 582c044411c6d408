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
   result computed with the current weights (for turnover limits and costs).  In
   ``minimal`` mode (``[trading] mode`` / ``--mode minimal``) that target is only the
   reference: the orders go to the least-turnover portfolio that meets every limit,
   reinvesting toward it (:func:`~portfolio.trading.minimal.minimal_trade_target`); the
   turnover limit then applies to that portfolio, not to the reference.
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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from portfolio.analytics.risk import RiskReport
from portfolio.analytics.valuation import value_holdings
from portfolio.config import Config, load_config
from portfolio.data.holdings import MEMORY_SOURCE, Holdings
from portfolio.errors import InputError, check_choice
from portfolio.jobs.limits import constraints_from_config, theme_exposures
from portfolio.jobs.market import DataOptions, MarketData, market_data
from portfolio.jobs.optimize import optimize_from_config
from portfolio.jobs.risk import risk_context, risk_report
from portfolio.optimization.constraints import LimitCheck, MaxWeight, check_all
from portfolio.optimization.explain import Explanation
from portfolio.trading.gains import RealisedGain, basis_after, realised_gains
from portfolio.trading.minimal import REBALANCE_MODES, minimal_trade_target, turnover_between
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
    mode : str
        ``"target"`` or ``"minimal"`` (module docstring, step 2).
    reference : pandas.Series or None
        In minimal mode the optimiser's (or given) target the trades reinvest toward,
        every universe ticker plus ``"CASH"``; None in target mode.
    after_holdings : Holdings
        Shares (> 0), cash and cost basis after the orders.
    realised : tuple of RealisedGain
        Gain or loss of each sell whose ticker has a cost basis in the holdings
        (:mod:`portfolio.trading.gains`).
    realised_unknown : tuple of str
        Tickers sold without a cost basis.
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
    after_holdings: Holdings
    explanation: Explanation | None = None
    mode: str = "target"
    reference: pd.Series | None = None
    realised: tuple[RealisedGain, ...] = ()
    realised_unknown: tuple[str, ...] = ()

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
    def realised_total(self) -> float | None:
        """Sum of the realised gains, USD; None when no sell has a cost basis."""
        return sum(item.gain for item in self.realised) if self.realised else None

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
    mode: str | None = None,
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
    mode : {"target", "minimal"}, optional
        Trade to the target, or the least trading that restores every limit (module
        docstring, step 2); default the config's ``trading.mode``.

    Returns
    -------
    RebalanceRun
        See the module docstring for the steps and the limit repair.

    Raises
    ------
    InputError
        Unknown tickers in the holdings or target, target weights that are negative or do
        not sum to 1, a held or targeted ticker without a price at the as-of date, an
        unknown mode.
    DataError, ConfigError, InfeasibleError, SolverError
        From loading prices and optimising; in minimal mode an InfeasibleError when the
        limits need more turnover than ``limits.max_turnover``.
    """
    config = config if config is not None else load_config()
    mode = mode if mode is not None else config.trading.mode
    check_choice(mode, REBALANCE_MODES, "rebalance mode", where="mode")
    config.check_known(holdings.tickers(), holdings.source)
    market = market if market is not None else market_data(config, options)
    closes = market.prices.loc[market.as_of]
    current = value_holdings(holdings, closes).weights
    asked = _asked_target(config, mode, market, holdings, current, target, target_source)
    warnings, target_weights, reference = list(asked.warnings), asked.weights, None
    limits = _limit_objects(config)
    if mode == "minimal":
        reference = target_weights
        unpriced = MaxWeight(1.0, {t: 0.0 for t in _unpriced(config.tickers, closes)})
        target_weights = _full_target(minimal_trade_target(
            current, (*limits, unpriced), config.tickers, reference=reference,
            max_turnover=config.limits.max_turnover)[0], config)
    _check_priced(target_weights, closes, market.as_of)
    whole_shares = config.trading.whole_shares and not fractional
    plan, moved = plan_within_limits(
        pd.Series({t: float(s) for t, s in holdings.shares.items() if s > 0}, dtype=float),
        float(holdings.cash), closes, target_weights, _order_settings(config, whole_shares),
        limits, config.tickers,
    )
    context = risk_context(config, market)  # one estimate for both reports
    before = risk_report(holdings, context=context)
    after_holdings = _after_holdings(plan, holdings)
    after = risk_report(after_holdings, context=context)
    target_rows = check_all(limits, target_weights, config.tickers)
    met_by_target = {row.name for row in target_rows if row.ok}
    unreachable = tuple(row for row in after.breaches if row.name in met_by_target)
    notes = _plan_notes(plan, moved, target_weights, target_rows, unreachable, whole_shares,
                        config.limits.max_turnover)
    if reference is not None:
        notes.insert(0, _minimal_note(plan.turnover, turnover_between(current, reference,
                                                                      config.tickers)))
    for warning in (*before.warnings, *after.warnings):
        if warning not in warnings:
            warnings.append(warning)
    realised, realised_unknown = realised_gains(plan.orders, holdings.cost_basis)
    return RebalanceRun(
        plan=plan, after_holdings=after_holdings, realised=realised,
        realised_unknown=realised_unknown if holdings.cost_basis else (),
        before=before, after=after, target=target_weights,
        target_source=asked.source, objective=asked.objective, orders=plan.orders,
        notes=tuple(notes), breaches_before=before.breaches, breaches_after=after.breaches,
        unreachable=unreachable, adjusted=tuple(moved), as_of=market.as_of,
        data_source=market.frame.source, notice=market.frame.notice,
        warnings=tuple(warnings), explanation=asked.explanation, mode=mode, reference=reference,
    )


@dataclass(frozen=True, eq=False)
class _AskedTarget:
    """The target asked for: the optimiser's (with its explanation) or the user's."""

    weights: pd.Series
    source: str
    objective: str | None = None
    explanation: Explanation | None = None
    warnings: tuple[str, ...] = ()


def _asked_target(config: Config, mode: str, market: MarketData, holdings: Holdings,
                  current: pd.Series, target: Mapping[str, float] | pd.Series | None,
                  target_source: str | None) -> _AskedTarget:
    """The given target, or the optimiser's (without the turnover cap in minimal mode)."""
    if target is not None:
        source = target_source or MEMORY_SOURCE
        return _AskedTarget(_full_target(parse_weights(
            target, universe=config.tickers, what="target weights", where=source,
            universe_source=f"the configured universe ({config.source})"), config), source)
    reference_config = (config if mode == "target" else
                        replace(config, limits=replace(config.limits, max_turnover=None)))
    closes = market.prices.loc[market.as_of]
    run = optimize_from_config(reference_config, market=market,
                               current_weights=current.to_dict(),
                               capital=value_holdings(holdings, closes).total)
    return _AskedTarget(_full_target(run.allocation.weights, config), "optimizer",
                        config.optimizer.objective, run.explanation, tuple(run.warnings))


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
    unpriced = _unpriced([t for t, w in target.items() if t != CASH and w > 0], closes)
    if unpriced:
        names = ", ".join(unpriced)
        date = pd.Timestamp(as_of).date()
        raise InputError(
            f"no price for {names} on {date}", f"target weights, ticker {unpriced[0]}",
            f"an order is priced at the as-of close and the price data has none for {names} "
            "(not yet listed then, or a gap in the data)",
            f"use a later --as-of date or give {names} a target weight of 0",
        )


def _unpriced(tickers: Sequence[str], closes: pd.Series) -> list[str]:
    """The tickers without a positive finite close."""
    prices = pd.to_numeric(closes.reindex(list(tickers)), errors="coerce")
    return [t for t in tickers if not (np.isfinite(prices[t]) and prices[t] > 0)]


def _after_holdings(plan: RebalancePlan, before: Holdings) -> Holdings:
    shares = {str(t): float(s) for t, s in plan.after_shares.items() if s > 0}
    basis = basis_after(plan.orders, before.shares, before.cost_basis)
    return Holdings(shares=shares, cash=float(plan.after_cash), source=AFTER_SOURCE,
                    cost_basis={t: b for t, b in basis.items() if t in shares})


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


def _minimal_note(turnover: float, full_move: float) -> str:
    return (
        f"minimal mode: {_pct(turnover)} turnover brings every limit back (trading to the "
        f"reference allocation would turn over {_pct(full_move)}); the proceeds are "
        "reinvested toward the reference"
    )


def _unreachable_note(row: LimitCheck, whole_shares: bool) -> str:
    cause = "rounding makes" if whole_shares else "the cash floor and no-trade band make"
    return (
        f"{cause} {row.name} unreachable by {_pct(row.excess)} ({_pct(row.value)} after "
        f"trading against {row.sense} {_pct(row.limit)}, which the target meets)"
    )
