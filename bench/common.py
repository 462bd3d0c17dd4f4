"""Helpers shared by the benchmarks: run a command in a fresh process and measure it.

Every benchmark compares triageparse with the raw-library floor on the same file in one run and
reports the ratio; absolute times drift between machines, ratios much less.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
RESULTS = BENCH / "results"


def measure(code: str, *args: str, repeat: int = 3) -> dict:
    """Run ``python -c code args`` ``repeat`` times; median wall seconds and max peak RSS (MiB)."""
    times, peaks = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, *args])
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        if status != 0:
            raise RuntimeError(f"benchmark step failed ({status}): {code[:80]}")
        peaks.append(usage.ru_maxrss / 1024)
    times.sort()
    return {"seconds": round(times[len(times) // 2], 3), "peak_rss_mib": round(max(peaks), 1), "runs": repeat}


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
