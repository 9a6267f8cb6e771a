"""Business calendars: after hours, next openings and business-time deadlines, in any zone, across DST."""

from __future__ import annotations

import textwrap
import timeit
import tomllib
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from agents.calendar import BusinessCalendar, Calendars, calendars_from_config, parse_interval
from agents.config import ConfigError, effective_config

pytestmark = pytest.mark.unit

SOURCE = "rules.toml"
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_5_30 = "\n".join(f'{day} = ["09:00-17:30"]' for day in ("mon", "tue", "wed", "thu", "fri"))


def load(text: str = "") -> Calendars:
    """The calendars of a rules file, through the same validation the worker uses."""
    filled = effective_config(tomllib.loads(textwrap.dedent(text)), SOURCE)
    return calendars_from_config(filled, SOURCE)


def calendar(hours: str, timezone: str = "Europe/Berlin", extra: str = "") -> BusinessCalendar:
    """A calendar named "test": *hours* are the lines of its hours table, *extra* more keys of it."""
    text = f'[calendars.test]\ntimezone = "{timezone}"\n{extra}\n[calendars.test.hours]\n{hours}\n'
    return load(text)["test"]


def at(text: str, zone: ZoneInfo | None = None) -> datetime:
    """An instant: ISO text with its offset, or local wall time in *zone*."""
    parsed = datetime.fromisoformat(text)
    return parsed if zone is None else parsed.replace(tzinfo=zone)


DEFAULTS = load()
SUPPORT = DEFAULTS["default"]
STORES = DEFAULTS["stores"]
ALL_DAY_SUNDAY = calendar('sun = ["00:00-24:00"]')
FRIDAY_NIGHT = calendar('fri = ["22:00-02:00"]')
NIGHTLY_DE = calendar(
    "\n".join(f'{day} = ["22:00-02:00"]' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
    extra='country = "DE"',
)
NEVER = calendar("")


# --- story 1: the unanswered evening inquiry ----------------------------------------------------------------


def test_support_is_closed_at_half_past_seven_on_a_monday_evening() -> None:
    assert not SUPPORT.is_open(at("2026-01-05T19:30:00+01:00"))


def test_after_the_evening_inquiry_support_next_opens_on_tuesday_at_nine() -> None:
    assert SUPPORT.next_opening(at("2026-01-05T19:30:00+01:00")) == at("2026-01-06T09:00:00+01:00")


def test_a_fifteen_business_minute_deadline_from_the_evening_inquiry_is_tuesday_at_nine_fifteen() -> None:
    deadline = SUPPORT.add_business_time(at("2026-01-05T19:30:00+01:00"), 15 * 60)
    assert deadline == at("2026-01-06T09:15:00+01:00")
    assert deadline is not None
    assert deadline.tzinfo == BERLIN


# --- the built-in calendars and the selection rule ----------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "support_open", "stores_open"),
    [
        ("2026-01-05T08:59:59", False, False),
        ("2026-01-05T09:00:00", True, True),
        ("2026-01-05T17:29:59", True, True),
        ("2026-01-05T17:30:00", False, True),
        ("2026-01-05T19:59:59", False, True),
        ("2026-01-05T20:00:00", False, False),
        ("2026-01-10T12:00:00", False, True),  # Saturday
        ("2026-01-11T12:00:00", False, False),  # Sunday
    ],
)
def test_built_in_support_hours_are_weekdays_to_half_past_five_and_stores_open_until_eight_except_sunday(
    local: str, support_open: bool, stores_open: bool
) -> None:
    assert (SUPPORT.is_open(at(local, BERLIN)), STORES.is_open(at(local, BERLIN))) == (
        support_open,
        stores_open,
    )


@pytest.mark.parametrize(
    ("channel", "location", "expected"),
    [
        ("chat", None, "default"),
        ("phone", "team-support", "default"),
        ("store", "store-berlin-mitte", "stores"),
        ("store", None, "stores"),
        ("web", "store-berlin-mitte", "default"),
    ],
)
def test_by_default_store_touchpoints_use_store_hours_and_everything_else_support_hours(
    channel: str, location: str | None, expected: str
) -> None:
    assert DEFAULTS.for_touchpoint(channel, location).name == expected


SELECTION = load(
    """
    [calendar_selection]
    locations = { "store-hamburg" = "hamburg" }
    channels = { chat = "support", store = "stores" }
    [calendars.support]
    timezone = "Europe/Berlin"
    hours = { mon = ["08:00-20:00"] }
    [calendars.hamburg]
    timezone = "Europe/Berlin"
    country = "DE"
    subdivision = "HH"
    hours = { sat = ["10:00-16:00"] }
    """
)


@pytest.mark.parametrize(
    ("channel", "location", "expected"),
    [
        ("store", "store-hamburg", "hamburg"),  # the location wins over the channel
        ("chat", "store-hamburg", "hamburg"),
        ("chat", "team-support", "support"),  # an unmapped location falls through to the channel
        ("store", "store-berlin-mitte", "stores"),
        ("email", None, "default"),  # neither mapped: default
    ],
)
def test_a_touchpoint_uses_its_locations_calendar_then_its_channels_then_the_default(
    channel: str, location: str | None, expected: str
) -> None:
    assert SELECTION.for_touchpoint(channel, location).name == expected


def test_calendars_without_a_default_are_added_to_the_built_in_ones() -> None:
    assert sorted(SELECTION.by_name) == ["default", "hamburg", "stores", "support"]
    assert SELECTION["default"] == SUPPORT


def test_a_calendar_named_like_a_built_in_replaces_it_whole() -> None:
    calendars = load('[calendars.stores]\ntimezone = "Asia/Kolkata"\nhours = { sun = ["10:00-12:00"] }')
    assert calendars["stores"].zone == KOLKATA
    assert calendars["stores"].country is None  # not merged key by key with the built-in stores calendar
    assert calendars["stores"].weekly[6] == ((600, 720),)


def test_calendars_that_define_default_replace_the_built_in_ones_wholesale() -> None:
    calendars = load(
        """
        calendar_selection = { channels = {} }
        [calendars.default]
        timezone = "America/New_York"
        hours = { mon = ["09:00-17:00"] }
        """
    )
    assert sorted(calendars.by_name) == ["default"]
    assert calendars.for_touchpoint("store", None).zone == NEW_YORK


# --- boundaries: starts open, ends closed; midnight; overnight ----------------------------------------------


@pytest.mark.parametrize(
    ("calendar_", "local", "expected"),
    [
        (SUPPORT, "2026-01-06T09:00:00", True),  # the start of an interval is open
        (SUPPORT, "2026-01-06T08:59:59.999999", False),
        (SUPPORT, "2026-01-06T17:29:59.999999", True),
        (SUPPORT, "2026-01-06T17:30:00", False),  # its end is closed
        (ALL_DAY_SUNDAY, "2026-01-10T23:59:59.999999", False),
        (ALL_DAY_SUNDAY, "2026-01-11T00:00:00", True),  # midnight starts the all-day Sunday
        (ALL_DAY_SUNDAY, "2026-01-11T23:59:59.999999", True),
        (ALL_DAY_SUNDAY, "2026-01-12T00:00:00", False),  # 24:00 ends it
        (FRIDAY_NIGHT, "2026-01-09T21:59:59", False),
        (FRIDAY_NIGHT, "2026-01-09T22:00:00", True),
        (FRIDAY_NIGHT, "2026-01-10T00:00:00", True),  # through midnight
        (FRIDAY_NIGHT, "2026-01-10T01:00:00", True),  # the next day at 01:00
        (FRIDAY_NIGHT, "2026-01-10T01:59:59.999999", True),
        (FRIDAY_NIGHT, "2026-01-10T02:00:00", False),  # closed at 02:00 exactly
        (FRIDAY_NIGHT, "2026-01-10T22:00:00", False),  # Saturday has no hours of its own
        (FRIDAY_NIGHT, "2026-01-11T01:00:00", False),
    ],
)
def test_an_interval_is_open_from_its_start_up_to_but_not_including_its_end(
    calendar_: BusinessCalendar, local: str, expected: bool
) -> None:
    assert calendar_.is_open(at(local, BERLIN)) is expected


def test_an_overnight_interval_counts_its_hours_on_both_sides_of_midnight() -> None:
    start, end = at("2026-01-09T20:00:00", BERLIN), at("2026-01-10T12:00:00", BERLIN)
    assert FRIDAY_NIGHT.business_seconds(start, end) == 4 * 3600
    assert FRIDAY_NIGHT.add_business_time(start, 3 * 3600) == at("2026-01-10T01:00:00", BERLIN)


def test_intervals_that_touch_at_midnight_are_one_opening() -> None:
    late = calendar('mon = ["20:00-24:00"]\ntue = ["00:00-02:00"]')
    monday = at("2026-01-05T12:00:00", BERLIN)
    assert late.business_seconds(monday, monday + timedelta(days=1)) == 6 * 3600
    assert late.add_business_time(monday, 5 * 3600) == at("2026-01-06T01:00:00", BERLIN)
    assert late.is_open(at("2026-01-06T00:00:00", BERLIN))


def test_a_deadline_that_lands_exactly_on_a_closing_time_moves_to_the_next_opening() -> None:
    # Open time is the latest such instant, so a deadline is always an open instant.
    assert SUPPORT.add_business_time(at("2026-01-05T17:15:00", BERLIN), 15 * 60) == at(
        "2026-01-06T09:00", BERLIN
    )


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-01-05T19:30:00", "2026-01-06T09:00:00"),  # closed: the next opening
        ("2026-01-06T10:00:00", "2026-01-06T10:00:00"),  # open: the start itself
    ],
)
def test_zero_business_time_is_the_next_opening(local: str, expected: str) -> None:
    assert SUPPORT.add_business_time(at(local, BERLIN), 0) == at(expected, BERLIN)


def test_business_time_can_be_given_as_a_timedelta() -> None:
    start = at("2026-01-05T19:30:00+01:00")
    assert SUPPORT.add_business_time(start, timedelta(minutes=15)) == SUPPORT.add_business_time(start, 900)


def test_business_seconds_are_negative_when_the_end_is_before_the_start() -> None:
    monday, tuesday = at("2026-01-05T08:00", BERLIN), at("2026-01-06T12:00", BERLIN)
    assert (
        SUPPORT.business_seconds(tuesday, monday)
        == -SUPPORT.business_seconds(monday, tuesday)
        == -11.5 * 3600
    )


# --- daylight saving time in Europe/Berlin (2026-03-29 and 2026-10-25) --------------------------------------


@pytest.mark.parametrize(
    ("hours", "sunday", "expected_hours"),
    [
        ('sun = ["00:00-24:00"]', "2026-03-29", 23),  # spring forward: the day is an hour short
        ('sun = ["00:00-24:00"]', "2026-10-25", 25),  # fall back: an hour long
        ('sun = ["00:00-24:00"]', "2026-03-22", 24),  # an ordinary Sunday
        ('sun = ["01:00-04:00"]', "2026-03-29", 2),  # 02:00-03:00 local never happens
        ('sun = ["01:00-04:00"]', "2026-10-25", 4),  # 02:00-03:00 local happens twice
        ('sun = ["02:30-05:00"]', "2026-03-29", 2),  # 02:30 is in the gap: opens at the jump to 03:00
        ('sun = ["02:30-05:00"]', "2026-10-25", 3.5),  # 02:30 happens twice: opens at the first
        ('sun = ["02:00-03:00"]', "2026-03-29", 0),  # wholly in the gap: closed that day
        ('sat = ["22:00-06:00"]', "2026-03-29", 7),  # overnight across the switch
        ('sat = ["22:00-06:00"]', "2026-10-25", 9),
    ],
)
def test_business_seconds_across_a_daylight_saving_switch_count_real_elapsed_time(
    hours: str, sunday: str, expected_hours: float
) -> None:
    day_before = datetime.fromisoformat(sunday) - timedelta(days=1)
    start = day_before.replace(hour=12, tzinfo=BERLIN)
    end = (day_before + timedelta(days=2)).replace(hour=0, tzinfo=BERLIN)
    assert calendar(hours).business_seconds(start, end) == expected_hours * 3600


@pytest.mark.parametrize(
    ("hours", "saturday", "expected"),
    [
        ('sun = ["02:30-05:00"]', "2026-03-28T12:00", "2026-03-29T03:00:00+02:00"),
        ('sun = ["02:30-05:00"]', "2026-10-24T12:00", "2026-10-25T02:30:00+02:00"),
        ('sun = ["02:00-03:00", "03:00-04:00"]', "2026-03-28T12:00", "2026-03-29T03:00:00+02:00"),
    ],
)
def test_an_opening_in_a_gap_resolves_forward_and_one_in_an_overlap_takes_the_first_occurrence(
    hours: str, saturday: str, expected: str
) -> None:
    opening = calendar(hours).next_opening(at(saturday, BERLIN))
    assert opening is not None
    assert opening.isoformat() == expected


@pytest.mark.parametrize(
    ("before", "opening", "offset_hours"),
    [
        ("2026-03-27T18:00:00+01:00", "2026-03-30T09:00:00+02:00", 2),  # CET before, CEST after
        ("2026-10-23T18:00:00+02:00", "2026-10-26T09:00:00+01:00", 1),  # CEST before, CET after
    ],
)
def test_a_nine_oclock_opening_stays_nine_local_across_a_daylight_saving_switch(
    before: str, opening: str, offset_hours: int
) -> None:
    found = SUPPORT.next_opening(at(before))
    assert found == at(opening)
    assert found is not None
    assert (found.hour, found.minute, found.utcoffset()) == (9, 0, timedelta(hours=offset_hours))


def test_a_deadline_across_the_spring_switch_counts_business_minutes_only() -> None:
    deadline = SUPPORT.add_business_time(at("2026-03-27T17:20:00+01:00"), 15 * 60)
    assert deadline == at("2026-03-30T09:05:00+02:00")
    assert (
        SUPPORT.business_seconds(at("2026-03-27T09:00", BERLIN), at("2026-03-30T09:00", BERLIN)) == 8.5 * 3600
    )


# --- public holidays and closures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "why"),
    [
        ("2026-12-25", "Christmas Day, a Friday"),
        ("2026-05-01", "Labour Day, a Friday"),
        ("2026-04-03", "Good Friday"),
        ("2027-03-08", "International Women's Day, a Berlin-only holiday, a Monday in 2027"),
    ],
)
def test_support_is_closed_all_day_on_a_public_holiday(day: str, why: str) -> None:
    start = at(f"{day}T00:00", BERLIN)
    assert SUPPORT.business_seconds(start, start + timedelta(days=1)) == 0, why


@pytest.mark.parametrize(
    ("subdivision_line", "open_on_womens_day"),
    [('subdivision = "BE"', False), ('subdivision = "HH"', True), ("", True)],
    ids=["berlin", "hamburg", "national-only"],
)
def test_a_subdivision_holiday_closes_only_that_subdivisions_calendar(
    subdivision_line: str, open_on_womens_day: bool
) -> None:
    calendar_ = calendar(WEEKDAYS_9_TO_5_30, extra=f'country = "DE"\n{subdivision_line}')
    assert calendar_.is_open(at("2027-03-08T10:00", BERLIN)) is open_on_womens_day
    assert not calendar_.is_open(at("2027-05-01T10:00", BERLIN))  # Labour Day (a Saturday) everywhere
    assert not calendar_.is_open(at("2026-05-01T10:00", BERLIN))


def test_over_the_easter_weekend_support_next_opens_on_the_tuesday() -> None:
    assert SUPPORT.next_opening(at("2026-04-02T18:00", BERLIN)) == at("2026-04-07T09:00", BERLIN)


def test_a_calendar_without_a_country_keeps_its_hours_on_public_holidays() -> None:
    assert calendar(WEEKDAYS_9_TO_5_30).is_open(at("2026-12-25T10:00", BERLIN))


def test_an_extra_closure_closes_its_day_and_the_holidays_after_it_keep_the_calendar_closed() -> None:
    closed = calendar(WEEKDAYS_9_TO_5_30, extra='country = "DE"\nclosures = ["2026-12-24", "2026-12-31"]')
    open_ = calendar(WEEKDAYS_9_TO_5_30, extra='country = "DE"')
    christmas_eve = at("2026-12-24T10:00", BERLIN)
    assert open_.is_open(christmas_eve)
    assert not closed.is_open(christmas_eve)
    # Thursday 24 closed, Friday 25 and Saturday 26 holidays, Sunday 27: Monday 28 at nine.
    assert closed.next_opening(at("2026-12-23T18:00", BERLIN)) == at("2026-12-28T09:00", BERLIN)
    assert open_.next_opening(at("2026-12-23T18:00", BERLIN)) == at("2026-12-24T09:00", BERLIN)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-12-24T22:00", True),  # Christmas Eve is no public holiday in Germany
        ("2026-12-25T01:00", True),  # the night from Christmas Eve runs into Christmas Day
        ("2026-12-25T22:00", False),  # Christmas Day has no interval of its own
        ("2026-12-26T01:00", False),
        ("2026-12-26T22:00", False),  # nor has the Second Day of Christmas
        ("2026-12-27T01:00", False),
        ("2026-12-27T22:00", True),
    ],
)
def test_an_overnight_interval_from_the_evening_before_still_runs_into_a_holiday(
    local: str, expected: bool
) -> None:
    assert NIGHTLY_DE.is_open(at(local, BERLIN)) is expected


# --- zones ahead of and behind UTC, inputs in any offset ----------------------------------------------------

KOLKATA_OFFICE = calendar(
    "\n".join(f'{day} = ["09:00-18:00"]' for day in ("mon", "tue", "wed", "thu", "fri")),
    timezone="Asia/Kolkata",
)
NEW_YORK_OFFICE = calendar(
    "\n".join(f'{day} = ["09:00-17:00"]' for day in ("mon", "tue", "wed", "thu", "fri")),
    timezone="America/New_York",
    extra='country = "US"',
)


@pytest.mark.parametrize(
    ("calendar_", "instant", "expected"),
    [
        (KOLKATA_OFFICE, "2026-01-05T03:30:00+00:00", True),  # Monday 09:00 IST
        (KOLKATA_OFFICE, "2026-01-05T03:29:59+00:00", False),
        (KOLKATA_OFFICE, "2026-01-04T22:30:00-05:00", True),  # Sunday evening in New York is Monday 09:00 IST
        (KOLKATA_OFFICE, "2026-01-05T13:30:00+01:00", False),  # Monday 18:00 IST
        (NEW_YORK_OFFICE, "2026-01-06T06:59:59+09:00", True),  # Tokyo's Tuesday morning: 16:59:59 EST
        (NEW_YORK_OFFICE, "2026-01-06T07:00:00+09:00", False),  # Monday 17:00 EST
        (NEW_YORK_OFFICE, "2026-01-05T14:00:00+00:00", True),  # Monday 09:00 EST
        (NEW_YORK_OFFICE, "2026-01-19T15:00:00+00:00", False),  # Martin Luther King Jr. Day
        (NEW_YORK_OFFICE, "2026-03-09T13:00:00+00:00", True),  # 09:00 EDT, the day after the US switch
        (NEW_YORK_OFFICE, "2026-03-09T12:59:59+00:00", False),
    ],
)
def test_an_instant_in_any_offset_is_judged_by_the_calendars_own_local_time(
    calendar_: BusinessCalendar, instant: str, expected: bool
) -> None:
    assert calendar_.is_open(at(instant)) is expected


@pytest.mark.parametrize(
    ("calendar_", "instant", "expected"),
    [
        (KOLKATA_OFFICE, "2026-01-05T12:30:00Z", "2026-01-06T09:00:00+05:30"),
        (KOLKATA_OFFICE, "2026-01-09T12:00:00-08:00", "2026-01-12T09:00:00+05:30"),  # Friday night in IST
        (NEW_YORK_OFFICE, "2026-01-06T07:00:00+09:00", "2026-01-06T09:00:00-05:00"),
        (NEW_YORK_OFFICE, "2026-01-16T23:00:00+01:00", "2026-01-20T09:00:00-05:00"),  # over MLK weekend
    ],
)
def test_the_next_opening_is_given_in_the_calendars_own_zone(
    calendar_: BusinessCalendar, instant: str, expected: str
) -> None:
    opening = calendar_.next_opening(at(instant))
    assert opening is not None
    assert opening.tzinfo == calendar_.zone
    assert opening.isoformat() == expected


# --- a calendar that never opens, naive input ---------------------------------------------------------------


def test_a_calendar_with_no_hours_is_never_open_and_has_no_next_opening_or_deadline() -> None:
    start = at("2026-01-05T10:00:00+01:00")
    assert not NEVER.is_open(start)
    assert NEVER.next_opening(start) is None
    assert NEVER.add_business_time(start, 60) is None
    assert NEVER.business_seconds(start, start + timedelta(days=30)) == 0


NAIVE = datetime(2026, 1, 5, 10, 0)
AWARE = at("2026-01-05T10:00:00+01:00")


@pytest.mark.parametrize(
    "call",
    [
        lambda: SUPPORT.is_open(NAIVE),
        lambda: SUPPORT.next_opening(NAIVE),
        lambda: SUPPORT.business_seconds(NAIVE, AWARE),
        lambda: SUPPORT.business_seconds(AWARE, NAIVE),
        lambda: SUPPORT.add_business_time(NAIVE, 60),
    ],
    ids=["is_open", "next_opening", "business_seconds-start", "business_seconds-end", "add_business_time"],
)
def test_a_naive_datetime_is_refused(call: Any) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        call()


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf"), timedelta(seconds=-1)])
def test_negative_or_non_finite_business_time_is_refused(seconds: Any) -> None:
    with pytest.raises(ValueError, match="business time"):
        SUPPORT.add_business_time(AWARE, seconds)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("09:00-17:30", (540, 1050)),
        ("00:00-24:00", (0, 1440)),
        ("22:00-02:00", (1320, 1560)),
        ("20:00-00:00", (1200, 1440)),
        ("23:59-23:58", (1439, 2878)),
    ],
)
def test_an_interval_is_read_as_local_minutes_and_an_end_before_the_start_runs_past_midnight(
    text: str, minutes: tuple[int, int]
) -> None:
    assert parse_interval(text) == minutes


# --- properties ---------------------------------------------------------------------------------------------

PROPERTY_CALENDARS = [
    SUPPORT,
    FRIDAY_NIGHT,
    NIGHTLY_DE,
    KOLKATA_OFFICE,
    NEW_YORK_OFFICE,
    calendar('sun = ["01:00-04:00", "02:30-05:00"]\nmon = ["00:00-24:00"]'),  # DST edges, overlaps
]
#: About ten months from 2026-01-01: both of Berlin's 2026 switches (03-29, 10-25) and the US ones.
_SPAN = 300 * 24 * 3600 * 1_000_000


@st.composite
def instant(draw: st.DrawFn) -> datetime:
    """An instant in 2026 (both DST switches), to the microsecond, in some fixed offset or zone."""
    micros = draw(st.integers(0, _SPAN) | st.integers(0, _SPAN // 60_000_000).map(lambda m: m * 60_000_000))
    zone = draw(st.sampled_from([UTC, BERLIN, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5.5))]))
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)).astimezone(zone)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PROPERTY_CALENDARS), instant(), instant(), instant())
def test_business_seconds_over_a_range_equal_the_sum_of_its_parts_wherever_it_is_split(
    calendar_: BusinessCalendar, start: datetime, middle: datetime, end: datetime
) -> None:
    whole = calendar_.business_seconds(start, end)
    parts = calendar_.business_seconds(start, middle) + calendar_.business_seconds(middle, end)
    assert whole == pytest.approx(parts, abs=1e-6)
    assert abs(whole) <= abs((end - start).total_seconds()) + 1e-6


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PROPERTY_CALENDARS), instant(), instant())
def test_adding_the_business_seconds_up_to_an_open_instant_lands_on_that_instant(
    calendar_: BusinessCalendar, start: datetime, end: datetime
) -> None:
    start, end = min(start, end), max(start, end)
    opening = calendar_.next_opening(end)
    assert opening is not None
    assert calendar_.is_open(opening)
    assert calendar_.add_business_time(start, calendar_.business_seconds(start, opening)) == opening


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PROPERTY_CALENDARS), instant(), st.integers(0, 7 * 24 * 3600 * 1_000_000))
def test_a_deadline_is_an_open_instant_exactly_that_much_business_time_later(
    calendar_: BusinessCalendar, start: datetime, micros: int
) -> None:
    deadline = calendar_.add_business_time(start, timedelta(microseconds=micros))
    assert deadline is not None
    assert calendar_.is_open(deadline)
    assert deadline >= start
    assert calendar_.business_seconds(start, deadline) == pytest.approx(micros / 1_000_000, abs=1e-6)


# --- the rules file: every mistake names the file and the key -----------------------------------------------

GOOD = '[calendars.support]\ntimezone = "Europe/Berlin"\ncountry = "DE"\nsubdivision = "BE"\n'
CONFIG_ERRORS = [
    ('[calendars.support]\ntimezone = "Europe/Berlinn"\nhours = {}', "rules.toml: calendars.support.timezone: unknown time zone 'Europe/Berlinn'"),
    ('[calendars.support]\ntimezone = "Europe"\nhours = {}', "calendars.support.timezone: unknown time zone"),
    ('[calendars.support]\ntimezone = "../etc/passwd"\nhours = {}', "calendars.support.timezone: unknown time zone"),
    ('[calendars.support]\ntimezone = "UTC"\ncountry = "XX"\nhours = {}', "calendars.support.country: unknown country 'XX'"),
    ('[calendars.support]\ntimezone = "UTC"\ncountry = "de"\nhours = {}', "calendars.support.country: unknown country 'de'"),
    ('[calendars.support]\ntimezone = "UTC"\ncountry = "DE"\nsubdivision = "XX"\nhours = {}', "calendars.support.subdivision: unknown subdivision 'XX' of DE"),
    ('[calendars.support]\ntimezone = "UTC"\nsubdivision = "BE"\nhours = {}', "calendars.support.subdivision: needs a country"),
    (GOOD + '[calendars.support.hours]\nmon = ["9-5"]', "rules.toml: calendars.support.hours.mon[0]: must be an opening interval HH:MM-HH:MM on the 24-hour clock, e.g. 09:00-17:30"),
    (GOOD + '[calendars.support.hours]\nmon = ["25:00-26:00"]', "calendars.support.hours.mon[0]: must be an opening interval HH:MM-HH:MM"),
    (GOOD + '[calendars.support.hours]\ntue = ["09:00-12:00", "09:60-10:00"]', "calendars.support.hours.tue[1]: must be an opening interval HH:MM-HH:MM on the 24-hour clock, e.g. 09:00-17:30: hours 00-23, minutes 00-59, 24:00 only as an end; an end before the start runs past midnight (22:00-02:00); got '09:60-10:00'"),
    (GOOD + '[calendars.support.hours]\nwed = ["09:00-09:00"]', "rules.toml: calendars.support.hours.wed[0]: empty interval '09:00-09:00': start equals end"),
    (GOOD + '[calendars.support.hours]\nmonday = ["09:00-17:00"]', "rules.toml: calendars.support.hours: unknown key(s): monday"),
    (GOOD + 'closures = ["2026-02-30"]\nhours = {}', "rules.toml: calendars.support.closures[0]: not a date '2026-02-30'"),
    (GOOD + 'closures = ["24.12.2026"]\nhours = {}', "calendars.support.closures[0]: must be a date YYYY-MM-DD; got '24.12.2026'"),
    ("[calendars.support]\nhours = {}", "rules.toml: calendars.support: must contain ['timezone'] properties"),
    ('[calendars.support]\ntimezone = "UTC"', "rules.toml: calendars.support: must contain ['hours'] properties"),
    ('[calendars.support]\ntimezone = "UTC"\nhours = {}\nopen = true', "calendars.support: unknown key(s): open"),
    ('[calendar_selection]\nlocations = { "store-berlin-mitte" = "flagship" }', "rules.toml: calendar_selection.locations.store-berlin-mitte: no calendar named 'flagship'; defined: default, stores"),
    ('[calendar_selection]\nchannels = { chat = "support" }', "rules.toml: calendar_selection.channels.chat: no calendar named 'support'"),
    ('[calendar_selection]\nchannels = { chta = "default" }', "rules.toml: calendar_selection.channels.chta: unknown channel"),
    ('[calendars.default]\ntimezone = "UTC"\nhours = {}', "calendar_selection.channels.store: no calendar named 'stores'; defined: default (a [calendars] table that defines 'default' replaces the built-in calendars"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), CONFIG_ERRORS)
def test_a_mistake_in_the_calendars_is_a_config_error_naming_the_file_and_the_key(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(text)
    assert message in str(caught.value)
    assert str(caught.value).startswith("rules.toml: ")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9-5", "malformed"),
        ("25:00-26:00", "malformed"),
        ("24:00-02:00", "malformed"),
        ("09:00-24:01", "malformed"),
        ("09:00-09:00", "empty"),
        ("00:00-00:00", "empty"),
    ],
)
def test_a_malformed_or_empty_interval_is_refused_with_its_text(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"{reason} interval '{text}'"):
        parse_interval(text)


def test_every_example_rules_file_gives_calendars() -> None:
    for example in schemas.load_schema("config")["examples"]:
        calendars = calendars_from_config(effective_config(example, SOURCE), SOURCE)
        assert calendars.default.is_open(at("2026-01-06T10:00", BERLIN))


# --- speed --------------------------------------------------------------------------------------------------


def test_is_open_and_a_deadline_within_a_week_are_cheap_enough_to_compute_per_event() -> None:
    evening = at("2026-01-05T19:30:00+01:00")
    friday = at("2026-01-09T17:20", BERLIN)
    SUPPORT.add_business_time(friday, 40 * 3600)  # warm the cache
    number = 2000
    is_open = min(timeit.repeat(lambda: SUPPORT.is_open(evening), number=number, repeat=3)) / number
    deadline = (
        min(timeit.repeat(lambda: SUPPORT.add_business_time(friday, 40 * 3600), number=number, repeat=3))
        / number
    )
    # Generous bounds (the measured costs are a few microseconds) so a loaded CI machine does not flake.
    assert is_open < 20e-6
    assert deadline < 100e-6


# --- intervals: every malformed one refused, for the right reason --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("09:59-10:00", (599, 600), id="the last minute of an hour"),
        pytest.param("00:00-00:01", (0, 1), id="the first minute of the day"),
        pytest.param("23:59-24:00", (1439, 1440), id="the last minute of the day"),
        pytest.param("23:00-00:30", (1380, 1470), id="an end before the start runs past midnight"),
        pytest.param("09:00-08:59", (540, 1979), id="almost a whole day, overnight"),
    ],
)
def test_a_well_formed_interval_is_read_in_local_minutes(text: str, expected: tuple[int, int]) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    "text",
    ["09:60-10:00", "09:00-09:60", "09:00-10:60", "23:60-24:00", "24:00-24:00", "09:00-24:30"],
)
def test_minutes_past_59_and_times_past_24_00_are_malformed(text: str) -> None:
    with pytest.raises(ValueError, match=f"^malformed interval '{text}': times run from 00:00 to 23:59"):
        parse_interval(text)


# --- the constructor refuses what it cannot work with ---------------------------------------------------------


def on_monday(*intervals: tuple[int, int]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Weekly hours: *intervals* on Monday, closed the other six days."""
    return (tuple(intervals),) + ((),) * 6


MONDAY_NINE_TO_FIVE = on_monday((540, 1020))


@pytest.mark.parametrize(
    ("weekly", "country", "subdivision", "message"),
    [
        pytest.param(
            ((),) * 6, None, None, "weekly needs 7 days of intervals (Monday first), got 6", id="six days"
        ),
        pytest.param(
            on_monday((1440, 1500)),
            None,
            None,
            "bad interval (1440, 1500): 0 <= start < 1440 and start < end <= start + 1440",
            id="a start at 24:00",
        ),
        pytest.param(
            on_monday((-1, 600)),
            None,
            None,
            "bad interval (-1, 600): 0 <= start < 1440 and start < end <= start + 1440",
            id="a negative start",
        ),
        pytest.param(
            on_monday((600, 600)),
            None,
            None,
            "bad interval (600, 600): 0 <= start < 1440 and start < end <= start + 1440",
            id="an empty interval",
        ),
        pytest.param(
            on_monday((600, 2041)),
            None,
            None,
            "bad interval (600, 2041): 0 <= start < 1440 and start < end <= start + 1440",
            id="longer than a day",
        ),
        pytest.param(
            MONDAY_NINE_TO_FIVE, None, "BE", "a subdivision needs a country", id="subdivision alone"
        ),
    ],
)
def test_a_calendar_that_cannot_work_is_refused_at_construction(
    weekly: Any, country: str | None, subdivision: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=r"^[a-z]") as caught:
        BusinessCalendar("x", BERLIN, weekly, country, subdivision)
    assert str(caught.value) == message


def test_a_country_the_holidays_library_does_not_know_is_refused_with_its_words() -> None:
    with pytest.raises(ValueError, match="Country XX not available"):
        BusinessCalendar("x", BERLIN, MONDAY_NINE_TO_FIVE, "XX")


def test_an_interval_of_exactly_a_day_is_allowed() -> None:
    all_monday = BusinessCalendar("x", UTC_ZONE, on_monday((0, 1440)))
    assert (
        all_monday.business_seconds(at("2026-01-05T00:00:00+00:00"), at("2026-01-06T00:00:00+00:00"))
        == 86_400
    )


UTC_ZONE = ZoneInfo("UTC")


class NoOffset(tzinfo):
    """A tzinfo that gives no UTC offset: a datetime with it is naive after all."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "nowhere"

    def dst(self, dt: datetime | None) -> None:
        return None


def test_a_datetime_whose_tzinfo_gives_no_offset_is_refused_as_naive() -> None:
    with pytest.raises(
        ValueError, match=r"naive datetime 2026-01-05T10:00:00: its tzinfo gives no UTC offset"
    ):
        SUPPORT.is_open(datetime(2026, 1, 5, 10, 0, tzinfo=NoOffset()))


def test_business_time_is_exact_to_the_microsecond() -> None:
    start = at("2026-01-05T10:00:00", BERLIN)
    assert SUPPORT.business_seconds(start, start + timedelta(microseconds=1)) == 1e-6
    assert SUPPORT.add_business_time(start, timedelta(microseconds=1)) == start + timedelta(microseconds=1)


# --- the horizon: a calendar closed for ten years in a row is never open ----------------------------------------


def test_an_opening_after_six_closed_years_is_found_and_one_beyond_ten_years_is_not() -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    mondays = [start.date() + timedelta(weeks=week) for week in range(11 * 53)]
    six_years = BusinessCalendar("x", UTC_ZONE, MONDAY_NINE_TO_FIVE, closures=frozenset(mondays[: 6 * 52]))
    opening = six_years.next_opening(start)
    assert opening == datetime.combine(mondays[6 * 52], datetime.min.time(), UTC) + timedelta(hours=9)
    closed_for_good = BusinessCalendar("x", UTC_ZONE, MONDAY_NINE_TO_FIVE, closures=frozenset(mondays))
    assert closed_for_good.next_opening(start) is None
    assert closed_for_good.add_business_time(start, 60) is None


def test_a_long_business_time_runs_on_for_more_than_ten_years_of_open_days() -> None:
    start = at("2026-01-05T09:00:00+00:00")
    always = BusinessCalendar("x", UTC_ZONE, (((0, 1440),),) * 7)
    deadline = always.add_business_time(start, timedelta(days=4000))
    assert deadline == start + timedelta(days=4000)


# --- calendars from the rules file: defaults, and every message whole -----------------------------------------


def test_calendars_from_an_empty_mapping_are_the_built_in_ones_with_the_default_selection() -> None:
    calendars = calendars_from_config({}, SOURCE)
    assert sorted(calendars.by_name) == ["default", "stores"]
    assert calendars.for_touchpoint("store", None) is calendars["stores"]
    assert calendars.for_touchpoint("chat", "team-support") is calendars["default"]
    assert repr(calendars) == "Calendars(['default', 'stores'])"


def test_a_calendar_given_without_hours_or_closures_is_never_open_and_closes_no_date() -> None:
    calendars = calendars_from_config({"calendars": {"quiet": {"timezone": "UTC"}}}, SOURCE)
    assert calendars["quiet"].next_opening(at("2026-01-05T10:00:00+00:00")) is None
    assert calendars["quiet"].closures == frozenset()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(
            {"timezone": 5, "hours": {}},
            "rules.toml: calendars.bad.timezone: unknown time zone 5",
            id="a number",
        ),
        pytest.param(
            {"timezone": "", "hours": {}},
            "rules.toml: calendars.bad.timezone: unknown time zone ''",
            id="empty",
        ),
        pytest.param(
            {"timezone": "UTC", "hours": {"mon": [930]}},
            "rules.toml: calendars.bad.hours.mon[0]: malformed interval '930': expected 'HH:MM-HH:MM', "
            "e.g. '09:00-17:30'",
            id="an interval that is not text",
        ),
        pytest.param(
            {"timezone": "UTC", "hours": {"monday": []}},
            "rules.toml: calendars.bad.hours: unknown weekday 'monday'; weekdays are mon, tue, wed, thu, fri, sat, sun",
            id="a weekday spelt out",
        ),
        pytest.param(
            {"timezone": "UTC", "hours": {}, "closures": [20260101]},
            "rules.toml: calendars.bad.closures[0]: not a date 20260101; expected YYYY-MM-DD",
            id="a closure that is not text",
        ),
        pytest.param(
            {"timezone": "UTC", "hours": {}, "country": "DE", "subdivision": "XX"},
            "rules.toml: calendars.bad.subdivision: unknown subdivision 'XX' of DE; known: "
            + ", ".join(holidays.list_supported_countries()["DE"]),
            id="every known subdivision listed",
        ),
    ],
)
def test_a_calendar_mistake_is_said_whole(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        calendars_from_config({"calendars": {"bad": table}}, SOURCE)
    assert str(caught.value) == message


def test_a_selection_of_a_missing_calendar_is_said_whole_with_a_hint_only_where_it_helps() -> None:
    with pytest.raises(ConfigError) as caught:
        load('[calendar_selection]\nchannels = { chat = "support", fax = "default" }')
    assert caught.value.problems == (
        "rules.toml: calendar_selection.channels.chat: no calendar named 'support'; defined: default, stores",
        "rules.toml: calendar_selection.channels.fax: unknown channel; channels are app, web, phone, chat, "
        "store, email, social",
    )
    with pytest.raises(ConfigError) as replaced:
        load(
            '[calendars.default]\ntimezone = "UTC"\nhours = {}\n[calendar_selection]\nchannels = { chat = "nowhere" }'
        )
    assert "rules.toml: calendar_selection.channels.chat: no calendar named 'nowhere'; defined: default" in (
        replaced.value.problems
    ), "no hint for a name that was never built in"


@pytest.mark.parametrize("closed_days", [3660, 3661])
def test_ten_years_and_a_day_of_closures_is_the_horizon_of_the_search(closed_days: int) -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    closures = frozenset(start.date() + timedelta(days=n) for n in range(closed_days))
    daily = BusinessCalendar("x", UTC_ZONE, (((540, 1020),),) * 7, closures=closures)
    opening = daily.next_opening(start)
    if closed_days == 3660:
        assert opening == start + timedelta(days=3660, hours=9)
    else:
        assert opening is None


@pytest.mark.parametrize(
    ("zone", "day", "interval", "jump"),
    [
        pytest.param("Europe/Berlin", "2026-03-29", "02:10-05:00", "2026-03-29T01:00:00+00:00", id="Berlin"),
        pytest.param(
            "Europe/Berlin", "2026-03-29", "02:59-05:00", "2026-03-29T01:00:00+00:00", id="Berlin late"
        ),
        pytest.param(
            "America/New_York", "2026-03-08", "02:01-05:00", "2026-03-08T07:00:00+00:00", id="New York"
        ),
        pytest.param(
            "Australia/Lord_Howe",
            "2026-10-04",
            "02:15-05:00",
            "2026-10-03T15:30:00+00:00",
            id="half-hour shift",
        ),
    ],
)
def test_an_opening_inside_a_spring_forward_gap_is_the_second_the_clock_jumps(
    zone: str, day: str, interval: str, jump: str
) -> None:
    weekday = datetime.fromisoformat(day).strftime("%a").lower()
    opens = calendar(f'{weekday} = ["{interval}"]', timezone=zone)
    instant = at(jump)
    assert opens.is_open(instant)
    assert not opens.is_open(instant - timedelta(microseconds=1))
    assert opens.next_opening(instant - timedelta(hours=3)) == instant
