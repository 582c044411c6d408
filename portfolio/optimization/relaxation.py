"""What a fix of infeasible limits looks like: relaxations of config keys, and the diagnosis.

A :class:`Relaxation` changes one configuration value (``limits.group_caps.semiconductors``
from 30 % to 34 %); a :class:`Diagnosis` names the conflicting limit rows and the
alternative plans, and becomes the one-line :class:`~portfolio.errors.InfeasibleError`.
:func:`config_key` maps a limit row label to the key a user edits. Values are fractions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from portfolio.errors import InfeasibleError
from portfolio.optimization.constraints import MaxWeight, MinWeight

__all__ = [
    "CONFIG_KEYS",
    "FREE_SLACK",
    "MAX_ALTERNATIVES",
    "Diagnosis",
    "Relaxation",
    "config_key",
    "governing",
    "keys_text",
    "names_text",
    "pct",
    "relaxation",
    "safe_bound",
]

MAX_ALTERNATIVES = 3  # alternatives spelled out in the one-line message


FREE_SLACK = 10.0  # slack bound that amounts to dropping a cap row (weights are <= 1)


CONFIG_KEYS = {
    "max_weight": "limits.max_weight",
    "min_weight": "limits.min_weight",
    "group_cap": "limits.group_caps.{}",
    "group_floor": "limits.group_floors.{}",
    "theme_cap": "limits.theme_caps[{}].cap",
    "cash_floor": "limits.cash_floor",
    "max_turnover": "limits.max_turnover",
}


@dataclass(frozen=True)
class Relaxation:
    """A change of one configuration value.

    Attributes
    ----------
    key : str
        Configuration key, e.g. ``"limits.group_caps.semiconductors"``.
    direction : str
        ``"raise"`` (a cap, or the cash floor to invest less) or ``"lower"`` (a floor).
    current : float
        Value now (fraction).
    proposed : float
        Value that restores feasibility (fraction), rounded to 0.01 % in the safe direction.
    labels : tuple of str
        Limit rows the key moves (``"max_weight[NVDA]"``, ...).
    """

    key: str
    direction: str
    current: float
    proposed: float
    labels: tuple[str, ...] = ()

    def describe(self) -> str:
        """``"raise limits.group_caps.semiconductors from 30 % to 34 %"``."""
        return f"{self.direction} {self.key} from {pct(self.current)} to {pct(self.proposed)}"


@dataclass(frozen=True)
class Diagnosis:
    """Why a limit set is infeasible and how to fix it.

    Attributes
    ----------
    what, where, why : str
        Parts of the one-line error message.
    conflicts : tuple of str
        Labels of the limit rows taking part in the conflict.
    plans : tuple of tuple of Relaxation
        Alternative fixes, smallest first; every relaxation of one plan is applied
        together (most plans change a single key).
    """

    what: str
    where: str | None
    why: str
    conflicts: tuple[str, ...]
    plans: tuple[tuple[Relaxation, ...], ...] = ()

    @property
    def suggestion(self) -> str:
        """The plans in words: ``"raise A from .. to .., or lower B from .. to .."``."""
        shown = [" and ".join(r.describe() for r in plan) for plan in self.plans[:MAX_ALTERNATIVES]]
        return ", or ".join(shown)

    def error(self) -> InfeasibleError:
        """The :class:`~portfolio.errors.InfeasibleError` carrying this diagnosis."""
        fix = self.suggestion or "relax one of the limits named"
        return InfeasibleError(self.what, self.where, self.why, fix,
                               conflicts=self.conflicts, suggestion=fix)


def pct(x: float) -> str:
    """A fraction as a short percent (``0.345`` -> ``"34.5 %"``)."""
    text = f"{100 * x:.2f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('-0', '') else text} %"


def safe_bound(value: float, direction: str) -> float:
    """Round to 0.01 % away from the conflict, clipped to [0, 1]."""
    scaled = value * 1e4
    rounded = math.ceil(scaled - 1e-6) if direction == "raise" else math.floor(scaled + 1e-6)
    return min(max(rounded / 1e4, 0.0), 1.0)


def relaxation(key: str, direction: str, current: float, target: float,
                labels: Iterable[str] = ()) -> Relaxation:
    """A :class:`Relaxation` with the target rounded away from the conflict."""
    return Relaxation(key, direction, float(current), safe_bound(target, direction), tuple(labels))


def names_text(tickers: Sequence[str], limit: int = 6) -> str:
    """Tickers joined by commas for a message, at most ``limit`` of them."""
    shown = list(tickers[:limit])
    more = len(tickers) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def keys_text(keys: Sequence[str]) -> str:
    """Config keys joined as ``"a, b and c"`` (each once)."""
    keys = list(dict.fromkeys(keys))
    return keys[0] if len(keys) == 1 else ", ".join(keys[:-1]) + " and " + keys[-1]


def governing(objects: Iterable[Any], kind: type, ticker: str) -> Any | None:
    """The MaxWeight (lowest cap) or MinWeight (highest floor) object that binds ``ticker``."""
    best, best_value = None, None
    for obj in objects:
        if isinstance(obj, kind):
            value = obj.overrides.get(ticker, obj.cap if kind is MaxWeight else obj.floor)
            better = best_value is None or (
                value < best_value if kind is MaxWeight else value > best_value
            )
            if better:
                best, best_value = obj, value
    return best


def config_key(label: str, constraints: Sequence[Any] = ()) -> str:
    """Configuration key of a limit row label.

    Parameters
    ----------
    label : str
        Row label, e.g. ``"group_cap[semiconductors]"``, ``"max_weight[CRWV]"``,
        ``"cash_floor"``.
    constraints : sequence, optional
        The limit objects; with them, a per-name row maps to its override key
        (``"limits.max_weight_overrides.CRWV"``) when an override sets it.

    Returns
    -------
    str
        E.g. ``"limits.group_caps.semiconductors"``; an unknown label ``x`` gives ``"limits.x"``.
    """
    kind, _, rest = label.partition("[")
    argument = rest.rstrip("]")
    if kind == "available":
        return f"availability of {argument}"
    if kind in ("max_weight", "min_weight") and argument:
        source = governing(constraints, MaxWeight if kind == "max_weight" else MinWeight, argument)
        if source is not None and argument in source.overrides:
            return f"limits.{kind}_overrides.{argument}"
        return CONFIG_KEYS[kind]
    if kind in CONFIG_KEYS:
        return CONFIG_KEYS[kind].format(argument)
    return f"limits.{label}"
