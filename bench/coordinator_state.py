"""What the coordinator writes to keep its state: a record per entry against the whole state per fetch.

    .venv/bin/python bench/coordinator_state.py --events 200000
    .venv/bin/python bench/coordinator_state.py --events 200000 --busy 5000

Replays simulator traffic (``touchpoint replay``, in this process) and records every call the
journey makes on the coordinator: each warning, answer and partition report, in order. Those
calls are then applied again to a fresh coordinator, a fetch at a time (``--reports-per-fetch``
partition reports and the warnings and answers before them), and after each fetch it counts the
bytes (keys and values) that keeping the state writes to the changelog:

- whole: the whole state under one key, as the worker kept it before (``orjson.dumps(to_json())``,
  written after every fetch);
- per entry: the records that changed (``Coordinator.changes``), tombstones counted by their key.

With ``--busy N`` the traffic's warnings are followed by N more in one queue, all pending at once
(a busy contact centre's evening), a fetch of 500 at a time, then the reports that publish them.
Prints bytes per fetch (mean, p99, max), the largest single record, and the largest whole state
against the producer's 1 MiB request limit; appends a row to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import orjson
from common import record

import streams.replay.shard as shard
from agents.config import default_config
from agents.coordination.coordinator import Coordinated, Coordinator
from agents.coordination.progress import Progress
from agents.domain.alert import DueSoon
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import PARTITIONS, replay
from streams.sim import SimulationSpec, generate

#: Kafka's default max.request.size: what one record may be at most.
REQUEST_LIMIT = 1_048_576
#: Warnings per fetch in the --busy part.
BUSY_FETCH = 500

Call = tuple[str, Any]


class RecordingCoordinator(Coordinator):
    """The replay's coordinator, noting each call the journey makes on it."""

    calls: ClassVar[list[Call]] = []

    def due_soon(self, item: DueSoon) -> None:
        self.calls.append(("due_soon", item))
        super().due_soon(item)

    def answered(self, item_id: str, at: int) -> None:
        self.calls.append(("answered", (item_id, at)))
        super().answered(item_id, at)

    def passed(self, progress: Progress) -> Coordinated:
        self.calls.append(("passed", progress))
        return super().passed(progress)


def recorded_calls(events: int, customers: int, workdir: Path) -> tuple[list[Call], int]:
    source = workdir / "traffic.jsonl"
    spec = SimulationSpec(customers=customers, seed=1)
    with source.open("wb") as handle:
        for value in itertools.islice(generate(spec), events):
            handle.write(value.replace(b"\n", b" ") + b"\n")
    config = default_config()
    salt = b"bench-coordinator-state"
    shard.Coordinator = RecordingCoordinator  # type: ignore[attr-defined]
    RecordingCoordinator.calls = []
    replay(
        source,
        workdir / "out",
        TouchpointDecoder(identity_salt=salt, identity=config.identity),
        JourneyTracker(config, salt),
    )
    if not any(kind == "passed" for kind, _ in RecordingCoordinator.calls):
        # The compiled shard finds an interpreted class through its module's globals, so the replacement
        # takes; were agents/coordination/coordinator.py compiled too, its constructor could be called
        # directly, and nothing would be recorded.
        sys.exit("no coordinator call was recorded: the replay no longer uses the class replaced here")
    return RecordingCoordinator.calls, PARTITIONS


def busy_calls(calls: list[Call], partitions: int, count: int) -> list[Call]:
    """*count* more warnings in one queue after the traffic's, a fetch's worth at a time, then their digest."""
    reports = [progress for kind, progress in calls if kind == "passed"]
    until = max(progress.until for progress in reports)
    warn_at = until + 60
    more: list[Call] = []
    for number in range(count):
        customer = f"busy-{number:06d}-5f0c2d9a8b7e6f41"
        event = f"evt-{number:06d}-7d3a9c51e2b84f06a1c3"
        more.append(
            (
                "due_soon",
                DueSoon(
                    item_id=f"first_response_due_soon/{customer}/{event}",
                    customer_id=customer,
                    channel="chat",
                    location="store-berlin-mitte",
                    evidence=event,
                    asked_at=warn_at - 300,
                    warn_at=warn_at,
                    deadline=warn_at + 600,
                    severity="warning",
                    reasons=("first_response_due_soon", "purchase_intent"),
                    topic="discount on the air purifier",
                    stage="repeat_customer",
                    value_tier="gold",
                ),
            )
        )
        if number % BUSY_FETCH == BUSY_FETCH - 1:  # the fetch ends with a report that publishes nothing yet
            more.append(("passed", Progress(0, until)))
    for step in (600, 1200):  # the interval ends; then every deadline has passed
        more.extend(("passed", Progress(partition, warn_at + step)) for partition in range(partitions))
    return calls + more


@dataclasses.dataclass(frozen=True)
class Measured:
    whole: list[int]
    per_entry: list[int]
    largest_record: int
    largest_whole: int
    most_pending: int


def measure(calls: list[Call], partitions: int, reports_per_fetch: int) -> Measured:
    hub = Coordinator(default_config(), partitions)
    whole: list[int] = []
    per_entry: list[int] = []
    largest_record = largest_whole = most_pending = 0
    reports = 0
    for kind, argument in calls:
        if kind == "due_soon":
            hub.due_soon(argument)
        elif kind == "answered":
            hub.answered(*argument)
        else:
            hub.passed(argument)
            reports += 1
            if reports % reports_per_fetch:
                continue
            # The end of a fetch: what each way of keeping the state writes.
            state = len(b"state") + len(orjson.dumps(hub.to_json()))
            whole.append(state)
            largest_whole = max(largest_whole, state)
            changed = hub.changes()
            per_entry.append(sum(len(key) + len(value or b"") for key, value in changed))
            largest_record = max([largest_record, *(len(value or b"") for _, value in changed)])
            assert hub.digests is not None
            most_pending = max(most_pending, sum(len(items) for items in hub.digests.pending.values()))
    return Measured(whole, per_entry, largest_record, largest_whole, most_pending)


def describe(sizes: list[int]) -> str:
    ordered = sorted(sizes)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"mean {statistics.fmean(sizes):,.0f} B, p99 {p99:,} B, max {max(sizes):,} B, total {sum(sizes):,} B"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=0, help="default: one per 50 events")
    parser.add_argument("--reports-per-fetch", type=int, default=1)
    parser.add_argument("--busy", type=int, default=0, help="more warnings pending at once in one queue")
    args = parser.parse_args()
    customers = args.customers or max(100, args.events // 50)
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir:
        print(f"replaying {args.events:,} simulator records ({customers:,} customers) …", flush=True)
        calls, partitions = recorded_calls(args.events, customers, Path(workdir))
    if args.busy:
        calls = busy_calls(calls, partitions, args.busy)
    counts = {kind: sum(1 for k, _ in calls if k == kind) for kind in ("due_soon", "answered", "passed")}
    print(f"coordinator calls: {counts}")
    measured = measure(calls, partitions, args.reports_per_fetch)
    whole, per_entry = measured.whole, measured.per_entry
    lines = [
        f"{len(whole):,} fetches; at most {measured.most_pending:,} warnings pending at once",
        f"whole state per fetch: {describe(whole)}; largest {measured.largest_whole:,} B"
        f" ({measured.largest_whole / REQUEST_LIMIT:.1%} of the 1 MiB limit)",
        f"records per entry:     {describe(per_entry)}; largest record {measured.largest_record:,} B",
        f"bytes written: {sum(whole) / max(sum(per_entry), 1):,.1f}x fewer per entry",
    ]
    print("\n".join(lines))
    workload = f"{args.events:,} simulator records, {customers:,} customers" + (
        f", then {args.busy:,} warnings pending in one queue" if args.busy else ""
    )
    result = (
        f"bytes kept per fetch, whole state vs records per entry: mean {statistics.fmean(whole):,.0f} vs "
        f"{statistics.fmean(per_entry):,.0f} B, max {max(whole):,} vs {max(per_entry):,} B; "
        f"largest whole state {measured.largest_whole:,} B, largest record {measured.largest_record:,} B; "
        f"{measured.most_pending:,} pending at most"
    )
    record("coordinator_state", workload, result, "bench/coordinator_state.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
