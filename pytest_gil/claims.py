"""Claims: statements a test suite decides by measurement, and what each runtime should find.

A :class:`Claim` is an id, a statement, and the verdict a correct measurement reaches on a
given runtime (``expected``, a function of the :class:`~pytest_gil.RuntimeProfile`).  Any
project registers its own from its ``conftest.py`` (or a plugin) with the hook
``pytest_gil_claims``::

    import pytest_gil

    def pytest_gil_claims(config):
        return [
            pytest_gil.Claim(
                "mylib.hash-releases-gil",
                "mylib.hash() releases the GIL while it hashes",
                expected=lambda profile: "confirmed" if profile.gil_enabled else "not-testable",
            ),
        ]

and decides one in a test marked ``@pytest.mark.claim("mylib.hash-releases-gil")`` with the
``gil_claim`` fixture (a :class:`ClaimContext`): ``gil_claim.decide(check)`` records the
measured verdict and fails the test when it contradicts the expectation on this runtime;
``gil_claim.functional(holds, detail)`` does the same for an exact observation.  Claims of
every registered catalogue reach the terminal summary, the JSON, HTML and Markdown reports and
the matrix across interpreters alike.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from .vocabulary import CLAIM_KINDS, Verdict

if TYPE_CHECKING:
    import pytest

    from .engine.check import Check
    from .profile import RuntimeProfile

__all__ = [
    "Claim",
    "ClaimContext",
    "ClaimRegistry",
    "Expectation",
    "UnknownClaimError",
    "collect_claims",
]

CLAIM_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$")
"""A claim id: letters, digits and ``_ . : / -``, no spaces (it is a ``-k`` keyword too)."""

EXPECTABLE = (Verdict.CONFIRMED, Verdict.REFUTED, Verdict.NOT_TESTABLE)


@dataclasses.dataclass(frozen=True)
class Expectation:
    """The verdict a correct measurement reaches on a runtime, and why."""

    verdict: Verdict
    reason: str = ""


ExpectedFn = Callable[..., object]


@dataclasses.dataclass(frozen=True)
class Claim:
    """A statement to decide by measurement.

    * ``id``: unique across the run, used by ``@pytest.mark.claim(id)`` and ``-k``;
    * ``statement``: the sentence as its source states it;
    * ``expected``: the verdict on a runtime — a :class:`~pytest_gil.Verdict` or its string,
      or a function ``expected(profile)`` (or ``expected(profile, variant)`` for a claim
      measured several ways) returning a verdict, a ``(verdict, reason)`` pair or an
      :class:`Expectation`.  ``"confirmed"``, ``"refuted"`` or ``"not-testable"``;
    * ``measured``: what the test measures; ``source``: where the statement comes from;
    * ``kind``: ``"cpu_bound"``, ``"io_bound"`` or ``"functional"``;
    * ``catalogue``: the catalogue's name (default: where the hook was defined).
    """

    id: str
    statement: str
    expected: ExpectedFn | Verdict | str = Verdict.CONFIRMED
    measured: str = ""
    source: str = ""
    kind: str = "cpu_bound"
    catalogue: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not CLAIM_ID.match(self.id):
            raise ValueError(f"claim id must be a word of letters, digits and _ . : / - "
                             f"(no spaces), got {self.id!r}")
        if not isinstance(self.statement, str) or not self.statement.strip():
            raise ValueError(f"claim {self.id}: the statement must be a non-empty string")
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"claim {self.id}: kind must be one of {', '.join(CLAIM_KINDS)}, "
                             f"got {self.kind!r}")
        if not callable(self.expected):
            _expectation(self.expected, self.id)  # validates a constant at once

    def expect(self, profile: RuntimeProfile, variant: str | None = None) -> Expectation:
        """The verdict a correct measurement of this claim reaches on ``profile``."""
        exp = self.expected
        if callable(exp) and not isinstance(exp, str):
            value = exp(profile, variant) if _takes_variant(exp) else exp(profile)
        else:
            value = exp
        return _expectation(value, self.id)


@functools.lru_cache(maxsize=256)
def _takes_variant(fn: Callable[..., object]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _expectation(value: object, claim_id: str) -> Expectation:
    reason: object = ""
    if isinstance(value, Expectation):
        reason = value.reason
        value = value.verdict
    elif isinstance(value, tuple) and len(value) == 2:
        value, reason = value
    try:
        verdict = Verdict.parse(value, f"the expected verdict of claim {claim_id}")
    except ValueError as exc:
        raise ValueError(f"{exc} (expected returns confirmed, refuted or not-testable)") from None
    if verdict not in EXPECTABLE:
        raise ValueError(f"claim {claim_id}: {verdict} cannot be expected — a correct "
                         "measurement reaches confirmed, refuted or not-testable")
    return Expectation(verdict, str(reason))


class UnknownClaimError(KeyError):
    """A ``claim`` marker names an id no catalogue registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown claim"


class ClaimRegistry:
    """Every claim registered in this run, by catalogue."""

    def __init__(self) -> None:
        self._claims: dict[str, Claim] = {}
        self._catalogues: dict[str, list[str]] = {}

    def register(self, claims: Iterable[Claim], catalogue: str) -> None:
        """Add ``claims`` under ``catalogue`` (a claim's own ``catalogue`` wins).
        ``ValueError`` for a non-claim or an id registered twice."""
        for claim in claims:
            if not isinstance(claim, Claim):
                raise ValueError(f"pytest_gil_claims of {catalogue} returned {claim!r}, not a "
                                 "pytest_gil.Claim")
            name = claim.catalogue or catalogue
            claim = dataclasses.replace(claim, catalogue=name)
            if claim.id in self._claims:
                other = self._claims[claim.id].catalogue
                raise ValueError(f"claim {claim.id!r} is registered twice: by {other} and by "
                                 f"{name}")
            self._claims[claim.id] = claim
            self._catalogues.setdefault(name, []).append(claim.id)

    @property
    def catalogues(self) -> dict[str, list[str]]:
        """Catalogue name → its claim ids, in registration order."""
        return {k: list(v) for k, v in self._catalogues.items()}

    def get(self, claim_id: object) -> Claim:
        """The claim, or :class:`UnknownClaimError` naming the registered catalogues."""
        if isinstance(claim_id, str) and claim_id in self._claims:
            return self._claims[claim_id]
        raise UnknownClaimError(self.unknown_message(claim_id))

    def unknown_message(self, claim_id: object) -> str:
        if not self._catalogues:
            return (f"unknown claim id {claim_id!r}: no catalogue is registered — return "
                    "pytest_gil.Claim objects from a pytest_gil_claims(config) hook in your "
                    "conftest.py")
        cats = "; ".join(f"{name} ({len(ids)} claims)" for name, ids in self._catalogues.items())
        close = difflib.get_close_matches(str(claim_id), list(self._claims), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"unknown claim id {claim_id!r}: the registered catalogues are {cats}{hint}"

    def __contains__(self, claim_id: object) -> bool:
        return claim_id in self._claims

    def __iter__(self) -> Iterator[Claim]:
        return iter(self._claims.values())

    def __len__(self) -> int:
        return len(self._claims)


def _catalogue_name(plugin_name: str, rootpath: Any) -> str:
    """A readable catalogue name for a hook implementation: the directory of a conftest
    relative to the rootdir, else the plugin's registered name."""
    from pathlib import Path

    path = Path(plugin_name)
    if path.name == "conftest.py":
        try:
            rel = path.parent.relative_to(rootpath)
            return str(rel) if str(rel) != "." else "conftest.py"
        except ValueError:
            return str(path.parent)
    return plugin_name


def collect_claims(config: pytest.Config) -> ClaimRegistry:
    """Call every ``pytest_gil_claims(config)`` implementation registered now and build the
    registry (``pytest.UsageError`` for a hook that returns something else than claims)."""
    import pytest

    registry = ClaimRegistry()
    for impl in config.pluginmanager.hook.pytest_gil_claims.get_hookimpls():
        name = _catalogue_name(impl.plugin_name, config.rootpath)
        try:
            result = impl.function(config=config)
            if result is None:
                continue
            if isinstance(result, Claim) or not isinstance(result, Iterable):
                raise ValueError(f"pytest_gil_claims must return an iterable of "
                                 f"pytest_gil.Claim, got {result!r}")
            registry.register(result, name)
        except ValueError as exc:
            raise pytest.UsageError(f"pytest-gil: claims of {name}: {exc}") from None
    return registry


def _to_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        d = to_dict()
        if isinstance(d, dict):
            return d
    return {"repr": repr(obj)}


@dataclasses.dataclass(frozen=True)
class ClaimContext:
    """A claim being decided by one test (the ``gil_claim`` fixture).

    ``expected`` / ``expectation`` say what a correct measurement finds on this runtime;
    :meth:`decide` and :meth:`functional` record the measured verdict and fail the test when
    it contradicts the expectation (an *inconclusive* verdict follows
    ``--gil-inconclusive``; a *not-testable* one skips).
    """

    claim: Claim
    profile: RuntimeProfile
    nodeid: str = ""
    variant: str | None = None

    @property
    def id(self) -> str:
        return self.claim.id

    @property
    def expectation(self) -> Expectation:
        return self.claim.expect(self.profile, self.variant)

    @property
    def expected(self) -> Verdict:
        """``confirmed``, ``refuted`` or ``not-testable`` on this runtime."""
        return self.expectation.verdict

    def for_variant(self, variant: str | None) -> ClaimContext:
        """The same claim measured one particular way (executor kind, start method, …)."""
        return dataclasses.replace(self, variant=variant)

    def skip_if_not_testable(self) -> None:
        """Record *not-testable* and skip, naming what is missing, when the claim cannot be
        measured on this runtime."""
        import pytest

        exp = self.expectation
        if exp.verdict is Verdict.NOT_TESTABLE:
            self._record(Verdict.NOT_TESTABLE, None, exp.reason, [])
            pytest.skip(f"{self.id} is not testable here: {exp.reason}")

    def decide(self, check: Check, *, hypothesis: str | None = None, note: str = "",
               checks: Sequence[Any] = ()) -> Verdict:
        """Decide the claim with the verdict ``check`` reached on ``hypothesis`` (default:
        the check's own), record it and assert it is the expected one; returns it."""
        from .engine.check import Check

        if not isinstance(check, Check):
            raise TypeError(f"decide() takes a measured check (a pytest_gil.Check), got "
                            f"{check!r}; use functional(holds, detail) for an exact "
                            "observation")
        hyp = hypothesis or check.hypothesis
        verdict = check.verdict_of(hyp)
        fig = check.figure
        detail = f"{note}{check.detail(hyp)}"
        if verdict is Verdict.NOT_TESTABLE:
            import pytest

            self._record(verdict, None, detail, [check, *checks])
            pytest.skip(f"{self.id} is not testable here: {check.reason}")
        self._settle(verdict, fig.to_dict() if fig is not None else None, detail,
                     [check, *checks])
        return verdict

    def functional(self, holds: bool, detail: str, *, checks: Sequence[Any] = (),
                   observations: Mapping[str, Any] | None = None) -> Verdict:
        """Decide the claim by exact observation: ``holds`` → confirmed, else refuted."""
        verdict = Verdict.CONFIRMED if holds else Verdict.REFUTED
        extra = [{"kind": "functional", "label": self.id, "claim_tested": "holds",
                  "verdict": str(verdict), "detail": detail,
                  "observations": dict(observations)}] if observations is not None else []
        self._settle(verdict, None, detail, [*checks, *extra])
        return verdict

    def _settle(self, verdict: Verdict, figure: dict[str, Any] | None, detail: str,
                checks: Sequence[Any]) -> None:
        from .engine.assertions import apply_inconclusive_policy

        self.skip_if_not_testable()
        self._record(verdict, figure, detail, checks)
        if verdict is Verdict.INCONCLUSIVE:
            apply_inconclusive_policy(f"{self.id}: {detail}")
            return
        if verdict != self.expected:
            self._fail(verdict, detail)

    def _fail(self, verdict: Verdict, detail: str) -> NoReturn:
        import pytest

        exp = self.expectation
        why = f" ({exp.reason})" if exp.reason else ""
        pytest.fail(
            f"claim {self.id}: expected {exp.verdict} on {self.profile.label()}{why}, "
            f"measured {verdict}: {detail}\n"
            f"  the statement: {self.claim.statement}",
            pytrace=False,
        )

    def _record(self, verdict: Verdict, figure: dict[str, Any] | None, detail: str,
                checks: Sequence[Any]) -> None:
        from . import records

        exp = self.expectation
        records.add({
            "nodeid": self.nodeid or None,
            "claim": self.id,
            "catalogue": self.claim.catalogue,
            "variant": self.variant,
            "verdict": str(verdict),
            "expected": str(exp.verdict),
            "expected_reason": exp.reason,
            "statement": self.claim.statement,
            "measured": self.claim.measured,
            "source": self.claim.source,
            "figure": figure,
            "detail": detail,
            "checks": [_to_dict(c) for c in checks],
        })
