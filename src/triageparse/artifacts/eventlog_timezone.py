"""The host's UTC offset from evidence: the same Security event in SecurityEvents.csv and Security.evtx.

``SecurityEvents.csv`` (Get-EventLog) writes ``TimeGenerated`` as local wall-clock time; so does its text
twin ``SecurityEvents.txt``, used when the collection has no CSV (before December 2023). The same
record in ``Security.evtx`` (``Index`` = ``EventRecordID``) carries ``TimeCreated`` in UTC. Their
difference is the offset the host used for that moment. A window that crosses a daylight-saving
change shows two offsets; then the IANA zone that gives each matched record its observed offset
is used, so every local time of the collection is converted with the right one.

convert.py calls ``SecurityEventsCsv.time_zone_evidence(run)`` (a hook any parser class may have; the
text parser has it too, and the evidence is read once) after the date culture is known and before any
file is parsed, unless ``--timezone`` was given.
"""
from __future__ import annotations

import collections
import datetime as dt
import itertools
from typing import TYPE_CHECKING, Iterator
from zoneinfo import ZoneInfo, available_timezones

import pyarrow as pa
import pyarrow.compute as pc

from ..arrays import contiguous
from ..formats.dates import LocalTime
from ..formats.pscsv import read_pscsv
from .eventlog_csv import matches_in_log, plausible_offset, security_evtx_members, security_evtx_records

if TYPE_CHECKING:
    from ..convert import CollectionRun

MAX_PAIRS_CHECKED = 5000
EVIDENCE_READ_KEY = "eventlog.time_zone_evidence_read"
TEXT_BATCH = 5000


def local_index_times(run: "CollectionRun") -> Iterator[tuple[pa.Array, pa.Array]]:
    """(Index, local TimeGenerated) string arrays of SecurityEvents.csv, else of SecurityEvents.txt."""
    from .eventlog_text import SecurityEventsText, eventlog_records, security_csv_members
    csv_members = [m for m in security_csv_members(run.collection.members) if m.lower.endswith("securityevents.csv")]
    for member in csv_members:
        result, batches = read_pscsv(member.open, member.head)
        for batch in batches:
            names = {n.lower(): n for n in batch.table.column_names}
            if "index" not in names or "timegenerated" not in names:
                break
            yield (contiguous(batch.table.column(names["index"])),
                   contiguous(batch.table.column(names["timegenerated"])))
    if csv_members:
        return
    for member in run.collection.members:
        if member.refused or SecurityEventsText.claim(member) <= 40:
            continue
        records = iter(eventlog_records(member))
        while batch := [values for _, values in itertools.islice(records, TEXT_BATCH)]:
            yield (pa.array([v.get("Index") for v in batch], pa.string()),
                   pa.array([v.get("TimeGenerated") for v in batch], pa.string()))


def matched_offsets(run: "CollectionRun") -> tuple[list[tuple[dt.datetime, int]], int]:
    """(UTC time, local - UTC in minutes) of every record found in both Get-EventLog output and Security.evtx,
    and how many matched by number only: their times differ by more than any UTC offset (-12:00 to +14:00),
    so they are not the same records (a cleared log numbering again, a CSV of another host)."""
    if not security_evtx_members(run.collection.members):
        return [], 0
    pairs: list[tuple[dt.datetime, int]] = []
    implausible = 0
    for index, time_generated in local_index_times(run):
        evtx = security_evtx_records(run)             # from the log's conversion, or read once
        if evtx is None or not len(evtx):
            return [], 0
        joined = matches_in_log(index, time_generated, run.localtime.pattern, evtx)
        step = joined.column("Step")
        plausible = plausible_offset(step)             # null where a time is missing
        implausible += pc.sum(pc.invert(pc.fill_null(plausible, True))).as_py() or 0
        keep = pc.fill_null(plausible, False)
        utc = pc.cast(contiguous(joined.column("TimeCreated")), pa.timestamp("us"))
        for when, off in zip(pc.filter(utc, keep).to_pylist(), pc.filter(step, keep).to_pylist()):
            pairs.append((when.replace(tzinfo=dt.timezone.utc), int(off)))
    return pairs, implausible


def zone_for(pairs: list[tuple[dt.datetime, int]]) -> str | None:
    """The first IANA zone (alphabetically) whose UTC offset at each matched time is the one observed.

    Zones that agree inside the matched window convert its local times alike; outside it (older files)
    their histories may differ, which is why the zone is named on the Collection row.
    """
    sample = pairs if len(pairs) <= MAX_PAIRS_CHECKED else pairs[:: len(pairs) // MAX_PAIRS_CHECKED + 1]
    for name in sorted(available_timezones()):
        try:
            zone = ZoneInfo(name)
        except (KeyError, ValueError, OSError):
            continue
        if all(_fits(zone, utc, off) for utc, off in sample):
            return name
    return None


def _fits(zone: ZoneInfo, utc: dt.datetime, offset_minutes: int) -> bool:
    return utc.astimezone(zone).utcoffset() == dt.timedelta(minutes=offset_minutes)


def time_zone_evidence(run: "CollectionRun") -> list[str]:
    """Set the collection's UTC offset (or DST-aware zone) from matched records; messages for the user."""
    if run.shared.get(EVIDENCE_READ_KEY):     # the CSV and the text parser both have the hook
        return []
    run.shared[EVIDENCE_READ_KEY] = True
    pairs, implausible = matched_offsets(run)
    pairs.sort()        # the join hands them over in no fixed order; zone_for samples them
    messages = []
    if implausible:
        messages.append(f"{implausible:,} record(s) of SecurityEvents.csv match Security.evtx by number but not by "
                        "time (more than any UTC offset apart): not the same records, not used as time-zone evidence")
    if not pairs:
        return messages
    counts = collections.Counter(off for _, off in pairs)
    pattern = run.localtime.pattern
    newest_offset = max(pairs)[1]
    run.tz_source = "evidence"
    run.offset_minutes = newest_offset
    if len(counts) == 1:
        run.localtime = LocalTime(pattern, None, newest_offset)
        return messages
    zone = zone_for(pairs)
    if zone is not None:
        run.localtime = LocalTime(pattern, ZoneInfo(zone), None)
        run.timezone_arg = run.timezone_arg or zone
        return messages
    common = counts.most_common(1)[0][0]
    run.offset_minutes = common
    run.localtime = LocalTime(pattern, None, common)
    return messages + [f"SecurityEvents.csv against Security.evtx gives several UTC offsets ({dict(counts)} minutes: records) "
            f"that no time zone explains; used {common:+d} minutes for every local time; pass --timezone to be sure"]
