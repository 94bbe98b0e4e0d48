"""The words pytest-gil uses, defined once: verdicts, hypotheses, executor kinds, claim kinds,
check kinds and inconclusive policies.

Every other module imports them from here, so that a report, the engine and the claims never
spell a verdict differently.  :class:`Verdict` is a ``str`` enum: it compares equal to its
value (``Verdict.CONFIRMED == "confirmed"``) and serialises as that string, while a typo
(``Verdict.CONFIRM``, ``Verdict("confirm")``) fails at once.
"""

from __future__ import annotations

import enum

__all__ = [
    "CHECK_KINDS",
    "CLAIM_KINDS",
    "EXECUTOR_KINDS",
    "HYPOTHESES",
    "INCONCLUSIVE_POLICIES",
    "RUNNER_KINDS",
    "VERDICTS",
    "Hypothesis",
    "Verdict",
    "worker_noun",
]


class Verdict(str, enum.Enum):
    """The outcome of deciding a claim or a check.

    * ``CONFIRMED`` — the measurement supports the statement beyond its confirm bound;
    * ``REFUTED`` — the measurement contradicts it beyond its (further) refute bound;
    * ``INCONCLUSIVE`` — neither, within the rounds and the time allowed (``reason`` says why);
    * ``NOT_TESTABLE`` — it cannot be measured here (one usable CPU, no sub-interpreters, …).
    """

    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"
    NOT_TESTABLE = "not-testable"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def decided(self) -> bool:
        """True for ``CONFIRMED`` and ``REFUTED``."""
        return self in (Verdict.CONFIRMED, Verdict.REFUTED)

    @classmethod
    def parse(cls, value: object, where: str = "verdict") -> Verdict:
        """``value`` as a :class:`Verdict`, or a ``ValueError`` that names ``where`` and the
        accepted spellings."""
        if isinstance(value, Verdict):
            return value
        try:
            return cls(str(value))
        except ValueError:
            raise ValueError(
                f"{where} must be one of {', '.join(VERDICTS)}, got {value!r}") from None


VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)


class Hypothesis(str, enum.Enum):
    """What a scaling check decides between: the work runs one piece at a time
    (``SERIALIZED``: speedup ≈ 1) or all together (``PARALLEL``: speedup ≈ the ideal)."""

    SERIALIZED = "serialized"
    PARALLEL = "parallel"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def other(self) -> Hypothesis:
        return Hypothesis.PARALLEL if self is Hypothesis.SERIALIZED else Hypothesis.SERIALIZED

    @classmethod
    def parse(cls, value: object, where: str = "hypothesis") -> Hypothesis:
        if isinstance(value, Hypothesis):
            return value
        try:
            return cls(str(value))
        except ValueError:
            raise ValueError(
                f"{where} must be 'serialized' or 'parallel', got {value!r}") from None


HYPOTHESES: tuple[str, ...] = tuple(h.value for h in Hypothesis)

EXECUTOR_KINDS: tuple[str, ...] = ("thread", "process", "interpreter")
"""Where parallel work runs: threads of this interpreter, worker processes, or threads each
running its own sub-interpreter (CPython 3.12+)."""

RUNNER_KINDS: tuple[str, ...] = ("serial", *EXECUTOR_KINDS)
"""What :func:`pytest_gil.run_tasks` accepts: one after another in this thread, or an executor
kind."""

CLAIM_KINDS: tuple[str, ...] = ("cpu_bound", "io_bound", "functional")
"""What a claim is about; a claim's tests carry the marker of the same name (``cpu_bound`` /
``io_bound``); functional claims are decided by exact observation."""

CHECK_KINDS: tuple[str, ...] = (
    "scaling", "overlap", "release", "parallelism", "fairness", "latency", "ratio",
    "functional", "curve",
)
"""What a recorded check measured (the ``kind`` of a CHECK record, ``docs/REPORT_SCHEMA.md``)."""

INCONCLUSIVE_POLICIES: tuple[str, ...] = ("skip", "xfail", "fail", "pass")
"""What an inconclusive verdict does to its test (``--gil-inconclusive``)."""

_NOUNS = {"serial": ("call", "calls"), "thread": ("thread", "threads"),
          "process": ("process", "processes"),
          "interpreter": ("sub-interpreter", "sub-interpreters")}


def worker_noun(kind: str, n: int) -> str:
    """``"1 thread"``, ``"2 processes"``, ``"4 sub-interpreters"``."""
    one, many = _NOUNS.get(kind, (f"{kind} worker", f"{kind} workers"))
    return f"{n} {one if n == 1 else many}"
