"""Smoke test of ``benchmarks/run.py``'s pure parts: the peers' significance test, the phase
time read from a report, the goal checks, the Markdown/JSON writers and ``--quick --dry-run``.
Nothing is timed and no duration is asserted."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_markdown  # noqa: E402
import bench_stats  # noqa: E402
import bench_suite  # noqa: E402
import run  # noqa: E402


def _times(mean: float, sd: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [mean * math.exp(rng.gauss(0, sd)) for _ in range(n)]


# --------------------------------------------------------------------------------------------
# statistics on the peers' samples


def test_two_sample_confirms_serialized_for_equal_times() -> None:
    res = bench_stats.two_sample(_times(0.1, 0.02, 20, 1), _times(0.1, 0.02, 20, 2), 2.0)
    assert res["answer"] == "serialized"
    assert res["verdicts"] == {"serialized": "confirmed", "parallel": "refuted"}
    assert res["p"]["serialized"] < 1e-3
    assert res["speedup"]["low"] < res["speedup"]["value"] < res["speedup"]["high"] < math.sqrt(2)


def test_two_sample_confirms_parallel_for_halved_times() -> None:
    res = bench_stats.two_sample(_times(0.1, 0.02, 10, 3), _times(0.05, 0.02, 10, 4), 2.0)
    assert res["answer"] == "parallel"
    assert res["verdicts"]["serialized"] == "refuted"
    assert 1.8 < res["speedup"]["value"] < 2.2


def test_two_sample_is_inconclusive_between_the_bounds_and_with_few_noisy_values() -> None:
    # true speedup √2: on the confirm bound of both claims
    res = bench_stats.two_sample(_times(0.1414, 0.01, 30, 5), _times(0.1, 0.01, 30, 6), 2.0)
    assert res["answer"] is None
    noisy = bench_stats.two_sample(_times(0.1, 0.3, 3, 7), _times(0.05, 0.3, 3, 8), 2.0)
    assert noisy["answer"] is None


def test_two_sample_handles_identical_values_and_rejects_bad_input() -> None:
    res = bench_stats.two_sample([0.1, 0.1], [0.1, 0.1], 2.0)
    assert res["answer"] == "serialized"
    with pytest.raises(ValueError):
        bench_stats.two_sample([0.1], [0.1, 0.1], 2.0)
    with pytest.raises(ValueError):
        bench_stats.two_sample([0.1, 0.1], [0.1, 0.1], 1.0)


def test_needed_per_arm_grows_with_noise_and_prefix_finds_the_first_decision() -> None:
    quiet = bench_stats.two_sample(_times(0.1, 0.01, 5, 9), _times(0.05, 0.01, 5, 10), 2.0)
    noisy = bench_stats.two_sample(_times(0.1, 0.2, 5, 11), _times(0.05, 0.2, 5, 12), 2.0)
    n_quiet, n_noisy = bench_stats.needed_per_arm(quiet), bench_stats.needed_per_arm(noisy)
    assert n_quiet is not None and n_noisy is not None and n_quiet < n_noisy
    groups_s = [[x] for x in _times(0.1, 0.01, 10, 13)]
    groups_p = [[x] for x in _times(0.05, 0.01, 10, 14)]
    found = bench_stats.prefix_decision(groups_s, groups_p, 2.0)
    assert found is not None and 2 <= found[0] <= 10 and found[1]["answer"] == "parallel"
    assert bench_stats.prefix_decision([[0.1]], [[0.1]], 2.0) is None


# --------------------------------------------------------------------------------------------
# reading a claims-suite report


def _report() -> dict[str, Any]:
    scaling = {"kind": "scaling", "label": "calc in 2 threads", "elapsed": 1.0,
               "raw": [{"t_serial": 0.1, "t_parallel": 0.1, "noise": {"foreign_cpu": 0.0}},
                       {"t_serial": 0.1, "t_parallel": 0.2, "noise": {"foreign_cpu": 0.1}}]}
    latency = {"kind": "latency", "label": "wake-up", "elapsed": 0.5, "tasks": 6, "sleep": 0.002,
               "raw": [{"mean_latency": {"1ms": 0.001, "20ms": 0.02}}]}
    growth = {"kind": "payload", "label": "payload", "elapsed": 0.4,
              "raw": [{"process_small": 0.01, "process_big": 0.05, "thread_small": 0.0,
                       "thread_big": 0.0, "process_growth": 5.0}]}
    return {
        "session": {"duration": 5.0},
        "calibration": {"main": {"scale 1": {"seconds": 0.3}}},
        "results": [
            {"claim": "a", "verdict": "confirmed", "expected": "confirmed", "duration": 1.2,
             "checks": [scaling]},
            {"claim": "b", "verdict": "refuted", "expected": "confirmed", "duration": 0.1,
             "checks": [dict(scaling)]},  # the same measurement, shared: counted once
            {"claim": "c", "verdict": "inconclusive", "expected": "refuted", "duration": 0.6,
             "checks": [latency, growth, {"kind": "functional", "observations": []}]},
            {"claim": "d", "verdict": "not-testable", "expected": "not-testable",
             "duration": 0.0, "checks": []},
        ],
    }


def test_suite_phase_time_counts_shared_checks_once() -> None:
    t = bench_stats.suite_phase_time(_report())
    lat = 7 * (0.002 + 0.001) + 7 * (0.002 + 0.02)
    assert t["phases"] == pytest.approx(0.5 + lat + 3 * 0.06)
    assert t["checks"] == pytest.approx(1.9)
    assert t["unique_checks"] == 4
    assert t["calibration"] == pytest.approx(0.3)
    assert t["session"] == 5.0
    assert t["tests"] == pytest.approx(1.9)
    assert t["scaling_round_seconds"] == pytest.approx(0.25)


def test_verdict_counts_follow_soaks_definition_of_wrong() -> None:
    c = bench_stats.verdict_counts(_report()["results"])
    assert c["wrong"] == 1 and c["inconclusive"] == 1 and c["decidable"] == 3


def test_scale_stability_finds_flips_not_inconclusives() -> None:
    rows = [{"scale": 0.25, "verdicts": {"a": "confirmed", "b": "inconclusive"}},
            {"scale": 1.0, "verdicts": {"a": "refuted", "b": "confirmed"}}]
    st = bench_suite.scale_stability(rows)
    assert [f["claim"] for f in st["flips"]] == ["a"]
    assert [u["claim"] for u in st["inconclusive_somewhere"]] == ["b"]


# --------------------------------------------------------------------------------------------
# goals and writers


def _result() -> dict[str, Any]:
    analysis = {"test": {"speedup": {"value": 1.01}}, "answer": "serialized", "p": 1e-9,
                "first_decided_after": 3, "would_need_seconds": 4.0}
    return {
        "runtime_label": "CPython 3.11.7 (GIL build, GIL on) · 2 usable CPUs",
        "created": "2026-11-26T00:00:00+00:00", "mode": "quick", "elapsed": 12.0,
        "load": {"start": [0.5, 0.6, 0.7], "end": [0.8, 0.7, 0.7]},
        "sections": {
            "verdict": {"pyperf_mode": "--fast", "questions": [{
                "question": "do 2 threads speed up calc?", "expected": "serialized",
                "tools": {
                    "pytest-gil": {"answer": "serialized", "right": True, "rounds": 3,
                                   "suspect_rounds": 0, "measure_seconds": 0.6, "wall": 1.9,
                                   "speedup": {"value": 1.0}},
                    "pyperf": {"answer": "serialized", "right": True, "wall": 30.0,
                               "values": [60, 60], "processes": [20, 20],
                               "says": "not significant (95%)", "analysis": analysis},
                    "pytest-benchmark": {"answer": None, "right": False, "wall": 2.5,
                                         "rounds": [5, 5], "says": "no test",
                                         "analysis": {**analysis, "answer": None,
                                                      "first_decided_after": None,
                                                      "values_needed_per_arm": 12}},
                }}]},
            "suite": {"run": {"cmd": "python -m pytest tests/claims", "exit_code": 0,
                              "counts": {"confirmed": 3},
                              "records": [{"key": "gil.x", "verdict": "inconclusive",
                                           "detail": "speedup 1.5× (budget ran out)"}]},
                      "figures": {"wall": 40.0, "phases": 26.0, "phase_share": 0.65,
                                  "checks": 30.0, "check_share": 0.75, "session": 38.0,
                                  "startup_and_report": 2.0, "calibration": 0.3,
                                  "unique_checks": 20, "rounds": 150,
                                  "phases_by_kind": {"scaling": 20.0}}},
            "accuracy": {"hog_procs": 1,
                         "quiet": {"runs": 1, "verdicts": 30, "wrong": 0, "inconclusive": 2,
                                   "wrong_rate": 0.0, "inconclusive_rate": 2 / 30,
                                   "durations": [40.0], "loadavg": [[0.5, 0.5, 0.5]],
                                   "claims_not_clean": {"x": {"n": 1, "wrong": 0,
                                                              "inconclusive": 1}}}},
            "harness": {"default_start_method": "fork",
                        "thread_skew": [{"threads": 1, "sleep": {
                            "skew": {"median": 1e-6, "max": 2e-6},
                            "lag": {"median": 5e-5, "max": 1e-4}}}],
                        "dispatch": [{"workers": 1, "round_trip": {"median": 2e-4, "max": 1e-3},
                                      "per_task_in_batch": {"median": 1e-4, "max": 2e-4},
                                      "skew": {"median": 1e-4, "max": 2e-4}}],
                        "interpreters": {"available": False, "reason": "no API on 3.11"},
                        "calibration": [{"scale": 1.0, "target": 0.05,
                                         "seconds": {"median": 0.8, "max": 1.0}}],
                        "growth": {"thread start skew (sleep tasks)":
                                   {"from": 2, "to": 16, "ratio": 3.0}}},
            "scale": {"tests": ["tests/claims/test_gil.py"], "rows": [
                {"scale": 0.25, "wall": 10.0, "time": {"phases": 2.0, "rounds": 40},
                 "counts": {"confirmed": 5}},
                {"scale": 1.0, "wall": 20.0, "time": {"phases": 8.0, "rounds": 40},
                 "counts": {"confirmed": 5}}],
                "stability": {"claims": 5, "flips": [], "inconclusive_somewhere": []}},
        },
    }


def test_goals_are_evaluated_from_the_figures() -> None:
    goals = {g["goal"]: g["met"] for g in bench_markdown.evaluate_goals(_result())}
    assert goals["right verdict at α ≤ 1e-3 in < 1 s: do 2 threads speed up calc?"] is True
    assert goals["claims suite wall time (default scale, 2 CPUs)"] is True
    assert goals["share of the suite inside measured phases"] is True
    assert goals["no wrong verdicts (quiet)"] is True
    assert goals["verdicts stable and right across --gil-scale"] is True
    result = _result()
    result["sections"]["scale"]["rows"][0]["counts"]["wrong"] = 1
    goals = {g["goal"]: g["met"] for g in bench_markdown.evaluate_goals(result)}
    assert goals["verdicts stable and right across --gil-scale"] is False


def test_markdown_has_a_table_per_section() -> None:
    md = bench_markdown.render(_result())
    for heading in ("## Goals", "## Time to a verdict", "## Claims suite", "## Accuracy",
                    "## Harness cost", "## Scale"):
        assert heading in md
    assert "| do 2 threads speed up calc? | pyperf | serialized ✓ |" in md
    assert "needs ≈ 12 values per phase" in md
    assert "- gil.x: …speedup 1.5× (budget ran out)" in md
    assert "×0.25" in md  # phases at scale 0.25 relative to scale 1
    assert "×3.0 (2 → 16)" in md and "| 1 | 1 µs / 2 µs |" in md
    assert bench_markdown.secs(0.0123) == "12.3 ms" and bench_markdown.secs(None) == "—"


def test_markdown_tolerates_empty_and_failed_sections() -> None:
    md = bench_markdown.render({"sections": {"suite": {"skipped": "failed: boom"},
                                             "verdict": {"skipped": "failed"}}})
    assert "failed: boom" in md


def test_quick_dry_run_writes_json_and_markdown(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--quick", "--dry-run", "--out-dir", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "bench-dry-run.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "pytest-gil-bench" and doc["mode"] == "dry-run"
    assert doc["runtime"]["usable_cpus"] >= 1
    assert set(doc["sections"]) == set(run.SECTIONS)
    assert "pyperf timeit" in "\n".join(doc["sections"]["verdict"]["plan"])
    md = (tmp_path / "bench-dry-run.md").read_text(encoding="utf-8")
    assert md.startswith("# pytest-gil benchmarks") and "## Reproduce" in md
    assert not (tmp_path / "bench.json").exists()


def test_arguments_are_validated() -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "nonsense"])
    with pytest.raises(SystemExit):
        run.parse_args(["--scale", "0,1"])
    args = run.parse_args(["--quick", "--scale", "0.5,2"])
    assert args.scale == [0.5, 2.0] and args.runs == 1 and args.hog_runs == 1
