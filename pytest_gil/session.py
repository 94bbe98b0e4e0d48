"""Per-run state shared across xdist workers: a directory, the measurement lock and the
calibration.

The controller (or a run without xdist) creates a temporary directory and hands its path to
the workers through ``workerinput``.  In it:

* ``measure.lock`` — a :class:`filelock.FileLock` held by a worker for each timing-sensitive
  test, so measurements on different workers never overlap;
* ``calibration-<tag>-<scale>.json`` — computed once per interpreter and scale by whichever
  worker needs it first (under its own lock), then read by the others.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .workloads import DEFAULT_TARGET, Calibration, calibrate

__all__ = ["SharedState"]


class SharedState:
    """The run's shared directory, lock and calibration cache."""

    def __init__(self, directory: str | None = None) -> None:
        self.owner = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="pytest-gil-"))
        self._lock: Any = None
        self._local_lock = threading.RLock()
        self._calibrations: dict[float, Calibration] = {}

    def _file_lock(self, name: str) -> Any:
        from filelock import FileLock

        return FileLock(str(self.directory / name))

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the cross-worker measurement lock (re-entrant within this process)."""
        with self._local_lock:
            if self._lock is None:
                self._lock = self._file_lock("measure.lock")
            with self._lock:
                yield

    def calibration(self, scale: float, tag: str) -> Calibration:
        """The calibration at ``scale`` × 50 ms for this interpreter, shared across workers."""
        if scale in self._calibrations:
            return self._calibrations[scale]
        path = self.directory / f"calibration-{tag}-{scale:g}.json"
        # Calibrate under the measurement lock, so that no other worker is timing meanwhile.
        with self.exclusive():
            if path.exists():
                cal = Calibration.from_dict(json.loads(path.read_text()))
            else:
                cal = calibrate(DEFAULT_TARGET * scale)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(cal.to_dict()))
                os.replace(tmp, path)
        self._calibrations[scale] = cal
        return cal

    def shared(self, name: str, compute: Callable[[], dict[str, Any]],
               max_age: float | None) -> dict[str, Any]:
        """The value stored as ``<name>.json`` in the run's directory when younger than
        ``max_age`` seconds, else ``compute()``'s, stored (under the measurement lock, so
        one worker measures while the others wait and then read it)."""
        path = self.directory / f"{name}.json"
        with self.exclusive():
            try:
                age = time.time() - path.stat().st_mtime
                if max_age is None or age < max_age:
                    return dict(json.loads(path.read_text()))
            except (OSError, ValueError):
                pass
            value = compute()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(value))
            os.replace(tmp, path)
            return value

    def cleanup(self) -> None:
        if self.owner:
            shutil.rmtree(self.directory, ignore_errors=True)
