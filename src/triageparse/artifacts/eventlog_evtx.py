"""Windows event logs (``.evtx``) into Sentinel-shaped ``SecurityEvent`` and ``WindowsEvent`` rows.

The ``evtx`` package (Rust) reads the file one chunk at a time and hands back one JSON string per
record. Per-record Python work is what makes EVTX conversion slow, so records are only collected
here: every ``BATCH_RECORDS`` JSON strings become one Arrow column, and one DuckDB query per batch
turns it into typed columns (``from_json`` with a fixed structure, EventData kept as JSON text and
rendered back as the ``<EventData>`` XML Sentinel stores). The sink encodes Parquet on its own
thread. Conversion runs on the reading thread on purpose: the Rust iterator holds the GIL while it
parses, so a converter thread waited for the GIL at every pyarrow call and the whole was slower
than doing the batches in turn (measured: 7.3-8.2 s against 6.7 s for 200k records).

Facts that shape the code (see ../shared/reference/libraries-and-peers.md §1–2):

* event time is ``System/TimeCreated/@SystemTime``; the record-header time is often zero;
* damaged files raise from ``next()`` for a bad chunk or record, and the iterator goes on: each
  raise is one lost record or chunk, one ParseIssue, and reading continues;
* a record's ``System/EventRecordID`` can differ from the header record number (exported logs):
  EventRecordId / SourceRecord hold the System value, the one SecurityEvents.csv's Index repeats.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import escape, quoteattr

import duckdb
import evtx
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .. import contracts
from ..collection import Member
from .base import Artifact, FileContext
from .eventlog_common import ORIGIN_EVTX, audit_level, with_sentinel_columns

EVTX_MAGIC = b"ElfFile\x00"
BATCH_RECORDS = 16384          # JSON strings per batch: bounds memory (~50 MB in flight), amortises DuckDB
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
    r"""CASE WHEN regexp_matches(x, '[&<>]') THEN replace(replace(replace(x, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')
        ELSE x END""",
    # 2. null -> "" and numbers / booleans quoted; the key's last character is not a backslash, so a
    #    match never starts inside a string
    r"""CASE WHEN contains(x, '":null') THEN replace(replace(x, '":null,"', '":"","'), '":null}', '":""}')
        ELSE x END""",
    r"""CASE WHEN regexp_matches(x, '":[-0-9tf]')
        THEN regexp_replace(x, '([^\\])":(-?[0-9][^,}"]*|true|false)([,}])', '\1":"\2"\3', 'g') ELSE x END""",
    # 3. the markup
    r"""replace(replace(replace(x, '":"', '">'), '","', '</Data><Data Name="'), '"}', '</Data>')""",
    # 4. JSON string escapes, \\ last through a placeholder
    r"""CASE WHEN contains(x, '\') THEN replace(replace(replace(replace(replace(replace(replace(x, '\\', chr(1)),
        '\"', '"'), '\n', chr(10)), '\r', chr(13)), '\t', chr(9)), '\/', '/'), chr(1), '\') ELSE x END""",
)
# Rows the plain steps cannot render faithfully go to json_to_xml: objects and arrays (unnamed <Data>,
# attributes), <Binary>, \u \b \f escapes (control characters), and a string value that ends in an
# escaped quote followed by :" ," or } (step 3 would take it for markup).
_FLAT = " AND ".join((
    """starts_with(EventDataJson, '{"')""",
    r"""NOT regexp_matches(EventDataJson, '":[{\[]')""",
    r"""NOT regexp_matches(replace(EventDataJson, '\\', ''), '\\[ubf]')""",
    """NOT contains(EventDataJson, '"Binary":')""",
    r"""NOT contains(EventDataJson, '\":"')""", r"""NOT contains(EventDataJson, '\","')""",
    r"""NOT contains(EventDataJson, '\"}')""",
))


def _security_sql(field_names: list[str]) -> str:
    """SQL over the System rows of Security events: the named fields, and the <EventData> XML when it is flat.

    The XML comes from the compact JSON text by string rewrites (``_XML_STEPS``) that DuckDB runs at
    memory speed, instead of per-field work; the other rows are left NULL for ``json_to_xml``.
    """
    struct = "{" + ", ".join(f'"{n}": "VARCHAR"' for n in field_names) + "}"
    # Security events that use <UserData> (1102 log cleared, 1100, 1104 …) carry their fields one level down.
    fields = (f"CASE WHEN EventDataJson IS NOT NULL THEN from_json(EventDataJson, '{struct}') "
              f"ELSE from_json(json_extract(UserDataJson, '$.*')[1], '{struct}') END")
    steps = [f"s0 AS (SELECT ord, EventDataJson, UserDataJson, CASE WHEN {_FLAT} THEN EventDataJson END AS x "
             "FROM rows)"]
    for i, step in enumerate(_XML_STEPS, 1):
        steps.append(f"s{i} AS (SELECT ord, EventDataJson, UserDataJson, {step} AS x FROM s{i - 1})")
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
        self._con: duckdb.DuckDBPyConnection | None = None
        self._security_fields: list[str] | None = None

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
        with member.local_path() as path:
            self.convert_file(path, ctx)

    def convert_file(self, path: Path, ctx: FileContext) -> None:
        """Stream the records of one EVTX file into the tables, batch by batch."""
        hosts: dict[str, int] = {}
        for batch in read_batches(path, ctx):
            ctx.read(self._emit_batch(batch, ctx, hosts))
        for host, n in hosts.items():
            ctx.run.computer_hints[host] += n

    def _emit_batch(self, batch: _Batch, ctx: FileContext, hosts: dict[str, int]) -> int:
        rows = self.system_rows(batch)
        computers = pc.value_counts(rows.column("Computer").combine_chunks())
        for item in computers.to_pylist():
            if item["values"]:
                hosts[item["values"]] = hosts.get(item["values"], 0) + item["counts"]
        broken = pc.sum(pc.is_valid(rows.column("RawEventData"))).as_py() or 0
        if broken:
            ctx.warn(None, f"{broken} record(s) could not be split into fields; kept whole in RawEventData",
                     rows.filter(pc.is_valid(rows.column("RawEventData"))).column("RawEventData")[0].as_py())
        security = pc.fill_null(pc.equal(pc.utf8_lower(rows.column("Channel")), "security"), False)
        written = 0
        n_security = pc.sum(security).as_py() or 0
        if n_security:
            written += ctx.emit("SecurityEvent", self.security_rows(rows.filter(security)))
        if n_security < rows.num_rows:
            written += ctx.emit("WindowsEvent", self.windows_rows(rows.filter(pc.invert(security))))
        return written

    # -- conversion (also used by the tests and the benchmark) ---------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            # One DuckDB thread: a second one did not make the small per-batch queries faster.
            self._con = duckdb.connect(config={"threads": 1})
        return self._con

    def system_rows(self, batch: _Batch) -> pa.Table:
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

    def windows_rows(self, rows: pa.Table) -> pa.Table:
        level = rows.column("EventLevel").combine_chunks()
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
        fields = self._security_field_names()
        con = self.con.cursor()
        con.register("rows", rows.select(["ord", "EventDataJson", "UserDataJson"]))
        try:
            named = con.sql(_security_sql(fields)).to_arrow_table()
        finally:
            con.close()
        f = named.column("f").combine_chunks()
        event_data = named.column("EventData").combine_chunks()
        if event_data.null_count:
            event_data = _render_missing_xml(event_data, rows)
        cols: dict[str, pa.Array] = {name: f.field(name) for name in fields}
        cols.update({
            "TimeGenerated": rows.column("TimeGenerated"),
            "Computer": rows.column("Computer"),
            "EventID": rows.column("EventID"),
            "Channel": rows.column("Channel"),
            "EventSourceName": rows.column("Provider"),
            "Task": rows.column("Task"),
            "Level": audit_level(rows.column("Keywords").combine_chunks(), rows.column("EventLevel").combine_chunks()),
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
        t = pa.table({k: (v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v) for k, v in cols.items()})
        t = with_sentinel_columns(t.set_column(t.column_names.index("EventID"), "EventID",
                                               pc.cast(t.column("EventID"), pa.string())))
        raw = rows.column("RawEventData")
        if raw.null_count < len(raw):
            t = t.append_column("RawEventData", raw)      # no SecurityEvent column: kept in AdditionalFields
        return t

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


def read_batches(path: Path | str, ctx: FileContext | None = None,
                 batch_records: int | None = None) -> Iterator[_Batch]:
    """Every readable record of an EVTX file, in batches; each raise of the parser is one ParseIssue."""
    batch_records = batch_records or BATCH_RECORDS
    try:
        records = evtx.PyEvtxParser(str(path)).records_json()
    except (OSError, RuntimeError, ValueError) as exc:     # the file header itself cannot be read
        if ctx is None:
            raise
        ctx.read(1)
        ctx.reject(None, f"not a readable EVTX file (the file header is damaged or cut short): {exc}")
        ctx.lossy = True
        return
    docs: list[str] = []
    ids: list[int] = []
    consecutive = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as exc:    # RuntimeError from a bad chunk / record; the iterator goes on
            consecutive += 1
            if ctx is not None:
                ctx.read(1)
                ctx.reject(None, f"EVTX record or chunk could not be read (reading goes on): {exc}")
                ctx.lossy = True
            if consecutive >= MAX_CONSECUTIVE_ERRORS:
                if ctx is not None:
                    ctx.warn(None, f"gave up after {consecutive} consecutive read errors")
                break
            continue
        consecutive = 0
        docs.append(record["data"])
        ids.append(record["event_record_id"])
        if len(docs) >= batch_records:
            yield _Batch(docs, ids)
            docs, ids = [], []
    if docs:
        yield _Batch(docs, ids)


# -- the rare shapes: unnamed <Data>, nested <UserData> ----------------------------------------------
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


def _scalar(v) -> str:
    """Text of a JSON value; control characters (not allowed in XML 1.0) are written as \\uXXXX text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else _XML_INVALID.sub(lambda m: f"\\u{ord(m.group()):04x}", str(v))
