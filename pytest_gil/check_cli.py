"""``python -m pytest_gil check MODULE:FUNC ...`` (placeholder until the command lands)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    print("python -m pytest_gil check: not available yet", file=sys.stderr)
    return 2
