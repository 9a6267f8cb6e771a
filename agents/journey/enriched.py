"""Enriched events: each touchpoint with a snapshot of its customer, identifiers masked (schemas/enriched.v1.json)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from agents.domain.instants import iso
from agents.domain.state import CustomerState


def mask_identifiers(identifiers: dict[str, str], salt: bytes) -> dict[str, str]:
    """Replace each raw identifier by a stable keyed hash: joinable across events, not readable."""
    return {
        kind: "h:" + hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=10, key=salt).hexdigest()
        for kind, value in identifiers.items()
    }


@dataclass(frozen=True, slots=True)
class ModelView:
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
        "net_value": round(state.net_value, 2),
        "open_inquiries": len(state.inquiries_open),
        "open_complaints": len(state.complaints_open),
        "satisfaction": None if satisfaction is None else round(satisfaction, 3),
        "touchpoints": state.events,
        "p_alive": None if model is None else round(model.p_alive, 6),
        "clv": state.clv,
        "best_customer": model is not None and model.best_customer,
    }


def encode_enriched(
    event: dict[str, Any], state: CustomerState, salt: bytes, model: ModelView | None = None
) -> bytes:
    identifiers = event.get("identifiers")
    if identifiers:
        event = {**event, "identifiers": mask_identifiers(identifiers, salt)}
    return orjson.dumps(
        {"schema_version": 1, "touchpoint": event, "customer": customer_snapshot(state, model)}
    )
