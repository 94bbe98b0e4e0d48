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
:data:`~pytest_gil.contention_stats.GROUP_SECONDS` of the sampler's time (pause plus wait);
within a group the mean GIL
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
import sys
import threading
import time
from array import array
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from .contention_stats import (
    MIN_SAMPLES,
    Baseline,
    GilContention,
    Overhead,
    Window,
    percentile,
    summarise,
    wait_fraction,
)
from .gilstate import gil_enabled
from .noise import thread_schedstat

__all__ = [
    "BASELINE_SAMPLES",
    "DEFAULT_INTERVAL",
    "MIN_SAMPLES",
    "THREAD_NAME",
    "Baseline",
    "ContentionRecorder",
    "GilContention",
    "GilContentionMeter",
    "Overhead",
    "Window",
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
