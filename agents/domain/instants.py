"""Instants (integer epoch seconds, UTC), days, and the words people read them in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

__all__ = [
    "DAY",
    "broker_seconds",
    "day_number",
    "describe_duration",
    "epoch_micros",
    "iso",
    "local_time",
    "sooner",
    "stated_offset",
]

#: Seconds in a day: day numbers are ``instant // DAY``, days since 1970-01-01.
DAY: Final = 86_400
_EPOCH_DAY: Final = date(1970, 1, 1)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
#: Below 2**33 epoch seconds (the year 2242) a float timestamp lies within half a microsecond of the exact
#: one (its spacing is at most 2**-20 s there), so its whole seconds are the exact whole seconds.
_WHOLE_SECONDS_EXACT_BELOW: Final = 1 << 33


def broker_seconds(timestamp: int | None) -> float | None:
    """A record's broker *timestamp* (epoch milliseconds) in epoch seconds, or None when it has none (Kafka
    writes -1 for a record without one)."""
    return timestamp / 1000 if timestamp and timestamp > 0 else None


def epoch_micros(occurred: datetime, seconds: float) -> int:
    """Microseconds since the epoch of *occurred*, exactly, given its ``timestamp()`` *seconds*.

    *occurred* is aware, with a UTC offset of whole seconds (RFC 3339 offsets are whole minutes), so its
    microseconds are UTC's, and its whole seconds come from the float: 0.1 µs, where subtracting the epoch
    and dividing by a microsecond takes over 1 µs in timedelta objects. That arithmetic remains for
    instants outside the range where the float's whole seconds are exact.
    """
    if 0 <= seconds < _WHOLE_SECONDS_EXACT_BELOW:
        return int(seconds) * 1_000_000 + occurred.microsecond
    return (occurred - _EPOCH) // _MICROSECOND


def stated_offset(text: str) -> int | None:
    """The UTC offset in seconds that *text*, an instant ``datetime.fromisoformat`` read, states at its end
    as ``±HH:MM`` (as every event past ingest does); None for any other ending (``Z``, seconds, none).

    The parser takes what follows the last sign of the time as the offset, so a text it read that ends
    in sign, two digits, colon, two digits has exactly that offset.
    """
    end = len(text)
    if end < 6 or text[end - 3] != ":":
        return None
    sign = text[end - 6]
    if sign != "+" and sign != "-":
        return None
    tens_of_hours, hours = ord(text[end - 5]) - 48, ord(text[end - 4]) - 48
    tens_of_minutes, minutes = ord(text[end - 2]) - 48, ord(text[end - 1]) - 48
    if not (0 <= tens_of_hours <= 9 and 0 <= hours <= 9 and 0 <= tens_of_minutes <= 9 and 0 <= minutes <= 9):
        return None
    seconds = ((tens_of_hours * 10 + hours) * 60 + tens_of_minutes * 10 + minutes) * 60
    return -seconds if sign == "-" else seconds


#: Instants written lately, and how many to keep: every enriched record writes its customer's
#: ``stage_since``, the same instant for most of a customer's records.
_written: dict[int, str] = {}
WRITTEN_KEPT: Final = 65_536


def iso(instant: int) -> str:
    """Epoch seconds → RFC 3339 in UTC: ``2026-01-05T18:30:00+00:00``, as ``datetime.isoformat`` writes it."""
    if type(instant) is not int:
        return datetime.fromtimestamp(instant, UTC).isoformat()
    text = _written.get(instant)
    if text is None:
        # Pieces made once, joined: formatting the numbers took 2.6k instructions an instant.
        day = instant // DAY
        seconds = instant - day * DAY
        text = f"{_day_prefix(day)}{_CLOCK[seconds // 60]}{_SECONDS[seconds % 60]}"
        if len(_written) >= WRITTEN_KEPT:
            _written.clear()
        _written[instant] = text
    return text


def sooner(first: int | None, second: int | None) -> int | None:
    """The earlier of two instants, either of which may be missing (None)."""
    if first is None:
        return second
    if second is None or first <= second:
        return first
    return second


#: ``HH:MM:`` of each minute of a day, and ``SS+00:00`` of each second of a minute.
_CLOCK: Final = tuple(f"{minute // 60:02d}:{minute % 60:02d}:" for minute in range(24 * 60))
_SECONDS: Final = tuple(f"{second:02d}+00:00" for second in range(60))
#: ``YYYY-MM-DDT`` of days written lately, and how many to keep.
_day_prefixes: dict[int, str] = {}
DAY_PREFIXES_KEPT: Final = 4096


def _day_prefix(day: int) -> str:
    prefix = _day_prefixes.get(day)
    if prefix is None:
        if len(_day_prefixes) >= DAY_PREFIXES_KEPT:
            _day_prefixes.clear()
        prefix = _day_prefixes[day] = f"{(_EPOCH_DAY + timedelta(days=day)).isoformat()}T"
    return prefix


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH_DAY).days


#: The C locale's ``%a`` and ``%b``, as ``strftime`` writes them: Python never sets the process's locale.
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_time(instant: int, zone: tzinfo) -> str:
    """*instant* on the local clock of *zone*, as an alert's summary says it: ``Mon 05 Jan 19:30 CET``.

    ``strftime("%a %d %b %H:%M %Z")`` writes the same text at twice the cost (2.4 against 1.2 µs).
    """
    local = datetime.fromtimestamp(instant, zone)
    return (
        f"{_WEEKDAYS[local.weekday()]} {local.day:02d} {_MONTHS[local.month - 1]}"
        f" {local.hour:02d}:{local.minute:02d} {local.tzname() or ''}"
    )


def describe_duration(seconds: float) -> str:
    """``1 year 3 days``, ``5 minutes``, ``42 seconds``: a skew as people say it."""
    seconds = abs(seconds)
    parts: list[str] = []
    for name, size in (("year", 365 * DAY), ("day", DAY), ("hour", 3600), ("minute", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count:.0f} {name}{'' if count == 1 else 's'}")
        if len(parts) == 2:
            break
    if not parts:
        parts.append(f"{seconds:.0f} second{'' if round(seconds) == 1 else 's'}")
    return " ".join(parts)
