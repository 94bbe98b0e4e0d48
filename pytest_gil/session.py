"""Per-run state shared across xdist workers: a directory, the measurement lock and the
calibration.

The controller (or a run without xdist) creates a temporary directory and hands its path to
the workers through ``workerinput``.  In it:

* ``measure.lock`` — a :class:`filelock.FileLock` held for each measurement, so measurements
  on different workers never overlap;
* ``quiet.lock`` and ``turnstile.lock`` — a readers–writer lock across workers (POSIX
  ``flock``): a measuring test holds it exclusively from setup to teardown, every other test
  shares it, so a measuring test runs alone — the other workers finish the test they are
  running and wait.  The turnstile gives the writer priority: a worker going on from test to
  test cannot starve a waiting measurement.  Where ``fcntl`` is missing (Windows) only
  measurements exclude each other;
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

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]


def _flock(path: Path, *, exclusive: bool) -> int:
    """Open ``path`` and take a ``flock`` on it (blocking); the descriptor to release."""
    assert _fcntl is not None
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _fcntl.flock(fd, _fcntl.LOCK_EX if exclusive else _fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unflock(fd: int) -> None:
    assert _fcntl is not None
    try:
        _fcntl.flock(fd, _fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _flocked(path: Path, *, exclusive: bool) -> Iterator[None]:
    fd = _flock(path, exclusive=exclusive)
    try:
        yield
    finally:
        _unflock(fd)


class SharedState:
    """The run's shared directory, lock and calibration cache."""

    def __init__(self, directory: str | None = None) -> None:
        self.owner = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="pytest-gil-"))
        self._lock: Any = None
        self._local_lock = threading.RLock()
        self._calibrations: dict[float, Calibration] = {}
        self.is_worker = not self.owner

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

    @contextlib.contextmanager
    def quiet(self, *, alone: bool) -> Iterator[None]:
        """Hold the run's quiet lock for one test: exclusively when the test measures
        (``alone``), shared otherwise.  A no-op outside xdist workers and without ``fcntl``.
        Take it before :meth:`exclusive`, never inside it (one order, no deadlock)."""
        if not self.is_worker or _fcntl is None:
            yield
            return
        quiet = self.directory / "quiet.lock"
        with _flocked(self.directory / "turnstile.lock", exclusive=True):
            # A writer waits for the readers while holding the turnstile, so readers that
            # come later queue behind it; a reader only passes through.
            held = _flock(quiet, exclusive=True) if alone else None
        if held is None:
            held = _flock(quiet, exclusive=False)
        try:
            yield
        finally:
            _unflock(held)

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
