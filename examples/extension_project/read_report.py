"""Print the verdicts of pytest-gil JSON reports, one line per check.

    python read_report.py reports/gil-*.json
"""

from __future__ import annotations

import json
import sys


def main(paths: list[str]) -> int:
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(doc["counts"].items()))
        print(f"{doc['runtime_label']}: {counts}")
        for result in doc["results"]:
            test = result["nodeid"].rpartition("::")[2]
            print(f"  {result['verdict']:<13} {test}: {result['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
