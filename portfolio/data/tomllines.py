"""Where each key of a TOML file is written: line numbers for config error messages.

:func:`read_toml_with_lines` reads a file once (through
:func:`portfolio.data.tomlfile.read_toml`) and returns the parsed document with the line
of every key, by its dotted path: ``grid.limits.max_weight`` for ``max_weight`` under
``[grid.limits]``, for ``limits.max_weight = ...`` under ``[grid]`` and for
``"limits.max_weight" = ...`` under ``[grid]`` alike; the ``n``-th table of an array
``[[variants]]`` is ``variants[n]`` (from 0). The scan is line-based: a key inside a
multi-line string or inline table is not found, and errors about it name no line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from portfolio.data.tomlfile import read_toml

__all__ = ["key_lines", "read_toml_with_lines"]

_SEGMENT = r'(?:"[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_PATH = rf"{_SEGMENT}(?:\s*\.\s*{_SEGMENT})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_PATH})\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_PATH})\s*=")
_PART = re.compile(_SEGMENT)


def _dotted(path: str) -> str:
    """``'grid . "limits.max_weight"'`` -> ``grid.limits.max_weight``."""
    return ".".join(part.strip("\"'") for part in _PART.findall(path))


def key_lines(text: str) -> dict[str, int]:
    """Line number (from 1) of every key and table header of a TOML text, by dotted path.

    The first place a path appears wins.
    """
    lines: dict[str, int] = {}
    arrays: dict[str, int] = {}
    prefix = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            path = _dotted(header[2])
            if header[1] == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                lines.setdefault(path, number)
                path = f"{path}[{arrays[path]}]"
            prefix = path
            lines.setdefault(path, number)
            continue
        key = _KEY.match(line)
        if key:
            dotted = _dotted(key[1])
            lines.setdefault(f"{prefix}.{dotted}" if prefix else dotted, number)
    return lines


def read_toml_with_lines(path: str | Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The parsed TOML document and :func:`key_lines` of its text.

    Raises
    ------
    ConfigError
        Missing, unreadable or malformed file (see :func:`~portfolio.data.tomlfile.read_toml`).
    """
    data = read_toml(path)
    return data, key_lines(Path(path).read_text(encoding="utf-8-sig"))
