"""Which customer inquiries arrived after hours, and when on the local clock: the label pair of a metric.

Story 1 starts with an inquiry at 19:30 after support went home at 17:30. Counting such inquiries by
weekday and hour shows when demand meets a closed door, which is what staffing decisions need. Pure:
the calendar that decides "after hours" is the one the SLA uses for the touchpoint (its location's,
else its channel's), and the weekday and hour are read on that calendar's own clock, so every slot
counted is one the calendar has closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agents.calendar import WEEKDAYS, Calendars

__all__ = ["after_hours_slot"]

#: Hour labels "00".."23", built once so the hot path does no formatting.
_HOURS = tuple(f"{hour:02d}" for hour in range(24))


def after_hours_slot(
    event: Mapping[str, Any], occurred: datetime, calendars: Calendars
) -> tuple[str, str] | None:
    """``(weekday, hour)`` such as ``("mon", "19")`` for a customer's inquiry made while closed, else None.

    *event* is a normalised touchpoint and *occurred* its ``occurred_at`` as an aware datetime. Only
    ``type == "inquiry"`` from ``actor == "customer"`` counts; the weekday (``mon``..``sun``) and hour
    (``00``..``23``) are local to the calendar that found it closed.
    """
    if event["type"] != "inquiry" or event["actor"] != "customer":
        return None
    calendar = calendars.for_touchpoint(event["channel"], event.get("location"))
    if calendar.is_open(occurred):
        return None
    local = occurred.astimezone(calendar.zone)
    return WEEKDAYS[local.weekday()], _HOURS[local.hour]
