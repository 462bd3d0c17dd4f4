"""load(): DataFrames whose dtypes are the contract's, for every table, with or without rows."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import triageparse
from triageparse import contracts

from psbytes import CSV_DIR, c8, zip_collection

UTC = dt.timezone.utc
SAMPLE = {"string": "x", "guid": "6f1c5a4e-0000-4000-8000-000000000001", "dynamic": '{"k":[1,2]}', "int": 7,
          "long": 2**40, "real": 1.5, "bool": True, "datetime": dt.datetime(2025, 10, 1, 21, 15, 30, 123456, tzinfo=UTC)}
ALL = sorted(contracts.all_contracts())


def one_row(contract: contracts.Contract) -> dict:
    return {c.name: SAMPLE[c.kusto_type] for c in contract.columns}


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Path:
    """Every contract table with one row of values (two collections: one full, one all-NULL row)."""
    out = tmp_path_factory.mktemp("filled")
    for name, c in contracts.all_contracts().items():
        (out / name).mkdir()
        pq.write_table(pa.Table.from_pylist([one_row(c)], schema=c.schema), out / name / "c1.parquet")
        pq.write_table(pa.Table.from_pylist([{}], schema=c.schema), out / name / "c2.parquet")
    return out


@pytest.mark.parametrize("table", ALL)
def test_dtypes_follow_the_contract(filled, table):
    c = contracts.get(table)
    df = triageparse.load(filled, table)
    assert list(df.columns) == [col.name for col in c.columns]
    assert {k: str(v) for k, v in df.dtypes.items()} == c.pandas_dtypes
    assert len(df) == 2
    full = df.dropna(how="all").iloc[0]
    for col in c.columns:
        expected = SAMPLE[col.kusto_type]
        value = full[col.name]
        if col.kusto_type == "datetime":
            assert value == pd.Timestamp(expected) and value.tz is not None
        else:
            assert value == expected, col.name
    # NULL stays NULL (pd.NA), in every column type, strings included: ADX would store "" for strings
    assert df.isna().sum().min() >= 1


@pytest.mark.parametrize("table", ALL)
def test_a_table_without_files_is_an_empty_frame_with_the_contract_dtypes(tmp_path, table):
    df = triageparse.load(tmp_path, table)
    assert len(df) == 0
    assert {k: str(v) for k, v in df.dtypes.items()} == contracts.get(table).pandas_dtypes


def test_load_all_gives_every_contract_and_dropped_datasets(tmp_path):
    name = "DFIR-WS01-2025-10-02"
    z = zip_collection(tmp_path / f"{name}.zip", name, {f"{CSV_DIR}/DNSCache.csv": c8(
        ["TimeToLive", "Data", "DataLength", "Entry", "Name", "Section", "Status", "Type"],
        [["52", "203.0.113.7", "4", "a.example", "a.example", "1", "0", "1"],
         ["0", None, "0", "b.example", "b.example", None, "9501", "28"]])})
    out = tmp_path / "out"
    triageparse.convert([z], out)
    (out / "Watchlist").mkdir()
    pq.write_table(pa.table({"Host": ["WS01"], "Owner": [None]}, schema=pa.schema([("Host", pa.string()),
                                                                                  ("Owner", pa.string())])),
                   out / "Watchlist" / "w.parquet")
    frames = triageparse.load(out)
    assert set(contracts.all_contracts()) <= set(frames) and "Watchlist" in frames
    dns = frames["DnsCacheEntry"]
    assert list(dns["Entry"]) == ["a.example", "b.example"]
    assert dns["Section"].isna().tolist() == [False, True] and str(dns["Section"].dtype) == "Int32"
    assert dns["Data"].isna().tolist() == [False, True]          # null here, "" in ADX
    assert len(frames["SecurityEvent"]) == 0 and str(frames["SecurityEvent"]["TimeGenerated"].dtype) == \
        "datetime64[us, UTC]"
    assert str(frames["Watchlist"]["Owner"].dtype) == "string"


def test_files_missing_a_newer_column_read_it_as_null(tmp_path):
    c = contracts.get("DnsCacheEntry")
    older = pa.Table.from_pylist([one_row(c)], schema=c.schema).drop_columns(["StatusName"])
    (tmp_path / "DnsCacheEntry").mkdir()
    pq.write_table(older, tmp_path / "DnsCacheEntry" / "old.parquet")
    df = triageparse.load(tmp_path, "DnsCacheEntry")
    assert df["StatusName"].isna().all() and str(df["StatusName"].dtype) == "string"


def test_unknown_table_names_the_known_ones(tmp_path):
    with pytest.raises(KeyError, match="DnsCacheEntry"):
        triageparse.load(tmp_path, "DnsCache")
