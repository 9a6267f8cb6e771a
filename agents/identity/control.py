"""Identity records on ``touchpoints.by-customer``: a claim, a profile merging into its customer, a split's way
back, an erased customer's way to the identifiers it claimed.

They travel between partitions on the same topic as the touchpoints, so that on an identifier's
partition a claim and the identifier's anonymous touchpoints are applied in the order ingest sent
them. Their value starts with byte ``0x00`` (a touchpoint is JSON, ``{``), then a version, an
HMAC-SHA256 over the record's key and payload under the workers' shared secret
(``TOUCHPOINT_CONTROL_SECRET``, as for timer ticks), and the payload in MessagePack. Anyone who can
write to the topic could otherwise push any state into any customer: a record without a valid
proof is refused as ``forged_control``. The key is in the proof, so a genuine record cannot be
moved to another customer either.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

import msgspec

from agents.domain.identity import Claim, Control, MergeIn, Unlink, Unmerge
from agents.domain.keyed_hash import hmac_sha256
from agents.domain.refusal import FORGED_CONTROL, Rejected

__all__ = ["CONTROL_VALUE_PREFIX", "decode_control", "encode_control", "is_control"]

#: The first byte of an identity record's value; a touchpoint's is ``{``.
CONTROL_VALUE_PREFIX: Final = b"\x00"
_HEADER: Final = CONTROL_VALUE_PREFIX + b"\x01"
_MAC_SIZE: Final = 32


def is_control(value: bytes | None) -> bool:
    return value is not None and value[:1] == CONTROL_VALUE_PREFIX


def _proof(secret: bytes, key: bytes, payload: bytes) -> bytes:
    return hmac_sha256(secret).digest(b"touchpoint-identity|" + key + b"|" + payload)


def encode_control(secret: bytes, key: bytes, message: Control) -> bytes:
    """The value of the record carrying *message* under *key*."""
    fields: list[Any]
    if isinstance(message, Claim):
        fields = ["claim", message.key, message.customer, message.event_id, message.at]
    elif isinstance(message, MergeIn):
        fields = ["merge", message.into, message.from_key, message.event_id, message.at, message.state]
    elif isinstance(message, Unlink):
        fields = ["unlink", message.key, message.customer, message.at]
    else:
        fields = ["unmerge", message.into, message.from_key, message.state, message.by, message.at]
    payload: bytes = msgspec.msgpack.encode(fields)
    return _HEADER + _proof(secret, key, payload) + payload


def decode_control(secret: bytes, key: bytes, value: bytes | None) -> Control | Rejected:
    """The message of a genuine identity record under *key*, or why it is refused."""
    if value is None or value[: len(_HEADER)] != _HEADER:
        return _forged()
    mac = value[len(_HEADER) : len(_HEADER) + _MAC_SIZE]
    payload = value[len(_HEADER) + _MAC_SIZE :]
    if not hmac.compare_digest(mac, _proof(secret, key, payload)):
        return _forged()
    try:
        kind, *fields = msgspec.msgpack.decode(payload)
        message: Control
        if kind == "claim":
            message = Claim(*fields)
            target = message.key
        elif kind == "merge":
            message = MergeIn(*fields)
            target = message.into
        elif kind == "unmerge":
            message = Unmerge(*fields)
            target = message.into
        elif kind == "unlink":
            message = Unlink(*fields)
            target = message.key
        else:
            raise ValueError(kind)
    except (ValueError, TypeError, msgspec.DecodeError):
        return Rejected(FORGED_CONTROL, "an identity record this worker cannot read (signed, but malformed)")
    if target.encode() != key:
        return Rejected(FORGED_CONTROL, "an identity record for another key than its own")
    return message


def _forged() -> Rejected:
    return Rejected(FORGED_CONTROL, "an identity record without a valid proof of origin (HMAC) for its key")
