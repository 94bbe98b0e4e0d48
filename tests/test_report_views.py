"""The report's views explain each verdict: why (one sentence for every view), the overview
forest plot, the evidence panels, curves, the heat map across runtimes, the comparison with a
baseline, the delivered capacity and per-test figures.

Synthetic documents (built here, one per edge case) and a trimmed real report
(``tests/data/``: a claims-suite run on CPython 3.11, 2 vCPUs, with noisy checks from another
run) are rendered and read back; nothing is measured.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.report import charts, forest, matrix
from pytest_gil.report.context import capacity_from_calibration
from pytest_gil.report.curve import curve_panels
from pytest_gil.report.forest import render_forest
from pytest_gil.report.format import claim_anchor
from pytest_gil.report.html import render_html
from pytest_gil.report.markdown import render_markdown
from pytest_gil.report.reading import zones
from pytest_gil.report.style import PALETTE
from pytest_gil.report.terminal import format_summary
from pytest_gil.report.why import record_why, why

DATA = Path(__file__).resolve().parent / "data" / "gil-cpython-3.11-gil.trimmed.json"

PAGE_LIMIT = 2_000_000
"""Bytes a 60-check page may take (the brief: under 2 MB)."""

matplotlib = pytest.importorskip("matplotlib", reason="the charts need the report extra")


# ---------------------------------------------------------------------------------------------
# reading the charts back


def svgs(html: str) -> list[ET.Element]:
    """Every chart of ``html``, parsed (an inline chart is well-formed XML)."""
    return [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


def only_svg(html: str) -> ET.Element:
    (svg,) = svgs(html)
    return svg


def marks(svg: ET.Element, cls: str) -> list[ET.Element]:
    """The marks (``<use>``) and shapes (``<path>``) of the groups of class ``cls``."""
    return [el for g in svg.iter("g") if g.get("class") == cls
            for el in g.iter() if el.tag in ("use", "path") and el.get("id") is None]


def points(svg: ET.Element, cls: str) -> list[tuple[float, float]]:
    """Where each mark of ``cls`` lies: a ``<use>``'s x and y, a path's first point."""
    out = []
    for el in marks(svg, cls):
        if el.tag == "use":
            out.append((float(el.get("x", "0")), float(el.get("y", "0"))))
        else:
            x, y = re.findall(r"-?[\d.]+", el.get("d", ""))[:2]
            out.append((float(x), float(y)))
    return out


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter("text")]


# ---------------------------------------------------------------------------------------------
# synthetic documents


def fig(value: float | None, low: float | None = None, high: float | None = None,
        name: str = "speedup", unit: str = "x", n: int = 6) -> dict[str, Any]:
    return {"name": name, "value": value, "low": low, "high": high, "unit": unit, "n": n}


BOUNDS = {"serialized": {"ideal": 2.0, "confirm": 1.4142, "refute": 1.6818},
          "parallel": {"ideal": 2.0, "confirm": 1.4142, "refute": 1.1892}}


def rounds(used: int, disturbed: int = 0, value: float = 1.5,
           flags: tuple[str, ...] = ("foreign",)) -> list[dict[str, Any]]:
    """A warm-up, then ``used`` clean and ``disturbed`` excluded rounds, alternating (clean
    first) while both last."""
    pattern: list[bool] = []
    clean, bad = used, disturbed
    while clean or bad:
        if clean:
            pattern.append(False)
            clean -= 1
        if bad:
            pattern.append(True)
            bad -= 1
    out = [{"values": {"speedup": value}, "warmup": True, "suspect": False, "excluded": "",
            "noise": {"reasons": [], "flags": []}}]
    for i, excluded in enumerate(pattern):
        reason = "noise: foreign load 1.03 CPU > 0.25" if excluded else ""
        out.append({"values": {"speedup": value * (1 + 0.02 * (i % 3 - 1))}, "warmup": False,
                    "suspect": excluded, "excluded": reason,
                    "noise": {"reasons": [reason.removeprefix("noise: ")] if excluded else [],
                              "flags": list(flags) if excluded else []}})
    return out


def looks(*steps: tuple[int, float, float, float, str], hyp: str = "parallel"
          ) -> list[dict[str, Any]]:
    return [{"n": n, "verdicts": {hyp: v}, "routes": {},
             "intervals": {"speedup": {"value": val, "low": lo, "high": hi}}}
            for n, val, lo, hi, v in steps]


def check(hyp: str = "parallel", verdict: str = "confirmed", stop: str = "decided",
          figure: dict[str, Any] | None = None, n: int = 6, suspect: int = 0,
          raw: list[dict[str, Any]] | None = None, reason: str = "", label: str = "calc",
          **extra: Any) -> dict[str, Any]:
    figure = fig(1.9, 1.7, 2.1) if figure is None else figure
    verdicts = {hyp: verdict}
    if hyp in BOUNDS:
        other = "serialized" if hyp == "parallel" else "parallel"
        verdicts[other] = {"confirmed": "refuted", "refuted": "confirmed"}.get(verdict, verdict)
    return {"id": f"{abs(hash((label, hyp, verdict, stop))):016x}"[:16], "kind": "scaling",
            "label": label, "executor": "process", "workers": 2, "tasks": 2,
            "signals": ["speedup"], "ideal": 2.0, "claim_tested": hyp, "verdict": verdict,
            "verdicts": verdicts, "figure": figure, "figures": {"speedup": figure},
            "rounds": n, "suspect_rounds": suspect, "elapsed": 1.0, "stop": stop,
            "bounds": BOUNDS.get(hyp, {}), "all_bounds": BOUNDS, "reason": reason,
            "raw": rounds(n, suspect) if raw is None else raw,
            "looks": looks((3, 1.9, 1.2, 3.0, "inconclusive"), (n, 1.9, 1.7, 2.1, verdict),
                           hyp=hyp), **extra}


def record(claim: str, verdict: str, checks: list[dict[str, Any]], expected: str | None = None,
           nodeid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"nodeid": nodeid or f"tests/test_x.py::test_{claim}", "claim": claim,
            "variant": None, "verdict": verdict, "expected": expected or verdict,
            "statement": f"the statement of {claim}", "figure": None, "detail": "",
            "checks": checks, "outcome": "passed", "duration": 1.0, **extra}


def document(*results: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schema": "pytest-gil-report", "schema_version": 2, "tag": "cpython-3.12-gil",
            "created": "2026-12-01T00:00:00+00:00",
            "runtime": {"implementation": "CPython", "version": "3.12.1",
                        "version_info": [3, 12, 1], "usable_cpus": 2, "gil_enabled": True,
                        "free_threaded_build": False},
            "session": {"duration": 3.0, "exitstatus": 0, "interrupted": False},
            "results": list(results), **extra}


def sixty_checks() -> dict[str, Any]:
    """60 checks of 41 rounds and 9 looks each, half of them noisy: a large run."""
    recs = []
    for i in range(60):
        hyp = ("serialized", "parallel")[i % 2]
        value = 1.0 + 0.02 * i
        c = check(hyp, "inconclusive" if i % 3 == 0 else "confirmed",
                  "noisy" if i % 3 == 0 else "decided", fig(value, value * 0.9, value * 1.1),
                  n=20, suspect=21, label=f"check number {i} with a fairly long label " * 2)
        c["looks"] = looks(*((k, value, value / (1 + 1 / k), value * (1 + 1 / k),
                              "inconclusive") for k in (3, 4, 5, 6, 8, 10, 12, 16, 20)), hyp=hyp)
        recs.append(record(f"claim.{i:02d}", c["verdict"], [c]))
    return document(*recs)


# ---------------------------------------------------------------------------------------------
# why


def test_a_noisy_machine_is_named_with_its_count_of_disturbed_rounds() -> None:
    c = check(verdict="inconclusive", stop="noisy", n=5, suspect=7)
    assert why(c) == "machine noisy: 7 of 12 rounds disturbed (foreign load ×7)"
    assert why(c, ascii_only=True) == "machine noisy: 7 of 12 rounds disturbed (foreign load x7)"


def test_an_effect_on_the_bound_names_the_figure_and_the_bound() -> None:
    c = check(verdict="inconclusive", stop="last-look", n=20,
              figure=fig(1.38, 1.30, 1.46))
    assert why(c) == ("on the bound: 1.38× [1.30, 1.46] against 1.41 (confirm), after 20 rounds "
                      "(the last look)")
    c["figure"] = c["figures"]["speedup"] = fig(1.2, 1.15, 1.25)
    assert why(c).startswith("on the bound: 1.20× [1.15, 1.25] against 1.19 (refute)")


def test_an_interval_between_or_across_both_bounds_says_so() -> None:
    between = check(verdict="inconclusive", stop="last-look", figure=fig(1.3, 1.25, 1.35))
    assert why(between).startswith("between the bounds: 1.30× [1.25, 1.35] is past neither 1.41 "
                                   "(confirm) nor 1.19 (refute)")
    wide = check(verdict="inconclusive", stop="budget", n=3, figure=fig(1.3, 0.9, 2.1))
    assert why(wide) == ("budget ran out after 3 rounds; interval too wide: 1.30× [0.90, 2.10] "
                         "spans both bounds (1.41 confirm, 1.19 refute)")


def test_a_budget_too_few_clean_rounds_and_untestable_checks_are_told_apart() -> None:
    assert why(check(verdict="inconclusive", stop="budget", n=6,
                     figure=fig(1.5, 1.3, 1.7))).startswith("budget ran out after 6 rounds; ")
    few = check(verdict="inconclusive", stop="too-few-clean", n=4, suspect=37)
    assert why(few) == "too few clean rounds: 4 of 41 usable (foreign load ×37)"
    untestable = {"kind": "scaling", "verdict": "not-testable", "stop": "not-testable",
                  "reason": "1 usable CPU: serialized and parallel predict the same ratio"}
    assert why(untestable) == ("not testable: 1 usable CPU: serialized and parallel predict the "
                               "same ratio")
    assert why({"verdict": "inconclusive", "stop": "gil-changed"}).startswith(
        "the GIL changed during the check")


def test_a_decided_check_says_which_bound_it_passed() -> None:
    assert why(check("serialized", figure=fig(1.01, 0.99, 1.03), n=3)) == (
        "confirmed after 3 rounds: 1.01× [0.99, 1.03], below the confirm bound 1.41")
    assert why(check("parallel", "refuted", figure=fig(1.0, 0.95, 1.05), suspect=2)) == (
        "refuted after 6 rounds (+2 disturbed, left out): 1.00× [0.95, 1.05], below the refute "
        "bound 1.19")


def test_a_claim_decided_on_another_hypothesis_is_explained_with_its_bounds() -> None:
    """``decide(check, hypothesis="serialized")`` on a check measured for "parallel": the
    record's verdict is serialized's, and so are the zones and the sentence."""
    c = check("parallel", "refuted", figure=fig(1.0, 0.95, 1.05))  # serialized confirmed
    rec = record("gil.one-thread-at-a-time", "confirmed", [c])
    assert record_why(rec) == ("confirmed after 6 rounds: 1.00× [0.95, 1.05], below the confirm "
                               "bound 1.41")


def test_the_real_report_explains_its_undecided_verdicts() -> None:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    said = {f"{r['claim']} {r['variant']}": record_why(r) for r in doc["results"]}
    assert said["gil.processes-for-cpu Process"] == (
        "on the bound: 1.62× [1.51, 1.74] against 1.52 (confirm), after 20 rounds (the last look)")
    assert said["gil.processes-for-cpu ProcessPoolExecutor"] == (
        "machine noisy: 7 of 13 rounds disturbed (foreign load ×7, serial phase short of a "
        "core ×2)")
    assert said["extra.subinterpreters-scale None"] == (
        "not testable: no sub-interpreter API (needs CPython 3.12+)")
    assert said["exec.shutdown-waits None"] == ""  # an exact observation needs no why


def test_the_terminal_prints_why_under_an_undecided_row_within_the_width() -> None:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    for width in (60, 80, 132):
        lines = [line for line, _ in format_summary(doc, width)]
        assert max(map(len, lines)) <= width
        assert all(line.isascii() for line in lines)
    lines = [line for line, _ in format_summary(doc, 132)]
    at = next(i for i, line in enumerate(lines) if line.startswith("gil.processes-for-cpu (Proc"
                                                                    "ess)"))
    assert lines[at + 1] == ("    why: on the bound: 1.62x [1.51, 1.74] against 1.52 (confirm), "
                             "after 20 rounds (the last look)")
    decided = next(i for i, line in enumerate(lines) if line.startswith("exec.max-workers"))
    assert not lines[decided + 1].startswith("    why:")


def test_markdown_says_why_an_undecided_verdict_is_so() -> None:
    md = render_markdown(json.loads(DATA.read_text(encoding="utf-8")))
    assert ("| inconclusive — machine noisy: 7 of 13 rounds disturbed (foreign load ×7, serial "
            "phase short of a core ×2) |") in md
    assert "| confirmed | confirmed |" in md  # decided rows are left as they were


# ---------------------------------------------------------------------------------------------
# zones


def test_the_confirm_zone_is_below_for_serialized_and_above_for_parallel() -> None:
    serial, parallel = zones(check("serialized")), zones(check("parallel"))
    assert serial is not None and parallel is not None
    assert [name for *_, name in serial.segments(0.5, 4)] == ["confirm", "undecided", "refute"]
    assert [name for *_, name in parallel.segments(0.5, 4)] == ["refute", "undecided", "confirm"]
    assert serial.zone_of(1.0) == "confirm" and parallel.zone_of(1.0) == "refute"
    own = {"claim_tested": "equals-list-schedule",
           "bounds": {"ideal": 1.44, "confirm": 1.2019, "refute": 1.3176}}
    z = zones(own)
    assert z is not None and z.confirm_below  # refute lies above confirm: confirmed below
    assert zones({"claim_tested": "parallel", "bounds": {}, "all_bounds": {}}) is None


# ---------------------------------------------------------------------------------------------
# the overview


def _rows(html: str) -> list[str]:
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    return re.findall(r"<tr.*?</tr>", body, flags=re.S)


def test_the_forest_is_one_chart_with_a_mark_and_a_label_per_check() -> None:
    small = render_forest(document(*(record(f"c.{i}", "confirmed", [check()])
                                     for i in range(5)))["results"])
    chart = only_svg(small)
    assert len(marks(chart, "mark-confirmed")) == 5 and len(_rows(small)) == 5
    assert {f"c.{i}" for i in range(5)} <= set(texts(chart))
    big = sixty_checks()
    html = render_forest(big["results"])
    tall = only_svg(html)
    assert sum(len(marks(tall, f"mark-{v}")) for v in ("confirmed", "inconclusive")) == 60
    assert {f"claim.{i:02d}" for i in range(60)} <= set(texts(tall))
    assert len(_rows(html)) == 60  # and the same in words, a row per check
    assert float(tall.get("height", "0")) > 8 * float(chart.get("height", "0"))  # it grows


def test_a_long_label_wraps_and_the_chart_widens_to_hold_it() -> None:
    label = "a label much longer than any line of the chart may be " * 3
    short = only_svg(render_forest([record("s", "confirmed", [check()])]))
    long = only_svg(render_forest([record(label, "confirmed", [check()])]))
    lines = [t for t in texts(long) if t.strip() and t.strip() in label]
    assert len(lines) >= 3 and " ".join(t.strip() for t in lines) == label.strip()
    assert float(long.get("height", "0")) > float(short.get("height", "0"))  # its row grew
    assert float(long.get("width", "0")) > float(short.get("width", "0"))  # cropped to it


def test_zones_are_drawn_on_the_side_of_each_hypothesis() -> None:
    chart = only_svg(render_forest([
        record("s", "confirmed", [check("serialized", figure=fig(1.0, 0.9, 1.1))]),
        record("p", "confirmed", [check("parallel")])]))
    left = min(x for cls in ("z-confirm", "z-refute") for x, _ in points(chart, cls))
    (serial_confirm, parallel_confirm) = sorted(points(chart, "z-confirm"), key=lambda p: p[1])
    (serial_refute, parallel_refute) = sorted(points(chart, "z-refute"), key=lambda p: p[1])
    # the top row is serialized: its confirm zone starts at the left of the axis; parallel's
    # refute zone does
    assert serial_confirm[0] == left and parallel_refute[0] == left
    assert parallel_confirm[0] > left and serial_refute[0] > left
    assert len(points(chart, "z-undecided")) == 2 and len(marks(chart, "bound-line")) == 4


def test_the_expected_zone_is_outlined_only_where_the_verdict_differs() -> None:
    doc = document(record("as.expected", "confirmed", [check()]),
                   record("differs", "inconclusive",
                          [check(verdict="inconclusive", stop="budget")], expected="confirmed"))
    html = render_forest(doc["results"])
    chart = only_svg(html)
    (outline,) = points(chart, "zone-expected")
    (_, first_y), (_, second_y) = sorted(points(chart, "mark-confirmed")
                                         + points(chart, "mark-inconclusive"),
                                         key=lambda p: p[1])
    assert first_y < outline[1] < second_y + 1  # around the second row only
    expected_row, differing_row = _rows(html)
    assert "flagged" not in expected_row
    assert "flagged" in differing_row and "expected confirmed" in differing_row


def test_an_interval_past_the_axis_is_cut_with_an_arrowhead() -> None:
    narrow = check(figure=fig(1.9, 1.8, 2.0))
    wide = check(figure=fig(1.9, 0.01, 300.0), n=3)
    chart = only_svg(render_forest([record("narrow", "confirmed", [narrow]),
                                    record("wide", "confirmed", [wide])]))
    (_, _), (_, wide_y) = sorted(points(chart, "mark-confirmed"), key=lambda p: p[1])
    arrows = points(chart, "cut-arrow")
    assert len(arrows) == 2 and all(y == wide_y for _, y in arrows)  # both ends, wide row
    assert len({x for x, _ in arrows}) == 2


def test_a_row_without_a_ratio_says_why_in_the_chart() -> None:
    functional: dict[str, Any] = {"kind": "functional", "verdict": "confirmed", "figure": None,
                                  "figures": {}}
    chart = only_svg(render_forest([record("exact", "confirmed", [functional]),
                                    record("p", "confirmed", [check()])]))
    assert "an exact observation, no figure" in texts(chart)
    assert len(marks(chart, "mark-confirmed")) == 1


# ---------------------------------------------------------------------------------------------
# the evidence


def test_each_check_gets_a_panel_of_its_rounds_and_looks() -> None:
    c = check(verdict="inconclusive", stop="noisy", n=4, suspect=3)
    html = render_html(document(record("noisy.claim", "inconclusive", [c])))
    panel = re.search(r'<figure class="panel" id="e1-1">.*?</figure>', html, flags=re.S)
    assert panel is not None
    text = panel.group(0)
    chart = only_svg(text)
    assert len(marks(chart, "pt-used")) == 4
    assert len(marks(chart, "pt-warm-up")) == 1
    assert len(marks(chart, "pt-excluded")) == 3
    assert text.count("<li>round ") == 3
    assert "<li>round 3: foreign load 1.03 CPU &gt; 0.25</li>" in text
    assert {"rounds", "n=3", "n=4"} <= set(texts(chart))
    assert {"confirm 1.41", "refute 1.19"} <= set(texts(chart))  # the bounds, labelled
    assert len(marks(chart, "iv-look")) == 2  # an interval per look
    assert "machine noisy: 3 of 7 rounds disturbed" in text


def test_checks_of_one_signal_share_an_axis_and_other_units_get_their_own() -> None:
    cpus = check(figure=fig(1.9, 1.8, 2.0, name="parallelism", unit="CPUs"))
    cpus["figures"] = {"parallelism": cpus["figure"]}
    for row in cpus["raw"]:
        row["values"] = {"parallelism": 1.9}
    for look in cpus["looks"]:
        look["intervals"] = {"parallelism": look["intervals"]["speedup"]}
    doc = document(record("a", "confirmed", [check(figure=fig(1.2, 1.1, 1.3))]),
                   record("b", "confirmed", [check(figure=fig(3.0, 2.8, 3.2))]),
                   record("c", "confirmed", [cpus]))
    html = render_html(doc)
    assert "<h3>speedup (x) — 2 checks, one shared axis</h3>" in html
    assert "<h3>parallelism (CPUs) — 1 check</h3>" in html
    axes = [[t.text for g in only_svg(p).iter("g") if g.get("class") == "axis-x"
             for t in g.iter("text")]
            for p in re.findall(r'<figure class="panel" id="e[123]-1">.*?</figure>', html,
                                flags=re.S)]
    assert len(axes) == 3 and axes[0] == axes[1] and axes[0]  # a and b: one axis
    assert axes[2] != axes[0]  # c, in CPUs, its own


def test_the_last_look_of_a_renamed_hypothesis_is_marked_with_its_verdict() -> None:
    """``overlaps`` is the test's ``parallel`` under another name: the looks call it
    ``parallel``; the panel still colours the deciding look."""
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    html = render_html(doc)
    panel = re.search(r'<figure class="panel" id="e1-1">.*?</figure>', html, flags=re.S)
    assert panel is not None and "exec.max-workers" in panel.group(0)
    assert len(marks(only_svg(panel.group(0)), "look-confirmed")) == 1


# ---------------------------------------------------------------------------------------------
# curves


def curve_check(amdahl: bool = True, usl: bool = True) -> dict[str, Any]:
    def point(n: int, s: float) -> dict[str, Any]:
        return {"workers": n, "speedup": fig(s, s * 0.9, s * 1.1),
                "efficiency": fig(s / n, s / n * 0.9, s / n * 1.1, name="efficiency", unit=""),
                "beyond_cpus": n > 2, "rounds": 6, "verdicts": {"parallel": "confirmed"}}

    return {"id": "c0ffee0000000000", "kind": "curve", "label": "calc on 1-4 processes",
            "claim_tested": "parallel", "verdict": "confirmed",
            "verdicts": {"parallel": "confirmed"}, "figure": fig(1.9, 1.7, 2.1),
            "figures": {"speedup": fig(1.9, 1.7, 2.1)}, "usable_cpus": 2,
            "points": [point(1, 1.0), point(2, 1.9), point(4, 1.95)],
            "amdahl": {"serial_fraction": 0.05, "low": 0.02, "high": 0.09, "points_used": [2],
                       "note": ""} if amdahl else None,
            "usl": {"sigma": 0.05, "kappa": 0.001, "peak_workers": 31, "points_used": [2, 4],
                    "note": "few points"} if usl else None}


def test_a_curve_draws_its_points_ideal_and_fits() -> None:
    (panel,) = curve_panels([record("mp.scales", "confirmed", [curve_check()])], 2)
    chart = only_svg(panel)
    assert len(marks(chart, "pt-beyond")) == 1  # 4 workers: beyond the 2 usable CPUs
    assert len(marks(chart, "mark-confirmed")) == 2 and len(marks(chart, "iv-point")) == 3
    assert "4 workers: 1.95× [1.75, 2.15] (beyond the usable CPUs)</title>" in panel
    for part in ("fit-amdahl", "fit-usl", "fit-band", "ref-ideal"):
        assert len(marks(chart, part)) == 1, part
    assert "Amdahl (solid, band): serial fraction 0.050 [0.020, 0.090] from 2 workers" in panel
    assert "USL (dashed): σ 0.050, κ 0.0010, peak at 31 workers; few points" in panel
    assert {"workers", "speedup (×)"} <= set(texts(chart))


def test_a_curve_without_fits_still_draws_its_points() -> None:
    (panel,) = curve_panels([record("mp.scales", "confirmed",
                                    [curve_check(amdahl=False, usl=False)])], 2)
    assert 'class="fit' not in panel and len(marks(only_svg(panel), "mark-confirmed")) == 2
    assert panel.count("<td class=\"num\">") == 3 * 4  # the points table: 3 rows
    empty = {**curve_check(), "points": []}
    assert curve_panels([record("mp.scales", "confirmed", [empty])], 2) == []


def test_an_unfitted_curve_draws_the_points_it_has_and_says_why_it_is_not_fitted() -> None:
    c = curve_check(amdahl=False, usl=False)
    c["points"][1]["speedup"] = c["points"][2]["speedup"] = None  # no clean rounds there
    c["fit_notes"] = {"amdahl": "no point with more than one worker has an interval",
                      "usl": "needs 3 points with more than one worker"}
    (panel,) = curve_panels([record("mp.scales", "not-testable", [c])], 2)
    assert "<li>Amdahl: not fitted — no point with more than one worker has an interval</li>" in (
        panel)
    assert "<li>USL: not fitted — needs 3 points with more than one worker</li>" in panel
    assert re.findall(r"<title>(\d+) workers?:", panel) == ["1"]


# ---------------------------------------------------------------------------------------------
# the heat map across runtimes


def _run_doc(version: tuple[int, int, int], ft: bool, verdict: str) -> dict[str, Any]:
    doc = document(record("gil.one-thread-at-a-time", verdict,
                          [check("serialized", verdict)]),
                   record("gil.io-threads-overlap", "confirmed", [check()]))
    doc["runtime"].update(version_info=list(version), version=".".join(map(str, version)),
                          free_threaded_build=ft, gil_enabled=not ft)
    doc["tag"] = f"cpython-{version[0]}.{version[1]}{'t' if ft else ''}-{'nogil' if ft else 'gil'}"
    return doc


def test_matrix_cells_link_to_the_claim_in_each_runtimes_page(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for version, ft, verdict in (((3, 13, 1), False, "confirmed"), ((3, 13, 1), True, "refuted")):
        doc = _run_doc(version, ft, verdict)
        (runs / f"gil-{doc['tag']}.json").write_text(json.dumps(doc), encoding="utf-8")
        (runs / f"gil-{doc['tag']}.html").write_text(render_html(doc), encoding="utf-8")
    out = tmp_path / "out"
    assert matrix.main([str(runs), "-o", str(out)]) == 0
    page = (out / "matrix.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)"', page)
    assert len(links) == 4
    anchor = claim_anchor("gil.one-thread-at-a-time")
    assert f"../runs/gil-cpython-3.13t-nogil.html#{anchor}" in links
    for link in links:  # every link lands on a row of the run page
        target, frag = link.split("#")
        assert f'id="{frag}"' in (out / target).read_text(encoding="utf-8")
    flips = re.search(r"<tr class=flips>.*?</tr>", page, flags=re.S)
    assert flips is not None and "gil.one-thread-at-a-time" in flips.group(0)
    assert 'class="cell h-refuted"' in flips.group(0)
    assert "1 flip across runtimes (outlined): gil.one-thread-at-a-time." in page
    capsys.readouterr()


def test_matrix_cells_without_a_run_page_are_not_links(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    doc = _run_doc((3, 12, 1), False, "confirmed")
    path = tmp_path / "gil-cpython-3.12-gil.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert matrix.main([str(path)]) == 0
    page = (tmp_path / "matrix.html").read_text(encoding="utf-8")
    assert "<a href" not in page and 'class="cell h-confirmed"' in page
    capsys.readouterr()


# ---------------------------------------------------------------------------------------------
# the baseline


def baseline() -> dict[str, Any]:
    def comparison(label: str, old: str, new: str, ratio: float, **flags: Any
                   ) -> dict[str, Any]:
        return {"nodeid": f"t.py::{label}", "label": label, "claim": None,
                "hypothesis": "parallel",
                "baseline": {"verdict": old, "figure": fig(1.9, 1.8, 2.0)},
                "current": {"verdict": new, "figure": fig(1.9 * ratio, 1.8 * ratio, 2 * ratio)},
                "verdict_changed": old != new,
                "ratio": {"name": "speedup", "value": ratio, "low": ratio * 0.9,
                          "high": ratio * 1.1, "p_value": 0.0004, "n_baseline": 8,
                          "n_current": 6},
                "regression": False, "improvement": False, "failed": [], **flags}

    return {"path": "/tmp/baselines/main.json",
            "saved": {"commit": "abc1234", "branch": "main", "capacity": {"2": {"value": 1.9}}},
            "runtime_label": "CPython 3.12.1", "same_machine": True, "same_interpreter": True,
            "warnings": ["the baseline was saved 40 days ago"], "alpha": 0.001,
            "fail": ["speedup<0.8", "verdict"],
            "comparisons": [comparison("calc scales", "confirmed", "inconclusive", 0.6,
                                       regression=True, failed=["speedup<0.8", "verdict"]),
                            comparison("sleep overlaps", "confirmed", "confirmed", 1.0),
                            comparison("hash releases", "confirmed", "confirmed", 1.3,
                                       improvement=True)],
            "added": [{"nodeid": "t.py::new", "label": "a new check"}],
            "removed": [{"nodeid": "t.py::old", "label": "a removed check"}]}


def test_without_a_baseline_there_is_no_comparison() -> None:
    doc = document(record("a", "confirmed", [check()]))
    assert 'id="baseline"' not in render_html(doc)
    assert "Compared with" not in render_markdown(doc)


def test_the_comparison_with_a_baseline_highlights_changes_and_regressions() -> None:
    doc = document(record("a", "confirmed", [check()]), baseline=baseline())
    html = render_html(doc)
    section = html[html.index('<section id="baseline">'):]
    section = section[:section.index("</section>")]
    assert "<h2>Compared with <code>main.json</code></h2>" in section
    assert ("3 checks compared: 1 verdict changes, 1 regressions, 1 improvements, 1 breaking a "
            "fail criterion") in section
    rows = _rows(section)
    assert len(rows) == 3
    assert "class=flagged" in rows[0] and "regression" in rows[0]
    assert "verdict changed" in rows[0] and 'v-inconclusive' in rows[0]
    assert ("speedup: current/baseline 0.60× [0.54, 0.66], p 4.00e-04 (6 vs 8 rounds)"
            in rows[0])
    assert "class=flagged" not in rows[1] and "class=flagged" not in rows[2]
    assert '<span class="good">improvement</span>' in rows[2]
    chart = only_svg(section)
    assert len(marks(chart, "pt-baseline")) == 3 and len(marks(chart, "link-line")) == 3
    assert len(marks(chart, "mark-confirmed")) == 2 and len(marks(chart, "mark-inconclusive")) == 1
    assert {"calc scales", "sleep overlaps", "hash releases"} <= set(texts(chart))
    assert "<title>baseline: speedup 1.90× [1.80, 2.00] — confirmed</title>" in section
    assert "The run fails when a check breaks:</b> speedup&lt;0.8, verdict" in section
    assert "a new check" in section and "a removed check" in section
    assert "commit abc1234" in section and "{" not in section.split("<ul")[1][:300]
    md = render_markdown(doc)
    assert "## Compared with main.json" in md
    assert "| calc scales | confirmed speedup 1.90× [1.80, 2.00] | inconclusive" in md
    assert "**regression, verdict changed, fails: speedup&lt;0.8, fails: verdict**" in md
    assert "- **the run fails when a check breaks:** speedup&lt;0.8, verdict" in md


# ---------------------------------------------------------------------------------------------
# capacity and per-test figures


def test_the_most_recent_capacity_per_number_of_workers_is_kept() -> None:
    def est(value: float, at: float, workers: int = 2) -> dict[str, Any]:
        return {"workers": workers, "value": value, "low": value - 0.1, "high": value + 0.1,
                "alpha": 1e-5, "windows": 24, "measured_at": at}

    calibration = {"gw0": {"capacity 2 workers": est(1.5, 100.0), "scale 1": {"calc_n": 5}},
                   "gw1": {"capacity 2 workers": est(1.9, 200.0),
                           "capacity 16 workers": est(7.0, 50.0, 16)},
                   "main": {"capacity 4 workers": est(3.1, 10.0, 4)}}
    cap = capacity_from_calibration(calibration)
    assert list(cap) == ["2", "4", "16"]
    assert cap["2"]["value"] == 1.9 and cap["2"]["process"] == "gw1"
    assert capacity_from_calibration(None) == {} and capacity_from_calibration({"x": 1}) == {}


def test_the_capacity_is_shown_in_every_view() -> None:
    doc = document(record("a", "confirmed", [check()]),
                   capacity={"2": {"workers": 2, "value": 1.93, "low": 1.8, "high": 2.05,
                                   "windows": 24, "process": "main"}})
    lines = [line for line, _ in format_summary(doc, 80)]
    assert any("delivered capacity 1.93x [1.80, 2.05] for 2 workers" in ln for ln in lines[:3])
    html = render_html(doc)
    assert html.count("delivered capacity 1.93× [1.80, 2.05] for 2 workers") == 2  # header, run
    assert "- **capacity:** delivered capacity 1.93× [1.80, 2.05] for 2 workers" in (
        render_markdown(doc))


def test_a_report_without_the_capacity_key_reads_it_from_its_calibration() -> None:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    assert "capacity" not in doc
    assert "delivered capacity 1.96× [1.67, 2.31] for 2 workers" in render_html(doc)


CONTENTION = {"wait_fraction": 0.34, "mean_delay": 0.0012, "p99_delay": 0.005,
              "samples": 1200, "overhead": 0.02, "gil_enabled": True,
              "note": "a busy machine reads as contention"}


def test_contention_is_shown_beside_its_tests_rows() -> None:
    rec = record("a", "confirmed", [check()], nodeid="t.py::test_a")
    doc = document(rec, tests={"t.py::test_a": {"contention": CONTENTION},
                               "t.py::test_only_data": {"contention": CONTENTION,
                                                        "custom": {"x": 1.5}}})
    words = ("GIL contention: waiting 34% of the time, mean delay 1 ms, p99 5 ms (1200 samples, "
             "overhead 2%) — a busy machine reads as contention")
    html = render_html(doc)
    verdicts = html[html.index('<section id="verdicts">'):html.index('<section id="tests">')]
    assert words in verdicts
    others = html[html.index('<section id="tests">'):]
    assert "t.py::test_only_data" in others and "custom: x 1.50" in others
    md = render_markdown(doc)
    assert f"t.py::test_a (passed); {words} |" in md
    assert "- t.py::test_only_data: " in md
    bare = document(rec)
    assert "GIL contention" not in render_html(bare) + render_markdown(bare)


# ---------------------------------------------------------------------------------------------
# the page as a whole


def test_a_sixty_check_page_stays_under_two_megabytes() -> None:
    page = render_html(sixty_checks())
    assert len(page.encode("utf-8")) < PAGE_LIMIT
    assert page.count('<figure class="panel"') == 60
    assert len(svgs(page)) == 1 + 60  # the overview, a panel per check
    assert charts.FAILED not in page
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # 61 charts, and no id twice


def test_charts_follow_the_colour_scheme() -> None:
    """Text, axes and neutral lines in ``currentColor`` (the page's foreground, light or dark),
    no background of their own, verdicts and zones in the palette's mid-tones."""
    page = render_html(json.loads(DATA.read_text(encoding="utf-8")))
    body = "".join(re.findall(r"<svg .*?</svg>", page, flags=re.S))
    assert charts.INK not in body and charts.FAILED not in page
    colours = set(re.findall(r"(?:fill|stroke): ([^;\"]+)", body)) - {"none"}
    assert colours - {"currentColor"} <= set(PALETTE.values())  # no white, no black
    assert {"currentColor", PALETTE["confirmed"], PALETTE["refuted"]} <= colours
    styles = re.findall(r'<text style="([^"]*)"', body)
    assert styles and all("fill: " in style for style in styles)  # no text left black
    css = page[page.index("<style>"):page.index("</style>")]
    dark = css[css.index("@media (prefers-color-scheme: dark)"):]
    for var in ("--fg", "--bg", "--muted"):
        assert var + ":" in dark
    for name, colour in PALETTE.items():  # one source of each colour
        assert css.count(f"--c-{name}:") == 1 and f"--c-{name}:{colour};" in css


def test_a_users_matplotlib_settings_do_not_reach_the_charts_nor_do_ours_leak() -> None:
    before = matplotlib.rcParams.copy()
    pyplot = "matplotlib.pyplot" in sys.modules
    with matplotlib.rc_context({"font.size": 30, "svg.fonttype": "path", "text.color": "red"}):
        inside = matplotlib.rcParams.copy()
        html = render_forest([record("a", "confirmed", [check()])])
        assert matplotlib.rcParams.copy() == inside
    chart = only_svg(html)
    assert "a" in texts(chart)  # text stays text
    assert not re.search(r"font-size: 30px|fill: red|#ff0000", html)
    assert matplotlib.rcParams.copy() == before
    assert ("matplotlib.pyplot" in sys.modules) == pyplot  # no pyplot, no backend chosen


def test_a_page_drawn_twice_is_the_same() -> None:
    """Chart ids come from a salt per chart, not at random: pages of one run diff cleanly."""
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    assert render_html(doc) == render_html(doc)


def test_the_views_load_without_matplotlib() -> None:
    code = ("import sys, pytest_gil.report.html, pytest_gil.report.files; "
            "assert not [m for m in sys.modules if m.startswith('matplotlib')]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_matplotlib_the_page_keeps_its_tables_and_says_how_to_get_charts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    doc["results"].append(record("mp.curve", "confirmed", [curve_check()]))
    drawn = render_html(doc)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    page = render_html(doc)
    assert "<svg" not in page and "<img" not in page
    assert page.count("pip install 'pytest-gil[report]'") == 1
    assert page.count('<figure class="panel"') == drawn.count('<figure class="panel"') > 5
    alternatives = re.findall(r'<p class="detail chart-alt">([^<]*)</p>', page)
    assert alternatives == re.findall(r"<desc>([^<]*)</desc>", drawn)  # every one of them
    assert 'id="verdicts"' in page and "raw rounds" in page


def test_a_chart_that_fails_to_draw_leaves_its_text_and_the_rest_of_the_page(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no ink")

    monkeypatch.setattr(forest, "rows_axes", broken)
    page = render_html(document(record("a", "confirmed", [check()])))
    overview = page[page.index('<section id="overview">'):page.index('<section id="verdicts">')]
    assert "<svg" not in overview
    assert f"({charts.FAILED}: RuntimeError: no ink)" in overview
    assert "1 checks, each figure with its interval" in overview  # its text alternative
    assert len(svgs(page)) == 1  # the evidence panel is drawn all the same


def test_every_chart_has_a_title_and_a_description() -> None:
    page = render_html(json.loads(DATA.read_text(encoding="utf-8")))
    described = re.findall(r'<svg [^>]*role="img"[^>]*><title>[^<]+</title><desc>[^<]+</desc>',
                           page)
    assert page.count("<svg") == len(described) > 5  # the overview and 7 panels


def test_every_link_inside_the_page_lands_on_an_element() -> None:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    doc["results"].append(record("mp.curve", "confirmed", [curve_check()]))
    page = render_html(doc)
    targets = set(re.findall(r'href="#([^"]+)"', page))
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert targets and targets <= ids, targets - ids
    assert {"e1-1", "r2"} <= targets  # a check with rounds → its panel; a functional → details
