"""What a source can be: a zip with backslash names, a Live Response zip-in-zip, a folder of zips,
an unzipped collection folder, a single artifact file."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pyarrow.dataset as ds

import triageparse

from psbytes import CSV_DIR, c8, write_collection, zip_collection

DNS = c8(["Entry", "Name", "Data", "Type", "Status", "Section", "TimeToLive", "DataLength"],
         [["evil.top", "evil.top", "203.0.113.9", "1", "0", "1", "60", "4"]])


def rows(out: Path, table: str) -> list[dict]:
    return ds.dataset(out / table).to_table().to_pylist()


def test_backslash_member_names_are_normalised_and_host_and_date_come_from_the_root(tmp_path):
    z = zip_collection(tmp_path / "DFIR-WS07-2025-03-04.zip", "DFIR-WS07-2025-03-04", {f"{CSV_DIR}/DNSCache.csv": DNS})
    assert "\\" in zipfile.ZipFile(z).namelist()[0]
    triageparse.convert([z], tmp_path / "out")
    dns = rows(tmp_path / "out", "DnsCacheEntry")[0]
    assert (dns["Computer"], dns["SourceFile"]) == ("WS07", f"{CSV_DIR}/DNSCache.csv")
    coll = rows(tmp_path / "out", "Collection")[0]
    assert coll["CollectionDate"].date().isoformat() == "2025-03-04" and coll["ScriptFamily"] == "F4"


def test_live_response_zip_in_zip_is_one_collection_with_its_container_inventoried(tmp_path):
    inner = zip_collection(tmp_path / "DFIR-WS08-2025-03-04.zip", "DFIR-WS08-2025-03-04",
                           {f"{CSV_DIR}/DNSCache.csv": DNS})
    outer = tmp_path / "download.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, inner.name)
    summary = triageparse.convert([outer], tmp_path / "out")
    assert len(summary.collections) == 1 and summary.collections[0].computer == "WS08"
    files = {r["SourceFile"] for r in rows(tmp_path / "out", "CollectedFile")}
    assert files == {"DFIR-WS08-2025-03-04.zip", f"{CSV_DIR}/DNSCache.csv"}
    assert rows(tmp_path / "out", "DnsCacheEntry")[0]["Entry"] == "evil.top"


def test_a_folder_of_zips_and_unzipped_collections_gives_one_collection_each(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    zip_collection(inbox / "DFIR-A-2025-01-01.zip", "DFIR-A-2025-01-01", {f"{CSV_DIR}/DNSCache.csv": DNS})
    write_collection(inbox / "DFIR-B-2025-01-02", {f"{CSV_DIR}/DNSCache.csv": DNS})
    (inbox / "notes.txt").write_text("case notes")
    summary = triageparse.convert([inbox], tmp_path / "out")
    assert sorted(c.computer or "" for c in summary.collections) == ["", "A", "B"]
    assert sorted(r["Computer"] for r in rows(tmp_path / "out", "DnsCacheEntry")) == ["A", "B"]
    notes = [r for r in rows(tmp_path / "out", "CollectedFile") if r["SourceFile"] == "notes.txt"]
    assert notes and notes[0]["Status"] == "unparsed"        # inventoried, never silently ignored


def test_a_single_artifact_file_is_a_source_of_its_own(tmp_path):
    path = tmp_path / "DNSCache.csv"
    path.write_bytes(DNS)
    summary = triageparse.convert([path], tmp_path / "out")
    assert summary.tables["DnsCacheEntry"] == 1 and summary.ok


def test_the_same_input_gives_the_same_collection_id(tmp_path):
    z = zip_collection(tmp_path / "DFIR-C-2025-01-01.zip", "DFIR-C-2025-01-01", {f"{CSV_DIR}/DNSCache.csv": DNS})
    first = triageparse.convert([z], tmp_path / "a").collections[0].collection_id
    second = triageparse.convert([z], tmp_path / "b").collections[0].collection_id
    assert first == second and len(first) == 16
