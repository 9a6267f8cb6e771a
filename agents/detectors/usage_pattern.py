"""Usage pattern change: a purchase the customer's own habits do not explain (story 6).

A card issuer calls the customer because the card's usage pattern suddenly changed: maybe it was
lost. Here the pattern is the customer's own history: where they are seen (the touchpoint's
location), at what hour of the day (``local_hour``, in the event's own UTC offset), on which
channel, and how much they spend per purchase. What is at stake is money, so only a purchase is
judged, against the baseline *before* it is added to it: an unusual purchase is reported once and
then becomes history, so a customer who really changed habits stops looking unusual.

The baseline counts every touchpoint the customer made themselves (``actor`` customer) and every
purchase whoever recorded it. Replies, offers, transfers and other touchpoints made by agents,
bots or systems say nothing about the customer's habits and are ignored.

Memory (JSON, positional, part of every changelog record of the customer)::

    [channels, hours, locations, other, currency, amounts]
    [{"store":15}, {"18":9,"19":6}, {"store-berlin-mitte":15}, 0, "EUR", [39.9, 42.5, ...]]

- ``channels``: channel → touchpoints (at most the 7 channels of the contract).
- ``hours``: local hour "0" … "23" → touchpoints (at most 24).
- ``locations``: the ``MAX_LOCATIONS`` (4) most used locations → touchpoints; when a
  fifth one comes, the least used is folded into ``other`` (touchpoints at any
  location no longer tracked).
- ``currency`` and ``amounts``: the last ``MAX_AMOUNTS`` (15) purchase amounts, raw, in
  that one currency, kept short: whole units from 10 up, and 3 significant
  digits below 10 and from 1000 up (``39.95`` → ``40``, ``3.456`` → ``3.46``,
  ``12345`` → ``12300``): 5 % off at most, at 10.5, and under 1.3 % from 40 up.
  No conversion to the base currency: a purchase in another currency is not judged, and
  forgets the oldest amount instead, so that after as many foreign purchases as amounts are
  kept, the new currency takes over.
- Counts decay: once the channel counts add up to more than
  ``max(64, 2 × min_history + 8)``, every count is halved (rounding down, zeros
  dropped), so the baseline follows the recent past and stays at least
  ``min_history`` touchpoints strong.

Empty maps are kept (the layout is positional). A regular customer (one store, one channel,
a few usual hours, 15 amounts) takes about 120 bytes, the worst case (7 channels, 24 hours,
4 locations with 64-character ids, 15 ten-digit amounts) about 750, whatever the history's length.

The rule. A purchase is judged once the baseline holds ``min_history`` touchpoints and
``min_purchases`` amounts in the purchase's currency. Its amount is compared with the median of
the kept amounts (the *ratio*), its context with the baseline; the more unusual the context, the
less unusual the amount has to be:

1. **never seen there**: a *store* the customer has not been seen at (not tracked, while the
   untracked ones together are below ``rare_share`` of the located touchpoints; a chat's or a
   call's location is the team that took it, not the customer's), or an *hour* of the day with
   no touchpoint at all, nor in the hour either side: a ratio of ``amount_factor`` (2);
2. **seldom seen there**: a tracked store, or an hour (with half of each neighbouring hour),
   below ``rare_share`` of the baseline: a ratio of 1.5 × ``amount_factor`` (3);
3. **an extreme basket**: a ratio of 7.5 × ``amount_factor`` (15) at an hour below
   4 × ``rare_share`` (6 %).

Either part alone is everyday life: a bigger basket than usual, a visit to another store, a late
purchase. Measured on simulator traffic with its ground truth (``bench/alert_quality.py``), these
three find nearly every stolen card and almost nothing else; judging every touchpoint on its
dimensions alone, as an earlier version did, raised twenty false alarms for each true one.
Severity: critical when the ratio is at least 3 × ``amount_factor``, else warning. The finding names the changed dimensions and the baseline it compared with; its
evidence is the purchase. It has no clearing event (only the customer can say it was them) and
expires after ``alerts.expire_after_hours``.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from agents.config import detector_settings
from agents.detectors.base import Context, EventOnly, Finding
from agents.domain.alert import CRITICAL, WARNING

__all__ = ["USAGE_PATTERN_CHANGE", "UsagePatternChange"]

USAGE_PATTERN_CHANGE: Final = "usage_pattern_change"

#: Locations tracked by name; the rest share one "other" count.
MAX_LOCATIONS: Final = 4
#: Purchase amounts kept for the median.
MAX_AMOUNTS: Final = 15
#: Counts are halved once the baseline holds more touchpoints than this (or 2 × min_history + 8).
DECAY_AT: Final = 64
#: Where the customer is seldom seen, the amount must be this many times amount_factor.
SELDOM: Final = 1.5
#: An extreme basket: this many times amount_factor, at an hour below EXTREME_HOURS × rare_share.
EXTREME: Final = 7.5
EXTREME_HOURS: Final = 4
#: A ratio of this many times amount_factor makes the alert critical.
CRITICAL_RATIO: Final = 3

HOUR: Final = "hour"
LOCATION: Final = "location"
AMOUNT: Final = "amount"

#: The hours' keys in the memory, "0" … "23": made once, not for every touchpoint.
_HOUR_NAMES: Final = tuple(str(hour) for hour in range(24))

_ON_CHANNEL: Final[dict[str, str]] = {
    "app": "on the app",
    "web": "on the web",
    "phone": "by phone",
    "chat": "in chat",
    "store": "in store",
    "email": "by email",
    "social": "on social media",
}

_ACTION: Final = (
    "Verify with the customer through a contact already on file (the known phone number or the app "
    "account), never through details given in this interaction, that it was really them; if it was not, "
    "block the account or card and follow the fraud procedure. This is a check, not a sales call."
)


@dataclass(slots=True)
class _Baseline:
    """The memory, decoded; ``dump`` gives back the JSON-ready list."""

    channels: dict[str, int]
    hours: dict[str, int]
    locations: dict[str, int]
    other: int
    currency: str
    amounts: list[float]

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): one per touchpoint.
    def __init__(
        self,
        channels: dict[str, int],
        hours: dict[str, int],
        locations: dict[str, int],
        other: int,
        currency: str,
        amounts: list[float],
    ) -> None:
        self.channels = channels
        self.hours = hours
        self.locations = locations
        self.other = other
        self.currency = currency
        self.amounts = amounts

    @classmethod
    def load(cls, memory: Any) -> _Baseline:
        """The stored parts themselves, not copies (empty when unreadable): the caller's memory is never
        mutated, so whatever changes one of them copies it first (``record``, ``copy``)."""
        if isinstance(memory, list) and len(memory) == 6:
            channels, hours, locations, other, currency, amounts = memory
            if (
                isinstance(channels, dict)
                and isinstance(hours, dict)
                and isinstance(locations, dict)
                and isinstance(other, int)
                and isinstance(currency, str)
                and isinstance(amounts, list)
            ):
                return cls(channels, hours, locations, other, currency, amounts)
        return cls({}, {}, {}, 0, "", [])

    def copy(self) -> _Baseline:
        """A baseline whose parts may be changed in place."""
        return _Baseline(
            dict(self.channels),
            dict(self.hours),
            dict(self.locations),
            self.other,
            self.currency,
            list(self.amounts),
        )

    def dump(self) -> list[Any]:
        return [self.channels, self.hours, self.locations, self.other, self.currency, self.amounts]

    @property
    def touchpoints(self) -> int:
        return sum(self.channels.values())

    @property
    def located(self) -> int:
        return sum(self.locations.values()) + self.other

    def record(
        self,
        channel: str,
        hour: str,
        location: str | None,
        amount: float | None,
        currency: str | None,
        cap: int,
        touchpoints: int,
    ) -> None:
        """Add one touchpoint (after it was judged); *touchpoints* is ``touchpoints`` before it, which the
        caller has summed already.

        Each part it changes is copied first: a touchpoint that is not a purchase leaves the amounts
        shared with the memory they were loaded from, and one outside a store the locations."""
        channels = self.channels = dict(self.channels)
        channels[channel] = channels.get(channel, 0) + 1
        hours = self.hours = dict(self.hours)
        hours[hour] = hours.get(hour, 0) + 1
        if location is not None:
            locations = self.locations = dict(self.locations)
            locations[location] = locations.get(location, 0) + 1
            if len(locations) > MAX_LOCATIONS:
                # The least used goes (the oldest on a tie: dicts keep insertion order).
                least = min(locations, key=locations.__getitem__)
                self.other += locations.pop(least)
        if amount is not None and currency is not None:
            amounts = self.amounts = list(self.amounts)
            if not amounts or currency == self.currency:
                self.currency = currency
                amounts.append(_short(amount))
                del amounts[:-MAX_AMOUNTS]
            else:
                del amounts[0]
                if not amounts:
                    self.currency = currency
                    amounts.append(_short(amount))
        if touchpoints + 1 > cap:
            self.channels = _halved(self.channels)
            self.hours = _halved(self.hours)
            self.locations = _halved(self.locations)
            self.other //= 2


@dataclass(frozen=True, slots=True)
class _Judgement:
    """What changed on one purchase, against the baseline before it."""

    changed: tuple[str, ...]
    new_location: bool
    median: float
    ratio: float


class UsagePatternChange(EventOnly):
    """Fires on a purchase several times the usual basket, at a place or an hour the customer is not seen at."""

    type: str = USAGE_PATTERN_CHANGE

    def __init__(self, options: Mapping[str, Any]) -> None:
        settings = detector_settings(USAGE_PATTERN_CHANGE, options)
        self.min_history = int(settings["min_history"])
        self.min_purchases = int(settings["min_purchases"])
        self.amount_factor = float(settings["amount_factor"])
        self.rare_share = float(settings["rare_share"])
        self._decay_at = max(DECAY_AT, 2 * self.min_history + 8)

    def merge(self, memory: Any, other: Any, state: Any) -> Any:
        """Both baselines as one customer's: counts added, amounts of the kept currency, then bounded."""
        mine, theirs = _Baseline.load(memory).copy(), _Baseline.load(other)
        if not theirs.touchpoints:
            return memory
        if not mine.touchpoints:
            return other
        for counts, more in ((mine.channels, theirs.channels), (mine.hours, theirs.hours)):
            for name, count in more.items():
                counts[name] = counts.get(name, 0) + count
        for name, count in theirs.locations.items():
            mine.locations[name] = mine.locations.get(name, 0) + count
        mine.other += theirs.other
        while len(mine.locations) > MAX_LOCATIONS:
            least = min(mine.locations, key=mine.locations.__getitem__)
            mine.other += mine.locations.pop(least)
        if theirs.amounts and (not mine.amounts or theirs.currency == mine.currency):
            mine.currency = theirs.currency
            mine.amounts = [*theirs.amounts, *mine.amounts][-MAX_AMOUNTS:]
        while mine.touchpoints > self._decay_at:
            mine.channels, mine.hours = _halved(mine.channels), _halved(mine.hours)
            mine.locations, mine.other = _halved(mine.locations), mine.other // 2
        return mine.dump()

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        event = context.event
        purchase = event.get("type") == "purchase"
        if not purchase and event.get("actor") != "customer":
            return memory, []
        base = _Baseline.load(memory)
        touchpoints = base.touchpoints
        channel = str(event.get("channel", ""))
        local_hour = context.local_hour
        hour = _HOUR_NAMES[local_hour] if 0 <= local_hour < 24 else str(local_hour)
        raw_location = event.get("location")
        # Where the customer is: a store. A chat's or a call's location is the team that took it.
        location = (
            raw_location if isinstance(raw_location, str) and raw_location and channel == "store" else None
        )
        amount, currency = _amount(event) if purchase else (None, None)
        findings: list[Finding] = []
        if (
            amount is not None
            and currency == base.currency
            and touchpoints >= self.min_history
            and len(base.amounts) >= self.min_purchases
        ):
            judgement = self._judge(base, context.local_hour, location, amount)
            if judgement is not None:
                findings.append(self._finding(base, judgement, context, amount, currency))
        base.record(channel, hour, location, amount, currency, self._decay_at, touchpoints)
        return base.dump(), findings

    def _judge(self, base: _Baseline, hour: int, location: str | None, amount: float) -> _Judgement | None:
        if amount == 0:
            return None  # a purchase of nothing is no bigger basket, even after purchases of nothing
        median = float(statistics.median(base.amounts))
        ratio = amount / median if median > 0 else math.inf
        if ratio < self.amount_factor:
            return None
        never: list[str] = []
        seldom: list[str] = []
        new_location = False
        if location is not None:
            located = base.located
            if location in base.locations:
                if base.locations[location] / located < self.rare_share:
                    seldom.append(LOCATION)
            elif located == 0 or base.other / located < self.rare_share:
                never.append(LOCATION)
                new_location = True
        hours = sum(base.hours.values())
        share = _hour_share(base.hours, hour) / hours if hours else 0.0
        if share == 0:
            never.append(HOUR)
        elif share < self.rare_share:
            seldom.append(HOUR)
        unusual = (
            bool(never)
            or (bool(seldom) and ratio >= SELDOM * self.amount_factor)
            or (share < EXTREME_HOURS * self.rare_share and ratio >= EXTREME * self.amount_factor)
        )
        if not unusual:
            return None
        changed = [dimension for dimension in (LOCATION, HOUR) if dimension in never or dimension in seldom]
        if not changed:
            changed = [HOUR]  # an extreme basket at an hour the customer is not often seen at
        return _Judgement((*changed, AMOUNT), new_location, median, ratio)

    def _finding(
        self,
        base: _Baseline,
        judgement: _Judgement,
        context: Context,
        amount: float,
        currency: str,
    ) -> Finding:
        event = context.event
        channel = str(event.get("channel", ""))
        raw_location = event.get("location")
        location = raw_location if isinstance(raw_location, str) and raw_location else None
        clock = _clock(context)
        usual_channel = _most(base.channels)
        usual_hour = int(_most(base.hours) or 0)
        usual_location = _most(base.locations)

        usual = f"Customer {context.customer_id} is usually seen {_ON_CHANNEL.get(usual_channel or '', 'on ' + str(usual_channel))}"
        if usual_location is not None:
            usual += f" at {usual_location}"
        usual += f" around {usual_hour:02d}:00, spending about {_money(judgement.median)} {base.currency} a purchase"
        this = f"this {_money(amount)} {currency} purchase {_ON_CHANNEL.get(channel, 'on ' + channel)}"
        if location is not None:
            this += f" at {location}" + (", a new location," if judgement.new_location else "")
        if math.isfinite(judgement.ratio):
            this += f" at {clock} is {_count(judgement.ratio)} times that"
        else:
            this += f" at {clock} is the first with any spend"  # the usual basket was nothing
        summary = f"{usual}; {this} (changed: {', '.join(judgement.changed)})."

        reasons = [
            ("new_location" if dimension == LOCATION and judgement.new_location else f"unusual_{dimension}")
            for dimension in judgement.changed
        ]
        reasons.append("purchase")
        details: dict[str, Any] = {
            "changed": list(judgement.changed),
            "local_time": clock,
            "amount": amount,
            # None: the usual basket is nothing, so no multiple of it says how much more this is.
            "times_usual": round(judgement.ratio, 1) if math.isfinite(judgement.ratio) else None,
            "baseline": {
                "touchpoints": base.touchpoints,
                "channel": usual_channel,
                "hour": usual_hour,
                "location": usual_location,
                "median": judgement.median,
                "currency": base.currency,
            },
        }
        severity = CRITICAL if judgement.ratio >= CRITICAL_RATIO * self.amount_factor else WARNING
        return Finding(
            severity=severity,
            evidence=(str(event["event_id"]),),
            reasons=tuple(reasons),
            summary=summary,
            suggested_action=_ACTION,
            occurred_at=context.instant,
            detected_at=context.instant,
            details=details,
            channel=channel or None,
            location=location,
        )


def _amount(event: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """A purchase's raw amount and currency, or (None, None) when either is missing or not usable."""
    attributes = event.get("attributes") or {}
    amount = attributes.get("amount")
    currency = attributes.get("currency")
    if (
        isinstance(amount, int | float)
        and not isinstance(amount, bool)
        and math.isfinite(amount)
        and amount >= 0
        and isinstance(currency, str)
        and currency
    ):
        return float(amount), currency
    return None, None


def _short(amount: float) -> int | float:
    """*amount* as kept: whole units from 10 to 999, else 3 significant digits; an int when whole."""
    rounded = float(round(amount)) if 10 <= amount < 1000 else float(f"{amount:.3g}")
    return int(rounded) if rounded.is_integer() else rounded


def _halved(counts: dict[str, int]) -> dict[str, int]:
    return {key: count // 2 for key, count in counts.items() if count >= 2}


def _hour_share(hours: Mapping[str, int], hour: int) -> float:
    """Touchpoints at *hour*, plus half of those in each neighbouring hour (the day wraps around)."""
    before = hours.get(str((hour - 1) % 24), 0)
    after = hours.get(str((hour + 1) % 24), 0)
    return hours.get(str(hour), 0) + (before + after) / 2


def _most(counts: Mapping[str, int]) -> str | None:
    return max(counts, key=counts.__getitem__) if counts else None


def _clock(context: Context) -> str:
    """The event's local time of day, HH:MM, in its own offset."""
    minute = 0
    with contextlib.suppress(KeyError, ValueError):
        minute = datetime.fromisoformat(str(context.event["occurred_at"])).minute
    return f"{context.local_hour:02d}:{minute:02d}"


def _money(amount: float | None) -> str:
    if amount is None:
        return "?"
    if abs(amount) >= 100:
        return f"{amount:.0f}"
    return f"{amount:.2f}".rstrip("0").rstrip(".")


def _count(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"
