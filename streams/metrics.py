"""Prometheus metrics of a worker, served at /metrics on its web port.

Names follow the Prometheus guide: ``touchpoint_`` prefix, ``_total`` counters,
base units; labels are bounded enumerations from the contracts, never ids.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

from agents.ingest.decode import REASONS
from schemas import load_schema

_touchpoint = load_schema("touchpoint")["properties"]
CHANNELS: Final[tuple[str, ...]] = tuple(_touchpoint["channel"]["enum"])
TYPES: Final[tuple[str, ...]] = tuple(_touchpoint["type"]["enum"])

EVENTS_ACCEPTED: Final = Counter(
    "touchpoint_events",
    "Touchpoints accepted by ingest and forwarded to touchpoints.by-customer.",
    ["channel", "type"],
)
DEAD_LETTERS: Final = Counter(
    "touchpoint_dead_letters",
    "Records refused by ingest and written to touchpoints.dead-letter, by reason.",
    ["reason"],
)

# Create every series at zero so rate() and absent() work before the first event of a kind.
for _channel in CHANNELS:
    for _type in TYPES:
        EVENTS_ACCEPTED.labels(_channel, _type)
for _reason in REASONS:
    DEAD_LETTERS.labels(_reason)

STAGES: Final[tuple[str, ...]] = (
    "prospect",
    "first_time",
    "repeat",
    "loyal",
    "advocate",
    "at_risk",
    "lapsed",
)

LIFECYCLE_TRANSITIONS: Final = Counter(
    "touchpoint_lifecycle_transitions",
    "Lifecycle stage changes published to lifecycle.transitions (from_stage 'none' for a new customer).",
    ["from_stage", "to_stage"],
)
CUSTOMERS: Final = Gauge(
    "touchpoint_customers",
    "Customers per lifecycle stage in the partitions this worker owns (sum over workers for the total).",
    ["stage"],
)
DUPLICATES: Final = Counter(
    "touchpoint_duplicate_events",
    "Touchpoints dropped because their event_id was already applied for that customer.",
)
UNPRICED_AMOUNTS: Final = Counter(
    "touchpoint_unpriced_amounts",
    "Purchases and refunds in a currency without a configured rate (counted, no value added).",
)
DEADLINES_FIRED: Final = Counter(
    "touchpoint_deadlines_fired",
    "Per-customer deadlines that came due, by what fired them.",
    ["trigger"],
)
JOURNEY_TOUCHPOINTS: Final = Counter(
    "touchpoint_journey_events",
    "Touchpoints applied to customer state by the journey agent.",
)

for _stage in STAGES:
    CUSTOMERS.labels(_stage)
for _trigger in ("watermark", "wall_clock"):
    DEADLINES_FIRED.labels(_trigger)
