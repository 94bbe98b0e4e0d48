"""The document's functional statements about processes, observed exactly (no statistics):
each function returns an :class:`Observation` whose ``holds`` is what the sentence predicts.

* :func:`separate_interpreters` — each pool worker is another process with its own globals;
* :func:`process_api` — the document's table of ``Process`` members;
* :func:`shared_state_roundtrips` — ``Value``/``Array``, ``shared_memory``, a ``Manager``,
  ``Queue`` and ``Pipe`` round-tripped through children;
* :func:`run_unguarded_script` — processes started without the ``__main__`` guard, in a
  fresh interpreter under a start method.

Each takes what it observes (an executor, a ``multiprocessing`` context, a script) as an
argument, so a test can hand it a fake that makes the sentence false.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from . import workers

__all__ = [
    "UNGUARDED_SCRIPT",
    "MainGuardResult",
    "Observation",
    "UnexplainedScriptFailure",
    "process_api",
    "run_unguarded_script",
    "separate_interpreters",
    "shared_state_roundtrips",
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
