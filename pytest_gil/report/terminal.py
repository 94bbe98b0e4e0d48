"""The terminal summary of a run: one row per claim or check, at most the terminal's width,
ASCII only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .format import (
    counts_text,
    format_figure,
    key_figure,
    mismatch,
    record_rounds,
    record_title,
    runtime_facts,
)

__all__ = ["format_summary"]


def _truncate(text: str, width: int) -> str:
    indent = text[: len(text) - len(text.lstrip())]
    text = indent + " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


def _wrap_parts(parts: Sequence[str], width: int, sep: str = ", ") -> list[str]:
    lines: list[str] = []
    line = ""
    for part in parts:
        candidate = f"{line}{sep}{part}" if line else part
        if len(candidate) > width and line:
            lines.append(line + sep.rstrip())
            line = part
        else:
            line = candidate
    if line:
        lines.append(line)
    return [_truncate(x, width) for x in lines]


def _markup(rec: Mapping[str, Any]) -> dict[str, bool]:
    verdict = rec.get("verdict")
    if mismatch(rec) or str(rec.get("outcome")) in ("failed", "error"):
        return {"red": True}
    if verdict == "inconclusive":
        return {"yellow": True}
    if verdict == "confirmed" or (rec.get("expected") and verdict == rec.get("expected")):
        return {"green": True}
    if verdict == "refuted":
        return {"red": True}
    return {}


def format_summary(doc: Mapping[str, Any], width: int = 80) -> list[tuple[str, dict[str, bool]]]:
    """The terminal summary as (line, markup) pairs, each line at most ``width`` columns.

    A header with the runtime, one row per claim or check (id, verdict, key figure with its
    interval, rounds), the verdicts that differ from the expected ones, and the counts.
    ASCII only, so it reads the same on any terminal.
    """
    width = max(int(width), 60)
    profile = doc.get("runtime") if isinstance(doc.get("runtime"), Mapping) else {}
    assert isinstance(profile, Mapping)
    results = [r for r in doc.get("results") or [] if isinstance(r, Mapping)]
    out: list[tuple[str, dict[str, bool]]] = []
    facts = [f.replace("µ", "u") for f in runtime_facts(profile)]
    for line in _wrap_parts(facts, width):
        out.append((line, {"bold": True}))

    titles = [" ".join(record_title(r).split()) for r in results]
    figs = [key_figure(r) for r in results]
    figures = [format_figure(f, ascii_only=True) for f in figs]
    verdicts = [str(r.get("verdict")) + ("!" if mismatch(r) else "") for r in results]
    v_w = max([len("verdict"), *map(len, verdicts)])
    r_w = len("rounds")
    gap = 2
    rest = width - v_w - r_w - 3 * gap
    max_t = max([len("claim or check"), *map(len, titles)])
    max_f = max([len("key figure"), *map(len, figures)])
    if max_t + max_f > rest:  # first drop the names of the figures that do not fit
        f_w = max(rest - max_t, len("key figure"))
        for i, fig in enumerate(figs):
            if len(figures[i]) > f_w and fig:
                figures[i] = format_figure({**fig, "name": ""}, ascii_only=True)
        max_f = max([len("key figure"), *map(len, figures)])
    if max_t + max_f <= rest:
        t_w, f_w = max_t, max_f
    else:  # then the end of long ids: the numbers matter more
        f_w = min(max_f, rest - min(max_t, 16))
        t_w = rest - f_w
    sp = " " * gap

    def row(t: str, v: str, f: str, r: str) -> str:
        return (
            f"{_truncate(t, t_w):<{t_w}}{sp}{v:<{v_w}}{sp}{_truncate(f, f_w):<{f_w}}{sp}{r:>{r_w}}"
        ).rstrip()

    out.append((row("claim or check", "verdict", "key figure", "rounds"), {"bold": True}))
    out.append(("-" * width, {}))
    for rec, t, v, f in zip(results, titles, verdicts, figures, strict=True):
        rounds = record_rounds(rec)
        out.append((row(t, v, f, "-" if rounds is None else str(rounds)), _markup(rec)))
    out.append(("-" * width, {}))
    differing = [r for r in results if mismatch(r)]
    if differing:
        out.append(("! differs from the verdict expected on this runtime:", {"red": True}))
        for rec in differing:
            failed = f" (test {rec.get('outcome')})" if rec.get("outcome") else ""
            out.append(
                (
                    _truncate(
                        f"  {record_title(rec)}: measured {rec.get('verdict')}, expected "
                        f"{rec.get('expected')}{failed}",
                        width,
                    ),
                    {"red": True},
                )
            )
    counts = counts_text(results)
    session = doc.get("session") if isinstance(doc.get("session"), Mapping) else {}
    assert isinstance(session, Mapping)
    tail = f"{counts} in {len({r.get('nodeid') for r in results})} tests"
    if session.get("interrupted"):
        tail += " (interrupted: partial results)"
    lost = session.get("records_lost")
    out.extend((line, {"bold": True}) for line in _wrap_parts([tail], width))
    if lost:
        out.append((_truncate(f"records lost from xdist workers: {lost}", width), {"red": True}))
    return out
