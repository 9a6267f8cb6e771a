"""Business calendars: when a channel or store is open, in its own time zone, with its public holidays.

"After hours" (story 1: an inquiry at 19:30 when support left at 17:30) and SLA deadlines counted in
business time ("15 business minutes") are answered here. Pure arithmetic on aware datetimes: no stream
engine, no I/O beyond the tz database and the `holidays` library.

Semantics (the rules file's ``[calendars]`` section, see schemas/config.v1.json):

* Opening intervals are local wall-clock times per weekday. An interval belongs to the local date it
  starts on; ``22:00-02:00`` runs past midnight into the next date, ``00:00-24:00`` is the whole day.
  An interval's start is open and its end is closed: ``09:00-17:30`` is open at 09:00:00 and closed at
  17:30:00. Intervals that overlap or touch (also across midnight) form one continuous opening.
* A local date that is a public holiday (``country``/``subdivision``) or a listed closure has none of
  its own intervals; an overnight interval that started the evening before still runs into it.
* A local time is the earliest instant at which the local clock reads that time or later. So a time in
  a spring-forward gap is the instant the clock jumps (``02:30`` on 2026-03-29 in Europe/Berlin opens at
  03:00 CEST), and a time that occurs twice in a fall-back overlap is its first occurrence (``02:30`` on
  2026-10-25 in Europe/Berlin is 02:30 CEST). An interval that resolves to no time at all (``02:00-03:00``
  on a spring-forward day in Berlin) is closed that day.
* Every instant in is an aware datetime in any offset; naive datetimes raise ValueError. Instants out
  are in the calendar's own zone (compare them with ``==``, which compares instants).
* Computed days are cached per calendar (bounded), so per-event calls cost microseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

import schemas
from agents.domain.errors import ConfigError

__all__ = [
    "WEEKDAYS",
    "BusinessCalendar",
    "Calendars",
    "calendars_from_config",
    "parse_interval",
]

#: Weekday keys of an ``hours`` table, Monday first (index = ``date.weekday()``).
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_MINUTES_PER_DAY: Final = 24 * 60
_SECOND_US: Final = 1_000_000
_DAY_US: Final = 86_400 * _SECOND_US
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_ONE_US: Final = timedelta(microseconds=1)
#: Searching forward gives up (returns None) after this many consecutive days without open time.
_MAX_CLOSED_DAYS: Final = 3660
#: Cached days (and UTC-day buckets) per calendar before the cache is dropped, so endless runs stay bounded.
_CACHE_LIMIT: Final = 4096
_INTERVAL: Final = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

#: One opening interval in local minutes from the start of the day it belongs to: 0 <= start < 1440 and
#: start < end <= start + 1440 (an end past 1440 runs into the next day).
Interval = tuple[int, int]
#: Open spans as (start, end) microseconds since the Unix epoch, start inclusive, end exclusive.
_Spans = tuple[tuple[int, int], ...]


def parse_interval(text: str) -> Interval:
    """``"HH:MM-HH:MM"`` as local minutes ``(start, end)``; an end before the start runs past midnight.

    The start is 00:00..23:59, the end 00:00..24:00; ``00:00-24:00`` is all day. Raises ValueError for
    anything else, including an empty interval (start equal to end).
    """
    match = _INTERVAL.fullmatch(text)
    if match is None:
        raise ValueError(f"malformed interval {text!r}: expected 'HH:MM-HH:MM', e.g. '09:00-17:30'")
    start_hour, start_minute, end_hour, end_minute = (int(part) for part in match.groups())
    if start_hour > 23 or start_minute > 59 or end_minute > 59 or (end_hour, end_minute) > (24, 0):
        raise ValueError(
            f"malformed interval {text!r}: times run from 00:00 to 23:59, and an end may be 24:00"
        )
    start = start_hour * 60 + start_minute
    end = end_hour * 60 + end_minute
    if start == end:
        raise ValueError(f"empty interval {text!r}: start equals end; '00:00-24:00' is all day")
    if end < start:
        end += _MINUTES_PER_DAY
    return start, end


def _micros(at: datetime) -> int:
    """Microseconds since the Unix epoch of the aware datetime *at*."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()}: give an aware datetime (with a UTC offset)")
    try:
        return (at - _EPOCH) // _ONE_US
    except TypeError:  # a tzinfo whose utcoffset() is None: naive after all
        raise ValueError(f"naive datetime {at.isoformat()}: its tzinfo gives no UTC offset") from None


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When one channel, team or store is open.

    Build it from the rules file with :func:`calendars_from_config`; the constructor takes the parsed
    form. Equal calendars compare equal; the per-calendar caches do not take part.
    """

    name: str
    zone: ZoneInfo
    #: Opening intervals per weekday, Monday first (see :data:`Interval` and :func:`parse_interval`).
    weekly: tuple[tuple[Interval, ...], ...]
    #: ISO 3166-1 country whose public holidays (from the ``holidays`` library) close a day; None: none.
    country: str | None = None
    #: Subdivision code as the ``holidays`` library names it (e.g. "BE" for Berlin); needs *country*.
    subdivision: str | None = None
    #: Extra closed local dates.
    closures: frozenset[date] = frozenset()
    #: Typed as a container, not as the dict the library's table is: compiled code tests a dict's keys
    #: directly, which skips the table's own ``in``, the one that computes a year on first use.
    _holidays: Container[date] | None = field(init=False, repr=False, compare=False)
    _never_open: bool = field(init=False, repr=False, compare=False)
    _days: dict[int, _Spans] = field(default_factory=dict, init=False, repr=False, compare=False)
    _buckets: dict[int, _Spans] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError(f"weekly needs 7 days of intervals (Monday first), got {len(self.weekly)}")
        for day in self.weekly:
            for start, end in day:
                if not (0 <= start < _MINUTES_PER_DAY and start < end <= start + _MINUTES_PER_DAY):
                    raise ValueError(
                        f"bad interval {(start, end)}: 0 <= start < 1440 and start < end <= start + 1440"
                    )
        if self.subdivision is not None and self.country is None:
            raise ValueError("a subdivision needs a country")
        table: holidays.HolidayBase | None = None
        if self.country is not None:
            try:
                # No years given: the library computes each year the first time a date in it is looked up.
                table = holidays.country_holidays(self.country, subdiv=self.subdivision)
            except NotImplementedError as exc:
                raise ValueError(str(exc)) from None
        object.__setattr__(self, "_holidays", table)
        object.__setattr__(self, "_never_open", not any(self.weekly))

    # --- the API -----------------------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether the calendar is open at the instant *at* (interval starts are open, ends are closed)."""
        us = _micros(at)
        bucket = us // _DAY_US
        spans = self._buckets.get(bucket)
        if spans is None:
            spans = self._bucket(bucket)
        for start, end in spans:
            if us < end:
                return us >= start
        return False

    def next_opening(self, at: datetime) -> datetime | None:
        """The first open instant at or after *at*, in the calendar's zone: *at* itself when open then.

        None when the calendar is never open (no intervals, or none for ten years ahead).
        """
        us = _micros(at)
        for start, end in self._spans_from(us):
            if end > us:
                return self._instant(start if start > us else us)
        return None

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Open time between the instants *start* and *end*, in seconds (exact to the microsecond).

        Negative when *end* is before *start*, so that splitting a range anywhere adds up.
        """
        low, high = _micros(start), _micros(end)
        if high < low:
            return -self._open_micros(high, low) / _SECOND_US
        return self._open_micros(low, high) / _SECOND_US

    def add_business_time(self, start: datetime, seconds: float | timedelta) -> datetime | None:
        """The SLA deadline: the instant when *seconds* of open time have passed since *start*.

        The count begins at ``next_opening(start)``. A count that completes exactly at a closing time
        yields the next opening instead, so the result is always an open instant (the latest ``t`` with
        ``business_seconds(start, t) == seconds``); zero seconds give ``next_opening(start)``. The result is
        in the calendar's zone; None when the calendar never opens again. Negative or non-finite *seconds*
        raise ValueError.
        """
        if isinstance(seconds, timedelta):
            remaining = seconds // _ONE_US
        elif math.isfinite(seconds):
            remaining = round(seconds * _SECOND_US)
        else:
            raise ValueError(f"business time must be a finite number of seconds, got {seconds!r}")
        if remaining < 0:
            raise ValueError(f"business time must not be negative, got {seconds!r}")
        us = _micros(start)
        for span_start, span_end in self._spans_from(us):
            if span_end <= us:
                continue
            begin = span_start if span_start > us else us
            if remaining < span_end - begin:
                return self._instant(begin + remaining)
            remaining -= span_end - begin
        return None

    # --- internals ---------------------------------------------------------------------------------------

    def _spans_from(self, us: int) -> Iterator[tuple[int, int]]:
        """Open spans (microseconds) from the day of *us* on; ends after _MAX_CLOSED_DAYS closed days in a row."""
        if self._never_open:
            return
        bucket = us // _DAY_US
        closed_days = 0
        while closed_days <= _MAX_CLOSED_DAYS:
            spans = self._buckets.get(bucket)
            if spans is None:
                spans = self._bucket(bucket)
            closed_days = closed_days + 1 if not spans else 0
            yield from spans
            bucket += 1

    def _instant(self, us: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=us)).astimezone(self.zone)

    def _open_micros(self, low: int, high: int) -> int:
        total = 0
        for bucket in range(low // _DAY_US, high // _DAY_US + 1):
            spans = self._buckets.get(bucket)
            if spans is None:
                spans = self._bucket(bucket)
            for start, end in spans:
                overlap = (end if end < high else high) - (start if start > low else low)
                if overlap > 0:
                    total += overlap
        return total

    def _bucket(self, bucket: int) -> _Spans:
        """Open spans within the UTC day *bucket* (days since the epoch), merged, clipped to the day."""
        low, high = bucket * _DAY_US, (bucket + 1) * _DAY_US
        # UTC offsets stay within ±14 h and an interval ends within a day of its start, so only local
        # dates from two before to one after the UTC date can reach into it; one more each side is slack.
        ordinal = bucket + _EPOCH_ORDINAL
        spans = sorted(span for day in range(ordinal - 3, ordinal + 3) for span in self._own_spans(day))
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        result = tuple(
            (max(start, low), min(end, high)) for start, end in merged if start < high and end > low
        )
        if len(self._buckets) >= _CACHE_LIMIT:
            self._buckets.clear()
        self._buckets[bucket] = result
        return result

    def _own_spans(self, ordinal: int) -> _Spans:
        """The intervals that belong to local date *ordinal*, as instants (none on holidays and closures)."""
        cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        day = date.fromordinal(ordinal)
        spans: list[tuple[int, int]] = []
        if day not in self.closures and (self._holidays is None or day not in self._holidays):
            midnight = datetime(day.year, day.month, day.day)
            for start_minute, end_minute in self.weekly[day.weekday()]:
                start = self._local(midnight + timedelta(minutes=start_minute))
                end = self._local(midnight + timedelta(minutes=end_minute))
                if start < end:
                    spans.append((start, end))
        result = tuple(spans)
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
        self._days[ordinal] = result
        return result

    def _local(self, wall: datetime) -> int:
        """The earliest instant (epoch microseconds) at which the local clock reads *wall* or later."""
        zone = self.zone
        us = (wall.replace(tzinfo=zone) - _EPOCH) // _ONE_US  # fold=0: the first occurrence when ambiguous
        if (_EPOCH + timedelta(microseconds=us)).astimezone(zone).replace(tzinfo=None) == wall:
            return us
        # *wall* is in a gap: fold=0 maps it past the jump, fold=1 before it. Find the jump to the second.
        before = (wall.replace(tzinfo=zone, fold=1) - _EPOCH) // _ONE_US // _SECOND_US
        after = -(-us // _SECOND_US)
        while after - before > 1:
            middle = (before + after) // 2
            if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
                after = middle
            else:
                before = middle
        return after * _SECOND_US


class Calendars:
    """The configured calendars and the rule that picks one for a touchpoint."""

    __slots__ = ("_by_channel", "_by_location", "by_name", "default")

    def __init__(
        self,
        calendars: Mapping[str, BusinessCalendar],
        locations: Mapping[str, str] | None = None,
        channels: Mapping[str, str] | None = None,
    ) -> None:
        """*locations* and *channels* map to calendar names; ``calendars`` must hold one named "default".

        Raises KeyError for a name that is not in *calendars*.
        """
        self.by_name: Mapping[str, BusinessCalendar] = dict(calendars)
        self.default: BusinessCalendar = self.by_name["default"]
        self._by_location = {key: self.by_name[name] for key, name in (locations or {}).items()}
        self._by_channel = {key: self.by_name[name] for key, name in (channels or {}).items()}

    def for_touchpoint(self, channel: str, location: str | None) -> BusinessCalendar:
        """The calendar for a touchpoint: its location's if mapped, else its channel's, else "default"."""
        if location is not None:
            found = self._by_location.get(location)
            if found is not None:
                return found
        return self._by_channel.get(channel, self.default)

    def __getitem__(self, name: str) -> BusinessCalendar:
        return self.by_name[name]

    def __repr__(self) -> str:
        return f"Calendars({sorted(self.by_name)})"


# --- the rules file -----------------------------------------------------------------------------------------


def calendars_from_config(filled: Mapping[str, Any], source: str) -> Calendars:
    """The calendars of an effective (schema-validated, defaults-filled) rules file.

    Applies the merge rule from the schema (a ``calendars`` table without ``default`` is laid over the
    built-in calendars; one with ``default`` replaces them) and the checks a JSON Schema cannot make:
    time zones, holiday countries and subdivisions, intervals, dates, channel names and the calendar
    names a selection refers to. Raises ConfigError with one ``"<source>: <key>: <what is wrong>"`` per
    problem, for every calendar and selection at once.
    """
    spec = schemas.load_schema("config")["properties"]
    built_in: dict[str, Any] = spec["calendars"]["default"]
    item_spec: Mapping[str, Any] = spec["calendars"]["additionalProperties"]["properties"]
    given: Mapping[str, Any] = filled.get("calendars", built_in)
    tables = dict(given) if "default" in given else {**built_in, **given}
    calendars = {}
    problems: list[str] = []
    for name, table in tables.items():
        try:
            calendars[name] = _calendar(name, table, item_spec, source)
        except ConfigError as exc:
            problems.extend(exc.problems)

    selection_spec = spec["calendar_selection"]["properties"]
    selection: Mapping[str, Any] = filled.get("calendar_selection", {})
    known_channels = schemas.load_schema("touchpoint")["properties"]["channel"]["enum"]
    mappings: dict[str, dict[str, str]] = {}
    for part in ("locations", "channels"):
        mapping: Mapping[str, Any] = selection.get(part, selection_spec[part]["default"])
        for key, name in mapping.items():
            where = f"calendar_selection.{part}.{key}"
            if part == "channels" and key not in known_channels:
                problems.append(
                    f"{source}: {where}: unknown channel; channels are {', '.join(known_channels)}"
                )
            if name not in tables:
                hint = ""
                if "default" in given and name in built_in:
                    hint = f" (a [calendars] table that defines 'default' replaces the built-in calendars, so define '{name}' too or change this entry)"
                problems.append(
                    f"{source}: {where}: no calendar named {name!r}; defined: {', '.join(sorted(tables))}{hint}"
                )
        mappings[part] = dict(mapping)
    if problems:
        raise ConfigError(*problems)
    return Calendars(calendars, mappings["locations"], mappings["channels"])


def _calendar(
    name: str, table: Mapping[str, Any], item_spec: Mapping[str, Any], source: str
) -> BusinessCalendar:
    where = f"{source}: calendars.{name}"
    table = {key: value["default"] for key, value in item_spec.items() if "default" in value} | dict(table)

    timezone = table.get("timezone")
    try:
        if not isinstance(timezone, str) or not timezone:
            raise ValueError
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"{where}.timezone: unknown time zone {timezone!r}") from None

    country, subdivision = table.get("country"), table.get("subdivision")
    supported = holidays.list_supported_countries()
    if country is not None and country not in supported:
        raise ConfigError(
            f"{where}.country: unknown country {country!r} for public holidays (ISO 3166-1 alpha-2, e.g. 'DE')"
        )
    if subdivision is not None:
        if country is None:
            raise ConfigError(f"{where}.subdivision: needs a country")
        if subdivision not in supported[country]:
            raise ConfigError(
                f"{where}.subdivision: unknown subdivision {subdivision!r} of {country}; known: {', '.join(supported[country])}"
            )

    hours: Mapping[str, Any] = table.get("hours", {})
    weekly: list[tuple[Interval, ...]] = []
    for weekday in hours:
        if weekday not in WEEKDAYS:
            raise ConfigError(
                f"{where}.hours: unknown weekday {weekday!r}; weekdays are {', '.join(WEEKDAYS)}"
            )
    for weekday in WEEKDAYS:
        intervals: Sequence[Any] = hours.get(weekday, [])
        day: list[Interval] = []
        for index, text in enumerate(intervals):
            try:
                day.append(parse_interval(text if isinstance(text, str) else repr(text)))
            except ValueError as exc:
                raise ConfigError(f"{where}.hours.{weekday}[{index}]: {exc}") from None
        weekly.append(tuple(day))

    closures: set[date] = set()
    for index, text in enumerate(table.get("closures", [])):
        try:
            if not isinstance(text, str) or not _DATE.fullmatch(text):
                raise ValueError
            closures.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"{where}.closures[{index}]: not a date {text!r}; expected YYYY-MM-DD"
            ) from None

    try:
        return BusinessCalendar(name, zone, tuple(weekly), country, subdivision, frozenset(closures))
    except ValueError as exc:  # the holidays library refused the country or subdivision after all
        raise ConfigError(f"{where}: {exc}") from None
