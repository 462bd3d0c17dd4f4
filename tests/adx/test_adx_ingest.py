"""triageparse.ingest / drop against the REAL azure-kusto SDK 6.0.4, unmodified.

What is faked, and why: the ADX cluster (engine and Data Management service) and therefore Azure AD
cannot run here, so tests/adx/fake_kusto.py answers the SDK's HTTP requests on 127.0.0.1 and plays
the DM's background work on demand (``fake.process_queue()``). Storage is Azurite, which speaks the
real Azure Storage protocol and checks SAS signatures: the SDK uploads real blobs and posts real
queue messages there. Authentication is ``--auth none`` (or a bearer token from the environment);
the Azure AD flows are not exercised (they need the real service).

The input is a real conversion: triageparse.convert on a DFIR-Script folder holding a DNSCache.csv
in the exact bytes Windows PowerShell 5.1 writes.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading

import pyarrow.parquet as pq
import pytest

import triageparse
from triageparse import contracts
from triageparse.adx.run import IngestError, Retry, drop
from triageparse.cli import main

FAST = Retry(attempts=4, first_wait=0.01, max_wait=0.02)
DNS = "DnsCacheEntry"


def run(fake, out, lines=None, **options):
    options.setdefault("retry", FAST)
    return triageparse.ingest(out, cluster=fake.url("engine"), ingest_url=fake.url("dm"), database="triage",
                              auth=options.pop("auth", "none"), say=(lines if lines is not None else []).append,
                              **options)


def parquet_files(out):
    return sorted(p for p in out.glob("*/*.parquet"))


@contextlib.contextmanager
def dm_in_background(fake):
    """The DM's background work every 50 ms, while ``ingest --wait`` polls ADX."""
    stop = threading.Event()

    def work() -> None:
        while not stop.wait(0.05):
            fake.process_queue()
    worker = threading.Thread(target=work)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()


def queue_depth(fake) -> int:
    return fake.storage.queue_client("readyforaggregation-secured").get_queue_properties().approximate_message_count


def test_first_run_creates_every_table_and_mapping_from_the_contracts(fake, out):
    report = run(fake, out)
    assert report.ok, report.problems
    tables = sorted(p.parent.name for p in parquet_files(out))
    expected = [cmd for t in tables for cmd in (contracts.get(t).kql_create_merge(), contracts.get(t).kql_create_mapping())]
    assert fake.changes() == expected
    # the fake accepted them: the tables have the contract's columns and types, the mapping parses
    assert list(fake.tables[DNS].schema.items()) == [(c.name, c.kusto_type) for c in contracts.get(DNS).columns]
    assert f"{DNS}_parquet" in fake.tables[DNS].mappings
    engine_request = next(r for r in fake.requests if r.role == "engine")
    assert engine_request.headers["x-ms-client-version"].startswith("Kusto.Python.Client:{6.0.4}")
    assert "Authorization" not in engine_request.headers


def test_queue_message_carries_format_mapping_tags_and_ingest_if_not_exists(fake, out):
    run(fake, out)
    messages = {m["TableName"]: m for m in fake.process_queue()}
    assert sorted(messages) == sorted(p.parent.name for p in parquet_files(out))
    dns_file = out / DNS / next((out / DNS).glob("*.parquet")).name
    sha = hashlib.sha256(dns_file.read_bytes()).hexdigest()
    collection_id = dns_file.stem
    message = messages[DNS]
    props = message["AdditionalProperties"]
    assert (message["DatabaseName"], props["format"], props["ingestionMappingType"],
            props["ingestionMappingReference"]) == ("triage", "parquet", "Parquet", f"{DNS}_parquet")
    assert sorted(json.loads(props["tags"])) == sorted([f"ingest-by:{sha}", f"drop-by:{collection_id}"])
    assert json.loads(props["ingestIfNotExists"]) == [sha]
    assert props["creationTime"] == "2025-10-02T00:00:00.000000Z"      # the collection date from OUT/Collection
    assert message["RawDataSize"] == dns_file.stat().st_size
    # the blob in Azurite is the Parquet file itself and decodes to the same rows
    assert message["_blob"] == dns_file.read_bytes()
    assert pq.read_table(io.BytesIO(message["_blob"])).equals(pq.read_table(dns_file))
    assert fake.count(DNS, collection_id) == 3
    entries = sorted(fake.tables[DNS].rows.column("Entry").to_pylist())
    assert entries == ["login.live.com", "nothing.example", "x7f3k9q2.badcdn.top"]


def test_second_run_sends_nothing_once_the_data_is_in_adx(fake, out):
    run(fake, out)
    fake.process_queue()
    changes, blobs = len(fake.changes()), fake.storage.blob_names()
    (out / ".triageparse-adx.json").unlink()          # prove that ADX's ingest-by tags alone suffice
    report = run(fake, out)
    assert report.ok and report.queued == []
    assert {why for _, why in report.skipped} == {"already in ADX"}
    assert len(fake.changes()) == changes              # no create-merge, no mapping: both are current
    assert fake.storage.blob_names() == blobs and queue_depth(fake) == 0


def test_second_run_before_the_dm_ingested_sends_nothing_either(fake, out):
    first = run(fake, out)
    assert queue_depth(fake) == len(first.queued) == len(parquet_files(out))
    report = run(fake, out)
    assert report.queued == [] and len(report.skipped) == len(first.queued)
    assert all(why.startswith("queued before") for _, why in report.skipped)
    assert queue_depth(fake) == len(first.queued)


def test_verify_compares_row_counts_per_table_and_collection(fake, out):
    run(fake, out)
    missing = run(fake, out, verify_counts=True)        # queued, but the DM has not ingested anything yet
    assert not missing.ok and any(DNS in d and "3 rows in Parquet" in d for d in missing.differences)
    fake.process_queue()
    report = run(fake, out, verify_counts=True)
    assert report.ok and report.differences == []
    assert report.counts[(DNS, next((out / DNS).glob("*.parquet")).stem)] == (3, 3)


def test_verify_falls_back_to_table_totals_where_per_collection_counts_are_not_supported(fake, out):
    run(fake, out)
    fake.process_queue()
    fake.fail_next("engine", "summarize Rows=count() by CollectionId", 400, permanent=True, times=10)
    report = run(fake, out, verify_counts=True)
    assert report.ok and report.counts[(DNS, "(all collections)")] == (3, 3)


def test_verify_forgets_files_that_never_arrived_so_the_next_run_resends_them(fake, out):
    run(fake, out)
    fake.storage.queue_client("readyforaggregation-secured").clear_messages()     # the DM lost them
    report = run(fake, out, verify_counts=True)
    assert not report.ok and any("run the same command again" in n for n in report.notes)
    again = run(fake, out)
    assert len(again.queued) == len(parquet_files(out))
    fake.process_queue()
    assert run(fake, out, verify_counts=True).ok


def test_throttling_and_transient_errors_are_retried(fake, out):
    fake.fail_next("engine", ".create-merge table DnsCacheEntry", 429, times=2)
    fake.fail_next("engine", ".create-or-alter table DnsCacheEntry", 500, permanent=False)
    fake.fail_next("engine", ".show tables", 503)
    lines = []
    report = run(fake, out, lines)
    assert report.ok
    assert sum(c.startswith(".create-merge table DnsCacheEntry") for c in fake.commands()) == 3
    assert sum(c.startswith(".create-or-alter table DnsCacheEntry") for c in fake.commands()) == 2
    assert any("throttled" in line and "retrying" in line for line in lines)
    fake.process_queue()
    assert fake.count(DNS) == 3


def test_permanent_errors_are_reported_once_with_the_reason(fake, out):
    fake.fail_next("engine", ".create-merge table DnsCacheEntry", 400, permanent=True)
    with pytest.raises(IngestError, match="creating table DnsCacheEntry: Injected: injected 400"):
        run(fake, out)
    assert sum(c.startswith(".create-merge table DnsCacheEntry") for c in fake.commands()) == 1
    assert queue_depth(fake) == 0


def test_transient_errors_that_persist_give_up_after_the_configured_attempts(fake, out):
    fake.fail_next("engine", ".show version", 500, permanent=False, times=10)
    with pytest.raises(IngestError, match="gave up after 4 attempts"):
        run(fake, out)
    assert fake.commands().count(".show version") == 4


def test_unreachable_cluster_and_missing_database_are_clear(fake, out):
    with pytest.raises(IngestError, match="cannot reach http://127.0.0.1:9/ .*|cannot reach http://127.0.0.1:9"):
        triageparse.ingest(out, cluster="http://127.0.0.1:9", database="triage", auth="none",
                           retry=Retry(2, 0.01, 0.01), say=[].append)
    with pytest.raises(IngestError, match="database 'nope' does not exist"):
        triageparse.ingest(out, cluster=fake.url("engine"), ingest_url=fake.url("dm"), database="nope",
                           auth="none", retry=FAST, say=[].append)
    assert fake.changes() == []


def test_conflicting_column_type_is_reported_with_the_fix_and_nothing_is_changed(fake, out):
    fake.mgmt("engine", "triage", f".create-merge table {DNS} (CollectionId:string, RecordType:string)")
    report = run(fake, out)
    assert not report.ok and fake.changes() == [] and queue_depth(fake) == 0
    assert any(f".alter column {DNS}.RecordType type=int" in p and "is string in ADX" in p for p in report.problems)
    assert fake.tables[DNS].schema == {"CollectionId": "string", "RecordType": "string"}


def test_free_cluster_limits_and_caution(fake, out):
    for i in range(98):
        fake.mgmt("engine", "triage", f".create-merge table Other{i} (A:string)")
    report = run(fake, out, free_cluster=True)
    assert any("more than the free cluster's 100" in p for p in report.problems) and fake.changes() == []
    lines = []
    ok = run(fake, out, lines, free_cluster=True, tables=[DNS])
    assert ok.ok and any("free ADX cluster" in line and "personal data" in line for line in lines)


def test_principal_without_an_ingest_role_is_stopped_before_sending(fake, out):
    fake.roles = [["Database triage", "me", "", "Database triage Viewer"]]
    report = run(fake, out)
    assert any("no role that may ingest" in p for p in report.problems) and fake.changes() == []


def test_dry_run_prints_commands_and_files_and_contacts_nothing(fake, out, capsys):
    code = main(["ingest", str(out), "--cluster", fake.url("engine"), "--database", "triage", "--auth", "none",
                 "--ingest-url", fake.url("dm"), "--dry-run"])
    printed = capsys.readouterr().out
    assert code == 0 and fake.requests == []
    assert contracts.get(DNS).kql_create_merge() in printed and contracts.get(DNS).kql_create_mapping() in printed
    dns_file = next((out / DNS).glob("*.parquet"))
    sha = hashlib.sha256(dns_file.read_bytes()).hexdigest()
    assert f"would send {dns_file}" in printed and f"ingest-by:{sha}" in printed and "rows=3" in printed


def test_cli_ingest_with_wait_verifies_and_prints_no_secret(fake, out, capsys, monkeypatch):
    monkeypatch.setenv("TRIAGEPARSE_ADX_TOKEN", "token-not-to-be-shown")
    with dm_in_background(fake):
        code = main(["ingest", str(out), "--cluster", fake.url("engine"), "--database", "triage", "--auth",
                     "token-env", "--ingest-url", fake.url("dm"), "--wait", "--timeout", "60", "--poll", "0.1"])
    printed = capsys.readouterr()
    assert code == 0, printed
    assert f"ok      {DNS}" in printed.out
    assert all(r.headers.get("Authorization") == "Bearer token-not-to-be-shown" for r in fake.requests)
    text = printed.out + printed.err + (out / ".triageparse-adx.json").read_text()
    assert "token-not-to-be-shown" not in text and "sig=" not in text and "fake-identity-token" not in text


def test_wait_stops_at_an_ingestion_failure_recorded_by_adx_and_reports_it(fake, out):
    fake.refuse[DNS] = "Stream_WrongNumberOfFields: the Parquet does not match"
    with dm_in_background(fake):
        report = run(fake, out, wait=True, timeout=60, poll=0.1)
    assert not report.ok
    [problem] = report.problems
    assert problem.startswith(f"ADX could not ingest {DNS}/") and "Stream_WrongNumberOfFields" in problem
    assert "sig=" not in problem


def test_drop_removes_a_collection_by_its_drop_by_tag(fake, out):
    run(fake, out)
    fake.process_queue()
    collection_id = next((out / DNS).glob("*.parquet")).stem
    report = drop(cluster=fake.url("engine"), ingest_url=fake.url("dm"), database="triage", auth="none",
                  collections=[collection_id], out=out, retry=FAST, say=[].append)
    assert report.dropped[DNS] == 1 and fake.count(DNS) == 0
    assert f'.drop extents <| .show table {DNS} extents where tags has "drop-by:{collection_id}"' in fake.commands()
    again = run(fake, out)            # dropped data may be ingested again: the ledger forgot it too
    assert len(again.queued) == len(parquet_files(out))


def test_streaming_sends_the_parquet_bytes_to_the_engine(fake, out):
    report = run(fake, out, streaming=True, tables=[DNS])
    assert report.ok
    assert f".alter table {DNS} policy streamingingestion enable" in fake.changes()
    stream = [r for r in fake.requests if r.path.startswith(f"/v1/rest/ingest/triage/{DNS}")]
    assert len(stream) == 1 and f"mappingName={DNS}_parquet" in stream[0].path
    assert stream[0].body == next((out / DNS).glob("*.parquet")).read_bytes()
    assert stream[0].headers["Content-Encoding"] == "gzip"        # the SDK's label; the body is plain Parquet
    assert fake.count(DNS) == 3 and queue_depth(fake) == 0
    assert not any(r.role == "dm" and r.csl == ".get ingestion resources" for r in fake.requests)


def test_streaming_falls_back_to_queued_on_transient_errors(fake, out):
    fake.fail_next("engine", f"/v1/rest/ingest/triage/{DNS}", 500, permanent=False, times=3)
    report = run(fake, out, streaming=True, tables=[DNS])
    assert report.ok
    assert sum(r.path.startswith("/v1/rest/ingest/") for r in fake.requests) == 3
    [message] = fake.process_queue()
    assert json.loads(message["AdditionalProperties"]["ingestIfNotExists"])      # the queued path keeps the tags


def test_streaming_disabled_on_the_cluster_is_a_clear_permanent_error(fake, out):
    fake.fail_next("engine", f"/v1/rest/ingest/triage/{DNS}", 404, times=3)
    with pytest.raises(IngestError, match="streaming ingestion is disabled on the cluster"):
        run(fake, out, streaming=True, tables=[DNS])


def test_external_table_commands_cover_every_table(capsys):
    assert main(["schema", "--external-table", "https://acct.blob.core.windows.net/case42", DNS]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f".create-or-alter external table {DNS}External (CollectionId:string,")
    assert "kind=storage" in printed and "dataformat=parquet" in printed
    assert "partition by (Collection:string = CollectionId)" in printed
    assert f"h@'https://acct.blob.core.windows.net/case42/{DNS};impersonate'" in printed
