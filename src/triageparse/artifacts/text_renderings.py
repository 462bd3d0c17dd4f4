"""The UTF-16 text renderings of DFIR-Script (``Format-List`` / ``Format-Table`` through ``Out-File``).

Collections made before December 2023 (families F0–F2) have no CSV folder: their DNS cache,
autoruns, services, scheduled tasks, users, connections, shares, addresses, installed software
and processes exist only as text. Newer collections keep both, and some text holds what the CSV
lost (RunOnce values that ``Win32RegRunKey.csv`` dropped). Each class below reads one kind of
rendering into the *same* table the CSV fills (../shared/reference/dfir-script-formats.md §8).

Rules:

* the content decides the table (labels of the first record, header of the table), the file name
  only breaks ties: ``Applications/RecentlyInstalledSoftwareEventLogs.txt`` holds running services
  in 479cd3b … 80b8a70 and MSI events later, and is routed by what it holds;
* a row is written once. When the collection also holds a rendering that wins (the CSV of the same
  data, or a richer text file), rows whose key that rendering already has are skipped, whatever
  order the files are parsed in; only what the winner lacks is written from the text;
* values PowerShell cut (``...``/``…`` in tables, ``{a, b, c, d...}`` collections) keep the text as
  printed and set ``Truncated``; they are never passed off as complete.

``SecurityEvents.txt`` is not read here: the event-log parsers own the SecurityEvent table.
"""
from __future__ import annotations

import itertools
import re
from typing import ClassVar, Iterable, Iterator

import pyarrow as pa

from .. import contracts
from ..collection import Member
from ..formats.consoletable import is_truncated
from ..formats.encoding import is_empty_text, iter_lines, read_text, sniff
from ..formats.pscsv import read_pscsv
from ..formats.pstext import ListReader, TableReader, TableRow, TableStray, wrap_width
from .base import Artifact, FileContext, choose
from .csvtables import DNS_STATUS, DNS_TYPES, CsvTable, parse_msi_message, registry_location, timespan_seconds

Row = dict[str, object]
BATCH = 5000
DATE_SAMPLE_RECORDS = 5000        # enough to settle the culture; the rest of a big file is not read twice
PROVENANCE = {"CollectionId", "Computer", "SourceFile", "SourceRecord", "AdditionalFields"}


class TextRendering(Artifact):
    """A Format-List (``shape = "list"``) or Format-Table (``"table"``) file holding one table's rows."""

    table: ClassVar[str]
    shape: ClassVar[str] = "list"
    required: ClassVar[frozenset[str]]                 # lower-case labels / headers identifying the content
    forbidden: ClassVar[frozenset[str]] = frozenset()  # labels that mean another kind of object
    path_hint: ClassVar[str] = ""
    source: ClassVar[str | None] = None                # value of the contract's Source column
    aliases: ClassVar[dict[str, str]] = {}             # view label (lower) -> contract column
    key: ClassVar[tuple[str, ...]] = ()                # contract columns identifying a row across renderings
    winners: ClassVar[tuple[str, ...]] = ()            # artifacts whose rows win; own name = earlier files
    view: ClassVar[frozenset[str]] = frozenset()       # columns of the default table view, when all fit
    content_hint: ClassVar[str] = ""                   # regex the (lower-case) text must hold, when labels are generic

    # -- routing --------------------------------------------------------------------------------
    @classmethod
    def claim(cls, member: Member) -> int:
        if not member.lower.endswith(".txt"):
            return 0
        if is_empty_text(member.head):    # "collected, no rows": the name is all there is to go by
            return 40 if cls.path_hint and re.search(cls.path_hint, member.lower) else 0
        labels = head_labels(member, cls.shape)
        if not cls.required <= labels or cls.forbidden & labels:
            return 0
        if cls.content_hint and not re.search(cls.content_hint, read_text(member.head).lower()):
            return 0
        return 50 + len(cls.required) + (10 if cls.path_hint and re.search(cls.path_hint, member.lower) else 0)

    @property
    def contract(self) -> contracts.Contract:
        return contracts.get(self.table)

    # -- records --------------------------------------------------------------------------------
    def records(self, member: Member, ctx: FileContext | None = None) -> Iterator[tuple[int, Row]]:
        """``(line number, row)`` with contract column names; Truncated set where PowerShell cut."""
        with member.open() as f:
            lines = ((n, line) for n, line, _ in iter_lines(f, sniff(member.head)))
            if self.shape == "list":
                reader = ListReader(wrap_width(read_text(member.head).splitlines()))
                for record in reader.records(lines):
                    for number, stray in record.stray:
                        if ctx is not None:
                            ctx.warn(number, "line is neither a 'Label : value' line nor a continuation; ignored",
                                     stray)
                    if record.fields:
                        cut = {f.label for f in record.fields if f.truncated}
                        yield from self._rows_of(record.line, record.values(), cut, record.raw_text, ctx)
            else:
                for item in TableReader().rows(lines):
                    if isinstance(item, TableStray):
                        if ctx is not None:
                            ctx.note(f"line {item.line} outside any table: {item.text.strip()[:120]!r}")
                        continue
                    yield from self._rows_of(item.line, self.table_cells(item), set(item.truncated), item.raw, ctx)

    def table_cells(self, row: TableRow) -> dict[str, str]:
        cells = dict(row.cells)
        if row.group:
            cells.setdefault(row.group[0], row.group[1])
        return cells

    def _rows_of(self, line: int, values: dict[str, str], cut: set[str], raw: str,
                 ctx: FileContext | None) -> Iterator[tuple[int, Row]]:
        ignored = {s.lower() for s in self.contract.ignored_sources}
        row: Row = {}
        for label, value in values.items():
            if label.lower() in ignored:
                cut.discard(label)
                continue
            # An empty rendering cannot tell $null from "": stored as null, like the CSV's ,, field.
            row[target_name(self.contract, self.aliases, label, row)] = value if value != "" else None
        if self.key and all(row.get(k) is None for k in self.key):
            if ctx is not None:    # a fragment (no name, no id): nothing would tell what the row is
                ctx.read(1)
                ctx.reject(line, f"record has none of the labels that identify a {self.table} row "
                                 f"({', '.join(self.key)})", raw)
            return
        if self.source is not None:
            row["Source"] = self.source
        if cut:
            row["Truncated"] = True
        for out in self.transform(row, raw):
            if out is None:
                if ctx is not None:
                    ctx.read(1)
                    ctx.reject(line, f"record does not hold a {self.table} row", raw)
                continue
            if "Truncated" in self.contract.by_name:
                out.setdefault("Truncated", False)
            yield line, out

    def transform(self, row: Row, raw: str) -> Iterable[Row | None]:
        """Table-specific conversion; ``None`` rejects the record. Default: the row as is."""
        return (row,)

    # -- rows written once --------------------------------------------------------------------
    def winning_keys(self, member: Member, ctx: FileContext) -> tuple[set[tuple], list[str]]:
        """Keys the collection's winning renderings hold, and the paths they came from."""
        keys: set[tuple] = set()
        paths: list[str] = []
        if not self.winners:
            return keys, paths
        for other, cls in routes(ctx):
            if other is member or cls.name not in self.winners or is_empty_text(other.head):
                continue
            if cls.name == self.name and other.path >= member.path:
                continue      # same kind of file: the one that sorts first wins
            found = set(self._keys_of(other, cls, ctx))
            if found:
                keys |= found
                paths.append(other.path)
        return keys, paths

    def _keys_of(self, other: Member, cls: type[Artifact], ctx: FileContext) -> Iterator[tuple]:
        parser = cls()
        if isinstance(parser, TextRendering):
            for _, row in parser.records(other):
                yield self.key_of(row)
        elif isinstance(parser, CsvTable):
            result, batches = read_pscsv(other.open, other.head)
            for b in batches:
                t = parser.rename(b.table)
                t = t.append_column("SourceRecord", pa.array(range(t.num_rows), pa.int64()))
                for row in parser.transform(t, ctx).to_pylist():
                    yield self.key_of(row)

    def key_of(self, row: Row) -> tuple:
        """Normalised key; None for a key column the rendering does not show (dropped by the width)."""
        return tuple(_norm(row[k]) if k in row else None for k in self.key)

    def _won(self, row: Row, keys: set[tuple]) -> bool:
        mine = self.key_of(row)
        if mine in keys:
            return True
        if not any(v is None or is_truncated(v) for v in mine):
            return False
        return any(all(_same(a, b) for a, b in zip(mine, other)) for other in keys)

    # -- the two passes -------------------------------------------------------------------------
    def date_samples(self, member: Member, ctx: FileContext) -> Iterable[str]:
        wanted = [c.name for c in self.contract.columns if c.kusto_type == "datetime"]
        for _, row in itertools.islice(self.records(member), DATE_SAMPLE_RECORDS):
            for name in wanted:
                value = row.get(name)
                if isinstance(value, str) and value.strip():
                    yield value

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes or BOM only: collected, no rows")
            return
        ctx.placeholders = True
        dropped = self.view - head_labels(member, "table") if self.shape == "table" else frozenset()
        if dropped:
            ctx.lossy = True
            ctx.note(f"the table shows no {', '.join(sorted(dropped))} column: PowerShell drops the columns "
                     "that do not fit the output width")
        keys, winners = self.winning_keys(member, ctx)
        skipped = 0
        batch: list[Row] = []
        for number, row in self.records(member, ctx):
            if keys and self._won(row, keys):
                skipped += 1
                continue
            row["SourceRecord"] = number
            batch.append(row)
            if len(batch) >= BATCH:
                ctx.read(ctx.emit(self.table, batch))
                batch = []
        ctx.read(ctx.emit(self.table, batch))
        if skipped:
            ctx.note(f"{skipped} row(s) already written from {', '.join(winners)}; not written again")
            ctx.superseded_by = ", ".join(winners)


def _norm(value: object) -> str:
    return "" if value is None else str(value).strip().lower()


def _same(text_value: str | None, winner_value: str | None) -> bool:
    """Equal, a cut value ('fe80::1c2d:...') whose visible part starts the winner's value, or a value
    the rendering does not show at all (None)."""
    if text_value is None or text_value == winner_value:
        return True
    if is_truncated(text_value):
        visible = text_value[:-3] if text_value.endswith("...") else text_value[:-1]
        return winner_value.startswith(visible)
    return False


def target_name(contract: contracts.Contract, aliases: dict[str, str], label: str, taken: Row) -> str:
    """Contract column for a label (case-insensitive, via ``sources``); unknown or repeated labels
    keep their own name and land in AdditionalFields."""
    key = label.lower()
    target = aliases.get(key) or contract.source_index.get(key)
    if target is None or target in taken or target in PROVENANCE:
        return label if label not in contract.by_name and label not in PROVENANCE else f"Source{label}"
    return target


def routes(ctx: FileContext) -> list[tuple[Member, type[Artifact]]]:
    """Every text or CSV member of the collection with the parser it is routed to (cached per run)."""
    cached = ctx.run.shared.get("text_renderings.routes")
    if cached is None:
        cached = []
        for m in sorted(ctx.run.collection.members, key=lambda x: x.path):
            if m.refused or not m.lower.endswith((".txt", ".csv")):
                continue
            cls, _ = choose(m)
            if cls is not None:
                cached.append((m, cls))
        ctx.run.shared["text_renderings.routes"] = cached
    return cached


def head_labels(member: Member, shape: str) -> frozenset[str]:
    """Lower-case labels of the first records (list) or the header of the first table."""
    cached = getattr(member, "_text_labels", None)
    if cached is None:
        cached = _labels(member.head)
        member._text_labels = cached  # type: ignore[attr-defined]
    return cached[0] if shape == "list" else cached[1]


def _labels(head: bytes) -> tuple[frozenset[str], frozenset[str]]:
    lines = read_text(head).splitlines()[:400]
    numbered = list(enumerate(lines, 1))
    list_labels: set[str] = set()
    for i, record in enumerate(ListReader().records(numbered)):
        list_labels |= {f.label.lower() for f in record.fields}
        if i >= 1:
            break
    table_labels: set[str] = set()
    for item in TableReader().rows(numbered):
        if isinstance(item, TableRow):
            table_labels = {c.lower() for c in item.cells}
            break
    return frozenset(list_labels), frozenset(table_labels)


# ---- the renderings ---------------------------------------------------------------------------

DNS_TYPE_NUMBERS = {v.upper(): k for k, v in DNS_TYPES.items()}
# The list view prints the names of its format script; the CSV has the numbers (and csvtables names them).
DNS_STATUS_NUMBERS = {"SUCCESS": 0, "NOTEXIST": 9003, "NAMEERROR": 9003, "NORECORDS": 9501, "SERVERFAILURE": 9002}
DNS_SECTIONS = {"ANSWER": 1, "AUTHORITY": 2, "ADDITIONAL": 3}


class DnsCacheText(TextRendering):
    """``DNSCache.txt``: ``Get-DnsClientCache | Format-List`` (view labels, names instead of numbers)."""
    name = "dns_cache_txt"
    tables = ("DnsCacheEntry",)
    table = "DnsCacheEntry"
    required = frozenset({"entry", "data", "timetolive"})
    path_hint = r"dnscache\.txt$"
    aliases = {"recordname": "Name"}
    key = ("Entry", "Name", "Data", "RecordType")
    winners = ("dns_cache_csv",)

    def transform(self, row, raw):
        # Numbers as in the CSV; the derived names from the same tables csvtables uses, so both
        # renderings of one entry read alike. A name we cannot map stays in its *Name column.
        for column, numbers, names, name_column in (
                ("RecordType", DNS_TYPE_NUMBERS, DNS_TYPES, "RecordTypeName"),
                ("Status", DNS_STATUS_NUMBERS, DNS_STATUS, "StatusName"),
                ("Section", DNS_SECTIONS, {}, "SectionName")):
            value = str(row.get(column) or "").strip()
            number = int(value) if value.isdigit() else numbers.get(value.upper())
            row[column] = number
            if number is None and value:
                row[name_column] = value
            elif number is not None and names:
                row[name_column] = names.get(number, value if not value.isdigit() else None)
        return (row,)


class AutorunInfoText(TextRendering):
    """``AutoRunInfo.txt``: Win32_StartupCommand ``Select Name, command, Location, User | Format-List``."""
    name = "autorun_info_txt"
    tables = ("Autorun",)
    table = "Autorun"
    required = frozenset({"name", "command", "location", "user"})
    path_hint = r"autoruninfo\.txt$"
    source = "Win32_StartupCommand"
    key = ("Name", "Command", "Location", "User")
    winners = ("autorun_csv",)


PS_ITEM_LABELS = frozenset({"pspath", "psparentpath", "pschildname", "psdrive", "psprovider"})


class RegRunKeyText(TextRendering):
    """``Win32RegRunKey.txt``: ``Get-ItemProperty`` of RunOnce, then Run, as Format-List.

    One Autorun row per value. ``Win32RegRunKey.csv`` wins for the values it has; it drops RunOnce
    value names that Run lacks (first-object header), and those are written from here.
    """
    name = "reg_run_key_txt"
    tables = ("Autorun",)
    table = "Autorun"
    required = frozenset({"pspath", "pschildname", "psprovider"})
    content_hint = r"(?m)^pschildname +: run(once)?\s*$"      # registry-item labels alone fit any key
    path_hint = r"win32regrunkey\.txt$"
    winners = ("reg_run_key_csv",)

    def _rows_of(self, line, values, cut, raw, ctx):
        path = next((v for k, v in values.items() if k.lower() == "pspath"), "")
        child = next((v for k, v in values.items() if k.lower() == "pschildname"), "")
        # A registry path holds no newline: a continuation line of PSPath is always a wrap.
        location = registry_location(path.replace("\n", "")) if path else child
        for label, value in values.items():
            if label.lower() in PS_ITEM_LABELS:
                continue
            yield line, {"Source": "RegistryRunKey", "Location": location, "Name": label, "Command": value,
                         "Truncated": label in cut}

    def key_of(self, row):
        location = str(row.get("Location") or "")
        return (location.replace("\n", "").rsplit("\\", 1)[-1].lower(), _norm(row.get("Name")))


class ServiceText(TextRendering):
    """``RunningServices.txt`` (and ``Applications/RecentlyInstalledSoftwareEventLogs.txt`` of
    479cd3b … 80b8a70, which holds the same list): ``Get-Service | Format-List``."""
    name = "service_txt"
    tables = ("Service",)
    table = "Service"
    required = frozenset({"name", "displayname", "status", "servicetype"})
    path_hint = r"runningservices\.txt$"
    source = "GetService"
    key = ("Name",)
    winners = ("service_csv",)


class InstalledSoftwareText(TextRendering):
    """``RecentlyInstalledSoftwareEventLogs.txt`` with MSI events: ``select timecreated,message | FL *``."""
    name = "installed_software_txt"
    tables = ("InstalledSoftware",)
    table = "InstalledSoftware"
    required = frozenset({"timecreated", "message"})
    forbidden = frozenset({"eventid", "index"})
    path_hint = r"recentlyinstalledsoftwareeventlogs\.txt$"
    key = ("TimeCreated",)
    winners = ("installed_software_csv",)

    def transform(self, row, raw):
        # The message is one line in the event; the rendering wrapped it.
        row.update(parse_msi_message(str(row.get("Message") or "").replace("\n", " ")))
        return (row,)


class ScheduledTaskText(TextRendering):
    name = "scheduled_task_txt"
    tables = ("ScheduledTask",)
    table = "ScheduledTask"
    required = frozenset({"taskname", "taskpath"})
    forbidden = frozenset({"lastruntime", "nextruntime"})
    path_hint = r"scheduledtaskslist\.txt$"
    source = "GetScheduledTask"
    key = ("TaskPath", "TaskName")
    winners = ("scheduled_task_csv",)


class ScheduledTaskRunInfoText(TextRendering):
    name = "scheduled_task_run_info_txt"
    tables = ("ScheduledTaskRunInfo",)
    table = "ScheduledTaskRunInfo"
    required = frozenset({"taskname", "lastruntime", "lasttaskresult"})
    path_hint = r"scheduledtaskslistruninfo\.txt$"
    key = ("TaskPath", "TaskName")
    winners = ("scheduled_task_run_info_csv",)


class NetIpAddressText(TextRendering):
    """``ipinfo.txt``: the default list view of ``Get-NetIPAddress``."""
    name = "net_ip_address_txt"
    tables = ("NetIpAddress",)
    table = "NetIpAddress"
    required = frozenset({"ipaddress", "interfaceindex", "addressfamily"})
    path_hint = r"ipinfo\.txt$"
    key = ("IPAddress", "InterfaceIndex")
    winners = ("net_ip_address_csv",)

    def transform(self, row, raw):
        for text, seconds in (("ValidLifetimeText", "ValidLifetimeSeconds"),
                              ("PreferredLifetimeText", "PreferredLifetimeSeconds")):
            if text in row:
                row[seconds] = timespan_seconds(str(row[text] or ""))
        return (row,)


class ShadowCopyText(TextRendering):
    """``ShadowCopies.txt``: ``Win32_ShadowCopy`` has no view, so a list of all its properties."""
    name = "shadow_copy_txt"
    tables = ("ShadowCopy",)
    table = "ShadowCopy"
    required = frozenset({"deviceobject", "volumename", "installdate"})
    path_hint = r"shadowcopies\.txt$"
    key = ("ShadowId",)
    winners = ("shadow_copy_csv",)


class LocalUserText(TextRendering):
    """``LocalUsers.txt``: ``Get-LocalUser`` default table (Name, Enabled, Description)."""
    name = "local_user_txt"
    tables = ("LocalUser",)
    table = "LocalUser"
    shape = "table"
    required = frozenset({"name", "enabled"})
    view = frozenset({"name", "enabled", "description"})
    path_hint = r"localusers\.txt$"
    key = ("Name",)
    winners = ("local_user_csv",)


class TcpConnectionText(TextRendering):
    """``OpenConnections.txt``: ``Get-NetTCPConnection -State Established`` default table."""
    name = "tcp_connection_txt"
    tables = ("TcpConnection",)
    table = "TcpConnection"
    shape = "table"
    required = frozenset({"localaddress", "localport"})
    view = frozenset({"localaddress", "localport", "remoteaddress", "remoteport", "state"})
    path_hint = r"openconnections\.txt$"
    key = ("LocalAddress", "LocalPort", "RemoteAddress", "RemotePort")
    winners = ("tcp_connection_csv",)


class SmbShareText(TextRendering):
    """``SMBShares.txt``: ``Get-SmbShare`` default table (Name, ScopeName, Path, Description)."""
    name = "smb_share_txt"
    tables = ("SmbShare",)
    table = "SmbShare"
    shape = "table"
    required = frozenset({"name", "scopename"})
    view = frozenset({"name", "scopename", "path", "description"})
    path_hint = r"smbshares\.txt$"
    key = ("ScopeName", "Name")
    winners = ("smb_share_csv",)


# Facts of Get-Process (ProcessListDetailed.txt) worth keeping with a command-line row of the same PID.
PROCESS_DETAILS = ("StartTime", "Company", "Description", "Product", "ProductVersion", "FileVersion",
                   "PriorityClass", "SI", "SessionId", "HandleCount", "WorkingSet64", "CPU", "MainWindowTitle")

# Processes (F0/F1): three renderings of one process list. The command-line file is the richest
# in what matters (command line, path); the detailed list adds PIDs it lacks; the tables last.
PROCESS_WINNERS = ("process_list_csv", "process_commandline_txt", "process_detail_txt", "process_table_txt")


class ProcessCommandLineText(TextRendering):
    """``CommandlineInformation.txt``: Win32_Process ``Select Name, ProcessId, CommandLine, Path | FL``."""
    name = "process_commandline_txt"
    tables = ("Process",)
    table = "Process"
    required = frozenset({"name", "processid", "commandline"})
    path_hint = r"commandlineinformation\.txt$"
    key = ("ProcessId",)
    winners = PROCESS_WINNERS[:1]

    def parse(self, member, ctx):
        self._details = self._process_details(member, ctx)
        super().parse(member, ctx)

    def transform(self, row, raw):
        # The detailed list of the same collection knows what Win32_Process here lacks (start time,
        # company, …); its rows for these PIDs are not written, so their facts travel with this row.
        extra = getattr(self, "_details", {}).get(_norm(row.get("ProcessId")))
        if extra:
            row["AdditionalFields"] = extra
        return (row,)

    @staticmethod
    def _process_details(member: Member, ctx: FileContext) -> dict[str, dict[str, str]]:
        details: dict[str, dict[str, str]] = {}
        for other, cls in routes(ctx):
            if cls is ProcessDetailText and not is_empty_text(other.head):
                for _, row in cls().records(other):
                    facts = {k: row[k] for k in PROCESS_DETAILS if row.get(k) not in (None, "")}
                    if facts:
                        details.setdefault(_norm(row.get("ProcessId")), {**facts, "DetailsFrom": other.path})
        if details:
            ctx.note(f"start time, company and other facts of {len(details)} process(es) taken from "
                     "the detailed process list")
        return details


class ProcessDetailText(TextRendering):
    """``ProcessListDetailed.txt``: ``Get-Process | Format-List *``."""
    name = "process_detail_txt"
    tables = ("Process",)
    table = "Process"
    required = frozenset({"id", "processname", "handlecount"})
    path_hint = r"processlistdetailed\.txt$"
    key = ("ProcessId",)
    winners = PROCESS_WINNERS[:2]


class ProcessTableText(TextRendering):
    """``ProcessList.txt`` (``Get-Process`` table) and ``ProcessPriorityList.txt`` (grouped by
    ``PriorityClass``): only PIDs that no richer rendering has are written from these."""
    name = "process_table_txt"
    tables = ("Process",)
    table = "Process"
    shape = "table"
    required = frozenset({"id", "processname"})
    path_hint = r"process(priority)?list\.txt$"
    key = ("ProcessId",)
    winners = PROCESS_WINNERS


_PROPERTY = re.compile(r"^(?P<name>.*?)\s+:(?: (?P<value>.*))?$")


class RegistryKeyTable(TextRendering):
    """``Get-ChildItem`` of a registry key, as the default table.

    Under a ``Hive:`` group header, one sub-key per row; its values are ``name : value`` lines in
    the Property column, continued on rows with an empty Name cell. Key names cut with ``...`` keep
    the visible part and are flagged.
    """
    shape = "table"
    required = frozenset({"name", "property"})
    key = ("PSChildName",)

    def records(self, member, ctx=None):
        with member.open() as f:
            lines = ((n, line) for n, line, _ in iter_lines(f, sniff(member.head)))
            key: TableRow | None = None
            values: dict[str, str] = {}
            for item in TableReader().rows(lines):
                if isinstance(item, TableRow) and item.continuation and key is not None:
                    self._add_property(values, item.cells.get("Property", ""))
                    continue
                if key is not None:
                    yield key.line, self._key_row(key, values)
                key, values = None, {}
                if isinstance(item, TableRow):
                    key = item
                    self._add_property(values, item.cells.get("Property", ""))
            if key is not None:
                yield key.line, self._key_row(key, values)

    @staticmethod
    def _add_property(values: dict[str, str], text: str) -> None:
        m = _PROPERTY.match(text)
        if m:
            values[m["name"]] = m["value"] or ""
        elif text:
            values[text] = ""

    @staticmethod
    def _key_row(row: TableRow, values: dict[str, str]) -> Row:
        name = row.cells.get("Name", "")
        hive = row.group[1] if row.group and row.group[0].lower() == "hive" else ""
        out: Row = {"PSChildName": name, "KeyName": f"{hive}\\{name}" if hive else name,
                    "ValueCount": len(values)}
        if values:   # a JSON object per key (a bare dict column would become one struct for all rows)
            out["AdditionalFields"] = {"Values": values}
        if row.truncated:
            out["Truncated"] = True        # no Truncated column in these tables: kept in AdditionalFields
        return out


class NetworkShareText(RegistryKeyTable):
    """``NetworkShares.txt``: the MountPoints2 sub-keys (one per mapped or mounted share)."""
    name = "network_share_txt"
    tables = ("NetworkShare",)
    table = "NetworkShare"
    content_hint = r"mountpoints2"
    path_hint = r"networkshares\.txt$"
    winners = ("network_share_csv",)


class OfficeConnectionText(RegistryKeyTable):
    """``ConnectionsMadeByOffice.txt`` (``Get-ChildItem`` form): the Office ``Server Cache`` sub-keys."""
    name = "office_connection_txt"
    tables = ("OfficeConnection",)
    table = "OfficeConnection"
    content_hint = r"server cache"
    path_hint = r"connectionsmadebyoffice\.txt$"
    winners = ("office_connection_csv",)
