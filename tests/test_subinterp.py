"""Tests of pytest_gil.runtimes.subinterp: the sub-interpreter executor.

Run under whatever interpreter runs pytest: 3.12 (``_xxsubinterpreters``) and 3.13
(``_interpreters``) exercise the real executor; 3.10/3.11 skip those tests with a reason. The
3.14 glue (our API over the stdlib pool) is exercised everywhere over a ThreadPoolExecutor.

The functions run in sub-interpreters live in a small module written to a temporary directory
(importing this test module inside a sub-interpreter would import pytest there too); that
directory is put on ``sys.path`` only in the parent, which also checks that the sub-interpreters
follow the parent's ``sys.path``.
"""

from __future__ import annotations

import gc
import os
import pickle
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import types
import warnings
from collections.abc import Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pytest_gil.runtimes import subinterp
from pytest_gil.runtimes.subinterp import (
    BrokenInterpreterPool,
    InterpreterPoolExecutor,
    SubinterpreterError,
    SubinterpretersUnavailable,
    TimedResult,
    list_interpreters,
    remote_traceback,
    subinterpreter_api,
    unavailable_reason,
)
from pytest_gil.runtimes.subinterp_pools import StdlibGlue

API = subinterpreter_api()
needs_api = pytest.mark.skipif(API is None, reason=unavailable_reason() or "")

TARGETS = '''
import os
import sys
import time


class CustomError(Exception):
    """Picklable, importable: comes back as itself."""


class OddError(Exception):
    """Cannot be rebuilt by pickle (its __init__ needs two arguments)."""

    def __init__(self, a, b):
        super().__init__(f"odd {a} {b}")


def add(a, b=0, *, c=0):
    return a + b + c


def echo(*args, **kwargs):
    return args, kwargs


def where():
    try:
        import _interpreters as m
        iid = m.get_current()[0]
    except ImportError:
        import _xxsubinterpreters as m
        iid = m.get_current()
    return int(iid), os.getpid()


def get_sys_path():
    return list(sys.path)


def raise_value_error(msg):
    raise ValueError(msg)


def raise_custom(msg):
    raise CustomError(msg)


def raise_odd():
    raise OddError(1, 2)


def call_exit():
    sys.exit(3)


def unpicklable_result():
    return lambda: None


def count(n):
    while n:
        n -= 1
    return n


def block_on(fd):
    """Hang until the parent writes one byte to the pipe ``fd``."""
    return os.read(fd, 1)


def sleep(t):
    time.sleep(t)
    return t


INIT = None


def init(value):
    global INIT
    INIT = value


def get_init():
    return INIT


def init_fails():
    raise RuntimeError("initializer failed on purpose")
'''


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The target module, importable in the parent (and so, by sys.path, in sub-interpreters)."""
    directory = tmp_path_factory.mktemp("subinterp_targets")
    name = f"pg_subinterp_targets_{os.getpid()}"
    (directory / f"{name}.py").write_text(TARGETS)
    sys.path.insert(0, str(directory))
    try:
        module = __import__(name)
        yield module
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop(name, None)


def _wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


@pytest.fixture
def baseline() -> Iterator[tuple[int, list[int]]]:
    """Threads and interpreters before the test; the test must leave both as they were."""
    before = (threading.active_count(), list_interpreters())
    yield before
    clean = _wait_until(lambda: (threading.active_count(), list_interpreters()) == before, 10.0)
    assert clean, (
        f"left behind: {threading.active_count()} threads (was {before[0]}), "
        f"interpreters {list_interpreters()} (was {before[1]})"
    )


@pytest.fixture
def executor(baseline: tuple[int, list[int]]) -> Iterator[InterpreterPoolExecutor]:
    if API is None:
        pytest.skip(unavailable_reason() or "")
    ex = InterpreterPoolExecutor(max_workers=2)
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True, timeout=30)


# --------------------------------------------------------------------------- detection


def test_api_matches_the_version() -> None:
    if sys.implementation.name != "cpython" or sys.version_info < (3, 12):
        assert API is None
        assert "3.12" in (unavailable_reason() or "")
        return
    if sys.version_info[:2] == (3, 12):
        assert API == "_xxsubinterpreters"
    elif sys.version_info[:2] == (3, 13):
        assert API == "_interpreters"
    else:  # 3.14+: the stdlib module and its executor
        assert API == "concurrent.interpreters"
    assert unavailable_reason() is None


def test_detection_is_cheap_and_never_crashes() -> None:
    code = textwrap.dedent(
        """
        import sys
        from pytest_gil.runtimes.subinterp import subinterpreter_api, list_interpreters
        print(subinterpreter_api())
        heavy = {"_interpreters", "_xxsubinterpreters", "concurrent.interpreters",
                 "concurrent.futures.interpreter", "numpy", "scipy", "psutil"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=root
    ).stdout.split("\n")
    assert out[0] == str(API)
    assert out[1] == "[]"


@pytest.mark.skipif(API is not None, reason="sub-interpreters exist here")
def test_executor_unavailable_names_the_reason() -> None:
    with pytest.raises(SubinterpretersUnavailable, match=r"3\.12"):
        InterpreterPoolExecutor(max_workers=1)
    assert list_interpreters() == [0]
    assert subinterp.current_interpreter_id() == 0


# --------------------------------------------------------------------------- results


@needs_api
def test_results_args_and_kwargs(executor: InterpreterPoolExecutor, targets: ModuleType) -> None:
    assert executor.submit(targets.add, 1, 2, c=3).result() == 6
    assert executor.submit(targets.add, 5).result() == 5
    args, kwargs = executor.submit(targets.echo, 1, "x", [2, 3], k={"a": (1,)}).result()
    assert args == (1, "x", [2, 3])
    assert kwargs == {"k": {"a": (1,)}}
    assert list(executor.map(targets.add, [1, 2, 3], [10, 20, 30])) == [11, 22, 33]
    big = b"x" * 3_000_000  # larger than a pipe buffer, both ways
    assert executor.submit(targets.echo, big).result() == ((big,), {})


@needs_api
def test_runs_in_separate_sub_interpreters(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    warm = executor.warm([targets.__name__])
    ids = {w.interpreter_id for w in warm.workers}
    assert len(ids) == 2 and 0 not in ids
    assert set(executor.interpreter_ids()) == ids
    assert ids <= set(list_interpreters())
    seen = {executor.submit(targets.where).result() for _ in range(8)}
    assert {pid for _, pid in seen} == {os.getpid()}
    assert {iid for iid, _ in seen} <= ids


@needs_api
def test_sub_interpreter_sys_path_follows_the_parent(
    executor: InterpreterPoolExecutor, targets: ModuleType, tmp_path: Path
) -> None:
    executor.warm()
    # A directory added after the workers started, with a module only importable from it.
    (tmp_path / "pg_late_module.py").write_text("def answer():\n    return 42\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import pg_late_module  # type: ignore[import-not-found]

        assert executor.submit(pg_late_module.answer).result() == 42
        expected = [p for p in sys.path if isinstance(p, str)]
        assert executor.submit(targets.get_sys_path).result() == expected
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pg_late_module", None)


@needs_api
def test_submit_timed_reports_timing(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    rec = executor.submit_timed(targets.count, 100_000).result()
    assert isinstance(rec, TimedResult)
    assert rec.result == 0
    assert rec.end >= rec.start
    # counting to 100 000 takes milliseconds of CPU, all of it within the timed span
    assert 0.0 < rec.cpu <= (rec.end - rec.start) + 1e-4
    assert rec.pid == os.getpid()
    assert rec.interpreter_id != 0
    assert rec.thread_id != threading.get_ident()
    assert rec.interpreter_id in executor.interpreter_ids()


@needs_api
def test_run_timed_returns_one_record_per_task(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    records = executor.run_timed(targets.count, (50_000,), tasks=3)
    assert len(records) == 3
    assert all(r.result == 0 and r.end >= r.start for r in records)
    assert {r.interpreter_id for r in records} <= set(executor.interpreter_ids())
    # the module was warmed in every worker by run_timed itself
    assert targets.__name__ in executor._warmed


@needs_api
def test_warm_reports_the_start_cost(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    warm = executor.warm([targets.__name__, "json"])
    assert len(warm.workers) == 2
    for w in warm.workers:
        assert w.create is not None and w.create > 0
        assert w.bootstrap is not None and w.bootstrap > 0
        # neither module was imported in a fresh interpreter: importing them took time
        assert w.imports > 0
    assert warm.wall >= max(w.imports for w in warm.workers)
    again = executor.warm([targets.__name__])
    # the same workers, not started again: the same interpreters and start costs
    assert [(w.interpreter_id, w.thread_id, w.create, w.bootstrap) for w in again.workers] == [
        (w.interpreter_id, w.thread_id, w.create, w.bootstrap) for w in warm.workers
    ]


# --------------------------------------------------------------------------- errors


@needs_api
def test_builtin_exception_comes_back_with_remote_traceback(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    with pytest.raises(ValueError, match="bad value") as info:
        executor.submit(targets.raise_value_error, "bad value").result()
    cause = info.value.__cause__
    assert isinstance(cause, SubinterpreterError)
    assert cause.exc_type == "ValueError"
    assert cause.message == "bad value"
    assert cause.interpreter_id in executor.interpreter_ids()
    tb = remote_traceback(info.value)
    assert tb is not None
    assert "in raise_value_error" in tb and "raise ValueError(msg)" in tb
    assert "sub_execute" not in tb
    assert cause.tb == tb
    assert "Remote traceback" in str(cause)
    # the worker survives its task's exception
    assert executor.submit(targets.add, 2, 2).result() == 4


@needs_api
def test_importable_exception_class_is_reraised(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    with pytest.raises(targets.CustomError, match="custom") as info:
        executor.submit(targets.raise_custom, "custom").result()
    assert "raise CustomError(msg)" in (remote_traceback(info.value) or "")


@needs_api
def test_unrebuildable_exception_becomes_subinterpreter_error(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    with pytest.raises(SubinterpreterError) as info:
        executor.submit(targets.raise_odd).result()
    err = info.value
    assert err.exc_type == f"{targets.__name__}.OddError"
    assert err.message == "odd 1 2"
    assert "raise OddError(1, 2)" in err.remote_traceback
    assert err.stage == "call"
    # SystemExit is never re-raised in the parent
    with pytest.raises(SubinterpreterError, match="SystemExit"):
        executor.submit(targets.call_exit).result()
    # an error survives pickling (e.g. to travel with an xdist report)
    again = pickle.loads(pickle.dumps(err))
    assert again.remote_traceback == err.remote_traceback and again.exc_type == err.exc_type


@needs_api
def test_unpicklable_result_is_reported(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    with pytest.raises(SubinterpreterError) as info:
        executor.submit(targets.unpicklable_result).result()
    assert info.value.stage == "result"
    assert "result" in str(info.value)


@needs_api
def test_run_timed_raises_the_first_error_after_all_tasks(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    with pytest.raises(ValueError, match="in a batch"):
        executor.run_timed(targets.raise_value_error, ("in a batch",), tasks=3)
    assert executor.submit(targets.add, 1).result() == 1


# --------------------------------------------------------------------------- rejection


class _Holder:
    def method(self) -> int:
        return 1


@needs_api
@pytest.mark.parametrize(
    "fn, what",
    [
        (lambda: 1, "a lambda"),
        (_Holder().method, "bound method"),
    ],
    ids=["lambda", "bound-method"],
)
def test_rejects_what_a_sub_interpreter_cannot_import(
    executor: InterpreterPoolExecutor, fn: Any, what: str
) -> None:
    before = threading.active_count()
    with pytest.raises(TypeError) as info:
        executor.submit(fn)
    message = str(info.value)
    assert "must be a module-level function with picklable arguments" in message
    assert what in message
    assert threading.active_count() == before  # rejected before any worker started


@needs_api
def test_rejects_nested_functions_and_unpicklable_arguments(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    def nested() -> None:
        pass

    with pytest.raises(TypeError, match="module-level function with picklable arguments"):
        executor.submit(nested)
    with pytest.raises(TypeError, match="module-level function with picklable arguments"):
        executor.submit(targets.echo, lambda: None)
    with pytest.raises(TypeError, match="module-level function with picklable arguments"):
        executor.submit_timed(lambda: None)
    with pytest.raises(TypeError, match="module-level function with picklable arguments"):
        executor.run_timed(lambda: None, tasks=1)


# --------------------------------------------------------------------------- lifecycle


@needs_api
def test_shutdown_leaves_nothing_running(
    baseline: tuple[int, list[int]], targets: ModuleType
) -> None:
    threads, interpreters = baseline
    with InterpreterPoolExecutor(max_workers=2) as ex:
        ex.warm()
        assert threading.active_count() == threads + 2
        assert len(list_interpreters()) == len(interpreters) + 2
        with pytest.raises(ValueError):
            ex.submit(targets.raise_value_error, "x").result()
    assert threading.active_count() == threads
    assert list_interpreters() == interpreters
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(targets.add, 1)


@needs_api
def test_shutdown_cancels_pending_futures(
    baseline: tuple[int, list[int]], targets: ModuleType
) -> None:
    ex = InterpreterPoolExecutor(max_workers=1)
    r, w = os.pipe()
    try:
        running = ex.submit(targets.block_on, r)
        pending = [ex.submit(targets.add, i) for i in range(3)]
        assert _wait_until(running.running)
        ex.shutdown(wait=False, cancel_futures=True)
        assert all(f.cancelled() for f in pending)
        with pytest.raises(CancelledError):
            pending[0].result()
        os.write(w, b"x")
        assert running.result(timeout=10) == b"x"
        ex.shutdown(wait=True)
    finally:
        os.close(r)
        os.close(w)


@needs_api
def test_shutdown_timeout_does_not_deadlock_on_a_hung_task(
    baseline: tuple[int, list[int]], targets: ModuleType
) -> None:
    ex = InterpreterPoolExecutor(max_workers=2)
    r, w = os.pipe()
    try:
        hung = ex.submit(targets.block_on, r)
        assert _wait_until(hung.running)
        with pytest.warns(RuntimeWarning, match="still busy") as record:
            ex.shutdown(wait=True, timeout=0.2)  # returns although the task cannot end
        assert "block_on" in str(record[0].message)
        assert not hung.done()
        # Once the task returns, its worker exits and destroys its interpreter (checked by the
        # baseline fixture).
        os.write(w, b"x")
        assert hung.result(timeout=10) == b"x"
        ex.shutdown(wait=True, timeout=10)
    finally:
        os.close(r)
        os.close(w)


@needs_api
def test_warm_times_out_while_a_worker_is_busy(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    r, w = os.pipe()
    try:
        busy = executor.submit(targets.block_on, r)
        assert _wait_until(busy.running)
        with pytest.raises(TimeoutError, match="warm-up"):
            executor.warm([targets.__name__], timeout=0.3)
        os.write(w, b"x")
        assert busy.result(timeout=10) == b"x"
        assert len(executor.warm([targets.__name__]).workers) == 2
    finally:
        os.close(r)
        os.close(w)


@needs_api
def test_initializer_runs_in_every_interpreter(
    baseline: tuple[int, list[int]], targets: ModuleType
) -> None:
    with InterpreterPoolExecutor(max_workers=2, initializer=targets.init, initargs=(7,)) as ex:
        ex.warm()
        assert [ex.submit(targets.get_init).result() for _ in range(4)] == [7] * 4


@needs_api
def test_failing_initializer_breaks_the_pool(
    baseline: tuple[int, list[int]], targets: ModuleType
) -> None:
    ex = InterpreterPoolExecutor(max_workers=2, initializer=targets.init_fails)
    try:
        future = ex.submit(targets.add, 1)
        with pytest.raises(BrokenInterpreterPool, match="initializer failed on purpose"):
            future.result(timeout=30)
        with pytest.raises(BrokenInterpreterPool):
            ex.submit(targets.add, 1)
    finally:
        ex.shutdown(wait=True, timeout=30)


@needs_api
def test_forgotten_executor_stops_its_workers(
    baseline: tuple[int, list[int]], targets: ModuleType
) -> None:
    ex = InterpreterPoolExecutor(max_workers=2)
    future = ex.submit(targets.add, 1, 1)
    assert future.result() == 2
    del ex
    gc.collect()
    # the baseline fixture checks that threads and interpreters go away


@needs_api
def test_process_exits_cleanly(targets: ModuleType) -> None:
    """No abort at exit: an executor left running, and hashlib imported through warm().

    On CPython 3.12.0-3.12.3 a sub-interpreter making the first keyword call into a C function
    (``import hashlib`` does) used to make the process abort at exit (gh-119213).
    """
    code = textwrap.dedent(
        f"""
        import sys
        from pytest_gil.runtimes.subinterp import InterpreterPoolExecutor
        import {targets.__name__} as targets
        assert "hashlib" not in sys.modules
        done = InterpreterPoolExecutor(max_workers=2)
        # the gh-119213 mitigation imports hashlib in the parent, on the affected versions only
        assert ("hashlib" in sys.modules) is {subinterp.CPYTHON_KWTUPLE_BUG!r}
        done.warm(["hashlib", "zlib"])
        done.shutdown()
        left = InterpreterPoolExecutor(max_workers=2)
        left.warm([targets.__name__])
        left.submit(targets.sleep, 0.2)
        print("end", flush=True)
        """
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "end"
    assert "Fatal" not in proc.stderr and "invalid pointer" not in proc.stderr, proc.stderr


# --------------------------------------------------------------------------- parallelism


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _machine_busy() -> float | None:
    """Busy CPU seconds of the whole machine so far (Linux), for telling foreign load apart."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@needs_api
@pytest.mark.slow
def test_two_workers_run_in_parallel(
    executor: InterpreterPoolExecutor, targets: ModuleType
) -> None:
    """Own GIL per interpreter: 2 workers on a counting loop use ~2 CPUs (P = CPU / wall)."""
    if _usable_cpus() < 2:
        pytest.skip(f"needs 2 usable CPUs, have {_usable_cpus()}")
    executor.warm([targets.__name__])
    # Calibrate: one task of about 0.1 s.
    n = 200_000
    while True:
        rec = executor.run_timed(targets.count, (n,), tasks=1)[0]
        if rec.end - rec.start >= 0.02 or n > 10**9:
            break
        n *= 4
    n = int(n * 0.1 / max(rec.end - rec.start, 1e-6))
    # Up to 3 batches of 5 rounds: a batch whose median P > 1.3 passes; one that misses it on
    # a quiet machine fails; one that misses it while other processes used > 0.5 CPU is
    # repeated after a pause, and the test skips when every batch was disturbed.
    history: list[str] = []
    for _ in range(3):
        ratios: list[float] = []
        foreign: list[float] = []
        for _ in range(5):
            busy0 = _machine_busy()
            c0, t0 = time.process_time(), time.perf_counter()
            executor.run_timed(targets.count, (n,), tasks=2, lead=0.002)
            c1, t1 = time.process_time(), time.perf_counter()
            busy1 = _machine_busy()
            ratios.append((c1 - c0) / (t1 - t0))
            if busy0 is not None and busy1 is not None:
                foreign.append(max(0.0, (busy1 - busy0) - (c1 - c0)) / (t1 - t0))
        median = statistics.median(ratios)
        load = statistics.median(foreign) if foreign else 0.0
        history.append(f"P {median:.2f} (foreign load {load:.2f} CPUs)")
        if median > 1.3:
            return
        assert load > 0.5, f"P per round {[round(x, 2) for x in ratios]} on a quiet machine"
        time.sleep(1.0)
    pytest.skip("machine busy in every batch: " + "; ".join(history))


# --------------------------------------------------------------------------- 3.14 glue


class _ThreadGlue(StdlibGlue, ThreadPoolExecutor):
    """The 3.14 glue over a plain ThreadPoolExecutor (runs in this interpreter's threads)."""

    _sync_sys_path = False


@pytest.fixture
def glue() -> Iterator[_ThreadGlue]:
    before = threading.active_count()
    ex = _ThreadGlue(max_workers=2)
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True, timeout=30)
        assert _wait_until(lambda: threading.active_count() == before)


def test_glue_results_timing_and_errors(glue: _ThreadGlue, targets: ModuleType) -> None:
    assert glue.submit(targets.add, 1, 2, c=3).result() == 6
    rec = glue.submit_timed(targets.count, 1000).result()
    assert isinstance(rec, TimedResult) and rec.pid == os.getpid() and rec.end >= rec.start
    records = glue.run_timed(targets.add, (1, 1), tasks=3)
    assert [r.result for r in records] == [2, 2, 2]
    with pytest.raises(targets.CustomError) as info:
        glue.submit(targets.raise_custom, "glue").result()
    assert "raise CustomError(msg)" in (remote_traceback(info.value) or "")
    with pytest.raises(SubinterpreterError):
        glue.submit(targets.raise_odd).result()
    with pytest.raises(TypeError, match="module-level function with picklable arguments"):
        glue.submit(lambda: 1)


def test_glue_warm_reaches_every_worker(glue: _ThreadGlue, targets: ModuleType) -> None:
    warm = glue.warm([targets.__name__])
    assert len({w.thread_id for w in warm.workers}) == 2


def test_glue_cancel_and_shutdown_timeout(targets: ModuleType) -> None:
    before = threading.active_count()
    ex = _ThreadGlue(max_workers=1)
    r, w = os.pipe()
    try:
        hung = ex.submit(targets.block_on, r)
        queued = ex.submit(targets.add, 1)
        assert queued.cancel() and queued.cancelled()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ex.shutdown(wait=True, timeout=0.2)
        assert any("still busy" in str(c.message) for c in caught)
        os.write(w, b"x")
        assert hung.result(timeout=10) == b"x"
        ex.shutdown(wait=True, timeout=10)
        assert _wait_until(lambda: threading.active_count() == before)
    finally:
        os.close(r)
        os.close(w)


def test_glue_initializer(targets: ModuleType) -> None:
    with _ThreadGlue(max_workers=1, initializer=targets.init, initargs=("glue",)) as ex:
        assert ex.submit(targets.get_init).result() == "glue"


def test_remote_traceback_of_a_plain_exception_is_none() -> None:
    assert remote_traceback(ValueError("x")) is None
    err = SubinterpreterError("ValueError", "x", "Traceback...\nValueError: x\n", 3)
    wrapped = KeyError("k")
    wrapped.__cause__ = err
    assert remote_traceback(wrapped) == err.remote_traceback
    assert "sub-interpreter 3" in str(err)


def test_sub_interpreters_are_created_and_destroyed_one_at_a_time() -> None:
    """CPython fails now and then to create a sub-interpreter while another thread creates or
    destroys one (cpython#128381): the workers of a pool take turns at that, and only that."""
    from pytest_gil.runtimes import subinterp_workers as workers

    inside, most, lock = [0], [0], threading.Lock()

    def step(*args: Any) -> int:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)
        with lock:
            inside[0] -= 1
        return 1

    fake = ModuleType("_interpreters")
    fake.create = step  # type: ignore[attr-defined]
    fake.destroy = step  # type: ignore[attr-defined]

    errors: list[str] = []
    state = types.SimpleNamespace(destroy_errors=errors)

    def life() -> None:
        iid = workers._create_interpreter("_interpreters", fake)
        workers._cleanup(state, fake, iid, -1)  # type: ignore[arg-type]

    threads = [threading.Thread(target=life) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1 and not errors
    assert not workers.LIFECYCLE.locked()
