"""The ingest agent: raw touchpoints in, customer-keyed events or dead-letters out.

It takes the raw records a partition's batch at a time (``agents.ports.Batches``) and adds
what it publishes to the batch's outbox, which the worker sends once the batch is applied.
A forwarded record keeps the Kafka timestamp of its raw record, so downstream latency
(``touchpoint_event_to_alert_seconds``) is measured from when the touchpoint was produced.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import Counter

from agents.domain.refusal import Rejected
from agents.ingest.dead_letter import dead_letter_record
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.ports import Batches, BatchHandler, Outbox, Record, Sink, received_at

__all__ = ["IngestMetrics", "IngestTopics", "add_dead_letter", "install"]


class IngestTopics(Protocol):
    @property
    def raw(self) -> Any:
        """The Faust topic of raw touchpoints: the agent's input."""
        ...

    @property
    def by_customer(self) -> Sink: ...
    @property
    def dead_letter(self) -> Sink: ...


class IngestMetrics(Protocol):
    @property
    def EVENTS_ACCEPTED(self) -> Counter: ...
    @property
    def DEAD_LETTERS(self) -> Counter: ...


def install(
    batches: Batches, topics: IngestTopics, decoder: TouchpointDecoder, metrics: IngestMetrics
) -> BatchHandler:
    """Route the raw topic's records to ``ingest_touchpoints`` and return it."""
    outbox = batches.outbox
    by_customer = topics.by_customer.get_topic_name()
    dead_letter = topics.dead_letter.get_topic_name()

    def ingest_touchpoints(partition: int, records: Sequence[Record]) -> None:
        for record in records:
            # The record's broker timestamp bounds how far ahead its event may be; a record without
            # one is held to this worker's clock.
            stamp = received_at(record)
            outcome = decoder(record.value, stamp or time.time())
            if isinstance(outcome, Accepted):
                metrics.EVENTS_ACCEPTED.labels(outcome.event["channel"], outcome.event["type"]).inc()
                # Keep the raw record's timestamp: the journey measures event-to-alert time from it.
                # None (no timestamp) lets the producer stamp the current time.
                outbox.add(by_customer, key=outcome.customer_id.encode(), value=outcome.body, timestamp=stamp)
            else:
                metrics.DEAD_LETTERS.labels(outcome.reason).inc()
                add_dead_letter(outbox, dead_letter, record, outcome)

    batches.route(topics.raw, ingest_touchpoints)
    return ingest_touchpoints


def add_dead_letter(outbox: Outbox, topic: str, record: Record, rejected: Rejected) -> None:
    """Publish the dead-letter record of *record* to *topic*, keyed by its source position."""
    outbox.add(
        topic,
        key=f"{record.topic}:{record.partition}:{record.offset}".encode(),
        value=dead_letter_record(
            record.value,
            rejected,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            rejected_at=datetime.now(UTC),
        ),
    )
