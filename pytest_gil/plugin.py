"""pytest-gil's pytest entry point (``pytest11: gil``): options, markers, fixtures, hooks.

Kept thin on purpose: the runtime profile, runners, workloads, statistics and reports each
live in their own module.  Disable the plugin with ``-p no:gil``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from typing import Any

import pytest

from . import options, settings
from .fixtures import (
    CALL_REPORT,
    SHARED,
    executor_factory,
    gil_calibration,
    gil_claim,
    process_pool,
    reset_busy_pool,
    runtime_profile_fixture,
    thread_runner,
)
from .profile import runtime_profile
from .session import SharedState

__all__ = [
    "executor_factory",
    "gil_calibration",
    "gil_claim",
    "process_pool",
    "runtime_profile_fixture",
    "thread_runner",
]

MARKERS = (
    "cpu_bound: a timing-sensitive check of CPU-bound work "
    "(example: @pytest.mark.cpu_bound; select with -m cpu_bound)",
    "io_bound: a timing-sensitive check of sleeping or IO-bound work "
    "(example: @pytest.mark.io_bound; select with -m io_bound)",
    "claim(id): the test decides claim <id> of the catalogue (CLAIMS.md) "
    '(example: @pytest.mark.claim("gil.one-thread-at-a-time"))',
    "requires_gil: skip unless the GIL is enabled (example: @pytest.mark.requires_gil)",
    "requires_free_threading: skip unless this is a free-threaded build running with the GIL "
    "disabled (example: @pytest.mark.requires_free_threading)",
    "requires_subinterpreters: skip unless sub-interpreters with their own GIL exist "
    "(CPython 3.12+) (example: @pytest.mark.requires_subinterpreters)",
    "requires_cpus(n): skip unless at least n CPUs are usable (affinity and cgroup quota) "
    "(example: @pytest.mark.requires_cpus(2))",
)

MEASURING_MARKERS = ("claim", "cpu_bound", "io_bound")
MEASURING_FIXTURES = frozenset(
    {"thread_runner", "process_pool", "executor_factory", "gil_claim", "gil_calibration"}
)

DEFAULT_TIMEOUT_CHECKS = 4
"""A measuring test's default pytest-timeout: this many checks at ``--gil-budget`` each, plus
:data:`DEFAULT_TIMEOUT_SETUP` seconds for pool start-up and calibration.  Used only when the user
set no timeout (marker, ``--timeout``, ini or ``PYTEST_TIMEOUT``)."""
DEFAULT_TIMEOUT_SETUP = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    run_settings = options.read_settings(config)
    try:
        runtime_profile()  # a bad PYTEST_GIL_PROFILE is a usage error, found before any test
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    shared = SharedState(workerinput.get("gil_shared_dir") if workerinput else None)
    config.stash[SHARED] = shared
    config.stash[_PREVIOUS] = settings.configure(run_settings, shared.exclusive)
    from .gilstate import GilStatePlugin

    config.pluginmanager.register(GilStatePlugin(config, _is_measuring), "gil-state")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(shared), "gil-xdist")
    config.stash[_SIGTERM] = _install_sigterm_handler()
    try:
        from .reporting import ReportPlugin
    except ImportError:  # pragma: no cover - while the report module is being written
        return
    config.pluginmanager.register(ReportPlugin(config), "gil-reporting")


_PREVIOUS = pytest.StashKey[settings.Settings]()
_SIGTERM = pytest.StashKey[Any]()


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")


def _install_sigterm_handler() -> Any:
    """Turn SIGTERM into KeyboardInterrupt, so that a terminated run stops like Ctrl-C does:
    workers are stopped, teardown runs and the report collected so far is written.  Only
    when nobody else handles SIGTERM, and only from the main thread."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return None
        previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return None
    global _fork_hook_registered
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        # A child forked by a test must die of SIGTERM as usual (Process.terminate()).
        os.register_at_fork(after_in_child=_restore_sigterm_in_child)
        _fork_hook_registered = True
    return previous


_fork_hook_registered = False


def _restore_sigterm_in_child() -> None:
    import signal

    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGTERM) is _sigterm_to_interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_unconfigure(config: pytest.Config) -> None:
    from .pools import terminate_all

    terminate_all()  # the safety net: no pool outlives the run
    previous_handler = config.stash.get(_SIGTERM, None)
    if previous_handler is not None:
        import signal

        signal.signal(signal.SIGTERM, previous_handler)
    previous = config.stash.get(_PREVIOUS, None)
    if previous is not None:
        settings.configure(previous)
    shared = config.stash.get(SHARED, None)
    if shared is not None:
        shared.cleanup()


class XdistHooks:
    """Registered only when pytest-xdist is present: hands the shared directory to workers."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["gil_shared_dir"] = str(self.shared.directory)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from .gilstate import monitor

    lines = runtime_profile().header_lines()
    lines[0] = f"{lines[0]} · {monitor().header()}"
    return lines if config.get_verbosity() > 0 else lines[:1]


def _is_measuring(item: pytest.Item) -> bool:
    if any(item.get_closest_marker(m) is not None for m in MEASURING_MARKERS):
        return True
    return bool(MEASURING_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def _user_set_timeout(config: pytest.Config) -> bool:
    import os

    if not config.pluginmanager.hasplugin("timeout"):
        return True  # nothing to set
    if config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT"):
        return True
    try:
        return bool(config.getini("timeout"))
    except ValueError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _user_set_timeout(config):
        return
    s = settings.current()
    timeout = DEFAULT_TIMEOUT_CHECKS * s.budget + DEFAULT_TIMEOUT_SETUP * max(1.0, s.scale)
    for item in items:
        if _is_measuring(item) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(timeout))


def pytest_runtest_setup(item: pytest.Item) -> None:
    _check_requirements(item)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if "process_pool" in getattr(item, "fixturenames", ()):
        reset_busy_pool(item.config)


def _skip(reason: str) -> None:
    # Reported at the test's location, like pytest's own skipif marker.
    raise pytest.skip.Exception(reason, _use_item_location=True)


def _check_requirements(item: pytest.Item) -> None:
    names = ("requires_gil", "requires_free_threading", "requires_subinterpreters",
             "requires_cpus", "claim")
    markers = {n: item.get_closest_marker(n) for n in names}
    if not any(markers.values()):
        return
    if markers["claim"] is not None:
        from .catalogue import get_claim

        args = markers["claim"].args
        if len(args) != 1:
            pytest.fail(
                f"{item.nodeid}: @pytest.mark.claim takes exactly one claim id, got {args!r}",
                pytrace=False,
            )
        problem = None
        try:
            get_claim(args[0])
        except KeyError as exc:
            problem = str(exc.args[0])
        if problem:
            pytest.fail(f"{item.nodeid}: @pytest.mark.claim: {problem}", pytrace=False)
    prof = runtime_profile()
    if markers["requires_gil"] is not None and not prof.gil_enabled:
        _skip(f"requires the GIL, but it is disabled here ({prof.label()})")
    if markers["requires_free_threading"] is not None and prof.gil_enabled:
        why = (
            "the GIL is enabled (PYTHON_GIL=1 or an import re-enabled it)"
            if prof.free_threaded_build
            else "this is not a free-threaded build"
        )
        _skip(f"requires free threading with the GIL disabled, but {why} ({prof.label()})")
    if markers["requires_subinterpreters"] is not None and prof.subinterpreters is None:
        _skip(
            f"requires sub-interpreters with their own GIL (CPython 3.12+), none on {prof.label()}"
        )
    mark = markers["requires_cpus"]
    if mark is not None:
        n = mark.args[0] if mark.args else mark.kwargs.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            pytest.fail(
                f"{item.nodeid}: @pytest.mark.requires_cpus(n) needs a positive integer n, "
                f"got {n!r}",
                pytrace=False,
            )
        if prof.usable_cpus < n:
            _skip(
                f"requires {n} usable CPUs, this process may use {prof.usable_cpus} "
                "(affinity and cgroup quota)"
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    if _is_measuring(item):
        # Measurements of different xdist workers never overlap: a measuring test holds the
        # run's cross-worker lock from setup to teardown (pool start-up included).
        with settings.exclusive():
            yield
    else:
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    if call.when == "call":
        item.stash[CALL_REPORT] = outcome.get_result()
