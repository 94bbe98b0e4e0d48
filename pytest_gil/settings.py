"""Run-wide settings shared by the plugin, the engine and the claims (one place, no globals
scattered across modules).

Outside pytest the defaults below apply; the plugin replaces them from its options in
``pytest_configure`` (:func:`configure`) and restores them at ``pytest_unconfigure``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from .vocabulary import INCONCLUSIVE_POLICIES

__all__ = [
    "ALPHA_REFUTE_RATIO",
    "DEFAULT_ALPHA",
    "DEFAULT_BUDGET",
    "INCONCLUSIVE_POLICIES",
    "Settings",
    "configure",
    "current",
    "current_settings",
    "exclusive",
    "positive_int",
    "replace_current",
    "resolve_budget",
    "shared",
]

DEFAULT_ALPHA = 1e-3
"""α to *confirm* a claim: the chance of confirming a claim that is in fact false."""

ALPHA_REFUTE_RATIO = 0.1
"""α to *refute* = α to confirm × this ratio (1e-4 by default): a false failure of a correct
claim must be rarer than a false pass, because a failing test is what people act on."""

DEFAULT_BUDGET = 15.0
"""Seconds one check may take.  The longest schedule is 20 paired rounds; at the default 50 ms
per task and up to 4 tasks per phase a round takes ≤ 0.4 s serial + the parallel phase, so
20 rounds fit in about 8–10 s; 15 s leaves room for a loaded machine."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the options of the current run say (defaults outside pytest)."""

    scale: float = 1.0
    budget: float = DEFAULT_BUDGET
    alpha: float = DEFAULT_ALPHA
    inconclusive: str = "skip"
    start_method: str | None = None
    report_dir: str | None = None
    allow_gil_reenabled: bool = False

    @property
    def fail_on_gil_reenabled(self) -> bool:
        """Fail a measurement that ran after an import re-enabled the GIL of a free-threaded
        build (the default; ``--gil-allow-gil-reenabled`` turns it off)."""
        return not self.allow_gil_reenabled

    @property
    def alpha_confirm(self) -> float:
        return self.alpha

    @property
    def alpha_refute(self) -> float:
        return self.alpha * ALPHA_REFUTE_RATIO


Store = Callable[[str, Callable[[], dict[str, Any]], "float | None"], dict[str, Any]]
"""``store(name, compute, max_age)``: the value stored under ``name`` if younger than
``max_age`` seconds (``None``: any age), else ``compute()``'s, stored."""

_current = Settings()
_lock_factory: Callable[[], contextlib.AbstractContextManager[object]] | None = None
_memory: dict[str, tuple[float, dict[str, Any]]] = {}


def _memory_store(name: str, compute: Callable[[], dict[str, Any]],
                  max_age: float | None) -> dict[str, Any]:
    found = _memory.get(name)
    if found is not None and (max_age is None or time.time() - found[0] < max_age):
        return found[1]
    value = compute()
    _memory[name] = (time.time(), value)
    return value


_store: Store = _memory_store


def current() -> Settings:
    """The settings in force."""
    return _current


def current_settings() -> Settings:
    """The settings in force for this run: ``--gil-scale``, ``--gil-budget``, ``--gil-alpha``,
    ``--gil-inconclusive``, ``--gil-start-method``, … (the defaults outside pytest)."""
    return _current


def configure(
    settings: Settings,
    lock_factory: Callable[[], contextlib.AbstractContextManager[object]] | None = None,
    store: Store | None = None,
) -> Settings:
    """Install ``settings``, the cross-worker lock and the run's shared store (``None``:
    this process's memory); returns the previous settings."""
    global _current, _lock_factory, _store
    previous = _current
    _current = settings
    _lock_factory = lock_factory
    _store = store or _memory_store
    return previous


def replace_current(settings: Settings) -> Settings:
    """Put ``settings`` in force, keeping the run's lock and store (a test's own settings,
    ``@pytest.mark.gil(...)``); returns the previous ones to restore."""
    global _current
    previous = _current
    _current = settings
    return previous


def shared(name: str, compute: Callable[[], dict[str, Any]], *,
           max_age: float | None = None) -> dict[str, Any]:
    """A value measured once and shared by the run (its xdist workers too): the stored one
    when younger than ``max_age`` seconds, else ``compute()``'s (measured under the lock by
    whichever worker asks first)."""
    return _store(name, compute, max_age)


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Hold the cross-worker measurement lock (a no-op outside an xdist run).

    Re-entrant: a check inside a test that already holds it does not deadlock.
    """
    if _lock_factory is None:
        yield
        return
    with _lock_factory():
        yield


def resolve_budget(budget: float | None) -> float:
    """``budget`` seconds, or the run's ``--gil-budget`` when ``None``; ``ValueError`` unless
    positive and finite."""
    b = current().budget if budget is None else budget
    if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 < b < float("inf"):
        raise ValueError(f"budget must be a positive number of seconds, got {budget!r}")
    return float(b)


def positive_int(name: str, value: object) -> int:
    """``value`` as a positive ``int``, or a ``ValueError`` naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value
