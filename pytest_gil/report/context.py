"""What surrounds the verdicts: the capacity the machine delivered to parallel workers, and the
figures a test recorded that are not verdicts (``tests[nodeid]``, e.g. GIL contention).

Pure functions over the run document; the terminal summary, the Markdown and the HTML page
print them through these, so a capacity reads the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .format import fmt_num, fmt_seconds, format_quantity, num_or_none

__all__ = [
    "capacities",
    "capacity_from_calibration",
    "capacity_text",
    "contention_text",
    "test_data",
    "test_data_lines",
]

CAPACITY_NAME = re.compile(r"capacity (\d+) workers?")
"""The calibration entries :func:`pytest_gil.delivered_capacity` records, one per number of
workers (``capacity 2 workers``)."""

MAX_GENERIC_ITEMS = 6
"""Fields shown for per-test data of a kind this module does not know (the JSON has all)."""


def _measured_at(entry: Mapping[str, Any]) -> float:
    return num_or_none(entry.get("measured_at")) or 0.0


def capacity_entries(calibration: Any) -> Iterator[dict[str, Any]]:
    """Every ``capacity <N> workers`` entry of every process's calibration (``main``,
    ``gw0``, …), with ``workers`` and ``process`` added (xdist workers that share an
    estimate each record it)."""
    if not isinstance(calibration, Mapping):
        return
    for process, entries in calibration.items():
        if not isinstance(entries, Mapping):
            continue
        for name, data in entries.items():
            match = CAPACITY_NAME.fullmatch(str(name).strip())
            if match is not None and isinstance(data, Mapping):
                yield {**data, "workers": int(match.group(1)), "process": str(process)}


def capacity_from_calibration(calibration: Any) -> dict[str, dict[str, Any]]:
    """``{"<N>": {workers, value, low, high, alpha, windows, …, process}}`` from the
    ``capacity <N> workers`` entries of every process's calibration (``main``, ``gw0``, …):
    the most recently measured estimate per N, by N."""
    best: dict[str, dict[str, Any]] = {}
    for entry in capacity_entries(calibration):
        old = best.get(str(entry["workers"]))
        if old is None or _measured_at(entry) >= _measured_at(old):
            best[str(entry["workers"])] = entry
    return {k: best[k] for k in sorted(best, key=int)}


def capacities(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The run's capacity estimates by number of workers: the document's ``capacity``, else
    (a report written before it existed) read from its ``calibration``."""
    cap = doc.get("capacity")
    if not isinstance(cap, Mapping):
        cap = capacity_from_calibration(doc.get("calibration"))
    return [v for _, v in sorted(cap.items(), key=lambda kv: str(kv[0]).zfill(6))
            if isinstance(v, Mapping) and num_or_none(v.get("value")) is not None]


def capacity_text(entry: Mapping[str, Any], *, ascii_only: bool = False) -> str:
    """``delivered capacity 1.93× [1.80, 2.05] for 2 workers``."""
    q = format_quantity(entry.get("value"), entry.get("low"), entry.get("high"), "x",
                        ascii_only=ascii_only)
    workers = entry.get("workers")
    noun = "worker" if workers == 1 else "workers"
    return f"delivered capacity {q} for {workers} {noun}"


def test_data(doc: Mapping[str, Any], nodeid: Any) -> Mapping[str, Any]:
    """The per-test figures of ``nodeid`` (``tests[nodeid]``), ``{}`` when it has none."""
    tests = doc.get("tests")
    data = tests.get(str(nodeid)) if isinstance(tests, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def _percent(value: Any) -> str:
    v = num_or_none(value)
    return "?" if v is None else f"{v * 100:.0f}%" if v >= 0.01 or v == 0 else f"{v * 100:.1g}%"


def contention_text(c: Mapping[str, Any]) -> str:
    """``GIL contention: waiting 34% of the time, mean delay 1.2 ms, p99 5 ms (1200 samples,
    overhead 2%)``, from a ``contention`` entry; the parts it lacks are left out."""
    if c.get("gil_enabled") is False:
        head = "GIL contention: none to measure (GIL disabled)"
    else:
        head = f"GIL contention: waiting {_percent(c.get('wait_fraction'))} of the time"
    parts = [head]
    for key, name in (("mean_delay", "mean delay"), ("p99_delay", "p99")):
        if num_or_none(c.get(key)) is not None:
            parts.append(f"{name} {fmt_seconds(c.get(key))}")
    extra = []
    if isinstance(c.get("samples"), int):
        extra.append(f"{c['samples']} samples")
    if num_or_none(c.get("overhead")) is not None:
        extra.append(f"overhead {_percent(c.get('overhead'))}")
    text = ", ".join(parts) + (f" ({', '.join(extra)})" if extra else "")
    note = " ".join(str(c.get("note") or "").split())
    return f"{text} — {note}" if note else text


def _generic(name: str, data: Any) -> str:
    """``name: a 1.5, b yes`` for per-test data of a kind without its own wording."""
    if not isinstance(data, Mapping):
        return f"{name}: {fmt_num(data)}"
    items = [f"{k} {fmt_num(v)}" for k, v in list(data.items())[:MAX_GENERIC_ITEMS]
             if not isinstance(v, (Mapping, list))]
    more = " …" if len(data) > MAX_GENERIC_ITEMS else ""
    return f"{name}: {', '.join(items)}{more}"


def test_data_lines(data: Mapping[str, Any]) -> list[str]:
    """One line per named entry of a test's per-test figures."""
    lines = []
    for name, value in data.items():
        if name == "contention" and isinstance(value, Mapping):
            lines.append(contention_text(value))
        else:
            lines.append(_generic(str(name), value))
    return lines
