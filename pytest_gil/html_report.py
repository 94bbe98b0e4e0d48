"""Render a pytest-gil run report (the run-level JSON document) as HTML and Markdown.

The page is self-contained: inline CSS, plots embedded as base64 PNG, no script and no
external request (a Content-Security-Policy forbids them).  Plots need matplotlib (the
``report`` extra, ``pip install 'pytest-gil[report]'``); it is imported only while drawing,
with the Agg canvas and without touching the global backend.  Without matplotlib the page
still renders, with the numbers in tables.

The formatting helpers here (figures with intervals, runtime tags and labels) are shared
with the terminal summary (:mod:`pytest_gil.reporting`) and the matrix
(:mod:`pytest_gil.matrix`).  Nothing in this module imports pytest.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "format_figure",
    "key_figure",
    "record_rounds",
    "record_title",
    "render_html",
    "render_markdown",
    "runtime_column_label",
    "runtime_facts",
    "runtime_tag",
    "write_atomic",
]

VERDICTS = ("confirmed", "refuted", "inconclusive", "not-testable")
EXECUTORS = ("serial", "thread", "process", "interpreter")
EXECUTOR_COLORS = {
    "serial": "#7f7f7f",
    "thread": "#1f77b4",
    "process": "#ff7f0e",
    "interpreter": "#2ca02c",
}
OTHER_COLOR = "#9467bd"
MAX_RAW_ROWS = 200
MAX_P_ROWS = 80

Record = Mapping[str, Any]


# ---------------------------------------------------------------------------------------------
# numbers and figures


def fmt_num(value: Any) -> str:
    """A number with about three significant digits, never in exponent form for 0.001..99999."""
    if value is None:
        return "?"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    a = abs(v)
    if isinstance(value, int) and a < 1e6:
        return str(value)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.1:
        return f"{v:.2f}"
    if a >= 0.001:
        return f"{v:#.2g}"
    return f"{v:.2e}"


def _time_scale(value: float | None) -> tuple[float, str]:
    a = abs(value) if value is not None else 0.0
    if a == 0 or a >= 1:
        return 1.0, "s"
    if a >= 1e-3:
        return 1e3, "ms"
    return 1e6, "µs"


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def format_quantity(
    value: Any,
    low: Any = None,
    high: Any = None,
    unit: str | None = "",
    *,
    ascii_only: bool = False,
) -> str:
    """``1.02x [0.95, 1.08]``, ``4.8 ms [4.1, 5.6]``, ``>=0.95x``: a value with its interval.

    A missing bound (``null`` in the JSON: unbounded or not computed) gives a one-sided form.
    Seconds are scaled to ms/µs.  With ``ascii_only`` the output is plain ASCII (terminal).
    """
    v, lo, hi = _num(value), _num(low), _num(high)
    unit = unit or ""
    factor = 1.0
    if unit == "s":
        factor, unit = _time_scale(v if v is not None else (lo if lo is not None else hi))
    if ascii_only and unit == "µs":
        unit = "us"

    def num(x: float | None) -> str:
        return fmt_num(x * factor) if x is not None else "?"

    if unit in ("x", "×"):
        suffix = "x" if ascii_only else "×"
    elif unit == "%":
        suffix = "%"
    elif unit:
        suffix = f" {unit}"
    else:
        suffix = ""
    if v is None and lo is None and hi is None:
        return str(value) if value is not None else "n/a"
    main = f"{num(v)}{suffix}" if v is not None else ""
    ge, le = (">=", "<=") if ascii_only else ("≥", "≤")
    if lo is not None and hi is not None:
        interval = f"[{num(lo)}, {num(hi)}]"
    elif lo is not None:
        interval = f"{ge}{num(lo)}" if v is None else f"[{ge}{num(lo)}]"
    elif hi is not None:
        interval = f"{le}{num(hi)}" if v is None else f"[{le}{num(hi)}]"
    else:
        interval = ""
    if not main:
        return f"{interval}{suffix}"
    return f"{main} {interval}".rstrip()


def format_figure(figure: Mapping[str, Any] | None, *, ascii_only: bool = False) -> str:
    """``speedup 1.02x [0.95, 1.08]`` from a RECORD's ``figure``; ``""`` when there is none."""
    if not isinstance(figure, Mapping):
        return ""
    name = str(figure.get("name") or "").strip()
    q = format_quantity(
        figure.get("value"),
        figure.get("low"),
        figure.get("high"),
        str(figure.get("unit") or ""),
        ascii_only=ascii_only,
    )
    return f"{name} {q}".strip()


def key_figure(record: Record) -> dict[str, Any] | None:
    """The record's key figure: its ``figure``, else the first check's speedup or P."""
    fig = record.get("figure")
    if isinstance(fig, Mapping) and fig:
        return dict(fig)
    for check in _checks(record):
        for key, name, unit in (("speedup", "speedup", "x"), ("parallelism", "P", "")):
            val = check.get(key)
            if isinstance(val, Mapping) and val.get("value") is not None:
                return {"name": name, "unit": unit, **val}
    return None


def record_title(record: Record) -> str:
    """What a row is called: the claim id, else the check's label, else the test's name."""
    variant = record.get("variant")
    suffix = f" ({variant})" if variant else ""
    for key in ("claim", "label"):
        val = record.get(key)
        if val:
            return f"{val}{suffix}"
    for check in _checks(record):
        if check.get("label"):
            return str(check["label"])
    nodeid = str(record.get("nodeid") or "?")
    return nodeid.rsplit("::", 1)[-1]


def record_rounds(record: Record) -> int | None:
    """Total paired rounds behind a record (``rounds`` if given, else the sum over checks)."""
    val = record.get("rounds")
    if isinstance(val, int) and not isinstance(val, bool):
        return val
    total, seen = 0, False
    for check in _checks(record):
        r = check.get("rounds")
        if isinstance(r, int) and not isinstance(r, bool):
            total += r
            seen = True
    return total if seen else None


def _checks(record: Record) -> list[Mapping[str, Any]]:
    checks = record.get("checks")
    if not isinstance(checks, list):
        return []
    return [c for c in checks if isinstance(c, Mapping)]


def mismatch(record: Record) -> bool:
    """True when the measurement contradicts the expectation: one says confirmed, the other
    refuted.  (An inconclusive or not-testable verdict decides nothing, so it contradicts
    nothing; it is shown as such.)"""
    decided = ("confirmed", "refuted")
    expected, verdict = record.get("expected"), record.get("verdict")
    return expected in decided and verdict in decided and verdict != expected


# ---------------------------------------------------------------------------------------------
# files


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and
    ``os.replace``: readers see the old file or the new one, never a truncated one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------
# runtimes


def _version_pair(profile: Mapping[str, Any]) -> tuple[int, int] | None:
    vi = profile.get("version_info")
    if isinstance(vi, (list, tuple)) and len(vi) >= 2:
        try:
            return int(vi[0]), int(vi[1])
        except (TypeError, ValueError):
            pass
    m = re.match(r"(\d+)\.(\d+)", str(profile.get("version") or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def runtime_tag(profile: Mapping[str, Any]) -> str:
    """File-name tag of a runtime: ``cpython-3.11-gil``, ``cpython-3.13t-nogil``.

    ``t`` marks a free-threaded build, the last part is the GIL state the run had.  A profile
    with injected fields gets ``-injected`` appended, so a test run with a faked profile never
    overwrites the report of a real runtime.
    """
    impl = str(profile.get("implementation") or "python").lower()
    pair = _version_pair(profile)
    version = f"{pair[0]}.{pair[1]}" if pair else "unknown"
    t = "t" if profile.get("free_threaded_build") else ""
    state = "nogil" if profile.get("gil_enabled") is False else "gil"
    tag = f"{impl}-{version}{t}-{state}"
    if profile.get("injected"):
        tag += "-injected"
    return re.sub(r"[^a-z0-9._-]+", "-", tag.lower()).strip("-.") or "unknown"


def runtime_column_label(profile: Mapping[str, Any]) -> str:
    """Short column heading for the matrix: ``3.11``, ``3.13t``, ``3.13t+GIL``, ``PyPy 3.10``."""
    pair = _version_pair(profile)
    label = f"{pair[0]}.{pair[1]}" if pair else str(profile.get("version") or "?")
    ft = bool(profile.get("free_threaded_build"))
    if ft:
        label += "t"
        if profile.get("gil_enabled") is not False:
            label += "+GIL"
    elif profile.get("gil_enabled") is False:
        label += " no-GIL"
    impl = str(profile.get("implementation") or "CPython")
    if impl.lower() != "cpython":
        label = f"{impl} {label}"
    if profile.get("injected"):
        label += " (injected)"
    return label


def runtime_facts(profile: Mapping[str, Any]) -> list[str]:
    """Short facts for a header: version, build, GIL state, usable CPUs (with their limits)."""
    impl = str(profile.get("implementation") or "Python")
    facts = [f"{impl} {profile.get('version') or '?'}"]
    facts.append("free-threaded build" if profile.get("free_threaded_build") else "GIL build")
    gil = profile.get("gil_enabled")
    state = "GIL enabled" if gil is not False else "GIL disabled"
    env = profile.get("python_gil_env")
    if env is not None:
        state += f" (PYTHON_GIL={env})"
    facts.append(state)
    cpus = profile.get("usable_cpus")
    if cpus is not None:
        limits = []
        if profile.get("cpu_affinity") is not None:
            limits.append(f"affinity {profile['cpu_affinity']}")
        if profile.get("cgroup_cpu_limit") is not None:
            limits.append(f"cgroup {fmt_num(profile['cgroup_cpu_limit'])}")
        if profile.get("logical_cores") is not None:
            limits.append(f"{profile['logical_cores']} logical")
        more = f" ({', '.join(limits)})" if limits else ""
        facts.append(f"{cpus} usable CPU{'s' if cpus != 1 else ''}{more}")
    if profile.get("injected"):
        facts.append("profile injected")
    return facts


# ---------------------------------------------------------------------------------------------
# Markdown


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (no HTML, no pipes, one line)."""
    text = "" if value is None else str(value)
    text = html.escape(text, quote=False).replace("|", "\\|")
    return " ".join(text.split())


def _counts_text(results: Sequence[Record]) -> str:
    counts: dict[str, int] = {}
    for rec in results:
        v = str(rec.get("verdict") or "none")
        counts[v] = counts.get(v, 0) + 1
    order = [v for v in VERDICTS if v in counts] + sorted(set(counts) - set(VERDICTS))
    return ", ".join(f"{counts[v]} {v}" for v in order) or "no records"


def session_text(doc: Mapping[str, Any]) -> str:
    """``12.3 s, exit status 0`` (+ ``, interrupted``)."""
    session = doc.get("session") if isinstance(doc.get("session"), Mapping) else {}
    assert isinstance(session, Mapping)
    parts = []
    if session.get("duration") is not None:
        parts.append(fmt_seconds(session.get("duration")))
    if session.get("exitstatus") is not None:
        parts.append(f"exit status {session.get('exitstatus')}")
    if session.get("interrupted"):
        parts.append("interrupted (partial results)")
    return ", ".join(parts)


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
        f"- **verdicts:** {md_cell(_counts_text(results))}",
        "",
        "| claim or check | verdict | expected | key figure | rounds | test | the document says |",
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
            f"| {test} | {md_cell(rec.get('document_says') or '')} |"
        )
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# HTML


def e(value: Any) -> str:
    """HTML-escape anything (``None`` → empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def verdict_badge(verdict: Any) -> str:
    v = str(verdict) if verdict else ""
    cls = v if v in VERDICTS else "other"
    return f'<span class="v v-{cls}">{e(v or "—")}</span>'


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


class Plot(NamedTuple):
    """One drawn figure: a title, a caption, and the PNG bytes (base64) or an error."""

    title: str
    caption: str
    png_base64: str
    error: str = ""
    wide: bool = False


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
        "<table><thead><tr><th>#</th><th>claim or check</th><th>the document says</th>"
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
            f'<td class="says">{e(rec.get("document_says") or "")}</td>'
            f"<td>{expected}</td><td>{verdict_badge(rec.get('verdict'))}{flag}"
            f'<div class="detail">test {e(rec.get("outcome"))}{_duration(rec)}{_worker(rec)}'
            "</div></td>"
            f'<td class="fig"><span class="q">{e(format_figure(key_figure(rec)))}</span>'
            f"{detail_html}</td>"
            f'<td class="num">{"" if rounds is None else rounds}</td></tr>'
        )
    rows.append("</tbody></table></section>")
    return "\n".join(rows)


def fmt_seconds(seconds: Any) -> str:
    """``1.23 s``, ``45 ms``, ``<1 ms``."""
    d = _num(seconds)
    if d is None:
        return ""
    if d >= 1:
        return f"{fmt_num(d)} s"
    if d >= 0.001:
        return f"{d * 1000:.0f} ms"
    return "<1 ms"


def _duration(rec: Record) -> str:
    text = fmt_seconds(rec.get("duration"))
    return f", {text}" if text else ""


def _worker(rec: Record) -> str:
    w = rec.get("worker")
    return f", {e(w)}" if w else ""


def _interval_text(val: Any, unit: str = "") -> str:
    if not isinstance(val, Mapping):
        return "" if val is None else str(val)
    return format_quantity(val.get("value"), val.get("low"), val.get("high"), unit)


def _evidence_section(results: Sequence[Record]) -> str:
    out = ['<section id="evidence"><h2>Evidence</h2>']
    for i, rec in enumerate(results, 1):
        checks = _checks(rec)
        out.append(
            f'<details id="r{i}"><summary>{i}. <code>{e(record_title(rec))}</code> '
            f"{verdict_badge(rec.get('verdict'))} — {len(checks)} check"
            f"{'s' if len(checks) != 1 else ''}</summary>"
        )
        out.append(
            f"<p><b>Test:</b> <code>{e(rec.get('nodeid'))}</code> — {e(rec.get('outcome'))}"
            f"{_duration(rec)}{_worker(rec)}</p>"
        )
        for key, name in (
            ("document_says", "The document says"),
            ("measured", "What is measured"),
            ("expected_reason", "Expected here because"),
            ("detail", "Measured"),
        ):
            if rec.get(key):
                out.append(f"<p><b>{e(name)}:</b> {e(rec.get(key))}</p>")
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
        "<th>speedup</th><th>P</th><th>bounds</th><th>rounds</th><th>elapsed</th><th>GIL</th>"
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
            f'<td class="iv">{e(_interval_text(c.get("speedup"), "x"))}</td>'
            f'<td class="iv">{e(_interval_text(c.get("parallelism")))}</td>'
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
    out = ['<section id="plots"><h2>Plots</h2>']
    if not _has_plot_data(results):
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


# ---------------------------------------------------------------------------------------------
# plots (matplotlib imported here only)


def _scaling_checks(rec: Record) -> list[Mapping[str, Any]]:
    out = []
    for c in _checks(rec):
        sp = c.get("speedup")
        if (
            isinstance(sp, Mapping)
            and _num(sp.get("value")) is not None
            and _num(c.get("workers")) is not None
        ):
            out.append(c)
    return out


def _p_checks(results: Sequence[Record]) -> list[tuple[Record, Mapping[str, Any]]]:
    out = []
    for rec in results:
        for c in _checks(rec):
            p = c.get("parallelism")
            if isinstance(p, Mapping) and _num(p.get("value")) is not None:
                out.append((rec, c))
    return out


def _series_checks(rec: Record) -> list[Mapping[str, Any]]:
    return [
        c
        for c in _checks(rec)
        if isinstance(c.get("series"), list)
        and any(isinstance(p, Mapping) and _num(p.get("value")) is not None for p in c["series"])
    ]


def _has_plot_data(results: Sequence[Record]) -> bool:
    return any(_scaling_checks(r) or _series_checks(r) for r in results) or bool(_p_checks(results))


def _mpl_text(text: Any, limit: int = 70) -> str:
    """Text safe for matplotlib (no mathtext from a stray ``$``), shortened."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("\\", "\\\\").replace("$", r"\$")


def draw_plots(results: Sequence[Record], profile: Mapping[str, Any]) -> list[Plot]:
    """Draw the report's plots.  Raises ImportError when matplotlib is missing.

    Per record with scaling checks: speedup vs workers per executor with intervals, the ideal
    line ``min(workers, usable CPUs)`` and a check's own ideal where it differs (sleeping work:
    ``tasks``).  One overview of P (CPU time / wall time) per check, coloured by executor.  Per
    record with series checks: the series (e.g. latency vs switch interval) with its band.
    """
    import matplotlib  # noqa: F401  (fails first when blocked or missing)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def render(fig: Any) -> str:
        FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return base64.b64encode(buf.getvalue()).decode("ascii")

    cpus = profile.get("usable_cpus")
    usable = int(cpus) if isinstance(cpus, int) and cpus > 0 else None
    plots: list[Plot] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs (CJK labels), tight_layout notes
        for rec in results:
            title = record_title(rec)
            scaling = _scaling_checks(rec)
            if scaling:
                try:
                    fig = Figure(figsize=(6.4, 3.9))
                    _draw_scaling(fig, title, scaling, usable)
                    plots.append(Plot(title, _scaling_caption(rec, usable), render(fig)))
                except Exception as exc:  # a drawing bug must not cost the report
                    plots.append(Plot(title, "", "", f"{type(exc).__name__}: {exc}"))
            series = _series_checks(rec)
            if series:
                try:
                    fig = Figure(figsize=(6.4, 3.9))
                    caption = _draw_series(fig, title, series)
                    plots.append(Plot(title, f"{caption} {_verdict_sentence(rec)}", render(fig)))
                except Exception as exc:
                    plots.append(Plot(title, "", "", f"{type(exc).__name__}: {exc}"))
        pc = _p_checks(results)
        if pc:
            title = "P (CPU time / wall time) per check"
            try:
                fig = Figure(figsize=(7.5, 1.4 + 0.32 * min(len(pc), MAX_P_ROWS)))
                _draw_parallelism(fig, pc[:MAX_P_ROWS], usable)
                caption = (
                    "P is the process CPU time divided by wall time while the workers ran: "
                    "≈ 1 when one thread runs at a time, up to the usable CPUs when they run in "
                    "parallel, ≈ 0 for sleeping work."
                )
                if len(pc) > MAX_P_ROWS:
                    caption += f" First {MAX_P_ROWS} of {len(pc)} checks."
                plots.append(Plot(title, caption, render(fig), wide=True))
            except Exception as exc:
                plots.append(Plot(title, "", "", f"{type(exc).__name__}: {exc}"))
    return plots


def _verdict_sentence(rec: Record) -> str:
    s = f"Verdict: {rec.get('verdict')}"
    if rec.get("expected"):
        s += f" (expected {rec.get('expected')})"
    return s + "."


def _scaling_caption(rec: Record, usable: int | None) -> str:
    ideal = f"min(workers, {usable} usable CPUs)" if usable else "min(workers, usable CPUs)"
    return (
        f"Speedup over serial vs workers, per executor, with intervals. Dashed: the ideal "
        f"{ideal}; dotted: no speedup. {_verdict_sentence(rec)}"
    )


def _executor_color(executor: Any) -> str:
    return EXECUTOR_COLORS.get(str(executor), OTHER_COLOR)


def _draw_scaling(
    fig: Any, title: str, checks: Sequence[Mapping[str, Any]], usable: int | None
) -> None:
    ax = fig.add_subplot()
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for c in checks:
        groups.setdefault((str(c.get("executor") or "?"), str(c.get("label") or "")), []).append(c)
    markers = "osD^v<>"
    per_exec: dict[str, int] = {}
    n_groups = len(groups)
    max_w = 1.0
    max_y = 1.0
    check_ideals: list[tuple[float, float]] = []
    for gi, ((executor, label), cs) in enumerate(sorted(groups.items())):
        k = per_exec.get(executor, 0)
        per_exec[executor] = k + 1
        cs = sorted(cs, key=lambda c: float(c["workers"]))
        jitter = (gi - (n_groups - 1) / 2) * 0.04 if n_groups > 1 else 0.0
        xs = [float(c["workers"]) + jitter for c in cs]
        ys, lo, hi = [], [], []
        for c in cs:
            sp = c["speedup"]
            y = float(sp["value"])
            low, high = _num(sp.get("low")), _num(sp.get("high"))
            ys.append(y)
            lo.append(max(0.0, y - low) if low is not None else 0.0)
            hi.append(max(0.0, high - y) if high is not None else 0.0)
            max_y = max(max_y, high if high is not None else y)
            max_w = max(max_w, float(c["workers"]))
            ideal = _num(c.get("ideal"))
            w = float(c["workers"])
            if ideal is not None and (usable is None or abs(ideal - min(w, usable)) > 1e-9):
                check_ideals.append((w, ideal))
                max_y = max(max_y, ideal)
        name = executor if not label else f"{executor}: {label}"
        ax.errorbar(
            xs,
            ys,
            yerr=[lo, hi],
            fmt=markers[k % len(markers)] + "-",
            color=_executor_color(executor),
            capsize=4,
            label=_mpl_text(name, 40),
        )
    if usable:
        xi = list(range(1, int(max_w) + 1)) if max_w >= 2 else [1.0, max(max_w, 2.0)]
        ax.plot(
            xi, [min(x, usable) for x in xi], "k--", lw=1, label=f"ideal min(workers, {usable})"
        )
        max_y = max(max_y, min(max_w, usable))
    if check_ideals:
        ax.plot(
            [w for w, _ in check_ideals],
            [i for _, i in check_ideals],
            linestyle="none",
            marker="_",
            markersize=18,
            color="black",
            label="ideal of the check",
        )
    ax.axhline(1.0, color="#999", ls=":", lw=1, label="no speedup")
    ax.set_xlim(0.5, max_w + 0.5)
    ax.set_ylim(0, max_y * 1.15 + 0.1)
    ax.set_xticks(list(range(1, int(max_w) + 1)))
    ax.set_xlabel("workers")
    ax.set_ylabel("speedup over serial (×)")
    ax.set_title(_mpl_text(title), fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")


def _draw_parallelism(
    fig: Any, pcs: Sequence[tuple[Record, Mapping[str, Any]]], usable: int | None
) -> None:
    ax = fig.add_subplot()
    labels = []
    seen: set[str] = set()
    max_x = 1.0
    for i, (rec, c) in enumerate(pcs):
        p = c["parallelism"]
        x = float(p["value"])
        low, high = _num(p.get("low")), _num(p.get("high"))
        executor = str(c.get("executor") or "?")
        ax.errorbar(
            [x],
            [i],
            xerr=[
                [max(0.0, x - low) if low is not None else 0.0],
                [max(0.0, high - x) if high is not None else 0.0],
            ],
            fmt="o",
            color=_executor_color(executor),
            capsize=3,
            label=executor if executor not in seen else None,
        )
        seen.add(executor)
        max_x = max(max_x, high if high is not None else x)
        workers = c.get("workers")
        wtxt = f", {workers} workers" if workers is not None else ""
        what = c.get("label") or c.get("kind")
        labels.append(_mpl_text(f"{record_title(rec)}: {what}{wtxt}", 60))
    ax.axvline(1.0, color="#999", ls=":", lw=1, label="one CPU")
    if usable:
        ax.axvline(usable, color="black", ls="--", lw=1, label=f"{usable} usable CPUs")
        max_x = max(max_x, float(usable))
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max_x * 1.1 + 0.1)
    ax.set_xlabel("P = CPU time / wall time")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(
        fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.6 / fig.get_figheight()), ncol=6
    )


def _draw_series(fig: Any, title: str, checks: Sequence[Mapping[str, Any]]) -> str:
    ax = fig.add_subplot()
    all_x: list[float] = []
    x_name = str(checks[0].get("x_name") or "x")
    y_name = str(
        checks[0].get("y_name")
        or ("latency (s)" if checks[0].get("kind") == "latency" else "value")
    )
    all_v = [
        abs(float(p["value"]))
        for c in checks
        for p in c["series"]
        if isinstance(p, Mapping) and _num(p.get("value")) is not None
    ]
    yf = 1.0
    if y_name.endswith("(s)") and all_v and max(all_v) < 1:
        yf, y_name = 1e3, y_name[:-3] + "(ms)"
    xf = 1.0
    xs_all = [
        float(p["x"])
        for c in checks
        for p in c["series"]
        if isinstance(p, Mapping) and _num(p.get("x")) is not None
    ]
    if x_name.endswith("(s)") and xs_all and max(abs(x) for x in xs_all) < 1:
        xf, x_name = 1e3, x_name[:-3] + "(ms)"
    for c in checks:
        pts = sorted(
            (
                p
                for p in c["series"]
                if isinstance(p, Mapping)
                and _num(p.get("x")) is not None
                and _num(p.get("value")) is not None
            ),
            key=lambda p: float(p["x"]),
        )
        xs = [float(p["x"]) * xf for p in pts]
        ys = [float(p["value"]) * yf for p in pts]
        color = _executor_color(c.get("executor"))
        name = str(c.get("label") or c.get("executor") or c.get("kind") or "series")
        ax.plot(xs, ys, "o-", color=color, label=_mpl_text(name, 40))
        band = [
            (x, float(p["low"]) * yf, float(p["high"]) * yf)
            for x, p in zip(xs, pts, strict=True)
            if _num(p.get("low")) is not None and _num(p.get("high")) is not None
        ]
        if band:
            ax.fill_between(
                [b[0] for b in band],
                [b[1] for b in band],
                [b[2] for b in band],
                color=color,
                alpha=0.2,
            )
        all_x.extend(xs)
    positive = [x for x in all_x if x > 0]
    if positive and len(positive) == len(all_x) and max(positive) / min(positive) >= 10:
        ax.set_xscale("log")
    ax.set_xlabel(_mpl_text(x_name))
    ax.set_ylabel(_mpl_text(y_name))
    ax.set_ylim(bottom=0)
    ax.set_title(_mpl_text(title), fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return f"{y_name} vs {x_name}, with intervals (band)."
