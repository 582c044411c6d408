"""Exceptions raised by the toolkit.

Every error carries four parts -- *what* went wrong, *where* (file, key, line,
ticker), *why* and *how to fix it* -- so the CLI can print one line of the form
``Error: <what> (<where>): <why>. <how to fix>`` and exit with status 2. Numbers in the
line are plain (``0.0``, never numpy's ``np.float64(0.0)``), however the message was built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DataError",
    "InfeasibleError",
    "InputError",
    "PortfolioError",
    "SolverError",
    "check_choice",
    "did_you_mean",
    "plain_numbers",
]


class PortfolioError(Exception):
    """Base class of every error the toolkit raises on bad input or bad data.

    Parameters
    ----------
    what : str
        Short description of the problem, e.g. ``"unknown ticker 'NVDAA'"``.
    where : str, optional
        Location: file and line, config key, ticker, date.
    why : str, optional
        The rule that was broken.
    fix : str, optional
        What the user should do.
    """

    exit_code = 2

    def __init__(
        self,
        what: str,
        where: str | None = None,
        why: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.what = what
        self.where = where
        self.why = why
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The one-line message ``<what> (<where>): <why>. <fix>``."""
        text = self.what
        if self.where:
            text += f" ({self.where})"
        if self.why:
            text += f": {self.why.rstrip('.')}"
        text += "."
        if self.fix:
            fix = self.fix.rstrip(".")
            end = "" if fix.endswith(("?", "!")) else "."
            text += f" {fix[:1].upper()}{fix[1:]}{end}"
        return plain_numbers(" ".join(text.split()))


_NUMPY_SCALAR = re.compile(
    r"np\.(?:float|int|uint|complex|longdouble|clongdouble)\w*\(([^()]*)\)"
    r"|np\.str_\(('[^']*'|\"[^\"]*\")\)"
    r"|np\.(True|False)_"
)


def plain_numbers(text: str) -> str:
    """``text`` with numpy scalar reprs written plainly: ``np.float64(0.0)`` -> ``0.0``.

    f-strings with ``!r`` show numpy 2 scalars as ``np.float64(0.0)``; a message for a user
    shows the number.
    """
    return _NUMPY_SCALAR.sub(lambda m: next(g for g in m.groups() if g is not None), text)


class ConfigError(PortfolioError):
    """A configuration file is malformed or violates a rule."""


class InputError(PortfolioError):
    """A user input file (holdings, target weights) is malformed."""


class DataError(PortfolioError):
    """Prices are missing, unreachable, stale or corrupt."""


class SolverError(PortfolioError):
    """Every solver in the fallback chain failed."""


class InfeasibleError(PortfolioError):
    """The limits cannot all hold at once.

    Parameters
    ----------
    what, where, why, fix : str
        As for :class:`PortfolioError`; ``fix`` holds the smallest relaxation found.
    conflicts : tuple of str
        Names of the limits that take part in the conflict.
    suggestion : str, optional
        The proposed relaxation, in words (also used as ``fix``).
    """

    def __init__(
        self,
        what: str,
        where: str | None = None,
        why: str | None = None,
        fix: str | None = None,
        *,
        conflicts: tuple[str, ...] = (),
        suggestion: str | None = None,
    ) -> None:
        self.conflicts = tuple(conflicts)
        self.suggestion = suggestion or fix
        super().__init__(what, where, why, fix or suggestion)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"did you mean 'x'?"`` for the closest choice (case-insensitive), or ``""``."""
    choices = list(choices)
    upper = {str(c).upper(): c for c in choices}
    match = difflib.get_close_matches(str(word).upper(), list(upper), n=1, cutoff=0.6)
    return f"did you mean '{upper[match[0]]}'?" if match else ""


def check_choice(
    value: object,
    allowed: Iterable[str],
    name: str,
    *,
    where: str | None = None,
    error: type[PortfolioError] = InputError,
) -> None:
    """Raise ``error`` (an :class:`InputError` by default) when ``value`` is not allowed.

    Parameters
    ----------
    value : object
        The chosen name (e.g. a method); compared with ``==`` to each allowed name.
    allowed : iterable of str
        The valid names, listed in the message in this order.
    name : str
        What is chosen, e.g. ``"ragged"`` or ``"expected-return method"``; the message
        reads "unknown <name> '<value>'".
    where : str, optional
        Where the choice is made (the argument or config key); default ``name``.
    error : type
        The error class: :class:`InputError` for a function argument,
        :class:`ConfigError` for a config key.

    Raises
    ------
    PortfolioError
        ``unknown <name> <value!r> (<where>): it must be one of <allowed>. Did you mean ...``
    """
    allowed = tuple(allowed)
    if value in allowed:
        return
    listed = ", ".join(allowed)
    raise error(
        f"unknown {name} {value!r}",
        where or name,
        f"it must be one of {listed}",
        did_you_mean(str(value), allowed) or f"Use one of {listed}",
    )
