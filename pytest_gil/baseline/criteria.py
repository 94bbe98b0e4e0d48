"""The comparison gate: what ``--gil-compare-fail`` accepts and when a check breaks it.

Criteria (repeat the option, or separate them with commas):

* ``verdict`` — the check's verdict differs from the baseline's (``confirmed`` →
  ``inconclusive`` included);
* ``verdict:decided`` — both verdicts are decided (confirmed or refuted) and differ: a check
  that could not decide on a busy machine does not fail the run;
* ``NAME:PCT%`` — the figure ``NAME`` regressed by more than ``PCT`` percent, *with
  significance*: see :meth:`Criterion.regressed`.  ``NAME`` is a signal (``speedup``,
  ``parallelism``, ``release``, a signal of your own ``measure_rounds``) or a figure's name
  (spaces and dashes read as underscores); ``released`` stands for ``release``, the figure of
  :func:`~pytest_gil.releases_gil`.

Pure functions over numbers and strings: no pytest, no files.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence

from ..vocabulary import Verdict
from .ratio import Ratio

__all__ = [
    "ALIASES",
    "EXPECTED",
    "LOWER_IS_BETTER",
    "Criterion",
    "CriterionError",
    "normalise",
    "parse_criteria",
]

ALIASES = {"released": "release", "released_fraction": "release"}
"""Names people write for a signal: ``released:10%`` is about the figure of
:func:`~pytest_gil.releases_gil` (the probe's rate beside the function, signal ``release``)."""

LOWER_IS_BETTER = frozenset({"latency_ratio"})
"""Signals for which a rise is the regression (a thread wakes later beside busy threads).  For
every other signal — speedups, parallelism, a probe's rate, fairness — more is better."""

MAX_PERCENT = 100.0
"""A figure cannot drop by 100% or more (ratios are positive): larger thresholds are typos."""

_FIGURE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_ \-]*?)\s*:\s*(?P<pct>[0-9.]+)\s*%$")


class CriterionError(ValueError):
    """A criterion that cannot be read: ``value`` is the text, ``reason`` what is expected."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"invalid criterion {value!r}: {reason}")
        self.value = value
        self.reason = reason


EXPECTED = "expected verdict, verdict:decided or NAME:PCT% (e.g. speedup:10%)"


def normalise(name: str) -> str:
    """A figure or signal name as criteria spell it: lower case, spaces and dashes as
    underscores, aliases resolved (``"Released"`` → ``"release"``)."""
    text = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return ALIASES.get(text, text)


@dataclasses.dataclass(frozen=True)
class Criterion:
    """One criterion of the gate: ``kind`` is ``"verdict"``, ``"decided"`` or ``"figure"``;
    a figure criterion names a ``signal`` and the ``fraction`` it may drop (0.10 for 10%)."""

    text: str
    kind: str
    signal: str = ""
    fraction: float = 0.0

    def matches(self, names: Iterable[str]) -> bool:
        """Whether this figure criterion is about one of ``names`` (signals or figure
        names, compared after :func:`normalise`)."""
        return self.kind == "figure" and any(normalise(n) == self.signal for n in names)

    def verdict_broken(self, before: str, after: str) -> bool:
        """The verdict criteria: ``verdict`` breaks on any change, ``verdict:decided`` only
        when both verdicts are decided and differ."""
        if self.kind == "verdict":
            return before != after
        if self.kind == "decided":
            decided = (Verdict.CONFIRMED.value, Verdict.REFUTED.value)
            return before in decided and after in decided and before != after
        return False

    def regressed(self, ratio: Ratio | None) -> bool:
        """The rule of a figure criterion ``NAME:PCT%``, for a signal where more is better:
        it breaks when the ratio current/baseline is **below 1 − PCT** *and* its upper bound
        is **below 1** — the figure dropped by more than ``PCT`` percent as estimated, and a
        drop at all is significant (Welch's two-sided test at the comparison's α: the
        ``1 − α`` interval lies entirely below 1).  The first condition ignores significant
        but small changes (a steadier machine measures them), the second large but noisy ones
        (two rounds each).  For a signal where less is better (:data:`LOWER_IS_BETTER`) the
        mirror image: above ``1 + PCT`` and the lower bound above 1.  Without an interval
        (fewer than two rounds on a side) nothing is claimed: it does not break."""
        if self.kind != "figure" or ratio is None or ratio.value is None:
            return False
        if self.signal in LOWER_IS_BETTER or normalise(ratio.name) in LOWER_IS_BETTER:
            return (ratio.low is not None and ratio.value > 1.0 + self.fraction
                    and ratio.low > 1.0)
        return ratio.high is not None and ratio.value < 1.0 - self.fraction and ratio.high < 1.0


def _one(text: str) -> Criterion:
    t = text.strip()
    if t.lower() == "verdict":
        return Criterion("verdict", "verdict")
    if re.fullmatch(r"verdict\s*:\s*decided", t, flags=re.IGNORECASE):
        return Criterion("verdict:decided", "decided")
    m = _FIGURE.match(t)
    if m is None:
        raise CriterionError(t, EXPECTED)
    try:
        pct = float(m.group("pct"))
    except ValueError:
        pct = math.nan
    if not (0.0 < pct < MAX_PERCENT):
        raise CriterionError(t, "the percentage must be above 0 and below 100")
    name = normalise(m.group("name"))
    return Criterion(f"{name}:{pct:g}%", "figure", name, pct / 100.0)


def parse_criteria(values: str | Sequence[str]) -> tuple[Criterion, ...]:
    """Criteria from option values (each may hold several, separated by commas or newlines);
    duplicates are dropped.  Raises :class:`CriterionError` naming the first bad one."""
    items = [values] if isinstance(values, str) else list(values)
    out: dict[str, Criterion] = {}
    for item in items:
        for part in re.split(r"[,\n]", str(item)):
            if part.strip():
                c = _one(part)
                out.setdefault(c.text, c)
    return tuple(out.values())
