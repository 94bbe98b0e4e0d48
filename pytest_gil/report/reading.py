"""Reading a CHECK record (``docs/REPORT_SCHEMA.md``) for the views: the signal of its
headline figure, the zones its bounds draw, its rounds and its looks.

Pure functions over plain JSON data; every view that explains a verdict reads a check through
them, so the chart, the sentence and the table agree on what was measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .format import Record, check_figure, key_figure, num_or_none, record_checks, record_title

__all__ = [
    "CONFIRM_ABOVE",
    "CONFIRM_BELOW",
    "LookStep",
    "RoundPoint",
    "Row",
    "Tally",
    "Zones",
    "as_tested",
    "check_rows",
    "key_signal",
    "look_steps",
    "on_ratio_axis",
    "round_points",
    "round_tally",
    "tested_checks",
    "zones",
]

CONFIRM_BELOW = frozenset({"serialized"})
"""Hypotheses confirmed by a figure *below* their confirm bound (no speedup)."""

CONFIRM_ABOVE = frozenset({"parallel", "overlaps", "releases"})
"""Hypotheses confirmed by a figure *above* their confirm bound.  Any other hypothesis (a
design's own word) is read from its bounds: the refute bound lies beyond the confirm bound on
the side that contradicts it."""

NOT_RATIO_UNITS = frozenset({"s"})
"""Units whose figures are not ratios around 1 and stay off a shared ratio axis (seconds)."""


@dataclass(frozen=True)
class Zones:
    """Where a figure confirms, leaves undecided, or refutes the hypothesis tested."""

    confirm: float
    refute: float
    confirm_below: bool

    @property
    def names(self) -> tuple[str, str, str]:
        """The zones from low to high values."""
        return (("confirm", "undecided", "refute") if self.confirm_below
                else ("refute", "undecided", "confirm"))

    def segments(self, lo: float, hi: float) -> list[tuple[float, float, str]]:
        """``(start, end, zone)`` over ``[lo, hi]`` in increasing order; zone is
        ``confirm``, ``undecided`` or ``refute``."""
        first, second = sorted((self.confirm, self.refute))
        cuts = [lo, min(max(first, lo), hi), min(max(second, lo), hi), hi]
        return [(cuts[i], cuts[i + 1], self.names[i]) for i in range(3)
                if cuts[i + 1] > cuts[i]]

    def zone_of(self, value: float) -> str:
        """The zone ``value`` lies in (a value on a bound is undecided)."""
        first, second = sorted((self.confirm, self.refute))
        return self.names[0 if value < first else 1 if value <= second else 2]


def zones(check: Mapping[str, Any]) -> Zones | None:
    """The zones of the hypothesis the check tested (its ``bounds``, else its entry of
    ``all_bounds``); ``None`` without two positive bounds (not testable, functional)."""
    hyp = str(check.get("claim_tested") or "")
    bounds = check.get("bounds")
    if not isinstance(bounds, Mapping) or not bounds:
        every = check.get("all_bounds")
        bounds = every.get(hyp) if isinstance(every, Mapping) else None
    if not isinstance(bounds, Mapping):
        return None
    c, r = num_or_none(bounds.get("confirm")), num_or_none(bounds.get("refute"))
    if c is None or r is None or c <= 0 or r <= 0:
        return None
    if hyp in CONFIRM_BELOW:
        below = True
    elif hyp in CONFIRM_ABOVE:
        below = False
    else:
        below = c < r
    return Zones(c, r, below)


def key_signal(check: Mapping[str, Any]) -> str | None:
    """The signal (key of ``figures``) of the check's headline ``figure``; else its first
    signal with a figure; ``None`` when it has none."""
    figures = check.get("figures")
    figures = figures if isinstance(figures, Mapping) else {}
    head = check.get("figure")
    if isinstance(head, Mapping):
        for name, fig in figures.items():
            if isinstance(fig, Mapping) and fig.get("name") == head.get("name") and (
                    fig.get("value") == head.get("value")):
                return str(name)
    signals = check.get("signals")
    for name in (signals if isinstance(signals, list) else []):
        if check_figure(check, str(name)) is not None:
            return str(name)
    return next((str(n) for n in figures if check_figure(check, str(n)) is not None), None)


def on_ratio_axis(figure: Mapping[str, Any] | None) -> bool:
    """Whether a figure belongs on a log ratio axis: a positive value, not in seconds."""
    if not isinstance(figure, Mapping):
        return False
    value = num_or_none(figure.get("value"))
    return value is not None and value > 0 and str(figure.get("unit") or "") not in (
        NOT_RATIO_UNITS)


@dataclass(frozen=True)
class RoundPoint:
    """One round of a check for the strip plot: its position in ``raw`` (1-based), the value
    of the signal, and whether it was used (``used``, ``warm-up``, ``excluded``) and why not."""

    index: int
    value: float | None
    status: str
    reason: str = ""


def _round_reason(row: Mapping[str, Any]) -> str:
    excluded = str(row.get("excluded") or "")
    if excluded:
        return excluded
    noise = row.get("noise")
    reasons = noise.get("reasons") if isinstance(noise, Mapping) else None
    return "; ".join(map(str, reasons)) if isinstance(reasons, list) else ""


def round_points(check: Mapping[str, Any], signal: str) -> list[RoundPoint]:
    """Every round of ``raw`` with its ``values[signal]`` (``None`` when it has none)."""
    raw = check.get("raw")
    points = []
    for i, row in enumerate(raw if isinstance(raw, list) else [], 1):
        if not isinstance(row, Mapping):
            continue
        values = row.get("values")
        value = num_or_none(values.get(signal)) if isinstance(values, Mapping) else None
        if row.get("warmup"):
            status = "warm-up"
        elif row.get("excluded") or row.get("suspect"):
            status = "excluded"
        else:
            status = "used"
        reason = "" if status == "used" else _round_reason(row)
        points.append(RoundPoint(i, value, status, reason))
    return points


@dataclass(frozen=True)
class Tally:
    """Rounds of a check after the warm-up: ``clean`` ones the test used, ``disturbed`` ones
    left out, and the causes of those (noise flag, ``nothing-measured`` or ``other`` → count)."""

    clean: int
    disturbed: int
    causes: Mapping[str, int]

    @property
    def total(self) -> int:
        return self.clean + self.disturbed


def round_tally(check: Mapping[str, Any]) -> Tally:
    """Count the rounds of ``raw`` (else trust ``rounds`` and ``suspect_rounds``)."""
    raw = [r for r in check.get("raw") or [] if isinstance(r, Mapping)]
    if not raw:
        clean = check.get("rounds")
        bad = check.get("suspect_rounds")
        return Tally(clean if isinstance(clean, int) else 0, bad if isinstance(bad, int) else 0,
                     {})
    clean = disturbed = 0
    causes: dict[str, int] = {}
    for row in raw:
        if row.get("warmup"):
            continue
        if not (row.get("excluded") or row.get("suspect")):
            clean += 1
            continue
        disturbed += 1
        noise = row.get("noise")
        flags = noise.get("flags") if isinstance(noise, Mapping) else None
        if not (isinstance(flags, list) and flags):
            nothing = str(row.get("excluded") or "").startswith("nothing measured")
            flags = ["nothing-measured" if nothing else "other"]
        for flag in flags:
            causes[str(flag)] = causes.get(str(flag), 0) + 1
    return Tally(clean, disturbed, causes)


@dataclass(frozen=True)
class LookStep:
    """One look of the sequential test: rounds so far, the signal's interval, and the verdict
    of the hypothesis tested at that look."""

    n: int
    value: float | None
    low: float | None
    high: float | None
    verdict: str


def _look_hypothesis(check: Mapping[str, Any]) -> str:
    """The name the looks give the hypothesis tested: a check may rename one of its test's
    hypotheses (``parallel`` → ``overlaps``), with the same bounds; the looks keep the test's
    name."""
    hyp = str(check.get("claim_tested") or "")
    looks = [lk for lk in check.get("looks") or [] if isinstance(lk, Mapping)]
    named = {str(h) for lk in looks if isinstance(lk.get("verdicts"), Mapping)
             for h in lk["verdicts"]}
    every = check.get("all_bounds")
    if hyp in named or not isinstance(every, Mapping):
        return hyp
    same = [h for h in named if every.get(h) == every.get(hyp) and every.get(hyp) is not None]
    return same[0] if len(same) == 1 else hyp


def look_steps(check: Mapping[str, Any], signal: str) -> list[LookStep]:
    """The looks of ``check`` that saw an interval of ``signal``, in order."""
    hyp = _look_hypothesis(check)
    steps: list[LookStep] = []
    for look in check.get("looks") or []:
        if not isinstance(look, Mapping):
            continue
        intervals = look.get("intervals")
        iv = intervals.get(signal) if isinstance(intervals, Mapping) else None
        if not isinstance(iv, Mapping):
            continue
        n = look.get("n")
        verdicts = look.get("verdicts")
        verdict = verdicts.get(hyp) if isinstance(verdicts, Mapping) else None
        steps.append(LookStep(n if isinstance(n, int) else len(steps) + 1,
                              num_or_none(iv.get("value")), num_or_none(iv.get("low")),
                              num_or_none(iv.get("high")), str(verdict or "inconclusive")))
    return steps


@dataclass(frozen=True)
class Row:
    """One check of the run, with the record it belongs to (1-based positions)."""

    record_index: int
    check_index: int
    record: Record
    check: Mapping[str, Any]
    label: str

    @property
    def anchor(self) -> str:
        """The id of its evidence panel."""
        return f"e{self.record_index}-{self.check_index}"

    @property
    def figure(self) -> dict[str, Any] | None:
        return check_figure(self.check) if self.check else key_figure(self.record)

    @property
    def verdict(self) -> str:
        return str((self.check or self.record).get("verdict") or "")


def as_tested(check: Mapping[str, Any], hypothesis: str) -> Mapping[str, Any]:
    """``check`` read for another hypothesis it decided: its ``claim_tested``, ``verdict`` and
    ``bounds`` those of ``hypothesis`` (a claim may be decided on a hypothesis other than the
    one its check was measured for: ``decide(check, hypothesis="serialized")``)."""
    verdicts = check.get("verdicts")
    if (hypothesis == check.get("claim_tested") or not isinstance(verdicts, Mapping)
            or hypothesis not in verdicts):
        return check
    every = check.get("all_bounds")
    bounds = every.get(hypothesis) if isinstance(every, Mapping) else None
    return {**check, "claim_tested": hypothesis, "verdict": verdicts[hypothesis],
            "bounds": dict(bounds) if isinstance(bounds, Mapping) else {}}


def _hypothesis_for(check: Mapping[str, Any], verdict: Any, asked: Any) -> str | None:
    """The hypothesis of ``check`` whose verdict is the record's ``verdict`` (the record's own
    ``asked`` hypothesis first, then the check's), ``None`` when none has it."""
    verdicts = check.get("verdicts")
    tested = str(check.get("claim_tested") or "")
    if not isinstance(verdicts, Mapping):
        return tested if check.get("verdict") == verdict else None
    for hyp in (asked, tested):
        if hyp and verdicts.get(hyp) == verdict:
            return str(hyp)
    return next((str(h) for h, v in verdicts.items() if v == verdict), None)


def tested_checks(record: Record) -> list[Mapping[str, Any]]:
    """The record's checks, the first one that reached the record's verdict read for the
    hypothesis that verdict is about (:func:`as_tested`)."""
    verdict, asked = record.get("verdict"), record.get("check")
    out: list[Mapping[str, Any]] = []
    found = False
    for check in record_checks(record):
        hyp = None if found else _hypothesis_for(check, verdict, asked)
        if hyp is not None:
            check, found = as_tested(check, hyp), True
        out.append(check)
    return out


def check_rows(results: Sequence[Record]) -> list[Row]:
    """Every check of every record (a record without checks is one row of its own), each read
    for the hypothesis its record is about (:func:`tested_checks`)."""
    rows = []
    for i, rec in enumerate(results, 1):
        checks = tested_checks(rec)
        title = record_title(rec)
        if not checks:
            rows.append(Row(i, 1, rec, {}, title))
        for j, check in enumerate(checks, 1):
            label = title if len(checks) == 1 else f"{title} · {check.get('label') or j}"
            rows.append(Row(i, j, rec, check, label))
    return rows
