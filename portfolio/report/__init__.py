"""Presentation: results become a :class:`Report`, rendered as a table, JSON, CSV or Markdown.

A Report holds a title, summary sentences, sections (tables) and the JSON data. No
computation happens here.

Feature modules (``portfolio.report.optimize``, ``.risk``, ...) turn one result type into
a Report; the renderers below are shared.

Table cells are display text. A number formatted for display (``20.00 %``,
``130,487.50``) is a :class:`Cell`: a ``str`` that also carries the raw value (the
fraction 0.2, the amount 130487.5) and an optional flag (``*`` for a proxy, ``<=`` for a
bound). The CSV format writes those raw values -- one table, a header row, numbers as
numbers, each flag in a column of its own -- so that programs can read it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORMATS", "Cell", "Report", "Section", "cell", "fmt_money", "fmt_number", "fmt_pct",
           "render",
           "section_names", "to_jsonable"]

FORMATS = ("table", "json", "csv", "markdown")


class Cell(str):
    """Display text that remembers the raw value it shows (see the module docstring).

    ``Cell("20.00 %", 0.2)`` prints as ``20.00 %``; :attr:`value` is 0.2 and :attr:`flag`
    a short marker shown beside the number (``"*"``, ``"<="``) or ``""``. An f-string or
    ``+`` turns a Cell back into a plain ``str``.
    """

    value: Any
    flag: str

    def __new__(cls, text: str, value: Any, flag: str = "") -> Cell:
        """``text`` shown, ``value`` raw, ``flag`` a marker beside it."""
        made = super().__new__(cls, text)
        made.value = value
        made.flag = flag
        return made


def cell(value: Any, text: str | None = None, flag: str = "") -> Cell:
    """A :class:`Cell` showing ``text`` (default ``str(value)``) for the raw ``value``."""
    return Cell(str(value) if text is None else text, value, flag)


@dataclass(frozen=True)
class Section:
    """A titled table.

    Attributes
    ----------
    title : str
        Heading.
    columns : tuple of str
        Column headers.
    rows : tuple of tuple
        Cells, already formatted as strings for display.
    note : str
        Optional sentence under the table.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Report:
    """A rendered-agnostic result.

    Attributes
    ----------
    title : str
        Heading of the whole report.
    summary : tuple of str
        A few sentences shown first.
    sections : tuple of Section
        Tables.
    data : dict
        Machine-readable content (the JSON object).
    """

    title: str
    summary: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


def fmt_pct(value: float | None, digits: int = 2) -> Cell:
    """Format a fraction as a percent (``0.1234`` -> ``"12.34 %"``; raw value 0.1234)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("-", None)
    return Cell(f"{100 * value:.{digits}f} %", float(value))


def fmt_number(value: float | None, digits: int = 2, *, thousands: bool = False,
               suffix: str = "") -> Cell:
    """Format a number (``1.234`` -> ``"1.23"``; with ``thousands`` ``"1,234"``).

    NaN and None show ``-`` (empty in CSV); infinities ``inf`` / ``-inf``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("-", None)
    if isinstance(value, float) and math.isinf(value):
        return Cell("inf" if value > 0 else "-inf", value)
    text = f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"
    return Cell(text + suffix, value)


def fmt_money(value: float | None) -> Cell:
    """Format USD with thousands separators (raw value: the amount)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("-", None)
    return Cell(f"{value:,.2f}", float(value))


def to_jsonable(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers to plain JSON types (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        is_date = type(value).__name__ in ("Timestamp", "date")
        return value.isoformat()[:10] if is_date else value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render(report: Report, fmt: str, width: int | None = None, *, table: str | None = None,
           color: bool = False) -> str:
    """Render a report as text in one of :data:`FORMATS`.

    Parameters
    ----------
    report : Report
    fmt : str
        ``table`` (rich, ``width`` columns, ANSI colours with ``color``), ``json``,
        ``csv`` (one section: the first, or ``table``) or ``markdown``.
    width : int, optional
        Terminal width for ``table`` (default 110).
    table : str, optional
        The CSV section by name (:func:`section_names`).
    color : bool
        Colour the ``table`` format (breach red, ok green, warnings yellow).

    Raises
    ------
    InputError
        ``table`` names no section of the report.
    """
    if fmt == "json":
        return json.dumps(to_jsonable(report.data), indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "csv":
        return _csv(_chosen_section(report, table))
    return _rich(report, width, color)


def section_names(report: Report) -> tuple[str, ...]:
    """The names ``--table`` accepts: each section's title in lower case, words joined by -."""
    return tuple(_slug(section.title) for section in report.sections)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _chosen_section(report: Report, name: str | None) -> Section | None:
    if not report.sections:
        return None
    if name is None:
        return report.sections[0]
    names = section_names(report)
    if name not in names:
        from portfolio.errors import InputError, did_you_mean

        raise InputError(f"no table {name!r} in this output", "--table",
                         f"its tables are {', '.join(names)}",
                         did_you_mean(name, names) or f"use one of {', '.join(names)}")
    return report.sections[names.index(name)]


def _markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    if report.summary:
        lines += [" ".join(report.summary), ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        lines.append("| " + " | ".join(section.columns) + " |")
        lines.append("|" + "|".join(" --- " for _ in section.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in section.rows]
        if section.note:
            lines += ["", section.note]
        lines.append("")
    return "\n".join(lines)


def _csv(section: Section | None) -> str:
    """One table: a header row, raw values (numbers as numbers), flags in their own column."""
    buffer = io.StringIO()
    if section is None:
        return ""
    writer = csv.writer(buffer, lineterminator="\n")
    flagged = [any(isinstance(row[i], Cell) and row[i].flag for row in section.rows)
               for i in range(len(section.columns))]
    header = []
    for column, has_flag in zip(section.columns, flagged):
        header += [column, f"{column} flag"] if has_flag else [column]
    writer.writerow(header)
    for row in section.rows:
        out = []
        for text, has_flag in zip(row, flagged):
            value = text.value if isinstance(text, Cell) else str(text)
            out.append("" if value is None else _raw(value))
            if has_flag:
                out.append(text.flag if isinstance(text, Cell) else "")
        writer.writerow(out)
    return buffer.getvalue()


def _raw(value: Any) -> Any:
    """A raw CSV value: floats with full precision, non-finite numbers empty."""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return value


_NUMBER = re.compile(r"^[\s\d.,%+\-<=>*]*$|^(yes|no|ok|BREACH|inf|-inf)$")
"""A cell that reads as a number (right-aligned); anything else is text (left-aligned)."""

STATUS_STYLES = {"BREACH": "bold red", "ok": "green"}
"""Colours of status cells on a terminal."""


def _rich(report: Report, width: int | None, color: bool) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=io.StringIO(), width=width or 110, force_terminal=color,
                      color_system="standard" if color else None, highlight=False,
                      no_color=not color)
    console.print(f"[bold]{escape(report.title)}[/bold]")
    for sentence in report.summary:
        style = "yellow" if sentence.startswith("Warning") else ""
        console.print(f"[{style}]{escape(sentence)}[/{style}]" if style else escape(sentence))
    for section in report.sections:
        table = Table(title=escape(section.title), title_justify="left",
                      caption=escape(section.note) or None, caption_justify="left")
        for i, column in enumerate(section.columns):
            numeric = i > 0 and all(_NUMBER.match(row[i]) for row in section.rows)
            table.add_column(column, justify="right" if numeric else "left",
                             overflow="fold")
        for row in section.rows:
            table.add_row(*(_styled(cell_text, escape) for cell_text in row))
        console.print(table)
    return console.file.getvalue()


def _styled(text: str, escape: Any) -> str:
    style = STATUS_STYLES.get(str(text))
    return f"[{style}]{escape(text)}[/{style}]" if style else escape(text)
