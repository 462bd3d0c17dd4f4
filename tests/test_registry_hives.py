"""Raw registry hives of the corpus through the real converter.

Run/RunOnce values are checked against MANIFEST.json; services of the clean SYSTEM hive against
regipy's own ``services`` plugin (a separate reading path); dirty hives (with and without their
transaction logs) and corrupt hives must give what can be read plus ParseIssues, never an abort.
"""
from __future__ import annotations

import datetime as dt
import json
import lzma
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from triageparse import convert
from triageparse.artifacts.registry_hives import START_TYPES, _regipy_inline_values, service_type_names

UTC = dt.timezone.utc
HIVE_KINDS = ("registry_hive", "registry_hive_xz")


def materialise(corpus: Path, staged: str, target: Path) -> Path:
    """Copy a corpus file, decompressing the .xz ones, to ``target`` (the corpus stays read-only)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if staged.endswith(".xz"):
        with lzma.open(corpus / staged) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copyfile(corpus / staged, target)
    return target


def rows(out: Path, table: str) -> list[dict]:
    return ds.dataset(out / table).to_table().to_pylist()


@pytest.fixture(scope="module")
def hives(corpus, manifest, tmp_path_factory):
    """Every registry file of the corpus, decompressed, in the corpus layout (logs beside their hive),
    converted in one run. Returns (manifest entries by SourceFile, output folder)."""
    folder = tmp_path_factory.mktemp("hives") / "registry"
    entries = {}
    for e in manifest:
        if e["kind"] in HIVE_KINDS:
            rel = e["staged"].removeprefix("registry/").removesuffix(".xz")
            materialise(corpus, e["staged"], folder / rel)
            entries[rel] = e
    out = tmp_path_factory.mktemp("hives_out")
    summary = convert([folder], out)
    assert summary.errors == 0
    return entries, out


def by_file(out: Path, table: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for r in rows(out, table):
        grouped.setdefault(r["SourceFile"], []).append(r)
    return grouped


def test_run_and_runonce_values_are_those_of_the_manifest(hives):
    entries, out = hives
    autoruns = by_file(out, "Autorun")
    checked = 0
    for path, e in entries.items():
        hive = e["hive"]
        if "run_keys" not in hive or hive.get("regipy_errors"):
            continue
        listed = {k["key"].lower() for k in hive["run_keys"]}
        expected = {(k["key"].lower(), v["name"], v["data"]) for k in hive["run_keys"] for v in k["values"]}
        got = {(r["KeyPath"].lower(), r["Name"], r["Command"]) for r in autoruns.get(path, [])
               if r["KeyPath"].lower() in listed}
        assert got == expected, path
        checked += len(expected)
        assert all(r["Source"] == "RegistryHive" and r["Truncated"] is False for r in autoruns.get(path, []))
    assert checked >= 25      # the manifest lists 28 Run/RunOnce/StartupApproved values over 12 hives


def test_run_rows_carry_key_time_value_type_and_the_owner(hives):
    _, out = hives
    tony = [r for r in by_file(out, "Autorun")["regipy/NTUSER_with_winscp.DAT"] if r["Category"] == "Run"]
    docker = next(r for r in tony if r["Name"] == "Docker Desktop")
    assert docker["ValueType"] == "REG_SZ" and docker["Hive"] == "NTUSER.DAT"
    assert docker["Location"] == "HKCU\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"
    assert docker["User"] == "tony"       # from the hive's own header name: \??\C:\Users\tony\ntuser.dat
    assert docker["LastWriteTime"] == dt.datetime(2022, 5, 23, 8, 44, 40, 434800, tzinfo=UTC)
    # A value literally named (default), empty, is an entry like any other.
    assert any(r["Name"] == "(default)" and r["Command"] == "" for r in tony)


def test_startup_approved_state_is_decoded(hives):
    _, out = hives
    approved = [r for r in by_file(out, "Autorun")["regipy/NTUSER_with_winscp.DAT"] if r["Category"] == "StartupApproved"]
    assert [(r["Name"], r["ValueType"], r["Enabled"]) for r in approved] == [("Docker Desktop", "REG_BINARY", True)]


def test_corrupt_ntuser_gives_the_same_run_values_as_its_clean_sibling(hives):
    # regipy's full walk dies with RecursionError on this hive; targeted lookups still reach the Run keys.
    _, out = hives
    autoruns = by_file(out, "Autorun")
    key = lambda rs: sorted((r["KeyPath"], r["Name"], r["Command"]) for r in rs)
    assert key(autoruns["artemis/win10_NTUSER_Bad.DAT"]) == key(autoruns["artemis/win10_NTUSER.DAT"])
    assert len(autoruns["artemis/win10_NTUSER_Bad.DAT"]) == 3


def test_services_of_the_clean_system_hive_match_regipys_services_plugin(hives, tmp_path, corpus):
    _, out = hives
    services = {r["Name"]: r for r in by_file(out, "Service")["regipy/SYSTEM"]}
    from regipy.plugins.system.services import ServicesPlugin
    from regipy.registry import RegistryHive
    hive = materialise(corpus, "registry/regipy/SYSTEM.xz", tmp_path / "SYSTEM")
    with _regipy_inline_values():        # the plugin itself, only made fast
        plugin = ServicesPlugin(RegistryHive(str(hive)), as_json=True)
        plugin.run()
    expected = {}
    for s in plugin.entries["\\ControlSet001\\Services"]["services"]:
        values = {v["name"].lower(): v["value"] for v in s["values"] or []}
        if "type" not in values:
            continue
        dll = values.get("servicedll") or next(
            (v["value"] for p in s["parameters"] if p["path"].lower().endswith("\\parameters")
             for v in p["values"] if v["name"].lower() == "servicedll"), None)
        expected[s["name"]] = (values.get("imagepath"), START_TYPES.get(values.get("start")),
                               service_type_names(values["type"]), values.get("objectname"), dll)
    got = {name: (r["ImagePath"], r["StartType"], r["ServiceType"], r["ObjectName"], r["ServiceDll"])
           for name, r in services.items()}
    assert got == expected
    assert len(got) > 400
    dns = services["Dnscache"]
    assert dns["StartType"] == "Automatic" and dns["ServiceType"] == "Win32ShareProcess"
    assert dns["ServiceDll"].lower().endswith("dnsrslvr.dll") and dns["Source"] == "RegistryHive"
    assert dns["KeyPath"].lower() == "\\controlset001\\services\\dnscache"   # the key names as the hive spells them


def test_autostarting_services_are_autoruns_with_their_image_path(hives):
    _, out = hives
    services = [r for r in by_file(out, "Service")["regipy/SYSTEM"]
                if r["StartType"] in ("Boot", "System", "Automatic") and (r["ImagePath"] or r["ServiceDll"])]
    autoruns = {r["Name"]: r for r in by_file(out, "Autorun")["regipy/SYSTEM"] if r["Category"] == "Service"}
    assert {s["Name"] for s in services} == set(autoruns)
    sample = autoruns["Dnscache"]
    assert sample["Location"] == "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Dnscache"
    assert sample["Command"] == next(s["ImagePath"] for s in services if s["Name"] == "Dnscache")


def test_long_values_are_never_trimmed(hives):
    _, out = hives
    crypt = next(r for r in by_file(out, "Service")["regipy/corrupted_system_hive"] if r["Name"] == "CryptSvc")
    assert len(crypt["Description"]) > 256      # regipy's default trims to 256 characters
    assert crypt["Description"].endswith("will fail to start.")


def test_corrupt_system_hive_gives_what_can_be_read_plus_issues(hives):
    _, out = hives
    services = {r["Name"]: r for r in by_file(out, "Service")["regipy/corrupted_system_hive"]}
    # Expected values from regipy's own validation case for this hive (services_plugin_validation.py).
    abios = services["Abiosdsk"]
    # FILETIME 128690849093281250 is exactly .328125; regipy's float division prints .328124.
    assert abios["LastWriteTime"] == dt.datetime(2008, 10, 21, 17, 48, 29, 328125, tzinfo=UTC)
    assert (abios["StartType"], abios["ServiceType"]) == ("Disabled", "KernelDriver")
    assert json.loads(abios["AdditionalFields"])["Group"] == "Primary disk"
    assert len(services) > 150
    issues = [r for r in rows(out, "ParseIssue") if r["SourceFile"] == "regipy/corrupted_system_hive"]
    assert any("header announces" in r["Reason"] for r in issues)
    assert all(len(r["Reason"]) <= 301 for r in issues)    # garbage key names are cut, not dumped
    status = {r["SourceFile"]: r["Status"] for r in rows(out, "CollectedFile")}
    assert status["regipy/corrupted_system_hive"] == "lossy"        # rows written, some values lost
    assert "failed" not in status.values()


def test_dirty_hives_are_replayed_from_their_logs_or_reported(hives):
    _, out = hives
    issues = {}
    for r in rows(out, "ParseIssue"):
        issues.setdefault(r["SourceFile"], []).append(r["Reason"])
    assert any("replayed SYSTEM_B.LOG1, SYSTEM_B.LOG2" in x for x in issues["regipy/SYSTEM_B"])
    assert any("replayed transactions_ntuser.dat.log2, transactions_ntuser.dat.log1" in x
               for x in issues["regipy/transactions_NTUSER.DAT"])
    assert any("no .LOG1/.LOG2 collected" in x for x in issues["regipy/NTUSER_with_winscp.DAT"])
    assert not any("dirty" in x for x in issues.get("regipy/SYSTEM", []))      # sequence numbers equal
    files = {r["SourceFile"]: r for r in rows(out, "CollectedFile")}
    for log in ("regipy/SYSTEM_B.LOG1", "regipy/SYSTEM_B.LOG2", "regipy/UsrClass.dat.LOG1"):
        assert files[log]["Parser"] == "registry_hive_log"
    replayed = by_file(out, "Service")["regipy/SYSTEM_B"]
    assert len(replayed) > 500


def test_our_locations_cover_regipys_ntuser_persistence_plugin(hives, tmp_path, corpus, manifest):
    """regipy's key list is checked against the hive content: whatever its plugin finds, we find too."""
    from regipy.plugins.ntuser.persistence import NTUserPersistencePlugin
    from regipy.registry import RegistryHive
    _, out = hives
    autoruns = by_file(out, "Autorun")
    compared = 0
    for e in manifest:
        if e["kind"] not in HIVE_KINDS or e["hive"].get("regipy_hive_type") != "ntuser" or e["hive"].get("regipy_errors"):
            continue
        rel = e["staged"].removeprefix("registry/").removesuffix(".xz")
        if int(e["hive"]["header_seq"][0]) != int(e["hive"]["header_seq"][1]):
            continue       # dirty: we read the replayed state, the plugin the collected one
        hive = materialise(corpus, e["staged"], tmp_path / rel.replace("/", "_"))
        with _regipy_inline_values():
            plugin = NTUserPersistencePlugin(RegistryHive(str(hive)), as_json=True)
            plugin.run()
        ours = {(r["KeyPath"].lower(), r["Name"], r["Command"]) for r in autoruns.get(rel, [])}
        for key, found in plugin.entries.items():
            for v in found["values"]:
                assert (key.lower(), v["name"], v["value"]) in ours, (rel, key, v["name"])
                compared += 1
    assert compared >= 8


def test_location_kinds_on_real_keys(corpus, tmp_path):
    """The corpus has no SOFTWARE hive, so the per-subkey (IFEO, Active Setup, Winlogon\\Notify) and
    named-value (Winlogon Shell, AppInit_DLLs) mechanisms are exercised on SYSTEM keys of the same shape."""
    from types import SimpleNamespace

    from triageparse.artifacts.registry_hives import (SOFTWARE_LOCATIONS, HiveReader, Location,
                                                       RegistryHiveArtifact)
    hive = materialise(corpus, "registry/regipy/SYSTEM.xz", tmp_path / "SYSTEM")
    warnings = []
    ctx = SimpleNamespace(warn=lambda record, text, raw="": warnings.append(text))
    parser = RegistryHiveArtifact()
    with _regipy_inline_values():
        reader = HiveReader(hive, ctx)
        per_subkey = parser._location(reader, reader.root, "", "", Location(
            r"ControlSet001\Services", "Test", ("ServiceDll", "ImagePath"), per_subkey=True), "HKLM\\SYSTEM", ctx)
        named = parser._location(reader, reader.root, "", "", Location("Select", "Test", ("current",)),
                                 "HKLM\\SYSTEM", ctx)
        every = parser._location(reader, reader.root, "", "", Location("Select", "Test"), "HKLM\\SYSTEM", ctx)
        missing = parser._location(reader, reader.root, "", "", Location(r"No\Such\Key", "Test"), "HKLM\\SYSTEM", ctx)
    dns = [r for r in per_subkey if r["Name"] == "Dnscache"]
    assert [r["ValueName"] for r in dns] == ["ImagePath"]          # ServiceDll sits under Parameters, not here
    assert dns[0]["Location"].lower() == "hklm\\system\\controlset001\\services\\dnscache"
    assert [(r["Name"], r["Command"], r["ValueType"]) for r in named] == [("Current", "1", "REG_DWORD")]
    assert {r["Name"] for r in every} == {"Current", "Default", "Failed", "LastKnownGood"}
    assert missing == [] and warnings == []
    categories = {loc.category for loc in SOFTWARE_LOCATIONS}
    assert {"Run", "RunOnce", "RunOnceEx", "RunServices", "PoliciesRun", "TerminalServerRun", "Winlogon",
            "WinlogonNotify", "AppInitDlls", "IfeoDebugger", "ActiveSetup"} <= categories
    assert any(loc.path.startswith("Wow6432Node\\") and loc.category == "Run" for loc in SOFTWARE_LOCATIONS)
