"""The Markdown page of a run: runtime, counts, one table row per claim or check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

__all__ = ["render_markdown"]


def render_markdown(doc: Mapping[str, Any]) -> str:
    """A Markdown summary of a run: runtime, counts and one table row per claim or check."""
    profile = doc.get("runtime") if isinstance(doc.get("runtime"), Mapping) else {}
    assert isinstance(profile, Mapping)
    results = [r for r in doc.get("results") or [] if isinstance(r, Mapping)]
    label = doc.get("runtime_label") or " · ".join(runtime_facts(profile))
    lines = [
        f"# pytest-gil report: {md_cell(label)}",
        "",
        f"- **runtime:** {md_cell(', '.join(runtime_facts(profile)))}",
        f"- **run:** {md_cell(doc.get('created'))}, {md_cell(session_text(doc))}",
        f"- **plugin:** pytest-gil {md_cell(doc.get('plugin_version'))}, "
        f"report schema {md_cell(doc.get('schema_version'))}",
        f"- **verdicts:** {md_cell(counts_text(results))}",
        "",
        "| claim or check | verdict | expected | key figure | rounds | test | statement |",
        "|---|---|---|---|---:|---|---|",
    ]
    for rec in results:
        verdict = md_cell(rec.get("verdict"))
        if mismatch(rec):
            verdict = f"**{verdict}** (differs)"
        rounds = record_rounds(rec)
        test = f"{md_cell(rec.get('nodeid'))} ({md_cell(rec.get('outcome'))})"
        lines.append(
            f"| {md_cell(record_title(rec))} | {verdict} | {md_cell(rec.get('expected') or '')} "
            f"| {md_cell(format_figure(key_figure(rec)))} | {'' if rounds is None else rounds} "
            f"| {test} | {md_cell(record_statement(rec))} |"
        )
    lines.append("")
    return "\n".join(lines)
