"""driverquery, query user, qwinsta and openfiles: the aligned .txt (UTF-16LE) and the pseudo-CSV
(``-replace '\\s\\s+', ','``, UTF-8) from exact bytes, converted end to end."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from psbytes import CSV_DIR, u16
from textrender_helpers import convert_files, files, issues, pad, rows

UTC = dt.timezone.utc


def p8(text: str) -> bytes:
    """What DFIR-Script makes of a tool's stdout: ``(tool) -split "\\n" -replace '\\s\\s+', ','`` | Out-File UTF8."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return b"\xef\xbb\xbf" + "".join(re.sub(r"\s\s+", ",", x) + "\r\n" for x in lines).encode("utf-8")


# ---- driverquery -------------------------------------------------------------------------------

DRIVERQUERY = (
    "\n"
    "Module Name  Display Name           Driver Type   Link Date\n"
    "============ ====================== ============= ======================\n"
    "1394ohci     1394 OHCI Compliant Ho Kernel                              \n"
    "3ware        3ware                  Kernel        5/18/2015 6:28:03 PM  \n"
    "ACPI         Microsoft ACPI Driver  Kernel        12/9/1975 6:17:08 AM  \n"
    "CompositeBus Composite Bus Enumerat Kernel                              \n"
    "Ntfs         Ntfs                   File System                         \n"
)
DRIVERS_EXPECTED = [
    ("1394ohci", "1394 OHCI Compliant Ho", "Kernel", None),
    ("3ware", "3ware", "Kernel", dt.datetime(2015, 5, 18, 18, 28, 3, tzinfo=UTC)),
    ("ACPI", "Microsoft ACPI Driver", "Kernel", dt.datetime(1975, 12, 9, 6, 17, 8, tzinfo=UTC)),
    ("CompositeBus", "Composite Bus Enumerat", "Kernel", None),
    ("Ntfs", "Ntfs", "File System", None),
]


def _drivers(out):
    return [(r["ModuleName"], r["DisplayName"], r["DriverType"], r["LinkDate"]) for r in rows(out, "Driver")]


def test_driverquery_text_cuts_merged_columns_by_the_rule_line(tmp_path):
    summary, out = convert_files(tmp_path, {"Persistence/InstalledDrivers.txt": u16(DRIVERQUERY)})
    assert _drivers(out) == DRIVERS_EXPECTED
    got = rows(out, "Driver")
    assert [r["SourceRecord"] for r in got] == [4, 5, 6, 7, 8]
    assert got[3]["RawLine"].startswith("CompositeBus Composite Bus Enumerat Kernel")
    assert '"DisplayNameMayBeCut":true' in got[0]["AdditionalFields"]      # 22 characters: the tool's limit
    assert got[2]["AdditionalFields"] is None
    assert summary.errors == 0


def test_drivers_pseudo_csv_alone_gives_the_same_rows(tmp_path):
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/Drivers.csv": p8(DRIVERQUERY)})
    assert _drivers(out) == DRIVERS_EXPECTED
    assert rows(out, "Driver")[0]["RawLine"] == "1394ohci,1394 OHCI Compliant Ho Kernel,"
    assert summary.errors == 0


def test_text_wins_over_pseudo_csv_and_rows_are_written_once(tmp_path):
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/Drivers.csv": p8(DRIVERQUERY),
                                            "Persistence/InstalledDrivers.txt": u16(DRIVERQUERY)})
    got = rows(out, "Driver")
    assert len(got) == 5
    assert {r["SourceFile"] for r in got} == {"Persistence/InstalledDrivers.txt"}
    detail = files(out)[f"{CSV_DIR}/Drivers.csv"]["Detail"]
    assert "Persistence/InstalledDrivers.txt" in detail


def test_driverquery_polish_host_dates(tmp_path):
    text = ("\n"
            "Module Name  Display Name           Driver Type   Link Date\n"
            "============ ====================== ============= ======================\n"
            "3ware        3ware                  Kernel        19.05.2015 00:28:03\n"
            "ACPI         Sterownik ACPI firmy M Kernel        \n")
    summary, out = convert_files(tmp_path, {"Persistence/InstalledDrivers.txt": u16(text)}, culture=None)
    assert _drivers(out) == [("3ware", "3ware", "Kernel", dt.datetime(2015, 5, 19, 0, 28, 3, tzinfo=UTC)),
                             ("ACPI", "Sterownik ACPI firmy M", "Kernel", None)]
    assert summary.collections[0].culture == "de-DE"     # inferred from the link dates (day 19)


def test_f3a_length_only_csv_is_recorded_as_lossy_without_rows(tmp_path):
    # ConvertTo-Csv of strings, then the F3a DataSource rewrite (Import-Csv | Add-Member | Export-Csv, ASCII).
    drivers = b'"Length","DataSource"\r\n"0","Drivers"\r\n"59","Drivers"\r\n"72","Drivers"\r\n'
    users = b'\xef\xbb\xbf"Length"\r\n"75"\r\n"82"\r\n'
    summary, out = convert_files(tmp_path, {"SIEMImport/Drivers.csv": drivers, "SIEMImport/ActiveUsers.csv": users})
    assert rows(out, "Driver") == [] and rows(out, "UserSession") == []
    for name in ("SIEMImport/Drivers.csv", "SIEMImport/ActiveUsers.csv"):
        f = files(out)[name]
        assert f["Status"] == "lossy" and "line lengths" in f["Detail"]


# ---- query user --------------------------------------------------------------------------------

def quser_line(marker, user, session, sid, state, idle, logon):
    return f"{marker}{user:<22}{session:<19}{sid:>2}  {state:<8}{idle:>9}  {logon}"


QUSER = "\n".join([
    quser_line(" ", "USERNAME", "SESSIONNAME", "ID", "STATE", "IDLE TIME", "LOGON TIME"),
    quser_line(">", "administrator", "rdp-tcp#2", "1", "Active", ".", "3/25/2021 9:27 AM"),
    quser_line(" ", "alice", "console", "2", "Active", "none", "9/20/2023 4:28 PM"),
    quser_line(" ", "bob", "", "4", "Disc", "1:05", "9/21/2023 11:24 PM"),
    quser_line(" ", "carol", "", "15", "Disc", "2+03:04", "9/19/2023 8:00 AM"),
]) + "\n"
QUSER_EXPECTED = [
    ("administrator", "rdp-tcp#2", 1, "Active", ".", 0, dt.datetime(2021, 3, 25, 9, 27, tzinfo=UTC), True),
    ("alice", "console", 2, "Active", "none", 0, dt.datetime(2023, 9, 20, 16, 28, tzinfo=UTC), False),
    ("bob", "", 4, "Disc", "1:05", 65, dt.datetime(2023, 9, 21, 23, 24, tzinfo=UTC), False),
    ("carol", "", 15, "Disc", "2+03:04", 3064, dt.datetime(2023, 9, 19, 8, 0, tzinfo=UTC), False),
]


def _sessions(out):
    return [(r["UserName"], r["SessionName"] or "", r["SessionId"], r["State"], r["IdleTime"], r["IdleMinutes"],
             r["LogonTime"], r["IsCurrent"]) for r in rows(out, "UserSession")]


def test_query_user_text_with_disconnected_sessions(tmp_path):
    assert QUSER.splitlines()[0] == " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME"
    summary, out = convert_files(tmp_path, {"UserInformation/ActiveUsers.txt": u16(QUSER)})
    assert _sessions(out) == QUSER_EXPECTED
    assert rows(out, "UserSession")[0]["RawLine"].startswith(">administrator")
    assert summary.errors == 0


def test_active_users_pseudo_csv_reinserts_the_missing_session_name(tmp_path):
    data = p8(QUSER)
    assert b"\r\n bob,4,Disc,1:05,9/21/2023 11:24 PM\r\n" in data
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/ActiveUsers.csv": data})
    assert _sessions(out) == QUSER_EXPECTED


def test_query_user_german_headers_and_a_line_that_fits_no_shape(tmp_path):
    text = "\n".join([
        quser_line(" ", "BENUTZERNAME", "SITZUNGSNAME", "ID", "STATUS", "LEERLAUF", "ANMELDEZEIT"),
        quser_line(">", "administrator", "console", "1", "Aktiv", ".", "24.08.2022 17:42"),
        quser_line(" ", "test", "", "4", "Getr.", "1:05", "04.07.2024 23:24"),
        "Fehler beim Abrufen der Sitzungsnamen",
    ]) + "\n"
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/ActiveUsers.csv": p8(text)}, culture="de-DE")
    assert _sessions(out) == [
        ("administrator", "console", 1, "Aktiv", ".", 0, dt.datetime(2022, 8, 24, 17, 42, tzinfo=UTC), True),
        ("test", "", 4, "Getr.", "1:05", 65, dt.datetime(2024, 7, 4, 23, 24, tzinfo=UTC), False)]
    errors = [i for i in issues(out) if i["Severity"] == "error"]
    assert [(i["SourceRecord"], i["RawText"]) for i in errors] == [(4, "Fehler beim Abrufen der Sitzungsnamen")]
    f = files(out)[f"{CSV_DIR}/ActiveUsers.csv"]
    assert (f["RowsRead"], f["RowsWritten"], f["RowsRejected"]) == (3, 2, 1)


# ---- qwinsta -----------------------------------------------------------------------------------

def qwinsta_line(marker, session, user, sid, state, kind="", device="", widths=(18, 20, 7, 8, 12)):
    ws, wu, wi, wst, wt = widths
    return f"{marker}{pad(session, ws)}{pad(user, wu)}{sid:>{wi}}  {pad(state, wst)}{pad(kind, wt)}{device}"


QWINSTA = "\n".join([
    qwinsta_line(" ", "SESSIONNAME", "USERNAME", "ID", "STATE", "TYPE", "DEVICE "),
    qwinsta_line(">", "services", "", "0", "Disc", "", "        "),
    qwinsta_line(" ", "console", "alice", "1", "Active", "", "        "),
    qwinsta_line(" ", "", "bob", "2", "Disc", "", "        "),
    qwinsta_line(" ", "rdp-tcp#0", "carol", "3", "Active", "rdpwd", ""),
    qwinsta_line(" ", "rdp-tcp", "", "65536", "Listen", "", "        "),
]) + "\n"
QWINSTA_EXPECTED = [
    ("services", "", 0, "Disc", "", True),
    ("console", "alice", 1, "Active", "", False),
    ("", "bob", 2, "Disc", "", False),
    ("rdp-tcp#0", "carol", 3, "Active", "rdpwd", False),
    ("rdp-tcp", "", 65536, "Listen", "", False),
]


def _rdp(out):
    return [(r["SessionName"] or "", r["UserName"] or "", r["SessionId"], r["State"], r["SessionType"] or "",
             r["IsCurrent"]) for r in rows(out, "RdpSession")]


def test_qwinsta_text_listener_disconnected_and_session_zero_caller(tmp_path):
    assert QWINSTA.splitlines()[0] == " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE "
    summary, out = convert_files(tmp_path, {"Connections/RDPSessions.txt": u16(QWINSTA)})
    assert _rdp(out) == QWINSTA_EXPECTED
    assert summary.errors == 0


def test_rdp_sessions_pseudo_csv_shifts_both_ways(tmp_path):
    data = p8(QWINSTA)
    assert b"\r\n>services,0,Disc,\r\n" in data and b"\r\n,bob,2,Disc,\r\n" in data
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/RDPSessions.csv": data})
    assert _rdp(out) == QWINSTA_EXPECTED


def test_qwinsta_russian_headers_and_states(tmp_path):
    w = (18, 20, 7, 10, 6)
    text = "\n".join([
        qwinsta_line(" ", "ИМЯ_СЕАНСА", "ИМЯ_ПОЛЬЗОВАТЕЛЯ", "ИД", "СОСТОЯНИЕ", "ТИП", "УСТРОЙСТВО", widths=w),
        qwinsta_line(">", "services", "", "0", "Разъедин", widths=w),
        qwinsta_line(" ", "console", "Иван", "1", "Активный", widths=w),
        qwinsta_line(" ", "rdp-tcp", "", "65536", "Прослуш", widths=w),
    ]) + "\n"
    for name, data in (("Connections/RDPSessions.txt", u16(text)), (f"{CSV_DIR}/RDPSessions.csv", p8(text))):
        summary, out = convert_files(tmp_path / name.split("/")[0], {name: data})
        assert _rdp(out) == [("services", "", 0, "Разъедин", "", True), ("console", "Иван", 1, "Активный", "", False),
                             ("rdp-tcp", "", 65536, "Прослуш", "", False)], name


def test_qwinsta_japanese_wide_characters_are_cut_by_display_cells(tmp_path):
    w = (18, 20, 7, 12, 12)
    text = "\n".join([
        qwinsta_line(" ", "セッション名", "ユーザー名", "ID", "状態", "種類", "デバイス", widths=w),
        qwinsta_line(" ", "console", "山田太郎", "1", "アクティブ", widths=w),
        qwinsta_line(" ", "", "佐藤", "2", "切断", widths=w),
        qwinsta_line(" ", "rdp-tcp", "", "65536", "リッスン", widths=w),
    ]) + "\n"
    # Character offsets differ from cell offsets: the ID of 山田太郎 sits 4 characters left of its cell.
    line = text.splitlines()[1]
    assert line.index("1") == 1 + 18 + 20 + 6 - 4
    summary, out = convert_files(tmp_path, {"Connections/RDPSessions.txt": u16(text)})
    assert _rdp(out) == [("console", "山田太郎", 1, "アクティブ", "", False), ("", "佐藤", 2, "切断", "", False),
                         ("rdp-tcp", "", 65536, "リッスン", "", False)]


# ---- openfiles ---------------------------------------------------------------------------------

OPENFILES_PROSE = (
    "\n"
    "INFO: The system global flag 'maintain objects list' needs\n"
    "      to be enabled to see local opened files.\n"
    "      See Openfiles /? for more information.\n"
    "\n"
    "\n"
    "Files opened remotely via local share points:\n"
    "---------------------------------------------\n"
    "\n"
)


def test_openfiles_without_shared_files_is_prose_only(tmp_path):
    text = OPENFILES_PROSE + "INFO: No shared open files found.\n"
    summary, out = convert_files(tmp_path, {"Connections/RemotelyOpenedFiles.txt": u16(text),
                                            f"{CSV_DIR}/RemotelyOpenedFiles.csv": p8(text)})
    assert rows(out, "OpenFile") == []
    assert summary.errors == 0
    for name in ("Connections/RemotelyOpenedFiles.txt", f"{CSV_DIR}/RemotelyOpenedFiles.csv"):
        assert files(out)[name]["Parser"] == "console_tool"


OPENFILES_TABLE = OPENFILES_PROSE + (
    "ID       Accessed By          Type       Open File (Path\\executable)\n"
    "======== ==================== ========== =====================================\n"
    "1342178305 alice              Windows    D:\\Share\\report.docx\n"
    "805306369 bob                 Windows    D:\\Share\\Q3  plan.xlsx\n"
)


def test_openfiles_table_with_ids_wider_than_their_column(tmp_path):
    summary, out = convert_files(tmp_path, {"Connections/RemotelyOpenedFiles.txt": u16(OPENFILES_TABLE)})
    got = [(r["FileId"], r["AccessedBy"], r["ClientType"], r["Path"]) for r in rows(out, "OpenFile")]
    assert got == [("1342178305", "alice", "Windows", "D:\\Share\\report.docx"),
                   ("805306369", "bob", "Windows", "D:\\Share\\Q3  plan.xlsx")]


def test_remotely_opened_files_pseudo_csv_flags_a_split_path(tmp_path):
    summary, out = convert_files(tmp_path, {f"{CSV_DIR}/RemotelyOpenedFiles.csv": p8(OPENFILES_TABLE)})
    got = [(r["FileId"], r["AccessedBy"], r["ClientType"], r["Path"]) for r in rows(out, "OpenFile")]
    assert got == [("1342178305", "alice", "Windows", "D:\\Share\\report.docx"),
                   ("805306369", "bob", "Windows", "D:\\Share\\Q3,plan.xlsx")]
    warned = [i for i in issues(out) if i["Severity"] == "warning" and "re-joined" in i["Reason"]]
    assert [i["SourceRecord"] for i in warned] == [13]


def test_empty_outputs_are_collected_without_rows(tmp_path):
    # Nobody logged on: quser prints only to stderr, so Out-File leaves 0 bytes; a BOM alone is the same.
    summary, out = convert_files(tmp_path, {"UserInformation/ActiveUsers.txt": b"",
                                            "Connections/RDPSessions.txt": b"\xff\xfe"})
    got = files(out)
    for name in ("UserInformation/ActiveUsers.txt", "Connections/RDPSessions.txt"):
        assert (got[name]["Parser"], got[name]["Status"], got[name]["RowsRead"]) == ("console_tool", "empty", 0)


def test_openfiles_prose_in_another_language_is_still_openfiles_output(tmp_path):
    text = ("\n"
            "INFORMATION: Das globale Systemkennzeichen \"Objektliste verwalten\" muss\n"
            "             aktiviert werden, um lokal geöffnete Dateien anzuzeigen.\n"
            "\n"
            "Remote über lokale Freigabepunkte geöffnete Dateien:\n"
            "-----------------------------------------------------\n"
            "\n"
            "INFORMATION: Keine freigegebenen geöffneten Dateien gefunden.\n")
    summary, out = convert_files(tmp_path, {"Connections/RemotelyOpenedFiles.txt": u16(text)})
    f = files(out)["Connections/RemotelyOpenedFiles.txt"]
    assert (f["Parser"], f["RowsWritten"], f["RowsRejected"]) == ("console_tool", 0, 0)
    assert rows(out, "OpenFile") == []


def test_qwinsta_header_separated_by_single_spaces(tmp_path):
    # Some localised builds print the header words one space apart; the rows stay aligned under them.
    text = ("\n".join([
        " セッション名 ユーザー名 ID 状態 種類 デバイス",
        " console     alice       1 Active",
        " rdp-tcp              65536 Listen",
    ]) + "\n")
    summary, out = convert_files(tmp_path, {"Connections/RDPSessions.txt": u16(text)})
    assert _rdp(out) == [("console", "alice", 1, "Active", "", False), ("rdp-tcp", "", 65536, "Listen", "", False)]
