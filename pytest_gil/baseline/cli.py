"""``python -m pytest_gil compare BASELINE CURRENT`` (placeholder until baselines land)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    print("python -m pytest_gil compare: not available yet", file=sys.stderr)
    return 2
