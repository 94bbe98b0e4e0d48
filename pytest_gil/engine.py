"""The verdict engine and the public assertion API.

A concurrency claim is decided by measurement, never by one timing:

* :func:`measure_scaling` runs the same ``tasks`` copies of ``fn(*args, **kwargs)`` serially
  and on ``workers`` threads / processes / sub-interpreters, in paired rounds (order
  alternated ABBA to cancel drift, one warm-up round discarded), and decides "serialized"
  and "parallel" with the sequential tests of :mod:`pytest_gil.stats` on two signals, the
  speedup ``T_serial / T_parallel`` and the parallelism ``P = CPU / wall`` of the parallel
  phase.  It stops at the first decision; it is *inconclusive* at the last look, when the
  time budget runs out, or when more than half the rounds were disturbed by machine noise
  (:mod:`pytest_gil.noise`; disturbed rounds are excluded and counted).
* :func:`measure_overlap` does the same for sleeping/IO work (ideal = the number of tasks that
  can wait at once; speedup signal only): ``N`` tasks of duration ``t`` finish in ≈ ``t``.
* :func:`assert_no_speedup`, :func:`assert_scales`, :func:`assert_overlaps` pass on
  *confirmed*, fail with a one-line message on *refuted*, and apply the inconclusive policy
  (``--gil-inconclusive``: skip by default) otherwise.
* :func:`releases_gil` tells whether ``fn`` leaves the GIL free while it runs, from the rate of
  a probe thread running Python bytecode beside it.

Defaults (α's, time budget, inconclusive policy, start method) come from
:func:`pytest_gil.settings.current`, which the plugin fills from its options; outside pytest
the defaults of :mod:`pytest_gil.settings` apply.  Every measurement holds
:func:`pytest_gil.settings.exclusive` (the run's cross-worker lock under xdist), so two
measurements never run at once.

This module is light to import: numpy/scipy (:mod:`pytest_gil.stats`) are imported when a
measurement is decided.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

from . import noise, settings

if TYPE_CHECKING:
    import concurrent.futures as cf

    from .profile import RuntimeProfile
    from .runners import Timeline
    from .stats import Interval, Outcome, SequentialTest

__all__ = [
    "EXECUTORS",
    "GilReleaseResult",
    "ReleaseRound",
    "Round",
    "ScalingResult",
    "assert_no_speedup",
    "assert_overlaps",
    "assert_scales",
    "measure_overlap",
    "measure_scaling",
    "releases_gil",
]

EXECUTORS = ("thread", "process", "interpreter")
VERDICTS = ("confirmed", "refuted", "inconclusive", "not-testable")
ClaimName = Literal["serialized", "parallel"]

SUSPECT_MAX_FRACTION = 0.5
"""More than this share of suspect rounds ends a check as inconclusive: most of what we could
measure was disturbed, so excluding the disturbed rounds would leave a biased remainder."""

NOISE_STOP_MIN_ROUNDS = 6
"""Rounds to run before the suspect share may end a check: two first looks' worth (2 × 3), so
a single disturbed round at the start (e.g. a cron job) does not end it."""

MAX_ROUNDS_FACTOR = 2
"""At most this many times the last look's round count are run in total (clean + suspect):
a machine that disturbs every other round gets twice the rounds, not unlimited ones."""

CPU_BOUND_MIN = 0.5
"""Work whose serial phase wanted a CPU (on a CPU or waiting in a run queue, from
``/proc/thread-self/schedstat``) for less than this share of its wall time mostly waits
(sleep, IO): the parallelism signal and the CPU-share noise criteria do not apply to it.
Half is the natural cut between "mostly computes" and "mostly waits"; the measure is immune
to load (computing work reads ≈ 1 however busy the machine is)."""

WAITING_CPU_MAX = 0.1
"""Without schedstat (macOS, Windows), only CPU/wall is known, and load lowers it for
computing work too: work counts as waiting only below 0.1 — a computing thread gets at least
that much of a core unless ten runnable competitors share each CPU."""

POOL_SHUTDOWN_TIMEOUT = 10.0
"""Seconds an idle pool of ours may take to exit before its workers are terminated: process
exit is milliseconds; ten seconds only matters on a machine so loaded nothing else works."""

RELEASE_WINDOW = 0.030
"""Seconds of repeated ``fn`` calls per :func:`releases_gil` window: six 5 ms switch
intervals, so the GIL's alternation between ``fn`` and the probe averages out in a window."""

SOLO_CALLS = 3
"""Solo calls of ``fn`` before :func:`releases_gil` measures: the first may pay for imports
and caches; the best of three is a fair view of one call."""

RELEASE_CLIP = 4.0
"""The scaled probe ratio ``2R`` (holds ≈ 1, releases ≈ 2) is clipped to [1/4, 4]: a probe
starved by a long GIL-holding C call (R → 0, ln R → −∞) or a disturbed solo window would
otherwise dominate the mean and variance; the clip is two octaves beyond the "holds" level and
one beyond "releases", so no value crosses the decision bound √2 by clipping."""


# --------------------------------------------------------------------------------------------
# small helpers


def _gil_now() -> bool:
    fn = getattr(sys, "_is_gil_enabled", None)
    return True if fn is None else bool(fn())


def _fn_name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


def _fmt_ideal(ideal: float) -> str:
    return f"{ideal:g}"


def _plural(kind: str, n: int) -> str:
    word = {"thread": "thread", "process": "process", "interpreter": "sub-interpreter"}[kind]
    if n == 1:
        return f"1 {word}"
    return f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"


def _resolve_alphas(alpha_confirm: float | None, alpha_refute: float | None
                    ) -> tuple[float, float]:
    s = settings.current()
    a_c = s.alpha_confirm if alpha_confirm is None else float(alpha_confirm)
    if alpha_refute is None:
        a_r = s.alpha_refute if alpha_confirm is None else a_c * settings.ALPHA_REFUTE_RATIO
    else:
        a_r = float(alpha_refute)
    for name, a in (("alpha_confirm", a_c), ("alpha_refute", a_r)):
        if not 0.0 < a < 1.0:
            raise ValueError(f"{name} must lie in (0, 1), got {a!r}")
    return a_c, a_r


def _resolve_budget(budget: float | None) -> float:
    b = settings.current().budget if budget is None else float(budget)
    if not b > 0:
        raise ValueError(f"budget must be a positive number of seconds, got {budget!r}")
    return b


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _interval_dict(iv: Interval | None) -> dict[str, float] | None:
    return None if iv is None else iv.to_dict()


_FLAG_WORDS = {
    "foreign": "foreign load",
    "steal": "CPU steal",
    "throttled": "cgroup throttling",
    "serial-cpu": "serial phase short of a core",
    "no-time": "no time measured",
}


def _summarise_reasons(readings: Sequence[noise.NoiseReading],
                       words: Mapping[str, str] | None = None) -> str:
    """``foreign load ×5 (mean 0.98 CPU), CPU steal ×1`` for the suspect rounds."""
    counts: collections.Counter[str] = collections.Counter()
    for r in readings:
        counts.update(r.flags)
    names = {**_FLAG_WORDS, **(words or {})}
    parts = []
    for flag, n in counts.most_common():
        text = f"{names.get(flag, flag)} ×{n}"
        if flag == "foreign":
            vals = [r.foreign_cpu for r in readings if r.foreign_cpu is not None
                    and "foreign" in r.flags]
            if vals:
                text += f" (mean {sum(vals) / len(vals):.2f} CPU)"
        parts.append(text)
    return ", ".join(parts) or "no reason recorded"


# --------------------------------------------------------------------------------------------
# results


@dataclasses.dataclass(frozen=True)
class Round:
    """One paired round: the serial and the parallel phase of the same work."""

    index: int  # 0 = warm-up (discarded)
    order: str  # "SP" or "PS"
    t_serial: float
    t_parallel: float
    cpu_serial: float
    cpu_parallel: float
    gil_enabled: bool
    gil_changed: bool  # the GIL state changed inside this round
    noise: noise.NoiseReading
    warmup: bool = False
    serial_demand: float | None = None  # (on CPU + run-queue wait) / wall of the serial phase

    @property
    def speedup(self) -> float:
        return self.t_serial / self.t_parallel if self.t_parallel > 0 else math.nan

    @property
    def parallelism(self) -> float:
        return self.cpu_parallel / self.t_parallel if self.t_parallel > 0 else math.nan

    @property
    def serial_cpu_ratio(self) -> float:
        return self.cpu_serial / self.t_serial if self.t_serial > 0 else math.nan

    @property
    def suspect(self) -> bool:
        return self.noise.suspect

    def to_dict(self) -> dict[str, Any]:
        return {
            "t_serial": round(self.t_serial, 6),
            "t_parallel": round(self.t_parallel, 6),
            "cpu_serial": round(self.cpu_serial, 6),
            "cpu_parallel": round(self.cpu_parallel, 6),
            "order": self.order,
            "suspect": self.suspect,
            "warmup": self.warmup,
            "gil_enabled": self.gil_enabled,
            "serial_demand": (None if self.serial_demand is None
                              else round(self.serial_demand, 4)),
            "noise": self.noise.to_dict(),
        }


@dataclasses.dataclass(frozen=True)
class ScalingResult:
    """What :func:`measure_scaling` / :func:`measure_overlap` found.

    ``verdicts`` maps ``"serialized"`` and ``"parallel"`` (and, for overlap checks,
    ``"overlaps"`` = ``"parallel"``) to ``confirmed`` / ``refuted`` / ``inconclusive`` /
    ``not-testable``.  ``speedup`` and ``parallelism`` are :class:`~pytest_gil.stats.Interval`
    (geometric mean with one-sided bounds at the per-look confirm level) or ``None`` when
    nothing was measured.  ``to_dict()`` is the CHECK record of ``docs/DESIGN.md``.
    """

    kind: str  # "scaling" | "overlap"
    label: str
    executor: str
    workers: int
    tasks: int
    ideal: float
    claim: str | None
    verdicts: dict[str, str]
    speedup: Interval | None
    parallelism: Interval | None
    rounds: int
    suspect_rounds: int
    elapsed: float
    bounds: dict[str, dict[str, float]]
    alpha_confirm: float
    alpha_refute: float
    gil_enabled: bool | None
    gil_changed: bool
    reason: str
    raw: tuple[Round, ...]
    profile: RuntimeProfile | None
    signals: tuple[str, ...]
    cpu_bound: bool
    fn_name: str = ""
    gil_state: dict[str, Any] | None = None  # gilstate.MeasurementGil.to_dict()

    # -- the verdict of the claim asked about ------------------------------------------------

    @property
    def claim_tested(self) -> str:
        """The claim asked for; without one, the claim that got decided (confirmed first),
        else ``"parallel"``.  Overlap checks name it ``"overlaps"``."""
        if self.claim is not None:
            name = self.claim
        else:
            name = next((c for c in ("serialized", "parallel")
                         if self.verdicts.get(c) == "confirmed"), "")
            name = name or next((c for c in ("serialized", "parallel")
                                 if self.verdicts.get(c) == "refuted"), "parallel")
        if self.kind == "overlap" and name == "parallel":
            return "overlaps"
        return name

    @property
    def verdict(self) -> str:
        return self.verdicts[self.claim_tested]

    @property
    def confirmed(self) -> bool:
        return self.verdict == "confirmed"

    @property
    def refuted(self) -> bool:
        return self.verdict == "refuted"

    @property
    def inconclusive(self) -> bool:
        return self.verdict == "inconclusive"

    # -- presentation ------------------------------------------------------------------------

    def figure(self) -> dict[str, Any] | None:
        """The headline figure for reports: the speedup with its interval."""
        if self.speedup is None:
            return None
        return {"name": "speedup", **self.speedup.to_dict(), "unit": "x"}

    def _claim_bounds(self, claim: str) -> dict[str, float]:
        key = "parallel" if claim == "overlaps" else claim
        return self.bounds.get(key, {})

    def detail(self, claim: str | None = None) -> str:
        """One line: what ran, the measured figures, the bounds and the verdict."""
        claim = claim or self.claim_tested
        b = self._claim_bounds(claim)
        what = f"{_plural(self.executor, self.workers)} × {self.fn_name or self.label}"
        if self.tasks != self.workers:
            what += f" ({self.tasks} tasks)"
        figs = []
        if self.speedup is not None:
            figs.append(f"speedup {self.speedup.format('×')}")
        if self.parallelism is not None and "parallelism" in self.signals:
            figs.append(f"P {self.parallelism}")
        measured = ", ".join(figs) if figs else "nothing measured"
        bounds = ""
        if b:
            bounds = (f" — ideal {_fmt_ideal(self.ideal)}, confirm bound {b['confirm']:.2f}, "
                      f"refute bound {b['refute']:.2f}")
        rounds = f", {self.rounds} rounds"
        if self.suspect_rounds:
            rounds += f" (+{self.suspect_rounds} suspect)"
        verdict = self.verdicts.get("parallel" if claim == "overlaps" else claim, "?")
        text = f"{what}: {measured}{bounds}{rounds} → {claim} {verdict}"
        if self.reason and verdict != "confirmed":
            text += f" ({self.reason})"
        return text

    def message(self, claim: str | None = None) -> str:
        """The one-line failure/skip message: :meth:`detail` plus the runtime label."""
        runtime = self.profile.label() if self.profile is not None else "unknown runtime"
        return f"{self.detail(claim)} · {runtime}"

    def to_dict(self) -> dict[str, Any]:
        """The CHECK record of ``docs/DESIGN.md`` (plain JSON types)."""
        claim = self.claim_tested
        return {
            "kind": self.kind,
            "label": self.label,
            "executor": self.executor,
            "workers": self.workers,
            "tasks": self.tasks,
            "ideal": self.ideal,
            "claim_tested": claim,
            "verdict": self.verdict,
            "verdicts": dict(self.verdicts),
            "speedup": _interval_dict(self.speedup),
            "parallelism": _interval_dict(self.parallelism),
            "signals": list(self.signals),
            "cpu_bound": self.cpu_bound,
            "rounds": self.rounds,
            "suspect_rounds": self.suspect_rounds,
            "elapsed": round(self.elapsed, 3),
            "bounds": dict(self._claim_bounds(claim)),
            "all_bounds": {k: dict(v) for k, v in self.bounds.items()},
            "alpha": {"confirm": self.alpha_confirm, "refute": self.alpha_refute},
            # The monitor's account (source, modules that re-enabled it, note) plus what the
            # rounds themselves observed, which wins.
            "gil": {**(self.gil_state or {}), "enabled": self.gil_enabled,
                    "changed": self.gil_changed},
            "reason": self.reason,
            "runtime": self.profile.label() if self.profile is not None else None,
            "raw": [r.to_dict() for r in self.raw],
        }

    def __str__(self) -> str:
        head = f"{self.label}: " + ", ".join(
            f"{c} {self.verdicts[c]}" for c in ("serialized", "parallel") if c in self.verdicts)
        lines = [head]
        figs = []
        if self.speedup is not None:
            figs.append(f"speedup {self.speedup.format('×')}")
        if self.parallelism is not None:
            if "parallelism" in self.signals:
                figs.append(f"parallelism {self.parallelism}")
            else:
                figs.append(f"parallelism {self.parallelism.value:.2f} (not used: the work "
                            "mostly waits)")
        if figs:
            lines.append(f"  {', '.join(figs)}")
        lines.append(
            f"  {self.rounds} rounds ({self.suspect_rounds} suspect, excluded), "
            f"{self.elapsed:.2f} s; {_plural(self.executor, self.workers)}, {self.tasks} tasks"
        )
        if self.bounds:
            ser, par = self.bounds.get("serialized"), self.bounds.get("parallel")
            parts = [f"ideal {_fmt_ideal(self.ideal)}"]
            if ser:
                parts.append(f"confirm bound {ser['confirm']:.2f}")
                parts.append(f"refute 'serialized' above {ser['refute']:.2f}")
            if par:
                parts.append(f"refute 'parallel' below {par['refute']:.2f}")
            parts.append(f"α {self.alpha_confirm:g} / {self.alpha_refute:g}")
            lines.append("  " + ", ".join(parts))
        if self.gil_changed:
            lines.append("  the GIL state changed during the check")
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        if self.profile is not None:
            lines.append(f"  runtime: {self.profile.label()}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# measuring


def _not_testable(kind: str, label: str, executor: str, workers: int, tasks: int, ideal: float,
                  claim: str | None, a_c: float, a_r: float, reason: str,
                  profile: RuntimeProfile | None, fn_name: str) -> ScalingResult:
    verdicts = {"serialized": "not-testable", "parallel": "not-testable"}
    if kind == "overlap":
        verdicts["overlaps"] = "not-testable"
    return ScalingResult(
        kind=kind, label=label, executor=executor, workers=workers, tasks=tasks, ideal=ideal,
        claim=claim, verdicts=verdicts, speedup=None, parallelism=None, rounds=0,
        suspect_rounds=0, elapsed=0.0, bounds={}, alpha_confirm=a_c, alpha_refute=a_r,
        gil_enabled=_gil_now(), gil_changed=False, reason=reason, raw=(), profile=profile,
        signals=(), cpu_bound=kind == "scaling", fn_name=fn_name,
    )


def _make_pool(executor: str, workers: int) -> cf.Executor:
    if executor == "process":
        from .pools import ManagedProcessPool

        return ManagedProcessPool(workers, settings.current().start_method)
    from .subinterp import InterpreterPoolExecutor

    pool: cf.Executor = InterpreterPoolExecutor(max_workers=workers)
    return pool


def _shutdown_pool(pool: cf.Executor, clean: bool) -> None:
    """Shut down a pool this module made.  After a clean run every task has finished, so the
    workers are let exit normally; after an error (a hung or crashed task, an interrupt) they
    are terminated, then killed."""
    from .pools import terminate_executor

    terminate_executor(pool, wait=clean, timeout=POOL_SHUTDOWN_TIMEOUT)


POOL_TASKS_PER_WORKER = 4
"""Default tasks per worker for process and sub-interpreter pools.  A pool phase pays dispatch
(~0.1–0.2 ms a task) and, on shared virtual machines, bursts where a busy vCPU runs at half
speed for tens of milliseconds without any steal being reported (measured on this project's
2-CPU CI machines: single 50 ms tasks in a 2-worker pool took 45–90 ms while the serial phase
stayed at 45–50 ms).  With one task per worker a single slow task halves a round's speedup
(per-round ln-speedup sd ≈ 0.3, so 20 rounds rarely decide); with four per worker the burst
is averaged over the phase (sd ≈ 0.07, decided in 3–5 rounds) for 4× longer rounds."""


def _measure(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    kind: Literal["scaling", "overlap"],
    workers: int,
    executor: str,
    tasks: int | None,
    claim: str | None,
    alpha_confirm: float | None,
    alpha_refute: float | None,
    budget: float | None,
    profile: RuntimeProfile | None,
    ideal: float | None,
    signals: Sequence[str] | None,
    pool: cf.Executor | None,
    label: str | None,
) -> ScalingResult:
    from .profile import runtime_profile

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if claim not in (None, "serialized", "parallel"):
        raise ValueError(f"claim must be 'serialized', 'parallel' or None, got {claim!r}")
    workers = _positive_int("workers", workers)
    if tasks is None:
        tasks = workers * (POOL_TASKS_PER_WORKER if executor != "thread" and kind != "overlap"
                           else 1)
    tasks = _positive_int("tasks", tasks)
    a_c, a_r = _resolve_alphas(alpha_confirm, alpha_refute)
    budget_s = _resolve_budget(budget)
    prof = profile if profile is not None else runtime_profile()
    name = _fn_name(fn)
    label = label or f"{name} in {_plural(executor, workers)}"
    if ideal is None:
        if kind == "overlap":
            ideal = float(min(workers, tasks))
        else:
            ideal = float(min(workers, tasks, prof.usable_cpus))
    if signals is not None:
        unknown = set(signals) - {"speedup", "parallelism"}
        if unknown or not signals:
            raise ValueError(f"signals must be a non-empty subset of ('speedup', "
                             f"'parallelism'), got {tuple(signals)!r}")
    if ideal <= 1:
        why = (f"ideal speedup {_fmt_ideal(ideal)} ≤ 1 ({workers} workers, {tasks} tasks, "
               f"{prof.usable_cpus} usable CPU{'s' if prof.usable_cpus != 1 else ''}): "
               "serial and parallel execution predict the same time")
        return _not_testable(kind, label, executor, workers, tasks, ideal, claim, a_c, a_r,
                             why, prof, name)
    if executor == "interpreter" and pool is None:
        try:
            from .subinterp import unavailable_reason

            missing = unavailable_reason()
        except ImportError as exc:  # pragma: no cover - subinterp is part of the package
            missing = f"pytest_gil.subinterp is not importable: {exc}"
        if missing:
            return _not_testable(kind, label, executor, workers, tasks, ideal, claim, a_c, a_r,
                                 missing, prof, name)
    from .gilstate import monitor

    with monitor().measurement(label) as gil, settings.exclusive():
        result = _run_rounds(
            fn, args, dict(kwargs), kind=kind, workers=workers, executor=executor, tasks=tasks,
            claim=claim, a_c=a_c, a_r=a_r, budget_s=budget_s, prof=prof, ideal=ideal,
            signals=None if signals is None else tuple(signals), pool=pool, label=label,
            name=name,
        )
    note = gil.note()
    result = dataclasses.replace(
        result, gil_state=gil.to_dict(),
        reason="; ".join(part for part in (result.reason, note) if part))
    gil.enforce()
    return result


def _run_rounds(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    kind: Literal["scaling", "overlap"],
    workers: int,
    executor: str,
    tasks: int,
    claim: str | None,
    a_c: float,
    a_r: float,
    budget_s: float,
    prof: RuntimeProfile,
    ideal: float,
    signals: tuple[str, ...] | None,
    pool: cf.Executor | None,
    label: str,
    name: str,
) -> ScalingResult:
    from . import stats
    from .runners import check_picklable, run_tasks

    t_begin = time.perf_counter()
    own_pool: cf.Executor | None = None
    clean = False
    me = os.getpid()
    if executor != "thread":
        check_picklable(fn, args, kwargs)
    try:
        ex = pool
        if executor != "thread" and ex is None:
            ex = own_pool = _make_pool(executor, workers)

        demand: list[float | None] = [None]

        def phase(which: str) -> Timeline:
            if which == "S":
                s0 = noise.thread_schedstat()
                tl = run_tasks("serial", fn, args, tasks=tasks, workers=1, kwargs=kwargs)
                s1 = noise.thread_schedstat()
                demand[0] = (None if s0 is None or s1 is None or tl.wall <= 0
                             else (s1[0] - s0[0] + s1[1] - s0[1]) / tl.wall)
                return tl
            return run_tasks(executor, fn, args, tasks=tasks, workers=workers, executor=ex,
                             kwargs=kwargs)

        def one_round(index: int, order: str, cpu_bound: bool | None) -> tuple[Round, bool]:
            before = noise.snapshot()
            tl: dict[str, Timeline] = {}
            for which in order:
                tl[which] = phase(which)
            after = noise.snapshot()
            ser, par = tl["S"], tl["P"]
            other = sum(t.cpu for t in par.tasks if t.pid != me)
            ser_ratio = ser.cpu / ser.wall if ser.wall > 0 else math.nan
            wanted = demand[0]
            if cpu_bound is not None:
                is_cpu = cpu_bound
            elif wanted is not None:
                is_cpu = wanted >= CPU_BOUND_MIN
            else:
                is_cpu = not ser_ratio < WAITING_CPU_MAX
            reading = noise.reading(before, after, other_cpu=other,
                                    serial_cpu_ratio=ser_ratio, cpu_bound=is_cpu)
            states = {ser.gil_enabled_before, ser.gil_enabled_after,
                      par.gil_enabled_before, par.gil_enabled_after}
            r = Round(index=index, order=order, t_serial=ser.wall, t_parallel=par.wall,
                      cpu_serial=ser.cpu, cpu_parallel=par.cpu,
                      gil_enabled=par.gil_enabled_after, gil_changed=len(states) > 1,
                      noise=reading, warmup=index == 0, serial_demand=wanted)
            return r, is_cpu

        gil_start = _gil_now()
        # The warm-up round (discarded): first calls, caches, pool warm-up, and it tells
        # whether the work computes or waits.
        t_w0 = time.perf_counter()
        warm, cpu_bound = one_round(0, "SP", None)
        warm_seconds = time.perf_counter() - t_w0
        if kind == "overlap":
            cpu_bound = False
        sigs = signals or (("speedup", "parallelism") if cpu_bound and kind == "scaling"
                           else ("speedup",))
        test: SequentialTest = stats.SequentialTest(
            ideal, signals=sigs, claims=stats.CLAIMS,
            stop_on=cast("stats.Claim | None", claim),
            alpha_confirm=a_c, alpha_refute=a_r,
        )
        t_budget = time.perf_counter()
        rounds: list[Round] = [warm]
        durations: list[float] = [warm_seconds]
        suspect = 0
        reason = ""
        outcome: Outcome | None = None
        gil_ref = warm.gil_enabled
        gil_changed = warm.gil_changed or warm.gil_enabled != gil_start
        i = 0
        while True:
            now = time.perf_counter()
            est = sum(durations) / len(durations)
            if (now - t_budget) + est > budget_s:
                reason = (f"time budget of {budget_s:g} s ran out after {test.n} clean "
                          f"rounds (a round takes ~{est:.2f} s)")
                break
            order = "SP" if i % 4 in (0, 3) else "PS"  # ABBA
            t0 = time.perf_counter()
            r, _ = one_round(i + 1, order, cpu_bound)
            durations.append(time.perf_counter() - t0)
            rounds.append(r)
            i += 1
            if r.gil_changed or r.gil_enabled != gil_ref:
                gil_changed = True
                reason = ("the GIL state changed during the check (an import re-enabled it?): "
                          "rounds under different runtimes cannot be pooled")
                break
            ratios = {"speedup": r.speedup, "parallelism": r.parallelism}
            if not r.suspect and not all(ratios[s] > 0 and math.isfinite(ratios[s])
                                         for s in sigs):
                r = dataclasses.replace(r, noise=dataclasses.replace(
                    r.noise, suspect=True,
                    reasons=(*r.noise.reasons, "no CPU time or wall time measured"),
                    flags=(*r.noise.flags, "no-time")))
                rounds[-1] = r
            if r.suspect:
                suspect += 1
            else:
                test.add(**{s: ratios[s] for s in sigs})
                out = test.look()
                if out is not None:
                    outcome = out
                    break
            if i >= NOISE_STOP_MIN_ROUNDS and suspect > SUSPECT_MAX_FRACTION * i:
                why = _summarise_reasons([x.noise for x in rounds[1:] if x.suspect])
                reason = (f"too noisy: {suspect} of {i} rounds were disturbed ({why}); "
                          "the clean remainder would be biased")
                break
            if i >= MAX_ROUNDS_FACTOR * test.max_rounds:
                reason = f"only {test.n} clean rounds in {i} ({suspect} suspect)"
                break
        if outcome is None:
            outcome = test.outcome(reason)
        else:
            reason = outcome.reason
        if reason and suspect and not reason.startswith("too noisy"):
            why = _summarise_reasons([x.noise for x in rounds[1:] if x.suspect])
            reason = f"{reason}; {suspect} suspect rounds excluded ({why})"
        verdicts: dict[str, str] = dict(outcome.verdicts)
        if gil_changed and reason.startswith("the GIL state changed"):
            verdicts = {c: "inconclusive" for c in verdicts}
        elif gil_changed:
            reason = (reason + "; " if reason else "") + (
                "the GIL state changed during the warm-up (all measured rounds ran with the "
                f"GIL {'enabled' if gil_ref else 'disabled'})")
        if kind == "overlap":
            verdicts["overlaps"] = verdicts["parallel"]
        ivs = test.intervals()
        measured = [r for r in rounds[1:] if not r.suspect]
        par_iv = ivs.get("parallelism")
        if par_iv is None and measured and all(r.parallelism > 0 for r in measured):
            par_iv = stats.interval([math.log(r.parallelism) for r in measured],
                                    test.alpha_confirm_per_look)
        clean = True
        return ScalingResult(
            kind=kind, label=label, executor=executor, workers=workers, tasks=tasks,
            ideal=ideal, claim=claim, verdicts=verdicts,
            speedup=ivs["speedup"] if test.n else None,
            parallelism=par_iv if test.n else None,
            rounds=test.n, suspect_rounds=suspect,
            elapsed=time.perf_counter() - t_begin,
            bounds={c: b.to_dict() for c, b in test.bounds.items()},
            alpha_confirm=a_c, alpha_refute=a_r, gil_enabled=gil_ref,
            gil_changed=gil_changed, reason=reason, raw=tuple(rounds), profile=prof,
            signals=sigs, cpu_bound=cpu_bound, fn_name=name,
        )
    finally:
        if own_pool is not None:
            _shutdown_pool(own_pool, clean)


def measure_scaling(
    fn: Callable[..., Any],
    *args: Any,
    workers: int = 2,
    executor: str = "thread",
    tasks: int | None = None,
    claim: ClaimName | None = None,
    alpha_confirm: float | None = None,
    alpha_refute: float | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
    ideal: float | None = None,
    signals: Sequence[str] | None = None,
    pool: cf.Executor | None = None,
    label: str | None = None,
    **kwargs: Any,
) -> ScalingResult:
    """Measure whether ``tasks`` copies of ``fn(*args, **kwargs)`` run faster on ``workers``
    workers of ``executor`` than one after another, and decide "serialized" / "parallel".

    * ``executor``: ``"thread"``, ``"process"`` (``fn`` must be a module-level function with
      picklable arguments) or ``"interpreter"`` (sub-interpreters, CPython 3.12+; not-testable
      elsewhere).  ``pool``: a warm executor of that kind to use (e.g. the ``process_pool``
      fixture); by default one is made and shut down here.
    * ``tasks`` defaults to ``workers`` for threads and to ``4 × workers`` for process and
      sub-interpreter pools (:data:`POOL_TASKS_PER_WORKER`); ``ideal`` defaults to
      ``min(workers, tasks, usable CPUs)`` from ``profile`` (default
      :func:`~pytest_gil.profile.runtime_profile`).  With ideal ≤ 1 nothing is measured and
      the verdicts are ``"not-testable"``.
    * ``claim``: stop as soon as this claim is decided; ``None`` stops at the first claim
      decided.  Both verdicts are always reported.
    * ``signals``: default speedup and parallelism for work that computes; speedup only for
      work that mostly waits (the warm-up's serial CPU/wall < 0.5).
    * ``alpha_confirm`` / ``alpha_refute`` / ``budget`` (seconds): default from the run's
      settings (``--gil-alpha``, ``--gil-budget``).
    * Keyword arguments not named above go to ``fn``; use :func:`functools.partial` for an
      ``fn`` that takes one of these names.

    >>> from pytest_gil.workloads import calc
    >>> r = measure_scaling(calc, 2_000_000, workers=2, executor="thread")  # doctest: +SKIP
    >>> r.verdicts["serialized"]  # doctest: +SKIP
    'confirmed'
    """
    return _measure(
        fn, args, kwargs, kind="scaling", workers=workers, executor=executor, tasks=tasks,
        claim=claim, alpha_confirm=alpha_confirm, alpha_refute=alpha_refute, budget=budget,
        profile=profile, ideal=ideal, signals=signals, pool=pool, label=label,
    )


def measure_overlap(
    fn: Callable[..., Any],
    *args: Any,
    tasks: int = 4,
    workers: int | None = None,
    executor: str = "thread",
    alpha_confirm: float | None = None,
    alpha_refute: float | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
    pool: cf.Executor | None = None,
    label: str | None = None,
    **kwargs: Any,
) -> ScalingResult:
    """Measure whether ``tasks`` sleeping/IO-waiting calls of ``fn`` overlap: run on
    ``workers`` (default ``tasks``) workers they should finish in ≈ one call's time.

    The ideal speedup is ``min(workers, tasks)`` — waiting needs no CPU, so the CPU count does
    not limit it — and only the speedup signal is used.  The claim tested is
    ``"overlaps"`` (= ``"parallel"``); ``verdicts["overlaps"]`` holds its verdict.
    """
    return _measure(
        fn, args, kwargs, kind="overlap", workers=workers or tasks, executor=executor,
        tasks=tasks, claim="parallel", alpha_confirm=alpha_confirm, alpha_refute=alpha_refute,
        budget=budget, profile=profile, ideal=None, signals=("speedup",), pool=pool,
        label=label,
    )


# --------------------------------------------------------------------------------------------
# assertions


def _policy(inconclusive: str | None) -> str:
    policy = inconclusive if inconclusive is not None else settings.current().inconclusive
    if policy not in settings.INCONCLUSIVE_POLICIES:
        raise ValueError(
            f"inconclusive must be one of {settings.INCONCLUSIVE_POLICIES}, got {policy!r}")
    return policy


def _record_check(claim: str, verdict: str, figure: dict[str, Any] | None, detail: str,
                  check: dict[str, Any]) -> None:
    """Attach a checked assertion to the running test for the report (no-op outside pytest)."""
    from .claims import record

    record({"claim": None, "check": claim, "verdict": verdict, "figure": figure,
            "detail": detail, "checks": [check]})


def _enforce(result: ScalingResult, claim: str, inconclusive: str | None) -> ScalingResult:
    import pytest

    from .claims import handle_inconclusive

    policy = _policy(inconclusive)
    verdict = result.verdicts.get(claim, "inconclusive")
    _record_check(claim, verdict, result.figure(), result.detail(claim), result.to_dict())
    if verdict == "confirmed":
        return result
    if verdict == "not-testable":
        pytest.skip(f"not testable: {result.reason} · "
                    f"{result.profile.label() if result.profile else ''}".rstrip(" ·"))
    if verdict == "refuted":
        _fail(f"pytest-gil: {result.message(claim)}")
    handle_inconclusive(result.message(claim), policy)
    return result


def _fail(message: str) -> NoReturn:
    import pytest

    pytest.fail(message, pytrace=False)


def _result_or_measure(
    fn_or_result: Callable[..., Any] | ScalingResult,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    measure: Callable[..., ScalingResult],
    **fixed: Any,
) -> ScalingResult:
    if isinstance(fn_or_result, ScalingResult):
        if args or kwargs:
            raise TypeError("arguments were given together with an already measured result")
        return fn_or_result
    return measure(fn_or_result, *args, **fixed, **kwargs)


def assert_no_speedup(fn_or_result: Callable[..., Any] | ScalingResult, *args: Any,
                      inconclusive: str | None = None, **kwargs: Any) -> ScalingResult:
    """Assert that running on several workers gives no speedup ("serialized" confirmed).

    Pass a callable with its arguments (measured with :func:`measure_scaling`, ``claim=
    "serialized"``; its keywords apply) or a :class:`ScalingResult`.  Refuted → the test fails
    with a one-line message; inconclusive → ``inconclusive`` policy (``"skip"``, ``"xfail"``,
    ``"fail"``, ``"pass"``; default ``--gil-inconclusive``, else skip); not-testable → skip.
    Returns the result.
    """
    if not isinstance(fn_or_result, ScalingResult):
        kwargs.setdefault("claim", "serialized")
    result = _result_or_measure(fn_or_result, args, kwargs, measure_scaling)
    return _enforce(result, "serialized", inconclusive)


def assert_scales(fn_or_result: Callable[..., Any] | ScalingResult, *args: Any,
                  inconclusive: str | None = None, **kwargs: Any) -> ScalingResult:
    """Assert that the work scales with the workers ("parallel" confirmed); see
    :func:`assert_no_speedup` for arguments and policies."""
    if not isinstance(fn_or_result, ScalingResult):
        kwargs.setdefault("claim", "parallel")
    result = _result_or_measure(fn_or_result, args, kwargs, measure_scaling)
    return _enforce(result, "parallel", inconclusive)


def assert_overlaps(fn_or_result: Callable[..., Any] | ScalingResult, *args: Any,
                    inconclusive: str | None = None, **kwargs: Any) -> ScalingResult:
    """Assert that sleeping/IO-waiting calls overlap (``tasks`` of them finish in ≈ one call's
    time), measured with :func:`measure_overlap`; see :func:`assert_no_speedup`."""
    result = _result_or_measure(fn_or_result, args, kwargs, measure_overlap)
    return _enforce(result, "parallel", inconclusive)


# --------------------------------------------------------------------------------------------
# releases_gil


@dataclasses.dataclass(frozen=True)
class ReleaseRound:
    """One paired round of :func:`releases_gil`: the probe's rate alone and beside ``fn``."""

    index: int
    order: str  # "SW" (solo first) or "WS"
    rate_solo: float  # probe iterations per second
    rate_with: float
    probe_cpu_ratio: float | None  # the probe's CPU/wall in the solo window
    noise: noise.NoiseReading
    warmup: bool = False

    @property
    def ratio(self) -> float:
        return self.rate_with / self.rate_solo if self.rate_solo > 0 else math.nan

    @property
    def suspect(self) -> bool:
        return self.noise.suspect

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "rate_solo": round(self.rate_solo, 1),
            "rate_with": round(self.rate_with, 1),
            "ratio": round(self.ratio, 4) if math.isfinite(self.ratio) else None,
            "probe_cpu_ratio": (None if self.probe_cpu_ratio is None
                                else round(self.probe_cpu_ratio, 4)),
            "suspect": self.suspect,
            "warmup": self.warmup,
            "noise": self.noise.to_dict(),
        }


@dataclasses.dataclass(frozen=True)
class GilReleaseResult:
    """What :func:`releases_gil` found.

    ``releases`` is ``True`` (while ``fn`` ran, a Python probe thread kept close to its solo
    rate: ``fn`` spends its time with the GIL released), ``False`` (the probe was slowed to
    about half its rate or less: ``fn`` holds the GIL) or ``None`` (undecided; ``reason`` says
    why).  ``ratio`` is the probe's rate beside ``fn`` over its solo rate (≈ 0.5 holds,
    ≈ 1 releases) with one-sided bounds at the per-look confirm level.
    """

    fn_name: str
    releases: bool | None
    verdict: str  # of the claim "releases": confirmed / refuted / inconclusive / not-testable
    ratio: Interval | None
    rounds: int
    suspect_rounds: int
    elapsed: float
    reason: str
    call_seconds: float
    calls_per_window: int
    fn_cpu_ratio: float
    alpha_confirm: float
    alpha_refute: float
    gil_enabled: bool
    raw: tuple[ReleaseRound, ...]
    profile: RuntimeProfile | None

    def __str__(self) -> str:
        if self.releases is True:
            head = f"{self.fn_name} releases the GIL"
        elif self.releases is False:
            head = f"{self.fn_name} holds the GIL"
        else:
            head = f"{self.fn_name}: undecided whether it releases the GIL"
        lines = [head]
        if self.ratio is not None:
            lines.append(
                f"  a Python thread beside it kept {self.ratio} of its solo speed "
                f"(holds ≈ 0.5, releases ≈ 1; decision bound 0.71) over {self.rounds} rounds"
                f" ({self.suspect_rounds} suspect, excluded), {self.elapsed:.2f} s"
            )
        lines.append(
            f"  one call {self.call_seconds * 1000:.3g} ms, {self.calls_per_window} per "
            f"window, CPU/wall {self.fn_cpu_ratio:.2f}"
        )
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        if self.profile is not None:
            lines.append(f"  runtime: {self.profile.label()}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A CHECK record (``kind: releases_gil``, ``claim_tested: releases``)."""
        return {
            "kind": "releases_gil",
            "label": f"{self.fn_name} releases the GIL",
            "executor": "thread",
            "workers": 2,
            "tasks": self.calls_per_window,
            "ideal": 2,
            "claim_tested": "releases",
            "verdict": self.verdict,
            "releases": self.releases,
            "speedup": None,
            "parallelism": None,
            "probe_ratio": _interval_dict(self.ratio),
            "rounds": self.rounds,
            "suspect_rounds": self.suspect_rounds,
            "elapsed": round(self.elapsed, 3),
            "bounds": {"ideal": 2, "confirm": round(math.sqrt(2) / 2, 4),
                       "refute": round(2 ** 0.25 / 2, 4)},
            "alpha": {"confirm": self.alpha_confirm, "refute": self.alpha_refute},
            "gil": {"enabled": self.gil_enabled, "changed": False},
            "reason": self.reason,
            "call_seconds": self.call_seconds,
            "fn_cpu_ratio": round(self.fn_cpu_ratio, 4),
            "runtime": self.profile.label() if self.profile is not None else None,
            "raw": [r.to_dict() for r in self.raw],
        }


class _Probe:
    """A thread counting iterations of a tight Python loop (it needs the GIL to count)."""

    def __init__(self) -> None:
        self.count = [0]
        self.running = True
        self.thread = threading.Thread(target=self._run, name="pytest-gil-probe", daemon=True)
        self._clock: int | None = None

    def _run(self) -> None:
        c = self.count
        while self.running:
            c[0] += 1

    def start(self) -> None:
        self.thread.start()
        getclk = getattr(time, "pthread_getcpuclockid", None)
        if getclk is not None and self.thread.ident is not None:
            try:
                self._clock = getclk(self.thread.ident)
            except OSError:
                self._clock = None

    def cpu(self) -> float | None:
        if self._clock is None:
            return None
        try:
            return time.clock_gettime(self._clock)
        except OSError:
            return None

    def stop(self) -> None:
        self.running = False
        if self.thread.ident is not None:
            self.thread.join()


def releases_gil(
    fn: Callable[..., Any],
    *args: Any,
    alpha_confirm: float | None = None,
    alpha_refute: float | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
    **kwargs: Any,
) -> GilReleaseResult:
    """Does ``fn(*args, **kwargs)`` run with the GIL released?

    A probe thread counts iterations of a tight Python loop.  In paired rounds (order
    alternated) its rate is measured alone (the main thread sleeps) and while the main thread
    calls ``fn`` repeatedly for a window of ≥ 30 ms.  If ``fn`` holds the GIL, the probe gets
    the GIL only when the switch interval forces a hand-off: about half its solo rate (or
    less, for a long C call that never lets go).  If ``fn`` releases it — sleeping, waiting,
    or computing in C that drops it — the probe keeps ≈ its solo rate.  The ratio ``R`` of the
    two rates is scaled to ``2R`` (holds ≈ 1, releases ≈ 2) and decided by the sequential test
    of :mod:`pytest_gil.stats` with ideal 2: ``releases=True`` when ``R`` is confidently above
    ``√2/2 ≈ 0.71`` — ``fn`` leaves the GIL free for more than ~41% of its time, since a share
    ``f`` released gives ``2R = 1 + f`` — ``False`` when confidently below, ``None`` otherwise.

    ``None`` also when: the GIL is disabled (free-threaded build: there is no GIL to hold, the
    verdict is "not-testable"); only one CPU is usable and ``fn`` computes (it wants a CPU —
    runs or waits in a run queue — at least half of its time) —
    releasing C code and the probe would then share one core and look like holding; too many
    rounds were disturbed by other load; or the budget ran out.
    Keyword arguments not named above go to ``fn``.
    """
    result = _releases_gil(fn, *args, alpha_confirm=alpha_confirm, alpha_refute=alpha_refute,
                           budget=budget, profile=profile, **kwargs)
    iv = result.ratio
    figure = None if iv is None else {
        "name": "probe rate beside fn", "value": iv.value, "low": iv.low, "high": iv.high,
        "unit": "× solo"}
    _record_check("releases", result.verdict, figure, str(result).splitlines()[0],
                  result.to_dict())
    return result


def _releases_gil(
    fn: Callable[..., Any],
    *args: Any,
    alpha_confirm: float | None = None,
    alpha_refute: float | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
    **kwargs: Any,
) -> GilReleaseResult:
    """Measure for :func:`releases_gil` (which also records the check for the report)."""
    from . import stats
    from .profile import runtime_profile

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    a_c, a_r = _resolve_alphas(alpha_confirm, alpha_refute)
    budget_s = _resolve_budget(budget)
    prof = profile if profile is not None else runtime_profile()
    name = _fn_name(fn)
    t_begin = time.perf_counter()

    def result(releases: bool | None, verdict: str, reason: str, *,
               ratio: Interval | None = None, rounds: int = 0, suspect: int = 0,
               call: float = math.nan, k: int = 0, cpu_ratio: float = math.nan,
               raw: Sequence[ReleaseRound] = ()) -> GilReleaseResult:
        return GilReleaseResult(
            fn_name=name, releases=releases, verdict=verdict, ratio=ratio, rounds=rounds,
            suspect_rounds=suspect, elapsed=time.perf_counter() - t_begin, reason=reason,
            call_seconds=call, calls_per_window=k, fn_cpu_ratio=cpu_ratio, alpha_confirm=a_c,
            alpha_refute=a_r, gil_enabled=_gil_now(), raw=tuple(raw), profile=prof,
        )

    if not _gil_now():
        return result(None, "not-testable",
                      "the GIL is disabled (free-threaded build): no thread can hold it, so "
                      "there is nothing to release — threads run in parallel regardless")

    with settings.exclusive():
        # Solo calls: how long one call takes and whether it computes.  Noise only adds
        # time and only lowers CPU/wall (waiting for a core), so take the fastest call and
        # the highest ratio of a few.
        # "Computes" is judged by the time the thread wanted a CPU (schedstat), which load
        # does not hide; CPU/wall is the fallback.
        call, cpu_ratio, computes = math.inf, 0.0, False
        for _ in range(SOLO_CALLS):
            s0 = noise.thread_schedstat()
            c0, t0 = time.thread_time(), time.perf_counter()
            fn(*args, **kwargs)
            wall = max(time.perf_counter() - t0, 1e-9)
            c1, s1 = time.thread_time(), noise.thread_schedstat()
            call = min(call, wall)
            cpu_ratio = max(cpu_ratio, (c1 - c0) / wall)
            if s0 is not None and s1 is not None:
                computes |= (s1[0] - s0[0] + s1[1] - s0[1]) / wall >= CPU_BOUND_MIN
            else:
                computes |= (c1 - c0) / wall >= WAITING_CPU_MAX
        k = max(1, math.ceil(RELEASE_WINDOW / call))
        if prof.usable_cpus < 2 and computes:
            return result(None, "inconclusive",
                          f"only {prof.usable_cpus} usable CPU and {name} computes (CPU/wall "
                          f"{cpu_ratio:.2f}): C code that releases the GIL and the probe "
                          "would share one core, which looks the same as holding the GIL",
                          call=call, k=k, cpu_ratio=cpu_ratio)

        test = stats.SequentialTest(2.0, signals=("release",), claims=stats.CLAIMS,
                                    stop_on=None, alpha_confirm=a_c, alpha_refute=a_r)
        probe = _Probe()
        rounds: list[ReleaseRound] = []
        reason = ""
        outcome: Outcome | None = None
        suspect = 0
        try:
            probe.start()
            while probe.count[0] == 0:  # the probe is running before any window
                time.sleep(0.001)
            last_window = k * call

            def window_with() -> tuple[float, float]:
                n0, w0 = probe.count[0], time.perf_counter()
                for _ in range(k):
                    fn(*args, **kwargs)
                n1, w1 = probe.count[0], time.perf_counter()
                return (n1 - n0) / (w1 - w0), w1 - w0

            def window_solo(duration: float) -> tuple[float, float | None]:
                p0, n0, w0 = probe.cpu(), probe.count[0], time.perf_counter()
                time.sleep(duration)
                p1, n1, w1 = probe.cpu(), probe.count[0], time.perf_counter()
                share = None if p0 is None or p1 is None else (p1 - p0) / (w1 - w0)
                return (n1 - n0) / (w1 - w0), share

            def one_round(index: int, order: str) -> ReleaseRound:
                nonlocal last_window
                before = noise.snapshot()
                solo = with_ = 0.0
                share: float | None = None
                for which in order:
                    if which == "S":
                        solo, share = window_solo(last_window)
                    else:
                        with_, last_window = window_with()
                after = noise.snapshot()
                reading = noise.reading(before, after, serial_cpu_ratio=share, cpu_bound=True)
                return ReleaseRound(index, order, solo, with_, share, reading, index == 0)

            t_w0 = time.perf_counter()
            rounds.append(one_round(0, "WS"))  # warm-up, discarded
            durations = [time.perf_counter() - t_w0]
            t_budget = time.perf_counter()
            i = 0
            while True:
                est = sum(durations) / len(durations)
                if time.perf_counter() - t_budget + est > budget_s:
                    reason = (f"time budget of {budget_s:g} s ran out after {test.n} clean "
                              "rounds")
                    break
                order = "SW" if i % 4 in (0, 3) else "WS"
                t0 = time.perf_counter()
                r = one_round(i + 1, order)
                durations.append(time.perf_counter() - t0)
                rounds.append(r)
                i += 1
                if not r.suspect and not (r.rate_solo > 0 and r.rate_with >= 0):
                    r = dataclasses.replace(r, noise=dataclasses.replace(
                        r.noise, suspect=True, reasons=("the probe did not run",),
                        flags=("no-time",)))
                    rounds[-1] = r
                if r.suspect:
                    suspect += 1
                else:
                    scaled = min(max(2.0 * r.ratio, 1.0 / RELEASE_CLIP), RELEASE_CLIP)
                    test.add(release=scaled)
                    out = test.look()
                    if out is not None:
                        outcome = out
                        break
                if i >= NOISE_STOP_MIN_ROUNDS and suspect > SUSPECT_MAX_FRACTION * i:
                    why = _summarise_reasons([x.noise for x in rounds[1:] if x.suspect],
                                             {"serial-cpu": "probe short of a core"})
                    reason = f"too noisy: {suspect} of {i} rounds were disturbed ({why})"
                    break
                if i >= MAX_ROUNDS_FACTOR * test.max_rounds:
                    reason = f"only {test.n} clean rounds in {i} ({suspect} suspect)"
                    break
        finally:
            probe.stop()

    if outcome is None:
        outcome = test.outcome(reason)
    reason = reason or outcome.reason
    v_par, v_ser = outcome.verdicts["parallel"], outcome.verdicts["serialized"]
    releases: bool | None = None
    if v_par == "confirmed" or v_ser == "refuted":
        releases = True
    elif v_ser == "confirmed" or v_par == "refuted":
        releases = False
    verdict = {True: "confirmed", False: "refuted", None: "inconclusive"}[releases]
    iv = outcome.intervals.get("release")
    ratio = None
    if iv is not None and test.n:
        ratio = dataclasses.replace(iv, value=iv.value / 2, low=iv.low / 2, high=iv.high / 2)
    return result(releases, verdict, reason, ratio=ratio, rounds=test.n, suspect=suspect,
                  call=call, k=k, cpu_ratio=cpu_ratio, raw=rounds)
