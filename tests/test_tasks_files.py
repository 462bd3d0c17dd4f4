"""Scheduled-task files of the corpus (task XML, legacy .job) through the real converter.

Every action's command and arguments are checked against the XML read independently here, with
regular expressions on the decoded text (not ElementTree), and against MANIFEST.json.
"""
from __future__ import annotations

import codecs
import datetime as dt
import html
import json
import re
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from triageparse import convert

UTC = dt.timezone.utc
TASKS = "C/Windows/System32/Tasks"


def rows(out: Path, table: str) -> list[dict]:
    return ds.dataset(out / table).to_table().to_pylist()


def decode(data: bytes) -> str:
    """UTF-16 with BOM, else UTF-8 (the Windows 11 sample has no BOM although it declares UTF-16)."""
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le")
    return data.decode("utf-8-sig")


def actions_by_regex(text: str) -> list[tuple[str, dict[str, str]]]:
    """(action type, {field: unescaped text}) in document order, from the raw XML text."""
    block = re.search(r"<Actions\b[^>]*>(.*?)</Actions>", text, re.S)
    out = []
    for kind, body in re.findall(r"<(Exec|ComHandler|SendEmail|ShowMessage)>(.*?)</\1>", block.group(1) if block else "", re.S):
        fields = {}
        for name, value in re.findall(r"<(\w+)>(.*?)</\1>", body, re.S):
            cdata = re.fullmatch(r"<!\[CDATA\[(.*)\]\]>", value, re.S)
            fields[name] = cdata.group(1) if cdata else html.unescape(value)
        out.append((kind, fields))
    return out


@pytest.fixture(scope="module")
def tasks(corpus, manifest, tmp_path_factory):
    """Every corpus task file, laid out under C/Windows/System32/Tasks (XML) or C/Windows/Tasks (.job),
    one sub-folder per corpus origin so equal names do not collide; converted in one run."""
    folder = tmp_path_factory.mktemp("tasks") / "kape"
    placed = {}
    for e in manifest:
        if e["kind"] not in ("scheduled_task", "scheduled_task_job"):
            continue
        origin = e["staged"].split("/")[1]
        is_job = e["staged"].endswith(".job")
        rel = (f"C/Windows/Tasks/{Path(e['staged']).name}" if is_job else
               f"{TASKS}/{origin}/{e['staged'].split('/', 2)[2]}")
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / e["staged"], target)
        placed[rel] = e
    out = tmp_path_factory.mktemp("tasks_out")
    summary = convert([folder], out)
    assert summary.errors == 0
    return folder, placed, out


def test_every_action_matches_the_xml_read_independently(tasks):
    folder, placed, out = tasks
    got: dict[str, list[dict]] = {}
    for r in rows(out, "ScheduledTask"):
        got.setdefault(r["SourceFile"], []).append(r)
    xml_files = [rel for rel in placed if not rel.endswith(".job")]
    assert len(xml_files) == 15
    for rel in xml_files:
        expected = actions_by_regex(decode((folder / rel).read_bytes()))
        ours = sorted(got[rel], key=lambda r: r["ActionIndex"])
        assert [r["ActionType"] for r in ours] == [kind for kind, _ in expected], rel
        for row, (kind, fields) in zip(ours, expected):
            assert row["Source"] == "TaskXml"
            if kind == "Exec":
                assert (row["Command"], row["Arguments"], row["WorkingDirectory"]) == (
                    fields.get("Command"), fields.get("Arguments"), fields.get("WorkingDirectory")), rel
            else:
                assert (row["ClassId"], row["Data"]) == (fields.get("ClassId"), fields.get("Data")), rel


def test_tasks_agree_with_the_manifest(tasks):
    _, placed, out = tasks
    got: dict[str, list[dict]] = {}
    for r in rows(out, "ScheduledTask"):
        got.setdefault(r["SourceFile"], []).append(r)
    for rel, e in placed.items():
        t = e["task"]
        if "uri" not in t:
            continue
        ours = got[rel]
        assert [r["Command"] for r in ours if r["ActionType"] == "Exec"] == t["commands"], rel
        assert [r["Arguments"] or "" for r in ours if r["ActionType"] == "Exec"] == \
            [a for a in t["arguments"]] + [""] * (len(t["commands"]) - len(t["arguments"])), rel
        first = ours[0]
        assert first["URI"] == t["uri"]
        assert first["TaskName"] == t["uri"].rsplit("\\", 1)[-1]
        assert first["TaskPath"].startswith("\\") and first["TaskPath"].endswith("\\")
        assert [x["Type"] for x in json.loads(first["Triggers"])] == t["triggers"], rel
        assert first["UserId"] in t["principals"], rel
        if t["hidden"] is not None:
            assert first["Hidden"] is (t["hidden"] == "true"), rel


def test_trigger_times_and_intervals_are_typed(tasks):
    _, _, out = tasks
    game_over = next(r for r in rows(out, "ScheduledTask")
                     if r["SourceFile"] == f"{TASKS}/dfirartifactmuseum/Win10/APTSimulatorVM/GameOver")
    trigger = json.loads(game_over["Triggers"])[0]
    # <StartBoundary>2022-03-10T15:59:00</StartBoundary> has no offset: host local time, here assumed UTC.
    assert trigger["StartBoundary"] == "2022-03-10T15:59:00Z" and trigger["StartBoundaryAsWritten"] == "2022-03-10T15:59:00"
    assert trigger["RepetitionIntervalSeconds"] == 300             # PT5M
    assert game_over["RegistrationDate"].year == 2022
    assert game_over["Author"] and game_over["Enabled"] is True and game_over["RunLevel"] == "LeastPrivilege"
    soft = next(r for r in rows(out, "ScheduledTask") if r["TaskName"] == "SoftLandingCreativeManagementTask")
    daily = json.loads(soft["Triggers"])[2]
    assert daily["StartBoundary"] == "2026-03-29T13:19:07Z" and daily["RepetitionIntervalSeconds"] == 86400


def test_legacy_job_files(tasks):
    _, _, out = tasks
    jobs = {r["TaskName"]: r for r in rows(out, "ScheduledTask") if r["Source"] == "TaskJob"}
    # Values visible in the bytes of the files (length-prefixed UTF-16 strings, [MS-TSCH] 2.4).
    at1 = jobs["At1"]
    assert (at1["Command"], at1["Author"], at1["Description"]) == (
        "cmd.exe", "WORKGROUP\\DESKTOP-EIS938N$", "Created by NetScheduleJobAdd.")
    assert at1["State"] == "HasNotRun"          # status 0x00041303
    google = jobs["wintask"]
    assert (google["Command"], google["Arguments"], google["Author"]) == (
        "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe", "/ua /installsource scheduler", "Brian")
    trigger = json.loads(google["Triggers"])[0]
    assert trigger["Type"] == "Daily" and trigger["StartBoundaryAsWritten"] == "2013-07-12T15:42:00"
    assert trigger["RepetitionIntervalSeconds"] == 3600


def test_task_xml_with_a_dtd_is_refused_without_expanding_it(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE Task [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<Task xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Actions><Exec>'
            '<Command>&b;</Command></Exec></Actions></Task>')
    target = tmp_path / "kape" / TASKS / "Evil"
    target.parent.mkdir(parents=True)
    target.write_bytes(codecs.BOM_UTF16_LE + bomb.encode("utf-16-le"))
    out = tmp_path / "out"
    summary = convert([tmp_path / "kape"], out)
    issues = [r for r in rows(out, "ParseIssue") if r["SourceFile"] == f"{TASKS}/Evil"]
    assert any("DTD" in r["Reason"] and r["Severity"] == "error" for r in issues)
    assert not (out / "ScheduledTask").exists() or not rows(out, "ScheduledTask")
    assert summary.rows_rejected == 1
