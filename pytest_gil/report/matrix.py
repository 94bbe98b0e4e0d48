"""The matrix across runtimes: one row per claim, one column per runtime, cells = verdicts
(the HTML page draws it as a heat map, :mod:`.heatmap`).

Usage::

    python -m pytest_gil report reports/*.json [-o DIR]

reads run reports (``gil-<tag>.json``, see ``docs/REPORT_SCHEMA.md``; a directory stands for
the ``gil-*.json`` in it), keeps the newest report per runtime, prints the matrix as
Markdown and writes ``DIR/matrix.md`` and ``DIR/matrix.html`` (default ``DIR``: the directory
of the first file).  A file that is not a readable pytest-gil report is skipped with a
message naming it and the cause.

Reports of schema 1 (older runs: the statement was ``document_says``) and schema 2 are read
alike; a newer schema is read for the fields this version knows, with a warning.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import SCHEMA_VERSION, ReportFileError, read_report, write_atomic
from .format import (
    md_cell,
    mismatch,
    record_statement,
    record_title,
    runtime_column_label,
    runtime_tag,
    version_pair,
)
from .heatmap import MISSING, render_heatmap
from .why import record_why

__all__ = [
    "Matrix",
    "ReportFileError",
    "Run",
    "build_matrix",
    "load_run",
    "load_runs",
    "main",
    "render_html",
    "render_markdown",
    "write_matrix",
]

SUPPORTED_SCHEMA_VERSION = SCHEMA_VERSION


@dataclass
class Run:
    """One run report: where it came from and what it says."""

    path: Path
    doc: dict[str, Any]
    position: int
    warnings: list[str] = field(default_factory=list)

    @property
    def profile(self) -> dict[str, Any]:
        prof = self.doc.get("runtime")
        return prof if isinstance(prof, dict) else {}

    @property
    def tag(self) -> str:
        return str(self.doc.get("tag") or runtime_tag(self.profile))

    @property
    def label(self) -> str:
        return runtime_column_label(self.profile)

    @property
    def created(self) -> _dt.datetime:
        text = self.doc.get("created")
        try:
            when = _dt.datetime.fromisoformat(str(text))
            return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            mtime = self.path.stat().st_mtime if self.path.exists() else 0.0
            return _dt.datetime.fromtimestamp(mtime, _dt.timezone.utc)

    def sort_key(self) -> tuple[Any, ...]:
        """Column order: CPython GIL builds by version, then free-threaded builds, then others."""
        p = self.profile
        pair = version_pair(p) or (0, 0)
        impl = str(p.get("implementation") or "").lower()
        return (
            impl != "cpython",
            impl,
            bool(p.get("injected")),
            bool(p.get("free_threaded_build")),
            pair,
            p.get("gil_enabled") is not False,
            self.tag,
        )


def load_run(path: Path, position: int = 0) -> Run:
    """Read and check one run report; raises :class:`ReportFileError` naming the cause."""
    doc = read_report(path)
    version = doc["schema_version"]
    run = Run(path, doc, position)
    if version > SUPPORTED_SCHEMA_VERSION:
        run.warnings.append(
            f"{path}: schema_version {version} is newer than this pytest-gil reads "
            f"({SUPPORTED_SCHEMA_VERSION}); reading the fields it knows"
        )
    return run


def newest_per_runtime(runs: Sequence[Run]) -> tuple[list[Run], list[str]]:
    """One run per runtime tag: the newest (``created``; on a tie the later argument),
    in column order; plus a note per report set aside."""
    best: dict[str, Run] = {}
    notes = []
    for run in runs:
        old = best.get(run.tag)
        if old is None:
            best[run.tag] = run
            continue
        if (run.created, run.position) >= (old.created, old.position):
            newer, older = run, old
        else:
            newer, older = old, run
        best[run.tag] = newer
        notes.append(f"{older.path}: same runtime ({run.tag}) as {newer.path}, which is newer")
    return sorted(best.values(), key=Run.sort_key), notes


@dataclass
class Cell:
    """What one runtime measured for one claim (a claim can be decided by several tests)."""

    verdicts: list[str] = field(default_factory=list)
    differs: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if not self.verdicts:
            return MISSING
        return " / ".join(self.verdicts) + ("*" if self.differs else "")


@dataclass
class Matrix:
    """Claims × runtimes."""

    runs: list[Run]
    claims: list[str]
    cells: dict[tuple[str, str], Cell]
    sentences: dict[str, str]

    def cell(self, claim: str, run: Run) -> Cell:
        return self.cells.get((claim, run.tag), Cell())

    def flips(self, claim: str) -> bool:
        """Confirmed on some runtime and refuted on another."""
        seen = {v for run in self.runs for v in self.cell(claim, run).verdicts}
        return {"confirmed", "refuted"} <= seen


def build_matrix(runs: Sequence[Run]) -> Matrix:
    """The matrix of ``runs`` (already one per runtime, in column order): a row per claim,
    or per claim and variant (``mylib.claim (fork)``) when tests measure it several ways;
    then a row per standalone check (``assert_scales``, ``measure_scaling``, …), named as in
    the run page (``calc in 2 threads: parallel``) and described by the test that made it."""
    cells: dict[tuple[str, str], Cell] = {}
    sentences: dict[str, str] = {}
    claims: set[str] = set()
    checks: set[str] = set()
    for run in runs:
        for rec in run.doc.get("results") or []:
            if not isinstance(rec, dict):
                continue
            if rec.get("claim"):
                claim = str(rec["claim"])
                if rec.get("variant"):
                    claim += f" ({rec['variant']})"
                claims.add(claim)
                statement = record_statement(rec)
            else:
                claim = record_title(rec)
                checks.add(claim)
                statement = f"checked by {rec.get('nodeid') or '?'}"
            if statement and claim not in sentences:
                sentences[claim] = statement
            cell = cells.setdefault((claim, run.tag), Cell())
            verdict = str(rec.get("verdict") or "?")
            if verdict not in cell.verdicts:
                cell.verdicts.append(verdict)
            cell.notes.append(record_why(rec) or str(rec.get("detail") or ""))
            if mismatch(rec):
                cell.differs = True
    return Matrix(list(runs), sorted(claims) + sorted(checks - claims), cells, sentences)


def _run_line(run: Run) -> str:
    label = run.doc.get("runtime_label") or run.tag
    return f"{label}, run {run.doc.get('created') or '?'}"


def render_markdown(matrix: Matrix) -> str:
    """The matrix as a Markdown table, with a legend and the runtimes it was built from."""
    heads = [md_cell(r.label) for r in matrix.runs]
    lines = [
        "| claim or check | " + " | ".join(heads) + " | flips |",
        "|---|" + "---|" * len(heads) + "---|",
    ]
    for claim in matrix.claims:
        cells = [md_cell(matrix.cell(claim, r).text) for r in matrix.runs]
        flips = "yes" if matrix.flips(claim) else ""
        lines.append(f"| {md_cell(claim)} | " + " | ".join(cells) + f" | {flips} |")
    lines += [
        "",
        f"{MISSING} not run on that runtime · \\* differs from the verdict expected on that "
        "runtime · flips: confirmed on one runtime, refuted on another",
        "",
        "Runtimes:",
        "",
    ]
    for run in matrix.runs:
        lines.append(f"- **{md_cell(run.label)}**: {md_cell(_run_line(run))} (`{run.path.name}`)")
    lines.append("")
    return "\n".join(lines)


def render_html(matrix: Matrix, out_dir: Path | None = None) -> str:
    """The matrix as a self-contained HTML page: a heat map of verdicts whose cells link to
    the runs' pages (relative to ``out_dir``, where the page is written; no links without
    it)."""
    return render_heatmap(matrix, out_dir, {r.tag: _run_line(r) for r in matrix.runs})


def _expand(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        p = Path(name)
        if p.is_dir():
            files.extend(sorted(p.glob("gil-*.json")))
        else:
            files.append(p)
    return files


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_gil report",
        description="Build the matrix of claims across runtimes from pytest-gil run reports.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="run reports (gil-<tag>.json) or directories holding them",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="where to write matrix.md and matrix.html (default: the first file's directory)",
    )
    return parser


def _say(message: str) -> None:
    print(f"pytest-gil report: {message}", file=sys.stderr)


def load_runs(files: Sequence[Path]) -> list[Run]:
    """The usable run reports among ``files``; each unusable one (and each warning) is
    reported on stderr, naming the file."""
    runs: list[Run] = []
    for position, path in enumerate(files):
        try:
            run = load_run(path, position)
        except ReportFileError as exc:
            _say(f"skipping {path}: {exc}")
            continue
        for warning in run.warnings:
            _say(warning)
        runs.append(run)
    return runs


def write_matrix(matrix: Matrix, markdown: str, out_dir: Path) -> bool:
    """Write ``matrix.md`` and ``matrix.html`` into ``out_dir``; False (and a message) when
    it cannot be written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in (
            ("matrix.md", "# pytest-gil: claims across runtimes\n\n" + markdown),
            ("matrix.html", render_html(matrix, out_dir)),
        ):
            write_atomic(out_dir / name, text)
            _say(f"wrote {out_dir / name}")
    except OSError as exc:
        _say(f"cannot write to {out_dir}: {exc}")
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_gil report FILES... [-o DIR]``; returns the exit status.

    ``argv`` are the arguments after ``report``.  Exit status 0 when a matrix was written,
    1 when no file could be used or the output could not be written.
    """
    args = _parser().parse_args(list(argv) if argv is not None else None)
    files = _expand(args.files)
    runs = load_runs(files)
    if not runs:
        _say("no usable run report given")
        return 1
    chosen, notes = newest_per_runtime(runs)
    for note in notes:
        _say(f"ignoring {note}")
    matrix = build_matrix(chosen)
    markdown = render_markdown(matrix)
    print(markdown)
    out_dir = Path(args.output) if args.output else (files[0].parent if files else Path("."))
    return 0 if write_matrix(matrix, markdown, out_dir) else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
