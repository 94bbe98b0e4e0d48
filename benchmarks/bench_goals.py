"""The goals of issue 12 ("verdicts that decide on real CI machines"), evaluated from a
benchmark run's figures: each *met*, *not met* or *not measured* — never asserted.

Pure: a function of the result dict of ``benchmarks/run.py`` (every section may be missing).
A goal stated over a number of repetitions or runs is *not measured* when this run made
fewer, unless what it did measure already breaks it (one wrong verdict is enough).
The accuracy goals are per interpreter: a run measures the one of ``--python``; run the
accuracy section once more with the other interpreter (``run.py``'s docstring shows how).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench_format import at_best_text, pct, secs, spread_text
from bench_questions import QUESTIONS, expected_answers

__all__ = [
    "ACCURACY_INTERPRETERS",
    "HOG_RUNS",
    "INCONCLUSIVE_MAX",
    "MEASURED_SHARE_MIN",
    "MIN_REPS",
    "QUIET_RUNS",
    "SUITE_WALL_MAX",
    "TIME_GOALS",
    "evaluate_goals",
    "goal_lines",
    "interpreter_key",
    "status",
]

TIME_GOALS: dict[str, float] = {
    "threads": 1.0,
    "sleep": 1.0,
    "release": 1.0,
    "hold": 1.0,
    "processes": 2.0,
}
"""Seconds the median time to a decided verdict may take, per question (issue 12): 1 s for
the GIL-bound and waiting questions; 2 s for processes, whose rounds carry pool dispatch and
whose speedup signal is the noisy one on shared vCPUs."""

MIN_REPS = 10
"""Repetitions per question a time goal is stated over ("over ≥ 10 repetitions")."""

SUITE_WALL_MAX = 30.0
"""Seconds ``pytest tests/claims`` may take, wall clock."""

MEASURED_SHARE_MIN = 0.60
"""The share of the suite's wall time to spend measuring (rounds and capacity windows)."""

INCONCLUSIVE_MAX = 0.05
"""The share of decidable verdicts that may be left undecided (inconclusive or not testable)
in the quiet runs."""

QUIET_RUNS = 10
"""Quiet back-to-back claims-suite runs the accuracy goals are stated over, per interpreter."""

HOG_RUNS = 5
"""Claims-suite runs beside a CPU hog the "no wrong verdict" goal is stated over."""

ACCURACY_INTERPRETERS = ("3.11", "3.13")
"""The interpreters the accuracy goals name (GIL builds)."""

STATUS = {True: "met", False: "not met", None: "not measured"}


def status(met: bool | None) -> str:
    """``met`` / ``not met`` / ``not measured``."""
    return STATUS[met]


def interpreter_key(profile: Mapping[str, Any]) -> str:
    """``3.11``, ``3.13t`` (a free-threaded build) from a runtime profile; ``?`` without one."""
    vi = profile.get("version_info") or []
    if len(vi) < 2:
        version = str(profile.get("version") or "")
        vi = version.split(".")[:2] if version.count(".") >= 1 else []
    if len(vi) < 2:
        return "?"
    return f"{vi[0]}.{vi[1]}" + ("t" if profile.get("free_threaded_build") else "")


def _goal(gid: str, goal: str, target: str, figure: str, met: bool | None) -> dict[str, Any]:
    return {"id": gid, "goal": goal, "target": target, "figure": figure, "met": met,
            "status": status(met)}


def _over_runs(violated: bool, enough: bool, holds: bool) -> bool | None:
    """A goal over N runs: broken as soon as what was measured breaks it, else met only when
    N runs were made."""
    if violated:
        return False
    return holds if enough else None


# --------------------------------------------------------------------------------------------
# time to a verdict


def _verdict_goal(qid: str, limit: float, rows: Mapping[str, Mapping[str, Any]],
                  plan_only: bool, expected_here: str | None) -> dict[str, Any]:
    row = rows.get(qid)
    expected = row.get("expected") if row is not None else expected_here
    text = (f"median time to a decided verdict: {QUESTIONS[qid].text}"
            + (f" ({expected})" if expected else ""))
    target = f"≤ {limit:g} s (the check's elapsed), over ≥ {MIN_REPS} repetitions, none wrong"
    if plan_only or row is None or not row.get("summary"):
        return _goal(f"verdict.{qid}", text, target, "—", None)
    s = row["summary"]
    o = s.get("outcomes") or {}
    reps = int(s.get("reps") or 0)
    t = (s.get("to_decided") or {}).get("elapsed")
    figure = (f"{secs(t) if t is not None else 'undecided'} — {o.get('right', 0)}/{reps} right, "
              f"{o.get('inconclusive', 0)} inconclusive, {o.get('wrong', 0)} wrong"
              + (f", {o['not-testable']} not testable" if o.get("not-testable") else "")
              + (f", {o['error']} failed" if o.get("error") else "")
              + f"; elapsed {spread_text(s.get('elapsed'))}, end to end "
              f"{spread_text(s.get('wall'))}, rounds {spread_text(s.get('rounds'), '')}"
              + (f"; at best {at_best_text(s['at_best'])}"
                 if s.get("at_best") else ""))
    if row.get("expected") is None:
        return _goal(f"verdict.{qid}", text, target,
                     f"not testable on this runtime; {figure}", None)
    met = _over_runs(violated=bool(o.get("wrong")), enough=reps >= MIN_REPS,
                     holds=t is not None and t <= limit)
    return _goal(f"verdict.{qid}", text, target, figure, met)


# --------------------------------------------------------------------------------------------
# the claims suite


def _suite_goals(fig: Mapping[str, Any]) -> list[dict[str, Any]]:
    wall = fig.get("wall")
    share = fig.get("measured_share")
    return [
        _goal("suite.wall", "`pytest tests/claims` wall time", f"< {SUITE_WALL_MAX:g} s",
              secs(wall), (wall < SUITE_WALL_MAX) if wall is not None else None),
        _goal("suite.measured-share", "share of the suite's wall time spent measuring",
              f"≥ {pct(MEASURED_SHARE_MIN)}",
              (f"{pct(share)} ({pct(fig.get('phase_share'))} in the checks' rounds, "
               f"{pct(fig.get('capacity_share'))} measuring the capacity)")
              if share is not None else "—",
              (share >= MEASURED_SHARE_MIN) if share is not None else None),
    ]


# --------------------------------------------------------------------------------------------
# accuracy


def _accuracy_goals(acc: Mapping[str, Any], this: str) -> list[dict[str, Any]]:
    measured_here = bool(acc.get("quiet") or acc.get("hog"))
    where = acc.get("interpreter") or this
    keys = list(ACCURACY_INTERPRETERS) + ([where] if measured_here
                                          and where not in ACCURACY_INTERPRETERS else [])
    out = []
    for key in keys:
        q = acc.get("quiet") if where == key else None
        gi = (f"accuracy.{key}.inconclusive", f"inconclusive verdicts, quiet runs ({key})",
              f"≤ {pct(INCONCLUSIVE_MAX)} over {QUIET_RUNS} back-to-back runs")
        gw = (f"accuracy.{key}.wrong", f"wrong verdicts, quiet runs ({key})",
              f"0 over {QUIET_RUNS} back-to-back runs")
        if not q:
            why = ("—" if key == where else
                   f"not measured here: run the accuracy section with --python <{key}>")
            out += [_goal(*gi, why, None), _goal(*gw, why, None)]
            continue
        runs, wrong = int(q.get("runs") or 0), q.get("wrong")
        rate = q.get("undecided_rate", q.get("inconclusive_rate"))
        runs_text = f"{runs} run{'s' if runs != 1 else ''}"
        nt = int(q.get("not_testable") or 0)
        out.append(_goal(*gi, f"{pct(rate)} ({q.get('inconclusive')} inconclusive"
                              + (f" + {nt} not testable" if nt else "")
                              + f" of {q.get('verdicts')} decidable verdicts, {runs_text})",
                         _over_runs(False, runs >= QUIET_RUNS and rate is not None,
                                    rate is not None and rate <= INCONCLUSIVE_MAX)))
        out.append(_goal(*gw, f"{wrong} of {q.get('verdicts')} ({runs_text})",
                         _over_runs(bool(wrong), runs >= QUIET_RUNS, not wrong)))
    h = acc.get("hog")
    gh = ("accuracy.hog.wrong", "wrong verdicts beside a CPU hog",
          f"0 over {HOG_RUNS} runs")
    if not h:
        out.append(_goal(*gh, "—", None))
    else:
        runs, wrong = int(h.get("runs") or 0), h.get("wrong")
        nt = int(h.get("not_testable") or 0)
        out.append(_goal(*gh, f"{wrong} of {h.get('verdicts')} ({runs} runs on {where}, "
                              f"{pct(h.get('inconclusive_rate'))} inconclusive"
                              + (f", {nt} not testable" if nt else "") + ")",
                         _over_runs(bool(wrong), runs >= HOG_RUNS, not wrong)))
    return out


# --------------------------------------------------------------------------------------------


def _scale_goal(sc: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: Sequence[Mapping[str, Any]] = sc.get("rows") or []
    if not rows:
        return []
    st = sc.get("stability") or {}
    wrong = sum(int((r.get("counts") or {}).get("wrong", 0)) for r in rows)
    flips = len(st.get("flips") or [])
    figure = (f"{flips} flips in {st.get('claims')} claims, {wrong} wrong ("
              + ", ".join(f"scale {r['scale']}: {(r.get('counts') or {}).get('wrong', 0)}"
                          for r in rows) + ")")
    return [_goal("scale.stable", "verdicts stable and right across --gil-scale (issue 8)",
                  "no flips, no wrong verdict", figure, not flips and not wrong)]


def evaluate_goals(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per goal: ``id``, ``goal``, ``target``, the measured ``figure``, ``met``
    (``True``/``False``/``None``) and its ``status`` in words."""
    s = result.get("sections") or {}
    verdict = s.get("verdict") or {}
    rows = {str(r.get("id")): r for r in verdict.get("questions") or []}
    expected = expected_answers(result.get("runtime") or {})
    goals = [_verdict_goal(qid, limit, rows, bool(verdict.get("plan")), expected[qid])
             for qid, limit in TIME_GOALS.items()]
    goals += _suite_goals((s.get("suite") or {}).get("figures") or {})
    goals += _accuracy_goals(s.get("accuracy") or {},
                             interpreter_key(result.get("runtime") or {}))
    goals += _scale_goal(s.get("scale") or {})
    return goals


def goal_lines(goals: Sequence[Mapping[str, Any]]) -> list[str]:
    """The goals for a terminal: one line each, the status first."""
    width = max((len(str(g.get("status"))) for g in goals), default=0)
    return ["goals (issue 12; evaluated, not asserted):",
            *(f"  {g.get('status')!s:<{width}}  {g.get('goal')}: {g.get('figure')} "
              f"(target {g.get('target')})" for g in goals)]
