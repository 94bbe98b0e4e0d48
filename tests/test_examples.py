"""The example project of docs/USING.md, run as its own pytest session, and the page itself.

* The code blocks of ``docs/USING.md`` are copies of parts of ``examples/``: each is preceded
  by ``<!-- snippet: PATH[:REGION] -->`` and must equal that file (or the part between its
  ``# --8<-- [start:REGION]`` / ``# --8<-- [end:REGION]`` lines).
* ``examples/extension_project`` passes on this interpreter (inconclusive measurements skip).
* With an injected free-threaded profile, the one test whose expectation depends on the runtime
  expects scaling; on this GIL build the measurement contradicts it, so exactly that test fails,
  saying "parallel refuted", and the others are unaffected.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "USING.md"
PROJECT = REPO / "examples" / "extension_project"
BY_RUNTIME = "test_fletcher16_threads_scale_only_without_the_gil"
CLAIM_BY_RUNTIME = "test_fletcher16_takes_turns_claim"  # its catalogue's expectation flips
FREE_THREADED = '{"free_threaded_build": true, "gil_enabled": false}'

SNIPPET = re.compile(r"<!-- snippet: (?P<path>[^:\s]+)(?::(?P<region>[\w-]+))? -->\n"
                     r"```(?P<lang>\w*)\n(?P<code>.*?)```", re.S)
FENCE = re.compile(r"^```(\w*)$", re.M)
MARKER = re.compile(r"^\s*# --8<-- \[(start|end):([\w-]+)\]\s*$")


def region(path: Path, name: str | None) -> str:
    """The text of ``path`` between the markers of region ``name`` (the whole file without
    marker lines when ``name`` is None)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if name is None:
        return "".join(ln for ln in lines if not MARKER.match(ln))
    out: list[str] = []
    inside = False
    for ln in lines:
        m = MARKER.match(ln)
        if m and m.group(2) == name:
            if m.group(1) == "start":
                inside = True
                continue
            return "".join(out)
        if inside and not m:
            out.append(ln)
    raise AssertionError(f"{path}: no region {name!r} (or it is not closed)")


# --------------------------------------------------------------------------------------------
# the page and the files agree


def test_every_snippet_of_the_guide_is_a_copy_of_its_example_file() -> None:
    text = DOC.read_text(encoding="utf-8")
    snippets = list(SNIPPET.finditer(text))
    assert len(snippets) >= 6
    for m in snippets:
        path = REPO / m.group("path")
        assert path.is_file(), f"docs/USING.md names {m.group('path')}, which does not exist"
        expected = region(path, m.group("region"))
        where = m.group("path") + (f":{m.group('region')}" if m.group("region") else "")
        assert m.group("code") == expected, (
            f"docs/USING.md differs from {where}: copy the file's text into the page"
        )


def test_every_python_block_of_the_guide_comes_from_a_tested_file() -> None:
    text = DOC.read_text(encoding="utf-8")
    covered = {m.start("lang") - 3 for m in SNIPPET.finditer(text)}
    opening = [m for i, m in enumerate(FENCE.finditer(text)) if i % 2 == 0]
    untested = [text.count("\n", 0, m.start()) + 1 for m in opening
                if m.group(1) in ("python", "py", "toml") and m.start() not in covered]
    assert not untested, (
        f"docs/USING.md has code blocks at lines {untested} that no file of examples/ holds"
    )


def test_the_example_files_are_valid_python() -> None:
    for path in PROJECT.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


# --------------------------------------------------------------------------------------------
# the example project, run as its own session


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under xdist, the inner sessions must not believe they are xdist workers."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


def _copy_project(pytester: pytest.Pytester) -> None:
    shutil.copytree(PROJECT, pytester.path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "reports"))


def _outcomes_by_test(result: pytest.RunResult) -> dict[str, str]:
    """Test name → outcome, from the ``-rA`` short summary."""
    out: dict[str, str] = {}
    pattern = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) \S*::(\w+)")
    for line in result.outlines:
        m = pattern.match(line)
        if m:
            out[m.group(2)] = m.group(1)
    skipped = re.compile(r"^SKIPPED \[\d+\] (\S+?):(\d+): (.*)$")
    for line in result.outlines:
        m = skipped.match(line)
        if m:
            out.setdefault(f"skipped at {m.group(1)}:{m.group(2)}", "SKIPPED: " + m.group(3))
    return out


ACCEPTABLE_SKIPS = ("undecided: ", "inconclusive: ", "not testable: ")


# cpu_bound: the outer run treats the tests that measure in an inner session as measuring
# tests, so under xdist they run alone (the run's quiet lock: the other worker waits; the
# inner sessions have locks of their own); an explicit timeout replaces the
# default one given to measuring tests, since an inner session makes many measurements.


@pytest.mark.slow
@pytest.mark.cpu_bound
@pytest.mark.timeout(900)
def test_the_example_project_passes_on_this_interpreter(pytester: pytest.Pytester) -> None:
    _copy_project(pytester)
    result = pytester.runpytest_subprocess("-rA", "-p", "no:randomly", "--gil-report",
                                           "reports", timeout=600)
    outcomes = _outcomes_by_test(result)
    failed = {k: v for k, v in outcomes.items() if v in ("FAILED", "ERROR")}
    assert not failed, "\n".join(result.outlines[-60:])
    # Deterministic tests (no timing) always pass; measurements pass or skip as inconclusive.
    for name in ("test_digest_gives_one_answer_in_threads",
                 "test_digest_runs_in_worker_processes", "test_crc32_in_every_executor"):
        assert outcomes.get(name) == "PASSED", outcomes
    for what, outcome in outcomes.items():
        if outcome.startswith("SKIPPED"):
            reason = outcome.removeprefix("SKIPPED: ")
            assert reason.startswith(ACCEPTABLE_SKIPS), f"{what}: {reason}"
    assert result.ret == 0
    # The project's claims and checks are recorded: read the report as the guide shows.
    reports = sorted((pytester.path / "reports").glob("gil-*.json"))
    assert len(reports) == 1, sorted(p.name for p in (pytester.path / "reports").iterdir())
    proc = subprocess.run([sys.executable, str(pytester.path / "read_report.py"),
                           *map(str, reports)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(reports[0].read_text(encoding="utf-8"))
    assert proc.stdout.splitlines()[0].startswith(doc["runtime_label"])
    assert len(proc.stdout.splitlines()) == 1 + len(doc["results"])
    claims = {r["claim"] for r in doc["results"] if r.get("claim")}
    assert claims == {"checksums.digest-releases-gil", "checksums.fletcher16-takes-turns"}


def _run_injected(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                  *args: str) -> pytest.RunResult:
    monkeypatch.setenv("PYTEST_GIL_PROFILE", FREE_THREADED)
    try:
        return pytester.runpytest_subprocess("-rA", "-p", "no:randomly", *args, timeout=600)
    finally:
        monkeypatch.delenv("PYTEST_GIL_PROFILE")


@pytest.mark.slow
@pytest.mark.cpu_bound
@pytest.mark.timeout(900)
def test_an_injected_free_threaded_profile_flips_exactly_the_runtime_dependent_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_project(pytester)
    result = _run_injected(pytester, monkeypatch)
    outcomes = _outcomes_by_test(result)
    others = {k: v for k, v in outcomes.items()
              if k not in (BY_RUNTIME, CLAIM_BY_RUNTIME) and v in ("FAILED", "ERROR")}
    assert not others, "only the runtime-dependent tests may change:\n" + "\n".join(
        result.outlines[-60:])
    # The claim whose expectation flips fails too when its measurement decided (or skips,
    # inconclusive, on a busy machine) — never passes: threads here still take turns.
    claim = outcomes.get(CLAIM_BY_RUNTIME, "")
    assert claim == "FAILED" or claim.startswith("SKIPPED: inconclusive"), claim
    if claim == "FAILED":
        result.stdout.fnmatch_lines(["*claim checksums.fletcher16-takes-turns: expected refuted"
                                     "*measured confirmed*"])
    # On this GIL build the measurement says "serialized" whatever the profile says; with the
    # profile's expectation flipped to "scales", the test must fail and say why.  A machine too
    # busy to decide makes it inconclusive (skipped): measure that one test again.
    for attempt in range(3):
        if outcomes.get(BY_RUNTIME) == "FAILED" or attempt == 2:
            break
        result = _run_injected(pytester, monkeypatch, "-k", BY_RUNTIME)
        outcomes = _outcomes_by_test(result)
    if outcomes.get(BY_RUNTIME) != "FAILED":
        skips = [v for v in outcomes.values()
                 if v.startswith(("SKIPPED: inconclusive", "SKIPPED: not testable"))]
        if skips:
            pytest.skip(f"the machine was too busy to decide three times: {skips[0]}")
    assert outcomes.get(BY_RUNTIME) == "FAILED", "\n".join(result.outlines[-60:])
    result.stdout.fnmatch_lines([
        f"*_ {BY_RUNTIME} _*",
        "pytest-gil: 2 threads × fletcher16_job: speedup *"
        "→ parallel refuted* · CPython * (free-threaded build, GIL off, injected) · * usable CPUs",
    ])
    assert result.ret == 1
