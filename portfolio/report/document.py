"""The report document: display cells that keep their raw values, tables, charts, reports.

A Report holds a title, summary sentences, sections (tables), charts and the JSON data;
the renderers in :mod:`portfolio.report` (text, JSON, CSV, Markdown) and
:mod:`portfolio.report.html` turn it into an output. No computation happens here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NUMBER_CELL", "Cell", "Chart", "Report", "Section", "cell", "fmt_money", "fmt_number",
           "fmt_pct", "section_names", "to_jsonable"]


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
class Chart:
    """A chart of the HTML format (the text formats leave charts out).

    Attributes
    ----------
    title : str
        Heading above the chart.
    figure : dict
        A Plotly figure in JSON form, ``{"data": [...], "layout": {...}}``
        (:mod:`portfolio.report.charts` builds them).
    note : str
        Optional sentence under the chart.
    """

    title: str
    figure: dict[str, Any]
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
    charts : tuple of Chart
        Charts of the HTML format.
    """

    title: str
    summary: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    charts: tuple[Chart, ...] = ()


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


def section_names(report: Report) -> tuple[str, ...]:
    """The names ``--table`` accepts: each section's title in lower case, words joined by -."""
    return tuple(_slug(section.title) for section in report.sections)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


NUMBER_CELL = re.compile(r"^[\s\d.,%+\-<=>*]*$|^(yes|no|ok|BREACH|inf|-inf)$")
"""A cell that reads as a number (right-aligned); anything else is text (left-aligned)."""
