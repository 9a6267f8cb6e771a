"""Customer keys, identifier normalisation, and the keyed hashes that replace raw identifiers.

An event may name its customer only by identifiers (phone, e-mail, device …).
Until identities are resolved properly, such an event is keyed by a keyed hash
of its strongest identifier, so the same person lands on the same partition and
the raw identifier never becomes a Kafka key. Past ingest every identifier is its
keyed hash (``h:`` + 20 hex digits, per kind): equal identifiers still match, and
without the key nobody can turn one back into a phone number by trying them all.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from agents.domain.identity import IDENTIFIER_STRENGTH
from agents.identity.keys import identifier_digest, identifier_key

__all__ = ["IDENTIFIER_STRENGTH", "derived_customer_id", "normalise_identifier"]

_PHONE_NOISE = re.compile(r"[\s().\-]")


def normalise_identifier(kind: str, value: str) -> str:
    """Return the canonical form of one identifier.

    Every value is Unicode NFC-normalised first, so the composed and decomposed spellings
    of ``josé`` are one identifier. E-mail is then lower-cased (mailbox names are
    case-insensitive in practice), phone numbers lose spacing and punctuation but keep a
    leading ``+``; opaque ids are only trimmed, because their case may be significant.
    """
    value = unicodedata.normalize("NFC", value.strip())
    if kind == "email":
        return unicodedata.normalize("NFC", value.lower())
    if kind == "phone":
        return _PHONE_NOISE.sub("", value)
    return value


#: Prefix of a hashed identifier.
HASHED: Final = "h:"


def hash_identifiers(identifiers: dict[str, str], salt: bytes) -> dict[str, str]:
    """Each normalised identifier replaced by its keyed hash ``h:<digest>``, per kind."""
    return {kind: HASHED + identifier_digest(kind, value, salt) for kind, value in identifiers.items()}


def derived_customer_id(identifiers: dict[str, str], salt: bytes) -> str:
    """Return a stable customer key from the strongest identifier present: ``id:<kind>:<digest>``.

    Keyed BLAKE2b: without the salt a phone number cannot be recovered from the
    key by enumerating the number space. The digest is the identifier's ``h:`` hash.
    """
    for kind in IDENTIFIER_STRENGTH:
        value = identifiers.get(kind)
        if value:
            return identifier_key(kind, value, salt)
    # Unknown identifier kinds are rejected by the schema, so one of the above is present.
    raise ValueError(f"no usable identifier in {sorted(identifiers)}")
