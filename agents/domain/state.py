"""One customer's journey state, as kept in the ``customer_to_state`` table.

Plain data, mutated in place by the tracker. Instants are integer epoch
seconds (UTC); purchase days are the customer's local calendar day numbers.
Every collection is bounded, so a customer's changelog record stays small
(target: under 1 KB after 50 touchpoints); ``encode`` writes MessagePack with short
keys and leaves empty fields out for the same reason (a third smaller than JSON:
instants take 5 bytes instead of 10 digits, digests stay binary).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from agents.domain.dedupe_window import ENTRY

__all__ = ["CustomerState", "StateSummary", "history", "summarize"]

# Short names in the encoded form; the long names are the attributes.
_KEYS: dict[str, str] = {
    "partition": "p",
    "events": "n",
    "first_seen": "f",
    "last_seen": "l",
    "channels": "ch",
    "purchase_count": "pc",
    "purchase_value": "pv",
    "purchase_days": "pd",
    "purchase_days_folded": "pdf",
    "first_purchase": "fp",
    "first_purchase_day": "fd",
    "last_purchase": "lp",
    "unpriced_purchases": "up",
    "refund_count": "rc",
    "refund_value": "rv",
    "complaints_open": "co",
    "complaints_total": "ct",
    "complaints_resolved": "cr",
    "recently_resolved": "rr",
    "csat": "cs",
    "nps": "np",
    "satisfaction_sum": "ss",
    "satisfaction_weight": "sw",
    "satisfaction_at": "sa",
    "inquiries_open": "io",
    "recently_answered": "ra",
    "referrals": "rf",
    "recent_events": "dd",
    "stage": "st",
    "stage_since": "sts",
    "value_tier": "vt",
    "clv": "cv",
    "clv_history": "cvh",
    "wake_at": "w",
    "last_view_day": "lv",
    "sla_cases": "sc",
    "alerts_open": "ao",
    "alert_last": "al",
    "snoozed": "sn",
    "detector_memory": "dm",
    "merges": "mg",
    "identity": "id",
    "claimed": "ic",
}
_NAMES = {short: name for name, short in _KEYS.items()}
#: Every attribute but the partition (the first), and their short names, in the encoded order.
_OTHER_VALUES = operator.attrgetter(*list(_KEYS)[1:])
_SHORT_KEYS: tuple[str, ...] = tuple(_KEYS.values())[1:]
#: MessagePack, byte for byte as the msgpack package writes it (as earlier versions wrote it). Faster in
#: a loop (bench/PROFILE.md); in the worker a state's encoding mostly waits on memory either way.
_PACK = msgspec.msgpack.Encoder().encode
_UNPACK = msgspec.msgpack.Decoder().decode


@dataclass(slots=True)
class CustomerState:
    """Everything the product knows about one customer, across channels and time."""

    #: Partition of the customer's key, so timers can be rebuilt per partition after a restart.
    partition: int = -1
    #: Distinct touchpoints applied (duplicates excluded).
    events: int = 0
    first_seen: int = 0
    last_seen: int = 0
    #: channel → [touchpoints, last touch].
    channels: dict[str, list[int]] = field(default_factory=dict)
    purchase_count: int = 0
    #: Sum of purchase amounts in the base currency.
    purchase_value: float = 0.0
    #: Sorted distinct local purchase days (days since 1970-01-01), the newest ones.
    purchase_days: list[int] = field(default_factory=list)
    #: Older distinct purchase days dropped from purchase_days to bound its size.
    purchase_days_folded: int = 0
    first_purchase: int = 0
    #: Local day of the first purchase (days since 1970-01-01): the origin of the churn model's clock.
    first_purchase_day: int = 0
    last_purchase: int = 0
    #: Purchases in a currency without a configured rate (counted, but no value).
    unpriced_purchases: int = 0
    refund_count: int = 0
    refund_value: float = 0.0
    #: issue id → latest complaint instant, for issues not resolved since.
    complaints_open: dict[str, int] = field(default_factory=dict)
    complaints_total: int = 0
    complaints_resolved: int = 0
    #: issue id → resolution instant, a few recent ones: a late complaint must not reopen them.
    recently_resolved: dict[str, int] = field(default_factory=dict)
    #: Latest CSAT (1-5) and NPS (0-10) by event time, as [score, instant].
    csat: list[int] | None = None
    nps: list[int] | None = None
    #: Time-decayed weighted mean of feedback in 0..1: sum and weight at satisfaction_at.
    satisfaction_sum: float = 0.0
    satisfaction_weight: float = 0.0
    satisfaction_at: int = 0
    #: conversation id → latest unanswered inquiry instant.
    inquiries_open: dict[str, int] = field(default_factory=dict)
    #: conversation id → latest reply instant, a few recent ones: a late inquiry must not reopen them.
    recently_answered: dict[str, int] = field(default_factory=dict)
    referrals: int = 0
    #: Recent events, oldest first, packed (agents/domain/dedupe_window.py): the 64-bit keyed digest of
    #: each event's id and the 32-bit digest of its content. A redelivery within the window is dropped;
    #: the same id with other content is refused.
    recent_events: bytes = b""
    stage: str = ""
    stage_since: int = 0
    value_tier: str = ""
    #: Customer lifetime value estimated at the latest purchase (base currency, to the cent).
    clv: float = 0.0
    #: [purchase instant, CLV after it] of the latest few purchase instants, oldest first: the customer's
    #: value at any recent boundary, for the best-customer population (agents/models/population.py).
    clv_history: list[list[Any]] = field(default_factory=list)
    #: Next instant at which the passage of time alone may change something (a stage, an SLA deadline).
    wake_at: int | None = None
    #: Local day of the latest product view (purchase intent for SLA alerts).
    last_view_day: int = 0
    #: conversation id → first-response case (agents.alerts.sla.Case as a list).
    sla_cases: dict[str, list[Any]] = field(default_factory=dict)
    #: alert id → the open or acknowledged alert (agents.domain.alert.Alert.compact()).
    alerts_open: dict[str, list[Any]] = field(default_factory=dict)
    #: alert type → when the latest one was raised (event time), for the cooldown.
    alert_last: dict[str, int] = field(default_factory=dict)
    #: alert type → snoozed until (epoch seconds).
    snoozed: dict[str, int] = field(default_factory=dict)
    #: detector type → that detector's own small memory (see agents/detectors/base.py).
    detector_memory: dict[str, Any] = field(default_factory=dict)
    #: The latest anonymous profiles merged into this customer, oldest first (agents.identity.merging.Ledger
    #: entries as lists): what a split needs to take back exactly what each merge brought.
    merges: list[list[Any]] = field(default_factory=list)
    #: Under an identifier's key (``id:<kind>:<hash>``): the identity graph's record of that identifier
    #: (agents.domain.identity.IdentityRecord as a list), beside its anonymous profile while there is one.
    identity: list[Any] | None = None
    #: The identifier keys (``id:<kind>:<hash>``) this customer's touchpoints carried, newest last and
    #: bounded: where an erasure goes to unlink them (agents/journey/erasure.py).
    claimed: list[str] = field(default_factory=list)

    # Written out, not left to the dataclass: the compiled core runs this one natively, where the
    # generated one runs interpreted (2.5 µs, the largest of them: identity records and new customers
    # make one each, a replay one per state it takes back). The fields above stay the contract
    # (tests/agents/domain/test_constructors.py), in their order: replay makes states positionally.
    def __init__(
        self,
        partition: int = -1,
        events: int = 0,
        first_seen: int = 0,
        last_seen: int = 0,
        channels: dict[str, list[int]] | None = None,
        purchase_count: int = 0,
        purchase_value: float = 0.0,
        purchase_days: list[int] | None = None,
        purchase_days_folded: int = 0,
        first_purchase: int = 0,
        first_purchase_day: int = 0,
        last_purchase: int = 0,
        unpriced_purchases: int = 0,
        refund_count: int = 0,
        refund_value: float = 0.0,
        complaints_open: dict[str, int] | None = None,
        complaints_total: int = 0,
        complaints_resolved: int = 0,
        recently_resolved: dict[str, int] | None = None,
        csat: list[int] | None = None,
        nps: list[int] | None = None,
        satisfaction_sum: float = 0.0,
        satisfaction_weight: float = 0.0,
        satisfaction_at: int = 0,
        inquiries_open: dict[str, int] | None = None,
        recently_answered: dict[str, int] | None = None,
        referrals: int = 0,
        recent_events: bytes = b"",
        stage: str = "",
        stage_since: int = 0,
        value_tier: str = "",
        clv: float = 0.0,
        clv_history: list[list[Any]] | None = None,
        wake_at: int | None = None,
        last_view_day: int = 0,
        sla_cases: dict[str, list[Any]] | None = None,
        alerts_open: dict[str, list[Any]] | None = None,
        alert_last: dict[str, int] | None = None,
        snoozed: dict[str, int] | None = None,
        detector_memory: dict[str, Any] | None = None,
        merges: list[list[Any]] | None = None,
        identity: list[Any] | None = None,
        claimed: list[str] | None = None,
    ) -> None:
        self.partition = partition
        self.events = events
        self.first_seen = first_seen
        self.last_seen = last_seen
        self.channels = {} if channels is None else channels
        self.purchase_count = purchase_count
        self.purchase_value = purchase_value
        self.purchase_days = [] if purchase_days is None else purchase_days
        self.purchase_days_folded = purchase_days_folded
        self.first_purchase = first_purchase
        self.first_purchase_day = first_purchase_day
        self.last_purchase = last_purchase
        self.unpriced_purchases = unpriced_purchases
        self.refund_count = refund_count
        self.refund_value = refund_value
        self.complaints_open = {} if complaints_open is None else complaints_open
        self.complaints_total = complaints_total
        self.complaints_resolved = complaints_resolved
        self.recently_resolved = {} if recently_resolved is None else recently_resolved
        self.csat = csat
        self.nps = nps
        self.satisfaction_sum = satisfaction_sum
        self.satisfaction_weight = satisfaction_weight
        self.satisfaction_at = satisfaction_at
        self.inquiries_open = {} if inquiries_open is None else inquiries_open
        self.recently_answered = {} if recently_answered is None else recently_answered
        self.referrals = referrals
        self.recent_events = recent_events
        self.stage = stage
        self.stage_since = stage_since
        self.value_tier = value_tier
        self.clv = clv
        self.clv_history = [] if clv_history is None else clv_history
        self.wake_at = wake_at
        self.last_view_day = last_view_day
        self.sla_cases = {} if sla_cases is None else sla_cases
        self.alerts_open = {} if alerts_open is None else alerts_open
        self.alert_last = {} if alert_last is None else alert_last
        self.snoozed = {} if snoozed is None else snoozed
        self.detector_memory = {} if detector_memory is None else detector_memory
        self.merges = [] if merges is None else merges
        self.identity = identity
        self.claimed = [] if claimed is None else claimed

    @property
    def is_profile(self) -> bool:
        """Whether this state is a customer's or an anonymous profile's (not only an identifier's record)."""
        return self.events > 0

    @property
    def net_value(self) -> float:
        return self.purchase_value - self.refund_value

    @property
    def distinct_purchase_days(self) -> int:
        return self.purchase_days_folded + len(self.purchase_days)

    @property
    def satisfaction(self) -> float | None:
        """Rolling satisfaction in 0..1, or None without any feedback."""
        return self.satisfaction_sum / self.satisfaction_weight if self.satisfaction_weight > 0 else None

    def encode(self) -> bytes:
        """Compact MessagePack for the changelog: short keys, empty and zero fields left out."""
        # The partition always; the others only when set. All read in one call: the state is
        # encoded once per customer in every batch the worker applies.
        document: dict[str, Any] = {"p": self.partition}
        values = _OTHER_VALUES(self)
        # An indexed loop compiles to native code; a generator over zip() stays generic (3 µs more).
        for index in range(len(_SHORT_KEYS)):
            value = values[index]
            if value:
                document[_SHORT_KEYS[index]] = value
        packed: bytes = _PACK(document)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> CustomerState:
        document = _load(data)
        fields = {_NAMES[short]: value for short, value in document.items()}
        window = fields.get("recent_events", b"")
        if not isinstance(window, bytes) or len(window) % ENTRY:
            raise ValueError(f"a state's dedupe window is not whole entries of {ENTRY} bytes")
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        """Readable form for the lookup API: long names, derived figures included."""
        document = {
            name: getattr(self, name)
            for name in _KEYS
            if name not in {"recent_events", "partition", "merges", "identity", "claimed"}
        }
        document["net_value"] = round(self.net_value, 2)
        document["merged_from"] = [entry[0] for entry in self.merges]
        document["satisfaction"] = self.satisfaction
        document["distinct_purchase_days"] = self.distinct_purchase_days
        return document


@dataclass(frozen=True, slots=True)
class StateSummary:
    """What a worker keeps track of for every customer it owns, without the rest of the state."""

    partition: int
    stage: str
    wake_at: int | None
    inquiries_open: int
    sla_cases: int
    #: The customer's value at recent purchases (CustomerState.clv_history); empty for a non-buyer.
    clv_history: tuple[tuple[int, float], ...] = ()
    first_purchase: int = 0


def summarize(state: CustomerState | bytes) -> StateSummary:
    """The summary of a state, or of its encoded form without building the state (a third of the cost)."""
    if isinstance(state, CustomerState):
        return StateSummary(
            state.partition,
            state.stage,
            state.wake_at,
            len(state.inquiries_open),
            len(state.sla_cases),
            history(state.clv_history),
            state.first_purchase,
        )
    document = _load(state)
    return StateSummary(
        document.get(_KEYS["partition"], -1),
        document.get(_KEYS["stage"], ""),
        document.get(_KEYS["wake_at"]),
        len(document.get(_KEYS["inquiries_open"], ())),
        len(document.get(_KEYS["sla_cases"], ())),
        history(document.get(_KEYS["clv_history"], ())),
        document.get(_KEYS["first_purchase"], 0),
    )


def history(entries: Any) -> tuple[tuple[int, float], ...]:
    """A customer's CLV history as an immutable value (for indexes kept beside the table)."""
    return tuple((int(instant), float(clv)) for instant, clv in entries)


def _load(data: bytes) -> dict[str, Any]:
    """The short-keyed document of an encoded state, MessagePack or the JSON of earlier versions."""
    if data[:1] != b"{":
        loaded: dict[str, Any] = _UNPACK(data)
        return loaded
    document: dict[str, Any] = orjson.loads(data)
    # JSON states kept CRC-32s of event ids ("ids"), which cannot be compared with today's digests:
    # such a customer's dedupe window starts empty once.
    document.pop("ids", None)
    return document
