"""The Markdown page of a run: runtime and delivered capacity, counts, one table row per claim
or check (with why an undecided verdict came out so, and the test's figures that are not
verdicts), and the comparison with a baseline when the document has one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .compare_view import render_compare_markdown
from .context import capacities, capacity_text, test_data, test_data_lines
from .format import (
    counts_text,
    format_figure,
    key_figure,
    md_cell,
    mismatch,
    record_rounds,
    record_statement,
    record_title,
    runtime_facts,
    session_text,
)
from .why import record_why

__all__ = ["render_markdown"]

UNDECIDED = ("inconclusive", "not-testable")


def _verdict_cell(rec: Mapping[str, Any]) -> str:
    verdict = md_cell(rec.get("verdict"))
    if mismatch(rec):
        verdict = f"**{verdict}** (differs)"
    if rec.get("verdict") in UNDECIDED:
        reason = record_why(rec)
        if reason:
            verdict += f" — {md_cell(reason)}"
    return verdict


def _row(rec: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    rounds = record_rounds(rec)
    test = f"{md_cell(rec.get('nodeid'))} ({md_cell(rec.get('outcome'))})"
    for line in test_data_lines(test_data(doc, rec.get("nodeid"))):
        test += f"; {md_cell(line)}"
    return (
        f"| {md_cell(record_title(rec))} | {_verdict_cell(rec)} "
        f"| {md_cell(rec.get('expected') or '')} "
        f"| {md_cell(format_figure(key_figure(rec)))} | {'' if rounds is None else rounds} "
        f"| {test} | {md_cell(record_statement(rec))} |"
    )


def render_markdown(doc: Mapping[str, Any]) -> str:
    """A Markdown summary of a run: runtime, capacity, counts and one table row per claim or
    check."""
    profile = doc.get("runtime") if isinstance(doc.get("runtime"), Mapping) else {}
    assert isinstance(profile, Mapping)
    results = [r for r in doc.get("results") or [] if isinstance(r, Mapping)]
    label = doc.get("runtime_label") or " · ".join(runtime_facts(profile))
    lines = [
        f"# pytest-gil report: {md_cell(label)}",
        "",
        f"- **runtime:** {md_cell(', '.join(runtime_facts(profile)))}",
        *(f"- **capacity:** {md_cell(capacity_text(c))}" for c in capacities(doc)),
        f"- **run:** {md_cell(doc.get('created'))}, {md_cell(session_text(doc))}",
        f"- **plugin:** pytest-gil {md_cell(doc.get('plugin_version'))}, "
        f"report schema {md_cell(doc.get('schema_version'))}",
        f"- **verdicts:** {md_cell(counts_text(results))}",
        "",
        "| claim or check | verdict | expected | key figure | rounds | test | statement |",
        "|---|---|---|---|---:|---|---|",
    ]
    lines.extend(_row(rec, doc) for rec in results)
    lines.extend(_other_tests(doc, results))
    lines.extend(render_compare_markdown(doc))
    lines.append("")
    return "\n".join(lines)


def _other_tests(doc: Mapping[str, Any], results: list[Mapping[str, Any]]) -> list[str]:
    """Tests that recorded figures but no verdict, one bullet each."""
    tests = doc.get("tests")
    if not isinstance(tests, Mapping):
        return []
    with_records = {str(r.get("nodeid")) for r in results}
    out = []
    for nodeid, data in tests.items():
        if str(nodeid) in with_records or not isinstance(data, Mapping):
            continue
        out.append(f"- {md_cell(nodeid)}: {md_cell('; '.join(test_data_lines(data)))}")
    return ["", "Figures of tests without a verdict:", "", *out] if out else []
