"""The claims suite as a benchmark: its wall time, the share inside measured phases, its
verdicts at several ``--gil-scale`` values, and its accuracy over repeated runs (quiet and
beside a CPU hog, through ``benchmarks/soak.py``).

Each run is ``python -m pytest <tests> -q -p no:randomly --gil-report <tmpdir> [extra]`` in a
subprocess from the repository root; its JSON report (``docs/REPORT_SCHEMA.md``) is read and
the temporary directory removed.  A run that times out or is interrupted is killed with its
whole process tree (``soak.kill_tree``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bench_stats
import psutil
import soak

ROOT = Path(__file__).resolve().parent.parent


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return list(os.getloadavg()) if hasattr(os, "getloadavg") else []


def run_suite(python: str, tests: Sequence[str], extra: Sequence[str] = (),
              timeout: float = 900.0) -> dict[str, Any]:
    """One run of the suite; wall time, exit code, the report's records and phase times."""
    import json

    workdir = Path(tempfile.mkdtemp(prefix="gil-bench-suite-"))
    report_dir = workdir / "report"
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [python, "-m", "pytest", *tests, "-q", "-p", "no:randomly",
           "--gil-report", str(report_dir), *extra]
    load_before = loadavg()
    t0 = time.perf_counter()
    timed_out = False
    try:
        with (workdir / "output.txt").open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
            try:
                rc: int | None = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                timed_out, rc = True, None
                soak.kill_tree(psutil.Process(proc.pid))
                proc.wait(30)
            except BaseException:
                soak.kill_tree(psutil.Process(proc.pid))
                proc.wait(30)
                raise
        wall = time.perf_counter() - t0
        text = (workdir / "output.txt").read_text(encoding="utf-8", errors="replace")
        files = sorted(report_dir.glob("gil-*.json"))
        report = json.loads(files[0].read_text(encoding="utf-8")) if files else None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    records = [
        {"key": soak.claim_key(r), "nodeid": r.get("nodeid"), "verdict": r.get("verdict"),
         "expected": r.get("expected"), "outcome": r.get("outcome"),
         "duration": r.get("duration"),
         "detail": str(r.get("detail") or "")[-300:] if r.get("verdict") == "inconclusive"
         else ""}
        for r in (report or {}).get("results") or []
    ]
    return {
        "cmd": " ".join(["python", *cmd[1:]]),
        "wall": wall,
        "exit_code": rc,
        "timed_out": timed_out,
        "tests": soak.pytest_counts(text),
        "load_before": load_before,
        "load_after": loadavg(),
        "has_report": report is not None,
        "capacity": bench_stats.capacity_estimates(report) if report else [],
        "time": bench_stats.suite_phase_time(report) if report else None,
        "counts": bench_stats.verdict_counts(records),
        "records": records,
        "tail": "\n".join(text.strip().splitlines()[-3:]),
    }


def suite_figures(run: dict[str, Any]) -> dict[str, Any]:
    """Shares of the wall time: inside the checks' rounds, inside checks, measuring the
    delivered capacity, measuring in all (rounds + capacity), the rest."""
    t = run.get("time") or {}
    wall = run["wall"]
    out = {"wall": wall}
    if t and wall > 0:
        out.update(
            phases=t["phases"], phase_share=t["phases"] / wall,
            checks=t["checks"], check_share=t["checks"] / wall,
            capacity=t["capacity"], capacity_share=t["capacity"] / wall,
            measured=t["measured"], measured_share=t["measured"] / wall,
            capacity_estimates=t["capacity_estimates"],
            session=t["session"], calibration=t["calibration"],
            startup_and_report=max(0.0, wall - t["session"]),
            unique_checks=t["unique_checks"], rounds=t["rounds"],
            phases_by_kind=t["phases_by_kind"],
        )
    return out


# --------------------------------------------------------------------------------------------
# scale


def scale_runs(python: str, tests: Sequence[str], scales: Sequence[float],
               log: Callable[[str], Any] = print) -> dict[str, Any]:
    rows = []
    for s in scales:
        log(f"  --gil-scale {s:g} …")
        run = run_suite(python, tests, ["--gil-scale", f"{s:g}"])
        rows.append({"scale": s, **{k: run[k] for k in ("wall", "exit_code", "timed_out",
                                                         "tests", "counts", "load_before")},
                     "time": run["time"],
                     "verdicts": {r["key"]: r["verdict"] for r in run["records"]},
                     "expected": {r["key"]: r["expected"] for r in run["records"]}})
    return {"tests": list(tests), "rows": rows, "stability": scale_stability(rows)}


def scale_stability(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Claims whose decided verdicts differ between scales (inconclusive is not a verdict
    that contradicts), and claims inconclusive at some scale."""
    keys = sorted({k for r in rows for k in r["verdicts"]})
    flips, undecided = [], []
    for k in keys:
        vs = {r["scale"]: r["verdicts"].get(k) for r in rows}
        decided = {v for v in vs.values() if v in ("confirmed", "refuted")}
        if len(decided) > 1:
            flips.append({"claim": k, "verdicts": vs})
        elif any(v == "inconclusive" for v in vs.values()):
            undecided.append({"claim": k, "verdicts": vs})
    return {"claims": len(keys), "flips": flips, "inconclusive_somewhere": undecided}


# --------------------------------------------------------------------------------------------
# accuracy (soak.py)


def accuracy(python: str, quiet: int, hog: int, hog_procs: int = 1, timeout: float = 900.0,
             tests: Sequence[str] = ("tests/claims",), interpreter: str = "?",
             log: Callable[[str], Any] = print) -> dict[str, Any]:
    """``quiet`` claims-suite runs back to back, then ``hog`` beside ``hog_procs`` CPU hogs
    (``soak.run_once``), with ``python``; their :func:`accuracy_rates` per condition.
    ``interpreter`` names ``python`` (``3.11``, ``3.13t``) for the goals."""
    args = argparse.Namespace(python=python, tests=list(tests), timeout=timeout, keep=False)
    out: dict[str, Any] = {"python": python, "interpreter": interpreter, "tests": list(tests),
                           "hog_procs": hog_procs}
    for label, n in (("quiet", quiet), ("hog", hog)):
        if n <= 0:
            continue
        runs: list[dict[str, Any]] = []
        loads = [loadavg()]
        with soak.cpu_hog(hog_procs if label == "hog" else 0, python) as pids:
            for i in range(1, n + 1):
                log(f"  accuracy {label} run {i}/{n} …")
                runs.append(soak.run_once(i, args, [], set(pids)))
                loads.append(loadavg())
        out[label] = accuracy_rates(soak.summarise(runs), runs)
        out[label]["loadavg"] = loads
    return out


def _needed_summary(needed: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The rounds the inconclusive verdicts of a claim would have needed (variance estimated,
    ``bench_stats.rounds_needed``) and, at each check's own seconds per round, the time."""
    if not needed:
        return None
    rounds = [n["rounds_t"] for n in needed]
    seconds = [n["rounds_t"] * n["seconds_per_round"] for n in needed]
    return {"rounds_t": bench_stats.spread(rounds), "seconds": bench_stats.spread(seconds),
            "rounds_run": bench_stats.spread(n["rounds"] for n in needed),
            "n": len(needed)}


def _decidable(claims: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The claims expected to be decided (confirmed or refuted), of a run or a summary."""
    return {k: row for k, row in claims.items()
            if set(row.get("expected") or ()) & {"confirmed", "refuted"}}


def run_counts(run: dict[str, Any]) -> dict[str, Any]:
    """One soak run's decidable verdicts, inconclusive and wrong ones (``soak.run_once``)."""
    rows = _decidable(run.get("claims") or {}).values()
    return {
        "run": run.get("run"),
        "verdicts": sum(sum(r["verdicts"].values()) for r in rows),
        "inconclusive": sum(r["verdicts"].get("inconclusive", 0) for r in rows),
        "not_testable": sum(r["verdicts"].get("not-testable", 0) for r in rows),
        "wrong": sum(r["wrong"] for r in rows),
        "exit_code": run.get("exit_code"),
        "duration": run.get("duration"),
        "capacity": run.get("capacity") or [],
    }


def accuracy_rates(summary: dict[str, Any], runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rates over the decidable claims (expected confirmed or refuted) of soak's summary,
    and the counts of each run (:func:`run_counts`)."""
    decisions = wrong = inconclusive = not_testable = 0
    per_claim = {}
    for key, row in _decidable(summary["claims"]).items():
        n = sum(row[v] for v in soak.VERDICTS)
        decisions += n
        wrong += row["wrong"]
        inconclusive += row["inconclusive"]
        not_testable += row["not-testable"]
        if row["wrong"] or row["inconclusive"] or row["not-testable"]:
            per_claim[key] = {"n": n, "wrong": row["wrong"], "inconclusive": row["inconclusive"],
                              "not_testable": row["not-testable"],
                              "needed": _needed_summary(row.get("needed") or []),
                              "stops": dict(row.get("stops") or {})}
    return {
        "runs": summary["runs"],
        "verdicts": decisions,
        "wrong": wrong,
        "inconclusive": inconclusive,
        "not_testable": not_testable,
        "wrong_rate": wrong / decisions if decisions else None,
        "inconclusive_rate": inconclusive / decisions if decisions else None,
        # a decidable claim left undecided either way: what the quiet-run goal counts
        "undecided_rate": (inconclusive + not_testable) / decisions if decisions else None,
        "leaked": summary["leaked"],
        "timed_out": summary["timed_out"],
        "failed_runs": summary["failed_runs"],
        "durations": [r["duration"] for r in runs],
        "per_run": [run_counts(r) for r in runs],
        "claims_not_clean": per_claim,
    }
