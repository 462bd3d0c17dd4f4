"""PowerShell's text renderings: Format-List and Format-Table output as Out-File writes it.

Format-List (``Label : value`` records separated by blank lines)::

    Name              : w32time
    DependentServices : {}
    ServiceType       : Win32OwnProcess, Win32ShareProcess

* labels of one record are padded to one width, so every value starts in the same column;
* a value longer than the line continues on lines indented to that column. PowerShell breaks it
  either where the field is full (a *hard wrap*, possibly inside a word: ``…\\Co`` / ``ntrol``), or
  after a space when the culture is English (a *word wrap*: the line keeps its trailing space), or
  at a newline inside the value (event messages). Hard and word wraps are joined without a
  separator, newlines with ``\\n``. A wrap is recognised by a line that reaches the widest line of
  the file (the output width) or ends with a space; the rest are newlines. The two cannot always
  be told apart, which is why a CSV of the same data wins over the text (see artifacts);
* collections print as ``{a, b, c, d...}``, cut after four items (``$FormatEnumerationLimit``).

Format-Table (a header, a row of dashes, data rows; optional group headers such as
``    Hive: HKEY_CURRENT_USER\\…`` or ``   PriorityClass: Normal``): columns are cut with
:class:`~triageparse.formats.consoletable.Layout`; cells cut by PowerShell end with ``...``
(5.1) or ``…`` (7.x) and are flagged, since what was cut is lost.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .consoletable import Layout, display_width, is_rule, is_truncated

MIN_WRAP_WIDTH = 79          # narrowest output width PowerShell is run with (80-column console)
MAX_RAW_LINES = 200          # raw text kept per record, for ParseIssue rows

_LABEL = re.compile(r"^(?P<label>\S(?:.*?\S)?) +:(?: (?P<value>.*))?$")
_GROUP = re.compile(r"^\s+(?P<label>\S[^:]*?)\s*:(?: +(?P<value>.*?))?\s*$")
_COLLECTION = re.compile(r"^\{(?P<body>.*?)(?P<more>\.\.\.|\u2026)?\}$", re.S)


def parse_collection(value: str) -> tuple[list[str], bool] | None:
    """``{a, b, c...}`` -> (items, cut). None when ``value`` is not a collection rendering."""
    m = _COLLECTION.match(value.strip())
    if not m:
        return None
    body = m["body"].strip()
    items = [x.strip() for x in body.split(", ")] if body else []
    return items, bool(m["more"])


@dataclass
class ListField:
    label: str
    value: str
    line: int
    wrapped: bool = False       # continuation lines joined without separator (width wrap)
    multiline: bool = False     # continuation lines joined with a newline

    @property
    def truncated(self) -> bool:
        """A collection cut at $FormatEnumerationLimit, or a value ending in a cut marker."""
        coll = parse_collection(self.value)
        return coll[1] if coll is not None else is_truncated(self.value)


@dataclass
class ListRecord:
    line: int                                   # line number of the first label
    fields: list[ListField] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    raw: list[str] = field(default_factory=list)
    stray: list[tuple[int, str]] = field(default_factory=list)   # unindented lines that are no label

    def values(self) -> dict[str, str]:
        """Label -> value; a repeated label keeps its first value (the repeat is in ``fields``)."""
        out: dict[str, str] = {}
        for f in self.fields:
            out.setdefault(f.label, f.value)
        return out

    def keep(self, line: str) -> None:
        if len(self.raw) < MAX_RAW_LINES:
            self.raw.append(line)

    @property
    def raw_text(self) -> str:
        return "\n".join(self.raw)


def wrap_width(lines: Iterable[str]) -> int | None:
    """Output width of a rendering: its widest line, if it is as wide as a console at least."""
    widest = max((display_width(x) for x in lines), default=0)
    return widest if widest >= MIN_WRAP_WIDTH else None


class ListReader:
    """Streams Format-List records from ``(line_number, line)`` pairs.

    ``width`` is the output width (see :func:`wrap_width`); it only grows while reading, since
    the widest line is the best evidence of the width the text was wrapped at.
    """

    def __init__(self, width: int | None = None):
        self.width = width
        self.sequence: list[str] = []     # labels of the fullest record so far, in order

    def records(self, lines: Iterable[tuple[int, str]]) -> Iterator[ListRecord]:
        record: ListRecord | None = None
        current: ListField | None = None
        value_column = 0
        blanks = 0
        padding_lines = 0
        previous = ""
        for number, line in lines:
            width = display_width(line)
            if width >= MIN_WRAP_WIDTH and (self.width is None or width > self.width):
                self.width = width
            # Spaces up to the value column are a continuation line of a value that ends in
            # whitespace or holds an empty line; only a shorter blank line separates records.
            if not line.strip() and not (current is not None and 0 < value_column <= len(line)):
                blanks += 1
                continue
            m = None if line[0].isspace() else _LABEL.match(line)
            if m:
                label = m["label"]
                if record is not None and (label in record.labels or
                                           blanks and not self._continues(record, label)):
                    self._learn(record)
                    yield record
                    record = None
                if record is None:
                    record = ListRecord(number)
                value_column = m.start("value") if m["value"] is not None else len(line) + 1
                current = ListField(label, m["value"] or "", number)
                padding_lines = 0
                record.fields.append(current)
                record.labels.add(label)
                record.keep(line)
            elif record is not None and current is not None and line[0].isspace():
                text = _dedent(line, value_column)
                if not text and not blanks:
                    # Padding only: an empty line of the value (event messages), or the tail Out-File
                    # leaves when it wraps a value that ends in a space. The next line tells which:
                    # a value that goes on had an empty line here, a value that ends here did not.
                    padding_lines += 1
                    record.keep(line)
                    previous = line
                    continue
                if padding_lines:
                    current.value += "\n" * padding_lines
                    current.multiline = True
                    padding_lines = 0
                if blanks:
                    current.value += "\n" * (blanks + 1) + text
                    current.multiline = True
                elif self._is_wrap(previous, text):
                    current.value += text
                    current.wrapped = True
                else:
                    current.value += "\n" + text
                    current.multiline = True
                record.keep(line)
            else:
                if record is None:
                    record = ListRecord(number)
                record.stray.append((number, line))
            blanks = 0
            previous = line
        if record is not None:
            yield record

    def _learn(self, record: ListRecord) -> None:
        if len(record.fields) > len(self.sequence):
            self.sequence = [f.label for f in record.fields]

    def _continues(self, record: ListRecord, label: str) -> bool:
        """After blank lines: does ``label`` come later in the same record (objects of one type
        list their labels in one order), rather than start the next record?"""
        seq = self.sequence
        last = record.fields[-1].label if record.fields else None
        return label in seq and last in seq and seq.index(label) > seq.index(last) and label != seq[0]

    def _is_wrap(self, line: str, next_text: str) -> bool:
        """Does ``next_text`` (a dedented continuation line) continue ``line`` without a line break?"""
        if not line.strip() or next_text.startswith("\t"):
            # An empty line of a value, or a line opening with a tab: lines of the value itself
            # (event messages: "Logon Process:\t\tNtLmSsp " ends with a space of its own).
            return False
        if line.endswith(" "):
            return True          # English word wrap keeps the space that ended the line
        return self.width is not None and display_width(line) >= self.width


def _dedent(line: str, column: int) -> str:
    """Remove the indentation that aligns a continuation line with the value column."""
    n = len(line) - len(line.lstrip(" "))
    return line[min(n, column):] if n >= column else line.lstrip()


@dataclass
class TableRow:
    line: int
    cells: dict[str, str]
    raw: str
    group: tuple[str, str] | None = None       # ("PriorityClass", "Normal"), ("Hive", "HKEY_…")
    continuation: bool = False                 # the first cell is empty: more lines of the row above

    @property
    def truncated(self) -> list[str]:
        return [name for name, value in self.cells.items() if is_truncated(value)]


@dataclass
class TableStray:
    line: int
    text: str


class TableReader:
    """Streams Format-Table rows (and the lines that belong to no table) from numbered lines."""

    def rows(self, lines: Iterable[tuple[int, str]]) -> Iterator[TableRow | TableStray]:
        layout: Layout | None = None
        group: tuple[str, str] | None = None
        pending: tuple[int, str] | None = None      # a line that may be the next header
        for number, line in lines:
            if not line.strip():
                layout = None
            elif layout is not None:
                cells = layout.cells(line)
                yield TableRow(number, dict(zip(layout.names, cells)), line, group, continuation=not cells[0])
                continue
            elif pending is not None and is_rule(line):
                layout = Layout.from_rule(pending[1], line)
                pending = None
                continue
            if pending is not None:     # neither a header nor a row: a group header or a stray line
                m = _GROUP.match(pending[1])
                if m:
                    group = (m["label"], m["value"] or "")   # empty: e.g. PriorityClass unreadable
                else:
                    yield TableStray(*pending)
            pending = (number, line) if line.strip() else None
        if pending is not None and not _GROUP.match(pending[1]):
            yield TableStray(*pending)
