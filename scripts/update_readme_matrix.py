"""Regenerate the interpreter matrix checked in as an example, and paste it into the README.

    python scripts/update_readme_matrix.py reports/gil-*.json ...

copies the given run reports to ``reports/example/``, builds ``reports/example/matrix.md`` with
``python -m pytest_gil report`` and replaces the README's block between the
``<!-- matrix:start -->`` and ``<!-- matrix:end -->`` markers with it (``tests/test_readme.py``
checks the README still matches the files).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "reports" / "example"
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"


def matrix_table() -> str:
    """The matrix's Markdown (table and legend) as the report command writes it."""
    lines = (EXAMPLE / "matrix.md").read_text(encoding="utf-8").strip().splitlines()
    if lines and lines[0].startswith("# "):  # the page title; the README has its own heading
        lines = lines[1:]
    return "\n".join(lines).strip()


def main(argv: list[str]) -> int:
    EXAMPLE.mkdir(parents=True, exist_ok=True)
    for name in argv:
        shutil.copy2(name, EXAMPLE / Path(name).name)
    subprocess.run(
        [sys.executable, "-m", "pytest_gil", "report", str(EXAMPLE), "-o", str(EXAMPLE)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{matrix_table()}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
