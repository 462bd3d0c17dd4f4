"""Legacy Task Scheduler 1.0 ``.job`` files (``Windows/Tasks/*.job``) → ``ScheduledTask`` rows.

No maintained Python library reads them (plaso's reader is tied to its own framework), and the
format is small and fully documented: [MS-TSCH] §2.4 "Job File Format" — a 68-byte fixed part,
then length-prefixed UTF-16 strings (application, parameters, working directory, author,
comment), user and reserved data, and 48-byte triggers. This reader takes exactly that and stops
at the first inconsistency, reporting what it could not read. ``at.exe`` jobs (``At1.job`` …)
are still used for lateral movement, which is why they matter.
"""
from __future__ import annotations

import datetime as dt
import struct

from ..collection import Member
from .base import Artifact, FileContext
from .registry_hives import host_facts
from .task_xml import utc_text

SOURCE = "TaskJob"
FIXED = struct.Struct("<HH16sHHHHHHIIIII8H")      # [MS-TSCH] 2.4.1 FIXDLEN_DATA, 68 bytes
TRIGGER = struct.Struct("<HHHHHHHHHHIIIIHHHHHH")  # [MS-TSCH] 2.4.2.11 Trigger, 48 bytes
MAX_JOB_BYTES = 1 << 20

TASK_FLAG_DISABLED = 0x4
TASK_FLAG_HIDDEN = 0x200
STATUS = {0x41300: "Ready", 0x41301: "Running", 0x41302: "Disabled", 0x41303: "HasNotRun",
          0x41304: "NoMoreRuns", 0x41305: "NotScheduled", 0x41306: "Terminated", 0x41307: "NoValidTriggers"}
TRIGGER_TYPES = {0: "Once", 1: "Daily", 2: "Weekly", 3: "MonthlyDate", 4: "MonthlyDayOfWeek",
                 5: "OnIdle", 6: "AtSystemStart", 7: "AtLogon"}
TRIGGER_FLAG_DISABLED = 0x4


class JobFormatError(ValueError):
    """The bytes stop matching [MS-TSCH] §2.4; the message says where."""


class _Reader:
    def __init__(self, data: bytes, offset: int):
        self.data, self.offset = data, offset

    def u16(self, what: str) -> int:
        if self.offset + 2 > len(self.data):
            raise JobFormatError(f"file ends before {what} (offset {self.offset})")
        (value,) = struct.unpack_from("<H", self.data, self.offset)
        self.offset += 2
        return value

    def string(self, what: str) -> str | None:
        chars = self.u16(what + " length")
        end = self.offset + 2 * chars
        if end > len(self.data):
            raise JobFormatError(f"{what} runs past the end of the file ({chars} characters at offset {self.offset})")
        text = self.data[self.offset:end].decode("utf-16-le", "replace").rstrip("\x00")
        self.offset = end
        return text or None

    def blob(self, what: str) -> bytes:
        size = self.u16(what + " size")
        out = self.data[self.offset:self.offset + size]
        self.offset += size
        return out


def systemtime(parts: tuple[int, ...]) -> str | None:
    """SYSTEMTIME (year, month, weekday, day, hour, minute, second, ms), host local time, as ISO text."""
    year, month, _, day, hour, minute, second, ms = parts
    if not year:
        return None
    try:
        return dt.datetime(year, month, day, hour, minute, second, ms * 1000).isoformat()
    except ValueError:
        return None


def read_job(data: bytes) -> tuple[dict, list[str]]:
    """Fields of a .job file and the problems met (reading stops at the first inconsistency)."""
    if len(data) < FIXED.size:
        raise JobFormatError(f"{len(data)} bytes: shorter than the {FIXED.size}-byte fixed part of a .job file")
    (product, file_version, uuid, name_offset, trigger_offset, retry_count, retry_interval, idle_deadline,
     idle_wait, priority, max_run_ms, exit_code, status, flags, *last_run) = FIXED.unpack_from(data)
    job = dict(ProductVersion=f"0x{product:04x}", FileVersion=file_version, ExitCode=exit_code,
               StatusCode=status, State=STATUS.get(status), Flags=flags,
               Enabled=not flags & TASK_FLAG_DISABLED, Hidden=bool(flags & TASK_FLAG_HIDDEN),
               LastRunTime=systemtime(tuple(last_run)), MaxRunTimeMs=max_run_ms, Priority=priority)
    if flags & TASK_FLAG_DISABLED:
        job["State"] = "Disabled"
    problems: list[str] = []
    r = _Reader(data, name_offset)
    try:
        job["Command"] = r.string("application name")
        job["Arguments"] = r.string("parameters")
        job["WorkingDirectory"] = r.string("working directory")
        job["Author"] = r.string("author")
        job["Description"] = r.string("comment")
        r.blob("user data")
        r.blob("reserved data")
        r.offset = trigger_offset
        count = r.u16("trigger count")
        job["Triggers"] = [trigger(data, r.offset + i * TRIGGER.size) for i in range(count)]
    except JobFormatError as exc:
        problems.append(str(exc))
    return job, problems


def trigger(data: bytes, offset: int) -> dict:
    if offset + TRIGGER.size > len(data):
        raise JobFormatError(f"trigger at offset {offset} runs past the end of the file")
    (size, _, by, bm, bd, ey, em, ed, hour, minute, duration, interval, flags, kind,
     *_) = TRIGGER.unpack_from(data, offset)
    item = {"Type": TRIGGER_TYPES.get(kind, f"Unknown ({kind})"), "Enabled": not flags & TRIGGER_FLAG_DISABLED}
    try:
        item["StartBoundaryAsWritten"] = dt.datetime(by, bm, bd, hour, minute).isoformat()
    except ValueError:
        pass
    if ey:
        try:
            item["EndBoundaryAsWritten"] = dt.date(ey, em, ed).isoformat()
        except ValueError:
            pass
    if interval:
        item["RepetitionIntervalSeconds"] = interval * 60
        item["RepetitionDurationSeconds"] = duration * 60
    return item


class TaskJob(Artifact):
    name = "task_job"
    tables = ("ScheduledTask",)

    @classmethod
    def claim(cls, member: Member) -> int:
        head = member.head
        if not member.lower.endswith(".job") or len(head) < FIXED.size:
            return 0
        product, file_version = struct.unpack_from("<HH", head)
        name_offset = struct.unpack_from("<H", head, 20)[0]
        # Product versions 0x0400 (NT4) … 0x0a00 (Windows 10); file version 1; strings start after the fixed part.
        if 0x0400 <= product <= 0x0aff and file_version == 1 and FIXED.size <= name_offset < len(head):
            return 80
        return 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        host_facts(ctx)
        with member.open() as f:
            data = f.read(MAX_JOB_BYTES + 1)
        ctx.read(1)
        if len(data) > MAX_JOB_BYTES:
            ctx.reject(None, f".job file larger than {MAX_JOB_BYTES:,} bytes; refused (real ones are < 2 KiB)")
            return
        try:
            job, problems = read_job(data)
        except JobFormatError as exc:
            ctx.reject(None, f"not a readable Task Scheduler 1.0 job: {exc}")
            return
        for p in problems:
            ctx.warn(1, f"job file read partly: {p}")
            ctx.lossy = True
        for t in job.get("Triggers", ()):
            if "StartBoundaryAsWritten" in t:
                t["StartBoundary"] = utc_text(t["StartBoundaryAsWritten"], ctx)
        name = member.name[:-4] if member.lower.endswith(".job") else member.name
        job.update(Source=SOURCE, SourceRecord=1, TaskName=name, TaskPath="\\", ActionIndex=1, ActionType="Exec")
        ctx.emit("ScheduledTask", [job])
