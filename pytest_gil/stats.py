"""Pure statistics of the verdict engine: bounds, robust sequential one-sided tests, three
outcomes.

Everything here is a pure function of numbers (no clocks, no threads), so it is tested on
synthetic data with a known truth (``tests/test_stats.py``).  numpy and scipy are imported at
module top; the engine imports this module lazily, never at plugin load.  This module is
longer than 600 lines because the incremental test and its vectorised twin must implement the
same rule side by side (a test proves they decide alike).

Hypotheses and bounds (the derivation)
--------------------------------------
A round yields positive ratios, analysed on the log scale.  The two hypotheses sit at the two
ends of ``[0, ln K]``: *serialized* (ratio 1) and *parallel* (ratio ``K``), where ``K`` is the
ideal: a constant (``min(workers, usable CPUs)`` for CPU time, the number of tasks that can
wait at once, …), an interval ``(K_lo, K_hi)``, or an estimate (:class:`IdealEstimate`: the
capacity the machine delivers, measured as the mean of ``n`` log-ratios with their sd —
:mod:`pytest_gil.engine.capacity`).  With an interval each decision uses the end that makes
it harder: a decision on the "parallel" side of a bound (a lower confidence bound above it)
uses ``K_hi``, one on the "serialized" side uses ``K_lo``; the interval's own error rate is
paid from α (:data:`IDEAL_ALPHA_SHARE`).  An estimate gives each decision the end at the
level its own α can pay (``share · α_confirm`` for a confirmation, ``share · α_refute`` for a
refutation), so confirmations are not held to the refutations' stricter interval.  A bound
at fraction ``f`` of the segment is ``K**f``:

* **confirm** at ``f = ½`` for both hypotheses (the log-midpoint ``√K``);
* **refute** a further quarter out: "serialized" at ``f = ¾``, "parallel" at ``f = ¼``.

A ratio between the bounds is *inconclusive*, never refuted — a gap of ``¼ ln K`` between
"cannot confirm" and "refuted" (equivalence testing, TOST on the log scale).  For ``K = 2``:
confirm at 1.41, refute "serialized" above 1.68, refute "parallel" below 1.19.  ``K ≤ 1``
leaves no room between the hypotheses: *not testable* (:class:`NotTestable`).

Routes: how a signal may decide
-------------------------------
Each decision (confirm or refute a hypothesis) is reached by one or more *routes*.  The
**primary** signals of a check (the speedup, a probe's share of a core, …) decide together:
a decision needs every primary signal to reach it (an intersection-union test at the full
α).  A **bound** signal is an upper bound of the primary one — the speedup the parallel phase's
CPU time allows (``cpu_speedup``), which the speedup cannot exceed whenever the work needs at
least as many CPU-seconds in parallel as one after another.  A bound signal can therefore
decide alone what an upper bound implies: *confirm "serialized"* and *refute "parallel"*.
When bound signals are present the decision is the union of the routes, and α is split evenly
between them (Bonferroni).  A confirm and a refute of the same hypothesis reached together
(only possible if the bound's assumption fails) leave it inconclusive, saying so.

The statistic of a route, per round ``i``, is ``z_i = ln x_i − f · ln K`` (``x``: the signal;
``f``: the bound's fraction).  The decision is a one-sided t test of ``mean z`` against 0.

Robustness: decision-side trimming
----------------------------------
A round disturbed by the machine in a way the noise readings did not catch is an outlier, and
the estimand is the undisturbed ratio.  Before each test, the ``g = ⌊TRIM · n⌋`` values most
favourable to the decision being tested are dropped (and winsorized for the variance; the
degrees of freedom are ``n − g − 1``): a decision must hold without its best-supporting
rounds.  On clean data this is conservative (it only removes support); with 5–15% of rounds
shifted toward a false decision it keeps the false-decision rate at α, where a plain t test
reaches 3× α (simulated: ``tests/test_stats.py``).

Tests and error rates
---------------------
Looks are taken at ``n`` in :data:`LOOKS`; α is split evenly across the looks (Bonferroni: by
the union bound the probability of any false decision over all looks, for any stopping rule,
is at most α) and across the routes of a decision.  Defaults: ``α_confirm = 1e-3``,
``α_refute = 1e-4`` — a false failure must be rarer than a false pass.

Thresholds: "at least X" and "at most X"
-----------------------------------------
A user's own bound (``assert_speedup(at_least=1.5)``, ``releases_gil(min_fraction=0.8)``) is
a test against one threshold ``X`` instead of two hypotheses: with ``threshold=X`` every
route's statistic is ``z_i = ln x_i − ln X`` and both actions use that same bound — "parallel"
(the ratio is at least ``X``) is confirmed when the lower bound is above ``X`` at
``α_confirm``, refuted when the upper bound is below ``X`` at ``α_refute``; "serialized" (at
most ``X``) the other way round.  There is no indifference zone: a true ratio at ``X`` is
confirmed with probability ≤ α_confirm and refuted with probability ≤ α_refute, and stays
undecided otherwise until the budget ends.  Any ``X > 0`` is testable.

Intervals for reporting are ``(value, low, high)`` on the ratio scale: the geometric mean of
a signal's rounds with one-sided bounds at the per-look confirm level.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps

__all__ = [
    "ALPHA_CONFIRM",
    "ALPHA_REFUTE",
    "CLAIMS",
    "IDEAL_ALPHA_SHARE",
    "LOOKS",
    "TRIM",
    "BatchResult",
    "Bounds",
    "Claim",
    "IdealEstimate",
    "Interval",
    "NotTestable",
    "Outcome",
    "Route",
    "SequentialTest",
    "bounds",
    "clopper_pearson",
    "ideal_alpha",
    "interval",
    "routes",
    "sequential_batch",
    "trimmed_bound",
]

Claim = Literal["serialized", "parallel"]
CLAIMS: tuple[Claim, ...] = ("serialized", "parallel")
Action = Literal["confirm", "refute"]
Verdict = Literal["confirmed", "refuted", "inconclusive"]

LOOKS: tuple[int, ...] = (3, 4, 5, 6, 8, 10, 12, 16, 20)
"""Round counts at which the sequential test looks.  3 is the fewest rounds with a usable
variance estimate (df = 2); 20 caps a check at a few seconds of 50 ms tasks; the spacing grows
because each extra look costs α (Bonferroni) while later looks add less information."""

ALPHA_CONFIRM = 1e-3
"""Probability, over all looks, of confirming a hypothesis whose true ratio is at the confirm
bound (or beyond it, on the wrong side)."""

ALPHA_REFUTE = 1e-4
"""Probability, over all looks, of refuting a hypothesis whose true ratio is at the refute
bound (or on its side of it).  Ten times stricter than :data:`ALPHA_CONFIRM`: a test suite that
fails falsely once in 10,000 checks is still noticeable; one that passes falsely is not worse
than the inconclusive answer it replaces."""

TRIM = 0.2
"""Share of rounds dropped from the decision's side before each test (see the module doc).
0.2 is the classic trimming proportion (Wilcox; Yuen's test); at fewer than 5 rounds it drops
none (the t quantiles at 2–3 degrees of freedom already make one outlier block a decision)."""

CONFIRM_AT = 0.5
REFUTE_AT: dict[str, float] = {"serialized": 0.75, "parallel": 0.25}
BOUND_DECISIONS = frozenset({("serialized", "confirm"), ("parallel", "refute")})
"""What an upper bound of the speedup can decide alone."""

IDEAL_ALPHA_SHARE = 0.25
"""With an interval ideal or an estimate, the share of each α reserved for the ideal's end
missing the true capacity: the routes are tested at ``(1 - share) · α``, and the end a
decision uses is computed at ``share · α`` of that decision (an estimate) or at
``share · min(α_confirm, α_refute)`` (an interval, :func:`ideal_alpha`), so a decision's
overall error stays at most α (union bound).  A quarter: the ideal's end is the wider
uncertainty at these α (a 48-window capacity estimate against 3–20 rounds), and the t
quantile of the rounds grows by only 2–4% when their α shrinks by a quarter."""


@dataclasses.dataclass(frozen=True)
class IdealEstimate:
    """An ideal measured with error: the mean ``log_mean`` of ``n`` log-ratios with sample
    standard deviation ``sd`` (e.g. the machine's delivered capacity over ``n`` windows)."""

    log_mean: float
    sd: float
    n: int

    def end(self, side: int, alpha: float) -> float:
        """The one-sided ``1 - alpha`` confidence bound: upper (``side`` +1) or lower (-1);
        unbounded with fewer than 2 values."""
        if self.n < 2 or not math.isfinite(self.sd):
            return math.inf if side > 0 else 0.0
        half = _tcrit(alpha, self.n - 1) * self.sd / math.sqrt(self.n)
        return _exp(self.log_mean + (half if side > 0 else -half))

    def interval(self, alpha: float) -> tuple[float, float]:
        return self.end(-1, alpha), self.end(+1, alpha)

FloatArray = npt.NDArray[np.float64]


class NotTestable(ValueError):
    """The ideal is 1 or less (one usable CPU, one worker, one task): "serialized" and
    "parallel" predict the same ratio."""


# --------------------------------------------------------------------------------------------
# bounds


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The ratio-scale bounds of one hypothesis at ideal (or capacity) ``ideal``."""

    ideal: float
    claim: Claim
    confirm: float
    refute: float

    def to_dict(self) -> dict[str, float]:
        return {"ideal": round(self.ideal, 4), "confirm": round(self.confirm, 4),
                "refute": round(self.refute, 4)}


def bounds(ideal: float, claim: Claim) -> Bounds:
    """The confirm bound ``√I`` and the hypothesis's refute bound (``I**0.75`` or ``I**0.25``).

    Raises :class:`NotTestable` when ``ideal <= 1``.
    """
    if claim not in REFUTE_AT:
        raise ValueError(f"claim must be one of {CLAIMS}, got {claim!r}")
    if not ideal > 1:
        raise NotTestable(
            f"ideal speedup {ideal:g} ≤ 1: serialized and parallel predict the same ratio")
    return Bounds(ideal, claim, ideal ** CONFIRM_AT, ideal ** REFUTE_AT[claim])


@dataclasses.dataclass(frozen=True)
class Route:
    """One way a decision can be reached: ``signals`` (all must agree) tested against the
    bound of ``claim``/``action``."""

    signals: tuple[str, ...]
    claim: Claim
    action: Action

    @property
    def fraction(self) -> float:
        return CONFIRM_AT if self.action == "confirm" else REFUTE_AT[self.claim]

    @property
    def side(self) -> int:
        """+1: decided when the lower bound of ``mean z`` is above 0; -1: upper below 0."""
        return 1 if (self.claim == "parallel") == (self.action == "confirm") else -1


def routes(primary: Sequence[str], bound: Sequence[str] = ()) -> dict[tuple[str, str],
                                                                      list[Route]]:
    """The routes of every decision: the primary signals together for each, plus each bound
    signal alone for what an upper bound decides (module doc)."""
    if not primary:
        raise ValueError("at least one primary signal is needed")
    out: dict[tuple[str, str], list[Route]] = {}
    actions: tuple[Action, ...] = ("confirm", "refute")
    for claim in CLAIMS:
        for action in actions:
            rs = [Route(tuple(primary), claim, action)]
            if (claim, action) in BOUND_DECISIONS:
                rs += [Route((b,), claim, action) for b in bound]
            out[claim, action] = rs
    return out


# --------------------------------------------------------------------------------------------
# one look


@dataclasses.dataclass(frozen=True)
class Interval:
    """A ratio with its confidence bounds: ``value`` is the geometric mean of the rounds'
    ratios, ``low``/``high`` one-sided bounds at confidence ``level`` each (NaN with < 2
    rounds)."""

    value: float
    low: float
    high: float
    level: float
    n: int

    def to_dict(self) -> dict[str, float]:
        def r(x: float) -> float:
            return round(x, 4) if math.isfinite(x) else x

        return {"value": r(self.value), "low": r(self.low), "high": r(self.high)}

    def format(self, unit: str = "") -> str:
        if math.isfinite(self.low) and math.isfinite(self.high):
            return f"{self.value:.2f}{unit} [{self.low:.2f}, {self.high:.2f}]"
        return f"{self.value:.2f}{unit}"

    def __str__(self) -> str:
        return self.format()


def _tcrit(alpha: float, df: int) -> float:
    return float(_sps.t.ppf(1.0 - alpha, df))


def _as_log_array(values: Sequence[float] | FloatArray) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError("expected a 1-D sequence of log-ratios")
    if not np.all(np.isfinite(arr)):
        raise ValueError("log-ratios must be finite (a ratio of 0 or inf is not a measurement)")
    return arr


def interval(log_values: Sequence[float] | FloatArray,
             alpha: float = ALPHA_CONFIRM / len(LOOKS)) -> Interval:
    """The geometric mean of the ratios with one-sided ``1 - alpha`` bounds on each side."""
    x = _as_log_array(log_values)
    n = x.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 1.0 - alpha, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(math.exp(mean), math.nan, math.nan, 1.0 - alpha, n)
    se = float(x.std(ddof=1)) / math.sqrt(n)
    tc = _tcrit(alpha, n - 1)
    return Interval(math.exp(mean), _exp(mean - tc * se), _exp(mean + tc * se),
                    1.0 - alpha, n)


def _ideal_ends(ideal: float | tuple[float, float] | IdealEstimate, alpha_confirm: float,
                alpha_refute: float) -> tuple[float, float]:
    """``(K_lo, K_hi)`` of an ideal: a constant's own value twice, an interval's ends, an
    estimate's widest interval (at the refutations' level) — what is reported and checked
    for testability."""
    if isinstance(ideal, IdealEstimate):
        return ideal.interval(IDEAL_ALPHA_SHARE * min(alpha_confirm, alpha_refute))
    if isinstance(ideal, tuple):
        return float(ideal[0]), float(ideal[1])
    return float(ideal), float(ideal)


def _exp(x: float) -> float:
    """``e**x``, ``inf`` (or 0) past the float range: a bound from very few rounds at a small
    α can be astronomically wide, which is a valid (useless) bound, not an error."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _trimmed(z: FloatArray, side: int, trim: float) -> tuple[FloatArray, FloatArray, int]:
    """Decision-side trimmed mean, its standard error and degrees of freedom, along the last
    axis of ``z`` (shape ``(..., n)``): the ``g = ⌊trim · n⌋`` values most favourable to the
    decision (the largest for ``side=+1``) are dropped from the mean and winsorized for the
    variance."""
    n = z.shape[-1]
    g = math.floor(trim * n)
    if g == 0:
        mean = z.mean(axis=-1)
        return mean, z.std(axis=-1, ddof=1) / math.sqrt(n), n - 1
    zs = np.sort(z, axis=-1)
    if side > 0:
        kept, w = zs[..., : n - g], zs.copy()
        w[..., n - g:] = zs[..., n - g - 1: n - g]
    else:
        kept, w = zs[..., g:], zs.copy()
        w[..., :g] = zs[..., g: g + 1]
    h = n - g
    se = w.std(axis=-1, ddof=1) * math.sqrt(n - 1) / math.sqrt(h * (h - 1))
    return kept.mean(axis=-1), se, h - 1


def trimmed_bound(z: Sequence[float] | FloatArray, side: int, alpha: float,
                  trim: float = TRIM) -> float:
    """The one-sided ``1 - alpha`` confidence bound of the decision-side trimmed mean of
    ``z``: the lower bound for ``side=+1``, the upper for ``side=-1`` (NaN with < 2 values)."""
    arr = np.asarray(z, dtype=np.float64)
    if arr.size < 2:
        return math.nan
    mean, se, df = _trimmed(arr, side, trim)
    return float(mean - side * _tcrit(alpha, df) * se)


def _decides(z: FloatArray, side: int, alpha: float, trim: float) -> npt.NDArray[np.bool_]:
    """Whether each row of ``z`` (shape ``(m, n)``) decides: its one-sided bound is beyond 0.
    Written as an inequality on the bound, so identical rounds decide by their mean."""
    mean, se, df = _trimmed(z, side, trim)
    tc = _tcrit(alpha, df)
    return (mean - tc * se > 0) if side > 0 else (mean + tc * se < 0)


# --------------------------------------------------------------------------------------------
# the sequential test


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The state of a :class:`SequentialTest` after a look (or when it was cut short).

    ``verdicts`` holds one verdict per hypothesis; ``decided`` is True when the stopping rule
    fired (a decision, or the last look); ``look`` is the round count of the last look taken
    (0 if none); ``routes`` names, per decision reached, the route that reached it;
    ``intervals`` are per signal (and ``capacity``) over all rounds collected so far.
    """

    verdicts: dict[str, Verdict]
    n: int
    look: int
    decided: bool
    intervals: dict[str, Interval]
    routes: dict[str, str] = dataclasses.field(default_factory=dict)
    reason: str = ""

    def verdict(self, claim: Claim) -> Verdict:
        return self.verdicts[claim]


class SequentialTest:
    """Incremental sequential test of "serialized" vs "parallel" over routes of signals.

    >>> st = SequentialTest(ideal=2, primary=("speedup",), bound=("cpu_speedup",),
    ...                     stop_on="serialized")
    >>> for _ in range(4):
    ...     st.add(speedup=1.0, cpu_speedup=1.0)
    >>> st.look().verdicts["serialized"]
    'confirmed'

    :meth:`add` takes the *ratios* of one round (one per signal, ``report`` ones included);
    they are stored as logs.
    ``ideal`` is a constant or an interval ``(K_lo, K_hi)`` (module doc).
    :meth:`look` returns ``None`` to continue, or an :class:`Outcome` when the stopping rule
    fires: at a scheduled look where ``stop_on`` is decided (``None``: any hypothesis), or at
    the last look.  Between scheduled looks nothing is decided (an unscheduled look would spend
    α the split did not budget); :meth:`outcome` reports the last look's verdicts with
    intervals over all data, e.g. when a time budget ran out.  Every look taken is kept in
    :attr:`history`.
    """

    def __init__(
        self,
        ideal: float | tuple[float, float] | IdealEstimate,
        *,
        primary: Sequence[str] = ("speedup",),
        bound: Sequence[str] = (),
        report: Sequence[str] = (),
        claims: Sequence[Claim] = CLAIMS,
        stop_on: Claim | None = None,
        alpha_confirm: float = ALPHA_CONFIRM,
        alpha_refute: float = ALPHA_REFUTE,
        looks: Sequence[int] = LOOKS,
        trim: float = TRIM,
        threshold: float | None = None,
    ) -> None:
        if threshold is not None and not (threshold > 0 and math.isfinite(threshold)):
            raise ValueError(f"threshold must be positive and finite, got {threshold!r}")
        if stop_on is not None and stop_on not in claims:
            raise ValueError(f"stop_on={stop_on!r} is not among claims {tuple(claims)}")
        if not (0 < alpha_confirm < 1 and 0 < alpha_refute < 1):
            raise ValueError("alphas must lie in (0, 1)")
        if not looks or sorted(set(looks)) != list(looks) or looks[0] < 2:
            raise ValueError("looks must be increasing round counts, the first ≥ 2")
        if not 0 <= trim < 0.5:
            raise ValueError(f"trim must lie in [0, 0.5), got {trim!r}")
        self.estimate = ideal if isinstance(ideal, IdealEstimate) else None
        lo, hi = _ideal_ends(ideal, alpha_confirm, alpha_refute)
        if not lo <= hi:
            raise ValueError(f"ideal interval must have low ≤ high, got {ideal!r}")
        if threshold is None:
            for c in claims:
                bounds(lo, c)  # raises NotTestable
        self.threshold = threshold
        self.ideal_lo, self.ideal_hi = lo, hi
        self.interval_ideal = isinstance(ideal, (tuple, IdealEstimate))
        self.routes = routes(primary, bound)
        self.primary, self.bound = tuple(primary), tuple(bound)
        self.signals = (*self.primary, *self.bound, *report)
        """Every signal of a round: the primary and bound ones decide; ``report`` ones are
        only kept, with their intervals, for the record."""
        self.claims = tuple(claims)
        self.stop_on = stop_on
        self.alpha_confirm, self.alpha_refute = alpha_confirm, alpha_refute
        self.looks = tuple(looks)
        self.trim = trim
        self._values: dict[str, list[float]] = {s: [] for s in self.signals}
        self._last: Outcome | None = None
        self.history: list[Outcome] = []

    # -- α --------------------------------------------------------------------------------------

    @property
    def alpha_confirm_per_look(self) -> float:
        return self.alpha_confirm / len(self.looks)

    @property
    def alpha_refute_per_look(self) -> float:
        return self.alpha_refute / len(self.looks)

    @property
    def ideal(self) -> float:
        """The ideal (the geometric middle of an interval ideal), for reporting."""
        return math.sqrt(self.ideal_lo * self.ideal_hi)

    def alpha_route(self, claim: str, action: str) -> float:
        """The α of one route of a decision at one look (split over looks and routes; with
        an interval ideal, less the interval's share)."""
        base = self.alpha_confirm if action == "confirm" else self.alpha_refute
        share = 1.0 - IDEAL_ALPHA_SHARE if self.interval_ideal else 1.0
        return share * base / len(self.looks) / len(self.routes[claim, action])

    # -- data -----------------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return len(self._values[self.signals[0]])

    @property
    def max_rounds(self) -> int:
        return self.looks[-1]

    def log_values(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self._values.items()}

    def add(self, **ratios: float) -> None:
        """Add one round's ratios (every signal, and ``capacity`` for a capacity test;
        positive and finite)."""
        if set(ratios) != set(self._values):
            raise ValueError(f"expected ratios for {self.signals}, got {tuple(ratios)}")
        logs = {}
        for k, v in ratios.items():
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{k} ratio must be positive and finite, got {v!r}")
            logs[k] = math.log(v)
        for k, lv in logs.items():
            self._values[k].append(lv)

    def log_ideal(self, route: Route) -> float:
        """``ln K`` for ``route``: the end of an interval ideal that makes its decision
        harder (``K_hi`` for side +1, ``K_lo`` for side -1) — of an estimate, at the level
        its decision's α pays."""
        if self.estimate is not None:
            base = self.alpha_confirm if route.action == "confirm" else self.alpha_refute
            return math.log(self.estimate.end(route.side, IDEAL_ALPHA_SHARE * base))
        return math.log(self.ideal_hi if route.side > 0 else self.ideal_lo)

    def log_bound(self, route: Route) -> float:
        """The log of the bound ``route`` tests against: ``f · ln K`` (``K``'s end as in
        :meth:`log_ideal`), or ``ln X`` with a threshold."""
        if self.threshold is not None:
            return math.log(self.threshold)
        return route.fraction * self.log_ideal(route)

    def bounds(self) -> dict[str, Bounds]:
        """The bounds each hypothesis is decided against: at a constant ideal, ``√K`` and
        ``K**0.75`` / ``K**0.25``; at an interval ideal, each at the end its decision uses
        (``ideal`` is then the interval's middle); with a threshold, the threshold."""
        out: dict[str, Bounds] = {}
        for c in self.claims:
            conf, ref = self.routes[c, "confirm"][0], self.routes[c, "refute"][0]
            out[c] = Bounds(self.ideal, c, math.exp(self.log_bound(conf)),
                            math.exp(self.log_bound(ref)))
        return out

    def intervals(self) -> dict[str, Interval]:
        return {s: interval(v, self.alpha_confirm_per_look) for s, v in self._values.items()}

    # -- deciding -------------------------------------------------------------------------------

    def _route_decides(self, route: Route) -> bool:
        offset = self.log_bound(route)
        alpha = self.alpha_route(route.claim, route.action)
        for s in route.signals:
            z = np.asarray(self._values[s], dtype=np.float64) - offset
            if not bool(_decides(z[np.newaxis, :], route.side, alpha, self.trim)[0]):
                return False
        return True

    def _decision(self, claim: Claim, action: str) -> str:
        """The first route that reaches ``action`` on ``claim``, or ``""``."""
        for route in self.routes[claim, action]:
            if self._route_decides(route):
                return "+".join(route.signals)
        return ""

    def _evaluate(self) -> tuple[dict[str, Verdict], dict[str, str], str]:
        verdicts: dict[str, Verdict] = {}
        used: dict[str, str] = {}
        notes = []
        for c in self.claims:
            conf, ref = self._decision(c, "confirm"), self._decision(c, "refute")
            if conf and ref:
                verdicts[c] = "inconclusive"
                notes.append(f"'{c}' was confirmed by {conf} and refuted by {ref}: the signals "
                             "disagree (the CPU-time bound's assumption does not hold here)")
            elif conf:
                verdicts[c], used[c] = "confirmed", conf
            elif ref:
                verdicts[c], used[c] = "refuted", ref
            else:
                verdicts[c] = "inconclusive"
        return verdicts, used, "; ".join(notes)

    def look(self) -> Outcome | None:
        """Take the scheduled look at the current round count, if there is one."""
        n = self.n
        if n not in self.looks:
            return None
        verdicts, used, note = self._evaluate()
        watched = [self.stop_on] if self.stop_on is not None else list(self.claims)
        hit = any(verdicts[c] != "inconclusive" for c in watched)
        last = n >= self.looks[-1]
        reason = note or ("" if hit or not last else f"no decision after the last look ({n} "
                                                      "rounds)")
        out = Outcome(verdicts, n, n, hit or last, self.intervals(), used, reason)
        self._last = out
        self.history.append(out)
        return out if out.decided else None

    def outcome(self, reason: str = "") -> Outcome:
        """The verdicts of the last scheduled look (inconclusive if none was taken or it did
        not decide), with intervals over all rounds collected; for stopping early."""
        if self._last is not None and self._last.decided:
            return self._last
        verdicts: dict[str, Verdict] = {c: "inconclusive" for c in self.claims}
        look = self._last.look if self._last is not None else 0
        return Outcome(verdicts, self.n, look, True, self.intervals(), {}, reason)


# --------------------------------------------------------------------------------------------
# vectorised form of the same rule (simulation, calibration of error rates)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """``verdict`` per simulated check: +1 confirmed, -1 refuted, 0 inconclusive;
    ``rounds``: the round count at which it stopped."""

    verdict: npt.NDArray[np.int8]
    rounds: npt.NDArray[np.int64]

    @property
    def confirmed(self) -> int:
        return int(np.count_nonzero(self.verdict == 1))

    @property
    def refuted(self) -> int:
        return int(np.count_nonzero(self.verdict == -1))

    @property
    def inconclusive(self) -> int:
        return int(np.count_nonzero(self.verdict == 0))


def _batch_decides(values: Mapping[str, FloatArray], offset: float, route: Route, n: int,
                   alpha: float, trim: float) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] | None = None
    for s in route.signals:
        d = _decides(values[s][:, :n] - offset, route.side, alpha, trim)
        out = d if out is None else out & d
    assert out is not None
    return out


def sequential_batch(
    log_values: Mapping[str, FloatArray],
    claim: Claim,
    ideal: float | tuple[float, float] | IdealEstimate,
    *,
    primary: Sequence[str] | None = None,
    bound: Sequence[str] = (),
    alpha_confirm: float = ALPHA_CONFIRM,
    alpha_refute: float = ALPHA_REFUTE,
    looks: Sequence[int] = LOOKS,
    trim: float = TRIM,
    threshold: float | None = None,
) -> BatchResult:
    """Run :class:`SequentialTest` (``stop_on=claim``) on many checks at once.

    ``log_values[signal]`` has shape ``(checks, rounds)`` with ``rounds >= looks[-1]``;
    ``ideal`` as for :class:`SequentialTest`; ``primary`` defaults to every signal not in
    ``bound``.  The same decisions as the incremental object (tested), far faster."""
    vals = {s: np.asarray(v, dtype=np.float64) for s, v in log_values.items()}
    if not vals:
        raise ValueError("at least one signal is needed")
    m = next(iter(vals.values())).shape[0]
    if any(a.shape[0] != m or a.shape[1] < looks[-1] for a in vals.values()):
        raise ValueError(f"every signal needs shape (checks, ≥{looks[-1]})")
    prim = tuple(primary) if primary is not None else tuple(s for s in vals if s not in bound)
    table = routes(prim, bound)
    estimate = ideal if isinstance(ideal, IdealEstimate) else None
    lo, hi = _ideal_ends(ideal, alpha_confirm, alpha_refute)
    if threshold is None:
        bounds(float(lo), claim)
    share = 1.0 - IDEAL_ALPHA_SHARE if isinstance(ideal, (tuple, IdealEstimate)) else 1.0
    verdict = np.zeros(m, dtype=np.int8)
    rounds = np.full(m, looks[-1], dtype=np.int64)
    open_ = np.ones(m, dtype=bool)
    for n in looks:
        reach: dict[str, npt.NDArray[np.bool_]] = {}
        for action in ("confirm", "refute"):
            rs = table[claim, action]
            base = alpha_confirm if action == "confirm" else alpha_refute
            alpha = share * base / len(looks) / len(rs)
            hit = np.zeros(m, dtype=bool)
            for r in rs:
                if estimate is not None:
                    k = math.log(estimate.end(r.side, IDEAL_ALPHA_SHARE * base))
                else:
                    k = math.log(float(hi) if r.side > 0 else float(lo))
                offset = math.log(threshold) if threshold is not None else r.fraction * k
                hit |= _batch_decides(vals, offset, r, n, alpha, trim)
            reach[action] = hit
        newly_c = open_ & reach["confirm"] & ~reach["refute"]
        newly_r = open_ & reach["refute"] & ~reach["confirm"]
        verdict[newly_c] = 1
        verdict[newly_r] = -1
        stopped = newly_c | newly_r
        rounds[stopped] = n
        open_ &= ~stopped
        if not open_.any():
            break
    return BatchResult(verdict, rounds)


# --------------------------------------------------------------------------------------------
# helpers


def ideal_alpha(alpha_confirm: float = ALPHA_CONFIRM,
                alpha_refute: float = ALPHA_REFUTE) -> float:
    """The level an interval ideal is to be computed at: its share of the smaller α."""
    return IDEAL_ALPHA_SHARE * min(alpha_confirm, alpha_refute)


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval for ``k`` successes in ``n`` trials
    (the tests bound simulated error rates with it)."""
    if not 0 <= k <= n or n <= 0:
        raise ValueError(f"need 0 ≤ k ≤ n and n > 0, got k={k}, n={n}")
    a = 1.0 - confidence
    low = 0.0 if k == 0 else float(_sps.beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(_sps.beta.ppf(1 - a / 2, k + 1, n - k))
    return low, high

