"""The statistics of :mod:`pytest_gil.contention`: from the sampler's delays to the figure
(``wait_fraction``, delays, the overhead), as pure functions tested on synthetic delays
(``tests/test_contention.py``).  The reasoning is in :mod:`pytest_gil.contention`'s docstring.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from typing import Any

__all__ = [
    "COARSE_BASELINE",
    "GROUP_SECONDS",
    "MIN_SAMPLES",
    "OVERHEAD_SPREAD",
    "P99",
    "Baseline",
    "GilContention",
    "Overhead",
    "Window",
    "percentile",
    "summarise",
    "wait_fraction",
]

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
