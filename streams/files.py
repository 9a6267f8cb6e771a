"""JSONL record files, read the same way by ``touchpoint produce`` and ``touchpoint replay``.

One record per line; the line's bytes (without the newline, and without a
trailing CR from Windows editors) are the record value, valid or not. Empty
lines are skipped by both, so a trailing newline never becomes a record; the
caller hears of each one (``on_blank``) to say how many it skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path


def read_records(path: Path, on_blank: Callable[[int], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (zero-based line number, record bytes) for each non-empty line of *path*.

    *on_blank* is called with the line number of each empty line skipped.
    """
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if line.endswith(b"\n"):
                line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if line:
                yield number, line
            elif on_blank is not None:
                on_blank(number)
