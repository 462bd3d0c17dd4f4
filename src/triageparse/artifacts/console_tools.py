"""Output of four console tools: driverquery, query user, qwinsta and openfiles.

DFIR-Script keeps each twice (../shared/reference/dfir-script-formats.md §7, §8.3):

* the ``.txt`` (``Out-File``, UTF-16LE) keeps the fixed-width columns; it is cut into columns with
  :class:`~triageparse.formats.consoletable.Layout` (from the ``====`` line, or from the header
  words), counting East-Asian wide characters as two console cells;
* the pseudo-CSV (``-replace '\\s\\s+', ','``, UTF-8) lost the alignment: a value that fills its
  column merges with the next one, an empty SESSIONNAME or USERNAME shifts the fields, ``>``
  is glued to the first field, ``INFO:`` prose sits among the rows, headers are localised.
  It is read only when the collection has no usable ``.txt`` of the same tool, with per-tool
  heuristics (the ``====`` line still gives driverquery's and openfiles' widths).

Tools are recognised by content (header words in several languages, the ``====`` line, ``INFO:``
prose), the file name only breaks ties. Every row keeps the line it came from in ``RawLine``; a
line inside a table that fits no shape of its tool is rejected with that line as evidence.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable, Iterator

from ..collection import Member
from ..formats.consoletable import Layout, cell_offsets, is_rule
from ..formats.encoding import is_empty_text, iter_lines, read_text, sniff
from .base import Artifact, FileContext

Row = dict[str, object]
_DIGITS = re.compile(r"^\d+$")
_P8_RUN = re.compile(r"\s\s+")

# Header words of the first column, per UI language (query user / qwinsta swap the first two).
USER_WORDS = {"USERNAME", "BENUTZERNAME", "ПОЛЬЗОВАТЕЛЬ", "ИМЯ_ПОЛЬЗОВАТЕЛЯ", "ユーザー名", "UTILISATEUR",
              "NOM D'UTILISATEUR", "NOMBRE DE USUARIO", "NOME UTENTE", "GEBRUIKERSNAAM", "NAZWA UŻYTKOWNIKA"}
SESSION_WORDS = {"SESSIONNAME", "SITZUNGSNAME", "ИМЯ_СЕАНСА", "セッション名", "NOM_SESSION", "NOMBRE_SESIÓN",
                 "NOME_SESSIONE", "SESSIENAAM", "NAZWA_SESJI"}
DRIVER_WORDS = {"MODULE NAME", "MODULNAME", "ИМЯ МОДУЛЯ", "モジュール名", "NOM DU MODULE", "NOMBRE DE MÓDULO"}
OPENFILES_WORDS = {"ACCESSED BY", "ZUGRIFF DURCH", "OPEN FILE (PATH\\EXECUTABLE)"}


@dataclass(frozen=True)
class Tool:
    key: str
    table: str
    path_hint: str           # regex on the lower-case path; breaks ties only
    columns: int             # columns of the table


DRIVERQUERY = Tool("driverquery", "Driver", r"(installeddrivers\.txt|drivers\.csv)$", 4)
QUERY_USER = Tool("query user", "UserSession", r"activeusers\.(txt|csv)$", 6)
QWINSTA = Tool("qwinsta", "RdpSession", r"rdpsessions\.(txt|csv)$", 6)
OPENFILES = Tool("openfiles", "OpenFile", r"remotelyopenedfiles\.(txt|csv)$", 4)
TOOLS = (DRIVERQUERY, QUERY_USER, QWINSTA, OPENFILES)


@dataclass(frozen=True)
class Sniffed:
    tool: Tool
    pseudo_csv: bool         # the -replace form (commas) rather than the aligned .txt
    by_content: bool         # header words or prose recognised, not only the file name


def _head_lines(member: Member, limit: int = 40) -> list[str]:
    return read_text(member.head).splitlines()[:limit]


def _words(line: str) -> list[str]:
    """Header cells of an aligned or a pseudo-CSV line, upper-cased, marker stripped."""
    text = line.replace(",", "  ").lstrip(" >")
    return [w.upper() for w in _P8_RUN.split(text.strip()) if w]


def _is_length_csv(first_line: str) -> bool:
    """F3a's ConvertTo-Csv of strings: a "Length" column (plus the DataSource column of that family)."""
    return first_line.strip() in ('"Length"', '"Length","DataSource"')


def sniff_tool(member: Member) -> Sniffed | None:
    """Which console tool wrote ``member`` (None when it is none of them)."""
    lower = member.lower
    if not lower.endswith((".txt", ".csv")) or is_empty_text(member.head):
        return None
    lines = _head_lines(member)
    pseudo = lower.endswith(".csv")
    hinted = [t for t in TOOLS if re.search(t.path_hint, lower)]
    text = [x for x in lines if x.strip()]
    if not text:
        return None
    if _is_length_csv(text[0]):
        # F3a: ConvertTo-Csv of the tool's output strings; only the name tells which tool it was.
        return Sniffed(hinted[0], True, False) if hinted else None
    header = _words(text[0])
    tokens = text[0].replace(",", " ").lstrip(" >").upper().split()
    firsts = {header[0] if header else "", tokens[0] if tokens else ""}   # some UIs separate headers by one space
    for i, line in enumerate(lines):
        if is_rule(line) and "=" in line and i and lines[i - 1].strip():
            words = set(_words(lines[i - 1]))
            if words & DRIVER_WORDS:
                return Sniffed(DRIVERQUERY, pseudo, True)
            if words & OPENFILES_WORDS or any(x.startswith("INFO:") for x in text):
                return Sniffed(OPENFILES, pseudo, True)
            if hinted and hinted[0] in (DRIVERQUERY, OPENFILES):
                return Sniffed(hinted[0], pseudo, False)
            return None
    if any(x.lstrip(",").startswith("INFO:") for x in text[:3]) and \
            (OPENFILES in hinted or any("openfiles" in x.lower() for x in text)):
        return Sniffed(OPENFILES, pseudo, True)
    if firsts & USER_WORDS:
        return Sniffed(QUERY_USER, pseudo, True)
    if firsts & SESSION_WORDS:
        return Sniffed(QWINSTA, pseudo, True)
    if hinted and hinted[0] in (QUERY_USER, QWINSTA) and hinted[0].columns in (len(header), len(tokens)) \
            and not any(_DIGITS.match(w) for w in tokens):
        return Sniffed(hinted[0], pseudo, False)       # a localisation we have no words for
    if hinted and hinted[0] is OPENFILES:
        return Sniffed(OPENFILES, pseudo, False)       # prose only, in a language we have no words for
    return None


# ---- idle time and row builders ---------------------------------------------------------------

_IDLE = re.compile(r"^(?:(?P<d>\d+)\+)?(?:(?P<h>\d+):)?(?P<m>\d+)$")


def idle_minutes(text: str) -> int | None:
    """query user's IDLE TIME: ``.`` (under a minute) and ``none`` are 0; ``m``, ``h:mm``, ``d+h:mm``."""
    t = text.strip()
    if t in (".", "none"):
        return 0
    m = _IDLE.match(t)
    if not m:
        return None
    return (int(m["d"] or 0) * 24 + int(m["h"] or 0)) * 60 + int(m["m"])


def _user_session(cells: list[str], current: bool) -> Row | None:
    user, session, sid, state, idle, logon = cells
    if not user or not _DIGITS.match(sid) or not state:
        return None
    return {"UserName": user, "SessionName": session, "SessionId": sid, "State": state, "IdleTime": idle,
            "IdleMinutes": idle_minutes(idle), "LogonTime": logon, "IsCurrent": current}


def _rdp_session(cells: list[str], current: bool) -> Row | None:
    session, user, sid, state, kind, device = cells
    if not _DIGITS.match(sid) or not state or not (session or user):
        return None
    return {"SessionName": session, "UserName": user, "SessionId": sid, "State": state, "SessionType": kind,
            "Device": device, "IsCurrent": current}


def _driver(cells: list[str], width: int | None) -> Row | None:
    module, display, kind, link = cells
    if not module or not display:
        return None
    row: Row = {"ModuleName": module, "DisplayName": display, "DriverType": kind, "LinkDate": link}
    if width and len(display) >= width:
        row["DisplayNameMayBeCut"] = True     # driverquery cuts display names to its column
    return row


def _open_file(cells: list[str]) -> Row | None:
    file_id, user, kind, path = cells
    if not file_id or not path:
        return None
    return {"FileId": file_id, "AccessedBy": user, "ClientType": kind, "Path": path}


# ---- pseudo-CSV heuristics --------------------------------------------------------------------

def unmerge(fields: list[str], widths: list[int]) -> list[str]:
    """Split fields that swallowed the next column: a value that fills its column exactly is
    followed by one space, which the ``\\s\\s+`` replace kept (``CompositeBus Composite Bus…``)."""
    out: list[str] = []
    queue = list(fields)
    while queue and len(out) < len(widths):
        f = queue.pop(0)
        width = widths[len(out)]
        cells = cell_offsets(f)
        cut = next((i for i, c in enumerate(cells[:-1]) if c == width), None)
        if len(out) < len(widths) - 1 and cut is not None and f[cut] == " ":
            out.append(f[:cut])
            queue.insert(0, f[cut + 1:])
        else:
            out.append(f)
    return out + queue


def _p8_user_session(line: str) -> Row | None:
    current = line.startswith(">")
    fields = line[1:].split(",") if line[:1] in (" ", ">") else line.split(",")
    if len(fields) == 5 and _DIGITS.match(fields[1]):
        fields.insert(1, "")             # disconnected: no SESSIONNAME, the rest shifted left
    if len(fields) != 6:
        return None
    return _user_session([f.strip() for f in fields], current)


def _p8_rdp_session(line: str) -> Row | None:
    current = line.startswith(">")
    fields = line[1:].split(",") if line[:1] in (" ", ">") else line.split(",")
    while fields and not fields[-1].strip():
        fields.pop()                     # trailing padding became a trailing comma
    fields = [f.strip() for f in fields]
    if 3 <= len(fields) <= 5 and _DIGITS.match(fields[1]):
        fields.insert(1, "")             # no USERNAME (services, listener): ID moved under USERNAME
    if not 4 <= len(fields) <= 6 or not _DIGITS.match(fields[2]):
        return None
    return _rdp_session((fields + [""] * 2)[:6], current)


def _p8_open_file(line: str, widths: list[int]) -> tuple[Row | None, bool]:
    """(row, doubtful): a path holding a comma or a run of spaces was split and is re-joined."""
    fields = unmerge(line.rstrip(",").split(","), widths)
    head = fields[0].split(" ", 1)
    if len(head) == 2 and _DIGITS.match(head[0]):
        fields = [head[0], head[1], *fields[1:]]     # an id wider than its column swallowed the user
    if len(fields) < 4:
        return None, False
    doubtful = len(fields) > 4
    return _open_file([fields[0].strip(), fields[1].strip(), fields[2].strip(), ",".join(fields[3:]).strip()]), \
        doubtful


def _with_next(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str, str]]:
    """``(number, line, next line)``: a table header is known by the rule line under it."""
    previous: tuple[int, str] | None = None
    for item in lines:
        if previous is not None:
            yield previous[0], previous[1], item[1]
        previous = item
    if previous is not None:
        yield previous[0], previous[1], ""


# ---- the artifact -----------------------------------------------------------------------------

class ConsoleTool(Artifact):
    """driverquery / query user / qwinsta / openfiles, aligned text or pseudo-CSV."""
    name = "console_tool"
    tables = ("Driver", "UserSession", "RdpSession", "OpenFile")

    @classmethod
    def claim(cls, member: Member) -> int:
        if is_empty_text(member.head):    # e.g. nobody logged on: quser writes only to stderr
            return 40 if any(re.search(t.path_hint, member.lower) for t in TOOLS) else 0
        found = sniff_tool(member)
        if found is None:
            return 0
        score = 60 if found.by_content else 45
        return score + (10 if re.search(found.tool.path_hint, member.lower) else 0)

    def date_samples(self, member: Member, ctx: FileContext) -> Iterable[str]:
        found = sniff_tool(member)
        if found is None or found.tool not in (DRIVERQUERY, QUERY_USER):
            return
        column = "LinkDate" if found.tool is DRIVERQUERY else "LogonTime"
        for _, row in self._rows(member, found, ctx, quiet=True):
            if row.get(column):
                yield str(row[column])

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes or BOM only: collected, no rows")
            return
        found = sniff_tool(member)
        if found is None:
            ctx.note("no longer recognised as console-tool output")
            return
        if found.pseudo_csv:
            preferred = self._aligned_counterpart(found.tool, ctx)
            if preferred is not None:
                ctx.note(f"{found.tool.key} rows taken from {preferred.path} (aligned text); "
                         "this pseudo-CSV is not read again")
                ctx.superseded_by = preferred.path
                return
        rows = []
        for number, row in self._rows(member, found, ctx, quiet=False):
            row["SourceRecord"] = number
            rows.append(row)
        ctx.read(ctx.emit(found.tool.table, rows))
        if not rows:
            ctx.note(f"{found.tool.key}: no rows")

    @staticmethod
    def _aligned_counterpart(tool: Tool, ctx: FileContext) -> Member | None:
        """The collection's non-empty aligned text of the same tool, which wins over the pseudo-CSV."""
        for m in sorted(ctx.run.collection.members, key=lambda x: x.path):
            if m.lower.endswith(".txt") and not m.refused:
                found = sniff_tool(m)
                if found is not None and found.tool is tool and not found.pseudo_csv:
                    return m
        return None

    def _rows(self, member: Member, found: Sniffed, ctx: FileContext, quiet: bool) -> Iterator[tuple[int, Row]]:
        if _is_length_csv(read_text(member.head).partition("\n")[0]):
            if not quiet:
                ctx.lossy = True
                ctx.note("ConvertTo-Csv of strings (F3a): only the line lengths survive, no "
                         f"{found.tool.key} data; look for the .txt of the same tool")
            return

        def reject(number: int, why: str, raw: str) -> None:
            if not quiet:
                ctx.read(1)
                ctx.reject(number, why, raw)
        with member.open() as f:
            lines = ((n, line) for n, line, _ in iter_lines(f, sniff(member.head)))
            if found.tool in (DRIVERQUERY, OPENFILES):
                yield from self._ruled(_with_next(lines), found, reject, ctx, quiet)
            else:
                yield from self._headed(lines, found, reject)

    def _ruled(self, lines, found: Sniffed, reject, ctx: FileContext, quiet: bool) -> Iterator[tuple[int, Row]]:
        """driverquery and openfiles: a header over a ``====`` line, then rows; anything else is prose."""
        layout: Layout | None = None
        widths: list[int] = []
        prose = 0
        for number, line, nxt in lines:
            if not line.strip():
                layout = None
                continue
            if layout is None:
                if is_rule(nxt) and "=" in nxt:
                    header = line.replace(",", "  ") if found.pseudo_csv else line
                    layout = Layout.from_rule(header, nxt)
                    widths = [s.end - s.start for s in layout.spans]
                elif not is_rule(line):
                    prose += 1           # INFO: blocks, "Files opened remotely…", dashes
                continue
            if is_rule(line):
                continue
            if len(widths) != found.tool.columns:
                reject(number, f"table has {len(widths)} columns, {found.tool.key} has {found.tool.columns}", line)
                continue
            if found.pseudo_csv:
                if found.tool is DRIVERQUERY:
                    fields = unmerge(line.rstrip(",").split(","), widths)
                    row = _driver((fields + [""] * 4)[:4], widths[1]) if len(fields) <= 4 else None
                else:
                    row, doubtful = _p8_open_file(line, widths)
                    if doubtful and row and not quiet:
                        ctx.warn(number, "path split at a comma or a run of spaces; re-joined with ','", line)
            else:
                cells = layout.cells(line)
                row = _driver(cells, widths[1]) if found.tool is DRIVERQUERY else _open_file(cells)
            if row is None:
                reject(number, f"line does not fit the {found.tool.key} columns", line)
                continue
            row["RawLine"] = line
            yield number, row
        if prose and not quiet:
            ctx.note(f"{prose} line(s) of tool prose (INFO:, titles) outside the table")

    def _headed(self, lines, found: Sniffed, reject) -> Iterator[tuple[int, Row]]:
        """query user and qwinsta: columns from the header words; the first cell is the '>' marker."""
        body = ((n, x) for n, x in lines if x.strip())
        header = next(body, None)
        if header is None:
            return
        aligned = None if found.pseudo_csv else Layout.from_header(" " + header[1][1:], found.tool.columns)
        build: Callable[[list[str], bool], Row | None] = _user_session if found.tool is QUERY_USER else _rdp_session
        heuristic = _p8_user_session if found.tool is QUERY_USER else _p8_rdp_session
        for number, line in body:
            row = None
            if aligned is not None:
                row = build(aligned.cells(" " + line[1:]), line.startswith(">"))
            if row is None:               # pseudo-CSV, or an aligned line the header does not explain
                row = heuristic(line if found.pseudo_csv else _P8_RUN.sub(",", line))
            if row is None:
                reject(number, f"line does not fit the {found.tool.key} columns", line)
                continue
            row["RawLine"] = line
            yield number, row
