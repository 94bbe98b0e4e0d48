"""Sub-interpreter executor: real GIL-free parallelism on CPython 3.12+ (PEP 684/734).

Which API exists is told by :func:`subinterpreter_api`:

* ``"concurrent.interpreters"`` — CPython 3.14: :class:`InterpreterPoolExecutor` subclasses the
  stdlib ``concurrent.futures.InterpreterPoolExecutor``.
* ``"_interpreters"`` (3.13) and ``"_xxsubinterpreters"`` (3.12): :class:`InterpreterPoolExecutor`
  is built here — ``max_workers`` daemon OS threads, each owning one sub-interpreter created with
  the *isolated* config, which has its own GIL (``gil='own'``; on 3.12 ``create(isolated=True)``,
  the default). Two workers running a pure-Python loop reach process CPU/wall ≈ 2.
* ``None`` — 3.10/3.11, PyPy…: constructing the executor raises :class:`SubinterpretersUnavailable`
  (``unavailable_reason()`` gives the text for a skip).

What runs in a sub-interpreter is a **module-level callable**, sent by reference (module +
qualname, imported inside the sub-interpreter) with pickled arguments; the result comes back
pickled. ``sys.path`` in the sub-interpreter is set to the parent's before every call, so project
modules import. An exception raised by the callable comes back from ``future.result()`` as the
original exception (when its class is importable and it unpickles) with ``__cause__`` set to a
:class:`SubinterpreterError` carrying the sub-interpreter's formatted traceback, or else as a
:class:`SubinterpreterError` itself. :func:`remote_traceback` finds the text in either case.

Used by :func:`pytest_gil.run_tasks` (the ``"interpreter"`` kind)::

    with InterpreterPoolExecutor(max_workers=w) as ex:
        ex.warm([fn.__module__])                      # create + import: outside the phase
        recs = ex.run_timed(fn, args, tasks=k)        # list[TimedResult], submission order
    # TaskRecord(index=i, start=r.start, end=r.end, cpu=r.cpu, pid=r.pid,
    #            thread_id=r.thread_id, interpreter_id=r.interpreter_id, result=r.result)
    # phase: start = min(r.start), end = max(r.end), wall = end - start, cpu = sum(r.cpu)

``run_timed`` starts every task at a common ``time.perf_counter()`` deadline (``lead`` seconds
after submission; the clock is process-wide, so it is shared by all interpreters): the
cross-interpreter equivalent of a start barrier. Take the phase's wall time from the records,
not from the parent's clock around the call, which also holds the lead and the dispatch.

Warm-up: ``warm(modules)`` starts every worker (interpreter creation + bootstrap), then imports
``modules`` in each interpreter, and reports what that cost. ``run_timed`` warms ``fn``'s module
itself when it has not been warmed. Plain ``submit`` never warms: on a cold executor the first
submit starts the workers, and a task imports its module before its clock starts, so the timed
fields of :class:`TimedResult` never include creation or imports either way.

Limits: a sub-interpreter running a hung function cannot be interrupted or killed.
``shutdown(timeout=…)`` returns after the timeout with a :class:`RuntimeWarning` naming the hung
tasks and leaves their (daemon) threads behind; each destroys its interpreter if its task ever
returns. At process exit CPython 3.12 then aborts ("Fatal Python error: PyInterpreterState_Delete:
remaining subinterpreters", exit status 134) — 3.13 exits normally; on 3.14 the stdlib pool's
exit hook joins its threads, so a hung task blocks exit. Functions defined in ``__main__``,
lambdas, nested functions and bound methods are rejected up front (a sub-interpreter cannot import
them). Extension modules without multi-phase init (e.g. numpy today) cannot be imported in an
isolated sub-interpreter; the import error comes back as a :class:`SubinterpreterError`.
Module-level state of imported modules persists across tasks run by the same interpreter.
CPython 3.12.0–3.12.3 can abort at exit after a sub-interpreter made the first keyword call into
a C function (gh-119213, fixed in 3.12.4): see :data:`CPYTHON_KWTUPLE_BUG` for the mitigation.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import importlib
import importlib.util
import itertools
import marshal
import os
import pickle
import queue
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FuturesTimeoutError
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

from ..profile import subinterpreter_api

__all__ = [
    "CPYTHON_KWTUPLE_BUG",
    "BrokenInterpreterPool",
    "InterpreterPoolExecutor",
    "SubinterpreterError",
    "SubinterpretersUnavailable",
    "TimedResult",
    "Warmup",
    "WorkerWarmup",
    "current_interpreter_id",
    "list_interpreters",
    "remote_traceback",
    "subinterpreter_api",
    "unavailable_reason",
]

P = ParamSpec("P")
T = TypeVar("T")

_REJECT = "must be a module-level function with picklable arguments"
CPYTHON_KWTUPLE_BUG: bool = sys.implementation.name == "cpython" and (
    (3, 12) <= sys.version_info[:3] < (3, 12, 4)
)
"""True on CPython 3.12.0–3.12.3 (CPython gh-119213, fixed in 3.12.4).

There, the first keyword-argument call of an extension-module function (Argument Clinic) made
inside a sub-interpreter caches a tuple allocated by that interpreter; after the interpreter is
destroyed the process aborts at exit ("free(): invalid pointer"). ``import hashlib`` does such a
call, and so does e.g. ``zlib.compress(data, level=6)``. A call made in the main interpreter
first is safe, so: ``warm()`` imports its modules in the parent before the sub-interpreters,
the executor imports ``hashlib`` in the parent on these versions, and a task function should be
run once in the main interpreter before sub-interpreters run it (the serial phase does that).
"""

_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
_DEFAULT_LEAD = 0.02
_ATEXIT_TIMEOUT = 5.0


# --------------------------------------------------------------------------- API detection


def unavailable_reason() -> str | None:
    """``None`` when :class:`InterpreterPoolExecutor` works here, else why not (a skip reason)."""
    if subinterpreter_api() is not None:
        return None
    impl = sys.implementation.name
    version = ".".join(str(v) for v in sys.version_info[:3])
    return (
        f"no sub-interpreter API on {impl} {version}: sub-interpreters with their own GIL need "
        "CPython >= 3.12 (_xxsubinterpreters on 3.12, _interpreters on 3.13, "
        "concurrent.interpreters on 3.14)"
    )


def _low_level() -> Any:
    """The low-level module: ``_interpreters`` (3.13+) or ``_xxsubinterpreters`` (3.12)."""
    try:
        return importlib.import_module("_interpreters")
    except ImportError:
        return importlib.import_module("_xxsubinterpreters")


def _interp_int(value: Any) -> int:
    if isinstance(value, tuple):  # (id, whence) on 3.13+
        value = value[0]
    if hasattr(value, "id") and not isinstance(value, int):  # concurrent.interpreters.Interpreter
        value = value.id
    return int(value)


def list_interpreters() -> list[int]:
    """Ids of every interpreter alive in this process (``[0]`` where there is no API)."""
    if subinterpreter_api() is None:
        return [0]
    return sorted(_interp_int(x) for x in _low_level().list_all())


def current_interpreter_id() -> int:
    """Id of the interpreter running the caller (0 = main, also where there is no API)."""
    return _sub_interp_id()


# --------------------------------------------------------------------------- errors and results


class SubinterpretersUnavailable(RuntimeError):
    """This Python has no sub-interpreter API (see :func:`unavailable_reason`)."""


class BrokenInterpreterPool(BrokenExecutor):
    """A worker failed to start (interpreter creation, bootstrap or initializer failed)."""


class SubinterpreterError(RuntimeError):
    """An exception raised inside a sub-interpreter.

    Raised as is when the original exception could not be brought back (its class is not
    importable, it does not pickle, or it is not an ``Exception``, e.g. ``SystemExit``), else set
    as the ``__cause__`` of the re-raised original. ``stage`` says where it happened: ``"call"``
    (the function raised), ``"import"`` (resolving the function), ``"arguments"`` (unpickling the
    arguments), ``"result"`` (pickling the result), ``"transport"`` (the machinery itself).
    """

    def __init__(
        self,
        exc_type: str,
        message: str,
        remote_traceback: str,
        interpreter_id: int | None = None,
        stage: str = "call",
    ) -> None:
        super().__init__(exc_type, message, remote_traceback, interpreter_id, stage)
        self.exc_type = exc_type
        self.message = message
        self.remote_traceback = remote_traceback
        self.interpreter_id = interpreter_id
        self.stage = stage

    @property
    def tb(self) -> str:
        """Alias of :attr:`remote_traceback` (the name ProcessPoolExecutor's cause uses)."""
        return self.remote_traceback

    def __str__(self) -> str:
        where = (
            f"sub-interpreter {self.interpreter_id}"
            if self.interpreter_id is not None
            else "a sub-interpreter"
        )
        stage = "" if self.stage == "call" else f" ({self.stage} failed)"
        head = f"{self.exc_type}: {self.message}" if self.message else self.exc_type
        text = f"{head}{stage} in {where}"
        if self.remote_traceback:
            text += f'\n\nRemote traceback:\n"""\n{self.remote_traceback.rstrip()}\n"""'
        return text


def remote_traceback(exc: BaseException) -> str | None:
    """The sub-interpreter's formatted traceback carried by ``exc`` or its ``__cause__``."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, SubinterpreterError):
            return cur.remote_traceback
        cur = cur.__cause__
    return None


class TimedResult(NamedTuple):
    """One task's result and timing, measured inside the sub-interpreter around the call."""

    result: Any
    start: float  # time.perf_counter() just before the call (process-wide clock)
    end: float  # time.perf_counter() just after it
    cpu: float  # time.thread_time() spent in the call (this task only)
    pid: int
    thread_id: int  # threading.get_ident() of the OS thread that ran it
    interpreter_id: int  # 0 = main


class WorkerWarmup(NamedTuple):
    """What one worker's start cost (seconds; None where the backend does not say)."""

    interpreter_id: int
    thread_id: int
    create: float | None  # creating the interpreter
    bootstrap: float | None  # sys.path + worker code + initializer
    imports: float  # importing the warmed modules (0 when already imported)


class Warmup(NamedTuple):
    """Result of :meth:`InterpreterPoolExecutor.warm`."""

    wall: float  # seconds warm() took, parent's clock
    workers: list[WorkerWarmup]  # one per worker, by interpreter id


# --------------------------------------------------------------------------- sub-interpreter side
#
# The ``_sub_*`` functions run inside the sub-interpreters. On 3.12/3.13 their code objects are
# marshalled into each interpreter at bootstrap (so a worker does not import this module and its
# dependencies: creation + bootstrap stays ~15 ms); on 3.14 ``_sub_execute`` is pickled by
# reference. They may use only the globals os, sys, pickle, time, _thread and each other, and
# take no default arguments.


def _sub_interp_id() -> int:
    mod = sys.modules.get("_interpreters") or sys.modules.get("_xxsubinterpreters")
    if mod is None:
        try:
            mod = __import__("_interpreters")
        except ImportError:
            try:
                mod = __import__("_xxsubinterpreters")
            except ImportError:
                return 0
    cur = mod.get_current()
    if isinstance(cur, tuple):
        cur = cur[0]
    return int(cur)


def _sub_resolve(module: str, qualname: str) -> Any:
    __import__(module)
    obj: Any = sys.modules[module]
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _sub_error(exc: BaseException, stage: str) -> bytes:
    import traceback

    tb = exc.__traceback__
    if stage == "call" and tb is not None and tb.tb_next is not None:
        tb = tb.tb_next  # drop _sub_execute's own frame
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    blob: bytes | None
    try:
        blob = pickle.dumps(exc, 4)
    except BaseException:
        blob = None
    cls = type(exc)
    info = (stage, cls.__module__, cls.__qualname__, message, text, blob, _sub_interp_id())
    return pickle.dumps(("err", info, None), 4)


def _sub_wait_until(deadline: float) -> None:
    remaining = deadline - time.perf_counter()
    if remaining > 0.002:
        time.sleep(remaining - 0.001)
    while time.perf_counter() < deadline:
        pass


def _sub_execute(payload: bytes) -> bytes:
    """Run one request; always returns a pickled ``("ok", value, timing)`` or ``("err", ...)``."""
    stage = "transport"
    try:
        request = pickle.loads(payload)
        kind = request[0]
        sys_path = request[1]
        if sys_path is not None and sys.path != sys_path:
            sys.path[:] = sys_path
        timing = None
        if kind == "warm":
            stage = "import"
            t0 = time.perf_counter()
            for name in request[2]:
                __import__(name)
            took = time.perf_counter() - t0
            if request[3] is not None:
                _sub_wait_until(request[3])
            value: Any = (_sub_interp_id(), _thread.get_ident(), took)
        else:
            module, qualname, blob, timed, start_at = request[2:7]
            stage = "import"
            fn = _sub_resolve(module, qualname)
            stage = "arguments"
            args, kwargs = pickle.loads(blob)
            stage = "call"
            if start_at is not None:
                _sub_wait_until(start_at)
            if timed:
                ident = _thread.get_ident()
                iid = _sub_interp_id()
                start = time.perf_counter()
                cpu0 = time.thread_time()
                value = fn(*args, **kwargs)
                cpu1 = time.thread_time()
                end = time.perf_counter()
                timing = (start, end, cpu1 - cpu0, os.getpid(), ident, iid)
            else:
                value = fn(*args, **kwargs)
    except BaseException as exc:
        return _sub_error(exc, stage)
    try:
        return pickle.dumps(("ok", value, timing), 4)
    except BaseException as exc:
        return _sub_error(exc, "result")


def _sub_write(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        offset += os.pwrite(fd, view[offset:], offset)


_SUB_FUNCTIONS: tuple[Callable[..., Any], ...] = (
    _sub_interp_id,
    _sub_resolve,
    _sub_error,
    _sub_wait_until,
    _sub_execute,
    _sub_write,
)

_BOOTSTRAP = """\
import sys, os, pickle, time, marshal, _thread
_pg_boot = pickle.loads(_pg_boot_blob)
sys.path[:] = _pg_boot["sys_path"]
_pg_ns = {"__name__": "pytest_gil.runtimes.subinterp", "__builtins__": __builtins__, "os": os,
          "sys": sys, "pickle": pickle, "time": time, "_thread": _thread}
for _pg_name, _pg_code in _pg_boot["functions"]:
    _pg_ns[_pg_name] = type(lambda: 0)(marshal.loads(_pg_code), _pg_ns, _pg_name)
def _pg_call(payload, _fd=_pg_boot["fd"], _ex=_pg_ns["_sub_execute"], _wr=_pg_ns["_sub_write"]):
    _wr(_fd, _ex(payload))
del _pg_boot, _pg_boot_blob, _pg_name, _pg_code
"""

_TASK_SCRIPT = "_pg_call(_pg_in)"


# --------------------------------------------------------------------------- parent side helpers


def _reference(fn: Callable[..., Any]) -> tuple[str, str]:
    """(module, qualname) by which a sub-interpreter can import ``fn``, or TypeError."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not callable(fn):
        raise TypeError(f"{fn!r} is not callable")
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(
            f"{fn!r} cannot run in a sub-interpreter: it {_REJECT} "
            "(it has no __module__/__qualname__ to import it by)"
        )
    if "<lambda>" in qualname:
        what = "a lambda"
    elif "<locals>" in qualname:
        what = "a function defined inside another function"
    elif module == "__main__":
        what = "defined in __main__, which a sub-interpreter cannot import"
    else:
        what = ""
        try:
            target = _sub_resolve(module, qualname)
        except Exception:
            what = f"not importable as {module}.{qualname}"
        else:
            if target is not fn and target != fn:
                what = f"not the object found at {module}.{qualname} (a bound method?)"
    if what:
        raise TypeError(f"{fn!r} cannot run in a sub-interpreter: it {_REJECT} (got {what})")
    return module, qualname


def _pickle_args(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    try:
        return pickle.dumps((args, kwargs), _PICKLE_PROTOCOL)
    except Exception as exc:
        name = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(
            f"cannot send the arguments of {name} to a sub-interpreter: it {_REJECT} ({exc})"
        ) from exc


def _sys_path() -> list[str]:
    return [p for p in sys.path if isinstance(p, str)]


def _call_request(
    ref: tuple[str, str], blob: bytes, timed: bool, start_at: float | None, sync_path: bool
) -> bytes:
    request = ("call", _sys_path() if sync_path else None, ref[0], ref[1], blob, timed, start_at)
    return pickle.dumps(request, _PICKLE_PROTOCOL)


def _warm_request(modules: Sequence[str], hold_until: float | None, sync_path: bool) -> bytes:
    request = ("warm", _sys_path() if sync_path else None, tuple(modules), hold_until)
    return pickle.dumps(request, _PICKLE_PROTOCOL)


def _add_note(exc: BaseException, note: str) -> None:
    add = getattr(exc, "add_note", None)
    if add is not None:
        add(note)


def _decode(data: bytes, timed: bool) -> tuple[bool, Any]:
    """Outcome bytes -> (True, value) or (False, exception to raise)."""
    try:
        status, value, timing = pickle.loads(data)
    except Exception as exc:
        return False, SubinterpreterError(
            type(exc).__name__,
            f"the result could not be unpickled in the parent: {exc}",
            "",
            None,
            "result",
        )
    if status == "ok":
        if timed:
            return True, TimedResult(value, *timing)
        return True, value
    stage, tmod, tqual, message, text, blob, iid = value
    exc_type = tqual if tmod == "builtins" else f"{tmod}.{tqual}"
    err = SubinterpreterError(exc_type, message, text, iid, stage)
    if stage == "call" and blob is not None:
        try:
            original = pickle.loads(blob)
        except Exception:
            original = None
        if isinstance(original, Exception):
            original.__cause__ = err
            return False, original
    return False, err


def _transport_error(text: str, iid: int | None) -> SubinterpreterError:
    return SubinterpreterError(
        "RuntimeError", "the sub-interpreter worker failed", text, iid, "transport"
    )


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- the common API


class _PoolAPI(Executor):
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
        ref = _reference(fn)
        blob = _pickle_args(fn, args, kwargs)
        payload = _call_request(ref, blob, False, None, self._sync_sys_path)
        return cast("Future[T]", self._dispatch(payload, False))

    def submit_timed(
        self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[TimedResult]:
        """Like :meth:`submit`; the future's value is a :class:`TimedResult`."""
        ref = _reference(fn)
        blob = _pickle_args(fn, args, kwargs)
        payload = _call_request(ref, blob, True, None, self._sync_sys_path)
        return cast("Future[TimedResult]", self._dispatch(payload, True))

    def run_timed(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        tasks: int,
        lead: float = _DEFAULT_LEAD,
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
        ref = _reference(fn)
        if ref[0] not in self._warmed:
            self.warm([ref[0]], timeout=timeout)
        blob = _pickle_args(fn, tuple(args), dict(kwargs or {}))
        start_at = time.perf_counter() + lead
        futures = [
            self._dispatch(_call_request(ref, blob, True, start_at, self._sync_sys_path), True)
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


class _WorkItem:
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


class _WorkerInfo:
    def __init__(self, index: int, thread: threading.Thread) -> None:
        self.index = index
        self.thread = thread
        self.interpreter_id: int | None = None
        self.thread_id: int | None = None
        self.create: float | None = None
        self.bootstrap: float | None = None
        self.current: str | None = None  # description of the running task, for hang reports


class _PoolState:
    """Everything the workers share; the executor is a facade (so it can be collected)."""

    def __init__(
        self, api: str, max_workers: int, prefix: str, init: tuple[bytes, str] | None
    ) -> None:
        self.api = api
        self.max_workers = max_workers
        self.prefix = prefix
        self.init = init
        self.queue: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.started = False
        self.shutdown = False
        self.broken: str | None = None
        self.workers: list[_WorkerInfo] = []
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
            self.workers.append(_WorkerInfo(index=index, thread=thread))
            thread.start()

    def mark_broken(self, reason: str, cause: BaseException | None) -> None:
        with self.lock:
            if self.broken is None:
                self.broken = reason
            for item in self.drain():
                _fail(item.future, BrokenInterpreterPool(reason), cause)
            for barrier in list(self.barriers):
                barrier.abort()  # warm-up items other workers already hold

    def drain(self) -> list[_WorkItem]:
        """Take every queued work item out (a shutdown sentinel stays queued)."""
        items: list[_WorkItem] = []
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

    def join(self, timeout: float | None) -> list[_WorkerInfo]:
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
    if api == "_xxsubinterpreters":
        return mod.create(isolated=True)  # own GIL (the default, made explicit)
    return mod.create("isolated")  # 3.13+: gil='own', no fork/exec, threads allowed


def _worker_main(state: _PoolState, index: int) -> None:
    info = state.workers[index]
    mod = _low_level()
    iid: Any = None
    fd = -1
    try:
        t0 = time.perf_counter()
        iid = _create_interpreter(state.api, mod)
        t1 = time.perf_counter()
        fd = _make_fd()
        boot = {
            "sys_path": _sys_path(),
            "fd": fd,
            "functions": [(f.__name__, marshal.dumps(f.__code__)) for f in _SUB_FUNCTIONS],
        }
        blob = pickle.dumps(boot, _PICKLE_PROTOCOL)
        error = _run_string(state.api, mod, iid, _BOOTSTRAP, {"_pg_boot_blob": blob})
        if error is not None:
            raise RuntimeError(f"bootstrap failed in sub-interpreter {int(iid)}:\n{error}")
        if state.init is not None:
            payload, desc = state.init
            error = _run_string(state.api, mod, iid, _TASK_SCRIPT, {"_pg_in": payload})
            if error is not None:
                raise RuntimeError(f"worker machinery failed running the initializer:\n{error}")
            ok, value = _decode(_read_fd(fd), False)
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
    state: _PoolState, mod: Any, iid: Any, fd: int, info: _WorkerInfo, item: _WorkItem
) -> None:
    future = item.future
    if not future.set_running_or_notify_cancel():
        return
    try:
        if item.barrier is not None:
            item.barrier.wait()
        info.current = _describe(item.payload)
        error = _run_string(state.api, mod, iid, _TASK_SCRIPT, {"_pg_in": item.payload})
        if error is not None:
            future.set_exception(_transport_error(error, int(iid)))
            return
        ok, value = _decode(_read_fd(fd), item.timed)
    except threading.BrokenBarrierError:
        if state.broken is not None:
            future.set_exception(BrokenInterpreterPool(state.broken))
        elif state.shutdown:
            future.set_exception(RuntimeError("the executor was shut down during warm-up"))
        else:
            future.set_exception(TimeoutError("warm-up: not every worker became free in time"))
        return
    except BaseException as exc:
        future.set_exception(_transport_error(f"{type(exc).__name__}: {exc}", int(iid)))
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


def _cleanup(state: _PoolState, mod: Any, iid: Any, fd: int) -> None:
    if iid is not None:
        try:
            mod.destroy(iid)
        except Exception as exc:
            state.destroy_errors.append(f"sub-interpreter {int(iid)}: {type(exc).__name__}: {exc}")
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def _release_state(state: _PoolState) -> None:
    """The executor was collected without shutdown: workers finish queued work, then exit."""
    if state.started and not state.shutdown:
        state.stop(cancel_futures=False)


_LIVE_STATES: weakref.WeakSet[_PoolState] = weakref.WeakSet()


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
            _warn_hung(state, hung, timeout)


atexit.register(_at_exit)


def _warn_hung(state: _PoolState, hung: list[_WorkerInfo], timeout: float | None) -> None:
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


class _OwnInterpreterPool(_PoolAPI):
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
            max_workers = _default_workers()
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        init: tuple[bytes, str] | None = None
        if initializer is not None:
            ref = _reference(initializer)
            blob = _pickle_args(initializer, tuple(initargs), {})
            init = (_call_request(ref, blob, False, None, True), f"{ref[0]}.{ref[1]}")
        self._max_workers = max_workers
        self._warmed = set()
        prefix = thread_name_prefix or f"InterpreterPoolExecutor-{self._counter()}"
        self._state = _PoolState(api, max_workers, prefix, init)
        weakref.finalize(self, _release_state, self._state).atexit = False

    def _dispatch(self, payload: bytes, timed: bool) -> Future[Any]:
        state = self._state
        with state.lock:
            if state.broken is not None:
                raise BrokenInterpreterPool(state.broken)
            if state.shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future[Any] = Future()
            state.queue.put(_WorkItem(future, payload, timed))
            state.start()
            return future

    def _warm_workers(self, modules: Sequence[str], timeout: float | None) -> list[WorkerWarmup]:
        state = self._state
        n = state.max_workers
        barrier = threading.Barrier(n, timeout=timeout)
        payload = _warm_request(modules, None, True)
        futures: list[Future[Any]] = []
        with state.lock:
            if state.broken is not None:
                raise BrokenInterpreterPool(state.broken)
            if state.shutdown:
                raise RuntimeError("cannot warm an executor after shutdown")
            state.barriers.add(barrier)
            for _ in range(n):
                future: Future[Any] = Future()
                state.queue.put(_WorkItem(future, payload, False, barrier))
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
                _warn_hung(state, hung, timeout)
        if state.destroy_errors:
            errors, state.destroy_errors = state.destroy_errors, []
            warnings.warn(
                "could not destroy sub-interpreter(s): " + "; ".join(errors),
                RuntimeWarning,
                stacklevel=2,
            )


# --------------------------------------------------------------------------- 3.14 glue


class _LinkedFuture(Future[Any]):
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
        ok, value = _decode(inner.result(), self._timed)
        if ok:
            self.set_result(value)
        else:
            self.set_exception(value)


def _initializer_code(
    sync_path: bool, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> str:
    lines = ["import sys"]
    if sync_path:
        lines.append(f"sys.path[:] = {_sys_path()!r}")
    if initializer is not None:
        ref = _reference(initializer)
        blob = _pickle_args(initializer, tuple(initargs), {})
        req = _call_request(ref, blob, False, None, sync_path)
        lines += [
            "import pickle",
            "from pytest_gil.runtimes.subinterp import _sub_execute",
            f"_s, _v, _t = pickle.loads(_sub_execute({req!r}))",
            "if _s != 'ok': raise RuntimeError('initializer failed:\\n' + _v[4])",
        ]
    return "\n".join(lines)


class _StdlibGlue(_PoolAPI):
    """Our API over a ``ThreadPoolExecutor``-shaped stdlib pool (3.14's InterpreterPoolExecutor).

    Mixed in before the stdlib class; every task is ``_sub_execute(payload)`` pickled by
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
            max_workers = _default_workers()
        code = _initializer_code(self._sync_sys_path, initializer, initargs)
        self._warmed = set()
        base_init = cast(Any, super()).__init__
        base_init(max_workers, thread_name_prefix, exec, (code, {}))

    def _dispatch(self, payload: bytes, timed: bool) -> Future[Any]:
        inner = super(_PoolAPI, self).submit(_sub_execute, payload)
        return _LinkedFuture(inner, timed)

    def _warm_workers(self, modules: Sequence[str], timeout: float | None) -> list[WorkerWarmup]:
        # The stdlib pool starts a thread per submit while none is idle; holding each warm-up
        # task for a moment makes every worker take one. Checked by thread id, retried.
        deadline = None if timeout is None else time.monotonic() + timeout
        hold = 0.05
        records: dict[int, WorkerWarmup] = {}
        for _ in range(6):
            payload = _warm_request(modules, time.perf_counter() + hold, self._sync_sys_path)
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
        super(_PoolAPI, self).shutdown(wait=False, cancel_futures=cancel_futures)
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


# --------------------------------------------------------------------------- the public class

if sys.version_info >= (3, 14) and subinterpreter_api() == "concurrent.interpreters":
    from concurrent.futures import InterpreterPoolExecutor as _StdlibInterpreterPoolExecutor

    class InterpreterPoolExecutor(_StdlibGlue, _StdlibInterpreterPoolExecutor):
        """``concurrent.futures.InterpreterPoolExecutor`` plus pytest-gil's API (see module)."""

else:

    class InterpreterPoolExecutor(_OwnInterpreterPool):  # type: ignore[no-redef,unused-ignore]
        """Executor running module-level functions in sub-interpreters with their own GIL.

        ``InterpreterPoolExecutor(max_workers=None, thread_name_prefix='', initializer=None,
        initargs=())`` — ``max_workers`` defaults to the usable CPUs; ``initializer`` (a
        module-level function) runs once in each new interpreter. Workers start at the first
        submit or ``warm()``. Raises :class:`SubinterpretersUnavailable` where there is no API.
        """
