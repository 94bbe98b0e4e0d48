"""A real browser opens the pages: headless Chromium, driven by Playwright, loads a run report
and the matrix across runtimes, takes screenshots in the light and the dark scheme, and the
pages log no console error (a Content-Security-Policy violation or a broken resource would).

Skipped, with the reason, when Playwright or Chromium is missing: ``pip install
'pytest-gil[browser]'`` (no ``playwright install``: the system's Chromium is used) and
``apt-get install chromium``; ``PYTEST_GIL_CHROMIUM`` names another Chromium binary.  The
charts need matplotlib (the ``report`` extra).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.report import matrix
from pytest_gil.report.format import claim_anchor
from pytest_gil.report.html import render_html

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install 'pytest-gil[browser]'; the system's "
           "Chromium is used)")

pytest.importorskip("matplotlib", reason="the charts need the report extra")

CHROMIUM = os.environ.get("PYTEST_GIL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(f"Chromium is not installed ({CHROMIUM} missing: apt-get install chromium)",
                allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 1000}
DATA = Path(__file__).resolve().parent / "data" / "gil-cpython-3.11-gil.trimmed.json"
DARK_BACKGROUND = "rgb(21, 23, 26)"
"""``--bg`` of the dark scheme (``pytest_gil/report/style.py``)."""

FOREGROUND = {"light": "rgb(29, 29, 31)", "dark": "rgb(228, 230, 235)"}
"""``--fg`` of each scheme: the colour of chart text and axes (``currentColor``)."""

CONFIRM_GREEN = "rgb(47, 158, 85)"
"""``PALETTE["confirmed"]`` (``#2f9e55``): the same in both schemes."""

OUTSIDE = """svg => {
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].filter(t => {
    const r = t.getBoundingClientRect();
    return r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
        || r.bottom > box.bottom + 1;
  }).map(t => t.textContent);
}"""
"""The texts of a chart that stick out of it (clipped labels), in the browser's own fonts."""

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Opened:
    """A page opened in the browser, with the console errors and page errors it logged."""

    def __init__(self, browser: Any, path: Path, scheme: str = "light") -> None:
        self.context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(path.as_uri())

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def close(self) -> None:
        self.context.close()


def run_page(tmp_path: Path) -> Path:
    """The trimmed claims-suite report, with a contention figure added to one test."""
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    nodeid = doc["results"][0]["nodeid"]
    doc["tests"] = {nodeid: {"contention": {"wait_fraction": 0.3, "mean_delay": 0.001,
                                            "p99_delay": 0.004, "samples": 900,
                                            "overhead": 0.01, "gil_enabled": True, "note": ""}}}
    path = tmp_path / f"gil-{doc['tag']}.html"
    path.write_text(render_html(doc), encoding="utf-8")
    return path


def test_the_run_report_renders_without_console_errors(browser: Any, tmp_path: Path) -> None:
    opened = Opened(browser, run_page(tmp_path))
    try:
        page = opened.page
        shot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert shot.startswith(PNG)
        assert page.locator("table.forest tbody tr").count() == 9
        assert page.locator("figure.panel").count() >= 6
        overview = page.locator("#overview svg.chart")
        assert overview.count() == 1
        box = overview.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 9 * 20
        charts = page.locator("svg.chart")
        assert charts.count() >= 7
        for k in range(charts.count()):
            assert charts.nth(k).evaluate(OUTSIDE) == [], k
        clipped = page.eval_on_selector_all(
            "table.forest td.lab code", "els => els.filter(e => e.scrollWidth > e.clientWidth)"
            ".map(e => e.textContent)")
        assert clipped == []
        text = page.eval_on_selector("#overview svg.chart text", "t => getComputedStyle(t).fill")
        assert text == FOREGROUND["light"]
        assert opened.errors == []
    finally:
        opened.close()


def test_the_run_report_reads_in_the_dark_scheme(browser: Any, tmp_path: Path) -> None:
    opened = Opened(browser, run_page(tmp_path), scheme="dark")
    try:
        page = opened.page
        assert page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor") == (
            DARK_BACKGROUND)
        ink = page.eval_on_selector("svg.chart", "s => getComputedStyle(s).color")
        text = page.eval_on_selector("svg.chart text", "t => getComputedStyle(t).fill")
        assert ink == text == FOREGROUND["dark"]  # light text on the dark background
        zone = page.eval_on_selector("g.z-confirm path", "p => getComputedStyle(p).fill")
        assert zone == CONFIRM_GREEN  # a mid-tone, tinted by its opacity
        assert page.screenshot(path=str(tmp_path / "report-dark.png")).startswith(PNG)
        assert opened.errors == []
    finally:
        opened.close()


def test_the_matrix_page_renders_and_its_cells_lead_to_the_runs(browser: Any, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    base = json.loads(DATA.read_text(encoding="utf-8"))
    for ft in (False, True):
        doc = json.loads(json.dumps(base))
        doc["runtime"].update(free_threaded_build=ft, gil_enabled=not ft)
        doc["tag"] = "cpython-3.11t-nogil" if ft else "cpython-3.11-gil"
        if ft:
            doc["results"][4]["verdict"] = "refuted"  # gil.cpu-threads-no-faster flips
        (runs / f"gil-{doc['tag']}.json").write_text(json.dumps(doc), encoding="utf-8")
        (runs / f"gil-{doc['tag']}.html").write_text(render_html(doc), encoding="utf-8")
    out = tmp_path / "matrix"
    assert matrix.main([str(runs), "-o", str(out)]) == 0
    capsys.readouterr()
    opened = Opened(browser, out / "matrix.html")
    try:
        page = opened.page
        assert page.screenshot(path=str(tmp_path / "matrix.png")).startswith(PNG)
        assert page.locator("tr.flips").count() == 1
        assert opened.errors == []
        page.locator("tr.flips td.cell a").last.click()
        page.wait_for_load_state()
        anchor = claim_anchor("gil.cpu-threads-no-faster")
        assert page.url.endswith(f"gil-cpython-3.11t-nogil.html#{anchor}")
        assert page.locator(f"[id='{anchor}']").count() == 1
        assert opened.errors == []
    finally:
        opened.close()
