"""A fake Kusto engine and Data Management (DM) service for driving the real azure-kusto SDK offline.

Only what cannot run here is faked: the ADX cluster itself (and with it Azure AD). Storage is
real enough: Azurite holds the blobs and queues the SDK writes. The fake speaks the wire format
of SDK 6.0.4 (see ../shared/reference/testing-adx-offline.md §4): v1 JSON tables for commands,
v2 frames for queries, OneApi error bodies, and it records every request.

It is strict where ADX documents strictness (unknown database, table, command, mapping or
format is an error) and deliberately small: a handful of command shapes matched by regular
expressions, three query shapes, no real KQL, no batching. ``process_queue`` plays the DM's
background work: it reads the queue messages from Azurite, downloads each blob by its SAS URL,
decodes the Parquet, applies the mapping, honours ingestIfNotExists and keeps the tags on an
extent, so ``.show table T extents`` and ``.drop extents`` behave like the service.
"""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pyarrow.parquet as pq

DATABASE = "triage"
_extent_ids = itertools.count(1)


@dataclass
class Request:
    role: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    csl: str | None = None         # command or query text


@dataclass
class Extent:
    extent_id: str
    data: pa.Table
    tags: list[str]


@dataclass
class Table:
    schema: dict[str, str] = field(default_factory=dict)      # column -> Kusto type, in order
    extents: list[Extent] = field(default_factory=list)
    mappings: dict[str, str] = field(default_factory=dict)    # parquet mapping name -> JSON text

    @property
    def rows(self) -> pa.Table | None:
        parts = [e.data for e in self.extents]
        return pa.concat_tables(parts, promote_options="permissive") if parts else None


class KustoFailure(Exception):
    def __init__(self, status: int, message: str, permanent: bool = True, code: str = "BadRequest"):
        super().__init__(message)
        self.status, self.message, self.permanent, self.code = status, message, permanent, code

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "@type": "Kusto.Fake.Error",
                          "@message": self.message, "@context": {}, "@permanent": self.permanent}}


def v1(columns: list[tuple[str, str]], rows: list[list]) -> dict:
    return {"Tables": [{"TableName": "Table_0",
                        "Columns": [{"ColumnName": n, "DataType": "String" if t == "string" else "Object",
                                     "ColumnType": t} for n, t in columns],
                        "Rows": rows}]}


def v2(columns: list[tuple[str, str]], rows: list[list]) -> list[dict]:
    return [{"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0"},
            {"FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult", "TableName": "PrimaryResult",
             "Columns": [{"ColumnName": n, "ColumnType": t} for n, t in columns], "Rows": rows},
            {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False}]


def _json_value(v):
    return v.isoformat().replace("+00:00", "Z") if isinstance(v, (dt.datetime, dt.date)) else v


class FakeKusto:
    """State shared by the engine and DM servers, plus fault injection and the DM emulation."""

    def __init__(self, storage=None, database: str = DATABASE):
        self.storage = storage            # the Azurite fixture (resources for .get ingestion resources)
        self.database = database
        self.tables: dict[str, Table] = {}
        self.requests: list[Request] = []
        self.faults: list[tuple[str, str, int, dict | str]] = []   # role, text in csl/path, status, body
        self.roles = [["Database " + database, "test principal", "", f"Database {database} Admin"]]
        self.streaming_tables: set[str] = set()
        self.processed: list[dict] = []     # queue messages the DM emulation has handled
        self.refuse: dict[str, str] = {}      # table -> reason the DM emulation fails its ingestions with
        self.failures: list[list] = []        # rows of .show ingestion failures
        self.lock = threading.Lock()
        self.servers: dict[str, ThreadingHTTPServer] = {}

    # --- life cycle -------------------------------------------------------------------------------
    def start(self) -> "FakeKusto":
        for role in ("engine", "dm"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, role))
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self.servers[role] = server
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.servers[role].server_address[1]}"

    # --- fault injection --------------------------------------------------------------------------
    def fail_next(self, role: str, contains: str, status: int, permanent: bool | None = None, times: int = 1,
                  body: str | None = None) -> None:
        """The next ``times`` requests to ``role`` whose command text or path contains ``contains`` fail."""
        if body is None:
            body = KustoFailure(status, f"injected {status}", bool(permanent),
                                "TooManyRequests" if status == 429 else "Injected").body()
            if permanent is None:
                del body["error"]["@permanent"]
        self.faults += [(role, contains, status, body)] * times

    def _fault(self, role: str, text: str):
        with self.lock:
            for i, (r, contains, status, body) in enumerate(self.faults):
                if r == role and contains in text:
                    del self.faults[i]
                    return status, body
        return None

    # --- what tests look at ----------------------------------------------------------------------
    def commands(self, role: str = "engine") -> list[str]:
        return [r.csl for r in self.requests if r.role == role and r.path.startswith("/v1/rest/mgmt")]

    def changes(self) -> list[str]:
        """Engine commands that change something (everything but .show)."""
        return [c for c in self.commands("engine") if not c.startswith(".show")]

    def count(self, table: str, collection_id: str | None = None) -> int:
        t = self.tables.get(table)
        data = t.rows if t else None
        if data is None:
            return 0
        if collection_id is None:
            return data.num_rows
        return sum(1 for v in data.column("CollectionId").to_pylist() if v == collection_id)

    # --- the DM's background work -----------------------------------------------------------------
    def process_queue(self) -> list[dict]:
        """Ingest every queued message (as the DM would); returns the decoded messages."""
        handled = []
        for msg in self.storage.queue_client("readyforaggregation-secured").receive_messages():
            message = json.loads(base64.b64decode(msg.content))
            self.storage.queue_client("readyforaggregation-secured").delete_message(msg)
            props = message["AdditionalProperties"]
            blob = self.storage.download(message["BlobPath"])
            if props.get("format") != "parquet":
                raise AssertionError(f"unexpected format {props.get('format')}")
            try:
                if message["TableName"] in self.refuse:
                    raise KustoFailure(400, self.refuse[message["TableName"]])
                self._ingest(message["TableName"], pq.read_table(io.BytesIO(blob)),
                             props.get("ingestionMappingReference"), json.loads(props.get("tags", "[]")),
                             json.loads(props.get("ingestIfNotExists", "[]")))
            except KustoFailure as failure:     # the DM records it for .show ingestion failures
                self.failures.append([message["Id"], message["DatabaseName"], message["TableName"],
                                      "2026-01-01T00:00:00Z", message["BlobPath"], failure.message, "Permanent"])
            message["_blob"] = blob
            handled.append(message)
        self.processed += handled
        return handled

    def _ingest(self, table: str, data: pa.Table, mapping: str | None, tags: list[str],
                if_not_exists: list[str]) -> int:
        with self.lock:
            t = self.tables.get(table)
            if t is None:
                raise KustoFailure(400, f"Table '{table}' was not found")
            if mapping is not None and mapping not in t.mappings:
                raise KustoFailure(400, f"Mapping reference '{mapping}' of type 'parquet' in table '{table}' "
                                        f"could not be found")
            existing = {tag for e in t.extents for tag in e.tags}
            if any(f"ingest-by:{v}" in existing for v in if_not_exists):
                return 0
            if mapping is not None:
                columns = {}
                for entry in json.loads(t.mappings[mapping]):
                    source = entry["Properties"].get("Field") or entry["Properties"]["Path"].removeprefix("$.")
                    columns[entry["column"]] = data.column(source)
                data = pa.table(columns)
            t.extents.append(Extent(f"extent-{next(_extent_ids)}", data, tags))
            return data.num_rows

    # --- commands ---------------------------------------------------------------------------------
    def mgmt(self, role: str, db: str, csl: str):
        csl = csl.strip()
        if csl == ".show version":
            return v1([("BuildVersion", "string"), ("BuildTime", "datetime"), ("ServiceType", "string"),
                       ("ProductVersion", "string")],
                      [["1.0.0", "2026-01-01T00:00:00Z", "Engine" if role == "engine" else "DataManagement",
                        "fake"]])
        if role == "dm":
            if csl == ".get ingestion resources":
                return v1([("ResourceTypeName", "string"), ("StorageRoot", "string")], self.storage.resources())
            if csl == ".get kusto identity token":
                return v1([("AuthorizationContext", "string")], [["fake-identity-token"]])
            raise KustoFailure(400, f"Unknown command on the DM: {csl[:80]}")
        if db != self.database:
            raise KustoFailure(400, f"Database '{db}' was not found", code="BadRequest_EntityNotFound")
        if csl == ".show tables":
            return v1([("TableName", "string"), ("DatabaseName", "string"), ("Folder", "string"),
                       ("DocString", "string")], [[n, db, "", ""] for n in self.tables])
        if csl == ".show ingestion failures":
            return v1([("OperationId", "string"), ("Database", "string"), ("Table", "string"),
                       ("FailedOn", "datetime"), ("IngestionSourcePath", "string"), ("Details", "string"),
                       ("FailureKind", "string")], self.failures)
        if csl == ".show principal roles":
            return v1([("Scope", "string"), ("DisplayName", "string"), ("AADObjectID", "string"),
                       ("Role", "string")], self.roles)
        if m := re.fullmatch(r"\.create-merge table (\w+) \((.*)\)", csl, re.S):
            return self._create_merge(db, m.group(1), m.group(2))
        if m := re.fullmatch(r"\.create(?:-or-alter)? table (\w+) ingestion parquet mapping (['\"])(\w+)\2 "
                             r"'(.*)'", csl, re.S):
            return self._create_mapping(db, m.group(1), m.group(3), m.group(4))
        if m := re.fullmatch(r"\.show table (\w+) ingestion parquet mappings", csl):
            t = self._table(m.group(1))
            return v1([("Name", "string"), ("Kind", "string"), ("Mapping", "string"), ("LastUpdatedOn", "datetime"),
                       ("Database", "string"), ("Table", "string")],
                      [[n, "Parquet", js, None, db, m.group(1)] for n, js in t.mappings.items()])
        if m := re.fullmatch(r"\.alter table (\w+) policy streamingingestion enable", csl):
            self._table(m.group(1))
            self.streaming_tables.add(m.group(1))
            return v1([("PolicyName", "string"), ("EntityName", "string"), ("Policy", "string")],
                      [["StreamingIngestionPolicy", m.group(1), '{"IsEnabled": true}']])
        if m := re.fullmatch(r'(\.drop extents <\| )?\.show table (\w+) extents(?: where tags has "([^"]+)")?', csl):
            return self._extents(m.group(2), m.group(3), drop=bool(m.group(1)))
        raise KustoFailure(400, f"Syntax error: unknown or unsupported command: {csl[:80]}")

    def _table(self, name: str) -> Table:
        if name not in self.tables:
            raise KustoFailure(400, f"Table '{name}' was not found", code="BadRequest_EntityNotFound")
        return self.tables[name]

    def _create_merge(self, db: str, name: str, spec: str):
        wanted = dict(part.strip().split(":") for part in spec.split(","))
        with self.lock:
            t = self.tables.setdefault(name, Table())
            for col, kusto_type in wanted.items():
                if t.schema.get(col, kusto_type) != kusto_type:
                    raise KustoFailure(400, f"Column '{col}' already exists with type '{t.schema[col]}'")
            for col, kusto_type in wanted.items():
                t.schema.setdefault(col, kusto_type)
        schema = ", ".join(f"{c}:{k}" for c, k in t.schema.items())
        return v1([("TableName", "string"), ("Schema", "string"), ("DatabaseName", "string"), ("Folder", "string"),
                   ("DocString", "string")], [[name, schema, db, "", ""]])

    def _create_mapping(self, db: str, table: str, name: str, text: str):
        t = self._table(table)
        mapping = json.loads(text)            # must parse, and name only existing columns
        for entry in mapping:
            if entry["column"] not in t.schema:
                raise KustoFailure(400, f"Mapping column '{entry['column']}' is not in table '{table}'")
            if not (entry["Properties"].get("Field") or entry["Properties"].get("Path", "").startswith("$.")):
                raise KustoFailure(400, f"Mapping of '{entry['column']}' has neither Field nor a $.Path")
        t.mappings[name] = text
        return v1([("Name", "string"), ("Kind", "string"), ("Mapping", "string"), ("LastUpdatedOn", "datetime"),
                   ("Database", "string"), ("Table", "string")], [[name, "Parquet", text, None, db, table]])

    def _extents(self, table: str, tag: str | None, drop: bool):
        t = self._table(table)
        with self.lock:
            chosen = [e for e in t.extents if tag is None or tag in e.tags]
            if drop:
                t.extents = [e for e in t.extents if e not in chosen]
        if drop:
            return v1([("ExtentId", "string"), ("TableName", "string"), ("CreatedOn", "datetime")],
                      [[e.extent_id, table, None] for e in chosen])
        return v1([("ExtentId", "string"), ("DatabaseName", "string"), ("TableName", "string"), ("RowCount", "long"),
                   ("Tags", "string")],
                  [[e.extent_id, self.database, table, e.data.num_rows, "\r\n".join(e.tags)] for e in chosen])

    # --- queries ----------------------------------------------------------------------------------
    def query(self, db: str, csl: str):
        if db != self.database:
            raise KustoFailure(400, f"Database '{db}' was not found", code="BadRequest_EntityNotFound")
        csl = csl.strip()
        m = re.fullmatch(r"(\w+)(?: \| (.*))?", csl, re.S)
        if not m or m.group(1) not in self.tables:
            raise KustoFailure(400, f"Semantic error: Failed to resolve table expression named '{csl.split()[0]}'")
        t = self.tables[m.group(1)]
        data = t.rows
        rest = m.group(2)
        if rest == "count":
            return v2([("Count", "long")], [[data.num_rows if data is not None else 0]])
        if rest == "summarize Rows=count() by CollectionId":
            counts: dict[str, int] = {}
            for v in (data.column("CollectionId").to_pylist() if data is not None else []):
                counts[v] = counts.get(v, 0) + 1
            return v2([("CollectionId", "string"), ("Rows", "long")], [[k, n] for k, n in counts.items()])
        if rest is None or (take := re.fullmatch(r"take (\d+)", rest)):
            limit = int(take.group(1)) if rest else None
            rows = data.to_pylist()[:limit] if data is not None else []
            return v2(list(t.schema.items()), [[_json_value(r.get(c)) for c in t.schema] for r in rows])
        raise KustoFailure(400, f"Syntax error: the fake engine does not support '{rest}'")

    # --- streaming ingestion ----------------------------------------------------------------------
    def stream(self, db: str, table: str, params: dict[str, str], body: bytes):
        if db != self.database:
            raise KustoFailure(400, f"Database '{db}' was not found")
        if table not in self.streaming_tables:
            raise KustoFailure(400, f"Streaming ingestion policy is not enabled for table '{table}'")
        if params.get("streamFormat") != "parquet":
            raise KustoFailure(400, f"Unsupported stream format {params.get('streamFormat')!r}")
        if body[:2] == b"\x1f\x8b":       # lenient: sniff gzip, as the SDK labels binary bodies gzip anyway
            body = gzip.decompress(body)
        rows = self._ingest(table, pq.read_table(io.BytesIO(body)), params.get("mappingName"), [], [])
        return v1([("ConsumedRecordsCount", "long"), ("UpdatePolicyStatus", "string"),
                   ("UpdatePolicyFailureCode", "string"), ("UpdatePolicyFailureReason", "string")],
                  [[rows, "Inactive", "Unknown", None]])


def _handler(fake: FakeKusto, role: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True     # headers and body go out as two writes: avoid 40 ms delayed ACKs

        def log_message(self, *args) -> None:   # keep pytest output clean
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, payload) -> None:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            fake.requests.append(Request(role, "GET", self.path, dict(self.headers), b""))
            self._send(404, KustoFailure(404, "not found").body())

        def do_POST(self) -> None:
            body = self._body()
            path, _, query = self.path.partition("?")
            request = Request(role, "POST", self.path, dict(self.headers), body)
            fake.requests.append(request)
            try:
                if path in ("/v1/rest/mgmt", "/v2/rest/query"):
                    payload = json.loads(body)
                    request.csl = payload["csl"]
                    if fault := fake._fault(role, request.csl):
                        return self._send(*fault)
                    if path == "/v1/rest/mgmt":
                        return self._send(200, fake.mgmt(role, payload.get("db"), payload["csl"]))
                    return self._send(200, fake.query(payload.get("db"), payload["csl"]))
                if role == "engine" and (m := re.fullmatch(r"/v1/rest/ingest/([^/]+)/([^/]+)", path)):
                    if fault := fake._fault(role, self.path):
                        return self._send(*fault)
                    params = dict(p.split("=", 1) for p in query.split("&") if p)
                    return self._send(200, fake.stream(m.group(1), m.group(2), params, body))
                self._send(404, KustoFailure(404, f"no endpoint {path}").body())
            except KustoFailure as failure:
                self._send(failure.status, failure.body())
    return Handler
