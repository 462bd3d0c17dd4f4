"""Deterministic Parquet output: one file per (table, collection), written atomically.

Layout: ``OUT/<Table>/<CollectionId>.parquet``. Rows are buffered into row groups of up to
128 Ki rows and written to ``.<name>.tmp``; the file is renamed into place only when the
collection is complete, so an interrupted run never leaves a half-written table. The same input
gives the same bytes: no wall-clock values, fixed writer settings.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import contracts
from .layout import COMPACTED_MARKER, COMPACTED_PREFIX, remove_collection_from_compacted

FORMAT_VERSION = 1
MARKER = "_triageparse.json"
ROW_GROUP_ROWS = 128 * 1024
ROW_GROUP_BYTES = 32 << 20     # wide rows (SecurityEvent with its EventData XML) flush sooner: bounded memory
WRITER_OPTIONS = dict(compression="zstd", compression_level=1, use_dictionary=True, write_statistics=True,
                      data_page_version="1.0", version="2.6")
FREE_TEXT_MIN_VALUES = 1024


def writer_options(first_rows: pa.Table) -> dict:
    """WRITER_OPTIONS, with dictionaries and min/max statistics only on the columns where they pay.

    Free text (command lines, EventData XML, the names of a DNS cache) has nearly as many distinct
    values as rows: Parquet would hash every value into a dictionary that it then abandons, and the
    min/max of such text prunes no row group. Measured on a 1M-row DNSCache table: 14 % less writing
    time and a 9 % smaller file (performance-baselines.md §4 found the same on Security messages).
    Decided from the table's first row group alone, so the same input still gives the same bytes.
    """
    free_text = set()
    for name, column in zip(first_rows.column_names, first_rows.columns):
        values = len(column) - column.null_count
        if pa.types.is_string(column.type) and values >= FREE_TEXT_MIN_VALUES:
            if 2 * pc.count_distinct(column).as_py() > values:
                free_text.add(name)
    if not free_text:
        return WRITER_OPTIONS
    coded = [name for name in first_rows.column_names if name not in free_text]
    return {**WRITER_OPTIONS, "use_dictionary": coded, "write_statistics": coded}


class OutputError(Exception):
    pass


def prepare_output(out: Path) -> None:
    """Create OUT or check that it was written by a compatible triageparse."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder; choose an empty or new folder for the output")
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER
    if marker.exists() or marker.is_symlink():
        try:
            found = json.loads(marker.read_text()).get("format_version")
        except (ValueError, OSError, AttributeError):   # unreadable, not JSON, or JSON but not an object
            found = None
        if found != FORMAT_VERSION:
            raise OutputError(f"{out} holds output of another triageparse format (version {found!r}, this is "
                              f"{FORMAT_VERSION}); convert into a new folder instead of mixing them")
    elif any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise OutputError(f"{out} is not empty and was not written by triageparse; choose an empty or new folder")
    else:
        marker.write_text(json.dumps({"format_version": FORMAT_VERSION, "tool": "triageparse"}) + "\n")


def table_file(out: Path, table: str, collection_id: str) -> Path:
    return out / table / f"{collection_id}.parquet"


# Off in batch worker processes: there the cores are already busy with other collections.
USE_WRITER_THREAD = True


class CollectionSink:
    def __init__(self, out: Path, collection_id: str | Callable[[], str]):
        self.out = out
        # A callable when the id waits for the source's hash (it is first needed by the first row written).
        self._collection_id = collection_id
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered: dict[str, int] = {}
        self.buffered_bytes: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        # Parquet encoding releases the GIL: one writer thread overlaps it with parsing. Row groups
        # still go out in order (one writer, waited on before the next), so the bytes stay identical.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer") \
            if USE_WRITER_THREAD else None
        self._pending: Future | None = None

    @property
    def collection_id(self) -> str:
        if callable(self._collection_id):
            self._collection_id = self._collection_id()
        return self._collection_id

    def _tmp(self, table: str) -> Path:
        final = table_file(self.out, table, self.collection_id)
        # The pid keeps two workers that happen to convert the same source from sharing a temp file.
        return final.with_name(f".{final.name}.{os.getpid()}.tmp")

    def write(self, table: str, t: pa.Table) -> None:
        self.buffers.setdefault(table, []).append(t)
        self.buffered[table] = self.buffered.get(table, 0) + t.num_rows
        self.buffered_bytes[table] = self.buffered_bytes.get(table, 0) + t.nbytes
        self.rows[table] = self.rows.get(table, 0) + t.num_rows
        if self.buffered[table] >= ROW_GROUP_ROWS or self.buffered_bytes[table] >= ROW_GROUP_BYTES:
            self._flush(table)

    def _flush(self, table: str) -> None:
        parts = self.buffers.pop(table, [])
        self.buffered[table] = 0
        self.buffered_bytes[table] = 0
        if not parts:
            return
        data = pa.concat_tables(parts)
        writer = self.writers.get(table)
        if writer is None:
            path = self._tmp(table)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, contracts.get(table).schema, **writer_options(data))
            self.writers[table] = writer
        self._wait()
        if self._pool is None:
            writer.write_table(data, row_group_size=ROW_GROUP_ROWS)
        else:
            self._pending = self._pool.submit(writer.write_table, data, row_group_size=ROW_GROUP_ROWS)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def wait_for_writes(self) -> None:
        """Block until the Parquet write in progress is done (before a fork: no thread mid-write)."""
        self._wait()

    def close(self) -> dict[str, int]:
        """Flush, then move every finished file into place; drop stale files of this collection."""
        for table in list(self.buffers):
            self._flush(table)
        self._wait()
        if self._pool is not None:
            self._pool.shutdown()
        for table, writer in self.writers.items():
            writer.close()
        # Rows of an earlier conversion that `compact` merged away go first, so they are never doubled.
        if (self.out / COMPACTED_MARKER).exists():     # only after `triageparse compact`: no globbing otherwise
            for folder in sorted({p.parent for p in self.out.glob(f"*/{COMPACTED_PREFIX}*.parquet")}):
                remove_collection_from_compacted(folder, self.collection_id)
        for table in self.writers:
            os.replace(self._tmp(table), table_file(self.out, table, self.collection_id))
        for stale in self.out.glob(f"*/{self.collection_id}.parquet"):
            if stale.parent.name not in self.writers and not stale.parent.name.startswith("_"):
                stale.unlink()
        return dict(self.rows)

    def abort(self) -> None:
        try:
            self._wait()
        except Exception:
            pass
        if self._pool is not None:
            self._pool.shutdown()
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception:
                pass
        for table in self.writers:
            self._tmp(table).unlink(missing_ok=True)
