"""Measurement primitives beyond serial-vs-parallel, each a :class:`Design` for the one loop.

* :func:`measure_rounds` — your own experiment: a function that runs one round and returns
  its ratios; the loop does warm-up, order alternation, noise, budget and the sequential test;
* :func:`measure_parallelism` — how many CPUs ``N`` workers keep busy (CPU time / wall),
  decided alone: "only one thread runs at a time" is a statement about that figure;
* :func:`measure_fairness` — how evenly ``N`` CPU-bound threads of this interpreter progress,
  window by window (Jain's index): does one thread starve the others?
* :func:`measure_wakeup_latency` — how late a thread waking from a short sleep runs again
  beside CPU-bound threads, at several switch intervals (the convoy effect).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import settings
from ..runtimes.tasks import run_calls
from ..runtimes.threads import Call, task_calls
from ..vocabulary import Hypothesis, worker_noun
from .capacity import CapacityEstimate, recheck_refutation
from .check import Check, from_run, not_testable, record_check
from .rounds import Design, FunctionDesign, Round, run_rounds
from .scaling import check_pool, executor_for, fn_name, ideal_speedup, make_test

if TYPE_CHECKING:
    from ..profile import RuntimeProfile
    from ..stats import IdealEstimate, SequentialTest

__all__ = [
    "measure_fairness",
    "measure_parallelism",
    "measure_rounds",
    "measure_wakeup_latency",
]


def _profile(profile: RuntimeProfile | None) -> RuntimeProfile:
    from ..profile import runtime_profile

    return profile if profile is not None else runtime_profile()


# --------------------------------------------------------------------------------------------
# your own rounds


def measure_rounds(
    round_fn: Callable[[int, bool], Round | Mapping[str, float]],
    /,
    *,
    signals: Sequence[str],
    ideal: float | tuple[float, float] | CapacityEstimate,
    hypothesis: str,
    label: str,
    bound: Sequence[str] = (),
    claim: str | None = None,
    units: Mapping[str, str] | None = None,
    cpu_bound: bool | None = None,
    warmup: bool = True,
    budget: float | None = None,
    kind: str = "ratio",
    what: str = "",
    share_nothing: bool = False,
) -> Check:
    """Decide a ratio you measure yourself, with the same loop as every other check.

    ``round_fn(index, flipped)`` runs one round and returns its ratios, one per name in
    ``signals`` and ``bound`` (a ``dict``, or a :class:`~pytest_gil.Round` with raw figures
    and noise hints); round 0 is a warm-up and is discarded unless ``warmup=False``;
    ``flipped`` asks for the reverse order of your phases (ABBA).  Each signal is a positive
    ratio whose two hypotheses are ``1`` (``"serialized"``) and the ideal (``"parallel"``):
    a number, an interval ``(low, high)``, or the capacity the machine delivers
    (``ideal=delivered_capacity(n)``: each decision then uses the end of its interval at the
    level its own α pays, :mod:`pytest_gil.stats`).  The ``signals`` decide together (every one
    must agree); a ``bound`` signal is one the first signal cannot exceed (a CPU-time bound of
    a speedup), which may alone confirm "serialized" and refute "parallel"
    (:mod:`pytest_gil.stats`).  ``hypothesis`` names the one the check is about (it stops
    once that one is decided), and ``claim`` the word the record uses for it (``"grows"``).
    ``cpu_bound=True`` applies the noise criteria of computing work (foreign load, a serial
    phase short of a core).  Against a measured capacity, a refutation of "parallel" that no
    ``bound`` signal backs is examined again
    (:func:`~pytest_gil.engine.capacity.recheck_refutation`): ``round_fn`` may then be called
    for a second check, its indices starting from 0 again.  ``share_nothing=True`` says your
    parallel workers share no memory, locks or interpreter (separate processes): a refutation
    by the speedup while a ``bound`` signal's interval lies above the refute bound is then the
    machine's loss per CPU-second, and the check says *inconclusive* instead.

    >>> check = measure_rounds(lambda i, flip: {"growth": 8.1}, signals=["growth"],
    ...                        ideal=8, hypothesis="parallel", label="cost grows")  # doctest: +SKIP
    """
    hyp = Hypothesis.parse(hypothesis).value
    sigs, bounds_ = tuple(signals), tuple(bound)
    if not sigs or not all(isinstance(s, str) and s for s in (*sigs, *bounds_)):
        raise ValueError(f"signals must be non-empty names, got {signals!r}")
    if not callable(round_fn):
        raise TypeError(f"round_fn must be callable, got {round_fn!r}")
    word = claim or hyp
    the_ideal, why = _rounds_ideal(ideal)
    if the_ideal is None:
        return not_testable(kind=kind, label=label, hypothesis=word, what=what, reason=why,
                            ideal=ideal.value if isinstance(ideal, CapacityEstimate) else
                            float(ideal[0] if isinstance(ideal, tuple) else ideal))
    names = {s: (s, (units or {}).get(s, "x")) for s in (*sigs, *bounds_)}
    budget_s = settings.resolve_budget(budget)

    def measure() -> Check:
        design = FunctionDesign(round_fn, lambda: make_test(the_ideal, sigs, hyp, bound=bounds_),
                                label=label, cpu_bound=cpu_bound, warmup=warmup)
        return from_run(run_rounds(design, budget=budget_s), kind=kind, label=label,
                        hypothesis=word, names=names, what=what,
                        verdict_names={hyp: word} if word != hyp else None)

    check = measure()
    if isinstance(ideal, CapacityEstimate):
        check = recheck_refutation(check, ideal, bound=bounds_, rerun=measure,
                                   share_nothing=share_nothing)
    record_check(check)
    return check


# --------------------------------------------------------------------------------------------
# parallelism alone


def _rounds_ideal(ideal: float | tuple[float, float] | CapacityEstimate
                  ) -> tuple[float | tuple[float, float] | IdealEstimate | None, str]:
    """What :func:`measure_rounds` decides against, or ``None`` and why it cannot."""
    if isinstance(ideal, CapacityEstimate):
        if not (ideal.measured and ideal.low > 1):
            return None, (f"capacity of the machine: {ideal.format()}: not confidently above "
                          "one CPU's work")
        return ideal.ideal(), ""
    low = ideal[0] if isinstance(ideal, tuple) else ideal
    if not low > 1:
        return None, f"ideal {ideal} not above 1: the two hypotheses coincide"
    return ideal, ""


class ParallelismDesign(Design):
    """One round: the parallel phase only; its signal is P = CPU time / wall time."""

    cpu_bound = True

    def __init__(self, calls: Sequence[Call], executor: str, workers: int, ideal: float,
                 hypothesis: str, label: str) -> None:
        self.calls = list(calls)
        self.executor = executor
        self.workers = workers
        self.pool: cf.Executor | None = None
        self.ideal = ideal
        self.hypothesis = hypothesis
        self.label = label
        self._me = os.getpid()

    def sequential_test(self) -> SequentialTest:
        return make_test(self.ideal, ("parallelism",), self.hypothesis)

    def round(self, index: int, flipped: bool) -> Round:
        tl = run_calls(self.executor, self.calls, workers=self.workers, executor=self.pool)
        record = {"wall": round(tl.wall, 6), "cpu": round(tl.cpu, 6)}
        return Round({"parallelism": tl.parallelism}, record,
                     other_cpu=sum(t.cpu for t in tl.tasks if t.pid != self._me),
                     gil_enabled=tl.gil_enabled_after, gil_changed=tl.gil_changed)


def measure_parallelism(
    fn: Callable[..., Any],
    /,
    *fn_args: Any,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    task_args: Sequence[Sequence[Any]] | None = None,
    workers: int = 2,
    executor: str = "thread",
    tasks: int | None = None,
    hypothesis: str = "serialized",
    pool: cf.Executor | None = None,
    label: str | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
) -> Check:
    """How many CPUs do ``workers`` workers running ``fn`` keep busy?  ``P = CPU time / wall
    time`` of the parallel phase, decided alone at ideal ``min(workers, tasks, usable CPUs)``
    ("serialized": P ≈ 1, "parallel": P ≈ ideal).

    P stays ≤ 1 when one worker runs at a time, however they are scheduled, and reaches the
    ideal when they run together: the figure behind "only one thread executes bytecode at a
    time".  Only the parallel phase runs (P needs no serial phase).  Rounds under foreign
    load are excluded: load lowers P, which could pass for serialization.  Arguments as for
    :func:`~pytest_gil.measure_scaling`.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    check_pool(executor, pool)
    workers = settings.positive_int("workers", workers)
    hyp = Hypothesis.parse(hypothesis).value
    calls = task_calls(fn, fn_args, args, kwargs, task_args, tasks, default_tasks=workers)
    prof = _profile(profile)
    ideal = ideal_speedup(workers, len(calls), prof.usable_cpus)
    name = fn_name(fn)
    label = label or f"{name} on {worker_noun(executor, workers)}"
    setup = {"executor": executor, "workers": workers, "tasks": len(calls), "fn": name}
    what = f"{worker_noun(executor, workers)} × {name}: P (CPU / wall, one at a time ≈ 1)"
    if ideal <= 1:
        return not_testable(kind="parallelism", label=label, hypothesis=hyp, setup=setup,
                            ideal=ideal, what=what, runtime=prof.label(),
                            reason=f"ideal parallelism {ideal:g} ≤ 1 ({prof.usable_cpus} "
                                   "usable CPU)")
    design = ParallelismDesign(calls, executor, workers, ideal, hyp, label)
    with executor_for(executor, workers, pool) as design.pool:
        run = run_rounds(design, budget=settings.resolve_budget(budget))
    check = from_run(run, kind="parallelism", label=label, hypothesis=hyp,
                     names={"parallelism": ("parallelism", "CPUs")}, setup=setup, what=what,
                     runtime=prof.label())
    record_check(check)
    return check


# --------------------------------------------------------------------------------------------
# fairness

_CHUNK = 2000
"""Loop iterations between progress updates of a spinning thread: ~50 µs of work, far below
the 5 ms switch interval, so a window's count is exact to a fraction of a percent."""


def _spin(index: int, counts: list[int], stop: list[bool], go: threading.Event) -> None:
    while not stop[0]:
        go.wait()
        s = 0
        for _ in range(_CHUNK):
            s += 1
        counts[index] += s


class _Spinners:
    """``n`` threads running the counting loop while :attr:`go` is set; always joined.

    :meth:`pause` parks them between rounds, so the loop's own work (noise readings, the
    statistics) does not queue for the GIL behind them; :meth:`resume` releases them
    together."""

    def __init__(self, n: int, name: str) -> None:
        self.counts = [0] * n
        self.stop = [False]
        self.go = threading.Event()
        self.threads = [threading.Thread(target=_spin, args=(i, self.counts, self.stop,
                                                             self.go),
                                         daemon=True, name=f"pytest-gil-{name}-{i}")
                        for i in range(n)]

    def resume(self) -> None:
        self.go.set()

    def pause(self) -> None:
        self.go.clear()

    def __enter__(self) -> _Spinners:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop[0] = True
        self.go.set()
        for t in self.threads:
            t.join()


def jain(shares: Sequence[float]) -> float:
    """Jain's fairness index ``(Σx)² / (n·Σx²)``: 1 when all shares are equal, ``1/n`` when
    one participant gets everything (NaN when nothing was shared)."""
    total, squares = sum(shares), sum(x * x for x in shares)
    return total * total / (len(shares) * squares) if squares > 0 else math.nan


class FairnessDesign(Design):
    """One round: a window of the spinning threads; its signal is Jain's index × n.

    The window is exactly the sleep between two reads of the counters, taken inside the
    round, so nothing the loop does between rounds (noise readings, the statistics) falls in
    it: each read is a few bytecodes, and the main thread waits for the GIL only once, when
    it wakes up."""

    cpu_bound = True  # the spinning threads should own the CPUs: foreign load is noise

    def __init__(self, spinners: _Spinners, window: float) -> None:
        self.spinners = spinners
        self.window = window
        self.n = len(spinners.counts)
        self.label = f"fairness of {self.n} CPU-bound threads"

    def sequential_test(self) -> SequentialTest:
        return make_test(float(self.n), ("served",), "serialized")

    def round(self, index: int, flipped: bool) -> Round:
        before, t0 = list(self.spinners.counts), time.perf_counter()
        time.sleep(self.window)
        after, t1 = list(self.spinners.counts), time.perf_counter()
        deltas = [b - a for a, b in zip(before, after, strict=True)]
        total = sum(deltas)
        if total <= 0:
            return Round({"served": math.nan}, {"window": t1 - t0, "iterations": deltas})
        j = jain(deltas)
        return Round({"served": j * self.n}, {
            "window": round(t1 - t0, 6), "iterations": deltas,
            "shares": [round(d / total, 4) for d in deltas], "jain": round(j, 4)})


def measure_fairness(threads: int = 2, window: float = 0.1, *,
                     budget: float | None = None) -> Check:
    """Run ``threads`` CPU-bound Python threads and measure, window by window, how evenly they
    progress: Jain's index ``J = (Σx)² / (n·Σx²)`` of the iterations each completed (1 =
    equal shares, ``1/n`` = one thread gets everything).

    The signal is ``J·n``, the number of threads effectively served per window: ≈ 1 when one
    thread keeps the interpreter ("starves", decided as "serialized" at ideal ``n``), ≈ ``n``
    when they share it fairly.  The record gives Jain's index and the smallest share a thread
    got in a window.
    """
    settings.positive_int("threads", threads)
    if threads < 2:
        raise ValueError(f"fairness needs at least 2 threads, got {threads}")
    if not window > 0:
        raise ValueError(f"window must be a positive number of seconds, got {window!r}")
    from .. import stats  # noqa: F401  (imported before the spinners compete for the GIL)

    with _Spinners(threads, "fair") as spinners:
        spinners.resume()  # they spin throughout: the shares of a steady alternation
        design = FairnessDesign(spinners, window)
        run = run_rounds(design, budget=settings.resolve_budget(budget))
    used = [r.record for r in run.used() if "shares" in r.record]
    min_share = min((min(r["shares"]) for r in used), default=math.nan)
    what = (f"{threads} CPU-bound threads, windows of {window * 1000:g} ms (switch interval "
            f"{sys.getswitchinterval() * 1000:g} ms), smallest share of a window "
            f"{min_share:.1%}: threads served per window (J·n; one ≈ starving)")
    check = from_run(run, kind="fairness", label=design.label, hypothesis="starves",
                     names={"served": ("threads served (Jain × n)", "")}, what=what,
                     setup={"executor": "thread", "workers": threads, "tasks": threads},
                     verdict_names={"serialized": "starves"},
                     extra={"min_share": None if math.isnan(min_share) else min_share,
                            "switch_interval": sys.getswitchinterval()})
    record_check(check)
    return check


# --------------------------------------------------------------------------------------------
# wake-up latency beside CPU-bound threads


def _late_by(n: int, sleep: float) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        time.sleep(sleep)
        out.append(time.perf_counter() - t0 - sleep)
    return out


class LatencyDesign(Design):
    """One round: the mean wake-up delay at every switch interval (order reversed when
    flipped); its signal is latency(largest) / latency(smallest)."""

    cpu_bound = True  # foreign load delays a wake-up too: such rounds are excluded

    def __init__(self, intervals: Sequence[float], sleep: float, samples: int) -> None:
        self.intervals = list(intervals)
        self.sleep = sleep
        self.samples = samples
        self.label = "wake-up latency beside CPU-bound threads"
        self.per_interval: dict[float, list[float]] = {x: [] for x in self.intervals}
        self.hogs: _Spinners | None = None

    def sequential_test(self) -> SequentialTest:
        return make_test(self.intervals[-1] / self.intervals[0], ("latency_ratio",),
                         "parallel")

    def round(self, index: int, flipped: bool) -> Round:
        mean: dict[float, float] = {}
        if self.hogs is not None:
            self.hogs.resume()
        try:
            return self._round(index, flipped, mean)
        finally:
            if self.hogs is not None:
                self.hogs.pause()

    def _round(self, index: int, flipped: bool, mean: dict[float, float]) -> Round:
        for si in (reversed(self.intervals) if flipped else self.intervals):
            sys.setswitchinterval(si)
            _late_by(1, self.sleep)  # the first wake-up may still run on the old interval
            # The mean, not the median: on a loaded machine the CPU-bound thread sometimes has
            # not re-taken the GIL when the sleeper wakes (a fast sample), which makes the
            # distribution bimodal; the mean keeps the convoy's share in the figure.
            mean[si] = statistics.fmean(_late_by(self.samples, self.sleep))
        if index:
            for si, v in mean.items():
                self.per_interval[si].append(v)
        lo, hi = mean[self.intervals[0]], mean[self.intervals[-1]]
        return Round({"latency_ratio": hi / lo if lo > 0 else math.nan}, {
            "mean_latency": {f"{si * 1000:g}ms": round(v, 6) for si, v in mean.items()}})

    def series(self) -> list[dict[str, Any]]:
        from ..stats import interval

        out: list[dict[str, Any]] = []
        for si in self.intervals:
            vals = [v for v in self.per_interval[si] if v > 0]
            if not vals:
                out.append({"x": si, "value": None, "low": None, "high": None, "n": 0})
                continue
            iv = interval([math.log(v) for v in vals])
            out.append({"x": si, **iv.to_dict(), "n": iv.n})
        return out


def measure_wakeup_latency(
    switch_intervals: Sequence[float] = (0.001, 0.005, 0.020),
    *,
    cpu_threads: int = 1,
    sleep: float = 0.002,
    samples: int = 6,
    budget: float | None = None,
) -> Check:
    """How late does a thread that sleeps ``sleep`` seconds run again while ``cpu_threads``
    threads run a counting loop, at each switch interval?  (``cpu_threads=0``: the sleeper
    alone, the control where the latency does not depend on the interval.)

    With a GIL the waking thread waits for a CPU-bound thread to drop it, which it is asked to
    do only after a full switch interval (``Python/ceval_gil.c``): the latency grows with the
    interval.  Without a GIL it stays at the OS wake-up latency.  The signal is
    ``latency(largest interval) / latency(smallest)``, whose ideal under the convoy model is
    the ratio of the intervals; "grows" is decided as "parallel" at that ideal.
    ``sys.setswitchinterval`` is restored afterwards.
    """
    sis = sorted(float(x) for x in switch_intervals)
    if len(sis) < 2 or sis[0] <= 0:
        raise ValueError("need at least two positive switch intervals")
    if not isinstance(cpu_threads, int) or isinstance(cpu_threads, bool) or cpu_threads < 0:
        raise ValueError(f"cpu_threads must be 0 (the sleeper alone: a control) or more, got "
                         f"{cpu_threads!r}")
    settings.positive_int("samples", samples)
    from .. import stats  # noqa: F401  (imported before the hogs compete for the GIL)

    saved = sys.getswitchinterval()
    baseline = statistics.median(_late_by(samples * 2, sleep))
    design = LatencyDesign(sis, sleep, samples)
    try:
        with _Spinners(cpu_threads, "hog") as design.hogs:
            run = run_rounds(design, budget=settings.resolve_budget(budget))
    finally:
        sys.setswitchinterval(saved)
    what = (f"a thread sleeping {sleep * 1000:g} ms beside {cpu_threads} CPU-bound thread(s), "
            f"idle baseline {baseline * 1000:.3f} ms late: latency at "
            f"{sis[-1] * 1000:g} ms / at {sis[0] * 1000:g} ms switch interval")
    check = from_run(run, kind="latency", label=design.label, hypothesis="grows",
                     names={"latency_ratio": ("latency ratio", "x")}, what=what,
                     setup={"executor": "thread", "workers": cpu_threads + 1,
                            "tasks": samples},
                     verdict_names={"parallel": "grows"},
                     extra={"series": design.series(), "x_name": "switch interval (s)",
                            "y_name": "wake-up latency (s)", "baseline": baseline,
                            "switch_interval_restored": saved})
    record_check(check)
    return check
