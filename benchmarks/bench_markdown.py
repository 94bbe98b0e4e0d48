"""Markdown for ``reports/bench.md`` from the result dict of ``benchmarks/run.py`` (pure: no
clocks, no processes; every section may be missing, or be a dry run's plan)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bench_goals
import bench_stats
from bench_format import at_best_text, load, p_text, pct, secs, spread_text
from bench_questions import QUESTIONS

__all__ = ["render", "table"]

MARK = {True: "✓", False: "✗"}
"""Right / wrong answer for this runtime; ``–`` for no answer."""

REASON_CHARS = 160
"""Characters of an undecided repetition's reason shown (its end, which names the cause)."""


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table (``|`` inside a cell escaped)."""
    return [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows)]


def _not_measured(title: str, sec: Mapping[str, Any]) -> list[str] | None:
    """The lines of a section that was planned (dry run) or failed, else ``None``."""
    if sec.get("skipped"):
        return [title, "", f"Not measured: {sec['skipped']}", ""]
    plan = sec.get("plan")
    if plan:
        lines = plan if isinstance(plan, list) else [str(plan)]
        return [title, "", "Dry run: not measured. It would run:", "", "```", *lines, "```", ""]
    return None


def _mark(answer: object, right: object) -> str:
    return MARK[bool(right)] if answer else "–"


# --------------------------------------------------------------------------------------------
# goals


def _goals_section(goals: Sequence[Mapping[str, Any]]) -> list[str]:
    shown = {"met": "met", "not met": "**not met**", "not measured": "not measured"}
    rows = [[g["goal"], g["target"], g["figure"], shown.get(str(g.get("status")), "?")]
            for g in goals]
    return ["## Goals (issue 12)", "",
            "Evaluated from this run's figures, never asserted. A goal over N repetitions or "
            "runs is *not measured* when fewer were made, unless those already break it.", "",
            *table(["goal", "target", "measured", "status"], rows), ""]


# --------------------------------------------------------------------------------------------
# time to a verdict


def _outcomes_text(o: Mapping[str, Any], reps: object) -> str:
    text = (f"{o.get('right', 0)}/{reps} right, {o.get('inconclusive', 0)} inconclusive, "
            f"{o.get('wrong', 0)} wrong")
    if o.get("not-testable"):
        text += f", {o['not-testable']} not testable"
    if o.get("error"):
        text += f", {o['error']} failed"
    return text


def _ours_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    body = []
    for r in rows:
        s = r.get("summary") or {}
        td = s.get("to_decided") or {}
        body.append([
            r.get("question"), r.get("expected") or "not testable",
            _outcomes_text(s.get("outcomes") or {}, s.get("reps")),
            spread_text(s.get("elapsed")),
            secs(td.get("elapsed")) if td.get("elapsed") is not None else "undecided",
            spread_text(s.get("wall")),
            spread_text(s.get("rounds"), ""),
            at_best_text(s.get("at_best")),
            spread_text(s.get("capacity_seconds")),
            spread_text(s.get("import_seconds")),
        ])
    return table(["question", "expected", "repetitions", "check's elapsed", "median to a "
                  "decided verdict", "end to end", "rounds", "at best†", "capacity estimate",
                  "imports"], body)


def _shared_variance(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Whether the repetitions could have shared a variance (``bench_stats.shared_variance``),
    for the questions whose rounds scatter enough for it to matter (the known-variance figure
    above one round)."""
    out = []
    for r in rows:
        s = r.get("summary") or {}
        sv, best = s.get("shared_variance"), (s.get("at_best") or {}).get("rounds") or {}
        if not sv or not float(best.get("median") or 0) > 1:
            continue
        sd = sv["sd"]
        out.append(f"- {r.get('question')}: per-round log-sd {sd['median']:.3f} "
                   f"[{sd['min']:.3f}–{sd['max']:.3f}] over "
                   f"{sv['reps']} repetitions (pooled {sv['pooled_sd']:.3f}); Bartlett's test "
                   f"of equal variances p = {p_text(sv['bartlett_p'])}; the noisiest "
                   f"repetition tested with the pooled sd would have had "
                   f"{sv['worst_factor']:.0f}× its α per look")
    if not out:
        return []
    return ["", "Could the repetitions share a variance (the lever a test pooling the "
            "session's checks would pull)? Each repetition's own per-round spread, same "
            "design, minutes apart:", "", *out]


def _undecided(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        for rep in r.get("reps") or []:
            if rep.get("outcome") == "right":
                continue
            why = str(rep.get("error") or rep.get("reason") or "").replace("\n", " ")
            if len(why) > REASON_CHARS:
                why = "…" + why[-REASON_CHARS:]
            out.append(f"- {r.get('id')} #{rep.get('rep')}: {rep.get('outcome')}"
                       f" ({rep.get('answer') or 'no answer'}, {rep.get('rounds', '?')} rounds, "
                       f"stop {rep.get('stop') or '—'}){': ' + why if why else ''}")
    return ["", "Repetitions not decided right:", "", *out] if out else []


def _peer_cell(peer: object) -> str:
    if not isinstance(peer, Mapping):
        return "—"
    if peer.get("error"):
        return f"failed ({secs(peer.get('wall'))})"
    answer = peer.get("answer")
    borrowed = f" (the {peer['same_as']} run)" if peer.get("same_as") else ""
    return (f"{secs(peer.get('wall'))}{borrowed}, {answer or 'no answer'} "
            f"{_mark(answer, peer.get('right'))}")


def _side_by_side(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    body = []
    for r in rows:
        s = r.get("summary") or {}
        o = s.get("outcomes") or {}
        td = (s.get("to_decided") or {}).get("elapsed")
        ours = (f"{secs(td) if td is not None else 'undecided'} "
                f"(end to end {spread_text(s.get('wall'))}), "
                f"{o.get('right', 0)}/{s.get('reps', 0)} right")
        peers = r.get("peers") or {}
        note = r.get("peers_note") or ""
        body.append([r.get("question"), ours,
                     _peer_cell(peers.get("pyperf")) if peers else note or "—",
                     _peer_cell(peers.get("pytest-benchmark")) if peers else note or "—"])
    return table(["question", "pytest-gil: median to a decided verdict", "pyperf",
                  "pytest-benchmark"], body)


def _peer_rows(r: Mapping[str, Any]) -> list[list[object]]:
    out: list[list[object]] = []
    for name, t in (r.get("peers") or {}).items():
        if not isinstance(t, Mapping):
            continue
        if t.get("error"):
            out.append([r.get("question"), name, "error", "", "", "", secs(t.get("wall")),
                        "", str(t["error"])[:120]])
            continue
        a = t.get("analysis") or {}
        test = a.get("test") or {}
        value = (test.get("speedup") or {}).get("value")
        if name == "pyperf":
            vals, procs = t.get("values") or ["?", "?"], t.get("processes") or ["?", "?"]
            count = f"{vals[0]} + {vals[1]} values ({procs[0]} + {procs[1]} processes)"
        else:
            rnds = t.get("rounds") or ["?", "?"]
            count = f"{rnds[0]} + {rnds[1]} rounds"
        unit = "processes" if name == "pyperf" else "rounds"
        if a.get("first_decided_after") is not None:
            need = (f"first {a['first_decided_after']} {unit} per phase sufficed "
                    f"(≈ {secs(a.get('would_need_seconds'))})")
        elif a.get("values_needed_per_arm") is not None:
            need = (f"α 1e-3 not reached; needs ≈ {a['values_needed_per_arm']} values "
                    f"per phase (≈ {secs(a.get('would_need_seconds'))})")
        else:
            need = "α 1e-3 not reachable: estimate on the bound"
        answer = t.get("answer")
        tool = name + (f" (the {t['same_as']} run)" if t.get("same_as") else "")
        out.append([r.get("question"), tool, f"{answer or 'none'} {_mark(answer, t.get('right'))}",
                    "—" if value is None else f"{value:.2f}×", f"p {p_text(a.get('p'))}", count,
                    secs(t.get("wall")), t.get("says", "—"), need])
    return out


def _peers_section(v: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    body = [row for r in rows for row in _peer_rows(r)]
    if not body:
        return []
    notes = [f"- {r.get('question')}: {QUESTIONS[str(r['id'])].peer_note}" for r in rows
             if str(r.get("id")) in QUESTIONS and QUESTIONS[str(r["id"])].peer_note]
    return [
        "", "### The peers' runs", "",
        "Each peer once per question, in its own subprocesses, timed end to end. *Answer* is "
        "the claim the peer's samples confirm under the engine's test at α = 1e-3 (Welch t on "
        "their log times, same bounds: √ideal to confirm, ideal^¾ / ideal^¼ to refute); *p* "
        f"is that claim's confirm p-value. pyperf mode: {v.get('pyperf_mode', '?')}. *What "
        "α = 1e-3 needs*: the fewest leading worker processes / rounds of the peer's run whose "
        "values already confirm the claim, or the values per phase a run would need at the "
        "measured spread. They time durations, not a probe, so the release questions are "
        "asked of them as their users would ask:", "", *notes, "",
        *table(["question", "tool", "answer", "speedup", "confidence", "samples", "time",
                "the tool says", "what α = 1e-3 needs"], body),
        "", "✓ right answer for this runtime, ✗ wrong, – no answer.",
    ]


def _verdict_section(v: Mapping[str, Any]) -> list[str]:
    title = "## Time to a verdict"
    skipped = _not_measured(title, v)
    if skipped is not None:
        return skipped
    rows = v.get("questions") or []
    out = [
        title, "",
        f"pytest-gil answers each question {v.get('reps', '?')} times, each time in a fresh "
        "interpreter, the repetitions interleaved across the questions; the calc questions "
        f"time `calc({v.get('calc_n', '?')})` (50 ms, calibrated once for every tool). "
        "Figures are median [min–max] over the repetitions. *Check's elapsed*: the check's "
        "own `elapsed` (its rounds and statistics; the session's delivered capacity already "
        "known). *Median to a decided verdict*: the median of that, counting a repetition "
        "that did not decide right as never — \"undecided\" when more than half did not. "
        "*End to end*: from launching the interpreter to the verdict (imports, the capacity "
        "estimate, pools, the check). *Capacity estimate*: what measuring the delivered "
        "capacity cost, paid by the first CPU-bound scaling check of a session. "
        "*At best†*: the rounds (and, at the repetition's own seconds per round, the time) a "
        "test that knew each round's variance in advance would need to reach the expected "
        "answer at the engine's per-look α — (z·sd/margin)² from the repetition's own rounds "
        "(`bench_stats.rounds_at_best`); no test at that α does with fewer on that noise, "
        "so a time goal below it cannot be met on the machine that measured it. The second "
        "figure is the same for a test that estimates the variance from the check's own "
        "rounds (one look, no trimming): the fewest n with t(α, n−1)·sd/√n ≤ margin — what a "
        "check needs that does not borrow its variance from outside.", "",
        *_ours_table(rows), *_shared_variance(rows), *_undecided(rows), "",
        "### Side by side", "", *_side_by_side(rows), *_peers_section(v, rows), "",
    ]
    return out


# --------------------------------------------------------------------------------------------
# the delivered capacity


def _capacity_sources(s: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    sources: list[tuple[str, list[Mapping[str, Any]]]] = []
    v = s.get("verdict") or {}
    sources.append(("time to a verdict (one per CPU-bound repetition)",
                    list((v.get("capacity") or {}).get("estimates") or [])))
    fig = (s.get("suite") or {}).get("figures") or {}
    sources.append(("claims suite", list(fig.get("capacity_estimates") or [])))
    acc = s.get("accuracy") or {}
    for label in ("quiet", "hog"):
        runs = (acc.get(label) or {}).get("per_run") or []
        sources.append((f"accuracy, {label} runs",
                        [e for r in runs for e in r.get("capacity") or []]))
    return [(name, ests) for name, ests in sources if ests]


def _capacity_section(s: Mapping[str, Any]) -> list[str]:
    sources = _capacity_sources(s)
    if not sources:
        return []
    body = []
    for name, ests in sources:
        c = bench_stats.capacity_summary(ests) or {}
        body.append([name, c.get("estimates"), c.get("not_measured"),
                     spread_text(c.get("value"), "x"), spread_text(c.get("low"), "x"),
                     spread_text(c.get("high"), "x"), spread_text(c.get("windows"), ""),
                     c.get("disturbed"), spread_text(c.get("seconds"))])
    return ["## Delivered capacity (`pytest_gil.delivered_capacity(2)`)", "",
            "What 2 busy processes get done here over what one does, measured once per "
            "session (window pairs in the table); the ideal of the CPU-bound scaling checks. "
            "Median [min–max] over the estimates seen; each estimate (value, interval, windows, "
            "disturbed pairs, seconds) is in bench.json.", "",
            *table(["where", "estimates", "too busy to estimate", "value", "low bound",
                    "high bound", "window pairs", "disturbed pairs", "seconds"], body), ""]


# --------------------------------------------------------------------------------------------
# the claims suite and its accuracy


def _share(part: object, whole: object) -> str:
    ok = isinstance(part, (int, float)) and isinstance(whole, (int, float)) and whole > 0
    return pct(float(part) / float(whole)) if ok else "—"  # type: ignore[arg-type]


def _suite_section(su: Mapping[str, Any]) -> list[str]:
    title = "## Claims suite"
    skipped = _not_measured(title, su)
    if skipped is not None:
        return skipped
    run = su.get("run") or {}
    f = su.get("figures") or {}
    c = run.get("counts") or {}
    wall = f.get("wall")
    out = [title, "", f"`{run.get('cmd', '')}` — exit {run.get('exit_code')}, "
           f"load before {load(run.get('load_before'))}", ""]
    rows = [
        ["wall time", secs(wall), ""],
        ["measuring in all (the checks' rounds + the capacity estimate)", secs(f.get("measured")),
         pct(f.get("measured_share"))],
        ["inside the checks' rounds (their `raw[].seconds`)", secs(f.get("phases")),
         pct(f.get("phase_share"))],
        ["measuring the delivered capacity", secs(f.get("capacity")), pct(f.get("capacity_share"))],
        ["inside checks (rounds + statistics between them: `elapsed`)", secs(f.get("checks")),
         pct(f.get("check_share"))],
        ["pytest session", secs(f.get("session")), _share(f.get("session"), wall)],
        ["interpreter start, plugin load, collection, report", secs(f.get("startup_and_report")),
         _share(f.get("startup_and_report"), wall)],
        ["workload calibration", secs(f.get("calibration")), _share(f.get("calibration"), wall)],
        ["unique checks / rounds", f"{f.get('unique_checks', '—')} / {f.get('rounds', '—')}", ""],
        ["verdicts", ", ".join(f"{k} {v}" for k, v in c.items() if v and k != "decidable"), ""],
    ]
    out += table(["figure", "value", "share of wall"], rows)
    kinds = f.get("phases_by_kind") or {}
    if kinds:
        out += ["", "Rounds by check kind: " + ", ".join(
            f"{k} {secs(v)}" for k, v in kinds.items()) + "."]
    undecided = [r for r in run.get("records") or [] if r.get("verdict") == "inconclusive"]
    if undecided:
        out += ["", "Inconclusive in this run (end of each detail):", ""]
        out += [f"- {r.get('key')}: …{r.get('detail', '')[-200:]}" for r in undecided]
    return [*out, ""]


def _accuracy_rows(acc: Mapping[str, Any]) -> tuple[list[list[object]], list[list[object]]]:
    totals, per_run = [], []
    for label in ("quiet", "hog"):
        a = acc.get(label)
        if not a:
            continue
        cond = "quiet" if label == "quiet" else f"CPU hog ({acc.get('hog_procs', 1)} process)"
        loads = a.get("loadavg") or []
        totals.append([cond, a["runs"], a["verdicts"], a["inconclusive"],
                       a.get("not_testable", 0), a["wrong"],
                       pct(a.get("inconclusive_rate")), pct(a.get("wrong_rate")),
                       load(loads[0]) if loads else "—"])
        for r in a.get("per_run") or []:
            caps = ", ".join(f"{e.get('value', 0):.2f}×" for e in r.get("capacity") or []
                             if isinstance(e.get("value"), (int, float)))
            per_run.append([cond, r.get("run"), r.get("verdicts"), r.get("inconclusive"),
                            r.get("not_testable", 0), r.get("wrong"), r.get("exit_code"),
                            secs(r.get("duration")),
                            caps or "—"])
    return totals, per_run


def _stops_text(stops: object) -> str:
    """`` (stopped: last-look 5, not-replicated 1)``: why the undecided checks stopped."""
    if not isinstance(stops, Mapping) or not stops:
        return ""
    ranked = sorted(stops.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return " (stopped: " + ", ".join(f"{k} {n}" for k, n in ranked) + ")"


def _needed_text(needed: object) -> str:
    """``; needs 34 [21–80] rounds ≈ 14 s [8–30 s] (ran 20)`` for :func:`_accuracy_section`."""
    if not isinstance(needed, Mapping) or not needed.get("rounds_t"):
        return ""
    return (f"; needs {spread_text(needed['rounds_t'], '')} rounds"
            + (f" ≈ {spread_text(needed['seconds'])}" if needed.get("seconds") else "")
            + f" (ran {spread_text(needed.get('rounds_run'), '')})")


def _accuracy_section(acc: Mapping[str, Any]) -> list[str]:
    title = "## Accuracy (repeated claims-suite runs, soak.py)"
    skipped = _not_measured(title, acc)
    if skipped is not None:
        return skipped
    totals, per_run = _accuracy_rows(acc)
    out = [title, "",
           f"Interpreter {acc.get('interpreter', '?')} (`{acc.get('python', '?')}`). Counts over "
           "the decidable claims (expected confirmed or refuted); *wrong* is a decided verdict "
           "against the expected one; *not testable* decides nothing (the machine could not "
           "tell the hypotheses apart, for instance too busy to measure its capacity).", "",
           *table(["condition", "runs", "decidable verdicts", "inconclusive", "not testable",
                   "wrong",
                   "inconclusive rate", "wrong rate", "load at start"], totals)]
    if per_run:
        out += ["", *table(["condition", "run", "decidable verdicts", "inconclusive",
                            "not testable", "wrong", "exit", "wall", "capacity"], per_run)]
    notes = []
    for label in ("quiet", "hog"):
        a = acc.get(label) or {}
        for k, v in (a.get("claims_not_clean") or {}).items():
            notes.append(f"{label}: {k} — {v['wrong']} wrong, {v['inconclusive']} "
                         f"inconclusive, {v.get('not_testable', 0)} not testable of {v['n']}"
                         + _stops_text(v.get("stops")) + _needed_text(v.get("needed")))
    if notes:
        out += ["", "Not always decided right (*needs*: what the inconclusive verdicts' own "
                "clean rounds say a t test at the engine's α would have needed to reach the "
                "expected verdict, one look, no trimming — at least that; "
                "`bench_stats.rounds_needed`):", "", *(f"- {n}" for n in notes)]
    return [*out, ""]


# --------------------------------------------------------------------------------------------
# harness and scale (unchanged figures of earlier issues)


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
    skipped = _not_measured(out[0], h)
    if skipped is not None:
        return skipped
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
    skipped = _not_measured(out[0], sc)
    if skipped is not None:
        return skipped
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
    """The whole ``bench.md``."""
    s = result.get("sections") or {}
    ld = result.get("load") or {}
    lines = [
        "# pytest-gil benchmarks",
        "",
        f"{result.get('runtime_label', '?')} · load average (1/5/15 min) at start "
        f"{load(ld.get('start'))}, at end {load(ld.get('end'))} · "
        f"{result.get('created', '?')} · mode {result.get('mode', '?')} · "
        f"took {secs(result.get('elapsed'))}",
        "",
    ]
    upd = result.get("updated")
    if upd:
        lines += [f"Updated with `--update`: measured now {', '.join(upd['measured'])}; kept "
                  f"from the previous run {', '.join(upd['kept'])} (each section's load "
                  "after it is in bench.json).", ""]
    goals = result.get("goals")
    if goals is None:
        goals = bench_goals.evaluate_goals(result)
    if goals:
        lines += _goals_section(goals)
    writers = (("verdict", _verdict_section), ("suite", _suite_section),
               ("accuracy", _accuracy_section), ("harness", _harness_section),
               ("scale", _scale_section))
    for name, write in writers:
        if name in s:
            lines += write(s[name])
    lines += _capacity_section(s)
    repro = result.get("reproduce")
    if repro:
        lines += ["## Reproduce", "", "```console", *repro, "```", ""]
    return "\n".join(lines).rstrip() + "\n"
