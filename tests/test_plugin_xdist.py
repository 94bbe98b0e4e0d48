"""The plugin with its neighbours.

pytest-xdist: with ``-n 2`` the plugin works in the workers, which share the run's directory,
its measurement lock and its calibration (both workers get the same ``gil_calibration``), and
measuring tests of different workers never overlap.

pytest-timeout: every measuring test gets a default timeout derived from ``--gil-budget``
unless the user set one; a hang then fails that test and its workers are cleaned up.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.plugin import DEFAULT_TIMEOUT_CHECKS, DEFAULT_TIMEOUT_SETUP


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def records(directory: Path) -> dict[str, Any]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


# --------------------------------------------------------------------------------------------
# pytest-xdist

SHARED_STATE = """
import json, pathlib

import pytest

from pytest_gil.fixtures import SHARED

OUT = pathlib.Path({out!r})


@pytest.mark.parametrize("i", range(3))
def test_record(gil_calibration, pytestconfig, worker_id, i):
    shared = pytestconfig.stash[SHARED]
    (OUT / f"{{worker_id}}-{{i}}.json").write_text(json.dumps({{
        "directory": str(shared.directory),
        "calibration": gil_calibration.to_dict(),
        "calibration_files": sorted(p.name for p in shared.directory.glob("calibration-*")),
    }}))
"""


def test_both_workers_share_the_directory_and_the_calibration(pytester: pytest.Pytester) -> None:
    out = pytester.mkdir("out")
    pytester.makepyfile(test_shared=SHARED_STATE.format(out=str(out)))
    # --dist each: every test runs on both workers.
    run(pytester, "-n", "2", "--dist", "each", "--gil-scale=0.1").assert_outcomes(passed=6)
    seen = records(out)
    assert {name.split("-")[0] for name in seen} == {"gw0", "gw1"}
    assert len({r["directory"] for r in seen.values()}) == 1
    calibrations = [r["calibration"] for r in seen.values()]
    assert all(c == calibrations[0] for c in calibrations)
    assert calibrations[0]["target"] == pytest.approx(0.005)
    assert all(len(r["calibration_files"]) == 1 for r in seen.values())
    # The controller removes the shared directory at the end of the run.
    assert not Path(next(iter(seen.values()))["directory"]).exists()


def test_without_xdist_the_run_has_its_own_directory_removed_at_the_end(
    pytester: pytest.Pytester,
) -> None:
    out = pytester.mkdir("out")
    pytester.makepyfile(test_shared=SHARED_STATE.format(out=str(out)))
    run(pytester, "--gil-scale=0.1").assert_outcomes(passed=3)
    seen = records(out)
    assert {name.split("-")[0] for name in seen} == {"master"}
    (directory,) = {r["directory"] for r in seen.values()}
    assert not Path(directory).exists()


MEASURING = """
import json, pathlib, time

import pytest

OUT = pathlib.Path({out!r})


@pytest.mark.cpu_bound
@pytest.mark.parametrize("i", range(3))
def test_measure(worker_id, i):
    start = time.perf_counter()
    time.sleep(0.15)
    end = time.perf_counter()
    (OUT / f"{{worker_id}}-{{i}}.json").write_text(json.dumps([start, end]))
"""


def test_measuring_tests_of_different_workers_never_overlap(pytester: pytest.Pytester) -> None:
    out = pytester.mkdir("out")
    pytester.makepyfile(test_measuring=MEASURING.format(out=str(out)))
    run(pytester, "-n", "2", "--dist", "each").assert_outcomes(passed=6)
    seen = records(out)
    assert {name.split("-")[0] for name in seen} == {"gw0", "gw1"}
    # perf_counter is the system-wide monotonic clock on Linux: intervals compare across
    # processes.  Held under the run's lock, they are disjoint.
    intervals = sorted(seen.values())
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end


ALONE = """
import json, pathlib, time

import pytest

OUT = pathlib.Path({out!r})


def _log(name):
    start = time.perf_counter()
    time.sleep(0.1)
    (OUT / f"{{name}}.json").write_text(json.dumps([start, time.perf_counter()]))


@pytest.mark.cpu_bound
@pytest.mark.parametrize("i", range(3))
def test_measure(i):
    _log(f"measure-{{i}}")


@pytest.mark.parametrize("i", range(12))
def test_plain(i):
    _log(f"plain-{{i}}")
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="POSIX flock only")
def test_a_measuring_test_runs_alone_while_other_workers_wait(pytester: pytest.Pytester) -> None:
    out = pytester.mkdir("out")
    pytester.makepyfile(test_alone=ALONE.format(out=str(out)))
    run(pytester, "-n", "2").assert_outcomes(passed=15)
    seen = records(out)
    measuring = [v for k, v in seen.items() if k.startswith("measure")]
    plain = [v for k, v in seen.items() if k.startswith("plain")]
    assert len(measuring) == 3 and len(plain) == 12
    for m_start, m_end in measuring:
        for p_start, p_end in plain:  # no plain test ran while a measuring test did
            assert p_end <= m_start or p_start >= m_end, (m_start, m_end, p_start, p_end)
    # ... while plain tests did run side by side (the lock is shared among them)
    assert any(a_start < b_end and b_start < a_end
               for (a_start, a_end), (b_start, b_end) in itertools.combinations(plain, 2))


def test_the_quiet_lock_lets_readers_share_and_a_writer_wait(tmp_path: Path) -> None:
    import threading

    from pytest_gil.session import SharedState

    state = SharedState(str(tmp_path))  # as an xdist worker sees it
    other = SharedState(str(tmp_path))
    events: list[str] = []
    with state.quiet(alone=False), other.quiet(alone=False):
        events.append("two readers at once")
        writer = threading.Thread(target=lambda: _write(other, events))
        writer.start()
        writer.join(0.3)
        assert writer.is_alive()  # waits for the readers
        events.append("readers leave")
    writer.join(10)
    assert events == ["two readers at once", "readers leave", "writer"]
    controller = SharedState()  # the controller (or a run without xdist) takes no lock
    assert controller.is_worker is False
    controller.cleanup()


def _write(state: Any, events: list[str]) -> None:
    with state.quiet(alone=True):
        events.append("writer")


def test_the_plugin_works_in_workers_with_fixtures_and_markers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_GIL_PROFILE", '{"usable_cpus": 1}')
    pytester.makepyfile(
        """
        import pytest

        from pytest_gil import settings
        from pytest_gil.runners import run_tasks
        from pytest_gil.workloads import calc

        def test_settings_reach_the_worker(worker_id):
            assert worker_id.startswith("gw")
            assert settings.current().alpha == 0.01

        def test_threads(thread_runner):
            assert thread_runner.run(calc, 100, workers=2).results == [100, 100]

        def test_processes(process_pool, runtime_profile):
            assert runtime_profile.injected and process_pool.size == 1
            timeline = run_tasks("process", calc, 100, tasks=2, executor=process_pool)
            assert timeline.results == [100, 100]

        @pytest.mark.requires_cpus(2)
        def test_skipped_in_the_worker():
            pass
        """
    )
    result = run(pytester, "-n", "2", "--gil-alpha=0.01", "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1] *: requires 2 usable CPUs, this process may use 1*"]
    )


# --------------------------------------------------------------------------------------------
# pytest-timeout

TIMEOUTS = """
import json, pathlib

import pytest

OUT = pathlib.Path({out!r})


def record(request):
    mark = request.node.get_closest_marker("timeout")
    (OUT / f"{{request.node.name}}.json").write_text(json.dumps(mark.args if mark else None))


def test_plain(request):
    record(request)


@pytest.mark.cpu_bound
def test_cpu_bound(request):
    record(request)


@pytest.mark.io_bound
def test_io_bound(request):
    record(request)


@pytest.mark.claim("mylib.claim")
def test_claim(request):
    record(request)


def test_thread_runner(request, thread_runner):
    record(request)


def test_executor_factory(request, executor_factory):
    record(request)


@pytest.mark.cpu_bound
@pytest.mark.timeout(7)
def test_own_timeout(request):
    record(request)
"""

MEASURING_TESTS = ("test_cpu_bound", "test_io_bound", "test_claim", "test_thread_runner",
                   "test_executor_factory")


def default_timeout(budget: float = 15.0, scale: float = 1.0) -> float:
    return DEFAULT_TIMEOUT_CHECKS * budget + DEFAULT_TIMEOUT_SETUP * max(1.0, scale)


def timeouts(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    out = pytester.mkdir("out")
    pytester.makepyfile(test_timeouts=TIMEOUTS.format(out=str(out)))
    pytester.makeconftest(
        "import pytest_gil\n\n"
        "def pytest_gil_claims(config):\n"
        "    return [pytest_gil.Claim('mylib.claim', 'a claim of this project')]\n"
    )
    run(pytester, *args).assert_outcomes(passed=7)
    return records(out)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_measuring_tests_get_a_default_timeout_and_others_do_not(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    got = timeouts(pytester, *xdist)
    assert got["test_plain"] is None
    assert got["test_own_timeout"] == [7]
    for name in MEASURING_TESTS:
        assert got[name] == [default_timeout()], name


def test_the_default_timeout_grows_with_the_budget_and_the_scale(
    pytester: pytest.Pytester,
) -> None:
    got = timeouts(pytester, "--gil-budget=40", "--gil-scale=2")
    assert default_timeout(40, 2) > default_timeout()
    for name in MEASURING_TESTS:
        assert got[name] == [default_timeout(40, 2)], name


@pytest.mark.parametrize(
    "how", ["--timeout", "ini", "PYTEST_TIMEOUT"], ids=["command-line", "ini", "env"]
)
def test_no_default_timeout_when_the_user_set_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    args: list[str] = []
    if how == "--timeout":
        args = ["--timeout=300"]
    elif how == "ini":
        pytester.makeini("[pytest]\ntimeout = 300\n")
    else:
        monkeypatch.setenv("PYTEST_TIMEOUT", "300")
    got = timeouts(pytester, *args)
    assert got["test_own_timeout"] == [7]
    for name in (*MEASURING_TESTS, "test_plain"):
        assert got[name] is None, name


def test_without_pytest_timeout_nothing_is_added(pytester: pytest.Pytester) -> None:
    got = timeouts(pytester, "-p", "no:timeout")
    for name in MEASURING_TESTS:
        assert got[name] is None, name


def test_a_hung_process_task_fails_by_timeout_and_the_pool_recovers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_GIL_PROFILE", '{"usable_cpus": 2}')  # a pool of 2 on any machine
    pytester.makepyfile(
        """
        import psutil
        import pytest

        from pytest_gil.runners import run_tasks
        from pytest_gil.workloads import calc, worker

        SEEN = {}

        @pytest.mark.timeout(2, method="signal")
        def test_hangs(process_pool):
            process_pool.warm()
            SEEN["pids"] = set(process_pool.pids)
            run_tasks("process", worker, 120, tasks=2, workers=2, executor=process_pool)

        def test_the_next_test_gets_idle_workers(process_pool):
            assert not any(psutil.pid_exists(p) for p in SEEN["pids"])
            timeline = run_tasks("process", calc, 1000, tasks=2, workers=2,
                                 executor=process_pool)
            assert timeline.results == [1000, 1000]
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Timeout (>2.0s) from pytest-timeout*"])
