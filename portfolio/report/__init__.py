"""Presentation: results become a :class:`Report`, rendered as text, JSON, CSV, Markdown, HTML.

A Report (:mod:`portfolio.report.document`) holds a title, summary sentences, sections
(tables), charts (HTML only) and the JSON data. No computation happens here.

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
from typing import Any

from portfolio.report.document import (
    NUMBER_CELL,
    Cell,
    Chart,
    Report,
    Section,
    cell,
    fmt_money,
    fmt_number,
    fmt_pct,
    section_names,
    to_jsonable,
)

__all__ = ["FORMATS", "Cell", "Chart", "Report", "Section", "cell", "fmt_money", "fmt_number",
           "fmt_pct", "render", "section_names", "to_jsonable"]

FORMATS = ("table", "json", "csv", "markdown", "html")


def render(report: Report, fmt: str, width: int | None = None, *, table: str | None = None,
           color: bool = False) -> str:
    """Render a report as text in one of :data:`FORMATS`.

    Parameters
    ----------
    report : Report
    fmt : str
        ``table`` (rich, ``width`` columns, ANSI colours with ``color``), ``json``,
        ``csv`` (one section: the first, or ``table``), ``markdown`` or ``html`` (one
        self-contained page with the charts; see :mod:`portfolio.report.html`).
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
    if fmt == "html":
        from portfolio.report.html import html_page

        return html_page(report)
    if fmt == "csv":
        return _csv(_chosen_section(report, table))
    return _rich(report, width, color)


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
            numeric = i > 0 and all(NUMBER_CELL.match(row[i]) for row in section.rows)
            table.add_column(column, justify="right" if numeric else "left",
                             overflow="fold")
        for row in section.rows:
            table.add_row(*(_styled(cell_text, escape) for cell_text in row))
        console.print(table)
    return console.file.getvalue()


def _styled(text: str, escape: Any) -> str:
    style = STATUS_STYLES.get(str(text))
    return f"[{style}]{escape(text)}[/{style}]" if style else escape(text)
