"""pytest-gil's pytest entry point (``pytest11: gil``): it registers the options, markers,
fixtures and hooks, and the plugin objects that do the work — one per role:

* :class:`~pytest_gil.markers.ClaimsPlugin` — the claim registry (``pytest_gil_claims``);
* :class:`~pytest_gil.gilhooks.GilStatePlugin` — the GIL's state and who changed it;
* :class:`~pytest_gil.report.collect.ReportPlugin` — records, summary and report files;
* :class:`XdistHooks` — the run's shared directory handed to xdist workers.

Disable the plugin with ``-p no:gil``.  Nothing heavy is imported here: numpy and scipy load
when a measurement is decided, matplotlib when a report is drawn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Generator
from typing import Any

import pytest

from . import hookspec, options, settings
from .fixtures import (
    CALL_REPORT,
    SHARED,
    executor_factory,
    gil_calibration,
    gil_claim,
    gil_contention_fixture,
    process_pool,
    reset_busy_pool,
    runtime_profile_fixture,
    thread_runner,
)
from .markers import (
    MARKERS,
    MEASURING_MARKERS,
    ClaimsPlugin,
    MarkerError,
    check_requirements,
    marker_settings,
)
from .profile import runtime_profile
from .session import SharedState

__all__ = [
    "executor_factory",
    "gil_calibration",
    "gil_claim",
    "gil_contention_fixture",
    "process_pool",
    "runtime_profile_fixture",
    "thread_runner",
]

MEASURING_FIXTURES = frozenset(
    {"thread_runner", "process_pool", "executor_factory", "gil_claim", "gil_calibration",
     # the GIL is per process, but its sampler measures in wall time: another worker's load
     # delays it like a GIL would (and stalls the GIL's holder), so it measures alone
     "gil_contention"}
)

DEFAULT_TIMEOUT_CHECKS = 4
"""A measuring test's default pytest-timeout: this many checks at ``--gil-budget`` each, plus
:data:`DEFAULT_TIMEOUT_SETUP` seconds for pool start-up and calibration.  Used only when the
user set no timeout (marker, ``--timeout``, ini or ``PYTEST_TIMEOUT``)."""
DEFAULT_TIMEOUT_SETUP = 60.0

_PREVIOUS = pytest.StashKey[settings.Settings]()
_SIGTERM = pytest.StashKey[Any]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


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
    config.stash[_PREVIOUS] = settings.configure(run_settings, shared.exclusive, shared.shared)
    from .baseline.plugin import BaselinePlugin
    from .gilhooks import GilStatePlugin
    from .report.collect import ReportPlugin

    pm = config.pluginmanager
    pm.register(ClaimsPlugin(config), "gil-claims")
    pm.register(GilStatePlugin(config, is_measuring), "gil-state")
    if pm.hasplugin("xdist"):
        pm.register(XdistHooks(shared), "gil-xdist")
    pm.register(ReportPlugin(config), "gil-reporting")
    pm.register(BaselinePlugin(config), "gil-baseline")
    config.stash[_SIGTERM] = _install_sigterm_handler()


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")


_fork_hook_registered = False


def _install_sigterm_handler() -> Any:
    """Turn SIGTERM into KeyboardInterrupt, so that a terminated run stops like Ctrl-C does:
    workers are stopped, teardown runs and the report collected so far is written.  Only
    when nobody else handles SIGTERM, and only from the main thread."""
    global _fork_hook_registered
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return None
        previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return None
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        # A child forked by a test must die of SIGTERM as usual (Process.terminate()).
        os.register_at_fork(after_in_child=_restore_sigterm_in_child)
        _fork_hook_registered = True
    return previous


def _restore_sigterm_in_child() -> None:
    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGTERM) is _sigterm_to_interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_unconfigure(config: pytest.Config) -> None:
    from .runtimes.pools import terminate_all

    terminate_all()  # the safety net: no pool outlives the run
    previous_handler = config.stash.get(_SIGTERM, None)
    if previous_handler is not None:
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


def is_measuring(item: pytest.Item) -> bool:
    """Whether ``item`` measures: a measuring marker or fixture."""
    if any(item.get_closest_marker(m) is not None for m in MEASURING_MARKERS):
        return True
    return bool(MEASURING_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def _user_set_timeout(config: pytest.Config) -> bool:
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
        if is_measuring(item) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(timeout))


def pytest_runtest_setup(item: pytest.Item) -> None:
    problem = item.stash.get(_MARKER_ERROR, None)
    if problem:
        pytest.fail(f"pytest-gil: {problem}", pytrace=False)
    check_requirements(item)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if "process_pool" in getattr(item, "fixturenames", ()):
        reset_busy_pool(item.config)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    # Under xdist a measuring test runs alone: it holds the run's quiet lock exclusively
    # (other workers finish their current test and wait) and the measurement lock from setup
    # to teardown, pool start-up included; every other test shares the quiet lock.  Outermost
    # (tryfirst), so that waiting for the lock is not counted by pytest-timeout.
    shared = item.config.stash[SHARED]
    measuring = is_measuring(item)
    with shared.quiet(alone=measuring), _marker_settings(item):
        if measuring:
            with settings.exclusive():
                yield
        else:
            yield


_MARKER_ERROR = pytest.StashKey[str]()


@contextlib.contextmanager
def _marker_settings(item: pytest.Item) -> Generator[None, None, None]:
    """``@pytest.mark.gil(...)``'s settings in force from setup to teardown; a bad marker is
    kept for :func:`pytest_runtest_setup` to fail the test with."""
    try:
        own = marker_settings(item, settings.current())
    except MarkerError as exc:
        item.stash[_MARKER_ERROR] = str(exc)
        own = None
    if own is None:
        yield
        return
    previous = settings.replace_current(own)
    try:
        yield
    finally:
        settings.replace_current(previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    if call.when == "call":
        item.stash[CALL_REPORT] = outcome.get_result()
