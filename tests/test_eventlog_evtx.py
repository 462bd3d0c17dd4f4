"""EVTX files of the corpus become SecurityEvent / WindowsEvent rows: every record, the right time,
the right fields (checked against python-evtx, an independent parser), and damage reported, not fatal."""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import evtx
import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import triageparse
from triageparse.artifacts.eventlog_evtx import EVENT_NS, EvtxLog, json_to_xml, read_batches
from triageparse.collection import Budget, Limits, Member

NS = {"e": EVENT_NS}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@pytest.fixture(scope="module")
def evtx_entries(manifest) -> list[dict]:
    return [e for e in manifest if e["kind"] == "evtx"]


@pytest.fixture(scope="module")
def converted(corpus, tmp_path_factory) -> Path:
    """The whole EVTX part of the corpus, converted once (a folder source, as a KAPE-style collection)."""
    out = tmp_path_factory.mktemp("evtx-out")
    triageparse.convert([corpus / "evtx" / "shared"], out)
    return out


def _table(out: Path, name: str) -> pa.Table:
    return ds.dataset(out / name, format="parquet").to_table()


def _source_file(entry: dict) -> str:
    return entry["staged"].removeprefix("evtx/shared/")


def _rows_by_file(out: Path) -> dict[str, int]:
    con = duckdb.connect()
    rows = con.sql(f"""SELECT SourceFile, count(*) FROM (
        SELECT SourceFile FROM read_parquet('{out}/SecurityEvent/*.parquet')
        UNION ALL SELECT SourceFile FROM read_parquet('{out}/WindowsEvent/*.parquet')) GROUP BY ALL""").fetchall()
    return dict(rows)


def test_every_corpus_evtx_yields_its_manifest_record_count(converted, evtx_entries):
    counts = _rows_by_file(converted)
    files = {r["SourceFile"]: r for r in _table(converted, "CollectedFile").to_pylist()}
    for entry in evtx_entries:
        expected = entry["evtx"]["records_pyevtx_rs"]
        name = _source_file(entry)
        assert counts.get(name, 0) == expected, name
        assert files[name]["Parser"] == "evtx"
        assert files[name]["RowsWritten"] == expected
        assert files[name]["RowsRead"] == expected + files[name]["RowsRejected"]


def test_security_channel_goes_to_security_event_and_the_rest_to_windows_event(converted, evtx_entries):
    con = duckdb.connect()
    sec = dict(con.sql(f"SELECT SourceFile, count(*) FROM read_parquet('{converted}/SecurityEvent/*.parquet') "
                       "GROUP BY ALL").fetchall())
    for entry in evtx_entries:
        assert sec.get(_source_file(entry), 0) == entry["evtx"]["channels"].get("Security", 0), entry["staged"]
    channels = con.sql(f"SELECT DISTINCT Channel FROM read_parquet('{converted}/WindowsEvent/*.parquet')").fetchall()
    assert ("Security",) not in channels


def test_damaged_files_yield_every_readable_record_and_one_issue_per_loss(converted):
    issues = _table(converted, "ParseIssue").to_pylist()
    files = {r["SourceFile"]: r for r in _table(converted, "CollectedFile").to_pylist()}
    counts = _rows_by_file(converted)
    bad_chunks = "EDGE_checksum_and_chunk_damage/omerbenamram-evtx__sample_with_a_bad_chunk_magic.evtx"
    zero_size = "EDGE_checksum_and_chunk_damage/omerbenamram-evtx__sample-with-zero-data-size-event.evtx"
    for name, losses, rows, text in ((bad_chunks, 2, 270, "chunk header magic"), (zero_size, 1, 335, "data size")):
        errors = [i for i in issues if i["SourceFile"] == name and i["Severity"] == "error"]
        assert len(errors) == losses and all(text in e["Reason"] for e in errors)
        assert counts[name] == rows
        assert files[name]["RowsRejected"] == losses and files[name]["Status"] == "lossy"
    # Truncated, no-CRC, bad string cache: every record, no error.
    for name in ("EDGE_truncated/plaso__System2.evtx", "EDGE_checksum_and_chunk_damage/omerbenamram-evtx__"
                 "Application_no_crc32.evtx", "EDGE_checksum_and_chunk_damage/omerbenamram-evtx__security_bad_"
                 "string_cache.evtx"):
        assert files[name]["Status"] == "parsed" and files[name]["RowsRejected"] == 0


def test_empty_logs_are_collected_as_empty_not_unparsed(converted):
    files = {r["SourceFile"]: r for r in _table(converted, "CollectedFile").to_pylist()}
    for name in ("EDGE_tiny_or_empty/kaliheker69__Microsoft-Windows-PowerShell%4Admin.evtx",
                 "EDGE_tiny_or_empty/kaliheker69__Microsoft-Windows-DriverProxy%4Operational.evtx"):
        assert files[name]["Parser"] == "evtx" and files[name]["Status"] == "empty"


def test_time_generated_is_time_created_even_where_record_header_times_are_zero(converted, evtx_entries):
    con = duckdb.connect()
    span = {f: (lo, hi) for f, lo, hi in con.sql(f"""SELECT SourceFile, min(TimeGenerated), max(TimeGenerated) FROM (
        SELECT SourceFile, TimeGenerated FROM read_parquet('{converted}/SecurityEvent/*.parquet')
        UNION ALL SELECT SourceFile, TimeGenerated FROM read_parquet('{converted}/WindowsEvent/*.parquet'))
        GROUP BY ALL""").fetchall()}
    zero_header_files = [e for e in evtx_entries if e["evtx"]["zero_record_header_timestamps"]]
    assert len(zero_header_files) >= 20
    for entry in evtx_entries:
        if not entry["evtx"]["records_pyevtx_rs"] or not entry["evtx"]["first_ts"]:
            continue
        lo, hi = span[_source_file(entry)]
        first = dt.datetime.fromisoformat(entry["evtx"]["first_ts"].replace("Z", "+00:00"))
        last = dt.datetime.fromisoformat(entry["evtx"]["last_ts"].replace("Z", "+00:00"))
        assert (lo, hi) == (first, last), entry["staged"]
        assert lo.year > 1601


def test_powershell_log_whose_header_times_are_shifted_keeps_time_created(corpus):
    # Header time of record n is TimeCreated of record n+1, the last one is 0 (libraries-and-peers.md §2).
    path = corpus / "evtx/shared/T1003.001_LSASS_memory/sbousseaden__Powershell_4104_MiniDumpWriteDump_Lsass.evtx"
    header_times = [r["timestamp"] for r in evtx.PyEvtxParser(str(path)).records()]
    rows = EvtxLog().system_rows(next(read_batches(path)))
    created = [t.strftime("%Y-%m-%dT%H:%M:%S.%f") for t in rows.column("TimeGenerated").to_pylist()]
    assert header_times[-1].startswith("1601-01-01")
    assert [h[:26] for h in header_times[:-1]] == created[1:]        # the file is as the reference says
    assert created == ["2020-06-30T14:23:58.394425", "2020-06-30T14:23:58.440339", "2020-06-30T14:23:58.532115",
                       "2020-06-30T14:24:08.254605"]


def test_computer_comes_from_the_events_of_loose_files(corpus, tmp_path):
    path = corpus / "evtx/shared/T1110_brute_force/mdecrevoisier__ID4768-4771-Kerberos user enumeration (Kerbrute).evtx"
    summary = triageparse.convert([path], tmp_path / "out")
    assert summary.collections[0].computer == "rootdc1.offsec.lan"
    computers = set(_table(tmp_path / "out", "SecurityEvent").column("Computer").to_pylist())
    assert computers == {"rootdc1.offsec.lan"}
    # A log has no culture-formatted dates, so no culture is in doubt and none is warned about.
    assert summary.collections[0].warnings == 0, summary.collections[0].messages


def test_claim_is_by_magic_not_by_name(corpus):
    data = (corpus / "evtx/shared/EDGE_tiny_or_empty/velociraptor__Security_1_record.evtx").read_bytes()

    def member(name: str, content: bytes) -> Member:
        import io
        return Member(name, len(content), lambda: io.BytesIO(content), Budget(Limits()))

    assert EvtxLog.claim(member("Event Viewer/Security.evtx", data)) > 50
    assert EvtxLog.claim(member("renamed/Security.dat", data)) > 50
    assert EvtxLog.claim(member("notes/fake.evtx", b"hello, not a log\r\n")) == 0
    assert 0 < EvtxLog.claim(member("Event Viewer/Empty.evtx", b"")) < 50


# ---- fields: Sentinel shape ---------------------------------------------------------------------------
def test_security_event_rows_are_filled_as_sentinel_fills_them(converted):
    t = _table(converted, "SecurityEvent")
    con = duckdb.connect()
    con.register("s", t)
    row = con.sql("""SELECT * FROM s WHERE EventID = 4624 AND TargetLogonId = '0x17e29a'""").to_arrow_table()
    r = row.to_pylist()[0]
    assert r["Activity"] == "4624 - An account was successfully logged on."
    assert r["Account"] == "NT AUTHORITY\\ANONYMOUS LOGON" and r["AccountType"] == "User"
    assert r["LogonType"] == 3 and r["LogonTypeName"] == "3 - Network"
    assert (r["IpAddress"], r["IpPort"], r["WorkstationName"]) == ("10.0.2.17", "49236", "NULL")
    assert r["AuthenticationPackageName"] == "NTLM" and r["LmPackageName"] == "NTLM V1" and r["KeyLength"] == 128
    assert r["Channel"] == "Security" and r["EventSourceName"] == "Microsoft-Windows-Security-Auditing"
    assert r["Level"] == "8" and r["Task"] == 12544 and r["EventOrigin"] == "EvtxFile"
    assert r["EventRecordId"] == r["SourceRecord"] == 566823
    assert r["Computer"] == "WIN-77LTAPHIQ1R.example.corp"
    event_data = ET.fromstring(r["EventData"])
    assert event_data.tag == f"{{{EVENT_NS}}}EventData"
    assert event_data.find("e:Data[@Name='ImpersonationLevel']", NS).text == "%%1833"
    failed = con.sql("SELECT Level, Status, SubStatus, FailureReason FROM s WHERE EventID = 4625 LIMIT 1").fetchall()[0]
    assert failed[0] == "16" and failed[1].startswith("0xc") and failed[3].startswith("%%")
    cleared = con.sql("SELECT Account, SubjectUserName, EventData FROM s WHERE EventID = 1102 "
                      "AND SubjectUserName = 'a-jbrown'").fetchall()[0]
    assert cleared[0] == "3B\\a-jbrown" and "<LogFileCleared" in cleared[2]
    machine = con.sql("SELECT AccountType FROM s WHERE Account LIKE '%$' LIMIT 1").fetchall()[0]
    assert machine == ("Machine",)


def test_windows_event_keeps_event_data_as_json_and_user_data_faithfully(converted):
    con = duckdb.connect()
    con.register("w", _table(converted, "WindowsEvent"))
    sysmon = con.sql("""SELECT EventData, EventLevelName, Provider FROM w
                        WHERE Channel = 'Microsoft-Windows-Sysmon/Operational' AND EventID = 1 LIMIT 1""").fetchall()[0]
    data = orjson.loads(sysmon[0])
    assert {"Image", "CommandLine", "ParentImage", "ProcessGuid"} <= set(data)
    assert sysmon[1] == "Information" and sysmon[2] == "Microsoft-Windows-Sysmon"
    rdp = con.sql("SELECT EventData FROM w WHERE EventID = 1149 LIMIT 1").fetchall()[0]
    assert orjson.loads(rdp[0])["EventXML"]["Param1"] == "admmig"      # <UserData><EventXML> rendered as JSON
    mssql = con.sql("SELECT EventData FROM w WHERE EventID = 18456 LIMIT 1").fetchall()[0]
    assert orjson.loads(mssql[0])["Data"]["#text"][0] == "sa"            # unnamed <Data> kept in order


def test_security_event_data_xml_equals_the_rust_xml_rendering(corpus, evtx_entries):
    """The fast DuckDB rendering of <EventData> and the Python one give what evtx's own XML output says."""
    parser = EvtxLog()
    for entry in evtx_entries:
        if "Security" not in entry["evtx"]["channels"] or entry["evtx"]["rs_errors"]:
            continue
        path = corpus / entry["staged"]
        truth = {}
        for rec in evtx.PyEvtxParser(str(path)).records():
            # evtx's XML keeps control characters XML 1.0 forbids; we write them as \\uXXXX text.
            root = ET.fromstring(CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", rec["data"]).encode())
            if root.findtext("e:System/e:Channel", None, NS) != "Security":
                continue
            rid = int(root.find("e:System/e:EventRecordID", NS).text)
            node = root.find("e:EventData", NS)
            if node is None:
                node = root.find("e:UserData", NS)
            truth[rid] = _xml_fields(node)
        for batch in read_batches(path):
            rows = parser.system_rows(batch)
            sec = rows.filter(pa.compute.equal(rows.column("Channel"), "Security"))
            out = parser.security_rows(sec)
            for rid, xml in zip(out.column("EventRecordId").to_pylist(), out.column("EventData").to_pylist()):
                assert (_xml_fields(ET.fromstring(xml)) if xml else []) == truth[rid], (entry["staged"], rid)


def _xml_fields(node) -> list[tuple]:
    """(element name, Name attribute, text) of every element below ``node``, whitespace-insensitive."""
    if node is None:
        return []
    return [(re.sub(r"^\{.*\}", "", e.tag), e.get("Name"), (e.text or "").strip()) for e in node.iter()
            if e is not node and not list(e)]


def test_event_data_with_json_escapes_renders_as_the_python_rendering():
    """Backslashes, quotes and line breaks in named values: the DuckDB string rewrites (only escaped
    backslashes, or any mix of escapes) give the XML json_to_xml gives."""
    from triageparse.artifacts.eventlog_evtx import _Batch
    values = [{"NewProcessName": "C:\\Windows\\System32\\cmd.exe", "SubjectDomainName": "CORP"},
              {"CommandLine": 'cmd /c "echo a\tb"\r\nnext', "TargetUserName": "a&b<c>"},
              {"CommandLine": "ends in a backslash\\", "ProcessName": "literal \\n is no newline"},
              {"SubjectUserName": "plain", "LogonType": 3}]
    docs = [orjson.dumps({"Event": {"System": {"EventID": 4688, "Channel": "Security", "TimeCreated":
            {"#attributes": {"SystemTime": "2020-01-01T00:00:00Z"}}}, "EventData": v}}).decode() for v in values]
    parser = EvtxLog()
    out = parser.security_rows(parser.system_rows(_Batch(docs, list(range(len(docs))))))
    assert out.column("EventData").to_pylist() == [json_to_xml("EventData", v, EVENT_NS) for v in values]


def test_json_to_xml_renders_unnamed_data_and_attributes():
    xml = json_to_xml("EventData", {"#attributes": {"Name": "TaskStart"}, "Data": {"#text": ["a<", "b"]},
                                    "Binary": "00FF"}, EVENT_NS)
    assert xml == (f'<EventData xmlns="{EVENT_NS}" Name="TaskStart"><Data>a&lt;</Data><Data>b</Data>'
                   "<Binary>00FF</Binary></EventData>")


# ---- independent cross-check: python-evtx ---------------------------------------------------------
# python-evtx needs ~7 ms a record, so files above STRIDE_ABOVE records are checked on every STRIDE-th
# record unless TRIAGEPARSE_FULL_CROSSCHECK=1 (then every record; about a minute on two cores).
STRIDE_ABOVE, STRIDE = 700, 7


# (file, EventID) whose EventData the two parsers read differently (content, not just rendering).
KNOWN_DIFFERENCES = {
    ("evtx/shared/EDGE_checksum_and_chunk_damage/omerbenamram-evtx__sample-with-zero-data-size-event.evtx", 6013):
        "EventLog 6013 (uptime): an unnamed string array with a Binary; evtx reads 7 items ('', '', '', '', "
        "'10', '60', '-60 Romance Standard Time'), python-evtx 5 ('10', '', '10', '60', …). It is the damaged "
        "sample file, and without the original log neither reading can be preferred",
}


def _python_evtx_files(manifest) -> list[str]:
    return [e["staged"] for e in manifest if e["kind"] == "evtx" and not e["evtx"]["python_evtx_error"]
            and e["evtx"]["records_python_evtx"]]


def pytest_generate_tests(metafunc):
    if "python_evtx_file" in metafunc.fixturenames:
        from corpus_paths import corpus_dir
        path = corpus_dir() / "MANIFEST.json"
        names = _python_evtx_files(json.loads(path.read_text())) if path.is_file() else ["corpus-missing"]
        metafunc.parametrize("python_evtx_file", names)


def test_fields_equal_python_evtx_record_by_record(corpus, python_evtx_file, evtx_entries):
    import Evtx.Evtx as PyEvtx
    entry = next(e for e in evtx_entries if e["staged"] == python_evtx_file)
    path = corpus / python_evtx_file
    full = os.environ.get("TRIAGEPARSE_FULL_CROSSCHECK") == "1"
    stride = STRIDE if entry["evtx"]["records_python_evtx"] > STRIDE_ABOVE and not full else 1
    theirs = {}
    with PyEvtx.Evtx(str(path)) as log:
        for i, record in enumerate(log.records()):
            if i % stride:
                continue
            root = ET.fromstring(record.xml())
            system = root.find("e:System", NS)
            if not system.findtext("e:EventRecordID", "", NS):
                continue      # a record with an empty System (bad-chunk sample): nothing to compare
            rid = int(system.find("e:EventRecordID", NS).text)
            theirs[rid] = (int(system.find("e:EventID", NS).text),
                           dt.datetime.fromisoformat(system.find("e:TimeCreated", NS).get("SystemTime")),
                           _python_evtx_data(root))
    parser = EvtxLog()
    ours = {}
    for batch in read_batches(path):
        rows = parser.system_rows(batch)
        for rid, eid, t, ed, ud in zip(*(rows.column(c).to_pylist() for c in (
                "EventRecordId", "EventID", "TimeGenerated", "EventDataJson", "UserDataJson"))):
            ours[rid] = (eid, t, _our_data(ed, ud))
    assert len(ours) == entry["evtx"]["records_pyevtx_rs"]
    assert theirs and set(theirs) <= set(ours)
    known_seen = 0
    for rid, (eid, t, data) in theirs.items():
        our_eid, our_t, our_data = ours[rid]
        assert our_eid == eid, rid
        # python-evtx turns the FILETIME into float seconds (a few µs of rounding error at today's dates);
        # evtx renders it exactly to the microsecond. The event clocks themselves agree.
        assert abs((our_t - t).total_seconds()) <= 10e-6, rid
        theirs_fields = _expand_string_arrays(data)
        if (python_evtx_file, eid) in KNOWN_DIFFERENCES:
            known_seen += our_data != theirs_fields
            continue
        # python-evtx leaves the empty items of a string array (unnamed <Data>) out; compare the others.
        our_data = [(n, v) for n, v in our_data if n is not None or v]
        theirs_fields = [(n, v) for n, v in theirs_fields if n is not None or v]
        assert [n for n, _ in our_data] == [n for n, _ in theirs_fields], (rid, our_data, theirs_fields)
        for (name, ours_value), (_, their_value) in zip(our_data, theirs_fields):
            assert _same_value(ours_value, their_value), (rid, name, ours_value, their_value)
    if any(f == python_evtx_file for f, _ in KNOWN_DIFFERENCES):
        assert known_seen, "the explained difference is gone: drop it from KNOWN_DIFFERENCES"


def _python_evtx_data(root) -> list[tuple[str | None, str]]:
    node = root.find("e:EventData", NS)
    if node is None:
        user = root.find("e:UserData", NS)
        node = list(user)[0] if user is not None and len(user) else None
    if node is None:
        return []
    out = []
    for e in node:
        if list(e):        # nested UserData element (e.g. Error Code=…): compare its attributes
            out.append((re.sub(r"^\{.*\}", "", e.tag), ""))
            continue
        name = e.get("Name") if e.tag.endswith("}Data") else re.sub(r"^\{.*\}", "", e.tag)
        out.append((name, e.text or "" if e.text is not None or not e.attrib or e.tag.endswith("}Data") else ""))
    return out


def _our_data(event_data: str | None, user_data: str | None) -> list[tuple[str | None, str]]:
    """(name, text) of our EventData JSON; pairs, not a dict, because real events repeat names (4648 v0
    has LogonGuid twice) and the JSON keeps both."""
    def pairs(text: str) -> list:
        return json.loads(text, object_pairs_hook=list)

    if event_data is not None:
        obj = pairs(event_data)
    elif user_data is not None:
        obj = pairs(user_data)[0][1]
    else:
        return []
    out = []
    for k, v in obj or []:
        if k == "#attributes":
            continue
        if k == "Data" and isinstance(v, list) and any(x[0] == "#text" for x in v):
            texts = dict(v)["#text"]
            out += [(None, "" if x is None else _text(x)) for x in (texts if isinstance(texts, list) else [texts])]
        elif isinstance(v, list):
            out.append((k, ""))
        else:
            out.append((k, _text(v)))
    return out


def _text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def _expand_string_arrays(fields: list[tuple[str | None, str]]) -> list[tuple[str | None, str]]:
    """python-evtx renders an unnamed string-array <Data> as one text of ``<string>…</string>`` items;
    evtx gives one value per item."""
    out = []
    for name, value in fields:
        items = re.findall(r"<string>(.*?)</string>", value, re.S)
        if name is None and items and value.startswith("<string>"):
            out += [(None, x) for x in items]
        else:
            out.append((name, value))
    return out


def _same_value(ours: str, theirs: str) -> bool:
    """Equal up to rendering differences between the two parsers, each one explained:

    * GUIDs: python-evtx writes ``{lower-case}``, evtx ``UPPER-CASE`` without braces;
    * hex integers: python-evtx pads to the type's width (``0x001fffff``) and writes some as decimal;
      evtx writes ``0x1fffff``: compared as numbers;
    * booleans: the "irregular bool" file stores ints such as 16 in a bool; evtx keeps the number,
      python-evtx says True: compared as truth values;
    * FILETIME / SYSTEMTIME values: ``2019-01-01 10:00:00.123456`` against ``2019-01-01T10:00:00.1234567Z``:
      compared to the second;
    * control characters in damaged strings: python-evtx drops some of them; removed on both sides;
    * CR LF: ElementTree, reading python-evtx's XML, turns CR LF into LF; whitespace at the ends;
    * binary values (<Binary>, binary Data such as a socket Address): evtx writes hex, python-evtx base64.
    """
    a, b = (CONTROL.sub("", v.replace("\r\n", "\n").replace("\r", "\n")).strip() for v in (ours, theirs))
    if a == b:
        return True
    if re.fullmatch(r"(?:[0-9A-F]{2}){4,}", a) and re.fullmatch(r"[A-Za-z0-9+/]{6,}=*", b):
        return bytes.fromhex(a) == base64.b64decode(b)     # binary: hex in evtx, base64 in python-evtx
    guid = r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?"
    if re.fullmatch(guid, a) and re.fullmatch(guid, b):
        return a.strip("{}").upper() == b.strip("{}").upper()
    number = r"0x[0-9a-fA-F]+|\d+"
    if re.fullmatch(number, a) and re.fullmatch(number, b):
        return int(a, 0 if a.startswith("0x") else 10) == int(b, 0 if b.startswith("0x") else 10)
    if b.lower() in ("true", "false") and re.fullmatch(r"\d+|true|false", a.lower()):
        return (a.lower() not in ("0", "false")) == (b.lower() == "true")
    when = r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|\+00:00)?"
    ma, mb = re.fullmatch(when, a), re.fullmatch(when, b)
    return bool(ma and mb and ma.group(1, 2) == mb.group(1, 2))


def test_a_record_that_is_not_json_is_kept_whole_in_raw_event_data():
    from triageparse.artifacts.eventlog_evtx import _Batch
    good = ('{"Event":{"System":{"EventID":7045,"Channel":"System","TimeCreated":{"#attributes":'
            '{"SystemTime":"2020-01-01T00:00:00.1234567Z"}}},"EventData":{"ServiceName":"x"}}}')
    rows = EvtxLog().system_rows(_Batch([good, "not json"], [1, 2]))
    assert rows.column("EventID").to_pylist() == [7045, None]
    assert rows.column("RawEventData").to_pylist() == [None, "not json"]
    assert rows.column("EventRecordId").to_pylist() == [1, 2]          # header record id when System has none
    assert rows.column("TimeGenerated")[0].as_py() == dt.datetime(2020, 1, 1, 0, 0, 0, 123456, tzinfo=dt.timezone.utc)


def test_a_log_cut_inside_its_file_header_is_one_issue_not_an_abort(corpus, tmp_path):
    data = (corpus / "evtx/shared/EDGE_tiny_or_empty/velociraptor__Security_1_record.evtx").read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "Security.evtx").write_bytes(data[:100])
    summary = triageparse.convert([tmp_path / "in"], tmp_path / "out")
    files = _table(tmp_path / "out", "CollectedFile").to_pylist()
    assert [(f["Parser"], f["Status"], f["RowsRejected"]) for f in files] == [("evtx", "lossy", 1)]
    issues = _table(tmp_path / "out", "ParseIssue").to_pylist()
    assert any("file header" in i["Reason"] for i in issues) and summary.collections[0].errors == 1


@pytest.mark.parametrize("processes", [2, 3, 8])
@pytest.mark.parametrize("mib", [16, 40, 256, 1024, 10240])
def test_chunk_ranges_cover_the_file_in_rounds_that_shrink_towards_its_end(tmp_path, monkeypatch, processes, mib):
    from triageparse.artifacts import eventlog_evtx as E
    monkeypatch.setattr(E, "PROCESSES", processes)
    path = tmp_path / "big.evtx"
    with open(path, "wb") as f:             # sparse: only the size matters here
        f.truncate(E.HEADER_SIZE + (mib << 20) + 1000)       # and a part chunk at the end
    ranges = E.chunk_ranges(path)
    group = E.GROUP_CHUNKS
    groups = -(-((mib << 20) // E.CHUNK_SIZE) // group)
    assert ranges[0][0] == 0 and ranges[-1][1] is None
    if groups < 2:          # less than two groups: converted in one process
        assert ranges == [(0, None)]
        return
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))             # contiguous
    assert all(first % group == 0 for first, _ in ranges)                     # a range starts at a group
    sizes = [(end - first) // group for first, end in ranges[:-1]]
    assert max(sizes) <= E.LARGEST_RANGE_GROUPS                               # a bounded spool backlog
    assert sizes == sorted(sizes, reverse=True)                               # shrinking towards the end
    rounds = [sizes[i:i + processes] for i in range(0, len(sizes), processes)]
    assert all(len(set(r)) == 1 for r in rounds[:-1])                         # each worker alike per round
    assert sizes[-1] == 1 and len(ranges) >= min(2 * processes, groups)


@pytest.mark.parametrize("name", [
    "EDGE_checksum_and_chunk_damage/omerbenamram-evtx__sample_with_a_bad_chunk_magic.evtx",   # 2 lost chunks
    "EDGE_checksum_and_chunk_damage/omerbenamram-evtx__sample-with-zero-data-size-event.evtx",  # 1 lost record
    "EDGE_checksum_and_chunk_damage/omerbenamram-evtx__security_bad_string_cache.evtx",
    "EDGE_truncated/plaso__System2.evtx",                                       # ends inside a chunk
])
def test_a_file_split_across_worker_processes_converts_as_one_process_does(corpus, tmp_path, monkeypatch, name):
    from triageparse import sink
    from triageparse.artifacts import eventlog_evtx
    path = corpus / "evtx/shared" / name
    monkeypatch.setattr(sink, "ROW_GROUP_BYTES", 1 << 16)          # many row groups even in small files
    monkeypatch.setattr(eventlog_evtx, "GROUP_CHUNKS", 1)          # and batches of one chunk
    triageparse.convert([path], tmp_path / "serial")
    monkeypatch.setattr(eventlog_evtx, "PART_MIN_BYTES", 65536)    # several chunk ranges even in small files
    monkeypatch.setattr(eventlog_evtx, "PROCESSES", 3)
    assert len(eventlog_evtx.chunk_ranges(path)) > 1
    triageparse.convert([path], tmp_path / "split")
    for table in ("SecurityEvent", "WindowsEvent"):
        if (tmp_path / "serial" / table).exists() or (tmp_path / "split" / table).exists():
            assert _table(tmp_path / "split", table).equals(_table(tmp_path / "serial", table)), table
            # and byte for byte: row groups end where the rows say, not where a worker's range began
            files = [sorted((tmp_path / run / table).glob("*.parquet")) for run in ("serial", "split")]
            assert [f.read_bytes() for f in files[0]] == [f.read_bytes() for f in files[1]], table
    # The same issues, chunk numbers of the file included; a batch's warning may come before or after
    # the read errors of the next range.
    issues = [sorted(_table(tmp_path / run, "ParseIssue").to_pylist() if (tmp_path / run / "ParseIssue").exists() else [],
                     key=lambda i: (i["Reason"], i["SourceRecord"] or 0))
              for run in ("serial", "split")]
    assert issues[0] == issues[1]
    counts = [{k: f[k] for k in ("RowsRead", "RowsWritten", "RowsRejected", "Status")}
              for f in _table(tmp_path / "split", "CollectedFile").to_pylist()]
    assert counts == [{k: f[k] for k in ("RowsRead", "RowsWritten", "RowsRejected", "Status")}
                      for f in _table(tmp_path / "serial", "CollectedFile").to_pylist()]


def test_workers_of_a_process_without_pandas_convert_without_it(corpus, tmp_path):
    """A library caller that never imported pandas: the workers keep pyarrow from importing it (0.4 s of CPU
    each) and must still convert every record themselves (a worker that fails is redone in the parent)."""
    import subprocess
    import sys
    code = """
import sys
from pathlib import Path
from triageparse.artifacts import eventlog_evtx
from triageparse.artifacts.base import FileContext
from triageparse.collection import Budget, Collection, Limits, Member
from triageparse.convert import CollectionRun
eventlog_evtx.PART_MIN_BYTES, eventlog_evtx.PROCESSES, eventlog_evtx.GROUP_CHUNKS = 65536, 2, 1
path = Path(sys.argv[1])
assert len(eventlog_evtx.chunk_ranges(path)) > 1
member = Member(path.name, None, lambda: open(path, "rb"), Budget(Limits()))
run = CollectionRun(Collection(path, "", [member], "0" * 64), Path(sys.argv[2]), None, None)
run.setup_time([])
ctx = FileContext(run, member, "evtx")
assert "pandas" not in sys.modules, "the test needs a parent without pandas"
notes = []
ctx.note = notes.append
eventlog_evtx.EvtxLog().convert_file(path, ctx)
run.sink.close()
print(ctx.rows_written, notes)
"""
    path = corpus / "evtx/shared/T1069_T1087_account_group_discovery/mdecrevoisier__ID5140-5145-Bloodhound-SharpHound enumeration via SMB.evtx"
    done = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    written, notes = done.stdout.split(" ", 1)
    assert notes.strip() == "[]"
    assert int(written) == sum(1 for _ in __import__("evtx").PyEvtxParser(str(path)).records_json())


def test_a_failed_worker_process_costs_time_not_records(corpus, tmp_path, monkeypatch):
    from triageparse.artifacts import eventlog_evtx
    path = corpus / "evtx/shared/EDGE_checksum_and_chunk_damage/omerbenamram-evtx__sample_with_a_bad_chunk_magic.evtx"
    triageparse.convert([path], tmp_path / "serial")
    monkeypatch.setattr(eventlog_evtx, "PART_MIN_BYTES", 65536)
    monkeypatch.setattr(eventlog_evtx, "PROCESSES", 2)
    monkeypatch.setattr(eventlog_evtx, "GROUP_CHUNKS", 2)
    monkeypatch.setattr(eventlog_evtx, "BATCH_RECORDS", 40)
    emit = eventlog_evtx._SpooledContext.emit

    def crash_after_two_batches(self, table, rows):
        self.emitted = getattr(self, "emitted", 0) + 1
        if self.emitted > 2:
            os._exit(3)         # as the kernel's OOM killer would end it: no clean-up
        return emit(self, table, rows)
    monkeypatch.setattr(eventlog_evtx._SpooledContext, "emit", crash_after_two_batches)
    assert len(eventlog_evtx.chunk_ranges(path)) > 2        # the failed worker's later ranges too are redone
    forked = []
    fork = eventlog_evtx._fork_worker
    monkeypatch.setattr(eventlog_evtx, "_fork_worker", lambda *a: forked.append(fork(*a)) or forked[-1])
    triageparse.convert([path], tmp_path / "split")
    for worker in forked:                                     # every worker reaped, the failed one included
        with pytest.raises(ChildProcessError):
            os.waitpid(worker.pid, os.WNOHANG)
    files = [_table(tmp_path / run, "CollectedFile").to_pylist()[0] for run in ("serial", "split")]
    assert [(f["RowsWritten"], f["RowsRejected"], f["Status"]) for f in files] == [(270, 2, "lossy")] * 2
    assert "worker process failed" in files[1]["Detail"]
    for table in ("SecurityEvent", "WindowsEvent"):
        if (tmp_path / "serial" / table).exists():
            assert _table(tmp_path / "split", table).equals(_table(tmp_path / "serial", table)), table


@pytest.mark.parametrize("map_min_bytes", [0, 1 << 20], ids=["mapped", "read"])
def test_worker_tables_come_back_from_the_spool_whole_and_with_aligned_buffers(tmp_path, monkeypatch, map_min_bytes):
    # Acero (the join of the time-zone evidence) wants buffers aligned to their values; frames have
    # pickled heads of any length, so the streams must be placed at aligned offsets on purpose.
    import os
    import pyarrow as pa
    from triageparse.artifacts import eventlog_evtx
    from triageparse.artifacts.eventlog_evtx import _frames, _SpooledContext, _Worker
    monkeypatch.setattr(eventlog_evtx, "MAP_MIN_BYTES", map_min_bytes)
    tables = [pa.table({"EventRecordId": pa.array(range(i, i + 7), pa.int64()),
                        "Computer": pa.array([f"host-{'x' * i}"] * 7)}) for i in range(1, 6)]
    spool = tmp_path / "spool"
    with pa.OSFile(str(spool), "ab") as out:
        ctx = _SpooledContext(out)
        for i, t in enumerate(tables):
            ctx.warn(None, "w" * (i * 13 + 1))          # heads of different lengths
            ctx.emit("WindowsEvent", t)
            ctx.read(7)
        ctx.flush(("done", False, {}))
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    back = [call[2] for frame in _frames(_Worker(pid), spool) for call in frame if call[0] == "emit"]
    assert [t.to_pylist() for t in back] == [t.to_pylist() for t in tables]
    for t in back:
        for column in t.columns:
            for buf in column.chunk(0).buffers():
                assert buf is None or buf.address % 8 == 0      # what Arrow IPC aligns its buffers to


def test_xml_escapes_write_what_xml_sax_saxutils_writes():
    # eventlog_evtx has its own escape/quoteattr (saxutils' import costs 19 ms of every command's start)
    import random
    from xml.sax import saxutils
    from triageparse.artifacts.eventlog_evtx import escape, quoteattr
    rnd = random.Random(7)
    for _ in range(5000):
        text = "".join(rnd.choice("ab&<>\"'\n\r\t\\ é") for _ in range(rnd.randrange(12)))
        assert (escape(text), quoteattr(text)) == (saxutils.escape(text), saxutils.quoteattr(text)), text
