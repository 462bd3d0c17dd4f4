"""PowerShell history: PSReadLine ConsoleHost_history.txt (exact bytes and every corpus file) and
the Get-History text renderings."""
from __future__ import annotations


from raw_artifact_helpers import convert_files, file_rows, issues

DFIR_HISTORY = "PowerShellHistory/alice.Name/ConsoleHost_history.txt"

# What PSReadLine writes on Windows: CRLF after each item; inside a multi-line item a backtick
# before each bare LF. The last item's own trailing backtick was doubled by PSReadLine.
PSREADLINE_BYTES = (b"Get-Process\r\n"
                    b"if ($x) {`\n  'a'`\n}\r\n"
                    b"Write-Host ``\n  -Object x\r\n"
                    b"\r\n"
                    b"dir C:\\Users\\\xc3\xa9l\xc3\xa8ve\r\n")


def test_multiline_commands_are_rebuilt_and_user_comes_from_dot_name_folder(tmp_path):
    tables = convert_files(tmp_path, {DFIR_HISTORY: PSREADLINE_BYTES})
    rows = tables["PowerShellHistory"]
    assert [r["Command"] for r in rows] == ["Get-Process", "if ($x) {\n  'a'\n}", "Write-Host `\n  -Object x",
                                           "dir C:\\Users\\\u00e9l\u00e8ve"]
    assert [r["LineNumber"] for r in rows] == [1, 2, 5, 8]
    assert [r["LineCount"] for r in rows] == [1, 3, 2, 1]
    assert {r["UserName"] for r in rows} == {"alice"}
    assert {r["Source"] for r in rows} == {"PSReadLine"}
    assert file_rows(tables, DFIR_HISTORY)["Status"] == "parsed"


def test_profile_path_gives_the_user_and_lf_only_files_read_alike(tmp_path):
    rel = "Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt"
    tables = convert_files(tmp_path, {rel: PSREADLINE_BYTES.replace(b"\r\n", b"\n")})
    rows = tables["PowerShellHistory"]
    assert [r["Command"] for r in rows][:3] == ["Get-Process", "if ($x) {\n  'a'\n}", "Write-Host `\n  -Object x"]
    assert {r["UserName"] for r in rows} == {"bob"}


def test_invalid_utf8_is_flagged_not_dropped(tmp_path):
    tables = convert_files(tmp_path, {DFIR_HISTORY: b"whoami\r\necho \xff\xfe done\r\n"})
    assert [r["Command"] for r in tables["PowerShellHistory"]] == ["whoami", "echo \ufffd\ufffd done"]
    assert file_rows(tables, DFIR_HISTORY)["Status"] == "lossy"
    assert any("UTF-8" in i["Reason"] for i in issues(tables, DFIR_HISTORY))


def test_every_corpus_history_matches_the_manifest(tmp_path, corpus, manifest):
    entries = [e for e in manifest if e["kind"] == "psreadline"]
    assert entries, "the corpus lists no PSReadLine history"
    files = {f"PowerShellHistory/user{i}.Name/ConsoleHost_history.txt": corpus / e["staged"]
             for i, e in enumerate(entries)}
    tables = convert_files(tmp_path, files)
    for i, e in enumerate(entries):
        rel = f"PowerShellHistory/user{i}.Name/ConsoleHost_history.txt"
        info = e["psreadline"]
        rows = [r for r in tables["PowerShellHistory"] if r["SourceFile"] == rel]
        expected = info["lines"] - info["blank_lines"] - info["backtick_continuations"]
        assert len(rows) == expected, e["staged"]
        assert {r["UserName"] for r in rows} == {f"user{i}"}
        # Independent read: every non-blank line of the file is one command, in order.
        text = (corpus / e["staged"]).read_bytes().decode("utf-8")
        assert [r["Command"] for r in rows] == [line for line in text.splitlines() if line.strip()]
        assert file_rows(tables, rel)["RowsWritten"] == expected


GET_HISTORY_TEXT = ("\r\n  Id CommandLine\r\n  -- -----------\r\n   1 Get-Process\r\n"
                    "  12 Get-ChildItem -Path C:\\Users\\Administrator\\AppData\\Local\\Temp -Recurse | Where-Obj...\r\n"
                    "\r\n\r\n")


def test_get_history_text_rows_and_truncation(tmp_path):
    tables = convert_files(tmp_path, {
        "PowershellHistory.txt": b"\xff\xfe" + GET_HISTORY_TEXT.encode("utf-16-le"),
        "PowerShellHistory/PowershellHistoryCurrentUser.txt": b""})
    rows = [r for r in tables["PowerShellHistory"] if r["Source"] == "GetHistory"]
    assert [(r["LineNumber"], r["Truncated"]) for r in rows] == [(1, False), (12, True)]
    assert rows[0]["Command"] == "Get-Process"
    assert any("incomplete" in i["Reason"] for i in issues(tables, "PowershellHistory.txt"))
    empty = file_rows(tables, "PowerShellHistory/PowershellHistoryCurrentUser.txt")
    assert (empty["Parser"], empty["Status"], empty["RowsWritten"]) == ("get_history_text", "empty", 0)
