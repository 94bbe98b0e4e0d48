"""The claims suite: the tutorial's catalogue registered with pytest-gil, and shared fixtures.

* ``pytest_gil_claims`` registers the catalogue of :mod:`gil_audit.catalogue` (the
  document's sentences and the verdict expected per runtime); ``@pytest.mark.claim(id)`` tests
  decide them with the ``gil_claim`` fixture, and ``-k <claim id>`` selects them.
* ``measure_once`` — one measurement shared by the claims that read the same thing (N
  processes running ``calc`` decide both ``gil.processes-for-cpu`` and
  ``mp.no-threads-gil-irrelevant``), so the suite times each workload once per run.
* ``doc_pool`` — the document's ``multiprocessing.Pool(4)``, warm, terminated and joined at
  the end of the session.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.pool
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gil_audit.catalogue import CLAIMS
from gil_audit.pools import PoolExecutor, stop_pool
from gil_audit.workers import default_sigterm, sleep_then_return

from pytest_gil import (
    Check,
    Claim,
    ScalingResult,
    current_settings,
    measure_parallelism,
    measure_scaling,
)
from pytest_gil.workloads import Calibration, calc, calc_i

HERE = Path(__file__).resolve().parent
FORK_WARNING = "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"


def pytest_gil_claims(config: pytest.Config) -> list[Claim]:
    return CLAIMS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # The session's pools fork from a process that runs threads (3.12+ warns about it);
        # the workers only run the document's functions, which is safe.
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings(FORK_WARNING))


class MeasureOnce:
    """``measure_once(key, measure)``: run ``measure()`` the first time ``key`` is asked for
    in this run (this xdist worker) and return the stored result afterwards;
    ``measure_once.peek(key)`` returns it only if it was measured already."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __call__(self, key: str, measure: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = measure()
        return self._cache[key]

    def peek(self, key: str) -> Any:
        return self._cache.get(key)

    # The measurements several claims read -------------------------------------------------

    def threads_parallelism(self, cal: Calibration) -> Check:
        """P = CPU / wall of 2 threads running calc."""
        return self(  # type: ignore[no-any-return]
            "P-thread-2",
            lambda: measure_parallelism(calc, cal.calc_n, workers=2,
                                        label="calc in 2 threads"),
        )

    def interpreters_parallelism(self, cal: Calibration,
                                 pool: concurrent.futures.Executor) -> Check:
        """P = CPU / wall of 2 threads, each in its own sub-interpreter, running calc."""
        return self(  # type: ignore[no-any-return]
            "P-interpreter-2",
            lambda: measure_parallelism(calc, cal.calc_n // 2, workers=2, tasks=8,
                                        executor="interpreter", pool=pool,
                                        label="calc in 2 sub-interpreters"),
        )

    # Pools get four tasks per worker (a slow burst of one worker is averaged over the
    # phase) of half a calibrated task each, so a phase lasts ~100 ms in parallel and
    # ~200 ms serially.

    def interpreters_calc(self, cal: Calibration) -> ScalingResult:
        """2 threads, each in its own sub-interpreter, × calc."""
        return self(  # type: ignore[no-any-return]
            "calc-interpreter-2",
            lambda: measure_scaling(calc, cal.calc_n // 2, workers=2, tasks=8,
                                    executor="interpreter", hypothesis="parallel",
                                    cpu_bound=True, label="calc in 2 sub-interpreters"),
        )

    def processes_calc(self, cal: Calibration, pool: concurrent.futures.Executor,
                       size: int) -> ScalingResult:
        """calc in the session's ProcessPoolExecutor (up to 2 workers)."""
        workers = max(1, min(2, size))
        return self(  # type: ignore[no-any-return]
            "calc-process-executor",
            lambda: measure_scaling(calc, cal.calc_n // 2, workers=workers,
                                    tasks=4 * workers, executor="process", pool=pool,
                                    hypothesis="parallel", cpu_bound=True,
                                    label=f"calc in ProcessPoolExecutor({size})"),
        )

    def pool_async_calc(self, cal: Calibration, pool: multiprocessing.pool.Pool
                        ) -> ScalingResult:
        """The document's 4 × pool.apply_async(calc, (i,)) on Pool(4): four full-size tasks,
        so the phase on 2 CPUs lasts ~100 ms (a shorter one is at the mercy of the VM's
        slow bursts)."""
        return self(  # type: ignore[no-any-return]
            "calc-pool-apply_async-4",
            lambda: measure_scaling(calc_i, args=(0, cal.calc_n), workers=4, tasks=4,
                                    executor="process", hypothesis="parallel",
                                    cpu_bound=True,
                                    pool=PoolExecutor(pool, 4, "apply_async"),
                                    label="4 × pool.apply_async(calc, (i,)) on Pool(4)"),
        )


@pytest.fixture(scope="session")
def measure_once() -> MeasureOnce:
    """One measurement shared by the claims that read the same workload."""
    return MeasureOnce()


@pytest.fixture(scope="session")
def doc_pool() -> Iterator[multiprocessing.pool.Pool]:
    """The document's ``multiprocessing.Pool(4)``, with every worker started and warm."""
    ctx = multiprocessing.get_context(current_settings().start_method)
    pool = ctx.Pool(4, initializer=default_sigterm)
    try:
        # Four tasks holding their worker make every worker import the task modules now.
        pool.starmap(sleep_then_return, [(i, 0.02) for i in range(4)], chunksize=1)
        yield pool
    finally:
        stop_pool(pool)
