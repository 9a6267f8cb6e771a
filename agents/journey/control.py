"""Timer ticks: the worker's own control records on ``touchpoints.by-customer``, signed.

A quiet partition has no events to move its time, so the worker's deadline sweep
sends it a tick: "it is now T here". Anyone who can write to the topic could send
one too, and fire every deadline of the partition at once. So a tick carries an
HMAC-SHA256 over its partition and clock under a secret the workers share
(``TOUCHPOINT_CONTROL_SECRET``), and the receiving worker accepts it only if the
proof holds and the clock is within the skew bound of its own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Final

import orjson

from agents.domain.instants import describe_duration
from agents.domain.refusal import FORGED_CONTROL, Rejected

__all__ = ["CONTROL_KEY_PREFIX", "TICK_KEY", "sign_tick", "verify_tick"]

#: Keys starting with this byte on touchpoints.by-customer are the worker's own records, not customers.
#: Ingest never makes such a key: customer ids with control characters are refused by the contract.
CONTROL_KEY_PREFIX: Final = b"\x00"
TICK_KEY: Final = CONTROL_KEY_PREFIX + b"tick"


def _proof(secret: bytes, partition: int, now_ms: int) -> str:
    message = b"touchpoint-tick|%d|%d" % (partition, now_ms)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_tick(secret: bytes, partition: int, now: float) -> bytes:
    """The value of a tick record for *partition* at wall-clock *now* (epoch seconds)."""
    now_ms = round(now * 1000)
    return orjson.dumps({"now_ms": now_ms, "mac": _proof(secret, partition, now_ms)})


def verify_tick(
    secret: bytes, partition: int, value: bytes | None, clock: float, skew: int
) -> int | Rejected:
    """The tick's instant (epoch seconds) if *value* is a genuine, current tick for *partition*.

    *clock* is the receiving worker's wall clock; a tick further than *skew* seconds from it
    is refused like a forged one: replaying an old tick, or one made for the future, moves no time.
    """
    try:
        document: Any = orjson.loads(value or b"")
        now_ms, mac = document["now_ms"], document["mac"]
        genuine = (
            type(now_ms) is int
            and isinstance(mac, str)
            and hmac.compare_digest(mac, _proof(secret, partition, now_ms))
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        genuine = False
    if not genuine:
        return Rejected(
            FORGED_CONTROL, "a timer tick without a valid proof of origin (HMAC) for this partition"
        )
    offset = now_ms / 1000 - clock
    if abs(offset) > skew:
        side = "ahead of" if offset > 0 else "behind"
        return Rejected(
            FORGED_CONTROL,
            f"a timer tick {describe_duration(offset)} {side} this worker's clock "
            f"(at most {describe_duration(skew)}): refused",
        )
    return int(now_ms // 1000)
