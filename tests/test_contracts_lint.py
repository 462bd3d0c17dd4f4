"""Every table contract works in ADX and as a Sentinel custom table; generated artefacts stay in sync."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from triageparse import contracts

ROOT = Path(__file__).resolve().parents[1]
ALL = sorted(contracts.all_contracts())


@pytest.mark.parametrize("name", ALL)
def test_contract_passes_the_adx_and_log_analytics_rules(name):
    assert contracts.lint(contracts.get(name)) == []


@pytest.mark.parametrize("name", ALL)
def test_arrow_types_follow_the_parquet_to_adx_matrix(name):
    # STRING cannot become datetime or bool in ADX, and no Parquet type becomes timespan.
    for field, col in zip(contracts.get(name).schema, contracts.get(name).columns):
        expected = {"datetime": pa.timestamp("us", tz="UTC"), "bool": pa.bool_(), "int": pa.int32(),
                    "long": pa.int64(), "real": pa.float64()}.get(col.kusto_type, pa.string())
        assert field.type == expected, (name, col.name)
        assert col.kusto_type != "timespan"


def test_every_data_table_carries_provenance():
    for c in contracts.all_contracts().values():
        if c.name != "Collection":
            assert [x.name for x in c.columns[:4]] == ["CollectionId", "Computer", "SourceFile", "SourceRecord"]


def test_lint_catches_bad_names():
    bad = contracts.parse_contract('name = "dns"\n[[column]]\nname = "Type"\ntype = "string"\n'
                                   '[[column]]\nname = "where"\ntype = "timespan"\n')
    problems = " ".join(contracts.lint(bad))
    assert "'dns' does not match" in problems and "reserved" in problems and "KQL keyword" in problems
    assert "unknown Kusto type" in problems


def test_create_merge_and_mapping_commands_come_from_the_contract():
    c = contracts.get("DnsCacheEntry")
    assert c.kql_create_merge().startswith(".create-merge table DnsCacheEntry (CollectionId:string, Computer:string")
    assert "RecordType:int" in c.kql_create_merge() and "AdditionalFields:dynamic" in c.kql_create_merge()
    assert 'ingestion parquet mapping "DnsCacheEntry_parquet" \'[' in c.kql_create_mapping()


def test_source_headers_map_case_insensitively_and_explicit_sources_win():
    c = contracts.get("ScheduledTask")
    assert c.source_index["source"] == "TaskSource" and c.source_index["date"] == "RegistrationDate"
    assert contracts.get("DnsCacheEntry").source_index["type"] == "RecordType"


def test_docs_table_reference_is_generated_from_the_contracts():
    out = subprocess.run([sys.executable, "-m", "triageparse.cli", "schema", "--markdown"], capture_output=True,
                         text=True, check=True).stdout
    assert (ROOT / "docs" / "tables.md").read_text() == out, "run `make docs` to regenerate docs/tables.md"


def _without_max_columns(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("max_columns"))


def test_the_full_security_event_contract_passes_only_with_its_explicit_column_cap():
    full = contracts.get("SecurityEventFull")
    assert len(full.columns) > contracts.FREE_CLUSTER_MAX_COLUMNS and contracts.lint(full) == []
    uncapped = contracts.parse_contract(_without_max_columns(full.path.read_text()))
    assert [p for p in contracts.lint(uncapped) if "exceed the free cluster's 200" in p] != []
    assert contracts.lint(contracts.parse_contract(
        _without_max_columns(full.path.read_text()).replace('name = "SecurityEventFull"',
                                                            'name = "SecurityEventFull"\nmax_columns = 220'))) == \
        [f"SecurityEventFull: {len(full.columns)} columns exceed its max_columns = 220"]


def test_every_default_contract_fits_a_free_cluster():
    for c in contracts.all_contracts().values():
        if c.max_columns == contracts.FREE_CLUSTER_MAX_COLUMNS:
            assert len(c.columns) <= 200, c.name
    assert [c.name for c in contracts.all_contracts().values() if c.max_columns > 200] == ["SecurityEventFull"]


def test_the_full_security_event_contract_is_the_compact_one_plus_the_sentinel_columns_it_leaves_out():
    compact, full = contracts.get("SecurityEvent"), contracts.get("SecurityEventFull")
    own = [c for c in compact.columns if c.name != "AdditionalFields"]
    assert [(c.name, c.kusto_type, c.sources) for c in full.columns[:len(own)]] == \
        [(c.name, c.kusto_type, c.sources) for c in own], "regenerate schemas/SecurityEventFull.toml"
    extra = {c.name for c in full.columns} - {c.name for c in compact.columns}
    # the columns SecurityEvent's description names as left out, among the 59
    assert {"AzureDeploymentID", "CalledStationID", "CACertificateHash", "LockoutDuration", "TargetInfo"} <= extra
    assert len(extra) == 59 and full.ignored_sources == compact.ignored_sources
