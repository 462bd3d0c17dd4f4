"""Format-List and Format-Table renderings: the edge cases of PowerShell's list and table writers."""
from __future__ import annotations

from triageparse.formats.pstext import ListReader, TableReader, TableRow, TableStray, parse_collection, wrap_width

from pswrap import fl, fl_record


def _lines(text: str):
    return list(enumerate(text.split("\n"), 1))


def _records(text: str):
    lines = _lines(text)
    return list(ListReader(wrap_width(x for _, x in lines)).records(lines))


REG_PATH = "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\RunOnce"


def test_hard_wrap_inside_a_token_is_joined_without_separator():
    text = fl([[("PSPath", REG_PATH), ("PSChildName", "RunOnce")]])
    physical = text.split("\n")
    assert len(physical[2]) == 119 and physical[3] == " " * 14 + REG_PATH[105:]      # cut inside "CurrentVersion"
    [record] = _records(text)
    assert record.values() == {"PSPath": REG_PATH, "PSChildName": "RunOnce"}
    assert record.fields[0].wrapped and not record.fields[0].multiline
    assert record.line == 3


def test_english_word_wrap_keeps_the_spaces():
    message = ("Windows Installer installed the product. Product Name: Contoso Remote Support Agent. Product Version: "
               "5.1.2. Product Language: 1033. Manufacturer: Contoso Ltd.. Installation success or error status: 0.")
    text = fl([[("TimeCreated", "9/30/2025 10:14:03 PM"), ("Message", message)]], words=True)
    physical = text.split("\n")
    assert physical[3].endswith(" ") and len(physical[3]) < 119      # word wrap: short line, trailing space
    [record] = _records(text)
    assert record.values()["Message"] == message


def test_newlines_inside_a_value_and_blank_lines_inside_it():
    text = ("\n\n"
            "Index   : 4242\n"
            "Message : An account was successfully logged on.\n"
            "\n"
            "          Subject:\n"
            "          \tSecurity ID:\t\tS-1-5-18\n"
            "Source  : Microsoft-Windows-Security-Auditing\n"
            "\n\n")
    [record] = _records(text)
    assert record.values()["Message"] == "An account was successfully logged on.\n\nSubject:\n\tSecurity ID:\t\tS-1-5-18"
    assert record.values()["Source"] == "Microsoft-Windows-Security-Auditing"
    assert record.fields[1].multiline


def test_empty_values_with_and_without_trailing_space_and_records_split_by_blank_lines():
    text = "\n\nName    : a\nSite    :\nContainer : \n\nName    : b\nSite    : x\n\n\n"
    first, second = _records(text)
    assert first.values() == {"Name": "a", "Site": "", "Container": ""}
    assert second.values() == {"Name": "b", "Site": "x"} and second.line == 7


def test_a_repeated_label_starts_a_new_record_even_without_a_blank_line():
    records = _records("Name : a\nData : 1\nName : b\nData : 2\n")
    assert [r.values() for r in records] == [{"Name": "a", "Data": "1"}, {"Name": "b", "Data": "2"}]


def test_collections_cut_at_four_items_are_flagged():
    text = fl([[("Property", "{BootDriverFlags, CurrentUser, EarlyStartServices, PreshutdownOrder...}"),
                ("DependentServices", "{}"), ("Pwsh7", "{a, b, c, d…}"), ("Plain", "ok")]])
    [record] = _records(text)
    assert [f.truncated for f in record.fields] == [True, False, True, False]
    assert parse_collection(record.values()["Property"]) == (
        ["BootDriverFlags", "CurrentUser", "EarlyStartServices", "PreshutdownOrder"], True)
    assert parse_collection("{}") == ([], False)
    assert parse_collection("plain") is None


def test_stray_unindented_line_is_reported_not_swallowed():
    [record] = _records("Name : a\nWARNING: something odd\nData : 1\n")
    assert record.values() == {"Name": "a", "Data": "1"}
    assert record.stray == [(2, "WARNING: something odd")]


def test_labels_with_spaces_and_values_with_colons():
    [record] = _records(fl_record([("VMware User Process", '"C:\\Program Files\\VMware\\vmtoolsd.exe" -n vmusr'),
                                   ("PSDrive", "HKLM"), ("Note", "a : b")]))
    assert record.values() == {"VMware User Process": '"C:\\Program Files\\VMware\\vmtoolsd.exe" -n vmusr',
                               "PSDrive": "HKLM", "Note": "a : b"}


# ---- Format-Table -------------------------------------------------------------------------------

def _table(text: str):
    return list(TableReader().rows(_lines(text)))


def test_table_truncation_markers_and_right_aligned_numbers():
    text = ("\n"
            "Name               Enabled Description\n"
            "----               ------- -----------\n"
            "Administrator      False   Built-in account for administering the computer/domain\n"
            "WDAGUtilityAccount False   A user account managed and used by the system for Windows Defende...\n"
            "pwsh7user          True    Ein sehr langer Kommentar, den PowerShell 7 abschneid…\n"
            "\n")
    got = _table(text)
    assert [r.cells for r in got] == [
        {"Name": "Administrator", "Enabled": "False", "Description": "Built-in account for administering the computer/domain"},
        {"Name": "WDAGUtilityAccount", "Enabled": "False",
         "Description": "A user account managed and used by the system for Windows Defende..."},
        {"Name": "pwsh7user", "Enabled": "True", "Description": "Ein sehr langer Kommentar, den PowerShell 7 abschneid…"}]
    assert [r.truncated for r in got] == [[], ["Description"], ["Description"]]
    assert [r.line for r in got] == [4, 5, 6]


def test_table_header_dashes_cover_only_the_label_and_numbers_spill_left():
    text = ("\n"
            "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\n"
            "-------  ------    -----      -----     ------     --  -- -----------\n"
            "    221      14     3108      11112       0.06   4508   0 AggregatorHost\n"
            "      0       0       60          8                 0   0 Idle\n")
    a, b = _table(text)
    assert a.cells == {"Handles": "221", "NPM(K)": "14", "PM(K)": "3108", "WS(K)": "11112", "CPU(s)": "0.06",
                       "Id": "4508", "SI": "0", "ProcessName": "AggregatorHost"}
    assert b.cells["CPU(s)"] == "" and b.cells["Id"] == "0" and b.cells["ProcessName"] == "Idle"


def test_group_headers_and_several_tables_in_one_file():
    text = ("\n\n"
            "   PriorityClass: Normal\n"
            "\n"
            "ProcessName   Id HandleCount WorkingSet\n"
            "-----------   -- ----------- ----------\n"
            "svchost      912        1242   20111360\n"
            "\n\n"
            "   PriorityClass: High\n"
            "\n"
            "ProcessName   Id HandleCount WorkingSet\n"
            "-----------   -- ----------- ----------\n"
            "csrss        600         555    5111808\n"
            "\n\n"
            "   PriorityClass:\n"          # not elevated: PriorityClass of protected processes is $null
            "\n"
            "ProcessName   Id HandleCount WorkingSet\n"
            "-----------   -- ----------- ----------\n"
            "lsass        700        1500    9999999\n"
            "\n")
    got = _table(text)
    assert [(r.cells["ProcessName"], r.cells["Id"], r.group) for r in got] == [
        ("svchost", "912", ("PriorityClass", "Normal")), ("csrss", "600", ("PriorityClass", "High")),
        ("lsass", "700", ("PriorityClass", ""))]


def test_registry_table_continuation_rows_and_stray_lines():
    text = ("\n\n"
            "    Hive: HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\n"
            "\n\n"
            "Name                           Property\n"
            "----                           --------\n"
            "##fileserver#share             _LabelFromReg : Finance\n"
            "                               BaseClass     : Drive\n"
            "\n"
            "Something the table writer did not write\n")
    got = _table(text)
    rows = [r for r in got if isinstance(r, TableRow)]
    assert [(r.cells, r.continuation) for r in rows] == [
        ({"Name": "##fileserver#share", "Property": "_LabelFromReg : Finance"}, False),
        ({"Name": "", "Property": "BaseClass     : Drive"}, True)]
    assert rows[0].group == ("Hive", "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2")
    assert [(s.line, s.text) for s in got if isinstance(s, TableStray)] == [(11, "Something the table writer did not write")]


def test_table_cells_with_east_asian_wide_characters():
    text = ("Name       Enabled Description\n"
            "----       ------- -----------\n"
            "山田太郎   True    管理者\n"
            "bob        False   x\n")
    got = _table(text)
    assert [r.cells for r in got] == [{"Name": "山田太郎", "Enabled": "True", "Description": "管理者"},
                                      {"Name": "bob", "Enabled": "False", "Description": "x"}]


def test_a_value_ending_in_spaces_does_not_split_the_record():
    # The wrapped tail of a value ending in a space is a line of spaces (padding kept by Out-File).
    text = ("Name        : svc0\n"
            "DisplayName : " + "x" * 105 + "\n"
            "              \n"
            "Status      : Running\n"
            "\n"
            "Name        : svc1\n"
            "DisplayName : y\n"
            "\n"
            "Status      : Stopped\n")       # a bare blank line inside the record: the label order tells
    first, second = _records(text)
    assert first.values() == {"Name": "svc0", "DisplayName": "x" * 105, "Status": "Running"}
    assert second.values() == {"Name": "svc1", "DisplayName": "y", "Status": "Stopped"}
