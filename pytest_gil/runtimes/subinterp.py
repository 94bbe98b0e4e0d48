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

The implementation is split by concern; this module is the one to import:

* :mod:`.subinterp_base` — API detection, the errors and result types, the parent's side of
  the requests;
* :mod:`.subinterp_remote` — the code that runs inside the sub-interpreters, and the
  bootstrap that puts it there;
* :mod:`.subinterp_workers` — the 3.12/3.13 worker threads and their shared state;
* :mod:`.subinterp_pools` — the executor classes of both backends.
"""

from __future__ import annotations

import sys

from ..profile import subinterpreter_api
from .subinterp_base import (
    CPYTHON_KWTUPLE_BUG,
    BrokenInterpreterPool,
    SubinterpreterError,
    SubinterpretersUnavailable,
    TimedResult,
    Warmup,
    WorkerWarmup,
    current_interpreter_id,
    list_interpreters,
    remote_traceback,
    unavailable_reason,
)
from .subinterp_pools import OwnInterpreterPool, StdlibGlue

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

# --------------------------------------------------------------------------- the public class

if sys.version_info >= (3, 14) and subinterpreter_api() == "concurrent.interpreters":
    from concurrent.futures import InterpreterPoolExecutor as _StdlibInterpreterPoolExecutor

    class InterpreterPoolExecutor(StdlibGlue, _StdlibInterpreterPoolExecutor):
        """``concurrent.futures.InterpreterPoolExecutor`` plus pytest-gil's API (see module)."""

else:

    class InterpreterPoolExecutor(OwnInterpreterPool):  # type: ignore[no-redef,unused-ignore]
        """Executor running module-level functions in sub-interpreters with their own GIL.

        ``InterpreterPoolExecutor(max_workers=None, thread_name_prefix='', initializer=None,
        initargs=())`` — ``max_workers`` defaults to the usable CPUs; ``initializer`` (a
        module-level function) runs once in each new interpreter. Workers start at the first
        submit or ``warm()``. Raises :class:`SubinterpretersUnavailable` where there is no API.
        """
