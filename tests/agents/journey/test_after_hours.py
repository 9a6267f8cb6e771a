"""After-hours inquiries by weekday and hour: the label pair of touchpoint_after_hours_inquiries_total.

Built-in calendars (Europe/Berlin, Berlin's public holidays): support is open Mon–Fri 09:00–17:30,
stores Mon–Sat 09:00–20:00. Monday 5 January 2026 is an ordinary working day; 1 January is a holiday.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from agents.calendar import WEEKDAYS
from agents.config import config_from_mapping, default_config
from agents.journey.after_hours import after_hours_slot

pytestmark = pytest.mark.unit

CALENDARS = default_config().calendars


def _event(occurred_at: str, **fields: Any) -> tuple[dict[str, Any], datetime]:
    event: dict[str, Any] = {
        "event_id": "ev-1",
        "occurred_at": occurred_at,
        "customer_id": "cust-1",
        "channel": "chat",
        "type": "inquiry",
        "actor": "customer",
        **fields,
    }
    return event, datetime.fromisoformat(occurred_at)


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2026-01-05T19:30:00+01:00", ("mon", "19")),  # story 1: support left at 17:30
        ("2026-01-05T17:30:00+01:00", ("mon", "17")),  # the closing instant is closed
        ("2026-01-05T08:59:59+01:00", ("mon", "08")),
        ("2026-01-10T12:00:00+01:00", ("sat", "12")),  # weekend
        ("2026-01-01T11:00:00+01:00", ("thu", "11")),  # New Year's Day: a holiday in Berlin
        ("2026-01-05T00:15:00+01:00", ("mon", "00")),
        ("2026-01-11T23:59:00+01:00", ("sun", "23")),
    ],
)
def test_an_inquiry_while_closed_gives_its_weekday_and_hour(
    occurred_at: str, expected: tuple[str, str]
) -> None:
    assert after_hours_slot(*_event(occurred_at), CALENDARS) == expected


@pytest.mark.parametrize("occurred_at", ["2026-01-05T09:00:00+01:00", "2026-01-05T17:29:59+01:00"])
def test_an_inquiry_while_open_is_not_after_hours(occurred_at: str) -> None:
    assert after_hours_slot(*_event(occurred_at), CALENDARS) is None


def test_weekday_and_hour_are_on_the_calendars_clock_not_the_events_offset() -> None:
    # 18:30 UTC on a Monday is 19:30 in Berlin: counted at 19, whatever offset the producer wrote.
    assert after_hours_slot(*_event("2026-01-05T18:30:00+00:00"), CALENDARS) == ("mon", "19")
    assert after_hours_slot(*_event("2026-01-06T03:30:00+09:00"), CALENDARS) == ("mon", "19")
    # Summer time: 17:45 UTC is 19:45 CEST.
    assert after_hours_slot(*_event("2026-07-06T17:45:00Z"), CALENDARS) == ("mon", "19")


def test_the_channels_calendar_decides() -> None:
    saturday_afternoon = "2026-01-10T15:00:00+01:00"
    assert after_hours_slot(*_event(saturday_afternoon, channel="chat"), CALENDARS) == ("sat", "15")
    assert after_hours_slot(*_event(saturday_afternoon, channel="store"), CALENDARS) is None  # stores open
    assert after_hours_slot(*_event("2026-01-10T20:00:00+01:00", channel="store"), CALENDARS) == (
        "sat",
        "20",
    )


def test_a_location_mapped_to_a_calendar_overrides_the_channel() -> None:
    config = config_from_mapping(
        {
            "calendars": {"night-desk": {"timezone": "Asia/Tokyo", "hours": {"mon": ["00:00-24:00"]}}},
            "calendar_selection": {"locations": {"night-team": "night-desk"}},
        }
    )
    # Monday 19:30 in Berlin is 03:30 on Tuesday in Tokyo, when the night desk is closed.
    event = _event("2026-01-05T19:30:00+01:00", location="night-team")
    assert after_hours_slot(*event, config.calendars) == ("tue", "03")
    # Monday 10:00 in Tokyo: open there, though Berlin's support is closed at that hour.
    assert (
        after_hours_slot(*_event("2026-01-05T10:00:00+09:00", location="night-team"), config.calendars)
        is None
    )
    assert after_hours_slot(*_event("2026-01-05T10:00:00+09:00"), config.calendars) == ("mon", "02")


@pytest.mark.parametrize(
    ("kind", "actor"),
    [
        ("inquiry", "agent"),
        ("inquiry", "bot"),
        ("reply", "agent"),
        ("page_view", "customer"),
        ("complaint", "customer"),
    ],
)
def test_only_a_customers_inquiry_counts(kind: str, actor: str) -> None:
    event, occurred = _event("2026-01-05T19:30:00+01:00", type=kind, actor=actor)
    assert after_hours_slot(event, occurred, CALENDARS) is None


def test_labels_are_the_bounded_sets_the_metric_pre_creates() -> None:
    from streams import metrics

    seen = set()
    for day in range(5, 12):
        for hour in range(24):
            slot = after_hours_slot(*_event(f"2026-01-{day:02d}T{hour:02d}:10:00+01:00"), CALENDARS)
            if slot is not None:
                seen.add(slot)
    assert {weekday for weekday, _ in seen} == set(WEEKDAYS)
    assert all(weekday in WEEKDAYS and hour in metrics.HOURS for weekday, hour in seen)
    # Mon–Fri 09:00–17:30 is open: 5 days × 9 hours never counted (17:10 is open too).
    assert len(seen) == 7 * 24 - 5 * 9
