"""What an ingestion would send: the Parquet files of OUT, their tags, and the table commands.

Nothing here talks to a cluster, so ``--dry-run`` and ``schema --external-table`` use it as is.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from .. import contracts
from ..sink import MARKER

LEDGER = ".triageparse-adx.json"
FREE_CLUSTER_TABLES = 100
FREE_CLUSTER_COLUMNS = 200
MAX_COLUMNS = 10_000


@dataclass(frozen=True)
class ParquetFile:
    table: str
    collection_id: str
    path: Path
    rows: int
    size: int
    sha256: str
    collection_date: dt.datetime | None

    @property
    def ingest_by(self) -> str:
        """The ``ingest-by:`` tag value: equal bytes are the same ingestion, whatever the file is called."""
        return self.sha256

    @property
    def tags(self) -> list[str]:
        return [f"ingest-by:{self.ingest_by}", f"drop-by:{self.collection_id}"]

    @property
    def creation_time(self) -> str | None:
        """Extent creation time = collection date, so retention ages evidence by when it was collected."""
        if self.collection_date is None:
            return None
        return self.collection_date.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def collection_dates(out: Path) -> dict[str, dt.datetime | None]:
    dates: dict[str, dt.datetime | None] = {}
    for path in sorted((out / "Collection").glob("*.parquet")):
        t = pq.read_table(path, columns=["CollectionId", "CollectionDate"])
        for cid, date in zip(t.column("CollectionId").to_pylist(), t.column("CollectionDate").to_pylist()):
            dates[cid] = date
    return dates


def scan_output(out: Path, collections: set[str] | None = None) -> list[ParquetFile]:
    """Every ``OUT/<Table>/<CollectionId>.parquet`` whose table has a contract, in a stable order."""
    if not (out / MARKER).is_file():
        raise FileNotFoundError(f"{out} is not a triageparse output folder (no {MARKER}); "
                                f"run triageparse convert … -o {out} first")
    known = contracts.all_contracts()
    dates = collection_dates(out)
    files = []
    for table_dir in sorted(p for p in out.iterdir() if p.is_dir() and p.name in known):
        for path in sorted(table_dir.glob("*.parquet")):
            if path.name.startswith("."):
                continue        # a temporary file of a conversion still running
            cid = path.stem
            if collections is not None and cid not in collections:
                continue
            files.append(ParquetFile(table=table_dir.name, collection_id=cid, path=path,
                                     rows=pq.ParquetFile(path).metadata.num_rows, size=path.stat().st_size,
                                     sha256=_sha256(path), collection_date=dates.get(cid)))
    return files


def table_commands(tables: list[str]) -> list[str]:
    """``.create-merge table`` then the Parquet mapping, per table, from the contracts."""
    commands = []
    for name in tables:
        c = contracts.get(name)
        commands += [c.kql_create_merge(), c.kql_create_mapping()]
    return commands


def external_table_commands(storage_url: str, tables: list[str] | None = None) -> list[str]:
    """``.create external table`` over Parquet already uploaded as ``<storage_url>/<Table>/<CollectionId>.parquet``.

    One external table per contract table (``<Table>External``: an external table may not share a
    regular table's name), rooted at that table's folder, partitioned by the collection.
    Storage without a SAS in the URL is read with the querying user's identity (``;impersonate``).
    """
    root = storage_url.rstrip("/")
    chosen = tables or list(contracts.all_contracts())
    commands = []
    for name in chosen:
        c = contracts.get(name)
        cols = ", ".join(f"{col.name}:{col.kusto_type}" for col in c.columns)
        base, _, sas = root.partition("?")
        location = f"{base}/{name}" + (f"?{sas}" if sas else ";impersonate")
        partition = "partition by (Collection:string = CollectionId)\n" if "CollectionId" in c.by_name else ""
        commands.append(f".create-or-alter external table {name}External ({cols})\n"
                        f"kind=storage\n{partition}dataformat=parquet\n(h@'{location}')")
    return commands


# --- The ledger: what this OUT folder already queued, per cluster and database --------------------------------
# ADX's extent tags are the truth, but a queued file shows up in them only after the DM has
# ingested it (minutes later); the ledger stops a re-run from sending it again meanwhile.

def _ledger_key(engine: str, database: str) -> str:
    return f"{engine.lower()}|{database}"


def read_ledger(out: Path, engine: str, database: str) -> dict[str, dict]:
    try:
        data = json.loads((out / LEDGER).read_text())
    except (OSError, ValueError):
        return {}
    return data.get(_ledger_key(engine, database), {})


def write_ledger(out: Path, engine: str, database: str, entries: dict[str, dict]) -> None:
    path = out / LEDGER
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        data = {}
    data[_ledger_key(engine, database)] = entries
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass        # a read-only OUT: re-runs still rely on the ingest-by tags in ADX


def fits(merged_columns: dict[str, int], table_count: int, free_cluster: bool) -> list[str]:
    """Problems with the cluster's limits for the tables as they will be after ``.create-merge``."""
    max_tables = FREE_CLUSTER_TABLES if free_cluster else None
    max_columns = FREE_CLUSTER_COLUMNS if free_cluster else MAX_COLUMNS
    problems = []
    if max_tables is not None and table_count > max_tables:
        problems.append(f"the database would hold {table_count} tables, more than the free cluster's {max_tables}: "
                        f"ingest fewer tables (--table …) or use a paid cluster / Fabric Eventhouse")
    for table, n in sorted(merged_columns.items()):
        if n > max_columns:
            hint = (" Use the compact SecurityEvent contract for the free cluster."
                    if table.startswith("SecurityEvent") and free_cluster else "")
            problems.append(f"table {table} would have {n} columns, more than the "
                            f"{'free ' if free_cluster else ''}cluster's {max_columns}.{hint}")
    return problems


def parquet_counts(files: list[ParquetFile]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for f in files:
        counts[(f.table, f.collection_id)] = counts.get((f.table, f.collection_id), 0) + f.rows
    return counts

