"""The configuration's frozen values: universe, groups, limits and every setting.

Units: every limit is a fraction of portfolio value (``0.20`` means 20 %), never a
percent. Lookbacks are in trading days (rows of the daily price table). The values are
built and validated by :func:`portfolio.config.parse_config`; the risk settings and the
Black-Litterman views are the estimation layer's own specs
(:class:`~portfolio.estimate.inputs.RiskSettings`, :class:`~portfolio.estimate.equilibrium.View`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from portfolio.analytics.replay import PROXIES
from portfolio.data.network import DEFAULT_TIMEOUT
from portfolio.estimate.equilibrium import View
from portfolio.estimate.inputs import RiskSettings
from portfolio.weights import check_known

__all__ = [
    "Config",
    "CustomScenario",
    "DataSettings",
    "EcosystemSettings",
    "Limits",
    "MarketCaps",
    "OptimizerSettings",
    "StressSettings",
    "ThemeCapSpec",
    "TradingSettings",
    "frozen_mapping",
]


def frozen_mapping(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of ``mapping``."""
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ThemeCapSpec:
    """A cap on the portfolio's look-through exposure to a hub of the deal graph.

    Attributes
    ----------
    name : str
        Label used in reports, e.g. ``"openai_lookthrough"``.
    hub : str
        Entity of the ecosystem graph, e.g. ``"OpenAI"``.
    cap : float
        Maximum of ``sum_i w_i * exposure_i`` (fraction).
    """

    name: str
    hub: str
    cap: float


@dataclass(frozen=True)
class Limits:
    """Concentration and liquidity limits, all fractions of portfolio value.

    Attributes
    ----------
    max_weight : float
        Cap on every single name.
    min_weight : float
        Floor on every single name (0 = the name may be left out).
    max_weight_overrides, min_weight_overrides : Mapping[str, float]
        Per-ticker caps / floors replacing the global ones.
    group_caps, group_floors : Mapping[str, float]
        Cap / floor on the summed weight of a group of ``Config.groups``.
    cash_floor : float
        Minimum cash weight (liquidity).
    max_turnover : float or None
        Maximum one-way turnover ``sum |w - w_current| / 2`` against current weights.
    theme_caps : tuple of ThemeCapSpec
        Look-through exposure caps (see :mod:`portfolio.analytics.exposure`).
    """

    max_weight: float = 1.0
    min_weight: float = 0.0
    max_weight_overrides: Mapping[str, float] = field(default_factory=dict)
    min_weight_overrides: Mapping[str, float] = field(default_factory=dict)
    group_caps: Mapping[str, float] = field(default_factory=dict)
    group_floors: Mapping[str, float] = field(default_factory=dict)
    cash_floor: float = 0.0
    max_turnover: float | None = None
    theme_caps: tuple[ThemeCapSpec, ...] = ()

    def cap_of(self, ticker: str) -> float:
        """Return the weight cap that applies to ``ticker`` (fraction)."""
        return self.max_weight_overrides.get(ticker, self.max_weight)

    def floor_of(self, ticker: str) -> float:
        """Return the weight floor that applies to ``ticker`` (fraction)."""
        return self.min_weight_overrides.get(ticker, self.min_weight)


@dataclass(frozen=True)
class OptimizerSettings:
    """Objective and its inputs.

    Attributes
    ----------
    objective : str
        One of :data:`portfolio.optimization.objectives.OBJECTIVES`.
    expected_returns : str
        One of :data:`portfolio.estimate.expected.METHODS`.
    risk_aversion : float
        Risk aversion of the mean-variance utility objective.
    risk_free_rate : float or None
        Annual fraction; None means the bundled 3-month T-bill yield at the as-of date.
    l2_gamma : float
        L2 regularisation strength (0 = off).
    transaction_cost_bps : float
        Linear transaction cost in the objective, basis points of traded weight.
    solver : str
        ``auto`` (Clarabel, falling back to OSQP then SCS) or a solver name.
    cvar_confidence : float
        Confidence level of the minimum-CVaR objective.
    tracking_benchmark : str or None
        Ticker tracked by ``min_tracking_error`` (default: the config benchmark).
    frontier_points : int
        Points on the efficient frontier.
    views : tuple of View
        Black-Litterman views.
    plausible_returns : tuple of float
        ``(low, high)``: expected returns outside are flagged (annual fractions).
    group_budgets : Mapping[str, float]
        Share of portfolio risk per group for ``group_risk_budget`` (groups not named
        share the rest equally; default equal shares).
    risk_budgets : Mapping[str, float]
        Risk-parity budgets by ticker or group (missing names share the rest equally).
    """

    objective: str = "min_variance"
    expected_returns: str = "historical"
    risk_aversion: float = 2.5
    risk_free_rate: float | None = None
    l2_gamma: float = 0.0
    transaction_cost_bps: float = 0.0
    solver: str = "auto"
    cvar_confidence: float = 0.95
    tracking_benchmark: str | None = None
    frontier_points: int = 20
    plausible_returns: tuple[float, float] = (-0.5, 0.6)
    group_budgets: Mapping[str, float] = field(default_factory=dict)
    views: tuple[View, ...] = ()
    risk_budgets: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MarketCaps:
    """Market capitalisations: the market portfolio of the Black-Litterman prior.

    Attributes
    ----------
    usd_bn : Mapping[str, float]
        Ticker -> market capitalisation, USD billions.
    date : str or None
        When the figures hold (ISO date).
    source : str
        Where they come from.
    risk_aversion : float
        ``delta``, the market's price of risk in ``pi = delta * Sigma @ w_mkt + rf``;
        2.5 (He and Litterman) unless set.
    """

    usd_bn: Mapping[str, float] = field(default_factory=dict)
    date: str | None = None
    source: str = ""
    risk_aversion: float = 2.5


@dataclass(frozen=True)
class TradingSettings:
    """How targets become orders.

    Attributes
    ----------
    cost_bps : float
        Cost of a trade in basis points of its notional.
    min_fee : float
        Minimum fee per order, USD.
    no_trade_weight : float
        Skip trades smaller than this weight change (fraction).
    no_trade_dollars : float
        Skip trades smaller than this notional (USD).
    whole_shares : bool
        Round orders to whole shares.
    mode : str
        ``"target"``: trade to the optimiser's (or the given) target; ``"minimal"``: the
        least turnover that brings every limit back, reinvested toward that target
        (:func:`portfolio.trading.minimal.minimal_trade_target`).
    """

    cost_bps: float = 5.0
    min_fee: float = 1.0
    no_trade_weight: float = 0.0
    no_trade_dollars: float = 0.0
    whole_shares: bool = True
    mode: str = "target"


@dataclass(frozen=True)
class DataSettings:
    """Price-data policy.

    Attributes
    ----------
    start : str
        First date to load (ISO); the historical replays and the VaR backtest see prices
        from here on, estimates only the last ``risk.lookback_days``.
    max_fill_days : int
        Longest gap (rows) that is forward-filled, e.g. a Tokyo holiday for 9984.T.
    timeout : float
        Seconds all Yahoo requests of one command may take together (``--timeout``
        overrides it); then ``auto`` falls back and ``yahoo`` fails.
    """

    start: str = "1999-01-01"
    max_fill_days: int = 5
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class EcosystemSettings:
    """Where the deal graph lives and how exposure propagates.

    Attributes
    ----------
    file : Path or None
        Path of the ecosystem TOML (resolved against the config file's folder).
    damping : float
        Damping ``alpha`` of the look-through propagation, in [0, 1).
    """

    file: Path | None = None
    damping: float = 0.5


@dataclass(frozen=True)
class CustomScenario:
    """A user-defined shock: returns by ticker or group (fractions, -0.3 = -30 %)."""

    name: str
    shocks: Mapping[str, float]


@dataclass(frozen=True)
class StressSettings:
    """Stress-test parameters.

    Attributes
    ----------
    hub : str
        Entity whose failure is simulated.
    hub_severity : float
        Fractional loss of a company fully exposed to the hub.
    market_shock : float
        Market return added through each name's beta (negative = fall).
    custom : tuple of CustomScenario
        User-defined shocks.
    proxies : tuple of str
        Tickers a historical replay uses, in this order, for a holding not listed during
        its window (beta to the first one priced over the window); loaded with the prices.
    """

    hub: str = "OpenAI"
    hub_severity: float = 0.5
    market_shock: float = -0.10
    custom: tuple[CustomScenario, ...] = ()
    proxies: tuple[str, ...] = PROXIES


@dataclass(frozen=True)
class Config:
    """The whole validated configuration.

    Attributes
    ----------
    source : str
        File the configuration came from (used in messages).
    tickers : tuple of str
        Investable universe (no cash, no benchmark unless listed).
    benchmark : str
        Benchmark ticker (e.g. SPY).
    groups : Mapping[str, tuple of str]
        Named groups of tickers.
    universe_chosen : str or None
        ISO date the universe was picked (``[universe] chosen``): a backtest starting
        earlier holds names chosen knowing how they fared, and says so. None: unknown.
    """

    source: str
    tickers: tuple[str, ...]
    benchmark: str = "SPY"
    universe_chosen: str | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    risk: RiskSettings = field(default_factory=RiskSettings)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    market_caps: MarketCaps = field(default_factory=MarketCaps)
    trading: TradingSettings = field(default_factory=TradingSettings)
    data: DataSettings = field(default_factory=DataSettings)
    ecosystem: EcosystemSettings = field(default_factory=EcosystemSettings)
    stress: StressSettings = field(default_factory=StressSettings)

    @property
    def market_tickers(self) -> tuple[str, ...]:
        """Universe plus benchmark, tracking benchmark and factor tickers, without duplicates."""
        tracked = (self.optimizer.tracking_benchmark,) if self.optimizer.tracking_benchmark else ()
        extra = (self.benchmark, *tracked, *self.risk.factors)
        return tuple(dict.fromkeys((*self.tickers, *extra)))

    def check_known(self, tickers: Iterable[str], where: str) -> None:
        """Raise InputError for the first ticker (CASH aside) outside the universe.

        ``where`` names the user's file or argument the tickers come from.
        """
        check_known(tickers, self.tickers, where, f"the configured universe ({self.source})")

    def group_of(self, ticker: str) -> str | None:
        """Return the first group containing ``ticker``, or None."""
        for name, members in self.groups.items():
            if ticker in members:
                return name
        return None
