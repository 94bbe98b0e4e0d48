"""The questions' phases as plain functions, for the peers (pyperf, pytest-benchmark).

Each function is one *phase* of the engine's paired round, on the same workload the engine
times: ``k`` calls of ``calc(n)`` (or ``worker(t)``, ``sha256_work(nbytes)``) one after
another, on ``k`` threads started and joined, or on a warm process pool.  Starting a thread
(~100 µs) is part of the peers' phase; the engine starts its threads before the phase behind
a barrier.

Imported by the pyperf worker processes (``PYTHONPATH`` points here) and by the generated
pytest-benchmark test file.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable
from typing import Any

from pytest_gil.workloads import calc, sha256_work, worker

__all__ = ["calc", "in_pool", "in_threads", "make_pool", "serial", "sha256_work", "worker"]


def serial(fn: Callable[[Any], Any], arg: Any, k: int) -> None:
    for _ in range(k):
        fn(arg)


def in_threads(fn: Callable[[Any], Any], arg: Any, k: int) -> None:
    threads = [threading.Thread(target=fn, args=(arg,)) for _ in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def in_pool(pool: cf.Executor, fn: Callable[[Any], Any], arg: Any, k: int) -> None:
    for f in [pool.submit(fn, arg) for _ in range(k)]:
        f.result()


def make_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A process pool with every worker started (one 20 ms sleep each)."""
    pool = cf.ProcessPoolExecutor(max_workers=workers)
    for f in [pool.submit(worker, 0.02) for _ in range(workers)]:
        f.result()
    return pool
