"""The document's application model, measured.

    请求/应答模型:WEB应用中常见的处理模型
    master启动多个worker工作进程,一般和CPU数目相同。发挥多核优势。
    worker工作进程中,往往需要操作网络IO和磁盘IO,启动多线程,提高并发处理能力。…
    这就是nginx工作模式。

Requests that compute (``calc``) and then wait (IO), served by the nginx-style hybrid —
one worker process per CPU, several threads in each — against threads only and
single-threaded processes only.
"""

from __future__ import annotations

from typing import Any

import pytest
from gil_audit.experiments import measure_master_worker

from pytest_gil import ClaimContext
from pytest_gil.workloads import Calibration

WAIT = 0.02
"""Seconds of IO wait per request; the CPU part is 1/8 of a calibrated task (~6 ms)."""


@pytest.mark.claim("model.master-worker")
@pytest.mark.cpu_bound
@pytest.mark.io_bound
def test_model_master_worker_processes_times_threads(
    gil_claim: ClaimContext, gil_calibration: Calibration, process_pool: Any
) -> None:
    """Processes × threads serve mixed requests at least as fast as the better of threads
    only (the GIL serializes their CPU parts) and processes only (each waits for its IO
    one request at a time)."""
    gil_claim.skip_if_not_testable()
    processes = min(2, process_pool.size)
    result = measure_master_worker(
        process_pool, processes=processes, threads_per_process=4,
        n=max(1, gil_calibration.calc_n // 8), wait=WAIT, requests=4 * processes,
    )
    gil_claim.decide(result)
