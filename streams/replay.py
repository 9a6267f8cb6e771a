"""Offline replay: the worker's processing core over a JSONL file, in event-time order, no broker.

Same input, same output, byte for byte: nothing here reads the wall clock; the
dead-letter ``rejected_at`` is the event-time watermark, and ties in event time
keep file order.

There is no broker timestamp in a file, so no record is refused as ``future``.
Instead the replay's clock, like a live partition's, is the newest time reached by
at least ``time.watermark_quorum`` distinct customers (agents/journey/watermark.py):
a single record dated 2099 changes its own customer's outputs, and nobody else's.

With ``as_of`` (a date) replay answers "what did we know at the end of that day":
touchpoints on later (local) days are not applied, deadlines fire up to the end of
the day, and the customers file reads the models on that day.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from agents.domain.identity import MERGE, Forward
from agents.domain.instants import DAY, day_number
from agents.domain.refusal import Rejected
from agents.domain.state import CustomerState
from agents.ingest.dead_letter import dead_letter_record
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.step import DUPLICATE, ROUTED, Change, JourneyStep
from agents.journey.track import JourneyTracker
from agents.journey.watermark import PartitionClock
from streams import topics
from streams.files import read_records
from streams.runtime.heap import collector_paused

#: Every alert topic (alerts.<type>), written to one file.
ALERTS = topics.alert_topic("*")
#: Not a topic: each customer's final state and model figures.
CUSTOMERS = "customers"
#: Output topic → file written in the output directory.
OUTPUT_FILES = {
    topics.BY_CUSTOMER: "by-customer.jsonl",
    topics.DEAD_LETTER: "dead-letter.jsonl",
    topics.ENRICHED: "enriched.jsonl",
    topics.TRANSITIONS: "transitions.jsonl",
    ALERTS: "alerts.jsonl",
    topics.IDENTITY_MERGES: "merges.jsonl",
    topics.IDENTITY_CONFLICTS: "conflicts.jsonl",
    CUSTOMERS: "customers.jsonl",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: What fires the last deadlines of a replay with ``as_of``: the end of that day.
AS_OF = "as_of"

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
    duplicates: int = 0
    transitions: int = 0
    #: Identity: anonymous profiles merged into customers, identifiers claimed by several customers.
    merges: int = 0
    conflicts: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    customers: int = 0
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
    states: dict[str, CustomerState] = field(default_factory=dict, repr=False)

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
        stages = ", ".join(f"{stage} {count:,}" for stage, count in self.stages.most_common())
        lines.append(f"  customers    {self.customers:>10,}  → {self.outputs[CUSTOMERS]}  ({stages})")
        if self.as_of is not None:
            lines.append(f"  as of {self.as_of}: {self.after_as_of:,} later touchpoints not applied")
        return "\n".join(lines)


# A replay keeps every accepted record and every customer's state alive to the end.
@collector_paused()
def replay(
    path: Path,
    out_dir: Path,
    decoder: TouchpointDecoder,
    tracker: JourneyTracker,
    as_of: date | None = None,
    progress: Progress | None = None,
) -> ReplaySummary:
    """Process every record of *path* and write one JSONL file per output topic into *out_dir*.

    Deadlines fire as the event-time watermark (the newest time reached by a quorum of
    customers, less the allowed lateness) passes them, as on a live partition; none fire past it.
    *progress* hears ``("reading", bytes read, file size)``, then ``("applying", touchpoints
    applied, touchpoints)``, every few thousand records.
    """
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = ReplaySummary(
        outputs={topic: out_dir / name for topic, name in OUTPUT_FILES.items()}, as_of=as_of
    )
    source = f"file:{path.name}"
    quorum = tracker.config.time.watermark_quorum
    # rejected_at: the file's event time so far, as at least `quorum` customers attest it (file order).
    arrival = PartitionClock(quorum)
    accepted: list[tuple[datetime, int, Accepted]] = []
    size = path.stat().st_size if progress else 0
    read = 0

    def blank(_line: int) -> None:
        summary.blank_lines += 1

    with summary.outputs[topics.DEAD_LETTER].open("wb") as dead_letters:
        for line_number, raw in read_records(path, on_blank=blank):
            summary.records += 1
            if progress is not None:
                read += len(raw) + 1
                if summary.records % PROGRESS_EVERY == 0:
                    progress("reading", read, size)
            outcome = decoder(raw)
            if isinstance(outcome, Rejected):
                summary.rejected[outcome.reason] += 1
                dead_letters.write(
                    dead_letter_record(
                        raw,
                        outcome,
                        topic=source,
                        partition=0,
                        offset=line_number,
                        rejected_at=_instant(arrival.time),
                    )
                )
                dead_letters.write(b"\n")
                continue
            accepted.append((outcome.occurred_at, line_number, outcome))
            arrival.observe(outcome.customer_id, int(outcome.occurred_at.timestamp()))
        if as_of is not None:
            applied = [item for item in accepted if item[0].date() <= as_of]
            summary.after_as_of = len(accepted) - len(applied)
            accepted = applied
        accepted.sort(key=lambda item: (item[0], item[1]))
        with summary.outputs[topics.BY_CUSTOMER].open("wb") as by_customer:
            by_customer.writelines(item[2].body + b"\n" for item in accepted)
        _track(accepted, tracker, summary, source, dead_letters, progress)
    summary.accepted = len(accepted)
    summary.seconds = time.perf_counter() - started
    return summary


def _instant(seconds: int | None) -> datetime:
    return _EPOCH if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _track(
    accepted: list[tuple[datetime, int, Accepted]],
    tracker: JourneyTracker,
    summary: ReplaySummary,
    source: str,
    dead_letters: BinaryIO,
    progress: Progress | None = None,
) -> None:
    """Apply the accepted touchpoints in order, as one partition; write every output, then the customers file.

    Touchpoints the journey refuses (a conflicting duplicate, one too old for its customer) are
    appended to the dead-letter file, as the live worker sends them to the dead-letter topic. What the
    live worker sends back into the flow (a touchpoint routed to its customer, an identifier's claim, a
    profile merging into its customer) is applied here at once, before the next touchpoint.
    """
    states = summary.states
    journey = JourneyStep(tracker, lambda key: states.get(key.decode()))
    with contextlib.ExitStack() as files:
        enriched, transitions, alerts, merges, conflicts = (
            files.enter_context(summary.outputs[name].open("wb"))
            for name in (
                topics.ENRICHED,
                topics.TRANSITIONS,
                ALERTS,
                topics.IDENTITY_MERGES,
                topics.IDENTITY_CONFLICTS,
            )
        )
        waiting: deque[Forward] = deque()

        def write(changes: Iterable[Change]) -> None:
            for change in changes:
                if change.cause != ROUTED:
                    states[change.key.decode()] = change.state
                outputs = change.outputs
                for transition in outputs.transitions:
                    transitions.write(transition.encode() + b"\n")
                summary.transitions += len(outputs.transitions)
                for alert in outputs.alerts:
                    alerts.write(alert.encode() + b"\n")
                    summary.alerts[f"{alert.type} {alert.status}"] += 1
                for merge in outputs.merges:
                    merges.write(merge.encode() + b"\n")
                summary.merges += sum(merge.action == MERGE for merge in outputs.merges)
                for conflict in outputs.conflicts:
                    conflicts.write(conflict.encode() + b"\n")
                summary.conflicts += len(outputs.conflicts)
                waiting.extend(outputs.forwards)

        def refuse(body: bytes, refused: Rejected, line_number: int) -> None:
            summary.refused[refused.reason] += 1
            record = dead_letter_record(
                body,
                refused,
                topic=source,
                partition=0,
                offset=line_number,
                rejected_at=_instant(journey.clock(0)),
            )
            dead_letters.write(record + b"\n")

        def apply(key: str, event: dict[str, Any], body: bytes, line_number: int) -> None:
            change = journey.touchpoint(key.encode(), 0, event)
            if change.refused is not None:
                refuse(body, change.refused, line_number)
            elif change.cause == DUPLICATE:
                summary.duplicates += 1
            else:
                write((change,))
                if change.cause != ROUTED:
                    enriched.write(change.enriched + b"\n")
                    write(journey.due(0))

        def forward(line_number: int) -> None:
            while waiting:
                sent = waiting.popleft()
                if sent.touchpoint is not None:
                    apply(sent.key, sent.touchpoint, orjson.dumps(sent.touchpoint), line_number)
                elif sent.control is not None:
                    write((journey.identity(sent.key.encode(), 0, sent.control),))
                elif sent.action is not None:
                    change = journey.action(sent.key.encode(), 0, sent.action)
                    if change.refused is None:
                        write((change,))

        for applied, (_, line_number, item) in enumerate(accepted, 1):
            if progress is not None and applied % PROGRESS_EVERY == 0:
                progress("applying", applied, len(accepted))
            apply(item.customer_id, item.event, item.body, line_number)
            forward(line_number)
            for claim in item.claims:
                write((journey.identity(claim.key.encode(), 0, claim),))
                forward(line_number)
        if summary.as_of is not None:
            write(journey.tick(0, (day_number(summary.as_of) + 1) * DAY - 1, AS_OF))
            forward(0)
    profiles = {key: state for key, state in states.items() if state.is_profile}
    # With a single customer nothing is attested by a quorum: read the models at that customer's own time.
    clock = journey.clock(0)
    watermark = clock if clock is not None else max((s.last_seen for s in profiles.values()), default=0)
    summary.customers = len(profiles)
    summary.stages.update(state.stage for state in profiles.values())
    day = day_number(summary.as_of) if summary.as_of is not None else watermark // DAY
    with summary.outputs[CUSTOMERS].open("wb") as customers:
        for customer_id in sorted(profiles):
            state = profiles[customer_id]
            view = {
                "customer_id": customer_id,
                "stage": state.stage,
                "value_tier": state.value_tier,
                "touchpoints": state.events,
                "purchase_count": state.purchase_count,
                "net_value": round(state.net_value, 2),
                **tracker.model.view(state, day),
            }
            customers.write(orjson.dumps(view) + b"\n")
