"""The workloads and their calibration.

Return values are exact; timing is only ever compared with itself (ratios, with generous
bounds), never with an absolute duration: the machine is shared and noisy.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import multiprocessing
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_gil import workloads
from pytest_gil.workloads import (
    DEFAULT_TARGET,
    Calibration,
    calc,
    calc_i,
    calibrate,
    mixed_request,
    noop,
    pipe_read,
    sha256_work,
    size_for,
    worker,
    zlib_work,
)

# --------------------------------------------------------------------------------------------
# what each workload returns


@pytest.mark.parametrize("n", [0, 1, 10, 12_345])
def test_calc_counts_to_n(n: int) -> None:
    assert calc(n) == n


def test_calc_i_returns_its_index_and_the_count() -> None:
    assert calc_i(3, 1000) == (3, 1000)


@pytest.mark.parametrize("t", [0, 0.001, 0.01])
def test_worker_sleeps_and_returns_1000_plus_its_argument(t: float) -> None:
    assert worker(t) == 1000 + t


def test_noop_takes_anything_and_returns_none() -> None:
    assert noop() is None  # type: ignore[func-returns-value]
    assert noop(1, "two", [3]) is None  # type: ignore[func-returns-value]


def test_mixed_request_returns_the_count() -> None:
    assert mixed_request(5000, 0.001) == 5000


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else 0


@pytest.mark.parametrize("t", [0, 0.01])
def test_pipe_read_returns_the_byte_written_and_closes_its_pipe(t: float) -> None:
    fds = _open_fds()
    threads = threading.active_count()
    assert pipe_read(t) == b"x"
    assert _open_fds() == fds
    assert threading.active_count() == threads


@pytest.mark.parametrize("nbytes", [0, 1, 2047, 2048, 100_000, 1_000_003])
def test_sha256_work_is_a_hex_digest_of_the_requested_size(nbytes: int) -> None:
    digest = sha256_work(nbytes)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == sha256_work(nbytes)  # deterministic in this process
    assert digest == hashlib.sha256(workloads._buffer(nbytes)).hexdigest()
    assert len(workloads._buffer(nbytes)) == nbytes


@pytest.mark.parametrize("nbytes", [0, 4096, 1_000_003])
def test_zlib_work_is_deterministic_and_really_compresses(nbytes: int) -> None:
    size = zlib_work(nbytes)
    assert size == zlib_work(nbytes)
    assert size > 0
    if nbytes >= 4096:
        assert size < nbytes  # compressible, so zlib does real work


def _spawned_results(nbytes: int) -> tuple[str, int]:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(sha256_work, nbytes).result(), pool.submit(zlib_work, nbytes).result()


def test_sha256_and_zlib_give_the_same_answer_in_every_process() -> None:
    # A result is only a known answer if every worker computes the same one.
    nbytes = 100_000
    assert _spawned_results(nbytes) == (sha256_work(nbytes), zlib_work(nbytes))


# --------------------------------------------------------------------------------------------
# calibration


class FakeClock:
    """A thread CPU clock whose workload costs exactly ``per_unit`` seconds per unit of size
    (calibration times the thread's CPU time, so load does not shrink the sizes)."""

    def __init__(self, per_unit: float, overhead: float = 0.0) -> None:
        self.now = 0.0
        self.per_unit = per_unit
        self.overhead = overhead
        self.calls: list[int] = []

    def thread_time(self) -> float:
        return self.now

    def work(self, n: int) -> None:
        self.calls.append(n)
        self.now += self.overhead + n * self.per_unit


@pytest.mark.parametrize("target", [0.005, 0.05, 1.0])
@pytest.mark.parametrize("per_unit", [1e-8, 1e-6])
def test_size_for_finds_the_size_of_a_linear_workload(
    monkeypatch: pytest.MonkeyPatch, target: float, per_unit: float
) -> None:
    clock = FakeClock(per_unit)
    monkeypatch.setattr(workloads, "time", SimpleNamespace(thread_time=clock.thread_time))
    n = size_for(clock.work, target, start=10)
    assert abs(n - target / per_unit) <= 1 + 1e-6 * target / per_unit  # int() truncation


def test_size_for_corrects_for_a_fixed_overhead(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(1e-7, overhead=0.001)
    monkeypatch.setattr(workloads, "time", SimpleNamespace(thread_time=clock.thread_time))
    n = size_for(clock.work, 0.05, start=10)
    # The task lasts n·cost + overhead: within a few percent of the target.
    assert clock.overhead + n * clock.per_unit == pytest.approx(0.05, rel=0.05)


@pytest.mark.parametrize("target", [0, -0.05])
def test_size_for_refuses_a_target_that_is_not_positive(target: float) -> None:
    with pytest.raises(ValueError, match="calibration target must be positive"):
        size_for(calc, target, 100)


def test_the_default_target_is_in_the_documented_range() -> None:
    assert 0.030 <= DEFAULT_TARGET <= 0.100


def test_calibrate_gives_positive_sizes_for_its_target() -> None:
    cal = calibrate(0.005)
    assert cal.target == 0.005
    assert cal.calc_n > 0 and cal.sha256_bytes > 0 and cal.zlib_bytes > 0
    assert cal.seconds > 0
    assert cal.python == __import__("platform").python_version()
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert Calibration.from_dict({**cal.to_dict(), "future_field": 1}) == cal


def test_calibrated_sizes_grow_roughly_linearly_with_the_target() -> None:
    # 4× the target should need about 4× the work; generous bounds for a noisy machine.
    # Noise only adds time, so it only shrinks a size: the largest of three is the least
    # disturbed estimate.
    small, large = 0.004, 0.016
    for fn, start in [(calc, 10_000), (sha256_work, 1 << 16), (zlib_work, 1 << 16)]:
        ratio = max(size_for(fn, large, start) for _ in range(3)) / max(
            size_for(fn, small, start) for _ in range(3)
        )
        assert 1.5 < ratio < 12, (fn.__name__, ratio)


def test_calibration_does_not_keep_its_probe_buffers_alive() -> None:
    workloads._buffers.clear()
    cal = calibrate(0.005)
    kept = sum(len(b) for b in workloads._buffers.values())
    assert kept <= cal.sha256_bytes + cal.zlib_bytes


def test_calibration_times_cpu_not_wall_so_load_does_not_shrink_the_sizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A workload that waits as long again as it computes (a loaded machine) keeps its size:
    only the thread's CPU time counts."""
    clock = FakeClock(1e-7)
    wall = [0.0]

    def loaded(n: int) -> None:
        before = clock.now
        clock.work(n)
        wall[0] += 2 * (clock.now - before)  # half of the wall time spent waiting for a core

    monkeypatch.setattr(workloads, "time", SimpleNamespace(thread_time=clock.thread_time,
                                                           perf_counter=lambda: wall[0]))
    n = size_for(loaded, 0.05, start=10)
    assert n * clock.per_unit == pytest.approx(0.05, rel=0.01)
