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

import datetime as _dt
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import SCHEMA, SCHEMA_VERSION, write_atomic
from .format import runtime_tag

if TYPE_CHECKING:
    from ..engine.check import Check

__all__ = ["OUTCOMES", "build_document", "check_record", "write_html"]

OUTCOMES: tuple[str, ...] = ("passed", "failed", "skipped")
"""What a standalone record's ``outcome`` may say: its expectation was met (or there was
none), contradicted, or left undecided (inconclusive, not testable) — pytest's words, so the
views read them as they read a test's."""

OPTION_NAMES: tuple[str, ...] = ("gil_report", "gil_scale", "gil_budget", "gil_alpha",
                                 "gil_inconclusive", "gil_start_method")
"""The ``options`` of the schema: what was given for each pytest-gil option (``None`` when
the command has no such option or it was not given)."""


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


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="seconds")


def build_document(results: Sequence[Mapping[str, Any]], *, args: Sequence[str],
                   started: float, exitstatus: int, interrupted: bool = False,
                   options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run document of ``results`` (:func:`check_record`), for the runtime of this
    process and the settings in force.  ``started`` is a ``time.time()``; ``args`` the
    command's arguments; ``options`` the pytest-gil options it was given (by schema name,
    e.g. ``{"gil_budget": 5.0}``)."""
    from .. import settings
    from ..profile import runtime_profile
    from .collect import plugin_version, to_plain

    prof = runtime_profile()
    profile = to_plain(prof.to_dict())
    ordered = sorted(results, key=lambda r: str(r.get("nodeid")))
    counts: dict[str, int] = {}
    for rec in ordered:
        counts[str(rec.get("verdict"))] = counts.get(str(rec.get("verdict")), 0) + 1
    given = dict(options or {})
    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "plugin_version": plugin_version(),
        "created": _iso(time.time()),
        "tag": runtime_tag(profile),
        "runtime": profile,
        "runtime_label": prof.label(),
        "options": {name: given.get(name) for name in OPTION_NAMES},
        "settings": settings.current(),
        "calibration": {},
        "workers": {},
        "session": {
            "started": _iso(started),
            "duration": round(time.time() - started, 3),
            "exitstatus": int(exitstatus),
            "interrupted": interrupted,
            "args": [str(a) for a in args],
            "tests_with_records": len({r.get("nodeid") for r in ordered}),
        },
        "counts": counts,
        "results": ordered,
        "tests": {},
    }
    return to_plain(doc)  # type: ignore[no-any-return]


def write_html(doc: Mapping[str, Any], path: Path) -> None:
    """Render ``doc`` as the self-contained HTML page of a run and write it to ``path``
    atomically (``OSError`` when it cannot be written)."""
    from .html import render_html

    write_atomic(path, render_html(doc))
