"""pytest-gil: measure what Python concurrency tutorials claim.

The public surface is :data:`__all__`; everything else is private.  Attributes are loaded on
first use (PEP 562), so ``import pytest_gil`` — and loading the plugin — stays cheap: scipy
is imported only when a measurement is decided.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "runtime_profile": "profile",
    "RuntimeProfile": "profile",
    "override_profile": "profile",
    "usable_cpus": "profile",
    "run_tasks": "runners",
    "Timeline": "runners",
    "TaskRecord": "runners",
    "ThreadRunner": "runners",
    "WorkerError": "runners",
    "WorkerDied": "runners",
    "measure_scaling": "engine",
    "measure_overlap": "engine",
    "assert_no_speedup": "engine",
    "assert_scales": "engine",
    "assert_overlaps": "engine",
    "releases_gil": "engine",
    "ScalingResult": "engine",
    "GilReleaseResult": "engine",
    "gil_state": "gilstate",
    "GilState": "gilstate",
    "ConcurrentMeasurementError": "gilstate",
    "workloads": None,
}

# A literal list, so that type checkers and linters see the re-exports of the block below
# (mypy --strict rejects "from pytest_gil import measure_scaling" otherwise);
# tests/test_api.py checks it against _LAZY.
__all__ = [
    "ConcurrentMeasurementError",
    "GilReleaseResult",
    "GilState",
    "RuntimeProfile",
    "ScalingResult",
    "TaskRecord",
    "ThreadRunner",
    "Timeline",
    "WorkerDied",
    "WorkerError",
    "__version__",
    "assert_no_speedup",
    "assert_overlaps",
    "assert_scales",
    "gil_state",
    "measure_overlap",
    "measure_scaling",
    "override_profile",
    "releases_gil",
    "run_tasks",
    "runtime_profile",
    "usable_cpus",
    "workloads",
]

if TYPE_CHECKING:  # pragma: no cover
    from . import workloads
    from .engine import (
        GilReleaseResult,
        ScalingResult,
        assert_no_speedup,
        assert_overlaps,
        assert_scales,
        measure_overlap,
        measure_scaling,
        releases_gil,
    )
    from .gilstate import ConcurrentMeasurementError, GilState, gil_state
    from .profile import RuntimeProfile, override_profile, runtime_profile, usable_cpus
    from .runners import TaskRecord, ThreadRunner, Timeline, WorkerDied, WorkerError, run_tasks


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
