"""The document's multiprocessing section, measured.

    注意:多进程代码一定要放在 __name__ == "__main__" 下面执行。
    multiprocessing还提供共享内存、服务器进程来共享数据,还提供了用于进程间通讯的Queue队列、Pipe管道
    | pid | wait(self, timeout=None) 进程的退出状态码 | terminate() |
    多进程就是启动多个解释器进程,进程间通信必须序列化、反序列化
    数据的线程安全性问题 如果每个进程中没有实现多线程,GIL可以说没什么用了
    IO密集型在Python中适合是用多线程,可以减少多进程间IO的序列化开销。

Functional statements are observed exactly (exit codes, pickling errors, the unguarded script
under each start method in a fresh interpreter); costs are decided by the sequential test.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import signal
from collections.abc import Callable
from typing import Any

import pytest
from gil_audit.experiments import payload_growth, payload_io_cost
from gil_audit.observations import (
    pickling_errors,
    process_api,
    run_unguarded_script,
    separate_interpreters,
    shared_state_roundtrips,
)
from gil_audit.workers import worker_threads

from pytest_gil import ClaimContext, current_settings
from pytest_gil.workloads import Calibration

PLUGIN_THREADS = "pytest-gil"
"""pytest-gil names its own helper threads pytest-gil-…; the pool workers run a watcher."""


def _ctx() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context(current_settings().start_method)


@pytest.mark.claim("mp.separate-interpreters")
def test_mp_separate_interpreters_own_pid_and_globals(
    gil_claim: ClaimContext, process_pool: Any
) -> None:
    """"多进程就是启动多个解释器进程": each worker is another process with its own copy of a
    module's globals (and its own GIL: see gil.processes-for-cpu)."""
    result = separate_interpreters(process_pool, tasks=4)
    gil_claim.functional(result.holds, result.detail, observations=result.observations)


@pytest.mark.claim("mp.ipc-serializes")
@pytest.mark.io_bound
def test_mp_ipc_serializes_pickling_and_payload_cost(
    gil_claim: ClaimContext, process_pool: Any,
    executor_factory: Callable[..., cf.Executor],
) -> None:
    """"进程间通信必须序列化、反序列化": a lambda and a local function cannot be pickled to a
    process pool (a clear pickling error from the future); sending a payload costs more as
    it grows; a thread receives the very same object, no copy."""
    pickling = pickling_errors(_ctx())
    threads = executor_factory("thread", max_workers=1)
    growth = payload_growth(threads, process_pool)
    same = bool(growth.extra["thread_same_object"])
    if not (pickling.holds and same):
        gil_claim.functional(False, f"{pickling.detail}; {growth.detail()}; a function or "
                             "argument crossed without pickling", checks=[growth],
                             observations=pickling.observations)
        return
    gil_claim.decide(growth, note=pickling.detail + "; ")


@pytest.mark.claim("mp.io-threads-cheaper")
@pytest.mark.io_bound
def test_mp_io_threads_cheaper_as_payload_grows(
    gil_claim: ClaimContext, process_pool: Any,
    executor_factory: Callable[..., cf.Executor],
) -> None:
    """"IO密集型…适合是用多线程,可以减少多进程间IO的序列化开销": IO-bound tasks carrying a
    payload, 2 at a time on threads and on processes: processes fall behind as it grows."""
    workers = max(1, min(2, process_pool.size))
    threads = executor_factory("thread", max_workers=workers)
    result = payload_io_cost(threads, process_pool, tasks=workers, wait=0.02)
    gil_claim.decide(result)


@pytest.mark.claim("mp.no-threads-gil-irrelevant")
@pytest.mark.cpu_bound
def test_mp_no_threads_gil_irrelevant_single_threaded_processes_scale(
    gil_claim: ClaimContext, gil_calibration: Calibration, process_pool: Any,
    measure_once: Any,
) -> None:
    """"如果每个进程中没有实现多线程,GIL可以说没什么用了": the pool's workers run one thread each,
    and calc in them scales as if there were no GIL — the same scaling a free-threaded build
    reaches (each process has its own GIL and nobody else wants it)."""
    gil_claim.skip_if_not_testable()
    # Besides the main thread, the plugin's pool workers run only a watcher blocked in a
    # wait() on the parent's sentinel: it never asks for the GIL.
    seen = {tuple(process_pool.submit(worker_threads).result()) for _ in range(4)}
    python_threads = {tuple(n for n in names if not n.startswith(PLUGIN_THREADS))
                      for names in seen}
    assert python_threads == {("MainThread",)}, f"pool workers run threads {sorted(seen)}"
    result = measure_once.processes_calc(gil_calibration, process_pool, process_pool.size)
    gil_claim.decide(result, hypothesis="parallel",
                     note=f"single-threaded worker processes (threads {sorted(seen)[0]}): ")


@pytest.mark.claim("mp.main-guard")
@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_mp_main_guard_unguarded_script(start_method: str, gil_claim: ClaimContext) -> None:
    """"多进程代码一定要放在 __name__ == "__main__" 下面执行": the document's Process example
    without the guard, run in a fresh interpreter.  spawn and forkserver re-import the main
    module in the child, which then tries to start processes while bootstrapping
    (RuntimeError): the guard is needed.  fork copies the parent: the script runs anyway,
    so for fork the sentence is refuted.  (3.14 made forkserver the Linux default.)"""
    claim = gil_claim.for_variant(start_method)
    claim.skip_if_not_testable()
    result = run_unguarded_script(start_method)
    claim.functional(result.holds, result.detail, observations=result.observations)


@pytest.mark.claim("mp.shared-state")
def test_mp_shared_state_value_array_shm_manager_queue_pipe(gil_claim: ClaimContext) -> None:
    """"multiprocessing还提供共享内存、服务器进程来共享数据,还提供了…Queue队列、Pipe管道":
    Value/Array, shared_memory, a Manager dict, Queue and Pipe, each round-tripped through
    child processes, with every update visible in the parent."""
    result = shared_state_roundtrips(_ctx())
    gil_claim.functional(result.holds, result.detail, observations=result.observations)


@pytest.mark.claim("mp.process-api")
def test_mp_process_api_pid_exitcode_terminate_and_no_wait(gil_claim: ClaimContext) -> None:
    """The document's table: pid ✓, terminate() ✓, but "wait(self, timeout=None) 进程的退出状态码"
    — Process has no wait(); the exit status is exitcode and join(timeout) waits.  The table
    as written is refuted; the other rows are asserted exactly."""
    result = process_api(_ctx())
    obs = result.observations
    assert obs["pid_before_start"] is None
    assert isinstance(obs["pid_after_start"], int) and obs["pid_differs_from_parent"]
    assert obs["exitcode_normal"] == 0
    assert obs["exitcode_sys_exit_3"] == 3
    assert obs["exitcode_terminated"] == -signal.SIGTERM
    assert obs["alive_after_join_timeout"] is True and obs["exitcode_while_running"] is None
    assert obs["has_exitcode"] and obs["has_join"]
    gil_claim.functional(result.holds, result.detail, observations=result.observations)

