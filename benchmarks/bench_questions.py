"""The questions the time-to-verdict benchmark asks, and the answer each should get.

Pure and light (no pytest-gil import, no clock): read by the parent (``bench_verdict``), the
child that measures one repetition (``verdict_child``), the goals (``bench_goals``) and the
Markdown (``bench_markdown``).

Each question is a check a user writes, on the workload the claims suite uses:

=============  ==============================================================================
``threads``    ``measure_scaling(calc, n, workers=2, executor="thread")`` — serialized on a
               GIL build, parallel without the GIL (``n`` calibrated to 50 ms)
``processes``  ``measure_scaling(calc, n, workers=2, executor="process")`` — parallel
``sleep``      ``measure_overlap(worker, 0.02, tasks=4)`` — 4 sleeping threads overlap
``release``    ``releases_gil(hashlib.sha256, data)`` over :data:`SHA256_BYTES` — releases
``hold``       ``releases_gil(calc, HOLD_CALC_N)`` (a pure-Python loop) — holds
=============  ==============================================================================

The peers (pyperf, pytest-benchmark) time durations, not a probe: the release question is
asked of them as a user of theirs would ask it — do 2 threads hashing run faster than the same
hashes in a row? (it releases ⇔ parallel).  Asked that way the hold question is the
``threads`` question itself (a pure-Python loop in 2 threads), so its peers' row is that one's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = [
    "HOLD_CALC_N",
    "POOL_TASKS_PER_WORKER",
    "QUESTIONS",
    "SHA256_BYTES",
    "SLEEP",
    "SLEEPERS",
    "WORKERS",
    "PeerWorkload",
    "Question",
    "expected_answers",
]

WORKERS = 2
"""Workers of the scaling questions: the issue's "2 threads × calc", "processes × calc"."""

SLEEP = 0.02
"""Seconds one sleeping task waits, as in the claims suite (``tests/claims/test_gil.py``)."""

SLEEPERS = 4
"""Sleeping threads of the overlap question (the issue's "4 sleeps overlapping")."""

SHA256_BYTES = 4 * 2**20
"""Bytes hashed per ``hashlib.sha256`` call in the release question: "a few MB" — 2–8 ms a
call at 0.5–2 GB/s, so a 30 ms release window (``pytest_gil.engine.release.RELEASE_WINDOW``)
holds several calls, and far above the 2047 bytes from which hashlib drops the GIL."""

HOLD_CALC_N = 200_000
"""Iterations of ``calc`` (a pure-Python loop) per call in the hold question: a few
milliseconds (``calc``'s 50 ms size is 1.5–3 million on this project's machines), several
calls per release window, as for the release question."""

POOL_TASKS_PER_WORKER = 4
"""Tasks per worker of a process pool phase: the engine's default
(``pytest_gil.engine.scaling.POOL_TASKS_PER_WORKER``, which ``tests/test_benchmarks_smoke.py``
checks this equals), so the peers time the very phase pytest-gil times."""


@dataclasses.dataclass(frozen=True)
class PeerWorkload:
    """One phase of the question for the peers (``peer_workloads``): ``tasks`` calls of
    ``fn(arg)`` serially, on ``tasks`` threads, or on a pool of ``workers`` processes.
    ``arg`` ``None`` stands for the run's calibrated ``calc`` size."""

    fn: str
    arg: float | int | None
    tasks: int
    workers: int
    executor: str

    def resolved(self, calc_n: int) -> PeerWorkload:
        return self if self.arg is not None else dataclasses.replace(self, arg=calc_n)


@dataclasses.dataclass(frozen=True)
class Question:
    """A question: its text, the answer each hypothesis of its check gives when confirmed
    (``answers``: hypothesis → answer), whether it needs the delivered capacity (CPU-bound
    scaling: the first such check of a session measures it), and its workload for the peers
    (``peer``, or ``peer_same_as`` another question's) with the answer their "serialized" /
    "parallel" maps to (``peer_answers``)."""

    id: str
    text: str
    answers: Mapping[str, str]
    needs_capacity: bool
    peer: PeerWorkload | None
    peer_answers: Mapping[str, str]
    peer_same_as: str | None = None
    peer_note: str = ""


_SCALING = {"serialized": "serialized", "parallel": "parallel"}

QUESTIONS: dict[str, Question] = {q.id: q for q in (
    Question("threads", f"{WORKERS} threads × calc", _SCALING, True,
             PeerWorkload("calc", None, WORKERS, WORKERS, "thread"), _SCALING),
    Question("processes", f"{WORKERS} processes × calc", _SCALING, True,
             PeerWorkload("calc", None, WORKERS * POOL_TASKS_PER_WORKER, WORKERS, "process"),
             _SCALING),
    Question("sleep", f"{SLEEPERS} sleeping threads",
             {"parallel": "overlap", "serialized": "no overlap"}, False,
             PeerWorkload("worker", SLEEP, SLEEPERS, SLEEPERS, "thread"),
             {"parallel": "overlap", "serialized": "no overlap"}),
    Question("release", "releases_gil: sha256 over 4 MiB",
             {"releases": "releases", "holds": "holds"}, False,
             PeerWorkload("sha256_work", SHA256_BYTES, WORKERS, WORKERS, "thread"),
             {"parallel": "releases", "serialized": "holds"},
             peer_note="asked as: do 2 threads hashing beat 2 hashes in a row?"),
    Question("hold", "releases_gil: a pure-Python loop",
             {"releases": "releases", "holds": "holds"}, False, None,
             {"parallel": "releases", "serialized": "holds"}, peer_same_as="threads",
             peer_note="asked as: do 2 threads of a pure-Python loop beat 2 calls in a row? "
                       "— the threads question's run"),
)}


def expected_answers(profile: Mapping[str, Any]) -> dict[str, str | None]:
    """The answer each question should get on this runtime (``None``: not testable here —
    one usable CPU, or the GIL disabled for the release questions)."""
    cpus = int(profile.get("usable_cpus") or 1)
    gil = bool(profile.get("gil_enabled", True))
    multi = cpus >= WORKERS
    return {
        "threads": None if not multi else ("serialized" if gil else "parallel"),
        "processes": "parallel" if multi else None,
        "sleep": "overlap",
        "release": "releases" if gil and multi else None,
        "hold": "holds" if gil and multi else None,
    }
