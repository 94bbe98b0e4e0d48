"""Concurrency tests of the checksums library, written with pytest-gil.

docs/USING.md shows each part between ``--8<--`` markers; a test of pytest-gil keeps the two
identical.
"""

# ruff: noqa: E402, F811  (each part shown in the docs imports what it uses)
from __future__ import annotations

import os

import pytest
from checksums import crc32, digest, fletcher16
from checksums.workloads import (
    DIGEST_BYTES,
    FLETCHER_BYTES,
    crc32_job,
    digest_job,
    fletcher16_job,
    payload,
)

# --8<-- [start:releases]
from pytest_gil import assert_holds_gil, assert_releases_gil


def test_digest_releases_the_gil():
    # at least 80% of its time without the GIL: the hashing itself, not just some of it
    assert_releases_gil(digest, payload(DIGEST_BYTES), min_fraction=0.8)


def test_fletcher16_holds_the_gil():
    assert_holds_gil(fletcher16, payload(FLETCHER_BYTES))
# --8<-- [end:releases]


# --8<-- [start:strict]
@pytest.mark.gil(budget=40, alpha=0.01)  # more time, and a looser α, for this one check
def test_fletcher16_holds_the_gil_strictly():
    assert_holds_gil(fletcher16, payload(FLETCHER_BYTES))
# --8<-- [end:strict]


# --8<-- [start:by-runtime]
from pytest_gil import assert_no_speedup, assert_scales


@pytest.mark.requires_cpus(2)
def test_fletcher16_threads_scale_only_without_the_gil(runtime_profile):
    """Serialized where the GIL is on (3.13, 3.14); scales where it is off (3.13t, 3.14t)."""
    if runtime_profile.gil_enabled:
        assert_no_speedup(fletcher16_job, FLETCHER_BYTES, workers=2, executor="thread")
    else:
        assert_scales(fletcher16_job, FLETCHER_BYTES, workers=2, executor="thread")
# --8<-- [end:by-runtime]


# --8<-- [start:executors]
from pytest_gil import assert_scales


@pytest.mark.requires_cpus(2)
@pytest.mark.parametrize("executor", ["thread", "process", "interpreter"])
def test_digest_scales_in_every_executor(executor, executor_factory):
    # SHA-256 in C releases the GIL: threads scale like processes, without the start-up cost
    # and the pickling, on every runtime.  Sub-interpreters need CPython 3.12+ (elsewhere:
    # not testable, skipped).
    pool = executor_factory(executor, max_workers=2) if executor != "interpreter" else None
    assert_scales(digest_job, workers=2, executor=executor, pool=pool)
# --8<-- [end:executors]


# --8<-- [start:curve]
from pytest_gil import measure_curve


@pytest.mark.requires_cpus(2)
def test_how_digest_scales_with_threads():
    curve = measure_curve(digest_job, workers=(1, 2, 4), executor="thread")
    print(curve)  # speedup and efficiency per worker count, Amdahl's serial fraction, USL
    assert [p.workers for p in curve.points] == [1, 2, 4]
    # 4 threads on fewer usable CPUs are measured, but marked and left out of the fits
    assert curve.point(4).beyond_cpus == (curve.usable_cpus < 4)
# --8<-- [end:curve]


# --8<-- [start:fixtures]
from pytest_gil import run_tasks


def test_digest_gives_one_answer_in_threads(thread_runner):
    timeline = thread_runner.run(digest_job, 1 << 20, workers=4)
    assert timeline.results == [digest_job(1 << 20)] * 4


def test_digest_runs_in_worker_processes(process_pool):
    timeline = run_tasks("process", digest_job, 1 << 20, tasks=4, workers=2,
                         executor=process_pool)
    assert timeline.results == [digest_job(1 << 20)] * 4
    assert os.getpid() not in {task.pid for task in timeline.tasks}


def test_crc32_in_every_executor(executor_factory, runtime_profile):
    kinds = ["thread", "process"]
    if runtime_profile.subinterpreters:
        kinds.append("interpreter")
    for kind in kinds:
        pool = executor_factory(kind, max_workers=2)
        assert list(pool.map(crc32_job, [1 << 16] * 4)) == [crc32(payload(1 << 16))] * 4
# --8<-- [end:fixtures]


# --8<-- [start:contention]
def test_fletcher16_threads_wait_for_the_gil(gil_contention, thread_runner):
    with gil_contention.measure() as meter:
        thread_runner.run(fletcher16_job, FLETCHER_BYTES, workers=2)
    result = meter.result  # also in the report, beside this test's row
    print(result)
    assert result.samples > 0 and 0.0 <= result.wait_fraction <= 1.0
# --8<-- [end:contention]
