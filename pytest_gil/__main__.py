"""``python -m pytest_gil COMMAND ...``: the plugin's command line.

Commands (each module owns its arguments; ``python -m pytest_gil COMMAND --help``):

* ``profile [--json]`` — the runtime profile of this interpreter;
* ``report FILES... [-o DIR]`` — the matrix across interpreters from JSON reports;
* ``compare BASELINE CURRENT`` — this run against a saved one, check by check;
* ``check MODULE:FUNC ...`` — an ad-hoc question about one function, without a test file.

Exit codes: 0 success, 2 usage error; ``check`` and ``compare`` document their own.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

#: command → (module, function, one-line help); modules are imported only when used.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "profile": ("pytest_gil.profile_cli", "main", "print the runtime profile"),
    "report": ("pytest_gil.report.matrix", "main",
               "build the matrix across interpreters from JSON reports"),
    "compare": ("pytest_gil.baseline.cli", "main",
                "compare two saved runs (or a run with a baseline), check by check"),
    "check": ("pytest_gil.check_cli", "main",
              "measure one function: does it release the GIL, does it scale"),
}


def usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: python -m pytest_gil COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "python -m pytest_gil COMMAND --help for a command's arguments"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(usage(), file=sys.stderr)
        print(f"\npython -m pytest_gil: error: unknown command {command!r} (choose from "
              f"{', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    module, function, _ = COMMANDS[command]
    entry: Callable[[list[str]], int | None] = getattr(importlib.import_module(module), function)
    try:
        return int(entry(rest) or 0)
    except SystemExit as exc:  # argparse's own exits (usage errors, --help)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)


if __name__ == "__main__":
    sys.exit(main())
