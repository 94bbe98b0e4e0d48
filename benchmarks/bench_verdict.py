"""Time to a verdict: pytest-gil against pyperf and pytest-benchmark on the same questions.

Three questions, each on the workload the claims suite uses:

* ``threads``   — do 2 threads speed up ``calc``?  (2 × ``calc(n)``, ``n`` calibrated to 50 ms)
* ``processes`` — do 2 processes speed up ``calc``?  (a warm 2-worker process pool)
* ``sleep``     — do 4 sleeping threads overlap?  (4 × ``worker(0.02)``)

Every tool runs in a subprocess of its own and is timed end to end (interpreter start,
imports, calibration, pool start, measuring, deciding):

* **pytest-gil**: ``measure_scaling`` / ``measure_overlap`` at the default α (1e-3 to confirm,
  1e-4 to refute); it stops at its first decision.  Its own figures (rounds, seconds inside
  the measurement) are reported beside the end-to-end time.
* **pyperf**: ``pyperf timeit`` with its defaults (20 worker processes × (1 warm-up + 3
  values) of ≥ 100 ms, after a calibration process) for the serial and the parallel phase,
  then ``pyperf compare_to`` (a two-sided Student t at 95%: "significant or not", no claim).
  The serial ``calc`` benchmark serves both ``calc`` questions; its time counts in both.
* **pytest-benchmark**: a generated test file with its defaults (calibrated iterations,
  ≥ 5 rounds, 1 s per benchmark), run with ``--benchmark-json``; it decides nothing.

To put the three on one scale, the engine's claim test is applied to the peers' samples
(Welch's t on log times, :func:`bench_stats.two_sample`, at α = 1e-3 / 1e-4): what claim the
samples confirm and at which p, after how many worker processes / rounds they would first
have confirmed it (:func:`bench_stats.prefix_decision`), and, when the run's defaults do not
reach α = 1e-3, how many values they would need (:func:`bench_stats.needed_per_arm`).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import bench_stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SLEEP = 0.02
"""Seconds one sleeping task waits, as in the claims suite (``tests/claims/test_gil.py``)."""
SMALL_SCALE = 0.25
"""pytest-gil is also timed on the calc questions at this ``--gil-scale`` (tasks of 12.5 ms):
how fast a verdict can be when the task size, not the statistics, sets the pace."""

QUESTIONS: dict[str, dict[str, Any]] = {
    "threads": {"question": "do 2 threads speed up calc?", "executor": "thread",
                "fn": "calc", "k": 2},
    "processes": {"question": "do 2 processes speed up calc?", "executor": "process",
                  "fn": "calc", "k": 2},
    "sleep": {"question": "do 4 sleeping threads overlap?", "executor": "thread",
              "fn": "worker", "k": 4},
}

OURS = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import pytest_gil
    from pytest_gil import stats  # numpy + scipy: part of the cost
    from pytest_gil.workloads import DEFAULT_TARGET, calc, size_for, worker
    t_import = time.perf_counter() - t0
    question, sleep, scale = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    given = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    out = {"import": t_import, "calibration": 0.0, "pool_start": 0.0, "n": None}
    if question == "sleep":
        r = pytest_gil.measure_overlap(worker, sleep, tasks=4, executor="thread")
    else:
        # Calibrate as a user would (timed); measure with the run's common size when given,
        # so that every tool and both calc questions time the very same work.
        t1 = time.perf_counter()
        n = size_for(calc, DEFAULT_TARGET * scale, 10_000)
        out["calibration"], out["calibrated_n"] = time.perf_counter() - t1, n
        if given:
            n = max(1, int(given * scale))
        out["n"] = n
        pool = None
        if question == "processes":
            import concurrent.futures as cf
            from pytest_gil.runtimes.pools import terminate_executor
            from pytest_gil.runners import warm_executor
            t1 = time.perf_counter()
            pool = cf.ProcessPoolExecutor(max_workers=2)
            warm_executor(pool, 2, ["pytest_gil.workloads", "pytest_gil.runtimes.timeline"])
            out["pool_start"] = time.perf_counter() - t1
        try:
            r = pytest_gil.measure_scaling(calc, n, workers=2,
                                       executor="thread" if question == "threads" else "process",
                                       pool=pool)
        finally:
            if pool is not None:
                terminate_executor(pool)
    d = r.to_dict()
    d.pop("raw", None)
    d.pop("runtime", None)
    out.update(result=d, verdicts=dict(r.verdicts), rounds=r.rounds,
               suspect=r.suspect_rounds, elapsed=r.elapsed,
               warmup=r.raw[0]["t_serial"] + r.raw[0]["t_parallel"] if r.raw else 0,
               phases=sum(x["t_serial"] + x["t_parallel"] for x in r.raw))
    print("BENCH-JSON " + json.dumps(out))
""")


def expected_answers(profile: dict[str, Any]) -> dict[str, str | None]:
    """The claim each question should confirm on this runtime (None: not testable)."""
    cpus = int(profile.get("usable_cpus") or 1)
    threads_scale = not profile.get("gil_enabled", True)
    return {
        "threads": None if cpus < 2 else ("parallel" if threads_scale else "serialized"),
        "processes": None if cpus < 2 else "parallel",
        "sleep": "parallel",
    }


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run(cmd: list[str], cwd: Path, timeout: float
         ) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    return time.perf_counter() - t0, proc


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# pytest-gil


def ours(question: str, python: str, n: int | None = None, scale: float = 1.0,
         timeout: float = 300.0) -> dict[str, Any]:
    """pytest-gil on one question in a subprocess; ``n``: the calc size to measure (at scale
    1; multiplied by ``scale``), else the subprocess's own calibration."""
    cmd = [python, "-c", OURS, question, str(SLEEP), f"{scale:g}", *([str(n)] if n else [])]
    wall, proc = _run(cmd, ROOT, timeout)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {"tool": "pytest-gil", "error": _tail(proc.stderr or proc.stdout), "wall": wall}
    data = json.loads(line.split(" ", 1)[1])
    v = data["verdicts"]
    answer = next((c for c in ("serialized", "parallel") if v.get(c) == "confirmed"), None)
    res = data["result"]
    return {
        "tool": "pytest-gil",
        "wall": wall,
        "answer": answer,
        "verdicts": {"serialized": v.get("serialized"), "parallel": v.get("parallel")},
        "speedup": res.get("speedup"),
        "alpha": res.get("alpha"),
        "rounds": data["rounds"],
        "suspect_rounds": data["suspect"],
        "measure_seconds": data["elapsed"],
        "phase_seconds": data["phases"],
        "import_seconds": data["import"],
        "calibration_seconds": data["calibration"],
        "pool_start_seconds": data["pool_start"],
        "calc_n": data["n"],
        "calibrated_n": data.get("calibrated_n"),
        "scale": scale,
        "reason": res.get("reason", ""),
        "confidence": "α 1e-3 confirm / 1e-4 refute (Bonferroni over 9 looks)",
    }


# --------------------------------------------------------------------------------------------
# pyperf


def _pyperf_stmt(question: str, n: int | None, phase: str) -> tuple[str, str]:
    setup = "import peer_workloads as W"
    arg = f"{n}" if question != "sleep" else f"{SLEEP}"
    fn = "W.calc" if question != "sleep" else "W.worker"
    k = QUESTIONS[question]["k"]
    if phase == "serial":
        return setup, f"W.serial({fn}, {arg}, {k})"
    if question == "processes":
        return setup + "; pool = W.make_pool(2)", f"W.in_pool(pool, {fn}, {arg}, {k})"
    return setup, f"W.in_threads({fn}, {arg}, {k})"


def _pyperf_runs(path: Path) -> list[list[float]]:
    import pyperf  # type: ignore[import-untyped]

    bench = pyperf.Benchmark.load(str(path))
    return [list(run.values) for run in bench.get_runs() if run.values]


def pyperf_timeit(question: str, phase: str, n: int | None, python: str, workdir: Path,
                  fast: bool, timeout: float = 900.0) -> dict[str, Any]:
    setup, stmt = _pyperf_stmt(question, n, phase)
    out = workdir / f"pyperf-{question}-{phase}.json"
    out.unlink(missing_ok=True)
    cmd = [python, "-m", "pyperf", "timeit", "--name", "phase", "-o", str(out),
           "--inherit-environ", "PYTHONPATH", *(["--fast"] if fast else []), "-s", setup, stmt]
    wall, proc = _run(cmd, workdir, timeout)
    if proc.returncode != 0 or not out.exists():
        return {"wall": wall, "error": _tail(proc.stderr or proc.stdout), "cmd": cmd}
    runs = _pyperf_runs(out)
    warnings = [x.strip() for x in (proc.stdout + proc.stderr).splitlines()
                if "WARNING" in x or "unstable" in x.lower()]
    return {"wall": wall, "runs": runs, "path": str(out), "warnings": warnings[:4],
            "cmd": " ".join(cmd[1:4] + (["--fast"] if fast else []))}


def pyperf_compare(serial: dict[str, Any], parallel: dict[str, Any], python: str,
                   workdir: Path) -> dict[str, Any]:
    cmd = [python, "-m", "pyperf", "compare_to", serial["path"], parallel["path"]]
    wall, proc = _run(cmd, workdir, 120.0)
    text = proc.stdout.strip()
    if "not significant" in text.lower():
        says = "not significant (95%)"
    elif "Significant" in text or re.search(r"\d+(\.\d+)?x (faster|slower)", text):
        m = re.search(r"(\d+(?:\.\d+)?x (?:faster|slower))", text)
        says = f"significant (95%): {m.group(1) if m else '?'}"
    else:
        says = text.splitlines()[-1] if text else _tail(proc.stderr, 2)
    return {"wall": wall, "says": says, "output": _tail(text, 4)}


def peer_analysis(serial_groups: list[list[float]], parallel_groups: list[list[float]],
                  ideal: float, wall_per_group: float, overhead: float) -> dict[str, Any]:
    """The engine's test on a peer's samples, the prefix that would have sufficed and the
    values needed when the whole run does not reach α = 1e-3."""
    s = [x for g in serial_groups for x in g]
    p = [x for g in parallel_groups for x in g]
    full = bench_stats.two_sample(s, p, ideal)
    out: dict[str, Any] = {"test": full, "answer": full["answer"],
                           "p": (full["p"][full["answer"]] if full["answer"] else
                                 min(full["p"].values()))}
    pre = bench_stats.prefix_decision(serial_groups, parallel_groups, ideal)
    if pre is not None:
        k = pre[0]
        out["first_decided_after"] = k
        out["would_need_seconds"] = overhead + k * wall_per_group
    else:
        per_group = max(1, len(s) // max(1, len(serial_groups)))
        need = bench_stats.needed_per_arm(full)
        out["values_needed_per_arm"] = need
        if need is not None:
            k = math.ceil(need / per_group)
            out["groups_needed"] = k
            out["would_need_seconds"] = overhead + k * wall_per_group
    return out


# --------------------------------------------------------------------------------------------
# pytest-benchmark


TEST_FILE = textwrap.dedent("""
    import pytest
    import peer_workloads as W

    FN, ARG, K = W.{fn}, {arg!r}, {k}


    @pytest.fixture(scope="module")
    def pool():
        p = W.make_pool(2)
        yield p
        p.shutdown()


    def test_serial(benchmark):
        benchmark(W.serial, FN, ARG, K)


    def test_parallel(benchmark{pool_arg}):
        benchmark({call})
""")


def pytest_benchmark(question: str, n: int | None, python: str, workdir: Path,
                     timeout: float = 300.0) -> dict[str, Any]:
    q = QUESTIONS[question]
    if question == "processes":
        pool_arg, call = ", pool", "W.in_pool, pool, FN, ARG, K"
    else:
        pool_arg, call = "", "W.in_threads, FN, ARG, K"
    d = workdir / f"pb-{question}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "pytest.ini").write_text("[pytest]\n")
    test = d / f"test_pb_{question}.py"
    test.write_text(TEST_FILE.format(fn=q["fn"], arg=n if question != "sleep" else SLEEP,
                                     k=q["k"], pool_arg=pool_arg, call=call))
    out = d / "bench.json"
    cmd = [python, "-m", "pytest", str(test), "-q", "-c", str(d / "pytest.ini"),
           "--rootdir", str(d), "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:gil",
           f"--benchmark-json={out}"]
    wall, proc = _run(cmd, d, timeout)
    if proc.returncode != 0 or not out.exists():
        return {"wall": wall, "error": _tail(proc.stdout + proc.stderr)}
    doc = json.loads(out.read_text())
    data = {b["name"]: b["stats"] for b in doc["benchmarks"]}
    return {"wall": wall, "serial": data["test_serial"]["data"],
            "parallel": data["test_parallel"]["data"],
            "rounds": [data["test_serial"]["rounds"], data["test_parallel"]["rounds"]],
            "iterations": [data["test_serial"].get("iterations"),
                           data["test_parallel"].get("iterations")]}


# --------------------------------------------------------------------------------------------


def run_question(question: str, profile: dict[str, Any], python: str, workdir: Path,
                 fast_pyperf: bool, pyperf_serial_cache: dict[str, dict[str, Any]],
                 calc_n: int, small_scale: float | None = SMALL_SCALE,
                 log: Any = print) -> dict[str, Any]:
    q = QUESTIONS[question]
    cpus = int(profile.get("usable_cpus") or 1)
    ideal = float(q["k"]) if question == "sleep" else float(min(q["k"], cpus))
    row: dict[str, Any] = {"id": question, "question": q["question"], "ideal": ideal,
                           "expected": expected_answers(profile)[question], "tools": {}}
    n = calc_n if question != "sleep" else None
    row["calc_n"] = n
    log(f"  {question}: pytest-gil …")
    mine = ours(question, python, n)
    mine["right"] = mine.get("answer") == row["expected"]
    row["tools"]["pytest-gil"] = mine
    if question != "sleep" and small_scale:
        log(f"  {question}: pytest-gil at --gil-scale {small_scale:g} …")
        small = ours(question, python, n, small_scale)
        small["right"] = small.get("answer") == row["expected"]
        row["tools"][f"pytest-gil @ scale {small_scale:g}"] = small
    if ideal <= 1:
        row["note"] = "not testable: one usable CPU"
        return row

    # pyperf
    log(f"  {question}: pyperf timeit ({'--fast' if fast_pyperf else 'defaults'}) …")
    key = "sleep" if question == "sleep" else f"calc {n}"
    serial = pyperf_serial_cache.get(key)
    if serial is None:
        serial = pyperf_serial_cache[key] = pyperf_timeit(question, "serial", n, python,
                                                          workdir, fast_pyperf)
    par = pyperf_timeit(question, "parallel", n, python, workdir, fast_pyperf)
    pp: dict[str, Any] = {"tool": "pyperf", "serial_wall": serial["wall"],
                          "parallel_wall": par["wall"], "cmd": par.get("cmd")}
    if "error" in serial or "error" in par:
        pp["error"] = serial.get("error") or par.get("error")
        pp["wall"] = serial["wall"] + par["wall"]
    else:
        cmp = pyperf_compare(serial, par, python, workdir)
        pp.update(says=cmp["says"], compare_output=cmp["output"],
                  wall=serial["wall"] + par["wall"] + cmp["wall"],
                  processes=[len(serial["runs"]), len(par["runs"])],
                  values=[sum(map(len, serial["runs"])), sum(map(len, par["runs"]))],
                  warnings=serial["warnings"] + par["warnings"])
        procs = max(1, len(serial["runs"]))
        per_proc = (serial["wall"] + par["wall"]) / (procs + 1)  # + the calibration process
        pp["analysis"] = peer_analysis(serial["runs"], par["runs"], ideal, per_proc,
                                       per_proc + cmp["wall"])
        pp["answer"] = pp["analysis"]["answer"]
        pp["right"] = pp["answer"] == row["expected"]
    row["tools"]["pyperf"] = pp

    # pytest-benchmark
    log(f"  {question}: pytest-benchmark …")
    pb = pytest_benchmark(question, n, python, workdir)
    pbr: dict[str, Any] = {"tool": "pytest-benchmark", "wall": pb["wall"]}
    if "error" in pb:
        pbr["error"] = pb["error"]
    else:
        s, p = pb["serial"], pb["parallel"]
        its = [i or 1 for i in pb["iterations"]]
        timed = sum(s) * its[0] + sum(p) * its[1]
        per_round = timed / max(1, min(len(s), len(p)))
        pbr.update(rounds=pb["rounds"], iterations=pb["iterations"],
                   says="no significance test (reports min/max/mean/stddev/median/IQR/OPS)")
        pbr["analysis"] = peer_analysis([[x] for x in s], [[x] for x in p], ideal,
                                        per_round, max(0.0, pb["wall"] - timed))
        pbr["answer"] = pbr["analysis"]["answer"]
        pbr["right"] = pbr["answer"] == row["expected"]
    row["tools"]["pytest-benchmark"] = pbr
    return row


def time_to_verdict(profile: dict[str, Any], python: str, fast_pyperf: bool,
                    questions: list[str] | None = None, log: Any = print) -> dict[str, Any]:
    rows = []
    cache: dict[str, dict[str, Any]] = {}
    n = common_calc_n(python)
    with tempfile.TemporaryDirectory(prefix="gil-bench-") as tmp:
        for q in questions or list(QUESTIONS):
            rows.append(run_question(q, profile, python, Path(tmp), fast_pyperf, cache, n,
                                     log=log))
    return {"pyperf_mode": "--fast" if fast_pyperf else "defaults", "calc_n": n,
            "small_scale": SMALL_SCALE, "questions": rows}


def common_calc_n(python: str) -> int:
    """One calibration of ``calc`` to 50 ms (the best of three in a fresh interpreter), used by
    every tool and both calc questions."""
    code = ("from pytest_gil.workloads import DEFAULT_TARGET, calc, size_for; "
            "print(max(size_for(calc, DEFAULT_TARGET, 10_000) for _ in range(3)))")
    _, proc = _run([python, "-c", code], ROOT, 120.0)
    return int(proc.stdout.strip().splitlines()[-1])


def plan(python: str, fast_pyperf: bool) -> list[str]:
    """The commands a run would start (``--dry-run``)."""
    out = []
    for q in QUESTIONS:
        out.append(f"{python} -c <measure {q} with pytest-gil>")
        for phase in ("serial", "parallel"):
            setup, stmt = _pyperf_stmt(q, 1_000_000, phase)
            out.append(f"{python} -m pyperf timeit {'--fast ' if fast_pyperf else ''}"
                       f"-s {setup!r} {stmt!r}")
        out.append(f"{python} -m pyperf compare_to serial.json parallel.json")
        out.append(f"{python} -m pytest test_pb_{q}.py --benchmark-json=bench.json")
    return out


if __name__ == "__main__":  # a quick look at one question
    from pytest_gil.profile import runtime_profile

    print(json.dumps(run_question(sys.argv[1] if len(sys.argv) > 1 else "threads",
                                  runtime_profile().to_dict(), sys.executable,
                                  Path(tempfile.mkdtemp()), True, {},
                                  common_calc_n(sys.executable),
                                  log=lambda m: print(m, file=sys.stderr)),
                     indent=1, default=str))
