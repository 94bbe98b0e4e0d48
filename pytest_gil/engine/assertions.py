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
from .scaling import ScalingResult, measure_overlap, measure_scaling

__all__ = [
    "apply_inconclusive_policy",
    "assert_no_speedup",
    "assert_overlaps",
    "assert_scales",
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
