"""Where measurements send what they found, for the report — without knowing the report.

The engine and the claims call :func:`add` with a RECORD (``docs/REPORT_SCHEMA.md``) while a
test runs; the report plugin installs itself as the sink (:func:`set_sink`) when the plugin is
configured.  Outside pytest, or with the plugin disabled, there is no sink and :func:`add` does
nothing.  This keeps the arrows pointing one way: engine → records ← report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Sink", "add", "add_calibration", "add_test_data", "set_sink"]

Sink = Callable[[Mapping[str, Any]], None]

_lock = threading.Lock()
_sink: Sink | None = None
_calibration_sink: Callable[[str, Any], None] | None = None
_data_sink: Callable[[str, Any], None] | None = None


def set_sink(sink: Sink | None, calibration: Callable[[str, Any], None] | None = None,
             data: Callable[[str, Any], None] | None = None) -> None:
    """Install (or, with ``None``, remove) the functions that receive records, calibration
    data and per-test data."""
    global _sink, _calibration_sink, _data_sink
    with _lock:
        _sink = sink
        _calibration_sink = calibration
        _data_sink = data


def add(record: Mapping[str, Any]) -> None:
    """Attach ``record`` to the running test (a no-op without a sink).  Any thread."""
    sink = _sink
    if sink is not None:
        sink(record)


def add_calibration(name: str, data: Any) -> None:
    """Keep calibration data for the run report (a no-op without a sink)."""
    sink = _calibration_sink
    if sink is not None:
        sink(name, data)


def add_test_data(name: str, data: Any) -> None:
    """Attach ``data`` under ``name`` to the running test — figures that are not a verdict
    (e.g. the GIL contention while it ran).  The report writes them to
    ``tests[nodeid][name]``; a second call with the same name replaces the first.  A no-op
    without a sink or outside a test.  Any thread."""
    sink = _data_sink
    if sink is not None:
        sink(name, data)
