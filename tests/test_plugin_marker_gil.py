"""``@pytest.mark.gil(budget=, alpha=, inconclusive=, scale=)``: a test's own settings, over
the command line and the ini file (pytest-timeout's order), validated naming the test."""

from __future__ import annotations

import json

import pytest

SEEN = """
import dataclasses, json, pathlib

import pytest
from pytest_gil import current_settings

OUT = pathlib.Path("seen.jsonl")


def _log(name):
    with OUT.open("a") as f:
        f.write(json.dumps({"test": name, **dataclasses.asdict(current_settings())}) + "\\n")


@pytest.mark.gil(budget=42, alpha=0.01, inconclusive="fail", scale=0.5)
def test_marked():
    _log("marked")


@pytest.mark.gil(scale=3)
def test_scaled():
    _log("scaled")


@pytest.mark.gil
def test_bare():
    _log("bare")


def test_plain():
    _log("plain")


@pytest.mark.gil(scale=0.1)
class TestClass:
    @pytest.mark.gil(inconclusive="xfail")
    def test_closest(self):
        _log("closest")
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def seen(pytester: pytest.Pytester) -> dict[str, dict[str, object]]:
    lines = (pytester.path / "seen.jsonl").read_text().splitlines()
    return {d["test"]: d for d in map(json.loads, lines)}


def test_the_marker_beats_the_command_line_and_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngil_budget = 20\ngil_alpha = 0.005\n")
    pytester.makepyfile(test_seen=SEEN)
    run(pytester, "--gil-inconclusive=pass").assert_outcomes(passed=5)
    got = seen(pytester)
    assert {k: got["marked"][k] for k in ("budget", "alpha", "inconclusive", "scale")} == {
        "budget": 42.0, "alpha": 0.01, "inconclusive": "fail", "scale": 0.5}
    # Not in the marker: the command line, then the ini file, then the default.
    for name in ("plain", "bare"):
        assert (got[name]["budget"], got[name]["alpha"], got[name]["inconclusive"],
                got[name]["scale"]) == (20.0, 0.005, "pass", 1.0)
    # A scale without a budget: the budget grows with it (15 s × 3), never below the run's.
    assert (got["scaled"]["scale"], got["scaled"]["budget"]) == (3.0, 45.0)
    # The closest marker wins (the method's over the class's), as for pytest-timeout.
    assert got["closest"]["inconclusive"] == "xfail" and got["closest"]["scale"] == 1.0


def test_settings_are_restored_after_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_seen=SEEN)
    run(pytester, "-p", "no:randomly", "-n", "2").assert_outcomes(passed=5)
    got = seen(pytester)
    assert got["plain"]["budget"] == 15.0 and got["plain"]["alpha"] == 0.001


@pytest.mark.parametrize(("marker", "message"), [
    ("gil(alpha=0.7)", "invalid value '0.7' for alpha= (@pytest.mark.gil on "
                       "test_bad.py::test_bad): expected a number in (0, 0.2]*"),
    ("gil(budget=-1)", "invalid value '-1' for budget= (@pytest.mark.gil on "
                       "test_bad.py::test_bad): expected a number in (0, 3600]"),
    ('gil(inconclusive="maybe")', "invalid value 'maybe' for inconclusive= (@pytest.mark.gil "
                                  "on test_bad.py::test_bad): choose from skip, xfail, fail, "
                                  "pass"),
    ("gil(scale=True)", "@pytest.mark.gil on test_bad.py::test_bad: invalid value True for "
                        "scale"),
    ("gil(timeout=3)", "@pytest.mark.gil on test_bad.py::test_bad: unknown setting(s) timeout "
                       "(choose from budget, alpha, inconclusive, scale)"),
    ("gil(30)", "@pytest.mark.gil on test_bad.py::test_bad: takes keyword arguments only "
                "(budget, alpha, inconclusive, scale), got 30"),
])
def test_a_bad_marker_errors_its_test_naming_it(pytester: pytest.Pytester, marker: str,
                                                message: str) -> None:
    pytester.makepyfile(test_bad=f"""
import pytest

@pytest.mark.{marker}
def test_bad():
    pass

def test_good():
    pass
""")
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*pytest-gil: {message.replace('[', '[[]')}*"])
    assert "Traceback" not in result.stdout.str()


def test_a_marked_test_measures_alone_under_xdist(pytester: pytest.Pytester) -> None:
    from pytest_gil.plugin import is_measuring

    pytester.makepyfile(test_m="""
import pytest

@pytest.mark.gil
def test_a():
    pass

def test_b():
    pass
""")
    items, _ = pytester.inline_genitems("-p", "no:randomly")
    assert [is_measuring(i) for i in items] == [True, False]
