"""The C accelerator of the EVTX batch conversion gives, record for record, the tables the DuckDB path gives.

The SQL path (DuckDB + string rewrites) is the reference; _evtxfast.c only makes the same columns
faster. Compared here on every corpus log, on generated records (hypothesis: any text in any field,
the escapes serde_json writes) and on shapes the accelerator must decline.
"""
from __future__ import annotations

import os

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triageparse.artifacts import eventlog_evtx
from triageparse.artifacts.eventlog_evtx import EvtxLog, _Batch, read_batches

pytestmark = pytest.mark.skipif(eventlog_evtx.ACCELERATOR is None and os.environ.get("CI", "").lower() != "true",
                                reason="the C accelerator is not built here (no C compiler)")


def test_the_accelerator_is_built_under_ci():
    # CI installs with a C compiler: a missing accelerator there is a broken build, not a slow machine.
    assert eventlog_evtx.ACCELERATOR is not None


def _convert(batch: _Batch, accelerated: bool, monkeypatch) -> tuple[pa.Table, pa.Table]:
    with monkeypatch.context() as m:
        if not accelerated:
            m.setattr(eventlog_evtx, "ACCELERATOR", None)
        _, security, windows = EvtxLog().convert_batch(batch)
        empty = pa.table({})
        return (security if security is not None else empty), (windows if windows is not None else empty)


# JSON text columns: the accelerator keeps the parser's text, DuckDB writes it anew (\u001F for \u001f):
# the same JSON, compared as JSON.
JSON_COLUMNS = {"EventData", "Correlation"}


def _same(a: pa.Table, b: pa.Table, what: str) -> None:
    assert sorted(a.column_names) == sorted(b.column_names), what
    for name in a.column_names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        if name in JSON_COLUMNS and "WindowsEvent" in what:
            x, y = ([None if v is None else orjson.loads(v) for v in c.to_pylist()] for c in (x, y))
            assert x == y, f"{what}: column {name}"
            continue
        if not x.equals(y):
            bad = next(i for i, (p, q) in enumerate(zip(x.to_pylist(), y.to_pylist())) if p != q)
            pytest.fail(f"{what}: column {name}, row {bad}: accelerated {x[bad]!r} != sql {y[bad]!r}")


def _assert_paths_agree(batch: _Batch, monkeypatch, what: str) -> None:
    fast = _convert(batch, True, monkeypatch)
    slow = _convert(batch, False, monkeypatch)
    _same(fast[0], slow[0], f"{what} SecurityEvent")
    _same(fast[1], slow[1], f"{what} WindowsEvent")


def test_accelerated_tables_equal_the_sql_path_on_every_corpus_log(corpus, manifest, monkeypatch):
    entries = [e for e in manifest if e["kind"] == "evtx"]
    records = 0
    for entry in entries:
        for batch in read_batches(corpus / entry["staged"]):
            _assert_paths_agree(batch, monkeypatch, entry["staged"])
            records += len(batch.docs)
    assert records == sum(e["evtx"]["records_pyevtx_rs"] for e in entries if e.get("evtx"))


def _doc(event_data, channel="Security", system_extra: dict | None = None, top: str = "EventData") -> str:
    system = {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}, "EventID": 4688,
              "Version": 2, "Level": 0, "Task": 13312, "Opcode": 0, "Keywords": "0x8020000000000000",
              "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:11:12.123456Z"}}, "EventRecordID": 7,
              "Correlation": None, "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}},
              "Channel": channel, "Computer": "WS01.corp.example", "Security": None}
    system.update(system_extra or {})
    return orjson.dumps({"Event": {"#attributes": {"xmlns": eventlog_evtx.EVENT_NS}, "System": system,
                                   top: event_data}}).decode()


FIELDS = ["SubjectUserName", "TargetUserName", "CommandLine", "NewProcessName", "LogonType", "IpAddress",
          "ObjectName", "Unknown Field", "Data", "Binary"]
values = st.one_of(st.none(), st.text(max_size=40), st.integers(-2**40, 2**40), st.booleans(),
                   st.sampled_from(["C:\\Windows\\cmd.exe", 'say "hi"', "a&b<c>d", "tab\there\r\nnext", "\\\\srv\\s",
                                    "ends\\", "\x00\x07\x1f", "\ud7ff\U0001F600", "%%1833", ""]))


@settings(max_examples=int(os.environ.get("TRIAGEPARSE_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.dictionaries(st.sampled_from(FIELDS), values, max_size=8),
                          st.dictionaries(st.sampled_from(FIELDS), st.lists(values, max_size=2), max_size=2),
                          st.none(), st.text(max_size=5)), min_size=1, max_size=6),
       st.sampled_from(["Security", "security", "System", "Microsoft-Windows-Sysmon/Operational"]))
def test_generated_records_convert_alike_on_both_paths(monkeypatch, event_datas, channel):
    docs = [_doc(ed, channel) for ed in event_datas]
    _assert_paths_agree(_Batch(docs, list(range(1, len(docs) + 1))), monkeypatch, "generated")


@pytest.mark.parametrize("doc", [
    _doc({"LogonGuid": "{1}", "TargetUserName": "a", "LogonGuid2": "x"} | {"TargetUserName": "b"}),
    '{"Event":{"System":{"Channel":"Security","EventID":4624,"TimeCreated":{"#attributes":{"SystemTime":'
    '"2024-05-01T10:11:12Z"}}},"EventData":{"LogonGuid":"{A}","TargetUserName":"x","LogonGuid":"{B}"}}}',
    _doc({"A": "b"}, system_extra={"TimeCreated": {"#attributes": {"SystemTime": "2021-12-16T10:25:32.351835800Z"}}}),
    _doc({"A": "b"}, system_extra={"TimeCreated": {"#attributes": {"SystemTime": "2021-12-16 10:25:32+01:00"}}}),
    _doc({"A": "b"}, system_extra={"TimeCreated": {"#attributes": {"SystemTime": "not a time"}}}),
    _doc({"A": "b"}, system_extra={"TimeCreated": None}),
    _doc({"A": "b"}, system_extra={"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045}}),
    _doc({"A": "b"}, system_extra={"EventID": "99999999999", "Level": "x", "EventRecordID": None}),
    _doc({"A": "b"}, system_extra={"Correlation": {"#attributes": {"ActivityID": "{F4}"}}}),
    _doc({"A": "b"}, system_extra={"Computer": {"nested": True}}),
    _doc({"A": "b"}, system_extra={"Security": {"#attributes": {"UserID": "S-1-5-18"}}}),
    _doc({"LogFileCleared": {"SubjectUserName": "admin", "SubjectDomainName": "CORP"}}, top="UserData"),
    _doc(None), _doc({}), _doc("text"), _doc([1, 2]),
    _doc({"Data": {"#text": ["a", "b"]}, "Binary": "00FF"}),
    _doc({"Key \"quoted\"": "v", "Key<": "w"}),
    _doc({"D": "SURROGATE"}).replace("SURROGATE", "\\ud83d\\ude00 a pair"),   # serde_json never writes a lone one
    _doc({"A": "b"}).replace('"A":"b"', '"Deep":' + "[" * 80 + "1" + "]" * 80),     # deeper than the C limit
    '{"Event":{"System":{"Channel":"Security"},"EventData":{"A":"cut off',
    '{"NotEvent":1}',
])
def test_shapes_the_accelerator_must_decline_or_get_right(monkeypatch, doc):
    good = _doc({"SubjectUserName": "alice", "LogonType": 3})
    _assert_paths_agree(_Batch([good, doc, good], [1, 2, 3]), monkeypatch, doc[:80])


# The accelerator scans strings 16 bytes a step: the closing quote, an escape and & < > must be found at every
# position of a step, and a & < > after the closing quote in the same step must not count.
@pytest.mark.parametrize("offset", range(34))
def test_strings_scanned_in_steps_convert_alike_on_both_paths(monkeypatch, offset):
    values = [offset * "x" + s + tail * "y" for s in ['"', "\\", "&", "<>", '\\"&', 'a&b"c', "é&", "\\\\"]
              for tail in (0, 1, 15, 16, 17)]
    key = "Key&" if offset % 2 else "ObjectName"       # a key the Name attribute must escape: declined
    docs = [_doc({"CommandLine": v, key: v, "K" + offset * "k": v}) for v in values]
    docs += [_doc({"CommandLine": v}, channel="System") for v in values]
    docs += [_doc({"SubjectUserName": "a"}, system_extra={"Computer": v}) for v in values]
    _assert_paths_agree(_Batch(docs, list(range(1, len(docs) + 1))), monkeypatch, f"offset {offset}")


# <UserData> of Security events (1100, 1102 …): the accelerator renders the shapes json_to_xml renders
# without surprises and declines the rest; both must come out as the SQL path writes them.
CLEARED = {"#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
           "SubjectUserSid": "S-1-5-21-1-2-3-1111", "SubjectUserName": "admmig", "SubjectDomainName": "OFFSEC",
           "SubjectLogonId": "0xe922e"}


def _user_data(user_data: str) -> str:
    return _doc({"X": "Y"}, top="UserData").replace('{"X":"Y"}', user_data)


@pytest.mark.parametrize("user_data", [
    orjson.dumps({"LogFileCleared": CLEARED}).decode(),
    '{"ServiceShutdown":{"#attributes":{"xmlns:auto-ns3":"urn:a","xmlns":"urn:b"}}}',
    '{"EventProcessingFailure":{"#attributes":{"xmlns":"urn:b"},"Error":{"#attributes":{"Code":15007}},'
    '"EventID":4647,"PublisherID":"Microsoft-Windows-Security-Auditing"}}',
    r'{"AuditEventsDropped":{"Reason":0,"Flag":true,"Off":false,"Nothing":null,"Text":"a&b<c>\\d\"e"}}',
    '{"E":{"Item":["a",{"#attributes":{"n":1},"#text":"b"},null,{"Deep":{"Deeper":"x"}}]}}',
    '{"E":{"SubjectUserName":"first","SubjectUserName":"second"}}',      # a key twice
    '{"E":{"Item":{"#text":["a","b"]}}}',                               # repeated elements
    '{"E":{"#text":["a","b"]}}',
    '{"E":{"Item":[["nested"]]}}', '{"E":["a","b"]}', '{"E":{"x":[]}}',
    '{"E":{"SubjectUserName":1.5}}', '{"E":{"Size":1e3}}', '{"E":{"SubjectUserName":-0}}',
    '{"E":{"SubjectUserName":123456789012345678901}}', '{"E":{"SubjectUserName":{"nested":1}}}',
    r'{"E":{"SubjectUserName":"bell\u0007"}}', r'{"E":{"Other":"tab\tand\u001f"}}',
    '{"E":{"SubjectUserName":"￾"}}',
    r'{"E":{"#attributes":{"a":"C:\\x"}}}', r'{"E":{"#attributes":{"a":"q\"uote"}}}',
    '{"E":{"A":"x","#attributes":{"late":"1"}}}', '{"#attributes":{"top":"1"},"E":{"A":"x"}}',
    '{"E":{"#attributes":"not an object"}}', '{"E":{"EventData":{"A":"x"}}}',
    r'{"E":{"Esc\\aped":"x"}}', '{"E":"just text"}', '{"E":null}', '{}', '{"E":{},"F":{"SubjectUserName":"x"}}',
])
def test_user_data_of_security_events_converts_alike_on_both_paths(monkeypatch, user_data):
    good = _doc({"SubjectUserName": "alice", "LogonType": 3})
    _assert_paths_agree(_Batch([good, _user_data(user_data), good], [1, 2, 3]), monkeypatch, user_data)


elements = st.recursive(
    st.one_of(values, st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(FIELDS[:4] + ["#attributes", "#text", "Item", "EventData"]),
                                            inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=int(os.environ.get("TRIAGEPARSE_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["LogFileCleared", "E", "#attributes"]), elements, max_size=2))
def test_generated_user_data_converts_alike_on_both_paths(monkeypatch, user_data):
    good = _doc({"SubjectUserName": "alice", "LogonType": 3})
    doc = _doc(user_data, top="UserData")
    _assert_paths_agree(_Batch([good, doc, good], [1, 2, 3]), monkeypatch, doc)


# Control characters in EventData (4661's PrivilegeList, 4739's password policy values): the SQL path renders
# such records with json_to_xml (\uXXXX text); the accelerator writes the same unless the record has a
# shape json_to_xml renders differently.
@pytest.mark.parametrize("event_data", [
    r'{"PrivilegeList":"\u01ff\u000f-","AccessMask":"0x2d","Properties":"---\r\n\t{1}\r\n%%1537"}',
    r'{"MinPasswordAge":"\u0003","LockoutThreshold":"\u0003","MixedDomainMode":"0","Count":7,"On":true,"No":null}',
    r'{"A":"\b\f\u001f\u0000 and \u00e9 and \ud83d\ude00","B":"a&b<c>\"q\"\\"}',
    r'{"A":"\u0003","A":"twice"}', r'{"A":"\u0003","Size":1.5}', r'{"A":"\u0003","#text":"t"}',
    r'{"A":"\u0003","B":"￾"}', r'{"A":"\u0003","Big":123456789012345678901}',
])
def test_control_characters_in_event_data_convert_alike_on_both_paths(monkeypatch, event_data):
    good = _doc({"SubjectUserName": "alice", "LogonType": 3})
    doc = _doc({"X": "Y"}).replace('{"X":"Y"}', event_data)
    _assert_paths_agree(_Batch([good, doc, good], [1, 2, 3]), monkeypatch, event_data)


def test_the_accelerator_renders_control_characters_itself():
    doc = _doc({"X": "Y"}).replace('{"X":"Y"}', r'{"SubjectUserName":"a\u0003b","PrivilegeList":"\u01ff\u000f-"}')
    fields = tuple(EvtxLog()._security_field_names())
    columns = eventlog_evtx.ACCELERATOR.convert([doc], [1], fields)
    assert columns["fallback"] == b"\x00"
    assert r'<Data Name="SubjectUserName">a\u0003b</Data>' in columns["EventDataXml"][2].decode()
    assert columns["fields"][fields.index("SubjectUserName")][2] == b"a\x03b"


def test_the_accelerator_renders_the_log_cleared_event_itself():
    # Before, every <UserData> record was redone in Python (~0.1 ms each, with copies of whole columns).
    doc = _user_data(orjson.dumps({"LogFileCleared": CLEARED}).decode())
    fields = tuple(EvtxLog()._security_field_names())
    columns = eventlog_evtx.ACCELERATOR.convert([doc], [1], fields)
    assert columns["fallback"] == b"\x00"
    xml = columns["EventDataXml"][2].decode()
    assert xml.startswith(f'<UserData xmlns="{eventlog_evtx.EVENT_NS}"><LogFileCleared xmlns="http://manifests')
    assert "<SubjectUserName>admmig</SubjectUserName>" in xml
    user = fields.index("SubjectUserName")
    assert columns["fields"][user][2] == b"admmig"


def test_a_conversion_without_the_accelerator_writes_the_same_tables(corpus, tmp_path, monkeypatch):
    """The whole pipeline on the DuckDB path (no C compiler at install) gives what the accelerated one gives."""
    import pyarrow.dataset as ds

    import triageparse
    logs = [corpus / "evtx/shared/T1110_brute_force/mdecrevoisier__ID4768-4771-Kerberos user enumeration (Kerbrute).evtx",
            corpus / "evtx/shared/T1003.001_LSASS_memory/sbousseaden__sysmon_10_11_lsass_memdump.evtx"]
    triageparse.convert(logs, tmp_path / "fast")
    monkeypatch.setattr(eventlog_evtx, "ACCELERATOR", None)
    triageparse.convert(logs, tmp_path / "sql")
    for table in ("SecurityEvent", "WindowsEvent"):
        fast, sql = (ds.dataset(tmp_path / run / table).to_table().sort_by("EventRecordId") for run in ("fast", "sql"))
        assert fast.num_rows > 0
        _same(fast, sql, table)
