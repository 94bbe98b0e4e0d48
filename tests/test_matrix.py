"""The matrix across runtimes: ``python -m pytest_gil report FILES... [-o DIR]``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.report import matrix

REPO = Path(__file__).resolve().parents[1]

CLAIMS = {
    # claim: verdict per runtime kind (gil / ft)
    "gil.one-thread-at-a-time": ("confirmed", "refuted"),
    "gil.io-threads-overlap": ("confirmed", "confirmed"),
    "gil.not-removed": ("confirmed", "refuted"),
}


def run_doc(
    version: tuple[int, int, int],
    *,
    ft: bool = False,
    gil: bool = True,
    created: str = "2026-11-26T22:50:00+00:00",
    results: list[dict[str, Any]] | None = None,
    schema_version: int = 2,
) -> dict[str, Any]:
    """A run report; schema 1 (older runs) calls the claim's statement ``document_says``."""
    says = "statement" if schema_version >= 2 else "document_says"
    profile = {
        "implementation": "CPython",
        "version": ".".join(map(str, version)),
        "version_info": list(version),
        "free_threaded_build": ft,
        "gil_enabled": gil,
        "usable_cpus": 2,
        "injected": False,
    }
    if results is None:
        results = [
            {
                "nodeid": f"tests/claims/test_x.py::test_{i}",
                "claim": claim,
                "verdict": verdicts[0 if gil else 1],
                "expected": verdicts[0 if gil else 1],
                says: f"the statement of {claim}",
                "catalogue": "gil",
                "outcome": "passed",
            }
            for i, (claim, verdicts) in enumerate(CLAIMS.items())
        ]
        results.append({"nodeid": "t.py::check", "claim": None, "check": "serialized",
                        "check_id": "0123456789abcdef", "verdict": "confirmed"})
    t = "t" if ft else ""
    return {
        "schema": "pytest-gil-report",
        "schema_version": schema_version,
        "created": created,
        "tag": f"cpython-{version[0]}.{version[1]}{t}-{'gil' if gil else 'nogil'}",
        "runtime": profile,
        "runtime_label": f"CPython {'.'.join(map(str, version))}",
        "results": results,
    }


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    d = tmp_path / "reports"
    d.mkdir()
    write(d / "gil-cpython-3.13t-nogil.json", run_doc((3, 13, 1), ft=True, gil=False))
    write(d / "gil-cpython-3.12-gil.json", run_doc((3, 12, 1)))
    write(d / "gil-cpython-3.10-gil.json", run_doc((3, 10, 13)))
    write(d / "gil-cpython-3.13t-gil.json", run_doc((3, 13, 1), ft=True, gil=True))
    return d


def table_rows(markdown: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith("|")
    ]


def test_one_row_per_claim_and_one_column_per_runtime_in_version_order(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert matrix.main(sorted(str(p) for p in reports.glob("*.json"))) == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert rows[0] == ["claim or check", "3.10", "3.12", "3.13t", "3.13t+GIL", "flips"]
    body = {r[0]: r[1:] for r in rows[2:]}
    assert body == {
        "gil.io-threads-overlap": ["confirmed"] * 4 + [""],
        "gil.not-removed": ["confirmed", "confirmed", "refuted", "confirmed", "yes"],
        "gil.one-thread-at-a-time": ["confirmed", "confirmed", "refuted", "confirmed", "yes"],
        # a standalone check (assert_*, measure_*) gets a row after the claims
        "check": ["confirmed"] * 4 + [""],
    }
    assert [r[0] for r in rows[2:]][-1] == "check"
    assert (reports / "matrix.md").read_text(encoding="utf-8").count("| gil.") == 3
    assert '<table class="heat">' in (reports / "matrix.html").read_text(encoding="utf-8")


def test_a_directory_stands_for_its_reports_and_output_goes_where_asked(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "elsewhere"
    assert matrix.main([str(reports), "-o", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"matrix.md", "matrix.html"}
    assert not (reports / "matrix.md").exists()


def test_the_newest_report_of_a_runtime_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = run_doc((3, 12, 1), created="2026-01-01T00:00:00+00:00")
    new = run_doc((3, 12, 2), created="2026-06-01T00:00:00+00:00")
    for rec in new["results"]:
        rec["verdict"] = "inconclusive"
    a = write(tmp_path / "new.json", new)
    b = write(tmp_path / "old.json", old)
    assert matrix.main([str(a), str(b)]) == 0
    captured = capsys.readouterr()
    rows = table_rows(captured.out)
    assert rows[0] == ["claim or check", "3.12", "flips"]
    assert {r[1] for r in rows[2:]} == {"inconclusive"}
    assert f"ignoring {b}: same runtime (cpython-3.12-gil) as {a}, which is newer" in captured.err


def test_unusable_files_are_named_with_the_cause_and_skipped(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truncated = tmp_path / "truncated.json"
    truncated.write_text('{"schema": "pytest-gil-report", "resu')
    other = write(tmp_path / "other.json", {"hello": "world"})
    missing = tmp_path / "missing.json"
    status = matrix.main(
        [str(truncated), str(other), str(missing), str(reports), "-o", str(tmp_path)]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert f"skipping {truncated}: not valid JSON (truncated or corrupt?)" in err
    assert f"skipping {other}: not a pytest-gil report" in err
    assert f"skipping {missing}: no such file" in err


def test_no_usable_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert matrix.main([str(bad)]) == 1
    assert "no usable run report" in capsys.readouterr().err


def test_a_contradicted_expectation_is_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_doc((3, 11, 7))
    doc["results"][0]["verdict"] = "refuted"  # expected confirmed
    doc["results"][1]["verdict"] = "inconclusive"  # decides nothing: not a contradiction
    matrix.main([str(write(tmp_path / "r.json", doc))])
    body = {r[0]: r[1] for r in table_rows(capsys.readouterr().out)[2:]}
    assert body["gil.one-thread-at-a-time"] == "refuted*"
    assert body["gil.io-threads-overlap"] == "inconclusive"


def test_hostile_claim_texts_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = "<script>alert('x')</script> | & \""
    doc = run_doc(
        (3, 11, 7),
        results=[{"claim": evil, "verdict": evil, "expected": None, "statement": evil}],
    )
    doc["runtime"]["implementation"] = evil
    matrix.main([str(write(tmp_path / "r.json", doc)), "-o", str(tmp_path)])
    page = (tmp_path / "matrix.html").read_text(encoding="utf-8")
    md = (tmp_path / "matrix.md").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<script" not in md.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "\\|" in md
    assert "http://" not in page and "https://" not in page


def test_python_dash_m_pytest_gil_report_builds_the_matrix(reports: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_gil", "report", *map(str, sorted(reports.glob("*.json")))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| claim or check | 3.10 | 3.12 | 3.13t | 3.13t+GIL | flips |" in proc.stdout
    assert (reports / "matrix.html").is_file()


def test_the_matrix_reads_reports_written_by_real_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two pytest runs with injected runtimes write two reports; the matrix puts them side
    by side."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest(
        """
def pytest_addoption(parser):
    try:
        parser.getgroup("gil").addoption("--gil-report", dest="gil_report", default=None)
    except ValueError:
        pass
"""
    )
    pytester.makepyfile(
        test_claim="""
        import os
        from pytest_gil.report.collect import add_record

        def test_claim():
            ft = os.environ["FT"] == "1"
            add_record({"claim": "gil.one-thread-at-a-time",
                        "verdict": "refuted" if ft else "confirmed",
                        "expected": "refuted" if ft else "confirmed"})
        """
    )
    for ft in ("0", "1"):
        monkeypatch.setenv("FT", ft)
        monkeypatch.setenv(
            "PYTEST_GIL_PROFILE",
            json.dumps({"free_threaded_build": ft == "1", "gil_enabled": ft == "0"}),
        )
        result = pytester.runpytest_subprocess(
            "-p", "pytest_gil.report.collect", "-p", "no:randomly", "--gil-report", "reports"
        )
        result.assert_outcomes(passed=1)
    files = sorted((pytester.path / "reports").glob("gil-*.json"))
    assert len(files) == 2
    assert matrix.main([str(f) for f in files]) == 0
    rows = table_rows(capsys.readouterr().out)
    v = sys.version_info
    assert rows[0] == [
        "claim or check",
        f"{v.major}.{v.minor} (injected)",
        f"{v.major}.{v.minor}t (injected)",
        "flips",
    ]
    assert rows[2] == ["gil.one-thread-at-a-time", "confirmed", "refuted", "yes"]


def test_a_claim_measured_several_ways_gets_a_row_per_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = [
        {"claim": "mp.main-guard", "variant": "spawn", "verdict": "confirmed"},
        {"claim": "mp.main-guard", "variant": "fork", "verdict": "refuted"},
    ]
    matrix.main([str(write(tmp_path / "r.json", run_doc((3, 12, 1), results=results)))])
    body = {r[0]: r[1] for r in table_rows(capsys.readouterr().out)[2:]}
    assert body == {"mp.main-guard (fork)": "refuted", "mp.main-guard (spawn)": "confirmed"}


def test_reports_of_schema_1_and_2_are_read_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Older runs (schema 1: ``document_says``) sit beside new ones (schema 2: ``statement``)."""
    old = write(tmp_path / "gil-cpython-3.12-gil.json", run_doc((3, 12, 1), schema_version=1))
    new = write(
        tmp_path / "gil-cpython-3.13t-nogil.json", run_doc((3, 13, 1), ft=True, gil=False)
    )
    assert matrix.main([str(old), str(new), "-o", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "newer than this pytest-gil reads" not in captured.err
    rows = table_rows(captured.out)
    assert rows[0] == ["claim or check", "3.12", "3.13t", "flips"]
    assert {r[0]: r[1:] for r in rows[2:]}["gil.one-thread-at-a-time"] == [
        "confirmed", "refuted", "yes"
    ]
    page = (tmp_path / "matrix.html").read_text(encoding="utf-8")
    assert "<th>statement</th>" in page
    assert "the statement of gil.not-removed" in page


def test_the_statement_of_a_schema_1_report_reaches_the_page(tmp_path: Path) -> None:
    doc = run_doc((3, 11, 7), schema_version=1)
    assert "document_says" in doc["results"][0]
    matrix.main([str(write(tmp_path / "r.json", doc)), "-o", str(tmp_path)])
    page = (tmp_path / "matrix.html").read_text(encoding="utf-8")
    assert "the statement of gil.io-threads-overlap" in page


def test_a_newer_schema_is_read_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_doc((3, 11, 7), schema_version=99)
    path = write(tmp_path / "r.json", doc)
    assert matrix.main([str(path)]) == 0
    captured = capsys.readouterr()
    assert f"{path}: schema_version 99 is newer than this pytest-gil reads (2)" in captured.err
    assert len(table_rows(captured.out)) == 2 + len(CLAIMS) + 1  # + the standalone check
