"""The GIL monitor (``pytest_gil.gilstate``).

What runs for real here: this interpreter's own state (a GIL build), the refusal of concurrent
measurements, the worker probes of real process pools (``spawn``, ``forkserver``, ``fork``),
and — when a CPython 3.13 is installed beside this one — ``-X gil=1`` / ``PYTHON_GIL=1``
reaching its ``spawn`` and ``forkserver`` workers.

What is injected: a free-threaded build (``sysconfig``'s ``Py_GIL_DISABLED``), the GIL state
(``sys._is_gil_enabled``), ``-X gil`` (``sys._xoptions``) and the RuntimeWarning CPython emits
when an import re-enables the GIL.  A free-threaded interpreter cannot be installed here, so
the re-enabling itself is never exercised for real.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_gil import gilstate
from pytest_gil.gilstate import (
    ConcurrentMeasurementError,
    GilMonitor,
    GilState,
    gil_config,
    gil_setting_reaches_workers,
    gil_state,
)

REPO = Path(__file__).resolve().parents[1]
WARNING_TEXT = (
    "The global interpreter lock (GIL) has been enabled to load module '{}', which has not "
    "declared that it can run safely without the GIL. To override this behavior and keep the "
    "GIL disabled (at your own risk), run with PYTHON_GIL=0 or -Xgil=0."
)


class FakeFreeThreaded:
    """A free-threaded build whose GIL state the test sets (``.enabled``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, enabled: bool = False) -> None:
        self.enabled = enabled
        real = sysconfig.get_config_var

        def get_config_var(name: str) -> Any:
            return 1 if name == "Py_GIL_DISABLED" else real(name)

        monkeypatch.setattr(sysconfig, "get_config_var", get_config_var)
        monkeypatch.setattr(sys, "_is_gil_enabled", lambda: self.enabled, raising=False)
        _without_python_gil(monkeypatch)
        monkeypatch.setattr(sys, "_xoptions", {k: v for k, v in sys._xoptions.items()
                                               if k != "gil"})

    def import_incompatible(self, module: str, monitor: GilMonitor | None = None) -> None:
        """What CPython does when it imports an extension without ``Py_mod_gil``: enable the
        GIL and warn.  The warning goes through ``warnings`` like the real one."""
        self.enabled = True
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.warn(WARNING_TEXT.format(module), RuntimeWarning, stacklevel=1)
        if monitor is not None:
            for w in caught:
                monitor.observe(w)


@pytest.fixture
def free_threaded(monkeypatch: pytest.MonkeyPatch) -> FakeFreeThreaded:
    return FakeFreeThreaded(monkeypatch)


def _without_python_gil(monkeypatch: pytest.MonkeyPatch) -> None:
    # setenv first, so that the undo removes whatever the test (or the code) set later:
    # a PYTHON_GIL=0 left behind would make every later Python subprocess die on a GIL build.
    monkeypatch.setenv("PYTHON_GIL", "unset")
    monkeypatch.delenv("PYTHON_GIL")


# --------------------------------------------------------------------------------------------
# this interpreter, for real


def test_this_gil_build_reports_the_gil_on_by_build_default() -> None:
    state = gil_state()
    assert not sysconfig.get_config_var("Py_GIL_DISABLED")
    assert state == GilState(True, "build default", False, ())
    assert state.describe() == "GIL on (build default)"
    assert not state.reenabled


def test_the_state_round_trips_through_a_dict() -> None:
    state = GilState(True, "import of foo._ext", True, ("foo._ext",))
    again = GilState.from_dict(state.to_dict())
    assert again == state
    assert state.to_dict()["reenabled"] is True


# --------------------------------------------------------------------------------------------
# the configuration: -X gil wins over PYTHON_GIL


@pytest.mark.parametrize(
    ("xoptions", "environ", "ignore", "expected"),
    [
        ({}, {}, False, (None, None)),
        ({}, {"PYTHON_GIL": "0"}, False, ("0", "PYTHON_GIL=0")),
        ({"gil": "1"}, {"PYTHON_GIL": "0"}, False, ("1", "-X gil=1")),
        ({}, {"PYTHON_GIL": "0"}, True, (None, None)),
        ({"gil": "0"}, {}, True, ("0", "-X gil=0")),
    ],
    ids=["unset", "env", "x-option-wins", "env-ignored-under-E", "x-option-under-E"],
)
def test_the_gil_setting_is_read_as_cpython_reads_it(
    xoptions: dict[str, str], environ: dict[str, str], ignore: bool,
    expected: tuple[str | None, str | None],
) -> None:
    assert gil_config(xoptions, environ, ignore) == expected


# --------------------------------------------------------------------------------------------
# free-threaded builds, injected


def test_a_free_threaded_build_left_alone_has_the_gil_off_by_build_default(
    free_threaded: FakeFreeThreaded,
) -> None:
    assert gil_state().describe() == "GIL off (build default)"


def test_python_gil_names_itself_as_the_source(
    free_threaded: FakeFreeThreaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_GIL", "0")
    assert gil_state().describe() == "GIL off (PYTHON_GIL=0)"
    monkeypatch.setenv("PYTHON_GIL", "1")
    free_threaded.enabled = True
    assert gil_state().describe() == "GIL on (PYTHON_GIL=1)"


def test_x_gil_names_itself_as_the_source(
    free_threaded: FakeFreeThreaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "_xoptions", {"gil": "1"})
    free_threaded.enabled = True
    assert gil_state().describe() == "GIL on (-X gil=1)"


def test_an_import_that_re_enabled_the_gil_is_named_from_its_warning(
    free_threaded: FakeFreeThreaded,
) -> None:
    mon = GilMonitor()
    assert mon.start_session().describe() == "GIL off (build default)"
    free_threaded.import_incompatible("legacy._speedups", mon)
    state = mon.state()
    assert state.describe() == "GIL on (import of legacy._speedups)"
    assert state.reenabled and state.reenabled_by == ("legacy._speedups",)
    assert mon.header() == "GIL on (import of legacy._speedups), was off at session start"
    assert "re-enabled by the import of legacy._speedups" in mon.setup_problem()


def test_other_warnings_are_ignored() -> None:
    mon = GilMonitor()
    assert mon.observe(RuntimeWarning("coroutine 'f' was never awaited")) is None
    assert mon.observe("something else") is None
    assert mon.reenabled_by == ()


def test_a_re_enabled_gil_without_its_warning_is_still_reported(
    free_threaded: FakeFreeThreaded,
) -> None:
    free_threaded.enabled = True  # e.g. the warning was filtered with -W ignore
    state = gil_state()
    assert state.reenabled
    assert state.source == (
        "import of an unidentified extension module (its RuntimeWarning was not seen)"
    )


def test_a_measurement_during_which_an_import_re_enabled_the_gil_says_so(
    free_threaded: FakeFreeThreaded,
) -> None:
    mon = GilMonitor()
    with mon.measurement("fletcher16 in 2 threads") as gil:
        free_threaded.import_incompatible("legacy._speedups", mon)
    assert gil.changed and gil.affected
    assert gil.reenabled_during == ("legacy._speedups",)
    assert gil.note().startswith(
        "the GIL was re-enabled during this measurement by the import of legacy._speedups")
    assert gil.to_dict() == {
        "enabled": True, "changed": True, "source": "import of legacy._speedups",
        "reenabled_by": ["legacy._speedups"], "note": gil.note(),
    }


def test_without_the_warning_the_extension_modules_imported_meanwhile_are_named(
    free_threaded: FakeFreeThreaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    mon = GilMonitor()
    ext = types.ModuleType("legacy._speedups")
    ext.__file__ = "/site-packages/legacy/_speedups" + gilstate._EXTENSION_SUFFIXES[0]
    with mon.measurement("m") as gil:
        monkeypatch.setitem(sys.modules, "legacy._speedups", ext)
        monkeypatch.setitem(sys.modules, "legacy.pure", types.ModuleType("legacy.pure"))
        free_threaded.enabled = True
    assert gil.reenabled_during == ("legacy._speedups",)
    assert gil.to_dict()["source"] == "import of legacy._speedups"


def test_a_measurement_after_the_gil_was_re_enabled_says_what_it_measured(
    free_threaded: FakeFreeThreaded,
) -> None:
    mon = GilMonitor()
    free_threaded.import_incompatible("legacy._speedups", mon)
    with mon.measurement("m") as gil:
        pass
    assert not gil.changed and gil.affected
    assert gil.note().startswith(
        "measured with the GIL re-enabled by the import of legacy._speedups (before this "
        "measurement): the results describe a GIL runtime, not free threading")


def test_a_measurement_with_the_gil_left_alone_has_no_note(
    free_threaded: FakeFreeThreaded,
) -> None:
    with GilMonitor().measurement("m") as gil:
        pass
    assert not gil.affected and gil.note() == ""
    gil.enforce(fail_on_reenabled=True)  # nothing to fail


def test_the_fail_option_fails_an_affected_measurement(free_threaded: FakeFreeThreaded) -> None:
    mon = GilMonitor()
    with mon.measurement("fletcher16 in 2 threads") as gil:
        free_threaded.import_incompatible("legacy._speedups", mon)
    gil.enforce(fail_on_reenabled=False)  # recorded, not failed
    with pytest.raises(pytest.fail.Exception, match=(
        r"pytest-gil: fletcher16 in 2 threads: the GIL was re-enabled during this measurement "
        r"by the import of legacy._speedups.*\(pass --gil-allow-gil-reenabled to measure anyway\)$"
    )):
        gil.enforce(fail_on_reenabled=True)


def test_the_fail_option_is_read_from_the_run_settings(
    free_threaded: FakeFreeThreaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_gil import settings

    mon = GilMonitor()
    free_threaded.import_incompatible("legacy._speedups", mon)
    monkeypatch.setattr(settings, "_current", settings.Settings(allow_gil_reenabled=True))
    assert mon.check_setup()  # said, not failed
    monkeypatch.setattr(settings, "_current", settings.Settings(allow_gil_reenabled=False))
    with pytest.raises(pytest.fail.Exception, match="re-enabled by the import of legacy"):
        mon.check_setup()


def test_the_process_monitor_is_one_object() -> None:
    assert gilstate.monitor() is gilstate.monitor()


# --------------------------------------------------------------------------------------------
# one measurement at a time per process


def test_a_second_thread_may_not_measure_while_one_is_measuring() -> None:
    mon = GilMonitor()
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        with mon.measurement("calc in 2 threads"):
            inside.set()
            release.wait(10)

    def second() -> None:
        try:
            with mon.measurement("sha256 in 2 threads"):
                pass
        except ConcurrentMeasurementError as exc:
            errors.append(exc)

    t1 = threading.Thread(target=first)
    t1.start()
    assert inside.wait(10)
    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(10)
    release.set()
    t1.join(10)
    assert len(errors) == 1
    assert str(errors[0]).startswith(
        "pytest-gil: refusing to measure sha256 in 2 threads in thread ")
    assert "while calc in 2 threads is being measured in another thread" in str(errors[0])
    assert "@pytest.mark.thread_unsafe" in str(errors[0])
    with mon.measurement("afterwards"):  # the lock was given back
        pass


def test_a_measurement_may_nest_in_its_own_thread() -> None:
    mon = GilMonitor()
    with mon.measurement("outer"), mon.measurement("inner") as inner:
        pass
    assert inner.after is not None
    done = threading.Event()

    def other_thread() -> None:
        with mon.measurement("x"):
            done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    t.join(10)
    assert done.is_set()


# --------------------------------------------------------------------------------------------
# process workers


def test_nothing_to_pass_on_without_a_gil_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_python_gil(monkeypatch)
    ok, why = gil_setting_reaches_workers("spawn")
    assert ok and why.startswith("no GIL setting to pass on")


def test_python_gil_reaches_workers_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHON_GIL", "1")
    assert gil_setting_reaches_workers("spawn") == (
        True, "PYTHON_GIL=1: spawn workers inherit the environment")


def test_x_gil_is_checked_against_the_flags_workers_get(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_xoptions", {"gil": "0"})
    monkeypatch.setattr(subprocess, "_args_from_interpreter_flags", lambda: ["-X", "gil=0"])
    assert gil_setting_reaches_workers("forkserver")[0]
    assert gil_setting_reaches_workers("fork") == (
        True, "-X gil=0: fork copies the running interpreter")


def test_x_gil_missing_from_the_flags_is_exported_as_python_gil(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "_xoptions", {"gil": "0"})
    monkeypatch.setattr(subprocess, "_args_from_interpreter_flags", lambda: ["-B"])
    _without_python_gil(monkeypatch)
    ok, why = gil_setting_reaches_workers("spawn")
    assert not ok and "spawn workers would not get it" in why
    done = gilstate.ensure_gil_setting_reaches_workers("spawn")
    assert done.endswith("-X gil=0: exported PYTHON_GIL=0 so that they get it")
    assert os.environ["PYTHON_GIL"] == "0"
    assert gil_setting_reaches_workers("spawn") == (
        True, "-X gil=0: spawn workers get it as PYTHON_GIL=0")
    assert gilstate.ensure_gil_setting_reaches_workers("spawn") == ""


@pytest.fixture(params=["spawn", "forkserver", "fork"])
def pool(request: pytest.FixtureRequest) -> Iterator[cf.ProcessPoolExecutor]:
    if request.param not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {request.param} start method here")
    ex = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(request.param))
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def test_workers_report_their_own_gil_state(pool: cf.ProcessPoolExecutor) -> None:
    states = gilstate.probe_workers(pool, 2)
    assert states, "no worker answered"
    for state in states:
        assert state["pid"] != os.getpid()
        assert (state["enabled"], state["source"]) == (True, "build default")


def _python313() -> str | None:
    candidates = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3"))]
    candidates += [c for c in (shutil.which("python3.13"),) if c]
    for candidate in candidates:  # a pyenv shim may exist and refuse to run
        check = subprocess.run(
            [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"],
            capture_output=True, timeout=30, env={**os.environ, "PYENV_VERSION": "3.13"})
        if check.returncode == 0:
            return candidate
    return None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "env", "expected_config"),
    [(["-X", "gil=1"], {}, "-X gil=1"), ([], {"PYTHON_GIL": "1"}, "PYTHON_GIL=1")],
    ids=["x-option", "environment"],
)
def test_the_gil_setting_reaches_spawn_and_forkserver_workers_of_cpython_3_13(
    flags: list[str], env: dict[str, str], expected_config: str, tmp_path: Path,
) -> None:
    """For real, on a CPython 3.13 GIL build (where only ``1`` is a valid value)."""
    python = _python313()
    if python is None:
        pytest.skip("no CPython 3.13 found beside this interpreter")
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent("""
        import concurrent.futures as cf, json, multiprocessing
        from pytest_gil import gilstate

        if __name__ == "__main__":
            out = {}
            for method in ("spawn", "forkserver"):
                ctx = multiprocessing.get_context(method)
                with cf.ProcessPoolExecutor(1, mp_context=ctx) as ex:
                    out[method] = {
                        "reaches": gilstate.gil_setting_reaches_workers(method),
                        "workers": gilstate.probe_workers(ex, 1),
                    }
            print(json.dumps(out))
    """))
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHON_GIL", "PYTHONHOME")}
    environ.update(env, PYTHONPATH=str(REPO))
    proc = subprocess.run([python, *flags, str(script)], env=environ, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import json

    out = json.loads(proc.stdout)
    for method in ("spawn", "forkserver"):
        ok, why = out[method]["reaches"]
        assert ok, why
        (worker,) = out[method]["workers"]
        assert worker["config"] == expected_config, (method, worker)
        assert worker["enabled"] is True


# --------------------------------------------------------------------------------------------
# the pytest side (GilStatePlugin), end to end in a subprocess with an injected build


FAKE_BUILD_CONFTEST = """
import sys, sysconfig, warnings

_state = {"enabled": False}
_real = sysconfig.get_config_var
sysconfig.get_config_var = lambda name: 1 if name == "Py_GIL_DISABLED" else _real(name)
sys._is_gil_enabled = lambda: _state["enabled"]


def import_incompatible(module):
    _state["enabled"] = True
    warnings.warn(
        f"The global interpreter lock (GIL) has been enabled to load module '{module}', which "
        "has not declared that it can run safely without the GIL.", RuntimeWarning)
"""


@pytest.fixture
def fake_build(pytester: pytest.Pytester) -> Callable[[str], None]:
    pytester.makeconftest(FAKE_BUILD_CONFTEST)

    def make(test_body: str) -> None:
        pytester.makepyfile(test_fake=test_body)

    return make


MEASURING_AFTER_IMPORT = """
import conftest

conftest.import_incompatible("legacy._speedups")  # at collection, like a module-level import


def test_measures(thread_runner):
    assert thread_runner.run(sum, [1, 2], workers=2).results == [3, 3]
"""


def test_the_header_names_the_import_that_re_enabled_the_gil(
    pytester: pytest.Pytester, fake_build: Callable[[str], None]
) -> None:
    fake_build(MEASURING_AFTER_IMPORT)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-rs",
                                           "--gil-allow-gil-reenabled")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["gil: CPython * · GIL off (build default)"])
    result.stdout.fnmatch_lines(["*RuntimeWarning: The global interpreter lock (GIL) has been "
                                 "enabled to load module 'legacy._speedups'*"])


def test_measuring_tests_fail_after_the_gil_was_re_enabled_unless_allowed(
    pytester: pytest.Pytester, fake_build: Callable[[str], None]
) -> None:
    fake_build(MEASURING_AFTER_IMPORT + "\n\ndef test_does_not_measure():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1, warnings=1)  # fails at setup, by default
    result.stdout.fnmatch_lines([
        "*pytest-gil: the GIL of this free-threaded build was re-enabled by the import of "
        "legacy._speedups (seen during collection): measurements here describe a GIL runtime "
        "(pass --gil-allow-gil-reenabled to measure anyway)",
    ])
    allowed = pytester.runpytest_subprocess("-p", "no:randomly", "--gil-allow-gil-reenabled")
    allowed.assert_outcomes(passed=2, warnings=1)


# --------------------------------------------------------------------------------------------
# the engine's measurements go through the monitor


@pytest.fixture
def fresh_monitor(monkeypatch: pytest.MonkeyPatch) -> GilMonitor:
    mon = GilMonitor()
    monkeypatch.setattr(gilstate, "_monitor", mon)
    return mon


def test_the_engine_refuses_to_measure_while_another_thread_measures(
    fresh_monitor: GilMonitor,
) -> None:
    from pytest_gil import measure_scaling
    from pytest_gil.workloads import calc

    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with fresh_monitor.measurement("sha256_work in 2 threads"):
            inside.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert inside.wait(10)
        with pytest.raises(ConcurrentMeasurementError, match=(
            r"refusing to measure calc in 2 threads in thread MainThread while sha256_work in "
            r"2 threads is being measured in another thread")):
            measure_scaling(calc, 1000, workers=2, budget=1, ideal=2)
    finally:
        release.set()
        t.join(30)


@pytest.mark.slow
def test_an_engine_result_says_an_import_re_enabled_the_gil_during_it(
    free_threaded: FakeFreeThreaded, fresh_monitor: GilMonitor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_gil import measure_scaling, settings
    from pytest_gil.workloads import calc

    def first_call_imports(n: int) -> int:
        if not free_threaded.enabled:
            free_threaded.import_incompatible("legacy._speedups", fresh_monitor)
        return calc(n)

    monkeypatch.setattr(settings, "_current", settings.Settings(allow_gil_reenabled=True))
    result = measure_scaling(first_call_imports, 20_000, workers=2, budget=2, ideal=2)
    gil = result.to_dict()["gil"]
    assert gil["changed"] is True and gil["reenabled_by"] == ["legacy._speedups"]
    assert gil["note"].startswith("the GIL was re-enabled during this measurement by the "
                                  "import of legacy._speedups")
    assert gil["note"] in result.reason

    free_threaded.enabled = False
    fresh_monitor._reenabled.clear()
    monkeypatch.setattr(settings, "_current", settings.Settings(allow_gil_reenabled=False))
    with pytest.raises(pytest.fail.Exception, match=r"--gil-allow-gil-reenabled"):
        measure_scaling(first_call_imports, 20_000, workers=2, budget=2, ideal=2)
