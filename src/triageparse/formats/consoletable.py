"""Fixed-width console tables: driverquery, query user, qwinsta, openfiles and Format-Table.

These tools pad columns with spaces to a width measured in *console cells*: an East-Asian wide
character (Japanese headers, CJK user names) takes two cells, so character offsets and column
offsets differ. Column positions come from the ``====``/``----`` rule line when there is one
(driverquery, openfiles, Format-Table), otherwise from the words of the header line (query user,
qwinsta). Neither gives exact cell boundaries:

* right-aligned numbers (qwinsta's ``65536``, Format-Table's ``Handles``) start left of their
  header word, and Format-Table's dashes cover only the header text, not the column;
* a value that fills its column is followed by a single space, so it touches the next value
  (``CompositeBus Composite Bus Enumerat``, ``1394 OHCI Compliant Ho Kernel``);
* values wider than their column push into the next one (openfiles IDs of ten digits).

So a row is cut into *segments* (text separated by two or more spaces), and every segment goes to
the column it overlaps; a segment that overlaps several columns is split at the single space
nearest each column start. A column's value is the original text from its first to its last
segment, so runs of spaces inside a value (paths) survive.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_SEGMENT = re.compile(r"[^ ]+(?: [^ ]+)*")        # tokens joined by single spaces
_RULE_RUN = re.compile(r"=+|-+")
OPEN_END = 1 << 30
MAX_COLUMNS = 256      # no console table comes near; a "rule" with more runs is hostile or not a rule


@lru_cache(maxsize=4096)
def cell_width(ch: str) -> int:
    """Console cells of one character: 2 for East-Asian wide/full-width, 0 for combining marks."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell_offsets(line: str) -> list[int]:
    """Cell position of every character of ``line``, plus the total width at the end."""
    if line.isascii():
        return list(range(len(line) + 1))
    pos = [0] * (len(line) + 1)
    at = 0
    for i, ch in enumerate(line):
        pos[i] = at
        at += cell_width(ch)
    pos[len(line)] = at
    return pos


def display_width(text: str) -> int:
    return len(text) if text.isascii() else cell_offsets(text)[-1]


def is_rule(line: str) -> bool:
    """A ``====`` or ``----`` line: runs of one rule character separated by spaces."""
    s = line.strip()
    if not s or not (set(s) <= {"=", " "} or set(s) <= {"-", " "}):
        return False
    return len(_RULE_RUN.findall(s)) <= MAX_COLUMNS


@dataclass(frozen=True)
class Span:
    start: int      # first cell
    end: int        # one past the last cell

    def overlap(self, other: "Span") -> int:
        return max(0, min(self.end, other.end) - max(self.start, other.start))

    def distance(self, other: "Span") -> int:
        return max(0, other.start - self.end, self.start - other.end)


@dataclass(frozen=True)
class Layout:
    """Column names and their cell spans; the last column is open-ended."""
    names: tuple[str, ...]
    spans: tuple[Span, ...]

    @classmethod
    def from_rule(cls, header: str, rule: str) -> "Layout":
        """Columns from the runs of a ``====``/``----`` line under ``header``."""
        offsets = cell_offsets(rule)
        spans = [Span(offsets[m.start()], offsets[m.end()]) for m in _RULE_RUN.finditer(rule)]
        if spans:
            spans[-1] = Span(spans[-1].start, OPEN_END)
        probe = cls(tuple("" for _ in spans), tuple(spans))
        return cls(tuple(probe.cells(header)), tuple(spans))

    @classmethod
    def from_header(cls, header: str, expected: int | None = None) -> "Layout | None":
        """Columns from the words of a header line (no rule line).

        Header words are separated by two or more spaces (``IDLE TIME`` is one column); when that
        gives the wrong number of columns, single words are tried (some localised tools separate
        headers by one space). None when neither fits ``expected``.
        """
        offsets = cell_offsets(header)
        for pattern in (_SEGMENT, re.compile(r"\S+")):
            found = [(m.group(), Span(offsets[m.start()], offsets[m.end()])) for m in pattern.finditer(header)]
            if found and len(found) <= MAX_COLUMNS and (expected is None or len(found) == expected):
                names = tuple(n for n, _ in found)
                spans = [s for _, s in found]
                spans[-1] = Span(spans[-1].start, OPEN_END)
                return cls(names, tuple(spans))
        return None

    def cells(self, line: str) -> list[str]:
        """The value of every column in ``line`` ('' where the row has nothing)."""
        offsets = cell_offsets(line)
        pieces: dict[int, list[tuple[int, int]]] = {}
        for m in _SEGMENT.finditer(line):
            for a, b in self._split(line, offsets, m.start(), m.end()):
                col = self._column_of(Span(offsets[a], offsets[b]))
                pieces.setdefault(col, []).append((a, b))
        out = []
        for i in range(len(self.spans)):
            parts = pieces.get(i)
            out.append(line[parts[0][0]:parts[-1][1]].strip() if parts else "")
        return out

    def _overlapped(self, seg: Span) -> list[int]:
        return [i for i, s in enumerate(self.spans) if s.overlap(seg)]

    def _split(self, line: str, offsets: list[int], a: int, b: int) -> list[tuple[int, int]]:
        """Cut a segment that covers several columns at the single space nearest each column start."""
        cols = self._overlapped(Span(offsets[a], offsets[b]))
        if len(cols) < 2:
            return [(a, b)]
        spaces = [i for i in range(a, b) if line[i] == " "]
        cuts: list[int] = []
        for col in cols[1:]:
            boundary = self.spans[col].start - 1
            later = [i for i in spaces if not cuts or i > cuts[-1]]
            if not later:
                break
            cuts.append(min(later, key=lambda i: (abs(offsets[i] - boundary), i)))
        bounds = [a, *[c for c in cuts], b]
        out = []
        for k in range(len(bounds) - 1):
            start = bounds[k] + (1 if k else 0)
            if start < bounds[k + 1]:
                out.append((start, bounds[k + 1]))
        return out

    def _column_of(self, seg: Span) -> int:
        # Most overlap wins; on a tie, the column the value is aligned with (left or right edge).
        best = max(range(len(self.spans)), key=lambda i: (
            self.spans[i].overlap(seg), self.spans[i].start == seg.start or self.spans[i].end == seg.end, -i))
        if self.spans[best].overlap(seg):
            return best
        return min(range(len(self.spans)), key=lambda i: (self.spans[i].distance(seg), i))


def is_truncated(value: str) -> bool:
    """Format-Table and Format-List cut values with ``...`` (5.1) or ``…`` (PowerShell 6.2+)."""
    return value.endswith("...") or value.endswith("\u2026")
