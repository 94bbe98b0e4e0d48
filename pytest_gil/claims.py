"""``ClaimContext``: what a claim test uses to record its verdict and assert the expectation.

A claim test is marked ``@pytest.mark.claim("<id>")`` and asks for the ``gil_claim`` fixture::

    @pytest.mark.claim("pool.close-join-terminate")
    def test_close_then_apply_raises(gil_claim):
        ...
        gil_claim.functional(raised_value_error, "apply after close() raised ValueError")

    @pytest.mark.claim("gil.one-thread-at-a-time")
    def test_threads_serialize(gil_claim, process_pool):
        result = measure_scaling(calc, n, workers=2, executor="thread")
        gil_claim.decide(result.verdicts["serialized"], figure=..., checks=[result])

The context knows the expectation on this runtime (``gil_claim.expected``), records the
measured verdict for the report, and fails the test when the measurement contradicts the
expectation (with the document's sentence, what was measured and the runtime).  An
*inconclusive* measurement is handled by ``--gil-inconclusive``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, NoReturn

import pytest

from . import settings
from .catalogue import Claim, Expectation, get_claim
from .profile import RuntimeProfile

__all__ = ["ClaimContext", "handle_inconclusive", "record"]

VERDICTS = ("confirmed", "refuted", "inconclusive", "not-testable")


def record(rec: dict[str, Any]) -> None:
    """Attach ``rec`` (a RECORD of docs/DESIGN.md) to the running test for the report."""
    try:
        from .reporting import add_record
    except ImportError:  # pragma: no cover - reporting is part of the package
        return
    add_record(rec)


def handle_inconclusive(message: str, policy: str | None = None) -> None:
    """Apply the ``--gil-inconclusive`` policy to an inconclusive measurement.

    ``skip`` (default) and ``xfail`` end the test with the reason; ``fail`` fails it; ``pass``
    returns so the test goes on.
    """
    policy = policy or settings.current().inconclusive
    if policy == "pass":
        return
    if policy == "xfail":
        pytest.xfail(f"inconclusive: {message}")
    if policy == "fail":
        pytest.fail(f"inconclusive: {message}", pytrace=False)
    pytest.skip(f"inconclusive: {message}")


def _to_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        d = to_dict()
        if isinstance(d, dict):
            return d
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return {"repr": repr(obj)}


@dataclasses.dataclass
class ClaimContext:
    """A claim being decided by one test (the ``gil_claim`` fixture)."""

    claim: Claim
    profile: RuntimeProfile
    nodeid: str = ""
    variant: str | None = None
    decided: bool = False

    @property
    def id(self) -> str:
        return self.claim.id

    @property
    def expectation(self) -> Expectation:
        return self.claim.expect(self.profile, self.variant)

    @property
    def expected(self) -> str:
        """``confirmed``, ``refuted`` or ``not-testable`` on this runtime."""
        return self.expectation.verdict

    def for_variant(self, variant: str | None) -> ClaimContext:
        """The same claim measured one particular way (executor kind, start method, …)."""
        self.variant = variant
        return self

    def skip_if_not_testable(self) -> None:
        """Record *not-testable* and skip, naming what is missing, when the claim can't be
        measured here (1 usable CPU, no sub-interpreters, a start method missing)."""
        exp = self.expectation
        if exp.verdict == "not-testable":
            self._record("not-testable", None, exp.reason, [])
            pytest.skip(f"{self.id} is not testable here: {exp.reason}")

    def functional(self, holds: bool, detail: str, checks: Iterable[Any] = ()) -> None:
        """Decide a functional claim exactly: ``holds`` → confirmed, else refuted."""
        self.decide("confirmed" if holds else "refuted", detail=detail, checks=checks)

    def decide(
        self,
        verdict: str,
        *,
        figure: dict[str, Any] | None = None,
        detail: str = "",
        checks: Iterable[Any] = (),
    ) -> None:
        """Record the measured ``verdict`` and assert it is the expected one.

        A contradiction fails the test with the document's sentence, the measurement and the
        runtime; *inconclusive* follows ``--gil-inconclusive``.
        """
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        self.skip_if_not_testable()
        self._record(verdict, figure, detail, [_to_dict(c) for c in checks])
        self.decided = True
        if verdict == "inconclusive":
            handle_inconclusive(f"{self.id}: {detail}")
            return
        if verdict != self.expected:
            self._fail(verdict, detail)

    def _fail(self, verdict: str, detail: str) -> NoReturn:
        exp = self.expectation
        pytest.fail(
            f"claim {self.id}: expected {exp.verdict} on {self.profile.label()} "
            f"({exp.reason}), measured {verdict}: {detail}\n"
            f"  the document says: {self.claim.says}",
            pytrace=False,
        )

    def _record(
        self,
        verdict: str,
        figure: dict[str, Any] | None,
        detail: str,
        checks: list[dict[str, Any]],
    ) -> None:
        record(
            {
                "nodeid": self.nodeid,
                "claim": self.id,
                "variant": self.variant,
                "verdict": verdict,
                "expected": self.expected,
                "expected_reason": self.expectation.reason,
                "document_says": self.claim.says,
                "measured": self.claim.measured,
                "figure": figure,
                "detail": detail,
                "checks": checks,
            }
        )


def context_for(claim_id: object, profile: RuntimeProfile, nodeid: str) -> ClaimContext:
    """Build the context of a test's ``claim`` marker (``KeyError`` for an unknown id)."""
    return ClaimContext(get_claim(claim_id), profile, nodeid)
