"""Deal graph of the AI ecosystem and look-through exposure to a hub.

The graph (``config/ecosystem.toml``) holds entities -- listed companies with an annual
revenue, private hubs such as OpenAI -- and deals between them. The exposure model:

* A deal of ``amount_bn`` over ``years`` is an annual flow ``f = amount_bn / years``
  (USD bn per year); direction does not matter for dependence.
* The *hub group* of hub ``h`` is ``h`` plus every private entity whose ``part_of`` is
  ``h`` (Stargate is a joint venture anchored by OpenAI, so its deals count as OpenAI's).
* Direct exposure ``s_i`` of listed company ``i`` = annual flow on deals between ``i`` and
  the hub group / revenue of ``i``, capped at 1. A listed hub has ``s_hub = 1``.
* Dependence ``A[i, j]`` (listed x listed) = annual flow between ``i`` and ``j`` / revenue
  of ``i``, capped at 1: the share of ``i``'s business that rests on ``j``.
* Look-through exposure ``x = (I - alpha A)^-1 s``, clipped to [0, 1]: a company also
  inherits a damped (``alpha`` in [0, 1)) share of its partners' exposure, hop after hop.
  The series converges only if the spectral radius of ``alpha A`` is below 1.

Only deals whose kind is in ``[model] transmitting_kinds`` enter the model. Exposures are
fractions (1 = the whole business rests on the hub); they are static, not per period.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio.errors import DataError, InputError, did_you_mean
from portfolio.weights import CASH

__all__ = [
    "DEAL_KINDS",
    "ENTITY_KINDS",
    "Deal",
    "DealGraph",
    "Entity",
    "ExposureReport",
    "dependence_matrix",
    "direct_exposure",
    "hub_failure_shocks",
    "lookthrough_exposure",
    "portfolio_exposure",
]

DEAL_KINDS = (
    "customer_contract",
    "investment",
    "supply_commitment",
    "purchase_commitment",
    "joint_venture",
)
ENTITY_KINDS = ("listed", "private")
DEFAULT_DAMPING = 0.5


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Entity:
    """A node of the deal graph.

    Attributes
    ----------
    name : str
        Ticker for a listed company (``"NVDA"``, ``"9984.T"``), name for a private one.
    kind : str
        ``"listed"`` or ``"private"``.
    revenue_bn : float or None
        Annual revenue, USD bn; needed for a listed company that takes part in a deal.
    part_of : str or None
        For a private entity: the hub it belongs to (its deals count as the hub's).
    """

    name: str
    kind: str
    revenue_bn: float | None = None
    part_of: str | None = None

    @property
    def is_listed(self) -> bool:
        """Whether the entity is a listed (investable) company."""
        return self.kind == "listed"


@dataclass(frozen=True)
class Deal:
    """An edge of the deal graph.

    Attributes
    ----------
    source, target : str
        Entity names (``from`` and ``to`` in the TOML file).
    amount_bn : float
        Total amount, USD bn (> 0).
    years : float
        Duration over which the amount flows, years (> 0).
    kind : str
        One of ``DEAL_KINDS``.
    assumed : bool
        True when the amount is a placeholder (not disclosed).
    note : str
        Free text.
    """

    source: str
    target: str
    amount_bn: float
    years: float
    kind: str
    assumed: bool = False
    note: str = ""

    @property
    def annual_flow_bn(self) -> float:
        """Annualised flow ``amount_bn / years``, USD bn per year."""
        return self.amount_bn / self.years

    @property
    def ends(self) -> tuple[str, str]:
        """The two entities of the deal, ``(source, target)``."""
        return (self.source, self.target)


@dataclass(frozen=True)
class DealGraph:
    """Entities and deals, validated by :func:`parse_ecosystem`.

    Attributes
    ----------
    entities : tuple of Entity
    deals : tuple of Deal
    default_damping : float
        Damping ``alpha`` used when none is given, in [0, 1).
    transmitting_kinds : tuple of str
        Deal kinds that enter the exposure model.
    source : str
        File the graph came from (used in messages).
    """

    entities: tuple[Entity, ...]
    deals: tuple[Deal, ...]
    default_damping: float = DEFAULT_DAMPING
    transmitting_kinds: tuple[str, ...] = DEAL_KINDS
    source: str = "<ecosystem>"

    @property
    def names(self) -> tuple[str, ...]:
        """All entity names, in file order."""
        return tuple(entity.name for entity in self.entities)

    @property
    def listed(self) -> tuple[str, ...]:
        """Names of the listed companies, in file order."""
        return tuple(entity.name for entity in self.entities if entity.is_listed)

    def entity(self, name: str) -> Entity:
        """Return the entity called ``name``.

        Raises
        ------
        InputError
            If there is none (with a "did you mean").
        """
        for entity in self.entities:
            if entity.name == name:
                return entity
        raise InputError(
            f"unknown entity '{name}'",
            self.source,
            "it is not an entity of the deal graph",
            did_you_mean(name, self.names) or f"use one of {', '.join(self.names)}",
        )

    def hub_members(self, hub: str) -> frozenset[str]:
        """Return the hub and the private entities that are ``part_of`` it."""
        self.entity(hub)
        members = {e.name for e in self.entities if e.part_of == hub and not e.is_listed}
        return frozenset({hub, *members})

    def transmitting_deals(self) -> tuple[Deal, ...]:
        """Deals whose kind enters the exposure model."""
        return tuple(deal for deal in self.deals if deal.kind in self.transmitting_kinds)


@dataclass(frozen=True, eq=False)
class ExposureReport:
    """A portfolio's look-through exposure to one hub.

    Attributes
    ----------
    per_holding : pd.Series
        ``w_i * x_i`` per label of the weights (fraction of portfolio value).
    total : float
        Sum of ``per_holding``: the portfolio's exposure (fraction).
    exposures : pd.Series
        Exposure ``x_i`` used for each label of the weights (0 for CASH and unmapped).
    unmapped : tuple of str
        Labels of the weights with no exposure given (counted as 0).
    """

    per_holding: pd.Series
    total: float
    exposures: pd.Series
    unmapped: tuple[str, ...] = ()


# --------------------------------------------------------------------------- model


def direct_exposure(graph: DealGraph, hub: str) -> pd.Series:
    """Direct exposure ``s`` of every listed company to ``hub``.

    Parameters
    ----------
    graph : DealGraph
    hub : str
        Entity name, e.g. ``"OpenAI"``.

    Returns
    -------
    pd.Series
        Index: listed tickers of the graph; values: fractions in [0, 1] (annual deal flow
        with the hub group / annual revenue, capped at 1; 1 for the hub itself).
    """
    members = _hub_members(graph, hub)
    listed = graph.listed
    flows = pd.Series(0.0, index=pd.Index(listed, name="ticker"))
    for deal in graph.transmitting_deals():
        inside = [end for end in deal.ends if end in members]
        outside = [end for end in deal.ends if end not in members]
        if len(inside) == 1 and outside[0] in flows.index:
            flows[outside[0]] += deal.annual_flow_bn
    exposure = (flows / _revenues(graph)).fillna(0.0).clip(upper=1.0)
    if hub in exposure.index:
        exposure[hub] = 1.0
    return exposure.rename(f"{hub}_direct")


def dependence_matrix(graph: DealGraph) -> pd.DataFrame:
    """Dependence ``A`` between listed companies.

    Returns
    -------
    pd.DataFrame
        Square, listed tickers on both axes; ``A.loc[i, j]`` = annual deal flow between
        ``i`` and ``j`` (USD bn per year) / annual revenue of ``i``, capped at 1. Zero
        diagonal; not symmetric (a small company depends more on a large partner).
    """
    listed = graph.listed
    index = pd.Index(listed, name="ticker")
    flows = pd.DataFrame(0.0, index=index, columns=index.rename("partner"))
    for deal in graph.transmitting_deals():
        if deal.source in flows.index and deal.target in flows.index:
            flows.loc[deal.source, deal.target] += deal.annual_flow_bn
            flows.loc[deal.target, deal.source] += deal.annual_flow_bn
    return flows.div(_revenues(graph), axis=0).fillna(0.0).clip(upper=1.0)


def lookthrough_exposure(
    graph: DealGraph,
    hub: str,
    damping: float | None = None,
    tickers: Iterable[str] | None = None,
) -> pd.Series:
    """Look-through exposure ``x = (I - damping * A)^-1 s`` to ``hub``, clipped to [0, 1].

    Parameters
    ----------
    graph : DealGraph
    hub : str
        Entity name, e.g. ``"OpenAI"``.
    damping : float, optional
        ``alpha`` in [0, 1); 0 gives the direct exposure. Default: the graph's
        ``model.default_damping`` (0.5 in the packaged file).
    tickers : iterable of str, optional
        Labels to report (default: every listed company of the graph). Labels that are
        not listed companies of the graph get 0 and are named in
        ``result.attrs["missing"]``; CASH gets 0 silently.

    Returns
    -------
    pd.Series
        Exposure per ticker, fractions in [0, 1]; ``attrs["missing"]`` is a tuple.

    Raises
    ------
    InputError
        Unknown hub, damping outside [0, 1), or ``damping * A`` with spectral radius >= 1
        (the propagation would not converge).
    """
    alpha = _check_damping(graph.default_damping if damping is None else damping)
    direct = direct_exposure(graph, hub)
    dependence = dependence_matrix(graph)
    if hub in dependence.columns:
        # A listed hub's own failure is already in s; do not propagate through it again.
        dependence[hub] = 0.0
    matrix = alpha * dependence.to_numpy()
    radius = float(np.max(np.abs(np.linalg.eigvals(matrix)))) if matrix.size else 0.0
    if radius >= 1.0:
        limit = alpha / radius
        raise InputError(
            f"damping {alpha:g} makes the look-through exposure diverge",
            graph.source,
            f"the spectral radius of damping x dependence is {radius:.3f}, it must be below 1",
            f"lower the damping below {limit:.3f} (ecosystem.damping / model.default_damping)",
        )
    solved = np.linalg.solve(np.eye(len(direct)) - matrix, direct.to_numpy())
    exposure = pd.Series(np.clip(solved, 0.0, 1.0), index=direct.index, name=f"{hub}_lookthrough")
    if tickers is None:
        exposure.attrs["missing"] = ()
        return exposure
    labels = _unique_labels(tickers, "tickers")
    missing = tuple(t for t in labels if t not in exposure.index and t != CASH)
    result = exposure.reindex(pd.Index(labels, name="ticker"), fill_value=0.0)
    result.attrs["missing"] = missing
    return result


def portfolio_exposure(weights: pd.Series, exposures: pd.Series) -> ExposureReport:
    """Portfolio exposure ``sum_i w_i * x_i``, aligned by label.

    Parameters
    ----------
    weights : pd.Series
        Weight per ticker (fractions of portfolio value), may include ``CASH``.
    exposures : pd.Series
        Exposure per ticker (fractions, e.g. from :func:`lookthrough_exposure`). Extra
        labels are ignored.

    Returns
    -------
    ExposureReport
        CASH counts 0; labels of ``weights`` absent from ``exposures`` count 0 and are
        listed in ``unmapped``.
    """
    weights = _finite_series(weights, "weights")
    exposures = _finite_series(exposures, "exposures")
    unmapped = tuple(t for t in weights.index if t not in exposures.index and t != CASH)
    aligned = exposures.reindex(weights.index, fill_value=0.0)
    if CASH in aligned.index:
        aligned[CASH] = 0.0
    per_holding = (weights * aligned).rename("exposure_contribution")
    return ExposureReport(
        per_holding=per_holding,
        total=float(per_holding.sum()),
        exposures=aligned.rename("exposure"),
        unmapped=unmapped,
    )


def hub_failure_shocks(
    exposures: pd.Series, betas: pd.Series, severity: float, market_shock: float
) -> pd.Series:
    """Return of each name if the hub fails: ``-severity * x_i + beta_i * market_shock``.

    Parameters
    ----------
    exposures : pd.Series
        Look-through exposure per ticker (fractions in [0, 1]); extra labels are ignored.
    betas : pd.Series
        Market beta per ticker; its index is the index of the result. CASH may be absent
        from ``exposures`` (it counts 0).
    severity : float
        Loss of a fully exposed company (fraction in [0, 1], 0.5 = -50 %).
    market_shock : float
        Market return in the scenario (fraction in [-1, 1], -0.1 = -10 %).

    Returns
    -------
    pd.Series
        Shock per ticker of ``betas`` (simple return, fraction).

    Raises
    ------
    InputError
        A ticker of ``betas`` has no exposure.
    """
    if not _is_number(severity) or not 0.0 <= severity <= 1.0:
        raise InputError(
            f"invalid hub severity {severity!r}",
            "stress.hub_severity",
            "it is the loss of a fully exposed company, a fraction in [0, 1]",
            "write e.g. 0.5 for -50 %",
        )
    if not _is_number(market_shock) or not -1.0 <= market_shock <= 1.0:
        raise InputError(
            f"invalid market shock {market_shock!r}",
            "stress.market_shock",
            "it is a market return, a fraction in [-1, 1]",
            "write e.g. -0.10 for -10 %",
        )
    betas = _finite_series(betas, "betas", error=DataError)
    exposures = _finite_series(exposures, "exposures")
    missing = [t for t in betas.index if t not in exposures.index and t != CASH]
    if missing:
        raise InputError(
            f"no exposure for {', '.join(missing)}",
            "hub_failure_shocks(exposures=...)",
            "every ticker with a beta needs an exposure",
            "compute exposures with lookthrough_exposure(..., tickers=betas.index)",
        )
    aligned = exposures.reindex(betas.index, fill_value=0.0)
    return (-severity * aligned + betas * market_shock).rename("hub_failure_shock")


# --------------------------------------------------------------------------- helpers


def _hub_members(graph: DealGraph, hub: str) -> frozenset[str]:
    if hub not in graph.names:
        raise InputError(
            f"unknown hub '{hub}'",
            graph.source,
            "the hub must be an entity of the deal graph",
            did_you_mean(hub, graph.names) or f"use one of {', '.join(graph.names)}",
        )
    return graph.hub_members(hub)


def _revenues(graph: DealGraph) -> pd.Series:
    values = [graph.entity(name).revenue_bn for name in graph.listed]
    return pd.Series(
        [np.nan if value is None else value for value in values],
        index=pd.Index(graph.listed, name="ticker"),
        dtype=float,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_damping(damping: float) -> float:
    if (
        isinstance(damping, bool)
        or not isinstance(damping, int | float)
        or not math.isfinite(damping)
        or not 0.0 <= damping < 1.0
    ):
        raise InputError(
            f"invalid damping {damping!r}",
            "ecosystem.damping",
            "the damping must lie in [0, 1)",
            "use e.g. 0.5; 0 means direct exposure only",
        )
    return float(damping)


def _unique_labels(labels: Iterable[str], what: str) -> list[str]:
    labels = list(labels)
    duplicates = sorted({t for t in labels if labels.count(t) > 1})
    if duplicates:
        raise InputError(
            f"duplicate ticker {duplicates[0]}",
            what,
            "each ticker may appear once",
            "remove the repeated entry",
        )
    return labels


def _finite_series(
    values: pd.Series, what: str, error: type[InputError] | type[DataError] = InputError
) -> pd.Series:
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    _unique_labels(values.index, what)
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    bad = [str(t) for t, v in numbers.items() if not math.isfinite(v)]
    if bad:
        raise error(
            f"non-numeric {what} for {', '.join(bad)}",
            what,
            "every value must be a finite number",
            f"fix or drop {', '.join(bad)}",
        )
    return numbers
