"""Smoke test of ``benchmarks/run.py``'s pure parts: the peers' significance test, the outcome
and summary of repeated verdicts, the capacity estimates and phase time read from a report, the
goal evaluation, the Markdown/JSON writers, the child's plumbing (with a synthetic check) and
``--quick --dry-run``.  Nothing is measured or timed, and no duration is asserted."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_format  # noqa: E402
import bench_goals  # noqa: E402
import bench_markdown  # noqa: E402
import bench_peers  # noqa: E402
import bench_questions  # noqa: E402
import bench_stats  # noqa: E402
import bench_suite  # noqa: E402
import bench_verdict  # noqa: E402
import run  # noqa: E402
import soak  # noqa: E402
import verdict_child  # noqa: E402


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


def _capacity(value: float, measured_at: float, seconds: float = 2.0,
              low: float | None = None) -> dict[str, Any]:
    return {"workers": 2, "value": value, "low": value * 0.85 if low is None else low,
            "high": value * 1.15, "alpha": 1e-5, "windows": 24, "window": 0.04, "sd": 0.15,
            "disturbed": 1, "measured_at": measured_at, "seconds": seconds}


def test_suite_phase_time_reads_round_seconds_and_the_capacity_of_a_schema_2_report() -> None:
    check = {"id": "c1", "kind": "release", "label": "sha256 and the GIL", "elapsed": 0.9,
             "raw": [{"seconds": 0.07, "warmup": True}, {"seconds": 0.06},
                     {"seconds": 0.065, "excluded": "noise: steal"}]}
    shared = _capacity(1.6, 1000.0, seconds=2.2)
    report = {
        "session": {"duration": 8.0},
        # both xdist workers record the one estimate they share: counted once
        "calibration": {"gw0": {"scale 1": {"seconds": 0.4}, "capacity 2 workers": shared},
                        "gw1": {"scale 1": {"seconds": 0.5}, "capacity 2 workers": shared}},
        "results": [{"claim": "a", "checks": [check]}, {"claim": "b", "checks": [check]}],
    }
    t = bench_stats.suite_phase_time(report)
    assert t["phases"] == pytest.approx(0.195)
    assert t["unique_checks"] == 1 and t["rounds"] == 3
    assert t["capacity"] == pytest.approx(2.2)
    assert t["measured"] == pytest.approx(0.195 + 2.2)
    assert t["calibration"] == pytest.approx(0.9)  # the capacity is not a calibration
    assert [e["value"] for e in t["capacity_estimates"]] == [1.6]


def test_capacity_estimates_fall_back_on_the_reports_capacity_key() -> None:
    report = {"capacity": {"2": {**_capacity(1.9, 5.0), "process": "main"}}}
    (est,) = bench_stats.capacity_estimates(report)
    assert est["value"] == 1.9 and est["process"] == "main" and est["workers"] == 2
    assert bench_stats.capacity_estimates({}) == []


def test_capacity_summary_counts_estimates_that_found_the_machine_too_busy() -> None:
    ests = [_capacity(1.4, 1.0), _capacity(1.8, 2.0, seconds=3.0),
            _capacity(1.0, 3.0, low=math.nan)]
    c = bench_stats.capacity_summary(ests)
    assert c is not None
    assert c["estimates"] == 3 and c["not_measured"] == 1 and c["disturbed"] == 3
    assert c["value"] == {"median": 1.6, "min": 1.4, "max": 1.8, "n": 2}
    assert c["seconds"]["max"] == 3.0
    assert bench_stats.capacity_summary([]) is None


# --------------------------------------------------------------------------------------------
# repetitions: outcome, answer, summary

SCALING = bench_questions.QUESTIONS["threads"].answers
RELEASE = bench_questions.QUESTIONS["release"].answers


@pytest.mark.parametrize(("verdicts", "answers", "expected", "outcome"), [
    ({"serialized": "confirmed", "parallel": "refuted"}, SCALING, "serialized", "right"),
    ({"serialized": "confirmed", "parallel": "inconclusive"}, SCALING, "serialized", "right"),
    ({"serialized": "inconclusive", "parallel": "refuted"}, SCALING, "serialized",
     "inconclusive"),
    ({"serialized": "inconclusive", "parallel": "confirmed"}, SCALING, "serialized", "wrong"),
    ({"serialized": "refuted", "parallel": "inconclusive"}, SCALING, "serialized", "wrong"),
    ({"serialized": "not-testable", "parallel": "not-testable"}, SCALING, "parallel",
     "not-testable"),
    (None, SCALING, "serialized", "error"),
    ({"serialized": "confirmed", "parallel": "refuted"}, SCALING, None, "wrong"),
    ({"serialized": "inconclusive", "parallel": "inconclusive"}, SCALING, None, "inconclusive"),
    # a release check also carries the scaled test's own hypotheses: only its answers count
    ({"releases": "confirmed", "holds": "refuted", "parallel": "confirmed",
      "serialized": "refuted"}, RELEASE, "releases", "right"),
    ({"releases": "confirmed", "holds": "refuted", "parallel": "confirmed",
      "serialized": "refuted"}, RELEASE, "holds", "wrong"),
])
def test_rep_outcome_follows_soaks_definition_of_wrong(
        verdicts: dict[str, str] | None, answers: dict[str, str], expected: str | None,
        outcome: str) -> None:
    assert bench_stats.rep_outcome(verdicts, answers, expected) == outcome


def test_answer_of_is_none_when_nothing_or_both_are_confirmed() -> None:
    assert bench_stats.answer_of({"holds": "confirmed"}, RELEASE) == "holds"
    assert bench_stats.answer_of({"serialized": "refuted"}, SCALING) is None
    assert bench_stats.answer_of({"serialized": "confirmed", "parallel": "confirmed"},
                                 SCALING) is None


def test_median_to_decided_counts_undecided_repetitions_as_never() -> None:
    assert bench_stats.median_to_decided([0.5, 0.6, 0.7], [True] * 3) == 0.6
    # 2 of 5 undecided: the median is the 3rd fastest decided one
    times = [0.2, 9.0, 0.4, 0.3, 9.0]
    assert bench_stats.median_to_decided(times, [True, False, True, True, False]) == 0.4
    # 3 of 5 undecided, or half of an even count: no median time to a decided verdict
    assert bench_stats.median_to_decided(times, [True, False, True, False, False]) is None
    assert bench_stats.median_to_decided([0.1, 0.2], [True, False]) is None
    assert bench_stats.median_to_decided([], []) is None
    with pytest.raises(ValueError):
        bench_stats.median_to_decided([0.1], [True, False])


def _rep(outcome: str, elapsed: float | None, wall: float | None = None,
         rounds: int | None = 4, capacity_seconds: float | None = None) -> dict[str, Any]:
    return {"outcome": outcome, "elapsed": elapsed, "wall": wall, "rounds": rounds,
            "capacity_seconds": capacity_seconds, "answer": None, "stop": "decided"}


def _numbered(reps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "rep": i} for i, r in enumerate(reps, 1)]


def test_summarise_reps_spreads_only_what_measured() -> None:
    reps = [_rep("right", 0.4, 2.9, 3, 2.0), _rep("right", 0.6, 3.1, 5, 2.2),
            _rep("inconclusive", 4.0, 6.0, 20, 2.1),
            _rep("not-testable", 0.0, 2.5, 0, 2.4), _rep("error", None, None, None)]
    s = bench_stats.summarise_reps(reps)
    assert s["reps"] == 5
    assert s["outcomes"] == {"right": 2, "inconclusive": 1, "wrong": 0, "not-testable": 1,
                             "error": 1}
    assert s["elapsed"] == {"median": 0.6, "min": 0.4, "max": 4.0, "n": 3}
    assert s["rounds"]["max"] == 20
    assert s["capacity_seconds"]["n"] == 4  # paid also when the check was not testable
    assert s["to_decided"] == {"elapsed": None, "wall": None}  # 2 of 5 decided
    s = bench_stats.summarise_reps(reps[:3])
    assert s["to_decided"] == {"elapsed": 0.6, "wall": 3.1}


def test_rep_record_times_the_verdict_from_the_childs_clock() -> None:
    data = {"started": 100.05, "verdict_at": 103.0, "import_seconds": 0.4,
            "capacity_seconds": 2.0, "call_seconds": 0.7, "capacity": _capacity(1.6, 1.0),
            "check": {"verdicts": {"serialized": "confirmed", "parallel": "refuted"},
                      "elapsed": 0.6, "rounds": 4, "stop": "decided", "reason": ""}}
    rec = bench_verdict.rep_record("threads", data, launched=100.0, process_wall=3.2,
                                   expected="serialized")
    assert rec["outcome"] == "right" and rec["answer"] == "serialized"
    assert rec["wall"] == pytest.approx(3.0) and rec["startup_seconds"] == pytest.approx(0.05)
    assert rec["elapsed"] == 0.6 and rec["capacity"]["value"] == 1.6
    # a clock that is not shared with the parent: the process wall stands in
    rec = bench_verdict.rep_record("threads", data, launched=500.0, process_wall=3.2,
                                   expected="parallel")
    assert rec["wall"] == 3.2 and rec["startup_seconds"] is None
    assert rec["outcome"] == "wrong"


def test_rounds_at_best_is_the_known_variance_sample_size() -> None:
    from scipy.stats import norm, t

    from pytest_gil import stats

    logs = [math.log(1.8) + d for d in (-0.2, 0.0, 0.2, -0.1, 0.1)]
    sd = float(np.std(logs, ddof=1))
    best = bench_stats.rounds_at_best(logs, 1.5, "parallel", capacity=True)
    assert best is not None
    z = norm.isf(0.75 * stats.ALPHA_CONFIRM / len(stats.LOOKS))
    assert best["rounds"] == pytest.approx((z * sd / math.log(1.8 / 1.5)) ** 2)
    # with the variance estimated: the first n whose t bound clears the margin
    alpha = 0.75 * stats.ALPHA_CONFIRM / len(stats.LOOKS)
    n = int(best["rounds_t"])
    margin = math.log(1.8 / 1.5)
    assert t.isf(alpha, n - 1) * sd / math.sqrt(n) <= margin
    assert t.isf(alpha, n - 2) * sd / math.sqrt(n - 1) > margin
    assert n > best["rounds"]
    assert bench_stats.rounds_at_best([math.log(1.8)] * 3, 1.5, "parallel",
                                      capacity=True)["rounds_t"] == stats.LOOKS[0]
    thin = [math.log(1.5002) + d for d in (-0.05, 0.0, 0.05)]  # a margin of 1e-4, sd 0.05
    assert bench_stats.rounds_at_best(thin, 1.5, "parallel", capacity=True)["rounds_t"] == (
        bench_stats.T_ROUNDS_MAX)
    # less noise, fewer rounds; no capacity share of α, fewer still; two routes, more
    quiet = [math.log(1.8) + d / 4 for d in (-0.2, 0.0, 0.2, -0.1, 0.1)]
    assert bench_stats.rounds_at_best(quiet, 1.5, "parallel", capacity=True)["rounds"] == (
        pytest.approx(best["rounds"] / 16))
    assert (bench_stats.rounds_at_best(logs, 1.5, "parallel", capacity=False)["rounds"]
            < best["rounds"])
    low = [-x for x in logs]
    assert (bench_stats.rounds_at_best(low, 1 / 1.5, "serialized", capacity=True,
                                       bound_route=True)["rounds"] > best["rounds"])
    # the mean on the wrong side of the bound, or too few rounds: no figure
    assert bench_stats.rounds_at_best(logs, 1.5, "serialized", capacity=True) is None
    assert bench_stats.rounds_at_best(logs[:2], 1.5, "parallel", capacity=True) is None


def test_rep_record_reads_the_bound_of_the_expected_answer() -> None:
    logs = [math.log(x) for x in (0.95, 1.0, 1.05, 0.98)]
    data = {"check": {"kind": "release", "verdicts": {"releases": "refuted", "holds": "confirmed"},
                      "elapsed": 0.6, "rounds": 4, "signal_logs": {"release": logs},
                      "all_bounds": {"releases": {"confirm": 0.7071},
                                     "holds": {"confirm": 0.7071}}}}
    rec = bench_verdict.rep_record("hold", data, launched=0.0, process_wall=1.0,
                                   expected="holds")
    # decided on 2R against √2 (the record's bounds are on R): the mean 1 lies below it
    assert rec["at_best"] == bench_stats.rounds_at_best(logs, 2 * 0.7071, "serialized",
                                                        capacity=False)
    s = bench_stats.summarise_reps([rec])
    assert s["at_best"]["seconds"]["median"] == pytest.approx(
        max(rec["at_best"]["rounds"], 1.0) * 0.6 / 4)
    # "serialized" may be confirmed by the CPU-time bound alone: the quieter signal counts,
    # at half the α
    noisy = [math.log(x) for x in (0.8, 1.3, 0.9, 1.2)]
    steady = [math.log(x) for x in (1.0, 1.01, 0.99, 1.0)]
    data = {"check": {"kind": "scaling", "verdicts": {"serialized": "confirmed"},
                      "elapsed": 0.6, "rounds": 4,
                      "signal_logs": {"speedup": noisy, "cpu_speedup": steady},
                      "all_bounds": {"serialized": {"confirm": 1.41}}}}
    rec = bench_verdict.rep_record("threads", data, launched=0.0, process_wall=1.0,
                                   expected="serialized")
    assert rec["at_best"] == bench_stats.rounds_at_best(steady, 1.41, "serialized",
                                                        capacity=False, bound_route=True)


def test_the_child_reads_the_rounds_the_test_used() -> None:
    raw = [{"warmup": True, "values": {"speedup": 9.0}},
           {"values": {"speedup": 2.0, "cpu_speedup": 2.0}, "excluded": ""},
           {"values": {"speedup": 3.0, "cpu_speedup": 2.0}, "excluded": "foreign load"},
           {"values": {"speedup": 1.0, "cpu_speedup": 1.5}, "excluded": ""}]
    logs = verdict_child.decided_logs({"kind": "scaling", "raw": raw})
    assert logs == {"speedup": [math.log(2.0), 0.0],
                    "cpu_speedup": [math.log(2.0), math.log(1.5)]}
    assert verdict_child.decided_logs({"kind": "release", "raw": raw}) == {}


def test_the_hold_question_borrows_the_threads_peers_with_its_own_answers() -> None:
    peer = {"tool": "pyperf", "claim": "serialized", "answer": "serialized", "right": True,
            "wall": 30.0}
    rows: dict[str, dict[str, Any]] = {
        "threads": {"expected": "serialized", "peers": {"pyperf": peer}},
        "hold": {"expected": "holds"},
    }
    bench_verdict.share_peers(rows)
    got = rows["hold"]["peers"]["pyperf"]
    assert got["answer"] == "holds" and got["right"] is True and got["same_as"] == "threads"
    assert rows["threads"]["peers"]["pyperf"]["answer"] == "serialized"  # not changed


def test_peer_workloads_match_the_engines_phases() -> None:
    from pytest_gil.engine.scaling import POOL_TASKS_PER_WORKER

    assert bench_questions.POOL_TASKS_PER_WORKER == POOL_TASKS_PER_WORKER
    w = bench_questions.QUESTIONS["processes"].peer
    assert w is not None and w.resolved(1234).arg == 1234
    setup, stmt = bench_peers.pyperf_statements(w.resolved(1234), "parallel")
    assert "make_pool(2)" in setup and stmt == f"W.in_pool(pool, W.calc, 1234, {2 * 4})"
    assert bench_peers.peer_ideal(w, usable_cpus=1) == 1.0
    sleep = bench_questions.QUESTIONS["sleep"].peer
    assert sleep is not None and bench_peers.peer_ideal(sleep, usable_cpus=1) == 4.0


def test_expected_answers_follow_the_runtime() -> None:
    gil = bench_questions.expected_answers({"usable_cpus": 2, "gil_enabled": True})
    assert gil == {"threads": "serialized", "processes": "parallel", "sleep": "overlap",
                   "release": "releases", "hold": "holds"}
    ft = bench_questions.expected_answers({"usable_cpus": 4, "gil_enabled": False})
    assert ft["threads"] == "parallel" and ft["release"] is None and ft["hold"] is None
    one = bench_questions.expected_answers({"usable_cpus": 1, "gil_enabled": True})
    assert one["threads"] is None and one["processes"] is None and one["sleep"] == "overlap"


# --------------------------------------------------------------------------------------------
# the child, with a synthetic check (nothing measured)


def _fake_check(verdicts: dict[str, str]) -> Any:
    from pytest_gil.engine.check import Check

    return Check(kind="scaling", label="calc in 2 threads", hypothesis="serialized",
                 verdicts=verdicts, rounds=4, elapsed=0.5, stop="decided")


def test_child_measures_the_capacity_first_only_where_the_check_needs_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import pytest_gil
    from pytest_gil.engine.capacity import CapacityEstimate

    asked: list[tuple[str, int]] = []
    estimate = CapacityEstimate(**{k: v for k, v in _capacity(1.7, 1.0).items()})
    monkeypatch.setattr(pytest_gil, "delivered_capacity", lambda n: estimate, raising=False)

    def measure(question: str, calc_n: int) -> Any:
        asked.append((question, calc_n))
        return _fake_check({"serialized": "confirmed", "parallel": "refuted"})

    monkeypatch.setattr(verdict_child, "measure", measure)
    out = verdict_child.run("threads", 4321)
    assert asked == [("threads", 4321)]
    assert out["capacity"]["value"] == 1.7 and out["capacity_seconds"] >= 0
    assert out["check"]["verdicts"] == {"serialized": "confirmed", "parallel": "refuted"}
    assert out["check"]["rounds"] == 4 and "raw" not in out["check"]
    assert out["started"] <= out["verdict_at"]
    assert verdict_child.run("sleep", 1)["capacity"] is None
    assert verdict_child.main(["hold", "--calc-n", "7"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("BENCH-JSON ") and json.loads(line[11:])["question"] == "hold"


# --------------------------------------------------------------------------------------------
# accuracy counts


def _soak_run(index: int, inconclusive: int, wrong: int) -> dict[str, Any]:
    return {"run": index, "exit_code": 0, "duration": 40.0, "capacity": [_capacity(1.5, 1.0)],
            "claims": {
                "a": {"verdicts": {"confirmed": 1}, "wrong": 0, "expected": ["confirmed"]},
                "b": {"verdicts": {"inconclusive": inconclusive, "refuted": 1 - inconclusive},
                      "wrong": 0, "expected": ["refuted"]},
                "c": {"verdicts": {"refuted": 1}, "wrong": wrong, "expected": ["confirmed"]},
                "d": {"verdicts": {"not-testable": 1}, "wrong": 0,
                      "expected": ["not-testable"]}}}


def test_run_counts_count_decidable_claims_only() -> None:
    c = bench_suite.run_counts(_soak_run(3, inconclusive=1, wrong=1))
    assert (c["run"], c["verdicts"], c["inconclusive"], c["wrong"]) == (3, 3, 1, 1)
    assert c["capacity"][0]["value"] == 1.5


# --------------------------------------------------------------------------------------------
# goals


def _row(qid: str, expected: str | None, reps: list[dict[str, Any]]) -> dict[str, Any]:
    reps = _numbered(reps)
    return {"id": qid, "question": bench_questions.QUESTIONS[qid].text, "expected": expected,
            "reps": reps, "summary": bench_stats.summarise_reps(reps)}


def _accuracy(runs: int, inconclusive: int, wrong: int) -> dict[str, Any]:
    return {"runs": runs, "verdicts": 30 * runs, "inconclusive": inconclusive, "wrong": wrong,
            "inconclusive_rate": inconclusive / (30 * runs), "wrong_rate": wrong / (30 * runs),
            "per_run": [bench_suite.run_counts(_soak_run(i, 0, 0)) for i in range(runs)],
            "durations": [40.0] * runs, "loadavg": [[0.5, 0.5, 0.5]]}


def _result() -> dict[str, Any]:
    fast = [_rep("right", 0.4 + 0.01 * i, 3.0) for i in range(10)]
    analysis = {"test": {"speedup": {"value": 1.01}}, "answer": "serialized", "p": 1e-9,
                "first_decided_after": 3, "would_need_seconds": 4.0}
    threads = _row("threads", "serialized", fast)
    threads["peers"] = {
        "pyperf": {"tool": "pyperf", "claim": "serialized", "answer": "serialized",
                   "right": True, "wall": 30.0, "values": [60, 60], "processes": [20, 20],
                   "says": "not significant (95%)", "analysis": analysis},
        "pytest-benchmark": {"tool": "pytest-benchmark", "claim": None, "answer": None,
                             "right": False, "wall": 2.5, "rounds": [5, 5], "says": "no test",
                             "analysis": {**analysis, "answer": None,
                                          "first_decided_after": None,
                                          "values_needed_per_arm": 12}}}
    hold = _row("hold", "holds", fast)
    bench_verdict.share_peers({"threads": threads, "hold": hold})
    slow_processes = [_rep("right", 2.5, 6.0) for _ in range(10)]
    undecided_sleep = [*fast[:4], *(_rep("inconclusive", 3.0, 4.0, 20) for _ in range(6))]
    return {
        "runtime_label": "CPython 3.11.7 (GIL build, GIL on) · 2 usable CPUs",
        "runtime": {"version_info": [3, 11, 7], "free_threaded_build": False,
                    "usable_cpus": 2, "gil_enabled": True},
        "created": "2026-12-01T00:00:00+00:00", "mode": "full", "elapsed": 12.0,
        "load": {"start": [0.5, 0.6, 0.7], "end": [0.8, 0.7, 0.7]},
        "sections": {
            "verdict": {"reps": 10, "calc_n": 1_700_000, "pyperf_mode": "defaults",
                        "capacity": {"estimates": [_capacity(1.6, 1.0), _capacity(1.8, 2.0)]},
                        "questions": [
                            threads, hold,
                            _row("processes", "parallel", slow_processes),
                            _row("sleep", "overlap", undecided_sleep),
                            _row("release", "releases",
                                 [*fast[:9], _rep("wrong", 0.3, 3.0)])]},
            "suite": {"run": {"cmd": "python -m pytest tests/claims", "exit_code": 0,
                              "counts": {"confirmed": 3},
                              "records": [{"key": "gil.x", "verdict": "inconclusive",
                                           "detail": "speedup 1.5× (budget ran out)"}]},
                      "figures": {"wall": 28.0, "phases": 15.0, "phase_share": 15 / 28,
                                  "capacity": 2.2, "capacity_share": 2.2 / 28,
                                  "measured": 17.2, "measured_share": 17.2 / 28,
                                  "capacity_estimates": [_capacity(1.7, 3.0)],
                                  "checks": 18.0, "check_share": 18 / 28, "session": 26.0,
                                  "startup_and_report": 2.0, "calibration": 0.3,
                                  "unique_checks": 20, "rounds": 150,
                                  "phases_by_kind": {"scaling": 10.0}}},
            "accuracy": {"interpreter": "3.11", "python": "/venv/bin/python", "hog_procs": 1,
                         "quiet": {**_accuracy(10, 3, 0),
                                   "claims_not_clean": {"x": {"n": 10, "wrong": 0,
                                                              "inconclusive": 3}}},
                         "hog": _accuracy(2, 9, 1)},
            "scale": {"tests": ["tests/claims/test_gil.py"], "rows": [
                {"scale": 0.25, "wall": 10.0, "time": {"phases": 2.0, "rounds": 40},
                 "counts": {"confirmed": 5}},
                {"scale": 1.0, "wall": 20.0, "time": {"phases": 8.0, "rounds": 40},
                 "counts": {"confirmed": 5}}],
                "stability": {"claims": 5, "flips": [], "inconclusive_somewhere": []}},
        },
    }


def _statuses(result: dict[str, Any]) -> dict[str, str]:
    return {g["id"]: g["status"] for g in bench_goals.evaluate_goals(result)}


def test_goals_are_evaluated_from_the_figures() -> None:
    st = _statuses(_result())
    assert st["verdict.threads"] == "met" and st["verdict.hold"] == "met"
    assert st["verdict.processes"] == "not met"  # 2.5 s > 2 s
    assert st["verdict.release"] == "not met"  # one wrong verdict breaks it
    assert st["verdict.sleep"] == "not met"  # fast when decided, but 6 of 10 undecided
    assert st["suite.wall"] == "met" and st["suite.measured-share"] == "met"
    assert st["accuracy.3.11.inconclusive"] == "met"  # 3 of 300 = 1%
    assert st["accuracy.3.11.wrong"] == "met"
    assert st["accuracy.3.13.inconclusive"] == "not measured"
    assert st["accuracy.hog.wrong"] == "not met"  # 1 wrong in 2 of 5 runs: already broken
    assert st["scale.stable"] == "met"


def test_goals_over_too_few_repetitions_or_runs_are_not_measured() -> None:
    result = _result()
    rows = result["sections"]["verdict"]["questions"]
    rows[0]["summary"] = bench_stats.summarise_reps(rows[0]["reps"][:3])
    rows[3]["summary"] = bench_stats.summarise_reps(rows[3]["reps"][4:7])  # 3 undecided
    acc = result["sections"]["accuracy"]
    acc["quiet"] = _accuracy(3, 0, 0)
    acc["hog"] = _accuracy(2, 0, 0)
    st = _statuses(result)
    assert st["verdict.threads"] == "not measured"
    assert st["verdict.sleep"] == "not measured"  # 7 more could still make the median
    assert st["accuracy.3.11.inconclusive"] == "not measured"
    assert st["accuracy.3.11.wrong"] == "not measured"
    assert st["accuracy.hog.wrong"] == "not measured"
    acc["quiet"] = _accuracy(3, 0, 2)
    assert _statuses(result)["accuracy.3.11.wrong"] == "not met"


def test_goals_not_testable_here_and_a_slow_suite() -> None:
    result = _result()
    result["sections"]["verdict"]["questions"][0]["expected"] = None
    result["sections"]["suite"]["figures"].update(wall=45.0, measured_share=0.4)
    result["sections"]["accuracy"]["interpreter"] = "3.13"
    st = _statuses(result)
    assert st["verdict.threads"] == "not measured"
    assert st["suite.wall"] == "not met" and st["suite.measured-share"] == "not met"
    assert st["accuracy.3.13.inconclusive"] == "met"
    assert st["accuracy.3.11.inconclusive"] == "not measured"
    assert _statuses({})["suite.wall"] == "not measured"


def test_interpreter_key_names_free_threaded_builds() -> None:
    assert bench_goals.interpreter_key({"version_info": [3, 13, 0],
                                        "free_threaded_build": True}) == "3.13t"
    assert bench_goals.interpreter_key({"version": "3.11.7"}) == "3.11"
    assert bench_goals.interpreter_key({}) == "?"


def test_goal_lines_put_the_status_first() -> None:
    lines = bench_goals.goal_lines(bench_goals.evaluate_goals(_result()))
    assert lines[0].startswith("goals")
    assert any(line.strip().startswith("not met") and "2 processes × calc" in line
               for line in lines)


# --------------------------------------------------------------------------------------------
# writers


def test_markdown_has_a_table_per_section() -> None:
    md = bench_markdown.render(_result())
    for heading in ("## Goals (issue 12)", "## Time to a verdict", "### Side by side",
                    "### The peers' runs", "## Claims suite", "## Accuracy",
                    "## Scale", "## Delivered capacity"):
        assert heading in md
    assert "| 2 threads × calc | serialized | 10/10 right, 0 inconclusive, 0 wrong |" in md
    assert ("| 4 sleeping threads | overlap | 4/10 right, 6 inconclusive, 0 wrong | "
            "3.00 s [400.0 ms–3.00 s] | undecided |") in md
    assert "| 2 processes × calc | 2 processes × calc (parallel)" not in md
    assert "- release #10: wrong (no answer, 4 rounds, stop decided)" in md
    assert "| 30.00 s (the threads run), holds ✓ |" in md
    assert "| releases_gil: a pure-Python loop | pyperf (the threads run) | holds ✓ |" in md
    assert "needs ≈ 12 values per phase" in md
    assert "| time to a verdict (one per CPU-bound repetition) | 2 | 0 | 1.70× [1.60×–1.80×]" in md
    assert "| claims suite | 1 | 0 | 1.70× |" in md
    assert "- gil.x: …speedup 1.5× (budget ran out)" in md
    assert "| **not met** |" in md and "| not measured |" in md
    assert "×0.25" in md  # phases at scale 0.25 relative to scale 1


def test_markdown_tolerates_empty_failed_and_planned_sections() -> None:
    md = bench_markdown.render({"sections": {"suite": {"skipped": "failed: boom"},
                                             "verdict": {"questions": []},
                                             "accuracy": {"plan": "soak × 3"}}})
    assert "failed: boom" in md and "soak × 3" in md
    assert bench_markdown.render({}).startswith("# pytest-gil benchmarks")


def test_spread_text_and_seconds() -> None:
    assert bench_format.spread_text({"median": 0.5, "min": 0.25, "max": 2.0}) == (
        "500.0 ms [250.0 ms–2.00 s]")
    assert bench_format.spread_text({"median": 5, "min": 5, "max": 5}, "") == "5"
    assert bench_format.spread_text(None) == "—"
    assert bench_format.secs(0.0123) == "12.3 ms" and bench_format.secs(None) == "—"


def test_quick_dry_run_writes_json_and_markdown(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--quick", "--dry-run", "--out-dir", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "bench-dry-run.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "pytest-gil-bench" and doc["mode"] == "dry-run"
    assert doc["runtime"]["usable_cpus"] >= 1 and doc["interpreter"].startswith("3.")
    assert set(doc["sections"]) == set(run.SECTIONS)
    plan = "\n".join(doc["sections"]["verdict"]["plan"])
    assert "pyperf timeit" in plan and "verdict_child.py" in plan
    assert doc["sections"]["verdict"]["reps"] == run.QUICK_REPS
    assert {g["status"] for g in doc["goals"]} == {"not measured"}
    md = (tmp_path / "bench-dry-run.md").read_text(encoding="utf-8")
    assert md.startswith("# pytest-gil benchmarks") and "## Reproduce" in md
    assert not (tmp_path / "bench.json").exists()
    assert "goals (issue 12" in capsys.readouterr().out


def test_bench_json_is_strict() -> None:
    doc = run.strict_json({"capacity": [{"low": math.nan, "high": math.inf, "value": 1.0}],
                           "t": (0.5, -math.inf)})
    assert doc == {"capacity": [{"low": None, "high": None, "value": 1.0}], "t": [0.5, None]}
    json.dumps(doc, allow_nan=False)


def test_arguments_are_validated() -> None:
    for bad in (["--only", "nonsense"], ["--scale", "0,1"], ["--reps", "0"],
                ["--python", "/nonexistent/python3"]):
        with pytest.raises(SystemExit):
            run.parse_args(bad)
    args = run.parse_args(["--quick", "--scale", "0.5,2"])
    assert args.scale == [0.5, 2.0] and (args.reps, args.runs, args.hog_runs) == (3, 1, 1)
    args = run.parse_args([])
    assert (args.reps, args.runs, args.hog_runs) == (10, 10, 5)


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for python")
def test_an_interpreter_without_pytest_gil_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named pytest_gil' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    assert run.main(["--dry-run", "--python", str(fake), "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"run.py: error: --python {fake}: cannot import pytest-gil")
    assert "No module named pytest_gil" in err[-1]


def test_not_testable_decides_nothing_and_counts_as_undecided() -> None:
    """A decidable claim left not-testable (say, a machine too busy to measure its capacity) is
    neither right nor wrong; the quiet-run goal counts it with the inconclusive ones."""
    assert not soak.is_wrong("not-testable", "confirmed")
    assert not soak.is_wrong("inconclusive", "refuted")
    assert soak.is_wrong("refuted", "confirmed")
    run = _soak_run(1, inconclusive=0, wrong=0)
    run["claims"]["a"] = {"verdicts": {"not-testable": 1}, "wrong": 0, "expected": ["confirmed"]}
    run.update(leaked=[], timed_out=False, wrong=0)
    rates = bench_suite.accuracy_rates(soak.summarise([run]), [run])
    assert (rates["verdicts"], rates["not_testable"], rates["wrong"]) == (3, 1, 0)
    assert rates["undecided_rate"] == 1 / 3 and rates["inconclusive_rate"] == 0
    assert bench_suite.run_counts(run)["not_testable"] == 1


def test_update_keeps_the_sections_not_measured_now(tmp_path: Path) -> None:
    """``--update`` keeps the other sections of the same interpreter's bench.json and refuses
    another interpreter's."""
    (tmp_path / "bench.json").write_text(json.dumps(
        {"interpreter": "3.11", "sections": {"verdict": {"x": 1}, "accuracy": {"old": 1}}}))
    args = run.parse_args(["--only", "accuracy", "--update", "--out-dir", str(tmp_path)])
    assert run._kept_sections(args, "3.11") == {"verdict": {"x": 1}}
    with pytest.raises(run.UsageError, match=r"3\.13"):
        run._kept_sections(args, "3.13")
    plain = run.parse_args(["--only", "accuracy", "--out-dir", str(tmp_path)])
    assert run._kept_sections(plain, "3.11") == {}


def test_shared_variance_is_bartletts_test_from_the_repetitions_sds() -> None:
    from scipy.stats import bartlett, norm

    rng = np.random.default_rng(3)
    samples = [rng.normal(0.5, sd, n) for sd, n in ((0.1, 16), (0.2, 20), (0.15, 20))]
    z = 3.76
    reps = [{"rounds": len(x), "at_best": {"sd": float(np.std(x, ddof=1)), "z": z}}
            for x in samples]
    sv = bench_stats.shared_variance(reps)
    assert sv is not None and sv["reps"] == 3
    assert sv["bartlett_p"] == pytest.approx(bartlett(*samples).pvalue, rel=1e-9)
    sds = [r["at_best"]["sd"] for r in reps]
    pooled = math.sqrt(sum((len(x) - 1) * s * s for x, s in zip(samples, sds, strict=True))
                       / sum(len(x) - 1 for x in samples))
    assert sv["pooled_sd"] == pytest.approx(pooled)
    assert sv["worst_factor"] == pytest.approx(norm.sf(z * pooled / max(sds)) / norm.sf(z))
    assert sv["worst_factor"] > 1
    # equal spreads: nothing against sharing, no inflation
    same = [{"rounds": 20, "at_best": {"sd": 0.15, "z": z}}] * 4
    sv = bench_stats.shared_variance(same)
    assert sv["bartlett_p"] == pytest.approx(1.0) and sv["worst_factor"] == pytest.approx(1.0)
    assert bench_stats.shared_variance(same[:1]) is None
    assert bench_stats.shared_variance([{"rounds": 3}, {"at_best": None}]) is None


def _undecided_check(speedups: list[float], *, suspect: int = 0) -> dict[str, Any]:
    raw = [{"warmup": True, "values": {}}]
    raw += [{"values": {"speedup": 0.5}, "suspect": True}] * suspect  # excluded
    raw += [{"values": {"speedup": x, "parallelism": 1.9}} for x in speedups]
    return {"kind": "scaling", "claim_tested": "parallel", "rounds": len(speedups),
            "elapsed": 0.4 * len(speedups), "figure": {"name": "speedup"}, "raw": raw,
            "all_bounds": {"parallel": {"confirm": 1.41, "refute": 1.19},
                           "serialized": {"confirm": 1.41, "refute": 1.68}}}


def test_rounds_needed_reads_an_undecided_checks_clean_rounds() -> None:
    speedups = [1.6, 1.3, 1.9, 1.5, 1.7, 1.4] * 3
    check = _undecided_check(speedups, suspect=2)
    need = bench_stats.rounds_needed(check, "confirmed")
    logs = [math.log(x) for x in speedups]
    assert need == bench_stats.rounds_at_best(logs, 1.41, "parallel", capacity=False)
    assert need is not None and need["rounds_t"] > len(speedups)
    # refuting "parallel": its refute bound, the refutations' α — the mean is on the wrong side
    assert bench_stats.rounds_needed(check, "refuted") is None
    low = _undecided_check([1.1, 1.0, 1.2, 1.05])
    refute = bench_stats.rounds_needed(low, "refuted")
    assert refute == bench_stats.rounds_at_best([math.log(x) for x in (1.1, 1.0, 1.2, 1.05)],
                                                1.19, "parallel", capacity=False,
                                                action="refute")
    assert refute is not None and refute["z"] > need["z"]  # α_refute < α_confirm
    # not a scaling check, no expectation to reach, too few rounds: nothing
    assert bench_stats.rounds_needed({**check, "kind": "release"}, "confirmed") is None
    assert bench_stats.rounds_needed(check, "inconclusive") is None
    assert bench_stats.rounds_needed(_undecided_check([1.6, 1.3]), "confirmed") is None


def test_accuracy_reports_what_inconclusive_claims_needed() -> None:
    rec = {"claim": "gil.processes-for-cpu", "verdict": "inconclusive", "expected": "confirmed",
           "checks": [_undecided_check([1.6, 1.3, 1.9, 1.5, 1.7, 1.4] * 3)]}
    needed = soak._needed(rec)
    assert needed is not None and needed["rounds"] == 18
    assert needed["seconds_per_round"] == pytest.approx(0.4)
    summary = {"runs": 1, "leaked": 0, "timed_out": 0, "failed_runs": 0,
               "claims": {"gil.processes-for-cpu": {
                   "expected": ["confirmed"], "confirmed": 1, "refuted": 0,
                   "inconclusive": 1, "not-testable": 0, "wrong": 0, "needed": [needed]}}}
    summary["claims"]["gil.processes-for-cpu"]["stops"] = {"last-look": 1}
    rates = bench_suite.accuracy_rates(summary, [])
    row = rates["claims_not_clean"]["gil.processes-for-cpu"]
    assert row["stops"] == {"last-look": 1}
    assert soak._stops({"checks": [{"verdict": "inconclusive", "stop": "not-replicated"},
                                   {"verdict": "confirmed", "stop": "decided"}]}) == [
        "not-replicated"]
    assert bench_markdown._stops_text({"not-replicated": 1, "last-look": 5}) == (
        " (stopped: last-look 5, not-replicated 1)")
    assert bench_markdown._stops_text({}) == ""
    assert row["needed"]["rounds_t"]["median"] == needed["rounds_t"]
    assert row["needed"]["seconds"]["median"] == pytest.approx(needed["rounds_t"] * 0.4)
    text = bench_markdown._needed_text(row["needed"])
    assert text.startswith(f"; needs {needed['rounds_t']:g} rounds ≈ ") and "(ran 18)" in text
    assert bench_markdown._needed_text(None) == ""
