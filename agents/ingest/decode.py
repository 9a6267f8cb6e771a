"""Decode, validate and normalise one raw touchpoint record.

A pure function of the bytes: it never raises for any input (a property test
feeds it arbitrary bytes) and says, for every rejection, a reason code from the
dead-letter contract and a sentence naming the failing field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

import schemas
from agents.ingest.identity import derived_customer_id, normalise_identifier

#: Reason codes, as enumerated in schemas/dead_letter.v1.json.
EMPTY: Final = "empty"
TOO_LARGE: Final = "too_large"
NOT_UTF8: Final = "not_utf8"
NOT_JSON: Final = "not_json"
NOT_OBJECT: Final = "not_object"
SCHEMA: Final = "schema"
TIMESTAMP: Final = "timestamp"
INTERNAL: Final = "internal"

REASONS: Final = (EMPTY, TOO_LARGE, NOT_UTF8, NOT_JSON, NOT_OBJECT, SCHEMA, TIMESTAMP, INTERNAL)

DEFAULT_MAX_BYTES: Final = 64 * 1024
# Touchpoints older than this are almost surely a unit or parsing bug upstream
# (CDNOW-style historical backfills from the 1990s still fit).
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid touchpoint, normalised, with its customer key."""

    customer_id: str
    #: Aware, keeping the producer's own UTC offset (business hours depend on it).
    occurred_at: datetime
    event: dict[str, Any]
    #: The normalised event as compact JSON, ready to publish.
    body: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a record cannot be accepted."""

    reason: str
    message: str
    field: str | None = None


Outcome = Accepted | Rejected

_PY_LIST = re.compile(r"\['([^\]]*)'\]")


class TouchpointDecoder:
    """Turns raw record values into Accepted events or Rejected reasons.

    Construct once: the schema validator is compiled here, not per event.
    """

    def __init__(
        self,
        *,
        identity_salt: bytes,
        max_bytes: int = DEFAULT_MAX_BYTES,
        earliest: datetime = EARLIEST,
        latest: datetime = LATEST,
    ) -> None:
        self._validate = schemas.validator("touchpoint")
        self._salt = identity_salt
        self.max_bytes = max_bytes
        self._earliest = earliest
        self._latest = latest

    def __call__(self, raw: bytes | None) -> Outcome:
        try:
            return self._decode(raw)
        except Exception as exc:  # a bug here must dead-letter the record, not stop the partition
            return Rejected(INTERNAL, f"internal error while decoding: {type(exc).__name__}: {exc}")

    def _decode(self, raw: bytes | None) -> Outcome:
        if raw is None:
            return Rejected(EMPTY, "record has no value (null)")
        size = len(raw)
        if size > self.max_bytes:
            return Rejected(TOO_LARGE, f"payload is {size} bytes, over the {self.max_bytes}-byte limit")
        if not raw.strip():
            return Rejected(EMPTY, "payload is empty or only whitespace")
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _not_json(raw, exc)
        if not isinstance(document, dict):
            return Rejected(NOT_OBJECT, f"payload is a JSON {_json_kind(document)}, expected an object")
        try:
            self._validate(document)
        except schemas.ValidationError as exc:
            return _schema_rejection(exc, document)
        return self._normalise(document)

    def _normalise(self, event: dict[str, Any]) -> Outcome:
        text: str = event["occurred_at"]
        try:
            occurred_at = datetime.fromisoformat(text.upper())
        except ValueError as exc:
            return Rejected(TIMESTAMP, f"occurred_at {text!r} is not a valid instant: {exc}", "occurred_at")
        if not self._earliest <= occurred_at < self._latest:
            return Rejected(
                TIMESTAMP,
                f"occurred_at {text!r} is outside the accepted range "
                f"{self._earliest.date()} .. {self._latest.date()}",
                "occurred_at",
            )
        event["occurred_at"] = occurred_at.isoformat()
        identifiers = event.get("identifiers")
        if identifiers is not None:
            identifiers = {kind: normalise_identifier(kind, value) for kind, value in identifiers.items()}
            event["identifiers"] = identifiers
        customer_id = event.get("customer_id")
        if customer_id is not None:
            customer_id = event["customer_id"] = customer_id.strip()
        else:
            customer_id = event["customer_id"] = derived_customer_id(identifiers or {}, self._salt)
        return Accepted(customer_id, occurred_at, event, orjson.dumps(event))


def _not_json(raw: bytes, exc: orjson.JSONDecodeError) -> Rejected:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return Rejected(
            NOT_UTF8,
            f"payload is not valid UTF-8 (byte 0x{raw[bad.start]:02x} at position {bad.start})",
        )
    return Rejected(NOT_JSON, f"payload is not JSON: {exc}")


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _schema_rejection(exc: schemas.ValidationError, document: dict[str, Any]) -> Rejected:
    # fastjsonschema names fields "data.attributes.amount"; consumers want "attributes.amount".
    name = str(exc.name)
    field = name[len("data.") :] if name.startswith("data.") else None
    message = str(exc.message)
    if field is not None:
        message = message.replace(name, field, 1)
    if exc.rule == "anyOf" and field is None:
        # fastjsonschema checks anyOf before required; name missing fields first, they are the bigger mistake.
        missing = [key for key in schemas.load_schema("touchpoint")["required"] if key not in document]
        if missing:
            message = f"is missing required field(s): {', '.join(missing)}"
            field = missing[0]
        else:
            message = "needs a customer reference: customer_id or identifiers"
    elif exc.rule == "anyOf" and all("required" in option for option in exc.rule_definition or []):
        choices = [name for option in exc.rule_definition for name in option["required"]]
        message = f"{field} needs one of: {', '.join(choices)}"
    elif exc.rule == "required":
        missing = sorted(set(exc.rule_definition) - set(exc.value or {}))
        where = f"{field} " if field else ""
        message = f"{where}is missing required field(s): {', '.join(missing)}"
        if field is None and missing:
            field = missing[0]
        elif field and missing:
            field = f"{field}.{missing[0]}"
    elif exc.rule == "additionalProperties":
        known = schemas.load_schema("touchpoint")["properties"]
        unknown = sorted(str(key) for key in (exc.value or {}) if key not in known) if field is None else []
        if unknown:
            message = f"unknown field(s): {', '.join(unknown)}"
            field = unknown[0]
    # "must be one of ['app', 'web']" → "must be one of app, web": for people, not Python.
    message = _PY_LIST.sub(lambda match: match.group(1).replace("', '", ", "), message)
    if field == "occurred_at" and "occurred_at" in document:
        return Rejected(
            TIMESTAMP,
            f"occurred_at must be RFC 3339 with a UTC offset, e.g. 2026-01-05T19:30:00+01:00 "
            f"(got {document['occurred_at']!r})",
            field,
        )
    return Rejected(SCHEMA, message, field)
