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


def measure_rounds(modes: dict[str, tuple[str, tuple[str, ...]]], repeat: int = 3) -> dict[str, dict]:
    """Each mode (code and its arguments) once per round, ``repeat`` rounds: this machine's speed drifts
    over minutes, and running the floor and triageparse in the same round keeps the drift out of their
    ratio. Per mode the median wall time and max peak RSS; ``x_floor``: the median of the per-round
    ratios to the mode "floor"."""
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for _ in range(repeat):
        for mode, (code, args) in modes.items():
            runs[mode].append(measure(code, *args, repeat=1))
    out = {}
    for mode, samples in runs.items():
        times = sorted(m["seconds"] for m in samples)
        out[mode] = {"seconds": times[len(times) // 2], "peak_rss_mib": max(m["peak_rss_mib"] for m in samples),
                     "runs": repeat}
        if mode != "floor" and "floor" in runs:
            ratios = sorted(m["seconds"] / f["seconds"] for m, f in zip(samples, runs["floor"]))
            out[mode]["x_floor"] = round(ratios[len(ratios) // 2], 2)
    return out


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
