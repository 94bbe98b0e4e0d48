"""One row per claim or check: how a test's records are merged (``report.collect.merge_record``).

A check is recorded when it is measured and again when an assertion decides it (the same
``check_id``: the check's uid); a claim decided with checks carries them in its ``checks``.
The report keeps one record per check or claim, without touching what an earlier phase of the
test already sent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_gil.report.collect import merge_record

REPO = Path(__file__).resolve().parents[1]


def check(uid: str) -> dict[str, Any]:
    return {"id": uid, "kind": "scaling", "label": f"check {uid}", "verdict": "confirmed"}


def standalone(uid: str, hypothesis: str = "serialized", verdict: str = "confirmed"
               ) -> dict[str, Any]:
    return {"claim": None, "check": hypothesis, "check_id": uid, "verdict": verdict,
            "checks": [check(uid)]}


def claim(claim_id: str, *uids: str) -> dict[str, Any]:
    return {"claim": claim_id, "verdict": "confirmed", "checks": [check(u) for u in uids]}


def merged(*records: dict[str, Any]) -> list[dict[str, Any]]:
    """A test's records after adding ``records`` one by one, none sent yet."""
    recs: list[dict[str, Any]] = []
    for rec in records:
        merge_record(recs, rec, 0)
    return recs


# ---------------------------------------------------------------------------------------------
# merge_record


def test_a_check_recorded_twice_keeps_the_last_record() -> None:
    first = standalone("a", "parallel", "refuted")
    last = standalone("a", "serialized", "confirmed")
    assert merged(first, last) == [last]


def test_other_checks_are_kept_in_order() -> None:
    a, b, a_again = standalone("a"), standalone("b"), standalone("a", "parallel")
    assert merged(a, b, a_again) == [b, a_again]


def test_a_claim_absorbs_the_standalone_records_of_its_checks() -> None:
    a, b, other = standalone("a"), standalone("b"), standalone("other")
    decided = claim("gil.one-thread-at-a-time", "a", "b")
    assert merged(a, other, b, decided) == [other, decided]


def test_a_check_recorded_after_the_claim_that_contains_it_adds_nothing() -> None:
    decided = claim("gil.one-thread-at-a-time", "a")
    assert merged(standalone("a"), decided, standalone("a", "parallel")) == [decided]


def test_claims_do_not_absorb_each_other() -> None:
    first, second = claim("x", "a"), claim("y", "a")
    assert merged(first, second) == [first, second]


def test_records_without_check_ids_are_all_kept() -> None:
    plain: list[dict[str, Any]] = [
        {"claim": "plain", "verdict": "confirmed", "checks": [{"kind": "scaling"}]},
        {"claim": None, "verdict": "confirmed", "checks": "not a list"},
    ]
    assert merged(*plain) == plain


def test_a_sent_check_stays_when_it_is_recorded_again() -> None:
    at_setup, again = standalone("a"), standalone("a", "parallel")
    recs = [at_setup]
    merge_record(recs, again, sent=1)  # the setup report already carried at_setup
    assert recs == [at_setup, again]


def test_a_sent_check_stays_when_a_claim_contains_it() -> None:
    at_setup, decided = standalone("a"), claim("c", "a")
    recs = [at_setup]
    merge_record(recs, decided, sent=1)
    assert recs == [at_setup, decided]


def test_only_unsent_claims_make_a_repeated_check_redundant() -> None:
    decided, again = claim("c", "a"), standalone("a", "parallel")
    recs = [decided]
    merge_record(recs, again, sent=1)  # the claim went out with an earlier phase
    assert recs == [decided, again]
    recs = [decided]
    merge_record(recs, again, sent=0)  # the claim is still to be sent, and reports check a
    assert recs == [decided]


# ---------------------------------------------------------------------------------------------
# end to end: the engine's record_check and a claim record through the report plugin


CHECKS = """
from pytest_gil.engine.check import Check, Figure, record_check
from pytest_gil.report.collect import add_record


def make_check(label="calc in 2 threads"):
    return Check(kind="scaling", label=label, hypothesis="parallel",
                 verdicts={"serialized": "confirmed", "parallel": "refuted"},
                 figures={"speedup": Figure("speedup", 1.02, 0.95, 1.08, "x", 6)},
                 key="speedup", setup={"executor": "thread", "workers": 2, "tasks": 2},
                 ideal=2.0, rounds=6, runtime="synthetic")


def decide(claim_id, *checks):
    add_record({"claim": claim_id, "verdict": "confirmed", "expected": "confirmed",
                "statement": "one thread at a time", "checks": [c.to_dict() for c in checks]})
"""


@pytest.fixture
def gil(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("PYTEST_GIL_PROFILE", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(gilchecks=CHECKS)
    pytester.makeconftest(
        """
def pytest_addoption(parser):
    try:
        parser.getgroup("gil").addoption("--gil-report", dest="gil_report", default=None)
    except ValueError:
        pass
"""
    )
    return pytester


def results(gil: pytest.Pytester, passed: int) -> list[dict[str, Any]]:
    result = gil.runpytest_subprocess(
        "-p", "pytest_gil.report.collect", "-p", "no:randomly", "--gil-report", "out"
    )
    result.assert_outcomes(passed=passed)
    (path,) = (gil.path / "out").glob("gil-*.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc["results"], list)
    return doc["results"]


def test_a_check_measured_then_asserted_is_one_row(gil: pytest.Pytester) -> None:
    gil.makepyfile(
        test_twice="""
        from gilchecks import make_check, record_check

        def test_twice():
            check = make_check()
            record_check(check)                  # when it was measured
            record_check(check, "serialized")    # when an assertion decided it
            record_check(make_check("another"))  # a different check
        """
    )
    recs = results(gil, passed=1)
    assert [(r["checks"][0]["label"], r["check"], r["verdict"]) for r in recs] == [
        ("calc in 2 threads", "serialized", "confirmed"),
        ("another", "parallel", "refuted"),
    ]
    assert recs[0]["check_id"] == recs[0]["checks"][0]["id"]


def test_a_claim_decided_with_a_check_replaces_its_standalone_row(gil: pytest.Pytester) -> None:
    gil.makepyfile(
        test_claim="""
        from gilchecks import decide, make_check, record_check

        def test_claim():
            check = make_check()
            record_check(check)
            decide("gil.one-thread-at-a-time", check)
            record_check(check, "serialized")  # asserted after the claim: already in it
        """
    )
    recs = results(gil, passed=1)
    assert [r["claim"] for r in recs] == ["gil.one-thread-at-a-time"]
    assert recs[0]["checks"][0]["figures"]["speedup"]["value"] == 1.02


def test_a_check_sent_with_the_setup_report_stays(gil: pytest.Pytester) -> None:
    gil.makepyfile(
        test_phases="""
        import pytest
        from gilchecks import decide, make_check, record_check

        @pytest.fixture
        def measured():
            check = make_check()
            record_check(check)  # goes out with the setup report
            return check

        def test_claim(measured):
            decide("gil.one-thread-at-a-time", measured)
        """
    )
    recs = results(gil, passed=1)
    assert [(r["claim"], r.get("check")) for r in recs] == [
        (None, "parallel"),
        ("gil.one-thread-at-a-time", None),
    ]
