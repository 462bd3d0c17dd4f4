"""Broken text: cut files, stray bytes, wrong encodings, huge lines and headers.

The readers must keep every record that can be read, turn each loss into an issue, and stay within
bounded memory and time. The bytes start from the exact DNSCache.csv of Windows PowerShell 5.1 and are
damaged in one named way per case.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hostile_inputs import DNS_ENTRIES, DNS_HEADER, DNS_MEMBER, DNS_ROWS, DNSCACHE_CSV, Entry, run_convert, zip_bytes
from triageparse.formats.encoding import iter_lines
from triageparse.formats.pscsv import MAX_COLUMNS, CsvReadResult, read_pscsv

UTF16_CSV = b"\xff\xfe" + DNSCACHE_CSV[3:].decode("utf-8").encode("utf-16-le")
HERE = Path(__file__).resolve().parent


def read_all(data: bytes) -> tuple[CsvReadResult, list[dict]]:
    result, batches = read_pscsv(lambda: io.BytesIO(data), data[: 64 << 10])
    rows = [r for b in batches for r in b.table.to_pylist()]
    return result, rows


def entries(rows: list[dict]) -> list[str | None]:
    return [r.get("Entry") for r in rows]


def assert_accounted(result: CsvReadResult, rows: list[dict]) -> None:
    """Every record is either delivered or rejected with an issue."""
    assert result.records == len(rows) + result.rejected
    rejections = [i for i in result.issues if i.reason.startswith(("record has", "unreadable"))]
    assert len(rejections) == result.rejected


def cut_inside(data: bytes, marker: bytes, offset: int) -> bytes:
    return data[: data.index(marker) + offset]


# ---- the cases -------------------------------------------------------------------------------

CUT_MID_RECORD = cut_inside(DNSCACHE_CSV, b'"evil-c2.example","evil-c2.example"', 19)   # after the Entry field
CUT_MID_QUOTE = cut_inside(DNSCACHE_CSV, b"evil-c2.example", 4)
CLOSED_LATE = DNSCACHE_CSV.replace(b'"login.live.com","login.live.com"', b'"login.live.com,"login.live.com"')
# The Data field of the second record opens a quote that nothing closes: the rest of the file is one field.
NEVER_CLOSED = DNSCACHE_CSV.replace(DNS_ROWS[1].encode(), b'"3412",,,,,"login.microsoftonline.com') \
    .replace(DNS_ROWS[2].encode(), DNS_ROWS[2].replace('"', "").encode())


@pytest.mark.parametrize("data, delivered, rejected", [
    pytest.param(DNSCACHE_CSV, DNS_ENTRIES, 0, id="intact"),
    pytest.param(CUT_MID_RECORD, DNS_ENTRIES[:2], 1, id="cut-mid-record"),
    pytest.param(CUT_MID_QUOTE, DNS_ENTRIES[:2], 1, id="cut-mid-quote"),
    pytest.param(CLOSED_LATE, DNS_ENTRIES[::2], 1, id="quote-closed-in-the-next-field"),
    pytest.param(NEVER_CLOSED, DNS_ENTRIES[:1], 1, id="quote-never-closed"),
])
def test_cut_and_unclosed_records_lose_only_themselves(data, delivered, rejected):
    result, rows = read_all(data)
    assert entries(rows) == delivered
    assert result.rejected == rejected
    assert_accounted(result, rows)


def test_a_quote_never_closed_keeps_what_it_swallowed_in_the_issue():
    result, rows = read_all(NEVER_CLOSED)
    assert entries(rows) == DNS_ENTRIES[:1]
    assert [i.raw for i in result.issues if "record has" in i.reason][0].count("evil-c2.example") == 2


def test_utf16_cut_mid_code_unit_keeps_every_record():
    data = UTF16_CSV[:-1]          # an odd number of bytes: the last code unit is half there
    assert len(data) % 2 == 1
    result, rows = read_all(data)
    assert entries(rows) == DNS_ENTRIES
    assert_accounted(result, rows)


def test_nul_bytes_inside_values_are_kept():
    data = DNSCACHE_CSV.replace(b"login.live.com", b"login\x00live.com", 1)
    result, rows = read_all(data)
    assert entries(rows) == ["fileserver.corp.local", "login\x00live.com", "evil-c2.example"]
    assert_accounted(result, rows)


def test_latin1_bytes_in_a_utf8_file_become_replacement_characters_with_a_warning():
    data = DNSCACHE_CSV.replace(b"login.live.com", "lögin.live.com".encode("latin-1"), 1)
    result, rows = read_all(data)
    assert entries(rows) == ["fileserver.corp.local", "l\ufffdgin.live.com", "evil-c2.example"]
    assert any("tolerant reader" in i.reason for i in result.issues)
    assert_accounted(result, rows)


def test_utf16_appended_to_utf8_keeps_the_utf8_records():
    """Two encodings in one file (a UTF-16 Out-File appended to a UTF-8 CSV): the first part is intact,
    the second yields what it yields, and nothing is lost silently."""
    result, rows = read_all(DNSCACHE_CSV + UTF16_CSV)
    assert entries(rows)[:3] == DNS_ENTRIES
    assert result.rejected > 0
    assert_accounted(result, rows)


def test_bom_in_the_middle_keeps_both_halves():
    """A second UTF-8 CSV appended with its BOM: the repeated header becomes one visible record."""
    result, rows = read_all(DNSCACHE_CSV + DNSCACHE_CSV)
    assert entries(rows) == DNS_ENTRIES + ["Entry"] + DNS_ENTRIES
    assert_accounted(result, rows)


def test_header_with_a_million_columns_is_refused_as_one_lost_record():
    data = b"\xef\xbb\xbf" + b",".join(b'"c%d"' % i for i in range(1_000_000)) + b'\r\n"1"\r\n'
    result, rows = read_all(data)
    assert rows == []
    assert result.rejected == 1
    assert f"limit {MAX_COLUMNS:,}" in result.issues[0].reason
    assert_accounted(result, rows)


def test_header_only_and_empty_files_have_no_records():
    for data in (b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf" + DNS_HEADER.encode() + b"\r\n"):
        result, rows = read_all(data)
        assert rows == [] and result.records == 0


# ---- bounded memory on huge input (measured in a fresh process: peak RSS) -------------------------

HUGE_LINE_MB = 100


def _peak_rss_mib(code: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter; returns (baseline, peak) RSS in MiB and its printed output.

    A subprocess, because ru_maxrss only grows: in this process it would measure earlier tests.
    """
    script = textwrap.dedent(f"""
        import json, resource, sys
        sys.path.insert(0, {str(HERE)!r})
        import hostile_inputs, triageparse.formats.pscsv, triageparse.formats.encoding
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    """) + textwrap.dedent(code) + textwrap.dedent("""
        print(json.dumps([base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, out]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    base, peak, out = json.loads(done.stdout.strip().splitlines()[-1])
    return base, peak, out


def test_a_100_mb_line_in_a_csv_is_rejected_with_bounded_memory():
    base, peak, out = _peak_rss_mib(f"""
        from hostile_inputs import RepeatedBytes, huge_line_parts
        parts = huge_line_parts({HUGE_LINE_MB})
        res, batches = triageparse.formats.pscsv.read_pscsv(lambda: RepeatedBytes(parts), RepeatedBytes(parts).read(65536))
        rows = [r["Entry"] for b in batches for r in b.table.to_pylist()]
        out = dict(rows=rows, rejected=res.rejected, records=res.records, reasons=[i.reason for i in res.issues])
    """)
    assert out["rows"] == DNS_ENTRIES
    assert out["rejected"] == 1 and out["records"] == 4
    assert any("104,857,675 characters" in r for r in out["reasons"])
    assert peak - base < HUGE_LINE_MB * 0.9, f"peak RSS grew by {peak - base:.0f} MiB reading a {HUGE_LINE_MB} MB line"


def test_a_100_mb_line_in_text_is_cut_with_bounded_memory():
    base, peak, out = _peak_rss_mib(f"""
        from hostile_inputs import RepeatedBytes
        stream = RepeatedBytes([(b"first\\r\\n", 1), (b"B" * 4096, {HUGE_LINE_MB} * 256), (b"\\r\\nlast\\r\\n", 1)])
        out = [(n, len(line), cut) for n, line, cut in triageparse.formats.encoding.iter_lines(stream, "utf-8")]
    """)
    assert out == [[1, 5, False], [2, 1 << 20, True], [3, 4, False]]
    assert peak - base < HUGE_LINE_MB * 0.5, f"peak RSS grew by {peak - base:.0f} MiB reading a {HUGE_LINE_MB} MB line"


def test_iter_lines_handles_every_line_ending_and_a_crlf_split_across_chunks():
    data = b"a\r\nb\rc\nd" + b"x" * ((1 << 20) - 8) + b"\r\ne"
    lines = [(n, line[:3], cut) for n, line, cut in iter_lines(io.BytesIO(data), "utf-8")]
    assert lines == [(1, "a", False), (2, "b", False), (3, "c", False), (4, "dxx", False), (5, "e", False)]


# ---- end to end: the losses reach CollectedFile and ParseIssue -----------------------------------

def test_broken_csv_inside_a_collection_reports_its_losses(tmp_path):
    source = tmp_path / "DFIR-BROKEN01-2025-10-02.zip"
    source.write_bytes(zip_bytes([Entry(DNS_MEMBER, CUT_MID_QUOTE)]))
    result = run_convert([source], tmp_path / "out")
    row = result.file("DNSCache.csv")
    assert (row["RowsRead"], row["RowsWritten"], row["RowsRejected"]) == (3, 2, 1)
    assert any(i["Severity"] == "error" for i in result.issues_for("DNSCache.csv"))
    assert not result.summary.ok
    assert result.dns_entries() == sorted(DNS_ENTRIES[:2])
