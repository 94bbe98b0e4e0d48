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
import functools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from gil_audit.experiments import measure_schedule
from gil_audit.observations import (
    context_manager_waits,
    max_workers_respected,
    shutdown_waits,
    submit_returns_future,
)

from pytest_gil import (
    ClaimContext,
    current_settings,
    measure_overlap,
    warm_executor,
)
from pytest_gil.workloads import worker

UNIT = 0.015
"""The document's sleep unit (1 s there) scaled down."""

Factory = Callable[..., cf.Executor]


def _ctx() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context(current_settings().start_method)


@pytest.mark.claim("exec.max-workers")
@pytest.mark.io_bound
def test_exec_max_workers_six_tasks_on_three_threads(gil_claim: ClaimContext) -> None:
    """The standard library's ThreadPoolExecutor(max_workers=3), as the document uses it,
    with six worker(t): never more than 3 tasks at once on at most 3 threads, and the six
    take ≈ 2t (3× the serial throughput), not t nor 6t."""
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="doc-exec") as execcutor:
        warm_executor(execcutor, 3, ["pytest_gil.workloads"])
        bounded = max_workers_respected(execcutor, 3, UNIT)
        result = measure_overlap(worker, UNIT, tasks=6, workers=3, pool=execcutor,
                                 label="6 × worker(t) on ThreadPoolExecutor(max_workers=3)")
    note = bounded.detail + "; "
    if not bounded.holds:
        gil_claim.functional(False, note + "more than max_workers ran", checks=[result],
                             observations=bounded.observations)
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
        result = submit_returns_future(execcutor, UNIT)
    gil_claim.functional(result.holds, result.detail, observations=result.observations)


@pytest.mark.claim("exec.shutdown-waits")
def test_exec_shutdown_waits_and_refuses_new_work(
    gil_claim: ClaimContext, executor_factory: Factory
) -> None:
    """shutdown(wait=True) returns only when every future is done and the pool's threads are
    gone; submit afterwards → RuntimeError; shutdown(wait=False) returns at once;
    cancel_futures=True cancels what has not started.  Also for ProcessPoolExecutor(3)."""
    result = shutdown_waits(ThreadPoolExecutor,
                            functools.partial(ProcessPoolExecutor, mp_context=_ctx()), UNIT)
    gil_claim.functional(result.holds, result.detail, observations=result.observations)


@pytest.mark.claim("exec.context-manager")
def test_exec_context_manager_with_block_waits(gil_claim: ClaimContext) -> None:
    """with ProcessPoolExecutor(max_workers=3) as execcutor: six submit(worker, i + 2) —
    leaving the block waits for every future (it calls shutdown(wait=True)) and the worker
    processes are gone."""
    result = context_manager_waits(functools.partial(ProcessPoolExecutor, mp_context=_ctx()),
                                   UNIT)
    gil_claim.functional(result.holds, result.detail, observations=result.observations)


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
