"""The verdict engine: its logic on a scripted runner (fast, deterministic), then real
workloads on this machine (``slow``; they assert verdicts reached by statistics and skip when
the machine is too noisy to decide — never a duration)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from pytest_gil import (
    Check,
    Figure,
    ScalingResult,
    Verdict,
    assert_no_speedup,
    assert_overlaps,
    assert_scales,
    measure_overlap,
    measure_scaling,
    noise,
    releases_gil,
    settings,
    workloads,
)
from pytest_gil.engine.rounds import NOISE_STOP_MIN_ROUNDS
from pytest_gil.profile import override_profile, runtime_profile
from pytest_gil.runtimes.timeline import TaskRecord, Timeline
from pytest_gil.stats import LOOKS

# --------------------------------------------------------------------------------------------
# a scripted runner: phases take the times we say, the machine is quiet


class Script:
    """Stands in for ``runtimes.tasks.run_calls``: serial phases take ``task`` s per task with
    CPU = wall (or ``serial_cpu`` × wall); parallel phases are ``speedup()`` times faster with
    parallelism ``parallelism()``; ``gil(i)`` is the GIL state before the i-th phase."""

    def __init__(self, speedup: Callable[[], float], parallelism: Callable[[], float],
                 serial_cpu: float = 1.0, gil: Callable[[int], bool] = lambda i: True) -> None:
        self.speedup, self.parallelism = speedup, parallelism
        self.serial_cpu = serial_cpu
        self.gil = gil
        self.calls: list[str] = []

    def __call__(self, kind: str, calls: Sequence[Any], *, workers: int = 1,
                 executor: Any = None) -> Timeline:
        tasks = len(calls)
        i = len(self.calls)
        self.calls.append("S" if kind == "serial" else "P")
        serial_wall = 0.05 * tasks
        if kind == "serial":
            wall, cpu = serial_wall, self.serial_cpu * serial_wall
        else:
            wall = serial_wall / self.speedup()
            cpu = self.parallelism() * wall
        recs = [TaskRecord(k, 0.0, wall, cpu / tasks, os.getpid(), k) for k in range(tasks)]
        # The GIL state before the i-th phase and after it (an import inside a phase
        # changes it between the two).
        return Timeline(kind, workers, recs, 0.0, wall, cpu, self.gil(i), self.gil(i + 1))


def _quiet_snapshot() -> noise.Snapshot:
    # No /proc counters: readings are None and nothing is suspect (deterministic).
    return noise.Snapshot(time.perf_counter(), time.process_time(), None, None, None, None,
                          None, None, None)


def fake_capacity(monkeypatch: pytest.MonkeyPatch, low: float, high: float) -> None:
    """The machine's delivered capacity, as if measured: ``[low, high]`` (no processes)."""
    from pytest_gil import stats
    from pytest_gil.engine import capacity

    n = capacity.WINDOWS
    level = stats.ideal_alpha()
    # The sd whose interval at the level of the estimate's low/high is exactly [low, high].
    sd = math.log(high / low) / 2 / stats._tcrit(level, n - 1) * math.sqrt(n)

    def estimate(workers: int) -> capacity.CapacityEstimate:
        return capacity.CapacityEstimate(workers, math.sqrt(low * high), low, high, level, n,
                                         0.04, sd, 0.0, 0.0)

    monkeypatch.setattr(capacity, "delivered_capacity", estimate)
    # measured again (before a refutation stands): the machine still delivers the same
    monkeypatch.setattr(capacity, "measure_capacity", lambda workers, **kw: estimate(workers))


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Script]:
    fake_capacity(monkeypatch, 2.0, 2.0)  # exactly the CPU count: the classic bounds
    monkeypatch.setattr(noise, "snapshot", _quiet_snapshot)
    # No schedstat either: computing vs waiting is then told by CPU/wall.
    monkeypatch.setattr(noise, "thread_schedstat", lambda: None)

    def make(**kw: Any) -> Script:
        s = Script(**kw)
        monkeypatch.setattr("pytest_gil.engine.scaling.run_calls", s)
        return s

    return make


def lognormal(rng: np.random.Generator, ratio: float, sd: float) -> Callable[[], float]:
    return lambda: float(np.exp(rng.normal(math.log(ratio), sd)))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def two_cpus() -> Iterator[None]:
    with override_profile(usable_cpus=2):
        yield


def noop() -> None:
    return None


# --------------------------------------------------------------------------------------------
# the round protocol


def _orders(r: Check) -> list[str]:
    return [str(x["order"]) for x in r.raw[1:]]


def test_gil_like_rounds_confirm_serialized(script: Callable[..., Script],
                                            rng: np.random.Generator, two_cpus: None) -> None:
    s = script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    r = measure_scaling(noop, workers=2, hypothesis="serialized")
    assert r.verdicts["serialized"] == "confirmed" and r.verdict is Verdict.CONFIRMED
    assert r.hypothesis == "serialized"
    assert r.rounds in LOOKS and r.suspect_rounds == 0
    assert r.setup["signals"] == ["speedup", "cpu_speedup", "parallelism"] and r.cpu_bound
    # A short warm-up (one serial call, recorded, discarded); then ABBA: SP PS PS SP ...
    assert r.raw[0]["warmup"] and not any(x["warmup"] for x in r.raw[1:])
    assert r.raw[0]["values"] == {} and "t_call" in r.raw[0]
    orders = _orders(r)
    assert orders == [("SP" if i % 4 in (0, 3) else "PS") for i in range(len(orders))]
    assert "".join(s.calls) == "S" + "".join(orders)
    assert r.speedup is not None and 0.8 < r.speedup.value < 1.25
    assert r.parallelism is not None and r.parallelism.low <= 1.0 <= r.parallelism.high
    assert r.bounds["serialized"] == {"ideal": 2.0, "confirm": 1.4142, "refute": 1.6818}
    assert [lk["n"] for lk in r.looks] == [n for n in LOOKS if n <= r.rounds]


def test_parallel_rounds_confirm_parallel(script: Callable[..., Script],
                                          rng: np.random.Generator, two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.9, 0.1), parallelism=lognormal(rng, 1.9, 0.05))
    r = measure_scaling(noop, workers=2, hypothesis="parallel")
    assert r.verdicts["parallel"] == "confirmed"
    assert r.verdicts["serialized"] != "confirmed"
    assert r.hypothesis == "parallel"


def test_without_a_hypothesis_stops_at_the_first_decision(script: Callable[..., Script],
                                                          rng: np.random.Generator,
                                                          two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    r = measure_scaling(noop, workers=2)
    assert r.hypothesis == "serialized" and r.verdict is Verdict.CONFIRMED


def test_free_threaded_like_rounds_refute_serialized(script: Callable[..., Script],
                                                     rng: np.random.Generator,
                                                     two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.95, 0.05), parallelism=lognormal(rng, 1.97, 0.02))
    r = measure_scaling(noop, workers=2, hypothesis="serialized")
    assert r.verdicts["serialized"] == "refuted"
    with pytest.raises(pytest.fail.Exception) as info:
        assert_no_speedup(r)
    msg = str(info.value)
    assert "\n" not in msg
    assert "refuted" in msg and "refute bound 1.68" in msg and "speedup 1.9" in msg
    assert runtime_profile().label().split(" · ")[0] in msg


def test_an_undecidable_truth_ends_inconclusive_at_the_last_look(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None) -> None:
    script(speedup=lognormal(rng, math.sqrt(2), 0.2), parallelism=lognormal(rng, 1.41, 0.05))
    r = measure_scaling(noop, workers=2, hypothesis="serialized")
    assert r.verdicts == {"serialized": "inconclusive", "parallel": "inconclusive"}
    assert r.rounds == LOOKS[-1] and "last look" in r.reason and r.stop == "last-look"


def test_budget_ends_a_check(script: Callable[..., Script], rng: np.random.Generator,
                             two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    r = measure_scaling(noop, workers=2, budget=1e-6)
    assert r.verdict is Verdict.INCONCLUSIVE and "budget" in r.reason and r.stop == "budget"
    assert r.rounds == 0 and r.speedup is None
    assert "inconclusive" in str(r)


def _disturbed(flag: str, reason: str) -> Callable[..., noise.NoiseReading]:
    real = noise.reading

    def reading(*a: Any, **kw: Any) -> noise.NoiseReading:
        r = real(*a, **kw)
        return noise.NoiseReading(r.wall, r.own_cpu, 1.0, 0.0, False, 0.0, 3, 1.0, True,
                                  (reason,), (flag,))

    return reading


def test_suspect_rounds_are_excluded_and_too_many_end_the_check(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    monkeypatch.setattr(noise, "reading", _disturbed("foreign", "foreign load 1.00 CPU > 0.25"))
    r = measure_scaling(noop, workers=2)
    assert r.verdict is Verdict.INCONCLUSIVE and r.stop == "noisy"
    assert r.suspect_rounds == NOISE_STOP_MIN_ROUNDS and r.rounds == 0
    assert "too noisy" in r.reason and "foreign load ×6 (mean 1.00 CPU)" in r.reason


def test_some_suspect_rounds_are_only_excluded(script: Callable[..., Script],
                                               rng: np.random.Generator, two_cpus: None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    real = noise.reading
    disturbed = _disturbed("steal", "steal 9% > 5%")
    count = [0]

    def every_third(*a: Any, **kw: Any) -> noise.NoiseReading:
        count[0] += 1
        return disturbed(*a, **kw) if count[0] % 3 == 0 else real(*a, **kw)

    monkeypatch.setattr(noise, "reading", every_third)
    r = measure_scaling(noop, workers=2, hypothesis="serialized")
    assert r.verdict is Verdict.CONFIRMED and r.suspect_rounds > 0
    assert len(r.raw) == 1 + r.rounds + r.suspect_rounds
    assert sum(1 for x in r.raw[1:] if x["suspect"]) == r.suspect_rounds
    assert all(x["excluded"].startswith("noise: steal") for x in r.raw[1:] if x["suspect"])


def test_gil_change_during_a_check_is_reported(script: Callable[..., Script],
                                               rng: np.random.Generator,
                                               two_cpus: None) -> None:
    # The GIL gets re-enabled (an import) during the 6th phase (the warm-up call, then S P,
    # P S, P S): inside round 3.
    script(speedup=lognormal(rng, 1.9, 0.05), parallelism=lognormal(rng, 1.9, 0.05),
           gil=lambda i: i >= 6)
    r = measure_scaling(noop, workers=2)
    assert r.gil["changed"] and r.verdict is Verdict.INCONCLUSIVE and r.stop == "gil-changed"
    assert "GIL state changed" in r.reason
    assert (r.gil["enabled"], r.gil["changed"]) == (False, True)


def test_gil_change_during_the_warmup_only(script: Callable[..., Script],
                                           rng: np.random.Generator, two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02),
           gil=lambda i: i >= 1)
    r = measure_scaling(noop, workers=2, hypothesis="serialized")
    assert r.gil["changed"] and r.verdict is Verdict.CONFIRMED and r.gil["enabled"] is True
    assert "during the warm-up" in r.reason


def test_waiting_work_uses_the_speedup_only(script: Callable[..., Script],
                                            rng: np.random.Generator, two_cpus: None) -> None:
    script(speedup=lognormal(rng, 4.0, 0.05), parallelism=lambda: 0.01, serial_cpu=0.01)
    r = measure_scaling(noop, workers=4)
    assert not r.cpu_bound and r.setup["signals"] == ["speedup"]
    assert r.ideal == 2  # min(workers, usable CPUs): measure_overlap is the waiting-work API
    assert r.verdicts["parallel"] == "confirmed"
    r = measure_scaling(noop, workers=4, cpu_bound=False)
    assert r.ideal == 4 and r.verdicts["parallel"] == "confirmed"


def test_computing_work_on_a_loaded_machine_stays_cpu_bound(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load a computing serial phase gets a fraction of a core (CPU/wall 0.3 here),
    but it *wanted* a CPU all the time (schedstat: on CPU + run-queue wait ≈ wall): it is
    still CPU-bound work, and the CPU-share criterion marks the rounds suspect."""
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 0.6, 0.1),
           serial_cpu=0.3)
    ticks = [0]

    def schedstat() -> tuple[float, float]:
        # Consecutive reads bracket a serial phase of 0.1 s: 0.06 s on a CPU, 0.04 s queued.
        ticks[0] += 1
        return 0.06 * ticks[0], 0.04 * ticks[0]

    monkeypatch.setattr(noise, "thread_schedstat", schedstat)

    real = noise.reading

    def proc_reading(before: noise.Snapshot, after: noise.Snapshot, **kw: Any
                     ) -> noise.NoiseReading:
        # /proc counters of a quiet second, so the judged criteria are the real ones.
        return real(noise.Snapshot(0.0, 0.0, 0.0, 0.0, 0.0, 2, None, None, None),
                    noise.Snapshot(1.0, 1.0, 1.0, 0.0, 2.0, 2, None, None, None), **kw)

    monkeypatch.setattr(noise, "reading", proc_reading)
    r = measure_scaling(noop, workers=2)
    assert r.cpu_bound and r.setup["signals"] == ["speedup", "cpu_speedup", "parallelism"]
    assert r.raw[1]["serial_demand"] == pytest.approx(1.0)
    assert r.verdict is Verdict.INCONCLUSIVE and "serial phase short of a core" in r.reason


def test_overlap(script: Callable[..., Script], rng: np.random.Generator) -> None:
    script(speedup=lognormal(rng, 3.9, 0.05), parallelism=lambda: 0.01, serial_cpu=0.01)
    with override_profile(usable_cpus=1):  # waiting needs no CPU: still testable
        r = measure_overlap(noop, tasks=4)
    assert r.kind == "overlap" and r.ideal == 4 and r.setup["signals"] == ["speedup"]
    assert r.hypothesis == "overlaps" and r.verdicts["overlaps"] == "confirmed"
    assert assert_overlaps(r) is r
    d = r.to_dict()
    assert d["claim_tested"] == "overlaps" and d["bounds"]["confirm"] == 2.0


def test_the_cpu_time_bound_decides_serialized_when_the_speedup_is_noisy(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None) -> None:
    """A speedup too noisy to decide (log-sd 0.4) beside a steady CPU-time signal: the
    CPU-time bound confirms "serialized" (and refutes "parallel") by itself."""
    script(speedup=lognormal(rng, 1.0, 0.4), parallelism=lognormal(rng, 1.0, 0.02))
    r = measure_scaling(noop, workers=2, hypothesis="serialized")
    assert r.verdict is Verdict.CONFIRMED and r.rounds <= 5
    assert r.looks[-1]["routes"]["serialized"] == "cpu_speedup"


def test_the_cpu_time_bound_never_confirms_parallel(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None) -> None:
    """Busy CPUs are not a speedup: CPU time at 2 CPUs beside no speedup at all (an
    SMT sibling doing nothing useful) leaves "parallel" to the speedup, which refutes it."""
    script(speedup=lognormal(rng, 1.0, 0.05), parallelism=lognormal(rng, 2.0, 0.02))
    r = measure_scaling(noop, workers=2, hypothesis="parallel")
    assert r.verdicts["parallel"] == "refuted"
    assert r.looks[-1]["routes"]["parallel"] == "speedup"


def test_a_capacity_below_one_cpu_is_not_testable(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two usable CPUs that deliver no more than one CPU's work in parallel (a 1-CPU
    container reporting 2, SMT siblings on one core): not testable, saying so."""
    s = script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    fake_capacity(monkeypatch, 0.95, 1.15)
    r = measure_scaling(noop, workers=2)
    assert r.verdict is Verdict.NOT_TESTABLE and s.calls == []
    assert "delivers 1.05× [0.95, 1.15] for 2 workers" in r.reason


def test_the_bounds_use_the_capacity_interval_end_each_decision_needs(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    fake_capacity(monkeypatch, 1.5, 2.4)
    r = measure_scaling(noop, workers=2)
    # Refuting uses the capacity's interval at the refutations' level ([1.5, 2.4] here):
    # "serialized" refuted above K_hi^¾, "parallel" refuted below K_lo^¼.
    assert r.bounds["serialized"]["refute"] == pytest.approx(2.4 ** 0.75, abs=1e-4)
    assert r.bounds["parallel"]["refute"] == pytest.approx(1.5 ** 0.25, abs=1e-4)
    # Confirming uses the ends at the confirmations' own (10× larger) level: a narrower
    # interval, still the harder end — "serialized" below √K_lo, "parallel" above √K_hi.
    from pytest_gil import settings, stats
    from pytest_gil.engine import capacity

    est = capacity.delivered_capacity(2).ideal()
    level = stats.IDEAL_ALPHA_SHARE * settings.current().alpha_confirm
    k_lo, k_hi = est.interval(level)
    assert 1.5 < k_lo < k_hi < 2.4
    assert r.bounds["serialized"]["confirm"] == pytest.approx(k_lo ** 0.5, abs=1e-4)
    assert r.bounds["parallel"]["confirm"] == pytest.approx(k_hi ** 0.5, abs=1e-4)
    assert r.setup["capacity"]["value"] == pytest.approx(math.sqrt(1.5 * 2.4), abs=1e-4)


# --------------------------------------------------------------------------------------------
# results


CHECK_KEYS = {"id", "kind", "label", "executor", "workers", "tasks", "ideal", "claim_tested",
              "verdict", "verdicts", "figure", "figures", "rounds", "suspect_rounds",
              "elapsed", "stop", "bounds", "all_bounds", "alpha", "gil", "reason", "detail",
              "raw", "looks"}


def test_to_dict_is_the_check_record(script: Callable[..., Script], rng: np.random.Generator,
                                     two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    r = measure_scaling(noop, workers=2, hypothesis="serialized", label="calc in threads")
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d) >= CHECK_KEYS
    assert d["kind"] == "scaling" and d["label"] == "calc in threads"
    assert d["executor"] == "thread" and d["workers"] == 2 and d["tasks"] == 2
    assert d["claim_tested"] == "serialized" and d["verdict"] == "confirmed"
    assert set(d["figures"]) == {"speedup", "cpu_speedup", "parallelism"}
    assert d["figure"] == d["figures"]["speedup"]
    assert set(d["figure"]) == {"name", "value", "low", "high", "unit", "n"}
    assert d["bounds"] == {"ideal": 2.0, "confirm": 1.4142, "refute": 1.6818}
    assert d["alpha"] == {"confirm": 1e-3, "refute": 1e-4}
    assert (d["gil"]["enabled"], d["gil"]["changed"]) == (True, False)
    assert "source" in d["gil"]  # the GIL-state monitor's account of where the state came from
    assert len(d["raw"]) == 1 + d["rounds"]
    raw = d["raw"][1]
    assert {"t_serial", "t_parallel", "cpu_parallel", "order", "suspect", "noise",
            "values"} <= set(raw)
    assert d["looks"] and d["looks"][-1]["n"] == d["rounds"]
    text = str(r)
    assert "serialized confirmed" in text and "runtime:" in text
    assert r.detail().startswith("2 threads × noop: speedup ")


def test_a_result_is_not_a_boolean(script: Callable[..., Script], rng: np.random.Generator,
                                   two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    r = measure_scaling(noop, workers=2)
    with pytest.raises(TypeError, match="assert_scales / assert_no_speedup"):
        bool(r)


def test_alpha_and_budget_come_from_the_settings(script: Callable[..., Script],
                                                 rng: np.random.Generator,
                                                 two_cpus: None) -> None:
    script(speedup=lognormal(rng, 1.0, 0.1), parallelism=lognormal(rng, 1.0, 0.02))
    prev = settings.configure(settings.Settings(alpha=0.01, budget=1e-6))
    try:
        r = measure_scaling(noop, workers=2)
    finally:
        settings.configure(prev)
    assert r.alpha == pytest.approx({"confirm": 0.01, "refute": 0.001})
    assert "budget of 1e-06 s" in r.reason


# --------------------------------------------------------------------------------------------
# the function's arguments are the function's


def test_a_functions_own_keywords_are_never_taken() -> None:
    seen: list[dict[str, Any]] = []

    def fn(*, workers: int, tasks: int, label: str, budget: float) -> None:
        seen.append({"workers": workers, "tasks": tasks, "label": label, "budget": budget})
        time.sleep(0.001)

    own = {"workers": 9, "tasks": 8, "label": "mine", "budget": 7.0}
    r = measure_overlap(fn, kwargs=own, tasks=2, budget=0.5)
    assert seen and all(x == own for x in seen) and r.tasks == 2


def test_task_args_give_each_task_its_own_arguments() -> None:
    seen: set[int] = set()

    def fn(i: int) -> None:
        seen.add(i)
        time.sleep(0.001)

    r = measure_overlap(fn, task_args=[(0,), (1,), (2,)], budget=0.5)
    assert seen == {0, 1, 2} and r.tasks == 3 and r.workers == 3


def test_an_unknown_keyword_is_an_error_not_an_argument() -> None:
    with pytest.raises(TypeError, match="scale"):
        measure_scaling(noop, workers=2, scale=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positionally or as args"):
        measure_scaling(noop, 1, args=(1,))


# --------------------------------------------------------------------------------------------
# not testable, invalid input


def test_one_worker_is_not_testable() -> None:
    r = measure_scaling(noop, workers=1)
    assert r.verdicts == {"serialized": "not-testable", "parallel": "not-testable"}
    assert r.rounds == 0 and "ideal speedup 1" in r.reason
    with pytest.raises(pytest.skip.Exception, match="not testable"):
        assert_scales(r)


def test_one_usable_cpu_is_not_testable_for_cpu_work() -> None:
    with override_profile(usable_cpus=1):
        r = measure_scaling(workloads.calc, 1000, workers=2)
        assert r.verdict is Verdict.NOT_TESTABLE and "1 usable CPU" in r.reason
        assert "injected" in r.runtime


@pytest.mark.skipif(runtime_profile().subinterpreters is not None,
                    reason="sub-interpreters exist here")
@pytest.mark.requires_cpus(2)
def test_interpreters_not_testable_without_the_api() -> None:
    r = measure_scaling(workloads.calc, 1000, workers=2, executor="interpreter")
    assert r.verdict is Verdict.NOT_TESTABLE and "sub-interpreter" in r.reason


@pytest.mark.parametrize("kw, match", [
    ({"executor": "fiber"}, "executor must be"),
    ({"workers": 0}, "workers must be"),
    ({"tasks": -1}, "tasks must be"),
    ({"hypothesis": "fast"}, "hypothesis must be"),
    ({"budget": 0}, "budget"),
])
def test_invalid_arguments(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        measure_scaling(noop, **kw)


def test_a_pool_of_another_kind_than_the_executor_is_refused() -> None:
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="executor='thread'"):
        measure_scaling(noop, workers=2, executor="process", pool=pool)


def test_process_executor_needs_a_picklable_function() -> None:
    with override_profile(usable_cpus=2), pytest.raises(TypeError, match="module level"):
        measure_scaling(lambda: None, workers=2, executor="process")


# --------------------------------------------------------------------------------------------
# assertions and the inconclusive policy


def _result(verdict: str, hypothesis: str = "serialized") -> ScalingResult:
    other = "parallel" if hypothesis == "serialized" else "serialized"
    fig = Figure("speedup", 1.7, 1.5, 1.9, "x", 3)
    return ScalingResult(
        kind="scaling", label="calc in 2 threads", hypothesis=hypothesis,
        verdicts={hypothesis: verdict, other: "inconclusive"},
        figures={"speedup": fig}, key="speedup",
        setup={"executor": "thread", "workers": 2, "tasks": 2}, ideal=2.0,
        bounds={"serialized": {"ideal": 2.0, "confirm": 1.4142, "refute": 1.6818},
                "parallel": {"ideal": 2.0, "confirm": 1.4142, "refute": 1.1892}},
        rounds=3, reason="no decision after the last look (20 rounds)"
        if verdict == "inconclusive" else "", runtime=runtime_profile().label(),
        what="2 threads × calc",
    )


def test_confirmed_passes_and_returns_the_result() -> None:
    r = _result("confirmed")
    assert assert_no_speedup(r) is r
    assert assert_scales(_result("confirmed", "parallel")).verdict is Verdict.CONFIRMED


@pytest.mark.parametrize("policy, exc", [
    ("skip", pytest.skip.Exception),
    ("xfail", pytest.xfail.Exception),
    ("fail", pytest.fail.Exception),
])
def test_inconclusive_policy(policy: str, exc: type[BaseException]) -> None:
    with pytest.raises(exc) as info:
        assert_no_speedup(_result("inconclusive"), inconclusive=policy)
    assert "inconclusive" in str(info.value) and "last look" in str(info.value)


def test_inconclusive_pass_policy_returns() -> None:
    r = _result("inconclusive")
    assert assert_no_speedup(r, inconclusive="pass") is r


def test_inconclusive_policy_defaults_to_the_run_setting() -> None:
    prev = settings.configure(settings.Settings(inconclusive="xfail"))
    try:
        with pytest.raises(pytest.xfail.Exception):
            assert_no_speedup(_result("inconclusive"))
    finally:
        settings.configure(prev)
    with pytest.raises(pytest.skip.Exception):  # the default outside a configured run
        assert_no_speedup(_result("inconclusive"))
    with pytest.raises(ValueError, match="inconclusive must be"):
        assert_no_speedup(_result("inconclusive"), inconclusive="ignore")


def test_refuted_message_is_one_line() -> None:
    with pytest.raises(pytest.fail.Exception) as info:
        assert_scales(_result("refuted", "parallel"))
    msg = str(info.value)
    assert "\n" not in msg and "parallel refuted" in msg
    assert "confirm bound 1.41" in msg and "refute bound 1.19" in msg
    assert "speedup 1.70× [1.50, 1.90]" in msg and runtime_profile().label() in msg


def test_an_assertion_decides_its_own_hypothesis_only() -> None:
    """``assert_no_speedup(fn, hypothesis="parallel")`` would enforce the wrong claim."""
    with pytest.raises(TypeError, match="decides its own hypothesis"):
        assert_no_speedup(noop, workers=2, hypothesis="parallel")


def test_result_plus_arguments_is_an_error() -> None:
    with pytest.raises(TypeError, match="already measured"):
        assert_no_speedup(_result("confirmed"), 1)


# --------------------------------------------------------------------------------------------
# releases_gil without timing


def test_releases_gil_on_a_gil_free_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pytest_gil.engine.release.gil_enabled", lambda: False)
    calls: list[int] = []
    r = releases_gil(calls.append, 1)
    assert r.releases is None and r.verdict is Verdict.NOT_TESTABLE and calls == []
    assert "GIL is disabled" in str(r)
    json.dumps(r.to_dict())


def test_releases_gil_with_one_cpu_and_computing_work() -> None:
    with override_profile(usable_cpus=1):
        r = releases_gil(workloads.calc, 200_000)
    assert r.releases is None and r.verdict is Verdict.NOT_TESTABLE
    assert "1 usable CPU" in r.reason and "looks the same" in r.reason
    assert r.rounds == 0


# --------------------------------------------------------------------------------------------
# real workloads (slow): verdicts reached by statistics; inconclusive → skip


@pytest.fixture(scope="module")
def calibration() -> workloads.Calibration:
    return workloads.calibrate()


@contextlib.contextmanager
def no_leaks() -> Iterator[None]:
    import threading

    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left behind: {left}"


@pytest.mark.slow
def test_calc_in_threads(calibration: workloads.Calibration) -> None:
    with no_leaks():
        if runtime_profile().gil_enabled:
            r = assert_no_speedup(workloads.calc, calibration.calc_n, workers=2)
        else:
            r = assert_scales(workloads.calc, calibration.calc_n, workers=2)
    print(r)


@pytest.mark.slow
def test_calc_in_processes(calibration: workloads.Calibration) -> None:
    r = assert_scales(workloads.calc, calibration.calc_n, workers=2, executor="process")
    print(r)


@pytest.mark.slow
def test_calc_in_subinterpreters(calibration: workloads.Calibration) -> None:
    r = assert_scales(workloads.calc, calibration.calc_n, workers=2, executor="interpreter")
    print(r)


@pytest.mark.slow
def test_sleeps_in_threads_overlap() -> None:
    with no_leaks():
        r = assert_overlaps(workloads.worker, 0.05, tasks=4)
    assert r.ideal == 4
    print(r)


@pytest.mark.slow
def test_sha256_in_threads_scales(calibration: workloads.Calibration) -> None:
    r = assert_scales(workloads.sha256_work, calibration.sha256_bytes, workers=2)
    print(r)


@pytest.mark.slow
def test_injected_free_threaded_profile_flips_the_expectation_not_the_measurement(
        calibration: workloads.Calibration) -> None:
    from pytest_gil import Claim

    if not runtime_profile().gil_enabled:
        pytest.skip("the injection test needs a GIL runtime to contrast with")
    claim = Claim("x.serialized", "threads take turns",
                  expected=lambda p: "confirmed" if p.gil_enabled else "refuted")
    assert claim.expect(runtime_profile()).verdict is Verdict.CONFIRMED
    with override_profile(free_threaded_build=True, gil_enabled=False, usable_cpus=2) as prof:
        assert claim.expect(prof).verdict is Verdict.REFUTED  # the expectation flips ...
        r = measure_scaling(workloads.calc, calibration.calc_n, workers=2,
                            hypothesis="serialized")
    # ... the measurement does not: threads still serialize on this GIL build.
    assert "injected" in r.message() and r.gil["enabled"] is True
    if not r.verdict.decided:  # a busy machine: inconclusive, or no capacity to tell
        pytest.skip(f"{r.verdict}: {r.message()}")
    assert r.verdict is Verdict.CONFIRMED, str(r)


def test_a_refutation_by_the_speedup_alone_falls_when_the_capacity_fell(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rounds as above on a machine whose capacity, measured again after the check,
    has fallen to one CPU's worth: the slowness is the machine's, so the check is undecided
    and says why."""
    from pytest_gil import settings
    from pytest_gil.engine import capacity

    # the new estimate replaces the session's: in a store of this test's own
    monkeypatch.setattr(settings, "_memory", {})
    monkeypatch.setattr(settings, "_store", settings._memory_store)
    script(speedup=lognormal(rng, 1.0, 0.05), parallelism=lognormal(rng, 2.0, 0.02))
    monkeypatch.setattr(capacity, "measure_capacity", lambda workers, **kw: (
        capacity.CapacityEstimate(workers, 1.02, 0.95, 1.1, 1e-5, 24, 0.04, 0.1, 0.0, 2.0)))
    r = measure_scaling(noop, workers=2, hypothesis="parallel")
    assert r.verdicts["parallel"] == "inconclusive" and r.stop == "capacity-fell"
    assert "capacity fell during the check: 2.00× [2.00, 2.00]" in r.reason


def test_a_refutation_by_the_speedup_alone_is_run_again_before_it_stands(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A dip that is over before the capacity is measured again: the CPUs were busy (P ≈ 2)
    while the work got nowhere (speedup 1.0), and the machine is back when measured, so the
    check runs again — and the processes scale.  The first refutation was the machine's."""
    from pytest_gil.engine import capacity

    estimate = capacity.delivered_capacity(2)
    state = {"speedup": 1.0, "measured": 0}

    def measured_again(workers: int, **kw: Any) -> capacity.CapacityEstimate:
        state["measured"] += 1
        state["speedup"] = 2.0  # the dip is over
        return estimate

    script(speedup=lambda: lognormal(rng, state["speedup"], 0.05)(),
           parallelism=lognormal(rng, 2.0, 0.02))
    monkeypatch.setattr(capacity, "measure_capacity", measured_again)
    r = measure_scaling(noop, workers=2, hypothesis="parallel")
    assert state["measured"] == 2  # before the second check and after it
    assert r.verdicts["parallel"] == "inconclusive" and r.stop == "not-replicated"
    assert "not repeated: speedup 1.00× [" in r.reason and "then speedup " in r.reason
    assert r.extra["rerun"]["verdicts"]["parallel"] == "confirmed"


def test_processes_busy_in_parallel_but_slow_are_the_machines(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rounds on processes (they share nothing): the CPUs busy in parallel (P ≈ 2),
    the speedup 1.0 — the machine did half the work per CPU-second; no second check."""
    from pytest_gil.engine import capacity

    monkeypatch.setattr(capacity, "measure_capacity",
                        lambda *a, **k: pytest.fail("measured again"))
    script(speedup=lognormal(rng, 1.0, 0.05), parallelism=lognormal(rng, 2.0, 0.02))
    r = measure_scaling(noop, workers=2, executor="process", hypothesis="parallel")
    assert r.verdicts["parallel"] == "inconclusive" and r.stop == "machine-slowed"
    assert "each CPU-second did 0.5" in r.reason and "rerun" not in r.extra


def test_a_refutation_by_the_speedup_alone_stands_when_repeated(
        script: Callable[..., Script], rng: np.random.Generator, two_cpus: None) -> None:
    """Code that keeps the CPUs busy without getting work done (P ≈ 2, speedup 1.0) on a
    machine that delivers: refuted, by two checks."""
    script(speedup=lognormal(rng, 1.0, 0.05), parallelism=lognormal(rng, 2.0, 0.02))
    r = measure_scaling(noop, workers=2, hypothesis="parallel")
    assert r.verdicts["parallel"] == "refuted" and r.stop == "decided"
    assert r.extra["rerun"]["verdicts"]["parallel"] == "refuted"


# --------------------------------------------------------------------------------------------
# the serial phase of identical calls


def test_serial_sample_runs_one_identical_call_per_worker_and_every_distinct_one() -> None:
    from pytest_gil.engine.scaling import serial_sample
    from pytest_gil.runtimes.threads import task_calls

    same = task_calls(abs, (3,), None, None, None, 8)
    assert serial_sample(same, 2) == same[:2]
    assert serial_sample(same, 8) == same and serial_sample(same, 16) == same
    own = task_calls(abs, (), None, None, [(i,) for i in range(8)], None)
    assert serial_sample(own, 2) == own  # each task its own arguments: all run
    fns = task_calls([abs] * 8, (3,), None, None, None, None)
    assert serial_sample(fns, 2) == fns  # a list of callables: taken as distinct tasks


def test_a_scaled_serial_phase_gives_the_speedup_of_all_the_tasks() -> None:
    from pytest_gil.workloads import worker

    r = measure_scaling(worker, 0.01, tasks=4, workers=2, cpu_bound=False, ideal=2.0,
                        budget=10)
    rounds = [x for x in r.raw if not x.get("warmup")]
    assert rounds and all(x["serial_calls"] == 2 for x in rounds)
    for x in rounds:  # 2 sleeps one after another stand for the 4 the parallel phase runs
        assert x["values"]["speedup"] == pytest.approx(2 * x["t_serial"] / x["t_parallel"],
                                                       rel=1e-3)
    assert 1.5 < r.speedup.value < 2.5  # 4 sleeps on 2 threads: two at a time
