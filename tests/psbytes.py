"""Exact bytes as Windows PowerShell 5.1 writes them, for tests.

C8: ConvertTo-Csv -NoTypeInformation | Out-File -Encoding UTF8 (UTF-8 BOM, every value quoted,
$null as an empty unquoted field, CRLF). CA: Export-Csv default (ASCII, '?' for anything else).
U16: Out-File default (UTF-16LE with BOM, CRLF).
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path


def _csv_text(header: list[str], rows: list[list[str | None]]) -> str:
    def field(v):
        return "" if v is None else '"' + str(v).replace('"', '""') + '"'
    lines = [",".join(field(h) for h in header)]
    lines += [",".join(field(v) for v in row) for row in rows]
    return "".join(line + "\r\n" for line in lines)


def c8(header, rows) -> bytes:
    return b"\xef\xbb\xbf" + _csv_text(header, rows).encode("utf-8")


def ca(header, rows) -> bytes:
    return _csv_text(header, rows).encode("ascii", errors="replace")


def u16(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-16-le")


def write_collection(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def zip_collection(zip_path: Path, folder_name: str, files: dict[str, bytes], backslash: bool = True) -> Path:
    """A zip like Compress-Archive of PowerShell 5.1 makes it: backslash member names under the folder."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in sorted(files.items()):
            name = f"{folder_name}/{rel}"
            info = zipfile.ZipInfo(name.replace("/", "\\") if backslash else name, date_time=(2025, 10, 2, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return zip_path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


CSV_DIR = "CSV Results (SIEM Import Data)"
