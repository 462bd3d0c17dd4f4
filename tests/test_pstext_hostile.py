"""Text renderings from a compromised host: shapes built to make a naive reader quadratic or lost.
Each must convert in bounded work and say what it could not read."""
from __future__ import annotations

from triageparse.formats.consoletable import MAX_COLUMNS, Layout, is_rule
from triageparse.formats.pstext import ListReader, TableReader, TableRow, TableStray

from psbytes import u16
from textrender_helpers import convert_files, files, rows


def test_a_rule_line_with_too_many_runs_is_not_a_table_rule():
    assert is_rule("- " * MAX_COLUMNS)
    assert not is_rule("- " * (MAX_COLUMNS + 1))
    text = "x " * 200_000 + "\n" + "- " * 200_000 + "\n" + "a b\n"
    got = list(TableReader().rows(enumerate(text.split("\n"), 1)))
    assert not any(isinstance(r, TableRow) for r in got)
    assert all(isinstance(r, TableStray) for r in got)


def test_a_header_with_too_many_words_gives_no_layout():
    assert Layout.from_header("  A" * 300) is None
    assert Layout.from_header(" USERNAME  SESSIONNAME", 2) is not None


def test_a_record_with_a_hundred_thousand_labels_is_read_in_linear_time():
    text = "\n".join(f"L{i} : {i}" for i in range(100_000))
    [record] = list(ListReader().records(enumerate(text.split("\n"), 1)))
    assert len(record.fields) == 100_000 and len(record.raw) == 200       # raw evidence is bounded


def test_a_service_list_with_junk_lines_converts_and_reports_them(tmp_path):
    text = ("\n\nName        : w32time\nDisplayName : Windows Time\nStatus      : Running\n"
            "ServiceType : Win32OwnProcess\n\x00\x00garbage without a label\n\n\n")
    summary, out = convert_files(tmp_path, {"Services/RunningServices.txt": u16(text)})
    assert [r["Name"] for r in rows(out, "Service")] == ["w32time"]
    warned = [i for i in rows(out, "ParseIssue") if i["Severity"] == "warning"]
    assert [i["SourceRecord"] for i in warned] == [7]
    assert files(out)["Services/RunningServices.txt"]["RowsWritten"] == 1


def test_a_long_query_user_file_accounts_for_every_line(tmp_path):
    header = " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME\n"
    row = " alice                 console             2  Active      none   9/20/2023 4:28 PM\n"
    summary, out = convert_files(tmp_path, {"UserInformation/ActiveUsers.txt": u16(header + row * 5_000)})
    f = files(out)["UserInformation/ActiveUsers.txt"]
    assert (f["RowsRead"], f["RowsWritten"], f["RowsRejected"]) == (5_000, 5_000, 0)


def test_a_record_without_its_identifying_labels_is_rejected_with_its_text(tmp_path):
    text = ("\n\nName        : w32time\nDisplayName : Windows Time\nStatus      : Running\n"
            "ServiceType : Win32OwnProcess\n\n"
            "CanStop     : True\nServiceType : Win32ShareProcess\n\n\n")
    summary, out = convert_files(tmp_path, {"Services/RunningServices.txt": u16(text)})
    assert [r["Name"] for r in rows(out, "Service")] == ["w32time"]
    [issue] = [i for i in rows(out, "ParseIssue") if i["Severity"] == "error"]
    assert issue["SourceRecord"] == 8 and issue["RawText"] == "CanStop     : True\nServiceType : Win32ShareProcess"
    f = files(out)["Services/RunningServices.txt"]
    assert (f["RowsRead"], f["RowsWritten"], f["RowsRejected"]) == (2, 1, 1)


def test_a_driverquery_table_with_a_foreign_number_of_columns_is_rejected_row_by_row(tmp_path):
    text = ("\n"
            "Module Name  Display Name           Driver Type   Link Date\n"
            "============ ====================== ============= =========== ==========\n"
            "3ware        3ware                  Kernel        5/18/2015   6:28:03 PM\n")
    summary, out = convert_files(tmp_path, {"Persistence/InstalledDrivers.txt": u16(text)})
    assert rows(out, "Driver") == []
    f = files(out)["Persistence/InstalledDrivers.txt"]
    assert (f["RowsRead"], f["RowsWritten"], f["RowsRejected"]) == (1, 0, 1)
