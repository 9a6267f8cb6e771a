"""Enriched events: each touchpoint with a snapshot of its customer (schemas/enriched.v1.json).

Identifiers arrive hashed from ingest and stay so; one that is not (a record written past
ingest) is hashed here. Attributes are kept only when the rules file allows them
(``enriched.attributes``): free text stays inside the worker.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Final, NamedTuple

import orjson

from agents.domain.instants import iso
from agents.domain.rounding import round_to
from agents.domain.state import CustomerState
from agents.identity.keys import identifier_digest
from agents.ingest.identity import HASHED

_HASH: Final = re.compile(r"h:[0-9a-f]{20}")


def mask_identifiers(identifiers: dict[str, str], salt: bytes) -> dict[str, str]:
    """Each identifier as its keyed hash: joinable across events, not readable. Hashes pass unchanged."""
    return {
        kind: value if _HASH.fullmatch(value) else HASHED + identifier_digest(kind, value, salt)
        for kind, value in identifiers.items()
    }


class ModelView(NamedTuple):
    """The churn model's reading of a buyer at the event (agents/models/customer.py)."""

    p_alive: float
    best_customer: bool


def customer_snapshot(state: CustomerState, model: ModelView | None = None) -> dict[str, Any]:
    """What downstream services get to know about the customer with each event."""
    satisfaction = state.satisfaction
    return {
        "stage": state.stage,
        "stage_since": iso(state.stage_since),
        "value_tier": state.value_tier,
        "purchase_count": state.purchase_count,
        "net_value": round_to(state.net_value, 2),
        "open_inquiries": len(state.inquiries_open),
        "open_complaints": len(state.complaints_open),
        "satisfaction": None if satisfaction is None else round_to(satisfaction, 3),
        "touchpoints": state.events,
        "p_alive": None if model is None else round_to(model.p_alive, 6),
        "clv": state.clv,
        "best_customer": model is not None and model.best_customer,
    }


def encode_enriched(
    event: dict[str, Any],
    state: CustomerState,
    salt: bytes,
    model: ModelView | None = None,
    attributes: Collection[str] | None = None,
) -> bytes:
    """The enriched record of *event*; *attributes* names the attributes it keeps (None: all)."""
    identifiers = event.get("identifiers")
    if identifiers:
        event = {**event, "identifiers": mask_identifiers(identifiers, salt)}
    kept = event.get("attributes")
    if kept and attributes is not None:
        allowed = {name: value for name, value in kept.items() if name in attributes}
        event = (
            {**event, "attributes": allowed}
            if allowed
            else {k: v for k, v in event.items() if k != "attributes"}
        )
    return orjson.dumps(
        {"schema_version": 1, "touchpoint": event, "customer": customer_snapshot(state, model)}
    )
