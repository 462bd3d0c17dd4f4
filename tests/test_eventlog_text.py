"""SecurityEvents.txt (Get-EventLog security | Format-List *, UTF-16LE) becomes SecurityEvent rows like its
CSV twin: the Message keeps its lines, fields come from it; the CSV wins when it exists, the EVTX wins per
record, and the text gives the time-zone evidence when there is no CSV."""
from __future__ import annotations

import datetime as dt
import io
import shutil
import zipfile

import pyarrow.dataset as ds
import pytest

import triageparse
from psbytes import c8, u16, write_collection
from pswrap import word_wrap
from test_eventlog_csv import HEADER, MESSAGES, _csv_row
from triageparse.artifacts.eventlog_text import SecurityEventsText, eventlog_records
from triageparse.formats.pscsv import read_pscsv

LABELS = ("EventID", "MachineName", "Data", "Index", "Category", "CategoryNumber", "EntryType", "Message", "Source",
          "ReplacementStrings", "InstanceId", "TimeGenerated", "TimeWritten", "UserName", "Site", "Container")
WIDTH = 120
TXT = "SecurityEvents/SecurityEvents.txt"
ATSVC = "evtx/shared/T1053.005_scheduled_task/sbousseaden__LM_ScheduledTask_ATSVC_target_host.evtx"


def fl_event(values: dict[str, str]) -> str:
    """One EventLogEntry as Format-List * writes it: each line of a multi-line value word-wrapped on its own
    (English culture), continuation lines and empty message lines padded to the value column."""
    column = max(len(label) for label in LABELS) + 3
    field = WIDTH - 1 - column
    out = []
    for label in LABELS:
        lines = []
        for text in values.get(label, "").split("\n"):
            lines += word_wrap(text, field, field) if text else [""]
        out.append(f"{label:<{column - 3}} :" + (f" {lines[0]}" if lines[0] else " "))
        out += [" " * column + part for part in lines[1:]]
    return "\n".join(out)


def event(event_id: int, index: int, local: str, entry: str = "SuccessAudit", message: str | None = None) -> dict:
    return {"EventID": str(event_id), "MachineName": "WIN-77LTAPHIQ1R.example.corp", "Data": "{}",
            "Index": str(index), "Category": "(12544)", "CategoryNumber": "12544", "EntryType": entry,
            "Message": MESSAGES[event_id] if message is None else message,
            "Source": "Microsoft-Windows-Security-Auditing", "ReplacementStrings": "{S-1-5-18, WS01$, CORP, 0x3e7...}",
            "InstanceId": str(event_id), "TimeGenerated": local, "TimeWritten": local}


def security_events_txt(events: list[dict]) -> bytes:
    return u16("\n\n" + "\n\n".join(fl_event(e) for e in events) + "\n\n\n")


def convert(root, out, **kwargs) -> dict[str, list[dict]]:
    summary = triageparse.convert([root], out, **kwargs)
    assert summary.errors == 0
    tables = {name: ds.dataset(out / name).to_table().to_pylist() for name in ("SecurityEvent", "CollectedFile")
              if (out / name).exists()}
    tables["Collection"] = ds.dataset(out / "Collection").to_table().to_pylist()
    return tables


def test_exact_utf16_bytes_become_security_event_rows_with_fields_from_the_message(tmp_path):
    failed = MESSAGES[4625].replace("Logon Process:\t\tNtLmSsp", "Logon Process:\t\tNtLmSsp ")
    events = [event(4625, 12, "3/19/2019 2:10:00 AM", "FailureAudit", failed),
              event(4624, 11, "3/19/2019 2:09:00 AM")]
    root = write_collection(tmp_path / "DFIR-WIN-77LTAPHIQ1R-2019-03-19", {TXT: security_events_txt(events)})
    tables = convert(root, tmp_path / "out")
    rows = {r["EventRecordId"]: r for r in tables["SecurityEvent"]}
    assert sorted(rows) == [11, 12]
    r = rows[12]
    assert r["EventOrigin"] == "GetEventLogText" and r["Channel"] == "Security" and r["Level"] == "16"
    assert r["Activity"] == "4625 - An account failed to log on." and r["EventID"] == 4625 and r["Task"] == 12544
    assert (r["Account"], r["IpAddress"], r["LogonType"], r["SubStatus"]) == \
        ("\\administrator", "185.220.101.4", 3, "0xC000006A")
    # Lines of the message come back with the CRLF of the event; the trailing space stays on its line.
    assert r["Message"] == failed.replace("\n", "\r\n")
    assert r["LogonProcessName"] == "NtLmSsp" and r["AuthenticationPackageName"] == "NTLM"
    assert r["TimeGenerated"] == dt.datetime(2019, 3, 19, 2, 10, tzinfo=dt.timezone.utc)   # no zone evidence: UTC
    assert r["Computer"] == "WIN-77LTAPHIQ1R.example.corp" and r["SourceFile"] == TXT
    assert rows[11]["TargetUserName"] == "alice" and rows[11]["LogonTypeName"] == "10 - RemoteInteractive"
    txt = next(f for f in tables["CollectedFile"] if f["SourceFile"] == TXT)
    assert (txt["Parser"], txt["RowsRead"], txt["RowsWritten"], txt["Status"]) == ("security_events_txt", 2, 2, "parsed")


def test_a_wrapped_value_is_joined_and_an_empty_message_line_kept(tmp_path):
    long_line = "Process Command Line:\t" + " ".join(["-EncodedCommand"] + ["QQBCAEMA" * 4] * 6)
    message = "A new process has been created.\n\nProcess Information:\n\t" + long_line + " \n\nToken Elevation."
    text = security_events_txt([event(4688, 5, "3/19/2019 2:09:00 AM", message=message)])
    assert sum("QQBCAEMA" in x for x in text.decode("utf-16").splitlines()) > 1     # the line really wraps
    member = SimpleMember(text)
    (_, values), = eventlog_records(member)
    assert values["Message"] == message.replace("\n", "\r\n")


class SimpleMember:
    """The part of the Member API the text reader uses, over bytes."""

    def __init__(self, data: bytes):
        self.data, self.head = data, data[:65536]

    def open(self):
        return io.BytesIO(self.data)


def test_the_csv_wins_and_the_text_is_not_read(tmp_path):
    events = [event(4625, 12, "3/19/2019 2:10:00 AM", "FailureAudit")]
    root = write_collection(tmp_path / "DFIR-WIN-77LTAPHIQ1R-2019-03-19", {
        TXT: security_events_txt(events),
        "CSV Results (SIEM Import Data)/SecurityEvents.csv":
            c8(HEADER, [_csv_row(4625, 12, "3/19/2019 2:10:00 AM", "FailureAudit")])})
    tables = convert(root, tmp_path / "out")
    assert [r["EventOrigin"] for r in tables["SecurityEvent"]] == ["GetEventLogCsv"]
    txt = next(f for f in tables["CollectedFile"] if f["SourceFile"] == TXT)
    assert (txt["Status"], txt["RowsRead"]) == ("superseded", 0)
    assert "SecurityEvents.csv" in txt["Detail"]


def test_an_empty_csv_does_not_win(tmp_path):
    events = [event(4625, 12, "3/19/2019 2:10:00 AM", "FailureAudit")]
    root = write_collection(tmp_path / "DFIR-WIN-77LTAPHIQ1R-2019-03-19", {
        TXT: security_events_txt(events), "CSV Results (SIEM Import Data)/SecurityEvents.csv": b""})
    tables = convert(root, tmp_path / "out")
    assert [r["EventOrigin"] for r in tables["SecurityEvent"]] == ["GetEventLogText"]


@pytest.fixture
def text_and_evtx(corpus, tmp_path):
    """SecurityEvents.txt repeating 2 records of its Security.evtx (ATSVC sample, UTC) in local time UTC+1,
    plus 1 record the EVTX does not have; no CSV."""
    # Record 566823 (4624) is 2019-03-19T00:02:04.179623Z; 566824 (4776) 00:02:04.210688Z.
    events = [event(4625, 566900, "3/19/2019 2:10:00 AM", "FailureAudit"),
              event(4776, 566824, "3/19/2019 1:02:04 AM"),
              event(4624, 566823, "3/19/2019 1:02:04 AM")]
    root = write_collection(tmp_path / "DFIR-WIN-77LTAPHIQ1R-2019-03-19", {TXT: security_events_txt(events)})
    (root / "Event Viewer").mkdir()
    shutil.copy(corpus / ATSVC, root / "Event Viewer" / "Security.evtx")
    return root


def test_records_also_in_security_evtx_are_written_once_and_the_text_gives_the_utc_offset(text_and_evtx, tmp_path):
    tables = convert(text_and_evtx, tmp_path / "out")
    text_rows = [r for r in tables["SecurityEvent"] if r["EventOrigin"] == "GetEventLogText"]
    assert [r["EventRecordId"] for r in text_rows] == [566900]
    assert len([r for r in tables["SecurityEvent"] if r["EventOrigin"] == "EvtxFile"]) == 34
    collection = tables["Collection"][0]
    assert (collection["TimeZoneSource"], collection["UtcOffsetMinutes"]) == ("evidence", 60)
    assert text_rows[0]["TimeGenerated"] == dt.datetime(2019, 3, 19, 1, 10, tzinfo=dt.timezone.utc)
    txt = next(f for f in tables["CollectedFile"] if f["SourceFile"] == TXT)
    assert "2 record(s) also in Security.evtx" in txt["Detail"]


# ---- the sample collections ----------------------------------------------------------------------

def test_legacy01_text_only_security_log_holds_the_planted_events(sample_data, tmp_path):
    tables = convert(sample_data / "DFIR-LEGACY01-2023-03-14", tmp_path / "out", timezone="Europe/Berlin")
    rows = tables["SecurityEvent"]
    assert {r["EventOrigin"] for r in rows} == {"GetEventLogText"} and len(rows) == 47
    assert tables["Collection"][0]["DateCulture"] == "de-DE"
    by_index = {r["EventRecordId"]: r for r in rows}
    cleared = by_index[1]
    assert cleared["EventID"] == 1102 and cleared["EventSourceName"] == "Microsoft-Windows-Eventlog"
    assert cleared["TimeGenerated"] == dt.datetime(2023, 3, 12, 10, 43, 28, tzinfo=dt.timezone.utc)
    burst = [by_index[i] for i in range(8, 18)]
    assert {r["EventID"] for r in burst} == {4625} and {r["Level"] for r in burst} == {"16"}
    assert {(r["IpAddress"], r["WorkstationName"], r["LogonType"], r["AuthenticationPackageName"]) for r in burst} \
        == {("45.155.205.233", "WIN-8K2N4Q1J5T3", 3, "NTLM")}
    assert [r["TargetUserName"] for r in sorted(burst, key=lambda r: r["EventRecordId"])][:8] == \
        ["administrator", "admin", "helpdesk", "scanner", "user", "test", "backup", "support"]
    assert min(r["TimeGenerated"] for r in burst) == dt.datetime(2023, 3, 13, 0, 56, 3, tzinfo=dt.timezone.utc)
    assert max(r["TimeGenerated"] for r in burst) == dt.datetime(2023, 3, 13, 0, 57, 11, tzinfo=dt.timezone.utc)
    created = by_index[25]
    assert (created["EventID"], created["TargetUserName"], created["TargetSid"]) == \
        (4720, "svc_backup", "S-1-5-21-3623811015-3361044348-30300820-1003")
    assert created["TimeGenerated"] == dt.datetime(2023, 3, 13, 1, 13, 45, tzinfo=dt.timezone.utc)
    added = by_index[29]
    assert (added["EventID"], added["MemberSid"], added["TargetSid"]) == \
        (4732, "S-1-5-21-3623811015-3361044348-30300820-1003", "S-1-5-32-544")
    assert "\r\n\r\nMember:\r\n\tSecurity ID:\t" in added["Message"]


def test_ws01_text_messages_equal_their_csv_twin_record_by_record(sample_data):
    with zipfile.ZipFile(sample_data / "DFIR-WS01-2025-10-02.zip") as zf:
        names = {n.replace("\\", "/").split("/", 1)[1]: n for n in zf.namelist()}
        text = zf.read(names[TXT])
        csv = zf.read(names["CSV Results (SIEM Import Data)/SecurityEvents.csv"])
    from_text = {values["Index"]: values["Message"] for _, values in eventlog_records(SimpleMember(text))}
    _, batches = read_pscsv(lambda: io.BytesIO(csv), csv[:65536])
    from_csv = {row["Index"]: row["Message"] for b in batches for row in b.table.to_pylist()}
    assert len(from_csv) > 200 and from_text == from_csv


def test_claim_is_by_content_and_only_an_empty_file_goes_by_its_name():
    class Named(SimpleMember):
        def __init__(self, data, path):
            super().__init__(data)
            self.lower = path.lower()
    text = security_events_txt([event(4624, 11, "3/19/2019 2:09:00 AM")])
    assert SecurityEventsText.claim(Named(text, "x/Other.txt")) > 60
    assert SecurityEventsText.claim(Named(u16("\n\nName : x\nStatus : y\n"), TXT)) == 0
    assert SecurityEventsText.claim(Named(b"", TXT)) == 40
