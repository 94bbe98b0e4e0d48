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
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from gil_audit.pools import PoolExecutor, terminating, wait_for
from gil_audit.workers import default_sigterm, fail_with, mark_and_sleep, sleep_then_return

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
    n = gil_calibration.calc_n
    rs = [doc_pool.apply_async(calc_i, (i, n)) for i in range(4)]
    ready_at_return = [r.ready() for r in rs]
    values = [r.get(timeout=60) for r in rs]
    is_apply_result = all(isinstance(r, multiprocessing.pool.ApplyResult) for r in rs)
    nonblocking = is_apply_result and not any(ready_at_return) and values == [
        (i, n) for i in range(4)]
    note = (f"apply_async returned {type(rs[0]).__name__} objects, ready() right after "
            f"returning: {ready_at_return}, get() → {values[:2]}…; ")
    result = measure_once.pool_async_calc(gil_calibration, doc_pool)
    if not nonblocking:
        gil_claim.functional(False, note + "apply_async blocked", checks=[result])
        return
    gil_claim.decide(result, hypothesis="parallel", note=note)


@pytest.mark.claim("pool.callback-in-main")
def test_pool_callback_in_main_process_result_handler_thread(
    gil_claim: ClaimContext, doc_pool: multiprocessing.pool.Pool
) -> None:
    """The document's log shows the callback in "MainProcess Thread-3": callbacks run in the
    parent, in the pool's result-handler thread (not the main thread), in the order tasks
    complete; error_callback likewise."""
    log: list[tuple[Any, ...]] = []

    def where() -> tuple[int, str, int, bool]:
        t = threading.current_thread()
        return os.getpid(), t.name, threading.get_ident(), t is threading.main_thread()

    # Task i sleeps (4 - i) units: they complete in the order 3, 2, 1, 0.
    rs = [
        doc_pool.apply_async(sleep_then_return, (i, (4 - i) * UNIT),
                             callback=lambda x: log.append(("callback", x, *where())))
        for i in range(4)
    ]
    err = doc_pool.apply_async(fail_with, ("boom",),
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
        f"error_callback got {errors[0][1]!r}" if errors else "no error_callback ran"
    )
    gil_claim.functional(holds, detail)


@pytest.mark.claim("pool.close-join-terminate")
def test_pool_close_join_terminate_rules(gil_claim: ClaimContext) -> None:
    """close(): no new tasks, the queued ones still finish and join() returns; join() before
    close()/terminate() → ValueError; terminate(): running and queued tasks are dropped at
    once and the workers are gone."""
    ctx = multiprocessing.get_context(current_settings().start_method)
    obs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pytest-gil-pool-") as d:
        with terminating(ctx.Pool(2, initializer=default_sigterm)) as pool:
            rs = [pool.apply_async(mark_and_sleep, (d, i, UNIT)) for i in range(2)]
            try:
                pool.join()
                obs["join_before_close"] = "returned"
            except ValueError as exc:
                obs["join_before_close"] = f"ValueError: {exc}"
            pool.close()
            for name, call in (("apply_async", lambda: pool.apply_async(sleep_then_return,
                                                                         (9, 0.0))),
                               ("apply", lambda: pool.apply(sleep_then_return, (9, 0.0)))):
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
        with terminating(ctx.Pool(1, initializer=default_sigterm)) as pool:
            procs = list(pool._pool)  # type: ignore[attr-defined]  # the workers
            rs = [pool.apply_async(mark_and_sleep, (str(d2), i, 30 * UNIT)) for i in range(4)]
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
    gil_claim.functional(holds, detail, observations=obs)


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
