"""The one measurement loop: paired rounds until the sequential test decides.

Every statistical check of pytest-gil — scaling, overlap, ``releases_gil``, parallelism,
fairness, wake-up latency, and a user's own :func:`~pytest_gil.measure_rounds` — is a
:class:`Design` run by :func:`run_rounds`.  A design knows how to run *one round* of its
experiment and which signals it yields; this loop owns everything else, in one place:

* **warm-up**: the design's :meth:`Design.warm_up` runs first (by default one round of the
  experiment, recorded and discarded: first calls, caches, pool start-up);
* **order alternation**: the round counter gives ``flipped`` in the ABBA pattern
  (``False, True, True, False, …``), which cancels a linear drift within each 4 rounds; the
  design runs its phases in the reverse order when ``flipped``;
* **noise**: machine counters are read before and after each round
  (:mod:`pytest_gil.noise`); a suspect round is excluded and counted, and a check where more
  than :data:`SUSPECT_MAX_FRACTION` of at least :data:`NOISE_STOP_MIN_ROUNDS` rounds were
  disturbed stops as inconclusive;
* **budget**: before each round, the time spent so far plus the median duration of the
  rounds run so far (the warm-up included) must fit in the budget, else the check stops;
* **looks**: each clean round is added to the :class:`~pytest_gil.stats.SequentialTest`, which
  looks at its scheduled round counts and stops at the first decision or the last look; every
  look is kept (the report draws the interval narrowing);
* **GIL state**: a round during which the GIL state changed (an import re-enabled it on a
  free-threaded build), or that ran under another state than the first, stops the check as
  inconclusive — rounds under different runtimes cannot be pooled; the GIL monitor's account
  of the measurement (:mod:`pytest_gil.gilstate`) is attached, and
  a measurement after an import re-enabled the GIL fails (unless
  ``--gil-allow-gil-reenabled``);
* **exclusivity**: the run's measurement lock (:func:`pytest_gil.settings.exclusive`) is held
  throughout, so two measurements never time each other;
* **reasons**: why the loop stopped is a :class:`Stop` code plus a sentence a person acts on.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import noise, settings
from ..gilstate import gil_enabled, monitor

if TYPE_CHECKING:
    from ..stats import Interval, Outcome, SequentialTest

__all__ = [
    "MAX_ROUNDS_FACTOR",
    "NOISE_STOP_MIN_ROUNDS",
    "SUSPECT_MAX_FRACTION",
    "Design",
    "Look",
    "MeasuredRound",
    "Round",
    "RoundsRun",
    "Stop",
    "flipped",
    "run_rounds",
]

SUSPECT_MAX_FRACTION = 0.5
"""More than this share of suspect rounds ends a check as inconclusive: most of what could be
measured was disturbed, so excluding the disturbed rounds would leave a biased remainder."""

NOISE_STOP_MIN_ROUNDS = 6
"""Rounds to run before the suspect share may end a check: two first looks' worth (2 × 3), so
a single disturbed round at the start (a cron job) does not end it."""

MAX_ROUNDS_FACTOR = 2
"""At most this many times the last look's round count are run in total (clean + suspect): a
machine that disturbs every other round gets twice the rounds, not unlimited ones."""


def flipped(index: int) -> bool:
    """The ABBA order of measured round ``index`` (1-based): rounds 1 and 4 of each block of
    four run the phases in the design's order, rounds 2 and 3 reversed."""
    return (index - 1) % 4 in (1, 2)


@dataclasses.dataclass(frozen=True)
class Round:
    """What one round of a design returns.

    * ``values``: one positive ratio per signal of the design (``{"speedup": 1.9}``);
    * ``record``: raw figures for the report (times, CPU seconds, …; plain JSON types);
    * ``other_cpu``: CPU seconds the work spent in *other* processes (pool workers), which the
      noise reading must not count as foreign load;
    * ``serial_cpu_ratio``: CPU/wall of a phase that should own a core (a serial phase), for
      the noise criteria of CPU-bound work;
    * ``gil_enabled`` / ``gil_changed``: the GIL state the round observed (``None``: the loop
      reads it after the round).
    """

    values: Mapping[str, float]
    record: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    other_cpu: float = 0.0
    serial_cpu_ratio: float | None = None
    gil_enabled: bool | None = None
    gil_changed: bool = False


@dataclasses.dataclass(frozen=True)
class MeasuredRound:
    """A round as the loop saw it: the design's :class:`Round` plus its noise reading, order,
    duration and whether (and why) it was excluded."""

    index: int  # 0 = warm-up
    flipped: bool
    values: Mapping[str, float]
    record: Mapping[str, Any]
    noise: noise.NoiseReading
    gil_enabled: bool
    gil_changed: bool
    seconds: float
    excluded: str = ""  # why the round was not used ("" = used)

    @property
    def warmup(self) -> bool:
        return self.index == 0

    @property
    def suspect(self) -> bool:
        return self.noise.suspect

    def to_dict(self) -> dict[str, Any]:
        def r(x: float) -> float | None:
            return round(x, 6) if math.isfinite(x) else None

        return {
            **dict(self.record),
            "values": {k: r(v) for k, v in self.values.items()},
            "flipped": self.flipped,
            "warmup": self.warmup,
            "suspect": self.suspect,
            "excluded": self.excluded,
            "seconds": round(self.seconds, 6),
            "gil_enabled": self.gil_enabled,
            "noise": self.noise.to_dict(),
        }


class Stop(str, enum.Enum):
    """Why the loop stopped."""

    DECIDED = "decided"
    LAST_LOOK = "last-look"
    BUDGET = "budget"
    NOISY = "noisy"
    GIL_CHANGED = "gil-changed"
    TOO_FEW_CLEAN = "too-few-clean"
    CAPACITY_FELL = "capacity-fell"
    """Set after the loop: the machine's capacity fell during the check
    (:func:`pytest_gil.engine.capacity.recheck_refutation`)."""
    MACHINE_SLOWED = "machine-slowed"
    """Set after the loop: workers that share nothing kept the CPUs busy while the speedup
    fell short — the machine did less per CPU-second
    (:func:`pytest_gil.engine.capacity.recheck_refutation`)."""
    NOT_REPLICATED = "not-replicated"
    """Set after the loop: a refutation the CPU-time bound did not back was not repeated by
    a second check right after (:func:`pytest_gil.engine.capacity.recheck_refutation`)."""

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Look:
    """One scheduled look of the sequential test: the verdicts and intervals it saw."""

    n: int
    verdicts: Mapping[str, str]
    intervals: Mapping[str, Interval]
    routes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "verdicts": {k: str(v) for k, v in self.verdicts.items()},
                "routes": dict(self.routes),
                "intervals": {k: iv.to_dict() for k, iv in self.intervals.items()}}


@dataclasses.dataclass(frozen=True)
class RoundsRun:
    """What :func:`run_rounds` found: the sequential test's outcome, every round, why it
    stopped, and the GIL's account."""

    outcome: Outcome
    test: SequentialTest
    rounds: tuple[MeasuredRound, ...]
    stop: Stop
    reason: str
    elapsed: float
    gil_enabled: bool
    gil_changed: bool
    gil: Mapping[str, Any]
    looks: tuple[Look, ...]

    @property
    def n(self) -> int:
        """Clean rounds used by the test."""
        return self.test.n

    @property
    def suspect(self) -> int:
        """Measured rounds excluded (noise, nothing measured)."""
        return sum(1 for r in self.rounds if not r.warmup and r.excluded)

    def used(self) -> list[MeasuredRound]:
        """The rounds the test used."""
        return [r for r in self.rounds if not r.warmup and not r.excluded]

    def verdicts(self) -> dict[str, str]:
        """Per hypothesis; all inconclusive when the GIL state changed mid-check."""
        if self.stop is Stop.GIL_CHANGED:
            return {c: "inconclusive" for c in self.outcome.verdicts}
        return {c: str(v) for c, v in self.outcome.verdicts.items()}


class Design:
    """One experiment the loop can repeat.  Subclasses implement :meth:`round` and
    :meth:`sequential_test`; the defaults of the rest suit most designs.

    ``cpu_bound`` selects the noise criteria: ``True`` judges foreign load and the serial
    phase's share of a core (work that computes), ``False`` or ``None`` only steal and
    throttling (work that waits, or that has no serial phase).  It may be set by
    :meth:`warm_up`, which runs before :meth:`sequential_test` is asked for.
    """

    label: str = "measurement"
    cpu_bound: bool | None = None

    def warm_up(self) -> Round | None:
        """Run before the measured rounds; the returned round is recorded as round 0 and
        discarded.  Default: one round of the experiment."""
        return self.round(0, False)

    def sequential_test(self) -> SequentialTest:  # pragma: no cover - abstract
        raise NotImplementedError

    def round(self, index: int, flipped: bool) -> Round:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclasses.dataclass
class _State:
    """The loop's running state (one object, so the steps stay small functions)."""

    design: Design
    test: SequentialTest
    budget: float
    t_begin: float
    rounds: list[MeasuredRound]
    gil_ref: bool
    outcome: Outcome | None = None
    stop: Stop | None = None
    reason: str = ""

    @property
    def measured(self) -> int:
        return sum(1 for r in self.rounds if not r.warmup)

    @property
    def suspect(self) -> int:
        return sum(1 for r in self.rounds if not r.warmup and r.excluded)


def _measure(design: Design, index: int, flip: bool) -> MeasuredRound | None:
    """Run one round of ``design`` (round 0: its warm-up) between two noise snapshots."""
    gil_before = gil_enabled()
    t0 = time.perf_counter()
    before = noise.snapshot()
    r = design.round(index, flip) if index else design.warm_up()
    after = noise.snapshot()
    seconds = time.perf_counter() - t0
    if r is None:
        return None
    reading = noise.reading(before, after, other_cpu=r.other_cpu,
                            serial_cpu_ratio=r.serial_cpu_ratio,
                            cpu_bound=bool(design.cpu_bound))
    gil_after = gil_enabled() if r.gil_enabled is None else r.gil_enabled
    changed = r.gil_changed or gil_after != gil_before
    values = {k: float(v) for k, v in r.values.items()}
    return MeasuredRound(index, flip, values, dict(r.record), reading, gil_after, changed,
                         seconds)


def _exclusion(r: MeasuredRound, signals: Sequence[str]) -> str:
    if r.suspect:
        return "noise: " + "; ".join(r.noise.reasons)
    missing = [s for s in signals if s not in r.values]
    if missing:
        raise ValueError(f"the round gave no value for {', '.join(missing)} "
                         f"(signals: {', '.join(signals)})")
    bad = [s for s in signals if not (r.values[s] > 0 and math.isfinite(r.values[s]))]
    return f"nothing measured ({', '.join(bad)} not a positive number)" if bad else ""


def _over_budget(st: _State) -> bool:
    durations = [r.seconds for r in st.rounds]
    estimate = statistics.median(durations) if durations else 0.0
    spent = time.perf_counter() - st.t_begin
    if spent + estimate <= st.budget:
        return False
    st.stop = Stop.BUDGET
    st.reason = (f"time budget of {st.budget:g} s ran out after {st.test.n} clean rounds "
                 f"(a round takes ~{estimate:.2f} s)")
    return True


def _add(st: _State, r: MeasuredRound) -> None:
    """Record a measured round; feed the test; stop on a GIL change, a decision, noise or
    the round cap."""
    if r.gil_changed or r.gil_enabled != st.gil_ref:
        st.rounds.append(r)
        st.stop = Stop.GIL_CHANGED
        st.reason = ("the GIL state changed during the check (an import re-enabled it?): "
                     "rounds under different runtimes cannot be pooled")
        return
    why = _exclusion(r, st.test.signals)
    r = dataclasses.replace(r, excluded=why)
    st.rounds.append(r)
    if not why:
        st.test.add(**{s: r.values[s] for s in st.test.signals})
        out = st.test.look()
        if out is not None:
            st.outcome = out
            st.stop = Stop.DECIDED if not out.reason else Stop.LAST_LOOK
            st.reason = out.reason
            return
    i, suspect = st.measured, st.suspect
    if i >= NOISE_STOP_MIN_ROUNDS and suspect > SUSPECT_MAX_FRACTION * i:
        st.stop = Stop.NOISY
        st.reason = (f"machine too noisy: {suspect} of {i} rounds were disturbed "
                     f"({summarise_noise(st.rounds)}); the clean remainder would be biased")
    elif i >= MAX_ROUNDS_FACTOR * st.test.max_rounds:
        st.stop = Stop.TOO_FEW_CLEAN
        st.reason = f"only {st.test.n} clean rounds in {i} ({suspect} disturbed)"


_FLAG_WORDS = {
    "foreign": "foreign load",
    "steal": "CPU steal",
    "throttled": "cgroup throttling",
    "serial-cpu": "serial phase short of a core",
}


def summarise_noise(rounds: Sequence[MeasuredRound]) -> str:
    """``foreign load ×5 (mean 0.98 CPU), CPU steal ×1`` for the excluded rounds."""
    excluded = [r for r in rounds if not r.warmup and r.excluded]
    counts: Counter[str] = Counter()
    for r in excluded:
        counts.update(r.noise.flags or ("nothing measured",))
    parts = []
    for flag, n in counts.most_common():
        text = f"{_FLAG_WORDS.get(flag, flag)} ×{n}"
        if flag == "foreign":
            vals = [r.noise.foreign_cpu for r in excluded
                    if r.noise.foreign_cpu is not None and "foreign" in r.noise.flags]
            if vals:
                text += f" (mean {sum(vals) / len(vals):.2f} CPU)"
        parts.append(text)
    return ", ".join(parts) or "no reason recorded"


def run_rounds(design: Design, *, budget: float) -> RoundsRun:
    """Run ``design`` round by round until its sequential test stops (see the module doc).

    Holds the run's measurement lock and the GIL monitor's measurement context; after the
    loop, a measurement that ran with a GIL an import re-enabled fails (unless
    ``--gil-allow-gil-reenabled``).
    """
    if not budget > 0:
        raise ValueError(f"budget must be a positive number of seconds, got {budget!r}")
    from .. import stats  # noqa: F401  (numpy and scipy load here, not inside a round)

    with monitor().measurement(design.label) as gil, settings.exclusive():
        run = _loop(design, budget)
    note = gil.note()
    gil_dict = {**gil.to_dict(), "enabled": run.gil_enabled, "changed": run.gil_changed}
    reason = "; ".join(part for part in (run.reason, note) if part)
    run = dataclasses.replace(run, gil=gil_dict, reason=reason)
    gil.enforce()
    return run


def _loop(design: Design, budget: float) -> RoundsRun:
    t_begin = time.perf_counter()
    gil_start = gil_enabled()
    warm = _measure(design, 0, False)
    test = design.sequential_test()  # after the warm-up: it may depend on what it saw
    gil_ref = warm.gil_enabled if warm is not None else gil_start
    st = _State(design, test, budget, t_begin, [warm] if warm else [], gil_ref)
    warm_changed = warm is not None and warm.gil_changed
    gil_changed = warm_changed
    i = 0
    while st.stop is None and not _over_budget(st):
        i += 1
        r = _measure(design, i, flipped(i))
        assert r is not None  # a measured round always returns one
        _add(st, r)
    if st.stop is Stop.GIL_CHANGED:
        gil_changed = True
    outcome = st.outcome if st.outcome is not None else test.outcome(st.reason)
    reason = st.reason
    if reason and st.suspect and st.stop is not Stop.NOISY:
        reason += f"; {st.suspect} disturbed rounds excluded ({summarise_noise(st.rounds)})"
    if warm_changed:
        reason = "; ".join(p for p in (reason, "the GIL state changed during the warm-up "
                                       f"(the measured rounds ran with the GIL "
                                       f"{'enabled' if st.gil_ref else 'disabled'})") if p)
    stop = st.stop if st.stop is not None else Stop.BUDGET
    looks = tuple(Look(o.n, dict(o.verdicts), dict(o.intervals), dict(o.routes))
                  for o in test.history)
    return RoundsRun(outcome, test, tuple(st.rounds), stop, reason,
                     time.perf_counter() - t_begin, st.gil_ref, gil_changed, {}, looks)


class FunctionDesign(Design):
    """A :class:`Design` from a plain function ``round_fn(index, flipped) -> Round | dict``
    (what :func:`pytest_gil.measure_rounds` runs)."""

    def __init__(self, round_fn: Callable[[int, bool], Round | Mapping[str, float]],
                 make_test: Callable[[], SequentialTest], *, label: str,
                 cpu_bound: bool | None, warmup: bool) -> None:
        self._fn = round_fn
        self._make_test = make_test
        self.label = label
        self.cpu_bound = cpu_bound
        self._warmup = warmup

    def warm_up(self) -> Round | None:
        return self.round(0, False) if self._warmup else None

    def sequential_test(self) -> SequentialTest:
        return self._make_test()

    def round(self, index: int, flipped: bool) -> Round:
        r = self._fn(index, flipped)
        if isinstance(r, Round):
            return r
        if isinstance(r, Mapping):
            return Round(values=dict(r))
        raise TypeError(f"a round function must return a pytest_gil.Round or a dict of "
                        f"ratios, got {type(r).__name__}")
