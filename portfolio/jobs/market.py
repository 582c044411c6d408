"""End-to-end jobs driven by a :class:`~portfolio.config.Config`: one call per CLI command.

Each job loads prices once (:func:`market_data`), estimates what it needs and returns an
immutable result; nothing here prints or formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from portfolio.config import Config
from portfolio.optimization.constraints import constraints_from_config
from portfolio.data.prices import PriceFrame, load_prices
from portfolio.errors import DataError

if TYPE_CHECKING:
    from portfolio.analytics.exposure import DealGraph
    from portfolio.optimization.problem import Allocation

__all__ = [
    "DataOptions",
    "MarketData",
    "OptimizationRun",
    "estimate_inputs",
    "hub_exposure",
    "lookback_prices",
    "market_data",
    "optimize_from_config",
    "proxy_filled_returns",
    "theme_exposures",
]


@dataclass(frozen=True)
class DataOptions:
    """Where prices come from (the CLI's global options).

    Attributes
    ----------
    source : str
        ``auto``, ``yahoo``, ``cache`` or ``bundled``.
    offline : bool
        Never touch the network.
    cache_dir : str or Path, optional
        Price cache folder.
    as_of : str, optional
        Last date used (ISO); default the last date available.
    """

    source: str = "auto"
    offline: bool = False
    cache_dir: str | Path | None = None
    as_of: str | None = None


@dataclass(frozen=True)
class MarketData:
    """Prices for a config's universe, benchmark and factors up to the as-of date.

    Attributes
    ----------
    frame : PriceFrame
        Prices (USD, NYSE dates) with provenance.
    as_of : Timestamp
        Last date of the prices.
    """

    frame: PriceFrame
    as_of: pd.Timestamp

    @property
    def prices(self) -> pd.DataFrame:
        """Dates x tickers, USD."""
        return self.frame.prices


def market_data(config: Config, options: DataOptions = DataOptions(), **kwargs: Any) -> MarketData:
    """Load prices for every ticker the config needs, up to ``options.as_of``.

    Raises
    ------
    DataError
        When ``as_of`` is before the first price or prices are missing.
    """
    frame = load_prices(
        config.market_tickers, start=config.data.start, end=options.as_of, source=options.source,
        cache_dir=options.cache_dir, offline=options.offline,
        max_fill_days=config.data.max_fill_days, **kwargs,
    )
    as_of = frame.prices.index[-1]
    if options.as_of is not None and pd.Timestamp(options.as_of) > as_of + pd.Timedelta(days=7):
        frame = PriceFrame(
            frame.prices, frame.source,
            f"{frame.notice}; --as-of {options.as_of} is after the last price, "
            f"using {as_of.date()}",
            frame.converted,
        )
    return MarketData(frame=frame, as_of=as_of)


def lookback_prices(config: Config, market: MarketData) -> pd.DataFrame:
    """The last ``lookback_days`` returns' worth of prices (``lookback_days + 1`` rows)."""
    return market.prices.iloc[-(config.risk.lookback_days + 1):]


MIN_USABLE_OBSERVATIONS = 20
"""Names with fewer returns in the lookback (not listed yet) are held at 0, with a warning."""


@dataclass(frozen=True)
class RiskInputs:
    """Estimates the optimiser and the reports share.

    Attributes
    ----------
    returns : DataFrame
        Periodic simple returns in the lookback (dates x market tickers).
    covariance : CovarianceEstimate
        Annualised covariance of the usable names with its diagnostics.
    expected_returns : Series or None
        Annual expected returns (fractions) of every universe name when requested
        (0 for names that are not usable).
    risk_free_rate : float
        Annual risk-free rate (fraction).
    available : tuple of str
        Universe names with at least :data:`MIN_USABLE_OBSERVATIONS` returns.
    warnings : tuple of str
        The covariance warnings plus one line per excluded name.
    """

    returns: pd.DataFrame
    covariance: Any
    expected_returns: pd.Series | None
    risk_free_rate: float
    available: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def padded_covariance(self, tickers: Sequence[str]) -> pd.DataFrame:
        """Covariance over ``tickers``, padded for names that are not usable.

        An unusable name gets the largest variance of the usable ones and no correlation;
        it is held at 0, so the value only keeps the matrix positive definite.
        """
        matrix = self.covariance.matrix
        padded = matrix.reindex(index=list(tickers), columns=list(tickers)).fillna(0.0)
        largest = float(np.diag(matrix.to_numpy()).max()) if len(matrix) else 1.0
        for ticker in tickers:
            if ticker not in matrix.index:
                padded.loc[ticker, ticker] = largest
        return padded


def estimate_inputs(
    config: Config, market: MarketData, *, with_returns: bool = False
) -> RiskInputs:
    """Estimate returns, covariance and (optionally) expected returns over the lookback.

    Names with fewer than :data:`MIN_USABLE_OBSERVATIONS` returns in the lookback (for
    example CRWV before its 2025-03-28 listing) are left out of the estimates and listed
    in ``warnings``; the optimiser holds them at 0.
    """
    from portfolio.data.bundled import treasury_bill_rate
    from portfolio.estimate.expected import expected_returns
    from portfolio.estimate.returns import to_returns
    from portfolio.estimate.covariance import covariance

    returns = to_returns(lookback_prices(config, market), frequency=config.risk.frequency)
    counts = returns.reindex(columns=list(config.tickers)).count()
    tickers = [t for t in config.tickers if counts[t] >= MIN_USABLE_OBSERVATIONS]
    excluded = [t for t in config.tickers if t not in tickers]
    if not tickers:
        raise DataError(
            "no ticker has enough history", f"as of {market.as_of.date()}",
            f"every name has fewer than {MIN_USABLE_OBSERVATIONS} returns in the lookback",
            "use a later --as-of",
        )
    warnings = [
        f"{t} has {counts[t]} returns in the lookback (not listed yet?); it is held at 0"
        for t in excluded
    ]
    factors = [f for f in config.risk.factors if f in returns.columns]
    estimate = covariance(
        returns[tickers], config.risk.method, frequency=config.risk.frequency,
        half_life=config.risk.half_life,
        factor_returns=returns[factors] if factors else None,
        ragged=config.risk.ragged, min_observations=config.risk.min_observations,
    )
    rf = config.optimizer.risk_free_rate
    if rf is None:
        rf = treasury_bill_rate(market.as_of)
    mu = None
    if with_returns:
        method = config.optimizer.expected_returns
        views = config.optimizer.views if method == "black_litterman" else ()
        usable_views = tuple(
            v for v in views if v.asset in tickers and (v.versus is None or v.versus in tickers)
        )
        warnings += [f"view on {v.asset} ignored: not enough history"
                     for v in views if v not in usable_views]
        mu = expected_returns(
            returns[tickers], method, frequency=config.risk.frequency,
            cov=estimate.matrix, market_returns=returns.get(config.benchmark),
            risk_free_rate=rf, half_life=config.risk.half_life, views=usable_views,
            risk_aversion=None,
        ).reindex(list(config.tickers)).fillna(0.0)
    return RiskInputs(
        returns=returns, covariance=estimate, expected_returns=mu, risk_free_rate=rf,
        available=tuple(tickers), warnings=(*estimate.warnings, *warnings),
    )


def hub_exposure(
    config: Config, hub: str, tickers: Iterable[str], *, graph: DealGraph | None = None
) -> pd.Series:
    """Look-through exposure of ``tickers`` to ``hub`` under the config's deal graph.

    Parameters
    ----------
    config : Config
        Supplies ``ecosystem.file`` (the deal graph) and ``ecosystem.damping``.
    hub : str
        Entity of the deal graph, e.g. ``"OpenAI"``.
    tickers : iterable of str
        Labels to report; names outside the graph get 0 (see
        :func:`portfolio.analytics.exposure.lookthrough_exposure`).
    graph : DealGraph, optional
        The deal graph already loaded from ``config.ecosystem.file`` (saves reading it again).

    Returns
    -------
    pandas.Series
        Exposure per ticker, fractions in [0, 1].
    """
    from portfolio.analytics.exposure import load_ecosystem, lookthrough_exposure

    graph = graph if graph is not None else load_ecosystem(config.ecosystem.file)
    return lookthrough_exposure(graph, hub, config.ecosystem.damping, list(tickers))


def theme_exposures(config: Config) -> dict[str, Mapping[str, float]]:
    """Look-through exposures of the universe to every hub named by a theme cap or stress."""
    hubs = {spec.hub for spec in config.limits.theme_caps}
    if not hubs:
        return {}
    from portfolio.analytics.exposure import load_ecosystem

    graph = load_ecosystem(config.ecosystem.file)
    return {
        hub: hub_exposure(config, hub, config.tickers, graph=graph).to_dict()
        for hub in sorted(hubs)
    }


@dataclass(frozen=True)
class OptimizationRun:
    """An allocation with the context it was computed in.

    Attributes
    ----------
    allocation : Allocation
        Weights (incl. CASH), risk, solver info, limit table.
    as_of : Timestamp
        Last price date used.
    data_source : str
        ``bundled``, ``cache`` or ``yahoo``.
    notice : str
        Data provenance line.
    warnings : tuple of str
        Short-history and repair warnings from the risk model.
    covariance_method : str
        Estimator used.
    """

    allocation: Allocation
    as_of: pd.Timestamp
    data_source: str
    notice: str
    warnings: tuple[str, ...]
    covariance_method: str


# min_cvar does not use expected returns, but its allocation reports the expected return.
_REPORTS_EXPECTED_RETURN = ("min_cvar",)


def _wants_expected_returns(objective: str) -> bool:
    """Whether ``optimize_from_config`` estimates expected returns for ``objective``."""
    from portfolio.optimization.objectives import OBJECTIVES

    needed = getattr(OBJECTIVES.get(objective), "NEEDS_EXPECTED_RETURNS", False)
    return needed or objective in _REPORTS_EXPECTED_RETURN


def optimize_from_config(
    config: Config,
    options: DataOptions = DataOptions(),
    *,
    objective: str | None = None,
    market: MarketData | None = None,
    current_weights: Mapping[str, float] | None = None,
) -> OptimizationRun:
    """Optimise the config's universe under its limits on prices up to the as-of date.

    Parameters
    ----------
    config : Config
        Universe, limits, risk model and optimizer settings.
    options : DataOptions
        Price source (ignored when ``market`` is given).
    objective : str, optional
        Overrides ``config.optimizer.objective``.
    market : MarketData, optional
        Prices already loaded.
    current_weights : mapping, optional
        Current weights (incl. CASH) for turnover limits and transaction costs.

    Returns
    -------
    OptimizationRun
    """
    market = market or market_data(config, options)
    objective = objective or config.optimizer.objective
    inputs = estimate_inputs(config, market, with_returns=_wants_expected_returns(objective))
    constraints = constraints_from_config(
        config, exposures=theme_exposures(config), current_weights=current_weights
    )
    allocation = solve_config(config, inputs, constraints, objective)
    return OptimizationRun(
        allocation=allocation, as_of=market.as_of, data_source=market.frame.source,
        notice=market.frame.notice, warnings=inputs.warnings,
        covariance_method=config.risk.method,
    )


def solve_config(
    config: Config, inputs: RiskInputs, constraints: Sequence[Any], objective: str | None = None
) -> Any:
    """The allocation of a config's objective on inputs already estimated (no I/O).

    Parameters
    ----------
    config : Config
        Universe, solver and objective settings.
    inputs : RiskInputs
        From :func:`estimate_inputs`.
    constraints : sequence
        From :func:`portfolio.optimization.constraints.constraints_from_config`.
    objective : str, optional
        Overrides ``config.optimizer.objective``.

    Returns
    -------
    portfolio.optimization.problem.Allocation
    """
    from portfolio.optimization.problem import PortfolioProblem

    objective = objective or config.optimizer.objective
    problem = PortfolioProblem(config.tickers, objective, constraints,
                               solver=config.optimizer.solver,
                               **_objective_options(config, objective))
    return problem.solve(
        inputs.padded_covariance(config.tickers), inputs.expected_returns,
        available={t: t in inputs.available for t in config.tickers},
        **_objective_data(config, objective, inputs),
    )


def proxy_filled_returns(
    returns: pd.DataFrame, tickers: Sequence[str], factors: Sequence[str]
) -> pd.DataFrame:
    """Returns of ``tickers`` with gaps (before a listing) filled by ``beta * factor return``.

    The beta of each name on the first available factor (e.g. SPY) is estimated on their
    overlapping rows. Historical scenarios (min-CVaR) then do not treat a young name as
    riskless on the days before it listed. Names without overlap keep 0 on those days.
    """
    filled = returns[list(tickers)].copy()
    factor = next((f for f in factors if f in returns.columns), None)
    if factor is None:
        return filled.fillna(0.0)
    f = returns[factor]
    for ticker in tickers:
        gaps = filled[ticker].isna()
        if not gaps.any():
            continue
        both = filled[ticker].notna() & f.notna()
        if both.sum() >= 2 and f[both].var() > 0:
            beta = filled.loc[both, ticker].cov(f[both]) / f[both].var()
            filled.loc[gaps, ticker] = beta * f[gaps]
    return filled.fillna(0.0)


def _objective_options(config: Config, objective: str) -> dict[str, Any]:
    from portfolio.optimization.objectives import OBJECTIVES

    settings = config.optimizer
    available = {
        "risk_aversion": settings.risk_aversion,
        "risk_free_rate": settings.risk_free_rate,
        "confidence": settings.cvar_confidence,
    }
    accepted = getattr(OBJECTIVES.get(objective), "OPTIONS", ())
    return {k: v for k, v in available.items() if k in accepted and v is not None}


def _objective_data(config: Config, objective: str, inputs: RiskInputs) -> dict[str, Any]:
    from portfolio.optimization.objectives import OBJECTIVES

    accepted = getattr(OBJECTIVES.get(objective), "DATA", ())
    data: dict[str, Any] = {}
    tickers = list(config.tickers)
    if "scenarios" in accepted:
        data["scenarios"] = proxy_filled_returns(inputs.returns, tickers, config.risk.factors)
    if "risk_free_rate" in accepted:
        data["risk_free_rate"] = inputs.risk_free_rate
    if "benchmark_returns" in accepted:
        benchmark = config.optimizer.tracking_benchmark or config.benchmark
        if benchmark not in inputs.returns.columns:
            raise DataError(f"no prices for benchmark {benchmark}", config.source,
                            "the tracking benchmark needs prices", "choose a bundled ticker")
        data["benchmark_returns"] = inputs.returns[benchmark]
        data["returns"] = inputs.returns[tickers]
        data["frequency"] = config.risk.frequency
    if "risk_budgets" in accepted:
        data["risk_budgets"] = dict(config.optimizer.risk_budgets)
        data["groups"] = {k: tuple(v) for k, v in config.groups.items()}
    return data
