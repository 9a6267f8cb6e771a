"""The ingest agent: raw touchpoints in, customer-keyed events or dead-letters out.

A forwarded record keeps the Kafka timestamp of its raw record, so downstream latency
(``touchpoint_event_to_alert_seconds``) is measured from when the touchpoint was produced.
An event naming its customer and carrying identifiers also sends one signed claim per identifier
to that identifier's key (agents/identity/control.py), after the touchpoint: on the identifier's
partition, the claim and the identifier's anonymous touchpoints meet in the order sent here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

import faust
from faust.types import AgentT, EventT, StreamT, TopicT
from prometheus_client import Counter

from agents.domain.refusal import Rejected
from agents.identity.control import encode_control
from agents.ingest.dead_letter import dead_letter_record
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.ports import Sink

__all__ = ["IngestMetrics", "IngestTopics", "install", "send_dead_letter"]


class IngestTopics(Protocol):
    @property
    def raw(self) -> TopicT: ...
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
    app: faust.App,
    topics: IngestTopics,
    decoder: TouchpointDecoder,
    metrics: IngestMetrics,
    control_secret: bytes,
) -> AgentT[bytes]:
    """Register the ``ingest_touchpoints`` agent on *app* and return it; *control_secret* signs claims."""

    @app.agent(topics.raw, name="ingest_touchpoints")
    async def ingest_touchpoints(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            # The record's broker timestamp (Faust gives seconds) bounds how far ahead its event may be;
            # a record without one is held to this worker's clock.
            stamp = _timestamp(event)
            outcome = decoder(event.value, stamp or time.time())
            if isinstance(outcome, Accepted):
                metrics.EVENTS_ACCEPTED.labels(outcome.event["channel"], outcome.event["type"]).inc()
                # Keep the raw record's timestamp: the journey measures event-to-alert time from it.
                # None (no timestamp) lets the producer stamp the current time.
                await topics.by_customer.send(
                    key=outcome.customer_id.encode(), value=outcome.body, timestamp=stamp
                )
                for claim in outcome.claims:
                    key = claim.key.encode()
                    value = encode_control(control_secret, key, claim)
                    await topics.by_customer.send(key=key, value=value, timestamp=stamp)
            else:
                metrics.DEAD_LETTERS.labels(outcome.reason).inc()
                await send_dead_letter(topics.dead_letter, event, outcome)

    return ingest_touchpoints


async def send_dead_letter(topic: Sink, event: EventT[Any], rejected: Rejected) -> None:
    """Publish the dead-letter record of *event* (a Faust event) to *topic*, keyed by its source position."""
    message = event.message
    await topic.send(
        key=f"{message.topic}:{message.partition}:{message.offset}".encode(),
        value=dead_letter_record(
            event.value,
            rejected,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            rejected_at=datetime.now(UTC),
        ),
    )


def _timestamp(event: EventT[Any]) -> float | None:
    """The record's broker timestamp in epoch seconds (Faust gives seconds), or None when it has none."""
    stamp: float | None = event.message.timestamp
    return stamp if stamp and stamp > 0 else None
