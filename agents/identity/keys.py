"""Keys of the identity graph: an identifier's, a shared identifier's profile, a conversation standing alone.

Every key is a keyed hash (BLAKE2b under the deployment's identity salt), so the graph never holds
a raw identifier, and a producer cannot make one: customer ids starting with ``id:`` are refused
at ingest.

- ``id:<kind>:<hash>``: an identifier. Its record (linked, shared …) and, while it is linked to
  nobody, its anonymous profile.
- ``id:conversation:<hash>`` / ``id:event:<hash>``: an event whose only identifiers are placeholders,
  or an identifier over its kind's limit: it forms a profile with its own conversation at most.
"""

from __future__ import annotations

from typing import Any, Final

from agents.domain.identity import IDENTIFIER_STRENGTH, Claim
from agents.domain.keyed_hash import keyed_blake2b
from agents.identity.blocked import BlockedValues

__all__ = ["IdentityKeys", "identifier_digest", "identifier_key", "is_identifier_key", "unlinkable_key"]

PREFIX: Final = "id:"


def identifier_digest(kind: str, value: str, salt: bytes) -> str:
    """20 hex digits of a BLAKE2b of ``kind:value`` keyed with *salt* (the deployment's identity key)."""
    return keyed_blake2b(salt, 10).hexdigest(f"{kind}:{value}".encode())


def identifier_key(kind: str, value: str, salt: bytes) -> str:
    """``id:<kind>:<hash>`` of one normalised identifier (the hash ``mask_identifiers`` shows as ``h:…``)."""
    return f"{PREFIX}{kind}:{identifier_digest(kind, value, salt)}"


def is_identifier_key(key: str) -> bool:
    """Whether *key* names an identifier (and may hold its record), not a customer or another profile."""
    if not key.startswith(PREFIX):
        return False
    kind = key[len(PREFIX) :].partition(":")[0]
    return kind in IDENTIFIER_STRENGTH


def unlinkable_key(event: dict[str, Any], salt: bytes) -> str:
    """Where an event goes whose identifiers link nothing: its conversation's profile, or its own."""
    conversation = event.get("conversation_id")
    scope, name = ("conversation", conversation) if conversation else ("event", event["event_id"])
    digest = keyed_blake2b(salt, 10).hexdigest(f"{scope}:{name}".encode())
    return f"{PREFIX}{scope}:{digest}"


class IdentityKeys:
    """Which profile an event without a customer id goes to, and which identifiers an event claims."""

    def __init__(self, salt: bytes, blocked: BlockedValues) -> None:
        self._salt = salt
        self._blocked = blocked

    def profile_key(self, identifiers: dict[str, str], event: dict[str, Any]) -> str:
        """The key of the strongest identifier that is no placeholder; else the event's own conversation."""
        for kind in IDENTIFIER_STRENGTH:
            value = identifiers.get(kind)
            if value and not self._blocked(kind, value):
                return identifier_key(kind, value, self._salt)
        return unlinkable_key(event, self._salt)

    def claims(self, customer: str, identifiers: dict[str, str], event_id: str, at: int) -> tuple[Claim, ...]:
        """What an event naming *customer* and carrying *identifiers* claims: each that is no placeholder."""
        return tuple(
            Claim(identifier_key(kind, value, self._salt), customer, event_id, at)
            for kind in IDENTIFIER_STRENGTH
            if (value := identifiers.get(kind)) and not self._blocked(kind, value)
        )
