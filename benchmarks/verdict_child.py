"""One repetition of one time-to-verdict question with pytest-gil, in a fresh interpreter.

Started by ``bench_verdict`` (``python benchmarks/verdict_child.py QUESTION --calc-n N``); it
prints one line ``BENCH-JSON {...}``: the seconds its imports took, the delivered capacity it
measured first when the question needs one (value, interval, windows, seconds), the seconds
the measuring call took, the check (verdicts, rounds, its own ``elapsed``, why it stopped) and
the ``time.perf_counter()`` readings at its start and at the verdict — a clock that is
system-wide on Linux, macOS and Windows, so the parent subtracts its own reading at launch to
get the time from interpreter start to verdict.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # first: as close to the interpreter's start as a script gets

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

import bench_questions as Q  # noqa: E402

CHECK_KEYS = ("kind", "label", "claim_tested", "verdict", "verdicts", "figure", "rounds",
              "suspect_rounds", "elapsed", "stop", "reason", "ideal", "detail", "all_bounds")
"""What the parent keeps of the check's record (its rounds and looks stay here)."""


def measure(question: str, calc_n: int) -> Any:
    """The check a user would write for ``question`` (``bench_questions``)."""
    import hashlib

    import pytest_gil
    from pytest_gil.workloads import calc, worker

    if question in ("threads", "processes"):
        return pytest_gil.measure_scaling(calc, calc_n, workers=Q.WORKERS,
                                          executor="thread" if question == "threads"
                                          else "process")
    if question == "sleep":
        return pytest_gil.measure_overlap(worker, Q.SLEEP, tasks=Q.SLEEPERS, executor="thread")
    if question == "release":
        data = bytes(Q.SHA256_BYTES)
        return pytest_gil.releases_gil(hashlib.sha256, data)
    if question == "hold":
        return pytest_gil.releases_gil(calc, Q.HOLD_CALC_N)
    raise ValueError(f"unknown question {question!r}; choose among {', '.join(Q.QUESTIONS)}")


def run(question: str, calc_n: int) -> dict[str, Any]:
    """Measure once: imports, the capacity when needed, the check; every phase timed."""
    clock = time.perf_counter
    t0 = clock()
    import pytest_gil
    import pytest_gil.stats  # numpy and scipy: part of what a verdict costs

    out: dict[str, Any] = {"question": question, "started": STARTED,
                           "import_seconds": clock() - t0, "capacity": None,
                           "capacity_seconds": None}
    if Q.QUESTIONS[question].needs_capacity:
        t0 = clock()
        estimate = pytest_gil.delivered_capacity(Q.WORKERS)
        out["capacity_seconds"] = clock() - t0
        out["capacity"] = estimate.to_dict()
    t0 = clock()
    check = measure(question, calc_n)
    out["call_seconds"] = clock() - t0
    out["verdict_at"] = clock()
    record = check.to_dict()
    out["check"] = {k: record.get(k) for k in CHECK_KEYS}
    out["check"]["signal_logs"] = decided_logs(record)
    return out


def decided_logs(record: dict[str, Any]) -> dict[str, list[float]]:
    """The logs of each deciding signal (``speedup`` and the CPU-time bound ``cpu_speedup``;
    ``release`` — the probe's 2R — for a release check) over the rounds the test used
    (``pytest_gil.baseline.compare.round_values``: no warm-up, none excluded)."""
    from pytest_gil.baseline.compare import round_values

    signals = ("release",) if record.get("kind") == "release" else ("speedup", "cpu_speedup")
    logs = {s: [math.log(v) for v in round_values(record, s)] for s in signals}
    return {s: v for s, v in logs.items() if v}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("question", choices=sorted(Q.QUESTIONS))
    parser.add_argument("--calc-n", type=int, required=True,
                        help="the calc size of the scaling questions (the run's calibration)")
    args = parser.parse_args(argv)
    if args.calc_n < 1:
        parser.error("--calc-n must be positive")
    print("BENCH-JSON " + json.dumps(run(args.question, args.calc_n)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
