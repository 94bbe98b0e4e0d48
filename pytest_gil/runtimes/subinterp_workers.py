"""The 3.12/3.13 backend of :mod:`.subinterp`: worker threads that each own one
sub-interpreter.

:class:`PoolState` is everything the workers share — the work queue, the lock, the
:class:`WorkerInfo` of each worker, whether the pool is shut down or broken — so that the
executor itself is only a facade the garbage collector may take (:func:`release_state` then
lets the workers finish and exit).  Each worker (``_worker_main``):

1. creates an *isolated* interpreter (its own GIL) and a result channel (a memfd);
2. runs :data:`.subinterp_remote.BOOTSTRAP` in it, then the initializer if there is one;
3. takes :class:`WorkItem` s from the queue until the shutdown sentinel (``None``), running
   each with :data:`.subinterp_remote.TASK_SCRIPT` and completing its future from the outcome
   written to the channel;
4. destroys its interpreter.

A hung task cannot be interrupted: :func:`warn_hung` names it; at process exit ``_at_exit``
stops every pool and waits a little for its workers.
"""

from __future__ import annotations

import atexit
import contextlib
import marshal
import os
import pickle
import queue
import sys
import threading
import time
import warnings
import weakref
from concurrent.futures import Future
from typing import Any

from .subinterp_base import (
    PICKLE_PROTOCOL,
    BrokenInterpreterPool,
    decode,
    low_level,
    sys_path,
    transport_error,
)
from .subinterp_remote import BOOTSTRAP, SUB_FUNCTIONS, TASK_SCRIPT

__all__ = ["LIFECYCLE", "PoolState", "WorkItem", "WorkerInfo", "release_state", "warn_hung"]

_ATEXIT_TIMEOUT = 5.0
"""Seconds the exit hook waits for the workers of a pool not already reported hung."""

LIFECYCLE = threading.Lock()
"""Held while this process creates or destroys a sub-interpreter.  CPython fails now and then
to create one while another thread creates or destroys one ("RuntimeError: Failed to import
encodings module" → "InterpreterError: interpreter creation failed": cpython#128381 and
#131485, 3.13/3.14; seen in this project's CI on 3.13.0, in a 2-worker pool whose workers
start together).  One at a time costs a pool's start-up its other workers' creation time
(milliseconds each); the work itself still runs in parallel."""


class WorkItem:
    """One queued request: its future, the pickled request, whether the outcome is timed, and
    the barrier a warm-up item waits at (so that every worker takes exactly one)."""

    __slots__ = ("barrier", "future", "payload", "timed")

    def __init__(
        self,
        future: Future[Any],
        payload: bytes,
        timed: bool,
        barrier: threading.Barrier | None = None,
    ) -> None:
        self.future = future
        self.payload = payload
        self.timed = timed
        self.barrier = barrier


class WorkerInfo:
    """One worker: its thread, its interpreter, what starting it cost, what it runs now."""

    def __init__(self, index: int, thread: threading.Thread) -> None:
        self.index = index
        self.thread = thread
        self.interpreter_id: int | None = None
        self.thread_id: int | None = None
        self.create: float | None = None
        self.bootstrap: float | None = None
        self.current: str | None = None  # description of the running task, for hang reports


class PoolState:
    """Everything the workers share; the executor is a facade (so it can be collected)."""

    def __init__(
        self, api: str, max_workers: int, prefix: str, init: tuple[bytes, str] | None
    ) -> None:
        self.api = api
        self.max_workers = max_workers
        self.prefix = prefix
        self.init = init
        self.queue: queue.SimpleQueue[WorkItem | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.started = False
        self.shutdown = False
        self.broken: str | None = None
        self.workers: list[WorkerInfo] = []
        self.destroy_errors: list[str] = []
        self.barriers: weakref.WeakSet[threading.Barrier] = weakref.WeakSet()
        self.reported_hung = False
        _LIVE_STATES.add(self)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start every worker thread (once). Caller holds ``self.lock``."""
        if self.started:
            return
        self.started = True
        for index in range(self.max_workers):
            thread = threading.Thread(
                target=_worker_main,
                args=(self, index),
                name=f"{self.prefix}_{index}",
                daemon=True,
            )
            self.workers.append(WorkerInfo(index=index, thread=thread))
            thread.start()

    def mark_broken(self, reason: str, cause: BaseException | None) -> None:
        with self.lock:
            if self.broken is None:
                self.broken = reason
            for item in self.drain():
                _fail(item.future, BrokenInterpreterPool(reason), cause)
            for barrier in list(self.barriers):
                barrier.abort()  # warm-up items other workers already hold

    def drain(self) -> list[WorkItem]:
        """Take every queued work item out (a shutdown sentinel stays queued)."""
        items: list[WorkItem] = []
        sentinel = False
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                sentinel = True
                continue
            items.append(item)
            if item.barrier is not None:
                item.barrier.abort()
        if sentinel:
            self.queue.put(None)
        return items

    def stop(self, cancel_futures: bool) -> None:
        with self.lock:
            self.shutdown = True
            if cancel_futures:
                for item in self.drain():
                    item.future.cancel()
            self.queue.put(None)

    def join(self, timeout: float | None) -> list[WorkerInfo]:
        """Join workers; returns those still alive after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for w in list(self.workers):
            if w.thread is threading.current_thread():
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            w.thread.join(remaining)
        return [w for w in self.workers if w.thread.is_alive()]


def _fail(future: Future[Any], exc: BaseException, cause: BaseException | None) -> None:
    if cause is not None:
        exc.__cause__ = cause
    if future.set_running_or_notify_cancel():
        future.set_exception(exc)


def _make_fd() -> int:
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        try:
            return int(memfd_create("pytest-gil-subinterp", getattr(os, "MFD_CLOEXEC", 1)))
        except OSError:
            pass
    import tempfile

    fd, path = tempfile.mkstemp(prefix="pytest-gil-subinterp-")
    os.unlink(path)
    return fd


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks: list[bytes] = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _run_string(api: str, mod: Any, iid: Any, script: str, shared: dict[str, Any]) -> str | None:
    """Run ``script`` in interpreter ``iid``; the uncaught error's text, or None."""
    if api == "_xxsubinterpreters":
        try:
            mod.run_string(iid, script, shared)
        except mod.RunFailedError as exc:
            return str(exc)
        return None
    excinfo = mod.run_string(iid, script, shared)
    if excinfo is None:
        return None
    return str(getattr(excinfo, "errdisplay", None) or getattr(excinfo, "formatted", excinfo))


def _create_interpreter(api: str, mod: Any) -> Any:
    with LIFECYCLE:
        if api == "_xxsubinterpreters":
            return mod.create(isolated=True)  # own GIL (the default, made explicit)
        return mod.create("isolated")  # 3.13+: gil='own', no fork/exec, threads allowed


def _worker_main(state: PoolState, index: int) -> None:
    info = state.workers[index]
    mod = low_level()
    iid: Any = None
    fd = -1
    try:
        t0 = time.perf_counter()
        iid = _create_interpreter(state.api, mod)
        t1 = time.perf_counter()
        fd = _make_fd()
        boot = {
            "sys_path": sys_path(),
            "fd": fd,
            "functions": [(f.__name__, marshal.dumps(f.__code__)) for f in SUB_FUNCTIONS],
        }
        blob = pickle.dumps(boot, PICKLE_PROTOCOL)
        error = _run_string(state.api, mod, iid, BOOTSTRAP, {"_pg_boot_blob": blob})
        if error is not None:
            raise RuntimeError(f"bootstrap failed in sub-interpreter {int(iid)}:\n{error}")
        if state.init is not None:
            payload, desc = state.init
            error = _run_string(state.api, mod, iid, TASK_SCRIPT, {"_pg_in": payload})
            if error is not None:
                raise RuntimeError(f"worker machinery failed running the initializer:\n{error}")
            ok, value = decode(_read_fd(fd), False)
            if not ok:
                raise RuntimeError(
                    f"the initializer {desc} raised {type(value).__name__}: {value}"
                ) from value
        info.interpreter_id = int(iid)
        info.thread_id = threading.get_ident()
        info.create = t1 - t0
        info.bootstrap = time.perf_counter() - t1
    except BaseException as exc:
        state.mark_broken(
            f"sub-interpreter worker {index} failed to start: {type(exc).__name__}: {exc}", exc
        )
        _cleanup(state, mod, iid, fd)
        return
    try:
        while True:
            item = state.queue.get()
            if item is None:
                state.queue.put(None)  # wake the next worker
                return
            _run_item(state, mod, iid, fd, info, item)
            del item
    finally:
        _cleanup(state, mod, iid, fd)


def _run_item(
    state: PoolState, mod: Any, iid: Any, fd: int, info: WorkerInfo, item: WorkItem
) -> None:
    future = item.future
    if not future.set_running_or_notify_cancel():
        return
    try:
        if item.barrier is not None:
            item.barrier.wait()
        info.current = _describe(item.payload)
        error = _run_string(state.api, mod, iid, TASK_SCRIPT, {"_pg_in": item.payload})
        if error is not None:
            future.set_exception(transport_error(error, int(iid)))
            return
        ok, value = decode(_read_fd(fd), item.timed)
    except threading.BrokenBarrierError:
        if state.broken is not None:
            future.set_exception(BrokenInterpreterPool(state.broken))
        elif state.shutdown:
            future.set_exception(RuntimeError("the executor was shut down during warm-up"))
        else:
            future.set_exception(TimeoutError("warm-up: not every worker became free in time"))
        return
    except BaseException as exc:
        future.set_exception(transport_error(f"{type(exc).__name__}: {exc}", int(iid)))
        return
    finally:
        info.current = None
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _describe(payload: bytes) -> str:
    try:
        request = pickle.loads(payload)
    except Exception:
        return "<task>"
    if request[0] == "warm":
        return f"warm-up importing {', '.join(request[2]) or 'nothing'}"
    return f"{request[2]}.{request[3]}"


def _cleanup(state: PoolState, mod: Any, iid: Any, fd: int) -> None:
    if iid is not None:
        try:
            with LIFECYCLE:
                mod.destroy(iid)
        except Exception as exc:
            state.destroy_errors.append(f"sub-interpreter {int(iid)}: {type(exc).__name__}: {exc}")
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def release_state(state: PoolState) -> None:
    """The executor was collected without shutdown: workers finish queued work, then exit.

    Registered with ``weakref.finalize`` on the executor (it must not refer to the executor)."""
    if state.started and not state.shutdown:
        state.stop(cancel_futures=False)


_LIVE_STATES: weakref.WeakSet[PoolState] = weakref.WeakSet()


def _at_exit() -> None:
    """Process exit: stop every pool, destroy its interpreters, report hung workers."""
    for state in list(_LIVE_STATES):
        if not state.started or not any(w.thread.is_alive() for w in state.workers):
            continue
        state.stop(cancel_futures=True)
        # Workers already reported hung by shutdown(timeout=...) get a short last chance only.
        timeout = 0.2 if state.reported_hung else _ATEXIT_TIMEOUT
        hung = state.join(timeout)
        if hung and not state.reported_hung:
            warn_hung(state, hung, timeout)


atexit.register(_at_exit)


def warn_hung(state: PoolState, hung: list[WorkerInfo], timeout: float | None) -> None:
    """Warn (``RuntimeWarning``) that ``hung`` workers still run their task after shutdown."""
    state.reported_hung = True
    tasks = ", ".join(
        f"{w.thread.name} (interpreter {w.interpreter_id}) running {w.current or '?'}" for w in hung
    )
    extra = (
        " CPython 3.12 aborts at exit while a sub-interpreter still runs."
        if sys.version_info < (3, 13)
        else ""
    )
    warnings.warn(
        f"{len(hung)} sub-interpreter worker(s) still busy {timeout} s after shutdown: {tasks}. "
        "A running sub-interpreter cannot be interrupted; its daemon thread is left behind and "
        f"destroys the interpreter if the task ever returns.{extra}",
        RuntimeWarning,
        stacklevel=3,
    )
