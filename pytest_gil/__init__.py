"""pytest-gil: measure what Python concurrency tutorials — and your own code — claim.

The public surface is :data:`__all__` (plus the documented modules :mod:`pytest_gil.workloads`
and :mod:`pytest_gil.runners`); everything else is private.  Attributes are loaded on first use
(PEP 562), so ``import pytest_gil`` — and loading the plugin — stays cheap: scipy is imported
only when a measurement is decided.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_LAZY = {
    "Claim": "claims",
    "ClaimContext": "claims",
    "Expectation": "claims",
    "UnknownClaimError": "claims",
    "Verdict": "vocabulary",
    "Hypothesis": "vocabulary",
    "Check": "engine",
    "Figure": "engine",
    "Round": "engine",
    "ScalingResult": "engine",
    "GilReleaseResult": "engine",
    "measure_scaling": "engine",
    "measure_curve": "engine",
    "CurveResult": "engine",
    "measure_overlap": "engine",
    "measure_parallelism": "engine",
    "measure_fairness": "engine",
    "measure_wakeup_latency": "engine",
    "measure_rounds": "engine",
    "releases_gil": "engine",
    "assert_no_speedup": "engine",
    "assert_scales": "engine",
    "assert_overlaps": "engine",
    "assert_speedup": "engine",
    "assert_releases_gil": "engine",
    "assert_holds_gil": "engine",
    "gil_contention": "contention",
    "GilContention": "contention",
    "GilContentionMeter": "contention",
    "runtime_profile": "profile",
    "RuntimeProfile": "profile",
    "override_profile": "profile",
    "usable_cpus": "profile",
    "run_tasks": "runtimes",
    "Timeline": "runtimes",
    "TaskRecord": "runtimes",
    "ThreadRunner": "runtimes",
    "WorkerError": "runtimes",
    "WorkerDied": "runtimes",
    "warm_executor": "runtimes",
    "gil_state": "gilstate",
    "GilState": "gilstate",
    "ConcurrentMeasurementError": "gilstate",
    "current_settings": "settings",
    "delivered_capacity": "engine",
    "CapacityEstimate": "engine",
    "workloads": None,
}

# A literal list, so that type checkers and linters see the re-exports of the block below
# (mypy --strict rejects "from pytest_gil import measure_scaling" otherwise);
# tests/test_api.py checks it against _LAZY.
__all__ = [
    "CapacityEstimate",
    "Check",
    "Claim",
    "ClaimContext",
    "ConcurrentMeasurementError",
    "CurveResult",
    "Expectation",
    "Figure",
    "GilContention",
    "GilContentionMeter",
    "GilReleaseResult",
    "GilState",
    "Hypothesis",
    "Round",
    "RuntimeProfile",
    "ScalingResult",
    "TaskRecord",
    "ThreadRunner",
    "Timeline",
    "UnknownClaimError",
    "Verdict",
    "WorkerDied",
    "WorkerError",
    "__version__",
    "assert_holds_gil",
    "assert_no_speedup",
    "assert_overlaps",
    "assert_releases_gil",
    "assert_scales",
    "assert_speedup",
    "current_settings",
    "delivered_capacity",
    "gil_contention",
    "gil_state",
    "measure_curve",
    "measure_fairness",
    "measure_overlap",
    "measure_parallelism",
    "measure_rounds",
    "measure_scaling",
    "measure_wakeup_latency",
    "override_profile",
    "releases_gil",
    "run_tasks",
    "runtime_profile",
    "usable_cpus",
    "warm_executor",
    "workloads",
]

if TYPE_CHECKING:  # pragma: no cover
    from . import workloads
    from .claims import Claim, ClaimContext, Expectation, UnknownClaimError
    from .contention import GilContention, GilContentionMeter, gil_contention
    from .engine import (
        CapacityEstimate,
        Check,
        CurveResult,
        Figure,
        GilReleaseResult,
        Round,
        ScalingResult,
        assert_holds_gil,
        assert_no_speedup,
        assert_overlaps,
        assert_releases_gil,
        assert_scales,
        assert_speedup,
        delivered_capacity,
        measure_curve,
        measure_fairness,
        measure_overlap,
        measure_parallelism,
        measure_rounds,
        measure_scaling,
        measure_wakeup_latency,
        releases_gil,
    )
    from .gilstate import ConcurrentMeasurementError, GilState, gil_state
    from .profile import RuntimeProfile, override_profile, runtime_profile, usable_cpus
    from .runtimes import (
        TaskRecord,
        ThreadRunner,
        Timeline,
        WorkerDied,
        WorkerError,
        run_tasks,
        warm_executor,
    )
    from .settings import current_settings
    from .vocabulary import Hypothesis, Verdict


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'pytest_gil' has no attribute {name!r}")
    module_name = _LAZY[name]
    if module_name is None:
        value: Any = importlib.import_module(f"{__name__}.{name}")
    else:
        value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
