"""ipconfig.txt (`ipconfig /all` through Out-File): adapters, host settings, localised labels and
long lease dates converted from the host's local time to UTC."""
from __future__ import annotations

import datetime as dt

import orjson
import pytest

from raw_artifact_helpers import convert_files, issues

from triageparse.artifacts.ipconfig import label_column, parse_long_date

UTC = dt.timezone.utc

EN_US = """
Windows IP Configuration

   Host Name . . . . . . . . . . . . : WS01
   Primary Dns Suffix  . . . . . . . : corp.example
   Node Type . . . . . . . . . . . . : Hybrid
   IP Routing Enabled. . . . . . . . : No
   WINS Proxy Enabled. . . . . . . . : No
   DNS Suffix Search List. . . . . . : corp.example
                                       example

Ethernet adapter Ethernet:

   Connection-specific DNS Suffix  . : corp.example
   Description . . . . . . . . . . . : Intel(R) Ethernet Connection (7) I219-LM
   Physical Address. . . . . . . . . : 00-11-22-33-44-55
   DHCP Enabled. . . . . . . . . . . : Yes
   Autoconfiguration Enabled . . . . : Yes
   IPv6 Address. . . . . . . . . . . : 2001:db8::10(Preferred)
   Temporary IPv6 Address. . . . . . : 2001:db8::beef(Deprecated)
   Link-local IPv6 Address . . . . . : fe80::1c2d:3e4f:5a6b:7c8d%12(Preferred)
   IPv4 Address. . . . . . . . . . . : 192.168.1.10(Preferred)
   Subnet Mask . . . . . . . . . . . : 255.255.255.0
   Lease Obtained. . . . . . . . . . : Wednesday, September 20, 2023 4:28:04 PM
   Lease Expires . . . . . . . . . . : Thursday, September 21, 2023 4:28:04 AM
   Default Gateway . . . . . . . . . : fe80::1%12
                                       192.168.1.1
   DHCP Server . . . . . . . . . . . : 192.168.1.1
   DHCPv6 IAID . . . . . . . . . . . : 100667431
   DHCPv6 Client DUID. . . . . . . . : 00-01-00-01-2C-5E-7A-11-00-11-22-33-44-55
   DNS Servers . . . . . . . . . . . : 192.168.1.2
                                       8.8.8.8
   Primary WINS Server . . . . . . . : 192.168.1.3
   NetBIOS over Tcpip. . . . . . . . : Enabled
   Some Future Setting . . . . . . . : 42

Wireless LAN adapter Wi-Fi:

   Media State . . . . . . . . . . . : Media disconnected
   Connection-specific DNS Suffix  . :
   Description . . . . . . . . . . . : Intel(R) Wi-Fi 6 AX201 160MHz
   Physical Address. . . . . . . . . : 00-11-22-33-44-66
   DHCP Enabled. . . . . . . . . . . : Yes
   Autoconfiguration Enabled . . . . : Yes
"""

DE_DE = """
Windows-IP-Konfiguration

   Hostname  . . . . . . . . . . . . : PC-MUELLER
   Primäres DNS-Suffix . . . . . . . :
   Knotentyp . . . . . . . . . . . . : Hybrid
   IP-Routing aktiviert  . . . . . . : Nein
   WINS-Proxy aktiviert  . . . . . . : Nein
   DNS-Suffixsuchliste . . . . . . . : fritz.box

Ethernet-Adapter Ethernet:

   Verbindungsspezifisches DNS-Suffix: fritz.box
   Beschreibung. . . . . . . . . . . : Realtek PCIe GbE Family Controller
   Physische Adresse . . . . . . . . : 30-9C-23-00-00-01
   DHCP aktiviert. . . . . . . . . . : Ja
   Autokonfiguration aktiviert . . . : Ja
   Verbindungslokale IPv6-Adresse  . : fe80::abcd%11(Bevorzugt)
   IPv4-Adresse  . . . . . . . . . . : 192.168.178.20(Bevorzugt)
   Subnetzmaske  . . . . . . . . . . : 255.255.255.0
   Lease erhalten. . . . . . . . . . : Mittwoch, 20. September 2023 16:28:04
   Lease läuft ab. . . . . . . . . . : Donnerstag, 21. September 2023 16:28:04
   Standardgateway . . . . . . . . . : 192.168.178.1
   DHCP-Server . . . . . . . . . . . : 192.168.178.1
   DNS-Server  . . . . . . . . . . . : 192.168.178.1
   NetBIOS über TCP/IP . . . . . . . : Aktiviert
"""

NL_NL = """
Windows IP-configuratie

   Hostnaam . . . . . . . . . . . . : LAPTOP-JANSEN
   Primair DNS-achtervoegsel . . . . :
   Knooppunttype . . . . . . . . . . : hybride
   IP-routering ingeschakeld . . . . : nee
   WINS-proxy ingeschakeld . . . . . : nee

Draadloos LAN-adapter Wi-Fi:

   Verbindingsspec. DNS-achtervoegsel: home
   Beschrijving. . . . . . . . . . . : Intel(R) Wi-Fi 6 AX201 160MHz
   Fysiek adres. . . . . . . . . . . : 00-11-22-33-44-77
   DHCP ingeschakeld . . . . . . . . : ja
   Autom. configuratie ingeschakeld  : ja
   IPv4-adres. . . . . . . . . . . . : 192.168.2.15(voorkeur)
   Subnetmasker. . . . . . . . . . . : 255.255.255.0
   Lease verkregen . . . . . . . . . : woensdag 20 september 2023 16:28:04
   Lease verloopt. . . . . . . . . . : donderdag 21 september 2023 16:28:04
   Standaardgateway. . . . . . . . . : 192.168.2.254
   DHCP-server . . . . . . . . . . . : 192.168.2.254
   DNS-servers . . . . . . . . . . . : 192.168.2.254
   NetBIOS via TCP/IP. . . . . . . . : ingeschakeld
"""


def out_file(text: str) -> bytes:
    """Out-File bytes: UTF-16LE with BOM, CRLF."""
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def adapters(tmp_path, text: str, **options) -> list[dict]:
    tables = convert_files(tmp_path, {"ipconfig.txt": out_file(text)}, **options)
    return sorted(tables["NetworkAdapter"], key=lambda r: r["SourceRecord"])


def test_en_us_adapters_host_fields_lists_and_lease_times(tmp_path):
    ethernet, wifi = adapters(tmp_path, EN_US, timezone="America/New_York")
    assert (ethernet["HostName"], ethernet["NodeType"], ethernet["IpRoutingEnabled"]) == ("WS01", "Hybrid", False)
    assert orjson.loads(ethernet["DnsSuffixSearchList"]) == ["corp.example", "example"]
    assert (ethernet["AdapterType"], ethernet["AdapterName"], ethernet["SourceRecord"]) == \
        ("Ethernet adapter", "Ethernet", 12)
    assert (ethernet["PhysicalAddress"], ethernet["DhcpEnabled"]) == ("00-11-22-33-44-55", True)
    assert orjson.loads(ethernet["IPv4Addresses"]) == ["192.168.1.10"]
    assert orjson.loads(ethernet["IPv6Addresses"]) == ["2001:db8::10", "2001:db8::beef", "fe80::1c2d:3e4f:5a6b:7c8d%12"]
    assert orjson.loads(ethernet["AddressStates"])["2001:db8::beef"] == "Deprecated"
    assert orjson.loads(ethernet["DefaultGateways"]) == ["fe80::1%12", "192.168.1.1"]
    assert orjson.loads(ethernet["DnsServers"]) == ["192.168.1.2", "8.8.8.8"]
    assert orjson.loads(ethernet["WinsServers"]) == ["192.168.1.3"]
    # 4:28:04 PM EDT is 20:28:04 UTC; 4:28:04 AM the next day is 08:28:04 UTC.
    assert ethernet["LeaseObtained"] == dt.datetime(2023, 9, 20, 20, 28, 4, tzinfo=UTC)
    assert ethernet["LeaseExpires"] == dt.datetime(2023, 9, 21, 8, 28, 4, tzinfo=UTC)
    assert ethernet["LeaseObtainedText"] == "Wednesday, September 20, 2023 4:28:04 PM"
    assert orjson.loads(ethernet["AdditionalFields"]) == {"Some Future Setting": "42"}
    assert (wifi["MediaState"], wifi["AdapterName"], wifi["IPv4Addresses"]) == ("Media disconnected", "Wi-Fi", None)
    assert wifi["HostName"] == "WS01"


def test_german_labels_and_long_dates(tmp_path):
    [ethernet] = adapters(tmp_path, DE_DE, timezone="Europe/Berlin")
    assert (ethernet["HostName"], ethernet["AdapterType"], ethernet["Description"]) == \
        ("PC-MUELLER", "Ethernet-Adapter", "Realtek PCIe GbE Family Controller")
    assert (ethernet["DhcpEnabled"], ethernet["AutoconfigurationEnabled"], ethernet["WinsProxyEnabled"]) == \
        (True, True, False)
    assert orjson.loads(ethernet["IPv6Addresses"]) == ["fe80::abcd%11"]
    assert orjson.loads(ethernet["AddressStates"])["192.168.178.20"] == "Bevorzugt"
    assert ethernet["LeaseObtained"] == dt.datetime(2023, 9, 20, 14, 28, 4, tzinfo=UTC)     # CEST = UTC+2
    assert ethernet["LeaseExpires"] == dt.datetime(2023, 9, 21, 14, 28, 4, tzinfo=UTC)
    assert orjson.loads(ethernet["DnsServers"]) == ["192.168.178.1"] and ethernet["PrimaryDnsSuffix"] is None


def test_dutch_labels_and_long_dates(tmp_path):
    [wifi] = adapters(tmp_path, NL_NL, timezone="+02:00")
    assert (wifi["HostName"], wifi["AdapterType"], wifi["AdapterName"]) == \
        ("LAPTOP-JANSEN", "Draadloos LAN-adapter", "Wi-Fi")
    assert (wifi["PhysicalAddress"], wifi["DhcpEnabled"], wifi["AutoconfigurationEnabled"]) == \
        ("00-11-22-33-44-77", True, True)
    assert orjson.loads(wifi["DefaultGateways"]) == ["192.168.2.254"]
    assert wifi["LeaseExpires"] == dt.datetime(2023, 9, 21, 14, 28, 4, tzinfo=UTC)


def test_without_a_time_zone_lease_times_are_taken_as_utc_and_said_so(tmp_path):
    tables = convert_files(tmp_path, {"ipconfig.txt": out_file(EN_US)})
    ethernet = min(tables["NetworkAdapter"], key=lambda r: r["SourceRecord"])
    assert ethernet["LeaseObtained"] == dt.datetime(2023, 9, 20, 16, 28, 4, tzinfo=UTC)
    assert tables["Collection"][0]["TimeZoneSource"] == "assumed-utc"


@pytest.mark.parametrize("text, expected", [
    ("Wednesday, September 20, 2023 4:28:04 PM", (2023, 9, 20, 16, 28, 4)),
    ("Thursday, September 21, 2023 12:05:00 AM", (2023, 9, 21, 0, 5, 0)),
    ("20 September 2023 16:28:04", (2023, 9, 20, 16, 28, 4)),                # en-GB
    ("Mittwoch, 20. September 2023 16:28:04", (2023, 9, 20, 16, 28, 4)),     # de-DE
    ("woensdag 20 september 2023 16:28:04", (2023, 9, 20, 16, 28, 4)),       # nl-NL
    ("mercredi 20 septembre 2023 16:28:04", (2023, 9, 20, 16, 28, 4)),       # fr-FR
    ("miércoles, 20 de septiembre de 2023 16:28:04", (2023, 9, 20, 16, 28, 4)),
    ("Montag, 6. März 2023 09:01:02", (2023, 3, 6, 9, 1, 2)),
    ("2023年9月20日 16:28:04", (2023, 9, 20, 16, 28, 4)),
])
def test_long_dates_of_several_cultures(text, expected):
    assert parse_long_date(text) == dt.datetime(*expected)


@pytest.mark.parametrize("text", ["not a date", "Wednesday, Smarch 20, 2023 4:28:04 PM", "20.09.2023 16:28:04",
                                  "Wednesday, September 20, 2023 16:28:04 PM"])
def test_what_is_not_a_long_date(text):
    assert parse_long_date(text) is None


def test_numeric_lease_dates_fall_back_to_the_collection_culture(tmp_path):
    text = EN_US.replace("Wednesday, September 20, 2023 4:28:04 PM", "20.09.2023 16:28:04")
    tables = convert_files(tmp_path, {"ipconfig.txt": out_file(text)}, culture="de-DE")
    ethernet = min(tables["NetworkAdapter"], key=lambda r: r["SourceRecord"])
    assert ethernet["LeaseObtained"] == dt.datetime(2023, 9, 20, 16, 28, 4, tzinfo=UTC)
    assert not [i for i in issues(tables, "ipconfig.txt") if "LeaseObtained" in i["Reason"]]


def test_garbled_umlauts_still_find_their_label():
    # The child powershell.exe re-decodes ipconfig's OEM output: 'läuft' can arrive as 'l„uft'.
    assert label_column("Lease l\u201euft ab") == "LeaseExpires"
    assert label_column("Tempor\u201eare IPv6-Adresse") == "IPv6Addresses"
    assert label_column("Autoconfiguration IPv4 Address") == "IPv4Addresses"
