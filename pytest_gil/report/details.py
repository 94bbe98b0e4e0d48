"""The numbers behind the charts, as tables: per record its statement, checks, every raw round
and series point (the text alternative of the evidence panels), and the run's profile,
session, options, calibration and capacity."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .context import capacities, capacity_text, test_data, test_data_lines
from .format import (
    Record,
    check_figure,
    e,
    fmt_num,
    fmt_seconds,
    format_figure,
    record_checks,
    record_statement,
    record_title,
    verdict_badge,
)
from .why import record_why

__all__ = ["MAX_RAW_ROWS", "record_meta", "render_details", "render_run"]

MAX_RAW_ROWS = 200
"""Rounds shown per check in the raw-data table (a 20-look check with disturbed rounds has at
most 41; the cap only guards against a user's own very long designs)."""


def record_meta(rec: Record) -> str:
    """``, 1.2 s, gw0``: the test's duration and xdist worker, for the line of its outcome."""
    text = fmt_seconds(rec.get("duration"))
    worker = rec.get("worker")
    return (f", {text}" if text else "") + (f", {e(worker)}" if worker else "")


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


def _record_block(i: int, rec: Record, doc: Mapping[str, Any]) -> list[str]:
    checks = record_checks(rec)
    out = [
        f'<details id="r{i}"><summary>{i}. <code>{e(record_title(rec))}</code> '
        f"{verdict_badge(rec.get('verdict'))} — {len(checks)} check"
        f"{'s' if len(checks) != 1 else ''}</summary>",
        f"<p><b>Test:</b> <code>{e(rec.get('nodeid'))}</code> — {e(rec.get('outcome'))}"
        f"{record_meta(rec)}</p>",
    ]
    for name, text in (
        ("Statement", record_statement(rec)),
        ("Source", rec.get("source")),
        ("Catalogue", rec.get("catalogue")),
        ("What is measured", rec.get("measured")),
        ("Expected here because", rec.get("expected_reason")),
        ("Measured", rec.get("detail")),
        ("Why", record_why(rec)),
        *(("Beside the verdict", line) for line in test_data_lines(test_data(doc,
                                                                             rec.get("nodeid")))),
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
    return out


def render_details(results: Sequence[Record], doc: Mapping[str, Any]) -> str:
    """The details section: one collapsible block per record, with every number."""
    out = ['<section id="details"><h2>Details</h2>',
           "<p>Every record with its checks, raw rounds and series: the numbers behind the "
           "charts above.</p>"]
    for i, rec in enumerate(results, 1):
        out.extend(_record_block(i, rec, doc))
    out.append("</section>")
    return "\n".join(out)


def _check_cells(c: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Kind (hypothesis), workers / tasks / ideal, bounds, and the GIL, as text."""
    bounds = c.get("bounds")
    bounds_text = (", ".join(f"{k} {fmt_num(v)}" for k, v in bounds.items())
                   if isinstance(bounds, Mapping) else "")
    gil = c.get("gil")
    gil_text = ""
    if isinstance(gil, Mapping):
        gil_text = "on" if gil.get("enabled") else "off"
        if gil.get("changed"):
            gil_text += " (changed during the check!)"
    kind = str(c.get("kind") or "")
    if c.get("claim_tested"):
        kind += f" ({c.get('claim_tested')})"
    shape = " / ".join("?" if c.get(k) is None else str(c.get(k))
                       for k in ("workers", "tasks", "ideal"))
    return kind, shape, bounds_text, gil_text


def _checks_table(checks: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        '<div class="scroll"><table><thead><tr><th>#</th><th>kind (tested)</th><th>label</th>'
        '<th>executor</th><th title="workers / tasks / ideal">workers / tasks / ideal</th>'
        "<th>figures</th><th>bounds</th><th>rounds</th><th>elapsed</th><th>GIL</th>"
        "<th>verdict</th><th>reason</th></tr></thead><tbody>"
    ]
    for j, c in enumerate(checks, 1):
        kind, shape, bounds_text, gil_text = _check_cells(c)
        rounds = "" if c.get("rounds") is None else str(c.get("rounds"))
        if c.get("suspect_rounds"):
            rounds += f" ({c.get('suspect_rounds')} suspect)"
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
    more = (f" (first {MAX_RAW_ROWS} of {len(raw)}; all are in the JSON)"
            if len(raw) > MAX_RAW_ROWS else "")
    out = [
        f"<details><summary>check {j}: {len(raw)} raw rounds{e(more)} — "
        f"{e(check.get('label'))}</summary>",
        '<div class="scroll"><table><thead><tr><th>#</th>'
        + "".join(f"<th>{e(k)}</th>" for k in keys),
        "</tr></thead><tbody>",
    ]
    for n, r in enumerate(rows, 1):
        out.append(f'<tr><td class="num">{n}</td>'
                   + "".join(f'<td class="num">{e(_cell(r.get(k)))}</td>' for k in keys)
                   + "</tr>")
    out.append("</tbody></table></div></details>")
    return "\n".join(out)


def _series_table(j: int, check: Mapping[str, Any], series: Sequence[Any]) -> str:
    x_name = str(check.get("x_name") or "x")
    y_name = str(check.get("y_name") or "value")
    out = [
        f"<details><summary>check {j}: {e(y_name)} vs {e(x_name)} — "
        f"{e(check.get('label'))}</summary>",
        f"<table><thead><tr><th>{e(x_name)}</th><th>{e(y_name)}</th><th>low</th><th>high</th>"
        "</tr></thead><tbody>",
    ]
    for p in series:
        if isinstance(p, Mapping):
            out.append("<tr>" + "".join(f'<td class="num">{e(fmt_num(p.get(k)))}</td>'
                                        for k in ("x", "value", "low", "high")) + "</tr>")
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


def _capacity_html(doc: Mapping[str, Any]) -> list[str]:
    caps = capacities(doc)
    if not caps:
        return []
    out = ["<h3>Delivered capacity</h3>",
           "<p>The work N parallel worker processes get done per second over the work one "
           "does, measured in windows (the ideal of scaling checks; "
           "<code>pytest_gil.delivered_capacity</code>).</p><ul>"]
    for cap in caps:
        extra = ", ".join(f"{k} {fmt_num(cap[k])}" for k in ("windows", "disturbed", "alpha")
                          if cap.get(k) is not None)
        out.append(f"<li>{e(capacity_text(cap))}"
                   f'<span class="detail"> — {e(extra)}, measured by {e(cap.get("process"))}'
                   "</span></li>")
    out.append("</ul>")
    return out


def render_run(doc: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """The run section: capacity, runtime profile, session, options, settings, calibration and
    xdist workers."""
    out = ['<section id="run"><h2>Run</h2>', *_capacity_html(doc), "<h3>Runtime profile</h3>",
           _kv_table(profile.items())]
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
