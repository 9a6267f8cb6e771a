"""Deterministic generator of realistic omnichannel touchpoint traffic.

The stream is what the ``touchpoints`` topic would carry for a retailer with
stores, a web shop, an app, social accounts and a contact centre: customers with
personas browse, ask, call, buy, complain and recommend, following daily and
weekly rhythms in the stores' time zone. It reproduces the stories in
``shared/DOMAIN.md`` (unanswered evening inquiries, issues that keep coming
back, cold transfers, upsell during a complaint, churn, advocates) plus the
noise a real producer adds: redelivered duplicates and malformed records.

What a caller cannot guess:

* Records come out in non-decreasing simulated time, but a journey's later
  events (a reply the next morning, a survey answer) are scheduled when the
  journey starts, so an event can follow events of other customers that
  started later.
* Malformed records are *inserted*, drawn from their own random stream, so the
  valid records of a run do not depend on ``malformed_share``: filtering the
  invalid ones out of a run with share 0.05 gives exactly the run with share 0.
  Duplicates are drawn from another stream and are valid records, emitted
  shortly after their original with identical bytes.
* ``event_id`` numbers follow emission order; malformed records that still
  look like events carry ids of their own (``ev-<seed>-m<n>``), never a valid
  record's id.
* Memory is O(customers) plus the journeys in flight; nothing depends on how
  many records are taken.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from base64 import urlsafe_b64encode
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson

__all__ = ["SimulationSpec", "generate", "generate_events"]


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate; the same spec always yields byte-identical output."""

    customers: int = 1000
    seed: int = 7
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    malformed_share: float = 0.01
    timezone: str = "Europe/Berlin"

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError(f"customers must be >= 1, got {self.customers}")
        if not 0.0 <= self.malformed_share <= 1.0:
            raise ValueError(f"malformed_share must be within 0..1, got {self.malformed_share}")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        ZoneInfo(self.timezone)  # raises ZoneInfoNotFoundError (a KeyError) for unknown zones


def generate(spec: SimulationSpec) -> Iterator[bytes]:
    """Endless stream of encoded records (UTF-8 JSON touchpoint events, or malformed bytes), in non-decreasing event time."""
    return (record for _, record in _Simulator(spec).run())


def generate_events(spec: SimulationSpec) -> Iterator[tuple[datetime, bytes]]:
    """Same stream as generate(), with each record's simulated instant (malformed records get the instant they were emitted at).

    The instant is an aware UTC datetime at millisecond precision; for a valid
    event it equals its ``occurred_at``.
    """
    epoch = _EPOCH
    millis = timedelta(milliseconds=1)
    return ((epoch + t * millis, record) for t, record in _Simulator(spec).run())


# --- time --------------------------------------------------------------------------------------------------
# Simulated time is an int of milliseconds since the Unix epoch (UTC): integer arithmetic keeps the hot path
# fast and the output exact; datetimes are only made at the edges.

_SECOND: Final = 1000
_MINUTE: Final = 60 * _SECOND
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
_WEEK: Final = 7 * _DAY
_MONDAY: Final = 4 * _DAY  # 1970-01-05 was a Monday; anchors hour-of-week arithmetic
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# Business calendars, in local minutes of the day.
_STORE_OPEN: Final = 9 * 60
_STORE_CLOSE: Final = 20 * 60
_STORE_LAST_ENTRY: Final = 19 * 60 + 40  # a visit needs time before closing; later arrivals shop online
_TEAM_OPEN: Final = 9 * 60
_TEAM_CLOSE: Final = 17 * 60 + 30
_STORE_DAYS: Final = frozenset(range(6))  # Monday..Saturday
_TEAM_DAYS: Final = frozenset(range(5))  # Monday..Friday


class _Clock:
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
        bucket = t // (15 * _MINUTE)
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
        day = local // _DAY
        return (day + 3) % 7, (local - day * _DAY) // _MINUTE

    def stamp(self, t: int, millis: bool) -> str:
        """RFC 3339 local time with its UTC offset, to the second or to the millisecond."""
        offset = self.offset(t)
        day, in_day = divmod(t + offset, _DAY)
        prefix = self._days.get(day)
        if prefix is None:
            if len(self._days) > 4096:
                self._days.clear()
            prefix = (date(1970, 1, 1) + timedelta(days=day)).isoformat() + "T"
            self._days[day] = prefix
        suffix = self._suffixes.get(offset)
        if suffix is None:
            minutes = abs(offset) // _MINUTE
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
        today = local // _DAY
        for ahead in range(8):
            day = today + ahead
            if (day + 3) % 7 not in days:
                continue
            start = day * _DAY + open_minute * _MINUTE
            candidate = max(local, start) if ahead == 0 else start
            if candidate < day * _DAY + close_minute * _MINUTE:
                return max(t, self.utc(candidate))
        raise ValueError("calendar has no open day")  # unreachable with the calendars above

    def day_end(self, t: int, minute: int) -> int:
        """Instant of local `minute` on the local day of t."""
        local = self.local(t)
        return self.utc(local - local % _DAY + minute * _MINUTE)


# --- the world: catalogue, personas, teams ------------------------------------------------------------------


@dataclass(frozen=True)
class _Category:
    name: str
    median_price: float
    price_sigma: float
    popularity: float
    fault_rate: float  # chance that a purchase turns into a repair/warranty issue later


_CATEGORIES: Final = (
    _Category("tv", 649.0, 0.45, 0.05, 0.08),
    _Category("air-purifier", 219.0, 0.35, 0.06, 0.05),
    _Category("coffee-machine", 289.0, 0.5, 0.07, 0.05),
    _Category("vacuum", 249.0, 0.45, 0.07, 0.05),
    _Category("laptop", 899.0, 0.4, 0.04, 0.04),
    _Category("headphones", 89.0, 0.7, 0.12, 0.03),
    _Category("phone-accessory", 24.0, 0.6, 0.2, 0.01),
    _Category("kitchen", 39.0, 0.7, 0.16, 0.02),
    _Category("lighting", 19.0, 0.6, 0.14, 0.01),
    _Category("toys", 29.0, 0.6, 0.09, 0.01),
)
_SKUS_PER_CATEGORY: Final = 40

_WEEKDAY_HOURS: Final = (
    0.25, 0.12, 0.06, 0.05, 0.06, 0.15, 0.45, 0.9, 1.2, 1.4, 1.6, 1.8,
    2.1, 1.9, 1.7, 1.7, 1.8, 2.1, 2.5, 2.9, 3.1, 2.8, 1.9, 0.9,
)  # fmt: skip
_WEEKEND_HOURS: Final = (
    0.45, 0.25, 0.12, 0.08, 0.06, 0.08, 0.2, 0.5, 1.1, 1.9, 2.6, 2.9,
    3.0, 2.9, 2.8, 2.8, 2.9, 3.0, 3.1, 3.2, 3.3, 3.0, 2.2, 1.1,
)  # fmt: skip
_DAYTIME_HOURS: Final = (
    0.1, 0.05, 0.03, 0.03, 0.03, 0.1, 0.4, 0.9, 1.6, 2.4, 2.9, 3.0,
    3.0, 2.8, 2.7, 2.8, 2.9, 2.8, 2.4, 2.0, 1.6, 1.1, 0.6, 0.25,
)  # fmt: skip
# Two-income families: little time during the working day, most activity after the children sleep.
_AFTER_BEDTIME_HOURS: Final = (
    1.2, 0.4, 0.1, 0.05, 0.05, 0.1, 0.4, 0.6, 0.3, 0.3, 0.3, 0.4,
    0.7, 0.4, 0.3, 0.3, 0.4, 0.6, 0.8, 1.2, 2.4, 4.2, 4.6, 3.0,
)  # fmt: skip
_FAMILY_WEEKEND_HOURS: Final = (
    1.2, 0.4, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 1.6, 2.2, 2.4, 2.2,
    1.8, 1.4, 1.4, 1.6, 1.6, 1.4, 1.2, 1.4, 2.4, 3.8, 4.2, 2.8,
)  # fmt: skip


def _weekly_cumulative(
    weekday: tuple[float, ...], saturday: tuple[float, ...], sunday_factor: float
) -> tuple[float, ...]:
    """Cumulative share of a week's sessions by local hour of the week (169 points, 0.0 .. 1.0)."""
    hours = weekday * 5 + saturday + tuple(w * sunday_factor for w in saturday)
    total = sum(hours)
    cumulative = [0.0]
    for weight in hours:
        cumulative.append(cumulative[-1] + weight / total)
    cumulative[-1] = 1.0
    return tuple(cumulative)


class _Weights:
    """Items with weights, drawn by bisecting the cumulative weights (random.choices rebuilds them every call)."""

    __slots__ = ("_cumulative", "_total", "items")

    def __init__(self, pairs: dict[str, float]) -> None:
        self.items = tuple(pairs)
        self._cumulative = tuple(itertools.accumulate(pairs.values()))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> str:
        return self.items[bisect_right(self._cumulative, rng.random() * self._total)]


@dataclass(frozen=True, eq=False)
class _Persona:
    name: str
    share: float
    sessions_per_week: float
    weekly: tuple[float, ...]  # _weekly_cumulative of when sessions start
    prospect_share: float  # share not yet known to the company: only identifiers until they sign up or buy
    digital: _Weights  # channel of browsing sessions
    store: float  # session-kind weights (store only counts while stores are open)
    browse: float
    service: float
    campaign: float
    pages: float  # mean page views per browsing session
    chat_from_browse: float
    buy_online: float
    buy_in_store: float
    big_ticket: float  # > 1 favours expensive categories
    satisfaction: float  # initial mean, 0..1
    offer_response: float
    topics: _Weights
    refund_rate: float
    issue_multiplier: float
    unresolved_share: float  # issues that never get resolved
    referral_rate: float
    churns: bool  # stops buying some days into the simulation


_PERSONAS: Final = (
    _Persona(
        name="bargain_hunter",
        share=0.25,
        sessions_per_week=3.2,
        weekly=_weekly_cumulative(_WEEKDAY_HOURS, _WEEKEND_HOURS, 0.9),
        prospect_share=0.13,
        digital=_Weights({"web": 0.45, "app": 0.3, "social": 0.15, "email": 0.1}),
        store=0.6,
        browse=1.0,
        service=0.45,
        campaign=0.35,
        pages=3.5,
        chat_from_browse=0.12,
        buy_online=0.14,
        buy_in_store=0.45,
        big_ticket=0.7,
        satisfaction=0.62,
        offer_response=0.4,
        topics=_Weights({"price": 0.35, "discount": 0.35, "stock": 0.1, "delivery": 0.1, "order": 0.1}),
        refund_rate=0.08,
        issue_multiplier=1.0,
        unresolved_share=0.12,
        referral_rate=0.02,
        churns=False,
    ),
    _Persona(
        name="loyal_regular",
        share=0.2,
        sessions_per_week=2.6,
        weekly=_weekly_cumulative(_DAYTIME_HOURS, _DAYTIME_HOURS, 0.5),
        prospect_share=0.0,
        digital=_Weights({"app": 0.5, "web": 0.3, "social": 0.05, "email": 0.15}),
        store=1.6,
        browse=0.7,
        service=0.35,
        campaign=0.12,
        pages=2.5,
        chat_from_browse=0.06,
        buy_online=0.32,
        buy_in_store=0.7,
        big_ticket=1.3,
        satisfaction=0.85,
        offer_response=0.15,
        topics=_Weights(
            {"stock": 0.25, "order": 0.2, "warranty": 0.15, "delivery": 0.15, "price": 0.1, "repair": 0.1}
            | {"discount": 0.05}
        ),
        refund_rate=0.04,
        issue_multiplier=0.8,
        unresolved_share=0.08,
        referral_rate=0.08,
        churns=False,
    ),
    _Persona(
        name="occasional",
        share=0.3,
        sessions_per_week=0.8,
        weekly=_weekly_cumulative(_WEEKDAY_HOURS, _WEEKEND_HOURS, 0.9),
        prospect_share=0.15,
        digital=_Weights({"web": 0.6, "app": 0.15, "social": 0.15, "email": 0.1}),
        store=0.5,
        browse=1.0,
        service=0.45,
        campaign=0.1,
        pages=2.5,
        chat_from_browse=0.08,
        buy_online=0.12,
        buy_in_store=0.4,
        big_ticket=1.0,
        satisfaction=0.7,
        offer_response=0.1,
        topics=_Weights(
            {"price": 0.15, "stock": 0.15, "order": 0.15, "delivery": 0.15, "warranty": 0.15, "repair": 0.1}
            | {"discount": 0.15}
        ),
        refund_rate=0.06,
        issue_multiplier=1.0,
        unresolved_share=0.12,
        referral_rate=0.02,
        churns=False,
    ),
    _Persona(
        name="evening_family",
        share=0.15,
        sessions_per_week=2.4,
        weekly=_weekly_cumulative(_AFTER_BEDTIME_HOURS, _FAMILY_WEEKEND_HOURS, 0.9),
        prospect_share=0.1,
        digital=_Weights({"app": 0.55, "web": 0.35, "social": 0.05, "email": 0.05}),
        store=0.9,
        browse=1.0,
        service=0.5,
        campaign=0.15,
        pages=3.0,
        chat_from_browse=0.22,
        buy_online=0.3,
        buy_in_store=0.6,
        big_ticket=1.6,
        satisfaction=0.72,
        offer_response=0.15,
        topics=_Weights({"price": 0.2, "discount": 0.25, "stock": 0.2, "delivery": 0.2, "order": 0.15}),
        refund_rate=0.05,
        issue_multiplier=1.0,
        unresolved_share=0.12,
        referral_rate=0.05,
        churns=False,
    ),
    _Persona(
        name="churner",
        share=0.1,
        sessions_per_week=2.2,
        weekly=_weekly_cumulative(_WEEKDAY_HOURS, _WEEKEND_HOURS, 0.9),
        prospect_share=0.0,
        digital=_Weights({"web": 0.5, "app": 0.3, "social": 0.15, "email": 0.05}),
        store=0.7,
        browse=0.8,
        service=0.6,
        campaign=0.1,
        pages=2.5,
        chat_from_browse=0.1,
        buy_online=0.22,
        buy_in_store=0.5,
        big_ticket=1.2,
        satisfaction=0.45,
        offer_response=0.1,
        topics=_Weights(
            {"order": 0.2, "delivery": 0.25, "repair": 0.2, "warranty": 0.15, "price": 0.1, "stock": 0.1}
        ),
        refund_rate=0.12,
        issue_multiplier=3.0,
        unresolved_share=0.35,
        referral_rate=0.0,
        churns=True,
    ),
)
_PERSONA_CHOICE: Final = tuple(itertools.accumulate(p.share for p in _PERSONAS))

# How often a customer the company knows still shows up unidentified on a channel (logged out on the web,
# a public social account, a number not in the CRM); prospects are always unidentified.
_ANONYMOUS: Final = {
    "app": 0.03,
    "web": 0.15,
    "social": 0.35,
    "email": 0.08,
    "chat": 0.2,
    "phone": 0.12,
    "store": 0.0,
}
# Which identifier an unidentified customer carries on each channel (store: the in-store Wi-Fi/app check-in).
_ANONYMOUS_KEY: Final = {
    "app": "device_id",
    "web": "device_id",
    "chat": "device_id",
    "store": "device_id",
    "social": "openid",
    "email": "email",
    "phone": "phone",
}
_MILLIS_CHANNELS: Final = frozenset({"app", "web"})  # machine-stamped; people-facing channels log seconds

_TOPIC_TEAM: Final = {
    "price": "team-sales",
    "discount": "team-sales",
    "stock": "team-sales",
    "order": "team-support",
    "delivery": "team-support",
    "return": "team-support",
    "warranty": "team-repair",
    "repair": "team-repair",
}
_TRANSFER_TARGETS: Final = ("team-support", "team-billing", "team-repair", "team-escalations", "team-sales")
_STORE_DISTRICTS: Final = ("mitte", "nord", "ost", "sued", "west")
_CAMPAIGN_THEMES: Final = ("winter-sale", "bundle-deal", "loyalty-bonus", "free-delivery", "weekend-special")
_FIRST_NAMES: Final = (
    "anna", "lukas", "mia", "leon", "emma", "finn", "sofia", "paul", "hannah", "jonas", "lea", "elias",
    "marie", "noah", "lena", "ben", "clara", "felix", "emilia", "maximilian", "aylin", "mehmet", "zeynep",
    "can", "olga", "piotr", "katarzyna", "ivan", "fatima", "omar", "julia", "david", "sarah", "tobias",
    "laura", "daniel", "nina", "jan", "sophie", "moritz",
)  # fmt: skip
_LAST_NAMES: Final = (
    "mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann",
    "koch", "richter", "klein", "wolf", "schroeder", "neumann", "schwarz", "braun", "zimmermann", "krueger",
    "hartmann", "lange", "werner", "krause", "lehmann", "koehler", "yilmaz", "kaya", "nowak", "kowalski",
    "petrov", "nguyen", "haddad", "rossi", "garcia", "jansen", "berg", "vogel", "frank", "kaiser",
)  # fmt: skip
# Documentation domains (RFC 2606): realistic shape, never a real mailbox.
_EMAIL_DOMAINS: Final = ("example.com", "example.net", "example.org")
_MOBILE_PREFIXES: Final = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177", "178")

_DUPLICATE_SHARE: Final = 0.005


class _Customer:
    """Mutable per-customer state; slots keep 100k of them small."""

    __slots__ = (
        "churn_at",
        "churned",
        "cid",
        "favourites",
        "idx",
        "issue_amount",
        "issue_at",
        "issue_contacts",
        "issue_give_up",
        "issue_id",
        "issue_resolve_at",
        "issue_topic",
        "known",
        "persona",
        "refund_amount",
        "refund_at",
        "refund_channel",
        "refund_order",
        "satisfaction",
        "slot",
        "store",
    )

    def __init__(
        self, slot: int, idx: int, persona: _Persona, known: bool, satisfaction: float, store: str
    ) -> None:
        self.slot = slot  # position in the population; a lapsed customer's slot goes to a newcomer
        self.idx = idx
        self.cid = f"cust-{idx:06d}"
        self.persona = persona
        self.known = known
        self.satisfaction = satisfaction
        self.churned = False
        self.churn_at = 0  # 0: never
        self.favourites: tuple[int, int] = (0, 0)
        self.store = store
        self.issue_id = ""  # "": no open issue
        self.issue_topic = ""
        self.issue_at = 0  # when the next contact about the open issue happens
        self.issue_contacts = 0
        self.issue_resolve_at = 0  # contact number that resolves it; 0: never
        self.issue_give_up = 0
        self.issue_amount = 0.0
        self.refund_at = 0  # 0: no refund pending
        self.refund_order = ""
        self.refund_amount = 0.0
        self.refund_channel = ""


_Ref = tuple[str, Any]  # ("customer_id", "cust-…") or ("identifiers", {...})
_Pending = tuple[int, int, dict[str, Any] | bytes, bool]


class _Simulator:
    """One run: the customer population, the journeys in flight and the random streams."""

    def __init__(self, spec: SimulationSpec) -> None:
        self.spec = spec
        self.seed = spec.seed
        self.clock = _Clock(ZoneInfo(spec.timezone))
        # Separate streams so that noise never shifts the behaviour: the valid records of a run are the same
        # whatever malformed_share is.
        self.rng = random.Random(f"touchpoint-journeys-{spec.seed}")
        self.bad_rng = random.Random(f"touchpoint-malformed-{spec.seed}")
        self.dup_rng = random.Random(f"touchpoint-duplicates-{spec.seed}")
        self.seq = itertools.count()
        self.conversations = itertools.count(1)
        self.orders = itertools.count(1)
        self.issues = itertools.count(1)
        self.malformed_ids = itertools.count(1)
        self.pending: list[_Pending] = []
        city = spec.timezone.rsplit("/", 1)[-1].lower().replace("_", "-")
        self.stores = tuple(f"store-{city}-{district}" for district in _STORE_DISTRICTS)
        self.skus = self._catalogue(random.Random(f"touchpoint-catalogue-{spec.seed}"))
        self.start = (spec.start - _EPOCH) // timedelta(milliseconds=1)
        population = random.Random(f"touchpoint-population-{spec.seed}")
        self.customers = [
            self._customer(slot, slot + 1, population, self.start) for slot in range(spec.customers)
        ]
        self.newcomers = itertools.count(spec.customers + 1)
        self.schedule = [(self._next_key(c, self.start), c.slot) for c in self.customers]
        heapq.heapify(self.schedule)

    # --- setup -----------------------------------------------------------------------------------------------

    @staticmethod
    def _catalogue(rng: random.Random) -> tuple[tuple[tuple[str, float], ...], ...]:
        """Per category, its SKUs with shelf prices (log-normal around the category median, ending in .99)."""
        catalogue = []
        for category in _CATEGORIES:
            items = []
            for n in range(1, _SKUS_PER_CATEGORY + 1):
                price = category.median_price * math.exp(category.price_sigma * rng.gauss(0.0, 1.0))
                items.append((f"sku-{category.name}-{n:03d}", max(2.99, round(price) - 0.01)))
            catalogue.append(tuple(items))
        return tuple(catalogue)

    def _customer(
        self, slot: int, idx: int, rng: random.Random, now: int, newcomer_prospects: float | None = None
    ) -> _Customer:
        """A customer with a persona; a newcomer arriving at `now` has no history and is a prospect with
        probability `newcomer_prospects`."""
        newcomer = newcomer_prospects is not None
        persona = _PERSONAS[bisect_right(_PERSONA_CHOICE, rng.random() * _PERSONA_CHOICE[-1])]
        satisfaction = min(0.98, max(0.05, rng.gauss(persona.satisfaction, 0.1)))
        prospects = persona.prospect_share if newcomer_prospects is None else newcomer_prospects
        known = rng.random() >= prospects
        customer = _Customer(slot, idx, persona, known, satisfaction, rng.choice(self.stores))
        weights = [c.popularity * (c.median_price / 100.0) ** (persona.big_ticket - 1.0) for c in _CATEGORIES]
        first, second = rng.choices(range(len(_CATEGORIES)), weights, k=2)
        customer.favourites = (first, second)
        if persona.churns:
            customer.churn_at = now + int(rng.uniform(3, 28) * _DAY)
        # The world did not begin at `start`: some known customers already have a faulty product from an
        # earlier purchase and will get in touch soon, so repeat-contact stories show up in short runs too.
        if not newcomer and customer.known and rng.random() < 0.04 * persona.issue_multiplier:
            _, price = self.skus[first][rng.randrange(_SKUS_PER_CATEGORY)]
            topic = rng.choice(("repair", "warranty", "delivery"))
            self._open_issue(customer, self.start + int(rng.uniform(0.0, 10.0) * _DAY), topic, price, rng)
        return customer

    def _replace(self, c: _Customer, t: int, prospects: float) -> None:
        """Give c's slot to a new customer (a prospect with probability `prospects`) arriving at t."""
        self.customers[c.slot] = self._customer(c.slot, next(self.newcomers), self.rng, t, prospects)

    def _identifiers(self, idx: int) -> tuple[str, str, str, str, str]:
        """Email, phone, device id, loyalty id and openid of a customer: stable, unique, realistic-looking."""
        digest = hashlib.blake2b(f"{self.seed}:{idx}".encode(), digest_size=32).digest()
        first = _FIRST_NAMES[digest[0] % len(_FIRST_NAMES)]
        last = _LAST_NAMES[digest[1] % len(_LAST_NAMES)]
        style = digest[2] % 3
        # The customer number makes every address and number unique, so identity resolution never merges two.
        if style == 0:
            local = f"{first}.{last}{idx}"
        elif style == 1:
            local = f"{first[0]}{last}{idx}"
        else:
            local = f"{first}_{last}.{idx}"
        email = f"{local}@{_EMAIL_DOMAINS[digest[3] % len(_EMAIL_DOMAINS)]}"
        number = (idx * 7_919 + 1_000_003) % 100_000_000  # bijective on idx < 10**8: 7919 is coprime to 10
        phone = f"+49 {_MOBILE_PREFIXES[digest[4] % len(_MOBILE_PREFIXES)]} {number:08d}"
        hexa = digest[8:24].hex()
        device = f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-a{hexa[17:20]}-{hexa[20:32]}"
        loyalty = f"LC{(idx * 104_729 + 271_828) % 1_000_000_000:09d}"
        openid = "o" + urlsafe_b64encode(digest[12:32]).decode()[:27]
        return email, phone, device, loyalty, openid

    def _anonymous_ref(self, c: _Customer, channel: str) -> _Ref:
        email, phone, device, _loyalty, openid = self._identifiers(c.idx)
        key = _ANONYMOUS_KEY[channel]
        value = {"device_id": device, "openid": openid, "email": email, "phone": phone}[key]
        return "identifiers", {key: value}

    def _ref(self, c: _Customer, channel: str) -> _Ref:
        if not c.known or self.rng.random() < _ANONYMOUS[channel]:
            return self._anonymous_ref(c, channel)
        return "customer_id", c.cid

    # --- scheduling ------------------------------------------------------------------------------------------

    @staticmethod
    def _weekly_sessions(c: _Customer) -> float:
        return c.persona.sessions_per_week * (0.15 if c.churned else 1.0)

    def _next_session(self, c: _Customer, after: int) -> int:
        """Start of c's next session: a Poisson process whose rate follows the persona's weekly rhythm."""
        persona = c.persona
        rate = self._weekly_sessions(c)
        cumulative = persona.weekly
        local = self.clock.local(after)
        position = (local - _MONDAY) % _WEEK
        hour, into_hour = divmod(position, _HOUR)
        # Invert the integrated intensity: move forward until rate x elapsed weekly share = an Exp(1) draw.
        share = cumulative[hour] + (cumulative[hour + 1] - cumulative[hour]) * into_hour / _HOUR
        weeks, target = divmod(share + self.rng.expovariate(1.0) / rate, 1.0)
        bin_ = min(bisect_right(cumulative, target) - 1, 167)
        width = cumulative[bin_ + 1] - cumulative[bin_]
        within = (target - cumulative[bin_]) / width if width > 0 else 0.0
        moved = int(weeks) * _WEEK + int((bin_ + within) * _HOUR) - position
        return max(after + _MINUTE, self.clock.utc(local + moved))

    def _next_key(self, c: _Customer, end: int) -> int:
        when = self._next_session(c, end)
        if c.issue_at:
            when = min(when, c.issue_at)
        if c.refund_at:
            when = min(when, c.refund_at)
        return max(when, end)

    # --- emission --------------------------------------------------------------------------------------------

    def run(self) -> Iterator[tuple[int, bytes]]:
        """Yield (instant in ms, record) forever."""
        pending = self.pending
        schedule = self.schedule
        customers = self.customers
        heappop = heapq.heappop
        heappush = heapq.heappush
        dumps = orjson.dumps
        stamp = self.clock.stamp
        bad_random = self.bad_rng.random
        dup_random = self.dup_rng.random
        malformed_share = self.spec.malformed_share
        prefix = f"ev-{self.seed}-"
        emitted = 0
        while True:
            if pending and pending[0][0] <= schedule[0][0]:
                t, _, item, millis = heappop(pending)
                duplicate = isinstance(item, bytes)
                if isinstance(item, bytes):
                    record = item  # a redelivery: same bytes, same event_id
                    event: dict[str, Any] = orjson.loads(item) if malformed_share else {}
                else:
                    emitted += 1
                    item["event_id"] = prefix + str(emitted)
                    item["occurred_at"] = stamp(t, millis)
                    record = dumps(item)
                    event = item
                if malformed_share:
                    if malformed_share >= 1.0:
                        yield t, self._malformed(event, record)
                        continue
                    # A geometric number of insertions before each record makes malformed_share the expected
                    # fraction of all records emitted.
                    while bad_random() < malformed_share:
                        yield t, self._malformed(event, record)
                yield t, record
                if not duplicate and dup_random() < _DUPLICATE_SHARE:
                    heappush(pending, (t, next(self.seq), record, False))
            else:
                t, slot = schedule[0]
                end = self._session(customers[slot], t)
                heapq.heapreplace(schedule, (self._next_key(customers[slot], end), slot))

    def _push(
        self,
        t: int,
        ref: _Ref,
        channel: str,
        kind: str,
        actor: str,
        location: str | None = None,
        conversation: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> int:
        """Schedule one event at t (rounded up to the second where the channel logs seconds); return its time."""
        millis = channel in _MILLIS_CHANNELS
        if not millis:
            t = -(-t // _SECOND) * _SECOND
        # event_id and occurred_at are placeholders filled at emission; keeping the keys here fixes their order.
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": "",
            "occurred_at": "",
            ref[0]: ref[1],
            "channel": channel,
            "type": kind,
            "actor": actor,
        }
        if location is not None:
            event["location"] = location
        if conversation is not None:
            event["conversation_id"] = conversation
        if attributes is not None:
            event["attributes"] = attributes
        heapq.heappush(self.pending, (t, next(self.seq), event, millis))
        return t

    def _identify(
        self,
        t: int,
        c: _Customer,
        ref: _Ref,
        channel: str,
        actor: str,
        extra: tuple[str, ...] = (),
        location: str | None = None,
        conversation: str | None = None,
    ) -> int:
        """Link the identifiers seen so far (ref) and `extra` ones to the customer id; return the event time.

        This is the log-in at checkout, the caller verification or the loyalty sign-up at the till.
        """
        email, phone, device, loyalty, openid = self._identifiers(c.idx)
        values = {
            "device_id": device,
            "openid": openid,
            "email": email,
            "phone": phone,
            "loyalty_id": loyalty,
        }
        identifiers = dict(ref[1]) if ref[0] == "identifiers" else {}
        for key in extra:
            identifiers[key] = values[key]
        millis = channel in _MILLIS_CHANNELS
        if not millis:
            t = -(-t // _SECOND) * _SECOND
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": "",
            "occurred_at": "",
            "customer_id": c.cid,
            "identifiers": identifiers,
            "channel": channel,
            "type": "identify",
            "actor": actor,
        }
        if location is not None:
            event["location"] = location
        if conversation is not None:
            event["conversation_id"] = conversation
        heapq.heappush(self.pending, (t, next(self.seq), event, millis))
        c.known = True
        return t

    # --- journeys --------------------------------------------------------------------------------------------

    def _session(self, c: _Customer, t: int) -> int:
        """Play one journey of c starting at t; return when the customer is free again."""
        if c.churn_at and not c.churned and t >= c.churn_at:
            c.churned = True
        if c.issue_at and c.issue_at <= t and (not c.refund_at or c.issue_at <= c.refund_at):
            return self._complaint(c, t)
        if c.refund_at and c.refund_at <= t:
            return self._refund(c, t)
        rng = self.rng
        if c.churned:
            # Lapsed: still looks around now and then and gets win-back offers, but only buys if won back.
            # Eventually gone for good: the slot goes to a newly acquired customer, which keeps the population
            # (and so the traffic) stationary over an endless run.
            if rng.random() < 0.05 / self._weekly_sessions(c):  # gone for good after ~20 weeks on average
                self._replace(c, t, 0.6)
                return t
            draw = rng.random()
            if draw < 0.5:
                return self._browse(c, t, may_buy=False)
            if draw < 0.85:
                return self._campaign(c, t)
            return self._inquiry(c, t)
        # Turnover keeps the population stationary over an endless run: a prospect who never bought moves on,
        # and now and then a customer moves away; newcomers arrive in their place, mostly as prospects. The
        # hazard is per week, not per session, so that busy personas do not drain out of the population.
        if rng.random() < (0.06 if not c.known else 0.006) / self._weekly_sessions(c):
            self._replace(c, t, 1.0 if not c.known else 0.8)
            return t
        weekday, minute = self.clock.weekday_minute(t)
        persona = c.persona
        store = persona.store if weekday < 6 and _STORE_OPEN <= minute < _STORE_LAST_ENTRY else 0.0
        draw = rng.random() * (store + persona.browse + persona.service + persona.campaign)
        if draw < store:
            return self._store_visit(c, t)
        draw -= store
        if draw < persona.browse:
            return self._browse(c, t)
        draw -= persona.browse
        if draw < persona.service:
            return self._inquiry(c, t)
        return self._campaign(c, t)

    def _lognormal(self, median: float, sigma: float) -> int:
        """A log-normal duration in ms around `median` seconds."""
        return int(median * _SECOND * math.exp(sigma * self.rng.gauss(0.0, 1.0)))

    def _staffed(self, t: int) -> bool:
        weekday, minute = self.clock.weekday_minute(t)
        return weekday < 5 and _TEAM_OPEN <= minute < _TEAM_CLOSE

    def _next_staffed(self, t: int) -> int:
        return self.clock.next_open(t, _TEAM_DAYS, _TEAM_OPEN, _TEAM_CLOSE)

    def _awake(self, t: int) -> int:
        """Move a planned contact out of the small hours (00:00-07:00 local) to between 07:00 and 10:00."""
        _, minute = self.clock.weekday_minute(t)
        if minute >= 7 * 60:
            return t
        return t + (7 * 60 - minute) * _MINUTE + (minute * 7919) % 180 * _MINUTE

    def _when_open(self, t: int, days: frozenset[int], open_minute: int, close_minute: int) -> int:
        """When a customer who wanted to act at t gets to it within the calendar.

        Unchanged while open; otherwise some time in the first hours after the next opening, weighted to
        the start, so that the backlog does not pile up at exactly 09:00:00.
        """
        opened = self.clock.next_open(t, days, open_minute, close_minute)
        if opened == t:
            return t
        return opened + int(self.rng.random() ** 2 * 3 * _HOUR)

    def _pick_sku(self, c: _Customer) -> tuple[int, str, float]:
        rng = self.rng
        category = (
            c.favourites[rng.random() < 0.5] if rng.random() < 0.65 else rng.randrange(len(_CATEGORIES))
        )
        sku, price = self.skus[category][rng.randrange(_SKUS_PER_CATEGORY)]
        return category, sku, price

    def _basket(self, price: float) -> float:
        """Total of a basket: the main item, sometimes a second unit or small add-ons."""
        rng = self.rng
        total = price
        if price < 50.0 and rng.random() < 0.3:
            total += price * rng.randint(1, 2)
        if rng.random() < 0.3:
            total += 4.0 * math.exp(0.8 * rng.gauss(0.0, 1.0) + 1.0)
        return round(total, 2)

    def _score(self, c: _Customer, quality: float) -> dict[str, Any]:
        """Feedback attributes: csat and/or nps driven by the customer's mood and this contact's quality."""
        rng = self.rng
        mood = 0.55 * c.satisfaction + 0.45 * quality + rng.gauss(0.0, 0.1)
        # Scales are read generously: a contact that went fine is a 4 or a 5, a promoter needs more than fine.
        csat = min(5, max(1, round(1.0 + 4.6 * mood)))
        nps = min(10, max(0, round(11.0 * mood + rng.gauss(0.0, 0.8))))
        draw = rng.random()
        if draw < 0.65:
            return {"csat": csat}
        if draw < 0.85:
            return {"nps": nps}
        return {"csat": csat, "nps": nps}

    def _experience(self, c: _Customer, quality: float, weight: float = 0.25) -> None:
        """Move satisfaction towards this experience; a customer fed up enough lapses."""
        c.satisfaction = max(0.0, c.satisfaction + weight * (quality - c.satisfaction))
        if c.satisfaction < 0.22 and not c.churned:
            c.churned = True

    def _after_purchase(
        self, c: _Customer, t: int, channel: str, order: str, amount: float, category: int
    ) -> None:
        """Consequences that play out later: refunds, product faults, surveys, referrals."""
        rng = self.rng
        persona = c.persona
        self._experience(c, 0.9, 0.1)  # getting what one came for is a (small) good experience
        if not c.refund_at and rng.random() < persona.refund_rate:
            c.refund_at = t + int(rng.uniform(1.0, 14.0) * _DAY)
            c.refund_order = order
            c.refund_amount = amount if rng.random() < 0.7 else round(amount * rng.uniform(0.1, 0.9), 2)
            c.refund_channel = channel
        if not c.issue_id:
            fault = _CATEGORIES[category].fault_rate * persona.issue_multiplier
            if rng.random() < fault:
                topic = rng.choice(("repair", "warranty"))
                self._open_issue(c, t + int(rng.uniform(2.0, 30.0) * _DAY), topic, amount, rng)
            elif channel != "store" and rng.random() < 0.015 * persona.issue_multiplier:
                self._open_issue(c, t + int(rng.uniform(1.0, 5.0) * _DAY), "delivery", amount, rng)
        if rng.random() < 0.08:
            survey_channel = "app" if channel == "app" else "email"
            quality = 0.8 if channel == "store" else 0.75
            self._push(
                t + self._lognormal(3 * 3600, 1.0), self._ref(c, survey_channel), survey_channel, "feedback",
                "customer", None, None, self._score(c, quality) | {"order_id": order},
            )  # fmt: skip
        if c.satisfaction > 0.75 and rng.random() < persona.referral_rate:
            referral_channel = rng.choice(("app", "social", "web"))
            self._push(
                t + self._lognormal(600, 1.0), ("customer_id", c.cid), referral_channel, "referral", "customer",
                None, None, {"referral_code": f"REF-{c.idx:06d}", "invited": rng.randint(1, 3)},
            )  # fmt: skip

    def _open_issue(
        self, c: _Customer, first_contact: int, topic: str, amount: float, rng: random.Random
    ) -> None:
        """Give c an issue whose contacts start at `first_contact`, and decide now how it will end."""
        c.issue_id = f"iss-{self.seed}-{next(self.issues)}"
        c.issue_topic = topic
        c.issue_amount = amount
        c.issue_at = self._awake(first_contact)
        c.issue_contacts = 0
        c.issue_give_up = 0
        draw = rng.random()
        unresolved = c.persona.unresolved_share
        if draw < unresolved:
            c.issue_resolve_at = 0
            c.issue_give_up = rng.randint(3, 6)
        elif draw < unresolved + (1 - unresolved) * 0.5:
            c.issue_resolve_at = 1
        elif draw < unresolved + (1 - unresolved) * 0.75:
            c.issue_resolve_at = 2
        else:
            c.issue_resolve_at = rng.randint(3, 5)  # the television that kept breaking

    def _purchase(
        self,
        c: _Customer,
        t: int,
        ref: _Ref,
        channel: str,
        location: str | None,
        item: tuple[int, str, float] | None = None,
        offer_id: str | None = None,
    ) -> int:
        """Buy `item` (the one looked at, if any) and whatever else lands in the basket."""
        category, sku, price = item if item is not None else self._pick_sku(c)
        amount = self._basket(price)
        order = f"ord-{self.seed}-{next(self.orders)}"
        attributes: dict[str, Any] = {"amount": amount, "currency": "EUR", "order_id": order, "sku": sku}
        if offer_id is not None:
            attributes["offer_id"] = offer_id
        t = self._push(t, ref, channel, "purchase", "customer", location, None, attributes)
        self._after_purchase(c, t, channel, order, amount, category)
        return t

    def _browse(self, c: _Customer, t: int, may_buy: bool = True, offer_id: str | None = None) -> int:
        """Visit, look at products, maybe ask in the chat, maybe buy (after logging in if unidentified)."""
        rng = self.rng
        persona = c.persona
        channel = persona.digital.pick(rng)
        if offer_id is not None and channel not in _MILLIS_CHANNELS:
            channel = "web"
        ref = self._ref(c, channel)
        # Newsletter clicks land in the web shop; social posts lead there more often than not.
        pages_channel = channel
        if channel == "email" or (channel == "social" and rng.random() < 0.6):
            pages_channel = "web"
        t = self._push(t, ref, channel, "visit", "customer")
        item = self._pick_sku(c)
        category, sku, _ = item
        for _ in range(1 + int(rng.expovariate(1.0 / persona.pages))):
            t += self._lognormal(35.0, 0.9)
            if rng.random() < 0.3:
                item = self._pick_sku(c)
                category, sku, _ = item
            t = self._push(
                t, ref, pages_channel, "page_view", "customer", None, None,
                {"sku": sku, "category": _CATEGORIES[category].name},
            )  # fmt: skip
        answered = None
        if rng.random() < persona.chat_from_browse:
            topic = rng.choice(("price", "discount", "stock", "delivery"))
            t, answered = self._chat(c, t + self._lognormal(30.0, 0.7), topic, sku)
        if not may_buy or c.churned:
            return t
        chance = persona.buy_online * (0.5 + c.satisfaction)
        if not c.known:
            chance *= 0.2  # most prospects look and leave; few become first-time customers
        if offer_id is not None:
            chance *= 2.5
        if answered is not None:
            chance *= 1.6 if answered else 0.3  # nobody answered: the sale goes to a competitor (story 1)
        if rng.random() >= chance:
            if not c.known and rng.random() < 0.01:  # newsletter sign-up without buying
                self._identify(t + self._lognormal(40.0, 0.5), c, ref, pages_channel, "customer", ("email",))
            return t
        buy_channel = pages_channel if pages_channel in _MILLIS_CHANNELS else "web"
        t += self._lognormal(60.0, 0.8)
        if ref[0] != "customer_id":
            # Checkout requires an account: the log-in links this device to the customer.
            t = self._identify(t, c, ref, buy_channel, "customer", ("email",))
            ref = ("customer_id", c.cid)
            t += self._lognormal(45.0, 0.6)
        return self._purchase(c, t, ref, buy_channel, None, item, offer_id)

    def _chat(self, c: _Customer, t: int, topic: str, sku: str | None = None) -> tuple[int, bool]:
        """A chat inquiry and whatever reply it gets; returns (when the customer moves on, answered now)."""
        rng = self.rng
        ref = self._ref(c, "chat")
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = _TOPIC_TEAM[topic]
        attributes: dict[str, Any] = {"topic": topic}
        if sku is not None:
            attributes["sku"] = sku
        t = self._push(t, ref, "chat", "inquiry", "customer", team, conversation, attributes)
        if self._staffed(t):
            if rng.random() < 0.3:  # the bot greets first, a person follows
                self._push(t + rng.randint(1500, 4000), ref, "chat", "reply", "bot", team, conversation,
                           {"topic": topic})  # fmt: skip
            # Usually within minutes; sometimes the queue is long enough to breach a first-response SLA.
            delay = self._lognormal(50.0, 0.8) if rng.random() < 0.92 else self._lognormal(1200.0, 0.5)
            t = self._push(t + delay, ref, "chat", "reply", "agent", team, conversation,
                           {"topic": topic, "agent_id": self._agent()})  # fmt: skip
            if rng.random() < 0.3:
                t = self._push(t + self._lognormal(40.0, 0.6), ref, "chat", "inquiry", "customer", team,
                               conversation, {"topic": topic})  # fmt: skip
                t = self._push(t + self._lognormal(45.0, 0.7), ref, "chat", "reply", "agent", team,
                               conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
            self._experience(c, 0.8 if delay < 5 * _MINUTE else 0.45)
            return t, True
        # After hours (story 1): an automatic answer at best, a person the next working morning, or nobody.
        draw = rng.random()
        if draw < 0.3:
            self._push(t + rng.randint(1500, 4000), ref, "chat", "reply", "bot", team, conversation,
                       {"topic": topic, "message": "auto_reply_closed"})  # fmt: skip
        if draw < 0.65 and rng.random() < 0.75:
            morning = self._next_staffed(t) + self._lognormal(50 * 60.0, 0.8)
            self._push(morning, ref, "chat", "reply", "agent", team, conversation,
                       {"topic": topic, "agent_id": self._agent()})  # fmt: skip
        self._experience(c, 0.3)
        return t, False

    def _agent(self) -> str:
        return f"agent-{self.rng.randint(1, 60):03d}"

    def _queue_wait(self, complaint: bool) -> float:
        """Seconds until an agent picks up: mostly under 20 s, with a tail of long waits."""
        rng = self.rng
        if rng.random() < (0.3 if complaint else 0.12):
            return round(min(3600.0, 90.0 * math.exp(1.0 * rng.gauss(0.0, 1.0))), 1)
        return round(7.0 * math.exp(0.6 * rng.gauss(0.0, 1.0)), 1)

    def _call(
        self, c: _Customer, t: int, topic: str, issue_id: str | None = None, resolve: bool = False
    ) -> tuple[int, float]:
        """A phone contact: queue, maybe transfers, the matter itself, maybe an offer; returns (end, quality)."""
        rng = self.rng
        complaint = issue_id is not None
        ref = self._ref(c, "phone")
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = "team-support"
        started = t = self._push(t, ref, "phone", "call_started", "customer", team, conversation)
        wait = self._queue_wait(complaint)
        quality = 0.85
        if wait > 180.0 and rng.random() < 0.5:  # gave up waiting
            t = self._push(t + int(wait * _SECOND), ref, "phone", "queue_wait", "system", team, conversation,
                           {"wait_seconds": wait, "abandoned": True})  # fmt: skip
            self._push(t + 1000, ref, "phone", "call_ended", "customer", team, conversation,
                       {"duration_seconds": (t + 1000 - started) // _SECOND, "outcome": "abandoned"})  # fmt: skip
            return t + 1000, 0.1
        t = self._push(t + int(wait * _SECOND), ref, "phone", "queue_wait", "system", team, conversation,
                       {"wait_seconds": wait})  # fmt: skip
        if wait > 60.0:
            quality -= 0.25
        if ref[0] != "customer_id" and c.known and rng.random() < 0.7:
            t = self._identify(
                t + self._lognormal(25.0, 0.4), c, ref, "phone", "agent", (), team, conversation
            )
            ref = ("customer_id", c.cid)
        t += self._lognormal(30.0, 0.5)
        if complaint:
            t = self._push(t, ref, "phone", "complaint", "customer", team, conversation,
                           {"issue_id": issue_id, "topic": topic})  # fmt: skip
        else:
            t = self._push(t, ref, "phone", "inquiry", "customer", team, conversation, {"topic": topic})
        draw = rng.random()
        transfers = (
            (0 if draw < 0.5 else 1 if draw < 0.78 else 2 if draw < 0.93 else 3)
            if complaint
            else (0 if draw < 0.78 else 1 if draw < 0.93 else 2 if draw < 0.98 else 3)
        )
        for _ in range(transfers):
            target = rng.choice([name for name in _TRANSFER_TARGETS if name != team])
            kind = "cold" if rng.random() < (0.55 if complaint else 0.35) else "warm"
            t = self._push(t + self._lognormal(90.0, 0.7), ref, "phone", "transfer", "agent", team, conversation,
                           {"transfer_kind": kind, "from_team": team, "to_team": target,
                            "agent_id": self._agent()})  # fmt: skip
            team = target
            quality -= 0.1
            if kind == "cold":
                # Nobody explained the case: back into a queue, and the customer starts over.
                extra = self._queue_wait(complaint)
                t = self._push(t + int(extra * _SECOND), ref, "phone", "queue_wait", "system", team,
                               conversation, {"wait_seconds": extra})  # fmt: skip
                quality -= 0.15
            else:
                t += self._lognormal(45.0, 0.4)
        t += self._lognormal(150.0, 0.6)
        if not complaint:
            t = self._push(t, ref, "phone", "reply", "agent", team, conversation,
                           {"topic": topic, "agent_id": self._agent()})  # fmt: skip
        # Upselling during a service contact (story 4) happens, though it should not.
        if rng.random() < (0.25 if topic in ("price", "discount") else 0.08):
            t = self._push(t + self._lognormal(40.0, 0.5), ref, "phone", "offer", "agent", team, conversation,
                           {"offer_id": rng.choice(("offer-extended-warranty", "offer-upgrade", "offer-bundle"))})  # fmt: skip
        if resolve and issue_id is not None:
            t = self._push(t + self._lognormal(60.0, 0.5), ref, "phone", "resolution", "agent", team,
                           conversation, {"issue_id": issue_id, "agent_id": self._agent()})  # fmt: skip
        t += self._lognormal(30.0, 0.5)
        t = self._push(t, ref, "phone", "call_ended", rng.choice(("agent", "customer")), team, conversation,
                       {"duration_seconds": (t - started) // _SECOND})  # fmt: skip
        if rng.random() < 0.25:
            self._push(t + self._lognormal(1800.0, 1.0), ref, "email", "feedback", "customer", None,
                       conversation, self._score(c, max(0.0, quality)))  # fmt: skip
        return t, max(0.0, quality)

    def _inquiry(self, c: _Customer, t: int) -> int:
        """A question on a service channel, answered or not depending on the hour."""
        rng = self.rng
        topic = c.persona.topics.pick(rng)
        draw = rng.random()
        if draw < 0.3:
            if self._staffed(t):
                end, quality = self._call(c, t, topic)
                self._experience(c, quality)
                return end
            if rng.random() < 0.3:  # rang after hours: the line is closed
                ref = self._ref(c, "phone")
                conversation = f"conv-{self.seed}-{next(self.conversations)}"
                t = self._push(t, ref, "phone", "call_started", "customer", "team-support", conversation)
                return self._push(t + rng.randint(20, 45) * _SECOND, ref, "phone", "call_ended", "customer",
                                  "team-support", conversation,
                                  {"duration_seconds": 30, "outcome": "closed"})  # fmt: skip
            draw = 0.5  # tries the chat instead
        if draw < 0.75:
            end, answered = self._chat(c, t, topic)
            if answered and topic in ("price", "discount", "stock") and rng.random() < 0.35:
                return self._browse(c, end + self._lognormal(120.0, 0.8))
            return end
        channel = "email" if draw < 0.9 else "social"
        ref = self._ref(c, channel)
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = "team-social" if channel == "social" else _TOPIC_TEAM[topic]
        t = self._push(t, ref, channel, "inquiry", "customer", team, conversation, {"topic": topic})
        self._written_reply(t, ref, channel, team, conversation, {"topic": topic})
        return t

    def _written_reply(
        self, t: int, ref: _Ref, channel: str, team: str, conversation: str, attributes: dict[str, Any]
    ) -> int | None:
        """Reply to an email or social message within team hours, by a bot, or never; returns its time."""
        rng = self.rng
        draw = rng.random()
        if channel == "social" and draw < 0.3:
            return self._push(t + rng.randint(5, 60) * _SECOND, ref, channel, "reply", "bot", team,
                              conversation, attributes)  # fmt: skip
        if draw > 0.9:
            return None  # lost in the shared inbox
        typical = 3 * 3600.0 if channel == "email" else 25 * 60.0
        reply = t + self._lognormal(typical, 0.8)
        if not self._staffed(reply):
            reply = self._next_staffed(reply) + self._lognormal(45 * 60.0, 0.8)
        return self._push(reply, ref, channel, "reply", "agent", team, conversation,
                          attributes | {"agent_id": self._agent()})  # fmt: skip

    def _store_visit(self, c: _Customer, t: int, purpose: str = "shopping") -> int:
        """A visit to a store (called only while it is open): maybe a question, an upsell, a purchase."""
        rng = self.rng
        location = c.store if rng.random() < 0.8 else rng.choice(self.stores)
        last = self.clock.day_end(t, _STORE_CLOSE) - 2 * _SECOND  # nothing in a store happens after closing
        ref = self._ref(c, "store")
        t = self._push(t, ref, "store", "visit", "customer", location, None, {"purpose": purpose})
        if purpose != "shopping":
            return t
        if rng.random() < 0.25:
            conversation = f"conv-{self.seed}-{next(self.conversations)}"
            topic = rng.choice(("stock", "price", "warranty", "repair"))
            t = self._push(min(last, t + self._lognormal(300.0, 0.8)), ref, "store", "inquiry", "customer",
                           location, conversation, {"topic": topic})  # fmt: skip
            t = self._push(min(last, t + self._lognormal(60.0, 0.6)), ref, "store", "reply", "agent", location,
                           conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
        if rng.random() >= c.persona.buy_in_store * (0.5 + c.satisfaction) * (1.0 if c.known else 0.3):
            return t
        if rng.random() < 0.1:
            t = self._push(min(last, t + self._lognormal(120.0, 0.6)), ref, "store", "offer", "agent", location,
                           None, {"offer_id": rng.choice(("offer-extended-warranty", "offer-bundle"))})  # fmt: skip
        t = min(last, t + self._lognormal(12 * 60.0, 0.7))
        if ref[0] != "customer_id":
            # No loyalty card yet: staff sign the customer up at the till.
            t = self._identify(t, c, ref, "store", "agent", ("loyalty_id", "email"), location)
            ref = ("customer_id", c.cid)
            t = min(last, t + rng.randint(30, 90) * _SECOND)
        return self._purchase(c, t, ref, "store", location)

    def _campaign(self, c: _Customer, t: int) -> int:
        """A marketing offer pushed by the system; sometimes the customer comes and buys with it."""
        rng = self.rng
        channel = "app" if c.persona.digital.items[0] == "app" and rng.random() < 0.6 else "email"
        local_day = date(1970, 1, 1) + timedelta(days=self.clock.local(t) // _DAY)
        year, week, _ = local_day.isocalendar()
        if c.churned:
            offer_id = f"offer-{year}-w{week:02d}-winback"
        else:
            offer_id = f"offer-{year}-w{week:02d}-{_CAMPAIGN_THEMES[week % len(_CAMPAIGN_THEMES)]}"
        t = self._push(t, ("customer_id", c.cid) if c.known else self._anonymous_ref(c, "email"), channel,
                       "offer", "system", None, None, {"offer_id": offer_id})  # fmt: skip
        response = c.persona.offer_response * (0.3 if c.churned else 1.0)
        if rng.random() < response:
            if c.churned:  # won back
                c.churned = False
                c.churn_at = 0
                c.satisfaction = max(c.satisfaction, 0.5)
            return self._browse(c, t + self._lognormal(20 * 60.0, 1.0), offer_id=offer_id)
        return t

    def _complaint(self, c: _Customer, t: int) -> int:
        """One contact about the open issue; resolves it, schedules the next contact, or loses the customer."""
        rng = self.rng
        c.issue_contacts += 1
        contacts = c.issue_contacts
        issue_id = c.issue_id
        topic = c.issue_topic
        resolve = c.issue_resolve_at > 0 and contacts >= c.issue_resolve_at
        # The more often they had to come back, the more they escalate in public.
        social = 0.08 if contacts < 3 else 0.3
        draw = rng.random()
        if draw < 0.45:
            t, quality = self._call(
                c, self._when_open(t, _TEAM_DAYS, _TEAM_OPEN, _TEAM_CLOSE), topic, issue_id, resolve
            )
            end = t
        elif draw < 0.45 + social:
            end, quality = self._written_complaint(c, t, "social", issue_id, topic, resolve)
        elif draw < 0.72 + social:
            end, quality = self._written_complaint(
                c, t, rng.choice(("chat", "email")), issue_id, topic, resolve
            )
        else:
            t = self._when_open(t, _STORE_DAYS, _STORE_OPEN, _STORE_LAST_ENTRY)
            location = c.store
            last = self.clock.day_end(t, _STORE_CLOSE) - 2 * _SECOND
            ref: _Ref = ("customer_id", c.cid)
            conversation = f"conv-{self.seed}-{next(self.conversations)}"
            t = self._push(t, ref, "store", "visit", "customer", location, None, {"purpose": "service"})
            t = self._push(min(last, t + self._lognormal(180.0, 0.7)), ref, "store", "complaint", "customer",
                           location, conversation, {"issue_id": issue_id, "topic": topic})  # fmt: skip
            t = self._push(min(last, t + self._lognormal(120.0, 0.6)), ref, "store", "reply", "agent", location,
                           conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
            if resolve:
                t = self._push(min(last, t + self._lognormal(300.0, 0.6)), ref, "store", "resolution", "agent",
                               location, conversation, {"issue_id": issue_id})  # fmt: skip
            end, quality = t, 0.6
        if resolve:
            c.issue_id = ""
            c.issue_at = 0
            if topic == "delivery" or rng.random() < 0.3:
                c.refund_at = end + int(rng.uniform(0.5, 3.0) * _DAY)
                c.refund_order = f"ord-{self.seed}-goodwill-{issue_id}"
                c.refund_amount = round(c.issue_amount * rng.uniform(0.1, 1.0), 2)
                c.refund_channel = "email"
            # Fixed at last, but each extra contact costs goodwill.
            quality = max(0.1, 0.95 - 0.15 * (contacts - 1))
            if rng.random() < 0.5:
                self._push(end + self._lognormal(4 * 3600.0, 0.8), ("customer_id", c.cid), "email", "feedback",
                           "customer", None, None, self._score(c, quality) | {"issue_id": issue_id})  # fmt: skip
            self._experience(c, quality)
            return end
        self._experience(c, min(quality, 0.35) - 0.05 * contacts)
        if c.issue_give_up and contacts >= c.issue_give_up:
            # Gives up for good (story 2): a detractor's verdict, then silence.
            c.issue_id = ""
            c.issue_at = 0
            c.churned = True
            c.satisfaction = min(c.satisfaction, 0.1)
            if rng.random() < 0.6:
                self._push(end + self._lognormal(2 * 3600.0, 0.8), ("customer_id", c.cid), "email", "feedback",
                           "customer", None, None,
                           {"nps": rng.randint(0, 2), "csat": 1, "issue_id": issue_id})  # fmt: skip
            return end
        c.issue_at = self._awake(end + int(rng.uniform(1.0, 4.0) * _DAY))
        return end

    def _written_complaint(
        self, c: _Customer, t: int, channel: str, issue_id: str, topic: str, resolve: bool
    ) -> tuple[int, float]:
        ref = self._ref(c, channel)
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = "team-social" if channel == "social" else "team-support"
        t = self._push(t, ref, channel, "complaint", "customer", team, conversation,
                       {"issue_id": issue_id, "topic": topic})  # fmt: skip
        if channel == "chat" and self._staffed(t):
            reply: int | None = self._push(t + self._lognormal(90.0, 0.8), ref, channel, "reply", "agent", team,
                                           conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
        else:
            reply = self._written_reply(t, ref, channel, team, conversation, {"topic": topic})
        if reply is None:
            return t, 0.1
        if resolve:
            self._push(reply + self._lognormal(600.0, 0.8), ref, channel, "resolution", "agent", team,
                       conversation, {"issue_id": issue_id})  # fmt: skip
        return t, 0.5

    def _refund(self, c: _Customer, t: int) -> int:
        """Money back for an earlier order: at the till in a store, otherwise by the payment system."""
        rng = self.rng
        attributes = {"amount": c.refund_amount, "currency": "EUR", "order_id": c.refund_order}
        channel = c.refund_channel
        c.refund_at = 0
        if channel == "store":
            t = self._when_open(t, _STORE_DAYS, _STORE_OPEN, _STORE_LAST_ENTRY)
            last = self.clock.day_end(t, _STORE_CLOSE) - 2 * _SECOND
            ref: _Ref = ("customer_id", c.cid)
            t = self._push(t, ref, "store", "visit", "customer", c.store, None, {"purpose": "return"})
            t = min(last, t + self._lognormal(240.0, 0.6))
            return self._push(t, ref, "store", "refund", "agent", c.store, None, attributes)
        if rng.random() < 0.5:
            # Asks for the return first; the money follows a few days later.
            ref = self._ref(c, "email")
            conversation = f"conv-{self.seed}-{next(self.conversations)}"
            t = self._push(t, ref, "email", "inquiry", "customer", "team-support", conversation,
                           {"topic": "return", "order_id": c.refund_order})  # fmt: skip
            self._written_reply(t, ref, "email", "team-support", conversation, {"topic": "return"})
            self._push(t + int(rng.uniform(1.0, 3.0) * _DAY), ("customer_id", c.cid), channel, "refund", "system",
                       None, conversation, attributes)  # fmt: skip
            return t
        return self._push(t, ("customer_id", c.cid), channel, "refund", "system", None, None, attributes)

    # --- noise -----------------------------------------------------------------------------------------------

    def _malformed(self, event: dict[str, Any], record: bytes) -> bytes:
        """A broken record modelled on the next valid one, the way buggy producers and proxies break them."""
        rng = self.bad_rng
        kind = rng.randrange(9)
        if kind == 0:  # cut off mid-write: never valid JSON since an object needs its closing brace
            return record[: rng.randrange(1, len(record) - 1)]
        if kind == 1:
            return rng.choice(
                (
                    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                    f"customer={event.get('customer_id', 'unknown')};type={event['type']}".encode(),
                    b"ERROR: connection reset by peer",
                    b"{'type': 'visit', 'channel': 'web'}",
                )
            )
        if kind == 2:
            return rng.choice((b"", b" ", b"\n", b"\r\n\t  "))
        broken = dict(event)
        broken["event_id"] = f"ev-{self.seed}-m{next(self.malformed_ids)}"
        if kind == 3:  # a legacy producer writing Latin-1
            broken["attributes"] = dict(event.get("attributes") or {}) | {"note": "Grüße aus Köln"}
            return orjson.dumps(broken).replace("Grüße aus Köln".encode(), "Grüße aus Köln".encode("latin-1"))
        if kind == 4:  # a batch sent as one record
            return orjson.dumps([broken])
        if kind == 5:
            broken["channel"] = rng.choice(("fax", "whatsapp", "kiosk", "sms", "Web"))
        elif kind == 6:
            broken["occurred_at"] = event["occurred_at"][:19]  # the offset dropped
        elif kind == 7:
            broken.pop("customer_id", None)
            broken.pop("identifiers", None)
        else:
            broken["type"] = "purchase"
            amount = rng.uniform(5.0, 300.0)
            broken["attributes"] = {"amount": f"{amount:.2f}", "currency": "EUR"}
        return orjson.dumps(broken)
