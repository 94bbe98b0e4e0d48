"""What installing pytest-gil costs a test-suite that does not use it.

Builds a throwaway virtual environment with pytest, pytest-gil (from this checkout) and the
test dependencies of another project, unpacks that project's sdist (which ships its tests),
and times, alternating the two so that drift in the machine's load hits both alike:

* collection: ``python -m pytest --collect-only -q``
* a full run: ``python -m pytest -q``

each with the plugin loaded and with ``-p no:gil``, ``--repeats`` times.  Two clocks: wall
time, and the CPU time (user + system) of the pytest process, which another process's load
on a shared machine disturbs far less.  It prints the median and spread of each, the
difference of the medians, and checks that both modes collected and passed the same tests.
No other pytest plugin is installed in the environment, so the difference is pytest-gil's
alone.

Usage (network access to the package index needed the first time)::

    python benchmarks/overhead.py                        # more-itertools and attrs, 5 repeats
    python benchmarks/overhead.py --project attrs --repeats 9 --json overhead.json

The environment and the sources are kept in ``--workdir`` (default: a folder in the temporary
directory) and reused by later runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Project:
    name: str
    version: str
    tests: str  # path of the tests inside the unpacked sdist
    deps: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()


PROJECTS = {
    p.name: p
    for p in (
        Project("more-itertools", "10.8.0", "tests", (), ("-q",)),
        Project("attrs", "25.4.0", "tests", ("hypothesis", "pympler", "cloudpickle"),
                ("-q", "--ignore=tests/test_mypy.yml")),
        Project("python-dateutil", "2.9.0.post0", "tests", ("freezegun", "hypothesis", "six"),
                ("-q",)),
    )
}

STARTUP = Project("a one-test suite (fixed cost)", "", "test_one.py")
"""The fixed cost: plugin import, configure, header, unconfigure.  Without ``-q`` so that the
report header (and with it the runtime profile) is computed, as in an ordinary run."""

MODES = {"with": (), "without": ("-p", "no:gil")}


def run(cmd: Sequence[str], cwd: Path | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n"
                         f"{proc.stderr}")
    return proc


def python_in(env_dir: Path) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"


def prepare(project: Project, workdir: Path, plugin_source: Path) -> tuple[Path, Path]:
    """Return (python of the throwaway environment, unpacked source tree)."""
    env_dir = workdir / "venv"
    py = python_in(env_dir)
    if not py.exists():
        print(f"creating {env_dir}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        run([str(py), "-m", "pip", "install", "-q", "pytest", str(plugin_source)])
    else:  # the plugin as it is now in plugin_source
        run([str(py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps",
             str(plugin_source)])
    src_root = workdir / "src"
    src = src_root / f"{project.name}-{project.version}"
    if not src.exists():
        sdists = workdir / "sdists"
        print(f"downloading the {project.name} {project.version} sdist", flush=True)
        run([str(py), "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
             "-d", str(sdists), f"{project.name}=={project.version}"])
        norm = re.sub(r"[-_.]+", "[-_.]", project.name)
        archive = next(p for p in sdists.iterdir()
                       if re.match(rf"(?i){norm}-{re.escape(project.version)}\.tar\.gz$", p.name))
        with tarfile.open(archive) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(src_root, filter="data")
            else:  # an sdist just downloaded from the index
                tar.extractall(src_root)
        extracted = next(p for p in src_root.iterdir()
                         if p.is_dir() and p.name.lower().replace("_", "-")
                         == src.name.lower().replace("_", "-"))
        if extracted != src:
            extracted.rename(src)
        print(f"installing {project.name} and its test dependencies", flush=True)
        run([str(py), "-m", "pip", "install", "-q", str(src), *project.deps])
    return py, src


_COUNT = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected|"
                    r"tests? collected)")


def outcome(text: str) -> dict[str, int]:
    """The counts of pytest's last summary line (``12 passed, 1 skipped``)."""
    lines = [ln for ln in text.strip().splitlines() if _COUNT.search(ln)]
    if not lines:
        return {}
    names = {"errors": "error", "tests collected": "collected", "test collected": "collected"}
    return {names.get(what, what): int(n) for n, what in _COUNT.findall(lines[-1])}


def time_once(py: Path, src: Path, project: Project, mode: str, collect_only: bool
              ) -> tuple[float, float, dict[str, int], str]:
    """(wall seconds, CPU seconds of the pytest process, outcome counts, stdout)."""
    args = [str(py), "-m", "pytest", "-p", "no:cacheprovider", *project.pytest_args,
            *MODES[mode]]
    if collect_only:
        args.append("--collect-only")
    args.append(project.tests)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON_GIL"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = run(args, cwd=src, check=False, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1, 5):
        raise SystemExit(f"pytest exited {proc.returncode}: {' '.join(args)}\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, cpu, outcome(proc.stdout), proc.stdout


def spread(values: Sequence[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "q1": q[0], "q3": q[2]}


def _phase_figures(samples: dict[str, list[float]]) -> dict[str, Any]:
    stats = {m: spread(v) for m, v in samples.items()}
    diff = stats["with"]["median"] - stats["without"]["median"]
    return {
        "seconds": {m: [round(x, 4) for x in v] for m, v in samples.items()},
        "stats": {m: {k: round(x, 4) for k, x in st.items()} for m, st in stats.items()},
        "overhead_seconds": round(diff, 4),
        "overhead_percent": round(100 * diff / stats["without"]["median"], 2),
    }


def measure(project: Project, py: Path, src: Path, repeats: int,
            phases: Sequence[tuple[str, bool]] = (("collection", True), ("run", False)),
            ) -> dict[str, Any]:
    out: dict[str, Any] = {"project": f"{project.name} {project.version}".strip(),
                           "phases": [name for name, _ in phases]}
    for phase, collect_only in phases:
        walls: dict[str, list[float]] = {m: [] for m in MODES}
        cpus: dict[str, list[float]] = {m: [] for m in MODES}
        seen: dict[str, dict[str, int]] = {}
        time_once(py, src, project, "with", collect_only)  # warm the file cache, discarded
        for i in range(repeats):
            order = list(MODES) if i % 2 == 0 else list(reversed(MODES))
            for mode in order:
                wall, cpu, counts, _ = time_once(py, src, project, mode, collect_only)
                walls[mode].append(wall)
                cpus[mode].append(cpu)
                if mode in seen and seen[mode] != counts:
                    raise SystemExit(f"{phase} {mode}: outcomes changed between repeats: "
                                     f"{seen[mode]} then {counts}")
                seen[mode] = counts
            print(f"  {project.name} {phase} repeat {i + 1}/{repeats}: " + ", ".join(
                f"{m} {walls[m][-1]:.2f} s wall {cpus[m][-1]:.2f} s CPU" for m in MODES),
                flush=True)
        same = seen["with"] == seen["without"]
        out[phase] = {"wall": _phase_figures(walls), "cpu": _phase_figures(cpus),
                      "outcomes": seen, "same_outcomes": same}
        if not same:
            print(f"  !! outcomes differ: {seen}", flush=True)
    return out


def report(results: Sequence[dict[str, Any]]) -> str:
    lines = [f"python {platform.python_version()}, {os.cpu_count()} CPUs; runs alternate "
             "with/without -p no:gil; median [min-max] of the repeats"]
    for r in results:
        for phase in r["phases"]:
            p = r[phase]
            counts = ", ".join(f"{n} {k}" for k, n in p["outcomes"]["with"].items())
            n = len(p["wall"]["seconds"]["with"])
            lines.append(f"{r['project']} {phase} ({n} repeats): outcomes "
                         f"{'identical' if p['same_outcomes'] else 'DIFFER'} ({counts})")
            for clock in ("wall", "cpu"):
                f = p[clock]
                w, wo = f["stats"]["with"], f["stats"]["without"]
                lines.append(
                    f"  {clock:<4}  with {w['median']:.3f} s [{w['min']:.3f}-{w['max']:.3f}]"
                    f"  without {wo['median']:.3f} s [{wo['min']:.3f}-{wo['max']:.3f}]"
                    f"  overhead {f['overhead_seconds']:+.3f} s ({f['overhead_percent']:+.1f}%)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", action="append", choices=sorted(PROJECTS),
                        help="project whose suite to time (repeatable; default: "
                             "more-itertools and attrs)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per mode (default 5)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "pytest-gil-overhead")
    parser.add_argument("--startup-repeats", type=int, default=30,
                        help="runs per mode of a one-test suite, the fixed cost (default 30; "
                             "0 skips it)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--plugin-source", type=Path, default=REPO,
                        help="the pytest-gil tree to install (default: this checkout)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    results = []
    for i, name in enumerate(args.project or ["more-itertools", "attrs"]):
        project = PROJECTS[name]
        workdir = args.workdir / name
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"{name} {project.version}", flush=True)
        py, src = prepare(project, workdir, args.plugin_source)
        if i == 0 and args.startup_repeats:
            one = workdir / "startup"
            one.mkdir(exist_ok=True)
            (one / STARTUP.tests).write_text("def test_one():\n    pass\n")
            print(STARTUP.name, flush=True)
            results.append(measure(STARTUP, py, one, args.startup_repeats, (("run", False),)))
        results.append(measure(project, py, src, args.repeats))
    text = report(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"python": platform.python_version(),
                                         "results": results, "summary": text}, indent=2))
    return 0 if all(r[p]["same_outcomes"] for r in results for p in r["phases"]) else 1


if __name__ == "__main__":
    sys.exit(main())
