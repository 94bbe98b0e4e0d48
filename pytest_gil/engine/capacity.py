"""The machine's delivered capacity, measured inside the rounds of a check.

``min(workers, usable CPUs)`` is what the operating system promises, not what the machine
delivers: two vCPUs that are SMT siblings, or that a busy hypervisor time-slices, get about
1.5 CPUs of work done while each reports full CPU time (measured on this project's CI
machines: two processes of a pure loop ran 1.34–1.58× faster than one).  A check that
compares a speedup with an assumed ideal of 2 then sits on its bounds.

The *capacity* ``K`` is measured instead, in every round, next to the claim's parallel phase:
``N`` worker processes run a counting loop that shares nothing, for a window of
:data:`WINDOW` seconds, all at once, and then one of them alone; ``K`` is the work the ``N``
did per second over the work one did.  Paired with the round's own speedup, the noise of the
machine (hypervisor bursts, SMT, frequency) largely cancels in the contrasts the sequential
test decides on (:mod:`pytest_gil.stats`).

The spinners are a small process pool kept for the session (one per worker count), started
before any timing and terminated at the end of the run with the other pools.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["LEAD", "WINDOW", "Capacity", "capacity_for", "spin_window"]

WINDOW = 0.020
"""Seconds each spinner counts in a capacity window: four 5 ms scheduler quanta, long enough
that the start skew of the workers (≈ 0.1–0.3 ms) is under 2% of it, short enough that a
round's two windows add ~40 ms to phases of 100–400 ms."""

LEAD = 0.003
"""Seconds between submitting the spinners and their common start: a worker receives its task
within ~0.2 ms; the spinners wait for the start time, so they count the same window."""

CHUNK = 500
"""Loop iterations between clock reads in a spinner (~10–20 µs): the clock costs under 1%."""


def spin_window(start: float, end: float) -> int:
    """Count loop iterations from ``start`` to ``end`` (``time.perf_counter``, which is
    system-wide on Linux, macOS and Windows): the unit of work of a capacity window."""
    clock = time.perf_counter
    while clock() < start:
        pass
    count = 0
    while clock() < end:
        for _ in range(CHUNK):
            pass
        count += CHUNK
    return count


class Capacity:
    """``N`` spinner processes and the ratio they deliver: :meth:`measure` runs one window of
    all ``N`` at once and one window of a single spinner, and returns ``K``."""

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        from ..runtimes.pools import ManagedProcessPool

        self.workers = workers
        self.pool = ManagedProcessPool(workers, start_method)
        self.pool.warm("pytest_gil.engine.capacity")
        self._lock = threading.Lock()

    def _window(self, n: int) -> float:
        """Iterations per second of ``n`` spinners counting together."""
        start = time.perf_counter() + LEAD
        end = start + WINDOW
        futures = [self.pool.submit(spin_window, start, end) for _ in range(n)]
        return sum(f.result() for f in futures) / WINDOW

    def measure(self, flipped: bool = False) -> tuple[float, Mapping[str, Any]]:
        """One capacity reading: ``(K, record)``; ``flipped`` swaps the two windows."""
        with self._lock:
            if flipped:
                solo = self._window(1)
                together = self._window(self.workers)
            else:
                together = self._window(self.workers)
                solo = self._window(1)
        k = together / solo if solo > 0 else float("nan")
        return k, {"capacity": round(k, 4), "rate_solo": round(solo), "rate_all": round(together)}

    def close(self) -> None:
        from ..runtimes.pools import terminate_executor

        terminate_executor(self.pool, wait=False)


_capacities: dict[tuple[int, str | None], Capacity] = {}
_lock = threading.Lock()


def capacity_for(workers: int, start_method: str | None = None) -> Capacity:
    """The session's :class:`Capacity` for ``workers`` spinners (started on first use)."""
    key = (workers, start_method)
    with _lock:
        cap = _capacities.get(key)
        if cap is None:  # the pool itself restarts its workers if they died or were stopped
            cap = _capacities[key] = Capacity(workers, start_method)
        return cap
