"""Curves: speedup against the number of workers, and a check's series (latency against the
switch interval).

A ``curve`` CHECK carries ``points`` (``workers``, ``speedup`` FIGURE, ``efficiency``,
``beyond_cpus``, ``rounds``, ``verdicts``), an ``amdahl`` fit (``serial_fraction`` with
``low``/``high``), a ``usl`` fit (``sigma``, ``kappa``, ``peak_workers``) and ``usable_cpus``;
any of them may be missing and the panel draws what is there: the speedups with their
intervals (hollow beyond the usable CPUs), the ideal ``min(workers, usable CPUs)``, and the
fits.  A record with scaling checks at several worker counts gets the same panel per executor.
Each panel has a table of its points as its text alternative.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .charts import FONT_SIZE, INK, MUTED, Chart, render
from .draw import DOT_ALPHA, LOG_SPAN, MARK, colour, log_axis, mark_style, verdict_class
from .format import (
    Record,
    check_figure,
    e,
    fmt_num,
    format_figure,
    num_or_none,
    record_title,
    verdict_badge,
)
from .reading import check_rows
from .style import PALETTE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CurvePoint", "curve_panels", "scaling_points", "series_panel"]

WIDTH, HEIGHT = 460, 260
"""Pixels of a curve panel."""

LEFT, RIGHT, TOP, BOTTOM = 46, 14, 12, 36
"""Margins: tick labels and the axis title left, room right and on top, ticks and the axis
title below."""

FIT_STEPS = 60
"""Segments of a fitted curve (smooth at this size)."""

HEADROOM = 1.12
"""The y axis reaches this factor above the highest point, interval or fit."""

BAND_ALPHA = 0.12
"""Opacity of the band of a fit's interval (and of a series' interval)."""

GRID_ALPHA = 0.15
"""Opacity of the horizontal grid lines."""

Fit = tuple[str, Callable[[float], float]]
"""A fitted curve: its part (``amdahl``, ``band-high``, ``band-low``, ``usl``) and its law."""


@dataclass(frozen=True)
class CurvePoint:
    """One point of a curve: x, the value with its interval, hollow or not, its verdict."""

    x: float
    value: float
    low: float | None
    high: float | None
    hollow: bool = False
    verdict: str = "other"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _point(p: Mapping[str, Any], usable: int | None, hyp: str) -> CurvePoint | None:
    fig = p.get("speedup")
    workers = num_or_none(p.get("workers"))
    if not isinstance(fig, Mapping) or workers is None:
        return None
    value = num_or_none(fig.get("value"))
    if value is None:
        return None
    beyond = bool(p.get("beyond_cpus")) or (usable is not None and workers > usable)
    verdicts = p.get("verdicts")
    verdict = str(verdicts.get(hyp) or "other") if isinstance(verdicts, Mapping) else "other"
    return CurvePoint(workers, value, num_or_none(fig.get("low")), num_or_none(fig.get("high")),
                      beyond, verdict)


def _fit_amdahl(fit: Any) -> list[Fit]:
    """Amdahl's speedup ``1 / (s + (1 - s) / n)`` at the fitted serial fraction and at the
    ends of its interval (the band)."""
    if not isinstance(fit, Mapping) or num_or_none(fit.get("serial_fraction")) is None:
        return []

    def law(s: float) -> Callable[[float], float]:
        return lambda n: 1.0 / (s + (1.0 - s) / n)

    out = [("amdahl", law(float(fit["serial_fraction"])))]
    lo, hi = num_or_none(fit.get("low")), num_or_none(fit.get("high"))
    if lo is not None and hi is not None:
        out += [("band-high", law(lo)), ("band-low", law(hi))]
    return out


def _fit_usl(fit: Any) -> list[Fit]:
    """The universal scalability law ``n / (1 + σ(n−1) + κ n(n−1))``."""
    if not isinstance(fit, Mapping):
        return []
    sigma, kappa = num_or_none(fit.get("sigma")), num_or_none(fit.get("kappa"))
    if sigma is None or kappa is None:
        return []
    return [("usl", lambda n: n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)))]


def _frame(chart: Chart, x_name: str, y_name: str) -> Axes:
    """The axes of a panel: labelled, with horizontal grid lines."""
    ax = chart.figure.add_axes((LEFT / WIDTH, BOTTOM / HEIGHT, (WIDTH - LEFT - RIGHT) / WIDTH,
                                (HEIGHT - TOP - BOTTOM) / HEIGHT))
    ax.set_xlabel(x_name, fontsize=FONT_SIZE - 1, alpha=MUTED)
    ax.set_ylabel(y_name, fontsize=FONT_SIZE - 1, alpha=MUTED)
    ax.grid(axis="y", color=INK, alpha=GRID_ALPHA, lw=0.8)
    ax.set_axisbelow(True)
    return ax


def _tip(p: CurvePoint) -> str:
    tip = (f"{p.x:g} worker{'s' if p.x != 1 else ''}: {fmt_num(p.value)}× "
           f"[{fmt_num(p.low)}, {fmt_num(p.high)}]")
    return tip + " (beyond the usable CPUs)" if p.hollow else tip


def _draw_point(chart: Chart, ax: Axes, p: CurvePoint, tip: str) -> None:
    """A point with its interval: hollow beyond the usable CPUs, a plain dot without a
    verdict, else its verdict's mark."""
    if p.low is not None and p.high is not None:
        chart.mark(ax.vlines(p.x, p.low, p.high, colors=colour(p.verdict), lw=2), "iv-point")
    if p.hollow:
        style = {**mark_style("other", MARK + 1), "color": colour(p.verdict)}
        chart.mark(ax.plot([p.x], [p.value], **style)[0], "pt-beyond", tip)
    elif verdict_class(p.verdict) == "other":
        chart.mark(ax.plot([p.x], [p.value], "o", color=INK, alpha=DOT_ALPHA, ms=MARK - 1)[0],
                   "pt-point", tip)
    else:
        chart.mark(ax.plot([p.x], [p.value], **mark_style(p.verdict, MARK + 1))[0],
                   f"mark-{p.verdict}", tip)


def _fits(chart: Chart, ax: Axes, max_x: float, fits: Sequence[Fit]) -> None:
    grid = [1.0 + (max_x - 1.0) * k / FIT_STEPS for k in range(FIT_STEPS + 1)]
    laws = dict(fits)
    if "band-high" in laws and "band-low" in laws:
        chart.mark(ax.fill_between(grid, [laws["band-low"](n) for n in grid],
                                   [laws["band-high"](n) for n in grid], color=INK,
                                   alpha=BAND_ALPHA, lw=0), "fit-band")
    if "amdahl" in laws:
        chart.mark(ax.plot(grid, [laws["amdahl"](n) for n in grid], color=INK, lw=1.3)[0],
                   "fit-amdahl")
    if "usl" in laws:
        chart.mark(ax.plot(grid, [laws["usl"](n) for n in grid], color=PALETTE["fit-usl"],
                           lw=1.3, ls=(0, (6, 3)))[0], "fit-usl")


def _paint_curve(points: Sequence[CurvePoint], usable: int | None, fits: Sequence[Fit]
                 ) -> Callable[[Chart], None]:
    """Speedup against workers: intervals, marks (hollow beyond the usable CPUs), the ideal
    ``min(workers, usable CPUs)`` and the fitted curves."""
    from matplotlib.ticker import MaxNLocator

    max_x = max([p.x for p in points] + [float(usable or 1), 2.0])
    cap = min(float(usable) if usable else max_x, max_x)
    tops = [p.high if p.high is not None else p.value for p in points]
    tops += [cap, *(f(max_x) for _, f in fits)]

    def paint(chart: Chart) -> None:
        ax = _frame(chart, "workers", "speedup (×)")
        ax.set_xlim(0.0, max_x + 0.5)
        ax.set_ylim(0.0, max(tops) * HEADROOM)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        chart.mark(ax.plot([0.0, cap, max_x], [0.0, cap, cap], color=INK, alpha=MUTED, lw=1,
                           ls=(0, (4, 3)))[0], "ref-ideal")
        _fits(chart, ax, max_x, fits)
        for p in sorted(points, key=lambda q: q.x):
            _draw_point(chart, ax, p, _tip(p))

    return paint


def _points_table(points: Sequence[CurvePoint], x_name: str, y_name: str) -> str:
    rows = "".join(
        f'<tr><td class="num">{p.x:g}</td><td class="num">{e(fmt_num(p.value))}</td>'
        f'<td class="num">{e(fmt_num(p.low))}</td><td class="num">{e(fmt_num(p.high))}</td>'
        f"<td>{'beyond the usable CPUs' if p.hollow else ''}</td></tr>" for p in points)
    return (f"<details><summary>the points</summary><table><thead><tr><th>{e(x_name)}</th>"
            f"<th>{e(y_name)}</th><th>low</th><th>high</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table></details>")


def _fit_lines(check: Mapping[str, Any]) -> list[str]:
    """The fits in words: ``Amdahl: serial fraction 0.08 [0.05, 0.11] from 1, 2, 4 workers``."""
    out = []
    amdahl, usl = check.get("amdahl"), check.get("usl")
    if isinstance(amdahl, Mapping) and num_or_none(amdahl.get("serial_fraction")) is not None:
        used = ", ".join(map(str, amdahl.get("points_used") or []))
        out.append(f"Amdahl (solid, band): serial fraction {fmt_num(amdahl['serial_fraction'])}"
                   f" [{fmt_num(amdahl.get('low'))}, {fmt_num(amdahl.get('high'))}]"
                   f"{f' from {used} workers' if used else ''}"
                   f"{'; ' + str(amdahl['note']) if amdahl.get('note') else ''}")
    if isinstance(usl, Mapping) and num_or_none(usl.get("sigma")) is not None:
        peak = usl.get("peak_workers")
        out.append(f"USL (dashed): σ {fmt_num(usl.get('sigma'))}, κ {fmt_num(usl.get('kappa'))}"
                   f"{f', peak at {fmt_num(peak)} workers' if peak is not None else ''}"
                   f"{'; ' + str(usl['note']) if usl.get('note') else ''}")
    notes = check.get("fit_notes")
    for key, name, fit in (("amdahl", "Amdahl", amdahl), ("usl", "USL", usl)):
        if not isinstance(fit, Mapping) and isinstance(notes, Mapping) and notes.get(key):
            out.append(f"{name}: not fitted — {notes[key]}")
    return out


def _curve_panel(anchor: str, title: str, caption: str, check: Mapping[str, Any],
                 usable: int | None, points: Sequence[CurvePoint]) -> str:
    """A curve's panel: ``title`` (text) names its chart, ``caption`` (HTML) heads it."""
    fits = [*_fit_amdahl(check.get("amdahl")), *_fit_usl(check.get("usl"))]
    words = _fit_lines(check)
    cpus = f"; {usable} usable CPUs" if usable else ""
    desc = (f"speedup at {', '.join(f'{p.x:g}' for p in points)} workers{cpus}. "
            + " ".join(words))
    svg = render(anchor, f"{title}: speedup against workers", desc, (WIDTH, HEIGHT),
                 _paint_curve(points, usable, fits))
    notes = "".join(f"<li>{e(w)}</li>" for w in words)
    legend = ("dashed line: ideal min(workers, usable CPUs); hollow: beyond the usable CPUs")
    return (f'<figure class="panel" id="{e(anchor)}"><figcaption>{caption}</figcaption>{svg}'
            f'<div class="detail">{legend}</div><ul>{notes}</ul>'
            f"{_points_table(points, 'workers', 'speedup')}</figure>")


def scaling_points(checks: Sequence[Mapping[str, Any]], usable: int | None
                   ) -> dict[str, list[CurvePoint]]:
    """Per executor, the speedups of scaling checks with a number of workers (only executors
    measured at two or more worker counts)."""
    groups: dict[str, list[CurvePoint]] = {}
    for c in checks:
        fig, workers = check_figure(c, "speedup"), num_or_none(c.get("workers"))
        if c.get("kind") == "curve" or fig is None or workers is None:
            continue
        groups.setdefault(str(c.get("executor") or "?"), []).append(CurvePoint(
            workers, float(fig["value"]), num_or_none(fig.get("low")),
            num_or_none(fig.get("high")), usable is not None and workers > usable,
            str(c.get("verdict") or "other")))
    return {k: v for k, v in groups.items() if len({p.x for p in v}) >= 2}


def curve_panels(results: Sequence[Record], usable: int | None) -> list[str]:
    """The curve panels of a run: every ``curve`` check, every record with scaling checks at
    several worker counts (per executor), and every check with a ``series``."""
    out = []
    for row in check_rows(results):
        c = row.check
        if c.get("kind") == "curve" and isinstance(c.get("points"), list):
            own = _int(c.get("usable_cpus")) or usable
            hyp = str(c.get("claim_tested") or "")
            points = [p for p in (_point(q, own, hyp) for q in c["points"]
                                  if isinstance(q, Mapping)) if p is not None]
            if points:
                caption = (f"<code>{e(row.label)}</code> {verdict_badge(row.verdict)} "
                           f"{e(format_figure(row.figure))}")
                out.append(_curve_panel(f"c{row.record_index}-{row.check_index}", row.label,
                                        caption, c, own, points))
        if isinstance(c.get("series"), list) and c["series"]:
            out.append(series_panel(row.label, row.anchor + "s", c))
    for i, rec in enumerate(results, 1):
        checks = [r.check for r in check_rows([rec])]
        for executor, points in scaling_points(checks, usable).items():
            title = f"{record_title(rec)} · {executor}"
            out.append(_curve_panel(f"s{i}-{executor}", title, f"<code>{e(title)}</code>", {},
                                    usable, points))
    return out


def _series_points(check: Mapping[str, Any]) -> list[CurvePoint]:
    pts = []
    for p in check.get("series") or []:
        if not isinstance(p, Mapping):
            continue
        x, v = num_or_none(p.get("x")), num_or_none(p.get("value"))
        if x is not None and v is not None:
            pts.append(CurvePoint(x, v, num_or_none(p.get("low")), num_or_none(p.get("high"))))
    return sorted(pts, key=lambda p: p.x)


def _ms(name: str, values: Sequence[float]) -> tuple[float, str]:
    """Seconds under one shown in milliseconds: ``(factor, name)``."""
    if name.endswith("(s)") and values and max(abs(v) for v in values) < 1:
        return 1e3, name[:-3] + "(ms)"
    return 1.0, name


def _paint_series(pts: Sequence[CurvePoint], x_name: str, y_name: str
                  ) -> Callable[[Chart], None]:
    """A series with its interval band, on a log x axis when its x values span
    :data:`.draw.LOG_SPAN` or more."""
    xs = [p.x for p in pts]
    top = max(p.high if p.high is not None else p.value for p in pts)
    band = [p for p in pts if p.low is not None and p.high is not None]

    def paint(chart: Chart) -> None:
        ax = _frame(chart, x_name, y_name)
        if min(xs) > 0 and max(xs) / min(xs) >= LOG_SPAN:
            log_axis(ax, min(xs) / 1.2, max(xs) * 1.2)
        else:
            ax.set_xlim(0.0, max(xs) * 1.08 or 1.0)
        ax.set_ylim(0.0, top * HEADROOM or 1.0)
        if band:
            chart.mark(ax.fill_between([p.x for p in band], [p.low or 0.0 for p in band],
                                       [p.high or 0.0 for p in band], color=INK,
                                       alpha=BAND_ALPHA, lw=0), "fit-band")
        chart.mark(ax.plot(xs, [p.value for p in pts], color=INK, lw=1.3, marker="o",
                           ms=MARK - 2)[0], "series-line")

    return paint


def series_panel(label: str, anchor: str, check: Mapping[str, Any]) -> str:
    """A check's ``series`` (e.g. wake-up latency against the switch interval) with its band."""
    pts = _series_points(check)
    if not pts:
        return ""
    default_y = "latency (s)" if check.get("kind") == "latency" else "value"
    xf, x_name = _ms(str(check.get("x_name") or "x"), [p.x for p in pts])
    yf, y_name = _ms(str(check.get("y_name") or default_y),
                     [p.value for p in pts] + [p.high for p in pts if p.high is not None])
    scaled = [CurvePoint(p.x * xf, p.value * yf, None if p.low is None else p.low * yf,
                         None if p.high is None else p.high * yf) for p in pts]
    desc = "; ".join(f"{fmt_num(p.x)}: {fmt_num(p.value)} [{fmt_num(p.low)}, "
                     f"{fmt_num(p.high)}]" for p in scaled)
    chart = render(anchor, f"{label}: {y_name} against {x_name}", desc, (WIDTH, HEIGHT),
                   _paint_series(scaled, x_name, y_name))
    return (f'<figure class="panel" id="{e(anchor)}"><figcaption><code>{e(label)}</code>: '
            f"{e(y_name)} against {e(x_name)}</figcaption>{chart}"
            f"{_points_table(scaled, x_name, y_name)}</figure>")
