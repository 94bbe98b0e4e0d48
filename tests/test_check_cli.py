"""``python -m pytest_gil check``: usage errors are one line and exit 2; the questions asked,
the arguments passed, the settings applied and restored, the exit status per expectation, the
JSON and HTML outputs (with the measuring functions replaced, fast); then real runs through
the dispatcher in a subprocess (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_gil
from pytest_gil import Check, Figure, check_cli, settings
from pytest_gil.report import matrix
from pytest_gil.report.standalone import build_document, check_record

PREFIX = "python -m pytest_gil check: error: "


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with a module of functions to check, as the current directory (pytester
    restores ``sys.path`` and ``sys.modules`` afterwards)."""
    pytester.makepyfile(cli_target="""
        import time

        LIMIT = 3

        def wait(seconds, *, scale=1.0):
            time.sleep(seconds * scale)
            return seconds

        def needs_two(a, b):
            return a + b

        class Jobs:
            @staticmethod
            def double(x):
                return 2 * x
    """)
    pytester.makepyfile(cli_broken="raise RuntimeError('broken at import')")
    monkeypatch.chdir(pytester.path)
    return pytester.path


@pytest.fixture
def settings_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command installs its settings with ``settings.configure``, which also resets the
    run's lock and store: put this test run's back afterwards."""
    for name in ("_current", "_lock_factory", "_store"):
        monkeypatch.setattr(settings, name, getattr(settings, name))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = check_cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------
# usage errors


@pytest.mark.parametrize(("argv", "message"), [
    ([], "the following arguments are required: MODULE:FUNC"),
    (["cli_target"], "expected MODULE:FUNC"),
    (["no_such_module:f"], "cannot import 'no_such_module': no module named"),
    (["cli_broken:f"], "importing 'cli_broken' failed: RuntimeError: broken at import"),
    (["cli_target:nope"], "'cli_target' has no attribute 'nope'"),
    (["cli_target:Jobs.nope"], "'cli_target:Jobs' has no attribute 'nope'"),
    (["cli_target:LIMIT"], "cli_target:LIMIT is not callable (it is int 3)"),
    (["cli_target:wait", "--args", "[0.01"], "--args: not valid JSON"),
    (["cli_target:wait", "--args", '{"seconds": 1}'], "--args must be a JSON list, got dict"),
    (["cli_target:wait", "--kwargs", "[1]"], "--kwargs must be a JSON object, got list"),
    (["cli_target:wait", "--executor", "thread,fiber"], "unknown executor 'fiber'"),
    (["cli_target:wait", "--executor", ","], "no executor given"),
    (["cli_target:wait", "--workers", "1,two"], "--workers: bad worker list '1,two'"),
    (["cli_target:wait", "--workers", "2,2"], "a count is repeated"),
    (["cli_target:wait", "--workers", "0"], "workers must be a positive integer, got 0"),
    (["cli_target:wait", "--expect", "holds"], "add --releases-gil"),
    (["cli_target:wait", "--expect", "fast"], "argument --expect: invalid choice"),
    (["cli_target:wait", "--budget", "0"], "invalid value '0' for --budget"),
    (["cli_target:wait", "--alpha", "0.5"], "invalid value '0.5' for --alpha"),
    (["cli_target:wait", "--html", "no/such/dir/r.html"], "does not exist"),
    (["cli_target:wait", "--html", "."], "is a directory"),
    (["cli_target:wait", "--bogus"], "unrecognized arguments: --bogus"),
    (["cli_target:needs_two", "--args", "[1]"],
     "raised TypeError: needs_two() missing 1 required positional argument: 'b'"),
])
def test_a_usage_error_is_one_line_and_exit_status_2(project: Path, argv: list[str],
                                                     message: str,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    code, out, err = run(argv, capsys)
    assert code == check_cli.EXIT_USAGE
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(PREFIX), err
    assert message in err


def test_the_dispatcher_prints_the_usage_error_without_a_traceback(project: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest_gil", "check", "cli_target:nope"],
                          capture_output=True, text=True, cwd=project)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"{PREFIX}'cli_target' has no attribute 'nope' "
                                        "(looking up 'cli_target:nope')"]


def test_targets_are_imported_from_the_current_directory_with_attribute_paths(
        project: Path) -> None:
    double = check_cli.resolve_target("cli_target:Jobs.double")
    assert double(21) == 42
    assert check_cli.resolve_target("os.path:join") is __import__("os").path.join


# --------------------------------------------------------------------------------------------
# questions, arguments, settings and exit status (measuring functions replaced)


class Fake:
    """Stands in for measure_scaling / measure_curve / releases_gil: records each call and
    returns a check with the verdicts given per question kind."""

    def __init__(self, verdicts: dict[str, dict[str, str]]) -> None:
        self.verdicts = verdicts
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], settings.Settings]] = []

    def make(self, kind: str) -> Callable[..., Check]:
        def measure(*args: Any, **kwargs: Any) -> Check:
            self.calls.append((kind, args, kwargs, settings.current()))
            return Check(kind=kind, label=f"fake {kind}", hypothesis="parallel",
                         verdicts=self.verdicts[kind], rounds=5,
                         figures={"speedup": Figure("speedup", 1.9, 1.7, 2.1, "x", 5)},
                         key="speedup", setup={"headline_workers": 2})
        return measure


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, settings_kept: None
         ) -> Iterator[Callable[..., Fake]]:
    def install(scaling: str = "confirmed", release: str = "confirmed") -> Fake:
        flip = {"confirmed": "refuted", "refuted": "confirmed"}
        par = {"parallel": scaling, "serialized": flip.get(scaling, scaling)}
        rel = {"releases": release, "holds": flip.get(release, release)}
        f = Fake({"scaling": par, "curve": par, "release": rel})
        monkeypatch.setattr(pytest_gil, "measure_scaling", f.make("scaling"))
        monkeypatch.setattr(pytest_gil, "measure_curve", f.make("curve"))
        monkeypatch.setattr(pytest_gil, "releases_gil", f.make("release"))
        return f

    yield install


def test_one_worker_count_is_a_scaling_check_several_a_curve_per_executor(
        project: Path, fake: Callable[..., Fake], capsys: pytest.CaptureFixture[str]) -> None:
    f = fake()
    code, _, _ = run(["cli_target:wait", "--args", "[0.01]", "--kwargs", '{"scale": 2}',
                        "--executor", "thread,process", "--workers", "4,1,2",
                        "--releases-gil"], capsys)
    assert code == 0
    kinds = [(k, kw.get("executor"), kw.get("workers")) for k, _, kw, _ in f.calls]
    assert kinds == [("curve", "thread", (1, 2, 4)), ("curve", "process", (1, 2, 4)),
                     ("release", None, None)]
    for _, args, kwargs, _ in f.calls:  # the function only: its arguments are args=/kwargs=
        assert len(args) == 1 and args[0](0.0) == 0.0
        assert kwargs["args"] == [0.01] and kwargs["kwargs"] == {"scale": 2}
    f2 = fake()
    run(["cli_target:wait", "--args", "[0.01]", "--workers", "3"], capsys)
    assert [(k, kw["workers"]) for k, _, kw, _ in f2.calls] == [("scaling", 3)]


def test_each_question_prints_its_verdicts_figure_rounds_and_seconds(
        project: Path, fake: Callable[..., Fake], capsys: pytest.CaptureFixture[str]) -> None:
    fake(scaling="confirmed", release="refuted")
    _, out, _ = run(["cli_target:wait", "--args", "[0.01]", "--releases-gil"], capsys)
    lines = out.splitlines()
    assert lines[0].startswith("cli_target:wait · ")  # the runtime follows
    scaling = next(x for x in lines if x.startswith("2 threads:"))
    assert "parallel confirmed" in scaling and "speedup 1.90× [1.70, 2.10]" in scaling
    assert "5 rounds" in scaling and scaling.endswith(" s")
    release = next(x for x in lines if x.startswith("releases the GIL?:"))
    assert "releases refuted, holds confirmed" in release and "parallel" not in release


def test_budget_and_alpha_apply_while_measuring_and_are_restored(
        project: Path, fake: Callable[..., Fake], capsys: pytest.CaptureFixture[str]) -> None:
    before = settings.current()
    f = fake()
    code, _, _ = run(["cli_target:wait", "--args", "[0.01]", "--budget", "3.5", "--alpha",
                      "0.01"], capsys)
    assert code == 0
    during = f.calls[0][3]
    assert (during.budget, during.alpha) == (3.5, 0.01)
    assert settings.current() == before


@pytest.mark.parametrize(("expect", "scaling", "release", "code"), [
    (None, "refuted", "refuted", 0),  # without an expectation: it ran
    ("parallel", "confirmed", "refuted", 0),  # the release verdict is not its business
    ("parallel", "refuted", "confirmed", 1),
    ("serialized", "refuted", "confirmed", 0),  # the fake's serialized is the mirror
    ("parallel", "inconclusive", "confirmed", 3),
    ("parallel", "not-testable", "confirmed", 3),
    ("releases", "refuted", "confirmed", 0),
    ("holds", "refuted", "confirmed", 1),
    ("releases", "confirmed", "inconclusive", 3),
])
def test_the_exit_status_follows_the_expectation(project: Path, fake: Callable[..., Fake],
                                                 capsys: pytest.CaptureFixture[str],
                                                 expect: str | None, scaling: str,
                                                 release: str, code: int) -> None:
    fake(scaling=scaling, release=release)
    argv = ["cli_target:wait", "--args", "[0.01]", "--releases-gil"]
    got, out, _ = run(argv + (["--expect", expect] if expect else []), capsys)
    assert got == code
    if expect:
        assert out.splitlines()[-1].startswith(f"expected {expect}: ")


def test_an_expectation_refuted_on_one_executor_fails_the_command(
        project: Path, monkeypatch: pytest.MonkeyPatch, fake: Callable[..., Fake],
        capsys: pytest.CaptureFixture[str]) -> None:
    f = fake()
    by_executor = {"thread": "confirmed", "process": "refuted"}
    inner = f.make("scaling")

    def measure(*args: Any, **kwargs: Any) -> Check:
        f.verdicts["scaling"] = {"parallel": by_executor[kwargs["executor"]]}
        return inner(*args, **kwargs)

    monkeypatch.setattr(pytest_gil, "measure_scaling", measure)
    code, out, _ = run(["cli_target:wait", "--args", "[0.01]", "--executor", "thread,process",
                        "--expect", "parallel"], capsys)
    assert code == 1
    assert out.splitlines()[-1] == ("expected parallel: refuted (2 threads confirmed, "
                                    "2 processes refuted)")


def test_json_is_one_document_on_stdout(project: Path, fake: Callable[..., Fake],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    fake(scaling="inconclusive")
    code, out, err = run(["cli_target:wait", "--args", "[0.01]", "--workers", "1,2",
                          "--expect", "parallel", "--json"], capsys)
    doc = json.loads(out)
    assert code == 3 and doc["exit_status"] == 3
    assert doc["target"] == "cli_target:wait" and doc["args"] == [0.01]
    assert doc["runtime"]["usable_cpus"] >= 1 and doc["runtime_label"]
    [q] = doc["questions"]
    assert q["question"] == "curve" and q["workers"] == [1, 2] and q["outcome"] == "skipped"
    assert q["check"]["verdicts"]["parallel"] == "inconclusive"
    assert "thread curve, workers 1,2:" in err  # the lines go to stderr


def test_html_writes_the_report_page_of_these_checks(project: Path, fake: Callable[..., Fake],
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    fake()
    (project / "out").mkdir()
    code, out, _ = run(["cli_target:wait", "--args", "[0.01]", "--html", "out/r.html"], capsys)
    assert code == 0
    page = (project / "out" / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "fake scaling" in page
    assert "wrote out/r.html" in out


# --------------------------------------------------------------------------------------------
# the standalone document


def test_the_standalone_document_is_a_run_report_the_matrix_reads(tmp_path: Path) -> None:
    check = Check(kind="scaling", label="f in 2 threads", hypothesis="parallel",
                  verdicts={"parallel": "confirmed", "serialized": "refuted"}, rounds=4,
                  elapsed=1.5)
    rec = check_record(check, name="python -m pytest_gil check m:f::scaling[thread-2]")
    assert rec["claim"] is None and rec["check"] == "parallel" and rec["check_id"] == check.uid
    assert rec["checks"][0]["id"] == check.uid and rec["duration"] == 1.5
    doc = build_document([rec], args=["check", "m:f"], started=0.0, exitstatus=0,
                         options={"gil_budget": 5.0})
    for key in ("schema", "schema_version", "plugin_version", "created", "tag", "runtime",
                "runtime_label", "options", "settings", "calibration", "workers", "session",
                "counts", "results", "tests"):
        assert key in doc, key
    assert doc["counts"] == {"confirmed": 1} and doc["options"]["gil_budget"] == 5.0
    assert doc["options"]["gil_scale"] is None and doc["session"]["tests_with_records"] == 1
    path = tmp_path / f"gil-{doc['tag']}.json"
    path.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
    assert matrix.load_run(path).doc["results"][0]["check_id"] == check.uid
    with pytest.raises(ValueError, match="outcome must be one of"):
        check_record(check, name="x", outcome="xpassed")


# --------------------------------------------------------------------------------------------
# real runs


def _check(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_gil", "check", *args],
                          capture_output=True, text=True, cwd=project, timeout=300)


@pytest.mark.slow
def test_a_real_check_exits_as_its_verdict_says(project: Path) -> None:
    proc = _check(project, "cli_target:wait", "--args", "[0.02]", "--expect", "parallel",
                  "--budget", "5", "--json")
    doc = json.loads(proc.stdout)
    [q] = doc["questions"]
    verdict = q["check"]["verdicts"]["parallel"]
    assert proc.returncode == {"confirmed": 0, "refuted": 1}.get(verdict, 3), proc.stderr
    assert q["question"] == "scaling" and q["check"]["workers"] == 2
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_real_curve_writes_its_table_and_report(project: Path) -> None:
    proc = _check(project, "cli_target:wait", "--args", "[0.02]", "--workers", "1,2",
                  "--budget", "5", "--html", "curve.html")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(x.startswith("thread curve, workers 1,2:") for x in lines)
    assert any(x.lstrip().startswith("Amdahl:") for x in lines)
    assert any(x.lstrip().startswith("USL: not fitted") for x in lines)
    page = (project / "curve.html").read_text(encoding="utf-8")
    assert "wait in 1–2 threads" in page
