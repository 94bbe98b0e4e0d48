"""Saved runs on disk (:mod:`pytest_gil.baseline.storage`): the machine-id, the numbering
under a file lock (also with several processes saving at once), the git commit in the name,
atomic writes, and the errors of a file that cannot be used."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.baseline.storage import (
    BaselineError,
    GitInfo,
    capacity_of,
    git_info,
    load_report,
    machine_id,
    parse_number,
    resolve_number,
    save_run,
    saved_runs,
)

PROFILE = {"implementation": "CPython", "version": "3.13.1", "version_info": [3, 13, 1],
           "free_threaded_build": True, "gil_enabled": False, "usable_cpus": 2}
DOCUMENT: dict[str, Any] = {
    "schema": "pytest-gil-report", "schema_version": 2, "tag": "cpython-3.13t-nogil",
    "runtime": PROFILE, "runtime_label": "CPython 3.13.1 (free-threaded build, GIL off)",
    "calibration": {"gw0": {"scale 1": {"calc_n": 1},
                            "capacity 2 workers": {"value": 1.9, "low": 1.8, "high": 2.0}}},
    "session": {"interrupted": False}, "results": [],
}
MACHINE = "Linux-CPython-3.13t-64bit"


def test_the_machine_id_names_system_implementation_version_build_and_bits() -> None:
    got = machine_id(PROFILE)
    assert re.fullmatch(r"[A-Za-z]+-CPython-3\.13t-(32|64)bit", got), got
    assert got.startswith(platform.system())
    gil = machine_id({**PROFILE, "free_threaded_build": False, "version_info": [3, 11, 7]})
    assert "-CPython-3.11-" in gil
    assert machine_id({**PROFILE, "injected": True}).endswith("-injected")


def test_runs_are_numbered_per_machine_id_and_hold_the_document_and_saved(
    tmp_path: Path,
) -> None:
    first = save_run(DOCUMENT, tmp_path, MACHINE, GitInfo())
    second = save_run(DOCUMENT, tmp_path, MACHINE, GitInfo("1a2b3c4", "main", True))
    other = save_run(DOCUMENT, tmp_path, "Linux-CPython-3.11-64bit", GitInfo())
    assert first == tmp_path / MACHINE / "0001_nocommit.json"
    assert second == tmp_path / MACHINE / "0002_1a2b3c4-dirty.json"
    assert other.name == "0001_nocommit.json"
    data = json.loads(second.read_text())
    assert {k: data[k] for k in DOCUMENT} == DOCUMENT
    saved = data["saved"]
    assert (saved["commit"], saved["branch"], saved["dirty"], saved["number"]) == (
        "1a2b3c4", "main", True, 2)
    assert saved["machine_id"] == MACHINE and saved["usable_cpus"] == 2
    assert saved["capacity"] == {"2": {"value": 1.9, "low": 1.8, "high": 2.0}}
    assert saved["interpreter"] == {"label": DOCUMENT["runtime_label"],
                                    "tag": "cpython-3.13t-nogil"}
    assert saved["host"] and saved["cpu_model"] and saved["created"].endswith("+00:00")
    leftovers = [p.name for p in (tmp_path / MACHINE).iterdir()
                 if p.name.endswith(".tmp")]
    assert leftovers == []


def test_the_next_number_follows_the_highest_one_not_the_count(tmp_path: Path) -> None:
    directory = tmp_path / MACHINE
    directory.mkdir()
    (directory / "0007_abc.json").write_text("{}")
    (directory / "notes.txt").write_text("not a run")
    assert save_run(DOCUMENT, tmp_path, MACHINE, GitInfo()).name == "0008_nocommit.json"
    assert [r.number for r in saved_runs(directory)] == [7, 8]


def _save_many(storage: str, count: int) -> list[str]:
    return [save_run(DOCUMENT, Path(storage), MACHINE, GitInfo()).name for _ in range(count)]


def test_processes_saving_at_once_never_take_the_same_number(tmp_path: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the fork start method to run a test function in workers")
    workers, each = 4, 5
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        names = [n for part in pool.map(_save_many, [str(tmp_path)] * workers, [each] * workers)
                 for n in part]
    assert sorted(names) == [f"{i:04d}_nocommit.json" for i in range(1, workers * each + 1)]
    for path in (tmp_path / MACHINE).glob("*.json"):
        json.loads(path.read_text())  # every file complete


def test_a_save_that_cannot_write_raises_and_keeps_the_files_there(tmp_path: Path) -> None:
    first = save_run(DOCUMENT, tmp_path, MACHINE, GitInfo())
    before = first.read_bytes()
    (tmp_path / "blocked").write_text("a file where the machine directory should be")
    with pytest.raises(OSError):
        save_run(DOCUMENT, tmp_path / "blocked", MACHINE, GitInfo())
    assert first.read_bytes() == before


def test_run_numbers_are_read_with_or_without_zeros_and_a_missing_one_lists_the_others(
    tmp_path: Path,
) -> None:
    assert (parse_number("0003"), parse_number("3"), parse_number("x.json")) == (3, 3, None)
    save_run(DOCUMENT, tmp_path, MACHINE, GitInfo())
    save_run(DOCUMENT, tmp_path, MACHINE, GitInfo())
    assert resolve_number(tmp_path / MACHINE, 2).name == "0002_nocommit.json"
    with pytest.raises(BaselineError) as info:
        resolve_number(tmp_path / MACHINE, 7)
    assert str(info.value) == (f"no saved run 0007 in {tmp_path / MACHINE} "
                               "(saved runs: 0001, 0002)")


def test_the_capacity_is_the_reports_own_else_the_first_process_that_measured_it() -> None:
    calibration = {"main": {"scale 1": {}},
                   "gw1": {"capacity 4 workers": {"value": 3.5}},
                   "gw0": {"capacity 4 workers": {"value": 3.9}}}
    assert capacity_of({"calibration": calibration}) == {"4": {"value": 3.5}}
    top = {"4": {"workers": 4, "value": 3.7, "process": "gw0"}}
    assert capacity_of({"capacity": top, "calibration": calibration}) == top
    assert capacity_of({"capacity": {}, "calibration": None}) == {}


# --------------------------------------------------------------------------------------------
# git


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_commit_is_the_short_hash_dirty_when_tracked_files_changed(tmp_path: Path) -> None:
    assert git_info(tmp_path) == GitInfo()  # outside git
    assert GitInfo().label == "nocommit"
    _git(tmp_path, "init", "-q", "-b", "trunk")
    (tmp_path / "lib.py").write_text("x = 1\n")
    _git(tmp_path, "add", "lib.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, text=True,
                          capture_output=True, check=True).stdout.strip()
    (tmp_path / ".gil").mkdir()
    (tmp_path / ".gil" / "untracked.json").write_text("{}")  # untracked: still clean
    assert git_info(tmp_path) == GitInfo(head, "trunk", False)
    (tmp_path / "lib.py").write_text("x = 2\n")
    info = git_info(tmp_path)
    assert (info.label, info.dirty) == (f"{head}-dirty", True)


# --------------------------------------------------------------------------------------------
# reading a report


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_report_of_schema_1_or_2_is_read(tmp_path: Path) -> None:
    for version in (1, 2):
        path = _write(tmp_path / f"v{version}.json",
                      json.dumps({**DOCUMENT, "schema_version": version}))
        assert load_report(path)["schema_version"] == version


@pytest.mark.parametrize(("content", "message"), [
    (None, "{path}: no such file"),
    ("", "{path}: not valid JSON (truncated or corrupt?)"),
    ('{"schema": "pytest-gil-report", "schema_version": 2, "resu',
     "{path}: not valid JSON (truncated or corrupt?)"),
    ("[1, 2]", '{path}: not a pytest-gil report (no "schema": "pytest-gil-report")'),
    ('{"machine_info": {}, "benchmarks": []}',
     '{path}: not a pytest-gil report (no "schema": "pytest-gil-report")'),
    ('{"schema": "pytest-gil-report", "schema_version": 3, "results": []}',
     "{path}: report schema_version 3; this pytest-gil compares schema 1 or 2"),
    ('{"schema": "pytest-gil-report", "schema_version": true, "results": []}',
     "{path}: no integer schema_version"),
    ('{"schema": "pytest-gil-report", "schema_version": 2}', '{path}: no "results" list'),
])
def test_a_file_that_cannot_be_used_is_named_with_the_cause(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        _write(path, content)
    with pytest.raises(BaselineError) as info:
        load_report(path)
    assert str(info.value).startswith(message.format(path=path))
    assert "\n" not in str(info.value)


def test_a_directory_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="is a directory, not a report file"):
        load_report(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permissions do not stop root")
def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", json.dumps(DOCUMENT))
    path.chmod(0)
    with pytest.raises(BaselineError, match="cannot read it"):
        load_report(path)
