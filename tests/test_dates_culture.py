"""Culture inference and local-time conversion."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from triageparse.formats.dates import LocalTime, infer_culture, parse_timezone, pattern_for

UTC = dt.timezone.utc

# The same instant, 2023-09-20 16:28:04 local, as each culture's DateTime.ToString() writes it.
CULTURE_SAMPLES = {
    "en-US": ["9/20/2023 4:28:04 PM", "1/2/2023 9:05:00 AM"],
    "en-GB": ["20/09/2023 16:28:04", "01/02/2023 09:05:00"],
    "fr-FR": ["20/09/2023 16:28:04", "01/02/2023 09:05:00"],
    "nl-NL": ["20-9-2023 16:28:04", "1-2-2023 09:05:00"],
    "de-DE": ["20.09.2023 16:28:04", "01.02.2023 09:05:00"],
    "ISO": ["2023-09-20 16:28:04", "2023-02-01 09:05:00"],
}


@pytest.mark.parametrize("culture", sorted(CULTURE_SAMPLES))
def test_each_culture_is_inferred_and_parsed(culture):
    guess = infer_culture(CULTURE_SAMPLES[culture], dt.date(2023, 10, 2))
    assert not guess.ambiguous
    assert culture in (guess.pattern.name, *guess.pattern.cultures)
    values, failed = LocalTime(guess.pattern).parse(pa.array(CULTURE_SAMPLES[culture]))
    assert failed == 0
    assert values[0].as_py() == dt.datetime(2023, 9, 20, 16, 28, 4, tzinfo=UTC)


def test_day_above_twelve_settles_day_month_order():
    assert infer_culture(["3/4/2023 10:00:00", "25/4/2023 10:00:00"]).pattern.name == "en-GB"
    assert infer_culture(["3/4/2023 10:00:00 AM", "4/25/2023 10:00:00 AM"]).pattern.name == "en-US"


def test_collection_date_bounds_the_newest_value():
    # 10/11/2023: en-US says 11 October, en-GB says 10 November; the collection was taken on 2023-10-12.
    guess = infer_culture(["10/11/2023 10:00:00", "1/2/2023 10:00:00"], dt.date(2023, 10, 12))
    assert guess.pattern.name == "en-US"


def test_undecidable_samples_are_reported_ambiguous():
    assert infer_culture(["1/2/2023 10:00:00"]).ambiguous
    assert infer_culture([]).ambiguous


def test_iana_zone_converts_with_daylight_saving():
    tz, offset = parse_timezone("Europe/Amsterdam")
    lt = LocalTime(pattern_for("de-DE"), tz, offset)
    values, _ = lt.parse(pa.array(["15.01.2024 12:00:00", "15.07.2024 12:00:00"]))
    assert [v.as_py().hour for v in values] == [11, 10]


def test_fixed_offset_and_iso_with_zone():
    lt = LocalTime(pattern_for("en-US"), *parse_timezone("-05:00"))
    values, failed = lt.parse(pa.array(["9/20/2023 4:28:04 PM", "2019-12-07T09:10:00Z", "garbage", None, ""]))
    assert values.to_pylist()[:2] == [dt.datetime(2023, 9, 20, 21, 28, 4, tzinfo=UTC),
                                      dt.datetime(2019, 12, 7, 9, 10, tzinfo=UTC)]
    assert failed == 1


def test_unknown_culture_and_bad_timezone_say_what_to_use():
    with pytest.raises(ValueError, match="use one of"):
        pattern_for("xx-XX")
    with pytest.raises(ValueError, match="IANA"):
        parse_timezone("Mars/Olympus")
