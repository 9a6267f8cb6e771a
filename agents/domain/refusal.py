"""A refused record: why (a reason code of the dead-letter contract) and what, in a sentence.

Ingest refuses what breaks the touchpoint contract; the journey refuses what only the customer's
history shows (a conflicting duplicate, an event too old) and forged or stale control records.
Every refusal ends in the dead-letter topic with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Reason codes, as enumerated in schemas/dead_letter.v1.json.
EMPTY: Final = "empty"
TOO_LARGE: Final = "too_large"
NOT_UTF8: Final = "not_utf8"
NOT_JSON: Final = "not_json"
NOT_OBJECT: Final = "not_object"
SCHEMA: Final = "schema"
TIMESTAMP: Final = "timestamp"
#: Dated further ahead of its record's broker timestamp than ``time.max_future_skew_seconds``.
FUTURE: Final = "future"
INTERNAL: Final = "internal"
#: Refused by the journey, which knows the customer: older than the customer's history allows.
TOO_OLD: Final = "too_old"
#: The journey already applied this event id for the customer, with other content.
CONFLICTING_DUPLICATE: Final = "conflicting_duplicate"
#: A timer tick without a valid proof of origin, or with a clock far from the worker's.
FORGED_CONTROL: Final = "forged_control"
#: An operator action for an alert the customer has no open record of.
UNKNOWN_ALERT: Final = "unknown_alert"
#: An operator action whose ``at`` is too far from its record's timestamp.
STALE_ACTION: Final = "stale_action"
#: An operator's split of an identifier from a customer it was never merged into (or was split from already).
UNKNOWN_MERGE: Final = "unknown_merge"

REASONS: Final = (
    EMPTY,
    TOO_LARGE,
    NOT_UTF8,
    NOT_JSON,
    NOT_OBJECT,
    SCHEMA,
    TIMESTAMP,
    FUTURE,
    INTERNAL,
    TOO_OLD,
    CONFLICTING_DUPLICATE,
    FORGED_CONTROL,
    UNKNOWN_ALERT,
    STALE_ACTION,
    UNKNOWN_MERGE,
)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a record cannot be accepted."""

    reason: str
    message: str
    field: str | None = None
    #: Facts for the dead-letter record's ``details`` (schemas/dead_letter.v1.json), when the reason has some.
    details: dict[str, str] | None = None
