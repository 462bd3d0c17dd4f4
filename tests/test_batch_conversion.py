"""Many collections: parallel equals serial byte for byte, done sources are skipped, a killed run recovers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

import triageparse

from psbytes import CSV_DIR, c8, zip_collection

HEADER = ["Entry", "Name", "Data", "Type", "Status", "Section", "TimeToLive", "DataLength"]


def dns_zip(folder: Path, host: str, rows: int) -> Path:
    data = c8(HEADER, [[f"h{i}.{host}.example", f"h{i}.{host}.example", f"10.0.{i % 250}.{i % 7}", "1", "0", "1",
                        str(i), "4"] for i in range(rows)])
    name = f"DFIR-{host}-2025-10-02"
    return zip_collection(folder / f"{name}.zip", name, {f"{CSV_DIR}/DNSCache.csv": data})


def parquet_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def test_parallel_output_equals_serial_output_byte_for_byte(tmp_path):
    zips = [dns_zip(tmp_path, f"HOST{i}", 50 + i) for i in range(4)]
    serial = triageparse.convert(zips, tmp_path / "serial", jobs=1)
    parallel = triageparse.convert(zips, tmp_path / "parallel", jobs=2)
    assert [c.collection_id for c in serial.collections] == [c.collection_id for c in parallel.collections]
    assert parquet_bytes(tmp_path / "serial") == parquet_bytes(tmp_path / "parallel")
    assert len(ds.dataset(tmp_path / "parallel" / "DnsCacheEntry").to_table()) == sum(50 + i for i in range(4))


def test_rerun_skips_converted_sources_unless_forced(tmp_path):
    zips = [dns_zip(tmp_path, "A", 5), dns_zip(tmp_path, "B", 5)]
    out = tmp_path / "out"
    triageparse.convert(zips[:1], out)
    second = triageparse.convert(zips, out)
    assert [c.skipped for c in second.collections] == [True, False]
    assert "--force" in second.collections[0].messages[0]
    forced = triageparse.convert(zips, out, force=True)
    assert not any(c.skipped for c in forced.collections)
    assert len(ds.dataset(out / "DnsCacheEntry").to_table()) == 10   # rewritten, not duplicated


def test_a_damaged_collection_file_in_out_does_not_stop_the_skip_of_the_others(tmp_path):
    zips = [dns_zip(tmp_path, "A", 5), dns_zip(tmp_path, "B", 5)]
    out = tmp_path / "out"
    triageparse.convert(zips, out)
    (out / "Collection" / "0000000000000000.parquet").write_bytes(b"PAR1 not a parquet file")
    again = triageparse.convert(zips, out)
    assert [c.skipped for c in again.collections] == [True, True]


def test_a_killed_run_leaves_no_half_table_and_the_rerun_completes_it(tmp_path):
    big = dns_zip(tmp_path, "BIG", 400_000)
    out = tmp_path / "out"
    code = "import sys, triageparse; triageparse.convert([sys.argv[1]], sys.argv[2])"
    proc = subprocess.Popen([sys.executable, "-c", code, str(big), str(out)])
    deadline = time.time() + 60
    while time.time() < deadline and not list(out.glob("DnsCacheEntry/.*.tmp")):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list(out.glob("*/*.parquet")), "a killed run must not leave finished-looking files"
    summary = triageparse.convert([big], out)
    assert not summary.collections[0].skipped
    assert not list(out.glob("*/.*.tmp"))
    assert len(ds.dataset(out / "DnsCacheEntry").to_table()) == 400_000
    clean = tmp_path / "clean"
    triageparse.convert([big], clean)
    assert parquet_bytes(out) == parquet_bytes(clean)


def test_compact_merges_small_files_without_changing_content_and_reconversion_does_not_duplicate(tmp_path):
    from triageparse.layout import compact
    zips = [dns_zip(tmp_path, f"H{i}", 20 + i) for i in range(5)]
    out = tmp_path / "out"
    triageparse.convert(zips, out)
    before = ds.dataset(out / "DnsCacheEntry").to_table().sort_by([("CollectionId", "ascending"),
                                                                      ("SourceRecord", "ascending")])
    results = {r.table: r for r in compact(out)}
    assert results["DnsCacheEntry"].files_before == 5 and results["DnsCacheEntry"].files_after == 1
    after = ds.dataset(out / "DnsCacheEntry").to_table().sort_by([("CollectionId", "ascending"),
                                                                     ("SourceRecord", "ascending")])
    assert after.equals(before)
    assert triageparse.convert(zips[:1], out).collections[0].skipped
    triageparse.convert(zips[:1], out, force=True)
    again = ds.dataset(out / "DnsCacheEntry").to_table().sort_by([("CollectionId", "ascending"),
                                                                     ("SourceRecord", "ascending")])
    assert again.equals(before)


def test_watch_converts_collections_as_they_land(tmp_path):
    import threading

    from triageparse.convert import watch
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    stop, seen = threading.Event(), []
    worker = threading.Thread(target=watch, args=(inbox, out), daemon=True,
                              kwargs=dict(interval=0.05, stop=stop, on_converted=seen.append))
    worker.start()
    try:
        dns_zip(tmp_path, "LATE", 3).rename(inbox / "DFIR-LATE-2025-10-02.zip")
        deadline = time.time() + 30
        while time.time() < deadline and not list((out / "Collection").glob("*.parquet")):
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(10)
    assert len(ds.dataset(out / "DnsCacheEntry").to_table()) == 3
    assert sum(len(s.collections) for s in seen) == 1     # converted once, not on every look


def test_a_rerun_with_other_conversion_options_converts_again(tmp_path):
    z = dns_zip(tmp_path, "TZ", 3)
    out = tmp_path / "out"
    triageparse.convert([z], out)
    assert triageparse.convert([z], out).collections[0].skipped
    again = triageparse.convert([z], out, timezone="Europe/Amsterdam")     # learnt the host's zone later
    assert not again.collections[0].skipped
    assert triageparse.convert([z], out, timezone="Europe/Amsterdam").collections[0].skipped
    assert len(ds.dataset(out / "DnsCacheEntry").to_table()) == 3


def test_free_text_columns_get_neither_dictionary_nor_statistics_and_the_rest_keep_both(tmp_path):
    import pyarrow.parquet as pq
    out = tmp_path / "out"
    triageparse.convert([dns_zip(tmp_path, "BIG", 3000)], out)
    meta = pq.ParquetFile(next((out / "DnsCacheEntry").glob("*.parquet"))).metadata
    columns = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i)
               for i in range(meta.num_columns)}
    for free_text in ("Entry", "Name", "Data"):     # one distinct value per row; Data 1,750 in 3,000 rows
        assert not columns[free_text].has_dictionary_page
        assert not columns[free_text].is_stats_set
    for coded in ("Computer", "RecordTypeName", "RecordType"):     # one or a few distinct values
        assert columns[coded].has_dictionary_page
        assert columns[coded].is_stats_set
    # Below FREE_TEXT_MIN_VALUES values nothing is decided: the defaults stay.
    triageparse.convert([dns_zip(tmp_path, "SMALL", 100)], tmp_path / "small")
    small = pq.ParquetFile(next((tmp_path / "small" / "DnsCacheEntry").glob("*.parquet"))).metadata
    assert all(small.row_group(0).column(i).has_dictionary_page for i in range(small.num_columns)
               if small.schema.column(i).physical_type == "BYTE_ARRAY")


@pytest.mark.parametrize("kind", ["zip", "folder"])
def test_a_source_hashed_beside_its_conversion_gets_the_ids_of_one_hashed_first(tmp_path, monkeypatch, kind):
    """Into an OUT with nothing to skip, a source is hashed on a thread while it is converted; the tables must
    be the ones a run that hashed first writes (CollectionId and file names come from the hash)."""
    import threading
    import zipfile

    from triageparse import collection
    threads = []
    real = collection.sha256_file

    def spy(path):
        threads.append(threading.current_thread().name)
        return real(path)

    monkeypatch.setattr(collection, "sha256_file", spy)          # every source hash goes through it
    source = dns_zip(tmp_path, "WS01", 3000)
    if kind == "folder":
        with zipfile.ZipFile(source) as z:              # PowerShell's backslash names, as folders
            for info in z.infolist():
                target = tmp_path / "folder" / info.filename.replace("\\", "/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
        source = tmp_path / "folder" / "DFIR-WS01-2025-10-02"
        (source / "notes.txt").write_text("a second file: the identity hashes both, in order\n")
    fresh = tmp_path / "fresh"
    triageparse.convert([source], fresh)
    assert threads and set(threads) == {"triageparse-sha256"}     # not on the converting thread

    other = tmp_path / "other"                        # OUT already holds a source: hashed first, to skip
    (tmp_path / "b").mkdir()
    triageparse.convert([dns_zip(tmp_path / "b", "WS02", 10)], other)
    threads.clear()
    triageparse.convert([source], other)
    assert threads and set(threads) == {"MainThread"}
    fresh_files = parquet_bytes(fresh)
    assert fresh_files and all(other_bytes == fresh_files[name]
                               for name, other_bytes in parquet_bytes(other).items() if name in fresh_files)
    assert set(fresh_files) <= set(parquet_bytes(other))
    if kind == "zip":
        import hashlib
        rows = ds.dataset(fresh / "Collection").to_table().to_pylist()
        assert [r["SourceSha256"] for r in rows] == [hashlib.sha256(source.read_bytes()).hexdigest()]


def test_the_convert_command_keeps_pandas_out_and_writes_what_the_library_writes(tmp_path):
    # pyarrow would import pandas (0.4 s of CPU) for nothing; the bytes must not depend on it.
    zips = [dns_zip(tmp_path, f"WS{i:02d}", 500) for i in range(3)]
    code = ("import sys; from triageparse import cli; sys.argv = ['triageparse', 'convert', *sys.argv[1:]]; "
            "rc = cli.main(); print(rc, sys.modules.get('pandas') is not None)")
    done = subprocess.run([sys.executable, "-c", code, *map(str, zips), "-o", str(tmp_path / "cmd"), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr[-2000:]
    import pandas  # noqa: F401  this process has it, as a library caller would
    triageparse.convert(zips, tmp_path / "lib")
    assert parquet_bytes(tmp_path / "cmd") == parquet_bytes(tmp_path / "lib")


WORKER_PANDAS = """
import importlib, sys
import triageparse
convert_module = importlib.import_module("triageparse.convert")    # (the package's `convert` is the function)
convert_source = convert_module._convert_source

def reporting(source, **kwargs):         # runs in the worker process: does it have pandas after a conversion?
    results = convert_source(source, **kwargs)
    results[0].messages.append(f"pandas in worker: {'pandas' in sys.modules}")
    return results

convert_module._convert_source = reporting
summary = triageparse.convert(sys.argv[1:-1], sys.argv[-1], jobs=2)
print(sorted({m for c in summary.collections for m in c.messages if m.startswith("pandas")}))
"""


def test_batch_workers_keep_pandas_out_when_the_caller_has_not_imported_it(tmp_path):
    # each worker process would import it (0.4 s of CPU) at its first array of Python objects, for nothing
    zips = [dns_zip(tmp_path, f"WS{i:02d}", 200) for i in range(4)]
    done = subprocess.run([sys.executable, "-c", WORKER_PANDAS, *map(str, zips), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "['pandas in worker: False']", done.stderr[-2000:]


def test_a_folder_file_unreadable_when_hashed_beside_is_left_out_of_the_identity_as_when_hashed_first(
        tmp_path, monkeypatch):
    from triageparse import collection
    folder = tmp_path / "DFIR-WS03-2025-10-02"
    (folder / "CSV Results (SIEM Import Data)").mkdir(parents=True)
    (folder / "notes.txt").write_text("read by the inventory, then gone bad\n")
    real = collection.sha256_file

    def failing(path):
        if path.name == "notes.txt":
            raise OSError(5, "Input/output error")
        return real(path)

    monkeypatch.setattr(collection, "sha256_file", failing)
    beside = triageparse.convert([folder], tmp_path / "beside")          # nothing to skip: hashed beside
    (tmp_path / "b").mkdir()
    triageparse.convert([dns_zip(tmp_path / "b", "WS02", 10)], tmp_path / "first")
    first = triageparse.convert([folder], tmp_path / "first")             # hashed first
    assert beside.collections[0].collection_id == first.collections[0].collection_id
    files = {f["SourceFile"]: f for f in ds.dataset(tmp_path / "beside" / "CollectedFile").to_table().to_pylist()}
    assert files["notes.txt"]["Status"] == "refused" and files["notes.txt"]["Sha256"] is None
    issues = ds.dataset(tmp_path / "beside" / "ParseIssue").to_table().to_pylist()
    assert any(i["SourceFile"] == "notes.txt" and "Input/output error" in i["Reason"] for i in issues)


@pytest.mark.parametrize("when", ["beside", "first"])
def test_a_source_that_cannot_be_hashed_fails_alone_and_leaves_nothing_in_out(tmp_path, monkeypatch, when):
    """A zip or loose file that cannot be read to its end has no identity: nothing of it is written, it is
    reported, and the other sources are converted (it used to stop the whole conversion with an OSError,
    after leaving the collection's unfinished table files in OUT)."""
    from triageparse import collection
    (tmp_path / "in").mkdir()
    bad, good = dns_zip(tmp_path / "in", "WS08", 3000), dns_zip(tmp_path / "in", "WS09", 10)
    out = tmp_path / "out"
    if when == "first":        # OUT holds a converted source: sources are hashed before they are converted
        (tmp_path / "old").mkdir()
        triageparse.convert([dns_zip(tmp_path / "old", "WS07", 10)], out)
    real = collection.sha256_file

    def failing(path):
        if Path(path).name == bad.name:
            raise OSError(5, "Input/output error")
        return real(path)

    monkeypatch.setattr(collection, "sha256_file", failing)
    summary = triageparse.convert([bad, good], out)
    failed, converted = summary.collections
    assert not summary.ok and failed.errors == 1 and not failed.tables
    assert bad.name in failed.messages[0] and "Input/output error" in failed.messages[0]
    assert converted.name == good.name and converted.tables["DnsCacheEntry"] == 10
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or "WS08" in p.name)]
    assert leftovers == []
    hosts = ds.dataset(out / "Collection").to_table().column("Computer").to_pylist()
    assert "WS08" not in hosts and "WS09" in hosts


def test_an_evtx_source_whose_hash_fails_while_workers_convert_it_ends_them(corpus, tmp_path, monkeypatch):
    from triageparse import collection
    from triageparse.artifacts import eventlog_evtx
    path = corpus / "evtx/shared/EDGE_truncated/plaso__System2.evtx"
    monkeypatch.setattr(eventlog_evtx, "GROUP_CHUNKS", 1)
    monkeypatch.setattr(eventlog_evtx, "PART_MIN_BYTES", 65536)       # split over worker processes
    assert len(eventlog_evtx.chunk_ranges(path)) > 1
    forked: list = []
    real_fork = eventlog_evtx._fork_worker
    monkeypatch.setattr(eventlog_evtx, "_fork_worker", lambda *a: forked.append(real_fork(*a)) or forked[-1])
    monkeypatch.setattr(collection, "sha256_file", lambda p: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    summary = triageparse.convert([path], tmp_path / "out")
    assert [c.errors for c in summary.collections] == [1] and not summary.collections[0].tables
    assert forked and all(w.exited for w in forked)                     # every worker ended and reaped
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".parquet", ".tmp")]


def test_hashing_a_folder_beside_that_stops_early_leaves_nothing_waiting(tmp_path):
    """Anything but an OSError stops the folder's hashing thread: the files it did not reach must not leave
    the conversion waiting for their hashes for ever (it ends, with the error, instead of hanging)."""
    folder = tmp_path / "DFIR-WS04-2025-10-02"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(name)
    code = """
import sys
from triageparse import collection
import triageparse
real = collection.sha256_file
def failing(path):
    if path.name == "a.txt":
        raise MemoryError("no buffer")
    return real(path)
collection.sha256_file = failing
try:
    triageparse.convert([sys.argv[1]], sys.argv[2])
except MemoryError as exc:
    print("ended with", type(exc).__name__)
"""
    done = subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=60)
    assert "ended with MemoryError" in done.stdout, done.stderr[-2000:]
