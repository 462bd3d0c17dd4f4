"""Offline KQL over the converted Parquet (DuckDB through duckdb-kql), and the hunting pack.

Every Parquet dataset ``OUT/<Name>/`` is a view ``<Name>`` over all its collections, so a query
written for ADX runs here unchanged, as far as duckdb-kql translates it. What it cannot
translate raises; it never returns a plausible wrong answer. We turn its errors into messages
that name the construct or the place in the query.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from . import contracts
from .frames import datasets, to_pandas

if TYPE_CHECKING:
    import pandas as pd

HUNT_FOLDER = "_hunt"


class QueryError(Exception):
    """A KQL query that could not run offline; the message says why and where."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 unsupported: bool = False):
        super().__init__(message)
        self.line = line
        self.column = column
        self.unsupported = unsupported


# ----------------------------------------------------------------------------------------------- query

def connect(out: str | Path):
    """A DuckDB connection (TimeZone UTC) with one view per Parquet dataset of ``out``.

    A contract table that no collection filled is an empty table with the contract's columns, as
    in ADX after ``.create-merge``: a query over it finds nothing instead of failing.
    """
    import duckdb_kql

    con = duckdb_kql.connect()
    found = datasets(out)
    for name, folder in found.items():
        pattern = str(folder / "*.parquet").replace("'", "''")
        ident = name.replace('"', '""')
        # union_by_name: files written by different triageparse versions may differ in columns.
        con.execute(f"CREATE VIEW \"{ident}\" AS SELECT * FROM read_parquet('{pattern}', union_by_name=true)")
    for name, contract in contracts.all_contracts().items():
        if name not in found:        # a main-schema table, where duckdb-kql looks (registered ones are temp.)
            con.register("_empty_contract", contract.schema.empty_table())
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _empty_contract')
            con.unregister("_empty_contract")
    return con


def _pointer(kql: str, line: int, column: int) -> str:
    """The query line with a caret under the failing position (line 1-based, column 0-based)."""
    lines = kql.splitlines() or [""]
    text = lines[min(max(line, 1), len(lines)) - 1]
    return f"  line {line}, column {column + 1}:\n    {text}\n    {' ' * column}^"


def _find(kql: str, word: str) -> tuple[int, int] | None:
    """Where ``word`` first occurs as a whole identifier in the query (line 1-based, column 0-based)."""
    m = re.search(rf"(?<![\w.]){re.escape(word)}(?!\w)", kql)
    if not m:
        return None
    before = kql[:m.start()]
    return before.count("\n") + 1, m.start() - (before.rfind("\n") + 1)


_OPERATOR_SPELLING = {"mvapply": "mv-apply", "mvexpand": "mv-expand"}
# Operators whose absence from duckdb-kql's grammar shows up as a syntax error rather than a refusal.
_GRAMMAR_GAPS = re.compile(r"\|\s*(serialize)\s*(\||$)", re.M)


def _construct_name(construct: str, kql: str, span) -> str:
    """duckdb-kql's internal names (``MakeSeriesOperator``, ``function:ipv4_is_private``) as KQL spells them."""
    kind, _, detail = construct.rpartition(":")
    if kind in ("function", "aggregate"):
        return f"{detail}()"
    if kind and kind != "source":                      # e.g. format_datetime:fffffff
        return f"{kind} with {detail!r}"
    name = re.sub(r"(OperatorPart|Operator|Expression|Statement)$", "", detail)
    name = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower() or construct
    name = _OPERATOR_SPELLING.get(name, name)
    if name == "evaluate" and span:                    # name the plugin: `evaluate bag_unpack`
        line = (kql.splitlines() or [""])[span.line - 1]
        if m := re.match(r"evaluate\s+(\w+)", line[span.column:]):
            name = f"evaluate {m[1]}"
    return name


def _short(message: str) -> str:
    """ANTLR lists every token it could have taken; past a handful that is noise, not help."""
    m = re.search(r"expecting \{([^}]*)\}", message)
    if m and m[1].count(",") >= 8:
        return message[:m.start()] + "expecting an operand or operator here"
    return message


def _explain(exc: Exception, kql: str, tables: Iterable[str]) -> QueryError:
    import duckdb
    import duckdb_kql

    if isinstance(exc, duckdb_kql.KqlUnsupportedError):
        name = _construct_name(exc.construct, kql, exc.span)
        where = (exc.span.line, exc.span.column) if exc.span else _find(kql, name.split()[0].rstrip("()"))
        why = f": {exc.hint}" if exc.hint and "this wave" not in exc.hint else ""
        msg = (f"{name} is not supported offline (duckdb-kql {duckdb_kql.__version__} cannot translate it{why}). "
               f"The query is valid KQL and will run unchanged in ADX: `triageparse ingest` the output and run "
               f"it there, or rewrite this part for the offline run.")
        if where:
            msg += "\n" + _pointer(kql, *where)
        return QueryError(msg, *(where or (None, None)), unsupported=True)
    if isinstance(exc, duckdb_kql.KqlSyntaxError):
        diags = exc.diagnostics or []
        parts = [f"KQL syntax error: {_short(d.message)}\n{_pointer(kql, d.span.line, d.span.column)}"
                 for d in diags[:3]]
        first = diags[0].span if diags else None
        if gap := _GRAMMAR_GAPS.search(kql):
            parts.append(f"note: duckdb-kql's grammar lacks `{gap[1]}` on its own line of the pipe; the query may "
                         f"well be valid in ADX (there it runs unchanged)")
        return QueryError("\n".join(parts) or f"KQL syntax error: {exc}",
                          first.line if first else None, first.column if first else None,
                          unsupported=bool(gap))
    text = str(exc).split("\n")[0]
    if isinstance(exc, duckdb.CatalogException) and (m := re.search(r'with name "?(\w+)"? does not exist', text)):
        where = _find(kql, m[1])
        msg = (f"no table {m[1]!r}: neither a triageparse table (`triageparse schema --markdown` lists them) nor "
               f"a Parquet folder OUT/{m[1]}/; Parquet datasets here: {', '.join(sorted(tables)) or '(none)'}")
    elif isinstance(exc, duckdb.BinderException) and (m := re.search(r'column "([^"]+)" not found', text)):
        where = _find(kql, m[1])
        msg = f"unknown column {m[1]!r} (`triageparse schema --markdown` lists every table's columns)"
    else:
        where = getattr(exc, "span", None)
        where = (where.line, where.column) if where else None
        msg = f"query failed: {type(exc).__name__}: {text}"
    if where:
        msg += "\n" + _pointer(kql, *where)
    return QueryError(msg, *(where or (None, None)))


def run_arrow(out: str | Path, kql: str, con=None) -> pa.Table:
    """Run ``kql`` over ``out`` and return the result as Arrow (timestamps UTC, dynamic as JSON text)."""
    import duckdb
    import duckdb_kql

    con = con or connect(out)
    try:
        rel = duckdb_kql.kql(con, kql)
        table = rel.to_arrow_table()
    except (duckdb_kql.KqlError, duckdb.Error) as exc:
        tables = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
        raise _explain(exc, kql, tables) from exc
    return _normalize(table)


def to_sql(out: str | Path, kql: str) -> str:
    """The DuckDB SQL that ``kql`` becomes over ``out`` (joins need the tables' columns, hence ``out``)."""
    import duckdb
    import duckdb_kql
    from duckdb_kql.engine import schema

    con = connect(out)
    try:
        return str(duckdb_kql.to_sql(kql, schema=schema(con)))
    except (duckdb_kql.KqlError, duckdb.Error) as exc:
        raise _explain(exc, kql, datasets(out)) from exc


def _normalize(table: pa.Table) -> pa.Table:
    """Results as ADX would type them: naive timestamps (``bin()``) labelled UTC, since KQL time is UTC;
    lists and structs (``make_list``) as JSON text, like every other dynamic value here."""
    import orjson

    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp(f.type.unit, tz="UTC")))
        elif pa.types.is_nested(f.type):
            text = [None if v is None else orjson.dumps(v, default=str).decode() for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(text, pa.string()))
    return table


def query(out: str | Path, kql: str) -> pd.DataFrame:
    """Run a KQL query over every table of ``out`` (all collections together) and return a DataFrame.

    >>> query("demo-out", "SecurityEvent | where EventID == 4625 | summarize count() by IpAddress")  # doctest: +SKIP

    Datetimes come back as ``datetime64[us, UTC]``, integers and booleans as nullable dtypes,
    dynamic values as JSON text. Raises :class:`QueryError` for a construct duckdb-kql cannot run
    offline (the message names it; the query still runs in ADX) and for errors in the query
    (the message shows where).
    """
    return to_pandas(run_arrow(out, kql))


# ----------------------------------------------------------------------------------------------- hunting pack

@dataclass(frozen=True)
class HuntQuery:
    """One file of the hunting pack: a KQL query and its header comments."""
    name: str
    path: Path
    title: str
    finds: str
    attack: tuple[str, ...]
    tables: tuple[str, ...]
    text: str


_HEADER = re.compile(r"^//\s*(title|finds|attack|tables)\s*:\s*(.*?)\s*$", re.I)


def parse_hunt_query(path: Path) -> HuntQuery:
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    for line in text.splitlines():
        m = _HEADER.match(line.strip())
        if m:
            header[m[1].lower()] = m[2]
    missing = [k for k in ("title", "finds", "attack", "tables") if not header.get(k)]
    if missing:
        raise ValueError(f"{path}: header lacks {', '.join('// ' + k + ':' for k in missing)}")
    split = lambda v: tuple(x for x in re.split(r"[,\s]+", v) if x)  # noqa: E731
    return HuntQuery(path.stem, path, header["title"], header["finds"], split(header["attack"]),
                     split(header["tables"]), text)


def pack_dir() -> Path:
    """The ``queries/`` folder of the hunting pack: beside ``schemas/`` (or ``TRIAGEPARSE_QUERIES``)."""
    env = os.environ.get("TRIAGEPARSE_QUERIES")
    folder = Path(env) if env else contracts.schemas_dir().parent / "queries"
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot find the hunting pack at {folder}; set TRIAGEPARSE_QUERIES to its folder")
    return folder


def hunting_pack(folder: str | Path | None = None) -> list[HuntQuery]:
    return [parse_hunt_query(p) for p in sorted(Path(folder or pack_dir()).glob("*.kql"))]


@dataclass
class HuntResult:
    query: HuntQuery
    status: str                      # "hits", "clean", "skipped" (tables missing) or "error"
    hits: pd.DataFrame | None = None
    note: str = ""
    by_collection: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return 0 if self.hits is None else len(self.hits)


def _per_collection(hits: pd.DataFrame) -> dict[str, int]:
    """Hits per host (the collection id where the host is unknown, e.g. a single converted file)."""
    keys = [hits[k] for k in ("Computer", "CollectionId") if k in hits.columns]
    if not keys:
        return {"(all)": len(hits)}
    key = keys[0].fillna(keys[-1]).fillna("(unknown)").astype(str)
    return {k: int(v) for k, v in key.value_counts(sort=False).sort_index().items()}


def hunt(out: str | Path, names: Iterable[str] | None = None, folder: str | Path | None = None,
         write: bool = True) -> list[HuntResult]:
    """Run the hunting pack (or the queries named in ``names``) over ``out``.

    A query none of whose tables is in ``out`` is skipped with a note (one that reads several runs on
    those that are there); a query that fails offline is
    reported as an error and the others still run. Hits are written to ``OUT/_hunt/<query>.parquet``
    (a stale file of a query that no longer hits is removed).
    """
    out = Path(out)
    pack = hunting_pack(folder)
    if names:
        wanted = list(names)
        unknown = [n for n in wanted if n not in {q.name for q in pack}]
        if unknown:
            raise KeyError(f"no hunting query named {', '.join(unknown)}; the pack has: "
                           f"{', '.join(q.name for q in pack)}")
        pack = [q for q in pack if q.name in wanted]
    present = set(datasets(out))
    con = connect(out)
    results = []
    for q in pack:
        missing = [t for t in q.tables if t not in present]
        if len(missing) == len(q.tables):
            results.append(HuntResult(q, "skipped", note=f"no {', '.join(missing)} table in this output"))
            continue
        # a query over several tables still searches those that are here
        note = f"no {', '.join(missing)} table in this output: that part found nothing" if missing else ""
        try:
            table = run_arrow(out, q.text, con)
        except QueryError as exc:
            results.append(HuntResult(q, "error", note=str(exc)))
            continue
        hits = to_pandas(table)
        results.append(HuntResult(q, "hits" if len(hits) else "clean", hits, note,
                                  _per_collection(hits) if len(hits) else {}))
        if write:
            target = out / HUNT_FOLDER / f"{q.name}.parquet"
            if len(hits):
                target.parent.mkdir(exist_ok=True)
                pq.write_table(table, target, compression="zstd")
            else:
                target.unlink(missing_ok=True)
    return results


# ----------------------------------------------------------------------------------------------- command line

def _write_result(table: pa.Table, fmt: str, output: str | None) -> None:
    import orjson
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if fmt == "parquet":
        if not output:
            raise QueryError("--format parquet needs --output FILE")
        pq.write_table(table, output, compression="zstd")
        return
    stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if fmt == "csv":
            to_pandas(table).to_csv(stream, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        elif fmt == "jsonl":
            for row in table.to_pylist():
                stream.write(orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC).decode() + "\n")
        else:
            view = Table(show_lines=False)
            for name in table.column_names:
                view.add_column(name, overflow="fold")
            for row in table.slice(0, 500).to_pylist():
                view.add_row(*("" if v is None else escape(str(v)) for v in row.values()))
            console = Console(file=stream) if output else Console()
            console.print(view)
            console.print(f"{table.num_rows:,} rows" + (" (first 500 shown)" if table.num_rows > 500 else ""))
    finally:
        if output:
            stream.close()


def _cmd_query(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True)
    if bool(args.kql) == bool(args.file):
        err.print("[red]error:[/red] give the query as an argument or with --file q.kql (one of the two)")
        return 2
    kql = Path(args.file).read_text(encoding="utf-8") if args.file else args.kql
    try:
        if args.explain:
            print(to_sql(args.out, kql))
            return 0
        _write_result(run_arrow(args.out, kql), args.format, args.output)
    except BrokenPipeError:              # `triageparse query ... | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except QueryError as exc:
        err.print("[red]error:[/red]", escape(str(exc)), highlight=False, soft_wrap=True)
        return 3 if exc.unsupported else 2
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 2
    return 0


def _cmd_hunt(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    try:
        results = hunt(args.out, args.query or None)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
        return 2
    summary = Table(title=f"hunting pack over {args.out}")
    summary.add_column("query", no_wrap=True)
    summary.add_column("host / collection", overflow="fold")
    summary.add_column("hits", justify="right", no_wrap=True)
    summary.add_column("ATT&CK", overflow="fold")
    for r in results:
        attack = ", ".join(r.query.attack)
        if r.status == "hits":
            for i, (coll, n) in enumerate(r.by_collection.items()):
                summary.add_row(r.query.name if i == 0 else "", coll, f"[bold red]{n:,}[/bold red]",
                                attack if i == 0 else "")
        elif r.status == "clean":
            summary.add_row(r.query.name, "", "0", attack)
        else:
            summary.add_row(r.query.name, f"[yellow]{r.status}[/yellow]", "-", attack)
    console.print(summary)
    hit = [r for r in results if r.status == "hits"]
    console.print(f"{len(hit)} of {len(results)} queries hit ({sum(r.count for r in hit):,} rows, written to "
                  f"{Path(args.out) / HUNT_FOLDER}); {sum(r.status == 'skipped' for r in results)} skipped, "
                  f"{sum(r.status == 'error' for r in results)} failed")
    for r in results:
        if r.status in ("skipped", "error"):
            console.print(f"[yellow]{r.status}[/yellow] {r.query.name}:", escape(r.note), highlight=False,
                          soft_wrap=True)
    return 1 if any(r.status == "error" for r in results) else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``query`` and ``hunt`` subcommands to the triageparse command line."""
    q = sub.add_parser("query", help="run a KQL query over converted output (offline, DuckDB)")
    q.add_argument("out", help="output folder of `triageparse convert`")
    q.add_argument("kql", nargs="?", help="the KQL query (or use --file)")
    q.add_argument("--file", help="read the query from this .kql file")
    q.add_argument("--format", choices=("table", "csv", "jsonl", "parquet"), default="table")
    q.add_argument("--output", help="write the result to this file (required for parquet)")
    q.add_argument("--explain", action="store_true", help="print the DuckDB SQL instead of running the query")
    q.set_defaults(func=_cmd_query)

    h = sub.add_parser("hunt", help="run the hunting pack (queries/*.kql) and write hits to OUT/_hunt/")
    h.add_argument("out", help="output folder of `triageparse convert`")
    h.add_argument("--query", action="append", help="run only this query (file name without .kql); repeatable")
    h.set_defaults(func=_cmd_hunt)
