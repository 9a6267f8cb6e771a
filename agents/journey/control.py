"""The worker's own marks on ``touchpoints.by-customer``, signed: timer ticks, and touchpoints already applied.

A quiet partition has no events to move its time, so the worker's deadline sweep
sends it a tick: "it is now T here". Anyone who can write to the topic could send
one too, and fire every deadline of the partition at once. So a tick carries an
HMAC-SHA256 over its partition and clock under a secret the workers share
(``TOUCHPOINT_CONTROL_SECRET``), and the receiving worker accepts it only if the
proof holds and the clock is within the skew bound of its own.

A touchpoint whose raw record was read in the partition its customer's state lives in is
decided by ingest's worker at once (one consume instead of two); its copy on
``touchpoints.by-customer`` still goes out for other consumers, with a header that tells the
journey it was applied already, or refused and why (the journey then dead-letters the copy,
from its own place in the topic). The header carries a MAC over the record's key, value and
verdict under the same secret, so a producer cannot make the journey skip or refuse a record:
a copy whose mark does not hold is applied like any other.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, Final

import orjson

from agents.domain.instants import describe_duration
from agents.domain.keyed_hash import KeyedBlake2b
from agents.domain.refusal import FORGED_CONTROL, Rejected

__all__ = [
    "CONTROL_KEY_PREFIX",
    "TICK_KEY",
    "VERDICT_HEADER",
    "Verdicts",
    "sign_tick",
    "verify_tick",
]

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


#: The header of a by-customer record whose touchpoint ingest's worker has decided already: a MAC,
#: and after it, for a refused touchpoint, the refusal as JSON.
VERDICT_HEADER: Final = "touchpoint-decided"
_APPLIED: Final = b"applied"
_MAC_BYTES: Final = 16


class Verdicts:
    """Marks a touchpoint's by-customer copy as applied or refused already, and reads such marks back.

    The mark is a keyed BLAKE2b over the record's key, value and verdict: a producer without the
    secret cannot make the journey skip or refuse a record it never decided. The worker that marked a
    copy applied does not read it back (streams/settled.py), except the last record of a record batch,
    so it keeps nothing of its marks: the MAC decides every mark read.
    """

    def __init__(self, secret: bytes) -> None:
        self._keyed = KeyedBlake2b(
            hashlib.blake2b(b"touchpoint-decided|" + secret, digest_size=32).digest(), _MAC_BYTES
        )

    def _mac(self, key: bytes, value: bytes, verdict: bytes) -> bytes:
        return self._keyed.digest(b"%d|%d|%b%b%b" % (len(key), len(verdict), key, verdict, value))

    def applied(self, key: bytes, value: bytes) -> list[tuple[str, bytes]]:
        """The headers of the copy of a touchpoint applied already."""
        return [(VERDICT_HEADER, self._mac(key, value, _APPLIED) + _APPLIED)]

    def refused(self, key: bytes, value: bytes, rejected: Rejected) -> list[tuple[str, bytes]]:
        """The headers of the copy of a touchpoint refused already: dead-lettered when read back."""
        verdict = orjson.dumps(
            {
                "reason": rejected.reason,
                "message": rejected.message,
                "field": rejected.field,
                "details": rejected.details,
            }
        )
        return [(VERDICT_HEADER, self._mac(key, value, verdict) + verdict)]

    def read(
        self, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> bool | Rejected | None:
        """True: applied already; a Rejected: refused already; None: no genuine mark, apply it."""
        for name, mark in headers:
            if name != VERDICT_HEADER or key is None or value is None:
                continue
            proof, verdict = mark[:_MAC_BYTES], mark[_MAC_BYTES:]
            if not hmac.compare_digest(proof, self._mac(key, value, verdict)):
                return None
            if verdict == _APPLIED:
                return True
            document = orjson.loads(verdict)
            return Rejected(document["reason"], document["message"], document["field"], document["details"])
        return None
