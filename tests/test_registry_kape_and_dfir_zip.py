"""A KAPE-like triage folder (hives with their logs, task files, EVTX) and a DFIR-Script zip of the same
host, converted in one command: one CollectionId per source, the computer name taken from the SYSTEM
hive, the NTUSER.DAT owner's SID from UsrClass.dat, and the documented KQL query that lists autoruns
present in the hive but missing from the live view.
"""
from __future__ import annotations

import lzma
import re
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from psbytes import c8, zip_collection
from triageparse import convert

HIVE_NOT_LIVE_KQL = re.search(r"```kql\n(.*?)```", (Path(__file__).resolve().parents[1] / "docs" /
                                                  "persistence.md").read_text(), re.S).group(1)

HOST = "WKS-WIN732BITA"
SID = "S-1-5-21-2734969515-1644526556-1039763013-1001"     # root key of the corpus UsrClass.dat


def unxz(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with lzma.open(src) as f, open(dst, "wb") as g:
        shutil.copyfileobj(f, g)


@pytest.fixture(scope="module")
def converted(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("case")
    kape = root / "kape"
    reg = corpus / "registry" / "regipy"
    config = kape / "C%3A" / "Windows" / "System32" / "config"      # KAPE's URL-encoded drive folder
    unxz(reg / "SYSTEM.xz", config / "SYSTEM")
    user = kape / "C%3A" / "Users" / "vibranium"
    unxz(reg / "NTUSER_modified.DAT.xz", user / "NTUSER.DAT")
    classes = user / "AppData" / "Local" / "Microsoft" / "Windows"
    for name in ("UsrClass.dat", "UsrClass.dat.LOG1", "UsrClass.dat.LOG2"):
        unxz(reg / f"{name}.xz", classes / name)
    tasks = kape / "C%3A" / "Windows" / "System32" / "Tasks"
    tasks.mkdir(parents=True)
    shutil.copyfile(corpus / "scheduled_tasks/dfirartifactmuseum/Win10/APTSimulatorVM/GameOver", tasks / "GameOver")
    logs = kape / "C%3A" / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    shutil.copyfile(corpus / "evtx/shared/T1053.005_scheduled_task/sbousseaden__temp_scheduled_task_4698_4699.evtx",
                    logs / "Security.evtx")
    # The live view of the same host (the ComputerName in the corpus SYSTEM hive): Win32_StartupCommand
    # saw only the Sidebar entry.
    host = HOST
    zip_collection(root / f"DFIR-{host}-2024-03-01.zip", f"DFIR-{host}-2024-03-01", {
        "CSV Results (SIEM Import Data)/AutoRun.csv": c8(
            ["Name", "Command", "Location", "User"],
            [["Sidebar", "%ProgramFiles%\\Windows Sidebar\\Sidebar.exe /autoRun",
              f"HKU\\{SID}\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", f"{host}\\vibranium"]]),
    })
    out = root / "out"
    summary = convert([kape, root / f"DFIR-{host}-2024-03-01.zip"], out)
    return summary, out


def rows(out: Path, table: str) -> list[dict]:
    return ds.dataset(out / table).to_table().to_pylist()


def test_one_collection_id_per_source(converted):
    summary, out = converted
    collections = rows(out, "Collection")
    assert len(collections) == 2 and len({c["CollectionId"] for c in collections}) == 2
    kape_id = next(c["CollectionId"] for c in collections if c["SourceName"] == "kape")
    for table in ("Autorun", "Service", "ScheduledTask"):
        hive_rows = [r for r in rows(out, table) if r["Source"] in ("RegistryHive", "TaskXml")]
        assert hive_rows and {r["CollectionId"] for r in hive_rows} == {kape_id}, table
    files = {r["SourceFile"]: r for r in rows(out, "CollectedFile") if r["CollectionId"] == kape_id}
    assert files["C%3A/Windows/System32/config/SYSTEM"]["Parser"] == "registry_hive"
    assert files["C%3A/Windows/System32/Tasks/GameOver"]["Parser"] == "task_xml"
    assert files["C%3A/Users/vibranium/AppData/Local/Microsoft/Windows/UsrClass.dat.LOG1"]["Parser"] == "registry_hive_log"
    assert summary.errors == 0


def test_kape_rows_name_the_computer_and_the_user(converted):
    _, out = converted
    hive_rows = [r for r in rows(out, "Autorun") if r["Source"] == "RegistryHive"]
    # SYSTEM's ComputerName, also on rows of files that sort before config/ (Tasks, Users).
    tasks = [r for r in rows(out, "ScheduledTask") if r["Source"] == "TaskXml"]
    computers = {r["Computer"] for r in hive_rows + tasks}
    assert len(computers) == 1 and None not in computers
    run = {r["Name"]: r for r in hive_rows if r["Category"] == "Run"}
    assert set(run) == {"Sidebar", "not_a_malware"}
    assert run["not_a_malware"]["Location"] == f"HKU\\{SID}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
    assert (run["not_a_malware"]["User"], run["not_a_malware"]["UserSid"]) == ("vibranium", SID)


def test_kql_lists_the_hive_autorun_missing_from_the_live_view(converted):
    from triageparse.kql import query      # the kql extra (duckdb-kql) is part of the dev install
    _, out = converted
    assert {r["Computer"] for r in rows(out, "Autorun")} == {HOST}     # both sources name the same host
    hits = query(out, HIVE_NOT_LIVE_KQL)
    assert list(hits["Name"]) == ["not_a_malware"]
    assert hits["Command"][0] == "c:\\temp\\legitimate_binary.exe"
    assert hits["Location"][0] == f"HKU\\{SID}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
