"""SecurityEvents.csv (Get-EventLog) rows become SecurityEvent rows with fields recovered from the English
message; the same record in Security.evtx is written once, from the EVTX; EventCount.txt is counted."""
from __future__ import annotations

import datetime as dt
import shutil
from zoneinfo import ZoneInfo

import pyarrow.dataset as ds
import pytest

import triageparse
from psbytes import c8, u16, write_collection
from triageparse.artifacts.eventlog_csv import message_fields

# English messages as Windows renders them (tabs as in the message templates).
MESSAGES: dict[int, str] = {
    4624: """An account was successfully logged on.

Subject:
\tSecurity ID:\t\tS-1-5-18
\tAccount Name:\t\tWS01$
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x3E7

Logon Information:
\tLogon Type:\t\t10
\tRestricted Admin Mode:\tNo
\tVirtual Account:\t\tNo
\tElevated Token:\t\tYes

Impersonation Level:\t\tImpersonation

New Logon:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x1A2B3C
\tLinked Logon ID:\t\t0x0
\tNetwork Account Name:\t-
\tNetwork Account Domain:\t-
\tLogon GUID:\t\t{00000000-0000-0000-0000-000000000000}

Process Information:
\tProcess ID:\t\t0x2c4
\tProcess Name:\t\tC:\\Windows\\System32\\svchost.exe

Network Information:
\tWorkstation Name:\tKALI
\tSource Network Address:\t10.0.0.66
\tSource Port:\t\t0

Detailed Authentication Information:
\tLogon Process:\t\tUser32 
\tAuthentication Package:\tNegotiate
\tTransited Services:\t-
\tPackage Name (NTLM only):\t-
\tKey Length:\t\t0

This event is generated when a logon session is created.""",
    4625: """An account failed to log on.

Subject:
\tSecurity ID:\t\tS-1-0-0
\tAccount Name:\t\t-
\tAccount Domain:\t\t-
\tLogon ID:\t\t0x0

Logon Type:\t\t\t3

Account For Which Logon Failed:
\tSecurity ID:\t\tS-1-0-0
\tAccount Name:\t\tadministrator
\tAccount Domain:\t\t

Failure Information:
\tFailure Reason:\t\tUnknown user name or bad password.
\tStatus:\t\t\t0xC000006D
\tSub Status:\t\t0xC000006A

Process Information:
\tCaller Process ID:\t0x0
\tCaller Process Name:\t-

Network Information:
\tWorkstation Name:\tKALI
\tSource Network Address:\t185.220.101.4
\tSource Port:\t\t51234

Detailed Authentication Information:
\tLogon Process:\t\tNtLmSsp 
\tAuthentication Package:\tNTLM
\tTransited Services:\t-
\tPackage Name (NTLM only):\t-
\tKey Length:\t\t0""",
    4634: """An account was logged off.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x1A2B3C

Logon Type:\t\t\t10""",
    4648: """A logon was attempted using explicit credentials.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x1A2B3C
\tLogon GUID:\t\t{00000000-0000-0000-0000-000000000000}

Account Whose Credentials Were Used:
\tAccount Name:\t\tadm-bob
\tAccount Domain:\t\tCORP
\tLogon GUID:\t\t{11111111-2222-3333-4444-555555555555}

Target Server:
\tTarget Server Name:\tDC01.corp.local
\tAdditional Information:\tDC01.corp.local

Process Information:
\tProcess ID:\t\t0x1f4
\tProcess Name:\t\tC:\\Windows\\System32\\runas.exe

Network Information:
\tNetwork Address:\t-
\tPort:\t\t\t-""",
    4672: """Special privileges assigned to new logon.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-500
\tAccount Name:\t\tAdministrator
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x2B3C4D

Privileges:\t\tSeSecurityPrivilege
\t\t\tSeBackupPrivilege
\t\t\tSeDebugPrivilege""",
    4688: """A new process has been created.

Creator Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x1A2B3C

Target Subject:
\tSecurity ID:\t\tS-1-0-0
\tAccount Name:\t\t-
\tAccount Domain:\t\t-
\tLogon ID:\t\t0x0

Process Information:
\tNew Process ID:\t\t0x1e8c
\tNew Process Name:\tC:\\Windows\\System32\\cmd.exe
\tToken Elevation Type:\t%%1936
\tMandatory Label:\t\tS-1-16-12288
\tCreator Process ID:\t0x1a2c
\tCreator Process Name:\tC:\\Windows\\explorer.exe
\tProcess Command Line:\tcmd.exe /c whoami /all""",
    4697: """A service was installed in the system.

Subject:
\tSecurity ID:\t\tS-1-5-18
\tAccount Name:\t\tWS01$
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x3E7

Service Information:
\tService Name:\t\tPSEXESVC
\tService File Name:\t%SystemRoot%\\PSEXESVC.exe
\tService Type:\t\t0x10
\tService Start Type:\t3
\tService Account:\t\tLocalSystem""",
    4720: """A user account was created.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-500
\tAccount Name:\t\tAdministrator
\tAccount Domain:\t\tWS01
\tLogon ID:\t\t0x2B3C4D

New Account:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1010
\tAccount Name:\t\tsvc_backup
\tAccount Domain:\t\tWS01

Attributes:
\tSAM Account Name:\tsvc_backup
\tDisplay Name:\t\t<value not set>
\tUser Principal Name:\t-
\tHome Directory:\t\t<value not set>
\tHome Drive:\t\t<value not set>
\tScript Path:\t\t<value not set>
\tProfile Path:\t\t<value not set>
\tUser Workstations:\t<value not set>
\tPassword Last Set:\t<never>
\tAccount Expires:\t\t<never>
\tPrimary Group ID:\t513
\tAllowed To Delegate To:\t-
\tOld UAC Value:\t\t0x0
\tNew UAC Value:\t\t0x15
\tUser Account Control:\t
\t\tAccount Disabled
\tUser Parameters:\t<value not set>
\tSID History:\t\t-
\tLogon Hours:\t\tAll""",
    4728: """A member was added to a security-enabled global group.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-500
\tAccount Name:\t\tAdministrator
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x2B3C4D

Member:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1010
\tAccount Name:\t\tCN=svc_backup,CN=Users,DC=corp,DC=local

Group:
\tSecurity ID:\t\tS-1-5-21-1-2-3-512
\tGroup Name:\t\tDomain Admins
\tGroup Domain:\t\tCORP

Additional Information:
\tPrivileges:\t\t-""",
    4732: """A member was added to a security-enabled local group.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-500
\tAccount Name:\t\tAdministrator
\tAccount Domain:\t\tWS01
\tLogon ID:\t\t0x2B3C4D

Member:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1010
\tAccount Name:\t\t-

Group:
\tSecurity ID:\t\tS-1-5-32-544
\tGroup Name:\t\tAdministrators
\tGroup Domain:\t\tBuiltin

Additional Information:
\tPrivileges:\t\t-""",
    4740: """A user account was locked out.

Subject:
\tSecurity ID:\t\tS-1-5-18
\tAccount Name:\t\tDC01$
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x3E7

Account That Was Locked Out:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice

Additional Information:
\tCaller Computer Name:\tKALI""",
    4768: """A Kerberos authentication ticket (TGT) was requested.

Account Information:
\tAccount Name:\t\talice
\tSupplied Realm Name:\tCORP.LOCAL
\tUser ID:\t\t\tS-1-5-21-1-2-3-1104

Service Information:
\tService Name:\t\tkrbtgt
\tService ID:\t\tS-1-5-21-1-2-3-502

Network Information:
\tClient Address:\t\t::ffff:10.0.0.66
\tClient Port:\t\t50612

Additional Information:
\tTicket Options:\t\t0x40810010
\tResult Code:\t\t0x0
\tTicket Encryption Type:\t0x12
\tPre-Authentication Type:\t2""",
    4769: """A Kerberos service ticket was requested.

Account Information:
\tAccount Name:\t\talice@CORP.LOCAL
\tAccount Domain:\t\tCORP.LOCAL
\tLogon GUID:\t\t{22222222-2222-2222-2222-222222222222}

Service Information:
\tService Name:\t\tMSSQLSvc
\tService ID:\t\tS-1-5-21-1-2-3-1200

Network Information:
\tClient Address:\t\t::ffff:10.0.0.66
\tClient Port:\t\t50613

Additional Information:
\tTicket Options:\t\t0x40810000
\tTicket Encryption Type:\t0x17
\tFailure Code:\t\t0x0
\tTransited Services:\t-""",
    4771: """Kerberos pre-authentication failed.

Account Information:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice

Service Information:
\tService Name:\t\tkrbtgt/CORP.LOCAL

Network Information:
\tClient Address:\t\t::ffff:10.0.0.66
\tClient Port:\t\t50614

Additional Information:
\tTicket Options:\t\t0x40810010
\tFailure Code:\t\t0x18
\tPre-Authentication Type:\t2""",
    4776: """The computer attempted to validate the credentials for an account.

Authentication Package:\tMICROSOFT_AUTHENTICATION_PACKAGE_V1_0
Logon Account:\tadministrator
Source Workstation:\tKALI
Error Code:\t0xC000006A""",
    1102: """The audit log was cleared.
Subject:
\tSecurity ID:\tS-1-5-21-1-2-3-1104
\tAccount Name:\talice
\tDomain Name:\tCORP
\tLogon ID:\t0x1A2B3C""",
    5140: """A network share object was accessed.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x1A2B3C

Network Information:\t
\tObject Type:\t\tFile
\tSource Address:\t\t10.0.0.66
\tSource Port:\t\t50615

Share Information:
\tShare Name:\t\t\\\\*\\ADMIN$
\tShare Path:\t\t\\??\\C:\\Windows

Access Request Information:
\tAccess Mask:\t\t0x1
\tAccesses:\t\tReadData (or ListDirectory)""",
    5145: """A network share object was checked to see whether client can be granted desired access.

Subject:
\tSecurity ID:\t\tS-1-5-21-1-2-3-1104
\tAccount Name:\t\talice
\tAccount Domain:\t\tCORP
\tLogon ID:\t\t0x1A2B3C

Network Information:\t
\tObject Type:\t\tFile
\tSource Address:\t\t10.0.0.66
\tSource Port:\t\t50615

Share Information:
\tShare Name:\t\t\\\\*\\C$
\tShare Path:\t\t\\??\\C:\\
\tRelative Target Name:\tUsers\\Public\\beacon.exe

Access Request Information:
\tAccess Mask:\t\t0x2
\tAccesses:\t\tWriteData (or AddFile)
\tAccess Check Results:\t-""",
}
# The same "Target Account" block: 4722 enabled, 4723 password change, 4724 reset, 4725 disabled,
# 4726 deleted, 4738 changed; 4756 is 4728 for a universal group.
for _id, _text in ((4722, "A user account was enabled."), (4723, "An attempt was made to change an account's password."),
                   (4724, "An attempt was made to reset an account's password."), (4725, "A user account was disabled."),
                   (4726, "A user account was deleted."), (4738, "A user account was changed.")):
    MESSAGES[_id] = (f"{_text}\n\nSubject:\n\tSecurity ID:\t\tS-1-5-21-1-2-3-500\n\tAccount Name:\t\tAdministrator\n"
                     "\tAccount Domain:\t\tWS01\n\tLogon ID:\t\t0x2B3C4D\n\nTarget Account:\n"
                     "\tSecurity ID:\t\tS-1-5-21-1-2-3-1010\n\tAccount Name:\t\tsvc_backup\n\tAccount Domain:\t\tWS01")
MESSAGES[4756] = MESSAGES[4728].replace("global group", "universal group").replace("Domain Admins", "Enterprise Admins")

EXPECTED: dict[int, dict[str, str]] = {
    4624: dict(SubjectUserName="WS01$", SubjectLogonId="0x3E7", TargetUserName="alice", TargetDomainName="CORP",
               TargetUserSid="S-1-5-21-1-2-3-1104", TargetLogonId="0x1A2B3C", LogonType="10", IpAddress="10.0.0.66",
               IpPort="0", WorkstationName="KALI", LogonProcessName="User32", AuthenticationPackageName="Negotiate",
               ProcessName="C:\\Windows\\System32\\svchost.exe", ElevatedToken="Yes", KeyLength="0"),
    4625: dict(SubjectUserName="-", TargetUserName="administrator", TargetDomainName="", LogonType="3",
               FailureReason="Unknown user name or bad password.", Status="0xC000006D", SubStatus="0xC000006A",
               IpAddress="185.220.101.4", IpPort="51234", AuthenticationPackageName="NTLM"),
    4634: dict(SubjectUserName="alice", LogonType="10"),
    4648: dict(SubjectUserName="alice", TargetUserName="adm-bob", TargetDomainName="CORP",
               TargetLogonGuid="{11111111-2222-3333-4444-555555555555}", TargetServerName="DC01.corp.local",
               TargetInfo="DC01.corp.local", ProcessName="C:\\Windows\\System32\\runas.exe", IpAddress="-"),
    4672: dict(SubjectUserName="Administrator",
               PrivilegeList="SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeDebugPrivilege"),
    4688: dict(SubjectUserName="alice", TargetUserName="-", NewProcessName="C:\\Windows\\System32\\cmd.exe",
               NewProcessId="0x1e8c", ParentProcessName="C:\\Windows\\explorer.exe", ProcessId="0x1a2c",
               CommandLine="cmd.exe /c whoami /all", TokenElevationType="%%1936", MandatoryLabel="S-1-16-12288"),
    4697: dict(SubjectUserName="WS01$", ServiceName="PSEXESVC", ServiceFileName="%SystemRoot%\\PSEXESVC.exe",
               ServiceType="0x10", ServiceStartType="3", ServiceAccount="LocalSystem"),
    4720: dict(SubjectUserName="Administrator", TargetUserName="svc_backup", TargetSid="S-1-5-21-1-2-3-1010",
               TargetDomainName="WS01", SamAccountName="svc_backup", PrimaryGroupId="513", NewUacValue="0x15"),
    4728: dict(MemberSid="S-1-5-21-1-2-3-1010", MemberName="CN=svc_backup,CN=Users,DC=corp,DC=local",
               TargetUserName="Domain Admins", TargetDomainName="CORP", TargetSid="S-1-5-21-1-2-3-512"),
    4732: dict(MemberSid="S-1-5-21-1-2-3-1010", MemberName="-", TargetUserName="Administrators",
               TargetDomainName="Builtin", TargetSid="S-1-5-32-544", SubjectUserName="Administrator"),
    4740: dict(TargetUserName="alice", TargetSid="S-1-5-21-1-2-3-1104", TargetDomainName="KALI",
               SubjectUserName="DC01$"),
    4756: dict(TargetUserName="Enterprise Admins", MemberSid="S-1-5-21-1-2-3-1010"),
    4768: dict(TargetUserName="alice", TargetDomainName="CORP.LOCAL", TargetSid="S-1-5-21-1-2-3-1104",
               ServiceName="krbtgt", IpAddress="::ffff:10.0.0.66", IpPort="50612", Status="0x0"),
    4769: dict(TargetUserName="alice@CORP.LOCAL", TargetDomainName="CORP.LOCAL", ServiceName="MSSQLSvc",
               IpAddress="::ffff:10.0.0.66", Status="0x0", TransmittedServices="-"),
    4771: dict(TargetUserName="alice", TargetSid="S-1-5-21-1-2-3-1104", ServiceName="krbtgt/CORP.LOCAL",
               IpAddress="::ffff:10.0.0.66", Status="0x18"),
    4776: dict(TargetUserName="administrator", Workstation="KALI", Status="0xC000006A",
               AuthenticationPackageName="MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"),
    1102: dict(SubjectUserName="alice", SubjectUserSid="S-1-5-21-1-2-3-1104", SubjectLogonId="0x1A2B3C",
               SubjectDomainName="CORP"),
    5140: dict(SubjectUserName="alice", ObjectType="File", IpAddress="10.0.0.66", IpPort="50615",
               ShareName="\\\\*\\ADMIN$", ShareLocalPath="\\??\\C:\\Windows", AccessMask="0x1"),
    5145: dict(ShareName="\\\\*\\C$", RelativeTargetName="Users\\Public\\beacon.exe", AccessMask="0x2",
               IpAddress="10.0.0.66"),
}
for _id in (4722, 4723, 4724, 4725, 4726, 4738):
    EXPECTED[_id] = dict(SubjectUserName="Administrator", TargetUserName="svc_backup", TargetDomainName="WS01",
                         TargetSid="S-1-5-21-1-2-3-1010")


@pytest.mark.parametrize("event_id", sorted(MESSAGES))
def test_fields_are_recovered_from_the_english_message_section_by_section(event_id):
    fields = message_fields(MESSAGES[event_id].replace("\n", "\r\n"))
    for column, value in EXPECTED[event_id].items():
        assert fields.get(column) == value, (event_id, column, fields.get(column))


def test_the_same_label_fills_different_columns_by_section():
    f = message_fields(MESSAGES[4624])
    assert (f["SubjectUserName"], f["TargetUserName"]) == ("WS01$", "alice")
    f = message_fields(MESSAGES[4648])
    assert (f["SubjectUserName"], f["TargetUserName"]) == ("alice", "adm-bob")


def test_a_localised_message_yields_no_fields_but_keeps_the_row():
    german = "Ein Konto wurde erfolgreich angemeldet.\r\n\r\nAntragsteller:\r\n\tSicherheits-ID:\t\tS-1-5-18"
    assert message_fields(german) == {}


HEADER = ["EventID", "MachineName", "Data", "Index", "Category", "CategoryNumber", "EntryType", "Message", "Source",
          "ReplacementStrings", "InstanceId", "TimeGenerated", "TimeWritten", "UserName", "Site", "Container"]


def _csv_row(event_id: int, index: int, local: str, entry: str = "SuccessAudit") -> list:
    return [str(event_id), "WIN-77LTAPHIQ1R.example.corp", "System.Byte[]", str(index), "(12544)", "12544", entry,
            MESSAGES[event_id].replace("\n", "\r\n"), "Microsoft-Windows-Security-Auditing", "System.String[]",
            str(event_id), local, local, None, None, None]


@pytest.fixture
def collection_with_csv_and_evtx(corpus, tmp_path):
    """A DFIR-Script folder whose SecurityEvents.csv repeats 3 records of its Security.evtx (ATSVC sample,
    UTC) in local time UTC+1, plus 2 records the EVTX does not have."""
    evtx = corpus / "evtx/shared/T1053.005_scheduled_task/sbousseaden__LM_ScheduledTask_ATSVC_target_host.evtx"
    # Record 566823 (4624) is 2019-03-19T00:02:04.179623Z; 566824 (4776) 00:02:04.210688Z; 566821 (1102) 00:02:00.
    rows = [_csv_row(4625, 566900, "3/19/2019 2:10:00 AM", "FailureAudit"),
            _csv_row(4688, 566899, "3/19/2019 2:09:00 AM"),
            _csv_row(4776, 566824, "3/19/2019 1:02:04 AM"),
            _csv_row(4624, 566823, "3/19/2019 1:02:04 AM"),
            _csv_row(1102, 566821, "3/19/2019 1:02:00 AM")]
    root = tmp_path / "DFIR-WIN-77LTAPHIQ1R-2019-03-19"
    write_collection(root, {
        "CSV Results (SIEM Import Data)/SecurityEvents.csv": c8(HEADER, rows),
        "SecurityEvents/EventCount.txt": u16("\n\nCount Name\n----- ----\n    2 4624\n    1 4625\n   17 1102\n\n\n"),
    })
    (root / "Event Viewer").mkdir()
    shutil.copy(evtx, root / "Event Viewer" / "Security.evtx")
    return root


def test_csv_rows_also_in_security_evtx_are_written_once_from_the_evtx(collection_with_csv_and_evtx, tmp_path):
    out = tmp_path / "out"
    summary = triageparse.convert([collection_with_csv_and_evtx], out)
    assert summary.ok
    rows = ds.dataset(out / "SecurityEvent").to_table().to_pylist()
    by_origin: dict[str, list] = {}
    for r in rows:
        by_origin.setdefault(r["EventOrigin"], []).append(r)
    assert len(by_origin["EvtxFile"]) == 34
    csv_rows = by_origin["GetEventLogCsv"]
    assert sorted(r["EventRecordId"] for r in csv_rows) == [566899, 566900]
    failed = next(r for r in csv_rows if r["EventID"] == 4625)
    assert failed["Activity"] == "4625 - An account failed to log on." and failed["Level"] == "16"
    assert (failed["Account"], failed["IpAddress"], failed["LogonType"]) == ("\\administrator", "185.220.101.4", 3)
    assert failed["Computer"] == "WIN-77LTAPHIQ1R.example.corp" and failed["SourceRecord"] == 1
    assert "Unknown user name" in failed["Message"] and failed["Task"] == 12544
    files = {f["SourceFile"]: f for f in ds.dataset(out / "CollectedFile").to_table().to_pylist()}
    assert "3 record(s) also in Security.evtx" in files["CSV Results (SIEM Import Data)/SecurityEvents.csv"]["Detail"]


def test_event_count_txt_becomes_security_event_count(collection_with_csv_and_evtx, tmp_path):
    out = tmp_path / "out"
    triageparse.convert([collection_with_csv_and_evtx], out)
    rows = ds.dataset(out / "SecurityEventCount").to_table().select(["EventID", "EventCount"]).to_pylist()
    assert rows == [{"EventID": 4624, "EventCount": 2}, {"EventID": 4625, "EventCount": 1},
                    {"EventID": 1102, "EventCount": 17}]


def _collection(c8_rows: list, evtx, root) -> object:
    write_collection(root, {"CSV Results (SIEM Import Data)/SecurityEvents.csv": c8(HEADER, c8_rows)})
    (root / "Event Viewer").mkdir()
    shutil.copy(evtx, root / "Event Viewer" / "Security.evtx")
    return root


def test_host_utc_offset_comes_from_records_in_both_csv_and_evtx(collection_with_csv_and_evtx, tmp_path):
    out = tmp_path / "out"
    triageparse.convert([collection_with_csv_and_evtx], out)
    row = ds.dataset(out / "Collection").to_table().to_pylist()[0]
    assert (row["TimeZoneSource"], row["UtcOffsetMinutes"]) == ("evidence", 60)
    # The CSV-only 4625 at local 2:10 AM (UTC+1) is 01:10 UTC.
    t = ds.dataset(out / "SecurityEvent").to_table().to_pylist()
    failed = next(r for r in t if r["EventID"] == 4625)
    assert failed["TimeGenerated"] == dt.datetime(2019, 3, 19, 1, 10, tzinfo=dt.timezone.utc)


def test_security_evtx_is_read_once_its_conversion_gives_the_evidence_and_the_duplicates(
        collection_with_csv_and_evtx, tmp_path, monkeypatch):
    from triageparse.artifacts import eventlog_csv

    def second_pass(members):
        raise AssertionError("Security.evtx read a second time")
    monkeypatch.setattr(eventlog_csv, "_read_security_records", second_pass)
    out = tmp_path / "out"
    summary = triageparse.convert([collection_with_csv_and_evtx], out)
    assert summary.ok and not any("could not be read" in m for c in summary.collections for m in c.messages)
    row = ds.dataset(out / "Collection").to_table().to_pylist()[0]
    assert (row["TimeZoneSource"], row["UtcOffsetMinutes"]) == ("evidence", 60)
    origins = [r["EventOrigin"] for r in ds.dataset(out / "SecurityEvent").to_table().to_pylist()]
    assert (origins.count("EvtxFile"), origins.count("GetEventLogCsv")) == (34, 2)
    # CollectedFile stays in path order although the log was converted first.
    files = [f["SourceFile"] for f in ds.dataset(out / "CollectedFile").to_table().to_pylist()]
    assert files == sorted(files)


def test_an_explicit_timezone_wins_over_the_evidence(collection_with_csv_and_evtx, tmp_path):
    out = tmp_path / "out"
    triageparse.convert([collection_with_csv_and_evtx], out, timezone="+05:00")
    row = ds.dataset(out / "Collection").to_table().to_pylist()[0]
    assert (row["TimeZoneSource"], row["UtcOffsetMinutes"]) == ("argument", 300)


def test_a_window_across_a_dst_change_picks_a_zone_that_explains_both_offsets():
    # Records on both sides of a DST change show two offsets; one IANA zone must explain each of them.
    from triageparse.artifacts.eventlog_timezone import zone_for
    summer = dt.datetime(2019, 7, 1, 12, tzinfo=dt.timezone.utc)
    winter = dt.datetime(2019, 1, 15, 12, tzinfo=dt.timezone.utc)
    zone = zone_for([(summer, 120), (winter, 60)])
    assert zone is not None and ZoneInfo(zone).utcoffset(dt.datetime(2019, 7, 1)) == dt.timedelta(hours=2)
    assert zone_for([(summer, -240), (winter, -300)]) is not None         # US Eastern
    assert zone_for([(summer, 60), (winter, 120)]) is None                 # DST the wrong way round: none


def test_offsets_that_no_zone_explains_fall_back_with_a_message(corpus, tmp_path):
    evtx = corpus / "evtx/shared/T1053.005_scheduled_task/sbousseaden__LM_ScheduledTask_ATSVC_target_host.evtx"
    rows = [_csv_row(4776, 566824, "3/19/2019 1:02:04 AM"), _csv_row(4624, 566823, "3/19/2019 1:02:04 AM"),
            _csv_row(1102, 566821, "3/19/2019 3:02:00 AM")]      # +60, +60 and +180 in the same minute
    root = _collection(rows, evtx, tmp_path / "DFIR-HOST-2019-03-19")
    summary = triageparse.convert([root], tmp_path / "out")
    row = ds.dataset(tmp_path / "out" / "Collection").to_table().to_pylist()[0]
    assert (row["TimeZoneSource"], row["UtcOffsetMinutes"]) == ("evidence", 60)
    assert any("several UTC offsets" in m for c in summary.collections for m in c.messages)


def test_records_that_match_by_number_but_are_years_apart_are_not_time_zone_evidence(corpus, tmp_path):
    # A cleared log numbers its records again, and a CSV may come from another host: a "match" whose
    # times differ by more than any UTC offset is not the same record.
    evtx = corpus / "evtx/shared/T1053.005_scheduled_task/sbousseaden__LM_ScheduledTask_ATSVC_target_host.evtx"
    rows = [_csv_row(4776, 566824, "3/19/2021 1:02:04 AM"), _csv_row(4624, 566823, "3/19/2021 1:02:04 AM")]
    root = _collection(rows, evtx, tmp_path / "DFIR-HOST-2021-03-19")
    summary = triageparse.convert([root], tmp_path / "out")
    row = ds.dataset(tmp_path / "out" / "Collection").to_table().to_pylist()[0]
    assert (row["TimeZoneSource"], row["UtcOffsetMinutes"]) == ("assumed-utc", 0)
    assert any("2 record(s) of SecurityEvents.csv match Security.evtx by number but not by time" in m
               for c in summary.collections for m in c.messages)
    # Nor are they the log's records: the CSV rows are kept, not dropped as duplicates.
    kept = [r["EventRecordId"] for r in ds.dataset(tmp_path / "out" / "SecurityEvent").to_table().to_pylist()
            if r["EventOrigin"] == "GetEventLogCsv"]
    assert sorted(kept) == [566823, 566824]


def test_a_csv_row_is_dropped_as_a_duplicate_only_when_its_own_time_matches(corpus, tmp_path):
    # Two rows with the number of record 566824: the one at its local time is the log's record, the
    # other (two years later: a log cleared and numbered again) is not and stays.
    evtx = corpus / "evtx/shared/T1053.005_scheduled_task/sbousseaden__LM_ScheduledTask_ATSVC_target_host.evtx"
    rows = [_csv_row(4776, 566824, "3/19/2019 1:02:04 AM"), _csv_row(4776, 566824, "3/19/2021 9:15:00 AM")]
    root = _collection(rows, evtx, tmp_path / "DFIR-HOST-2019-03-19")
    triageparse.convert([root], tmp_path / "out")
    kept = [r for r in ds.dataset(tmp_path / "out" / "SecurityEvent").to_table().to_pylist()
            if r["EventOrigin"] == "GetEventLogCsv"]
    assert [(r["EventRecordId"], r["TimeGenerated"].year) for r in kept] == [(566824, 2021)]


def test_converting_the_log_first_does_not_change_the_host_name_of_other_rows(corpus, tmp_path):
    # A folder without DFIR-<HOST>- in its name: rows take the host the files name, in path order.
    # SecurityEvents.csv makes Security.evtx go first; the DNS cache rows must not notice.
    evtx = corpus / "evtx/shared/T1053.005_scheduled_task/sbousseaden__LM_ScheduledTask_ATSVC_target_host.evtx"
    dns = c8(["Entry", "Name", "Data", "Type", "Status", "Section", "TimeToLive", "DataLength"],
             [["a.example", "a.example", "10.0.0.1", "1", "0", "1", "60", "4"]])
    computers = []
    for with_csv in (False, True):
        root = tmp_path / f"case-{with_csv}"
        files = {"CSV Results (SIEM Import Data)/DNSCache.csv": dns}
        if with_csv:
            files["CSV Results (SIEM Import Data)/SecurityEvents.csv"] = c8(
                HEADER, [_csv_row(4776, 566824, "3/19/2019 1:02:04 AM")])
        write_collection(root, files)
        (root / "Event Viewer").mkdir()
        shutil.copy(evtx, root / "Event Viewer" / "Security.evtx")
        triageparse.convert([root], tmp_path / f"out-{with_csv}")
        computers.append([r["Computer"] for r in ds.dataset(tmp_path / f"out-{with_csv}" / "DnsCacheEntry")
                          .to_table().to_pylist()])
    assert computers[0] == computers[1]
