r"""Raw registry hives (SYSTEM, SOFTWARE, NTUSER.DAT …) → ``Autorun`` and ``Service`` rows.

A live script sees what an attacker lets it see; the hive files of a KAPE-style triage hold what
is really configured. We read them with regipy, by **targeted key lookups** only: the autostart
locations below and the services of the current control set (``Select\Current``). A full walk is
never needed, which keeps a 30k-key SYSTEM hive well under a second.

Why the scoped fix of regipy (``_regipy_inline_values``): for a value whose data sits inline in
the value record (every REG_DWORD, short strings), regipy 6.5 still calls
``stream.read(data_size)`` with the inline flag 0x80000000 set in ``data_size`` — a read of the
whole rest of the hive, discarded afterwards. That is what makes its ``services`` plugin take
30 s on a 12 MB SYSTEM hive and its full walk super-linear. We replace that one static method
while we read, with a version that returns exactly the inline bytes (the values regipy returns
are unchanged: for inline data it decodes ``data_offset`` itself), and put the original back.

Values are always read with ``trim_values=False`` (regipy's default cuts them to 256 characters).
regipy's own persistence plugins are not used, after checking their key lists against real hives
(tests/test_registry_hives.py shows our locations cover everything its NTUSER plugin finds): the
NTUSER list looks for ``Windows NT\CurrentVersion\Run``, a key Windows does not have (the real
one is the ``Run``/``Load`` value of ``…\Windows NT\CurrentVersion\Windows``), the SOFTWARE list
prefixes ``Winlogon\Notify`` with ``\Software`` so it never matches inside a SOFTWARE hive and
trims values, and neither covers Winlogon Shell/Userinit, IFEO, AppInit_DLLs, Active Setup or
StartupApproved.

Dirty hives (primary ≠ secondary sequence number) are replayed with regipy's transaction-log
recovery when their ``.LOG1``/``.LOG2`` were collected beside them (older log first); otherwise,
or when the replay fails, the hive is read as it is and a ParseIssue says it is dirty. A corrupt
key costs that location only: each lookup is guarded, and a key that yields fewer values or
subkeys than its header announces is reported.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from ..collection import Member
from .base import Artifact, FileContext

REGF = b"regf"
SOURCE = "RegistryHive"

# Base-block "file type": 0 = primary hive; 1, 2 = old-format logs; 6 = new-format (HvLE) log.
PRIMARY_FILE = 0

HIVE_BY_PATH = (   # (regex on the lower-case path, hive kind); drive folders C/ or C%3A/ may precede
    (re.compile(r"(^|/)windows/system32/config/system$"), "SYSTEM"),
    (re.compile(r"(^|/)windows/system32/config/software$"), "SOFTWARE"),
    (re.compile(r"(^|/)windows/system32/config/sam$"), "SAM"),
    (re.compile(r"(^|/)windows/system32/config/security$"), "SECURITY"),
    (re.compile(r"(^|/)ntuser\.dat$"), "NTUSER"),
    (re.compile(r"(^|/)usrclass\.dat$"), "USRCLASS"),
    (re.compile(r"(^|/)amcache\.hve$"), "AMCACHE"),
)
USER_FROM_PATH = re.compile(r"(?:^|/)(?:users|documents and settings)/([^/]+)/(?:ntuser\.dat|appdata/local/microsoft/"
                            r"windows/usrclass\.dat|local settings/application data/microsoft/windows/usrclass\.dat)$",
                            re.I)
USER_FROM_EMBEDDED_NAME = re.compile(r"(?:users|documents and settings)\\([^\\]+)\\ntuser\.dat$", re.I)

START_TYPES = {0: "Boot", 1: "System", 2: "Automatic", 3: "Manual", 4: "Disabled"}
SERVICE_TYPE_FLAGS = (   # names as .NET's ServiceType / Get-Service render them
    (0x1, "KernelDriver"), (0x2, "FileSystemDriver"), (0x4, "Adapter"), (0x8, "RecognizerDriver"),
    (0x10, "Win32OwnProcess"), (0x20, "Win32ShareProcess"), (0x40, "UserService"),
    (0x80, "UserServiceInstance"), (0x100, "InteractiveProcess"), (0x200, "PkgService"),
)
AUTOSTARTING = {0, 1, 2}      # services that start without being asked: these are autoruns too


# ---- autostart locations ----------------------------------------------------------------------

@dataclass(frozen=True)
class Location:
    """One autostart key, relative to a hive's software root (or to the control set for SYSTEM).

    ``values``: None = every value of the key is an entry; a tuple = only these values.
    ``per_subkey``: the entries are the subkeys (IFEO, Active Setup, Winlogon\\Notify), each
    contributing the named ``values`` (or all of its values when ``values`` is None).
    """
    path: str
    category: str
    values: tuple[str, ...] | None = None
    per_subkey: bool = False


CV = r"Microsoft\Windows\CurrentVersion"
NTCV = r"Microsoft\Windows NT\CurrentVersion"
TS_INSTALL = NTCV + r"\Terminal Server\Install\Software\Microsoft\Windows\CurrentVersion"

_SOFTWARE_LOCATIONS = (
    Location(CV + r"\Run", "Run"),
    Location(CV + r"\RunOnce", "RunOnce"),
    Location(CV + r"\RunOnce\Setup", "RunOnce"),
    Location(CV + r"\RunOnceEx", "RunOnceEx"),
    Location(CV + r"\RunOnceEx", "RunOnceEx", per_subkey=True),
    Location(CV + r"\RunServices", "RunServices"),
    Location(CV + r"\RunServicesOnce", "RunServices"),
    Location(CV + r"\Policies\Explorer\Run", "PoliciesRun"),
    Location(TS_INSTALL + r"\Run", "TerminalServerRun"),
    Location(TS_INSTALL + r"\RunOnce", "TerminalServerRun"),
    Location(TS_INSTALL + r"\RunOnceEx", "TerminalServerRun"),
    Location(NTCV + r"\Winlogon", "Winlogon", ("Shell", "Userinit", "Taskman", "AppSetup")),
    Location(NTCV + r"\Winlogon\Notify", "WinlogonNotify", ("DLLName",), per_subkey=True),
    Location(NTCV + r"\Windows", "AppInitDlls", ("AppInit_DLLs",)),
    Location(NTCV + r"\Windows", "WindowsLoad", ("Load", "Run")),
    Location(NTCV + r"\Image File Execution Options", "IfeoDebugger", ("Debugger",), per_subkey=True),
    Location(r"Microsoft\Active Setup\Installed Components", "ActiveSetup", ("StubPath",), per_subkey=True),
)
# The 32-bit view of every location (HKLM\SOFTWARE\Wow6432Node\…, HKCU\Software\Wow6432Node\…).
SOFTWARE_LOCATIONS = _SOFTWARE_LOCATIONS + tuple(
    Location("Wow6432Node\\" + loc.path, loc.category, loc.values, loc.per_subkey) for loc in _SOFTWARE_LOCATIONS)
STARTUP_APPROVED = tuple(Location(CV + r"\Explorer\StartupApproved" + "\\" + name, "StartupApproved")
                         for name in ("Run", "Run32", "StartupFolder"))
SYSTEM_LOCATIONS = (
    Location(r"Control\Session Manager", "BootExecute", ("BootExecute",)),
    Location(r"Control\Terminal Server\Wds\rdpwd", "TerminalServerRun", ("StartupPrograms",)),
)


# ---- regipy access ----------------------------------------------------------------------------

@contextlib.contextmanager
def _regipy_inline_values() -> Iterator[None]:
    """Scoped fix of regipy's read of inline value data (see the module docstring)."""
    from construct import Int32ul
    from regipy.registry import NKRecord, VKRecord
    from regipy.structs import REGF_HEADER_SIZE

    original = NKRecord.__dict__["read_value"]

    def read_value(vk, stream):
        if vk.data_size >= 0x80000000:    # data lives in the data_offset field itself
            data = Int32ul.build(vk.data_offset)[: vk.data_size - 0x80000000]
        else:
            stream.seek(REGF_HEADER_SIZE + 4 + vk.data_offset)
            data = stream.read(vk.data_size)
        return VKRecord(value_type=vk.data_type, value_type_str=str(vk.data_type), value=data, size=vk.data_size)

    NKRecord.read_value = staticmethod(read_value)
    chatter = logging.getLogger("regipy")       # it logs undecodable strings at WARNING; we render them as hex
    level = chatter.level
    chatter.setLevel(logging.ERROR)
    try:
        yield
    finally:
        NKRecord.read_value = original
        chatter.setLevel(level)


def filetime(value: int | None) -> dt.datetime | None:
    """A FILETIME (100 ns since 1601, UTC) as an aware datetime; None when zero or out of range."""
    if not value:
        return None
    try:
        return dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def render(value: Any) -> str | None:
    """Registry data as text, never cut: strings as stored, REG_MULTI_SZ one item per line, binary as hex."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


class HiveReader:
    """A regipy hive plus the guarded lookups this module needs. Problems go to ``ctx`` as warnings."""

    def __init__(self, path: Path, ctx: FileContext | None):
        from regipy.registry import RegistryHive
        self.hive = RegistryHive(str(path))
        self.ctx = ctx

    def warn(self, text: str) -> None:
        """A shortfall: something the hive announces could not be read."""
        if self.ctx is not None:
            self.ctx.warn(None, bounded(text))
            self.ctx.lossy = True

    @property
    def root(self):
        return self.hive.root

    def child(self, key, name: str):
        """Subkey by name (case-insensitive), or None."""
        if key is None or not key.subkey_count:
            return None
        return key.get_subkey(name, raise_on_missing=False)

    def walk(self, key, path: str):
        """Follow a backslash path from ``key``; returns (key, real path) or (None, None)."""
        names = []
        for part in path.split("\\"):
            key = self.child(key, part)
            if key is None:
                return None, None
            names.append(key.name)
        return key, "\\".join(names)

    def subkeys(self, key, where: str) -> list:
        found = list(key.iter_subkeys())
        if len(found) != key.subkey_count:
            self.warn(f"{where}: {len(found)} subkeys read, header announces {key.subkey_count} (corrupt subkey list?)")
        return found

    def values(self, key, where: str) -> list:
        """All values of ``key`` (untrimmed); a shortfall against the header count is reported."""
        if not key.values_count:
            return []
        found = list(key.iter_values(trim_values=False))
        if len(found) != key.values_count:
            self.warn(f"{where}: {len(found)} values read, header announces {key.values_count} (corrupt value list?)")
        return found

    def value(self, key, name: str):
        """Data of one value (case-insensitive name), or None."""
        if key is None or not key.values_count:
            return None
        return key.get_value(name, case_sensitive=False)


# ---- what a hive is, whose it is -------------------------------------------------------------

def file_type(head: bytes) -> int | None:
    if len(head) < 32 or head[:4] != REGF:
        return None
    return struct.unpack_from("<I", head, 28)[0]


def sequence_numbers(head: bytes) -> tuple[int, int]:
    """Primary and secondary sequence numbers of the base block; (0, 0) when the header is cut off."""
    if len(head) < 12:
        return 0, 0
    return struct.unpack_from("<II", head, 4)


def kind_from_path(lower: str) -> str | None:
    for pattern, kind in HIVE_BY_PATH:
        if pattern.search(lower):
            return kind
    return None


def kind_from_content(reader: HiveReader) -> str:
    """Hive kind by its header file name (regipy) or its top-level keys, for renamed copies."""
    regipy_kind = {"system": "SYSTEM", "software": "SOFTWARE", "ntuser": "NTUSER", "usrclass": "USRCLASS",
                   "sam": "SAM", "security": "SECURITY", "amcache": "AMCACHE", "bcd": "BCD"}.get(
        reader.hive.hive_type or "")
    if regipy_kind:
        return regipy_kind
    root = reader.root
    top = {k.name.lower() for k in (root.iter_subkeys() or ())} if root.subkey_count else set()
    if {"select"} <= top and any(t.startswith("controlset") for t in top):
        return "SYSTEM"
    if "software" in top and {"control panel", "environment"} & top:
        return "NTUSER"
    if root.name.lower().endswith("_classes"):
        return "USRCLASS"
    if "microsoft" in top:
        ntcv, _ = reader.walk(root, NTCV)
        if reader.value(ntcv, "ProductName") or reader.value(ntcv, "SystemRoot"):
            return "SOFTWARE"
        return "NTUSER_SOFTWARE"    # a user's Software key exported as a hive of its own
    return "OTHER"


@dataclass
class HostFacts:
    """What the collection's hives say about the host, read once per collection before any row is
    written: the computer name (SYSTEM) and profile folder -> SID (SOFTWARE ProfileList, UsrClass.dat)."""
    computer: str | None = None
    sids: dict[str, str] = field(default_factory=dict)


def host_facts(ctx: FileContext, open_hive: tuple[Member, "HiveReader"] | None = None) -> HostFacts:
    """Cached per collection. Also gives the computer name as a hint, so rows of files that sort
    before the SYSTEM hive (``…/System32/Tasks`` < ``…/System32/config``) get it too.
    ``open_hive``: the member being parsed and its reader, so that hive is not opened twice."""
    shared = ctx.run.shared
    if "registry_hives.facts" in shared:
        return shared["registry_hives.facts"]
    facts = shared["registry_hives.facts"] = HostFacts()
    for m in ctx.run.collection.members:
        kind = kind_from_path(m.lower)
        if kind not in ("SYSTEM", "SOFTWARE", "USRCLASS") or m.refused or file_type(m.head) != PRIMARY_FILE:
            continue
        try:
            if open_hive is not None and open_hive[0] is m:
                _read_facts(open_hive[1], kind, m, facts)
                continue
            with m.local_path() as p, _regipy_inline_values():
                _read_facts(HiveReader(p, None), kind, m, facts)
        except Exception:   # a convenience only; the hive's own parse reports its problems
            continue
    if facts.computer:
        ctx.run.computer_hints[facts.computer] += 1
    return facts


def _read_facts(reader: HiveReader, kind: str, member: Member, facts: HostFacts) -> None:
    root = reader.root
    if kind == "SYSTEM":
        current = reader.value(reader.child(root, "Select"), "Current")
        if isinstance(current, int):
            key, _ = reader.walk(root, rf"ControlSet{current:03d}\Control\ComputerName\ComputerName")
            name = reader.value(key, "ComputerName")
            if isinstance(name, str) and name.strip():
                facts.computer = facts.computer or name.strip()
    elif kind == "USRCLASS":
        user = USER_FROM_PATH.search(member.path)
        if user and root.name.endswith("_Classes"):
            facts.sids.setdefault(user.group(1).lower(), root.name[: -len("_Classes")])
    else:
        profiles, _ = reader.walk(root, NTCV + r"\ProfileList")
        for sub in (reader.subkeys(profiles, "ProfileList") if profiles is not None else ()):
            image = reader.value(sub, "ProfileImagePath")
            if isinstance(image, str) and image.strip("\\"):
                facts.sids[image.rstrip("\\").split("\\")[-1].lower()] = sub.name


# ---- the parser ---------------------------------------------------------------------------------

class RegistryHiveArtifact(Artifact):
    """Primary registry hives: autoruns (SOFTWARE, NTUSER.DAT, SYSTEM) and services (SYSTEM)."""

    name = "registry_hive"
    tables = ("Autorun", "Service")

    @classmethod
    def claim(cls, member: Member) -> int:
        if file_type(member.head) != PRIMARY_FILE:
            return 0
        kind = kind_from_path(member.lower)
        # Hives we read persistence from are certain; others (SAM, amcache, BCD …) are inventoried and
        # checked for dirtiness here unless a more specific parser wants them.
        return 90 if kind in ("SYSTEM", "SOFTWARE", "NTUSER", None) else 30

    def parse(self, member: Member, ctx: FileContext) -> None:
        primary, secondary = sequence_numbers(member.head)
        with contextlib.ExitStack() as stack:
            collected = stack.enter_context(member.local_path())
            stack.enter_context(_regipy_inline_values())
            replayed = self._replay(member, collected, primary, secondary, ctx, stack) if primary != secondary else None
            try:
                reader = HiveReader(replayed or collected, ctx)
            except Exception as exc:
                if replayed is None:
                    ctx.read(1)
                    ctx.reject(None, f"not a readable registry hive ({type(exc).__name__}: {exc}); "
                                     "nothing could be read from it")
                    return
                ctx.warn(None, f"the hive replayed from its logs does not open ({type(exc).__name__}: {exc}); "
                               "read as collected, recent changes may be missing")
                replayed = None
                reader = HiveReader(collected, ctx)
            if replayed is not None:
                ctx.note("dirty hive: transaction logs replayed with regipy before reading")
            host_facts(ctx, (member, reader))
            try:
                kind = kind_from_path(member.lower) or kind_from_content(reader)
                ctx.note(f"hive {kind}, root key {reader.root.name!r}")
                if kind == "SYSTEM":
                    self._system(reader, ctx)
                elif kind in ("SOFTWARE", "NTUSER", "NTUSER_SOFTWARE"):
                    self._software(reader, kind, member, ctx)
                else:
                    ctx.note("no autostart locations are read from this kind of hive")
            except Exception as exc:    # damage near the root: keep what was written, say what stopped us
                ctx.warn(None, bounded(f"hive structure near the root is damaged ({type(exc).__name__}: {exc}); "
                                       "rows read before this point are kept"))
                ctx.lossy = True

    # -- dirty hives ----------------------------------------------------------------------------
    def _replay(self, member: Member, path: Path, primary: int, secondary: int, ctx: FileContext,
                stack: contextlib.ExitStack) -> Path | None:
        """Path of the hive with its transaction logs applied, or None (reported) when that cannot be done."""
        dirty = f"hive is dirty (sequence numbers {primary} ≠ {secondary}): changes pending in its transaction logs"
        logs = transaction_logs(member, ctx.run.collection.members)
        if not logs:
            ctx.warn(None, f"{dirty}; no .LOG1/.LOG2 collected beside it, so recent changes may be missing")
            return None
        from regipy.recovery import apply_transaction_logs
        names = ", ".join(log.name for log in logs)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="triageparse-hivelog-")))
        copies = []
        for log in logs:     # older log first: regipy applies the secondary log, then the primary one
            target = workdir / PurePosixPath(log.path).name
            with log.open() as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            copies.append(target)
        restored = workdir / "restored"
        try:
            if len(copies) == 1:
                apply_transaction_logs(str(path), str(copies[0]), restored_hive_path=str(restored))
            else:
                apply_transaction_logs(str(path), str(copies[-1]), str(copies[0]), restored_hive_path=str(restored))
        except Exception as exc:
            ctx.warn(None, f"{dirty}; replaying {names} failed ({type(exc).__name__}: {exc}); "
                           "read as collected, recent changes may be missing")
            return None
        ctx.warn(None, f"{dirty}; replayed {names} (rows show the replayed state)")
        return restored

    # -- SOFTWARE and NTUSER.DAT ----------------------------------------------------------------
    def _software(self, reader: HiveReader, kind: str, member: Member, ctx: FileContext) -> None:
        user = sid = None
        # (key the locations hang from, its name in Location, its path in the file, locations to read)
        if kind == "SOFTWARE":
            hive_label, prefix = "SOFTWARE", "HKLM\\SOFTWARE"
            roots = [(reader.root, "", "", SOFTWARE_LOCATIONS + STARTUP_APPROVED)]
        else:
            hive_label = "NTUSER.DAT"
            user = owner(member, reader)
            sid = host_facts(ctx).sids.get(user.lower()) if user else None
            prefix = f"HKU\\{sid}" if sid else "HKCU"
            if kind == "NTUSER_SOFTWARE":      # the hive's root IS the user's Software key
                roots = [(reader.root, "Software", "", SOFTWARE_LOCATIONS + STARTUP_APPROVED)]
            else:
                software = reader.child(reader.root, "Software")
                roots = [(software, software.name, software.name, SOFTWARE_LOCATIONS + STARTUP_APPROVED)] \
                    if software is not None else []
                # Windows 10 default profiles also carry a top-level Microsoft\…\StartupApproved key.
                if reader.child(reader.root, "Microsoft") is not None:
                    roots.append((reader.root, "", "", STARTUP_APPROVED))
        rows: list[dict] = []
        for base, shown, in_file, locations in roots:
            for loc in locations:
                rows += self._location(reader, base, shown, in_file, loc, prefix, ctx)
        for r in rows:
            r.update(Hive=hive_label, User=user, UserSid=sid)
        self._emit_autoruns(rows, ctx)

    def _location(self, reader: HiveReader, base, shown: str, in_file: str, loc: Location, prefix: str,
                  ctx: FileContext) -> list[dict]:
        """Entries of one location under ``base``; ``shown``/``in_file`` name ``base`` in Location/KeyPath."""
        where = "\\".join(p for p in (prefix, shown, loc.path) if p)
        try:
            key, real = reader.walk(base, loc.path)
            if key is None:
                return []
            shown_path = "\\".join(p for p in (prefix, shown, real) if p)
            file_path = "\\" + "\\".join(p for p in (in_file, real) if p)
            if loc.per_subkey:
                rows = []
                for sub in reader.subkeys(key, where):
                    rows += self._entries(reader, sub, f"{shown_path}\\{sub.name}", f"{file_path}\\{sub.name}", loc,
                                          entry_name=sub.name)
                return rows
            return self._entries(reader, key, shown_path, file_path, loc)
        except Exception as exc:       # a corrupt key costs this location only
            ctx.warn(None, bounded(f"{where}: could not be read ({type(exc).__name__}: {exc})"))
            ctx.lossy = True
            return []

    def _entries(self, reader: HiveReader, key, location: str, key_path: str, loc: Location,
                 entry_name: str | None = None) -> list[dict]:
        rows = []
        wanted = {v.lower() for v in loc.values} if loc.values else None
        for v in reader.values(key, location):
            if wanted is not None and v.name.lower() not in wanted:
                continue
            if wanted is not None and not render(v.value):   # an empty Shell/AppInit_DLLs is no entry
                continue
            name = v.name if entry_name is None else (entry_name if loc.values else f"{entry_name}\\{v.name}")
            row = dict(Category=loc.category, Location=location, KeyPath=key_path, Name=name,
                       Command=render(v.value), ValueType=v.value_type, Truncated=False,
                       LastWriteTime=filetime(key.header.last_modified))
            if entry_name is not None and loc.values:
                row["ValueName"] = v.name
            if loc.category == "StartupApproved":
                row["Enabled"] = startup_approved(v.value)
            rows.append(row)
        return rows

    # -- SYSTEM -----------------------------------------------------------------------------------
    def _system(self, reader: HiveReader, ctx: FileContext) -> None:
        select = reader.child(reader.root, "Select")
        current = reader.value(select, "Current") if select is not None else None
        control_set = f"ControlSet{current:03d}" if isinstance(current, int) else None
        cs = reader.child(reader.root, control_set) if control_set else None
        if cs is None:      # no Select\Current (partial or damaged hive): the first control set present
            names = sorted(k.name for k in reader.subkeys(reader.root, "root") if k.name.lower().startswith("controlset"))
            if not names:
                ctx.warn(None, "SYSTEM hive without any ControlSet key: no services or autoruns could be read")
                return
            ctx.warn(None, f"Select\\Current {'missing' if current is None else f'points to a missing {control_set}'}; "
                           f"read {names[0]}")
            cs = reader.child(reader.root, names[0])
        ctx.note(f"current control set {cs.name}")
        prefix = "HKLM\\SYSTEM\\CurrentControlSet"     # the familiar form in Location; KeyPath has the real set
        autoruns: list[dict] = []
        for loc in SYSTEM_LOCATIONS:
            autoruns += self._location(reader, cs, "", cs.name, loc, prefix, ctx)
        services = self._services(reader, cs, ctx)
        for s in services:
            if s["StartValue"] in AUTOSTARTING and (s["ImagePath"] or s["ServiceDll"]):
                autoruns.append(dict(
                    Category="Service", Location=f"{prefix}\\Services\\{s['Name']}", KeyPath=s["KeyPath"],
                    Name=s["Name"], Command=s["ImagePath"], ValueType=s.pop("_image_type"), Truncated=False,
                    LastWriteTime=s["LastWriteTime"], StartType=s["StartType"], ServiceDll=s["ServiceDll"],
                    ObjectName=s["ObjectName"]))
            s.pop("_image_type", None)
        for r in autoruns:
            r["Hive"] = "SYSTEM"
        self._emit_autoruns(autoruns, ctx)
        start = ctx.rows_written + ctx.rows_rejected
        for i, s in enumerate(services, start + 1):
            s["SourceRecord"] = i
        ctx.read(len(services))
        ctx.emit("Service", services)

    def _services(self, reader: HiveReader, cs, ctx: FileContext) -> list[dict]:
        services_key = reader.child(cs, "Services")
        if services_key is None:
            ctx.warn(None, f"{cs.name}\\Services missing")
            return []
        rows, not_services = [], 0
        for key in reader.subkeys(services_key, f"{cs.name}\\Services"):
            path = f"\\{cs.name}\\{services_key.name}\\{key.name}"
            try:
                values = {v.name.lower(): v for v in reader.values(key, path)}
                type_value = _int(values.get("type"))
                if type_value is None:
                    not_services += 1     # driver/perf-counter leftovers without a Type are not services
                    continue
                start = _int(values.get("start"))
                dll = values.get("servicedll")
                if dll is None:
                    params = reader.child(key, "Parameters")
                    if params is not None:
                        dll = {v.name.lower(): v for v in reader.values(params, path + "\\Parameters")}.get("servicedll")
                image = values.get("imagepath")
                rows.append(dict(
                    Name=key.name, DisplayName=_text(values.get("displayname")), Status=None,
                    StartType=START_TYPES.get(start, None if start is None else f"Unknown ({start})"),
                    ServiceType=service_type_names(type_value), Source=SOURCE, ImagePath=_text(image),
                    ObjectName=_text(values.get("objectname")), ServiceDll=_text(dll),
                    LastWriteTime=filetime(key.header.last_modified), Description=_text(values.get("description")),
                    DelayedAutoStart=(_int(values.get("delayedautostart")) == 1) if start == 2 else None,
                    KeyPath=path, StartValue=start, TypeValue=type_value, Group=_text(values.get("group")),
                    FailureCommand=_text(values.get("failurecommand")),
                    _image_type=image.value_type if image is not None else None))
            except Exception as exc:
                ctx.warn(None, bounded(f"{path}: service key could not be read ({type(exc).__name__}: {exc})"))
                ctx.lossy = True
        if not_services:
            ctx.note(f"{not_services} keys under Services have no Type value (not services); skipped")
        return rows

    def _emit_autoruns(self, rows: list[dict], ctx: FileContext) -> None:
        for i, r in enumerate(rows, 1):
            r.update(Source=SOURCE, SourceRecord=i)
        ctx.read(len(rows))
        ctx.emit("Autorun", rows)


def bounded(text: str, limit: int = 300) -> str:
    """An issue text that stays readable when a corrupt hive hands us kilobytes of garbage as a key name."""
    text = "".join(c if c.isprintable() else "\ufffd" for c in text)
    return text if len(text) <= limit else text[:limit] + "…"


def _int(value) -> int | None:
    v = getattr(value, "value", None)
    return v if isinstance(v, int) else None


def _text(value) -> str | None:
    return render(getattr(value, "value", None)) if value is not None else None


def service_type_names(code: int) -> str:
    names = [name for bit, name in SERVICE_TYPE_FLAGS if code & bit]
    rest = code & ~sum(bit for bit, _ in SERVICE_TYPE_FLAGS)
    if rest:
        names.append(f"0x{rest:x}")
    return ", ".join(names) or "0"


def startup_approved(value) -> bool | None:
    """StartupApproved data: first byte even (02, 06) = enabled, odd (03, 07) = disabled by the user."""
    if isinstance(value, (bytes, bytearray)) and value:
        return value[0] % 2 == 0
    return None


def owner(member: Member, reader: HiveReader) -> str | None:
    """Profile folder name of an NTUSER.DAT: from its path, else from the name stored in its header."""
    m = USER_FROM_PATH.search(member.path)
    if m:
        return m.group(1)
    m = USER_FROM_EMBEDDED_NAME.search(reader.hive.name or "")
    return m.group(1) if m else None


def transaction_logs(member: Member, members: list[Member]) -> list[Member]:
    """The hive's .LOG1/.LOG2 (or .LOG) beside it, oldest first by their own sequence numbers."""
    wanted = {f"{member.lower}.log1", f"{member.lower}.log2", f"{member.lower}.log"}
    logs = [m for m in members if m.lower in wanted and not m.refused and file_type(m.head) not in (None, PRIMARY_FILE)]
    return sorted(logs, key=lambda m: (sequence_numbers(m.head)[1], m.lower))


class HiveTransactionLog(Artifact):
    """``.LOG1``/``.LOG2`` beside a hive: inventoried here, replayed by the hive's own parse."""

    name = "registry_hive_log"
    tables = ()

    @classmethod
    def claim(cls, member: Member) -> int:
        kind = file_type(member.head)
        return 90 if kind is not None and kind != PRIMARY_FILE else 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        hive = re.sub(r"\.log[12]?$", "", member.lower)
        if any(m.lower == hive for m in ctx.run.collection.members):
            ctx.note("hive transaction log: replayed into its hive when that hive is dirty")
        else:
            ctx.warn(None, "hive transaction log without its hive in the collection; not used")
