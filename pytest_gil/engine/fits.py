"""Amdahl and USL fits of a scaling curve (:mod:`pytest_gil.engine.curve`): pure functions of
the points' log-speedups, tested on synthetic data (``tests/test_curve.py``).

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
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "FIT_CONFIDENCE",
    "MIN_LOG_SD",
    "USL_MIN_POINTS",
    "AmdahlFit",
    "Sample",
    "UslFit",
    "fit_amdahl",
    "fit_usl",
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
