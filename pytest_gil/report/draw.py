"""Drawing helpers the charts share: the log ratio axis, verdict marks, zones and cut intervals.

Each takes a matplotlib ``Axes`` that :func:`.charts.render` made (matplotlib is loaded by
then); the module itself imports no matplotlib at load.  A verdict's mark differs by shape as
well as colour, so a chart reads without colour: a disc for confirmed, a square for refuted, a
diamond for inconclusive, a ring otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..vocabulary import VERDICTS
from .charts import FONT_SIZE, INK, MUTED, Chart
from .reading import Zones
from .style import PALETTE, ZONE_ALPHA, ZONE_COLOUR

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ARROW", "DOT_ALPHA", "LOG_SPAN", "MARK", "bound_lines", "colour", "cut_arrows",
           "log_axis", "log_domain", "mark_style", "ref_line", "row_labels", "tick_text",
           "verdict_class", "zone_bands"]

MARK = 7.0
"""Diameter of a verdict's mark, in pixels."""

DOT_ALPHA = 0.7
"""Opacity of a plain dot in :data:`.charts.INK` (a used round, a point without a verdict):
darker than muted ink, lighter than a verdict's mark."""

ARROW = 6.0
"""Size of the arrowhead that ends an interval cut at the edge of the axis, in pixels."""

SHAPES = {"confirmed": "o", "refuted": "s", "inconclusive": "D"}
"""matplotlib marker of each verdict (a ring, ``o`` unfilled, for any other)."""

DIAMOND = 0.8
"""A diamond's size relative to a disc's (a diamond of the same width looks larger)."""

DECADES = 10.0
"""An axis spanning this factor or more gets ticks at 1, 2 and 5 × 10^k; a narrower one gets
evenly stepped ticks (a 1-2-5 set would leave it two ticks or fewer)."""

LABEL_GAP = 4.0
"""Pixels between a row label and the axes."""

LOG_SPAN = 10.0
"""A series whose positive x values span this factor or more gets a log x axis."""

MAX_TICKS = 7
"""Most ticks on an evenly stepped axis (room for 11-pixel labels on a 400-pixel axis)."""


def colour(verdict: str) -> str:
    """The palette colour of a verdict (not-testable's grey for anything else)."""
    return PALETTE[verdict] if verdict in VERDICTS and verdict in PALETTE else (
        PALETTE["not-testable"])


def verdict_class(verdict: str) -> str:
    """``confirmed`` …, or ``other``: a verdict as a word fit for a class name."""
    return verdict if verdict in VERDICTS else "other"


def mark_style(verdict: str, size: float = MARK) -> dict[str, Any]:
    """Keyword arguments of ``Axes.plot`` for a verdict's mark (shape and colour)."""
    shape = SHAPES.get(verdict, "o")
    filled = verdict in SHAPES
    return {"marker": shape, "linestyle": "none", "color": colour(verdict),
            "markersize": size * (DIAMOND if shape == "D" else 1.0),
            "markerfacecolor": colour(verdict) if filled else "none",
            "markeredgewidth": 1.0 if filled else 1.5}


def log_domain(values: Iterable[float | None], pad: float = 1.15) -> tuple[float, float]:
    """A positive domain holding ``values`` (non-positive and missing ones ignored), widened by
    the factor ``pad`` on each side; ``(0.5, 2)`` when nothing is left."""
    vals = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not vals:
        return 0.5, 2.0
    lo, hi = min(vals), max(vals)
    if hi / lo < pad:
        mid = math.sqrt(lo * hi)
        lo, hi = mid / pad, mid * pad
    return lo / pad, hi * pad


def tick_text(value: float, unit: str = "") -> str:
    """``1.5×``, ``2``, ``0.25``: a tick's label, as short as the value allows (``×`` after
    ratios)."""
    suffix = "×" if unit in ("x", "×") else ""
    return f"{value:.3g}{suffix}"


ROW_PLOT = 560
"""Pixels of the log axis of a chart of rows (the forest, the baseline comparison)."""

ROW_LABELS = 260
"""Pixels first set aside for the row labels (the figure is then cropped to the longest)."""

ROW_AXIS = 30
"""Pixels above and below the rows: the tick labels of the axis, on both sides."""


def rows_size(bottom: float) -> tuple[float, float]:
    """The pixel size of a chart of rows reaching down to ``bottom``: the labels and the plot
    wide, the rows and the axis above and below them tall."""
    return ROW_LABELS + ROW_PLOT, bottom + 2 * ROW_AXIS


def rows_axes(chart: Chart, bottom: float, lo: float, hi: float, unit: str = "") -> Axes:
    """The axes of a chart of rows of :func:`rows_size` (``bottom``): labels on the left, a
    log axis over ``[lo, hi]`` ticked above and below, rows from ``0`` (top) down to
    ``bottom``."""
    width, height = rows_size(bottom)
    ax = chart.figure.add_axes((ROW_LABELS / width, ROW_AXIS / height, ROW_PLOT / width,
                                bottom / height))
    ax.set_ylim(bottom, 0.0)
    log_axis(ax, lo, hi, unit)
    ax.tick_params(axis="x", top=True, labeltop=True)
    ax.spines["top"].set_visible(True)
    ax.spines["left"].set_visible(False)
    return ax


def log_axis(ax: Axes, lo: float, hi: float, unit: str = "") -> None:
    """Make the x axis of ``ax`` a log axis over ``[lo, hi]`` with readable ticks: 1-2-5 per
    decade, or round even steps on a narrow span, labelled by :func:`tick_text`."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    axis = ax.xaxis
    if hi / lo >= DECADES:
        axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    else:
        axis.set_major_locator(MaxNLocator(nbins=MAX_TICKS, steps=[1, 2, 2.5, 5, 10]))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: tick_text(v, unit)))


def zone_bands(chart: Chart, ax: Axes, rows: Sequence[tuple[Zones, float, float]], lo: float,
               hi: float) -> None:
    """The confirm, undecided and refute zones over ``[lo, hi]`` of each ``(zones, bottom,
    top)`` (``bottom``/``top`` in data units): one collection per kind of zone."""
    from matplotlib.collections import PolyCollection

    boxes: dict[str, list[list[tuple[float, float]]]] = {}
    for z, bottom, top in rows:
        for start, end, name in z.segments(lo, hi):
            boxes.setdefault(name, []).append(
                [(start, bottom), (end, bottom), (end, top), (start, top)])
    for name, verts in boxes.items():
        bands = PolyCollection(verts, facecolors=PALETTE[ZONE_COLOUR[name]],
                               alpha=ZONE_ALPHA[name], linewidths=0)
        chart.mark(ax.add_collection(bands, autolim=False), f"z-{name}")


def bound_lines(chart: Chart, ax: Axes, rows: Sequence[tuple[Zones, float, float]], lo: float,
                hi: float) -> None:
    """Dashed lines at the bounds inside ``[lo, hi]`` of each ``(zones, bottom, top)``."""
    lines = [(b, bottom, top) for z, bottom, top in rows for b in (z.confirm, z.refute)
             if lo < b < hi]
    if lines:
        xs, bottoms, tops = zip(*lines, strict=True)
        chart.mark(ax.vlines(xs, bottoms, tops, colors=INK, alpha=MUTED, lw=0.8,
                             linestyles=(0, (2, 2))), "bound-line")


def ref_line(chart: Chart, ax: Axes, lo: float, hi: float,
             spans: Sequence[tuple[float, float]] | None = None) -> None:
    """The dashed line at 1 (no effect), when 1 is on the axis: across ``ax``, or over each
    ``(bottom, top)`` of ``spans`` (data units)."""
    if not lo < 1.0 < hi:
        return
    style: dict[str, Any] = {"color": INK, "alpha": MUTED, "lw": 0.9}
    if spans is None:
        chart.mark(ax.axvline(1.0, ls=(0, (4, 3)), **style), "ref-line")
    elif spans:
        bottoms, tops = zip(*spans, strict=True)
        chart.mark(ax.vlines([1.0] * len(spans), bottoms, tops, linestyles=(0, (4, 3)),
                             **style), "ref-line")


def row_labels(ax: Axes, rows: Sequence[tuple[float, str]], *, colours: Sequence[str] = (),
               bold: Sequence[bool] = ()) -> None:
    """Labels left of the axes at the data heights ``y`` of ``(y, text)``: a y axis without
    ticks (text only, so much cheaper to draw than matplotlib's tick machinery)."""
    ax.set_yticks([])
    for k, (y, text) in enumerate(rows):
        ink = colours[k] if k < len(colours) and colours[k] else INK
        weight = "bold" if k < len(bold) and bold[k] else "normal"
        ax.annotate(text, (0.0, y), xycoords=("axes fraction", "data"), xytext=(-LABEL_GAP, 0),
                    textcoords="offset points", ha="right", va="center", color=ink,
                    fontsize=FONT_SIZE - 1, fontweight=weight, annotation_clip=False)


def cut_arrows(chart: Chart, ax: Axes, ends: Iterable[tuple[float, float, bool]], verdict: str,
               size: float = ARROW) -> None:
    """Arrowheads at ``(x, y, left)``: where an interval leaves the axis on the left or right."""
    for x, y, left in ends:
        chart.mark(ax.plot([x], [y], marker="<" if left else ">", linestyle="none",
                           color=colour(verdict), markersize=size, clip_on=False)[0],
                   "cut-arrow")
