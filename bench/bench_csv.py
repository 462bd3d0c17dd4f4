"""Structured CSV: end-to-end conversion against the pyarrow floor on the same file.

Floor = pyarrow ``read_csv`` with explicit types + ``write_table`` (zstd), the cheapest way to
turn the file into typed Parquet. triageparse does more (name mapping, placeholders, provenance,
bookkeeping, sha256 of every byte); the ratio says what that costs. Two ways to run it: the library call
``triageparse.convert`` (a caller that may use pandas: pyarrow's import of it is paid, on a thread) and the
``triageparse convert`` command an analyst runs.

    .venv/bin/python bench/bench_csv.py [--rows 1000000]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys

from common import DATA, measure_rounds, save

HEADER = ["TimeToLive", "Caption", "Description", "ElementName", "InstanceId", "Data", "DataLength", "Entry", "Name",
          "Section", "Status", "Type", "PSComputerName", "CimClass", "CimInstanceProperties", "CimSystemProperties"]


def write_dns_cache(path, rows: int) -> None:
    """A DNSCache.csv as Windows PowerShell 5.1 writes it (UTF-8 BOM, quoted, $null as ,,)."""
    rnd = random.Random(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf" + ",".join(f'"{h}"' for h in HEADER).encode() + b"\r\n")
        chunk = []
        for i in range(rows):
            name = f"host{rnd.randrange(10**6)}.example{i % 97}.com"
            chunk.append(f'"{rnd.randrange(86400)}",,,,,"10.{i % 256}.{(i >> 8) % 256}.{rnd.randrange(256)}","4",'
                          f'"{name}","{name}","1","0","1",,"ROOT/StandardCimv2:MSFT_DNSClientCache",'
                          '"Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",'
                          '"Microsoft.Management.Infrastructure.CimSystemProperties"\r\n')
            if len(chunk) == 10000:
                f.write("".join(chunk).encode())
                chunk = []
        f.write("".join(chunk).encode())


FLOOR = """
import sys, pyarrow as pa, pyarrow.csv as c, pyarrow.parquet as pq
names = %r
types = {n: pa.string() for n in names}
types.update(TimeToLive=pa.int64(), DataLength=pa.int32(), Section=pa.int32(), Status=pa.int32(), Type=pa.int32())
t = c.read_csv(sys.argv[1], parse_options=c.ParseOptions(newlines_in_values=True),
               convert_options=c.ConvertOptions(column_types=types))
pq.write_table(t, sys.argv[2], compression="zstd")
""" % (HEADER,)

TRIAGEPARSE = """
import sys, shutil, triageparse
shutil.rmtree(sys.argv[2], ignore_errors=True)
s = triageparse.convert([sys.argv[1]], sys.argv[2])
assert s.ok, s
"""
# what an analyst runs: `triageparse convert FOLDER -o OUT` (its own process keeps pandas out, see cli.main)
COMMAND = """
import sys, shutil
shutil.rmtree(sys.argv[2], ignore_errors=True)
from triageparse.cli import main
sys.argv = ["triageparse", "convert", sys.argv[1], "-o", sys.argv[2], "-q"]
sys.exit(main())
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--name", default="csv", help="results file name (bench/results/<name>.json)")
    args = ap.parse_args()
    result = {"benchmark": "structured CSV (DNSCache.csv) -> typed Parquet", "sizes": []}
    for rows in (args.rows // 2, args.rows):
        folder = DATA / f"DFIR-BENCH-2025-10-02-{rows}" / "DFIR-BENCH-2025-10-02"
        csv_path = folder / "CSV Results (SIEM Import Data)" / "DNSCache.csv"
        if not csv_path.exists():
            write_dns_cache(csv_path, rows)
        measured = measure_rounds({"floor": (FLOOR, (str(csv_path), str(DATA / "floor.parquet"))),
                                   "triageparse": (TRIAGEPARSE, (str(folder), str(DATA / "out"))),
                                   "command": (COMMAND, (str(folder), str(DATA / "out")))}, repeat=args.repeat)
        floor, ours, command = measured["floor"], measured["triageparse"], measured["command"]
        size = csv_path.stat().st_size
        entry = {"rows": rows, "bytes": size, "floor": floor, "triageparse": ours, "command": command,
                 "time_ratio": ours.pop("x_floor"), "command_time_ratio": command.pop("x_floor"),
                 "rows_per_second": int(rows / ours["seconds"])}
        result["sizes"].append(entry)
        print(f"{rows:>9,} rows {size / 1e6:7.1f} MB  floor {floor['seconds']:.2f} s {floor['peak_rss_mib']:.0f} MiB  "
              f"library {ours['seconds']:.2f} s {ours['peak_rss_mib']:.0f} MiB  ratio {entry['time_ratio']}x  "
              f"command {command['seconds']:.2f} s {command['peak_rss_mib']:.0f} MiB  "
              f"ratio {entry['command_time_ratio']}x", flush=True)
    small, big = result["sizes"]
    result["memory_growth_when_input_doubles"] = round(big["triageparse"]["peak_rss_mib"] /
                                                       small["triageparse"]["peak_rss_mib"], 2)
    print("results:", save(args.name, result))
    shutil.rmtree(DATA / "out", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
