"""Concurrency tests of the checksums library, written with pytest-gil.

docs/USING.md shows each part between ``--8<--`` markers; a test of pytest-gil keeps the two
identical.
"""

# ruff: noqa: E402  (each part shown in the docs imports what it uses)
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
from pytest_gil import releases_gil


def test_digest_releases_the_gil():
    result = releases_gil(digest, payload(DIGEST_BYTES))
    if result.releases is None:  # a free-threaded build, or a machine too busy to tell
        pytest.skip(f"undecided: {result.reason}")
    assert result.releases, str(result)


def test_fletcher16_holds_the_gil():
    result = releases_gil(fletcher16, payload(FLETCHER_BYTES))
    if result.releases is None:
        pytest.skip(f"undecided: {result.reason}")
    assert not result.releases, str(result)
# --8<-- [end:releases]


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
from pytest_gil import measure_scaling


@pytest.mark.requires_cpus(2)
def test_threads_suit_digest_as_well_as_processes(process_pool):
    results = {
        "thread": measure_scaling(digest_job, workers=2, executor="thread"),
        "process": measure_scaling(digest_job, workers=2, executor="process", pool=process_pool),
        "interpreter": measure_scaling(digest_job, workers=2, executor="interpreter"),
    }
    for kind, result in results.items():
        print(f"{kind:<12} parallel {result.verdicts['parallel']:<13} {result.detail()}")
    # SHA-256 in C releases the GIL: threads scale like processes, without the start-up cost
    # and the pickling, on every runtime.  "inconclusive" (a busy machine) is not a failure.
    for kind in ("thread", "process"):
        assert results[kind].verdicts["parallel"] != "refuted", results[kind].detail()
# --8<-- [end:executors]


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
