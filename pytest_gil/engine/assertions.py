"""Assertions: measure, decide, and pass, fail or apply the inconclusive policy.

Each ``assert_*`` states one thing.  *Confirmed* passes (and returns the result); *refuted*
fails the test with a one-line message (figures, bounds, verdict, runtime); *not-testable*
skips it, saying why; *inconclusive* follows the policy (``inconclusive=`` or
``--gil-inconclusive``: skip by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from .. import settings
from ..vocabulary import INCONCLUSIVE_POLICIES
from .check import Check, record_check
from .release import GilReleaseResult, releases_gil
from .scaling import ScalingResult, measure_overlap, measure_scaling

__all__ = [
    "apply_inconclusive_policy",
    "assert_holds_gil",
    "assert_no_speedup",
    "assert_overlaps",
    "assert_releases_gil",
    "assert_scales",
    "assert_speedup",
    "enforce",
]


def _policy(inconclusive: str | None) -> str:
    policy = inconclusive if inconclusive is not None else settings.current().inconclusive
    if policy not in INCONCLUSIVE_POLICIES:
        raise ValueError(
            f"inconclusive must be one of {', '.join(INCONCLUSIVE_POLICIES)}, got {policy!r}")
    return policy


def apply_inconclusive_policy(message: str, policy: str | None = None) -> None:
    """What an inconclusive verdict does to the running test: ``skip`` (the default) and
    ``xfail`` end it with the reason; ``fail`` fails it; ``pass`` returns so it goes on."""
    import pytest

    policy = _policy(policy)
    if policy == "pass":
        return
    if policy == "xfail":
        pytest.xfail(f"inconclusive: {message}")
    if policy == "fail":
        pytest.fail(f"inconclusive: {message}", pytrace=False)
    pytest.skip(f"inconclusive: {message}")


def _fail(message: str) -> NoReturn:
    import pytest

    pytest.fail(message, pytrace=False)


def enforce(check: Check, hypothesis: str, inconclusive: str | None = None) -> Check:
    """Pass when ``check`` confirmed ``hypothesis``; otherwise fail, skip or apply the
    inconclusive policy (see the module doc).  Records the check under ``hypothesis``."""
    import pytest

    policy = _policy(inconclusive)
    verdict = check.verdicts.get(hypothesis, "inconclusive")
    record_check(check, hypothesis)
    if verdict == "confirmed":
        return check
    if verdict == "not-testable":
        pytest.skip(f"not testable: {check.reason} · {check.runtime}".rstrip(" ·"))
    if verdict == "refuted":
        _fail(f"pytest-gil: {check.message(hypothesis)}")
    apply_inconclusive_policy(check.message(hypothesis), policy)
    return check


def _measured(fn_or_result: Callable[..., Any] | ScalingResult, fn_args: tuple[Any, ...],
              options: dict[str, Any], measure: Callable[..., ScalingResult], what: str,
              **own: Any) -> ScalingResult:
    """The result to decide: ``fn_or_result`` itself when already measured, else a fresh
    measurement with the assertion's ``own`` options (its hypothesis), which the caller's
    ``options`` may not override."""
    taken = sorted(set(options) & {"hypothesis", *own})
    if taken:
        raise TypeError(f"{what} decides its own hypothesis; {', '.join(taken)}= is not an "
                        "option of it (use measure_scaling(..., hypothesis=...) to measure "
                        "another)")
    if isinstance(fn_or_result, ScalingResult):
        if fn_args or options:
            raise TypeError(f"{what}: arguments were given together with an already "
                            "measured result")
        return fn_or_result
    return measure(fn_or_result, *fn_args, **options, **own)


def assert_no_speedup(fn_or_result: Callable[..., Any] | ScalingResult, /, *fn_args: Any,
                      inconclusive: str | None = None, **options: Any) -> ScalingResult:
    """Assert that running on several workers gives no speedup: "serialized" confirmed.

    Pass a callable with its arguments and :func:`~pytest_gil.measure_scaling`'s options
    (``workers=``, ``executor=``, ``args=``, ``kwargs=``, …), or a result already measured.
    """
    result = _measured(fn_or_result, fn_args, options, measure_scaling, "assert_no_speedup",
                       hypothesis="serialized")
    enforce(result, "serialized", inconclusive)
    return result


def assert_scales(fn_or_result: Callable[..., Any] | ScalingResult, /, *fn_args: Any,
                  inconclusive: str | None = None, **options: Any) -> ScalingResult:
    """Assert that the work scales with the workers: "parallel" confirmed (arguments as for
    :func:`assert_no_speedup`)."""
    result = _measured(fn_or_result, fn_args, options, measure_scaling, "assert_scales",
                       hypothesis="parallel")
    enforce(result, "parallel", inconclusive)
    return result


def assert_overlaps(fn_or_result: Callable[..., Any] | ScalingResult, /, *fn_args: Any,
                    inconclusive: str | None = None, **options: Any) -> ScalingResult:
    """Assert that sleeping/IO-waiting calls overlap (``tasks`` of them finish in ≈ one
    call's time), measured with :func:`~pytest_gil.measure_overlap`."""
    result = _measured(fn_or_result, fn_args, options, measure_overlap, "assert_overlaps")
    enforce(result, "overlaps", inconclusive)
    return result


SPEEDUP_OPTIONS = frozenset({"args", "kwargs", "task_args", "workers", "executor", "tasks",
                             "pool", "label", "cpu_bound", "budget", "profile"})
"""The options :func:`assert_speedup` passes on to the measurement."""


def assert_speedup(fn: Callable[..., Any], /, *fn_args: Any, at_least: float | None = None,
                   at_most: float | None = None, inconclusive: str | None = None,
                   **options: Any) -> ScalingResult:
    """Assert a speedup bound of your own: ``at_least=X`` (the speedup on the workers is
    confidently above ``X``) or ``at_most=X`` (confidently below) — exactly one of them.

    Measured like :func:`~pytest_gil.measure_scaling` (``workers=``, ``executor=``,
    ``args=``, ``kwargs=``, ``task_args=``, ``pool=``, ``cpu_bound=``, ``budget=``, …) and
    decided by the same sequential test against ``X`` alone (:mod:`pytest_gil.stats`,
    "Thresholds"): *confirmed* passes, *refuted* fails with the figures.  ``at_least`` above
    what the workers can give on this machine — more than the usable CPUs, or more than the
    capacity the machine delivers (:func:`~pytest_gil.delivered_capacity`) — is
    *not-testable* (skipped, saying why), never a failure of your code.
    """
    from .scaling import scaling_check

    if (at_least is None) == (at_most is None):
        raise TypeError("assert_speedup needs exactly one of at_least= or at_most=")
    kind, x = ("at-least", at_least) if at_least is not None else ("at-most", at_most)
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (
            0 < x < float("inf")):
        raise ValueError(f"{kind.replace('-', '_')} must be a positive number, got {x!r}")
    if isinstance(fn, Check):
        raise TypeError("assert_speedup measures for itself: pass the function, not a result "
                        "(a result was decided against its own bounds)")
    unknown = sorted(set(options) - SPEEDUP_OPTIONS)
    if unknown:
        raise TypeError(f"assert_speedup: unexpected option(s) {', '.join(unknown)}= (the "
                        "function's own keywords go in kwargs=; it decides against its own "
                        "bound, so hypothesis= and ideal= are not options)")
    result = scaling_check(fn, fn_args, **options, threshold=(kind, float(x)))
    enforce(result, kind, inconclusive)
    return result


def assert_releases_gil(fn: Callable[..., Any], /, *fn_args: Any,
                        min_fraction: float | None = None, inconclusive: str | None = None,
                        **options: Any) -> GilReleaseResult:
    """Assert that ``fn`` runs with the GIL released (:func:`~pytest_gil.releases_gil`:
    "releases" confirmed).  ``min_fraction=f`` asks for at least that share of its time
    released (e.g. ``0.8``).  Options: ``args=``, ``kwargs=``, ``budget=``.  Not-testable
    (skipped) on a build without a GIL and on one usable CPU when ``fn`` computes."""
    result = releases_gil(fn, *fn_args, min_fraction=min_fraction, **_release_options(
        "assert_releases_gil", options))
    enforce(result, "releases", inconclusive)
    return result


def assert_holds_gil(fn: Callable[..., Any], /, *fn_args: Any,
                     max_fraction: float | None = None, inconclusive: str | None = None,
                     **options: Any) -> GilReleaseResult:
    """Assert that ``fn`` holds the GIL while it runs (:func:`~pytest_gil.releases_gil`:
    "holds" confirmed — a Python thread beside it is starved).  ``max_fraction=f`` allows up
    to that share of its time released.  Options as for :func:`assert_releases_gil`."""
    result = releases_gil(fn, *fn_args, max_fraction=max_fraction, **_release_options(
        "assert_holds_gil", options))
    enforce(result, "holds", inconclusive)
    return result


def _release_options(what: str, options: dict[str, Any]) -> dict[str, Any]:
    allowed = {"args", "kwargs", "budget", "profile"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"{what}: unexpected option(s) {', '.join(unknown)}= (it takes "
                        "args=, kwargs=, budget=; the function's own keywords go in kwargs=)")
    return options
