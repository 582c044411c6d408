"""Presentation: results become a :class:`Report`, rendered as a table, JSON, CSV or Markdown.

A Report holds a title, summary sentences, sections (tables) and the JSON data. No
computation happens here.

Feature modules (``portfolio.report.optimize``, ``.risk``, ...) turn one result type into
a Report; the renderers below are shared.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORMATS", "Report", "Section", "fmt_money", "fmt_pct", "render", "to_jsonable"]

FORMATS = ("table", "json", "csv", "markdown")


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


def fmt_pct(value: float | None, digits: int = 2) -> str:
    """Format a fraction as a percent string (``0.1234`` -> ``"12.34 %"``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.{digits}f} %"


def fmt_money(value: float | None) -> str:
    """Format USD with thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.2f}"


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


def render(report: Report, fmt: str, width: int | None = None) -> str:
    """Render a report as text in one of :data:`FORMATS`."""
    if fmt == "json":
        return json.dumps(to_jsonable(report.data), indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "csv":
        return _csv(report.sections)
    return _rich(report, width)


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


def _csv(sections: Sequence[Section]) -> str:
    """Long format: ``section`` column + each section's columns (one header per section)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for i, section in enumerate(sections):
        if i:
            buffer.write("\n")
        writer.writerow(["section", *section.columns])
        for row in section.rows:
            writer.writerow([section.title, *row])
    return buffer.getvalue()


_NUMBER = re.compile(r"^[\s\d.,%+\-<=>*]*$|^(yes|no|ok|BREACH|inf|-inf)$")
"""A cell that reads as a number (right-aligned); anything else is text (left-aligned)."""


def _rich(report: Report, width: int | None) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=io.StringIO(), width=width or 110, force_terminal=False,
                      color_system=None, highlight=False)
    console.print(f"[bold]{escape(report.title)}[/bold]")
    for sentence in report.summary:
        console.print(escape(sentence))
    for section in report.sections:
        table = Table(title=escape(section.title), title_justify="left",
                      caption=escape(section.note) or None, caption_justify="left")
        for i, column in enumerate(section.columns):
            numeric = i > 0 and all(_NUMBER.match(row[i]) for row in section.rows)
            table.add_column(column, justify="right" if numeric else "left")
        for row in section.rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
    return console.file.getvalue()
