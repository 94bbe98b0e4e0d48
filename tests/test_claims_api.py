"""The public claim API: ``pytest_gil.Claim``, the ``pytest_gil_claims`` hook, the ``claim``
marker and the ``gil_claim`` fixture — for any project, not only this repository's audit.

The end-to-end tests run a project outside this repository (pytester) that declares claims of
its own in its conftest.py and decides them: they reach the terminal summary, the JSON report
and the matrix across runtimes like the tutorial's claims do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_gil import Claim, ClaimContext, Expectation, Verdict, override_profile
from pytest_gil.claims import ClaimRegistry, UnknownClaimError

# --------------------------------------------------------------------------------------------
# Claim and its expectation


def test_a_constant_expectation() -> None:
    with override_profile(usable_cpus=2) as p:
        assert Claim("a.b", "s").expect(p) == Expectation(Verdict.CONFIRMED, "")
        assert Claim("a.b", "s", expected="refuted").expect(p).verdict is Verdict.REFUTED


def test_an_expectation_from_the_profile_flips_with_the_runtime() -> None:
    claim = Claim("a.b", "threads take turns",
                  expected=lambda p: "confirmed" if p.gil_enabled else "refuted")
    with override_profile(gil_enabled=True) as gil:
        assert claim.expect(gil).verdict is Verdict.CONFIRMED
    with override_profile(gil_enabled=False, free_threaded_build=True) as ft:
        assert claim.expect(ft).verdict is Verdict.REFUTED


def test_an_expectation_may_take_a_variant_and_give_a_reason() -> None:
    def expected(profile: Any, variant: str | None) -> tuple[str, str]:
        return ("refuted", "fork copies") if variant == "fork" else ("confirmed", "spawn")

    claim = Claim("mp.guard", "s", expected=expected)
    with override_profile() as p:
        assert claim.expect(p, "fork") == Expectation(Verdict.REFUTED, "fork copies")
        assert claim.expect(p, "spawn").verdict is Verdict.CONFIRMED


@pytest.mark.parametrize("kw, match", [
    ({"id": "has space"}, "no spaces"),
    ({"id": ""}, "claim id"),
    ({"statement": " "}, "statement"),
    ({"kind": "gpu_bound"}, "kind must be one of"),
    ({"expected": "confirm"}, "expected verdict of claim x.y must be one of"),
    ({"expected": "inconclusive"}, "cannot be expected"),
])
def test_a_malformed_claim_is_refused_at_once(kw: dict[str, Any], match: str) -> None:
    args = {"id": "x.y", "statement": "s", **kw}
    with pytest.raises(ValueError, match=match):
        Claim(**args)


def test_an_expectation_function_returning_nonsense_names_the_claim() -> None:
    claim = Claim("x.y", "s", expected=lambda p: "maybe")
    with override_profile() as p, pytest.raises(ValueError, match=r"claim x\.y"):
        claim.expect(p)


# --------------------------------------------------------------------------------------------
# the registry


def test_the_registry_names_its_catalogues_when_an_id_is_unknown() -> None:
    reg = ClaimRegistry()
    reg.register([Claim("lib.one-thing", "s"), Claim("lib.other", "s")], "tests/lib")
    reg.register([Claim("doc.claim", "s", catalogue="doc")], "ignored")
    assert reg.catalogues == {"tests/lib": ["lib.one-thing", "lib.other"], "doc": ["doc.claim"]}
    assert reg.get("doc.claim").catalogue == "doc"
    with pytest.raises(UnknownClaimError) as info:
        reg.get("lib.one-thng")
    msg = str(info.value)
    assert "tests/lib (2 claims); doc (1 claims)" in msg and "did you mean lib.one-thing" in msg


def test_an_id_registered_twice_is_refused() -> None:
    reg = ClaimRegistry()
    reg.register([Claim("x.y", "s")], "a")
    with pytest.raises(ValueError, match="registered twice: by a and by b"):
        reg.register([Claim("x.y", "t")], "b")


def test_an_empty_registry_says_how_to_register() -> None:
    assert "pytest_gil_claims(config) hook" in ClaimRegistry().unknown_message("x")


def test_for_variant_returns_a_new_context() -> None:
    with override_profile() as p:
        ctx = ClaimContext(Claim("x.y", "s"), p, "t::n")
        other = ctx.for_variant("zlib")
    assert ctx.variant is None and other.variant == "zlib" and other.claim is ctx.claim


def test_decide_takes_a_check_not_a_string() -> None:
    with override_profile() as p:
        ctx = ClaimContext(Claim("x.y", "s"), p)
        with pytest.raises(TypeError, match="functional"):
            ctx.decide("confirmed")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# a project outside this repository


CONFTEST = '''
import pytest_gil

def pytest_gil_claims(config):
    return [
        pytest_gil.Claim(
            "shop.sleeps-overlap",
            "the shop's IO calls overlap in threads",
            expected="confirmed",
            measured="4 threads sleeping 20 ms vs one after another",
            source="shop/README",
        ),
        pytest_gil.Claim(
            "shop.needs-the-gil",
            "the shop runs on an interpreter with a GIL",
            expected=lambda p: "confirmed" if p.gil_enabled else "refuted",
            kind="functional",
        ),
    ]
'''

TESTS = '''
import time

import pytest
from pytest_gil import measure_overlap, runtime_profile


def wait(t):
    time.sleep(t)


@pytest.mark.claim("shop.sleeps-overlap")
@pytest.mark.io_bound
def test_sleeps_overlap(gil_claim):
    gil_claim.decide(measure_overlap(wait, 0.02, tasks=4))


@pytest.mark.claim("shop.needs-the-gil")
def test_needs_the_gil(gil_claim):
    import sys
    enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    gil_claim.functional(enabled, f"sys._is_gil_enabled() → {enabled}")
'''


def _project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_shop=TESTS)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", "--gil-inconclusive=fail",
                                         "--gil-report", "reports", *args)


@pytest.mark.io_bound
def test_a_projects_own_claims_reach_the_summary_the_json_and_the_matrix(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester)
    result = _run(pytester)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random([
        "shop.sleeps-overlap *confirmed*",
        "shop.needs-the-gil *confirmed*",
    ])
    (report,) = (pytester.path / "reports").glob("gil-*.json")
    doc = json.loads(report.read_text(encoding="utf-8"))
    rows = {r["claim"]: r for r in doc["results"] if r.get("claim")}
    assert set(rows) == {"shop.sleeps-overlap", "shop.needs-the-gil"}
    overlap = rows["shop.sleeps-overlap"]
    assert overlap["catalogue"] == "conftest.py" and overlap["expected"] == "confirmed"
    assert overlap["statement"] == "the shop's IO calls overlap in threads"
    assert overlap["source"] == "shop/README" and overlap["checks"][0]["kind"] == "overlap"
    # the measurement recorded once: the claim absorbed the standalone check record
    assert len(doc["results"]) == 2
    proc = subprocess.run([sys.executable, "-m", "pytest_gil", "report", str(report),
                           "-o", str(pytester.path / "reports")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    matrix = (pytester.path / "reports" / "matrix.md").read_text(encoding="utf-8")
    assert "| shop.sleeps-overlap | confirmed |" in matrix
    assert "| shop.needs-the-gil | confirmed |" in matrix


def test_a_flip_between_runtimes_shows_in_the_matrix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The functional claim measured here (the GIL is on) under a real and an injected
    free-threaded profile: the injected run expects *refuted* and fails; the matrix across the
    two reports marks the claim's row, and the cell that differs from its expectation."""
    _project(pytester)
    _run(pytester, "-k", "needs_the_gil").assert_outcomes(passed=1)
    monkeypatch.setenv("PYTEST_GIL_PROFILE",
                       json.dumps({"free_threaded_build": True, "gil_enabled": False}))
    injected = _run(pytester, "-k", "needs_the_gil")
    monkeypatch.delenv("PYTEST_GIL_PROFILE")
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("a free-threaded interpreter running without its GIL: nothing to contrast")
    injected.assert_outcomes(failed=1, deselected=1)
    injected.stdout.fnmatch_lines(["*claim shop.needs-the-gil: expected refuted*measured "
                                   "confirmed*", "*the statement: the shop runs on an "
                                   "interpreter with a GIL*"])
    reports = sorted((pytester.path / "reports").glob("gil-*.json"))
    assert len(reports) == 2 and any("injected" in p.name for p in reports)
    proc = subprocess.run([sys.executable, "-m", "pytest_gil", "report",
                           *map(str, reports), "-o", str(pytester.path / "reports")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in Path(pytester.path / "reports" / "matrix.md")
               .read_text(encoding="utf-8").splitlines() if "shop.needs-the-gil" in line)
    # the injected runtime's cell is marked: it differs from the verdict expected there
    assert row == "| shop.needs-the-gil | confirmed | confirmed* |  |"


def test_a_hook_returning_something_else_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_gil_claims(config):\n    return ['not a claim']\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-gil: claims of conftest.py: pytest_gil_claims of "
                                 "conftest.py returned 'not a claim', not a pytest_gil.Claim*"])
