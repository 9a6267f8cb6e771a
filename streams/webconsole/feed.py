"""The console's live feed: the alert topics, read into the inbox and fanned out to every open page.

The console reads the topics as a plain reader (no consumer group, no commits), from the
start of what the broker keeps, so every console instance holds the same inbox and any
of them can serve any browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from aiokafka.errors import KafkaError

from agents.domain.refusal import Rejected
from streams import topics
from streams.alert_records import decode_alert, instant
from streams.kafka import BrokerUnreachable, Connection, consume
from streams.webconsole import metrics
from streams.webconsole.inbox import Entry, Inbox

log = logging.getLogger("touchpoint.console")

#: Changes a page may fall behind before it is told to catch up from the inbox instead.
SUBSCRIBER_BACKLOG: Final = 5000
PRUNE_EVERY_S: Final = 60.0
GAUGES_EVERY_S: Final = 5.0


class Subscriber:
    """One open page's queue of changes (sequence number, entry); ``lagged`` when it overflowed (the page
    then catches up from the inbox)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, Entry]] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.lagged = False

    def offer(self, seq: int, entry: Entry) -> None:
        try:
            self.queue.put_nowait((seq, entry))
        except asyncio.QueueFull:
            self.lagged = True


class Hub:
    """Fans out inbox changes to the subscribed pages."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        metrics.LIVE_CLIENTS.set(len(self._subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        metrics.LIVE_CLIENTS.set(len(self._subscribers))

    def publish(self, entry: Entry) -> None:
        for subscriber in self._subscribers:
            subscriber.offer(entry.seq, entry)


async def follow_alerts(
    bootstrap: Connection | str, inbox: Inbox, hub: Hub, history_seconds: float, stop: asyncio.Event
) -> None:
    """Read every alert topic into *inbox* until *stop*; reconnects after broker errors."""
    names = [topics.alert_topic(alert_type) for alert_type in topics.ALERT_TYPES]
    pruned_at = counted_at = time.monotonic()
    while not stop.is_set():
        try:
            async for record in consume(bootstrap, names, from_beginning=True, stop=stop):
                outcome = decode_alert(record.value, record.topic)
                if isinstance(outcome, Rejected):
                    metrics.INVALID_RECORDS.labels(outcome.reason).inc()
                    continue
                if (instant(outcome["detected_at"]) or 0.0) < time.time() - history_seconds:
                    continue
                entry = inbox.apply(outcome)
                if entry is not None:
                    hub.publish(entry)
                now = time.monotonic()
                if now - pruned_at > PRUNE_EVERY_S:
                    inbox.prune(time.time() - history_seconds)
                    pruned_at = now
                if now - counted_at > GAUGES_EVERY_S:
                    active, resolved = inbox.totals()
                    metrics.ALERTS_KNOWN.labels("active").set(active)
                    metrics.ALERTS_KNOWN.labels("resolved").set(resolved)
                    counted_at = now
        except (LookupError, BrokerUnreachable, KafkaError) as exc:
            log.warning("alert topics unavailable (%s); retrying", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=2.0)
