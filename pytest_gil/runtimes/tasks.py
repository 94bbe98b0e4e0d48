"""Runners: the same ``k`` tasks, serially, in threads, in processes or in sub-interpreters.

One interface, :func:`run_tasks`, returns a :class:`Timeline`: for each task its start and end
(``time.perf_counter``, which is system-wide monotonic on Linux, so timestamps from different
processes compare), the CPU time its worker spent on it (``time.thread_time``), pid, thread id
and interpreter id; for the phase its wall time, its total CPU time and the GIL state before
and after.

Timing discipline (see docs/DESIGN.md): threads are created first and released together by a
barrier, so thread start-up is outside the measured phase; process pools and sub-interpreter
pools are passed in warm (:func:`warm_executor` imports the task's module in every worker), so
no process spawn and no import happens inside a measured phase.  An exception in a worker is
re-raised as :class:`WorkerError` with the worker's traceback; every thread a runner starts is
joined before it returns.

The checking and re-raising functions set ``__tracebackhide__``, so that pytest's traceback of
a fault ends at the test's own call (``--full-trace`` shows them).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..gilstate import gil_enabled
from ..vocabulary import RUNNER_KINDS
from .faults import (
    WorkerDied,
    WorkerError,
    add_note,
    article,
    check_count,
    check_picklable,
    raise_worker_error,
)
from .threads import Call, ThreadRunner, task_calls
from .timeline import TaskRecord, Timeline, timed_call

__all__ = ["forget_executor", "run_calls", "run_tasks", "warm_executor"]


def _import_modules(names: Sequence[str], hold: float) -> int:
    import importlib

    for name in names:
        importlib.import_module(name)
    # Hold the worker a little, so that the other warm-up calls land on the other workers.
    time.sleep(hold)
    return os.getpid()


_warmed: weakref.WeakKeyDictionary[cf.Executor, set[str]] = weakref.WeakKeyDictionary()
"""Modules imported in every worker, per executor (weak: an executor's id may be reused)."""


def warm_executor(executor: cf.Executor, workers: int, modules: Iterable[str] = ()) -> None:
    """Start every worker of ``executor`` and import ``modules`` in each, before any timing.

    ``concurrent.futures`` pools start workers on demand; ``workers`` calls that each hold
    their worker for 20 ms (well above the ~0.1 ms dispatch cost) make the pool start all of
    them.  Done once per executor and module set.
    """
    mods = sorted(set(modules) - {"__main__"})
    done = _warmed.setdefault(executor, set())
    if done and set(mods) <= done:
        return
    futures = [executor.submit(_import_modules, mods, 0.02) for _ in range(max(1, workers))]
    for f in futures:
        f.result()
    done.update(mods)
    done.add("")


def forget_executor(executor: cf.Executor) -> None:
    """Drop the warm-up bookkeeping of an executor that was shut down."""
    _warmed.pop(executor, None)


# --------------------------------------------------------------------------------------------
# the one interface


def run_tasks(
    kind: str,
    fn: Callable[..., Any],
    *fn_args: Any,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    task_args: Sequence[Sequence[Any]] | None = None,
    tasks: int | None = None,
    workers: int = 1,
    executor: cf.Executor | None = None,
) -> Timeline:
    """Run ``tasks`` calls of ``fn`` on ``workers`` workers of ``kind`` and time them.

    ``kind`` is ``"serial"`` (one after another in this thread), ``"thread"``, ``"process"``
    or ``"interpreter"``.  The function's arguments go positionally after ``fn`` or as
    ``args=(...)`` / ``kwargs={...}`` (so no keyword of ``fn`` is taken for one of ours);
    ``task_args=[(...), ...]`` gives task ``i`` its own positional arguments (``tasks``
    defaults to its length, else to ``workers``).  Process and interpreter kinds need
    ``executor``: a pool with at least ``workers`` workers (``process_pool`` /
    ``executor_factory`` fixtures), warmed here for ``fn``'s module if that was not done;
    threads run on fresh threads released by a barrier, or on ``executor`` when given (a
    ``ThreadPoolExecutor``).

    Faults: an exception in a task raises :class:`WorkerError` with the worker's traceback;
    a worker process that dies raises :class:`WorkerDied`; work that cannot be pickled raises
    ``TypeError`` before anything runs.  When the run is interrupted (timeout, Ctrl-C) the
    threads are stopped and a ``process_pool`` is reset (its workers terminated).
    """
    __tracebackhide__ = True
    if kind not in RUNNER_KINDS:
        raise ValueError(
            f"run_tasks: unknown executor kind {kind!r}; expected one of "
            f"{', '.join(RUNNER_KINDS)}"
        )
    if not callable(fn):
        raise TypeError(f"run_tasks: fn must be callable, got {fn!r}")
    check_count("workers", workers, kind)
    calls = task_calls(fn, fn_args, args, kwargs, task_args, tasks, default_tasks=workers)
    return run_calls(kind, calls, workers=workers, executor=executor)


def run_calls(kind: str, calls: Sequence[Call], *, workers: int = 1,
              executor: cf.Executor | None = None) -> Timeline:
    """Run each of ``calls`` (``(fn, args, kwargs)`` tuples, see :func:`task_calls`) once on
    ``workers`` workers of ``kind``: :func:`run_tasks` without the argument handling."""
    __tracebackhide__ = True
    if kind == "serial":
        return _run_serial(calls)
    if kind == "thread" and executor is None:
        with ThreadRunner() as runner:
            return runner.run_calls(calls, workers)
    if executor is None:
        raise ValueError(
            f"run_tasks({kind!r}) needs a warm executor: pass executor= (the process_pool "
            "or executor_factory fixture gives one)"
        )
    return _run_pool(kind, executor, calls, workers)


def _run_serial(calls: Sequence[Call]) -> Timeline:
    __tracebackhide__ = True
    records = []
    gil_before = gil_enabled()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i, call in enumerate(calls):
        try:
            res = timed_call(*call)
        except Exception as exc:
            raise_worker_error(i, "serial", exc, call[0])
        records.append(TaskRecord(i, *res[1:], result=res[0]))
    t1 = time.perf_counter()
    c1 = time.process_time()
    return Timeline("serial", 1, records, t0, t1, c1 - c0, gil_before, gil_enabled())


def _run_pool(kind: str, executor: cf.Executor, calls: Sequence[Call], workers: int
              ) -> Timeline:
    __tracebackhide__ = True
    if kind != "thread":
        for fn, a, kw in _distinct(calls):
            check_picklable(fn, a, dict(kw), kind)
    managed = executor
    live = getattr(executor, "live_executor", None)  # a ManagedProcessPool: its current pool
    if callable(live):
        executor = live()
    try:
        return _run_on(kind, executor, calls, workers)
    except (WorkerError, ValueError, TypeError):
        raise
    except BaseException as exc:
        # Interrupted, timed out, or a worker died: tasks may still be running in the pool.
        # A managed (session) pool is reset so that later tests get idle workers.
        reset = getattr(managed, "reset", None)
        if callable(reset):
            reset()
            if not isinstance(exc, WorkerDied):
                add_note(
                    exc,
                    f"pytest-gil: the {kind} workers running {_name(calls[0][0])} were "
                    "terminated; the pool starts fresh workers for the next task",
                )
        raise


def _distinct(calls: Sequence[Call]) -> list[Call]:
    """The calls that differ (the same call repeated is checked once)."""
    seen: list[Call] = []
    for c in calls:
        if not any(c is s for s in seen):
            seen.append(c)
    return seen


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _processes(executor: cf.Executor) -> list[Any]:
    procs = getattr(executor, "_processes", None) or {}
    return list(procs.values()) if isinstance(procs, dict) else []


def _describe_exit(code: int) -> str:
    import signal

    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with exit code {code}"


def _how_workers_died(procs: Sequence[Any]) -> str:
    """Which worker processes died and how, e.g. "worker pid 123 killed by signal SIGSEGV"."""
    import signal

    deadline = time.monotonic() + 1.0
    while True:
        codes = [(p.pid, p.exitcode) for p in procs]
        # The pool terminates the other workers (SIGTERM) once one died: leave those out.
        dead = [(pid, c) for pid, c in codes if c is not None and c != -signal.SIGTERM]
        if dead or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if not dead:
        dead = [(pid, c) for pid, c in codes if c is not None]
    return "; ".join(f"worker pid {pid} {_describe_exit(c)}" for pid, c in dead)


def _submitter(executor: cf.Executor) -> Callable[..., cf.Future[Any]]:
    # The pools of pytest_gil.pools check every submit for picklability; run_tasks has
    # checked once already, so skip the per-task check inside the measured phase.
    unchecked = getattr(executor, "submit_unchecked", None)
    return unchecked if callable(unchecked) else executor.submit


def _run_on(kind: str, executor: cf.Executor, calls: Sequence[Call], workers: int
            ) -> Timeline:
    __tracebackhide__ = True
    size = getattr(executor, "_max_workers", None)
    if isinstance(size, int) and size < workers:
        raise ValueError(f"the {kind} executor has {size} workers; {workers} were asked for")
    warm_executor(executor, workers, sorted({getattr(c[0], "__module__", "") or ""
                                             for c in calls}))
    procs = _processes(executor)
    submit = _submitter(executor)
    gil_before = gil_enabled()
    t0 = time.perf_counter()
    futures = [submit(timed_call, f, tuple(a), dict(kw)) for f, a, kw in calls]
    records: list[TaskRecord] = []
    try:
        for i, f in enumerate(futures):
            try:
                res = f.result()
            except cf.BrokenExecutor as exc:
                exc.__traceback__ = None  # the frames of future.result(): nothing to see
                how = _how_workers_died(procs or _processes(executor))
                raise WorkerDied(
                    f"{article(kind)} worker died abruptly while running task {i} "
                    f"({_name(calls[i][0])}): "
                    f"{how or exc}. A crash in C code, os._exit() or a signal ends a worker "
                    "without an exception; the pool is broken (process_pool rebuilds itself "
                    "for the next test; an executor_factory executor must be replaced)."
                ) from exc
            except Exception as exc:
                raise_worker_error(i, kind, exc, calls[i][0])
            result, start, end, cpu, pid, thread_id, interp_id = res
            records.append(TaskRecord(i, start, end, cpu, pid, thread_id, interp_id, result))
    finally:
        for f in futures:
            f.cancel()
    t1 = time.perf_counter()
    cpu = sum(r.cpu for r in records)
    return Timeline(kind, workers, records, t0, t1, cpu, gil_before, gil_enabled())
