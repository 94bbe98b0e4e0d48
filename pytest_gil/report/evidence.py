"""The evidence behind each verdict, as small multiples: one panel per check that ran rounds.

A panel shows, on the log axis of the check's headline signal and over the zones of its
hypothesis, (top) every round's ratio — used rounds as dots, the warm-up hollow, excluded
(disturbed) rounds as crosses with their reason — and (below) the sequential path: the
interval at each look, narrowing as rounds accrue, until it left the undecided zone or the
rounds, the budget or the machine ran out.  Checks of the same signal and unit share one axis,
so their panels compare at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .charts import FONT_SIZE, INK, MUTED, Chart, render
from .draw import (
    DOT_ALPHA,
    bound_lines,
    colour,
    cut_arrows,
    log_axis,
    log_domain,
    mark_style,
    ref_line,
    row_labels,
    verdict_class,
    zone_bands,
)
from .format import Record, e, fmt_num, format_figure, verdict_badge
from .reading import LookStep, RoundPoint, Row, Zones, check_rows, key_signal, look_steps
from .reading import round_points as read_rounds
from .reading import zones as read_zones
from .why import why

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Panel", "evidence_panels", "render_evidence"]

WIDTH = 460
"""Pixels of a panel's chart (two panels side by side on a 1000-pixel page)."""

LEFT, RIGHT = 46, 14
"""Pixels left of the axis (row labels: ``rounds``, ``n=20``) and right of it."""

TOP = 16
"""Pixels above the strip: the labels of the bounds."""

STRIP = 44
"""Pixels of the strip of rounds (dots spread vertically so equal values stay visible)."""

LOOK = 12
"""Pixels per look of the sequential path."""

SPACE = 6
"""Pixels between the strip and the first look."""

AXIS = 24
"""Pixels of the axis under the panel."""

JITTER = 4
"""Pixels between the seven vertical lanes the strip spreads its rounds over."""

LANES = 7
"""Vertical lanes of the strip: round ``i`` goes to lane ``5 i mod 7``, so neighbours part."""

DOT = 5.0
"""Diameter of a round's dot, in pixels (a look's mark is :data:`LOOK_MARK`)."""

LOOK_MARK = 6.0
"""Diameter of a look's mark, in pixels."""

EDGE = 0.2
"""A bound's label goes to the inner side of its line when the line is within this fraction of
the axis from an edge (so it stays inside the chart)."""

STRETCH = 2.0
"""How far (as a factor) the intervals of early looks may widen the axis beyond the rounds
and bounds; wider ones are drawn cut, with an arrowhead."""

MAX_LISTED = 6
"""Excluded rounds listed by reason under a panel (the rounds table has them all)."""

NOISE_PREFIX = "noise: "
"""How the engine starts the exclusion reason of a disturbed round; the list drops it."""


@dataclass(frozen=True)
class Panel:
    """One check's evidence: its row, headline signal, rounds, looks and zones."""

    row: Row
    signal: str
    unit: str
    name: str
    rounds: list[RoundPoint]
    looks: list[LookStep]
    zones: Zones | None

    @property
    def group(self) -> tuple[str, str]:
        return self.name, self.unit


def evidence_panels(results: Sequence[Record]) -> list[Panel]:
    """A panel for every check with rounds or looks of its headline signal."""
    panels = []
    for row in check_rows(results):
        signal = key_signal(row.check) if row.check else None
        fig = row.figure
        if signal is None or fig is None:
            continue
        rounds = [p for p in read_rounds(row.check, signal) if p.value is not None]
        looks = look_steps(row.check, signal)
        if not rounds and not looks:
            continue
        panels.append(Panel(row, signal, str(fig.get("unit") or ""),
                            str(fig.get("name") or signal), rounds, looks,
                            read_zones(row.check)))
    return panels


def _domain(panels: Sequence[Panel]) -> tuple[float, float]:
    """The shared axis of a group: rounds, look values, bounds and figures, widened to the
    intervals by at most :data:`STRETCH`."""
    core: list[float | None] = []
    ends: list[float | None] = []
    for p in panels:
        core.extend(r.value for r in p.rounds)
        core.extend(lk.value for lk in p.looks)
        if p.zones is not None:
            core.extend((p.zones.confirm, p.zones.refute))
        ends.extend(v for lk in p.looks for v in (lk.low, lk.high))
    lo, hi = log_domain(core, pad=1.0)
    positive = [v for v in ends if v is not None and v > 0 and math.isfinite(v)]
    lo = max(min([lo, *positive]), lo / STRETCH)
    hi = min(max([hi, *positive]), hi * STRETCH)
    return log_domain((lo, hi), pad=1.06)


@dataclass(frozen=True)
class Layout:
    """Where a panel's parts lie, in pixels from the top of its axes (y grows downwards)."""

    looks: int

    @property
    def strip(self) -> float:
        """The middle of the strip of rounds."""
        return STRIP / 2

    def look(self, k: int) -> float:
        return STRIP + SPACE + LOOK * k + LOOK / 2

    @property
    def bottom(self) -> float:
        return STRIP + SPACE + LOOK * self.looks + SPACE / 2

    @property
    def size(self) -> tuple[float, float]:
        return WIDTH, TOP + self.bottom + AXIS


def _strip(chart: Chart, ax: Axes, p: Panel, lo: float, hi: float, mid: float) -> None:
    """The rounds: dots (used), rings (warm-up), crosses (excluded)."""
    styles: dict[str, dict[str, Any]] = {
        "used": {"marker": "o", "color": INK, "alpha": DOT_ALPHA, "markersize": DOT,
                 "markeredgewidth": 0},
        "warm-up": {"marker": "o", "color": INK, "alpha": MUTED, "markersize": DOT,
                    "markerfacecolor": "none", "markeredgewidth": 1.1},
        "excluded": {"marker": "x", "color": colour("refuted"), "markersize": DOT + 1,
                     "markeredgewidth": 1.5}}
    for status, style in styles.items():
        pts = [r for r in p.rounds if r.status == status and r.value is not None]
        if pts:
            xs = [min(max(float(r.value or lo), lo), hi) for r in pts]
            ys = [mid + ((r.index * 5) % LANES - LANES // 2) * JITTER for r in pts]
            chart.mark(ax.plot(xs, ys, linestyle="none", **style)[0], f"pt-{status}")


def _shown(step: LookStep, last: bool) -> str:
    """The verdict a look is coloured by: the last look's own, an earlier one's only when it
    decided (an undecided early look is grey)."""
    return step.verdict if last or step.verdict in ("confirmed", "refuted") else "other"


def _looks(chart: Chart, ax: Axes, p: Panel, layout: Layout, lo: float, hi: float) -> None:
    """Each look's interval (cut with an arrowhead past the axis) and value."""
    from matplotlib.collections import LineCollection

    segments, colours = [], []
    marks: dict[str, list[tuple[float, float]]] = {}
    for k, step in enumerate(p.looks):
        y, shown = layout.look(k), _shown(step, k == len(p.looks) - 1)
        if step.low is not None and step.high is not None and 0 < step.low <= step.high:
            segments.append(((max(step.low, lo), y), (min(step.high, hi), y)))
            colours.append(colour(shown))
            cut_arrows(chart, ax, [(lo, y, True)] * (step.low < lo)
                       + [(hi, y, False)] * (step.high > hi), shown, size=5.0)
        if step.value is not None:
            marks.setdefault(verdict_class(shown), []).append(
                (min(max(step.value, lo), hi), y))
    if segments:
        chart.mark(ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.6),
                                     autolim=False), "iv-look")
    for verdict, pts in marks.items():
        xs, ys = zip(*pts, strict=True)
        chart.mark(ax.plot(xs, ys, **mark_style(verdict, LOOK_MARK))[0], f"look-{verdict}")


def _bound_labels(ax: Axes, z: Zones, lo: float, hi: float) -> None:
    """``confirm 1.41`` above each bound's line: the lower bound's label to its left, the
    higher one's to its right (no overlap), turned inwards near an edge."""
    lower = min(z.confirm, z.refute)
    for name, bound in (("confirm", z.confirm), ("refute", z.refute)):
        if not lo < bound < hi:
            continue
        at = math.log(bound / lo) / math.log(hi / lo)
        left = (bound == lower and at > EDGE) or (bound != lower and at > 1 - EDGE)
        ax.annotate(f"{name} {fmt_num(bound)}", (bound, 0.0), xytext=(-3 if left else 3, 3),
                    textcoords="offset points", ha="right" if left else "left", va="bottom",
                    fontsize=FONT_SIZE - 1, color=INK, alpha=MUTED, annotation_clip=False)


def _paint(p: Panel, domain: tuple[float, float]) -> Callable[[Chart], None]:
    lo, hi = domain
    layout = Layout(len(p.looks))

    def paint(chart: Chart) -> None:
        width, height = layout.size
        ax = chart.figure.add_axes((LEFT / width, AXIS / height,
                                    (width - LEFT - RIGHT) / width, layout.bottom / height))
        ax.set_ylim(layout.bottom, 0.0)
        log_axis(ax, lo, hi, p.unit)
        chart.mark(ax.xaxis, "axis-x")
        ax.spines["left"].set_visible(False)
        if p.zones is not None:
            zone_bands(chart, ax, [(p.zones, 0.0, layout.bottom)], lo, hi)
            bound_lines(chart, ax, [(p.zones, 0.0, layout.bottom)], lo, hi)
            _bound_labels(ax, p.zones, lo, hi)
        ref_line(chart, ax, lo, hi)
        _strip(chart, ax, p, lo, hi, layout.strip)
        _looks(chart, ax, p, layout, lo, hi)
        row_labels(ax, [(layout.strip, "rounds"),
                        *((layout.look(k), f"n={lk.n}") for k, lk in enumerate(p.looks))])

    return paint


def _desc(p: Panel) -> str:
    used = sum(1 for r in p.rounds if r.status == "used")
    warm = sum(1 for r in p.rounds if r.status == "warm-up")
    excl = len(p.rounds) - used - warm
    looks = "; ".join(f"at {lk.n} rounds {fmt_num(lk.value)} [{fmt_num(lk.low)}, "
                      f"{fmt_num(lk.high)}] {lk.verdict}" for lk in p.looks)
    bounds = ""
    if p.zones is not None:
        side = "below" if p.zones.confirm_below else "above"
        bounds = f" Confirm {side} {fmt_num(p.zones.confirm)}, refute bound " \
                 f"{fmt_num(p.zones.refute)}."
    return (f"{used} rounds used, {warm} warm-up, {excl} excluded. Looks: {looks or 'none'}."
            f"{bounds} {why(p.row.check)}")


def panel_chart(domain: tuple[float, float], p: Panel) -> str:
    """The chart of one panel on ``domain`` (its group's shared axis)."""
    title = f"{p.row.label}: {p.name} per round and its interval look by look"
    return render(p.row.anchor, title, _desc(p), Layout(len(p.looks)).size, _paint(p, domain))


def _excluded_list(p: Panel) -> str:
    bad = [r for r in p.rounds if r.status == "excluded"]
    if not bad:
        return ""
    items = [f"<li>round {r.index}: {e(r.reason.removeprefix(NOISE_PREFIX) or 'disturbed')}"
             "</li>" for r in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        items.append(f"<li>… and {len(bad) - MAX_LISTED} more (all in the rounds table "
                     "below)</li>")
    return f"<ul>{''.join(items)}</ul>"


def _panel_html(domain: tuple[float, float], p: Panel) -> str:
    row = p.row
    reason = why(row.check)
    return (f'<figure class="panel" id="{row.anchor}"><figcaption>'
            f'<a href="#r{row.record_index}">{row.record_index}.</a> '
            f"<code>{e(row.label)}</code> {verdict_badge(row.verdict)} "
            f'<span class="q">{e(format_figure(row.figure))}</span>'
            f'{f"<div class=why>{e(reason)}</div>" if reason else ""}</figcaption>'
            f"{panel_chart(domain, p)}{_excluded_list(p)}</figure>")


def render_evidence(results: Sequence[Record], extra: Sequence[str] = ()) -> str:
    """The evidence section: the panels of ``results``, grouped by signal and unit (one
    shared axis per group); ``extra`` are further panels (curves) appended as they are."""
    panels = evidence_panels(results)
    out = ['<section id="evidence"><h2>Evidence</h2>']
    if not panels and not extra:
        out.append("<p>No check in this run measured rounds.</p></section>")
        return "\n".join(out)
    out.append(
        "<p>Per check: its rounds (● used, ○ warm-up, × excluded, with the reason) and, "
        "below, its interval at each look of the sequential test (n = rounds so far), over "
        "the zones of its hypothesis. Panels of the same signal share an axis.</p>")
    groups: dict[tuple[str, str], list[Panel]] = {}
    for p in panels:
        groups.setdefault(p.group, []).append(p)
    for (name, unit), members in groups.items():
        domain = _domain(members)
        shown_unit = f" ({unit})" if unit else ""
        count = f"{len(members)} check{'s' if len(members) != 1 else ''}"
        out.append(f"<h3>{e(name)}{e(shown_unit)} — {count}"
                   f"{', one shared axis' if len(members) > 1 else ''}</h3>")
        out.append('<div class="multiples">')
        out.extend(_panel_html(domain, p) for p in members)
        out.append("</div>")
    if extra:
        out.append('<h3>Curves and series</h3><div class="multiples">')
        out.extend(extra)
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)
