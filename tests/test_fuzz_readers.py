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
from triageparse.artifacts.base import FileContext, choose, registered
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

INSERTS = [b"\x00", b'"', b"\r", b"\n", b"\r\n", b",", b"\xef\xbb\xbf", b"\xff\xfe", b"\xff", b"\x00" * 4096, b"PK\x03\x04"]

# One damage: (operation, where in per mille of the length, argument). Positions are relative so that a
# failing example prints as a short recipe, not as megabytes of bytes.
mutations = st.lists(st.tuples(st.sampled_from(["flip", "truncate", "delete", "duplicate", "insert"]),
                               st.integers(0, 1000), st.integers(0, 4096)), min_size=1, max_size=6)


def damage(seed: bytes, recipe: list[tuple[str, int, int]]) -> bytes:
    """``seed`` with byte flips, truncations, deletions, duplications and hostile insertions."""
    data = bytearray(seed)
    for op, permille, arg in recipe:
        at = len(data) * permille // 1000
        if op == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << (arg % 8)
        elif op == "truncate":
            del data[at:]
        elif op == "delete":
            del data[at:at + arg + 1]
        elif op == "duplicate":
            data[at:at] = data[at:at + arg + 1]
        elif op == "insert":
            data[at:at] = INSERTS[arg % len(INSERTS)]
    return bytes(data)


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    return mutations.map(lambda recipe: damage(seed, recipe))


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


def route_and_parse(path: str, data: bytes, out: Path) -> FileContext | None:
    """Route ``data`` the way convert does (highest claim wins) and run that parser through a FileContext
    built like convert._convert_collection builds it; None when no parser claims the bytes."""
    member = Member(path, len(data), lambda: io.BytesIO(data), Budget(Limits()))
    cls, _ = choose(member)
    if cls is None:
        return None
    coll = Collection(Path("fuzz.zip"), "", [member], "0" * 64)
    run = CollectionRun(coll, out, None, None)
    ctx = FileContext(run, member, cls.name)
    try:
        cls().parse(member, ctx)
    finally:
        run.sink.abort()
    return ctx


SEEDED = [c for c in sorted(registered(), key=lambda c: c.name) if c.name in seeds_by_artifact()]


@pytest.mark.parametrize("cls", SEEDED, ids=[c.name for c in SEEDED])
def test_fuzz_artifact_parser_never_raises_and_balances(cls):
    """Mutations of real members of this parser, routed like convert routes them: whichever parser
    takes the damaged bytes must not raise and must balance its books."""
    seeds = seeds_by_artifact()[cls.name]
    routed_here = []

    @FUZZ
    @given(st.sampled_from(range(len(seeds))), st.one_of(mutations, st.binary(max_size=4096)))
    def check(seed, recipe_or_bytes):
        path, original = seeds[seed]
        data = recipe_or_bytes if isinstance(recipe_or_bytes, bytes) else damage(original, recipe_or_bytes)
        with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
            ctx = route_and_parse(path, data, Path(tmp))
            if ctx is None:
                return
            routed_here.append(ctx.parser == cls.name)
            assert ctx.rows_read == ctx.rows_written + ctx.rows_rejected, \
                f"{ctx.parser}: read {ctx.rows_read}, written {ctx.rows_written}, rejected {ctx.rows_rejected}"
            assert os.listdir(tmp) == [], "a parser wrote files itself instead of through ctx.emit"

    check()
    assert any(routed_here), f"no fuzzed input reached {cls.name}: the test would prove nothing"


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


def build_damaged_collection(deleted: list[int], member_damage: dict[int, list], archive_damage: list | None) -> bytes:
    """The demo collection without the ``deleted`` members, with ``member_damage`` applied to member bytes
    and ``archive_damage`` (transfer damage: flips, cuts) to the compressed archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data) in enumerate(demo_members()):
            if i not in deleted:
                data = damage(data, member_damage[i]) if i in member_damage else data
                zf.writestr(zipfile.ZipInfo(name, (2025, 10, 2, 12, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return damage(buf.getvalue(), archive_damage) if archive_damage else buf.getvalue()


def member_index() -> st.SearchStrategy[int]:
    return st.integers(0, len(demo_members()) - 1)


@FUZZ
@given(st.lists(member_index(), max_size=8), st.dictionaries(member_index(), mutations, max_size=3),
       st.one_of(st.none(), mutations))
def test_fuzz_damaged_demo_collection_converts_with_balanced_books(deleted, member_damage, archive_damage):
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        tmp = Path(tmp)
        source = tmp / "DFIR-WS01-2025-10-02.zip"
        source.write_bytes(build_damaged_collection(deleted, member_damage, archive_damage))
        out = tmp / "out"
        before = snapshot(tmp)
        result = run_convert([source], out, Limits(max_total_bytes=256 << 20))
        assert snapshot(tmp, skip=out) == before
        assert result.accounting_errors() == []
        crashes = [(i["SourceFile"], i["Reason"]) for i in result.issues if "internal error" in i["Reason"]]
        assert crashes == [], crashes
        mismatches = [i["Reason"] for i in result.issues if "accounting mismatch" in i["Reason"]]
        assert mismatches == []
