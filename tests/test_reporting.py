"""The report: records from tests, the terminal summary, the JSON/HTML/Markdown files.

End to end with pytester (a pytest run in a subprocess): the test files call
``pytest_gil.report.collect.add_record`` with synthetic records, so these tests measure nothing
and run in seconds.
"""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.report import collect, files, terminal
from pytest_gil.report.html import render_html

REPO = Path(__file__).resolve().parents[1]

# A helper module the generated test files import: realistic schema-2 RECORDs and CHECKs
# (docs/REPORT_SCHEMA.md; a CHECK has the shape of pytest_gil.engine.check.Check.to_dict()).
GILREC = """
import uuid

from pytest_gil.report.collect import add_record


def figure(name, value, unit="", spread=0.05, n=6):
    return {"name": name, "value": value, "low": value * (1 - spread),
            "high": value * (1 + spread), "unit": unit, "n": n}


def scaling_check(executor="thread", workers=2, speedup=1.02, p=1.0, rounds=6, ideal=None,
                  label="calc", verdict="confirmed"):
    ideal = workers if ideal is None else ideal
    figures = {"speedup": figure("speedup", speedup, "x", 0.07, rounds),
               "parallelism": figure("parallelism", p, "CPUs", 0.03, rounds)}
    bounds = {"ideal": ideal, "confirm": 1.414, "refute": 1.68}
    other = "refuted" if verdict == "confirmed" else "inconclusive"
    return {
        "id": uuid.uuid4().hex[:16], "kind": "scaling", "label": label, "executor": executor,
        "workers": workers, "tasks": workers, "fn": "calc", "cpu_bound": True,
        "signals": ["speedup", "parallelism"], "ideal": ideal, "claim_tested": "serialized",
        "verdict": verdict, "verdicts": {"serialized": verdict, "parallel": other},
        "figure": figures["speedup"], "figures": figures,
        "rounds": rounds, "suspect_rounds": 1, "elapsed": 1.7, "stop": "decided",
        "bounds": bounds,
        "all_bounds": {"serialized": bounds,
                       "parallel": {"ideal": ideal, "confirm": 1.414, "refute": 1.19}},
        "alpha": {"confirm": 0.001, "refute": 0.0001},
        "gil": {"enabled": True, "changed": False}, "reason": "",
        "detail": f"{label}: speedup {speedup:.2f}x, {rounds} rounds -> serialized {verdict}",
        "runtime": "CPython (synthetic)",
        "raw": [{"t_serial": 0.1, "t_parallel": 0.1 / speedup, "cpu_serial": 0.1,
                 "cpu_parallel": 0.1, "order": "PS" if i % 2 else "SP", "serial_demand": None,
                 "values": {"speedup": speedup, "parallelism": p}, "flipped": bool(i % 2),
                 "warmup": i == 0, "suspect": i == 1, "excluded": "", "seconds": 0.3,
                 "gil_enabled": True,
                 "noise": {"foreign_cpu": 0.02, "steal": 0.0, "throttled": False,
                           "reasons": [], "flags": []}}
                for i in range(rounds)],
        "looks": [{"n": rounds, "verdicts": {"serialized": verdict, "parallel": other},
                   "intervals": {"speedup": {"value": speedup, "low": speedup * 0.93,
                                             "high": speedup * 1.07}}}],
    }


def latency_check():
    series = [{"x": x, "value": x * 0.9, "low": x * 0.7, "high": x * 1.1, "n": 5}
              for x in (0.001, 0.005, 0.02)]
    ratio = figure("latency ratio", 18.0, "x", 0.2, 5)
    return {
        "id": uuid.uuid4().hex[:16], "kind": "latency",
        "label": "sleep(1ms) wake-up under 2 calc threads", "executor": "thread",
        "workers": 3, "tasks": 5, "claim_tested": "grows", "verdict": "confirmed",
        "verdicts": {"grows": "confirmed"}, "figure": ratio, "figures": {"latency_ratio": ratio},
        "rounds": 5, "x_name": "switch interval (s)", "y_name": "wake-up latency (s)",
        "series": series,
    }


def claim(claim_id, verdict="confirmed", expected="confirmed", checks=None, figure=True,
          statement="GIL 保证CPython一个进程中,只有一个线程执行字节码",
          detail="2 threads x calc"):
    checks = [scaling_check()] if checks is None else checks
    if figure is True:
        figure = {"name": "speedup", "value": 1.02, "low": 0.95, "high": 1.08, "unit": "x",
                  "n": 6}
    add_record({
        "claim": claim_id, "catalogue": "tests", "variant": None, "verdict": verdict,
        "expected": expected, "expected_reason": "one thread at a time with the GIL",
        "statement": statement, "measured": "speedup of 2 threads over serial",
        "source": "a blog post", "figure": figure, "detail": detail, "checks": checks,
    })
"""

# Defines --gil-report when pytest_gil.plugin (which owns it) is not loaded.
CONFTEST = """
def pytest_addoption(parser):
    group = parser.getgroup("gil", "pytest-gil: measure concurrency claims")
    try:
        group.addoption("--gil-report", dest="gil_report", default=None)
    except ValueError:
        pass  # pytest_gil.plugin is loaded and defines it
"""

TWO_CLAIMS = """
from gilrec import claim, scaling_check

def test_threads():
    claim("gil.one-thread-at-a-time")

def test_processes():
    claim("gil.processes-for-cpu", checks=[scaling_check("process", 2, 1.9, 1.8)],
          figure={"name": "speedup", "value": 1.9, "low": 1.7, "high": 2.05, "unit": "x"})

def test_plain():
    pass
"""


@pytest.fixture
def gil(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory where ``pytest_gil`` imports and test files can record."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("PYTEST_GIL_PROFILE", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(gilrec=GILREC)
    pytester.makeconftest(CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "pytest_gil.report.collect", "-p", "no:randomly", *args
    )


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def only_report(directory: Path, suffix: str = ".json") -> Path:
    files = sorted(directory.glob(f"gil-*{suffix}"))
    assert len(files) == 1, files
    return files[0]


def summary_lines(result: pytest.RunResult) -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ pytest-gil =+$", line))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=")), len(lines))
    return lines[start:end]


# ---------------------------------------------------------------------------------------------
# terminal


def test_a_suite_without_records_gets_no_extra_output_and_no_files(gil: pytest.Pytester) -> None:
    gil.makepyfile(test_x="def test_a():\n    pass\n")
    result = run(gil, "--gil-report", "reports")
    result.assert_outcomes(passed=1)
    assert "pytest-gil" not in result.stdout.str()
    assert not (gil.path / "reports").exists()


def test_the_summary_has_a_runtime_header_and_a_row_per_claim(gil: pytest.Pytester) -> None:
    gil.makepyfile(test_claims=TWO_CLAIMS)
    result = run(gil)
    result.assert_outcomes(passed=3)
    vi = sys.version_info
    result.stdout.fnmatch_lines(
        [
            "*= pytest-gil =*",
            f"*{vi.major}.{vi.minor}.{vi.micro}*build*GIL *usable CPU*",
            "claim or check*verdict*key figure*rounds",
            "gil.processes-for-cpu*confirmed*speedup 1.90x [[]1.70, 2.05]*6",
            "gil.one-thread-at-a-time*confirmed*speedup 1.02x [[]0.95, 1.08]*6",
            "2 confirmed in 2 tests",
            "(no report files: set --gil-report DIR*",
        ]
    )


def test_the_summary_fits_80_columns_with_long_ids_and_figures(gil: pytest.Pytester) -> None:
    long_id = "gil." + "very-long-claim-identifier-" * 4
    gil.makepyfile(
        test_long=f"""
        from gilrec import claim
        def test_long():
            claim({long_id!r}, verdict="inconclusive", expected="confirmed",
                  figure={{"name": "wake-up latency", "value": 0.00481, "low": 0.00412,
                          "high": 0.00563, "unit": "s"}})
        def test_refuted():
            claim("gil.not-removed", verdict="refuted", expected="confirmed")
        """
    )
    result = run(gil)
    lines = summary_lines(result)
    assert len(lines) > 6
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, too_wide
    result.stdout.fnmatch_lines(
        [
            "gil.very-long-claim-identifier-*...  inconclusive  *4.81 ms [[]4.12, 5.63]*6",
            "gil.not-removed*refuted!*",
            "! differs from the verdict expected on this runtime:",
            "  gil.not-removed: measured refuted, expected confirmed (test passed)",
        ]
    )


NOISY = """
from gilrec import claim, scaling_check

def test_noisy():
    check = scaling_check("process", 2, 1.6, 1.6, rounds=8, verdict="inconclusive")
    check["stop"] = "noisy"
    for row in check["raw"][1:6]:
        row.update(suspect=True, excluded="noise: foreign load 1.00 CPU > 0.25")
        row["noise"]["flags"] = ["foreign"]
    claim("gil.processes-for-cpu", verdict="inconclusive", expected="confirmed",
          checks=[check])
"""


def test_an_undecided_row_is_followed_by_why(gil: pytest.Pytester) -> None:
    gil.makepyfile(test_noisy=NOISY)
    result = run(gil)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "gil.processes-for-cpu*inconclusive*speedup 1.02x [[]0.95, 1.08]*8",
        "    why: machine noisy: 5 of 7 rounds disturbed (foreign load x5)",
    ], consecutive=True)


def test_format_summary_truncates_to_the_width_it_is_given() -> None:
    doc = {
        "runtime": {"implementation": "CPython", "version": "3.13.0", "usable_cpus": 2},
        "results": [
            {
                "claim": "x" * 200,
                "verdict": "confirmed",
                "figure": {"name": "speedup", "value": 1.0, "low": 0.5, "high": 2.0, "unit": "x"},
                "nodeid": "t.py::t",
            }
        ],
    }
    for width in (60, 80, 132):
        lines = [line for line, _ in terminal.format_summary(doc, width)]
        assert max(map(len, lines)) <= width
        assert any("1.00x [0.50, 2.00]" in line for line in lines), lines


# ---------------------------------------------------------------------------------------------
# files


def test_json_html_and_markdown_are_written_per_runtime_tag(gil: pytest.Pytester) -> None:
    gil.makepyfile(test_claims=TWO_CLAIMS)
    result = run(gil, "--gil-report", "out")
    result.assert_outcomes(passed=3)
    out = gil.path / "out"
    path = only_report(out)
    tag = path.stem[len("gil-") :]
    vi = sys.version_info
    assert re.fullmatch(rf"cpython-{vi.major}\.{vi.minor}t?-(no)?gil", tag), tag
    assert (out / f"gil-{tag}.html").is_file()
    assert (out / f"gil-{tag}.md").is_file()
    result.stdout.fnmatch_lines(
        [f"report: out/gil-{tag}.json", f"report: out/gil-{tag}.md", f"report: out/gil-{tag}.html"]
    )

    doc = load(path)
    assert doc["schema"] == "pytest-gil-report"
    assert doc["schema_version"] == files.SCHEMA_VERSION
    assert doc["tag"] == tag
    assert doc["runtime"]["version"].startswith(f"{vi.major}.{vi.minor}")
    assert doc["runtime_label"]
    assert doc["plugin_version"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", doc["created"])
    assert set(doc["options"]) >= {"gil_report", "gil_scale", "gil_alpha"}
    session = doc["session"]
    assert session["exitstatus"] == 0 and session["interrupted"] is False
    assert session["duration"] >= 0
    assert doc["counts"] == {"confirmed": 2}
    results = doc["results"]
    assert [r["claim"] for r in results] == ["gil.processes-for-cpu", "gil.one-thread-at-a-time"]
    first = results[1]
    assert first["nodeid"] == "test_claims.py::test_threads"
    assert first["outcome"] == "passed" and first["duration"] >= 0
    assert first["worker"] is None
    assert len(first["checks"][0]["raw"]) == 6  # raw rounds kept
    assert first["statement"].startswith("GIL 保证")
    assert first["checks"][0]["figures"]["speedup"]["value"] == 1.02

    md = (out / f"gil-{tag}.md").read_text(encoding="utf-8")
    assert "| gil.one-thread-at-a-time | confirmed | confirmed | speedup 1.02× [0.95, 1.08] |" in md
    assert md.count("| statement |") == 1
    assert "(passed) | GIL 保证CPython" in md


def test_records_from_setup_teardown_and_skipped_tests_are_kept(gil: pytest.Pytester) -> None:
    gil.makepyfile(
        test_phases="""
        import pytest
        from gilrec import claim

        @pytest.fixture
        def decided_at_teardown():
            yield
            claim("teardown.claim")

        def test_teardown(decided_at_teardown):
            pass

        def test_inconclusive_skips():
            claim("skip.claim", verdict="inconclusive")
            pytest.skip("inconclusive: not enough rounds")

        def test_fails():
            claim("fail.claim", verdict="refuted", expected="confirmed")
            assert False, "claim contradicted"
        """
    )
    result = run(gil, "--gil-report", "out")
    result.assert_outcomes(passed=1, skipped=1, failed=1)
    doc = load(only_report(gil.path / "out"))
    outcomes = {r["claim"]: r["outcome"] for r in doc["results"]}
    assert outcomes == {"teardown.claim": "passed", "skip.claim": "skipped", "fail.claim": "failed"}
    assert doc["session"]["exitstatus"] == 1


def test_add_record_outside_a_test_does_nothing(gil: pytest.Pytester) -> None:
    gil.makepyfile(
        test_outside="""
        from pytest_gil.report.collect import add_record, current_item
        from gilrec import claim

        claim("at.import")  # collection time: no test is running

        def test_inside():
            assert current_item().nodeid == "test_outside.py::test_inside"
            claim("in.test")
        """
    )
    result = run(gil, "--gil-report", "out")
    result.assert_outcomes(passed=1)
    doc = load(only_report(gil.path / "out"))
    assert [r["claim"] for r in doc["results"]] == ["in.test"]


def test_records_are_plain_json(gil: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    gil.makepyfile(
        test_plain="""
        import dataclasses, enum, math, pathlib
        from pytest_gil.report.collect import add_record

        class Kind(enum.Enum):
            SCALING = "scaling"

        @dataclasses.dataclass
        class Result:
            kind: Kind
            value: float
            def to_dict(self):
                return {"kind": self.kind, "value": self.value, "inf": math.inf}

        def test_it():
            add_record({"claim": "plain", "verdict": "confirmed",
                        "checks": [Result(Kind.SCALING, 1.5)],
                        "figure": {"name": "P", "value": 1.0, "low": 0.9, "high": math.inf},
                        "path": pathlib.Path("/tmp"), "pair": (1, 2)})
        """
    )
    result = run(gil, "--gil-report", "out", "-n", "1")
    result.assert_outcomes(passed=1)
    path = only_report(gil.path / "out")
    text = path.read_text(encoding="utf-8")
    assert "Infinity" not in text and "NaN" not in text
    rec = load(path)["results"][0]
    assert rec["checks"] == [{"kind": "scaling", "value": 1.5, "inf": None}]
    assert rec["figure"]["high"] is None
    assert rec["path"] == "/tmp" and rec["pair"] == [1, 2]
    assert rec["worker"] == "gw0"
    result.stdout.fnmatch_lines(["plain*confirmed*P 1.00 [[]>=0.90]*-"])


def test_to_plain_converts_what_the_engine_may_hand_over() -> None:
    import enum

    class Color(enum.IntEnum):
        RED = 1

    assert collect.to_plain({1: (Color.RED, {2.5, float("nan")})}) == {"1": [1, [None, 2.5]]} or (
        collect.to_plain({1: (Color.RED, {2.5, float("nan")})}) == {"1": [1, [2.5, None]]}
    )
    assert type(collect.to_plain(Color.RED)) is int
    assert collect.to_plain(b"\xff") == "\ufffd"


CAPACITY = """
import pytest
from pytest_gil import records
from gilrec import claim

@pytest.mark.parametrize("at", [100.0, 200.0, 300.0])
def test_capacity(at):
    k = at / 100
    records.add_calibration("capacity 2 workers", {
        "workers": 2, "value": k, "low": k - 0.1, "high": k + 0.1, "alpha": 1e-5,
        "windows": 24, "measured_at": at})
    claim(f"c.{int(at)}")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["alone", "xdist"])
def test_the_most_recent_capacity_reaches_the_document_and_the_header(
    gil: pytest.Pytester, xdist: list[str]
) -> None:
    if xdist:
        pytest.importorskip("xdist")
    gil.makepyfile(test_capacity=CAPACITY)
    result = run(gil, "--gil-report", "out", *xdist)
    result.assert_outcomes(passed=3)
    doc = load(only_report(gil.path / "out"))
    assert list(doc["capacity"]) == ["2"]
    assert doc["capacity"]["2"]["value"] == 3.0
    assert doc["capacity"]["2"]["process"] in ({"main"} if not xdist else {"gw0", "gw1"})
    header = summary_lines(result)[1:4]
    assert any("delivered capacity 3.00x [2.90, 3.10] for 2 workers" in ln for ln in header)


# ---------------------------------------------------------------------------------------------
# xdist


def test_records_from_two_xdist_workers_are_merged_without_loss(gil: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    gil.makepyfile(
        test_many="""
        import pytest
        from gilrec import claim

        @pytest.mark.parametrize("i", range(12))
        def test_claim(i):
            claim(f"claim.{i:02d}", verdict="confirmed" if i % 3 else "refuted",
                  expected="confirmed" if i % 3 else "refuted")
            if i == 5:
                claim("claim.05-second-record")
        """
    )
    result = run(gil, "-n", "2", "--gil-report", "out")
    result.assert_outcomes(passed=12)
    doc = load(only_report(gil.path / "out"))
    claims = sorted(r["claim"] for r in doc["results"])
    assert claims == sorted([f"claim.{i:02d}" for i in range(12)] + ["claim.05-second-record"])
    assert {r["worker"] for r in doc["results"]} == {"gw0", "gw1"}
    assert set(doc["workers"]) == {"gw0", "gw1"}
    sent = sum(w["records_sent"] for w in doc["workers"].values())
    assert sent == 13
    assert all(w["runtime"]["version"] for w in doc["workers"].values())
    assert "records_lost" not in doc["session"]
    assert doc["counts"] == {"confirmed": 9, "refuted": 4}
    result.stdout.fnmatch_lines(["9 confirmed, 4 refuted in 12 tests"])


def test_junit_properties_carry_claim_verdict_and_figure(gil: pytest.Pytester) -> None:
    gil.makepyfile(test_claims=TWO_CLAIMS)
    result = run(gil, "-n", "2", "--junitxml", "junit.xml")
    result.assert_outcomes(passed=3)
    root = ET.parse(gil.path / "junit.xml").getroot()
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in root.iter("testcase")
    }
    assert props["test_threads"] == {
        "gil_claim": "gil.one-thread-at-a-time",
        "gil_verdict": "confirmed",
        "gil_expected": "confirmed",
        "gil_figure": "speedup 1.02x [0.95, 1.08]",
    }
    assert props["test_plain"] == {}


# ---------------------------------------------------------------------------------------------
# interrupted runs, atomic files


def test_keyboard_interrupt_writes_what_was_collected_marked_interrupted(
    gil: pytest.Pytester,
) -> None:
    gil.makepyfile(
        test_interrupt="""
        from gilrec import claim

        def test_a_first():
            claim("before.interrupt")

        def test_b_interrupted():
            claim("during.interrupt", verdict="inconclusive")
            raise KeyboardInterrupt

        def test_c_never_runs():
            claim("after.interrupt")
        """
    )
    result = run(gil, "--gil-report", "out")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    doc = load(only_report(gil.path / "out"))
    assert doc["session"]["interrupted"] is True
    assert doc["session"]["exitstatus"] == int(pytest.ExitCode.INTERRUPTED)
    outcomes = {r["claim"]: r["outcome"] for r in doc["results"]}
    assert outcomes == {"before.interrupt": "passed", "during.interrupt": "interrupted"}
    result.stdout.fnmatch_lines(["*(interrupted: partial results)"])
    assert "interrupted" in (gil.path / "out" / f"gil-{doc['tag']}.html").read_text()


def _previous_run(gil: pytest.Pytester) -> tuple[Path, bytes]:
    gil.makepyfile(test_claims=TWO_CLAIMS)
    run(gil, "--gil-report", "out").assert_outcomes(passed=3)
    path = only_report(gil.path / "out")
    return path, path.read_bytes()


def test_a_run_killed_mid_way_leaves_the_previous_report_intact(gil: pytest.Pytester) -> None:
    path, before = _previous_run(gil)
    gil.makepyfile(
        test_claims="""
        import os, signal
        from gilrec import claim

        def test_a():
            claim("gil.one-thread-at-a-time", verdict="refuted")

        def test_b_killed():
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = run(gil, "--gil-report", "out")
    assert result.ret == -9
    assert path.read_bytes() == before


def test_a_run_killed_while_writing_never_leaves_a_truncated_report(gil: pytest.Pytester) -> None:
    path, before = _previous_run(gil)
    gil.makeconftest(
        CONFTEST
        + """
import os, signal

def pytest_sessionfinish(session):
    # die inside write_atomic: after the temporary file is written, before os.replace
    os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
"""
    )
    result = run(gil, "--gil-report", "out")
    assert result.ret == -9
    assert path.read_bytes() == before
    assert load(path)["schema"] == "pytest-gil-report"


def test_write_atomic_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")

    def boom(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space"):
        files.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    monkeypatch.undo()
    files.write_atomic(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o644 == 0o644


def test_an_unwritable_report_dir_is_named_and_the_exit_status_is_kept(
    gil: pytest.Pytester,
) -> None:
    gil.makepyfile(
        test_claims=TWO_CLAIMS + "\ndef test_fails():\n    assert False\n",
    )
    (gil.path / "afile").write_text("not a directory")
    result = run(gil, "--gil-report", "afile/reports")
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "gil.one-thread-at-a-time*confirmed*",
            "pytest-gil: cannot write reports to */afile/reports: NotADirectoryError: *",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_report_path_taken_by_a_directory_fails_alone(gil: pytest.Pytester) -> None:
    gil.makepyfile(test_claims=TWO_CLAIMS)
    run(gil, "--gil-report", "out").assert_outcomes(passed=3)
    path = only_report(gil.path / "out")
    path.unlink()
    path.mkdir()
    result = run(gil, "--gil-report", "out")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"pytest-gil: cannot write report {path}: IsADirectoryError*"])
    assert path.with_suffix(".html").is_file() and path.with_suffix(".md").is_file()


def test_a_corrupt_previous_report_is_named_and_replaced(gil: pytest.Pytester) -> None:
    path, _ = _previous_run(gil)
    path.write_text('{"schema": "pytest-gil-report", "results": [')  # truncated
    result = run(gil, "--gil-report", "out")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [f"pytest-gil: previous report {path} is corrupt (*); replacing it"]
    )
    assert load(path)["schema"] == "pytest-gil-report"


def test_changed_verdicts_since_the_previous_run_are_listed(gil: pytest.Pytester) -> None:
    _previous_run(gil)
    gil.makepyfile(
        test_claims="""
        from gilrec import claim
        def test_threads():
            claim("gil.one-thread-at-a-time", verdict="inconclusive")
        """
    )
    result = run(gil, "--gil-report", "out")
    result.stdout.fnmatch_lines(
        ["changed since the previous run (*): gil.one-thread-at-a-time: confirmed -> inconclusive"]
    )


def test_an_injected_profile_gets_its_own_report_file(
    gil: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PYTEST_GIL_PROFILE",
        json.dumps({"free_threaded_build": True, "gil_enabled": False, "version_info": [3, 13, 1]}),
    )
    gil.makepyfile(test_claims=TWO_CLAIMS)
    run(gil, "--gil-report", "out").assert_outcomes(passed=3)
    assert only_report(gil.path / "out").name == "gil-cpython-3.13t-nogil-injected.json"


# ---------------------------------------------------------------------------------------------
# HTML


HOSTILE = """
import pytest
from gilrec import claim, scaling_check

EVIL = "<script>alert('x')</script> \\"q\\" & <img src=x onerror=alert(1)> $x$"

@pytest.mark.parametrize("evil", [EVIL], ids=[EVIL])
def test_hostile(evil):
    check = scaling_check(label=evil)
    check["reason"] = evil
    claim(evil, verdict=evil, expected="confirmed", statement=evil, detail=evil, checks=[check],
          figure={"name": evil, "value": 1.0, "low": 0.9, "high": 1.1, "unit": evil})
"""


def test_hostile_test_ids_and_texts_are_escaped(gil: pytest.Pytester) -> None:
    gil.makepyfile(test_evil=HOSTILE)
    result = run(gil, "--gil-report", "out")
    result.assert_outcomes(passed=1)
    out = gil.path / "out"
    page = only_report(out, ".html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &quot;q&quot; &amp; &lt;img" in page
    assert '<svg class="chart"' in page  # the charts are drawn, their titles escaped too
    assert "<title>&lt;script&gt;" in page
    md = only_report(out, ".md").read_text(encoding="utf-8")
    assert "<script" not in md and "&lt;script&gt;" in md
    assert "\\|" not in md or md.count("|") > 0
    assert load(only_report(out))["results"][0]["nodeid"].endswith("onerror=alert(1)> $x$]")


def test_the_page_is_written_without_matplotlib(gil: pytest.Pytester) -> None:
    gil.makeconftest(
        CONFTEST
        + """
import sys
sys.modules["matplotlib"] = None  # import blocker: `import matplotlib` raises ImportError
"""
    )
    gil.makepyfile(test_claims=TWO_CLAIMS)
    result = run(gil, "--gil-report", "out")
    result.assert_outcomes(passed=3)
    page = only_report(gil.path / "out", ".html").read_text(encoding="utf-8")
    assert "<svg" not in page and "<img" not in page
    assert page.count("Charts need matplotlib: <code>pip install 'pytest-gil[report]'</code>") == 1
    assert page.count('<figure class="panel"') == 2  # the evidence of both checks, in words
    assert page.count('class="detail chart-alt"') == 3  # the overview's and the panels' text
    assert "gil.one-thread-at-a-time" in page and "speedup 1.02× [0.95, 1.08]" in page
    assert "raw rounds" in page  # the numbers are still there, in tables


def _figure(name: str, value: float, unit: str, spread: float) -> dict[str, Any]:
    return {"name": name, "value": value, "low": value * (1 - spread),
            "high": value * (1 + spread), "unit": unit, "n": 6}


def _plot_page() -> dict[str, Any]:
    def check(executor: str, workers: int, speedup: float, p: float, ideal: int) -> dict[str, Any]:
        figures = {"speedup": _figure("speedup", speedup, "x", 0.1),
                   "parallelism": _figure("parallelism", p, "CPUs", 0.05)}
        return {
            "kind": "scaling",
            "label": "calc",
            "executor": executor,
            "workers": workers,
            "tasks": workers,
            "ideal": ideal,
            "figure": figures["speedup"],
            "figures": figures,
            "rounds": 6,
            "verdict": "confirmed",
        }

    scaling = [check("thread", w, 1.0, 1.0, min(w, 2)) for w in (1, 2, 4)]
    scaling += [
        check("process", w, min(w, 2) * 0.9, min(w, 2) * 0.95, min(w, 2)) for w in (1, 2, 4)
    ]
    ratio = _figure("latency ratio", 20.0, "x", 0.2)
    latency = {
        "kind": "latency",
        "label": "wake-up",
        "executor": "thread",
        "figure": ratio,
        "figures": {"latency_ratio": ratio},
        "x_name": "switch interval (s)",
        "series": [{"x": x, "value": x, "low": x * 0.8, "high": x * 1.2} for x in (0.001, 0.02)],
    }
    return {
        "schema": "pytest-gil-report",
        "schema_version": 2,
        "runtime": {"implementation": "CPython", "version": "3.11.7", "usable_cpus": 2},
        "results": [
            {"claim": "gil.one-thread-at-a-time", "verdict": "confirmed", "checks": scaling},
            {"claim": "gil.io-latency-under-cpu-load", "verdict": "confirmed", "checks": [latency]},
        ],
    }


def test_the_page_draws_inline_charts_and_makes_no_external_request() -> None:
    pytest.importorskip("matplotlib", reason="the charts need the report extra")
    page = render_html(_plot_page())
    assert page.count('<figure class="panel"') == 3  # thread and process curves, latency
    assert page.count('<table class="forest">') == 1  # the overview's rows in words
    charts = re.findall(r'<svg class="chart" role="img" [^>]*>(.{0,7})', page)
    assert len(charts) == page.count("<svg") == 1 + 3  # the overview, 3 panels
    assert set(charts) == {"<title>"}  # every chart has its text alternative
    assert page.count("<desc>") == len(charts)
    assert "xmlns" not in page and "<?xml" not in page and "DOCTYPE svg" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page
    assert "<script" not in page


def test_charts_can_be_left_out() -> None:
    page = render_html(_plot_page(), plots=False)
    assert "<svg" not in page and "Charts were not requested" in page
    assert "gil.io-latency-under-cpu-load" in page


def test_the_real_plugin_writes_reports_to_the_ini_directory(gil: pytest.Pytester) -> None:
    """With pytest_gil.plugin loaded, the ``gil_report`` ini option (relative to the ini file)
    decides where reports go."""
    pytest.importorskip("pytest_gil.plugin")
    from importlib.metadata import entry_points

    installed = any(ep.name == "gil" for ep in entry_points(group="pytest11"))
    gil.makeconftest("")
    gil.makeini("[pytest]\ngil_report = from-ini\n")
    gil.makepyfile(test_claims=TWO_CLAIMS)
    args = [] if installed else ["-p", "pytest_gil.plugin"]
    result = gil.runpytest_subprocess(*args, "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    assert only_report(gil.path / "from-ini").suffix == ".json"
