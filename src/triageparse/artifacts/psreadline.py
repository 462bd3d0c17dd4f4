"""PowerShell command history: PSReadLine's ``ConsoleHost_history.txt`` and the ``Get-History`` text.

PSReadLine (``History.cs``) appends every command with ``File.AppendText`` — UTF-8 without BOM —
after ``CommandLine.Replace("\\n", "`\\n")``: a multi-line command is stored one line per source
line, each but the last ending in a backtick that PSReadLine itself added. Reading it back the way
PSReadLine does (drop that one backtick, join with LF) restores the command exactly, including a
user's own trailing backtick (stored as two). The file has no timestamps.

DFIR-Script copies it to ``PowerShellHistory/<user>.Name/ConsoleHost_history.txt``: ``.Name`` is
literal (only ``$userDir`` is expanded inside the double-quoted string), so it is stripped to get
the user. Other collectors keep the profile path (``Users/<user>/AppData/Roaming/…/PSReadLine``).

``PowershellHistory.txt`` (F0–F4, root) and ``PowerShellHistory/PowershellHistoryCurrentUser.txt``
(F5+) are the ``Get-History`` table of the script's own session: normally 0 bytes, since the script
runs non-interactively; when they hold rows, ``Id`` and ``CommandLine`` are read from the table.
"""
from __future__ import annotations

import re
from typing import Iterator

from ..collection import Member
from ..formats.encoding import is_empty_text, iter_lines, sniff
from .base import Artifact, FileContext
from .userpaths import user_from_profile_path

TABLE = "PowerShellHistory"
_DFIR_USER_DIR = re.compile(r"(?:^|/)powershellhistory/([^/]+)/[^/]+_history\.txt$", re.I)
_PSREADLINE_NAME = re.compile(r"(?:^|/)(?:consolehost_history\.txt|[^/]*psreadline/[^/]+_history\.txt)$", re.I)
_GET_HISTORY_NAME = re.compile(r"(?:^|/)(?:powershellhistory|powershellhistorycurrentuser)\.txt$", re.I)
_TRUNCATION = ("...", "\u2026")   # Format-Table cut marker: 5.1 writes three dots, PowerShell 7 an ellipsis


def history_user(path: str) -> str | None:
    """The owner of a history file, from ``<user>.Name`` or from a ``Users/<user>/`` profile path."""
    m = _DFIR_USER_DIR.search(path)
    if m:
        folder = m.group(1)
        return folder[: -len(".Name")] if folder.lower().endswith(".name") else folder
    return user_from_profile_path(path)


class PSReadLineHistory(Artifact):
    """``*_history.txt`` written by PSReadLine: one command per line, backtick-continued."""

    name = "psreadline_history"
    tables = (TABLE,)

    @classmethod
    def claim(cls, member: Member) -> int:
        lower = member.lower
        if not (_PSREADLINE_NAME.search(lower) or _DFIR_USER_DIR.search(lower)):
            return 0
        # Text, not a binary file that happens to carry the name.
        return 0 if b"\x00" in member.head[:4096] and sniff(member.head).startswith("utf-8") else 80

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes: no history")
            return
        user = history_user(member.path)
        if user is None:
            ctx.note("no user in the path (neither <user>.Name nor Users/<user>/); UserName left null")
        host = member.name[: -len("_history.txt")] if member.lower.endswith("_history.txt") else None
        rows, blank, replaced = [], 0, 0
        with member.open() as stream:
            for first, count, command in self._commands(stream, sniff(member.head), ctx):
                replaced += command.count("\ufffd")
                if not command.strip():
                    blank += 1
                    continue
                rows.append(dict(SourceRecord=first, LineNumber=first, LineCount=count, UserName=user,
                                 Command=command, Source="PSReadLine", PSHost=host))
        ctx.read(ctx.emit(TABLE, rows))
        if blank:
            ctx.note(f"{blank} blank line(s) hold no command and were not made rows")
        if replaced:
            ctx.lossy = True
            ctx.warn(None, f"{replaced} byte sequence(s) were not valid UTF-8 and became U+FFFD")

    @staticmethod
    def _commands(stream, encoding: str, ctx: FileContext) -> Iterator[tuple[int, int, str]]:
        """``(first line, line count, command)``, rebuilt the way PSReadLine reads its own file."""
        parts: list[str] = []
        first = 0
        for number, line, truncated in iter_lines(stream, encoding):
            if truncated:
                ctx.lossy = True
                ctx.warn(number, "line longer than the line limit; the command was cut", line[:200])
            if not parts:
                first = number
            if line.endswith("`"):
                parts.append(line[:-1])
                continue
            parts.append(line)
            yield first, len(parts), "\n".join(parts)
            parts = []
        if parts:
            ctx.warn(first, "history ends inside a multi-line command (last line ends with a backtick)")
            yield first, len(parts), "\n".join(parts)


class GetHistoryText(Artifact):
    """The ``Get-History`` table (``Id CommandLine``) that older and newer families write as text."""

    name = "get_history_text"
    tables = (TABLE,)

    @classmethod
    def claim(cls, member: Member) -> int:
        return 80 if _GET_HISTORY_NAME.search(member.lower) else 0

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes: Get-History of the collecting session was empty (the normal case)")
            return
        rows = []
        columns: list[tuple[str, int, int | None]] | None = None
        header: str | None = None
        with member.open() as stream:
            for number, line, _ in iter_lines(stream, sniff(member.head)):
                if columns is None:
                    if header is not None and re.fullmatch(r"\s*-+(?:\s+-+)*\s*", line):
                        columns = _extents(header, line)
                    header = line if "commandline" in line.lower() else None
                    continue
                if not line.strip():
                    continue
                ctx.read()
                row = self._row(line, columns)
                if row is None:
                    ctx.reject(number, "not a Get-History row (no numeric Id)", line)
                    continue
                if row["Truncated"]:
                    ctx.warn(number, "CommandLine cut by Format-Table ('...'): the command is incomplete", line)
                rows.append(dict(SourceRecord=number, Source="GetHistory", **row))
        if columns is None:
            ctx.read()
            ctx.reject(None, "no 'Id CommandLine' table header found; the file is not a Get-History rendering",
                       "")
        ctx.emit(TABLE, rows)

    @staticmethod
    def _row(line: str, columns: list[tuple[str, int, int | None]]) -> dict | None:
        cells = {name: line[start:end].strip() for name, start, end in columns}
        ident = cells.pop("Id", "")
        command = cells.pop("CommandLine", "")
        if not ident.isdigit():
            return None
        truncated = command.endswith(_TRUNCATION)
        return dict(LineNumber=int(ident), Command=command, Truncated=truncated, **{k: v for k, v in cells.items()
                                                                                      if v})


def _extents(header: str, dashes: str) -> list[tuple[str, int, int | None]]:
    """Column (name, start, end) from the dash line; the last column runs to the end of the line.

    Right-aligned numeric columns (Id) start before their dashes, so each column begins where the
    previous one ended.
    """
    runs = [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]
    out = []
    start = 0
    for i, (_, end) in enumerate(runs):
        last = i == len(runs) - 1
        name = header[start:None if last else end].strip()
        out.append((name, start, None if last else end))
        start = end
    return out
