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

Erasures (``erasures``: erasure requests or the workers' confirmations) are honoured. Each
goes through the journey step at its ``requested_at``, in event-time order, as on a live
partition, so everyone else's outputs are the ones the worker made; and nothing about an
erased customer up to their erasure is written to any file (a newer touchpoint starts a new
customer, written as usual). ``erasures.jsonl`` lists each erasure applied.

Every file holds identifiers only as keyed hashes, as every topic past ingest does, except
the dead-letters, which keep refused records as they came.
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

import schemas
from agents.coordination.coordinator import Coordinator
from agents.domain.alert import Alert
from agents.domain.identity import MERGE, Forward
from agents.domain.instants import DAY, day_number
from agents.domain.refusal import Rejected
from agents.domain.state import CustomerState
from agents.ingest.dead_letter import dead_letter_record
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.erasure import requested_instant
from agents.journey.step import DUPLICATE, FORGOTTEN, ROUTED, UNCHANGED, Change, JourneyStep
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
    topics.ERASURES: "erasures.jsonl",
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
        if self.erased:
            lines.append(
                f"  erasures     {self.erased:>10,}  → {self.outputs[topics.ERASURES]}  "
                f"({self.erased_touchpoints:,} touchpoints of erased customers left out)"
            )
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
    erasures: Iterable[dict[str, object]] = (),
) -> ReplaySummary:
    """Process every record of *path* and write one JSONL file per output topic into *out_dir*.

    Deadlines fire as the event-time watermark (the newest time reached by a quorum of
    customers, less the allowed lateness) passes them, as on a live partition; none fire past it.
    *erasures* (validated erasure requests or confirmations) are applied at their instants, and
    nothing about an erased customer up to their erasure is written.
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
            if "identifiers" in outcome.event:
                summary.identified += 1
            arrival.observe(outcome.customer_id, int(outcome.occurred_at.timestamp()))
        if as_of is not None:
            applied = [item for item in accepted if item[0].date() <= as_of]
            summary.after_as_of = len(accepted) - len(applied)
            accepted = applied
        accepted.sort(key=lambda item: (item[0], item[1]))
        # Each customer's latest erasure: their touchpoints up to it are written nowhere.
        forgotten_until: dict[str, int] = {}
        for request in erasures:
            customer, instant = str(request["customer_id"]), requested_instant(request)
            forgotten_until[customer] = max(instant, forgotten_until.get(customer, instant))
        with summary.outputs[topics.BY_CUSTOMER].open("wb") as by_customer:
            by_customer.writelines(
                item[2].body + b"\n"
                for item in accepted
                if int(item[0].timestamp()) > forgotten_until.get(item[2].customer_id, -(2**62))
            )
        _track(accepted, tracker, summary, source, dead_letters, progress, list(erasures))
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
    erasures: list[dict[str, object]] | None = None,
) -> None:
    """Apply the accepted touchpoints in order, as one partition; write every output, then the customers file.

    Touchpoints the journey refuses (a conflicting duplicate, one too old for its customer) are
    appended to the dead-letter file, as the live worker sends them to the dead-letter topic. What the
    live worker sends back into the flow (a touchpoint routed to its customer, an identifier's claim, a
    profile merging into its customer, an erased customer's identifiers to unlink) is applied here at
    once, before the next touchpoint. Erasures are applied in time order among the touchpoints; a
    customer's outputs before their erasure are not written.
    """
    states = summary.states
    forgotten: dict[bytes, int] = {}
    journey = JourneyStep(tracker, lambda key: states.get(key.decode()), forgotten.get)
    # One partition: every digest interval and population boundary is complete as soon as it is passed.
    coordinator = Coordinator(tracker.config, partitions=1)
    # Erasures by instant, applied once event time passes them: after every touchpoint dated up to then.
    pending = sorted(
        erasures or (), key=lambda request: (requested_instant(request), str(request["customer_id"]))
    )
    #: Customers with an erasure still ahead: nothing about them is written until it is applied.
    to_erase = {str(request["customer_id"]) for request in pending}
    with contextlib.ExitStack() as files:
        enriched, transitions, alerts, merges, conflicts, erased = (
            files.enter_context(summary.outputs[name].open("wb"))
            for name in (
                topics.ENRICHED,
                topics.TRANSITIONS,
                ALERTS,
                topics.IDENTITY_MERGES,
                topics.IDENTITY_CONFLICTS,
                topics.ERASURES,
            )
        )
        waiting: deque[Forward] = deque()

        def publish(outputs: Iterable[Alert]) -> None:
            for alert in outputs:
                alerts.write(alert.encode() + b"\n")
                summary.alerts[f"{alert.type} {alert.status}"] += 1

        def write(changes: Iterable[Change]) -> None:
            for change in changes:
                if change.cause not in (ROUTED, UNCHANGED):
                    states[change.key.decode()] = change.state
                outputs = change.outputs
                waiting.extend(outputs.forwards)
                if change.key.decode() in to_erase:
                    continue
                for transition in outputs.transitions:
                    transitions.write(transition.encode() + b"\n")
                summary.transitions += len(outputs.transitions)
                publish(outputs.alerts)
                for item in outputs.due_soon:
                    coordinator.due_soon(item)
                for item_id, at in outputs.answered:
                    coordinator.answered(item_id, at)
                for merge in outputs.merges:
                    if merge.into not in to_erase:
                        merges.write(merge.encode() + b"\n")
                        summary.merges += merge.action == MERGE
                for conflict in outputs.conflicts:
                    if to_erase.isdisjoint(conflict.customers):
                        conflicts.write(conflict.encode() + b"\n")
                        summary.conflicts += 1
            report = journey.report(0)
            if report is not None:
                coordinated = coordinator.passed(report)
                publish(coordinated.alerts)
                for boundary, threshold, _ in coordinated.thresholds:
                    tracker.learn_threshold(boundary, threshold)

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
            if change.cause == FORGOTTEN:
                summary.erased_touchpoints += 1
                return
            leaving = key in to_erase and change.cause != ROUTED
            if leaving:
                summary.erased_touchpoints += 1
            if change.refused is not None:
                if leaving:
                    summary.refused[change.refused.reason] += 1
                else:
                    refuse(body, change.refused, line_number)
            elif change.cause == DUPLICATE:
                summary.duplicates += 1
            else:
                write((change,))
                if change.cause != ROUTED:
                    if not leaving:
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

        def erase_until(instant: float) -> None:
            """Apply every erasure dated before *instant*, as a partition would on its way there."""
            while pending and requested_instant(pending[0]) < instant:
                request = pending.pop(0)
                customer = str(request["customer_id"])
                change = journey.erase(customer.encode(), 0, request, requested_instant(request))
                states.pop(customer, None)
                if change.forget_until is not None:
                    forgotten[change.key] = change.forget_until
                summary.erased += 1
                if not any(str(later["customer_id"]) == customer for later in pending):
                    to_erase.discard(customer)
                erasure = change.outputs.erasure
                if erasure is not None:
                    erased.write(erasure.encode() + b"\n")
                # Their identifiers forget them too (agents/journey/erasure.py).
                waiting.extend(change.outputs.forwards)
                forward(0)

        for applied, (occurred, line_number, item) in enumerate(accepted, 1):
            if progress is not None and applied % PROGRESS_EVERY == 0:
                progress("applying", applied, len(accepted))
            erase_until(occurred.timestamp())
            apply(item.customer_id, item.event, item.body, line_number)
            forward(line_number)
            for claim in item.claims:
                write((journey.identity(claim.key.encode(), 0, claim),))
                forward(line_number)
        if summary.as_of is not None:
            write(journey.tick(0, (day_number(summary.as_of) + 1) * DAY - 1, AS_OF))
            forward(0)
        # Erasures after the last touchpoint (or the as-of day) are honoured all the same.
        erase_until(float("inf"))
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


def read_erasures(path: Path) -> list[dict[str, object]]:
    """Erasure requests or confirmations, one JSON object a line (blank lines skipped).

    Raises ValueError naming the line of the first record that is neither
    (schemas/erasure_request.v1.json, schemas/erasure.v1.json).
    """
    request, confirmation = schemas.validator("erasure_request"), schemas.validator("erasure")
    found: list[dict[str, object]] = []
    for index, raw in read_records(path):
        number = index + 1  # as editors count lines
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path.name}:{number}: not JSON: {exc}") from None
        try:
            request(document)
        except schemas.ValidationError:
            try:
                confirmation(document)
            except schemas.ValidationError as exc:
                raise ValueError(
                    f"{path.name}:{number}: not an erasure request or confirmation: {exc.message}"
                ) from None
        found.append(document)
    return found
