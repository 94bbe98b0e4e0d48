"""Charts of a run, drawn with matplotlib (the ``report`` extra) into base64 PNGs for the
self-contained HTML page.  matplotlib is imported only here, only while drawing, with the Agg
canvas and without touching the global backend."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .format import Record, num_or_none, record_checks, record_title

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
    out = []
    for c in record_checks(rec):
        sp = c.get("speedup")
        if (
            isinstance(sp, Mapping)
            and num_or_none(sp.get("value")) is not None
            and num_or_none(c.get("workers")) is not None
        ):
            out.append(c)
    return out


def _p_checks(results: Sequence[Record]) -> list[tuple[Record, Mapping[str, Any]]]:
    out = []
    for rec in results:
        for c in record_checks(rec):
            p = c.get("parallelism")
            if isinstance(p, Mapping) and num_or_none(p.get("value")) is not None:
                out.append((rec, c))
    return out


def _series_checks(rec: Record) -> list[Mapping[str, Any]]:
    return [
        c
        for c in record_checks(rec)
        if isinstance(c.get("series"), list)
        and any(isinstance(p, Mapping) and num_or_none(p.get("value")) is not None
                for p in c["series"])
    ]


def has_plot_data(results: Sequence[Record]) -> bool:
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
            low, high = num_or_none(sp.get("low")), num_or_none(sp.get("high"))
            ys.append(y)
            lo.append(max(0.0, y - low) if low is not None else 0.0)
            hi.append(max(0.0, high - y) if high is not None else 0.0)
            max_y = max(max_y, high if high is not None else y)
            max_w = max(max_w, float(c["workers"]))
            ideal = num_or_none(c.get("ideal"))
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
        low, high = num_or_none(p.get("low")), num_or_none(p.get("high"))
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
        if isinstance(p, Mapping) and num_or_none(p.get("value")) is not None
    ]
    yf = 1.0
    if y_name.endswith("(s)") and all_v and max(all_v) < 1:
        yf, y_name = 1e3, y_name[:-3] + "(ms)"
    xf = 1.0
    xs_all = [
        float(p["x"])
        for c in checks
        for p in c["series"]
        if isinstance(p, Mapping) and num_or_none(p.get("x")) is not None
    ]
    if x_name.endswith("(s)") and xs_all and max(abs(x) for x in xs_all) < 1:
        xf, x_name = 1e3, x_name[:-3] + "(ms)"
    for c in checks:
        pts = sorted(
            (
                p
                for p in c["series"]
                if isinstance(p, Mapping)
                and num_or_none(p.get("x")) is not None
                and num_or_none(p.get("value")) is not None
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
            if num_or_none(p.get("low")) is not None and num_or_none(p.get("high")) is not None
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
