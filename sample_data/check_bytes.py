#!/usr/bin/env python3
"""Byte-level self-check of a DFIR-Script collection (folder or zip), stdlib only.

Verifies, per file, the encoding rules of §3 of dfir-script-formats.md:

* U16  `.txt` (except PSReadLine history) and `MPLogs\\*.log`: BOM FF FE, UTF-16LE, CRLF only,
  ends with CRLF, no second BOM (Win32RegRunKey.txt is two Out-File calls).
* C8   CSVs in the CSV folder (F3b..F6): BOM EF BB BF, UTF-8, CSV records end with CRLF,
  every non-empty field quoted; P8 files (Drivers, ActiveUsers, RDPSessions,
  RemotelyOpenedFiles, DefenderExclusions): BOM, UTF-8, CRLF.
* CA   `ProcessInformation\\*.csv`, `ConnectedDevices\\ConnectedDevices.csv`, `Processes.csv`
  and every CSV of an F3a `SIEMImport\\` folder: no BOM, pure ASCII, CRLF.
* PSReadLine `ConsoleHost_history.txt`: UTF-8 without BOM; CRLF ends every item; a bare LF
  only directly after a backtick.
* SQLite and EVTX magic numbers.
* 0-byte files are accepted where DFIR-Script produces them.

Usage: python sample_data/check_bytes.py <folder-or-zip> [...]
"""
from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

P8_NAMES = {"drivers.csv", "activeusers.csv", "rdpsessions.csv", "remotelyopenedfiles.csv", "defenderexclusions.csv"}
EMPTY_OK = {"powershellhistory.txt", "powershellhistorycurrentuser.txt", "connectionsmadebyoffice.txt",
            "powershellhistory.csv", "officeconnections.csv", "networkshares.txt", "networkshares.csv",
            "exclusionextension.txt", "exclusionipaddress.txt", "exclusionprocess.txt", "exclusionpath.txt",
            "lock"}


def classify(rel: str) -> str:
    """Expected format code of a path relative to the collection root ('\\' or '/')."""
    parts = rel.replace("\\", "/").split("/")
    name = parts[-1].lower()
    top = parts[0].lower() if len(parts) > 1 else ""
    if name == "consolehost_history.txt":
        return "PSRL"
    if top == "browsers":
        return "SQLITE" if name in ("history", "places.sqlite", "permissions.sqlite", "content-prefs.sqlite") else "RAW"
    if top == "event viewer":
        return "EVTX"
    if top == "mplogs":
        return "U16" if name.endswith(".log") else "RAW"
    if top == "siemimport" and name.endswith(".csv"):
        return "CA"
    if top in ("processinformation", "connecteddevices") and name.endswith(".csv") or name == "processes.csv":
        return "CA"
    if top.startswith("csv results") and name.endswith(".csv"):
        return "P8" if name in P8_NAMES else "C8"
    if name.endswith(".txt"):
        return "U16"
    return "RAW"


def _crlf_problems(text: str) -> list[str]:
    out = []
    bare_lf = text.replace("\r\n", "").count("\n")
    bare_cr = text.replace("\r\n", "").count("\r")
    if bare_lf or bare_cr:
        out.append(f"{bare_lf} bare LF / {bare_cr} bare CR outside CRLF")
    if not text.endswith("\r\n"):
        out.append("does not end with CRLF")
    return out


def check_bytes(rel: str, data: bytes) -> list[str]:
    code = classify(rel)
    name = rel.replace("\\", "/").split("/")[-1].lower()
    problems: list[str] = []
    if not data:
        if code in ("U16", "C8", "P8", "CA") and name not in EMPTY_OK and not name.startswith("shadow"):
            problems.append("unexpected 0-byte file")
        return problems
    if code == "U16":
        if data[:2] != b"\xff\xfe":
            return ["missing UTF-16LE BOM"]
        if len(data) % 2:
            return ["odd length for UTF-16"]
        text = data[2:].decode("utf-16-le")
        if "\ufeff" in text:
            problems.append("second BOM inside the file")
        problems += _crlf_problems(text)
    elif code in ("C8", "P8"):
        if data[:3] != b"\xef\xbb\xbf":
            return ["missing UTF-8 BOM"]
        text = data[3:].decode("utf-8")
        if code == "P8":
            problems += _crlf_problems(text)
        else:
            problems += _csv_problems(text, multiline_ok=True)
    elif code == "CA":
        if data[:3] == b"\xef\xbb\xbf":
            return ["unexpected BOM in an ASCII export"]
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return ["non-ASCII byte in an ASCII export"]
        problems += _csv_problems(text, multiline_ok=True)
    elif code == "PSRL":
        if data[:3] == b"\xef\xbb\xbf":
            problems.append("PSReadLine history must not have a BOM")
        text = data.decode("utf-8")
        if not text.endswith("\r\n"):
            problems.append("history does not end with CRLF")
        for i, ch in enumerate(text):
            if ch == "\n" and (i == 0 or text[i - 1] not in "\r`"):
                problems.append("LF neither after CR nor after a backtick")
                break
    elif code == "SQLITE":
        if data[:16] != b"SQLite format 3\x00":
            problems.append("not a SQLite database")
    elif code == "EVTX":
        if data[:8] != b"ElfFile\x00":
            problems.append("not an EVTX file")
    return problems


def _csv_problems(text: str, multiline_ok: bool) -> list[str]:
    out = []
    if not text.endswith("\r\n"):
        out.append("does not end with CRLF")
    # every record must end with CRLF: a quote-aware scan over the whole stream
    in_q, i, n = False, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            in_q = not in_q
        elif not in_q and c == "\n" and (i == 0 or text[i - 1] != "\r"):
            out.append("record ends with a bare LF")
            break
        i += 1
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return out + ["no header"]
    width = len(rows[0])
    ragged = sum(1 for r in rows if len(r) != width)
    if ragged:
        out.append(f"{ragged} rows with a field count other than {width}")
    # every non-null field is quoted: an unquoted field must be empty
    for rec in _raw_fields(text):
        for f in rec:
            if f and not (f.startswith('"') and f.endswith('"')):
                out.append(f"unquoted non-empty field {f[:30]!r}")
                return out
    return out


def _raw_fields(text: str):
    rec, field, in_q, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if in_q:
            field.append(c)
            if c == '"':
                if i + 1 < len(text) and text[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    in_q = False
        elif c == '"':
            in_q = True
            field.append(c)
        elif c == ",":
            rec.append("".join(field))
            field = []
        elif c == "\r" and text[i + 1:i + 2] == "\n":
            rec.append("".join(field))
            yield rec
            rec, field = [], []
            i += 1
        else:
            field.append(c)
        i += 1


def check_folder(folder: str | Path) -> list[str]:
    folder = Path(folder)
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = str(path.relative_to(folder))
        problems += [f"{rel}: {p}" for p in check_bytes(rel, path.read_bytes())]
    return problems


def check_zip(zip_path: str | Path) -> list[str]:
    problems = []
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        if any(n.endswith(".zip") for n in names) and len(names) == 1:   # nested Live Response zip
            inner = zf.read(names[0])
            with zipfile.ZipFile(io.BytesIO(inner)) as z2:
                return _check_zipfile(z2)
        return _check_zipfile(zf)


def _check_zipfile(zf: zipfile.ZipFile) -> list[str]:
    problems = []
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        if name.endswith("/"):
            continue
        parts = name.split("/")
        if ".." in parts or name.startswith("/"):
            problems.append(f"{info.filename}: unsafe entry name")
            continue
        rel = "/".join(parts[1:])
        problems += [f"{info.filename}: {p}" for p in check_bytes(rel, zf.read(info))]
    return problems


def main(argv: list[str]) -> int:
    bad = 0
    for arg in argv or ["."]:
        p = Path(arg)
        problems = check_zip(p) if p.suffix.lower() == ".zip" else check_folder(p)
        for msg in problems:
            print("FAIL", msg)
        print(f"{arg}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
