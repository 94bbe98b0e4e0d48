"""pytest hooks of the GIL monitor (:mod:`pytest_gil.gilstate`): warnings that name the
import re-enabling the GIL, the failure of measuring tests after one (unless
``--gil-allow-gil-reenabled``),
``-X gil`` handed to xdist workers, and pytest-run-parallel told which tests measure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import settings
from .gilstate import ensure_gil_setting_reaches_workers, export_gil_setting, monitor

if TYPE_CHECKING:
    import warnings

    import pytest

__all__ = ["MEASURING_FUNCTIONS", "THREAD_UNSAFE_REASON", "GilStatePlugin"]



THREAD_UNSAFE_REASON = (
    "pytest-gil measures timing in this test; copies of it running at once in several threads "
    "would time each other"
)
"""Why pytest-gil marks its measuring tests ``thread_unsafe`` for pytest-run-parallel."""

MEASURING_FUNCTIONS = (
    "engine.scaling.measure_scaling",
    "engine.scaling.measure_overlap",
    "engine.assertions.assert_no_speedup",
    "engine.assertions.assert_scales",
    "engine.assertions.assert_overlaps",
    "engine.release.releases_gil",
    "engine.primitives.measure_rounds",
    "engine.primitives.measure_parallelism",
    "engine.primitives.measure_fairness",
    "engine.primitives.measure_wakeup_latency",
    "runtimes.tasks.run_tasks",
)
"""Functions (module.name inside ``pytest_gil``) that measure: a test calling one of them
directly is run once by pytest-run-parallel (its ``thread_unsafe_functions`` ini list)."""


_STAGES = {"config": "start-up (conftest and plugins)", "collect": "collection"}


class GilStatePlugin:
    """pytest hooks of the GIL monitor, registered by ``pytest_gil.plugin`` at configure time.

    * every warning pytest records goes through :meth:`GilMonitor.observe`, so the monitor
      knows which import re-enabled the GIL (collection, conftest and test warnings alike);
    * before a measuring test (``is_measuring(item)``), :meth:`GilMonitor.check_setup`:
      it fails the test when an import re-enabled the GIL already (unless
      ``--gil-allow-gil-reenabled``);
    * ``-X gil`` is exported as ``PYTHON_GIL`` if this interpreter would not pass it on to
      ``spawn`` / ``forkserver`` workers (:func:`ensure_gil_setting_reaches_workers`), and
      before pytest-xdist starts its workers, which get no interpreter flags;
    * with pytest-run-parallel present, measuring tests are marked ``thread_unsafe`` (it runs
      them in one thread and says why) and the measuring functions are added to its
      ``thread_unsafe_functions``, so a test calling them directly is recognised too.
      :meth:`GilMonitor.measurement` refuses a second concurrent measurement whatever slips
      through.
    """

    def __init__(self, config: pytest.Config, is_measuring: Callable[[pytest.Item], bool]
                 ) -> None:
        self.monitor = monitor()
        self.is_measuring = is_measuring
        self.run_parallel = config.pluginmanager.hasplugin("run-parallel")
        if self.run_parallel:
            _tell_run_parallel(config)
        self.monitor.start_session()
        self.workers_note = ensure_gil_setting_reaches_workers(settings.current().start_method)
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistGilHooks(), "gil-state-xdist")

    def pytest_warning_recorded(
        self, warning_message: warnings.WarningMessage, when: str, nodeid: str
    ) -> None:
        self.monitor.observe(warning_message, nodeid or _STAGES.get(when, when))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if not self.run_parallel:
            return
        import pytest

        for item in items:
            if item.get_closest_marker("thread_unsafe") is None and self.is_measuring(item):
                item.add_marker(pytest.mark.thread_unsafe(reason=THREAD_UNSAFE_REASON))

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.is_measuring(item):
            self.monitor.check_setup()


class _XdistGilHooks:
    """Registered only when pytest-xdist is present."""

    def pytest_xdist_setupnodes(self) -> None:
        # execnet starts workers as "python -u -c ...": no -X options.  Right before it does,
        # hand a -X gil setting over as PYTHON_GIL, which they inherit.
        export_gil_setting("pytest-xdist workers (started without interpreter flags)")


def _tell_run_parallel(config: pytest.Config) -> None:
    """Add the measuring functions to pytest-run-parallel's ``thread_unsafe_functions``.

    Must run before pytest-run-parallel's own ``pytest_configure`` reads the list (pytest-gil's
    ``pytest_configure`` is ``tryfirst``).  Both spellings are listed: the defining module
    (``from pytest_gil import measure_scaling`` resolves to it) and the package
    (``pytest_gil.measure_scaling(...)``).
    """
    try:
        for name in MEASURING_FUNCTIONS:
            config.addinivalue_line("thread_unsafe_functions", f"pytest_gil.{name}")
            config.addinivalue_line(
                "thread_unsafe_functions", f"pytest_gil.{name.rpartition('.')[2]}"
            )
    except (ValueError, AssertionError):  # a pytest-run-parallel without that ini option
        return
