"""Usage pattern change: the customer suddenly departs from their own baseline (story 6).

A card issuer calls the customer because the card's usage pattern suddenly
changed: maybe it was lost. Here the pattern is the customer's own history of
touchpoints: which channel they use, at what hour of the day (``local_hour``, in
the event's own UTC offset), where (the touchpoint's location), and how much they
spend per purchase. Each touchpoint is compared with that baseline *before* it is
added to it, so an unusual event is reported once and then becomes history: a
customer who really changed habits stops looking unusual.

What counts: every touchpoint the customer made themselves (``actor`` customer),
and every purchase whoever recorded it. Replies, offers, transfers and other
touchpoints made by agents, bots or systems say nothing about the customer's
habits and are ignored.

Memory (JSON, positional, part of every changelog record of the customer)::

    [channels, bands, locations, other, currency, amounts]
    [{"store":15}, {"6":15}, {"store-berlin-mitte":15}, 0, "EUR", [39.9, 42.5, ...]]

- ``channels``: channel → touchpoints (at most the 7 channels of the contract).
- ``bands``: 3-hour band of the local hour ("0" = 00:00-03:00 … "7" = 21:00-24:00) →
  touchpoints (at most 8).
- ``locations``: the ``MAX_LOCATIONS`` (4) most used locations → touchpoints; when a
  fifth one comes, the least used is folded into ``other`` (touchpoints at any
  location no longer tracked).
- ``currency`` and ``amounts``: the last ``MAX_AMOUNTS`` (15) purchase amounts, raw, in
  that one currency, kept short: whole units from 10 up, and 3 significant
  digits below 10 and from 1000 up (``39.95`` → ``40``, ``3.456`` → ``3.46``,
  ``12345`` → ``12300``): 5 % off at most, at 10.5, and under 1.3 % from 40 up —
  small next to the MAD floor of a quarter of the median. No conversion to the base
  currency: a purchase in another currency is not sized, and forgets the oldest
  amount instead, so that after as many foreign purchases as amounts are kept,
  the new currency takes over (a customer who moved abroad gets a new baseline;
  one who alternates currencies has no reliable one, and is not sized).
- Counts decay: once the channel counts add up to more than
  ``max(64, 2 × min_history + 8)``, every count is halved (rounding down, zeros
  dropped), so the baseline follows the recent past and stays at least
  ``min_history`` touchpoints strong.

Empty maps are kept (the layout is positional). Measured as ``orjson.dumps``: a
regular customer (one store, one channel, one band, 15 amounts) takes about 105
bytes, one with two stores, the app and two usual times of day about 150, and the
worst case (7 channels, 8 bands, 4 locations with 64-character ids, 15 ten-digit
amounts) about 600, whatever the history's length.

The rule. Nothing is judged before the baseline holds ``min_history``
touchpoints. Then each dimension of the touchpoint may be *changed*:

- **channel**: its share of the baseline's touchpoints is below ``rare_share``
  (a channel never used has share 0);
- **hour**: the share of its 3-hour band, plus half the share of each
  neighbouring band, is below ``rare_share`` (the neighbours keep 21:10 from
  looking unusual for someone who always comes between 18:00 and 21:00);
- **location** (only for a touchpoint with a location, and only once the baseline
  holds ``min_history`` touchpoints with one): a tracked location whose share is
  below ``rare_share``, or a location not tracked while the untracked ones
  (``other``) together are below ``rare_share`` — a *new* location, never seen
  or too rarely to be remembered. When the untracked ones are common, an
  untracked location is not judged: it may well be one of them.
- **amount** (purchases in the baseline's currency, once it holds
  ``min(min_history, 15)`` amounts): ``|x − median| > mad_threshold × MAD``,
  where MAD is the median absolute deviation of the kept amounts, floored at a
  quarter of the median (and at 1 currency unit when both are 0). Without the
  floor, a customer who always pays exactly 40 would have MAD 0 and any other
  amount would be infinitely far; with it, and the default threshold of 5, a
  purchase must be more than 2.25 times the median to count (twice the usual
  is not unusual), so in practice only larger purchases do.

It fires when **two or more dimensions changed**, or on **one strong signal**:
a purchase more than ``2 × mad_threshold`` MADs from the median ("far out"), or
a purchase at a new location. One weak signal alone (a first visit on the app,
an evening purchase at 22:00, a somewhat larger basket) never fires.
Severity: critical when two or more dimensions changed at once on a purchase,
else warning. The finding names the changed dimensions and the baseline it
compared with; its evidence is the triggering event.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from agents.detectors.base import Context, EventOnly, Finding
from agents.domain.alert import CRITICAL, WARNING

__all__ = ["USAGE_PATTERN_CHANGE", "UsagePatternChange"]

USAGE_PATTERN_CHANGE: Final = "usage_pattern_change"

#: Hours per band of the day: 8 bands.
BAND_HOURS: Final = 3
#: Locations tracked by name; the rest share one "other" count.
MAX_LOCATIONS: Final = 4
#: Purchase amounts kept for the median and MAD.
MAX_AMOUNTS: Final = 15
#: Counts are halved once the baseline holds more touchpoints than this (or 2 × min_history + 8).
DECAY_AT: Final = 64
#: The MAD is at least this share of the median.
MAD_FLOOR_SHARE: Final = 0.25
#: A purchase this many times mad_threshold MADs out is a strong signal on its own.
FAR_FACTOR: Final = 2

CHANNEL: Final = "channel"
HOUR: Final = "hour"
LOCATION: Final = "location"
AMOUNT: Final = "amount"

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
    bands: dict[str, int]
    locations: dict[str, int]
    other: int
    currency: str
    amounts: list[float]

    @classmethod
    def load(cls, memory: Any) -> _Baseline:
        """Copies of the stored parts (the caller's memory is never mutated); empty when unreadable."""
        if isinstance(memory, list) and len(memory) == 6:
            channels, bands, locations, other, currency, amounts = memory
            if (
                isinstance(channels, dict)
                and isinstance(bands, dict)
                and isinstance(locations, dict)
                and isinstance(other, int)
                and isinstance(currency, str)
                and isinstance(amounts, list)
            ):
                return cls(dict(channels), dict(bands), dict(locations), other, currency, list(amounts))
        return cls({}, {}, {}, 0, "", [])

    def dump(self) -> list[Any]:
        return [self.channels, self.bands, self.locations, self.other, self.currency, self.amounts]

    @property
    def touchpoints(self) -> int:
        return sum(self.channels.values())

    @property
    def located(self) -> int:
        return sum(self.locations.values()) + self.other

    def record(
        self,
        channel: str,
        band: str,
        location: str | None,
        amount: float | None,
        currency: str | None,
        cap: int,
    ) -> None:
        """Add one touchpoint (after it was judged)."""
        self.channels[channel] = self.channels.get(channel, 0) + 1
        self.bands[band] = self.bands.get(band, 0) + 1
        if location is not None:
            self.locations[location] = self.locations.get(location, 0) + 1
            if len(self.locations) > MAX_LOCATIONS:
                # The least used goes (the oldest on a tie: dicts keep insertion order).
                least = min(self.locations, key=self.locations.__getitem__)
                self.other += self.locations.pop(least)
        if amount is not None and currency is not None:
            if not self.amounts or currency == self.currency:
                self.currency = currency
                self.amounts.append(_short(amount))
                del self.amounts[:-MAX_AMOUNTS]
            else:
                del self.amounts[0]
                if not self.amounts:
                    self.currency = currency
                    self.amounts.append(_short(amount))
        if self.touchpoints > cap:
            self.channels = _halved(self.channels)
            self.bands = _halved(self.bands)
            self.locations = _halved(self.locations)
            self.other //= 2


@dataclass(frozen=True, slots=True)
class _Judgement:
    """What changed on one touchpoint, against the baseline before it."""

    changed: tuple[str, ...]
    strong: bool
    new_location: bool = False
    median: float | None = None
    mad: float | None = None
    mads: float | None = None


class UsagePatternChange(EventOnly):
    """Fires when a touchpoint departs from the customer's own channel, hour, location or spending habits."""

    type: str = USAGE_PATTERN_CHANGE

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.min_history = int(options.get("min_history", 10))
        self.mad_threshold = float(options.get("mad_threshold", 5))
        self.rare_share = float(options.get("rare_share", 0.05))
        self._decay_at = max(DECAY_AT, 2 * self.min_history + 8)
        self._min_amounts = min(self.min_history, MAX_AMOUNTS)

    def merge(self, memory: Any, other: Any, state: Any) -> Any:
        """Both baselines as one customer's: counts added, amounts of the kept currency, then bounded."""
        mine, theirs = _Baseline.load(memory), _Baseline.load(other)
        if not theirs.touchpoints:
            return memory
        if not mine.touchpoints:
            return other
        for counts, more in ((mine.channels, theirs.channels), (mine.bands, theirs.bands)):
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
            mine.channels, mine.bands = _halved(mine.channels), _halved(mine.bands)
            mine.locations, mine.other = _halved(mine.locations), mine.other // 2
        return mine.dump()

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        event = context.event
        purchase = event.get("type") == "purchase"
        if not purchase and event.get("actor") != "customer":
            return memory, []
        base = _Baseline.load(memory)
        channel = str(event.get("channel", ""))
        band = str(context.local_hour // BAND_HOURS)
        raw_location = event.get("location")
        location = raw_location if isinstance(raw_location, str) and raw_location else None
        amount, currency = _amount(event) if purchase else (None, None)
        findings: list[Finding] = []
        if base.touchpoints >= self.min_history:
            judgement = self._judge(base, channel, band, location, amount, currency, purchase)
            if len(judgement.changed) >= 2 or judgement.strong:
                findings.append(self._finding(base, judgement, context, amount, currency))
        base.record(channel, band, location, amount, currency, self._decay_at)
        return base.dump(), findings

    def _judge(
        self,
        base: _Baseline,
        channel: str,
        band: str,
        location: str | None,
        amount: float | None,
        currency: str | None,
        purchase: bool,
    ) -> _Judgement:
        changed: list[str] = []
        strong = False
        total = base.touchpoints
        if base.channels.get(channel, 0) / total < self.rare_share:
            changed.append(CHANNEL)
        band_total = sum(base.bands.values())
        if band_total and _hour_share(base.bands, int(band)) / band_total < self.rare_share:
            changed.append(HOUR)
        new_location = False
        located = base.located
        if location is not None and located >= self.min_history:
            if location in base.locations:
                rare = base.locations[location] / located < self.rare_share
            else:
                rare = new_location = base.other / located < self.rare_share
            if rare:
                changed.append(LOCATION)
                strong = strong or (new_location and purchase)
        median = mad = mads = None
        if amount is not None and currency == base.currency and len(base.amounts) >= self._min_amounts:
            median = float(statistics.median(base.amounts))
            spread = float(statistics.median(abs(kept - median) for kept in base.amounts))
            mad = max(spread, MAD_FLOOR_SHARE * abs(median)) or 1.0
            mads = abs(amount - median) / mad
            if mads > self.mad_threshold:
                changed.append(AMOUNT)
                strong = strong or mads > FAR_FACTOR * self.mad_threshold
        return _Judgement(tuple(changed), strong, new_location and LOCATION in changed, median, mad, mads)

    def _finding(
        self,
        base: _Baseline,
        judgement: _Judgement,
        context: Context,
        amount: float | None,
        currency: str | None,
    ) -> Finding:
        event = context.event
        kind = str(event.get("type", "touchpoint"))
        purchase = kind == "purchase"
        channel = str(event.get("channel", ""))
        raw_location = event.get("location")
        location = raw_location if isinstance(raw_location, str) and raw_location else None
        clock = _clock(context)
        usual_channel = _most(base.channels)
        usual_band = int(_most(base.bands) or 0)
        usual_location = _most(base.locations)

        usual = f"Customer {context.customer_id} is usually seen {_ON_CHANNEL.get(usual_channel or '', 'on ' + str(usual_channel))}"
        if usual_location is not None:
            usual += f" at {usual_location}"
        usual += f" between {_band_text(usual_band)}"
        if judgement.median is not None:
            usual += f", spending about {_money(judgement.median)} {base.currency} a purchase"
        elif base.amounts:
            usual += f", spending about {_money(float(statistics.median(base.amounts)))} {base.currency} a purchase"

        what = (
            f"{_money(amount)} {currency} purchase"
            if purchase and amount is not None
            else kind.replace("_", " ")
        )
        this = f"this {what} {_ON_CHANNEL.get(channel, 'on ' + channel)}"
        if location is not None:
            this += f" at {location}" + (", a new location," if judgement.new_location else "")
        this += f" at {clock}"
        if AMOUNT in judgement.changed and judgement.mads is not None:
            this += f" is {_count(judgement.mads)} MADs out"
        summary = f"{usual}; {this} (changed: {', '.join(judgement.changed)})."

        reasons = [
            ("new_location" if dimension == LOCATION and judgement.new_location else f"unusual_{dimension}")
            for dimension in judgement.changed
        ]
        if purchase:
            reasons.append("purchase")
        details: dict[str, Any] = {
            "changed": list(judgement.changed),
            "local_time": clock,
            "baseline": {
                "touchpoints": base.touchpoints,
                "channel": usual_channel,
                "hours": _band_text(usual_band).replace(" and ", "-"),
                "location": usual_location,
            },
        }
        if judgement.median is not None and judgement.mad is not None and judgement.mads is not None:
            details["baseline"].update(
                median=judgement.median, mad=round(judgement.mad, 2), currency=base.currency
            )
            details["amount"] = amount
            details["mads"] = round(judgement.mads, 1)
        severity = CRITICAL if purchase and len(judgement.changed) >= 2 else WARNING
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


def _short(amount: float) -> float:
    """*amount* as kept: whole units from 10 to 999, else 3 significant digits; an int when whole."""
    rounded = float(round(amount)) if 10 <= amount < 1000 else float(f"{amount:.3g}")
    return int(rounded) if rounded.is_integer() else rounded


def _halved(counts: dict[str, int]) -> dict[str, int]:
    return {key: count // 2 for key, count in counts.items() if count >= 2}


def _hour_share(bands: Mapping[str, int], band: int) -> float:
    """Touchpoints in *band*, plus half of those in each neighbouring band (the day wraps around)."""
    bands_per_day = 24 // BAND_HOURS
    before = bands.get(str((band - 1) % bands_per_day), 0)
    after = bands.get(str((band + 1) % bands_per_day), 0)
    return bands.get(str(band), 0) + (before + after) / 2


def _most(counts: Mapping[str, int]) -> str | None:
    return max(counts, key=counts.__getitem__) if counts else None


def _band_text(band: int) -> str:
    start = band * BAND_HOURS
    return f"{start:02d}:00 and {(start + BAND_HOURS) % 24:02d}:00"


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


def _count(mads: float) -> str:
    return f"{mads:.0f}" if mads >= 10 else f"{mads:.1f}"
