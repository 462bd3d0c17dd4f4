"""The CSV dialect of Windows PowerShell 5.1 (ConvertTo-Csv / Export-Csv).

Every non-null value is quoted, ``""`` escapes a quote, CR/LF appear literally inside quotes,
``,,`` is $null and ``,"",`` is an empty string. Columns are matched by header name, never by
position. The fast path streams through pyarrow's CSV reader with every column as string; a
file pyarrow refuses (unclosed quote, huge field, bad bytes) is re-read by Python's csv module
from where pyarrow stopped, so a damaged file still yields every record that can be read.
"""
from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from .encoding import iter_text, sniff

BLOCK_SIZE = 4 << 20          # bounded memory: the reader keeps tens of blocks in flight
BATCH_ROWS = 65536
MAX_COLUMNS = 4096            # a header wider than this is refused (hostile input)
MAX_FIELD = 16 << 20          # characters; larger fields are rejected by the fallback reader


@dataclass
class CsvIssue:
    record: int | None
    reason: str
    raw: str = ""


@dataclass
class CsvBatch:
    """A batch of records: every column a string array, ``first_record`` the ordinal of row 0."""
    table: pa.Table
    first_record: int


@dataclass
class CsvReadResult:
    header: list[str] = field(default_factory=list)
    encoding: str = ""
    issues: list[CsvIssue] = field(default_factory=list)
    records: int = 0          # data records seen (delivered + rejected)
    rejected: int = 0
    fallback: bool = False
    type_line: str | None = None


def unique_names(names: list[str]) -> list[str]:
    """PowerShell headers can repeat case-insensitively; suffix repeats so every column survives."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        key = n.lower()
        if key in seen:
            seen[key] += 1
            out.append(f"{n}_{seen[key]}")
        else:
            seen[key] = 1
            out.append(n)
    return out


def _header(head_text: str) -> tuple[list[str], int, str | None]:
    """Header fields, the number of lines before the data, and a tolerated ``#TYPE`` line."""
    lines = head_text.split("\n", 2)
    skip = 0
    type_line = None
    if lines and lines[0].lstrip("\ufeff").startswith("#TYPE"):
        type_line = lines[0].strip()
        skip = 1
        head_text = head_text.split("\n", 1)[1] if "\n" in head_text else ""
    reader = csv.reader(io.StringIO(head_text))
    try:
        fields = next(reader)
    except (StopIteration, csv.Error):
        fields = []
    return [f.lstrip("\ufeff").strip() for f in fields], skip + 1, type_line


def read_pscsv(open_stream: Callable[[], BinaryIO], head: bytes) -> tuple[CsvReadResult, Iterator[CsvBatch]]:
    """Read a PowerShell CSV. Returns the result object (filled while iterating) and the batches."""
    result = CsvReadResult(encoding=sniff(head))
    head_text = "".join(itertools.islice(iter_text(io.BytesIO(head[: 1 << 20]), result.encoding), 1))
    header, skip_lines, result.type_line = _header(head_text)
    result.header = header
    return result, _batches(open_stream, result, skip_lines)


def _batches(open_stream, result: CsvReadResult, skip_lines: int) -> Iterator[CsvBatch]:
    header = result.header
    if not header or header == [""]:
        return
    if len(header) > MAX_COLUMNS:
        # The file's content is lost: one rejected record makes the loss an error, not a quiet empty file.
        result.records += 1
        result.rejected += 1
        result.issues.append(CsvIssue(1, f"unreadable header: {len(header):,} or more columns (limit "
                                      f"{MAX_COLUMNS:,}); the file's records are refused", ",".join(header)[:4096]))
        return
    names = unique_names(header)
    delivered = 0
    try:
        last = None
        for batch in _arrow_batches(open_stream, result, names, skip_lines):
            n = batch.num_rows
            if n:
                last = batch
                yield CsvBatch(pa.Table.from_batches([batch]), delivered + 1)
                delivered += n
                result.records += n
        if last is not None:
            _check_unclosed_quote(last, delivered, result)
        return
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeError, ValueError) as exc:
        result.fallback = True
        # The fast reader may have rejected records of blocks it never delivered (it parses ahead), so its
        # rejections are dropped and the tolerant reader judges every record again from the start; it only
        # skips the ``delivered`` good records that were already handed out.
        fast_rejections = {id(i) for i in result.issues if _is_rejection(i)}
        result.issues = [i for i in result.issues if id(i) not in fast_rejections]
        result.records, result.rejected = delivered, 0
        result.issues.append(CsvIssue(delivered + 1,
                                      f"fast CSV reader stopped ({str(exc)[:200]}); re-reading the rest "
                                      "with the tolerant reader (null and empty strings are no longer told apart)"))
    yield from _python_batches(open_stream, result, names, skip_lines, skip_good=delivered)


def _check_unclosed_quote(last: pa.RecordBatch, ordinal: int, result: CsvReadResult) -> None:
    """A quote never closed (a file cut off mid-value) swallows every later line into the last field,
    and the record may still have the right number of fields. PowerShell closes every value, so a last
    value that ends with a line break, or holds a line break followed by a quote, is that case."""
    for column in last.columns:
        value = column[-1].as_py()
        if isinstance(value, str) and ('\n"' in value or '\r"' in value or value.endswith(("\n", "\r"))):
            result.issues.append(CsvIssue(ordinal, "the last record's value runs over several lines that look like "
                                          "records: a quote was probably never closed (file cut off?); "
                                          "those lines are not separate rows", value[:4096]))
            return


def _is_rejection(issue: CsvIssue) -> bool:
    return issue.reason.startswith(("record has", "unreadable record"))


def _arrow_batches(open_stream, result: CsvReadResult, names: list[str], skip_lines: int):
    def on_invalid(row) -> str:
        result.rejected += 1
        result.records += 1
        result.issues.append(CsvIssue(row.number, f"record has {row.actual_columns} fields, header has "
                                      f"{row.expected_columns}", (row.text or "")[:4096]))
        return "skip"

    encoding = result.encoding
    read_opts = pacsv.ReadOptions(column_names=names, skip_rows=skip_lines, block_size=BLOCK_SIZE,
                                  use_threads=False,
                                  encoding={"utf-16-le-bom": "utf-16", "utf-16-be-bom": "utf-16",
                                            "utf-16-le": "utf-16-le"}.get(encoding, "utf8"))
    parse_opts = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
    conv_opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                                     quoted_strings_can_be_null=False, null_values=[""], check_utf8=True)
    with open_stream() as raw:
        reader = pacsv.open_csv(raw, read_options=read_opts, parse_options=parse_opts, convert_options=conv_opts)
        for batch in reader:
            yield batch


def _python_batches(open_stream, result: CsvReadResult, names: list[str], skip_lines: int, skip_good: int):
    csv.field_size_limit(MAX_FIELD)
    with open_stream() as raw:
        text = io.TextIOWrapper(_TextChunks(iter_text(raw, result.encoding)), encoding="utf-8", errors="replace",
                                newline="")
        reader = csv.reader(_bounded_lines(text, result), strict=False)
        for _ in range(skip_lines):
            try:
                next(reader)
            except (StopIteration, csv.Error):
                return
        cols: list[list[str | None]] = [[] for _ in names]
        first = skip_good + 1
        ordinal = 0
        good = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                ordinal += 1
                result.records += 1
                result.rejected += 1
                result.issues.append(CsvIssue(ordinal, f"unreadable record: {exc}"))
                continue
            ordinal += 1
            if len(row) != len(names):
                result.records += 1
                result.rejected += 1
                result.issues.append(CsvIssue(ordinal, f"record has {len(row)} fields, header has {len(names)}",
                                              ",".join(row)[:4096]))
                continue
            good += 1
            if good <= skip_good:
                continue      # delivered by the fast reader already
            result.records += 1
            for i, v in enumerate(row):
                cols[i].append(v)
            if len(cols[0]) >= BATCH_ROWS:
                yield CsvBatch(pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols)}), first)
                first += len(cols[0])
                cols = [[] for _ in names]
        if cols and cols[0]:
            yield CsvBatch(pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols)}), first)


def _bounded_lines(text: io.TextIOBase, result: CsvReadResult, limit: int = MAX_FIELD) -> Iterator[str]:
    """Physical lines for the csv module, none longer than ``limit`` characters.

    csv.reader holds a whole line in memory, so a hostile 100 MB line is skipped here, in bounded
    pieces, and counted as one rejected record instead of being read.
    """
    number = 0
    while True:
        line = text.readline(limit)
        if not line:
            return
        number += 1
        if len(line) < limit or line.endswith(("\n", "\r")):
            yield line
            continue
        length = len(line)
        while line and not line.endswith(("\n", "\r")):
            line = text.readline(limit)
            length += len(line)
        result.records += 1
        result.rejected += 1
        result.issues.append(CsvIssue(None, f"unreadable record: physical line {number} has {length:,} characters "
                                      f"(limit {limit:,}); refused"))


class _TextChunks(io.RawIOBase):
    """Re-encode decoded text chunks as UTF-8 so TextIOWrapper can feed the csv module lazily."""

    def __init__(self, chunks: Iterator[str]):
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks).encode("utf-8", "surrogatepass")
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n
