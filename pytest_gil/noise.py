"""Machine noise, read once per measured round.

A timing is only as good as the CPU the measured code actually got.  Each round takes a
:class:`Snapshot` before and after and turns the pair into a :class:`NoiseReading`:

* **foreign CPU** (in CPUs): busy time of the CPUs we may run on (our affinity mask) from
  ``/proc/stat`` (user, nice, system, irq, softirq, steal; guest time is already inside
  user) minus our own CPU time
  (``time.process_time()``, plus the CPU of children we reaped — ``RUSAGE_CHILDREN``, e.g. a
  ``subprocess`` a measured function ran — plus the CPU time tasks report from live pool
  workers, which ``RUSAGE_CHILDREN`` cannot see), divided by the round's wall time;
* **steal** fraction: steal jiffies / all jiffies (a hypervisor gave our vCPUs to someone
  else);
* **throttled**: the cgroup's ``cpu.stat`` ``nr_throttled`` grew (v2: ``throttled_usec`` too;
  v1: ``throttled_time``), in our cgroup or a parent (a parent's quota limits us too);
* the **runnable** count of ``/proc/loadavg`` (recorded, not judged: it includes our own
  threads);
* the **serial phase's CPU/wall** ratio, supplied by the engine: the share of a core the
  serial phase got.

A round is *suspect* (``NoiseReading.suspect``) when, as in ``MEASURING.md``:

* serial CPU/wall < 0.9 for CPU-bound work — the serial phase, which should own a core,
  waited for one more than 10% of the time (measured 0.98–1.01 on a quiet machine);
* foreign CPU > 0.25 CPU, after subtracting the tick quantisation (below) — one busy
  background process reads ≈ 1.0 CPU and pushed a 2-process speedup from ~1.9 to 1.34–1.40
  on 2 CPUs; a quarter of a CPU is well above the ~0.02 a quiet machine shows;
* steal > 5% of all CPU time;
* any cgroup throttling during the round.

Quantisation: ``/proc/stat`` counts in ticks (``SC_CLK_TCK``, usually 100 Hz); each CPU's
counter can be off by one tick at each end of an interval, so the all-CPU busy delta is
uncertain by up to ``n_cpus / CLK_TCK`` seconds.  The foreign reading is reported as
measured, and the suspect test uses ``foreign − n_cpus / (CLK_TCK · wall)``: only load that
is certainly above the threshold marks a round.

In a container whose cgroup CPU quota is smaller than its CPU set (a 2-CPU quota on a
64-CPU host) the CPUs' busy time is mostly other containers', which reach us only through
the quota: there the foreign and steal readings are ``None`` and throttling plus the serial
CPU share decide.  Where ``/proc`` does not exist (macOS, Windows) every reading is ``None``
and nothing is suspect: the statistics alone must then carry the verdict.

How much of this gating a platform allows is :func:`gating` — ``"available"``,
``"partial: …"`` or ``"unavailable: …"`` — which the runtime profile reports
(``noise_gating``) and every reading carries (``NoiseReading.gating``).  Each source degrades
on its own, explicitly: no ``/proc/stat`` → foreign CPU and steal ``None``; no readable
cgroup ``cpu.stat`` → throttling ``None``; no ``/proc/loadavg`` → runnable ``None``; no
``os.sched_getaffinity`` → all CPUs are counted; no ``resource`` module (Windows) → the CPU
of reaped children is not added to ours; no ``os.sysconf`` → 100 ticks a second; no
``/proc/thread-self/schedstat`` → :func:`thread_schedstat` is ``None``.  Every path is a
module constant (:data:`PROC_STAT`, …), so a test can point it elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

__all__ = [
    "CGROUP_ROOT",
    "FOREIGN_CPU_MAX",
    "GATING_AVAILABLE",
    "PROC_LOADAVG",
    "PROC_SELF_CGROUP",
    "PROC_STAT",
    "SCHEDSTAT",
    "SERIAL_CPU_MIN",
    "STEAL_MAX",
    "NoiseReading",
    "Snapshot",
    "gating",
    "reading",
    "runnable",
    "snapshot",
    "thread_schedstat",
]

SERIAL_CPU_MIN = 0.9
"""A CPU-bound serial phase below this CPU/wall ratio waited for a core (quiet: 0.98–1.01)."""

FOREIGN_CPU_MAX = 0.25
"""CPUs of others' work during a round above which the round is suspect (quiet: ~0.02; one
busy process: ~1.0)."""

STEAL_MAX = 0.05
"""Fraction of CPU time stolen by the hypervisor above which a round is suspect."""

PROC_STAT = Path("/proc/stat")
PROC_LOADAVG = Path("/proc/loadavg")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SCHEDSTAT = Path("/proc/thread-self/schedstat")
# The files noise (and the profile) read: read at call time, never bound as default
# arguments, so tests (tests/test_platforms.py) can point them at missing files to simulate
# macOS and Windows.

GATING_AVAILABLE = "available"
"""The value of :func:`gating` where every noise criterion can be judged."""


def _clk_tck() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100  # the Linux USER_HZ on every mainstream architecture


_CLK_TCK = _clk_tck()


def _children_cpu() -> float:
    """CPU seconds of our terminated, waited-for children (``RUSAGE_CHILDREN``); 0 where the
    ``resource`` module does not exist (Windows): there a ``subprocess`` a measured function
    ran is not counted as ours — which matters only where ``/proc/stat`` exists to count it
    as foreign, and it does not on Windows."""
    try:
        import resource
    except ImportError:
        return 0.0
    try:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    except (AttributeError, OSError, ValueError):
        return 0.0
    return float(ru.ru_utime + ru.ru_stime)


def _own_cpu() -> float:
    """CPU seconds of this process plus its terminated, waited-for children."""
    return time.process_time() + _children_cpu()


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Counters at one instant.  ``busy``/``steal``/``total`` in seconds summed over all CPUs
    (None without ``/proc/stat``); ``throttled_*`` summed over our cgroup and its parents (None
    without a readable ``cpu.stat``)."""

    wall: float
    own_cpu: float
    busy: float | None
    steal: float | None
    total: float | None
    n_cpus: int | None
    throttled_periods: int | None
    throttled_usec: float | None
    runnable: int | None
    gating: str | None = None
    """:func:`gating` when the snapshot was taken (``None``: derive it from the readings)."""


def _fields(line: str) -> tuple[float, float, float] | None:
    try:
        f = [int(x) for x in line.split()[1:]]
    except ValueError:
        return None
    f += [0] * (8 - len(f))
    # user nice system idle iowait irq softirq steal [guest guest_nice] (guest ⊂ user)
    user, nice, system, idle, iowait, irq, softirq, steal = f[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, steal, busy + idle + iowait


def _read_proc_stat(path: Path | None = None, cpus: frozenset[int] | None = None
                    ) -> tuple[float, float, float, int] | None:
    """(busy, steal, total) seconds and the number of CPUs counted: the CPUs in ``cpus``
    (our affinity mask) when given and listed, else all CPUs (the aggregate line).  ``None``
    without a readable ``/proc/stat`` (macOS, Windows)."""
    try:
        text = (path or PROC_STAT).read_text()
    except OSError:
        return None
    lines = text.splitlines()
    if not lines or not lines[0].startswith("cpu "):
        return None
    per_cpu = {int(ln[3:].split()[0]): ln for ln in lines[1:]
               if ln.startswith("cpu") and ln[3:4].isdigit()}
    chosen = [per_cpu[c] for c in sorted(cpus or ()) if c in per_cpu]
    if cpus and len(chosen) == len(cpus) and len(chosen) < len(per_cpu):
        sums = [0.0, 0.0, 0.0]
        for ln in chosen:
            f = _fields(ln)
            if f is None:
                return None
            sums = [a + b for a, b in zip(sums, f, strict=True)]
        busy, steal, total, n = sums[0], sums[1], sums[2], len(chosen)
    else:
        agg = _fields(lines[0])
        if agg is None:
            return None
        busy, steal, total = agg
        n = max(len(per_cpu), 1)
    return busy / _CLK_TCK, steal / _CLK_TCK, total / _CLK_TCK, n


def _affinity() -> frozenset[int] | None:
    """The CPUs we may run on; ``None`` without ``os.sched_getaffinity`` (macOS, Windows):
    then every CPU of ``/proc/stat`` is counted."""
    get = getattr(os, "sched_getaffinity", None)
    if get is None:
        return None
    try:
        return frozenset(get(0))
    except OSError:
        return None


def _quota_below_affinity() -> bool:
    """True when a cgroup CPU quota is smaller than our CPU set (a container on a bigger
    host): the CPUs' busy time then includes other containers' work that competes with us
    only through the quota, which ``cpu.stat`` throttling reports — not a foreign load."""
    try:
        from .profile import cgroup_cpu_limit
    except ImportError:  # pragma: no cover - profile is part of the package
        return False
    limit = cgroup_cpu_limit()
    cpus = _affinity()
    n = len(cpus) if cpus else (os.cpu_count() or 1)
    return limit is not None and limit < n


def _cgroup_stat_files(root: Path | None = None) -> list[Path]:
    """``cpu.stat`` files of our cgroup and its parents (v2 unified and v1 ``cpu``); ``[]``
    without ``/proc/self/cgroup`` (macOS, Windows) or a cgroup tree."""
    root = root or CGROUP_ROOT
    try:
        text = PROC_SELF_CGROUP.read_text()
    except OSError:
        return []
    out: list[Path] = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":
            bases = [root, root / "unified"]
        elif "cpu" in controllers.split(","):
            bases = [root / controllers, root / "cpu,cpuacct", root / "cpu"]
        else:
            continue
        for base in bases:
            if not base.is_dir():
                continue
            d = base / rel.lstrip("/")
            while True:
                f = d / "cpu.stat"
                if f.is_file() and f not in out:
                    out.append(f)
                if d == base or d.parent == d:
                    break
                d = d.parent
            break
    return out


def _read_throttling(files: list[Path]) -> tuple[int, float] | None:
    if not files:
        return None
    periods, usec, found = 0, 0.0, False
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for ln in text.splitlines():
            key, _, val = ln.partition(" ")
            try:
                if key == "nr_throttled":
                    periods += int(val)
                    found = True
                elif key == "throttled_usec":  # v2
                    usec += float(val)
                elif key == "throttled_time":  # v1, nanoseconds
                    usec += float(val) / 1000.0
            except ValueError:
                continue
    return (periods, usec) if found else None


def runnable(path: Path | None = None) -> int | None:
    """The number of runnable tasks on the machine (``/proc/loadavg``'s fourth field, ours
    included); ``None`` where the file does not exist (macOS, Windows)."""
    try:
        return int((path or PROC_LOADAVG).read_text().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


@dataclasses.dataclass
class _Setup:
    """What :func:`snapshot` reads, found once per process and CPU affinity (a test may pin
    the process to other CPUs: the readings then follow the new mask)."""

    stat_files: list[Path]
    cpus: frozenset[int] | None
    judge_foreign: bool
    paths: tuple[Path, ...]
    """The paths the setup was found with: a test pointing them elsewhere gets a new one."""
    gating: str = GATING_AVAILABLE


_setup: _Setup | None = None


def _paths() -> tuple[Path, ...]:
    return (PROC_STAT, PROC_SELF_CGROUP, CGROUP_ROOT)


def _get_setup() -> _Setup:
    global _setup
    cpus = _affinity()  # one system call: cheap enough to read at every snapshot
    paths = _paths()
    if _setup is None or _setup.cpus != cpus or _setup.paths != paths:
        setup = _Setup(_cgroup_stat_files(), cpus, not _quota_below_affinity(), paths)
        setup.gating = _judge_gating(setup)
        _setup = setup
    return _setup


_UNAVAILABLE = ("unavailable: no CPU counters (no /proc/stat, no cgroup cpu.stat) — no round "
                "is excluded as disturbed; the statistics alone carry the verdict")
_NO_PROC_STAT = "foreign CPU and steal unknown (no /proc/stat)"
_QUOTA_BELOW_CPUS = ("foreign CPU and steal not judged (a cgroup CPU quota below the CPU set: "
                     "throttling and the serial CPU share judge)")
_NO_CPU_STAT = "cgroup throttling unknown under a CPU quota (no readable cpu.stat)"


def _judge_gating(setup: _Setup) -> str:
    """What :func:`reading` can judge with these sources (see :func:`gating`)."""
    proc_stat = setup.judge_foreign and _read_proc_stat(cpus=setup.cpus) is not None
    throttling = _read_throttling(setup.stat_files) is not None
    if not proc_stat and not throttling:
        return _UNAVAILABLE
    missing: list[str] = []
    if not proc_stat:
        missing.append(_QUOTA_BELOW_CPUS if not setup.judge_foreign else _NO_PROC_STAT)
    if not throttling and _cgroup_quota() is not None:
        missing.append(_NO_CPU_STAT)  # without a quota nothing can throttle us: not missing
    return f"partial: {'; '.join(missing)}" if missing else GATING_AVAILABLE


def _cgroup_quota() -> float | None:
    try:
        from .profile import cgroup_cpu_limit
    except ImportError:  # pragma: no cover - profile is part of the package
        return None
    return cgroup_cpu_limit()


def gating() -> str:
    """Whether this platform lets a round be excluded as disturbed: ``"available"`` (Linux
    with ``/proc``: foreign CPU, steal, throttling and the serial CPU share are judged),
    ``"partial: <what is missing>"``, or ``"unavailable: <why>"`` (macOS, Windows: no
    counters, no round is ever excluded — the statistics alone carry the verdict).  Found once
    per process and CPU affinity (a few small file reads)."""
    return _get_setup().gating


def snapshot() -> Snapshot:
    """Read every counter now (a few small file reads, ~50 µs on Linux).

    Busy time is summed over the CPUs of our affinity mask (others' work on CPUs we may not
    use does not compete with us).  Under a cgroup CPU quota smaller than that mask (a
    container on a bigger host) the busy time of the CPUs is not ours to judge: ``busy`` is
    then None and throttling and the serial CPU share carry the noise check.
    """
    setup = _get_setup()
    ps = _read_proc_stat(cpus=setup.cpus) if setup.judge_foreign else None
    thr = _read_throttling(setup.stat_files)
    return Snapshot(
        wall=time.perf_counter(),
        own_cpu=_own_cpu(),
        busy=ps[0] if ps else None,
        steal=ps[1] if ps else None,
        total=ps[2] if ps else None,
        n_cpus=ps[3] if ps else None,
        throttled_periods=thr[0] if thr else None,
        throttled_usec=thr[1] if thr else None,
        runnable=runnable(),
        gating=setup.gating,
    )


@dataclasses.dataclass(frozen=True)
class NoiseReading:
    """The noise of one round (``None`` = not measurable on this system)."""

    wall: float
    own_cpu: float
    foreign_cpu: float | None
    steal: float | None
    throttled: bool | None
    throttled_usec: float | None
    runnable: int | None
    serial_cpu_ratio: float | None
    suspect: bool
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    """Stable keys of ``reasons``: ``foreign``, ``steal``, ``throttled``, ``serial-cpu``."""
    gating: str = GATING_AVAILABLE
    """What this round could be judged on: ``"available"``, ``"partial: …"`` or
    ``"unavailable: …"`` (:func:`gating`)."""

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "foreign_cpu": r(self.foreign_cpu),
            "steal": r(self.steal),
            "throttled": self.throttled,
            "throttled_usec": r(self.throttled_usec),
            "runnable": self.runnable,
            "serial_cpu_ratio": r(self.serial_cpu_ratio),
            "suspect": self.suspect,
            "reasons": list(self.reasons),
            "flags": list(self.flags),
            "gating": self.gating,
        }

    def __str__(self) -> str:
        parts = []
        if self.foreign_cpu is not None:
            parts.append(f"foreign {self.foreign_cpu:.2f} CPU")
        if self.steal is not None:
            parts.append(f"steal {self.steal:.1%}")
        if self.throttled:
            parts.append("throttled")
        if self.serial_cpu_ratio is not None:
            parts.append(f"serial CPU/wall {self.serial_cpu_ratio:.2f}")
        text = ", ".join(parts) or "no noise readings on this system"
        if self.gating != GATING_AVAILABLE:
            text += f" (noise gating {self.gating.partition(':')[0]})"
        return f"{text} — suspect: {'; '.join(self.reasons)}" if self.suspect else text


def _cpu_counters(before: Snapshot, after: Snapshot, own: float, wall: float,
                  cpu_bound: bool, why: list[tuple[str, str]]
                  ) -> tuple[float | None, float | None]:
    """Foreign CPU (in CPUs) and the steal fraction, judged into ``why``; ``(None, None)``
    without ``/proc/stat`` counters."""
    b0, b1, t0, t1 = before.busy, after.busy, before.total, after.total
    s0, s1 = before.steal, after.steal
    if b0 is None or b1 is None or t0 is None or t1 is None or s0 is None or s1 is None:
        return None, None
    foreign = ((b1 - b0) - own) / wall
    allowance = (after.n_cpus or 1) / (_CLK_TCK * wall)  # tick quantisation, module doc
    if cpu_bound and foreign - allowance > FOREIGN_CPU_MAX:
        why.append(("foreign", f"foreign load {foreign:.2f} CPU > {FOREIGN_CPU_MAX}"))
    steal = (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
    if steal > STEAL_MAX:
        why.append(("steal", f"steal {steal:.1%} > {STEAL_MAX:.0%}"))
    return foreign, steal


def _throttling(before: Snapshot, after: Snapshot, why: list[tuple[str, str]]
                ) -> tuple[bool | None, float | None]:
    """Whether the cgroup throttled us (and for how long), judged into ``why``."""
    if before.throttled_periods is None or after.throttled_periods is None:
        return None, None
    throttled = after.throttled_periods > before.throttled_periods
    usec = (None if before.throttled_usec is None or after.throttled_usec is None
            else after.throttled_usec - before.throttled_usec)
    if throttled:
        why.append(("throttled", "cgroup CPU throttling"))
    return throttled, usec


def reading(
    before: Snapshot,
    after: Snapshot,
    *,
    other_cpu: float = 0.0,
    serial_cpu_ratio: float | None = None,
    cpu_bound: bool = True,
) -> NoiseReading:
    """Turn two snapshots into a reading.

    ``other_cpu``: CPU seconds our work used in *other* processes (pool workers) during the
    interval.  ``serial_cpu_ratio``: CPU/wall of the serial phase.  ``cpu_bound=False``
    (sleeping/IO work) drops the serial-CPU criterion — waiting work has CPU/wall ≈ 0 — and the
    foreign-CPU criterion: others' computing does not delay a sleep.
    """
    wall = max(after.wall - before.wall, 1e-9)
    own = (after.own_cpu - before.own_cpu) + max(other_cpu, 0.0)
    why: list[tuple[str, str]] = []
    foreign, steal = _cpu_counters(before, after, own, wall, cpu_bound, why)
    throttled, throttled_usec = _throttling(before, after, why)
    if cpu_bound and serial_cpu_ratio is not None and serial_cpu_ratio < SERIAL_CPU_MIN:
        why.append(("serial-cpu",
                    f"serial phase got {serial_cpu_ratio:.2f} CPU/wall < {SERIAL_CPU_MIN}"))
    # Without /proc/stat the serial ratio alone cannot be trusted either way; keep it as a
    # record but judge only where the system gives us counters.
    if foreign is None and throttled is None:
        why = []
    return NoiseReading(
        wall=wall, own_cpu=own, foreign_cpu=foreign, steal=steal, throttled=throttled,
        throttled_usec=throttled_usec, runnable=after.runnable,
        serial_cpu_ratio=serial_cpu_ratio, suspect=bool(why),
        reasons=tuple(r for _, r in why), flags=tuple(f for f, _ in why),
        gating=_reading_gating(after.gating, foreign, throttled),
    )


def _reading_gating(stamped: str | None, foreign: float | None, throttled: bool | None) -> str:
    """The gating of one reading: the platform's (stamped on the snapshot), unless this round
    had no counter at all (then nothing was judged, whatever the platform promised)."""
    if foreign is None and throttled is None:
        return stamped if stamped and stamped.startswith("unavailable") else _UNAVAILABLE
    if stamped is not None:
        return stamped
    return f"partial: {_NO_PROC_STAT}" if foreign is None else GATING_AVAILABLE


def thread_schedstat() -> tuple[float, float] | None:
    """``(seconds on a CPU, seconds waiting in a run queue)`` of the calling thread, from
    ``/proc/thread-self/schedstat`` (Linux with schedstats; ``None`` elsewhere).

    Their sum over an interval is the time the thread *wanted* a CPU: ≈ the wall time for
    computing work however loaded the machine is, ≈ 0 for sleeping or blocked work.  CPU/wall
    alone cannot tell the two apart on a busy machine (computing work then gets a fraction of
    a core too).
    """
    try:
        fields = SCHEDSTAT.read_text().split()
        return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None
