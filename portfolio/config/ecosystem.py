"""The deal-graph file (``config/ecosystem.toml``): read and validated into a DealGraph.

The graph's model -- entities, deals, the look-through exposure -- is described in
:mod:`portfolio.analytics.exposure`; this module only turns the TOML file into that
frozen value, with every error naming the file, the key and the deal.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portfolio.analytics.exposure import (
    DEAL_KINDS,
    DEFAULT_DAMPING,
    ENTITY_KINDS,
    Deal,
    DealGraph,
    Entity,
)
from portfolio.config.paths import packaged_config_path
from portfolio.config.table import Table
from portfolio.data.tomlfile import read_toml
from portfolio.errors import ConfigError, did_you_mean

__all__ = ["load_ecosystem", "parse_ecosystem"]


def load_ecosystem(path: str | Path | None = None) -> DealGraph:
    """Load and validate a deal-graph TOML file.

    Parameters
    ----------
    path : str or Path, optional
        The file; the packaged ``ecosystem.toml`` when omitted.

    Returns
    -------
    DealGraph
    """
    path = Path(path) if path is not None else packaged_config_path("ecosystem.toml")
    return parse_ecosystem(read_toml(path), source=str(path))


def parse_ecosystem(data: Mapping[str, Any], source: str = "<ecosystem>") -> DealGraph:
    """Validate a deal-graph mapping (pure: no I/O).

    Parameters
    ----------
    data : Mapping
        The parsed TOML document: ``[model]``, ``[entities.<name>]``, ``[[deals]]``.
    source : str
        File name used in error messages.

    Returns
    -------
    DealGraph

    Raises
    ------
    ConfigError
        On unknown keys, bad values, unknown entities, self-loops, non-positive amounts
        or durations, or a listed company in a deal without ``revenue_bn``. Deal errors
        name the deal by index and its ``from -> to``.
    """
    root = Table(dict(data), source, "")
    damping, kinds = _parse_model(root.table("model"))
    entities = _parse_entities(root.table("entities"))
    by_name = {entity.name: entity for entity in entities}
    deals = tuple(
        _parse_deal(index, item, by_name) for index, item in enumerate(root.tables("deals"))
    )
    root.finish()
    return DealGraph(
        entities=entities,
        deals=deals,
        default_damping=damping,
        transmitting_kinds=kinds,
        source=source,
    )


def _parse_model(table: Table) -> tuple[float, tuple[str, ...]]:
    damping = table.number("default_damping", DEFAULT_DAMPING, low=0.0)
    if damping >= 1.0:
        raise table.error(
            "default_damping", "the damping must be below 1", "use a value in [0, 1), e.g. 0.5"
        )
    kinds = table.strings("transmitting_kinds", DEAL_KINDS)
    for kind in kinds:
        if kind not in DEAL_KINDS:
            raise ConfigError(
                f"unknown deal kind '{kind}'",
                table.where("transmitting_kinds"),
                f"must be one of {', '.join(DEAL_KINDS)}",
                did_you_mean(kind, DEAL_KINDS) or f"use one of {', '.join(DEAL_KINDS)}",
            )
    table.finish()
    return damping, tuple(kinds)


def _parse_entities(table: Table) -> tuple[Entity, ...]:
    names = list(table.data)
    if not names:
        raise ConfigError(
            "no entities",
            f"{table.source}, key entities",
            "the deal graph needs entities",
            "add [entities.NVDA] with revenue_bn = <annual revenue, USD bn>",
        )
    entities = []
    for name in names:
        item = table.table(name)
        kind = item.string("kind", "listed", ENTITY_KINDS)
        revenue = item.number("revenue_bn", None, low=0.0)
        if revenue is not None and revenue <= 0.0:
            raise item.error("revenue_bn", "revenue must be positive", "write revenue in USD bn")
        part_of = item.string("part_of", None)
        if part_of is not None:
            if kind != "private":
                raise item.error(
                    "part_of",
                    "only a private entity can be part of a hub",
                    f'set kind = "private" under [entities.{name}] or remove part_of',
                )
            if part_of not in names or part_of == name:
                raise ConfigError(
                    f"unknown hub '{part_of}'",
                    item.where("part_of"),
                    "part_of must name another entity of the graph",
                    did_you_mean(part_of, [n for n in names if n != name])
                    or f"use one of {', '.join(n for n in names if n != name)}",
                )
        item.finish()
        entities.append(Entity(name=name, kind=kind, revenue_bn=revenue, part_of=part_of))
    table.finish()
    return tuple(entities)


def _parse_deal(index: int, item: Table, entities: Mapping[str, Entity]) -> Deal:
    source = item.string("from", None)
    target = item.string("to", None)
    for key, value in (("from", source), ("to", target)):
        if value is None:
            raise ConfigError(
                f"missing key '{key}'",
                item.where(key),
                f"deal {index} needs both ends",
                f'add {key} = "<entity name>"',
            )
    # Re-wrap so that every message names the deal by index and by its two ends.
    item = Table(item.data, f"{item.source}, deal {index} ({source} -> {target})", item.key)
    item.raw("from")
    item.raw("to")
    for key, name in (("from", source), ("to", target)):
        if name not in entities:
            raise ConfigError(
                f"unknown entity '{name}'",
                item.where(key),
                "every end of a deal must be declared under [entities]",
                did_you_mean(name, entities) or f'add [entities."{name}"]',
            )
        entity = entities[name]
        if entity.is_listed and entity.revenue_bn is None:
            raise ConfigError(
                f"listed company '{name}' has no revenue_bn",
                item.where(key),
                "the exposure of a listed company is its deal flow divided by its revenue",
                f'add revenue_bn = <annual revenue, USD bn> under [entities."{name}"]',
            )
    if source == target:
        raise ConfigError(
            f"deal of '{source}' with itself",
            item.where("to"),
            "a deal links two different entities",
            "fix from or to",
        )
    amount = _positive(item, "amount_bn", "the amount in USD bn, e.g. amount_bn = 22")
    years = _positive(item, "years", "the duration in years, e.g. years = 4")
    kind = item.string("kind", None, DEAL_KINDS)
    if kind is None:
        raise ConfigError(
            "missing key 'kind'",
            item.where("kind"),
            "every deal has a kind",
            f"add kind = one of {', '.join(DEAL_KINDS)}",
        )
    deal = Deal(
        source=source,
        target=target,
        amount_bn=amount,
        years=years,
        kind=kind,
        assumed=item.boolean("assumed", False),
        note=item.string("note", ""),
    )
    item.finish()
    return deal


def _positive(item: Table, name: str, example: str) -> float:
    if not item.has(name):
        raise ConfigError(
            f"missing key '{name}'", item.where(name), "it is required", f"add {example}"
        )
    value = item.number(name, None)
    if value <= 0.0:
        raise item.error(name, "must be positive", f"write {example}")
    return value
