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
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os
import pickle
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "KINDS",
    "TaskRecord",
    "ThreadRunner",
    "Timeline",
    "WorkerDied",
    "WorkerError",
    "check_picklable",
    "run_tasks",
    "warm_executor",
]

KINDS = ("serial", "thread", "process", "interpreter")


class WorkerError(RuntimeError):
    """A task raised inside a worker thread, process or sub-interpreter.

    ``remote_traceback`` holds the worker's formatted traceback; ``__cause__`` is the original
    exception where it could be transported.
    """

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        base = super().__str__()
        if self.remote_traceback:
            return f"{base}\n\nWorker traceback:\n{self.remote_traceback.rstrip()}"
        return base


class WorkerDied(RuntimeError):
    """A worker process died abruptly (signal, segfault, ``os._exit``) during a phase."""


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


def _gil_enabled() -> bool:
    fn = getattr(sys, "_is_gil_enabled", None)
    return True if fn is None else bool(fn())


def _interp_id() -> int:
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
    fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> tuple[Any, float, float, float, int, int, int]:
    """Run ``fn`` and return ``(result, start, end, cpu, pid, thread_id, interpreter_id)``.

    Module-level so that process pools can pickle it.
    """
    c0 = time.thread_time()
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    t1 = time.perf_counter()
    c1 = time.thread_time()
    return result, t0, t1, c1 - c0, os.getpid(), threading.get_ident(), _interp_id()


def _import_modules(names: Sequence[str], hold: float) -> int:
    import importlib

    for name in names:
        importlib.import_module(name)
    # Hold the worker a little, so that the other warm-up calls land on the other workers.
    time.sleep(hold)
    return os.getpid()


def check_picklable(fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Raise a clear ``TypeError`` if ``fn(*args, **kwargs)`` cannot be sent to a worker process.

    multiprocessing pickles the function by reference (module + qualified name) and the
    arguments by value, so lambdas, local functions and objects such as locks cannot cross.
    """
    name = getattr(fn, "__qualname__", repr(fn))
    if "<lambda>" in name or "<locals>" in name:
        raise TypeError(
            f"{name!s} cannot be sent to a worker process: process and sub-interpreter "
            "workers need a module-level function with picklable arguments (they pickle the "
            "task to send it; a lambda or a function defined inside another function has no "
            "importable name). Move it to module level."
        )
    try:
        pickle.dumps((fn, tuple(args), kwargs))
    except Exception as exc:
        raise TypeError(
            f"cannot send {name}(...) to a worker process: {type(exc).__name__}: {exc}. "
            "Process and sub-interpreter workers need a module-level function with picklable "
            "arguments."
        ) from exc


_warmed: dict[int, set[str]] = {}


def warm_executor(executor: cf.Executor, workers: int, modules: Iterable[str] = ()) -> None:
    """Start every worker of ``executor`` and import ``modules`` in each, before any timing.

    ``concurrent.futures`` pools start workers on demand; ``workers`` calls that each hold
    their worker for 20 ms (well above the ~0.1 ms dispatch cost) make the pool start all of
    them.  Done once per executor and module set.
    """
    mods = sorted(set(modules) - {"__main__"})
    key = id(executor)
    done = _warmed.setdefault(key, set())
    if done and set(mods) <= done:
        return
    futures = [executor.submit(_import_modules, mods, 0.02) for _ in range(max(1, workers))]
    for f in futures:
        f.result()
    done.update(mods)
    done.add("")


def forget_executor(executor: cf.Executor) -> None:
    """Drop the warm-up bookkeeping of an executor that was shut down."""
    _warmed.pop(id(executor), None)


def _raise_worker_error(index: int, kind: str, exc: BaseException) -> None:
    remote = getattr(exc, "remote_traceback", None)
    if remote is None:
        cause = exc.__cause__
        remote = getattr(cause, "tb", None) if cause is not None else None
    if remote is None:
        remote = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    raise WorkerError(
        f"task {index} raised in a {kind} worker: {type(exc).__name__}: {exc}", str(remote)
    ) from exc


# --------------------------------------------------------------------------------------------
# threads


class ThreadRunner:
    """Run tasks in threads released together by a barrier; join every thread it started.

    Each :meth:`run` starts ``workers`` threads, waits until all of them are parked at a
    barrier, then releases them and starts the clock, so thread creation is never timed.
    Threads pull task indices from a shared queue (so ``tasks`` may exceed ``workers``).
    :meth:`close` joins whatever is still alive; the ``thread_runner`` fixture calls it at
    teardown even when the test failed.
    """

    def __init__(self, join_timeout: float = 30.0) -> None:
        self._threads: list[threading.Thread] = []
        self._join_timeout = join_timeout
        self._stop = threading.Event()

    def run(
        self,
        fn: Callable[..., Any] | Sequence[Callable[..., Any]],
        *args: Any,
        workers: int | None = None,
        tasks: int | None = None,
        **kwargs: Any,
    ) -> Timeline:
        """Run ``fn(*args, **kwargs)`` ``tasks`` times on ``workers`` threads.

        ``fn`` may also be a list of callables (each run once, ``workers`` defaults to its
        length).  Returns the :class:`Timeline`; results are in ``timeline.results``.
        """
        if callable(fn):
            fns: list[Callable[..., Any]] = [fn] * (tasks or workers or 1)
        else:
            fns = list(fn)
            if tasks is not None and tasks != len(fns):
                raise ValueError(f"tasks={tasks} but {len(fns)} callables were given")
        workers = workers or len(fns)
        _check_count("workers", workers)
        return self._run(fns, args, kwargs, workers)

    def _run(
        self,
        fns: Sequence[Callable[..., Any]],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        workers: int,
    ) -> Timeline:
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(fns)):
            todo.put(i)
        records: list[TaskRecord] = []
        errors: list[tuple[int, BaseException]] = []
        lock = threading.Lock()
        barrier = threading.Barrier(workers + 1)

        def body() -> None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return
            while not self._stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    res = timed_call(fns[i], args, kwargs)
                except BaseException as exc:
                    with lock:
                        errors.append((i, exc))
                    return
                with lock:
                    records.append(TaskRecord(i, *res[1:], result=res[0]))

        threads = [
            threading.Thread(target=body, name=f"pytest-gil-{k}", daemon=True)
            for k in range(workers)
        ]
        self._threads.extend(threads)
        gil_before = _gil_enabled()
        for t in threads:
            t.start()
        try:
            # All workers are parked at the barrier once it counts them; then go.
            while barrier.n_waiting < workers:
                time.sleep(0.0005)
            c0 = time.process_time()
            t0 = time.perf_counter()
            barrier.wait()
            for t in threads:
                t.join()
            t1 = time.perf_counter()
            c1 = time.process_time()
        except BaseException:
            self._stop.set()
            barrier.abort()
            self.close()
            raise
        if errors:
            i, exc = min(errors, key=lambda e: e[0])
            _raise_worker_error(i, "thread", exc)
        return Timeline("thread", workers, records, t0, t1, c1 - c0, gil_before, _gil_enabled())

    def close(self) -> list[threading.Thread]:
        """Join every thread this runner started; return those still alive after the timeout."""
        self._stop.set()
        deadline = time.monotonic() + self._join_timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        self._stop = threading.Event()
        return alive

    def __enter__(self) -> ThreadRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# the one interface


def _check_count(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def run_tasks(
    kind: str,
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    *,
    tasks: int,
    workers: int = 1,
    executor: cf.Executor | None = None,
    kwargs: dict[str, Any] | None = None,
) -> Timeline:
    """Run ``tasks`` copies of ``fn(*args, **kwargs)`` on ``workers`` workers of ``kind``.

    ``kind`` is ``"serial"`` (one after another in this thread), ``"thread"``, ``"process"``
    or ``"interpreter"``.  The last two need ``executor``: a warm pool with at least
    ``workers`` workers (``process_pool`` / ``executor_factory`` fixtures, or
    :func:`warm_executor`); ``run_tasks`` warms it for ``fn``'s module if that was not done.
    """
    kwargs = dict(kwargs or {})
    _check_count("tasks", tasks)
    _check_count("workers", workers)
    if kind == "serial":
        return _run_serial(fn, args, kwargs, tasks)
    if kind == "thread":
        with ThreadRunner() as runner:
            return runner._run([fn] * tasks, args, kwargs, workers)
    if kind in ("process", "interpreter"):
        if executor is None:
            raise ValueError(
                f"run_tasks({kind!r}) needs a warm executor: pass executor= (the process_pool "
                "or executor_factory fixture gives one)"
            )
        return _run_pool(kind, executor, fn, args, kwargs, tasks, workers)
    raise ValueError(f"unknown executor kind {kind!r}; expected one of {', '.join(KINDS)}")


def _run_serial(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], tasks: int
) -> Timeline:
    records = []
    gil_before = _gil_enabled()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(tasks):
        try:
            res = timed_call(fn, args, kwargs)
        except Exception as exc:
            _raise_worker_error(i, "serial", exc)
        records.append(TaskRecord(i, *res[1:], result=res[0]))
    t1 = time.perf_counter()
    c1 = time.process_time()
    return Timeline("serial", 1, records, t0, t1, c1 - c0, gil_before, _gil_enabled())


def _run_pool(
    kind: str,
    executor: cf.Executor,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    tasks: int,
    workers: int,
) -> Timeline:
    check_picklable(fn, args, kwargs)
    managed = executor
    live = getattr(executor, "live_executor", None)  # a ManagedProcessPool: its current pool
    if callable(live):
        executor = live()
    try:
        return _run_on(kind, executor, fn, args, kwargs, tasks, workers)
    except (WorkerError, ValueError, TypeError):
        raise
    except BaseException:
        # Interrupted, timed out, or a worker died: tasks may still be running in the pool.
        # A managed (session) pool is reset so that later tests get idle workers.
        reset = getattr(managed, "reset", None)
        if callable(reset):
            reset()
        raise


def _run_on(
    kind: str,
    executor: cf.Executor,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    tasks: int,
    workers: int,
) -> Timeline:
    size = getattr(executor, "_max_workers", None)
    if isinstance(size, int) and size < workers:
        raise ValueError(f"the {kind} executor has {size} workers; {workers} were asked for")
    warm_executor(executor, workers, [getattr(fn, "__module__", "") or ""])
    gil_before = _gil_enabled()
    t0 = time.perf_counter()
    futures = [executor.submit(timed_call, fn, tuple(args), kwargs) for _ in range(tasks)]
    records: list[TaskRecord] = []
    try:
        for i, f in enumerate(futures):
            try:
                res = f.result()
            except cf.BrokenExecutor as exc:
                name = getattr(fn, "__qualname__", repr(fn))
                raise WorkerDied(
                    f"a {kind} worker died abruptly (killed, crashed or os._exit) while running "
                    f"task {i} ({name}); the pool is broken. The process_pool fixture rebuilds "
                    "itself for the next test."
                ) from exc
            except Exception as exc:
                _raise_worker_error(i, kind, exc)
            records.append(TaskRecord(i, *res[1:], result=res[0]))
    finally:
        for f in futures:
            f.cancel()
    t1 = time.perf_counter()
    cpu = sum(r.cpu for r in records)
    return Timeline(kind, workers, records, t0, t1, cpu, gil_before, _gil_enabled())
