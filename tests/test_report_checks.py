"""The views read schema-2 records: CHECKs as the engine writes them (``Check.to_dict()``),
with their numbers in ``figure``/``figures``, and claims with their ``statement``."""

from __future__ import annotations

import re
from typing import Any

from pytest_gil.engine.check import Check, Figure
from pytest_gil.report.curve import curve_panels
from pytest_gil.report.format import (
    check_figure,
    format_figure,
    key_figure,
    record_statement,
    record_title,
)
from pytest_gil.report.html import render_html
from pytest_gil.report.markdown import render_markdown
from pytest_gil.report.reading import check_rows
from pytest_gil.report.terminal import format_summary


def scaling(workers: int = 2, executor: str = "thread", speedup: float = 1.02) -> Check:
    return Check(
        kind="scaling", label=f"calc in {workers} {executor}s", hypothesis="parallel",
        verdicts={"serialized": "confirmed", "parallel": "refuted"},
        figures={"speedup": Figure("speedup", speedup, speedup * 0.93, speedup * 1.06, "x", 6),
                 "parallelism": Figure("parallelism", 1.0, 0.97, 1.03, "CPUs", 6)},
        key="speedup", setup={"executor": executor, "workers": workers, "tasks": workers,
                              "fn": "calc"},
        ideal=float(workers), rounds=6, runtime="synthetic",
    )


def release() -> Check:
    return Check(
        kind="release", label="release of fn", hypothesis="releases",
        verdicts={"releases": "confirmed", "holds": "refuted"},
        figures={"release": Figure("probe rate beside fn", 0.97, 0.9, 1.02, "× solo", 8)},
        key="release", setup={"fn": "fn"}, rounds=8, runtime="synthetic",
    )


def parallelism() -> Check:
    return Check(
        kind="parallelism", label="calc on 2 processes", hypothesis="parallel",
        verdicts={"parallel": "confirmed"},
        figures={"parallelism": Figure("parallelism", 1.9, 1.8, 2.0, "CPUs", 6)},
        key="parallelism", setup={"executor": "process", "workers": 2, "tasks": 2},
        ideal=2.0, rounds=6, runtime="synthetic",
    )


def standalone(check: Check) -> dict[str, Any]:
    """The record ``pytest_gil.engine.check.record_check`` sends."""
    fig = check.figure
    return {"nodeid": "t.py::test_check", "claim": None, "check": check.hypothesis,
            "check_id": check.uid, "verdict": str(check.verdict),
            "figure": fig.to_dict() if fig else None, "detail": check.detail(),
            "checks": [check.to_dict()], "outcome": "passed"}


def claim_record(*checks: Check, figure: bool = False) -> dict[str, Any]:
    """A claim record as ``ClaimContext`` sends it (here without a figure of its own unless
    asked, to exercise the checks' figures)."""
    first = checks[0].figure if checks else None
    return {"nodeid": "t.py::test_claim", "claim": "gil.one-thread-at-a-time",
            "catalogue": "gil", "variant": None, "verdict": "confirmed",
            "expected": "confirmed", "expected_reason": "a GIL build",
            "statement": "only one thread runs bytecode at a time",
            "measured": "speedup of 2 threads", "source": "the docs",
            "figure": first.to_dict() if figure and first else None,
            "detail": "2 threads x calc", "checks": [c.to_dict() for c in checks],
            "outcome": "passed"}


def doc(*results: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "pytest-gil-report", "schema_version": 2,
            "runtime": {"implementation": "CPython", "version": "3.12.1", "usable_cpus": 2},
            "results": list(results)}


def test_a_check_record_carries_its_intervals_in_figures() -> None:
    d = scaling().to_dict()
    assert "speedup" not in d and "parallelism" not in d
    assert d["figure"]["name"] == "speedup"
    assert set(d["figures"]) == {"speedup", "parallelism"}


# ---------------------------------------------------------------------------------------------
# format


def test_the_key_figure_is_the_records_else_the_first_checks_headline() -> None:
    rec = claim_record(release(), scaling())
    assert key_figure(rec) == release().to_dict()["figure"]
    rec["figure"] = {"name": "own", "value": 3.0}
    assert key_figure(rec) == {"name": "own", "value": 3.0}
    assert key_figure(claim_record()) is None


def test_a_check_without_a_headline_offers_its_first_figure() -> None:
    d = scaling().to_dict()
    d["figure"] = None
    assert check_figure(d) == d["figures"]["speedup"]
    del d["figures"]["speedup"]["name"]
    assert check_figure(d)["name"] == "speedup"  # type: ignore[index]
    assert check_figure({"kind": "functional", "figure": None, "figures": {}}) is None


def test_check_figure_finds_a_signal() -> None:
    d = scaling().to_dict()
    assert check_figure(d, "parallelism") == {"name": "parallelism", "value": 1.0, "low": 0.97,
                                              "high": 1.03, "unit": "CPUs", "n": 6}
    assert check_figure(d, "latency_ratio") is None
    d["figures"]["parallelism"]["value"] = None
    assert check_figure(d, "parallelism") is None


def test_a_standalone_check_is_titled_by_its_label_and_hypothesis() -> None:
    assert record_title(standalone(scaling())) == "calc in 2 threads: parallel"
    assert record_title(claim_record(scaling())) == "gil.one-thread-at-a-time"
    assert record_title({**claim_record(scaling()), "variant": "fork"}) == (
        "gil.one-thread-at-a-time (fork)")


def test_the_statement_of_schema_1_and_2() -> None:
    assert record_statement({"statement": "new"}) == "new"
    assert record_statement({"document_says": "old"}) == "old"
    assert record_statement(standalone(scaling())) == ""


# ---------------------------------------------------------------------------------------------
# views


def test_the_terminal_shows_check_figures_in_ascii() -> None:
    lines = [line for line, _ in format_summary(doc(standalone(release()),
                                                    claim_record(parallelism())), 100)]
    assert all(line.isascii() for line in lines), lines
    assert any(re.search(r"release of fn: releases +confirmed +probe rate beside fn 0\.97 x solo "
                         r"\[0\.90, 1\.02\] +8$", line) for line in lines), lines
    assert any("parallelism 1.90 CPUs [1.80, 2.00]" in line for line in lines), lines


def test_the_markdown_has_a_statement_column() -> None:
    md = render_markdown(doc(claim_record(scaling()), standalone(scaling())))
    assert "| test | statement |" in md
    assert "| only one thread runs bytecode at a time |" in md
    assert "| calc in 2 threads: parallel | refuted |" in md  # hypothesis parallel: refuted
    assert "speedup 1.02× [0.95, 1.08]" in md


def test_the_page_shows_every_figure_of_every_check() -> None:
    page = render_html(doc(claim_record(scaling(), parallelism()), standalone(release())),
                       plots=False)
    assert "<th>statement</th>" in page and "<th>figures</th>" in page
    for text in ("speedup 1.02× [0.95, 1.08]", "parallelism 1.00 CPUs [0.97, 1.03]",
                 "parallelism 1.90 CPUs [1.80, 2.00]", "probe rate beside fn 0.97 × solo"):
        assert text in page, text
    for text in ("<b>Statement:</b> only one thread", "<b>Source:</b> the docs",
                 "<b>Catalogue:</b> gil", "<b>Expected here because:</b> a GIL build"):
        assert text in page, text
    assert "release (releases)" in page  # kind (hypothesis tested)


def test_the_charts_read_speedup_and_parallelism_from_figures() -> None:
    results = [claim_record(*(scaling(w, ex, min(w, 2) * 0.9) for ex in ("thread", "process")
                              for w in (1, 2, 4))),
               standalone(parallelism()), standalone(release())]
    panels = curve_panels(results, 2)
    assert len(panels) == 2  # one curve per executor measured at several worker counts
    assert all("speedup against workers" in p for p in panels), panels[0][:3000]
    assert "<title>4 workers: 1.80× [1.67, 1.91] (beyond the usable CPUs)</title>" in panels[0]
    assert "<title>1 worker: 0.90× [0.84, 0.95]</title>" in panels[0]
    rows = check_rows(results)
    assert [format_figure(r.figure) for r in rows[-2:]] == [
        "parallelism 1.90 CPUs [1.80, 2.00]", "probe rate beside fn 0.97 × solo [0.90, 1.02]"]
    assert curve_panels([standalone(release())], 2) == []
