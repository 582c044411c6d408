"""The limit objects a config describes, and the look-through exposures they need.

:func:`constraints_from_config` turns ``[limits]`` (and the optimiser's penalties) into the
one-object-per-limit values of :mod:`portfolio.optimization.constraints`; the optimiser,
the risk report's limit table, the rebalance check and the backtest all use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from portfolio.analytics.exposure import DealGraph, lookthrough_exposure
from portfolio.config import Config, load_ecosystem
from portfolio.optimization.constraints import (
    CashFloor,
    GroupCap,
    GroupFloor,
    L2Regularization,
    MaxTurnover,
    MaxWeight,
    MinWeight,
    ThemeCap,
    TransactionCosts,
)

__all__ = ["caps_and_cash_floor", "constraints_from_config", "hub_exposure", "theme_exposures"]


def _frozen(mapping: Mapping[str, float] | None) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping or {}))


def constraints_from_config(
    config: Config,
    *,
    exposures: Mapping[str, Mapping[str, float]] | None = None,
    current_weights: Mapping[str, float] | None = None,
) -> tuple[Any, ...]:
    """Build the limit objects that a configuration describes.

    Parameters
    ----------
    config : Config
        Validated configuration.
    exposures : mapping hub -> (ticker -> exposure), optional
        Look-through exposures for the theme caps (see :mod:`portfolio.analytics.exposure`); when
        omitted, theme caps are left out.
    current_weights : mapping, optional
        Current weights (incl. ``CASH``) for turnover limits and transaction costs.

    Returns
    -------
    tuple
        Constraint and penalty objects, long-only by default.
    """
    limits = config.limits
    objects: list[Any] = [MaxWeight(limits.max_weight, _frozen(limits.max_weight_overrides))]
    if limits.min_weight > 0 or any(v > 0 for v in limits.min_weight_overrides.values()):
        objects.append(MinWeight(limits.min_weight, _frozen(limits.min_weight_overrides)))
    for group, cap in limits.group_caps.items():
        objects.append(GroupCap(group=group, members=tuple(config.groups[group]), cap=cap))
    for group, floor in limits.group_floors.items():
        objects.append(GroupFloor(group=group, members=tuple(config.groups[group]), floor=floor))
    objects.append(CashFloor(floor=limits.cash_floor))
    if exposures is not None:
        for spec in limits.theme_caps:
            if spec.hub in exposures:
                objects.append(ThemeCap(name=spec.name, exposures=_frozen(exposures[spec.hub]),
                                        cap=spec.cap))
    if current_weights is not None:
        if limits.max_turnover is not None:
            objects.append(MaxTurnover(limits.max_turnover, _frozen(current_weights)))
        if config.optimizer.transaction_cost_bps:
            objects.append(TransactionCosts(config.optimizer.transaction_cost_bps,
                                            _frozen(current_weights)))
    if config.optimizer.l2_gamma:
        objects.append(L2Regularization(config.optimizer.l2_gamma))
    return tuple(objects)


def caps_and_cash_floor(config: Config) -> tuple[Any, ...]:
    """The per-name caps (with overrides) and the cash floor of a config, nothing else."""
    limits = config.limits
    return (MaxWeight(limits.max_weight, _frozen(limits.max_weight_overrides)),
            CashFloor(limits.cash_floor))


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
    graph = graph if graph is not None else load_ecosystem(config.ecosystem.file)
    return lookthrough_exposure(graph, hub, config.ecosystem.damping, list(tickers))


def theme_exposures(config: Config) -> dict[str, Mapping[str, float]]:
    """Look-through exposures of the universe to every hub named by a theme cap or stress."""
    hubs = {spec.hub for spec in config.limits.theme_caps}
    if not hubs:
        return {}
    graph = load_ecosystem(config.ecosystem.file)
    return {
        hub: hub_exposure(config, hub, config.tickers, graph=graph).to_dict()
        for hub in sorted(hubs)
    }
