"""Reading TOML files: the one place a configuration file is read from disk.

Errors name the file, the line and the column, with the fix, so that a user can correct a
config without a traceback.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from portfolio.errors import ConfigError

__all__ = ["read_toml"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; the only TOML reader of the toolkit.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or not valid TOML (with the line number).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "config file not found", str(path), "no such file",
            "check the file path (relative paths start from the current folder)",
        ) from None
    except OSError as exc:
        raise ConfigError(
            "cannot read config file", str(path), exc.strerror or str(exc), "check permissions"
        ) from None
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(
            "config file is not UTF-8 text", str(path), "TOML must be UTF-8", "save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        line, column, why = _toml_error_position(exc, raw.decode("utf-8-sig"))
        where = f"{path}, line {line}" + (f", column {column}" if column else "")
        raise ConfigError(
            "malformed TOML", where, why,
            "fix the syntax at that line (strings need quotes, tables [name], arrays [a, b])",
        ) from None


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _toml_error_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, int | None, str]:
    """Line, column and bare message of a TOML error.

    Python 3.14 sets ``lineno``/``colno``/``msg``; 3.11-3.13 only write
    ``"<msg> (at line L, column C)"`` or ``"<msg> (at end of document)"`` in the text.
    """
    message = str(exc)
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    match = _TOML_POSITION.search(message)
    if match:
        message = message[: match.start()]
        if match[1] is not None:
            line, column = line or int(match[1]), column or int(match[2])
    if line is None:  # "at end of document": the last line of the file
        line, column = max(len(text.splitlines()), 1), None
    return line, column, getattr(exc, "msg", None) or message
