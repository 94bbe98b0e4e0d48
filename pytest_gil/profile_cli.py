"""``python -m pytest_gil profile [--json]``: the runtime profile of this interpreter."""

from __future__ import annotations

import argparse
import json


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_gil profile",
        description="Print the runtime profile pytest-gil measures against: build, GIL state, "
                    "usable CPUs, start methods, sub-interpreters.")
    parser.add_argument("--json", action="store_true", help="print the JSON record")
    args = parser.parse_args(argv)
    from .profile import runtime_profile

    try:
        p = runtime_profile()
    except ValueError as exc:
        parser.exit(2, f"python -m pytest_gil profile: error: {exc}\n")
    if args.json:
        print(json.dumps(p.to_dict(), indent=2, sort_keys=True))
        return 0
    record = p.to_dict()
    width = max(len(k) for k in record)
    print(p.label())
    for key, value in record.items():
        print(f"  {key:<{width}}  {value}")
    return 0
