"""Sentinel-style hunting queries run on the converted corpus logs and find what the files contain.

The queries are DuckDB SQL over the Parquet output with Sentinel's column names, written as the
KQL originals would filter (``SecurityEvent | where EventID == 4625 | summarize count() by IpAddress``).
Each expected answer is what the named public attack sample records.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

import triageparse


@pytest.fixture(scope="module")
def hunt(corpus, tmp_path_factory):
    out: Path = tmp_path_factory.mktemp("hunt-out")
    triageparse.convert([corpus / "evtx" / "shared"], out)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("SecurityEvent", "WindowsEvent"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{out}/{table}/*.parquet')")
    return lambda sql: con.sql(sql).fetchall()


def test_failed_logons_by_source_ip(hunt):
    rows = hunt("SELECT IpAddress, count(*) FROM SecurityEvent WHERE EventID = 4625 GROUP BY ALL ORDER BY ALL")
    assert rows == [("-", 7), ("10.20.0.118", 4), ("127.0.0.1", 4)]


def test_kerberos_preauth_failures_show_the_spraying_host(hunt):
    rows = hunt("""SELECT IpAddress, count(*), count(DISTINCT TargetUserName) FROM SecurityEvent
                   WHERE EventID = 4771 GROUP BY ALL ORDER BY 2 DESC""")
    assert rows[0] == ("::ffff:10.23.123.11", 22, 22)         # Kerbrute user enumeration: one try per user


def test_security_and_system_log_cleared(hunt):
    security = hunt("SELECT Account FROM SecurityEvent WHERE EventID = 1102 ORDER BY TimeGenerated")
    assert len(security) == 6 and ("3B\\a-jbrown",) in security and ("OFFSEC\\admmig",) in security
    system = hunt("""SELECT Computer, json_extract_string(EventData, '$.LogFileCleared.SubjectUserName'),
                     json_extract_string(EventData, '$.LogFileCleared.Channel')
                     FROM WindowsEvent WHERE EventID = 104 AND Provider = 'Microsoft-Windows-Eventlog'""")
    assert system == [("PC01.example.corp", "user01", "System")]


def test_new_services_7045_and_4697(hunt):
    rows = hunt("""SELECT Computer, json_extract_string(EventData, '$.ServiceName'),
                          json_extract_string(EventData, '$.ImagePath')
                   FROM WindowsEvent WHERE EventID = 7045
                   UNION ALL SELECT Computer, ServiceName, ServiceFileName FROM SecurityEvent WHERE EventID = 4697""")
    assert rows == [("W10-1507-LTSB", "Command Execution Service", "C:\\CmdExecService\\cmdexsvc.exe")]


def test_process_creation_with_command_line(hunt):
    rows = hunt("""SELECT Account, Process, NewProcessName, CommandLine, ParentProcessName FROM SecurityEvent
                   WHERE EventID = 4688 AND CommandLine <> ''""")
    assert rows == [("OFFSEC\\JUMP01$", "WMIADAP.exe", "C:\\Windows\\System32\\wbem\\WMIADAP.exe", "wmiadap.exe /F /T",
                     "C:\\Windows\\System32\\svchost.exe")]
    assert hunt("SELECT count(*) FROM SecurityEvent WHERE EventID = 4688") == [(5,)]


def test_members_added_to_privileged_groups(hunt):
    rows = hunt("""SELECT DISTINCT SourceFile, MemberSid FROM SecurityEvent
                   WHERE EventID IN (4728, 4732, 4756) AND TargetAccount = 'Builtin\\Administrators' ORDER BY ALL""")
    assert len(rows) == 5
    assert ("T1136_create_account/deepbluecli__new-user-security.evtx",
            "S-1-5-21-3463664321-2923530833-3546627382-1000") in rows    # DeepBlueCLI: new user made an admin


def test_account_created_and_deleted_within_minutes(hunt):
    rows = hunt("""SELECT c.TargetAccount, c.SubjectAccount, d.TimeGenerated - c.TimeGenerated
                   FROM SecurityEvent c JOIN SecurityEvent d ON c.TargetSid = d.TargetSid
                   WHERE c.EventID = 4720 AND d.EventID = 4726 AND d.TimeGenerated - c.TimeGenerated < INTERVAL 1 HOUR""")
    assert rows == [("OFFSEC\\admin-kriss", "OFFSEC\\lambda-user", dt.timedelta(seconds=77, microseconds=989409))]


def test_scheduled_task_created_with_its_command(hunt):
    # TaskName has no Sentinel column: hunters read it from the EventData XML, as with parse_xml(EventData).
    rows = hunt("""SELECT SubjectAccount, regexp_extract(EventData, '<Data Name="TaskName">([^<]*)<', 1)
                   FROM SecurityEvent WHERE EventID = 4698 AND EventData LIKE '%cmd.exe%' ORDER BY ALL""")
    assert ("RE-DEV\\yolo", "\\T1053_005_OnLogon") in rows


def test_share_enumeration_by_source(hunt):
    rows = hunt("""SELECT IpAddress, count(*) FROM SecurityEvent WHERE EventID IN (5140, 5145)
                   AND ShareName = '\\\\*\\IPC$' GROUP BY ALL ORDER BY 2 DESC LIMIT 1""")
    assert rows == [("10.23.23.9", 78)]                      # SharpHound over SMB


def test_lsass_access_by_sysmon(hunt):
    rows = hunt("""SELECT json_extract_string(EventData, '$.SourceImage') FROM WindowsEvent
                   WHERE Channel = 'Microsoft-Windows-Sysmon/Operational' AND EventID = 10
                     AND json_extract_string(EventData, '$.TargetImage') ILIKE '%lsass.exe' ORDER BY ALL""")
    assert ("C:\\TOOLS\\Mimikatzx64\\mimikatz.exe",) in rows and ("C:\\Users\\IEUser\\Desktop\\procdump.exe",) in rows


def test_powershell_script_blocks_with_minidump(hunt):
    rows = hunt("""SELECT Computer FROM WindowsEvent WHERE EventID = 4104
                   AND json_extract_string(EventData, '$.ScriptBlockText') ILIKE '%MiniDumpWriteDump%'""")
    assert rows == [("MSEDGEWIN10",)]


def test_defender_detections(hunt):
    names = {r[0] for r in hunt("""SELECT json_extract_string(EventData, '$."Threat Name"') FROM WindowsEvent
                                   WHERE EventID IN (1116, 1117)""")}
    assert {"HackTool:Win32/Mimikatz.D", "HackTool:Win64/Mikatz!dha"} <= names


def test_rdp_logons_by_user_and_address(hunt):
    rows = hunt("""SELECT json_extract_string(EventData, '$.EventXML.Param1'),
                          json_extract_string(EventData, '$.EventXML.Param3'), count(*)
                   FROM WindowsEvent WHERE EventID = 1149 GROUP BY ALL ORDER BY 3 DESC""")
    assert rows[0] == ("admmig", "10.23.123.11", 11)


def test_run_key_persistence_by_sysmon(hunt):
    rows = hunt("""SELECT json_extract_string(EventData, '$.Details') FROM WindowsEvent
                   WHERE Channel = 'Microsoft-Windows-Sysmon/Operational' AND EventID = 13
                     AND json_extract_string(EventData, '$.TargetObject') ILIKE '%\\CurrentVersion\\Run%'""")
    assert ("C:\\Users\\Public\\tools\\apt\\tendyron.exe",) in rows


def test_logons_by_type_name(hunt):
    rows = dict(hunt("""SELECT LogonTypeName, count(*) FROM SecurityEvent WHERE EventID = 4624 GROUP BY ALL"""))
    assert rows and all(name.split(" - ")[0].isdigit() for name in rows)
    assert "3 - Network" in rows and "5 - Service" in rows
