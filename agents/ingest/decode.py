"""Decode, validate and normalise one raw touchpoint record.

A pure function of the bytes: it never raises for any input (a property test
feeds it arbitrary bytes) and says, for every rejection, a reason code from the
dead-letter contract and a sentence naming the failing field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

import schemas
from agents.domain.identity import Claim
from agents.domain.instants import describe_duration
from agents.domain.refusal import (
    EMPTY,
    FUTURE,
    INTERNAL,
    NOT_JSON,
    NOT_OBJECT,
    NOT_UTF8,
    SCHEMA,
    TIMESTAMP,
    TOO_LARGE,
    Rejected,
)
from agents.identity.blocked import BlockedValues
from agents.identity.keys import IdentityKeys
from agents.ingest.identity import derived_customer_id, hash_identifiers, normalise_identifier
from schemas.accept import UNSAFE_CHARACTER

if TYPE_CHECKING:
    from agents.config import IdentityConfig

DEFAULT_MAX_BYTES: Final = 64 * 1024
# Touchpoints older than this are almost surely a unit or parsing bug upstream
# (CDNOW-style historical backfills from the 1990s still fit).
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
DEFAULT_MAX_FUTURE_SKEW: Final = 300
#: Customer ids starting with these are refused: Touchpoint makes such keys itself (``id:`` from
#: identifiers, ``\x00`` for the worker's control records), and a producer must not collide with them.
RESERVED_PREFIXES: Final = ("id:", "\x00")


@dataclass(slots=True)
class Accepted:
    """A valid touchpoint, normalised, with its customer key; its identifiers are keyed hashes.

    Not to be changed once made (not frozen only so that its constructor runs natively when compiled).
    """

    customer_id: str
    #: Aware, keeping the producer's own UTC offset (business hours depend on it).
    occurred_at: datetime
    #: ``occurred_at.timestamp()``: epoch seconds, worked out once (an aware datetime's takes 0.4 µs)
    #: for the skew check, the claims, and the journey and its lag metric when they get this record.
    occurred_seconds: float
    event: dict[str, Any]
    #: The normalised event as compact JSON, ready to publish.
    body: bytes
    #: The identifiers an event naming its customer claims for that customer (identity resolution).
    claims: tuple[Claim, ...] = ()

    # Written out, as Outputs' (agents/domain/outputs.py): a frozen dataclass's generated constructor
    # runs interpreted, through object.__setattr__ for every field, and ingest makes one per record.
    def __init__(
        self,
        customer_id: str,
        occurred_at: datetime,
        occurred_seconds: float,
        event: dict[str, Any],
        body: bytes,
        claims: tuple[Claim, ...] = (),
    ) -> None:
        self.customer_id = customer_id
        self.occurred_at = occurred_at
        self.occurred_seconds = occurred_seconds
        self.event = event
        self.body = body
        self.claims = claims


Outcome = Accepted | Rejected

_PY_LIST = re.compile(r"\['([^\]]*)'\]")
_PATTERN_MEANINGS: Final = {
    "phone": "must be a phone number: an optional +, then at least 3 digits (spaces and ( ) . - allowed)",
    "email": "must be an e-mail address like name@example.com",
    "currency": "must be an ISO 4217 code of three capital letters, like EUR",
    "customer_id": "must contain a visible character",
    "event_id": "must not be empty",
    "device_id": "must contain a visible character",
    "loyalty_id": "must contain a visible character",
    "openid": "must contain a visible character",
}


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
        max_future_skew: int = DEFAULT_MAX_FUTURE_SKEW,
        identity: IdentityConfig | None = None,
    ) -> None:
        """*identity*: the rules file's section (None: resolution on, built-in placeholders only)."""
        self._validate = schemas.validator("touchpoint")
        self._salt = identity_salt
        self._keys: IdentityKeys | None = None
        if identity is None or identity.enabled:
            blocked = BlockedValues(identity.blocked if identity is not None else None)
            self._keys = IdentityKeys(identity_salt, blocked)
        self.max_bytes = max_bytes
        self._earliest = earliest
        self._latest = latest
        # An event dated in these years (its own local calendar's) is inside the accepted range
        # whatever its UTC offset (under a day): no comparison of aware datetimes is needed.
        self._surely_in = range(earliest.year + 2, latest.year - 1)
        self._max_future_skew = max_future_skew

    def __call__(self, raw: bytes | None, received_at: float | None = None) -> Outcome:
        """``decode``, for callers that hold a decoder as a plain callable."""
        return self.decode(raw, received_at)

    def decode(self, raw: bytes | None, received_at: float | None = None) -> Outcome:
        """Decode *raw*; *received_at* (epoch seconds) is its record's broker timestamp, if known.

        The per-record paths call this by name: compiled, that is a direct call, where calling the
        decoder itself goes through the interpreter's calling convention first.

        With *received_at*, an event dated more than ``max_future_skew`` seconds after it is
        refused as ``future``: no producer's clock may move the partition's time ahead.
        """
        try:
            outcome = self._decode(raw)
        except Exception as exc:  # a bug here must dead-letter the record, not stop the partition
            return Rejected(INTERNAL, f"internal error while decoding: {type(exc).__name__}: {exc}")
        if received_at is not None and isinstance(outcome, Accepted):
            ahead = outcome.occurred_seconds - received_at
            if ahead > self._max_future_skew:
                stamp = datetime.fromtimestamp(received_at, UTC).isoformat(timespec="seconds")
                return Rejected(
                    FUTURE,
                    f"occurred_at {outcome.event['occurred_at']} is {describe_duration(ahead)} ahead of "
                    f"the record's timestamp {stamp} (at most {describe_duration(self._max_future_skew)})",
                    "occurred_at",
                )
        return outcome

    def _decode(self, raw: bytes | None) -> Outcome:
        if raw is None:
            return Rejected(EMPTY, "record has no value (null)")
        size = len(raw)
        if size > self.max_bytes:
            return too_large(size, self.max_bytes)
        if not raw or raw.isspace():  # as not raw.strip(), without a copy of every record
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
            # Lower case, which fromisoformat refuses, can only be the T or the Z of an instant the contract's
            # pattern took (schemas.accept.INSTANT): most are upper case already, and need no copy.
            occurred_at = datetime.fromisoformat(text.upper() if text[10] == "t" or text[-1] == "z" else text)
        except ValueError as exc:
            return Rejected(TIMESTAMP, f"occurred_at {text!r} is not a valid instant: {exc}", "occurred_at")
        if occurred_at.year not in self._surely_in and not self._earliest <= occurred_at < self._latest:
            return Rejected(
                TIMESTAMP,
                f"occurred_at {text!r} is outside the accepted range "
                f"{self._earliest.date()} .. {self._latest.date()}",
                "occurred_at",
            )
        event["occurred_at"] = canonical_instant(text, occurred_at)
        seconds = occurred_at.timestamp()
        changed = False
        identifiers = event.get("identifiers")
        if identifiers is not None:
            normalised = {kind: normalise_identifier(kind, value) for kind, value in identifiers.items()}
            changed = normalised != identifiers
            identifiers = event["identifiers"] = normalised
        customer_id = event.get("customer_id")
        if customer_id is not None:
            given = customer_id
            customer_id = event["customer_id"] = unicodedata.normalize("NFC", customer_id.strip())
            changed = changed or customer_id != given
            if customer_id.startswith(RESERVED_PREFIXES):
                return Rejected(SCHEMA, _unsafe_message("customer_id", customer_id), "customer_id")
        if changed:
            # Normalising must not carry a record out of its contract (a phone "1()" becomes "1", an
            # e-mail of 200 "İ" doubles in length when lower-cased): check the normalised form again.
            try:
                self._validate(event)
            except schemas.ValidationError as exc:
                rejected = _schema_rejection(exc, event)
                return Rejected(rejected.reason, f"after normalisation, {rejected.message}", rejected.field)
        claims: tuple[Claim, ...] = ()
        if customer_id is None:
            if self._keys is None:
                customer_id = derived_customer_id(identifiers or {}, self._salt)
            else:
                customer_id = self._keys.profile_key(identifiers or {}, event)
            event["customer_id"] = customer_id
        elif identifiers and self._keys is not None:
            at = int(seconds)
            claims = self._keys.claims(customer_id, identifiers, event["event_id"], at)
        if identifiers:
            # Raw identifiers end here: past ingest each is its keyed hash, per kind (claims hold keys too).
            event["identifiers"] = hash_identifiers(identifiers, self._salt)
        return Accepted(customer_id, occurred_at, seconds, event, orjson.dumps(event), claims)


def too_large(size: int, limit: int) -> Rejected:
    """The refusal of a record of *size* bytes, over the *limit*: also for a line of a file too long to be read whole."""
    return Rejected(TOO_LARGE, f"payload is {size} bytes, over the {limit}-byte limit")


def canonical_instant(text: str, occurred_at: datetime) -> str:
    """``occurred_at.isoformat()``, the form every event carries past ingest, for *occurred_at* read from *text*.

    Most producers already write that form (``2026-01-05T19:30:00+01:00``: no fraction, a ``T``, a
    ``+`` offset whose minutes are a clock's): then *text* is it, and nothing is formatted again.
    Many others write milliseconds (``2026-01-05T19:30:00.250+01:00``), which that form writes in
    microseconds, unless they are none at all.
    """
    if len(text) == 25 and text[10] == "T" and text[19] == "+" and text[23] in "012345":
        return text
    if (
        len(text) == 29
        and text[10] == "T"
        and text[19] == "."
        and text[23] == "+"
        and text[27] in "012345"
        and text[20:23] != "000"
    ):
        return text[:23] + "000" + text[23:]
    return occurred_at.isoformat()


def unsafe_character(text: str) -> tuple[int, str] | None:
    """The first character that must not appear in an id (control, bidi override, zero-width), if any."""
    match = UNSAFE_CHARACTERS.search(text)
    return None if match is None else (match.start(), match.group())


#: The characters the contract's id patterns exclude: C0/C1 controls, bidi controls, invisibles.
UNSAFE_CHARACTERS: Final = re.compile(UNSAFE_CHARACTER)


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
    elif (
        exc.rule == "pattern"
        and field is not None
        and isinstance(exc.value, str)
        and unsafe_character(exc.value)
    ):
        message = _unsafe_message(field, exc.value)
    elif exc.rule == "pattern" and field is not None:
        # The contract's patterns are for machines; say what they mean.
        meaning = _PATTERN_MEANINGS.get(field.rpartition(".")[2] if "." in field else field)
        if meaning is not None:
            message = f"{field} {meaning}"
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


def _unsafe_message(field: str, value: str) -> str:
    found = unsafe_character(value)
    if found is not None:
        position, character = found
        name = unicodedata.name(character, "a control character")
        return (
            f"{field} contains U+{ord(character):04X} ({name}) at position {position}: control, "
            "bidi-override and zero-width characters are not allowed"
        )
    prefix = next((p for p in RESERVED_PREFIXES if value.startswith(p)), value[:3])
    return (
        f"{field} must not start with {prefix!r}: that prefix is reserved for keys Touchpoint derives itself"
    )
