"""The markers pytest-gil registers, and what they require of the runtime.

* ``cpu_bound`` / ``io_bound`` — a timing-sensitive check (``pytest -m cpu_bound``);
* ``claim(id)`` — the test decides a registered claim (``gil_claim`` fixture);
* ``requires_gil``, ``requires_free_threading``, ``requires_subinterpreters``,
  ``requires_cpus(n)`` — skip, saying why, where the runtime lacks what the test needs;
* ``gil(budget=, alpha=, inconclusive=, scale=)`` — the test measures, with its own settings
  (marker over command line over ini file, as pytest-timeout orders them).

A ``claim`` marker naming no registered claim fails the test at setup with the registered
catalogues named (:class:`ClaimsPlugin` builds the registry once the test files are
collected, so claims registered by any ``conftest.py`` count).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from . import settings
from .claims import ClaimRegistry, collect_claims
from .profile import runtime_profile

if TYPE_CHECKING:
    from .profile import RuntimeProfile

__all__ = ["MARKERS", "MARKER_SETTINGS", "MEASURING_MARKERS", "ClaimsPlugin", "MarkerError",
           "check_requirements", "marker_settings", "registry"]

MARKERS = (
    "cpu_bound: a timing-sensitive check of CPU-bound work "
    "(example: @pytest.mark.cpu_bound; select with -m cpu_bound)",
    "io_bound: a timing-sensitive check of sleeping or IO-bound work "
    "(example: @pytest.mark.io_bound; select with -m io_bound)",
    "claim(id): the test decides claim <id> of a catalogue registered with the "
    "pytest_gil_claims hook "
    '(example: @pytest.mark.claim("mylib.hash-releases-gil"))',
    "requires_gil: skip unless the GIL is enabled (example: @pytest.mark.requires_gil)",
    "requires_free_threading: skip unless this is a free-threaded build running with the GIL "
    "disabled (example: @pytest.mark.requires_free_threading)",
    "requires_subinterpreters: skip unless sub-interpreters with their own GIL exist "
    "(CPython 3.12+) (example: @pytest.mark.requires_subinterpreters)",
    "requires_cpus(n): skip unless at least n CPUs are usable (affinity and cgroup quota) "
    "(example: @pytest.mark.requires_cpus(2))",
    "gil(budget=, alpha=, inconclusive=, scale=): this test measures; its own pytest-gil "
    "settings, over the command line and the ini file "
    '(example: @pytest.mark.gil(budget=30, inconclusive="fail"))',
)

MEASURING_MARKERS = ("claim", "cpu_bound", "io_bound", "gil")

MARKER_SETTINGS = {"budget": "gil-budget", "alpha": "gil-alpha",
                   "inconclusive": "gil-inconclusive", "scale": "gil-scale"}
"""What ``@pytest.mark.gil(...)`` may set, and the option whose validator checks it."""


class MarkerError(Exception):
    """A malformed ``@pytest.mark.gil(...)``: the message names the test and the value."""


def marker_settings(item: pytest.Item, base: settings.Settings) -> settings.Settings | None:
    """The settings of ``item`` when it has ``@pytest.mark.gil(...)`` with values (the
    closest marker wins, as pytest-timeout's does; its values beat the command line and the
    ini file), else ``None``.  A budget not given grows with a scale that is
    (``DEFAULT_BUDGET × scale``, never below the run's).  :class:`MarkerError` on a bad
    value, naming the test."""
    from .options import OPTIONS

    mark = item.get_closest_marker("gil")
    if mark is None or not (mark.args or mark.kwargs):
        return None
    where = f"@pytest.mark.gil on {item.nodeid}"
    if mark.args:
        raise MarkerError(f"{where}: takes keyword arguments only ({', '.join(MARKER_SETTINGS)}"
                          f"), got {', '.join(map(repr, mark.args))}")
    unknown = sorted(set(mark.kwargs) - set(MARKER_SETTINGS))
    if unknown:
        raise MarkerError(f"{where}: unknown setting(s) {', '.join(unknown)} (choose from "
                          f"{', '.join(MARKER_SETTINGS)})")
    by_name = {o.name: o for o in OPTIONS}
    values: dict[str, Any] = {}
    for key, value in mark.kwargs.items():
        opt = by_name[MARKER_SETTINGS[key]]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise MarkerError(f"{where}: invalid value {value!r} for {key}")
        try:
            values[key] = opt.validate(str(value), f"{key}= ({where})")
        except pytest.UsageError as exc:
            raise MarkerError(str(exc)) from None
    if "scale" in values and "budget" not in values:
        values["budget"] = max(base.budget, settings.DEFAULT_BUDGET * values["scale"])
    return dataclasses.replace(base, **values)

_REGISTRY = pytest.StashKey[ClaimRegistry]()


def registry(config: pytest.Config) -> ClaimRegistry:
    """The run's claim registry (built from the ``pytest_gil_claims`` hooks registered now,
    and kept once the test files are collected)."""
    found = config.stash.get(_REGISTRY, None)
    return found if found is not None else collect_claims(config)


class ClaimsPlugin:
    """Builds the claim registry after collection (when every conftest is loaded)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)  # before -k deselects: claim ids are keywords
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.config.stash[_REGISTRY] = collect_claims(self.config)
        for item in items:
            marker = item.get_closest_marker("claim")
            if marker is not None and marker.args:
                item.extra_keyword_matches.add(str(marker.args[0]))


def _skip(reason: str) -> None:
    # Reported at the test's location, like pytest's own skipif marker.
    raise pytest.skip.Exception(reason, _use_item_location=True)


def _check_claim(item: pytest.Item) -> None:
    marker = item.get_closest_marker("claim")
    if marker is None:
        return
    if len(marker.args) != 1 or marker.kwargs:
        pytest.fail(f"{item.nodeid}: @pytest.mark.claim takes exactly one claim id, got "
                    f"{marker.args!r}", pytrace=False)
    reg = registry(item.config)
    if marker.args[0] not in reg:
        pytest.fail(f"{item.nodeid}: @pytest.mark.claim: {reg.unknown_message(marker.args[0])}",
                    pytrace=False)


def _cpus_required(item: pytest.Item) -> int | None:
    mark = item.get_closest_marker("requires_cpus")
    if mark is None:
        return None
    n = mark.args[0] if mark.args else mark.kwargs.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        pytest.fail(f"{item.nodeid}: @pytest.mark.requires_cpus(n) needs a positive integer "
                    f"n, got {n!r}", pytrace=False)
    return n


def _missing(item: pytest.Item, prof: RuntimeProfile) -> str:
    """Why the runtime lacks what the test's ``requires_*`` markers ask for, or ``""``."""
    if item.get_closest_marker("requires_gil") is not None and not prof.gil_enabled:
        return f"requires the GIL, but it is disabled here ({prof.label()})"
    if item.get_closest_marker("requires_free_threading") is not None and prof.gil_enabled:
        why = ("the GIL is enabled (PYTHON_GIL=1 or an import re-enabled it)"
               if prof.free_threaded_build else "this is not a free-threaded build")
        return f"requires free threading with the GIL disabled, but {why} ({prof.label()})"
    if (item.get_closest_marker("requires_subinterpreters") is not None
            and prof.subinterpreters is None):
        return (f"requires sub-interpreters with their own GIL (CPython 3.12+), none on "
                f"{prof.label()}")
    n = _cpus_required(item)
    if n is not None and prof.usable_cpus < n:
        return (f"requires {n} usable CPUs, this process may use {prof.usable_cpus} "
                "(affinity and cgroup quota)")
    return ""


def check_requirements(item: pytest.Item) -> None:
    """At setup: fail a malformed ``claim`` / ``requires_cpus`` marker or an unknown claim
    id; skip when the runtime lacks what a ``requires_*`` marker asks for."""
    names = ("requires_gil", "requires_free_threading", "requires_subinterpreters",
             "requires_cpus", "claim")
    if not any(item.get_closest_marker(n) is not None for n in names):
        return
    _check_claim(item)
    _cpus_required(item)  # a malformed marker fails whatever the runtime
    why = _missing(item, runtime_profile())
    if why:
        _skip(why)
