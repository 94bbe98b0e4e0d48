"""The two-run test: how much a figure changed between a baseline run and this one.

A check's figure (a speedup, a parallelism, a probe's rate) is the geometric mean of positive
per-round ratios, so two runs are compared on the log scale: with ``x_i`` the logarithms of the
baseline's rounds and ``y_j`` those of the current run's, the change is ``d = ȳ − x̄`` and the
ratio current/baseline is ``exp(d)`` — the ratio of the two geometric means.  The runs have
different numbers of rounds (each check stops at its first decision) and different spreads (a
busier machine, another interpreter), so the test is Welch's t, which assumes neither equal
sizes nor equal variances:

* standard error ``se = √(s²_x/n_x + s²_y/n_y)``;
* degrees of freedom (Welch–Satterthwaite)
  ``ν = se⁴ / ((s²_x/n_x)²/(n_x − 1) + (s²_y/n_y)²/(n_y − 1))``;
* interval: ``exp(d ± t_{1−α/2, ν} · se)``, a two-sided ``1 − α`` confidence interval of the
  ratio; p-value: ``2 · P(T_ν > |d|/se)``, two-sided, so that "significant" (``p < α``) is
  exactly "the interval excludes 1".

With fewer than two rounds on either side there is no variance: the point estimate is given,
the interval and the p-value are ``None``.  scipy (its t distribution) is imported only when
an interval is computed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["MIN_ROUNDS", "Ratio", "welch_ratio"]

MIN_ROUNDS = 2
"""Rounds each run needs for an interval: a sample variance needs two values."""


@dataclasses.dataclass(frozen=True)
class Ratio:
    """The ratio current/baseline of one figure, with its two-sided ``1 − alpha`` interval
    (``low``/``high``) and the two-sided Welch p-value; ``None`` where it cannot be computed.
    ``name`` is the signal compared (``speedup``, ``parallelism``, ``release``, …)."""

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    n_baseline: int = 0
    n_current: int = 0

    def significant(self, alpha: float) -> bool:
        """Whether the change is significant at ``alpha`` (two-sided: the interval at that
        level excludes 1).  False when there is no p-value."""
        return self.p_value is not None and self.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else round(x, 6)

        return {"name": self.name, "value": r(self.value), "low": r(self.low),
                "high": r(self.high),
                "p_value": None if self.p_value is None else float(f"{self.p_value:.4g}"),
                "n_baseline": self.n_baseline, "n_current": self.n_current}

    @classmethod
    def from_dict(cls, data: Any) -> Ratio | None:
        """The :class:`Ratio` of a ``to_dict()`` (``None`` for anything else)."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return None

        def num(key: str) -> float | None:
            v = data.get(key)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        def count(key: str) -> int:
            v = data.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else 0

        return cls(data["name"], num("value"), num("low"), num("high"), num("p_value"),
                   count("n_baseline"), count("n_current"))


def _logs(values: Sequence[float]) -> list[float]:
    return [math.log(v) for v in values if v > 0 and math.isfinite(v)]


def _mean_var(x: Sequence[float]) -> tuple[float, float]:
    mean = math.fsum(x) / len(x)
    var = math.fsum((v - mean) ** 2 for v in x) / (len(x) - 1) if len(x) > 1 else 0.0
    return mean, var


def welch_ratio(name: str, baseline: Sequence[float], current: Sequence[float],
                alpha: float) -> Ratio:
    """The ratio current/baseline of the geometric means of ``current`` and ``baseline``
    (positive per-round ratios; others are left out), with Welch's two-sided ``1 − alpha``
    interval and p-value on the logarithms (module doc)."""
    x, y = _logs(baseline), _logs(current)
    nx, ny = len(x), len(y)
    if not nx or not ny:
        return Ratio(name, None, n_baseline=nx, n_current=ny)
    mx, vx = _mean_var(x)
    my, vy = _mean_var(y)
    d = my - mx
    value = math.exp(d)
    if nx < MIN_ROUNDS or ny < MIN_ROUNDS:
        return Ratio(name, value, n_baseline=nx, n_current=ny)
    ex, ey = vx / nx, vy / ny
    se = math.sqrt(ex + ey)
    if se == 0.0:  # identical rounds on both sides: the change is known exactly
        return Ratio(name, value, value, value, 1.0 if d == 0.0 else 0.0, nx, ny)
    df = (ex + ey) ** 2 / (ex**2 / (nx - 1) + ey**2 / (ny - 1))
    from scipy import stats  # imported when a comparison is computed, never at plugin load

    tq = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * stats.t.sf(abs(d) / se, df))
    return Ratio(name, value, math.exp(d - tq * se), math.exp(d + tq * se), p, nx, ny)
