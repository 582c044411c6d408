"""Every command's HTML page in a real browser (the system Chromium, headless).

Each page must load without a console error, an uncaught exception or a network request,
draw every chart, look like something (the screenshot is not blank), and show in its main
table the same numbers as the command's JSON output (``data-value`` holds the full float).
tests/browser.py opens the pages; without Playwright or Chromium these tests are skipped.
One browser serves the module; each page is opened once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portfolio.report import Chart, Report, Section, cell, render
from tests.browser import PageCheck, open_browser, require_browser, screenshot_is_blank
from tests.cli_helpers import run

ROOT = Path(__file__).resolve().parents[1]
HOLDINGS = str(ROOT / "examples" / "holdings.csv")


@pytest.fixture(scope="module")
def browser():
    require_browser()
    with open_browser() as opened:
        yield opened


@dataclass(frozen=True)
class Case:
    """A command, the table column checked and the same numbers from its JSON output."""

    args: tuple[str, ...]
    section: str
    column: str
    expected: Callable[[Any], dict[str, float]]


CASES = {
    "optimize": Case(("optimize",), "weights-and-why", "weight",
                     lambda d: {n["ticker"]: n["weight"] for n in d["explanation"]["names"]}),
    "frontier": Case(("frontier",), "frontier", "volatility",
                     lambda d: {str(k): p["volatility"] for k, p in enumerate(d["points"], 1)}),
    "risk": Case(("risk", "--holdings", HOLDINGS), "positions", "weight",
                 lambda d: d["weights"]),
    "stress": Case(("stress", "--holdings", HOLDINGS), "scenarios", "P&L USD",
                   lambda d: {s["name"]: s["pnl"] for s in d["scenarios"]}),
    "rebalance": Case(("rebalance", "--holdings", HOLDINGS), "orders", "notional (USD)",
                      lambda d: {o["ticker"]: o["notional"] for o in d["orders"]}),
    "data-show": Case(("data", "show"), "coverage", "age",  # a page without charts
                      lambda d: {t: v["age_days"] for t, v in d["tickers"].items()}),
}


def assert_clean(check: PageCheck, page: str) -> None:
    """No error, no request, every chart drawn (none lost), a screenshot with content."""
    assert check.problems() == [], check.url
    assert len(check.charts) == page.count('data-chart-for="'), "a chart element is missing"


def assert_same_numbers(shown: dict[str, float], expected: dict[str, float]) -> None:
    assert shown.keys() == expected.keys()
    assert shown == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize("name", CASES)
def test_command_page_in_the_browser(name, browser, tmp_path, capsys):
    case = CASES[name]
    page = tmp_path / f"{name}.html"
    code, _, err = run(capsys, "--offline", *case.args, "--format", "html", "-o", str(page))
    assert code == 0, err
    code, out, err = run(capsys, "--offline", *case.args, "--format", "json")
    assert code == 0, err

    check = browser.check(page)
    assert_clean(check, page.read_text(encoding="utf-8"))
    if name != "data-show":
        assert check.charts, "every command but data has charts"
    shown = check.tables[case.section].values(case.column)
    assert_same_numbers(shown, case.expected(json.loads(out)))


@pytest.fixture(scope="module")
def _backtest_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("backtest") / "ai_policy"


@pytest.fixture
def backtest_folder(_backtest_folder, capsys):
    """The ai_policy backtest's folder, run once per module (about 10-20 s).

    Run from the first test that asks for it, so the conftest's private cache and
    network refusal apply.
    """
    if not (_backtest_folder / "report.html").is_file():
        code, _, err = run(capsys, "--offline", "backtest", "ai_policy",
                           "--output-dir", str(_backtest_folder))
        assert code == 0, err
    return _backtest_folder


@pytest.mark.slow  # about 20 s: the backtest runs first
def test_backtest_tearsheet_in_the_browser(browser, backtest_folder):
    page = backtest_folder / "report.html"
    check = browser.check(page)
    assert_clean(check, page.read_text(encoding="utf-8"))
    assert len(check.charts) > 20  # equity, underwater, ..., three per strategy

    metrics = json.loads((backtest_folder / "metrics.json").read_text())
    expected = {name: m["cagr"] for name, m in metrics["metrics"].items()}
    expected |= {f"{t} (benchmark)": m["cagr"] for t, m in metrics["benchmarks"].items()}
    assert_same_numbers(check.tables["performance"].values("CAGR"), expected)


# --------------------------------------------------------------- the checks can fail
def test_the_check_records_requests_errors_and_charts_that_do_not_draw(browser, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head>'
        '<link rel="stylesheet" href="https://cdn.example.invalid/style.css"></head><body>'
        '<img src="http://img.example.invalid/a.png">'
        '<div class="chart" data-chart="0"></div>'
        '<script>console.error("boom"); fetch("https://api.example.invalid/x")'
        '.catch(function () {}); throw new Error("bang");</script></body></html>')
    check = browser.check(page, render_timeout_ms=300)
    assert {"https://cdn.example.invalid/style.css", "http://img.example.invalid/a.png",
            "https://api.example.invalid/x"} <= set(check.requests)
    assert any("boom" in text for text in check.console_errors)
    assert any("bang" in text for text in check.page_errors)
    assert [c.rendered for c in check.charts] == [False]
    assert len(check.problems()) >= 6  # 3 requests, 2 errors, 1 chart (and maybe blank)


def test_labels_that_look_like_markup_keep_every_chart_and_table(browser, tmp_path):
    # "<!--<script>" in a script element's JSON once hid the rest of the page from the
    # HTML parser: the next chart, the tables and the script that draws the charts.
    labels = ["<!--<script>", "</script>", "a & b", '"quoted"']
    report = Report(
        "Markup <b>in</b> names", ("<!-- not a comment",),
        (Section("Main", ("name", "weight"),
                 tuple((label, cell(0.25, "25.00 %")) for label in labels)),),
        {}, tuple(Chart(f"Chart {k}", {"data": [{"type": "bar", "x": labels, "y": [1, 2, 3, 4]}],
                                       "layout": {}}) for k in range(2)))
    page = tmp_path / "markup.html"
    page.write_text(render(report, "html"), encoding="utf-8")
    check = browser.check(page)
    assert check.problems() == []
    assert [c.key for c in check.charts] == ["0", "1"]
    assert [row[0][0] for row in check.tables["main"].rows] == labels


# ------------------------------------------------------------------ blank screenshots
def _png(pixels: list[list[int]]) -> bytes:
    from PIL import Image

    image = Image.new("L", (len(pixels[0]), len(pixels)))
    image.putdata([value for row in pixels for value in row])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_white_or_flat_screenshot_is_blank_and_a_drawn_one_is_not():
    assert screenshot_is_blank(_png([[255] * 40] * 30))
    assert screenshot_is_blank(_png([[128] * 40] * 30))  # one flat colour
    assert screenshot_is_blank(_png([[255] * 40] * 29 + [[0] * 2 + [255] * 38]))  # a speck
    assert not screenshot_is_blank(_png([[255] * 40] * 20 + [[0] * 40] * 10))
