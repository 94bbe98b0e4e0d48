"""The GitHub Actions template for users (``docs/ci/github-actions.yml``): its matrix, its
steps, and its commands run here on a small sample project — the test command on each
interpreter that can run pytest-gil, then the matrix and summary commands on the reports."""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")  # the "test" extra installs PyYAML

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "ci" / "github-actions.yml"
VERSIONS = {"3.10", "3.11", "3.12", "3.13", "3.14", "3.13t", "3.14t"}
LINUX = "ubuntu-latest"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def steps(job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(job.get("steps") or [])


def step_running(job: Mapping[str, Any], text: str) -> Mapping[str, Any]:
    [step] = [s for s in steps(job) if text in str(s.get("run", ""))]
    return step


def step_using(job: Mapping[str, Any], action: str) -> list[Mapping[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(f"{action}@")]


def entries(job: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(os, python-version) of every matrix entry."""
    m = job["strategy"]["matrix"]
    out = [(o, v) for o in m.get("os", []) for v in m.get("python-version", [])]
    out += [(e["os"], e["python-version"]) for e in m.get("include", [])]
    return out


# --------------------------------------------------------------------------------------------
# the file


def test_the_linux_matrix_covers_every_cpython_and_free_threaded_build(
        workflow: dict[str, Any]) -> None:
    matrix = entries(workflow["jobs"]["test"])
    versions = [v for o, v in matrix if o == LINUX]
    # Quoted strings: an unquoted 3.10 is the float 3.1 in YAML.
    assert all(isinstance(v, str) for _, v in matrix)
    assert set(versions) == VERSIONS and len(versions) == len(VERSIONS)
    others = {o for o, _ in matrix if o != LINUX}
    assert others == {"macos-latest", "windows-latest"}
    assert not workflow["jobs"]["test"]["strategy"]["fail-fast"]


def test_setup_python_installs_the_matrix_version(workflow: dict[str, Any]) -> None:
    [setup] = step_using(workflow["jobs"]["test"], "actions/setup-python")
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    major = int(str(setup["uses"]).split("@v")[1].split(".")[0])
    assert major >= 5  # 5.5+ understands the "t" suffix


def test_python_gil_is_set_nowhere(workflow: dict[str, Any]) -> None:
    def no_gil_env(node: Any) -> None:
        if isinstance(node, Mapping):
            env = node.get("env")
            assert not (isinstance(env, Mapping) and "PYTHON_GIL" in env), node
            for value in node.values():
                no_gil_env(value)
        elif isinstance(node, list):
            for value in node:
                no_gil_env(value)

    no_gil_env(workflow)
    for job in workflow["jobs"].values():
        for s in steps(job):
            assert "PYTHON_GIL" not in str(s.get("run", ""))


def test_each_test_job_writes_and_uploads_its_report_under_a_unique_name(
        workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["test"]
    test = step_running(job, "--gil-report")
    assert shlex.split(test["run"]) == ["python", "-m", "pytest", "--gil-report", "gil-reports"]
    [upload] = step_using(job, "actions/upload-artifact")
    assert upload["with"]["path"] == "gil-reports/gil-*.json"
    name = upload["with"]["name"]
    assert "${{ matrix.os }}" in name and "${{ matrix.python-version }}" in name
    assert "!cancelled()" in upload["if"]  # uploaded when tests failed too
    assert steps(job).index(upload) > steps(job).index(test)


def test_the_matrix_job_follows_the_tests_and_fills_the_summary(
        workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["matrix"]
    needs = job["needs"]
    assert (needs == "test") or ("test" in needs)
    assert "!cancelled()" in job["if"]
    [download] = step_using(job, "actions/download-artifact")
    # The Linux reports, one per runtime (macOS and Windows repeat a runtime's tag).
    upload = step_using(workflow["jobs"]["test"], "actions/upload-artifact")[0]["with"]["name"]
    for os_name, version in entries(workflow["jobs"]["test"]):
        name = upload.replace("${{ matrix.os }}", os_name).replace(
            "${{ matrix.python-version }}", version)
        assert fnmatch.fnmatchcase(name, download["with"]["pattern"]) == (os_name == LINUX)
    assert download["with"]["merge-multiple"] is True
    report = step_running(job, "pytest_gil report")
    assert shlex.split(report["run"]) == ["python", "-m", "pytest_gil", "report", "gil-*.json",
                                          "-o", "matrix"]
    assert report["working-directory"] == download["with"]["path"]
    summary = step_running(job, "GITHUB_STEP_SUMMARY")
    assert "matrix/matrix.md" in summary["run"] and ">>" in summary["run"]
    order = steps(job)
    assert order.index(download) < order.index(report) < order.index(summary)


def test_every_step_is_explained_by_a_comment() -> None:
    lines = [x.strip() for x in WORKFLOW.read_text(encoding="utf-8").splitlines()]
    starts = [i for i, x in enumerate(lines) if x.startswith(("- uses:", "- name:"))]
    assert len(starts) >= 10
    for i in starts:
        above = next(x for x in reversed(lines[:i]) if x)
        assert above.startswith("#"), f"no comment above {lines[i]!r}"


# --------------------------------------------------------------------------------------------
# the commands, run here


SAMPLE_CONFTEST = """
    import pytest_gil

    def pytest_gil_claims(config):
        return [
            pytest_gil.Claim(
                "sample.threads-share-a-list",
                "threads of one process append to the same list",
                expected="confirmed",
                measured="two threads append to a list, the list has both items",
            ),
        ]
"""

SAMPLE_TESTS = """
    import threading
    import time

    import pytest
    from pytest_gil import measure_overlap


    @pytest.mark.claim("sample.threads-share-a-list")
    def test_threads_share_a_list(gil_claim):
        items = []
        threads = [threading.Thread(target=items.append, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        gil_claim.functional(sorted(items) == [0, 1], f"the list holds {items}")


    def test_sleeping_threads_overlap():
        result = measure_overlap(time.sleep, 0.01, tasks=2, budget=5)
        assert result.verdicts["overlaps"] in ("confirmed", "inconclusive"), str(result)
"""

NEEDED = "import pytest, scipy, psutil, filelock, pytest_timeout, pytest_gil"


def _pyenv_interpreters() -> Iterator[str]:
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    try:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return
    for path in sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3.1*"))):
        if re.fullmatch(r"python3\.1\d+t?", os.path.basename(path)) and os.access(path,
                                                                                 os.X_OK):
            yield path


def interpreters() -> list[tuple[str, dict[str, str]]]:
    """``sys.executable``, and each pyenv CPython 3.10+ that already has pytest-gil's
    dependencies (nothing is installed: the source tree goes on ``PYTHONPATH``)."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    found = [(sys.executable, base)]
    seen = {os.path.realpath(sys.executable)}
    with_source = {**base, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), base.get("PYTHONPATH", "")) if p)}
    for py in _pyenv_interpreters():
        real = os.path.realpath(py)
        if real in seen:
            continue
        seen.add(real)
        ok = subprocess.run([py, "-c", NEEDED], capture_output=True, env=with_source,
                            timeout=120).returncode == 0
        if ok:
            found.append((py, with_source))
    return found


def run_step(command: str, *, python: str, cwd: Path, env: Mapping[str, str]
             ) -> subprocess.CompletedProcess[str]:
    """A step's ``python ...`` command with ``python`` the interpreter given and its globs
    expanded (as bash would, in ``cwd``)."""
    argv = shlex.split(command)
    assert argv[0] == "python", command
    expanded: list[str] = [python]
    for arg in argv[1:]:
        matches = sorted(glob.glob(arg, root_dir=cwd)) if any(c in arg for c in "*?[") else []
        expanded += matches or [arg]
    return subprocess.run(expanded, cwd=cwd, env=dict(env), capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_the_workflow_commands_run_on_a_sample_project(pytester: pytest.Pytester,
                                                       workflow: dict[str, Any]) -> None:
    pytester.makeconftest(SAMPLE_CONFTEST)
    pytester.makepyfile(test_sample=SAMPLE_TESTS)
    test_job, matrix_job = workflow["jobs"]["test"], workflow["jobs"]["matrix"]
    test_cmd = step_running(test_job, "--gil-report")["run"]
    upload_glob = step_using(test_job, "actions/upload-artifact")[0]["with"]["path"]
    download = step_using(matrix_job, "actions/download-artifact")[0]["with"]
    report = step_running(matrix_job, "pytest_gil report")
    summary_cmd = step_running(matrix_job, "GITHUB_STEP_SUMMARY")["run"]

    tags = []
    downloads = pytester.path / "downloads" / download["path"]
    downloads.mkdir(parents=True)
    for python, env in interpreters():
        proc = run_step(test_cmd, python=python, cwd=pytester.path, env=env)
        assert proc.returncode == 0, f"{python}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        produced = sorted(pytester.path.glob(upload_glob))
        assert produced, f"{python} wrote no {upload_glob}"
        for path in produced:  # the artifacts, downloaded and merged into one directory
            shutil.copy(path, downloads / path.name)
            tags.append(path.stem)

    proc = run_step(report["run"], python=sys.executable, cwd=downloads,
                    env={k: v for k, v in os.environ.items() if k != "PYTHON_GIL"})
    assert proc.returncode == 0, proc.stderr
    matrix_md = downloads / "matrix" / "matrix.md"
    assert matrix_md.exists() and (downloads / "matrix" / "matrix.html").exists()
    text = matrix_md.read_text(encoding="utf-8")
    assert "sample.threads-share-a-list" in text

    summary = pytester.path / "step-summary.md"
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to run the summary step")
    done = subprocess.run([bash, "-c", summary_cmd], cwd=downloads.parent, capture_output=True,
                          text=True, env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stderr
    assert summary.read_text(encoding="utf-8") == text
    assert len(set(tags)) == len(tags)  # one report per runtime, no name collides
