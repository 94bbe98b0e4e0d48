"""The statistics of the comparison with a baseline, on synthetic samples with a known truth:
Welch's ratio interval, the criteria of ``--gil-compare-fail`` and the gate's rule, its false
alarm rate when nothing changed and its power on a 1.9x -> 1.3x regression."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from pytest_gil.baseline.criteria import Criterion, CriterionError, normalise, parse_criteria
from pytest_gil.baseline.ratio import Ratio, welch_ratio

ALPHA = 0.01


def lognormal(rng: random.Random, level: float, sd: float, n: int) -> list[float]:
    """``n`` rounds around ``level`` with a log-scale spread ``sd`` (how ratios vary)."""
    return [level * math.exp(rng.gauss(0.0, sd)) for _ in range(n)]


# --------------------------------------------------------------------------------------------
# Welch's ratio


def test_the_ratio_is_the_ratio_of_geometric_means_with_welchs_p_value() -> None:
    base, cur = [1.8, 1.9, 2.0, 1.95], [1.3, 1.25, 1.35, 1.28, 1.33, 1.31]
    r = welch_ratio("speedup", base, cur, ALPHA)
    geo = math.exp(sum(map(math.log, cur)) / 6 - sum(map(math.log, base)) / 4)
    assert r.value == pytest.approx(geo)
    expected = stats.ttest_ind(list(map(math.log, cur)), list(map(math.log, base)),
                               equal_var=False)
    assert r.p_value == pytest.approx(float(expected.pvalue), rel=1e-9)
    assert (r.n_baseline, r.n_current) == (4, 6)
    assert r.low is not None and r.high is not None
    assert r.low < r.value < r.high < 1


def test_the_interval_excludes_one_exactly_when_the_change_is_significant() -> None:
    rng = random.Random(7)
    for _ in range(200):
        r = welch_ratio("x", lognormal(rng, 1.0, 0.1, 5), lognormal(rng, 1.05, 0.1, 5), ALPHA)
        assert r.low is not None and r.high is not None
        excludes_one = r.high < 1 or r.low > 1
        assert excludes_one == r.significant(ALPHA)


@pytest.mark.parametrize(("nb", "nc", "sd_b", "sd_c"), [(4, 9, 0.05, 0.2), (6, 3, 0.15, 0.05),
                                                         (5, 5, 0.1, 0.1)])
def test_the_interval_covers_the_true_ratio_at_its_confidence_level(
    nb: int, nc: int, sd_b: float, sd_c: float
) -> None:
    # Unequal sizes and spreads: Welch's degrees of freedom keep the coverage at 1 - alpha
    # (a normal quantile, or a pooled variance, would miss far more often with 3-9 rounds).
    rng = random.Random(nb * 100 + nc)
    alpha, trials, truth = 0.05, 3000, 0.8
    missed = 0
    for _ in range(trials):
        r = welch_ratio("x", lognormal(rng, 2.0, sd_b, nb), lognormal(rng, 1.6, sd_c, nc), alpha)
        assert r.low is not None and r.high is not None
        missed += not (r.low <= truth <= r.high)
    assert 0.03 <= missed / trials <= 0.07, missed / trials


def test_identical_rounds_give_an_exact_ratio() -> None:
    same = welch_ratio("x", [2.0, 2.0, 2.0], [2.0, 2.0], ALPHA)
    assert (same.value, same.low, same.high, same.p_value) == (1.0, 1.0, 1.0, 1.0)
    moved = welch_ratio("x", [2.0, 2.0], [1.0, 1.0, 1.0], ALPHA)
    assert (moved.value, moved.low, moved.high, moved.p_value) == (0.5, 0.5, 0.5, 0.0)


def test_fewer_than_two_rounds_give_a_point_estimate_without_an_interval() -> None:
    r = welch_ratio("x", [2.0], [1.0, 1.1, 0.9], ALPHA)
    assert r.value == pytest.approx(math.exp(sum(map(math.log, [1.0, 1.1, 0.9])) / 3) / 2)
    assert (r.low, r.high, r.p_value) == (None, None, None)
    none = welch_ratio("x", [], [1.0, 1.1], ALPHA)
    assert (none.value, none.n_baseline, none.n_current) == (None, 0, 2)


def test_rounds_that_are_not_positive_ratios_are_left_out() -> None:
    r = welch_ratio("x", [2.0, 0.0, -1.0, math.inf, math.nan, 2.0], [1.0, 1.0], ALPHA)
    assert (r.value, r.n_baseline) == (0.5, 2)


def test_a_ratio_survives_its_json_form() -> None:
    r = welch_ratio("speedup", [1.8, 1.9, 2.0], [1.2, 1.3, 1.25], ALPHA)
    back = Ratio.from_dict(r.to_dict())
    assert back is not None and back.name == "speedup"
    assert back.value == pytest.approx(r.value, abs=1e-6)
    assert Ratio.from_dict("nonsense") is None


# --------------------------------------------------------------------------------------------
# criteria


@pytest.mark.parametrize(("text", "expected"), [
    ("verdict", [Criterion("verdict", "verdict")]),
    ("Verdict", [Criterion("verdict", "verdict")]),
    ("verdict:decided", [Criterion("verdict:decided", "decided")]),
    ("speedup:10%", [Criterion("speedup:10%", "figure", "speedup", 0.10)]),
    ("parallelism: 12.5 %", [Criterion("parallelism:12.5%", "figure", "parallelism", 0.125)]),
    ("released:10%", [Criterion("release:10%", "figure", "release", 0.10)]),
    ("latency ratio:20%", [Criterion("latency_ratio:20%", "figure", "latency_ratio", 0.20)]),
    ("verdict, speedup:10%\nverdict", [Criterion("verdict", "verdict"),
                                       Criterion("speedup:10%", "figure", "speedup", 0.10)]),
])
def test_criteria_are_read_normalised_and_deduplicated(text: str,
                                                       expected: list[Criterion]) -> None:
    assert list(parse_criteria(text)) == expected


def test_repeated_options_add_up() -> None:
    got = parse_criteria(["verdict", "speedup:10%,parallelism:5%"])
    assert [c.text for c in got] == ["verdict", "speedup:10%", "parallelism:5%"]


@pytest.mark.parametrize(("text", "bad", "reason"), [
    ("speedup", "speedup", "expected verdict, verdict:decided or NAME:PCT%"),
    ("speedup:10", "speedup:10", "expected verdict, verdict:decided or NAME:PCT%"),
    ("verdict:maybe", "verdict:maybe", "expected verdict"),
    ("verdict, :10%", ":10%", "expected verdict"),
    ("speedup:0%", "speedup:0%", "the percentage must be above 0 and below 100"),
    ("speedup:100%", "speedup:100%", "the percentage must be above 0 and below 100"),
    ("speedup:1.2.3%", "speedup:1.2.3%", "the percentage must be above 0 and below 100"),
])
def test_a_bad_criterion_is_named_with_what_is_accepted(text: str, bad: str,
                                                        reason: str) -> None:
    with pytest.raises(CriterionError) as info:
        parse_criteria(text)
    assert info.value.value == bad
    assert info.value.reason.startswith(reason)


def test_names_are_compared_as_criteria_spell_them() -> None:
    assert normalise("Probe rate beside-fn") == "probe_rate_beside_fn"
    assert normalise("released") == "release"
    speed, = parse_criteria("speedup:10%")
    assert speed.matches(["parallelism", "Speedup"])
    assert not speed.matches(["parallelism"])


# --------------------------------------------------------------------------------------------
# the gate's rule


SPEEDUP_10, = parse_criteria("speedup:10%")
LATENCY_10, = parse_criteria("latency_ratio:10%")


@pytest.mark.parametrize(("value", "low", "high", "broken", "why"), [
    (0.68, 0.64, 0.73, True, "a large, significant drop"),
    (0.85, 0.70, 1.02, False, "a large drop, not significant"),
    (0.95, 0.93, 0.97, False, "a significant drop, smaller than 10%"),
    (0.90, 0.85, 0.95, False, "exactly 10%: not more than 10%"),
    (1.40, 1.30, 1.50, False, "a rise is no regression"),
    (0.50, None, None, False, "no interval: too few rounds to claim anything"),
])
def test_a_figure_breaks_the_gate_only_when_it_dropped_by_more_than_pct_significantly(
    value: float, low: float | None, high: float | None, broken: bool, why: str
) -> None:
    ratio = Ratio("speedup", value, low, high, None if low is None else 0.001, 5, 5)
    assert SPEEDUP_10.regressed(ratio) is broken, why


def test_for_a_latency_the_regression_is_a_rise() -> None:
    assert LATENCY_10.regressed(Ratio("latency_ratio", 1.5, 1.2, 1.8, 1e-4, 5, 5))
    assert not LATENCY_10.regressed(Ratio("latency_ratio", 0.5, 0.4, 0.6, 1e-4, 5, 5))


@pytest.mark.parametrize(("before", "after", "verdict", "decided"), [
    ("confirmed", "confirmed", False, False),
    ("confirmed", "refuted", True, True),
    ("confirmed", "inconclusive", True, False),
    ("not-testable", "refuted", True, False),
])
def test_verdict_breaks_on_any_change_and_verdict_decided_only_between_decided_ones(
    before: str, after: str, verdict: bool, decided: bool
) -> None:
    v, d = parse_criteria("verdict, verdict:decided")
    assert v.verdict_broken(before, after) is verdict
    assert d.verdict_broken(before, after) is decided


# --------------------------------------------------------------------------------------------
# the gate on simulated runs: false alarms when nothing changed, power on a regression

TRIALS = 2000


@pytest.mark.parametrize(("sd", "nb", "nc"), [(0.1, 5, 5), (0.2, 4, 8), (0.1, 3, 20)])
def test_the_speedup_gate_rarely_fails_when_nothing_changed(sd: float, nb: int,
                                                            nc: int) -> None:
    # Both runs measure the same 1.9x speedup with a log-spread sd (0.05-0.2 on a shared
    # 2-CPU VM) over as many rounds as a sequential check uses.  The rule asks for a
    # significant drop (at most alpha/2 by itself) and an estimated drop beyond 10%.
    rng = random.Random(int(sd * 1000) + nb * 10 + nc)
    alarms = sum(SPEEDUP_10.regressed(welch_ratio("speedup", lognormal(rng, 1.9, sd, nb),
                                                  lognormal(rng, 1.9, sd, nc), ALPHA))
                 for _ in range(TRIALS))
    assert alarms / TRIALS <= ALPHA, alarms


@pytest.mark.parametrize(("sd", "nb", "nc", "power"), [(0.1, 5, 5, 0.9), (0.1, 6, 20, 0.95),
                                                       (0.05, 3, 20, 0.8)])
def test_the_speedup_gate_catches_a_drop_from_1_9_to_1_3(sd: float, nb: int, nc: int,
                                                         power: float) -> None:
    rng = random.Random(int(sd * 1000) + nb * 10 + nc + 1)
    caught = sum(SPEEDUP_10.regressed(welch_ratio("speedup", lognormal(rng, 1.9, sd, nb),
                                                  lognormal(rng, 1.3, sd, nc), ALPHA))
                 for _ in range(TRIALS))
    assert caught / TRIALS >= power, caught
