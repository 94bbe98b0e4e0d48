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
import dataclasses
import os
import pickle
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

__all__ = [
    "KINDS",
    "MAX_TASKS",
    "MAX_THREADS",
    "STOP_GRACE",
    "TaskRecord",
    "ThreadRunner",
    "ThreadStopped",
    "Timeline",
    "WorkerDied",
    "WorkerError",
    "check_count",
    "check_picklable",
    "max_workers",
    "run_tasks",
    "stop_thread",
    "stop_threads",
    "trim_traceback",
    "warm_executor",
]

KINDS = ("serial", "thread", "process", "interpreter")

MAX_THREADS = 1024
"""More threads than any claim needs (the document's examples use 2–10); a million would
exhaust memory and hang the run before anything is measured."""
MAX_TASKS = 100_000


def max_workers(kind: str) -> int:
    """The most workers of ``kind`` a runner or fixture accepts.

    Threads: :data:`MAX_THREADS`.  Processes and sub-interpreters each cost a whole
    interpreter (tens of MB), so at most 4 per CPU of the machine, and at least 64.
    """
    if kind in ("serial", "thread"):
        return MAX_THREADS
    return max(64, 4 * (os.cpu_count() or 1))


def check_count(
    name: str, value: object, kind: str | None = None, limit: int | None = None
) -> int:
    """``value`` as a worker or task count, or a ``ValueError`` naming it and what is allowed."""
    __tracebackhide__ = True
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if limit is None and kind is not None:
        limit = max_workers(kind)
    if limit is not None and value > limit:
        what = f"{kind} workers" if kind else name
        raise ValueError(
            f"{name}={value} is too many {what}: at most {limit} are allowed (more would exhaust "
            "memory or processes before anything is measured)"
        )
    return value


class WorkerError(RuntimeError):
    """A task raised inside a worker thread, process or sub-interpreter.

    ``remote_traceback`` holds the worker's formatted traceback; ``__cause__`` is the original
    exception where it could be transported.  The message includes the traceback unless the
    cause shows it already (a thread's exception carries its own frames).
    """

    def __init__(
        self, message: str, remote_traceback: str = "", *, traceback_in_message: bool = True
    ) -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback
        self.traceback_in_message = traceback_in_message

    def __str__(self) -> str:
        base = super().__str__()
        if self.remote_traceback and self.traceback_in_message:
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
    __tracebackhide__ = True
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


_CROSSING = (
    "process and sub-interpreter workers need a module-level function with picklable "
    "arguments: the task is pickled to reach the worker, and a function is pickled by its "
    "importable name"
)


def _reason(exc: BaseException) -> str:
    exc_type, message = getattr(exc, "exc_type", None), getattr(exc, "message", None)
    if isinstance(exc_type, str) and isinstance(message, str):  # a SubinterpreterError
        return f"{exc_type}: {message}"
    return f"{type(exc).__name__}: {exc}"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _worker_noun(kind: str) -> str:
    return "a sub-interpreter" if kind == "interpreter" else "a worker process"


def check_picklable(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], kind: str = "process"
) -> None:
    """Raise a clear ``TypeError`` if ``fn(*args, **kwargs)`` cannot be sent to a worker process
    (or, ``kind="interpreter"``, to a sub-interpreter).

    multiprocessing pickles the function by reference (module + qualified name) and the
    arguments by value, so lambdas, local functions and objects such as locks cannot cross.
    The message names the function or the argument that cannot cross.
    """
    __tracebackhide__ = True
    name = getattr(fn, "__qualname__", None) or repr(fn)
    if "<lambda>" in name or "<locals>" in name:
        what = "a lambda" if "<lambda>" in name else "a function defined inside another function"
        raise TypeError(
            f"{name} cannot be sent to {_worker_noun(kind)}: it is {what}, which has no "
            f"importable name; {_CROSSING}. Move it to module level."
        )
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise TypeError(
            f"{name} cannot be sent to {_worker_noun(kind)} ({_reason(exc)}); {_CROSSING}."
        ) from exc
    items = [(f"argument {i}", a) for i, a in enumerate(args)]
    items += [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
    for label, value in items:
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise TypeError(
                f"{label} of {name}(...) cannot be pickled ({type(value).__name__} object: "
                f"{_reason(exc)}), so the task cannot be sent to {_worker_noun(kind)}; "
                f"{_CROSSING}."
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


def _remote_text(exc: BaseException) -> str | None:
    """The worker's formatted traceback carried by ``exc`` (or its cause), if any."""
    remote = getattr(exc, "remote_traceback", None)
    if remote is None:
        cause = exc.__cause__
        remote = getattr(cause, "tb", None) if cause is not None else None
    if remote is None:
        subinterp = sys.modules.get("pytest_gil.subinterp")
        finder = getattr(subinterp, "remote_traceback", None)
        if callable(finder):
            remote = finder(exc)
    if remote is None:
        return None
    # concurrent.futures wraps the text in triple quotes
    return str(remote).strip().removeprefix('"""').removesuffix('"""').strip("\n") + "\n"


def _crossing_problem(exc: BaseException, remote: str, fn_name: str) -> str | None:
    """Explain a task or result that could not be pickled across the process boundary."""
    stage = getattr(exc, "stage", None) or getattr(exc.__cause__, "stage", None)
    if "_sendback_result" in remote or stage == "result":
        return (
            f"the result of {fn_name}(...) cannot be pickled ({_reason(exc)}), so the worker "
            "cannot send it back: return picklable values (numbers, strings, bytes, and tuples, "
            "lists or dicts of them)"
        )
    if "in _feed" in remote or stage in ("arguments", "import"):
        return f"{fn_name}(...) cannot be sent to the worker ({_reason(exc)}); {_CROSSING}"
    return None


_INTERNAL_FILES = (
    os.path.join("concurrent", "futures", "process.py"),
    os.path.join("concurrent", "futures", "thread.py"),
    os.path.join("pytest_gil", "runners.py"),
    os.path.join("pytest_gil", "subinterp.py"),
)


def trim_traceback(text: str) -> str:
    """Drop the frames of the pool machinery (``concurrent.futures``, the runners) from a
    formatted traceback, keeping the task's own frames and the exception lines."""
    out: list[str] = []
    skipping = False
    kept = dropped = 0
    for line in text.splitlines():
        if line.startswith('  File "'):
            path = line[len('  File "') :].split('"', 1)[0]
            skipping = path.endswith(_INTERNAL_FILES)
            dropped += skipping
            kept += not skipping
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            out.append(line)
    if not kept or not dropped:
        return text
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _raise_worker_error(
    index: int, kind: str, exc: BaseException, fn: Callable[..., Any] | None = None
) -> NoReturn:
    __tracebackhide__ = True
    fn_name = getattr(fn, "__qualname__", None) or "the task"
    remote = _remote_text(exc)
    if remote is None:
        # In this process: the exception carries its own frames; the message need not.
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise WorkerError(
            f"task {index} raised in {_a(kind)} worker: {type(exc).__name__}: {exc}",
            trim_traceback(text),
            traceback_in_message=False,
        ) from exc
    # From another process or interpreter: the exception's frames here are the pool's
    # (future.result()); the worker's are in the text, shown once, in the message.
    problem = _crossing_problem(exc, remote, fn_name)
    remote = trim_traceback(remote)
    exc.__traceback__ = None
    exc.__cause__ = None
    exc.__suppress_context__ = True
    if problem:
        raise WorkerError(f"task {index}: {problem}", remote) from exc
    raise WorkerError(
        f"task {index} raised in {_a(kind)} worker: {_reason(exc)}", remote
    ) from exc


# --------------------------------------------------------------------------------------------
# threads


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
        *args: Any,
        workers: int | None = None,
        tasks: int | None = None,
        **kwargs: Any,
    ) -> Timeline:
        """Run ``fn(*args, **kwargs)`` ``tasks`` times on ``workers`` threads.

        ``fn`` may also be a list of callables (each run once, ``workers`` defaults to its
        length).  Returns the :class:`Timeline`; results are in ``timeline.results``.
        """
        __tracebackhide__ = True
        if callable(fn):
            if tasks is not None:
                check_count("tasks", tasks, limit=MAX_TASKS)
            fns: list[Callable[..., Any]] = [fn] * (tasks or workers or 1)
        else:
            fns = list(fn)
            if tasks is not None and tasks != len(fns):
                raise ValueError(f"tasks={tasks} but {len(fns)} callables were given")
        workers = workers or len(fns)
        check_count("workers", workers, "thread")
        return self._run(fns, args, kwargs, workers)

    def _run(
        self,
        fns: Sequence[Callable[..., Any]],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        workers: int,
    ) -> Timeline:
        __tracebackhide__ = True
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(fns)):
            todo.put(i)
        records: list[TaskRecord] = []
        errors: list[tuple[int, BaseException]] = []
        lock = threading.Lock()
        barrier = threading.Barrier(workers + 1)
        stop = self._stop
        # The main thread waits on this event, never in Thread.join(): an exception raised by a
        # signal handler (pytest-timeout, Ctrl-C) inside join() makes CPython (< 3.13) mark the
        # thread stopped while it still runs, and it could then not be stopped.
        running = [workers]
        all_done = threading.Event()

        def body() -> None:
            __tracebackhide__ = True
            try:
                try:
                    barrier.wait()
                except threading.BrokenBarrierError:
                    return
                while not stop.is_set():
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
            except ThreadStopped:
                return
            finally:
                with lock:
                    running[0] -= 1
                    if not running[0]:
                        all_done.set()

        threads = [
            threading.Thread(target=body, name=f"pytest-gil-{k}", daemon=True)
            for k in range(workers)
        ]
        self._threads.extend(threads)
        gil_before = _gil_enabled()
        try:
            for t in threads:
                t.start()
            # All workers are parked at the barrier once it counts them; then go.
            while barrier.n_waiting < workers:
                time.sleep(0.0005)
            c0 = time.process_time()
            t0 = time.perf_counter()
            barrier.wait()
            all_done.wait()
            t1 = time.perf_counter()
            c1 = time.process_time()
            for t in threads:
                t.join()
        except BaseException as interrupt:
            stop.set()
            barrier.abort()
            self._give_up(threads, STOP_GRACE, interrupt)
            raise
        if errors:
            i, error = min(errors, key=lambda e: e[0])
            _raise_worker_error(i, "thread", error, fns[i])
        return Timeline("thread", workers, records, t0, t1, c1 - c0, gil_before, _gil_enabled())

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
            _add_note(exc, note)

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


def _add_note(exc: BaseException, note: str) -> None:
    add = getattr(exc, "add_note", None)  # Python 3.11+
    if callable(add):
        add(note)


# --------------------------------------------------------------------------------------------
# the one interface


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

    Faults: an exception in a task raises :class:`WorkerError` with the worker's traceback;
    a worker process that dies raises :class:`WorkerDied`; work that cannot be pickled raises
    ``TypeError`` before anything runs.  When the run is interrupted (timeout, Ctrl-C) the
    threads are stopped and a ``process_pool`` is reset (its workers terminated).
    """
    __tracebackhide__ = True
    if kind not in KINDS:
        raise ValueError(
            f"run_tasks: unknown executor kind {kind!r}; expected one of {', '.join(KINDS)}"
        )
    if not callable(fn):
        raise TypeError(f"run_tasks: fn must be callable, got {fn!r}")
    kwargs = dict(kwargs or {})
    check_count("tasks", tasks, limit=MAX_TASKS)
    check_count("workers", workers, kind)
    if kind == "serial":
        return _run_serial(fn, args, kwargs, tasks)
    if kind == "thread":
        with ThreadRunner() as runner:
            return runner._run([fn] * tasks, args, kwargs, workers)
    if executor is None:
        raise ValueError(
            f"run_tasks({kind!r}) needs a warm executor: pass executor= (the process_pool "
            "or executor_factory fixture gives one)"
        )
    return _run_pool(kind, executor, fn, args, kwargs, tasks, workers)


def _run_serial(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], tasks: int
) -> Timeline:
    __tracebackhide__ = True
    records = []
    gil_before = _gil_enabled()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(tasks):
        try:
            res = timed_call(fn, args, kwargs)
        except Exception as exc:
            _raise_worker_error(i, "serial", exc, fn)
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
    __tracebackhide__ = True
    check_picklable(fn, args, kwargs, kind)
    managed = executor
    live = getattr(executor, "live_executor", None)  # a ManagedProcessPool: its current pool
    if callable(live):
        executor = live()
    try:
        return _run_on(kind, executor, fn, args, kwargs, tasks, workers)
    except (WorkerError, ValueError, TypeError):
        raise
    except BaseException as exc:
        # Interrupted, timed out, or a worker died: tasks may still be running in the pool.
        # A managed (session) pool is reset so that later tests get idle workers.
        reset = getattr(managed, "reset", None)
        if callable(reset):
            reset()
            if not isinstance(exc, WorkerDied):
                _add_note(
                    exc,
                    f"pytest-gil: the {kind} workers running {_name(fn)} were terminated; the "
                    "pool starts fresh workers for the next task",
                )
        raise


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


def _run_on(
    kind: str,
    executor: cf.Executor,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    tasks: int,
    workers: int,
) -> Timeline:
    __tracebackhide__ = True
    size = getattr(executor, "_max_workers", None)
    if isinstance(size, int) and size < workers:
        raise ValueError(f"the {kind} executor has {size} workers; {workers} were asked for")
    warm_executor(executor, workers, [getattr(fn, "__module__", "") or ""])
    procs = _processes(executor)
    submit = _submitter(executor)
    gil_before = _gil_enabled()
    t0 = time.perf_counter()
    futures = [submit(timed_call, fn, tuple(args), kwargs) for _ in range(tasks)]
    records: list[TaskRecord] = []
    try:
        for i, f in enumerate(futures):
            try:
                res = f.result()
            except cf.BrokenExecutor as exc:
                exc.__traceback__ = None  # the frames of future.result(): nothing to see
                how = _how_workers_died(procs or _processes(executor))
                raise WorkerDied(
                    f"{_a(kind)} worker died abruptly while running task {i} ({_name(fn)}): "
                    f"{how or exc}. A crash in C code, os._exit() or a signal ends a worker "
                    "without an exception; the pool is broken (process_pool rebuilds itself "
                    "for the next test; an executor_factory executor must be replaced)."
                ) from exc
            except Exception as exc:
                _raise_worker_error(i, kind, exc, fn)
            result, start, end, cpu, pid, thread_id, interp_id = res
            records.append(TaskRecord(i, start, end, cpu, pid, thread_id, interp_id, result))
    finally:
        for f in futures:
            f.cancel()
    t1 = time.perf_counter()
    cpu = sum(r.cpu for r in records)
    return Timeline(kind, workers, records, t0, t1, cpu, gil_before, _gil_enabled())
