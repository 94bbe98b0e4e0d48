"""The verdict engine: one round loop (:mod:`.rounds`), one result shape (:mod:`.check`), and
what is built on them — scaling and overlap (:mod:`.scaling`), scaling curves
(:mod:`.curve`), GIL release (:mod:`.release`), other primitives (:mod:`.primitives`) and the
assertions (:mod:`.assertions`).

Light to import: numpy and scipy (:mod:`pytest_gil.stats`) load when a measurement is decided.
"""

from __future__ import annotations

from .assertions import (
    apply_inconclusive_policy,
    assert_holds_gil,
    assert_no_speedup,
    assert_overlaps,
    assert_releases_gil,
    assert_scales,
    assert_speedup,
    enforce,
)
from .capacity import CapacityEstimate, delivered_capacity
from .check import Check, Figure
from .curve import CurveResult, measure_curve
from .primitives import (
    measure_fairness,
    measure_parallelism,
    measure_rounds,
    measure_wakeup_latency,
)
from .release import GilReleaseResult, releases_gil
from .rounds import Design, Round, RoundsRun, run_rounds
from .scaling import ScalingResult, measure_overlap, measure_scaling

__all__ = [
    "CapacityEstimate",
    "Check",
    "CurveResult",
    "Design",
    "Figure",
    "GilReleaseResult",
    "Round",
    "RoundsRun",
    "ScalingResult",
    "apply_inconclusive_policy",
    "assert_holds_gil",
    "assert_no_speedup",
    "assert_overlaps",
    "assert_releases_gil",
    "assert_scales",
    "assert_speedup",
    "delivered_capacity",
    "enforce",
    "measure_curve",
    "measure_fairness",
    "measure_overlap",
    "measure_parallelism",
    "measure_rounds",
    "measure_scaling",
    "measure_wakeup_latency",
    "releases_gil",
    "run_rounds",
]
