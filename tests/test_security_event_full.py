"""convert --security-event-columns full writes Security-channel rows to SecurityEventFull (every Sentinel
column, filled from EventData where the event carries it) instead of SecurityEvent; the default stays compact,
and the ADX preflight stops the full table on a free cluster."""
from __future__ import annotations

import contextlib
import io

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

import triageparse
from triageparse import contracts
from triageparse.adx import plan
from triageparse.cli import main

# 636 Security records, 92 of them 4648 (explicit credentials) whose TargetInfo SecurityEvent has no column for.
SECURITY_4648 = "evtx/shared/EDGE_value_encoding/omerbenamram-evtx__Security_with_size_t.evtx"


def table(out, name):
    return ds.dataset(out / name).to_table()


@pytest.fixture(scope="module")
def both(corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    assert triageparse.convert([corpus / SECURITY_4648], tmp / "compact").errors == 0
    assert triageparse.convert([corpus / SECURITY_4648], tmp / "full", security_event_columns="full").errors == 0
    return tmp / "compact", tmp / "full"


def test_full_writes_security_event_full_with_the_columns_compact_leaves_out(both):
    compact_out, full_out = both
    assert not (full_out / "SecurityEvent").exists() and not (compact_out / "SecurityEventFull").exists()
    full = table(full_out, "SecurityEventFull")
    assert full.schema == contracts.get("SecurityEventFull").schema and full.num_rows == 636
    with_info = full.filter(pc.is_valid(full.column("TargetInfo")))
    assert with_info.num_rows == 92 and set(with_info.column("EventID").to_pylist()) == {4648}
    first = with_info.sort_by("EventRecordId").slice(0, 1).to_pylist()[0]
    assert (first["TargetInfo"], first["TargetServerName"]) == ("localhost", "localhost")
    assert '<Data Name="TargetInfo">localhost</Data>' in first["EventData"]
    # Events that do not carry a field leave its column null (not "").
    assert full.filter(pc.equal(full.column("EventID"), 4608)).column("TargetInfo").null_count > 0
    assert pc.count(full.column("NetworkPolicyName")).as_py() == 0
    files = table(full_out, "CollectedFile").to_pylist()
    assert [f["Table"] for f in files if f["Parser"] == "evtx"] == ["SecurityEventFull"]


def test_the_compact_columns_hold_the_same_values_in_both_tables(both):
    compact_out, full_out = both
    compact, full = table(compact_out, "SecurityEvent"), table(full_out, "SecurityEventFull")
    shared = [c.name for c in contracts.get("SecurityEvent").columns if c.name not in ("CollectionId", "SourceFile")]
    assert full.select(shared).sort_by("EventRecordId").equals(compact.select(shared).sort_by("EventRecordId"))
    assert "TargetInfo" not in compact.column_names


def test_get_eventlog_text_rows_go_to_the_full_table_too(sample_data, tmp_path):
    main(["convert", "-q", "--security-event-columns", "full", str(sample_data / "DFIR-LEGACY01-2023-03-14"),
          "-o", str(tmp_path / "out")])
    full = table(tmp_path / "out", "SecurityEventFull")
    assert full.num_rows == 47 and set(full.column("EventOrigin").to_pylist()) == {"GetEventLogText"}
    assert not (tmp_path / "out" / "SecurityEvent").exists()


def test_an_unknown_choice_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="compact, full"):
        triageparse.convert([tmp_path], tmp_path / "out", security_event_columns="wide")
    assert not (tmp_path / "out").exists()
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        main(["convert", "--security-event-columns", "wide", str(tmp_path), "-o", str(tmp_path / "out")])


def test_the_adx_preflight_stops_the_full_table_on_a_free_cluster_only():
    full = len(contracts.get("SecurityEventFull").columns)
    compact = len(contracts.get("SecurityEvent").columns)
    problems = plan.fits({"SecurityEventFull": full}, 20, free_cluster=True)
    assert problems == [f"table SecurityEventFull would have {full} columns, more than the free cluster's 200. "
                        "Use the compact SecurityEvent contract for the free cluster."]
    assert plan.fits({"SecurityEventFull": full}, 20, free_cluster=False) == []
    assert plan.fits({"SecurityEvent": compact}, 20, free_cluster=True) == []


def test_queries_for_security_event_find_the_rows_of_a_full_conversion(tmp_path, corpus):
    from triageparse import convert, query
    evtx = next(corpus.rglob("omerbenamram-evtx__Security_with_size_t.evtx"))
    out = tmp_path / "out"
    convert([evtx], out, security_event_columns="full")
    hits = query(out, "SecurityEvent | where EventID == 4648 | summarize n = count()")
    assert int(hits["n"][0]) == 92
