"""Shared fixtures of the claims suite.

* Every claim test is selectable by its claim id with ``-k``: the id of its
  ``@pytest.mark.claim`` marker is added to the test's keywords (``pytest -k
  gil.one-thread-at-a-time``, ``-k one-thread``, ``-k "mp. and not main-guard"``).
* ``measure_once`` — one measurement shared by the claims that read the same thing (e.g. N
  processes running ``calc`` decide both ``gil.processes-for-cpu`` and
  ``mp.no-threads-gil-irrelevant``), so the suite times each workload once per run.
* ``doc_pool`` — the document's ``multiprocessing.Pool(4)``, warm, terminated and joined at the
  end of the session.
* ``decide_scaling`` — records an engine result as a claim's verdict (skips when the engine
  found the claim not testable here).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.pool
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_gil import noise, settings
from pytest_gil.claims import ClaimContext
from pytest_gil.engine import ScalingResult, measure_scaling
from pytest_gil.experiments import (
    ExperimentResult,
    PoolExecutor,
    default_sigterm,
    measure_parallelism,
    sleep_then_return,
    stop_pool,
)
from pytest_gil.pools import ManagedProcessPool
from pytest_gil.workloads import Calibration, calc, calc_i

HERE = Path(__file__).resolve().parent
FORK_WARNING = "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("claim")
        if marker is not None and marker.args:
            item.extra_keyword_matches.add(str(marker.args[0]))
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

    def threads_parallelism(self, cal: Calibration, cpus: int) -> ExperimentResult:
        """P = CPU / wall of 2 threads running calc."""
        return self(  # type: ignore[no-any-return]
            "P-thread-2",
            lambda: measure_parallelism("thread", calc, cal.calc_n, workers=2,
                                        usable_cpus=cpus, label="calc in 2 threads"),
        )

    def interpreters_parallelism(self, cal: Calibration, cpus: int,
                                 pool: concurrent.futures.Executor) -> ExperimentResult:
        """P = CPU / wall of 2 threads, each in its own sub-interpreter, running calc."""
        return self(  # type: ignore[no-any-return]
            "P-interpreter-2",
            lambda: measure_parallelism("interpreter", calc, cal.calc_n // 2, workers=2,
                                        tasks=8, usable_cpus=cpus, executor=pool,
                                        label="calc in 2 sub-interpreters"),
        )

    # Pools get four tasks per worker (a slow burst of one worker is averaged over the
    # phase, see engine.POOL_TASKS_PER_WORKER) of half a calibrated task each, so a phase
    # lasts ~100 ms in parallel and ~200 ms serially.

    def interpreters_calc(self, cal: Calibration) -> ScalingResult:
        """2 threads, each in its own sub-interpreter, × calc."""
        return self(  # type: ignore[no-any-return]
            "calc-interpreter-2",
            lambda: measure_scaling(calc, cal.calc_n // 2, workers=2, tasks=8,
                                    executor="interpreter", claim="parallel",
                                    label="calc in 2 sub-interpreters"),
        )

    def processes_calc(self, cal: Calibration, pool: ManagedProcessPool) -> ScalingResult:
        """calc in the session's ProcessPoolExecutor (up to 2 workers)."""
        workers = max(1, min(2, pool.size))
        return self(  # type: ignore[no-any-return]
            "calc-process-executor",
            lambda: measure_scaling(calc, cal.calc_n // 2, workers=workers,
                                    tasks=4 * workers, executor="process", pool=pool,
                                    claim="parallel",
                                    label=f"calc in ProcessPoolExecutor({pool.size})"),
        )

    def pool_async_calc(self, cal: Calibration, pool: multiprocessing.pool.Pool) -> (
            ScalingResult):
        """The document's 4 × pool.apply_async(calc, (i,)) on Pool(4): four full-size tasks,
        so the phase on 2 CPUs lasts ~100 ms (a shorter one is at the mercy of the VM's
        slow bursts)."""
        return self(  # type: ignore[no-any-return]
            "calc-pool-apply_async-4",
            lambda: measure_scaling(calc_i, 0, cal.calc_n, workers=4, tasks=4,
                                    executor="process", claim="parallel",
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
    ctx = multiprocessing.get_context(settings.current().start_method)
    pool = ctx.Pool(4, initializer=default_sigterm)
    try:
        # Four tasks holding their worker make every worker import the task modules now.
        pool.starmap(sleep_then_return, [(i, 0.02) for i in range(4)], chunksize=1)
        yield pool
    finally:
        stop_pool(pool)


def loaded_rounds(result: ScalingResult) -> tuple[int, int]:
    """``(disturbed, measured)`` rounds of a scaling result judged by the noise criteria for
    CPU-bound work (foreign load above a quarter CPU, serial phase short of a core)."""
    rounds = [r for r in result.raw if not r.warmup]
    n_cpus = os.cpu_count() or 1
    disturbed = 0
    for r in rounds:
        reading = r.noise
        allowance = n_cpus / (100 * max(r.t_serial + r.t_parallel, 1e-3))
        foreign = reading.foreign_cpu
        ratio = reading.serial_cpu_ratio
        if (foreign is not None and foreign - allowance > noise.FOREIGN_CPU_MAX) or (
            ratio is not None and ratio < noise.SERIAL_CPU_MIN
        ):
            disturbed += 1
    return disturbed, len(rounds)


@pytest.fixture
def decide_scaling() -> Callable[..., None]:
    """``decide_scaling(gil_claim, result, which, checks=(), note="")``: decide the claim with
    the engine's verdict ``result.verdicts[which]``; skip when the engine said not-testable.

    For a claim about CPU-bound work, a result the engine took for *waiting* work (its
    warm-up's serial phase got under half a core — on a loaded machine) was decided without
    the noise criteria; if most of its rounds ran under foreign load it is inconclusive, as
    the engine would have said."""

    def decide(
        claim: ClaimContext,
        result: ScalingResult,
        which: str,
        checks: tuple[Any, ...] = (),
        note: str = "",
    ) -> None:
        verdict = result.verdicts[which]
        if verdict == "not-testable":
            pytest.skip(f"{claim.id} is not testable here: {result.reason}")
        detail = result.detail(which)
        if claim.claim.kind == "cpu_bound" and not result.cpu_bound and verdict != (
                "inconclusive"):
            disturbed, measured = loaded_rounds(result)
            if disturbed * 2 > measured:
                detail += (
                    f"; but {disturbed} of {measured} rounds ran under foreign load or with "
                    "the serial phase short of a core, and the engine took this CPU-bound "
                    "work for waiting work (warm-up CPU/wall < 0.5), so it applied no noise "
                    f"criteria: {verdict} → inconclusive"
                )
                verdict = "inconclusive"
        claim.decide(
            verdict,
            figure=result.figure(),
            detail=f"{note}{detail}" if note else detail,
            checks=[result, *checks],
        )

    return decide
