"""Batch: 200 generated collections converted with --jobs 1 and --jobs 2 (target speed-up >= 1.7x).

    .venv/bin/python bench/bench_batch.py [--collections 200] [--rows 3000]
"""
from __future__ import annotations

import argparse
import io
import zipfile

from bench_csv import HEADER
from common import DATA, measure, save

CODE = """
import sys, shutil, triageparse
shutil.rmtree(sys.argv[2], ignore_errors=True)
s = triageparse.convert(sorted(__import__('glob').glob(sys.argv[1] + '/*.zip')), sys.argv[2], jobs=int(sys.argv[3]))
assert s.ok and len(s.collections) > 0
"""


def make_zip(path, host: str, rows: int) -> None:
    """A DFIR-Script-like zip: backslash names, DNSCache.csv and a process list, as PowerShell 5.1 writes them."""
    root = f"DFIR-{host}-2025-10-02"
    dns = io.StringIO()
    dns.write(",".join(f'"{h}"' for h in HEADER) + "\r\n")
    for i in range(rows):
        dns.write(f'"{i}",,,,,"10.0.{i % 250}.{i % 7}","4","h{i}.{host}.example","h{i}.{host}.example","1","0","1",'
                  ',"ROOT/StandardCimv2:MSFT_DNSClientCache","x","y"\r\n')
    procs = io.StringIO()
    procs.write('"Proc_Name","Proc_Path","Proc_CommandLine","Proc_ParentProcessId","Proc_ProcessId","Proc_Hash"\r\n')
    for i in range(rows // 10):
        procs.write(f'"p{i}.exe","C:\\\\Windows\\\\p{i}.exe","p{i}.exe -x {i}","{i}","{i + 1}","{"AB" * 32}"\r\n')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{root}\\CSV Results (SIEM Import Data)\\DNSCache.csv", b"\xef\xbb\xbf" + dns.getvalue().encode())
        zf.writestr(f"{root}\\ProcessInformation\\ProcessList.csv", procs.getvalue().encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--collections", type=int, default=200)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    folder = DATA / f"batch-{args.collections}-{args.rows}"
    if not folder.exists():
        folder.mkdir(parents=True)
        for i in range(args.collections):
            make_zip(folder / f"DFIR-HOST{i:04d}-2025-10-02.zip", f"HOST{i:04d}", args.rows)
    one = measure(CODE, str(folder), str(DATA / "batch-out"), "1", repeat=args.repeat)
    two = measure(CODE, str(folder), str(DATA / "batch-out"), "2", repeat=args.repeat)
    result = {"benchmark": f"{args.collections} collections, --jobs 1 vs --jobs 2", "jobs1": one, "jobs2": two,
              "speedup": round(one["seconds"] / two["seconds"], 2)}
    print(f"jobs 1: {one['seconds']:.2f} s   jobs 2: {two['seconds']:.2f} s   speed-up {result['speedup']}x")
    print("results:", save("batch", result))


if __name__ == "__main__":
    main()
