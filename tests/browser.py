"""Open the HTML reports in the system Chromium (headless, through Playwright) and check them.

Shared by tests/test_html_browser.py and the README's screenshot, so both see the page the
same way::

    python -m tests.browser screenshot backtest-output/ai_policy/report.html docs/tearsheet.png

The browser is the system's: ``PORTFOLIO_CHROMIUM`` if set, else ``/usr/bin/chromium``,
``chromium``, ``chromium-browser`` or ``google-chrome`` on the PATH. Playwright drives it
through ``executable_path`` and never downloads a browser of its own. When Playwright or
the browser is missing the tests are skipped with the reason, unless
``PORTFOLIO_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a failure.

A :class:`PageCheck` records what a page did: console errors, uncaught exceptions, every
request to anything but ``file:``, ``data:``, ``about:`` and ``blob:`` (each one aborted,
so nothing reaches a network), whether every ``div.chart`` holds a drawn Plotly figure,
the tables with their ``data-value`` cells, and a screenshot of the top of the page.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCAL_SCHEMES = ("file", "data", "about", "blob")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
VIEWPORT = (1280, 900)
RENDER_TIMEOUT_MS = 15_000
NO_CHROMIUM = "no system Chromium: install it with apt-get install chromium"
NO_PLAYWRIGHT = "playwright not installed: pip install '.[test]'"

# Read in the page once every chart has rendered (or the wait timed out).
_READ_PAGE = """
() => {
  const charts = [...document.querySelectorAll('div.chart')].map(div => {
    const svg = div.querySelector('svg.main-svg');
    const box = svg ? svg.getBoundingClientRect() : null;
    const traces = Array.isArray(div.data) ? div.data : [];
    return {key: div.getAttribute('data-chart') || div.id,
            width: box ? box.width : 0, height: box ? box.height : 0,
            traces: traces.length,
            unresolved: traces.filter(t => typeof t.x === 'string').length};
  });
  const tables = [...document.querySelectorAll('table[data-section]')].map(table => ({
    section: table.getAttribute('data-section'),
    columns: [...table.querySelectorAll('thead th')].map(th => th.textContent),
    rows: [...table.querySelectorAll('tbody tr')].map(tr => [...tr.cells].map(
      td => [td.textContent, td.getAttribute('data-value')])),
  }));
  return {charts, tables};
}
"""
_ALL_CHARTS_DRAWN = """
() => [...document.querySelectorAll('div.chart')].every(div => {
  const svg = div.querySelector('svg.main-svg');
  return svg && svg.getBoundingClientRect().width > 0;
})
"""
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


# ----------------------------------------------------------------------------- the browser
def find_chromium() -> str | None:
    """The system Chromium's path, or None (``PORTFOLIO_CHROMIUM`` overrides the search)."""
    override = os.environ.get("PORTFOLIO_CHROMIUM")
    if override:
        return shutil.which(override)  # a path or a name; None when not executable
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_reason() -> str | None:
    """Why the browser checks cannot run here (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return NO_PLAYWRIGHT
    if find_chromium() is None:
        override = os.environ.get("PORTFOLIO_CHROMIUM")
        if override:
            return f"PORTFOLIO_CHROMIUM={override} is not an executable browser"
        return NO_CHROMIUM
    return None


def require_browser() -> None:
    """Skip the calling test when the browser cannot run (fail with PORTFOLIO_REQUIRE_BROWSER)."""
    import pytest

    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get("PORTFOLIO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (PORTFOLIO_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class ChartRender:
    """One ``div.chart`` after loading: its key, drawn size and number of traces."""

    key: str
    width: float
    height: float
    traces: int
    unresolved: int  # traces whose x is still a "$ref:N" string

    @property
    def rendered(self) -> bool:
        """Plotly drew an ``svg.main-svg`` of non-zero size with at least one trace."""
        return self.width > 0 and self.height > 0 and self.traces > 0 and not self.unresolved


@dataclass(frozen=True)
class Table:
    """A ``<table data-section=...>``: headers and, per cell, (text, data-value or None)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, str | None], ...], ...]

    def values(self, column: str) -> dict[str, float]:
        """``data-value`` of ``column`` as floats, keyed by each row's first cell's text."""
        index = self.columns.index(column)
        out: dict[str, float] = {}
        for row in self.rows:
            raw = row[index][1]
            if raw is None:
                raise AssertionError(f"row {row[0][0]!r}, column {column!r} has no data-value")
            out[row[0][0]] = float(raw)
        return out


@dataclass(frozen=True)
class PageCheck:
    """What a page did in the browser (see the module docstring)."""

    url: str
    console_errors: tuple[str, ...]
    page_errors: tuple[str, ...]
    requests: tuple[str, ...]
    charts: tuple[ChartRender, ...]
    tables: dict[str, Table]
    screenshot: bytes

    def problems(self) -> list[str]:
        """Every way the page falls short, in words; empty for a clean page."""
        found = [f"console error: {text}" for text in self.console_errors]
        found += [f"page error: {text}" for text in self.page_errors]
        found += [f"network request: {url}" for url in self.requests]
        found += [f"chart {c.key} not rendered ({c.width:.0f} x {c.height:.0f} px, "
                  f"{c.traces} traces, {c.unresolved} unresolved)"
                  for c in self.charts if not c.rendered]
        if screenshot_is_blank(self.screenshot):
            found.append("the screenshot is blank")
        return found


class Browser:
    """One headless system Chromium; :meth:`check` opens a page in a fresh context."""

    def __init__(self, executable: str | None = None) -> None:
        from playwright.sync_api import sync_playwright

        executable = executable or find_chromium()
        if executable is None:
            raise RuntimeError(NO_CHROMIUM)
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=executable,
                args=["--no-sandbox", "--disable-background-networking",
                      "--dns-prefetch-disable"])
        except BaseException:
            self._playwright.stop()
            raise

    def close(self) -> None:
        """Close the browser and stop Playwright's driver."""
        try:
            self._browser.close()
        finally:
            self._playwright.stop()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self, path: str | Path, *, viewport: tuple[int, int] = VIEWPORT,
              render_timeout_ms: int = RENDER_TIMEOUT_MS) -> PageCheck:
        """Open the local file ``path`` and record what happened (see :class:`PageCheck`).

        Waits for the load event, then (up to ``render_timeout_ms``) for every chart to
        draw, then two animation frames; the screenshot is the top ``viewport`` of it.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        url = Path(path).resolve().as_uri()
        console: list[str] = []
        errors: list[str] = []
        requests: list[str] = []

        def external(target: str) -> bool:
            return target.split(":", 1)[0].lower() not in LOCAL_SCHEMES

        def record(target: str) -> None:
            if target not in requests:
                requests.append(target)

        def route(handle: Any) -> None:
            if external(handle.request.url):
                record(handle.request.url)
                handle.abort()
            else:
                handle.continue_()

        def request(made: Any) -> None:  # also those routing does not see
            if external(made.url):
                record(made.url)

        context = self._browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1,
            service_workers="block")
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", request)
            page.on("websocket", lambda w: record(w.url))
            page.goto(url, wait_until="load")
            try:
                page.wait_for_function(_ALL_CHARTS_DRAWN, timeout=render_timeout_ms)
            except PlaywrightTimeout:  # a chart that never draws is reported, not raised
                pass
            page.evaluate(_TWO_FRAMES)
            read = page.evaluate(_READ_PAGE)
            shot = page.screenshot(full_page=False)
        finally:
            context.close()
        charts = tuple(ChartRender(str(c["key"]), c["width"], c["height"], c["traces"],
                                   c["unresolved"]) for c in read["charts"])
        tables = {t["section"]: Table(tuple(t["columns"]),
                                      tuple(tuple((text, value) for text, value in row)
                                            for row in t["rows"]))
                  for t in read["tables"]}
        return PageCheck(url, tuple(console), tuple(errors), tuple(requests), charts, tables,
                         shot)


@contextmanager
def open_browser() -> Iterator[Browser]:
    """A :class:`Browser` closed on exit."""
    browser = Browser()
    try:
        yield browser
    finally:
        browser.close()


# ----------------------------------------------------------------------------- screenshots
def screenshot_is_blank(png: bytes, *, min_ink: float = 0.01, min_std: float = 4.0) -> bool:
    """True when a screenshot is (nearly) one colour.

    Blank means under ``min_ink`` of the pixels are darker than near-white, or the grey
    levels' standard deviation is under ``min_std``: an empty page, a white one, or one
    flat colour.
    """
    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(png)) as image:
        grey = image.convert("L")
    histogram = grey.histogram()
    ink = sum(histogram[:245]) / max(1, sum(histogram))
    return ink < min_ink or ImageStat.Stat(grey).stddev[0] < min_std


def compressed_png(png: bytes, colours: int = 256) -> bytes:
    """``png`` as a palette PNG of ``colours`` (the page's flat colours survive), optimised."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        palette = image.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def screenshot(page: str | Path, target: str | Path, *,
               viewport: tuple[int, int] = VIEWPORT) -> list[str]:
    """Check ``page`` as the tests do and write the top of it to ``target`` (a palette PNG).

    Returns the page's problems (see :meth:`PageCheck.problems`); nothing is written when
    there is one.
    """
    with open_browser() as browser:
        check = browser.check(page, viewport=viewport)
    problems = check.problems()
    if not problems:
        Path(target).write_bytes(compressed_png(check.screenshot))
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.browser screenshot PAGE.html OUT.png [--width W] [--height H]``."""
    parser = argparse.ArgumentParser(prog="python -m tests.browser",
                                     description="Check an HTML report in the system "
                                                 "Chromium and save a screenshot of its top.")
    commands = parser.add_subparsers(dest="command", required=True)
    shot = commands.add_parser("screenshot", help="check PAGE and write the top of it as PNG")
    shot.add_argument("page")
    shot.add_argument("png")
    shot.add_argument("--width", type=int, default=VIEWPORT[0])
    shot.add_argument("--height", type=int, default=VIEWPORT[1])
    args = parser.parse_args(argv)
    reason = missing_reason()
    if reason is not None:
        print(f"Error: {reason}", file=sys.stderr)
        return 2
    problems = screenshot(args.page, args.png, viewport=(args.width, args.height))
    for problem in problems:
        print(f"Error: {args.page}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"Wrote {args.png} ({Path(args.png).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
