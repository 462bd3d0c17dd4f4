"""``ipconfig.txt``: the text of ``ipconfig /all`` (DFIR-Script runs it through a child
``powershell.exe`` and saves it with Out-File, so UTF-16LE with BOM).

Layout: a ``Windows IP Configuration`` block of host settings, then one section per adapter whose
header is a non-indented line ending in ``:`` (``Ethernet adapter Ethernet:``). Inside a section
each setting is ``   Label . . . . : value``; extra values (DNS servers, gateways) continue on
lines indented to the value column. Labels, yes/no words, address-state suffixes and the long
lease dates are in the host's display language, so labels are recognised by keywords of several
languages (English, German, Dutch, French, Spanish, Italian, Portuguese) rather than by exact text;
a label we do not know is kept under its own name in AdditionalFields. The child process can
garble non-ASCII letters, so the keywords avoid depending on them (``l?uft ab``, ``tempor``).

Lease times are local wall-clock times written as long dates ("Wednesday, September 20, 2023
4:28:04 PM", "20 September 2023 16:28:04", "Mittwoch, 20. September 2023 16:28:04", "woensdag 20
september 2023 16:28:04"); they are parsed here and converted to UTC with the collection's time zone.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata

import orjson
import pyarrow as pa

from ..collection import Member
from ..formats.encoding import is_empty_text, iter_lines, read_text, sniff
from .base import Artifact, FileContext

TABLE = "NetworkAdapter"
_SETTING = re.compile(r"^(?P<indent> +)(?P<label>[^:]+?)[\s.]*:(?: (?P<value>.*)|\s*)$")
_ADDRESS_STATE = re.compile(r"^(?P<address>.*?)\s*\((?P<state>[^()]*)\)$")
_HEADER_ADAPTER = re.compile(r"^(?P<type>.*?(?:adapter|adaptateur|adaptador|scheda))\s+(?P<name>.+)$", re.I)
CONTINUATION_INDENT = 8        # settings are indented by 3 spaces, continuation values by ~39

# (column, regex on the normalised label); the first match wins, so specific labels come first.
LABELS: tuple[tuple[str, re.Pattern], ...] = tuple((column, re.compile(pattern)) for column, pattern in (
    ("HostName", r"^(host ?name|hostnaam|nom de l.h.te|nombre de host|nome host)"),
    ("PrimaryDnsSuffix", r"prim.*dns|dns.*princip|dns.*primari"),
    ("NodeType", r"node ?type|knotentyp|knooppunttype|type de n|tipo de nodo|tipo nodo"),
    ("IpRoutingEnabled", r"ip.?rout|routage ip|enrutamiento ip|routing ip"),
    ("WinsProxyEnabled", r"wins.?proxy|proxy wins"),
    ("DnsSuffixSearchList", r"search ?list|suchliste|zoeklijst|liste de recherche|lista de b.squeda|lista di ricerca"),
    ("MediaState", r"media ?state|medienstatus|mediumstatus|tat du m.dia|estado de los medios|stato supporto"),
    ("ConnectionSpecificDnsSuffix", r"connection.specific|verbindungsspezif|verbindingsspec|propre . la connexion|"
                                    r"espec.fico para la conexi|specifico per connessione"),
    ("Description", r"^(description|beschreibung|beschrijving|descripci|descrizione|descri..o)"),
    ("PhysicalAddress", r"physical|physische|fysiek|physique|f.sica|fisico|f.sico"),
    ("DhcpV6Iaid", r"iaid"),
    ("DhcpV6ClientDuid", r"duid"),
    ("DhcpServer", r"dhcp.*(server|serveur|servidor)"),
    ("DhcpEnabled", r"dhcp"),
    ("AutoconfigurationEnabled", r"(auto.?config|autokonfig|autom.* configuratie|configuration automatique|"
                                 r"configurazione automatica).*(enabled|aktiv|ingeschakeld|activ|habilit|attiv)"),
    ("LeaseObtained", r"(lease|bail|concesi).*(obtained|erhalten|verkregen|obtenu|obtenida|ottenuto|obtida)"),
    ("LeaseExpires", r"(lease|bail|concesi).*(expir|l.{1,2}uft ab|verloopt|scad|expira)"),
    ("SubnetMasks", r"subnet|masque|m.scara|maschera"),
    ("IPv6Addresses", r"ipv6|link.local|verbindungslokal|lien local|v.nculo"),
    ("IPv4Addresses", r"ipv4|^ip.?ad|^adresse ip|^direcci.n ip|^indirizzo ip"),
    ("DefaultGateways", r"gateway|passerelle|puerta de enlace"),
    ("DnsServers", r"dns"),
    ("WinsServers", r"wins"),
    ("NetBiosOverTcpip", r"netbios"),
))
LIST_COLUMNS = {"DnsSuffixSearchList", "IPv4Addresses", "IPv6Addresses", "SubnetMasks", "DefaultGateways",
                "DnsServers", "WinsServers", "ConnectionSpecificDnsSuffixSearchList"}
BOOL_COLUMNS = {"IpRoutingEnabled", "WinsProxyEnabled", "DhcpEnabled", "AutoconfigurationEnabled"}
HOST_COLUMNS = ("HostName", "PrimaryDnsSuffix", "NodeType", "IpRoutingEnabled", "WinsProxyEnabled",
                "DnsSuffixSearchList")
YES = {"yes", "ja", "oui", "si", "sí", "sim", "tak", "да", "igen", "evet", "kyllä", "ano"}
NO = {"no", "nein", "nee", "non", "não", "nao", "nie", "нет", "nem", "hayır", "ei", "ne"}

MONTHS: dict[str, int] = {}
for _names in (
        "january february march april may june july august september october november december",
        "januar februar märz april mai juni juli august september oktober november dezember",
        "januari februari maart april mei juni juli augustus september oktober november december",
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
        "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
        "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
        "jänner feber maerz mrt okt dez sept"):
    for _i, _name in enumerate(_names.split()):
        MONTHS.setdefault(_name, _i + 1)
MONTHS.update({"jänner": 1, "feber": 2, "maerz": 3, "mrt": 3, "okt": 10, "dez": 12, "sept": 9})
_TIME_AT_END = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*([ap])?\.?\s?(m\.?)?\s*$", re.I)


def _fold(text: str) -> str:
    """Lower case without accents, for comparing localised words (garbled letters stay unmatched)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


_MONTHS_FOLDED = {_fold(k): v for k, v in MONTHS.items()}


def parse_long_date(text: str) -> dt.datetime | None:
    """A localised long date-time (DATE_LONGDATE + time) -> naive local datetime, or None.

    The time sits at the end (with AM/PM for 12-hour cultures); before it, a 4-digit year, a month
    name in one of several languages (or 3+ letter abbreviation) and a 1-2 digit day, in any order,
    with weekday names and words like 'de' ignored. East-Asian ``2023年9月20日`` is read as well.
    """
    text = text.replace("\u200e", "").replace("\u200f", "").strip()
    m = _TIME_AT_END.search(text)
    if not m:
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if m.group(4) and m.group(5):
        if hour > 12:
            return None
        hour = hour % 12 + (12 if m.group(4).lower() == "p" else 0)
    date_part = text[: m.start()]
    cjk = re.search(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})", date_part)
    if cjk:
        year, month, day = (int(x) for x in cjk.groups())
    else:
        years = re.findall(r"(?<!\d)(\d{4})(?!\d)", date_part)
        days = re.findall(r"(?<!\d)(\d{1,2})(?!\d)", date_part)
        month = None
        for word in re.findall(r"[^\W\d_]{3,}", date_part):
            folded = _fold(word).rstrip(".")
            month = _MONTHS_FOLDED.get(folded) or next(
                (v for k, v in _MONTHS_FOLDED.items() if len(folded) >= 3 and k.startswith(folded)), None)
            if month:
                break
        if len(years) != 1 or len(days) != 1 or month is None:
            return None
        year, day = int(years[0]), int(days[0])
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def label_column(label: str) -> str | None:
    key = _fold(" ".join(label.split()))
    for column, pattern in LABELS:
        if pattern.search(key):
            return column
    return None


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    word = value.strip().lower()
    return True if word in YES else False if word in NO else None


class IpconfigText(Artifact):
    name = "ipconfig_text"
    tables = (TABLE,)

    @classmethod
    def claim(cls, member: Member) -> int:
        named = "ipconfig" in member.name.lower() and member.lower.endswith(".txt")
        if is_empty_text(member.head):
            return 40 if named else 0
        text = read_text(member.head[:8192])
        looks = bool(re.search(r"^ {3}\S.*(?:\. ){3,}.*: ", text, re.M)) and \
            bool(re.search(r"^\S.*(?:IP|ip).*\S$", text, re.M))
        return (80 if named else 45) if looks else (30 if named else 0)

    def parse(self, member: Member, ctx: FileContext) -> None:
        if is_empty_text(member.head):
            ctx.note("0 bytes: ipconfig produced no output")
            return
        host: dict = {}
        adapters: list[dict] = []
        current: dict | None = None          # settings of the section being read (host block first)
        last_column: str | None = None
        with member.open() as stream:
            for number, line, _ in iter_lines(stream, sniff(member.head)):
                if not line.strip():
                    continue
                if not line[0].isspace():
                    if line.rstrip().endswith(":"):
                        current = self._adapter(line.rstrip()[:-1].strip(), number)
                        adapters.append(current)
                        last_column = None
                    continue                          # 'Windows IP Configuration' and other titles
                target = current if current is not None else host
                indent = len(line) - len(line.lstrip())
                setting = _SETTING.match(line)
                if indent > CONTINUATION_INDENT or setting is None:
                    if last_column is not None and last_column in target.get("_lists", set()):
                        target[last_column].append(line.strip())
                    elif last_column is not None:
                        target[last_column] = f"{target[last_column] or ''} {line.strip()}".strip()
                    else:
                        ctx.warn(number, "text outside any setting; kept in AdditionalFields.Unparsed", line)
                        target.setdefault("Unparsed", []).append(line.strip())
                    continue
                label, value = setting.group("label").strip(), (setting.group("value") or "").strip() or None
                column = label_column(label)
                if column == "DnsSuffixSearchList" and current is not None:
                    column = "ConnectionSpecificDnsSuffixSearchList"
                if column is None or (column in target and column not in LIST_COLUMNS):
                    column = label               # unknown (or a second one of a single-valued label): keep as is
                if column in LIST_COLUMNS:
                    target.setdefault("_lists", set()).add(column)
                    target.setdefault(column, [])
                    if value:
                        target[column].append(value)
                else:
                    target[column] = value
                last_column = column
        rows = [self._row(host, a, ctx) for a in adapters] or ([self._row(host, {"_line": 1}, ctx)] if host else [])
        if host.get("HostName"):
            ctx.run.computer_hints[host["HostName"]] += 1
        self._lease_times(rows, ctx)
        ctx.read(ctx.emit(TABLE, rows))

    @staticmethod
    def _adapter(header: str, number: int) -> dict:
        m = _HEADER_ADAPTER.match(header)
        if m:
            return {"_line": number, "AdapterType": m.group("type").strip(), "AdapterName": m.group("name").strip()}
        return {"_line": number, "AdapterType": None, "AdapterName": header}

    @staticmethod
    def _row(host: dict, adapter: dict, ctx: FileContext) -> dict:
        row: dict = {"SourceRecord": adapter["_line"]}
        extra: dict = {}
        for source, is_host in ((host, True), (adapter, False)):
            for key, value in source.items():
                if key.startswith("_"):
                    continue
                if is_host and key not in HOST_COLUMNS:
                    extra[f"Host.{key}"] = value
                else:
                    row[key] = value
        states: dict[str, str] = {}
        for column in ("IPv4Addresses", "IPv6Addresses"):
            addresses = []
            for text in row.get(column) or []:
                m = _ADDRESS_STATE.match(text)
                if m:
                    addresses.append(m.group("address"))
                    states[m.group("address")] = m.group("state")
                else:
                    addresses.append(text)
            if column in row:
                row[column] = addresses
        row["AddressStates"] = states or None
        for column in BOOL_COLUMNS:
            if column in row:
                text = row[column]
                row[column] = _bool(text)
                if text and row[column] is None:
                    ctx.warn(row["SourceRecord"], f"{column}: {text!r} is not a known yes/no word; stored as null")
                    extra[f"{column}Text"] = text
        for column in LIST_COLUMNS:
            if column in row:
                row[column] = orjson.dumps(row[column]).decode() if row[column] else None
        known = {"SourceRecord", "AdapterType", "AdapterName", "AddressStates", *HOST_COLUMNS,
                 *(c for c, _ in LABELS), *LIST_COLUMNS}
        for key in [k for k in row if k not in known]:
            extra[key] = row.pop(key)
        if extra:
            row["AdditionalFields"] = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode()
        return row

    @staticmethod
    def _lease_times(rows: list[dict], ctx: FileContext) -> None:
        """Long local dates -> naive datetimes (local wall-clock; the contract cast makes them UTC)."""
        for column in ("LeaseObtained", "LeaseExpires"):
            for row in rows:
                text = row.pop(column, None)
                row[f"{column}Text"] = text
                if not text:
                    row[column] = None
                    continue
                value = parse_long_date(text)
                if value is None:     # a numeric culture format, perhaps: try the collection's culture
                    parsed, _ = ctx.localtime.parse(pa.array([text]))
                    utc = parsed[0].as_py()
                    if utc is None:
                        ctx.warn(row["SourceRecord"], f"{column} {text!r} is not a date we can read; "
                                 f"kept in {column}Text only", text)
                    row[column] = utc
                else:
                    row[column] = value
            aware = [r[column] for r in rows if isinstance(r[column], dt.datetime) and r[column].tzinfo]
            if aware:   # mix of already-UTC and local values: make them all UTC here
                local = ctx.localtime.localize(pa.array([r[column] if isinstance(r[column], dt.datetime)
                                                         and not r[column].tzinfo else None for r in rows],
                                                        pa.timestamp("us")))
                for row, converted in zip(rows, local.to_pylist()):
                    if isinstance(row[column], dt.datetime) and not row[column].tzinfo:
                        row[column] = converted
