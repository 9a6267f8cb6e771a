"""Prometheus metrics of a worker, served at /metrics on its web port.

Names follow the Prometheus guide: ``touchpoint_`` prefix, ``_total`` counters,
base units; labels are bounded enumerations from the contracts, never ids.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

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
