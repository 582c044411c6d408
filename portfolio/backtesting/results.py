"""What a backtest produces: per-strategy paths, metrics and the run's manifest (immutable).

Units: equity and costs in USD, weights and turnover fractions of value, returns daily
simple returns, annual figures on 252 trading days (see :mod:`portfolio.analytics.metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from portfolio.analytics import metrics
from portfolio.backtesting.spec import BacktestConfig

__all__ = [
    "ANNUALISED",
    "TRADING_DAYS",
    "BacktestResult",
    "PerformanceMetrics",
    "RebalanceFailure",
    "StrategyResult",
    "equity_returns",
    "performance_metrics",
]

TRADING_DAYS = 252

ANNUALISED = ("cagr", "volatility", "sharpe", "sortino", "calmar", "annual_turnover",
              "cost_drag", "tracking_error")
"""The :class:`PerformanceMetrics` fields left out (NaN) for a period under a year."""


@dataclass(frozen=True)
class RebalanceFailure:
    """A rebalance that could not be computed; the positions were kept.

    Attributes
    ----------
    date : Timestamp
        Rebalance date.
    error : str
        One-line message of the error (infeasible limits, solver or data failure).
    """

    date: pd.Timestamp
    error: str


@dataclass(frozen=True)
class PerformanceMetrics:
    """Performance of one equity curve (strategy or benchmark).

    Attributes
    ----------
    cagr : float
        Compound annual growth rate (fraction/year).
    volatility : float
        Annualised volatility of daily returns (fraction).
    sharpe, sortino : float
        Annualised ratios of daily returns in excess of the cash rate.
    max_drawdown : float
        Largest peak-to-trough fall (positive fraction).
    drawdown_peak, drawdown_trough : Timestamp
        Dates of that peak and trough.
    drawdown_recovery : Timestamp or None
        First date back at the peak; None if not recovered.
    calmar : float
        CAGR / max drawdown.
    turnover : float
        Average one-way turnover per rebalance after inception (fraction of value).
    annual_turnover : float
        One-way turnover after inception per year (fraction).
    cost_drag : float
        Costs as a fraction of the pre-trade value, summed and divided by the years
        (fraction/year, inception included).
    total_costs : float
        USD charged.
    beta, tracking_error : float
        Against the first benchmark's daily returns (tracking error annualised).
    final_value : float
        USD at the end.
    rebalances : int
        Rebalances executed (inception included).
    failures : int
        Rebalance dates whose solve failed.
    total_return : float
        Final value over the initial capital, minus 1 (fraction, not annualised).
    days : int
        Daily returns measured. Under :data:`TRADING_DAYS` (a year) every annualised
        figure -- ``cagr``, ``volatility``, ``sharpe``, ``sortino``, ``calmar``,
        ``annual_turnover``, ``cost_drag``, ``tracking_error`` -- is NaN (null in JSON):
        a day's gain compounded over a year is not a performance.
    """

    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    drawdown_peak: pd.Timestamp
    drawdown_trough: pd.Timestamp
    drawdown_recovery: pd.Timestamp | None
    calmar: float
    turnover: float
    annual_turnover: float
    cost_drag: float
    total_costs: float
    beta: float
    tracking_error: float
    final_value: float
    rebalances: int
    failures: int
    total_return: float = float("nan")
    days: int = 0

    @property
    def annualised(self) -> bool:
        """True when the period is long enough (a year) for annualised figures."""
        return self.days >= TRADING_DAYS

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates as ISO strings, NaN/inf as None)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, pd.Timestamp):
                value = value.date().isoformat()
            elif isinstance(value, float) and not np.isfinite(value):
                value = None
            out[name] = value
        return out


@dataclass(frozen=True, eq=False)
class StrategyResult:
    """One strategy's path.

    Attributes
    ----------
    name, kind : str
        From the config.
    equity : Series
        Daily portfolio value, USD, after the day's trades and costs.
    returns : Series
        Daily simple returns; the first one is measured from the initial capital.
    weights : DataFrame
        Rebalance dates x (tickers + CASH): post-trade weights (fractions).
    daily_weights : DataFrame
        Trading dates x (tickers + CASH): weights at each close (drifted).
    trades : DataFrame
        Columns date, ticker, side (buy/sell), shares (fractional), price (USD),
        notional (USD, positive), cost (USD).
    turnover : Series
        One-way turnover per rebalance, ``0.5 * sum |value change| / value`` over
        tickers and cash.
    costs : Series
        USD charged per rebalance.
    reasons : Series
        Why each rebalance happened (inception, schedule, drift ..., limit ...).
    failures : tuple of RebalanceFailure
        Rebalance dates whose solve failed (positions kept).
    solvers : Mapping[str, int]
        Solves per solver name.
    metrics : PerformanceMetrics
        Summary figures.
    """

    name: str
    kind: str
    equity: pd.Series
    returns: pd.Series
    weights: pd.DataFrame
    daily_weights: pd.DataFrame
    trades: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    reasons: pd.Series
    failures: tuple[RebalanceFailure, ...]
    solvers: Mapping[str, int]
    metrics: PerformanceMetrics


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Everything a backtest produced.

    Attributes
    ----------
    config : BacktestConfig
        The validated config.
    strategies : Mapping[str, StrategyResult]
        By strategy name, in config order.
    benchmarks : DataFrame
        Trading dates x benchmark tickers: USD value of ``initial_capital`` invested at
        the first close.
    benchmark_metrics : Mapping[str, PerformanceMetrics]
        By benchmark ticker.
    cash_rate : Series
        Annual cash rate (fraction) credited on each date (the previous day's yield).
    start, end : Timestamp
        First and last trading date simulated.
    notes : tuple of str
        What the engine decided for the user (later start, shortened end, ignored limits).
    data_notice : str
        Provenance of the prices (source, last date).
    manifest : Mapping
        Run manifest (hashes, versions, solvers, period, created UTC).
    hindsight : str or None
        The note that the universe was chosen after the start (or at an unknown date);
        None when it was chosen before.
    warnings : tuple of str
        What the user must know to read the figures (a period under a year).
    """

    config: BacktestConfig
    strategies: Mapping[str, StrategyResult]
    benchmarks: pd.DataFrame
    benchmark_metrics: Mapping[str, PerformanceMetrics]
    cash_rate: pd.Series
    start: pd.Timestamp
    end: pd.Timestamp
    notes: tuple[str, ...]
    data_notice: str
    manifest: Mapping[str, Any] = field(default_factory=dict)
    hindsight: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def metrics(self) -> dict[str, PerformanceMetrics]:
        """Metrics by strategy name."""
        return {name: result.metrics for name, result in self.strategies.items()}

    @property
    def equity(self) -> pd.DataFrame:
        """Trading dates x (strategies + benchmarks), USD."""
        curves = {name: result.equity for name, result in self.strategies.items()}
        return pd.concat([pd.DataFrame(curves), self.benchmarks], axis=1)


def performance_metrics(
    equity: pd.Series,
    initial_capital: float,
    risk_free: pd.Series | float,
    benchmark_returns: pd.Series,
    *,
    turnover: pd.Series | None = None,
    costs: pd.Series | None = None,
    failures: int = 0,
    min_days: int = TRADING_DAYS,
) -> PerformanceMetrics:
    """Summary figures of a daily equity curve (wiring of :mod:`portfolio.analytics.metrics`).

    Parameters
    ----------
    equity : Series
        Daily values (USD) by date, at least 2.
    initial_capital : float
        Value before the first date (USD); the first return is ``equity[0] / initial - 1``.
    risk_free : Series or float
        Annual rate (fraction) by date, or a number; excess for Sharpe / Sortino.
    benchmark_returns : Series
        Daily returns of the benchmark on the same dates.
    turnover, costs : Series, optional
        Per rebalance (the first one is the inception); absent for benchmarks.
    failures : int
        Failed rebalances.
    min_days : int
        Fewest daily returns for the annualised figures (NaN below; a year by default).

    Returns
    -------
    PerformanceMetrics
    """
    returns = equity_returns(equity, initial_capital)
    years = len(returns) / TRADING_DAYS
    drawdown = metrics.max_drawdown(returns, kind="returns")
    turnover = turnover if turnover is not None else pd.Series(dtype=float)
    costs = costs if costs is not None else pd.Series(dtype=float)
    after_inception = turnover.iloc[1:]
    pre_trade_value = equity.reindex(costs.index) + costs
    growth_rate = metrics.cagr(returns)
    figures = PerformanceMetrics(
        cagr=growth_rate,
        volatility=metrics.annualized_volatility(returns),
        sharpe=metrics.sharpe(returns, risk_free),
        sortino=metrics.sortino(returns, risk_free),
        max_drawdown=drawdown.depth,
        drawdown_peak=drawdown.peak,
        drawdown_trough=drawdown.trough,
        drawdown_recovery=drawdown.recovery,
        calmar=metrics.calmar_ratio(growth_rate, drawdown.depth),
        turnover=float(after_inception.mean()) if len(after_inception) else 0.0,
        annual_turnover=float(after_inception.sum()) / years,
        cost_drag=float((costs / pre_trade_value).sum()) / years if len(costs) else 0.0,
        total_costs=float(costs.sum()),
        beta=metrics.beta(returns, benchmark_returns),
        tracking_error=metrics.tracking_error(returns, benchmark_returns),
        final_value=float(equity.iloc[-1]),
        rebalances=len(turnover),
        failures=failures,
        total_return=float(equity.iloc[-1] / initial_capital - 1.0),
        days=len(returns),
    )
    if len(returns) >= min_days:
        return figures
    return replace(figures, **dict.fromkeys(ANNUALISED, float("nan")))


def equity_returns(equity: pd.Series, initial_capital: float) -> pd.Series:
    """Daily simple returns of an equity curve; the first is measured from the capital."""
    previous = equity.shift(1)
    previous.iloc[0] = initial_capital
    return (equity / previous - 1.0).rename(equity.name)
