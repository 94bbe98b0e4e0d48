"""``python -m pytest_gil``: ``profile [--json]`` prints the runtime profile; ``report FILES``
builds the interpreter matrix from JSON reports."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m pytest_gil", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    prof = sub.add_parser("profile", help="print the runtime profile")
    prof.add_argument("--json", action="store_true", help="print the JSON record")
    sub.add_parser("report", help="build the matrix across interpreters from JSON reports",
                   add_help=False)
    if argv[:1] == ["report"]:
        from .report.matrix import main as report_main

        return int(report_main(argv[1:]) or 0)
    args = parser.parse_args(argv)
    from .profile import runtime_profile

    try:
        p = runtime_profile()
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.json:
        print(json.dumps(p.to_dict(), indent=2, sort_keys=True))
        return 0
    width = max(len(k) for k in p.to_dict())
    print(p.label())
    for key, value in p.to_dict().items():
        print(f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
