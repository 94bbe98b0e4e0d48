"""What the runners themselves cost: the overhead every measurement of pytest-gil carries.

Run it with the interpreter to describe (any CPython the package is installed in)::

    python benchmarks/runner_cost.py          # a table; merged into reports/runner_cost.json
    python benchmarks/runner_cost.py --quick    # fewer repeats
    python benchmarks/runner_cost.py --only thread_skew,dispatch

Sections (each a median and a maximum over repeated runs; seconds in the JSON, µs/ms printed):

* ``thread_skew``    — threads behind the :class:`ThreadRunner` barrier (1, 2, 4, 8, 16
  threads, one task each): *skew* = spread of the first task starts across threads, *lag* =
  from the barrier's release (the phase's start) to the last thread's first task; with a
  10 ms sleep (the barrier alone) and a 10 ms ``calc`` (plus waiting for the GIL).
* ``dispatch``       — a warm process pool: one ``noop`` round trip (``submit().result()``),
  the cost per task of a batch of ``noop`` tasks through ``run_tasks``, and the start skew
  and lag of one sleeping task per worker (the pool has no barrier: it is dispatch order).
* ``pool_start``     — a process pool, per start method: cold (create → first ``noop``
  result) and full warm-up (every worker started and ``pytest_gil.workloads`` imported, as
  the ``process_pool`` fixture does; includes its 20 ms hold per worker).
* ``interpreters``   — sub-interpreters, where the interpreter has them (3.12+): start
  (create + bootstrap per worker, from :meth:`InterpreterPoolExecutor.warm`), import of
  ``pytest_gil.workloads``, ``noop`` round trip, and start skew/lag through ``run_tasks``.
* ``calibration``    — :func:`pytest_gil.workloads.calibrate` at the default target and at
  ``--gil-scale 0.1``.

Nothing here asserts anything: it is a measurement of a shared, noisy machine; the load at the
start and end of the run is recorded beside the figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pytest_gil import __version__
from pytest_gil.profile import runtime_profile
from pytest_gil.runners import ThreadRunner, run_tasks, warm_executor
from pytest_gil.runtimes.pools import ManagedProcessPool, terminate_executor
from pytest_gil.workloads import DEFAULT_TARGET, calc, calibrate, noop, size_for, worker

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("thread_skew", "dispatch", "pool_start", "interpreters", "calibration")


def summary(values: Iterable[float]) -> dict[str, float]:
    xs = sorted(values)
    return {"median": statistics.median(xs), "max": xs[-1], "min": xs[0], "n": len(xs)}


def first_start_lag(timeline: Any) -> float:
    """From the phase's start to the last worker's first task start."""
    firsts: dict[tuple[int, int, int], float] = {}
    for t in timeline.tasks:
        key = (t.pid, t.thread_id, t.interpreter_id)
        firsts[key] = min(firsts.get(key, t.start), t.start)
    return float(max(firsts.values()) - timeline.start)


# --------------------------------------------------------------------------------------------
# sections


def workers_started(timeline: Any) -> int:
    return len({(t.pid, t.thread_id, t.interpreter_id) for t in timeline.tasks})


def thread_skew(repeats: int) -> list[dict[str, Any]]:
    """One task per thread.  A ``noop`` would be taken by the first thread released before the
    others wake, so the tasks last long enough that each thread gets one: a 10 ms sleep (the
    barrier's own release skew) and a 10 ms ``calc`` (CPU-bound: the other threads also wait
    for the GIL, up to a switch interval each)."""
    n_10ms = size_for(calc, 0.010, 10_000)
    rows = []
    for w in (1, 2, 4, 8, 16):
        row: dict[str, Any] = {"threads": w}
        for label, fn, arg, runs in (("sleep", worker, 0.010, repeats),
                                     ("calc", calc, n_10ms, max(5, repeats // 5))):
            skews, lags, started = [], [], []
            with ThreadRunner() as runner:
                for _ in range(runs):
                    tl = runner.run(fn, arg, workers=w)
                    skews.append(tl.start_skew)
                    lags.append(first_start_lag(tl))
                    started.append(workers_started(tl))
            row[label] = {"skew": summary(skews), "lag": summary(lags),
                          "threads_started": summary(started)}
        rows.append(row)
    return rows


def dispatch(repeats: int, worker_counts: Iterable[int]) -> list[dict[str, Any]]:
    rows = []
    for w in worker_counts:
        pool = cf.ProcessPoolExecutor(max_workers=w)
        try:
            warm_executor(pool, w, ["pytest_gil.workloads", "pytest_gil.runtimes.timeline"])
            round_trips = []
            for _ in range(repeats * 4):
                t0 = time.perf_counter()
                pool.submit(noop).result()
                round_trips.append(time.perf_counter() - t0)
            batch = 100
            per_task = [
                run_tasks("process", noop, tasks=batch, workers=w, executor=pool).wall / batch
                for _ in range(max(3, repeats // 5))
            ]
            skews, lags = [], []
            for _ in range(max(5, repeats // 2)):
                tl = run_tasks("process", worker, 0.02, tasks=w, workers=w, executor=pool)
                skews.append(tl.start_skew)
                lags.append(first_start_lag(tl))
        finally:
            terminate_executor(pool)
        rows.append({
            "workers": w,
            "round_trip": summary(round_trips),
            "per_task_in_batch": summary(per_task),
            "skew": summary(skews),
            "lag": summary(lags),
        })
    return rows


def pool_start(repeats: int, worker_counts: Iterable[int]) -> list[dict[str, Any]]:
    rows = []
    for method in multiprocessing.get_all_start_methods():
        for w in worker_counts:
            cold, full = [], []
            for _ in range(max(2, repeats // 10)):
                ctx = multiprocessing.get_context(method)
                t0 = time.perf_counter()
                pool = cf.ProcessPoolExecutor(max_workers=w, mp_context=ctx)
                pool.submit(noop).result()
                cold.append(time.perf_counter() - t0)
                terminate_executor(pool)

                managed = ManagedProcessPool(w, method)
                t0 = time.perf_counter()
                managed.live_executor()
                full.append(time.perf_counter() - t0)
                terminate_executor(managed)
            rows.append({"start_method": method, "workers": w,
                         "cold_first_result": summary(cold), "warm_up": summary(full)})
    return rows


def interpreters(repeats: int, worker_counts: Iterable[int]) -> dict[str, Any]:
    api = runtime_profile().subinterpreters
    if api is None:
        return {"available": False, "reason": f"no sub-interpreter API on {sys.version.split()[0]}"}
    try:
        from pytest_gil.runtimes.subinterp import InterpreterPoolExecutor
    except ImportError as exc:  # the executor is being written
        return {"available": False, "reason": f"pending: pytest_gil.runtimes.subinterp: {exc}"}
    rows = []
    for w in worker_counts:
        create, bootstrap, start_wall, imports = [], [], [], []
        round_trips, skews, lags = [], [], []
        for _ in range(max(2, repeats // 10)):
            ex = InterpreterPoolExecutor(max_workers=w)
            try:
                warm = ex.warm([])
                start_wall.append(warm.wall)
                create += [x.create for x in warm.workers if x.create is not None]
                bootstrap += [x.bootstrap for x in warm.workers if x.bootstrap is not None]
                t0 = time.perf_counter()
                ex.warm(["pytest_gil.workloads", "pytest_gil.runtimes.timeline"])
                imports.append(time.perf_counter() - t0)
                for _ in range(20):
                    t0 = time.perf_counter()
                    ex.submit(noop).result()
                    round_trips.append(time.perf_counter() - t0)
                for _ in range(5):
                    tl = run_tasks("interpreter", worker, 0.02, tasks=w, workers=w,
                                   executor=ex)
                    skews.append(tl.start_skew)
                    lags.append(first_start_lag(tl))
            finally:
                terminate_executor(ex)
        rows.append({
            "workers": w,
            "start_all_workers": summary(start_wall),
            "create_per_worker": summary(create) if create else None,
            "bootstrap_per_worker": summary(bootstrap) if bootstrap else None,
            "import_workloads": summary(imports),
            "round_trip": summary(round_trips),
            "skew": summary(skews),
            "lag": summary(lags),
        })
    return {"available": True, "api": api, "rows": rows}


def calibration(repeats: int) -> list[dict[str, Any]]:
    rows = []
    for scale in (1.0, 0.1):
        runs = [calibrate(DEFAULT_TARGET * scale) for _ in range(max(2, repeats // 15))]
        rows.append({
            "scale": scale,
            "target": DEFAULT_TARGET * scale,
            "seconds": summary(c.seconds for c in runs),
            "calc_n": summary(c.calc_n for c in runs),
            "sha256_bytes": summary(c.sha256_bytes for c in runs),
            "zlib_bytes": summary(c.zlib_bytes for c in runs),
        })
    return rows


# --------------------------------------------------------------------------------------------
# output


def us(x: float) -> str:
    return f"{x * 1e6:8.1f} µs" if x < 0.001 else f"{x * 1e3:8.1f} ms"


def both(s: dict[str, float] | None) -> str:
    return "—" if not s else f"{us(s['median']).strip():>10} / {us(s['max']).strip():>10}"


def print_table(result: dict[str, Any]) -> None:
    p = result["runtime"]
    print(f"\n{result['runtime_label']}  ·  load {p['load']}  ·  pytest-gil {__version__}")
    print("(median / max)")
    s = result["sections"]
    if "thread_skew" in s:
        print("\nthreads behind the barrier,     10 ms sleep per thread              "
              "10 ms calc per thread (GIL hand-offs)")
        print("one task each                   start skew      lag to last start   start skew")
        for r in s["thread_skew"]:
            print(f"  {r['threads']:>2} threads   {both(r['sleep']['skew'])}   "
                  f"{both(r['sleep']['lag'])}   {both(r['calc']['skew'])}"
                  f"   (started {r['calc']['threads_started']['min']:.0f}"
                  f"–{r['calc']['threads_started']['max']:.0f})")
    if "dispatch" in s:
        print("\nwarm process pool        noop round trip     per task (batch 100)    "
              "start skew              lag")
        for r in s["dispatch"]:
            print(f"  {r['workers']} workers   {both(r['round_trip'])}   "
                  f"{both(r['per_task_in_batch'])}   {both(r['skew'])}   {both(r['lag'])}")
    if "pool_start" in s:
        print("\nprocess pool start       cold (→ first result)     warm-up (all workers + import)")
        for r in s["pool_start"]:
            print(f"  {r['start_method']:<10} {r['workers']} workers  "
                  f"{both(r['cold_first_result'])}   {both(r['warm_up'])}")
    if "interpreters" in s:
        it = s["interpreters"]
        if not it["available"]:
            print(f"\nsub-interpreters: {it['reason']}")
        else:
            print(f"\nsub-interpreters ({it['api']})   start all        create/worker      "
                  "import workloads   noop round trip     start skew")
            for r in it["rows"]:
                print(f"  {r['workers']} workers     {both(r['start_all_workers'])}  "
                      f"{both(r['create_per_worker'])}  {both(r['import_workloads'])}  "
                      f"{both(r['round_trip'])}  {both(r['skew'])}")
    if "calibration" in s:
        print("\ncalibration (calc, sha256, zlib)")
        for r in s["calibration"]:
            print(f"  scale {r['scale']:<4} target {r['target'] * 1e3:5.1f} ms   "
                  f"takes {both(r['seconds'])}   calc_n {int(r['calc_n']['median']):,}  "
                  f"sha256 {int(r['sha256_bytes']['median']) / 2**20:.1f} MiB  "
                  f"zlib {int(r['zlib_bytes']['median']) / 2**20:.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 4× faster)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (default 50)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections among {', '.join(SECTIONS)}")
    parser.add_argument(
        "-o", "--output", type=Path, default=ROOT / "reports" / "runner_cost.json",
        help="JSON file; results are merged under the runtime's tag",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (12 if args.quick else 50)
    chosen = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose among {', '.join(SECTIONS)}")

    prof = runtime_profile()
    counts = sorted({1, 2, max(2, prof.usable_cpus), 4})
    runners: dict[str, Callable[[], Any]] = {
        "thread_skew": lambda: thread_skew(repeats),
        "dispatch": lambda: dispatch(repeats, counts),
        "pool_start": lambda: pool_start(repeats, [1, max(2, prof.usable_cpus)]),
        "interpreters": lambda: interpreters(repeats, [1, max(2, prof.usable_cpus)]),
        "calibration": lambda: calibration(repeats),
    }
    sections: dict[str, Any] = {}
    t0 = time.perf_counter()
    for name in chosen:
        print(f"measuring {name} …", file=sys.stderr, flush=True)
        sections[name] = runners[name]()
    result = {
        "schema": "pytest-gil-runner-cost",
        "schema_version": 1,
        "plugin_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runtime": prof.to_dict(),
        "runtime_label": prof.label(),
        "load_after": runtime_profile().load,
        "repeats": repeats,
        "elapsed": time.perf_counter() - t0,
        "sections": sections,
    }
    print_table(result)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        merged = json.loads(args.output.read_text())
        if merged.get("schema") != "pytest-gil-runner-cost":
            raise ValueError
    except (OSError, ValueError):
        merged = {"schema": "pytest-gil-runner-cost", "schema_version": 1, "runs": {}}
    merged["runs"][prof.tag] = result
    tmp = args.output.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, args.output)
    print(f"\nwritten to {args.output} (key {prof.tag!r})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
