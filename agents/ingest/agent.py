"""The ingest agent: raw touchpoints in, customer-keyed events or dead-letters out.

A forwarded record keeps the Kafka timestamp of its raw record, so downstream latency
(``touchpoint_event_to_alert_seconds``) is measured from when the touchpoint was produced.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from agents.domain.refusal import Rejected
from agents.ingest.dead_letter import dead_letter_record
from agents.ingest.decode import Accepted, TouchpointDecoder


def install(app: Any, topics: Any, decoder: TouchpointDecoder, metrics: Any) -> Any:
    """Register the ``ingest_touchpoints`` agent on *app* and return it."""
    by_customer = topics.by_customer
    dead_letter = topics.dead_letter
    accepted_counter = metrics.EVENTS_ACCEPTED
    dead_letter_counter = metrics.DEAD_LETTERS

    @app.agent(topics.raw, name="ingest_touchpoints")  # type: ignore[untyped-decorator]
    async def ingest_touchpoints(stream: Any) -> None:
        async for event in stream.events():
            # The record's broker timestamp (Faust gives seconds) bounds how far ahead its event may be;
            # a record without one is held to this worker's clock.
            stamp = event.message.timestamp
            outcome = decoder(event.value, stamp if stamp and stamp > 0 else time.time())
            if isinstance(outcome, Accepted):
                accepted_counter.labels(outcome.event["channel"], outcome.event["type"]).inc()
                # Keep the raw record's timestamp: the journey measures event-to-alert time from it.
                # None (no timestamp) lets the producer stamp the current time.
                timestamp = event.message.timestamp
                await by_customer.send(
                    key=outcome.customer_id.encode(),
                    value=outcome.body,
                    timestamp=timestamp if timestamp and timestamp > 0 else None,
                )
            else:
                dead_letter_counter.labels(outcome.reason).inc()
                await send_dead_letter(dead_letter, event, outcome)

    return ingest_touchpoints


async def send_dead_letter(topic: Any, event: Any, rejected: Rejected) -> None:
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
