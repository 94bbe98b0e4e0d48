"""Executors the fixtures hand out, and how they are torn down without leaving anything behind.

* :class:`ManagedProcessPool` — a warm ``ProcessPoolExecutor`` that rebuilds itself when a
  worker died (``BrokenProcessPool``), so one crashing test does not break the later ones;
* :func:`make_executor` — ``"thread"``, ``"process"`` or ``"interpreter"`` executors;
* :func:`terminate_executor` — cancel what is pending, stop and join every worker, even when a
  task hangs (process workers are terminated, then killed; threads running Python code are
  stopped);
* :func:`terminate_all` — the safety net at the end of a run.

Process workers made here outlive nothing: each watches its parent and exits when the parent
is gone (pytest-timeout's ``thread`` method ends pytest with ``os._exit``; ``kill -9``), and
each ignores SIGINT, so a Ctrl-C at a terminal (sent to the whole process group) interrupts
pytest, which then stops the workers, instead of killing the workers in the middle of a task;
SIGTERM keeps its default action in workers (pytest-gil turns it into ``KeyboardInterrupt`` in
pytest's process only).
Thread workers are daemon threads, so a task hung in C code never keeps Python from exiting.
Every submit to a process executor is checked: a lambda or an unpicklable argument fails at
once with a message saying what can cross a process boundary.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import inspect
import multiprocessing
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ..vocabulary import EXECUTOR_KINDS
from .faults import check_count, check_picklable
from .tasks import forget_executor, warm_executor
from .threads import STOP_GRACE, stop_threads

__all__ = ["ManagedProcessPool", "make_executor", "terminate_all", "terminate_executor"]

_live: weakref.WeakSet[cf.Executor] = weakref.WeakSet()
"""Every executor this package made and has not torn down: the safety net of terminate_all."""


def terminate_all() -> int:
    """Tear down every executor still alive (end of the run, interrupts); return how many."""
    count = 0
    for ex in list(_live):
        if ex in _live:  # not already torn down with the ManagedProcessPool it belongs to
            terminate_executor(ex, wait=False)
            count += 1
    return count


# --------------------------------------------------------------------------------------------
# process workers


def _watch_parent(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])  # readable only at EOF: the parent's end closed when the parent died
    os._exit(1)


def _init_worker() -> None:
    """Initializer of every process worker made here (runs in the worker)."""
    import signal

    with contextlib.suppress(ValueError, OSError):  # not the main thread: leave them be
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # A forked worker inherits the parent's handlers, pytest-gil's SIGTERM -> Ctrl-C among
        # them; terminate() must end a worker, not raise KeyboardInterrupt in its task.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    if isinstance(sentinel, int):
        threading.Thread(
            target=_watch_parent, args=(sentinel,), name="pytest-gil-parent-watch", daemon=True
        ).start()


class _ProcessPool(cf.ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` whose workers die with their parent, and whose ``submit``
    checks that the task can be pickled (a clear ``TypeError`` instead of a pickling
    traceback from the pool's feeder thread)."""

    def submit(  # type: ignore[override,unused-ignore]
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> cf.Future[Any]:
        __tracebackhide__ = True
        check_picklable(fn, args, kwargs)
        return super().submit(fn, *args, **kwargs)

    def submit_unchecked(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> cf.Future[Any]:
        """``submit`` without the check (``run_tasks`` checks once per phase, not per task)."""
        return super().submit(fn, *args, **kwargs)


def _context(start_method: str | None) -> Any:
    __tracebackhide__ = True
    if start_method is None:
        return None
    available = multiprocessing.get_all_start_methods()
    if start_method not in available:
        raise ValueError(
            f"unknown start method {start_method!r}: the start methods available on this "
            f"platform are {', '.join(available)} (or None for the platform's default)"
        )
    return multiprocessing.get_context(start_method)


def _process_executor(workers: int, start_method: str | None) -> cf.ProcessPoolExecutor:
    __tracebackhide__ = True
    ex = _ProcessPool(
        max_workers=workers, mp_context=_context(start_method), initializer=_init_worker
    )
    _live.add(ex)
    return ex


# --------------------------------------------------------------------------------------------
# thread workers


def _worker_arguments(executor: cf.ThreadPoolExecutor, ref: Any) -> tuple[Any, ...] | None:
    """The arguments of ``concurrent.futures.thread._worker`` on this Python, or None."""
    params = tuple(inspect.signature(cf.thread._worker).parameters)
    if params == ("executor_reference", "work_queue", "initializer", "initargs"):  # 3.8–3.13
        e: Any = executor
        return (ref, e._work_queue, e._initializer, e._initargs)
    if params == ("executor_reference", "ctx", "work_queue"):  # 3.14
        e = executor
        return (ref, e._create_worker_context(), e._work_queue)
    return None  # pragma: no cover - an unknown future version: fall back to the stdlib


class _DaemonThreadPool(cf.ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose threads are daemon threads, not registered with
    ``concurrent.futures``' exit hook: a task hung in C code (``time.sleep(3600)``) cannot
    keep the interpreter from exiting once the test that started it has been torn down.
    Everything else is the stdlib's."""

    def _adjust_thread_count(self) -> None:
        e: Any = self
        if e._idle_semaphore.acquire(timeout=0):
            return

        def weakref_cb(_: Any, q: Any = e._work_queue) -> None:
            q.put(None)

        num_threads = len(e._threads)
        if num_threads >= self._max_workers:
            return
        args = _worker_arguments(self, weakref.ref(self, weakref_cb))
        if args is None:  # pragma: no cover
            super()._adjust_thread_count()  # type: ignore[misc,unused-ignore]
            return
        name = f"{e._thread_name_prefix or self}_{num_threads}"
        t = threading.Thread(name=name, target=cf.thread._worker, args=args, daemon=True)
        t.start()
        e._threads.add(t)


def _interpreter_executor(workers: int) -> cf.Executor:
    from ..profile import subinterpreter_api

    if subinterpreter_api() is None:
        import pytest

        pytest.skip(
            "executor 'interpreter' needs sub-interpreters with their own GIL "
            "(CPython 3.12+: _xxsubinterpreters, 3.13: _interpreters, 3.14: "
            "concurrent.interpreters)"
        )
    from .subinterp import InterpreterPoolExecutor

    return InterpreterPoolExecutor(max_workers=workers)


def make_executor(
    kind: str, max_workers: int, start_method: str | None = None
) -> cf.Executor:
    """A fresh executor of ``kind`` with ``max_workers`` workers.

    ``ValueError`` naming the bad value and what is allowed for an unknown ``kind`` or start
    method and for a worker count that is not a positive integer or is absurdly large.
    """
    __tracebackhide__ = True
    if kind not in EXECUTOR_KINDS:
        raise ValueError(
            f"unknown executor kind {kind!r}: expected one of {', '.join(EXECUTOR_KINDS)}"
        )
    check_count("max_workers", max_workers, kind)
    if kind == "thread":
        ex: cf.Executor = _DaemonThreadPool(
            max_workers=max_workers, thread_name_prefix="pytest-gil"
        )
    elif kind == "process":
        ex = _process_executor(max_workers, start_method)
    else:
        ex = _interpreter_executor(max_workers)
    _live.add(ex)
    return ex


# --------------------------------------------------------------------------------------------
# teardown


def _process_children(executor: cf.Executor) -> list[Any]:
    procs = getattr(executor, "_processes", None) or {}
    return list(procs.values()) if isinstance(procs, dict) else []


def _thread_children(executor: cf.Executor) -> list[threading.Thread]:
    threads = getattr(executor, "_threads", None)
    if not isinstance(threads, (set, list, tuple)):
        return []
    return [t for t in threads if isinstance(t, threading.Thread)]


def _shutdown_call(inner: cf.Executor, wait: bool, timeout: float) -> Callable[[], None]:
    try:
        accepts_timeout = "timeout" in inspect.signature(inner.shutdown).parameters
    except (TypeError, ValueError):  # pragma: no cover
        accepts_timeout = False
    if accepts_timeout:  # the sub-interpreter pool: never wait forever on a hung task
        shutdown: Any = inner.shutdown
        return lambda: shutdown(wait=wait, cancel_futures=not wait, timeout=timeout)
    return lambda: inner.shutdown(wait=wait, cancel_futures=not wait)


def terminate_executor(executor: cf.Executor, *, wait: bool = True, timeout: float = 10.0) -> None:
    """Shut ``executor`` down and make sure none of its workers survives.

    ``wait=True`` lets the running and pending tasks finish for up to ``timeout`` seconds;
    ``wait=False`` cancels the pending ones.  Then process workers still alive are terminated,
    then killed, and worker threads still running a task are stopped
    (:func:`pytest_gil.runtimes.threads.stop_thread`).  A thread blocked in C code cannot be
    stopped: a ``RuntimeWarning`` names it, and it is left running as a daemon thread.  Never blocks
    for much longer than ``timeout``.
    """
    inner = executor.inner if isinstance(executor, ManagedProcessPool) else executor
    _live.discard(executor)
    if inner is None:
        return
    _live.discard(inner)
    procs = _process_children(inner)
    threads = _thread_children(inner)
    forget_executor(inner)
    done = threading.Event()
    shutdown = _shutdown_call(inner, wait, timeout)

    def shut() -> None:
        try:
            shutdown()
        finally:
            done.set()

    # In a thread of its own: never block on a hung worker; stop the workers ourselves below.
    t = threading.Thread(target=shut, name="pytest-gil-shutdown", daemon=True)
    t.start()
    done.wait(timeout if wait else 0.5)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(2.0)
        if p.is_alive():
            p.kill()
            p.join(2.0)
    stuck = stop_threads([th for th in threads if th.is_alive()], STOP_GRACE)
    t.join(timeout if not stuck else 0.5)
    if isinstance(executor, ManagedProcessPool):
        executor.inner = None
    if stuck:
        import warnings

        warnings.warn(
            f"pytest-gil: {len(stuck)} worker thread(s) of a thread pool could not be stopped "
            f"({', '.join(th.name for th in stuck)}): a task is blocked in C code "
            "(e.g. time.sleep, a read without timeout). They keep running as daemon threads "
            "until the run ends.",
            RuntimeWarning,
            stacklevel=2,
        )


PROC_STATUS = "/proc/{pid}/status"
"""Where Linux shows a process's pending signals (``SigPnd``, ``ShdPnd``).  Without it (macOS,
Windows) a worker about to die of a pending signal is seen only once it has died (usually
within a millisecond of the signal); a task submitted in that window meets a broken pool."""


def _doomed(pid: int) -> bool:
    """A fatal signal (SIGKILL, or SIGTERM, whose action in our workers is the default) is
    pending for ``pid``: it is about to die (Linux; False where :data:`PROC_STATUS` cannot
    be read, or where there is no SIGKILL: Windows)."""
    import signal

    if not hasattr(signal, "SIGKILL"):
        return False
    try:
        with open(PROC_STATUS.format(pid=pid), encoding="ascii") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        pending = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
    except (OSError, KeyError, ValueError):
        return False
    fatal = (1 << (signal.SIGKILL - 1)) | (1 << (signal.SIGTERM - 1))
    return bool(pending & fatal)


def _broken(executor: cf.Executor, thorough: bool = True) -> bool:
    """The pool is broken, or one of its workers died (or, ``thorough``, is dying) and the
    pool has not noticed yet: a worker killed between two tests must not fail the next one."""
    if getattr(executor, "_broken", False):
        return True
    procs = _process_children(executor)
    if any(not p.is_alive() for p in procs):
        return True
    return thorough and any(_doomed(p.pid) for p in procs)


class ManagedProcessPool(cf.Executor):
    """A warm process pool that rebuilds itself after a worker died.

    Behaves as a ``concurrent.futures.Executor``; :attr:`size` workers, started with
    :attr:`start_method`.  ``submit`` on a broken pool (a worker was killed, segfaulted or
    called ``os._exit``, also when the pool has not noticed yet) first replaces it with a
    fresh, warm one.  ``submit`` checks that
    the task can be pickled.  :meth:`reset` terminates the workers (a task hung or was
    interrupted); :meth:`reset_if_busy` does so only if a task submitted earlier still runs.
    """

    def __init__(self, size: int, start_method: str | None = None) -> None:
        self.size = check_count("size", size, "process")
        _context(start_method)  # a bad start method fails here, not at the first submit
        self.start_method = start_method
        self.inner: cf.ProcessPoolExecutor | None = None
        self.rebuilds = 0
        self._lock = threading.Lock()
        self._submitted: weakref.WeakSet[cf.Future[Any]] = weakref.WeakSet()
        _live.add(self)

    @property
    def _max_workers(self) -> int:  # read by run_tasks (tasks.py)
        return self.size

    def live_executor(self, *, thorough: bool = True) -> cf.ProcessPoolExecutor:
        """The live inner pool, (re)built and warmed if needed.  ``thorough`` (before a
        measured phase) also catches a worker with a fatal signal pending (~50 µs a worker);
        ``submit`` skips that."""
        with self._lock:
            inner = self.inner
            if inner is not None and _broken(inner, thorough):
                terminate_executor(inner, wait=False)
                self.inner = inner = None
                self.rebuilds += 1
            if inner is None:
                inner = _process_executor(self.size, self.start_method)
                try:
                    warm_executor(
                        inner, self.size, ["pytest_gil.workloads", "pytest_gil.runners"]
                    )
                except BaseException:
                    terminate_executor(inner, wait=False)
                    raise
                self.inner = inner
            _live.add(self)
            return inner

    def reset(self) -> None:
        """Terminate the workers now (a task hung or was interrupted); the next ``submit``
        starts a fresh, warm pool."""
        with self._lock:
            inner, self.inner = self.inner, None
        if inner is not None:
            terminate_executor(inner, wait=False)
            self.rebuilds += 1
        _live.add(self)

    def busy(self) -> bool:
        """Whether a task submitted with :meth:`submit` is still pending or running."""
        return any(not f.done() for f in list(self._submitted))

    def reset_if_busy(self) -> bool:
        """:meth:`reset` if a task submitted earlier still runs (a test ended — failed, timed
        out — while its task was running): the next test gets idle workers.  Returns whether
        the pool was reset."""
        if not self.busy():
            return False
        self.reset()
        return True

    def warm(self, *modules: str) -> None:
        """Import ``modules`` in every worker now (outside any measured phase)."""
        warm_executor(self.live_executor(), self.size, modules)

    def submit(  # type: ignore[override,unused-ignore]
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> cf.Future[Any]:
        __tracebackhide__ = True
        check_picklable(fn, args, kwargs)
        inner = self.live_executor(thorough=False)
        submit = getattr(inner, "submit_unchecked", inner.submit)
        future: cf.Future[Any] = submit(fn, *args, **kwargs)
        self._submitted.add(future)
        return future

    def map(self, fn: Callable[..., Any], *iterables: Any, **kwargs: Any) -> Any:
        return self.live_executor(thorough=False).map(fn, *iterables, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        terminate_executor(self, wait=wait)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        inner = self.inner
        return [p.pid for p in _process_children(inner)] if inner is not None else []
