"""Threads released together: :class:`ThreadRunner`, and stopping threads that a timeout or an
interrupt left running (:func:`stop_thread`, :func:`stop_threads`)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..gilstate import gil_enabled
from .faults import MAX_TASKS, add_note, check_count, raise_worker_error
from .timeline import TaskRecord, Timeline, timed_call

__all__ = [
    "STOP_GRACE",
    "Call",
    "ThreadRunner",
    "ThreadStopped",
    "stop_thread",
    "stop_threads",
    "task_calls",
]

Call = tuple[Callable[..., Any], Sequence[Any], Mapping[str, Any]]
"""One task: the function, its positional and its keyword arguments."""


class ThreadStopped(BaseException):
    """Raised inside a worker thread that pytest-gil stops (a timeout or an interrupt hit the
    test).  A ``BaseException``, so that task code catching ``Exception`` does not swallow it."""


def stop_thread(thread: threading.Thread) -> bool:
    """Ask ``thread`` to raise :class:`ThreadStopped` at its next Python bytecode.

    This stops a task looping in Python code; a thread blocked in C (``time.sleep``, a read
    on a socket) only sees it when the call returns.  ``False`` where the interpreter offers no
    way to do it (not CPython).
    """
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return False
    try:
        import ctypes

        set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except (ImportError, AttributeError):  # pragma: no cover - PyPy, GraalPy
        return False
    count = set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(ThreadStopped))
    if count > 1:  # pragma: no cover - cannot happen for a valid id; undo as the docs say
        set_async_exc(ctypes.c_ulong(ident), None)
        return False
    return bool(count == 1)


def stop_threads(threads: Iterable[threading.Thread], timeout: float) -> list[threading.Thread]:
    """Stop ``threads`` (see :func:`stop_thread`) and join them for up to ``timeout`` seconds
    in all; return those still alive (blocked in C code: they are left running)."""
    threads = [t for t in threads if t is not threading.current_thread()]
    start = time.monotonic()
    deadline, grace = start + timeout, start + min(0.2, timeout / 4)
    # A short grace first: threads between tasks (or told to stop by their pool) return by
    # themselves; only those still busy get the exception.
    for t in threads:
        t.join(max(0.0, grace - time.monotonic()))
    for t in threads:
        if t.is_alive():
            stop_thread(t)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [t for t in threads if t.is_alive()]


STOP_GRACE = 1.0
"""Seconds to wait for worker threads to stop once asked (a timeout, an interrupt, a teardown).
A thread running Python code stops within a switch interval; one blocked in C code never does."""


class _Batch:
    """What the threads of one :meth:`ThreadRunner.run_calls` share: the task indices still to
    run, the records and errors so far, the start barrier and the end signal.

    The main thread waits on :attr:`all_done`, never in ``Thread.join()``: an exception raised
    by a signal handler (pytest-timeout, Ctrl-C) inside ``join()`` makes CPython (< 3.13) mark
    the thread stopped while it still runs, and it could then not be stopped.
    """

    def __init__(self, calls: Sequence[Call], workers: int, stop: threading.Event) -> None:
        self.calls = calls
        self.workers = workers
        self.stop = stop
        self.todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(calls)):
            self.todo.put(i)
        self.records: list[TaskRecord] = []
        self.errors: list[tuple[int, BaseException]] = []
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(workers + 1)
        self.running = workers
        self.all_done = threading.Event()

    def release(self) -> tuple[float, float, float]:
        """Wait until every worker is parked at the barrier, release them together and wait
        for the last one to finish; the phase's ``(start, end, cpu)``."""
        while self.barrier.n_waiting < self.workers:
            time.sleep(0.0005)
        c0 = time.process_time()
        t0 = time.perf_counter()
        self.barrier.wait()
        self.all_done.wait()
        t1 = time.perf_counter()
        c1 = time.process_time()
        return t0, t1, c1 - c0

    def work(self) -> None:
        """A worker thread: wait at the barrier, then run tasks until none is left, one raised
        or the run is stopped."""
        __tracebackhide__ = True
        try:
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                return
            self._run_tasks()
        except ThreadStopped:
            return
        finally:
            with self.lock:
                self.running -= 1
                if not self.running:
                    self.all_done.set()

    def _run_tasks(self) -> None:
        __tracebackhide__ = True
        while not self.stop.is_set():
            try:
                i = self.todo.get_nowait()
            except queue.Empty:
                return
            try:
                res = timed_call(*self.calls[i])
            except BaseException as exc:
                with self.lock:
                    self.errors.append((i, exc))
                return
            with self.lock:
                self.records.append(TaskRecord(i, *res[1:], result=res[0]))


class ThreadRunner:
    """Run tasks in threads released together by a barrier; join every thread it started.

    Each :meth:`run` starts ``workers`` threads, waits until all of them are parked at a
    barrier, then releases them and starts the clock, so thread creation is never timed.
    Threads pull task indices from a shared queue (so ``tasks`` may exceed ``workers``).

    When the run is interrupted (a pytest-timeout, Ctrl-C, SIGTERM) the threads are stopped:
    a thread running Python code gets :class:`ThreadStopped` raised in it and ends within a
    switch interval; a thread blocked in C code (``time.sleep(3600)``) cannot be stopped and
    is left running as a daemon thread (it never delays the end of the run).  :meth:`close`
    joins whatever is still alive and returns what could not be stopped; the
    ``thread_runner`` fixture calls it at teardown even when the test failed.
    """

    def __init__(self, join_timeout: float = 30.0) -> None:
        self._threads: list[threading.Thread] = []
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self.abandoned: list[threading.Thread] = []
        """Threads that did not stop when asked (blocked in C code); daemon threads."""

    def run(
        self,
        fn: Callable[..., Any] | Sequence[Callable[..., Any]],
        *fn_args: Any,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_args: Sequence[Sequence[Any]] | None = None,
        workers: int | None = None,
        tasks: int | None = None,
    ) -> Timeline:
        """Run ``fn(*args, **kwargs)`` ``tasks`` times on ``workers`` threads.

        The function's arguments: positionally (``run(fn, 1, 2, workers=2)``), or as
        ``args=(...)`` and ``kwargs={...}``, so that no keyword of ``fn`` is ever taken for one
        of this method's; ``task_args=[(...), ...]`` gives task ``i`` its own positional
        arguments.  ``fn`` may also be a list of callables (each run once, ``workers``
        defaults to its length).  Returns the :class:`Timeline`; results are in
        ``timeline.results``.
        """
        __tracebackhide__ = True
        if workers is not None:
            check_count("workers", workers, "thread")
        calls = task_calls(fn, fn_args, args, kwargs, task_args, tasks,
                           default_tasks=1 if workers is None else workers)
        if workers is None:
            workers = check_count("workers", len(calls), "thread")
        return self.run_calls(calls, workers)

    def run_calls(self, calls: Sequence[Call], workers: int) -> Timeline:
        """Run each of ``calls`` once on ``workers`` threads released by a barrier."""
        __tracebackhide__ = True
        batch = _Batch(calls, workers, self._stop)
        threads = [
            threading.Thread(target=batch.work, name=f"pytest-gil-{k}", daemon=True)
            for k in range(workers)
        ]
        self._threads.extend(threads)
        gil_before = gil_enabled()
        try:
            for t in threads:
                t.start()
            start, end, cpu = batch.release()
            for t in threads:
                t.join()
        except BaseException as interrupt:
            batch.stop.set()
            batch.barrier.abort()
            self._give_up(threads, STOP_GRACE, interrupt)
            raise
        if batch.errors:
            i, error = min(batch.errors, key=lambda e: e[0])
            raise_worker_error(i, "thread", error, calls[i][0])
        return Timeline(
            "thread", workers, batch.records, start, end, cpu, gil_before, gil_enabled()
        )

    def _give_up(
        self, threads: list[threading.Thread], timeout: float, exc: BaseException | None
    ) -> None:
        alive = stop_threads(threads, timeout)
        self._threads = [t for t in self._threads if t.is_alive() and t not in alive]
        self.abandoned.extend(alive)
        if exc is not None:
            stopped = len(threads) - len(alive)
            note = f"pytest-gil: stopped {stopped} of {len(threads)} worker thread(s)"
            if alive:
                note += (
                    f"; {len(alive)} blocked in C code could not be stopped and keep running as "
                    f"daemon threads ({', '.join(t.name for t in alive)})"
                )
            add_note(exc, note)

    def close(self) -> list[threading.Thread]:
        """Stop and join every thread this runner started; return those still alive (threads
        blocked in C code, which cannot be stopped; they are daemon threads)."""
        self._stop.set()
        if self._threads:
            self._give_up(self._threads, self._join_timeout, None)
        self._threads = []
        self._stop = threading.Event()
        self.abandoned = [t for t in self.abandoned if t.is_alive()]
        return list(self.abandoned)

    def __enter__(self) -> ThreadRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def task_calls(
    fn: Callable[..., Any] | Sequence[Callable[..., Any]],
    fn_args: Sequence[Any],
    args: Sequence[Any] | None,
    kwargs: Mapping[str, Any] | None,
    task_args: Sequence[Sequence[Any]] | None,
    tasks: int | None,
    *,
    default_tasks: int = 1,
) -> list[Call]:
    """The list of calls a runner makes: one per task.

    ``fn_args`` (positional shorthand) and ``args`` are the same thing given two ways, so
    only one may be used; ``task_args`` gives each task its own positional arguments (then
    ``tasks``, if given, must equal its length); ``fn`` may be a list of callables, one per
    task.
    """
    __tracebackhide__ = True
    if fn_args and args is not None:
        raise TypeError("give the function's arguments positionally or as args=(...), not both")
    shared = tuple(fn_args) if args is None else tuple(args)
    kw = dict(kwargs or {})
    if task_args is not None:
        if shared:
            raise TypeError("task_args gives every task its own arguments: drop args")
        per_task = [tuple(a) for a in task_args]
        if not per_task:
            raise ValueError("task_args is empty: give at least one task's arguments")
        if tasks is not None and tasks != len(per_task):
            raise ValueError(f"tasks={tasks} but task_args has {len(per_task)} entries")
        check_count("tasks", len(per_task), limit=MAX_TASKS)
    if callable(fn):
        if task_args is not None:
            return [(fn, a, kw) for a in per_task]
        n = tasks if tasks is not None else default_tasks
        check_count("tasks", n, limit=MAX_TASKS)
        return [(fn, shared, kw)] * n
    fns = list(fn)
    if not fns or not all(callable(f) for f in fns):
        raise TypeError(f"fn must be a callable or a list of callables, got {fn!r}")
    if tasks is not None and tasks != len(fns):
        raise ValueError(f"tasks={tasks} but {len(fns)} callables were given")
    if task_args is not None:
        if len(per_task) != len(fns):
            raise ValueError(f"{len(fns)} callables but {len(per_task)} task_args entries")
        return [(f, a, kw) for f, a in zip(fns, per_task, strict=True)]
    return [(f, shared, kw) for f in fns]
