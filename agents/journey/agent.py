"""The journey agent: customer-keyed touchpoints in; state, transitions and enriched events out.

Deadlines (a customer lapsing without any new event) fire in two ways, both
inside the partition's own stream so that the table is only ever written by the
partition's owner, in order:

- when the partition's event-time watermark (the newest time reached by at least
  ``time.watermark_quorum`` distinct customers, less the allowed lateness) passes
  them, so a replay of history gives the same results and no single record can
  drag every customer's deadlines forward (agents/journey/watermark.py);
- in live mode, when a partition has gone quiet, by a wall-clock sweep that
  sends a signed tick record into that partition of ``touchpoints.by-customer``
  (agents/journey/control.py); a tick without a valid proof is dead-lettered.

Records the journey refuses (a conflicting duplicate, an event too old for its
customer, a forged tick or identity record, an action for an unknown alert or with a
stale ``at``, a split of a merge that never was) go to the dead-letter topic with
their reason, like ingest's.

Identity (agents/identity/, docs/identity.md) runs in the same pass: a touchpoint keyed by
a linked identifier is sent on to its customer; signed identity records on
``touchpoints.by-customer`` (claims from ingest, profiles on their way into their customer)
and operators' splits on ``identity.actions`` change identifiers' records and profiles, and
whatever moves to another key is sent back to ``touchpoints.by-customer``: state moves
between partitions only as records, never by reading another worker's table.

An erasure request (``privacy.erasure-requests``) forgets its customer: the state is deleted
(a tombstone on the changelog, once the outputs before it are sent), open alerts are resolved
as ``auto:erased``, the confirmation goes to ``privacy.erasures``, and each erasure hook runs
(for state other components keep per customer, such as identity links).

Gauges over the owned customers (stages, table keys, open inquiries and SLA
cases) move by the difference each change makes, and are recounted from
the table after every recovery, for exactly the partitions this worker owns.

What the coordinator needs from each partition (agents/coordination/) goes to
``journey.progress`` in order: the first-response warnings of the changes, then,
once a partition's deadlines have fired, whether its clock passed a mark.

The decisions are ``agents.journey.step.JourneyStep``'s, the same as ``touchpoint replay``'s;
this module decodes, looks up, stages states, publishes and counts. It takes its records a
partition's batch at a time (``agents.ports.Batches``): what a batch publishes goes into the
batch's outbox, and each customer's state changed in the batch is written once, after the
batch's outputs are acknowledged (``agents.ports.StateStore.stage``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import faust
import orjson
from faust.types import TableT, TopicT
from prometheus_client import Counter, Gauge, Histogram

import schemas
from agents.alerts.closing import auto_reason
from agents.config import Config
from agents.coordination.progress import encode_signals
from agents.domain.alert import OPEN
from agents.domain.identity import Split
from agents.domain.instants import broker_seconds
from agents.domain.outputs import Outputs
from agents.domain.refusal import INTERNAL, SCHEMA, Rejected
from agents.identity.control import decode_control, encode_control, is_control
from agents.identity.keys import is_identifier_key
from agents.ingest.agent import Shortcut, add_dead_letter
from agents.ingest.decode import Accepted
from agents.journey.after_hours import after_hours_slot
from agents.journey.control import CONTROL_KEY_PREFIX, TICK_KEY, Verdicts, sign_tick, verify_tick
from agents.journey.rebuild import owned_summaries
from agents.journey.step import DEADLINE, DUPLICATE, FORGOTTEN, ROUTED, UNCHANGED, Change, JourneyStep
from agents.journey.track import JourneyTracker
from agents.ports import (
    Batches,
    BatchHandler,
    ErasedStore,
    ErasureHook,
    Observed,
    Record,
    Sink,
    StateStore,
)
from agents.tally import Tally

__all__ = ["Journey", "JourneyMetrics", "JourneyTopics", "install"]

log = logging.getLogger(__name__)

#: How long a recovering worker waits to have read the best-customer thresholds before it goes on.
THRESHOLDS_WAIT_S = 30.0


@dataclass(frozen=True)
class Journey:
    """The journey agent as installed: its batch handler, and its entry for touchpoints ingest applies at once."""

    track_journey: BatchHandler
    shortcut: Shortcut


class JourneyTopics(Protocol):
    @property
    def journey_inputs(self) -> TopicT:
        """Customer-keyed touchpoints and alert actions, co-partitioned: the agent's input."""
        ...

    @property
    def actions(self) -> TopicT: ...
    @property
    def erasure_requests(self) -> TopicT: ...
    @property
    def erasures(self) -> Sink: ...
    @property
    def identity_actions(self) -> TopicT: ...
    @property
    def merges(self) -> Sink: ...
    @property
    def conflicts(self) -> Sink: ...
    @property
    def actions_out(self) -> Sink:
        """alerts.actions, to send an action on to an alert that moved with a merge."""
        ...

    @property
    def by_customer(self) -> Sink: ...
    @property
    def dead_letter(self) -> Sink: ...
    @property
    def enriched(self) -> Sink: ...
    @property
    def transitions(self) -> Sink: ...
    @property
    def alerts(self) -> Mapping[str, Sink]: ...
    @property
    def progress(self) -> Sink: ...


class JourneyMetrics(Protocol):
    """The metrics the journey agent moves (streams/metrics.py; docs/metrics.md)."""

    @property
    def STAGES(self) -> tuple[str, ...]: ...
    @property
    def TABLE_KEYS(self) -> Gauge: ...
    @property
    def CUSTOMERS(self) -> Gauge: ...
    @property
    def OPEN_INQUIRIES(self) -> Gauge: ...
    @property
    def OPEN_SLA_CASES(self) -> Gauge: ...
    @property
    def JOURNEY_TOUCHPOINTS(self) -> Counter: ...
    @property
    def DUPLICATES(self) -> Counter: ...
    @property
    def DEAD_LETTERS(self) -> Counter: ...
    @property
    def UNPRICED_AMOUNTS(self) -> Counter: ...
    @property
    def AFTER_HOURS_INQUIRIES(self) -> Counter: ...
    @property
    def LIFECYCLE_TRANSITIONS(self) -> Counter: ...
    @property
    def ALERTS_RAISED(self) -> Counter: ...
    @property
    def ALERTS_SUPPRESSED(self) -> Counter: ...
    @property
    def ALERTS_ACKNOWLEDGED(self) -> Counter: ...
    @property
    def ALERTS_RESOLVED(self) -> Counter: ...
    @property
    def ALERTS_CLOSED_AUTOMATICALLY(self) -> Counter: ...
    @property
    def ALERT_ACTIONS(self) -> Counter: ...
    @property
    def ERASURES(self) -> Counter: ...
    @property
    def ERASED_TOUCHPOINTS(self) -> Counter: ...
    @property
    def DEADLINES_FIRED(self) -> Counter: ...
    @property
    def TIME_TO_ACKNOWLEDGE(self) -> Histogram: ...
    @property
    def TIME_TO_RESOLVE(self) -> Histogram: ...
    @property
    def DEADLINE_LAG(self) -> Histogram: ...
    @property
    def PROCESSING_LAG(self) -> Observed: ...
    @property
    def EVENT_TO_ALERT(self) -> Histogram: ...
    @property
    def IDENTITY_CLAIMS(self) -> Counter: ...
    @property
    def IDENTITY_MERGES(self) -> Counter: ...
    @property
    def IDENTITY_ROUTED(self) -> Counter: ...


def install(
    app: faust.App,
    batches: Batches,
    topics: JourneyTopics,
    table: TableT[bytes, Any],
    states: StateStore,
    tracker: JourneyTracker,
    config: Config,
    metrics: JourneyMetrics,
    control_secret: bytes,
    caught_up: Callable[[int], bool],
    thresholds_ready: Callable[[], Awaitable[None]] | None = None,
    erased: ErasedStore | None = None,
    erasure_hooks: Sequence[ErasureHook] = (),
) -> Journey:
    """Route the journey's inputs to ``track_journey``; register its deadline sweep and recovery hook on *app*.


    Every state change goes through *states*: readable at once, written to the table's changelog
    only once the outputs derived from it are acknowledged (see ``streams.runtime.state_writer``).
    *control_secret* signs and checks the timer ticks; every worker of the app needs the same one.
    *caught_up(partition)* says whether this worker has read the partition's input to its end: only
    then is a quiet partition moved on by a tick. *thresholds_ready()* returns once the worker knows the
    best-customer thresholds published so far (agents/coordination/agent.py); nothing is applied before.
    *erased* keeps each erased customer's instant (a
    changelog-backed table co-partitioned with the customers'); *erasure_hooks* run after each erasure.
    """
    forgotten: ErasedStore = _Forgotten() if erased is None else erased
    journey = JourneyStep(tracker, states.get, forgotten.get)
    verdicts = Verdicts(control_secret)
    outbox = batches.outbox
    erasures = topics.erasures.get_topic_name()
    erasure_requests = topics.erasure_requests.get_topic_name()
    #: (customer key, partition) of the erasures applied in the current batch, for the hooks after it.
    erased_now: list[tuple[bytes, int]] = []

    skew = config.time.max_future_skew
    last_event_at: dict[int, float] = {}
    #: The processing lag of each touchpoint applied in the current batch, counted when it is applied.
    lags: list[float] = []
    validate_action = schemas.validator("alert_action")
    validate_erasure = schemas.validator("erasure_request")
    validate_split = schemas.validator("identity_action")
    calendars = config.calendars
    table_keys = metrics.TABLE_KEYS.labels(table.name)
    table_keys.set(0)
    #: What the fetch being applied moves on the metrics, added once it is applied (``count_batch``).
    tally = Tally()
    actions = topics.actions.get_topic_name()
    enriched = topics.enriched.get_topic_name()
    transitions = topics.transitions.get_topic_name()
    dead_letter = topics.dead_letter.get_topic_name()
    by_customer = topics.by_customer.get_topic_name()
    identity_actions = topics.identity_actions.get_topic_name()
    actions_out = topics.actions_out.get_topic_name()
    merges = topics.merges.get_topic_name()
    conflicts = topics.conflicts.get_topic_name()
    progress_topic = topics.progress.get_topic_name()
    alert_topics = {alert_type: sink.get_topic_name() for alert_type, sink in topics.alerts.items()}

    def publish(
        outputs: Outputs, partition: int, cause: str | None = None, produced_at: float | None = None
    ) -> None:
        """Add *outputs* of a change in *partition* to the batch's outbox and count them.

        cause, produced_at: the touchpoint being applied and its raw record's timestamp, if any.
        """
        for transition in outputs.transitions:
            tally.add(metrics.LIFECYCLE_TRANSITIONS, (transition.from_stage or "none", transition.to_stage))
            if transition.from_stage:
                tally.add(metrics.CUSTOMERS, (transition.from_stage,), -1)
            tally.add(metrics.CUSTOMERS, (transition.to_stage,))
            outbox.add(transitions, key=transition.customer_id.encode(), value=transition.encode())
        for alert in outputs.alerts:
            raised = alert.status == OPEN and alert.status_changed_at is None
            if raised:
                tally.add(metrics.ALERTS_RAISED, (alert.type, alert.severity))
            outbox.add(alert_topics[alert.type], key=alert.customer_id.encode(), value=alert.encode())
            if raised and produced_at is not None and cause in alert.evidence:
                metrics.EVENT_TO_ALERT.labels(alert.type).observe(max(time.time() - produced_at, 0.0))
        for merge in outputs.merges:
            tally.add(metrics.IDENTITY_MERGES, (merge.action,))
            outbox.add(merges, key=merge.into.encode(), value=merge.encode())
        for conflict in outputs.conflicts:
            outbox.add(conflicts, key=conflict.identifier.encode(), value=conflict.encode())
        for forward in outputs.forwards:
            key = forward.key.encode()
            if forward.touchpoint is not None:
                tally.add(metrics.IDENTITY_ROUTED, (_route(forward.key),))
                value = orjson.dumps(forward.touchpoint)
                outbox.add(by_customer, key=key, value=value, timestamp=produced_at)
            elif forward.control is not None:
                value = encode_control(control_secret, key, forward.control)
                outbox.add(by_customer, key=key, value=value)
            elif forward.action is not None:
                tally.add(metrics.IDENTITY_ROUTED, ("action",))
                outbox.add(actions_out, key=key, value=orjson.dumps(forward.action))
        for alert_type, reason in outputs.suppressed:
            tally.add(metrics.ALERTS_SUPPRESSED, (alert_type, reason))
        for alert, seconds in outputs.acknowledged:
            metrics.ALERTS_ACKNOWLEDGED.labels(alert.type).inc()
            metrics.TIME_TO_ACKNOWLEDGE.labels(alert.type).observe(max(seconds, 0))
        for alert, seconds in outputs.resolved:
            automatic = auto_reason(alert.status_changed_by)
            tally.add(metrics.ALERTS_RESOLVED, (alert.type, "operator" if automatic is None else "auto"))
            if automatic is not None:
                tally.add(metrics.ALERTS_CLOSED_AUTOMATICALLY, (alert.type, automatic))
            metrics.TIME_TO_RESOLVE.labels(alert.type).observe(max(seconds, 0))
        if outputs.due_soon or outputs.answered:
            # To the coordinator's one partition, in this partition's order, with the batch's other outputs.
            for record in encode_signals(partition, outputs.due_soon, outputs.answered, None):
                outbox.add(progress_topic, key=None, value=record, partition=0)

    def report(partition: int) -> None:
        """Tell the coordinator if the partition's clock passed a mark (after its deadlines fired)."""
        progress = journey.report(partition)
        if progress is not None:
            for record in encode_signals(partition, (), (), progress):
                outbox.add(progress_topic, key=None, value=record, partition=0)

    def count_open(change: Change) -> None:
        if change.inquiries_opened:
            tally.add(metrics.OPEN_INQUIRIES, (), change.inquiries_opened)
        if change.cases_opened:
            tally.add(metrics.OPEN_SLA_CASES, (), change.cases_opened)
        if change.ended:
            tally.add(metrics.CUSTOMERS, (change.ended,), -1)
        if change.restored:
            tally.add(metrics.CUSTOMERS, (change.restored,))
        if not change.known and change.cause != ROUTED:
            tally.add(metrics.TABLE_KEYS, (table.name,))

    def write(changes: Iterable[Change], produced_at: float | None = None) -> None:
        """Publish each change's outputs and stage its state (written after them)."""
        for change in changes:
            if change.claim is not None:  # counted whether it changed the identifier's record or not
                tally.add(metrics.IDENTITY_CLAIMS, (change.claim,))
            if change.cause in (ROUTED, UNCHANGED):
                publish(change.outputs, change.partition, produced_at=produced_at)
                continue
            count_open(change)
            if change.cause == DEADLINE:
                tally.add(metrics.DEADLINES_FIRED, (str(change.trigger),))
                lag = time.time() - (change.due or 0)
                if abs(lag) < 3600:  # live traffic: event time near the wall clock
                    metrics.DEADLINE_LAG.observe(max(lag, 0.0))
            publish(change.outputs, change.partition)
            states.stage(change.key, change.state, change.partition)

    def refuse(record: Record, rejected: Rejected) -> None:
        metrics.DEAD_LETTERS.labels(rejected.reason).inc()
        add_dead_letter(outbox, dead_letter, record, rejected)

    def apply_action(record: Record, key: bytes, partition: int) -> None:
        action = orjson.loads(record.value or b"")
        validate_action(action)
        change = journey.action(key, partition, action, broker_seconds(record.timestamp))
        if change.cause == ROUTED:
            write((change,))  # counted where it is applied
            return
        outcome = change.refused.reason if change.refused is not None else "applied"
        metrics.ALERT_ACTIONS.labels(action["action"], outcome).inc()
        if change.refused is not None:
            refuse(record, change.refused)
            return
        write((change,))

    def apply_erasure(record: Record, key: bytes, partition: int) -> None:
        request = orjson.loads(record.value or b"")
        validate_erasure(request)
        if request["customer_id"].encode() != key:
            refuse(
                record, Rejected(SCHEMA, "the request's customer_id does not match its key", "customer_id")
            )
            return
        previous = states.get(key)
        change = journey.erase(key, partition, request, time.time())
        count_open(change)
        if previous is not None:
            table_keys.dec()
            if previous.stage:
                metrics.CUSTOMERS.labels(previous.stage).dec()
        if change.forget_until is not None:
            # Written after the batch's outputs, in this record's partition, as the states are.
            forgotten.stage(key, change.forget_until, partition)
        publish(change.outputs, partition)
        erasure = change.outputs.erasure
        assert erasure is not None  # an erasure change always carries its confirmation
        outbox.add(erasures, key=key, value=erasure.encode())
        # The tombstone follows the batch's outputs, as every state write does: a crash before they are
        # sent redelivers the request, which is applied again.
        states.stage_delete(key, partition)
        if erasure_hooks:
            erased_now.append((key, partition))
        metrics.ERASURES.labels("true" if erasure.found else "false").inc()
        log.info("erased a customer on request %s (partition %d)", erasure.request_id, partition)

    async def run_erasure_hooks(_sent: object) -> None:
        """After the batch's outputs are handed over and its state writes queued: each erasure's hooks."""
        applied = list(erased_now)
        erased_now.clear()
        for key, partition in applied:
            for hook in erasure_hooks:
                await hook(key, partition)

    if erasure_hooks:
        batches.after_flush(run_erasure_hooks)

    def count_batch() -> None:
        """What the batch moved, and its touchpoints with their lag counted together: a scrape sees
        count == journey events."""
        tally.flush()
        if lags:
            metrics.JOURNEY_TOUCHPOINTS.inc(len(lags))
            metrics.PROCESSING_LAG.observe_all(lags)
            lags.clear()

    batches.after_apply(count_batch)

    def apply_split(record: Record, key: bytes, partition: int) -> None:
        request = orjson.loads(record.value or b"")

        validate_split(request)
        at = int(datetime.fromisoformat(request["at"].upper()).timestamp())
        split = Split(request["from"], request["into"], request["by"], at, request.get("reason"))
        change = journey.identity(key, partition, split)
        if change.refused is not None:
            refuse(record, change.refused)
            return
        write((change,))

    def apply_control(record: Record, key: bytes, partition: int) -> None:
        message = decode_control(control_secret, key, record.value)
        if isinstance(message, Rejected):
            refuse(record, message)
            return
        write((journey.identity(key, partition, message),))

    def apply_touchpoint(
        key: bytes,
        partition: int,
        touchpoint: dict[str, Any],
        stamp: float | None,
        occurred: datetime | None = None,
        occurred_seconds: float | None = None,
    ) -> Change:
        """Apply a touchpoint, publish and count its outcome; a refusal is left to the caller.

        *occurred* is the touchpoint's ``occurred_at`` parsed already (by ingest), if it was, and
        *occurred_seconds* its epoch seconds.
        """
        change = journey.touchpoint(key, partition, touchpoint, stamp, occurred, occurred_seconds)
        if change.refused is not None:
            return change
        if change.cause == FORGOTTEN:
            # Dated before its customer's erasure: dropped without a trace, not even a dead letter.
            metrics.ERASED_TOUCHPOINTS.inc()
            return change
        if change.cause == ROUTED:
            write((change,), stamp)
            return change
        if change.cause == DUPLICATE:
            tally.add(metrics.DUPLICATES)
            # Rewrite the state as it is: after a crash the local store can hold a change whose
            # changelog record never arrived, and this redelivery is the only event that shows it.
            states.stage(change.key, change.state, change.partition)
            return change
        if occurred is None or occurred_seconds is None:
            occurred = datetime.fromisoformat(touchpoint["occurred_at"])
            occurred_seconds = occurred.timestamp()
        lags.append(max(time.time() - occurred_seconds, 0.0))
        count_open(change)
        slot = after_hours_slot(touchpoint, occurred, calendars)
        if slot is not None:
            tally.add(metrics.AFTER_HOURS_INQUIRIES, slot)
        if change.unpriced:
            tally.add(metrics.UNPRICED_AMOUNTS)
        # The by-customer record carries its raw record's timestamp (see the ingest agent); without
        # one there is nothing to measure from.
        publish(change.outputs, change.partition, touchpoint["event_id"], stamp)
        outbox.add(enriched, key=change.key, value=change.enriched)
        # The state reaches the changelog only after the batch's outputs: if a crash loses them, the
        # state (and its dedupe ring) is lost with them and the redelivered event is applied again,
        # publishing the same bytes; the other order could keep the state and drop the outputs.
        states.stage(change.key, change.state, change.partition)
        last_event_at[change.partition] = time.monotonic()
        write(journey.due(change.partition))
        report(change.partition)
        return change

    def apply(record: Record, partition: int) -> None:
        key: bytes = record.key or b""
        if record.topic == actions:
            apply_action(record, key, partition)
            return
        if record.topic == erasure_requests:
            apply_erasure(record, key, partition)
            return
        if record.topic == identity_actions:
            apply_split(record, key, partition)
            return
        if key.startswith(CONTROL_KEY_PREFIX):
            tick = verify_tick(control_secret, partition, record.value, time.time(), skew)
            if isinstance(tick, Rejected):
                refuse(record, tick)
            else:
                write(journey.tick(partition, tick))
                report(partition)
            return
        if record.headers:
            # Decided by ingest's worker when it read the raw record (see shortcut).
            verdict = verdicts.read(record.key, record.value, record.headers)
            if verdict is True:
                return
            if isinstance(verdict, Rejected):
                refuse(record, verdict)
                return
        if is_control(record.value):
            apply_control(record, key, partition)
            return
        touchpoint = orjson.loads(record.value or b"")
        if touchpoint["customer_id"].encode() != key:
            # Ingest keys each record by its customer: a mismatch was written past ingest.
            refuse(record, Rejected(SCHEMA, "the record's customer_id does not match its key"))
            return
        change = apply_touchpoint(key, partition, touchpoint, broker_seconds(record.timestamp))
        if change.refused is not None:
            refuse(record, change.refused)

    def shortcut(
        partition: int, accepted: Accepted, stamp: float | None
    ) -> tuple[Sequence[tuple[str, bytes]], bool]:
        """Apply a touchpoint ingest accepted, for a customer of *partition*; the headers of its copy, and
        whether the copy is settled (applied: nothing is left to do when this worker reads it back).

        The copy says whether it was applied or refused: a refusal goes to the dead-letter topic
        from the copy's own place in by-customer, when the journey reads it there, like the
        refusal of any other forwarded record, and in the customer's order.
        """
        key = accepted.customer_id.encode()
        try:
            change = apply_touchpoint(
                key, partition, accepted.event, stamp, accepted.occurred_at, accepted.occurred_seconds
            )
        except Exception as exc:  # a bug or a foreign record: kept, as in track_journey
            log.warning("journey could not apply %s at ingest: %s", accepted.event.get("event_id"), exc)
            reason = SCHEMA if isinstance(exc, schemas.ValidationError) else INTERNAL
            failed = Rejected(reason, f"journey could not apply the record: {type(exc).__name__}: {exc}")
            return verdicts.refused(key, accepted.body, failed), False
        if change.refused is not None:
            return verdicts.refused(key, accepted.body, change.refused), False
        return verdicts.applied(key, accepted.body), True

    def track_journey(partition: int, records: Sequence[Record]) -> None:
        for record in records:
            try:
                apply(record, partition)
            except Exception as exc:  # anything here is a bug or a foreign record: keep it, keep going
                log.warning(
                    "journey could not apply %s:%s@%s: %s", record.topic, partition, record.offset, exc
                )
                reason = SCHEMA if isinstance(exc, schemas.ValidationError) else INTERNAL
                refuse(
                    record,
                    Rejected(reason, f"journey could not apply the record: {type(exc).__name__}: {exc}"),
                )

    batches.route(topics.journey_inputs, track_journey)
    agent = Journey(track_journey, shortcut)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def sweep_deadlines() -> None:
        if not config.deadlines.wall_clock_sweep:
            return
        now = time.time()
        quiet_since = time.monotonic() - config.deadlines.quiet_seconds
        for partition in journey.overdue(now):
            quiet = last_event_at.get(partition, 0.0) <= quiet_since
            if quiet and caught_up(partition):
                tick = sign_tick(control_secret, partition, now)
                await topics.by_customer.send(key=TICK_KEY, value=tick, partition=partition)

    @table.on_recover
    async def rebuild_after_recovery() -> None:
        # After every rebalance: timers and stage counts for exactly the partitions this worker now owns.
        owned = {
            tp.partition
            for tp in app.assignor.assigned_actives()
            if tp.topic == table.changelog_topic.get_topic_name()
        }
        if thresholds_ready is not None:
            try:
                await asyncio.wait_for(thresholds_ready(), THRESHOLDS_WAIT_S)
            except TimeoutError:
                log.warning(
                    "journey: the best-customer thresholds were not read within %.0f s; going on without them",
                    THRESHOLDS_WAIT_S,
                )
        states.retain(owned)
        forgotten.retain(owned)
        journey.forget_deadlines()
        journey.own(owned)
        # The gauges are set from the table below: nothing counted before may move them again.
        tally.clear()
        counts = dict.fromkeys(metrics.STAGES, 0)
        inquiries = cases = 0
        # States can be in their encoded form (RocksDB, or restored in bulk: streams/tables.py):
        # summarize reads what is needed here without decoding the rest.
        keys = 0
        async for key, summary in owned_summaries(states.stored_items(), owned):
            keys += 1
            journey.restore(key, summary)
            if summary.stage:  # an identifier's record alone is no customer
                counts[summary.stage] = counts.get(summary.stage, 0) + 1
            inquiries += summary.inquiries_open
            cases += summary.sla_cases
        for stage, count in counts.items():
            metrics.CUSTOMERS.labels(stage).set(count)
        table_keys.set(keys)
        metrics.OPEN_INQUIRIES.set(inquiries)
        metrics.OPEN_SLA_CASES.set(cases)
        log.info(
            "journey: %d customers, %d deadlines in partitions %s",
            sum(counts.values()),
            journey.deadlines(),
            sorted(owned),
        )

    return agent


def _route(key: str) -> str:
    """Where a routed touchpoint went, for counting: a customer, or its own conversation."""
    if key.startswith("id:") and not is_identifier_key(key):
        return "conversation"
    return "customer"


class _Forgotten(dict[bytes, int]):
    """Erasure instants kept in memory only (a worker without the erased-customers table: tests)."""

    def stage(self, key: bytes, value: int, partition: int) -> None:
        self[key] = value

    def retain(self, owned: set[int]) -> None:
        pass  # kept for the worker's lifetime: nothing is written anywhere
