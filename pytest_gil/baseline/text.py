"""The comparison as text: the terminal section of ``--gil-compare`` and the output of
``python -m pytest_gil compare`` (the same lines).  ASCII only, like the run's own summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..report.format import fmt_num, format_quantity

__all__ = ["STATUSES", "Line", "comparison_lines", "saved_text", "status"]

Line = tuple[str, dict[str, bool]]

STATUSES = ("failed", "regressed", "changed", "improved", "unchanged")
"""What a compared check is, first match wins: it broke a ``--gil-compare-fail`` criterion;
its key figure dropped significantly; its verdict changed; its key figure rose significantly;
none of these."""

_MARKUP: dict[str, dict[str, bool]] = {
    "failed": {"red": True, "bold": True},
    "regressed": {"red": True},
    "changed": {"yellow": True},
    "improved": {"green": True},
    "unchanged": {},
}
INDENT = " " * 11


def status(comparison: Mapping[str, Any]) -> str:
    """The :data:`STATUSES` entry of one comparison."""
    if comparison.get("failed"):
        return "failed"
    if comparison.get("regression"):
        return "regressed"
    if comparison.get("verdict_changed"):
        return "changed"
    if comparison.get("improvement"):
        return "improved"
    return "unchanged"


def saved_text(saved: Mapping[str, Any]) -> str:
    """``run 0002 of Linux-CPython-3.11-64bit, commit 1a2b3c4-dirty (main), 2026-…``."""
    if not saved:
        return "a report file (not a saved run)"
    parts = []
    if saved.get("number") is not None:
        parts.append(f"run {int(saved['number']):04d} of {saved.get('machine_id') or '?'}")
    commit = saved.get("commit")
    if commit:
        dirty = "-dirty" if saved.get("dirty") else ""
        branch = f" ({saved['branch']})" if saved.get("branch") else ""
        parts.append(f"commit {commit}{dirty}{branch}")
    else:
        parts.append("no commit")
    if saved.get("created"):
        parts.append(str(saved["created"]))
    return ", ".join(parts)


def _ratio_text(ratio: Mapping[str, Any]) -> str:
    if ratio.get("value") is None:
        return "no rounds to compare"
    q = format_quantity(ratio.get("value"), ratio.get("low"), ratio.get("high"), "x",
                        ascii_only=True)
    if ratio.get("p_value") is None:
        return f"ratio {q} (too few rounds for a test)"
    return f"ratio {q}, p={fmt_num(ratio['p_value'])}"


def _quantity(fig: Any) -> str:
    if not isinstance(fig, Mapping):
        return "n/a"
    return format_quantity(fig.get("value"), fig.get("low"), fig.get("high"),
                           str(fig.get("unit") or ""), ascii_only=True)


def _figures_text(signal: str, data: Mapping[str, Any]) -> str:
    """``speedup 1.90x [1.45, 2.50] -> 1.30x [1.27, 1.33]: ratio 0.68 [0.66, 0.71], p=…``."""
    before, after = data.get("baseline"), data.get("current")
    named = [f for f in (before, after) if isinstance(f, Mapping) and f.get("name")]
    name = str(named[0]["name"]).replace("×", "x") if named else signal
    ratio = data.get("ratio") if isinstance(data.get("ratio"), Mapping) else {}
    assert isinstance(ratio, Mapping)
    return f"{name} {_quantity(before)} -> {_quantity(after)}: {_ratio_text(ratio)}"


def _detail(comparison: Mapping[str, Any]) -> str:
    b, c = comparison.get("baseline") or {}, comparison.get("current") or {}
    verdict = (f"verdict {b.get('verdict')} -> {c.get('verdict')}"
               if comparison.get("verdict_changed") else f"verdict {c.get('verdict')}")
    parts = [verdict]
    signals = comparison.get("signals") if isinstance(comparison.get("signals"), Mapping) else {}
    assert isinstance(signals, Mapping)
    key = str((comparison.get("ratio") or {}).get("name") or "")
    shown = [key] if key in signals else []
    failed = [str(f) for f in comparison.get("failed") or []]
    for text in failed:
        name = text.split(":", 1)[0]
        shown += [s for s in signals if s not in shown and _names_match(name, s, signals[s])]
    for s in shown:
        parts.append(_figures_text(s, signals[s]))
    if failed:
        parts.append("breaks " + ", ".join(failed))
    return "; ".join(parts)


def _names_match(criterion_name: str, signal: str, data: Mapping[str, Any]) -> bool:
    from .criteria import normalise

    names = [signal] + [str(f.get("name")) for f in (data.get("baseline"),
                                                     data.get("current"))
                        if isinstance(f, Mapping) and f.get("name")]
    return any(normalise(n) == criterion_name for n in names)


COUNT_WORDS = {"failed": "failed the gate", "regressed": "regressed",
               "changed": "verdict changed", "improved": "improved", "unchanged": "unchanged"}


def _counts(by_status: Mapping[str, int], result: Mapping[str, Any], verbose: bool) -> str:
    """``compared 4 checks: 1 failed the gate, … 2 unchanged; 1 added, 0 removed (alpha …)``."""
    total = sum(by_status.values())
    parts = [f"{by_status.get(s, 0)} {COUNT_WORDS[s]}" for s in STATUSES]
    if by_status.get("unchanged") and not verbose:
        parts[-1] += " (-v lists them)"
    added, removed = len(result.get("added") or []), len(result.get("removed") or [])
    alpha = result.get("alpha")
    level = f"{alpha:g}" if isinstance(alpha, (int, float)) else "?"
    return (f"compared {total} check{'' if total == 1 else 's'}: {', '.join(parts)}; "
            f"{added} added, {removed} removed (alpha {level})")


def comparison_lines(result: Mapping[str, Any], *, verbose: bool = False) -> list[Line]:
    """The lines of a ``"baseline"`` object with their markup: the baseline, warnings, one
    entry per failed/regressed/changed/improved check (every check with ``verbose``), the
    added and removed ones, the counts and the gate's outcome."""
    saved = result.get("saved") if isinstance(result.get("saved"), Mapping) else {}
    assert isinstance(saved, Mapping)
    out: list[Line] = [(f"baseline: {saved_text(saved)}", {"bold": True})]
    if result.get("runtime_label"):
        out.append((f"baseline runtime: {result['runtime_label']}", {}))
    out += [(f"warning: {w}", {"yellow": True}) for w in result.get("warnings") or []]
    comparisons: Sequence[Mapping[str, Any]] = result.get("comparisons") or []
    by_status: dict[str, int] = {}
    for comp in comparisons:
        st = status(comp)
        by_status[st] = by_status.get(st, 0) + 1
        if st == "unchanged" and not verbose:
            continue
        out.append((f"{st.upper():<10} {comp.get('nodeid')} [{comp.get('label')}]",
                    _MARKUP[st]))
        out.append((f"{INDENT}{_detail(comp)}", {}))
    for what in ("added", "removed"):
        for item in result.get(what) or []:
            out.append((f"{what.upper():<10} {item.get('nodeid')} [{item.get('label')}]", {}))
    out.append((_counts(by_status, result, verbose), {"bold": True}))
    out.extend(_gate_lines(result, by_status.get("failed", 0)))
    return [(_ascii(line), markup) for line, markup in out]


_ASCII = str.maketrans({"·": "-", "×": "x", "µ": "u", "≥": ">=", "≤": "<=", "→": "->",
                        "—": "-"})


def _ascii(text: str) -> str:
    return text.translate(_ASCII)


def _gate_lines(result: Mapping[str, Any], failed: int) -> list[Line]:
    criteria = [str(c) for c in result.get("fail") or []]
    if not criteria:
        return []
    given = ", ".join(criteria)
    if failed:
        noun = "check breaks" if failed == 1 else "checks break"
        return [(f"comparison gate FAILED: {failed} {noun} --gil-compare-fail={given}",
                 {"red": True, "bold": True})]
    return [(f"comparison gate passed: no check breaks --gil-compare-fail={given}",
             {"green": True})]
