"""The document's functional statements about processes, observed exactly (no statistics):
each function returns an :class:`Observation` whose ``holds`` is what the sentence predicts.

* :func:`separate_interpreters` — each pool worker is another process with its own globals;
* :func:`process_api` — the document's table of ``Process`` members;
* :func:`shared_state_roundtrips` — ``Value``/``Array``, ``shared_memory``, a ``Manager``,
  ``Queue`` and ``Pipe`` round-tripped through children;
* :func:`run_unguarded_script` — processes started without the ``__main__`` guard, in a
  fresh interpreter under a start method;
* :func:`pickling_errors` — a lambda and a local function sent to a ``Pool`` fail with the
  error pickling them raises;
* :func:`python_gil_env` — ``PYTHON_GIL=0/1`` selects the GIL state of a child interpreter;
* :func:`apply_async_returns_at_once`, :func:`callbacks_in_result_handler`,
  :func:`close_join_terminate` — the document's ``Pool`` table;
* :func:`max_workers_respected`, :func:`submit_returns_future`, :func:`shutdown_waits`,
  :func:`context_manager_waits` — its ``concurrent.futures`` table.

Each takes what it observes (an executor or its class, a pool, a ``multiprocessing``
context, a script, an interpreter) as an argument, so a test can hand it a fake that makes
the sentence false (``tests/claims/test_audit_can_fail.py`` does, for every one).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import multiprocessing.pool
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_gil import run_tasks
from pytest_gil.workloads import calc_i, worker

from . import workers
from .pools import terminating, wait_for

__all__ = [
    "GIL_PROBE",
    "UNGUARDED_SCRIPT",
    "MainGuardResult",
    "Observation",
    "UnexplainedScriptFailure",
    "apply_async_returns_at_once",
    "callbacks_in_result_handler",
    "close_join_terminate",
    "context_manager_waits",
    "max_workers_respected",
    "pickling_errors",
    "process_api",
    "python_gil_env",
    "run_unguarded_script",
    "separate_interpreters",
    "shared_state_roundtrips",
    "shutdown_waits",
    "submit_returns_future",
]

Context = Any
"""A ``multiprocessing`` context (``multiprocessing.get_context(...)``); typeshed's
``BaseContext`` lacks the ``Process``/``Pool`` factories the concrete contexts have."""


@dataclasses.dataclass
class Observation:
    """An exact observation: ``holds`` is what the document's sentence predicts, checked;
    ``observations`` are the raw facts (for the report)."""

    label: str
    holds: bool
    detail: str
    observations: dict[str, Any]


def separate_interpreters(ex: cf.Executor, tasks: int = 4) -> Observation:
    """Run ``child_identity`` in pool workers: each child is another process (pid), with its
    own copy of the module's globals — the parent's stays untouched."""
    before = workers.state_counter()
    res = [f.result() for f in [ex.submit(workers.child_identity, 1) for _ in range(tasks)]]
    pids = sorted({pid for pid, _ in res})
    me = os.getpid()
    parent_after = workers.state_counter()
    holds = me not in pids and parent_after == before and all(v >= 1 for _, v in res)
    return Observation(
        "processes are separate interpreters",
        holds,
        f"{tasks} tasks ran in pids {pids} (parent {me}); each child's copy of a module "
        f"global went to {[v for _, v in res]} while the parent's stayed {parent_after}",
        {"parent_pid": me, "child_pids": pids, "child_values": [v for _, v in res],
         "parent_value": parent_after},
    )


def process_api(ctx: Context | None = None) -> Observation:
    """The document's table of ``Process`` members, observed: ``pid``, ``wait(timeout)`` "the
    exit status", ``terminate()``.

    ``holds`` is the table as written: a ``wait`` method exists.  Everything else observed
    (pid before/after start, ``exitcode`` 0 / ``sys.exit(n)`` / terminated, ``join(timeout)``
    returning while the process still runs) goes into ``observations``.
    """
    ctx = ctx if ctx is not None else multiprocessing.get_context()
    obs: dict[str, Any] = {}
    ok = ctx.Process(target=workers.sleep_default_sigterm, args=(0.0,), name="calc-ok")
    obs["pid_before_start"] = ok.pid
    ok.start()
    obs["pid_after_start"] = ok.pid
    obs["pid_differs_from_parent"] = ok.pid != os.getpid()
    ok.join()
    obs["exitcode_normal"] = ok.exitcode
    ex3 = ctx.Process(target=workers.exit_with, args=(3,), name="calc-exit3")
    ex3.start()
    ex3.join()
    obs["exitcode_sys_exit_3"] = ex3.exitcode
    slow = ctx.Process(target=workers.sleep_default_sigterm, args=(30.0,), name="calc-slow")
    slow.start()
    try:
        t0 = time.perf_counter()
        slow.join(timeout=0.05)
        obs["join_timeout_returned_after"] = round(time.perf_counter() - t0, 4)
        obs["alive_after_join_timeout"] = slow.is_alive()
        obs["exitcode_while_running"] = slow.exitcode
        slow.terminate()
        slow.join()
        obs["exitcode_terminated"] = slow.exitcode
        obs["minus_sigterm"] = -signal.SIGTERM
    finally:
        if slow.is_alive():
            slow.kill()
            slow.join()
    obs["has_wait"] = hasattr(ok, "wait")
    obs["has_exitcode"] = hasattr(ok, "exitcode")
    obs["has_join"] = hasattr(ok, "join")
    has_wait = bool(obs["has_wait"])
    detail = (
        f"Process has {'a' if has_wait else 'no'} wait() method; the exit status is "
        f"exitcode (normal {obs['exitcode_normal']}, sys.exit(3) → "
        f"{obs['exitcode_sys_exit_3']}, terminate() → {obs['exitcode_terminated']} = "
        f"-SIGTERM); join(timeout=0.05) returned with the process still alive "
        f"({obs['alive_after_join_timeout']}, exitcode {obs['exitcode_while_running']}); pid "
        f"{obs['pid_before_start']} before start, a new pid after"
    )
    return Observation("the Process table", has_wait, detail, obs)


def shared_state_roundtrips(ctx: Context | None = None, processes: int = 2) -> (
        Observation):
    """``Value``/``Array`` (shared memory with a lock), ``shared_memory.SharedMemory``, a
    ``Manager`` dict (server process), ``Queue`` and ``Pipe``, each round-tripped through
    child processes; ``holds`` when every update is visible in the parent."""
    from multiprocessing import shared_memory

    ctx = ctx if ctx is not None else multiprocessing.get_context()
    obs: dict[str, Any] = {}
    k = 100
    v: Any = ctx.Value("i", 0)
    arr: Any = ctx.Array("i", [0, 0, 0])
    ps = [ctx.Process(target=workers.incr_value, args=(v, arr, k)) for _ in range(processes)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    obs["value"] = (v.value, processes * k)
    obs["array"] = (list(arr), [processes] * 3)

    data = b"written by the child"
    shm = shared_memory.SharedMemory(create=True, size=64)
    try:
        p = ctx.Process(target=workers.write_shm, args=(shm.name, data))
        p.start()
        p.join()
        buf = shm.buf
        assert buf is not None
        obs["shared_memory"] = (bytes(buf[: len(data)]), data)
    finally:
        shm.close()
        shm.unlink()

    with ctx.Manager() as manager:
        d = manager.dict()
        ps = [ctx.Process(target=workers.manager_put, args=(d, f"p{i}", i))
              for i in range(processes)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        obs["manager_dict"] = (dict(d), {f"p{i}": i for i in range(processes)})

    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=workers.queue_echo, args=(q_in, q_out))
    p.start()
    q_in.put({"n": 42})
    obs["queue"] = (q_out.get(timeout=10), ("echo", {"n": 42}))
    p.join()
    q_in.close()
    q_out.close()

    a, b = ctx.Pipe()
    p = ctx.Process(target=workers.pipe_echo, args=(b,))
    p.start()
    a.send([1, 2, 3])
    obs["pipe"] = (a.recv(), ("echo", [1, 2, 3]))
    p.join()
    a.close()
    b.close()

    ok = {name: got == want for name, (got, want) in obs.items()}
    holds = all(ok.values())
    detail = "; ".join(
        f"{name}: {'ok' if good else f'got {obs[name][0]!r}, expected {obs[name][1]!r}'}"
        for name, good in ok.items()
    )
    return Observation("shared state across processes", holds,
                            f"round-trips through child processes — {detail}",
                            {name: {"got": g, "expected": w} for name, (g, w) in obs.items()})


# --------------------------------------------------------------------------------------------
# the missing __main__ guard


UNGUARDED_SCRIPT = textwrap.dedent(
    """\
    # The document's multiprocessing example without `if __name__ == "__main__":`.
    import multiprocessing
    import sys

    def calc(i):
        sum = 0
        for _ in range(1000):
            sum += 1
        return i, sum

    ctx = multiprocessing.get_context(sys.argv[1])
    print("main-module-run", flush=True)
    ps = []
    for i in range(2):
        p = ctx.Process(target=calc, args=(i,), name='calc-{}'.format(i))
        ps.append(p)
        p.start()
    for p in ps:
        p.join()
        print("exitcode", p.name, p.exitcode, flush=True)
    print('===end====', flush=True)
    """
)


@dataclasses.dataclass
class MainGuardResult(Observation):
    start_method: str = ""


class UnexplainedScriptFailure(RuntimeError):
    """The unguarded script neither ran normally nor failed the way the document warns about
    (a crash, a timeout, another error): that decides nothing about the guard."""


def _run_script(text: str, start_method: str, timeout: float) -> tuple[int | None, str, str]:
    with tempfile.TemporaryDirectory(prefix="pytest-gil-guard-") as d:
        script = Path(d) / "unguarded.py"
        script.write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.pop("PYTHONPATH", None)
        try:
            proc = subprocess.run([sys.executable, str(script), start_method], cwd=d, env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return None, out, err
    return proc.returncode, proc.stdout, proc.stderr


def run_unguarded_script(start_method: str, timeout: float = 60.0,
                         script: str = UNGUARDED_SCRIPT) -> MainGuardResult:
    """Run ``script`` (by default :data:`UNGUARDED_SCRIPT`: processes started at module level)
    in a fresh interpreter under ``start_method``.

    ``holds`` — "the guard is needed" — when a child failed with the ``RuntimeError`` the
    document warns about: ``spawn``/``forkserver`` re-import the main module in the child,
    which then tries to start processes before it "has finished its bootstrapping phase".
    ``holds`` is False when the script ran normally (under ``fork`` the child is a copy of the
    parent and the unguarded script runs as if guarded).  Anything else — a crash, a timeout,
    another error — raises :class:`UnexplainedScriptFailure` with the script's output.
    """
    rc, out, err = _run_script(script, start_method, timeout)
    runs = out.count("main-module-run")
    codes = [int(line.split()[-1]) for line in out.splitlines()
             if line.startswith("exitcode ") and line.split()[-1].lstrip("-").isdigit()]
    bootstrapping = "RuntimeError" in err and "bootstrapping phase" in err
    ran_normally = rc == 0 and runs == 1 and codes == [0, 0] and "===end====" in out
    facts = {"start_method": start_method, "returncode": rc, "main_module_runs": runs,
             "child_exitcodes": codes, "bootstrapping_error": bootstrapping,
             "stderr_tail": err[-400:]}
    if bootstrapping:
        what = (f"failed as the document warns: the main module ran {runs}× (re-imported in "
                f"the children), children exited with {codes}; RuntimeError: ...before the "
                "current process has finished its bootstrapping phase")
    elif ran_normally:
        what = "ran normally: the main module ran once and both children exited 0"
    else:
        raise UnexplainedScriptFailure(
            f"the unguarded script under {start_method!r} neither ran normally nor failed with "
            f"the bootstrapping RuntimeError (exit status {rc}, main module ran {runs}×, "
            f"children exited {codes}); stdout: {out[-400:]!r}; stderr: {err[-800:]!r}")
    return MainGuardResult(f"unguarded script under {start_method}", bootstrapping,
                           f"without the __main__ guard, under {start_method!r} the script "
                           f"{what}", facts, start_method=start_method)


# --------------------------------------------------------------------------------------------
# pickling, PYTHON_GIL


def pickling_errors(ctx: Context) -> Observation:
    """Send a lambda and a local function to ``ctx.Pool(1)`` with ``apply_async``: ``holds``
    when the pool fails each call with exactly the error that pickling the function raises
    on this version (it must cross to the worker process pickled)."""

    def local_calc(n: int) -> int:
        return n

    errors: dict[str, str] = {}
    same_error: dict[str, bool] = {}
    with terminating(ctx.Pool(1, initializer=workers.default_sigterm)) as pool:
        for name, fn in (("lambda", lambda n: n), ("local function", local_calc)):
            try:  # what pickling the function itself raises on this version
                pickle.dumps(fn)
                expected: type[BaseException] | None = None
            except Exception as exc:
                expected = type(exc)
            r = pool.apply_async(fn, (1,))
            try:
                r.get(timeout=30)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                same_error[name] = expected is not None and isinstance(exc, expected)
            else:
                errors[name] = "no error"
                same_error[name] = False
    return Observation(
        "functions sent to a pool are pickled",
        all(same_error.values()),
        f"to a multiprocessing.Pool: lambda → {errors['lambda']!r}, local function → "
        f"{errors['local function']!r}",
        {"errors": errors, "same_error_as_pickling": same_error},
    )


GIL_PROBE = "import sys; print(sys._is_gil_enabled())"
"""What a child interpreter prints: its GIL state (``AttributeError`` before 3.13)."""


def python_gil_env(executable: str = sys.executable, timeout: float = 60.0) -> Observation:
    """Start ``executable`` with ``PYTHON_GIL=0`` and with ``PYTHON_GIL=1`` and ask each for
    ``sys._is_gil_enabled()``: ``holds`` when the variable selected the state (False, then
    True) — what a free-threaded build does."""
    seen: dict[str, str] = {}
    for value in ("0", "1"):
        env = {**os.environ, "PYTHON_GIL": value}
        proc = subprocess.run([executable, "-c", GIL_PROBE], env=env, capture_output=True,
                              text=True, timeout=timeout)
        out, err = proc.stdout.strip(), proc.stderr.strip()
        seen[value] = out or (err.splitlines()[-1] if err else "")
    return Observation(
        "PYTHON_GIL selects the GIL state",
        seen == {"0": "False", "1": "True"},
        f"sys._is_gil_enabled() with PYTHON_GIL=0 → {seen['0']}, with PYTHON_GIL=1 → "
        f"{seen['1']}",
        {"executable": executable, "seen": seen},
    )


# --------------------------------------------------------------------------------------------
# the Pool table


def apply_async_returns_at_once(pool: multiprocessing.pool.Pool, n: int,
                                tasks: int = 4) -> Observation:
    """``pool.apply_async(calc, (i, n))`` × ``tasks``: ``holds`` when each call returned an
    ``ApplyResult`` that was not ready yet (the call did not wait for the task) and ``get()``
    then returned the task's value."""
    rs = [pool.apply_async(calc_i, (i, n)) for i in range(tasks)]
    ready_at_return = [r.ready() for r in rs]
    values = [r.get(timeout=60) for r in rs]
    is_apply_result = all(isinstance(r, multiprocessing.pool.ApplyResult) for r in rs)
    holds = (is_apply_result and not any(ready_at_return)
             and values == [(i, n) for i in range(tasks)])
    return Observation(
        "apply_async returns at once",
        holds,
        f"apply_async returned {type(rs[0]).__name__} objects, ready() right after "
        f"returning: {ready_at_return}, get() → {values[:2]}…",
        {"result_type": type(rs[0]).__name__, "ready_at_return": ready_at_return,
         "values_ok": values == [(i, n) for i in range(tasks)]},
    )


def callbacks_in_result_handler(pool: multiprocessing.pool.Pool,
                                unit: float = 0.01) -> Observation:
    """Four ``apply_async(sleep_then_return, …, callback=…)`` completing in reverse order and
    one ``error_callback``: ``holds`` when every callback ran in this process, in one thread
    that is not the main thread (the pool's result handler), in the order the tasks
    completed, and the error callback got the task's ``ValueError``."""
    log: list[tuple[Any, ...]] = []

    def where() -> tuple[int, str, int, bool]:
        t = threading.current_thread()
        return os.getpid(), t.name, threading.get_ident(), t is threading.main_thread()

    # Task i sleeps (4 - i) units: they complete in the order 3, 2, 1, 0.
    rs = [
        pool.apply_async(workers.sleep_then_return, (i, (4 - i) * unit),
                         callback=lambda x: log.append(("callback", x, *where())))
        for i in range(4)
    ]
    err = pool.apply_async(workers.fail_with, ("boom",),
                           error_callback=lambda e: log.append(("error", e, *where())))
    for r in rs:
        r.wait(timeout=30)
    err.wait(timeout=30)
    me = os.getpid()
    callbacks = [e for e in log if e[0] == "callback"]
    errors = [e for e in log if e[0] == "error"]
    completion = [x[0] for x in sorted((e[1] for e in callbacks), key=lambda v: v[2])]
    called = [e[1][0] for e in callbacks]
    pids = {e[2] for e in log}
    threads = {e[4] for e in log}
    names = sorted({e[3] for e in log})
    in_main_thread = any(e[5] for e in log)
    holds = (
        len(callbacks) == 4 and len(errors) == 1 and pids == {me} and len(threads) == 1
        and not in_main_thread and called == completion
        and isinstance(errors[0][1], ValueError)
    )
    detail = (
        f"4 callbacks and 1 error_callback ran in pid(s) {sorted(pids)} (parent {me}), in "
        f"thread(s) {names} ({len(threads)} distinct, main thread: {in_main_thread}); "
        f"callbacks in order {called}, tasks completed in order {completion}; "
        + (f"error_callback got {errors[0][1]!r}" if errors else "no error_callback ran")
    )
    return Observation("callbacks run in the parent's result-handler thread", holds, detail,
                       {"pids": sorted(pids), "parent": me, "threads": names,
                        "in_main_thread": in_main_thread, "callback_order": called,
                        "completion_order": completion, "error_callbacks": len(errors)})


def close_join_terminate(ctx: Context, unit: float = 0.01) -> Observation:
    """``ctx.Pool(2)``: ``join()`` before ``close()`` raises ``ValueError``; after
    ``close()`` ``apply_async`` and ``apply`` raise ``ValueError``, the tasks queued before
    still finish and ``join()`` returns; ``terminate()`` on ``ctx.Pool(1)`` with one running
    and three queued tasks drops them all at once and the workers are gone."""
    obs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pytest-gil-pool-") as d:
        with terminating(ctx.Pool(2, initializer=workers.default_sigterm)) as pool:
            rs = [pool.apply_async(workers.mark_and_sleep, (d, i, unit)) for i in range(2)]
            try:
                pool.join()
                obs["join_before_close"] = "returned"
            except ValueError as exc:
                obs["join_before_close"] = f"ValueError: {exc}"
            pool.close()
            for name, call in (
                    ("apply_async", lambda: pool.apply_async(workers.sleep_then_return,
                                                             (9, 0.0))),
                    ("apply", lambda: pool.apply(workers.sleep_then_return, (9, 0.0)))):
                try:
                    call()
                    obs[f"{name}_after_close"] = "accepted"
                except ValueError as exc:
                    obs[f"{name}_after_close"] = f"ValueError: {exc}"
            pool.join()
            obs["queued_before_close_finished"] = all(r.ready() and r.successful() for r in rs)
            obs["done_files"] = sorted(p.name for p in Path(d).glob("*.done"))

        d2 = Path(d, "terminate")
        d2.mkdir()
        with terminating(ctx.Pool(1, initializer=workers.default_sigterm)) as pool:
            procs = list(getattr(pool, "_pool", []))  # the workers (a private attribute)
            rs = [pool.apply_async(workers.mark_and_sleep, (str(d2), i, 30 * unit))
                  for i in range(4)]
            started = wait_for(lambda: Path(d2, "0.started").exists(), timeout=30)
            t0 = time.perf_counter()
            pool.terminate()
            pool.join()
            obs["terminate_join_seconds"] = round(time.perf_counter() - t0, 3)
            obs["first_task_started"] = started
            obs["started_after_terminate"] = sorted(p.name for p in d2.glob("*.started"))
            obs["done_after_terminate"] = sorted(p.name for p in d2.glob("*.done"))
            obs["workers_alive"] = [p.is_alive() for p in procs]
            obs["results_ready"] = [r.ready() for r in rs]
    holds = (
        str(obs["join_before_close"]).startswith("ValueError")
        and str(obs["apply_async_after_close"]).startswith("ValueError")
        and str(obs["apply_after_close"]).startswith("ValueError")
        and obs["queued_before_close_finished"] is True
        and obs["done_files"] == ["0.done", "1.done"]
        and obs["first_task_started"] is True
        and obs["started_after_terminate"] == ["0.started"]
        and obs["done_after_terminate"] == []
        and not any(obs["workers_alive"])
    )
    detail = (
        f"join() before close: {obs['join_before_close']}; after close: apply_async → "
        f"{obs['apply_async_after_close']}, apply → {obs['apply_after_close']}; the tasks "
        f"queued before close finished ({obs['done_files']}) and join() returned; "
        f"terminate() with 1 running + 3 queued tasks: started {obs['started_after_terminate']}"
        f", finished {obs['done_after_terminate']}, workers alive {obs['workers_alive']}"
    )
    return Observation("close, join and terminate", holds, detail, obs)


# --------------------------------------------------------------------------------------------
# the concurrent.futures table


def max_workers_respected(ex: cf.Executor, max_workers: int, unit: float,
                          tasks: int = 6) -> Observation:
    """``tasks`` × ``worker(unit)`` on the thread pool ``ex`` said to have ``max_workers``
    workers: ``holds`` when never more than ``max_workers`` tasks ran at once (from their own
    timestamps) on at most ``max_workers`` distinct threads."""
    from .experiments import max_concurrency

    timeline = run_tasks("thread", worker, unit, tasks=tasks, workers=max_workers, executor=ex)
    at_once = max_concurrency([(t.start, t.end) for t in timeline.tasks])
    threads = {t.thread_id for t in timeline.tasks}
    return Observation(
        "at most max_workers threads",
        at_once <= max_workers and len(threads) <= max_workers,
        f"at most {at_once} tasks ran at once on {len(threads)} distinct threads of the pool "
        f"(max_workers={max_workers})",
        {"max_concurrency": at_once, "distinct_threads": len(threads),
         "max_workers": max_workers},
    )


def _poll_until_done(fs: list[cf.Future[Any]], step: float = 0.001,
                     limit: float = 30.0) -> int:
    """The document's loop: ``flag = flag and f.done()`` over the futures until all are done.
    Returns how many polls it took."""
    polls = 0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        polls += 1
        flag = True
        for f in fs:
            flag = flag and f.done()
            if not flag:
                break
        if flag:
            return polls
        time.sleep(step)
    raise TimeoutError(f"futures not done after {limit} s")


def submit_returns_future(ex: cf.Executor, unit: float) -> Observation:
    """Six ``ex.submit(worker, unit)``: ``holds`` when each returned a ``Future`` not yet done,
    the document's ``done()`` polling loop ends, ``result()`` returns ``1000 + unit`` (and
    blocks until then: the future is done after it), and an exception raised in the function
    re-raises from ``result()``."""
    fs = []
    for _ in range(6):
        future = ex.submit(worker, unit)
        fs.append(future)
    done_at_submit = [f.done() for f in fs]
    are_futures = all(isinstance(f, cf.Future) for f in fs)
    polls = _poll_until_done(fs)
    results = [f.result() for f in fs]
    single = ex.submit(worker, unit)
    blocked_value = single.result()
    done_after_result = single.done()
    bad = ex.submit(workers.fail_with, "boom")
    try:
        bad.result()
        raised = "nothing"
    except ValueError as exc:
        raised = f"ValueError: {exc}"
    holds = (
        are_futures and not any(done_at_submit) and results == [1000 + unit] * 6
        and blocked_value == 1000 + unit and done_after_result and raised == "ValueError: boom"
        and isinstance(bad.exception(), ValueError)
    )
    detail = (
        f"submit returned {type(fs[0]).__name__} objects, done() right after submit: "
        f"{done_at_submit}; the done() polling loop ended after {polls} polls; results "
        f"{results[:2]}…; result() returned {blocked_value} with done() → {done_after_result};"
        f" an exception in fn re-raised from result() as {raised}"
    )
    return Observation("submit returns a Future", holds, detail,
                       {"done_at_submit": done_at_submit, "polls": polls,
                        "are_futures": are_futures, "raised": raised})


def shutdown_waits(make_thread_pool: Callable[..., cf.Executor],
                   make_process_pool: Callable[..., cf.Executor], unit: float,
                   prefix: str = "doc-exec") -> Observation:
    """``shutdown()`` of ``make_thread_pool(max_workers=3, thread_name_prefix=prefix)`` with
    six ``worker(unit)`` pending returns only when every future is done and the pool's
    threads are gone, and ``submit`` afterwards raises ``RuntimeError``;
    ``shutdown(wait=False)`` returns at once; ``cancel_futures=True`` cancels what has not
    started; ``shutdown()`` of ``make_process_pool(max_workers=3)`` waits too."""
    obs: dict[str, Any] = {}
    ex = make_thread_pool(max_workers=3, thread_name_prefix=prefix)
    fs = [ex.submit(worker, unit) for _ in range(6)]
    ex.shutdown()
    obs["done_after_shutdown"] = [f.done() for f in fs]
    obs["pool_threads_alive"] = [t.name for t in threading.enumerate()
                                 if t.name.startswith(prefix)]
    try:
        ex.submit(worker, unit)
        obs["submit_after_shutdown"] = "accepted"
    except RuntimeError as exc:
        obs["submit_after_shutdown"] = f"RuntimeError: {exc}"
    cf.wait(fs, timeout=30)

    one = make_thread_pool(max_workers=1)
    fs = [one.submit(worker, unit) for _ in range(3)]
    one.shutdown(wait=False)
    obs["done_right_after_nowait"] = [f.done() for f in fs]
    cf.wait(fs, timeout=30)

    one = make_thread_pool(max_workers=1)
    fs = [one.submit(worker, unit) for _ in range(3)]
    wait_for(fs[0].running, timeout=30, step=0.0005)
    one.shutdown(wait=True, cancel_futures=True)
    obs["cancel_futures"] = ["cancelled" if f.cancelled() else "done" if f.done() else "?"
                             for f in fs]
    # Not cf.wait on the cancelled ones: shutdown(cancel_futures=True) leaves them CANCELLED,
    # never "cancelled and notified", and wait() would not count them as done.
    cf.wait([f for f in fs if not f.cancelled()], timeout=30)

    procs = make_process_pool(max_workers=3)
    try:
        fs = [procs.submit(worker, (i + 2) * unit) for i in range(6)]
        procs.shutdown()
        obs["process_pool_done_after_shutdown"] = [f.done() for f in fs]
        obs["process_pool_results"] = [f.result() for f in fs]
    finally:
        procs.shutdown(wait=True, cancel_futures=True)
    holds = (
        all(obs["done_after_shutdown"]) and not obs["pool_threads_alive"]
        and str(obs["submit_after_shutdown"]).startswith("RuntimeError")
        and not all(obs["done_right_after_nowait"])
        and obs["cancel_futures"] == ["done", "cancelled", "cancelled"]
        and all(obs["process_pool_done_after_shutdown"])
    )
    detail = (
        f"after shutdown(): futures done {obs['done_after_shutdown']}, pool threads alive "
        f"{obs['pool_threads_alive']}; submit after shutdown → "
        f"{obs['submit_after_shutdown']}; right after shutdown(wait=False): done "
        f"{obs['done_right_after_nowait']}; shutdown(cancel_futures=True) with 1 running + "
        f"2 pending: {obs['cancel_futures']}; the process pool after shutdown(): done "
        f"{obs['process_pool_done_after_shutdown']}"
    )
    return Observation("shutdown waits", holds, detail, obs)


def context_manager_waits(make_process_pool: Callable[..., cf.Executor],
                          unit: float) -> Observation:
    """``with make_process_pool(max_workers=3) as ex:`` six ``submit(worker, (i + 2) ×
    unit)``: ``holds`` when leaving the block waited for every future (it calls
    ``shutdown(wait=True)``) and the worker processes started for it are gone."""
    before = {p.pid for p in multiprocessing.active_children()}
    fs = []
    pids: set[int | None] = set()
    with make_process_pool(max_workers=3) as ex:
        for i in range(6):
            future = ex.submit(worker, (i + 2) * unit)
            fs.append(future)
        done_inside = [f.done() for f in fs]
        pids = {p.pid for p in multiprocessing.active_children()} - before
    done_after = [f.done() for f in fs]
    results = [f.result() for f in fs]
    left = ({p.pid for p in multiprocessing.active_children()} - before) & pids
    holds = all(done_after) and not all(done_inside) and not left and results == [
        1000 + (i + 2) * unit for i in range(6)]
    detail = (
        f"inside the with block right after submitting: done {done_inside}; after it: done "
        f"{done_after}, results {[round(r, 3) for r in results[:2]]}…; worker processes "
        f"still alive after the block: {sorted(p for p in left if p is not None)}"
    )
    return Observation("leaving the with block waits", holds, detail,
                       {"done_inside": done_inside, "done_after": done_after,
                        "workers_left": sorted(p for p in left if p is not None)})
