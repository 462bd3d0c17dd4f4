"""Byte-level facts about PowerShell output: BOM sniffing and tolerant decoding.

Windows PowerShell 5.1 writes UTF-16LE with BOM (Out-File), UTF-8 with BOM (-Encoding UTF8),
ASCII with '?' for lost characters (Export-Csv) and, for copied files, whatever the source was.
We sniff the BOM, never assume UTF-8, and decode UTF-16 as a whole stream before splitting lines.
"""
from __future__ import annotations

import codecs
import io
import re
from typing import BinaryIO, Iterator

UTF8_BOM = codecs.BOM_UTF8
UTF16LE_BOM = codecs.BOM_UTF16_LE
UTF16BE_BOM = codecs.BOM_UTF16_BE


def sniff(head: bytes) -> str:
    """Python codec name for a file that starts with ``head``."""
    if head.startswith(UTF8_BOM):
        return "utf-8-sig"
    if head.startswith(UTF16LE_BOM):
        return "utf-16-le-bom"
    if head.startswith(UTF16BE_BOM):
        return "utf-16-be-bom"
    # UTF-16 without BOM: many NULs at odd positions in ASCII-heavy text.
    sample = head[:4096]
    if len(sample) >= 8 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) < len(sample) // 16:
        return "utf-16-le"
    return "utf-8"


def is_empty_text(head: bytes) -> bool:
    """0 bytes, or nothing but a BOM: 'collected, no rows' (Out-File of empty output)."""
    return head in (b"", UTF8_BOM, UTF16LE_BOM, UTF16BE_BOM)


def _codec(encoding: str) -> tuple[str, int]:
    return {"utf-8-sig": ("utf-8", 3), "utf-16-le-bom": ("utf-16-le", 2), "utf-16-be-bom": ("utf-16-be", 2)}.get(
        encoding, (encoding, 0))


def iter_text(stream: BinaryIO, encoding: str, chunk_size: int = 1 << 20) -> Iterator[str]:
    """Decode ``stream`` incrementally; undecodable bytes become U+FFFD (counted by the caller)."""
    codec, skip = _codec(encoding)
    if skip:
        stream.read(skip)
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
            return
        text = decoder.decode(chunk)
        if text:
            yield text


_EOL = re.compile(r"\r\n|\r|\n")


def iter_lines(stream: BinaryIO, encoding: str, max_line: int = 1 << 20) -> Iterator[tuple[int, str, bool]]:
    """Yield ``(line_number, line, truncated)``; CRLF, LF and lone CR end a line.

    Lines longer than ``max_line`` characters are cut (``truncated`` is True) so that a
    hostile 100 MB line costs bounded memory.
    """
    carry = ""
    truncated = False
    number = 1
    held_cr = ""
    for text in iter_text(stream, encoding):
        text = held_cr + text
        held_cr = ""
        if text.endswith("\r"):  # a CRLF may straddle two chunks
            text, held_cr = text[:-1], "\r"
        parts = _EOL.split(text)
        for part in parts[:-1]:
            line = carry + part
            yield number, line[:max_line], truncated or len(line) > max_line
            number += 1
            carry, truncated = "", False
        carry += parts[-1]
        if len(carry) > max_line:
            carry, truncated = carry[:max_line], True
    if held_cr:
        yield number, carry, truncated
    elif carry:
        yield number, carry, truncated


def read_text(data: bytes) -> str:
    """Decode a whole (small) file by its BOM."""
    return "".join(iter_text(io.BytesIO(data), sniff(data[:4096])))
