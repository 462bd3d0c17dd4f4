"""What Sentinel derives for a SecurityEvent row, shared by the EVTX and the SecurityEvents.csv readers.

Sentinel's agent fills a few columns that are not in the event itself: ``Activity`` ("4624 - An
account was successfully logged on."), ``Account`` (target account, else subject account, as
``DOMAIN\\user``), ``AccountType``, ``LogonTypeName``, ``SubjectAccount``, ``TargetAccount``,
``Process`` and a ``Level`` of "8"/"16" for audit success/failure. Hunting queries filter on them,
so both readers build them here, vectorised over Arrow tables.

``--security-event-columns full`` sends every SecurityEvent row to SecurityEventFull instead (all of
Sentinel's columns; too wide for a free ADX cluster): :func:`route_security_events`, called by
``FileContext.emit``, so no parser has to know.
"""
from __future__ import annotations

import functools
import re

import pyarrow as pa
import pyarrow.compute as pc

from ..arrays import contiguous
from .. import contracts

ORIGIN_EVTX = "EvtxFile"
ORIGIN_CSV = "GetEventLogCsv"
ORIGIN_TEXT = "GetEventLogText"

# Security-channel event descriptions (the first sentence of the English message, as Sentinel's Activity).
SECURITY_EVENT_DESCRIPTIONS: dict[int, str] = {
    1100: "The event logging service has shut down.",
    1102: "The audit log was cleared.",
    1104: "The security log is now full.",
    1105: "Event log automatic backup.",
    1108: "The event logging service encountered an error.",
    4608: "Windows is starting up.",
    4609: "Windows is shutting down.",
    4610: "An authentication package has been loaded by the Local Security Authority.",
    4611: "A trusted logon process has been registered with the Local Security Authority.",
    4614: "A notification package has been loaded by the Security Account Manager.",
    4616: "The system time was changed.",
    4618: "A monitored security event pattern has occurred.",
    4621: "Administrator recovered system from CrashOnAuditFail.",
    4622: "A security package has been loaded by the Local Security Authority.",
    4624: "An account was successfully logged on.",
    4625: "An account failed to log on.",
    4626: "User/Device claims information.",
    4627: "Group membership information.",
    4634: "An account was logged off.",
    4647: "User initiated logoff.",
    4648: "A logon was attempted using explicit credentials.",
    4649: "A replay attack was detected.",
    4656: "A handle to an object was requested.",
    4657: "A registry value was modified.",
    4658: "The handle to an object was closed.",
    4660: "An object was deleted.",
    4661: "A handle to an object was requested.",
    4662: "An operation was performed on an object.",
    4663: "An attempt was made to access an object.",
    4664: "An attempt was made to create a hard link.",
    4670: "Permissions on an object were changed.",
    4672: "Special privileges assigned to new logon.",
    4673: "A privileged service was called.",
    4674: "An operation was attempted on a privileged object.",
    4688: "A new process has been created.",
    4689: "A process has exited.",
    4690: "An attempt was made to duplicate a handle to an object.",
    4691: "Indirect access to an object was requested.",
    4692: "Backup of data protection master key was attempted.",
    4693: "Recovery of data protection master key was attempted.",
    4696: "A primary token was assigned to process.",
    4697: "A service was installed in the system.",
    4698: "A scheduled task was created.",
    4699: "A scheduled task was deleted.",
    4700: "A scheduled task was enabled.",
    4701: "A scheduled task was disabled.",
    4702: "A scheduled task was updated.",
    4703: "A user right was adjusted.",
    4704: "A user right was assigned.",
    4705: "A user right was removed.",
    4706: "A new trust was created to a domain.",
    4707: "A trust to a domain was removed.",
    4713: "Kerberos policy was changed.",
    4715: "The audit policy (SACL) on an object was changed.",
    4716: "Trusted domain information was modified.",
    4717: "System security access was granted to an account.",
    4718: "System security access was removed from an account.",
    4719: "System audit policy was changed.",
    4720: "A user account was created.",
    4722: "A user account was enabled.",
    4723: "An attempt was made to change an account's password.",
    4724: "An attempt was made to reset an account's password.",
    4725: "A user account was disabled.",
    4726: "A user account was deleted.",
    4727: "A security-enabled global group was created.",
    4728: "A member was added to a security-enabled global group.",
    4729: "A member was removed from a security-enabled global group.",
    4730: "A security-enabled global group was deleted.",
    4731: "A security-enabled local group was created.",
    4732: "A member was added to a security-enabled local group.",
    4733: "A member was removed from a security-enabled local group.",
    4734: "A security-enabled local group was deleted.",
    4735: "A security-enabled local group was changed.",
    4737: "A security-enabled global group was changed.",
    4738: "A user account was changed.",
    4739: "Domain Policy was changed.",
    4740: "A user account was locked out.",
    4741: "A computer account was created.",
    4742: "A computer account was changed.",
    4743: "A computer account was deleted.",
    4744: "A security-disabled local group was created.",
    4746: "A member was added to a security-disabled local group.",
    4747: "A member was removed from a security-disabled local group.",
    4749: "A security-disabled global group was created.",
    4751: "A member was added to a security-disabled global group.",
    4752: "A member was removed from a security-disabled global group.",
    4754: "A security-enabled universal group was created.",
    4755: "A security-enabled universal group was changed.",
    4756: "A member was added to a security-enabled universal group.",
    4757: "A member was removed from a security-enabled universal group.",
    4758: "A security-enabled universal group was deleted.",
    4761: "A member was added to a security-disabled universal group.",
    4762: "A member was removed from a security-disabled universal group.",
    4764: "A group's type was changed.",
    4765: "SID History was added to an account.",
    4766: "An attempt to add SID History to an account failed.",
    4767: "A user account was unlocked.",
    4768: "A Kerberos authentication ticket (TGT) was requested.",
    4769: "A Kerberos service ticket was requested.",
    4770: "A Kerberos service ticket was renewed.",
    4771: "Kerberos pre-authentication failed.",
    4772: "A Kerberos authentication ticket request failed.",
    4773: "A Kerberos service ticket request failed.",
    4774: "An account was mapped for logon.",
    4775: "An account could not be mapped for logon.",
    4776: "The computer attempted to validate the credentials for an account.",
    4777: "The domain controller failed to validate the credentials for an account.",
    4778: "A session was reconnected to a Window Station.",
    4779: "A session was disconnected from a Window Station.",
    4780: "The ACL was set on accounts which are members of administrators groups.",
    4781: "The name of an account was changed.",
    4782: "The password hash an account was accessed.",
    4793: "The Password Policy Checking API was called.",
    4794: "An attempt was made to set the Directory Services Restore Mode administrator password.",
    4797: "An attempt was made to query the existence of a blank password for an account.",
    4798: "A user's local group membership was enumerated.",
    4799: "A security-enabled local group membership was enumerated.",
    4800: "The workstation was locked.",
    4801: "The workstation was unlocked.",
    4802: "The screen saver was invoked.",
    4803: "The screen saver was dismissed.",
    4815: "A new central access policy was applied.",
    4817: "Auditing settings on object were changed.",
    4826: "Boot Configuration Data loaded.",
    4886: "Certificate Services received a certificate request.",
    4887: "Certificate Services approved a certificate request and issued a certificate.",
    4902: "The Per-user audit policy table was created.",
    4904: "An attempt was made to register a security event source.",
    4905: "An attempt was made to unregister a security event source.",
    4906: "The CrashOnAuditFail value has changed.",
    4907: "Auditing settings on object were changed.",
    4908: "Special Groups Logon table modified.",
    4911: "Resource attributes of the object were changed.",
    4912: "Per User Audit Policy was changed.",
    4944: "The following policy was active when the Windows Firewall started.",
    4946: "A change has been made to Windows Firewall exception list. A rule was added.",
    4947: "A change has been made to Windows Firewall exception list. A rule was modified.",
    4948: "A change has been made to Windows Firewall exception list. A rule was deleted.",
    4950: "A Windows Firewall setting has changed.",
    4954: "Windows Firewall Group Policy settings has changed. The new settings have been applied.",
    4956: "Windows Firewall has changed the active profile.",
    4957: "Windows Firewall did not apply the following rule.",
    4964: "Special groups have been assigned to a new logon.",
    5024: "The Windows Firewall Service has started successfully.",
    5025: "The Windows Firewall Service has been stopped.",
    5031: "The Windows Firewall Service blocked an application from accepting incoming connections on the network.",
    5033: "The Windows Firewall Driver has started successfully.",
    5058: "Key file operation.",
    5059: "Key migration operation.",
    5061: "Cryptographic operation.",
    5136: "A directory service object was modified.",
    5137: "A directory service object was created.",
    5140: "A network share object was accessed.",
    5142: "A network share object was added.",
    5144: "A network share object was deleted.",
    5145: "A network share object was checked to see whether client can be granted desired access.",
    5152: "The Windows Filtering Platform blocked a packet.",
    5154: "The Windows Filtering Platform has permitted an application or service to listen on a port for "
          "incoming connections.",
    5156: "The Windows Filtering Platform has permitted a connection.",
    5157: "The Windows Filtering Platform has blocked a connection.",
    5158: "The Windows Filtering Platform has permitted a bind to a local port.",
    5379: "Credential Manager credentials were read.",
    5381: "Vault credentials were read.",
    5382: "Vault credentials were read.",
    5447: "A Windows Filtering Platform filter has been changed.",
    5632: "A request was made to authenticate to a wireless network.",
    5805: "A session setup from a computer failed to authenticate.",
    5827: "The Netlogon service denied a vulnerable Netlogon secure channel connection from a machine account.",
    5829: "The Netlogon service allowed a vulnerable Netlogon secure channel connection.",
    5890: "An object was added to the COM+ Catalog.",
    6272: "Network Policy Server granted access to a user.",
    6273: "Network Policy Server denied access to a user.",
    6281: "Code Integrity determined that the page hashes of an image file are not valid.",
    6416: "A new external device was recognized by the system.",
    6419: "A request was made to disable a device.",
    6420: "A device was disabled.",
    6423: "The installation of this device is forbidden by system policy.",
}

LOGON_TYPE_NAMES: dict[int, str] = {
    0: "System", 2: "Interactive", 3: "Network", 4: "Batch", 5: "Service", 7: "Unlock", 8: "NetworkCleartext",
    9: "NewCredentials", 10: "RemoteInteractive", 11: "CachedInteractive", 12: "CachedRemoteInteractive",
    13: "CachedUnlock",
}



@functools.cache
def _lookups() -> dict[str, pa.Array]:
    # Built on first use, not at import: pyarrow imports pandas (~0.25 s) on its first pa.array of a list.
    return {
        "known_ids": pa.array(sorted(SECURITY_EVENT_DESCRIPTIONS), pa.int32()),
        "activities": pa.array([f"{i} - {SECURITY_EVENT_DESCRIPTIONS[i]}" for i in sorted(SECURITY_EVENT_DESCRIPTIONS)]),
        "logon_ids": pa.array(sorted(LOGON_TYPE_NAMES), pa.int32()),
        "logon_names": pa.array([f"{i} - {LOGON_TYPE_NAMES[i]}" for i in sorted(LOGON_TYPE_NAMES)]),
        "no_value": pa.array(["", "-"]),
    }

AUDIT_SUCCESS = 0x0020000000000000
AUDIT_FAILURE = 0x0010000000000000


def _col(t: pa.Table, names: set[str], name: str, typ: pa.DataType = pa.string()) -> pa.Array:
    if name in names:
        a = contiguous(t.column(name))
        return a if a.type == typ else pc.cast(a, typ, safe=False)
    return pa.nulls(t.num_rows, typ)


def _int32(text: pa.Array) -> pa.Array:
    digits = pc.if_else(pc.fill_null(pc.match_substring_regex(text, r"^\s*\d{1,9}\s*$"), False), text,
                        pa.scalar(None, pa.string()))
    return pc.cast(pc.utf8_trim_whitespace(digits), pa.int32())


def _account(domain: pa.Array, user: pa.Array) -> pa.Array:
    """``DOMAIN\\user`` when there is a user name; Sentinel writes ``\\user`` when the domain is empty."""
    has_user = pc.and_(pc.is_valid(user), pc.invert(pc.fill_null(pc.is_in(user, _lookups()["no_value"]), False)))
    joined = pc.binary_join_element_wise(pc.fill_null(domain, ""), user, "\\")
    return pc.if_else(has_user, joined, pa.scalar(None, pa.string()))


def with_sentinel_columns(t: pa.Table, event_id: pa.Array | None = None) -> pa.Table:
    """Add the columns Sentinel derives for SecurityEvent; ``t`` has EventID and the named fields as strings.

    ``event_id``: the EventID column as int32 when the caller has it so (the EVTX reader): not parsed
    again from text. Columns ``t`` already has are kept.
    """
    names = set(t.column_names)      # (a table's column_names is a new list at every call: 170 names)
    if event_id is None:
        event_id = _int32(_col(t, names, "EventID"))
    lookups = _lookups()
    idx = pc.index_in(event_id, value_set=lookups["known_ids"])
    activity = pc.coalesce(pc.take(lookups["activities"], idx), pc.cast(event_id, pa.string()))
    target = _account(_col(t, names, "TargetDomainName"), _col(t, names, "TargetUserName"))
    subject = _account(_col(t, names, "SubjectDomainName"), _col(t, names, "SubjectUserName"))
    account = pc.coalesce(target, subject)
    machine = pc.fill_null(pc.ends_with(account, "$"), False)
    account_type = pc.if_else(pc.is_null(account), pa.scalar(None, pa.string()),
                              pc.if_else(machine, "Machine", "User"))
    logon_type = _int32(_col(t, names, "LogonType"))
    logon_name = pc.take(lookups["logon_names"], pc.index_in(logon_type, value_set=lookups["logon_ids"]))
    logon_name = pc.coalesce(logon_name, pc.cast(logon_type, pa.string()))
    image = pc.coalesce(_col(t, names, "NewProcessName"), _col(t, names, "ProcessName"))
    process = pc.extract_regex(image, r"(?P<p>[^\\/]+)$").field("p")
    no_image = pc.or_(pc.is_null(image), pc.fill_null(pc.is_in(image, _lookups()["no_value"]), True))
    process = pc.if_else(no_image, pa.scalar(None, pa.string()), process)
    derived = {"Activity": activity, "Account": account, "AccountType": account_type, "SubjectAccount": subject,
               "TargetAccount": target, "LogonTypeName": logon_name, "Process": process}
    added = [name for name in derived if name not in names]
    if not added:
        return t
    # one new table, not one per column: each append_column built the ~170-column schema again
    return pa.Table.from_arrays(t.columns + [derived[name] for name in added], names=t.column_names + added)


def audit_level(keywords: pa.Array, level: pa.Array) -> pa.Array:
    """Sentinel's SecurityEvent.Level: "8" for audit success, "16" for audit failure, else System/Level."""
    text = pc.fill_null(pc.utf8_lower(pc.cast(keywords, pa.string())), "")
    mask = pc.cast(pc.if_else(pc.match_substring_regex(text, r"^0x[0-9a-f]{1,16}$"),
                              pc.utf8_slice_codeunits(text, 2), pa.scalar(None, pa.string())), pa.string())
    # The audit bits sit in the top byte: 0x80[2]0… and 0x80[1]0… (the 14th and 15th hex digit from the right).
    padded = pc.utf8_lpad(pc.fill_null(mask, "0"), 16, "0")
    nibble = pc.utf8_slice_codeunits(padded, 2, 3)
    success = pc.is_in(nibble, pa.array(["2", "3", "6", "7", "a", "b", "e", "f"]))
    failure = pc.is_in(nibble, pa.array(["1", "3", "5", "7", "9", "b", "d", "f"]))
    return pc.if_else(success, "8", pc.if_else(failure, "16", pc.cast(level, pa.string())))


# ---- the full Sentinel column set (convert --security-event-columns full) ---------------------------
SECURITY_EVENT_TABLES = {"compact": "SecurityEvent", "full": "SecurityEventFull"}


def security_event_table(columns: str) -> str:
    """The table Security-channel rows go to for a ``--security-event-columns`` choice."""
    try:
        return SECURITY_EVENT_TABLES[columns]
    except KeyError:
        raise ValueError(f"security_event_columns must be one of {', '.join(SECURITY_EVENT_TABLES)}, "
                         f"not {columns!r}") from None


def route_security_events(columns: str, table: str, rows: pa.Table) -> tuple[str, pa.Table]:
    """Where rows emitted as ``table`` go: with ``columns == "full"`` SecurityEvent rows become SecurityEventFull
    rows, whichever parser made them (FileContext.emit calls this, so the EVTX reader's forked workers and
    the Get-EventLog readers need not know)."""
    if table != SECURITY_EVENT_TABLES["compact"] or columns == "compact":
        return table, rows
    return security_event_table(columns), with_full_only_columns(rows)


_XML_UNESCAPE = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))


def with_full_only_columns(t: pa.Table) -> pa.Table:
    """The Sentinel columns only SecurityEventFull has, from the EventData field of the same name.

    The EVTX reader extracts the fields SecurityEvent has; the rest are in its ``EventData`` XML,
    ``<Data Name="X">value</Data>``, escaped as XML text. A column a parser already set (TargetInfo
    from a 4648 Message) is kept.
    """
    if "EventData" not in t.column_names or not t.num_rows:
        return t
    xml = contiguous(t.column("EventData"))
    for name in full_only_columns():
        marker = f'<Data Name="{name}">'
        if name in t.column_names or not pc.any(pc.fill_null(pc.match_substring(xml, marker), False)).as_py():
            continue
        # struct_field, not .field(): a row without the field must stay null, not become "".
        values = pc.struct_field(pc.extract_regex(xml, f"{re.escape(marker)}(?P<v>[^<]*)</Data>"), "v")
        for escaped, char in _XML_UNESCAPE:
            values = pc.replace_substring(values, escaped, char)
        t = t.append_column(name, values)
    return t


@functools.cache
def full_only_columns() -> tuple[str, ...]:
    compact = contracts.get(SECURITY_EVENT_TABLES["compact"]).by_name
    return tuple(c.name for c in contracts.get(SECURITY_EVENT_TABLES["full"]).columns if c.name not in compact)
