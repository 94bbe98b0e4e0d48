"""``pytest_gil.runners``: the runners' public names, kept at their documented import path.

The runners live in :mod:`pytest_gil.runtimes` since 0.2.0; this module re-exports what
``from pytest_gil.runners import …`` gave before (see CHANGELOG.md).
"""

from __future__ import annotations

from .runtimes.faults import WorkerDied, WorkerError, check_picklable
from .runtimes.tasks import run_tasks, warm_executor
from .runtimes.threads import ThreadRunner, ThreadStopped
from .runtimes.timeline import TaskRecord, Timeline

__all__ = [
    "TaskRecord",
    "ThreadRunner",
    "ThreadStopped",
    "Timeline",
    "WorkerDied",
    "WorkerError",
    "check_picklable",
    "run_tasks",
    "warm_executor",
]
