"""Nothing is lost without a trace: every file of a conversion has rows read = rows written + rows
rejected in CollectedFile, a parser that breaks is recorded and does not stop the others, and the exit
code says that something failed. (The same books are checked on fuzzed input in test_fuzz_readers.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from hostile_inputs import DNS_ENTRIES, DNSCACHE_CSV, Converted, read_table, run_convert
from triageparse import cli
from triageparse.artifacts.base import Artifact, registered
from triageparse.collection import LimitExceeded
from triageparse.convert import BOOKKEEPING


@pytest.fixture(scope="module")
def corpus_run(corpus, tmp_path_factory) -> Converted:
    """Every corpus file, as loose files of one folder source, in one conversion."""
    return run_convert([corpus], tmp_path_factory.mktemp("corpus") / "out")


def test_corpus_every_file_balances_its_books(corpus_run):
    unbalanced = [(f["SourceFile"], f["RowsRead"], f["RowsWritten"], f["RowsRejected"])
                  for f in corpus_run.files if f["RowsRead"] != f["RowsWritten"] + f["RowsRejected"]]
    assert unbalanced == []
    mismatches = [(i["SourceFile"], i["Reason"]) for i in corpus_run.issues if "accounting mismatch" in i["Reason"]]
    assert mismatches == [], "a parser's own counts did not balance (convert had to settle them)"


def test_corpus_no_parser_crashes(corpus_run):
    crashes = [(i["SourceFile"], i["Reason"][:300]) for i in corpus_run.issues if "internal error" in i["Reason"]]
    assert crashes == []
    assert not [f["SourceFile"] for f in corpus_run.files if f["Status"] == "failed"]


def test_corpus_every_manifest_file_is_inventoried_with_its_sha256(corpus_run, manifest):
    by_path = {f["SourceFile"]: f for f in corpus_run.files}
    missing = [e["staged"] for e in manifest if e["staged"] not in by_path]
    assert missing == []
    wrong = [e["staged"] for e in manifest if by_path[e["staged"]]["Sha256"] != e["sha256"]]
    assert wrong == []


def test_corpus_rows_written_match_the_parquet_tables(corpus_run):
    written = sum(f["RowsWritten"] for f in corpus_run.files)
    in_tables = sum(len(read_table(corpus_run.out, t.name)) for t in corpus_run.out.iterdir()
                    if t.is_dir() and t.name not in BOOKKEEPING)
    assert written == in_tables > 0


# ---- parsers that break ------------------------------------------------------------------------

@pytest.fixture
def isolated_registry(monkeypatch):
    """Artifacts defined in a test register into a copy of the registry, gone after the test."""
    monkeypatch.setattr(Artifact, "registry", list(registered()))


def _folder(tmp_path: Path, **files: bytes) -> Path:
    root = tmp_path / "DFIR-ACCT01-2025-10-02"
    (root / "CSV Results (SIEM Import Data)").mkdir(parents=True)
    (root / "CSV Results (SIEM Import Data)" / "DNSCache.csv").write_bytes(DNSCACHE_CSV)
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def register_parser(name: str, suffix: str, parse) -> None:
    """A test parser that takes every ``*suffix`` file and fills DnsCacheEntry with ``parse(member, ctx)``."""
    type(name, (Artifact,), dict(name=name, tables=("DnsCacheEntry",), parse=lambda self, m, ctx: parse(m, ctx),
                                 claim=classmethod(lambda cls, m: 1000 if m.lower.endswith(suffix) else 0)))


def _two_dns_rows() -> pa.Table:
    return pa.table({"Entry": ["a.example", "b.example"], "SourceRecord": pa.array([1, 2], pa.int64())})


def test_a_parser_that_raises_is_recorded_and_the_rest_converts(tmp_path, isolated_registry):
    def parse(member, ctx):
        ctx.read(ctx.emit("DnsCacheEntry", _two_dns_rows()))
        ctx.read(5)               # read five more records, then break before writing them
        raise KeyError("the parser's own bug")
    register_parser("test_exploding", ".boom", parse)

    result = run_convert([_folder(tmp_path, **{"x.boom": b"anything"})], tmp_path / "out")
    row = result.file("x.boom")
    assert row["Status"] == "failed"
    assert (row["RowsRead"], row["RowsWritten"], row["RowsRejected"]) == (7, 2, 5)
    reasons = [i["Reason"] for i in result.issues_for("x.boom")]
    assert any("internal error in parser test_exploding: KeyError" in r for r in reasons)
    assert not any("accounting mismatch" in r for r in reasons)
    assert set(DNS_ENTRIES) <= set(result.dns_entries())
    assert result.file("DNSCache.csv")["Status"] == "parsed"
    assert not result.summary.ok


def test_a_parser_with_unbalanced_books_is_reported_and_settled(tmp_path, isolated_registry):
    def parse(member, ctx):
        ctx.emit("DnsCacheEntry", _two_dns_rows())
        ctx.read(5)               # counts five, wrote two, rejected none
    register_parser("test_careless", ".careless", parse)

    result = run_convert([_folder(tmp_path, **{"x.careless": b"anything"})], tmp_path / "out")
    row = result.file("x.careless")
    assert (row["RowsRead"], row["RowsWritten"], row["RowsRejected"]) == (5, 2, 3)
    assert any("accounting mismatch in parser test_careless: read 5, written 2, rejected 0" in i["Reason"]
               for i in result.issues_for("x.careless"))
    assert not result.summary.ok


def test_a_cap_hit_inside_a_parser_refuses_the_rest_of_the_file_only(tmp_path, isolated_registry):
    def parse(member, ctx):
        ctx.read(ctx.emit("DnsCacheEntry", _two_dns_rows()))
        raise LimitExceeded("x.capped: member inflates beyond 10 bytes")
    register_parser("test_capped", ".capped", parse)

    result = run_convert([_folder(tmp_path, **{"x.capped": b"anything"})], tmp_path / "out")
    row = result.file("x.capped")
    assert row["Status"] == "refused"
    assert (row["RowsRead"], row["RowsWritten"], row["RowsRejected"]) == (3, 2, 1)
    assert any("inflates beyond" in i["Reason"] and i["Severity"] == "error" for i in result.issues_for("x.capped"))


def test_cli_exit_code_says_whether_something_failed(tmp_path, isolated_registry, capsys):
    def parse(member, ctx):
        raise RuntimeError("broken")
    register_parser("test_exploding_cli", ".boom", parse)

    clean = _folder(tmp_path / "clean")
    assert cli.main(["convert", str(clean), "-o", str(tmp_path / "out-clean"), "-q", "-j", "1"]) == 0
    broken = _folder(tmp_path / "broken", **{"x.boom": b"anything"})
    assert cli.main(["convert", str(broken), "-o", str(tmp_path / "out-broken"), "-q", "-j", "1"]) == 1
    assert "ParseIssue" in capsys.readouterr().out
    files = {f["SourceFile"]: f["Status"] for f in read_table(tmp_path / "out-broken", "CollectedFile")}
    assert files["x.boom"] == "failed" and files["CSV Results (SIEM Import Data)/DNSCache.csv"] == "parsed"


def test_refused_members_balance_with_zero_rows(tmp_path):
    root = _folder(tmp_path)
    (root / "link.csv").symlink_to(root / "CSV Results (SIEM Import Data)" / "DNSCache.csv")
    result = run_convert([root], tmp_path / "out")
    assert result.accounting_errors() == []
    assert json.loads((tmp_path / "out" / "_triageparse.json").read_text())["tool"] == "triageparse"
