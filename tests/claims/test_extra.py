"""Beyond the document: what a reader of it needs today.

* sub-interpreters with their own GIL (PEP 684; ``concurrent.interpreters`` /
  ``InterpreterPoolExecutor`` on 3.14, ``_interpreters`` on 3.13, ``_xxsubinterpreters`` on
  3.12) as a third way around the GIL;
* ``PYTHON_GIL=0/1`` on free-threaded builds (PEP 703), which selects the GIL state.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from gil_audit.observations import python_gil_env

from pytest_gil import ClaimContext
from pytest_gil.workloads import Calibration


@pytest.mark.claim("extra.subinterpreters-scale")
@pytest.mark.cpu_bound
def test_extra_subinterpreters_scale(
    gil_claim: ClaimContext, gil_calibration: Calibration, measure_once: Any,
) -> None:
    """Two threads, each running calc in its own sub-interpreter, scale: each interpreter has
    its own GIL."""
    gil_claim.skip_if_not_testable()
    result = measure_once.interpreters_calc(gil_calibration)
    gil_claim.decide(result, hypothesis="parallel")


@pytest.mark.claim("extra.python-gil-env")
def test_extra_python_gil_env_selects_the_gil_state(gil_claim: ClaimContext) -> None:
    """On a free-threaded build, a child started with PYTHON_GIL=0 runs without the GIL and
    one with PYTHON_GIL=1 with it (sys._is_gil_enabled())."""
    gil_claim.skip_if_not_testable()
    result = python_gil_env(sys.executable)
    gil_claim.functional(
        result.holds,
        f"{result.detail} (this run: GIL "
        f"{'enabled' if gil_claim.profile.gil_enabled else 'disabled'}, PYTHON_GIL="
        f"{gil_claim.profile.python_gil_env!r})",
        observations=result.observations,
    )
