"""The ingest agent: raw touchpoints in, customer-keyed events or dead-letters out.

It takes the raw records a partition's batch at a time (``agents.ports.Batches``) and adds
what it publishes to the batch's outbox, which the worker sends once the batch is applied.
A forwarded record keeps the Kafka timestamp of its raw record, so downstream latency
(``touchpoint_event_to_alert_seconds``) is measured from when the touchpoint was produced.

When a raw record was read in the very partition its customer's state lives in (a producer
keying by customer, the raw topic co-partitioned with ``touchpoints.by-customer``), the
touchpoint is handed to the journey at once (*shortcut*) instead of being read back from that
topic: one consume per record instead of two. Every record of such a partition is, so a
customer's touchpoints keep their order. The forwarded copy still goes out, marked with the
journey's verdict, for every other consumer of the topic.

An event naming its customer and carrying identifiers also sends one signed claim per identifier
to that identifier's key (agents/identity/control.py), after the touchpoint: on the identifier's
partition, the claim and the identifier's anonymous touchpoints meet in the order sent here. So records
keyed by an identifier (claims, anonymous touchpoints) always take the topic, never the shortcut: a
claim made in another partition would otherwise be overtaken by a touchpoint applied at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import Counter

from agents.domain.identity import Claim
from agents.domain.instants import broker_seconds
from agents.domain.refusal import Rejected
from agents.identity.control import encode_control
from agents.identity.keys import PREFIX as IDENTIFIER_PREFIX
from agents.ingest.dead_letter import dead_letter_record
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.ports import Batches, BatchHandler, Outbox, Record, Sink
from agents.tally import Tally

__all__ = ["IngestMetrics", "IngestTopics", "Shortcut", "add_dead_letter", "install"]

#: ``shortcut(partition, accepted, received_at)``: apply an accepted touchpoint of a customer whose
#: state lives in *partition* of by-customer, here and now; returns the headers that mark its
#: forwarded copy with the journey's verdict (applied, or refused and why).
Shortcut = Callable[[int, Accepted, float | None], tuple[Sequence[tuple[str, bytes]], bool]]


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
    batches: Batches,
    topics: IngestTopics,
    decoder: TouchpointDecoder,
    metrics: IngestMetrics,
    control_secret: bytes,
    shortcut: Shortcut | None = None,
) -> BatchHandler:
    """Route the raw topic's records to ``ingest_touchpoints`` and return it; *control_secret* signs claims."""
    outbox = batches.outbox
    by_customer = topics.by_customer.get_topic_name()
    dead_letter = topics.dead_letter.get_topic_name()

    def forward(source: Record, accepted: Accepted, stamp: float | None, journey_here: bool) -> None:
        key = accepted.customer_id.encode()
        partition = batches.partition_of(by_customer, key)
        headers: Sequence[tuple[str, bytes]] = ()
        settled = False
        # Only records read in the customer's own partition: the journey of that partition sees all of
        # them in this order, none overtaken by an earlier one still on its way through by-customer.
        if (
            journey_here
            and shortcut is not None
            and partition == source.partition
            and not accepted.customer_id.startswith(IDENTIFIER_PREFIX)
        ):
            headers, settled = shortcut(partition, accepted, stamp)
        outbox.add(
            by_customer,
            key=key,
            value=accepted.body,
            partition=partition,
            timestamp=stamp,
            headers=headers,
            settled=settled,
        )

    def send_claim(claim: Claim, stamp: float | None) -> None:
        # After the touchpoint, to the identifier's key, through the topic (see the module's docstring).
        key = claim.key.encode()
        outbox.add(by_customer, key=key, value=encode_control(control_secret, key, claim), timestamp=stamp)

    # Counted once per fetch, by kind and by reason (agents/tally.py).
    tally = Tally()

    def ingest_touchpoints(partition: int, records: Sequence[Record]) -> None:
        # Whether this worker holds the same partition of by-customer, co-partitioned: asked once per
        # batch, as the answers hold for the whole fetch being applied (the host reads the assignment
        # and the topics' sizes before it).
        journey_here = (
            len(records) > 0
            and batches.co_partitioned(records[0].topic, by_customer)
            and batches.owns(by_customer, partition)
        )
        for record in records:
            # The record's broker timestamp bounds how far ahead its event may be; a record without
            # one is held to this worker's clock.
            stamp = broker_seconds(record.timestamp)
            outcome = decoder.decode(record.value, stamp or time.time())
            if isinstance(outcome, Accepted):
                tally.add(metrics.EVENTS_ACCEPTED, (outcome.event["channel"], outcome.event["type"]))
                # Keep the raw record's timestamp: the journey measures event-to-alert time from it.
                # None (no timestamp) lets the producer stamp the current time.
                forward(record, outcome, stamp, journey_here)
                for claim in outcome.claims:
                    send_claim(claim, stamp)
            else:
                tally.add(metrics.DEAD_LETTERS, (outcome.reason,))
                add_dead_letter(outbox, dead_letter, record, outcome)

    batches.route(topics.raw, ingest_touchpoints)
    batches.after_apply(tally.flush)
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
