"""Executors the fixtures hand out, and how they are torn down without leaving anything behind.

* :class:`ManagedProcessPool` — a warm ``ProcessPoolExecutor`` that rebuilds itself when a
  worker died (``BrokenProcessPool``), so one crashing test does not break the later ones;
* :func:`make_executor` — ``"thread"``, ``"process"`` or ``"interpreter"`` executors;
* :func:`terminate_executor` — cancel what is pending, stop and join every worker, even when a
  task hangs (process workers are terminated, then killed).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading
import weakref
from collections.abc import Callable
from typing import Any

from .runners import forget_executor, warm_executor

__all__ = ["ManagedProcessPool", "make_executor", "terminate_all", "terminate_executor"]

EXECUTOR_KINDS = ("thread", "process", "interpreter")

_live: weakref.WeakSet[cf.Executor] = weakref.WeakSet()
"""Every executor this package made and has not torn down: the safety net of terminate_all."""


def terminate_all() -> int:
    """Tear down every executor still alive (end of the run, interrupts); return how many."""
    count = 0
    for ex in list(_live):
        terminate_executor(ex, wait=False)
        count += 1
    return count


def _process_executor(workers: int, start_method: str | None) -> cf.ProcessPoolExecutor:
    ctx = multiprocessing.get_context(start_method) if start_method else None
    ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    _live.add(ex)
    return ex


def _interpreter_executor(workers: int) -> cf.Executor:
    from .profile import subinterpreter_api

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
    """A fresh executor of ``kind`` with ``max_workers`` workers."""
    if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
        raise ValueError(f"max_workers must be a positive integer, got {max_workers!r}")
    if kind == "thread":
        ex: cf.Executor = cf.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="pytest-gil"
        )
    elif kind == "process":
        ex = _process_executor(max_workers, start_method)
    elif kind == "interpreter":
        ex = _interpreter_executor(max_workers)
    else:
        raise ValueError(
            f"unknown executor kind {kind!r}: expected one of {', '.join(EXECUTOR_KINDS)}"
        )
    _live.add(ex)
    return ex


def _process_children(executor: cf.Executor) -> list[Any]:
    procs = getattr(executor, "_processes", None) or {}
    return list(procs.values()) if isinstance(procs, dict) else []


def terminate_executor(executor: cf.Executor, *, wait: bool = True, timeout: float = 10.0) -> None:
    """Shut ``executor`` down and make sure none of its workers survives.

    ``wait=True`` lets running tasks finish for up to ``timeout`` seconds; pending futures are
    cancelled either way.  Process workers still alive afterwards are terminated, then killed.
    """
    inner = executor.inner if isinstance(executor, ManagedProcessPool) else executor
    _live.discard(executor)
    if inner is None:
        return
    _live.discard(inner)
    procs = _process_children(inner)
    forget_executor(inner)
    if not wait or procs:
        # Process pools: never block on a possibly hung worker; stop them ourselves below.
        done = threading.Event()

        def shut() -> None:
            try:
                inner.shutdown(wait=wait, cancel_futures=True)
            finally:
                done.set()

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
        t.join(timeout)
    else:
        inner.shutdown(wait=True, cancel_futures=True)
    if isinstance(executor, ManagedProcessPool):
        executor.inner = None


class ManagedProcessPool(cf.Executor):
    """A warm process pool that rebuilds itself after a worker died.

    Behaves as a ``concurrent.futures.Executor``; :attr:`size` workers, started with
    :attr:`start_method`.  ``submit`` on a broken pool (a worker was killed, segfaulted or
    called ``os._exit``) first replaces it with a fresh, warm one.
    """

    def __init__(self, size: int, start_method: str | None = None) -> None:
        self.size = size
        self.start_method = start_method
        self.inner: cf.ProcessPoolExecutor | None = None
        self.rebuilds = 0
        self._lock = threading.Lock()
        _live.add(self)

    @property
    def _max_workers(self) -> int:  # read by runners.run_tasks
        return self.size

    def live_executor(self) -> cf.ProcessPoolExecutor:
        """The live inner pool, (re)built and warmed if needed."""
        with self._lock:
            inner = self.inner
            if inner is not None and getattr(inner, "_broken", False):
                terminate_executor(inner, wait=False)
                self.inner = inner = None
                self.rebuilds += 1
            if inner is None:
                inner = _process_executor(self.size, self.start_method)
                warm_executor(inner, self.size, ["pytest_gil.workloads", "pytest_gil.runners"])
                self.inner = inner
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

    def warm(self, *modules: str) -> None:
        """Import ``modules`` in every worker now (outside any measured phase)."""
        warm_executor(self.live_executor(), self.size, modules)

    def submit(  # type: ignore[override]
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> cf.Future[Any]:
        return self.live_executor().submit(fn, *args, **kwargs)

    def map(self, fn: Callable[..., Any], *iterables: Any, **kwargs: Any) -> Any:
        return self.live_executor().map(fn, *iterables, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        terminate_executor(self, wait=wait)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        inner = self.inner
        return [p.pid for p in _process_children(inner)] if inner is not None else []
