"""The plugin's options end to end: every ``--gil-*`` option and its ini twin reach
``pytest_gil.settings.current()``; bad values stop the run with a usage error that names the
value, where it came from and what is allowed; ``--help`` shows the group; the report header;
``-p no:gil`` turns the plugin off cleanly.

Every test writes a small test file and runs pytest in a subprocess, like a user would.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from pytest_gil import options

START_METHODS = multiprocessing.get_all_start_methods()

# The inner test writes the settings in force to settings.json (pytester's cwd).
SETTINGS_PROBE = """
import dataclasses, json, pathlib
from pytest_gil import settings

def test_probe():
    pathlib.Path("settings.json").write_text(json.dumps(dataclasses.asdict(settings.current())))
"""

DEFAULTS = {
    "scale": 1.0,
    "budget": 15.0,
    "alpha": 0.001,
    "inconclusive": "skip",
    "start_method": None,
    "report_dir": None,
    "allow_gil_reenabled": False,
}


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def settings_of(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    result = run(pytester, *args)
    result.assert_outcomes(passed=1)
    data: dict[str, Any] = json.loads((pytester.path / "settings.json").read_text())
    return data


def literal(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself."""
    return text.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")


# --------------------------------------------------------------------------------------------
# the validators, in process: every good and bad value, the messages pinned


class FakeConfig:
    """What :func:`pytest_gil.options.read_settings` reads from a ``pytest.Config``."""

    def __init__(
        self,
        cli: dict[str, str] | None = None,
        ini: dict[str, str] | None = None,
        inipath: Path | None = None,
    ) -> None:
        self.cli = cli or {}
        self.ini = ini or {}
        self.inipath = inipath

    def getoption(self, name: str) -> Any:
        return self.cli.get(name)

    def getini(self, name: str) -> Any:
        return self.ini.get(name, "")


def read(cli: dict[str, str] | None = None, ini: dict[str, str] | None = None) -> dict[str, Any]:
    got = options.read_settings(FakeConfig(cli, ini, Path("/project/tox.ini")))  # type: ignore[arg-type]
    return dataclasses.asdict(got)


GOOD = [
    ("gil-scale", "2.5", "scale", 2.5),
    ("gil-scale", "100", "scale", 100.0),
    ("gil-scale", "0.25", "scale", 0.25),
    ("gil-budget", "30", "budget", 30.0),
    ("gil-budget", "3600", "budget", 3600.0),
    ("gil-alpha", "0.01", "alpha", 0.01),
    ("gil-alpha", "0.2", "alpha", 0.2),
    ("gil-alpha", "1e-6", "alpha", 1e-6),
    ("gil-report", "out/reports", "report_dir", "out/reports"),
    *[("gil-inconclusive", p, "inconclusive", p) for p in ("skip", "xfail", "fail", "pass")],
    *[("gil-start-method", m, "start_method", m) for m in START_METHODS],
    *[("gil-allow-gil-reenabled", t, "allow_gil_reenabled", True)
      for t in ("true", "On", "yes", "1")],
    *[("gil-allow-gil-reenabled", t, "allow_gil_reenabled", False)
      for t in ("false", "off", "no", "0")],
]


def expected_settings(field: str, value: Any) -> dict[str, Any]:
    """DEFAULTS with one field set; the default budget grows with the scale."""
    out = {**DEFAULTS, field: value}
    if field == "scale":
        out["budget"] = DEFAULTS["budget"] * max(1.0, value)
    return out


def test_the_defaults_apply_when_nothing_is_set() -> None:
    assert read() == DEFAULTS


def test_the_default_budget_grows_with_the_scale_but_an_explicit_one_is_kept() -> None:
    assert read(cli={"gil_scale": "4"})["budget"] == 60.0
    assert read(cli={"gil_scale": "0.25"})["budget"] == 15.0
    assert read(cli={"gil_scale": "4", "gil_budget": "5"})["budget"] == 5.0


@pytest.mark.parametrize(("option", "value", "field", "expected"), GOOD)
def test_a_good_value_is_read_from_the_command_line_and_from_the_ini_file(
    option: str, value: str, field: str, expected: Any
) -> None:
    dest = option.replace("-", "_")
    assert read(cli={dest: value}) == expected_settings(field, expected)
    assert read(ini={dest: value}) == expected_settings(field, expected)


@pytest.mark.parametrize(("option", "value", "field", "expected"), GOOD)
def test_the_command_line_value_beats_the_ini_value(
    option: str, value: str, field: str, expected: Any
) -> None:
    dest = option.replace("-", "_")
    assert read(cli={dest: value}, ini={dest: "nonsense"})[field] == expected


SCALE = "expected a number in (0, 100] (1 = 50 ms tasks)"
BUDGET = "expected a number in (0, 3600]"
ALPHA = "expected a number in (0, 0.2] (e.g. 0.001)"
POLICY = "choose from skip, xfail, fail, pass"
METHODS = "start methods available on this platform are " + ", ".join(START_METHODS)
DIRECTORY = "expected a directory"
FLAG = "expected true or false"
COMPARE = "expected latest, a saved run's number (3 or 0003) or a report file"
CRITERIA = "expected verdict, verdict:decided or NAME:PCT% (e.g. speedup:10%)"
PERCENT = "the percentage must be above 0 and below 100"
COMPARE_ALPHA = "expected a number in (0, 0.2] (e.g. 0.01)"

BAD = [
    ("gil-scale", "0", SCALE),
    ("gil-scale", "-1", SCALE),
    ("gil-scale", "fast", SCALE),
    ("gil-scale", "1e9", SCALE),
    ("gil-scale", "nan", SCALE),
    ("gil-scale", "inf", SCALE),
    ("gil-budget", "0", BUDGET),
    ("gil-budget", "-5", BUDGET),
    ("gil-budget", "soon", BUDGET),
    ("gil-budget", "100000", BUDGET),
    ("gil-alpha", "0", ALPHA),
    ("gil-alpha", "-0.01", ALPHA),
    ("gil-alpha", "0.5", ALPHA),
    ("gil-alpha", "five percent", ALPHA),
    ("gil-inconclusive", "maybe", POLICY),
    ("gil-inconclusive", "SKIP", POLICY),
    ("gil-start-method", "threads", METHODS),
    ("gil-start-method", "Spawn", METHODS),
    ("gil-report", "  ", DIRECTORY),
    ("gil-allow-gil-reenabled", "perhaps", FLAG),
    ("gil-autosave", "perhaps", FLAG),
    ("gil-storage", "  ", DIRECTORY),
    ("gil-compare", "0", COMPARE),
    ("gil-compare", " ", COMPARE),
    ("gil-compare-fail", "fast:10", CRITERIA),
    ("gil-compare-fail", "speedup:0%", PERCENT),
    ("gil-compare-alpha", "0.5", COMPARE_ALPHA),
    ("gil-compare-alpha", "0", COMPARE_ALPHA),
]


@pytest.mark.parametrize(("option", "value", "allowed"), BAD)
def test_a_bad_command_line_value_names_the_value_the_option_and_what_is_allowed(
    option: str, value: str, allowed: str
) -> None:
    with pytest.raises(pytest.UsageError) as info:
        read(cli={option.replace("-", "_"): value})
    assert str(info.value) == f"invalid value {value!r} for --{option} (command line): {allowed}"


@pytest.mark.parametrize(("option", "value", "allowed"), BAD)
def test_a_bad_ini_value_names_the_value_the_ini_key_its_file_and_what_is_allowed(
    option: str, value: str, allowed: str
) -> None:
    dest = option.replace("-", "_")
    with pytest.raises(pytest.UsageError) as info:
        read(ini={dest: value})
    assert str(info.value) == (
        f"invalid value {value!r} for {dest} (ini option in /project/tox.ini): {allowed}"
    )


def test_every_option_has_a_validator_test() -> None:
    tested = {option for option, *_ in BAD}
    assert tested == {f"{opt.name}" for opt in options.OPTIONS}


# --------------------------------------------------------------------------------------------
# the same, end to end: values reach the run, bad ones stop it


def test_without_options_the_run_has_the_defaults(pytester: pytest.Pytester) -> None:
    assert settings_of(pytester) == DEFAULTS


def test_every_command_line_option_reaches_the_settings(pytester: pytest.Pytester) -> None:
    got = settings_of(
        pytester,
        "--gil-scale=2.5",
        "--gil-budget=30",
        "--gil-alpha=0.01",
        "--gil-report=out/reports",
        "--gil-inconclusive=xfail",
        "--gil-start-method=spawn",
        "--gil-allow-gil-reenabled",
    )
    assert got == {
        "scale": 2.5,
        "budget": 30.0,
        "alpha": 0.01,
        "inconclusive": "xfail",
        "start_method": "spawn",
        "report_dir": "out/reports",
        "allow_gil_reenabled": True,
    }


def test_every_ini_option_reaches_the_settings(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        gil_scale = 2
        gil_budget = 40
        gil_alpha = 0.005
        gil_report = gil-out
        gil_inconclusive = fail
        gil_start_method = spawn
        gil_allow_gil_reenabled = yes
        """
    )
    assert settings_of(pytester) == {
        "scale": 2.0,
        "budget": 40.0,
        "alpha": 0.005,
        "inconclusive": "fail",
        "start_method": "spawn",
        "report_dir": "gil-out",
        "allow_gil_reenabled": True,
    }


def test_every_option_is_read_from_pyproject_toml(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        gil_scale = "2"
        gil_budget = "40"
        gil_alpha = "0.005"
        gil_report = "gil-out"
        gil_inconclusive = "fail"
        gil_start_method = "spawn"
        gil_allow_gil_reenabled = "true"
        """
    )
    assert settings_of(pytester) == {
        "scale": 2.0,
        "budget": 40.0,
        "alpha": 0.005,
        "inconclusive": "fail",
        "start_method": "spawn",
        "report_dir": "gil-out",
        "allow_gil_reenabled": True,
    }


def test_native_toml_config_accepts_numbers_and_booleans(pytester: pytest.Pytester) -> None:
    # pytest 9's [tool.pytest] table keeps TOML types: a number must not need quotes.
    pytester.makepyprojecttoml(
        """
        [tool.pytest]
        gil_scale = 2
        gil_budget = 40
        gil_alpha = 0.005
        gil_allow_gil_reenabled = true
        """
    )
    got = settings_of(pytester)
    assert (got["scale"], got["budget"], got["alpha"], got["allow_gil_reenabled"]) == (
        2.0, 40.0, 0.005, True,
    )


def test_the_command_line_beats_the_ini_file(pytester: pytest.Pytester) -> None:
    other = next(m for m in START_METHODS if m != "spawn")
    pytester.makeini(
        """
        [pytest]
        gil_scale = 2
        gil_budget = 40
        gil_alpha = 0.005
        gil_report = from-ini
        gil_inconclusive = fail
        gil_start_method = spawn
        gil_allow_gil_reenabled = false
        """
    )
    got = settings_of(
        pytester,
        "--gil-scale=3",
        "--gil-budget=50",
        "--gil-alpha=0.05",
        "--gil-report=from-cli",
        f"--gil-start-method={other}",
        "--gil-allow-gil-reenabled",
    )
    assert got == {
        "scale": 3.0,
        "budget": 50.0,
        "alpha": 0.05,
        "inconclusive": "fail",  # not on the command line: the ini value stands
        "start_method": other,
        "report_dir": "from-cli",
        "allow_gil_reenabled": True,
    }


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("gil-scale", "0", SCALE),
        ("gil-inconclusive", "maybe", POLICY),
        ("gil-report", "", DIRECTORY),
    ],
)
def test_a_bad_command_line_value_stops_the_run_with_a_usage_error(
    pytester: pytest.Pytester, option: str, value: str, allowed: str
) -> None:
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    result = run(pytester, f"--{option}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [literal(f"ERROR: invalid value {value!r} for --{option} (command line): {allowed}")]
    )
    assert "Traceback" not in result.stderr.str()


def test_a_bad_ini_value_stops_the_run_naming_the_ini_file(pytester: pytest.Pytester) -> None:
    ini = pytester.makeini("[pytest]\ngil_scale = -2\n")
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [literal(f"ERROR: invalid value '-2' for gil_scale (ini option in {ini}): {SCALE}")]
    )


def test_a_bad_value_in_pyproject_toml_names_that_file(pytester: pytest.Pytester) -> None:
    toml = pytester.makepyprojecttoml('[tool.pytest.ini_options]\ngil_alpha = "0.9"\n')
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [literal(f"ERROR: invalid value '0.9' for gil_alpha (ini option in {toml}): {ALPHA}")]
    )


def test_a_bad_value_stops_the_run_under_xdist_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    result = run(pytester, "-n", "2", "--gil-scale=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [literal(f"ERROR: invalid value '0' for --gil-scale (command line): {SCALE}")]
    )


def test_a_bad_injected_profile_is_a_usage_error_not_an_internal_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_GIL_PROFILE", "{not json")
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *PYTEST_GIL_PROFILE*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# --------------------------------------------------------------------------------------------
# --help


def test_help_shows_the_gil_group_every_option_its_default_and_its_ini_twin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    result = run(pytester, "--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "pytest-gil: measure concurrency claims:",
            "  --gil-scale=FACTOR *",
            "  --gil-budget=SECONDS *",
            "  --gil-alpha=ALPHA *",
            "  --gil-report=DIR *",
            "  --gil-inconclusive={skip,xfail,fail,pass}",
            "  --gil-start-method=METHOD",
            "  --gil-allow-gil-reenabled",
            "  --gil-autosave *",
            "  --gil-storage=DIR *",
            "  --gil-compare=[[]NUM|PATH]",
            "  --gil-compare-fail=EXPR",
            "  --gil-compare-alpha=ALPHA",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  gil_scale (*",
            "*Multiply the calibrated task duration*",
            "  gil_budget (*",
            "*Seconds one check may take*",
            "  gil_alpha (*",
            "*Significance level*",
            "  gil_report (*",
            "  gil_inconclusive (*",
            "  gil_start_method (*",
            "  gil_allow_gil_reenabled (*",
            "  gil_autosave (*",
            "  gil_storage (*",
            "  gil_compare (*",
            "  gil_compare_fail (*",
            "  gil_compare_alpha (*",
        ]
    )
    text = " ".join(result.stdout.str().split())  # undo the wrapping
    for option, default in [
        ("--gil-scale=FACTOR Multiply the calibrated task duration", "1.0"),
        ("--gil-budget=SECONDS Seconds one check may take", "15.0"),
        ("--gil-alpha=ALPHA Significance level to confirm a claim", "0.001"),
        ("--gil-report=DIR Directory for the JSON, HTML and Markdown reports", "None"),
        ("--gil-inconclusive={skip,xfail,fail,pass} What an inconclusive", "'skip'"),
        ("--gil-start-method=METHOD multiprocessing start method", "None"),
        ("--gil-allow-gil-reenabled Measure anyway after an import", "False"),
        ("--gil-autosave Save this run for later comparisons", "False"),
        ("--gil-storage=DIR Directory of saved runs", "'.gil'"),
        ("--gil-compare=[NUM|PATH] Compare this run with a saved one", "None"),
        ("--gil-compare-fail=EXPR Fail the run when a compared check breaks EXPR: verdict",
         "None"),
        ("--gil-compare-alpha=ALPHA Significance level of the comparison", "0.01"),
    ]:
        assert option in text
        tail = text[text.index(option) :]
        end = tail.find(" --", 3)
        assert f"Default: {default}." in tail[: end if end > 0 else 300], option


# --------------------------------------------------------------------------------------------
# the report header


def _gil_header_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("gil: ")]


def test_the_report_header_is_one_line_normally(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    lines = _gil_header_lines(result)
    assert len(lines) == 1, result.outlines
    result.stdout.fnmatch_lines(["gil: CPython 3.* (GIL build, GIL on) · * usable CPU*"])


def test_the_report_header_has_a_second_line_with_verbose(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = run(pytester, "-v")
    lines = _gil_header_lines(result)
    assert len(lines) == 2, result.outlines
    result.stdout.fnmatch_lines(
        [
            "gil: CPython * · * usable CPU*",
            "gil: switch interval 5 ms, start method *, sub-interpreters: *",
        ]
    )


def test_the_report_header_says_when_the_profile_is_injected(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PYTEST_GIL_PROFILE",
        '{"gil_enabled": false, "free_threaded_build": true, "usable_cpus": 1}',
    )
    pytester.makepyfile("def test_ok(): pass")
    result = run(pytester)
    result.stdout.fnmatch_lines(
        ["gil: CPython * (free-threaded build, GIL off, injected) · 1 usable CPU*"]
    )


def test_the_header_is_one_line_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=1)
    assert len(_gil_header_lines(result)) == 1, result.outlines


# --------------------------------------------------------------------------------------------
# -p no:gil


def test_p_no_gil_removes_the_header_options_and_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = run(pytester, "-p", "no:gil")
    result.assert_outcomes(passed=1)
    assert _gil_header_lines(result) == []

    fixtures = run(pytester, "-p", "no:gil", "--fixtures")
    for name in ("thread_runner", "process_pool", "executor_factory", "gil_claim",
                 "gil_calibration", "runtime_profile"):
        assert name not in fixtures.stdout.str()

    helped = run(pytester, "-p", "no:gil", "--help")
    assert "--gil-scale" not in helped.stdout.str()


def test_p_no_gil_makes_gil_options_unknown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = run(pytester, "-p", "no:gil", "--gil-scale=2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: --gil-scale=2*"])


def test_p_no_gil_leaves_our_markers_unregistered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.requires_gil
        def test_marked():
            pass
        """
    )
    result = run(pytester, "-p", "no:gil", "--strict-markers")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*'requires_gil' not found in `markers` configuration option*"])


def test_p_no_gil_makes_the_fixtures_unknown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses(thread_runner): pass")
    result = run(pytester, "-p", "no:gil")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'thread_runner' not found*"])


def test_p_no_gil_ignores_gil_ini_settings_under_strict_config(
    pytester: pytest.Pytester,
) -> None:
    # With the plugin off, its ini keys are unknown: --strict-config says so (not a crash).
    pytester.makeini("[pytest]\ngil_scale = 2\n")
    pytester.makepyfile("def test_ok(): pass")
    result = run(pytester, "-p", "no:gil", "--strict-config")
    assert result.ret != pytest.ExitCode.OK
    result.stderr.fnmatch_lines(["*gil_scale*"])
    assert "INTERNALERROR" not in result.stderr.str()
