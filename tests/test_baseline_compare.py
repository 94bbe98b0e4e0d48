"""Comparing two run documents check by check (:mod:`pytest_gil.baseline.compare`), the text
of the comparison, and ``python -m pytest_gil compare`` with its exit codes — on synthetic
report documents whose rounds are known."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.baseline import cli
from pytest_gil.baseline.compare import compare_documents, entries, round_values
from pytest_gil.baseline.criteria import parse_criteria
from pytest_gil.baseline.text import comparison_lines

ALPHA = 0.01
RUNTIME = {"implementation": "CPython", "version": "3.11.7", "version_info": [3, 11, 7],
           "free_threaded_build": False, "gil_enabled": True, "usable_cpus": 2}
LABEL = "CPython 3.11.7 (GIL build, GIL on) · 2 usable CPUs"
WIGGLE = (1.0, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.04, 0.96, 1.0)
"""Per-round factors: a known, small spread around each level."""


def rounds(level: float, n: int, signal: str = "speedup") -> list[dict[str, Any]]:
    """A warm-up round and an excluded one far off (both must be ignored), then ``n`` clean
    rounds around ``level``."""
    out: list[dict[str, Any]] = [
        {"values": {signal: level * 5}, "warmup": True, "excluded": ""},
        {"values": {signal: level / 5}, "warmup": False, "excluded": "foreign load"},
    ]
    out += [{"values": {signal: level * WIGGLE[i % len(WIGGLE)]}, "warmup": False,
             "excluded": ""} for i in range(n)]
    return out


def figure(name: str, level: float, n: int, unit: str = "x") -> dict[str, Any]:
    return {"name": name, "value": level, "low": level * 0.9, "high": level * 1.1,
            "unit": unit, "n": n}


def check(label: str, level: float, *, n: int = 6, verdict: str = "confirmed",
          hypothesis: str = "parallel", signal: str = "speedup", unit: str = "x",
          cid: str = "c1", extra: Mapping[str, float] | None = None) -> dict[str, Any]:
    raw = rounds(level, n, signal)
    figures = {signal: figure(signal, level, n, unit)}
    for other, lvl in (extra or {}).items():
        figures[other] = figure(other, lvl, n, "CPUs")
        for r in raw:
            r["values"][other] = lvl
    return {"id": cid, "kind": "scaling", "label": label, "claim_tested": hypothesis,
            "verdict": verdict, "verdicts": {hypothesis: verdict},
            "figure": figures[signal], "figures": figures, "rounds": n, "raw": raw}


def record(nodeid: str, chk: Mapping[str, Any], *, claim: str | None = None,
           variant: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"nodeid": nodeid, "claim": claim, "verdict": chk["verdict"],
                           "figure": chk["figure"], "checks": [dict(chk)]}
    if claim:
        rec["variant"] = variant
    else:
        rec["check"], rec["check_id"] = chk["claim_tested"], chk["id"]
    return rec


def doc(*records: Mapping[str, Any], runtime: Mapping[str, Any] = RUNTIME,
        tag: str = "cpython-3.11-gil", saved: Mapping[str, Any] | None = None,
        scale: float = 1.0) -> dict[str, Any]:
    d: dict[str, Any] = {"schema": "pytest-gil-report", "schema_version": 2, "tag": tag,
                         "runtime": dict(runtime), "runtime_label": LABEL,
                         "settings": {"scale": scale}, "calibration": {},
                         "results": [dict(r) for r in records]}
    if saved is not None:
        d["saved"] = dict(saved)
    return d


SAVED = {"commit": "1a2b3c4", "branch": "main", "dirty": False, "host": "ci-1",
         "cpu_model": "Xeon", "usable_cpus": 2, "capacity": {}, "number": 3,
         "machine_id": "Linux-CPython-3.11-64bit", "created": "2026-12-01T10:00:00+00:00",
         "interpreter": {"label": LABEL, "tag": "cpython-3.11-gil"}}
HERE = {"host": "ci-1", "cpu_model": "Xeon", "usable_cpus": 2, "capacity": {}}


def compare(before: Mapping[str, Any], after: Mapping[str, Any], fail: str = "",
            **kw: Any) -> dict[str, Any]:
    kw.setdefault("current_machine", HERE)
    return compare_documents(before, after, path="base.json", criteria=parse_criteria(fail),
                             alpha=ALPHA, **kw)


SCALES = "t.py::test_scales"


# --------------------------------------------------------------------------------------------
# matching


def test_checks_match_by_node_id_label_and_hypothesis_and_the_rest_is_added_or_removed() -> None:
    before = doc(record(SCALES, check("calc in 2 threads", 1.9)),
                 record("t.py::test_gone", check("old", 1.5)),
                 record(SCALES, check("calc in 2 threads", 1.0, hypothesis="serialized")))
    after = doc(record(SCALES, check("calc in 2 threads", 1.9)),
                record("t.py::test_new", check("new", 1.5)))
    result = compare(before, after)
    assert [(c["nodeid"], c["label"], c["hypothesis"]) for c in result["comparisons"]] == [
        (SCALES, "calc in 2 threads", "parallel")]
    assert result["added"] == [{"nodeid": "t.py::test_new", "label": "new"}]
    assert result["removed"] == [
        {"nodeid": "t.py::test_gone", "label": "old"},
        {"nodeid": SCALES, "label": "calc in 2 threads"},
    ]


def test_claims_match_by_node_id_claim_and_variant() -> None:
    fork = record("t.py::test_claim", check("pool", 1.9), claim="pool.scales", variant="fork")
    spawn = record("t.py::test_claim", check("pool", 1.2), claim="pool.scales",
                   variant="spawn")
    result = compare(doc(fork, spawn), doc(spawn, fork))
    by_label = {c["label"]: c for c in result["comparisons"]}
    assert set(by_label) == {"pool.scales (fork)", "pool.scales (spawn)"}
    for c in by_label.values():
        assert c["claim"] == "pool.scales"
        assert c["ratio"]["value"] == pytest.approx(1.0)


def test_a_label_recorded_twice_in_a_test_is_matched_in_order() -> None:
    twice = doc(record(SCALES, check("calc", 1.9)), record(SCALES, check("calc", 1.2)))
    keys = list(entries(twice))
    assert [e.label for e in entries(twice).values()] == ["calc", "calc #2"]
    assert keys[1][-1] == "#2"
    result = compare(twice, twice)
    assert [c["ratio"]["value"] for c in result["comparisons"]] == [1.0, 1.0]


# --------------------------------------------------------------------------------------------
# the figures


def test_only_clean_rounds_count() -> None:
    chk = check("calc", 2.0, n=4)
    assert round_values(chk, "speedup") == [2.0 * f for f in WIGGLE[:4]]


def test_the_ratio_comes_from_the_rounds_and_a_drop_is_a_regression() -> None:
    result = compare(doc(record(SCALES, check("calc", 1.9))),
                     doc(record(SCALES, check("calc", 1.3, verdict="inconclusive"))))
    c, = result["comparisons"]
    assert c["ratio"]["name"] == "speedup"
    assert c["ratio"]["value"] == pytest.approx(1.3 / 1.9, rel=1e-6)
    assert c["ratio"]["high"] < 1 and c["ratio"]["p_value"] < ALPHA
    assert (c["ratio"]["n_baseline"], c["ratio"]["n_current"]) == (6, 6)
    assert (c["regression"], c["improvement"], c["verdict_changed"]) == (True, False, True)
    assert c["baseline"] == {"verdict": "confirmed", "figure": figure("speedup", 1.9, 6)}
    assert c["current"]["verdict"] == "inconclusive"
    assert c["failed"] == []


def test_a_rise_is_an_improvement_and_the_same_figures_are_neither() -> None:
    up = compare(doc(record(SCALES, check("calc", 1.3))), doc(record(SCALES, check("calc", 1.9))))
    same = compare(doc(record(SCALES, check("calc", 1.9))),
                   doc(record(SCALES, check("calc", 1.9))))
    assert (up["comparisons"][0]["improvement"], up["comparisons"][0]["regression"]) == (
        True, False)
    assert (same["comparisons"][0]["improvement"], same["comparisons"][0]["regression"]) == (
        False, False)


def test_the_key_figure_is_the_one_the_baseline_headlined() -> None:
    before = check("calc", 1.9, extra={"parallelism": 1.95})
    before["figure"] = before["figures"]["parallelism"]
    after = check("calc", 1.3, extra={"parallelism": 1.9})
    c, = compare(doc(record(SCALES, before)), doc(record(SCALES, after)))["comparisons"]
    assert c["ratio"]["name"] == "parallelism"
    assert c["baseline"]["figure"]["name"] == "parallelism"
    assert set(c["signals"]) == {"speedup", "parallelism"}
    assert c["signals"]["speedup"]["ratio"]["value"] == pytest.approx(1.3 / 1.9, rel=1e-6)


def test_a_criterion_on_another_figure_than_the_key_one_still_applies() -> None:
    before = check("calc", 1.9, extra={"parallelism": 1.95})
    before["figure"] = before["figures"]["parallelism"]
    c, = compare(doc(record(SCALES, before)),
                 doc(record(SCALES, check("calc", 1.3, extra={"parallelism": 1.95}))),
                 "speedup:10%")["comparisons"]
    assert c["failed"] == ["speedup:10%"]


def test_the_gate_lists_the_criteria_each_check_broke() -> None:
    before = doc(record(SCALES, check("calc", 1.9)),
                 record("t.py::test_release", check("sha256", 1.0, signal="release",
                                                    hypothesis="releases", unit="× solo")))
    after = doc(record(SCALES, check("calc", 1.3, verdict="inconclusive")),
                record("t.py::test_release", check("sha256", 0.5, signal="release",
                                                   hypothesis="releases", verdict="refuted",
                                                   unit="× solo")))
    result = compare(before, after, "verdict, speedup:10%, released:10%")
    assert result["fail"] == ["verdict", "speedup:10%", "release:10%"]
    failed = {c["label"]: c["failed"] for c in result["comparisons"]}
    assert failed == {"calc": ["verdict", "speedup:10%"], "sha256": ["verdict", "release:10%"]}
    decided = compare(before, after, "verdict:decided")
    assert {c["label"]: c["failed"] for c in decided["comparisons"]} == {
        "calc": [], "sha256": ["verdict:decided"]}


def test_a_latency_that_grew_is_the_regression() -> None:
    before = doc(record(SCALES, check("wake-up", 2.0, signal="latency_ratio")))
    after = doc(record(SCALES, check("wake-up", 4.0, signal="latency_ratio")))
    c, = compare(before, after, "latency_ratio:10%")["comparisons"]
    assert (c["regression"], c["improvement"], c["failed"]) == (True, False,
                                                                ["latency_ratio:10%"])


def test_a_check_without_rounds_compares_its_verdict_only() -> None:
    untestable = {"id": "c9", "kind": "scaling", "label": "calc", "claim_tested": "parallel",
                  "verdict": "not-testable", "figure": None, "figures": {}, "raw": []}
    result = compare(doc(record(SCALES, check("calc", 1.9))),
                     doc(record(SCALES, untestable)), "verdict, speedup:10%")
    c, = result["comparisons"]
    assert c["ratio"]["value"] is None and c["current"]["figure"] is None
    assert c["failed"] == ["verdict"]


def test_a_schema_1_report_is_compared_from_its_round_timings() -> None:
    old_rounds = [{"t_serial": 0.2, "t_parallel": 0.2 / (1.9 * f), "cpu_parallel": 0.1,
                   "warmup": i == 0, "suspect": i == 1} for i, f in enumerate(WIGGLE[:8])]
    old_check = {"kind": "scaling", "label": "calc", "claim_tested": "parallel",
                 "verdict": "confirmed", "speedup": {"value": 1.9, "low": 1.7, "high": 2.1},
                 "rounds": 6, "raw": old_rounds}
    old = doc(record(SCALES, {**old_check, "id": "x", "figure": None}))
    old["schema_version"] = 1
    c, = compare(old, doc(record(SCALES, check("calc", 1.3))))["comparisons"]
    assert c["ratio"]["n_baseline"] == 6
    assert c["ratio"]["value"] == pytest.approx(
        1.3 / 1.9 * math.exp(sum(map(math.log, WIGGLE[:6])) / 6
                             - sum(map(math.log, WIGGLE[2:8])) / 6), rel=1e-6)
    assert c["baseline"]["figure"]["value"] == 1.9


# --------------------------------------------------------------------------------------------
# the context: interpreter, machine, settings


def test_the_same_machine_and_interpreter_give_no_warning() -> None:
    same = doc(record(SCALES, check("calc", 1.9)), saved=SAVED)
    result = compare(same, doc(record(SCALES, check("calc", 1.9))))
    assert (result["same_machine"], result["same_interpreter"], result["warnings"]) == (
        True, True, [])
    assert result["saved"]["number"] == 3 and result["runtime_label"] == LABEL


def test_another_interpreter_is_named_in_a_warning() -> None:
    ft = {**RUNTIME, "free_threaded_build": True, "gil_enabled": False, "version": "3.13.1",
          "version_info": [3, 13, 1]}
    result = compare(doc(record(SCALES, check("calc", 1.9)), saved=SAVED),
                     doc(record(SCALES, check("calc", 1.9)), runtime=ft,
                         tag="cpython-3.13t-nogil"))
    assert result["same_interpreter"] is False
    assert any(w.startswith("another interpreter: the baseline ran on CPython 3.11.7")
               for w in result["warnings"]), result["warnings"]


def test_another_machine_and_another_capacity_are_named() -> None:
    saved = {**SAVED, "capacity": {"2": {"value": 1.95, "low": 1.9, "high": 2.0}}}
    here = {**HERE, "host": "laptop", "capacity": {"2": {"value": 1.4, "low": 1.3,
                                                         "high": 1.5}}}
    result = compare(doc(record(SCALES, check("calc", 1.9)), saved=saved),
                     doc(record(SCALES, check("calc", 1.9))), current_machine=here)
    assert result["same_machine"] is False
    text = "\n".join(result["warnings"])
    assert "another machine: the baseline ran on host ci-1, this run on laptop" in text
    assert "delivered another capacity to 2 workers: 1.95x in the baseline, 1.40x now" in text


def test_a_report_file_without_host_says_the_machine_is_unknown() -> None:
    result = compare(doc(record(SCALES, check("calc", 1.9))),
                     doc(record(SCALES, check("calc", 1.9))))
    assert any("records no host" in w for w in result["warnings"])


def test_another_scale_and_a_criterion_matching_nothing_are_warned_about() -> None:
    result = compare(doc(record(SCALES, check("calc", 1.9)), scale=2.0),
                     doc(record(SCALES, check("calc", 1.9))), "growth:10%")
    text = "\n".join(result["warnings"])
    assert "--gil-scale was 2.0 in the baseline and 1.0 now" in text
    assert "--gil-compare-fail=growth:10%: no compared check has a figure named growth" in text


def test_the_result_has_the_documented_shape() -> None:
    result = compare(doc(record(SCALES, check("calc", 1.9))),
                     doc(record(SCALES, check("calc", 1.3))), "speedup:10%")
    assert set(result) == {"path", "saved", "runtime_label", "same_machine",
                           "same_interpreter", "warnings", "alpha", "fail", "comparisons",
                           "added", "removed"}
    c, = result["comparisons"]
    assert {"nodeid", "label", "claim", "hypothesis", "baseline", "current",
            "verdict_changed", "ratio", "regression", "improvement", "failed"} <= set(c)
    assert set(c["ratio"]) == {"name", "value", "low", "high", "p_value", "n_baseline",
                               "n_current"}
    json.dumps(result, allow_nan=False)  # strict JSON


# --------------------------------------------------------------------------------------------
# the text


def test_the_text_names_a_failing_check_with_its_figures_before_and_after() -> None:
    result = compare(doc(record(SCALES, check("calc", 1.9)), record("t.py::test_ok",
                                                                    check("ok", 1.5))),
                     doc(record(SCALES, check("calc", 1.3)), record("t.py::test_ok",
                                                                    check("ok", 1.5))),
                     "speedup:10%")
    lines = [line for line, _ in comparison_lines(result)]
    assert f"FAILED     {SCALES} [calc]" in lines
    detail = lines[lines.index(f"FAILED     {SCALES} [calc]") + 1]
    assert "speedup 1.90x [1.71, 2.09] -> 1.30x [1.17, 1.43]: ratio 0.68" in detail
    assert detail.endswith("breaks speedup:10%")
    assert not any("test_ok" in line for line in lines)
    assert ("compared 2 checks: 1 failed the gate, 0 regressed, 0 verdict changed, 0 improved, "
            "1 unchanged (-v lists them); 0 added, 0 removed (alpha 0.01)") in lines
    assert lines[-1] == "comparison gate FAILED: 1 check breaks --gil-compare-fail=speedup:10%"
    assert all(line.isascii() for line in lines)
    verbose = [line for line, _ in comparison_lines(result, verbose=True)]
    assert "UNCHANGED  t.py::test_ok [ok]" in verbose


# --------------------------------------------------------------------------------------------
# python -m pytest_gil compare


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    before = write(tmp_path / "before.json", doc(record(SCALES, check("calc", 1.9)),
                                                 saved=SAVED))
    after = write(tmp_path / "after.json", doc(record(SCALES, check("calc", 1.3))))
    return before, after


def main(*args: str | Path) -> int:
    return cli.main([str(a) for a in args])


def test_compare_prints_every_check_and_exits_0_without_a_gate(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(*runs) == 0
    out = capsys.readouterr().out
    assert f"pytest-gil: {runs[1]} compared with {runs[0]}" in out
    assert "baseline: run 0003 of Linux-CPython-3.11-64bit, commit 1a2b3c4 (main)" in out
    assert f"REGRESSED  {SCALES} [calc]" in out


def test_compare_exits_1_when_a_criterion_is_broken(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(*runs, "--fail", "speedup:10%") == 1
    assert "comparison gate FAILED" in capsys.readouterr().out
    assert main(*runs, "--fail", "speedup:50%") == 0
    assert main(runs[0], runs[0], "--fail", "verdict,speedup:10%") == 0


def test_compare_json_is_the_baseline_object(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(*runs, "--json", "--alpha", "0.05", "--fail", "verdict") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["alpha"], data["fail"], data["path"]) == (0.05, ["verdict"], str(runs[0]))
    assert data["comparisons"][0]["regression"] is True


def _bad_inputs(tmp: Path, good: Path) -> list[tuple[list[str], str]]:
    corrupt = write(tmp / "corrupt.json", '{"schema": "pytest-gil-report", "resu')
    foreign = write(tmp / "foreign.json", {"machine_info": {}, "benchmarks": []})
    newer = write(tmp / "newer.json", {**doc(), "schema_version": 3})
    return [
        ([str(tmp / "missing.json"), str(good)], f"{tmp / 'missing.json'}: no such file"),
        ([str(tmp), str(good)], f"{tmp}: is a directory, not a report file"),
        ([str(corrupt), str(good)], f"{corrupt}: not valid JSON (truncated or corrupt?)"),
        ([str(good), str(foreign)],
         f'{foreign}: not a pytest-gil report (no "schema": "pytest-gil-report")'),
        ([str(newer), str(good)],
         f"{newer}: report schema_version 3; this pytest-gil compares schema 1 or 2"),
        ([str(good), str(good), "--fail", "speed"], "invalid value 'speed' for --fail"),
        ([str(good), str(good), "--alpha", "0.9"], "invalid value 0.9 for --alpha"),
    ]


def test_compare_exits_2_with_one_line_on_a_usage_error(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in _bad_inputs(tmp_path, runs[0]):
        assert main(*args) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"python -m pytest_gil compare: error: {message}"), err
        assert len(err.splitlines()) == 1, err


def _module(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_gil", "compare", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("extra", "code"), [((), 0), (("--fail", "speedup:10%"), 1),
                                             (("--fail", "speed"), 2)])
def test_python_dash_m_pytest_gil_compare_returns_the_exit_code(
    runs: tuple[Path, Path], extra: Sequence[str], code: int
) -> None:
    done = _module(*runs, *extra)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr


def test_python_dash_m_pytest_gil_compare_without_arguments_is_a_usage_error() -> None:
    done = _module()
    assert done.returncode == 2
    assert "python -m pytest_gil compare: error:" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_comparison_does_not_change_its_inputs() -> None:
    before = doc(record(SCALES, check("calc", 1.9)))
    after = doc(record(SCALES, check("calc", 1.3)))
    copies = copy.deepcopy((before, after))
    compare(before, after, "verdict")
    assert (before, after) == copies
