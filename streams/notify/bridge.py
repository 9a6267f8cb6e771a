"""``touchpoint notify``: the alert topics, posted to Prometheus Alertmanager (API v2). I/O only.

One consumer-group member (group ``<app id>-notify``); run several to share the
partitions. For each batch of alert records it posts the latest state of each alert,
then, once an Alertmanager has accepted the post, marks the records handled; offsets are
committed from the ledger (streams/notify/ledger.py), never past an alert that is still
active. While no Alertmanager accepts, it retries the same post with exponential back-off
and reads nothing further, staying in its group. Every resend interval, and at once after
an outage, it re-posts every active alert, so an Alertmanager restarted empty fills again.
Records that are not alerts go to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.structs import ConsumerRecord, TopicPartition
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.domain.refusal import Rejected
from agents.ingest.dead_letter import dead_letter_record
from streams import topics
from streams.alert_records import decode_alert
from streams.kafka import Connection, bootstrap_servers, ensure_topics, producer, start_client
from streams.notify import metrics
from streams.notify.alertmanager import expired_alert, postable_alert
from streams.notify.ledger import Ledger, Partition
from streams.ops_settings import NotifySettings
from streams.settings import Settings

log = logging.getLogger("touchpoint.notify")

#: Alerts per POST: Alertmanager takes any number; this bounds one request's size (about 1 KB an alert).
POST_CHUNK: Final = 500
POST_TIMEOUT_S: Final = 10.0
BACKOFF_FIRST_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
COMMIT_EVERY_S: Final = 1.0
ACCEPTED, REJECTED, FAILED = "accepted", "rejected", "failed"


def redact(url: str) -> str:
    """*url* without its user and password, for logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class AlertmanagerClient:
    """Posts alerts to every configured Alertmanager; accepted when at least one accepts (as Prometheus)."""

    def __init__(self, urls: Sequence[str], session: aiohttp.ClientSession) -> None:
        self.urls = tuple(urls)
        self._session = session

    async def post(self, alerts: list[dict[str, Any]]) -> str:
        outcomes = await asyncio.gather(*(self._post_one(url, alerts) for url in self.urls))
        if ACCEPTED in outcomes:
            return ACCEPTED
        return FAILED if FAILED in outcomes else REJECTED

    async def _post_one(self, url: str, alerts: list[dict[str, Any]]) -> str:
        try:
            async with self._session.post(
                f"{url}/api/v2/alerts",
                data=orjson.dumps(alerts),
                headers={"Content-Type": "application/json"},
            ) as response:
                body = await response.read()
                if response.status < 300:
                    return ACCEPTED
                if response.status >= 500:
                    metrics.POST_FAILURES.labels("server_error").inc()
                    log.warning("Alertmanager %s answered %s; will retry", redact(url), response.status)
                    return FAILED
                # A 4xx is about the alerts, and the same alerts would be refused again: say so, move on.
                # Alertmanager still takes the valid alerts of a post that has invalid ones.
                metrics.POST_FAILURES.labels("rejected").inc()
                log.error(
                    "Alertmanager %s refused %d alerts (%s): %s",
                    redact(url),
                    len(alerts),
                    response.status,
                    body[:500].decode("utf-8", "replace"),
                )
                return REJECTED
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.POST_FAILURES.labels("unreachable").inc()
            log.warning("Alertmanager %s unreachable (%s); will retry", redact(url), type(exc).__name__)
            return FAILED


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, bridge: NotifyBridge) -> None:
        self.bridge = bridge

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.bridge.partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.bridge.partitions_assigned(assigned)


class NotifyBridge:
    """The consumer loop; ``run()`` until *stop* is set."""

    def __init__(
        self, settings: Settings, notify: NotifySettings, retain_days: float, stop: asyncio.Event
    ) -> None:
        self.settings = settings
        self.notify = notify
        self.retain_seconds = retain_days * 86400
        self.stop = stop
        self.resend = timedelta(seconds=notify.notify_resend_seconds)
        self.ledger = Ledger()
        self.ready = asyncio.Event()
        self._deferred: list[ConsumerRecord] = []
        self._resend_at = time.monotonic() + notify.notify_resend_seconds
        self._committed_at = 0.0
        self._outage = False
        self._consumer: AIOKafkaConsumer | None = None
        self._client: AlertmanagerClient | None = None
        self._dead_letters: Any = None

    # ------------------------------------------------------------------ group membership

    def partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self.ledger.assign((tp.topic, tp.partition))
        self.ready.set()
        log.info("assigned %d alert partitions", len(assigned))

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in revoked}
        if not gone:
            return
        await self._commit(only=gone)
        for partition in gone:
            self.ledger.revoke(partition)
        self._deferred = [r for r in self._deferred if (r.topic, r.partition) not in gone]
        metrics.ACTIVE_ALERTS.set(self.ledger.active_count())

    def partitions(self) -> list[str]:
        """The alert partitions this member owns now, ``topic:partition``: replicas own disjoint sets."""
        consumer = self._consumer
        if consumer is None:
            return []
        return sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())

    # ------------------------------------------------------------------ main loop

    async def run(self) -> None:
        settings = self.settings
        bootstrap = Connection(
            bootstrap_servers(settings.broker),
            settings.kafka_security,
            settings.partitions,
            settings.replication_factor,
        )
        alert_topics = [topics.alert_topic(t) for t in topics.ALERT_TYPES]
        await ensure_topics(bootstrap, (*alert_topics, topics.DEAD_LETTER))
        session_ms = int(settings.session_timeout_s * 1000)
        consumer = AIOKafkaConsumer(
            **bootstrap.client_options(),
            group_id=f"{settings.app_id}-notify",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(session_ms // 3, 100),
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            metadata_max_age_ms=30_000,
        )
        consumer.subscribe(topics=alert_topics, listener=_Rebalance(self))
        await start_client(consumer, bootstrap)
        self._consumer = consumer
        timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, producer(bootstrap) as dead_letters:
                self._client = AlertmanagerClient(self.notify.alertmanagers, session)
                self._dead_letters = dead_letters
                while not self.stop.is_set():
                    records = await self._poll(500)
                    if records:
                        await self._handle(records)
                    await self._maintain()
                await self._commit()
        finally:
            await consumer.stop()

    async def _poll(self, timeout_ms: int) -> list[ConsumerRecord]:
        assert self._consumer is not None
        if self._deferred:
            records, self._deferred = self._deferred, []
            return records
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=POST_CHUNK)
        return [record for messages in batches.values() for record in messages]

    async def _handle(self, records: list[ConsumerRecord]) -> None:
        latest: dict[str, dict[str, Any]] = {}
        handled: list[tuple[Partition, int, dict[str, Any] | None]] = []
        horizon = time.time() - self.retain_seconds
        for record in records:
            partition = (record.topic, record.partition)
            outcome = decode_alert(record.value, record.topic)
            if isinstance(outcome, Rejected):
                await self._dead_letter(record, outcome)
                handled.append((partition, record.offset, None))
                continue
            if datetime.fromisoformat(outcome["detected_at"]).timestamp() < horizon:
                handled.append((partition, record.offset, None))  # the worker no longer keeps it either
                continue
            latest[outcome["alert_id"]] = outcome
            handled.append((partition, record.offset, outcome))
        if latest:
            now = datetime.now(UTC)
            posts = [
                postable_alert(alert, console_url=self.notify.console_url, now=now, resend=self.resend)
                for alert in latest.values()
            ]
            delivered = await self._deliver(posts)
            if delivered is None:
                return  # stopping: nothing marked handled, nothing committed
            if delivered == ACCEPTED:
                accepted = time.time()
                for alert in latest.values():
                    metrics.ALERTS_SENT.labels(
                        "firing" if alert["status"] != "resolved" else "resolved"
                    ).inc()
                for record in records:
                    metrics.DELIVERY_SECONDS.observe(max(accepted - record.timestamp / 1000, 0.0))
        for partition, offset, found in handled:
            self.ledger.handled(partition, offset, found)
        metrics.ACTIVE_ALERTS.set(self.ledger.active_count())

    async def _maintain(self) -> None:
        now = time.monotonic()
        expired = self.ledger.expire(time.time() - self.retain_seconds)
        if expired:
            at = datetime.now(UTC)
            posts = [expired_alert(a, console_url=self.notify.console_url, now=at) for a in expired]
            if await self._deliver(posts) == ACCEPTED:
                metrics.ALERTS_SENT.labels("expired").inc(len(posts))
            metrics.ACTIVE_ALERTS.set(self.ledger.active_count())
        if now >= self._resend_at:
            await self._resend_all()
        if now - self._committed_at >= COMMIT_EVERY_S:
            await self._commit()

    async def _resend_all(self) -> None:
        self._resend_at = time.monotonic() + self.notify.notify_resend_seconds
        active = list(self.ledger.active())
        if not active:
            return
        at = datetime.now(UTC)
        for start in range(0, len(active), POST_CHUNK):
            chunk = active[start : start + POST_CHUNK]
            posts = [
                postable_alert(a, console_url=self.notify.console_url, now=at, resend=self.resend)
                for a in chunk
            ]
            outcome = await self._deliver(posts)
            if outcome is None:
                return
            if outcome == ACCEPTED:
                metrics.ALERTS_SENT.labels("resend").inc(len(posts))

    async def _deliver(self, posts: list[dict[str, Any]]) -> str | None:
        """Post until an Alertmanager accepts (or refuses for good); None when stopping first."""
        assert self._client is not None
        delay = BACKOFF_FIRST_S
        while not self.stop.is_set():
            outcome = await self._client.post(posts)
            if outcome != FAILED:
                if self._outage:
                    # It may have restarted empty while unreachable: fill it again now, not at the next resend.
                    self._outage = False
                    self._resend_at = time.monotonic()
                    log.warning("Alertmanager reachable again; re-posting every active alert")
                return outcome
            self._outage = True
            await self._wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
        return None

    async def _wait(self, seconds: float) -> None:
        """Back off for *seconds* while staying in the group: poll with every partition paused."""
        assert self._consumer is not None
        consumer = self._consumer
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            assigned = consumer.assignment()
            consumer.pause(*assigned)
            try:
                batches = await consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000) + 1)
            finally:
                consumer.resume(*consumer.assignment())
            # Partitions assigned during the wait were not paused: keep what they gave for later.
            self._deferred.extend(record for messages in batches.values() for record in messages)

    async def _commit(self, only: set[Partition] | None = None) -> None:
        assert self._consumer is not None
        due = self.ledger.to_commit()
        if only is not None:
            due = {p: o for p, o in due.items() if p in only}
        self._committed_at = time.monotonic()
        if not due:
            return
        try:
            await self._consumer.commit({TopicPartition(t, p): offset for (t, p), offset in due.items()})
        except Exception as exc:  # a rebalance in progress: the next commit carries the same offsets
            log.warning("offset commit failed (%s); will retry", type(exc).__name__)
            return
        self.ledger.committed(due)

    async def _dead_letter(self, record: ConsumerRecord, rejected: Rejected) -> None:
        metrics.INVALID_RECORDS.labels(rejected.reason).inc()
        value = dead_letter_record(
            record.value,
            rejected,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            rejected_at=datetime.now(UTC),
        )
        key = f"{record.topic}:{record.partition}:{record.offset}".encode()
        await self._dead_letters.send_and_wait(topics.DEAD_LETTER, value, key=key)


async def serve_metrics(bridge: NotifyBridge, host: str, port: int) -> web.AppRunner:
    """/metrics and /ready (200 once the bridge has joined its group, with the partitions it owns) on host:port."""

    async def metrics_view(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def ready_view(_request: web.Request) -> web.Response:
        body = {
            "ready": bridge.ready.is_set(),
            "active_alerts": bridge.ledger.active_count(),
            "partitions": bridge.partitions(),
        }
        return web.json_response(body, status=200 if bridge.ready.is_set() else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/ready", ready_view)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run_notify(
    settings: Settings, notify: NotifySettings, retain_days: float, stop: asyncio.Event
) -> None:
    """The bridge and its metrics server until *stop* is set."""
    bridge = NotifyBridge(settings, notify, retain_days, stop)
    runner = await serve_metrics(bridge, notify.notify_web_host, notify.notify_web_port)
    try:
        task = asyncio.create_task(bridge.run())
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # a crash of the loop ends the process with its error
        else:
            try:
                await asyncio.wait_for(task, timeout=30)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        stopper.cancel()
    finally:
        await runner.cleanup()
