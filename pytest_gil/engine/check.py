"""The one shape of a measured result: :class:`Check`, with :class:`Figure` for its numbers.

Every measuring function returns a :class:`Check` (or a subclass adding convenience
properties: :class:`~pytest_gil.ScalingResult`, :class:`~pytest_gil.GilReleaseResult`), built
from the loop's :class:`~pytest_gil.engine.rounds.RoundsRun` by :func:`from_run`.  Its
``to_dict()`` is the CHECK record of ``docs/REPORT_SCHEMA.md`` that the reports read.

A check is not a boolean: ``bool(check)`` raises ``TypeError`` naming the ``assert_*``
function that states what the test means (``assert measure_scaling(...)`` would pass on any
verdict).
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..vocabulary import Verdict

if TYPE_CHECKING:
    from ..stats import Interval
    from .rounds import RoundsRun

__all__ = ["Check", "Figure", "from_run", "not_testable", "record_check"]

WIDE_INTERVAL = 1e3
"""An interval whose high/low ratio exceeds this (a factor of a thousand) carries no
information: it comes from 2–3 rounds, where the t quantile at the per-look α is in the
hundreds.  It is printed as "too few rounds" instead of absurd bounds."""


@dataclasses.dataclass(frozen=True)
class Figure:
    """A measured ratio: ``value`` (geometric mean of the rounds) with one-sided confidence
    bounds ``low``/``high`` (NaN when fewer than 2 rounds), over ``n`` rounds."""

    name: str
    value: float
    low: float = math.nan
    high: float = math.nan
    unit: str = ""
    n: int = 0

    @classmethod
    def from_interval(cls, name: str, iv: Interval, unit: str = "", scale: float = 1.0
                      ) -> Figure:
        return cls(name, iv.value * scale, iv.low * scale, iv.high * scale, unit, iv.n)

    @property
    def has_interval(self) -> bool:
        """False for 0–1 rounds, or an interval too wide to mean anything
        (:data:`WIDE_INTERVAL`)."""
        lo, hi = self.low, self.high
        return (math.isfinite(lo) and math.isfinite(hi) and lo > 0
                and hi / lo <= WIDE_INTERVAL) or (lo == hi and math.isfinite(lo))

    def format(self, digits: int = 2) -> str:
        """``1.03× [0.81, 1.30]``; ``1.03× (too few rounds for an interval)``."""
        if not math.isfinite(self.value):
            return "n/a"
        unit = {"x": "×"}.get(self.unit, self.unit)
        sep = "" if unit in ("", "×") else " "
        text = f"{self.value:.{digits}f}{sep}{unit}"
        if self.has_interval:
            return f"{text} [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        if self.n >= 1:
            return f"{text} (too few rounds for an interval)"
        return text

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict[str, Any]:
        def r(x: float) -> float | None:
            return round(x, 6) if math.isfinite(x) else None

        return {"name": self.name, "value": r(self.value), "low": r(self.low),
                "high": r(self.high), "unit": self.unit, "n": self.n}


_ASSERTS = {
    "scaling": "assert_scales / assert_no_speedup / assert_speedup",
    "overlap": "assert_overlaps",
    "release": "assert_releases_gil / assert_holds_gil",
    "curve": "its .verdict, .points and .amdahl",
}


@dataclasses.dataclass(frozen=True)
class Check:
    """A decided (or undecided) measurement.

    * ``kind``: what was measured (:data:`~pytest_gil.vocabulary.CHECK_KINDS`);
    * ``hypothesis``: the statement asked about (``"serialized"``, ``"parallel"``,
      ``"overlaps"``, ``"releases"``, or a design's own word); ``verdicts`` holds the verdict
      of every hypothesis the check decided, ``verdict`` the one asked about;
    * ``figures``: each signal's ratio with its interval; ``key`` names the headline one;
    * ``setup``: what ran (executor, workers, tasks, function, …);
    * ``ideal``/``bounds``/``alpha``: what the verdicts were decided against;
    * ``rounds``/``suspect_rounds``/``elapsed``/``stop``/``reason``: how the loop went;
    * ``raw``/``looks``: every round and every look of the sequential test, for the report.
    """

    kind: str
    label: str
    hypothesis: str
    verdicts: Mapping[str, str]
    figures: Mapping[str, Figure] = dataclasses.field(default_factory=dict)
    key: str = ""
    setup: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    ideal: float | None = None
    bounds: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)
    alpha: Mapping[str, float] = dataclasses.field(default_factory=dict)
    rounds: int = 0
    suspect_rounds: int = 0
    elapsed: float = 0.0
    stop: str = ""
    reason: str = ""
    gil: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    raw: tuple[Mapping[str, Any], ...] = ()
    looks: tuple[Mapping[str, Any], ...] = ()
    runtime: str = ""
    what: str = ""
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    uid: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:16], compare=False)

    # -- the verdict -------------------------------------------------------------------------

    @property
    def verdict(self) -> Verdict:
        """The verdict of :attr:`hypothesis`."""
        return Verdict.parse(self.verdicts.get(self.hypothesis, "inconclusive"))

    def verdict_of(self, hypothesis: str) -> Verdict:
        """The verdict of another hypothesis this check decided (``KeyError`` if none)."""
        if hypothesis not in self.verdicts:
            raise KeyError(f"{self.label}: no verdict on {hypothesis!r}; this check decided "
                           f"{', '.join(self.verdicts) or 'nothing'}")
        return Verdict.parse(self.verdicts[hypothesis])

    def __bool__(self) -> bool:
        use = _ASSERTS.get(self.kind, "its .verdict")
        raise TypeError(
            f"a {type(self).__name__} is not a boolean: 'assert result' would pass on any "
            f"verdict. Use {use}, or compare result.verdict with pytest_gil.Verdict."
        )

    @property
    def figure(self) -> Figure | None:
        """The headline figure (``figures[key]``), or ``None`` when nothing was measured."""
        return self.figures.get(self.key) if self.key else None

    # -- text --------------------------------------------------------------------------------

    def detail(self, hypothesis: str | None = None) -> str:
        """One line: what ran, the figures, the bounds, the rounds and the verdict."""
        hyp = hypothesis or self.hypothesis
        figs = ", ".join(f"{_short(n)} {f}" for n, f in self.figures.items()) or (
            "nothing measured")
        b = self.bounds.get(hyp) or {}
        bounds = ""
        if b:
            bounds = (f" — ideal {self.ideal:g}, confirm bound {b['confirm']:.2f}, refute "
                      f"bound {b['refute']:.2f}")
        rounds = f", {self.rounds} rounds" if self.rounds or self.stop else ""
        if self.suspect_rounds:
            rounds += f" (+{self.suspect_rounds} disturbed)"
        verdict = self.verdicts.get(hyp, "?")
        text = f"{self.what or self.label}: {figs}{bounds}{rounds} → {hyp} {verdict}"
        if self.reason and verdict != "confirmed":
            text += f" ({self.reason})"
        return text

    def message(self, hypothesis: str | None = None) -> str:
        """:meth:`detail` plus the runtime: the line a failing or skipped test shows."""
        return f"{self.detail(hypothesis)} · {self.runtime or 'unknown runtime'}"

    def __str__(self) -> str:
        lines = [f"{self.label}: " + ", ".join(f"{h} {v}" for h, v in self.verdicts.items())]
        for name, fig in self.figures.items():
            lines.append(f"  {name}: {fig}")
        lines.append(f"  {self.rounds} rounds ({self.suspect_rounds} disturbed, excluded), "
                     f"{self.elapsed:.2f} s")
        for hyp, b in self.bounds.items():
            lines.append(f"  {hyp}: confirm bound {b['confirm']:.3g}, refute bound "
                         f"{b['refute']:.3g} (ideal {b.get('ideal', self.ideal)})")
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        if self.runtime:
            lines.append(f"  runtime: {self.runtime}")
        return "\n".join(lines)

    def fields(self) -> dict[str, Any]:
        """The fields, for building a subclass's instance from this one."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    # -- the record --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The CHECK record (``docs/REPORT_SCHEMA.md``), plain JSON types."""
        fig = self.figure
        d: dict[str, Any] = {
            "id": self.uid,
            "kind": self.kind,
            "label": self.label,
            **{k: v for k, v in self.setup.items()},
            "ideal": self.ideal,
            "claim_tested": self.hypothesis,
            "verdict": str(self.verdict),
            "verdicts": {k: str(v) for k, v in self.verdicts.items()},
            "figure": fig.to_dict() if fig is not None else None,
            "figures": {k: f.to_dict() for k, f in self.figures.items()},
            "rounds": self.rounds,
            "suspect_rounds": self.suspect_rounds,
            "elapsed": round(self.elapsed, 4),
            "stop": self.stop,
            "bounds": dict(self.bounds.get(self.hypothesis) or {}),
            "all_bounds": {k: dict(v) for k, v in self.bounds.items()},
            "alpha": dict(self.alpha),
            "gil": dict(self.gil),
            "reason": self.reason,
            "detail": self.detail(),
            "runtime": self.runtime or None,
            "raw": [dict(r) for r in self.raw],
            "looks": [dict(lk) for lk in self.looks],
        }
        d.update(self.extra)
        return d


def _short(name: str) -> str:
    return {"parallelism": "P"}.get(name, name)


def _runtime_label() -> str:
    from ..profile import runtime_profile

    try:
        return runtime_profile().label()
    except ValueError:  # a broken injected profile: the plugin reports it as a usage error
        return ""


def from_run(run: RoundsRun, *, kind: str, label: str, hypothesis: str,
             names: Mapping[str, tuple[str, str]] | None = None, key: str = "",
             setup: Mapping[str, Any] | None = None, what: str = "",
             verdict_names: Mapping[str, str] | None = None,
             extra: Mapping[str, Any] | None = None, runtime: str | None = None) -> Check:
    """Build a :class:`Check` from a loop's run.

    ``names`` maps a signal to its ``(figure name, unit)``; ``verdict_names`` renames the
    test's hypotheses for this check (``{"parallel": "overlaps"}``): the renamed one holds the
    same verdict, alongside the originals.
    """
    test = run.test
    names = dict(names or {})
    intervals = test.intervals() if test.n else {}
    figures = {s: Figure.from_interval(names.get(s, (s, ""))[0], iv, names.get(s, (s, ""))[1])
               for s, iv in intervals.items()}
    verdicts = run.verdicts()
    decided_by = (run.looks[-1].routes if run.looks else {}).get(hypothesis, "")
    if decided_by in figures and not key:
        key = decided_by  # the headline figure is the one that decided
    bounds: dict[str, dict[str, float]] = {str(c): b.to_dict() for c, b in test.bounds().items()}
    for old, new in (verdict_names or {}).items():
        verdicts[new] = verdicts[old]
        bounds[new] = bounds[old]
    return Check(
        kind=kind, label=label, hypothesis=hypothesis, verdicts=verdicts, figures=figures,
        key=key or (test.signals[0] if figures else ""), setup=dict(setup or {}),
        ideal=test.ideal, bounds=bounds,
        alpha={"confirm": test.alpha_confirm, "refute": test.alpha_refute},
        rounds=test.n, suspect_rounds=run.suspect, elapsed=run.elapsed, stop=str(run.stop),
        reason=run.reason, gil=dict(run.gil), raw=tuple(r.to_dict() for r in run.rounds),
        looks=tuple(lk.to_dict() for lk in run.looks),
        runtime=_runtime_label() if runtime is None else runtime, what=what,
        extra=dict(extra or {}),
    )


def not_testable(*, kind: str, label: str, hypothesis: str, reason: str,
                 hypotheses: Sequence[str] = ("serialized", "parallel"),
                 setup: Mapping[str, Any] | None = None, ideal: float | None = None,
                 what: str = "", runtime: str | None = None) -> Check:
    """A check that could not be measured here (nothing ran)."""
    from ..gilstate import gil_enabled

    names = dict.fromkeys((*hypotheses, hypothesis), "not-testable")
    return Check(kind=kind, label=label, hypothesis=hypothesis, verdicts=names,
                 setup=dict(setup or {}), ideal=ideal, stop="not-testable", reason=reason,
                 gil={"enabled": gil_enabled(), "changed": False}, what=what,
                 runtime=_runtime_label() if runtime is None else runtime)


def record_check(check: Check, hypothesis: str | None = None) -> None:
    """Attach ``check`` to the running test's report (nothing outside a test).  Recording the
    same check again (an assertion deciding it) replaces the earlier record: records are
    matched by the check's ``uid``."""
    from .. import records

    records.add(check_record(check, hypothesis))


def check_record(check: Check, hypothesis: str | None = None) -> dict[str, Any]:
    """The standalone check RECORD of ``check`` (``docs/REPORT_SCHEMA.md``): its verdict on
    ``hypothesis`` (default: its own), key figure, detail line and the CHECK itself."""
    hyp = hypothesis or check.hypothesis
    fig = check.figure
    return {"claim": None, "check": hyp, "verdict": str(check.verdicts.get(hyp, check.verdict)),
            "figure": fig.to_dict() if fig is not None else None,
            "detail": check.detail(hyp), "checks": [check.to_dict()], "check_id": check.uid}
