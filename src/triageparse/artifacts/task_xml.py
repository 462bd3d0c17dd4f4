"""Scheduled-task XML files (``Windows/System32/Tasks/**``) → ``ScheduledTask`` rows, one per action.

The live ``Get-ScheduledTask`` CSV loses the actions (``{MSFT_TaskExecAction}``); the task files
keep them. Files have no extension; they are UTF-16LE with BOM, or UTF-8 without BOM while the
declaration still says UTF-16 (a Windows 11 sample), so we decode by the bytes and drop the
declaration before parsing.

XML from a compromised host is hostile: documents with a DTD (``<!DOCTYPE``/``<!ENTITY``) are
refused before the standard-library parser sees them, so no entity is ever expanded; files
larger than ``MAX_TASK_BYTES`` are refused.

Row shape: one row per action (``ActionIndex`` 1..n, ``ActionType``), the task's own columns
repeated; a task without actions gives one row with ``ActionIndex`` null. Triggers are a JSON
list in ``Triggers``; durations (ISO 8601 ``PT5M``) are given in seconds.
"""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import pyarrow as pa

from ..collection import Member
from ..formats.encoding import read_text
from .base import Artifact, FileContext
from .registry_hives import host_facts

SOURCE = "TaskXml"
TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
MAX_TASK_BYTES = 4 << 20          # real task files are a few KiB
TASK_ROOT = re.compile(r"<Task\b[^>]*\bxmlns\s*=\s*[\"']" + re.escape(TASK_NS) + r"[\"']")
TASKS_FOLDER = re.compile(r"(?:^|/)windows/system32/tasks/(.+)$", re.I)
DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
DTD = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.I)
DURATION = re.compile(r"^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                      r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def duration_seconds(text: str | None) -> int | None:
    """ISO 8601 duration (``PT1H``, ``P1D``, ``P3DT12H``) in seconds; None when empty or when it uses
    years or months, which have no fixed length."""
    if not text:
        return None
    m = DURATION.match(text.strip())
    if not m or m.group(2) or m.group(3):
        return None
    weeks, days, hours, minutes = (int(g or 0) for g in m.group(4, 5, 6, 7))
    seconds = float(m.group(8) or 0)
    total = int(((weeks * 7 + days) * 24 + hours) * 3600 + minutes * 60 + seconds)
    return -total if m.group(1) else total


def decode_task(data: bytes) -> str:
    """Task XML text, decoded by its bytes (BOM, UTF-16 without BOM, else UTF-8), declaration removed."""
    return DECLARATION.sub("", read_text(data), count=1)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(elem: ET.Element | None, path: str) -> str | None:
    """Text of the child at ``path`` (local names, '/'-separated), namespace-agnostic."""
    for part in path.split("/"):
        if elem is None:
            return None
        elem = next((c for c in elem if _local(c.tag) == part), None)
    return elem.text if elem is not None else None


def _child(elem: ET.Element | None, name: str) -> ET.Element | None:
    return next((c for c in elem if _local(c.tag) == name), None) if elem is not None else None


def _bool(text: str | None, default: bool | None) -> bool | None:
    if text is None:
        return default
    return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower(), default)


def _iso(text: str | None) -> str | None:
    """Task timestamps keep up to 7 fractional digits; our parsers take 6."""
    if not text:
        return None
    return re.sub(r"(\.\d{6})\d+", r"\1", text.strip())


class TaskXml(Artifact):
    name = "task_xml"
    tables = ("ScheduledTask",)

    @classmethod
    def claim(cls, member: Member) -> int:
        head = member.head
        if not head or b"<" not in head[:512].replace(b"\x00", b""):
            return 0
        try:
            text = read_text(head[:8192])
        except Exception:
            return 0
        if not TASK_ROOT.search(text):
            return 0
        return 95 if TASKS_FOLDER.search(member.path) else 85

    def parse(self, member: Member, ctx: FileContext) -> None:
        host_facts(ctx)     # the computer name from a SYSTEM hive that sorts after System32/Tasks
        with member.open() as f:
            data = f.read(MAX_TASK_BYTES + 1)
        if len(data) > MAX_TASK_BYTES:
            ctx.read(1)
            ctx.reject(None, f"task file larger than {MAX_TASK_BYTES:,} bytes; refused (real task files are a few KiB)")
            return
        text = decode_task(data)
        if DTD.search(text):
            ctx.read(1)
            ctx.reject(None, "task XML carries a DTD (<!DOCTYPE/<!ENTITY); refused so no entity is expanded",
                       text[:4096])
            return
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            ctx.read(1)
            ctx.reject(None, f"not well-formed task XML ({exc}); the file is inventoried only", text[:4096])
            return
        rows = task_rows(root, member, ctx)
        ctx.read(len(rows))
        ctx.emit("ScheduledTask", rows)


def task_rows(root: ET.Element, member: Member, ctx: FileContext) -> list[dict]:
    info = _child(root, "RegistrationInfo")
    settings = _child(root, "Settings")
    actions = _child(root, "Actions")
    uri = _text(info, "URI")
    task_path, task_name = split_uri(uri, member.path)
    principal = pick_principal(_child(root, "Principals"), actions.get("Context") if actions is not None else None)
    enabled = _bool(_text(settings, "Enabled"), True)
    base = dict(
        Source=SOURCE, TaskName=task_name, TaskPath=task_path, URI=uri,
        State="Disabled" if enabled is False else None,
        Author=_text(info, "Author"), Description=_text(info, "Description"), Version=_text(info, "Version"),
        Documentation=_text(info, "Documentation"), SecurityDescriptor=_text(info, "SecurityDescriptor"),
        TaskSource=_text(info, "Source"), RegistrationDate=_iso(_text(info, "Date")),
        Enabled=enabled, Hidden=_bool(_text(settings, "Hidden"), False),
        UserId=(_text(principal, "UserId") or _text(principal, "GroupId")) if principal is not None else None,
        LogonType=_text(principal, "LogonType"), RunLevel=_text(principal, "RunLevel"),
        Triggers=triggers(_child(root, "Triggers"), ctx), SchemaVersion=root.get("version"),
    )
    rows = []
    for index, action in enumerate(list(actions) if actions is not None else [], 1):
        kind = _local(action.tag)
        row = dict(base, ActionIndex=index, ActionType=kind, SourceRecord=index)
        if kind == "Exec":
            row.update(Command=_text(action, "Command"), Arguments=_text(action, "Arguments"),
                       WorkingDirectory=_text(action, "WorkingDirectory"))
        elif kind == "ComHandler":
            row.update(ClassId=_text(action, "ClassId"), Data=_text(action, "Data"))
        else:   # SendEmail / ShowMessage (deprecated): every field lands in AdditionalFields
            row.update({"Action" + _local(c.tag): c.text for c in action if c.text})
        rows.append(row)
    if not rows:
        rows.append(dict(base, ActionIndex=None, SourceRecord=1))
    return rows


def split_uri(uri: str | None, member_path: str) -> tuple[str, str]:
    """(TaskPath with leading and trailing backslash, TaskName) from the URI, else from the file's place."""
    if not uri:
        m = TASKS_FOLDER.search(member_path)
        uri = "\\" + (m.group(1) if m else member_path.rsplit("/", 1)[-1]).replace("/", "\\")
    parts = [p for p in uri.split("\\") if p]
    name = parts[-1] if parts else uri
    return "\\" + "".join(p + "\\" for p in parts[:-1]), name


def pick_principal(principals: ET.Element | None, context: str | None) -> ET.Element | None:
    """The principal the actions run as: the one named by Actions/@Context, else the first."""
    if principals is None:
        return None
    candidates = [p for p in principals if _local(p.tag) == "Principal"]
    for p in candidates:
        if context and p.get("id") == context:
            return p
    return candidates[0] if candidates else None


TRIGGER_DURATIONS = ("Delay", "RandomDelay", "ExecutionTimeLimit")
TRIGGER_TEXT = ("UserId", "Subscription", "StateName", "StateChange", "DaysInterval", "WeeksInterval")


def triggers(elem: ET.Element | None, ctx: FileContext) -> list[dict]:
    out = []
    for t in (list(elem) if elem is not None else []):
        item: dict = {"Type": _local(t.tag), "Enabled": _bool(_text(t, "Enabled"), True)}
        for name in ("StartBoundary", "EndBoundary"):
            written = _text(t, name)
            if written:
                item[name] = utc_text(written, ctx)
                item[name + "AsWritten"] = written
        repetition = _child(t, "Repetition")
        if repetition is not None:
            item["RepetitionIntervalSeconds"] = duration_seconds(_text(repetition, "Interval"))
            item["RepetitionDurationSeconds"] = duration_seconds(_text(repetition, "Duration"))
            item["StopAtDurationEnd"] = _bool(_text(repetition, "StopAtDurationEnd"), None)
        for name in TRIGGER_DURATIONS:
            if _text(t, name):
                item[name + "Seconds"] = duration_seconds(_text(t, name))
        for name in TRIGGER_TEXT:
            if _text(t, name):
                item[name] = _text(t, name)
        for schedule in ("ScheduleByDay", "ScheduleByWeek", "ScheduleByMonth", "ScheduleByMonthDayOfWeek"):
            s = _child(t, schedule)
            if s is not None:
                item["Schedule"] = schedule
                item["ScheduleDetail"] = {_local(c.tag): _leaf_or_list(c) for c in s}
        out.append({k: v for k, v in item.items() if v is not None})
    return out


def _leaf_or_list(elem: ET.Element) -> str | list[str] | None:
    """``<DaysInterval>2</DaysInterval>`` -> "2"; ``<DaysOfWeek><Monday/><Friday/></DaysOfWeek>`` -> names;
    ``<DaysOfMonth><Day>1</Day></DaysOfMonth>`` -> ["1"]."""
    if len(elem):
        return [(c.text or "").strip() or _local(c.tag) for c in elem]
    return elem.text.strip() if elem.text else None


def utc_text(written: str, ctx: FileContext) -> str | None:
    """A trigger boundary as UTC ISO text: absolute when it carries Z or an offset, else host local time
    converted with the collection's time zone (the same rule as every other local timestamp)."""
    value, failed = ctx.localtime.parse(pa.array([_iso(written)]))
    stamp = value[0].as_py()
    if stamp is None:
        ctx.warn(None, f"trigger boundary {written!r} is not an ISO date-time; kept as written only")
        return None
    return stamp.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")

