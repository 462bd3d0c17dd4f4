"""Fixtures for the offline ADX tests: Azurite (real storage protocol), the fake engine/DM, a converted output.

Azurite is the npm package pinned in the repository's package.json (installed by ``npm ci``, which
``make`` runs). It is started on free loopback ports for the test session and stopped by its process
id. Under CI (CI=true) a missing Azurite fails the tests instead of skipping them.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from fake_kusto import FakeKusto

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
# The public, documented key of the storage emulator's development account (not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_names = itertools.count(1)

# Get-DnsClientCache | ConvertTo-Csv -NoTypeInformation | Out-File -Encoding UTF8, as Windows PowerShell 5.1
# writes it (DFIR-Script's DNSCache.csv): UTF-8 BOM, every value quoted, $null unquoted-empty, CRLF.
DNSCACHE_CSV = (
    b'\xef\xbb\xbf"TimeToLive","Caption","Description","ElementName","InstanceId","Data","DataLength","Entry",'
    b'"Name","Section","Status","Type","PSComputerName","CimClass","CimInstanceProperties","CimSystemProperties"\r\n'
    b'"52",,,,,"203.0.113.7","4","x7f3k9q2.badcdn.top","x7f3k9q2.badcdn.top","1","0","1",,'
    b'"ROOT/StandardCimv2:MSFT_DNSClientCache","Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",'
    b'"Microsoft.Management.Infrastructure.CimSystemProperties"\r\n'
    b'"3600",,,,,"login.microsoftonline.com","8","login.live.com","login.live.com","1","0","5",,'
    b'"ROOT/StandardCimv2:MSFT_DNSClientCache","Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",'
    b'"Microsoft.Management.Infrastructure.CimSystemProperties"\r\n'
    b'"0",,,,,,"0","nothing.example","nothing.example",,"9501","28",,'
    b'"ROOT/StandardCimv2:MSFT_DNSClientCache","Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",'
    b'"Microsoft.Management.Infrastructure.CimSystemProperties"\r\n'
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azurite exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"azurite did not open port {port} within {seconds} s")


class Storage:
    """Azurite as the cluster's temporary storage: one container and three queues per test."""

    def __init__(self, blob_port: int, queue_port: int):
        from azure.storage.blob import BlobServiceClient
        from azure.storage.queue import QueueServiceClient
        self.blob_root = f"http://127.0.0.1:{blob_port}/{ACCOUNT}"
        self.queue_root = f"http://127.0.0.1:{queue_port}/{ACCOUNT}"
        credential = {"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}
        self.blobs = BlobServiceClient(self.blob_root, credential=credential)
        self.queues = QueueServiceClient(self.queue_root, credential=credential)

    def fresh(self) -> "Storage":
        """New container and queue names, so tests never see each other's messages."""
        n = next(_names)
        self.container = f"ingest-tmp-{n}"
        self.queue_names = {kind: f"{kind}-{n}" for kind in ("readyforaggregation-secured", "failedingestions",
                                                             "successfulingestions")}
        self.blobs.create_container(self.container)
        for name in self.queue_names.values():
            self.queues.create_queue(name)
        return self

    def _container_sas(self) -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas
        return generate_container_sas(ACCOUNT, self.container, account_key=ACCOUNT_KEY,
                                      permission=ContainerSasPermissions(read=True, write=True, create=True,
                                                                         list=True, add=True),
                                      expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))

    def _queue_sas(self, name: str) -> str:
        from azure.storage.queue import QueueSasPermissions, generate_queue_sas
        return generate_queue_sas(ACCOUNT, name, account_key=ACCOUNT_KEY,
                                  permission=QueueSasPermissions(read=True, add=True, update=True, process=True),
                                  expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))

    def resources(self) -> list[list[str]]:
        """Rows of ``.get ingestion resources``, path-style Azurite URLs with SAS tokens."""
        q = self.queue_names
        return [["SecuredReadyForAggregationQueue",
                 f"{self.queue_root}/{q['readyforaggregation-secured']}?{self._queue_sas(q['readyforaggregation-secured'])}"],
                ["FailedIngestionsQueue", f"{self.queue_root}/{q['failedingestions']}?{self._queue_sas(q['failedingestions'])}"],
                ["SuccessfulIngestionsQueue",
                 f"{self.queue_root}/{q['successfulingestions']}?{self._queue_sas(q['successfulingestions'])}"],
                ["TempStorage", f"{self.blob_root}/{self.container}?{self._container_sas()}"],
                ["IngestionsStatusTable", f"{self.blob_root}/ingestionsstatus"]]

    def queue_client(self, kind: str):
        return self.queues.get_queue_client(self.queue_names[kind])

    def blob_names(self) -> list[str]:
        return [b.name for b in self.blobs.get_container_client(self.container).list_blobs()]

    def download(self, url_with_sas: str) -> bytes:
        from azure.storage.blob import BlobClient
        return BlobClient.from_blob_url(url_with_sas).download_blob().readall()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    if not AZURITE.exists():
        message = f"azurite not installed at {AZURITE}: run 'npm ci' in {ROOT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    blob, queue, table = _free_port(), _free_port(), _free_port()
    process = subprocess.Popen(
        [str(AZURITE), "--silent", "--inMemoryPersistence", "--extentMemoryLimit", "256", "--skipApiVersionCheck",
         "--loose", "--disableTelemetry", "--blobHost", "127.0.0.1", "--blobPort", str(blob), "--queueHost",
         "127.0.0.1", "--queuePort", str(queue), "--tableHost", "127.0.0.1", "--tablePort", str(table)],
        cwd=tmp_path_factory.mktemp("azurite"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(blob, process)
        _wait_for(queue, process)
        yield Storage(blob, queue)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def fake(azurite):
    cluster = FakeKusto(azurite.fresh()).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def converted_output(tmp_path_factory) -> Path:
    """A real triageparse output: one DFIR-Script collection with a three-record DNSCache.csv."""
    import triageparse
    root = tmp_path_factory.mktemp("collection") / "DFIR-WS01-2025-10-02"
    csv = root / "CSV Results (SIEM Import Data)" / "DNSCache.csv"
    csv.parent.mkdir(parents=True)
    csv.write_bytes(DNSCACHE_CSV)
    out = tmp_path_factory.mktemp("converted") / "out"
    summary = triageparse.convert([root], out)
    assert summary.tables.get("DnsCacheEntry") == 3, summary.tables
    return out


@pytest.fixture
def out(converted_output, tmp_path) -> Path:
    """A private copy, because ingestion records what it queued inside OUT."""
    return Path(shutil.copytree(converted_output, tmp_path / "out"))
