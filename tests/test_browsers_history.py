"""Browser databases: every Chromium and Firefox database of the corpus against an independent
sqlite3 read, the collector layouts, epochs, schema tolerance and broken files."""
from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest

from raw_artifact_helpers import convert_files, file_rows, issues

UTC = dt.timezone.utc
WEBKIT_EPOCH = dt.datetime(1601, 1, 1, tzinfo=UTC)
UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def query(path: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def webkit(us: int | None) -> dt.datetime | None:
    return WEBKIT_EPOCH + dt.timedelta(microseconds=us) if us else None


def prtime(us: int | None) -> dt.datetime | None:
    return UNIX_EPOCH + dt.timedelta(microseconds=us) if us else None


def corpus_databases(manifest: list[dict], kind: str) -> list[dict]:
    found = [e for e in manifest if e["kind"] == kind]
    assert found, f"the corpus lists no {kind}"
    return found


def test_every_chromium_history_matches_sqlite(tmp_path, corpus, manifest):
    entries = corpus_databases(manifest, "chromium_history")
    files = {f"Browsers/Chromium/Vendor{i}/Product{i}/Default/History": corpus / e["staged"]
             for i, e in enumerate(entries)}
    tables = convert_files(tmp_path, files)
    for (rel, path), e in zip(files.items(), entries):
        visits = sorted((r["VisitId"], r["Url"], r["VisitTime"]) for r in tables["BrowserVisit"]
                        if r["SourceFile"] == rel)
        expected = sorted((vid, url, webkit(t)) for vid, url, t in
                          query(path, "SELECT v.id, u.url, v.visit_time FROM visits v LEFT JOIN urls u ON u.id = v.url"))
        # URLs whose visit rows are gone would add rows with a null VisitId: none in these files.
        assert query(path, "SELECT count(*) FROM urls WHERE id NOT IN (SELECT url FROM visits)") == [(0,)]
        assert visits == expected, e["staged"]
        assert len(visits) == e["sqlite"]["rows_visits"]
        downloads = [r for r in tables.get("BrowserDownload", []) if r["SourceFile"] == rel]
        assert len(downloads) == e["sqlite"]["rows_downloads"] == query(path, "SELECT count(*) FROM downloads")[0][0]
        row = file_rows(tables, rel)
        assert (row["Status"], row["RowsRejected"]) == ("parsed", 0)
        assert row["RowsWritten"] == len(visits) + len(downloads)


def test_every_firefox_database_matches_sqlite(tmp_path, corpus, manifest):
    entries = corpus_databases(manifest, "firefox_places") + corpus_databases(manifest, "firefox_downloads")
    files = {f"Browsers/Firefox/profile{i}/{Path(e['staged']).name}": corpus / e["staged"]
             for i, e in enumerate(entries)}
    tables = convert_files(tmp_path, files)
    for (rel, path), e in zip(files.items(), entries):
        if e["kind"] == "firefox_places":
            visits = sorted((r["VisitId"], r["Url"], r["VisitTime"], r["Transition"]) for r in tables["BrowserVisit"]
                            if r["SourceFile"] == rel)
            names = {1: "LINK", 2: "TYPED", 3: "BOOKMARK", 5: "REDIRECT_PERMANENT", 6: "REDIRECT_TEMPORARY"}
            expected = sorted((i, u, prtime(t), names.get(k)) for i, u, t, k in query(path, (
                "SELECT hv.id, p.url, hv.visit_date, hv.visit_type FROM moz_historyvisits hv "
                "LEFT JOIN moz_places p ON p.id = hv.place_id")))
            assert visits == expected, e["staged"]
            assert len(visits) == e["sqlite"]["rows_moz_historyvisits"]
            assert {r["Browser"] for r in tables["BrowserVisit"] if r["SourceFile"] == rel} == {"Firefox"}
        else:
            rows = [r for r in tables["BrowserDownload"] if r["SourceFile"] == rel]
            expected = query(path, "SELECT source, startTime, endTime, currBytes FROM moz_downloads ORDER BY id")
            assert [(r["Url"], r["StartTime"], r["EndTime"], r["ReceivedBytes"]) for r in rows] == \
                [(u, prtime(s), prtime(t), n) for u, s, t, n in expected]
            assert len(rows) == e["sqlite"]["rows_moz_downloads"]
            assert rows[0]["TargetPath"] == "D:\\plaso-static-1.0.1-win32-vs2008.zip"
            assert rows[0]["State"] == "FINISHED"
        assert file_rows(tables, rel)["Status"] == "parsed"


def test_layouts_give_browser_profile_and_user(tmp_path, corpus):
    history = corpus / "browser/chromium/plaso/History-59.0.3071.86"
    places = corpus / "browser/firefox/plaso/places.sqlite"
    tables = convert_files(tmp_path, {
        "Browsers/Chromium/Microsoft/Edge/Profile 1/History": history,
        "Users/carol/AppData/Local/Google/Chrome/User Data/Default/History": history,
        "ChromiumBrowserArtifacts/Browsers/Chromium/dave/AppData/Local/BraveSoftware/Brave-Browser/User Data/"
        "Profile 2/History": history,
        "Users/erin/AppData/Roaming/Mozilla/Firefox/Profiles/ab12cd.default-release/places.sqlite": places})
    seen = {(r["BrowserVendor"], r["Browser"], r["Profile"], r["UserName"]) for r in tables["BrowserVisit"]}
    assert seen == {("Microsoft", "Edge", "Profile 1", None), ("Google", "Chrome", "Default", "carol"),
                    ("BraveSoftware", "Brave-Browser", "Profile 2", "dave"),
                    ("Mozilla", "Firefox", "ab12cd.default-release", "erin")}


def test_epochs_transitions_and_download_fields(tmp_path, corpus):
    rel = "Browsers/Chromium/Google/Chrome/Default/History"
    tables = convert_files(tmp_path, {rel: corpus / "browser/chromium/hindsight_profile01/History",
                                      "Browsers/Chromium/Google/Chrome/Profile 3/History":
                                          corpus / "browser/chromium/plaso/History-57.0.2987.133"})
    first = [r for r in tables["BrowserVisit"] if r["SourceFile"] == rel and r["VisitId"] == 1][0]
    assert first["TransitionCode"] == 0x30000006
    assert (first["Transition"], first["TransitionQualifiers"]) == ("AUTO_TOPLEVEL", '["CHAIN_START","CHAIN_END"]')
    assert first["VisitTime"] == dt.datetime(2013, 6, 5, 4, 26, 40, 671646, tzinfo=UTC)
    # Schema 16 kept download times as Unix seconds; they are not read as 1601 microseconds.
    old = [r for r in tables["BrowserDownload"] if r["SourceFile"] == rel]
    assert old[0]["StartTime"] == dt.datetime.fromtimestamp(1370406510, UTC)
    assert old[0]["TargetPath"].endswith("Hard_disk.jpg") and old[0]["State"] == "COMPLETE"
    [new] = [r for r in tables["BrowserDownload"] if r["SourceFile"] != rel]
    assert new["StartTime"] == webkit(13161017393900399)
    assert new["Url"] and new["UrlChain"].startswith('["') and (new["DangerTypeCode"], new["DangerType"]) == (4, "MAYBE_DANGEROUS_CONTENT")
    assert new["SchemaVersion"] == "32"


def test_unknown_columns_are_kept(tmp_path, corpus):
    tables = convert_files(tmp_path, {"Browsers/Chromium/Google/Chrome/Default/History":
                                      corpus / "browser/chromium/plaso/History-59_added-fake-column"})
    [download] = tables["BrowserDownload"]
    assert "new_fake_column" in download["AdditionalFields"]


def test_broken_databases_are_parse_issues_and_evidence_is_untouched(tmp_path, corpus):
    good = (corpus / "browser/chromium/hindsight_profile10/History").read_bytes()
    tables = convert_files(tmp_path, {
        "Browsers/Chromium/Google/Chrome/Default/History": good,
        "Browsers/Chromium/Google/Chrome/Cut/History": good[:6000],
        "Browsers/Chromium/Google/Chrome/Text/History": b"this is not a database\r\n" * 20,
        "Browsers/Firefox/x.default/places.sqlite": b""})
    for rel in ("Browsers/Chromium/Google/Chrome/Cut/History", "Browsers/Chromium/Google/Chrome/Text/History"):
        row = file_rows(tables, rel)
        assert (row["RowsWritten"], row["RowsRejected"]) == (0, 1)
        assert [i["Severity"] for i in issues(tables, rel)] == ["error"]
    assert file_rows(tables, "Browsers/Firefox/x.default/places.sqlite")["Status"] == "empty"
    folder = tmp_path / "src" / "DFIR-TESTHOST-2024-03-01" / "Browsers/Chromium/Google/Chrome/Default"
    assert sorted(p.name for p in folder.iterdir()) == ["History"]          # no -journal / -wal / -shm
    assert hashlib.sha256((folder / "History").read_bytes()).digest() == hashlib.sha256(good).digest()


@pytest.mark.parametrize("uri, path", [("file:///C:/Users/a%20b/x.zip", "C:\\Users\\a b\\x.zip"),
                                       ("file://server/share/x.exe", "\\\\server\\share\\x.exe"),
                                       ("https://example.org/x", "https://example.org/x")])
def test_file_uris_become_windows_paths(uri, path):
    from triageparse.artifacts.browsers import file_uri_to_path
    assert file_uri_to_path(uri) == path


def test_firefox_annotation_downloads_and_expired_visits(tmp_path):
    """Firefox 26+ downloads live in moz_annos; a place whose visits expired still counts as visited."""
    db = tmp_path / "places.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT, title TEXT, visit_count INTEGER, typed INTEGER,
                                 last_visit_date INTEGER, hidden INTEGER);
        CREATE TABLE moz_historyvisits (id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER,
                                        visit_date INTEGER, visit_type INTEGER, session INTEGER);
        CREATE TABLE moz_anno_attributes (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE moz_annos (id INTEGER PRIMARY KEY, place_id INTEGER, anno_attribute_id INTEGER, content TEXT,
                                dateAdded INTEGER, lastModified INTEGER);
        INSERT INTO moz_places VALUES (1, 'https://example.org/', 'Example', 1, 1, 1700000000000000, 0),
                                      (2, 'https://dl.example.org/tool.exe', NULL, 1, 0, 1700000100000000, 0),
                                      (3, 'https://expired.example.org/', 'Gone', 4, 0, 1600000000000000, 0),
                                      (4, 'https://bookmark-only.example.org/', 'Never visited', 0, 0, NULL, 0);
        INSERT INTO moz_historyvisits VALUES (1, 0, 1, 1700000000000000, 2, 0), (2, 1, 2, 1700000100000000, 7, 0);
        INSERT INTO moz_anno_attributes VALUES (1, 'downloads/destinationFileURI'), (2, 'downloads/metaData');
        INSERT INTO moz_annos VALUES (1, 2, 1, 'file:///C:/Users/erin/Downloads/tool.exe', 1700000100000000, 0),
                                     (2, 2, 2, '{"state":1,"endTime":1700000105000,"fileSize":123456}', 0, 0);
    """)
    con.commit()
    con.close()
    tables = convert_files(tmp_path, {"Browsers/Firefox/p.default/places.sqlite": db})
    visits = sorted(tables["BrowserVisit"], key=lambda r: r["SourceRecord"])
    assert [(r["VisitId"], r["Url"], r["Transition"], r["FromUrl"]) for r in visits] == [
        (1, "https://example.org/", "TYPED", None),
        (2, "https://dl.example.org/tool.exe", "DOWNLOAD", "https://example.org/"),
        (None, "https://expired.example.org/", None, None)]
    assert visits[2]["VisitTime"] == prtime(1600000000000000) and visits[2]["VisitCount"] == 4
    [download] = tables["BrowserDownload"]
    assert (download["Url"], download["TargetPath"], download["State"], download["TotalBytes"]) == \
        ("https://dl.example.org/tool.exe", "C:\\Users\\erin\\Downloads\\tool.exe", "FINISHED", 123456)
    assert download["StartTime"] == prtime(1700000100000000)
    assert download["EndTime"] == prtime(1700000105000 * 1000)
