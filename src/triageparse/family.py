"""Which DFIR-Script version family wrote a collection, from its contents (the script never says).

See ../shared/reference/dfir-script-formats.md §1.2–1.3. The family is recorded on the Collection
row for the analyst; parsers never rely on it: the content of each file decides its table.
"""
from __future__ import annotations


def detect_family(paths: list[str]) -> str:
    lower = [p.lower() for p in paths]
    has = lambda prefix: any(p.startswith(prefix) for p in lower)  # noqa: E731
    if has("csv results (siem import data)/"):
        if has("persistence/win32regrunkey.") or has("ipconfig.txt"):
            return "F6"
        if has("powershellhistory/") and not has("mplogs/support/"):
            return "F5"
        return "F4"
    if has("csv results (siem data)/"):
        return "F3b"
    if has("siemimport/"):
        return "F3a"
    if has("connecteddevices/connecteddevices.csv"):
        return "F2"
    if has("processinformation/processlist.csv"):
        return "F1b"
    if has("processinformation/processlist.txt"):
        return "F1" if has("applications/") else "F0"
    return "other"
