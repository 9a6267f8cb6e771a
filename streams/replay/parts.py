"""A replay's output files, written by one process or put together from several.

One process writes each output line straight into its file, in the order it applies the
touchpoints. Several processes (each applying some partitions) write part files instead, each
line tagged with its place in that order: the event time and line number of the touchpoint
whose turn made it, the step of that turn (identity hands some steps to another process:
``streams.replay.handoffs``), then a sequence number. Merging the parts by tag gives, byte for byte,
what one process writes; the tags are fixed-width hex, so lines compare as bytes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, Final

__all__ = [
    "BUFFER_BYTES",
    "END",
    "READ_EVERY",
    "TAG_BYTES",
    "Lines",
    "merge_parts",
    "merge_sorted",
    "merged_lines",
    "open_for_reading",
    "open_for_writing",
]

#: The event time given to what happens after the last touchpoint (the as-of day's end, the final clock).
END: Final = (1 << 56) - 1
#: Buffer of each output and part file, and of the input read line by line. A line is a few hundred
#: bytes: with the default buffer (the file system's block, 4 KiB here) every dozen lines would be a
#: system call, and a replay writes several lines per record and reads its parts back.
BUFFER_BYTES: Final = 1 << 20
#: Width of a tag: 14 hex digits of event time (µs), 10 of line number, 4 of step, 10 of sequence.
TAG_BYTES: Final = 38
#: Bytes of parts merged between two reports of progress.
READ_EVERY: Final = 1 << 20


def open_for_writing(path: Path, append: bool = False) -> BinaryIO:
    """An output or part file, written through a ``BUFFER_BYTES`` buffer."""
    return path.open("ab" if append else "wb", buffering=BUFFER_BYTES)


def open_for_reading(path: Path) -> BinaryIO:
    """An input or part file read line by line, through a ``BUFFER_BYTES`` buffer."""
    return path.open("rb", buffering=BUFFER_BYTES)


#: The tags' line sequences a turn usually reaches, written out once.
_SEQUENCES: Final = tuple(b"%010x" % sequence for sequence in range(64))


class Lines:
    """Where one process's output lines go: the output files themselves, or tagged part files."""

    def __init__(self, files: Mapping[str, BinaryIO], tagged: bool) -> None:
        self._tagged = tagged
        #: Each file's own write, looked up once: a replay writes several lines per record.
        self._writes = {name: handle.write for name, handle in files.items()}
        self._tag = b""
        self._sequence = 0

    def at(self, micros: int, line: int, step: int = 0) -> None:
        """What is written next belongs to the turn of the touchpoint at *micros* µs, file line *line*, and to
        *step* of that turn."""
        if self._tagged:
            self._tag = b"%014x%010x%04x" % (micros, line, step)
            self._sequence = 0

    def write(self, name: str, payload: bytes) -> None:
        """Write one line (without its newline) to the output *name*."""
        if self._tagged:
            # Joined, not formatted: half the time, for every line a process writes.
            sequence = self._sequence
            mark = _SEQUENCES[sequence] if sequence < len(_SEQUENCES) else b"%010x" % sequence
            self._writes[name](b"".join((self._tag, mark, payload, b"\n")))
            self._sequence += 1
        else:
            self._writes[name](payload + b"\n")


@contextmanager
def merged_lines(parts: Iterable[Path]) -> Iterator[Iterator[bytes]]:
    """The lines of *parts*, each file in order already, as one stream in order; every file open meanwhile.

    ``heapq.merge`` holds a line of each file and the files' buffers, never a whole file. Merged a round at a
    time instead, as the sorted runs are (``streams.replay.runs``), these lines took as long: reading and
    writing them is what costs.
    """
    with ExitStack() as stack:
        yield heapq.merge(*[stack.enter_context(open_for_reading(part)) for part in parts])


# Both write line by line: compiled, ``out.writelines(<generator expression>)`` built the whole list of
# lines first, so merging a replay's parts took as much memory as its largest output file.


def merge_parts(parts: Iterable[Path], out: BinaryIO, read: Callable[[int], None] | None = None) -> None:
    """Append the lines of tagged *parts* to *out* in tag order, tags removed; *read(n)* hears of every
    ``READ_EVERY`` bytes or so of *parts* merged, and of the rest at the end."""
    _merge(parts, out, None, read)


def merge_sorted(
    parts: Iterable[Path],
    out: BinaryIO,
    separator: bytes = b"\x00",
    read: Callable[[int], None] | None = None,
) -> None:
    """Append the lines of *parts*, each sorted by the key before *separator*, to *out* in key order, keys removed;
    *read* as ``merge_parts``'."""
    _merge(parts, out, separator, read)


def _merge(
    parts: Iterable[Path], out: BinaryIO, separator: bytes | None, read: Callable[[int], None] | None
) -> None:
    """Each line of *parts*, in order, less its tag (*separator* None) or its key up to *separator*."""
    with merged_lines(parts) as lines:
        write = out.write
        count = 0
        for line in lines:
            write(line[TAG_BYTES:] if separator is None else line.partition(separator)[2])
            count += len(line)
            if count >= READ_EVERY and read is not None:
                read(count)
                count = 0
        if read is not None:
            read(count)
