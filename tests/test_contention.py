"""The GIL contention figure: its statistics on synthetic delays with a known truth, the
sampler on real threads (a CPU-bound thread, threads that release the GIL), the sampler's
cleanup, and the ``gil_contention`` fixture end to end (with and without xdist) up to the JSON
report's ``tests`` section.

Real-measurement assertions compare figures measured in the same test (the idle baseline, a
busy thread) with margins taken from the model (``W / (W + s)``: 0.5 beside one CPU-bound
thread), never with an absolute duration.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pytest_gil
from pytest_gil import contention
from pytest_gil.contention import (
    THREAD_NAME,
    Baseline,
    GilContention,
    GilContentionMeter,
    Overhead,
    Window,
    percentile,
    summarise,
    wait_fraction,
)
from pytest_gil.profile import runtime_profile

S = 0.005  # the default switch interval: the synthetic delays are built around it
REQUIRED_KEYS = {"wait_fraction", "mean_delay", "p99_delay", "samples", "interval",
                 "overhead", "gil_enabled", "note"}
NO_OVERHEAD = Overhead(0.01, 0.0, 0.02, 0.01, 12, 0.001)


def idle_delays(n: int, rng: random.Random, centre: float = 80e-6) -> list[float]:
    """An OS's wake-up latencies: ~80 µs with a small right tail."""
    return [centre + rng.expovariate(1 / 10e-6) for _ in range(n)]


def figure(delays: list[float], baseline: Baseline, *, queue: float | None = None,
           gil_on: bool = True) -> GilContention:
    return summarise(delays, baseline=baseline, interval=0.001, switch_interval=S,
                     overhead=NO_OVERHEAD, gil_on=gil_on, queue_seconds=queue)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261201)


# --------------------------------------------------------------------------------------------
# statistics on synthetic samples


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    xs = [float(i) for i in range(1, 101)]  # 1..100
    assert percentile(xs, 0.0) == 1.0 and percentile(xs, 1.0) == 100.0
    assert percentile(xs, 0.5) == pytest.approx(50.5)
    assert percentile(xs, 0.99) == pytest.approx(99.01)
    assert percentile([3.0, 1.0, 2.0], 0.25) == pytest.approx(1.5)
    assert math.isnan(percentile([], 0.5))
    with pytest.raises(ValueError, match="q must be in"):
        percentile(xs, 1.5)


@pytest.mark.parametrize(("mean_wait", "expected"),
                         [(0.0, 0.0), (S, 0.5), (2 * S, 2 / 3), (3 * S, 3 / 4), (-1e-4, 0.0)])
def test_wait_fraction_is_k_over_k_plus_one_beside_k_busy_threads(
        mean_wait: float, expected: float) -> None:
    assert wait_fraction(mean_wait, S) == pytest.approx(expected)


def test_wait_fraction_needs_a_positive_switch_interval() -> None:
    assert math.isnan(wait_fraction(math.nan, S))
    with pytest.raises(ValueError, match="switch_interval must be positive"):
        wait_fraction(0.001, 0.0)


def test_a_baseline_is_the_median_and_the_run_queue_per_sample() -> None:
    b = Baseline.from_delays([1e-4, 2e-4, 9e-3], queue_seconds=3e-4)
    assert b.median == pytest.approx(2e-4) and b.mean == pytest.approx(3.1e-3)
    assert b.samples == 3 and b.queue == pytest.approx(1e-4)
    assert Baseline.from_delays([1e-4]).queue is None
    with pytest.raises(ValueError, match="at least one sample"):
        Baseline.from_delays([])


def test_idle_delays_give_a_figure_near_zero(rng: random.Random) -> None:
    base = Baseline.from_delays(idle_delays(64, rng))
    f = figure(idle_delays(500, rng), base)
    # Only the right half of the OS's own scatter (~10 µs here) remains.
    assert f.wait_fraction < 0.01
    assert f.mean_delay < 0.05 * S and f.samples == 500


def test_one_busy_thread_gives_one_half(rng: random.Random) -> None:
    base = Baseline.from_delays(idle_delays(64, rng))
    # Beside one CPU-bound thread the sampler waits one switch interval for the GIL.
    f = figure([d + S for d in idle_delays(400, rng)], base)
    assert f.wait_fraction == pytest.approx(0.5, abs=0.01)
    assert f.mean_delay == pytest.approx(S, rel=0.02)
    assert f.p99_delay == pytest.approx(S, rel=0.05)


def test_a_gil_busy_part_of_the_time_is_recovered_from_random_arrivals() -> None:
    # Known truth: the GIL is held in 5 ms stretches a fraction rho of the time; a thread
    # arriving at a random instant waits the rest of the stretch when it is held:
    # W = rho * s / 2.  Over several seeds the estimate stays within 15% of W.
    for seed in range(20):
        rng = random.Random(seed)
        rho = 0.1 + 0.8 * rng.random()
        base = Baseline.from_delays(idle_delays(64, rng))
        delays = [d + (rng.uniform(0, S) if rng.random() < rho else 0.0)
                  for d in idle_delays(2000, rng)]
        truth = rho * S / 2
        f = figure(delays, base)
        assert f.mean_delay == pytest.approx(truth, rel=0.15), (seed, rho)
        assert f.wait_fraction == pytest.approx(truth / (truth + S), rel=0.15)


def test_a_busy_stretch_counts_by_its_wall_time_not_its_samples(rng: random.Random) -> None:
    # Half a second idle (a sample every ~1 ms), then half a second beside one CPU-bound
    # thread (a sample every ~6 ms): a thread wanting the GIL throughout would wait for
    # 0 then 1/2 of the time — 1/4 overall — and one asking at a random instant would wait
    # s/2 on average, although only ~1 sample in 6 saw the busy stretch.
    base = Baseline.from_delays(idle_delays(64, rng))
    idle = idle_delays(round(0.5 / (0.001 + 80e-6)), rng)
    busy = [d + S for d in idle_delays(round(0.5 / (0.001 + S)), rng)]
    f = figure(idle + busy, base)
    assert f.wait_fraction == pytest.approx(0.25, abs=0.02)
    assert f.mean_delay == pytest.approx(S / 2, rel=0.05)
    plain_mean = sum(max(0.0, d - base.median) for d in idle + busy) / len(idle + busy)
    assert wait_fraction(plain_mean, S) < 0.16  # what a mean over samples would have said


def test_run_queue_time_is_the_os_s_not_the_gil_s(rng: random.Random) -> None:
    base = Baseline.from_delays(idle_delays(64, rng), queue_seconds=0.0)
    queued = 0.002  # a busier machine: every wake-up queued 2 ms for a CPU
    delays = [d + queued for d in idle_delays(300, rng)]
    with_schedstat = figure(delays, base, queue=queued * len(delays))
    assert with_schedstat.wait_fraction < 0.01
    assert with_schedstat.run_queue_delay == pytest.approx(queued)
    # Without schedstat the same delays read as contention, and the note says why.
    blind = figure(delays, Baseline.from_delays(idle_delays(64, rng)))
    assert blind.wait_fraction == pytest.approx(queued / (queued + S), rel=0.05)
    assert "no schedstat" in blind.note and "no schedstat" not in with_schedstat.note


def test_the_note_names_what_limits_the_figure(rng: random.Random) -> None:
    base = Baseline.from_delays(idle_delays(64, rng), queue_seconds=0.0)
    clean = figure(idle_delays(100, rng), base, queue=0.0)
    assert clean.note == ""
    off = figure(idle_delays(100, rng), base, queue=0.0, gil_on=False)
    assert "GIL disabled" in off.note and "≈ 0" in off.note and off.gil_enabled is False
    few = figure(idle_delays(5, rng), base, queue=0.0)
    assert "only 5 samples" in few.note
    coarse = Baseline.from_delays([0.004] * 10, queue_seconds=0.0)  # a 15.6 ms-tick timer, say
    assert "coarse" in figure([0.004] * 50, coarse, queue=0.0).note
    busy_machine = Overhead(0.0, -0.06, 0.09, 0.0, 12, 0.001)
    noisy = summarise(idle_delays(100, rng), baseline=base, interval=0.001, switch_interval=S,
                      overhead=busy_machine, gil_on=True, queue_seconds=0.0)
    assert "overhead is imprecise (quartiles -6.0% to 9.0%)" in noisy.note


def test_no_samples_give_nan_not_zero() -> None:
    f = figure([], Baseline.from_delays([1e-4]), queue=0.0)
    assert f.samples == 0 and math.isnan(f.wait_fraction) and math.isnan(f.p99_delay)


def test_the_overhead_is_the_median_loss_of_cpu_share() -> None:
    pairs = [(Window(rate=100.0 * (1 - loss), cpu_share=0.99 - loss), Window(100.0, 0.99))
             for loss in (0.0, 0.01, 0.02, 0.03, 0.5)]  # one disturbed pair
    o = Overhead.from_pairs(pairs, 0.001)
    assert o.slowdown == pytest.approx(0.02) and o.pairs == 5
    assert o.low == pytest.approx(0.01) and o.high == pytest.approx(0.03)
    assert o.rate_slowdown == pytest.approx(0.02)
    with pytest.raises(ValueError, match="at least one pair"):
        Overhead.from_pairs([], 0.001)


def test_the_record_has_the_report_keys_as_plain_json(rng: random.Random) -> None:
    base = Baseline.from_delays(idle_delays(64, rng))
    d = figure([x + S for x in idle_delays(50, rng)], base).to_dict()
    assert set(d) >= REQUIRED_KEYS
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert isinstance(d["samples"], int) and isinstance(d["gil_enabled"], bool)
    assert all(isinstance(d[k], float) for k in ("wait_fraction", "mean_delay", "p99_delay",
                                                 "interval", "overhead"))


@pytest.mark.parametrize("bad", [0, -0.001, 2.0, math.nan, "1ms", True])
def test_a_bad_interval_is_a_one_line_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^interval must be a number of seconds in \(0, 1\]"):
        GilContentionMeter(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# the sampler on real threads


def _hog(stop: threading.Event) -> None:
    while not stop.is_set():
        for _ in range(1000):
            pass


def _hash(stop: threading.Event) -> None:
    data = b"x" * 8_000_000  # hashlib releases the GIL for buffers over 2 KiB
    while not stop.is_set():
        hashlib.sha256(data).digest()


def _sleep(stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(0.01)


def _measure(work: Callable[[threading.Event], None] | None, seconds: float = 0.4
             ) -> GilContention:
    """The contention while one thread runs ``work`` (or nothing), the main thread waiting."""
    stop = threading.Event()
    worker = threading.Thread(target=work, args=(stop,)) if work else None
    try:
        with GilContentionMeter() as meter:
            if worker:
                worker.start()
            stop.wait(seconds)
            stop.set()
            if worker:
                worker.join()
    finally:
        stop.set()
        if worker and worker.ident:
            worker.join()
    assert meter.result is not None
    return meter.result


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


@pytest.mark.slow
@pytest.mark.cpu_bound  # measures: alone under xdist
def test_a_cpu_bound_thread_makes_others_wait_and_gil_releasing_threads_do_not() -> None:
    idle = _measure(None)
    hog = _measure(_hog)
    hashing = _measure(_hash)
    sleeping = _measure(_sleep)
    figures = {n: str(f) for n, f in
               (("idle", idle), ("hog", hog), ("hash", hashing), ("sleep", sleeping))}
    assert idle.samples >= contention.MIN_SAMPLES, figures
    if runtime_profile().gil_enabled:
        # The model says 0.5 beside one CPU-bound thread and ≈ 0 at idle: "clearly above"
        # is past the midpoint between the measured idle figure and the model's.
        assert hog.wait_fraction > (idle.wait_fraction + 0.5) / 2, figures
        assert hog.mean_delay > idle.p99_delay + idle.baseline_delay, figures
        assert hog.gil_enabled
        near = idle.wait_fraction + (hog.wait_fraction - idle.wait_fraction) / 4
    else:
        # No GIL: a busy thread does not delay anyone beyond the OS's own latency.
        assert "GIL disabled" in hog.note, figures
        near = idle.wait_fraction + 0.05
        assert hog.wait_fraction < near, figures
    assert hashing.wait_fraction < near, figures
    assert sleeping.wait_fraction < near, figures


@pytest.mark.slow
@pytest.mark.cpu_bound  # measures: alone under xdist
def test_the_overhead_is_measured_and_small() -> None:
    result = _measure(_sleep, 0.1)
    # Each sample costs a busy thread one GIL hand-off (two context switches, tens of µs)
    # about every 6 ms: well under a tenth of its time, and the quartiles bracket it.
    assert math.isfinite(result.overhead) and result.overhead < 0.1, str(result)
    low, high = result.overhead_range
    assert low <= result.overhead <= high


def test_the_sampler_is_joined_after_the_block() -> None:
    with pytest_gil.gil_contention() as meter:
        assert meter.running and len(_sampler_threads()) == 1
    assert not meter.running and _sampler_threads() == []
    assert meter.result is not None and meter.stop() is meter.result  # stop() is idempotent


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_the_sampler_is_joined_when_the_block_raises(error: BaseException) -> None:
    with pytest.raises(type(error)), GilContentionMeter() as meter:
        raise error
    assert _sampler_threads() == [] and meter.result is not None


def test_a_meter_measures_once() -> None:
    meter = GilContentionMeter()
    with pytest.raises(RuntimeError, match="never started"):
        meter.stop()
    with meter:
        pass
    with pytest.raises(RuntimeError, match="already measured"), meter:
        pass  # pragma: no cover
    assert _sampler_threads() == []


def test_a_sampler_that_cannot_be_joined_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contention, "JOIN_TIMEOUT", 0.0)
    release = threading.Event()
    monkeypatch.setattr(contention, "_sample", lambda *a, **k: release.wait())
    meter = GilContentionMeter(baseline=Baseline.from_delays([1e-4])).start()
    try:
        with pytest.raises(RuntimeError, match="did not stop within 0 s"):
            meter.stop()
    finally:
        release.set()
        for t in _sampler_threads():
            t.join()


# --------------------------------------------------------------------------------------------
# the fixture, end to end

FIXTURE_TESTS = """
import json, os, threading, time

import pytest


def hog(stop):
    while not stop.is_set():
        for _ in range(1000):
            pass


def busy(seconds):
    stop = threading.Event()
    t = threading.Thread(target=hog, args=(stop,))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join()


def test_idle_body(gil_contention):
    time.sleep(0.3)


def test_busy_body(gil_contention):
    busy(0.3)


def test_blocks(gil_contention):
    with gil_contention.measure() as idle:
        time.sleep(0.2)
    with gil_contention.measure() as hot:
        busy(0.2)
    assert idle.result is not None and hot.result is not None
    assert idle.result.samples > 0 and hot.result.samples > 0


def test_failing_body(gil_contention):
    assert False, "on purpose"
"""

CONFTEST = """
import json, threading

def pytest_sessionfinish(session):
    left = [t.name for t in threading.enumerate() if t.name == "pytest-gil-contention"]
    with open("threads-left-{}.json".format(id(session)), "w") as f:
        json.dump(left, f)
"""

XDIST = pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])


@pytest.fixture
def report(pytester: pytest.Pytester) -> Iterator[Callable[[list[str]], dict[str, object]]]:
    def run(extra: list[str]) -> dict[str, object]:
        pytester.makepyfile(test_contended=FIXTURE_TESTS)
        pytester.makeconftest(CONFTEST)
        result = pytester.runpytest_subprocess("-p", "no:randomly", "--gil-report", "out",
                                               *extra)
        result.assert_outcomes(passed=3, failed=1)
        docs = list((pytester.path / "out").glob("gil-*.json"))
        assert len(docs) == 1, result.outlines
        left = [json.loads(p.read_text()) for p in pytester.path.glob("threads-left-*.json")]
        assert left and all(names == [] for names in left), left  # controller and workers
        data: dict[str, object] = json.loads(docs[0].read_text())
        return data

    yield run


@pytest.mark.slow
@XDIST
def test_the_fixture_writes_the_figure_to_the_report(
        report: Callable[[list[str]], dict[str, object]], xdist: list[str]) -> None:
    doc = report(xdist)
    tests = doc["tests"]
    assert isinstance(tests, dict)
    figures = {nodeid.split("::")[-1]: data["contention"] for nodeid, data in tests.items()}
    assert set(figures) == {"test_idle_body", "test_busy_body", "test_blocks",
                            "test_failing_body"}  # a failed test is recorded too
    for name, fig in figures.items():
        assert set(fig) >= REQUIRED_KEYS, name
        assert fig["samples"] > 0 and fig["interval"] == contention.DEFAULT_INTERVAL, name
    assert figures["test_idle_body"]["scope"] == "test body"
    blocks = figures["test_blocks"]
    assert blocks["scope"] == "measure() blocks" and len(blocks["blocks"]) == 2
    assert blocks["samples"] == sum(b["samples"] for b in blocks["blocks"])
    if runtime_profile().gil_enabled:
        idle, busy = figures["test_idle_body"], figures["test_busy_body"]
        assert busy["wait_fraction"] > (idle["wait_fraction"] + 0.5) / 2, figures
        quiet, hot = blocks["blocks"]
        assert hot["wait_fraction"] > (quiet["wait_fraction"] + 0.5) / 2, blocks


def test_the_fixture_is_listed_and_makes_a_test_measuring() -> None:
    from pytest_gil import plugin

    assert "gil_contention" in plugin.MEASURING_FIXTURES
    assert plugin.gil_contention_fixture is not None


def test_a_plain_meter_outside_pytest_needs_no_pytest(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import json, sys, time\n"
            "from pytest_gil import gil_contention\n"
            "with gil_contention(0.002) as m:\n    time.sleep(0.1)\n"
            "print(json.dumps({'pytest': 'pytest' in sys.modules, **m.result.to_dict()}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    d = json.loads(out.stdout)
    assert d["pytest"] is False
    assert set(d) >= REQUIRED_KEYS and d["interval"] == 0.002 and d["samples"] > 0
