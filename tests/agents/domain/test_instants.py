"""Instants and the words people read them in: alert summaries and refusal messages use these."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.domain import instants
from agents.domain.instants import (
    DAY,
    broker_seconds,
    day_number,
    describe_duration,
    epoch_micros,
    iso,
    local_time,
    sooner,
    stated_offset,
)

pytestmark = pytest.mark.unit

T0 = 1_767_607_200  # 2026-01-05T10:00:00Z, a Monday


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(
    moment=st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
    offset_minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_microseconds_since_the_epoch_are_exact_whatever_the_instant_and_its_offset(
    moment: datetime, offset_minutes: int
) -> None:
    # Decoding's instants: aware, a UTC offset of whole minutes, from the year 1 to 9999 (a float
    # timestamp's whole seconds are exact only up to 2**33 s: past that, and before 1970, it computes).
    occurred = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert epoch_micros(occurred, occurred.timestamp()) == (occurred - _EPOCH) // timedelta(microseconds=1)


@pytest.mark.parametrize(
    "text",
    [
        "1970-01-01T00:00:00+00:00",
        "1970-01-01T00:00:00.999999+00:00",
        "2026-01-05T19:30:59.999999+01:00",
        "2099-12-31T23:59:59.999999-12:00",
        "2242-03-16T12:56:31.999999+00:00",  # just below 2**33 s
        "2242-03-16T12:56:32.000001+00:00",  # just above
    ],
)
def test_microseconds_since_the_epoch_at_the_edges_of_a_second(text: str) -> None:
    occurred = datetime.fromisoformat(text)
    assert epoch_micros(occurred, occurred.timestamp()) == (occurred - _EPOCH) // timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("timestamp", "seconds"),
    [(1_767_607_200_250, 1_767_607_200.25), (1, 0.001), (0, None), (-1, None), (None, None)],
)
def test_a_broker_timestamp_reads_in_epoch_seconds_and_none_is_none(
    timestamp: int | None, seconds: float | None
) -> None:
    # Kafka writes -1 for a record without a timestamp; 0 is no real record's either.
    assert broker_seconds(timestamp) == seconds


def test_an_instant_reads_as_rfc_3339_in_utc() -> None:
    assert iso(T0) == "2026-01-05T10:00:00+00:00"
    assert iso(0) == "1970-01-01T00:00:00+00:00"


@given(st.integers(-62_135_596_800, 253_402_300_799))  # years 1 to 9999
def test_an_instant_reads_as_datetime_writes_it(instant: int) -> None:
    assert iso(instant) == datetime.fromtimestamp(instant, UTC).isoformat()


@given(st.lists(st.integers(0, 4_102_444_800), min_size=1, max_size=20))
def test_an_instant_written_again_reads_the_same(instants: list[int]) -> None:
    # Written lately, an instant is looked up, not formatted again: it must be its own text.
    for instant in [*instants, *reversed(instants)]:
        assert iso(instant) == datetime.fromtimestamp(instant, UTC).isoformat()


@given(st.integers(-62_135_596_800, 253_402_300_799))
def test_any_instant_from_the_year_1_to_9999_is_written_as_isoformat_writes_it(instant: int) -> None:
    assert iso(instant) == datetime.fromtimestamp(instant, UTC).isoformat()


def test_the_days_kept_as_written_are_bounded() -> None:
    for day in range(instants.DAY_PREFIXES_KEPT + 10):
        assert iso(day * DAY + 59) == datetime.fromtimestamp(day * DAY + 59, UTC).isoformat()
        assert len(instants._day_prefixes) <= instants.DAY_PREFIXES_KEPT


def test_the_instants_kept_as_written_are_bounded() -> None:
    for instant in range(T0, T0 + instants.WRITTEN_KEPT + 10):
        iso(instant)
        assert len(instants._written) <= instants.WRITTEN_KEPT
    assert iso(T0) == "2026-01-05T10:00:00+00:00"


def test_a_day_is_86400_seconds_and_day_numbers_count_from_1970() -> None:
    assert DAY == 86_400
    assert day_number(date(1970, 1, 1)) == 0
    assert day_number(date(2026, 1, 5)) == T0 // DAY
    assert day_number(date(1969, 12, 31)) == -1


@pytest.mark.parametrize(
    ("zone", "words"),
    [
        pytest.param("Europe/Berlin", "Mon 05 Jan 11:00 CET", id="winter in Berlin"),
        pytest.param("America/New_York", "Mon 05 Jan 05:00 EST", id="New York"),
        pytest.param("UTC", "Mon 05 Jan 10:00 UTC", id="UTC"),
    ],
)
def test_a_local_time_reads_as_an_alert_says_it_weekday_day_month_clock_and_zone(
    zone: str, words: str
) -> None:
    assert local_time(T0, ZoneInfo(zone)) == words


def test_a_local_time_follows_summer_time() -> None:
    assert local_time(T0 + 180 * DAY, ZoneInfo("Europe/Berlin")) == "Sat 04 Jul 12:00 CEST"


_ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "UTC",
    )
]


@given(
    instant=st.integers(min_value=0, max_value=4_102_444_800),  # 1970 to 2100
    zone=st.sampled_from([*_ZONES, UTC, timezone(timedelta(hours=-3, minutes=-30))]),
)
def test_a_local_time_is_what_strftime_writes(instant: int, zone: tzinfo) -> None:
    expected = datetime.fromtimestamp(instant, zone).strftime("%a %d %b %H:%M %Z")
    assert local_time(instant, zone) == expected


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        pytest.param(0, "0 seconds", id="nothing"),
        pytest.param(1, "1 second", id="one second"),
        pytest.param(1.4, "1 second", id="a second, rounded"),
        pytest.param(42, "42 seconds", id="seconds"),
        pytest.param(59, "59 seconds", id="just under a minute"),
        pytest.param(60, "1 minute", id="a minute"),
        pytest.param(61, "1 minute", id="the seconds fall away beside minutes"),
        pytest.param(300, "5 minutes", id="minutes"),
        pytest.param(3600, "1 hour", id="an hour"),
        pytest.param(3660, "1 hour 1 minute", id="an hour and a minute"),
        pytest.param(7320, "2 hours 2 minutes", id="plural both"),
        pytest.param(DAY, "1 day", id="a day"),
        pytest.param(DAY + 3600 + 60, "1 day 1 hour", id="two parts at most"),
        pytest.param(3 * DAY + 60, "3 days 1 minute", id="an empty unit is skipped"),
        pytest.param(365 * DAY, "1 year", id="a year"),
        pytest.param(365 * DAY + 3 * DAY, "1 year 3 days", id="a year and days"),
        pytest.param(72 * 365 * DAY + 5 * DAY + 7200, "72 years 5 days", id="years"),
        pytest.param(-300, "5 minutes", id="the sign is the caller's to say"),
    ],
)
def test_a_duration_reads_as_people_say_it_in_at_most_two_units(seconds: float, words: str) -> None:
    assert describe_duration(seconds) == words


@given(st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), max_size=8))
def test_the_sooner_of_instants_is_the_earliest_present(instants: list[int | None]) -> None:
    first: int | None = None
    for instant in instants:
        first = sooner(first, instant)
    present = [instant for instant in instants if instant is not None]
    assert first == (min(present) if present else None)


@given(
    moment=st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
    offset_seconds=st.integers(-86_399, 86_399),
    timespec=st.sampled_from(["auto", "minutes", "seconds", "milliseconds", "microseconds"]),
    separator=st.sampled_from(["T", " "]),
)
def test_the_offset_stated_at_the_end_of_an_instant_is_the_one_it_is_parsed_with(
    moment: datetime, offset_seconds: int, timespec: str, separator: str
) -> None:
    # The journey reads a touchpoint's local day from its text: never another offset than the parser's.
    written = moment.replace(tzinfo=timezone(timedelta(seconds=offset_seconds))).isoformat(
        separator, timespec
    )
    for text in (written, written[:-6] + "Z") if offset_seconds == 0 else (written,):
        parsed = datetime.fromisoformat(text).utcoffset()
        assert parsed is not None
        stated = stated_offset(text)
        assert stated is None or stated == int(parsed.total_seconds())
        # Every offset of whole minutes written ±HH:MM is read from the text.
        assert (stated is None) == (offset_seconds % 60 != 0 or text.endswith("Z"))


@pytest.mark.parametrize(
    "text", ["2026-01-05", "2026-01-05T10:00:00", "2026-01-05T10:00:00Z", "x+1\u0663:00"]
)
def test_an_instant_without_a_plain_offset_at_its_end_states_none(text: str) -> None:
    assert stated_offset(text) is None
