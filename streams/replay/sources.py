"""A replay's input: byte ranges that start on a line, each decoded on its own into sorted runs.

Decoding needs nothing from the rest of the file but one thing: a dead-letter record's
``rejected_at`` is the file's event time up to that line, as at least ``time.watermark_quorum``
customers attest it (the arrival clock, agents/journey/watermark.py). A range keeps its own
clock and, with each refused record, the clock's state at that line; whoever writes the
dead-letter file combines it with the clocks of the ranges before (``PartitionClock.combined``),
which gives exactly the clock of the whole prefix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from agents.domain.instants import epoch_micros
from agents.domain.refusal import Rejected
from agents.ingest.dead_letter import DEFAULT_PAYLOAD_LIMIT
from agents.ingest.decode import Accepted, TouchpointDecoder, too_large
from agents.journey.watermark import PartitionClock
from agents.lines import Overlong, lines, skip_line
from streams.files import BOM
from streams.partitioner import partition_for
from streams.replay.handoffs import IdentityRow, identity_row, process_of
from streams.replay.parts import open_for_reading
from streams.replay.runs import RUN_BYTES, RUN_ROWS, Row, read_blocks, write_block, write_run

__all__ = ["Decoded", "Range", "Refusal", "decode_range", "read_refusals", "split"]

#: Bytes read at a time while counting lines.
_BLOCK: Final = 1 << 22
#: Refused records kept in memory before they go to the range's refusals file.
_REFUSALS_PER_BLOCK: Final = 4096

#: (line number, the raw bytes a dead letter shows, the record's size, reason, message, field, details, the
#: range's arrival clock at that line).
Refusal = tuple[int, bytes, int, str, str, str | None, dict[str, str] | None, list[tuple[int, str | bytes]]]


@dataclass(frozen=True)
class Range:
    """Bytes [start, end) of the input, beginning on a line; *first_line* is that line's number."""

    index: int
    start: int
    end: int
    first_line: int


@dataclass
class Decoded:
    """What decoding one range found."""

    index: int
    records: int = 0
    blank_lines: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    #: Touchpoints kept for the journey (those after the as-of day are not).
    accepted: int = 0
    #: Accepted touchpoints that named their customer by identifiers.
    identified: int = 0
    after_as_of: int = 0
    #: The event time (µs since the epoch) of the latest touchpoint kept.
    last_micros: int = 0
    #: The range's arrival clock at its end.
    clock: list[tuple[int, str | bytes]] = field(default_factory=list)
    #: Sorted run files by the process that applies their partitions (``handoffs.process_of``).
    runs: dict[int, list[str]] = field(default_factory=dict)
    #: Sorted runs of the rows identity may move work from (``streams.replay.handoffs``), when asked for.
    identity_runs: list[str] = field(default_factory=list)
    refusals: str | None = None


def split(path: Path, parts: int) -> list[Range]:
    """*path* cut into at most *parts* ranges of about equal size, each starting on a line."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as handle:
        for part in range(1, parts):
            target = max(size * part // parts, bounds[-1])
            if target >= size:
                break
            handle.seek(max(target - 1, 0))
            if target > 0:
                skip_line(handle)  # to the start of the next line (target itself if target - 1 ends one)
            start = handle.tell()
            if bounds[-1] < start < size:
                bounds.append(start)
        lines = _lines_before(handle, bounds)
    ends = [*bounds[1:], size]
    return [
        Range(index, start, end, lines[index])
        for index, (start, end) in enumerate(zip(bounds, ends, strict=True))
    ]


def _lines_before(handle: Any, offsets: list[int]) -> list[int]:
    """How many lines end before each of *offsets* (ascending)."""
    counts: list[int] = []
    handle.seek(0)
    position = lines = 0
    for offset in offsets:
        while position < offset:
            block = handle.read(min(_BLOCK, offset - position))
            if not block:
                break
            lines += block.count(b"\n")
            position += len(block)
        counts.append(lines)
    return counts


def _records(
    path: Path, span: Range, decoded: Decoded, limit: int
) -> Iterator[tuple[int, bytes | Overlong, int]]:
    """(line number, record bytes, bytes read) of each non-empty line of *span*, as ``streams.files`` reads them.

    A record over *limit* bytes comes as an ``Overlong`` (its first bytes and its size): a line of gigabytes
    is refused without being held (agents/lines.py).
    """
    with open_for_reading(path) as handle:
        handle.seek(span.start)
        position, number = span.start, span.first_line
        for line in lines(handle, limit):
            if position >= span.end:
                return
            if isinstance(line, Overlong):
                position += line.length
                yield number, line.removeprefix(BOM) if number == 0 else line, position - span.start
                number += 1
                continue
            position += len(line)
            if line.endswith(b"\n"):
                line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if number == 0:
                line = line.removeprefix(BOM)  # as streams.files.first_record
            if line:
                yield number, line, position - span.start
            else:
                decoded.blank_lines += 1
            number += 1


def decode_range(
    path: Path,
    span: Range,
    decoder: TouchpointDecoder,
    *,
    partitions: int,
    quorum: int,
    as_of: date | None,
    workdir: Path,
    processes: int = 1,
    read: Callable[[int], None] | None = None,
    every: int = 2048,
    identity: bool = False,
    run_bytes: int = RUN_BYTES,
) -> Decoded:
    """Decode *span* of *path*: its accepted touchpoints into sorted runs, its refusals aside.

    Each run holds the rows of the partitions one of *processes* applies, so that a process merges one
    run of each flush, not one of each partition: over ``MERGE_RUNS`` runs, a merge first writes
    every row out again. *read(bytes)* hears how far the range has come, every *every* records. With
    *identity*, the rows identity may move work from go into runs of their own too
    (``Decoded.identity_runs``). A flush comes every ``RUN_ROWS`` touchpoints, or sooner once they hold
    *run_bytes* of JSON.
    """
    decoded = Decoded(span.index)
    clock = PartitionClock(quorum)
    rows: list[Row] = []
    identity_rows: list[IdentityRow] = []
    refusals: list[Refusal] = []
    refusals_path = workdir / f"refused-{span.index}"
    owners = [process_of(partition, processes) for partition in range(partitions)]
    runs = 0
    reported = 0
    #: Bytes of the touchpoints in rows.
    held = 0

    def flush_rows() -> None:
        nonlocal runs, rows, identity_rows
        if identity_rows:
            identity_rows.sort()
            run = workdir / f"identity-{span.index}-{runs}"
            write_run(run, identity_rows)
            decoded.identity_runs.append(str(run))
            identity_rows = []
        by_process: dict[int, list[Row]] = {}
        for row in rows:
            by_process.setdefault(owners[row[2]], []).append(row)
        for process, part in by_process.items():
            part.sort()
            run = workdir / f"run-{span.index}-{runs}-{process}"
            write_run(run, part)
            decoded.runs.setdefault(process, []).append(str(run))
        runs += 1
        rows = []

    def flush_refusals(handle: Any) -> None:
        write_block(handle, refusals)
        refusals.clear()

    with refusals_path.open("wb") as refused:
        for number, line, position in _records(path, span, decoded, decoder.max_bytes):
            decoded.records += 1
            if read is not None and decoded.records % every == 0:
                read(position - reported)
                reported = position
            if isinstance(line, Overlong):
                raw, size = line.head, line.size
                outcome: Accepted | Rejected = too_large(size, decoder.max_bytes)
            else:
                raw, size = line, len(line)
                outcome = decoder.decode(raw)
            if isinstance(outcome, Rejected):
                decoded.rejected[outcome.reason] += 1
                refusals.append(
                    (
                        number,
                        # Only what its dead letter shows: thousands of refusals are held before they are written.
                        raw[:DEFAULT_PAYLOAD_LIMIT],
                        size,
                        outcome.reason,
                        outcome.message,
                        outcome.field,
                        outcome.details,
                        clock.snapshot(),
                    )
                )
                if len(refusals) >= _REFUSALS_PER_BLOCK:
                    flush_refusals(refused)
                continue
            accepted: Accepted = outcome
            if "identifiers" in accepted.event:
                decoded.identified += 1
            occurred = accepted.occurred_at
            clock.observe(accepted.customer_id, int(accepted.occurred_seconds))
            if as_of is not None and occurred.date() > as_of:
                decoded.after_as_of += 1
                continue
            decoded.accepted += 1
            partition = partition_for(accepted.customer_id.encode(), partitions)
            claims = tuple((c.key, c.customer, c.event_id, c.at) for c in accepted.claims)
            micros = epoch_micros(occurred, accepted.occurred_seconds)
            decoded.last_micros = max(decoded.last_micros, micros)
            # A copy of the body, of its own size: orjson's output sits in a 4 KiB allocation shrunk in
            # place, and a run's worth of those held at once would take 4 KiB a row, not a few hundred bytes.
            body = bytes(memoryview(accepted.body))
            rows.append((micros, number, partition, accepted.customer_id, body, claims))
            if identity:
                moving = identity_row(micros, number, partition, accepted.customer_id, claims, body)
                if moving is not None:
                    identity_rows.append(moving)
            held += len(body)
            if len(rows) >= RUN_ROWS or held >= run_bytes:
                flush_rows()
                held = 0
        if rows:
            flush_rows()
        if refusals:
            flush_refusals(refused)
    if read is not None:
        read(span.end - span.start - reported)
    decoded.clock = clock.snapshot()
    decoded.refusals = str(refusals_path)
    return decoded


def read_refusals(path: str) -> Iterator[Refusal]:
    """The refusals of one range, in file order."""
    with open(path, "rb") as handle:
        for block in read_blocks(handle):
            yield from block
