"""Functions that run in worker processes (and sub-interpreters): module-level, so that every
start method can import them."""

from __future__ import annotations

import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pytest_gil.workloads import calc_i, mixed_request

_STATE = {"counter": 0}


def default_sigterm() -> None:
    """Give this (child) process the default SIGTERM disposition.

    A forked child inherits its parent's signal handlers; under pytest that may be a handler
    turning SIGTERM into ``KeyboardInterrupt``.  Then ``Process.terminate()`` yields exit
    status 1 instead of ``-SIGTERM``, and ``Pool.terminate()`` can hang: the exception can
    fire inside a worker's ``with inqueue._rlock:`` exit and leave the lock held, which the
    parent then waits for.  A child of a plain script has the default disposition — what the
    document's ``terminate()`` rows are about.  Use as ``Pool(initializer=default_sigterm)``
    or first thing in a ``Process`` target.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def child_identity(increment: int) -> tuple[int, int]:
    """Mutate a module global in the worker and report ``(pid, value after mutation)``."""
    _STATE["counter"] += increment
    return os.getpid(), _STATE["counter"]


def state_counter() -> int:
    """This process's copy of the global :func:`child_identity` mutates."""
    return _STATE["counter"]


def worker_threads() -> list[str]:
    """The names of the threads the worker process runs."""
    return sorted(t.name for t in threading.enumerate())


def echo_len(payload: bytes) -> int:
    """Receive ``payload`` (pickled across for a process) and return its length."""
    return len(payload)


def payload_identity(payload: bytes) -> int:
    """``id(payload)`` as the worker sees it: equal to the caller's in a thread (no copy)."""
    return id(payload)


def sleep_with_payload(payload: bytes, t: float) -> int:
    """An IO-bound task carrying data: wait ``t`` seconds, return the payload's length."""
    time.sleep(t)
    return len(payload)


def sleep_then_return(i: int, t: float) -> tuple[int, int, float]:
    """Sleep ``t`` s and return ``(i, pid, end time)`` — ``perf_counter`` is system-wide on
    Linux, so the parent can order completions across processes."""
    time.sleep(t)
    return i, os.getpid(), time.perf_counter()


def timed_sleep(t: float) -> tuple[float, float, int, int]:
    """Sleep ``t`` s and return ``(start, end, pid, thread id)``."""
    t0 = time.perf_counter()
    time.sleep(t)
    return t0, time.perf_counter(), os.getpid(), threading.get_ident()


def fail_with(message: str) -> None:
    """Raise ``ValueError(message)`` in the worker (for ``error_callback``)."""
    raise ValueError(message)


def mark_and_sleep(directory: str, i: int, t: float) -> int:
    """Create ``<i>.started`` in ``directory``, sleep ``t`` s, create ``<i>.done``."""
    Path(directory, f"{i}.started").touch()
    time.sleep(t)
    Path(directory, f"{i}.done").touch()
    return i


def sleep_default_sigterm(t: float) -> None:
    """A ``Process`` target: default SIGTERM, then sleep ``t`` s."""
    default_sigterm()
    time.sleep(t)


def exit_with(code: int) -> None:
    sys.exit(code)


def incr_value(v: Any, arr: Any, k: int) -> None:
    for _ in range(k):
        with v.get_lock():
            v.value += 1
    with arr.get_lock():
        for i in range(len(arr)):
            arr[i] += 1


def write_shm(name: str, data: bytes) -> None:
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(name=name)
    try:
        buf = shm.buf
        assert buf is not None
        buf[: len(data)] = data
    finally:
        shm.close()


def manager_put(d: Any, key: str, value: int) -> None:
    d[key] = value


def queue_echo(q_in: Any, q_out: Any) -> None:
    q_out.put(("echo", q_in.get(timeout=10)))


def pipe_echo(conn: multiprocessing.connection.Connection) -> None:
    conn.send(("echo", conn.recv()))
    conn.close()


def calc_child(go: multiprocessing.connection.Connection,
               out: multiprocessing.connection.Connection, i: int, n: int) -> None:
    """The document's ``Process(target=calc, args=(i,))``, released by the parent.

    A fresh child's first run of the loop is slower (measured: up to 2×, and ~20% more CPU
    time while four of them share two CPUs): pages shared copy-on-write with the parent are
    copied as they are written, caches are cold.  The document's calc runs for a minute, so
    that is noise there; at 50 ms it is not.  Run it once before the clock.
    """
    default_sigterm()
    calc_i(i, n)
    out.send("ready")
    go.recv()
    c0, t0 = time.thread_time(), time.perf_counter()
    result = calc_i(i, n)
    t1, c1 = time.perf_counter(), time.thread_time()
    # Last: the child's whole CPU time (start-up, imports under forkserver/spawn, the warm-up
    # run), which the round's noise reading counts as this check's and not as foreign load.
    out.send((t0, t1, c1 - c0, result, time.process_time()))
    out.close()


def serve_requests(requests: int, n: int, wait: float, threads: int) -> int:
    """Serve ``requests`` mixed requests (``calc(n)`` then ``wait`` s of IO) on ``threads``
    threads of this process; return how many were served."""
    if threads <= 1:
        for _ in range(requests):
            mixed_request(n, wait)
        return requests
    todo = list(range(requests))
    lock = threading.Lock()
    done = [0]

    def loop() -> None:
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            mixed_request(n, wait)
            with lock:
                done[0] += 1

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return done[0]


def serve_one_at_a_time(requests: int, n: int, wait: float, threads: int) -> int:
    """:func:`serve_requests` that ignores ``threads``: a worker process that serves its
    requests one after another (a hybrid no better than single-threaded processes)."""
    return serve_requests(requests, n, wait, 1)
