"""pytest-gil's benchmarks: time to a verdict (repeated, beside pyperf and pytest-benchmark),
the delivered capacity, the claims suite's wall time and the share of it spent measuring,
accuracy over repeated runs (quiet and beside a CPU hog), the harness's own cost, and the
suite at several ``--gil-scale`` — and the goals of issue 12 evaluated from those figures.

Usage (from the repository root, in the dev venv: pyperf, pytest-benchmark, scipy, psutil)::

    python benchmarks/run.py --wait-load 1.0       # everything (~30 min): reports/bench.json, .md
    python benchmarks/run.py --quick               # 3 repetitions, pyperf --fast, 1 + 1 soak runs
    python benchmarks/run.py --only verdict --reps 20   # some sections, more repetitions
    python benchmarks/run.py --quick --dry-run     # nothing measured: the plan and the writers

The accuracy goals are per interpreter (3.11 and 3.13): ``--python`` selects the interpreter
the sections run (this one by default; the harness section always measures the interpreter
running this script), so run the accuracy section a second time with the other one, into a
directory of its own.  That interpreter needs the project and its
dependencies in an environment of its own — tox's ``py313`` env, or a venv from pyenv's
build::

    tox -e py313 --notest                           # or:
    $(pyenv root)/versions/3.13.0/bin/python3.13 -m venv .venv313
    .venv313/bin/python -m pip install -e '.[test]'
    python benchmarks/run.py --only accuracy --python .tox/py313/bin/python \\
        --out-dir reports/bench-3.13              # or --python .venv313/bin/python

(the time-to-verdict section on another interpreter also needs ``pyperf`` installed there).

Sections (``--only``): ``verdict``, ``suite``, ``scale``, ``accuracy``, ``harness``.  Each
figure is a ratio, duration or count from this one run, on this machine, with the runtime
profile of ``--python`` and the load average at start and end.  No goal is asserted: each is
evaluated (met / not met / not measured), written to bench.json and bench.md and printed; the
exit status is 0 unless a section failed to run or the run was interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # sibling modules when imported from elsewhere (the tests)
    sys.path.insert(0, str(HERE))

import bench_goals  # noqa: E402
import bench_markdown  # noqa: E402
import bench_suite  # noqa: E402
from bench_proc import run_timed, tail  # noqa: E402

SECTIONS = ("verdict", "suite", "scale", "accuracy", "harness")
"""In this order by default: the sections that load the machine themselves (a CPU hog beside
the suite, pools of up to 16 processes) come last, so they do not raise the load average the
earlier ones start under."""
WORKER_COUNTS = (1, 2, 4, 8, 16)

REPS = 10
"""Repetitions of each time-to-verdict question (issue 12: "over ≥ 10 repetitions")."""
QUICK_REPS = 3
"""… with ``--quick``: enough for a median, not for the goals (they say *not measured*)."""
QUIET_RUNS = bench_goals.QUIET_RUNS
HOG_RUNS = bench_goals.HOG_RUNS
PROFILE_TIMEOUT = 60.0
"""Seconds ``--python`` may take to report its runtime profile (it imports pytest-gil)."""

PROFILE_CODE = ("import json; from pytest_gil.profile import runtime_profile; "
                "p = runtime_profile(); "
                "print(json.dumps({'profile': p.to_dict(), 'label': p.label()}))")


class UsageError(Exception):
    """A mistake in the command line, reported in one line (exit status 2)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def wait_for_quiet(threshold: float, max_wait: float, poll: float = 30.0) -> float:
    """Sleep until the 1-minute load average is below ``threshold`` (at most ``max_wait``
    seconds); returns the seconds waited."""
    t0 = time.monotonic()
    while True:
        load = bench_suite.loadavg()
        if not load or load[0] < threshold:
            return time.monotonic() - t0
        waited = time.monotonic() - t0
        if waited >= max_wait:
            log(f"load {load[0]:.2f} still ≥ {threshold} after {waited:.0f} s: measuring anyway")
            return waited
        log(f"load {load[0]:.2f} ≥ {threshold}: waiting ({waited:.0f} s so far)")
        time.sleep(min(poll, max(1.0, max_wait - waited)))


def target_profile(python: str) -> tuple[dict[str, Any], str]:
    """The runtime profile (``RuntimeProfile.to_dict()``) and label of ``python``: this
    process's own when it is this interpreter, else asked of it; ``UsageError`` when it
    cannot tell (pytest-gil not installed there)."""
    if python == sys.executable:
        from pytest_gil.profile import runtime_profile

        prof = runtime_profile()
        return prof.to_dict(), prof.label()
    try:
        _, _, proc = run_timed([python, "-c", PROFILE_CODE], ROOT, PROFILE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--python {python}: cannot run it ({exc})") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise UsageError(f"--python {python}: cannot import pytest-gil there "
                         f"({tail(proc.stderr, 1) or 'no output'}); install the project in "
                         "its environment (see this script's docstring)")
    data = json.loads(lines[-1])
    return dict(data["profile"]), str(data["label"])


# --------------------------------------------------------------------------------------------
# sections


def section_verdict(args: argparse.Namespace, profile: dict[str, Any]) -> dict[str, Any]:
    import bench_verdict

    if args.dry_run:
        return {"plan": bench_verdict.plan(args.python, args.reps, args.quick),
                "reps": args.reps}
    return bench_verdict.time_to_verdict(profile, args.python, args.reps,
                                         fast_pyperf=args.quick, log=log)


def _suite_cmd(args: argparse.Namespace, tests: Sequence[str], extra: Sequence[str] = ()) -> str:
    return " ".join([args.python, "-m", "pytest", *tests, "-q", "-p", "no:randomly",
                     "--gil-report", "<tmp>", *extra])


def section_suite(args: argparse.Namespace, profile: dict[str, Any]) -> dict[str, Any]:
    if args.dry_run:
        return {"plan": _suite_cmd(args, ["tests/claims"])}
    log("  claims suite at default scale …")
    run = bench_suite.run_suite(args.python, ["tests/claims"])
    run_out = {k: v for k, v in run.items() if k != "records"}
    run_out["records"] = [{k: r[k] for k in ("key", "verdict", "expected", "outcome",
                                             "duration", "detail")} for r in run["records"]]
    return {"run": run_out, "figures": bench_suite.suite_figures(run)}


def section_accuracy(args: argparse.Namespace, profile: dict[str, Any]) -> dict[str, Any]:
    interpreter = bench_goals.interpreter_key(profile)
    if args.dry_run:
        return {"interpreter": interpreter, "python": args.python,
                "plan": f"soak.run_once × {args.runs} quiet + {args.hog_runs} beside "
                        f"soak.cpu_hog({args.hog_procs}): {_suite_cmd(args, ['tests/claims'])}"}
    return bench_suite.accuracy(args.python, args.runs, args.hog_runs, args.hog_procs,
                                interpreter=interpreter, log=log)


def section_harness(args: argparse.Namespace, profile: dict[str, Any]) -> dict[str, Any]:
    if args.dry_run:
        return {"plan": f"runner_cost: thread_skew, dispatch, pool_start, interpreters, "
                        f"calibration for workers {WORKER_COUNTS}"}
    import runner_cost

    repeats = 6 if args.quick else 20
    pool_counts = (1, 2) if args.quick else WORKER_COUNTS
    out: dict[str, Any] = {"repeats": repeats,
                           "default_start_method": profile.get("default_start_method")}
    parts: dict[str, Callable[[], Any]] = {
        "thread_skew": lambda: runner_cost.thread_skew(repeats),
        "dispatch": lambda: runner_cost.dispatch(repeats, WORKER_COUNTS),
        "pool_start": lambda: runner_cost.pool_start(repeats, pool_counts),
        "interpreters": lambda: runner_cost.interpreters(repeats, WORKER_COUNTS),
        "calibration": lambda: runner_cost.calibration(repeats * 3),
    }
    for name, fn in parts.items():
        log(f"  harness: {name} …")
        out[name] = fn()
    out["growth"] = harness_growth(out)
    return out


def harness_growth(h: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per figure: the median at the most workers over the median at the fewest workers with
    a positive figure (``{"from": 2, "to": 16, "ratio": 3.1}``)."""
    def ratio(rows: Sequence[dict[str, Any]], wkey: str, fig: str,
              sub: str | None = None) -> dict[str, float] | None:
        by = {}
        for r in rows:
            cell = (r.get(sub) or {}) if sub and sub in r else r
            if isinstance(cell.get(fig), dict):
                by[r[wkey]] = cell[fig].get("median")
        positive = {w: v for w, v in by.items() if isinstance(v, (int, float)) and v > 0}
        if len(positive) < 2:
            return None
        lo, hi = min(positive), max(positive)  # skew at 1 worker is 0: start from the next
        return {"from": lo, "to": hi, "ratio": positive[hi] / positive[lo]}

    out = {
        "thread start skew (sleep tasks)": ratio(h.get("thread_skew") or [], "threads", "skew",
                                                 "sleep"),
        "thread start skew (calc tasks)": ratio(h.get("thread_skew") or [], "threads", "skew",
                                                "calc"),
        "pool round trip": ratio(h.get("dispatch") or [], "workers", "round_trip"),
        "pool dispatch per task": ratio(h.get("dispatch") or [], "workers",
                                        "per_task_in_batch"),
        "pool start skew": ratio(h.get("dispatch") or [], "workers", "skew"),
    }
    it = h.get("interpreters") or {}
    if it.get("rows"):
        out["sub-interpreters start"] = ratio(it["rows"], "workers", "start_all_workers")
    return {k: v for k, v in out.items() if v is not None}


def section_scale(args: argparse.Namespace, profile: dict[str, Any]) -> dict[str, Any]:
    if args.dry_run:
        return {"plan": "; ".join(_suite_cmd(args, args.scale_tests, ["--gil-scale", f"{s:g}"])
                                  for s in args.scale)}
    return bench_suite.scale_runs(args.python, args.scale_tests, args.scale, log=log)


RUNNERS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], dict[str, Any]]] = {
    "verdict": section_verdict,
    "suite": section_suite,
    "accuracy": section_accuracy,
    "harness": section_harness,
    "scale": section_scale,
}


# --------------------------------------------------------------------------------------------


def reproduce(args: argparse.Namespace) -> list[str]:
    """The commands that give this report's figures, and this run's own command line."""
    cmd = ["python benchmarks/run.py"]
    if args.quick:
        cmd.append("--quick")
    if args.only != ",".join(SECTIONS):
        cmd.append(f"--only {args.only}")
    cmd.append(f"--reps {args.reps} --runs {args.runs} --hog-runs {args.hog_runs}")
    if args.scale != [0.25, 1.0, 4.0]:
        cmd.append("--scale " + ",".join(f"{s:g}" for s in args.scale))
    if args.python != sys.executable:
        cmd.append(f"--python {args.python}")
    return [
        ". .venv/bin/activate   # pyperf, pytest-benchmark, scipy, psutil installed",
        "python benchmarks/run.py --wait-load 1.0          # every section on this interpreter",
        "tox -e py313 --notest                             # 3.13 with the project installed",
        "python benchmarks/run.py --only accuracy --python .tox/py313/bin/python "
        "--out-dir reports/bench-3.13",
        "# this run: " + " ".join(cmd),
    ]


def strict_json(obj: Any) -> Any:
    """``obj`` with every non-finite float (a capacity bound that could not be estimated)
    written as ``None``: bench.json is strict JSON, like the plugin's reports."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def write_outputs(result: dict[str, Any], out_dir: Path, stem: str) -> tuple[Path, Path]:
    """``<stem>.json`` (strict JSON) and ``<stem>.md`` in ``out_dir``, each written
    atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = json.dumps(strict_json(result), indent=1, default=str, allow_nan=False) + "\n"
    paths = []
    for suffix, text in ((".json", doc),
                         (".md", bench_markdown.render(result))):
        path = out_dir / f"{stem}{suffix}"
        tmp = path.with_suffix(f"{suffix}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1]


def _count_default(given: int | None, full: int, quick: bool) -> int:
    return (1 if quick else full) if given is None else given


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_REPS} repetitions, pyperf --fast, 1 quiet + 1 hog soak run")
    parser.add_argument("--dry-run", action="store_true",
                        help="measure nothing: write the plan (bench-dry-run.json/.md)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections among {', '.join(SECTIONS)}")
    parser.add_argument("--reps", type=int, default=None,
                        help=f"repetitions per time-to-verdict question (default {REPS}; "
                             f"--quick {QUICK_REPS})")
    parser.add_argument("--scale", default="0.25,1,4",
                        help="--gil-scale values for the scale section (default 0.25,1,4)")
    parser.add_argument("--scale-tests", default="tests/claims/test_gil.py",
                        help="what the scale section runs (default tests/claims/test_gil.py)")
    parser.add_argument("--runs", type=int, default=None,
                        help=f"quiet claims-suite runs for accuracy (default {QUIET_RUNS}; "
                             "--quick 1)")
    parser.add_argument("--hog-runs", type=int, default=None,
                        help=f"runs beside a CPU hog (default {HOG_RUNS}; --quick 1)")
    parser.add_argument("--hog-procs", type=int, default=1, help="processes in the hog")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter the sections measure (default: this one; not "
                             "the harness section); it needs pytest-gil installed")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "reports",
                        help="where bench.json and bench.md go (default reports/)")
    parser.add_argument("--update", action="store_true",
                        help="keep the sections of the existing bench.json in --out-dir that "
                             "this run does not measure (same interpreter only)")
    parser.add_argument("--wait-load", type=float, default=None, metavar="LOAD",
                        help="first wait until the 1-minute load average is below LOAD")
    parser.add_argument("--wait-max", type=float, default=1200.0,
                        help="seconds to wait for --wait-load at most (default 1200)")
    args = parser.parse_args(argv)
    args.sections = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown or not args.sections:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose among {', '.join(SECTIONS)}")
    try:
        args.scale = [float(x) for x in args.scale.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--scale must be comma-separated numbers, got {args.scale!r}")
    if not args.scale or min(args.scale) <= 0:
        parser.error("--scale values must be positive")
    args.scale_tests = args.scale_tests.split()
    args.reps = (QUICK_REPS if args.quick else REPS) if args.reps is None else args.reps
    args.runs = _count_default(args.runs, QUIET_RUNS, args.quick)
    args.hog_runs = _count_default(args.hog_runs, HOG_RUNS, args.quick)
    if args.reps < 1:
        parser.error(f"--reps must be ≥ 1, got {args.reps}")
    if args.runs < 0 or args.hog_runs < 0 or args.hog_procs < 1:
        parser.error("--runs/--hog-runs must be ≥ 0 and --hog-procs ≥ 1")
    if args.python != sys.executable and shutil.which(args.python) is None:
        parser.error(f"--python {args.python}: no such interpreter")
    return args


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _sigterm)  # finally blocks kill what we started
    try:
        return _main(args)
    except UsageError as exc:
        print(f"run.py: error: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_sections(args: argparse.Namespace, profile: dict[str, Any],
                  result: dict[str, Any]) -> bool:
    """Run the chosen sections into ``result``; returns whether the run was interrupted
    (what was measured until then is kept)."""
    try:
        for name in args.sections:
            log(f"{name} …")
            t_s = time.perf_counter()
            try:
                result["sections"][name] = RUNNERS[name](args, profile)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one broken section must not lose the others
                result["errors"][name] = "".join(traceback.format_exception(exc))[-2000:]
                result["sections"][name] = {"skipped": f"failed: {exc!r}"}
                log(f"  {name} failed: {exc!r}")
            sec = result["sections"][name]
            if isinstance(sec, dict):
                sec["section_seconds"] = round(time.perf_counter() - t_s, 2)
                sec["load_after"] = bench_suite.loadavg()
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")
        return True
    return False


def _kept_sections(args: argparse.Namespace, interpreter: str) -> dict[str, Any]:
    """With ``--update``: the sections of the existing ``bench.json`` this run does not
    measure (each keeps its own ``load_after`` and timing); refused across interpreters."""
    path = args.out_dir / "bench.json"
    if not args.update or args.dry_run or not path.is_file():
        return {}
    old = json.loads(path.read_text(encoding="utf-8"))
    if old.get("interpreter") != interpreter:
        raise UsageError(f"--update: {path} measured {old.get('interpreter')!r}, this run "
                         f"measures {interpreter!r}; choose another --out-dir")
    return {k: v for k, v in (old.get("sections") or {}).items() if k not in args.sections}


def _main(args: argparse.Namespace) -> int:
    from pytest_gil import __version__

    waited = 0.0
    if args.wait_load is not None and not args.dry_run:
        waited = wait_for_quiet(args.wait_load, args.wait_max)
    profile, label = target_profile(args.python)
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "schema": "pytest-gil-bench",
        "schema_version": 2,
        "plugin_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": "dry-run" if args.dry_run else ("quick" if args.quick else "full"),
        "runtime": profile,
        "runtime_label": label,
        "interpreter": bench_goals.interpreter_key(profile),
        "python": args.python,
        "driver": sys.executable,
        "load": {"start": bench_suite.loadavg(), "waited": round(waited, 1)},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "sections": {},
        "errors": {},
    }
    kept = _kept_sections(args, result["interpreter"])
    interrupted = _run_sections(args, profile, result)
    for name, section in kept.items():
        result["sections"].setdefault(name, section)
    if kept:
        result["updated"] = {"kept": sorted(kept), "measured": list(args.sections)}
    result["load"]["end"] = bench_suite.loadavg()
    result["elapsed"] = time.perf_counter() - t0
    result["interrupted"] = interrupted
    result["goals"] = bench_goals.evaluate_goals(result)
    result["reproduce"] = reproduce(args)
    stem = "bench-dry-run" if args.dry_run else "bench"
    json_path, md_path = write_outputs(result, args.out_dir, stem)
    print("\n".join(bench_goals.goal_lines(result["goals"])))
    log(f"written: {json_path}, {md_path}")
    return 1 if result["errors"] or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
