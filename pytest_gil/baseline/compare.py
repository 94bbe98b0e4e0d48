"""This run against a baseline, check by check: the ``"baseline"`` object of the report.

Matching.  A standalone check record is matched by its test's node id, its check's label and
the hypothesis it decided; a claim record by node id, claim id and variant.  (A test that
records two checks of the same label gets ``#2``, ``#3``… on the later ones, in order.)
Records only in one run are *added* or *removed*.

For each pair: the verdicts before and after, and the two-run test of each figure both runs
measured (:func:`~pytest_gil.baseline.ratio.welch_ratio` on the clean per-round values
``CHECK.raw[i].values[signal]``: rounds that are not ``warmup`` and have an empty
``excluded``).  The *key* figure of a pair is the one the baseline's check headlined (the
signal that decided it), else the current one's.  ``regression``/``improvement`` say that the
key figure moved significantly (two-sided, at α) the wrong/right way; ``failed`` lists the
``--gil-compare-fail`` criteria the pair broke (:mod:`.criteria`).

Pure functions of two report documents (``docs/REPORT_SCHEMA.md``, schema 1 or 2).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..report.format import check_figure, record_checks, record_title, runtime_tag
from .criteria import LOWER_IS_BETTER, Criterion, normalise
from .ratio import Ratio, welch_ratio

__all__ = [
    "CAPACITY_TOLERANCE",
    "DEFAULT_ALPHA",
    "Entry",
    "compare_documents",
    "entries",
    "gate_failures",
    "key_signal",
    "machine_facts",
    "round_values",
]

DEFAULT_ALPHA = 0.01
"""α of the two-run comparison (``--gil-compare-alpha``).  A claim's verdict uses 0.001: a
wrong verdict is a wrong statement about the interpreter, published once.  A comparison is a
different error: it looks for a *change* between two short samples (a check stops at its first
decision, often after 3–6 rounds), and with 4–6 degrees of freedom Welch's t quantile at
0.001 (two-sided) is 8–13 standard errors, so a real drop from 1.9× to 1.3× would pass
unnoticed on a noisy machine.  At 0.01 the quantile is 4–6; a false alarm costs a re-run, and
the gate's rule also asks the estimated drop to exceed the threshold the user chose: simulated
false failures of ``speedup:10%`` stay below α per check (``tests/test_baseline_stats.py``;
figures in ``docs/BASELINES.md``)."""

CAPACITY_TOLERANCE = 0.15
"""A delivered capacity (``capacity N workers``) that differs by more than this fraction between
the runs, with intervals that do not overlap, is worth a warning: figures bounded by what the
machine delivered (speedups of processes) move with it, whatever the code did."""

FIGURE_UNITS = {"speedup": "x", "parallelism": "CPUs"}
"""Units of the schema-1 figures (schema 1 stored ``speedup``/``parallelism`` intervals)."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One comparable record of a run: what it is called, its verdict and the CHECK its
    figures come from."""

    nodeid: str
    label: str
    claim: str | None
    hypothesis: str
    verdict: str
    check: Mapping[str, Any] | None
    key: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# reading a run


def signals_of(check: Mapping[str, Any] | None) -> list[str]:
    """The signals a CHECK has figures for (schema 2 ``figures``; schema 1 top-level
    ``speedup``/``parallelism``)."""
    if check is None:
        return []
    figures = check.get("figures")
    if isinstance(figures, Mapping) and figures:
        return [str(s) for s in figures]
    return [s for s in FIGURE_UNITS if isinstance(check.get(s), Mapping)]


def figure_of(check: Mapping[str, Any] | None, signal: str) -> dict[str, Any] | None:
    """The FIGURE of ``signal`` in a CHECK (a schema-1 interval is given a name and unit)."""
    if check is None:
        return None
    found = check_figure(check, signal)
    if found is not None:
        return found
    old = check.get(signal)
    if isinstance(old, Mapping) and isinstance(old.get("value"), (int, float)):
        rounds = check.get("rounds")
        return {"name": signal, "value": old.get("value"), "low": old.get("low"),
                "high": old.get("high"), "unit": FIGURE_UNITS.get(signal, ""),
                "n": rounds if isinstance(rounds, int) else 0}
    return None


def key_signal(check: Mapping[str, Any] | None) -> str | None:
    """The signal of a CHECK's headline ``figure`` (the one that decided it), else its first
    signal; ``None`` when it has no figure."""
    signals = signals_of(check)
    if check is None or not signals:
        return None
    headline = check.get("figure")
    if isinstance(headline, Mapping):
        for s in signals:
            fig = figure_of(check, s)
            if fig is not None and (fig.get("name"), fig.get("value")) == (
                    headline.get("name"), headline.get("value")):
                return s
    return signals[0]


def _schema1_value(rnd: Mapping[str, Any], signal: str) -> Any:
    """A schema-1 round's ratio (those rounds had no ``values``): the scaling rounds'
    speedup ``t_serial/t_parallel`` and parallelism ``cpu_parallel/t_parallel``."""
    wall = rnd.get("t_parallel")
    if not isinstance(wall, (int, float)) or wall <= 0:
        return None
    top = {"speedup": rnd.get("t_serial"), "parallelism": rnd.get("cpu_parallel")}.get(signal)
    return top / wall if isinstance(top, (int, float)) else None


def round_values(check: Mapping[str, Any] | None, signal: str) -> list[float]:
    """The clean per-round values of ``signal`` in a CHECK: rounds that are not ``warmup`` and
    have an empty ``excluded`` (schema 1, which had no ``excluded``: not ``suspect``), positive
    and finite."""
    raw = check.get("raw") if check is not None else None
    if not isinstance(raw, list):
        return []
    out: list[float] = []
    for rnd in raw:
        if not isinstance(rnd, Mapping) or rnd.get("warmup"):
            continue
        if rnd.get("excluded") if "excluded" in rnd else rnd.get("suspect"):
            continue
        values = rnd.get("values")
        v = values.get(signal) if isinstance(values, Mapping) else _schema1_value(rnd, signal)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
            out.append(float(v))
    return out


def _claim_check(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The CHECK behind a claim record's figure: the one whose figure it reports, else the
    first with rounds, else the first."""
    checks = record_checks(record)
    fig = record.get("figure")
    if isinstance(fig, Mapping):
        for check in checks:
            for s in signals_of(check):
                own = figure_of(check, s)
                if own is not None and (own.get("name"), own.get("value")) == (
                        fig.get("name"), fig.get("value")):
                    return check
    with_rounds = [c for c in checks if round_values(c, key_signal(c) or "")]
    chosen = with_rounds or checks
    return chosen[0] if chosen else None


def entries(document: Mapping[str, Any]) -> dict[tuple[str, ...], Entry]:
    """The comparable records of a report document, by matching key, in report order."""
    out: dict[tuple[str, ...], Entry] = {}
    for rec in document.get("results") or []:
        if not isinstance(rec, Mapping):
            continue
        nodeid = str(rec.get("nodeid") or "?")
        claim = str(rec["claim"]) if rec.get("claim") else None
        if claim is not None:
            check = _claim_check(rec)
            label = record_title(rec)
            key: tuple[str, ...] = ("claim", nodeid, claim, str(rec.get("variant") or ""))
        else:
            checks = record_checks(rec)
            check = checks[0] if checks else None
            label = str((check or {}).get("label") or rec.get("label") or record_title(rec))
        hypothesis = str(rec.get("check") or (check or {}).get("claim_tested") or "")
        if claim is None:
            key = ("check", nodeid, label, hypothesis)
        base, n = key, 1
        while key in out:
            n += 1
            key = (*base, f"#{n}")
        out[key] = Entry(nodeid, label if n == 1 else f"{label} #{n}", claim, hypothesis,
                         str(rec.get("verdict")), check, key)
    return out


# ---------------------------------------------------------------------------------------------
# one pair


def _direction(signal: str) -> int:
    """+1 when more of ``signal`` is better, −1 when less is (:data:`LOWER_IS_BETTER`)."""
    return -1 if normalise(signal) in LOWER_IS_BETTER else 1


def _pair_signal(base: Entry, cur: Entry) -> str | None:
    b, c = key_signal(base.check), key_signal(cur.check)
    shared = [s for s in signals_of(base.check) if s in signals_of(cur.check)]
    for s in (b, c, *shared):
        if s is not None and s in shared:
            return s
    return b or c


def _signals(base: Entry, cur: Entry, alpha: float) -> dict[str, dict[str, Any]]:
    """Per signal either run has: its figure before and after and the ratio current/baseline."""
    names = list(dict.fromkeys([*signals_of(base.check), *signals_of(cur.check)]))
    out = {}
    for s in names:
        ratio = welch_ratio(s, round_values(base.check, s), round_values(cur.check, s), alpha)
        out[s] = {"baseline": figure_of(base.check, s), "current": figure_of(cur.check, s),
                  "ratio": ratio.to_dict()}
    return out


def _figure_names(signal: str, data: Mapping[str, Any]) -> list[str]:
    names = [signal]
    for side in ("baseline", "current"):
        fig = data.get(side)
        if isinstance(fig, Mapping) and fig.get("name"):
            names.append(str(fig["name"]))
    return names


def _broken(criteria: Sequence[Criterion], before: str, after: str,
            signals: Mapping[str, Mapping[str, Any]]) -> list[str]:
    failed = []
    for c in criteria:
        if c.kind == "figure":
            hit = any(c.matches(_figure_names(s, data))
                      and c.regressed(Ratio.from_dict(data.get("ratio")))
                      for s, data in signals.items())
        else:
            hit = c.verdict_broken(before, after)
        if hit:
            failed.append(c.text)
    return failed


def compare_entries(base: Entry, cur: Entry, criteria: Sequence[Criterion],
                    alpha: float) -> dict[str, Any]:
    """The comparison of one matched pair (the shape of ``docs/REPORT_SCHEMA.md``, section
    "baseline"), with ``signals``: every figure's before, after and ratio."""
    signals = _signals(base, cur, alpha)
    key = _pair_signal(base, cur)
    data = signals.get(key or "", {})
    ratio = Ratio.from_dict(data.get("ratio")) or Ratio(
        key or "", None, n_baseline=len(round_values(base.check, key or "")),
        n_current=len(round_values(cur.check, key or "")))
    moved = 0
    if ratio.value is not None and ratio.significant(alpha):
        moved = _direction(ratio.name) * (1 if ratio.value > 1 else -1)
    return {
        "nodeid": cur.nodeid, "label": cur.label, "claim": cur.claim,
        "hypothesis": cur.hypothesis or base.hypothesis,
        "baseline": {"verdict": base.verdict, "figure": data.get("baseline")},
        "current": {"verdict": cur.verdict, "figure": data.get("current")},
        "verdict_changed": base.verdict != cur.verdict,
        "ratio": ratio.to_dict(),
        "regression": moved < 0, "improvement": moved > 0,
        "failed": _broken(criteria, base.verdict, cur.verdict, signals),
        "signals": signals,
    }


# ---------------------------------------------------------------------------------------------
# two runs


def machine_facts(document: Mapping[str, Any]) -> dict[str, Any]:
    """What a run records of its machine: its ``saved`` object's host, CPU model, usable CPUs
    and capacity, else the usable CPUs of its ``runtime`` (a ``--gil-report`` file)."""
    saved = document.get("saved") if isinstance(document.get("saved"), Mapping) else {}
    runtime = document.get("runtime") if isinstance(document.get("runtime"), Mapping) else {}
    assert isinstance(saved, Mapping) and isinstance(runtime, Mapping)
    facts = {k: saved.get(k) for k in ("host", "cpu_model", "capacity") if saved.get(k)}
    cpus = saved.get("usable_cpus", runtime.get("usable_cpus"))
    if cpus is not None:
        facts["usable_cpus"] = cpus
    return facts


def _tag(document: Mapping[str, Any]) -> str:
    runtime = document.get("runtime")
    return str(document.get("tag") or runtime_tag(runtime if isinstance(runtime, Mapping)
                                                  else {}))


def _same_machine(before: Mapping[str, Any], after: Mapping[str, Any],
                  warnings: list[str]) -> bool:
    same = True
    for key, what in (("host", "host"), ("cpu_model", "CPU"), ("usable_cpus", "usable CPUs")):
        if key in before and key in after and before[key] != after[key]:
            warnings.append(f"another machine: the baseline ran on {what} {before[key]}, this "
                            f"run on {after[key]}; figures that depend on the machine differ")
            same = False
        elif key == "host" and (key not in before or key not in after):
            warnings.append("the baseline or this run records no host (a --gil-report file, "
                            "not a saved run): cannot tell whether they ran on one machine")
    _capacity_warnings(before.get("capacity"), after.get("capacity"), warnings)
    return same


def _capacity_warnings(before: Any, after: Any, warnings: list[str]) -> None:
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return
    for workers in sorted(set(before) & set(after)):
        b, a = before[workers], after[workers]
        try:
            bv, av = float(b["value"]), float(a["value"])
            apart = float(b["high"]) < float(a["low"]) or float(a["high"]) < float(b["low"])
        except (KeyError, TypeError, ValueError):
            continue
        if apart and abs(av / bv - 1.0) > CAPACITY_TOLERANCE:
            warnings.append(
                f"the machine delivered another capacity to {workers} workers: {bv:.2f}x in "
                f"the baseline, {av:.2f}x now; speedups bounded by it move with it")


def _interpreter(baseline: Mapping[str, Any], current: Mapping[str, Any],
                 warnings: list[str]) -> bool:
    before, after = _tag(baseline), _tag(current)
    if before != after:
        warnings.append(
            f"another interpreter: the baseline ran on {baseline.get('runtime_label') or before}"
            f", this run on {current.get('runtime_label') or after}; verdicts may differ by "
            "design (GIL or not), not by a change of the code")
        return False
    versions = [str((d.get("runtime") or {}).get("version") or "") for d in (baseline, current)]
    if versions[0] != versions[1] and all(versions):
        warnings.append(f"another patch release: Python {versions[0]} in the baseline, "
                        f"{versions[1]} now")
    return True


def _scale_warning(baseline: Mapping[str, Any], current: Mapping[str, Any],
                   warnings: list[str]) -> None:
    scales = []
    for doc in (baseline, current):
        s = doc.get("settings")
        scales.append(s.get("scale") if isinstance(s, Mapping) else None)
    if None not in scales and scales[0] != scales[1]:
        warnings.append(f"--gil-scale was {scales[0]} in the baseline and {scales[1]} now: "
                        "tasks of another length give other figures")


def _unmatched_criteria(criteria: Sequence[Criterion],
                        comparisons: Iterable[Mapping[str, Any]], warnings: list[str]) -> None:
    comparisons = list(comparisons)
    for c in criteria:
        if c.kind != "figure":
            continue
        if not any(c.matches(_figure_names(s, d))
                   for comp in comparisons for s, d in comp["signals"].items()):
            names = sorted({s for comp in comparisons for s in comp["signals"]})
            warnings.append(f"--gil-compare-fail={c.text}: no compared check has a figure "
                            f"named {c.signal} (figures: {', '.join(names) or 'none'})")


def compare_documents(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    path: str,
    criteria: Sequence[Criterion] = (),
    alpha: float = DEFAULT_ALPHA,
    current_machine: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``"baseline"`` object: ``current`` compared with ``baseline`` (read from ``path``)
    check by check, under ``criteria`` at ``alpha``.  ``current_machine`` overrides the
    machine facts of ``current`` (the plugin knows them before the run is saved)."""
    warnings: list[str] = []
    same_interpreter = _interpreter(baseline, current, warnings)
    same_machine = _same_machine(machine_facts(baseline),
                                 current_machine or machine_facts(current), warnings)
    _scale_warning(baseline, current, warnings)
    before, after = entries(baseline), entries(current)
    comparisons = [compare_entries(before[k], e, criteria, alpha)
                   for k, e in after.items() if k in before]
    _unmatched_criteria(criteria, comparisons, warnings)
    saved = baseline.get("saved")
    return {
        "path": path,
        "saved": dict(saved) if isinstance(saved, Mapping) else {},
        "runtime_label": str(baseline.get("runtime_label") or ""),
        "same_machine": same_machine,
        "same_interpreter": same_interpreter,
        "warnings": warnings,
        "alpha": alpha,
        "fail": [c.text for c in criteria],
        "comparisons": comparisons,
        "added": [{"nodeid": e.nodeid, "label": e.label} for k, e in after.items()
                  if k not in before],
        "removed": [{"nodeid": e.nodeid, "label": e.label} for k, e in before.items()
                    if k not in after],
    }


def gate_failures(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The comparisons of a ``"baseline"`` object that broke a criterion."""
    return [c for c in result.get("comparisons") or [] if c.get("failed")]
