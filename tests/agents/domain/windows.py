"""Dedupe windows written as (marker, content digest) integers, for tests that read better with small numbers."""

from __future__ import annotations

from agents.domain.dedupe_window import CONTENT, MARKER, entries


def window(*pairs: tuple[int, int]) -> bytes:
    """The packed window of *pairs*, oldest first."""
    return b"".join(
        marker.to_bytes(MARKER, "big") + content.to_bytes(CONTENT, "big") for marker, content in pairs
    )


def pairs(packed: bytes) -> list[tuple[int, int]]:
    """The (marker, content digest) integers of *packed*, oldest first."""
    return [
        (int.from_bytes(marker, "big"), int.from_bytes(content, "big")) for marker, content in entries(packed)
    ]
