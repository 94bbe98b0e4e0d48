"""The catalogue, the claims table and the claim tests (``tests/claims``) must not drift apart.

* every claim id of :data:`gil_audit.catalogue.CATALOGUE` has a test in ``tests/claims``
  marked ``@pytest.mark.claim(id)``, and every claim marker names a catalogue id;
* a claim test carries ``cpu_bound`` / ``io_bound`` as its claim's kind says, and its name
  carries the claim id's words (so ``-k one_thread_at_a_time`` selects it, as does ``-k
  gil.one-thread-at-a-time`` through the keyword pytest-gil adds);
* the catalogue's ids are the table of ``gil_audit/CLAIMS.md`` (kept in the repository, so
  this check runs in every layout: a clone, tox, CI) plus the ``extra.`` ids;
* the library package holds nothing of the document: no claim id, no sentence of it;
* an injected free-threaded profile flips the expectations of a real run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from gil_audit.catalogue import CATALOGUE

import pytest_gil
from pytest_gil import runtime_profile

HERE = Path(__file__).resolve().parents[1] / "claims"
PACKAGE = Path(pytest_gil.__file__).resolve().parent
CLAIMS_MD = HERE / "gil_audit" / "CLAIMS.md"
CLAIM_ID = re.compile(r"^[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*$")


def _load(path: Path) -> ModuleType:
    name = f"_pytest_gil_scan_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _marks(obj: Any) -> list[pytest.Mark]:
    marks = getattr(obj, "pytestmark", [])
    marks = marks if isinstance(marks, list) else [marks]
    out = [m for m in marks if isinstance(m, pytest.Mark)]
    # Marks given per parameter: pytest.param(..., marks=pytest.mark.claim(...)).
    for m in list(out):
        if m.name == "parametrize" and len(m.args) > 1:
            for value in m.args[1]:
                pm = getattr(value, "marks", ())
                out.extend(x for x in pm if isinstance(x, pytest.Mark))
    return out


def claim_tests() -> list[tuple[str, str, set[str]]]:
    """``(test name, claim id, marker names)`` for every claim test in tests/claims."""
    found = []
    for path in sorted(HERE.glob("test_*.py")):
        mod = _load(path)
        module_marks = _marks(mod)
        items: list[tuple[str, Any]] = []
        for name, obj in vars(mod).items():
            if name.startswith("test") and callable(obj):
                items.append((name, obj))
            elif name.startswith("Test") and isinstance(obj, type):
                items += [(f"{name}.{k}", v) for k, v in vars(obj).items()
                          if k.startswith("test") and callable(v)]
        for name, obj in items:
            marks = module_marks + _marks(obj)
            names = {m.name for m in marks}
            for m in marks:
                if m.name == "claim":
                    found.append((f"{path.name}::{name}", str(m.args[0]), names))
    return found


@pytest.fixture(scope="module")
def scanned() -> list[tuple[str, str, set[str]]]:
    return claim_tests()


def test_every_catalogue_claim_has_a_test(scanned: list[tuple[str, str, set[str]]]) -> None:
    tested = {cid for _, cid, _ in scanned}
    missing = sorted(set(CATALOGUE) - tested)
    assert not missing, f"claims without a test in tests/claims: {missing}"


def test_every_claim_marker_names_a_catalogue_claim(
    scanned: list[tuple[str, str, set[str]]]
) -> None:
    unknown = sorted({(test, cid) for test, cid, _ in scanned if cid not in CATALOGUE})
    assert not unknown, f"claim markers naming no catalogue claim: {unknown}"


def test_claim_tests_are_selectable_by_kind_and_by_name(
    scanned: list[tuple[str, str, set[str]]]
) -> None:
    problems = []
    for cid, claim in CATALOGUE.items():
        tests = [(t, names) for t, c, names in scanned if c == cid]
        if claim.kind in ("cpu_bound", "io_bound") and not any(
            claim.kind in names for _, names in tests
        ):
            problems.append(f"{cid}: no test marked {claim.kind}")
        words = cid.replace(".", "_").replace("-", "_")
        for t, _ in tests:
            if words not in t:
                problems.append(f"{t}: the name does not contain {words!r}")
    assert not problems, "\n".join(problems)


def claims_md_ids(text: str) -> list[str]:
    """The ids in the first column of the claims table."""
    ids = []
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells and CLAIM_ID.match(cells[0]):
            ids.append(cells[0])
    return ids


PUBLIC_MODULES = {"pytest_gil", "pytest_gil.workloads", "pytest_gil.runners"}


def test_the_audit_imports_only_public_names() -> None:
    """The audit is a client of the public API: ``pytest_gil``'s ``__all__`` and the documented
    modules ``pytest_gil.workloads`` and ``pytest_gil.runners`` (their ``__all__``)."""
    import ast
    import importlib

    problems = []
    for path in sorted(HERE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [(a.name, None) for a in node.names if a.name.startswith("pytest_gil")]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pytest_gil"):
                mods = [(str(node.module), a.name) for a in node.names]
            else:
                continue
            for mod, name in mods:
                if mod not in PUBLIC_MODULES:
                    problems.append(f"{path.name}:{node.lineno}: imports {mod}")
                elif name is not None and name not in importlib.import_module(mod).__all__:
                    problems.append(f"{path.name}:{node.lineno}: {mod}.{name} is not public")
    assert not problems, problems


def test_catalogue_matches_the_claims_table() -> None:
    table = claims_md_ids(CLAIMS_MD.read_text(encoding="utf-8"))
    assert table, f"no claim ids found in the table of {CLAIMS_MD}"
    assert len(table) == len(set(table)), f"duplicate ids in {CLAIMS_MD}"
    catalogue = [cid for cid in CATALOGUE if not cid.startswith("extra.")]
    assert sorted(catalogue) == sorted(table), (
        f"catalogue vs {CLAIMS_MD}: only in the catalogue {sorted(set(catalogue) - set(table))}, "
        f"only in the table {sorted(set(table) - set(catalogue))}"
    )


def test_the_library_holds_nothing_of_the_document() -> None:
    """No claim id and no sentence of the tutorial (nor any CJK text) inside pytest_gil/."""
    cjk = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if cjk.search(text):
            found.append(f"{path.name}: Chinese text")
        found += [f"{path.name}: {cid}" for cid in CATALOGUE if cid in text]
    assert not found, found


def test_claims_md_parser_reads_a_table_row() -> None:
    text = "| id | says |\n|---|---|\n| gil.not-removed | x |\n| not an id | y |\n"
    assert claims_md_ids(text) == ["gil.not-removed"]


@pytest.mark.cpu_bound  # holds the run's measurement lock while the subprocess measures
def test_injected_free_threaded_profile_fails_a_gil_claim_measured_here(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the gil.not-removed test (selected by its claim id) with
    ``PYTEST_GIL_PROFILE='{"free_threaded_build": true, "gil_enabled": false}'``: the suite
    now expects *refuted*.  On a GIL build threads running calc really take turns, so the
    measured verdict (confirmed) contradicts the injected expectation and the test fails
    saying so; on a real free-threaded build it passes."""
    monkeypatch.setenv("PYTEST_GIL_PROFILE",
                       json.dumps({"free_threaded_build": True, "gil_enabled": False,
                                   "usable_cpus": 2}))
    if sysconfig.get_config_var("Py_GIL_DISABLED") or runtime_profile().usable_cpus < 2:
        pytest.skip("a real free-threaded build passes; one CPU cannot tell threads apart")
    for _attempt in range(2):  # a machine too busy to decide: measure once more
        result = pytester.runpytest_subprocess(
            str(HERE / "test_gil.py"), "-k", "gil.not-removed", "-p", "no:cacheprovider",
            f"--gil-report={tmp_path}", "-q", "-rs",
        )
        if not result.parseoutcomes().get("skipped"):
            break
    else:
        pytest.skip("the machine was too busy to decide twice: "
                    + next((line for line in result.outlines if "SKIPPED" in line), "?"))
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*claim gil.not-removed: expected refuted*measured confirmed*"])
