"""The plugin's fixtures.  Their names are part of the interface.

* ``runtime_profile`` — the :class:`~pytest_gil.profile.RuntimeProfile` of this run;
* ``gil_calibration`` — task sizes that take 50 ms × ``--gil-scale`` here (shared by xdist
  workers);
* ``thread_runner`` — a :class:`~pytest_gil.ThreadRunner`: threads released together
  by a barrier, every thread joined at teardown;
* ``process_pool`` — a warm process pool for the session, sized to the usable CPUs, rebuilt if
  a worker died;
* ``executor_factory`` — ``executor_factory("thread" | "process" | "interpreter",
  max_workers=...)``; everything it made is shut down at teardown;
* ``gil_claim`` — the :class:`~pytest_gil.ClaimContext` of the test's ``claim`` marker;
* ``gil_contention`` — the GIL contention while the test ran (or its ``measure()`` blocks),
  written to the report as ``tests[nodeid]["contention"]``.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from . import records, settings
from .claims import ClaimContext, UnknownClaimError
from .contention import ContentionRecorder
from .profile import RuntimeProfile
from .profile import runtime_profile as _runtime_profile
from .runtimes.pools import ManagedProcessPool, make_executor, terminate_executor
from .runtimes.threads import ThreadRunner
from .workloads import Calibration

__all__ = [
    "CALL_REPORT",
    "SHARED",
    "executor_factory",
    "gil_calibration",
    "gil_claim",
    "gil_contention_fixture",
    "process_pool",
    "runtime_profile_fixture",
    "thread_runner",
]

CALL_REPORT = pytest.StashKey[pytest.TestReport]()
"""The call-phase report of an item, so fixture teardown knows whether the test failed."""

SHARED = pytest.StashKey[Any]()
POOL = pytest.StashKey[ManagedProcessPool]()


def _failed(request: pytest.FixtureRequest) -> bool:
    rep = request.node.stash.get(CALL_REPORT, None)
    return rep is None or not rep.passed


@pytest.fixture(name="runtime_profile", scope="session")
def runtime_profile_fixture() -> RuntimeProfile:
    """The interpreter and machine this run measures (version, build, GIL state, usable CPUs,
    start methods, sub-interpreter API).  Injected fields (``PYTEST_GIL_PROFILE``) show as
    ``profile.injected``."""
    return _runtime_profile()


@pytest.fixture
def gil_calibration(pytestconfig: pytest.Config) -> Calibration:
    """Workload sizes for one task of 50 ms × ``--gil-scale`` on this interpreter:
    ``calc_n``, ``sha256_bytes``, ``zlib_bytes``.  Computed once per run and scale (a test's
    ``@pytest.mark.gil(scale=...)`` gets its own) and shared with the other xdist workers."""
    shared = pytestconfig.stash[SHARED]
    scale = settings.current().scale
    cal: Calibration = shared.calibration(scale, _runtime_profile().tag)
    records.add_calibration(f"scale {scale:g}", cal.to_dict())
    return cal


@pytest.fixture
def thread_runner() -> Iterator[ThreadRunner]:
    """Run callables in N threads released together by a barrier::

        def test_two_threads(thread_runner):
            timeline = thread_runner.run(calc, 1_000_000, workers=2)
            assert timeline.results == [1_000_000] * 2

    Every thread is joined at teardown, also when the test failed.
    """
    runner = ThreadRunner()
    try:
        yield runner
    finally:
        alive = runner.close()
        if alive:
            names = ", ".join(t.name for t in alive)
            pytest.fail(
                f"thread_runner: {len(alive)} thread(s) blocked in C code could not be "
                f"stopped: {names} (left as daemon threads; they end with the process)",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def process_pool(
    runtime_profile: RuntimeProfile, pytestconfig: pytest.Config
) -> Iterator[ManagedProcessPool]:
    """A warm process pool for the session, one worker per usable CPU, started with
    ``--gil-start-method``.  Rebuilt transparently if a worker died.  Pass it to
    ``run_tasks("process", ..., executor=process_pool)`` or ``measure_scaling``."""
    pool = ManagedProcessPool(max(1, runtime_profile.usable_cpus), settings.current().start_method)
    pytestconfig.stash[POOL] = pool
    try:
        pool.warm()  # handed out warm: start-up never falls inside a test body
        yield pool
    finally:
        terminate_executor(pool, wait=False)
        del pytestconfig.stash[POOL]


def reset_busy_pool(config: pytest.Config) -> None:
    """After a test that used ``process_pool``: terminate the pool if a task is still running
    (a hung or abandoned submit), so later tests get idle workers (called by the plugin's
    ``pytest_runtest_teardown``)."""
    pool = config.stash.get(POOL, None)
    if pool is not None:
        pool.reset_if_busy()


@pytest.fixture
def executor_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., cf.Executor]]:
    """Make ``concurrent.futures`` executors that are cleaned up at teardown::

        def test_pool(executor_factory):
            ex = executor_factory("process", max_workers=2)
            assert ex.submit(pow, 2, 10).result() == 1024

    Kinds: ``"thread"``, ``"process"`` (``--gil-start-method``), ``"interpreter"``
    (sub-interpreters, skipped where none exist).  At teardown every executor is shut down;
    if the test failed, pending futures are cancelled and process workers terminated.
    """
    made: list[cf.Executor] = []

    def factory(kind: str, max_workers: int | None = None, **kwargs: Any) -> cf.Executor:
        workers = max_workers if max_workers is not None else max(1, _runtime_profile().usable_cpus)
        start_method = kwargs.pop("start_method", settings.current().start_method)
        if kwargs:
            raise TypeError(f"executor_factory got unexpected arguments {sorted(kwargs)}")
        ex = make_executor(kind, workers, start_method)
        made.append(ex)
        return ex

    try:
        yield factory
    finally:
        failed = _failed(request)
        for ex in reversed(made):
            terminate_executor(ex, wait=not failed)


@pytest.fixture
def gil_claim(request: pytest.FixtureRequest) -> ClaimContext:
    """The claim named by the test's ``@pytest.mark.claim(id)`` marker: its expectation on
    this runtime (``gil_claim.expected``), and ``decide(check)`` / ``functional(holds,
    detail)`` to record the measured verdict and assert it."""
    from .markers import registry

    marker = request.node.get_closest_marker("claim")
    if marker is None or not marker.args:
        pytest.fail(
            f"{request.node.nodeid}: the gil_claim fixture needs @pytest.mark.claim(\"<id>\")",
            pytrace=False,
        )
    try:
        claim = registry(request.config).get(marker.args[0])
    except UnknownClaimError as exc:
        pytest.fail(f"{request.node.nodeid}: {exc}", pytrace=False)
    return ClaimContext(claim, _runtime_profile(), request.node.nodeid)


@pytest.fixture(name="gil_contention")
def gil_contention_fixture() -> Iterator[ContentionRecorder]:
    """How long threads that want the GIL waited for it while the test ran (a sampling
    thread; see :mod:`pytest_gil.contention`).  The whole body is measured unless the test
    measures blocks::

        def test_io_threads_leave_the_gil_free(gil_contention):
            with gil_contention.measure() as meter:
                run_io_threads()
            assert meter.result.wait_fraction < 0.1

    The figure (``wait_fraction``, ``mean_delay``, ``p99_delay``, ``samples``, ``overhead``,
    …) goes to the report as ``tests[nodeid]["contention"]``, also when the test failed.
    Setup takes ~0.1 s (the OS's wake-up latency, measured with no thread busy) plus ~0.7 s
    once per process (the sampler's overhead).  A measuring fixture: under xdist the test runs
    alone, since other workers' load would read as waiting.  The sampler takes the GIL from
    busy threads every few ms: don't combine it with timing checks in one test.
    """
    recorder = ContentionRecorder()
    try:
        recorder.begin()
    except RuntimeError as exc:
        pytest.fail(f"gil_contention: {exc}", pytrace=False)
    try:
        yield recorder
    finally:
        try:
            record = recorder.finish()
        except RuntimeError as exc:
            pytest.fail(f"gil_contention: {exc}", pytrace=False)
        if record is not None:
            records.add_test_data("contention", record)
