"""``SecurityEvents.csv`` (``Get-EventLog security``) into SecurityEvent rows, and
``SecurityEvents/EventCount.txt`` into SecurityEventCount.

Get-EventLog loses the insertion strings (``ReplacementStrings`` is ``System.String[]``), so the
named fields are recovered from the English ``Message``. The message is read section by section:
``Subject:``, ``New Logon:``, ``Account Whose Credentials Were Used:``, ``Member:`` … carry the
same labels (``Account Name:``) for different users, and the section says which column a label
fills. A localised message yields no fields; the Message column keeps the text either way.

When the collection also holds ``Security.evtx``, a CSV row whose ``Index`` is an EventRecordID of
that log is written once, from the EVTX (which has every field); see ``security_evtx_records``.
``SecurityEvents.txt`` (the same records as Format-List, eventlog_text.py) goes through the same
:func:`security_event_rows`.
"""
from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..arrays import contiguous
from ..collection import Member
from ..formats.dates import LocalTime
from ..formats.encoding import is_empty_text, iter_lines, sniff
from .base import Artifact, FileContext
from .csvtables import CsvTable
from .eventlog_common import ORIGIN_CSV, with_sentinel_columns
from .eventlog_evtx import EVTX_MAGIC, read_batches

if TYPE_CHECKING:
    from ..convert import CollectionRun

# Section heading (lower case) -> what its Security ID / Account Name / Account Domain / Logon ID mean.
_TARGET_USER = {"security id": "TargetUserSid", "account name": "TargetUserName", "account domain": "TargetDomainName",
                "logon id": "TargetLogonId", "linked logon id": "TargetLinkedLogonId",
                "network account name": "TargetOutboundUserName",
                "network account domain": "TargetOutboundDomainName", "logon guid": "LogonGuid"}
_TARGET_ACCOUNT = {"security id": "TargetSid", "account name": "TargetUserName", "account domain": "TargetDomainName"}
_SUBJECT = {"security id": "SubjectUserSid", "account name": "SubjectUserName", "account domain": "SubjectDomainName",
            "domain name": "SubjectDomainName", "logon id": "SubjectLogonId"}
SECTIONS: dict[str, dict[str, str]] = {
    "subject": _SUBJECT,
    "creator subject": _SUBJECT,                                 # 4688 (Windows 10+)
    "new logon": _TARGET_USER,                                   # 4624
    "account for which logon failed": _TARGET_USER,              # 4625
    "target subject": _TARGET_USER,                              # 4688 (Windows 10+)
    "logon account": _TARGET_USER,
    "account whose credentials were used": {                     # 4648
        "account name": "TargetUserName", "account domain": "TargetDomainName", "logon guid": "TargetLogonGuid"},
    "target account": _TARGET_ACCOUNT,                           # 4722-4726, 4738, 4781
    "new account": _TARGET_ACCOUNT,                              # 4720
    "account that was locked out": _TARGET_ACCOUNT,              # 4740
    "member": {"security id": "MemberSid", "account name": "MemberName"},                 # 4728, 4732, 4756
    "group": {"security id": "TargetSid", "group name": "TargetUserName", "group domain": "TargetDomainName",
              "account name": "TargetUserName", "account domain": "TargetDomainName"},
    "account information": {                                     # 4768, 4769, 4771
        "account name": "TargetUserName", "supplied realm name": "TargetDomainName", "user id": "TargetSid",
        "account domain": "TargetDomainName", "logon guid": "LogonGuid", "security id": "TargetSid"},
    "service information": {"service name": "ServiceName", "service id": "ServiceSid",
                            "service file name": "ServiceFileName", "service type": "ServiceType",
                            "service start type": "ServiceStartType", "service account": "ServiceAccount"},
    "target server": {"target server name": "TargetServerName", "additional information": "TargetInfo"},
    "additional information": {"result code": "Status", "failure code": "Status", "ticket options": "TicketOptions",
                               "ticket encryption type": "TicketEncryptionType",
                               "pre-authentication type": "PreAuthType", "transited services": "TransmittedServices"},
}
# Labels that mean the same in any section (lower case).
LABELS: dict[str, str] = {
    "logon type": "LogonType", "restricted admin mode": "RestrictedAdminMode", "virtual account": "VirtualAccount",
    "elevated token": "ElevatedToken", "impersonation level": "ImpersonationLevel",
    "process id": "ProcessId", "process name": "ProcessName", "new process id": "NewProcessId",
    "new process name": "NewProcessName", "token elevation type": "TokenElevationType",
    "mandatory label": "MandatoryLabel", "creator process id": "ProcessId", "creator process name": "ParentProcessName",
    "process command line": "CommandLine",
    "workstation name": "WorkstationName", "source network address": "IpAddress", "source port": "IpPort",
    "client address": "IpAddress", "client port": "IpPort", "source address": "IpAddress",
    "network address": "IpAddress", "port": "IpPort",
    "logon process": "LogonProcessName", "authentication package": "AuthenticationPackageName",
    "transited services": "TransmittedServices", "package name (ntlm only)": "LmPackageName",
    "key length": "KeyLength", "failure reason": "FailureReason", "status": "Status", "sub status": "SubStatus",
    "privileges": "PrivilegeList", "service name": "ServiceName", "service file name": "ServiceFileName",
    "service type": "ServiceType", "service start type": "ServiceStartType", "service account": "ServiceAccount",
    "share name": "ShareName", "share path": "ShareLocalPath", "relative target name": "RelativeTargetName",
    "object type": "ObjectType", "object name": "ObjectName", "object server": "ObjectServer",
    "handle id": "HandleId", "access mask": "AccessMask", "accesses": "AccessList",
    "logon account": "TargetUserName", "source workstation": "Workstation", "error code": "Status",
    "sam account name": "SamAccountName", "display name": "DisplayName", "user principal name": "UserPrincipalName",
    "home directory": "HomeDirectory", "home drive": "HomePath", "script path": "ScriptPath",
    "profile path": "ProfilePath", "user workstations": "UserWorkstations", "password last set": "PasswordLastSet",
    "account expires": "AccountExpires", "primary group id": "PrimaryGroupId",
    "allowedtodelegateto": "AllowedToDelegateTo", "old uac value": "OldUacValue", "new uac value": "NewUacValue",
    "user account control": "UserAccountControl", "user parameters": "UserParameters", "sid history": "SidHistory",
    "logon hours": "LogonHours", "caller computer name": "TargetDomainName",
    "task name": "TaskName", "task content": "TaskContent",
}
def message_fields(message: str | None) -> dict[str, str]:
    """Named fields of an English Security event message (section-aware).

    Plain string operations per line (``partition``), not a regex: this runs once per CSV row.
    """
    out: dict[str, str] = {}
    if not message:
        return out
    section: dict[str, str] = {}
    last = None
    for line in message.splitlines()[1:]:          # line 1 is the description sentence
        label, colon, value = line.partition(":")
        if not colon or not label.strip():
            text = line.strip()
            if text and last is not None and line[:1] in ("\t", " "):     # Privileges: one per line (4672)
                out[last] += "\r\n\t\t\t" + text
            else:
                last = None
            continue
        value = value.strip()
        indented = line[:1] in ("\t", " ")
        key = label.strip().lower()
        last = None
        if not indented:
            if not value:                            # "New Logon:" opens a section
                section = SECTIONS.get(key, {})
                continue
            section = {}                             # a top-level "Label: value" line ends the section
        column = section.get(key) or LABELS.get(key)
        if column and column not in out:
            out[column] = value
            last = column
    return out


class SecurityEventsCsv(CsvTable):
    """DFIR-Script ``SecurityEvents.csv``: Get-EventLog security | Export-Csv."""

    name = "security_events_csv"
    tables = ("SecurityEvent",)
    table = "SecurityEvent"
    required = frozenset({"eventid", "machinename", "index", "entrytype", "message", "source", "instanceid",
                          "timegenerated"})
    path_hint = r"securityevents\.csv$"

    @classmethod
    def time_zone_evidence(cls, run: "CollectionRun") -> list[str]:
        """Hook called by convert before parsing: the host's UTC offset from this file and Security.evtx."""
        from .eventlog_timezone import time_zone_evidence
        return time_zone_evidence(run)

    def transform(self, t: pa.Table, ctx: FileContext) -> pa.Table:
        return security_event_rows(t, ctx, ORIGIN_CSV)


def security_event_rows(t: pa.Table, ctx: FileContext, origin: str) -> pa.Table:
    """SecurityEvent rows from ``Get-EventLog security`` records, whatever rendering carried them.

    ``t`` holds one string column per property with contract names (``Index`` already renamed to
    EventRecordId): the CSV's columns or the Format-List labels of ``SecurityEvents.txt``. Records
    that Security.evtx also holds are dropped; the named fields come from the English Message.
    """
    t = _drop_rows_in_security_evtx(t, ctx)
    if "MachineName" in t.column_names:
        t = t.rename_columns(["Computer" if n == "MachineName" else n for n in t.column_names])
    # One list per field that some message has (in the order they first appear), filled message by
    # message: each row costs its own fields, not one lookup for every field of the batch.
    fields: dict[str, list[str | None]] = {}
    messages = t.column("Message").to_pylist() if "Message" in t.column_names else []
    for row, message in enumerate(messages):
        for name, value in message_fields(message).items():
            column = fields.get(name)
            if column is None:
                column = fields[name] = [None] * t.num_rows
            column[row] = value
    for name, column in fields.items():
        values = pa.array(column, pa.string())
        if name in t.column_names:
            t = t.set_column(t.column_names.index(name), name, values)
        else:
            t = t.append_column(name, values)
    entry = contiguous(t.column("EntryType")) if "EntryType" in t.column_names else pa.nulls(t.num_rows,
                                                                                               pa.string())
    level = pc.if_else(pc.equal(entry, "SuccessAudit"), "8",
                       pc.if_else(pc.equal(entry, "FailureAudit"), "16", pa.scalar(None, pa.string())))
    t = t.append_column("Level", level)
    t = t.append_column("Channel", pa.array(["Security"] * t.num_rows, pa.string()))
    t = t.append_column("EventOrigin", pa.array([origin] * t.num_rows, pa.string()))
    return with_sentinel_columns(t)


def _drop_rows_in_security_evtx(t: pa.Table, ctx: FileContext) -> pa.Table:
    if "EventRecordId" not in t.column_names:
        return t
    known = security_evtx_records(ctx.run)
    if known is None or not len(known):
        return t
    times = contiguous(t.column("TimeGenerated")) if "TimeGenerated" in t.column_names else None
    joined = matches_in_log(contiguous(t.column("EventRecordId")), times, ctx.localtime.pattern, known)
    # The same record: same number, and (when the CSV's time can be read) at most one UTC offset apart.
    # A cleared log numbers its records again; its old rows in the CSV are not the log's new ones. Row by
    # row: another CSV row with the same number may be the log's record while this one is not.
    same = pc.filter(joined.column("Row"), pc.fill_null(plausible_offset(joined.column("Step")), True))
    in_evtx = pc.is_in(pa.array(np.arange(t.num_rows, dtype=np.int64)), value_set=pc.unique(same))
    dropped = pc.sum(in_evtx).as_py() or 0
    if dropped:
        ctx.note(f"{dropped} record(s) also in Security.evtx (Index = EventRecordID): written once, from the EVTX")
    return t.filter(pc.invert(in_evtx))


OFFSET_STEP_MINUTES = 15      # every UTC offset in use is a multiple of 15 minutes
MIN_OFFSET_MINUTES, MAX_OFFSET_MINUTES = -12 * 60, 14 * 60      # Baker Island to Kiribati


def matches_in_log(index: pa.Array, local_times: pa.Array | None, pattern, known: pa.Table) -> pa.Table:
    """Get-EventLog records (``Index`` and local ``TimeGenerated`` strings) against the log's records of the
    same number: per match the record's ``Row`` in the batch, its ``TimeCreated`` (UTC) and ``Step``, local
    minus UTC in minutes rounded to the 15-minute steps of real offsets (null without a time)."""
    digits = pc.fill_null(pc.match_substring_regex(index, r"^\d+$"), False)
    numbers = pc.cast(pc.if_else(digits, index, pa.scalar(None, pa.string())), pa.int64())
    local = None
    if local_times is not None:
        local, _ = LocalTime(pattern).parse(local_times)       # no offset: local strings read as if UTC
    csv = pa.table({"Row": pa.array(np.arange(len(index), dtype=np.int64)), "EventRecordId": numbers,
                    "Local": local if local is not None else pa.nulls(len(index), pa.timestamp("us"))})
    joined = known.join(csv, "EventRecordId", join_type="inner")     # the hash table on the batch's side

    def micros(a):      # both as wall clock
        return pc.cast(pc.cast(contiguous(a), pa.timestamp("us")), pa.int64())
    minutes = pc.divide(pc.cast(pc.subtract(micros(joined.column("Local")), micros(joined.column("TimeCreated"))),
                                pa.float64()), 60e6)
    step = pc.multiply(pc.round(pc.divide(minutes, OFFSET_STEP_MINUTES)), OFFSET_STEP_MINUTES)
    return joined.select(["Row", "TimeCreated"]).append_column("Step", step)


def plausible_offset(steps: pa.Array) -> pa.Array:
    """True where a difference can be a UTC offset (null where it is unknown)."""
    return pc.and_(pc.greater_equal(steps, MIN_OFFSET_MINUTES), pc.less_equal(steps, MAX_OFFSET_MINUTES))


SECURITY_EVTX_KEY = "eventlog.security_evtx_records"


def security_evtx_members(members: Iterable[Member]) -> list[Member]:
    return [m for m in members if m.name.lower() == "security.evtx" and not m.refused and m.head.startswith(EVTX_MAGIC)]


SECURITY_EVTX_SEEN_KEY = "eventlog.security_evtx_seen"


def listen_to_security_evtx(run: "CollectionRun", member: Member) -> Callable[[str, pa.Table], None]:
    """A FileContext listener for the conversion of a Security.evtx: keeps EventRecordId and TimeCreated
    of the SecurityEvent rows it writes, so that neither the time-zone evidence nor the CSV's
    de-duplication reads the log a second time (that pass cost as much as converting it)."""
    seen_members, parts = run.shared.setdefault(SECURITY_EVTX_SEEN_KEY, (set(), []))
    seen_members.add(member.path)

    def listen(table: str, rows: pa.Table) -> None:
        if table == "SecurityEvent":
            parts.append(pa.table({"EventRecordId": _column(rows, "EventRecordId", pa.int64()),
                                   "TimeCreated": _column(rows, "TimeGenerated", pa.timestamp("us", tz="UTC"))}))
    return listen


def _column(rows: pa.Table, name: str, typ: pa.DataType) -> pa.Array:
    """A copy of one column: a slice would keep the whole batch (EventData and all, mapped from a worker's
    spool) alive until the collection ends. A worker leaves all-null columns out of what it hands over."""
    if name not in rows.column_names:
        return pa.nulls(rows.num_rows, typ)
    return pa.concat_arrays([contiguous(rows.column(name)).cast(typ)])


def security_evtx_records(run: "CollectionRun") -> pa.Table | None:
    """EventRecordID and TimeCreated (UTC) of every Security-channel record in the collection's Security.evtx.

    From the conversion of the logs when it came first (with Get-EventLog output in the collection,
    Security.evtx is converted before the other files); otherwise read once (one extra pass of the Rust
    reader) and shared.
    The conversion's records are those it wrote: a record of a damaged log that could not be converted
    is not there, so its CSV row is kept.
    """
    if SECURITY_EVTX_KEY not in run.shared:
        members = security_evtx_members(run.collection.members)
        seen_members, parts = run.shared.get(SECURITY_EVTX_SEEN_KEY, (set(), []))
        if members and all(m.path in seen_members for m in members):
            run.shared[SECURITY_EVTX_KEY] = pa.concat_tables(parts) if parts else None
        else:
            run.shared[SECURITY_EVTX_KEY] = _read_security_records(members)
    return run.shared[SECURITY_EVTX_KEY]


_RECORD_TIMES_SQL = """
SELECT try_cast(s.EventRecordID AS BIGINT) AS EventRecordId, try_cast(s.TimeCreated."#attributes".SystemTime AS TIMESTAMP)
       AS TimeCreated
FROM (SELECT from_json(doc, '{"Event": {"System": {"EventRecordID": "VARCHAR", "Channel": "VARCHAR",
      "TimeCreated": {"#attributes": {"SystemTime": "VARCHAR"}}}}}').Event.System AS s FROM batch)
WHERE s.Channel = 'Security'
"""


def _read_security_records(members: list[Member]) -> pa.Table | None:
    import duckdb
    if not members:
        return None
    con = duckdb.connect(config={"threads": 1})
    parts = []
    for member in members:
        with member.readonly_path() as path:
            for batch in read_batches(path):
                con.register("batch", pa.table({"doc": pa.array(batch.docs, pa.string())}))
                parts.append(con.sql(_RECORD_TIMES_SQL).to_arrow_table())
    con.close()
    if not parts:
        return None
    return pa.concat_tables(parts)


class SecurityEventCountTxt(Artifact):
    """``SecurityEvents/EventCount.txt``: Group-Object EventID -NoElement as a Format-Table (UTF-16)."""

    name = "security_event_count_txt"
    tables = ("SecurityEventCount",)

    @classmethod
    def claim(cls, member: Member) -> int:
        if not member.lower.endswith("eventcount.txt"):
            return 0
        if is_empty_text(member.head):
            return 40
        text = member.head[:4096].decode(sniff(member.head).replace("-bom", "").replace("utf-8-sig", "utf-8"),
                                         errors="replace")
        return 60 if re.search(r"^\s*Count\s+Name\s*$", text, re.M) else 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes or BOM only: collected, no rows")
            return
        rows = []
        with member.open() as f:
            for number, line, truncated in iter_lines(f, sniff(member.head)):
                m = re.fullmatch(r"\s*(\d+)\s+(\d+)\s*", line)
                if m:
                    rows.append({"EventID": m[2], "EventCount": m[1], "SourceRecord": number})
                elif line.strip() and not re.fullmatch(r"\s*(Count\s+Name|-+\s+-+)\s*", line):
                    ctx.read(1)
                    ctx.reject(number, "not a 'Count EventID' line", line)
        ctx.read(ctx.emit("SecurityEventCount", rows))
