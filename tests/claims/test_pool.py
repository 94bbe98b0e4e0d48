"""The document's process pool (``multiprocessing.Pool(4)``), measured.

    | apply(self, func, args=(), kwds={}) | 阻塞执行,导致主进程执行其他子进程就像一个个执行 |
    | apply_async(self, func, args=(), kwds={} callback=None, error_callback=None) |
      与apply方法用法一致,非阻塞异步执行,得到结果后会执行回调 |
    | close() | 关闭池,池不能再接受新的任务,所有任务完成后退出进程 |
    | terminate() | 立即结束工作进程,不再处理未处理的任务 |
    | join() | 主进程阻塞等待子进程的退出, join方法要在close或terminate之后使用 |

The shapes are the document's: ``pool = multiprocessing.Pool(4)``, four ``pool.apply(calc,
(i,))`` in a loop, four ``apply_async`` with a ``callback`` lambda, and four threads each
calling ``pool.apply`` (its last Pool example) — with ``calc`` calibrated instead of 10亿.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
from typing import Any

import pytest
from gil_audit.observations import (
    apply_async_returns_at_once,
    callbacks_in_result_handler,
    close_join_terminate,
)
from gil_audit.pools import PoolExecutor

from pytest_gil import ClaimContext, current_settings, measure_scaling
from pytest_gil.workloads import Calibration, calc_i

UNIT = 0.01
"""Seconds per sleep unit in the callback test (tasks finish 10 ms apart)."""


@pytest.mark.claim("pool.apply-blocks")
@pytest.mark.cpu_bound
def test_pool_apply_blocks_one_by_one(
    gil_claim: ClaimContext, gil_calibration: Calibration,
    doc_pool: multiprocessing.pool.Pool,
) -> None:
    """for i in range(4): r = pool.apply(calc, (i,)) — each call waits for its result, so the
    four run one after another: no faster than four calc() calls in the main process."""
    gil_claim.skip_if_not_testable()
    result = measure_scaling(
        calc_i, args=(0, gil_calibration.calc_n // 2), workers=4, tasks=4, executor="process",
        pool=PoolExecutor(doc_pool, 4, "apply"), hypothesis="serialized", cpu_bound=True,
        label="4 × pool.apply(calc, (i,)) on Pool(4)",
    )
    gil_claim.decide(result, hypothesis="serialized")


@pytest.mark.claim("pool.apply-async-nonblocking")
@pytest.mark.cpu_bound
def test_pool_apply_async_nonblocking_returns_at_once_and_runs_together(
    gil_claim: ClaimContext, gil_calibration: Calibration,
    doc_pool: multiprocessing.pool.Pool, measure_once: Any,
) -> None:
    """r = pool.apply_async(calc, (i,)) returns an ApplyResult before the task is done (its
    ready() is still False), and the four tasks run together: ideal-limited time."""
    gil_claim.skip_if_not_testable()
    at_once = apply_async_returns_at_once(doc_pool, gil_calibration.calc_n)
    note = at_once.detail + "; "
    result = measure_once.pool_async_calc(gil_calibration, doc_pool)
    if not at_once.holds:
        gil_claim.functional(False, note + "apply_async blocked", checks=[result],
                             observations=at_once.observations)
        return
    gil_claim.decide(result, hypothesis="parallel", note=note)


@pytest.mark.claim("pool.callback-in-main")
def test_pool_callback_in_main_process_result_handler_thread(
    gil_claim: ClaimContext, doc_pool: multiprocessing.pool.Pool
) -> None:
    """The document's log shows the callback in "MainProcess Thread-3": callbacks run in the
    parent, in the pool's result-handler thread (not the main thread), in the order tasks
    complete; error_callback likewise."""
    result = callbacks_in_result_handler(doc_pool, unit=UNIT)
    gil_claim.functional(result.holds, result.detail, observations=result.observations)


@pytest.mark.claim("pool.close-join-terminate")
def test_pool_close_join_terminate_rules(gil_claim: ClaimContext) -> None:
    """close(): no new tasks, the queued ones still finish and join() returns; join() before
    close()/terminate() → ValueError; terminate(): running and queued tasks are dropped at
    once and the workers are gone."""
    ctx = multiprocessing.get_context(current_settings().start_method)
    result = close_join_terminate(ctx, unit=UNIT)
    gil_claim.functional(result.holds, result.detail, observations=result.observations)


@pytest.mark.claim("pool.threads-calling-apply")
@pytest.mark.cpu_bound
def test_pool_threads_calling_apply_overlap(
    gil_claim: ClaimContext, gil_calibration: Calibration,
    doc_pool: multiprocessing.pool.Pool,
) -> None:
    """The document's last Pool example: for i in range(4): threading.Thread(target=sub,
    args=(pool, calc, i)) where sub calls pool.apply — the blocking calls of four threads
    overlap, so the four tasks take ideal-limited time, not 4 × one task."""
    gil_claim.skip_if_not_testable()
    callers = PoolExecutor(doc_pool, 4, "threads")
    try:
        # Full-size calc: starting the four calling threads and their apply round trips
        # through the pool's handler threads cost a few ms per phase.
        result = measure_scaling(
            calc_i, args=(0, gil_calibration.calc_n), workers=4, tasks=4, executor="process",
            pool=callers, hypothesis="parallel", cpu_bound=True,
            label="4 threads each calling pool.apply(calc, (i,)) on Pool(4)",
        )
    finally:
        callers.shutdown()  # joins the calling threads
    gil_claim.decide(result, hypothesis="parallel")
