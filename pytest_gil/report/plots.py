"""Charts of a run, drawn with matplotlib (the ``report`` extra) into base64 PNGs for the
self-contained HTML page.  matplotlib is imported only here, only while drawing, with the Agg
canvas and without touching the global backend."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

from .format import Record, check_figure, num_or_none, record_checks, record_title

__all__ = ["Plot", "draw_plots", "has_plot_data"]


EXECUTORS = ("serial", "thread", "process", "interpreter")


EXECUTOR_COLORS = {
    "serial": "#7f7f7f",
    "thread": "#1f77b4",
    "process": "#ff7f0e",
    "interpreter": "#2ca02c",
}


OTHER_COLOR = "#9467bd"


MAX_P_ROWS = 80


class Plot(NamedTuple):
    """One drawn figure: a title, a caption, and the PNG bytes (base64) or an error."""

    title: str
    caption: str
    png_base64: str
    error: str = ""
    wide: bool = False


def _scaling_checks(rec: Record) -> list[Mapping[str, Any]]:
    """The checks of ``rec`` with a speedup figure and a number of workers."""
    return [c for c in record_checks(rec)
            if check_figure(c, "speedup") is not None
            and num_or_none(c.get("workers")) is not None]


def _p_checks(results: Sequence[Record]) -> list[tuple[Record, Mapping[str, Any]]]:
    """Every check with a parallelism figure (P = CPU time / wall time), with its record."""
    return [(rec, c) for rec in results for c in record_checks(rec)
            if check_figure(c, "parallelism") is not None]


def _series_points(check: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The points of a check's ``series`` (latency vs switch interval) with an x and a
    value, by x."""
    series = check.get("series")
    if not isinstance(series, list):
        return []
    pts = [p for p in series if isinstance(p, Mapping)
           and num_or_none(p.get("x")) is not None and num_or_none(p.get("value")) is not None]
    return sorted(pts, key=lambda p: float(p["x"]))


def _series_checks(rec: Record) -> list[Mapping[str, Any]]:
    return [c for c in record_checks(rec) if _series_points(c)]


def has_plot_data(results: Sequence[Record]) -> bool:
    """True when some check has something :func:`draw_plots` draws."""
    return any(_scaling_checks(r) or _series_checks(r) for r in results) or bool(_p_checks(results))


def _mpl_text(text: Any, limit: int = 70) -> str:
    """Text safe for matplotlib (no mathtext from a stray ``$``), shortened."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("\\", "\\\\").replace("$", r"\$")


def _usable_cpus(profile: Mapping[str, Any]) -> int | None:
    cpus = profile.get("usable_cpus")
    return int(cpus) if isinstance(cpus, int) and not isinstance(cpus, bool) and cpus > 0 else None


def draw_plots(results: Sequence[Record], profile: Mapping[str, Any]) -> list[Plot]:
    """Draw the report's plots.  Raises ImportError when matplotlib is missing.

    Per record with scaling checks: speedup vs workers per executor with intervals, the ideal
    line ``min(workers, usable CPUs)`` and a check's own ideal where it differs (sleeping work:
    ``tasks``).  One overview of P (CPU time / wall time) per check, coloured by executor.  Per
    record with series checks: the series (e.g. latency vs switch interval) with its band.
    A plot that fails to draw becomes a :class:`Plot` with an ``error``, not an exception.
    """
    import matplotlib  # noqa: F401  (fails first when blocked or missing)

    usable = _usable_cpus(profile)
    plots: list[Plot] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs (CJK labels), tight_layout notes
        for rec in results:
            title = record_title(rec)
            scaling = _scaling_checks(rec)
            if scaling:
                plots.append(_plot(title, partial(_draw_scaling_plot, rec, scaling, usable)))
            series = _series_checks(rec)
            if series:
                plots.append(_plot(title, partial(_draw_series_plot, rec, series)))
        pc = _p_checks(results)
        if pc:
            plots.append(_parallelism_plot(pc, usable))
    return plots


def _plot(title: str, draw: Callable[[Any], str], size: tuple[float, float] = (6.4, 3.9),
          wide: bool = False) -> Plot:
    """A :class:`Plot` of a new figure of ``size`` that ``draw`` fills (returning the
    caption); a drawing bug gives a plot with its ``error`` instead of costing the report."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    try:
        fig = Figure(figsize=size)
        caption = draw(fig)
        FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    except Exception as exc:
        return Plot(title, "", "", f"{type(exc).__name__}: {exc}")
    return Plot(title, caption, base64.b64encode(buf.getvalue()).decode("ascii"), wide=wide)


def _parallelism_plot(pc: Sequence[tuple[Record, Mapping[str, Any]]], usable: int | None
                      ) -> Plot:
    """The overview of P per check (the first :data:`MAX_P_ROWS`)."""
    caption = (
        "P is the process CPU time divided by wall time while the workers ran: "
        "≈ 1 when one thread runs at a time, up to the usable CPUs when they run in "
        "parallel, ≈ 0 for sleeping work."
    )
    if len(pc) > MAX_P_ROWS:
        caption += f" First {MAX_P_ROWS} of {len(pc)} checks."

    def draw(fig: Any) -> str:
        _draw_parallelism(fig, pc[:MAX_P_ROWS], usable)
        return caption

    size = (7.5, 1.4 + 0.32 * min(len(pc), MAX_P_ROWS))
    return _plot("P (CPU time / wall time) per check", draw, size, wide=True)


def _draw_scaling_plot(rec: Record, checks: Sequence[Mapping[str, Any]], usable: int | None,
                       fig: Any) -> str:
    _draw_scaling(fig, record_title(rec), checks, usable)
    return _scaling_caption(rec, usable)


def _draw_series_plot(rec: Record, checks: Sequence[Mapping[str, Any]], fig: Any) -> str:
    return f"{_draw_series(fig, record_title(rec), checks)} {_verdict_sentence(rec)}"


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


def _error_bars(fig: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """``(value, below, above, top)`` of a figure: the distances to its bounds (0 for a
    missing bound) and the highest point it reaches."""
    y = float(fig["value"])
    low, high = num_or_none(fig.get("low")), num_or_none(fig.get("high"))
    below = max(0.0, y - low) if low is not None else 0.0
    above = max(0.0, high - y) if high is not None else 0.0
    return y, below, above, high if high is not None else y


class _ScalingExtent:
    """What the scaling axes must show: the most workers, the highest speedup, and the
    checks' own ideals where they differ from ``min(workers, usable CPUs)``."""

    def __init__(self, usable: int | None) -> None:
        self.usable = usable
        self.max_w = 1.0
        self.max_y = 1.0
        self.ideals: list[tuple[float, float]] = []

    def add(self, check: Mapping[str, Any], top: float) -> None:
        w = float(check["workers"])
        self.max_w = max(self.max_w, w)
        self.max_y = max(self.max_y, top)
        ideal = num_or_none(check.get("ideal"))
        if ideal is not None and (self.usable is None or abs(ideal - min(w, self.usable)) > 1e-9):
            self.ideals.append((w, ideal))
            self.max_y = max(self.max_y, ideal)


def _draw_scaling(
    fig: Any, title: str, checks: Sequence[Mapping[str, Any]], usable: int | None
) -> None:
    """Speedup vs workers: one line per executor and function (else label: a check's label
    names its number of workers), with the ideal lines."""
    ax = fig.add_subplot()
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for c in checks:
        what = str(c.get("fn") or c.get("label") or "")
        groups.setdefault((str(c.get("executor") or "?"), what), []).append(c)
    extent = _ScalingExtent(usable)
    per_exec: dict[str, int] = {}
    for gi, ((executor, label), cs) in enumerate(sorted(groups.items())):
        k = per_exec.get(executor, 0)
        per_exec[executor] = k + 1
        jitter = (gi - (len(groups) - 1) / 2) * 0.04 if len(groups) > 1 else 0.0
        _draw_scaling_group(ax, executor, label, cs, k, jitter, extent)
    _draw_scaling_guides(ax, extent)
    ax.set_xlim(0.5, extent.max_w + 0.5)
    ax.set_ylim(0, extent.max_y * 1.15 + 0.1)
    ax.set_xticks(list(range(1, int(extent.max_w) + 1)))
    ax.set_xlabel("workers")
    ax.set_ylabel("speedup over serial (×)")
    ax.set_title(_mpl_text(title), fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")


def _draw_scaling_group(ax: Any, executor: str, label: str, checks: Sequence[Mapping[str, Any]],
                        k: int, jitter: float, extent: _ScalingExtent) -> None:
    """One executor's (and function's) speedups with their intervals, the ``k``-th marker."""
    markers = "osD^v<>"
    cs = sorted(checks, key=lambda c: float(c["workers"]))
    ys, lo, hi = [], [], []
    for c in cs:
        speedup = check_figure(c, "speedup")
        assert speedup is not None  # _scaling_checks keeps only these
        y, below, above, top = _error_bars(speedup)
        ys.append(y)
        lo.append(below)
        hi.append(above)
        extent.add(c, top)
    name = executor if not label else f"{executor}: {label}"
    ax.errorbar([float(c["workers"]) + jitter for c in cs], ys, yerr=[lo, hi],
                fmt=markers[k % len(markers)] + "-", color=_executor_color(executor),
                capsize=4, label=_mpl_text(name, 40))


def _draw_scaling_guides(ax: Any, extent: _ScalingExtent) -> None:
    """The ideal ``min(workers, usable CPUs)``, the checks' own ideals, and no speedup."""
    usable, max_w = extent.usable, extent.max_w
    if usable:
        xi = list(range(1, int(max_w) + 1)) if max_w >= 2 else [1.0, max(max_w, 2.0)]
        ax.plot(xi, [min(x, usable) for x in xi], "k--", lw=1,
                label=f"ideal min(workers, {usable})")
        extent.max_y = max(extent.max_y, min(max_w, usable))
    if extent.ideals:
        ax.plot([w for w, _ in extent.ideals], [i for _, i in extent.ideals], linestyle="none",
                marker="_", markersize=18, color="black", label="ideal of the check")
    ax.axhline(1.0, color="#999", ls=":", lw=1, label="no speedup")


def _draw_parallelism(
    fig: Any, pcs: Sequence[tuple[Record, Mapping[str, Any]]], usable: int | None
) -> None:
    """P per check, one row each, coloured by executor, against one CPU and the usable CPUs."""
    ax = fig.add_subplot()
    labels = []
    seen: set[str] = set()
    max_x = 1.0
    for i, (rec, c) in enumerate(pcs):
        p = check_figure(c, "parallelism")
        assert p is not None  # _p_checks keeps only these
        x, below, above, top = _error_bars(p)
        executor = str(c.get("executor") or "?")
        ax.errorbar([x], [i], xerr=[[below], [above]], fmt="o", color=_executor_color(executor),
                    capsize=3, label=executor if executor not in seen else None)
        seen.add(executor)
        max_x = max(max_x, top)
        workers = c.get("workers")
        wtxt = f", {workers} workers" if workers is not None else ""
        what = c.get("label") or c.get("kind")
        row = f"{record_title(rec)}: {what}" if rec.get("claim") else str(what)
        labels.append(_mpl_text(f"{row}{wtxt}", 60))
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


def _scaled_name(name: str, values: Sequence[float]) -> tuple[float, str]:
    """Seconds below one shown in milliseconds: ``(factor, name)`` for an axis named ``name``
    (``"… (s)"``) over ``values``."""
    if name.endswith("(s)") and values and max(abs(v) for v in values) < 1:
        return 1e3, name[:-3] + "(ms)"
    return 1.0, name


def _draw_series(fig: Any, title: str, checks: Sequence[Mapping[str, Any]]) -> str:
    """Each check's series (a value with its band per x); returns the caption."""
    ax = fig.add_subplot()
    first = checks[0]
    points = [_series_points(c) for c in checks]
    y_default = "latency (s)" if first.get("kind") == "latency" else "value"
    yf, y_name = _scaled_name(str(first.get("y_name") or y_default),
                              [float(p["value"]) for pts in points for p in pts])
    xf, x_name = _scaled_name(str(first.get("x_name") or "x"),
                              [float(p["x"]) for pts in points for p in pts])
    all_x: list[float] = []
    for c, pts in zip(checks, points, strict=True):
        all_x.extend(_draw_one_series(ax, c, pts, xf, yf))
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


def _draw_one_series(ax: Any, check: Mapping[str, Any], pts: Sequence[Mapping[str, Any]],
                     xf: float, yf: float) -> list[float]:
    """One check's line and interval band, scaled by ``xf``/``yf``; returns its x values."""
    xs = [float(p["x"]) * xf for p in pts]
    ys = [float(p["value"]) * yf for p in pts]
    color = _executor_color(check.get("executor"))
    name = str(check.get("label") or check.get("executor") or check.get("kind") or "series")
    ax.plot(xs, ys, "o-", color=color, label=_mpl_text(name, 40))
    band = [
        (x, float(p["low"]) * yf, float(p["high"]) * yf)
        for x, p in zip(xs, pts, strict=True)
        if num_or_none(p.get("low")) is not None and num_or_none(p.get("high")) is not None
    ]
    if band:
        ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                        color=color, alpha=0.2)
    return xs
