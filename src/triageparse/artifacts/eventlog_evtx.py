"""Windows event logs (``.evtx``) into Sentinel-shaped ``SecurityEvent`` and ``WindowsEvent`` rows.

The ``evtx`` package (Rust) reads the file one chunk at a time and hands back one JSON string per
record. Per-record Python work is what makes EVTX conversion slow, so records are only collected
here: every ``BATCH_RECORDS`` JSON strings become one batch, turned into typed columns at once.
Two ways, same tables: the C accelerator (``_evtxfast.c``, one pass over the batch into Arrow buffers,
built at install when a compiler is there) and the reference path below, one DuckDB ``from_json`` per
batch with EventData kept as JSON text and rendered back as the ``<EventData>`` XML Sentinel stores
(string rewrites). The accelerator hands the records it does not render exactly back to that path;
tests/test_evtx_accelerator.py holds the two to the same output. The sink encodes Parquet on its own
thread. Conversion runs on the reading thread on purpose: the Rust iterator holds the GIL while it
parses, so a converter thread waited for the GIL at every pyarrow call and the whole was slower
than doing the batches in turn (measured: 7.3-8.2 s against 6.7 s for 200k records). The second
core is used by processes instead: a file of two groups of chunks or more is cut into chunk ranges
(EVTX chunks are independent, see chunk_ranges), forked workers convert them into spools of Arrow
streams, and this process hands their rows and issues to the sink, range after range, while the
workers go on. The tables are the ones a single process writes, and no process holds both a batch
being converted and the sink's buffers (peak RSS ~410 MiB instead of ~470 MiB, with DuckDB, when this
process converted a range itself, at the same speed).

Facts that shape the code (see ../shared/reference/libraries-and-peers.md §1–2):

* event time is ``System/TimeCreated/@SystemTime``; the record-header time is often zero;
* damaged files raise from ``next()`` for a bad chunk or record, and the iterator goes on: each
  raise is one lost record or chunk, one ParseIssue, and reading continues;
* a record's ``System/EventRecordID`` can differ from the header record number (exported logs):
  EventRecordId / SourceRecord hold the System value, the one SecurityEvents.csv's Index repeats.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import itertools
import json
import mmap
import multiprocessing
import os
import pickle
import re
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import evtx
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..arrays import contiguous, keep_pandas_out
from .. import contracts
from ..collection import Member
from .base import Artifact, FileContext
from .eventlog_common import ORIGIN_EVTX, audit_level, with_sentinel_columns

try:        # the C accelerator of the batch conversion (optional: built when a C compiler is there)
    from .. import _evtxfast as ACCELERATOR
except ImportError:         # pragma: no cover - the SQL path below does the same work, slower
    ACCELERATOR = None

if TYPE_CHECKING:
    import duckdb

EVTX_MAGIC = b"ElfFile\x00"
HEADER_SIZE = 4096             # file header, then independent 64 KiB chunks (each has its own string/template tables)
CHUNK_SIZE = 65536
PART_MIN_BYTES = 8 << 20       # the smallest range (at least one group); a file of fewer than two groups is not split
MAP_MIN_BYTES = 1 << 20        # worker tables this big are mapped from the spool, smaller ones read
GROUP_CHUNKS = 256             # 16 MiB of log: batches never span two groups, ranges start at one (same bytes split
                               # or not). A group caps a batch: 128 chunks held ~6,200 records of the bench logs
PROCESSES = min(os.cpu_count() or 1, 8)   # worker processes for one big file; each holds ~200 MiB
LARGEST_RANGE_GROUPS = 8       # 128 MiB: see chunk_ranges
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")
BATCH_RECORDS = 16384          # records per batch (a group of 256 chunks holds ~12,400 of the bench logs). Each batch
                               # pays fixed costs per column (~170 SecurityEvent columns built, derived, spooled,
                               # coerced): batches of ~12k instead of ~6k took 0.86x the time on the 256 MiB bench log
                               # and 0.98x on the 1 GiB one (median of 8 and 6 alternating rounds); a worker's peak RSS
                               # 171 -> 201 MiB at 1 GiB. 4096 cost +25 % CPU
MAX_CONSECUTIVE_ERRORS = 100_000   # a parser that only raises any more is stopped, not spun forever
EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
LEVEL_NAMES = {0: "Information", 1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose"}

# System fields the JSON of the Rust parser carries (attributes live under "#attributes").
_SYSTEM_STRUCT = """{
  "Provider": {"#attributes": {"Name": "VARCHAR", "Guid": "VARCHAR", "EventSourceName": "VARCHAR"}},
  "EventID": "JSON", "Version": "VARCHAR", "Level": "VARCHAR", "Task": "VARCHAR", "Opcode": "VARCHAR",
  "Keywords": "VARCHAR", "TimeCreated": {"#attributes": {"SystemTime": "VARCHAR"}}, "EventRecordID": "VARCHAR",
  "Correlation": "JSON", "Execution": {"#attributes": {"ProcessID": "VARCHAR", "ThreadID": "VARCHAR"}},
  "Channel": "VARCHAR", "Computer": "VARCHAR", "Security": {"#attributes": {"UserID": "VARCHAR"}}
}"""

# Batch of raw records -> one row per record with the System fields typed and the event payload as JSON.
# One from_json call parses each record once; a record that does not fit keeps its JSON in RawEventData.
_SYSTEM_SQL = f"""
WITH parsed AS (
  SELECT ord, hdr, doc,
         CASE WHEN @VALID@ THEN from_json(doc, '{{"Event": {{"System": {_SYSTEM_STRUCT},
              "EventData": "JSON", "UserData": "JSON"}}}}').Event END AS ev
  FROM batch
)
SELECT
  ord,
  try_cast(ev.System.TimeCreated."#attributes".SystemTime AS TIMESTAMP) AS TimeGenerated,
  ev.System.Computer AS Computer,
  ev.System.Channel AS Channel,
  ev.System.Provider."#attributes".Name AS Provider,
  try_cast(CASE WHEN json_type(ev.System.EventID) = 'OBJECT' THEN ev.System.EventID->>'$."#text"'
                ELSE ev.System.EventID->>'$' END AS INTEGER) AS EventID,
  try_cast(ev.System.Level AS INTEGER) AS EventLevel,
  try_cast(ev.System.Task AS INTEGER) AS Task,
  ev.System.Opcode AS Opcode,
  ev.System.Keywords AS Keywords,
  try_cast(ev.System.Version AS INTEGER) AS Version,
  coalesce(try_cast(ev.System.EventRecordID AS BIGINT), hdr) AS EventRecordId,
  try_cast(ev.System.Execution."#attributes".ProcessID AS INTEGER) AS SystemProcessId,
  try_cast(ev.System.Execution."#attributes".ThreadID AS INTEGER) AS SystemThreadId,
  ev.System.Security."#attributes".UserID AS SystemUserId,
  CASE WHEN json_type(ev.System.Correlation) = 'OBJECT' THEN (ev.System.Correlation->'$."#attributes"')::VARCHAR
  END AS Correlation,
  ev.EventData::VARCHAR AS EventDataJson,
  ev.UserData::VARCHAR AS UserDataJson,
  CASE WHEN ev IS NULL OR ev.System.TimeCreated IS NULL THEN doc END AS RawEventData
FROM parsed
"""


# EventData JSON -> <Data> markup, as steps over the flat rows. Each step rewrites only the rows that need
# it (the test is far cheaper than the rewrite); x is the text so far.
_XML_STEPS = (
    # 1. XML escapes (&, <, > are not JSON syntax; the Rust parser never writes them as \u escapes)
    r"""CASE WHEN contains(x, '&') OR contains(x, '<') OR contains(x, '>')
        THEN replace(replace(replace(x, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')
        ELSE x END""",
    # 2. null -> "" and numbers / booleans quoted; the key's last character is not a backslash, so a
    #    match never starts inside a string
    r"""CASE WHEN contains(x, '":null') THEN replace(replace(x, '":null,"', '":"","'), '":null}', '":""}')
        ELSE x END""",
    r"""CASE WHEN regexp_matches(x, '":[-0-9tf]')
        THEN regexp_replace(x, '([^\\])":(-?[0-9][^,}"]*|true|false)([,}])', '\1":"\2"\3', 'g') ELSE x END""",
    # 3. the markup
    r"""replace(replace(replace(x, '":"', '">'), '","', '</Data><Data Name="'), '"}', '</Data>')""",
    # 4. JSON string escapes. Most Security rows have only \\ (paths, DOMAIN\user): one replace. Otherwise
    #    \\ goes last through a placeholder. (Steps 1-3 add and remove no backslash, so `unpaired`, the
    #    payload without its \\ pairs, tells which escapes x has.)
    r"""CASE WHEN unpaired IS NULL THEN x WHEN NOT contains(unpaired, '\') THEN replace(x, '\\', '\')
        ELSE replace(replace(replace(replace(replace(replace(replace(x, '\\', chr(1)),
        '\"', '"'), '\n', chr(10)), '\r', chr(13)), '\t', chr(9)), '\/', '/'), chr(1), '\') END""",
)
# (contains() is ~5x faster than regexp_matches in DuckDB: regexes only where no literal test will do.)
# Rows the plain steps cannot render faithfully go to json_to_xml: objects and arrays (unnamed <Data>,
# attributes), <Binary>, a key "Data" (one unnamed <Data>), \u \b \f escapes (control characters), a
# string value that ends in an escaped quote followed by :" ," or } (step 3 would take it for markup),
# and a key with a quote in it (the Name attribute needs quoteattr).
_FLAT = " AND ".join((
    """starts_with(EventDataJson, '{"')""",
    """NOT contains(EventDataJson, '":{')""", """NOT contains(EventDataJson, '":[')""",
    r"""NOT coalesce(contains(unpaired, '\u') OR contains(unpaired, '\b') OR contains(unpaired, '\f'), false)""",
    """NOT contains(EventDataJson, '"Binary":')""", """NOT contains(EventDataJson, '"Data":')""",
    r"""NOT (contains(EventDataJson, '\"') AND (contains(EventDataJson, '\":"') OR contains(EventDataJson, '\","')
        OR contains(EventDataJson, '\"}') OR regexp_matches(EventDataJson, '\\"(?:[^"\\]|\\.)*":')))""",
))


def _security_sql(field_names: list[str]) -> str:
    """SQL over the System rows of Security events: the named fields, and the <EventData> XML when it is flat.

    The XML comes from the compact JSON text by string rewrites (``_XML_STEPS``) that DuckDB runs at
    memory speed, instead of per-field work; the other rows are left NULL for ``json_to_xml``.
    """
    struct = "{" + ", ".join(f'"{n}": "VARCHAR"' for n in field_names) + "}"
    # Security events that use <UserData> (1102 log cleared, 1100, 1104 …) carry their fields one level down.
    # One from_json: binding the wide structure costs ~8 ms a call, paid once per batch.
    fields = (f"from_json(coalesce(EventDataJson, (json_extract(UserDataJson, '$.*')[1])::VARCHAR), '{struct}')")
    # unpaired: the payload without its escaped backslashes (the two characters \\ of JSON), NULL when it
    # has no backslash at all
    steps = ["escapes AS (SELECT ord, EventDataJson, UserDataJson, CASE WHEN contains(EventDataJson, '\\') "
             "THEN replace(EventDataJson, '\\\\', '') END AS unpaired FROM rows)",
             f"s0 AS (SELECT ord, EventDataJson, UserDataJson, unpaired, CASE WHEN {_FLAT} THEN EventDataJson END AS x "
             "FROM escapes)"]
    for i, step in enumerate(_XML_STEPS, 1):
        steps.append(f"s{i} AS (SELECT ord, EventDataJson, UserDataJson, unpaired, {step} AS x FROM s{i - 1})")
    return f"""
    WITH {", ".join(steps)}
    SELECT ord, {fields} AS f,
      CASE WHEN EventDataJson = '{{}}' THEN '<EventData xmlns="{EVENT_NS}"></EventData>'
           WHEN x IS NOT NULL THEN '<EventData xmlns="{EVENT_NS}"><Data Name="' || substr(x, 3) || '</EventData>'
      END AS EventData
    FROM s{len(_XML_STEPS)}
    """


@dataclass
class _Batch:
    docs: list[str]
    header_ids: list[int]


class EvtxLog(Artifact):
    """Any Windows event log file: ``Event Viewer/*.evtx`` of DFIR-Script, KAPE folders, loose files."""

    name = "evtx"
    tables = ("SecurityEvent", "WindowsEvent")

    def __init__(self) -> None:
        self._con = None
        self._security_fields: list[str] | None = None

    @classmethod
    def time_zone_witness(cls, member: Member) -> bool:
        from .eventlog_csv import security_evtx_members
        return bool(security_evtx_members([member]))

    @classmethod
    def claim(cls, member: Member) -> int:
        if member.head.startswith(EVTX_MAGIC):
            return 90 if member.lower.endswith(".evtx") else 80
        if member.lower.endswith(".evtx") and member.size == 0:
            return 30      # an empty log copied by the collector: recorded as empty, not unparsed
        return 0

    # -- reading ------------------------------------------------------------------------------------
    def parse(self, member: Member, ctx: FileContext) -> None:
        if not member.head.startswith(EVTX_MAGIC):
            ctx.note("0 bytes: an empty log file, no records")
            return
        if ctx.run.witnesses_first and self.time_zone_witness(member):
            from .eventlog_csv import listen_to_security_evtx
            ctx.listener = listen_to_security_evtx(ctx.run, member)
        with member.readonly_path() as path:
            self.convert_file(path, ctx)

    def convert_file(self, path: Path, ctx: FileContext) -> None:
        """Stream the records of one EVTX file into the tables, batch by batch.

        A big file is split into chunk ranges, each converted by a forked worker (the Rust parser
        holds the GIL, so threads would not help). This process only hands the workers' rows and
        issues to ``ctx``, range after range in file order, while they are being produced: the
        tables are the ones a single process writes, and this process never holds a DuckDB batch
        and the sink's buffers at once. What a failed worker did not hand over is converted here.
        """
        hosts: dict[str, int] = {}
        # A batch worker (a multiprocessing child) already has a core of its own.
        parts = chunk_ranges(path) if multiprocessing.parent_process() is None and hasattr(os, "fork") else [(0, None)]
        if len(parts) == 1:
            self._convert_range(path, (0, None), ctx, hosts)
        else:
            # No other thread may hold a lock when the workers fork: the parser imports, a Parquet write.
            from . import wait_for_background_imports
            wait_for_background_imports()
            ctx.run.sink.wait_for_writes()
            # Mapped spool files may outlive the folder's removal (tables wait in the sink for their
            # row group); on NFS that removal can fail, which must not fail the conversion.
            with tempfile.TemporaryDirectory(prefix="triageparse-evtx-", ignore_cleanup_errors=True) as tmp:
                spools = [Path(tmp) / f"part{i}" for i in range(len(parts))]
                n = min(PROCESSES, len(parts))
                workers: list[_Worker] = []
                finished = False
                try:
                    for w in range(n):      # (a failed fork still ends the workers forked before it)
                        workers.append(_fork_worker(path, [(parts[i], spools[i]) for i in range(w, len(parts), n)]))
                    for i, part in enumerate(parts):
                        handed = _replay(workers[i % n], spools[i], ctx, hosts)
                        if handed is not None:
                            ctx.note(f"a worker process failed on chunks {part}; converted the rest of them "
                                     "in the main process")
                            self._convert_range(path, part, ctx, hosts, skip=handed)
                    finished = True
                finally:
                    for worker in workers:      # if this process failed, the workers it no longer waits for
                        worker.end(kill=not finished)
        for host, n in hosts.items():
            ctx.run.computer_hints[host] += n

    def _convert_range(self, path: Path, chunks: tuple[int, int | None], ctx: FileContext | _SpooledContext,
                       hosts: dict[str, int], skip: int = 0) -> None:
        for batch in read_batches(path, ctx, skip=skip, chunks=chunks):
            ctx.read(self._emit_batch(batch, ctx, hosts))

    def _emit_batch(self, batch: _Batch, ctx: FileContext, hosts: dict[str, int]) -> int:
        rows, security, windows = self.convert_batch(batch)
        computers = pc.value_counts(contiguous(rows.column("Computer")))
        for item in computers.to_pylist():
            if item["values"]:
                hosts[item["values"]] = hosts.get(item["values"], 0) + item["counts"]
        broken = pc.sum(pc.is_valid(rows.column("RawEventData"))).as_py() or 0
        if broken:
            ctx.warn(None, f"{broken} record(s) could not be split into fields; kept whole in RawEventData",
                     rows.filter(pc.is_valid(rows.column("RawEventData"))).column("RawEventData")[0].as_py())
        written = 0
        if security is not None:
            written += ctx.emit("SecurityEvent", security)
        if windows is not None:
            written += ctx.emit("WindowsEvent", windows)
        return written

    # -- conversion (also used by the tests and the benchmark) ---------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            import duckdb      # here, not at import: 0.12 s that a collection without event logs never needs
            # One DuckDB thread: a second one did not make the small per-batch queries faster.
            self._con = duckdb.connect(config={"threads": 1})
        return self._con

    def convert_batch(self, batch: _Batch) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
        """(System rows of every record, SecurityEvent rows, WindowsEvent rows) of one batch.

        The C accelerator makes the columns when it is built and takes the batch; otherwise DuckDB
        does (system_rows, security_rows): the same tables either way.
        """
        accelerated = self._accelerated(batch)
        if accelerated is None:
            rows = self.system_rows(batch)
            security = pc.fill_null(pc.equal(pc.utf8_lower(rows.column("Channel")), "security"), False)
        else:
            rows, security, fields, event_data, redo = accelerated
        n_security = pc.sum(security).as_py() or 0
        security_table = windows_table = None
        if n_security:
            # (a Security.evtx batch is all Security records: filtering would only copy it)
            security_rows = rows if n_security == rows.num_rows else rows.filter(security)
            if accelerated is None:
                security_table = self.security_rows(security_rows)
            else:
                fields, event_data = self._redo_leftovers(security_rows, fields, event_data, redo)
                security_table = self._security_table(security_rows, fields, event_data)
        if n_security < rows.num_rows:
            windows_table = self.windows_rows(rows if not n_security else rows.filter(pc.invert(security)))
        return rows, security_table, windows_table

    def system_rows(self, batch: _Batch) -> pa.Table:
        """One row per record: the System fields typed, EventData / UserData as JSON text (DuckDB)."""
        import duckdb
        table = pa.table({"ord": pa.array(range(len(batch.docs)), pa.int64()),
                          "hdr": pa.array(batch.header_ids, pa.int64()),
                          "doc": pa.array(batch.docs, pa.string())})
        con = self.con.cursor()      # DuckDB keeps the row order of a plain projection (preserve_insertion_order)
        con.register("batch", table)
        try:
            try:
                out = con.sql(_SYSTEM_SQL.replace("@VALID@", "true")).to_arrow_table()
            except duckdb.Error:     # a record that is not JSON: check them one by one (slower, rare)
                out = con.sql(_SYSTEM_SQL.replace("@VALID@", "json_valid(doc)")).to_arrow_table()
        finally:
            con.close()
        t = out.column("TimeGenerated")
        # DuckDB hands back naive timestamps; SystemTime is UTC.
        return out.set_column(1, "TimeGenerated", pc.cast(t, pa.timestamp("us", tz="UTC")))

    def _accelerated(self, batch: _Batch) -> tuple | None:
        """The accelerator's columns: (rows as system_rows makes them, Security mask, and for the Security
        records only: named fields, EventData XML, the mask of records whose fields and XML it left over)."""
        if ACCELERATOR is None:
            return None
        fields = self._security_field_names()
        columns = ACCELERATOR.convert(batch.docs, batch.header_ids, tuple(fields))
        if columns is None:
            return None
        n, n_security = len(batch.docs), len(columns["fallback"])

        def text(buffers: tuple, length: int = n) -> pa.Array:
            return pa.Array.from_buffers(pa.string(), length, [pa.py_buffer(b) for b in buffers])

        def integer(name: str, typ: pa.DataType) -> pa.Array:
            valid, values = columns[name]
            return pa.Array.from_buffers(pa.int64(), n, [pa.py_buffer(valid), pa.py_buffer(values)]).cast(typ)

        def flags(name: str, length: int) -> pa.Array:
            return pc.not_equal(pa.Array.from_buffers(pa.uint8(), length, [None, pa.py_buffer(columns[name])]), 0)

        rows = pa.table({
            "ord": pa.array(range(n), pa.int64()),
            "TimeGenerated": integer("TimeGenerated", pa.int64()).view(pa.timestamp("us", tz="UTC")),
            "Computer": text(columns["Computer"]), "Channel": text(columns["Channel"]),
            "Provider": text(columns["Provider"]), "EventID": integer("EventID", pa.int32()),
            "EventLevel": integer("EventLevel", pa.int32()), "Task": integer("Task", pa.int32()),
            "Opcode": text(columns["Opcode"]), "Keywords": text(columns["Keywords"]),
            "Version": integer("Version", pa.int32()), "EventRecordId": integer("EventRecordId", pa.int64()),
            "SystemProcessId": integer("SystemProcessId", pa.int32()),
            "SystemThreadId": integer("SystemThreadId", pa.int32()),
            "SystemUserId": text(columns["SystemUserId"]), "Correlation": text(columns["Correlation"]),
            "EventDataJson": text(columns["EventDataJson"]), "UserDataJson": text(columns["UserDataJson"]),
            "RawEventData": text(columns["RawEventData"]),
        })
        named = pa.StructArray.from_arrays([pa.nulls(n_security, pa.string()) if b is None else text(b, n_security)
                                            for b in columns["fields"]], names=fields)
        return (rows, flags("security", n), named, text(columns["EventDataXml"], n_security),
                flags("fallback", n_security))

    def _redo_leftovers(self, rows: pa.Table, fields: pa.StructArray, event_data: pa.Array,
                        redo: pa.Array) -> tuple[pa.StructArray, pa.Array]:
        """Fields and XML of the Security records the accelerator left over (UserData, control characters,
        unnamed <Data>…): from their JSON in Python (a few per batch), or DuckDB for floats and objects."""
        if not pc.any(redo).as_py():
            return fields, event_data
        names = self._security_field_names()
        left = rows.filter(redo)
        values = _leftover_fields(left, set(names))
        if values is None:
            f_left, _ = self._security_sql_path(left, names)
            values = {name: f_left.field(name) for name in names}
        # The accelerator undoes what it wrote for a left-over record (its fields are null there): only
        # the fields some left-over record has a value for need a new column (~140 copies a batch before).
        fields = pa.StructArray.from_arrays(
            [pc.replace_with_mask(fields.field(name), redo, values[name])
             if name in values and values[name].null_count < len(values[name]) else fields.field(name)
             for name in names], names=names)
        return fields, pc.replace_with_mask(event_data, redo, _render_missing_xml(pa.nulls(left.num_rows, pa.string()),
                                                                                   left))

    def windows_rows(self, rows: pa.Table) -> pa.Table:
        level = contiguous(rows.column("EventLevel"))
        names = pa.array([LEVEL_NAMES.get(i) for i in range(6)])
        level_name = pc.take(names, pc.if_else(pc.and_(pc.greater_equal(level, 0), pc.less(level, 6)), level,
                                               pa.scalar(None, pa.int32())))
        event_data = pc.coalesce(rows.column("EventDataJson"), rows.column("UserDataJson"))
        keep = [c for c in rows.column_names if c not in ("ord", "EventDataJson", "UserDataJson")]
        out = rows.select(keep)
        return (out.append_column("EventLevelName", level_name)
                .append_column("EventData", event_data)
                .append_column("SourceRecord", rows.column("EventRecordId"))
                .append_column("EventOrigin", pa.array([ORIGIN_EVTX] * rows.num_rows, pa.string())))

    def security_rows(self, rows: pa.Table) -> pa.Table:
        """SecurityEvent rows of Security-channel System rows, fields and XML by DuckDB."""
        fields, event_data = self._security_sql_path(rows, self._security_field_names())
        return self._security_table(rows, fields, event_data)

    def _security_table(self, rows: pa.Table, f: pa.StructArray, event_data: pa.Array) -> pa.Table:
        fields = self._security_field_names()
        cols: dict[str, pa.Array] = {name: f.field(name) for name in fields}
        cols.update({
            "TimeGenerated": rows.column("TimeGenerated"),
            "Computer": rows.column("Computer"),
            "EventID": rows.column("EventID"),
            "Channel": rows.column("Channel"),
            "EventSourceName": rows.column("Provider"),
            "Task": rows.column("Task"),
            "Level": audit_level(contiguous(rows.column("Keywords")), contiguous(rows.column("EventLevel"))),
            "Keywords": rows.column("Keywords"),
            "Opcode": rows.column("Opcode"),
            "Version": rows.column("Version"),
            "SystemProcessId": rows.column("SystemProcessId"),
            "SystemThreadId": rows.column("SystemThreadId"),
            "EventRecordId": rows.column("EventRecordId"),
            "SourceRecord": rows.column("EventRecordId"),
            "EventData": event_data,
            "EventOrigin": pa.array([ORIGIN_EVTX] * rows.num_rows, pa.string()),
        })
        t = pa.table({k: contiguous(v) for k, v in cols.items()})
        # as the text of an EventID would be read (one to nine digits); the column keeps the int
        event_id = contiguous(rows.column("EventID"))
        t = with_sentinel_columns(t, pc.if_else(pc.and_(pc.greater_equal(event_id, 0),
                                                        pc.less_equal(event_id, 999_999_999)),
                                                event_id, pa.scalar(None, pa.int32())))
        raw = rows.column("RawEventData")
        if raw.null_count < len(raw):
            t = t.append_column("RawEventData", raw)      # no SecurityEvent column: kept in AdditionalFields
        return t

    def _security_sql_path(self, rows: pa.Table, fields: list[str]) -> tuple[pa.StructArray, pa.Array]:
        """The named fields and the EventData XML by DuckDB and string rewrites."""
        con = self.con.cursor()
        con.register("rows", rows.select(["ord", "EventDataJson", "UserDataJson"]))
        try:
            named = con.sql(_security_sql(fields)).to_arrow_table()
        finally:
            con.close()
        event_data = contiguous(named.column("EventData"))
        if event_data.null_count:
            event_data = _render_missing_xml(event_data, rows)
        return contiguous(named.column("f")), event_data

    def _security_field_names(self) -> list[str]:
        """SecurityEvent columns that are named EventData fields (everything that is not derived or System)."""
        if self._security_fields is None:
            derived = {"TimeGenerated", "EventID", "Activity", "Channel", "EventSourceName", "Task", "Level",
                       "Account", "AccountType", "SubjectAccount", "TargetAccount", "LogonTypeName", "Process",
                       "EventData", "EventRecordId", "EventOrigin", "Message", "Keywords", "Opcode", "Version",
                       "SystemProcessId", "SystemThreadId", "CollectionId", "Computer", "SourceFile",
                       "SourceRecord", "AdditionalFields"}
            self._security_fields = [c.name for c in contracts.get("SecurityEvent").columns if c.name not in derived]
        return self._security_fields


def read_batches(path: Path | str, ctx: FileContext | _SpooledContext | None = None,
                 batch_records: int | None = None, skip: int = 0,
                 chunks: tuple[int, int | None] = (0, None)) -> Iterator[_Batch]:
    """Every readable record of the EVTX chunks ``chunks`` (all by default), in batches; each raise of
    the parser is one ParseIssue.

    A batch never spans two groups of GROUP_CHUNKS chunks, and a worker's range starts at a group:
    the batches, and so the tables and their Parquet bytes, are the same whether a file is converted
    by one process or split over several. ``skip``: leave out the first results of the parser
    (records and raises), which a failed worker already handed over.
    """
    batch_records = batch_records or BATCH_RECORDS
    path = Path(path)
    first, end = chunks
    stop = _whole_chunks(path) if end is None else end
    starts = list(range(first, stop, GROUP_CHUNKS)) or [first]
    consecutive = 0
    for g in starts:
        last_group = g == starts[-1]
        with _ChunkView(path, g, end if last_group else g + GROUP_CHUNKS) as view:
            try:
                # One Rust thread: the iterator parses on the calling thread anyway, and no thread pool must
                # exist when a worker is forked.
                records = evtx.PyEvtxParser(view, 1).records_json()
            except (OSError, RuntimeError, ValueError) as exc:     # the file header itself cannot be read
                if ctx is None:
                    raise
                ctx.read(1)
                ctx.reject(None, f"not a readable EVTX file (the file header is damaged or cut short): {exc}")
                ctx.lossy = True
                return
            docs: list[str] = []
            ids: list[int] = []
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    break
                except Exception as exc:    # RuntimeError from a bad chunk / record; the iterator goes on
                    if skip:
                        skip -= 1
                        continue
                    consecutive += 1
                    if ctx is not None:
                        ctx.read(1)
                        ctx.reject(None, "EVTX record or chunk could not be read (reading goes on): "
                                   f"{_in_file(exc, view)}")
                        ctx.lossy = True
                    if consecutive >= MAX_CONSECUTIVE_ERRORS:
                        if ctx is not None:
                            ctx.warn(None, f"gave up after {consecutive} consecutive read errors")
                        return
                    continue
                if skip:
                    skip -= 1
                    continue
                consecutive = 0
                docs.append(record["data"])
                ids.append(record["event_record_id"])
                if len(docs) >= batch_records:
                    yield _Batch(docs, ids)
                    docs, ids = [], []
            if docs:
                yield _Batch(docs, ids)


def _whole_chunks(path: Path) -> int:
    return max(0, (path.stat().st_size - HEADER_SIZE) // CHUNK_SIZE)


# -- parallel conversion of a big file: chunk ranges in forked workers ---------------------------------
def chunk_ranges(path: Path) -> list[tuple[int, int | None]]:
    """Chunk ranges ``(first, end)`` for the processes that convert one file; ``end`` None is to the end.

    Ranges are whole groups of GROUP_CHUNKS chunks, at least ``PART_MIN_BYTES``, in rounds: each round has
    one range per process, all of one size, together half of what is left (at most LARGEST_RANGE_GROUPS
    each: a range's output waits in its spool file while the range before it is handed on). The workers
    take turns (range i goes to worker i % processes) and this process hands the ranges on in order, so
    the rounds keep the workers' loads alike and the last ranges, those whose end nobody works beside,
    small: with equal ranges the second worker still had a whole range to go when the first finished
    (0.2-0.34 s of a 2.8 s run on one core), and before that, with one range per worker, this process
    wrote the second worker's whole output alone. The last range also takes any
    bytes after the last whole chunk, so the parts together are exactly what the serial parser reads.
    """
    size = path.stat().st_size
    groups = -(-_whole_chunks(path) // GROUP_CHUNKS)
    smallest = max(1, PART_MIN_BYTES // (GROUP_CHUNKS * CHUNK_SIZE))      # in groups
    if PROCESSES < 2 or size < 2 * PART_MIN_BYTES or groups < 2 * smallest:
        return [(0, None)]
    sizes: list[int] = []
    left = groups
    while left:
        each = min(LARGEST_RANGE_GROUPS, max(smallest, left // (2 * PROCESSES)))
        for _ in range(PROCESSES):
            sizes.append(min(each, left))
            left -= sizes[-1]
            if not left:
                break
    bounds = [0, *itertools.accumulate(n * GROUP_CHUNKS for n in sizes)]
    return [(bounds[i], bounds[i + 1] if i + 1 < len(sizes) else None) for i in range(len(sizes))]


class _ChunkView(io.RawIOBase):
    """Read-only view of an EVTX file as its file header followed by the chunks ``first`` … ``end`` - 1.

    The Rust parser reads chunk after chunk until the data ends (not the header's chunk count), so
    it parses exactly these chunks, with the header the file has.
    """

    def __init__(self, path: Path, first: int, end: int | None) -> None:
        super().__init__()
        self.first = first
        self._file = open(path, "rb")
        self._start = HEADER_SIZE + first * CHUNK_SIZE
        file_size = os.fstat(self._file.fileno()).st_size
        stop = file_size if end is None else min(file_size, HEADER_SIZE + end * CHUNK_SIZE)
        self._size = HEADER_SIZE + max(0, stop - self._start)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        out = b""
        while self._pos < end:          # at most two pieces: the header, then the chunks
            if self._pos < HEADER_SIZE:
                piece = os.pread(self._file.fileno(), min(end, HEADER_SIZE) - self._pos, self._pos)
            else:
                piece = os.pread(self._file.fileno(), end - self._pos, self._start + self._pos - HEADER_SIZE)
            if not piece:
                break
            out += piece
            self._pos += len(piece)
        return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class _SpooledContext:
    """What a worker process has instead of a FileContext: its calls go to a spool file as frames
    that the parent replays on the real context while the worker goes on.

    A frame is a whole unit of accounting (a batch: its warning, rows and read count; or one lost
    record: read and reject), so whatever a worker handed over before it failed is consistent.
    """
    spool: pa.NativeFile
    calls: list[tuple] = field(default_factory=list)
    lossy: bool = False
    written: int = 0            # bytes in the spool so far

    def emit(self, table: str, rows: pa.Table) -> int:
        # Columns without a value are left out (the parent's coerce adds them back as nulls): most of
        # SecurityEvent's ~170 are empty in any batch, and each still cost 33 KB of offsets in the spool.
        empty = [name for name, column in zip(rows.column_names, rows.columns) if column.null_count == len(column)]
        if empty and len(empty) < rows.num_columns:
            rows = rows.drop_columns(empty)
        self.calls.append(("emit", table, rows))
        return rows.num_rows        # the parent's emit writes every row it is given (coerce keeps them all)

    def read(self, n: int = 1) -> None:
        self.calls.append(("read", n))
        if n != 1 or any(c[0] == "emit" for c in self.calls):      # a batch is complete
            self.flush()

    def reject(self, record: int | None, reason: str, raw: str = "") -> None:
        self.calls.append(("reject", record, reason, raw))
        self.flush()

    def warn(self, record: int | None, reason: str, raw: str = "") -> None:
        self.calls.append(("warn", record, reason, raw))

    def flush(self, *final: tuple) -> None:
        """Write one frame: its size, the size of the pickled calls, the calls, then the Arrow streams
        of their rows, written from the rows' own buffers straight into the file (sized first by a
        counting stream: serialising into a growing memory buffer copied every batch twice). Each
        stream starts at a multiple of 64 bytes in the file, so the mapped columns are aligned."""
        tables = [c[2] for c in self.calls if c[0] == "emit"]
        sizes = [_ipc_stream(pa.MockOutputStream(), t).size() for t in tables]
        sized = iter(sizes)
        calls = [("emit", c[1], next(sized)) if c[0] == "emit" else c for c in self.calls + list(final)]
        head = pickle.dumps(calls, protocol=pickle.HIGHEST_PROTOCOL)
        streams_at = _aligned(self.written + 16 + len(head))
        end = streams_at + sum(_aligned(n) for n in sizes)
        self.spool.write((end - self.written - 8).to_bytes(8, "little") + len(head).to_bytes(8, "little") + head
                         + bytes(streams_at - self.written - 16 - len(head)))
        for t, n in zip(tables, sizes):
            _ipc_stream(self.spool, t)
            self.spool.write(bytes(_aligned(n) - n))
        self.written = end
        self.calls = []


def _aligned(offset: int) -> int:
    return (offset + 63) & ~63


def _ipc_stream(sink: pa.NativeFile, rows: pa.Table) -> pa.NativeFile:
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    return sink


def _in_file(exc: Exception, source: Path | str | _ChunkView) -> str:
    """The parser's message, with the chunk numbers of a chunk range made chunk numbers of the file."""
    if not isinstance(source, _ChunkView) or not source.first:
        return str(exc)
    return _CHUNK_NUMBER.sub(lambda m: f"chunk number {int(m[1]) + source.first}", str(exc))


def _keep_freed_memory() -> None:
    """glibc: keep freed blocks of up to 32 MiB in the heap for the next batch instead of handing them
    back to the system (every batch allocates its ~20 MB again; faulting those pages back in cost
    ~15 % of a worker's time). Only in the workers: they end with their chunk range."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 32 << 20)      # M_MMAP_THRESHOLD (the largest glibc takes)
        libc.mallopt(-1, 256 << 20)     # M_TRIM_THRESHOLD
    except (OSError, AttributeError):   # not glibc
        pass


@dataclass
class _Worker:
    """A forked worker process, reaped once (the spool readers ask whether it has exited)."""
    pid: int
    exited: bool = False

    def has_exited(self) -> bool:
        if not self.exited:
            try:
                self.exited = os.waitpid(self.pid, os.WNOHANG)[0] != 0
            except ChildProcessError:       # reaped already
                self.exited = True
        return self.exited

    def end(self, kill: bool) -> None:
        if self.exited:
            return
        with contextlib.suppress(OSError):
            if kill:
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)         # after its last range's "done" frame it is ending anyway
        self.exited = True


def _fork_worker(path: Path, parts: list[tuple[tuple[int, int | None], Path]]) -> _Worker:
    """Convert chunk ranges in a forked process, one after the other, each frame by frame into its spool."""
    for _, spool in parts:
        spool.touch()
    pid = os.fork()
    if pid:
        return _Worker(pid)
    status = 1
    try:
        with contextlib.suppress(NotImplementedError):      # pyarrow built without jemalloc
            # Measured: worker peak RSS 265 instead of 340 MiB (mimalloc keeps more of the freed batches).
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        _keep_freed_memory()
        # The parser makes a dict a record: every 700 of them the cyclic GC runs, and its full passes walked
        # every object the parent had imported. Those are here for good: out of the collector's way.
        gc.freeze()
        keep_pandas_out()      # a worker hands Arrow tables on
        log = EvtxLog()
        for part, spool in parts:
            hosts: dict[str, int] = {}
            with pa.OSFile(str(spool), "ab") as out:     # unbuffered: every write reaches the parent at once
                ctx = _SpooledContext(out)
                log._convert_range(path, part, ctx, hosts)
                ctx.flush(("done", ctx.lossy, hosts))
        status = 0
    finally:
        os._exit(status)       # never return into the parent's code (or run its atexit handlers)


def _frames(worker: _Worker, spool: Path) -> Iterator[list[tuple]]:
    """The frames of a spool as they are written, until the worker writing it has exited."""
    pos, exited = 0, False
    with pa.OSFile(str(spool), "r") as f:
        while True:
            written = os.fstat(f.fileno()).st_size
            if written >= pos + 8:
                size = int.from_bytes(f.read_at(8, pos), "little")
                if written >= pos + 8 + size:
                    yield _unpack_frame(f, pos + 8)
                    pos += 8 + size
                    continue
            if exited:
                return
            exited = worker.has_exited()     # read once more after the exit
            if not exited:
                time.sleep(0.005)


def _unpack_frame(f: pa.OSFile, start: int) -> list[tuple]:
    """The calls of the frame at ``start``, each emit with its rows as an Arrow table.

    A big table is a memory map of its own stretch of the spool: no copy of the rows, and the map
    goes when the table's row group is written (one map of the whole frame would keep the other
    table's rows mapped too). A small one is read into memory: each map holds a file descriptor,
    and a table that gets a few rows a batch waits for hundreds of batches before its row group.
    """
    head_size = int.from_bytes(f.read_at(8, start), "little")
    calls = pickle.loads(f.read_at(head_size, start + 8))
    offset = _aligned(start + 8 + head_size)
    for i, call in enumerate(calls):
        if call[0] == "emit":
            if call[2] >= MAP_MIN_BYTES:
                rows = _mapped_table(f.fileno(), offset, call[2])
            else:
                f.seek(offset)
                rows = pa.ipc.open_stream(f.read_buffer(call[2])).read_all()
            calls[i] = ("emit", call[1], rows)
            offset = _aligned(offset + call[2])
    return calls


def _mapped_table(fd: int, offset: int, size: int) -> pa.Table:
    start = offset - offset % mmap.ALLOCATIONGRANULARITY      # maps begin at a page boundary
    view = mmap.mmap(fd, offset - start + size, prot=mmap.PROT_READ, offset=start)
    return pa.ipc.open_stream(pa.py_buffer(view)[offset - start:]).read_all()


def _replay(worker: _Worker, spool: Path, ctx: FileContext, hosts: dict[str, int]) -> int | None:
    """Hand the rows and issues of one range to ``ctx`` as the worker produces them.

    None when the worker finished the range; otherwise (it failed) the number of parser results
    (records and raises) it handed over, which the redo skips.
    """
    handed = 0
    for frame in _frames(worker, spool):
        for call in frame:
            if call[0] == "emit":
                ctx.emit(call[1], call[2])
            elif call[0] == "read":
                ctx.read(call[1])
                handed += call[1]
            elif call[0] == "reject":
                ctx.reject(*call[1:])
                ctx.lossy = True
            elif call[0] == "warn":
                ctx.warn(*call[1:])
            else:                                   # ("done", lossy, hosts)
                ctx.lossy = ctx.lossy or call[1]
                for host, n in call[2].items():
                    hosts[host] = hosts.get(host, 0) + n
                return None
    return handed


# -- the rare shapes: unnamed <Data>, nested <UserData> ----------------------------------------------
def _leftover_fields(rows: pa.Table, fields: set[str]) -> dict[str, pa.Array] | None:
    """The named fields of the records the accelerator left over (UserData, escapes of control
    characters, unnamed <Data>…), as DuckDB's from_json gives them: text as is, integers and booleans
    as JSON writes them, null as null. None when a field holds a float or an object (DuckDB's own
    rendering of those is used then)."""
    columns: dict[str, list] = {}
    for i, (ed, ud) in enumerate(zip(rows.column("EventDataJson").to_pylist(), rows.column("UserDataJson").to_pylist())):
        # as _security_sql: EventData, else the first element of UserData
        value = _first_values(ed) if ed is not None else next(iter(_first_values(ud).values()), None) \
            if ud is not None and ud.startswith("{") else None
        if not isinstance(value, dict):
            continue
        for name, v in value.items():
            if name not in fields:
                continue
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, int):
                v = str(v)
            elif v is not None and not isinstance(v, str):
                return None
            columns.setdefault(name, [None] * rows.num_rows)[i] = v
    return {name: pa.array(values, pa.string()) for name, values in columns.items()}


def _first_values(text: str):
    """JSON with the first value of a key that is there twice (4648's LogonGuid), as DuckDB reads it; orjson
    keeps the last."""
    return json.loads(text, object_pairs_hook=_first_wins)


def _first_wins(pairs: list[tuple]) -> dict:
    out: dict = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _render_missing_xml(event_data: pa.Array, rows: pa.Table) -> pa.Array:
    """XML for the events DuckDB did not render (UserData, unnamed or attributed Data), from their JSON."""
    missing = pc.is_null(event_data)
    idx = pc.indices_nonzero(missing)
    rendered = []
    for ed, ud in zip(pc.take(rows.column("EventDataJson"), idx).to_pylist(),
                      pc.take(rows.column("UserDataJson"), idx).to_pylist()):
        if ed is not None:
            rendered.append(json_to_xml("EventData", orjson.loads(ed), EVENT_NS))
        elif ud is not None:
            rendered.append(json_to_xml("UserData", orjson.loads(ud), EVENT_NS))
        else:
            rendered.append(None)
    return pc.replace_with_mask(event_data, missing, pa.array(rendered, pa.string()))


def json_to_xml(tag: str, value, xmlns: str | None = None) -> str:
    """Render the Rust parser's JSON of an element back to XML (attributes in "#attributes", text in "#text").

    Inside <EventData> the parser turns ``<Data Name="k">v</Data>`` into ``"k": v`` and unnamed
    ``<Data>`` into ``"Data": {"#text": [...]}``; <Binary> keeps its name.
    """
    attrs: dict[str, str] = {}
    inner = ""
    if xmlns:
        attrs["xmlns"] = xmlns
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "#attributes" and isinstance(v, dict):
                attrs.update({a: _scalar(x) for a, x in v.items()})
            elif k == "#text":
                inner += "".join(escape(_scalar(x)) for x in (v if isinstance(v, list) else [v]))
            elif tag == "EventData" and k not in ("Data", "Binary") and not isinstance(v, (dict, list)):
                inner += f"<Data Name={quoteattr(k)}>{escape(_scalar(v))}</Data>"
            elif isinstance(v, dict) and isinstance(v.get("#text"), list):   # repeated elements of one name
                extra = {a: x for a, x in v.items() if a != "#text"}
                inner += "".join(json_to_xml(k, {**extra, "#text": x}) for x in v["#text"])
            elif isinstance(v, list):
                inner += "".join(json_to_xml(k, x) for x in v)
            else:
                inner += json_to_xml(k, v)
    elif value is not None:
        inner = escape(_scalar(value))
    head = tag + "".join(f" {a}={quoteattr(x)}" for a, x in attrs.items())
    return f"<{head}>{inner}</{tag}>"


# xml.sax.saxutils' escape and quoteattr, as they write: importing that module imports urllib.request,
# http.client and email (19 ms of a command's start, before any EVTX worker can fork).
def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(text: str) -> str:
    text = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"{}"'.format(text.replace('"', "&quot;"))


def _scalar(v) -> str:
    """Text of a JSON value; control characters (not allowed in XML 1.0) are written as \\uXXXX text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else _XML_INVALID.sub(lambda m: f"\\u{ord(m.group()):04x}", str(v))
