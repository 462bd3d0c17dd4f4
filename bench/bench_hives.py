"""Registry hives: autoruns + services of the largest SYSTEM hive in the corpus, end to end.

    .venv/bin/python bench/bench_hives.py [--runs 3] [--with-plugin]

Lays the hive out like a KAPE triage (``C/Windows/System32/config/SYSTEM`` with its .LOG1/.LOG2),
then times the whole ``triageparse convert`` command in a fresh process (start-up, hashing,
transaction-log replay, Parquet writing included). ``--with-plugin`` also times regipy's own
``services`` plugin on the same hive, unpatched (tens of seconds), for the ratio.
Writes bench/results/hives.json.
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TRIAGEPARSE_CORPUS", ROOT.parent / "shared" / "corpus"))
RESULTS = ROOT / "bench" / "results" / "hives.json"


def largest_system_hive() -> tuple[str, int, list[str]]:
    """(staged path, key count, staged paths of its logs) of the SYSTEM hive with most keys."""
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())
    hives = [e for e in manifest if e.get("hive", {}).get("regipy_hive_type") == "system"
             and not e["hive"].get("regipy_errors")]
    best = max(hives, key=lambda e: e["hive"]["keys"])
    stem = best["staged"].removesuffix(".xz")
    logs = [e["staged"] for e in manifest if e["staged"].startswith(stem + ".LOG")]
    return best["staged"], best["hive"]["keys"], logs


def materialise(staged: str, target: Path) -> None:
    source = CORPUS / staged
    target.parent.mkdir(parents=True, exist_ok=True)
    if staged.endswith(".xz"):
        with lzma.open(source) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copyfile(source, target)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of a child process: CPU time is what to compare on a
    shared machine, where wall time grows with the load of the other processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_convert(folder: Path, out: Path) -> tuple[float, float]:
    return timed([str(Path(sys.executable).with_name("triageparse")), "convert", str(folder), "-o", str(out)])


def time_startup() -> tuple[float, float]:
    """The floor every conversion pays: interpreter start, CLI import, every artifact module registered."""
    return timed([sys.executable, "-c", "import triageparse.cli; from triageparse.artifacts import load_all; load_all()"])


def time_regipy_services_plugin(hive: Path) -> float:
    code = ("from regipy.registry import RegistryHive\n"
            "from regipy.plugins.system.services import ServicesPlugin\n"
            f"p = ServicesPlugin(RegistryHive({str(hive)!r}), as_json=True); p.run()\n")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--with-plugin", action="store_true", help="also time regipy's services plugin (slow)")
    args = ap.parse_args()
    staged, keys, logs = largest_system_hive()
    with tempfile.TemporaryDirectory(prefix="bench-hives-") as tmp:
        folder = Path(tmp) / "kape"
        config = folder / "C" / "Windows" / "System32" / "config"
        materialise(staged, config / "SYSTEM")
        for log in logs:
            materialise(log, config / ("SYSTEM." + log.removesuffix(".xz").rsplit(".", 1)[-1]))
        runs = [time_convert(folder, Path(tmp) / f"out{i}") for i in range(args.runs)]
        out = Path(tmp) / f"out{args.runs - 1}"
        times, cpu = [w for w, _ in runs], [c for _, c in runs]
        startup = [time_startup() for _ in range(args.runs)]
        rows = {t: ds.dataset(out / t).count_rows() for t in ("Autorun", "Service")}
        result = {
            "hive": staged, "keys": keys, "logs": logs, "size_bytes": (config / "SYSTEM").stat().st_size,
            "command": f"triageparse convert <folder with C/Windows/System32/config/SYSTEM{{,.LOG1,.LOG2}}> -o OUT",
            "runs": args.runs, "wall_seconds": [round(t, 3) for t in times],
            "median_seconds": round(statistics.median(times), 3), "min_seconds": round(min(times), 3),
            "cpu_seconds": [round(c, 3) for c in cpu], "median_cpu_seconds": round(statistics.median(cpu), 3),
            "startup_median_seconds": round(statistics.median(w for w, _ in startup), 3),
            "startup_median_cpu_seconds": round(statistics.median(c for _, c in startup), 3),
            "load_average_1min": round(os.getloadavg()[0], 2), "rows": rows,
            "target_seconds": 2.0, "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        }
        if args.with_plugin:
            result["regipy_services_plugin_seconds"] = round(time_regipy_services_plugin(config / "SYSTEM"), 3)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
