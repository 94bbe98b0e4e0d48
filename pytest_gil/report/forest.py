"""The overview: every check of a run on one forest plot.

One figure, one row per check, its height growing with the rows: the check's headline figure
with its interval on a shared log axis, over the zones its bounds draw — *confirm*,
*undecided*, *refute* of the hypothesis its record is about — marked by verdict (colour and
shape), with the zone of the expected verdict outlined where the measured one differs.  Labels
wrap and the figure is cropped to them, so none is clipped.  Under the figure a table says the
same per row in words (verdict, figure, why) and links each check to its evidence.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .charts import FONT_SIZE, INK, MUTED, Chart, render
from .draw import (
    bound_lines,
    colour,
    cut_arrows,
    log_domain,
    mark_style,
    ref_line,
    row_labels,
    rows_axes,
    rows_size,
    verdict_class,
    zone_bands,
)
from .evidence import evidence_panels
from .format import Record, e, format_figure, num_or_none, verdict_badge
from .reading import Row, Zones, check_rows, on_ratio_axis, zones
from .style import PALETTE
from .why import why

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["axis_domain", "render_forest"]

WRAP = 40
"""Characters per line of a row label (at 10 pixels, about
:data:`~pytest_gil.report.draw.ROW_LABELS` pixels)."""

ROW = 22
"""Pixels per row of a one- or two-line label: room for a 7-pixel mark and its zone bands."""

LINE = 12
"""Pixels per line of a label of three lines or more (its row grows)."""

GAP = 2
"""Pixels between the zone bands of neighbouring rows."""

STRETCH = 2.0
"""How far (as a factor) intervals may widen the axis beyond the figures, bounds and 1: a
three-round interval spanning two decades would otherwise squeeze every other row.  Intervals
that go further are drawn cut, with an arrowhead."""

ZONE_OF = {"confirmed": "confirm", "refuted": "refute", "inconclusive": "undecided"}
"""The zone of each verdict that has one (not-testable has none)."""


def axis_domain(rows: Iterable[Row]) -> tuple[float, float]:
    """The shared log axis: every figure and bound and 1, widened to the intervals by at most
    :data:`STRETCH`."""
    core: list[float | None] = [1.0]
    lows: list[float] = []
    highs: list[float] = []
    for row in rows:
        fig = row.figure
        if not on_ratio_axis(fig):
            continue
        assert fig is not None
        core.append(num_or_none(fig.get("value")))
        z = zones(row.check)
        if z is not None:
            core.extend((z.confirm, z.refute))
        for bound, out in (("low", lows), ("high", highs)):
            b = num_or_none(fig.get(bound))
            if b is not None and b > 0:
                out.append(b)
    lo, hi = log_domain(core, pad=1.0)
    lo = max(min([lo, *lows]), lo / STRETCH)
    hi = min(max([hi, *highs]), hi * STRETCH)
    return log_domain((lo, hi), pad=1.08)


def _expected_zone(row: Row) -> str | None:
    """The zone to outline: the expected verdict's, on the row that carries a verdict other
    than the expected one."""
    expected = row.record.get("expected")
    if not expected or expected == row.record.get("verdict"):
        return None
    if row.verdict != row.record.get("verdict"):
        return None
    return ZONE_OF.get(str(expected))


@dataclass(frozen=True)
class Placed:
    """A row on the figure: its label lines and its band ``[top, bottom]`` in pixels (y grows
    downwards)."""

    row: Row
    lines: list[str]
    top: float
    bottom: float

    @property
    def y(self) -> float:
        return (self.top + self.bottom) / 2


def _place(rows: Sequence[Row]) -> list[Placed]:
    out, y = [], 0.0
    for row in rows:
        lines = textwrap.wrap(row.label, WRAP, break_on_hyphens=False) or [""]
        height = max(ROW, len(lines) * LINE + 2 * GAP)
        out.append(Placed(row, lines, y, y + height))
        y += height
    return out


def _unplotted_text(row: Row) -> str:
    kind = row.check.get("kind") if row.check else None
    if kind == "functional":
        return "an exact observation, no figure"
    if row.verdict == "not-testable":
        return "not testable here"
    return format_figure(row.figure) or "nothing measured"


def _intervals(chart: Chart, ax: Axes, placed: Sequence[Placed], lo: float, hi: float) -> None:
    """Each plotted row's interval (cut with an arrowhead where it leaves the axis)."""
    segments, colours = [], []
    for p in placed:
        fig = p.row.figure
        assert fig is not None
        low, high = num_or_none(fig.get("low")), num_or_none(fig.get("high"))
        if low is None or high is None or not 0 < low <= high:
            continue
        segments.append(((max(low, lo), p.y), (min(high, hi), p.y)))
        colours.append(colour(p.row.verdict))
        cut_arrows(chart, ax, [(lo, p.y, True)] * (low < lo) + [(hi, p.y, False)] * (high > hi),
                   p.row.verdict)
    if segments:
        from matplotlib.collections import LineCollection

        chart.mark(ax.add_collection(LineCollection(segments, colors=colours, linewidths=2),
                                     autolim=False), "iv-check")


def _marks(chart: Chart, ax: Axes, placed: Sequence[Placed], lo: float, hi: float) -> None:
    """The figures, one artist per verdict (``mark-confirmed`` …)."""
    by_verdict: dict[str, list[Placed]] = {}
    for p in placed:
        by_verdict.setdefault(verdict_class(p.row.verdict), []).append(p)
    for verdict, members in by_verdict.items():
        xs = [min(max(float((p.row.figure or {})["value"]), lo), hi) for p in members]
        chart.mark(ax.plot(xs, [p.y for p in members], **mark_style(verdict))[0],
                   f"mark-{verdict}")


def _expected_outlines(chart: Chart, ax: Axes, placed: Sequence[Placed], lo: float,
                       hi: float) -> None:
    from matplotlib.patches import Rectangle

    for p in placed:
        want, z = _expected_zone(p.row), zones(p.row.check)
        if want is None or z is None:
            continue
        for start, end, name in z.segments(lo, hi):
            if name == want:
                box = Rectangle((start, p.top + GAP), end - start, p.bottom - p.top - 2 * GAP,
                                fill=False, edgecolor=INK, lw=1.2, ls=(0, (3, 2)))
                chart.mark(ax.add_patch(box), "zone-expected")


def _labels(ax: Axes, placed: Sequence[Placed]) -> None:
    """The row labels; a row whose verdict differs from the expected one in bold red."""
    flagged = [_expected_zone(p.row) is not None for p in placed]
    row_labels(ax, [(p.y, "\n".join(p.lines)) for p in placed],
               colours=[PALETTE["refuted"] if f else "" for f in flagged], bold=flagged)


def _paint(placed: Sequence[Placed], domain: tuple[float, float], unit: str
           ) -> Callable[[Chart], None]:
    lo, hi = domain

    def paint(chart: Chart) -> None:
        ax = rows_axes(chart, placed[-1].bottom, lo, hi, unit)
        plotted = [p for p in placed if on_ratio_axis(p.row.figure)]
        banded = [(z, p.top + GAP, p.bottom - GAP) for p in plotted
                  if (z := zones(p.row.check)) is not None]
        zone_bands(chart, ax, banded, lo, hi)
        bound_lines(chart, ax, banded, lo, hi)
        _expected_outlines(chart, ax, plotted, lo, hi)
        ref_line(chart, ax, lo, hi, [(p.top, p.bottom) for p in plotted])
        _intervals(chart, ax, plotted, lo, hi)
        _marks(chart, ax, plotted, lo, hi)
        for p in placed:
            if not on_ratio_axis(p.row.figure):
                ax.text(0.01, p.y, _unplotted_text(p.row), transform=ax.get_yaxis_transform(),
                        va="center", fontsize=FONT_SIZE - 1, color=INK, alpha=MUTED,
                        style="italic")
        _labels(ax, placed)

    return paint


def _row_desc(row: Row, z: Zones | None) -> str:
    if not on_ratio_axis(row.figure):
        return f"{row.label}: {_unplotted_text(row)}, {row.verdict}"
    zone = ""
    if z is not None:
        side = "below" if z.confirm_below else "above"
        zone = (f" (confirm {side} {z.confirm:.3g}, refute "
                f"{'above' if z.confirm_below else 'below'} {z.refute:.3g})")
    return f"{row.label}: {format_figure(row.figure)}, {row.verdict}{zone}"


def _chart(rows: Sequence[Row]) -> str:
    placed = _place(rows)
    units = {str(r.figure.get("unit") or "") for r in rows if r.figure and on_ratio_axis(r.figure)}
    unit = units.pop() if len(units) == 1 else ""
    desc = (f"{len(rows)} checks, each figure with its interval on one log axis over the zones "
            "of its hypothesis. " + "; ".join(_row_desc(r, zones(r.check)) for r in rows) + ".")
    return render("overview", "every check of the run: figure, interval and zones", desc,
                  rows_size(placed[-1].bottom), _paint(placed, axis_domain(rows), unit),
                  tight=True)


def _row_html(row: Row, panels: set[str]) -> str:
    """A row of the table under the chart: the label (a link to the check's evidence panel,
    else to its record's details), and the verdict, figure and why."""
    flagged = _expected_zone(row) is not None
    expected = ""
    if flagged:
        expected = f' <span class="flag">expected {e(row.record.get("expected"))}</span>'
    reason = why(row.check) if row.check else ""
    target = row.anchor if row.anchor in panels else f"r{row.record_index}"
    why_html = f'<div class="why detail">{e(reason)}</div>' if reason else ""
    return (f'<tr{" class=flagged" if flagged else ""}>'
            f'<td class="lab"><a href="#{target}"><code>{e(row.label)}</code></a></td>'
            f'<td>{verdict_badge(row.verdict)}{expected} '
            f'<span class="q">{e(format_figure(row.figure))}</span>{why_html}</td></tr>')


LEGEND = (
    '<div class="legend"><span><span class="sw z-confirm"></span>confirm zone</span>'
    '<span><span class="sw z-undecided"></span>undecided</span>'
    '<span><span class="sw z-refute"></span>refute zone</span>'
    "<span>● confirmed · ■ refuted · ◆ inconclusive · ○ other</span>"
    "<span>dashed outline: the zone of the expected verdict, where the measured one differs "
    "(its label in bold)</span><span>dashed line: 1 (no effect)</span></div>"
)


def render_forest(results: Sequence[Record]) -> str:
    """The overview section: one forest plot of every check of ``results``, and the same in
    words, row by row."""
    rows = check_rows(results)
    out = ['<section id="overview"><h2>Overview</h2>']
    if not rows:
        out.append("<p>No checks in this run.</p></section>")
        return "\n".join(out)
    out.append(
        "<p>Each check's headline figure with its interval on one log axis, over the zones of "
        "the hypothesis its record is about. Figures are ratios (× speedup, CPUs, × solo …); "
        "the zones of each row are its own bounds.</p>")
    out.append(LEGEND)
    out.append(f'<div class="chart-box">{_chart(rows)}</div>')
    panels = {p.row.anchor for p in evidence_panels(results)}
    out.append('<div class="scroll"><table class="forest"><thead><tr><th>check</th>'
               "<th>verdict, figure and why</th></tr></thead><tbody>")
    out.extend(_row_html(row, panels) for row in rows)
    out.append("</tbody></table></div></section>")
    return "\n".join(out)
