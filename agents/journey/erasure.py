"""Forgetting a customer on request (schemas/erasure_request.v1.json): what goes, and what is said about it.

The customer's state goes whole (with it their dedupe memory, cases, open alerts and detector
memories). With identity resolution on, each identifier the customer's touchpoints carried (and
each whose profile merged into them) gets an ``Unlink`` on its own partition: its record forgets the
customer key, and the profile merged into them (agents/journey/step.py). Each open or acknowledged alert is republished once more as resolved by
``auto:erased``, so whoever routes it (Alertmanager, the console) closes it, with its text
replaced: the last record about the customer carries no more than it must. The confirmation
(``Erasure``) tells downstream services to forget the customer too.

Touchpoints of the customer dated at or before the request that arrive afterwards (late, or
redelivered after a crash) are dropped by the journey step, which remembers each erasure it
applied (agents/journey/step.py); a newer touchpoint starts a new customer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from agents.alerts import sla
from agents.calendar import Calendars
from agents.domain.alert import RESOLVED
from agents.domain.identity import IDENTIFIER_STRENGTH, Forward, Unlink
from agents.domain.outputs import Erasure, Outputs
from agents.domain.state import CustomerState
from agents.ingest.identity import HASHED

__all__ = ["ERASED_BY", "MAX_CLAIMED", "carried_keys", "erase", "note_claims", "requested_instant", "unlinks"]

#: Who resolves the alerts of an erased customer.
ERASED_BY: Final = "auto:erased"
_SUMMARY: Final = "Resolved: the customer was erased on request; nothing more is kept about them."
_ACTION: Final = "Erase any copy of this alert you keep (see privacy.erasures)."
#: How many identifier keys a customer's state keeps for its erasure: more than any one person uses.
MAX_CLAIMED: Final = 16


def requested_instant(request: dict[str, Any]) -> int:
    """The request's ``requested_at`` in epoch seconds (validated RFC 3339 with an offset)."""
    return int(datetime.fromisoformat(request["requested_at"].upper()).timestamp())


def erase(
    state: CustomerState | None,
    customer_id: str,
    request: dict[str, Any],
    erased_at: float,
    calendars: Calendars,
) -> Outputs:
    """What forgetting the customer publishes: their open alerts resolved, then the confirmation.

    *state* is not changed here: the caller deletes it. *erased_at* is the worker's clock (epoch
    seconds); replay passes the request's own instant, so its output depends on its input only.
    """
    out = Outputs()
    at = int(erased_at)
    for alert_id, data in (state.alerts_open if state is not None else {}).items():
        alert = sla.revive(alert_id, customer_id, data, calendars)
        resolved = replace(
            alert.with_status(RESOLVED, at, ERASED_BY), summary=_SUMMARY, suggested_action=_ACTION, details={}
        )
        out.alerts.append(resolved)
        out.resolved.append((resolved, max(at - alert.detected_at, 0)))
    out.erasure = Erasure(
        request_id=request["request_id"],
        customer_id=customer_id,
        requested_at=request["requested_at"],
        erased_at=erased_at,
        by=request["by"],
        reason=request["reason"],
        found=state is not None,
        alerts_resolved=len(out.alerts),
    )
    return out


def carried_keys(identifiers: dict[str, str]) -> list[str]:
    """The identifier keys (``id:<kind>:<digest>``) of an ingested event's hashed identifiers.

    Ingest hashes each identifier with the digest of its key (agents/ingest/identity.py), so the key
    follows without the identity key. A value that is no hash names no key.
    """
    return [
        f"id:{kind}:{value[len(HASHED) :]}"
        for kind in IDENTIFIER_STRENGTH
        if (value := identifiers.get(kind)) and value.startswith(HASHED)
    ]


def note_claims(state: CustomerState, event: dict[str, Any]) -> None:
    """Keep the identifier keys *event* carried in *state* (newest last, bounded): the erasure's addresses."""
    for key in carried_keys(event.get("identifiers") or {}):
        if key in state.claimed:
            if state.claimed[-1] == key:
                continue
            state.claimed.remove(key)
        state.claimed.append(key)
    del state.claimed[:-MAX_CLAIMED]


def unlinks(state: CustomerState | None, customer_id: str, at: int) -> list[Forward]:
    """An ``Unlink`` to every identifier *state* claimed or merged a profile from, so each forgets *customer_id*."""
    if state is None:
        return []
    keys = dict.fromkeys([*(entry[0] for entry in state.merges), *state.claimed])
    return [Forward(key, control=Unlink(key, customer_id, at)) for key in keys if key != customer_id]
