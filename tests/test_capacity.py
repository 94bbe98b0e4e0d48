"""The machine's delivered capacity (``pytest_gil.engine.capacity``): an estimate from enough
undisturbed window pairs, or an honest "too busy" that is measured again later — never a
``nan`` figure or an overflow (window pairs are scripted here; the real measurement runs in
the engine's slow tests and the claims suite)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_gil import Verdict, measure_scaling, settings, stats
from pytest_gil.engine import capacity
from pytest_gil.profile import override_profile


class FakePool:
    def warm(self, *modules: str) -> None:
        pass


@pytest.fixture
def pairs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float | None]]:
    """The ``ln K`` of the next window pairs, consumed in order (``None``: a disturbed pair;
    every pair after the script is disturbed)."""
    script: list[float | None] = []

    def pair(pool: Any, workers: int, window: float, flipped: bool) -> float | None:
        return script.pop(0) if script else None

    monkeypatch.setattr(capacity, "_pair", pair)
    monkeypatch.setattr("pytest_gil.runtimes.pools.ManagedProcessPool",
                        lambda *a, **k: FakePool())
    monkeypatch.setattr("pytest_gil.runtimes.pools.terminate_executor", lambda *a, **k: None)
    # This process's memory as the run's store, empty: no estimate cached by other tests
    # (under xdist the run's store is a shared file).
    monkeypatch.setattr(settings, "_memory", {})
    monkeypatch.setattr(settings, "_store", settings._memory_store)
    yield script


def test_a_quiet_machine_gives_an_interval(pairs: list[float | None]) -> None:
    pairs.extend(math.log(v) for v in (1.9, 2.0, 2.1, 1.95, 2.05, 2.0) * 8)
    est = capacity.measure_capacity(2)
    assert est.measured and est.windows == capacity.WINDOWS and est.disturbed == 0
    assert est.low < 2.0 < est.high and est.format().startswith("2.00× [")


def test_a_busy_machine_says_so_instead_of_a_figure(pairs: list[float | None]) -> None:
    pairs.extend([None, None, None, math.log(1.3)] * 2)  # then every pair disturbed
    est = capacity.measure_capacity(2)
    assert not est.measured and est.windows < capacity.MIN_WINDOWS
    assert "nan" not in est.format()
    assert est.format() == (f"no estimate for 2 workers: the machine was too busy "
                            f"({est.disturbed} of {est.windows + est.disturbed} window pairs "
                            "disturbed by foreign load)")
    est = capacity.measure_capacity(2)  # nothing clean at all
    assert not est.measured and est.windows == 0 and "too busy" in est.format()


def test_a_few_wild_windows_do_not_overflow(pairs: list[float | None]) -> None:
    pairs.extend([math.log(0.2), math.log(50.0)] + [None] * 6)
    est = capacity.measure_capacity(2)  # two clean pairs, very far apart
    assert not est.measured
    assert stats.interval([math.log(0.2), math.log(50.0)], 1e-9).high == math.inf


def test_a_busy_estimate_makes_checks_not_testable_and_is_measured_again(
        pairs: list[float | None], monkeypatch: pytest.MonkeyPatch) -> None:
    pairs.extend([None])
    with override_profile(usable_cpus=2):
        r = measure_scaling(lambda: None, workers=2)
    assert r.verdict is Verdict.NOT_TESTABLE
    assert "capacity of the machine: no estimate for 2 workers: the machine was too busy" in (
        r.reason)
    # Reused while fresh ...
    assert not capacity.delivered_capacity(2).measured
    # ... measured again once RETRY_AFTER has passed, when the machine may be quiet.
    pairs[:] = [math.log(1.9), math.log(2.1)] * 24
    now = __import__("time").time()
    monkeypatch.setattr(capacity.time, "time", lambda: now + capacity.RETRY_AFTER + 1)
    monkeypatch.setattr(settings.time, "time", lambda: now + capacity.RETRY_AFTER + 1)
    assert capacity.delivered_capacity(2).measured


# --------------------------------------------------------------------------------------------
# a refutation that rests on the capacity is examined again


def _refuting_check(cpu_bound_value: float) -> Any:
    from pytest_gil.engine.check import Check, Figure

    return Check(kind="scaling", label="calc in 4 processes", hypothesis="parallel",
                 verdicts={"serialized": "confirmed", "parallel": "refuted"},
                 figures={"speedup": Figure("speedup", 0.90, 0.82, 1.00, "x", 8),
                          "cpu_speedup": Figure("CPU-time speedup bound", cpu_bound_value,
                                                cpu_bound_value * 0.95,
                                                cpu_bound_value * 1.05, "x", 8)},
                 key="speedup", bounds={"parallel": {"confirm": 1.44, "refute": 1.16}},
                 stop="decided", rounds=8, ideal=1.96)


def _used(pairs: list[float | None]) -> capacity.CapacityEstimate:
    pairs[:] = [math.log(v) for v in (1.9, 2.0, 2.0, 1.95) * 12]
    est = capacity.delivered_capacity(2)
    assert est.measured and est.low > 1.7
    return est


def test_a_refutation_made_while_the_capacity_fell_becomes_inconclusive(
        pairs: list[float | None]) -> None:
    """The machine did half its work per CPU-second during the check (the CPU-time bound says
    the CPUs were busy): measured again, the capacity is far below the estimate the check
    used, so the refutation is the machine's and the check says so."""
    used = _used(pairs)
    pairs[:] = [math.log(v) for v in (1.0, 1.1, 0.95, 1.05) * 6]
    out = capacity.recheck_refutation(_refuting_check(1.87), used)
    assert dict(out.verdicts) == {"serialized": "inconclusive", "parallel": "inconclusive"}
    assert out.stop == "capacity-fell" and "capacity fell during the check" in out.reason
    assert out.extra["capacity_recheck"]["value"] < 1.2
    # the session's estimate now is the new one: later checks use it
    assert capacity.delivered_capacity(2).value < 1.2


def test_a_refutation_stands_when_the_capacity_held(pairs: list[float | None]) -> None:
    used = _used(pairs)
    pairs[:] = [math.log(v) for v in (1.9, 2.0, 2.0, 1.95) * 6]
    out = capacity.recheck_refutation(_refuting_check(1.87), used)
    assert out.verdicts["parallel"] == "refuted" and out.stop == "decided"
    assert out.extra["capacity_recheck"]["value"] > 1.8


def test_a_machine_too_busy_to_measure_again_does_not_back_a_refutation(
        pairs: list[float | None]) -> None:
    used = _used(pairs)
    pairs[:] = []  # every pair disturbed
    out = capacity.recheck_refutation(_refuting_check(1.87), used)
    assert out.verdicts["parallel"] == "inconclusive" and "too busy" in out.reason


def test_a_refutation_by_the_cpu_time_bound_is_not_examined_again(
        pairs: list[float | None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads taking turns under a GIL: the CPU-time bound alone is below the refute bound,
    which no slowness of the CPUs explains; nothing is measured again."""
    used = _used(pairs)
    monkeypatch.setattr(capacity, "measure_capacity",
                        lambda *a, **k: pytest.fail("measured again"))
    check = _refuting_check(1.02)
    assert capacity.recheck_refutation(check, used) is check
    confirmed = _refuting_check(1.87)
    object.__setattr__(confirmed, "verdicts", {"serialized": "inconclusive",
                                               "parallel": "confirmed"})
    assert capacity.recheck_refutation(confirmed, used) is confirmed


def test_measure_rounds_examines_its_refutations_again(pairs: list[float | None]) -> None:
    """The wiring: a ratio measured by the user, decided against the capacity, refuted by the
    speedup while the CPUs were busy, and the machine slow just after."""
    from pytest_gil import measure_rounds

    used = _used(pairs)
    pairs[:] = [math.log(v) for v in (1.0, 1.1, 0.95, 1.05) * 6]
    check = measure_rounds(lambda i, flip: {"speedup": 0.9, "cpu_speedup": 1.9},
                           signals=["speedup"], bound=["cpu_speedup"], ideal=used,
                           hypothesis="parallel", label="slow machine", warmup=False)
    assert check.verdict is Verdict.INCONCLUSIVE and check.stop == "capacity-fell"


# a refutation the CPU-time bound does not back is repeated before it stands


def _confirming_check(speedup: float) -> Any:
    from pytest_gil.engine.check import Check, Figure

    return Check(kind="scaling", label="calc in 4 processes", hypothesis="parallel",
                 verdicts={"serialized": "refuted", "parallel": "confirmed"},
                 figures={"speedup": Figure("speedup", speedup, speedup * 0.9,
                                            speedup * 1.1, "x", 6)},
                 key="speedup", bounds={"parallel": {"confirm": 1.44, "refute": 1.16}},
                 stop="decided", rounds=6, elapsed=1.5)


def _quiet(times: int) -> list[float | None]:
    """``times`` estimates' worth of window pairs from a machine delivering ≈ 1.95×."""
    return [math.log(v) for v in (1.9, 2.0, 2.0, 1.95) * (capacity.MIN_WINDOWS // 4 * times)]


def test_a_refutation_a_second_check_does_not_repeat_is_inconclusive(
        pairs: list[float | None]) -> None:
    """The machine dipped for the first check's few seconds and was back before the capacity
    was measured again (the case a capacity read after the check cannot see): the second
    check confirms, so the first one's shortfall was the machine's, and the check says both."""
    used = _used(pairs)
    pairs[:] = _quiet(2)
    ran: list[int] = []

    def rerun() -> Any:
        ran.append(1)
        return _confirming_check(1.85)

    first = _refuting_check(1.59)
    out = capacity.recheck_refutation(first, used, rerun=rerun)
    assert ran == [1]
    assert dict(out.verdicts) == {"serialized": "inconclusive", "parallel": "inconclusive"}
    assert out.stop == "not-replicated"
    assert "speedup 0.90× [0.82, 1.00] (8 rounds)" in out.reason
    assert "then speedup 1.85× [1.67, 2.04] (6 rounds)" in out.reason
    assert out.extra["rerun"]["verdicts"]["parallel"] == "confirmed"
    assert out.extra["capacity_after_rerun"]["value"] > 1.8
    assert out.elapsed >= first.elapsed
    from pytest_gil.report.why import why

    assert why(out.to_dict()) == out.reason


def test_a_refutation_repeated_on_a_machine_that_held_stands(
        pairs: list[float | None]) -> None:
    used = _used(pairs)
    pairs[:] = _quiet(2)
    out = capacity.recheck_refutation(_refuting_check(1.87), used,
                                      rerun=lambda: _refuting_check(1.84))
    assert out.verdicts["parallel"] == "refuted" and out.stop == "decided"
    assert out.extra["rerun"]["verdicts"]["parallel"] == "refuted"
    assert out.extra["rerun"]["figure"]["value"] == pytest.approx(0.90)


def test_a_capacity_that_fell_during_the_second_check_does_not_back_it(
        pairs: list[float | None]) -> None:
    """Measured whole before the second check, slow after it: both refutations may be the
    machine's."""
    used = _used(pairs)
    pairs[:] = _quiet(1) + [math.log(v) for v in (1.0, 1.1, 0.95, 1.05) * 6]
    out = capacity.recheck_refutation(_refuting_check(1.87), used,
                                      rerun=lambda: _refuting_check(1.84))
    assert out.verdicts["parallel"] == "inconclusive" and out.stop == "capacity-fell"
    assert out.extra["capacity_after_rerun"]["value"] < 1.2


def test_no_second_check_when_the_capacity_has_already_fallen(
        pairs: list[float | None]) -> None:
    used = _used(pairs)
    pairs[:] = [math.log(v) for v in (1.0, 1.1, 0.95, 1.05) * 6]
    out = capacity.recheck_refutation(_refuting_check(1.87), used,
                                      rerun=lambda: pytest.fail("run again"))
    assert out.stop == "capacity-fell" and "rerun" not in out.extra


def test_measure_rounds_repeats_a_refutation_before_it_stands(
        pairs: list[float | None]) -> None:
    """The wiring: the user's rounds read 0.9× with the CPUs busy, then — in the second
    check — 1.95×; the machine measured whole between and after."""
    from pytest_gil import measure_rounds

    used = _used(pairs)
    pairs[:] = _quiet(2)
    runs = {"n": 0, "last": 10**9}

    def round_fn(i: int, flip: bool) -> dict[str, float]:
        if i <= runs["last"]:
            runs["n"] += 1  # the round index starts again: a new check
        runs["last"] = i
        speedup = 0.9 if runs["n"] == 1 else 1.95
        return {"speedup": speedup, "cpu_speedup": 1.9}

    check = measure_rounds(round_fn, signals=["speedup"], bound=["cpu_speedup"], ideal=used,
                           hypothesis="parallel", label="dip", warmup=False)
    assert runs["n"] == 2
    assert check.verdict is Verdict.INCONCLUSIVE and check.stop == "not-replicated"
    assert check.extra["rerun"]["verdicts"]["parallel"] == "confirmed"


def test_share_nothing_workers_busy_in_parallel_leave_the_shortfall_to_the_machine(
        pairs: list[float | None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Separate processes kept both CPUs busy (CPU-time bound 1.87× [1.78, 1.96], above the
    refute bound) while the speedup read 0.90×: each CPU-second did half its serial work,
    which share-nothing workers can only lose to the machine — inconclusive, at once."""
    used = _used(pairs)
    monkeypatch.setattr(capacity, "measure_capacity",
                        lambda *a, **k: pytest.fail("measured again"))
    out = capacity.recheck_refutation(_refuting_check(1.87), used, share_nothing=True,
                                      rerun=lambda: pytest.fail("run again"))
    assert dict(out.verdicts) == {"serialized": "inconclusive", "parallel": "inconclusive"}
    assert out.stop == "machine-slowed"
    assert "CPU-time speedup bound 1.87× [1.78, 1.96], above the refute bound 1.16" in out.reason
    assert "each CPU-second did 0.48 of its serial work" in out.reason
    from pytest_gil.report.why import why

    assert why(out.to_dict()) == out.reason


def test_share_nothing_workers_not_clearly_busy_are_examined_as_any_other(
        pairs: list[float | None]) -> None:
    """The CPU-time bound at 1.20× [1.14, 1.26] straddles the refute bound (1.16): the CPUs
    were not demonstrably busy, so the capacity and a second check decide as for threads."""
    used = _used(pairs)
    pairs[:] = _quiet(2)
    out = capacity.recheck_refutation(_refuting_check(1.20), used, share_nothing=True,
                                      rerun=lambda: _refuting_check(1.20))
    assert out.verdicts["parallel"] == "refuted" and "rerun" in out.extra
    # threads (or anything that may contend) are never excused by their busy CPUs
    pairs[:] = _quiet(2)
    out = capacity.recheck_refutation(_refuting_check(1.87), used,
                                      rerun=lambda: _refuting_check(1.87))
    assert out.verdicts["parallel"] == "refuted" and out.stop == "decided"
