"""The assertions that say one thing: ``assert_speedup(at_least=/at_most=)``,
``assert_releases_gil(min_fraction=)``, ``assert_holds_gil(max_fraction=)``.

Their logic runs on the scripted runner of ``test_engine.py`` (deterministic phases, a quiet
machine); the release assertions measure for real (``slow``: they assert verdicts reached by
statistics and skip when the machine is too noisy to decide)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

import numpy as np
import pytest
from test_engine import Script, fake_capacity, lognormal, noop, rng, script, two_cpus

from pytest_gil import (
    Verdict,
    assert_holds_gil,
    assert_releases_gil,
    assert_speedup,
    measure_scaling,
    releases_gil,
)
from pytest_gil.profile import override_profile

__all__ = ["rng", "script", "two_cpus"]  # fixtures used here, imported from test_engine

FAIL = pytest.fail.Exception
SKIP = pytest.skip.Exception


# --------------------------------------------------------------------------------------------
# assert_speedup: one bound, both directions


@pytest.mark.usefixtures("two_cpus")
@pytest.mark.parametrize(("true", "bound", "outcome"), [
    (1.8, ("at_least", 1.5), "pass"),
    (1.0, ("at_least", 1.5), "fail"),
    (1.0, ("at_most", 1.2), "pass"),
    (1.8, ("at_most", 1.2), "fail"),
    (0.95, ("at_least", 0.8), "pass"),  # "no slower than 0.8×": bounds below 1 work too
    (0.5, ("at_least", 0.8), "fail"),
])
def test_assert_speedup_decides_against_the_users_bound(
    script: Callable[..., Script], rng: np.random.Generator, true: float,
    bound: tuple[str, float], outcome: str,
) -> None:
    script(speedup=lognormal(rng, true, 0.05), parallelism=lognormal(rng, max(1.0, true), 0.02))
    kw = {bound[0]: bound[1]}
    if outcome == "pass":
        r = assert_speedup(noop, workers=2, cpu_bound=True, **kw)
        assert r.verdict is Verdict.CONFIRMED
        assert r.hypothesis == bound[0].replace("_", "-")
        assert r.bounds[r.hypothesis]["confirm"] == pytest.approx(bound[1], rel=1e-3)
    else:
        with pytest.raises(FAIL, match=rf"{bound[0].replace('_', '-')} refuted"):
            assert_speedup(noop, workers=2, cpu_bound=True, **kw)


@pytest.mark.usefixtures("two_cpus")
def test_a_speedup_at_the_bound_is_not_decided(
    script: Callable[..., Script], rng: np.random.Generator
) -> None:
    # True speedup exactly at the bound: neither confirming nor refuting is allowed, so the
    # test ends inconclusive (skipped by default) — never a pass or a failure.
    script(speedup=lognormal(rng, 1.5, 0.15), parallelism=lognormal(rng, 1.6, 0.02))
    with pytest.raises(SKIP, match="inconclusive"):
        assert_speedup(noop, workers=2, at_least=1.5, cpu_bound=True, budget=30)


def test_at_least_more_than_the_cpus_can_give_is_not_testable(
    script: Callable[..., Script], rng: np.random.Generator
) -> None:
    script(speedup=lognormal(rng, 1.0, 0.05), parallelism=lognormal(rng, 1.0, 0.02))
    with override_profile(usable_cpus=1), pytest.raises(SKIP, match=(
            r"not testable: a speedup of at least 1.5× needs more than the 1× the workers "
            r"can give on 1 usable CPU")):
        assert_speedup(noop, workers=2, at_least=1.5)
    with override_profile(usable_cpus=1):  # "at most" is testable anywhere
        r = assert_speedup(noop, workers=2, at_most=1.3, cpu_bound=True)
    assert r.verdict is Verdict.CONFIRMED


@pytest.mark.usefixtures("two_cpus")
def test_at_least_more_than_the_machine_delivers_is_not_testable(
    script: Callable[..., Script], rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(speedup=lognormal(rng, 1.3, 0.05), parallelism=lognormal(rng, 1.4, 0.02))
    fake_capacity(monkeypatch, 1.3, 1.45)  # an SMT runner: 2 CPUs deliver ~1.4
    with pytest.raises(SKIP, match=r"needs more than the machine delivers to 2 workers"):
        assert_speedup(noop, workers=2, at_least=1.6, cpu_bound=True)


@pytest.mark.usefixtures("two_cpus")
def test_the_cpu_time_bound_refutes_at_least_in_few_rounds(
    script: Callable[..., Script], rng: np.random.Generator
) -> None:
    # A noisy speedup but a steady CPU-time ratio at 1: the bound route decides fast.
    script(speedup=lognormal(rng, 1.0, 0.3), parallelism=lognormal(rng, 1.0, 0.01))
    with pytest.raises(FAIL) as info:
        assert_speedup(noop, workers=2, at_least=1.5, cpu_bound=True)
    assert "3 rounds" in str(info.value) or "4 rounds" in str(info.value), info.value


def test_assert_speedup_refuses_what_is_not_its_to_take() -> None:
    with pytest.raises(TypeError, match="exactly one of at_least= or at_most="):
        assert_speedup(noop)
    with pytest.raises(TypeError, match="exactly one of at_least= or at_most="):
        assert_speedup(noop, at_least=2, at_most=3)
    for bad in (0, -1, math.inf, math.nan, True, "2"):
        with pytest.raises(ValueError, match="at_least must be a positive number"):
            assert_speedup(noop, at_least=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unexpected option\(s\) hypothesis="):
        assert_speedup(noop, at_least=1.5, hypothesis="parallel")
    with pytest.raises(TypeError, match=r"unexpected option\(s\) chunk="):
        assert_speedup(noop, at_least=1.5, chunk=4)  # the function's keyword goes in kwargs=


def test_assert_speedup_will_not_redecide_a_measured_result(
    script: Callable[..., Script], rng: np.random.Generator, two_cpus: None
) -> None:
    script(speedup=lognormal(rng, 1.0, 0.05), parallelism=lognormal(rng, 1.0, 0.02))
    r = measure_scaling(noop, workers=2)
    with pytest.raises(TypeError, match="pass the function, not a result"):
        assert_speedup(r, at_most=1.2)  # type: ignore[arg-type]


def test_a_threshold_result_is_not_a_boolean(
    script: Callable[..., Script], rng: np.random.Generator, two_cpus: None
) -> None:
    script(speedup=lognormal(rng, 1.0, 0.05), parallelism=lognormal(rng, 1.0, 0.02))
    r = assert_speedup(noop, workers=2, at_most=1.3, cpu_bound=True)
    with pytest.raises(TypeError, match="assert_speedup"):
        bool(r)


# --------------------------------------------------------------------------------------------
# releases / holds: argument checks (no measuring)


def test_fraction_bounds_are_validated() -> None:
    for bad in (0, 1, 1.5, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match="min_fraction must be a number between 0 and 1"):
            releases_gil(noop, min_fraction=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="min_fraction= or max_fraction=, not both"):
        releases_gil(noop, min_fraction=0.5, max_fraction=0.2)
    with pytest.raises(TypeError, match=r"unexpected option\(s\) workers="):
        assert_releases_gil(noop, workers=2)
    with pytest.raises(TypeError, match=r"unexpected option\(s\) size="):
        assert_holds_gil(noop, size=3)


# --------------------------------------------------------------------------------------------
# releases / holds: real measurements (a GIL build with two usable CPUs)

DATA = b"\x5a" * 4_000_000


def digest() -> bytes:
    """SHA-256 in C: hashlib releases the GIL for buffers over 2 KiB."""
    return hashlib.sha256(DATA).digest()


def python_loop(n: int = 150_000) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def _needs_a_gil_and_two_cpus() -> None:
    from pytest_gil import runtime_profile

    prof = runtime_profile()
    if not prof.gil_enabled or prof.usable_cpus < 2:
        pytest.skip("needs a GIL build with two usable CPUs")


@pytest.mark.slow
@pytest.mark.parametrize(("assertion", "fn", "kw", "outcome"), [
    (assert_releases_gil, digest, {}, "pass"),
    (assert_releases_gil, digest, {"min_fraction": 0.8}, "pass"),
    (assert_releases_gil, python_loop, {}, "fail"),
    (assert_holds_gil, python_loop, {}, "pass"),
    (assert_holds_gil, python_loop, {"max_fraction": 0.3}, "pass"),
    (assert_holds_gil, digest, {}, "fail"),
], ids=["releases", "releases-80%", "loop-releases", "holds", "holds-30%", "digest-holds"])
def test_release_assertions_on_real_functions(
    assertion: Callable[..., object], fn: Callable[[], object], kw: dict[str, float],
    outcome: str,
) -> None:
    _needs_a_gil_and_two_cpus()
    if outcome == "pass":
        try:
            assertion(fn, **kw)
        except SKIP as exc:  # too noisy to decide: acceptable, never a wrong decision
            assert "inconclusive" in str(exc)
            raise
    else:
        with pytest.raises((FAIL, SKIP)) as info:
            assertion(fn, **kw)
        if info.type is SKIP:
            pytest.skip(str(info.value))
        assert "refuted" in str(info.value)
