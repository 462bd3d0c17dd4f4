"""What an artifact parser is, and the context it writes through.

An artifact parser is a small class: it says which tables it fills, how sure it is that a member
is its kind (by path AND content), and turns the member into rows. Subclasses register
themselves; adding an artifact means one contract in ``schemas/``, one module here, its tests.

Parsers hand rows to ``FileContext.emit`` as Arrow tables (fast, vectorised) or lists of dicts
(simple). The context casts them to the table contract, adds provenance, keeps unknown columns
in ``AdditionalFields`` and counts rows read / written / rejected for ``CollectedFile``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Iterable

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..arrays import contiguous
from .. import contracts
from ..collection import Member
from .eventlog_common import route_security_events

if TYPE_CHECKING:
    from ..convert import CollectionRun

MAX_ISSUES_PER_FILE = 500
RAW_TEXT_LIMIT = 4096
MAX_FIELD_CHARS = 1 << 20     # ADX truncates strings at 1 MB; we cut earlier and say so

# Type names PowerShell writes instead of array/object content (content lost at collection time).
PLACEHOLDER = re.compile(
    r"^(?:(?:System|Microsoft)\.[\w.`]+\[\]|MSFT_\w+|\{MSFT_\w+(?:, MSFT_\w+)*(?:\.\.\.)?\}|"
    r"Microsoft\.Management\.Infrastructure\.(?:CimSystemProperties|Internal\.Data\.CimPropertiesCollection)|"
    r"Microsoft\.Win32\.SafeHandles\.\w+|System\.Security\.AccessControl\.\w+|SafeServiceHandle)$")


class Artifact:
    """Base of every artifact parser. Set ``name`` and ``tables`` in a subclass to register it."""

    name: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ()
    registry: ClassVar[list[type["Artifact"]]] = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            Artifact.registry.append(cls)

    @classmethod
    def claim(cls, member: Member) -> int:
        """0 = not mine; higher = more certain. Decide on content (``member.head``) and path."""
        return 0

    @classmethod
    def time_zone_witness(cls, member: Member) -> bool:
        """True for a file whose rows are evidence of the collection's time zone and need none themselves
        (Security.evtx: UTC times of the records SecurityEvents.csv has in local time). When a parser of the
        collection takes such evidence, these files are converted first (``CollectionRun.witnesses_first``)."""
        return False

    def date_samples(self, member: Member, ctx: "FileContext") -> Iterable[str]:
        """Local-time strings of this member, for inferring the collection's date culture."""
        return ()

    def parse(self, member: Member, ctx: "FileContext") -> None:
        raise NotImplementedError


@dataclass
class Issue:
    source_file: str
    source_record: int | None
    severity: str          # error (row lost), warning (value lost or doubtful), info
    reason: str
    raw_text: str = ""


@dataclass
class FileContext:
    """Everything a parser needs while it reads one member."""
    run: "CollectionRun"
    member: Member
    parser: str
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    tables: set[str] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)
    suppressed_issues: int = 0
    details: list[str] = field(default_factory=list)
    lossy: bool = False
    placeholders: bool = False      # turn PowerShell type-name placeholders into nulls
    superseded_by: str | None = None  # another file of the collection already holds these rows
    # Sees every (table, rows) the parser emits, as emitted, once they are written: how one file's
    # conversion leaves facts for another's (Security.evtx's record numbers and times for SecurityEvents.csv).
    listener: Callable[[str, pa.Table], None] | None = None

    # -- facts about the collection -------------------------------------------------------------
    @property
    def collection_id(self) -> str:
        return self.run.collection.collection_id

    @property
    def computer(self) -> str | None:
        return self.run.computer

    @property
    def localtime(self):
        return self.run.localtime

    # -- bookkeeping ----------------------------------------------------------------------------
    def read(self, n: int = 1) -> None:
        self.rows_read += n

    def reject(self, record: int | None, reason: str, raw: str = "") -> None:
        self.rows_rejected += 1
        self._issue(record, "error", reason, raw)

    def warn(self, record: int | None, reason: str, raw: str = "") -> None:
        self._issue(record, "warning", reason, raw)

    def note(self, text: str) -> None:
        self.details.append(text)

    def _issue(self, record, severity, reason, raw) -> None:
        if len(self.issues) >= MAX_ISSUES_PER_FILE:
            self.suppressed_issues += 1
            return
        self.issues.append(Issue(self.member.path, record, severity, reason, (raw or "")[:RAW_TEXT_LIMIT]))

    # -- output ---------------------------------------------------------------------------------
    def emit(self, table: str, rows: pa.Table | pa.RecordBatch | list[dict]) -> int:
        """Cast rows to the table's contract and hand them to the sink. Returns rows written.

        Run options may send a table's rows to another table (``--security-event-columns full``:
        SecurityEvent rows to SecurityEventFull, see eventlog_common.route_security_events).
        """
        contract = contracts.get(table)
        if isinstance(rows, list):
            if not rows:
                return 0
            rows = _table_from_dicts(rows, contract)
        elif isinstance(rows, pa.RecordBatch):
            rows = pa.Table.from_batches([rows])
        if rows.num_rows == 0:
            return 0
        source_table, source_rows = table, rows
        table, rows = route_security_events(self.run.security_event_columns, table, rows)
        contract = contracts.get(table)
        typed = coerce(rows, contract, self)
        self.run.sink.write(table, typed)
        if self.listener is not None:       # only rows that were written: what the listener keeps is output
            self.listener(source_table, source_rows)
        self.rows_written += typed.num_rows
        self.tables.add(table)
        return typed.num_rows


def _table_from_dicts(rows: list[dict], contract: contracts.Contract) -> pa.Table:
    keys: dict[str, None] = {}
    for r in rows:
        for k in r:
            keys.setdefault(k, None)
    cols = {}
    for k in keys:
        values = [r.get(k) for r in rows]
        col = contract.by_name.get(k)
        if col is not None and col.kusto_type == "dynamic":
            values = [v if v is None or isinstance(v, str) else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
                      for v in values]
        try:
            cols[k] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            cols[k] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(cols)


# ---- coercion to the contract -----------------------------------------------------------------

_INT_RE = r"^[+-]?\d+$"
_BOUNDS = {"int": (-(2 ** 31), 2 ** 31 - 1), "long": (-(2 ** 63), 2 ** 63 - 1)}


def coerce(t: pa.Table, contract: contracts.Contract, ctx: FileContext) -> pa.Table:
    n = t.num_rows
    names = set(t.column_names)
    arrays = []
    for col in contract.columns:
        if col.name == "CollectionId":
            arrays.append(pa.repeat(pa.scalar(ctx.collection_id, pa.string()), n))
        elif col.name == "SourceFile" and col.name not in names:
            arrays.append(pa.repeat(pa.scalar(ctx.member.path, pa.string()), n))
        elif col.name == "Computer" and (col.name not in names):
            arrays.append(pa.repeat(pa.scalar(ctx.computer, pa.string()), n))
        elif col.name == "AdditionalFields":
            arrays.append(_additional_fields(t, contract, ctx))
        elif col.name in names:
            arrays.append(_convert(t.column(col.name), col, ctx))
        else:
            arrays.append(pa.nulls(n, col.arrow_type))
    if "Computer" in names and ctx.computer:
        i = contract.columns.index(contract.by_name["Computer"])
        arrays[i] = pc.fill_null(arrays[i], ctx.computer)
    return pa.Table.from_arrays(arrays, schema=contract.schema)


def _convert(arr: pa.ChunkedArray, col: contracts.Column, ctx: FileContext) -> pa.Array:
    arr = contiguous(arr)
    kt = col.kusto_type
    target = col.arrow_type
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    if kt in ("string", "guid", "dynamic"):
        if not pa.types.is_string(arr.type):      # large_string and anything else; a string column as it is
            arr = arr.cast(pa.string())
        if ctx.placeholders and kt != "dynamic":
            arr = _null_placeholders(arr, col.name, ctx)
        return _bound_length(arr, col.name, ctx)
    if kt in ("int", "long"):
        if pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type):
            as64 = arr.cast(pa.int64())
        elif (fast := _try_cast_int(arr)) is not None:   # the common case: clean digits, one C++ pass
            as64 = fast
        else:
            s = pc.utf8_trim_whitespace(arr.cast(pa.string()))
            ok = pc.match_substring_regex(s, _INT_RE)
            bad = pc.and_(pc.and_(pc.is_valid(s), pc.invert(pc.fill_null(ok, True))), pc.not_equal(s, ""))
            _count_failed(bad, s, col.name, f"not an integer", ctx)
            digits = pc.if_else(pc.fill_null(ok, False), s, pa.scalar(None, pa.string()))
            as64 = _str_to_int64(digits, col.name, ctx)
        lo, hi = _BOUNDS[kt]
        out_of_range = pc.or_(pc.less(as64, lo), pc.greater(as64, hi))
        if pc.any(out_of_range).as_py():
            _count_failed(out_of_range, as64.cast(pa.string()), col.name, f"does not fit Kusto {kt}", ctx)
            as64 = pc.if_else(out_of_range, pa.scalar(None, pa.int64()), as64)
        return as64.cast(target)
    if kt == "real":
        if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
            return arr.cast(pa.float64())
        s = pc.replace_substring(pc.utf8_trim_whitespace(arr.cast(pa.string())), ",", ".")
        ok = pc.match_substring_regex(s, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
        good = pc.if_else(pc.fill_null(ok, False), s, pa.scalar(None, pa.string()))
        bad = pc.and_(pc.is_valid(s), pc.and_(pc.invert(pc.fill_null(ok, True)), pc.not_equal(s, "")))
        _count_failed(bad, s, col.name, "not a number", ctx)
        return good.cast(pa.float64())
    if kt == "bool":
        if pa.types.is_boolean(arr.type):
            return arr
        if pa.types.is_integer(arr.type):
            return pc.not_equal(arr, 0)
        s = pc.utf8_lower(pc.utf8_trim_whitespace(arr.cast(pa.string())))
        is_true = pc.is_in(s, pa.array(["true", "1", "yes"]))
        is_false = pc.is_in(s, pa.array(["false", "0", "no"]))
        bad = pc.and_(pc.and_(pc.is_valid(s), pc.not_equal(s, "")), pc.invert(pc.or_(is_true, is_false)))
        _count_failed(bad, s, col.name, "not True/False", ctx)
        return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    if kt == "datetime":
        if pa.types.is_timestamp(arr.type):
            return ctx.localtime.localize(arr.cast(pa.timestamp("us", tz=arr.type.tz)))
        if pa.types.is_date(arr.type):
            return ctx.localtime.localize(arr.cast(pa.timestamp("us")))
        s = arr.cast(pa.string())
        if ctx.placeholders:
            s = _null_placeholders(s, col.name, ctx)
        out, failed = ctx.localtime.parse(s)
        if failed:
            bad = pc.and_(pc.and_(pc.is_valid(s), pc.not_equal(s, "")), pc.is_null(out))
            _count_failed(bad, s, col.name, f"not a date in culture {ctx.localtime.pattern.name}", ctx)
        return out
    raise ValueError(f"unknown Kusto type {kt}")


def _try_cast_int(arr: pa.Array) -> pa.Array | None:
    try:
        return pc.cast(arr, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _str_to_int64(digits: pa.Array, name: str, ctx: FileContext) -> pa.Array:
    try:
        return digits.cast(pa.int64())
    except pa.ArrowInvalid:  # beyond int64: values one by one
        vals = []
        for v in digits.to_pylist():
            try:
                x = int(v) if v is not None else None
                vals.append(x if x is None or -(2 ** 63) <= x < 2 ** 63 else None)
            except ValueError:
                vals.append(None)
        return pa.array(vals, pa.int64())


def _count_failed(mask: pa.Array, values: pa.Array, name: str, why: str, ctx: FileContext) -> None:
    n = pc.sum(mask).as_py() or 0
    if n:
        example = pc.filter(values, mask)[0].as_py()
        ctx.warn(None, f"{n} value(s) of {name} {why}; stored as null (e.g. {str(example)[:200]!r})", str(example))


_PLACEHOLDER_FIRST = np.frombuffer(b"MS{", np.uint8)     # every PLACEHOLDER starts with one of these


def _null_placeholders(arr: pa.Array, name: str, ctx: FileContext) -> pa.Array:
    # The regex runs only on values whose first byte can start a placeholder: the full regex over
    # every string of a 1M-row file costs seconds, the first-byte test on the Arrow buffers ~10 ms.
    candidates = _starting_with(arr, _PLACEHOLDER_FIRST)
    if not len(candidates):
        return arr
    subset = arr.take(pa.array(candidates))
    hit = pc.fill_null(pc.match_substring_regex(subset, PLACEHOLDER.pattern), False).to_numpy(zero_copy_only=False)
    n = int(hit.sum())
    if n:
        example = subset.filter(pa.array(hit))[0].as_py()
        ctx.note(f"{n} type-name placeholder(s) in {name} (e.g. {example}) stored as null")
        ctx.run.placeholders += n
        mask = np.zeros(len(arr), np.bool_)
        mask[candidates[hit]] = True
        arr = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), arr)
    return arr


def _starting_with(arr: pa.Array, first_bytes: np.ndarray) -> np.ndarray:
    """Positions of the non-empty strings whose first byte is one of ``first_bytes``."""
    data = arr.buffers()[2]
    if data is None or data.size == 0:
        return np.empty(0, np.int64)
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], width)[arr.offset: arr.offset + len(arr) + 1]
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts        # null and empty values have no bytes
    first = np.zeros(len(arr), np.uint8)
    first[nonempty] = np.frombuffer(data, np.uint8)[starts[nonempty]]
    return np.flatnonzero(np.isin(first, first_bytes) & nonempty)


def _bound_length(arr: pa.Array, name: str, ctx: FileContext) -> pa.Array:
    data = arr.buffers()[2]
    if data is None or data.size <= MAX_FIELD_CHARS:   # no value can be longer than all values together
        return arr
    if (pc.max(pc.binary_length(arr)).as_py() or 0) <= MAX_FIELD_CHARS:   # from the offsets alone: no byte read
        return arr
    lengths = pc.utf8_length(arr)
    too_long = pc.fill_null(pc.greater(lengths, MAX_FIELD_CHARS), False)
    if pc.any(too_long).as_py():
        n = pc.sum(too_long).as_py()
        ctx.warn(None, f"{n} value(s) of {name} longer than {MAX_FIELD_CHARS:,} characters were cut")
        ctx.lossy = True
        arr = pc.if_else(too_long, pc.utf8_slice_codeunits(arr, 0, MAX_FIELD_CHARS), arr)
    return arr


def _additional_fields(t: pa.Table, contract: contracts.Contract, ctx: FileContext) -> pa.Array:
    known = set(contract.by_name)
    extras = [c for c in t.column_names if c not in known]
    existing = t.column("AdditionalFields") if "AdditionalFields" in t.column_names else None
    if not extras:
        if existing is None:
            return pa.nulls(t.num_rows, pa.string())
        return _convert(existing, contract.by_name["AdditionalFields"], ctx)
    cols = {}
    for c in extras:
        a = contiguous(t.column(c))
        if pa.types.is_string(a.type) and ctx.placeholders:
            a = _null_placeholders(a, c, ctx)
        cols[c] = a.to_pylist()
    base = existing.to_pylist() if existing is not None else [None] * t.num_rows
    out = []
    for i in range(t.num_rows):
        obj = {k: cols[k][i] for k in extras if cols[k][i] is not None}
        if base[i]:
            obj.update(orjson.loads(base[i]) if isinstance(base[i], str) else base[i])
        out.append(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=str).decode() if obj else None)
    return pa.array(out, pa.string())


def registered() -> list[type[Artifact]]:
    from . import load_all
    load_all()
    return list(Artifact.registry)


def choose(member: Member) -> tuple[type[Artifact] | None, int]:
    best, score = None, 0
    for cls in registered():
        try:
            s = cls.claim(member)
        except Exception:   # a claim must never break routing; the member is then unclaimed by it
            s = 0
        if s > score:
            best, score = cls, s
    return best, score
