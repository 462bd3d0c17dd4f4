"""Browser history and downloads from the SQLite databases that collectors copy.

* Chromium family (Chrome, Edge, Brave, ...): ``History`` — ``visits`` ⋈ ``urls``, ``downloads`` (+
  ``downloads_url_chains``). DFIR-Script copies ``…/User Data/<Profile>/History`` to
  ``Browsers/Chromium/<Vendor>/<Product>/<Profile>/History``; KAPE-style copies keep the profile path.
  Times are microseconds since 1601-01-01 UTC (WebKit), 0 meaning unset.
* Firefox: ``places.sqlite`` — ``moz_historyvisits`` ⋈ ``moz_places``, downloads kept as page
  annotations (``downloads/destinationFileURI`` + ``downloads/metaData``); the legacy
  ``downloads.sqlite`` (``moz_downloads``). Times are PRTime, microseconds since 1970-01-01 UTC.

Evidence is never opened in place: the member is copied to a private temp file and opened with
``mode=ro&immutable=1`` (no journal, no WAL replay, no write). Schemas differ across browser
versions, so every query names only the columns ``PRAGMA table_info`` reports, and columns we do
not map are kept in ``AdditionalFields``. A file that is not SQLite, or breaks while being read,
is a ParseIssue; the rows read before the break are kept.
"""
from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import unquote, urlsplit

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..collection import Member
from .base import Artifact, FileContext
from .userpaths import user_from_profile_path

SQLITE_MAGIC = b"SQLite format 3\x00"
WEBKIT_TO_UNIX_US = 11_644_473_600_000_000    # 1601-01-01 -> 1970-01-01 in microseconds
UNIX_US_RANGE = (-62_135_596_800_000_000, 253_402_300_799_999_999)   # 0001-01-01 .. 9999-12-31 (Kusto datetime)
BATCH_ROWS = 50_000

# Chromium ui::PageTransition: the low byte is the core type, the high bits are qualifiers.
CHROMIUM_CORE = ("LINK", "TYPED", "AUTO_BOOKMARK", "AUTO_SUBFRAME", "MANUAL_SUBFRAME", "GENERATED",
                 "AUTO_TOPLEVEL", "FORM_SUBMIT", "RELOAD", "KEYWORD", "KEYWORD_GENERATED")
CHROMIUM_QUALIFIERS = ((0x00800000, "BLOCKED"), (0x01000000, "FORWARD_BACK"), (0x02000000, "FROM_ADDRESS_BAR"),
                       (0x04000000, "HOME_PAGE"), (0x08000000, "FROM_API"), (0x10000000, "CHAIN_START"),
                       (0x20000000, "CHAIN_END"), (0x40000000, "CLIENT_REDIRECT"), (0x80000000, "SERVER_REDIRECT"))
FIREFOX_VISIT_TYPES = {1: "LINK", 2: "TYPED", 3: "BOOKMARK", 4: "EMBED", 5: "REDIRECT_PERMANENT",
                       6: "REDIRECT_TEMPORARY", 7: "DOWNLOAD", 8: "FRAMED_LINK", 9: "RELOAD"}
CHROMIUM_DOWNLOAD_STATES = {0: "IN_PROGRESS", 1: "COMPLETE", 2: "CANCELLED", 3: "BUG_140687", 4: "INTERRUPTED"}
CHROMIUM_DANGER_TYPES = ("NOT_DANGEROUS", "DANGEROUS_FILE", "DANGEROUS_URL", "DANGEROUS_CONTENT",
                         "MAYBE_DANGEROUS_CONTENT", "UNCOMMON_CONTENT", "USER_VALIDATED", "DANGEROUS_HOST",
                         "POTENTIALLY_UNWANTED", "ALLOWLISTED_BY_POLICY", "ASYNC_SCANNING",
                         "BLOCKED_PASSWORD_PROTECTED", "BLOCKED_TOO_LARGE", "SENSITIVE_CONTENT_WARNING",
                         "SENSITIVE_CONTENT_BLOCK", "DEEP_SCANNED_SAFE", "DEEP_SCANNED_OPENED_DANGEROUS",
                         "PROMPT_FOR_SCANNING", "BLOCKED_UNSUPPORTED_FILETYPE", "DANGEROUS_ACCOUNT_COMPROMISE")
FIREFOX_DOWNLOAD_STATES = {-1: "NOTSTARTED", 0: "DOWNLOADING", 1: "FINISHED", 2: "FAILED", 3: "CANCELED",
                           4: "PAUSED", 5: "QUEUED", 6: "BLOCKED_PARENTAL", 7: "SCANNING", 8: "DIRTY",
                           9: "BLOCKED_POLICY"}


# ---- where a database came from ---------------------------------------------------------------

@dataclass(frozen=True)
class BrowserProfile:
    browser: str | None
    vendor: str | None
    profile: str | None
    user: str | None

    def columns(self) -> dict[str, str | None]:
        return dict(Browser=self.browser, BrowserVendor=self.vendor, Profile=self.profile, UserName=self.user)


def chromium_profile(path: str) -> BrowserProfile:
    """Browser, vendor, profile and user from the layouts collectors use.

    ``Browsers/Chromium/<Vendor>/<Product>/<Profile>/History`` (DFIR-Script),
    ``…/Chromium/<user>/AppData/Local/<Vendor>/<Product>/User Data/<Profile>/History``
    (ChromiumArtifacts.ps1) and ``Users/<user>/AppData/Local/<Vendor>/<Product>/User Data/<Profile>/History``.
    """
    parts = path.split("/")[:-1]
    lower = [p.lower() for p in parts]
    user = user_from_profile_path(path)
    if "user data" in lower:
        i = lower.index("user data")
        vendor = parts[i - 2] if i >= 2 else None
        product = parts[i - 1] if i >= 1 else None
        profile = parts[i + 1] if i + 1 < len(parts) else None
        if user is None and "chromium" in lower:
            j = lower.index("chromium")
            if j + 2 < len(lower) and lower[j + 2] == "appdata":
                user = parts[j + 1]
        return BrowserProfile(product, vendor, profile, user)
    if "chromium" in lower:
        rest = parts[lower.index("chromium") + 1:]
        if len(rest) >= 3:
            return BrowserProfile(rest[1], rest[0], rest[2], user)
    return BrowserProfile(None, None, parts[-1] if parts else None, user)


def firefox_profile(path: str) -> BrowserProfile:
    parts = path.split("/")[:-1]
    return BrowserProfile("Firefox", "Mozilla", parts[-1] if parts else None, user_from_profile_path(path))


# ---- reading SQLite safely --------------------------------------------------------------------

class NotSqlite(Exception):
    """The member is not a readable SQLite database."""


@contextmanager
def open_readonly(member: Member) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a private copy of the member (the evidence is never opened)."""
    with member.local_path() as path:
        try:
            con = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise NotSqlite(str(exc)) from None
        con.text_factory = lambda b: b.decode("utf-8", "replace")
        try:
            yield con
        finally:
            con.close()


def table_names(con: sqlite3.Connection) -> set[str]:
    return {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def table_columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA table_info({_quote(table)})")]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(alias: str, present: list[str], wanted: dict[str, str], extras: bool = True) -> list[tuple[str, str]]:
    """``(sql, key)`` pairs for each wanted source column that exists and, with ``extras``, every
    other column of the table under its own name (those land in AdditionalFields)."""
    have = {c.lower(): c for c in present}
    items = [(f"{alias}.{_quote(have[src.lower()])}", key) for src, key in wanted.items() if src.lower() in have]
    if extras:
        mapped = {src.lower() for src in wanted}
        items += [(f"{alias}.{_quote(c)}", c) for c in present if c.lower() not in mapped]
    return items


def _batches(con: sqlite3.Connection, items: list[tuple[str, str]], rest: str) -> Iterator[dict[str, list]]:
    sql = f"SELECT {', '.join(expr for expr, _ in items)} {rest}"
    cursor = con.execute(sql)
    keys = [key for _, key in items]
    while True:
        rows = cursor.fetchmany(BATCH_ROWS)
        if not rows:
            return
        columns = list(zip(*rows))
        yield {k: [v.hex() if isinstance(v, bytes) else v for v in col] for k, col in zip(keys, columns)}


def micros_to_utc(values: list, offset_us: int, name: str, ctx: FileContext) -> pa.Array:
    """Microsecond counts -> UTC timestamps; 0/NULL mean unset, values beyond Kusto's range become null."""
    raw = pa.array([v if isinstance(v, int) and v != 0 else None for v in values], pa.int64())
    unix = pc.subtract(raw, offset_us) if offset_us else raw
    lo, hi = UNIX_US_RANGE
    bad = pc.fill_null(pc.or_(pc.less(unix, lo), pc.greater(unix, hi)), False)
    n_bad = pc.sum(bad).as_py() or 0
    if n_bad:
        ctx.warn(None, f"{n_bad} value(s) of {name} lie outside 0001..9999 and were stored as null")
        unix = pc.if_else(bad, pa.scalar(None, pa.int64()), unix)
    not_int = sum(1 for v in values if v is not None and not isinstance(v, int))
    if not_int:
        ctx.warn(None, f"{not_int} value(s) of {name} are not integers and were stored as null")
    return unix.cast(pa.timestamp("us", tz="UTC"))


def _json_list(values: list) -> list[str | None]:
    return [orjson.dumps(v).decode() if v else None for v in values]


def _named(codes: list, names: dict[int, str] | tuple[str, ...]) -> list[str | None]:
    lookup = names if isinstance(names, dict) else dict(enumerate(names))
    return [lookup.get(c) if isinstance(c, int) else None for c in codes]


def file_uri_to_path(uri: str | None) -> str | None:
    """``file:///C:/Users/a/x.zip`` -> ``C:\\Users\\a\\x.zip``; other values unchanged."""
    if not uri or not uri.lower().startswith("file:"):
        return uri
    parts = urlsplit(uri)
    path = unquote(parts.path)
    if re.match(r"^/[A-Za-z]:", path):
        return path[1:].replace("/", "\\")
    if parts.netloc:                                   # file://server/share/x -> \\server\share\x
        return "\\\\" + parts.netloc + path.replace("/", "\\")
    return path


def _emit(ctx: FileContext, table: str, cols: dict[str, list | pa.Array], where: BrowserProfile,
          schema_version: str | None) -> None:
    n = len(next(iter(cols.values())))
    for key, value in (*where.columns().items(), ("SchemaVersion", schema_version)):
        cols[key] = [value] * n
    ctx.read(ctx.emit(table, pa.table({k: v if isinstance(v, pa.Array) else _arrow(v) for k, v in cols.items()})))


def _arrow(values: list) -> pa.Array:
    """SQLite columns can mix affinities (text in an integer column): such a column becomes strings,
    and the contract cast then reports the values that do not fit."""
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) > 1 and not kinds <= {int, float}:
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _column(batch: dict[str, list], key: str, keep: bool = False) -> list:
    """A column of the batch (removed from it unless ``keep``), or all-null when the database lacks it."""
    values = batch.get(key) if keep else batch.pop(key, None)
    return values if values is not None else [None] * len(next(iter(batch.values())))


# ---- artifacts ----------------------------------------------------------------------------------

class SqliteBrowserArtifact(Artifact):
    """Opens the member read-only and hands the connection to ``read``; SQLite errors become issues."""

    file_names: tuple[str, ...] = ()
    schema_markers: tuple[bytes, ...] = ()     # CREATE TABLE text that identifies the database (page 1)

    @classmethod
    def claim(cls, member: Member) -> int:
        named = member.name.lower() in cls.file_names
        if member.head.startswith(SQLITE_MAGIC):
            if named:
                return 80
            return 70 if all(m in member.head for m in cls.schema_markers) else 0
        # Named like a browser database but not SQLite: claimed to report it, not to leave it unparsed.
        return 20 if named else 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        if not member.head:
            ctx.note("0 bytes: the browser database was not copied")
            return
        if not member.head.startswith(SQLITE_MAGIC):
            ctx.read()
            ctx.reject(None, "not a SQLite database (no 'SQLite format 3' header); the file may be encrypted, "
                       "truncated or something else under the browser's file name", member.head[:64].hex())
            return
        try:
            with open_readonly(member) as con:
                self.read(con, member, ctx)
        except NotSqlite as exc:
            ctx.read()
            ctx.reject(None, f"SQLite cannot open the database ({exc}); check that the copy is complete")
        except sqlite3.DatabaseError as exc:
            ctx.read()
            ctx.lossy = True
            ctx.reject(None, f"the database broke while being read ({exc}); rows read before are kept")

    def read(self, con: sqlite3.Connection, member: Member, ctx: FileContext) -> None:
        raise NotImplementedError


class ChromiumHistory(SqliteBrowserArtifact):
    name = "chromium_history"
    tables = ("BrowserVisit", "BrowserDownload")
    file_names = ("history",)
    schema_markers = (b"CREATE TABLE visits", b"CREATE TABLE urls")

    URL_COLUMNS = {"url": "Url", "title": "PageTitle", "visit_count": "VisitCount", "typed_count": "TypedCount",
                   "last_visit_time": "last_visit_time", "hidden": "Hidden"}

    def read(self, con, member, ctx):
        where = chromium_profile(member.path)
        tables = table_names(con)
        version = None
        if "meta" in tables:
            row = con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            version = str(row[0]) if row else None
        if {"visits", "urls"} <= tables:
            self._visits(con, ctx, where, version)
        else:
            ctx.warn(None, "no visits/urls tables: not a History database, or an unknown schema")
        if "downloads" in tables:
            self._downloads(con, ctx, where, version, "downloads_url_chains" in tables)
        _warn_unreplayed_wal(member, ctx)

    def _visits(self, con, ctx, where, version):
        url_cols = table_columns(con, "urls")
        items = _select("v", table_columns(con, "visits"), {
            "id": "VisitId", "visit_time": "visit_time", "from_visit": "FromVisitId", "transition": "TransitionCode",
            "visit_duration": "VisitDurationMicroseconds", "url": "url_id"})
        items += _select("u", url_cols, self.URL_COLUMNS, extras=False) + [("fu.url", "FromUrl")]
        rest = ("FROM visits v LEFT JOIN urls u ON u.id = v.url "
                "LEFT JOIN visits fv ON fv.id = v.from_visit AND v.from_visit != 0 "
                "LEFT JOIN urls fu ON fu.id = fv.url ORDER BY v.id")
        for batch in _batches(con, items, rest):
            batch.pop("url_id", None)
            batch["SourceRecord"] = batch["VisitId"]
            batch["VisitTime"] = micros_to_utc(_column(batch, "visit_time"), WEBKIT_TO_UNIX_US, "visit_time", ctx)
            batch["LastVisitTime"] = micros_to_utc(_column(batch, "last_visit_time"), WEBKIT_TO_UNIX_US,
                                                   "last_visit_time", ctx)
            codes = _column(batch, "TransitionCode", keep=True)
            batch["Transition"] = _named([c & 0xFF if isinstance(c, int) else None for c in codes], CHROMIUM_CORE)
            batch["TransitionQualifiers"] = _json_list([[n for bit, n in CHROMIUM_QUALIFIERS if c & bit]
                                                        if isinstance(c, int) else None for c in codes])
            _emit(ctx, "BrowserVisit", batch, where, version)
        recent = [f"u.{c} > 0" for c in ("visit_count", "last_visit_time") if c in {x.lower() for x in url_cols}]
        if recent:
            items = [("u.id", "SourceRecord")] + _select("u", url_cols, self.URL_COLUMNS, extras=False)
            rest = (f"FROM urls u WHERE NOT EXISTS (SELECT 1 FROM visits v WHERE v.url = u.id) "
                    f"AND ({' OR '.join(recent)}) ORDER BY u.id")
            _emit_unvisited(con, ctx, items, rest, "last_visit_time", WEBKIT_TO_UNIX_US, where, version)

    def _downloads(self, con, ctx, where, version, has_chains):
        chains: dict[int, list[str]] = {}
        if has_chains:
            for ident, url in con.execute("SELECT id, url FROM downloads_url_chains ORDER BY id, chain_index"):
                chains.setdefault(ident, []).append(url)
        items = _select("d", table_columns(con, "downloads"), {
            "id": "DownloadId", "guid": "Guid", "current_path": "CurrentPath", "target_path": "TargetPath",
            "full_path": "TargetPath", "url": "Url", "start_time": "start_time", "end_time": "end_time",
            "last_access_time": "last_access_time", "received_bytes": "ReceivedBytes", "total_bytes": "TotalBytes",
            "state": "StateCode", "danger_type": "DangerTypeCode", "interrupt_reason": "InterruptReason",
            "opened": "Opened", "mime_type": "MimeType", "original_mime_type": "OriginalMimeType",
            "referrer": "Referrer", "tab_url": "TabUrl", "site_url": "SiteUrl"})
        for batch in _batches(con, items, "FROM downloads d ORDER BY d.id"):
            ids = batch["DownloadId"]
            batch["SourceRecord"] = ids
            for col, key in (("start_time", "StartTime"), ("end_time", "EndTime"),
                             ("last_access_time", "LastAccessTime")):
                batch[key] = micros_to_utc(_download_times(_column(batch, col)), WEBKIT_TO_UNIX_US, col, ctx)
            if has_chains:
                urls = [chains.get(i, []) for i in ids]
                batch["UrlChain"] = _json_list(urls)
                batch["Url"] = [u[-1] if u else None for u in urls]
            batch["State"] = _named(_column(batch, "StateCode", keep=True), CHROMIUM_DOWNLOAD_STATES)
            batch["DangerType"] = _named(_column(batch, "DangerTypeCode", keep=True), CHROMIUM_DANGER_TYPES)
            _emit(ctx, "BrowserDownload", batch, where, version)


def _download_times(values: list) -> list:
    """Old History schemas (before version ~24) kept download times as Unix seconds, later ones as
    WebKit microseconds. The magnitudes cannot be confused: a WebKit value below 10^11 would lie in
    January 1601, a Unix-seconds value above it after the year 5000. Seconds are turned into WebKit µs."""
    return [v * 1_000_000 + WEBKIT_TO_UNIX_US if isinstance(v, int) and 0 < v < 10 ** 11 else v for v in values]


def _emit_unvisited(con, ctx, items, rest, last_visit_key, offset_us, where, version) -> None:
    """URLs/places whose visit rows are gone (expired) but whose counters say they were visited:
    one row each, at their last visit time, with a null VisitId."""
    for batch in _batches(con, items, rest):
        last = micros_to_utc(_column(batch, last_visit_key), offset_us, last_visit_key, ctx)
        batch["VisitTime"] = batch["LastVisitTime"] = last
        _emit(ctx, "BrowserVisit", batch, where, version)


def _warn_unreplayed_wal(member: Member, ctx: FileContext) -> None:
    wal = [m for m in ctx.run.collection.members if m.path == member.path + "-wal" and m.size]
    if wal:
        ctx.warn(None, f"a -wal file ({wal[0].size} bytes) sits beside the database and was not replayed; "
                 "the most recent rows may be missing")


class FirefoxPlaces(SqliteBrowserArtifact):
    name = "firefox_places"
    tables = ("BrowserVisit", "BrowserDownload")
    file_names = ("places.sqlite",)
    schema_markers = (b"CREATE TABLE moz_places", b"CREATE TABLE moz_historyvisits")

    PLACE_COLUMNS = {"url": "Url", "title": "PageTitle", "visit_count": "VisitCount", "typed": "TypedCount",
                     "last_visit_date": "last_visit_date", "hidden": "Hidden"}

    def read(self, con, member, ctx):
        where = firefox_profile(member.path)
        version = str(con.execute("PRAGMA user_version").fetchone()[0])
        tables = table_names(con)
        if {"moz_places", "moz_historyvisits"} <= tables:
            self._visits(con, ctx, where, version)
        else:
            ctx.warn(None, "no moz_places/moz_historyvisits tables: not a places database")
        if {"moz_annos", "moz_anno_attributes", "moz_places"} <= tables:
            self._annotated_downloads(con, ctx, where, version)
        _warn_unreplayed_wal(member, ctx)

    def _visits(self, con, ctx, where, version):
        place_cols = table_columns(con, "moz_places")
        items = _select("hv", table_columns(con, "moz_historyvisits"), {
            "id": "VisitId", "visit_date": "visit_date", "from_visit": "FromVisitId", "visit_type": "TransitionCode",
            "place_id": "place_id"})
        items += _select("p", place_cols, self.PLACE_COLUMNS, extras=False) + [("fp.url", "FromUrl")]
        rest = ("FROM moz_historyvisits hv LEFT JOIN moz_places p ON p.id = hv.place_id "
                "LEFT JOIN moz_historyvisits fv ON fv.id = hv.from_visit AND hv.from_visit != 0 "
                "LEFT JOIN moz_places fp ON fp.id = fv.place_id ORDER BY hv.id")
        for batch in _batches(con, items, rest):
            batch.pop("place_id", None)
            batch["SourceRecord"] = batch["VisitId"]
            batch["VisitTime"] = micros_to_utc(_column(batch, "visit_date"), 0, "visit_date", ctx)
            batch["LastVisitTime"] = micros_to_utc(_column(batch, "last_visit_date"), 0, "last_visit_date", ctx)
            batch["Transition"] = _named(_column(batch, "TransitionCode", keep=True), FIREFOX_VISIT_TYPES)
            _emit(ctx, "BrowserVisit", batch, where, version)
        have = {c.lower() for c in place_cols}
        recent = [cond for col, cond in (("visit_count", "p.visit_count > 0"),
                                         ("last_visit_date", "p.last_visit_date IS NOT NULL")) if col in have]
        if recent:
            items = [("p.id", "SourceRecord")] + _select("p", place_cols, self.PLACE_COLUMNS, extras=False)
            rest = ("FROM moz_places p WHERE NOT EXISTS (SELECT 1 FROM moz_historyvisits hv WHERE hv.place_id = p.id) "
                    f"AND ({' OR '.join(recent)}) ORDER BY p.id")
            _emit_unvisited(con, ctx, items, rest, "last_visit_date", 0, where, version)

    def _annotated_downloads(self, con, ctx, where, version):
        """Firefox 26+ keeps downloads as annotations of the download URL's place."""
        meta: dict[int, dict] = {}
        query = ("SELECT a.place_id, a.content FROM moz_annos a JOIN moz_anno_attributes n "
                 "ON n.id = a.anno_attribute_id WHERE n.name = 'downloads/metaData'")
        for place_id, content in con.execute(query):
            try:
                value = orjson.loads(content) if content else {}
            except orjson.JSONDecodeError:
                ctx.warn(place_id, "downloads/metaData annotation is not JSON", str(content)[:200])
                value = {}
            meta[place_id] = value if isinstance(value, dict) else {}
        query = ("SELECT a.id, a.place_id, p.url, a.content, a.dateAdded FROM moz_annos a "
                 "JOIN moz_anno_attributes n ON n.id = a.anno_attribute_id LEFT JOIN moz_places p ON p.id = a.place_id "
                 "WHERE n.name = 'downloads/destinationFileURI' ORDER BY a.id")
        rows = con.execute(query).fetchall()
        if not rows:
            return
        ids, places, urls, targets, added = (list(c) for c in zip(*rows))
        info = [meta.get(p, {}) for p in places]

        def integer(key: str) -> list[int | None]:
            return [m.get(key) if isinstance(m.get(key), int) else None for m in info]

        end_ms = integer("endTime")          # JavaScript milliseconds
        cols = dict(SourceRecord=ids, DownloadId=ids, Url=urls, TargetPath=[file_uri_to_path(t) for t in targets],
                    DestinationFileUri=targets, StartTime=micros_to_utc(added, 0, "dateAdded", ctx),
                    EndTime=micros_to_utc([v * 1000 if v is not None else None for v in end_ms], 0,
                                          "metaData.endTime", ctx),
                    StateCode=integer("state"), TotalBytes=integer("fileSize"))
        cols["State"] = _named(cols["StateCode"], FIREFOX_DOWNLOAD_STATES)
        _emit(ctx, "BrowserDownload", cols, where, version)


class FirefoxLegacyDownloads(SqliteBrowserArtifact):
    """``downloads.sqlite`` (Firefox up to 25): one ``moz_downloads`` row per download."""

    name = "firefox_downloads"
    tables = ("BrowserDownload",)
    file_names = ("downloads.sqlite",)
    schema_markers = (b"CREATE TABLE moz_downloads",)

    def read(self, con, member, ctx):
        where = firefox_profile(member.path)
        version = str(con.execute("PRAGMA user_version").fetchone()[0])
        present = table_columns(con, "moz_downloads")
        if not present:
            ctx.warn(None, "no moz_downloads table: not a Firefox downloads database")
            return
        items = _select("d", present, {
            "id": "DownloadId", "source": "Url", "target": "DestinationFileUri", "startTime": "startTime",
            "endTime": "endTime", "state": "StateCode", "currBytes": "ReceivedBytes", "maxBytes": "TotalBytes",
            "mimeType": "MimeType", "referrer": "Referrer", "guid": "Guid"})
        for batch in _batches(con, items, "FROM moz_downloads d ORDER BY d.id"):
            batch["SourceRecord"] = batch["DownloadId"]
            batch["TargetPath"] = [file_uri_to_path(t) for t in _column(batch, "DestinationFileUri", keep=True)]
            batch["StartTime"] = micros_to_utc(_column(batch, "startTime"), 0, "startTime", ctx)
            batch["EndTime"] = micros_to_utc(_column(batch, "endTime"), 0, "endTime", ctx)
            batch["State"] = _named(_column(batch, "StateCode", keep=True), FIREFOX_DOWNLOAD_STATES)
            _emit(ctx, "BrowserDownload", batch, where, version)
