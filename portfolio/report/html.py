"""The HTML format: one self-contained page per report, charts drawn by an inlined plotly.js.

Why Plotly: the reports' time series want hover read-outs and zoom (an equity curve over
27 years, a drawdown you want to date), which matplotlib's SVG cannot give; Vega-Lite via
Altair would need two more packages (altair, vl-convert or the three vega runtimes) where
Plotly is one, and its single minified bundle (``plotly.min.js`` shipped inside the
``plotly`` Python package) is inlined as is. The figures themselves are plain dicts
(:mod:`portfolio.report.charts`): the Python ``plotly`` package is never imported, only its
JavaScript file is read.

The page holds everything: styles, the script, the chart data; system fonts only. It
makes no request to any host, so it opens from disk without a network. Tables carry each
number's raw value in a ``data-value`` attribute (fractions, USD) beside the display text,
so a program (or a test) can read them exactly.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import json
from pathlib import Path
from typing import Any

from portfolio.errors import InputError
from portfolio.report.document import NUMBER_CELL, Cell, Report, Section, section_names, to_jsonable

__all__ = ["html_page", "plotly_js"]

_STYLE = """
:root { --ink: #1f2328; --muted: #57606a; --rule: #d0d7de; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 28px 60px; color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--rule);
  padding-bottom: 4px; }
p.summary { margin: 4px 0; }
p.warning { margin: 4px 0; color: #9a6700; }
nav { margin: 12px 0 8px; font-size: 13px; }
nav a { margin-right: 12px; color: #0969da; text-decoration: none; }
figure { margin: 18px 0 28px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
.chart { width: 100%; min-height: 240px; }
.note { color: var(--muted); font-size: 12.5px; margin: 4px 0 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); white-space: nowrap; }
th { background: var(--band); text-align: left; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.breach { color: #c0392b; font-weight: 600; }
td.ok { color: #2e7d32; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

_START = """
var sharedAxes = JSON.parse(document.getElementById('shared-axes').textContent);
document.querySelectorAll('script[type="application/json"][data-chart-for]').forEach(
  function (spec) {
    var figure = JSON.parse(spec.textContent);
    figure.data.forEach(function (trace) {
      if (typeof trace.x === 'string' && trace.x.indexOf('$ref:') === 0) {
        trace.x = sharedAxes[parseInt(trace.x.slice(5), 10)];
      }
    });
    var target = document.getElementById(spec.getAttribute('data-chart-for'));
    Plotly.newPlot(target, figure.data, figure.layout,
                   {responsive: true, displaylogo: false});
  });
"""


@functools.cache
def plotly_js() -> str:
    """The text of ``plotly.min.js`` from the installed ``plotly`` package (not imported).

    Raises
    ------
    InputError
        When the plotly package is not installed.
    """
    spec = importlib.util.find_spec("plotly")
    path = (Path(spec.origin).parent / "package_data" / "plotly.min.js"
            if spec is not None and spec.origin else None)
    if path is None or not path.is_file():
        raise InputError("plotly.js is not available", "--format html",
                         "the HTML reports inline the plotly.min.js of the plotly package",
                         "install it: pip install plotly")
    return path.read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    r"""JSON safe inside a ``<script>`` element: every ``<`` written as ``\u003c``.

    Neither ``</script>`` (which would close the element early) nor ``<!--<script>``
    (after which the element's own end tag no longer ends it) can then occur in it.

    Chart figures hold plain numbers already (fast path); anything else (numpy scalars,
    dates, NaN) goes through :func:`to_jsonable` (NaN becomes null).
    """
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, default=to_jsonable)
    except ValueError:  # a NaN or an infinity somewhere
        text = json.dumps(to_jsonable(value), separators=(",", ":"))
    return text.replace("<", "\\u003c")


def _cell(text: str, numeric: bool) -> str:
    classes = ["num"] if numeric else []
    if text == "BREACH":
        classes.append("breach")
    elif text == "ok":
        classes.append("ok")
    attributes = f' class="{" ".join(classes)}"' if classes else ""
    if isinstance(text, Cell):
        value = to_jsonable(text.value)
        attributes += f' data-value="{html.escape("" if value is None else str(value))}"'
        if text.flag:
            attributes += f' data-flag="{html.escape(text.flag)}"'
    return f"<td{attributes}>{html.escape(str(text))}</td>"


def _table(section: Section, slug: str) -> str:
    numeric = [i > 0 and bool(section.rows)
               and all(NUMBER_CELL.match(row[i]) for row in section.rows)
               for i in range(len(section.columns))]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in section.columns)
    rows = "".join("<tr>" + "".join(_cell(text, numeric[i]) for i, text in enumerate(row))
                   + "</tr>" for row in section.rows)
    note = f'<p class="note">{html.escape(section.note)}</p>' if section.note else ""
    return (f'<section id="table-{slug}"><h2>{html.escape(section.title)}</h2>'
            f'<div class="table-wrap"><table data-section="{slug}"><thead><tr>{head}</tr>'
            f"</thead><tbody>{rows}</tbody></table></div>{note}</section>")


def _shared_axes(figures: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[list]]:
    """Figures whose long ``x`` arrays (dates) are stored once and referenced as ``"$ref:N"``.

    A backtest's charts repeat the same dates in every trace; the page keeps one copy.
    """
    shared: list[list] = []
    index: dict[tuple, int] = {}
    out = []
    for figure in figures:
        traces = []
        for trace in figure.get("data", []):
            values = trace.get("x")
            if isinstance(values, list) and len(values) > 50:
                key = tuple(values)
                if key not in index:
                    index[key] = len(shared)
                    shared.append(values)
                trace = {**trace, "x": f"$ref:{index[key]}"}
            traces.append(trace)
        out.append({**figure, "data": traces})
    return out, shared


def html_page(report: Report) -> str:
    """The report as one HTML document (UTF-8 text, a few MB with the inlined plotly.js).

    Order: title, summary sentences (warnings highlighted), a table of contents, the
    charts (each a ``<div class="chart" data-chart=...>``), then every table.
    """
    slugs = section_names(report)
    summary = "".join(
        f'<p class="{"warning" if s.startswith("Warning") else "summary"}">'
        f"{html.escape(s)}</p>" for s in report.summary)
    links = [f'<a href="#chart-{k}">{html.escape(c.title)}</a>'
             for k, c in enumerate(report.charts)]
    links += [f'<a href="#table-{slug}">{html.escape(s.title)}</a>'
              for slug, s in zip(slugs, report.sections)]
    figures = []
    specs, shared = _shared_axes([chart.figure for chart in report.charts])
    for k, (chart, spec) in enumerate(zip(report.charts, specs)):
        note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
        figures.append(
            f'<figure id="chart-{k}"><figcaption>{html.escape(chart.title)}</figcaption>'
            f'<div class="chart" id="chart-{k}-plot" data-chart="{k}"></div>{note}'
            f'<script type="application/json" data-chart-for="chart-{k}-plot">'
            f"{_script_json(spec)}</script></figure>")
    tables = "".join(_table(section, slug) for slug, section in zip(slugs, report.sections))
    title = html.escape(report.title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style>"
        f"<script>{plotly_js()}</script></head><body>"
        f"<header><h1>{title}</h1>{summary}<nav>{''.join(links)}</nav></header>"
        f"<main>{''.join(figures)}{tables}</main>"
        "<footer>Made by the portfolio toolkit. Self-contained: opens without a network."
        f'</footer><script type="application/json" id="shared-axes">{_script_json(shared)}'
        f"</script><script>{_START}</script></body></html>\n"
    )
