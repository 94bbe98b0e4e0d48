"""Saved runs: ``<storage>/<machine-id>/<NNNN>_<commit>.json``.

* ``<machine-id>`` names the machine and interpreter, in the spirit of pytest-benchmark:
  ``<system>-<implementation>-<major.minor>[t]-<bits>bit`` (``Linux-CPython-3.13t-64bit``);
  ``t`` marks a free-threaded build, and a run with an injected profile
  (``PYTEST_GIL_PROFILE``) gets ``-injected`` appended so it never becomes a real baseline.
* ``<NNNN>`` counts up per machine-id (1 + the highest number there), taken under a
  :class:`filelock.FileLock` in that directory so two runs saving at once never take the same
  number; the file is written through a temporary file and ``os.replace``.
* ``<commit>`` is the short git hash of the rootdir's checkout, with ``-dirty`` when tracked
  files have changes, or ``nocommit`` outside git.

A saved file is the run's whole report document (``docs/REPORT_SCHEMA.md``, raw rounds
included) plus a top-level ``"saved"`` object (:func:`saved_info`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import struct
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..report.files import ReportFileError, read_report, write_atomic

__all__ = [
    "BaselineError",
    "GitInfo",
    "SavedRun",
    "capacity_of",
    "cpu_model",
    "git_info",
    "load_report",
    "machine_id",
    "parse_number",
    "resolve_number",
    "save_run",
    "saved_info",
    "saved_runs",
]

READABLE_SCHEMA_VERSIONS = (1, 2)
"""Report schemas a comparison reads: schema 1 (older runs) and schema 2."""

GIT_TIMEOUT = 10.0
"""Seconds a git command may take before the commit is recorded as unknown (a hung network
filesystem must not hang the end of a test run)."""

LOCK_TIMEOUT = 60.0
"""Seconds to wait for another run saving into the same directory; saving a file takes
milliseconds, so a longer wait means a stale lock held by a hung process."""

NUMBER_WIDTH = 4
"""Digits of the run number in a file name (``0001``); more runs simply widen it."""

_NAME = re.compile(r"^(?P<number>\d+)_(?P<commit>[^/\\]+)\.json$")


class BaselineError(Exception):
    """A saved run or report that cannot be used (the message names the file and why)."""


@dataclass(frozen=True)
class GitInfo:
    """The checkout a run was made from: ``commit`` (short hash) is ``None`` outside git."""

    commit: str | None = None
    branch: str | None = None
    dirty: bool = False

    @property
    def label(self) -> str:
        """The ``<commit>`` part of a file name: ``1a2b3c4``, ``1a2b3c4-dirty``, ``nocommit``."""
        if self.commit is None:
            return "nocommit"
        return f"{self.commit}-dirty" if self.dirty else self.commit


@dataclass(frozen=True)
class SavedRun:
    """A file of the storage: its ``number`` and ``path``."""

    number: int
    path: Path


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_info(directory: Path) -> GitInfo:
    """The git checkout of ``directory``: short commit, branch (``None`` when detached) and
    whether tracked files changed (untracked ones — the storage itself — do not count).
    ``GitInfo()`` outside git or without git."""
    commit = _git(["rev-parse", "--short", "HEAD"], directory)
    if not commit:
        return GitInfo()
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], directory)
    status = _git(["status", "--porcelain", "--untracked-files=no"], directory)
    return GitInfo(commit, None if branch in (None, "HEAD") else branch, bool(status))


def machine_id(profile: Mapping[str, Any]) -> str:
    """``<system>-<implementation>-<major.minor>[t]-<bits>bit`` for a runtime profile
    (``RuntimeProfile.to_dict()`` or a report's ``runtime``), e.g.
    ``Linux-CPython-3.13t-64bit``; ``-injected`` is appended for an injected profile."""
    version = profile.get("version_info")
    if isinstance(version, (list, tuple)) and len(version) >= 2:
        pair = f"{version[0]}.{version[1]}"
    else:
        m = re.match(r"(\d+)\.(\d+)", str(profile.get("version") or ""))
        pair = f"{m.group(1)}.{m.group(2)}" if m else "unknown"
    t = "t" if profile.get("free_threaded_build") else ""
    impl = str(profile.get("implementation") or platform.python_implementation())
    bits = struct.calcsize("P") * 8
    name = f"{platform.system() or 'unknown'}-{impl}-{pair}{t}-{bits}bit"
    if profile.get("injected"):
        name += "-injected"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def capacity_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The delivered capacity per worker count of a report, e.g. ``{"2": {"value": 1.93,
    "low": …}}``: its top-level ``capacity`` when it has one, else the ``capacity N workers``
    entries of its ``calibration`` (the first process that measured each); ``{}`` if none."""
    top = document.get("capacity")
    if isinstance(top, Mapping) and top:
        return {str(k): dict(v) for k, v in top.items() if isinstance(v, Mapping)}
    out: dict[str, Any] = {}
    calibration = document.get("calibration")
    if not isinstance(calibration, Mapping):
        return out
    for data in calibration.values():
        if not isinstance(data, Mapping):
            continue
        for key, estimate in data.items():
            m = re.fullmatch(r"capacity (\d+) workers", str(key))
            if m and isinstance(estimate, Mapping):
                out.setdefault(m.group(1), dict(estimate))
    return out


def saved_info(document: Mapping[str, Any], git: GitInfo, machine: str,
               number: int) -> dict[str, Any]:
    """The ``"saved"`` object of a saved run: where and from what it was made."""
    runtime = document.get("runtime") if isinstance(document.get("runtime"), Mapping) else {}
    assert isinstance(runtime, Mapping)
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {
        "commit": git.commit,
        "branch": git.branch,
        "dirty": git.dirty,
        "created": created,
        "host": platform.node() or "unknown",
        "cpu_model": cpu_model(),
        "usable_cpus": runtime.get("usable_cpus"),
        "capacity": capacity_of(document),
        "interpreter": {"label": str(document.get("runtime_label") or ""),
                        "tag": str(document.get("tag") or "")},
        "machine_id": machine,
        "number": number,
    }


def parse_number(text: str) -> int | None:
    """``"0003"`` or ``"3"`` → 3; ``None`` for anything that is not a run number."""
    t = text.strip()
    return int(t) if t.isdigit() else None


def saved_runs(directory: Path) -> list[SavedRun]:
    """The saved runs of one machine-id directory, by number (none if it does not exist)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    runs = []
    for name in names:
        m = _NAME.match(name)
        if m:
            runs.append(SavedRun(int(m.group("number")), directory / name))
    return sorted(runs, key=lambda r: (r.number, r.path.name))


def resolve_number(directory: Path, number: int) -> Path:
    """The saved run ``number`` of ``directory``; :class:`BaselineError` naming the numbers
    there when it does not exist."""
    runs = saved_runs(directory)
    for run in runs:
        if run.number == number:
            return run.path
    have = ", ".join(f"{r.number:0{NUMBER_WIDTH}d}" for r in runs) or "none"
    raise BaselineError(
        f"no saved run {number:0{NUMBER_WIDTH}d} in {directory} (saved runs: {have})")


def save_run(document: Mapping[str, Any], storage: Path, machine: str,
             git: GitInfo) -> Path:
    """Save ``document`` as the next run of ``storage/machine``; returns the file written.
    Raises ``OSError`` (unwritable storage) or ``filelock.Timeout``; never leaves a partial
    file, and never touches the files already there."""
    from filelock import FileLock

    directory = storage / machine
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / ".lock"), timeout=LOCK_TIMEOUT):
        runs = saved_runs(directory)
        number = (runs[-1].number if runs else 0) + 1
        path = directory / f"{number:0{NUMBER_WIDTH}d}_{git.label}.json"
        doc = {**document, "saved": saved_info(document, git, machine, number)}
        text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        write_atomic(path, text)
    return path


def load_report(path: Path) -> dict[str, Any]:
    """A pytest-gil report (schema 1 or 2; a saved run or a ``--gil-report`` file) read from
    ``path``; :class:`BaselineError` with one line naming the file and the cause otherwise."""
    try:
        doc = read_report(path)
    except ReportFileError as exc:
        raise BaselineError(f"{path}: {exc}") from None
    version = doc["schema_version"]
    if version not in READABLE_SCHEMA_VERSIONS:
        readable = " or ".join(map(str, READABLE_SCHEMA_VERSIONS))
        raise BaselineError(
            f"{path}: report schema_version {version!r}; this pytest-gil compares "
            f"schema {readable}")
    return doc
