"""Customer keys and identifier normalisation.

An event may name its customer only by identifiers (phone, e-mail, device …).
Until identities are resolved properly, such an event is keyed by a keyed hash
of its strongest identifier, so the same person lands on the same partition and
the raw identifier never becomes a Kafka key.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from agents.domain.identity import IDENTIFIER_STRENGTH

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


def derived_customer_id(identifiers: dict[str, str], salt: bytes) -> str:
    """Return a stable customer key from the strongest identifier present.

    Keyed BLAKE2b: without the salt a phone number cannot be recovered from the
    key by enumerating the number space.
    """
    for kind in IDENTIFIER_STRENGTH:
        value = identifiers.get(kind)
        if value:
            digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=10, key=salt).hexdigest()
            return f"id:{kind}:{digest}"
    # Unknown identifier kinds are rejected by the schema, so one of the above is present.
    raise ValueError(f"no usable identifier in {sorted(identifiers)}")
