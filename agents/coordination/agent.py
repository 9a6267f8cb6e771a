"""The coordinator agent, and every worker's follower of the best-customer threshold.

``coordinate_partitions`` reads ``journey.progress`` (one partition, so one worker of the group owns
it at a time): each journey partition's warnings and clock marks, in order. It applies them to the
pure ``Coordinator`` (agents/coordination/coordinator.py), publishes the warning digests on
``alerts.first_response_due_soon`` and each complete boundary's threshold on the compacted
``model.best-customers``, and keeps the coordinator's state in the ``coordinator_state`` table, so
the next owner after a rebalance carries on where it stopped. It takes its records a fetch at a time,
beneath Faust's per-message path (streams/runtime/batches.py), and writes what the fetch changed
once, after the fetch's digests and thresholds are acknowledged (streams/runtime/state_writer.py):
the bounded state as one record, and each pending warning, answer and published digest as a record
of its own, written when it changes and deleted (a tombstone) when it leaves the state. Kept whole,
the state of a busy contact centre's thousands of pending warnings outgrew what one record may hold.

Every worker follows ``model.best-customers`` from its start with a plain consumer and tells its
journey each threshold as it arrives; a worker's journey waits for the first catch-up before it
applies anything, so a restarted worker judges best customers as it did before. That wait is in the
journey's rebuild after table recovery, before Faust starts the app's tasks: the rebuild starts the
follower itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import faust
import orjson
from aiokafka.structs import TopicPartition
from faust.types import TableT, TopicT
from prometheus_client import Counter, Gauge

from agents.alerts.closing import auto_reason
from agents.coordination.coordinator import Coordinator
from agents.domain.alert import OPEN
from agents.ports import Batches, BatchHandler, KeptBytes, Record, Sink

__all__ = ["CoordinationMetrics", "CoordinationTopics", "install"]

log = logging.getLogger(__name__)

#: The one key of the thresholds topic.
THRESHOLD_KEY: Final = b"threshold"
#: Room for the key, headers and batch framing of a changelog record of the coordinator's state.
STATE_RECORD_OVERHEAD: Final = 1024


class ThresholdLearner(Protocol):
    """What the follower tells a worker's journey (agents.journey.track.JourneyTracker)."""

    def fixed_threshold(self) -> float | None: ...
    def late_thresholds(self) -> int: ...
    def learn_threshold(self, boundary: int, threshold: float | None) -> None: ...


class CoordinationTopics(Protocol):
    @property
    def progress_input(self) -> TopicT: ...
    @property
    def best_customers(self) -> Sink: ...
    @property
    def alerts(self) -> Mapping[str, Sink]: ...


class CoordinationMetrics(Protocol):
    @property
    def ALERTS_RAISED(self) -> Counter: ...
    @property
    def ALERTS_RESOLVED(self) -> Counter: ...
    @property
    def ALERTS_CLOSED_AUTOMATICALLY(self) -> Counter: ...
    @property
    def BEST_CUSTOMER_THRESHOLD(self) -> Gauge: ...
    @property
    def BEST_CUSTOMER_POPULATION(self) -> Gauge: ...
    @property
    def BEST_CUSTOMER_BOUNDARY(self) -> Gauge: ...
    @property
    def BEST_CUSTOMER_THRESHOLD_LATE(self) -> Counter: ...
    @property
    def RECORDS_TOO_LARGE(self) -> Counter: ...


def install(
    app: faust.App,
    batches: Batches,
    topics: CoordinationTopics,
    table: TableT[bytes, bytes],
    kept: KeptBytes,
    coordinator: Coordinator,
    tracker: ThresholdLearner,
    metrics: CoordinationMetrics,
    follow: Callable[[], Awaitable[Any]],
) -> tuple[BatchHandler, Callable[[], Awaitable[None]]]:
    """Route ``journey.progress`` to ``coordinate_partitions`` and start the threshold follower on *app*.

    *kept* writes *table* (the coordinator's state, a record per key) once per batch, after the batch's outputs.
    *follow()* starts a plain consumer of ``model.best-customers`` (streams/runtime/transport.py). Returns
    the handler and a coroutine function that returns once the follower has read the topic to its end
    once: the journey awaits it before applying anything.
    """
    caught_up = asyncio.Event()
    counted_late = tracker.late_thresholds()

    def count_late_thresholds() -> None:
        # Once per batch, not per decision: a counter's increment costs about as much as the decision.
        nonlocal counted_late
        late = tracker.late_thresholds()
        if late > counted_late:
            metrics.BEST_CUSTOMER_THRESHOLD_LATE.inc(late - counted_late)
        counted_late = late

    batches.after_apply(count_late_thresholds)
    fixed = tracker.fixed_threshold()
    if fixed is not None:
        metrics.BEST_CUSTOMER_THRESHOLD.set(fixed)
        caught_up.set()
    else:
        metrics.BEST_CUSTOMER_THRESHOLD.set(math.nan)
    outbox = batches.outbox
    alert_topics = {alert_type: sink.get_topic_name() for alert_type, sink in topics.alerts.items()}
    thresholds_topic = topics.best_customers.get_topic_name()
    state_limit = app.conf.producer_max_request_size - STATE_RECORD_OVERHEAD

    def learn(document: dict[str, Any]) -> None:
        for boundary, (threshold, buyers) in sorted((int(b), v) for b, v in document.items()):
            tracker.learn_threshold(boundary, threshold)
            metrics.BEST_CUSTOMER_THRESHOLD.set(math.nan if threshold is None else threshold)
            metrics.BEST_CUSTOMER_POPULATION.set(buyers)
            metrics.BEST_CUSTOMER_BOUNDARY.set(boundary)

    def changelog() -> str:
        return table.changelog_topic.get_topic_name()

    @table.on_recover
    async def load_coordinator() -> None:
        # After every rebalance: the coordinator carries on from what the previous owner kept.
        kept.retain({tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog()})
        coordinator.restore(kept.items())

    def coordinate_partitions(partition: int, records: Sequence[Record]) -> None:
        """Apply a batch of coordination records in order; keep what changed once, after the batch's outputs."""
        for record in records:
            try:
                if record.value is None:
                    raise ValueError("the record has no value")
                coordinated = coordinator.apply(record.value)
            except Exception as exc:  # a foreign record on an internal topic: skip it, keep going
                log.warning("coordinator could not apply %s@%s: %s", record.partition, record.offset, exc)
                continue
            for alert in coordinated.alerts:
                if alert.status == OPEN and alert.status_changed_at is None:
                    metrics.ALERTS_RAISED.labels(alert.type, alert.severity).inc()
                else:
                    metrics.ALERTS_RESOLVED.labels(alert.type, "auto").inc()
                    reason = auto_reason(alert.status_changed_by)
                    if reason is not None:
                        metrics.ALERTS_CLOSED_AUTOMATICALLY.labels(alert.type, reason).inc()
                outbox.add(alert_topics[alert.type], key=alert.customer_id.encode(), value=alert.encode())
            if coordinated.thresholds and coordinator.population is not None:
                # Every recent boundary in each record: compaction keeps the last, and a starting worker needs them all.
                known = {str(b): merged for b, merged in coordinator.population.merged.items()}
                outbox.add(thresholds_topic, key=THRESHOLD_KEY, value=orjson.dumps(known))
        for key, value in coordinator.changes():
            if value is None:
                kept.stage_delete(key, partition)
            elif len(value) < state_limit:
                kept.stage(key, value, partition)
            else:
                # Bounded by design (agents/models/population.py, a digest lists at most LISTED
                # inquiries); were one not, a changelog record past the producer's limit would stop
                # the worker. The next owner then resumes without that change.
                metrics.RECORDS_TOO_LARGE.labels(changelog()).inc()
                log.error(
                    "the coordinator's record %r (%d bytes) is too large to keep; not stored",
                    key[:100],
                    len(value),
                )

    batches.route(topics.progress_input, coordinate_partitions)

    following = fixed is not None  # a fixed threshold needs no follower

    def start_following() -> None:
        """Start the follower once, from whichever asks first: the app's start, or the journey's rebuild."""
        nonlocal following
        if not following:
            following = True
            app.add_future(follow_best_customer_thresholds())

    @app.task  # type: ignore[untyped-decorator]
    async def follow_from_the_start() -> None:
        start_following()

    async def follow_best_customer_thresholds() -> None:
        consumer = await follow()
        try:
            partition = TopicPartition(topics.best_customers.get_topic_name(), 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            while True:
                end = (await consumer.end_offsets([partition]))[partition]
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        if record.value:
                            learn(orjson.loads(record.value))
                if await consumer.position(partition) >= end:
                    caught_up.set()
        finally:
            await consumer.stop()

    async def thresholds_ready() -> None:
        # The journey's rebuild runs in table recovery, and Faust starts the app's tasks only once
        # recovery has completed: awaited there, a follower started as a task would never catch up
        # in time (every start waited out the journey's timeout, then judged without thresholds).
        start_following()
        await caught_up.wait()

    return coordinate_partitions, thresholds_ready
