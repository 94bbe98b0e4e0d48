"""What every part of the sub-interpreter executor shares (see :mod:`.subinterp`).

* API detection: :func:`unavailable_reason`, :func:`low_level`, :func:`list_interpreters`,
  :func:`current_interpreter_id`, :data:`CPYTHON_KWTUPLE_BUG`;
* errors and results: :class:`SubinterpreterError`, :func:`remote_traceback`,
  :class:`SubinterpretersUnavailable`, :class:`BrokenInterpreterPool`, :class:`TimedResult`,
  :class:`WorkerWarmup`, :class:`Warmup`;
* the parent's side of the wire format of :mod:`.subinterp_remote`: :func:`reference`
  (refuses what a sub-interpreter cannot import), :func:`pickle_args`, :func:`call_request`,
  :func:`warm_request`, :func:`decode`.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor
from typing import Any, NamedTuple

from ..profile import subinterpreter_api
from .subinterp_remote import sub_interp_id, sub_resolve

__all__ = [
    "CPYTHON_KWTUPLE_BUG",
    "PICKLE_PROTOCOL",
    "REJECT",
    "BrokenInterpreterPool",
    "SubinterpreterError",
    "SubinterpretersUnavailable",
    "TimedResult",
    "Warmup",
    "WorkerWarmup",
    "call_request",
    "current_interpreter_id",
    "decode",
    "default_workers",
    "list_interpreters",
    "low_level",
    "pickle_args",
    "reference",
    "remote_traceback",
    "sys_path",
    "transport_error",
    "unavailable_reason",
    "warm_request",
]

REJECT = "must be a module-level function with picklable arguments"
"""What a sub-interpreter task must be: the words of every refusal's message."""

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

PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL


# --------------------------------------------------------------------------- API detection


def unavailable_reason() -> str | None:
    """``None`` when :class:`InterpreterPoolExecutor` works here, else why not (a skip reason)."""
    if sys.platform == "win32":
        # The workers' result channel uses os.pread/os.pwrite on a shared temporary file,
        # which Windows lacks (and an open file cannot be deleted there).
        return ("the sub-interpreter executor does not run on Windows yet (its result channel "
                "needs os.pread/os.pwrite)")
    if subinterpreter_api() is not None:
        return None
    impl = sys.implementation.name
    version = ".".join(str(v) for v in sys.version_info[:3])
    return (
        f"no sub-interpreter API on {impl} {version}: sub-interpreters with their own GIL need "
        "CPython >= 3.12 (_xxsubinterpreters on 3.12, _interpreters on 3.13, "
        "concurrent.interpreters on 3.14)"
    )


def low_level() -> Any:
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
    return sorted(_interp_int(x) for x in low_level().list_all())


def current_interpreter_id() -> int:
    """Id of the interpreter running the caller (0 = main, also where there is no API)."""
    return sub_interp_id()


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


# --------------------------------------------------------------------------- requests and outcomes


def reference(fn: Callable[..., Any]) -> tuple[str, str]:
    """(module, qualname) by which a sub-interpreter can import ``fn``, or TypeError."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not callable(fn):
        raise TypeError(f"{fn!r} is not callable")
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(
            f"{fn!r} cannot run in a sub-interpreter: it {REJECT} "
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
            target = sub_resolve(module, qualname)
        except Exception:
            what = f"not importable as {module}.{qualname}"
        else:
            if target is not fn and target != fn:
                what = f"not the object found at {module}.{qualname} (a bound method?)"
    if what:
        raise TypeError(f"{fn!r} cannot run in a sub-interpreter: it {REJECT} (got {what})")
    return module, qualname


def pickle_args(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """``(args, kwargs)`` pickled for a sub-interpreter, or a TypeError naming ``fn``."""
    try:
        return pickle.dumps((args, kwargs), PICKLE_PROTOCOL)
    except Exception as exc:
        name = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(
            f"cannot send the arguments of {name} to a sub-interpreter: it {REJECT} ({exc})"
        ) from exc


def sys_path() -> list[str]:
    """The parent's ``sys.path`` (its strings), which the sub-interpreters follow."""
    return [p for p in sys.path if isinstance(p, str)]


def call_request(
    ref: tuple[str, str], blob: bytes, timed: bool, start_at: float | None, sync_path: bool
) -> bytes:
    """A pickled ``"call"`` request for :func:`.subinterp_remote.sub_execute`."""
    request = ("call", sys_path() if sync_path else None, ref[0], ref[1], blob, timed, start_at)
    return pickle.dumps(request, PICKLE_PROTOCOL)


def warm_request(modules: Sequence[str], hold_until: float | None, sync_path: bool) -> bytes:
    """A pickled ``"warm"`` request: import ``modules``, then hold until ``hold_until``."""
    request = ("warm", sys_path() if sync_path else None, tuple(modules), hold_until)
    return pickle.dumps(request, PICKLE_PROTOCOL)


def decode(data: bytes, timed: bool) -> tuple[bool, Any]:
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


def transport_error(text: str, iid: int | None) -> SubinterpreterError:
    """The error of a task whose worker machinery (not the task) failed."""
    return SubinterpreterError(
        "RuntimeError", "the sub-interpreter worker failed", text, iid, "transport"
    )


def default_workers() -> int:
    """The default ``max_workers``: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
