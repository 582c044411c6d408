"""Conditional and reverse stress of a config's portfolio: ``stress --given``, ``--reverse``.

Both value the holdings at the as-of close and use the config's risk model: the covariance
of :func:`portfolio.jobs.optimize.config_inputs` (estimator, lookback, lead-lag correction)
over the universe names priced then, plus any shocked benchmark or factor. The historical
conditional method also reads the daily returns of every date loaded (from ``data.start``):
the shocked names need their own returns; a holding listed later is filled before its
listing with its least-squares fit on the shocked names and the market factor, and named
in the warnings.
Methods and units: :mod:`portfolio.analytics.conditional`, :mod:`portfolio.analytics.reverse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from portfolio.analytics.conditional import (
    ConditionalStress,
    gaussian_conditional,
    historical_conditional,
)
from portfolio.analytics.inputs import parse_horizon, parse_shocks
from portfolio.analytics.reverse import ReverseStress, reverse_stress_move
from portfolio.analytics.valuation import Valuation, date_text, value_holdings
from portfolio.config import Config, load_config
from portfolio.data.holdings import Holdings
from portfolio.errors import DataError, InputError
from portfolio.estimate.returns import to_returns
from portfolio.jobs.market import DataOptions, MarketData, market_data
from portfolio.jobs.optimize import config_inputs

__all__ = ["conditional_stress", "reverse_stress"]

DEFAULT_HORIZON = "1m"
"""Horizon of a conditional stress when none is given (21 trading days)."""


def conditional_stress(
    holdings: Holdings,
    given: str | Mapping[str, float],
    *,
    config: Config | None = None,
    horizon: str | int = DEFAULT_HORIZON,
    neighbours: int | None = None,
    market: MarketData | None = None,
    options: DataOptions = DataOptions(),  # noqa: B008 (frozen, so a safe default)
) -> ConditionalStress:
    """Expected move of every holding, and the P&L distribution, given shocks to some names.

    Parameters
    ----------
    holdings : Holdings
        Shares per ticker and cash (USD).
    given : str or mapping
        ``"NVDA=-0.30,TSM=-0.20"`` or ``{"NVDA": -0.30}``: returns over the horizon
        (fractions) of universe names, the benchmark or a risk factor.
    config : Config, optional
        Universe, risk model, data settings (default: the packaged configuration).
    horizon : str or int
        ``"1m"`` (default), ``"1w"``, ``"1y"``... or trading days: the time the shocks take.
    neighbours : int, optional
        Nearest windows of the historical method (default ``max(20, sqrt(windows))``).
    market : MarketData, optional
        Prices already loaded.
    options : DataOptions
        Price source when ``market`` is not given.

    Returns
    -------
    ConditionalStress
        Gaussian (closed form) and historical (nearest neighbours) moves and P&L mean, 5 %
        and 1 % quantiles.

    Raises
    ------
    InputError
        A bad shock (not a number, at or below -100 %, an unknown ticker with the closest
        known one), a bad horizon, a holding outside the universe or without history.
    DataError
        From loading prices.
    """
    config = config or load_config()
    days = parse_horizon(horizon)
    shocks = parse_shocks(given, config.market_tickers)
    market, valuation, values = _valued(holdings, config, market, options)
    cov, warnings = _covariance(config, market, [*values.index, *shocks])
    gaussian = gaussian_conditional(cov, shocks, values, days, valuation.cash)
    historical, history = None, None
    daily, notes = _history(config, market, list(shocks), list(values.index))
    try:
        historical = historical_conditional(daily, shocks, values, days, valuation.cash,
                                            neighbours)
        history = (daily.index[0], daily.index[-1])
    except DataError as error:
        notes.append(f"no historical estimate: {error.message}")
    return ConditionalStress(
        given=shocks, horizon_days=days, values=values, cash=valuation.cash, gaussian=gaussian,
        historical=historical, history=history, as_of=market.as_of,
        data_source=market.frame.source, notice=market.frame.notice,
        warnings=(*warnings, *notes),
    )


def reverse_stress(
    holdings: Holdings,
    loss: float = 0.20,
    *,
    config: Config | None = None,
    market: MarketData | None = None,
    options: DataOptions = DataOptions(),  # noqa: B008 (frozen, so a safe default)
) -> ReverseStress:
    """The most likely joint move (under the risk model) that loses ``loss`` of the value.

    Parameters
    ----------
    holdings : Holdings
        Shares per ticker and cash (USD).
    loss : float
        Fraction of the total value (cash included) to lose, in (0, 1); default 20 %.
    config, market, options
        As for :func:`conditional_stress`.

    Returns
    -------
    ReverseStress
        The move of every universe name, each holding's share of the loss, the drivers,
        the Mahalanobis distance and its one-year normal probability.

    Raises
    ------
    InputError
        A loss outside (0, 1) or above the invested fraction, a holding outside the
        universe or without history.
    """
    config = config or load_config()
    market, valuation, values = _valued(holdings, config, market, options)
    cov, warnings = _covariance(config, market, list(values.index))
    result = reverse_stress_move(cov, values, valuation.cash, loss)
    return replace(result, as_of=market.as_of, data_source=market.frame.source,
                   notice=market.frame.notice, warnings=tuple(warnings))


def _valued(holdings: Holdings, config: Config, market: MarketData | None,
            options: DataOptions) -> tuple[MarketData, Valuation, pd.Series]:
    """The prices, the holdings valued at the as-of close, and the positive positions."""
    config.check_known(holdings.tickers(), holdings.source)
    market = market or market_data(config, options)
    valuation = value_holdings(holdings, market.prices.iloc[-1])
    return market, valuation, valuation.values[valuation.values > 0]


def _covariance(config: Config, market: MarketData, needed: list[str]
                ) -> tuple[pd.DataFrame, list[str]]:
    """The risk model's annual covariance, with its warnings.

    Over the universe names priced at the as-of date and the ``needed`` ones (a shocked
    benchmark or factor included); a needed name without enough history is an error.
    """
    closes = market.prices.iloc[-1]
    names = [t for t in dict.fromkeys((*config.tickers, *needed))
             if t in closes.index and np.isfinite(closes[t])]
    inputs = config_inputs(replace(config, tickers=tuple(names)), market)
    missing = [t for t in needed if t not in inputs.available]
    if missing:
        raise InputError(
            f"too little price history for {', '.join(missing)} up to "
            f"{date_text(market.as_of)}", "stress",
            "the risk model needs its returns over the lookback",
            "use a later --as-of date or leave the name out",
        )
    return inputs.covariance.matrix, list(inputs.warnings)


def _history(config: Config, market: MarketData, given: list[str], held: list[str]
             ) -> tuple[pd.DataFrame, list[str]]:
    """Daily returns since ``data.start`` on the dates the shocked names and the market have.

    Holdings listed later are filled before their listing (named in the notes) with their
    least-squares fit on the shocked names and the first risk factor over their own listed
    days (no residual): it keeps a holding's link to the shocked names, which a fill by
    the market beta alone would lose.
    """
    others = [t for t in held if t not in given]
    returns = to_returns(market.prices, frequency="daily")
    market_factor = [f for f in config.risk.factors[:1] if f in returns.columns]
    regressors = list(dict.fromkeys([*given, *market_factor]))
    returns = returns.loc[returns[regressors].notna().all(axis=1), [*regressors, *others]]
    notes = []
    late = [t for t in others if returns[t].isna().any() and returns[t].notna().sum() > 20]
    for ticker in late:
        listed = returns[ticker].notna()
        design = np.column_stack([np.ones(len(returns)), returns[regressors].to_numpy()])
        fit = np.linalg.lstsq(design[listed.to_numpy()], returns.loc[listed, ticker],
                              rcond=None)[0]
        returns.loc[~listed, ticker] = design[~listed.to_numpy()] @ fit
    if late:
        since = ", ".join(f"{t} before {date_text(market.prices[t].first_valid_index())}"
                          for t in late)
        notes.append(f"historical: {since} filled with their fit on "
                     f"{', '.join(regressors)} (no own returns)")
    return returns.dropna(axis=0), notes
