"""The run against its baseline: the section "compared with <file>" of the HTML and Markdown
pages, from the document's top-level ``baseline`` key (``docs/REPORT_SCHEMA.md``).

Per compared check, the baseline's and the current figure with their intervals on one log
axis (a dumbbell: baseline hollow above, current below), the ratio current/baseline with its
interval and p-value, and verdict changes, regressions and improvements highlighted.  Without
the key there is no section.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .charts import INK, MUTED, Chart, render
from .draw import (
    MARK,
    colour,
    log_domain,
    mark_style,
    ref_line,
    row_labels,
    rows_axes,
    rows_size,
    verdict_class,
)
from .format import e, fmt_num, format_figure, format_quantity, md_cell, num_or_none
from .format import verdict_badge as badge
from .reading import on_ratio_axis

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["baseline_of", "render_compare_html", "render_compare_markdown"]

ROW = 28
"""Pixels per comparison: two intervals, the baseline's above the current one."""

OFFSET = 6
"""Pixels between a row's middle and each of its two intervals."""

WRAP = 40
"""Characters per line of a label."""


def baseline_of(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The document's ``baseline`` section, ``None`` when it has none."""
    base = doc.get("baseline")
    return base if isinstance(base, Mapping) else None


def _comparisons(base: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = base.get("comparisons")
    return [c for c in items if isinstance(c, Mapping)] if isinstance(items, list) else []


def _side(c: Mapping[str, Any], which: str) -> Mapping[str, Any]:
    side = c.get(which)
    return side if isinstance(side, Mapping) else {}


def _fig(c: Mapping[str, Any], which: str) -> Mapping[str, Any] | None:
    fig = _side(c, which).get("figure")
    return fig if isinstance(fig, Mapping) else None


def _ratio_text(c: Mapping[str, Any]) -> str:
    """``speedup: current/baseline 0.83× [0.75, 0.92], p 0.001 (8 vs 6 rounds)``."""
    r = c.get("ratio")
    if not isinstance(r, Mapping) or num_or_none(r.get("value")) is None:
        return ""
    q = format_quantity(r.get("value"), r.get("low"), r.get("high"), "x")
    p = f", p {fmt_num(r.get('p_value'))}" if num_or_none(r.get("p_value")) is not None else ""
    n = ""
    if r.get("n_baseline") is not None and r.get("n_current") is not None:
        n = f" ({r.get('n_current')} vs {r.get('n_baseline')} rounds)"
    name = f"{r['name']}: " if r.get("name") else ""
    return f"{name}current/baseline {q}{p}{n}"


def _flags(c: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(css class, words)`` for what changed."""
    out = []
    if c.get("regression"):
        out.append(("flag", "regression"))
    if c.get("improvement"):
        out.append(("good", "improvement"))
    if c.get("verdict_changed"):
        out.append(("flag", "verdict changed"))
    for failed in c.get("failed") or []:
        out.append(("flag", f"fails: {failed}"))
    return out


def _domain(comparisons: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    values: list[float | None] = [1.0]
    for c in comparisons:
        for which in ("baseline", "current"):
            fig = _fig(c, which)
            if on_ratio_axis(fig):
                assert fig is not None
                values += [num_or_none(fig.get(k)) for k in ("value", "low", "high")]
    return log_domain(values, pad=1.08)


def _label(c: Mapping[str, Any]) -> str:
    return str(c.get("label") or c.get("claim") or c.get("nodeid") or "")


def _side_marks(chart: Chart, ax: Axes, c: Mapping[str, Any], y: float, which: str,
                lo: float, hi: float) -> float | None:
    """One side of a dumbbell (``baseline``: hollow and grey; ``current``: by verdict); the
    x of its figure, ``None`` when it has none on the axis."""
    fig = _fig(c, which)
    if not on_ratio_axis(fig):
        return None
    assert fig is not None
    verdict = str(_side(c, which).get("verdict"))
    base = which == "baseline"
    ink = INK if base else colour(verdict)
    low, high = num_or_none(fig.get("low")), num_or_none(fig.get("high"))
    if low is not None and high is not None and 0 < low <= high:
        chart.mark(ax.hlines(y, max(low, lo), min(high, hi), colors=ink,
                             alpha=MUTED if base else 1.0, lw=2), f"iv-{which}")
    x = min(max(float(fig["value"]), lo), hi)
    tip = f"{which}: {format_figure(fig)} — {verdict}"
    if base:
        style = {**mark_style("other", MARK), "color": INK, "alpha": MUTED}
        chart.mark(ax.plot([x], [y], **style)[0], "pt-baseline", tip)
    else:
        chart.mark(ax.plot([x], [y], **mark_style(verdict))[0],
                   f"mark-{verdict_class(verdict)}", tip)
    return x


def _paint(comparisons: Sequence[Mapping[str, Any]], domain: tuple[float, float]
           ) -> Callable[[Chart], None]:
    lo, hi = domain

    def paint(chart: Chart) -> None:
        ax = rows_axes(chart, ROW * len(comparisons), lo, hi)
        ref_line(chart, ax, lo, hi)
        rows = []
        for k, c in enumerate(comparisons):
            y = ROW * k + ROW / 2
            rows.append((y, "\n".join(textwrap.wrap(_label(c), WRAP)) or "?"))
            xb = _side_marks(chart, ax, c, y - OFFSET, "baseline", lo, hi)
            xc = _side_marks(chart, ax, c, y + OFFSET, "current", lo, hi)
            if xb is not None and xc is not None:
                chart.mark(ax.plot([xb, xc], [y - OFFSET, y + OFFSET], color=INK, alpha=0.3,
                                   lw=1)[0], "link-line")
            else:
                ax.text(0.01, y, "no figure on a ratio axis", transform=ax.get_yaxis_transform(),
                        va="center", color=INK, alpha=MUTED, style="italic")
        row_labels(ax, rows)

    return paint


def _chart(comparisons: Sequence[Mapping[str, Any]]) -> str:
    desc = " ".join(
        f"{_label(c)}: baseline {format_figure(_fig(c, 'baseline')) or 'none'} "
        f"({_side(c, 'baseline').get('verdict')}), current "
        f"{format_figure(_fig(c, 'current')) or 'none'} ({_side(c, 'current').get('verdict')})."
        f" {_ratio_text(c)}" for c in comparisons)
    return render("baseline", "the baseline's and the current figures, check by check", desc,
                  rows_size(ROW * len(comparisons)), _paint(comparisons, _domain(comparisons)),
                  tight=True)


def _header(base: Mapping[str, Any]) -> list[str]:
    path = str(base.get("path") or "the baseline")
    saved = base.get("saved") if isinstance(base.get("saved"), Mapping) else {}
    assert isinstance(saved, Mapping)
    facts = [f"{k} {v}" for k, v in saved.items()
             if isinstance(v, (str, int, float)) and not isinstance(v, bool) and v != ""]
    if base.get("runtime_label"):
        facts.append(f"baseline runtime: {base['runtime_label']}")
    for key, thing in (("same_machine", "machine"), ("same_interpreter", "interpreter")):
        if isinstance(base.get(key), bool):  # absent or null: not known
            facts.append(f"same {thing}" if base[key] else f"another {thing}")
    if num_or_none(base.get("alpha")) is not None:
        facts.append(f"α {fmt_num(base['alpha'])}")
    out = [f'<section id="baseline"><h2>Compared with <code>{e(os.path.basename(path))}</code>'
           "</h2>", f'<p class="detail">{e(path)}</p>',
           '<ul class="facts">', *(f"<li>{e(f)}</li>" for f in facts), "</ul>"]
    criteria = [str(f) for f in base.get("fail") or []]
    if criteria:
        out.append(f"<p><b>The run fails when a check breaks:</b> {e(', '.join(criteria))}</p>")
    out += [f'<p class="warn">{e(w)}</p>' for w in base.get("warnings") or []]
    return out


def _row(c: Mapping[str, Any]) -> str:
    flags = _flags(c)
    changed = " → ".join((badge(_side(c, "baseline").get("verdict")),
                          badge(_side(c, "current").get("verdict"))))
    words = " · ".join(f'<span class="{cls}">{e(w)}</span>' for cls, w in flags)
    label = _label(c)
    bad = any(cls == "flag" for cls, _ in flags)
    return (f'<tr{" class=flagged" if bad else ""}><td class="lab"><code>{e(label)}</code>'
            f'<div class="detail">{e(c.get("hypothesis") or "")}</div></td>'
            f"<td>{changed} {words}<div class=\"detail\">{e(_ratio_text(c))}</div></td></tr>")


def render_compare_html(doc: Mapping[str, Any]) -> str:
    """The baseline section of the page, ``""`` without a ``baseline`` key."""
    base = baseline_of(doc)
    if base is None:
        return ""
    comparisons = _comparisons(base)
    out = _header(base)
    changed = sum(1 for c in comparisons if c.get("verdict_changed"))
    worse = sum(1 for c in comparisons if c.get("regression"))
    better = sum(1 for c in comparisons if c.get("improvement"))
    broken = sum(1 for c in comparisons if c.get("failed"))
    noun = "check" if len(comparisons) == 1 else "checks"
    out.append(f"<p>{len(comparisons)} {noun} compared: {changed} verdict changes, "
               f"{worse} regressions, {better} improvements"
               f"{f', {broken} breaking a fail criterion' if broken else ''}. Baseline hollow "
               "(above), current by verdict (below).</p>")
    if comparisons:
        out.append(f'<div class="chart-box">{_chart(comparisons)}</div>')
        out.append('<div class="scroll"><table class="forest"><thead><tr><th>check</th>'
                   "<th>verdicts and ratio</th></tr></thead><tbody>")
        out.extend(_row(c) for c in comparisons)
        out.append("</tbody></table></div>")
    for key, title in (("added", "New since the baseline"), ("removed", "Gone since the baseline")):
        items = [i for i in base.get(key) or [] if isinstance(i, Mapping)]
        if items:
            out.append(f"<h3>{title}</h3><ul>" + "".join(
                f"<li><code>{e(i.get('label') or i.get('nodeid'))}</code></li>" for i in items)
                + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def render_compare_markdown(doc: Mapping[str, Any]) -> list[str]:
    """The baseline section as Markdown lines, ``[]`` without a ``baseline`` key."""
    base = baseline_of(doc)
    if base is None:
        return []
    lines = ["", f"## Compared with {md_cell(os.path.basename(str(base.get('path') or '')))}", ""]
    criteria = [str(f) for f in base.get("fail") or []]
    if criteria:
        lines.append(f"- **the run fails when a check breaks:** {md_cell(', '.join(criteria))}")
    lines += [f"- **warning:** {md_cell(w)}" for w in base.get("warnings") or []]
    lines += ["", "| check | baseline | current | change | ratio |", "|---|---|---|---|---|"]
    for c in _comparisons(base):
        b, cur = _side(c, "baseline"), _side(c, "current")
        change = ", ".join(w for _, w in _flags(c))
        lines.append(
            f"| {md_cell(c.get('label') or c.get('nodeid'))} "
            f"| {md_cell(b.get('verdict'))} {md_cell(format_figure(_fig(c, 'baseline')))} "
            f"| {md_cell(cur.get('verdict'))} {md_cell(format_figure(_fig(c, 'current')))} "
            f"| {('**' + md_cell(change) + '**') if change else ''} "
            f"| {md_cell(_ratio_text(c))} |")
    for key, title in (("added", "new"), ("removed", "gone")):
        items = [i for i in base.get(key) or [] if isinstance(i, Mapping)]
        if items:
            lines.append(f"\n{title}: " + ", ".join(md_cell(i.get("label") or i.get("nodeid"))
                                                  for i in items))
    return lines
