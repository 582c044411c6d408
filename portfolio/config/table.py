"""Typed access to a TOML table: every value checked, every key accounted for.

:class:`Table` is what every config parser of the toolkit uses (portfolio config,
backtests, the deal graph, sweeps): each accessor checks a value's type and range and
raises a :class:`~portfolio.errors.ConfigError` naming the file and the dotted key;
:meth:`Table.finish` rejects keys nobody read, with a "did you mean".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from portfolio.errors import ConfigError, InputError, did_you_mean
from portfolio.weights import distinct_tickers, normalize_ticker

__all__ = ["Table", "check_tickers"]


class Table:
    """Typed access to one TOML table, recording the keys read.

    ``finish()`` raises on any key that was not read, with a "did you mean".
    Reusable by every config parser of the toolkit (backtests, ecosystem).
    """

    def __init__(self, data: Any, source: str, key: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(
                f"'{key}' must be a table", f"{source}, key {key}",
                f"got {type(data).__name__}", f"write it as [{key}]",
            )
        self.data = data
        self.source = source
        self.key = key
        self._seen: set[str] = set()

    def where(self, name: str) -> str:
        """Location string for a key of this table."""
        dotted = f"{self.key}.{name}" if self.key else name
        return f"{self.source}, key {dotted}"

    def error(self, name: str, why: str, fix: str) -> ConfigError:
        """Build a ConfigError about key ``name``."""
        value = self.data.get(name)
        return ConfigError(f"invalid value {value!r}", self.where(name), why, fix)

    def has(self, name: str) -> bool:
        """Whether the key is present."""
        return name in self.data

    def raw(self, name: str, default: Any = None) -> Any:
        """Return the raw value, marking the key as read."""
        self._seen.add(name)
        return self.data.get(name, default)

    def _dotted(self, name: str) -> str:
        """``name``'s full key (``limits.group_caps``; ``name`` itself at the top level)."""
        return f"{self.key}.{name}" if self.key else name

    def table(self, name: str) -> Table:
        """Return a sub-table (empty when absent)."""
        return Table(self.raw(name, {}), self.source, self._dotted(name))

    def string(self, name: str, default: str | None = None, choices: Iterable[str] = ()) -> Any:
        """Return a string, optionally one of ``choices``."""
        value = self.raw(name, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(name, "expected a string", f'write {name} = "..."')
        choices = tuple(choices)
        if choices and value not in choices:
            hint = did_you_mean(value, choices)
            raise ConfigError(
                f"unknown value '{value}'", self.where(name),
                f"must be one of {', '.join(choices)}", hint or f"use one of {', '.join(choices)}",
            )
        return value

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        low: float | None = None,
        high: float | None = None,
        what: str = "a number",
    ) -> Any:
        """Return a finite float within [low, high]."""
        value = self.raw(name, default)
        if value is None:
            return None
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not math.isfinite(value):
            raise self.error(name, f"expected {what}", f"write {name} = <number>")
        if low is not None and value < low:
            raise self.error(name, f"must be >= {low}", f"use a value between {low} and {high}")
        if high is not None and value > high:
            fix = f"use a value between {low} and {high}"
            if high == 1.0 and value <= 100:
                fix = f"limits are fractions: write {value / 100:g} for {value:g} %"
            raise self.error(name, f"must be <= {high}", fix)
        return float(value)

    def fraction(self, name: str, default: float | None = None) -> Any:
        """Return a fraction in [0, 1]; a value like 25 gets a 'write 0.25' hint."""
        return self.number(name, default, low=0.0, high=1.0, what="a fraction between 0 and 1")

    def integer(self, name: str, default: int, *, low: int = 0) -> int:
        """Return an integer >= low."""
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, "expected a whole number", f"write {name} = <integer>")
        if value < low:
            raise self.error(name, f"must be >= {low}", f"use a value >= {low}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """Return a boolean."""
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, "expected true or false", f"write {name} = true")
        return value

    def strings(self, name: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        """Return a list of strings as a tuple."""
        value = self.raw(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "expected a list of strings", f'write {name} = ["A", "B"]')
        return tuple(value)

    def ticker_list(self, name: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        """Return a list of tickers, normalised (stripped, upper-case), possibly empty."""
        where = self.where(name)
        try:
            return tuple(normalize_ticker(t, where) for t in self.strings(name, default))
        except InputError as error:
            raise ConfigError(error.what, where, error.why, error.fix) from None

    def tickers(self, name: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        """Return a non-empty list of distinct tickers (normalised; CASH is not one)."""
        tickers = self.ticker_list(name, default)
        where = self.where(name)
        if not tickers:
            raise ConfigError("no tickers", where, "at least one ticker is needed",
                              f'write {name} = ["NVDA", "AMD", ...]')
        try:
            return distinct_tickers(tickers, where)
        except InputError as error:
            raise ConfigError(error.what, where, error.why, error.fix) from None

    def tables(self, name: str) -> list[Table]:
        """Return an array of tables (``[[name]]``)."""
        value = self.raw(name, [])
        if not isinstance(value, list):
            raise self.error(name, "expected an array of tables",
                             f"write [[{self._dotted(name)}]]")
        return [Table(item, self.source, f"{self._dotted(name)}[{i}]")
                for i, item in enumerate(value)]

    def fraction_map(self, name: str) -> dict[str, float]:
        """Return a ``{label: fraction}`` table."""
        sub = self.table(name)
        return {label: sub.fraction(label) for label in list(sub.data)}

    def finish(self) -> None:
        """Raise on keys that were never read (unknown keys)."""
        for name in self.data:
            if name not in self._seen:
                hint = did_you_mean(name, self._seen)
                raise ConfigError(
                    f"unknown key '{name}'", self.where(name),
                    "the key is not part of the configuration",
                    hint or f"remove it; known keys here: {', '.join(sorted(self._seen))}",
                )


def check_tickers(names: Iterable[str], universe: Iterable[str], where: str, what: str) -> None:
    """Raise a :class:`ConfigError` for the first name outside ``universe`` (did you mean)."""
    universe = tuple(universe)
    for name in names:
        if name not in universe:
            hint = did_you_mean(name, universe)
            raise ConfigError(
                f"{what} '{name}' is not in the universe", where,
                "every ticker must be listed in universe.tickers",
                hint or f"add it to universe.tickers ({', '.join(universe)})",
            )
