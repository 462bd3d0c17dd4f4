"""Hostile archives: every trick gets a clear message, the rest of the collection still converts, and
nothing is written outside OUT.

Each archive is generated here (nothing binary is committed) and holds, next to the hostile member,
a DNSCache.csv with the exact bytes of Windows PowerShell 5.1, whose three rows must arrive.
"""
from __future__ import annotations

import io
import json
import os
import random
import tempfile
import time
import tracemalloc
import uuid
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from hostile_inputs import (DNS_ENTRIES, DNS_MEMBER, DNSCACHE_CSV, Converted, Entry, deflate_bomb_zip, patch_member,
                            read_table, rename_member_raw, run_convert, snapshot, zip_bytes)
from triageparse import cli
from triageparse.collection import Limits, open_source
from triageparse.sink import FORMAT_VERSION, MARKER, OutputError, prepare_output

ROOT = "DFIR-HOSTILE01-2025-10-02\\"          # Compress-Archive writes backslashes
DNS = Entry(DNS_MEMBER, DNSCACHE_CSV)
SMALL = Limits(max_member_bytes=8 << 20, max_total_bytes=64 << 20)


def convert_hostile(tmp_path: Path, archive: bytes, limits: Limits | None = SMALL) -> Converted:
    """Convert one hostile zip and check what must hold for every hostile input."""
    source = tmp_path / "evidence" / "DFIR-HOSTILE01-2025-10-02.zip"
    source.parent.mkdir()
    source.write_bytes(archive)
    out = tmp_path / "case" / "out"
    out.parent.mkdir()
    private_temp = tmp_path / "temp"          # temporary copies of evidence go here and must be gone after
    private_temp.mkdir()
    before = snapshot(tmp_path)
    with warnings.catch_warnings(), _temp_dir(private_temp):
        warnings.simplefilter("error")        # zipfile warnings (duplicate names …) must not escape either
        result = run_convert([source], out, limits)
    assert snapshot(tmp_path, skip=out) == before, "something outside OUT was created, changed or left behind"
    assert set(DNS_ENTRIES) <= set(result.dns_entries()), "the valid DNSCache.csv next to the hostile member was lost"
    assert not result.accounting_errors()
    return result


@contextmanager
def _temp_dir(path: Path):
    saved, tempfile.tempdir = tempfile.tempdir, str(path)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def refusal(result: Converted, suffix: str) -> str:
    """The refused member's CollectedFile status and its error ParseIssue, which must say the same thing."""
    row = result.file(suffix)
    assert row["Status"] == "refused", row
    errors = [i["Reason"] for i in result.issues_for(suffix) if i["Severity"] == "error"]
    assert errors, f"no error ParseIssue for {suffix}"
    return " ".join(errors)


# ---- names that try to leave the archive ------------------------------------------------------

def test_zip_slip_names_are_refused_and_nothing_lands_outside_out(tmp_path):
    token = uuid.uuid4().hex
    hostile = {
        f"../../slip-{token}-dotdot.csv": "climbs out",
        f"..\\..\\slip-{token}-backslash.csv": "climbs out",
        f"{ROOT}Logs\\..\\..\\..\\slip-{token}-inner.csv": "climbs out",
        f"/tmp/slip-{token}-absolute.csv": "absolute",
        f"\\tmp\\slip-{token}-rooted.csv": "absolute",
        f"C:\\Windows\\Temp\\slip-{token}-drive.csv": "absolute",
        f"C:slip-{token}-drive-relative.csv": "absolute",
        f"\\\\fileserver\\share\\slip-{token}-unc.csv": "absolute",
        f"//fileserver/share/slip-{token}-unc-slash.csv": "absolute",
    }
    result = convert_hostile(tmp_path, zip_bytes([DNS] + [Entry(n, b'"a"\r\n"b"\r\n') for n in hostile]))
    for name, why in hostile.items():
        tail = name.replace("\\", "/").rsplit("/", 1)[-1].split(":")[-1]
        assert why in refusal(result, tail), name
    pattern = f"slip-{token}*"
    landed = [*Path("/tmp").glob(pattern), *Path("/").glob(pattern), *Path.cwd().glob(pattern),
              *tmp_path.parent.rglob(pattern)]
    assert landed == []


def test_symlink_member_is_refused_never_followed(tmp_path):
    result = convert_hostile(tmp_path, zip_bytes([DNS, Entry(f"{ROOT}Browsers\\History", b"/etc/shadow",
                                                             symlink=True)]))
    assert "symbolic-link member refused" in refusal(result, "Browsers/History")


# ---- members the tool cannot or must not decompress ---------------------------------------------

def test_zip_bomb_stops_at_the_member_cap_with_bounded_memory(tmp_path):
    """3000 MiB of zeros in a 3 MiB archive: reading stops at the 8 MiB cap, memory stays small."""
    archive = deflate_bomb_zip(f"{ROOT}Evidence\\bomb.bin", 3000, [DNS])
    assert len(archive) < 4 << 20
    tracemalloc.start()
    try:
        result = convert_hostile(tmp_path, archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    reasons = " ".join(i["Reason"] for i in result.issues_for("bomb.bin"))
    assert "inflates beyond 8,388,608 bytes (zip bomb?)" in reasons
    assert result.file("bomb.bin")["Status"] == "refused"
    assert peak < 48 << 20, f"peak Python memory {peak >> 20} MiB while refusing a zip bomb"


def test_zip_bomb_with_default_limits_stops_at_the_compression_ratio(tmp_path):
    """Deflate tops out near 1030:1, real evidence near 50:1: the ratio check stops a bomb early."""
    archive = deflate_bomb_zip(f"{ROOT}Evidence\\bomb.bin", 1000, [DNS])
    result = convert_hostile(tmp_path, archive, Limits())
    reasons = " ".join(i["Reason"] for i in result.issues_for("bomb.bin"))
    assert "compression ratio above 250:1 (zip bomb?)" in reasons
    assert result.file("bomb.bin")["Status"] == "refused"
    assert result.dns_entries() == sorted(DNS_ENTRIES)


def test_zip_bomb_exhausting_the_source_budget_refuses_only_what_comes_after(tmp_path):
    """With the total cap below the bomb, the bomb is refused by the source budget; the CSV (read
    first, by path order) still converts."""
    archive = deflate_bomb_zip(f"{ROOT}Zz\\bomb.bin", 200, [DNS])
    result = convert_hostile(tmp_path, archive, Limits(max_member_bytes=1 << 30, max_total_bytes=16 << 20))
    reasons = " ".join(i["Reason"] for i in result.issues_for("bomb.bin"))
    assert "source inflates beyond 16,777,216 bytes (--max-bytes)" in reasons


def test_encrypted_member_is_refused(tmp_path):
    archive = patch_member(zip_bytes([DNS, Entry(f"{ROOT}Secret\\passwords.csv", b'"a"\r\n')]), 1, flags_or=0x1)
    result = convert_hostile(tmp_path, archive)
    assert "encrypted member: cannot be read without the password" in refusal(result, "passwords.csv")
    assert not result.summary.ok


def test_deflate64_member_is_refused_as_unsupported(tmp_path):
    """Deflate64 (method 9, Explorer's zipper for big archives) has no maintained Python decoder."""
    archive = patch_member(zip_bytes([DNS, Entry(f"{ROOT}Event Viewer\\Security.evtx", b"ElfFile\x00" * 64)]), 1,
                           method=9)
    reason = refusal(convert_hostile(tmp_path, archive), "Security.evtx")
    assert "Deflate64" in reason and "not supported" in reason and "re-zip" in reason


def test_member_with_corrupt_deflate_data_is_reported_not_a_parser_crash(tmp_path):
    good = zip_bytes([DNS, Entry(f"{ROOT}Logs\\notes.txt", random.Random(9).randbytes(64) * 2000)])
    at = good.index(b"notes.txt") + len("notes.txt") + 200
    damaged = good[:at] + bytes(64) + good[at + 64:]
    result = convert_hostile(tmp_path, damaged)
    assert result.file("notes.txt")["Status"] == "refused"
    assert not [i for i in result.issues if "internal error" in i["Reason"]]
    assert any("damaged" in i["Reason"] or "CRC" in i["Reason"] for i in result.issues_for("notes.txt"))


# ---- nesting ---------------------------------------------------------------------------------

def test_deep_zip_in_zip_nesting_stops_at_the_depth_cap(tmp_path):
    inner = zip_bytes([Entry("deepest.csv", b'"a"\r\n"b"\r\n')])
    for level in range(12, 0, -1):
        inner = zip_bytes([Entry(f"level{level}.zip", inner)])
    result = convert_hostile(tmp_path, zip_bytes([DNS, Entry(f"{ROOT}Nested\\level0.zip", inner)]))
    paths = [f["SourceFile"] for f in result.files]
    assert max(p.count(".zip") for p in paths) == Limits().max_depth
    assert not any(p.endswith("deepest.csv") for p in paths)
    assert any("nested zip deeper than 3 levels; not opened" in i["Reason"] for i in result.issues)


def test_nested_zip_that_is_not_a_zip_is_inventoried_with_a_warning(tmp_path):
    result = convert_hostile(tmp_path, zip_bytes([DNS, Entry(f"{ROOT}Nested\\fake.zip", b"PK\x03\x04 not really")]))
    assert result.file("fake.zip")["Sha256"]
    assert any("nested zip could not be opened" in i["Reason"] for i in result.issues_for("fake.zip"))


# ---- broken archives -------------------------------------------------------------------------

def test_truncated_archive_without_central_directory_recovers_from_local_headers(tmp_path):
    log = ("\r\n".join(f"2025-10-02 12:00:{i % 60:02d} line {i} {uuid.UUID(int=i)}" for i in range(20000))).encode()
    whole = zip_bytes([DNS, Entry(f"{ROOT}Logs\\big.log", log)])
    cut = whole.index(b"big.log") + len(b"big.log") + (len(whole) - whole.index(b"big.log")) // 3
    result = convert_hostile(tmp_path, whole[:cut])
    reasons = " ".join(i["Reason"] for i in result.issues)
    assert "not a readable zip" in reasons and "recovering members from local headers" in reasons
    assert any("cut off by the truncation" in i["Reason"] for i in result.issues_for("big.log"))
    assert 0 < result.file("big.log")["SizeBytes"] < len(log)


class _Unseekable(io.RawIOBase):
    """A write-only pipe: zipfile then streams members with data descriptors, as .NET does on a pipe."""

    def __init__(self):
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        return self.buf.write(b)


def test_truncated_streamed_archive_with_data_descriptors_recovers_deflated_members(tmp_path):
    pipe = _Unseekable()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(DNS_MEMBER, DNSCACHE_CSV)
        zf.writestr(f"{ROOT}Logs\\a.txt", b"alpha " * 1000)
        zf.writestr(f"{ROOT}Logs\\b.txt", b"bravo " * 1000)
    whole = pipe.buf.getvalue()
    assert zipfile.ZipFile(io.BytesIO(whole)).infolist()[0].flag_bits & 0x8
    result = convert_hostile(tmp_path, whole[:whole.index(b"PK\x01\x02")])
    assert {f["SourceFile"].rsplit("/", 1)[-1] for f in result.files} >= {"DNSCache.csv", "a.txt", "b.txt"}
    assert result.file("b.txt")["SizeBytes"] == 6000


def test_garbage_with_a_zip_name_is_reported(tmp_path):
    source = tmp_path / "DFIR-JUNK-2025-10-02.zip"
    source.write_bytes(random.Random(4).randbytes(4096))
    result = run_convert([source], tmp_path / "out")
    assert any("not a readable zip" in i["Reason"] for i in result.issues)


# ---- names -----------------------------------------------------------------------------------

def test_duplicate_and_case_colliding_names_are_all_kept(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # zipfile warns about the duplicates it is asked to write
        archive = zip_bytes([DNS, Entry(f"{ROOT}Logs\\Same.txt", b"first"), Entry(f"{ROOT}Logs\\same.TXT", b"second"),
                             Entry(f"{ROOT}Logs/Same.txt", b"third"), Entry(DNS_MEMBER, DNSCACHE_CSV)])
    result = convert_hostile(tmp_path, archive)
    same = sorted(f["SourceFile"] for f in result.files if f["SourceFile"].lower().startswith("logs/same"))
    assert same == ["Logs/Same.txt", "Logs/Same~3.txt", "Logs/same~2.TXT"]
    assert len({f["Sha256"] for f in result.files if f["SourceFile"].lower().startswith("logs/same")}) == 3
    assert any("duplicate member name" in i["Reason"] for i in result.issues_for("Same~3.txt"))
    assert result.file("DNSCache~2.csv")["RowsWritten"] == 3   # the second copy converts too
    assert result.dns_entries() == sorted(DNS_ENTRIES * 2)


def test_member_name_that_is_not_valid_utf8_does_not_stop_the_archive(tmp_path):
    """The UTF-8 flag is set but the name bytes are not UTF-8: zipfile refuses the whole central
    directory, so the members are recovered from their local headers with a replacement character."""
    name = f"{ROOT}Users\\abcdef.txt"
    archive = zip_bytes([DNS, Entry(name, b"payload")])
    raw = name.encode()[:-10] + b"\xff\xfe\xc3(" + name.encode()[-6:]
    result = convert_hostile(tmp_path, rename_member_raw(archive, 1, raw, utf8_flag=True))
    assert any("\ufffd" in f["SourceFile"] for f in result.files)
    assert any("not a readable zip" in i["Reason"] for i in result.issues)


def test_member_name_in_cp437_is_decoded_not_refused(tmp_path):
    name = f"{ROOT}Users\\abcdef.txt"
    archive = zip_bytes([DNS, Entry(name, b"payload")])
    raw = name.encode()[:-10] + "é€ÿ".encode("cp1252") + b"x" + name.encode()[-6:]
    result = convert_hostile(tmp_path, rename_member_raw(archive, 1, raw, utf8_flag=False))
    assert result.file("xef.txt")["Status"] == "unparsed"


# ---- sheer number of members --------------------------------------------------------------------

MANY = int(os.environ.get("TRIAGEPARSE_MANY_MEMBERS", "20000"))


def test_many_empty_members_convert_in_bounded_time(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(DNS_MEMBER, DNSCACHE_CSV)
        for i in range(MANY):
            zf.writestr(f"{ROOT}Empty\\{i:07d}.txt", b"")
    started = time.perf_counter()
    result = convert_hostile(tmp_path, buf.getvalue(), None)
    print(f"{MANY:,} empty members converted in {time.perf_counter() - started:.1f} s")
    cap = Limits().max_members
    assert len(result.files) == min(MANY + 1, cap)
    assert all(f["Status"] == "unparsed" and f["Sha256"] for f in result.files if "/Empty/" in f"/{f['SourceFile']}")
    if MANY + 1 > cap:
        assert any(f"only the first {cap:,} are read" in i["Reason"] for i in result.issues)


def test_member_count_cap_is_reported(tmp_path):
    entries = [DNS] + [Entry(f"{ROOT}Empty\\{i:05d}.txt") for i in range(300)]
    result = convert_hostile(tmp_path, zip_bytes(entries), Limits(max_members=100))
    assert any("only the first 100 are read" in i["Reason"] for i in result.issues)
    assert len(result.files) == 100


# ---- folder sources ----------------------------------------------------------------------------

def test_symlinks_inside_a_folder_source_are_not_followed(tmp_path):
    root = tmp_path / "DFIR-FOLDER01-2025-10-02"
    (root / "CSV Results (SIEM Import Data)").mkdir(parents=True)
    (root / "CSV Results (SIEM Import Data)" / "DNSCache.csv").write_bytes(DNSCACHE_CSV)
    (root / "shadow.csv").symlink_to("/etc/shadow")
    result = run_convert([root], tmp_path / "out")
    assert result.dns_entries() == sorted(DNS_ENTRIES)
    assert any("symbolic link" in i["Reason"] for i in result.issues_for("shadow.csv"))


def test_pipes_and_folder_links_inside_a_folder_source_are_reported_not_read(tmp_path):
    root = tmp_path / "DFIR-FOLDER01-2025-10-02"
    (root / "CSV Results (SIEM Import Data)").mkdir(parents=True)
    (root / "CSV Results (SIEM Import Data)" / "DNSCache.csv").write_bytes(DNSCACHE_CSV)
    os.mkfifo(root / "blocks-forever.csv")          # reading it would hang the conversion
    (root / "etc").symlink_to("/etc", target_is_directory=True)
    result = run_convert([root], tmp_path / "out")
    assert result.dns_entries() == sorted(DNS_ENTRIES)
    assert any("not a regular file" in i["Reason"] for i in result.issues_for("blocks-forever.csv"))
    assert any("symbolic link to a folder" in i["Reason"] for i in result.issues_for("etc"))


def test_zip_with_undecodable_names_inside_a_folder_source_is_reported(tmp_path):
    root = tmp_path / "DFIR-FOLDER01-2025-10-02"
    (root / "CSV Results (SIEM Import Data)").mkdir(parents=True)
    (root / "CSV Results (SIEM Import Data)" / "DNSCache.csv").write_bytes(DNSCACHE_CSV)
    inner = rename_member_raw(zip_bytes([Entry("abc.txt", b"x")]), 0, b"a\xffc.txt", utf8_flag=True)
    (root / "Browsers.zip").write_bytes(inner)
    result = run_convert([root], tmp_path / "out")
    assert result.dns_entries() == sorted(DNS_ENTRIES)
    assert any("zip inside the folder could not be opened" in i["Reason"] for i in result.issues_for("Browsers.zip"))


def test_folder_member_cap_holds_across_subfolders(tmp_path):
    root = tmp_path / "many"
    for folder in range(5):
        (root / f"d{folder}").mkdir(parents=True)
        for i in range(10):
            (root / f"d{folder}" / f"{i}.txt").write_bytes(b"x")
    members, _, problems, _ = open_source(root, Limits(max_members=15))
    assert len(members) == 15 and "more than 15 files" in problems[0][1]


def test_source_listing_is_bounded_by_the_member_cap(tmp_path):
    archive = tmp_path / "many.zip"
    archive.write_bytes(zip_bytes([Entry(f"f{i}.txt") for i in range(50)]))
    members, _, problems, spools = open_source(archive, Limits(max_members=10))
    for s in spools:
        s.close()
    assert len(members) == 10 and "only the first 10 are read" in problems[0][1]


# ---- output safety ---------------------------------------------------------------------------

def test_output_of_another_format_version_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"format_version": FORMAT_VERSION + 1, "tool": "triageparse"}))
    with pytest.raises(OutputError, match="another triageparse format"):
        prepare_output(out)


@pytest.mark.parametrize("marker", ["[1]", "not json", ""])
def test_unreadable_marker_is_refused(tmp_path, marker):
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(marker)
    with pytest.raises(OutputError, match="another triageparse format"):
        prepare_output(out)


def test_non_empty_foreign_folder_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"precious")
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="not empty and was not written by triageparse"):
        prepare_output(out)
    assert snapshot(tmp_path) == before


def test_output_path_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "out"
    out.write_bytes(b"x")
    with pytest.raises(OutputError, match="not a folder"):
        prepare_output(out)


def test_cli_refuses_foreign_output_with_a_message_and_exit_code_2(tmp_path, capsys):
    source = tmp_path / "DFIR-HOSTILE01-2025-10-02.zip"
    source.write_bytes(zip_bytes([DNS]))
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"format_version": 0}))
    assert cli.main(["convert", str(source), "-o", str(out), "-q"]) == 2
    assert "another triageparse format" in " ".join(capsys.readouterr().err.split())
    assert sorted(p.name for p in out.iterdir()) == [MARKER]


def test_reconverting_into_own_output_is_allowed_and_writes_only_table_files(tmp_path):
    source = tmp_path / "in" / "DFIR-HOSTILE01-2025-10-02.zip"
    source.parent.mkdir()
    source.write_bytes(zip_bytes([DNS]))
    out = tmp_path / "out"
    first = run_convert([source], out)
    second = run_convert([source], out)
    assert first.dns_entries() == second.dns_entries() == sorted(DNS_ENTRIES)
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert MARKER in written
    assert all(p == MARKER or (p.count("/") == 1 and p.endswith(".parquet")) for p in written), written
    assert not any(p.name.endswith(".tmp") for p in out.rglob("*"))
    assert read_table(out, "Collection")
