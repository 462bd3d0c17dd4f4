"""The output layout: ``OUT/<Table>/<CollectionId>.parquet``, and compaction for very large OUTs.

After thousands of collections a table folder holds thousands of small files. ``compact`` merges
them, per table, into ``compacted-<digest>.parquet`` files of up to ``target_rows`` rows without
changing a single row. A collection converted again later (``--force``) has its old rows removed
from the compacted files first, so rows are never duplicated.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

COMPACTED_PREFIX = "compacted-"
COMPACTED_MARKER = "_compacted"      # present once compact ran: conversions then check compacted files


def _writer_options() -> dict:
    from .sink import WRITER_OPTIONS
    return WRITER_OPTIONS


def table_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


@dataclass
class CompactResult:
    table: str
    files_before: int
    files_after: int
    rows: int


def compact(out: str | Path, target_rows: int = 4_000_000) -> list[CompactResult]:
    """Merge the per-collection files of every table into a few large files; content is unchanged."""
    out = Path(out)
    (out / COMPACTED_MARKER).touch()
    results = []
    for folder in table_dirs(out):
        files = sorted(p for p in folder.glob("*.parquet"))
        if len(files) <= 1:
            results.append(CompactResult(folder.name, len(files), len(files), 0))
            continue
        groups: list[list[Path]] = [[]]
        rows_in_group = 0
        for f in files:
            n = pq.ParquetFile(f).metadata.num_rows
            if groups[-1] and rows_in_group + n > target_rows:
                groups.append([])
                rows_in_group = 0
            groups[-1].append(f)
            rows_in_group += n
        written, total = [], 0
        for group in groups:
            if len(group) == 1:
                written.append(group[0])
                continue
            digest = hashlib.sha256()
            for f in group:
                digest.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
            final = folder / f"{COMPACTED_PREFIX}{digest.hexdigest()[:16]}.parquet"
            tmp = folder / f".{final.name}.{os.getpid()}.tmp"
            schema = pq.read_schema(group[0])
            with pq.ParquetWriter(tmp, schema, **_writer_options()) as writer:
                for f in group:
                    for batch in pq.ParquetFile(f).iter_batches(batch_size=128 * 1024):
                        writer.write_table(pa.Table.from_batches([batch], schema), row_group_size=128 * 1024)
                        total += batch.num_rows
            os.replace(tmp, final)
            for f in group:
                if f != final:
                    f.unlink()
            written.append(final)
        results.append(CompactResult(folder.name, len(files), len(written), total))
    return results


def remove_collection_from_compacted(folder: Path, collection_id: str) -> None:
    """Drop a collection's rows from compacted files before it is written again."""
    for f in sorted(folder.glob(f"{COMPACTED_PREFIX}*.parquet")):
        ids = pq.read_table(f, columns=["CollectionId"]).column(0)
        keep = pc.not_equal(ids, collection_id)
        if pc.all(keep).as_py():
            continue
        table = pq.read_table(f).filter(keep)
        tmp = folder / f".{f.name}.{os.getpid()}.tmp"
        pq.write_table(table, tmp, row_group_size=128 * 1024, **_writer_options())
        os.replace(tmp, f)
