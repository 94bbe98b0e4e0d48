"""The capacity the machine delivers to N parallel workers, measured, not assumed.

``min(workers, usable CPUs)`` is what the operating system promises, not what the machine
delivers: two vCPUs that are SMT siblings, or that a busy hypervisor time-slices, get about
1.5 CPUs of work done while each reports full CPU time (measured on this project's CI
machines: two processes of a pure loop ran 1.34–1.58× faster than one).  A check comparing a
speedup with an assumed ideal of 2 then sits on its bounds, and on a weaker machine a speedup
that is all the machine can give would be read as "serialized".

The *capacity* ``K`` is measured instead: ``N`` worker processes run a counting loop that
shares nothing, all at once for a window of :data:`WINDOW` seconds, then one of them alone
for the same window; ``K`` is the work the ``N`` did per second over the work one did.
:data:`WINDOWS` pairs of windows (order alternated) give the geometric mean and an interval;
the sequential test decides against the end of that interval that makes each decision harder
(:mod:`pytest_gil.stats`).

Why once per session and not in every round: measured on this project's 2-vCPU machine, the
capacity of a single 20 ms window varies by a log-sd of 0.10–0.23 and is uncorrelated with the
speedup of the round it sits in (r = −0.2…0.1): the machine's bursts last tens of
milliseconds and hit one phase, not its neighbour.  Pairing a round with its own capacity
window therefore added that noise to every contrast — it tripled the noise of the CPU-time
route that decides "serialized" — instead of cancelling any.  A precise estimate from many
windows, reused by the session's checks and refreshed after :data:`MAX_AGE` seconds, keeps the
bounds honest without that cost.  It is shared by xdist workers and recorded in the report.

What the spinner does not know: how much a *given* workload loses when the sibling vCPU is
busy.  The spinner's loop and the tutorial's ``calc`` lose alike on CPython 3.11 (two copies
together do 0.99–1.02 of their alone-work per CPU-second on this project's VM), but 3.13's
``calc`` loses more and less steadily (0.90–0.96, window log-sd 0.20 against the spinner's
0.06–0.12; same machine, same minutes).  A process check of such work reaches less of the
capacity — in one 3.13 check the CPU-time bound stayed at 1.77–1.96× while the work per
CPU-second drifted between 0.73 and 0.99 over seconds, and the speedup with it — so it needs
more rounds to clear the confirm bound, or stays *inconclusive*.  The verdict stays sound (the
bound is an upper end); only its speed depends on the workload's own sensitivity.  The loss
can be far larger and last minutes: in this project's CI on 3.12, ``calc`` in 2–4 busy
processes did 0.63 of its serial work per CPU-second for two whole checks while the spinner
read 1.90–1.93× — which is why a refutation of share-nothing workers that kept the CPUs busy
is never taken from the speedup (:func:`recheck_refutation`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import settings

if TYPE_CHECKING:
    from ..stats import IdealEstimate
    from .check import Check, Figure

__all__ = [
    "CHUNK",
    "LEAD",
    "MAX_AGE",
    "MIN_WINDOWS",
    "RETRY_AFTER",
    "WINDOW",
    "WINDOWS",
    "CapacityEstimate",
    "delivered_capacity",
    "measure_capacity",
    "recheck_refutation",
    "spin_window",
]

WINDOW = 0.040
"""Seconds each spinner counts in a window: eight 5 ms scheduler quanta; the start skew of
the workers (≈ 0.1–0.3 ms) is under 1% of it."""

WINDOWS = 48
"""Pairs of windows per estimate (≈ 4 s, once per session).  The per-pair log-sd is
0.08–0.22 on this project's 2-vCPU machine, and longer windows do not lower it (measured at
40, 100 and 200 ms: the capacity drifts over seconds, not milliseconds), so precision comes
from pairs: at sd 0.2 the end a confirmation uses (α 2.5e-4, t ≈ 3.7 at 47 degrees of
freedom) lies about 11% from the mean, against 22% with 24 pairs at the refutations' 1e-5."""

RETRY_AFTER = 30.0
"""Seconds after which an estimate that found the machine too busy is measured again (an
estimate that succeeded is kept for :data:`MAX_AGE`)."""

MIN_WINDOWS = WINDOWS // 2
"""Clean pairs an estimate needs: with fewer (a machine busy for most of the ≈ 2 s), the
interval at 1e-5 is too wide to bound anything, and the estimate says the machine was too
busy instead of giving a figure."""

LEAD = 0.003
"""Seconds between submitting the spinners and their common start: a worker receives its
task within ~0.2 ms; the spinners wait for the start time, so they count the same window."""

CHUNK = 500
"""Loop iterations between clock reads in a spinner (~10–20 µs): the clock costs under 1%."""

MAX_AGE = 600.0
"""Seconds an estimate is reused: the capacity a shared machine delivers drifts over minutes
(measured here: 1.34–1.58× one hour, 1.9–2.0× another)."""


def spin_window(start: float, end: float) -> tuple[int, float]:
    """Count loop iterations from ``start`` to ``end`` (``time.perf_counter``, which is
    system-wide on Linux, macOS and Windows): the unit of work of a capacity window.  Returns
    the count and the CPU time the worker spent (for the noise reading)."""
    clock = time.perf_counter
    while clock() < start:
        pass
    c0 = time.thread_time()
    count = 0
    while clock() < end:
        for _ in range(CHUNK):
            pass
        count += CHUNK
    return count, time.thread_time() - c0


@dataclasses.dataclass(frozen=True)
class CapacityEstimate:
    """``value`` (the geometric mean of ``K`` over the windows) with bounds ``low``/``high``
    at confidence ``1 - alpha`` each, for ``workers`` parallel workers."""

    workers: int
    value: float
    low: float
    high: float
    alpha: float
    windows: int
    window: float
    sd: float
    measured_at: float
    seconds: float
    disturbed: int = 0

    def ideal(self) -> IdealEstimate:
        """The estimate as the ideal of a sequential test: each decision takes the end at
        the level its own α pays (:class:`pytest_gil.stats.IdealEstimate`)."""
        from ..stats import IdealEstimate

        return IdealEstimate(math.log(self.value) if self.value > 0 else math.nan, self.sd,
                             self.windows)

    @property
    def measured(self) -> bool:
        """Whether enough undisturbed windows were measured (:data:`MIN_WINDOWS`)."""
        return self.windows >= MIN_WINDOWS and math.isfinite(self.low)

    def format(self) -> str:
        if not self.measured:
            return (f"no estimate for {self.workers} workers: the machine was too busy "
                    f"({self.disturbed} of {self.windows + self.disturbed} window pairs "
                    "disturbed by foreign load)")
        return (f"{self.value:.2f}× [{self.low:.2f}, {self.high:.2f}] for {self.workers} "
                "workers")

    def to_dict(self) -> dict[str, Any]:
        # 6 significant digits: a level such as α = 1e-5 must not round to 0.
        return {k: (float(f"{v:.6g}") if isinstance(v, float) and k != "measured_at" else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CapacityEstimate:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _window(pool: Any, n: int, window: float) -> tuple[float, float]:
    """Iterations per second of ``n`` spinners counting together, and their CPU seconds."""
    start = time.perf_counter() + LEAD
    futures = [pool.submit(spin_window, start, start + window) for _ in range(n)]
    got = [f.result() for f in futures]
    return float(sum(c for c, _ in got)) / window, float(sum(cpu for _, cpu in got))


def _pair(pool: Any, workers: int, window: float, flipped: bool) -> float | None:
    """``ln K`` from one pair of windows, or ``None`` when the pair was disturbed (foreign
    load, steal, throttling: the same criteria as a round of a check)."""
    from .. import noise

    before = noise.snapshot()
    rates, cpu = {}, 0.0
    for n in ((1, workers) if flipped else (workers, 1)):
        rates[n], used = _window(pool, n, window)
        cpu += used
    reading = noise.reading(before, noise.snapshot(), other_cpu=cpu, cpu_bound=True)
    if reading.suspect or not (rates[1] > 0 and rates[workers] > 0):
        return None
    return math.log(rates[workers] / rates[1])


def measure_capacity(workers: int, *, windows: int = WINDOWS, window: float = WINDOW,
                     alpha: float | None = None) -> CapacityEstimate:
    """Measure the capacity ``workers`` processes deliver (module doc): ``windows`` pairs of
    windows, the ``workers`` together then one alone (order alternated), in a pool made for
    the purpose and terminated after.  A pair disturbed by foreign load is excluded and
    another measured, up to twice as many in all.  Holds the run's measurement lock."""
    from .. import stats
    from ..runtimes.pools import ManagedProcessPool, terminate_executor

    s = settings.current()
    level = stats.ideal_alpha(s.alpha_confirm, s.alpha_refute) if alpha is None else alpha
    t0 = time.perf_counter()
    logs: list[float] = []
    disturbed = 0
    with settings.exclusive():
        pool = ManagedProcessPool(workers, s.start_method)
        try:
            pool.warm("pytest_gil.engine.capacity")
            # Disturbed pairs are excluded and replaced, up to twice the pairs in all.
            for i in range(2 * windows):
                if len(logs) >= windows:
                    break
                k = _pair(pool, workers, window, flipped=i % 2 == 1)
                if k is None:
                    disturbed += 1
                else:
                    logs.append(k)
        finally:
            terminate_executor(pool, wait=False)
    iv = stats.interval(logs, level)
    sd = statistics.stdev(logs) if len(logs) > 1 else math.nan
    low, high = (iv.low, iv.high) if len(logs) >= MIN_WINDOWS else (math.nan, math.nan)
    return CapacityEstimate(workers, iv.value, low, high, level, len(logs), window, sd,
                            time.time(), time.perf_counter() - t0, disturbed)


def _cpu_set() -> str:
    """A key for this process's CPU affinity: an estimate holds for the CPUs it ran on."""
    get = getattr(os, "sched_getaffinity", None)
    try:
        cpus = sorted(get(0)) if get is not None else []
    except OSError:
        cpus = []
    return "-".join(map(str, cpus)) or "any"


def delivered_capacity(workers: int) -> CapacityEstimate:
    """The session's estimate for ``workers`` on this process's CPUs (measured on first use,
    shared by xdist workers, re-measured after :data:`MAX_AGE` seconds), recorded for the
    report."""
    from .. import records

    name = _session_key(workers)
    data = settings.shared(name, lambda: measure_capacity(workers).to_dict(), max_age=MAX_AGE)
    est = CapacityEstimate.from_dict(data)
    if not est.measured and time.time() - est.measured_at > RETRY_AFTER:
        # A machine too busy a while ago may be quiet now: measure again (not every check).
        data = settings.shared(name, lambda: measure_capacity(workers).to_dict(),
                               max_age=RETRY_AFTER)
        est = CapacityEstimate.from_dict(data)
    records.add_calibration(f"capacity {workers} workers", est.to_dict())
    return est


def _session_key(workers: int) -> str:
    return f"capacity-{workers}-{_cpu_set()}"


def _against(check: Check) -> bool:
    """Whether ``check`` refutes "parallel" or confirms "serialized"."""
    return (check.verdicts.get("parallel") == "refuted"
            or check.verdicts.get("serialized") == "confirmed")


def _backed(check: Check, bound: Sequence[str]) -> bool:
    """Whether a ``bound`` figure (the CPU-time bound) lies below the refute bound by itself:
    the work did not keep the CPUs busy, which no slowness of the CPUs explains."""
    refute = _refute_bound(check)
    return any(math.isfinite(f.value) and f.value < refute for f in _figures(check, bound))


def _busy(check: Check, bound: Sequence[str]) -> Figure | None:
    """The first ``bound`` figure whose whole interval lies above the refute bound: the CPUs
    were demonstrably busy with the work in parallel (``None`` when no figure shows that).
    The interval is the figure's own (one-sided, at the per-look confirm α): a CPU-time
    bound that clears the refute bound at the level a confirmation needs is as sure as any
    verdict the check gives."""
    refute = _refute_bound(check)
    return next((f for f in _figures(check, bound) if f.has_interval and f.low > refute), None)


def _refute_bound(check: Check) -> float:
    return float((check.bounds.get("parallel") or {}).get("refute", math.nan))


def _figures(check: Check, names: Sequence[str]) -> list[Figure]:
    return [f for n in names if (f := check.figures.get(n)) is not None]


def _undecided(check: Check, stop: str, why: str, **changes: Any) -> Check:
    """``check`` with every verdict *inconclusive*, stopped for ``why``."""
    return dataclasses.replace(check, verdicts=dict.fromkeys(check.verdicts, "inconclusive"),
                               stop=stop, reason=why, **changes)


def recheck_refutation(check: Check, used: CapacityEstimate, *,
                       bound: Sequence[str] = ("cpu_speedup",),
                       rerun: Callable[[], Check] | None = None,
                       share_nothing: bool = False) -> Check:
    """A refutation of "parallel" read against the session's capacity, examined again.

    The capacity is measured once a session, and a shared machine can deliver much less for
    a while: measured on this project's 2-vCPU VM, four ``Process(target=calc)`` kept both
    CPUs busy (CPU-time bound 1.87×) yet did half their usual work per CPU-second for the
    whole 4 s check — speedup 0.90× against an estimate of 1.95× made a minute before — and
    "processes run in parallel" came out *refuted*.  That refutation was the machine's, not
    the code's.  A dip can also end within the check: in another run the machine delivered
    1.03× for a few seconds, two ``Process(target=calc)`` read 0.99× [0.94, 1.03] over 4
    rounds with the CPU-time bound at 1.59× [1.26, 2.00], and a capacity measured just after
    found the machine back at 1.9× — a capacity read after the check cannot see a dip that
    is already over.

    So when ``check`` refutes "parallel" (or confirms "serialized") while none of its
    ``bound`` figures (the CPU-time bound: the CPUs were busy with the work) lies below the
    refute bound:

    1. the capacity is measured again at once (:data:`MIN_WINDOWS` pairs, ≈ 2 s).  When the
       machine is now too busy to measure, or delivers less than the low end of the estimate
       the check used, the session's estimate is replaced by the new one and every verdict
       becomes *inconclusive* (stop ``"capacity-fell"``), saying both figures;
    2. otherwise the check is run again (``rerun``, a fresh check of the same design and
       error rates), and the capacity measured once more after it.  The refutation stands
       only when the second check is against "parallel" too and the capacity held after it;
       when the second check decides otherwise the verdicts become *inconclusive* (stop
       ``"not-replicated"``) with both figures; when the capacity fell, as in 1.

    Workers that share nothing (``share_nothing=True``: separate processes) cannot lose time
    to contention of their own: when a ``bound`` figure's whole interval lies above the refute
    bound (the CPUs were busy with the work in parallel), a speedup below it means each
    CPU-second did less work than in the serial phase — the machine's loss (SMT siblings,
    shared caches, memory bandwidth, a busy host), which no capacity estimate of another
    workload measures.  Measured in this project's CI on 3.12: 4 × ``pool.apply_async(calc)``
    on ``Pool(4)``, CPU-time bound 1.91× [1.87, 1.95], speedup 1.20× [1.14, 1.27] over 20
    rounds — 0.63 of the serial work per CPU-second — while the spinner's capacity read 1.90×
    just before and 1.93× just after, and a second check read 1.18×.  Such a refutation
    becomes *inconclusive* at once (stop ``"machine-slowed"``), naming the work per
    CPU-second; nothing is measured again.

    A refutation of parallel code then needs two checks, each wrong with probability at most
    α, wrong together and on a machine measured whole before and after; a true refutation
    (code that keeps the CPUs busy without getting work done: lock contention, shared cache
    lines) costs a second check.  ``rerun=None`` skips step 2.  What was measured is kept in
    ``extra["capacity_recheck"]``, ``extra["capacity_after_rerun"]`` and ``extra["rerun"]``,
    and ``elapsed`` includes it.  A refutation the CPU-time bound reaches by itself (threads
    taking turns under a GIL) is never re-examined: it does not depend on how fast the CPUs
    are.
    """
    if not _against(check) or not used.measured or _backed(check, bound):
        return check
    busy = _busy(check, bound) if share_nothing else None
    if busy is not None:
        return _machine_slowed(check, busy)
    t0 = time.perf_counter()
    fresh = measure_capacity(used.workers, windows=MIN_WINDOWS)
    extra: dict[str, Any] = {**check.extra, "capacity_recheck": fresh.to_dict()}
    if not (fresh.measured and fresh.value >= used.low):
        return _capacity_fell(check, used, fresh, extra, time.perf_counter() - t0)
    if rerun is None:
        return dataclasses.replace(check, extra=extra,
                                   elapsed=check.elapsed + time.perf_counter() - t0)
    again = rerun()
    after = measure_capacity(used.workers, windows=MIN_WINDOWS)
    extra.update(rerun=_summary(again), capacity_after_rerun=after.to_dict())
    spent = time.perf_counter() - t0
    if not (after.measured and after.value >= used.low):
        return _capacity_fell(check, used, after, extra, spent)
    if _against(again):
        return dataclasses.replace(check, extra=extra, elapsed=check.elapsed + spent)
    from .rounds import Stop

    why = (f"not repeated: {_key_text(check)} against \"parallel\", then {_key_text(again)} in "
           f"a second check right after, the machine delivering {fresh.format()} between "
           f"them and {after.format()} after; the first check's shortfall was the machine's "
           "for a while, not the code's")
    return _undecided(check, str(Stop.NOT_REPLICATED), why, extra=extra,
                      elapsed=check.elapsed + spent)


def _machine_slowed(check: Check, busy: Figure) -> Check:
    """``check`` made inconclusive: its share-nothing workers kept the CPUs busy (``busy``)
    while the speedup fell short, so the machine, not the code, did less per CPU-second."""
    from .rounds import Stop

    refute = _refute_bound(check)
    key = check.figures.get(check.key)
    per_cpu = (f"; each CPU-second did {key.value / busy.value:.2f} of its serial work"
               if key is not None and busy.value > 0 else "")
    why = (f"the workers share nothing and ran in parallel ({busy.name} {busy.format()}, "
           f"above the refute bound {refute:.2f}), yet the {check.key} was "
           f"{key.format() if key is not None else 'short'}{per_cpu}: the machine's loss "
           "(SMT siblings, shared caches, memory bandwidth, a busy host), which this check "
           "cannot tell from work that does not run in parallel")
    return _undecided(check, str(Stop.MACHINE_SLOWED), why)


def _capacity_fell(check: Check, used: CapacityEstimate, fresh: CapacityEstimate,
                   extra: dict[str, Any], spent: float) -> Check:
    """``check`` made inconclusive because the capacity measured after it fell; the session's
    estimate replaced by the new one."""
    from .rounds import Stop

    settings.shared(_session_key(used.workers), fresh.to_dict, max_age=0.0)
    why = (f"the machine's capacity fell during the check: {used.format()} when the session "
           f"measured it, {fresh.format()} just after; a speedup below the refute bound "
           "may be the machine's, not the code's")
    return _undecided(check, str(Stop.CAPACITY_FELL), why, extra=extra,
                      elapsed=check.elapsed + spent)


def _key_text(check: Check) -> str:
    """``speedup 0.99× [0.94, 1.03] (4 rounds)``, or the verdict when there is no figure."""
    fig = check.figures.get(check.key)
    if fig is None:
        return f"{check.verdict} ({check.rounds} rounds)"
    return f"{check.key} {fig.format()} ({check.rounds} rounds)"


def _summary(check: Check) -> dict[str, Any]:
    """What the report keeps of a second check: its verdicts, key figure, rounds and time."""
    fig = check.figures.get(check.key)
    return {"verdicts": dict(check.verdicts), "key": check.key, "rounds": check.rounds,
            "elapsed": round(check.elapsed, 3), "stop": check.stop,
            "figure": None if fig is None else fig.to_dict()}
