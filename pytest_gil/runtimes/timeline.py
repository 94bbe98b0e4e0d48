"""What a phase did: :class:`TaskRecord` per task and :class:`Timeline` per phase, and
:func:`timed_call`, the wrapper every runner puts around a task.

``time.perf_counter`` is system-wide monotonic on Linux, so timestamps taken in different
processes compare; CPU time is the worker thread's own (``time.thread_time``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["TaskRecord", "Timeline", "interpreter_id", "timed_call"]


@dataclasses.dataclass
class TaskRecord:
    """One task: when it ran, on which worker, and the CPU time that worker spent on it."""

    index: int
    start: float
    end: float
    cpu: float
    pid: int
    thread_id: int
    interpreter_id: int = 0
    result: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("result")
        return d


@dataclasses.dataclass
class Timeline:
    """What one phase did: its tasks, wall time, CPU time and GIL state."""

    kind: str
    workers: int
    tasks: list[TaskRecord]
    start: float
    end: float
    cpu: float
    gil_enabled_before: bool
    gil_enabled_after: bool

    @property
    def wall(self) -> float:
        """Seconds from the release of the workers to the last task's result."""
        return self.end - self.start

    @property
    def parallelism(self) -> float:
        """CPU time / wall time: how many CPUs the phase kept busy on average."""
        return self.cpu / self.wall if self.wall > 0 else float("nan")

    @property
    def results(self) -> list[Any]:
        """The tasks' return values, in task order."""
        return [t.result for t in sorted(self.tasks, key=lambda r: r.index)]

    @property
    def gil_changed(self) -> bool:
        return self.gil_enabled_before != self.gil_enabled_after

    @property
    def start_skew(self) -> float:
        """Spread of the first task start per worker: how together the barrier released them."""
        firsts: dict[tuple[int, int, int], float] = {}
        for t in self.tasks:
            key = (t.pid, t.thread_id, t.interpreter_id)
            firsts[key] = min(firsts.get(key, t.start), t.start)
        return max(firsts.values()) - min(firsts.values()) if len(firsts) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "workers": self.workers,
            "wall": self.wall,
            "cpu": self.cpu,
            "parallelism": self.parallelism,
            "gil_enabled_before": self.gil_enabled_before,
            "gil_enabled_after": self.gil_enabled_after,
            "tasks": [t.to_dict() for t in self.tasks],
        }


def interpreter_id() -> int:
    """The id of the (sub-)interpreter running this code; 0 for the main interpreter."""
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            mod = __import__(name)
        except ImportError:
            continue
        cur = mod.get_current()
        if isinstance(cur, tuple):  # 3.13: (id, whence)
            cur = cur[0]
        return int(cur)
    return 0


def timed_call(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[Any, float, float, float, int, int, int]:
    """Run ``fn`` and return ``(result, start, end, cpu, pid, thread_id, interpreter_id)``.

    Module-level so that process pools can pickle it.
    """
    __tracebackhide__ = True
    c0 = time.thread_time()
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    t1 = time.perf_counter()
    c1 = time.thread_time()
    return result, t0, t1, c1 - c0, os.getpid(), threading.get_ident(), interpreter_id()
