"""The terminal summary of a run: one row per claim or check, at most the terminal's width,
ASCII only; an undecided row is followed by why it stayed undecided (:func:`.why.why`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .context import capacities, capacity_text
from .format import (
    counts_text,
    format_figure,
    key_figure,
    mismatch,
    record_rounds,
    record_title,
    runtime_facts,
)
from .why import record_why

__all__ = ["format_summary"]


def _truncate(text: str, width: int) -> str:
    indent = text[: len(text) - len(text.lstrip())]
    text = indent + " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


ASCII_SPELLINGS = {"×": "x", "≤": "<=", "≥": ">=", "µ": "u", "—": "-", "–": "-", "→": "->",
                   "α": "alpha", "σ": "sigma", "κ": "kappa"}
"""How the terminal spells the signs a reason may contain; anything else becomes ``?``."""


def _ascii(text: str) -> str:
    """``text`` in ASCII: a reason's own words may carry signs (``ideal 1 ≤ 1``)."""
    for sign, spelling in ASCII_SPELLINGS.items():
        text = text.replace(sign, spelling)
    return text.encode("ascii", "replace").decode("ascii")


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


Line = tuple[str, dict[str, bool]]

GAP = 2
HEADS = ("claim or check", "verdict", "key figure", "rounds")
WHY_PREFIX = "    why: "
UNDECIDED = ("inconclusive", "not-testable")


def format_summary(doc: Mapping[str, Any], width: int = 80) -> list[Line]:
    """The terminal summary as (line, markup) pairs, each line at most ``width`` columns.

    A header with the runtime and the capacity the machine delivered, one row per claim or
    check (id, verdict, key figure with its interval, rounds) — an inconclusive or not-testable
    one followed by a line saying why —, the verdicts that differ from the expected ones, and
    the counts.  ASCII only, so it reads the same on any terminal.
    """
    width = max(int(width), 60)
    profile = _mapping(doc.get("runtime"))
    results = [r for r in doc.get("results") or [] if isinstance(r, Mapping)]
    facts = [f.replace("µ", "u") for f in runtime_facts(profile)]
    facts += [capacity_text(c, ascii_only=True) for c in capacities(doc)]
    out: list[Line] = [(line, {"bold": True}) for line in _wrap_parts(facts, width)]
    out.extend(_table(results, width))
    out.extend(_differing(results, width))
    out.extend(_tail(results, _mapping(doc.get("session")), width))
    return out


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass
class _Columns:
    """The widths of the table's columns (title, verdict, key figure, rounds)."""

    title: int
    verdict: int
    figure: int
    rounds: int = len("rounds")

    def row(self, title: str, verdict: str, figure: str, rounds: str) -> str:
        sp = " " * GAP
        return (
            f"{_truncate(title, self.title):<{self.title}}{sp}{verdict:<{self.verdict}}{sp}"
            f"{_truncate(figure, self.figure):<{self.figure}}{sp}{rounds:>{self.rounds}}"
        ).rstrip()


def _fit(titles: Sequence[str], figs: Sequence[Mapping[str, Any] | None],
         figures: list[str], verdicts: Sequence[str], width: int) -> _Columns:
    """Column widths within ``width``: first the figures lose their names, then long titles
    their ends (the numbers matter more).  ``figures`` is shortened in place."""
    v_w = max([len(HEADS[1]), *map(len, verdicts)])
    rest = width - v_w - len(HEADS[3]) - 3 * GAP
    max_t = max([len(HEADS[0]), *map(len, titles)])
    max_f = max([len(HEADS[2]), *map(len, figures)])
    if max_t + max_f > rest:
        f_w = max(rest - max_t, len(HEADS[2]))
        for i, fig in enumerate(figs):
            if len(figures[i]) > f_w and fig:
                figures[i] = format_figure({**fig, "name": ""}, ascii_only=True)
        max_f = max([len(HEADS[2]), *map(len, figures)])
    if max_t + max_f <= rest:
        return _Columns(max_t, v_w, max_f)
    f_w = min(max_f, rest - min(max_t, 16))
    return _Columns(rest - f_w, v_w, f_w)


def _table(results: Sequence[Mapping[str, Any]], width: int) -> list[Line]:
    """The table: a heading, then one row per record."""
    titles = [" ".join(record_title(r).split()) for r in results]
    figs = [key_figure(r) for r in results]
    figures = [format_figure(f, ascii_only=True) for f in figs]
    verdicts = [str(r.get("verdict")) + ("!" if mismatch(r) else "") for r in results]
    cols = _fit(titles, figs, figures, verdicts, width)
    out: list[Line] = [(cols.row(*HEADS), {"bold": True}), ("-" * width, {})]
    for rec, t, v, f in zip(results, titles, verdicts, figures, strict=True):
        rounds = record_rounds(rec)
        out.append((cols.row(t, v, f, "-" if rounds is None else str(rounds)), _markup(rec)))
        reason = record_why(rec, ascii_only=True) if rec.get("verdict") in UNDECIDED else ""
        if reason:
            out.append((_truncate(WHY_PREFIX + _ascii(reason), width), _markup(rec)))
    out.append(("-" * width, {}))
    return out


def _differing(results: Sequence[Mapping[str, Any]], width: int) -> list[Line]:
    """The records whose verdict contradicts the expected one, one line each."""
    differing = [r for r in results if mismatch(r)]
    if not differing:
        return []
    out: list[Line] = [("! differs from the verdict expected on this runtime:", {"red": True})]
    for rec in differing:
        failed = f" (test {rec.get('outcome')})" if rec.get("outcome") else ""
        text = (f"  {record_title(rec)}: measured {rec.get('verdict')}, expected "
                f"{rec.get('expected')}{failed}")
        out.append((_truncate(text, width), {"red": True}))
    return out


def _tail(results: Sequence[Mapping[str, Any]], session: Mapping[str, Any],
          width: int) -> list[Line]:
    """The counts per verdict, and what the session lost (interrupted, xdist records)."""
    tail = f"{counts_text(results)} in {len({r.get('nodeid') for r in results})} tests"
    if session.get("interrupted"):
        tail += " (interrupted: partial results)"
    out: list[Line] = [(line, {"bold": True}) for line in _wrap_parts([tail], width)]
    lost = session.get("records_lost")
    if lost:
        out.append((_truncate(f"records lost from xdist workers: {lost}", width), {"red": True}))
    return out
