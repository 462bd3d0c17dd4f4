"""Defender support logs (MPLogs): every corpus log against the MANIFEST and an independent read of
its lines, the entry families, blocks, encodings, layouts and unsorted files."""
from __future__ import annotations

import datetime as dt
import re

import orjson
import pytest

from raw_artifact_helpers import convert_files, file_rows

UTC = dt.timezone.utc


def mplog_entries(manifest: list[dict]) -> list[dict]:
    found = [e for e in manifest if e["kind"] == "defender_log"]
    assert found, "the corpus lists no Defender log"
    return found


@pytest.fixture(scope="module")
def corpus_rows(corpus, manifest, tmp_path_factory):
    """All corpus logs converted once, in both layouts (flat MPLogs/ and the older MPLogs/Support/)."""
    entries = mplog_entries(manifest)
    files = {}
    for i, e in enumerate(entries):
        folder = "MPLogs" if i % 2 else "MPLogs/Support"
        files[f"{folder}/{i}/{e['staged'].rsplit('/', 1)[1]}"] = corpus / e["staged"]
    tables = convert_files(tmp_path_factory.mktemp("mplog"), files)
    return entries, files, tables


def test_every_corpus_log_covers_every_line_once(corpus_rows, corpus):
    entries, files, tables = corpus_rows
    for (rel, path), e in zip(files.items(), entries):
        info = e["mplog"]
        rows = [r for r in tables.get("DefenderLogEntry", []) if r["SourceFile"] == rel]
        status = file_rows(tables, rel)
        if info["lines"] == 0:
            assert (rows, status["Status"]) == ([], "empty")
            continue
        assert status["Status"] == "parsed" and status["RowsRejected"] == 0
        # Independent read: the file's physical lines, split the way the MANIFEST counted them.
        lines = path.read_bytes().decode("utf-16").splitlines()
        assert len(lines) == info["lines"]
        covered = [0] * (len(lines) + 1)
        for r in rows:
            for n in range(r["SourceRecord"], r["SourceRecord"] + r["LineCount"]):
                covered[n] += 1
        assert max(covered) == 1, "a line is in two rows"
        lost = [lines[n - 1] for n in range(1, len(lines) + 1) if not covered[n] and lines[n - 1].strip()]
        assert lost == [], "non-blank lines in no row"
        assert sum(r["TimeSource"] == "line" for r in rows) == info["timestamped_lines"]
        stamped = sorted(r["TimeGenerated"] for r in rows if r["TimeSource"] == "line")
        assert stamped[0] == dt.datetime.fromisoformat(info["first_ts"]) and \
            stamped[-1] == dt.datetime.fromisoformat(info["last_ts"])


def test_entry_families_match_the_manifest_counts(corpus_rows):
    entries, files, tables = corpus_rows
    for (rel, _), e in zip(files.items(), entries):
        kinds = e["mplog"]["line_kinds"]
        rows = [r for r in tables.get("DefenderLogEntry", []) if r["SourceFile"] == rel]
        types = [r["EntryType"] for r in rows]
        message_lines = [line for r in rows for line in r["Message"].split("\n")]
        assert types.count("ProcessImage") == kinds["ProcessImageName_perf"], rel
        assert types.count("DetectionEvent") == kinds["DETECTIONEVENT"], rel
        assert sum(t.startswith("MiniFilter") for t in types) == kinds["RTP_MiniFilter"], rel
        assert types.count("EmsScan") == kinds["EMS_scan"], rel
        assert 2 * types.count("BmTelemetry") == kinds["BM_telemetry"], rel          # BEGIN and END line
        assert sum(bool(re.search("lowfi", m, re.I)) for m in message_lines) == kinds["lowfi"], rel
        assert sum(bool(re.search(r"\bthreat", m, re.I)) for m in message_lines) == kinds["threat_lines"], rel
        sdn = sum(r["Component"] == "SDN" for r in rows) + sum(r["Message"] == "SDN:" for r in rows)
        assert sdn == kinds["SDN"], rel


def test_family_fields_are_extracted(corpus_rows):
    _, _, tables = corpus_rows
    rows = tables["DefenderLogEntry"]
    detection = next(r for r in rows if r["EntryType"] == "DetectionEvent")
    assert detection["ThreatName"] and detection["Path"] and detection["TimeSource"] == "line"
    perf = next(r for r in rows if r["EntryType"] == "ProcessImage" and r["ProcessId"])
    assert perf["ProcessName"] and perf["ProcessId"] is not None and "EstimatedImpact" in orjson.loads(perf["Fields"])
    scan = next(r for r in rows if r["EntryType"] == "ResourceScan" and r["ThreatName"])
    fields = orjson.loads(scan["Fields"])
    assert fields["Scan ID"].startswith("{") and scan["ThreatId"] and scan["LineCount"] > 5
    bm = next(r for r in rows if r["EntryType"] == "BmTelemetry")
    assert bm["ProcessId"] is not None and "GUID" in orjson.loads(bm["Fields"])
    blocked = next(r for r in rows if r["EntryType"] == "MiniFilterBlockedFile")
    assert orjson.loads(blocked["Fields"])["Reason"] == "OnClose" and blocked["Path"].startswith("\\Device\\")
    header = next(r for r in rows if r["EntryType"] == "ServiceLogHeader")
    assert header["TimeSource"] == "header" and header["TimeGenerated"] is not None
    labelled = next(r for r in rows if r["Component"] == "Engine" and r["Message"].startswith("EMS scan for"))
    assert labelled["LineCount"] == 2            # the 'Engine:' line above the timestamped line


def test_unsorted_detection_log_keeps_file_order(corpus_rows):
    _, files, tables = corpus_rows
    [rel] = [r for r in files if r.endswith("MPDetection-20210213-115635.log")]
    rows = sorted((r for r in tables["DefenderLogEntry"] if r["SourceFile"] == rel), key=lambda r: r["SourceRecord"])
    assert rows[0]["TimeGenerated"] == dt.datetime(2021, 2, 13, 19, 56, 35, 990000, tzinfo=UTC)
    assert rows[2]["TimeGenerated"] == dt.datetime(2020, 8, 1, 20, 59, 17, 673000, tzinfo=UTC)
    assert {r["EntryType"] for r in rows} == {"ServiceState"}


# A UTF-8 log with LF line ends (the variant some parsers pin), written by hand from the formats above.
UTF8_LOG = (
    "2024-02-01T10:00:00.123Z [Exclusion] C:\\Tools\\ -> \\Device\\HarddiskVolume3\\Tools\\\n"
    "2024-02-01T10:00:01.000Z ProcessImageName: evil.exe, Pid: 4242, TotalTime: 10, Count: 3, MaxTime: 7, "
    "MaxTimeFile: \\Device\\HarddiskVolume3\\x.dll, EstimatedImpact: 55%\n"
    "\n"
    "Beginning threat actions\n"
    "Start time:02-01-2024 11:00:02\n"
    "Threat Name:Trojan:Win32/Test.A\n"
    "Threat ID:2147000001\n"
    "Path:\\\\?\\C:\\Tools\\evil.exe\n"
    "Finished threat actions\n"
    "End time:02-01-2024 11:00:03\n"
    "something nobody parses yet\n"
    "2024-02-01T10:00:05 local time without zone\n"
)


def test_utf8_lines_blocks_and_unknown_text(tmp_path):
    tables = convert_files(tmp_path, {"MPLogs/MPLog-20240201-100000.log": UTF8_LOG.encode()}, timezone="+02:00")
    rows = sorted(tables["DefenderLogEntry"], key=lambda r: r["SourceRecord"])
    assert [r["EntryType"] for r in rows] == ["Exclusion", "ProcessImage", "ThreatActions", "Text", "Text"]
    exclusion, perf, actions, unknown, local = rows
    assert (exclusion["Path"], orjson.loads(exclusion["Fields"])["DevicePath"]) == \
        ("C:\\Tools\\", "\\Device\\HarddiskVolume3\\Tools\\")
    assert exclusion["TimeGenerated"] == dt.datetime(2024, 2, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert (perf["ProcessName"], perf["ProcessId"], perf["Path"]) == ("evil.exe", 4242, "\\Device\\HarddiskVolume3\\x.dll")
    assert (actions["ThreatName"], actions["ThreatId"], actions["LineCount"]) == ("Trojan:Win32/Test.A", 2147000001, 7)
    assert (actions["TimeSource"], actions["TimeGenerated"]) == ("previous line", perf["TimeGenerated"])
    assert (unknown["Message"], unknown["SourceRecord"]) == ("something nobody parses yet", 11)
    assert local["TimeSource"] == "local line"
    assert local["TimeGenerated"] == dt.datetime(2024, 2, 1, 8, 0, 5, tzinfo=UTC)     # +02:00 host


def test_bare_lf_inside_a_crlf_record_stays_in_the_message(tmp_path):
    text = ("2022-03-10T19:48:48.866Z Sample submission result:\n  SasUri = https://x/y.\n  HR = 0x0.\n\r\n"
            "2022-03-10T19:48:49.000Z next\r\n")
    tables = convert_files(tmp_path, {"MPLogs/MPLog-1.log": b"\xff\xfe" + text.encode("utf-16-le")})
    first, second = sorted(tables["DefenderLogEntry"], key=lambda r: r["SourceRecord"])
    assert first["Message"] == "Sample submission result:\n  SasUri = https://x/y.\n  HR = 0x0."
    assert (first["LineCount"], second["SourceRecord"]) == (4, 5)


def test_only_logs_are_claimed_in_the_support_folder(tmp_path):
    tables = convert_files(tmp_path, {"MPLogs/Support/MpWppTracing-1.bin": b"\x00\x01binary",
                                      "MPLogs/Support/MPDetection-1.log": b"\xff\xfe"})
    assert file_rows(tables, "MPLogs/Support/MpWppTracing-1.bin")["Parser"] is None
    assert file_rows(tables, "MPLogs/Support/MPDetection-1.log")["Status"] == "empty"


def test_mpdetection_detection_lines(tmp_path):
    text = ("2025-09-30T12:01:02.345Z DETECTION Trojan:Win64/CobaltStrike.CR!MTB "
            "file:C:\\Users\\Public\\Libraries\\RuntimeBroker.exe\r\n")
    tables = convert_files(tmp_path, {"MPLogs/MPDetection-20250918-081233.log": b"\xff\xfe" + text.encode("utf-16-le")})
    [row] = tables["DefenderLogEntry"]
    assert (row["EntryType"], row["ThreatName"], row["Path"], row["LogType"]) == \
        ("Detection", "Trojan:Win64/CobaltStrike.CR!MTB", "C:\\Users\\Public\\Libraries\\RuntimeBroker.exe", "MPDetection")
