"""Does a function run with the GIL released?  A probe thread tells.

A probe thread runs a tight Python loop (it needs the GIL to run).  In paired rounds the share
of a core it gets is measured alone (the main thread sleeps) and while the main thread calls
``fn`` repeatedly for a window of at least :data:`RELEASE_WINDOW`.  If ``fn`` holds the GIL,
the probe runs only when the switch interval forces a hand-off: about half the time, or less
for a long C call that never lets go.  If ``fn`` releases it — sleeping, waiting, or
computing in C that drops it — the probe runs all the time.

The share is the probe thread's own CPU time per wall second (``pthread_getcpuclockid``):
a thread waiting for the GIL blocks and gets no CPU time, and unlike the probe's iteration
rate, its CPU time does not depend on how fast the machine runs at that moment (a busy
hypervisor, an SMT sibling), so the signal is steady and decides in a few rounds.  Where the
thread's clock is not available, the iteration rate is used instead.

With ``R`` the probe's share beside ``fn`` over its share alone, a share ``f`` of ``fn``'s
time spent with the GIL released gives ``R ≈ (1 + f) / 2``: the signal is ``2R`` (holds ≈ 1,
releases ≈ 2), decided by the sequential test at ideal 2 — "releases" confirmed when ``2R`` is
confidently above ``√2`` (``f`` above ≈ 0.41), "holds" when below.  The released fraction
``f = 2R − 1`` is reported with its interval.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import noise, settings
from ..gilstate import gil_enabled
from .check import Check, Figure, from_run, not_testable, record_check
from .rounds import Design, Round, run_rounds
from .scaling import CPU_BOUND_MIN, WAITING_CPU_MAX, fn_name, make_test

if TYPE_CHECKING:
    from ..profile import RuntimeProfile
    from ..stats import SequentialTest

__all__ = ["RELEASE_CLIP", "RELEASE_WINDOW", "SOLO_CALLS", "GilReleaseResult", "releases_gil"]

RELEASE_WINDOW = 0.030
"""Seconds of repeated ``fn`` calls per window: six 5 ms switch intervals, so the GIL's
alternation between ``fn`` and the probe averages out in a window."""

SOLO_CALLS = 3
"""Solo calls of ``fn`` before measuring: the first may pay for imports and caches; the best
of three is a fair view of one call."""

RELEASE_CLIP = 4.0
"""The scaled probe ratio ``2R`` (holds ≈ 1, releases ≈ 2) is clipped to [1/4, 4]: a probe
starved by a long GIL-holding C call (R → 0, ln R → −∞) or a disturbed solo window would
otherwise dominate the mean and variance; the clip is two octaves beyond the "holds" level and
one beyond "releases", so no value crosses the decision bound √2 by clipping."""


class GilReleaseResult(Check):
    """What :func:`releases_gil` found (a :class:`Check` of kind ``"release"``).

    ``verdict`` is that of the hypothesis ``"releases"``; ``releases`` says the same as a
    ``bool`` or ``None`` (undecided); ``ratio`` is the probe's rate beside ``fn`` over its
    rate alone (≈ 0.5 holds, ≈ 1 releases) and ``released_fraction`` the share of ``fn``'s
    time with the GIL released (``2·ratio − 1``), each with its interval.
    """

    @property
    def releases(self) -> bool | None:
        v = self.verdicts.get("releases")
        return True if v == "confirmed" else False if v == "refuted" else None

    @property
    def ratio(self) -> Figure | None:
        return self.figures.get("release")

    @property
    def released_fraction(self) -> Figure | None:
        r = self.ratio
        if r is None:
            return None
        return Figure("released fraction", 2 * r.value - 1, 2 * r.low - 1, 2 * r.high - 1, "",
                      r.n)

    @property
    def call_seconds(self) -> float:
        return float(self.setup.get("call_seconds", math.nan))

    def __str__(self) -> str:
        fn = self.setup.get("fn", "fn")
        head = {True: f"{fn} releases the GIL", False: f"{fn} holds the GIL",
                None: f"{fn}: undecided whether it releases the GIL"}[self.releases]
        if self.hypothesis != "releases" or "releases" not in self.verdicts:
            head = f"{self.label}: {self.verdict}"
        lines = [head]
        ratio, fraction = self.ratio, self.released_fraction
        if ratio is not None and fraction is not None:
            lines.append(f"  a Python thread beside it kept {ratio} of its solo rate (holds ≈ "
                         f"0.5, releases ≈ 1; decision bound 0.71) — released fraction "
                         f"{fraction.format()} — over {self.rounds} rounds "
                         f"({self.suspect_rounds} disturbed, excluded), {self.elapsed:.2f} s")
        if math.isfinite(self.call_seconds):
            lines.append(f"  one call {self.call_seconds * 1000:.3g} ms, "
                         f"{self.setup.get('tasks')} per window, CPU/wall "
                         f"{self.setup.get('fn_cpu_ratio')}")
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        if self.runtime:
            lines.append(f"  runtime: {self.runtime}")
        return "\n".join(lines)


class _Probe:
    """A thread counting iterations of a tight Python loop (it needs the GIL to count).

    It runs only while a round measures (:meth:`resume` … :meth:`pause`): between rounds it
    waits on an event, so the round loop's own work (noise readings, the statistics) does not
    queue for the GIL behind it — with the probe spinning, each of those steps waited up to a
    switch interval (5 ms) for the GIL, and a round of two 30 ms windows took 180–370 ms."""

    def __init__(self) -> None:
        self.count = [0]
        self.running = True
        self._go = threading.Event()  # set: counting (a round measures); clear: waiting
        self.thread = threading.Thread(target=self._run, name="pytest-gil-probe", daemon=True)
        self._clock: int | None = None

    def _run(self) -> None:
        c, go = self.count, self._go
        while self.running:
            if go.is_set():
                c[0] += 1
            else:
                go.wait()

    def start(self) -> None:
        self.thread.start()
        getclk = getattr(time, "pthread_getcpuclockid", None)
        if getclk is not None and self.thread.ident is not None:
            try:
                self._clock = getclk(self.thread.ident)
            except OSError:
                self._clock = None

    def resume(self) -> None:
        """Let the probe count, and return once it does (it is running before a window)."""
        n0 = self.count[0]
        self._go.set()
        while self.count[0] == n0 and self.thread.is_alive():
            # Releases the GIL for the probe; this thread has it back after one switch
            # interval (~5 ms), the hand-off every window starts with anyway.
            time.sleep(0)

    def pause(self) -> None:
        """Stop counting (the probe blocks on its event and no longer wants the GIL)."""
        self._go.clear()

    def cpu(self) -> float | None:
        if self._clock is None:
            return None
        try:
            return time.clock_gettime(self._clock)
        except OSError:
            return None

    def stop(self) -> None:
        self.running = False
        self._go.set()
        if self.thread.ident is not None:
            self.thread.join()


class ReleaseDesign(Design):
    """One round: a solo window of the probe and a window beside ``fn`` calls."""

    def __init__(self, call: Callable[[], Any], k: int, window: float, label: str,
                 threshold: tuple[str, float] | None = None) -> None:
        self.threshold = threshold  # ("parallel" | "serialized", 1 + fraction) or None
        self.call = call
        self.k = k
        self.window = window
        self.label = label
        self.cpu_bound = True  # the probe should own a core
        self.probe = _Probe()

    def sequential_test(self) -> SequentialTest:
        if self.threshold is not None:
            claim, x = self.threshold
            return make_test(x, ("release",), claim, threshold=x, claims=(claim,))
        return make_test(2.0, ("release",), None)

    def _measured(self, run: Callable[[], None]) -> tuple[float, float | None, float]:
        """(iterations per second, CPU share, seconds) of the probe while ``run()`` runs."""
        p0, n0, w0 = self.probe.cpu(), self.probe.count[0], time.perf_counter()
        run()
        p1, n1, w1 = self.probe.cpu(), self.probe.count[0], time.perf_counter()
        wall = max(w1 - w0, 1e-9)
        share = None if p0 is None or p1 is None else (p1 - p0) / wall
        return (n1 - n0) / wall, share, wall

    def _calls(self) -> None:
        for _ in range(self.k):
            self.call()

    def warm_up(self) -> Round:
        return self.round(0, True)

    def round(self, index: int, flipped: bool) -> Round:
        got: dict[str, tuple[float, float | None, float]] = {}
        self.probe.resume()
        try:
            for which in ("WS" if flipped else "SW"):
                if which == "S":
                    got["S"] = self._measured(lambda: time.sleep(self.window))
                else:
                    got["W"] = self._measured(self._calls)
                    self.window = got["W"][2]
        finally:
            self.probe.pause()
        (rate_s, share_s, _), (rate_w, share_w, _) = got["S"], got["W"]
        if share_s is not None and share_w is not None:
            ratio = share_w / share_s if share_s > 0 else math.nan
        else:
            ratio = rate_w / rate_s if rate_s > 0 else math.nan
        scaled = min(max(2.0 * ratio, 1.0 / RELEASE_CLIP), RELEASE_CLIP) if ratio >= 0 else (
            math.nan)
        record = {"rate_solo": round(rate_s, 1), "rate_with": round(rate_w, 1),
                  "share_solo": None if share_s is None else round(share_s, 4),
                  "share_with": None if share_w is None else round(share_w, 4),
                  "ratio": round(ratio, 4) if math.isfinite(ratio) else None,
                  "order": "WS" if flipped else "SW"}
        return Round({"release": scaled}, record, serial_cpu_ratio=share_s)


def _solo_calls(call: Callable[[], Any]) -> tuple[float, float, bool]:
    """``(fastest call, highest CPU/wall, computes)`` over :data:`SOLO_CALLS` calls.

    Noise only adds time and only lowers CPU/wall (waiting for a core), so the fastest call
    and the highest ratio are kept.  "Computes" is judged by the time the thread wanted a CPU
    (schedstat), which load does not hide; CPU/wall is the fallback.
    """
    best, cpu_ratio, computes = math.inf, 0.0, False
    for _ in range(SOLO_CALLS):
        s0 = noise.thread_schedstat()
        c0, t0 = time.thread_time(), time.perf_counter()
        call()
        wall = max(time.perf_counter() - t0, 1e-9)
        c1, s1 = time.thread_time(), noise.thread_schedstat()
        best = min(best, wall)
        cpu_ratio = max(cpu_ratio, (c1 - c0) / wall)
        if s0 is not None and s1 is not None:
            computes |= (s1[0] - s0[0] + s1[1] - s0[1]) / wall >= CPU_BOUND_MIN
        else:
            computes |= (c1 - c0) / wall >= WAITING_CPU_MAX
    return best, cpu_ratio, computes


def _measure(call: Callable[[], Any], name: str, budget: float | None,
             prof: RuntimeProfile, threshold: tuple[str, float] | None = None
             ) -> GilReleaseResult:
    holds = threshold is not None and threshold[0] == "serialized"
    label = _label(name, threshold)
    base: dict[str, Any] = {"kind": "release", "label": label,
                            "hypothesis": "holds" if holds else "releases",
                            "runtime": prof.label()}
    if not gil_enabled():
        return _result(not_testable(
            **base, hypotheses=("releases", "holds"),
            setup={"executor": "thread", "workers": 2},
            reason="the GIL is disabled (free-threaded build): no thread can hold it, so "
                   "there is nothing to release — threads run in parallel regardless"))
    with settings.exclusive():
        call_s, cpu_ratio, computes = _solo_calls(call)
        k = max(1, math.ceil(RELEASE_WINDOW / call_s))
        setup = {"executor": "thread", "workers": 2, "tasks": k, "fn": name,
                 "call_seconds": call_s, "fn_cpu_ratio": round(cpu_ratio, 4)}
        if prof.usable_cpus < 2 and computes:
            return _result(not_testable(
                **base, hypotheses=("releases", "holds"), setup=setup,
                reason=f"only {prof.usable_cpus} usable CPU and {name} computes (CPU/wall "
                       f"{cpu_ratio:.2f}): C code that releases the GIL and the probe would "
                       "share one core, which looks the same as holding the GIL"))
        design = ReleaseDesign(call, k, k * call_s, label, threshold)
        from .. import stats  # noqa: F401  (imported before the probe competes for the GIL)

        design.probe.start()
        try:
            run = run_rounds(design, budget=settings.resolve_budget(budget))
        finally:
            design.probe.stop()
    v = run.verdicts()
    verdicts = _release_verdicts(v, threshold)
    check = from_run(run, kind="release", label=label, hypothesis=base["hypothesis"],
                     names={"release": ("probe rate beside fn", "× solo")}, key="release",
                     setup=setup, what=f"a Python thread beside {name}", runtime=prof.label())
    scaled = check.figures.get("release")
    figures = {} if scaled is None else {"release": Figure(
        "probe rate beside fn", scaled.value / 2, scaled.low / 2, scaled.high / 2, "× solo",
        scaled.n)}
    if threshold is None:
        bounds = {"releases": {"ideal": 2.0, "confirm": round(math.sqrt(2) / 2, 4),
                               "refute": round(2 ** 0.25 / 2, 4)}}
        bounds["holds"] = {"ideal": 2.0, "confirm": round(math.sqrt(2) / 2, 4),
                           "refute": round(2 ** 0.75 / 2, 4)}
    else:  # the probe-rate ratio at the threshold: R = (1 + f) / 2
        edge = round(threshold[1] / 2, 4)
        bounds = {base["hypothesis"]: {"ideal": 2.0, "confirm": edge, "refute": edge}}
    fields = {**check.fields(), "verdicts": {**verdicts, **v}, "figures": figures,
              "bounds": bounds, "ideal": 2.0}
    return _result(Check(**fields))


def _label(name: str, threshold: tuple[str, float] | None) -> str:
    if threshold is None:
        return f"{name} and the GIL"
    fraction = threshold[1] - 1
    if threshold[0] == "parallel":
        return f"{name} releases the GIL ≥ {fraction:.0%} of its time"
    return f"{name} releases the GIL ≤ {fraction:.0%} of its time"


_FLIP = {"confirmed": "refuted", "refuted": "confirmed"}


def _release_verdicts(v: Mapping[str, str], threshold: tuple[str, float] | None
                      ) -> dict[str, str]:
    """``"releases"`` and ``"holds"`` from the test of ``2R``.  Without a threshold (ideal 2):
    "parallel" (≈ 2) confirmed or "serialized" (≈ 1) refuted → releases; the opposite →
    holds.  With one, the single side tested is the answer (``min_fraction``: releases;
    ``max_fraction``: holds)."""
    if threshold is not None:
        claim = threshold[0]
        return {"releases" if claim == "parallel" else "holds": v[claim]}
    if v["parallel"] == "confirmed" or v["serialized"] == "refuted":
        releases = "confirmed"
    elif v["serialized"] == "confirmed" or v["parallel"] == "refuted":
        releases = "refuted"
    else:
        releases = "inconclusive"
    return {"releases": releases, "holds": _FLIP.get(releases, releases)}


def _result(check: Check) -> GilReleaseResult:
    result = GilReleaseResult(**check.fields())
    record_check(result)
    return result


def releases_gil(
    fn: Callable[..., Any],
    /,
    *fn_args: Any,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    min_fraction: float | None = None,
    max_fraction: float | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
) -> GilReleaseResult:
    """Does ``fn(*args, **kwargs)`` run with the GIL released?  (See the module doc.)

    The verdict of ``"releases"`` is *confirmed* when a Python thread beside ``fn`` kept
    confidently more than ``√2/2 ≈ 0.71`` of its solo rate (a released fraction above ≈ 0.41),
    *refuted* when confidently less; ``"holds"`` is its mirror.  With ``min_fraction=f``,
    ``"releases"`` means "the released fraction is at least ``f``" (confirmed when its lower
    bound is above ``f``, refuted when its upper bound is below); with ``max_fraction=f``,
    ``"holds"`` means "at most ``f``" (one of the two, ``0 < f < 1``).
    It is *not-testable* when the GIL is disabled (a free-threaded build: there is no GIL to
    release) or when only one CPU is usable and ``fn`` computes (releasing C code and the
    probe would share one core); *inconclusive* when too many rounds were disturbed or the
    budget ran out.  The function's arguments go positionally after ``fn`` or as
    ``args=(...)`` / ``kwargs={...}``.
    """
    from ..profile import runtime_profile

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    if fn_args and args is not None:
        raise TypeError("give the function's arguments positionally or as args=(...), not both")
    threshold = _fraction_threshold(min_fraction, max_fraction)
    a = tuple(fn_args) if args is None else tuple(args)
    kw = dict(kwargs or {})

    def call() -> Any:
        return fn(*a, **kw)

    prof = profile if profile is not None else runtime_profile()
    return _measure(call, fn_name(fn), budget, prof, threshold)


def _fraction_threshold(min_fraction: float | None, max_fraction: float | None
                        ) -> tuple[str, float] | None:
    """The sequential test's side and threshold on ``2R = 1 + f`` for a fraction bound."""
    if min_fraction is not None and max_fraction is not None:
        raise TypeError("give min_fraction= or max_fraction=, not both")
    for name, value, claim in (("min_fraction", min_fraction, "parallel"),
                               ("max_fraction", max_fraction, "serialized")):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                0 < value < 1):
            raise ValueError(f"{name} must be a number between 0 and 1 (exclusive), got "
                             f"{value!r}")
        return claim, 1.0 + float(value)
    return None
