"""What a pytest-gil run leaves behind: a terminal summary, JSON, HTML and Markdown reports,
and JUnit properties.

Claims code and the engine call :func:`add_record` while a test runs, with a RECORD dict
(``docs/DESIGN.md``).  :class:`ReportPlugin` attaches the records to the test's reports
(``report.gil``, which xdist ships to the controller), adds them to the test's JUnit
properties (``gil_claim``, ``gil_verdict``, ``gil_expected``, ``gil_figure``), and at the end of
the run, on the controller only:

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
from collections.abc import Generator, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from . import html_report
from .html_report import (
    format_figure,
    key_figure,
    mismatch,
    record_rounds,
    record_title,
    runtime_facts,
    runtime_tag,
    write_atomic,
)

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "ReportPlugin",
    "add_record",
    "current_item",
    "format_summary",
    "record_calibration",
    "register",
    "to_plain",
    "write_atomic",
]

SCHEMA = "pytest-gil-report"
SCHEMA_VERSION = 1
PLUGIN_NAME = "gil-reporting"
OPTION_NAMES = (
    "gil_report",
    "gil_scale",
    "gil_budget",
    "gil_alpha",
    "gil_inconclusive",
    "gil_start_method",
)
DISABLED_VALUES = ("", "none", "off")
RECORD_DEFAULTS: dict[str, Any] = {
    "nodeid": None,
    "claim": None,
    "verdict": None,
    "expected": None,
    "document_says": None,
    "figure": None,
    "detail": "",
    "checks": [],
    "worker": None,
}

_records_key = pytest.StashKey[list[dict[str, Any]]]()
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
    """Attach a RECORD (``docs/DESIGN.md``) to the running test, for the report.

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
        item.stash.setdefault(_records_key, []).append(rec)


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
    """Used when this module is loaded on its own (``-p pytest_gil.reporting``)."""
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
        from .profile import runtime_profile

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
    for name in OPTION_NAMES:
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
        from . import settings

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


@dataclass
class _Written:
    paths: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


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
        self.written = _Written()
        self.last_item: pytest.Item | None = None

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
        outcome = yield
        if new:
            report = outcome.get_result()
            # plain JSON (xdist serialises extra report attributes with the report)
            report.gil = [json.loads(json.dumps(r)) for r in new]
            self.sent += len(new)

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
        if not any(s.records for s in self.tests.values()):
            return
        try:
            self.document = self.build_document(exitstatus)
        except Exception as exc:  # never turn a finished run into an internal error
            self.written.problems.append(f"could not assemble the report: {exc!r}")
            return
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
        counts: dict[str, int] = {}
        for rec in results:
            counts[str(rec.get("verdict"))] = counts.get(str(rec.get("verdict")), 0) + 1
        with _lock:
            calibration: dict[str, Any] = {"main": dict(_calibration)} if _calibration else {}
        for wid, data in self.workers.items():
            if isinstance(data, dict) and data.get("calibration"):
                calibration[wid] = data["calibration"]
        interrupted = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)
        session: dict[str, Any] = {
            "started": _iso(self.started),
            "duration": round(time.perf_counter() - self.started_perf, 3),
            "exitstatus": int(exitstatus),
            "interrupted": interrupted,
            "args": [str(a) for a in self.config.invocation_params.args],
            "tests_with_records": sum(1 for s in self.tests.values() if s.records),
        }
        lost = self._lost_records(results)
        if lost:
            session["records_lost"] = lost
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "plugin_version": plugin_version(),
            "created": _iso(time.time()),
            "tag": runtime_tag(profile),
            "runtime": profile,
            "runtime_label": label,
            "options": _options(self.config),
            "settings": _settings(),
            "calibration": calibration,
            "workers": dict(self.workers),
            "session": session,
            "counts": counts,
            "results": results,
        }
        return to_plain(doc)  # type: ignore[no-any-return]

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


def _iso(ts: float) -> str:
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


# ---------------------------------------------------------------------------------------------
# files


def write_reports(doc: Mapping[str, Any], directory: Path) -> _Written:
    """Write ``gil-<tag>.json``, ``.md`` and ``.html`` into ``directory``.

    Problems (unwritable directory, corrupt previous file, a rendering failure) are returned
    as messages naming the path and the cause; they never raise.
    """
    written = _Written()
    tag = str(doc.get("tag") or "unknown")
    json_path = directory / f"gil-{tag}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        written.problems.append(f"cannot write reports to {directory}: {_cause(exc)}")
        return written
    written.changes = _changes_since(json_path, doc, written.problems)
    try:
        text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        written.problems.append(f"cannot serialise the report for {json_path}: {exc}")
        return written
    outputs: list[tuple[Path, Any]] = [
        (json_path, lambda: text),
        (directory / f"gil-{tag}.md", lambda: html_report.render_markdown(doc)),
        (directory / f"gil-{tag}.html", lambda: html_report.render_html(doc)),
    ]
    for path, render in outputs:
        try:
            content = render()
        except Exception as exc:  # a rendering bug must not cost the other files
            written.problems.append(f"could not render {path}: {type(exc).__name__}: {exc}")
            continue
        try:
            write_atomic(path, content)
        except OSError as exc:
            written.problems.append(f"cannot write report {path}: {_cause(exc)}")
        else:
            written.paths.append(path)
    return written


def _cause(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def _changes_since(path: Path, doc: Mapping[str, Any], problems: list[str]) -> list[str]:
    """Verdicts that differ from the previous report of this runtime (read before replacing
    it).  A corrupt previous file is reported and then replaced."""
    try:
        previous_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"cannot read the previous report {path}: {exc}")
        return []
    try:
        previous = json.loads(previous_text)
        if not isinstance(previous, dict) or previous.get("schema") != SCHEMA:
            raise ValueError("not a pytest-gil report")
        old = {
            (r.get("nodeid"), record_title(r)): r.get("verdict")
            for r in previous.get("results") or []
            if isinstance(r, dict)
        }
    except (ValueError, AttributeError) as exc:
        problems.append(f"previous report {path} is corrupt ({exc}); replacing it")
        return []
    changes = []
    for rec in doc.get("results") or []:
        key = (rec.get("nodeid"), record_title(rec))
        if key in old and old[key] != rec.get("verdict"):
            changes.append(
                f"changed since the previous run ({previous.get('created')}): "
                f"{record_title(rec)}: {old[key]} -> {rec.get('verdict')}"
            )
    return changes


# ---------------------------------------------------------------------------------------------
# terminal


def _truncate(text: str, width: int) -> str:
    indent = text[: len(text) - len(text.lstrip())]
    text = indent + " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


def _wrap_parts(parts: Sequence[str], width: int, sep: str = ", ") -> list[str]:
    lines: list[str] = []
    line = ""
    for part in parts:
        candidate = f"{line}{sep}{part}" if line else part
        if len(candidate) > width and line:
            lines.append(line + sep.rstrip())
            line = part
        else:
            line = candidate
    if line:
        lines.append(line)
    return [_truncate(x, width) for x in lines]


def _markup(rec: Mapping[str, Any]) -> dict[str, bool]:
    verdict = rec.get("verdict")
    if mismatch(rec) or str(rec.get("outcome")) in ("failed", "error"):
        return {"red": True}
    if verdict == "inconclusive":
        return {"yellow": True}
    if verdict == "confirmed" or (rec.get("expected") and verdict == rec.get("expected")):
        return {"green": True}
    if verdict == "refuted":
        return {"red": True}
    return {}


def format_summary(doc: Mapping[str, Any], width: int = 80) -> list[tuple[str, dict[str, bool]]]:
    """The terminal summary as (line, markup) pairs, each line at most ``width`` columns.

    A header with the runtime, one row per claim or check (id, verdict, key figure with its
    interval, rounds), the verdicts that differ from the expected ones, and the counts.
    ASCII only, so it reads the same on any terminal.
    """
    width = max(int(width), 60)
    profile = doc.get("runtime") if isinstance(doc.get("runtime"), Mapping) else {}
    assert isinstance(profile, Mapping)
    results = [r for r in doc.get("results") or [] if isinstance(r, Mapping)]
    out: list[tuple[str, dict[str, bool]]] = []
    facts = [f.replace("µ", "u") for f in runtime_facts(profile)]
    for line in _wrap_parts(facts, width):
        out.append((line, {"bold": True}))

    titles = [" ".join(record_title(r).split()) for r in results]
    figs = [key_figure(r) for r in results]
    figures = [format_figure(f, ascii_only=True) for f in figs]
    verdicts = [str(r.get("verdict")) + ("!" if mismatch(r) else "") for r in results]
    v_w = max([len("verdict"), *map(len, verdicts)])
    r_w = len("rounds")
    gap = 2
    rest = width - v_w - r_w - 3 * gap
    max_t = max([len("claim or check"), *map(len, titles)])
    max_f = max([len("key figure"), *map(len, figures)])
    if max_t + max_f > rest:  # first drop the names of the figures that do not fit
        f_w = max(rest - max_t, len("key figure"))
        for i, fig in enumerate(figs):
            if len(figures[i]) > f_w and fig:
                figures[i] = format_figure({**fig, "name": ""}, ascii_only=True)
        max_f = max([len("key figure"), *map(len, figures)])
    if max_t + max_f <= rest:
        t_w, f_w = max_t, max_f
    else:  # then the end of long ids: the numbers matter more
        f_w = min(max_f, rest - min(max_t, 16))
        t_w = rest - f_w
    sp = " " * gap

    def row(t: str, v: str, f: str, r: str) -> str:
        return (
            f"{_truncate(t, t_w):<{t_w}}{sp}{v:<{v_w}}{sp}{_truncate(f, f_w):<{f_w}}{sp}{r:>{r_w}}"
        ).rstrip()

    out.append((row("claim or check", "verdict", "key figure", "rounds"), {"bold": True}))
    out.append(("-" * width, {}))
    for rec, t, v, f in zip(results, titles, verdicts, figures, strict=True):
        rounds = record_rounds(rec)
        out.append((row(t, v, f, "-" if rounds is None else str(rounds)), _markup(rec)))
    out.append(("-" * width, {}))
    differing = [r for r in results if mismatch(r)]
    if differing:
        out.append(("! differs from the verdict expected on this runtime:", {"red": True}))
        for rec in differing:
            failed = f" (test {rec.get('outcome')})" if rec.get("outcome") else ""
            out.append(
                (
                    _truncate(
                        f"  {record_title(rec)}: measured {rec.get('verdict')}, expected "
                        f"{rec.get('expected')}{failed}",
                        width,
                    ),
                    {"red": True},
                )
            )
    counts = html_report._counts_text(results)
    session = doc.get("session") if isinstance(doc.get("session"), Mapping) else {}
    assert isinstance(session, Mapping)
    tail = f"{counts} in {len({r.get('nodeid') for r in results})} tests"
    if session.get("interrupted"):
        tail += " (interrupted: partial results)"
    lost = session.get("records_lost")
    out.extend((line, {"bold": True}) for line in _wrap_parts([tail], width))
    if lost:
        out.append((_truncate(f"records lost from xdist workers: {lost}", width), {"red": True}))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_gil report``: see :func:`pytest_gil.matrix.main`."""
    from .matrix import main as matrix_main

    return matrix_main(argv)
