"""The baseline options of a run, validated once at configure time.

``--gil-autosave``, ``--gil-storage``, ``--gil-compare[=NUM|PATH]``, ``--gil-compare-fail``
and ``--gil-compare-alpha`` (ini twins ``gil_autosave``, …) are declared in
:data:`pytest_gil.options.OPTIONS`; :func:`read` turns them into :class:`BaselineOptions`,
raising ``pytest.UsageError`` for what the user can fix before any test runs: a storage
path that is a file or cannot be written, a run number or a file that does not exist, a gate
without a comparison.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from .. import options as _options
from .criteria import Criterion
from .storage import BaselineError, machine_id, parse_number, resolve_number, saved_runs

__all__ = ["LATEST", "BaselineOptions", "read"]

LATEST = "latest"
"""The value of ``--gil-compare`` given without one: the latest run of this machine-id."""


@dataclasses.dataclass(frozen=True)
class BaselineOptions:
    """What the baseline options ask for.

    ``compare`` is ``None`` (no comparison), :data:`LATEST`, a run number or a path, as
    given; ``compare_path`` the file it names, resolved at configure time (``None`` for
    :data:`LATEST` when this machine-id has no saved run yet: the run says so at the end).
    """

    autosave: bool = False
    storage: Path = Path(".gil")
    compare: str | None = None
    compare_path: Path | None = None
    fail: tuple[Criterion, ...] = ()
    alpha: float = 0.01
    machine: str = ""

    @property
    def active(self) -> bool:
        return self.autosave or self.compare is not None

    @property
    def directory(self) -> Path:
        """This machine-id's directory in the storage."""
        return self.storage / self.machine


def _option(name: str) -> _options.Option:
    return next(o for o in _options.OPTIONS if o.name == name)


def _value(config: pytest.Config, name: str) -> tuple[Any, str]:
    """The validated value of option ``name`` and where it came from: ``"cli"``, ``"ini"``
    or ``"default"`` (command line first, then ini, as for every pytest-gil option)."""
    opt = _option(name)
    cli = config.getoption(opt.dest, None)
    if cli is not None:
        return opt.validate(cli, f"--{opt.name} (command line)"), "cli"
    ini = config.getini(opt.dest)
    if ini not in (None, "", []):
        src = f"{config.inipath}" if config.inipath else "the ini file"
        return opt.validate(str(ini), f"{opt.dest} (ini option in {src})"), "ini"
    return opt.default, "default"


def _storage(config: pytest.Config, autosave: bool) -> Path:
    value, _ = _value(config, "gil-storage")
    path = Path(str(value).strip()).expanduser()
    path = path if path.is_absolute() else config.rootpath / path
    if path.exists() and not path.is_dir():
        raise pytest.UsageError(f"--gil-storage: {path} is a file, not a directory of saved runs")
    if autosave:
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise pytest.UsageError(
                f"--gil-autosave: cannot create {path}: {existing} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise pytest.UsageError(
                f"--gil-autosave: cannot write saved runs to {path} ({existing} is not "
                "writable); choose another --gil-storage")
    return path


def _compare_path(config: pytest.Config, value: str, source: str, directory: Path
                  ) -> Path | None:
    number = parse_number(value)
    if value == LATEST:
        runs = saved_runs(directory)
        return runs[-1].path if runs else None
    if number is not None:
        try:
            return resolve_number(directory, number)
        except BaselineError as exc:
            raise pytest.UsageError(f"--gil-compare={value}: {exc}") from None
    if source == "cli" and value.endswith(".py"):
        raise pytest.UsageError(
            f"--gil-compare={value}: a test file, not a report; write --gil-compare with no "
            "value after the test paths, or --gil-compare=VALUE")
    base = Path(config.invocation_params.dir) if source == "cli" else config.rootpath
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():
        raise pytest.UsageError(
            f"--gil-compare={value}: {path} is a directory; give a report file (.json), a "
            "saved run's number, or no value for the latest")
    if not path.exists():
        raise pytest.UsageError(f"--gil-compare={value}: no such file {path}")
    return path


def read(config: pytest.Config) -> BaselineOptions:
    """The baseline options of ``config``, validated (``pytest.UsageError`` otherwise).

    ``--gil-compare-fail`` and ``--gil-compare-alpha`` on the command line without a
    comparison are a usage error; in the ini file they wait for a ``--gil-compare`` (so a
    project can keep its gate in the ini file and compare in CI only).
    """
    from ..profile import runtime_profile

    autosave, _ = _value(config, "gil-autosave")
    compare, compare_from = _value(config, "gil-compare")
    fail, fail_from = _value(config, "gil-compare-fail")
    alpha, alpha_from = _value(config, "gil-compare-alpha")
    if compare is None:
        given = [f"--gil-compare-{n}" for n, src in (("fail", fail_from), ("alpha", alpha_from))
                 if src == "cli"]
        if given:
            raise pytest.UsageError(
                f"{' and '.join(given)} without --gil-compare: nothing to compare with; add "
                "--gil-compare (the latest saved run), --gil-compare=NUM or "
                "--gil-compare=PATH")
    storage = _storage(config, bool(autosave))
    machine = machine_id(runtime_profile().to_dict())
    found = (None if compare is None
             else _compare_path(config, str(compare), compare_from, storage / machine))
    return BaselineOptions(autosave=bool(autosave), storage=storage, compare=compare,
                           compare_path=found, fail=tuple(fail or ()), alpha=float(alpha),
                           machine=machine)
