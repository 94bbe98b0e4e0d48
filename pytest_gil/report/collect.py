"""What a pytest-gil run leaves behind: a terminal summary, JSON, HTML and Markdown reports,
and JUnit properties.

Claims code and the engine call :func:`pytest_gil.records.add` while a test runs, with a
RECORD dict (``docs/REPORT_SCHEMA.md``); the plugin installs :func:`add_record` as its sink,
which merges a test's records (:func:`merge_record`).  :class:`ReportPlugin` attaches them to
the test's reports (``report.gil``, which xdist ships to the controller), adds them to the
test's JUnit properties (``gil_claim``, ``gil_verdict``, ``gil_expected``, ``gil_figure``), and
at the end of the run, on the controller only:

* prints one row per claim or check, under a header naming the runtime;
* with ``--gil-report DIR`` (ini ``gil_report``) writes ``DIR/gil-<tag>.json`` (schema in
  ``docs/REPORT_SCHEMA.md``), ``gil-<tag>.html`` and ``gil-<tag>.md``, where ``<tag>`` names
  the runtime (``cpython-3.11-gil``, ``cpython-3.13t-nogil``).  Each file is replaced
  atomically; an interrupted run (Ctrl-C) writes what it collected, marked
  ``"interrupted": true``.

A run in which no test records anything gets no extra output and no files.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Generator, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from .. import records as record_sink
from ..options import OPTIONS
from .context import capacity_from_calibration
from .files import SCHEMA, SCHEMA_VERSION, Written, write_reports
from .format import format_figure, key_figure, record_title, runtime_facts, runtime_tag
from .terminal import format_summary

__all__ = [
    "ReportPlugin",
    "add_record",
    "current_item",
    "merge_record",
    "record_calibration",
    "to_plain",
]

PLUGIN_NAME = "gil-reporting"
DISABLED_VALUES = ("", "none", "off")
RECORD_DEFAULTS: dict[str, Any] = {
    "nodeid": None,
    "claim": None,
    "verdict": None,
    "expected": None,
    "statement": None,
    "figure": None,
    "detail": "",
    "checks": [],
    "worker": None,
}

_records_key = pytest.StashKey[list[dict[str, Any]]]()
_data_key = pytest.StashKey[dict[str, Any]]()
_sent_key = pytest.StashKey[int]()
_lock = threading.Lock()
_current: pytest.Item | None = None
_calibration: dict[str, Any] = {}


# ---------------------------------------------------------------------------------------------
# record plumbing


def current_item() -> pytest.Item | None:
    """The test item running now in this process, or ``None`` outside a test."""
    return _current


def add_record(record: Mapping[str, Any]) -> None:
    """Attach a RECORD (``docs/REPORT_SCHEMA.md``) to the running test, for the report.

    The record is converted to plain JSON types (objects with ``to_dict()``, dataclasses,
    tuples, numpy scalars; non-finite floats become ``null``); ``nodeid`` and ``worker`` are
    filled in when missing.  Outside a test (or without the plugin) this does nothing.
    May be called from any thread.
    """
    item = _current
    if item is None:
        return
    rec = to_plain(dict(record))
    for key, default in RECORD_DEFAULTS.items():
        if rec.get(key) is None:
            rec[key] = list(default) if isinstance(default, list) else default
    if rec["nodeid"] is None:
        rec["nodeid"] = item.nodeid
    if rec["worker"] is None:
        rec["worker"] = _worker_id(item.config)
    with _lock:
        merge_record(item.stash.setdefault(_records_key, []), rec, item.stash.get(_sent_key, 0))


def _check_ids(rec: Mapping[str, Any]) -> set[str]:
    """The ids of the CHECK records inside ``rec``."""
    checks = rec.get("checks")
    if not isinstance(checks, list):
        return set()
    return {str(c["id"]) for c in checks if isinstance(c, Mapping) and c.get("id")}


def merge_record(recs: list[dict[str, Any]], rec: dict[str, Any], sent: int) -> None:
    """Add ``rec`` to a test's records ``recs``, of which the first ``sent`` already went to
    the report of an earlier phase (setup, call) and stay as they are.  Among the others:

    * a standalone check record (``check_id``) recorded again — an assertion deciding a check
      that was recorded when it was measured — replaces the earlier one;
    * a claim record absorbs the standalone records of the checks it contains (``checks[*].id``);
    * a standalone check record whose check a claim record already contains is not added.
    """
    ids = _check_ids(rec)
    own = rec.get("check_id")
    unsent = recs[sent:]
    if own and any(str(own) in _check_ids(r) for r in unsent if not r.get("check_id")):
        return  # the claim that contains this check already reports it
    keep = [r for r in unsent
            if not (r.get("check_id") and (r["check_id"] == own or str(r["check_id"]) in ids))]
    recs[sent:] = [*keep, rec]


def add_test_data(name: str, data: Any) -> None:
    """Attach per-test ``data`` under ``name`` to the running test (``tests[nodeid][name]``
    in the report); nothing outside a test."""
    item = _current
    if item is None:
        return
    plain = to_plain(data)
    with _lock:
        item.stash.setdefault(_data_key, {})[str(name)] = plain


def record_calibration(name: str, data: Any) -> None:
    """Keep calibration data (e.g. ``Calibration.to_dict()``) for the run report.

    Under xdist each worker sends its own to the controller; the report keeps them per worker.
    """
    with _lock:
        _calibration[str(name)] = to_plain(data)


def to_plain(obj: Any, _depth: int = 0) -> Any:
    """``obj`` as plain JSON types (dict/list/str/int/float/bool/None), finite floats only."""
    if _depth > 40:
        return str(obj)
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, enum.Enum):
        return to_plain(obj.value, _depth + 1)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, _depth + 1) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [to_plain(v, _depth + 1) for v in sorted(obj, key=repr)]
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_plain(to_dict(), _depth + 1)
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(asdict(obj), _depth + 1)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item):
        with suppress(Exception):
            return to_plain(item(), _depth + 1)
    return str(obj)


def _worker_id(config: pytest.Config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict):
        wid = workerinput.get("workerid")
        return str(wid) if wid is not None else None
    return None


def junit_properties(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The JUnit ``<property>`` pairs of one record (short strings)."""
    props = [("gil_claim", record_title(record)), ("gil_verdict", str(record.get("verdict")))]
    if record.get("expected"):
        props.append(("gil_expected", str(record["expected"])))
    fig = format_figure(key_figure(record), ascii_only=True)
    if fig:
        props.append(("gil_figure", fig))
    return props


# ---------------------------------------------------------------------------------------------
# helpers


def register(config: pytest.Config) -> ReportPlugin:
    """Register the :class:`ReportPlugin` once (idempotent) and return it."""
    existing = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(existing, ReportPlugin):
        return existing
    plugin = ReportPlugin(config)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    return plugin


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Used when this module is loaded on its own (``-p pytest_gil.report.collect``)."""
    register(config)


def plugin_version() -> str:
    """The installed pytest-gil version (``unknown`` when running from a source tree)."""
    try:
        from importlib.metadata import version

        return version("pytest-gil")
    except Exception:
        pkg = sys.modules.get("pytest_gil")
        return str(getattr(pkg, "__version__", "unknown"))


def _profile() -> tuple[dict[str, Any], str]:
    """The runtime profile (and its label); a minimal one if the profile module fails."""
    try:
        from ..profile import runtime_profile

        prof = runtime_profile()
        return to_plain(prof.to_dict()), str(prof.label())
    except Exception as exc:  # the report must survive a broken profile
        import sysconfig

        vi = sys.version_info
        gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
        prof_d: dict[str, Any] = {
            "implementation": sys.implementation.name.replace("cpython", "CPython"),
            "version": ".".join(map(str, vi[:3])),
            "version_info": list(vi[:3]),
            "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
            "gil_enabled": bool(gil),
            "python_gil_env": os.environ.get("PYTHON_GIL"),
            "usable_cpus": cpus,
            "profile_error": f"{type(exc).__name__}: {exc}",
        }
        return prof_d, " · ".join(runtime_facts(prof_d))


def _report_dir(config: pytest.Config) -> Path | None:
    value: Any = config.getoption("gil_report", None)
    base = Path(config.invocation_params.dir)
    if value is None:
        try:
            value = config.getini("gil_report")
        except (ValueError, KeyError):
            value = None
        base = config.inipath.parent if config.inipath else config.rootpath
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or str(value).strip().lower() in DISABLED_VALUES:
        return None
    path = Path(str(value).strip()).expanduser()
    return path if path.is_absolute() else base / path


def _options(config: pytest.Config) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for name in (o.dest for o in OPTIONS):
        value = config.getoption(name, None)
        if value is None:
            try:
                value = config.getini(name)
            except (ValueError, KeyError):
                value = None
            if value in ("", []):
                value = None
        opts[name] = to_plain(value)
    return opts


def _settings() -> dict[str, Any] | None:
    try:
        from .. import settings

        return to_plain(settings.current())  # type: ignore[no-any-return]
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------
# the plugin


@dataclass
class _TestState:
    order: int
    outcome: str = "passed"
    duration: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class ReportPlugin:
    """pytest-gil's reporting hooks (registered as ``"gil-reporting"`` by the plugin)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.tests: dict[str, _TestState] = {}
        self.workers: dict[str, Any] = {}
        self.sent = 0
        self.started = time.time()
        self.started_perf = time.perf_counter()
        self.profile: dict[str, Any] | None = None
        self.label = ""
        self.document: dict[str, Any] | None = None
        self.written = Written()
        self.last_item: pytest.Item | None = None
        record_sink.set_sink(add_record, record_calibration, add_test_data)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        record_sink.set_sink(None)

    # -- every process ------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, None]:
        global _current
        previous = _current
        _current = item
        self.last_item = item
        try:
            yield
        finally:
            _current = previous

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        with _lock:
            stored = item.stash.get(_records_key, None)
            records = list(stored) if stored else []
        start = item.stash.get(_sent_key, 0)
        new = records[start:]
        item.stash[_sent_key] = len(records)
        for rec in new:
            item.user_properties.extend(junit_properties(rec))
        with _lock:
            stored_data = item.stash.get(_data_key, None)
            data = dict(stored_data) if stored_data else {}
        outcome = yield
        if new or data:
            report = outcome.get_result()
        if new:
            # plain JSON (xdist serialises extra report attributes with the report)
            report.gil = [json.loads(json.dumps(r)) for r in new]
            self.sent += len(new)
        if data:
            report.gil_data = json.loads(json.dumps(data))

    # -- controller (or a run without xdist) --------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.time()
        self.started_perf = time.perf_counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        nodeid = report.nodeid
        state = self.tests.get(nodeid)
        if state is None or report.when == "setup":
            state = _TestState(order=len(self.tests) if state is None else state.order)
            self.tests[nodeid] = state
        state.duration += float(getattr(report, "duration", 0.0) or 0.0)
        state.outcome = _merge_outcome(state.outcome, report)
        records = getattr(report, "gil", None)
        if isinstance(records, list):
            state.records.extend(r for r in records if isinstance(r, dict))
        data = getattr(report, "gil_data", None)
        if isinstance(data, dict):
            state.data.update(data)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        workerinput = getattr(node, "workerinput", {}) or {}
        wid = str(workerinput.get("workerid") or getattr(getattr(node, "gateway", None), "id", "?"))
        output = getattr(node, "workeroutput", None) or {}
        data = dict(output.get("gil") or {}) if isinstance(output, dict) else {}
        if error is not None:
            data["error"] = str(error)
        self.workers[wid] = to_plain(data)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self._fill_workeroutput()
            return
        if int(exitstatus) == int(pytest.ExitCode.INTERRUPTED):
            self._salvage_interrupted_item()
        if not any(s.records or s.data for s in self.tests.values()):
            return
        try:
            self.document = self.build_document(exitstatus)
        except Exception as exc:  # never turn a finished run into an internal error
            self.written.problems.append(f"could not assemble the report: {exc!r}")
            return
        self.config.hook.pytest_gil_report(
            config=self.config, session=session, document=self.document)
        directory = _report_dir(self.config)
        if directory is not None:
            self.written = write_reports(self.document, directory)

    def pytest_terminal_summary(
        self, terminalreporter: Any, exitstatus: int, config: pytest.Config
    ) -> None:
        if self.is_worker or (self.document is None and not self.written.problems):
            return
        tr = terminalreporter
        try:
            width = int(getattr(tr._tw, "fullwidth", 80))
        except Exception:
            width = 80
        tr.write_sep("=", "pytest-gil")
        if self.document is not None:
            try:
                for line, markup in format_summary(self.document, width):
                    tr.write_line(line, **markup)
            except Exception as exc:
                tr.write_line(f"pytest-gil: could not print the summary: {exc!r}", red=True)
        for change in self.written.changes:
            tr.write_line(change)
        for problem in self.written.problems:
            tr.write_line(f"pytest-gil: {problem}", yellow=True, bold=True)
        for path in self.written.paths:
            tr.write_line(f"report: {_relative(path, self.config.invocation_params.dir)}")
        if not self.written.paths and self.document is not None and _report_dir(config) is None:
            tr.write_line("(no report files: set --gil-report DIR or the gil_report ini option)")

    # -- helpers ------------------------------------------------------------------------------

    def _salvage_interrupted_item(self) -> None:
        """Ctrl-C inside a test leaves no report for it: keep what it recorded anyway."""
        item = self.last_item
        if item is None:
            return
        with _lock:
            stored = item.stash.get(_records_key, None)
            records = list(stored) if stored else []
        unsent = records[item.stash.get(_sent_key, 0) :]
        if not unsent:
            return
        item.stash[_sent_key] = len(records)
        state = self.tests.setdefault(item.nodeid, _TestState(order=len(self.tests)))
        state.outcome = "interrupted"
        state.records.extend(unsent)

    def _fill_workeroutput(self) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if not isinstance(workeroutput, dict):
            return
        profile, label = _profile()
        with _lock:
            calibration = dict(_calibration)
        workeroutput["gil"] = {
            "records_sent": self.sent,
            "runtime": profile,
            "runtime_label": label,
            "calibration": calibration,
        }

    def build_document(self, exitstatus: int) -> dict[str, Any]:
        """The run-level JSON document (``docs/REPORT_SCHEMA.md``) from what was collected."""
        profile, label = _profile()
        results: list[dict[str, Any]] = []
        for nodeid in sorted(self.tests, key=lambda n: (n, self.tests[n].order)):
            state = self.tests[nodeid]
            for rec in state.records:
                results.append(
                    {**rec, "outcome": state.outcome, "duration": round(state.duration, 6)}
                )
        with _lock:
            calibration: dict[str, Any] = {"main": dict(_calibration)} if _calibration else {}
        for wid, data in self.workers.items():
            if isinstance(data, dict) and data.get("calibration"):
                calibration[wid] = data["calibration"]
        interrupted = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)
        session: dict[str, Any] = {
            "started": iso_time(self.started),
            "duration": round(time.perf_counter() - self.started_perf, 3),
            "exitstatus": int(exitstatus),
            "interrupted": interrupted,
            "args": [str(a) for a in self.config.invocation_params.args],
            "tests_with_records": sum(1 for s in self.tests.values() if s.records),
        }
        lost = self._lost_records(results)
        if lost:
            session["records_lost"] = lost
        tests = {nodeid: dict(state.data) for nodeid, state in self.tests.items() if state.data}
        return run_document(profile, label, options=_options(self.config),
                            run_settings=_settings(), calibration=calibration,
                            workers=dict(self.workers), session=session, results=results,
                            tests=tests)

    def _lost_records(self, results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Per worker: records it sent minus those that arrived (should be all zero)."""
        got: dict[str, int] = {}
        for rec in results:
            w = rec.get("worker")
            if w:
                got[str(w)] = got.get(str(w), 0) + 1
        lost = {}
        for wid, data in self.workers.items():
            if isinstance(data, dict) and isinstance(data.get("records_sent"), int):
                missing = data["records_sent"] - got.get(wid, 0)
                if missing:
                    lost[wid] = missing
        return lost


def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start) if path.is_relative_to(start) else str(path)
    except ValueError:
        return str(path)


def run_document(profile: Mapping[str, Any], label: str, *, options: Mapping[str, Any],
                 run_settings: Any, calibration: Mapping[str, Any], workers: Mapping[str, Any],
                 session: Mapping[str, Any], results: Sequence[Mapping[str, Any]],
                 tests: Mapping[str, Any]) -> dict[str, Any]:
    """The run document (``docs/REPORT_SCHEMA.md``) of a session or a standalone command."""
    counts = Counter(str(rec.get("verdict")) for rec in results)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "plugin_version": plugin_version(),
        "created": iso_time(time.time()),
        "tag": runtime_tag(profile),
        "runtime": profile,
        "runtime_label": label,
        "options": dict(options),
        "settings": run_settings,
        "calibration": dict(calibration),
        "capacity": capacity_from_calibration(calibration),
        "workers": dict(workers),
        "session": dict(session),
        "counts": dict(counts),
        "results": list(results),
        "tests": dict(tests),
    }
    return to_plain(doc)  # type: ignore[no-any-return]


def iso_time(ts: float) -> str:
    """``ts`` (a ``time.time()``) as the schema's UTC ISO 8601 time, to the second."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="seconds")


def _merge_outcome(current: str, report: pytest.TestReport) -> str:
    """The test's outcome so far, in pytest's words (passed, failed, skipped, error, xfailed,
    xpassed), after one more phase report."""
    if report.when == "setup":
        if report.failed:
            return "error"
        return "skipped" if report.skipped else "passed"
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "xfailed" if report.skipped else "xpassed"
        return str(report.outcome)
    if report.failed and current in ("passed", "skipped", "xfailed", "xpassed"):
        return "error"
    return current
