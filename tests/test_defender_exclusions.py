"""Defender exclusions: the Exclusion*.txt lists, and the category-less pseudo-CSV fallback."""
from __future__ import annotations

from raw_artifact_helpers import convert_files, file_rows, issues

from triageparse.artifacts.defender import recover_categories

CSV_REL = "CSV Results (SIEM Import Data)/DefenderExclusions.csv"


def u16(text: str) -> bytes:
    """What Out-File writes: UTF-16LE with BOM, CRLF."""
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def test_text_lists_name_the_category_and_win_over_the_csv(tmp_path):
    tables = convert_files(tmp_path, {
        "DefenderExclusions/ExclusionPath.txt": u16("C:\\Tools\nC:\\Users\\Public\\x\n"),
        "DefenderExclusions/ExclusionExtension.txt": b"",
        "DefenderExclusions/ExclusionIpAddress.txt": u16("10.0.0.5\n"),
        "DefenderExclusions/ExclusionProcess.txt": u16("C:\\evil\\bad.exe\n"),
        CSV_REL: "\ufeffC:\\Tools\r\nC:\\Users\\Public\\x\r\n\r\n10.0.0.5\r\nC:\\evil\\bad.exe\r\n".encode()})
    rows = sorted((r["ExclusionType"], r["Value"], r["TypeEvidence"]) for r in tables["DefenderExclusion"])
    assert rows == [("IpAddress", "10.0.0.5", "file name"), ("Path", "C:\\Tools", "file name"),
                    ("Path", "C:\\Users\\Public\\x", "file name"), ("Process", "C:\\evil\\bad.exe", "file name")]
    assert file_rows(tables, "DefenderExclusions/ExclusionExtension.txt")["Status"] == "empty"
    csv = file_rows(tables, CSV_REL)
    assert (csv["Parser"], csv["RowsWritten"]) == ("defender_exclusions_csv", 0) and "superseded" in csv["Detail"]


def test_csv_fallback_recovers_categories_from_order_and_shape(tmp_path):
    # §7.5 of the format reference: paths, (empty extension list), an address, a process.
    data = "\ufeffC:\\Tools\r\nC:\\Users\\Public\\x\r\n\r\n10.0.0.5\r\nC:\\evil\\bad.exe\r\n".encode()
    tables = convert_files(tmp_path, {CSV_REL: data})
    rows = [(r["SourceRecord"], r["ExclusionType"], r["Value"], r["TypeEvidence"]) for r in
            sorted(tables["DefenderExclusion"], key=lambda r: r["SourceRecord"])]
    assert rows == [(1, "Path", "C:\\Tools", "order and shape"), (2, "Path", "C:\\Users\\Public\\x", "order and shape"),
                    (4, "IpAddress", "10.0.0.5", "order and shape"),
                    (5, "Process", "C:\\evil\\bad.exe", "order and shape")]


def test_csv_values_that_fit_no_reading_keep_a_null_type_and_a_warning(tmp_path):
    # Two paths then three empty lines: four lists cannot cover these five lines in order.
    data = "\ufeffC:\\a\r\nC:\\My,Folder\r\n\r\n\r\n".encode()
    tables = convert_files(tmp_path, {CSV_REL: data})
    rows = sorted(tables["DefenderExclusion"], key=lambda r: r["SourceRecord"])
    assert [(r["ExclusionType"], r["TypeEvidence"]) for r in rows] == [(None, "ambiguous")] * 2
    assert '"CandidateTypes":["Path","Process"]' in rows[0]["AdditionalFields"]
    reasons = [i["Reason"] for i in issues(tables, CSV_REL)]
    assert any("no reading" in r for r in reasons) and any("2+ spaces" in r for r in reasons)


def test_hidden_exclusions_are_reported_not_listed(tmp_path):
    tables = convert_files(tmp_path, {"DefenderExclusions/ExclusionPath.txt":
                                      u16("N/A: Must be an administrator to view exclusions\n")})
    assert "DefenderExclusion" not in tables
    assert any("non-administrators" in i["Reason"] for i in issues(tables, "DefenderExclusions/ExclusionPath.txt"))


def test_recovery_on_all_four_lists():
    values = ["C:\\Tools", "%ProgramData%\\x", ".tmp", "log", "10.0.0.0/8", "fe80::1", "notepad.exe",
              "C:\\x\\y.exe"]
    assert recover_categories(values) == [{"Path"}, {"Path"}, {"Extension"}, {"Extension"}, {"IpAddress"},
                                          {"IpAddress"}, {"Process"}, {"Process"}]
    assert recover_categories(["", "", "", ""]) == [{"Path"}, {"Extension"}, {"IpAddress"}, {"Process"}]
