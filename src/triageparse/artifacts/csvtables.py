"""The structured CSVs of DFIR-Script (``CSV Results (SIEM Import Data)`` and its older names,
``ProcessInformation/*.csv``, ``ConnectedDevices/*.csv``).

Each class below is one table: the headers that identify its content, and what has to happen
beyond renaming columns to the contract. The content decides the table, never the file name
alone: ``RunningServices.csv`` of F3a/F3b holds PnP devices and is routed to ``PnpDevice``.
"""
from __future__ import annotations

import io
import itertools
import re
from typing import ClassVar, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import contracts
from ..collection import Member
from ..formats.encoding import is_empty_text, iter_text, sniff
from ..formats.pscsv import _header, read_pscsv
from .base import Artifact, FileContext


def csv_header(member: Member) -> list[str]:
    """Lower-cased header fields of a CSV member (empty when the file is not CSV-like)."""
    cached = getattr(member, "_csv_header", None)
    if cached is not None:
        return cached
    fields: list[str] = []
    if member.lower.endswith(".csv") and not is_empty_text(member.head):
        text = "".join(itertools.islice(iter_text(io.BytesIO(member.head), sniff(member.head)), 1))
        fields = [f.lower() for f in _header(text)[0]]
    member._csv_header = fields  # type: ignore[attr-defined]
    return fields


class CsvTable(Artifact):
    """A PowerShell CSV whose columns map by name onto one contract."""

    table: ClassVar[str]
    required: ClassVar[frozenset[str]] = frozenset()   # lower-case headers that identify the content
    path_hint: ClassVar[str] = ""                       # regex on the lower-case path, a tie-breaker
    ascii_lossy: ClassVar[bool] = False                 # Export-Csv default: '?' replaced non-ASCII

    @classmethod
    def claim(cls, member: Member) -> int:
        if not member.lower.endswith(".csv"):
            return 0
        if is_empty_text(member.head):
            return 40 if cls.path_hint and re.search(cls.path_hint, member.lower) else 0
        header = set(csv_header(member))
        if not cls.required or not cls.required <= header:
            return 0
        score = 50 + len(cls.required)
        if cls.path_hint and re.search(cls.path_hint, member.lower):
            score += 10
        return score

    @property
    def contract(self) -> contracts.Contract:
        return contracts.get(self.table)

    def date_samples(self, member: Member, ctx: FileContext) -> Iterable[str]:
        wanted = {c.name for c in self.contract.columns if c.kusto_type == "datetime"}
        if not wanted:
            return
        result, batches = read_pscsv(member.open, member.head)
        seen = 0
        for b in batches:
            t = self.rename(b.table)
            for name in wanted & set(t.column_names):
                yield from (v for v in t.column(name).to_pylist() if v)
            seen += b.table.num_rows
            if seen >= 5000:
                return

    def rename(self, t: pa.Table) -> pa.Table:
        index = self.contract.source_index
        ignored = {s.lower() for s in self.contract.ignored_sources}
        names, keep = [], []
        taken: set[str] = set()
        for i, n in enumerate(t.column_names):
            key = n.lower()
            if key in ignored:
                continue
            target = index.get(key)
            if target is None or target in taken or target in ("CollectionId", "SourceFile", "SourceRecord",
                                                                 "AdditionalFields"):
                target = n if n not in self.contract.by_name else f"Source{n}"
            taken.add(target)
            names.append(target)
            keep.append(i)
        return pa.table([t.column(i) for i in keep], names=names)

    def transform(self, t: pa.Table, ctx: FileContext) -> pa.Table:
        """Hook for table-specific derived columns; ``t`` already carries contract names."""
        return t

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes or BOM only: collected, no rows")
            return
        ctx.placeholders = True
        result, batches = read_pscsv(member.open, member.head)
        if result.type_line:
            ctx.note(f"tolerated a {result.type_line[:80]!r} line")
        lossy_ascii = self.ascii_lossy and result.encoding == "utf-8"
        for b in batches:
            t = self.rename(b.table)
            n = t.num_rows
            t = t.append_column("SourceRecord", pa.array(np.arange(b.first_record, b.first_record + n, dtype=np.int64)))
            if lossy_ascii and "Lossy" in self.contract.by_name:
                t = t.append_column("Lossy", self._question_marks(t))
            t = self.transform(t, ctx)
            # Rows, not records, are counted: an unpivot (Win32RegRunKey) turns one record into several.
            ctx.read(ctx.emit(self.table, t))
            if lossy_ascii and "Lossy" in t.column_names and pc.any(t.column("Lossy")).as_py():
                ctx.lossy = True
                ctx.note("ASCII export: '?' may stand for characters PowerShell could not encode")
        for issue in result.issues:
            if issue.reason.startswith("record has") or issue.reason.startswith("unreadable"):
                ctx.read(1)
                ctx.reject(issue.record, issue.reason, issue.raw)
            else:
                ctx.warn(issue.record, issue.reason, issue.raw)
        if result.fallback:
            ctx.note("read by the tolerant CSV reader after the fast reader stopped")
        if not member.head.rstrip(b"\x00").endswith((b"\n", b"\r")) and member.size and member.size <= len(member.head):
            ctx.warn(None, "file does not end with a line break: the last record may be cut off")

    def _question_marks(self, t: pa.Table) -> pa.Array:
        mask = None
        for name in t.column_names:
            col = t.column(name)
            if pa.types.is_string(col.type):
                hit = pc.fill_null(pc.match_substring(col, "?"), False)
                mask = hit if mask is None else pc.or_(mask, hit)
        return mask if mask is not None else pa.nulls(t.num_rows, pa.bool_())


def _const(t: pa.Table, name: str, value) -> pa.Table:
    arr = pa.repeat(pa.scalar(value, pa.string()), t.num_rows)
    if name in t.column_names:
        return t.set_column(t.column_names.index(name), name, arr)
    return t.append_column(name, arr)


DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
             41: "OPT", 47: "NSEC", 255: "ANY", 65: "HTTPS", 64: "SVCB"}
DNS_STATUS = {0: "Success", 9003: "NameError", 9501: "NoRecords", 9002: "ServerFailure", 9701: "NoRecords"}


def _lookup(values: pa.ChunkedArray | pa.Array, table: dict[int, str]) -> pa.Array:
    """Name of a numeric code, matched on the text as written (one hash lookup, no parsing)."""
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    idx = pc.index_in(text, value_set=pa.array([str(k) for k in table], pa.string()))
    return pc.take(pa.array(list(table.values()), pa.string()), idx)


class DnsCacheCsv(CsvTable):
    name = "dns_cache_csv"
    tables = ("DnsCacheEntry",)
    table = "DnsCacheEntry"
    required = frozenset({"entry", "data", "timetolive", "section"})
    path_hint = r"dnscache\.csv$"

    def transform(self, t, ctx):
        if "RecordType" in t.column_names:
            t = t.append_column("RecordTypeName", _lookup(t.column("RecordType"), DNS_TYPES))
        if "Status" in t.column_names:
            t = t.append_column("StatusName", _lookup(t.column("Status"), DNS_STATUS))
        return t


class TcpConnectionCsv(CsvTable):
    name = "tcp_connection_csv"
    tables = ("TcpConnection",)
    table = "TcpConnection"
    required = frozenset({"localaddress", "localport", "remoteaddress", "remoteport", "owningprocess"})
    path_hint = r"opentcpconnections\.csv$"


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")


def timespan_seconds(text: str | None) -> int | None:
    """``[d.]hh:mm:ss[.f]`` -> seconds; TimeSpan.MaxValue and 'Infinite' mean no limit (null)."""
    if not text:
        return None
    if text.startswith("Infinite") or text.startswith("10675199.02:48:05"):
        return None
    m = _TIMESPAN.match(text.strip())
    if not m:
        return None
    d, h, mi, s = (int(x or 0) for x in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


class NetIpAddressCsv(CsvTable):
    name = "net_ip_address_csv"
    tables = ("NetIpAddress",)
    table = "NetIpAddress"
    required = frozenset({"ipaddress", "interfacealias", "prefixlength", "addressfamily"})
    path_hint = r"ipconfiguration\.csv$"

    def transform(self, t, ctx):
        for text, secs in (("ValidLifetimeText", "ValidLifetimeSeconds"),
                           ("PreferredLifetimeText", "PreferredLifetimeSeconds")):
            if text in t.column_names:
                t = t.append_column(secs, pa.array([timespan_seconds(v) for v in t.column(text).to_pylist()],
                                                   pa.int64()))
        return t


class LocalUserCsv(CsvTable):
    name = "local_user_csv"
    tables = ("LocalUser",)
    table = "LocalUser"
    required = frozenset({"name", "sid", "enabled", "principalsource"})
    path_hint = r"localusers\.csv$"


class RunningServicesCsv(CsvTable):
    name = "service_csv"
    tables = ("Service",)
    table = "Service"
    required = frozenset({"name", "displayname", "status", "servicetype"})
    path_hint = r"runningservices\.csv$"

    def transform(self, t, ctx):
        return _const(t, "Source", "GetService")


class ScheduledTaskCsv(CsvTable):
    name = "scheduled_task_csv"
    tables = ("ScheduledTask",)
    table = "ScheduledTask"
    required = frozenset({"taskname", "taskpath", "uri", "state"})
    path_hint = r"scheduledtasks\.csv$"

    def transform(self, t, ctx):
        return _const(t, "Source", "GetScheduledTask")


class ScheduledTaskRunInfoCsv(CsvTable):
    name = "scheduled_task_run_info_csv"
    tables = ("ScheduledTaskRunInfo",)
    table = "ScheduledTaskRunInfo"
    required = frozenset({"taskname", "lastruntime", "lasttaskresult", "nextruntime"})
    path_hint = r"scheduledtasksruninfo\.csv$"


class AutoRunCsv(CsvTable):
    """``AutoRun.csv``: Win32_StartupCommand (Name, Command, Location, User)."""
    name = "autorun_csv"
    tables = ("Autorun",)
    table = "Autorun"
    required = frozenset({"name", "command", "location", "user"})
    path_hint = r"autorun\.csv$"

    def transform(self, t, ctx):
        return _const(t, "Source", "Win32_StartupCommand")


_HIVE_ABBREVIATIONS = {"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_CURRENT_USER": "HKCU", "HKEY_USERS": "HKU",
                       "HKEY_CLASSES_ROOT": "HKCR"}


def registry_location(ps_path: str) -> str:
    """``Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\…`` -> ``HKLM\\…``, the form every Autorun source uses."""
    key = ps_path.split("::", 1)[-1]
    root, sep, rest = key.partition("\\")
    return _HIVE_ABBREVIATIONS.get(root.upper(), root) + sep + rest


PS_ITEM_COLUMNS = ("pspath", "psparentpath", "pschildname", "psdrive", "psprovider")


class RegRunKeyCsv(CsvTable):
    """``Win32RegRunKey.csv``: one Get-ItemProperty object per key, value names as columns.

    Unpivoted to one Autorun row per value. The header comes from the Run object, so RunOnce values
    whose names Run lacks were dropped by PowerShell; the text rendering restores them.
    """
    name = "reg_run_key_csv"
    tables = ("Autorun",)
    table = "Autorun"
    required = frozenset({"pspath", "pschildname", "psprovider"})
    path_hint = r"win32regrunkey\.csv$"

    def rename(self, t):
        return t

    def transform(self, t, ctx):
        rows = []
        value_cols = [c for c in t.column_names if c.lower() not in PS_ITEM_COLUMNS and c != "SourceRecord"]
        data = {c: t.column(c).to_pylist() for c in t.column_names}
        for i in range(t.num_rows):
            path = data.get("PSPath", [None] * t.num_rows)[i] or ""
            location = registry_location(path) if path else data.get("PSChildName", [None])[i]
            for vc in value_cols:
                v = data[vc][i]
                if v is None or v == "":
                    continue   # the value does not exist under this key (ragged header)
                rows.append({"SourceRecord": data["SourceRecord"][i], "Source": "RegistryRunKey",
                             "Location": location, "Name": vc, "Command": v})
        if not rows:
            return pa.table({"SourceRecord": pa.array([], pa.int64())})
        out = pa.Table.from_pylist(rows)
        ctx.run.shared.setdefault("regrunkey_csv_values", set()).update((r["Location"], r["Name"]) for r in rows)
        return out


class ProcessListCsv(CsvTable):
    name = "process_list_csv"
    tables = ("Process",)
    table = "Process"
    required = frozenset({"proc_name", "proc_processid"})
    path_hint = r"processlist\.csv$"
    ascii_lossy = True


class ProcessImageCsv(CsvTable):
    """``Processes.csv`` / ``UniqueProcessHash.csv`` (and the 2247d93 variant with only Proc_Path)."""
    name = "process_image_csv"
    tables = ("ProcessImage",)
    table = "ProcessImage"
    required = frozenset({"proc_path"})
    path_hint = r"(processes|uniqueprocesshash)\.csv$"
    ascii_lossy = True


class SmbShareCsv(CsvTable):
    name = "smb_share_csv"
    tables = ("SmbShare",)
    table = "SmbShare"
    required = frozenset({"name", "path", "sharestate", "sharetype"})
    path_hint = r"smbshares\.csv$"


REGKEY_HEADERS = frozenset({"pspath", "pschildname", "subkeycount", "valuecount"})


class NetworkShareCsv(CsvTable):
    name = "network_share_csv"
    tables = ("NetworkShare",)
    table = "NetworkShare"
    required = frozenset({"pspath", "pschildname"})
    path_hint = r"networkshares\.csv$"

    @classmethod
    def claim(cls, member):
        return super().claim(member) if re.search(cls.path_hint, member.lower) or \
            "mountpoints2" in " ".join(csv_header(member)) else 0


class OfficeConnectionCsv(CsvTable):
    name = "office_connection_csv"
    tables = ("OfficeConnection",)
    table = "OfficeConnection"
    required = frozenset({"pspath", "pschildname"})
    path_hint = r"officeconnections\.csv$"

    @classmethod
    def claim(cls, member):
        return super().claim(member) + 5 if re.search(cls.path_hint, member.lower) else 0


class PnpDeviceCsv(CsvTable):
    """``ConnectedDevices.csv``, and ``RunningServices.csv`` of F3a/F3b, which holds PnP data too."""
    name = "pnp_device_csv"
    tables = ("PnpDevice",)
    table = "PnpDevice"
    required = frozenset({"class", "friendlyname", "instanceid", "present"})
    path_hint = r"connecteddevices\.csv$"
    ascii_lossy = True


class ShadowCopyCsv(CsvTable):
    name = "shadow_copy_csv"
    tables = ("ShadowCopy",)
    table = "ShadowCopy"
    required = frozenset({"deviceobject", "volumename", "id", "installdate"})
    path_hint = r"shadowcopy\.csv$"


_MSI = re.compile(r"Product Name: (?P<name>.*?)\. Product Version: (?P<version>.*?)\. Product Language: "
                  r"(?P<lang>.*?)\. Manufacturer: (?P<maker>.*?)\. Installation success or error status: "
                  r"(?P<status>-?\d+)", re.S)


def parse_msi_message(msg: str | None) -> dict:
    m = _MSI.search(msg or "")
    if not m:
        return {}
    return {"ProductName": m["name"], "ProductVersion": m["version"], "ProductLanguage": m["lang"],
            "Manufacturer": m["maker"], "InstallStatus": int(m["status"])}


class InstalledSoftwareCsv(CsvTable):
    name = "installed_software_csv"
    tables = ("InstalledSoftware",)
    table = "InstalledSoftware"
    required = frozenset({"timecreated", "message"})
    path_hint = r"installedsoftware\.csv$"

    def transform(self, t, ctx):
        messages = t.column("Message").to_pylist() if "Message" in t.column_names else [None] * t.num_rows
        parsed = [parse_msi_message(m) for m in messages]
        for key, typ in (("ProductName", pa.string()), ("ProductVersion", pa.string()),
                         ("ProductLanguage", pa.string()), ("Manufacturer", pa.string()),
                         ("InstallStatus", pa.int64())):
            t = t.append_column(key, pa.array([p.get(key) for p in parsed], typ))
        return t


class PowerShellHistoryCsv(CsvTable):
    name = "powershell_history_csv"
    tables = ("PowerShellHistory",)
    table = "PowerShellHistory"
    required = frozenset({"id", "commandline", "executionstatus"})
    path_hint = r"powershellhistory\.csv$"

    def transform(self, t, ctx):
        return _const(t, "Source", "GetHistory")
