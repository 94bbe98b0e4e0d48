"""Where work runs: serially, in threads released together, in process pools and in
sub-interpreters — one interface, :func:`run_tasks`, returning a :class:`Timeline`.

* :mod:`.tasks` — :func:`run_tasks` / :func:`run_calls`, warming pools;
* :mod:`.threads` — :class:`ThreadRunner` and stopping threads a timeout left running;
* :mod:`.timeline` — :class:`TaskRecord`, :class:`Timeline`, the timed call;
* :mod:`.faults` — counts, picklability, :class:`WorkerError`, :class:`WorkerDied`;
* :mod:`.pools` — the fixtures' executors and their teardown;
* :mod:`.subinterp` — the sub-interpreter executor (CPython 3.12+).
"""

from __future__ import annotations

from .faults import WorkerDied, WorkerError, check_picklable
from .tasks import run_calls, run_tasks, warm_executor
from .threads import ThreadRunner, ThreadStopped, task_calls
from .timeline import TaskRecord, Timeline

__all__ = [
    "TaskRecord",
    "ThreadRunner",
    "ThreadStopped",
    "Timeline",
    "WorkerDied",
    "WorkerError",
    "check_picklable",
    "run_calls",
    "run_tasks",
    "task_calls",
    "warm_executor",
]
