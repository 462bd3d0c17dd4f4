"""The text renderings of each script family fill the same tables as the CSVs, and a row that a
collection holds both as CSV and as text is written once (exact UTF-16LE bytes throughout)."""
from __future__ import annotations

import datetime as dt
import json

from psbytes import CSV_DIR, c8, u16
from pswrap import fl
from textrender_helpers import convert_files, files, issues, rows

UTC = dt.timezone.utc

SERVICES = fl([
    [("Name", "w32time"), ("DisplayName", "Windows Time"), ("Status", "Running"), ("DependentServices", "{}"),
     ("ServicesDependedOn", "{}"), ("CanPauseAndContinue", "False"), ("CanShutdown", "True"), ("CanStop", "True"),
     ("ServiceType", "Win32OwnProcess, Win32ShareProcess")],
    [("Name", "LanmanServer"), ("DisplayName", "Server"), ("Status", "Running"),
     ("DependentServices", "{Browser, Netlogon, SessionEnv, Srv2...}"), ("ServicesDependedOn", "{SamSS, Srv2}"),
     ("CanPauseAndContinue", "True"), ("CanShutdown", "False"), ("CanStop", "True"),
     ("ServiceType", "Win32ShareProcess")],
])
DNS = fl([
    [("Entry", "x7f3k9q2.badcdn.top"), ("RecordName", "x7f3k9q2.badcdn.top"), ("RecordType", "A"),
     ("Status", "Success"), ("Section", "Answer"), ("TimeToLive", "52"), ("DataLength", "4"), ("Data", "203.0.113.7")],
    [("Entry", "nothing.example"), ("RecordName", "nothing.example"), ("RecordType", "AAAA"), ("Status", "NoRecords"),
     ("Section", ""), ("TimeToLive", "0"), ("DataLength", "0"), ("Data", "")],
])
AUTORUNS = fl([
    [("Name", "OneDrive"), ("Command", '"C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe" /background'),
     ("Location", "HKU\\S-1-5-21-1-2-3-1001\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"), ("User", "WS01\\alice")],
    [("Name", "updater"), ("Command", "C:\\ProgramData\\upd\\upd.exe -silent"), ("Location", "Common Startup"),
     ("User", "Public")],
])
TASKS = fl([[
    ("State", "Ready"), ("Actions", "{MSFT_TaskExecAction}"), ("Author", "WS01\\admin"), ("Date", "2025-09-30T22:14:03"),
    ("Description", "health"), ("Documentation", ""), ("Principal", "MSFT_TaskPrincipal2"), ("SecurityDescriptor", ""),
    ("Settings", "MSFT_TaskSettings3"), ("Source", ""), ("TaskName", "SvcHealthCheck"),
    ("TaskPath", "\\Microsoft\\Windows\\UpdateOrchestrator\\"), ("Triggers", "{MSFT_TaskLogonTrigger}"),
    ("URI", "\\Microsoft\\Windows\\UpdateOrchestrator\\SvcHealthCheck"), ("Version", ""), ("PSComputerName", "")]])
RUN_INFO = fl([[
    ("LastRunTime", "9/30/2025 10:14:03 PM"), ("LastTaskResult", "267011"), ("NextRunTime", "10/3/2025 3:00:00 AM"),
    ("NumberOfMissedRuns", "0"), ("TaskName", "SvcHealthCheck"), ("TaskPath", "\\Microsoft\\Windows\\UpdateOrchestrator\\"),
    ("PSComputerName", "")]])
IPINFO = fl([
    [("IPAddress", "10.0.0.5"), ("InterfaceIndex", "12"), ("InterfaceAlias", "Ethernet0"), ("AddressFamily", "IPv4"),
     ("Type", "Unicast"), ("PrefixLength", "24"), ("PrefixOrigin", "Dhcp"), ("SuffixOrigin", "Dhcp"),
     ("AddressState", "Preferred"), ("ValidLifetime", "6.23:59:51"), ("PreferredLifetime", "6.23:59:51"),
     ("SkipAsSource", "False"), ("PolicyStore", "ActiveStore")],
    [("IPAddress", "127.0.0.1"), ("InterfaceIndex", "1"), ("InterfaceAlias", "Loopback Pseudo-Interface 1"),
     ("AddressFamily", "IPv4"), ("Type", "Unicast"), ("PrefixLength", "8"), ("PrefixOrigin", "WellKnown"),
     ("SuffixOrigin", "WellKnown"), ("AddressState", "Preferred"), ("ValidLifetime", "Infinite ([TimeSpan]::MaxValue)"),
     ("PreferredLifetime", "Infinite ([TimeSpan]::MaxValue)"), ("SkipAsSource", "False"), ("PolicyStore", "ActiveStore")],
])
LOCAL_USERS = (
    "\n"
    "Name               Enabled Description\n"
    "----               ------- -----------\n"
    "Administrator      False   Built-in account for administering the computer/domain\n"
    "svc_backup         True    Backup service account created by the helpdesk for the nightly...\n"
    "WDAGUtilityAccount False   A user account managed and used by the system for Windows Defende...\n"
    "\n\n")
CONNECTIONS = (
    "\n"
    "LocalAddress                        LocalPort RemoteAddress                       RemotePort State       AppliedSetting OwningProcess\n"
    "------------                        --------- -------------                       ---------- -----       -------------- -------------\n"
    "10.0.0.5                                49721 198.51.100.23                              443 Established Internet                4242\n"
    "fe80::1c2d:3e4f:5a6b:7c8d%12            49722 fe80::99aa:bbcc:ddee:ff00%12                445 Established Datacenter              4\n"
    "\n\n")
SHARES = (
    "\n"
    "Name   ScopeName Path       Description\n"
    "----   --------- ----       -----------\n"
    "ADMIN$ *         C:\\Windows Remote Admin\n"
    "C$     *         C:\\        Default share\n"
    "IPC$   *                    Remote IPC\n"
    "Share  *         D:\\Share\n"
    "\n\n")
COMMANDLINES = fl([
    [("Name", "svchost.exe"), ("ProcessId", "912"), ("CommandLine", "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p"),
     ("Path", "C:\\Windows\\system32\\svchost.exe")],
    [("Name", "System Idle Process"), ("ProcessId", "0"), ("CommandLine", ""), ("Path", "")],
])
PROCESS_TABLE = (
    "\n"
    "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\n"
    "-------  ------    -----      -----     ------     --  -- -----------\n"
    "    221      14     3108      11112       0.06   4508   0 AggregatorHost\n"
    "   1242      26     6612      19640       3.20    912   0 svchost\n"
    "      0       0       60          8                 0   0 Idle\n"
    "\n\n")
PROCESS_DETAIL = fl([
    [("Name", "svchost"), ("Id", "912"), ("PriorityClass", "Normal"), ("HandleCount", "1242"),
     ("Path", "C:\\Windows\\system32\\svchost.exe"), ("ProcessName", "svchost"), ("StartTime", "3/14/2023 8:01:12 AM")],
    [("Name", "evil"), ("Id", "7777"), ("PriorityClass", "Normal"), ("HandleCount", "88"),
     ("Path", "C:\\Users\\Public\\evil.exe"), ("ProcessName", "evil"), ("StartTime", "3/14/2023 9:13:55 AM")],
])
PROCESS_PRIORITY = (
    "\n\n"
    "   PriorityClass: Normal\n"
    "\n"
    "ProcessName        Id HandleCount WorkingSet\n"
    "-----------        -- ----------- ----------\n"
    "AggregatorHost   4508         221   11378688\n"
    "\n\n")

NETWORK_SHARES = (
    "\n\n"
    "    Hive: HKEY_CURRENT_USER\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\n"
    "\n\n"
    "Name                           Property\n"
    "----                           --------\n"
    "##fileserver01#Finance         _LabelFromReg : Finance\n"
    "                               BaseClass     : Drive\n"
    "{30b78ef0-588b-433a-b77b-ef... BaseClass : Drive\n"
    "\n\n")

F1_FILES = {
    "Connections/NetworkShares.txt": u16(NETWORK_SHARES),
    "Connections/DNSCache.txt": u16(DNS),
    "Connections/OpenConnections.txt": u16(CONNECTIONS),
    "Connections/SMBShares.txt": u16(SHARES),
    "Persistence/AutoRunInfo.txt": u16(AUTORUNS),
    "Applications/RecentlyInstalledSoftwareEventLogs.txt": u16(SERVICES),   # 479cd3b … 80b8a70: services
    "ScheduledTask/ScheduledTasksList.txt": u16(TASKS),
    "ScheduledTask/ScheduledTasksListRunInfo.txt": u16(RUN_INFO),
    "UserInformation/LocalUsers.txt": u16(LOCAL_USERS),
    "ipinfo.txt": u16(IPINFO),
    "ProcessInformation/CommandlineInformation.txt": u16(COMMANDLINES),
    "ProcessInformation/ProcessList.txt": u16(PROCESS_TABLE),
    "ProcessInformation/ProcessListDetailed.txt": u16(PROCESS_DETAIL),
    "ProcessInformation/ProcessPriorityList.txt": u16(PROCESS_PRIORITY),
}


def test_f1_text_only_collection_fills_the_csv_tables(tmp_path):
    summary, out = convert_files(tmp_path, F1_FILES, host="LEGACY01", date="2023-03-14")
    assert summary.collections[0].family == "F1"
    assert summary.errors == 0, [i for i in issues(out) if i["Severity"] == "error"]

    dns = rows(out, "DnsCacheEntry")
    assert [(r["Entry"], r["Name"], r["RecordType"], r["RecordTypeName"], r["Status"], r["Section"], r["TimeToLive"],
             r["Data"]) for r in dns] == [
        ("x7f3k9q2.badcdn.top", "x7f3k9q2.badcdn.top", 1, "A", 0, 1, 52, "203.0.113.7"),
        ("nothing.example", "nothing.example", 28, "AAAA", 9501, None, 0, None)]

    services = rows(out, "Service")
    assert [(r["Name"], r["DisplayName"], r["Status"], r["ServiceType"], r["CanStop"], r["Source"]) for r in services] == [
        ("w32time", "Windows Time", "Running", "Win32OwnProcess, Win32ShareProcess", True, "GetService"),
        ("LanmanServer", "Server", "Running", "Win32ShareProcess", True, "GetService")]
    assert rows(out, "InstalledSoftware") == []          # the misnamed file held services, not MSI events

    autoruns = rows(out, "Autorun")
    assert [(r["Name"], r["Location"], r["User"], r["Source"], r["Truncated"]) for r in autoruns] == [
        ("OneDrive", "HKU\\S-1-5-21-1-2-3-1001\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", "WS01\\alice",
         "Win32_StartupCommand", False),
        ("updater", "Common Startup", "Public", "Win32_StartupCommand", False)]

    [task] = rows(out, "ScheduledTask")
    assert (task["TaskName"], task["TaskPath"], task["State"], task["Author"], task["Source"]) == (
        "SvcHealthCheck", "\\Microsoft\\Windows\\UpdateOrchestrator\\", "Ready", "WS01\\admin", "GetScheduledTask")
    assert task["RegistrationDate"] == dt.datetime(2025, 9, 30, 22, 14, 3, tzinfo=UTC)
    [info] = rows(out, "ScheduledTaskRunInfo")
    assert (info["LastRunTime"], info["LastTaskResult"], info["NextRunTime"]) == (
        dt.datetime(2025, 9, 30, 22, 14, 3, tzinfo=UTC), 267011, dt.datetime(2025, 10, 3, 3, 0, tzinfo=UTC))

    users = rows(out, "LocalUser")
    assert [(r["Name"], r["Enabled"], r["Truncated"]) for r in users] == [
        ("Administrator", False, False), ("svc_backup", True, True), ("WDAGUtilityAccount", False, True)]
    assert users[1]["Description"].endswith("nightly...")      # kept as printed, flagged

    tcp = rows(out, "TcpConnection")
    assert [(r["LocalAddress"], r["LocalPort"], r["RemoteAddress"], r["RemotePort"], r["State"], r["OwningProcess"])
            for r in tcp] == [("10.0.0.5", 49721, "198.51.100.23", 443, "Established", 4242),
                              ("fe80::1c2d:3e4f:5a6b:7c8d%12", 49722, "fe80::99aa:bbcc:ddee:ff00%12", 445, "Established", 4)]

    shares = rows(out, "SmbShare")
    assert [(r["Name"], r["ScopeName"], r["Path"] or "", r["Description"] or "") for r in shares] == [
        ("ADMIN$", "*", "C:\\Windows", "Remote Admin"), ("C$", "*", "C:\\", "Default share"),
        ("IPC$", "*", "", "Remote IPC"), ("Share", "*", "D:\\Share", "")]

    ips = rows(out, "NetIpAddress")
    assert [(r["IPAddress"], r["InterfaceIndex"], r["AddressKind"], r["ValidLifetimeSeconds"], r["SkipAsSource"])
            for r in ips] == [("10.0.0.5", 12, "Unicast", 604791, False), ("127.0.0.1", 1, "Unicast", None, False)]

    shares = rows(out, "NetworkShare")
    assert [(r["PSChildName"], r["KeyName"], r["ValueCount"], json.loads(r["AdditionalFields"])) for r in shares] == [
        ("##fileserver01#Finance",
         "HKEY_CURRENT_USER\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\##fileserver01#Finance",
         2, {"Values": {"_LabelFromReg": "Finance", "BaseClass": "Drive"}}),
        ("{30b78ef0-588b-433a-b77b-ef...",
         "HKEY_CURRENT_USER\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\{30b78ef0-588b-433a-b77b-ef...",
         1, {"Truncated": True, "Values": {"BaseClass": "Drive"}})]

    processes = rows(out, "Process")
    by_pid = {r["ProcessId"]: r for r in processes}
    assert sorted(by_pid) == [0, 912, 4508, 7777] and len(processes) == 4       # each PID written once
    assert by_pid[912]["CommandLine"] == "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p"
    assert by_pid[912]["SourceFile"] == "ProcessInformation/CommandlineInformation.txt"
    assert json.loads(by_pid[912]["AdditionalFields"]) == {      # the detailed list's facts travel along
        "StartTime": "3/14/2023 8:01:12 AM", "PriorityClass": "Normal", "HandleCount": "1242",
        "DetailsFrom": "ProcessInformation/ProcessListDetailed.txt"}
    assert by_pid[7777]["SourceFile"] == "ProcessInformation/ProcessListDetailed.txt"
    assert by_pid[7777]["Path"] == "C:\\Users\\Public\\evil.exe"
    assert by_pid[4508]["SourceFile"] == "ProcessInformation/ProcessList.txt" and by_pid[4508]["Name"] == "AggregatorHost"
    assert files(out)["ProcessInformation/ProcessPriorityList.txt"]["RowsWritten"] == 0


RUN_ONCE_VALUE = 'C:\\Windows\\system32\\cmd.exe /q /c del /q "C:\\Program Files\\Contoso\\stage2.exe"'
REG_BASE = "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion"
HKLM_BASE = "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion"     # the form every Autorun source uses


def _reg_block(values: list[tuple[str, str]], key: str) -> list[tuple[str, str]]:
    return values + [("PSPath", f"{REG_BASE}\\{key}"), ("PSParentPath", REG_BASE), ("PSChildName", key),
                     ("PSDrive", "HKLM"), ("PSProvider", "Microsoft.PowerShell.Core\\Registry")]


RUN_VALUES = [("VMware User Process", '"C:\\Program Files\\VMware\\VMware Tools\\vmtoolsd.exe" -n vmusr'),
              ("SecurityHealth", "C:\\Windows\\system32\\SecurityHealthSystray.exe")]
# Two Out-File calls: RunOnce first, then Run with -Append (no second BOM).
REG_TXT = u16(fl([_reg_block([("Delete Cached Stage2", RUN_ONCE_VALUE)], "RunOnce")])
              + fl([_reg_block(RUN_VALUES, "Run")]))
# ConvertTo-Csv takes the header from the Run object: the RunOnce value name is dropped.
REG_CSV = c8([n for n, _ in RUN_VALUES] + ["PSPath", "PSParentPath", "PSChildName", "PSDrive", "PSProvider"],
             [[v for _, v in RUN_VALUES] + [f"{REG_BASE}\\Run", REG_BASE, "Run", "HKLM", "Microsoft.PowerShell.Core\\Registry"],
              [None, None, f"{REG_BASE}\\RunOnce", REG_BASE, "RunOnce", "HKLM", "Microsoft.PowerShell.Core\\Registry"]])


def test_runonce_values_lost_by_the_csv_come_from_the_text_and_nothing_twice(tmp_path):
    assert REG_TXT.count(b"\xff\xfe") == 1
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/Win32RegRunKey.csv": REG_CSV,
                                            "Persistence/Win32RegRunKey.txt": REG_TXT})
    got = [(r["Location"], r["Name"], r["Command"], r["SourceFile"].split("/")[0]) for r in rows(out, "Autorun")]
    assert sorted(got) == sorted([
        (f"{HKLM_BASE}\\Run", "VMware User Process", RUN_VALUES[0][1], CSV_DIR),
        (f"{HKLM_BASE}\\Run", "SecurityHealth", RUN_VALUES[1][1], CSV_DIR),
        (f"{HKLM_BASE}\\RunOnce", "Delete Cached Stage2", RUN_ONCE_VALUE, "Persistence")])
    assert "2 row(s) already written from" in files(out)["Persistence/Win32RegRunKey.txt"]["Detail"]


def test_registry_text_alone_gives_every_value_with_the_wrapped_path_rejoined(tmp_path):
    summary, out = convert_files(tmp_path, {"Persistence/Win32RegRunKey.txt": REG_TXT})
    got = [(r["Location"], r["Name"]) for r in rows(out, "Autorun")]
    assert got == [(f"{HKLM_BASE}\\RunOnce", "Delete Cached Stage2"), (f"{HKLM_BASE}\\Run", "VMware User Process"),
                   (f"{HKLM_BASE}\\Run", "SecurityHealth")]


SERVICE_CSV = c8(
    ["Name", "RequiredServices", "CanPauseAndContinue", "CanShutdown", "CanStop", "DisplayName", "DependentServices",
     "MachineName", "ServiceName", "ServicesDependedOn", "ServiceHandle", "Status", "ServiceType", "StartType", "Site",
     "Container"],
    [["w32time", "System.ServiceProcess.ServiceController[]", "False", "True", "True", "Windows Time",
      "System.ServiceProcess.ServiceController[]", ".", "w32time", "System.ServiceProcess.ServiceController[]",
      "SafeServiceHandle", "Running", "Win32OwnProcess, Win32ShareProcess", "Manual", None, None]])
MSI_MESSAGE = ("Windows Installer installed the product. Product Name: Contoso Remote Support Agent. Product Version: "
               "5.1.2. Product Language: 1033. Manufacturer: Contoso Ltd. Installation success or error status: 0.")


def test_f6_csv_and_text_of_the_same_data_are_written_once(tmp_path):
    files_ = {
        f"{CSV_DIR}/RunningServices.csv": SERVICE_CSV,
        "Services/RunningServices.txt": u16(SERVICES),
        f"{CSV_DIR}/InstalledSoftware.csv": c8(["TimeCreated", "Message"], [["9/30/2025 10:14:03 PM", MSI_MESSAGE]]),
        "Applications/RecentlyInstalledSoftwareEventLogs.txt": u16(fl([
            [("TimeCreated", "9/30/2025 10:14:03 PM"), ("Message", MSI_MESSAGE)],
            [("TimeCreated", "10/1/2025 9:00:00 AM"), ("Message", MSI_MESSAGE.replace("Contoso Remote", "Other"))]],
            words=True)),
    }
    summary, out = convert_files(tmp_path, files_)
    services = rows(out, "Service")
    assert [(r["Name"], r["SourceFile"]) for r in services] == [
        ("w32time", f"{CSV_DIR}/RunningServices.csv"), ("LanmanServer", "Services/RunningServices.txt")]
    software = rows(out, "InstalledSoftware")
    assert [(r["ProductName"], r["ProductVersion"], r["SourceFile"]) for r in software] == [
        ("Other Support Agent", "5.1.2", "Applications/RecentlyInstalledSoftwareEventLogs.txt"),
        ("Contoso Remote Support Agent", "5.1.2", f"{CSV_DIR}/InstalledSoftware.csv")]
    assert software[0]["Message"] == MSI_MESSAGE.replace("Contoso Remote", "Other")   # word wrap undone exactly


def test_truncated_text_row_matching_a_csv_row_is_not_written_again(tmp_path):
    ipv6 = "fe80::1c2d:3e4f:5a6b:7c8d:1111:2222%12"
    csv = c8(["State", "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "OwningProcess"],
             [["Established", ipv6, "49722", "fe80::99aa%12", "445", "4"]])
    text = ("\n"
            "LocalAddress                        LocalPort RemoteAddress                       RemotePort State\n"
            "------------                        --------- -------------                       ---------- -----\n"
            "fe80::1c2d:3e4f:5a6b:7c8d:1111:2...     49722 fe80::99aa%12                              445 Established\n"
            "10.0.0.5                                49721 198.51.100.23                              443 Established\n"
            "\n")
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/OpenTCPConnections.csv": csv,
                                            "Connections/OpenConnections.txt": u16(text)})
    got = [(r["LocalAddress"], r["Truncated"], r["SourceFile"].split("/")[0]) for r in rows(out, "TcpConnection")]
    assert sorted(got) == sorted([(ipv6, None, CSV_DIR), ("10.0.0.5", False, "Connections")])


def test_collections_cut_in_the_text_are_flagged(tmp_path):
    detail = fl([[("Name", "svchost"), ("Id", "912"), ("HandleCount", "1242"), ("ProcessName", "svchost"),
                  ("Modules", "{System.Diagnostics.ProcessModule (svchost.exe), System.Diagnostics.ProcessModule "
                              "(ntdll.dll), System.Diagnostics.ProcessModule (KERNEL32.DLL), "
                              "System.Diagnostics.ProcessModule (KERNELBASE.dll)...}")],
                 [("Name", "Idle"), ("Id", "0"), ("HandleCount", "0"), ("ProcessName", "Idle"), ("Modules", "{}")]])
    summary, out = convert_files(tmp_path, {"ProcessInformation/ProcessListDetailed.txt": u16(detail)})
    assert [(r["ProcessId"], r["Truncated"]) for r in rows(out, "Process")] == [(912, True), (0, False)]
    # Collections the contract ignores (Service dependencies) do not mark the row.
    summary, out = convert_files(tmp_path / "svc", {"Services/RunningServices.txt": u16(SERVICES)})
    assert [r["AdditionalFields"] for r in rows(out, "Service")] == [None, None]


def test_empty_text_renderings_are_collected_without_rows(tmp_path):
    summary, out = convert_files(tmp_path, {"Connections/NetworkShares.txt": b"", "UserInformation/LocalUsers.txt": b"\xff\xfe"})
    got = files(out)
    assert (got["Connections/NetworkShares.txt"]["Parser"], got["Connections/NetworkShares.txt"]["Status"]) == (
        "network_share_txt", "empty")
    assert (got["UserInformation/LocalUsers.txt"]["Parser"], got["UserInformation/LocalUsers.txt"]["Status"]) == (
        "local_user_txt", "empty")


def test_every_rendering_keys_rows_by_columns_of_its_table():
    from triageparse import contracts
    from triageparse.artifacts.base import registered
    from triageparse.artifacts.text_renderings import RegRunKeyText, TextRendering
    names = {cls.name for cls in registered()}
    for cls in registered():
        if issubclass(cls, TextRendering):
            contract = contracts.get(cls.table)
            if cls is not RegRunKeyText:          # keyed by (key leaf, value name), see key_of
                assert cls.key and set(cls.key) <= set(contract.by_name), cls.name
            assert set(cls.winners) <= names, cls.name


def test_columns_dropped_at_a_narrow_width_make_the_file_lossy_and_still_match_the_csv(tmp_path):
    # At 79 columns Format-Table drops the columns that do not fit: only the local end point is left.
    narrow = ("\n"
              "LocalAddress                        LocalPort\n"
              "------------                        ---------\n"
              "10.0.0.5                                49721\n"
              "10.0.0.5                                50001\n"
              "\n\n")
    csv = c8(["State", "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "OwningProcess"],
             [["Established", "10.0.0.5", "49721", "198.51.100.23", "443", "4242"]])
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/OpenTCPConnections.csv": csv,
                                            "Connections/OpenConnections.txt": u16(narrow)})
    got = [(r["LocalPort"], r["RemoteAddress"], r["SourceFile"].split("/")[0]) for r in rows(out, "TcpConnection")]
    assert sorted(got) == [(49721, "198.51.100.23", CSV_DIR), (50001, None, "Connections")]
    f = files(out)["Connections/OpenConnections.txt"]
    assert f["Status"] == "lossy" and "remoteaddress" in f["Detail"]


OFFICE = (
    "\n\n"
    "    Hive: HKEY_USERS\\S-1-5-21-1-2-3-1001\\SOFTWARE\\Microsoft\\Office\\16.0\\Common\\Internet\\Server Cache\n"
    "\n\n"
    "Name                           Property\n"
    "----                           --------\n"
    "https://contoso-my.sharepoint… Type       : 1\n"
    "                               Expiration : {21, 77, 115, 157...}\n"
    "http://198.51.100.23/          Type : 2\n"
    "\n\n")


def test_office_server_cache_table_fills_office_connection(tmp_path):
    summary, out = convert_files(tmp_path, {"Connections/ConnectionsMadeByOffice.txt": u16(OFFICE)})
    got = [(r["PSChildName"], r["ValueCount"], json.loads(r["AdditionalFields"])) for r in rows(out, "OfficeConnection")]
    assert got == [("https://contoso-my.sharepoint…", 2, {"Truncated": True, "Values": {
                        "Type": "1", "Expiration": "{21, 77, 115, 157...}"}}),
                   ("http://198.51.100.23/", 1, {"Values": {"Type": "2"}})]
    assert rows(out, "NetworkShare") == []


def test_registry_item_lists_of_other_keys_are_not_taken_for_run_keys(tmp_path):
    # F0-F2 ConnectionsMadeByOffice.txt: Get-ItemProperty of the Server Cache key, a Format-List of
    # registry-item labels like Win32RegRunKey.txt; it must not become Autorun rows.
    text = fl([[("Version", "16.0"), ("PSPath", "Microsoft.PowerShell.Core\\Registry::HKEY_CURRENT_USER\\SOFTWARE\\"
                                                "Microsoft\\Office\\16.0\\Common\\Internet\\Server Cache"),
                ("PSParentPath", "Microsoft.PowerShell.Core\\Registry::HKEY_CURRENT_USER\\SOFTWARE\\Microsoft\\Office"
                                 "\\16.0\\Common\\Internet"),
                ("PSChildName", "Server Cache"), ("PSDrive", "HKCU"), ("PSProvider", "Microsoft.PowerShell.Core\\Registry")]])
    summary, out = convert_files(tmp_path, {"Connections/ConnectionsMadeByOffice.txt": u16(text)})
    assert rows(out, "Autorun") == []
    assert files(out)["Connections/ConnectionsMadeByOffice.txt"]["Parser"] != "reg_run_key_txt"
