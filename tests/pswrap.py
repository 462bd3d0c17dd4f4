"""PowerShell's line breaking for Format-List values, as StringManipulationHelper does it, so tests
can write exactly what Out-File writes: hard wrap (non-English cultures, and words wider than the
line) fills the field to the last cell; English word wrap keeps the space that ended the line."""
from __future__ import annotations


def hard_wrap(value: str, first: int, following: int) -> list[str]:
    lines, rest, width = [], value, first
    while len(rest) > width:
        lines.append(rest[:width])
        rest, width = rest[width:], following
    return lines + [rest]


def word_wrap(value: str, first: int, following: int) -> list[str]:
    words = value.split(" ")
    words = [w + " " for w in words[:-1]] + [words[-1]]
    lines, line, left = [], "", first
    for w in words:
        if len(w) > left and line:
            lines.append(line)
            line, left = "", following
        line += w
        left -= len(w)
    return lines + [line]


def fl_record(fields: list[tuple[str, str]], width: int = 120, words: bool = False) -> str:
    """One Format-List record: labels padded to one width, long values wrapped at ``width - 1``."""
    w = max(len(label) for label, _ in fields)
    field = width - 1 - (w + 3)
    out = []
    for label, value in fields:
        parts = (word_wrap if words else hard_wrap)(value, field, field) if value else [""]
        head = f"{label:<{w}} :" + (f" {parts[0]}" if parts[0] else "")
        out.append(head)
        out += [" " * (w + 3) + p for p in parts[1:]]
    return "\n".join(out)


def fl(records: list[list[tuple[str, str]]], width: int = 120, words: bool = False) -> str:
    """A whole Format-List output as Out-File writes it: two blank lines first, blank lines between
    records and at the end."""
    return "\n\n" + "\n\n".join(fl_record(r, width, words) for r in records) + "\n\n\n"
