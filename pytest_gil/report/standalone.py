"""A run report for checks measured outside pytest (``python -m pytest_gil check``).

The document has the shape of a pytest run's ``gil-<tag>.json`` (``docs/REPORT_SCHEMA.md``):
the same top-level keys (``tag``, ``runtime``, ``runtime_label``, ``settings``, ``session``,
``counts``, …) and one *standalone check record* per check, so every view of a run —
:func:`pytest_gil.report.html.render_html`, the Markdown summary, ``python -m pytest_gil
report`` — reads it unchanged.  Where a pytest run names the test that recorded a check
(``nodeid``), a standalone record names the question that measured it, and the record's
``outcome`` says what the question's expectation came to (``passed`` without one).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import write_atomic

if TYPE_CHECKING:
    from ..engine.check import Check

__all__ = ["OUTCOMES", "build_document", "check_record", "write_html"]

OUTCOMES: tuple[str, ...] = ("passed", "failed", "skipped")
"""What a standalone record's ``outcome`` may say: its expectation was met (or there was
none), contradicted, or left undecided (inconclusive, not testable) — pytest's words, so the
views read them as they read a test's."""


def check_record(check: Check, *, name: str, outcome: str = "passed",
                 duration: float | None = None) -> dict[str, Any]:
    """The standalone check RESULT of ``check``: the record a measuring function sends from
    inside a test (``claim`` ``null``, ``check``, ``check_id``, the CHECK in ``checks``),
    with ``name`` in place of the test's node id and ``outcome`` one of :data:`OUTCOMES`."""
    from ..engine.check import check_record as engine_record

    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    return {"nodeid": name, **engine_record(check), "expected": None, "statement": None,
            "worker": None, "outcome": outcome,
            "duration": round(check.elapsed if duration is None else duration, 6)}


def build_document(results: Sequence[Mapping[str, Any]], *, args: Sequence[str],
                   started: float, exitstatus: int, interrupted: bool = False,
                   options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run document of ``results`` (:func:`check_record`), for the runtime of this
    process and the settings in force.  ``started`` is a ``time.time()``; ``args`` the
    command's arguments; ``options`` the pytest-gil options it was given (by schema name,
    e.g. ``{"gil_budget": 5.0}``)."""
    from .. import settings
    from ..options import OPTIONS
    from ..profile import runtime_profile
    from .collect import iso_time, run_document, to_plain

    prof = runtime_profile()
    ordered = sorted(results, key=lambda r: str(r.get("nodeid")))
    given = dict(options or {})
    session = {
        "started": iso_time(started),
        "duration": round(time.time() - started, 3),
        "exitstatus": int(exitstatus),
        "interrupted": interrupted,
        "args": [str(a) for a in args],
        "tests_with_records": len({r.get("nodeid") for r in ordered}),
    }
    return run_document(to_plain(prof.to_dict()), prof.label(),
                        options={o.dest: given.get(o.dest) for o in OPTIONS},
                        run_settings=settings.current(), calibration={}, workers={},
                        session=session, results=ordered, tests={})


def write_html(doc: Mapping[str, Any], path: Path) -> None:
    """Render ``doc`` as the self-contained HTML page of a run and write it to ``path``
    atomically (``OSError`` when it cannot be written)."""
    from .html import render_html

    write_atomic(path, render_html(doc))
