"""Property-based fuzzing of every reader: for any input bytes a reader returns rows and issues and
never raises, and its books balance (rows read = rows written + rows rejected).

CI runs a fixed, derandomised number of examples (TRIAGEPARSE_FUZZ_EXAMPLES, default 25);
``make fuzz`` sets it to 2000 and lets hypothesis pick fresh random examples.
"""
from __future__ import annotations

import io
import os
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_paths import corpus_dir
from hostile_inputs import DNSCACHE_CSV, run_convert, snapshot
from triageparse.artifacts.base import Artifact, FileContext, choose, registered
from triageparse.collection import Budget, Collection, Limits, Member, open_source, split_collections
from triageparse.convert import CollectionRun
from triageparse.formats.encoding import iter_lines, sniff
from triageparse.formats.pscsv import read_pscsv

ROOT = Path(__file__).resolve().parents[1]
DEMO_ZIP = ROOT / "sample_data" / "DFIR-WS01-2025-10-02.zip"
DEMO_FOLDER = ROOT / "sample_data" / "DFIR-LEGACY01-2023-03-14"
EXAMPLES = int(os.environ.get("TRIAGEPARSE_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize="TRIAGEPARSE_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
SEED_BYTES = 1 << 20            # members larger than this are not used as seeds (speed)
SEEDS_PER_ARTIFACT = 3


# ---- mutations ---------------------------------------------------------------------------------

@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` with a few byte flips, truncations, deletions, duplications and hostile insertions."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "truncate", "delete", "duplicate", "insert"]))
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 4096))]
        elif op == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 4096))]
        else:
            data[at:at] = draw(st.sampled_from([b"\x00", b'"', b"\r", b"\n", b"\r\n", b",", b"\xef\xbb\xbf",
                                                b"\xff\xfe", b"\xff", b"\x00" * 4096, b"PK\x03\x04"]))
    return bytes(data)


def any_bytes_or_mutation_of(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=2048), st.sampled_from(seeds).flatmap(mutated))


# ---- the format readers --------------------------------------------------------------------------

CSV_SEEDS = [DNSCACHE_CSV, b"\xff\xfe" + DNSCACHE_CSV[3:].decode().encode("utf-16-le"),
             b'#TYPE System.Object\r\n"A","a"\r\n"1","2"\r\n"3"\r\n']


@FUZZ
@given(any_bytes_or_mutation_of(CSV_SEEDS))
def test_fuzz_pscsv_never_raises_and_accounts_for_every_record(data):
    result, batches = read_pscsv(lambda: io.BytesIO(data), data[: 64 << 10])
    delivered = 0
    for batch in batches:
        assert batch.table.num_columns == len(result.header)
        delivered += batch.table.num_rows
    assert result.records == delivered + result.rejected


@FUZZ
@given(any_bytes_or_mutation_of(CSV_SEEDS), st.integers(1, 64),
       st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16-le-bom", "utf-16-be-bom", None]))
def test_fuzz_iter_lines_never_raises_and_bounds_lines(data, max_line, encoding):
    numbers = []
    for number, line, cut in iter_lines(io.BytesIO(data), encoding or sniff(data), max_line=max_line):
        assert len(line) <= max_line and (cut or "\r" not in line and "\n" not in line)
        numbers.append(number)
    assert numbers == list(range(1, len(numbers) + 1))


# ---- every registered artifact parser -------------------------------------------------------------

def _sources() -> list[Path]:
    found = [p for p in (DEMO_ZIP, DEMO_FOLDER) if p.exists()]
    corpus = corpus_dir()
    if (corpus / "MANIFEST.json").is_file():
        found.append(corpus)
    return found


@lru_cache(maxsize=1)
def seeds_by_artifact() -> dict[str, list[tuple[str, bytes]]]:
    """Real members each parser claims (demo collections and corpus): the starting points of mutation."""
    seeds: dict[str, list[tuple[str, bytes]]] = {}
    for source in _sources():
        members, digest, problems, spools = open_source(source, Limits())
        try:
            for coll in split_collections(source, members, digest, problems):
                for m in sorted(coll.members, key=lambda m: (m.size or 0, m.path)):
                    if m.refused or not m.size or m.size > SEED_BYTES:
                        continue
                    cls, _ = choose(m)
                    if cls is not None and len(seeds.setdefault(cls.name, [])) < SEEDS_PER_ARTIFACT:
                        with m.open() as f:
                            seeds[cls.name].append((m.path, f.read()))
        finally:
            for s in spools:
                s.close()
    return seeds


def parse_bytes(cls: type[Artifact], path: str, data: bytes, out: Path) -> FileContext:
    """Run one parser on ``data`` through a FileContext built the way convert._convert_collection does."""
    member = Member(path, len(data), lambda: io.BytesIO(data), Budget(Limits()))
    coll = Collection(Path("fuzz.zip"), "", [member], "0" * 64)
    run = CollectionRun(coll, out, None, None)
    ctx = FileContext(run, member, cls.name)
    try:
        cls().parse(member, ctx)
    finally:
        run.sink.abort()
    return ctx


ARTIFACTS = sorted(registered(), key=lambda c: c.name)


@pytest.mark.parametrize("cls", ARTIFACTS, ids=[c.name for c in ARTIFACTS])
def test_fuzz_artifact_parser_never_raises_and_balances(cls):
    seeds = seeds_by_artifact().get(cls.name) or [(f"fuzz/{cls.name}.bin", b"")]
    paths = [p for p, _ in seeds]

    @FUZZ
    @given(st.integers(0, len(seeds) - 1).flatmap(
        lambda i: st.tuples(st.just(paths[i]), st.one_of(mutated(seeds[i][1]), st.binary(max_size=4096)))))
    def check(case):
        path, data = case
        with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
            ctx = parse_bytes(cls, path, data, Path(tmp))
            assert ctx.rows_read == ctx.rows_written + ctx.rows_rejected, \
                f"{cls.name}: read {ctx.rows_read}, written {ctx.rows_written}, rejected {ctx.rows_rejected}"
            assert os.listdir(tmp) == [], "a parser wrote files itself instead of through ctx.emit"

    check()


def test_every_sample_artifact_has_a_mutation_seed():
    """Parsers with real sample members are fuzzed from them, not only from random bytes."""
    seeds = seeds_by_artifact()
    assert {"dns_cache_csv", "evtx"} <= set(seeds), sorted(seeds)


# ---- mutation runs over a whole collection ------------------------------------------------------------

@lru_cache(maxsize=1)
def demo_members() -> tuple[tuple[str, bytes], ...]:
    """The members of the demo collection, or of a small collection built here if it is not there."""
    if DEMO_ZIP.exists():
        with zipfile.ZipFile(DEMO_ZIP) as zf:
            return tuple((i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir())
    root = "DFIR-FUZZ01-2025-10-02\\"
    return ((f"{root}CSV Results (SIEM Import Data)\\DNSCache.csv", DNSCACHE_CSV),
            (f"{root}Connections\\notes.txt", b"\xff\xfe" + "line one\r\nline two\r\n".encode("utf-16-le")))


@st.composite
def damaged_collection(draw) -> bytes:
    """The demo collection with members deleted, member bytes damaged, and sometimes the zip cut."""
    members = list(demo_members())
    keep = draw(st.lists(st.booleans(), min_size=len(members), max_size=len(members)))
    chosen = [m for m, k in zip(members, keep) if k] or members[:1]
    damaged = set(draw(st.lists(st.integers(0, len(chosen) - 1), max_size=3)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data) in enumerate(chosen):
            zf.writestr(zipfile.ZipInfo(name, (2025, 10, 2, 12, 0, 0)),
                        draw(mutated(data)) if i in damaged else data, zipfile.ZIP_DEFLATED)
    archive = buf.getvalue()
    if draw(st.booleans()):
        archive = draw(mutated(archive))     # transfer damage: flips or cuts in the compressed bytes
    return archive


@FUZZ
@given(damaged_collection())
def test_fuzz_damaged_demo_collection_converts_with_balanced_books(archive):
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        tmp = Path(tmp)
        source = tmp / "DFIR-WS01-2025-10-02.zip"
        source.write_bytes(archive)
        out = tmp / "out"
        before = snapshot(tmp)
        result = run_convert([source], out, Limits(max_total_bytes=256 << 20))
        assert snapshot(tmp, skip=out) == before
        assert result.accounting_errors() == []
        crashes = [(i["SourceFile"], i["Reason"]) for i in result.issues if "internal error" in i["Reason"]]
        assert crashes == [], crashes
        mismatches = [i["Reason"] for i in result.issues if "accounting mismatch" in i["Reason"]]
        assert mismatches == []
