"""Scaling and overlap: the same work serially and on N workers, in paired rounds.

:func:`measure_scaling` runs the calls of a workload one after another (the serial phase; of
identical calls, one per worker, its time scaled to all: :func:`serial_sample`) and
on ``workers`` threads, processes or sub-interpreters (the parallel phase), in paired rounds
(:mod:`pytest_gil.engine.rounds`), and decides "serialized" and "parallel" on two signals per
round: the speedup ``T_serial / T_parallel`` and, for work that computes, the parallelism
``P = CPU time / wall time`` of the parallel phase.  :func:`measure_overlap` does the same for
sleeping/IO work, where the ideal is the number of tasks that can wait at once.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import settings
from ..runtimes.faults import check_picklable
from ..runtimes.tasks import run_calls
from ..runtimes.threads import Call, task_calls
from ..vocabulary import EXECUTOR_KINDS, Hypothesis, worker_noun
from .check import Check, Figure, from_run, not_testable, record_check
from .rounds import Design, Round, run_rounds

if TYPE_CHECKING:
    from ..profile import RuntimeProfile
    from ..runtimes.timeline import Timeline
    from ..stats import IdealEstimate, SequentialTest

__all__ = [
    "CPU_BOUND_MIN",
    "POOL_TASKS_PER_WORKER",
    "WAITING_CPU_MAX",
    "ScalingResult",
    "measure_overlap",
    "measure_scaling",
]

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

POOL_TASKS_PER_WORKER = 4
"""Default tasks per worker for process and sub-interpreter pools.  A pool phase pays dispatch
(~0.1–0.2 ms a task) and, on shared virtual machines, bursts where a busy vCPU runs at half
speed for tens of milliseconds without any steal being reported (measured on this project's
2-CPU CI machines: single 50 ms tasks in a 2-worker pool took 45–90 ms while the serial phase
stayed at 45–50 ms).  With one task per worker a single slow task halves a round's speedup
(per-round ln-speedup sd ≈ 0.3, so 20 rounds rarely decide); with four per worker the burst
is averaged over the phase (sd ≈ 0.07, decided in 3–5 rounds) for a 4× longer parallel phase
(the serial phase runs one call per worker and is scaled: :func:`serial_sample`)."""

POOL_SHUTDOWN_TIMEOUT = 10.0
"""Seconds an idle pool of ours may take to exit before its workers are terminated: process
exit is milliseconds; ten seconds only matters on a machine so loaded nothing else works."""


class ScalingResult(Check):
    """What :func:`measure_scaling` / :func:`measure_overlap` found (a :class:`Check`).

    ``verdicts`` maps ``"serialized"`` and ``"parallel"`` (and, for overlap checks,
    ``"overlaps"`` = ``"parallel"``) to a :class:`~pytest_gil.Verdict`; ``speedup`` and
    ``parallelism`` are :class:`~pytest_gil.Figure` (geometric mean with one-sided bounds at
    the per-look confirm level) or ``None`` when not measured.
    """

    @property
    def speedup(self) -> Figure | None:
        return self.figures.get("speedup")

    @property
    def parallelism(self) -> Figure | None:
        return self.figures.get("parallelism")

    @property
    def executor(self) -> str:
        return str(self.setup.get("executor", ""))

    @property
    def workers(self) -> int:
        return int(self.setup.get("workers", 0))

    @property
    def tasks(self) -> int:
        return int(self.setup.get("tasks", 0))

    @property
    def cpu_bound(self) -> bool:
        return bool(self.setup.get("cpu_bound", False))


def ideal_speedup(workers: int, tasks: int, usable_cpus: int, *, cpu_bound: bool = True
                  ) -> float:
    """The speedup ``tasks`` calls on ``workers`` workers reach at best: ``min(workers, tasks,
    usable CPUs)`` for work that computes; ``min(workers, tasks)`` for work that waits
    (waiting needs no CPU)."""
    return float(min(workers, tasks, usable_cpus) if cpu_bound else min(workers, tasks))


def pool_kind(pool: cf.Executor) -> str | None:
    """The executor kind a pool runs its tasks on, when it can be told: ``"interpreter"``
    (an ``InterpreterPoolExecutor``), ``"thread"``, ``"process"``; ``None`` for other
    executors (the caller's ``executor=`` is taken at its word)."""
    names = {c.__name__ for c in type(pool).__mro__}
    if "InterpreterPoolExecutor" in names:
        return "interpreter"
    if isinstance(pool, cf.ThreadPoolExecutor):
        return "thread"
    if isinstance(pool, cf.ProcessPoolExecutor) or "ManagedProcessPool" in names:
        return "process"
    return None


def check_pool(executor: str, pool: cf.Executor | None) -> None:
    """``ValueError`` when ``pool`` is of a kind other than ``executor``."""
    if executor not in EXECUTOR_KINDS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTOR_KINDS)}, got "
                         f"{executor!r}")
    if pool is None:
        return
    if not isinstance(pool, cf.Executor):
        raise TypeError(f"pool must be a concurrent.futures.Executor, got {pool!r}")
    kind = pool_kind(pool)
    if kind is not None and kind != executor:
        raise ValueError(f"pool is a {type(pool).__name__}, which runs tasks on {kind} "
                         f"workers, but executor={executor!r}: pass executor={kind!r}, or a "
                         f"pool of {executor} workers")


def fn_name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


class ScalingDesign(Design):
    """One round: the calls serially, then on the workers (or the other way round).

    Signals per round: the ``speedup`` ``T_serial / T_parallel``; for work that computes, the
    ``cpu_speedup`` ``P / c`` — the parallel phase's CPU time per wall second (``P``) over the
    serial phase's (``c``, the share of a core it got).  ``speedup = cpu_speedup · R`` exactly,
    with ``R`` the CPU-seconds the work needed serially over those it used in parallel; the
    same work does not need fewer CPU-seconds when run in parallel (contention, SMT and
    all-core clocks only add), so ``R ≤ 1`` and ``cpu_speedup`` bounds the speedup from
    above.  It is immune to the machine's speed bursts (they change how much work a
    CPU-second does, not how many CPU-seconds run), so it decides "serialized" and refutes
    "parallel" in a few rounds where the speedup needs many (:mod:`pytest_gil.stats`).
    ``parallelism`` (``P``) is recorded.
    """

    def __init__(self, calls: Sequence[Call], *, executor: str, workers: int,
                 pool: cf.Executor | None, ideal: float | tuple[float, float] | IdealEstimate,
                 hypothesis: str | None, cpu_bound: bool | None, waiting: bool,
                 label: str, threshold: float | None = None) -> None:
        self.calls = list(calls)
        self.serial_calls = serial_sample(self.calls, workers)
        self.threshold = threshold  # decide "at least / at most X" (stats module doc)
        self.executor = executor
        self.workers = workers
        self.pool = pool
        self.ideal = ideal
        self.hypothesis = hypothesis
        self.cpu_bound = False if waiting else cpu_bound
        self.label = label
        self._fixed_cpu_bound = self.cpu_bound is not None
        self._me = os.getpid()

    def _serial(self, calls: Sequence[Call]) -> tuple[Timeline, float | None]:
        from ..noise import thread_schedstat

        s0 = thread_schedstat()
        tl = run_calls("serial", calls)
        s1 = thread_schedstat()
        demand = (None if s0 is None or s1 is None or tl.wall <= 0
                  else (s1[0] - s0[0] + s1[1] - s0[1]) / tl.wall)
        return tl, demand

    def _parallel(self, calls: Sequence[Call]) -> Timeline:
        return run_calls(self.executor, calls, workers=self.workers, executor=self.pool)

    def warm_up(self) -> Round:
        """One call serially — first-call costs, and whether the work computes — and, on a
        pool, one call per worker (each worker's first call); not a whole round."""
        ser, demand = self._serial(self.calls[:1])
        states = {ser.gil_enabled_before, ser.gil_enabled_after}
        if self.executor != "thread":
            par = self._parallel(self.calls[: self.workers])
            states |= {par.gil_enabled_before, par.gil_enabled_after}
        if not self._fixed_cpu_bound:
            if demand is not None:
                self.cpu_bound = demand >= CPU_BOUND_MIN
            else:
                self.cpu_bound = not (ser.wall > 0 and ser.cpu / ser.wall < WAITING_CPU_MAX)
        return Round({}, {"serial_demand": None if demand is None else round(demand, 4),
                          "t_call": round(ser.wall, 6)},
                     gil_enabled=ser.gil_enabled_after, gil_changed=len(states) > 1)

    def round(self, index: int, flipped: bool) -> Round:
        tl: dict[str, Timeline] = {}
        demand: float | None = None
        for which in ("PS" if flipped else "SP"):
            if which == "S":
                tl["S"], demand = self._serial(self.serial_calls)
            else:
                tl["P"] = self._parallel(self.calls)
        ser, par = tl["S"], tl["P"]
        states = {ser.gil_enabled_before, ser.gil_enabled_after, par.gil_enabled_before,
                  par.gil_enabled_after}
        c = ser.cpu / ser.wall if ser.wall > 0 else math.nan
        p = par.cpu / par.wall if par.wall > 0 else math.nan
        t_serial = ser.wall * len(self.calls) / len(self.serial_calls)  # all, one by one
        values = {"speedup": t_serial / par.wall if par.wall > 0 else math.nan,
                  "cpu_speedup": p / c if c > 0 else math.nan, "parallelism": p}
        record = {"t_serial": round(ser.wall, 6), "t_parallel": round(par.wall, 6),
                  "cpu_serial": round(ser.cpu, 6), "cpu_parallel": round(par.cpu, 6),
                  "order": "PS" if flipped else "SP",
                  "serial_demand": None if demand is None else round(demand, 4)}
        if len(self.serial_calls) != len(self.calls):
            record["serial_calls"] = len(self.serial_calls)
        return Round(values, record,
                     other_cpu=sum(t.cpu for t in par.tasks if t.pid != self._me),
                     serial_cpu_ratio=None if math.isnan(c) else c,
                     gil_enabled=par.gil_enabled_after, gil_changed=len(states) > 1)

    def sequential_test(self) -> SequentialTest:
        claims = None if self.threshold is None or self.hypothesis is None else (
            self.hypothesis,)
        if self.cpu_bound:
            return make_test(self.ideal, ("speedup",), self.hypothesis, bound=("cpu_speedup",),
                             report=("parallelism",), threshold=self.threshold, claims=claims)
        return make_test(self.ideal, ("speedup",), self.hypothesis, threshold=self.threshold,
                         claims=claims)

    @property
    def signals(self) -> tuple[str, ...]:
        return ("speedup", "cpu_speedup", "parallelism") if self.cpu_bound else ("speedup",)


def serial_sample(calls: Sequence[Call], workers: int) -> list[Call]:
    """The calls the serial phase runs: all of them, or — when every task is the same call
    (one function, the same arguments: ``measure_scaling(fn, x, tasks=8)``) — as many as
    there are workers, the phase's time then scaled to all the tasks.  One per worker: the
    serial phase then covers as many calls as the parallel phase runs at once, so it is never
    shorter than a round of one task per worker was (its timing noise no larger).

    Identical calls take the same time one after another, so ``tasks / k`` times the time of
    ``k`` of them is the serial time of all ``tasks``; the parallel phase still runs every
    task.  A pool round (4 tasks per worker, :data:`POOL_TASKS_PER_WORKER`) spent two thirds
    of its time in the serial phase, whose spread is small (it runs on one CPU: measured here,
    log-sd ≈ 0.05 over 8 calls of 25 ms); running a quarter of it halves the round.  Measured
    on this project's 2-vCPU VM, 2 processes × 8 calls of 50 ms, both designs interleaved:
    median 4.2 s to a verdict (11 of 12 decided) against 8.6 s (10 of 12), the same mean
    speedup (1.88× vs 1.90×).  Tasks with their own arguments (``task_args``) or their own
    functions are all run."""
    k = min(len(calls), workers)
    if k < len(calls) and all(c is calls[0] for c in calls):
        return list(calls[:k])
    return list(calls)


def make_test(ideal: float | tuple[float, float] | IdealEstimate, primary: Sequence[str],
              stop_on: str | None, *, bound: Sequence[str] = (),
              report: Sequence[str] = (), threshold: float | None = None,
              claims: Sequence[str] | None = None) -> SequentialTest:
    """A :class:`~pytest_gil.stats.SequentialTest` with the run's α (``threshold``: test
    against that one bound, :mod:`pytest_gil.stats`)."""
    from .. import stats

    s = settings.current()
    return stats.SequentialTest(ideal, primary=tuple(primary), bound=tuple(bound),
                                report=tuple(report),
                                claims=tuple(claims) if claims else stats.CLAIMS,  # type: ignore[arg-type]
                                stop_on=stop_on,  # type: ignore[arg-type]
                                alpha_confirm=s.alpha_confirm, alpha_refute=s.alpha_refute,
                                threshold=threshold)


@contextlib.contextmanager
def executor_for(executor: str, workers: int, pool: cf.Executor | None
                 ) -> Iterator[cf.Executor | None]:
    """The pool a measurement runs its parallel phase on: ``pool`` when given; none for
    threads (started per phase); else a process or interpreter pool made here, under the
    run's measurement lock, and shut down on exit (terminated if the measurement failed)."""
    if pool is not None or executor == "thread":
        yield pool
        return
    from ..runtimes.pools import ManagedProcessPool, terminate_executor

    with settings.exclusive():
        own: cf.Executor
        if executor == "process":
            own = ManagedProcessPool(workers, settings.current().start_method)
        else:
            from ..runtimes.subinterp import InterpreterPoolExecutor

            own = InterpreterPoolExecutor(max_workers=workers)
        clean = False
        try:
            yield own
            clean = True
        finally:
            terminate_executor(own, wait=clean, timeout=POOL_SHUTDOWN_TIMEOUT)


def _not_testable_reason(executor: str, ideal: float, workers: int, tasks: int,
                         prof: RuntimeProfile, pool: cf.Executor | None) -> str:
    if ideal <= 1:
        cpus = prof.usable_cpus
        return (f"ideal speedup {ideal:g} ≤ 1 ({workers} workers, {tasks} tasks, {cpus} usable "
                f"CPU{'s' if cpus != 1 else ''}): serial and parallel execution predict the "
                "same time")
    if executor == "interpreter" and pool is None:
        from ..runtimes.subinterp import unavailable_reason

        return unavailable_reason() or ""
    return ""


def capacity_ideal(n: int) -> tuple[IdealEstimate | None, str, dict[str, Any]]:
    """The ideal of ``n`` parallel workers doing CPU-bound work: the capacity the machine
    delivers, as an estimate (:mod:`pytest_gil.engine.capacity`), or ``None`` with the
    reason when it is not confidently above one CPU's worth."""
    from .capacity import delivered_capacity

    est = delivered_capacity(n)
    info = {"capacity": est.to_dict()}
    if not est.measured:
        return None, f"capacity of the machine: {est.format()}", info
    if not est.low > 1:
        return None, (f"the machine delivers {est.format()} (of {n} usable CPUs): not "
                      "confidently more than one CPU's work in parallel, so 'parallel' "
                      "cannot be told from 'serialized'"), info
    return est.ideal(), "", info


def _measure(fn: Callable[..., Any], calls: list[Call], *, waiting: bool, executor: str,
             workers: int, pool: cf.Executor | None, hypothesis: str | None,
             label: str | None, cpu_bound: bool | None, budget: float | None,
             profile: RuntimeProfile | None, ideal: float | None,
             threshold: tuple[str, float] | None = None, record: bool = True
             ) -> ScalingResult:
    """Measure and decide; ``threshold=("at-least" | "at-most", X)`` decides the speedup
    against ``X`` instead of "serialized"/"parallel" (:func:`assert_speedup`); ``record=False``
    returns the check without recording it (a point of :func:`~pytest_gil.measure_curve`)."""
    from ..profile import runtime_profile

    prof = profile if profile is not None else runtime_profile()
    tasks = len(calls)
    name = fn_name(fn)
    label = label or _default_label(name, executor, workers, threshold)
    waits = waiting or cpu_bound is False
    nominal = ideal_speedup(workers, tasks, prof.usable_cpus, cpu_bound=not waits)
    setup: dict[str, Any] = {"executor": executor, "workers": workers, "tasks": tasks,
                             "fn": name, "cpu_bound": cpu_bound}
    what = f"{worker_noun(executor, workers)} × {name}" + (f" ({tasks} tasks)" * (tasks != workers))
    kind = "overlap" if waiting else "scaling"
    hyp = "overlaps" if waiting else (hypothesis or "parallel")

    def done(result: ScalingResult) -> ScalingResult:  # a curve's points are not recorded
        return _record(result) if record else result

    def skip(why: str) -> ScalingResult:
        return done(_as_result(not_testable(
            kind=kind, label=label, hypothesis=hyp, reason=why, setup=setup,
            ideal=ideal if ideal is not None else nominal, what=what, runtime=prof.label())))

    if threshold is not None:
        hyp, names = threshold[0], {THRESHOLD_CLAIMS[threshold[0]]: threshold[0]}
        hypothesis = THRESHOLD_CLAIMS[threshold[0]]
        why = _threshold_not_testable(threshold, nominal, prof)
    else:
        names = {"parallel": "overlaps"} if waiting else {}
        why = _not_testable_reason(executor, nominal if ideal is None else ideal, workers,
                                   tasks, prof, pool)
    if why:
        return skip(why)
    budget_s = settings.resolve_budget(budget)
    if executor != "thread" and calls:  # what cannot cross fails before any measuring
        check_picklable(calls[0][0], calls[0][1], dict(calls[0][2]), executor)
    the_ideal, why = _decided_against(threshold, ideal, nominal, waits, setup)
    if the_ideal is None:
        return skip(why)

    def measure() -> Check:
        design = ScalingDesign(calls, executor=executor, workers=workers, pool=pool,
                               ideal=the_ideal, hypothesis="parallel" if waiting else hypothesis,
                               cpu_bound=cpu_bound, waiting=waiting, label=label,
                               threshold=None if threshold is None else threshold[1])
        with executor_for(executor, workers, pool) as design.pool:
            run = run_rounds(design, budget=budget_s)
        setup.update(cpu_bound=bool(design.cpu_bound), signals=list(design.signals))
        decided = (decided_hypothesis(run.verdicts()) if not waiting and hypothesis is None
                   else hyp)
        return from_run(run, kind=kind, label=label, hypothesis=decided, names=SIGNAL_NAMES,
                        setup=setup, what=what, verdict_names=names or None,
                        runtime=prof.label())

    check = measure()
    if threshold is None and not waiting and isinstance(setup.get("capacity"), dict):
        from .capacity import CapacityEstimate, recheck_refutation

        check = recheck_refutation(check, CapacityEstimate.from_dict(setup["capacity"]),
                                   rerun=measure, share_nothing=executor == "process")
    return done(_as_result(check))


def _default_label(name: str, executor: str, workers: int,
                   threshold: tuple[str, float] | None) -> str:
    """``calc in 2 threads`` (``: speedup at least 1.5x`` with a threshold)."""
    label = f"{name} in {worker_noun(executor, workers)}"
    if threshold is not None:
        label += f": speedup {threshold[0].replace('-', ' ')} {threshold[1]:g}x"
    return label


SIGNAL_NAMES = {"speedup": ("speedup", "x"), "cpu_speedup": ("CPU-time speedup bound", "x"),
                "parallelism": ("parallelism", "CPUs")}
"""Each signal of a scaling check as a figure: its name and unit."""


def _decided_against(threshold: tuple[str, float] | None, ideal: float | None,
                     nominal: float, waits: bool, setup: dict[str, Any]
                     ) -> tuple[float | IdealEstimate | None, str]:
    """What the sequential test decides against — a threshold, the ideal given, the
    capacity the machine delivers (work that computes) or the nominal ideal (work that
    waits) — or ``None`` with the reason the machine cannot tell (the capacity's figures go
    to ``setup``)."""
    if threshold is not None:
        if threshold[0] == "at-least" and not waits and ideal is None:
            why, info = _capacity_below(threshold[1], int(nominal))
            setup.update(info)
            if why:
                return None, why
        return threshold[1], ""
    if ideal is not None or waits:
        return (nominal if ideal is None else ideal), ""
    estimate, why, info = capacity_ideal(int(nominal))
    setup.update(info)
    return estimate, why


THRESHOLD_CLAIMS = {"at-least": "parallel", "at-most": "serialized"}
"""The side of the sequential test a threshold assertion decides: "the speedup is at least X"
is confirmed like "parallel" (lower bound above X), "at most X" like "serialized"."""


def _threshold_not_testable(threshold: tuple[str, float], nominal: float,
                            prof: RuntimeProfile) -> str:
    """A speedup of at least ``X`` above what the workers could give on this machine's
    usable CPUs cannot be shown here, whatever the code does; "at most" is always testable."""
    kind, x = threshold
    if kind == "at-least" and x > nominal:
        return (f"a speedup of at least {x:g}× needs more than the {nominal:g}× the workers "
                f"can give on {prof.usable_cpus} usable CPU"
                f"{'s' if prof.usable_cpus != 1 else ''}")
    return ""


def _capacity_below(x: float, n: int) -> tuple[str, dict[str, Any]]:
    """Why "at least ``x``" cannot be shown when the machine confidently delivers less than
    ``x`` CPUs' work to ``n`` workers (its SMT siblings or hypervisor, not the code)."""
    from .capacity import delivered_capacity

    est = delivered_capacity(n)
    info = {"capacity": est.to_dict()}
    if not est.measured:
        return f"capacity of the machine: {est.format()}", info
    if est.high < x:
        return (f"a speedup of at least {x:g}× needs more than the machine delivers to {n} "
                f"workers: {est.format()}"), info
    return "", info


def decided_hypothesis(verdicts: Mapping[str, str]) -> str:
    """The hypothesis a check without one asked about is reported under: the one confirmed,
    else the one refuted, else ``"parallel"``."""
    for wanted in ("confirmed", "refuted"):
        for hyp in ("serialized", "parallel"):
            if verdicts.get(hyp) == wanted:
                return hyp
    return "parallel"


def _as_result(check: Check) -> ScalingResult:
    return ScalingResult(**check.fields())


def _record(result: ScalingResult) -> ScalingResult:
    record_check(result)
    return result


def measure_scaling(
    fn: Callable[..., Any],
    /,
    *fn_args: Any,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    task_args: Sequence[Sequence[Any]] | None = None,
    workers: int = 2,
    executor: str = "thread",
    tasks: int | None = None,
    hypothesis: str | None = None,
    pool: cf.Executor | None = None,
    label: str | None = None,
    cpu_bound: bool | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
    ideal: float | None = None,
) -> ScalingResult:
    """Measure whether the calls of ``fn`` run faster on ``workers`` workers of ``executor``
    than one after another, and decide "serialized" and "parallel".

    * The function's arguments: positionally after ``fn`` (a shorthand), or ``args=(...)`` and
      ``kwargs={...}``, so that no keyword of ``fn`` is ever taken for one of these;
      ``task_args=[(...), ...]`` gives task ``i`` its own positional arguments.
    * ``executor``: ``"thread"``, ``"process"`` (``fn`` must be a module-level function with
      picklable arguments) or ``"interpreter"`` (sub-interpreters, CPython 3.12+;
      not-testable elsewhere).  ``pool``: an executor of that kind to use (e.g. the
      ``process_pool`` fixture, or a ``ThreadPoolExecutor``); by default threads are started
      per phase and a process or interpreter pool is made and shut down here.  A pool of
      another kind than ``executor`` is refused.
    * ``tasks`` defaults to ``workers`` for threads and to ``4 × workers`` for process and
      sub-interpreter pools (:data:`POOL_TASKS_PER_WORKER`).  When every task is the same
      call, the serial phase runs one per worker and its time is scaled to all the tasks
      (:func:`serial_sample`; a round's record says ``serial_calls``).  The ideal of work
      that computes is the capacity the machine delivers to ``min(workers, tasks, usable
      CPUs)`` parallel workers, measured once per session (:mod:`pytest_gil.engine.capacity`);
      of work that waits (``cpu_bound=False``), ``min(workers, tasks)``; ``ideal=`` sets it.
      With an ideal ≤ 1, or a capacity not confidently above one CPU's work, nothing is
      measured: "not-testable".
    * ``hypothesis``: stop as soon as this one (``"serialized"`` or ``"parallel"``) is
      decided; ``None`` stops at the first one decided.  Both verdicts are reported.
    * ``cpu_bound``: whether the work computes (the CPU-time signal, the capacity ideal, the
      CPU noise criteria); ``None`` tells from the warm-up call (its demand for a CPU).
    * ``budget`` (seconds): default ``--gil-budget``.

    >>> from pytest_gil.workloads import calc
    >>> r = measure_scaling(calc, 2_000_000, workers=2)  # doctest: +SKIP
    >>> r.verdicts["serialized"]  # doctest: +SKIP
    'confirmed'
    """
    if hypothesis is not None:
        hypothesis = Hypothesis.parse(hypothesis).value
    return scaling_check(fn, fn_args, args=args, kwargs=kwargs, task_args=task_args,
                         workers=workers, executor=executor, tasks=tasks,
                         hypothesis=hypothesis, pool=pool, label=label, cpu_bound=cpu_bound,
                         budget=budget, profile=profile, ideal=ideal)


def scaling_check(fn: Callable[..., Any], fn_args: Sequence[Any], *,
                  args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None,
                  task_args: Sequence[Sequence[Any]] | None = None, workers: int = 2,
                  executor: str = "thread", tasks: int | None = None,
                  hypothesis: str | None = None, pool: cf.Executor | None = None,
                  label: str | None = None, cpu_bound: bool | None = None,
                  budget: float | None = None, profile: RuntimeProfile | None = None,
                  ideal: float | None = None,
                  threshold: tuple[str, float] | None = None,
                  record: bool = True) -> ScalingResult:
    """:func:`measure_scaling` with ``threshold`` (engine-internal: the assertions'
    "at least / at most X") and ``record=False`` (the points of a curve, which records one
    check of its own)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    check_pool(executor, pool)
    workers = settings.positive_int("workers", workers)
    default_tasks = workers * (POOL_TASKS_PER_WORKER if executor != "thread" else 1)
    calls = task_calls(fn, fn_args, args, kwargs, task_args, tasks, default_tasks=default_tasks)
    return _measure(fn, calls, waiting=False, executor=executor, workers=workers, pool=pool,
                    hypothesis=hypothesis, label=label, cpu_bound=cpu_bound, budget=budget,
                    profile=profile, ideal=ideal, threshold=threshold, record=record)


def measure_overlap(
    fn: Callable[..., Any],
    /,
    *fn_args: Any,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    task_args: Sequence[Sequence[Any]] | None = None,
    tasks: int = 4,
    workers: int | None = None,
    executor: str = "thread",
    pool: cf.Executor | None = None,
    label: str | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
) -> ScalingResult:
    """Measure whether ``tasks`` sleeping/IO-waiting calls of ``fn`` overlap: on ``workers``
    (default ``tasks``) workers they should finish in ≈ one call's time.

    The ideal speedup is ``min(workers, tasks)`` — waiting needs no CPU, so the CPU count does
    not limit it — and only the speedup signal is used.  The hypothesis is ``"overlaps"``
    (decided as ``"parallel"``).  Arguments as for :func:`measure_scaling`.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    check_pool(executor, pool)
    n_tasks = len(task_args) if task_args is not None else settings.positive_int("tasks", tasks)
    workers = settings.positive_int("workers", workers if workers is not None else n_tasks)
    calls = task_calls(fn, fn_args, args, kwargs, task_args,
                       None if task_args is not None else n_tasks, default_tasks=n_tasks)
    return _measure(fn, calls, waiting=True, executor=executor, workers=workers, pool=pool,
                    hypothesis="parallel", label=label, cpu_bound=False, budget=budget,
                    profile=profile, ideal=None)
