"""Every topic the product reads or writes, by name, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: Raw touchpoints from any producer: UTF-8 JSON per schemas/touchpoint.v1.json, any key.
RAW: Final = "touchpoints"
#: Valid, normalised touchpoints keyed by customer id (co-partitioned with customer state).
BY_CUSTOMER: Final = "touchpoints.by-customer"
#: Refused records: schemas/dead_letter.v1.json, keyed by the source topic:partition:offset.
DEAD_LETTER: Final = "touchpoints.dead-letter"
#: Each accepted touchpoint plus a customer snapshot, identifiers masked: schemas/enriched.v1.json.
ENRICHED: Final = "touchpoints.enriched"
#: Lifecycle stage changes: schemas/lifecycle_transition.v1.json, keyed by customer id.
TRANSITIONS: Final = "lifecycle.transitions"

#: Topics the worker owns, in data-flow order (the README's topic table follows it).
ALL: Final = (RAW, BY_CUSTOMER, DEAD_LETTER, ENRICHED, TRANSITIONS)

#: Keys starting with this byte on touchpoints.by-customer are the worker's own timer ticks, not customers.
CONTROL_KEY_PREFIX: Final = b"\x00"


@dataclass(frozen=True)
class Topics:
    """The Faust topic objects of one app."""

    raw: Any
    by_customer: Any
    dead_letter: Any
    enriched: Any
    transitions: Any

    def all(self) -> tuple[Any, ...]:
        return (self.raw, self.by_customer, self.dead_letter, self.enriched, self.transitions)


def declare(app: Any, partitions: int) -> Topics:
    """Create the Faust topic objects; values and keys stay bytes (orjson does the JSON)."""

    def topic(name: str) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
        )

    return Topics(
        raw=topic(RAW),
        by_customer=topic(BY_CUSTOMER),
        dead_letter=topic(DEAD_LETTER),
        enriched=topic(ENRICHED),
        transitions=topic(TRANSITIONS),
    )
