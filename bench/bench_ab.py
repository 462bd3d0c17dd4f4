"""A/B: `triageparse convert` of an earlier commit against the working tree, on one input, in the same rounds.

This machine's speed drifts by up to a half over minutes, and differently for the floor (one core) and for
triageparse (both cores), so ratios from runs minutes apart cannot tell a 10 % change from the drift. Here
each round runs the floor (for an .evtx input), the base commit and the working tree back to back, in
alternating order; the report is the median of the per-round ratios, base/floor, tree/floor and tree/base.

The base commit is checked out as a git worktree under bench/data/ and its C accelerator built in place
with this venv's setuptools (nothing is installed; the base runs from its own src/ via PYTHONPATH).

    .venv/bin/python bench/bench_ab.py --base ab0f82d bench/data/mix_256m.evtx [--rounds 5]
"""
from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, save

ROOT = Path(__file__).resolve().parents[1]
FLOOR = "import sys, evtx\nfor r in evtx.PyEvtxParser(sys.argv[1]).records_json():\n    pass\n"
CONVERT = ("import sys; from triageparse.cli import main; "
           "sys.argv = ['triageparse', 'convert', sys.argv[1], '-o', sys.argv[2], '-q']; sys.exit(main())")


def base_tree(rev: str) -> Path:
    """src/ of ``rev`` with its accelerator built (a worktree, made once)."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    tree = DATA / f"ab-{sha}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True)
        build_accelerator(tree)
    return tree / "src"


def build_accelerator(tree: Path) -> None:
    """The base's _evtxfast.c built next to it, as its setup.py builds it (setup.py itself would read the
    base's pyproject.toml, which this venv's older setuptools may not understand)."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext
    source = tree / "src" / "triageparse" / "_evtxfast.c"
    if not source.exists():
        return
    dist = Distribution({"ext_modules": [Extension("triageparse._evtxfast", [str(source)],
                                                   extra_compile_args=["-O2", "-fno-strict-aliasing"])],
                         "package_dir": {"": str(tree / "src")}})
    cmd = build_ext(dist)
    cmd.build_temp, cmd.build_lib = str(tree / "build" / "temp"), str(tree / "build" / "lib")
    cmd.ensure_finalized()
    cmd.run()
    for built in Path(cmd.build_lib).rglob("_evtxfast*.so"):
        shutil.copy2(built, tree / "src" / "triageparse" / built.name)


def run(code: str, args: list[str], pythonpath: Path | None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system, the EVTX workers included: the process
    reaps them) of ``python -c code args`` in a fresh process."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise RuntimeError(f"a run failed ({status}): {code[:60]} {args}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", type=Path)
    ap.add_argument("--base", required=True, help="the commit to compare with")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    base = base_tree(args.base)
    out = DATA / "ab-out"
    sides = [("base", base), ("tree", ROOT / "src")]
    for _, src in sides:      # both with bytecode (as `make` installs): else a side pays compiling its modules
        compileall.compile_dir(str(src), quiet=1)
    times: dict[str, list[float]] = {"floor": [], "base": [], "tree": []}
    peaks: dict[str, float] = {"base": 0.0, "tree": 0.0}
    # CPU seconds too: on this machine they drift less than wall time (no waiting for a core), and what the
    # code costs is what brings the wall time down on a busy machine
    cpu: dict[str, list[float]] = {"base": [], "tree": []}
    for r in range(args.rounds):
        if args.input.suffix.lower() == ".evtx":
            times["floor"].append(run(FLOOR, [str(args.input)], None)[0])
        for name, src in sides if r % 2 == 0 else sides[::-1]:
            shutil.rmtree(out, ignore_errors=True)
            seconds, peak, used = run(CONVERT, [str(args.input), str(out)], src)
            times[name].append(seconds)
            cpu[name].append(used)
            peaks[name] = max(peaks[name], peak)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v), flush=True)
    result = {"input": str(args.input), "base": args.base, "rounds": args.rounds,
              "seconds": {k: round(median(v), 3) for k, v in times.items() if v},
              "peak_rss_mib": {k: round(v, 1) for k, v in peaks.items()},
              "cpu_seconds": {k: round(median(v), 3) for k, v in cpu.items()},
              "tree_x_base": round(median([t / b for t, b in zip(times["tree"], times["base"])]), 3),
              "tree_x_base_cpu": round(median([t / b for t, b in zip(cpu["tree"], cpu["base"])]), 3)}
    if times["floor"]:
        for name in ("base", "tree"):
            result[f"{name}_x_floor"] = round(median([x / f for x, f in zip(times[name], times["floor"])]), 2)
    print(result)
    print("results:", save(f"ab_{args.input.stem}", result))


if __name__ == "__main__":
    main()
