"""Reading alert records (schemas/alert.v1.json) off the ``alerts.<type>`` topics, for the processes that
follow them (notify, console): decode and validate, never raise.

A record that is not a valid alert is said so with a dead-letter reason code and a sentence;
the caller counts it (and notify dead-letters it). Any producer may write to a topic, so
the alert id is also checked against the record's own type and customer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson

import schemas
from agents.domain.alert import parse_alert_id
from agents.domain.refusal import EMPTY, NOT_JSON, NOT_OBJECT, SCHEMA, Rejected

#: Statuses of an alert someone still has to act on.
ACTIVE_STATUSES: Final = frozenset({"open", "acknowledged"})


def decode_alert(value: bytes | None, topic: str | None = None) -> dict[str, Any] | Rejected:
    """The alert in *value*, validated; or why it is not one. *topic*, when given, must be its type's."""
    if not value or not value.strip():
        return Rejected(EMPTY, "the record has no value")
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejected(NOT_JSON, f"payload is not JSON: {exc}")
    if not isinstance(document, dict):
        return Rejected(NOT_OBJECT, f"an alert must be a JSON object, got {type(document).__name__}")
    try:
        schemas.validator("alert")(document)
    except schemas.ValidationError as exc:
        field = exc.path[1:] if isinstance(exc.path, list) else None
        return Rejected(
            SCHEMA, f"not an alert.v1 record: {exc.message}", ".".join(map(str, field or [])) or None
        )
    alert_type, customer_id = parse_alert_id(document["alert_id"])
    if alert_type != document["type"] or customer_id != document["customer_id"]:
        return Rejected(SCHEMA, "alert_id does not match the alert's type and customer_id", "alert_id")
    if topic is not None and topic != f"alerts.{document['type']}":
        return Rejected(SCHEMA, f"an alert of type {document['type']} on {topic}", "type")
    return document


def instant(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp from an alert, None for null."""
    return None if text is None else datetime.fromisoformat(text).timestamp()
