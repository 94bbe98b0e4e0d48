"""The statistics of the verdict engine, on synthetic data with a known truth.

Each scenario simulates many complete sequential checks (up to 20 paired rounds of log-ratios)
with a seeded RNG and counts false decisions:

* a *false refute* refutes a claim whose truth is on the claim's side of (or exactly at) its
  refute bound — must happen at most at rate α_refute;
* a *false confirm* confirms a claim whose truth is at (or beyond) its confirm bound — at most
  at rate α_confirm.

"At most α" is checked in a way that cannot flake: a rule whose true error rate is α exceeds
``binom.ppf(1 - 1e-6, N, α)`` false decisions with probability below 1e-6.  Where the truth is
far from the bounds, the stronger statement is asserted as well: the 95% Clopper-Pearson
upper limit of the observed rate is itself below α.

The noise model is read off real rounds on a 2-CPU machine (MEASURING.md): a single paired
speedup has a log-sd of about 0.15 (pairs 0.76–1.48× around 1), the parallelism of GIL threads
about 0.03; "heavy" noise doubles and triples those and adds 10–20% outliers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from pytest_gil import stats
from pytest_gil.stats import (
    ALPHA_CONFIRM,
    ALPHA_REFUTE,
    LOOKS,
    NotTestable,
    SequentialTest,
    sequential_batch,
)

N_REFUTE = 100_000
"""Checks per scenario where α_refute = 1e-4 is at stake: 10 expected false refutes at rate α,
and a 95% upper limit of 3.7e-5 < α when none occur."""

N_CONFIRM = 20_000
"""Checks per scenario where only α_confirm = 1e-3 is at stake (20 expected at rate α)."""

FLAKE = 1e-6
"""Probability that a correct rule fails one of these assertions by chance."""

SD = {"clean": {"speedup": 0.15, "parallelism": 0.03},
      "heavy": {"speedup": 0.30, "parallelism": 0.10}}
OUTLIER_SD = 1.0  # an outlier round is off by a factor e^±1 ≈ 2.7 (typical size)


def simulate(rng: np.random.Generator, n: int, mu: float, sds: dict[str, float],
             outliers: float = 0.0, bias: float = 0.0) -> dict[str, np.ndarray]:
    """``n`` checks × 20 rounds per signal: normal log-ratios around ``mu``; a fraction
    ``outliers`` of rounds gets an extra N(0, 1) (symmetric) or, with ``bias`` ≠ 0, |N(0, 1)|
    in the direction of ``bias``."""
    out = {}
    for name, sd in sds.items():
        x = rng.normal(mu, sd, size=(n, LOOKS[-1]))
        if outliers:
            hit = rng.random(size=x.shape) < outliers
            extra = rng.normal(0.0, OUTLIER_SD, size=x.shape)
            if bias:
                extra = np.sign(bias) * np.abs(extra)
            x = x + hit * extra
        out[name] = x
    return out


def max_count(n: int, alpha: float) -> int:
    """The largest false-decision count a rule with error rate α reaches except with
    probability FLAKE (a binomial upper confidence limit of the count)."""
    return int(sps.binom.ppf(1.0 - FLAKE, n, alpha))


def upper95(k: int, n: int) -> float:
    return stats.clopper_pearson(k, n, 0.90)[1]  # two-sided 90% = one-sided 95% upper limit


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)


@pytest.fixture
def report(record_property: Any) -> Iterator[dict[str, Any]]:
    figures: dict[str, Any] = {}
    yield figures
    for k, v in figures.items():
        record_property(k, v)
        print(f"{k}: {v}")


# --------------------------------------------------------------------------------------------
# bounds


def test_bounds_follow_the_documented_derivation() -> None:
    ser, par = stats.bounds(2, "serialized"), stats.bounds(2, "parallel")
    assert ser.confirm == pytest.approx(math.sqrt(2)) == par.confirm
    assert ser.refute == pytest.approx(2 ** 0.75)  # 1.68
    assert par.refute == pytest.approx(2 ** 0.25)  # 1.19
    four = stats.bounds(4, "serialized")
    assert (four.confirm, four.refute) == pytest.approx((2.0, 4 ** 0.75))
    # The gap: on the log scale each refute bound is a quarter of ln I beyond the confirm bound.
    for ideal in (2, 3, 4, 8):
        s, p = stats.bounds(ideal, "serialized"), stats.bounds(ideal, "parallel")
        quarter = math.log(ideal) / 4
        assert s.log_refute - s.log_confirm == pytest.approx(quarter)
        assert p.log_confirm - p.log_refute == pytest.approx(quarter)
    assert ser.to_dict() == {"ideal": 2, "confirm": 1.4142, "refute": 1.6818}


@pytest.mark.parametrize("ideal", [1, 0.5, 1.0])
def test_ideal_of_one_is_not_testable(ideal: float) -> None:
    with pytest.raises(NotTestable, match="ideal speedup"):
        stats.bounds(ideal, "serialized")
    with pytest.raises(NotTestable):
        SequentialTest(ideal)


def test_unknown_claim_is_rejected() -> None:
    with pytest.raises(ValueError, match="claim must be"):
        stats.bounds(2, "fast")  # type: ignore[arg-type]


def test_ideal_speedup() -> None:
    from pytest_gil.engine.scaling import ideal_speedup

    assert ideal_speedup(4, 4, 2) == 2
    assert ideal_speedup(2, 2, 8) == 2
    assert ideal_speedup(4, 1, 2) == 1
    assert ideal_speedup(4, 4, 1, cpu_bound=False) == 4


# --------------------------------------------------------------------------------------------
# one look


def test_signal_test_matches_scipy_one_sided_t_test() -> None:
    x = np.log([1.02, 0.97, 1.10, 0.95, 1.01, 1.04])
    b = stats.bounds(2, "serialized")
    t = stats.signal_test("speedup", x, "serialized", 2, alpha_confirm=1e-3, alpha_refute=1e-4)
    ref = sps.ttest_1samp(x, b.log_confirm, alternative="less")
    assert t.p_confirm == pytest.approx(ref.pvalue)
    ref_r = sps.ttest_1samp(x, b.log_refute, alternative="greater")
    assert t.p_refute == pytest.approx(ref_r.pvalue)
    assert t.confirms == (ref.pvalue <= 1e-3) and not t.refutes
    # The reported high bound is scipy's one-sided upper confidence limit.
    ci = ref.confidence_interval(confidence_level=1 - 1e-3)
    assert math.log(t.interval.high) == pytest.approx(ci.high)
    assert t.interval.value == pytest.approx(math.exp(x.mean()))


def test_parallel_claim_p_values() -> None:
    x = np.log([1.9, 1.8, 2.0, 1.95])
    t = stats.signal_test("speedup", x, "parallel", 2, alpha_confirm=1e-3, alpha_refute=1e-4)
    b = stats.bounds(2, "parallel")
    assert t.p_confirm == pytest.approx(sps.ttest_1samp(x, b.log_confirm,
                                                        alternative="greater").pvalue)
    assert t.p_refute == pytest.approx(sps.ttest_1samp(x, b.log_refute,
                                                       alternative="less").pvalue)
    assert t.confirms and not t.refutes


def test_identical_rounds_decide_by_the_mean() -> None:
    verdict, _ = stats.decide({"p": [0.0, 0.0, 0.0]}, "serialized", 2,
                              alpha_confirm=1e-4, alpha_refute=1e-5)
    assert verdict == "confirmed"


def test_decide_needs_every_signal() -> None:
    clear = np.log([1.0, 1.01, 0.99, 1.0, 1.02])
    parallel = np.log([1.9, 2.0, 1.95, 1.97, 1.93])
    kw: dict[str, float] = {"alpha_confirm": 1e-3, "alpha_refute": 1e-4}
    assert stats.decide({"a": clear, "b": clear}, "serialized", 2, **kw)[0] == "confirmed"
    assert stats.decide({"a": clear, "b": parallel}, "serialized", 2, **kw)[0] == "inconclusive"
    assert stats.decide({"a": parallel, "b": parallel}, "serialized", 2, **kw)[0] == "refuted"


def test_non_finite_log_ratios_are_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        stats.interval([0.0, math.inf])


def test_interval_with_too_few_rounds() -> None:
    iv = stats.interval([math.log(2.0)])
    assert iv.value == pytest.approx(2.0) and math.isnan(iv.low) and iv.n == 1
    assert str(iv) == "2.00"
    assert iv.format("×") == "2.00×"
    assert math.isnan(stats.interval([]).value)


# --------------------------------------------------------------------------------------------
# the sequential object


def test_sequential_test_looks_only_on_schedule() -> None:
    st = SequentialTest(2, signals=("speedup",), stop_on="serialized")
    for _ in range(2):
        st.add(speedup=1.0)
        assert st.look() is None  # no look before 3 rounds
    st.add(speedup=1.0)
    out = st.look()
    assert out is not None and out.decided and out.verdicts["serialized"] == "confirmed"
    assert out.n == 3 == out.look


def test_sequential_test_gives_up_at_the_last_look() -> None:
    st = SequentialTest(2, signals=("speedup",), stop_on="serialized")
    rng = np.random.default_rng(1)
    # Truth at the confirm bound with wide noise: no decision is possible.
    outs = []
    for _ in range(LOOKS[-1]):
        st.add(speedup=float(np.exp(rng.normal(math.log(math.sqrt(2)), 0.4))))
        outs.append(st.look())
    assert all(o is None for o in outs[:-1])
    last = outs[-1]
    assert last is not None and last.decided
    assert last.verdicts == {"serialized": "inconclusive", "parallel": "inconclusive"}
    assert "last look" in last.reason


def test_sequential_outcome_before_any_look() -> None:
    st = SequentialTest(4)
    st.add(speedup=3.0, parallelism=3.5)
    out = st.outcome("budget ran out")
    assert out.verdicts == {"serialized": "inconclusive", "parallel": "inconclusive"}
    assert out.reason == "budget ran out" and out.look == 0 and out.n == 1
    assert out.intervals["speedup"].value == pytest.approx(3.0)


def test_sequential_test_validates_input() -> None:
    st = SequentialTest(2)
    with pytest.raises(ValueError, match="expected ratios"):
        st.add(speedup=1.0)
    with pytest.raises(ValueError, match="positive"):
        st.add(speedup=0.0, parallelism=1.0)
    with pytest.raises(ValueError, match="stop_on"):
        SequentialTest(2, claims=("parallel",), stop_on="serialized")
    with pytest.raises(ValueError, match="alphas"):
        SequentialTest(2, alpha_confirm=0.0)
    with pytest.raises(ValueError, match="looks"):
        SequentialTest(2, looks=(5, 3))


def test_bonferroni_split() -> None:
    st = SequentialTest(2)
    assert st.alpha_confirm_per_look == pytest.approx(ALPHA_CONFIRM / len(LOOKS))
    assert st.alpha_refute_per_look == pytest.approx(ALPHA_REFUTE / len(LOOKS))


@pytest.mark.parametrize("claim", ["serialized", "parallel"])
def test_batch_agrees_with_the_incremental_object(rng: np.random.Generator,
                                                  claim: stats.Claim) -> None:
    n = 300
    mus = rng.choice([0.0, 0.2, 0.35, 0.5, 0.65], size=n)
    data = {
        "speedup": rng.normal(mus[:, None], 0.15, size=(n, LOOKS[-1])),
        "parallelism": rng.normal(mus[:, None], 0.05, size=(n, LOOKS[-1])),
    }
    batch = sequential_batch(data, claim, 2)
    code = {"confirmed": 1, "refuted": -1, "inconclusive": 0}
    for i in range(n):
        st = SequentialTest(2, claims=(claim,), stop_on=claim)
        out = None
        for j in range(LOOKS[-1]):
            st.add(speedup=math.exp(data["speedup"][i, j]),
                   parallelism=math.exp(data["parallelism"][i, j]))
            out = st.look()
            if out is not None:
                break
        assert out is not None
        assert code[out.verdicts[claim]] == batch.verdict[i], i
        assert out.n == batch.rounds[i], i
    assert batch.confirmed + batch.refuted + batch.inconclusive == n


# --------------------------------------------------------------------------------------------
# error rates on simulated checks

LOG2 = math.log(2)
BOTH = ("speedup", "parallelism")
ONE = ("speedup",)  # the overlap checks and releases_gil use one signal: the worst case


def _run(rng: np.random.Generator, n: int, mu: float, noise: str, signals: tuple[str, ...],
         ideal: float, outliers: float = 0.0, bias: float = 0.0
         ) -> dict[str, stats.BatchResult]:
    sds = {s: SD[noise][s] for s in signals}
    data = simulate(rng, n, mu, sds, outliers, bias)
    return {c: sequential_batch(data, c, ideal) for c in ("serialized", "parallel")}


@pytest.mark.parametrize("ideal", [2, 4])
@pytest.mark.parametrize("signals", [BOTH, ONE], ids=["two-signals", "speedup-only"])
def test_clean_gil_case(rng: np.random.Generator, report: dict[str, Any], ideal: int,
                        signals: tuple[str, ...]) -> None:
    """Truth: ratio 1 (threads under the GIL)."""
    res = _run(rng, N_REFUTE, 0.0, "clean", signals, ideal)
    ser, par = res["serialized"], res["parallel"]
    assert ser.refuted <= max_count(N_REFUTE, ALPHA_REFUTE)
    assert upper95(ser.refuted, N_REFUTE) <= ALPHA_REFUTE
    assert upper95(par.confirmed, N_REFUTE) <= ALPHA_CONFIRM
    # Power: the true claim is confirmed in (almost) every check.
    assert ser.confirmed / N_REFUTE > 0.99
    report[f"gil I={ideal} {'+'.join(signals)}: median rounds to confirm"] = float(
        np.median(ser.rounds[ser.verdict == 1]))


@pytest.mark.parametrize("ideal", [2, 4])
@pytest.mark.parametrize("signals", [BOTH, ONE], ids=["two-signals", "speedup-only"])
def test_clear_parallel_case(rng: np.random.Generator, report: dict[str, Any], ideal: int,
                             signals: tuple[str, ...]) -> None:
    """Truth: 93% of the ideal (processes on a quiet machine, speedup ~1.85 on 2 CPUs)."""
    res = _run(rng, N_REFUTE, math.log(0.93 * ideal), "clean", signals, ideal)
    ser, par = res["serialized"], res["parallel"]
    assert par.refuted <= max_count(N_REFUTE, ALPHA_REFUTE)
    assert upper95(par.refuted, N_REFUTE) <= ALPHA_REFUTE
    assert upper95(ser.confirmed, N_REFUTE) <= ALPHA_CONFIRM
    assert par.confirmed / N_REFUTE > 0.99
    report[f"parallel I={ideal} {'+'.join(signals)}: median rounds to confirm"] = float(
        np.median(par.rounds[par.verdict == 1]))


@pytest.mark.parametrize("noise", ["clean", "heavy"])
@pytest.mark.parametrize("signals", [BOTH, ONE], ids=["two-signals", "speedup-only"])
def test_exactly_at_the_confirm_bound(rng: np.random.Generator, report: dict[str, Any],
                                      noise: str, signals: tuple[str, ...]) -> None:
    """Truth: √I — neither claim is true, so any confirmation is false."""
    res = _run(rng, N_CONFIRM, LOG2 / 2, noise, signals, 2,
               outliers=0.15 if noise == "heavy" else 0.0)
    for claim, r in res.items():
        assert r.confirmed <= max_count(N_CONFIRM, ALPHA_CONFIRM), claim
        assert r.refuted <= max_count(N_CONFIRM, ALPHA_REFUTE), claim
        report[f"at confirm bound {noise} {'+'.join(signals)}: {claim} confirmed"] = (
            f"{r.confirmed}/{N_CONFIRM}")


@pytest.mark.parametrize("noise", ["clean", "heavy"])
@pytest.mark.parametrize("claim", ["serialized", "parallel"])
def test_exactly_at_the_refute_bound(rng: np.random.Generator, report: dict[str, Any],
                                     noise: str, claim: stats.Claim) -> None:
    """Truth: the claim's own refute bound (I**0.75 for "serialized", I**0.25 for "parallel")
    — refuting it is a false failure.  One signal: the hardest case (no second signal that
    must agree)."""
    mu = 0.75 * LOG2 if claim == "serialized" else 0.25 * LOG2
    data = simulate(rng, N_REFUTE, mu, {"speedup": SD[noise]["speedup"]},
                    outliers=0.15 if noise == "heavy" else 0.0)
    r = sequential_batch(data, claim, 2)
    assert r.refuted <= max_count(N_REFUTE, ALPHA_REFUTE)
    lo, hi = stats.clopper_pearson(r.refuted, N_REFUTE)
    report[f"at {claim} refute bound ({noise}): false refutes"] = (
        f"{r.refuted}/{N_REFUTE} (95% CI {lo:.1e}–{hi:.1e})")


@pytest.mark.parametrize("outliers", [0.10, 0.20])
@pytest.mark.parametrize("truth", ["gil", "parallel", "confirm-bound", "refute-bound"])
def test_heavy_noise_with_outliers(rng: np.random.Generator, report: dict[str, Any],
                                   outliers: float, truth: str) -> None:
    """Heavy noise (log-sd 0.3 / 0.1) with 10–20% outlier rounds: error rates stay within α;
    what is lost is power (more inconclusive answers), which is the honest outcome."""
    mu = {"gil": 0.0, "parallel": math.log(1.86), "confirm-bound": LOG2 / 2,
          "refute-bound": 0.75 * LOG2}[truth]
    res = _run(rng, N_REFUTE, mu, "heavy", BOTH, 2, outliers=outliers)
    ser, par = res["serialized"], res["parallel"]
    if truth in ("gil", "confirm-bound", "refute-bound"):
        assert ser.refuted <= max_count(N_REFUTE, ALPHA_REFUTE)
    if truth in ("parallel", "confirm-bound"):
        assert par.refuted <= max_count(N_REFUTE, ALPHA_REFUTE)
    if truth in ("gil", "confirm-bound"):  # at 1.68 (refute bound) "parallel" is true
        assert par.confirmed <= max_count(N_REFUTE, ALPHA_CONFIRM)
    if truth in ("parallel", "confirm-bound"):
        assert ser.confirmed <= max_count(N_REFUTE, ALPHA_CONFIRM)
    if truth == "gil":
        assert upper95(ser.refuted, N_REFUTE) <= ALPHA_REFUTE
    if truth == "parallel":
        assert upper95(par.refuted, N_REFUTE) <= ALPHA_REFUTE
    report[f"heavy {outliers:.0%} outliers, truth {truth}"] = (
        f"serialized c/r/i {ser.confirmed}/{ser.refuted}/{ser.inconclusive}, "
        f"parallel c/r/i {par.confirmed}/{par.refuted}/{par.inconclusive}, "
        f"median rounds {np.median(ser.rounds):g}/{np.median(par.rounds):g}")


@pytest.mark.parametrize("claim", ["serialized", "parallel"])
def test_biased_outliers_are_absorbed_by_the_gap(rng: np.random.Generator,
                                                 claim: stats.Claim) -> None:
    """Outliers that all push toward refuting (e.g. disturbed parallel phases when testing
    "parallel"), 20% of rounds, with the truth at the confirm bound: the gap between the
    confirm and the refute bound absorbs the bias; no false failure."""
    bias = 1.0 if claim == "serialized" else -1.0
    data = simulate(rng, N_REFUTE, LOG2 / 2, {"speedup": SD["clean"]["speedup"]},
                    outliers=0.2, bias=bias)
    r = sequential_batch(data, claim, 2)
    assert r.refuted <= max_count(N_REFUTE, ALPHA_REFUTE)
    assert upper95(r.refuted, N_REFUTE) <= ALPHA_REFUTE


# --------------------------------------------------------------------------------------------
# helpers


def test_jain_index() -> None:
    from pytest_gil.engine.primitives import jain

    assert jain([1, 1, 1, 1]) == pytest.approx(1.0)
    assert jain([1, 0, 0, 0]) == pytest.approx(0.25)
    assert jain([3, 1]) == pytest.approx(16 / 20)
    assert math.isnan(jain([0, 0]))


def test_clopper_pearson() -> None:
    lo, hi = stats.clopper_pearson(0, 100_000)
    assert lo == 0.0 and hi == pytest.approx(3.69e-5, rel=0.01)
    lo, hi = stats.clopper_pearson(5, 10)
    assert lo < 0.5 < hi
    with pytest.raises(ValueError):
        stats.clopper_pearson(3, 2)
