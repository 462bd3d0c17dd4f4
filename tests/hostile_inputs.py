"""Builders of hostile and broken inputs for the robustness tests (never committed as binaries).

Everything here makes bytes the way the real producer would (Windows PowerShell 5.1 CSV, zip
archives) and then damages or weaponises them in one precise way, so that a test names exactly
what it breaks.
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds

from triageparse.collection import Limits
from triageparse.convert import Summary, convert

# Get-DnsClientCache | ConvertTo-Csv -NoTypeInformation | Out-File -Encoding UTF8 (Windows PowerShell 5.1):
# UTF-8 with BOM, CRLF, every non-null value quoted, $null as an empty unquoted field, Kansa's column order.
DNS_HEADER = ('"TimeToLive","Caption","Description","ElementName","InstanceId","Data","DataLength","Entry","Name",'
              '"Section","Status","Type","PSComputerName","CimClass","CimInstanceProperties","CimSystemProperties"')
DNS_ROWS = [
    '"86400",,,,,"10.0.0.5","4","fileserver.corp.local","fileserver.corp.local","1","0","1",,'
    '"ROOT/StandardCimv2:MSFT_DNSClientCache","Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",'
    '"Microsoft.Management.Infrastructure.CimSystemProperties"',
    '"3412",,,,,"login.microsoftonline.com","8","login.live.com","login.live.com","1","0","5",,'
    '"ROOT/StandardCimv2:MSFT_DNSClientCache","Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",'
    '"Microsoft.Management.Infrastructure.CimSystemProperties"',
    '"0",,,,,"","0","evil-c2.example","evil-c2.example","1","9003","1",,'
    '"ROOT/StandardCimv2:MSFT_DNSClientCache","Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",'
    '"Microsoft.Management.Infrastructure.CimSystemProperties"',
]
DNS_ENTRIES = ["fileserver.corp.local", "login.live.com", "evil-c2.example"]


def dns_csv(rows: list[str] = DNS_ROWS) -> bytes:
    return b"\xef\xbb\xbf" + "".join(f"{line}\r\n" for line in [DNS_HEADER, *rows]).encode("utf-8")


DNSCACHE_CSV = dns_csv()
DNS_MEMBER = "DFIR-HOSTILE01-2025-10-02\\CSV Results (SIEM Import Data)\\DNSCache.csv"   # as Compress-Archive writes it


# ---- zip building -------------------------------------------------------------------------------

@dataclass
class Entry:
    name: str
    data: bytes = b""
    compress: int = zipfile.ZIP_DEFLATED
    symlink: bool = False
    utf8_flag: bool = False       # set the "name is UTF-8" flag (bit 11) whatever the name bytes are


def zip_bytes(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for e in entries:
            info = zipfile.ZipInfo(e.name, date_time=(2025, 10, 2, 12, 0, 0))
            info.compress_type = e.compress
            if e.symlink:
                info.create_system = 3
                info.external_attr = (0o120777 << 16)
            zf.writestr(info, e.data)
    return buf.getvalue()


def _headers(data: bytes):
    """Offsets of (local header, central header) per member, in archive order."""
    eocd = data.rindex(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack_from("<HII", data, eocd + 10)
    pos = cd_offset
    out = []
    for _ in range(count):
        nlen, xlen, clen = struct.unpack_from("<HHH", data, pos + 28)
        local = struct.unpack_from("<I", data, pos + 42)[0]
        out.append((local, pos))
        pos += 46 + nlen + xlen + clen
    return out


def patch_member(data: bytes, index: int, *, flags_or: int = 0, method: int | None = None) -> bytes:
    """Set general-purpose flag bits or the compression method of one member, in both headers.

    zipfile cannot write encrypted or Deflate64 members; flipping the header fields makes exactly the
    archive a reader sees from such a producer.
    """
    buf = bytearray(data)
    local, central = _headers(data)[index]
    for off, flag_at, method_at in ((local, 6, 8), (central, 8, 10)):
        flags = struct.unpack_from("<H", buf, off + flag_at)[0]
        struct.pack_into("<H", buf, off + flag_at, flags | flags_or)
        if method is not None:
            struct.pack_into("<H", buf, off + method_at, method)
    return bytes(buf)


def rename_member_raw(data: bytes, index: int, raw_name: bytes, *, utf8_flag: bool) -> bytes:
    """Replace a member's name bytes (same length) in both headers, e.g. with invalid UTF-8."""
    buf = bytearray(data)
    local, central = _headers(data)[index]
    for off, flag_at, name_at, len_at in ((local, 6, 30, 26), (central, 8, 46, 28)):
        nlen = struct.unpack_from("<H", buf, off + len_at)[0]
        assert nlen == len(raw_name), "raw name must keep the length"
        buf[off + name_at: off + name_at + nlen] = raw_name
        flags = struct.unpack_from("<H", buf, off + flag_at)[0]
        struct.pack_into("<H", buf, off + flag_at, (flags | 0x800) if utf8_flag else (flags & ~0x800))
    return bytes(buf)


def deflate_bomb_zip(name: str, inflated_mib: int, extra: list[Entry]) -> bytes:
    """A zip whose member ``name`` inflates to ``inflated_mib`` MiB of zeros from about 1 KiB per MiB.

    The Deflate stream is built from one fully flushed block repeated (the compressor state resets at a
    full flush, so every MiB compresses to the same bytes): gigabytes without compressing gigabytes.
    The CRC is left at 0, so the member is also corrupt; a reader that honours its caps never gets far
    enough to notice.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp.compress(bytes(1 << 20))
    comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(1 << 20)) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = block * inflated_mib + comp.flush()
    data = zip_bytes([*extra, Entry(name, stream, compress=zipfile.ZIP_STORED)])
    buf = bytearray(data)
    local, central = _headers(data)[len(extra)]
    struct.pack_into("<H", buf, local + 8, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", buf, local + 22, inflated_mib << 20)
    struct.pack_into("<H", buf, central + 10, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", buf, central + 24, inflated_mib << 20)
    return bytes(buf)


# ---- conversion and inspection -----------------------------------------------------------------

def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (links not followed) with size and mtime of files, leaving out ``skip``
    and what is under it. Folders count by existence only: creating OUT changes its parent's mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d != skip]
        for name in dirnames:
            out[str((here / name).relative_to(root))] = (0, 0)
        for name in filenames:
            st = (here / name).lstat()
            out[str((here / name).relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def read_table(out: Path, table: str) -> list[dict]:
    folder = out / table
    if not folder.is_dir():
        return []
    return ds.dataset(folder, format="parquet").to_table().to_pylist()


@dataclass
class Converted:
    summary: Summary
    files: list[dict]
    issues: list[dict]
    out: Path

    def file(self, suffix: str) -> dict:
        hits = [f for f in self.files if f["SourceFile"].endswith(suffix)]
        assert len(hits) == 1, (suffix, [f["SourceFile"] for f in self.files])
        return hits[0]

    def issues_for(self, suffix: str) -> list[dict]:
        return [i for i in self.issues if (i["SourceFile"] or "").endswith(suffix)]

    def dns_entries(self) -> list[str]:
        return sorted(r["Entry"] for r in read_table(self.out, "DnsCacheEntry"))

    def accounting_errors(self) -> list[dict]:
        return [f for f in self.files if f["RowsRead"] != f["RowsWritten"] + f["RowsRejected"]]


def run_convert(inputs: list[Path], out: Path, limits: Limits | None = None) -> Converted:
    summary = convert(inputs, out, limits=limits)
    return Converted(summary, read_table(out, "CollectedFile"), read_table(out, "ParseIssue"), out)


class RepeatedBytes(io.RawIOBase):
    """A read-only stream of ``(piece, times)`` parts, generated as it is read: a 100 MB line without 100 MB."""

    def __init__(self, parts: list[tuple[bytes, int]]):
        self._parts = [(piece, times) for piece, times in parts if piece and times]
        self._index = 0
        self._offset = 0          # bytes of the current part already delivered

    @property
    def size(self) -> int:
        return sum(len(p) * t for p, t in self._parts)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._index >= len(self._parts):
            return 0
        piece, times = self._parts[self._index]
        total = len(piece) * times
        want = min(len(b), total - self._offset)
        start = self._offset % len(piece)
        reps = (start + want) // len(piece) + 1
        b[:want] = (piece * reps)[start:start + want]
        self._offset += want
        if self._offset == total:
            self._index, self._offset = self._index + 1, 0
        return want



def huge_line_parts(mb: int) -> list[tuple[bytes, int]]:
    """DNSCache.csv whose first record holds a ``mb`` MB Data field, then the three real records."""
    head = DNSCACHE_CSV[: DNSCACHE_CSV.index(b"\r\n") + 2]
    return [(head, 1), (b'"86400",,,,,"', 1), (b"A" * 4096, mb * 256),
            (b'","4","huge.example","huge.example","1","0","1",,"x","y","z"\r\n', 1),
            *[(f"{row}\r\n".encode(), 1) for row in DNS_ROWS]]
