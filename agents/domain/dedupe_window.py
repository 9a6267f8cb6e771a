"""A customer's dedupe window: the recent events it took, packed as the bytes its changelog record holds.

Each entry is 12 bytes, oldest first: the 64-bit keyed digest of an event's id (the *marker*) and the
32-bit digest of its content, both big-endian. The state keeps the window packed rather than as a
dict of integers: one object instead of about seventeen (a dict and two integers an entry), some
800 bytes less per customer at the default window of 16, and nothing to pack or unpack when the state
is written to its changelog or read back. A window holds a few dozen entries at most, so finding a
marker is a scan of a few hundred bytes.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CONTENT", "ENTRY", "MARKER", "combined", "content_of", "entries", "remembered"]

MARKER: Final = 8
CONTENT: Final = 4
ENTRY: Final = MARKER + CONTENT


def content_of(window: bytes, marker: bytes) -> bytes | None:
    """The content digest kept with *marker* (8 bytes) in *window*, or None if it is not there."""
    start = window.find(marker)
    # A marker's bytes may also occur across two entries: only a match at an entry's start counts.
    while start >= 0:
        if start % ENTRY == 0:
            return window[start + MARKER : start + ENTRY]
        start = window.find(marker, start + 1)
    return None


def remembered(window: bytes, entry: bytes, size: int) -> bytes:
    """*window* with *entry* (12 bytes, its marker not in the window) as the newest, and at most *size*
    entries: the oldest beyond it are forgotten."""
    window += entry
    excess = len(window) - size * ENTRY
    return window[excess:] if excess > 0 else window


def entries(window: bytes) -> list[tuple[bytes, bytes]]:
    """The (marker, content digest) pairs of *window*, oldest first."""
    return [
        (window[start : start + MARKER], window[start + MARKER : start + ENTRY])
        for start in range(0, len(window), ENTRY)
    ]


def combined(older: bytes, newer: bytes, size: int) -> bytes:
    """One window of two customers' (a merge): *older*'s entries in their order, then *newer*'s not in it;
    a marker in both keeps *newer*'s content where *older* had it. At most *size* entries: the newest."""
    kept = dict(entries(older))
    kept.update(entries(newer))
    return remembered(b"", b"".join(marker + content for marker, content in kept.items()), size)
