"""Report files: ``gil-<tag>.json``, ``.md`` and ``.html`` written atomically, and what changed
since the previous report of the same runtime."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .format import record_title

__all__ = ["SCHEMA", "SCHEMA_VERSION", "ReportFileError", "Written", "read_report",
           "write_atomic", "write_reports"]

SCHEMA = "pytest-gil-report"
SCHEMA_VERSION = 2


class ReportFileError(Exception):
    """A file that cannot be used as a run report (the message names the cause)."""


def read_report(path: Path) -> dict[str, Any]:
    """The run report in ``path``: strict about what every reader needs (a JSON object
    with ``"schema": "pytest-gil-report"``, an integer ``schema_version`` and a ``results``
    list), silent about the rest; :class:`ReportFileError` with the cause otherwise.  Which
    versions to accept is the caller's choice."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFileError("no such file") from None
    except IsADirectoryError:
        raise ReportFileError("is a directory, not a report file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFileError(f"cannot read it ({exc})") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ReportFileError(f"not valid JSON (truncated or corrupt?): {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ReportFileError(f'not a pytest-gil report (no "schema": "{SCHEMA}")')
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportFileError("no integer schema_version")
    if not isinstance(doc.get("results"), list):
        raise ReportFileError('no "results" list')
    return doc


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and
    ``os.replace``: readers see the old file or the new one, never a truncated one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class Written:
    paths: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


def write_reports(doc: Mapping[str, Any], directory: Path) -> Written:
    """Write ``gil-<tag>.json``, ``.md`` and ``.html`` into ``directory``.

    Problems (unwritable directory, corrupt previous file, a rendering failure) are returned
    as messages naming the path and the cause; they never raise.
    """
    written = Written()
    tag = str(doc.get("tag") or "unknown")
    json_path = directory / f"gil-{tag}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        written.problems.append(f"cannot write reports to {directory}: {_cause(exc)}")
        return written
    written.changes = _changes_since(json_path, doc, written.problems)
    try:
        text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        written.problems.append(f"cannot serialise the report for {json_path}: {exc}")
        return written
    from .html import render_html  # the views load when a report is written
    from .markdown import render_markdown

    outputs: list[tuple[Path, Any]] = [
        (json_path, lambda: text),
        (directory / f"gil-{tag}.md", lambda: render_markdown(doc)),
        (directory / f"gil-{tag}.html", lambda: render_html(doc)),
    ]
    for path, render in outputs:
        try:
            content = render()
        except Exception as exc:  # a rendering bug must not cost the other files
            written.problems.append(f"could not render {path}: {type(exc).__name__}: {exc}")
            continue
        try:
            write_atomic(path, content)
        except OSError as exc:
            written.problems.append(f"cannot write report {path}: {_cause(exc)}")
        else:
            written.paths.append(path)
    return written


def _cause(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def _changes_since(path: Path, doc: Mapping[str, Any], problems: list[str]) -> list[str]:
    """Verdicts that differ from the previous report of this runtime (read before replacing
    it).  A corrupt previous file is reported and then replaced."""
    try:
        previous_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"cannot read the previous report {path}: {exc}")
        return []
    try:
        previous = json.loads(previous_text)
        if not isinstance(previous, dict) or previous.get("schema") != SCHEMA:
            raise ValueError("not a pytest-gil report")
        old = {
            (r.get("nodeid"), record_title(r)): r.get("verdict")
            for r in previous.get("results") or []
            if isinstance(r, dict)
        }
    except (ValueError, AttributeError) as exc:
        problems.append(f"previous report {path} is corrupt ({exc}); replacing it")
        return []
    changes = []
    for rec in doc.get("results") or []:
        key = (rec.get("nodeid"), record_title(rec))
        if key in old and old[key] != rec.get("verdict"):
            changes.append(
                f"changed since the previous run ({previous.get('created')}): "
                f"{record_title(rec)}: {old[key]} -> {rec.get('verdict')}"
            )
    return changes
