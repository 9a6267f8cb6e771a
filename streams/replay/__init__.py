"""Offline replay: the worker's processing core over a JSONL file, in event-time order, no broker.

Same input, same output, byte for byte, with any number of processes: nothing here reads
the wall clock; the dead-letter ``rejected_at`` is the event-time watermark, and ties in
event time keep file order.

There is no broker timestamp in a file, so no record is refused as ``future``.
Instead time comes from the touchpoints, as on a live partition: each customer belongs to
the partition the live worker would give it (``partitions``, 4 by default), and a partition's
clock is the newest time reached by at least ``time.watermark_quorum`` distinct customers
(agents/journey/watermark.py). Deadlines fire as their partition's clock passes them, and
at the end up to the replay's clock (all partitions together): a single record dated 2099
changes its own customer's outputs, and nobody else's.

With ``as_of`` (a date) replay answers "what did we know at the end of that day":
touchpoints on later (local) days are not applied, deadlines fire up to the end of
the day, and the customers file reads the models on that day.

Erasures (``erasures``: erasure requests or the workers' confirmations) are honoured. Each
goes through the journey step at its ``requested_at``, in event-time order, in its customer's
partition, so everyone else's outputs are the ones the worker made; and nothing about an
erased customer up to their erasure is written to any file (a newer touchpoint starts a new
customer, written as usual). ``erasures.jsonl`` lists each erasure applied.

Every file holds identifiers only as keyed hashes, as every topic past ingest does, except
the dead-letters, which keep refused records as they came.

A year of history fits: decoding sorts the accepted touchpoints into runs on disk
(``streams.replay.runs``), so memory grows with the customers, not the records, and the
states not touched lately are kept encoded (``streams.replay.states``). With
``processes`` above one, ranges of the file are decoded in parallel and the partitions are
applied in parallel, each process writing tagged parts that are merged into the same bytes
one process writes (``streams.replay.parts``). Where the partitions meet (agents/coordination/), a
queue's warning digests gather every partition's warnings and progress in their common order but
feed nothing back: each process logs them and the merge makes the digests (``streams.replay.signals``).
The population's best-customer thresholds feed back into every partition's judgement: each process
sketches its own buyers at each boundary, and the processes exchange the sketches before the first
row that knows the boundary's threshold (``streams.replay.thresholds``). Identity moves work between
partitions within a touchpoint's turn: every process reads, from the rows decoding set aside, where it
must hand work to another and where it must wait for another's, and the processes send each other
just that (``streams.replay.handoffs``).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

import schemas
from agents.coordination.coordinator import Coordinator
from agents.domain.instants import DAY, day_number
from agents.domain.refusal import Rejected
from agents.domain.state import CustomerState
from agents.ingest.dead_letter import dead_letter_record
from agents.ingest.decode import TouchpointDecoder
from agents.journey.erasure import requested_instant
from agents.journey.track import JourneyTracker
from agents.journey.watermark import PartitionClock
from agents.lines import Overlong
from streams import topics
from streams.files import STDIN, lines_size, read_records, spool
from streams.partitioner import partition_for
from streams.processes import end_with_parent
from streams.replay.handoffs import HandoffPlan, Handoffs, process_of
from streams.replay.parts import Lines, merge_parts, merge_sorted, open_for_writing
from streams.replay.runs import merged
from streams.replay.shard import ALERTS, AS_OF, CUSTOMERS, Applied, Erasure, Shard
from streams.replay.signals import merge_alerts
from streams.replay.sources import Decoded, Range, decode_range, read_refusals, split
from streams.replay.states import OBJECTS
from streams.replay.thresholds import Known, Population, Request, Requests
from streams.replay.workdir import (
    STAGED,
    LeftBehind,
    check_room_for,
    left_behind_line,
    move_outputs,
    output_folder,
    working_folder,
)
from streams.runtime.heap import collector_paused

__all__ = [
    "ALERTS",
    "AS_OF",
    "CUSTOMERS",
    "OUTPUT_FILES",
    "PARTITIONS",
    "InputIsAnOutput",
    "ProcessEnded",
    "Progress",
    "ReplaySummary",
    "read_erasures",
    "replay",
    "room_needed",
]

#: Output topic → file written in the output directory.
OUTPUT_FILES = {
    topics.BY_CUSTOMER: "by-customer.jsonl",
    topics.DEAD_LETTER: "dead-letter.jsonl",
    topics.ENRICHED: "enriched.jsonl",
    topics.TRANSITIONS: "transitions.jsonl",
    ALERTS: "alerts.jsonl",
    topics.IDENTITY_MERGES: "merges.jsonl",
    topics.IDENTITY_CONFLICTS: "conflicts.jsonl",
    topics.ERASURES: "erasures.jsonl",
    CUSTOMERS: "customers.jsonl",
}
#: Files written in touchpoint order (the customers file is in customer order).
_ORDERED = (
    topics.BY_CUSTOMER,
    topics.DEAD_LETTER,
    topics.ENRICHED,
    topics.TRANSITIONS,
    ALERTS,
    topics.IDENTITY_MERGES,
    topics.IDENTITY_CONFLICTS,
    topics.ERASURES,
)

#: Partitions customers are spread over, as the live worker's default (TOUCHPOINT_PARTITIONS).
PARTITIONS: Final = 4

#: The most room a replay takes in its output folder, in bytes for each byte of its input (plain JSONL), in
#: one process and in more, with a tenth or so to spare: the sorted runs and the outputs in one; the runs,
#: each process's tagged parts, then the outputs merged from them in more. On simulator traffic, whose
#: outputs take 3.8 times its input, the peak was 4.9 and 5.0 times the input in one process at 1M and 4M
#: records, 5.7-6.1 and 6.2 in two, and 6.6 in four at 100,000 (bench/RESULTS.md): the last file merged, the
#: enriched events, is over half the bytes, and its parts and every output are on disk at once. Rules that
#: raise more alerts, or enriched events that keep more attributes, take more.
ROOM_IN_ONE_PROCESS: Final = 5.5
ROOM_IN_MORE: Final = 7.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: ``progress(stage, done, total)``: how far a replay has come, for a progress display.
Progress = Callable[[str, int, int], None]
#: Records between two progress reports.
PROGRESS_EVERY = 2048


@dataclass
class ReplaySummary:
    records: int = 0
    #: Empty lines in the file, skipped (not records).
    blank_lines: int = 0
    accepted: int = 0
    #: Accepted touchpoints that named their customer by identifiers (written hashed).
    identified: int = 0
    #: Customers forgotten on request, and touchpoints of theirs left out (up to their erasure).
    erased: int = 0
    erased_touchpoints: int = 0
    duplicates: int = 0
    transitions: int = 0
    #: Identity: anonymous profiles merged into customers, identifiers claimed by several customers.
    merges: int = 0
    conflicts: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    customers: int = 0
    #: Messages the processes sent each other with the work identity moved between their partitions.
    handoffs: int = 0
    #: Touchpoints after the as-of day, not applied.
    after_as_of: int = 0
    as_of: date | None = None
    stages: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    #: Accepted by ingest, refused by the journey (conflicting duplicates, too old for the customer).
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)
    #: Every key's final state, by key: customers, anonymous profiles, identifiers' records.
    states: Mapping[str, CustomerState] = field(default_factory=dict, repr=False)
    #: Working folders of killed replays, found in the output folder and removed (``streams.replay.workdir``).
    left_behind: list[LeftBehind] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        refusals = self.rejected + self.refused
        lines = [
            f"replayed {self.records:,} records in {self.seconds:.2f} s ({self.events_per_second:,.0f} records/s)",
            *(
                [f"  blank lines  {self.blank_lines:>10,}  (skipped, not records)"]
                if self.blank_lines
                else []
            ),
            f"  accepted     {self.accepted:>10,}  → {self.outputs[topics.BY_CUSTOMER]}",
            f"  dead-letters {sum(refusals.values()):>10,}  → {self.outputs[topics.DEAD_LETTER]}",
        ]
        lines.extend(f"    {reason:<21} {count:>10,}" for reason, count in sorted(refusals.items()))
        lines.append(f"  duplicates   {self.duplicates:>10,}  (dropped)")
        lines.append(
            f"  enriched     {self.accepted - self.duplicates - sum(self.refused.values()):>10,}  → "
            f"{self.outputs[topics.ENRICHED]}"
        )
        lines.append(f"  transitions  {self.transitions:>10,}  → {self.outputs[topics.TRANSITIONS]}")
        lines.append(
            f"  alerts       {sum(self.alerts.values()):>10,}  → {self.outputs[ALERTS]}  (records, incl. status changes)"
        )
        lines.extend(f"    {kind:<28} {count:>6,}" for kind, count in sorted(self.alerts.items()))
        lines.append(f"  merges       {self.merges:>10,}  → {self.outputs[topics.IDENTITY_MERGES]}")
        lines.append(f"  conflicts    {self.conflicts:>10,}  → {self.outputs[topics.IDENTITY_CONFLICTS]}")
        if self.handoffs:
            lines.append(
                f"  hand-offs    {self.handoffs:>10,}  (identity's work, from one process to another)"
            )
        if self.erased:
            lines.append(
                f"  erasures     {self.erased:>10,}  → {self.outputs[topics.ERASURES]}  "
                f"({self.erased_touchpoints:,} touchpoints of erased customers left out)"
            )
        stages = ", ".join(
            f"{stage} {count:,}"
            for stage, count in sorted(self.stages.items(), key=lambda item: (-item[1], item[0]))
        )
        lines.append(f"  customers    {self.customers:>10,}  → {self.outputs[CUSTOMERS]}  ({stages})")
        if self.as_of is not None:
            lines.append(f"  as of {self.as_of}: {self.after_as_of:,} later touchpoints not applied")
        lines.extend(f"  {left_behind_line(folder)}" for folder in self.left_behind)
        return "\n".join(lines)


# A replay keeps every customer's state alive to the end.
@collector_paused()
def replay(
    path: Path,
    out_dir: Path,
    decoder: TouchpointDecoder,
    tracker: JourneyTracker,
    as_of: date | None = None,
    progress: Progress | None = None,
    *,
    processes: int = 1,
    partitions: int = PARTITIONS,
    erasures: Iterable[dict[str, object]] = (),
    objects: int = OBJECTS,
) -> ReplaySummary:
    """Process every record of *path* and write one JSONL file per output topic into *out_dir*.

    The files appear in *out_dir* once every one is written whole; until then they are written in a working
    folder there, removed at the end. A replay that fails (a full disk, a corrupt input) leaves *out_dir* as
    it was, with the files of any earlier replay. At its peak a replay takes about ``room_needed`` there.

    Deadlines fire as each partition's event-time watermark (the newest time reached by a quorum
    of its customers, less the allowed lateness) passes them, as on a live partition, and at the
    end as far as the replay's watermark (all partitions together) has come; none fire past it.
    *path* may be compressed (gzip, bzip2, xz or zstd; ``streams.files``), or ``streams.files.STDIN``: it is
    first written out into a working folder in *out_dir* (and removed once decoded), and RecordFileError says where compressed data
    is corrupt or cut short. *progress* hears ``("unpacking", bytes of it read, its size)`` for a
    compressed file, ``("reading", bytes read, file size)``, then ``("applying", touchpoints applied,
    touchpoints)``, every few thousand records, and with more than one process ``("writing", bytes of the
    processes' parts merged into the outputs, their size)``. *erasures* (validated erasure requests or
    confirmations) are applied at their instants, and nothing about an erased customer up to their
    erasure is written. With *processes* above one the work is
    shared by that many processes (at most one per partition), the output is the same, and the
    summary has no ``states``. *objects*: states each process keeps as objects, the rest encoded
    (``streams.replay.states``); the output is the same for any number.

    One replay at a time writes into *out_dir*: OutputFolderBusy if another is. The working folders that
    killed replays left there are removed first (``summary.left_behind``; ``streams.replay.workdir``).
    """
    started = time.perf_counter()
    outputs = {topic: out_dir / name for topic, name in OUTPUT_FILES.items()}
    if path != STDIN and any(output.exists() and output.samefile(path) for output in outputs.values()):
        raise InputIsAnOutput(
            f"{path} would be replaced by the replay's own {path.name}: choose another output folder"
        )
    # Before hours of work, not when the outputs are moved in.
    check_room_for(out_dir, OUTPUT_FILES.values())
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = ReplaySummary(outputs=outputs, as_of=as_of)
    processes = max(1, min(processes, partitions))
    ordered = sorted(erasures, key=lambda request: (requested_instant(request), str(request["customer_id"])))
    job = _Job(path, decoder, tracker, as_of, partitions, PROGRESS_EVERY, progress, objects)
    job.source = f"file:{path.name}"
    job.handoffs = processes > 1 and tracker.resolver is not None
    job.processes = processes
    job.erasures = [
        (requested_instant(request), str(request["customer_id"]), index, request)
        for index, request in enumerate(ordered)
    ]
    with output_folder(out_dir) as summary.left_behind, working_folder(out_dir) as workdir:
        job.workdir = workdir
        # The outputs are written in the working folder and moved into out_dir once every one is whole: a
        # replay that fails (a full disk, a corrupt input) leaves out_dir as it was, earlier outputs and all.
        staged = job.workdir / STAGED
        staged.mkdir()
        writing = {topic: staged / name for topic, name in OUTPUT_FILES.items()}
        job.path = _spooled(path, job.workdir, progress) or path
        ranges = split(job.path, processes)
        decoded = job.decode(ranges)
        if job.path != path:
            job.path.unlink()  # the unpacked lines, read: room for the outputs
        for part in decoded:
            summary.records += part.records
            summary.blank_lines += part.blank_lines
            summary.rejected.update(part.rejected)
            summary.accepted += part.accepted
            summary.identified += part.identified
            summary.after_as_of += part.after_as_of
        with open_for_writing(writing[topics.DEAD_LETTER]) as dead_letters:
            _write_refusals(decoded, job.source, tracker.config.time.watermark_quorum, dead_letters)
        applied = job.apply(decoded, processes, summary.accepted, writing)
        # Every output or none: a stop asked for while they are moved waits until they all have been, and a
        # replay killed meanwhile leaves the rest to be moved in by the next (streams.replay.workdir).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
        try:
            move_outputs(workdir, out_dir)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    summary.states = job.states
    summary.duplicates = applied.duplicates
    summary.transitions = applied.transitions
    summary.merges = applied.merges
    summary.conflicts = applied.conflicts
    summary.alerts = applied.alerts
    summary.refused = applied.refused
    summary.erased = applied.erased
    summary.erased_touchpoints = applied.erased_touchpoints
    summary.customers = applied.customers
    summary.stages = applied.stages
    summary.handoffs = applied.handoffs
    summary.seconds = time.perf_counter() - started
    return summary


def room_needed(path: Path, processes: int) -> int | None:
    """About the most room, in bytes, a replay of *path* in *processes* takes in its output folder, from the
    bytes its lines take (``streams.files.lines_size``: a compressed file's are estimated from its start);
    None where those cannot be told before the replay reads them (the standard input, a pipe).

    A compressed file's lines are unpacked into the working folder first, and removed once decoded: they and
    the sorted runs take less than the runs and the outputs do later."""
    lines = lines_size(path)
    if lines is None:
        return None
    return round(lines * (ROOM_IN_ONE_PROCESS if processes <= 1 else ROOM_IN_MORE))


def _spooled(path: Path, workdir: Path, progress: Progress | None) -> Path | None:
    """*path*'s lines in *workdir* if it is compressed or the standard input (streams.files), None if it is
    a plain file.

    Written out once, before anything else: the processes then read ranges of it, as of a plain file.
    """
    unpacking = (lambda done, size: progress("unpacking", done, size)) if progress is not None else None
    return spool(path, workdir / "input.jsonl", unpacking)


def _write_refusals(decoded: list[Decoded], source: str, quorum: int, out: BinaryIO) -> None:
    """Ingest's dead letters, in file order, each at the file's event time up to its line."""
    before: list[list[tuple[int, str | bytes]]] = []
    for part in decoded:
        prefix = PartitionClock.combined(quorum, *before).snapshot()
        for number, raw, size, reason, message, field_name, details, clock in read_refusals(
            part.refusals or ""
        ):
            at = PartitionClock.combined(quorum, prefix, clock).time
            rejected = Rejected(reason, message, field_name, details)
            out.write(
                dead_letter_record(
                    raw,
                    rejected,
                    topic=source,
                    partition=0,
                    offset=number,
                    rejected_at=_instant(at),
                    size=size,
                )
            )
            out.write(b"\n")
        before.append(part.clock)


def _instant(seconds: int | None) -> datetime:
    return _EPOCH if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass
class _Job:
    """One replay's inputs, and how it runs its two steps (decode, apply) in one or more processes."""

    #: The file read: the input itself, or its lines unpacked into the working folder.
    path: Path
    decoder: TouchpointDecoder
    tracker: JourneyTracker
    as_of: date | None
    partitions: int
    every: int
    progress: Progress | None
    objects: int = OBJECTS
    workdir: Path = Path()
    size: int = 0
    #: Every erasure, in (instant, customer) order.
    erasures: list[Erasure] = field(default_factory=list)
    #: Where the records came from, as the outputs name it (``file:`` and the input's own name).
    source: str = ""
    #: The event time (µs) of the last touchpoint applied, all partitions together.
    last_micros: int = 0
    #: Decoding sets aside the rows identity may move work from: several processes apply identity.
    handoffs: bool = False
    #: Processes applying the partitions: decoding writes a run for each.
    processes: int = 1
    #: Every key's final state, where one process applied them all.
    states: Mapping[str, CustomerState] = field(default_factory=dict)

    def decode(self, ranges: list[Range]) -> list[Decoded]:
        self.size = self.path.stat().st_size
        if len(ranges) == 1:
            done = 0

            def read(count: int) -> None:
                nonlocal done
                done += count
                if self.progress is not None:
                    self.progress("reading", done, self.size)

            return [self._decode(ranges[0], read)]
        counter = _CONTEXT.Value("q", 0, lock=False)

        def count(amount: int) -> None:
            counter.value += amount

        results = _run_children(
            [partial(self._decode_child, span, count) for span in ranges],
            lambda: self._report("reading", counter.value, self.size),
        )
        return [result for result in results if isinstance(result, Decoded)]

    def _decode_child(self, span: Range, read: Callable[[int], None], _barrier: _Barrier) -> Decoded:
        return self._decode(span, read)

    def _decode(self, span: Range, read: Callable[[int], None]) -> Decoded:
        return decode_range(
            self.path,
            span,
            self.decoder,
            partitions=self.partitions,
            quorum=self.tracker.config.time.watermark_quorum,
            as_of=self.as_of,
            workdir=self.workdir,
            processes=self.processes,
            read=read if self.progress is not None else None,
            every=self.every,
            identity=self.handoffs,
        )

    def apply(
        self, decoded: list[Decoded], processes: int, total: int, outputs: Mapping[str, Path]
    ) -> Applied:
        """Apply the *total* touchpoints *decoded*, in *processes*, writing every one of *outputs* (topic → file)."""
        runs: dict[int, list[Path]] = {}
        self.last_micros = max((part.last_micros for part in decoded), default=0)
        for part in decoded:
            for process, paths in part.runs.items():
                runs.setdefault(process, []).extend(map(Path, paths))
        shards = [
            [p for p in range(self.partitions) if process_of(p, processes) == index]
            for index in range(processes)
        ]
        identity_runs = [Path(run) for part in decoded for run in part.identity_runs]
        if processes == 1:
            with ExitStack() as stack:
                files = {
                    name: stack.enter_context(
                        open_for_writing(outputs[name], append=name == topics.DEAD_LETTER)
                    )
                    for name in _ORDERED
                }
                shard = Shard(
                    self.tracker,
                    Lines(files, tagged=False),
                    self.source,
                    self.partitions,
                    self.erasures,
                    self.objects,
                )
                done = 0

                def applied(count: int) -> None:
                    nonlocal done
                    done += count
                    self._report("applying", done, total)

                shard.apply(
                    merged(p for ps in runs.values() for p in ps),
                    applied if self.progress else None,
                    self.every,
                )
                _remove(*(p for ps in runs.values() for p in ps), *identity_runs)
                until, latest = self._final_clock(shard.clocks()), shard.latest_seen()
                shard.end(shards[0], self.as_of, until, self.last_micros)
                with open_for_writing(outputs[CUSTOMERS]) as customers:
                    day = self._day(until, latest)
                    customers.writelines(line + b"\n" for _, line in shard.customers(day))
            self._report("applying", total, total)
            self.states = shard.states
            return shard.summarize()
        counter = _CONTEXT.Value("q", 0, lock=False)

        def count(amount: int) -> None:
            counter.value += amount

        population = Requests(Population(self.tracker.config, processes), processes)
        # With identity resolution on, a pipe between every two processes for their hand-offs.
        peers: list[dict[int, Connection]] = [{} for _ in range(processes)]
        if self.handoffs:
            for one in range(processes):
                for other in range(one + 1, processes):
                    peers[one][other], peers[other][one] = _CONTEXT.Pipe()
        try:
            results = _run_children(
                [
                    partial(
                        self._apply_shard,
                        index,
                        owned,
                        runs.get(index, []),
                        count,
                        identity_runs,
                        peers[index],
                    )
                    for index, owned in enumerate(shards)
                ],
                lambda: self._report("applying", counter.value, total),
                barrier=self._barrier,
                serve=population.serve,
            )
        finally:
            for pipes in peers:
                for pipe in pipes.values():
                    pipe.close()
        self._report("applying", total, total)
        # Each working file is removed once read for the last time: a replay needs room for the sorted runs
        # and the parts or the outputs, never all of them at once.
        _remove(*(p for ps in runs.values() for p in ps), *identity_runs)
        parts = [self.workdir / f"shard-{index}" for index in range(processes)]
        # The enriched events are over half of the output's bytes: one process merges them while another
        # merges every other file.
        others = [name for name in (*_ORDERED, CUSTOMERS) if name != topics.ENRICHED]
        size = sum(path.stat().st_size for part in parts for path in part.iterdir())
        # A counter for each merging process: neither adds to what the other may be adding to.
        merged_bytes = [_CONTEXT.Value("q", 0, lock=False) for _ in range(2)]
        merges: list[Callable[[_Barrier], Any]] = [
            partial(self._merge_child, parts, {name: outputs[name] for name in names}, partial(_add, counter))
            for names, counter in zip(([topics.ENRICHED], others), merged_bytes, strict=True)
        ]
        digests: Counter[str] = Counter()
        for counts in _run_children(
            merges, lambda: self._report("writing", sum(counter.value for counter in merged_bytes), size)
        ):
            digests.update(counts)
        self._report("writing", size, size)
        total_applied = Applied()
        for result in results:
            assert isinstance(result, Applied)
            total_applied.duplicates += result.duplicates
            total_applied.transitions += result.transitions
            total_applied.merges += result.merges
            total_applied.conflicts += result.conflicts
            total_applied.alerts.update(result.alerts)
            total_applied.refused.update(result.refused)
            total_applied.erased += result.erased
            total_applied.erased_touchpoints += result.erased_touchpoints
            total_applied.customers += result.customers
            total_applied.stages.update(result.stages)
            total_applied.handoffs += result.handoffs
        total_applied.alerts.update(digests)
        return total_applied

    def _apply_shard(
        self,
        index: int,
        owned: list[int],
        runs: list[Path],
        count: Callable[[int], None],
        identity_runs: list[Path],
        peers: dict[int, Connection],
        barrier: _Barrier,
    ) -> Applied:
        folder = self.workdir / f"shard-{index}"
        folder.mkdir()
        with ExitStack() as stack:
            files = {
                name: stack.enter_context(open_for_writing(folder / OUTPUT_FILES[name])) for name in _ORDERED
            }
            mine = set(owned)
            erasures = [e for e in self.erasures if partition_for(e[1].encode(), self.partitions) in mine]
            handoffs = None
            resolver = self.tracker.resolver
            if resolver is not None:
                # Every process reads every erasure: its customer's identifiers may be applied here.
                erasures = self.erasures
                processes = len(peers) + 1
                plan = HandoffPlan(self.partitions, processes, index, resolver, erasures)
                handoffs = Handoffs(index, processes, plan(merged(identity_runs)), peers)
            shard = Shard(
                self.tracker,
                Lines(files, tagged=True),
                self.source,
                self.partitions,
                erasures,
                self.objects,
                log_signals=True,
                exchange=barrier.exchange,
                handoffs=handoffs,
            )
            shard.apply(merged(runs), count, self.every)
            shard.sketch_all(self._last_instant())
            # Every process's clocks, combined: where the replay as a whole has come to.
            barrier.send((shard.clocks(), shard.latest_seen()))
            until, latest = barrier.recv()
            shard.end(owned, self.as_of, until, self.last_micros)
        with open_for_writing(folder / OUTPUT_FILES[CUSTOMERS]) as customers:
            day = self._day(until, latest)
            customers.writelines(
                customer_id.encode() + b"\x00" + line + b"\n" for customer_id, line in shard.customers(day)
            )
        return shard.summarize()

    def _merge_child(
        self, parts: list[Path], outputs: dict[str, Path], read: Callable[[int], None], _barrier: _Barrier
    ) -> Counter[str]:
        """Merge the processes' *parts* into the *outputs* (name → file), telling *read* the bytes of parts merged;
        the warning digests' counts, if made here."""
        digests: Counter[str] = Counter()
        for name in outputs:
            written = [part / OUTPUT_FILES[name] for part in parts]
            if name == CUSTOMERS:
                with open_for_writing(outputs[name]) as out:
                    merge_sorted(written, out, read=read)
            else:
                with open_for_writing(outputs[name], append=name == topics.DEAD_LETTER) as out:
                    if name == ALERTS:
                        # The processes logged the coordinator's calls among their alerts: the digests are made here.
                        coordinator = Coordinator(self.tracker.config, self.partitions)
                        coordinator.population = None
                        digests = merge_alerts(written, out, coordinator, read)
                    else:
                        merge_parts(written, out, read)
            _remove(*written)
        return digests

    def _barrier(self, messages: list[Any]) -> tuple[int | None, int]:
        """Every process's partition clocks and latest instants: the replay's clock, and its latest instant."""
        snapshots = [snapshot for shard_clocks, _ in messages for snapshot in shard_clocks]
        latest = max((seen for _, seen in messages), default=0)
        return self._final_clock(snapshots), latest

    def _last_instant(self) -> int:
        """The latest instant (seconds) a replay can judge: the end of the day of its last touchpoint or as-of day."""
        last = self.last_micros // 1_000_000
        if self.as_of is not None:
            last = max(last, (day_number(self.as_of) + 1) * DAY - 1)
        return (last // DAY + 1) * DAY - 1

    def _final_clock(self, snapshots: list[list[tuple[int, str | bytes]]]) -> int | None:
        return PartitionClock.combined(self.tracker.config.time.watermark_quorum, *snapshots).time

    def _day(self, clock: int | None, latest: int) -> int:
        if self.as_of is not None:
            return day_number(self.as_of)
        # With a single customer nothing is attested by a quorum: read the models at that customer's own time.
        return (clock if clock is not None else latest) // DAY

    def _report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


def _add(counter: Any, amount: int) -> None:
    counter.value += amount


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class InputIsAnOutput(ValueError):
    """The file to replay is one of the files the replay writes, which would replace it."""


class ProcessEnded(RuntimeError):
    """One of a replay's processes ended without its result or an error it could tell: it was killed, most
    often (on Linux, by the kernel when memory ran out)."""

    def __init__(self, index: int, exit_code: int | None) -> None:
        self.index, self.exit_code = index, exit_code
        if exit_code is not None and exit_code < 0:
            try:
                how = f"killed by {signal.Signals(-exit_code).name}"
            except ValueError:
                how = f"killed by signal {-exit_code}"
        else:
            how = "still running" if exit_code is None else f"exit code {exit_code}"
        super().__init__(f"replay process {index} ended without a result ({how})")

    @property
    def killed(self) -> bool:
        return self.exit_code == -signal.SIGKILL


#: Children are forked: they share the decoder, the tracker and its configuration as they are.
_CONTEXT = multiprocessing.get_context("fork")
#: The signals that ask a replay to stop, which its parent process handles for all of its processes.
_STOPPING: Final = frozenset({signal.SIGINT, signal.SIGTERM})


def _run_children(
    jobs: list[Callable[[_Barrier], Any]],
    report: Callable[[], None],
    barrier: Callable[[list[Any]], Any] | None = None,
    serve: Callable[[int, Any], list[tuple[int, Any]]] | None = None,
) -> list[Any]:
    """Run each job in a child process; return their results in order.

    A job may send one message before it ends (a barrier): once every job has, *barrier* gets them
    all, and its answer is sent back to each. A job may also send requests (``_Barrier.exchange``):
    *serve* gets each as it comes, with the job's index, and returns the answers to send now, each to
    its job. *report* runs a few times a second meanwhile.
    """
    children: list[tuple[Any, Connection]] = []  # (the forked process, its end of the pipe)
    results: list[Any] = [None] * len(jobs)
    pending = {index for index in range(len(jobs))}
    waiting: dict[int, Any] = {}
    try:
        for job in jobs:
            parent, child = _CONTEXT.Pipe()
            process = _CONTEXT.Process(target=_child, args=(child, job, os.getpid()), daemon=True)
            # Ctrl-C and SIGTERM are this process's to handle: each child ignores them (_child). Held while a
            # child forks, neither can reach the child before the child has said so, nor this process before
            # the child is among those it stops.
            held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
            try:
                process.start()
                children.append((process, parent))
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            child.close()
        index_of = {id(connection): index for index, (_, connection) in enumerate(children)}
        while pending:
            report()
            ready = wait([children[i][1] for i in pending], timeout=0.1)
            if not ready:
                for index in pending:
                    process, connection = children[index]
                    if not process.is_alive() and not connection.poll():
                        raise ProcessEnded(index, process.exitcode)
                continue
            for which in ready:
                index = index_of[id(which)]
                connection = children[index][1]
                try:
                    kind, payload = connection.recv()
                except EOFError:
                    children[index][0].join(timeout=1)  # its exit code, if it is ending
                    raise ProcessEnded(index, children[index][0].exitcode) from None
                if kind == "error":
                    error, detail = payload
                    if error is None:
                        raise RuntimeError(f"replay process {index} failed:\n{detail}")
                    # Raised here as itself, so that a full disk or a corrupt input reads the same with any
                    # number of processes; where it happened goes with it.
                    error.add_note(f"in replay process {index}:\n{detail}")
                    raise error
                if kind == "request":
                    assert serve is not None
                    for to, answer in serve(index, payload):
                        children[to][1].send(answer)
                    continue
                if kind == "barrier":
                    waiting[index] = payload
                    if barrier is not None and len(waiting) == len(jobs):
                        answer = barrier([waiting[i] for i in range(len(jobs))])
                        for _, other in children:
                            other.send(answer)
                    continue
                results[index] = payload
                pending.discard(index)
        report()
    except BaseException:
        # Interrupted, or one child failed: what the others are doing is wanted no more.
        for process, _ in children:
            process.kill()
        raise
    finally:
        for process, connection in children:
            connection.close()
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    return results


def _child(connection: Connection, job: Callable[[_Barrier], Any], parent: int) -> None:
    # Ctrl-C reaches every process of a terminal's group, and a service manager's SIGTERM every process of
    # the service: the parent stops the children (_run_children), once it has stopped what it was doing.
    for stopping in _STOPPING:
        signal.signal(stopping, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
    # A parent killed outright cannot stop them: the kernel does, rather than let them work on for no one.
    end_with_parent(signal.SIGKILL, parent)
    try:
        result = job(_Barrier(connection))
        connection.send(("done", result))
    except BaseException as exc:
        connection.send(("error", (_portable(exc), traceback.format_exc())))
    finally:
        connection.close()


def _portable(error: BaseException) -> Exception | None:
    """*error* if the parent can raise it as it is (an exception that survives pickling), else None."""
    if not isinstance(error, Exception):
        return None  # an interruption or exit of the child: the parent says the process failed
    try:
        copy = pickle.loads(pickle.dumps(error))
    except Exception:  # an exception whose arguments do not survive pickling: told as text
        return None
    return copy if isinstance(copy, Exception) else None


class _Barrier:
    """A child's end of its pipe, as a job sees it: ``send`` reaches the barrier, ``recv`` its answer."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def send(self, payload: Any) -> None:
        self._connection.send(("barrier", payload))

    def recv(self) -> Any:
        return self._connection.recv()

    def exchange(self, request: Request) -> Known:
        """Send the shard's sketches; unless it wants nothing back, wait for its thresholds (``Requests``)."""
        self._connection.send(("request", request))
        if request.wanted is None:
            return {}
        answer: Known = self._connection.recv()
        return answer


def read_erasures(path: Path) -> list[dict[str, object]]:
    """Erasure requests or confirmations, one JSON object a line (blank lines skipped).

    Raises ValueError naming the line of the first record that is neither
    (schemas/erasure_request.v1.json, schemas/erasure.v1.json).
    """
    request, confirmation = schemas.validator("erasure_request"), schemas.validator("erasure")
    found: list[dict[str, object]] = []

    def overlong(index: int, line: Overlong) -> None:
        raise ValueError(f"{path.name}:{index + 1}: a line of {line.size:,} bytes, not an erasure request")

    for index, raw in read_records(path, on_overlong=overlong):
        number = index + 1  # as editors count lines
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path.name}:{number}: not JSON: {exc}") from None
        # A confirmation is a request with what the worker did (its erased_at): judged as what it claims to be.
        claimed = confirmation if isinstance(document, dict) and "erased_at" in document else request
        try:
            claimed(document)
        except schemas.ValidationError as exc:
            raise ValueError(
                f"{path.name}:{number}: not an erasure request or confirmation: {exc.message}"
            ) from None
        found.append(document)
    return found
