"""``python -m pytest_gil check MODULE:FUNC ...``: how one function behaves under concurrency,
asked from the command line instead of a test file.

::

    python -m pytest_gil check pytest_gil.workloads:sha256_work --args '[30000000]' \\
        --executor thread,process --workers 1,2 --releases-gil

For each executor it runs one scaling check (one count in ``--workers``) or a scaling curve
(several: the speedup per count, Amdahl's serial fraction, the USL); ``--releases-gil`` adds
whether the function releases the GIL.  Each question prints one line — the verdicts, the key
figure with its interval, the rounds, and the seconds the question took — and a curve its
table and fits.  ``--json`` prints one JSON document instead (the checks' records and the
runtime profile); ``--html PATH`` writes the report page of these checks.

Exit status: 0 when it ran (with ``--expect``: only when the expectation is confirmed for
every question it applies to); 1 when the expectation is refuted, or a measurement ran with a
GIL that an import turned back on (free-threaded builds); 3 when the expectation is
inconclusive or not testable; 2 on a usage error (one line on stderr); 130 when interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .settings import DEFAULT_ALPHA, DEFAULT_BUDGET
from .vocabulary import EXECUTOR_KINDS, worker_noun

if TYPE_CHECKING:
    from .engine.check import Check
    from .settings import Settings

__all__ = [
    "EXIT_INCONCLUSIVE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUTED",
    "EXIT_USAGE",
    "EXPECTATIONS",
    "UsageError",
    "main",
    "resolve_target",
]

PROG = "python -m pytest_gil check"
EXIT_OK = 0
EXIT_REFUTED = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_INTERRUPTED = 130
"""128 + SIGINT, what a shell reports for a command stopped with Ctrl-C."""

SCALING_EXPECTATIONS = ("serialized", "parallel")
RELEASE_EXPECTATIONS = ("releases", "holds")
EXPECTATIONS = (*SCALING_EXPECTATIONS, *RELEASE_EXPECTATIONS)
DEFAULT_WORKERS = "2"
"""One scaling check of 2 workers, like :func:`pytest_gil.measure_scaling`'s default."""


class UsageError(Exception):
    """A mistake in the command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors raised, so that they print as one line like ours."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    p = _Parser(
        prog=PROG,
        description="Measure one function: does it scale on threads, processes or "
                    "sub-interpreters (one worker count: a scaling check; several: a scaling "
                    "curve with Amdahl's and the USL's fits), and does it release the GIL.",
        epilog="Exit status: 0 ran (with --expect: confirmed), 1 expectation refuted, "
               "3 inconclusive or not testable, 2 usage error.")
    p.add_argument("target", metavar="MODULE:FUNC",
                   help="the function, imported as python -m would (the current directory "
                        "first on sys.path); attribute paths allowed: pkg.mod:Class.method")
    p.add_argument("--args", default="[]", metavar="JSON",
                   help="the function's positional arguments, a JSON list (default: [])")
    p.add_argument("--kwargs", default="{}", metavar="JSON",
                   help="the function's keyword arguments, a JSON object (default: {})")
    p.add_argument("--executor", default="thread", metavar="KINDS",
                   help=f"comma-separated executors among {', '.join(EXECUTOR_KINDS)} "
                        "(default: thread)")
    p.add_argument("--workers", default=DEFAULT_WORKERS, metavar="N[,N...]",
                   help="worker counts: one gives a scaling check, several a scaling curve "
                        f"(default: {DEFAULT_WORKERS})")
    p.add_argument("--releases-gil", action="store_true",
                   help="also measure whether the function releases the GIL")
    p.add_argument("--expect", choices=EXPECTATIONS, metavar="{" + ",".join(EXPECTATIONS) + "}",
                   help="exit 0 only if this is confirmed: serialized/parallel for the "
                        "scaling questions, releases/holds for --releases-gil")
    p.add_argument("--budget", metavar="S",
                   help="seconds one check (each point of a curve) may take (default: "
                        f"{DEFAULT_BUDGET:g})")
    p.add_argument("--alpha", metavar="A",
                   help=f"α to confirm; refuting uses a tenth of it (default: {DEFAULT_ALPHA:g})")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document (checks and runtime profile) on stdout")
    p.add_argument("--html", metavar="PATH", help="write the report of these checks as HTML")
    return p


# --------------------------------------------------------------------------------------------
# the command line, validated before anything is measured


def resolve_target(spec: str) -> Callable[..., Any]:
    """The callable ``MODULE:ATTR[.ATTR...]`` names, imported as ``python -m`` would (the
    current directory first on ``sys.path``); :class:`UsageError` naming what is wrong."""
    module_name, sep, path = spec.partition(":")
    if not sep or not module_name or not path:
        raise UsageError(f"expected MODULE:FUNC (e.g. mypkg.mod:func), got {spec!r}")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise UsageError(f"cannot import {module_name!r}: no module named {exc.name!r} "
                             f"(run from the directory that holds it?)") from None
        raise UsageError(f"importing {module_name!r} failed: {_one_line(exc)}") from None
    except Exception as exc:  # anything the module's own code raised while importing
        raise UsageError(f"importing {module_name!r} failed: {_one_line(exc)}") from None
    owner = module_name
    for part in path.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{owner!r} has no attribute {part!r} (looking up {spec!r})")
        obj = getattr(obj, part)
        owner = f"{owner}:{part}" if owner == module_name else f"{owner}.{part}"
    if not callable(obj):
        raise UsageError(f"{spec} is not callable (it is {type(obj).__name__} {obj!r:.60})")
    return obj  # type: ignore[no-any-return]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json(option: str, text: str, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{option}: not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, kind):
        want = "a JSON list" if kind is list else "a JSON object"
        raise UsageError(f"{option} must be {want}, got {type(value).__name__}: {text!r}")
    return value


def _executors(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if not kinds:
        raise UsageError(f"--executor: no executor given (choose from "
                         f"{', '.join(EXECUTOR_KINDS)})")
    for kind in kinds:
        if kind not in EXECUTOR_KINDS:
            raise UsageError(f"--executor: unknown executor {kind!r} (choose from "
                             f"{', '.join(EXECUTOR_KINDS)})")
    return list(dict.fromkeys(kinds))


def _workers(text: str, executors: Sequence[str]) -> list[int]:
    from .runtimes.faults import check_count

    parts = [p.strip() for p in text.split(",")]
    try:
        counts = [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"--workers: bad worker list {text!r}: expected positive integers "
                         "separated by commas, e.g. 1,2,4") from None
    if len(set(counts)) != len(counts):
        raise UsageError(f"--workers: bad worker list {text!r}: a count is repeated")
    for kind in executors:
        for n in counts:
            try:
                check_count("workers", n, kind)
            except ValueError as exc:
                raise UsageError(f"--workers: bad worker list {text!r}: {exc}") from None
    return sorted(counts)


def _number(option: str, value: str | None) -> float | None:
    """``--budget`` / ``--alpha`` checked by the plugin's own option validators (the same
    ranges as ``--gil-budget`` / ``--gil-alpha``)."""
    if value is None:
        return None
    import pytest

    from .options import OPTIONS

    opt = next(o for o in OPTIONS if o.name == f"gil-{option}")
    try:
        return float(opt.validate(value, f"--{option}"))
    except pytest.UsageError as exc:
        raise UsageError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class Request:
    """What the command line asks, validated."""

    target: str
    fn: Callable[..., Any]
    args: list[Any]
    kwargs: dict[str, Any]
    executors: list[str]
    workers: list[int]
    releases_gil: bool
    expect: str | None
    budget: float | None
    alpha: float | None
    as_json: bool
    html: Path | None


def parse(argv: Sequence[str]) -> Request:
    """The validated request; :class:`UsageError` for any mistake (nothing measured yet)."""
    ns = _parser().parse_args(list(argv))
    executors = _executors(ns.executor)
    request = Request(
        target=ns.target, fn=resolve_target(ns.target),
        args=_json("--args", ns.args, list), kwargs=_json("--kwargs", ns.kwargs, dict),
        executors=executors, workers=_workers(ns.workers, executors),
        releases_gil=ns.releases_gil, expect=ns.expect,
        budget=_number("budget", ns.budget), alpha=_number("alpha", ns.alpha),
        as_json=ns.json, html=_html_path(ns.html))
    if request.expect in RELEASE_EXPECTATIONS and not request.releases_gil:
        raise UsageError(f"--expect {request.expect} is about releasing the GIL: add "
                         "--releases-gil")
    return request


def _html_path(text: str | None) -> Path | None:
    """The ``--html`` file, checked now so that a long measurement is not lost at the end."""
    if text is None:
        return None
    path = Path(text).expanduser()
    if path.is_dir():
        raise UsageError(f"--html: {text!r} is a directory; give a file name (e.g. "
                         f"{os.path.join(text, 'check.html')})")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--html: the directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--html: cannot write into {str(parent)!r}")
    return path


def _trial_call(request: Request) -> None:
    """Call the function once, here: wrong arguments fail now, in one line, not as a
    worker's traceback in the middle of a measurement."""
    try:
        request.fn(*request.args, **request.kwargs)
    except Exception as exc:
        raise UsageError(f"calling {request.target} with --args {json.dumps(request.args)} "
                         f"--kwargs {json.dumps(request.kwargs)} raised {_one_line(exc)}"
                         ) from None


# --------------------------------------------------------------------------------------------
# questions


@dataclasses.dataclass(frozen=True)
class Question:
    """One measurement the command makes: a scaling check, a curve, or the GIL release."""

    kind: str  # "scaling", "curve" or "release"
    executor: str = "thread"
    workers: tuple[int, ...] = ()

    @property
    def title(self) -> str:
        if self.kind == "release":
            return "releases the GIL?"
        if self.kind == "scaling":
            return worker_noun(self.executor, self.workers[0])
        return f"{self.executor} curve, workers {','.join(map(str, self.workers))}"

    @property
    def name(self) -> str:
        """The question's name in the report (where a test's node id would be)."""
        if self.kind == "release":
            return "releases_gil"
        return f"{self.kind}[{self.executor}-{'-'.join(map(str, self.workers))}]"

    def expectation(self, expect: str | None) -> str | None:
        """The hypothesis ``--expect`` asks of this question (``None``: not its business)."""
        if expect is None:
            return None
        mine = RELEASE_EXPECTATIONS if self.kind == "release" else SCALING_EXPECTATIONS
        return expect if expect in mine else None

    def measure(self, request: Request) -> Check:
        from . import measure_curve, measure_scaling, releases_gil

        a, kw = request.args, request.kwargs
        if self.kind == "release":
            return releases_gil(request.fn, args=a, kwargs=kw)
        if self.kind == "scaling":  # with --expect, it runs until that one is decided
            return measure_scaling(request.fn, args=a, kwargs=kw, workers=self.workers[0],
                                   executor=self.executor,
                                   hypothesis=self.expectation(request.expect))
        return measure_curve(request.fn, args=a, kwargs=kw, workers=self.workers,
                             executor=self.executor)


def questions(request: Request) -> list[Question]:
    kind = "scaling" if len(request.workers) == 1 else "curve"
    asked = [Question(kind, ex, tuple(request.workers)) for ex in request.executors]
    if request.releases_gil:
        asked.append(Question("release"))
    return asked


@dataclasses.dataclass(frozen=True)
class Answer:
    """A question, the check that answers it, the seconds it took, and the hypothesis
    ``--expect`` asks of it (``None``: none)."""

    question: Question
    check: Check
    seconds: float
    expect: str | None = None

    @property
    def verdict(self) -> str | None:
        """The verdict of the expectation this question answers, if any."""
        if self.expect is None:
            return None
        return str(self.check.verdicts.get(self.expect, "inconclusive"))

    def outcome(self) -> str:
        """``passed`` (no expectation, or confirmed), ``failed`` (refuted), ``skipped``."""
        v = self.verdict
        return ("passed" if v in (None, "confirmed") else "failed" if v == "refuted"
                else "skipped")


# --------------------------------------------------------------------------------------------
# text


def _figures(check: Check) -> str:
    figs = []
    key = check.figure
    if check.kind == "release":
        fraction = getattr(check, "released_fraction", None)
        if fraction is not None:
            figs.append(f"released fraction {fraction.format()}")
    else:
        speedup = check.figures.get("speedup")
        if speedup is not None:
            figs.append(f"speedup {speedup.format()}")
        if key is not None and key is not speedup:
            figs.append(f"{key.name} {key.format()}")
    return " · ".join(figs) or "nothing measured"


def answer_line(answer: Answer) -> str:
    """One line per question: verdicts, key figure, rounds and seconds."""
    c = answer.check
    mine = RELEASE_EXPECTATIONS if answer.question.kind == "release" else SCALING_EXPECTATIONS
    shown = {h: v for h, v in c.verdicts.items() if h in mine} or c.verdicts
    verdicts = ", ".join(f"{h} {v}" for h, v in shown.items())
    at = ""
    if c.kind == "curve" and c.setup.get("headline_workers"):
        at = f" (at {c.setup['headline_workers']} workers)"
    rounds = f"{c.rounds} round{'s' if c.rounds != 1 else ''}"
    return (f"{answer.question.title}: {verdicts}{at} · {_figures(c)} · {rounds} · "
            f"{answer.seconds:.2f} s")


def answer_text(answer: Answer) -> list[str]:
    lines = [answer_line(answer)]
    c = answer.check
    if c.reason:
        lines.append(f"  {c.reason}")
    table = getattr(c, "table", None)
    if callable(table):
        lines.extend(table())
    return lines


def verdict_of_expectation(answers: Sequence[Answer], expect: str | None
                           ) -> tuple[int, str]:
    """The exit status and a line saying how the expectation fared."""
    if expect is None:
        return EXIT_OK, ""
    judged = [a for a in answers if a.verdict is not None]
    parts = ", ".join(f"{a.question.title} {a.verdict}" for a in judged)
    verdicts = {a.verdict for a in judged}
    if "refuted" in verdicts:
        code, word = EXIT_REFUTED, "refuted"
    elif judged and verdicts == {"confirmed"}:
        code, word = EXIT_OK, "confirmed"
    else:
        code, word = EXIT_INCONCLUSIVE, "not confirmed"
    return code, f"expected {expect}: {word} ({parts or 'no question answered it'})"


# --------------------------------------------------------------------------------------------
# running


def _settings_for(request: Request) -> Settings:
    """The settings in force with ``--budget`` and ``--alpha`` applied."""
    from . import settings

    current = settings.current()
    return dataclasses.replace(
        current, budget=current.budget if request.budget is None else request.budget,
        alpha=current.alpha if request.alpha is None else request.alpha)


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _run(request: Request, out: Callable[[str], None]) -> tuple[list[Answer], bool]:
    """Measure every question; the answers so far and whether Ctrl-C stopped it."""
    answers: list[Answer] = []
    for q in questions(request):
        t0 = time.perf_counter()
        try:
            check = q.measure(request)
        except KeyboardInterrupt:
            out(f"{q.title}: interrupted")
            return answers, True
        a = Answer(q, check, time.perf_counter() - t0, q.expectation(request.expect))
        answers.append(a)
        for line in answer_text(a):
            out(line)
    return answers, False


def _document(request: Request, answers: Sequence[Answer], argv: Sequence[str],
              started: float, status: int, interrupted: bool) -> dict[str, Any]:
    from .report.standalone import build_document, check_record

    results = [check_record(a.check, name=f"{PROG} {request.target}::{a.question.name}",
                            outcome=a.outcome(), duration=a.seconds) for a in answers]
    return build_document(results, args=["check", *argv], started=started,
                          exitstatus=status, interrupted=interrupted,
                          options={"gil_budget": request.budget, "gil_alpha": request.alpha})


def _json_document(request: Request, answers: Sequence[Answer], status: int,
                   expectation: str, interrupted: bool) -> dict[str, Any]:
    from .profile import runtime_profile
    from .report.collect import to_plain

    prof = runtime_profile()
    return to_plain({  # type: ignore[no-any-return]
        "target": request.target, "args": request.args, "kwargs": request.kwargs,
        "runtime": prof.to_dict(), "runtime_label": prof.label(),
        "expect": request.expect, "expectation": expectation, "exit_status": status,
        "interrupted": interrupted,
        "questions": [{"question": a.question.kind, "name": a.question.name,
                       "executor": None if a.question.kind == "release" else a.question.executor,
                       "workers": list(a.question.workers), "seconds": round(a.seconds, 4),
                       "outcome": a.outcome(), "check": a.check.to_dict()} for a in answers],
    })


def _measure_all(request: Request, argv: Sequence[str]) -> int:
    import pytest

    from . import settings
    from .profile import runtime_profile
    from .runtimes.faults import WorkerDied, WorkerError

    started = time.time()
    out: Callable[[str], None] = (lambda line: print(line, file=sys.stderr)) if request.as_json \
        else print
    _trial_call(request)
    out(f"{request.target} · {runtime_profile().label()}")
    previous = settings.configure(_settings_for(request))
    try:
        try:
            answers, interrupted = _run(request, out)
        except (WorkerError, WorkerDied, TypeError, ValueError) as exc:
            raise UsageError(f"measuring {request.target} failed: {_one_line(exc)}") from None
        except pytest.fail.Exception as exc:  # measured with a GIL an import turned back on
            _say(f"error: {exc}")
            return EXIT_REFUTED
        status, expectation = verdict_of_expectation(answers, request.expect)
        if interrupted:
            status = EXIT_INTERRUPTED
        if expectation:
            out(expectation)
        if request.as_json:
            print(json.dumps(_json_document(request, answers, status, expectation,
                                            interrupted), indent=1))
        if request.html is not None:
            _write_html(request.html, _document(request, answers, argv, started, status,
                                                interrupted), out)
        return status
    finally:
        settings.configure(previous)


def _write_html(path: Path, doc: dict[str, Any], out: Callable[[str], None]) -> None:
    from .report.standalone import write_html

    try:
        write_html(doc, path)
    except OSError as exc:
        raise UsageError(f"--html: cannot write {str(path)!r}: {exc.strerror or exc}"
                         ) from None
    out(f"wrote {path}")


def main(argv: list[str]) -> int:
    """``python -m pytest_gil check ...`` (the arguments after ``check``); the exit status."""
    try:
        request = parse(argv)
        return _measure_all(request, argv)
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
