"""Claim-specific measurements that are not a plain serial-vs-parallel scaling check.

Each function measures one thing the source document says and returns a result whose
``to_dict()`` is a CHECK record of ``docs/DESIGN.md``; where the answer is statistical it is
decided with the sequential test of :mod:`pytest_gil.stats` (paired rounds, looks at 3, 4, 5,
6, 8, … rounds, Bonferroni-split α, three outcomes), never with a fixed threshold on a
duration.

* :func:`measure_parallelism` — how many CPUs N workers keep busy (CPU time / wall) decided
  alone: "only one thread executes bytecode at a time" is a statement about that figure;
* :func:`fairness` — N CPU-bound threads share the CPU (or the GIL) over a window: Jain's
  index of their progress ("a CPU-bound thread keeps re-taking the GIL, the others barely
  run");
* :func:`wakeup_latency` — how late a sleeping thread wakes up beside a CPU-bound thread at
  switch intervals of 1, 5 and 20 ms (the convoy effect); saves and restores
  ``sys.setswitchinterval``;
* :func:`payload_growth` and :func:`payload_io_cost` — what sending a payload to a process
  costs as it grows, and IO-bound tasks carrying a payload in threads vs processes;
* :func:`list_schedule_makespan` and :func:`measure_schedule` — the makespan of tasks of
  known durations on ``w`` workers against the greedy list schedule;
* :func:`measure_master_worker` — the nginx-style hybrid (processes × threads) against
  threads only and processes only on requests that compute, then wait;
* :func:`run_unguarded_script` — a ``multiprocessing`` script without the ``__main__`` guard
  run in a subprocess under a start method;
* functional observations (exact, no statistics): :func:`process_api`,
  :func:`shared_state_roundtrips`, :func:`separate_interpreters`;
* :func:`measure_process_objects` — the document's ``Process(target=calc)`` × 4, started
  before the clock and released together, against four serial calls;
* :class:`PoolExecutor`, an adapter that lets the engine drive ``multiprocessing.Pool`` the way
  the document does (``apply`` / ``apply_async`` / threads each calling ``apply``).

Functions that run in worker processes are module-level here, so every start method can
import them.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.pool
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import settings

Context = Any
"""A ``multiprocessing`` context (``multiprocessing.get_context(...)``); typeshed's
``BaseContext`` lacks the ``Process``/``Pool`` factories the concrete contexts have."""

if TYPE_CHECKING:
    from .stats import Outcome, SequentialTest

__all__ = [
    "ExperimentResult",
    "FunctionalResult",
    "MainGuardResult",
    "PoolExecutor",
        "batch_makespan",
    "child_identity",
    "default_sigterm",
    "discriminating_order",
    "echo_len",
    "fail_with",
    "fairness",
    "list_schedule_makespan",
    "mark_and_sleep",
    "max_concurrency",
    "measure_master_worker",
    "measure_parallelism",
    "measure_process_objects",
    "measure_schedule",
    "payload_growth",
    "payload_identity",
    "payload_io_cost",
    "process_api",
    "run_unguarded_script",
    "separate_interpreters",
    "serve_requests",
    "shared_state_roundtrips",
    "sleep_then_return",
    "sleep_with_payload",
    "stop_pool",
    "suspect_round",
    "terminating",
    "wait_for",
    "wakeup_latency",
    "worker_threads",
]


# --------------------------------------------------------------------------------------------
# results


def _r(x: float, digits: int = 6) -> float | None:
    return round(x, digits) if math.isfinite(x) else None


def _gil_now() -> bool:
    fn = getattr(sys, "_is_gil_enabled", None)
    return True if fn is None else bool(fn())


@dataclasses.dataclass
class ExperimentResult:
    """A statistical measurement decided by the sequential test.

    ``verdict`` is the verdict of the claim as the *document* states it (``claim_tested``);
    ``figure`` the headline number with its interval; ``to_dict()`` the CHECK record.
    """

    kind: str  # fairness | latency | payload | schedule | model
    label: str
    claim_tested: str
    verdict: str
    figure: dict[str, Any]
    detail: str
    ideal: float
    bounds: dict[str, float]
    rounds: int
    elapsed: float
    reason: str
    alpha: dict[str, float]
    workers: int = 0
    tasks: int = 0
    executor: str = "thread"
    suspect_rounds: int = 0
    raw: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    series: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    x_name: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    gil_enabled: bool = dataclasses.field(default_factory=_gil_now)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "label": self.label,
            "executor": self.executor,
            "workers": self.workers,
            "tasks": self.tasks,
            "ideal": self.ideal,
            "claim_tested": self.claim_tested,
            "verdict": self.verdict,
            "speedup": None,
            "parallelism": None,
            "figure": self.figure,
            "detail": self.detail,
            "rounds": self.rounds,
            "suspect_rounds": self.suspect_rounds,
            "elapsed": round(self.elapsed, 3),
            "bounds": dict(self.bounds),
            "alpha": dict(self.alpha),
            "gil": {"enabled": self.gil_enabled, "changed": self.gil_enabled != _gil_now()},
            "reason": self.reason,
            "raw": list(self.raw),
        }
        if self.series:
            d["series"] = list(self.series)
            d["x_name"] = self.x_name
        d.update(self.extra)
        return d


@dataclasses.dataclass
class FunctionalResult:
    """An exact observation: ``holds`` is what the document's sentence predicts, checked."""

    label: str
    holds: bool
    detail: str
    observations: dict[str, Any]

    @property
    def verdict(self) -> str:
        return "confirmed" if self.holds else "refuted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "functional",
            "label": self.label,
            "claim_tested": "holds",
            "verdict": self.verdict,
            "detail": self.detail,
            "observations": {k: _plain(v) for k, v in self.observations.items()},
            "gil": {"enabled": _gil_now(), "changed": False},
        }


def _plain(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return repr(v)


# --------------------------------------------------------------------------------------------
# the sequential loop shared by the statistical experiments


@dataclasses.dataclass
class _Run:
    outcome: Outcome
    test: SequentialTest
    raw: list[dict[str, Any]]
    elapsed: float
    reason: str
    suspect: int = 0


def _sequential(
    one_round: Callable[[int], tuple[dict[str, float], dict[str, Any]]],
    *,
    ideal: float,
    signals: Sequence[str],
    stop_on: str,
    budget: float | None,
    warmup: bool = True,
) -> _Run:
    """Run rounds until the sequential test decides ``stop_on``, the last look, or the budget.

    ``one_round(i)`` returns the round's ratios (one per signal) and a raw record.  Round 0 is
    a warm-up and discarded when ``warmup``.  A record whose ``"noise"`` reading is suspect
    (:mod:`pytest_gil.noise`) is excluded; more than half of the rounds disturbed (after 6)
    ends the check as inconclusive.  Holds the run's measurement lock throughout.
    """
    from . import stats

    s = settings.current()
    budget_s = s.budget if budget is None else budget
    test = stats.SequentialTest(
        ideal,
        signals=tuple(signals),
        claims=stats.CLAIMS,
        stop_on=stop_on,  # type: ignore[arg-type]
        alpha_confirm=s.alpha_confirm,
        alpha_refute=s.alpha_refute,
    )
    raw: list[dict[str, Any]] = []
    t_begin = time.perf_counter()
    reason = ""
    suspect = 0
    outcome: Outcome | None = None
    with settings.exclusive():
        if warmup:
            _, rec = one_round(0)
            raw.append({**rec, "warmup": True})
        t_budget = time.perf_counter()
        durations: list[float] = []
        i = 0
        while True:
            if durations and (time.perf_counter() - t_budget) + max(durations) > budget_s:
                reason = (
                    f"time budget of {budget_s:g} s ran out after {test.n} rounds "
                    f"(a round takes ~{statistics.mean(durations):.2f} s)"
                )
                break
            i += 1
            t0 = time.perf_counter()
            ratios, rec = one_round(i)
            durations.append(time.perf_counter() - t0)
            bad = [k for k in signals if not (ratios[k] > 0 and math.isfinite(ratios[k]))]
            raw.append({**rec, "warmup": False, "excluded": bool(bad) or suspect_round(rec)})
            if suspect_round(rec):
                suspect += 1
            elif not bad:
                test.add(**{k: ratios[k] for k in signals})
                out = test.look()
                if out is not None:
                    outcome = out
                    break
            if i >= NOISE_STOP_MIN_ROUNDS and suspect > i / 2:
                reason = (f"too noisy: {suspect} of {i} rounds were disturbed "
                          f"({_noise_reasons(raw)})")
                break
            if i >= 2 * test.max_rounds:
                reason = f"only {test.n} usable rounds in {i}"
                break
    if outcome is None:
        outcome = test.outcome(reason)
    return _Run(outcome, test, raw, time.perf_counter() - t_begin, reason or outcome.reason,
                suspect)


NOISE_STOP_MIN_ROUNDS = 6
"""As in the engine: rounds to run before the share of disturbed rounds may end a check."""


def suspect_round(rec: dict[str, Any]) -> bool:
    """Whether a round's record carries a noise reading that marks it as disturbed."""
    noise_rec = rec.get("noise")
    return bool(noise_rec and noise_rec.get("suspect"))


def _noise_reasons(raw: Sequence[dict[str, Any]]) -> str:
    reasons: dict[str, int] = {}
    for r in raw:
        if r.get("warmup") or not suspect_round(r):
            continue
        for flag in r["noise"].get("flags") or ["disturbed"]:
            reasons[flag] = reasons.get(flag, 0) + 1
    return ", ".join(f"{k} ×{v}" for k, v in reasons.items()) or "no reason recorded"


def _alpha() -> dict[str, float]:
    s = settings.current()
    return {"confirm": s.alpha_confirm, "refute": s.alpha_refute}


def _bounds(test: SequentialTest, claim: str) -> dict[str, float]:
    return test.bounds[claim].to_dict()  # type: ignore[index]


def _iv(run: _Run, signal: str) -> dict[str, Any]:
    iv = run.outcome.intervals.get(signal)
    if iv is None or iv.n == 0:
        return {"value": None, "low": None, "high": None}
    return iv.to_dict()


def _iv_text(d: dict[str, Any], fmt: str = ".2f") -> str:
    v, lo, hi = d.get("value"), d.get("low"), d.get("high")
    if v is None:
        return "n/a"
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return format(v, fmt)
    return f"{v:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


# --------------------------------------------------------------------------------------------
# parallelism alone


def measure_parallelism(
    kind: str,
    fn: Callable[..., Any],
    *args: Any,
    workers: int,
    tasks: int | None = None,
    usable_cpus: int,
    executor: cf.Executor | None = None,
    claim: str = "serialized",
    budget: float | None = None,
    label: str = "",
) -> ExperimentResult:
    """How many CPUs do ``workers`` workers of ``kind`` keep busy running ``fn``?  Parallelism
    ``P = CPU time / wall time`` of the phase, decided alone by the sequential test at ideal
    ``min(workers, tasks, usable CPUs)`` ("serialized": P ≈ 1, "parallel": P ≈ ideal).

    The signal of "only one thread executes bytecode at a time": P ≤ 1 however the threads
    are scheduled, ≈ ideal when they run together.  Only the parallel phase is run (no serial
    phase: P needs none), so a round costs one phase.  Rounds under foreign load are excluded
    (:mod:`pytest_gil.noise`): load lowers P, which could pass for serialization.
    """
    from . import noise
    from .runners import run_tasks

    tasks = workers if tasks is None else tasks
    ideal = float(min(workers, tasks, usable_cpus))
    label = label or f"{getattr(fn, '__name__', 'fn')} on {workers} {kind} workers"
    if ideal <= 1:
        return ExperimentResult(
            kind="scaling", label=label, claim_tested=claim, verdict="not-testable",
            figure={}, detail=f"ideal {ideal:g} ≤ 1 ({usable_cpus} usable CPU)", ideal=ideal,
            bounds={}, rounds=0, elapsed=0.0, reason=f"ideal parallelism {ideal:g} ≤ 1",
            alpha=_alpha(), workers=workers, tasks=tasks, executor=kind)
    me = os.getpid()

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        before = noise.snapshot()
        tl = run_tasks(kind, fn, args, tasks=tasks, workers=workers, executor=executor)
        after = noise.snapshot()
        other = sum(t.cpu for t in tl.tasks if t.pid != me)
        reading = noise.reading(before, after, other_cpu=other, cpu_bound=True)
        return {"parallelism": tl.parallelism}, {
            "wall": _r(tl.wall), "cpu": _r(tl.cpu), "parallelism": _r(tl.parallelism, 4),
            "gil_enabled": tl.gil_enabled_after, "noise": reading.to_dict()}

    run = _sequential(one_round, ideal=ideal, signals=("parallelism",), stop_on=claim,
                      budget=budget)
    verdict = run.outcome.verdicts[claim]
    b = _bounds(run.test, claim)
    par = _iv(run, "parallelism")
    detail = (
        f"{label}: P (process CPU / wall) {_iv_text(par)} over {run.test.n} rounds"
        + (f" (+{run.suspect} under foreign load, excluded)" if run.suspect else "")
        + f" — one at a time ≈ 1, all together ≈ {ideal:g}; {claim}: confirm bound "
        f"{b['confirm']:.2f}, refute bound {b['refute']:.2f} → {verdict}"
    )
    if run.reason and verdict == "inconclusive":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="scaling",
        label=label,
        claim_tested=claim,
        verdict=verdict,
        figure={"name": "parallelism", **par, "unit": "CPUs"},
        detail=detail,
        ideal=ideal,
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=workers,
        tasks=tasks,
        executor=kind,
        suspect_rounds=run.suspect,
        raw=run.raw,
        extra={"parallelism": par},
    )


# --------------------------------------------------------------------------------------------
# fairness: does a CPU-bound thread starve the others?

_CHUNK = 2000


def _spin(index: int, counts: list[int], stop: list[bool], barrier: threading.Barrier) -> None:
    barrier.wait()
    while not stop[0]:
        s = 0
        for _ in range(_CHUNK):
            s += 1
        counts[index] += s


def fairness(
    threads: int = 3,
    window: float = 0.1,
    *,
    budget: float | None = None,
) -> ExperimentResult:
    """Run ``threads`` CPU-bound threads (the document's counting loop) and measure, window by
    window, how evenly they progress: Jain's index ``J = (Σx)² / (n·Σx²)`` of the iterations
    each completed in the window (1 = equal shares, ``1/n`` = one thread gets everything).

    The sentence "a CPU-bound thread may keep re-taking the GIL so others barely run" predicts
    that one thread gets (nearly) everything: ``J·n ≈ 1`` "thread served" per window; fair
    sharing gives ``J·n ≈ n``.  Each window is one round of the sequential test on ``J·n``
    with ideal ``n``: the claim "starves" is the engine's "serialized" (confirmed when
    ``J·n < √n``, refuted when ``J·n > n**0.75``).
    """
    if threads < 2:
        raise ValueError(f"fairness needs at least 2 threads, got {threads}")
    from . import stats

    counts = [0] * threads
    stop = [False]
    barrier = threading.Barrier(threads + 1)
    pool = [
        threading.Thread(target=_spin, args=(i, counts, stop, barrier), daemon=True,
                         name=f"pytest-gil-fair-{i}")
        for i in range(threads)
    ]
    for t in pool:
        t.start()
    last_snap, last_t = list(counts), [time.perf_counter()]

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        time.sleep(window)
        snap, now = list(counts), time.perf_counter()
        deltas = [b - a for a, b in zip(last_snap, snap, strict=True)]
        wall = now - last_t[0]
        last_snap[:], last_t[0] = snap, now
        total = sum(deltas)
        if total <= 0:
            return {"served": math.nan}, {"window": wall, "iterations": deltas}
        j = stats.jain_index(deltas)
        shares = [d / total for d in deltas]
        return {"served": j * threads}, {
            "window": round(wall, 6),
            "iterations": deltas,
            "shares": [round(x, 4) for x in shares],
            "jain": round(j, 4),
        }

    try:
        barrier.wait()
        last_snap[:], last_t[0] = list(counts), time.perf_counter()
        run = _sequential(one_round, ideal=float(threads), signals=("served",),
                          stop_on="serialized", budget=budget)
    finally:
        stop[0] = True
        for t in pool:
            t.join()
    served = _iv(run, "served")
    jain = {k: (None if v is None else v / threads) for k, v in served.items()}
    used = [r for r in run.raw if not r.get("warmup") and "shares" in r]
    min_share = min((min(r["shares"]) for r in used), default=math.nan)
    verdict = run.outcome.verdicts["serialized"]
    b = _bounds(run.test, "serialized")
    detail = (
        f"{threads} CPU-bound threads, {len(used)} windows of {window * 1000:.0f} ms "
        f"(switch interval {sys.getswitchinterval() * 1000:g} ms): Jain's index "
        f"{_iv_text(jain, '.3f')} — threads served J·n {_iv_text(served)} of {threads}; "
        f"smallest share of a window {min_share:.1%} (starving would be J·n ≈ 1; confirm "
        f"below {b['confirm']:.2f}, refute above {b['refute']:.2f}) → starves {verdict}"
    )
    if run.reason and verdict == "inconclusive":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="fairness",
        label=f"fairness of {threads} CPU-bound threads",
        claim_tested="starves",
        verdict=verdict,
        figure={"name": "jain_index", **jain, "unit": ""},
        detail=detail,
        ideal=float(threads),
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=threads,
        tasks=threads,
        raw=run.raw,
        extra={"jain": jain, "served": served, "min_share": _r(min_share, 4),
               "switch_interval": sys.getswitchinterval()},
    )


# --------------------------------------------------------------------------------------------
# wake-up latency beside CPU-bound threads (convoy effect)


def _latency_samples(n: int, sleep: float) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        time.sleep(sleep)
        out.append(time.perf_counter() - t0 - sleep)
    return out


def wakeup_latency(
    switch_intervals: Sequence[float] = (0.001, 0.005, 0.020),
    *,
    cpu_threads: int = 1,
    sleep: float = 0.002,
    samples: int = 6,
    budget: float | None = None,
) -> ExperimentResult:
    """How late does a thread that sleeps ``sleep`` seconds run again while ``cpu_threads``
    threads run the counting loop, at each switch interval?

    With a GIL, the waking thread must wait for the CPU-bound thread to drop it, which it is
    asked to do only after a full switch interval (``Python/ceval_gil.c``): the latency grows
    with the interval.  Without a GIL it stays at the OS wake-up latency.  Each round measures
    the mean latency of ``samples`` sleeps at every interval (order reversed every other
    round); the signal is ``latency(largest) / latency(smallest)``, whose ideal under the GIL
    model is the ratio of the intervals.  "latency grows with the switch interval" is the
    engine's "parallel" claim at that ideal.  ``sys.setswitchinterval`` is restored.
    """
    from . import stats

    sis = sorted(float(x) for x in switch_intervals)
    if len(sis) < 2 or sis[0] <= 0:
        raise ValueError("need at least two positive switch intervals")
    ideal = sis[-1] / sis[0]
    saved = sys.getswitchinterval()
    baseline = statistics.median(_latency_samples(samples * 2, sleep))
    stop = [False]
    counts = [0] * cpu_threads
    barrier = threading.Barrier(cpu_threads + 1)
    hogs = [
        threading.Thread(target=_spin, args=(i, counts, stop, barrier), daemon=True,
                         name=f"pytest-gil-hog-{i}")
        for i in range(cpu_threads)
    ]
    per_si: dict[float, list[float]] = {x: [] for x in sis}

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        order = sis if i % 2 == 0 else list(reversed(sis))
        med: dict[float, float] = {}
        for si in order:
            sys.setswitchinterval(si)
            _latency_samples(1, sleep)  # the first wake-up may still run on the old interval
            # The mean, not the median: on a loaded machine the CPU-bound thread sometimes has
            # not re-taken the GIL yet when the sleeper wakes (a fast sample), which makes the
            # distribution bimodal; the mean keeps the convoy's share in the figure.
            med[si] = statistics.fmean(_latency_samples(samples, sleep))
        if i > 0:
            for si, v in med.items():
                per_si[si].append(v)
        ratio = med[sis[-1]] / med[sis[0]] if med[sis[0]] > 0 else math.nan
        return {"latency_ratio": ratio}, {
            "order": [x * 1000 for x in order],
            "mean_latency": {f"{si * 1000:g}ms": _r(v) for si, v in med.items()},
            "ratio": _r(ratio, 4),
        }

    try:
        for t in hogs:
            t.start()
        barrier.wait()
        run = _sequential(one_round, ideal=ideal, signals=("latency_ratio",),
                          stop_on="parallel", budget=budget)
    finally:
        stop[0] = True
        for t in hogs:
            t.join()
        sys.setswitchinterval(saved)
    series: list[dict[str, Any]] = []
    for si in sis:
        vals = [v for v in per_si[si] if v > 0]
        if vals:
            iv = stats.interval([math.log(v) for v in vals])
            series.append({"x": si, "value": _r(iv.value), "low": _r(iv.low),
                           "high": _r(iv.high), "n": iv.n})
        else:
            series.append({"x": si, "value": None, "low": None, "high": None, "n": 0})
    verdict = run.outcome.verdicts["parallel"]
    ratio = _iv(run, "latency_ratio")
    b = _bounds(run.test, "parallel")
    pts = ", ".join(
        f"{p['x'] * 1000:g} ms → {float(p['value']) * 1000:.2f} ms" for p in series
        if p["value"] is not None
    )
    detail = (
        f"a thread sleeping {sleep * 1000:g} ms beside {cpu_threads} CPU-bound thread(s) "
        f"wakes late by (geometric mean of per-round means) {pts}; idle baseline "
        f"{baseline * 1000:.3f} ms; latency({sis[-1] * 1000:g} ms)/latency({sis[0] * 1000:g} "
        f"ms) = {_iv_text(ratio)} (GIL convoy model ≈ {ideal:g}; grows: confirm above "
        f"{b['confirm']:.2f}, refute below {b['refute']:.2f}) → grows {verdict}"
    )
    if run.reason and verdict == "inconclusive":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="latency",
        label=f"wake-up latency beside {cpu_threads} CPU-bound thread(s)",
        claim_tested="grows",
        verdict=verdict,
        figure={"name": "latency_ratio", **ratio, "unit": "x"},
        detail=detail,
        ideal=ideal,
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=cpu_threads + 1,
        tasks=samples,
        raw=run.raw,
        series=series,
        x_name="switch interval (s)",
        extra={"baseline": _r(baseline), "sleep": sleep, "switch_interval_restored": saved},
    )


# --------------------------------------------------------------------------------------------
# payloads: what crossing a process boundary costs


def echo_len(payload: bytes) -> int:
    """Receive ``payload`` (pickled across for a process) and return its length."""
    return len(payload)


def payload_identity(payload: bytes) -> int:
    """``id(payload)`` as the worker sees it: equal to the caller's in a thread (no copy)."""
    return id(payload)


def sleep_with_payload(payload: bytes, t: float) -> int:
    """An IO-bound task carrying data: wait ``t`` seconds, return the payload's length."""
    time.sleep(t)
    return len(payload)


def _time_tasks(ex: cf.Executor, fn: Callable[..., Any], args: tuple[Any, ...],
                tasks: int) -> float:
    t0 = time.perf_counter()
    futs = [ex.submit(fn, *args) for _ in range(tasks)]
    for f in futs:
        f.result()
    return time.perf_counter() - t0


def _median_time(ex: cf.Executor, fn: Callable[..., Any], args: tuple[Any, ...],
                 tasks: int, reps: int) -> float:
    return statistics.median(_time_tasks(ex, fn, args, tasks) for _ in range(reps))


def payload_growth(
    thread_pool: cf.Executor,
    process_pool: cf.Executor,
    *,
    small: int = 2 << 20,
    factor: int = 8,
    reps: int = 3,
    budget: float | None = None,
) -> ExperimentResult:
    """Send a payload of ``small`` and ``factor × small`` bytes to a process (``echo_len``)
    and to a thread.  multiprocessing pickles it, pushes it through a pipe and unpickles it:
    the cost grows with the size.  A thread receives a reference: no copy, no growth.

    Signal per round: ``T_process(big) / T_process(small)`` (median of ``reps``), whose ideal
    under "cost ∝ size" is ``factor``: "the cost grows with the size" is the "parallel" claim
    at that ideal (confirmed above ``√factor``).  The threads' ratio and whether the thread
    saw the very same object (``id`` equality) are reported alongside.
    """
    big = small * factor
    payloads = {small: b"\x01" * small, big: b"\x01" * big}
    same = thread_pool.submit(payload_identity, payloads[small]).result() == id(payloads[small])
    for p in payloads.values():  # warm both pools and the pipe
        process_pool.submit(echo_len, p).result()

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        t = {}
        for kind, ex in (("process", process_pool), ("thread", thread_pool)):
            for size in ((small, big) if i % 2 == 0 else (big, small)):
                t[kind, size] = _median_time(ex, echo_len, (payloads[size],), 1, reps)
        g_p = t["process", big] / t["process", small]
        g_t = t["thread", big] / t["thread", small]
        return {"growth": g_p}, {
            "process_small": _r(t["process", small]), "process_big": _r(t["process", big]),
            "thread_small": _r(t["thread", small]), "thread_big": _r(t["thread", big]),
            "process_growth": _r(g_p, 4), "thread_growth": _r(g_t, 4),
        }

    run = _sequential(one_round, ideal=float(factor), signals=("growth",),
                      stop_on="parallel", budget=budget)
    verdict = run.outcome.verdicts["parallel"]
    g = _iv(run, "growth")
    used = [r for r in run.raw if not r.get("warmup")]
    t_growth = statistics.median(r["thread_growth"] for r in used) if used else math.nan
    p_small = statistics.median(r["process_small"] for r in used) if used else math.nan
    p_big = statistics.median(r["process_big"] for r in used) if used else math.nan
    b = _bounds(run.test, "parallel")
    mib = 1 << 20
    detail = (
        f"sending {small / mib:g} MiB vs {big / mib:g} MiB to a process: "
        f"{p_small * 1000:.2f} ms vs {p_big * 1000:.2f} ms (medians), growth "
        f"{_iv_text(g)}× (∝ size would be {factor}×; grows: confirm above {b['confirm']:.2f}, "
        f"refute below {b['refute']:.2f}) → {verdict}; to a thread: growth {t_growth:.2f}×, "
        f"the thread saw the caller's object itself (no copy): {same}"
    )
    if run.reason and verdict == "inconclusive":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="payload",
        label="payload cost: process vs thread",
        claim_tested="grows",
        verdict=verdict,
        figure={"name": "process_cost_growth", **g, "unit": "x"},
        detail=detail,
        ideal=float(factor),
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=1,
        tasks=1,
        executor="process",
        raw=run.raw,
        series=[
            {"x": small, "value": _r(p_small), "low": None, "high": None},
            {"x": big, "value": _r(p_big), "low": None, "high": None},
        ],
        x_name="payload (bytes)",
        extra={"thread_same_object": same, "thread_growth": _r(t_growth, 4)},
    )


def _transfer_seconds_per_byte(process_pool: cf.Executor, probe: int = 8 << 20) -> float:
    payload = b"\x01" * probe
    process_pool.submit(echo_len, payload).result()
    t = _median_time(process_pool, echo_len, (payload,), 1, 3)
    empty = _median_time(process_pool, echo_len, (b"",), 1, 3)
    return max(t - empty, 1e-6) / probe


def payload_io_cost(
    thread_pool: cf.Executor,
    process_pool: cf.Executor,
    *,
    workers: int = 2,
    wait: float = 0.02,
    small: int = 1024,
    big: int | None = None,
    budget: float | None = None,
) -> ExperimentResult:
    """IO-bound tasks (``sleep_with_payload``: wait ``wait`` s) each carrying a payload, run
    ``workers`` at a time on threads and on processes, with a small and a big payload.

    ``r(S) = T_process(S) / T_thread(S)``; the signal is ``r(big) / r(small)``: how much
    further processes fall behind as the payload grows.  ``big`` defaults to the size whose
    transfer to a process takes about ``wait`` (measured once here, clamped to 1–16 MiB), so
    a process task that must receive it first takes ≈ twice as long: the ideal is 2 and
    "processes fall behind" is the "parallel" claim at it (confirmed above √2).
    """
    if big is None:
        per_byte = _transfer_seconds_per_byte(process_pool)
        big = int(min(16 << 20, max(1 << 20, wait / per_byte)))
    payloads = {small: b"\x01" * small, big: b"\x01" * big}
    for p in payloads.values():
        process_pool.submit(sleep_with_payload, p, 0.0).result()

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        t = {}
        sizes = (small, big) if i % 2 == 0 else (big, small)
        for size in sizes:
            for kind, ex in (("thread", thread_pool), ("process", process_pool)):
                t[kind, size] = _time_tasks(ex, sleep_with_payload, (payloads[size], wait),
                                            workers)
        r_small = t["process", small] / t["thread", small]
        r_big = t["process", big] / t["thread", big]
        return {"relative": r_big / r_small}, {
            **{f"{k}_{'big' if s == big else 'small'}": _r(v) for (k, s), v in t.items()},
            "r_small": _r(r_small, 4), "r_big": _r(r_big, 4),
        }

    run = _sequential(one_round, ideal=2.0, signals=("relative",), stop_on="parallel",
                      budget=budget)
    verdict = run.outcome.verdicts["parallel"]
    rel = _iv(run, "relative")
    used = [r for r in run.raw if not r.get("warmup")]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in used) if used else math.nan

    b = _bounds(run.test, "parallel")
    detail = (
        f"{workers} IO-bound tasks waiting {wait * 1000:g} ms each: with a {small} B payload "
        f"threads {med('thread_small') * 1000:.1f} ms, processes "
        f"{med('process_small') * 1000:.1f} ms; with {big / (1 << 20):.1f} MiB threads "
        f"{med('thread_big') * 1000:.1f} ms, processes {med('process_big') * 1000:.1f} ms; "
        f"processes fall behind by {_iv_text(rel)}× more at the big payload (confirm above "
        f"{b['confirm']:.2f}, refute below {b['refute']:.2f}) → {verdict}"
    )
    if run.reason and verdict == "inconclusive":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="payload",
        label="IO-bound tasks with a payload: threads vs processes",
        claim_tested="processes-fall-behind",
        verdict=verdict,
        figure={"name": "relative_slowdown", **rel, "unit": "x"},
        detail=detail,
        ideal=2.0,
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=workers,
        tasks=workers,
        executor="process",
        raw=run.raw,
        series=[
            {"x": small, "value": _r(med("r_small"), 4), "low": None, "high": None},
            {"x": big, "value": _r(med("r_big"), 4), "low": None, "high": None},
        ],
        x_name="payload (bytes); value = T_process / T_thread",
        extra={"big": big, "small": small, "wait": wait},
    )


# --------------------------------------------------------------------------------------------
# list scheduling


def list_schedule_makespan(durations: Sequence[float], workers: int) -> float:
    """Makespan of the greedy list schedule: tasks taken in order, each by the first worker
    to be free (what a pool whose workers pull from one queue does)."""
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    free = [0.0] * workers
    for d in durations:
        k = min(range(workers), key=lambda j: free[j])
        free[k] += d
    return max(free) if durations else 0.0


def batch_makespan(durations: Sequence[float], workers: int) -> float:
    """Makespan if the pool ran tasks in batches of ``workers``, each batch waiting for its
    slowest task (the alternative model to tell greedy scheduling from)."""
    return sum(max(durations[i:i + workers]) for i in range(0, len(durations), workers))


def max_concurrency(intervals: Sequence[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals open at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def _run_schedule(ex: cf.Executor, durations: Sequence[float]) -> tuple[float, list[Any]]:
    from .runners import timed_call
    from .workloads import worker

    t0 = time.perf_counter()
    futs = [ex.submit(timed_call, worker, (d,), {}) for d in durations]
    res = [f.result() for f in futs]
    return time.perf_counter() - t0, res


def discriminating_order(units: Sequence[int], workers: int) -> tuple[int, ...]:
    """The order of ``units`` in which greedy list scheduling beats batches of ``workers`` by
    the widest margin (first such permutation; up to 8 tasks are searched exhaustively)."""
    import itertools

    if len(units) > 8:
        return tuple(sorted(units, reverse=True))
    best: tuple[float, tuple[int, ...]] = (0.0, tuple(units))
    for p in itertools.permutations(units):
        ratio = batch_makespan(p, workers) / list_schedule_makespan(p, workers)
        if ratio > best[0] + 1e-12:
            best = (ratio, p)
    return best[1]


def measure_schedule(
    ex: cf.Executor,
    units: Sequence[int] = (2, 3, 4, 5, 6, 7),
    *,
    unit: float = 0.015,
    workers: int = 3,
    budget: float | None = None,
) -> ExperimentResult:
    """Submit ``worker(u × unit)`` for each ``u`` of ``units`` (the document's 2..7) to ``ex``
    (``workers`` workers, warm) and compare the makespan with the greedy list schedule's.

    In the document's order greedy and batch-by-``workers`` scheduling predict the same
    makespan (11 units for 2..7 on 3), so the same durations are also run in the order that
    tells them apart best (:func:`discriminating_order`: 7, 5, 3, 6, 4, 2 → greedy 9, batches
    13 units).  The ratio ``batch / greedy`` of that order is the ideal of an equivalence
    test — the "serialized" claim on ``measured / greedy`` in both orders: confirmed when
    within ``√ideal`` of greedy, refuted beyond ``ideal**0.75``.  The largest number of tasks
    that ran at once, from their own timestamps, is reported (it must not exceed
    ``workers``).
    """
    other = discriminating_order(units, workers)
    orders = {"document": [u * unit for u in units],
              "discriminating": [u * unit for u in other]}
    greedy = {k: list_schedule_makespan(v, workers) for k, v in orders.items()}
    batch = {k: batch_makespan(v, workers) for k, v in orders.items()}
    ideal = batch["discriminating"] / greedy["discriminating"]
    if ideal <= 1:
        raise ValueError("these durations cannot tell greedy from batch scheduling")
    conc = [0]
    pids: set[tuple[int, int]] = set()

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        ratios: dict[str, float] = {}
        rec: dict[str, Any] = {}
        names = ("document", "discriminating")
        for name in (names if i % 2 == 0 else names[::-1]):
            wall, res = _run_schedule(ex, orders[name])
            conc[0] = max(conc[0], max_concurrency([(r[1], r[2]) for r in res]))
            pids.update((r[4], r[5]) for r in res)
            ratios[name] = wall / greedy[name]
            rec[f"{name}_makespan"] = _r(wall)
        return ratios, rec

    run = _sequential(one_round, ideal=ideal, signals=tuple(orders), stop_on="serialized",
                      budget=budget)
    verdict = run.outcome.verdicts["serialized"]
    b = _bounds(run.test, "serialized")
    doc, dis = _iv(run, "document"), _iv(run, "discriminating")
    ms = 1000
    detail = (
        f"{len(units)} tasks sleeping {', '.join(str(u) for u in units)} × {unit * ms:g} ms "
        f"on {workers} workers: makespan / greedy list schedule = {_iv_text(doc, '.3f')} in "
        f"the document's order (greedy = batches of {workers} = "
        f"{greedy['document'] * ms:.0f} ms), {_iv_text(dis, '.3f')} in the order "
        f"{', '.join(str(u) for u in other)} (greedy {greedy['discriminating'] * ms:.0f} ms, "
        f"batches {batch['discriminating'] * ms:.0f} ms); equal to greedy: confirm below "
        f"{b['confirm']:.3f}, refute above {b['refute']:.3f} → {verdict}; at most {conc[0]} "
        f"tasks ran at once on {len(pids)} workers"
    )
    if run.reason and verdict == "inconclusive":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="schedule",
        label="makespan vs greedy list schedule",
        claim_tested="equals-list-schedule",
        verdict=verdict,
        figure={"name": "makespan_over_greedy", **dis, "unit": "x"},
        detail=detail,
        ideal=ideal,
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=workers,
        tasks=len(units),
        executor="process",
        raw=run.raw,
        extra={"greedy": greedy, "batch": batch, "max_concurrency": conc[0],
               "distinct_workers": len(pids), "discriminating_order": list(other)},
    )


# --------------------------------------------------------------------------------------------
# master / worker: processes × threads on mixed requests


def serve_requests(requests: int, n: int, wait: float, threads: int) -> int:
    """Serve ``requests`` mixed requests (``calc(n)`` then ``wait`` s of IO) on ``threads``
    threads of this process; return how many were served."""
    from .workloads import mixed_request

    if threads <= 1:
        for _ in range(requests):
            mixed_request(n, wait)
        return requests
    todo = list(range(requests))
    lock = threading.Lock()
    done = [0]

    def loop() -> None:
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            mixed_request(n, wait)
            with lock:
                done[0] += 1

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return done[0]


def measure_master_worker(
    process_pool: cf.Executor,
    *,
    processes: int,
    threads_per_process: int = 4,
    n: int,
    wait: float,
    requests: int = 8,
    budget: float | None = None,
) -> ExperimentResult:
    """``requests`` mixed requests (``calc(n)`` then ``wait`` s) served three ways: the
    document's nginx model (``processes`` worker processes × ``threads_per_process`` threads),
    threads only (all threads in this process) and processes only (one thread each).

    Signal per round: ``T_hybrid / min(T_threads, T_processes)``.  "The hybrid's throughput is
    at least the better of the other two" is a non-inferiority claim: the engine's
    "serialized" claim on that ratio with ideal ``processes`` (confirmed when the hybrid is
    within ``√processes`` of the better model, refuted when slower by more than
    ``processes**0.75`` — the hybrid then failed to use the CPUs the better model used).
    """
    per = requests // processes
    if per * processes != requests:
        raise ValueError("requests must be a multiple of processes")

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        t: dict[str, float] = {}
        names = ["hybrid", "threads", "processes"]
        if i % 2:
            names.reverse()
        for name in names:
            t0 = time.perf_counter()
            if name == "threads":
                serve_requests(requests, n, wait, processes * threads_per_process)
            else:
                k = threads_per_process if name == "hybrid" else 1
                futs = [process_pool.submit(serve_requests, per, n, wait, k)
                        for _ in range(processes)]
                for f in futs:
                    f.result()
            t[name] = time.perf_counter() - t0
        best = min(t["threads"], t["processes"])
        return {"hybrid_vs_best": t["hybrid"] / best}, {k: _r(v) for k, v in t.items()}

    run = _sequential(one_round, ideal=float(processes), signals=("hybrid_vs_best",),
                      stop_on="serialized", budget=budget)
    verdict = run.outcome.verdicts["serialized"]
    b = _bounds(run.test, "serialized")
    q = _iv(run, "hybrid_vs_best")
    used = [r for r in run.raw if not r.get("warmup")]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in used) if used else math.nan

    thr = {k: requests / med(k) for k in ("hybrid", "threads", "processes")}
    detail = (
        f"{requests} requests (calc ≈ CPU then {wait * 1000:g} ms wait): throughput "
        f"{processes}×{threads_per_process} hybrid {thr['hybrid']:.0f}/s, "
        f"{processes * threads_per_process} threads {thr['threads']:.0f}/s, {processes} "
        f"single-threaded processes {thr['processes']:.0f}/s; hybrid time / better other "
        f"{_iv_text(q)} (at least as good: confirm below {b['confirm']:.2f}, refute above "
        f"{b['refute']:.2f}) → {verdict}"
    )
    if run.reason and verdict == "inconclusive":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="model",
        label="master/worker: processes × threads",
        claim_tested="hybrid-at-least-best",
        verdict=verdict,
        figure={"name": "hybrid_time_over_best", **q, "unit": "x"},
        detail=detail,
        ideal=float(processes),
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=processes * threads_per_process,
        tasks=requests,
        executor="process",
        raw=run.raw,
        extra={"throughput": {k: _r(v, 2) for k, v in thr.items()}},
    )


# --------------------------------------------------------------------------------------------
# multiprocessing.Pool and Process as executors (for the engine)


class PoolExecutor(cf.Executor):
    """A ``multiprocessing.Pool`` driven the way the document drives it, as an Executor the
    engine can time:

    * ``"apply"`` — ``submit`` calls the blocking ``pool.apply`` (so a phase of ``k`` submits
      is the document's loop of ``k`` ``apply`` calls);
    * ``"apply_async"`` — ``submit`` calls ``pool.apply_async``, its callbacks complete the
      future;
    * ``"threads"`` — ``submit`` starts a thread that calls ``pool.apply`` (the document's last
      Pool example, one thread per task).

    ``shutdown`` joins those threads; the pool itself stays the caller's to close.
    """

    MODES = ("apply", "apply_async", "threads")

    def __init__(self, pool: multiprocessing.pool.Pool, workers: int,
                 mode: str = "apply_async") -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        self.pool = pool
        self.mode = mode
        self._max_workers = workers
        self._threads: list[threading.Thread] = []

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> cf.Future[Any]:
        fut: cf.Future[Any] = cf.Future()
        fut.set_running_or_notify_cancel()  # a late callback must never hit a cancelled one
        if self.mode == "apply":
            self._apply_into(fut, fn, args, kwargs)
        elif self.mode == "apply_async":
            self.pool.apply_async(fn, args, kwargs, callback=fut.set_result,
                                  error_callback=fut.set_exception)
        else:
            t = threading.Thread(target=self._apply_into, args=(fut, fn, args, kwargs),
                                 name=f"sub={len(self._threads)}", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()
        return fut

    def _apply_into(self, fut: cf.Future[Any], fn: Callable[..., Any],
                    args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            fut.set_result(self.pool.apply(fn, args, kwargs))
        except BaseException as exc:
            fut.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for t in self._threads:
            t.join(30.0 if wait else 0.0)
        self._threads = [t for t in self._threads if t.is_alive()]


def _calc_child(go: multiprocessing.connection.Connection,
                out: multiprocessing.connection.Connection, i: int, n: int) -> None:
    default_sigterm()
    from .workloads import calc_i

    # A fresh child's first run of the loop is slower (measured: up to 2×, and ~20% more CPU
    # time while four of them share two CPUs): pages shared copy-on-write with the parent are
    # copied as they are written, caches are cold.  The document's calc runs for a minute, so
    # that is noise there; at 50 ms it is not.  Run it once before the clock.
    calc_i(i, n)
    out.send("ready")
    go.recv()
    c0, t0 = time.thread_time(), time.perf_counter()
    result = calc_i(i, n)
    t1, c1 = time.perf_counter(), time.thread_time()
    out.send((t0, t1, c1 - c0, result))
    out.close()


def measure_process_objects(
    n: int,
    *,
    processes: int = 4,
    usable_cpus: int,
    start_method: str | None = None,
    budget: float | None = None,
) -> ExperimentResult:
    """The document's first multiprocessing example — ``Process(target=calc, args=(i,))`` for
    i in range(4), ``start()``, then ``join()`` each and read ``exitcode`` — against calling
    ``calc`` four times in this process, in paired rounds (order alternated).

    The processes are started before the clock, run ``calc`` once to warm up, and are released
    together through a pipe (the document's ``calc`` takes a minute, so process start-up and
    the first slow run are noise there; with a calibrated 50 ms ``calc`` they would
    dominate).  The parallel phase ends when every
    process has been joined.  Signals as in the engine: speedup and parallelism (the
    children's CPU time / wall), decided as the "parallel" claim at ideal ``min(processes,
    usable CPUs)``; rounds under foreign load are excluded (:mod:`pytest_gil.noise`).
    """
    from . import noise
    from .workloads import calc

    ideal = float(min(processes, usable_cpus))
    ctx: Context = multiprocessing.get_context(start_method)
    if ideal <= 1:
        return ExperimentResult(
            kind="scaling", label="Process(target=calc) × 4", claim_tested="parallel",
            verdict="not-testable", figure={}, ideal=ideal, bounds={}, rounds=0, elapsed=0.0,
            detail=f"{usable_cpus} usable CPU: nothing to compare",
            reason=f"ideal speedup {ideal:g} ≤ 1", alpha=_alpha(), workers=processes,
            tasks=processes, executor="process")
    exitcodes: list[int | None] = []

    def parallel() -> tuple[float, float]:
        procs, gos, outs = [], [], []
        for i in range(processes):
            go_r, go_w = ctx.Pipe(duplex=False)
            out_r, out_w = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_calc_child, args=(go_r, out_w, i, n), name=f"calc-{i}")
            p.start()
            go_r.close()
            out_w.close()
            procs.append(p)
            gos.append(go_w)
            outs.append(out_r)
        try:
            for o in outs:
                if o.recv() != "ready":
                    raise RuntimeError("a calc process did not start")
            t0 = time.perf_counter()
            for g in gos:
                g.send(True)
            recs = [o.recv() for o in outs]
            for p in procs:
                p.join()
            t1 = time.perf_counter()
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
                    p.join()
            for c in (*gos, *outs):
                c.close()
        exitcodes[:] = [p.exitcode for p in procs]
        return t1 - t0, sum(r[2] for r in recs)

    def serial() -> tuple[float, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(processes):
            calc(n)
        return time.perf_counter() - t0, time.process_time() - c0

    def one_round(i: int) -> tuple[dict[str, float], dict[str, Any]]:
        before = noise.snapshot()
        if i % 4 in (0, 3):
            t_s, c_s = serial()
            t_p, c_p = parallel()
        else:
            t_p, c_p = parallel()
            t_s, c_s = serial()
        after = noise.snapshot()
        reading = noise.reading(before, after, other_cpu=c_p, serial_cpu_ratio=c_s / t_s,
                                cpu_bound=True)
        ratios = {"speedup": t_s / t_p, "parallelism": c_p / t_p}
        return ratios, {"t_serial": _r(t_s), "t_parallel": _r(t_p), "cpu_parallel": _r(c_p),
                        "exitcodes": list(exitcodes), "noise": reading.to_dict()}

    run = _sequential(one_round, ideal=ideal, signals=("speedup", "parallelism"),
                      stop_on="parallel", budget=budget)
    verdict = run.outcome.verdicts["parallel"]
    b = _bounds(run.test, "parallel")
    sp, par = _iv(run, "speedup"), _iv(run, "parallelism")
    codes = sorted({c for r in run.raw for c in r.get("exitcodes", [])}, key=str)
    detail = (
        f"{processes} × Process(target=calc, args=(i,)) started, released together, joined "
        f"(exitcodes {codes}) vs calc() {processes} times: speedup {_iv_text(sp)}×, P "
        f"{_iv_text(par)} — ideal {ideal:g}, confirm bound {b['confirm']:.2f}, refute bound "
        f"{b['refute']:.2f}, {run.test.n} rounds"
        + (f" (+{run.suspect} suspect)" if run.suspect else "") + f" → parallel {verdict}"
    )
    if run.reason and verdict != "confirmed":
        detail += f" ({run.reason})"
    return ExperimentResult(
        kind="scaling",
        label=f"Process(target=calc) × {processes}",
        claim_tested="parallel",
        verdict=verdict,
        figure={"name": "speedup", **sp, "unit": "x"},
        detail=detail,
        ideal=ideal,
        bounds=b,
        rounds=run.test.n,
        elapsed=run.elapsed,
        reason=run.reason,
        alpha=_alpha(),
        workers=processes,
        tasks=processes,
        executor="process",
        raw=run.raw,
        suspect_rounds=run.suspect,
        extra={"speedup": sp, "parallelism": par, "exitcodes": codes},
    )


# --------------------------------------------------------------------------------------------
# exact observations of multiprocessing


_STATE = {"counter": 0}


def child_identity(increment: int) -> tuple[int, int]:
    """Mutate a module global in the worker and report ``(pid, value after mutation)``."""
    _STATE["counter"] += increment
    return os.getpid(), _STATE["counter"]


def worker_threads() -> list[str]:
    """The names of the threads the worker process runs (``["MainThread"]`` when it is
    single-threaded)."""
    return sorted(t.name for t in threading.enumerate())


def separate_interpreters(ex: cf.Executor, tasks: int = 4) -> FunctionalResult:
    """Run ``child_identity`` in pool workers: each child is another process (pid), with its
    own copy of the module's globals — the parent's stays untouched."""
    before = _STATE["counter"]
    res = [f.result() for f in [ex.submit(child_identity, 1) for _ in range(tasks)]]
    pids = sorted({pid for pid, _ in res})
    me = os.getpid()
    parent_after = _STATE["counter"]
    holds = me not in pids and parent_after == before and all(v >= 1 for _, v in res)
    return FunctionalResult(
        "processes are separate interpreters",
        holds,
        f"{tasks} tasks ran in pids {pids} (parent {me}); each child's copy of a module "
        f"global went to {[v for _, v in res]} while the parent's stayed {parent_after}",
        {"parent_pid": me, "child_pids": pids, "child_values": [v for _, v in res],
         "parent_value": parent_after},
    )


def _exit_with(code: int) -> None:
    sys.exit(code)


def default_sigterm() -> None:
    """Give this (child) process the default SIGTERM disposition.

    A forked child inherits its parent's signal handlers; under pytest that may be a handler
    turning SIGTERM into ``KeyboardInterrupt``.  Then ``Process.terminate()`` yields exit
    status 1 instead of ``-SIGTERM``, and ``Pool.terminate()`` can hang: the exception can
    fire inside a worker's ``with inqueue._rlock:`` exit and leave the lock held, which the
    parent then waits for.  A child of a plain script has the default disposition — what the
    document's ``terminate()`` rows are about.  Use as ``Pool(initializer=default_sigterm)``
    or first thing in a ``Process`` target.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _sleep(t: float) -> None:
    default_sigterm()
    time.sleep(t)


def process_api(ctx: Context | None = None) -> FunctionalResult:
    """The document's table of ``Process`` members, observed: ``pid``, ``wait(timeout)`` "the
    exit status", ``terminate()``.

    ``holds`` is the table as written: a ``wait`` method exists.  Everything else observed
    (pid before/after start, ``exitcode`` 0 / ``sys.exit(n)`` / terminated, ``join(timeout)``
    returning while the process still runs) goes into ``observations``.
    """
    ctx = ctx if ctx is not None else multiprocessing.get_context()
    obs: dict[str, Any] = {}
    ok = ctx.Process(target=_sleep, args=(0.0,), name="calc-ok")
    obs["pid_before_start"] = ok.pid
    ok.start()
    obs["pid_after_start"] = ok.pid
    obs["pid_differs_from_parent"] = ok.pid != os.getpid()
    ok.join()
    obs["exitcode_normal"] = ok.exitcode
    ex3 = ctx.Process(target=_exit_with, args=(3,), name="calc-exit3")
    ex3.start()
    ex3.join()
    obs["exitcode_sys_exit_3"] = ex3.exitcode
    slow = ctx.Process(target=_sleep, args=(30.0,), name="calc-slow")
    slow.start()
    try:
        t0 = time.perf_counter()
        slow.join(timeout=0.05)
        obs["join_timeout_returned_after"] = round(time.perf_counter() - t0, 4)
        obs["alive_after_join_timeout"] = slow.is_alive()
        obs["exitcode_while_running"] = slow.exitcode
        slow.terminate()
        slow.join()
        obs["exitcode_terminated"] = slow.exitcode
        obs["minus_sigterm"] = -signal.SIGTERM
    finally:
        if slow.is_alive():
            slow.kill()
            slow.join()
    obs["has_wait"] = hasattr(ok, "wait")
    obs["has_exitcode"] = hasattr(ok, "exitcode")
    obs["has_join"] = hasattr(ok, "join")
    has_wait = bool(obs["has_wait"])
    detail = (
        f"Process has {'a' if has_wait else 'no'} wait() method; the exit status is "
        f"exitcode (normal {obs['exitcode_normal']}, sys.exit(3) → "
        f"{obs['exitcode_sys_exit_3']}, terminate() → {obs['exitcode_terminated']} = "
        f"-SIGTERM); join(timeout=0.05) returned with the process still alive "
        f"({obs['alive_after_join_timeout']}, exitcode {obs['exitcode_while_running']}); pid "
        f"{obs['pid_before_start']} before start, a new pid after"
    )
    return FunctionalResult("the Process table", has_wait, detail, obs)


def _incr_value(v: Any, arr: Any, k: int) -> None:
    for _ in range(k):
        with v.get_lock():
            v.value += 1
    with arr.get_lock():
        for i in range(len(arr)):
            arr[i] += 1


def _write_shm(name: str, data: bytes) -> None:
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(name=name)
    try:
        buf = shm.buf
        assert buf is not None
        buf[: len(data)] = data
    finally:
        shm.close()


def _manager_put(d: Any, key: str, value: int) -> None:
    d[key] = value


def _queue_echo(q_in: Any, q_out: Any) -> None:
    q_out.put(("echo", q_in.get(timeout=10)))


def _pipe_echo(conn: multiprocessing.connection.Connection) -> None:
    conn.send(("echo", conn.recv()))
    conn.close()


def shared_state_roundtrips(ctx: Context | None = None, processes: int = 2) -> (
        FunctionalResult):
    """``Value``/``Array`` (shared memory with a lock), ``shared_memory.SharedMemory``, a
    ``Manager`` dict (server process), ``Queue`` and ``Pipe``, each round-tripped through
    child processes; ``holds`` when every update is visible in the parent."""
    from multiprocessing import shared_memory

    ctx = ctx if ctx is not None else multiprocessing.get_context()
    obs: dict[str, Any] = {}
    k = 100
    v: Any = ctx.Value("i", 0)
    arr: Any = ctx.Array("i", [0, 0, 0])
    ps = [ctx.Process(target=_incr_value, args=(v, arr, k)) for _ in range(processes)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    obs["value"] = (v.value, processes * k)
    obs["array"] = (list(arr), [processes] * 3)

    data = b"written by the child"
    shm = shared_memory.SharedMemory(create=True, size=64)
    try:
        p = ctx.Process(target=_write_shm, args=(shm.name, data))
        p.start()
        p.join()
        buf = shm.buf
        assert buf is not None
        obs["shared_memory"] = (bytes(buf[: len(data)]), data)
    finally:
        shm.close()
        shm.unlink()

    with ctx.Manager() as manager:
        d = manager.dict()
        ps = [ctx.Process(target=_manager_put, args=(d, f"p{i}", i)) for i in range(processes)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        obs["manager_dict"] = (dict(d), {f"p{i}": i for i in range(processes)})

    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_queue_echo, args=(q_in, q_out))
    p.start()
    q_in.put({"n": 42})
    obs["queue"] = (q_out.get(timeout=10), ("echo", {"n": 42}))
    p.join()
    q_in.close()
    q_out.close()

    a, b = ctx.Pipe()
    p = ctx.Process(target=_pipe_echo, args=(b,))
    p.start()
    a.send([1, 2, 3])
    obs["pipe"] = (a.recv(), ("echo", [1, 2, 3]))
    p.join()
    a.close()
    b.close()

    ok = {name: got == want for name, (got, want) in obs.items()}
    holds = all(ok.values())
    detail = "; ".join(
        f"{name}: {'ok' if good else f'got {obs[name][0]!r}, expected {obs[name][1]!r}'}"
        for name, good in ok.items()
    )
    return FunctionalResult("shared state across processes", holds,
                            f"round-trips through child processes — {detail}",
                            {name: {"got": g, "expected": w} for name, (g, w) in obs.items()})


# --------------------------------------------------------------------------------------------
# the missing __main__ guard


UNGUARDED_SCRIPT = textwrap.dedent(
    """\
    # The document's multiprocessing example without `if __name__ == "__main__":`.
    import multiprocessing
    import sys

    def calc(i):
        sum = 0
        for _ in range(1000):
            sum += 1
        return i, sum

    ctx = multiprocessing.get_context(sys.argv[1])
    print("main-module-run", flush=True)
    ps = []
    for i in range(2):
        p = ctx.Process(target=calc, args=(i,), name='calc-{}'.format(i))
        ps.append(p)
        p.start()
    for p in ps:
        p.join()
        print("exitcode", p.name, p.exitcode, flush=True)
    print('===end====', flush=True)
    """
)


@dataclasses.dataclass
class MainGuardResult(FunctionalResult):
    start_method: str = ""


def run_unguarded_script(start_method: str, timeout: float = 60.0) -> MainGuardResult:
    """Run :data:`UNGUARDED_SCRIPT` (processes started at module level) in a fresh interpreter
    under ``start_method``.

    ``holds`` — "the guard is needed" — when the script does *not* run normally: a child
    failed (``spawn``/``forkserver`` re-import the main module in the child, which then tries
    to start processes during its bootstrapping and gets a ``RuntimeError``), the main module
    ran more than once, or the script did not finish.  Under ``fork`` the child is a copy of
    the parent and the unguarded script runs as if guarded.
    """
    with tempfile.TemporaryDirectory(prefix="pytest-gil-guard-") as d:
        script = Path(d) / "unguarded.py"
        script.write_text(UNGUARDED_SCRIPT)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.pop("PYTHONPATH", None)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(script), start_method], cwd=d, env=env,
                capture_output=True, text=True, timeout=timeout,
            )
            rc: int | None = proc.returncode
            out, err = proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc = None
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        elapsed = time.perf_counter() - t0
    runs = out.count("main-module-run")
    codes = [int(line.split()[-1]) for line in out.splitlines()
             if line.startswith("exitcode ") and line.split()[-1].lstrip("-").isdigit()]
    bootstrapping = "bootstrapping phase" in err
    ran_normally = rc == 0 and runs == 1 and codes == [0, 0] and "===end====" in out
    if ran_normally:
        what = "ran normally: the main module ran once and both children exited 0"
    elif rc is None:
        what = f"did not finish within {timeout:g} s"
    else:
        what = (
            f"did not run normally: the main module ran {runs}× (re-imported in the "
            f"children), children exited with {codes}, script exit status {rc}"
            + ("; RuntimeError: ...before the current process has finished its "
               "bootstrapping phase" if bootstrapping else "")
        )
    return MainGuardResult(
        f"unguarded script under {start_method}",
        not ran_normally,
        f"without the __main__ guard, under {start_method!r} the script {what}",
        {"start_method": start_method, "returncode": rc, "main_module_runs": runs,
         "child_exitcodes": codes, "bootstrapping_error": bootstrapping,
         "elapsed": round(elapsed, 3), "stderr_tail": err[-400:]},
        start_method=start_method,
    )


# --------------------------------------------------------------------------------------------
# small helpers for the Pool claims


def sleep_then_return(i: int, t: float) -> tuple[int, int, float]:
    """Sleep ``t`` s and return ``(i, pid, end time)`` — ``perf_counter`` is system-wide on
    Linux, so the parent can order completions across processes."""
    time.sleep(t)
    return i, os.getpid(), time.perf_counter()


def fail_with(message: str) -> None:
    """Raise ``ValueError(message)`` in the worker (for ``error_callback``)."""
    raise ValueError(message)


def mark_and_sleep(directory: str, i: int, t: float) -> int:
    """Create ``<i>.started`` in ``directory``, sleep ``t`` s, create ``<i>.done``."""
    Path(directory, f"{i}.started").touch()
    time.sleep(t)
    Path(directory, f"{i}.done").touch()
    return i


def stop_pool(pool: multiprocessing.pool.Pool, timeout: float = 5.0) -> None:
    """``pool.terminate()`` then ``pool.join()``; if that has not finished after ``timeout``
    seconds (a worker stuck where SIGTERM cannot end it), kill the workers outright."""
    procs = list(getattr(pool, "_pool", []))

    def stop() -> None:
        pool.terminate()
        pool.join()

    t = threading.Thread(target=stop, name="pytest-gil-pool-stop", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        for p in procs:
            if p.is_alive():
                p.kill()
        t.join(timeout)


@dataclasses.dataclass
class _Guarded:
    pool: multiprocessing.pool.Pool

    def __enter__(self) -> multiprocessing.pool.Pool:
        return self.pool

    def __exit__(self, *exc: object) -> None:
        stop_pool(self.pool)


def terminating(pool: multiprocessing.pool.Pool) -> _Guarded:
    """``with terminating(Pool(n)) as pool:`` — terminate and join on exit, whatever
    happened (``Pool.__exit__`` terminates but does not join); see :func:`stop_pool`."""
    return _Guarded(pool)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0,
             step: float = 0.002) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` s pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


