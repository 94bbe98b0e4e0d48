"""``python -m pytest_gil compare BASELINE CURRENT [--fail EXPR] [--alpha A] [--json]``.

Compares two run reports check by check — saved runs (``.gil/<machine-id>/NNNN_*.json``) or
``--gil-report`` files, schema 1 or 2 — and prints the same lines as ``--gil-compare`` (every
check, changed or not), or with ``--json`` the ``"baseline"`` object of
``docs/REPORT_SCHEMA.md``.

Exit status: 0 when no ``--fail`` criterion is broken, 1 when one is, 2 on a usage error (a
missing, unreadable or corrupt file, a report of another schema, a bad criterion or α), with
one line saying which.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .compare import DEFAULT_ALPHA, compare_documents, gate_failures
from .criteria import CriterionError, parse_criteria
from .storage import BaselineError, load_report
from .text import comparison_lines

__all__ = ["main"]

PROG = "python -m pytest_gil compare"
MAX_ALPHA = 0.2
"""The largest α accepted, as for ``--gil-compare-alpha``: beyond it the comparison flags
noise."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Compare a run with a baseline, check by check: verdicts, and the ratio "
                    "current/baseline of each figure with Welch's t on the rounds.",
    )
    parser.add_argument("baseline", metavar="BASELINE", help="the baseline's report (.json)")
    parser.add_argument("current", metavar="CURRENT", help="the run to compare (.json)")
    parser.add_argument("--fail", action="append", default=[], metavar="EXPR",
                        help="exit 1 when a check breaks EXPR: verdict, verdict:decided or "
                             "NAME:PCT%% (e.g. speedup:10%%); repeatable or comma-separated")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, metavar="A",
                        help=f"significance level of the comparison (default {DEFAULT_ALPHA})")
    parser.add_argument("--json", action="store_true",
                        help="print the comparison as JSON (the report's \"baseline\" object)")
    return parser


def _usage(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str]) -> int:
    """Run the command with ``argv`` (the arguments after ``compare``); the exit status."""
    args = _parser().parse_args(argv)
    if not 0.0 < args.alpha <= MAX_ALPHA:
        return _usage(f"invalid value {args.alpha!r} for --alpha: expected a number in "
                      f"(0, {MAX_ALPHA:g}]")
    try:
        criteria = parse_criteria(args.fail)
    except CriterionError as exc:
        return _usage(f"invalid value {exc.value!r} for --fail: {exc.reason}")
    try:
        baseline = load_report(Path(args.baseline))
        current = load_report(Path(args.current))
    except BaselineError as exc:
        return _usage(str(exc))
    result = compare_documents(baseline, current, path=args.baseline, criteria=criteria,
                               alpha=args.alpha)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        print(f"pytest-gil: {args.current} compared with {args.baseline}")
        for line, _ in comparison_lines(result, verbose=True):
            print(line)
    return EXIT_FAILED if gate_failures(result) else EXIT_OK
