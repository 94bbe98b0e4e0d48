"""Why a verdict came out as it did, in words a person acts on.

:func:`why` reads one CHECK record — how its loop stopped (``stop``), its rounds and the
disturbed ones, its headline figure against its bounds, its ``reason`` — and says what
decided it, or what kept it from deciding: a noisy machine, an effect sitting on a bound, a
budget that ran out, too few clean rounds, or a check that cannot run here.  The terminal
summary, the HTML page and the Markdown page all print this one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .format import Record, check_figure, fmt_num, format_quantity, num_or_none, record_checks
from .reading import Tally, Zones, round_tally, tested_checks, zones

__all__ = ["FLAG_WORDS", "record_why", "why"]

FLAG_WORDS = {
    "foreign": "foreign load",
    "steal": "CPU steal",
    "throttled": "cgroup throttling",
    "serial-cpu": "serial phase short of a core",
    "nothing-measured": "nothing measured",
    "other": "other",
}
"""What each noise flag of a round (``noise.flags``, :mod:`pytest_gil.noise`) means, in the
words the engine's own ``reason`` uses; ``nothing-measured`` is a round excluded for a value
that is not a positive number, ``other`` one excluded for a reason without a flag."""

DECIDED = ("confirmed", "refuted")


def why(check: Mapping[str, Any], *, ascii_only: bool = False) -> str:
    """One line on what decided ``check`` (a CHECK record), or what kept it undecided::

        machine noisy: 7 of 13 rounds disturbed (foreign load ×7)
        on the bound: 1.62× [1.51, 1.74] against 1.52 (confirm), after 20 rounds
        budget ran out after 6 rounds; between the bounds: …
        too few clean rounds: 4 of 41 usable (foreign load ×37)
        not testable: 1 usable CPU
        confirmed after 3 rounds: 1.01× [0.99, 1.03], below the confirm bound 1.29

    ``""`` when there is nothing to say (an empty check, a decided functional check).
    ``ascii_only`` gives plain ASCII (the terminal).
    """
    if not check:
        return ""
    verdict = str(check.get("verdict") or "")
    stop = str(check.get("stop") or "")
    reason = " ".join(str(check.get("reason") or "").split())
    if verdict == "not-testable" or stop == "not-testable":
        return f"not testable: {reason}" if reason else "not testable here"
    if check.get("kind") == "functional" or not (verdict or stop):
        return "" if verdict in DECIDED else reason
    if stop in ("capacity-fell", "not-replicated", "machine-slowed"):
        return reason
    if stop == "gil-changed":
        return "the GIL changed during the check: rounds under two runtimes cannot be pooled"
    tally = round_tally(check)
    times = "x" if ascii_only else "×"
    if stop == "noisy":
        return (f"machine noisy: {tally.disturbed} of {tally.total} rounds disturbed"
                f"{_causes(tally, times)}")
    if stop == "too-few-clean":
        return f"too few clean rounds: {tally.clean} of {tally.total} usable{_causes(tally, times)}"
    if verdict in DECIDED:
        return _decided(check, verdict, tally, ascii_only)
    return _undecided(check, stop, reason, tally, ascii_only)


def _undecided(check: Mapping[str, Any], stop: str, reason: str, tally: Tally,
               ascii_only: bool) -> str:
    """An inconclusive check that ran: the budget, the last look, or its own reason."""
    position = _position(check, ascii_only)
    if stop == "budget":
        text = f"budget ran out after {tally.clean} rounds"
        return f"{text}; {position}" if position else text
    if stop == "last-look":
        return f"{position or 'no decision'}, after {tally.clean} rounds (the last look)"
    return position or reason or "undecided"


def _causes(tally: Tally, times: str) -> str:
    """`` (foreign load ×7, CPU steal ×1)`` — the noise behind the disturbed rounds."""
    if not tally.causes:
        return ""
    ranked = sorted(tally.causes.items(), key=lambda kv: (-kv[1], kv[0]))
    return " (" + ", ".join(f"{FLAG_WORDS.get(k, k)} {times}{n}" for k, n in ranked) + ")"


def _quantity(fig: Mapping[str, Any], ascii_only: bool) -> str:
    return format_quantity(fig.get("value"), fig.get("low"), fig.get("high"),
                           str(fig.get("unit") or ""), ascii_only=ascii_only)


def _bounds_of(check: Mapping[str, Any]) -> tuple[Mapping[str, Any], Zones] | None:
    """The headline figure with an interval, and the zones of the hypothesis tested."""
    fig, z = check_figure(check), zones(check)
    if fig is None or z is None:
        return None
    if num_or_none(fig.get("low")) is None or num_or_none(fig.get("high")) is None:
        return None
    return fig, z


def _position(check: Mapping[str, Any], ascii_only: bool) -> str:
    """Where the headline interval sits against the bounds of the hypothesis tested."""
    found = _bounds_of(check)
    if found is None:
        bare = check_figure(check)
        if bare is None or zones(check) is None:
            return ""
        return f"too few rounds for an interval ({_quantity(bare, ascii_only)})"
    fig, z = found
    low, high = float(fig["low"]), float(fig["high"])
    q = _quantity(fig, ascii_only)
    straddled = [(name, b) for name, b in (("confirm", z.confirm), ("refute", z.refute))
                 if low < b < high]
    if len(straddled) == 2:
        return (f"interval too wide: {q} spans both bounds ({fmt_num(z.confirm)} confirm, "
                f"{fmt_num(z.refute)} refute)")
    if straddled:
        name, bound = straddled[0]
        return f"on the bound: {q} against {fmt_num(bound)} ({name})"
    if z.zone_of(low) == z.zone_of(high) == "undecided":
        return (f"between the bounds: {q} is past neither {fmt_num(z.confirm)} (confirm) nor "
                f"{fmt_num(z.refute)} (refute)")
    return f"{q} against {fmt_num(z.confirm)} (confirm) and {fmt_num(z.refute)} (refute)"


def _route(check: Mapping[str, Any]) -> str:
    """The signal whose bound decided the hypothesis tested, at the last look."""
    looks = check.get("looks")
    last = looks[-1] if isinstance(looks, list) and looks else None
    routes = last.get("routes") if isinstance(last, Mapping) else None
    hyp = str(check.get("claim_tested") or "")
    return str(routes.get(hyp) or "") if isinstance(routes, Mapping) else ""


def _decided(check: Mapping[str, Any], verdict: str, tally: Tally, ascii_only: bool) -> str:
    """``confirmed after 3 rounds: 1.01× [0.99, 1.03], below the confirm bound 1.29``."""
    head = f"{verdict} after {tally.clean} rounds"
    if tally.disturbed:
        head += f" (+{tally.disturbed} disturbed, left out)"
    found = _bounds_of(check)
    if found is None:
        return head
    fig, z = found
    action = "confirm" if verdict == "confirmed" else "refute"
    bound = z.confirm if action == "confirm" else z.refute
    below = z.confirm_below == (action == "confirm")
    past = float(fig["high"]) < bound if below else float(fig["low"]) > bound
    where = f"{'below' if below else 'above'} the {action} bound {fmt_num(bound)}"
    route = _route(check)
    if not past and route:
        where = f"decided on {route} against the {action} bound {fmt_num(bound)}"
    return f"{head}: {_quantity(fig, ascii_only)}, {where}"


def record_why(record: Record, *, ascii_only: bool = False) -> str:
    """:func:`why` for a record: of its first check that reached the record's verdict (read for
    the hypothesis the record is about).  Without such a check, a record that is not decided
    gives its ``reason`` (else its ``detail``: where a claim skipped as not testable says why)
    if it has no checks at all, and ``""`` otherwise rather than a sentence about another
    verdict."""
    verdict = record.get("verdict")
    chosen = next((c for c in tested_checks(record) if c.get("verdict") == verdict), None)
    if chosen is not None:
        return why(chosen, ascii_only=ascii_only)
    said = " ".join(str(record.get("reason") or record.get("detail") or "").split())
    if verdict == "not-testable":
        return f"not testable: {said}" if said else "not testable here"
    return "" if verdict in DECIDED or record_checks(record) else said
