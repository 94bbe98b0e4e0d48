"""Subprocesses of the benchmarks: the environment they get and a timed run with a timeout."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
import soak

__all__ = ["HERE", "ROOT", "child_env", "run_timed", "tail"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TAIL_LINES = 8
"""Lines of a failed subprocess's output kept in the results: the error and its context."""


def child_env() -> dict[str, str]:
    """This environment, without ``PYTEST_ADDOPTS`` (a user's options must not change what is
    measured), with ``benchmarks/`` and the repository first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_timed(cmd: Sequence[str], cwd: Path, timeout: float
              ) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``cmd`` to completion; returns the ``time.perf_counter()`` reading just before the
    launch, the wall seconds and the completed process.  At ``timeout`` (``TimeoutExpired``)
    or an interruption, the process and everything it started (pool workers) are killed
    before the exception goes on."""
    t0 = time.perf_counter()
    with subprocess.Popen(list(cmd), cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(psutil.Error):
                soak.kill_tree(psutil.Process(proc.pid))
            proc.communicate()
            raise
    wall = time.perf_counter() - t0
    return t0, wall, subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.strip().splitlines()[-lines:])
