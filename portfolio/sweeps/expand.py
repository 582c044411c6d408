"""The points of a sweep: a full grid, explicit variants or seeded random draws.

A *point* is an ordered mapping ``{parameter: value}`` of dotted parameter names
(``limits.max_weight``, ``rebalance``, ``strategy.covariance``); :mod:`portfolio.sweeps.spec`
applies it to the base backtest. Nested TOML tables are flattened into dotted names, so
``limits.max_weight = [...]``, ``"limits.max_weight" = [...]`` and ``max_weight = [...]``
under ``[grid.limits]`` are one parameter.

* ``[grid]``: every combination of the listed values, in file order, the last parameter
  changing fastest.
* ``[[variants]]``: one point per table, as written.
* ``[random]``: ``draws`` distinct points with ``seed``; each parameter of
  ``[random.parameters]`` is a list of values (drawn uniformly) or a range
  ``{min = ..., max = ...}`` (uniform; whole numbers when both ends are; ``step`` puts the
  draws on ``min + k * step``; other floats are rounded to 6 decimals).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from portfolio.config import Table
from portfolio.errors import ConfigError

__all__ = ["MAX_VARIANTS", "MODES", "Point", "flatten", "points"]

MODES = ("grid", "variants", "random")
MAX_VARIANTS = 100_000
"""Largest number of variants a sweep file may describe."""

RANGE_KEYS = ("min", "max", "step")


@dataclass(frozen=True)
class Point:
    """One variant's parameter values before they are applied.

    Attributes
    ----------
    values : tuple of (str, value)
        Dotted parameter name and value, in sweep order.
    origin : str
        Dotted key of the table the values come from (``grid``, ``variants[2]``,
        ``random.parameters``), for error messages.
    """

    values: tuple[tuple[str, Any], ...]
    origin: str


def flatten(data: Mapping[str, Any], is_leaf: Callable[[Any], bool] = lambda v: False,
            prefix: str = "") -> dict[str, Any]:
    """``{"limits": {"max_weight": x}}`` -> ``{"limits.max_weight": x}``.

    A table is descended into unless ``is_leaf(table)``; any other value is a leaf.
    """
    flat: dict[str, Any] = {}
    for name, value in data.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict) and not is_leaf(value):
            flat.update(flatten(value, is_leaf, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _is_range(value: Any) -> bool:
    return isinstance(value, dict) and "min" in value and set(value) <= set(RANGE_KEYS)


def points(root: Table) -> tuple[str, list[Point]]:
    """The sweep's mode and its points, from the ``grid``, ``variants`` or ``random`` key.

    Raises
    ------
    ConfigError
        None or more than one of the three, an empty grid or variant, a value that is
        not a list in a grid, a bad range, more draws than distinct points.
    """
    given = [mode for mode in MODES if root.has(mode)]
    if len(given) != 1:
        where = root.where(given[1]) if len(given) > 1 else root.source
        raise ConfigError(
            "a sweep needs exactly one of [grid], [[variants]] or [random]", where,
            f"found {', '.join(given) or 'none'}",
            "keep one: a full grid, a list of explicit variants, or N random draws")
    mode = given[0]
    if mode == "grid":
        found = _grid(root)
    elif mode == "variants":
        found = _variants(root)
    else:
        found = _random(root.table("random"))
    if len(found) > MAX_VARIANTS:
        raise ConfigError(f"{len(found)} variants", root.where(mode),
                          f"a sweep file may describe at most {MAX_VARIANTS}",
                          "split the sweep or use [random] draws")
    return mode, found


def _grid(root: Table) -> list[Point]:
    table = root.table("grid")
    flat = flatten({name: table.raw(name) for name in list(table.data)})
    if not flat:
        raise ConfigError("empty grid", root.where("grid"), "the grid lists no parameter",
                          'add a parameter and its values, e.g. rebalance = ["monthly", '
                          '"quarterly"]')
    for name, values in flat.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"invalid value {values!r}", table.where(name),
                              "a grid parameter lists the values to try",
                              f"write {name} = [value1, value2]")
    combos = math.prod(len(values) for values in flat.values())
    if combos > MAX_VARIANTS:
        raise ConfigError(f"{combos} variants", table.where(next(iter(flat))),
                          f"a sweep file may describe at most {MAX_VARIANTS}",
                          "list fewer values, or use [random] draws")
    names = list(flat)
    return [Point(tuple(zip(names, combo)), "grid")
            for combo in itertools.product(*flat.values())]


def _variants(root: Table) -> list[Point]:
    found = []
    for item in root.tables("variants"):
        flat = flatten({name: item.raw(name) for name in list(item.data)})
        if not flat:
            raise ConfigError("empty variant", root.where(item.key),
                              "a variant sets at least one parameter",
                              "add a parameter, e.g. cost_bps = 10, or remove the table")
        found.append(Point(tuple(flat.items()), item.key))
    if not found:
        raise root.error("variants", "no variants listed", "add [[variants]] tables")
    return found


def _random(table: Table) -> list[Point]:
    if not table.has("draws"):
        raise ConfigError("missing key 'draws'", table.where("draws"),
                          "random sweeps draw a given number of variants", "add draws = 20")
    draws = table.integer("draws", 0, low=1)
    seed = table.integer("seed", 0)
    domains_table = table.table("parameters")
    flat = flatten({name: domains_table.raw(name) for name in list(domains_table.data)},
                   _is_range)
    table.finish()
    if not flat:
        raise ConfigError("no parameters to draw", table.where("parameters"),
                          "[random.parameters] lists the values or ranges to draw from",
                          'add e.g. "limits.max_weight" = { min = 0.10, max = 0.30 }')
    domains = {name: _domain(domains_table, name, value) for name, value in flat.items()}
    finite = [len(d) for d in domains.values() if isinstance(d, list)]
    total = math.prod(finite) if len(finite) == len(domains) else None
    if total is not None and draws > total:
        raise ConfigError(f"{draws} draws", table.where("draws"),
                          f"the parameters allow only {total} distinct variants",
                          f"set draws to {total} at most, or use [grid]")
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    found: list[Point] = []
    for _ in range(draws * 100):
        values = tuple((name, _draw(domain, rng)) for name, domain in domains.items())
        if repr(values) not in seen:
            seen.add(repr(values))
            found.append(Point(values, "random.parameters"))
            if len(found) == draws:
                return found
    raise ConfigError(f"{draws} draws", table.where("draws"),
                      f"only {len(found)} distinct variants came out of {draws * 100} draws",
                      "widen the ranges or lower draws")


@dataclass(frozen=True)
class _Range:
    low: float
    high: float
    step: float | None
    whole: bool


def _domain(table: Table, name: str, value: Any) -> list[Any] | _Range:
    where = table.where(name)
    if isinstance(value, list):
        if not value:
            raise ConfigError("empty list", where, "nothing to draw from",
                              f"write {name} = [value1, value2]")
        return value
    if not _is_range(value) or "max" not in value:
        raise ConfigError(f"invalid value {value!r}", where,
                          "a random parameter is a list of values or a range",
                          f"write {name} = [v1, v2] or {name} = {{ min = 0.1, max = 0.3 }}")
    ends = [value["min"], value["max"], value.get("step", 1)]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in ends) or value["min"] >= value["max"]:
        raise ConfigError(f"invalid range {value!r}", where,
                          "min and max are numbers with min below max (and step above 0)",
                          f"write {name} = {{ min = 0.1, max = 0.3 }}")
    step = value.get("step")
    if step is not None and step <= 0:
        raise ConfigError(f"invalid range {value!r}", where, "step must be above 0",
                          "use a positive step or leave it out")
    whole = all(isinstance(v, int) for v in (value["min"], value["max"], step or 1))
    return _Range(value["min"], value["max"], step, whole)


def _draw(domain: list[Any] | _Range, rng: np.random.Generator) -> Any:
    if isinstance(domain, list):
        return domain[int(rng.integers(len(domain)))]
    if domain.step is not None:
        count = math.floor((domain.high - domain.low) / domain.step + 1e-9)
        value = domain.low + domain.step * int(rng.integers(0, count + 1))
        return int(value) if domain.whole else round(value, 10)
    if domain.whole:
        return int(rng.integers(int(domain.low), int(domain.high) + 1))
    return round(domain.low + (domain.high - domain.low) * float(rng.random()), 6)
