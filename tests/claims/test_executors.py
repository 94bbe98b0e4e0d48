"""The document's ``concurrent.futures`` section, measured.

    | ThreadPoolExecutor(max_workers=1) |
      池中至多创建max_workers个线程的池来同时异步执行,返回Executor实例 |
    | submit(fn, *args, **kwargs) | 提交执行的函数及其参数,返回Future类的实例 |
    | shutdown(wait=True) | 清理池 |

The shapes are the document's: ``ThreadPoolExecutor(max_workers=3)`` with six
``submit(worker, 5)``, ``ProcessPoolExecutor(max_workers=3)`` with ``submit(worker, i + 2)`` for
six tasks, the ``with ProcessPoolExecutor(max_workers=3) as execcutor:`` block, ``shutdown()``
and the ``f.done()`` polling loop — with ``worker``'s sleep scaled from seconds to
``UNIT`` = 15 ms.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest
from gil_audit.experiments import max_concurrency, measure_schedule
from gil_audit.pools import wait_for
from gil_audit.workers import fail_with

from pytest_gil import (
    ClaimContext,
    current_settings,
    measure_overlap,
    run_tasks,
    warm_executor,
)
from pytest_gil.workloads import worker

UNIT = 0.015
"""The document's sleep unit (1 s there) scaled down."""

Factory = Callable[..., cf.Executor]


def _ctx() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context(current_settings().start_method)


def _poll_until_done(fs: list[Future[Any]], step: float = 0.001, limit: float = 30.0) -> int:
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


@pytest.mark.claim("exec.max-workers")
@pytest.mark.io_bound
def test_exec_max_workers_six_tasks_on_three_threads(gil_claim: ClaimContext) -> None:
    """The standard library's ThreadPoolExecutor(max_workers=3), as the document uses it,
    with six worker(t): never more than 3 tasks at once on at most 3 threads, and the six
    take ≈ 2t (3× the serial throughput), not t nor 6t."""
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="doc-exec") as execcutor:
        warm_executor(execcutor, 3, ["pytest_gil.workloads"])
        timeline = run_tasks("thread", worker, UNIT, tasks=6, workers=3, executor=execcutor)
        at_once = max_concurrency([(t.start, t.end) for t in timeline.tasks])
        threads = {t.thread_id for t in timeline.tasks}
        result = measure_overlap(worker, UNIT, tasks=6, workers=3, pool=execcutor,
                                 label="6 × worker(t) on ThreadPoolExecutor(max_workers=3)")
    note = (f"at most {at_once} tasks ran at once on {len(threads)} distinct threads of the "
            "pool; ")
    if at_once > 3 or len(threads) > 3:
        gil_claim.functional(False, note + "more than max_workers ran", checks=[result])
        return
    gil_claim.decide(result, note=note)


@pytest.mark.claim("exec.submit-returns-future")
def test_exec_submit_returns_future_done_result_and_exceptions(
    gil_claim: ClaimContext,
) -> None:
    """ThreadPoolExecutor(max_workers=3).submit returns a Future at once (not done yet), the
    done() polling loop ends when all are done, result() returns worker's 1000 + n (and
    blocks until then), and an exception raised in the function re-raises from result()."""
    with ThreadPoolExecutor(max_workers=3) as execcutor:
        holds, detail = _submit_observations(execcutor)
    gil_claim.functional(holds, detail)


def _submit_observations(execcutor: cf.Executor) -> tuple[bool, str]:
    fs = []
    for _ in range(6):
        future = execcutor.submit(worker, UNIT)
        fs.append(future)
    done_at_submit = [f.done() for f in fs]
    are_futures = all(isinstance(f, Future) for f in fs)
    polls = _poll_until_done(fs)
    results = [f.result() for f in fs]
    single = execcutor.submit(worker, UNIT)
    blocked_value = single.result()
    done_after_result = single.done()
    bad = execcutor.submit(fail_with, "boom")
    try:
        bad.result()
        raised = "nothing"
    except ValueError as exc:
        raised = f"ValueError: {exc}"
    holds = (
        are_futures and not any(done_at_submit) and results == [1000 + UNIT] * 6
        and blocked_value == 1000 + UNIT and done_after_result and raised == "ValueError: boom"
        and isinstance(bad.exception(), ValueError)
    )
    detail = (
        f"submit returned {type(fs[0]).__name__} objects, done() right after submit: "
        f"{done_at_submit}; the done() polling loop ended after {polls} polls; results "
        f"{results[:2]}…; result() returned {blocked_value} with done() → {done_after_result};"
        f" an exception in fn re-raised from result() as {raised}"
    )
    return holds, detail


@pytest.mark.claim("exec.shutdown-waits")
def test_exec_shutdown_waits_and_refuses_new_work(
    gil_claim: ClaimContext, executor_factory: Factory
) -> None:
    """shutdown(wait=True) returns only when every future is done and the pool's threads are
    gone; submit afterwards → RuntimeError; shutdown(wait=False) returns at once;
    cancel_futures=True cancels what has not started.  Also for ProcessPoolExecutor(3)."""
    obs: dict[str, Any] = {}
    execcutor = ThreadPoolExecutor(max_workers=3, thread_name_prefix="doc-exec")
    fs = [execcutor.submit(worker, UNIT) for _ in range(6)]
    execcutor.shutdown()
    obs["done_after_shutdown"] = [f.done() for f in fs]
    obs["pool_threads_alive"] = [t.name for t in threading.enumerate()
                                 if t.name.startswith("doc-exec")]
    try:
        execcutor.submit(worker, UNIT)
        obs["submit_after_shutdown"] = "accepted"
    except RuntimeError as exc:
        obs["submit_after_shutdown"] = f"RuntimeError: {exc}"

    one = ThreadPoolExecutor(max_workers=1)
    fs = [one.submit(worker, UNIT) for _ in range(3)]
    one.shutdown(wait=False)
    obs["done_right_after_nowait"] = [f.done() for f in fs]
    cf.wait(fs, timeout=30)

    one = ThreadPoolExecutor(max_workers=1)
    fs = [one.submit(worker, UNIT) for _ in range(3)]
    wait_for(fs[0].running, timeout=30, step=0.0005)
    one.shutdown(wait=True, cancel_futures=True)
    obs["cancel_futures"] = ["cancelled" if f.cancelled() else "done" if f.done() else "?"
                             for f in fs]

    procs = ProcessPoolExecutor(max_workers=3, mp_context=_ctx())
    try:
        fs = [procs.submit(worker, (i + 2) * UNIT) for i in range(6)]
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
        f"2 pending: {obs['cancel_futures']}; ProcessPoolExecutor(3) after shutdown(): done "
        f"{obs['process_pool_done_after_shutdown']}"
    )
    gil_claim.functional(holds, detail, observations=obs)


@pytest.mark.claim("exec.context-manager")
def test_exec_context_manager_with_block_waits(gil_claim: ClaimContext) -> None:
    """with ProcessPoolExecutor(max_workers=3) as execcutor: six submit(worker, i + 2) —
    leaving the block waits for every future (it calls shutdown(wait=True)) and the worker
    processes are gone."""
    before = {p.pid for p in multiprocessing.active_children()}
    fs = []
    pids: set[int | None] = set()
    with ProcessPoolExecutor(max_workers=3, mp_context=_ctx()) as execcutor:
        for i in range(6):
            future = execcutor.submit(worker, (i + 2) * UNIT)
            fs.append(future)
        done_inside = [f.done() for f in fs]
        pids = {p.pid for p in multiprocessing.active_children()} - before
    done_after = [f.done() for f in fs]
    results = [f.result() for f in fs]
    left = ({p.pid for p in multiprocessing.active_children()} - before) & pids
    holds = all(done_after) and not all(done_inside) and not left and results == [
        1000 + (i + 2) * UNIT for i in range(6)]
    detail = (
        f"inside the with block right after submitting: done {done_inside}; after it: done "
        f"{done_after}, results {[round(r, 3) for r in results[:2]]}…; worker processes "
        f"still alive after the block: {sorted(p for p in left if p is not None)}"
    )
    gil_claim.functional(holds, detail)


@pytest.mark.claim("exec.process-pool-schedule")
@pytest.mark.io_bound
def test_exec_process_pool_schedule_matches_list_schedule(
    gil_claim: ClaimContext, executor_factory: Factory
) -> None:
    """ProcessPoolExecutor(max_workers=3) with six tasks sleeping 2..7 units: the makespan is
    that of the greedy list schedule (each task taken by the first free worker), in the
    document's order and reversed (where greedy and batches-of-3 differ)."""
    execcutor = executor_factory("process", max_workers=3)
    warm_executor(execcutor, 3, ["gil_audit.workers"])
    result = measure_schedule(execcutor, (2, 3, 4, 5, 6, 7), unit=UNIT, n_workers=3)
    if result.extra["max_concurrency"] > 3:
        gil_claim.functional(False, f"more than 3 tasks ran at once: {result.detail()}",
                             checks=[result])
        return
    gil_claim.decide(result)
