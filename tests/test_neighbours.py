"""pytest-gil as a good neighbour: with each installed plugin, and for suites that do not use it.

Every test writes a small suite with ``pytester`` and runs it in a subprocess.  The suites
record what they observe (times, pids, verdicts) in a JSON-lines file named by
``NEIGHBOURS_LOG``, so the assertions read facts rather than parse timings from the output.
Durations are never asserted; only the order of events measured on one monotonic clock
(``time.perf_counter`` is system-wide on Linux, so xdist workers share it).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Runner = Callable[..., pytest.RunResult]


def needs(module: str) -> pytest.MarkDecorator:
    """Skip unless the neighbouring plugin is installed (the ``test`` extra installs it)."""
    import importlib.util

    missing = importlib.util.find_spec(module) is None
    return pytest.mark.skipif(missing, reason=f"{module} is not installed (the test extra has it)")

HEAVY = frozenset({"numpy", "scipy", "matplotlib", "pandas", "PIL", "pytest_gil.stats",
                   "pytest_gil.engine", "pytest_gil.report.plots"})


@pytest.fixture
def log(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pytester.path / "neighbours.jsonl"
    monkeypatch.setenv("NEIGHBOURS_LOG", str(path))
    return path


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """When this suite runs under xdist, the inner sessions must not believe they are xdist
    workers (pytest-benchmark, for one, disables itself there)."""
    for name in XDIST_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run(pytester: pytest.Pytester) -> Runner:
    def go(*args: str, timeout: float = 300) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*args, timeout=timeout)

    return go


LOGGING = """
import json, os, time

def log(**fields):
    with open(os.environ["NEIGHBOURS_LOG"], "a") as f:
        f.write(json.dumps({**fields, "pid": os.getpid()}) + "\\n")
"""


# --------------------------------------------------------------------------------------------
# a suite that does not use the plugin


PLAIN_SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture error")

def test_passes():
    assert 1 + 1 == 2

def test_fails():
    assert 1 + 1 == 3

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfails():
    assert False

def test_errors(broken):
    pass

@pytest.mark.parametrize("n", range(20))
def test_many(n):
    assert n >= 0
"""

MODULES_CONFTEST = """
import json, os, sys

def pytest_unconfigure(config):
    with open(os.environ["NEIGHBOURS_LOG"], "a") as f:
        f.write(json.dumps({"modules": sorted(sys.modules)}) + "\\n")
"""


def _normalise(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = re.sub(r"\b\d+\.\d+s\b", "N.NNs", line)
        line = re.sub(r"gil-[\w.+]+(, )?", "", line) if line.startswith("plugins:") else line
        out.append(line.rstrip())
    return out


def test_a_suite_that_does_not_use_the_plugin_runs_the_same_with_one_more_header_line(
    pytester: pytest.Pytester, run: Runner, log: Path
) -> None:
    pytester.makeconftest(MODULES_CONFTEST)
    pytester.makepyfile(test_plain=PLAIN_SUITE)
    common = ("-p", "no:randomly", "-rA")
    with_gil = run(*common)
    modules_with = set(read_log(log)[-1]["modules"])
    without = run(*common, "-p", "no:gil")
    modules_without = set(read_log(log)[-1]["modules"])

    assert with_gil.parseoutcomes() == without.parseoutcomes() == {
        "passed": 21, "failed": 1, "skipped": 1, "xfailed": 1, "errors": 1}
    assert with_gil.ret == without.ret == 1

    a, b = _normalise(with_gil.outlines), _normalise(without.outlines)
    only_with = [ln for ln in a if ln not in b]
    only_without = [ln for ln in b if ln not in a]
    assert len(only_with) == 1 and only_with[0].startswith("gil: "), only_with
    assert only_without == []
    assert [ln for ln in a if ln != only_with[0]] == b  # same lines, same order

    added = modules_with - modules_without
    assert not (added & HEAVY), sorted(added & HEAVY)
    assert not {m for m in added if m.split(".")[0] in {"numpy", "scipy", "matplotlib"}}
    assert "pytest_gil.plugin" in added  # the plugin was loaded in the first run


def test_without_other_plugins_nothing_heavy_is_imported_at_all(
    pytester: pytest.Pytester, run: Runner, log: Path
) -> None:
    pytester.makeconftest(MODULES_CONFTEST)
    pytester.makepyfile(test_plain="def test_passes():\n    pass\n")
    result = run("-p", "no:randomly", "-p", "no:benchmark", "-p", "no:xdist",
                 "-p", "no:run-parallel", "-p", "no:timeout")
    result.assert_outcomes(passed=1)
    modules = set(read_log(log)[-1]["modules"])
    assert "pytest_gil.plugin" in modules
    heavy = {m for m in modules if m in HEAVY or m.split(".")[0] in {"numpy", "scipy",
                                                                      "matplotlib", "pandas"}}
    assert not heavy, sorted(heavy)


# --------------------------------------------------------------------------------------------
# pytest-xdist


XDIST_SUITE = LOGGING + """
import pytest
from pytest_gil.workloads import calc

@pytest.mark.parametrize("i", range(4))
def test_measuring(thread_runner, i):
    t0 = time.perf_counter()
    assert thread_runner.run(calc, 200_000, workers=2).results == [200_000] * 2
    time.sleep(0.2)  # hold the measurement long enough for an overlap to show
    log(kind="measuring", start=t0, end=time.perf_counter())

@pytest.mark.parametrize("i", range(4))
def test_plain(i):
    t0 = time.perf_counter()
    time.sleep(0.2)
    log(kind="plain", start=t0, end=time.perf_counter())
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["2", "auto"])
def test_under_xdist_measurements_never_overlap_and_the_header_is_printed_once(
    pytester: pytest.Pytester, run: Runner, log: Path, workers: str
) -> None:
    pytester.makepyfile(test_xdist=XDIST_SUITE)
    result = run("-n", workers, "-p", "no:randomly")
    result.assert_outcomes(passed=8)
    assert sum(ln.startswith("gil: ") for ln in result.outlines) == 1
    events = read_log(log)
    measuring = sorted((e for e in events if e["kind"] == "measuring"), key=lambda e: e["start"])
    assert len(measuring) == 4
    for first, second in itertools.pairwise(measuring):
        assert first["end"] <= second["start"], f"measurements overlapped: {first} {second}"
    assert len({e["pid"] for e in events}) >= 2, "xdist did not distribute the tests"


XDIST_GIL_SUITE = """
import os
from pytest_gil import gilstate

def test_the_worker_got_the_gil_setting():
    assert os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw")
    assert gilstate.gil_config() == ("1", "PYTHON_GIL=1")
"""


def test_x_gil_given_to_the_controller_reaches_xdist_workers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-X gil=1`` is valid on every interpreter (3.13+ GIL builds accept 1; older ones keep
    unknown -X options in ``sys._xoptions``), so this runs for real everywhere."""
    monkeypatch.delenv("PYTHON_GIL", raising=False)
    pytester.makepyfile(test_xgil=XDIST_GIL_SUITE)
    result = pytester.run(sys.executable, "-X", "gil=1", "-m", "pytest", "-n", "2",
                          "-p", "no:randomly", timeout=300)
    result.assert_outcomes(passed=1)


# --------------------------------------------------------------------------------------------
# pytest-timeout


TIMEOUT_MARKERS = """
import pytest

def test_measuring(thread_runner, request):
    marker = request.node.get_closest_marker("timeout")
    assert (marker.args if marker else None) == EXPECTED

@pytest.mark.timeout(7)
def test_own_marker_wins(thread_runner, request):
    assert request.node.get_closest_marker("timeout").args == (7,)

def test_not_measuring(request):
    assert request.node.get_closest_marker("timeout") is None
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), (120.0,)), (("--gil-budget", "5"), (80.0,)), (("--timeout", "30"), None)],
    ids=["default", "from-budget", "user-timeout"],
)
def test_measuring_tests_get_a_timeout_unless_the_user_set_one(
    pytester: pytest.Pytester, run: Runner, args: tuple[str, ...], expected: Any
) -> None:
    pytester.makepyfile(test_timeouts=f"EXPECTED = {expected!r}\n" + TIMEOUT_MARKERS)
    run("-p", "no:randomly", *args).assert_outcomes(passed=3)


TIMEOUT_SUITE = """
from pytest_gil import run_tasks
from pytest_gil.workloads import calc, worker

def test_threads_time_out(thread_runner):
    thread_runner.run(calc, 10**11, workers=2)  # minutes of Python bytecode

def test_threads_work_afterwards(thread_runner):
    assert thread_runner.run(sum, [1, 2], workers=2).results == [3, 3]

def test_processes_time_out(process_pool):
    run_tasks("process", worker, 30.0, tasks=2, workers=2, executor=process_pool)

def test_processes_work_afterwards(process_pool):
    timeline = run_tasks("process", sum, [1, 2], tasks=2, workers=2, executor=process_pool)
    assert timeline.results == [3, 3]
"""


@pytest.mark.slow
def test_a_timed_out_measurement_fails_alone_and_leaves_nothing_running(
    pytester: pytest.Pytester, run: Runner
) -> None:
    pytester.makepyfile(test_timeout=TIMEOUT_SUITE)
    result = run("-p", "no:randomly", "--timeout", "4", "-rA")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["FAILED *test_threads_time_out*Timeout*",
                                 "FAILED *test_processes_time_out*Timeout*"])
    assert result.ret == 1


# --------------------------------------------------------------------------------------------
# pytest-randomly


RANDOMLY_SUITE = LOGGING + """
from pytest_gil import measure_overlap, measure_scaling
from pytest_gil.workloads import calc, worker

def test_calc_in_threads(gil_calibration):
    r = measure_scaling(calc, gil_calibration.calc_n, workers=2, executor="thread")
    log(test="calc in threads", verdicts=r.verdicts)

def test_calc_in_processes(gil_calibration, process_pool):
    r = measure_scaling(calc, gil_calibration.calc_n, workers=2, executor="process",
                        pool=process_pool)
    log(test="calc in processes", verdicts=r.verdicts)

def test_sleeps_overlap():
    r = measure_overlap(worker, 0.05, tasks=4)
    log(test="sleeps in threads", verdicts=r.verdicts)

def test_not_measuring():
    pass
"""


def _order(result: pytest.RunResult) -> list[str]:
    return [m.group(1) for ln in result.outlines
            if (m := re.match(r"^\S+::(\w+) \w+", ln))]


@needs("pytest_randomly")
@pytest.mark.slow
@pytest.mark.cpu_bound  # holds the outer run's measurement lock under xdist
@pytest.mark.timeout(900)
def test_random_order_does_not_change_verdicts(
    pytester: pytest.Pytester, run: Runner, log: Path
) -> None:
    pytester.makepyfile(test_random=RANDOMLY_SUITE)
    runs: list[dict[str, dict[str, str]]] = []
    orders: list[list[str]] = []
    for seed in ("1", "4"):
        log.unlink(missing_ok=True)
        result = run("-p", "randomly", f"--randomly-seed={seed}", "-v", "--gil-budget", "10")
        result.assert_outcomes(passed=4)
        orders.append(_order(result))
        runs.append({e["test"]: e["verdicts"] for e in read_log(log)})
    assert sorted(orders[0]) == sorted(orders[1]) and orders[0] != orders[1], orders
    decided = 0
    for test, verdicts in runs[0].items():
        for claim, verdict in verdicts.items():
            other = runs[1][test][claim]
            if {verdict, other} <= {"confirmed", "refuted"}:
                decided += 1
                assert verdict == other, f"{test}: {claim} {verdict}, then {other}"
    if not decided:
        pytest.skip(f"nothing was decided in both orders (busy machine): {runs}")


# --------------------------------------------------------------------------------------------
# pytest-run-parallel


RUN_PARALLEL_SUITE = LOGGING + """
import threading
import pytest
import pytest_gil
from pytest_gil import measure_scaling
from pytest_gil.gilstate import monitor
from pytest_gil.workloads import calc

def test_with_fixture(thread_runner):
    log(test="fixture", thread=threading.get_ident())
    assert thread_runner.run(calc, 1000, workers=2).results == [1000, 1000]

def test_calls_measure_scaling():
    log(test="direct", thread=threading.get_ident())
    measure_scaling(calc, 1000, workers=1)  # one worker: not testable, returns at once

def test_calls_it_through_the_package():
    log(test="package", thread=threading.get_ident())
    pytest_gil.measure_scaling(calc, 1000, workers=1)

def test_measures_through_an_indirection():
    log(test="indirect", thread=threading.get_ident())
    with getattr(monitor(), "measure" + "ment")("my own timing"):
        time.sleep(0.5)

def test_plain():
    log(test="plain", thread=threading.get_ident())
"""


@needs("pytest_run_parallel")
@pytest.mark.slow
def test_run_parallel_runs_measuring_tests_once_and_refuses_concurrent_measurements(
    pytester: pytest.Pytester, run: Runner, log: Path
) -> None:
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    pytester.makepyfile(test_rp=RUN_PARALLEL_SUITE)
    result = run("-p", "no:randomly", "--parallel-threads", "2", "-v")
    calls: dict[str, int] = {}
    for event in read_log(log):
        calls[event["test"]] = calls.get(event["test"], 0) + 1
    assert calls == {"fixture": 1, "direct": 1, "package": 1, "indirect": 2, "plain": 2}
    result.stdout.fnmatch_lines_random([
        "*::test_with_fixture PASSED [[]thread-unsafe[]]: pytest-gil measures timing in this "
        "test; copies of it running at once in several threads would time each other*",
        "*::test_calls_measure_scaling PASSED [[]thread-unsafe[]]: calls thread-unsafe "
        "function: measure_scaling*",
        "*::test_calls_it_through_the_package PASSED [[]thread-unsafe[]]: calls thread-unsafe "
        "function: pytest_gil.measure_scaling*",
        "*::test_plain PARALLEL PASSED*",
        "*::test_measures_through_an_indirection PARALLEL FAILED*",
        "*ConcurrentMeasurementError: pytest-gil: refusing to measure my own timing in thread "
        "* while my own timing is being measured in another thread of this process*",
    ])
    result.assert_outcomes(passed=4, errors=1)  # run-parallel counts "PARALLEL FAILED" as an error


# --------------------------------------------------------------------------------------------
# pytest-benchmark


BENCHMARK_SUITE = """
from pytest_gil.workloads import calc

def test_benchmarked(benchmark):
    assert benchmark(calc, 10_000) == 10_000

def test_measured(thread_runner, runtime_profile):
    assert thread_runner.run(calc, 10_000, workers=2).results == [10_000, 10_000]
    assert runtime_profile.usable_cpus >= 1
"""


@needs("pytest_benchmark")
def test_pytest_benchmark_and_pytest_gil_run_side_by_side(
    pytester: pytest.Pytester, run: Runner
) -> None:
    pytester.makepyfile(test_bench=BENCHMARK_SUITE)
    result = run("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random(["benchmark: *", "gil: *"])  # header order varies
    result.stdout.fnmatch_lines(["*benchmark: 1 tests*", "Name (time in *"])
