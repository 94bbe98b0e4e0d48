"""GIL contention while code runs: how long a thread that wants the GIL waits for it.

The question gilknocker answers by re-taking the GIL from a Rust thread, asked here in pure
Python, without patching the interpreter.

**The sampler.**  A daemon thread sleeps for about :data:`DEFAULT_INTERVAL` (``time.sleep``
releases the GIL), then reads the clock as soon as it runs Python again.  The *delay* of a
sample is the time from the moment its sleep should have ended to that clock read: the time
it took this thread, once it wanted the GIL, to get it.  Each sleep is drawn uniformly from
``interval × [1 − JITTER, 1 + JITTER]``, so the samples do not lock onto a periodic pattern
of the measured code (the 5 ms switch interval itself is one); arrivals spread over time see
the time average of the GIL's state.

**What the GIL causes, and what the OS causes.**  A delay ``d`` is the sum of three parts:

* the timer's lateness — the kernel wakes a sleeper a little after its deadline (timer
  slack: ~50 µs on Linux, 80 µs in all measured on the project's VM; a 15.6 ms timer tick on
  Windows before 3.11);
* run-queue time — the thread is runnable but every CPU is busy (other processes, or other
  threads of ours running C code without the GIL);
* GIL time — the thread is blocked on the GIL's condition variable: not runnable, and not
  on a CPU.

The first two are the OS's.  Two readings separate them from the third:

* the **baseline**: before measuring, the sampler takes :data:`BASELINE_SAMPLES` samples while
  the calling thread waits (it holds no GIL, and no other Python thread should be busy
  then).  Their median is the OS's wake-up latency on this machine now; each measured
  delay's GIL part is ``g = max(0, d − median)``;
* the **run queue** (Linux, ``/proc/thread-self/schedstat``): the sampler's own run-queue
  seconds during the measurement and during the baseline.  Waiting for the GIL is sleeping,
  not queueing, so run-queue time is the OS's by definition; what exceeds the baseline's
  run-queue time per sample (a machine that got busier) is subtracted from the mean.
  Without schedstat (macOS, Windows) only the baseline separates the two, and a machine
  that gets busier during the measurement reads as contention (the ``note`` says so).

**The figure.**  A thread that wants the GIL all the time alternates between waiting ``W``
for it and holding it until another waiting thread makes it let go — one switch interval
``s`` (``sys.getswitchinterval()``, 5 ms by default).  So while the GIL's state stays the
same, the fraction of wall time it spends waiting is::

    wait_fraction = W / (W + s)

A test's state does not stay the same (an idle stretch, then a busy one), and the sampler
samples *less* often while the GIL is busy (each sample then lasts its pause plus its
wait: ~6 ms instead of ~1 ms).  A plain mean over samples would under-weight the busy
stretches — half a second idle and half a second beside a busy thread would read 0.14
instead of 0.25.  So the samples are grouped in consecutive stretches of about
:data:`GROUP_SECONDS` of the sampler's time (pause plus wait); within a group the mean GIL
part is ``W_k`` (arrivals at jittered times see the group's state as a random arrival
would), and the groups are averaged weighted by the wall time they cover:
``wait_fraction = Σ T_k · W_k / (W_k + s) / Σ T_k`` and ``mean_delay = Σ T_k · W_k / Σ T_k``
— the wait of a thread asking for the GIL at a random instant.  ``p99_delay`` is the 99th
percentile of the samples' GIL parts (the run-queue correction applies to the means only).

Checks: no other thread wants the GIL → ``W ≈ 0`` → 0.  One CPU-bound Python thread → the
sampler waits one switch interval (the holder is asked to drop the GIL after ``s``) →
``s / 2s = 0.5``, what two CPU-bound threads sharing a GIL get.  ``k`` CPU-bound threads →
``W ≈ k·s`` → ``k / (k + 1)``.  Threads that release the GIL (``time.sleep``, ``hashlib``
over large buffers) → ``W ≈ 0``.  This is an estimate from a model of the GIL's hand-off; it
is exact for CPU-bound competitors and reads low for bursty ones (a competitor that holds
the GIL in short bursts would keep it for less than ``s``).  A test body computing in
Python in the main thread is such a competitor itself: a lone busy thread gives 0.5 too — a
thread that wanted the GIL beside it would wait half the time.  At idle the figure is not
exactly 0: half the wake-ups come later than the median, which adds ~10–40 µs to ``W``
(``wait_fraction`` 0.002–0.009 measured on Linux).

With the GIL disabled (a free-threaded build) nothing waits for a GIL: what remains is OS
latency beyond the baseline, so the figure should be ≈ 0, and the ``note`` says so.

**The sampler's own cost** (``overhead``) is measured, not assumed: a CPU-bound Python loop in
the calling thread runs :data:`OVERHEAD_PAIRS` pairs of :data:`OVERHEAD_WINDOW` windows,
with the sampler parked and sampling, in ABBA order, once per process, interval and switch
interval.  The cost comes from the hand-offs: each sample takes the GIL from the busy loop
once, and the loop is off its CPU until the sampler has let go and it has been woken again.
So ``overhead`` is the median loss of the loop's CPU share (``time.thread_time()`` per wall
second) with the sampler, against without: the fraction of wall time the sampler took from
a CPU-bound thread.  The loop's iteration rate tells the same on a quiet machine, but on a
shared VM its per-pair scatter (±10–30% measured) buries an effect of ~1%, and the host's
vCPU scheduling moves it both ways (the loop once ran 14% *faster* with the sampler on); it
is reported beside it as ``overhead_rate``.

The sampler thread is always stopped and joined — at the end of the ``with`` block, when
its body raises (``KeyboardInterrupt`` and a pytest-timeout included), and at fixture
teardown — and it is a daemon thread, so not even a hung interpreter exit waits for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import statistics
import sys
import threading
import time
from array import array
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from .gilstate import gil_enabled
from .noise import thread_schedstat

__all__ = [
    "BASELINE_SAMPLES",
    "DEFAULT_INTERVAL",
    "Baseline",
    "ContentionRecorder",
    "GilContention",
    "GilContentionMeter",
    "Overhead",
    "gil_contention",
    "measure_overhead",
    "percentile",
    "summarise",
    "wait_fraction",
]

DEFAULT_INTERVAL = 0.001
"""Seconds the sampler sleeps between samples (on average).  gilknocker's documented 1 ms:
well under the 5 ms switch interval, so under contention a sample is taken every switch
period or so (~6 ms, ~170 samples a second), and at idle ~900 samples a second cost the
sampler ~2.5% of one CPU (measured on the project's VM: 901 a second, 2.6%)."""

JITTER = 0.5
"""Each sleep is ``interval × U(1 − JITTER, 1 + JITTER)``: the mean is the interval, and the
arrivals cannot stay in phase with a periodic pattern of the measured code."""

BASELINE_SAMPLES = 64
"""Samples of the idle baseline (~70 ms at 1 ms): enough for a median that moves by a few µs
between runs, short enough to take before every measurement."""

OVERHEAD_PAIRS = 12
"""Pairs of loop windows (without, with the sampler) behind the overhead figure; per-pair
slowdowns scatter by ±10% on a shared 2-vCPU VM, so the median of 12 is good to a few %."""

OVERHEAD_WINDOW = 0.025
"""Seconds of each loop window: five switch intervals, so each window sees several samples
take the GIL from the loop (a sample every ~6 ms under contention)."""

SPIN_CHUNK = 256
"""Loop iterations between clock reads in the overhead loop (a few µs of work: the clock's
own cost stays below 1% of a window)."""

MAX_SAMPLES = 1_000_000
"""Samples kept per measurement (8 MB; at least ~17 minutes at 1 ms).  Past it the sampler
stops, and the ``note`` says so."""

MIN_SAMPLES = 20
"""Below this many samples the figure is rough (the ``note`` says so): a 5 ms-wide delay
distribution needs some tens of samples for its mean to settle within ~10%."""

GROUP_SECONDS = 0.05
"""Wall time of the sampler per group of samples: ten switch intervals, so a group holds
several samples even under contention (one per ~6 ms), while a test's stretches of different
load (a busy thread started, stopped) fall in separate groups."""

OVERHEAD_SPREAD = 0.05
"""An overhead whose quartiles lie further apart than this (5% of a CPU-bound thread's time,
ten times the ~0.5% a quiet machine measures) was measured on a busy machine: the ``note``
says it is imprecise."""

P99 = 0.99
"""The upper quantile reported as ``p99_delay``."""

COARSE_BASELINE = 0.5
"""A baseline median above this fraction of the switch interval cannot tell a GIL wait from
the OS's wake-up latency (a coarse timer, or a thread busy during the baseline): the
``note`` says the figure is coarse."""

READY_TIMEOUT = 60.0
"""Seconds to wait for the baseline (~0.1 s normally; only a C call that holds the GIL for
a minute delays it)."""

JOIN_TIMEOUT = 10.0
"""Seconds to wait for the sampler to stop: it stops within one interval plus one GIL wait,
unless some thread holds the GIL for that long in a C call."""

THREAD_NAME = "pytest-gil-contention"
"""The sampler thread's name (``threading.enumerate()`` shows it while it runs)."""

_MAX_INTERVAL = 1.0


def _check_interval(interval: float) -> float:
    if (isinstance(interval, bool) or not isinstance(interval, (int, float))
            or not 0 < interval <= _MAX_INTERVAL):
        raise ValueError(
            f"interval must be a number of seconds in (0, {_MAX_INTERVAL:g}], got {interval!r} "
            f"(the default is {DEFAULT_INTERVAL:g})")
    return float(interval)


# --------------------------------------------------------------------------------------------
# the statistics (pure)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 ≤ q ≤ 1) of ``values`` by linear interpolation between the
    closest ranks (numpy's default); ``nan`` for no values."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q!r}")
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def wait_fraction(mean_wait: float, switch_interval: float) -> float:
    """``W / (W + s)``: the fraction of wall time a thread that always wants the GIL spends
    waiting for it, when a thread that asks waits ``W`` on average and a thread that has
    it keeps it for one switch interval ``s`` (module docstring)."""
    if not switch_interval > 0:
        raise ValueError(f"switch_interval must be positive, got {switch_interval!r}")
    if math.isnan(mean_wait):
        return math.nan
    w = max(0.0, mean_wait)
    return w / (w + switch_interval)


@dataclasses.dataclass(frozen=True)
class Baseline:
    """The sampler's delay with no thread holding the GIL: the OS's wake-up latency here,
    now.  ``queue``: run-queue seconds per sample (schedstat), ``None`` where unknown."""

    median: float
    mean: float
    samples: int
    queue: float | None = None

    @classmethod
    def from_delays(cls, delays: Sequence[float], queue_seconds: float | None = None
                    ) -> Baseline:
        """The baseline of these idle delays (and the run-queue seconds they contained)."""
        if not delays:
            raise ValueError("a baseline needs at least one sample")
        n = len(delays)
        return cls(statistics.median(delays), statistics.fmean(delays), n,
                   None if queue_seconds is None else max(0.0, queue_seconds) / n)


@dataclasses.dataclass(frozen=True)
class Window:
    """One window of the overhead loop: iterations per wall second, CPU seconds per wall
    second (the loop thread's own)."""

    rate: float
    cpu_share: float


@dataclasses.dataclass(frozen=True)
class Overhead:
    """The sampler's cost to a CPU-bound Python loop (module docstring): ``slowdown`` is the
    median loss of the loop's CPU share with the sampler (0.01 = it lost 1% of the wall time),
    ``low``/``high`` the quartiles of the per-pair losses, ``rate_slowdown`` ``1 −`` the
    median ratio of the loop's iteration rates (noisier)."""

    slowdown: float
    low: float
    high: float
    rate_slowdown: float
    pairs: int
    interval: float

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[Window, Window]], interval: float) -> Overhead:
        """From ``(with sampler, without)`` window pairs."""
        if not pairs:
            raise ValueError("an overhead needs at least one pair")
        loss = [without.cpu_share - with_.cpu_share for with_, without in pairs]
        rate = [1.0 - with_.rate / without.rate for with_, without in pairs
                if without.rate > 0]
        return cls(statistics.median(loss), percentile(loss, 0.25), percentile(loss, 0.75),
                   statistics.median(rate) if rate else math.nan, len(loss), interval)


@dataclasses.dataclass(frozen=True)
class GilContention:
    """The GIL contention of a measured stretch of code (module docstring).

    ``wait_fraction``: the fraction of wall time a thread that wants the GIL spends waiting
    for it (0 = never waits; 0.5 = beside one CPU-bound thread).  ``mean_delay`` /
    ``p99_delay``: seconds a thread asking for the GIL waited for it, beyond the OS's own
    wake-up latency (``baseline_delay``).  ``overhead``: the sampler's cost to a CPU-bound
    loop (a fraction).  ``note``: what limits the figure here.
    """

    wait_fraction: float
    mean_delay: float
    p99_delay: float
    samples: int
    interval: float
    overhead: float
    gil_enabled: bool
    note: str
    baseline_delay: float = math.nan
    raw_mean_delay: float = math.nan
    run_queue_delay: float | None = None
    switch_interval: float = math.nan
    duration: float = math.nan
    overhead_range: tuple[float, float] = (math.nan, math.nan)
    overhead_rate: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """The report's ``tests[nodeid]["contention"]`` record: plain JSON types, a figure
        that could not be measured (``nan``: no sample) as ``None``."""
        def plain(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            return [plain(v) for v in x] if isinstance(x, tuple) else x

        return {k: plain(v) for k, v in dataclasses.asdict(self).items()}

    def __str__(self) -> str:
        ms = 1000.0
        return (f"GIL contention {self.wait_fraction:.3f} (mean wait "
                f"{self.mean_delay * ms:.3g} ms, p99 {self.p99_delay * ms:.3g} ms beyond the "
                f"OS's {self.baseline_delay * ms:.3g} ms; {self.samples} samples at "
                f"{self.interval * ms:g} ms; sampler overhead {self.overhead:.1%})"
                + (f" — {self.note}" if self.note else ""))


def _notes(samples: int, baseline: Baseline, switch_interval: float, gil_on: bool,
           queue_known: bool, overhead: Overhead) -> list[str]:
    notes: list[str] = []
    if not gil_on:
        notes.append("GIL disabled (free-threaded build): no thread waits for a GIL; what "
                     "remains is OS latency beyond the baseline, so the figure should be ≈ 0")
    if samples < MIN_SAMPLES:
        notes.append(f"only {samples} samples (< {MIN_SAMPLES}): a rough figure")
    if baseline.median >= COARSE_BASELINE * switch_interval:
        notes.append(f"the OS's own wake-up latency ({baseline.median * 1000:.3g} ms) is at "
                     f"least {COARSE_BASELINE:g} switch interval: a coarse timer, or a thread "
                     "was busy during the baseline — the figure is coarse")
    if not queue_known:
        notes.append("run-queue time unknown (no schedstat): the OS part is the idle baseline "
                     "only, so a machine that got busier reads as contention")
    if not overhead.high - overhead.low <= OVERHEAD_SPREAD:
        notes.append(f"the sampler's overhead is imprecise (quartiles {overhead.low:.1%} to "
                     f"{overhead.high:.1%}): the machine was busy while it was measured")
    return notes


def _groups(gil_part: Sequence[float], delays: Sequence[float], pauses: Sequence[float]
            ) -> list[tuple[float, float]]:
    """``(wall time covered, mean GIL part)`` of consecutive groups of samples covering
    about :data:`GROUP_SECONDS` each (the last one may be shorter)."""
    out: list[tuple[float, float]] = []
    covered, total, count = 0.0, 0.0, 0
    for g, d, p in zip(gil_part, delays, pauses, strict=True):
        covered += p + d
        total += g
        count += 1
        if covered >= GROUP_SECONDS:
            out.append((covered, total / count))
            covered, total, count = 0.0, 0.0, 0
    if count:
        out.append((covered, total / count))
    return out


def summarise(
    delays: Sequence[float],
    *,
    baseline: Baseline,
    pauses: Sequence[float] | None = None,
    interval: float,
    switch_interval: float,
    overhead: Overhead,
    gil_on: bool,
    queue_seconds: float | None = None,
    duration: float = math.nan,
    notes: Sequence[str] = (),
) -> GilContention:
    """The figure of measured ``delays`` (seconds from a sample's deadline to running Python
    again), in the order taken, after sleeps of ``pauses`` seconds (default: ``interval``
    each), against the idle ``baseline``; ``queue_seconds``: run-queue seconds the sampler
    spent during the measurement (schedstat), ``None`` where unknown.  Pure."""
    n = len(delays)
    gil_part = [max(0.0, d - baseline.median) for d in delays]
    queue_known = queue_seconds is not None and baseline.queue is not None
    run_queue = queue_seconds / n if queue_seconds is not None and n else None
    queue_excess = (max(0.0, run_queue - baseline.queue)
                    if run_queue is not None and baseline.queue is not None else 0.0)
    groups = [(t, max(0.0, w - queue_excess))
              for t, w in _groups(gil_part, delays, pauses or [interval] * n)]
    covered = math.fsum(t for t, _ in groups)
    if covered > 0:
        mean_wait = math.fsum(t * w for t, w in groups) / covered
        fraction = math.fsum(t * wait_fraction(w, switch_interval) for t, w in groups) / covered
    else:
        mean_wait = fraction = math.nan
    all_notes = [*_notes(n, baseline, switch_interval, gil_on, queue_known, overhead), *notes]
    return GilContention(
        wait_fraction=fraction,
        mean_delay=mean_wait,
        p99_delay=percentile(gil_part, P99),
        samples=n,
        interval=interval,
        overhead=overhead.slowdown,
        gil_enabled=gil_on,
        note="; ".join(all_notes),
        baseline_delay=baseline.median,
        raw_mean_delay=statistics.fmean(delays) if n else math.nan,
        run_queue_delay=run_queue,
        switch_interval=switch_interval,
        duration=duration,
        overhead_range=(overhead.low, overhead.high),
        overhead_rate=overhead.rate_slowdown,
    )


# --------------------------------------------------------------------------------------------
# sampling


def _sample(out: array[float], pauses: array[float], limit: int, stop: threading.Event,
            interval: float, rng: random.Random) -> None:
    """Append delays to ``out`` (and each sleep to ``pauses``) until ``stop`` is set or
    ``limit`` samples are kept."""
    clock, sleep, uniform = time.perf_counter, time.sleep, rng.random
    low, span = interval * (1.0 - JITTER), 2.0 * JITTER * interval
    append, slept, stopped = out.append, pauses.append, stop.is_set
    while not stopped() and len(out) < limit:
        pause = low + span * uniform()
        deadline = clock() + pause
        sleep(pause)  # releases the GIL; returns once this thread has it again
        append(clock() - deadline)
        slept(pause)


def _queue_seconds(before: tuple[float, float] | None, after: tuple[float, float] | None
                   ) -> float | None:
    return None if before is None or after is None else max(0.0, after[1] - before[1])


class _Sampler:
    """The sampling thread: a baseline, then samples until stopped."""

    def __init__(self, interval: float, baseline_samples: int, limit: int) -> None:
        self.interval = interval
        self.baseline_samples = baseline_samples
        self.limit = limit
        self.baseline = array("d")
        self.delays = array("d")
        self.pauses = array("d")
        self.baseline_queue: float | None = None
        self.queue: float | None = None
        self.started = self.ended = math.nan
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)

    def _run(self) -> None:
        rng = random.Random()
        try:
            s0 = thread_schedstat()  # the sampler's own: /proc/thread-self is this thread
            if self.baseline_samples:
                _sample(self.baseline, array("d"), self.baseline_samples, self.stop,
                        self.interval, rng)
                s1 = thread_schedstat()
                self.baseline_queue = _queue_seconds(s0, s1)
                s0 = s1
            self.started = time.perf_counter()
            self.ready.set()
            _sample(self.delays, self.pauses, self.limit, self.stop, self.interval, rng)
            self.ended = time.perf_counter()
            self.queue = _queue_seconds(s0, thread_schedstat())
        except BaseException as exc:  # reported by the meter, never lost in a thread
            self.error = exc
        finally:
            self.ready.set()

    def halt(self) -> None:
        """Stop and join the thread; ``RuntimeError`` if it cannot be joined in time."""
        self.stop.set()
        if self.thread.ident is None:
            return
        self.thread.join(JOIN_TIMEOUT)
        if self.thread.is_alive():
            raise RuntimeError(
                f"the GIL contention sampler did not stop within {JOIN_TIMEOUT:g} s: some "
                "thread has held the GIL that long (a C call that never releases it); the "
                "sampler is a daemon thread and ends as soon as it gets the GIL")


def _spin(window: float) -> Window:
    """Run a tight Python loop for ``window`` seconds: its rate and CPU share."""
    clock = time.perf_counter
    chunks = 0
    c0 = time.thread_time()
    t0 = clock()
    end = t0 + window
    while True:
        for _ in range(SPIN_CHUNK):
            pass
        chunks += 1
        t = clock()
        if t >= end:
            wall = t - t0
            return Window(chunks * SPIN_CHUNK / wall, (time.thread_time() - c0) / wall)


class _Toggled:
    """A sampler thread the overhead measurement parks and releases (handshake both ways,
    so a window never starts while the sampler is half on or half off)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.on = threading.Event()
        self.quit = threading.Event()
        self.running = threading.Event()
        self.parked = threading.Event()
        self.thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)

    def _run(self) -> None:
        rng = random.Random()
        low, span = self.interval * (1.0 - JITTER), 2.0 * JITTER * self.interval
        while not self.quit.is_set():
            if not self.on.is_set():
                self.running.clear()
                self.parked.set()
                self.on.wait()
                self.parked.clear()
                self.running.set()
                continue
            time.sleep(low + span * rng.random())

    def set(self, on: bool) -> None:
        if on:
            self.on.set()
            self.running.wait(READY_TIMEOUT)
        else:
            self.on.clear()
            self.parked.wait(READY_TIMEOUT)

    def close(self) -> None:
        self.quit.set()
        self.on.set()
        if self.thread.ident is not None:
            self.thread.join(JOIN_TIMEOUT)


def measure_overhead(interval: float = DEFAULT_INTERVAL, *, pairs: int = OVERHEAD_PAIRS,
                     window: float = OVERHEAD_WINDOW) -> Overhead:
    """Measure the sampler's cost to a CPU-bound Python loop in the calling thread now
    (``pairs`` × 2 windows of ``window`` seconds, ABBA order); see :class:`Overhead`."""
    interval = _check_interval(interval)
    from . import settings

    sampler = _Toggled(interval)
    measured: list[tuple[Window, Window]] = []
    with settings.exclusive():  # a measurement: not beside another worker's
        sampler.thread.start()
        try:
            sampler.parked.wait(READY_TIMEOUT)
            _spin(window)  # warm-up: the first window pays for caches and frequency steps
            for i in range(pairs):
                got: dict[bool, Window] = {}
                for with_sampler in ((True, False) if i % 4 in (1, 2) else (False, True)):
                    sampler.set(with_sampler)
                    got[with_sampler] = _spin(window)
                    sampler.set(False)
                measured.append((got[True], got[False]))
        finally:
            sampler.close()
    return Overhead.from_pairs(measured, interval)


_overheads: dict[tuple[float, float, bool], Overhead] = {}
_overheads_lock = threading.Lock()


def _overhead_for(interval: float) -> Overhead:
    """The overhead at ``interval``, measured once per process, switch interval and GIL
    state."""
    key = (interval, sys.getswitchinterval(), gil_enabled())
    with _overheads_lock:
        known = _overheads.get(key)
    if known is None:
        known = measure_overhead(interval)
        with _overheads_lock:
            _overheads[key] = known
    return known


# --------------------------------------------------------------------------------------------
# the public meter


class GilContentionMeter:
    """Measure the GIL contention of a stretch of code::

        with GilContentionMeter() as meter:
            run_my_threads()
        print(meter.result.wait_fraction)   # GilContention

    ``start()`` measures the sampler's overhead (once per process, ~0.7 s) and the OS's
    wake-up latency (the baseline, ~0.1 s, unless ``baseline`` is given) — keep other
    threads idle until it returns — then samples until ``stop()``, which returns the
    :class:`GilContention` (also ``meter.result``).  A meter measures once.  The sampler takes
    the GIL from busy threads about every 6 ms: don't time anything while it runs (the
    ``overhead`` figure says by how much it slows a CPU-bound loop).
    """

    def __init__(self, interval: float = DEFAULT_INTERVAL, *, baseline: Baseline | None = None,
                 max_samples: int = MAX_SAMPLES) -> None:
        self.interval = _check_interval(interval)
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise ValueError(f"max_samples must be a positive integer, got {max_samples!r}")
        self.max_samples = max_samples
        self.baseline = baseline
        self.overhead: Overhead | None = None
        self.result: GilContention | None = None
        self._sampler: _Sampler | None = None
        self._switch = math.nan
        self._gil_before = True

    @property
    def running(self) -> bool:
        """Whether the sampler is sampling now."""
        return self._sampler is not None and self.result is None

    @property
    def delays(self) -> Sequence[float]:
        """The raw delays sampled so far (seconds from each deadline to running Python)."""
        return self._sampler.delays if self._sampler is not None else array("d")

    @property
    def pauses(self) -> Sequence[float]:
        """The sleep before each delay (seconds)."""
        return self._sampler.pauses if self._sampler is not None else array("d")

    @property
    def queue_seconds(self) -> float | None:
        """Run-queue seconds of the sampler while sampling (after :meth:`stop`; schedstat)."""
        return self._sampler.queue if self._sampler is not None else None

    @property
    def duration(self) -> float:
        """Seconds sampled (after :meth:`stop`)."""
        s = self._sampler
        return s.ended - s.started if s is not None else math.nan

    def start(self) -> GilContentionMeter:
        """Measure the overhead and the baseline, then start sampling; returns ``self``."""
        if self._sampler is not None:
            raise RuntimeError("this GilContentionMeter has already measured: make a new one")
        self.overhead = _overhead_for(self.interval)
        self._switch = sys.getswitchinterval()
        self._gil_before = gil_enabled()
        sampler = _Sampler(self.interval, 0 if self.baseline else BASELINE_SAMPLES,
                           self.max_samples)
        self._sampler = sampler
        sampler.thread.start()
        try:
            if not sampler.ready.wait(READY_TIMEOUT):
                raise RuntimeError(f"the GIL contention baseline took over {READY_TIMEOUT:g} s")
            if sampler.error is not None:
                raise RuntimeError(f"the GIL contention sampler failed: {sampler.error!r}")
        except BaseException:
            sampler.halt()
            raise
        if self.baseline is None:
            self.baseline = Baseline.from_delays(sampler.baseline, sampler.baseline_queue)
        return self

    def stop(self) -> GilContention:
        """Stop sampling, join the sampler, and return the figure (again on later calls)."""
        if self.result is not None:
            return self.result
        sampler = self._sampler
        if sampler is None:
            raise RuntimeError("this GilContentionMeter was never started")
        sampler.halt()
        if sampler.error is not None:
            raise RuntimeError(f"the GIL contention sampler failed: {sampler.error!r}")
        self.result = self._figure(sampler.delays, sampler.pauses, sampler.queue,
                                   self.duration)
        return self.result

    def _figure(self, delays: Sequence[float], pauses: Sequence[float], queue: float | None,
                duration: float) -> GilContention:
        assert self.baseline is not None and self.overhead is not None
        extra: list[str] = []
        gil_after = gil_enabled()
        if gil_after != self._gil_before:
            extra.append(f"the GIL was {'enabled' if gil_after else 'disabled'} while "
                         "sampling (an import re-enabled it?): the figure mixes both states")
        if sys.getswitchinterval() != self._switch:
            extra.append(f"the switch interval changed while sampling (from "
                         f"{self._switch * 1000:g} ms)")
        if len(delays) >= self.max_samples:
            extra.append(f"sampling stopped after {self.max_samples} samples")
        return summarise(delays, pauses=pauses, baseline=self.baseline, interval=self.interval,
                         switch_interval=self._switch, overhead=self.overhead,
                         gil_on=self._gil_before and gil_after, queue_seconds=queue,
                         duration=duration, notes=extra)

    def __enter__(self) -> GilContentionMeter:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.stop()
            return
        with contextlib.suppress(RuntimeError):  # the block failed: its exception goes on
            self.stop()


def gil_contention(interval: float = DEFAULT_INTERVAL) -> GilContentionMeter:
    """A :class:`GilContentionMeter` to use as a context manager::

        from pytest_gil import gil_contention

        with gil_contention() as meter:
            run_my_threads()
        assert meter.result is not None and meter.result.wait_fraction < 0.2
    """
    return GilContentionMeter(interval)


# --------------------------------------------------------------------------------------------
# the fixture's object


class ContentionRecorder:
    """What the ``gil_contention`` fixture gives a test.

    By default the whole test body is measured (from the fixture's setup to its teardown).
    ``measure()`` measures a block instead::

        def test_my_threads(gil_contention):
            with gil_contention.measure() as meter:
                run_my_threads()
            assert meter.result.wait_fraction < 0.2

    The first ``measure()`` ends the whole-body measurement (its samples are dropped: one
    sampler at a time); the report then holds the blocks' samples pooled, and each block's
    figure under ``blocks``.  The figure reaches the report as ``tests[nodeid]["contention"]``
    at teardown, also when the test failed.
    """

    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = _check_interval(interval)
        self.body: GilContentionMeter | None = None
        self.blocks: list[GilContentionMeter] = []
        self.result: GilContention | None = None

    def begin(self) -> None:
        """Start measuring the whole body (the fixture's setup)."""
        self.body = GilContentionMeter(self.interval).start()

    def measure(self, interval: float | None = None) -> GilContentionMeter:
        """A meter for one block (``with gil_contention.measure() as meter:``), sharing the
        baseline measured at setup."""
        baseline = self._drop_body()
        meter = GilContentionMeter(self.interval if interval is None else interval,
                                   baseline=baseline)
        self.blocks.append(meter)
        return meter

    def _drop_body(self) -> Baseline | None:
        body = self.body
        if body is None:
            return self.blocks[0].baseline if self.blocks else None
        self.body = None
        body.stop()  # one sampler at a time: the whole-body figure is dropped
        return body.baseline

    def finish(self) -> dict[str, Any] | None:
        """Stop every sampler still running and return the report's record (``None`` when
        nothing was measured).  ``RuntimeError`` if a sampler cannot be stopped."""
        errors: list[str] = []
        for meter in [m for m in (self.body, *self.blocks) if m is not None]:
            if meter.running:
                try:
                    meter.stop()
                except RuntimeError as exc:
                    errors.append(str(exc))
        if errors:
            raise RuntimeError("; ".join(errors))
        if self.body is not None:
            self.result = self.body.result
            return None if self.result is None else {**self.result.to_dict(),
                                                     "scope": "test body"}
        done = [m for m in self.blocks if m.result is not None]
        if not done:
            return None
        self.result = _pooled(done)
        record = {**self.result.to_dict(), "scope": "measure() blocks"}
        if len(done) > 1:
            record["blocks"] = [m.result.to_dict() for m in done if m.result is not None]
        return record


def _pooled(meters: Sequence[GilContentionMeter]) -> GilContention:
    """One figure from the samples of several blocks (one baseline, one switch interval)."""
    first = meters[0]
    if len(meters) == 1 and first.result is not None:
        return first.result
    delays = [d for m in meters for d in m.delays]
    pauses = [p for m in meters for p in m.pauses]
    queues = [m.queue_seconds for m in meters]
    queue = None if any(q is None for q in queues) else sum(q for q in queues if q is not None)
    figure = first._figure(delays, pauses, queue, sum(m.duration for m in meters))
    if len({m.interval for m in meters}) > 1:
        note = "; ".join(filter(None, [figure.note, "blocks sampled at different intervals: "
                                       f"the first's ({first.interval:g} s) is shown"]))
        figure = dataclasses.replace(figure, note=note)
    return figure
