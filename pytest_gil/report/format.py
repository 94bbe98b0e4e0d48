"""Formatting shared by every view of a run: numbers and figures with their intervals, record
titles and counts, runtime tags, labels and facts, and safe text for Markdown and HTML.

Nothing here imports pytest or matplotlib; the terminal summary, the Markdown and HTML pages
and the matrix all format through these functions, so a figure reads the same everywhere.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from ..vocabulary import VERDICTS

__all__ = [
    "Record",
    "check_figure",
    "claim_anchor",
    "counts_text",
    "e",
    "fmt_num",
    "fmt_seconds",
    "format_figure",
    "format_quantity",
    "key_figure",
    "md_cell",
    "mismatch",
    "num_or_none",
    "record_checks",
    "record_rounds",
    "record_statement",
    "record_title",
    "runtime_column_label",
    "runtime_facts",
    "runtime_tag",
    "session_text",
    "verdict_badge",
    "version_pair",
]

Record = Mapping[str, Any]


def fmt_num(value: Any) -> str:
    """A number with about three significant digits, never in exponent form for 0.001..99999."""
    if value is None:
        return "?"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    a = abs(v)
    if isinstance(value, int) and a < 1e6:
        return str(value)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.1:
        return f"{v:.2f}"
    if a >= 0.001:
        return f"{v:#.2g}"
    return f"{v:.2e}"


def _time_scale(value: float | None) -> tuple[float, str]:
    a = abs(value) if value is not None else 0.0
    if a == 0 or a >= 1:
        return 1.0, "s"
    if a >= 1e-3:
        return 1e3, "ms"
    return 1e6, "µs"


def num_or_none(x: Any) -> float | None:
    """A finite float, or ``None`` for anything else (JSON ``null``, text, NaN)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def format_quantity(
    value: Any,
    low: Any = None,
    high: Any = None,
    unit: str | None = "",
    *,
    ascii_only: bool = False,
) -> str:
    """``1.02x [0.95, 1.08]``, ``4.8 ms [4.1, 5.6]``, ``>=0.95x``: a value with its interval.

    A missing bound (``null`` in the JSON: unbounded or not computed) gives a one-sided form.
    Seconds are scaled to ms/µs.  With ``ascii_only`` the output is plain ASCII (terminal).
    """
    v, lo, hi = num_or_none(value), num_or_none(low), num_or_none(high)
    unit = unit or ""
    factor = 1.0
    if unit == "s":
        factor, unit = _time_scale(v if v is not None else (lo if lo is not None else hi))
    if ascii_only and unit == "µs":
        unit = "us"

    def num(x: float | None) -> str:
        return fmt_num(x * factor) if x is not None else "?"

    if unit in ("x", "×"):
        suffix = "x" if ascii_only else "×"
    elif unit == "%":
        suffix = "%"
    elif unit:
        suffix = f" {unit}"
    else:
        suffix = ""
    if v is None and lo is None and hi is None:
        return str(value) if value is not None else "n/a"
    main = f"{num(v)}{suffix}" if v is not None else ""
    ge, le = (">=", "<=") if ascii_only else ("≥", "≤")
    if lo is not None and hi is not None and not _informative(lo, hi):
        interval = "(too few rounds for an interval)"
    elif lo is not None and hi is not None:
        interval = f"[{num(lo)}, {num(hi)}]"
    elif lo is not None:
        interval = f"{ge}{num(lo)}" if v is None else f"[{ge}{num(lo)}]"
    elif hi is not None:
        interval = f"{le}{num(hi)}" if v is None else f"[{le}{num(hi)}]"
    else:
        interval = ""
    if not main:
        return f"{interval}{suffix}"
    return f"{main} {interval}".rstrip()


def _informative(lo: float, hi: float) -> bool:
    """Whether ``[lo, hi]`` says anything: not wider than a factor of
    :data:`~pytest_gil.engine.check.WIDE_INTERVAL` (intervals of ratios from 2–3 rounds, where
    the t quantile at the per-look α is in the hundreds, span many orders of magnitude)."""
    from ..engine.check import WIDE_INTERVAL

    if lo <= 0:
        return hi - lo <= WIDE_INTERVAL
    return hi / lo <= WIDE_INTERVAL


def format_figure(figure: Mapping[str, Any] | None, *, ascii_only: bool = False) -> str:
    """``speedup 1.02x [0.95, 1.08]`` from a FIGURE (a RECORD's ``figure``, a CHECK's
    ``figure`` or one of its ``figures``); ``""`` when there is none."""
    if not isinstance(figure, Mapping):
        return ""
    name = str(figure.get("name") or "").strip()
    unit = str(figure.get("unit") or "")
    if ascii_only:
        name, unit = _ascii(name), _ascii(unit)
    q = format_quantity(
        figure.get("value"),
        figure.get("low"),
        figure.get("high"),
        unit,
        ascii_only=ascii_only,
    )
    return f"{name} {q}".strip()


def _ascii(text: str) -> str:
    return text.replace("×", "x").replace("µ", "u").replace("≥", ">=").replace("≤", "<=")


def _has_value(figure: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(figure, Mapping) and num_or_none(figure.get("value")) is not None


def check_figure(check: Mapping[str, Any], signal: str | None = None) -> dict[str, Any] | None:
    """A FIGURE of a CHECK record: ``figures[signal]``; without ``signal`` its headline
    ``figure`` (else its first figure).  ``None`` when the check has no such figure with a
    value.  A figure without a name is named after its signal."""
    figures = check.get("figures")
    figures = figures if isinstance(figures, Mapping) else {}
    if signal is not None:
        fig = figures.get(signal)
        return {"name": signal, **fig} if _has_value(fig) else None
    headline = check.get("figure")
    if _has_value(headline):
        return dict(headline)
    for name, fig in figures.items():
        if _has_value(fig):
            return {"name": str(name), **fig}
    return None


def key_figure(record: Record) -> dict[str, Any] | None:
    """The record's key figure: its ``figure``, else the first check's headline figure."""
    fig = record.get("figure")
    if isinstance(fig, Mapping) and fig:
        return dict(fig)
    for check in record_checks(record):
        found = check_figure(check)
        if found is not None:
            return found
    return None


def record_title(record: Record) -> str:
    """What a row is called: the claim id (with its variant), else the label of the record or
    of its check, with the hypothesis a standalone check decided (``calc in 2 threads:
    serialized``), else the test's name."""
    variant = record.get("variant")
    suffix = f" ({variant})" if variant else ""
    if record.get("claim"):
        return f"{record['claim']}{suffix}"
    hypothesis = record.get("check")
    tested = f": {hypothesis}" if hypothesis else ""
    if record.get("label"):
        return f"{record['label']}{suffix}{tested}"
    for check in record_checks(record):
        if check.get("label"):
            return f"{check['label']}{tested}"
    nodeid = str(record.get("nodeid") or "?")
    return nodeid.rsplit("::", 1)[-1]


def claim_anchor(title: str) -> str:
    """The id of a claim's row in the run page (``claim-mylib.scales-thread``), from
    its :func:`record_title`: the matrix links each cell to it."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", title).strip("-")
    return f"claim-{slug or 'unnamed'}"


def record_statement(record: Record) -> str:
    """The claim's statement (schema 2 ``statement``; schema 1 called it ``document_says``),
    ``""`` for a check that is not a claim."""
    return str(record.get("statement") or record.get("document_says") or "")


def record_rounds(record: Record) -> int | None:
    """Total paired rounds behind a record (``rounds`` if given, else the sum over checks)."""
    val = record.get("rounds")
    if isinstance(val, int) and not isinstance(val, bool):
        return val
    total, seen = 0, False
    for check in record_checks(record):
        r = check.get("rounds")
        if isinstance(r, int) and not isinstance(r, bool):
            total += r
            seen = True
    return total if seen else None


def record_checks(record: Record) -> list[Mapping[str, Any]]:
    """The CHECK records of a record (anything that is not an object is left out)."""
    checks = record.get("checks")
    if not isinstance(checks, list):
        return []
    return [c for c in checks if isinstance(c, Mapping)]


def mismatch(record: Record) -> bool:
    """True when the measurement contradicts the expectation: one says confirmed, the other
    refuted.  (An inconclusive or not-testable verdict decides nothing, so it contradicts
    nothing; it is shown as such.)"""
    decided = ("confirmed", "refuted")
    expected, verdict = record.get("expected"), record.get("verdict")
    return expected in decided and verdict in decided and verdict != expected


def version_pair(profile: Mapping[str, Any]) -> tuple[int, int] | None:
    vi = profile.get("version_info")
    if isinstance(vi, (list, tuple)) and len(vi) >= 2:
        try:
            return int(vi[0]), int(vi[1])
        except (TypeError, ValueError):
            pass
    m = re.match(r"(\d+)\.(\d+)", str(profile.get("version") or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def runtime_tag(profile: Mapping[str, Any]) -> str:
    """File-name tag of a runtime: ``cpython-3.11-gil``, ``cpython-3.13t-nogil``.

    ``t`` marks a free-threaded build, the last part is the GIL state the run had.  A profile
    with injected fields gets ``-injected`` appended, so a test run with a faked profile never
    overwrites the report of a real runtime.
    """
    impl = str(profile.get("implementation") or "python").lower()
    pair = version_pair(profile)
    version = f"{pair[0]}.{pair[1]}" if pair else "unknown"
    t = "t" if profile.get("free_threaded_build") else ""
    state = "nogil" if profile.get("gil_enabled") is False else "gil"
    tag = f"{impl}-{version}{t}-{state}"
    if profile.get("injected"):
        tag += "-injected"
    return re.sub(r"[^a-z0-9._-]+", "-", tag.lower()).strip("-.") or "unknown"


def runtime_column_label(profile: Mapping[str, Any]) -> str:
    """Short column heading for the matrix: ``3.11``, ``3.13t``, ``3.13t+GIL``, ``PyPy 3.10``."""
    pair = version_pair(profile)
    label = f"{pair[0]}.{pair[1]}" if pair else str(profile.get("version") or "?")
    ft = bool(profile.get("free_threaded_build"))
    if ft:
        label += "t"
        if profile.get("gil_enabled") is not False:
            label += "+GIL"
    elif profile.get("gil_enabled") is False:
        label += " no-GIL"
    impl = str(profile.get("implementation") or "CPython")
    if impl.lower() != "cpython":
        label = f"{impl} {label}"
    if profile.get("injected"):
        label += " (injected)"
    return label


def runtime_facts(profile: Mapping[str, Any]) -> list[str]:
    """Short facts for a header: version, build, GIL state, usable CPUs (with their limits)."""
    impl = str(profile.get("implementation") or "Python")
    facts = [f"{impl} {profile.get('version') or '?'}"]
    facts.append("free-threaded build" if profile.get("free_threaded_build") else "GIL build")
    gil = profile.get("gil_enabled")
    state = "GIL enabled" if gil is not False else "GIL disabled"
    env = profile.get("python_gil_env")
    if env is not None:
        state += f" (PYTHON_GIL={env})"
    facts.append(state)
    cpus = profile.get("usable_cpus")
    if cpus is not None:
        limits = []
        if profile.get("cpu_affinity") is not None:
            limits.append(f"affinity {profile['cpu_affinity']}")
        if profile.get("cgroup_cpu_limit") is not None:
            limits.append(f"cgroup {fmt_num(profile['cgroup_cpu_limit'])}")
        if profile.get("logical_cores") is not None:
            limits.append(f"{profile['logical_cores']} logical")
        more = f" ({', '.join(limits)})" if limits else ""
        facts.append(f"{cpus} usable CPU{'s' if cpus != 1 else ''}{more}")
    if profile.get("injected"):
        facts.append("profile injected")
    return facts


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (no HTML, no pipes, one line)."""
    text = "" if value is None else str(value)
    text = html.escape(text, quote=False).replace("|", "\\|")
    return " ".join(text.split())


def counts_text(results: Sequence[Record]) -> str:
    counts: dict[str, int] = {}
    for rec in results:
        v = str(rec.get("verdict") or "none")
        counts[v] = counts.get(v, 0) + 1
    order = [v for v in VERDICTS if v in counts] + sorted(set(counts) - set(VERDICTS))
    return ", ".join(f"{counts[v]} {v}" for v in order) or "no records"


def session_text(doc: Mapping[str, Any]) -> str:
    """``12.3 s, exit status 0`` (+ ``, interrupted``)."""
    session = doc.get("session") if isinstance(doc.get("session"), Mapping) else {}
    assert isinstance(session, Mapping)
    parts = []
    if session.get("duration") is not None:
        parts.append(fmt_seconds(session.get("duration")))
    if session.get("exitstatus") is not None:
        parts.append(f"exit status {session.get('exitstatus')}")
    if session.get("interrupted"):
        parts.append("interrupted (partial results)")
    return ", ".join(parts)


def e(value: Any) -> str:
    """HTML-escape anything (``None`` → empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def verdict_badge(verdict: Any) -> str:
    v = str(verdict) if verdict else ""
    cls = v if v in VERDICTS else "other"
    return f'<span class="v v-{cls}">{e(v or "—")}</span>'


def fmt_seconds(seconds: Any) -> str:
    """``1.23 s``, ``45 ms``, ``<1 ms``."""
    d = num_or_none(seconds)
    if d is None:
        return ""
    if d >= 1:
        return f"{fmt_num(d)} s"
    if d >= 0.001:
        return f"{d * 1000:.0f} ms"
    return "<1 ms"
