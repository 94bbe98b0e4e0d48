"""The HTML page of a run: one self-contained file a person reads at a glance.

From the top: the runtime (with the capacity the machine delivered), the overview of every
check on one forest plot (:mod:`.forest`), the verdict table with *why* each verdict came out
as it did (:mod:`.why`), the comparison with a baseline when the document has one
(:mod:`.compare_view`), the evidence as small multiples (:mod:`.evidence`, :mod:`.curve`), the
numbers behind them (:mod:`.details`) and the run.

Charts are drawn with matplotlib (:mod:`.charts`, the ``report`` extra) as inline SVG that
follows the page's colour scheme (:mod:`.style`: light and dark); no script and no external
request (a Content-Security-Policy forbids them).  Without matplotlib the page is written all
the same, each chart replaced by its text alternative, with one line saying how to get them.
Nothing in this module imports pytest, matplotlib or numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..vocabulary import VERDICTS
from .charts import MISSING_NOTE, available
from .compare_view import render_compare_html
from .context import capacities, capacity_text, test_data, test_data_lines
from .curve import curve_panels
from .details import record_meta, render_details, render_run
from .evidence import render_evidence
from .forest import render_forest
from .format import (
    Record,
    claim_anchor,
    e,
    format_figure,
    key_figure,
    mismatch,
    record_rounds,
    record_statement,
    record_title,
    runtime_facts,
    session_text,
    verdict_badge,
)
from .style import CSP, CSS, head
from .why import record_why

__all__ = ["CSP", "CSS", "render_html"]


def _usable(profile: Mapping[str, Any]) -> int | None:
    cpus = profile.get("usable_cpus")
    return cpus if isinstance(cpus, int) and not isinstance(cpus, bool) and cpus > 0 else None


def render_html(doc: Mapping[str, Any], *, plots: bool = True) -> str:
    """The run report as one self-contained HTML page; ``plots=False`` leaves the charts out
    (the tables say the same)."""
    profile = doc.get("runtime") if isinstance(doc.get("runtime"), Mapping) else {}
    assert isinstance(profile, Mapping)
    results = [r for r in doc.get("results") or [] if isinstance(r, Mapping)]
    label = doc.get("runtime_label") or " · ".join(runtime_facts(profile))
    parts = [*head(f"pytest-gil: {e(label)}"), *_header(doc, profile, results, str(label))]
    if plots and not available():
        parts.append(f'<p class="note">{MISSING_NOTE}</p>')
    if plots:
        parts.append(render_forest(results))
    else:
        parts.append('<p class="note">Charts were not requested; the numbers are in the '
                     "tables below.</p>")
    parts.append(_verdict_table(results, doc))
    parts.append(_other_tests(doc, results))
    parts.append(render_compare_html(doc))
    if plots:
        parts.append(render_evidence(results, curve_panels(results, _usable(profile))))
    parts.append(render_details(results, doc))
    parts.append(render_run(doc, profile))
    parts.append(
        f"<footer>pytest-gil {e(doc.get('plugin_version'))} · report schema "
        f"{e(doc.get('schema'))} v{e(doc.get('schema_version'))} · tag "
        f"<code>{e(doc.get('tag'))}</code></footer>"
    )
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def _header(doc: Mapping[str, Any], profile: Mapping[str, Any], results: Sequence[Record],
            label: str) -> list[str]:
    facts = [*runtime_facts(profile), *(capacity_text(c) for c in capacities(doc)),
             f"run {doc.get('created')}", session_text(doc)]
    out = ["<header><h1>pytest-gil report</h1>", f'<p class="runtime">{e(label)}</p>',
           '<ul class="facts">', *(f"<li>{e(f)}</li>" for f in facts if f), "</ul>",
           f"<p>{_counts_html(results)}</p>"]
    session = doc.get("session")
    if isinstance(session, Mapping) and session.get("interrupted"):
        out.append('<p class="warn">The run was interrupted: this report holds the results '
                   "collected until then.</p>")
    out.append("</header>")
    return out


def _counts_html(results: Sequence[Record]) -> str:
    counts: dict[str, int] = {}
    for rec in results:
        v = str(rec.get("verdict") or "")
        counts[v] = counts.get(v, 0) + 1
    order = [v for v in VERDICTS if v in counts] + sorted(set(counts) - set(VERDICTS))
    bits = [f"{verdict_badge(v)} {counts[v]}" for v in order]
    differs = sum(1 for r in results if mismatch(r))
    if differs:
        verb = "contradicts" if differs == 1 else "contradict"
        bits.append(f'<span class="flag">{differs} {verb} the expected verdict</span>')
    return " &nbsp; ".join(bits) or "no records"


def _row_id(rec: Record, seen: set[str]) -> str:
    """`` id="claim-…"`` on the first row of each claim (what the matrix links to)."""
    if not rec.get("claim"):
        return ""
    anchor = claim_anchor(record_title(rec))
    if anchor in seen:
        return ""
    seen.add(anchor)
    return f' id="{e(anchor)}"'


def _verdict_row(i: int, rec: Record, doc: Mapping[str, Any], seen: set[str]) -> str:
    cls = ' class="mismatch"' if mismatch(rec) else ""
    flag = (' <span class="flag" title="differs from the expected verdict">≠</span>'
            if mismatch(rec) else "")
    rounds = record_rounds(rec)
    detail = rec.get("detail")
    extra = [f'<div class="detail">{e(detail)}</div>'] if detail else []
    extra += [f'<div class="detail">{e(line)}</div>'
              for line in test_data_lines(test_data(doc, rec.get("nodeid")))]
    expected = verdict_badge(rec.get("expected")) if rec.get("expected") else "—"
    if rec.get("expected_reason"):
        expected += f'<div class="detail">{e(rec.get("expected_reason"))}</div>'
    reason = record_why(rec)
    why_html = f'<div class="why">{e(reason)}</div>' if reason else ""
    return (
        f'<tr{cls}{_row_id(rec, seen)}><td class="num"><a href="#r{i}">{i}</a></td>'
        f'<td class="claim" title="{e(rec.get("nodeid"))}"><code>{e(record_title(rec))}</code>'
        f'</td><td class="says">{e(record_statement(rec))}</td>'
        f"<td>{expected}</td><td>{verdict_badge(rec.get('verdict'))}{flag}{why_html}"
        f'<div class="detail">test {e(rec.get("outcome"))}{record_meta(rec)}</div></td>'
        f'<td class="fig"><span class="q">{e(format_figure(key_figure(rec)))}</span>'
        f'{"".join(extra)}</td><td class="num">{"" if rounds is None else rounds}</td></tr>'
    )


def _verdict_table(results: Sequence[Record], doc: Mapping[str, Any]) -> str:
    seen: set[str] = set()
    rows = [
        '<section id="verdicts"><h2>Verdicts</h2>',
        '<div class="scroll"><table><thead><tr><th>#</th><th>claim or check</th>'
        "<th>statement</th><th>expected</th><th>measured, and why</th><th>key figure</th>"
        "<th>rounds</th></tr></thead><tbody>",
        *(_verdict_row(i, rec, doc, seen) for i, rec in enumerate(results, 1)),
        "</tbody></table></div></section>",
    ]
    return "\n".join(rows)


def _other_tests(doc: Mapping[str, Any], results: Sequence[Record]) -> str:
    """Per-test figures of tests that recorded no verdict."""
    tests = doc.get("tests")
    if not isinstance(tests, Mapping):
        return ""
    with_records = {str(r.get("nodeid")) for r in results}
    rows = [(nodeid, test_data_lines(data)) for nodeid, data in tests.items()
            if str(nodeid) not in with_records and isinstance(data, Mapping)]
    if not rows:
        return ""
    body = "".join(f"<tr><td><code>{e(n)}</code></td><td>"
                   + "".join(f"<div>{e(line)}</div>" for line in lines) + "</td></tr>"
                   for n, lines in rows)
    return ('<section id="tests"><h2>Figures of tests without a verdict</h2><table><thead>'
            f"<tr><th>test</th><th>figures</th></tr></thead><tbody>{body}</tbody></table>"
            "</section>")
