"""Command-line options and their ini twins, with validators that name where a bad value came
from.  Precedence: command line > ini file > default.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from . import settings

__all__ = ["OPTIONS", "addoption", "read_settings"]


@dataclasses.dataclass(frozen=True)
class Option:
    name: str  # without the leading dashes, e.g. "gil-scale"
    help: str
    default: Any
    validate: Callable[[str, str], Any]
    metavar: str = ""
    choices: tuple[str, ...] = ()
    # More keywords for argparse (an optional value, a repeatable option).
    argparse: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


def _number(lo: float, hi: float, *, lo_open: bool = True, what: str = "") -> Callable[..., Any]:
    def check(value: str, where: str) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = math.nan
        ok = math.isfinite(x) and (x > lo if lo_open else x >= lo) and x <= hi
        if not ok:
            left = "(" if lo_open else "["
            raise pytest.UsageError(
                f"invalid value {value!r} for {where}: expected a number in "
                f"{left}{lo:g}, {hi:g}]{what}"
            )
        return x

    return check


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def check(value: str, where: str) -> str:
        if value not in choices:
            raise pytest.UsageError(
                f"invalid value {value!r} for {where}: choose from {', '.join(choices)}"
            )
        return value

    return check


def _start_method(value: str, where: str) -> str:
    available = tuple(multiprocessing.get_all_start_methods())
    if value not in available:
        raise pytest.UsageError(
            f"invalid value {value!r} for {where}: start methods available on this platform "
            f"are {', '.join(available)}"
        )
    return value


def _path(value: str, where: str) -> str:
    if not str(value).strip():
        raise pytest.UsageError(f"invalid value {value!r} for {where}: expected a directory")
    return str(value)


def _flag(value: str, where: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise pytest.UsageError(f"invalid value {value!r} for {where}: expected true or false")


def _compare_target(value: str, where: str) -> str:
    text = str(value).strip()
    if not text or (text.isdigit() and int(text) < 1):
        raise pytest.UsageError(
            f"invalid value {value!r} for {where}: expected latest, a saved run's number "
            "(3 or 0003) or a report file")
    return text


def _criteria(value: str | Sequence[str], where: str) -> tuple[Any, ...]:
    from .baseline.criteria import EXPECTED, CriterionError, parse_criteria

    items = [value] if isinstance(value, str) else list(value)
    for item in items:  # one at a time, so that the message names the bad one
        try:
            if not parse_criteria(item):
                raise CriterionError(item, EXPECTED)
        except CriterionError as exc:
            raise pytest.UsageError(
                f"invalid value {exc.value!r} for {where}: {exc.reason}") from None
    return parse_criteria(items)


OPTIONS = (
    Option(
        "gil-scale",
        "Multiply the calibrated task duration (50 ms at 1.0). Larger is slower and steadier.",
        1.0,
        # Above 100 one task lasts 5 s and a check minutes: certainly a typo.
        _number(0, 100, what=" (1 = 50 ms tasks)"),
        "FACTOR",
    ),
    Option(
        "gil-budget",
        "Seconds one check may take before it stops as inconclusive; unless set, it grows "
        "with the scale option (15 × max(1, scale)).",
        settings.DEFAULT_BUDGET,
        _number(0, 3600),
        "SECONDS",
    ),
    Option(
        "gil-alpha",
        "Significance level to confirm a claim; refuting uses a tenth of it.",
        settings.DEFAULT_ALPHA,
        # α ≥ 0.5 would confirm on a coin toss.
        _number(0, 0.2, what=" (e.g. 0.001)"),
        "ALPHA",
    ),
    Option(
        "gil-report",
        "Directory for the JSON, HTML and Markdown reports (none are written when unset).",
        None,
        _path,
        "DIR",
    ),
    Option(
        "gil-inconclusive",
        "What an inconclusive measurement does to its test.",
        "skip",
        _choice(settings.INCONCLUSIVE_POLICIES),
        choices=settings.INCONCLUSIVE_POLICIES,
    ),
    Option(
        "gil-start-method",
        "multiprocessing start method for process workers (None: the platform's own).",
        None,
        _start_method,
        "METHOD",
    ),
    Option(
        "gil-allow-gil-reenabled",
        "Measure anyway after an import re-enabled the GIL of a free-threaded build (by "
        "default such a measuring test fails, naming the module: its results would describe "
        "a GIL runtime).",
        False,
        _flag,
    ),
    Option(
        "gil-autosave",
        "Save this run for later comparisons, as <machine-id>/<NNNN>_<commit>.json in the "
        "storage directory.",
        False,
        _flag,
    ),
    Option(
        "gil-storage",
        "Directory of saved runs; a relative path is relative to the rootdir.",
        ".gil",
        _path,
        "DIR",
    ),
    Option(
        "gil-compare",
        "Compare this run with a saved one, check by check: no value (or latest) = the "
        "latest run saved for this machine-id, NUM = that run (3 or 0003), PATH = that report "
        "file. Give a value after an equals sign: a separate word would be read as a test "
        "path.",
        None,
        _compare_target,
        "NUM|PATH",
        argparse={"nargs": "?", "const": "latest"},
    ),
    Option(
        "gil-compare-fail",
        "Fail the run when a compared check breaks EXPR: verdict (its verdict changed), "
        "verdict:decided (both decided, and they differ), or NAME:PCT%, e.g. speedup:10% "
        "(the figure dropped by more than 10%, significantly). Repeat it or separate with "
        "commas; only with a comparison (gil-compare).",
        None,
        _criteria,
        "EXPR",
        argparse={"action": "append"},
    ),
    Option(
        "gil-compare-alpha",
        "Significance level of the comparison with the baseline (Welch's t on the log "
        "ratios of the rounds).",
        0.01,
        # As for --gil-alpha: above 0.2 the comparison flags noise.
        _number(0, 0.2, what=" (e.g. 0.01)"),
        "ALPHA",
    ),
)


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gil", "pytest-gil: measure concurrency claims")
    for opt in OPTIONS:
        kwargs: dict[str, Any] = {"dest": opt.dest, "default": None}
        help_text = f"{opt.help} Default: {opt.default!r}."
        if opt.choices:
            kwargs["metavar"] = "{" + ",".join(opt.choices) + "}"
        elif opt.metavar:
            kwargs["metavar"] = opt.metavar
        if opt.validate is _flag:
            kwargs["action"] = "store_const"
            kwargs["const"] = "true"
        kwargs.update(opt.argparse)
        # argparse expands %-formats in help texts (ini help is printed as is)
        group.addoption(f"--{opt.name}", help=help_text.replace("%", "%%"), **kwargs)
        _addini(parser, opt, help_text)


def _addini(parser: pytest.Parser, opt: Option, help_text: str) -> None:
    # pytest ≥ 9.2 takes a type expression, so native TOML configs ([tool.pytest]) may give
    # numbers and booleans; older pytest reads every value as a string (validated the same).
    native: Any = str | bool if opt.validate is _flag else str | float
    if isinstance(opt.default, (float, bool)) or opt.validate is _flag:
        try:
            parser.addini(opt.dest, help=help_text, type=native, default=None)
            return
        except (TypeError, ValueError):
            pass
    parser.addini(opt.dest, help=help_text, default=None)


def read_settings(config: pytest.Config) -> settings.Settings:
    """Validate every option (command line first, then ini) into :class:`Settings`."""
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        cli = config.getoption(opt.dest)
        if cli is not None:
            values[opt.dest] = opt.validate(cli, f"--{opt.name} (command line)")
            continue
        ini = config.getini(opt.dest)
        if ini not in (None, "", []):
            src = f"{config.inipath}" if config.inipath else "the ini file"
            values[opt.dest] = opt.validate(str(ini), f"{opt.dest} (ini option in {src})")
        else:
            values[opt.dest] = opt.default
    explicit_budget = config.getoption("gil_budget") is not None or config.getini(
        "gil_budget"
    ) not in (None, "", [])
    budget = values["gil_budget"]
    if not explicit_budget:
        # Rounds last in proportion to the scale: so does the default time allowed per check.
        budget = settings.DEFAULT_BUDGET * max(1.0, values["gil_scale"])
    return settings.Settings(
        scale=values["gil_scale"],
        budget=budget,
        alpha=values["gil_alpha"],
        inconclusive=values["gil_inconclusive"],
        start_method=values["gil_start_method"],
        report_dir=values["gil_report"],
        allow_gil_reenabled=values["gil_allow_gil_reenabled"],
    )
