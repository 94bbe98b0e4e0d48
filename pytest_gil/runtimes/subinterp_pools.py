"""The executor classes of :mod:`.subinterp`, one per backend, and the API they share.

* :class:`PoolAPI` — ``submit`` / ``submit_timed`` / ``run_timed`` / ``warm`` over two backend
  hooks, ``_dispatch(payload, timed)`` and ``_warm_workers(modules, timeout)``;
* :class:`OwnInterpreterPool` — CPython 3.12/3.13: the worker threads of
  :mod:`.subinterp_workers`, each owning one isolated sub-interpreter;
* :class:`StdlibGlue` — CPython 3.14: mixed in before ``concurrent.futures.
  InterpreterPoolExecutor`` (or, in the tests, a ``ThreadPoolExecutor``); every task is
  :func:`.subinterp_remote.sub_execute` pickled by reference, so results, errors and timing
  behave as on the 3.12/3.13 backend.

:mod:`.subinterp` picks the one that fits this Python as ``InterpreterPoolExecutor``.
"""

from __future__ import annotations

import importlib
import itertools
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FuturesTimeoutError
from typing import Any, ParamSpec, TypeVar, cast

from ..profile import subinterpreter_api
from .subinterp_base import (
    CPYTHON_KWTUPLE_BUG,
    BrokenInterpreterPool,
    SubinterpretersUnavailable,
    TimedResult,
    Warmup,
    WorkerWarmup,
    call_request,
    decode,
    default_workers,
    pickle_args,
    reference,
    sys_path,
    unavailable_reason,
    warm_request,
)
from .subinterp_remote import sub_execute
from .subinterp_workers import PoolState, WorkItem, release_state, warn_hung

__all__ = ["DEFAULT_LEAD", "LinkedFuture", "OwnInterpreterPool", "PoolAPI", "StdlibGlue"]

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_LEAD = 0.02
"""Seconds between submitting a batch in :meth:`PoolAPI.run_timed` and its common start."""


class PoolAPI(Executor):
    """What every backend offers: submit / submit_timed / run_timed / warm / shutdown."""

    _max_workers: int
    _sync_sys_path: bool = True
    _warmed: set[str]

    # backend hooks ---------------------------------------------------------------------
    def _dispatch(self, payload: bytes, timed: bool) -> Future[Any]:
        raise NotImplementedError

    def _warm_workers(self, modules: Sequence[str], timeout: float | None) -> list[WorkerWarmup]:
        raise NotImplementedError

    # public -------------------------------------------------------------------------------
    @property
    def max_workers(self) -> int:
        return self._max_workers

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` in one of the sub-interpreters.

        ``fn`` must be a module-level function (importable in the sub-interpreter by module +
        qualname) and the arguments and result picklable; TypeError up front otherwise.
        """
        ref = reference(fn)
        blob = pickle_args(fn, args, kwargs)
        payload = call_request(ref, blob, False, None, self._sync_sys_path)
        return cast("Future[T]", self._dispatch(payload, False))

    def submit_timed(
        self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[TimedResult]:
        """Like :meth:`submit`; the future's value is a :class:`TimedResult`."""
        ref = reference(fn)
        blob = pickle_args(fn, args, kwargs)
        payload = call_request(ref, blob, True, None, self._sync_sys_path)
        return cast("Future[TimedResult]", self._dispatch(payload, True))

    def run_timed(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        tasks: int,
        lead: float = DEFAULT_LEAD,
        timeout: float | None = None,
    ) -> list[TimedResult]:
        """Run ``tasks`` copies of ``fn(*args, **kwargs)`` and wait for all of them.

        Warms ``fn``'s module in every worker first if needed. Every task waits inside its
        sub-interpreter until a common ``perf_counter()`` deadline ``lead`` seconds after
        submission, so the first ``min(tasks, max_workers)`` start together; later tasks start
        as workers free up. Returns the records in submission order. If tasks raised, raises the
        first one's exception (after every task finished: nothing is left running).
        ``timeout`` (seconds, for the whole batch) raises ``TimeoutError``; tasks still running
        then are the caller's to clean up with ``shutdown(timeout=...)``.
        """
        if tasks < 1:
            raise ValueError("tasks must be >= 1")
        ref = reference(fn)
        if ref[0] not in self._warmed:
            self.warm([ref[0]], timeout=timeout)
        blob = pickle_args(fn, tuple(args), dict(kwargs or {}))
        start_at = time.perf_counter() + lead
        futures = [
            self._dispatch(call_request(ref, blob, True, start_at, self._sync_sys_path), True)
            for _ in range(tasks)
        ]
        deadline = None if timeout is None else time.monotonic() + timeout
        results: list[TimedResult] = []
        first_error: BaseException | None = None
        for fut in futures:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                results.append(fut.result(timeout=remaining))
            except FuturesTimeoutError:
                raise TimeoutError(
                    f"{tasks} task(s) of {ref[0]}.{ref[1]} not done after {timeout} s"
                ) from None
            except (Exception, CancelledError) as exc:  # a task's error; Ctrl-C propagates
                if first_error is None:
                    first_error = exc
        if first_error is not None:
            raise first_error
        return results

    def warm(self, modules: Iterable[str] = (), *, timeout: float | None = None) -> Warmup:
        """Start every worker and import ``modules`` in each of its interpreters; blocks.

        Call it before a measured phase. Returns what it cost (per worker: interpreter
        creation, bootstrap, imports). ``timeout`` raises ``TimeoutError`` when a worker is
        still busy with an earlier task.
        """
        names = list(modules)
        for name in names:
            # In the parent first: a missing module fails here, plainly; and on CPython
            # 3.12.0-3.12.3 import-time keyword calls into C must happen in the main
            # interpreter first (see CPYTHON_KWTUPLE_BUG).
            importlib.import_module(name)
        t0 = time.perf_counter()
        workers = self._warm_workers(names, timeout)
        wall = time.perf_counter() - t0
        self._warmed.update(names)
        return Warmup(wall=wall, workers=workers)


# --------------------------------------------------------------------------- 3.12 / 3.13 backend


class OwnInterpreterPool(PoolAPI):
    """Executor over ``_interpreters`` (3.13) / ``_xxsubinterpreters`` (3.12)."""

    _counter = itertools.count().__next__

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        api = subinterpreter_api()
        if api is None:
            raise SubinterpretersUnavailable(unavailable_reason())
        if CPYTHON_KWTUPLE_BUG:
            importlib.import_module("hashlib")  # the commonest trigger, made safe
        if max_workers is None:
            max_workers = default_workers()
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        init: tuple[bytes, str] | None = None
        if initializer is not None:
            ref = reference(initializer)
            blob = pickle_args(initializer, tuple(initargs), {})
            init = (call_request(ref, blob, False, None, True), f"{ref[0]}.{ref[1]}")
        self._max_workers = max_workers
        self._warmed = set()
        prefix = thread_name_prefix or f"InterpreterPoolExecutor-{self._counter()}"
        self._state = PoolState(api, max_workers, prefix, init)
        weakref.finalize(self, release_state, self._state).atexit = False

    def _dispatch(self, payload: bytes, timed: bool) -> Future[Any]:
        state = self._state
        with state.lock:
            if state.broken is not None:
                raise BrokenInterpreterPool(state.broken)
            if state.shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future[Any] = Future()
            state.queue.put(WorkItem(future, payload, timed))
            state.start()
            return future

    def _warm_workers(self, modules: Sequence[str], timeout: float | None) -> list[WorkerWarmup]:
        state = self._state
        n = state.max_workers
        barrier = threading.Barrier(n, timeout=timeout)
        payload = warm_request(modules, None, True)
        futures: list[Future[Any]] = []
        with state.lock:
            if state.broken is not None:
                raise BrokenInterpreterPool(state.broken)
            if state.shutdown:
                raise RuntimeError("cannot warm an executor after shutdown")
            state.barriers.add(barrier)
            for _ in range(n):
                future: Future[Any] = Future()
                state.queue.put(WorkItem(future, payload, False, barrier))
                futures.append(future)
            state.start()
        results = [future.result() for future in futures]
        by_thread = {w.thread_id: w for w in state.workers}
        records: list[WorkerWarmup] = []
        for iid, tid, took in results:
            w = by_thread.get(tid)
            records.append(
                WorkerWarmup(
                    interpreter_id=iid,
                    thread_id=tid,
                    create=w.create if w else None,
                    bootstrap=w.bootstrap if w else None,
                    imports=took,
                )
            )
        return sorted(records, key=lambda r: r.interpreter_id)

    def interpreter_ids(self) -> list[int]:
        """Ids of the interpreters this executor's workers own (started ones)."""
        return sorted(w.interpreter_id for w in self._state.workers if w.interpreter_id is not None)

    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False, timeout: float | None = None
    ) -> None:
        """Stop the workers; each destroys its interpreter after its current task.

        ``wait`` joins the threads — for at most ``timeout`` seconds when given: still-running
        (hung) tasks are then reported with a RuntimeWarning and left behind (see module doc).
        """
        state = self._state
        state.stop(cancel_futures)
        if wait:
            hung = state.join(timeout)
            if hung:
                warn_hung(state, hung, timeout)
        if state.destroy_errors:
            errors, state.destroy_errors = state.destroy_errors, []
            warnings.warn(
                "could not destroy sub-interpreter(s): " + "; ".join(errors),
                RuntimeWarning,
                stacklevel=2,
            )


# --------------------------------------------------------------------------- 3.14 glue


class LinkedFuture(Future[Any]):
    """Outer future of the stdlib-backed pool: decodes the inner one, cancels it too."""

    def __init__(self, inner: Future[Any], timed: bool) -> None:
        super().__init__()
        self._inner = inner
        self._timed = timed
        inner.add_done_callback(self._transfer)

    def cancel(self) -> bool:
        if not self._inner.cancel() and not self._inner.cancelled():
            return False
        return super().cancel()

    def _transfer(self, inner: Future[Any]) -> None:
        if inner.cancelled():
            super().cancel()
            return
        if not self.set_running_or_notify_cancel():
            return
        exc = inner.exception()
        if exc is not None:
            self.set_exception(exc)
            return
        ok, value = decode(inner.result(), self._timed)
        if ok:
            self.set_result(value)
        else:
            self.set_exception(value)


def _initializer_code(
    sync_path: bool, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> str:
    """Source run once in each new interpreter of the stdlib pool: set ``sys.path``, then
    run ``initializer(*initargs)`` through :func:`.subinterp_remote.sub_execute`."""
    lines = ["import sys"]
    if sync_path:
        lines.append(f"sys.path[:] = {sys_path()!r}")
    if initializer is not None:
        ref = reference(initializer)
        blob = pickle_args(initializer, tuple(initargs), {})
        req = call_request(ref, blob, False, None, sync_path)
        lines += [
            "import pickle",
            f"from {sub_execute.__module__} import {sub_execute.__name__} as _pg_execute",
            f"_s, _v, _t = pickle.loads(_pg_execute({req!r}))",
            "if _s != 'ok': raise RuntimeError('initializer failed:\\n' + _v[4])",
        ]
    return "\n".join(lines)


class StdlibGlue(PoolAPI):
    """Our API over a ``ThreadPoolExecutor``-shaped stdlib pool (3.14's InterpreterPoolExecutor).

    Mixed in before the stdlib class; every task is ``sub_execute(payload)`` pickled by
    reference, so results, errors and timing behave as on the 3.12/3.13 backend.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if max_workers is None:
            max_workers = default_workers()
        code = _initializer_code(self._sync_sys_path, initializer, initargs)
        self._warmed = set()
        base_init = cast(Any, super()).__init__
        base_init(max_workers, thread_name_prefix, exec, (code, {}))

    def _dispatch(self, payload: bytes, timed: bool) -> Future[Any]:
        inner = super(PoolAPI, self).submit(sub_execute, payload)
        return LinkedFuture(inner, timed)

    def _warm_workers(self, modules: Sequence[str], timeout: float | None) -> list[WorkerWarmup]:
        # The stdlib pool starts a thread per submit while none is idle; holding each warm-up
        # task for a moment makes every worker take one. Checked by thread id, retried.
        deadline = None if timeout is None else time.monotonic() + timeout
        hold = 0.05
        records: dict[int, WorkerWarmup] = {}
        for _ in range(6):
            payload = warm_request(modules, time.perf_counter() + hold, self._sync_sys_path)
            futures = [self._dispatch(payload, False) for _ in range(self._max_workers)]
            records = {}
            for fut in futures:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    iid, tid, took = fut.result(timeout=remaining)
                except FuturesTimeoutError:
                    raise TimeoutError("warm-up: workers not free in time") from None
                records[tid] = WorkerWarmup(iid, tid, None, None, took)
            if len(records) >= self._max_workers:
                break
            hold *= 2
        return sorted(records.values(), key=lambda r: (r.interpreter_id, r.thread_id))

    def interpreter_ids(self) -> list[int]:
        return []  # not tracked by the stdlib pool; see warm()'s records

    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False, timeout: float | None = None
    ) -> None:
        super(PoolAPI, self).shutdown(wait=False, cancel_futures=cancel_futures)
        if not wait:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in list(getattr(self, "_threads", ())):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            t.join(remaining)
        hung = [t for t in getattr(self, "_threads", ()) if t.is_alive()]
        if hung:
            warnings.warn(
                f"{len(hung)} sub-interpreter worker(s) still busy {timeout} s after shutdown "
                f"({', '.join(t.name for t in hung)}); a running sub-interpreter cannot be "
                "interrupted",
                RuntimeWarning,
                stacklevel=2,
            )
