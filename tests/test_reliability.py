"""Reliability: bad input, crashed and hung workers, interrupts (issue 7).

Every fault is provoked in a real pytest run in a subprocess (``pytester``), and each test
checks three things: the message names the cause and the fix; the tests after the fault in
the same run still pass; and nothing is left behind — the inner run's ``conftest`` lists the
threads and child processes still alive at its very end (:data:`PROBE_CONFTEST`), and after
the run no process carrying the test's token in its environment survives (psutil), which also
catches orphans re-parented to init.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
TOKEN_VAR = "PYTEST_GIL_RELIABILITY_TOKEN"

# Written into every inner run.  At the very end of the run (after pytest-gil's own
# unconfigure) it lists the threads and the child processes still alive in probe.json.
PROBE_CONFTEST = '''
import json, os, threading
import pytest

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    import psutil
    children = []
    for c in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(c.cmdline())
            status = c.status()
        except psutil.Error:
            continue
        # multiprocessing's helpers exit with the interpreter; they are not workers
        if "resource_tracker" in cmd or "forkserver" in cmd:
            continue
        children.append({"pid": c.pid, "cmd": cmd, "status": status})
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    path = os.path.join(str(config.rootpath), "probe.json")
    with open(path, "w") as f:
        json.dump({"children": children, "threads": threads}, f)
'''

# Importable by worker processes and sub-interpreters (module-level functions only).
JOBS = '''
import os, signal, threading, time
from pathlib import Path

def square(x):
    return x * x

def boom(x):
    raise ValueError(f"boom {x}")

def give_lock():
    return threading.Lock()

def take(arg):
    return 1

def exit_now(code):
    os._exit(code)

def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)

def segfault():
    import ctypes  # not at the top: CPython 3.12 cannot load _ctypes in a sub-interpreter
    ctypes.string_at(0)

def sleep_forever(marker=None):
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(3600)

def spin_forever(marker=None):
    if marker:
        Path(marker).write_text(str(os.getpid()))
    while True:
        pass
'''


class Inner:
    """A pytester directory with the probe conftest and the jobs module, and a token in the
    environment of every process it starts."""

    def __init__(self, pytester: pytest.Pytester, token: str) -> None:
        self.pytester = pytester
        self.token = token

    @property
    def path(self) -> Path:
        return Path(self.pytester.path)

    def run(self, *args: str, timeout: float = 60) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(
            "-p", "no:randomly", "-p", "no:cacheprovider", *args, timeout=timeout
        )

    def probe(self) -> dict[str, Any]:
        path = self.path / "probe.json"
        assert path.exists(), "the inner run did not reach pytest_unconfigure"
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def assert_clean_end(self) -> None:
        """At the end of the inner run no child process and no thread but the main one was
        alive."""
        probe = self.probe()
        assert probe["children"] == []
        assert probe["threads"] == []

    def survivors(self, wait: float = 10.0) -> list[str]:
        """Processes (other than this one) with our token still alive, waiting up to ``wait``
        seconds for those on their way out (workers whose parent just died)."""
        deadline = time.monotonic() + wait
        while True:
            found = _token_processes(self.token)
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def assert_no_survivors(self) -> None:
        assert self.survivors() == []


def _token_processes(token: str) -> list[str]:
    found = []
    for p in psutil.process_iter(["pid", "ppid", "name", "status"]):
        if p.pid == os.getpid():
            continue
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if p.environ().get(TOKEN_VAR) != token:
                continue
            found.append(f"pid {p.pid} (parent {p.info['ppid']}): {' '.join(p.cmdline())}")
        except psutil.Error:
            continue
    return found


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inner]:
    token = uuid.uuid4().hex
    monkeypatch.setenv(TOKEN_VAR, token)
    monkeypatch.setenv("COLUMNS", "120")
    for var in ("PYTEST_ADDOPTS", "PYTEST_GIL_PROFILE", "PYTEST_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    pytester.makeconftest(PROBE_CONFTEST)
    pytester.makepyfile(jobs=JOBS)
    helper = Inner(pytester, token)
    try:
        yield helper
    finally:
        for p in psutil.process_iter():  # never leave anything behind, even on failure
            try:
                if p.pid != os.getpid() and p.environ().get(TOKEN_VAR) == token:
                    p.kill()
            except psutil.Error:
                pass


# ----------------------------------------------------------------------------------------
# bad options and marker arguments


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--gil-scale", "0"],
            "invalid value '0' for --gil-scale (command line): expected a number in (0, 100]*",
        ),
        (["--gil-scale", "-2"], "invalid value '-2' for --gil-scale (command line)*"),
        (["--gil-scale", "fast"], "invalid value 'fast' for --gil-scale (command line)*"),
        (
            ["--gil-start-method", "teleport"],
            "invalid value 'teleport' for --gil-start-method (command line): start methods "
            "available on this platform are *",
        ),
    ],
)
def test_a_bad_option_is_a_usage_error_naming_value_source_and_range(
    inner: Inner, args: list[str], message: str
) -> None:
    inner.pytester.makepyfile("def test_nothing(): pass")
    result = inner.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_a_bad_ini_value_names_the_ini_file(inner: Inner) -> None:
    inner.pytester.makeini("[pytest]\ngil_scale = 0\n")
    inner.pytester.makepyfile("def test_nothing(): pass")
    result = inner.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid value '0' for gil_scale (ini option in *tox.ini)*"])


def test_bad_worker_counts_kinds_and_start_methods_fail_only_their_test(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_bad="""
        import pytest
        from jobs import square
        from pytest_gil import run_tasks

        def test_zero_workers(executor_factory):
            executor_factory("process", max_workers=0)

        def test_absurd_workers(executor_factory):
            executor_factory("process", max_workers=100_000)

        def test_absurd_threads():
            run_tasks("thread", square, 2, tasks=1, workers=1_000_000)

        def test_string_workers():
            run_tasks("thread", square, 2, tasks=2, workers="2")

        def test_unknown_kind_factory(executor_factory):
            executor_factory("fiber")

        def test_unknown_kind_run_tasks():
            run_tasks("fiber", square, 2, tasks=1)

        def test_unknown_start_method(executor_factory):
            executor_factory("process", max_workers=1, start_method="teleport")

        @pytest.mark.claim("gil.no-such-claim")
        def test_unknown_claim(gil_claim):
            pass

        @pytest.mark.requires_cpus("two")
        def test_cpus_as_words():
            pass

        def test_later(process_pool):
            assert run_tasks("process", square, 3, tasks=2, workers=1,
                             executor=process_pool).results == [9, 9]
        """
    )
    result = inner.run("-rfE")
    result.assert_outcomes(failed=7, errors=2, passed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*max_workers must be a positive integer, got 0*",
            "*max_workers=100000 * process workers: at most *",
            "*workers=1000000 * thread workers: at most *",
            "*workers must be a positive integer, got '2'*",
            "*unknown executor kind 'fiber': expected one of thread, process, interpreter*",
            "*unknown executor kind 'fiber'; expected one of serial, thread, process, interpreter*",
            "*unknown start method 'teleport': the start methods available on this platform *",
            # no conftest registers a catalogue here: the message says how to register one
            "*test_unknown_claim*unknown claim id 'gil.no-such-claim': no catalogue is "
            "registered — return pytest_gil.Claim objects from a pytest_gil_claims(config) "
            "hook*",
            "*test_cpus_as_words: @pytest.mark.requires_cpus(n) needs a positive integer n, "
            "got 'two'*",
        ]
    )
    inner.assert_clean_end()
    inner.assert_no_survivors()


# ----------------------------------------------------------------------------------------
# work that cannot cross a process boundary


def test_unpicklable_work_gets_a_message_about_module_level_functions(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_pickle="""
        import threading
        import pytest
        from jobs import give_lock, square, take
        from pytest_gil import run_tasks

        def test_lambda(process_pool):
            run_tasks("process", lambda: 1, tasks=1, executor=process_pool)

        def test_local_function(process_pool):
            def local():
                return 1
            run_tasks("process", local, tasks=1, executor=process_pool)

        def test_lock_argument(process_pool):
            run_tasks("process", take, threading.Lock(), tasks=1, executor=process_pool)

        def test_lock_result(process_pool):
            run_tasks("process", give_lock, tasks=1, executor=process_pool)

        def test_lock_result_factory(executor_factory):
            ex = executor_factory("process", max_workers=1)
            run_tasks("process", give_lock, tasks=1, executor=ex)

        def test_submit_lambda(process_pool):
            process_pool.submit(lambda: 1).result()

        def test_submit_lock_argument(executor_factory):
            ex = executor_factory("process", max_workers=1)
            ex.submit(take, threading.Lock()).result()

        def test_later(process_pool):
            assert run_tasks("process", square, 4, tasks=2, workers=1,
                             executor=process_pool).results == [16, 16]
        """
    )
    result = inner.run()
    result.assert_outcomes(failed=7, passed=1)
    crossing = "*module-level function with picklable arguments*"
    result.stdout.fnmatch_lines_random(
        [
            "E *TypeError: test_lambda.<locals>.<lambda> cannot be sent to a worker process: "
            f"it is a lambda{crossing}Move it to module level.",
            "E *TypeError: test_local_function.<locals>.local cannot be sent to a worker "
            f"process: it is a function defined inside another function{crossing}",
            "E *TypeError: argument 0 of take(...) cannot be pickled (lock object: TypeError: "
            f"cannot pickle '_thread.lock' object)*{crossing}",
            "E *WorkerError: task 0: the result of give_lock(...) cannot be pickled (TypeError: "
            "cannot pickle '_thread.lock' object), so the worker cannot send it back: return "
            "picklable values*",
            "E *TypeError: test_submit_lambda.<locals>.<lambda> cannot be sent to a worker "
            f"process{crossing}",
        ]
    )
    # the result fault, through a session pool and through a pool of the test's own
    assert result.stdout.str().count("the result of give_lock(...) cannot be pickled") >= 2
    inner.assert_clean_end()
    inner.assert_no_survivors()


# ----------------------------------------------------------------------------------------
# work that raises inside a worker


def test_an_exception_in_a_worker_fails_the_test_with_the_workers_traceback(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_raises="""
        from jobs import boom, square
        from pytest_gil import run_tasks

        def test_serial():
            run_tasks("serial", boom, 1, tasks=1)

        def test_thread():
            run_tasks("thread", boom, 2, tasks=2, workers=2)

        def test_thread_runner(thread_runner):
            thread_runner.run(boom, 3, workers=2)

        def test_process(process_pool):
            run_tasks("process", boom, 4, tasks=2, workers=1, executor=process_pool)

        def test_later(process_pool, thread_runner):
            assert thread_runner.run(square, 5, workers=2).results == [25, 25]
            assert run_tasks("process", square, 5, tasks=2, workers=1,
                             executor=process_pool).results == [25, 25]
        """
    )
    result = inner.run("-rf")
    result.assert_outcomes(failed=4, passed=1)
    # In this process: the original exception with its own frames, then the WorkerError.
    for n, kind in ((1, "serial"), (2, "thread"), (3, "thread")):
        result.stdout.fnmatch_lines(
            [
                "    def boom(x):",
                '>       raise ValueError(f"boom {x}")',
                f"E       ValueError: boom {n}",
                "jobs.py:*: ValueError",
                "The above exception was the direct cause of the following exception:",
                "E       pytest_gil.runtimes.faults.WorkerError: task 0 raised in a "
                f"{kind} worker: ValueError: boom {n}",
            ]
        )
    # From a process: the worker's traceback (its own frames only) in the message.
    result.stdout.fnmatch_lines(
        [
            "E       pytest_gil.runtimes.faults.WorkerError: task 0 raised in a process worker: "
            "ValueError: boom 4",
            "E       Worker traceback:",
            "E       Traceback (most recent call last):",
            'E         File "*jobs.py", line *, in boom',
            'E           raise ValueError(f"boom {x}")',
            "E       ValueError: boom 4",
        ]
    )
    assert "concurrent/futures" not in result.stdout.str()
    inner.assert_clean_end()
    inner.assert_no_survivors()


def test_an_exception_in_a_sub_interpreter_fails_with_its_traceback(inner: Inner) -> None:
    from pytest_gil.profile import subinterpreter_api

    if subinterpreter_api() is None:
        pytest.skip("no sub-interpreters on this Python (CPython 3.12+)")
    inner.pytester.makepyfile(
        test_interp="""
        from jobs import boom, give_lock, square
        from pytest_gil import run_tasks

        def test_interpreter(executor_factory):
            ex = executor_factory("interpreter", max_workers=1)
            run_tasks("interpreter", boom, 6, tasks=1, executor=ex)

        def test_lambda(executor_factory):
            ex = executor_factory("interpreter", max_workers=1)
            run_tasks("interpreter", lambda: 1, tasks=1, executor=ex)

        def test_lock_result(executor_factory):
            ex = executor_factory("interpreter", max_workers=1)
            run_tasks("interpreter", give_lock, tasks=1, executor=ex)

        def test_later(executor_factory):
            ex = executor_factory("interpreter", max_workers=1)
            assert run_tasks("interpreter", square, 6, tasks=1, executor=ex).results == [36]
        """
    )
    result = inner.run()
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines(
        [
            "E       pytest_gil.runtimes.faults.WorkerError: task 0 raised in an interpreter "
            "worker: ValueError: boom 6",
            "E       Worker traceback:",
            "E       Traceback (most recent call last):",
            'E         File "*jobs.py", line *, in boom',
            'E           raise ValueError(f"boom {x}")',
            "E       ValueError: boom 6",
        ]
    )
    result.stdout.fnmatch_lines_random(
        [
            "E       TypeError: test_lambda.<locals>.<lambda> cannot be sent to a "
            "sub-interpreter: it is a lambda*module-level function with picklable arguments*",
            "E       pytest_gil.runtimes.faults.WorkerError: task 0: the result of give_lock(...) "
            "cannot be pickled (TypeError: cannot pickle '_thread.lock' object), so the worker "
            "cannot send it back*",
        ]
    )
    inner.assert_clean_end()
    inner.assert_no_survivors()


# ----------------------------------------------------------------------------------------
# a worker that dies


def test_a_dead_worker_fails_its_test_and_the_session_pool_is_rebuilt(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_dies="""
        import pytest
        from jobs import exit_now, kill_self, segfault, square
        from pytest_gil import run_tasks

        def test_os_exit(process_pool):
            run_tasks("process", exit_now, 3, tasks=1, executor=process_pool)

        def test_sigkill(process_pool):
            run_tasks("process", kill_self, tasks=1, executor=process_pool)

        def test_segfault(process_pool):
            run_tasks("process", segfault, tasks=1, executor=process_pool)

        def test_factory_pool(executor_factory):
            ex = executor_factory("process", max_workers=2)
            run_tasks("process", exit_now, 4, tasks=2, workers=2, executor=ex)

        def test_later(process_pool):
            assert process_pool.rebuilds >= 3
            assert run_tasks("process", square, 7, tasks=2, workers=1,
                             executor=process_pool).results == [49, 49]
        """
    )
    result = inner.run()
    result.assert_outcomes(failed=4, passed=1)
    died = "E   *WorkerDied: a process worker died abruptly while running task 0 ({}): worker pid "
    result.stdout.fnmatch_lines_random(
        [
            died.format("exit_now") + "* exited with exit code 3*process_pool rebuilds itself*",
            died.format("kill_self") + "* killed by signal SIGKILL*",
            died.format("segfault") + "* killed by signal SIGSEGV*",
            died.format("exit_now") + "* exited with exit code 4*",
        ]
    )
    inner.assert_clean_end()
    inner.assert_no_survivors()


# ----------------------------------------------------------------------------------------
# a workload that hangs


HANGS = """
import pytest
from jobs import sleep_forever, spin_forever, square
from pytest_gil import run_tasks

@pytest.mark.timeout(1)
def test_process_sleeps(process_pool):
    run_tasks("process", sleep_forever, tasks=2, workers=2, executor=process_pool)

@pytest.mark.timeout(1)
def test_factory_process_sleeps(executor_factory):
    ex = executor_factory("process", max_workers=1)
    ex.submit(sleep_forever).result()

@pytest.mark.timeout(1)
def test_thread_spins():
    run_tasks("thread", spin_forever, tasks=2, workers=2)

@pytest.mark.timeout(1)
def test_thread_runner_spins(thread_runner):
    thread_runner.run(spin_forever, workers=2)

def test_later(process_pool, thread_runner):
    assert thread_runner.run(square, 8, workers=2).results == [64, 64]
    assert run_tasks("process", square, 8, tasks=2, workers=2,
                     executor=process_pool).results == [64, 64]
"""


def test_a_hung_workload_times_out_and_its_workers_are_stopped(inner: Inner) -> None:
    inner.pytester.makepyfile(test_hangs=HANGS)
    result = inner.run("-rf", "--timeout-method=signal")
    result.assert_outcomes(failed=4, passed=1)
    result.stdout.fnmatch_lines_random(
        [
            f"FAILED test_hangs.py::{name} - Failed: Timeout (>1.0s) from pytest-timeout."
            for name in (
                "test_process_sleeps",
                "test_factory_process_sleeps",
                "test_thread_spins",
                "test_thread_runner_spins",
            )
        ]
    )
    inner.assert_clean_end()
    inner.assert_no_survivors()


def test_a_thread_blocked_in_c_code_is_reported_and_does_not_block_exit(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_blocked="""
        import pytest
        from jobs import sleep_forever, square
        from pytest_gil import run_tasks

        @pytest.mark.timeout(1)
        def test_thread_sleeps():
            run_tasks("thread", sleep_forever, tasks=1)

        @pytest.mark.timeout(1)
        def test_thread_pool_sleeps(executor_factory):
            ex = executor_factory("thread", max_workers=1)
            ex.submit(sleep_forever).result()

        def test_later():
            assert run_tasks("thread", square, 9, tasks=2, workers=2).results == [81, 81]
        """
    )
    result = inner.run("-rf", "--timeout-method=signal", timeout=45)
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines_random(
        [
            "FAILED test_blocked.py::test_thread_sleeps - Failed: Timeout (>1.0s)*",
            "FAILED test_blocked.py::test_thread_pool_sleeps - Failed: Timeout (>1.0s)*",
            "*RuntimeWarning: pytest-gil: 1 worker thread(s) of a thread pool could not be "
            "stopped (pytest-gil_0): a task is blocked in C code*",
        ]
    )
    if sys.version_info >= (3, 11):  # exception notes
        result.stdout.fnmatch_lines(
            [
                "E * pytest-gil: stopped 0 of 1 worker thread(s); 1 blocked in C code could not "
                "be stopped and keep running as daemon threads (pytest-gil-0)",
            ]
        )
    inner.assert_no_survivors()


def test_pool_workers_die_with_pytest_when_timeout_method_thread_exits(inner: Inner) -> None:
    # pytest-timeout's "thread" method ends the whole run with os._exit(1): no teardown, no
    # unconfigure.  The pool workers notice their parent is gone and exit by themselves.
    inner.pytester.makepyfile(
        test_exits="""
        import pytest
        from jobs import sleep_forever
        from pytest_gil import run_tasks

        @pytest.mark.timeout(2)
        def test_process_sleeps(process_pool, executor_factory):
            ex = executor_factory("process", max_workers=1)
            ex.submit(sleep_forever)
            run_tasks("process", sleep_forever, tasks=2, workers=2, executor=process_pool)
        """
    )
    result = inner.run("--timeout-method=thread")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*+ Timeout +*"])
    assert not (inner.path / "probe.json").exists()  # os._exit: no unconfigure
    inner.assert_no_survivors()


# ----------------------------------------------------------------------------------------
# KeyboardInterrupt and SIGTERM mid-measurement


INTERRUPTED = """
import os
from pathlib import Path
from jobs import sleep_forever, spin_forever
from pytest_gil import run_tasks

MARKER = os.path.join(os.path.dirname(__file__), "started")

def test_process(process_pool):
    run_tasks("process", sleep_forever, MARKER, tasks=2, workers=2, executor=process_pool)

def test_thread():
    run_tasks("thread", spin_forever, MARKER, tasks=2, workers=2)

def test_factory(executor_factory):
    ex = executor_factory("process", max_workers=2)
    run_tasks("process", spin_forever, MARKER, tasks=2, workers=2, executor=ex)
"""


@pytest.mark.parametrize(
    ("which", "signum"),
    [
        ("test_process", signal.SIGINT),
        ("test_thread", signal.SIGINT),
        ("test_factory", signal.SIGINT),
        ("test_thread", signal.SIGTERM),  # the process pool + SIGTERM: see the report test
    ],
)
def test_an_interrupt_mid_measurement_stops_everything(
    inner: Inner, which: str, signum: int
) -> None:
    inner.pytester.makepyfile(test_interrupted=INTERRUPTED)
    proc, out = _start(inner, f"test_interrupted.py::{which}")
    try:
        _wait_for(inner.path / "started", proc)
        os.kill(proc.pid, signum)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert rc == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text
    inner.assert_clean_end()
    inner.assert_no_survivors()


def test_ctrl_c_to_the_whole_process_group_stops_everything(inner: Inner) -> None:
    # A terminal's Ctrl-C reaches the workers too: they ignore it and let pytest stop them.
    inner.pytester.makepyfile(test_interrupted=INTERRUPTED)
    proc, out = _start(inner, "test_interrupted.py::test_process", new_session=True)
    try:
        _wait_for(inner.path / "started", proc)
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = out.read_text()
    assert rc == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text
    assert "Process ForkProcess" not in text  # no worker printed a traceback of its own
    inner.assert_clean_end()
    inner.assert_no_survivors()


def _start(
    inner: Inner, *args: str, new_session: bool = False
) -> tuple[subprocess.Popen[bytes], Path]:
    out = inner.path / "out.txt"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(inner.path), str(REPO), env.get("PYTHONPATH", "")) if p
    )
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider",
             *args],
            cwd=inner.path,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=new_session,
        )
    return proc, out


def _wait_for(marker: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, "the inner run ended before the measurement started"
        assert time.monotonic() < deadline, "the measurement never started"
        time.sleep(0.05)
    time.sleep(0.2)  # let the other workers start their task too


# ----------------------------------------------------------------------------------------
# xdist


def test_an_xdist_worker_crash_does_not_lose_the_other_results(inner: Inner) -> None:
    pytest.importorskip("xdist")
    inner.pytester.makepyfile(
        test_xdist="""
        import os
        import pytest
        from jobs import square
        from pytest_gil import run_tasks
        from pytest_gil.records import add as record

        def test_crash(process_pool):
            run_tasks("process", square, 2, tasks=1, executor=process_pool)
            os._exit(1)

        @pytest.mark.parametrize("n", range(6))
        def test_other(n, process_pool):
            assert run_tasks("process", square, n, tasks=1,
                             executor=process_pool).results == [n * n]
            record({"claim": f"other.{n}", "verdict": "confirmed", "expected": "confirmed",
                    "detail": "synthetic"})
        """
    )
    result = inner.run("-n", "2", "--gil-report", "out")
    result.assert_outcomes(failed=1, passed=6)
    result.stdout.fnmatch_lines(
        ["*worker 'gw*' crashed while running 'test_xdist.py::test_crash'*"]
    )
    doc = _only_report(inner.path / "out")
    assert sorted(r["claim"] for r in doc["results"] if r.get("claim")) == [
        f"other.{n}" for n in range(6)
    ]
    inner.assert_no_survivors()


# ----------------------------------------------------------------------------------------
# the report: unwritable, corrupt, interrupted


RECORDS = """
import os
from jobs import exit_now, sleep_forever, square
from pytest_gil import run_tasks
from pytest_gil.records import add as record

MARKER = os.path.join(os.path.dirname(__file__), "started")

def test_records(process_pool):
    run_tasks("process", square, 2, tasks=1, executor=process_pool)
    record({"claim": "gil.one-thread-at-a-time", "verdict": "confirmed",
            "expected": "confirmed", "detail": "synthetic"})
"""

DIES = """
def test_worker_dies(process_pool):
    run_tasks("process", exit_now, 5, tasks=1, executor=process_pool)

def test_later(process_pool):
    assert run_tasks("process", square, 3, tasks=1, executor=process_pool).results == [9]
"""

HANGS_AFTER_RECORDING = """
def test_hangs(process_pool):
    run_tasks("process", sleep_forever, MARKER, tasks=1, executor=process_pool)
"""


def _only_report(directory: Path) -> dict[str, Any]:
    files = sorted(directory.glob("gil-*.json"))
    assert len(files) == 1, files
    doc: dict[str, Any] = json.loads(files[0].read_text(encoding="utf-8"))
    return doc


def test_an_unwritable_or_corrupt_report_costs_no_results(inner: Inner) -> None:
    inner.pytester.makepyfile(test_records=RECORDS + DIES)
    (inner.path / "afile").write_text("not a directory")
    result = inner.run("--gil-report", "afile/reports")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gil.one-thread-at-a-time*confirmed*",
            "pytest-gil: cannot write reports to */afile/reports: NotADirectoryError*",
        ]
    )
    # A corrupt previous report is named and replaced by this run's.
    inner.run("--gil-report", "out").assert_outcomes(passed=2, failed=1)
    path = sorted((inner.path / "out").glob("gil-*.json"))[0]
    path.write_text('{"schema": "pytest-gil-report", "results": [')
    result = inner.run("--gil-report", "out")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [f"pytest-gil: previous report {path} is corrupt (*); replacing it"]
    )
    assert _only_report(inner.path / "out")["results"]
    inner.assert_clean_end()
    inner.assert_no_survivors()


def test_sigterm_mid_measurement_keeps_the_report_collected_so_far(inner: Inner) -> None:
    inner.pytester.makepyfile(test_records=RECORDS + HANGS_AFTER_RECORDING)
    proc, out = _start(inner, "--gil-report", "out")
    try:
        _wait_for(inner.path / "started", proc)
        proc.terminate()
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == pytest.ExitCode.INTERRUPTED, out.read_text()
    doc = _only_report(inner.path / "out")
    assert doc["session"]["interrupted"] is True
    assert [r["claim"] for r in doc["results"] if r.get("claim")] == ["gil.one-thread-at-a-time"]
    assert not list((inner.path / "out").glob("*.tmp"))
    inner.assert_clean_end()
    inner.assert_no_survivors()


# ----------------------------------------------------------------------------------------
# faults whose handling lives in the fixtures and the plugin


def test_a_task_left_running_in_the_session_pool_does_not_hang_later_tests(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_left="""
        import pytest
        from jobs import sleep_forever, square
        from pytest_gil import run_tasks

        @pytest.mark.timeout(1)
        def test_submit_hangs(process_pool):
            futures = [process_pool.submit(sleep_forever) for _ in range(process_pool.size)]
            futures[0].result()

        @pytest.mark.timeout(2)
        def test_later(process_pool):
            assert run_tasks("process", square, 3, tasks=1,
                             executor=process_pool).results == [9]
        """
    )
    result = inner.run("--timeout-method=signal")
    result.assert_outcomes(failed=1, passed=1)
    inner.assert_no_survivors()


def test_a_forked_child_of_a_test_dies_of_sigterm(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_fork="""
        import multiprocessing, signal, time

        def test_terminate():
            p = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
            p.start()
            time.sleep(0.2)
            p.terminate()
            p.join(10)
            assert p.exitcode == -signal.SIGTERM
        """
    )
    result = inner.run()
    result.assert_outcomes(passed=1)
    inner.assert_no_survivors()


def test_thread_runner_names_a_thread_it_could_not_stop(inner: Inner) -> None:
    inner.pytester.makepyfile(
        test_stuck="""
        import pytest
        from jobs import sleep_forever

        @pytest.mark.timeout(1)
        def test_sleeps(thread_runner):
            thread_runner.run(sleep_forever, workers=1)
        """
    )
    result = inner.run("--timeout-method=signal")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*thread_runner: 1 thread(s) blocked in C code*pytest-gil-0*"])
    assert "after 30 s" not in result.stdout.str()
