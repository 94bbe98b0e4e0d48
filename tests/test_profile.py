"""The runtime profile: cgroup CPU quotas on fake v1 and v2 trees, usable CPUs, injection
(``override_profile`` and ``PYTEST_GIL_PROFILE``), tags and labels, and
``python -m pytest_gil profile [--json]``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_gil import profile
from pytest_gil.profile import (
    PROFILE_ENV,
    RuntimeProfile,
    cgroup_cpu_limit,
    override_profile,
    runtime_profile,
    usable_cpus,
)

# The fields docs/DESIGN.md promises, in its order.
DESIGN_FIELDS = [
    "implementation", "version", "version_info", "free_threaded_build", "gil_enabled",
    "python_gil_env", "switch_interval", "usable_cpus", "cpu_affinity", "cgroup_cpu_limit",
    "physical_cores", "logical_cores", "start_methods", "default_start_method",
    "subinterpreters", "load", "injected",
]


@pytest.fixture(autouse=True)
def _no_injection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROFILE_ENV, raising=False)


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


# --------------------------------------------------------------------------------------------
# cgroup v2


def test_v2_quota_of_our_own_cgroup(tmp_path: Path) -> None:
    write(tmp_path, "app/job/cpu.max", "150000 100000")
    assert cgroup_cpu_limit(tmp_path, "0::/app/job\n") == 1.5


def test_v2_a_parent_with_a_tighter_quota_wins(tmp_path: Path) -> None:
    write(tmp_path, "app/job/cpu.max", "400000 100000")
    write(tmp_path, "app/cpu.max", "50000 100000")
    write(tmp_path, "cpu.max", "max 100000")
    assert cgroup_cpu_limit(tmp_path, "0::/app/job\n") == 0.5


def test_v2_a_looser_parent_does_not_raise_the_limit(tmp_path: Path) -> None:
    write(tmp_path, "app/job/cpu.max", "100000 100000")
    write(tmp_path, "app/cpu.max", "800000 100000")
    assert cgroup_cpu_limit(tmp_path, "0::/app/job\n") == 1.0


def test_v2_max_everywhere_means_no_limit(tmp_path: Path) -> None:
    write(tmp_path, "app/job/cpu.max", "max 100000")
    write(tmp_path, "app/cpu.max", "max 100000")
    assert cgroup_cpu_limit(tmp_path, "0::/app/job\n") is None


def test_v2_missing_files_mean_no_limit(tmp_path: Path) -> None:
    (tmp_path / "app" / "job").mkdir(parents=True)
    assert cgroup_cpu_limit(tmp_path, "0::/app/job\n") is None


def test_v2_a_missing_cgroup_directory_falls_back_to_its_parents(tmp_path: Path) -> None:
    # A container sees its own cgroup as the root of the mounted tree.
    write(tmp_path, "cpu.max", "200000 100000")
    assert cgroup_cpu_limit(tmp_path, "0::/docker/0123abcd\n") == 2.0


@pytest.mark.parametrize("text", ["garbage", "100000", "0 100000", "100000 0", "-1 100000", ""])
def test_v2_malformed_or_zero_quotas_are_ignored(tmp_path: Path, text: str) -> None:
    write(tmp_path, "app/cpu.max", text)
    assert cgroup_cpu_limit(tmp_path, "0::/app\n") is None


def test_v2_quota_at_the_root_cgroup(tmp_path: Path) -> None:
    write(tmp_path, "cpu.max", "300000 100000")
    assert cgroup_cpu_limit(tmp_path, "0::/\n") == 3.0


# --------------------------------------------------------------------------------------------
# cgroup v1

V1 = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n"


def test_v1_quota_of_our_own_cgroup(tmp_path: Path) -> None:
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000")
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000")
    assert cgroup_cpu_limit(tmp_path, V1) == 2.5


def test_v1_a_parent_with_a_tighter_quota_wins(tmp_path: Path) -> None:
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1")
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000")
    write(tmp_path, "cpu,cpuacct/docker/cpu.cfs_quota_us", "150000")
    write(tmp_path, "cpu,cpuacct/docker/cpu.cfs_period_us", "100000")
    assert cgroup_cpu_limit(tmp_path, V1) == 1.5


def test_v1_minus_one_means_no_limit(tmp_path: Path) -> None:
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1")
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000")
    assert cgroup_cpu_limit(tmp_path, V1) is None


def test_v1_missing_files_mean_no_limit(tmp_path: Path) -> None:
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000")  # no period
    assert cgroup_cpu_limit(tmp_path, V1) is None


def test_v1_a_hierarchy_mounted_as_plain_cpu_is_found(tmp_path: Path) -> None:
    write(tmp_path, "cpu/docker/abc/cpu.cfs_quota_us", "50000")
    write(tmp_path, "cpu/docker/abc/cpu.cfs_period_us", "100000")
    assert cgroup_cpu_limit(tmp_path, V1) == 0.5


def test_v1_and_v2_together_take_the_tightest(tmp_path: Path) -> None:
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000")
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000")
    write(tmp_path, "docker/abc/cpu.max", "120000 100000")
    assert cgroup_cpu_limit(tmp_path, V1 + "0::/docker/abc\n") == 1.2


def test_no_proc_cgroup_reads_the_root_of_the_tree(tmp_path: Path) -> None:
    write(tmp_path, "cpu.max", "100000 100000")
    assert cgroup_cpu_limit(tmp_path, "") == 1.0


def test_an_empty_tree_has_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path, "") is None
    assert cgroup_cpu_limit(tmp_path / "absent", "0::/x\n") is None


# --------------------------------------------------------------------------------------------
# usable CPUs


@pytest.mark.parametrize(
    ("affinity", "limit", "expected"),
    [
        (4, 2.0, 2),
        (4, 1.5, 2),  # a fractional quota rounds up: 1.5 CPUs let 2 threads run at 75 %
        (4, 2.01, 3),
        (2, 8.0, 2),
        (8, 0.5, 1),
        (1, 4.0, 1),
        (16, 0.01, 1),
    ],
)
def test_usable_cpus_is_the_minimum_of_affinity_and_the_rounded_up_quota(
    affinity: int, limit: float, expected: int
) -> None:
    assert usable_cpus(affinity, limit) == expected


def test_usable_cpus_without_a_quota_is_the_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile, "cgroup_cpu_limit", lambda *a, **k: None)
    assert usable_cpus(6, None) == 6
    assert usable_cpus(1, None) == 1


def test_the_profile_counts_the_cgroup_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile, "cgroup_cpu_limit", lambda *a, **k: 0.4)
    p = runtime_profile()
    assert p.cgroup_cpu_limit == 0.4
    assert p.usable_cpus == 1
    assert not p.injected


def test_the_machine_gives_at_least_one_usable_cpu() -> None:
    p = runtime_profile()
    assert p.usable_cpus >= 1
    assert p.cpu_affinity is None or p.usable_cpus <= p.cpu_affinity


# --------------------------------------------------------------------------------------------
# build and GIL detection


@pytest.mark.parametrize(("value", "expected"), [(None, False), (0, False), (1, True)])
def test_free_threaded_build_is_the_truthiness_of_py_gil_disabled(
    monkeypatch: pytest.MonkeyPatch, value: object, expected: bool
) -> None:
    from pytest_gil import gilstate  # the one place that reads the build flag

    monkeypatch.setattr(
        gilstate,
        "sysconfig",
        SimpleNamespace(get_config_var=lambda name: value if name == "Py_GIL_DISABLED" else None),
    )
    assert runtime_profile().free_threaded_build is expected


def test_the_gil_is_enabled_where_sys_cannot_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "_is_gil_enabled", raising=False)
    assert runtime_profile().gil_enabled is True


def test_the_gil_state_is_read_from_sys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    p = runtime_profile()
    assert p.gil_enabled is False and p.gil_disabled is True


def test_python_gil_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_GIL", "0")
    assert runtime_profile().python_gil_env == "0"
    monkeypatch.delenv("PYTHON_GIL")
    assert runtime_profile().python_gil_env is None


def test_the_subinterpreter_api_matches_the_version() -> None:
    api = profile.subinterpreter_api()
    if sys.version_info < (3, 12):
        assert api is None
    else:
        assert api in ("concurrent.interpreters", "_interpreters", "_xxsubinterpreters")


# --------------------------------------------------------------------------------------------
# the record


def test_the_profile_is_json_with_the_fields_of_the_design() -> None:
    d = runtime_profile().to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(DESIGN_FIELDS) <= set(d)
    assert d["version_info"][:2] == list(sys.version_info[:2])
    assert d["switch_interval"] == sys.getswitchinterval()
    assert d["default_start_method"] in d["start_methods"]
    assert isinstance(d["load"], dict)


def test_the_profile_round_trips_through_its_dict() -> None:
    p = runtime_profile()
    assert RuntimeProfile.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def make(**fields: object) -> RuntimeProfile:
    return dataclasses.replace(runtime_profile(), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "tag"),
    [
        ({"version_info": (3, 11, 7), "free_threaded_build": False, "gil_enabled": True},
         "cpython-3.11-gil"),
        ({"version_info": (3, 13, 1), "free_threaded_build": True, "gil_enabled": False},
         "cpython-3.13t-nogil"),
        ({"version_info": (3, 14, 0), "free_threaded_build": True, "gil_enabled": True},
         "cpython-3.14t-gil"),
    ],
)
def test_the_tag_names_version_build_and_gil_state(fields: dict[str, object], tag: str) -> None:
    assert make(implementation="CPython", **fields).tag == tag


def test_the_label_reads_as_a_sentence() -> None:
    p = make(implementation="CPython", version="3.13.1", free_threaded_build=True,
             gil_enabled=False, usable_cpus=1, injected=True)
    assert p.label() == "CPython 3.13.1 (free-threaded build, GIL off, injected) · 1 usable CPU"
    q = make(implementation="CPython", version="3.11.7", free_threaded_build=False,
             gil_enabled=True, usable_cpus=4, injected=False)
    assert q.label() == "CPython 3.11.7 (GIL build, GIL on) · 4 usable CPUs"
    assert q.build == "GIL"


def test_the_header_has_two_lines_and_mentions_python_gil_when_set() -> None:
    p = make(switch_interval=0.005, default_start_method="spawn", subinterpreters=None,
             python_gil_env="1")
    first, second = p.header_lines()
    assert first == f"gil: {p.label()}"
    assert second == (
        "gil: switch interval 5 ms, start method spawn, sub-interpreters: none, PYTHON_GIL=1"
    )


def test_the_header_says_when_noise_gating_is_not_available() -> None:
    available = make(noise_gating="available")
    assert available.header_lines()[0] == f"gil: {available.label()}"
    partial = make(noise_gating="partial: foreign CPU and steal unknown (no /proc/stat)")
    assert partial.header_lines()[0] == (
        f"gil: {partial.label()} · noise gating partial: foreign CPU and steal unknown "
        "(no /proc/stat)")


def test_the_profile_records_the_noise_gating_of_this_machine() -> None:
    from pytest_gil import noise

    d = runtime_profile().to_dict()
    assert d["noise_gating"] == noise.gating()
    old_report = {k: v for k, v in d.items() if k != "noise_gating"}
    assert RuntimeProfile.from_dict(old_report).noise_gating == "unknown"


def test_the_affinity_falls_back_where_the_system_has_no_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert profile._affinity() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert profile._affinity() is None
    assert profile.usable_cpus(None, None) >= 1


def test_an_affinity_call_that_fails_falls_back_to_the_cpu_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def refuse(pid: int) -> set[int]:
        raise OSError("not permitted")

    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", refuse, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert profile._affinity() == 3


# --------------------------------------------------------------------------------------------
# injection


def test_override_profile_injects_fields_for_the_block_only() -> None:
    real = runtime_profile()
    with override_profile(gil_enabled=False, free_threaded_build=True) as p:
        assert (p.gil_enabled, p.free_threaded_build, p.injected) == (False, True, True)
        assert runtime_profile().gil_enabled is False
        assert p.version == real.version  # everything else stays measured
    after = runtime_profile()
    assert (after.gil_enabled, after.free_threaded_build, after.injected) == (
        real.gil_enabled, real.free_threaded_build, False,
    )


def test_override_profile_nests_and_unwinds_on_errors() -> None:
    with pytest.raises(RuntimeError), override_profile(usable_cpus=1):
        with override_profile(subinterpreters="_interpreters") as inner:
            assert (inner.usable_cpus, inner.subinterpreters) == (1, "_interpreters")
        assert runtime_profile().subinterpreters == profile.subinterpreter_api()
        raise RuntimeError("the test failed")
    assert not runtime_profile().injected


def test_override_profile_rejects_an_unknown_field_by_name() -> None:
    with (
        pytest.raises(ValueError, match=r"unknown runtime profile field\(s\) \['gil'\] from "
                      r"override_profile\(\); known: \[.*'gil_enabled'"),
        override_profile(gil=False),
    ):
        pass
    assert not runtime_profile().injected


def test_the_environment_variable_injects_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROFILE_ENV, '{"usable_cpus": 1, "subinterpreters": null}')
    p = runtime_profile()
    assert (p.usable_cpus, p.subinterpreters, p.injected) == (1, None, True)


def test_the_environment_variable_may_name_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "profile.json"
    path.write_text('{"gil_enabled": false, "version_info": [3, 13, 0]}')
    monkeypatch.setenv(PROFILE_ENV, f"@{path}")
    p = runtime_profile()
    assert (p.gil_enabled, p.version_info, p.injected) == (False, (3, 13, 0), True)


def test_override_profile_applies_on_top_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PROFILE_ENV, '{"usable_cpus": 1, "gil_enabled": false}')
    with override_profile(usable_cpus=3) as p:
        assert (p.usable_cpus, p.gil_enabled) == (3, False)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", r"PYTEST_GIL_PROFILE='\{not json' is not a JSON object of profile fields "
                      r"\(or @file.json\): Expecting property name"),
        ("[1, 2]", r"PYTEST_GIL_PROFILE must hold a JSON object, got list"),
        ('{"cpus": 4}', r"unknown runtime profile field\(s\) \['cpus'\] from \$PYTEST_GIL_PROFILE"),
        ("@/nonexistent/profile.json", r"PYTEST_GIL_PROFILE='@/nonexistent/profile.json' is not "
                                       r"a JSON object.*No such file"),
    ],
    ids=["bad-json", "not-an-object", "unknown-field", "missing-file"],
)
def test_a_bad_environment_variable_is_a_clear_value_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(PROFILE_ENV, value)
    with pytest.raises(ValueError, match=message):
        runtime_profile()


# --------------------------------------------------------------------------------------------
# python -m pytest_gil profile


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    environ = {k: v for k, v in os.environ.items() if k != PROFILE_ENV}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest_gil", *args],
        capture_output=True, text=True, env=environ, timeout=60, check=False,
    )


def test_python_m_pytest_gil_profile_prints_the_label_and_every_field() -> None:
    done = cli("profile")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == runtime_profile().label()
    printed = {line.split()[0] for line in lines[1:]}
    assert set(DESIGN_FIELDS) <= printed


def test_python_m_pytest_gil_profile_json_is_the_record() -> None:
    done = cli("profile", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert set(DESIGN_FIELDS) <= set(record)
    here = runtime_profile().to_dict()
    for key in ("implementation", "version", "version_info", "free_threaded_build",
                "usable_cpus", "start_methods", "subinterpreters"):
        assert record[key] == here[key], key
    assert record["injected"] is False


def test_python_m_pytest_gil_profile_json_shows_an_injected_profile() -> None:
    done = cli("profile", "--json", env={PROFILE_ENV: '{"usable_cpus": 64}'})
    record = json.loads(done.stdout)
    assert (record["usable_cpus"], record["injected"]) == (64, True)


def test_python_m_pytest_gil_profile_reports_a_bad_injection_without_a_traceback() -> None:
    done = cli("profile", env={PROFILE_ENV: '{"cpus": 4}'})
    assert done.returncode != 0
    assert "unknown runtime profile field(s) ['cpus']" in done.stderr
    assert "Traceback" not in done.stderr


def test_python_m_pytest_gil_without_a_command_is_a_usage_error() -> None:
    done = cli()
    assert done.returncode == 2
    assert "usage: python -m pytest_gil" in done.stderr
