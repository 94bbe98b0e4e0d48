"""Scaling curves: the speedup at 1, 2, 4, 8 … workers, and the laws that summarise it.

:func:`measure_curve` measures one point per worker count with the machinery of
:func:`~pytest_gil.measure_scaling` (each point is a scaling check of its own, decided by the
same sequential test, but not recorded on its own), and fits two models to the points that
ran on at most the usable CPUs:

* **Amdahl's law** ``S(n) = 1 / (s + (1 − s)/n)``: the serial fraction ``s`` with a
  confidence interval (:func:`fit_amdahl`);
* **the Universal Scalability Law** ``S(n) = n / (1 + σ(n − 1) + κ n(n − 1))``: contention
  ``σ`` and coherency ``κ``, and the worker count where the speedup peaks,
  ``sqrt((1 − σ)/κ)`` when ``κ > 0`` (:func:`fit_usl`).

Points beyond the usable CPUs are measured (oversubscription is worth seeing) but left out of
the fits: there the speedup is capped by the machine, not by the code.

The Amdahl fit (derivation)
---------------------------
A point ``i`` at ``n_i`` workers has ``m_i`` clean rounds, each with a log-speedup; their mean
``y_i`` estimates ``ln S(n_i)`` with variance ``v_i = sd_i² / m_i`` on ``m_i − 1`` degrees of
freedom (the rounds' scatter: the same numbers the point's own interval comes from).  A
point's ``sd_i²`` is raised to the pooled within-point variance of all points when below it:
from 2–4 degrees of freedom a variance is often underestimated several-fold, and weights
built on such an estimate made the interval too narrow (simulated: 86–92% coverage for a
nominal 95% with 3–5 rounds per point); the floor keeps a noisier point's own, larger
variance, so unequal noise across worker counts stays covered too.  The
model is ``μ_i(s) = −ln(1/n_i + s·a_i)`` with ``a_i = 1 − 1/n_i`` — decreasing and convex in
``s``; note that ``1/S`` is *linear* in ``s``.  The estimate minimises the weighted sum of
squares on the log scale

    Q(s) = Σ (y_i − μ_i(s))² / v_i

over every ``s`` the model allows (``s > −1/(n_max − 1)``: superlinear speedups give
``s < 0``, speedups below 1 give ``s > 1``).  The interval is the profile (likelihood-ratio)
interval ``{s : Q(s) − Q(ŝ) ≤ c}``, with

    c = φ · t²(1 − α/2; ν),   φ = max(1, Q(ŝ)/(k − 1)) for k > 1 points (else 1),

where ``ν`` is the Welch–Satterthwaite degrees of freedom of the linearised estimate
``ŝ ≈ Σ c_i y_i`` (``c_i ∝ g_i / v_i``, ``g_i = ∂μ_i/∂s``):
``ν = (Σ g_i²/v_i)² / Σ (g_i²/v_i)² / (m_i − 1)`` — one point's ``m_i − 1`` when it carries
all the information, more when several share it.  ``φ`` widens the interval when the points
scatter around the curve more than their own rounds say (the law does not describe them
exactly, or the machine changed between points).  With one point the interval is exactly the
point's t interval mapped through the (monotone) law.  The estimate and the interval are then
clipped to ``[0, 1]``, the fractions the law means (intersecting a confidence interval with
the parameter space keeps its coverage); the note says when the data lie outside.  Simulated
coverage of the 95% interval (``tests/test_curve.py``): 94–100% for one to four points of
3–20 rounds each, with equal or unequal noise across the points (conservative when several
points have few rounds).

The USL fit
-----------
``n/S(n) − 1 = σ(n − 1) + κ n(n − 1)`` is linear in ``(σ, κ)`` (Gunther's transformation);
it is fitted by weighted least squares with the delta-method variances
``(n_i/S_i)² v_i``, under ``σ, κ ≥ 0`` (a negative coefficient has no meaning in the law;
when the unconstrained fit has one, the best fit with it at zero is kept, and the note says
so).  Two coefficients need at least :data:`USL_MIN_POINTS` points with ``n > 1`` to leave a
residual; with fewer the fit is ``None`` and :attr:`CurveResult.fit_notes` says why.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import settings
from ..runtimes.faults import check_count
from ..vocabulary import EXECUTOR_KINDS, worker_noun
from .check import Check, Figure, not_testable, record_check
from .scaling import POOL_TASKS_PER_WORKER, ScalingResult, fn_name, scaling_check

if TYPE_CHECKING:
    from ..profile import RuntimeProfile

__all__ = [
    "FIT_CONFIDENCE",
    "MIN_LOG_SD",
    "USL_MIN_POINTS",
    "AmdahlFit",
    "CurvePoint",
    "CurveResult",
    "Sample",
    "UslFit",
    "fit_amdahl",
    "fit_usl",
    "measure_curve",
]

FIT_CONFIDENCE = 0.95
"""Two-sided confidence of the serial fraction's interval.  The fits describe; they decide
nothing (the verdicts come from the points' sequential tests at the run's α), so the
conventional level of a reported interval is used."""

MIN_LOG_SD = 1e-3
"""Floor of a point's per-round log-speedup standard deviation (0.1%).  Phases last tens of
milliseconds and ``time.perf_counter`` resolves well under a microsecond, so real rounds
never agree that closely; the floor only stops a point whose few rounds happen to coincide
from taking all the weight of a fit."""

USL_MIN_POINTS = 3
"""Points with ``n > 1`` (within the usable CPUs, each with an interval) the USL needs: two
coefficients and at least one residual degree of freedom to tell the law from the points."""

GRID_NEAR = 160
GRID_FAR = 40
"""Grid points searched for the global minimum of ``Q(s)`` before a local refinement:
:data:`GRID_NEAR` over the fractions up to :data:`S_SEARCH_NEAR`, :data:`GRID_FAR` beyond.
``Q`` is a sum of unimodal terms and nearly always unimodal (then its minimum lies between
the neighbours of the best grid point whatever the spacing); the grid keeps a second, lower
basin (points that disagree) from being missed."""

S_SEARCH_NEAR = 2.0
"""Serial fractions past 1 describe slowdowns (2 workers at 2/3 of one at ``s = 2``); the
grid is dense up to here and sparse beyond."""

S_SEARCH_MAX = 20.0
"""Upper end of the search: ``s = 20`` means 2 workers at 0.095× of one — any slower data
clip to ``s = 1`` anyway."""

REFINE_STEPS = 80
"""Golden-section and bisection steps: each shrinks the bracket by 0.618 or 0.5, so 80 reach
far below any reported digit."""

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


# --------------------------------------------------------------------------------------------
# the fits (pure functions of numbers)


@dataclasses.dataclass(frozen=True)
class Sample:
    """One point for the fits: ``workers``, the mean log-speedup of its rounds, the variance
    of that mean, and its degrees of freedom (rounds − 1)."""

    workers: int
    mean_log: float
    var_log: float
    df: int

    @classmethod
    def from_log_speedups(cls, workers: int, logs: Sequence[float]) -> Sample:
        """From a point's per-round log-speedups (at least 2)."""
        m = len(logs)
        if m < 2:
            raise ValueError(f"a point needs at least 2 rounds for a variance, got {m}")
        mean = math.fsum(logs) / m
        var = math.fsum((x - mean) ** 2 for x in logs) / (m - 1)
        return cls(workers, mean, max(var, MIN_LOG_SD ** 2) / m, m - 1)


@dataclasses.dataclass(frozen=True)
class AmdahlFit:
    """The serial fraction ``s`` of Amdahl's law with its interval (``confidence``,
    two-sided), clipped to ``[0, 1]``; ``points_used`` are the worker counts fitted."""

    serial_fraction: float
    low: float
    high: float
    points_used: tuple[int, ...]
    note: str = ""
    confidence: float = FIT_CONFIDENCE

    def speedup(self, n: float) -> float:
        """The speedup the fitted law predicts at ``n`` workers."""
        return 1.0 / (self.serial_fraction + (1.0 - self.serial_fraction) / n)

    def format(self) -> str:
        return (f"serial fraction {self.serial_fraction:.3f} [{self.low:.3f}, "
                f"{self.high:.3f}] ({self.confidence:.0%}, n = "
                f"{', '.join(map(str, self.points_used))})")

    def to_dict(self) -> dict[str, Any]:
        return {"serial_fraction": round(self.serial_fraction, 6), "low": round(self.low, 6),
                "high": round(self.high, 6), "points_used": list(self.points_used),
                "note": self.note, "confidence": self.confidence}


@dataclasses.dataclass(frozen=True)
class UslFit:
    """Contention ``sigma`` and coherency ``kappa`` of the Universal Scalability Law, and the
    worker count where the speedup peaks (``None`` when ``kappa`` is 0: no peak)."""

    sigma: float
    kappa: float
    peak_workers: float | None
    points_used: tuple[int, ...]
    note: str = ""

    def speedup(self, n: float) -> float:
        """The speedup the fitted law predicts at ``n`` workers."""
        return n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))

    def format(self) -> str:
        peak = "no peak" if self.peak_workers is None else f"peak at {self.peak_workers:.1f}"
        return (f"σ {self.sigma:.3f}, κ {self.kappa:.4f}, {peak} workers (n = "
                f"{', '.join(map(str, self.points_used))})")

    def to_dict(self) -> dict[str, Any]:
        return {"sigma": round(self.sigma, 6), "kappa": round(self.kappa, 6),
                "peak_workers": None if self.peak_workers is None
                else round(self.peak_workers, 3),
                "points_used": list(self.points_used), "note": self.note}


def _amdahl_log(n: int, s: float) -> float:
    """``ln S(n)`` under Amdahl's law with serial fraction ``s``."""
    return -math.log(1.0 / n + s * (1.0 - 1.0 / n))


def _golden_min(f: Callable[[float], float], lo: float, hi: float) -> float:
    a, b = lo, hi
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(REFINE_STEPS):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
    return (a + b) / 2.0


def _crossing(f: Callable[[float], float], inside: float, outside: float) -> float:
    """Where ``f`` turns positive between ``inside`` (``f ≤ 0``) and ``outside`` (``> 0``)."""
    a, b = inside, outside
    for _ in range(REFINE_STEPS):
        mid = (a + b) / 2.0
        if f(mid) <= 0:
            a = mid
        else:
            b = mid
    return (a + b) / 2.0


def _amdahl_minimum(q: Callable[[float], float], lo: float) -> float:
    """The global minimum of ``q`` over ``(lo, S_SEARCH_MAX]``: a grid, then golden-section
    refinement between the best grid point's neighbours."""
    near = (S_SEARCH_NEAR - lo) / GRID_NEAR
    far = (S_SEARCH_MAX - S_SEARCH_NEAR) / GRID_FAR
    grid = [lo + near * (j + 0.5) for j in range(GRID_NEAR)]
    grid += [S_SEARCH_NEAR + far * (j + 0.5) for j in range(GRID_FAR)]
    best = min(range(len(grid)), key=lambda j: q(grid[j]))
    left = grid[best - 1] if best > 0 else lo + near * 1e-6
    right = grid[best + 1] if best + 1 < len(grid) else S_SEARCH_MAX
    return _golden_min(q, left, right)


def _satterthwaite_df(samples: Sequence[Sample], s: float) -> float:
    info = []
    for p in samples:
        a = 1.0 - 1.0 / p.workers
        g = -a / (1.0 / p.workers + s * a)
        info.append(g * g / p.var_log)
    total = math.fsum(info)
    denom = math.fsum(x * x / p.df for x, p in zip(info, samples, strict=True))
    return total * total / denom if denom > 0 else float(min(p.df for p in samples))


def _floored(samples: Sequence[Sample]) -> list[Sample]:
    """The samples with each per-round variance raised to at least the pooled one (module
    doc: weights from a few rounds' own variance make the interval too narrow)."""
    df = sum(p.df for p in samples)
    if not samples or df == 0:
        return list(samples)
    pooled = math.fsum(p.df * p.var_log * (p.df + 1) for p in samples) / df
    return [dataclasses.replace(p, var_log=max(p.var_log, pooled / (p.df + 1)))
            for p in samples]


def fit_amdahl(samples: Sequence[Sample], confidence: float = FIT_CONFIDENCE) -> AmdahlFit:
    """Fit Amdahl's law to ``samples`` (points with ``workers > 1``; see the module doc for
    the estimate and its interval).  ``ValueError`` without such a point."""
    from scipy import stats as sps

    pts = _floored([p for p in samples if p.workers > 1])
    if not pts:
        raise ValueError("Amdahl's law needs a point with more than one worker")

    def q(s: float) -> float:
        return math.fsum((p.mean_log - _amdahl_log(p.workers, s)) ** 2 / p.var_log
                         for p in pts)

    n_max = max(p.workers for p in pts)
    lo = -1.0 / (n_max - 1)  # S(n_max) → ∞ there
    s_hat = _amdahl_minimum(q, lo)
    q_min = q(s_hat)
    k = len(pts)
    phi = max(1.0, q_min / (k - 1)) if k > 1 else 1.0
    nu = _satterthwaite_df(pts, s_hat)
    c = phi * float(sps.t.ppf(1.0 - (1.0 - confidence) / 2.0, nu)) ** 2

    def excess(s: float) -> float:
        return q(s) - q_min - c

    clipped = min(max(s_hat, 0.0), 1.0)
    used = tuple(sorted(p.workers for p in pts))
    notes = []
    if excess(clipped) > 0:  # no fraction in [0, 1] is compatible with the points
        low = high = clipped
        notes.append("the speedups are above n (superlinear: caches, or a slower serial "
                     "phase)" if s_hat < 0 else "the speedups are below 1 (the workers cost "
                     "more than they save)")
        notes.append("Amdahl's law does not describe them; s is shown at its limit")
    else:
        low = 0.0 if excess(0.0) <= 0 else _crossing(excess, clipped, 0.0)
        high = 1.0 if excess(1.0) <= 0 else _crossing(excess, clipped, 1.0)
        if s_hat > 1:
            notes.append(f"unclipped estimate {s_hat:.3f}: speedups below 1 at some points")
        elif s_hat < 0:
            notes.append(f"unclipped estimate {s_hat:.3f}: superlinear speedups")
    if phi > 1:
        notes.append(f"the points scatter {math.sqrt(phi):.1f}× more than their rounds "
                     "say: the interval is widened by that factor")
    return AmdahlFit(clipped, low, high, used, "; ".join(notes), confidence)


def _wls2(rows: Sequence[tuple[float, float, float, float]], use: tuple[bool, bool]
          ) -> tuple[float, float, float]:
    """Weighted least squares of ``y = b1·x1 + b2·x2`` (rows ``(x1, x2, y, w)``) on the
    coefficients ``use`` selects (the others are 0); returns ``(b1, b2, rss)``."""
    s11 = math.fsum(w * x1 * x1 for x1, _, _, w in rows)
    s22 = math.fsum(w * x2 * x2 for _, x2, _, w in rows)
    s12 = math.fsum(w * x1 * x2 for x1, x2, _, w in rows)
    s1y = math.fsum(w * x1 * y for x1, _, y, w in rows)
    s2y = math.fsum(w * x2 * y for _, x2, y, w in rows)
    b1 = b2 = 0.0
    if use == (True, True):
        det = s11 * s22 - s12 * s12
        if det <= 0:
            return math.nan, math.nan, math.inf
        b1, b2 = (s22 * s1y - s12 * s2y) / det, (s11 * s2y - s12 * s1y) / det
    elif use[0]:
        b1 = s1y / s11
    elif use[1]:
        b2 = s2y / s22
    rss = math.fsum(w * (y - b1 * x1 - b2 * x2) ** 2 for x1, x2, y, w in rows)
    return b1, b2, rss


def fit_usl(samples: Sequence[Sample]) -> UslFit:
    """Fit the Universal Scalability Law to ``samples`` (see the module doc).  ``ValueError``
    with fewer than :data:`USL_MIN_POINTS` points with ``workers > 1``."""
    pts = _floored([p for p in samples if p.workers > 1])
    if len(pts) < USL_MIN_POINTS:
        raise ValueError(f"the USL needs {USL_MIN_POINTS} points with more than one worker, "
                         f"got {len(pts)}")
    rows = []
    for p in pts:
        n, speedup = float(p.workers), math.exp(p.mean_log)
        var_y = (n / speedup) ** 2 * p.var_log  # delta method: y = n·e^(−ln S) − 1
        rows.append((n - 1.0, n * (n - 1.0), n / speedup - 1.0, 1.0 / var_y))
    candidates = []
    for use in ((True, True), (True, False), (False, True), (False, False)):
        b1, b2, rss = _wls2(rows, use)
        if b1 >= 0 and b2 >= 0:
            candidates.append((rss, b1, b2, use))
    _, sigma, kappa, use = min(candidates, key=lambda c: c[0])
    notes = []
    if use != (True, True):
        fixed = [name for name, on in zip(("σ", "κ"), use, strict=True) if not on]
        notes.append(f"{' and '.join(fixed)} held at 0 (the unconstrained fit made "
                     f"{'them' if len(fixed) > 1 else 'it'} negative)")
    peak = None
    if kappa > 0 and sigma < 1:
        peak = math.sqrt((1.0 - sigma) / kappa)
    elif kappa <= 0:
        notes.append("κ = 0: the speedup does not turn down within the law (no peak)")
    else:
        notes.append("σ ≥ 1: no worker count beats one worker")
    return UslFit(sigma, kappa, peak, tuple(sorted(p.workers for p in pts)), "; ".join(notes))


# --------------------------------------------------------------------------------------------
# points


@dataclasses.dataclass(frozen=True)
class CurvePoint:
    """One worker count of a curve: its scaling check, whether it ran on more workers than
    usable CPUs, and its speedup and efficiency (speedup / workers) with their intervals
    (``None`` when nothing was measured).  The one-worker point is the reference: speedup 1
    by definition, not measured."""

    workers: int
    check: Check | None
    beyond_cpus: bool

    @property
    def speedup(self) -> Figure | None:
        if self.check is None:
            return Figure("speedup", 1.0, 1.0, 1.0, "x", 0)
        return self.check.figures.get("speedup")

    @property
    def efficiency(self) -> Figure | None:
        s = self.speedup
        if s is None:
            return None
        n = self.workers
        return Figure("efficiency", s.value / n, s.low / n, s.high / n, "", s.n)

    @property
    def verdicts(self) -> Mapping[str, str]:
        return {} if self.check is None else self.check.verdicts

    @property
    def rounds(self) -> int:
        return 0 if self.check is None else self.check.rounds

    @property
    def stop(self) -> str:
        return "reference" if self.check is None else self.check.stop

    def log_speedups(self) -> list[float]:
        """The log-speedups of the rounds the point's test used."""
        if self.check is None:
            return []
        used = [r for r in self.check.raw if not r.get("warmup") and not r.get("excluded")]
        values = [(r.get("values") or {}).get("speedup") for r in used]
        return [math.log(v) for v in values if isinstance(v, (int, float)) and v > 0]

    def to_dict(self) -> dict[str, Any]:
        s, e = self.speedup, self.efficiency
        c = self.check
        return {"workers": self.workers, "speedup": None if s is None else s.to_dict(),
                "efficiency": None if e is None else e.to_dict(),
                "beyond_cpus": self.beyond_cpus, "rounds": self.rounds,
                "verdicts": {k: str(v) for k, v in self.verdicts.items()}, "stop": self.stop,
                "ideal": None if c is None else c.ideal,
                "reason": "one worker: the reference (speedup 1 by definition)" if c is None
                else c.reason,
                "elapsed": 0.0 if c is None else round(c.elapsed, 4),
                "check_id": None if c is None else c.uid}


def _fit_samples(points: Sequence[CurvePoint]) -> tuple[list[Sample], list[str]]:
    """The samples the fits may use, and why each other point with ``n > 1`` was left out."""
    samples, left_out = [], []
    for p in points:
        if p.workers == 1:
            continue
        if p.beyond_cpus:
            left_out.append(f"n = {p.workers}: beyond the usable CPUs")
            continue
        if p.stop in ("gil-changed", "not-testable"):
            left_out.append(f"n = {p.workers}: " + ("not testable" if p.stop == "not-testable"
                                                    else "the GIL state changed during it"))
            continue
        logs = p.log_speedups()
        if len(logs) < 2:
            left_out.append(f"n = {p.workers}: {len(logs)} clean round"
                            f"{'s' if len(logs) != 1 else ''} (no interval)")
            continue
        samples.append(Sample.from_log_speedups(p.workers, logs))
    return samples, left_out


def _capacity_note(points: Sequence[CurvePoint]) -> str:
    """What the machine's own shortfall accounts for: the serial fraction a speedup equal to
    the delivered capacity ``K`` of ``n`` workers would give, ``(n/K − 1)/(n − 1)``."""
    for p in sorted(points, key=lambda x: -x.workers):
        cap = (p.check.setup.get("capacity") if p.check is not None else None) or {}
        k, n = cap.get("value"), cap.get("workers")
        if isinstance(k, (int, float)) and isinstance(n, int) and n > 1 and k > 0:
            s_machine = max(0.0, (n / k - 1.0) / (n - 1.0))
            return (f"the machine delivers {k:.2f}× for {n} workers: a serial fraction of "
                    f"about {s_machine:.2f} is the machine's, not the code's")
    return ""


def _cell(fig: Figure | None) -> str:
    """A figure for the curve's table: with its interval, or saying it has none."""
    if fig is None or not math.isfinite(fig.value):
        return "n/a"
    if fig.has_interval:
        return fig.format()
    unit = "×" if fig.unit == "x" else ""
    return f"{fig.value:.2f}{unit} (no interval)"


# --------------------------------------------------------------------------------------------
# the result


@dataclasses.dataclass(frozen=True)
class CurveResult(Check):
    """What :func:`measure_curve` found (a :class:`Check` of kind ``"curve"``).

    The verdicts, figures, bounds, rounds and evidence are those of the *headline point*: the
    largest worker count within the usable CPUs (``setup["headline_workers"]``); ``elapsed``
    is the whole curve's.  ``points`` holds every worker count (:class:`CurvePoint`),
    ``amdahl`` and ``usl`` the fits (``None`` when not fitted: ``fit_notes`` says why).
    """

    points: tuple[CurvePoint, ...] = ()
    amdahl: AmdahlFit | None = None
    usl: UslFit | None = None
    usable_cpus: int = 0
    fit_notes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def point(self, workers: int) -> CurvePoint:
        """The point at ``workers`` (``KeyError`` if not measured)."""
        for p in self.points:
            if p.workers == workers:
                return p
        raise KeyError(f"no point at {workers} workers; measured: "
                       f"{', '.join(str(p.workers) for p in self.points)}")

    def detail(self, hypothesis: str | None = None) -> str:
        text = super().detail(hypothesis)
        if self.amdahl is not None:
            text += f"; Amdahl {self.amdahl.format()}"
        return text

    def table(self) -> list[str]:
        """The curve as text lines: one per point, then the fits."""
        lines = [f"  {'workers':>7}  {'speedup':<24} {'efficiency':<22} {'rounds':>6}  "
                 "verdicts"]
        for p in self.points:
            s, e = p.speedup, p.efficiency
            speedup = "1.00× (reference)" if p.check is None else _cell(s)
            efficiency = "1.00" if p.check is None else _cell(e)
            verdicts = ", ".join(f"{h} {v}" for h, v in p.verdicts.items()
                                 if h in ("serialized", "parallel")) or p.stop
            beyond = "  (beyond the usable CPUs)" if p.beyond_cpus else ""
            lines.append(f"  {p.workers:>7}  {speedup:<24} {efficiency:<22} {p.rounds:>6}  "
                         f"{verdicts}{beyond}")
        for name, fit in (("Amdahl", self.amdahl), ("USL", self.usl)):
            if fit is not None:
                lines.append(f"  {name}: {fit.format()}" + (f" — {fit.note}" if fit.note
                                                            else ""))
            else:
                lines.append(f"  {name}: not fitted — {self.fit_notes.get(name.lower(), '')}")
        return lines

    def __str__(self) -> str:
        return "\n".join([super().__str__(), *self.table()])

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(points=[p.to_dict() for p in self.points],
                 amdahl=None if self.amdahl is None else self.amdahl.to_dict(),
                 usl=None if self.usl is None else self.usl.to_dict(),
                 usable_cpus=self.usable_cpus, fit_notes=dict(self.fit_notes))
        return d


# --------------------------------------------------------------------------------------------
# measuring


def _worker_counts(workers: Sequence[int], executor: str) -> list[int]:
    if isinstance(workers, (str, bytes)) or not isinstance(workers, Sequence) or not workers:
        raise ValueError(f"workers must be a non-empty sequence of worker counts, got "
                         f"{workers!r}")
    counts = [check_count("workers", n, executor) for n in workers]
    if len(set(counts)) != len(counts):
        raise ValueError(f"workers must not repeat a count, got {list(workers)!r}")
    return sorted(counts)


def _fits(points: Sequence[CurvePoint], usable: int
          ) -> tuple[AmdahlFit | None, UslFit | None, dict[str, str]]:
    samples, left_out = _fit_samples(points)
    notes: dict[str, str] = {}
    why = "; ".join(left_out)
    amdahl = usl = None
    if samples:
        amdahl = fit_amdahl(samples)
        extra = "; ".join(x for x in (_capacity_note(points), why and f"left out: {why}",
                                      amdahl.note) if x)
        amdahl = dataclasses.replace(amdahl, note=extra)
    else:
        notes["amdahl"] = (f"no point with more than one worker within the {usable} usable "
                           f"CPU{'s' if usable != 1 else ''} has an interval"
                           + (f" ({why})" if why else ""))
    if len(samples) >= USL_MIN_POINTS:
        usl = fit_usl(samples)
        if why:
            usl = dataclasses.replace(usl, note="; ".join(x for x in (f"left out: {why}",
                                                                     usl.note) if x))
    else:
        notes["usl"] = (f"needs {USL_MIN_POINTS} points with more than one worker within the "
                        f"usable CPUs, each with an interval; {len(samples)} here"
                        + (f" ({why})" if why else ""))
    return amdahl, usl, notes


def measure_curve(
    fn: Callable[..., Any],
    /,
    *fn_args: Any,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    workers: Sequence[int] = (1, 2, 4, 8),
    executor: str = "thread",
    tasks_per_worker: int | None = None,
    cpu_bound: bool | None = None,
    label: str | None = None,
    budget: float | None = None,
    profile: RuntimeProfile | None = None,
) -> CurveResult:
    """Measure how the calls of ``fn`` scale over ``workers`` worker counts of ``executor``,
    and fit Amdahl's law and the Universal Scalability Law (module doc).

    * Each count ``n > 1`` is one scaling check, exactly as :func:`measure_scaling` makes
      it (``n × tasks_per_worker`` calls serially vs on ``n`` workers, paired rounds, the
      capacity the machine delivers as the ideal of work that computes), with ``budget``
      seconds (default ``--gil-budget``) each.  One worker is the reference (speedup 1).
    * ``tasks_per_worker`` defaults to 1 for threads and to 4 for process and sub-interpreter
      pools (:data:`~pytest_gil.engine.scaling.POOL_TASKS_PER_WORKER`); a process or
      sub-interpreter pool of ``n`` workers is made and shut down for each point.
    * Counts above the usable CPUs are measured, marked ``beyond_cpus`` and left out of the
      fits.  With one usable CPU they are measured against the ideal of ``n`` workers (they
      cannot reach it there), and the curve is not-testable.
    * The verdicts are those of the largest count within the usable CPUs; ``result.points``,
      ``result.amdahl`` and ``result.usl`` give the rest.  The curve is recorded once in the
      report (its points are not recorded separately).
    * Arguments as for :func:`measure_scaling`: positionally after ``fn``, or ``args=`` /
      ``kwargs=``.

    >>> from pytest_gil.workloads import calc
    >>> r = measure_curve(calc, 2_000_000, workers=(1, 2, 4))  # doctest: +SKIP
    >>> r.amdahl.serial_fraction  # doctest: +SKIP
    0.98
    """
    from ..profile import runtime_profile
    from ..runtimes.threads import task_calls

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    if executor not in EXECUTOR_KINDS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTOR_KINDS)}, got "
                         f"{executor!r}")
    counts = _worker_counts(workers, executor)
    per_worker = (settings.positive_int("tasks_per_worker", tasks_per_worker)
                  if tasks_per_worker is not None
                  else POOL_TASKS_PER_WORKER if executor != "thread" else 1)
    settings.resolve_budget(budget)  # a bad budget fails before anything is measured
    task_calls(fn, fn_args, args, kwargs, None, per_worker)  # likewise bad arguments
    prof = profile if profile is not None else runtime_profile()
    usable = prof.usable_cpus
    name = fn_name(fn)
    t0 = time.perf_counter()
    points = []
    for n in counts:
        check: ScalingResult | None = None
        if n > 1:
            check = scaling_check(
                fn, fn_args, args=args, kwargs=kwargs, workers=n, executor=executor,
                tasks=n * per_worker, label=f"{name} in {worker_noun(executor, n)}",
                cpu_bound=cpu_bound, budget=budget, profile=prof,
                # one CPU: no default ideal exceeds 1, so measure against n workers' ideal
                ideal=float(n) if usable == 1 else None, record=False)
        points.append(CurvePoint(n, check, beyond_cpus=n > usable))
    amdahl, usl, fit_notes = _fits(points, usable)
    result = _result(points, amdahl, usl, fit_notes, prof, name=name, executor=executor,
                     per_worker=per_worker, label=label, elapsed=time.perf_counter() - t0)
    record_check(result)
    return result


def _result(points: Sequence[CurvePoint], amdahl: AmdahlFit | None, usl: UslFit | None,
            fit_notes: Mapping[str, str], prof: RuntimeProfile, *, name: str, executor: str,
            per_worker: int, label: str | None, elapsed: float) -> CurveResult:
    counts = [p.workers for p in points]
    usable = prof.usable_cpus
    within = [p for p in points if p.workers > 1 and not p.beyond_cpus]
    headline = within[-1] if within else None
    span = (worker_noun(executor, counts[0]) if len(counts) == 1
            else f"{counts[0]}–{worker_noun(executor, counts[-1])}")
    label = label or f"{name} in {span}"
    what = f"scaling curve of {name} on {', '.join(map(str, counts))} {executor} workers"
    setup: dict[str, Any] = {"executor": executor, "workers": counts,
                             "tasks_per_worker": per_worker, "fn": name,
                             "headline_workers": None if headline is None
                             else headline.workers}
    fields: dict[str, Any]
    if headline is None or headline.check is None:
        reason = ("one usable CPU: every point beyond one worker is beyond the CPUs, so none "
                  "can show a parallel speedup and nothing is fitted" if usable == 1
                  else f"no worker count above 1 within the {usable} usable CPUs "
                       f"(workers: {', '.join(map(str, counts))})")
        fields = not_testable(kind="curve", label=label, hypothesis="parallel", reason=reason,
                              setup=setup, what=what, runtime=prof.label()).fields()
    else:
        fields = headline.check.fields()
        fields.pop("uid")  # the curve is a check of its own
        fields.update(kind="curve", label=label, hypothesis="parallel", what=what,
                      setup={**fields["setup"], **setup})
    fields.update(elapsed=elapsed, points=tuple(points), amdahl=amdahl, usl=usl,
                  usable_cpus=usable, fit_notes=dict(fit_notes))
    return CurveResult(**fields)
