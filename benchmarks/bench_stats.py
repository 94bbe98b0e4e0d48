"""Pure helpers of ``benchmarks/run.py``: the significance test applied to the peers' samples,
how many samples a peer would need, the outcome of a repetition and the spread of repeated
figures, the delivered-capacity estimates of a report, and the time a claims-suite report spent
in measured phases.  No clocks, no processes: everything here is a function of numbers or of a
parsed report, so ``tests/test_benchmarks_smoke.py`` tests it on synthetic data.

The peers (pyperf, pytest-benchmark) time the serial and the parallel phase in separate,
unpaired samples.  The claim is the engine's (``pytest_gil.stats``): with ``I`` the ideal
speedup, "serialized" is confirmed when the speedup's upper one-sided bound is below ``√I``
and refuted when its lower bound is above ``I**0.75``; "parallel" is confirmed when the lower
bound is above ``√I`` and refuted when the upper bound is below ``I**0.25``.  On unpaired
samples the bound comes from Welch's t on the log times: ``d = mean ln T_serial − mean ln
T_parallel`` with ``se² = s²_S/n_S + s²_P/n_P`` and the Welch–Satterthwaite degrees of freedom.
One fixed-size test at α is as strong as the engine's sequential test at α (which splits α
over its looks), so the same α applies.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scipy import stats as sps

from pytest_gil.report.context import CAPACITY_NAME, capacity_entries

__all__ = [
    "ALPHA_CONFIRM",
    "ALPHA_REFUTE",
    "OUTCOMES",
    "answer_of",
    "capacity_estimates",
    "capacity_summary",
    "check_phase_seconds",
    "median_to_decided",
    "needed_per_arm",
    "prefix_decision",
    "rep_outcome",
    "rounds_at_best",
    "rounds_needed",
    "shared_variance",
    "spread",
    "suite_phase_time",
    "summarise_reps",
    "two_sample",
    "verdict_counts",
]

ALPHA_CONFIRM = 1e-3
ALPHA_REFUTE = 1e-4

_PHASE_KEYS = (
    "t_serial", "t_parallel",  # scaling / overlap (engine), Process objects
    "document_makespan", "discriminating_makespan",  # schedule
    "window",  # fairness
    "hybrid", "threads", "processes",  # master/worker model
    "thread_small", "thread_big", "process_small", "process_big",  # payload checks
)
PAYLOAD_GROWTH_REPS = 3
"""``experiments.payload_growth`` records the median of ``reps`` (default 3) timings per cell;
the phase time is that many cells."""


def _mean_var(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    m = sum(xs) / n
    v = sum((x - m) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    return m, v


def two_sample(serial: Sequence[float], parallel: Sequence[float], ideal: float,
               alpha_confirm: float = ALPHA_CONFIRM,
               alpha_refute: float = ALPHA_REFUTE) -> dict[str, Any]:
    """Decide "serialized" / "parallel" from unpaired phase times (seconds) with Welch's t.

    Returns the speedup (ratio of geometric means) with its one-sided bounds at
    ``alpha_confirm``, the verdict of each claim, the claim confirmed (or None) and
    ``p`` of each claim's confirm test (the smallest α at which these samples confirm it).
    """
    if len(serial) < 2 or len(parallel) < 2:
        raise ValueError("need at least two values per sample")
    if min(serial) <= 0 or min(parallel) <= 0 or ideal <= 1:
        raise ValueError("times must be positive and the ideal speedup above 1")
    a = [math.log(x) for x in serial]
    b = [math.log(x) for x in parallel]
    ma, va = _mean_var(a)
    mb, vb = _mean_var(b)
    na, nb = len(a), len(b)
    d = ma - mb
    qa, qb = va / na, vb / nb
    se = math.sqrt(qa + qb)
    if se > 0:
        den = (qa * qa / (na - 1) if qa else 0.0) + (qb * qb / (nb - 1) if qb else 0.0)
        df = (qa + qb) ** 2 / den if den > 0 else float(na + nb - 2)
        tc = float(sps.t.ppf(1 - alpha_confirm, df))
        tr = float(sps.t.ppf(1 - alpha_refute, df))
    else:  # identical values: the bound is the point estimate
        df, tc, tr = float(na + nb - 2), 0.0, 0.0
    lg = math.log(ideal)
    confirm, ser_refute, par_refute = lg / 2, 0.75 * lg, 0.25 * lg
    low, high = d - tc * se, d + tc * se
    serialized = ("confirmed" if high < confirm
                  else "refuted" if d - tr * se > ser_refute else "inconclusive")
    parallel_v = ("confirmed" if low > confirm
                  else "refuted" if d + tr * se < par_refute else "inconclusive")
    if se > 0:
        z = (d - confirm) / se
        p_ser, p_par = float(sps.t.cdf(z, df)), float(sps.t.sf(z, df))
    else:
        p_ser, p_par = (0.0, 1.0) if d < confirm else (1.0, 0.0) if d > confirm else (1.0, 1.0)
    answer = ("serialized" if serialized == "confirmed"
              else "parallel" if parallel_v == "confirmed" else None)
    return {
        "n": [na, nb],
        "speedup": {"value": math.exp(d), "low": math.exp(low), "high": math.exp(high)},
        "ideal": ideal,
        "confirm_bound": math.sqrt(ideal),
        "df": df,
        "verdicts": {"serialized": serialized, "parallel": parallel_v},
        "answer": answer,
        "p": {"serialized": p_ser, "parallel": p_par},
        "log_sd": [math.sqrt(va), math.sqrt(vb)],
    }


def needed_per_arm(result: Mapping[str, Any], alpha: float = ALPHA_CONFIRM,
                   cap: int = 1_000_000) -> int | None:
    """Values per sample a fixed-size Welch test needs to confirm the claim the point estimate
    favours at ``alpha``, if the means and spreads stay as measured; None when the estimate
    sits on the bound (no finite sample decides it)."""
    value = float(result["speedup"]["value"])
    margin = abs(math.log(value) - math.log(float(result["confirm_bound"])))
    if margin == 0:
        return None
    sa, sb = (float(x) for x in result["log_sd"])
    s2 = sa * sa + sb * sb
    if s2 == 0:
        return 2
    n = 2
    while n <= cap:
        se = math.sqrt(s2 / n)
        if float(sps.t.ppf(1 - alpha, 2 * n - 2)) * se < margin:
            return n
        n = n + 1 if n < 64 else int(n * 1.1)
    return None


def prefix_decision(serial_groups: Sequence[Sequence[float]],
                    parallel_groups: Sequence[Sequence[float]], ideal: float,
                    alpha_confirm: float = ALPHA_CONFIRM,
                    alpha_refute: float = ALPHA_REFUTE) -> tuple[int, dict[str, Any]] | None:
    """The fewest leading groups (pyperf: worker processes; pytest-benchmark: rounds) of both
    samples after which :func:`two_sample` confirms a claim, with that result; None if even
    all of them do not.  Looking at every prefix is a sequential test without an α split: it
    tells what a fixed run of that size would have given, not a stopping rule."""
    k_max = min(len(serial_groups), len(parallel_groups))
    for k in range(1, k_max + 1):
        s = [x for g in serial_groups[:k] for x in g]
        p = [x for g in parallel_groups[:k] for x in g]
        if len(s) < 2 or len(p) < 2:
            continue
        res = two_sample(s, p, ideal, alpha_confirm, alpha_refute)
        if res["answer"] is not None:
            return k, res
    return None


# --------------------------------------------------------------------------------------------
# repetitions of a question (bench_verdict)

OUTCOMES = ("right", "inconclusive", "wrong", "not-testable", "error")
"""How a repetition ended: the expected answer confirmed; nothing decided; a decided verdict
that contradicts the expected answer (``soak.py``'s "wrong": not the expected verdict and not
inconclusive); the check said not testable here; the subprocess failed."""

_DECIDED = ("confirmed", "refuted")


def answer_of(verdicts: Mapping[str, str], answers: Mapping[str, str]) -> str | None:
    """The answer a check gave: that of the one hypothesis it confirmed (``answers`` maps a
    hypothesis to its answer), ``None`` when none — or, contradicting itself, several."""
    given = {answers[h] for h, v in verdicts.items() if h in answers and v == "confirmed"}
    return given.pop() if len(given) == 1 else None


def rep_outcome(verdicts: Mapping[str, str] | None, answers: Mapping[str, str],
                expected: str | None) -> str:
    """One of :data:`OUTCOMES` for a repetition whose check decided ``verdicts``.

    Wrong is any decided verdict of a hypothesis in ``answers`` that the expected answer
    contradicts: confirming a hypothesis whose answer is not ``expected``, refuting the one
    whose answer is.  With ``expected`` ``None`` (not testable on this runtime) every decided
    verdict is wrong.
    """
    if verdicts is None:
        return "error"
    own = {h: str(v) for h, v in verdicts.items() if h in answers}
    if own and all(v == "not-testable" for v in own.values()):
        return "not-testable"
    decided = {h: v for h, v in own.items() if v in _DECIDED}
    if expected is None:
        return "wrong" if decided else "inconclusive"
    for h, v in decided.items():
        if v != ("confirmed" if answers[h] == expected else "refuted"):
            return "wrong"
    return "right" if answer_of(own, answers) == expected else "inconclusive"


def _finite(values: Iterable[object]) -> list[float]:
    return [float(x) for x in values if isinstance(x, (int, float))
            and not isinstance(x, bool) and math.isfinite(x)]


def spread(values: Iterable[object]) -> dict[str, float] | None:
    """``{"median", "min", "max", "n"}`` of the finite numbers among ``values`` (``None``
    when there is none); missing figures (``None``) are skipped."""
    xs = _finite(values)
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def median_to_decided(times: Sequence[object], decided: Sequence[bool]) -> float | None:
    """The median time to a decided right verdict over repetitions, a repetition that did not
    decide right counting as never (``+∞``): ``None`` when more than half did not, so a
    median can only meet a goal if most repetitions decided, fast enough."""
    if len(times) != len(decided):
        raise ValueError("times and decided must have one entry per repetition")
    if not times:
        return None
    xs = [(float(t) if d and isinstance(t, (int, float)) else math.inf)
          for t, d in zip(times, decided, strict=True)]
    m = statistics.median(xs)
    return m if math.isfinite(m) else None


_MEASURED_FIGURES = ("elapsed", "wall", "rounds", "call_seconds")
"""Per repetition that measured (decided or not): the check's own ``elapsed`` (capacity
known), the time from interpreter start to the verdict, the rounds, the measuring call."""

_COST_FIGURES = ("startup_seconds", "import_seconds", "capacity_seconds")
"""Per repetition, whatever its check said: what came before the check (a capacity estimate is
paid also when it then makes the check not testable)."""

_MEASURED_OUTCOMES = ("right", "inconclusive", "wrong")


def summarise_reps(reps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A question's repetitions in figures: outcome counts (:data:`OUTCOMES`), the
    :func:`spread` of each figure (over the repetitions that measured, for the check's own
    figures), and :func:`median_to_decided` of the check's ``elapsed`` and of the end-to-end
    ``wall``."""
    measured = [r for r in reps if r.get("outcome") in _MEASURED_OUTCOMES]
    right = [r.get("outcome") == "right" for r in reps]
    out: dict[str, Any] = {
        "reps": len(reps),
        "outcomes": {o: sum(1 for r in reps if r.get("outcome") == o) for o in OUTCOMES},
    }
    for key in _MEASURED_FIGURES:
        out[key] = spread(r.get(key) for r in measured)
    for key in _COST_FIGURES:
        out[key] = spread(r.get(key) for r in reps)
    out["to_decided"] = {key: median_to_decided([r.get(key) for r in reps], right)
                         for key in ("elapsed", "wall")}
    out["at_best"] = _at_best(measured)
    out["shared_variance"] = shared_variance(measured)
    return out


def _at_best(measured: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The spread of :func:`rounds_at_best` over the repetitions (at least one round), and of
    the seconds those rounds take at each repetition's own seconds per round (its ``elapsed``
    over its ``rounds``: warm-up and statistics included)."""
    out: dict[str, Any] = {}
    for key, suffix in (("rounds", ""), ("rounds_t", "_t")):
        rounds, seconds = [], []
        for r in measured:
            n, el, used = ((r.get("at_best") or {}).get(key), r.get("elapsed"),
                           r.get("rounds"))
            if not isinstance(n, (int, float)):
                continue
            rounds.append(max(float(n), 1.0))
            if isinstance(el, (int, float)) and isinstance(used, int) and used > 0:
                seconds.append(rounds[-1] * float(el) / used)
        if rounds:
            out.update({f"rounds{suffix}": spread(rounds), f"seconds{suffix}": spread(seconds)})
    return out or None


def rounds_at_best(log_values: Sequence[float], bound: float, claim: str, *, capacity: bool,
                   bound_route: bool = False, action: str = "confirm"
                   ) -> dict[str, float] | None:
    """How many rounds confirming ``claim`` ("serialized" or "parallel") needs *at best*,
    from a check's own rounds: a one-sided z test whose per-round variance is known in
    advance (no t quantile, no trimming, one look) puts the mean of ``log_values`` beyond
    ``ln bound`` (above for "parallel", below for "serialized") at the α the engine gives one
    route of that confirmation at one look once ``n ≥ (z · sd / margin)²``.  The engine's test
    (variance estimated, looks, trimming) needs more; no test at that α needs fewer for the
    same per-round noise, so this is what a time goal can reach on the machine that produced
    the rounds.

    ``capacity``: the check was decided against the measured capacity (part of α is the
    capacity's); ``bound_route``: the CPU-time bound was a second route to the decision (they
    share its α) — both as in :meth:`pytest_gil.stats.SequentialTest.alpha_route`.

    ``rounds_t`` is the same for a test that estimates the variance from the check's own
    rounds, as every per-check test must: the fewest ``n`` (from the engine's first look) at
    which a one-sided t test at that α, one look, no trimming, and the sample sd equal to
    this ``sd``, clears the margin — ``t(α, n − 1) · sd / √n ≤ margin``.  The engine's test
    (looks, trimming) needs at least that; a time goal below it needs a variance known from
    outside the check.  ``action="refute"``: the same for refuting ``claim`` (its refute
    bound, on the other side, at the refutations' α).  Returns ``{"rounds", "rounds_t", "sd",
    "margin", "z"}``, or ``None`` with fewer rounds than the engine's first look or the mean
    on the bound's wrong side.
    """
    from pytest_gil import stats as engine

    if not bound > 0 or len(log_values) < engine.LOOKS[0]:  # the engine's first look
        return None
    side = engine.Route(("signal",), claim, action).side  # type: ignore[arg-type]
    margin = side * (statistics.fmean(log_values) - math.log(bound))
    if not margin > 0:
        return None
    ideal = (2.0, 2.0) if capacity else 2.0  # any testable ideal: only the α split is read
    test = engine.SequentialTest(ideal, primary=("signal",),
                                 bound=("cpu_speedup",) if bound_route else ())
    alpha = test.alpha_route(claim, action)
    z = float(sps.norm.isf(alpha))
    sd = statistics.stdev(log_values)
    return {"rounds": (z * sd / margin) ** 2,
            "rounds_t": _rounds_t(alpha, sd, margin, engine.LOOKS[0]), "sd": sd,
            "margin": margin, "z": z}


def shared_variance(reps: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Whether the repetitions of one question could share a variance — the lever a session
    that pools its checks' variances would pull.  From each repetition's per-round log-sd of
    the deciding signal (``at_best.sd`` over its ``rounds``): the spread of the sd, the pooled
    sd, Bartlett's test of equal variances (from the sds and degrees of freedom: its
    statistic needs nothing else; it assumes normal rounds and is sensitive to heavy tails),
    and ``worst_factor``: how many times its per-look α the noisiest repetition's
    known-variance test would have had with the pooled sd in place of its own
    (``Φ̄(z · pooled / sd) / Φ̄(z)``).  ``None`` with fewer than two repetitions that have
    both figures."""
    sds, dfs, zs = [], [], []
    for r in reps:
        best, n = r.get("at_best") or {}, r.get("rounds")
        sd, z = best.get("sd"), best.get("z")
        if (isinstance(sd, (int, float)) and sd > 0 and isinstance(n, int) and n > 1
                and isinstance(z, (int, float))):
            sds.append(float(sd))
            dfs.append(n - 1)
            zs.append(float(z))
    if len(sds) < 2:
        return None
    k, total = len(sds), sum(dfs)
    pooled2 = sum(df * sd * sd for df, sd in zip(dfs, sds, strict=True)) / total
    stat = (total * math.log(pooled2)
            - sum(df * math.log(sd * sd) for df, sd in zip(dfs, sds, strict=True)))
    stat /= 1 + (sum(1 / df for df in dfs) - 1 / total) / (3 * (k - 1))
    worst = max(range(k), key=lambda i: sds[i])
    z = zs[worst]
    factor = float(sps.norm.sf(z * math.sqrt(pooled2) / sds[worst]) / sps.norm.sf(z))
    return {"sd": spread(sds), "pooled_sd": math.sqrt(pooled2), "reps": k,
            "bartlett_p": float(sps.chi2.sf(stat, k - 1)), "worst_factor": factor}


def rounds_needed(check: Mapping[str, Any], expected: str) -> dict[str, float] | None:
    """What a report's scaling check that stopped undecided would have needed to reach the
    ``expected`` verdict ("confirmed" or "refuted" of the hypothesis it tested), from its own
    clean rounds of the key signal: :func:`rounds_at_best` against that decision's bound.
    The α is taken without the capacity's share (the report does not say whether the check
    used one), which only lowers the figure: it is at least what the check needed.
    ``None`` for other checks, too few clean rounds, or a mean on the bound's wrong side (no
    number of rounds would decide it)."""
    claim = check.get("claim_tested")
    action = {"confirmed": "confirm", "refuted": "refute"}.get(expected)
    if check.get("kind") != "scaling" or claim not in ("serialized", "parallel") or not action:
        return None
    key = (check.get("figure") or {}).get("name") or "speedup"
    bound = ((check.get("all_bounds") or {}).get(claim) or {}).get(action)
    logs = [math.log(v) for r in check.get("raw") or ()
            if isinstance(r, Mapping) and not r.get("warmup") and not r.get("suspect")
            and isinstance(v := (r.get("values") or {}).get(key), (int, float)) and v > 0]
    if not isinstance(bound, (int, float)):
        return None
    return rounds_at_best(logs, float(bound), claim, capacity=False, action=action)


T_ROUNDS_MAX = 10_000
"""Where :func:`_rounds_t` stops looking (a margin that small is "never" for a time goal)."""


def _rounds_t(alpha: float, sd: float, margin: float, first: int) -> float:
    """The fewest ``n ≥ first`` with ``t(alpha, n − 1) · sd / √n ≤ margin``, at most
    :data:`T_ROUNDS_MAX` (a figure that stays finite in a median): the left side falls with
    ``n``, so a bisection finds it."""
    def clears(n: int) -> bool:
        return float(sps.t.isf(alpha, n - 1)) * sd / math.sqrt(n) <= margin

    if sd == 0 or clears(first):
        return float(first)
    if not clears(T_ROUNDS_MAX):
        return float(T_ROUNDS_MAX)
    lo, hi = first, T_ROUNDS_MAX  # clears(lo) is false, clears(hi) true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if clears(mid) else (mid, hi)
    return float(hi)


# --------------------------------------------------------------------------------------------
# the delivered capacity (pytest_gil.delivered_capacity)

_CAPACITY_KEYS = ("workers", "value", "low", "high", "alpha", "windows", "window", "sd",
                  "disturbed", "measured_at", "seconds")


def capacity_estimates(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The distinct capacity estimates a claims-suite report holds: every process's
    ``capacity <N> workers`` calibration entry (xdist workers record the estimate they
    share, so one estimate is counted once, by workers and time of measurement), else the
    report's top-level ``capacity``."""
    found: dict[tuple[object, object], dict[str, Any]] = {}
    for entry in capacity_entries(report.get("calibration")):
        est = {k: entry.get(k) for k in (*_CAPACITY_KEYS, "process")}
        found.setdefault((est["workers"], est["measured_at"]), est)
    if not found:
        for data in (report.get("capacity") or {}).values():
            if isinstance(data, Mapping):
                est = {k: data.get(k) for k in _CAPACITY_KEYS}
                est["process"] = data.get("process")
                found.setdefault((est["workers"], est["measured_at"]), est)
    return sorted(found.values(), key=lambda e: _num(e.get("measured_at")))


def capacity_summary(estimates: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The estimates seen, in figures: how many, how many gave no estimate (the machine too
    busy), the :func:`spread` of the value, of each bound and of the seconds, and the window
    pairs left out as disturbed in all."""
    if not estimates:
        return None
    measured = [e for e in estimates if isinstance(e.get("low"), (int, float))
                and math.isfinite(float(e["low"]))]
    return {
        "estimates": len(estimates),
        "not_measured": len(estimates) - len(measured),
        "workers": sorted({int(_num(e.get("workers"))) for e in estimates}),
        "value": spread(e.get("value") for e in measured),
        "low": spread(e.get("low") for e in measured),
        "high": spread(e.get("high") for e in measured),
        "seconds": spread(e.get("seconds") for e in estimates),
        "windows": spread(e.get("windows") for e in estimates),
        "disturbed": int(sum(_num(e.get("disturbed")) for e in estimates)),
    }


# --------------------------------------------------------------------------------------------
# time inside measured phases (a claims-suite report, docs/REPORT_SCHEMA.md)


def _num(x: object) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0


def check_phase_seconds(check: Mapping[str, Any]) -> float:
    """Seconds a CHECK spent measuring: the sum of its rounds' ``seconds`` (schema 2: each
    round between its two noise readings — the phases and the readings, which take well under
    a millisecond; warm-up and disturbed rounds included: they were measured too).  A report
    whose rounds lack ``seconds`` (schema 1) is read from the phase times each kind records.
    Functional checks have no rounds."""
    raw = [r for r in check.get("raw") or [] if isinstance(r, Mapping)]
    if raw and all(isinstance(r.get("seconds"), (int, float)) for r in raw):
        return sum(_num(r.get("seconds")) for r in raw)
    return _legacy_phase_seconds(check, raw)


def _legacy_phase_seconds(check: Mapping[str, Any], raw: Sequence[Mapping[str, Any]]) -> float:
    kind = check.get("kind")
    total = 0.0
    for rec in raw:
        if kind == "latency":
            # each switch interval: one discarded wake-up + `tasks` samples of sleep + latency
            samples = int(_num(check.get("tasks")) or 6)
            sleep = _num(check.get("sleep")) or 0.002
            for v in (rec.get("mean_latency") or {}).values():
                total += (samples + 1) * (sleep + _num(v))
            continue
        cell = sum(_num(rec.get(k)) for k in _PHASE_KEYS)
        if kind == "payload" and "process_growth" in rec:
            cell *= PAYLOAD_GROWTH_REPS
        total += cell
    return total


def _check_key(check: Mapping[str, Any]) -> tuple[Any, ...]:
    if check.get("id"):
        return ("id", check["id"])
    raw = check.get("raw") or []
    first = raw[0] if raw and isinstance(raw[0], Mapping) else {}
    return (check.get("kind"), check.get("label"), check.get("elapsed"),
            tuple(sorted((k, str(v)) for k, v in first.items() if k != "noise")))


def suite_phase_time(report: Mapping[str, Any]) -> dict[str, Any]:
    """Where a claims-suite run's time went, from its JSON report.

    Checks shared by several claims (one measurement deciding two claims) are counted once.
    ``phases``: seconds inside the checks' rounds (:func:`check_phase_seconds`); ``checks``:
    seconds inside the checks' measuring loops (``elapsed``: rounds + statistics between
    them); ``capacity``: seconds the delivered-capacity estimates took (measuring too, outside
    any check); ``measured``: ``phases + capacity``; ``tests``: sum of the tests' durations;
    ``calibration``: the workload calibrations' seconds; ``scaling_round_seconds``: the mean
    phase time of a round of the ``scaling`` checks (the calibrated ones, which
    ``--gil-scale`` multiplies).
    """
    seen: set[tuple[Any, ...]] = set()
    phases = checks_elapsed = 0.0
    per_kind: dict[str, float] = {}
    n_checks = 0
    rounds = 0
    scaled: list[float] = []
    for rec in report.get("results") or []:
        for check in rec.get("checks") or []:
            if not isinstance(check, Mapping):
                continue
            key = _check_key(check)
            if key in seen:
                continue
            seen.add(key)
            n_checks += 1
            ph = check_phase_seconds(check)
            phases += ph
            checks_elapsed += _num(check.get("elapsed"))
            rounds += len(check.get("raw") or [])
            kind = str(check.get("kind"))
            per_kind[kind] = per_kind.get(kind, 0.0) + ph
            if kind == "scaling":  # calibrated work: its rounds scale with --gil-scale
                scaled += [_num(r.get("t_serial")) + _num(r.get("t_parallel"))
                           for r in check.get("raw") or [] if isinstance(r, Mapping)]
    tests = sum(_num(r.get("duration")) for r in report.get("results") or []
                if isinstance(r, Mapping))
    calibration = 0.0
    for per_process in (report.get("calibration") or {}).values():
        if isinstance(per_process, Mapping):
            for name, cal in per_process.items():
                if isinstance(cal, Mapping) and not CAPACITY_NAME.fullmatch(str(name).strip()):
                    calibration += _num(cal.get("seconds"))
    capacity = capacity_estimates(report)
    capacity_seconds = sum(_num(e.get("seconds")) for e in capacity)
    session = report.get("session") or {}
    return {
        "phases": phases,
        "checks": checks_elapsed,
        "capacity": capacity_seconds,
        "measured": phases + capacity_seconds,
        "capacity_estimates": capacity,
        "tests": tests,
        "calibration": calibration,
        "session": _num(session.get("duration")),
        "unique_checks": n_checks,
        "rounds": rounds,
        "phases_by_kind": dict(sorted(per_kind.items())),
        "scaling_round_seconds": sum(scaled) / len(scaled) if scaled else None,
    }


def verdict_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Verdicts of a run's records, and ``wrong`` (a decided verdict that is not the expected
    one: soak.py's definition) and ``decidable`` (expected confirmed or refuted)."""
    out = {"confirmed": 0, "refuted": 0, "inconclusive": 0, "not-testable": 0,
           "wrong": 0, "decidable": 0}
    for r in records:
        v, e = r.get("verdict"), r.get("expected")
        if isinstance(v, str) and v in out:
            out[v] += 1
        if e in ("confirmed", "refuted"):
            out["decidable"] += 1
        if e is not None and v != e and v != "inconclusive":
            out["wrong"] += 1
    return out
