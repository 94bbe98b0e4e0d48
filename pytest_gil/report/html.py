"""The HTML page of a run: one self-contained file.

Inline CSS, plots embedded as base64 PNG (:mod:`.plots`), no script and no external request (a
Content-Security-Policy forbids them).  Without matplotlib the page still renders, with the
numbers in tables.  Nothing in this module imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..vocabulary import VERDICTS
from .format import (
    Record,
    check_figure,
    e,
    fmt_num,
    fmt_seconds,
    format_figure,
    key_figure,
    mismatch,
    record_checks,
    record_rounds,
    record_statement,
    record_title,
    runtime_facts,
    session_text,
    verdict_badge,
)

__all__ = ["CSP", "CSS", "render_html"]

MAX_RAW_ROWS = 200
"""Rounds shown per check in the raw-data table (a 20-look check with disturbed rounds has at
most 41; the cap only guards against a user's own very long designs)."""


CSS = """
:root { --fg:#1d1d1f; --muted:#666; --line:#ddd; --bg:#fff; --zebra:#f7f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
       color: var(--fg); background: var(--bg); margin: 0 auto; padding: 1.5rem;
       max-width: 1200px; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
p.runtime { font-size: 1.1rem; margin: 0 0 .5rem; }
ul.facts { list-style: none; padding: 0; margin: .3rem 0; display: flex; flex-wrap: wrap;
           gap: .4rem; }
ul.facts li { background: var(--zebra); border: 1px solid var(--line); border-radius: 4px;
              padding: .1rem .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left;
         vertical-align: top; }
th { background: #eef0f3; font-weight: 600; }
tr:nth-child(even) td { background: var(--zebra); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.fig { font-variant-numeric: tabular-nums; min-width: 13rem; max-width: 30rem; }
td.fig .q, td.iv { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.claim { min-width: 11rem; }
td.claim code { overflow-wrap: normal; }
td.says { max-width: 28rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
               font-size: 12px; overflow-wrap: anywhere; }
.detail { color: var(--muted); font-size: 12px; }
.v { display: inline-block; border-radius: 3px; padding: 0 .4rem; font-weight: 600;
     white-space: nowrap; }
.v-confirmed { background: #d9f2dd; color: #135c1f; }
.v-refuted { background: #fbdcdc; color: #8a1515; }
.v-inconclusive { background: #fdf0c8; color: #6b5000; }
.v-not-testable, .v-other { background: #e6e6e6; color: #444; }
tr.mismatch td { background: #fff3f3 !important; }
.flag { color: #b00020; font-weight: 600; }
.note { background: #fffbe6; border: 1px solid #f0e0a0; padding: .5rem .8rem; border-radius: 4px; }
.warn { background: #fff0f0; border: 1px solid #f0b0b0; padding: .5rem .8rem; border-radius: 4px; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; flex: 0 1 560px; max-width: 100%; }
figure.wide { flex-basis: 100%; max-width: 900px; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12px; max-width: 640px; }
details { margin: .3rem 0; }
.scroll { overflow-x: auto; }
summary { cursor: pointer; }
footer { margin-top: 2rem; color: var(--muted); font-size: 12px; }
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_html(doc: Mapping[str, Any], *, plots: bool = True) -> str:
    """The run report as one self-contained HTML page.

    ``plots=False`` skips drawing; so does a missing matplotlib (the page says so and shows
    the numbers in tables).
    """
    profile = doc.get("runtime") if isinstance(doc.get("runtime"), Mapping) else {}
    assert isinstance(profile, Mapping)
    results = [r for r in doc.get("results") or [] if isinstance(r, Mapping)]
    label = doc.get("runtime_label") or " · ".join(runtime_facts(profile))
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pytest-gil: {e(label)}</title>",
        f"<style>{CSS}</style></head><body>",
        "<header><h1>pytest-gil report</h1>",
        f'<p class="runtime">{e(label)}</p>',
        '<ul class="facts">',
        *(f"<li>{e(f)}</li>" for f in runtime_facts(profile)),
        f"<li>run {e(doc.get('created'))}</li>",
        f"<li>{e(session_text(doc))}</li>",
        "</ul>",
        f"<p>{_counts_html(results)}</p>",
    ]
    session = doc.get("session")
    if isinstance(session, Mapping) and session.get("interrupted"):
        parts.append(
            '<p class="warn">The run was interrupted: this report holds the results collected '
            "until then.</p>"
        )
    parts.append("</header>")
    parts.append(_verdict_table(results))
    parts.append(_plots_section(doc, results, profile, plots))
    parts.append(_evidence_section(results))
    parts.append(_run_section(doc, profile))
    parts.append(
        f"<footer>pytest-gil {e(doc.get('plugin_version'))} · report schema "
        f"{e(doc.get('schema'))} v{e(doc.get('schema_version'))} · tag "
        f"<code>{e(doc.get('tag'))}</code></footer>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


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


def _verdict_table(results: Sequence[Record]) -> str:
    rows = [
        '<section id="verdicts"><h2>Verdicts</h2>',
        "<table><thead><tr><th>#</th><th>claim or check</th><th>statement</th>"
        "<th>expected</th><th>measured</th><th>key figure</th><th>rounds</th>"
        "</tr></thead><tbody>",
    ]
    for i, rec in enumerate(results, 1):
        cls = ' class="mismatch"' if mismatch(rec) else ""
        flag = (
            ' <span class="flag" title="differs from the expected verdict">≠</span>'
            if (mismatch(rec))
            else ""
        )
        rounds = record_rounds(rec)
        detail = rec.get("detail")
        detail_html = f'<div class="detail">{e(detail)}</div>' if detail else ""
        expected = verdict_badge(rec.get("expected")) if rec.get("expected") else "—"
        if rec.get("expected_reason"):
            expected += f'<div class="detail">{e(rec.get("expected_reason"))}</div>'

        rows.append(
            f'<tr{cls}><td class="num"><a href="#r{i}">{i}</a></td>'
            f'<td class="claim" title="{e(rec.get("nodeid"))}"><code>{e(record_title(rec))}</code>'
            "</td>"
            f'<td class="says">{e(record_statement(rec))}</td>'
            f"<td>{expected}</td><td>{verdict_badge(rec.get('verdict'))}{flag}"
            f'<div class="detail">test {e(rec.get("outcome"))}{_duration(rec)}{_worker(rec)}'
            "</div></td>"
            f'<td class="fig"><span class="q">{e(format_figure(key_figure(rec)))}</span>'
            f"{detail_html}</td>"
            f'<td class="num">{"" if rounds is None else rounds}</td></tr>'
        )
    rows.append("</tbody></table></section>")
    return "\n".join(rows)


def _duration(rec: Record) -> str:
    text = fmt_seconds(rec.get("duration"))
    return f", {text}" if text else ""


def _worker(rec: Record) -> str:
    w = rec.get("worker")
    return f", {e(w)}" if w else ""


def _figures_html(check: Mapping[str, Any]) -> str:
    """Every figure of a check (``figures``, one per signal), one line each."""
    figures = check.get("figures")
    if not isinstance(figures, Mapping):
        return ""
    lines = []
    for signal in figures:
        fig = check_figure(check, str(signal))
        if fig is not None:
            lines.append(f"<div>{e(format_figure(fig))}</div>")
    return "".join(lines)


def _evidence_section(results: Sequence[Record]) -> str:
    out = ['<section id="evidence"><h2>Evidence</h2>']
    for i, rec in enumerate(results, 1):
        checks = record_checks(rec)
        out.append(
            f'<details id="r{i}"><summary>{i}. <code>{e(record_title(rec))}</code> '
            f"{verdict_badge(rec.get('verdict'))} — {len(checks)} check"
            f"{'s' if len(checks) != 1 else ''}</summary>"
        )
        out.append(
            f"<p><b>Test:</b> <code>{e(rec.get('nodeid'))}</code> — {e(rec.get('outcome'))}"
            f"{_duration(rec)}{_worker(rec)}</p>"
        )
        for name, text in (
            ("Statement", record_statement(rec)),
            ("Source", rec.get("source")),
            ("Catalogue", rec.get("catalogue")),
            ("What is measured", rec.get("measured")),
            ("Expected here because", rec.get("expected_reason")),
            ("Measured", rec.get("detail")),
        ):
            if text:
                out.append(f"<p><b>{e(name)}:</b> {e(text)}</p>")
        if checks:
            out.append(_checks_table(checks))
        for j, check in enumerate(checks, 1):
            raw = check.get("raw")
            if isinstance(raw, list) and raw:
                out.append(_raw_table(j, check, raw))
            series = check.get("series")
            if isinstance(series, list) and series:
                out.append(_series_table(j, check, series))
        out.append("</details>")
    out.append("</section>")
    return "\n".join(out)


def _checks_table(checks: Sequence[Mapping[str, Any]]) -> str:
    head = (
        '<div class="scroll"><table><thead><tr><th>#</th><th>kind (tested)</th><th>label</th>'
        '<th>executor</th><th title="workers / tasks / ideal">workers / tasks / ideal</th>'
        "<th>figures</th><th>bounds</th><th>rounds</th><th>elapsed</th><th>GIL</th>"
        "<th>verdict</th><th>reason</th></tr></thead><tbody>"
    )
    rows = [head]
    for j, c in enumerate(checks, 1):
        bounds = c.get("bounds")
        bounds_text = (
            ", ".join(f"{k} {fmt_num(v)}" for k, v in bounds.items())
            if isinstance(bounds, Mapping)
            else ""
        )
        rounds = "" if c.get("rounds") is None else str(c.get("rounds"))
        if c.get("suspect_rounds"):
            rounds += f" ({c.get('suspect_rounds')} suspect)"
        gil = c.get("gil")
        gil_text = ""
        if isinstance(gil, Mapping):
            gil_text = "on" if gil.get("enabled") else "off"
            if gil.get("changed"):
                gil_text += " (changed during the check!)"
        kind = str(c.get("kind") or "")
        if c.get("claim_tested"):
            kind += f" ({c.get('claim_tested')})"
        shape = " / ".join(
            "?" if c.get(k) is None else str(c.get(k)) for k in ("workers", "tasks", "ideal")
        )
        rows.append(
            f'<tr><td class="num">{j}</td><td>{e(kind)}</td><td>{e(c.get("label"))}</td>'
            f'<td>{e(c.get("executor"))}</td><td class="num">{e(shape)}</td>'
            f'<td class="iv">{_figures_html(c)}</td>'
            f'<td class="detail">{e(bounds_text)}</td><td class="num">{e(rounds)}</td>'
            f'<td class="num">{e(fmt_seconds(c.get("elapsed")))}</td>'
            f"<td>{e(gil_text)}</td>"
            f"<td>{verdict_badge(c.get('verdict'))}</td><td>{e(c.get('reason'))}</td></tr>"
        )
    rows.append("</tbody></table></div>")
    return "\n".join(rows)


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in row.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            flat.update(_flatten(v, key + "."))
        else:
            flat[key] = v
    return flat


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return fmt_num(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    return "" if v is None else str(v)


def _raw_table(j: int, check: Mapping[str, Any], raw: Sequence[Any]) -> str:
    rows = [_flatten(r) if isinstance(r, Mapping) else {"value": r} for r in raw[:MAX_RAW_ROWS]]
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    more = (
        f" (first {MAX_RAW_ROWS} of {len(raw)}; all are in the JSON)"
        if len(raw) > MAX_RAW_ROWS
        else ""
    )
    out = [
        f"<details><summary>check {j}: {len(raw)} raw rounds{e(more)} — "
        f"{e(check.get('label'))}</summary>",
        '<div class="scroll"><table><thead><tr><th>#</th>'
        + "".join(f"<th>{e(k)}</th>" for k in keys),
        "</tr></thead><tbody>",
    ]
    for n, r in enumerate(rows, 1):
        out.append(
            f'<tr><td class="num">{n}</td>'
            + "".join(f'<td class="num">{e(_cell(r.get(k)))}</td>' for k in keys)
            + "</tr>"
        )
    out.append("</tbody></table></div></details>")
    return "\n".join(out)


def _series_table(j: int, check: Mapping[str, Any], series: Sequence[Any]) -> str:
    x_name = str(check.get("x_name") or "x")
    y_name = str(check.get("y_name") or "value")
    out = [
        f"<details open><summary>check {j}: {e(y_name)} vs {e(x_name)} — "
        f"{e(check.get('label'))}</summary>",
        f"<table><thead><tr><th>{e(x_name)}</th><th>{e(y_name)}</th><th>low</th><th>high</th>"
        "</tr></thead><tbody>",
    ]
    for p in series:
        if isinstance(p, Mapping):
            out.append(
                "<tr>"
                + "".join(
                    f'<td class="num">{e(fmt_num(p.get(k)))}</td>'
                    for k in ("x", "value", "low", "high")
                )
                + "</tr>"
            )
    out.append("</tbody></table></details>")
    return "\n".join(out)


def _kv_table(items: Iterable[tuple[str, Any]]) -> str:
    rows = ["<table><tbody>"]
    for k, v in items:
        if isinstance(v, Mapping):
            text = ", ".join(f"{kk}={_cell(vv)}" for kk, vv in _flatten(v).items())
        else:
            text = _cell(v)
        rows.append(f"<tr><th>{e(k)}</th><td><code>{e(text)}</code></td></tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _run_section(doc: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    out = ['<section id="run"><h2>Run</h2>', "<h3>Runtime profile</h3>"]
    out.append(_kv_table(profile.items()))
    for key, title in (
        ("session", "Session"),
        ("options", "Options"),
        ("settings", "Effective settings"),
        ("calibration", "Calibration"),
        ("workers", "xdist workers"),
    ):
        val = doc.get(key)
        if isinstance(val, Mapping) and val:
            out.append(f"<h3>{e(title)}</h3>")
            out.append(_kv_table(val.items()))
    out.append("</section>")
    return "\n".join(out)


def _plots_section(
    doc: Mapping[str, Any], results: Sequence[Record], profile: Mapping[str, Any], plots: bool
) -> str:
    from .plots import draw_plots, has_plot_data  # loaded only when a page is rendered

    out = ['<section id="plots"><h2>Plots</h2>']
    if not has_plot_data(results):
        out.append("<p>No check in this run has data to plot (speedup, P or a series).</p>")
    elif not plots:
        out.append(
            '<p class="note">Plots were not requested; the numbers are in the evidence '
            "tables below.</p>"
        )
    else:
        try:
            drawn = draw_plots(results, profile)
        except ImportError as exc:
            out.append(
                '<p class="note">Plots are not drawn: matplotlib is not available '
                f"({e(exc)}). Install the <code>report</code> extra "
                "(<code>pip install 'pytest-gil[report]'</code>) to get them; the numbers behind "
                "them are in the evidence tables below.</p>"
            )
        else:
            out.append('<div class="plots">')
            for plot in drawn:
                if plot.error:
                    out.append(
                        f'<p class="warn">Could not draw “{e(plot.title)}”: {e(plot.error)}</p>'
                    )
                    continue
                wide = ' class="wide"' if plot.wide else ""
                out.append(
                    f'<figure{wide}><img alt="{e(plot.title)}" '
                    f'src="data:image/png;base64,{plot.png_base64}">'
                    f"<figcaption>{e(plot.caption)}</figcaption></figure>"
                )
            out.append("</div>")
    out.append("</section>")
    return "\n".join(out)
