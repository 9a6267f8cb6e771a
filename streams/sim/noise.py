"""What a real producer adds: redelivered duplicates and malformed records."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any, Final

import orjson

#: Share of valid records delivered twice (same bytes, shortly after).
DUPLICATE_SHARE: Final = 0.005


def malformed(
    rng: random.Random, seed: int, ids: Iterator[int], event: dict[str, Any], record: bytes
) -> bytes:
    """A broken record modelled on the next valid one, the way buggy producers and proxies break them."""
    kind = rng.randrange(9)
    if kind == 0:  # cut off mid-write: never valid JSON since an object needs its closing brace
        return record[: rng.randrange(1, len(record) - 1)]
    if kind == 1:
        return rng.choice(
            (
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                f"customer={event.get('customer_id', 'unknown')};type={event['type']}".encode(),
                b"ERROR: connection reset by peer",
                b"{'type': 'visit', 'channel': 'web'}",
            )
        )
    if kind == 2:
        return rng.choice((b"", b" ", b"\n", b"\r\n\t  "))
    broken = dict(event)
    broken["event_id"] = f"ev-{seed}-m{next(ids)}"
    if kind == 3:  # a legacy producer writing Latin-1
        broken["attributes"] = dict(event.get("attributes") or {}) | {"note": "Grüße aus Köln"}
        return orjson.dumps(broken).replace("Grüße aus Köln".encode(), "Grüße aus Köln".encode("latin-1"))
    if kind == 4:  # a batch sent as one record
        return orjson.dumps([broken])
    if kind == 5:
        broken["channel"] = rng.choice(("fax", "whatsapp", "kiosk", "sms", "Web"))
    elif kind == 6:
        broken["occurred_at"] = event["occurred_at"][:19]  # the offset dropped
    elif kind == 7:
        broken.pop("customer_id", None)
        broken.pop("identifiers", None)
    else:
        broken["type"] = "purchase"
        amount = rng.uniform(5.0, 300.0)
        broken["attributes"] = {"amount": f"{amount:.2f}", "currency": "EUR"}
    return orjson.dumps(broken)
