""":class:`BaselinePlugin`: saved runs and the comparison with a baseline, in a test run.

At the end of the run, on the xdist controller (or the only process), the report document
(``pytest_gil_report`` hook) is compared with the baseline (``--gil-compare``), which adds
``document["baseline"]``, and then saved (``--gil-autosave``).  A broken ``--gil-compare-fail``
criterion sets the session's exit status to 1.  The terminal section ``pytest-gil: compared
with <file>`` follows pytest-gil's own summary.

Nothing here can lose the run's report: a baseline that cannot be read, a storage that cannot
be written or a bug of this module becomes a warning line, and the report files are written
as usual.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from . import options as baseline_options
from .compare import compare_documents, gate_failures, machine_facts
from .storage import BaselineError, capacity_of, cpu_model, git_info, load_report, save_run
from .text import comparison_lines

__all__ = ["BaselinePlugin"]


class BaselinePlugin:
    """Registered as ``"gil-baseline"`` by pytest-gil's ``pytest_configure``; validates the
    baseline options there (usage errors before any test runs)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.options = (baseline_options.BaselineOptions() if self.is_worker
                        else baseline_options.read(config))
        self.reported = False
        self.result: dict[str, Any] | None = None
        self.saved: Path | None = None
        self.notes: list[str] = []

    # -- the end of the run -------------------------------------------------------------------

    def pytest_gil_report(self, config: pytest.Config, session: pytest.Session,
                          document: dict[str, Any]) -> None:
        if self.is_worker or not self.options.active:
            return
        self.reported = True
        if self.options.compare is not None:
            try:
                self._compare(session, document)
            except Exception as exc:  # a bug here must not cost the run its report
                self.notes.append(f"could not compare with the baseline: "
                                  f"{type(exc).__name__}: {exc}")
        if self.options.autosave:
            self._autosave(document)

    def _compare(self, session: pytest.Session, document: dict[str, Any]) -> None:
        opts = self.options
        path = opts.compare_path
        if path is None:
            self.notes.append(f"--gil-compare: no saved run for {opts.machine} in "
                              f"{opts.storage} yet, nothing to compare with (save one with "
                              "--gil-autosave)")
            return
        try:
            baseline = load_report(path)
        except BaselineError as exc:
            self.notes.append(f"--gil-compare: cannot use the baseline: {exc}")
            return
        here = {**machine_facts(document), "host": platform.node() or "unknown",
                "cpu_model": cpu_model(), "capacity": capacity_of(document)}
        self.result = compare_documents(
            baseline, document, path=_display(path, self.config), criteria=opts.fail,
            alpha=opts.alpha, current_machine=here)
        document["baseline"] = self.result
        if gate_failures(self.result) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _autosave(self, document: Mapping[str, Any]) -> None:
        session = document.get("session")
        if isinstance(session, Mapping) and session.get("interrupted"):
            self.notes.append("--gil-autosave: the run was interrupted; not saved (a partial "
                              "run would become the latest baseline)")
            return
        try:
            self.saved = save_run(document, self.options.storage, self.options.machine,
                                  git_info(self.config.rootpath))
        except Exception as exc:  # unwritable storage, a stale lock: say so, keep the report
            self.notes.append(f"--gil-autosave: could not save the run in "
                              f"{self.options.storage}: {type(exc).__name__}: {exc}")

    # -- the terminal -------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)  # after pytest-gil's own summary
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int,
                                config: pytest.Config) -> None:
        if self.is_worker or not self.options.active:
            return
        tr = terminalreporter
        if not self.reported:
            tr.write_sep("=", "pytest-gil: baselines")
            tr.write_line("nothing was measured in this run: nothing compared or saved")
            return
        if self.saved is not None:
            tr.write_line(f"saved: {_display(self.saved, config)}")
        for note in self.notes:
            tr.write_line(f"pytest-gil: {note}", yellow=True, bold=True)
        if self.result is not None:
            tr.write_sep("=", f"pytest-gil: compared with {self.result['path']}")
            for line, markup in comparison_lines(self.result,
                                                 verbose=config.get_verbosity() > 0):
                tr.write_line(line, **markup)


def _display(path: Path, config: pytest.Config) -> str:
    """``path`` relative to the invocation directory when it is inside it."""
    start = Path(config.invocation_params.dir)
    try:
        return os.path.relpath(path, start) if path.is_relative_to(start) else str(path)
    except ValueError:
        return str(path)
