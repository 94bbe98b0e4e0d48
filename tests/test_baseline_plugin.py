"""Baselines end to end, as a user runs them: ``--gil-autosave`` twice gives ``0001_…`` and
``0002_…``; ``--gil-compare`` finds the latest, a number or a file; ``--gil-compare-fail``
fails the run naming the check (with and without ``-n 2``); bad options stop the run with a
usage error; an unusable baseline or storage is a warning line and costs nothing else; and the
scenario of the issue: a function that stops releasing the GIL fails ``verdict``.

Every test writes a project with ``pytester`` and runs pytest in a subprocess.  The checks are
recorded with :func:`pytest_gil.measure_rounds` and a synthetic round function (cheap,
deterministic ratios), so a regression is certain; only the last test measures for real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_gil.baseline.storage import machine_id
from pytest_gil.profile import runtime_profile

SYNTHETIC = """
import math, os
import pytest_gil

LEVEL = float(os.environ.get("SYNTHETIC_SPEEDUP", "1.9"))


def test_scales():
    pytest_gil.measure_rounds(
        lambda i, flipped: {"speedup": LEVEL * (1 + 0.03 * math.sin(1.7 * i))},
        signals=["speedup"], ideal=2.0, hypothesis="parallel", label="synthetic speedup")


def test_steady():
    pytest_gil.measure_rounds(
        lambda i, flipped: {"speedup": 1.9 * (1 + 0.02 * math.cos(1.3 * i))},
        signals=["speedup"], ideal=2.0, hypothesis="parallel", label="steady speedup")
"""
XDIST = [pytest.param((), id="no-xdist"), pytest.param(("-n", "2"), id="xdist")]
MACHINE = machine_id(runtime_profile().to_dict())


def run(pytester: pytest.Pytester, *args: str, speedup: float = 1.9) -> pytest.RunResult:
    pytester.makepyfile(test_synthetic=SYNTHETIC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHETIC_SPEEDUP", str(speedup))
        result = pytester.runpytest_subprocess("-p", "no:randomly", *args)
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    return result


def saved(pytester: pytest.Pytester, storage: str = ".gil") -> list[str]:
    directory = pytester.path / storage / MACHINE
    return sorted(p.name for p in directory.glob("*.json")) if directory.is_dir() else []


def report(pytester: pytest.Pytester, directory: str = "reports") -> dict[str, Any]:
    path, = (pytester.path / directory).glob("gil-*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# --------------------------------------------------------------------------------------------
# saving


@pytest.mark.parametrize("xdist", XDIST)
def test_autosave_twice_saves_0001_and_0002(pytester: pytest.Pytester,
                                            xdist: Sequence[str]) -> None:
    first = run(pytester, "--gil-autosave", *xdist)
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines([f"saved: .gil/{MACHINE}/0001_nocommit.json"])
    run(pytester, "--gil-autosave", *xdist).stdout.fnmatch_lines(
        [f"saved: .gil/{MACHINE}/0002_nocommit.json"])
    assert saved(pytester) == ["0001_nocommit.json", "0002_nocommit.json"]
    data = json.loads((pytester.path / ".gil" / MACHINE / "0002_nocommit.json").read_text())
    assert data["schema"] == "pytest-gil-report"
    assert data["saved"]["number"] == 2 and data["saved"]["machine_id"] == MACHINE
    assert {r["nodeid"] for r in data["results"]} == {"test_synthetic.py::test_scales",
                                                     "test_synthetic.py::test_steady"}
    assert all(r["checks"][0]["raw"] for r in data["results"])  # raw rounds kept


def test_the_ini_options_save_into_their_storage(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngil_autosave = true\ngil_storage = runs\n"
                     "gil_compare_fail = verdict\n")
    result = run(pytester)  # the gate waits for a --gil-compare: no usage error
    assert result.ret == 0
    assert saved(pytester, "runs") == ["0001_nocommit.json"]
    gated = run(pytester, "--gil-compare", speedup=1.3)
    assert gated.ret == 1
    gated.stdout.fnmatch_lines(["comparison gate FAILED: 1 check breaks "
                                "--gil-compare-fail=verdict"])


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_file_name_carries_the_commit_and_dirty(pytester: pytest.Pytester) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org",
                               *args], cwd=pytester.path, check=True, capture_output=True,
                              text=True, timeout=60).stdout.strip()

    pytester.makepyfile(test_synthetic=SYNTHETIC)
    git("init", "-q")
    git("add", "test_synthetic.py")
    git("commit", "-q", "-m", "first")
    head = git("rev-parse", "--short", "HEAD")
    run(pytester, "--gil-autosave")
    (pytester.path / "test_synthetic.py").write_text(SYNTHETIC + "\n# changed\n")
    pytester.runpytest_subprocess("-p", "no:randomly", "--gil-autosave")
    assert saved(pytester) == [f"0001_{head}.json", f"0002_{head}-dirty.json"]


# --------------------------------------------------------------------------------------------
# comparing


def test_compare_without_a_value_takes_the_latest_saved_run(pytester: pytest.Pytester) -> None:
    run(pytester, "--gil-autosave")
    run(pytester, "--gil-autosave")
    result = run(pytester, "--gil-compare")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        f"*= pytest-gil: compared with .gil/{MACHINE}/0002_nocommit.json =*",
        f"baseline: run 0002 of {MACHINE}, no commit, *",
        "compared 2 checks: 0 failed the gate, 0 regressed, 0 verdict changed, 0 improved, "
        "2 unchanged (-v lists them); 0 added, 0 removed (alpha 0.01)",
    ])


@pytest.mark.parametrize("number", ["1", "0001"])
def test_compare_with_a_number_takes_that_run(pytester: pytest.Pytester, number: str) -> None:
    run(pytester, "--gil-autosave", speedup=1.3)
    run(pytester, "--gil-autosave")
    result = run(pytester, f"--gil-compare={number}", "-v")
    result.stdout.fnmatch_lines([
        f"*= pytest-gil: compared with .gil/{MACHINE}/0001_nocommit.json =*",
        "CHANGED    test_synthetic.py::test_scales [[]synthetic speedup]",
        "*verdict inconclusive -> confirmed; speedup 1.30x * -> 1.90x *: ratio 1.4*",
        "UNCHANGED  test_synthetic.py::test_steady [steady speedup]",
    ])


@pytest.mark.parametrize("xdist", XDIST)
def test_compare_with_a_report_file_and_the_baseline_in_the_report(
    pytester: pytest.Pytester, xdist: Sequence[str]
) -> None:
    run(pytester, "--gil-report=before", *xdist)
    path, = (pytester.path / "before").glob("gil-*.json")
    result = run(pytester, f"--gil-compare=before/{path.name}", "--gil-report=reports", *xdist,
                 speedup=1.3)
    result.stdout.fnmatch_lines([f"*= pytest-gil: compared with before/{path.name} =*",
                                 "baseline: a report file (not a saved run)",
                                 "REGRESSED  test_synthetic.py::test_scales*"])
    base = report(pytester)["baseline"]
    assert base["path"] == f"before/{path.name}" and base["saved"] == {}
    scales, = (c for c in base["comparisons"] if c["label"] == "synthetic speedup")
    assert scales["regression"] is True and scales["verdict_changed"] is True
    assert scales["ratio"]["value"] == pytest.approx(1.3 / 1.9, rel=0.02)


@pytest.mark.parametrize("xdist", XDIST)
def test_a_regression_beyond_the_threshold_fails_the_run_naming_the_check(
    pytester: pytest.Pytester, xdist: Sequence[str]
) -> None:
    run(pytester, "--gil-autosave", *xdist)
    result = run(pytester, "--gil-compare", "--gil-compare-fail=speedup:10%",
                 "--gil-report=reports", *xdist, speedup=1.3)
    result.assert_outcomes(passed=2)  # every test passed: the gate fails the run
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*= pytest-gil: compared with *0001_nocommit.json =*",
        "FAILED     test_synthetic.py::test_scales [synthetic speedup]",
        "*speedup 1.90x [[]*] -> 1.30x [[]*]: ratio 0.68x [[]*], p=*; breaks speedup:10%",
        "comparison gate FAILED: 1 check breaks --gil-compare-fail=speedup:10%",
    ])
    assert "test_steady [" not in result.stdout.str()
    base = report(pytester)["baseline"]
    assert base["fail"] == ["speedup:10%"]
    assert [(c["label"], c["failed"]) for c in base["comparisons"]] == [
        ("synthetic speedup", ["speedup:10%"]), ("steady speedup", [])]


def test_an_unchanged_run_passes_the_gate(pytester: pytest.Pytester) -> None:
    run(pytester, "--gil-autosave")
    result = run(pytester, "--gil-compare", "--gil-compare-fail=speedup:10%",
                 "--gil-compare-fail=verdict")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["comparison gate passed: no check breaks "
                                 "--gil-compare-fail=speedup:10%, verdict"])


def test_compare_before_anything_was_saved_says_so_and_passes(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--gil-compare", "--gil-compare-fail=verdict")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"pytest-gil: --gil-compare: no saved run for {MACHINE} in "
                                 "*.gil yet, nothing to compare with*"])


def test_a_run_that_measured_nothing_says_nothing_was_compared(pytester: pytest.Pytester
                                                               ) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--gil-autosave",
                                           "test_plain.py")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["nothing was measured in this run: nothing compared or saved"])
    assert saved(pytester) == []


# --------------------------------------------------------------------------------------------
# usage errors, before any test runs


USAGE = [
    (["--gil-compare-fail=verdict"],
     "ERROR: --gil-compare-fail without --gil-compare: nothing to compare with; add "
     "--gil-compare (the latest saved run), --gil-compare=NUM or --gil-compare=PATH"),
    (["--gil-compare-alpha=0.05"], "ERROR: --gil-compare-alpha without --gil-compare: *"),
    (["--gil-compare=7"], "ERROR: --gil-compare=7: no saved run 0007 in */.gil/"
                          f"{MACHINE} (saved runs: none)"),
    (["--gil-compare=nothere.json"],
     "ERROR: --gil-compare=nothere.json: no such file */nothere.json"),
    (["--gil-compare=test_synthetic.py"],
     "ERROR: --gil-compare=test_synthetic.py: a test file, not a report; *"),
    (["--gil-compare=."], "ERROR: --gil-compare=.: * is a directory; give a report file*"),
    (["--gil-compare", "--gil-compare-fail=fast"],
     "ERROR: invalid value 'fast' for --gil-compare-fail (command line): expected verdict, "
     "verdict:decided or NAME:PCT% (e.g. speedup:10%)"),
    (["--gil-compare", "--gil-compare-alpha=0.5"],
     "ERROR: invalid value '0.5' for --gil-compare-alpha (command line): *"),
    (["--gil-autosave", "--gil-storage=afile"],
     "ERROR: --gil-storage: */afile is a file, not a directory of saved runs"),
    (["--gil-autosave", "--gil-storage=afile/runs"],
     "ERROR: --gil-autosave: cannot create */afile/runs: */afile is a file"),
]


@pytest.mark.parametrize(("args", "message"), USAGE)
def test_a_wrong_option_is_a_usage_error_before_any_test_runs(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makefile("", afile="not a directory")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message.replace("[", "[[]")])
    assert not (pytester.path / ".gil").exists()


def test_a_usage_error_stops_an_xdist_run_too(pytester: pytest.Pytester) -> None:
    result = run(pytester, "-n", "2", "--gil-compare-fail=verdict")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --gil-compare-fail without --gil-compare*"])


# --------------------------------------------------------------------------------------------
# unusable files: a warning, the run and its report intact


@pytest.mark.parametrize(("content", "why"), [
    ('{"schema": "pytest-gil-report", "schema_version": 2, "resu', "not valid JSON"),
    ('{"machine_info": {}, "benchmarks": []}', "not a pytest-gil report"),
])
def test_an_unusable_baseline_is_a_warning_and_the_report_is_still_written(
    pytester: pytest.Pytester, content: str, why: str
) -> None:
    (pytester.path / "base.json").write_text(content)
    result = run(pytester, "--gil-compare=base.json", "--gil-compare-fail=verdict",
                 "--gil-report=reports")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"pytest-gil: --gil-compare: cannot use the baseline: "
                                 f"*base.json: {why}*"])
    assert "baseline" not in report(pytester)
    assert (pytester.path / "base.json").read_text() == content


def test_a_baseline_of_another_interpreter_is_compared_with_a_warning(
    pytester: pytest.Pytester,
) -> None:
    run(pytester, "--gil-autosave")
    path = pytester.path / ".gil" / MACHINE / "0001_nocommit.json"
    data = json.loads(path.read_text())
    data["tag"] = "cpython-3.13t-nogil"
    data["runtime_label"] = "CPython 3.13.1 (free-threaded build, GIL off)"
    (pytester.path / "other.json").write_text(json.dumps(data))
    result = run(pytester, "--gil-compare=other.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "warning: another interpreter: the baseline ran on CPython 3.13.1 (free-threaded "
        "build, GIL off), this run on CPython 3.*",
        "compared 2 checks: *",
    ])


def test_a_storage_that_cannot_be_written_at_the_end_is_a_warning(
    pytester: pytest.Pytester,
) -> None:
    run(pytester, "--gil-autosave")
    blocked = pytester.path / "blocked"
    blocked.mkdir()
    (blocked / MACHINE).write_text("a file where the machine's directory should be")
    result = run(pytester, "--gil-autosave", "--gil-storage=blocked", "--gil-report=reports")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["pytest-gil: --gil-autosave: could not save the run in "
                                 "*blocked: *"])
    assert report(pytester)["results"]
    assert saved(pytester) == ["0001_nocommit.json"]  # the other storage untouched


# --------------------------------------------------------------------------------------------
# the scenario of the issue, measured for real

RELEASING = '''
import hashlib

PAYLOAD = b"x" * 4_000_000


def digest(data=PAYLOAD):
    """SHA-256 in C: hashlib releases the GIL while it hashes more than 2 KiB."""
    return hashlib.sha256(data).hexdigest()
'''
HOLDING = '''
PAYLOAD = b"x" * 4_000_000


def digest(data=PAYLOAD):
    """A pure-Python loop: it holds the GIL all along."""
    h = 0
    for b in data[:150_000]:
        h = (h * 31 + b) & 0xFFFFFFFF
    return format(h, "08x")
'''
RELEASE_TEST = """
import mylib
import pytest_gil


def test_digest_releases_the_gil():
    pytest_gil.releases_gil(mylib.digest)   # measured and recorded; the gate decides
"""


def _release_verdict(pytester: pytest.Pytester) -> tuple[str, str]:
    result, = report(pytester)["results"]
    return str(result["verdict"]), str(result["checks"][0].get("reason") or "")


@pytest.mark.slow
def test_a_function_that_stops_releasing_the_gil_fails_the_verdict_gate(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not runtime_profile().gil_enabled:
        pytest.skip("the GIL is disabled: there is no GIL to release")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # the changed module is read afresh
    pytester.makepyfile(mylib=RELEASING, test_release=RELEASE_TEST)
    first = pytester.runpytest_subprocess("-p", "no:randomly", "--gil-autosave",
                                          "--gil-report=reports")
    assert first.ret == 0, first.stdout.str()
    verdict, reason = _release_verdict(pytester)
    assert verdict != "refuted", "sha256 over 4 MB was found to hold the GIL: " + reason
    if verdict != "confirmed":
        pytest.skip(f"the baseline run could not decide ({verdict}: {reason})")

    pytester.makepyfile(mylib=HOLDING)
    second = pytester.runpytest_subprocess("-p", "no:randomly", "--gil-compare",
                                           "--gil-compare-fail=verdict", "--gil-report=reports")
    verdict, reason = _release_verdict(pytester)
    assert verdict != "confirmed", "a pure-Python loop was found to release the GIL: " + reason
    if verdict != "refuted":
        pytest.skip(f"the changed code could not be decided ({verdict}: {reason})")
    assert second.ret == 1, second.stdout.str()
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines([
        "FAILED     test_release.py::test_digest_releases_the_gil [[]*]",
        "*verdict confirmed -> refuted;*breaks verdict",
        "comparison gate FAILED: 1 check breaks --gil-compare-fail=verdict",
    ])
