"""Soak: the claims suite run N times back to back, counting verdicts, wrong verdicts and leaks.

Each run is ``python -m pytest tests/claims -q -p no:randomly --gil-report <tmpdir>`` in a
subprocess.  After it the script reads the run's JSON report (``gil-*.json``, schema in
``docs/REPORT_SCHEMA.md``; the terminal summary when there is none), and counts per claim
the verdicts ``confirmed`` / ``refuted`` / ``inconclusive`` / ``not-testable`` and the *wrong*
ones: a verdict that is not the expected one and not ``inconclusive``; it keeps the
delivered-capacity estimates the run measured (``bench_stats.capacity_estimates``).  Then it
looks for leaked processes:

* children of this script still alive (the hog aside);
* processes carrying the run's token in their environment (every process the run started
  inherits it, also orphans re-parented to init) that are still alive;
* other Python processes started during the run and still alive are listed as
  *unattributed* (on a shared machine they are usually someone else's), not counted.

``--hog`` runs a CPU hog beside the suite (``--hog-procs`` processes spinning
``while True: pass``), always killed at the end, also on Ctrl-C; a hog also exits by itself if
this script dies.

It prints a table and writes ``reports/soak.json`` (``--out``).  Exit status 0 when no run
produced a wrong verdict, leaked a process, timed out or failed to start; 1 otherwise.

Usage::

    python benchmarks/soak.py --runs 20                 # quiet machine
    python benchmarks/soak.py --runs 10 --hog           # with a CPU hog beside it
    python benchmarks/soak.py --runs 1 --python /tmp/venv313/bin/python -- -x
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import bench_stats
import psutil

REPO = Path(__file__).resolve().parents[1]
TOKEN_VAR = "PYTEST_GIL_SOAK_TOKEN"
VERDICTS = ("confirmed", "refuted", "inconclusive", "not-testable")

HOG = """
import os, threading, time
parent = os.getppid()
def watch():  # never outlive the soak script, even if it is killed with SIGKILL
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
while True:
    pass
"""


# --------------------------------------------------------------------------------------------
# reading a run's outcome


def claim_key(record: dict[str, Any]) -> str:
    """The row a record counts in: the claim id (with its variant), else the check's label."""
    key = record.get("claim") or record.get("label") or record.get("nodeid") or "?"
    variant = record.get("variant")
    return f"{key} [{variant}]" if variant else str(key)


def is_wrong(verdict: str | None, expected: str | None) -> bool:
    """A verdict is wrong when it decides against the expected one: inconclusive and
    not-testable decide nothing (they are counted apart, never as right)."""
    return (expected is not None and verdict != expected
            and verdict not in ("inconclusive", "not-testable"))


def read_reports(directory: Path) -> list[dict[str, Any]] | None:
    """Every ``gil-*.json`` report in ``directory``, parsed; None when there is none."""
    files = sorted(directory.glob("gil-*.json"))
    if not files:
        return None
    return [json.loads(path.read_text(encoding="utf-8")) for path in files]


def records_from_reports(directory: Path) -> list[dict[str, Any]] | None:
    """The results of every ``gil-*.json`` in ``directory``; None when there is none."""
    docs = read_reports(directory)
    if docs is None:
        return None
    return [rec for doc in docs for rec in doc.get("results") or [] if isinstance(rec, dict)]


_ROW = re.compile(
    r"^(?P<title>\S.*?)\s{2,}(?P<verdict>confirmed|refuted|inconclusive|not-testable)"
    r"(?P<bang>!?)(\s|$)"
)


def records_from_terminal(text: str) -> list[dict[str, Any]]:
    """Fallback: the rows of pytest-gil's terminal summary.  Expectations are not printed, so
    a row marked ``!`` (differs from the expected verdict) counts as wrong."""
    records: list[dict[str, Any]] = []
    inside = False
    for line in text.splitlines():
        if re.match(r"^=+ pytest-gil =+$", line):
            inside = True
            continue
        if inside and line.startswith("="):
            break
        m = _ROW.match(line) if inside else None
        if m:
            records.append(
                {
                    "claim": m["title"].strip(),
                    "verdict": m["verdict"],
                    "expected": None,
                    "wrong_from_terminal": bool(m["bang"]),
                }
            )
    return records


def pytest_counts(text: str) -> dict[str, int]:
    """``{"passed": 12, "skipped": 3, ...}`` from pytest's last summary line."""
    counts: dict[str, int] = {}
    for line in reversed(text.splitlines()):
        found = re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|warnings?)", line)
        if found:
            for n, what in found:
                counts[what.rstrip("s") if what.startswith(("error", "warning")) else what] = int(n)
            break
    return counts


# --------------------------------------------------------------------------------------------
# processes


def _environ_token(p: psutil.Process) -> str | None:
    try:
        value = p.environ().get(TOKEN_VAR)
    except (psutil.Error, OSError):
        return None
    return value if isinstance(value, str) else None


def _alive(p: psutil.Process) -> bool:
    try:
        return bool(p.is_running() and p.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _describe(p: psutil.Process) -> str:
    try:
        cmd = " ".join(p.cmdline())[:160]
        return f"pid {p.pid} (parent {p.ppid()}): {cmd}"
    except psutil.Error:
        return f"pid {p.pid}"


def find_leaks(
    token: str, started: float, before: set[int], exclude: set[int], settle: float = 5.0
) -> tuple[list[str], list[str]]:
    """(leaked, unattributed) after a run: see the module docstring.  Waits up to ``settle``
    seconds for processes that are on their way out (pool workers whose parent just died)."""
    deadline = time.monotonic() + settle
    me = psutil.Process()
    while True:
        leaked: dict[int, psutil.Process] = {}
        for child in me.children(recursive=True):
            if child.pid not in exclude and _alive(child):
                leaked[child.pid] = child
        unattributed: list[psutil.Process] = []
        for p in psutil.process_iter(["pid", "name", "create_time"]):
            if p.pid in exclude or p.pid == me.pid or p.pid in leaked or not _alive(p):
                continue
            if _environ_token(p) == token:
                leaked[p.pid] = p
            elif (
                p.pid not in before
                and (p.info.get("create_time") or 0) >= started
                and "python" in (p.info.get("name") or "").lower()
            ):
                unattributed.append(p)
        if not leaked or time.monotonic() > deadline:
            return [_describe(p) for p in leaked.values()], [_describe(p) for p in unattributed]
        time.sleep(0.2)


def kill_tree(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
        proc.kill()


@contextlib.contextmanager
def cpu_hog(processes: int, python: str) -> Iterator[list[int]]:
    """``processes`` subprocesses spinning in pure Python; killed on the way out, always."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(processes):
            procs.append(subprocess.Popen([python, "-c", HOG]))
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            with contextlib.suppress(OSError):
                p.kill()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)


# --------------------------------------------------------------------------------------------
# one run


def run_once(
    index: int, args: argparse.Namespace, extra: Sequence[str], hog_pids: set[int]
) -> dict[str, Any]:
    token = uuid.uuid4().hex
    env = dict(os.environ)
    env[TOKEN_VAR] = token
    env.pop("PYTEST_ADDOPTS", None)
    workdir = Path(tempfile.mkdtemp(prefix=f"gil-soak-{index}-"))
    report_dir = workdir / "report"
    log = workdir / "output.txt"
    cmd = [
        args.python, "-m", "pytest", *args.tests, "-q", "-p", "no:randomly",
        "--gil-report", str(report_dir), *extra,
    ]
    before = {p.pid for p in psutil.process_iter()}
    started = time.time()
    t0 = time.monotonic()
    timed_out = False
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            rc: int | None = proc.wait(args.timeout)
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
            kill_tree(psutil.Process(proc.pid))
            proc.wait(30)
        except BaseException:  # Ctrl-C of the soak: stop the run, then its tree
            kill_tree(psutil.Process(proc.pid))
            proc.wait(30)
            raise
    duration = time.monotonic() - t0
    text = log.read_text(encoding="utf-8", errors="replace")
    leaked, unattributed = find_leaks(token, started, before, hog_pids)

    source = "report"
    try:
        docs = read_reports(report_dir)
    except (OSError, ValueError) as exc:
        docs, source = None, f"report unreadable ({exc}); terminal"
    records: list[dict[str, Any]]
    if docs is None:
        records, source = records_from_terminal(text), "terminal"
    else:
        records = [r for doc in docs for r in doc.get("results") or [] if isinstance(r, dict)]
    capacity = [est for doc in docs or [] for est in bench_stats.capacity_estimates(doc)]

    claims: dict[str, dict[str, Any]] = {}
    for rec in records:
        row = claims.setdefault(
            claim_key(rec), {"verdicts": Counter(), "wrong": 0, "expected": set(), "needed": [],
                             "stops": Counter()}
        )
        verdict, expected = rec.get("verdict"), rec.get("expected")
        row["verdicts"][verdict] += 1
        if verdict == "inconclusive":
            row["stops"].update(_stops(rec))
            if (needed := _needed(rec)) is not None:
                row["needed"].append(needed)
        if expected is not None:
            row["expected"].add(expected)
        if rec.get("wrong_from_terminal") or is_wrong(verdict, expected):
            row["wrong"] += 1
    failures = [line for line in text.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    kept = workdir if args.keep or timed_out or rc != 0 or leaked else None
    if kept is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "run": index,
        "exit_code": rc,
        "timed_out": timed_out,
        "duration": round(duration, 2),
        "tests": pytest_counts(text),
        "failures": failures,
        "source": source,
        "claims": {
            k: {
                "verdicts": dict(v["verdicts"]),
                "wrong": v["wrong"],
                "expected": sorted(v["expected"]),
                "needed": v["needed"],
                "stops": dict(v["stops"]),
            }
            for k, v in sorted(claims.items())
        },
        "wrong": sum(v["wrong"] for v in claims.values()),
        "capacity": capacity,
        "leaked": leaked,
        "unattributed": unattributed,
        "kept": str(kept) if kept else None,
    }


def _stops(rec: dict[str, Any]) -> list[str]:
    """Why an inconclusive claim's checks stopped (``last-look``, ``not-replicated``, …):
    one entry per check that is not itself decided."""
    return [str(c.get("stop") or "?") for c in rec.get("checks") or []
            if isinstance(c, dict) and c.get("verdict") not in ("confirmed", "refuted")]


def _needed(rec: dict[str, Any]) -> dict[str, float] | None:
    """What an inconclusive claim's checks would have needed to reach its expected verdict
    (``bench_stats.rounds_needed``, variance estimated): the fewest rounds among its checks,
    with that check's rounds, elapsed and seconds per round."""
    best: dict[str, float] | None = None
    for check in rec.get("checks") or []:
        if not isinstance(check, dict):
            continue
        need = bench_stats.rounds_needed(check, str(rec.get("expected") or ""))
        if need is None or (best is not None and need["rounds_t"] >= best["rounds_t"]):
            continue
        rounds, elapsed = check.get("rounds") or 0, check.get("elapsed") or 0.0
        best = {"rounds_t": need["rounds_t"], "rounds": rounds, "elapsed": elapsed,
                "seconds_per_round": elapsed / rounds if rounds else math.nan}
    return best


# --------------------------------------------------------------------------------------------
# summary


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    per_claim: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"verdicts": Counter(), "wrong": 0, "expected": set(), "needed": [],
                 "stops": Counter()}
    )
    for run in runs:
        for key, row in run["claims"].items():
            per_claim[key]["verdicts"].update(row["verdicts"])
            per_claim[key]["wrong"] += row["wrong"]
            per_claim[key]["expected"].update(row["expected"])
            per_claim[key]["needed"].extend(row.get("needed") or [])
            per_claim[key]["stops"].update(row.get("stops") or {})
    outcomes: Counter[str] = Counter()
    for row in per_claim.values():
        outcomes.update(row["verdicts"])
    return {
        "runs": len(runs),
        "claims": {
            k: {
                "expected": sorted(v["expected"]),
                **{verdict: v["verdicts"].get(verdict, 0) for verdict in VERDICTS},
                "wrong": v["wrong"],
                "needed": v["needed"],
                "stops": dict(v["stops"]),
            }
            for k, v in sorted(per_claim.items())
        },
        "outcomes": {v: outcomes.get(v, 0) for v in VERDICTS},
        "wrong": sum(r["wrong"] for r in runs),
        "leaked": sum(len(r["leaked"]) for r in runs),
        "timed_out": sum(r["timed_out"] for r in runs),
        "bad_exit": sum(1 for r in runs if r["exit_code"] not in (0, 1) and not r["timed_out"]),
        "failed_runs": sum(1 for r in runs if r["exit_code"] == 1),
    }


def print_table(summary: dict[str, Any], runs: list[dict[str, Any]], hog: bool) -> None:
    claims = summary["claims"]
    width = max([len("claim"), *map(len, claims)])
    head = f"{'claim':<{width}}  {'expected':<12}" + "".join(
        f"{v:>14}" for v in (*VERDICTS, "wrong")
    )
    print(f"\nsoak: {summary['runs']} run(s){' with a CPU hog' if hog else ''}")
    print(head)
    print("-" * len(head))
    for key, row in claims.items():
        expected = ",".join(row["expected"]) or "-"
        cells = "".join(f"{row[v]:>14}" for v in (*VERDICTS, "wrong"))
        print(f"{key:<{width}}  {expected:<12}{cells}")
    print("-" * len(head))
    totals = "".join(f"{summary['outcomes'][v]:>14}" for v in VERDICTS)
    print(f"{'total':<{width}}  {'':<12}{totals}{summary['wrong']:>14}")
    print()
    for run in runs:
        tests = ", ".join(f"{n} {k}" for k, n in run["tests"].items()) or "no summary line"
        state = "TIMED OUT" if run["timed_out"] else f"exit {run['exit_code']}"
        print(
            f"run {run['run']:>3}: {state:<9} {run['duration']:>8.1f} s  {tests}; "
            f"wrong {run['wrong']}, leaked {len(run['leaked'])}"
            + (f", unattributed python processes {len(run['unattributed'])}"
               if run["unattributed"] else "")
            + (f" (from the {run['source']})" if run["source"] != "report" else "")
        )
        for failure in run["failures"]:
            print(f"         {failure[:150]}")
        for leak in run["leaked"]:
            print(f"         leaked: {leak}")
        if run["kept"]:
            print(f"         output kept in {run['kept']}")
    print(
        f"\nwrong verdicts: {summary['wrong']}   leaked processes: {summary['leaked']}   "
        f"timed out: {summary['timed_out']}   runs with failures: {summary['failed_runs']}"
    )


# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs back to back (default 20)")
    parser.add_argument("--hog", action="store_true", help="run a CPU hog beside the suite")
    parser.add_argument(
        "--hog-procs", type=int, default=1, help="processes in the hog (default 1)"
    )
    parser.add_argument(
        "--python", default=sys.executable, help="the interpreter to run pytest with"
    )
    parser.add_argument(
        "--tests", nargs="+", default=["tests/claims"], help="what to run (default tests/claims)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds one run may take (default 3600)"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "reports" / "soak.json", help="the JSON summary"
    )
    parser.add_argument("--keep", action="store_true", help="keep every run's output")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.hog_procs < 1 or args.timeout <= 0:
        parser.error("--runs, --hog-procs and --timeout must be positive")
    return args, extra


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)  # so that the finally blocks kill the hog
    runs: list[dict[str, Any]] = []
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    interrupted = False
    with cpu_hog(args.hog_procs if args.hog else 0, args.python) as hog:
        try:
            for i in range(1, args.runs + 1):
                run = run_once(i, args, extra, set(hog))
                runs.append(run)
                print(
                    f"run {i}/{args.runs}: exit {run['exit_code']}, {run['duration']:.1f} s, "
                    f"wrong {run['wrong']}, leaked {len(run['leaked'])}",
                    flush=True,
                )
        except KeyboardInterrupt:
            interrupted = True
            print("soak interrupted: summarising the runs so far", file=sys.stderr)
    summary = summarise(runs)
    print_table(summary, runs, args.hog)
    doc = {
        "created": started,
        "python": args.python,
        "tests": args.tests,
        "extra_args": extra,
        "hog": args.hog_procs if args.hog else 0,
        "interrupted": interrupted,
        "summary": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"written: {args.out}")
    clean = not (summary["wrong"] or summary["leaked"] or summary["timed_out"]
                 or summary["bad_exit"] or interrupted)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
