"""Offline KQL over converted output: every dataset is a table over all collections."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import triageparse
from triageparse.cli import main
from triageparse.kql import QueryError

from psbytes import CSV_DIR, c8, zip_collection

UTC = dt.timezone.utc
CIM = ["PSComputerName", "CimClass", "CimInstanceProperties", "CimSystemProperties"]
CIM_VALUES = [None, "ROOT/StandardCimv2:X", "Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",
              "Microsoft.Management.Infrastructure.CimSystemProperties"]


def host_files(names: list[str], created: str) -> dict[str, bytes]:
    return {
        f"{CSV_DIR}/DNSCache.csv": c8(
            ["TimeToLive", "Data", "DataLength", "Entry", "Name", "Section", "Status", "Type", *CIM],
            [["60", "203.0.113.7", "4", n, n, "1", "0", "1", *CIM_VALUES] for n in names]),
        f"{CSV_DIR}/OpenTCPConnections.csv": c8(
            ["State", "CreationTime", "LocalAddress", "LocalPort", "OwningProcess", "RemoteAddress", "RemotePort", *CIM],
            [["Established", created, "10.0.0.5", "49721", "4242", "198.51.100.23", "443", *CIM_VALUES]]),
    }


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """Three collections; an analyst-dropped IOC list; folders that are not tables."""
    root = tmp_path_factory.mktemp("fleet")
    zips = []
    for host, names, created in (("WS01", ["evil.example.top", "www.google.com"], "10/1/2025 9:15:00 PM"),
                                 ("WS02", ["www.google.com"], "10/1/2025 9:45:00 PM"),
                                 ("WS03", ["www.google.com", "login.live.com"], "10/1/2025 11:05:00 PM")):
        name = f"DFIR-{host}-2025-10-02"
        zips.append(zip_collection(root / f"{name}.zip", name, host_files(names, created)))
    out = root / "out"
    assert triageparse.convert(zips, out).ok
    (out / "IocList").mkdir()
    pq.write_table(pa.table({"Indicator": ["evil.example.top", "nothing.example"], "Kind": ["domain", "domain"]}),
                   out / "IocList" / "iocs.parquet")
    for hidden in ("_scratch", ".cache"):
        (out / hidden).mkdir()
        pq.write_table(pa.table({"x": [1]}), out / hidden / "x.parquet")
    return out


def test_a_table_holds_every_collection(out):
    df = triageparse.query(out, "DnsCacheEntry | summarize Names = count() by Computer | order by Computer asc")
    assert df.to_dict("records") == [{"Computer": "WS01", "Names": 2}, {"Computer": "WS02", "Names": 1},
                                     {"Computer": "WS03", "Names": 2}]
    assert str(df["Names"].dtype) == "Int64"


def test_dcount_across_collections_and_innerunique_join_semantics(out):
    df = triageparse.query(out, """
        DnsCacheEntry
        | summarize Hosts = dcount(CollectionId) by Entry
        | join kind=inner (DnsCacheEntry | project Entry, Computer) on Entry
        | where Hosts == 3
        | summarize by Computer
        | order by Computer asc""")
    assert list(df["Computer"]) == ["WS01", "WS02", "WS03"]


def test_let_and_a_join_with_an_analyst_dropped_ioc_table(out):
    df = triageparse.query(out, """
        let Domains = IocList | where Kind == "domain" | project Entry = Indicator;
        DnsCacheEntry
        | join kind=inner Domains on Entry
        | project Computer, Entry""")
    assert df.to_dict("records") == [{"Computer": "WS01", "Entry": "evil.example.top"}]


def test_folders_starting_with_underscore_or_dot_are_not_tables(out):
    with pytest.raises(QueryError, match="no table '_scratch'.*DnsCacheEntry") as err:
        triageparse.query(out, "['_scratch'] | take 1")
    assert "IocList" in str(err.value) and ".cache" not in str(err.value)


def test_a_contract_table_no_collection_filled_is_empty_not_missing(out):
    df = triageparse.query(out, "SecurityEvent | where EventID == 4625 | project TimeGenerated, EventID, Account")
    assert len(df) == 0
    assert [str(t) for t in df.dtypes] == ["datetime64[us, UTC]", "Int32", "string"]
    joined = triageparse.query(out, "DnsCacheEntry | join kind=leftouter (Process | project Computer, Name) on Computer"
                                    " | summarize count()")
    assert joined["count_"][0] == 5


def test_datetimes_come_back_utc_also_from_bin(out):
    df = triageparse.query(out, "TcpConnection | summarize n = count() by Hour = bin(CreationTime, 1h), Computer "
                                "| order by Hour asc")
    assert str(df["Hour"].dtype) == "datetime64[us, UTC]"
    assert list(df["Hour"]) == [pd.Timestamp("2025-10-01 21:00", tz="UTC"), pd.Timestamp("2025-10-01 21:00", tz="UTC"),
                                pd.Timestamp("2025-10-01 23:00", tz="UTC")]
    raw = triageparse.query(out, "TcpConnection | where Computer == 'WS03' | project CreationTime")
    assert raw["CreationTime"][0] == pd.Timestamp("2025-10-01 23:05", tz="UTC")


def test_dynamic_results_are_json_text(out):
    df = triageparse.query(out, "DnsCacheEntry | summarize Names = make_set(Entry) by Computer | where Computer == 'WS03'")
    assert sorted(json.loads(df["Names"][0])) == ["login.live.com", "www.google.com"]


def test_unsupported_construct_is_named_and_sent_to_adx(out):
    with pytest.raises(QueryError) as err:
        triageparse.query(out, "TcpConnection\n| make-series n = count() on CreationTime step 1h by Computer")
    msg = str(err.value)
    assert err.value.unsupported and "make-series" in msg and "ADX" in msg
    assert "line 2" in msg and err.value.line == 2
    with pytest.raises(QueryError, match=r"ipv4_is_private\(\) is not supported offline.*ADX") as err:
        triageparse.query(out, "TcpConnection | where not(ipv4_is_private(RemoteAddress))")
    assert "^" in str(err.value)


def test_syntax_error_shows_where(out):
    with pytest.raises(QueryError) as err:
        triageparse.query(out, "DnsCacheEntry\n| where Entry ==\n| take 3")
    assert err.value.line == 3 and "line 3" in str(err.value) and "| take 3" in str(err.value)


def test_unknown_column_is_named_with_its_place(out):
    with pytest.raises(QueryError, match="unknown column 'Hostname'") as err:
        triageparse.query(out, "DnsCacheEntry | where Hostname == 'x'")
    assert (err.value.line, err.value.column) == (1, 22)


def test_cli_query_formats(out, tmp_path, capsys):
    kql = "DnsCacheEntry | where Entry endswith '.top' | project Computer, Entry, CollectionId"
    assert main(["query", str(out), kql, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[:2][1].startswith("WS01,evil.example.top,")
    assert main(["query", str(out), "TcpConnection | where Computer == 'WS03' | project CreationTime",
                 "--format", "jsonl"]) == 0
    assert json.loads(capsys.readouterr().out) == {"CreationTime": "2025-10-01T23:05:00Z"}
    target = tmp_path / "r.parquet"
    assert main(["query", str(out), kql, "--format", "parquet", "--output", str(target)]) == 0
    assert pq.read_table(target).column("Entry").to_pylist() == ["evil.example.top"]
    query_file = tmp_path / "q.kql"
    query_file.write_text("// hosts\nDnsCacheEntry\n| summarize dcount(Computer)\n", encoding="utf-8")
    assert main(["query", str(out), "--file", str(query_file)]) == 0
    assert "3" in capsys.readouterr().out


def test_cli_query_errors_exit_nonzero_with_the_message(out, capsys):
    assert main(["query", str(out), "TcpConnection | make-series n = count() on CreationTime step 1h"]) == 3
    assert "make-series is not supported offline" in capsys.readouterr().err
    assert main(["query", str(out), "Nope | take 1"]) == 2
    assert "no table 'Nope'" in capsys.readouterr().err
    assert main(["query", str(out)]) == 2


@pytest.mark.parametrize("kql, named", [
    ("DnsCacheEntry | evaluate bag_unpack(AdditionalFields)", "evaluate bag_unpack is not supported offline"),
    ('search "evil"', "search is not supported offline"),
    ("DnsCacheEntry | summarize make_bag(pack('k', Entry))", "make_bag() is not supported offline"),
    ("TcpConnection | project s = format_datetime(CreationTime, 'yyyy-MM-dd HH:mm:ss.fffffff')",
     "format_datetime with 'fffffff' is not supported offline (duckdb-kql 1.1.2 cannot translate it: the seventh"),
    ("DnsCacheEntry | mv-apply e = Entry on (take 1)", "mv-apply is not supported offline"),
])
def test_unsupported_constructs_are_named_as_kql_spells_them(out, kql, named):
    with pytest.raises(QueryError) as err:
        triageparse.query(out, kql)
    assert err.value.unsupported and str(err.value).startswith(named) and "ADX" in str(err.value)


def test_a_grammar_gap_is_told_apart_from_a_mistake(out):
    with pytest.raises(QueryError) as err:
        triageparse.query(out, "DnsCacheEntry\n| serialize\n| extend Previous = prev(Entry)")
    assert err.value.unsupported and "lacks `serialize`" in str(err.value)


def test_lists_come_back_as_json_text_like_other_dynamic_values(out):
    df = triageparse.query(out, "DnsCacheEntry | where Computer == 'WS03' | summarize Names = make_list(Entry)")
    assert str(df["Names"].dtype) == "string"
    assert sorted(json.loads(df["Names"][0])) == ["login.live.com", "www.google.com"]


def test_cli_explain_prints_the_sql_also_for_joins(out, capsys):
    assert main(["query", str(out), "DnsCacheEntry | join kind=inner (TcpConnection | project Computer) on Computer"
                 " | count", "--explain"]) == 0
    sql = capsys.readouterr().out
    assert "read_parquet" not in sql and '"DnsCacheEntry"' in sql and "JOIN" in sql.upper()


def test_the_command_line_starts_without_pandas():
    # The query and hunt sub-commands are registered on every start; pandas (0.3 s) only comes with their use.
    import subprocess
    import sys
    code = ("import sys, triageparse.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('pandas', 'pyarrow.dataset') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
