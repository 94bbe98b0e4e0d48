"""pyperf and pytest-benchmark on a question's workload, once each, with their defaults.

* **pyperf**: ``pyperf timeit`` with its defaults (20 worker processes × (1 warm-up + 3
  values) of ≥ 100 ms, after a calibration process; ``--fast`` with ``--quick``) for the
  serial and the parallel phase, then ``pyperf compare_to`` (a two-sided Student t at 95%:
  "significant or not", no claim).  A serial phase shared by two questions is run once; its
  time counts in both.
* **pytest-benchmark**: a generated test file with its defaults (calibrated iterations,
  ≥ 5 rounds, 1 s per benchmark), run with ``--benchmark-json``; it decides nothing.

To put them on pytest-gil's scale, the engine's claim test is applied to their samples
(Welch's t on log times, :func:`bench_stats.two_sample`, at α = 1e-3 / 1e-4): what claim the
samples confirm and at which p, after how many worker processes / rounds they would first have
confirmed it (:func:`bench_stats.prefix_decision`), and, when the defaults do not reach
α = 1e-3, how many values they would need (:func:`bench_stats.needed_per_arm`).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import bench_stats
from bench_proc import run_timed, tail
from bench_questions import PeerWorkload

__all__ = ["peer_analysis", "peer_ideal", "pyperf_statements", "run_peers"]

PYPERF_TIMEOUT = 900.0
"""Seconds one ``pyperf timeit`` may take: its defaults take 20–60 s on these workloads."""

PYTEST_BENCHMARK_TIMEOUT = 300.0
"""Seconds the generated pytest-benchmark run may take (≈ 3 s at its defaults)."""

COMPARE_TIMEOUT = 120.0
"""Seconds ``pyperf compare_to`` may take (it reads two JSON files)."""

WAITING_FNS = ("worker",)
"""Peer workloads that wait instead of computing: their ideal is not limited by CPUs."""


def peer_ideal(workload: PeerWorkload, usable_cpus: int) -> float:
    """The speedup the parallel phase reaches at best: ``min(workers, tasks)``, and for work
    that computes also the usable CPUs (the engine's nominal ideal)."""
    ideal = min(workload.workers, workload.tasks)
    return float(ideal if workload.fn in WAITING_FNS else min(ideal, usable_cpus))


def pyperf_statements(w: PeerWorkload, phase: str) -> tuple[str, str]:
    """``(setup, statement)`` of ``pyperf timeit`` for the serial or the parallel phase."""
    setup = "import peer_workloads as W"
    call = f"W.{w.fn}, {w.arg!r}, {w.tasks}"
    if phase == "serial":
        return setup, f"W.serial({call})"
    if w.executor == "process":
        return f"{setup}; pool = W.make_pool({w.workers})", f"W.in_pool(pool, {call})"
    return setup, f"W.in_threads({call})"


def _pyperf_runs(path: Path) -> list[list[float]]:
    import pyperf  # type: ignore[import-not-found,unused-ignore]

    bench = pyperf.Benchmark.load(str(path))
    return [list(run.values) for run in bench.get_runs() if run.values]


def _pyperf_timeit(w: PeerWorkload, phase: str, name: str, python: str, workdir: Path,
                   fast: bool) -> dict[str, Any]:
    setup, stmt = pyperf_statements(w, phase)
    out = workdir / f"pyperf-{name}-{phase}.json"
    out.unlink(missing_ok=True)
    cmd = [python, "-m", "pyperf", "timeit", "--name", "phase", "-o", str(out),
           "--inherit-environ", "PYTHONPATH", *(["--fast"] if fast else []), "-s", setup, stmt]
    try:
        _, wall, proc = run_timed(cmd, workdir, PYPERF_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"wall": PYPERF_TIMEOUT, "error": f"timed out after {PYPERF_TIMEOUT:g} s"}
    if proc.returncode != 0 or not out.exists():
        return {"wall": wall, "error": tail(proc.stderr or proc.stdout)}
    warnings = [x.strip() for x in (proc.stdout + proc.stderr).splitlines()
                if "WARNING" in x or "unstable" in x.lower()]
    return {"wall": wall, "runs": _pyperf_runs(out), "path": str(out), "warnings": warnings[:4],
            "cmd": " ".join(cmd[1:4] + (["--fast"] if fast else []))}


def _pyperf_compare(serial: Mapping[str, Any], parallel: Mapping[str, Any], python: str,
                    workdir: Path) -> dict[str, Any]:
    cmd = [python, "-m", "pyperf", "compare_to", serial["path"], parallel["path"]]
    _, wall, proc = run_timed(cmd, workdir, COMPARE_TIMEOUT)
    text = proc.stdout.strip()
    if "not significant" in text.lower():
        says = "not significant (95%)"
    elif "Significant" in text or re.search(r"\d+(\.\d+)?x (faster|slower)", text):
        m = re.search(r"(\d+(?:\.\d+)?x (?:faster|slower))", text)
        says = f"significant (95%): {m.group(1) if m else '?'}"
    else:
        says = text.splitlines()[-1] if text else tail(proc.stderr, 2)
    return {"wall": wall, "says": says, "output": tail(text, 4)}


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


def _pyperf(name: str, w: PeerWorkload, ideal: float, python: str, workdir: Path, fast: bool,
            serial_cache: dict[PeerWorkload, dict[str, Any]]) -> dict[str, Any]:
    serial = serial_cache.get(w)
    if serial is None:
        serial = serial_cache[w] = _pyperf_timeit(w, "serial", name, python, workdir, fast)
    par = _pyperf_timeit(w, "parallel", name, python, workdir, fast)
    pp: dict[str, Any] = {"tool": "pyperf", "serial_wall": serial["wall"],
                          "parallel_wall": par["wall"], "cmd": par.get("cmd")}
    if "error" in serial or "error" in par:
        pp["error"] = serial.get("error") or par.get("error")
        pp["wall"] = serial["wall"] + par["wall"]
        return pp
    cmp = _pyperf_compare(serial, par, python, workdir)
    pp.update(says=cmp["says"], compare_output=cmp["output"],
              wall=serial["wall"] + par["wall"] + cmp["wall"],
              processes=[len(serial["runs"]), len(par["runs"])],
              values=[sum(map(len, serial["runs"])), sum(map(len, par["runs"]))],
              warnings=serial["warnings"] + par["warnings"])
    procs = max(1, len(serial["runs"]))
    per_proc = (serial["wall"] + par["wall"]) / (procs + 1)  # + the calibration process
    pp["analysis"] = peer_analysis(serial["runs"], par["runs"], ideal, per_proc,
                                   per_proc + cmp["wall"])
    return pp


TEST_FILE = textwrap.dedent("""
    import pytest
    import peer_workloads as W

    FN, ARG, TASKS, WORKERS = W.{fn}, {arg!r}, {tasks}, {workers}


    @pytest.fixture(scope="module")
    def pool():
        p = W.make_pool(WORKERS)
        yield p
        p.shutdown()


    def test_serial(benchmark):
        benchmark(W.serial, FN, ARG, TASKS)


    def test_parallel(benchmark{pool_arg}):
        benchmark({call})
""")


def _pytest_benchmark(name: str, w: PeerWorkload, ideal: float, python: str,
                      workdir: Path) -> dict[str, Any]:
    if w.executor == "process":
        pool_arg, call = ", pool", "W.in_pool, pool, FN, ARG, TASKS"
    else:
        pool_arg, call = "", "W.in_threads, FN, ARG, TASKS"
    d = workdir / f"pb-{name}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "pytest.ini").write_text("[pytest]\n")
    test = d / f"test_pb_{name}.py"
    test.write_text(TEST_FILE.format(fn=w.fn, arg=w.arg, tasks=w.tasks, workers=w.workers,
                                     pool_arg=pool_arg, call=call))
    out = d / "bench.json"
    cmd = [python, "-m", "pytest", str(test), "-q", "-c", str(d / "pytest.ini"),
           "--rootdir", str(d), "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:gil",
           f"--benchmark-json={out}"]
    res: dict[str, Any] = {"tool": "pytest-benchmark"}
    try:
        _, res["wall"], proc = run_timed(cmd, d, PYTEST_BENCHMARK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {**res, "wall": PYTEST_BENCHMARK_TIMEOUT,
                "error": f"timed out after {PYTEST_BENCHMARK_TIMEOUT:g} s"}
    if proc.returncode != 0 or not out.exists():
        return {**res, "error": tail(proc.stdout + proc.stderr)}
    data = {b["name"]: b["stats"] for b in json.loads(out.read_text())["benchmarks"]}
    s, p = data["test_serial"]["data"], data["test_parallel"]["data"]
    its = [data["test_serial"].get("iterations"), data["test_parallel"].get("iterations")]
    timed = sum(s) * (its[0] or 1) + sum(p) * (its[1] or 1)
    per_round = timed / max(1, min(len(s), len(p)))
    res.update(rounds=[data["test_serial"]["rounds"], data["test_parallel"]["rounds"]],
               iterations=its,
               says="no significance test (reports min/max/mean/stddev/median/IQR/OPS)")
    res["analysis"] = peer_analysis([[x] for x in s], [[x] for x in p], ideal, per_round,
                                    max(0.0, res["wall"] - timed))
    return res


def run_peers(name: str, workload: PeerWorkload, ideal: float, answers: Mapping[str, str],
              expected: str | None, python: str, workdir: Path, fast: bool,
              serial_cache: dict[PeerWorkload, dict[str, Any]],
              log: Callable[[str], Any] = print) -> dict[str, dict[str, Any]]:
    """pyperf and pytest-benchmark on ``workload``; each peer's ``answer`` is the claim its
    samples confirm mapped through ``answers`` (``"serialized"``/``"parallel"`` → the
    question's answer), ``right`` whether it is ``expected``."""
    log(f"  {name}: pyperf timeit ({'--fast' if fast else 'defaults'}) …")
    peers = {"pyperf": _pyperf(name, workload, ideal, python, workdir, fast, serial_cache)}
    log(f"  {name}: pytest-benchmark …")
    peers["pytest-benchmark"] = _pytest_benchmark(name, workload, ideal, python, workdir)
    for peer in peers.values():
        claim = (peer.get("analysis") or {}).get("answer")
        peer["claim"] = claim
        peer["answer"] = answers.get(claim) if claim else None
        peer["right"] = peer["answer"] is not None and peer["answer"] == expected
    return peers
