"""Markdown for ``reports/bench.md`` and the goal checks, from the result dict of
``benchmarks/run.py`` (pure: no clocks, no processes; every section may be missing)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["evaluate_goals", "render", "secs"]

def secs(x: object) -> str:
    """``1.23 s``, ``45.6 ms``, ``78 µs``; ``—`` for a missing value."""
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return "—"
    if abs(x) >= 1:
        return f"{x:.2f} s"
    if abs(x) >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} µs"


def pct(x: object) -> str:
    return "—" if not isinstance(x, (int, float)) else f"{100 * x:.0f}%"


def p_text(p: object) -> str:
    if not isinstance(p, (int, float)):
        return "—"
    return "< 1e-12" if p < 1e-12 else f"{p:.1g}"


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows)]


def _load(x: object) -> str:
    if isinstance(x, Sequence) and not isinstance(x, str) and x:
        return " / ".join(f"{float(v):.2f}" for v in x[:3])
    return "—"


# --------------------------------------------------------------------------------------------
# goals


def evaluate_goals(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per goal of issue 8: target, the measured figure, met (True/False/None)."""
    s = result.get("sections") or {}
    goals: list[dict[str, Any]] = []
    qs = (s.get("verdict") or {}).get("questions") or []
    for q in qs:
        tools = q.get("tools") or {}
        mine = tools.get("pytest-gil") or {}
        t = mine.get("measure_seconds")
        right = mine.get("right")
        met = None if t is None else bool(right) and t < 1.0
        figure = (f"{secs(t)}, {mine.get('rounds')} rounds, {mine.get('answer') or 'no answer'}"
                  f"{'' if right else ' (expected ' + str(q.get('expected')) + ')'}")
        for name, other in tools.items():
            if name.startswith("pytest-gil @") and isinstance(other, Mapping):
                figure += (f"; {name.split('@')[1].strip()}: "
                           f"{secs(other.get('measure_seconds'))}, {other.get('rounds')} rounds, "
                           f"{other.get('answer') or 'no answer'}")
        goals.append({
            "goal": f"right verdict at α ≤ 1e-3 in < 1 s: {q.get('question')}",
            "target": "< 1 s, right", "figure": figure, "met": met,
        })
    fig = (s.get("suite") or {}).get("figures") or {}
    if fig.get("wall") is not None:
        wall = fig["wall"]
        goals.append({"goal": "claims suite wall time (default scale, 2 CPUs)",
                      "target": "< 60 s (aim 30 s)", "figure": secs(wall),
                      "met": wall < 60})
    if fig.get("phase_share") is not None:
        goals.append({"goal": "share of the suite inside measured phases",
                      "target": "≥ 60%", "figure": pct(fig["phase_share"]),
                      "met": fig["phase_share"] >= 0.6})
    acc = s.get("accuracy") or {}
    for label in ("quiet", "hog"):
        a = acc.get(label)
        if a and a.get("verdicts"):
            goals.append({"goal": f"no wrong verdicts ({label})", "target": "0 wrong",
                          "figure": f"{a['wrong']} of {a['verdicts']}",
                          "met": a["wrong"] == 0})
    sc = s.get("scale") or {}
    if sc.get("rows"):
        st = sc.get("stability") or {}
        wrong = sum(int((r.get("counts") or {}).get("wrong", 0)) for r in sc["rows"])
        flips = len(st.get("flips") or [])
        goals.append({"goal": "verdicts stable and right across --gil-scale",
                      "target": "no flips, no wrong verdict",
                      "figure": (f"{flips} flips in {st.get('claims')} claims, {wrong} wrong at "
                                 + ", ".join(f"{_g(r['scale'])}: "
                                             f"{(r.get('counts') or {}).get('wrong', 0)}"
                                             for r in sc["rows"])),
                      "met": not flips and not wrong})
    return goals


# --------------------------------------------------------------------------------------------
# sections


def _verdict_section(v: Mapping[str, Any]) -> list[str]:
    out = ["## Time to a verdict", ""]
    if v.get("plan"):
        return [*out, "Dry run: not measured. Commands:", "", "```",
                *v["plan"], "```", ""]
    if v.get("skipped"):
        return [*out, f"Not measured: {v['skipped']}", ""]
    out += [
        "Each tool in its own subprocess, timed end to end (start, imports, calibration, pool, "
        "measuring). *Answer* is the claim the tool's samples confirm under the engine's test "
        "at α = 1e-3 (pytest-gil: its own sequential test; peers: Welch t on their log times, "
        "same bounds: √ideal to confirm, ideal^¾ / ideal^¼ to refute); *p* is that claim's "
        f"confirm p-value. pyperf mode: {v.get('pyperf_mode', '?')}; its serial `calc` "
        "benchmark serves both `calc` questions and its time counts in both. *What α = 1e-3 "
        "needs*: the fewest leading worker processes / rounds of the peer's run whose values "
        "already confirm the claim (a run of that size would have sufficed), or the values "
        "per phase a run would need at the measured spread.",
        "",
    ]
    rows = []
    for q in v.get("questions") or []:
        for name, t in (q.get("tools") or {}).items():
            if not isinstance(t, Mapping):
                continue
            if t.get("error"):
                rows.append([q["question"], name, "error", "", "", "", secs(t.get("wall")),
                             "", str(t["error"])[:120]])
                continue
            a = t.get("analysis") or {}
            if name.startswith("pytest-gil"):
                sp = t.get("speedup") or {}
                conf = ("α 1e-3 (sequential)" if t.get("answer") else
                        f"undecided: {str(t.get('reason'))[:90]}")
                count = f"{t.get('rounds')} rounds (+1 warm-up, {t.get('suspect_rounds')} suspect)"
                says = "—"
                time_text = (f"{secs(t.get('measure_seconds'))} measuring; "
                             f"{secs(t.get('wall'))} end to end")
                need = ""
                value = sp.get("value")
            else:
                test = a.get("test") or {}
                value = (test.get("speedup") or {}).get("value")
                conf = f"p {p_text(a.get('p'))}"
                if name == "pyperf":
                    vals, procs = t.get("values") or ["?", "?"], t.get("processes") or ["?", "?"]
                    count = f"{vals[0]} + {vals[1]} values ({procs[0]} + {procs[1]} processes)"
                else:
                    rnds = t.get("rounds") or ["?", "?"]
                    count = f"{rnds[0]} + {rnds[1]} rounds"
                says = t.get("says", "—")
                time_text = secs(t.get("wall"))
                unit = "processes" if name == "pyperf" else "rounds"
                if a.get("first_decided_after") is not None:
                    need = (f"first {a['first_decided_after']} {unit} per phase sufficed "
                            f"(≈ {secs(a.get('would_need_seconds'))})")
                elif a.get("values_needed_per_arm") is not None:
                    need = (f"α 1e-3 not reached; needs ≈ {a['values_needed_per_arm']} values "
                            f"per phase (≈ {secs(a.get('would_need_seconds'))})")
                else:
                    need = "α 1e-3 not reachable: estimate on the bound"
            answer = t.get("answer") or "none"
            right = "✓" if t.get("right") else ("✗" if t.get("answer") else "–")
            sp_text = "—" if value is None else f"{value:.2f}×"
            rows.append([q["question"], name, f"{answer} {right}", sp_text, conf, count,
                         time_text, says, need])
    out += table(["question", "tool", "answer", "speedup", "confidence", "samples", "time",
                  "the tool says", "what α = 1e-3 needs"], rows)
    out += ["", "✓ right answer for this runtime, ✗ wrong, – no answer.", ""]
    return out


def _suite_section(su: Mapping[str, Any]) -> list[str]:
    out = ["## Claims suite", ""]
    if su.get("plan") or su.get("skipped"):
        return [*out, f"Not measured: {su.get('skipped') or 'dry run'} — "
                f"`{su.get('plan') or ''}`", ""]
    run = su.get("run") or {}
    f = su.get("figures") or {}
    c = run.get("counts") or {}
    out += [f"`{run.get('cmd', '')}` — exit {run.get('exit_code')}, "
            f"load before {_load(run.get('load_before'))}", ""]
    rows = [
        ["wall time", secs(f.get("wall")), ""],
        ["inside measured phases", secs(f.get("phases")), pct(f.get("phase_share"))],
        ["inside checks (phases + noise readings + statistics between rounds)",
         secs(f.get("checks")), pct(f.get("check_share"))],
        ["pytest session", secs(f.get("session")),
         pct(f["session"] / f["wall"]) if f.get("wall") and f.get("session") else "—"],
        ["interpreter start, plugin load, collection, report", secs(f.get("startup_and_report")),
         pct(f["startup_and_report"] / f["wall"]) if f.get("wall") and
         f.get("startup_and_report") is not None else "—"],
        ["calibration", secs(f.get("calibration")),
         pct(f["calibration"] / f["wall"]) if f.get("wall") and f.get("calibration") else "—"],
        ["unique checks / raw rounds", f"{f.get('unique_checks', '—')} / {f.get('rounds', '—')}",
         ""],
        ["verdicts", ", ".join(f"{k} {v}" for k, v in c.items() if v and k != "decidable"),
         ""],
    ]
    out += table(["figure", "value", "share of wall"], rows)
    kinds = f.get("phases_by_kind") or {}
    if kinds:
        out += ["", "Measured phases by check kind: " + ", ".join(
            f"{k} {secs(v)}" for k, v in kinds.items()) + "."]
    undecided = [r for r in run.get("records") or [] if r.get("verdict") == "inconclusive"]
    if undecided:
        out += ["", "Inconclusive in this run (end of each detail):", ""]
        out += [f"- {r.get('key')}: …{r.get('detail', '')[-200:]}" for r in undecided]
    return [*out, ""]


def _accuracy_section(acc: Mapping[str, Any]) -> list[str]:
    out = ["## Accuracy (repeated claims-suite runs, soak.py)", ""]
    if acc.get("plan") or acc.get("skipped"):
        return [*out, f"Not measured: {acc.get('skipped') or 'dry run'}", ""]
    rows = []
    for label in ("quiet", "hog"):
        a = acc.get(label)
        if not a:
            continue
        cond = "quiet" if label == "quiet" else f"CPU hog ({acc.get('hog_procs', 1)} process)"
        loads = a.get("loadavg") or []
        rows.append([cond, a["runs"], a["verdicts"], a["wrong"], a["inconclusive"],
                     pct(a.get("wrong_rate")), pct(a.get("inconclusive_rate")),
                     " ".join(f"{secs(d)}" for d in a.get("durations") or []),
                     _load(loads[0]) if loads else "—"])
    out += table(["condition", "runs", "verdicts", "wrong", "inconclusive", "wrong rate",
                  "inconclusive rate", "run times", "load at start"], rows)
    notes = []
    for label in ("quiet", "hog"):
        a = acc.get(label) or {}
        for k, v in (a.get("claims_not_clean") or {}).items():
            notes.append(f"{label}: {k} — {v['wrong']} wrong, {v['inconclusive']} "
                         f"inconclusive of {v['n']}")
    if notes:
        out += ["", "Not always decided right:", "", *(f"- {n}" for n in notes)]
    return [*out, ""]


def _g(x: object) -> str:
    """A scale as written on the command line (JSON turns the float keys into strings)."""
    try:
        return f"{float(str(x)):g}"
    except ValueError:
        return str(x)


def _med_max(d: object) -> str:
    if not isinstance(d, Mapping):
        return "—"
    return f"{secs(d.get('median'))} / {secs(d.get('max'))}"


def _harness_section(h: Mapping[str, Any]) -> list[str]:
    out = ["## Harness cost (runner_cost.py; median / max)", ""]
    if h.get("plan") or h.get("skipped"):
        return [*out, f"Not measured: {h.get('skipped') or 'dry run'}", ""]
    by_w: dict[int, dict[str, str]] = {}
    for r in h.get("thread_skew") or []:
        # runner_cost: {"sleep": {"skew", "lag"}, "calc": {...}} per row (older: flat)
        sl, cl = r.get("sleep") or r, r.get("calc") or {}
        by_w.setdefault(r["threads"], {})["skew"] = _med_max(sl.get("skew"))
        by_w[r["threads"]]["lag"] = _med_max(sl.get("lag"))
        by_w[r["threads"]]["cskew"] = _med_max(cl.get("skew"))
    for r in h.get("dispatch") or []:
        by_w.setdefault(r["workers"], {})["rt"] = _med_max(r.get("round_trip"))
        by_w[r["workers"]]["batch"] = _med_max(r.get("per_task_in_batch"))
        by_w[r["workers"]]["pskew"] = _med_max(r.get("skew"))
    it = h.get("interpreters") or {}
    for r in it.get("rows") or []:
        by_w.setdefault(r["workers"], {})["interp"] = _med_max(r.get("start_all_workers"))
    for r in h.get("pool_start") or []:
        if r.get("start_method") == h.get("default_start_method"):
            by_w.setdefault(r["workers"], {})["pool"] = _med_max(r.get("warm_up"))
    rows = [[w, d.get("skew", "—"), d.get("cskew", "—"), d.get("lag", "—"), d.get("rt", "—"),
             d.get("batch", "—"), d.get("pskew", "—"), d.get("pool", "—"), d.get("interp", "—")]
            for w, d in sorted(by_w.items())]
    out += table(["workers", "thread start skew (sleep tasks)", "(calc tasks)",
                  "barrier → last thread start", "pool round trip",
                  "pool dispatch per task (batch 100)", "pool start skew",
                  f"pool warm-up ({h.get('default_start_method', '?')})",
                  "sub-interpreters start"], rows)
    if not it.get("available", True):
        out += ["", f"Sub-interpreters: {it.get('reason')}."]
    for r in h.get("calibration") or []:
        out += ["", f"Calibration at scale {r['scale']:g} (target {secs(r['target'])}): "
                f"{_med_max(r.get('seconds'))}."]
    growth = h.get("growth") or {}
    if growth:
        out += ["", "Growth with workers (median at the most workers / at the fewest with a "
                "non-zero figure): " + ", ".join(
                    f"{k} ×{v['ratio']:.1f} ({v['from']} → {v['to']})"
                    for k, v in growth.items() if isinstance(v, Mapping)) + "."]
    return [*out, ""]


def _scale_section(sc: Mapping[str, Any]) -> list[str]:
    out = ["## Scale (`--gil-scale`)", ""]
    if sc.get("plan") or sc.get("skipped"):
        return [*out, f"Not measured: {sc.get('skipped') or 'dry run'}", ""]
    out += [f"`{' '.join(sc.get('tests') or [])}` at each scale.", ""]
    rows = []
    base = next((r for r in sc.get("rows") or [] if _g(r["scale"]) == "1"), None)
    bt = (base or {}).get("time") or {}
    base_ph, base_round = bt.get("phases"), bt.get("scaling_round_seconds")
    for r in sc.get("rows") or []:
        t = r.get("time") or {}
        c = r.get("counts") or {}
        ph, rnd = t.get("phases"), t.get("scaling_round_seconds")
        rel = f"×{ph / base_ph:.2f}" if ph and base_ph else "—"
        rel_round = f"{secs(rnd)} (×{rnd / base_round:.2f})" if rnd and base_round else secs(rnd)
        rows.append([_g(r["scale"]), secs(r.get("wall")), f"{secs(ph)} ({rel})", rel_round,
                     t.get("rounds", "—"), c.get("confirmed", 0), c.get("refuted", 0),
                     c.get("inconclusive", 0), c.get("not-testable", 0), c.get("wrong", 0)])
    out += table(["scale", "wall", "measured phases (vs scale 1)",
                  "calibrated round: serial + parallel (vs scale 1)", "raw rounds",
                  "confirmed", "refuted", "inconclusive", "not-testable", "wrong"], rows)
    out += ["", "Only the calibrated work (`calc`, sha256, zlib) is multiplied by the scale; "
            "sleeping tasks, fairness windows and latency probes keep their durations, so the "
            "suite's measured time grows less than the scale."]
    st = sc.get("stability") or {}
    flips = st.get("flips") or []
    out += ["", f"Decided verdicts that differ between scales: {len(flips)} of "
            f"{st.get('claims', '?')} claims."]
    for f in flips:
        out.append(f"- {f['claim']}: " + ", ".join(f"{_g(k)} → {v}" for k, v in
                                                  f["verdicts"].items()))
    und = st.get("inconclusive_somewhere") or []
    if und:
        out.append("Inconclusive at some scale: " + "; ".join(
            f"{u['claim']} (" + ", ".join(f"{_g(k)}: {v}" for k, v in u["verdicts"].items()) + ")"
            for u in und) + ".")
    return [*out, ""]


def render(result: Mapping[str, Any]) -> str:
    s = result.get("sections") or {}
    load = result.get("load") or {}
    lines = [
        "# pytest-gil benchmarks",
        "",
        f"{result.get('runtime_label', '?')} · load average (1/5/15 min) at start "
        f"{_load(load.get('start'))}, at end {_load(load.get('end'))} · "
        f"{result.get('created', '?')} · mode {result.get('mode', '?')} · "
        f"took {secs(result.get('elapsed'))}",
        "",
    ]
    goals = result.get("goals") or evaluate_goals(result)
    if goals:
        lines += ["## Goals (issue 8)", ""]
        lines += table(["goal", "target", "measured", "met"],
                       [[g["goal"], g["target"], g["figure"],
                         {True: "yes", False: "**no**", None: "—"}[g["met"]]] for g in goals])
        lines.append("")
    if "verdict" in s:
        lines += _verdict_section(s["verdict"])
    if "suite" in s:
        lines += _suite_section(s["suite"])
    if "accuracy" in s:
        lines += _accuracy_section(s["accuracy"])
    if "harness" in s:
        lines += _harness_section(s["harness"])
    if "scale" in s:
        lines += _scale_section(s["scale"])
    repro = result.get("reproduce")
    if repro:
        lines += ["## Reproduce", "", "```console", *repro, "```", ""]
    return "\n".join(lines).rstrip() + "\n"
