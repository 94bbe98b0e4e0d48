"""The plugin's fixtures end to end, above all their cleanup when the test body raises:
no thread and no process outlives its test, pending futures of a failed test are cancelled,
the session's process pool survives a killed worker, and ``gil_claim`` without a marker is a
clear error.

Each scenario is a small test file whose first test records what exists, whose middle tests
fail on purpose, and whose last test checks that nothing was left behind; it runs in order
(``-p no:randomly``), with and without xdist (``--dist loadfile`` keeps a file on one worker).
"""

from __future__ import annotations

import pytest

from pytest_gil.profile import runtime_profile

XDIST = pytest.mark.parametrize(
    "xdist", [[], ["-n", "2", "--dist", "loadfile"]], ids=["no-xdist", "xdist"]
)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def assert_passed(result: pytest.RunResult, test: str) -> None:
    """``test`` passed (``-v`` output, with or without xdist)."""
    result.stdout.re_match_lines([rf".*(::{test} PASSED|PASSED \S+::{test}\b).*"])


def test_fixtures_lists_every_fixture_with_its_scope(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fixtures")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines_random(
        [
            "*fixtures defined from pytest_gil.fixtures*",
            "thread_runner -- *fixtures.py:*",
            "executor_factory -- *fixtures.py:*",
            "gil_claim -- *fixtures.py:*",
            "runtime_profile [[]session scope] -- *fixtures.py:*",
            "gil_calibration -- *fixtures.py:*",
            "process_pool [[]session scope] -- *fixtures.py:*",
            "*Run callables in N threads released together by a barrier*",
            "*A warm process pool for the session, one worker per usable CPU*",
        ]
    )


# --------------------------------------------------------------------------------------------
# thread_runner

THREAD_RUNNER = """
import threading, time

import psutil
import pytest

BEFORE = {}


def nap():
    time.sleep(0.05)


def blow_up():
    raise LookupError("task blew up")


def test_baseline():
    BEFORE["threads"] = {t.ident for t in threading.enumerate()}
    BEFORE["os_threads"] = psutil.Process().num_threads()


def test_a_task_raises(thread_runner):
    thread_runner.run([nap, blow_up, nap, nap], workers=4)


def test_the_body_raises_after_a_run(thread_runner):
    thread_runner.run(time.sleep, 0.01, workers=3)
    raise RuntimeError("the test body failed")


@pytest.mark.timeout(1, method="signal")
def test_a_run_interrupted_by_a_timeout(thread_runner):
    thread_runner.run(time.sleep, 0.2, workers=2, tasks=100)


def test_no_thread_is_left():
    left = [t.name for t in threading.enumerate() if t.ident not in BEFORE["threads"]]
    assert left == []
    assert psutil.Process().num_threads() == BEFORE["os_threads"]
"""


@XDIST
def test_thread_runner_leaves_no_thread_behind_when_its_test_fails(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    pytester.makepyfile(test_threads=THREAD_RUNNER)
    result = run(pytester, "-v", *xdist)
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "*WorkerError: task 1 raised in a thread worker: LookupError: task blew up*",
            '*raise LookupError("task blew up")*',
            "*RuntimeError: the test body failed",
            "*Timeout (>1.0s) from pytest-timeout*",
        ]
    )
    assert_passed(result, "test_no_thread_is_left")


# --------------------------------------------------------------------------------------------
# executor_factory

EXECUTORS = """
import threading, time

import psutil

from pytest_gil.workloads import worker

SEEN = {}


def children():
    return {c.pid for c in psutil.Process().children(recursive=True)}


def wait_for_children(before, n):
    deadline = time.monotonic() + 30
    while len(children() - before) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return children() - before


def test_baseline():
    SEEN["threads"] = {t.ident for t in threading.enumerate()}
    SEEN["children"] = children()


def test_a_failing_test_with_a_thread_executor(executor_factory):
    ex = executor_factory("thread", max_workers=1)
    SEEN["thread"] = [ex.submit(time.sleep, 1.0) for _ in range(5)]
    raise RuntimeError("the test body failed")


def test_a_failing_test_with_a_process_executor(executor_factory):
    before = children()
    ex = executor_factory("process", max_workers=2)
    SEEN["process"] = [ex.submit(worker, 60) for _ in range(20)]
    SEEN["process_pids"] = wait_for_children(before, 2)
    raise RuntimeError("the test body failed")


def test_a_passing_test_with_a_process_executor(executor_factory):
    before = children()
    ex = executor_factory("process", max_workers=2)
    assert ex.submit(pow, 2, 10).result() == 1024
    SEEN["passing_pids"] = children() - before


def test_nothing_is_left_running():
    left = [t.name for t in threading.enumerate() if t.ident not in SEEN["threads"]]
    assert left == []
    assert all(f.done() for f in SEEN["thread"])
    assert sum(f.cancelled() for f in SEEN["thread"]) >= 4
    assert len(SEEN["process_pids"]) == 2
    assert SEEN["passing_pids"]
    assert children().isdisjoint(SEEN["process_pids"] | SEEN["passing_pids"])
    # Futures cancelled by shutdown() are done() but never "notified": cf.wait() ignores them.
    deadline = time.monotonic() + 30
    while not all(f.done() for f in SEEN["process"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(f.done() for f in SEEN["process"])
    # 2 tasks were running and at most 3 more were in the pool's call queue: the rest of the
    # 20 were still pending, and are cancelled.
    assert sum(f.cancelled() for f in SEEN["process"]) >= 15
"""


@XDIST
def test_executor_factory_leaves_no_thread_or_process_behind_when_its_test_fails(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    pytester.makepyfile(test_executors=EXECUTORS)
    result = run(pytester, "-v", *xdist)
    result.assert_outcomes(passed=3, failed=2)
    assert_passed(result, "test_nothing_is_left_running")


def test_executor_factory_lets_the_tasks_of_a_passing_test_finish(
    pytester: pytest.Pytester,
) -> None:
    # Pending futures are cancelled only when the test failed.
    pytester.makepyfile(
        """
        import time

        SEEN = {}

        def test_submits_without_waiting(executor_factory):
            ex = executor_factory("thread", max_workers=1)
            SEEN["futures"] = [ex.submit(time.sleep, 0.3) for _ in range(4)]

        def test_every_task_ran():
            assert [f.cancelled() for f in SEEN["futures"]] == [False] * 4
            assert all(f.done() for f in SEEN["futures"])
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_executor_factory_rejects_unknown_kinds_and_arguments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_unknown_kind(executor_factory):
            with pytest.raises(ValueError, match="unknown executor kind 'fiber': expected one "
                               "of thread, process, interpreter"):
                executor_factory("fiber")

        def test_bad_worker_count(executor_factory):
            with pytest.raises(ValueError, match="max_workers must be a positive integer, got 0"):
                executor_factory("thread", max_workers=0)

        def test_unknown_argument(executor_factory):
            with pytest.raises(TypeError, match="unexpected arguments"):
                executor_factory("thread", max_workers=1, colour="blue")

        def test_start_method(executor_factory):
            ex = executor_factory("process", max_workers=1, start_method="spawn")
            assert ex.submit(pow, 3, 3).result() == 27
        """
    )
    run(pytester).assert_outcomes(passed=4)


def test_executor_factory_interpreter_kind_runs_or_skips_with_a_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import threading

        from pytest_gil.workloads import calc

        BEFORE = set()

        def test_baseline():
            BEFORE.update(t.ident for t in threading.enumerate())

        def test_interpreters(executor_factory):
            ex = executor_factory("interpreter", max_workers=2)
            assert ex.submit(calc, 1000).result() == 1000

        def test_no_thread_is_left():
            assert [t.name for t in threading.enumerate() if t.ident not in BEFORE] == []
        """
    )
    result = run(pytester, "-rs")
    if runtime_profile().subinterpreters is None:
        result.assert_outcomes(passed=2, skipped=1)
        result.stdout.fnmatch_lines(
            [
                "SKIPPED [[]1] *: executor 'interpreter' needs sub-interpreters with their own "
                "GIL (CPython 3.12+: _xxsubinterpreters, 3.13: _interpreters, 3.14: "
                "concurrent.interpreters)"
            ]
        )
    else:
        result.assert_outcomes(passed=3)


# --------------------------------------------------------------------------------------------
# process_pool

POOL = """
import os, signal, time

import psutil

from pytest_gil.runners import run_tasks
from pytest_gil.workloads import calc

SEEN = {}


def test_kill_a_worker(process_pool):
    timeline = run_tasks("process", calc, 1000, tasks=2, workers=2, executor=process_pool)
    assert timeline.results == [1000, 1000]
    SEEN["pids"] = set(process_pool.pids)
    victim = process_pool.pids[0]
    os.kill(victim, signal.SIGKILL)
    # Wait until the pool has reaped it: then the death is known, whatever runs next.
    deadline = time.monotonic() + 30
    while psutil.pid_exists(victim) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_later_test_gets_a_working_pool(process_pool):
    timeline = run_tasks("process", calc, 1000, tasks=4, workers=2, executor=process_pool)
    assert timeline.results == [1000] * 4
    assert process_pool.rebuilds == 1
    assert SEEN["pids"].isdisjoint(process_pool.pids)
    assert len(process_pool.pids) == process_pool.size


def test_and_the_one_after_it_too(process_pool):
    assert process_pool.submit(pow, 2, 8).result() == 256
    assert process_pool.rebuilds == 1
"""


def test_process_pool_is_rebuilt_after_a_worker_is_killed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_pool=POOL)
    run(pytester).assert_outcomes(passed=3)


def test_process_pool_replaces_a_worker_that_died_just_before_a_run(
    pytester: pytest.Pytester,
) -> None:
    # "Rebuilt transparently if a worker died": also when the pool has not noticed yet.
    pytester.makepyfile(
        """
        import os, signal, time

        import psutil

        from pytest_gil.runners import run_tasks
        from pytest_gil.workloads import calc

        def dead(pid):
            # A zombie whose threads have all exited: its parent could reap it now.
            try:
                p = psutil.Process(pid)
                return p.status() == psutil.STATUS_ZOMBIE and p.num_threads() <= 1
            except psutil.NoSuchProcess:
                return True

        def test_kill_then_run(process_pool):
            process_pool.submit(pow, 2, 2).result()
            victim = process_pool.pids[0]
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while not dead(victim) and time.monotonic() < deadline:
                time.sleep(0.0002)
            timeline = run_tasks("process", calc, 1000, tasks=2, workers=2,
                                 executor=process_pool)
            assert timeline.results == [1000, 1000]
            assert victim not in process_pool.pids
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_process_pool_is_warm_when_handed_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_warm(process_pool, runtime_profile):
            assert process_pool.size == max(1, runtime_profile.usable_cpus)
            assert len(process_pool.pids) == process_pool.size
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_process_pool_workers_are_gone_after_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pathlib

        def test_uses_the_pool(process_pool):
            assert process_pool.submit(pow, 2, 5).result() == 32
            pathlib.Path("pids.txt").write_text(" ".join(map(str, process_pool.pids)))
        """
    )
    run(pytester).assert_outcomes(passed=1)
    import psutil

    pids = [int(p) for p in (pytester.path / "pids.txt").read_text().split()]
    assert pids
    assert not any(psutil.pid_exists(p) for p in pids)


# --------------------------------------------------------------------------------------------
# gil_claim, runtime_profile, gil_calibration


def test_gil_claim_without_a_claim_marker_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_forgot_the_marker(gil_claim):
            pass

        def test_the_next_test_still_runs():
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_gil_claim_without_a_claim_marker_is_a_clear_error.py::test_forgot_the_marker:"
            ' the gil_claim fixture needs @pytest.mark.claim("<id>")'
        ]
    )


def test_gil_claim_knows_the_expectation_of_the_injected_runtime(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PYTEST_GIL_PROFILE",
        '{"gil_enabled": false, "free_threaded_build": true, "usable_cpus": 2}',
    )
    pytester.makeconftest(
        """
        import pytest_gil

        def pytest_gil_claims(config):
            return [pytest_gil.Claim(
                "mylib.threads-take-turns", "threads of mylib take turns",
                expected=lambda p: "confirmed" if p.gil_enabled else "refuted")]
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from pytest_gil import Verdict

        @pytest.mark.claim("mylib.threads-take-turns")
        def test_expectation(gil_claim, runtime_profile):
            assert runtime_profile.injected and not runtime_profile.gil_enabled
            assert gil_claim.id == "mylib.threads-take-turns"
            assert gil_claim.expected is Verdict.REFUTED
            assert gil_claim.claim.catalogue == "conftest.py"
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_gil_calibration_is_scaled_and_computed_once_per_session(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        SEEN = []

        @pytest.mark.parametrize("i", range(2))
        def test_calibration(gil_calibration, i):
            assert gil_calibration.target == pytest.approx(0.05 * 0.1)
            assert gil_calibration.calc_n > 0
            assert gil_calibration.sha256_bytes > 0
            assert gil_calibration.zlib_bytes > 0
            SEEN.append(gil_calibration)
            assert all(c is SEEN[0] for c in SEEN)
        """
    )
    run(pytester, "--gil-scale=0.1").assert_outcomes(passed=2)
