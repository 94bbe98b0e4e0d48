"""The runtime profile: what interpreter and machine a measurement runs on.

Every bound the plugin uses is derived from this record: the ideal speedup of ``w`` workers is
``min(w, usable_cpus)``, the GIL claims are expected to hold when ``gil_enabled`` is true, and
the "threads in sub-interpreters scale" claims are testable only when ``subinterpreters`` names
an API.

Injection (for testing expectations, never for faking measurements): set the environment
variable ``PYTEST_GIL_PROFILE`` to a JSON object of field overrides (or ``@path/to/file.json``),
or use :func:`override_profile` as a context manager.  An injected profile changes what the
claims suite *expects*; the measurements stay real, so a GIL build run with an injected
free-threaded profile reports the GIL claims as failing, which is how the flipped expectations
are exercised.

Where the machine cannot tell (macOS, Windows: no ``/proc``, no cgroups, no
``os.sched_getaffinity``), each reading degrades on its own: the affinity falls back to
``os.process_cpu_count()`` (3.13+) or ``os.cpu_count()``, the cgroup quota to ``None``, the
runnable count to absent, and ``noise_gating`` says that rounds cannot be judged for machine
noise (:func:`pytest_gil.noise.gating`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import platform
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import noise
from .gilstate import build_is_free_threaded, gil_enabled

__all__ = [
    "RuntimeProfile",
    "cgroup_cpu_limit",
    "override_profile",
    "runtime_profile",
    "subinterpreter_api",
    "usable_cpus",
]

PROFILE_ENV = "PYTEST_GIL_PROFILE"

_overrides: list[dict[str, Any]] = []


@dataclasses.dataclass(frozen=True)
class RuntimeProfile:
    """A typed, JSON-serialisable record of the interpreter and the machine."""

    implementation: str
    version: str
    version_info: tuple[int, int, int]
    free_threaded_build: bool
    gil_enabled: bool
    python_gil_env: str | None
    switch_interval: float
    usable_cpus: int
    cpu_affinity: int | None
    cgroup_cpu_limit: float | None
    physical_cores: int | None
    logical_cores: int | None
    start_methods: tuple[str, ...]
    default_start_method: str
    subinterpreters: str | None
    load: dict[str, Any]
    executable: str = ""
    injected: bool = False
    noise_gating: str = "unknown"
    """Whether disturbed rounds can be excluded here: ``"available"``, ``"partial: …"`` or
    ``"unavailable: …"`` (:func:`pytest_gil.noise.gating`); ``"unknown"`` only in a profile
    read back from a report written before the field existed."""

    def to_dict(self) -> dict[str, Any]:
        """The profile as plain JSON types."""
        d = dataclasses.asdict(self)
        d["version_info"] = list(self.version_info)
        d["start_methods"] = list(self.start_methods)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuntimeProfile:
        """Rebuild a profile from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        if "version_info" in kw:
            kw["version_info"] = tuple(kw["version_info"])
        if "start_methods" in kw:
            kw["start_methods"] = tuple(kw["start_methods"])
        return cls(**kw)

    @property
    def gil_disabled(self) -> bool:
        """True when threads of this process can run bytecode in parallel."""
        return not self.gil_enabled

    @property
    def build(self) -> str:
        """``"free-threaded"`` or ``"GIL"``: how the interpreter was built."""
        return "free-threaded" if self.free_threaded_build else "GIL"

    @property
    def tag(self) -> str:
        """A short file-name-safe tag such as ``cpython-3.11-gil`` or ``cpython-3.13t-nogil``."""
        major, minor = self.version_info[:2]
        t = "t" if self.free_threaded_build else ""
        state = "gil" if self.gil_enabled else "nogil"
        return f"{self.implementation.lower()}-{major}.{minor}{t}-{state}"

    def label(self) -> str:
        """One line for humans: ``CPython 3.11.7 (GIL build, GIL on) · 2 usable CPUs``."""
        state = "GIL on" if self.gil_enabled else "GIL off"
        injected = ", injected" if self.injected else ""
        return (
            f"{self.implementation} {self.version} ({self.build} build, {state}{injected})"
            f" · {self.usable_cpus} usable CPU{'s' if self.usable_cpus != 1 else ''}"
        )

    def header_lines(self) -> list[str]:
        """The pytest report header (one or two lines).  The first line says when noise
        gating is not fully available (it is the line shown without ``-v``)."""
        sub = self.subinterpreters or "none"
        env = f", PYTHON_GIL={self.python_gil_env}" if self.python_gil_env is not None else ""
        gating = ("" if self.noise_gating == noise.GATING_AVAILABLE
                  else f" · noise gating {self.noise_gating}")
        return [
            f"gil: {self.label()}{gating}",
            f"gil: switch interval {self.switch_interval * 1000:g} ms, start method "
            f"{self.default_start_method}, sub-interpreters: {sub}{env}",
        ]


# --------------------------------------------------------------------------------------------
# detection


def _affinity() -> int | None:
    """The CPUs this process may use: ``os.process_cpu_count()`` (3.13+), else the affinity
    mask (``os.sched_getaffinity``: Linux, some BSDs), else ``os.cpu_count()`` (macOS and
    Windows before 3.13, which have no affinity call); ``None`` if nothing can tell."""
    process_cpu_count = getattr(os, "process_cpu_count", None)
    if process_cpu_count is not None:  # 3.13+: honours PYTHON_CPU_COUNT / -X cpu_count
        n = process_cpu_count()
        return int(n) if n else None
    get_affinity = getattr(os, "sched_getaffinity", None)
    if get_affinity is not None:
        with contextlib.suppress(OSError):
            return len(get_affinity(0)) or None
    n = os.cpu_count()
    return int(n) if n else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _own_cgroup_paths(root: Path, proc_cgroup: str | None) -> list[tuple[str, Path]]:
    """(version, directory) pairs of our cgroup and its parents, innermost first."""
    out: list[tuple[str, Path]] = []
    if not proc_cgroup:
        return out
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        rel_path = rel.lstrip("/")
        if controllers == "":  # cgroup v2 unified hierarchy
            base = root
            version = "v2"
        elif "cpu" in controllers.split(","):
            base = root / controllers
            if not base.exists():
                base = root / "cpu,cpuacct"
            if not base.exists():
                base = root / "cpu"
            version = "v1"
        else:
            continue
        d = base / rel_path if rel_path else base
        # Walk up to the hierarchy root: a parent's quota limits us too.
        while True:
            out.append((version, d))
            if d == base or d.parent == d:
                break
            d = d.parent
    return out


def cgroup_cpu_limit(
    root: Path | None = None, proc_cgroup: str | None = None
) -> float | None:
    """The tightest CPU quota (in CPUs) of our cgroup and its parents, or None if unlimited
    or where there are no cgroups (macOS, Windows).

    cgroup v2: ``cpu.max`` = ``"<quota> <period>"`` or ``"max <period>"``.
    cgroup v1: ``cpu.cfs_quota_us`` (-1 = unlimited) / ``cpu.cfs_period_us``.
    ``root`` defaults to :data:`pytest_gil.noise.CGROUP_ROOT` and ``proc_cgroup`` to the text
    of :data:`pytest_gil.noise.PROC_SELF_CGROUP` (one place for the paths); both arguments
    exist so the parsing can be tested on a fake tree.
    """
    if root is None:
        root = noise.CGROUP_ROOT
    if proc_cgroup is None:
        proc_cgroup = _read(noise.PROC_SELF_CGROUP)
    limits: list[float] = []
    dirs = _own_cgroup_paths(root, proc_cgroup)
    if not dirs:  # no /proc/self/cgroup (macOS, Windows) or a container view: try the root
        dirs = [("v2", root), ("v1", root / "cpu")]
    seen: set[Path] = set()
    for version, d in dirs:
        if d in seen:
            continue
        seen.add(d)
        if version == "v2":
            text = _read(d / "cpu.max")
            if text:
                quota, _, period = text.partition(" ")
                if quota != "max" and period:
                    with contextlib.suppress(ValueError):
                        if float(period) > 0 and float(quota) > 0:
                            limits.append(float(quota) / float(period))
        else:
            q, p = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            if q and p:
                with contextlib.suppress(ValueError):
                    if float(q) > 0 and float(p) > 0:
                        limits.append(float(q) / float(p))
    return min(limits) if limits else None


def usable_cpus(affinity: int | None = None, cgroup_limit: float | None = None) -> int:
    """min(affinity / process CPU count, ceil(cgroup quota)), at least 1.

    Called without arguments it reads the machine; the arguments let tests feed it values.
    """
    if affinity is None:
        affinity = _affinity()
    if cgroup_limit is None:
        cgroup_limit = cgroup_cpu_limit()
    candidates = [c for c in (affinity,) if c]
    if cgroup_limit is not None:
        # A quota of 1.5 CPUs lets two threads run at 75% each: count it as 2, as loky does.
        candidates.append(max(1, math.ceil(cgroup_limit)))
    return max(1, min(candidates)) if candidates else 1


def _has_module(name: str) -> bool:
    import importlib.util

    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def subinterpreter_api() -> str | None:
    """Which sub-interpreter API with a per-interpreter GIL (PEP 684) this interpreter has,
    without importing it.

    ``"concurrent.interpreters"`` (3.14, with ``concurrent.futures.InterpreterPoolExecutor``),
    ``"_interpreters"`` (3.13), ``"_xxsubinterpreters"`` (3.12) or ``None``.  CPython 3.8–3.11
    also ship a ``_xxsubinterpreters`` test module, but their sub-interpreters share one GIL:
    ``None`` there, as on other implementations.
    """
    if sys.implementation.name != "cpython" or sys.version_info < (3, 12):
        return None
    if (sys.version_info >= (3, 14) and _has_module("concurrent.interpreters")
            and _has_module("concurrent.futures.interpreter")):
        return "concurrent.interpreters"
    for name in ("_interpreters", "_xxsubinterpreters"):
        if _has_module(name):
            return name
    return None


def _cores() -> tuple[int | None, int | None]:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None, os.cpu_count()
    return psutil.cpu_count(logical=False), psutil.cpu_count(logical=True)


def _load() -> dict[str, Any]:
    """The load averages (``os.getloadavg``: not on Windows) and the runnable count
    (``/proc/loadavg``: Linux only); a key is absent where the system cannot tell."""
    load: dict[str, Any] = {}
    with contextlib.suppress(OSError, AttributeError):
        load["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    runnable = noise.runnable()
    if runnable is not None:
        load["runnable"] = runnable
    return load


def _detect() -> RuntimeProfile:
    affinity = _affinity()
    limit = cgroup_cpu_limit()
    physical, logical = _cores()
    vi = sys.version_info
    return RuntimeProfile(
        implementation=platform.python_implementation(),
        version=platform.python_version(),
        version_info=(vi.major, vi.minor, vi.micro),
        free_threaded_build=build_is_free_threaded(),
        gil_enabled=gil_enabled(),
        python_gil_env=os.environ.get("PYTHON_GIL"),
        switch_interval=sys.getswitchinterval(),
        usable_cpus=usable_cpus(affinity, limit),
        cpu_affinity=affinity,
        cgroup_cpu_limit=limit,
        physical_cores=physical,
        logical_cores=logical,
        start_methods=tuple(multiprocessing.get_all_start_methods()),
        default_start_method=multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_context().get_start_method(),
        subinterpreters=subinterpreter_api(),
        load=_load(),
        executable=sys.executable,
        noise_gating=noise.gating(),
    )


def _env_overrides() -> dict[str, Any]:
    raw = os.environ.get(PROFILE_ENV)
    if not raw:
        return {}
    try:
        text = Path(raw[1:]).read_text() if raw.startswith("@") else raw
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{PROFILE_ENV}={raw!r} is not a JSON object of profile fields (or @file.json): {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise ValueError(f"{PROFILE_ENV} must hold a JSON object, got {type(data).__name__}")
    return data


def _apply(profile: RuntimeProfile, overrides: dict[str, Any], where: str) -> RuntimeProfile:
    names = {f.name for f in dataclasses.fields(RuntimeProfile)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(
            f"unknown runtime profile field(s) {unknown} from {where}; known: {sorted(names)}"
        )
    fixed = dict(overrides)
    if "version_info" in fixed:
        fixed["version_info"] = tuple(fixed["version_info"])
    if "start_methods" in fixed:
        fixed["start_methods"] = tuple(fixed["start_methods"])
    return dataclasses.replace(profile, **fixed, injected=True)


def runtime_profile() -> RuntimeProfile:
    """Return the :class:`RuntimeProfile` of this process, with any injected overrides applied.

    The GIL state and the load snapshot are read anew on every call (an import can re-enable
    the GIL on a free-threaded build), so call it where the answer matters.
    """
    profile = _detect()
    env = _env_overrides()
    if env:
        profile = _apply(profile, env, f"${PROFILE_ENV}")
    for ov in _overrides:
        profile = _apply(profile, ov, "override_profile()")
    return profile


@contextlib.contextmanager
def override_profile(**fields: Any) -> Iterator[RuntimeProfile]:
    """Inject profile fields for the duration of a ``with`` block (tests of expectations).

    >>> with override_profile(free_threaded_build=True, gil_enabled=False) as p:
    ...     assert not p.gil_enabled
    """
    _apply(_detect(), fields, "override_profile()")  # validate names early
    _overrides.append(fields)
    try:
        yield runtime_profile()
    finally:
        _overrides.remove(fields)
