"""Workloads with a known answer, and their calibration.

* :func:`calc` — a counting loop in pure Python (``for _ in range(n): sum += 1``): CPU-bound
  bytecode that holds the GIL; :func:`calc_i` returns ``(i, sum)`` (one task of a numbered
  batch);
* :func:`worker` — sleeps ``t`` seconds (the GIL is released) and returns ``1000 + t``;
* :func:`sha256_work` and :func:`zlib_work` — C code that releases the GIL (hashing a buffer
  larger than 2 KiB, compressing), so threads scale on every runtime;
* :func:`pipe_read` — blocks in ``os.read`` on a pipe until a timer writes to it;
* :func:`mixed_request` — a "request": some CPU work, then an IO wait.

Calibration (:func:`calibrate`) finds the size that makes one task take ``target`` seconds of
this thread's CPU time.  The default target, :data:`DEFAULT_TARGET` = 50 ms, is derived from
three constraints:

* at least 10 switch intervals (5 ms each), so GIL hand-offs average out within one task;
* at least 10**4 timer resolutions (``perf_counter`` resolves well under 1 µs), so timer
  error is negligible;
* short enough that the longest sequential check (20 paired rounds of a serial phase of 4
  tasks plus a parallel phase) stays within a few seconds: 20 × (4 + 4) × 50 ms = 8 s worst
  case, typically 5–8 rounds.

``--gil-scale`` multiplies the target.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

__all__ = [
    "DEFAULT_TARGET",
    "Calibration",
    "calc",
    "calc_i",
    "calibrate",
    "mixed_request",
    "noop",
    "pipe_read",
    "sha256_work",
    "worker",
    "zlib_work",
]

DEFAULT_TARGET = 0.050
"""Seconds one calibrated task should take at ``--gil-scale 1`` (derivation above)."""


def calc(n: int) -> int:
    """Count to ``n`` in pure Python: CPU-bound bytecode, holding the GIL."""
    sum = 0
    for _ in range(n):
        sum += 1
    return sum


def calc_i(i: int, n: int) -> tuple[int, int]:
    """:func:`calc` as task ``i`` of a numbered batch: returns ``(i, sum)``."""
    return i, calc(n)


def worker(t: float) -> float:
    """Sleep ``t`` seconds (the GIL is released) and return ``1000 + t``."""
    time.sleep(t)
    return 1000 + t


def noop(*args: Any) -> None:
    """Do nothing (used to warm pools and to measure dispatch cost)."""
    return None


_buffers: dict[int, bytes] = {}


def _buffer(nbytes: int) -> bytes:
    # One buffer per size and process, built outside any measured phase on first use.
    buf = _buffers.get(nbytes)
    if buf is None:
        # Compressible but not trivial: zlib must do real work on it.
        # The same bytes in every process (seeded), so results compare across workers.
        block = bytes(range(256)) * 16 + random.Random(0).randbytes(4096)
        buf = (block * (nbytes // len(block) + 1))[:nbytes]
        _buffers[nbytes] = buf
    return buf


def sha256_work(nbytes: int) -> str:
    """Hash ``nbytes`` with SHA-256.  hashlib drops the GIL for buffers over 2047 bytes."""
    return hashlib.sha256(_buffer(nbytes)).hexdigest()


def zlib_work(nbytes: int) -> int:
    """Compress ``nbytes`` with zlib (level 6); zlib drops the GIL while compressing."""
    return len(zlib.compress(_buffer(nbytes), 6))


def pipe_read(t: float) -> bytes:
    """Block in ``os.read`` on a pipe for ``t`` seconds, until a timer thread writes a byte."""
    r, w = os.pipe()
    timer = threading.Timer(t, os.write, (w, b"x"))
    try:
        timer.start()
        return os.read(r, 1)
    finally:
        timer.cancel()
        timer.join()
        os.close(r)
        os.close(w)


def mixed_request(n: int, wait: float) -> int:
    """A request that computes (``calc(n)``, holding the GIL) then waits ``wait`` seconds on IO."""
    result = calc(n)
    time.sleep(wait)
    return result


# --------------------------------------------------------------------------------------------
# calibration


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Sizes that make one task take ``target`` seconds on this interpreter and machine."""

    target: float
    calc_n: int
    sha256_bytes: int
    zlib_bytes: int
    seconds: float
    python: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _fastest(fn: Callable[[int], object], size: int, repeats: int) -> float:
    """The least CPU time of this thread over ``repeats`` calls of ``fn(size)``.

    CPU time, not wall time: on a loaded machine a call waits for a core too, and sizes
    calibrated on wall time shrink with the load (measured: 3.2M → 0.76M iterations beside a
    busy process).  The minimum of a few repeats: noise (cache misses, frequency dips) only
    adds time.  All three workloads compute in this thread (C code included), so its CPU time
    is the work's duration on an undisturbed core.
    """
    best = float("inf")
    for _ in range(repeats):
        c0 = time.thread_time()
        fn(size)
        best = min(best, time.thread_time() - c0)
    return max(best, 1e-6)


def size_for(fn: Callable[[int], object], target: float, start: int, repeats: int = 3) -> int:
    """Find a size ``n`` with ``fn(n)`` taking about ``target`` seconds (assumes linear cost).

    Grows a probe until it lasts at least a tenth of the target (so timer and call overhead
    are under 1%), then scales linearly and checks once.
    """
    if target <= 0:
        raise ValueError(f"calibration target must be positive, got {target!r}")
    n = max(1, start)
    t = _fastest(fn, n, repeats)
    while t < target / 10:
        n *= 4 if t < target / 100 else 2
        t = _fastest(fn, n, repeats)
    n = max(1, int(n * target / t))
    t = _fastest(fn, n, repeats)
    return max(1, int(n * target / t))


def calibrate(target: float = DEFAULT_TARGET) -> Calibration:
    """Calibrate every workload to ``target`` seconds per task (about 1 s of work at 50 ms)."""
    import platform

    t0 = time.perf_counter()
    calc_n = size_for(calc, target, 10_000)
    # Buffers cost memory: cap at 256 MiB (sha256 runs at ~0.5-2 GB/s, so caps only matter
    # for targets of seconds).
    cap = 256 * 1024 * 1024
    sha_bytes = min(cap, size_for(sha256_work, target, 1 << 16))
    zlib_bytes = min(cap, size_for(zlib_work, target, 1 << 16))
    # Keep only the buffers of the final sizes; the probes' would hold ~150 MiB for nothing.
    for size in list(_buffers):
        if size not in (sha_bytes, zlib_bytes):
            del _buffers[size]
    return Calibration(
        target=target,
        calc_n=calc_n,
        sha256_bytes=sha_bytes,
        zlib_bytes=zlib_bytes,
        seconds=time.perf_counter() - t0,
        python=platform.python_version(),
    )
