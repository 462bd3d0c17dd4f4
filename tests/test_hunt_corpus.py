"""The hunting pack over real attack and baseline EVTX of the corpus, converted by the real converter.

Each query must report exactly the hosts whose logs record what it hunts for, and nothing on the
other samples (benign baseline channels, brute-force logs of other protocols, task and run-key
samples): the expectations below were checked by reading the events.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import triageparse
from triageparse.kql import hunt

SAMPLES = [
    "evtx/shared/T1070.001_clear_event_logs/sbousseaden__DE_104_system_log_cleared.evtx",
    "evtx/shared/T1070.001_clear_event_logs/sbousseaden__DE_1102_security_log_cleared.evtx",
    "evtx/shared/T1136_create_account/mdecrevoisier__ID4720-4726 Fast created-deleted user.evtx",
    "evtx/shared/T1136_create_account/deepbluecli__new-user-security.evtx",
    "evtx/shared/AV_detection_Defender/mdecrevoisier__ID1116-1117-Defender threat detected.evtx",
    "evtx/shared/T1562.001_impair_defenses/mdecrevoisier__ID5007-Defender threat exclusion (native).evtx",
    "evtx/shared/T1059.001_PowerShell/mdecrevoisier__ID4103-4104-Payload download via PowerShell.evtx",
    "evtx/shared/T1021.001_RDP/velociraptor__RDPAuth_LocalSessionManager.evtx",
    "evtx/shared/T1110_brute_force/mdecrevoisier__ID4768-4771-Kerberos user enumeration (Kerbrute).evtx",
    "evtx/shared/T1110_brute_force/sbousseaden__kerberos_pwd_spray_4771.evtx",
    "evtx/shared/BASELINE_benign_channels/artemis__PowerShellCore%4Operational.evtx",
    "evtx/shared/BASELINE_benign_channels/artemis__Windows PowerShell.evtx",
    "evtx/shared/BASELINE_benign_channels/yamato__ID302 RDS Gateway Logon Logoff.evtx",
    "psreadline/dfirartifactmuseum_BelkasoftCTF/ConsoleHost_history.txt",
]

EXPECTED = {
    "security_log_cleared": {"PC01.example.corp", "01566s-win16-ir.threebeesco.com"},   # 1102
    "eventlog_cleared_system": {"PC01.example.corp"},                                   # System 104
    "new_local_user": {"rootdc1.offsec.lan", "IE8Win7"},                                # 4720
    "admin_group_change": {"IE8Win7"},                                                  # 4732 Administrators
    "defender_detection_events": {"WIN10-client01.offsec.lan"},                         # 1116/1117
    "defender_tampering_events": {"WIN10-client01.offsec.lan"},                         # 5007 exclusion added
    "powershell_scriptblock_suspicious": {"fs03vuln.offsec.lan"},                       # 4104 DownloadString
    "rdp_inbound_connections": {"dc.windomain.local"},                                  # 25 from 192.168.38.1
    "password_spraying": {"rootdc1.offsec.lan"},                                        # 22 accounts by 4771
    "failed_logon_burst": {"rootdc1.offsec.lan"},                                       # 22 failures in 9 s
}


@pytest.fixture(scope="module")
def results(corpus: Path, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("corpus") / "out"
    summary = triageparse.convert([corpus / s for s in SAMPLES], out)
    assert summary.errors == 0
    return {r.query.name: r for r in hunt(out, write=False)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_query_reports_the_hosts_whose_logs_hold_the_attack(results, name):
    result = results[name]
    assert result.status == "hits", result.note
    assert set(result.by_collection) == EXPECTED[name]


def test_psreadline_history_download_cradle(results):
    result = results["pshistory_download_or_encoded"]
    assert result.status == "hits"
    assert list(result.hits["Command"].str.contains("DownloadString('https://chocolatey.org/install.ps1')",
                                                    regex=False)) == [True]


def test_no_other_query_hits_the_corpus_samples(results):
    ran = {n: r for n, r in results.items() if r.status != "skipped"}
    assert all(r.status != "error" for r in ran.values()), {n: r.note for n, r in ran.items() if r.status == "error"}
    unexpected = {n: r.by_collection for n, r in ran.items()
                  if r.status == "hits" and n not in EXPECTED and n != "pshistory_download_or_encoded"}
    assert unexpected == {}
    # the event-log queries all ran (their tables exist), so silence is a result, not a skip
    assert {"rdp_logons", "explicit_credential_logons", "system_service_install",
            "psexec_service_events", "wmi_event_subscription"} <= {n for n, r in ran.items() if r.status == "clean"}
