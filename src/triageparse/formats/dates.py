"""Culture-formatted local dates, as DateTime.ToString() writes them, and their conversion to UTC.

PowerShell writes local wall-clock time in the process culture with no offset. We infer the
culture once per collection from all its date values (day > 12, AM/PM, separators, the folder
date as an upper bound), then convert whole Arrow columns at once with ``pyarrow.compute``.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class DatePattern:
    """Date order and separators of one family of cultures (cultures sharing it parse alike)."""
    name: str
    formats: tuple[str, ...]  # strptime formats, most specific first
    cultures: tuple[str, ...]


# %m/%d/%H accept one or two digits in Arrow's strptime, so "9/20/2023 4:28:04 PM" parses.
PATTERNS: tuple[DatePattern, ...] = (
    DatePattern("en-US", ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                          "%m/%d/%Y"), ("en-US", "en-PH", "fil-PH")),
    DatePattern("en-GB", ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p",
                          "%d/%m/%Y"), ("en-GB", "fr-FR", "es-ES", "it-IT", "pt-BR", "en-AU", "en-IN")),
    DatePattern("nl-NL", ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y"), ("nl-NL", "nl-BE", "da-DK")),
    DatePattern("de-DE", ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"),
                ("de-DE", "de-AT", "de-CH", "pl-PL", "ru-RU", "nb-NO", "fi-FI", "tr-TR", "cs-CZ")),
    DatePattern("id-ID", ("%d/%m/%Y %H.%M.%S", "%d/%m/%Y %H.%M"), ("id-ID",)),
    DatePattern("ja-JP", ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d"), ("ja-JP", "zh-CN", "zh-TW")),
    DatePattern("ISO", ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"),
                ("sv-SE", "ISO", "invariant-iso")),
)
_BY_CULTURE = {c.lower(): p for p in PATTERNS for c in (p.name, *p.cultures)}
_FRACTION = re.compile(r"(\d{1,2}:\d{2}:\d{2})[.,]\d+")
_ISO_T = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def pattern_for(culture: str) -> DatePattern:
    try:
        return _BY_CULTURE[culture.lower()]
    except KeyError:
        known = ", ".join(sorted({p.name for p in PATTERNS}))
        raise ValueError(f"unknown culture {culture!r}; use one of {known} or a culture sharing their format") from None


@dataclass(frozen=True)
class CultureGuess:
    pattern: DatePattern
    ambiguous: bool
    evidence: str


NO_DATE_VALUES = "no date values in the collection; assumed en-US"


def infer_culture(samples: Iterable[str], newest_allowed: dt.date | None = None) -> CultureGuess:
    """Pick the date pattern that parses the samples, using the folder date to break ties."""
    values = [s for s in (v.strip() for v in samples if v) if s]
    if not values:
        return CultureGuess(PATTERNS[0], True, NO_DATE_VALUES)
    arr = _normalise(pa.array(values, pa.string()))
    scores = []
    for pat in PATTERNS:
        parsed = _parse_with(arr, pat)
        ok = len(parsed) - parsed.null_count
        newest = pc.max(parsed).as_py()
        scores.append((pat, ok, newest))
    best_ok = max(s[1] for s in scores)
    if best_ok == 0:
        return CultureGuess(PATTERNS[0], True, f"none of {len(values)} date values matched a known culture")
    top = [s for s in scores if s[1] == best_ok]
    if len(top) > 1 and newest_allowed is not None:
        bound = dt.datetime.combine(newest_allowed + dt.timedelta(days=1), dt.time())
        within = [s for s in top if s[2] is not None and s[2] <= bound]
        if within:
            top = within
    if len(top) > 1:
        # Still tied (every day <= 12 and every date plausible): an AM/PM token points to en-US.
        has_ampm = any(v[-2:].upper() in ("AM", "PM") for v in values[:1000])
        preferred = [s for s in top if (s[0].name == "en-US") == has_ampm] or top
        return CultureGuess(preferred[0][0], True, f"{len(values)} values fit {', '.join(s[0].name for s in top)}; "
                            f"chose {preferred[0][0].name}")
    return CultureGuess(top[0][0], False, f"{best_ok} of {len(values)} values parse as {top[0][0].name}")


def _normalise(arr: pa.Array) -> pa.Array:
    # Drop sub-second digits (Arrow's strptime has no fraction directive) and surrounding space.
    arr = pc.utf8_trim_whitespace(arr)
    return pc.replace_substring_regex(arr, pattern=r"(\d{1,2}:\d{2}:\d{2})[.,]\d+", replacement=r"\1")


def _parse_with(arr: pa.Array, pattern: DatePattern) -> pa.Array:
    result = None
    for fmt in pattern.formats:
        parsed = pc.strptime(arr, format=fmt, unit="us", error_is_null=True)
        result = parsed if result is None else pc.coalesce(result, parsed)
    return result


class LocalTime:
    """Converts a collection's local-time strings to UTC timestamps."""

    def __init__(self, pattern: DatePattern, tz: dt.tzinfo | None = None, offset_minutes: int | None = None):
        self.pattern = pattern
        self.tz = tz
        self.offset_minutes = offset_minutes

    def parse(self, arr: pa.Array) -> tuple[pa.Array, int]:
        """String array -> timestamp[us, UTC]; returns the array and the number of values that failed."""
        if pa.types.is_timestamp(arr.type):
            return self.localize(arr), 0
        arr = arr.cast(pa.string())
        norm = _normalise(arr)
        parsed = _parse_with(norm, self.pattern)
        if self.pattern.name != "ISO":  # ISO text (task 'Date', logs) is culture-invariant
            parsed = pc.coalesce(parsed, _parse_with(norm, PATTERNS[-1]))
        # ISO 8601 with a zone or Z (e.g. Get-ScheduledTask 'Date') is absolute time, not local.
        iso = pc.match_substring_regex(norm, _ISO_T.pattern)
        if pc.any(iso).as_py():
            absolute = _parse_iso_absolute(norm)
            parsed_local = self.localize(parsed)
            out = pc.if_else(pc.and_(iso, pc.is_valid(absolute)), absolute, parsed_local)
        else:
            out = self.localize(parsed)
        empty = pc.or_(pc.is_null(arr), pc.equal(pc.utf8_length(norm), 0))
        failed = pc.sum(pc.and_(pc.invert(empty), pc.is_null(out))).as_py() or 0
        return out, failed

    def localize(self, naive: pa.Array) -> pa.Array:
        if naive.type.tz is not None:
            return naive.cast(pa.timestamp("us", tz="UTC"))
        if self.tz is not None:
            aware = pc.assume_timezone(naive, self.tz.key if isinstance(self.tz, ZoneInfo) else str(self.tz),
                                       ambiguous="earliest", nonexistent="latest")
            return aware.cast(pa.timestamp("us", tz="UTC"))
        shifted = naive
        if self.offset_minutes:
            shifted = pc.subtract(naive.cast(pa.timestamp("us")), pa.scalar(
                dt.timedelta(minutes=self.offset_minutes), pa.duration("us")))
        return shifted.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))


def _parse_iso_absolute(arr: pa.Array) -> pa.Array:
    values = []
    for s in arr.to_pylist():
        try:
            if s and (s.endswith("Z") or s[-6:-5] in "+-" and s[-3] == ":"):
                t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
                values.append(t.astimezone(dt.timezone.utc))
                continue
        except ValueError:
            pass
        values.append(None)
    return pa.array(values, pa.timestamp("us", tz="UTC"))


def parse_timezone(text: str) -> tuple[dt.tzinfo | None, int | None]:
    """``--timezone``: an IANA name (DST-aware) or a fixed offset such as ``+02:00`` / ``-0500`` / ``UTC``."""
    m = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?", text.strip(), re.I)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return None, minutes if m.group(1) == "+" else -minutes
    if text.strip().upper() in ("UTC", "GMT", "Z"):
        return None, 0
    try:
        return ZoneInfo(text.strip()), None
    except Exception:
        raise ValueError(f"--timezone {text!r} is neither an IANA zone name (Europe/Amsterdam) "
                         "nor a fixed offset (+02:00)") from None
