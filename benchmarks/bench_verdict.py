"""Time to a verdict: pytest-gil on five questions, repeated, beside pyperf and pytest-benchmark.

The questions are those of ``bench_questions`` (2 threads × calc, 2 processes × calc, 4
sleeping threads, ``releases_gil`` on a clear release and on a clear hold).  pytest-gil
answers each ``reps`` times (``--reps``, default 10), every repetition in a fresh interpreter
(``verdict_child.py``), the repetitions interleaved — the first of every question, then the
second, … — so that a slow minute of a shared machine spreads over the questions instead of
falling on one.  Per repetition:

* ``elapsed``: the check's own ``Check.elapsed`` — its rounds and the statistics between
  them, with the session's delivered capacity already known: what a check costs in a session
  that has measured the capacity;
* ``wall``: from launching the interpreter to the verdict — start-up, imports (scipy), the
  capacity (~2 s, questions that compute in parallel), pool start, the check: what the first
  check of a fresh session costs;
* the rounds, the capacity estimate and its cost, and the outcome (right / inconclusive /
  wrong / not-testable / error, :func:`bench_stats.rep_outcome`).

Every calc question times the same calibrated size (one calibration per run, the best of
three in a fresh interpreter), so pytest-gil and the peers time the very same work.  pyperf
and pytest-benchmark then run once per question (``bench_peers``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import bench_peers
import bench_stats
from bench_proc import HERE, ROOT, run_timed, tail
from bench_questions import QUESTIONS, expected_answers

__all__ = ["CHILD", "common_calc_n", "one_rep", "plan", "rep_record", "share_peers",
           "time_to_verdict"]

CHILD = HERE / "verdict_child.py"

REP_TIMEOUT = 120.0
"""Seconds one repetition may take: start-up and capacity take ~3 s and a check stops at its
15 s budget, so only a hung process reaches this."""

CALIBRATION_TIMEOUT = 120.0
"""Seconds the common ``calc`` calibration may take (≈ 1 s)."""

Log = Callable[[str], Any]


def common_calc_n(python: str) -> int:
    """One calibration of ``calc`` to 50 ms (the best of three in a fresh interpreter), used by
    every tool and both calc questions."""
    code = ("from pytest_gil.workloads import DEFAULT_TARGET, calc, size_for; "
            "print(max(size_for(calc, DEFAULT_TARGET, 10_000) for _ in range(3)))")
    _, _, proc = run_timed([python, "-c", code], ROOT, CALIBRATION_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"calibrating calc with {python} failed: {tail(proc.stderr, 2)}")
    return int(proc.stdout.strip().splitlines()[-1])


def rep_record(question: str, data: Mapping[str, Any], launched: float, process_wall: float,
               expected: str | None) -> dict[str, Any]:
    """One repetition's figures from the child's ``BENCH-JSON`` object ``data``: ``launched``
    is the parent's ``perf_counter()`` just before the launch, ``process_wall`` the seconds
    until the child exited.  The child's clock readings are used when they fall inside that
    span (a system-wide clock); otherwise the process wall stands in for the time to the
    verdict."""
    q = QUESTIONS[question]
    check = data.get("check") or {}
    verdicts = {str(k): str(v) for k, v in (check.get("verdicts") or {}).items()}

    def since_launch(t: object) -> float | None:
        if not isinstance(t, (int, float)):
            return None
        d = float(t) - launched
        return d if 0 < d <= process_wall else None

    to_verdict = since_launch(data.get("verdict_at"))
    return {
        "outcome": bench_stats.rep_outcome(verdicts, q.answers, expected),
        "answer": bench_stats.answer_of(verdicts, q.answers),
        "verdicts": verdicts,
        "elapsed": check.get("elapsed"),
        "rounds": check.get("rounds"),
        "suspect_rounds": check.get("suspect_rounds"),
        "stop": check.get("stop"),
        "reason": check.get("reason") or "",
        "figure": check.get("figure"),
        "wall": to_verdict if to_verdict is not None else process_wall,
        "process_wall": process_wall,
        "startup_seconds": since_launch(data.get("started")),
        "import_seconds": data.get("import_seconds"),
        "capacity_seconds": data.get("capacity_seconds"),
        "call_seconds": data.get("call_seconds"),
        "capacity": data.get("capacity"),
        "at_best": _at_best(q, check, expected, capacity=data.get("capacity") is not None),
    }


RELEASE_CLAIMS = {"releases": "parallel", "holds": "serialized"}
"""The side of the engine's test of 2R each release answer is (``_release_verdicts`` in
``pytest_gil.engine.release``: "releases" is 2R ≈ 2, "parallel")."""


def _at_best(q: Any, check: Mapping[str, Any], expected: str | None, *, capacity: bool
             ) -> dict[str, float] | None:
    """:func:`bench_stats.rounds_at_best` of the expected answer, over the signals that may
    decide it alone (the CPU-time bound may confirm "serialized"): the fewest rounds among
    them.  The bound is the answer's confirm bound on the deciding signal's scale (a release
    check reports its bounds on the probe ratio R and decides on 2R:
    ``pytest_gil.engine.release``)."""
    hyp = next((h for h, a in q.answers.items() if a == expected), None)
    bound = ((check.get("all_bounds") or {}).get(hyp) or {}).get("confirm")
    if hyp is None or not isinstance(bound, (int, float)) or bound <= 0:
        return None
    if check.get("kind") == "release":
        bound *= 2.0
    logs = check.get("signal_logs") or {}
    bound_route = hyp == "serialized" and "cpu_speedup" in logs
    signals = [s for s in ("speedup", "release") if s in logs]
    signals += ["cpu_speedup"] if bound_route else []
    claim = RELEASE_CLAIMS.get(hyp, hyp)
    best = [b for s in signals if (b := bench_stats.rounds_at_best(
        logs[s], float(bound), claim, capacity=capacity, bound_route=bound_route)) is not None]
    return min(best, key=lambda b: b["rounds"]) if best else None


def one_rep(question: str, python: str, calc_n: int, expected: str | None) -> dict[str, Any]:
    """One repetition of ``question`` in a fresh interpreter (:func:`rep_record`), or an
    ``error`` outcome saying why the child gave no result."""
    cmd = [python, str(CHILD), question, "--calc-n", str(calc_n)]
    try:
        launched, wall, proc = run_timed(cmd, ROOT, REP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"outcome": "error", "error": f"timed out after {REP_TIMEOUT:g} s"}
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {"outcome": "error", "process_wall": wall,
                "error": tail(proc.stderr or proc.stdout)}
    return rep_record(question, json.loads(line.split(" ", 1)[1]), launched, wall, expected)


def _capacity(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    estimates = [{**rep["capacity"], "question": qid, "rep": rep.get("rep")}
                 for qid, row in rows.items() for rep in row["reps"]
                 if isinstance(rep.get("capacity"), Mapping)]
    return {"estimates": estimates, "summary": bench_stats.capacity_summary(estimates)}


def _peers(rows: dict[str, dict[str, Any]], profile: Mapping[str, Any], python: str,
           calc_n: int, fast: bool, log: Log) -> None:
    """pyperf and pytest-benchmark once per question (``row["peers"]``); a question asked of
    them through another's workload gets that one's results, its answers mapped."""
    cpus = int(profile.get("usable_cpus") or 1)
    cache: dict[Any, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="gil-bench-") as tmp:
        for qid, row in rows.items():
            q = QUESTIONS[qid]
            if q.peer is None:
                continue
            workload = q.peer.resolved(calc_n)
            ideal = bench_peers.peer_ideal(workload, cpus)
            row["peer_workload"] = {**vars(workload), "ideal": ideal}
            if ideal <= 1:
                row["peers_note"] = "not testable: one usable CPU"
                continue
            row["peers"] = bench_peers.run_peers(qid, workload, ideal, q.peer_answers,
                                                 row["expected"], python, Path(tmp), fast,
                                                 cache, log)
    share_peers(rows)


def share_peers(rows: dict[str, dict[str, Any]]) -> None:
    """Give each question asked of the peers through another's workload (``peer_same_as``)
    that one's peer results, with their claim mapped to its own answers and judged against
    its own expectation."""
    for qid, row in rows.items():
        q = QUESTIONS[qid]
        source = rows.get(q.peer_same_as or "")
        if source is None or not source.get("peers"):
            continue
        row["peers"] = {}
        for name, peer in source["peers"].items():
            answer = q.peer_answers.get(peer.get("claim") or "")
            row["peers"][name] = {**peer, "same_as": q.peer_same_as, "answer": answer,
                                  "right": answer is not None and answer == row["expected"]}


def time_to_verdict(profile: Mapping[str, Any], python: str, reps: int, fast_pyperf: bool,
                    questions: Sequence[str] | None = None, peers: bool = True,
                    log: Log = print) -> dict[str, Any]:
    """The verdict section: per question its repetitions and their summary
    (:func:`bench_stats.summarise_reps`), the capacity estimates seen, and the peers."""
    expected = expected_answers(profile)
    calc_n = common_calc_n(python)
    rows: dict[str, dict[str, Any]] = {
        qid: {"id": qid, "question": QUESTIONS[qid].text, "expected": expected[qid],
              "reps": []}
        for qid in (questions or list(QUESTIONS))}
    for rep in range(1, reps + 1):
        for qid, row in rows.items():
            log(f"  pytest-gil, repetition {rep}/{reps}: {qid} …")
            row["reps"].append({"rep": rep, **one_rep(qid, python, calc_n, expected[qid])})
    for row in rows.values():
        row["summary"] = bench_stats.summarise_reps(row["reps"])
    if peers:
        _peers(rows, profile, python, calc_n, fast_pyperf, log)
    return {"reps": reps, "calc_n": calc_n, "pyperf_mode": "--fast" if fast_pyperf else
            "defaults", "capacity": _capacity(rows), "questions": list(rows.values())}


def plan(python: str, reps: int, fast_pyperf: bool) -> list[str]:
    """The commands a run would start (``--dry-run``)."""
    out = [f"{python} -c <calibrate calc to 50 ms, best of 3>",
           f"{reps} × for each of {', '.join(QUESTIONS)}: "
           f"{python} {CHILD.relative_to(ROOT)} QUESTION --calc-n N"]
    fast = "--fast " if fast_pyperf else ""
    for qid, q in QUESTIONS.items():
        if q.peer is None:
            out.append(f"# {qid}: the peers' run of {q.peer_same_as} ({q.peer_note})")
            continue
        w = q.peer.resolved(1_000_000)
        for phase in ("serial", "parallel"):
            setup, stmt = bench_peers.pyperf_statements(w, phase)
            out.append(f"{python} -m pyperf timeit {fast}-s {setup!r} {stmt!r}")
        out.append(f"{python} -m pyperf compare_to serial.json parallel.json")
        out.append(f"{python} -m pytest test_pb_{qid}.py --benchmark-json=bench.json")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """A quick look at some questions with pytest-gil alone (no peers), as JSON."""
    import argparse

    from pytest_gil.profile import runtime_profile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("questions", nargs="*", metavar="QUESTION",
                        help=f"among {', '.join(QUESTIONS)} (default: all)")
    parser.add_argument("--reps", type=int, default=1, help="repetitions (default 1)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.questions) - set(QUESTIONS))
    if unknown:
        parser.error(f"unknown question(s) {', '.join(unknown)}; choose among "
                     f"{', '.join(QUESTIONS)}")
    if args.reps < 1:
        parser.error(f"--reps must be ≥ 1, got {args.reps}")
    result = time_to_verdict(runtime_profile().to_dict(), sys.executable, args.reps, True,
                             args.questions or None, peers=False,
                             log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
