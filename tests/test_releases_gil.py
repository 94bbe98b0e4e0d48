"""``releases_gil`` against the standard library's familiar cases.

Users call :func:`pytest_gil.releases_gil` on their own C extensions, so the classifier must be
right where the answer is known from CPython's source:

* release: ``hashlib`` on buffers over 2 KiB (``Py_BEGIN_ALLOW_THREADS`` around the update),
  ``zlib.compress`` (around ``deflate``), ``time.sleep``, waiting for a child process
  (``waitpid``), an ``sqlite3`` query (around ``sqlite3_step``);
* hold: a pure-Python loop, ``json.dumps``, ``pickle.dumps``, ``re`` searching a big string,
  ``sorted`` of a big list — C code that keeps the GIL for its whole run.

A case may come out undecided (``None``) on a machine too busy to measure — then it is
skipped with the reason; a wrong answer fails.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_gil import GilReleaseResult, Verdict, releases_gil


class Data:
    """Inputs sized so one call takes ~5–50 ms on a 2020s CPU (the window is ≥ 30 ms)."""

    def __init__(self) -> None:
        rnd = random.Random(3)
        self.big = bytes(range(256)) * (4 * 1024 * 16)  # 16 MiB
        self.records = [{"k": i, "v": str(i) * 5, "l": list(range(10))} for i in range(20_000)]
        self.text = ("abc " * 250_000) + "needle"
        self.floats = [rnd.random() for _ in range(300_000)]
        self.db = sqlite3.connect(":memory:")
        self.db.execute("create table t(a integer, b text)")
        self.db.executemany("insert into t values (?, ?)",
                            [(i, str(i)) for i in range(200_000)])
        sleep = shutil.which("sleep")
        self.child = ([sleep, "0.02"] if sleep
                      else [sys.executable, "-c", "import time; time.sleep(0.02)"])


@pytest.fixture(scope="module")
def data() -> Iterator[Data]:
    d = Data()
    try:
        yield d
    finally:
        d.db.close()


def _pyloop(d: Data) -> int:
    s = 0
    for _ in range(200_000):
        s += 1
    return s


CASES: dict[str, tuple[Callable[[Data], Any], bool]] = {
    "hashlib.sha256 of 16 MiB": (lambda d: hashlib.sha256(d.big).digest(), True),
    "zlib.compress of 4 MB": (lambda d: zlib.compress(d.big[:4_000_000], 6), True),
    "time.sleep": (lambda d: time.sleep(0.01), True),
    "subprocess wait": (lambda d: subprocess.run(d.child, check=True), True),
    "sqlite3 query": (lambda d: d.db.execute(
        "select count(*), sum(length(b)) from t where b like '%7%'").fetchall(), True),
    "pure-Python loop": (_pyloop, False),
    "json.dumps": (lambda d: json.dumps(d.records), False),
    "pickle.dumps": (lambda d: pickle.dumps(d.records), False),
    "re.search on 1 MB": (lambda d: re.search(r"(a|b)c\s+x", d.text), False),
    "sorted of 300k floats": (lambda d: sorted(d.floats), False),
}


def _check(r: GilReleaseResult, expected: bool) -> None:
    print(r)
    if r.releases is None:
        pytest.skip(f"undecided: {r.reason}")
    assert r.releases is expected, str(r)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_stdlib_case(data: Data, case: str) -> None:
    fn, expected = CASES[case]
    r = releases_gil(fn, data)
    _check(r, expected)
    assert r.verdict is (Verdict.CONFIRMED if expected else Verdict.REFUTED)
    assert r.ratio is not None and r.rounds >= 3
    fraction = r.released_fraction
    assert fraction is not None and (fraction.low > 0.41 if expected else fraction.high < 0.41)
    text = str(r)
    assert ("releases the GIL" if expected else "holds the GIL") in text.splitlines()[0]
    d = r.to_dict()
    json.dumps(d)
    assert d["kind"] == "release" and d["claim_tested"] == "releases"
    assert d["verdict"] == r.verdict and len(d["raw"]) == 1 + r.rounds + r.suspect_rounds


@pytest.mark.slow
def test_arguments_reach_the_function() -> None:
    seen: list[tuple[Any, ...]] = []

    def fn(a: int, *, b: int) -> None:
        seen.append((a, b))
        time.sleep(0.005)

    r = releases_gil(fn, 1, kwargs={"b": 2})
    assert seen and set(seen) == {(1, 2)}
    _check(r, True)


@pytest.mark.slow
def test_no_probe_thread_is_left_behind() -> None:
    import threading

    before = set(threading.enumerate())
    releases_gil(time.sleep, 0.005, budget=1.0)
    assert [t for t in threading.enumerate() if t not in before] == []


def test_the_probe_counts_only_between_resume_and_pause() -> None:
    """Between rounds the probe waits on an event instead of spinning: the round loop's own
    work does not queue behind it for the GIL (rounds were 3–6× their windows)."""
    from pytest_gil.engine.release import _Probe

    probe = _Probe()
    probe.start()
    try:
        time.sleep(0.02)
        assert probe.count[0] == 0  # not counting before the first round
        probe.resume()
        assert probe.count[0] > 0  # counting once resume returns
        probe.pause()
        time.sleep(0.01)  # the loop notices the flag within one iteration
        n = probe.count[0]
        time.sleep(0.02)
        assert probe.count[0] == n
    finally:
        probe.stop()
    assert not probe.thread.is_alive()
