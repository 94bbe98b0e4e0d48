"""Scaling curves: the fits on synthetic data with a known truth (coverage of the serial
fraction's interval in simulation), ``measure_curve`` on a scripted machine whose speedups
follow Amdahl's law, and a real curve recorded in a pytest run's report."""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from scipy import stats as sps

from pytest_gil import Check, CurveResult, Verdict, measure_curve, noise, records
from pytest_gil.engine import capacity, curve
from pytest_gil.engine.curve import Sample, fit_amdahl, fit_usl
from pytest_gil.profile import override_profile
from pytest_gil.runtimes.timeline import TaskRecord, Timeline


def amdahl(n: float, s: float) -> float:
    return 1.0 / (s + (1.0 - s) / n)


def usl(n: float, sigma: float, kappa: float) -> float:
    return n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def sample(n: int, log_speedups: Sequence[float]) -> Sample:
    return Sample.from_log_speedups(n, log_speedups)


def exact(n: int, speedup: float, sd: float = 0.01, rounds: int = 10) -> Sample:
    """A point whose rounds average exactly ``ln speedup`` with sample sd ``sd``."""
    half = rounds // 2
    logs = [math.log(speedup) + sd] * half + [math.log(speedup) - sd] * half
    return sample(n, logs)


# --------------------------------------------------------------------------------------------
# Amdahl's law


@pytest.mark.parametrize("s", [0.0, 0.05, 0.4, 0.9, 1.0])
def test_amdahl_recovers_a_known_serial_fraction(s: float) -> None:
    fit = fit_amdahl([exact(n, amdahl(n, s)) for n in (2, 4, 8)])
    assert fit.serial_fraction == pytest.approx(s, abs=1e-4)
    assert fit.low <= s <= fit.high
    assert fit.high - fit.low < 0.05
    assert fit.points_used == (2, 4, 8)


def test_amdahl_with_one_point_is_that_points_t_interval_through_the_law() -> None:
    rng = random.Random(5)
    logs = [math.log(1.6) + rng.gauss(0, 0.1) for _ in range(6)]
    fit = fit_amdahl([sample(2, logs)])
    mean = sum(logs) / len(logs)
    se = math.sqrt(sum((x - mean) ** 2 for x in logs) / 5 / 6)
    t = float(sps.t.ppf(0.975, 5))

    def s_of(speedup: float) -> float:  # Amdahl inverted at n = 2
        return 2.0 / speedup - 1.0

    assert fit.serial_fraction == pytest.approx(s_of(math.exp(mean)), abs=1e-6)
    assert fit.low == pytest.approx(s_of(math.exp(mean + t * se)), abs=1e-6)
    assert fit.high == pytest.approx(s_of(math.exp(mean - t * se)), abs=1e-6)


def _coverage(s: float, workers: Sequence[int], sd: Callable[[int], float],
              rounds: Sequence[int], reps: int, seed: int) -> float:
    rng = random.Random(seed)
    hits = 0
    for _ in range(reps):
        points = []
        for n in workers:
            mu = math.log(amdahl(n, s))
            points.append(sample(n, [rng.gauss(mu, sd(n)) for _ in range(rng.choice(rounds))]))
        fit = fit_amdahl(points)
        hits += fit.low <= s <= fit.high
    return hits / reps


FEW = (3, 4, 5)
MANY = (8, 10, 12, 16, 20)


@pytest.mark.parametrize(("s", "workers", "sd", "rounds"), [
    (0.05, (2,), lambda n: 0.15, FEW),
    (0.6, (2,), lambda n: 0.15, MANY),
    (0.05, (2, 4, 8), lambda n: 0.1, FEW),
    (0.3, (2, 4, 8), lambda n: 0.07 * n ** 0.5, FEW),  # noisier with more workers
    (0.95, (2, 3, 4, 6), lambda n: 0.3 / n, FEW),  # quieter with more workers
    (0.95, (2, 3, 4, 6), lambda n: 0.05, FEW),
    (0.3, (2, 3, 4, 6), lambda n: 0.1, MANY),
], ids=["1pt-few", "1pt-many", "3pt-few", "3pt-noisier-up", "4pt-quieter-up", "4pt-few",
        "4pt-many"])
def test_the_serial_fractions_interval_covers_the_truth_at_its_level(
        s: float, workers: Sequence[int], sd: Callable[[int], float],
        rounds: Sequence[int]) -> None:
    """The 95% interval over 1000 simulated curves each covers the truth 93.6–99.4% of the
    time (seeded, so the outcome is fixed; 0.93 is 2.9 binomial SE below 95%).  Weighting the
    points by their own 3–5 rounds' variance, without the pooled floor, covers only
    88–92% in the 3pt-noisier-up, 4pt-quieter-up and 4pt-few cases."""
    assert _coverage(s, workers, sd, rounds, reps=1000, seed=11) >= 0.93


def test_amdahl_clips_superlinear_and_slower_than_serial_data_and_says_so() -> None:
    fast = fit_amdahl([exact(2, 2.4), exact(4, 5.0)])
    assert fast.serial_fraction == 0.0 and fast.low == fast.high == 0.0
    assert "superlinear" in fast.note
    slow = fit_amdahl([exact(2, 0.5), exact(4, 0.4)])
    assert slow.serial_fraction == 1.0 and slow.low == slow.high == 1.0
    assert "below 1" in slow.note


def test_amdahl_widens_the_interval_when_the_points_disagree_with_the_law() -> None:
    consistent = fit_amdahl([exact(n, amdahl(n, 0.2)) for n in (2, 4, 8)])
    # 8 workers far slower than the other two points allow: not Amdahl-shaped.
    odd = fit_amdahl([exact(2, amdahl(2, 0.05)), exact(4, amdahl(4, 0.05)), exact(8, 1.5)])
    assert "scatter" in odd.note and "scatter" not in consistent.note
    assert odd.high - odd.low > 5 * (consistent.high - consistent.low)


def test_a_fit_needs_a_point_beyond_one_worker_and_two_rounds() -> None:
    with pytest.raises(ValueError, match="more than one worker"):
        fit_amdahl([exact(1, 1.0)])
    with pytest.raises(ValueError, match="at least 2 rounds"):
        sample(2, [0.5])


# --------------------------------------------------------------------------------------------
# the Universal Scalability Law


def test_usl_recovers_known_coefficients_and_the_peak() -> None:
    sigma, kappa = 0.05, 0.002
    fit = fit_usl([exact(n, usl(n, sigma, kappa)) for n in (2, 4, 8, 16, 32)])
    assert fit.sigma == pytest.approx(sigma, rel=0.02)
    assert fit.kappa == pytest.approx(kappa, rel=0.05)
    assert fit.peak_workers == pytest.approx(math.sqrt((1 - sigma) / kappa), rel=0.03)
    assert fit.speedup(16) == pytest.approx(usl(16, sigma, kappa), rel=0.01)


def test_usl_holds_a_negative_coefficient_at_zero_and_has_no_peak_without_coherency() -> None:
    # Amdahl-shaped data: in the USL that is κ = 0 (an unconstrained fit may go below 0).
    fit = fit_usl([exact(n, amdahl(n, 0.1) * (1.02 if n == 8 else 1.0)) for n in (2, 4, 8)])
    assert fit.kappa == 0.0 and fit.peak_workers is None
    assert "κ held at 0" in fit.note and "no peak" in fit.note
    assert fit.sigma == pytest.approx(0.1, abs=0.03)


def test_usl_needs_three_points_beyond_one_worker() -> None:
    with pytest.raises(ValueError, match="needs 3 points"):
        fit_usl([exact(1, 1.0), exact(2, 1.9), exact(4, 3.5)])


# --------------------------------------------------------------------------------------------
# measure_curve on a scripted machine: speedups follow Amdahl's law with serial fraction S


S = 0.1


class AmdahlMachine:
    """Stands in for ``run_calls``: 10 ms per task serially; ``n`` workers are
    ``amdahl(n_eff, S)`` times faster (``n_eff = min(n, cpus)``), with log-normal noise,
    and keep that many CPUs busy."""

    def __init__(self, cpus: int, sd: float = 0.03, seed: int = 3) -> None:
        self.cpus, self.sd = cpus, sd
        self.rng = random.Random(seed)
        self.phases: list[tuple[str, int]] = []

    def __call__(self, kind: str, calls: Sequence[Any], *, workers: int = 1,
                 executor: Any = None) -> Timeline:
        self.phases.append((kind, workers))
        tasks = len(calls)
        wall = 0.01 * tasks
        if kind != "serial":
            speedup = amdahl(min(workers, self.cpus), S) * math.exp(self.rng.gauss(0, self.sd))
            wall /= speedup
        cpu = 0.01 * tasks
        recs = [TaskRecord(k, 0.0, wall, cpu / tasks, os.getpid(), k) for k in range(tasks)]
        return Timeline(kind, workers, recs, 0.0, wall, cpu, True, True)


def _quiet_snapshot() -> noise.Snapshot:
    return noise.Snapshot(time.perf_counter(), time.process_time(), None, None, None, None,
                          None, None, None)


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], AmdahlMachine]:
    def estimate(workers: int) -> capacity.CapacityEstimate:
        return capacity.CapacityEstimate(workers, workers, workers, workers, 1e-5, 24, 0.04,
                                         0.1, 0.0, 0.0)

    monkeypatch.setattr(capacity, "delivered_capacity", estimate)
    monkeypatch.setattr(capacity, "measure_capacity", lambda workers, **kw: estimate(workers))
    monkeypatch.setattr(noise, "snapshot", _quiet_snapshot)
    monkeypatch.setattr(noise, "thread_schedstat", lambda: None)

    def make(cpus: int) -> AmdahlMachine:
        m = AmdahlMachine(cpus)
        monkeypatch.setattr("pytest_gil.engine.scaling.run_calls", m)
        return m

    return make


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The records sent to the report while the test runs."""
    got: list[dict[str, Any]] = []
    monkeypatch.setattr(records, "add", lambda rec: got.append(dict(rec)))
    return got


def noop() -> None:
    return None


def test_a_curve_within_eight_cpus_fits_both_laws(machine: Callable[[int], AmdahlMachine],
                                                  recorded: list[dict[str, Any]]) -> None:
    machine(8)
    with override_profile(usable_cpus=8):
        r = measure_curve(noop, workers=(8, 1, 4, 2))
    assert isinstance(r, CurveResult) and r.kind == "curve" and r.hypothesis == "parallel"
    assert [p.workers for p in r.points] == [1, 2, 4, 8]
    assert not any(p.beyond_cpus for p in r.points)
    # The verdicts are those of the largest count within the CPUs.
    assert r.setup["headline_workers"] == 8
    assert r.verdicts == r.point(8).verdicts and r.verdict is Verdict.CONFIRMED
    assert r.point(1).speedup is not None and r.point(1).speedup.value == 1.0
    p4 = r.point(4)
    assert p4.speedup is not None and p4.efficiency is not None
    assert p4.efficiency.value == pytest.approx(p4.speedup.value / 4)
    assert p4.speedup.value == pytest.approx(amdahl(4, S), rel=0.05)
    assert r.amdahl is not None and r.amdahl.points_used == (2, 4, 8)
    assert r.amdahl.low <= S <= r.amdahl.high
    assert r.amdahl.serial_fraction == pytest.approx(S, abs=0.02)
    assert r.usl is not None and r.usl.points_used == (2, 4, 8)
    assert r.usl.sigma == pytest.approx(S, abs=0.03)
    # Recorded once, as the curve; its points are not recorded on their own.
    assert len(recorded) == 1 and recorded[0]["checks"][0]["kind"] == "curve"
    assert recorded[0]["check_id"] == r.uid and r.uid not in {
        p.check.uid for p in r.points if p.check is not None}


def test_points_beyond_the_usable_cpus_are_measured_and_left_out_of_the_fits(
        machine: Callable[[int], AmdahlMachine]) -> None:
    m = machine(2)
    with override_profile(usable_cpus=2):
        r = measure_curve(noop, workers=(1, 2, 4, 8))
    assert [p.beyond_cpus for p in r.points] == [False, False, True, True]
    assert all(p.rounds > 0 for p in r.points[1:])
    assert {w for kind, w in m.phases if kind != "serial"} == {2, 4, 8}
    assert r.setup["headline_workers"] == 2 and r.verdicts == r.point(2).verdicts
    assert r.amdahl is not None and r.amdahl.points_used == (2,)
    assert "n = 4: beyond the usable CPUs" in r.amdahl.note
    assert r.usl is None and "needs 3 points" in r.fit_notes["usl"] and "1 here" in \
        r.fit_notes["usl"]


def test_the_record_has_the_curve_keys_the_report_draws(
        machine: Callable[[int], AmdahlMachine]) -> None:
    machine(4)
    with override_profile(usable_cpus=4):
        d = measure_curve(noop, workers=(1, 2, 4, 8)).to_dict()
    d = json.loads(json.dumps(d, allow_nan=False))  # strict JSON
    assert d["kind"] == "curve" and d["claim_tested"] == "parallel"
    assert d["usable_cpus"] == 4 and d["workers"] == [1, 2, 4, 8]
    assert [p["workers"] for p in d["points"]] == [1, 2, 4, 8]
    for p in d["points"]:
        assert {"workers", "speedup", "efficiency", "beyond_cpus", "rounds", "verdicts",
                "stop"} <= set(p)
    assert d["points"][3]["beyond_cpus"] and not d["points"][2]["beyond_cpus"]
    assert {"serial_fraction", "low", "high", "points_used", "note"} <= set(d["amdahl"])
    assert d["amdahl"]["points_used"] == [2, 4]
    assert d["usl"] is None and "usl" in d["fit_notes"]


def test_with_one_usable_cpu_the_curve_is_measured_but_not_testable(
        machine: Callable[[int], AmdahlMachine], recorded: list[dict[str, Any]]) -> None:
    machine(1)
    with override_profile(usable_cpus=1):
        r = measure_curve(noop, workers=(1, 2, 4))
    assert all(p.beyond_cpus for p in r.points[1:]) and all(p.rounds > 0 for p in r.points[1:])
    assert r.amdahl is None and r.usl is None and "no point" in r.fit_notes["amdahl"]
    assert set(r.verdicts.values()) == {"not-testable"} and r.verdict is Verdict.NOT_TESTABLE
    assert "one usable CPU" in r.reason
    # Measured against the ideal of n workers, which one CPU cannot give.
    assert r.point(4).check is not None and r.point(4).check.ideal == 4.0
    assert r.point(4).verdicts["serialized"] == "confirmed"
    assert len(recorded) == 1


def test_a_curve_is_not_a_boolean(machine: Callable[[int], AmdahlMachine]) -> None:
    machine(2)
    with override_profile(usable_cpus=2):
        r = measure_curve(noop, workers=(1, 2))
    with pytest.raises(TypeError, match="not a boolean"):
        bool(r)
    assert "Amdahl" in r.detail() and "workers" in str(r)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"workers": ()}, "non-empty sequence"),
    ({"workers": "24"}, "non-empty sequence"),
    ({"workers": (2, 2)}, "must not repeat"),
    ({"workers": (0, 2)}, "positive integer"),
    ({"executor": "fiber"}, "executor must be one of"),
    ({"tasks_per_worker": 0}, "tasks_per_worker must be a positive integer"),
    ({"budget": -1}, "budget must be a positive number"),
    ({"args": (1,)}, "not both"),
])
def test_bad_arguments_fail_before_anything_is_measured(
        machine: Callable[[int], AmdahlMachine], kwargs: dict[str, Any], message: str) -> None:
    m = machine(2)
    with pytest.raises((ValueError, TypeError), match=message):
        measure_curve(noop, 5, **kwargs) if "args" in kwargs else measure_curve(noop, **kwargs)
    assert m.phases == []


def test_the_fit_says_how_much_of_s_the_machines_capacity_explains() -> None:
    def point(n: int, cap: dict[str, Any] | None) -> curve.CurvePoint:
        setup = {"capacity": cap} if cap else {}
        return curve.CurvePoint(n, Check(kind="scaling", label="x", hypothesis="parallel",
                                         verdicts={}, setup=setup), beyond_cpus=False)

    # Two vCPUs that deliver 1.6 CPUs' work: s = (2/1.6 - 1)/(2 - 1) = 0.25 is the machine's.
    note = curve._capacity_note([point(1, None), point(2, {"value": 1.6, "workers": 2})])
    assert "1.60× for 2 workers" in note and "about 0.25" in note
    assert curve._capacity_note([point(2, None)]) == ""


# --------------------------------------------------------------------------------------------
# a real curve, as a user's test records it


@pytest.mark.slow
@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_a_curve_is_one_record_of_the_test_in_the_report(pytester: pytest.Pytester,
                                                         xdist: list[str]) -> None:
    pytester.makepyfile(test_curve_user="""
        import time
        from pytest_gil import measure_curve

        def test_sleeping_threads_curve():
            r = measure_curve(time.sleep, 0.02, workers=(1, 2, 4), cpu_bound=False,
                              budget=5)
            assert [p.workers for p in r.points] == [1, 2, 4]
    """)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--gil-report", "reports",
                                           *xdist)
    result.assert_outcomes(passed=1)
    [path] = (pytester.path / "reports").glob("gil-*.json")
    doc = json.loads(path.read_text())
    [rec] = doc["results"]
    assert rec["nodeid"].endswith("test_sleeping_threads_curve")
    [check] = rec["checks"]
    assert check["kind"] == "curve" and rec["check_id"] == check["id"]
    assert [p["workers"] for p in check["points"]] == [1, 2, 4]
    assert check["usable_cpus"] == doc["runtime"]["usable_cpus"]
    used = check["amdahl"]["points_used"] if check["amdahl"] else []
    assert all(w <= check["usable_cpus"] for w in used)
    # Sleeping threads overlap: when a fit was made, no serial fraction near 1.
    if check["amdahl"] is not None:
        assert check["amdahl"]["low"] < 0.5
