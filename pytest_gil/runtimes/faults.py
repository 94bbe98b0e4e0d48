"""What can go wrong when work is sent to workers, and the errors that say so.

* counts: :func:`check_count` / :func:`max_workers` refuse a million threads before anything
  starts;
* crossing a process or interpreter boundary: :func:`check_picklable` names the function or
  argument that cannot be pickled;
* a task that raised: :class:`WorkerError` carries the worker's traceback
  (:func:`raise_worker_error` builds it, trimmed of the pool's own frames);
* a worker that died: :class:`WorkerDied`.

The checking and re-raising functions set ``__tracebackhide__``, so that pytest's traceback of
a fault ends at the test's own call (``--full-trace`` shows them).
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

__all__ = [
    "MAX_TASKS",
    "MAX_THREADS",
    "WorkerDied",
    "WorkerError",
    "add_note",
    "article",
    "check_count",
    "check_picklable",
    "max_workers",
    "raise_worker_error",
    "trim_traceback",
]

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


def article(kind: str) -> str:
    """``a thread``-style article for a kind: ``an interpreter``."""
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


def _remote_text(exc: BaseException) -> str | None:
    """The worker's formatted traceback carried by ``exc`` (or its cause), if any."""
    remote = getattr(exc, "remote_traceback", None)
    if remote is None:
        cause = exc.__cause__
        remote = getattr(cause, "tb", None) if cause is not None else None
    if remote is None:
        subinterp = sys.modules.get("pytest_gil.runtimes.subinterp_base")
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
    os.path.join("pytest_gil", "runtimes", "tasks.py"),
    os.path.join("pytest_gil", "runtimes", "threads.py"),
    os.path.join("pytest_gil", "runtimes", "timeline.py"),
    os.path.join("pytest_gil", "runtimes", "subinterp.py"),
    os.path.join("pytest_gil", "runtimes", "subinterp_base.py"),
    os.path.join("pytest_gil", "runtimes", "subinterp_pools.py"),
    os.path.join("pytest_gil", "runtimes", "subinterp_remote.py"),
    os.path.join("pytest_gil", "runtimes", "subinterp_workers.py"),
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


def raise_worker_error(
    index: int, kind: str, exc: BaseException, fn: Callable[..., Any] | None = None
) -> NoReturn:
    """Raise :class:`WorkerError` for task ``index`` of ``fn``, which raised ``exc`` in
    ``kind`` worker: with the worker's traceback (trimmed of the pool's frames), and a plain
    explanation when the task or its result could not cross to or from the worker."""
    __tracebackhide__ = True
    fn_name = getattr(fn, "__qualname__", None) or "the task"
    remote = _remote_text(exc)
    if remote is None:
        # In this process: the exception carries its own frames; the message need not.
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise WorkerError(
            f"task {index} raised in {article(kind)} worker: {type(exc).__name__}: {exc}",
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
        f"task {index} raised in {article(kind)} worker: {_reason(exc)}", remote
    ) from exc


def add_note(exc: BaseException, note: str) -> None:
    """Add ``note`` to ``exc`` (shown under its traceback); nothing before Python 3.11."""
    add = getattr(exc, "add_note", None)  # Python 3.11+
    if callable(add):
        add(note)
