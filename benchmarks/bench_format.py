"""How the benchmarks write numbers for people: seconds, shares, p-values, spreads, loads."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["at_best_text", "load", "p_text", "pct", "secs", "spread_text"]


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def secs(x: object) -> str:
    """``1.23 s``, ``45.6 ms``, ``78 µs``; ``—`` for a missing value."""
    if not isinstance(x, (int, float)) or not _finite(x):
        return "—"
    if abs(x) >= 1:
        return f"{x:.2f} s"
    if abs(x) >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} µs"


def pct(x: object) -> str:
    """``12%``; ``—`` for a missing value."""
    return f"{100 * x:.0f}%" if isinstance(x, (int, float)) and _finite(x) else "—"


def p_text(p: object) -> str:
    """A p-value: ``3e-05``, ``< 1e-12``; ``—`` for a missing value."""
    if not isinstance(p, (int, float)) or not _finite(p):
        return "—"
    return "< 1e-12" if p < 1e-12 else f"{p:.1g}"


def _count(x: float) -> str:
    return f"{x:g}" if x == int(x) else f"{x:.1f}"


def _ratio(x: float) -> str:
    return f"{x:.2f}×"


def spread_text(s: object, unit: str = "s") -> str:
    """A :func:`bench_stats.spread` as ``median [min–max]``: ``0.62 s [0.41 s–1.30 s]`` for
    seconds (``unit="s"``), ``1.62× [1.41×–1.90×]`` for ratios (``unit="x"``), ``5 [3–8]``
    for counts (``unit=""``); ``—`` when missing."""
    if not isinstance(s, Mapping) or not _finite(s.get("median")):
        return "—"
    fmt = {"s": secs, "x": _ratio}.get(unit, _count)
    med, lo, hi = (float(s[k]) for k in ("median", "min", "max"))
    return fmt(med) if lo == hi else f"{fmt(med)} [{fmt(lo)}–{fmt(hi)}]"


def at_best_text(best: object) -> str:
    """A question's ``at_best`` summary (``bench_stats.summarise_reps``) as ``N [lo–hi]
    rounds ≈ T [lo–hi]`` (the variance known), then the same with the variance estimated in
    the check when recorded; ``—`` when not measured."""
    if not isinstance(best, Mapping) or not best.get("rounds"):
        return "—"
    text = _rounds_seconds(best["rounds"], best.get("seconds"))
    if best.get("rounds_t"):
        text += (f" with the variance known; "
                 f"{_rounds_seconds(best['rounds_t'], best.get('seconds_t'))} estimated")
    return text


def _rounds_seconds(rounds: object, seconds: object) -> str:
    return f"{spread_text(rounds, '')} rounds" + (f" ≈ {spread_text(seconds)}" if seconds else "")


def load(x: object) -> str:
    """A load average triple: ``0.52 / 0.61 / 0.70``."""
    if isinstance(x, Sequence) and not isinstance(x, str) and x:
        return " / ".join(f"{float(v):.2f}" for v in x[:3])
    return "—"
