"""Simulated time: integer milliseconds since the epoch (UTC), local wall time, business hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

# Simulated time is an int of milliseconds since the Unix epoch (UTC): integer arithmetic keeps the hot path
# fast and the output exact; datetimes are only made at the edges.

SECOND: Final = 1000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
WEEK: Final = 7 * DAY
MONDAY: Final = 4 * DAY  # 1970-01-05 was a Monday; anchors hour-of-week arithmetic
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# Business calendars, in local minutes of the day.
STORE_OPEN: Final = 9 * 60
STORE_CLOSE: Final = 20 * 60
STORE_LAST_ENTRY: Final = 19 * 60 + 40  # a visit needs time before closing; later arrivals shop online
TEAM_OPEN: Final = 9 * 60
TEAM_CLOSE: Final = 17 * 60 + 30
STORE_DAYS: Final = frozenset(range(6))  # Monday..Saturday
TEAM_DAYS: Final = frozenset(range(5))  # Monday..Friday


class Clock:
    """UTC milliseconds to local wall time in one IANA zone, cached because every event needs it."""

    __slots__ = ("_days", "_offsets", "_suffixes", "_zone")

    def __init__(self, zone: ZoneInfo) -> None:
        self._zone = zone
        self._offsets: dict[int, int] = {}
        self._days: dict[int, str] = {}
        self._suffixes: dict[int, str] = {}

    def offset(self, t: int) -> int:
        """UTC offset in ms at instant t."""
        # Offsets are cached per 15-minute UTC bucket: every transition since 1970 in the tz database falls on
        # a quarter hour, so one lookup per bucket is exact. Cleared when large so an endless run stays bounded.
        bucket = t // (15 * MINUTE)
        offset = self._offsets.get(bucket)
        if offset is None:
            if len(self._offsets) > 8192:
                self._offsets.clear()
            delta = datetime.fromtimestamp(bucket * 900, self._zone).utcoffset()
            offset = 0 if delta is None else delta // timedelta(milliseconds=1)
            self._offsets[bucket] = offset
        return offset

    def local(self, t: int) -> int:
        """Local wall time of instant t, as ms since the local epoch."""
        return t + self.offset(t)

    def utc(self, local: int) -> int:
        """Instant of a local wall time (in a DST gap or overlap, one of the plausible instants)."""
        return local - self.offset(local - self.offset(local))

    def weekday_minute(self, t: int) -> tuple[int, int]:
        """Local weekday (Monday 0) and minute of the day at instant t."""
        local = t + self.offset(t)
        day = local // DAY
        return (day + 3) % 7, (local - day * DAY) // MINUTE

    def stamp(self, t: int, millis: bool) -> str:
        """RFC 3339 local time with its UTC offset, to the second or to the millisecond."""
        offset = self.offset(t)
        day, in_day = divmod(t + offset, DAY)
        prefix = self._days.get(day)
        if prefix is None:
            if len(self._days) > 4096:
                self._days.clear()
            prefix = (date(1970, 1, 1) + timedelta(days=day)).isoformat() + "T"
            self._days[day] = prefix
        suffix = self._suffixes.get(offset)
        if suffix is None:
            minutes = abs(offset) // MINUTE
            suffix = f"{'-' if offset < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
            self._suffixes[offset] = suffix
        seconds, milli = divmod(in_day, 1000)
        hour, rest = divmod(seconds, 3600)
        minute, second = divmod(rest, 60)
        if millis:
            return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}{suffix}"
        return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}{suffix}"

    def next_open(self, t: int, days: frozenset[int], open_minute: int, close_minute: int) -> int:
        """Earliest instant >= t that falls within the calendar (weekdays `days`, local [open, close))."""
        local = self.local(t)
        today = local // DAY
        for ahead in range(8):
            day = today + ahead
            if (day + 3) % 7 not in days:
                continue
            start = day * DAY + open_minute * MINUTE
            candidate = max(local, start) if ahead == 0 else start
            if candidate < day * DAY + close_minute * MINUTE:
                return max(t, self.utc(candidate))
        raise ValueError("calendar has no open day")  # unreachable with the calendars above

    def add_business(
        self, t: int, span: int, days: frozenset[int], open_minute: int, close_minute: int
    ) -> int:
        """The instant *span* ms of open time after t: time outside the calendar does not count."""
        while True:
            t = self.next_open(t, days, open_minute, close_minute)
            closes = self.day_end(t, close_minute)
            if t + span <= closes:
                return t + span
            span -= closes - t
            t = closes

    def business_hours(
        self, start: int, end: int, days: frozenset[int], open_minute: int, close_minute: int
    ) -> float:
        """Hours of open time between start and end (0 when end is not after start)."""
        total = 0
        t = start
        while t < end:
            t = self.next_open(t, days, open_minute, close_minute)
            if t >= end:
                break
            closes = min(self.day_end(t, close_minute), end)
            total += closes - t
            t = closes
        return total / HOUR

    def day_end(self, t: int, minute: int) -> int:
        """Instant of local `minute` on the local day of t."""
        local = self.local(t)
        return self.utc(local - local % DAY + minute * MINUTE)
