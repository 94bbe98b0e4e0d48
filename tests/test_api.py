"""The public surface: ``pytest_gil.__all__`` is exactly the lazily loaded names."""

from __future__ import annotations

import subprocess
import sys

import pytest_gil


def test_all_lists_exactly_the_public_names() -> None:
    assert sorted(pytest_gil.__all__) == sorted(["__version__", *pytest_gil._LAZY])
    assert pytest_gil.__all__ == sorted(pytest_gil.__all__, key=str)


def test_every_public_name_resolves() -> None:
    for name in pytest_gil.__all__:
        assert getattr(pytest_gil, name) is not None, name


def test_importing_the_package_and_the_plugin_loads_no_heavy_module() -> None:
    code = (
        "import sys, pytest_gil, pytest_gil.plugin; "
        "print(sorted(m for m in ('scipy', 'numpy', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_gil_contention_meter_is_public() -> None:
    from pytest_gil import contention

    assert pytest_gil.gil_contention is contention.gil_contention
    assert pytest_gil.GilContentionMeter is contention.GilContentionMeter
    assert pytest_gil.GilContention is contention.GilContention
    assert isinstance(pytest_gil.gil_contention(), pytest_gil.GilContentionMeter)


def test_scaling_curves_are_public() -> None:
    from pytest_gil.engine.curve import CurveResult, measure_curve

    assert pytest_gil.measure_curve is measure_curve
    assert pytest_gil.CurveResult is CurveResult
