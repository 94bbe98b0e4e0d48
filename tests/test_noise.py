"""Machine-noise readings: the suspect rules on fake counters, the parsers on fake files, and
one real check that a busy background process is seen."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_gil import noise
from pytest_gil.noise import Snapshot

TCK = noise._CLK_TCK


def snap(wall: float, own: float, busy: float | None = 0.0, steal: float | None = 0.0,
         total: float | None = 0.0, throttled: int | None = None,
         throttled_usec: float | None = None, n_cpus: int = 2) -> Snapshot:
    return Snapshot(wall=wall, own_cpu=own, busy=busy, steal=steal, total=total,
                    n_cpus=n_cpus if busy is not None else None, throttled_periods=throttled,
                    throttled_usec=throttled_usec, runnable=1)


def pair(wall: float = 1.0, own: float = 1.0, foreign: float = 0.0, steal: float = 0.0,
         throttled: int = 0, n_cpus: int = 2) -> tuple[Snapshot, Snapshot]:
    """Snapshots 1 s apart in which we used ``own`` CPU-s and others ``foreign`` CPUs."""
    busy = own + foreign * wall + steal
    total = n_cpus * wall
    return (snap(0.0, 0.0, 0.0, 0.0, 0.0, throttled=0, throttled_usec=0.0, n_cpus=n_cpus),
            snap(wall, own, busy, steal, total, throttled=throttled,
                 throttled_usec=1000.0 * throttled, n_cpus=n_cpus))


def test_quiet_round_is_not_suspect() -> None:
    r = noise.reading(*pair(own=1.0, foreign=0.02), serial_cpu_ratio=0.99)
    assert not r.suspect and r.reasons == () and r.flags == ()
    assert r.foreign_cpu == pytest.approx(0.02)
    assert r.steal == pytest.approx(0.0) and r.throttled is False
    assert "suspect" not in str(r)


def test_foreign_load_makes_a_round_suspect() -> None:
    r = noise.reading(*pair(foreign=1.0), serial_cpu_ratio=1.0)
    assert r.suspect and r.flags == ("foreign",)
    assert r.foreign_cpu == pytest.approx(1.0)
    assert "foreign load 1.00 CPU" in str(r)


def test_tick_quantisation_allowance() -> None:
    # 0.3 CPU over a 50 ms round is 15 ms of others' work: within the n_cpus ticks (20 ms at
    # 100 Hz) that /proc/stat may be off by — not judged.
    wall = 0.05
    allowance = 2 / (TCK * wall)
    r = noise.reading(*pair(wall=wall, own=wall, foreign=noise.FOREIGN_CPU_MAX + allowance / 2))
    assert not r.suspect
    r = noise.reading(*pair(wall=wall, own=wall, foreign=noise.FOREIGN_CPU_MAX + 2 * allowance))
    assert r.suspect


def test_steal_and_throttling() -> None:
    r = noise.reading(*pair(steal=0.2))  # 0.2 CPU-s of 2 CPU-s = 10%
    assert r.suspect and "steal" in r.flags and r.steal == pytest.approx(0.1)
    r = noise.reading(*pair(throttled=3))
    assert r.suspect and r.flags == ("throttled",) and r.throttled
    assert r.throttled_usec == pytest.approx(3000.0)


def test_serial_phase_short_of_a_core() -> None:
    r = noise.reading(*pair(), serial_cpu_ratio=0.8)
    assert r.suspect and r.flags == ("serial-cpu",)
    # Waiting work: neither the serial CPU share nor others' computing matters.
    r = noise.reading(*pair(foreign=1.5), serial_cpu_ratio=0.01, cpu_bound=False)
    assert not r.suspect


def test_other_processes_cpu_counts_as_ours() -> None:
    # Pool workers used 1 CPU-s: that busy time is ours, not foreign.
    before, after = pair(own=0.1, foreign=1.0)
    r = noise.reading(before, after, other_cpu=1.0)
    assert r.foreign_cpu == pytest.approx(0.0, abs=1e-9) and not r.suspect


def test_without_proc_nothing_is_suspect() -> None:
    before = snap(0.0, 0.0, busy=None, steal=None, total=None)
    after = snap(1.0, 1.0, busy=None, steal=None, total=None)
    r = noise.reading(before, after, serial_cpu_ratio=0.5)
    assert r.foreign_cpu is None and r.steal is None and r.throttled is None
    assert not r.suspect
    assert r.to_dict()["foreign_cpu"] is None


def test_to_dict_is_plain() -> None:
    import json

    r = noise.reading(*pair(foreign=1.0), serial_cpu_ratio=0.95)
    d = r.to_dict()
    json.dumps(d)
    assert d["suspect"] is True and d["flags"] == ["foreign"]


def test_proc_stat_parser(tmp_path: Path) -> None:
    f = tmp_path / "stat"
    f.write_text(
        "cpu  100 5 50 1000 10 3 2 40 7 0\n"
        "cpu0 50 2 25 500 5 1 1 20 0 0\n"
        "cpu1 50 3 25 500 5 2 1 20 0 0\n"
        "intr 12345\n"
    )
    parsed = noise._read_proc_stat(f)
    assert parsed is not None
    busy, steal, total, n = parsed
    assert busy == pytest.approx((100 + 5 + 50 + 3 + 2 + 40) / TCK)  # guest is inside user
    assert steal == pytest.approx(40 / TCK)
    assert total == pytest.approx((100 + 5 + 50 + 1000 + 10 + 3 + 2 + 40) / TCK)
    assert n == 2
    assert noise._read_proc_stat(tmp_path / "missing") is None
    (tmp_path / "bad").write_text("nonsense\n")
    assert noise._read_proc_stat(tmp_path / "bad") is None


def test_proc_stat_counts_only_our_cpus(tmp_path: Path) -> None:
    f = tmp_path / "stat"
    f.write_text(
        "cpu  300 0 30 3000 0 0 0 0 0 0\n"
        "cpu0 100 0 10 1000 0 0 0 0 0 0\n"
        "cpu1 100 0 10 1000 0 0 0 0 0 0\n"
        "cpu2 100 0 10 1000 0 0 0 0 0 0\n"
    )
    parsed = noise._read_proc_stat(f, cpus=frozenset({0, 2}))
    assert parsed is not None
    assert parsed[0] == pytest.approx(220 / TCK) and parsed[3] == 2
    # All CPUs, or a mask naming CPUs the file does not list: the aggregate line.
    assert noise._read_proc_stat(f, cpus=frozenset({0, 1, 2}))[3] == 3  # type: ignore[index]
    assert noise._read_proc_stat(f, cpus=frozenset({7}))[0] == pytest.approx(  # type: ignore[index]
        330 / TCK)


def test_throttling_parser_v1_and_v2(tmp_path: Path) -> None:
    v2 = tmp_path / "v2.stat"
    v2.write_text("usage_usec 100\nnr_periods 10\nnr_throttled 2\nthrottled_usec 5000\n")
    v1 = tmp_path / "v1.stat"
    v1.write_text("nr_periods 10\nnr_throttled 3\nthrottled_time 7000000\n")
    assert noise._read_throttling([v2]) == (2, 5000.0)
    assert noise._read_throttling([v1]) == (3, 7000.0)
    assert noise._read_throttling([v1, v2]) == (5, 12000.0)
    assert noise._read_throttling([]) is None
    unified = tmp_path / "unified.stat"  # hybrid hierarchy: no cpu controller in v2
    unified.write_text("usage_usec 100\n")
    assert noise._read_throttling([unified]) is None


def test_snapshot_on_this_system() -> None:
    s = noise.snapshot()
    assert s.own_cpu >= 0 and s.wall > 0
    if Path("/proc/stat").exists():
        assert s.busy is not None and s.total is not None and s.total >= s.busy
    else:
        assert s.busy is None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat (Linux)")
def test_a_busy_background_process_is_seen() -> None:
    hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        time.sleep(0.3)  # let it start and get scheduled
        readings = []
        for _ in range(3):
            before = noise.snapshot()
            time.sleep(0.3)
            readings.append(noise.reading(before, noise.snapshot()))
    finally:
        hog.kill()
        hog.wait()
    # The hog runs ~1 CPU; at least one of three 0.3 s windows sees it above the threshold
    # even on a shared machine (a CPU-count reading, not a duration).
    assert any(r.suspect and "foreign" in r.flags for r in readings), [str(r) for r in readings]


@pytest.mark.skipif(not Path("/proc/thread-self/schedstat").exists(),
                    reason="needs schedstat (Linux)")
def test_thread_schedstat_sees_wanting_a_cpu_apart_from_sleeping() -> None:
    def wanted(work: Callable[[], object]) -> float:
        s0, t0 = noise.thread_schedstat(), time.perf_counter()
        work()
        s1, wall = noise.thread_schedstat(), time.perf_counter() - t0
        assert s0 is not None and s1 is not None
        return (s1[0] - s0[0] + s1[1] - s0[1]) / wall

    def compute() -> int:
        return sum(range(3_000_000))

    # Computing wants a CPU all the time (on it or queued for it); sleeping never does.
    # Both are ratios of one thread's own accounting, so load does not move them.
    assert wanted(compute) > 0.5
    assert wanted(lambda: time.sleep(0.05)) < 0.5


def test_reading_is_frozen() -> None:
    r = noise.reading(*pair())
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.suspect = True  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# gating: what a platform lets a round be judged on

STAT = ("cpu  100 0 50 1000 0 0 0 0 0 0\n"
        "cpu0 50 0 25 500 0 0 0 0 0 0\n"
        "cpu1 50 0 25 500 0 0 0 0 0 0\n")


@pytest.fixture
def fake_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> Callable[..., str]:
    """A machine of two CPUs (our affinity) made of files in ``tmp_path``: ``/proc/stat``,
    a cgroup v2 tree with or without ``cpu.stat`` and a quota; returns its gating."""
    def build(*, proc_stat: bool = True, cpu_stat: bool = True,
              quota: float | None = None) -> str:
        root = tmp_path / "cgroup"
        (root / "job").mkdir(parents=True, exist_ok=True)
        if cpu_stat:
            (root / "job" / "cpu.stat").write_text("nr_periods 0\nnr_throttled 0\n")
        if quota is not None:
            (root / "job" / "cpu.max").write_text(f"{int(quota * 100000)} 100000\n")
        (tmp_path / "self-cgroup").write_text("0::/job\n")
        if proc_stat:
            (tmp_path / "stat").write_text(STAT)
        for module, name, value in (
            (noise, "PROC_STAT", tmp_path / "stat"),
            (noise, "PROC_SELF_CGROUP", tmp_path / "self-cgroup"),
            (noise, "CGROUP_ROOT", root),  # the profile's cgroup quota reads these too
        ):
            monkeypatch.setattr(module, name, value)
        monkeypatch.setattr(noise, "_affinity", lambda: frozenset({0, 1}))
        return noise.gating()

    return build


def test_gating_is_available_with_cpu_counters_and_cpu_stat(
        fake_machine: Callable[..., str]) -> None:
    assert fake_machine() == noise.GATING_AVAILABLE
    # Without a quota nothing can throttle us: a missing cpu.stat is not a gap.
    assert fake_machine(cpu_stat=False) == noise.GATING_AVAILABLE


def test_gating_is_partial_without_proc_stat(fake_machine: Callable[..., str]) -> None:
    assert fake_machine(proc_stat=False) == (
        "partial: foreign CPU and steal unknown (no /proc/stat)")


def test_gating_is_partial_under_a_quota_without_cpu_stat(
        fake_machine: Callable[..., str]) -> None:
    assert fake_machine(cpu_stat=False, quota=2.0) == (
        "partial: cgroup throttling unknown under a CPU quota (no readable cpu.stat)")


def test_gating_is_partial_under_a_quota_below_the_cpu_set(
        fake_machine: Callable[..., str]) -> None:
    gating = fake_machine(quota=1.0)
    assert gating.startswith("partial: foreign CPU and steal not judged (a cgroup CPU quota")
    s = noise.snapshot()
    assert s.busy is None and s.throttled_periods == 0 and s.gating == gating


def test_gating_is_unavailable_without_any_counter(fake_machine: Callable[..., str]) -> None:
    gating = fake_machine(proc_stat=False, cpu_stat=False)
    assert gating.startswith("unavailable: no CPU counters")
    before, after = noise.snapshot(), noise.snapshot()
    r = noise.reading(before, after, serial_cpu_ratio=0.1)
    assert not r.suspect and r.gating == gating and r.to_dict()["gating"] == gating


def test_a_reading_of_unstamped_snapshots_derives_its_gating() -> None:
    assert noise.reading(*pair()).gating == noise.GATING_AVAILABLE
    only_cgroup = (snap(0.0, 0.0, busy=None, throttled=0),
                   snap(1.0, 1.0, busy=None, throttled=0))
    assert noise.reading(*only_cgroup).gating.startswith("partial: foreign CPU and steal")
    nothing = (snap(0.0, 0.0, busy=None), snap(1.0, 1.0, busy=None))
    assert noise.reading(*nothing).gating.startswith("unavailable:")


def test_the_gating_of_this_machine_matches_its_files() -> None:
    gating = noise.gating()
    if Path("/proc/stat").exists():
        assert not gating.startswith("unavailable"), gating
    else:
        assert gating.startswith("unavailable"), gating


def test_runnable_reads_the_fourth_field_of_loadavg(tmp_path: Path) -> None:
    f = tmp_path / "loadavg"
    f.write_text("0.50 0.40 0.30 3/812 12345\n")
    assert noise.runnable(f) == 3
    assert noise.runnable(tmp_path / "missing") is None
