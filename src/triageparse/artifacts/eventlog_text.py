"""``SecurityEvents/SecurityEvents.txt`` (``Get-EventLog security -After … | Format-List *``) into
SecurityEvent rows: the text twin of ``SecurityEvents.csv``.

Collections made before December 2023 have no CSV folder, so this rendering is their only copy of
the Security log (besides Security.evtx, when the script was new enough to copy it). Each record
lists the properties the CSV has as columns (``EventID``, ``MachineName``, ``Index``, ``Message`` …);
the Message continues on lines indented to the value column, and its line breaks are kept.

Rules (shared with the CSV through :func:`~.eventlog_csv.security_event_rows`):

* when the collection holds a non-empty ``SecurityEvents.csv``, the CSV wins entirely: it carries
  the same records with a Message whose line breaks are certain, so nothing is written from here;
* a record whose ``Index`` is an EventRecordID of Security.evtx is written once, from the EVTX;
* the named fields come from the English Message, exactly as for the CSV.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Iterable, Iterator

import pyarrow as pa

from ..collection import Member
from ..formats.encoding import is_empty_text, iter_lines, read_text, sniff
from ..formats.pstext import ListReader, wrap_width
from .base import Artifact, FileContext
from .eventlog_common import ORIGIN_TEXT
from .eventlog_csv import SecurityEventsCsv, security_event_rows
from .text_renderings import DATE_SAMPLE_RECORDS, head_labels

if TYPE_CHECKING:
    from ..convert import CollectionRun

BATCH = 5000
# Format-List labels of an EventLogEntry that identify the rendering (the CSV's required headers).
REQUIRED_LABELS = SecurityEventsCsv.required


def security_csv_members(members: Iterable[Member]) -> list[Member]:
    """Non-empty ``SecurityEvents.csv`` files of a collection (they hold what the text holds, and better)."""
    return [m for m in members if not m.refused and not is_empty_text(m.head) and SecurityEventsCsv.claim(m) > 0]


def eventlog_records(member: Member) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, label -> value)`` of every Format-List record; Message lines joined with CRLF.

    CRLF because that is how the event's message, the CSV's Message and Get-EventLog have it; lines
    PowerShell wrapped at the output width are joined without a separator (see ``ListReader``).
    """
    with member.open() as f:
        lines = ((n, line) for n, line, _ in iter_lines(f, sniff(member.head)))
        reader = ListReader(wrap_width(read_text(member.head).splitlines()))
        for record in reader.records(lines):
            values = record.values()
            if "Message" in values:
                values["Message"] = values["Message"].replace("\n", "\r\n")
            yield record.line, values


class SecurityEventsText(Artifact):
    """DFIR-Script ``SecurityEvents.txt``: Get-EventLog security | Format-List * (UTF-16LE)."""

    name = "security_events_txt"
    tables = ("SecurityEvent",)

    @classmethod
    def claim(cls, member: Member) -> int:
        if not member.lower.endswith(".txt"):
            return 0
        if is_empty_text(member.head):
            return 40 if member.lower.endswith("securityevents.txt") else 0
        if not REQUIRED_LABELS <= head_labels(member, "list"):
            return 0
        return 70          # above any TextRendering, whose generic labels (Message, Source) could overlap

    @classmethod
    def time_zone_evidence(cls, run: "CollectionRun") -> list[str]:
        """Hook called by convert before parsing: the host's UTC offset from this file and Security.evtx."""
        from .eventlog_timezone import time_zone_evidence
        return time_zone_evidence(run)

    def date_samples(self, member: Member, ctx: FileContext) -> Iterable[str]:
        for _, values in itertools.islice(eventlog_records(member), DATE_SAMPLE_RECORDS):
            for label in ("TimeGenerated", "TimeWritten"):
                if values.get(label, "").strip():
                    yield values[label]

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes or BOM only: collected, no rows")
            return
        winners = security_csv_members(ctx.run.collection.members)
        if winners:
            ctx.superseded_by = ", ".join(m.path for m in winners)
            ctx.note(f"not read: {ctx.superseded_by} holds the same events, with certain line breaks in Message")
            return
        ctx.placeholders = True
        batch: list[dict[str, str | int]] = []
        for number, values in eventlog_records(member):
            batch.append({**values, "SourceRecord": number})
            if len(batch) >= BATCH:
                self._emit(batch, ctx)
                batch = []
        self._emit(batch, ctx)

    def _emit(self, batch: list[dict[str, str | int]], ctx: FileContext) -> None:
        if not batch:
            return
        numbers = pa.array([row.pop("SourceRecord") for row in batch], pa.int64())
        labels = list(dict.fromkeys(itertools.chain.from_iterable(batch)))
        # An empty value cannot tell $null from "": stored as null, like the CSV's ,, field.
        t = pa.table({label: pa.array([row.get(label) or None for row in batch], pa.string()) for label in labels})
        t = SecurityEventsCsv().rename(t).append_column("SourceRecord", numbers)
        ctx.read(ctx.emit("SecurityEvent", security_event_rows(t, ctx, ORIGIN_TEXT)))
