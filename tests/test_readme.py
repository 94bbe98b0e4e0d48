"""The README's Python examples run as a test file (through pytester), so they stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_examples() -> None:
    assert len(python_blocks()) >= 2


@pytest.mark.slow
def test_the_readme_examples_pass_as_a_test_file(pytester: pytest.Pytester) -> None:
    for i, block in enumerate(python_blocks()):
        pytester.makepyfile(**{f"test_readme_{i}": block})
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes.get("passed", 0) >= 1, result.stdout.str()


def test_the_readme_matrix_is_the_one_built_from_the_example_reports() -> None:
    import importlib.util

    path = README.parent / "scripts" / "update_readme_matrix.py"
    spec = importlib.util.spec_from_file_location("update_readme_matrix", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = README.read_text(encoding="utf-8")
    block = text.split(module.START, 1)[1].split(module.END, 1)[0].strip()
    assert block == module.matrix_table()
