"""Free-threading awareness: is the GIL on, who decided it, and did an import turn it back on?

On a free-threaded build (``python3.13t``, ``python3.14t``) the GIL starts disabled, but
importing an extension module that has not declared ``Py_mod_gil`` re-enables it for the rest
of the process, with a ``RuntimeWarning``::

    The global interpreter lock (GIL) has been enabled to load module 'foo', which has not
    declared that it can run safely without the GIL. ...

A measurement taken after that measures a GIL runtime, whatever the build says.  This module
tells, at session start and around each measurement, which state the GIL is in and why:

* :func:`gil_state` returns a :class:`GilState` — ``enabled`` and ``source``, one of
  ``"build default"``, ``"PYTHON_GIL=<v>"``, ``"-X gil=<v>"`` or ``"import of <module>"``;
* :class:`GilMonitor` (one per process, :func:`monitor`) collects the RuntimeWarnings
  (:meth:`GilMonitor.observe`, fed by the plugin's ``pytest_warning_recorded`` hook) and wraps
  each measurement (:meth:`GilMonitor.measurement`): the GIL state before and after, the
  modules whose import re-enabled it, a note for the result, the
  failure unless ``--gil-allow-gil-reenabled``, and a refusal to run two measurements at once in
  one process (pytest-run-parallel runs a test body in several threads);
* :func:`gil_setting_reaches_workers` / :func:`ensure_gil_setting_reaches_workers` check
  that ``PYTHON_GIL`` / ``-X gil`` reach process workers, and :func:`probe_workers` asks the
  workers of a pool for their own :class:`GilState`.

Only the standard library is imported here (``pytest`` lazily, to fail a test).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.machinery
import os
import re
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import concurrent.futures as cf


__all__ = [
    "GIL_WARNING",
    "ConcurrentMeasurementError",
    "GilMonitor",
    "GilState",
    "MeasurementGil",
    "build_is_free_threaded",
    "ensure_gil_setting_reaches_workers",
    "export_gil_setting",
    "gil_config",
    "gil_enabled",
    "gil_setting_reaches_workers",
    "gil_state",
    "monitor",
    "probe_workers",
    "worker_gil_state",
]

GIL_WARNING = re.compile(
    r"The global interpreter lock \(GIL\) has been enabled to load module '(?P<module>[^']*)'"
)
"""The text of CPython's RuntimeWarning (``Python/import.c``, 3.13+), as pytest-run-parallel
matches it too."""

BUILD_DEFAULT = "build default"
_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


# --------------------------------------------------------------------------------------------
# reading the interpreter


def build_is_free_threaded() -> bool:
    """True on a free-threaded build (``Py_GIL_DISABLED`` is 1; it is 0 or None elsewhere)."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """Whether the GIL is enabled right now (``sys._is_gil_enabled()``, 3.13+; always True on
    older interpreters)."""
    fn = getattr(sys, "_is_gil_enabled", None)
    return True if fn is None else bool(fn())


def gil_config(
    xoptions: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    ignore_environment: bool | None = None,
) -> tuple[str | None, str | None]:
    """The GIL setting this interpreter was started with: ``(value, where)``.

    ``-X gil=<v>`` wins over ``PYTHON_GIL=<v>`` (which ``-E`` / ``-I`` make the interpreter
    ignore), as in CPython's ``config_read_gil``.  ``(None, None)`` when neither is set.
    The arguments default to ``sys._xoptions``, ``os.environ`` and
    ``sys.flags.ignore_environment``; they exist so tests can feed other values.
    """
    xopts = getattr(sys, "_xoptions", {}) if xoptions is None else xoptions
    env = os.environ if environ is None else environ
    ignore = bool(sys.flags.ignore_environment) if ignore_environment is None else (
        ignore_environment
    )
    if "gil" in xopts:
        value = xopts["gil"]
        text = "" if value is True else str(value)
        return text, f"-X gil={text}" if text else "-X gil"
    if not ignore:
        env_value = env.get("PYTHON_GIL")
        if env_value is not None:
            return env_value, f"PYTHON_GIL={env_value}"
    return None, None


@dataclasses.dataclass(frozen=True)
class GilState:
    """The GIL's state and where it came from.

    ``source`` is ``"build default"`` (a GIL build, or a free-threaded build left alone),
    ``"PYTHON_GIL=<v>"``, ``"-X gil=<v>"``, or ``"import of <module>"`` when an import
    re-enabled the GIL on a free-threaded build (``reenabled_by`` lists the modules).
    """

    enabled: bool
    source: str
    free_threaded_build: bool
    reenabled_by: tuple[str, ...] = ()
    at: float = dataclasses.field(default=0.0, compare=False)  # time.time() of the reading

    @property
    def reenabled(self) -> bool:
        """True when an import re-enabled the GIL of a free-threaded build."""
        return self.free_threaded_build and self.enabled and bool(
            self.reenabled_by or "import of" in self.source)

    def describe(self) -> str:
        """``GIL on (build default)``, ``GIL off (PYTHON_GIL=0)``,
        ``GIL on (import of foo._ext)``."""
        return f"GIL {'on' if self.enabled else 'off'} ({self.source})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "source": self.source,
            "free_threaded_build": self.free_threaded_build,
            "reenabled": self.reenabled,
            "reenabled_by": list(self.reenabled_by),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GilState:
        return cls(
            enabled=bool(data["enabled"]),
            source=str(data["source"]),
            free_threaded_build=bool(data.get("free_threaded_build", False)),
            reenabled_by=tuple(data.get("reenabled_by", ())),
        )


def _import_source(modules: Sequence[str]) -> str:
    if not modules:
        return "import of an unidentified extension module (its RuntimeWarning was not seen)"
    if len(modules) == 1:
        return f"import of {modules[0]}"
    return f"import of {modules[0]} (and {', '.join(modules[1:])})"


def gil_state(reenabled_by: Sequence[str] = ()) -> GilState:
    """Read the GIL state now and say where it came from.

    ``reenabled_by``: modules known (from their RuntimeWarning) to have re-enabled the GIL;
    :meth:`GilMonitor.state` passes what it observed.
    """
    free_threaded = build_is_free_threaded()
    enabled = gil_enabled()
    value, where = gil_config()
    mods = tuple(dict.fromkeys(reenabled_by))
    if not free_threaded:
        # A GIL build always has the GIL; PYTHON_GIL=1 / -X gil=1 change nothing there.
        return GilState(True, BUILD_DEFAULT, False, (), time.time())
    if value is not None and where is not None:
        if value == "1" or not enabled:
            return GilState(enabled, where, True, (), time.time())
        # An explicit 0 keeps imports from re-enabling the GIL; reaching here means an
        # extension enabled it by other means (PyUnstable_Module_SetGIL): say both.
        return GilState(enabled, f"{where}, then {_import_source(mods)}", True, mods,
                        time.time())
    if not enabled:
        return GilState(False, BUILD_DEFAULT, True, (), time.time())
    return GilState(True, _import_source(mods), True, mods, time.time())


# --------------------------------------------------------------------------------------------
# the monitor


class ConcurrentMeasurementError(RuntimeError):
    """Two measurements were started at once in one process (several threads)."""


@dataclasses.dataclass
class MeasurementGil:
    """The GIL around one measurement (:meth:`GilMonitor.measurement`).

    ``before`` / ``after``: the states at its start and end; ``reenabled_during``: modules
    whose import re-enabled the GIL while it ran (from their RuntimeWarning, or, when the
    warning was not seen, the extension modules imported meanwhile).
    """

    label: str
    before: GilState
    after: GilState | None = None
    reenabled_during: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.after is not None and self.after.enabled != self.before.enabled

    @property
    def affected(self) -> bool:
        """True when (part of) the measurement ran with a GIL that an import re-enabled."""
        return self.before.reenabled or (self.after is not None and self.after.reenabled)

    def note(self) -> str:
        """What the result must say, or ``""`` when the GIL was left alone."""
        if self.before.reenabled:
            return (
                f"measured with the GIL re-enabled by the {self.before.source} "
                "(before this measurement): the results describe a GIL runtime, not free "
                "threading; import a version of that module that declares free-threading "
                "support, or run with PYTHON_GIL=0 at your own risk"
            )
        if self.after is not None and self.after.reenabled:
            during = _import_source(self.reenabled_during) if self.reenabled_during else (
                self.after.source)
            return (
                f"the GIL was re-enabled during this measurement by the {during}: rounds "
                "before and after ran under different runtimes"
            )
        return ""

    def to_dict(self) -> dict[str, Any]:
        """For a CHECK record's ``gil`` entry: ``enabled``, ``changed``, ``source``,
        ``reenabled_by`` and ``note``."""
        last = self.after or self.before
        mods = tuple(dict.fromkeys((*self.before.reenabled_by, *self.reenabled_during)))
        return {
            "enabled": last.enabled,
            "changed": self.changed,
            "source": last.source,
            "reenabled_by": list(mods),
            "note": self.note(),
        }

    def enforce(self, fail_on_reenabled: bool | None = None) -> None:
        """Fail the running test when the GIL was re-enabled by an import and
        ``--gil-allow-gil-reenabled`` is not set (``fail_on_reenabled`` overrides the option)."""
        if fail_on_reenabled is None:
            from . import settings

            fail_on_reenabled = settings.current().fail_on_gil_reenabled
        if fail_on_reenabled and self.affected:
            _fail(f"pytest-gil: {self.label or 'measurement'}: {self.note()} "
                  "(pass --gil-allow-gil-reenabled to measure anyway)")


def _fail(message: str) -> None:
    import pytest

    pytest.fail(message, pytrace=False)


def _extension_modules(names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        mod = sys.modules.get(name)
        path = getattr(mod, "__file__", None) or ""
        if path.endswith(_EXTENSION_SUFFIXES):
            out.append(name)
    return sorted(out)


class GilMonitor:
    """Watches the GIL of this process for a run.  Thread-safe; one per process
    (:func:`monitor`).

    * :meth:`observe` takes a warning (or its text) and records the module named by the
      "GIL has been enabled to load module" RuntimeWarning;
    * :meth:`start_session` / :attr:`session_start`: the state at session start;
    * :meth:`state`: the state now, with the modules observed so far;
    * :meth:`measurement`: a context manager around one measurement.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reenabled: list[tuple[str, str]] = []  # (module, where it was seen)
        self.session_start: GilState | None = None
        self._owner: int | None = None  # thread measuring now
        self._owner_label = ""
        self._depth = 0

    # -- warnings ----------------------------------------------------------------------------

    def observe(self, warning: object, where: str = "") -> str | None:
        """Record ``warning`` (a ``Warning``, ``warnings.WarningMessage`` or text) if it is the
        GIL re-enabling RuntimeWarning; return the module it names, else ``None``."""
        message = getattr(warning, "message", warning)
        match = GIL_WARNING.search(str(message))
        if match is None:
            return None
        module = match.group("module")
        with self._lock:
            if module not in (m for m, _ in self._reenabled):
                self._reenabled.append((module, where))
        return module

    @property
    def reenabled_by(self) -> tuple[str, ...]:
        """Modules whose import re-enabled the GIL, in the order seen."""
        with self._lock:
            return tuple(m for m, _ in self._reenabled)

    def where(self, module: str) -> str:
        """Where the warning about ``module`` was seen (a test id or a pytest stage)."""
        with self._lock:
            return next((w for m, w in self._reenabled if m == module), "")

    # -- states ------------------------------------------------------------------------------

    def state(self) -> GilState:
        return gil_state(self.reenabled_by)

    def start_session(self) -> GilState:
        """Read and keep the state at session start (the report header shows it)."""
        self.session_start = self.state()
        return self.session_start

    def header(self) -> str:
        """The GIL part of the report header: ``GIL on (build default)``; with
        ``, re-enabled since start`` when it changed after :meth:`start_session`."""
        now = self.state()
        text = now.describe()
        start = self.session_start
        if start is not None and start.enabled != now.enabled:
            text += f", was {'on' if start.enabled else 'off'} at session start"
        return text

    def setup_problem(self) -> str:
        """Before a measuring test: ``""``, or why its results would describe a GIL runtime
        (the GIL was re-enabled by an import already)."""
        now = self.state()
        if not now.reenabled:
            return ""
        seen = self.where(now.reenabled_by[0]) if now.reenabled_by else ""
        where = f" (seen during {seen})" if seen else ""
        return (f"the GIL of this free-threaded build was re-enabled by the {now.source}"
                f"{where}: measurements here describe a GIL runtime")

    def check_setup(self, fail_on_reenabled: bool | None = None) -> str:
        """:meth:`setup_problem`, failing the test unless ``--gil-allow-gil-reenabled``."""
        problem = self.setup_problem()
        if problem:
            if fail_on_reenabled is None:
                from . import settings

                fail_on_reenabled = settings.current().fail_on_gil_reenabled
            if fail_on_reenabled:
                _fail(f"pytest-gil: {problem} (pass --gil-allow-gil-reenabled to measure "
                      "anyway)")
        return problem

    # -- measurements ------------------------------------------------------------------------

    @contextlib.contextmanager
    def measurement(self, label: str = "") -> Iterator[MeasurementGil]:
        """Wrap one measurement: the GIL state before and after it, and what re-enabled it.

        Raises :class:`ConcurrentMeasurementError` when another thread of this process is
        measuring (re-entrant in one thread): two measurements at once time each other.
        Reading the state costs a few microseconds, outside any timed phase.
        """
        me = threading.get_ident()
        with self._lock:
            if self._owner is not None and self._owner != me:
                other = self._owner_label or "another measurement"
                raise ConcurrentMeasurementError(
                    f"pytest-gil: refusing to measure {label or 'this'} in thread "
                    f"{threading.current_thread().name} while {other} is being measured in "
                    "another thread of this process: measurements running at once time each "
                    "other. pytest-run-parallel (--parallel-threads) runs a test body in "
                    "several threads: pytest-gil marks the tests that use its fixtures, "
                    "markers or measuring functions thread_unsafe so they run once; mark this "
                    "test @pytest.mark.thread_unsafe if it measures through a helper."
                )
            self._owner = me
            self._depth += 1
            if self._depth == 1:
                self._owner_label = label
        seen_before = len(self.reenabled_by)
        modules_before = set(sys.modules)
        record = MeasurementGil(label, self.state())
        try:
            yield record
        finally:
            after = self.state()
            if after.enabled and not record.before.enabled:
                new_warned = self.reenabled_by[seen_before:]
                record.reenabled_during = tuple(new_warned) or tuple(
                    _extension_modules(sorted(set(sys.modules) - modules_before)))
                if not after.reenabled_by and record.reenabled_during:
                    after = dataclasses.replace(
                        after, reenabled_by=record.reenabled_during,
                        source=_import_source(record.reenabled_during))
            record.after = after
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._owner_label = ""


_monitor = GilMonitor()


def monitor() -> GilMonitor:
    """The process's :class:`GilMonitor`."""
    return _monitor


# --------------------------------------------------------------------------------------------
# process workers


def gil_setting_reaches_workers(start_method: str | None = None) -> tuple[bool, str]:
    """Whether the GIL setting of this interpreter reaches multiprocessing workers.

    ``fork`` copies the running interpreter; ``spawn`` and ``forkserver`` start a new one with
    the environment (``PYTHON_GIL``) and ``subprocess._args_from_interpreter_flags()``, which
    carries ``-X gil`` from CPython 3.13 on.  Returns ``(ok, why)``.
    """
    import multiprocessing

    method = start_method or multiprocessing.get_start_method(allow_none=True) or (
        multiprocessing.get_context().get_start_method())
    value, where = gil_config()
    if value is None or where is None:
        return True, "no GIL setting to pass on (workers start with their build default)"
    if method == "fork":
        return True, f"{where}: fork copies the running interpreter"
    if where.startswith("PYTHON_GIL"):
        return True, f"{where}: {method} workers inherit the environment"
    flags = _interpreter_flags()
    wanted = where.replace(" ", "")  # "-Xgil=0"
    if wanted in "".join(flags).replace(" ", ""):
        return True, f"{where}: {method} workers get it from _args_from_interpreter_flags()"
    if os.environ.get("PYTHON_GIL") == value and not sys.flags.ignore_environment:
        return True, f"{where}: {method} workers get it as PYTHON_GIL={value}"
    return False, (f"{where} is not in subprocess._args_from_interpreter_flags() "
                   f"({' '.join(flags) or 'empty'}): {method} workers would not get it")


def _interpreter_flags() -> list[str]:
    flags = getattr(subprocess, "_args_from_interpreter_flags", None)
    return list(flags()) if callable(flags) else []


def export_gil_setting(for_whom: str) -> str:
    """Export ``-X gil=<v>`` as ``PYTHON_GIL=<v>`` for child interpreters started without this
    interpreter's flags; returns what was done (``""`` when there was nothing to do).

    Only a ``-X gil`` setting is exported (``PYTHON_GIL`` is inherited anyway), and only into
    this process's environment, which every child inherits: a child of another build would see
    it too, as if the user had set ``PYTHON_GIL``.
    """
    value, where = gil_config()
    if value is None or where is None or not where.startswith("-X"):
        return ""
    if os.environ.get("PYTHON_GIL") == value:
        return ""
    if sys.flags.ignore_environment:
        return (f"{where} does not reach {for_whom}, and PYTHON_GIL cannot carry it: they "
                "inherit -E/-I and ignore the environment")
    os.environ["PYTHON_GIL"] = value
    return f"{where}: exported PYTHON_GIL={value} so that {for_whom} get it"


def ensure_gil_setting_reaches_workers(start_method: str | None = None) -> str:
    """Make ``-X gil`` reach ``spawn`` / ``forkserver`` workers where this interpreter would not
    pass it on (:func:`gil_setting_reaches_workers`), by exporting it as ``PYTHON_GIL``.
    Returns what was done (``""`` when nothing was needed).  A no-op on CPython 3.13+, which
    passes ``-X gil`` on itself.
    """
    ok, why = gil_setting_reaches_workers(start_method)
    if ok:
        return ""
    return f"{why}; " + export_gil_setting("they")


def worker_gil_state(hold: float = 0.0) -> dict[str, Any]:
    """A worker's own GIL state as a dict (module-level so pools can pickle it), with its pid
    and ``-X gil`` / ``PYTHON_GIL`` as the worker sees them."""
    if hold:
        time.sleep(hold)
    _, where = gil_config()
    return {**gil_state().to_dict(), "pid": os.getpid(), "config": where}


def probe_workers(executor: cf.Executor, workers: int, hold: float = 0.02) -> list[dict[str, Any]]:
    """Ask ``workers`` workers of ``executor`` for their GIL state (outside any timed phase).

    Each call holds its worker ``hold`` seconds so that the calls land on different workers.
    Results are deduplicated by pid.
    """
    futures = [executor.submit(worker_gil_state, hold) for _ in range(max(1, workers))]
    seen: dict[Any, dict[str, Any]] = {}
    for f in futures:
        state = f.result()
        seen.setdefault(state.get("pid"), state)
    return list(seen.values())
