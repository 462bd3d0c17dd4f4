"""Every structured CSV of a DFIR-Script collection, converted end to end from exact bytes."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import triageparse
from triageparse import contracts

from psbytes import CSV_DIR, c8, ca, zip_collection

UTC = dt.timezone.utc
CIM = ["PSComputerName", "CimClass", "CimInstanceProperties", "CimSystemProperties"]
CIM_VALUES = [None, "ROOT/StandardCimv2:X", "Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",
              "Microsoft.Management.Infrastructure.CimSystemProperties"]


def collection_files(date_text: dict[str, str]) -> dict[str, bytes]:
    d = date_text
    return {
        f"{CSV_DIR}/DNSCache.csv": c8(
            ["TimeToLive", "Caption", "Description", "ElementName", "InstanceId", "Data", "DataLength", "Entry", "Name",
             "Section", "Status", "Type", *CIM],
            [["52", None, None, None, None, "203.0.113.7", "4", "x7f3k9q2.badcdn.top", "x7f3k9q2.badcdn.top", "1", "0",
              "1", *CIM_VALUES],
             ["0", None, None, None, None, None, "0", "nothing.example", "nothing.example", None, "9501", "28",
              *CIM_VALUES]]),
        f"{CSV_DIR}/OpenTCPConnections.csv": c8(
            ["State", "AppliedSetting", "OffloadState", "CreationTime", "LocalAddress", "LocalPort", "OwningProcess",
             "RemoteAddress", "RemotePort", "InstanceID", *CIM],
            [["Established", "Internet", "InHost", d["a"], "10.0.0.5", "49721", "4242", "198.51.100.23", "443",
              "10.0.0.5++49721++198.51.100.23++443", *CIM_VALUES]]),
        f"{CSV_DIR}/IPConfiguration.csv": c8(
            ["PrefixOrigin", "SuffixOrigin", "Type", "Store", "AddressFamily", "AddressState", "ifIndex", "IPAddress",
             "InterfaceAlias", "InterfaceIndex", "PrefixLength", "ValidLifetime", "PreferredLifetime", "SkipAsSource",
             "OperationalStatus", *CIM],
            [["Dhcp", "Dhcp", "Unicast", "ActiveStore", "IPv4", "Preferred", "12", "10.0.0.5", "Ethernet0", "12", "24",
              "6.23:59:51", "10675199.02:48:05.4775807", "False", "System.UInt16[]", *CIM_VALUES]]),
        f"{CSV_DIR}/LocalUsers.csv": c8(
            ["AccountExpires", "Description", "Enabled", "FullName", "PasswordChangeableDate", "PasswordExpires",
             "UserMayChangePassword", "PasswordRequired", "PasswordLastSet", "LastLogon", "Name", "SID",
             "PrincipalSource", "ObjectClass"],
            [[None, "", "True", "", d["b"], None, "True", "True", d["b"], d["a"], "svc_backup",
              "S-1-5-21-1-2-3-1005", "Local", "User"]]),
        f"{CSV_DIR}/RunningServices.csv": c8(
            ["Name", "RequiredServices", "CanPauseAndContinue", "CanShutdown", "CanStop", "DisplayName",
             "DependentServices", "MachineName", "ServiceName", "ServicesDependedOn", "ServiceHandle", "Status",
             "ServiceType", "StartType", "Site", "Container"],
            [["w32time", "System.ServiceProcess.ServiceController[]", "False", "True", "True", "Windows Time",
              "System.ServiceProcess.ServiceController[]", ".", "w32time", "System.ServiceProcess.ServiceController[]",
              "SafeServiceHandle", "Running", "Win32OwnProcess, Win32ShareProcess", "Manual", None, None]]),
        f"{CSV_DIR}/ScheduledTasks.csv": c8(
            ["State", "Actions", "Author", "Date", "Description", "Documentation", "Principal", "SecurityDescriptor",
             "Settings", "Source", "TaskName", "TaskPath", "Triggers", "URI", "Version", *CIM],
            [["Ready", "Microsoft.Management.Infrastructure.CimInstance[]", "WS01\\admin", "2025-09-30T22:14:03",
              "health", None, "MSFT_TaskPrincipal2", None, "MSFT_TaskSettings3", None, "SvcHealthCheck",
              "\\Microsoft\\Windows\\UpdateOrchestrator\\", "Microsoft.Management.Infrastructure.CimInstance[]",
              "\\Microsoft\\Windows\\UpdateOrchestrator\\SvcHealthCheck", None, *CIM_VALUES]]),
        f"{CSV_DIR}/ScheduledTasksRunInfo.csv": c8(
            ["LastRunTime", "LastTaskResult", "NextRunTime", "NumberOfMissedRuns", "TaskName", "TaskPath", *CIM],
            [[d["a"], "267011", d["b"], "0", "SvcHealthCheck", "\\Microsoft\\Windows\\UpdateOrchestrator\\",
              *CIM_VALUES]]),
        f"{CSV_DIR}/AutoRun.csv": c8(["Name", "Command", "Location", "User"],
                                     [["OneDrive", "C:\\Users\\alice\\AppData\\Local\\Temp\\upd.exe /q",
                                       "HKU\\S-1-5-21-1-2-3-1001\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
                                       "WS01\\alice"]]),
        f"{CSV_DIR}/Win32RegRunKey.csv": c8(
            ["VMware User Process", "SecurityHealth", "PSPath", "PSParentPath", "PSChildName", "PSDrive", "PSProvider"],
            [["C:\\Program Files\\VMware\\vmtoolsd.exe", "%windir%\\system32\\SecurityHealthSystray.exe",
              "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\"
              "CurrentVersion\\Run", "x", "Run", "HKLM", "Microsoft.PowerShell.Core\\Registry"],
             ["", "", "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\"
              "Windows\\CurrentVersion\\RunOnce", "x", "RunOnce", "HKLM", "Microsoft.PowerShell.Core\\Registry"]]),
        f"{CSV_DIR}/Processes.csv": ca(["Proc_Path", "Proc_Hash"],
                                       [["C:\\Users\\J\u00fcrgen\\a.exe", "AB" * 32],
                                        ["C:\\Windows\\explorer.exe", "CD" * 32]]),
        "ProcessInformation/ProcessList.csv": ca(
            ["Proc_Name", "Proc_Path", "Proc_CommandLine", "Proc_ParentProcessId", "Proc_ProcessId", "Proc_Hash"],
            [["powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
              'powershell.exe -NoP -W Hidden -enc SQBFAFgA', "4000", "4242", "EF" * 32]]),
        f"{CSV_DIR}/SMBShares.csv": c8(
            ["PresetPathAcl", "ShareState", "AvailabilityType", "ShareType", "FolderEnumerationMode", "CachingMode",
             "CATimeout", "ConcurrentUserLimit", "ContinuouslyAvailable", "CurrentUsers", "Description", "EncryptData",
             "Name", "Path", "Scoped", "ScopeName", "SecurityDescriptor", "ShadowCopy", "Special", "Temporary",
             "Volume", *CIM],
            [["System.Security.AccessControl.DirectorySecurity", "Online", "NonClustered", "FileSystemDirectory",
              "Unrestricted", "Manual", "0", "16777216", "False", "0", "Remote Admin", "False", "ADMIN$",
              "C:\\Windows", "False", "*", "O:SYG:SYD:(A;;FA;;;BA)", "False", "True", "False",
              "\\\\?\\Volume{1}\\", *CIM_VALUES]]),
        f"{CSV_DIR}/ConnectedDevices.csv": c8(
            ["Class", "FriendlyName", "InstanceId", "Problem", "ConfigManagerErrorCode", "ProblemDescription",
             "Status", "Present", "HardwareID", *CIM],
            [["USB", "SanDisk Cruzer", "USB\\VID_0781", "CM_PROB_NONE", "CM_PROB_NONE", None, "OK", "True",
              "System.String[]", *CIM_VALUES]]),
        f"{CSV_DIR}/ShadowCopy.csv": c8(
            ["Caption", "Description", "InstallDate", "Name", "Status", "ClientAccessible", "Count", "DeviceObject",
             "ID", "SetID", "State", "VolumeName", *CIM],
            [[None, None, d["b"], None, None, "True", "1", "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1",
              "{A1}", "{B2}", "12", "\\\\?\\Volume{1}\\", *CIM_VALUES]]),
        f"{CSV_DIR}/InstalledSoftware.csv": c8(
            ["TimeCreated", "Message"],
            [[d["a"], "Windows Installer installed the product. Product Name: 7-Zip 23.01 (x64). Product Version: "
              "23.01.00.0. Product Language: 1033. Manufacturer: Igor Pavlov. Installation success or error status: 0."]]),
        f"{CSV_DIR}/NetworkShares.csv": c8(["PSPath", "PSParentPath", "PSChildName", "PSProvider"],
                                           [["Microsoft.PowerShell.Core\\Registry::HKEY_USERS\\S-1\\MountPoints2",
                                             "x", "MountPoints2", "Microsoft.PowerShell.Core\\Registry"]]),
        f"{CSV_DIR}/PowerShellHistory.csv": b"",
        f"{CSV_DIR}/Unknown.csv": c8(["Foo"], [["bar"]]),
    }


US = {"a": "9/20/2025 4:28:04 PM", "b": "9/1/2025 8:00:00 AM"}
DE = {"a": "20.09.2025 16:28:04", "b": "01.09.2025 08:00:00"}


def convert(tmp_path, dates, **kw):
    z = zip_collection(tmp_path / "DFIR-WS01-2025-10-02.zip", "DFIR-WS01-2025-10-02", collection_files(dates))
    out = tmp_path / "out"
    summary = triageparse.convert([z], out, **kw)
    return summary, out


def rows(out, table):
    return ds.dataset(out / table).to_table().to_pylist()


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    return convert(tmp_path_factory.mktemp("us"), US)


def test_every_listed_table_gets_its_rows_with_contract_types(converted):
    summary, out = converted
    expected = {"DnsCacheEntry": 2, "TcpConnection": 1, "NetIpAddress": 1, "LocalUser": 1, "Service": 1,
                "ScheduledTask": 1, "ScheduledTaskRunInfo": 1, "Autorun": 3, "ProcessImage": 2, "Process": 1,
                "SmbShare": 1, "PnpDevice": 1, "ShadowCopy": 1, "InstalledSoftware": 1, "NetworkShare": 1}
    for table, n in expected.items():
        assert summary.tables.get(table) == n, table
        assert ds.dataset(out / table).schema.equals(contracts.get(table).schema), table
    assert summary.rows_rejected == 0 and summary.ok


def test_dns_cache_values(converted):
    _, out = converted
    first, negative = rows(out, "DnsCacheEntry")
    assert (first["Entry"], first["Data"], first["RecordType"], first["RecordTypeName"], first["TimeToLive"]) == \
        ("x7f3k9q2.badcdn.top", "203.0.113.7", 1, "A", 52)
    assert first["Computer"] == "WS01" and first["SourceFile"] == f"{CSV_DIR}/DNSCache.csv"
    assert first["SourceRecord"] == 1 and first["AdditionalFields"] is None   # CIM metadata is dropped, not kept
    assert (negative["Status"], negative["StatusName"], negative["Data"], negative["Section"]) == \
        (9501, "NoRecords", None, None)


def test_local_times_are_kept_as_utc_wall_clock_without_a_timezone(converted):
    summary, out = converted
    tcp = rows(out, "TcpConnection")[0]
    assert tcp["CreationTime"] == dt.datetime(2025, 9, 20, 16, 28, 4, tzinfo=UTC)
    assert (tcp["LocalPort"], tcp["RemotePort"], tcp["OwningProcess"]) == (49721, 443, 4242)
    coll = rows(out, "Collection")[0]
    assert (coll["TimeZoneSource"], coll["DateCulture"], coll["Computer"]) == ("assumed-utc", "en-US", "WS01")


def test_booleans_timespans_and_reserved_names(converted):
    _, out = converted
    ip = rows(out, "NetIpAddress")[0]
    assert ip["SkipAsSource"] is False and ip["AddressKind"] == "Unicast" and ip["InterfaceIndex"] == 12
    assert ip["ValidLifetimeSeconds"] == 6 * 86400 + 23 * 3600 + 59 * 60 + 51
    assert ip["PreferredLifetimeSeconds"] is None          # TimeSpan.MaxValue = infinite
    assert '"OperationalStatus"' not in (ip["AdditionalFields"] or "")   # placeholder nulled, not kept as data
    user = rows(out, "LocalUser")[0]
    assert user["Enabled"] is True and user["AccountExpires"] is None
    assert user["LastLogon"] == dt.datetime(2025, 9, 20, 16, 28, 4, tzinfo=UTC)


def test_placeholders_become_null_and_are_counted(converted):
    _, out = converted
    svc = rows(out, "Service")[0]
    assert svc["Source"] == "GetService" and svc["ServiceType"] == "Win32OwnProcess, Win32ShareProcess"
    task = rows(out, "ScheduledTask")[0]
    assert task["Command"] is None and task["Source"] == "GetScheduledTask"
    assert task["RegistrationDate"] == dt.datetime(2025, 9, 30, 22, 14, 3, tzinfo=UTC)
    assert rows(out, "Collection")[0]["PlaceholdersNulled"] > 0
    assert rows(out, "PnpDevice")[0]["AdditionalFields"] is None


def test_run_key_csv_is_unpivoted_one_row_per_value(converted):
    _, out = converted
    autoruns = rows(out, "Autorun")
    reg = [r for r in autoruns if r["Source"] == "RegistryRunKey"]
    assert {(r["Name"], r["Command"]) for r in reg} == {
        ("VMware User Process", "C:\\Program Files\\VMware\\vmtoolsd.exe"),
        ("SecurityHealth", "%windir%\\system32\\SecurityHealthSystray.exe")}
    assert {r["Location"] for r in reg} == {"HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Run"}
    startup = [r for r in autoruns if r["Source"] == "Win32_StartupCommand"][0]
    assert "Temp" in startup["Command"] and startup["User"] == "WS01\\alice"


def test_ascii_exports_are_flagged_lossy(converted):
    _, out = converted
    images = rows(out, "ProcessImage")
    assert images[0]["Path"] == "C:\\Users\\J?rgen\\a.exe" and images[0]["Lossy"] is True
    assert images[1]["Lossy"] is False
    proc = rows(out, "Process")[0]
    assert (proc["ProcessId"], proc["ParentProcessId"], proc["Name"]) == (4242, 4000, "powershell.exe")


def test_installed_software_fields_come_from_the_english_message(converted):
    _, out = converted
    sw = rows(out, "InstalledSoftware")[0]
    assert (sw["ProductName"], sw["ProductVersion"], sw["Manufacturer"], sw["InstallStatus"]) == \
        ("7-Zip 23.01 (x64)", "23.01.00.0", "Igor Pavlov", 0)


def test_every_member_is_inventoried_with_size_hash_and_status(converted):
    _, out = converted
    files = {r["SourceFile"]: r for r in rows(out, "CollectedFile")}
    assert len(files) == len(collection_files(US))
    assert files[f"{CSV_DIR}/PowerShellHistory.csv"]["Status"] == "empty"
    assert files[f"{CSV_DIR}/Unknown.csv"]["Status"] == "unparsed"
    assert all(len(r["Sha256"]) == 64 and r["SizeBytes"] is not None for r in files.values())
    assert all(r["RowsRead"] == r["RowsWritten"] + r["RowsRejected"] for r in files.values())


def test_de_de_host_with_timezone_gives_utc(tmp_path):
    summary, out = convert(tmp_path, DE, timezone="Europe/Berlin")
    tcp = rows(out, "TcpConnection")[0]
    assert tcp["CreationTime"] == dt.datetime(2025, 9, 20, 14, 28, 4, tzinfo=UTC)
    coll = rows(out, "Collection")[0]
    assert (coll["DateCulture"], coll["TimeZoneSource"]) == ("de-DE", "argument")


def test_culture_override_wins(tmp_path):
    summary, out = convert(tmp_path, {"a": "02/01/2025 10:00:00", "b": "03/01/2025 10:00:00"}, culture="en-US")
    assert rows(out, "TcpConnection")[0]["CreationTime"].month == 2


def test_two_conversions_give_identical_bytes(tmp_path):
    z = zip_collection(tmp_path / "DFIR-WS01-2025-10-02.zip", "DFIR-WS01-2025-10-02", collection_files(US))
    out1, out2 = tmp_path / "a", tmp_path / "b"
    triageparse.convert([z], out1)
    triageparse.convert([z], out2)
    files1 = sorted(p.relative_to(out1) for p in out1.rglob("*.parquet"))
    assert files1 == sorted(p.relative_to(out2) for p in out2.rglob("*.parquet"))
    for rel in files1:
        assert (out1 / rel).read_bytes() == (out2 / rel).read_bytes(), rel


def test_values_over_a_million_characters_are_cut_and_said_so_but_not_long_multibyte_ones(tmp_path):
    from triageparse.artifacts.base import MAX_FIELD_CHARS
    long_ascii = "a" * (MAX_FIELD_CHARS + 10)
    long_bytes = "é" * MAX_FIELD_CHARS        # 2 MiB of UTF-8, but exactly the limit in characters
    header = ["TimeToLive", "Data", "DataLength", "Entry", "Name", "Section", "Status", "Type"]
    csv = c8(header, [["1", "10.0.0.1", "4", long_ascii, "a.example", "1", "0", "1"],
                      ["1", "10.0.0.2", "4", long_bytes, "b.example", "1", "0", "1"]])
    z = zip_collection(tmp_path / "DFIR-WS01-2025-10-02.zip", "DFIR-WS01-2025-10-02", {f"{CSV_DIR}/DNSCache.csv": csv})
    triageparse.convert([z], tmp_path / "out")
    entries = {r["Name"]: r["Entry"] for r in rows(tmp_path / "out", "DnsCacheEntry")}
    assert entries["a.example"] == "a" * MAX_FIELD_CHARS
    assert entries["b.example"] == long_bytes
    issues = [i["Reason"] for i in rows(tmp_path / "out", "ParseIssue")]
    assert any(f"1 value(s) of Entry longer than {MAX_FIELD_CHARS:,} characters were cut" in r for r in issues), issues
