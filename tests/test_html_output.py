"""The HTML pages as text (no browser): self-contained, well formed, deterministic, atomic.

tests/test_html_browser.py opens the same pages in Chromium; these read the bytes.
"""

from __future__ import annotations

import json
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import portfolio.data.output
import portfolio.report.html
from portfolio.errors import InputError
from portfolio.report import Chart, Report, Section, cell, render
from portfolio.report.html import plotly_js
from tests.cli_helpers import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[1]
HOLDINGS = str(ROOT / "examples" / "holdings.csv")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
URL_ATTRIBUTES = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href"}
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //host
JSON_SCRIPT = re.compile(r'<script type="application/json" ([^>]*)>(.*?)</script>', re.S)


class _Page(HTMLParser):
    """Every start tag with its attributes, and any end tag that closes the wrong element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.open: list[str] = []
        self.misnested: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.misnested.append(f"</{tag}> inside {self.open[-3:]}")


def assert_self_contained(page: str) -> list[dict[str, Any]]:
    """Check a page and return its chart figures (``$ref`` axes resolved).

    The inlined plotly.js is there exactly once and the rest of the page names no host;
    elements nest properly; every JSON script element parses whole and holds no ``</``
    or ``<!--``; every chart element has its figure.
    """
    bundle = plotly_js()
    assert page.count(bundle) == 1, "plotly.js inlined exactly once"
    rest = page.replace(bundle, "")
    assert rest.startswith("<!DOCTYPE html>") and rest.endswith("</html>\n")

    parsed = _Page()
    parsed.feed(rest)
    parsed.close()
    assert parsed.misnested == [] and parsed.open == []
    for tag, attributes in parsed.tags:
        for name, value in attributes.items():
            if name in URL_ATTRIBUTES:
                assert not REMOTE.match(value), f"<{tag} {name}={value!r}> names a host"
        if tag == "link":
            assert "stylesheet" not in attributes.get("rel", ""), "no external stylesheet"
    assert not re.search(r"url\(\s*['\"]?\s*(?:[a-z]+:)?//|@import", rest, re.I)

    scripts = JSON_SCRIPT.findall(rest)
    for _, body in scripts:
        assert "</" not in body and "<!--" not in body
    loaded = {attributes: json.loads(body) for attributes, body in scripts}
    shared = loaded.pop('id="shared-axes"')
    figures = list(loaded.values())  # in page order
    assert len(figures) == rest.count('<div class="chart"')
    for figure in figures:
        assert isinstance(figure["data"], list) and isinstance(figure["layout"], dict)
        for trace in figure["data"]:
            if isinstance(trace.get("x"), str) and trace["x"].startswith("$ref:"):
                trace["x"] = shared[int(trace["x"][5:])]
    return figures


@pytest.mark.parametrize("args", [
    ("optimize",),
    ("risk", "--holdings", HOLDINGS),  # the deal graph, a correlation heatmap
    ("stress", "--holdings", HOLDINGS),  # replay paths: long date axes
], ids=lambda args: args[0])
def test_command_pages_are_self_contained(args, tmp_path, capsys):
    target = tmp_path / "page.html"
    code, out, err = run(capsys, "--offline", *args, "--format", "html", "-o", str(target))
    assert code == 0 and out == "", err
    figures = assert_self_contained(target.read_text(encoding="utf-8"))
    assert figures and all(figure["data"] for figure in figures)


def test_a_command_without_charts_writes_a_valid_page(tmp_path, capsys):
    target = tmp_path / "data.html"
    code, _, err = run(capsys, "--offline", "data", "show", "--format", "html", "-o", str(target))
    assert code == 0, err
    page = target.read_text(encoding="utf-8")
    assert assert_self_contained(page) == []
    assert '<table data-section="coverage">' in page
    assert '<script type="application/json" id="shared-axes">[]</script>' in page
    assert 'data-value="' in page


def _report(labels: list[str]) -> Report:
    dates = [f"2024-{m:02d}-{d:02d}" for m in range(1, 7) for d in range(1, 29)]
    figure = {"data": [{"type": "scatter", "x": dates, "y": [1.0 + k / 7 for k in range(168)],
                        "name": label} for label in labels]
              + [{"type": "bar", "x": labels, "y": [0.5, float("nan"), -0.25]}],
              "layout": {"yaxis": {"tickformat": ".0%"}, "title": {"text": "<i>t</i>"}}}
    return Report(
        "A <report> & more", ("Warning: <!-- careful", "all fine"),
        (Section("Main", ("name", "weight"), tuple(
            (label, cell(0.1 * k, f"{10 * k}.00 %")) for k, label in enumerate(labels))),),
        {"x": 1}, (Chart("One", figure, note="</p> note"), Chart("Two", figure)))


def test_markup_in_labels_stays_data(tmp_path):
    labels = ["</script>", "<!--<script>", "</SCRIPT >"]
    page = render(_report(labels), "html")
    figures = assert_self_contained(page)
    assert [t["name"] for t in figures[0]["data"][:3]] == labels
    assert figures[0]["data"][3]["x"] == labels
    assert figures[0]["data"][3]["y"] == [0.5, None, -0.25]  # NaN as null
    assert figures[0]["data"][0]["x"] == figures[1]["data"][0]["x"]  # one shared axis
    assert "<title>A &lt;report&gt; &amp; more</title>" in page
    assert "<td>&lt;!--&lt;script&gt;</td>" in page


def test_the_same_report_renders_the_same_bytes(tmp_path, capsys):
    labels = ["NVDA", "AMD", "CASH"]
    assert render(_report(labels), "html") == render(_report(list(labels)), "html")

    # A command's page differs only where its text does: the solve time in the summary.
    pages = []
    for name in ("1.html", "2.html"):
        target = tmp_path / name
        code, _, err = run(capsys, "--offline", "optimize", "--format", "html", "-o", str(target))
        assert code == 0, err
        pages.append(re.sub(r"solved by (\w+) in [\d.]+ m?s", r"solved by \1",
                            target.read_text(encoding="utf-8")))
    assert "solved by" in pages[0] and pages[0] == pages[1]


def test_html_output_is_written_atomically(tmp_path, capsys, monkeypatch):
    target = tmp_path / "out" / "data.html"
    target.parent.mkdir()
    target.write_text("old page")
    target.chmod(0o640)
    seen = []
    replace = os.replace

    def watching_replace(source, destination):
        seen.append((Path(destination).read_text(), Path(source).read_text(encoding="utf-8")))
        replace(source, destination)

    monkeypatch.setattr(portfolio.data.output.os, "replace", watching_replace)
    code, out, err = run(capsys, "--offline", "data", "show", "--format", "html", "-o", str(target))
    assert code == 0 and out == "", err
    [(before, staged)] = seen  # one rename of a complete page over the old file
    assert before == "old page"
    assert staged == target.read_text(encoding="utf-8") and staged.endswith("</html>\n")
    assert os.listdir(target.parent) == ["data.html"]  # no temporary file left
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # a replaced file keeps its mode


def test_without_plotly_js_the_old_page_stays(tmp_path, capsys, monkeypatch):
    target = tmp_path / "data.html"
    target.write_text("old page")

    def missing():
        raise InputError("plotly.js is not available", "--format html", "not installed",
                         "install it: pip install plotly")

    monkeypatch.setattr(portfolio.report.html, "plotly_js", missing)
    code, out, err = run(capsys, "--offline", "data", "show", "--format", "html", "-o", str(target))
    assert_one_line_error(code, out, err, "plotly.js")
    assert target.read_text() == "old page"
    assert os.listdir(tmp_path) == ["data.html"]
