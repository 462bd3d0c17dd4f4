"""EVTX: end-to-end conversion against the raw-library floor on the same big file, in one run.

The big file is made of real chunks of the corpus logs (never committed; written to bench/data/):
the 4 KiB file header of a corpus Security log, then 64 KiB chunks copied verbatim from the corpus
files that parse without error, about 70 % of them from Security logs and 30 % from Sysmon logs
(the mix of performance-baselines.md), repeated in order until the target size. Every chunk keeps
its own checksums and records; the Rust parser reads chunks past the header's chunk count, which
is what lets the copy grow beyond the original header.

Modes (each in a fresh process, one run of each per round; median wall time of --repeat rounds, peak RSS;
the ratio is the median of the per-round ratios):
  floor       iterate ``PyEvtxParser(path).records_json()`` and do nothing else
  parse_only  EvtxLog.convert_file on the file directly: reader, batch conversion (C accelerator), Parquet (files of
              two 16 MiB groups of chunks or more: forked workers, one per core, take the chunk ranges in turns)
  convert     ``triageparse convert FILE -o OUT -q``, the command an analyst runs: also sha256, CollectedFile
              bookkeeping, and the command's allocator (jemalloc; the library keeps pyarrow's default)
  dfir        ``triageparse convert FOLDER``: the file as ``Event Viewer/Security.evtx`` of a DFIR-Script folder
              that also has a 10,000-row SecurityEvents.csv (the time-zone evidence and the CSV's
              de-duplication need the log's record numbers: they come from its conversion, not a second pass)

SecurityEvents.csv (--csv-rows N): a Get-EventLog CSV of N rows written by sample_data/make_collections.py
(multi-line English messages, ~1 KB a record) inside a DFIR folder, against the pyarrow floor
(read_csv with explicit types + write_table zstd, performance-baselines.md §2).

    .venv/bin/python bench/bench_evtx.py --sizes 256 1024 [--repeat 3] [--csv-rows 1000000] [--dfir]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

from common import DATA, RESULTS, measure, measure_rounds, save

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TRIAGEPARSE_CORPUS", ROOT.parent / "shared" / "corpus"))
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_MAGIC = b"ElfChnk\x00"


def corpus_chunks(channel: str) -> list[bytes]:
    """Chunks of the corpus logs of one channel whose files the Rust parser reads without an error."""
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())
    chunks = []
    for entry in manifest:
        info = entry.get("evtx")
        if entry["kind"] != "evtx" or not info or info["rs_errors"] or list(info["channels"]) != [channel]:
            continue
        data = (CORPUS / entry["staged"]).read_bytes()
        for off in range(HEADER_SIZE, len(data) - CHUNK_SIZE + 1, CHUNK_SIZE):
            chunk = data[off:off + CHUNK_SIZE]
            if chunk.startswith(CHUNK_MAGIC) and chunk[CHUNK_SIZE // 128:].strip(b"\x00"):
                chunks.append(chunk)
    return chunks


def build_big_file(path: Path, megabytes: int) -> Path:
    if path.exists() and path.stat().st_size >= megabytes << 20:
        return path
    security = corpus_chunks("Security")
    sysmon = corpus_chunks("Microsoft-Windows-Sysmon/Operational")
    header_source = next(p for p in sorted((CORPUS / "evtx").rglob("*.evtx"))
                         if "security_bad_string_cache" in p.name)
    header = header_source.read_bytes()[:HEADER_SIZE]
    # 7 Security chunks then 3 Sysmon chunks, cycling through each list.
    sec_cycle, sys_cycle = itertools.cycle(security), itertools.cycle(sysmon)
    order = itertools.cycle([sec_cycle] * 7 + [sys_cycle] * 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(header)
        size = HEADER_SIZE
        while size < megabytes << 20:
            f.write(next(next(order)))
            size += CHUNK_SIZE
    return path


FLOOR = """
import sys, evtx
n = 0
for r in evtx.PyEvtxParser(sys.argv[1]).records_json():
    n += 1
print(n)
"""

PARSE_ONLY = """
import sys, shutil
from pathlib import Path
from triageparse.artifacts.eventlog_evtx import EvtxLog
from triageparse.artifacts.base import FileContext
from triageparse.collection import Collection, Member, Budget, Limits
from triageparse.convert import CollectionRun
out = Path(sys.argv[2]); shutil.rmtree(out, ignore_errors=True)
member = Member("big.evtx", None, lambda: open(sys.argv[1], "rb"), Budget(Limits()))
run = CollectionRun(Collection(Path(sys.argv[1]), "", [member], "0" * 64), out, None, None)
run.setup_time([])
ctx = FileContext(run, member, "evtx")
EvtxLog().convert_file(Path(sys.argv[1]), ctx)
run.sink.close()
assert ctx.rows_read == ctx.rows_written + ctx.rows_rejected
print(ctx.rows_written)
"""

CONVERT = """
import sys, shutil
from triageparse.cli import main
shutil.rmtree(sys.argv[2], ignore_errors=True)
sys.exit(main(["convert", sys.argv[1], "-o", sys.argv[2], "-q"]))
"""


CSV_FLOOR = """
import sys, pyarrow as pa, pyarrow.csv as c, pyarrow.parquet as pq
names = ["EventID", "MachineName", "Data", "Index", "Category", "CategoryNumber", "EntryType", "Message", "Source",
         "ReplacementStrings", "InstanceId", "TimeGenerated", "TimeWritten", "UserName", "Site", "Container"]
types = {n: pa.string() for n in names}
types.update(EventID=pa.int32(), CategoryNumber=pa.int32(), Index=pa.int64(), InstanceId=pa.int64())
t = c.read_csv(sys.argv[1], parse_options=c.ParseOptions(newlines_in_values=True),
               convert_options=c.ConvertOptions(column_types=types))
pq.write_table(t, sys.argv[2], compression="zstd")
print(t.num_rows)
"""


def security_events_csv(rows: int) -> Path:
    folder = DATA / f"DFIR-EVCSV-2025-10-02-{rows}" / "DFIR-EVCSV-2025-10-02"
    path = folder / "CSV Results (SIEM Import Data)" / "SecurityEvents.csv"
    if not path.exists():
        sys.path.insert(0, str(ROOT / "sample_data"))
        from make_collections import write_big_csv
        write_big_csv(path, "SecurityEvents", rows)
    return path


def dfir_folder(evtx_path: Path, mb: int) -> Path:
    """A DFIR-Script folder around the big log (a hard link), with a SecurityEvents.csv of 10,000 rows."""
    root = DATA / f"DFIR-SECBIG{mb}-2025-10-02" / "DFIR-SECBIG-2025-10-02"
    log = root / "Event Viewer" / "Security.evtx"
    if not log.exists():
        log.parent.mkdir(parents=True, exist_ok=True)
        os.link(evtx_path, log)
        sys.path.insert(0, str(ROOT / "sample_data"))
        from make_collections import write_big_csv
        write_big_csv(root / "CSV Results (SIEM Import Data)" / "SecurityEvents.csv", "SecurityEvents", 10_000)
    return root


def count_records(path: Path) -> int:
    import evtx
    return sum(1 for _ in evtx.PyEvtxParser(str(path)).records_json())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="file sizes in MiB")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--csv-rows", type=int, default=0, help="also SecurityEvents.csv with this many rows")
    ap.add_argument("--dfir", action="store_true", help="also the log inside a DFIR folder with SecurityEvents.csv")
    args = ap.parse_args()
    # Sizes and the CSV part not measured this time keep their earlier results.
    previous = RESULTS / "evtx.json"
    results = json.loads(previous.read_text()) if previous.exists() else {"runs": {}}
    results["method"] = __doc__.split("\n\n")[1].replace("\n", " ")
    if args.csv_rows:
        path = security_events_csv(args.csv_rows)
        floor = measure(CSV_FLOOR, str(path), str(DATA / "evcsv_floor.parquet"), repeat=args.repeat)
        ours = measure(CONVERT, str(path.parents[1]), str(DATA / "evcsv_out"), repeat=args.repeat)
        row = {"rows": args.csv_rows, "bytes": path.stat().st_size, "floor": floor, "convert": ours,
               "convert_x_floor": round(ours["seconds"] / floor["seconds"], 2),
               "rows_per_s": round(args.csv_rows / ours["seconds"]),
               "floor_rows_per_s": round(args.csv_rows / floor["seconds"])}
        results["security_events_csv"] = row
        print(f"SecurityEvents.csv {args.csv_rows:,} rows: floor {floor['seconds']} s ({floor['peak_rss_mib']} MiB); "
              f"convert {ours['seconds']} s = {row['convert_x_floor']}x ({ours['peak_rss_mib']} MiB, "
              f"{row['rows_per_s']:,} rows/s)", flush=True)
    for mb in args.sizes:
        if mb <= 0:
            continue
        path = build_big_file(DATA / f"mix_{mb}m.evtx", mb)
        records = count_records(path)
        out = str(DATA / f"evtx_out_{mb}")
        row = {"file_mib": mb, "records": records}
        modes = {mode: (code, (str(path), out)) for mode, code in
                 (("floor", FLOOR), ("parse_only", PARSE_ONLY), ("convert", CONVERT))}
        if args.dfir:
            modes["dfir"] = (CONVERT, (str(dfir_folder(path, mb)), out))
        measured = measure_rounds(modes, repeat=args.repeat)
        for mode, m in measured.items():
            m["records_per_s"] = round(records / m["seconds"])
            row[mode] = m
        for mode in measured:
            if mode != "floor":
                row[f"{mode}_x_floor"] = row[mode].pop("x_floor")
        results["runs"][f"{mb}MiB"] = row
        print(f"{mb} MiB, {records:,} records: floor {row['floor']['seconds']} s "
              f"({row['floor']['peak_rss_mib']} MiB); parse_only {row['parse_only']['seconds']} s = "
              f"{row['parse_only_x_floor']}x ({row['parse_only']['peak_rss_mib']} MiB, "
              f"{row['parse_only']['records_per_s']:,} rec/s); convert {row['convert']['seconds']} s = "
              f"{row['convert_x_floor']}x ({row['convert']['peak_rss_mib']} MiB, "
              f"{row['convert']['records_per_s']:,} rec/s)" +
              (f"; dfir folder {row['dfir']['seconds']} s = {row['dfir_x_floor']}x ({row['dfir']['peak_rss_mib']} MiB)"
               if "dfir" in row else ""), flush=True)
    print("results:", save("evtx", results))


if __name__ == "__main__":
    sys.exit(main())
