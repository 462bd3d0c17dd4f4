"""The text-only sample collection (F1, DFIR-LEGACY01-2023-03-14) fills the same tables as the
2.2.4 demo (F6, DFIR-WS01-2025-10-02.zip), and the demo writes every row once although it holds
most data both as CSV and as text.

The committed sample data is used when it is there; until then (or for a fresh checkout without
it) the committed generator makes the same collections, deterministically, into a temp folder.
"""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

import triageparse

from textrender_helpers import rows

DEMO = "DFIR-WS01-2025-10-02.zip"
LEGACY = "DFIR-LEGACY01-2023-03-14"
# Tables the text renderings and console tools of a collection without CSV folder must fill.
TEXT_TABLES = ("Autorun", "DnsCacheEntry", "Driver", "LocalUser", "NetIpAddress", "Process", "RdpSession",
               "ScheduledTask", "ScheduledTaskRunInfo", "Service", "ShadowCopy", "SmbShare", "TcpConnection",
               "UserSession")
# What identifies a row; the demo must not hold any key twice.
KEYS = {"Autorun": ("Source", "Location", "Name", "Command"), "DnsCacheEntry": ("Entry", "Name", "Data", "RecordType"),
        "Driver": ("ModuleName",), "LocalUser": ("Name",), "NetIpAddress": ("IPAddress", "InterfaceIndex"),
        "Process": ("ProcessId",), "RdpSession": ("SessionId",), "ScheduledTask": ("TaskPath", "TaskName"),
        "ScheduledTaskRunInfo": ("TaskPath", "TaskName"), "Service": ("Name",), "ShadowCopy": ("ShadowId",),
        "SmbShare": ("ScopeName", "Name"), "TcpConnection": ("LocalAddress", "LocalPort", "RemoteAddress", "RemotePort"),
        "UserSession": ("SessionId",)}


def _generate(sample_data: Path, tmp: Path, args: list[str]) -> None:
    sys.path.insert(0, str(sample_data))
    try:
        import make_collections
    finally:
        sys.path.remove(str(sample_data))
    with contextlib.redirect_stdout(io.StringIO()):
        assert make_collections.main(["--out", str(tmp), *args]) == 0


def _source(sample_data: Path, tmp: Path, name: str, args: list[str]) -> Path:
    committed = sample_data / name
    if committed.exists():
        return committed
    _generate(sample_data, tmp, args)
    return tmp / name


@pytest.fixture(scope="module")
def converted(sample_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("samples")
    demo = _source(sample_data, tmp, DEMO, ["--family", "F6", "--zip", "--zip-only", "--backslash-names"])
    legacy = _source(sample_data, tmp, LEGACY, ["--family", "F1", "--host", "LEGACY01", "--date", "2023-03-14"])
    out = {}
    for label, src in (("F6", demo), ("F1", legacy)):
        out[label] = (triageparse.convert([src], tmp / f"out-{label}"), tmp / f"out-{label}")
    return out


def test_both_families_are_detected_and_convert_without_errors(converted):
    for family, (summary, _) in converted.items():
        assert [c.family for c in summary.collections] == [family]
        assert summary.errors == 0


def test_the_text_only_collection_fills_the_same_tables_as_the_demo(converted):
    f6, f1 = converted["F6"][0].tables, converted["F1"][0].tables
    for table in TEXT_TABLES:
        assert f1.get(table, 0) > 0, f"F1 text renderings did not fill {table}"
        assert f6.get(table, 0) > 0, f"F6 demo did not fill {table}"
    # The same host data, rendered as text only, gives the same keys where the scenario shares them.
    for table in ("Driver", "ScheduledTask", "ScheduledTaskRunInfo", "Service", "RdpSession"):
        keys = [{tuple(r[k] for k in KEYS[table]) for r in rows(out, table)} for _, out in converted.values()]
        assert keys[0] == keys[1], table


def test_the_demo_writes_every_row_once(converted):
    summary, out = converted["F6"]
    for table in TEXT_TABLES:
        got = [tuple(r[k] for k in KEYS[table]) for r in rows(out, table)]
        assert len(got) == len(set(got)), f"{table}: a row was written twice"


def test_the_demo_pseudo_csvs_defer_to_the_aligned_text(converted):
    summary, out = converted["F6"]
    collected = {r["SourceFile"]: r for r in rows(out, "CollectedFile")}
    for name in ("Drivers.csv", "ActiveUsers.csv", "RDPSessions.csv"):
        f = collected[f"CSV Results (SIEM Import Data)/{name}"]
        assert f["Parser"] == "console_tool" and f["RowsWritten"] == 0 and "aligned text" in f["Detail"]


@pytest.mark.parametrize("family", ["F3a", "F3b", "F4", "F5"])
def test_every_family_layout_fills_the_tables_once(family, sample_data, tmp_path):
    _generate(sample_data, tmp_path, ["--family", family, "--no-evtx"])
    [src] = [p for p in tmp_path.glob("DFIR-*") if p.is_dir()]
    summary = triageparse.convert([src], tmp_path / "out")
    assert [c.family for c in summary.collections] == [family] and summary.errors == 0
    out = tmp_path / "out"
    for table in TEXT_TABLES:
        got = [tuple(r[k] for k in KEYS[table]) for r in rows(out, table)]
        assert got and len(got) == len(set(got)), table
    services = {r["SourceFile"] for r in rows(out, "Service")}
    if family == "F3a":
        # RunningServices.csv holds PnP devices; the services survive only in the misnamed MSI text file.
        assert services == {"Applications/RecentlyInstalledSoftwareEventLogs.txt"}
        assert {r["SourceFile"] for r in rows(out, "PnpDevice")} >= {"SIEMImport/RunningServices.csv"}
    else:
        assert len(services) == 1 and services.pop().endswith("RunningServices.csv")


def test_a_text_file_whose_rows_the_csv_already_wrote_is_marked_superseded(tmp_path, sample_data):
    import pyarrow.dataset as ds
    out = tmp_path / "out"
    triageparse.convert([sample_data / DEMO], out)
    files = {r["SourceFile"]: r for r in ds.dataset(out / "CollectedFile").to_table().to_pylist()}
    dns_txt = files["Connections/DNSCache.txt"]
    assert (dns_txt["Status"], dns_txt["RowsWritten"]) == ("superseded", 0)
    assert "DNSCache.csv" in dns_txt["Detail"]
