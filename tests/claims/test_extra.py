"""Beyond the document: what a reader of it needs today.

* sub-interpreters with their own GIL (PEP 684; ``concurrent.interpreters`` /
  ``InterpreterPoolExecutor`` on 3.14, ``_interpreters`` on 3.13, ``_xxsubinterpreters`` on
  3.12) as a third way around the GIL;
* ``PYTHON_GIL=0/1`` on free-threaded builds (PEP 703), which selects the GIL state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from pytest_gil import ClaimContext
from pytest_gil.workloads import Calibration

PROBE = "import sys; print(sys._is_gil_enabled())"


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
    seen: dict[str, str] = {}
    for value in ("0", "1"):
        env = {**os.environ, "PYTHON_GIL": value}
        proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                              text=True, timeout=60)
        seen[value] = (proc.stdout.strip() or proc.stderr.strip().splitlines()[-1:][0]
                       if proc.stdout.strip() or proc.stderr.strip() else "")
    holds = seen == {"0": "False", "1": "True"}
    gil_claim.functional(
        holds,
        f"sys._is_gil_enabled() with PYTHON_GIL=0 → {seen['0']}, with PYTHON_GIL=1 → "
        f"{seen['1']} (this run: GIL {'enabled' if gil_claim.profile.gil_enabled else 'disabled'}"
        f", PYTHON_GIL={gil_claim.profile.python_gil_env!r})",
    )
