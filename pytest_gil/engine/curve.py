"""Scaling curves: the speedup at 1, 2, 4, 8 … workers, and the laws that summarise it.

:func:`measure_curve` measures one point per worker count with the machinery of
:func:`~pytest_gil.measure_scaling` (each point is a scaling check of its own, decided by the
same sequential test, but not recorded on its own), and fits two models to the points that
ran on at most the usable CPUs:

* **Amdahl's law** ``S(n) = 1 / (s + (1 − s)/n)``: the serial fraction ``s`` with a
  confidence interval (:func:`fit_amdahl`);
* **the Universal Scalability Law** ``S(n) = n / (1 + σ(n − 1) + κ n(n − 1))``: contention
  ``σ`` and coherency ``κ``, and the worker count where the speedup peaks,
  ``sqrt((1 − σ)/κ)`` when ``κ > 0`` (:func:`fit_usl`).

Points beyond the usable CPUs are measured (oversubscription is worth seeing) but left out of
the fits: there the speedup is capped by the machine, not by the code.

The fits and their derivations are in :mod:`pytest_gil.engine.fits`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import settings
from ..runtimes.faults import check_count
from ..vocabulary import EXECUTOR_KINDS, worker_noun
from .check import Check, Figure, not_testable, record_check
from .fits import (
    FIT_CONFIDENCE,
    MIN_LOG_SD,
    USL_MIN_POINTS,
    AmdahlFit,
    Sample,
    UslFit,
    fit_amdahl,
    fit_usl,
)
from .scaling import POOL_TASKS_PER_WORKER, ScalingResult, fn_name, scaling_check

if TYPE_CHECKING:
    from ..profile import RuntimeProfile

__all__ = [
    "FIT_CONFIDENCE",
    "MIN_LOG_SD",
    "USL_MIN_POINTS",
    "AmdahlFit",
    "CurvePoint",
    "CurveResult",
    "Sample",
    "UslFit",
    "fit_amdahl",
    "fit_usl",
    "measure_curve",
]

# --------------------------------------------------------------------------------------------
# points


@dataclasses.dataclass(frozen=True)
class CurvePoint:
    """One worker count of a curve: its scaling check, whether it ran on more workers than
    usable CPUs, and its speedup and efficiency (speedup / workers) with their intervals
    (``None`` when nothing was measured).  The one-worker point is the reference: speedup 1
    by definition, not measured."""

    workers: int
    check: Check | None
    beyond_cpus: bool

    @property
    def speedup(self) -> Figure | None:
        if self.check is None:
            return Figure("speedup", 1.0, 1.0, 1.0, "x", 0)
        return self.check.figures.get("speedup")

    @property
    def efficiency(self) -> Figure | None:
        s = self.speedup
        if s is None:
            return None
        n = self.workers
        return Figure("efficiency", s.value / n, s.low / n, s.high / n, "", s.n)

    @property
    def verdicts(self) -> Mapping[str, str]:
        return {} if self.check is None else self.check.verdicts

    @property
    def rounds(self) -> int:
        return 0 if self.check is None else self.check.rounds

    @property
    def stop(self) -> str:
        return "reference" if self.check is None else self.check.stop

    def log_speedups(self) -> list[float]:
        """The log-speedups of the rounds the point's test used."""
        if self.check is None:
            return []
        used = [r for r in self.check.raw if not r.get("warmup") and not r.get("excluded")]
        values = [(r.get("values") or {}).get("speedup") for r in used]
        return [math.log(v) for v in values if isinstance(v, (int, float)) and v > 0]

    def to_dict(self) -> dict[str, Any]:
        s, e = self.speedup, self.efficiency
        c = self.check
        return {"workers": self.workers, "speedup": None if s is None else s.to_dict(),
                "efficiency": None if e is None else e.to_dict(),
                "beyond_cpus": self.beyond_cpus, "rounds": self.rounds,
                "verdicts": {k: str(v) for k, v in self.verdicts.items()}, "stop": self.stop,
                "ideal": None if c is None else c.ideal,
                "reason": "one worker: the reference (speedup 1 by definition)" if c is None
                else c.reason,
                "elapsed": 0.0 if c is None else round(c.elapsed, 4),
                "check_id": None if c is None else c.uid}


def _fit_samples(points: Sequence[CurvePoint]) -> tuple[list[Sample], list[str]]:
    """The samples the fits may use, and why each other point with ``n > 1`` was left out."""
    samples, left_out = [], []
    for p in points:
        if p.workers == 1:
            continue
        if p.beyond_cpus:
            left_out.append(f"n = {p.workers}: beyond the usable CPUs")
            continue
        if p.stop in ("gil-changed", "not-testable"):
            left_out.append(f"n = {p.workers}: " + ("not testable" if p.stop == "not-testable"
                                                    else "the GIL state changed during it"))
            continue
        logs = p.log_speedups()
        if len(logs) < 2:
            left_out.append(f"n = {p.workers}: {len(logs)} clean round"
                            f"{'s' if len(logs) != 1 else ''} (no interval)")
            continue
        samples.append(Sample.from_log_speedups(p.workers, logs))
    return samples, left_out


def _capacity_note(points: Sequence[CurvePoint]) -> str:
    """What the machine's own shortfall accounts for: the serial fraction a speedup equal to
    the delivered capacity ``K`` of ``n`` workers would give, ``(n/K − 1)/(n − 1)``."""
    for p in sorted(points, key=lambda x: -x.workers):
        cap = (p.check.setup.get("capacity") if p.check is not None else None) or {}
        k, n = cap.get("value"), cap.get("workers")
        if isinstance(k, (int, float)) and isinstance(n, int) and n > 1 and k > 0:
            s_machine = max(0.0, (n / k - 1.0) / (n - 1.0))
            return (f"the machine delivers {k:.2f}× for {n} workers: a serial fraction of "
                    f"about {s_machine:.2f} is the machine's, not the code's")
    return ""


def _cell(fig: Figure | None) -> str:
    """A figure for the curve's table: with its interval, or saying it has none."""
    if fig is None or not math.isfinite(fig.value):
        return "n/a"
    if fig.has_interval:
        return fig.format()
    unit = "×" if fig.unit == "x" else ""
    return f"{fig.value:.2f}{unit} (no interval)"


# --------------------------------------------------------------------------------------------
# the result


@dataclasses.dataclass(frozen=True)
class CurveResult(Check):
    """What :func:`measure_curve` found (a :class:`Check` of kind ``"curve"``).

    The verdicts, figures, bounds, rounds and evidence are those of the *headline point*: the
    largest worker count within the usable CPUs (``setup["headline_workers"]``); ``elapsed``
    is the whole curve's.  ``points`` holds every worker count (:class:`CurvePoint`),
    ``amdahl`` and ``usl`` the fits (``None`` when not fitted: ``fit_notes`` says why).
    """

    points: tuple[CurvePoint, ...] = ()
    amdahl: AmdahlFit | None = None
    usl: UslFit | None = None
    usable_cpus: int = 0
    fit_notes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def point(self, workers: int) -> CurvePoint:
        """The point at ``workers`` (``KeyError`` if not measured)."""
        for p in self.points:
            if p.workers == workers:
                return p
        raise KeyError(f"no point at {workers} workers; measured: "
                       f"{', '.join(str(p.workers) for p in self.points)}")

    def detail(self, hypothesis: str | None = None) -> str:
        text = super().detail(hypothesis)
        if self.amdahl is not None:
            text += f"; Amdahl {self.amdahl.format()}"
        return text

    def table(self) -> list[str]:
        """The curve as text lines: one per point, then the fits."""
        lines = [f"  {'workers':>7}  {'speedup':<24} {'efficiency':<22} {'rounds':>6}  "
                 "verdicts"]
        for p in self.points:
            s, e = p.speedup, p.efficiency
            speedup = "1.00× (reference)" if p.check is None else _cell(s)
            efficiency = "1.00" if p.check is None else _cell(e)
            verdicts = ", ".join(f"{h} {v}" for h, v in p.verdicts.items()
                                 if h in ("serialized", "parallel")) or p.stop
            beyond = "  (beyond the usable CPUs)" if p.beyond_cpus else ""
            lines.append(f"  {p.workers:>7}  {speedup:<24} {efficiency:<22} {p.rounds:>6}  "
                         f"{verdicts}{beyond}")
        for name, fit in (("Amdahl", self.amdahl), ("USL", self.usl)):
            if fit is not None:
                lines.append(f"  {name}: {fit.format()}" + (f" — {fit.note}" if fit.note
                                                            else ""))
            else:
                lines.append(f"  {name}: not fitted — {self.fit_notes.get(name.lower(), '')}")
        return lines

    def __str__(self) -> str:
        return "\n".join([super().__str__(), *self.table()])

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(points=[p.to_dict() for p in self.points],
                 amdahl=None if self.amdahl is None else self.amdahl.to_dict(),
                 usl=None if self.usl is None else self.usl.to_dict(),
                 usable_cpus=self.usable_cpus, fit_notes=dict(self.fit_notes))
        return d


# --------------------------------------------------------------------------------------------
# measuring


def _worker_counts(workers: Sequence[int], executor: str) -> list[int]:
    if isinstance(workers, (str, bytes)) or not isinstance(workers, Sequence) or not workers:
        raise ValueError(f"workers must be a non-empty sequence of worker counts, got "
                         f"{workers!r}")
    counts = [check_count("workers", n, executor) for n in workers]
    if len(set(counts)) != len(counts):
        raise ValueError(f"workers must not repeat a count, got {list(workers)!r}")
    return sorted(counts)


def _fits(points: Sequence[CurvePoint], usable: int
          ) -> tuple[AmdahlFit | None, UslFit | None, dict[str, str]]:
    samples, left_out = _fit_samples(points)
    notes: dict[str, str] = {}
    why = "; ".join(left_out)
    amdahl = usl = None
    if samples:
        amdahl = fit_amdahl(samples)
        extra = "; ".join(x for x in (_capacity_note(points), why and f"left out: {why}",
                                      amdahl.note) if x)
        amdahl = dataclasses.replace(amdahl, note=extra)
    else:
        notes["amdahl"] = (f"no point with more than one worker within the {usable} usable "
                           f"CPU{'s' if usable != 1 else ''} has an interval"
                           + (f" ({why})" if why else ""))
    if len(samples) >= USL_MIN_POINTS:
        usl = fit_usl(samples)
        if why:
            usl = dataclasses.replace(usl, note="; ".join(x for x in (f"left out: {why}",
                                                                     usl.note) if x))
    else:
        notes["usl"] = (f"needs {USL_MIN_POINTS} points with more than one worker within the "
                        f"usable CPUs, each with an interval; {len(samples)} here"
                        + (f" ({why})" if why else ""))
    return amdahl, usl, notes


def measure_curve(
    fn: Callable[..., Any],
    /,
    *fn_args: Any,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    workers: Sequence[int] = (1, 2, 4, 8),
    executor: str = "thread",
    tasks_per_worker: int | None = None,
    cpu_bound: bool | None = None,
    label: str | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
) -> CurveResult:
    """Measure how the calls of ``fn`` scale over ``workers`` worker counts of ``executor``,
    and fit Amdahl's law and the Universal Scalability Law (module doc).

    * Each count ``n > 1`` is one scaling check, exactly as :func:`measure_scaling` makes
      it (``n × tasks_per_worker`` calls serially vs on ``n`` workers, paired rounds, the
      capacity the machine delivers as the ideal of work that computes), with ``budget``
      seconds (default ``--gil-budget``) each.  One worker is the reference (speedup 1).
    * ``tasks_per_worker`` defaults to 1 for threads and to 4 for process and sub-interpreter
      pools (:data:`~pytest_gil.engine.scaling.POOL_TASKS_PER_WORKER`); a process or
      sub-interpreter pool of ``n`` workers is made and shut down for each point.
    * Counts above the usable CPUs are measured, marked ``beyond_cpus`` and left out of the
      fits.  With one usable CPU they are measured against the ideal of ``n`` workers (they
      cannot reach it there), and the curve is not-testable.
    * The verdicts are those of the largest count within the usable CPUs; ``result.points``,
      ``result.amdahl`` and ``result.usl`` give the rest.  The curve is recorded once in the
      report (its points are not recorded separately).
    * Arguments as for :func:`measure_scaling`: positionally after ``fn``, or ``args=`` /
      ``kwargs=``.

    >>> from pytest_gil.workloads import calc
    >>> r = measure_curve(calc, 2_000_000, workers=(1, 2, 4))  # doctest: +SKIP
    >>> r.amdahl.serial_fraction  # doctest: +SKIP
    0.98
    """
    from ..profile import runtime_profile

    counts, per_worker = _validated(fn, fn_args, args, kwargs, workers, executor,
                                    tasks_per_worker, budget)
    prof = profile if profile is not None else runtime_profile()
    usable = prof.usable_cpus
    name = fn_name(fn)
    t0 = time.perf_counter()
    points = [_point(n, fn, fn_args, args, kwargs, executor, per_worker, cpu_bound, budget,
                     prof) for n in counts]
    amdahl, usl, fit_notes = _fits(points, usable)
    result = _result(points, amdahl, usl, fit_notes, prof, name=name, executor=executor,
                     per_worker=per_worker, label=label, elapsed=time.perf_counter() - t0)
    record_check(result)
    return result


def _validated(fn: Callable[..., Any], fn_args: Sequence[Any], args: Sequence[Any] | None,
               kwargs: Mapping[str, Any] | None, workers: Sequence[int], executor: str,
               tasks_per_worker: int | None, budget: float | None) -> tuple[list[int], int]:
    """The worker counts and tasks per worker, after every argument is checked — before
    anything is measured."""
    from ..runtimes.threads import task_calls

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    if executor not in EXECUTOR_KINDS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTOR_KINDS)}, got "
                         f"{executor!r}")
    counts = _worker_counts(workers, executor)
    per_worker = (settings.positive_int("tasks_per_worker", tasks_per_worker)
                  if tasks_per_worker is not None
                  else POOL_TASKS_PER_WORKER if executor != "thread" else 1)
    settings.resolve_budget(budget)
    task_calls(fn, fn_args, args, kwargs, None, per_worker)
    return list(counts), per_worker


def _point(n: int, fn: Callable[..., Any], fn_args: Sequence[Any],
           args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, executor: str,
           per_worker: int, cpu_bound: bool | None, budget: float | None,
           prof: RuntimeProfile) -> CurvePoint:
    """The point at ``n`` workers: one scaling check (not recorded on its own), or the
    reference at one worker."""
    check: ScalingResult | None = None
    if n > 1:
        check = scaling_check(
            fn, fn_args, args=args, kwargs=kwargs, workers=n, executor=executor,
            tasks=n * per_worker, label=f"{fn_name(fn)} in {worker_noun(executor, n)}",
            cpu_bound=cpu_bound, budget=budget, profile=prof,
            # one CPU: no default ideal exceeds 1, so measure against n workers' ideal
            ideal=float(n) if prof.usable_cpus == 1 else None, record=False)
    return CurvePoint(n, check, beyond_cpus=n > prof.usable_cpus)


def _result(points: Sequence[CurvePoint], amdahl: AmdahlFit | None, usl: UslFit | None,
            fit_notes: Mapping[str, str], prof: RuntimeProfile, *, name: str, executor: str,
            per_worker: int, label: str | None, elapsed: float) -> CurveResult:
    counts = [p.workers for p in points]
    usable = prof.usable_cpus
    within = [p for p in points if p.workers > 1 and not p.beyond_cpus]
    headline = within[-1] if within else None
    span = (worker_noun(executor, counts[0]) if len(counts) == 1
            else f"{counts[0]}–{worker_noun(executor, counts[-1])}")
    label = label or f"{name} in {span}"
    what = f"scaling curve of {name} on {', '.join(map(str, counts))} {executor} workers"
    setup: dict[str, Any] = {"executor": executor, "workers": counts,
                             "tasks_per_worker": per_worker, "fn": name,
                             "headline_workers": None if headline is None
                             else headline.workers}
    fields: dict[str, Any]
    if headline is None or headline.check is None:
        reason = ("one usable CPU: every point beyond one worker is beyond the CPUs, so none "
                  "can show a parallel speedup and nothing is fitted" if usable == 1
                  else f"no worker count above 1 within the {usable} usable CPUs "
                       f"(workers: {', '.join(map(str, counts))})")
        fields = not_testable(kind="curve", label=label, hypothesis="parallel", reason=reason,
                              setup=setup, what=what, runtime=prof.label()).fields()
    else:
        fields = headline.check.fields()
        fields.pop("uid")  # the curve is a check of its own
        fields.update(kind="curve", label=label, hypothesis="parallel", what=what,
                      setup={**fields["setup"], **setup})
    fields.update(elapsed=elapsed, points=tuple(points), amdahl=amdahl, usl=usl,
                  usable_cpus=usable, fit_notes=dict(fit_notes))
    return CurveResult(**fields)
