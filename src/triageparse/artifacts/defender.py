"""Microsoft Defender: configured exclusions and the support logs (MPLogs).

Exclusions. ``DefenderExclusions/Exclusion{Path,Extension,IpAddress,Process}.txt`` hold one item
per line (UTF-16, 0 bytes when the list is empty); the category is the file name. The pseudo-CSV
``DefenderExclusions.csv`` is the four lists joined and split again: no header, no category, one
empty line for each empty list, always in the order paths, extensions, addresses, processes. It is
read only when the text files are missing, and the categories are recovered from that order and
the shape of each value (an address parses as IP, an extension is one dot-less token, paths and
processes look like paths or file names). A line whose category two valid readings disagree on
keeps a null ExclusionType (TypeEvidence 'ambiguous', candidates in AdditionalFields).

Support logs. ``MPLogs/*.log`` (aa0b99c and later) or ``MPLogs/Support/…`` (older), UTF-16LE with
BOM or UTF-8, CRLF. A record ends at CRLF; a bare LF inside a record is a newline of the message
(``Sample submission result:\\n  SasUri = …``) and stays in it. Each timestamped record is one row;
the multi-line blocks Defender writes without timestamps (resource scans, threat actions, BM
telemetry, RTP perf logs, dynamic signatures, the service-log header) are one row each with their
``Key:Value`` lines folded into ``Fields``; a bare ``Label:`` line just above a timestamped record
becomes that record's Component; every other non-blank line is a row of its own, with its raw
text. Lines are not assumed to be in time order (MPDetection logs jump back in time).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Iterator

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..collection import Member
from ..formats.encoding import is_empty_text, iter_lines, iter_text, read_text, sniff
from .base import Artifact, FileContext

# ---- exclusions -------------------------------------------------------------------------------

EXCLUSION_TABLE = "DefenderExclusion"
CATEGORIES = ("Path", "Extension", "IpAddress", "Process")    # the order Get-MpPreference lists are joined in
_EXCLUSION_TXT = re.compile(r"(?:^|/)defenderexclusions/exclusion(path|extension|ipaddress|process)\.txt$", re.I)
_EXCLUSION_CSV = re.compile(r"(?:^|/)defenderexclusions\.csv$", re.I)
_HIDDEN = re.compile(r"^N/A: Must be an administrator", re.I)
_EXTENSION = re.compile(r"(?:\*?\.)?[^\\/:*?\"<>|\s.,]{1,32}")
_PATH_CHARS = re.compile(r"[\\/:%*?]")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


def fits(category: str, value: str) -> bool:
    """Whether an exclusion value has a shape Get-MpPreference can return in that list."""
    if category == "IpAddress":
        return _is_ip(value)
    if category == "Extension":
        return bool(_EXTENSION.fullmatch(value))
    if _is_ip(value):
        return False
    if category == "Path":
        return bool(_PATH_CHARS.search(value))
    return bool(_PATH_CHARS.search(value)) or "." in value.strip(".")     # Process: a path or a file name


def recover_categories(values: list[str]) -> list[set[str]]:
    """For each line of ``DefenderExclusions.csv``, the categories it takes in some valid reading.

    A reading cuts the lines into the four lists in order; an empty list is exactly one empty
    line, a non-empty one is a run of non-empty lines whose values fit the list. ``before[k][i]``
    says lists 0..k-1 can cover lines [0, i), ``after[k][i]`` that lists k..3 can cover [i, n).
    A line can belong to list k when some run of k through it starts where ``before`` holds and ends
    where ``after`` holds; runs only need the lines in between to fit, so prefix counts answer that
    in linear time.
    """
    n, K = len(values), len(CATEGORIES)
    empty = [not v.strip() for v in values]
    ok = [[not empty[i] and fits(c, values[i]) for i in range(n)] for c in CATEGORIES]
    before = [[False] * (n + 1) for _ in range(K + 1)]
    before[0][0] = True
    for k in range(K):
        count = [0] * (n + 2)          # count[i] = number of True in before[k][0:i]
        for i in range(n + 1):
            count[i + 1] = count[i] + before[k][i]
        run_start = 0                  # first index of the current run of lines fitting k
        for b in range(1, n + 1):
            if not ok[k][b - 1]:
                run_start = b
            if empty[b - 1] and before[k][b - 1]:
                before[k + 1][b] = True
            elif run_start < b and count[b] - count[run_start] > 0:
                before[k + 1][b] = True
    after = [[False] * (n + 1) for _ in range(K + 1)]
    after[K][n] = True
    for k in range(K - 1, -1, -1):
        count = [0] * (n + 2)          # count[i] = number of True in after[k+1][i:n+1]
        for i in range(n, -1, -1):
            count[i] = count[i + 1] + after[k + 1][i]
        run_end = n
        for a in range(n - 1, -1, -1):
            if not ok[k][a]:
                run_end = a
            if empty[a] and after[k + 1][a + 1]:
                after[k][a] = True
            elif run_end > a and count[a + 1] - count[run_end + 1] > 0:
                after[k][a] = True
    out: list[set[str]] = [set() for _ in range(n)]
    for k, cat in enumerate(CATEGORIES):
        before_count = [0] * (n + 2)       # True values of before[k][0:i]
        after_count = [0] * (n + 2)        # True values of after[k+1][0:i]
        for i in range(n + 1):
            before_count[i + 1] = before_count[i] + before[k][i]
            after_count[i + 1] = after_count[i] + after[k + 1][i]
        run_lo, start = [0] * n, 0
        for i in range(n):
            start = start if ok[k][i] else i + 1
            run_lo[i] = start
        run_hi, end = [n] * n, n
        for i in range(n - 1, -1, -1):
            end = end if ok[k][i] else i
            run_hi[i] = end
        for i in range(n):
            if empty[i]:
                if before[k][i] and after[k + 1][i + 1]:
                    out[i].add(cat)
            elif ok[k][i] and before_count[i + 1] > before_count[run_lo[i]] and \
                    after_count[run_hi[i] + 1] > after_count[i + 1]:
                out[i].add(cat)
    return out


class DefenderExclusionList(Artifact):
    """``DefenderExclusions/Exclusion*.txt``: one exclusion per line, category from the file name."""

    name = "defender_exclusion_list"
    tables = (EXCLUSION_TABLE,)

    @classmethod
    def claim(cls, member: Member) -> int:
        return 80 if _EXCLUSION_TXT.search(member.lower) else 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        category = next(c for c in CATEGORIES if c.lower() == _EXCLUSION_TXT.search(member.lower).group(1))
        if is_empty_text(member.head):
            ctx.note(f"0 bytes: no {category} exclusions configured")
            return
        rows = [dict(SourceRecord=number, ExclusionType=category, Value=line, TypeEvidence="file name")
                for number, line in _exclusion_lines(member, ctx) if line.strip()]
        ctx.read(ctx.emit(EXCLUSION_TABLE, rows))


def _exclusion_lines(member: Member, ctx: FileContext) -> Iterator[tuple[int, str]]:
    """Numbered lines of an exclusion list, without Defender's 'hidden from you' placeholder."""
    with member.open() as stream:
        for number, line, _ in iter_lines(stream, sniff(member.head)):
            if _HIDDEN.match(line):
                ctx.warn(number, "Defender hides exclusions from non-administrators; the list is unknown", line)
                continue
            yield number, line


class DefenderExclusionsCsv(Artifact):
    """``DefenderExclusions.csv`` (P8), used only when the Exclusion*.txt files are not there."""

    name = "defender_exclusions_csv"
    tables = (EXCLUSION_TABLE,)

    @classmethod
    def claim(cls, member: Member) -> int:
        return 90 if _EXCLUSION_CSV.search(member.lower) else 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        texts = [m.path for m in ctx.run.collection.members if _EXCLUSION_TXT.search(m.lower)]
        if texts:
            ctx.note(f"superseded by {len(texts)} DefenderExclusions/Exclusion*.txt file(s), which name the "
                     "category; no rows from the pseudo-CSV")
            ctx.superseded_by = ", ".join(texts)
            return
        if is_empty_text(member.head):
            ctx.note("0 bytes: no exclusions listed")
            return
        numbers, values = [], []
        for number, line in _exclusion_lines(member, ctx):
            numbers.append(number)
            values.append(line.strip())
        candidates = recover_categories(values)
        if values and not any(candidates):
            ctx.warn(None, "no reading of the lines as paths, extensions, addresses, processes (in this order) "
                     "fits; ExclusionType left null")
        rows = []
        for number, value, cats in zip(numbers, values, candidates):
            if not value:
                continue      # an empty line stands for an empty list
            row = dict(SourceRecord=number, Value=value)
            if len(cats) == 1:
                row.update(ExclusionType=next(iter(cats)), TypeEvidence="order and shape")
            else:
                shaped = cats or {c for c in CATEGORIES if fits(c, value)}
                row.update(ExclusionType=None, TypeEvidence="ambiguous",
                           CandidateTypes=[c for c in CATEGORIES if c in shaped])
            if "," in value:
                row["MaybeSpacesReplaced"] = True
                ctx.warn(number, "the pseudo-CSV replaced every run of 2+ spaces with ','; this value may have "
                         "held spaces (use ExclusionPath.txt when available)", value)
            rows.append(row)
        ctx.read(ctx.emit(EXCLUSION_TABLE, rows))


# ---- support logs ----------------------------------------------------------------------------

LOG_TABLE = "DefenderLogEntry"
_MPLOG_PATH = re.compile(r"(?:^|/)mplogs/(?:.*/)?[^/]+\.log$", re.I)
_MPLOG_NAME = re.compile(r"^(mplog|mpdetection|mpdevicecontrol|mpscanskip|mpsigstub|mplogonprem)\b.*\.log$", re.I)
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?)(Z?)(?: |$)")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9 _-]{0,40}:$")
_TAG = re.compile(r"^\[([^\]]{1,40})\]")
_HEADER_TIME = re.compile(r"Current time: (\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? UTC")
MAX_RECORD_CHARS = 1 << 20
MAX_BLOCK_LINES = 5000
BATCH_ROWS = 20_000


@dataclass(frozen=True)
class Block:
    """A multi-line block Defender writes without timestamps on its lines."""
    entry_type: str
    start: re.Pattern
    end: re.Pattern | None = None      # with an end marker, blank lines inside do not end the block


BLOCKS = (
    Block("ResourceScan", re.compile(r"^Begin Resource Scan"), re.compile(r"^End Scan")),
    Block("ThreatActions", re.compile(r"^Beginning threat actions"), re.compile(r"^Finished threat actions")),
    Block("BmTelemetry", re.compile(r"^BEGIN BM telemetry"), re.compile(r"^END BM telemetry")),
    Block("RtpPerfLog", re.compile(r"^\*+RTP Perf Log\*+"), re.compile(r"^\*+END RTP Perf Log\*+")),
    Block("DynamicSignature", re.compile(r"^Dynamic Signature has been \w+")),
    Block("VersionInfo", re.compile(r"^(?:Signature updated on |Product Version: )")),
    Block("ServiceLogHeader", re.compile(r"^-{20,}\s*$")),
    Block("ServiceLogFooter", re.compile(r"^(?:Windows|Microsoft) Defender Antivirus \(.*\) Log\s*$")),
)
# After a block's end marker only 'Key:value' and decoration lines still belong to it (threat
# actions end with 'End time:' and 'Result:').
_TRAILER = re.compile(r"^\s*[A-Za-z][\w ./-]*:|^[*-]+\s*$")
# A timestamped record that opens a block of untimestamped lines below it.
CACHE_STATS = Block("CacheStats", re.compile(r"\*{3,}\s*Cache stats\s*\*{3,}"))

_KV_COMMA = re.compile(r"([A-Z][A-Za-z]+)(?::\s?|\s(?=#))(.*?)(?=, [A-Z][A-Za-z]+(?::|\s#)|$)")
_KV_EQUALS = re.compile(r"(\w+)=([^,]*)")


@dataclass(frozen=True)
class Family:
    """Entries whose message contains ``trigger``; ``detail`` extracts named fields when it matches.

    Group names that are DefenderLogEntry columns (ThreatName, Path, ProcessName, ProcessId, ThreatId)
    fill those columns; the others, and ``rest`` parsed as 'Key: value' pairs, go to Fields.
    """
    entry_type: str
    trigger: re.Pattern
    detail: re.Pattern | None = None


FAMILIES = (
    Family("ProcessImage", re.compile(r"ProcessImageName:"), re.compile(
        r"ProcessImageName: (?P<ProcessName>.*?)(?:, Pid: (?P<ProcessId>\d+))?, TotalTime: (?P<TotalTime>\d+), "
        r"Count: (?P<Count>\d+), MaxTime: (?P<MaxTime>\d+), MaxTimeFile: (?P<Path>.*?), "
        r"EstimatedImpact: (?P<EstimatedImpact>\d+)%")),
    Family("MiniFilterUnsuccessfulScan", re.compile(r"\[Mini-filter\] Unsuccessful scan"), re.compile(
        r"status[^:]*: (?P<Path>.*?)\.? Process: (?P<ProcessName>.*?), (?P<rest>Status:.*)$")),
    Family("MiniFilterBlockedFile", re.compile(r"\[Mini-filter\] Blocked file"), re.compile(
        r"Blocked file: (?P<Path>.*?)\.? Process: (?P<ProcessName>.*?), (?P<rest>Status:.*)$")),
    Family("MiniFilter", re.compile(r"\[Mini-filter\]"), re.compile(r"\] (?P<Event>[^:]+): (?P<Path>.+)$")),
    Family("Exclusion", re.compile(r"^\[Exclusion\] "), re.compile(r"\] (?P<Path>.+?) -> (?P<DevicePath>.+)$")),
    Family("ProcessExclusion", re.compile(r"^\[ProcessExclusion\] "),
           re.compile(r"\] (?P<ProcessName>.+?) -> (?P<DevicePath>.+)$")),
    Family("EmsScan", re.compile(r"EMS scan"), re.compile(
        r"EMS scan for process: (?P<ProcessName>\S*) pid: (?P<ProcessId>\d+), sigseq: (?P<SigSeq>\w+), "
        r"sendMemoryScanReport: (?P<SendMemoryScanReport>\d+)(?:, source: (?P<Source>\d+))?")),
    Family("OriginalFileName", re.compile(r"original file name \""), re.compile(
        r"original file name \"(?P<OriginalFileName>.*)\" for \"(?P<Path>.*)\", hr=(?P<Hr>\w*)")),
    Family("ThreatCommandLine", re.compile(r"command line reported as threat: "), re.compile(
        r"reported as threat: (?P<ProcessName>[^(]*)\((?P<CommandLine>.*)\)$")),
    Family("LowfiCommandLine", re.compile(r"command line reported as lowfi: "), re.compile(
        r"reported as lowfi: (?P<ProcessName>[^(]*)\((?P<CommandLine>.*)\)$")),
    Family("Lowfi", re.compile(r"lowfi: "), re.compile(r"lowfi: (?P<CommandLine>.+)$")),
    Family("Threat", re.compile(r"threat: "), re.compile(r"threat: (?P<CommandLine>.+)$")),
    Family("SignatureMatch", re.compile(r"^Internal signature match:"), re.compile(
        r"subtype=(?P<Subtype>\w+)(?P<equals>.*)$")),
    Family("DetectionAdd", re.compile(r"DETECTION_ADD"), re.compile(
        r"DETECTION_ADD\S* (?P<ThreatName>\S+) (?P<Resource>.*)$")),
    Family("Detection", re.compile(r"^DETECTION "), re.compile(r"^DETECTION (?P<ThreatName>\S+) (?P<Resource>.*)$")),
    Family("DetectionEvent", re.compile(r"DETECTIONEVENT"), re.compile(
        r"DETECTIONEVENT (?P<DetectionSource>\S+) (?P<ThreatName>\S+) (?P<Resource>.*?);?$")),
    Family("DetectionCleanEvent", re.compile(r"DETECTION_CLEANEVENT"), re.compile(
        r"DETECTION_CLEANEVENT (?P<DetectionSource>\S+) (?P<Action>\S+) (?P<Result>\S+) (?P<ThreatName>\S+) "
        r"(?P<Resource>.*?);?$")),
    Family("VfzScan", re.compile(r"\[MpRtp\] Engine VFZ"), re.compile(
        r"VFZ (?P<Verdict>[^:]+): (?P<Path>.*?)\. status=(?P<Status>\w+), statusex=(?P<StatusEx>\w+), "
        r"threatid=(?P<ThreatIdHex>\w+), sigseq=(?P<SigSeq>\w+)")),
    Family("AsrRule", re.compile(r"Loaded ASR rule \""), re.compile(
        r"ASR rule \"(?P<RuleName>[^\"]*)\", (?P<equals>.*)$")),
    Family("ServiceState", re.compile(r"^(?:Service started|Service stopped|Version: Product )")),
)
_PROMOTED = {"ThreatName": str, "Path": str, "ProcessName": str, "ProcessId": int, "ThreatId": int}


# Most lines belong to no family: one combined search rules them out before the ordered loop.
_ANY_TRIGGER = re.compile("|".join(f"(?:{f.trigger.pattern})" for f in FAMILIES))
_ANY_BLOCK_START = re.compile("|".join(f"(?:{b.start.pattern})" for b in BLOCKS))


def classify(message: str) -> tuple[str, dict, dict]:
    """``(EntryType, promoted columns, Fields)`` of one timestamped or free-standing message."""
    if not _ANY_TRIGGER.search(message):
        return "Text", {}, {}
    for family in FAMILIES:
        if not family.trigger.search(message):
            continue
        columns: dict = {}
        fields: dict = {}
        m = family.detail.search(message) if family.detail else None
        if m:
            for key, value in m.groupdict().items():
                if value is None:
                    continue
                if key == "rest":
                    fields.update((k, v.strip()) for k, v in _KV_COMMA.findall(value))
                elif key == "equals":
                    fields.update((k, v.strip()) for k, v in _KV_EQUALS.findall(value))
                elif key in _PROMOTED:
                    columns[key] = value if _PROMOTED[key] is str else _integer(value)
                else:
                    fields[key] = value
            resource = fields.get("Resource", "")
            if resource.lower().startswith("file:") and "Path" not in columns:
                columns["Path"] = resource[5:]
        return family.entry_type, columns, fields
    return "Text", {}, {}


def _integer(text: str) -> int | None:
    """A decimal that fits a Kusto long, else None (the text stays in Message)."""
    return int(text) if text.isdigit() and len(text) < 19 else None


def fold_block(lines: list[str]) -> dict:
    """``Key:Value`` lines of a block into an object; repeated keys collect their values in a list,
    lines without a key go to ``Notes``. A ``Key:`` line with no value heads the indented items
    below it (RTP perf log exclusion lists)."""
    out: dict = {}
    lists: set[str] = set()          # keys whose value is already a list
    section: str | None = None

    def add(key: str, value) -> None:
        if key not in out:
            out[key] = value
        elif key in lists:
            out[key].append(value)
        else:
            out[key] = [out[key], value]
            lists.add(key)

    for line in lines[1:]:
        indented = line[:1].isspace()
        m = re.match(r"^\s*([A-Za-z][A-Za-z0-9 _/.#-]*?)\s*:\s?(.*)$", line)
        # 'C:\\…' is a path and 'Started On 08-01-2020 14:48:49' a sentence, not keys
        if m and len(m.group(1)) > 1 and not re.search(r"\d+-\d+-\d+", m.group(1)):
            key, value = m.group(1), m.group(2).strip()
            if value or indented:
                add(key, value)
                if not indented:
                    section = None
            else:
                section = key
                out.setdefault(key, [])
                lists.add(key)
            continue
        stripped = line.strip()
        if not stripped or set(stripped) <= {"*", "-"}:
            continue
        if section is not None and indented:
            out[section].append(stripped)
        else:
            add("Notes", stripped)
    return out


_BLOCK_COLUMNS = {   # block field -> column
    "ResourceScan": {"Threat Name": "ThreatName", "ID": "ThreatId", "Resource Path": "Path"},
    "ThreatActions": {"Threat Name": "ThreatName", "Threat ID": "ThreatId", "Path": "Path"},
    "BmTelemetry": {"TelemetryName": "ThreatName", "ProcessID": "ProcessId", "ImagePath": "ProcessName",
                    "TargetFileName": "Path"},
    "DynamicSignature": {"Signature Path": "Path"},
}


def _block_columns(entry_type: str, fields: dict) -> dict:
    columns = {}
    for key, column in _BLOCK_COLUMNS.get(entry_type, {}).items():
        value = fields.get(key)
        value = value[0] if isinstance(value, list) and value else value
        if isinstance(value, str) and value:
            columns[column] = value if _PROMOTED[column] is str else _integer(value)
    return columns


@dataclass
class Entry:
    first_line: int
    lines: list[str]
    line_count: int
    timestamp: str | None = None
    zulu: bool = True
    component: str | None = None
    block: Block | None = None
    saw_end: bool = False
    extra: dict = field(default_factory=dict)


def iter_records(stream, encoding: str, crlf: bool, ctx: FileContext) -> Iterator[tuple[int, str, int]]:
    """``(first physical line, record, physical lines)``. With CRLF files a record ends at CRLF only,
    so bare LFs stay inside the message; otherwise every line is a record."""
    if not crlf:
        for number, line, truncated in iter_lines(stream, encoding, MAX_RECORD_CHARS):
            if truncated:
                ctx.warn(number, f"line longer than {MAX_RECORD_CHARS:,} characters was cut", line[:200])
            yield number, line, 1
        return
    number, carry = 1, ""
    for text in iter_text(stream, encoding):
        parts = (carry + text).split("\r\n")
        carry = parts.pop()
        if len(carry) > MAX_RECORD_CHARS:
            ctx.warn(number, f"record longer than {MAX_RECORD_CHARS:,} characters was cut", carry[:200])
            parts.append(carry[:MAX_RECORD_CHARS])
            carry = ""
        for record in parts:
            n = 1 + record.count("\n") + record.count("\r")
            yield number, record, n
            number += n
    if carry:
        yield number, carry, 1 + carry.count("\n") + carry.count("\r")


class DefenderSupportLog(Artifact):
    """``MPLogs/*.log`` and ``MPLogs/Support/**/*.log``."""

    name = "defender_support_log"
    tables = (LOG_TABLE,)

    @classmethod
    def claim(cls, member: Member) -> int:
        if not member.lower.endswith(".log"):
            return 0
        if _MPLOG_PATH.search(member.lower):
            return 80
        if _MPLOG_NAME.match(member.name):
            head = read_text(member.head[:4096])
            if _TIMESTAMP.search(head.split("\n", 1)[0]) or "Service Log" in head or is_empty_text(member.head):
                return 60
        return 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes or BOM only: an empty log")
            return
        encoding = sniff(member.head)
        crlf = "\r\n" in read_text(member.head)
        rows = _LogRows(member.name, ctx)
        replaced = 0
        with member.open() as stream:
            for entry in group_entries(iter_records(stream, encoding, crlf, ctx)):
                replaced += sum(line.count("\ufffd") for line in entry.lines)
                rows.add(entry)
        rows.flush()
        if replaced:
            ctx.lossy = True
            ctx.warn(None, f"{replaced} character(s) could not be decoded as {encoding} and became U+FFFD")


def group_entries(records: Iterator[tuple[int, str, int]]) -> Iterator[Entry]:
    """Timestamped records, blocks, labels and loose lines -> one Entry per future row."""
    current: Entry | None = None
    label: tuple[int, str, int] | None = None
    for number, record, nlines in records:
        blank = not record.strip()
        stamp = _TIMESTAMP.match(record)
        block = None
        if not (stamp or blank) and _ANY_BLOCK_START.match(record):
            block = next(b for b in BLOCKS if b.start.match(record))
        if current is not None and current.block is not None and not stamp and block is None and \
                len(current.lines) < MAX_BLOCK_LINES:
            inside = current.block.end is not None and not current.saw_end
            if inside or (not blank and (current.block.end is None or _TRAILER.match(record))):
                current.lines.append(record)
                current.line_count += nlines
                if current.block.end is not None and current.block.end.match(record):
                    current.saw_end = True
                continue
        if current is not None and current.timestamp and not stamp and not blank and block is None and \
                record[:1].isspace() and current.block is None:
            current.lines.append(record)          # indented continuation of a timestamped message
            current.line_count += nlines
            continue
        if current is not None:
            yield _trim(current)
            current = None
        if blank:
            if label is not None:
                yield Entry(label[0], [label[1]], label[2])
                label = None
            continue
        if stamp:
            message = record[stamp.end():]
            current = Entry(number, [message], nlines, stamp.group(1), stamp.group(2) == "Z")
            if label is not None:
                current.component = label[1].rstrip(":").strip()
                current.first_line, current.line_count = label[0], current.line_count + label[2]
                label = None
            if CACHE_STATS.start.search(message):
                current.block = CACHE_STATS
            continue
        if label is not None:
            yield Entry(label[0], [label[1]], label[2])
            label = None
        if block is not None:
            current = Entry(number, [record], nlines, block=block)
        elif _LABEL.match(record.strip()):
            label = (number, record.strip(), nlines)
        else:
            yield Entry(number, [record], nlines)
    if current is not None:
        yield _trim(current)
    if label is not None:
        yield Entry(label[0], [label[1]], label[2])


class _LogRows:
    """Turns the entries of one log file into DefenderLogEntry rows, emitted in batches."""

    def __init__(self, log_file: str, ctx: FileContext):
        prefix = re.match(r"^[A-Za-z]+", log_file)
        self.log_type = prefix.group(0) if prefix else None
        self.log_file = log_file
        self.ctx = ctx
        self.rows: list[dict] = []
        self.last_time: tuple[str, bool] | None = None     # (timestamp text, ends in Z) of the last stamped line

    def add(self, entry: Entry) -> None:
        message = "\n".join(line.rstrip("\r\n") for line in entry.lines).rstrip()
        row = dict(SourceRecord=entry.first_line, LineCount=entry.line_count, LogFile=self.log_file,
                   LogType=self.log_type, Component=entry.component, Message=message)
        if entry.block is not None and entry.block is not CACHE_STATS:
            fields = fold_block(entry.lines)
            row.update(EntryType=entry.block.entry_type, **_block_columns(entry.block.entry_type, fields))
            if entry.block.end is not None and not entry.saw_end:
                fields["Incomplete"] = True
        elif entry.block is CACHE_STATS:
            fields = {}
            row["EntryType"] = "CacheStats"
        else:
            entry_type, columns, fields = classify(message)
            row.update(EntryType=entry_type, **columns)
        if row.get("Component") is None:
            tag = _TAG.match(message)
            row["Component"] = tag.group(1) if tag else None
        if entry.timestamp:
            self.last_time = (entry.timestamp, entry.zulu)
            row["_time"], row["_zulu"] = entry.timestamp, entry.zulu
            row["TimeSource"] = "line" if entry.zulu else "local line"
        elif entry.block is not None and entry.block.entry_type == "ServiceLogHeader" and _header_time(message):
            row["_time"], row["_zulu"] = _header_time(message), True
            row["TimeSource"] = "header"
        elif self.last_time is not None:
            row["_time"], row["_zulu"] = self.last_time
            row["TimeSource"] = "previous line"
        row["Fields"] = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode() if fields else None
        self.rows.append(row)
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        ctx = self.ctx
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        times = [r.pop("_time", None) for r in rows]
        zulu = [r.pop("_zulu", True) for r in rows]
        table = pa.table({name: pa.array([r.get(name) for r in rows], kind) for name, kind in _ROW_TYPES.items()})
        text = pa.array([t.replace("T", " ") if t else None for t in times], pa.string())
        parsed = pc.strptime(pc.replace_substring_regex(text, r"\.\d+$", ""), format="%Y-%m-%d %H:%M:%S",
                             unit="us", error_is_null=True)
        fraction = pa.array([_fraction_us(t) for t in times], pa.duration("us"))
        naive = pc.add(parsed, fraction)
        utc = naive.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        local = ctx.localtime.localize(naive.cast(pa.timestamp("us")))
        table = table.append_column("TimeGenerated", pc.if_else(pa.array(zulu, pa.bool_()), utc, local))
        ctx.read(ctx.emit(LOG_TABLE, table))


_ROW_TYPES = {"SourceRecord": pa.int64(), "LineCount": pa.int64(), "LogFile": pa.string(), "LogType": pa.string(),
              "EntryType": pa.string(), "Component": pa.string(), "Message": pa.string(), "ThreatName": pa.string(),
              "ThreatId": pa.int64(), "Path": pa.string(), "ProcessName": pa.string(), "ProcessId": pa.int64(),
              "TimeSource": pa.string(), "Fields": pa.string()}


def _trim(entry: Entry) -> Entry:
    """Blank lines collected at the end of an unfinished block are not part of it."""
    while len(entry.lines) > 1 and not entry.lines[-1].strip():
        last = entry.lines.pop()
        entry.line_count -= 1 + last.count("\n") + last.count("\r")
    return entry


def _fraction_us(text: str | None) -> int:
    if not text or "." not in text:
        return 0
    digits = text.rsplit(".", 1)[1][:6]
    return int(digits.ljust(6, "0"))


def _header_time(message: str) -> str | None:
    m = _HEADER_TIME.search(message)
    if not m:
        return None
    month, day, year, hh, mm, ss, frac = m.groups()
    return f"{year}-{month}-{day}T{hh}:{mm}:{ss}" + (f".{frac[:6]}" if frac else "")
