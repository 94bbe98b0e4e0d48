"""The sub-interpreter side of :mod:`pytest_gil.runtimes.subinterp`: code that runs *inside*
each sub-interpreter.

The ``sub_*`` functions below are not called in the parent (except :func:`sub_resolve` and
:func:`sub_interp_id`, which work there too). On CPython 3.12/3.13 their code objects are
marshalled into each new interpreter by :data:`BOOTSTRAP`, so a worker does not import this
package and its dependencies (creation + bootstrap stays ~15 ms); on 3.14 :func:`sub_execute`
is pickled by reference, and the sub-interpreter imports this module by its name.

Rules for the ``sub_*`` functions, which the marshalling relies on: they use only the globals
``os``, ``sys``, ``pickle``, ``time``, ``_thread`` and each other (looked up by ``__name__``
in the namespace :data:`BOOTSTRAP` builds), and take no default arguments. This module imports
nothing but those, so that importing it in a sub-interpreter (3.14) stays cheap.

The wire format, both ways pickled with protocol 4:

* request ``("call", sys_path | None, module, qualname, pickled (args, kwargs), timed,
  start_at | None)`` or ``("warm", sys_path | None, modules, hold_until | None)``;
* outcome ``("ok", value, timing | None)`` — timing ``(start, end, cpu, pid, thread_id,
  interpreter_id)`` — or ``("err", (stage, module, qualname, message, text, pickled exception
  | None, interpreter_id), None)``.
"""

from __future__ import annotations

import _thread
import os
import pickle
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "BOOTSTRAP",
    "SUB_FUNCTIONS",
    "TASK_SCRIPT",
    "sub_error",
    "sub_execute",
    "sub_interp_id",
    "sub_resolve",
    "sub_wait_until",
    "sub_write",
]


def sub_interp_id() -> int:
    """Id of the interpreter running the caller: 0 for the main one, also without an API."""
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


def sub_resolve(module: str, qualname: str) -> Any:
    """Import ``module`` and return the object at ``qualname`` in it."""
    __import__(module)
    obj: Any = sys.modules[module]
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def sub_error(exc: BaseException, stage: str) -> bytes:
    """The pickled ``("err", ...)`` outcome describing ``exc``, raised at ``stage``."""
    import traceback

    tb = exc.__traceback__
    if stage == "call" and tb is not None and tb.tb_next is not None:
        tb = tb.tb_next  # drop sub_execute's own frame
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
    info = (stage, cls.__module__, cls.__qualname__, message, text, blob, sub_interp_id())
    return pickle.dumps(("err", info, None), 4)


def sub_wait_until(deadline: float) -> None:
    """Return at ``time.perf_counter() >= deadline``: sleep most of the way, then spin."""
    remaining = deadline - time.perf_counter()
    if remaining > 0.002:
        time.sleep(remaining - 0.001)
    while time.perf_counter() < deadline:
        pass


def sub_execute(payload: bytes) -> bytes:
    """Run one request; always returns a pickled ``("ok", value, timing)`` or ``("err", ...)``.

    ``timing`` is measured around the call only: after the import, the arguments' unpickling
    and the wait for ``start_at``; before the result's pickling.
    """
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
                sub_wait_until(request[3])
            value: Any = (sub_interp_id(), _thread.get_ident(), took)
        else:
            module, qualname, blob, timed, start_at = request[2:7]
            stage = "import"
            fn = sub_resolve(module, qualname)
            stage = "arguments"
            args, kwargs = pickle.loads(blob)
            stage = "call"
            if start_at is not None:
                sub_wait_until(start_at)
            if timed:
                ident = _thread.get_ident()
                iid = sub_interp_id()
                start = time.perf_counter()
                cpu0 = time.thread_time()
                value = fn(*args, **kwargs)
                cpu1 = time.thread_time()
                end = time.perf_counter()
                timing = (start, end, cpu1 - cpu0, os.getpid(), ident, iid)
            else:
                value = fn(*args, **kwargs)
    except BaseException as exc:
        return sub_error(exc, stage)
    try:
        return pickle.dumps(("ok", value, timing), 4)
    except BaseException as exc:
        return sub_error(exc, "result")


def sub_write(fd: int, data: bytes) -> None:
    """Replace the content of the file ``fd`` (the worker's result channel) with ``data``."""
    os.ftruncate(fd, 0)
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        offset += os.pwrite(fd, view[offset:], offset)


SUB_FUNCTIONS: tuple[Callable[..., Any], ...] = (
    sub_interp_id,
    sub_resolve,
    sub_error,
    sub_wait_until,
    sub_execute,
    sub_write,
)
"""The functions :data:`BOOTSTRAP` recreates in every 3.12/3.13 sub-interpreter."""

BOOTSTRAP = f"""\
import sys, os, pickle, time, marshal, _thread
_pg_boot = pickle.loads(_pg_boot_blob)
sys.path[:] = _pg_boot["sys_path"]
_pg_ns = {{"__name__": {__name__!r}, "__builtins__": __builtins__, "os": os,
          "sys": sys, "pickle": pickle, "time": time, "_thread": _thread}}
for _pg_name, _pg_code in _pg_boot["functions"]:
    _pg_ns[_pg_name] = type(lambda: 0)(marshal.loads(_pg_code), _pg_ns, _pg_name)
def _pg_call(payload, _fd=_pg_boot["fd"], _ex=_pg_ns[{sub_execute.__name__!r}],
             _wr=_pg_ns[{sub_write.__name__!r}]):
    _wr(_fd, _ex(payload))
del _pg_boot, _pg_boot_blob, _pg_name, _pg_code
"""
"""Run once in each new 3.12/3.13 sub-interpreter, with ``_pg_boot_blob`` shared in: a pickled
dict of ``sys_path``, ``fd`` (the result channel) and ``functions`` (``(name, marshalled code)``
of :data:`SUB_FUNCTIONS`). Defines ``_pg_call(payload)``, which :data:`TASK_SCRIPT` calls.
The functions' namespace is named after this module, so that what they define and raise says
where their code lives."""

TASK_SCRIPT = "_pg_call(_pg_in)"
"""Run for every request, with the pickled request shared in as ``_pg_in``."""
