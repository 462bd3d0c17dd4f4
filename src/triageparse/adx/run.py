"""Ingestion into Azure Data Explorer: preflight, table commands, queued ingestion, verification, drop.

Every call to the cluster goes through ``Session.call``, which retries throttling and transient
errors with exponential back-off and turns permanent ones into an ``IngestError`` whose message
says what to do. Re-running is always safe: files already in ADX (``ingest-by`` extent tags) or
already queued from this OUT folder (the ledger) are not sent again, and ``ingestIfNotExists``
makes ADX itself refuse a duplicate.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from azure.kusto.data import KustoClient
from azure.kusto.data.data_format import DataFormat, IngestionMappingKind
from azure.kusto.data.exceptions import (KustoApiError, KustoAuthenticationError, KustoBlobError, KustoClientError,
                                         KustoError, KustoNetworkError, KustoServiceError, KustoThrottlingError)
from azure.kusto.ingest import FileDescriptor, IngestionProperties, ManagedStreamingIngestClient, QueuedIngestClient
from azure.kusto.ingest.exceptions import KustoQueueError
from requests import RequestException

from .. import contracts
from . import plan
from .connect import ConfigError, Endpoints, connection, endpoints, is_free_cluster, redact

Say = Callable[[str], None]
FREE_CLUSTER_CAUTION = ("caution: this is a free ADX cluster; its terms exclude personal data, which incident "
                        "evidence usually contains")


class IngestError(RuntimeError):
    """A permanent failure: retrying will not help; the message says what to change."""


@dataclass(frozen=True)
class Retry:
    """Back-off for throttling and transient errors: first_wait, doubling, capped, with jitter."""
    attempts: int = 6
    first_wait: float = 2.0
    max_wait: float = 60.0

    def wait(self, attempt: int) -> float:
        return min(self.max_wait, self.first_wait * 2 ** attempt) * random.uniform(0.5, 1.0)


def classify(exc: BaseException, what: str, endpoint: str) -> tuple[bool, str]:
    """(transient?, message for the user) for an exception raised by the SDK."""
    status = getattr(getattr(exc, "http_response", None), "status_code", None)
    text = redact(str(exc).strip() or type(exc).__name__)
    if isinstance(exc, KustoThrottlingError) or status == 429:
        return True, f"{what}: throttled by the cluster"
    if isinstance(exc, KustoNetworkError) or isinstance(exc, RequestException):
        return True, (f"{what}: cannot reach {endpoint}: check the URL, your network (VPN, firewall, private "
                      f"endpoint) and that the cluster is running (not stopped)")
    if isinstance(exc, KustoAuthenticationError) or status == 401 or "cloud metadata" in text:
        return False, (f"{what}: authentication failed at {endpoint} ({text}); log in again (az login), or "
                       f"choose another --auth")
    if status == 403:
        return False, (f"{what}: permission denied at {endpoint} ({text}); the principal needs the Database "
                       f"Ingestor role (and Database User to create tables), granted by a database admin")
    if status == 404:
        if "streaming" in text.lower():
            return False, (f"{what}: streaming ingestion is disabled on the cluster; enable it (Azure portal > "
                           f"cluster > Configurations > Streaming ingestion) or run without --streaming")
        return False, f"{what}: {endpoint} is not a Kusto endpoint ({text}); check --cluster / --ingest-url"
    if isinstance(exc, KustoApiError):
        api = exc.get_api_error()
        detail = redact(f"{api.code}: {api.description or api.message}")
        if api.permanent is True or (status is not None and 400 <= status < 500):
            return False, f"{what}: {detail}"
        return True, f"{what}: {detail}"
    if isinstance(exc, (KustoQueueError, KustoBlobError)):
        return True, f"{what}: the cluster's temporary storage refused the upload ({text})"
    if isinstance(exc, KustoServiceError):
        if status is not None and status >= 500:
            return True, f"{what}: server error {status} ({text})"
        return False, f"{what}: {text}"
    if isinstance(exc, (KustoClientError, KustoError)):
        return False, f"{what}: {text}"
    if isinstance(exc, (IndexError, KeyError, ValueError, TypeError)):
        return False, f"{what}: unexpected response from {endpoint} ({type(exc).__name__}: {text})"
    raise exc


class Session:
    """The engine and DM clients of one cluster, with retries."""

    def __init__(self, ends: Endpoints, auth: str, retry: Retry, say: Say):
        self.ends, self.retry, self.say = ends, retry, say
        self.engine_kcsb = connection(ends.engine, auth)
        self.dm_kcsb = connection(ends.dm, auth)
        self.engine = KustoClient(self.engine_kcsb)
        self.dm = KustoClient(self.dm_kcsb)
        self._queued: QueuedIngestClient | None = None
        self._managed: ManagedStreamingIngestClient | None = None
        self.sent: list[str] = []          # management commands that change something

    def call(self, what: str, endpoint: str, fn, *args):
        for attempt in range(self.retry.attempts):
            try:
                return fn(*args)
            except Exception as exc:        # noqa: BLE001 - classify() re-raises what it does not know
                transient, message = classify(exc, what, endpoint)
                if not transient:
                    raise IngestError(message) from None
                if attempt + 1 == self.retry.attempts:
                    raise IngestError(f"{message}; gave up after {self.retry.attempts} attempts, run the same "
                                      f"command again later (nothing is sent twice)") from None
                wait = self.retry.wait(attempt)
                self.say(f"  {message}; retrying in {wait:.1f} s ({attempt + 1}/{self.retry.attempts - 1})")
                time.sleep(wait)

    def rows(self, client: KustoClient, endpoint: str, database: str, text: str, what: str) -> list[dict]:
        run = client.execute_mgmt if text.startswith(".") else client.execute_query
        response = self.call(what, endpoint, run, database, text)
        table = response.primary_results[0]
        names = [c.column_name for c in table.columns]
        return [dict(zip(names, row)) for row in table.raw_rows]

    def engine_rows(self, database: str, text: str, what: str) -> list[dict]:
        return self.rows(self.engine, self.ends.engine, database, text, what)

    def schema(self, database: str, table: str) -> dict[str, str]:
        response = self.call(f"reading the schema of {table}", self.ends.engine, self.engine.execute_query,
                             database, f"{table} | take 0")
        return {c.column_name: c.column_type for c in response.primary_results[0].columns}

    def command(self, database: str, text: str, what: str) -> None:
        self.engine_rows(database, text, what)
        self.sent.append(text)

    def ingest_client(self, streaming: bool) -> QueuedIngestClient | ManagedStreamingIngestClient:
        if streaming:
            if self._managed is None:
                self._managed = ManagedStreamingIngestClient(self.engine_kcsb, self.dm_kcsb)
                # The SDK's only knob for its streaming retry waits is private; keep it behind Retry.
                self._managed._set_retry_settings(max_seconds_per_retry=self.retry.first_wait)
            return self._managed
        if self._queued is None:
            self._queued = QueuedIngestClient(self.dm_kcsb)
        return self._queued

    def close(self) -> None:
        for client in (self.engine, self.dm, self._queued, self._managed):
            if client is not None:
                client.close()


@dataclass
class IngestReport:
    engine: str
    dm: str
    database: str
    files: list[plan.ParquetFile] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)          # commands sent (or, dry run, to send)
    queued: list[plan.ParquetFile] = field(default_factory=list)
    skipped: list[tuple[plan.ParquetFile, str]] = field(default_factory=list)
    counts: dict[tuple[str, str], tuple[int, int | None]] = field(default_factory=dict)  # expected, in ADX
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def differences(self) -> list[str]:
        return [f"{t} collection {c}: {exp} rows in Parquet, {got if got is not None else 'none'} in ADX"
                for (t, c), (exp, got) in sorted(self.counts.items()) if got != exp]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.differences


def _mapping_is_current(session: Session, database: str, contract: contracts.Contract) -> bool:
    """True when the table already has our mapping, unchanged (so a re-run sends no command)."""
    try:
        rows = session.engine_rows(database, f".show table {contract.name} ingestion parquet mappings",
                                   f"reading the mappings of {contract.name}")
    except IngestError:
        return False
    wanted = json.loads(contract.kql_mapping_json())
    for row in rows:
        if row.get("Name") == contract.mapping_name:
            try:
                return json.loads(row.get("Mapping") or "null") == wanted
            except ValueError:
                return False
    return False


def _ingested_tags(session: Session, database: str, table: str, report: IngestReport) -> set[str] | None:
    """The ``ingest-by`` values already on the table's extents, or None when they cannot be read."""
    try:
        rows = session.engine_rows(database, f".show table {table} extents", f"reading the extents of {table}")
    except IngestError as exc:
        report.notes.append(f"cannot read extent tags of {table} ({exc}); relying on the local ledger and "
                            f"ingestIfNotExists")
        return None
    found = set()
    for row in rows:
        for tag in str(row.get("Tags") or "").split():
            if tag.startswith("ingest-by:"):
                found.add(tag[len("ingest-by:"):])
    return found


def _check_ingest_permission(session: Session, database: str, report: IngestReport) -> None:
    try:
        rows = session.engine_rows(database, ".show principal roles", "checking the principal's roles")
    except IngestError as exc:
        report.notes.append(f"could not check the ingest permission ({exc}); a missing permission shows up "
                            f"when the tables are created")
        return
    roles = " ".join(f"{r.get('Scope', '')} {r.get('Role', '')}" for r in rows).lower()
    allowed = ("admin", "ingestor", "user")
    if rows and not any(a in roles for a in allowed):
        report.problems.append(f"the principal has no role that may ingest into {database} (found: "
                               f"{sorted({str(r.get('Role')) for r in rows})}); ask a database admin for "
                               f"'.add database {database} ingestors (\"<your principal>\")'")


def preflight(session: Session, database: str, tables: list[str], free_cluster: bool,
              report: IngestReport) -> dict[str, dict[str, str]]:
    """Check the cluster before anything is sent; returns the existing schema of the planned tables."""
    version = session.engine_rows(database, ".show version", "contacting the cluster")
    if version and version[0].get("ServiceType") == "DataManagement":
        raise IngestError(f"{session.ends.engine} is an ingestion (Data Management) endpoint; pass the "
                          f"cluster's query URL as --cluster")
    if session.ends.dm != session.ends.engine:
        dm_version = session.rows(session.dm, session.ends.dm, database, ".show version",
                                  "contacting the ingestion endpoint")
        if dm_version and dm_version[0].get("ServiceType") == "Engine":
            raise IngestError(f"{session.ends.dm} answers as a query engine, not as the ingestion endpoint; "
                              f"pass the right --ingest-url")
    try:
        existing = {r["TableName"] for r in session.engine_rows(database, ".show tables", "listing tables")}
    except IngestError as exc:
        raise IngestError(f"database {database!r} does not exist on {session.ends.engine} or you cannot see it: "
                          f"{exc}") from None
    _check_ingest_permission(session, database, report)

    schemas = {t: session.schema(database, t) for t in tables if t in existing}
    merged_columns = {}
    for name in tables:
        c = contracts.get(name)
        have = schemas.get(name, {})
        for col in c.columns:
            if col.name in have and have[col.name] != col.kusto_type:
                report.problems.append(
                    f"{name}.{col.name} is {have[col.name]} in ADX but {col.kusto_type} in triageparse; nothing "
                    f"was changed. Fix: ingest into a new database, or run "
                    f"'.alter column {name}.{col.name} type={col.kusto_type}' (values of the old type in "
                    f"existing extents then read as null)")
        merged_columns[name] = len(set(have) | {col.name for col in c.columns})
    report.problems += plan.fits(merged_columns, len(existing | set(tables)), free_cluster)
    return schemas


def _table_is_current(contract: contracts.Contract, have: dict[str, str]) -> bool:
    return all(have.get(col.name) == col.kusto_type for col in contract.columns)


def _properties(f: plan.ParquetFile, database: str, backdate: bool) -> IngestionProperties:
    extra = {"creationTime": f.creation_time} if backdate and f.creation_time else None
    return IngestionProperties(
        database=database, table=f.table, data_format=DataFormat.PARQUET,
        ingestion_mapping_reference=contracts.get(f.table).mapping_name,
        ingestion_mapping_kind=IngestionMappingKind.PARQUET,
        ingest_by_tags=[f.ingest_by], ingest_if_not_exists=[f.ingest_by], drop_by_tags=[f.collection_id],
        additional_properties=extra)


def verify(session: Session, database: str, files: list[plan.ParquetFile], report: IngestReport) -> None:
    """Row counts per table and collection in ADX, compared with the Parquet row counts."""
    expected = plan.parquet_counts(files)
    for table in sorted({t for t, _ in expected}):
        mine = {cid: n for (t, cid), n in expected.items() if t == table}
        if "CollectionId" not in contracts.get(table).by_name:
            continue
        try:
            rows = session.engine_rows(database, f"{table} | summarize Rows=count() by CollectionId",
                                       f"counting rows of {table} per collection")
        except IngestError as exc:
            # An endpoint with a reduced query language: compare the table's total instead.
            total = session.engine_rows(database, f"{table} | count", f"counting rows of {table}")[0]["Count"]
            report.counts[(table, "(all collections)")] = (sum(mine.values()), int(total))
            report.notes.append(f"{table}: compared the table's total only ({exc})")
            continue
        found = {str(r["CollectionId"]): int(r["Rows"]) for r in rows}
        for cid, n in mine.items():
            report.counts[(table, cid)] = (n, found.get(cid))


def ingest(out: str | Path, *, cluster: str, database: str, auth: str = "az-cli", ingest_url: str | None = None,
           tables: list[str] | None = None, collections: list[str] | None = None, streaming: bool = False,
           wait: bool = False, verify_counts: bool = False, dry_run: bool = False, free_cluster: bool = False,
           backdate: bool = True, resend: bool = False, timeout: float = 1800.0, poll: float = 30.0,
           retry: Retry = Retry(), say: Say = print) -> IngestReport:
    """Ingest the Parquet of a triageparse output folder into an ADX database (see ``triageparse ingest -h``)."""
    out = Path(out)
    ends = endpoints(cluster, ingest_url)
    report = IngestReport(engine=ends.engine, dm=ends.dm, database=database)
    files = plan.scan_output(out, set(collections) if collections else None)
    if tables:
        unknown = set(tables) - set(contracts.all_contracts())
        if unknown:
            raise ConfigError(f"unknown table(s) {sorted(unknown)}; see triageparse schema --markdown")
        files = [f for f in files if f.table in tables]
    report.files = files
    planned = sorted({f.table for f in files})
    free_cluster = free_cluster or is_free_cluster(ends.engine)
    if not files:
        report.notes.append(f"no Parquet files to ingest in {out}")
        return report

    if dry_run:
        report.commands = plan.table_commands(planned)
        if streaming:
            report.commands += [f".alter table {t} policy streamingingestion enable" for t in planned]
        report.notes.append("dry run: nothing was sent")
        return report

    session = Session(ends, auth, retry, say)
    try:
        return _run(session, out, database, files, planned, report, streaming=streaming, wait=wait,
                    verify_counts=verify_counts, free_cluster=free_cluster, backdate=backdate, resend=resend,
                    timeout=timeout, poll=poll)
    finally:
        session.close()


def _run(session: Session, out: Path, database: str, files: list[plan.ParquetFile], planned: list[str],
         report: IngestReport, *, streaming: bool, wait: bool, verify_counts: bool, free_cluster: bool,
         backdate: bool, resend: bool, timeout: float, poll: float) -> IngestReport:
    say = session.say
    schemas = preflight(session, database, planned, free_cluster, report)
    if report.problems:
        return report           # nothing sent: the problems say what to fix
    if free_cluster:
        say(FREE_CLUSTER_CAUTION)

    for name in planned:
        c = contracts.get(name)
        if not _table_is_current(c, schemas.get(name, {})):
            session.command(database, c.kql_create_merge(), f"creating table {name}")
        if not _mapping_is_current(session, database, c):
            session.command(database, c.kql_create_mapping(), f"creating the mapping of {name}")
        if streaming:
            session.command(database, f".alter table {name} policy streamingingestion enable",
                            f"enabling streaming ingestion on {name}")
    if streaming:
        report.notes.append("streamed files carry no extent tags (ADX applies tags only to queued ingestion): "
                            "'triageparse drop' cannot remove them; files over 4 MiB are queued with tags")

    ledger = {} if resend else plan.read_ledger(out, session.ends.engine, database)
    in_adx = {t: _ingested_tags(session, database, t, report) for t in planned}
    client = session.ingest_client(streaming)
    for f in files:
        tags = in_adx.get(f.table)
        if tags is not None and f.ingest_by in tags:
            report.skipped.append((f, "already in ADX"))
            continue
        if f.ingest_by in ledger:
            report.skipped.append((f, f"queued before, at {ledger[f.ingest_by]['queued']}"))
            continue
        say(f"  sending {f.table}/{f.path.name} ({f.rows:,} rows, {f.size:,} bytes)")
        session.call(f"sending {f.table}/{f.path.name}", session.ends.dm, client.ingest_from_file,
                     FileDescriptor(str(f.path), f.size), _properties(f, database, backdate))
        report.queued.append(f)
        ledger[f.ingest_by] = {"table": f.table, "collection": f.collection_id,
                               "queued": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        plan.write_ledger(out, session.ends.engine, database, ledger)   # after each file: safe to interrupt
    report.commands = session.sent

    if wait or verify_counts:
        deadline = time.monotonic() + (timeout if wait else 0)
        while True:
            report.counts.clear()
            verify(session, database, files, report)
            if not report.differences or time.monotonic() >= deadline:
                break
            failures = _ingestion_failures(session, database, report.queued)
            if failures:
                report.problems += failures
                break
            say(f"  waiting for ADX: {len(report.differences)} table/collection counts differ; next check in "
                f"{poll:.0f} s")
            time.sleep(poll)
        _forget_missing(out, session.ends.engine, database, files, report, ledger)
    return report


def _ingestion_failures(session: Session, database: str, queued: list[plan.ParquetFile]) -> list[str]:
    """Failures ADX recorded for the files this run queued (``.show ingestion failures``), as messages."""
    if not queued:
        return []
    try:
        rows = session.engine_rows(database, ".show ingestion failures", "reading ingestion failures")
    except IngestError:
        return []           # not allowed or not supported: the counts still tell what is missing
    ours = {(f.table, f.path.name): f for f in queued}
    found = []
    for row in rows:
        source = str(row.get("IngestionSourcePath") or "").split("?")[0]
        for (table, name), f in ours.items():
            if row.get("Table") == table and source.endswith(f"__{name}"):
                found.append(f"ADX could not ingest {table}/{name} ({row.get('FailureKind', 'failure')}): "
                             f"{redact(str(row.get('Details') or row.get('ErrorCode') or ''))}")
    return found


def _forget_missing(out: Path, engine: str, database: str, files: list[plan.ParquetFile], report: IngestReport,
                    ledger: dict[str, dict]) -> None:
    """Files whose rows did not all arrive leave the ledger, so the next run sends them again."""
    short = {key for key, (exp, got) in report.counts.items() if (got or 0) < exp}
    forgotten = [f for f in files if f.ingest_by in ledger
                 and ((f.table, f.collection_id) in short or (f.table, "(all collections)") in short)]
    for f in forgotten:
        del ledger[f.ingest_by]
    if forgotten:
        plan.write_ledger(out, engine, database, ledger)
        report.notes.append(f"{len(forgotten)} file(s) are not (fully) in ADX yet; run the same command again "
                            f"later to re-send them (ingest-by tags prevent duplicates)")


@dataclass
class DropReport:
    dropped: dict[str, int] = field(default_factory=dict)   # table -> extents dropped
    commands: list[str] = field(default_factory=list)


def drop(*, cluster: str, database: str, collections: list[str] | None = None, out: str | Path | None = None,
         auth: str = "az-cli", ingest_url: str | None = None, dry_run: bool = False, retry: Retry = Retry(),
         say: Say = print) -> DropReport:
    """Drop the extents of collections by their ``drop-by:<CollectionId>`` tag."""
    out = Path(out) if out else None
    files = plan.scan_output(out) if out else []
    chosen = sorted(set(collections or []) or {f.collection_id for f in files})
    if not chosen:
        raise ConfigError("name the collection(s) to drop with --collection ID, or give an OUT folder")
    report = DropReport()
    ends = endpoints(cluster, ingest_url)
    if dry_run:
        tables = sorted({f.table for f in files}) or ["<Table>"]
        report.commands = [_drop_command(t, c) for t in tables for c in chosen]
        return report
    session = Session(ends, auth, retry, say)
    try:
        existing = {r["TableName"] for r in session.engine_rows(database, ".show tables", "listing tables")}
        tables = sorted(existing & ({f.table for f in files} or set(contracts.all_contracts())))
        for table in tables:
            for cid in chosen:
                text = _drop_command(table, cid)
                rows = session.engine_rows(database, text, f"dropping collection {cid} from {table}")
                report.commands.append(text)
                report.dropped[table] = report.dropped.get(table, 0) + len(rows)
    finally:
        session.close()
    if out:
        ledger = plan.read_ledger(out, ends.engine, database)
        kept = {k: v for k, v in ledger.items() if v.get("collection") not in chosen}
        if kept != ledger:
            plan.write_ledger(out, ends.engine, database, kept)
    return report


def _drop_command(table: str, collection_id: str) -> str:
    return f'.drop extents <| .show table {table} extents where tags has "drop-by:{collection_id}"'
