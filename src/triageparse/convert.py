"""Conversion of sources into typed Parquet tables: the orchestration behind ``triageparse convert``."""
from __future__ import annotations

import collections as _collections
import datetime as dt
import json
import multiprocessing
import os
import sys
import threading
import traceback
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import __version__
from .artifacts import load_all, load_all_in_background
from .artifacts.base import Artifact, FileContext, Issue, choose
from .artifacts.eventlog_common import security_event_table
from .collection import (Collection, Limits, LimitExceeded, Member, Source, SourceUnreadable, expand_inputs,
                         open_source, source_sha256, split_collections)
from .family import detect_family
from .formats.dates import NO_DATE_VALUES, LocalTime, infer_culture, parse_timezone, pattern_for
from .sink import CollectionSink, prepare_output

DATE_SAMPLES_PER_FILE = 5000


@dataclass
class CollectionSummary:
    collection_id: str
    name: str
    computer: str | None
    family: str
    culture: str
    tables: dict[str, int]
    rows_rejected: int
    warnings: int
    errors: int
    files: int
    unparsed: int
    messages: list[str] = field(default_factory=list)
    skipped: bool = False
    source_bytes: int = 0

    @property
    def data_tables(self) -> dict[str, int]:
        return {t: n for t, n in self.tables.items() if t not in BOOKKEEPING}

    @classmethod
    def unreadable_source(cls, name: str, reason: str) -> "CollectionSummary":
        return cls("", name, None, "", "", {}, 0, 0, 1, 0, 0, [reason])

    @classmethod
    def skipped_source(cls, name: str, digest: str) -> "CollectionSummary":
        return cls("", name, None, "", "", {}, 0, 0, 0, 0, 0,
                   [f"already converted (source sha256 {digest[:16]}…); use --force to convert again"], skipped=True)


@dataclass
class Summary:
    """What a conversion did. ``ok`` is False when any file failed or was refused."""
    out: Path
    collections: list[CollectionSummary] = field(default_factory=list)

    @property
    def tables(self) -> dict[str, int]:
        total: dict[str, int] = _collections.Counter()
        for c in self.collections:
            total.update(c.tables)
        return dict(sorted(total.items()))

    @property
    def rows_written(self) -> int:
        return sum(n for t, n in self.tables.items() if t not in BOOKKEEPING)

    @property
    def rows_rejected(self) -> int:
        return sum(c.rows_rejected for c in self.collections)

    @property
    def warnings(self) -> int:
        return sum(c.warnings for c in self.collections)

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.collections)

    @property
    def ok(self) -> bool:
        return self.errors == 0


BOOKKEEPING = ("Collection", "CollectedFile", "ParseIssue")


class CollectionRun:
    """State of one collection while it is converted."""

    def __init__(self, collection: Collection, out: Path, culture: str | None, timezone: str | None):
        self.collection = collection
        self.sink = CollectionSink(out, lambda: collection.collection_id)
        self.family = detect_family([m.path for m in collection.members])
        self.culture_arg = culture
        self.timezone_arg = timezone
        self.timezone_given = timezone            # timezone_arg may later name the zone found in evidence
        self.computer_hints: _collections.Counter[str] = _collections.Counter()
        self.placeholders = 0
        self.localtime = LocalTime(pattern_for("en-US"))
        self.culture_name = "en-US"
        self.culture_evidence = ""
        self.tz_source = "assumed-utc"
        self.offset_minutes: int | None = 0
        self.shared: dict = {}       # scratch space parsers share within a collection (e.g. CSV vs text)
        self.security_event_columns = "compact"   # "full": Security-channel rows go to SecurityEventFull
        self.witnesses_first = False     # time-zone witnesses (Security.evtx) are converted before the rest

    @property
    def computer(self) -> str | None:
        if self.collection.host:
            return self.collection.host
        return self.computer_hints.most_common(1)[0][0] if self.computer_hints else None

    def setup_time(self, samples: Iterable[str]) -> list[str]:
        messages = []
        if self.culture_arg:
            pattern = pattern_for(self.culture_arg)
            self.culture_name = self.culture_arg
            self.culture_evidence = "given with --culture"
        else:
            guess = infer_culture(samples, self.collection.date)
            pattern = guess.pattern
            self.culture_name = guess.pattern.name
            self.culture_evidence = guess.evidence
            # Without any date value the culture decides nothing (loose EVTX files, hives): no warning.
            if guess.ambiguous and guess.evidence != NO_DATE_VALUES:
                messages.append(f"date culture is ambiguous: {guess.evidence}; pass --culture to be sure")
        tz, offset = (None, None)
        if self.timezone_arg:
            tz, offset = parse_timezone(self.timezone_arg)
            self.tz_source = "argument"
            self.offset_minutes = offset
        self.localtime = LocalTime(pattern, tz, offset)
        return messages


def convert(inputs: Iterable[str | Path], out: str | Path, *, culture: str | None = None,
            timezone: str | None = None, limits: Limits | None = None,
            on_progress: Callable[[str, int, int], None] | None = None, jobs: int | None = 1,
            force: bool = False, security_event_columns: str = "compact",
            on_collection: Callable[[CollectionSummary], None] | None = None) -> Summary:
    """Convert collections (zips, nested zips, folders or single files) into typed Parquet under ``out``.

    ``jobs`` worker processes convert sources side by side (None: one per core); the output is
    byte-identical to a single-process run. A source already converted into ``out`` by the same
    parser version is skipped unless ``force``. ``security_event_columns="full"`` writes Security-channel
    rows to SecurityEventFull (every Sentinel column; too wide for a free ADX cluster) instead of SecurityEvent.
    ``on_progress(member path, index, members)`` follows the files of a collection (single process only);
    ``on_collection(summary)`` is called as each collection finishes, in completion order.

    >>> summary = convert(["sample_data/DFIR-WS01-2025-10-02.zip"], "out")   # doctest: +SKIP
    >>> summary.tables["DnsCacheEntry"]                                      # doctest: +SKIP
    """
    out = Path(out)
    limits = limits or Limits()
    if culture:
        pattern_for(culture)            # fail early with a clear message
    if timezone:
        parse_timezone(timezone)
    security_event_table(security_event_columns)      # fail early with a clear message
    prepare_output(out)
    remove_stale_temp_files(out)
    summary = Summary(out)
    sources = expand_inputs([Path(p) for p in inputs])
    done = set() if force else converted_sources(
        out, conversion_options(culture, timezone, security_event_columns))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(sources)))
    task = partial(_convert_source, out=out, culture=culture, timezone=timezone, limits=limits, done=done,
                   security_event_columns=security_event_columns)
    if jobs == 1:
        load_all_in_background()
        for source in sources:
            for result in task(source, on_progress=on_progress):
                summary.collections.append(result)
                if on_collection:
                    on_collection(result)
        return summary
    # Whole sources go to worker processes; results are gathered in input order. Fork where it is safe
    # (Linux): workers start at once and callers need no `if __name__ == "__main__"` guard.
    load_all()      # once, before the fork: the workers inherit the imported parsers
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_batch_worker) as pool:
        futures = [pool.submit(task, source) for source in sources]
        for fut in as_completed(futures):
            for result in fut.result():
                if on_collection:
                    on_collection(result)
        for fut in futures:
            summary.collections.extend(fut.result())
    return summary


def watch(folder: str | Path, out: str | Path, *, interval: float = 5.0, stop: threading.Event | None = None,
          on_converted: Callable[[Summary], None] | None = None, **convert_kwargs) -> None:
    """Convert collections as they land in ``folder`` until ``stop`` is set (Ctrl-C on the CLI).

    A zip is taken once its size has stayed the same for one interval and its central directory is
    readable (a copy in progress is neither); each source is handled once per (size, mtime).
    """
    folder, stop = Path(folder), stop or threading.Event()
    last_size: dict[Path, int] = {}
    handled: set[tuple[Path, int, int]] = set()
    while not stop.is_set():
        ready = []
        for source in expand_inputs([folder]):
            if source.exclude or source.path == folder:
                continue       # loose files in the watched folder are not collections
            st = source.path.stat()
            size = st.st_size if source.path.is_file() else sum(
                f.stat().st_size for f in source.path.rglob("*") if f.is_file())
            key = (source.path, size, st.st_mtime_ns)
            stable = last_size.get(source.path) == size
            last_size[source.path] = size
            if key in handled or not stable:
                continue
            if source.path.is_file() and not zipfile.is_zipfile(source.path):
                continue
            handled.add(key)
            ready.append(source.path)
        if ready:
            summary = convert(ready, out, **convert_kwargs)
            if on_converted:
                on_converted(summary)
        stop.wait(interval)


def _convert_source(source: Source, *, out: Path, culture, timezone, limits: Limits, done: set[str],
                    on_progress=None, security_event_columns: str = "compact") -> list[CollectionSummary]:
    digest = None
    try:
        if source.path.is_file() and not source.exclude and done:
            digest = source_sha256(source.path)
            if digest in done:
                return [CollectionSummary.skipped_source(source.path.name, digest)]
        return _convert_opened_source(source, digest, out=out, culture=culture, timezone=timezone, limits=limits,
                                      done=done, on_progress=on_progress,
                                      security_event_columns=security_event_columns)
    except SourceUnreadable as exc:     # hashed first, or beside the conversion (raised where the id is needed)
        return [CollectionSummary.unreadable_source(source.path.name, str(exc))]


def _convert_opened_source(source: Source, digest: str | None, *, out: Path, culture, timezone, limits: Limits,
                           done: set[str], on_progress, security_event_columns: str) -> list[CollectionSummary]:
    # Nothing in OUT to skip: the source is hashed on a thread while it is converted (a gigabyte log took
    # 1.5 s to hash before its conversion began); rows wait for the id (CollectionId) at their first emit,
    # while an EVTX file's workers go on.
    members, digest, problems, spools = open_source(source.path, limits, source.exclude, digest, beside=not done)
    try:
        if digest in done:
            return [CollectionSummary.skipped_source(source.path.name, digest)]
        results = [_convert_collection(coll, out, culture, timezone, on_progress, security_event_columns)
                   for coll in split_collections(source.path, members, digest, problems)]
        if results:
            results[0].source_bytes = source_size(source)
        return results
    finally:
        for s in spools:
            try:
                s.close()
            except Exception:
                pass


def source_size(source: Source) -> int:
    """Bytes of a source as it lies on disk (the zip, or the files of the folder)."""
    if source.path.is_file():
        return source.path.stat().st_size
    return sum(f.stat().st_size for f in source.path.rglob("*")
               if f.is_file() and not f.is_symlink() and f.relative_to(source.path).parts[0] not in source.exclude)


def _batch_worker() -> None:
    from . import sink
    from .arrays import keep_pandas_out
    sink.USE_WRITER_THREAD = False
    # A worker process only converts: pyarrow's import of pandas (~0.4 s of CPU at its first array of Python
    # objects) would be paid again in every worker when the caller has not imported pandas itself
    keep_pandas_out()


def conversion_options(culture: str | None, timezone: str | None, security_event_columns: str) -> str:
    """The options that change rows, as recorded on the Collection row (JSON, sorted keys)."""
    return json.dumps({"culture": culture, "security_event_columns": security_event_columns,
                       "timezone": timezone}, sort_keys=True)


def converted_sources(out: Path, options: str | None = None) -> set[str]:
    """sha256 of every source whose conversion finished in ``out`` with this parser version and,
    when ``options`` is given, the same conversion options (a re-run with --timezone converts again).

    The Collection file of a collection is renamed into place last, so its presence means complete.
    """
    files = sorted((out / "Collection").glob("*.parquet"))
    if not files:
        return set()
    import pyarrow.dataset as ds      # here: 0.2 s of imports that a conversion into a new OUT never needs
    import pyarrow.parquet as pq
    from . import contracts
    columns = ["SourceSha256", "ParserVersion", "ConversionOptions"]
    try:        # one dataset scan: 0.8 s instead of 3.5 s for 2,000 collections
        tables = [ds.dataset(files, format="parquet", schema=contracts.get("Collection").schema)
                  .to_table(columns=columns)]
    except Exception:        # a damaged or foreign file: read them one by one and pass over the bad ones
        tables = []
        for f in files:
            try:
                t = pq.read_table(f)
            except Exception:
                continue
            tables.append(t.select([c for c in columns if c in t.column_names]))
    found: set[str] = set()
    for t in tables:
        for row in t.to_pylist():
            if row["SourceSha256"] and row["ParserVersion"] == __version__ and \
                    (options is None or row.get("ConversionOptions") == options):
                found.add(row["SourceSha256"])
    return found


def remove_stale_temp_files(out: Path) -> None:
    """Temp files of a run that was killed: never complete, never read; the re-run rewrites them."""
    for tmp in out.glob("*/.*.parquet.*.tmp"):
        tmp.unlink(missing_ok=True)


def _convert_collection(coll: Collection, out: Path, culture, timezone, on_progress,
                        security_event_columns: str = "compact") -> CollectionSummary:
    run = CollectionRun(coll, out, culture, timezone)
    run.security_event_columns = security_event_columns
    try:
        return _convert_members(run, culture, timezone, on_progress)
    except BaseException:       # (an unreadable source, Ctrl-C): no table of this collection is left half-written
        run.sink.abort()
        raise


def _convert_members(run: CollectionRun, culture, timezone, on_progress) -> CollectionSummary:
    coll = run.collection
    coll.members.sort(key=lambda m: m.path)
    routed: list[tuple[Member, type[Artifact] | None]] = []
    for m in coll.members:
        cls = None
        if not m.refused:
            try:
                cls, _ = choose(m)
            except LimitExceeded as exc:
                m.refused = str(exc)
        routed.append((m, cls))
    parsers: dict[str, Artifact] = {}

    def parser_for(cls: type[Artifact]) -> Artifact:
        if cls.name not in parsers:
            parsers[cls.name] = cls()
        return parsers[cls.name]

    # Pass 1: date strings of the whole collection decide its culture.
    samples: list[str] = []
    if not culture:
        for m, cls in routed:
            if cls is None:
                continue
            ctx = FileContext(run, m, cls.name)
            try:
                for i, s in enumerate(parser_for(cls).date_samples(m, ctx)):
                    if i >= DATE_SAMPLES_PER_FILE:
                        break
                    samples.append(s)
            except Exception:
                pass   # the parse pass will report the file's problem
    messages = run.setup_time(samples)
    # When a parser of the collection takes time-zone evidence, the files that witness it go first: their
    # rows are the evidence (Security.evtx's records against the local times of SecurityEvents.csv), so the
    # log is not read a second time for it. Their host-name hints join at their place in path order, so no
    # other file's rows get another Computer because of the reordering.
    run.witnesses_first = any(cls is not None and hasattr(cls, "time_zone_evidence") for _, cls in routed)
    first = [i for i, (m, cls) in enumerate(routed)
             if run.witnesses_first and cls is not None and cls.time_zone_witness(m)]
    early = set(first)
    rest = [i for i in range(len(routed)) if i not in early]
    held_hints: dict[int, _collections.Counter[str]] = {}
    converted: dict[int, tuple[dict, list[Issue]]] = {}
    for done, i in enumerate(first + rest):
        if done == len(first) and not timezone:
            messages += _time_zone_evidence(run, routed)
        if i not in early:
            for j in sorted(j for j in held_hints if j < i):
                run.computer_hints.update(held_hints.pop(j))
        m, cls = routed[i]
        if on_progress:
            on_progress(m.path, done, len(routed))
        if i in early:
            before = run.computer_hints.copy()
            converted[i] = _convert_member(run, m, cls, parser_for)
            held_hints[i], run.computer_hints = run.computer_hints - before, before
        else:
            converted[i] = _convert_member(run, m, cls, parser_for)
    for j in sorted(held_hints):
        run.computer_hints.update(held_hints.pop(j))
    if not rest and not timezone:
        messages += _time_zone_evidence(run, routed)
    # CollectedFile and ParseIssue rows in the members' (path) order, whatever order they were converted in
    files_rows = [converted[i][0] for i in range(len(routed))]
    issues = [Issue(path, None, "error", msg) for path, msg in coll.problems]
    issues += [issue for i in range(len(routed)) for issue in converted[i][1]]
    return _finish(run, files_rows, issues, messages)


def _time_zone_evidence(run: CollectionRun, routed: list[tuple[Member, type[Artifact] | None]]) -> list[str]:
    """Messages of the parsers that can tell the collection's UTC offset from its own evidence."""
    messages: list[str] = []
    for cls in sorted({c for _, c in routed if c is not None and hasattr(c, "time_zone_evidence")},
                      key=lambda c: c.name):
        try:
            messages += cls.time_zone_evidence(run)
        except Exception as exc:   # evidence is a bonus: without it local times stay as setup_time made them
            messages.append(f"time zone evidence of {cls.name} could not be read: {type(exc).__name__}: {exc}")
    return messages


def _convert_member(run: CollectionRun, m: Member, cls: type[Artifact] | None,
                    parser_for: Callable[[type[Artifact]], Artifact]) -> tuple[dict, list[Issue]]:
    """Parse one member: its CollectedFile row and its issues."""
    issues: list[Issue] = []
    ctx = FileContext(run, m, cls.name if cls else "")
    status = "unparsed"
    detail = ""
    if m.refused:
        status = "refused"
        detail = m.refused
        issues.append(Issue(m.path, None, "error", m.refused))
    elif cls is None:
        detail = "no parser recognises this file; inventoried only"
    else:
        try:
            parser_for(cls).parse(m, ctx)
            status = "lossy" if ctx.lossy else ("parsed" if ctx.rows_read or ctx.rows_written else
                                                "superseded" if ctx.superseded_by else "empty")
        except SourceUnreadable:       # the source's hash failed (beside): no parser's fault, the source fails
            raise
        except LimitExceeded as exc:   # a cap, or the archive cannot deliver the rest of the member
            status = "refused"
            ctx.read(1)               # the unread remainder counts as one lost record
            ctx.reject(None, str(exc))
        except Exception as exc:  # one parser's bug must not stop the other files
            status = "failed"
            ctx.issues.append(Issue(m.path, None, "error",
                                    f"internal error in parser {cls.name}: {type(exc).__name__}: {exc}",
                                    traceback.format_exc()[-4000:]))
        _settle_accounts(ctx, failed=status == "failed")
        if ctx.suppressed_issues:
            ctx.issues.append(Issue(m.path, None, "warning", f"{ctx.suppressed_issues} more issues not listed"))
        detail = "; ".join(ctx.details)
    for w in m.warnings:
        issues.append(Issue(m.path, None, "warning", w))
    try:
        m.ensure_hash()
    except (LimitExceeded, OSError, EOFError, Exception) as exc:
        if status not in ("refused", "failed"):
            status = "refused"
        issues.append(Issue(m.path, None, "error", f"could not read the whole file: {exc}"))
    issues.extend(ctx.issues)
    row = dict(SourceFile=m.path, SourceRecord=None, SizeBytes=m.read_size if m.read_size is not None else m.size,
               Sha256=m.sha256, Parser=ctx.parser or None, Table=",".join(sorted(ctx.tables)) or None,
               RowsRead=ctx.rows_read, RowsWritten=ctx.rows_written, RowsRejected=ctx.rows_rejected, Status=status,
               Detail=detail[:4000] or None)
    return row, issues


def _settle_accounts(ctx: FileContext, failed: bool) -> None:
    """Make rows read = rows written + rows rejected hold for the CollectedFile row.

    A parser that stopped on an internal error lost the rows it had read but not written: they count as
    rejected. A parser that finished with unbalanced counts has a bookkeeping bug: that is an error issue
    with its own numbers, and the row is balanced the same way (unwritten rows were lost; written rows
    were read).
    """
    gap = ctx.rows_read - ctx.rows_written - ctx.rows_rejected
    if gap == 0:
        return
    if not failed:
        ctx.issues.append(Issue(ctx.member.path, None, "error", f"accounting mismatch in parser {ctx.parser}: "
                                f"read {ctx.rows_read}, written {ctx.rows_written}, rejected {ctx.rows_rejected}"))
    if gap > 0:
        ctx.rows_rejected += gap
    else:
        ctx.rows_read -= gap


def _finish(run: CollectionRun, files_rows: list[dict], issues: list[Issue], messages: list[str]) -> CollectionSummary:
    coll = run.collection
    book = FileContext(run, Member(coll.display_name, None, lambda: None, None), "triageparse")
    book.emit("CollectedFile", files_rows)
    issue_rows = [dict(SourceFile=x.source_file, SourceRecord=x.source_record, Severity=x.severity, Reason=x.reason,
                       RawText=x.raw_text or None) for x in issues]
    issue_rows += [dict(SourceFile=coll.display_name, SourceRecord=None, Severity="warning", Reason=msg)
                   for msg in messages]
    book.emit("ParseIssue", issue_rows)
    book.emit("Collection", [dict(
        CollectionId=coll.collection_id, Computer=run.computer, CollectionDate=_midnight(coll.date),
        ScriptFamily=run.family, SourceName=coll.display_name, SourceSha256=coll.source_sha256,
        DateCulture=run.culture_name, DateCultureEvidence=run.culture_evidence,
        UtcOffsetMinutes=run.offset_minutes, TimeZone=run.timezone_arg, TimeZoneSource=run.tz_source,
        ParserVersion=__version__, Files=len(files_rows), PlaceholdersNulled=run.placeholders,
        ConversionOptions=conversion_options(run.culture_arg, run.timezone_given, run.security_event_columns))])
    tables = run.sink.close()       # (if it fails, _convert_collection aborts the sink)
    errors = sum(1 for x in issues if x.severity == "error")
    return CollectionSummary(coll.collection_id, coll.display_name, run.computer, run.family, run.culture_name,
                             tables, sum(r["RowsRejected"] for r in files_rows),
                             sum(1 for x in issues if x.severity == "warning") + len(messages), errors,
                             len(files_rows), sum(1 for r in files_rows if r["Status"] == "unparsed"), messages)


def _midnight(d: dt.date | None):
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc) if d else None
