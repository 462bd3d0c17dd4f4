"""Table contracts: the single source of truth for every output table.

One TOML file per table lives in ``schemas/``. From it we derive the Arrow schema the sink
writes, the pandas dtypes of ``load()``, the KQL ``.create-merge table`` command, the Parquet
ingestion mapping and the Markdown table reference. Nothing of that is written by hand.
"""
from __future__ import annotations

import functools
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

# Kusto type -> Arrow type (see ../shared/reference/adx-and-schemas.md §2.3).
# dynamic and guid are JSON/plain strings; durations are longs whose names carry the unit.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "real": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "dynamic": pa.string(),
    "guid": pa.string(),
}

PANDAS_DTYPES: dict[str, str] = {
    "string": "string",
    "int": "Int32",
    "long": "Int64",
    "real": "Float64",
    "bool": "boolean",
    "datetime": "datetime64[us, UTC]",
    "dynamic": "string",
    "guid": "string",
}

# Provenance columns every table carries, in this order, before its own columns.
PROVENANCE = (
    ("CollectionId", "string", "Stable id of the collection the row came from."),
    ("Computer", "string", "Host name the collection was taken from."),
    ("SourceFile", "string", "Path of the file inside the collection (forward slashes)."),
    ("SourceRecord", "long", "Line number of the record in SourceFile, or the EVTX record id."),
)
ADDITIONAL_FIELDS = ("AdditionalFields", "dynamic",
                     "Source columns this contract does not know, as a JSON object (nothing is dropped).")

# Columns per table on a free ADX cluster; a contract that is not meant for one says so with max_columns.
FREE_CLUSTER_MAX_COLUMNS = 200
NAME_RULE = re.compile(r"^[A-Z][A-Za-z0-9_]{0,44}$")
# Log Analytics reserves these column names; compared case-insensitively as a precaution.
RESERVED_NAMES = {"_resourceid", "id", "_subscriptionid", "tenantid", "type", "uniqueid", "title"}
KQL_KEYWORDS = {
    "and", "as", "asc", "between", "by", "consume", "contains", "count", "datatable", "desc", "distinct",
    "evaluate", "extend", "externaldata", "facet", "false", "find", "fork", "getschema", "has", "in",
    "invoke", "join", "kind", "let", "limit", "lookup", "make-series", "mv-apply", "mv-expand", "not", "null",
    "on", "or", "order", "parse", "partition", "print", "project", "range", "reduce", "render", "sample",
    "scan", "search", "serialize", "set", "sort", "summarize", "take", "top", "true", "union", "where",
    "with", "materialize", "toscalar", "access", "alias", "declare",
}


@dataclass(frozen=True)
class Column:
    name: str
    kusto_type: str
    doc: str = ""
    sources: tuple[str, ...] = ()

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kusto_type]


@dataclass(frozen=True)
class Contract:
    name: str
    description: str
    columns: tuple[Column, ...]
    # Source columns known to hold nothing but PowerShell type names (CimClass, ...): dropped on purpose.
    ignored_sources: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)
    max_columns: int = FREE_CLUSTER_MAX_COLUMNS    # above 200: the table does not fit a free cluster, on purpose

    @functools.cached_property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=True) for c in self.columns])

    @functools.cached_property
    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    @functools.cached_property
    def source_index(self) -> dict[str, str]:
        """Lower-cased source header -> column name (headers match case-insensitively)."""
        index: dict[str, str] = {}
        for col in self.columns:          # explicit source names win over same-named columns
            for src in col.sources:
                index.setdefault(src.lower(), col.name)
        for col in self.columns:
            index.setdefault(col.name.lower(), col.name)
        return index

    @property
    def has_additional_fields(self) -> bool:
        return ADDITIONAL_FIELDS[0] in self.by_name

    @property
    def pandas_dtypes(self) -> dict[str, str]:
        return {c.name: PANDAS_DTYPES[c.kusto_type] for c in self.columns}

    def kql_create_merge(self) -> str:
        cols = ", ".join(f"{c.name}:{c.kusto_type}" for c in self.columns)
        return f".create-merge table {self.name} ({cols})"

    @property
    def mapping_name(self) -> str:
        return f"{self.name}_parquet"

    def kql_mapping_json(self) -> str:
        return json.dumps([{"column": c.name, "Properties": {"Path": f"$.{c.name}"}} for c in self.columns],
                          separators=(",", ":"))

    def kql_create_mapping(self) -> str:
        return (f".create-or-alter table {self.name} ingestion parquet mapping "
                f'"{self.mapping_name}" \'{self.kql_mapping_json()}\'')

    def markdown(self) -> str:
        lines = [f"## {self.name}", "", self.description, "", "| column | Kusto type | meaning | source columns |",
                 "|---|---|---|---|"]
        for c in self.columns:
            src = ", ".join(f"`{s}`" for s in c.sources)
            lines.append(f"| `{c.name}` | {c.kusto_type} | {c.doc} | {src} |")
        if len(self.columns) > FREE_CLUSTER_MAX_COLUMNS:
            lines += ["", f"{len(self.columns)} columns: more than a free ADX cluster's {FREE_CLUSTER_MAX_COLUMNS} "
                      "per table (the contract sets max_columns); ingest it into a paid cluster."]
        if self.ignored_sources:
            lines += ["", "Dropped source columns (they only ever hold PowerShell type names): "
                      + ", ".join(f"`{s}`" for s in self.ignored_sources) + "."]
        return "\n".join(lines) + "\n"


def schemas_dir() -> Path:
    env = os.environ.get("TRIAGEPARSE_SCHEMAS")
    if env:
        return Path(env)
    # Editable install / source checkout: <repo>/schemas next to <repo>/src/triageparse.
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parents[1] / "schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("cannot find the schemas/ folder; set TRIAGEPARSE_SCHEMAS to its path")


def parse_contract(text: str, path: Path | None = None) -> Contract:
    data = tomllib.loads(text)
    own = [Column(c["name"], c["type"], c.get("doc", ""), tuple(c.get("sources", ())))
           for c in data.get("column", [])]
    cols: list[Column] = []
    if data.get("provenance", True):
        cols += [Column(n, t, d) for n, t, d in PROVENANCE]
    cols += own
    if data.get("additional_fields", True):
        cols.append(Column(*ADDITIONAL_FIELDS))
    return Contract(name=data["name"], description=data.get("description", "").strip(), columns=tuple(cols),
                    ignored_sources=tuple(data.get("ignored_sources", ())), path=path,
                    max_columns=int(data.get("max_columns", FREE_CLUSTER_MAX_COLUMNS)))


@functools.cache
def all_contracts() -> dict[str, Contract]:
    out: dict[str, Contract] = {}
    for p in sorted(schemas_dir().glob("*.toml")):
        c = parse_contract(p.read_text(encoding="utf-8"), p)
        out[c.name] = c
    return out


def get(name: str) -> Contract:
    try:
        return all_contracts()[name]
    except KeyError:
        raise KeyError(f"no contract named {name!r} in {schemas_dir()}") from None


def lint(contract: Contract) -> list[str]:
    """Problems that would stop the table from working in ADX or as a Sentinel custom table."""
    problems = []
    names = [contract.name] + [c.name for c in contract.columns]
    for n in names:
        if not NAME_RULE.match(n):
            problems.append(f"{contract.name}: name {n!r} does not match {NAME_RULE.pattern}")
        if n.lower() in RESERVED_NAMES:
            problems.append(f"{contract.name}: {n!r} is a reserved Log Analytics name")
        if n.lower() in KQL_KEYWORDS:
            problems.append(f"{contract.name}: {n!r} is a KQL keyword")
    seen: set[str] = set()
    for c in contract.columns:
        if c.kusto_type not in ARROW_TYPES:
            problems.append(f"{contract.name}.{c.name}: unknown Kusto type {c.kusto_type!r}")
        if c.name.lower() in seen:
            problems.append(f"{contract.name}: duplicate column {c.name!r}")
        seen.add(c.name.lower())
    for p, _, _ in PROVENANCE:
        if p not in contract.by_name and contract.name not in ("Collection",):
            problems.append(f"{contract.name}: missing provenance column {p}")
    n = len(contract.columns)
    if n > contract.max_columns == FREE_CLUSTER_MAX_COLUMNS:
        problems.append(f"{contract.name}: {n} columns exceed the free cluster's {FREE_CLUSTER_MAX_COLUMNS}; drop "
                        f"columns, or set max_columns in a contract meant for a paid cluster only")
    elif n > contract.max_columns:
        problems.append(f"{contract.name}: {n} columns exceed its max_columns = {contract.max_columns}")
    return problems


def tables_markdown() -> str:
    head = ("# Table reference\n\nGenerated from `schemas/` by `triageparse schema --markdown`; do not edit.\n"
            "Every datetime is UTC; `dynamic` columns hold JSON text.\n\n")
    return head + "\n".join(c.markdown() for c in all_contracts().values())
