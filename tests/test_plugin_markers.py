"""The plugin's markers end to end: registered with signature and example, ``-m cpu_bound``
selects, every ``requires_*`` marker skips with a reason naming what is missing (both sides of
each, through an injected runtime profile), and bad marker arguments are test errors that name
the bad value.
"""

from __future__ import annotations

import json

import pytest

from pytest_gil.profile import runtime_profile

XDIST = pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])

REQUIREMENTS = """
import pytest

@pytest.mark.requires_gil
def test_needs_the_gil():
    pass

@pytest.mark.requires_free_threading
def test_needs_free_threading():
    pass

@pytest.mark.requires_subinterpreters
def test_needs_subinterpreters():
    pass

@pytest.mark.requires_cpus(1)
def test_needs_one_cpu():
    pass

@pytest.mark.requires_cpus(2)
def test_needs_two_cpus():
    pass

@pytest.mark.requires_cpus(n=8)
def test_needs_eight_cpus():
    pass
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", "--strict-markers", *args)


def inject(monkeypatch: pytest.MonkeyPatch, **fields: object) -> None:
    monkeypatch.setenv("PYTEST_GIL_PROFILE", json.dumps(fields))


def test_markers_lists_every_marker_with_its_signature_and_an_example(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, "--markers")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines_random(
        [
            "@pytest.mark.cpu_bound: *(example: @pytest.mark.cpu_bound; select with -m cpu_bound)",
            "@pytest.mark.io_bound: *(example: @pytest.mark.io_bound; select with -m io_bound)",
            '@pytest.mark.claim(id): *pytest_gil_claims hook '
            '(example: @pytest.mark.claim("mylib.hash-releases-gil"))',
            "@pytest.mark.requires_gil: skip unless the GIL is enabled "
            "(example: @pytest.mark.requires_gil)",
            "@pytest.mark.requires_free_threading: skip unless *"
            "(example: @pytest.mark.requires_free_threading)",
            "@pytest.mark.requires_subinterpreters: skip unless *"
            "(example: @pytest.mark.requires_subinterpreters)",
            "@pytest.mark.requires_cpus(n): skip unless at least n CPUs are usable *"
            "(example: @pytest.mark.requires_cpus(2))",
        ]
    )


def test_m_cpu_bound_selects_the_cpu_bound_tests_under_strict_markers(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.cpu_bound
        def test_counts():
            pass

        @pytest.mark.io_bound
        def test_sleeps():
            pass

        def test_plain():
            pass
        """
    )
    result = run(pytester, "-m", "cpu_bound", "-v")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*::test_counts PASSED*"])


@XDIST
def test_a_gil_build_without_cpus_or_subinterpreters_skips_what_it_lacks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    inject(monkeypatch, gil_enabled=True, free_threaded_build=False, usable_cpus=1,
           subinterpreters=None)
    pytester.makepyfile(test_requirements=REQUIREMENTS)
    result = run(pytester, "-rs", *xdist)
    result.assert_outcomes(passed=2, skipped=4)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED [[]1] test_requirements.py:*: requires free threading with the GIL disabled, "
            "but this is not a free-threaded build (CPython * (GIL build, GIL on, injected) "
            "· 1 usable CPU)",
            "SKIPPED [[]1] test_requirements.py:*: requires sub-interpreters with their own GIL "
            "(CPython 3.12+), none on CPython * · 1 usable CPU",
            "SKIPPED [[]1] test_requirements.py:*: requires 2 usable CPUs, this process may use 1 "
            "(affinity and cgroup quota)",
            "SKIPPED [[]1] test_requirements.py:*: requires 8 usable CPUs, this process may use 1 "
            "(affinity and cgroup quota)",
        ]
    )


def test_a_free_threaded_build_with_cpus_and_subinterpreters_skips_only_the_gil_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, gil_enabled=False, free_threaded_build=True, usable_cpus=8,
           subinterpreters="_interpreters")
    pytester.makepyfile(test_requirements=REQUIREMENTS)
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1] test_requirements.py:*: requires the GIL, but it is disabled here "
            "(CPython * (free-threaded build, GIL off, injected) · 8 usable CPUs)",
        ]
    )


def test_a_free_threaded_build_with_the_gil_re_enabled_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, gil_enabled=True, free_threaded_build=True)
    pytester.makepyfile(test_requirements=REQUIREMENTS)
    result = run(pytester, "-rs", "-k", "free_threading or the_gil")
    result.assert_outcomes(passed=1, skipped=1, deselected=4)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1] test_requirements.py:*: requires free threading with the GIL disabled, "
            "but the GIL is enabled (PYTHON_GIL=1 or an import re-enabled it) "
            "(CPython * (free-threaded build, GIL on, injected) · *)",
        ]
    )


def test_without_injection_the_skips_follow_this_interpreter(pytester: pytest.Pytester) -> None:
    here = runtime_profile()
    pytester.makepyfile(test_requirements=REQUIREMENTS)
    result = run(pytester, "-rs")
    skipped = {
        "gil": not here.gil_enabled,
        "free_threading": here.gil_enabled,
        "subinterpreters": here.subinterpreters is None,
        "one_cpu": False,
        "two_cpus": here.usable_cpus < 2,
        "eight_cpus": here.usable_cpus < 8,
    }
    result.assert_outcomes(
        passed=sum(not s for s in skipped.values()), skipped=sum(skipped.values())
    )


def test_requirement_markers_apply_to_classes_and_modules(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, usable_cpus=1)
    pytester.makepyfile(
        test_module="""
        import pytest

        pytestmark = pytest.mark.requires_cpus(2)

        def test_one():
            pass

        def test_two():
            pass
        """,
        test_class="""
        import pytest

        @pytest.mark.requires_cpus(4)
        class TestNeedsCpus:
            def test_a(self):
                pass

        def test_unmarked():
            pass
        """,
    )
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED [[]1] test_module.py:*: requires 2 usable CPUs, this process may use 1 *",
            "SKIPPED [[]1] test_class.py:*: requires 4 usable CPUs, this process may use 1 *",
        ]
    )


BAD_MARKERS = """
import pytest

@pytest.mark.requires_cpus("two")
def test_word():
    pass

@pytest.mark.requires_cpus(0)
def test_zero():
    pass

@pytest.mark.requires_cpus(2.5)
def test_fraction():
    pass

@pytest.mark.requires_cpus(True)
def test_bool():
    pass

@pytest.mark.requires_cpus
def test_missing():
    pass

@pytest.mark.claim("no.such-claim")
def test_unknown_claim():
    pass

@pytest.mark.claim()
def test_claim_without_id():
    pass

@pytest.mark.claim("mylib.known", "another")
def test_claim_with_two_ids():
    pass

@pytest.mark.claim("mylib.known")
def test_known_claim():
    pass
"""

CLAIMS_CONFTEST = """
import pytest_gil

def pytest_gil_claims(config):
    return [pytest_gil.Claim("mylib.known", "a claim of this project", catalogue="mylib"),
            pytest_gil.Claim("mylib.other", "another claim", catalogue="mylib")]
"""


def test_bad_marker_arguments_are_test_errors_naming_the_value(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad=BAD_MARKERS)
    pytester.makeconftest(CLAIMS_CONFTEST)
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=8)
    need = "@pytest.mark.requires_cpus(n) needs a positive integer n, got"
    result.stdout.fnmatch_lines_random(
        [
            f"test_bad.py::test_word: {need} 'two'",
            f"test_bad.py::test_zero: {need} 0",
            f"test_bad.py::test_fraction: {need} 2.5",
            f"test_bad.py::test_bool: {need} True",
            f"test_bad.py::test_missing: {need} None",
            "test_bad.py::test_unknown_claim: @pytest.mark.claim: unknown claim id "
            "'no.such-claim': the registered catalogues are mylib (2 claims)",
            "test_bad.py::test_claim_without_id: @pytest.mark.claim takes exactly one claim id, "
            "got ()",
            "test_bad.py::test_claim_with_two_ids: @pytest.mark.claim takes exactly one claim id, "
            "got ('mylib.known', 'another')",
        ]
    )
    assert "Traceback" not in result.stdout.str()
