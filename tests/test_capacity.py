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
