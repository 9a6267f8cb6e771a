"""Dead-letter records: the original bytes, where they came from, and why they were refused."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Final

import orjson

from agents.domain.refusal import Rejected

#: Enough to see what a producer sent without copying a 10 MB mistake into Kafka.
DEFAULT_PAYLOAD_LIMIT: Final = 16 * 1024


def dead_letter_record(
    raw: bytes | None,
    rejected: Rejected,
    *,
    topic: str,
    partition: int,
    offset: int,
    rejected_at: datetime,
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    size: int | None = None,
) -> bytes:
    """Encode the dead-letter record (schemas/dead_letter.v1.json) for one refused record.

    *size* is the record's size where *raw* is only its first bytes (at least *payload_limit* of them, or all).
    """
    raw = raw or b""
    kept = raw[:payload_limit]
    if size is None:
        size = len(raw)
    truncated = size > len(kept)
    text = _as_text(kept, truncated=truncated)
    record = {
        "schema_version": 1,
        "reason": rejected.reason,
        "message": rejected.message,
        "field": rejected.field,
        "payload": text if text is not None else base64.b64encode(kept).decode("ascii"),
        "payload_encoding": "utf-8" if text is not None else "base64",
        "payload_bytes": size,
        "payload_truncated": truncated,
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "rejected_at": rejected_at.isoformat(),
    }
    if rejected.details:
        record["details"] = rejected.details
    return orjson.dumps(record)


def _as_text(data: bytes, *, truncated: bool) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The cut may split one multi-byte character at the very end: drop just that.
        if truncated and exc.start >= len(data) - 3:
            try:
                return data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None
