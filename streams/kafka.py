"""Plain Kafka clients (aiokafka) for the CLI: produce a stream of records, read topics.

These are the tools' clients, not the worker's; the worker's I/O goes through Faust. Each takes
a ``Connection`` (the brokers and their TLS and SASL settings) or, on a plaintext cluster, just
the bootstrap servers. Record keys and values never reach the client's log (streams/redaction.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, errors
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from agents.ingest.identity import derived_customer_id, normalise_identifier
from streams import fetch_holes, redaction, topics
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.runtime.declare import create_missing_topics, listed_topics
from streams.runtime.faust_private import refresh_metadata
from streams.topics import TopicSpec

__all__ = [
    "BrokerUnreachable",
    "Connection",
    "Record",
    "TopicsUnlisted",
    "bootstrap_servers",
    "connection",
    "consume",
    "ensure_topics",
    "produce",
    "producer",
    "readable_topics",
    "routing_key",
]

log = logging.getLogger(__name__)

redaction.hide_record_contents()


class BrokerUnreachable(ConnectionError):
    """No broker answered at the configured address, or it refused the connection's TLS or sign-in."""


class TopicsUnlisted(RuntimeError):
    """The broker answered, but would not list the topics (no admin API, or the request failed)."""


@dataclass(frozen=True)
class Connection:
    """The brokers to bootstrap from, and how to reach them (TLS, SASL)."""

    bootstrap: str
    security: KafkaSecurity = field(default=PLAINTEXT)
    #: The workers' partitions (``TOUCHPOINT_PARTITIONS``): a product topic this client finds missing is
    #: created with them, and with its retention, before the client names it (``ensure_topics``). None:
    #: the client creates nothing, and a broker that creates topics on first use gives its defaults.
    partitions: int | None = None
    #: Replicas of a topic this client creates (``TOUCHPOINT_REPLICATION_FACTOR``).
    replication_factor: int = 1

    def client_options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments: the bootstrap servers and the security settings."""
        return {"bootstrap_servers": self.bootstrap, **self.security.client_options()}

    def describe(self) -> str:
        return f"{self.bootstrap} over {self.security.describe()}"


def connection(target: Connection | str) -> Connection:
    """*target* as a Connection: a bare ``host:port`` list is a plaintext cluster."""
    return target if isinstance(target, Connection) else Connection(target)


async def start_client(client: AIOKafkaProducer | AIOKafkaConsumer, target: Connection) -> None:
    """Start *client*, or stop it and raise BrokerUnreachable with a one-line reason (never a secret)."""
    if isinstance(client, AIOKafkaConsumer):
        fetch_holes.install()
    try:
        await client.start()
    except Exception as exc:  # connection refused, TLS handshake, SASL sign-in: one clean line each
        with suppress(Exception):
            await client.stop()
        raise BrokerUnreachable(
            f"cannot connect to Kafka at {target.describe()}: {_reason(exc, target)}"
        ) from None


#: What aiokafka raises when a broker refuses a SASL sign-in (a SCRAM refusal surfaces as a KeyError).
_SIGN_IN_REFUSED = (
    KeyError,
    errors.SaslAuthenticationFailed,
    errors.UnsupportedSaslMechanismError,
    errors.IllegalSaslStateError,
)


#: Failures to reach the brokers or sign in, which a client's start reports in its own error line.
_UNREACHABLE = (OSError, errors.KafkaConnectionError, *_SIGN_IN_REFUSED)


def _reason(exc: Exception, target: Connection) -> str:
    if target.security.sasl_mechanism and isinstance(exc, _SIGN_IN_REFUSED):
        return (
            f"the broker refused the sign-in ({type(exc).__name__}); check the user name, the password "
            "and that the broker offers this mechanism"
        )
    return redaction.redact(f"{type(exc).__name__}: {exc}")


#: (bootstrap, topic) pairs this process has made sure of: a topic, once there, stays.
_ENSURED: set[tuple[str, str]] = set()


async def ensure_topics(target: Connection | str, names: Iterable[str]) -> None:
    """Create the product topics among *names* that do not exist yet, as the workers would.

    A broker creates a topic the first time a client asks for it (Apache Kafka where
    ``auto.create.topics.enable`` is on, its default; the embedded broker always), with its own
    partition count and no retention. A journey input created so has the wrong size for the
    workers, which then refuse to start: an operator's ``touchpoint erase`` on a fresh cluster would
    stop every worker. So each client of ours creates what it is about to name first, with the
    *target*'s partitions (``streams.topics.topic_specs``). Topics that exist are left as they are.
    A topic this client may not create is noted in the log; any other failure to create one, or a
    broker without the admin API, is a warning; either way the client goes on as it would have. A
    *target* without partitions creates nothing."""
    target = connection(target)
    specs = [spec for spec in _product_specs(target, names) if (target.bootstrap, spec.name) not in _ENSURED]
    if not specs:
        return
    wanted = [spec.name for spec in specs]
    try:
        await create_missing_topics(specs, target.client_options())
    except _UNREACHABLE as exc:  # the client's own start reports it next, once
        log.debug("could not check the topics %s: %s", ", ".join(wanted), _reason(exc, target))
        return
    except Exception as exc:  # a broker without the admin API, say: the client goes on as before
        log.warning("could not check the topics %s: %s", ", ".join(wanted), _reason(exc, target))
        return
    _ENSURED.update((target.bootstrap, name) for name in wanted)


async def readable_topics(target: Connection | str, names: Iterable[str]) -> list[str]:
    """Those of *names* this client can read, in order, after creating the missing product topics among
    them as ``ensure_topics`` does (with one listing of the broker's topics for both). The others are
    missing, or its principal may not see them (a broker that enforces ACLs lists only those).
    Raises ``BrokerUnreachable`` if the broker cannot be reached or refuses the connection, and
    ``TopicsUnlisted`` if it answers but does not list its topics."""
    target = connection(target)
    names = list(names)
    specs = _product_specs(target, names)
    try:
        if target.partitions is None:
            seen = set(await listed_topics(target.client_options()))
        else:
            seen = await create_missing_topics(specs, target.client_options())
    except (*_UNREACHABLE, errors.KafkaTimeoutError) as exc:  # refused, TLS, sign-in, no answer: one line
        raise BrokerUnreachable(
            f"cannot connect to Kafka at {target.describe()}: {_reason(exc, target)}"
        ) from None
    except Exception as exc:  # it answered: not a connection problem, and not to be reported as one
        raise TopicsUnlisted(
            f"Kafka at {target.describe()} answered but did not list its topics: {_reason(exc, target)}"
        ) from None
    # Made sure of: the client's own reader or writer of them does not ask again (ensure_topics).
    _ENSURED.update((target.bootstrap, spec.name) for spec in specs)
    return [name for name in names if name in seen]


def _product_specs(target: Connection, names: Iterable[str]) -> list[TopicSpec]:
    """The layout of the product's topics among *names*, once each; none for a *target* without the
    workers' partitions."""
    if target.partitions is None:
        return []
    layout = topics.topic_specs(target.partitions, target.replication_factor)
    return [layout[name] for name in dict.fromkeys(names) if name in layout]


def bootstrap_servers(url: str) -> str:
    """``kafka://h1:9092;h2:9092`` (Faust form) → ``h1:9092,h2:9092`` (client form)."""
    for scheme in ("kafka://", "aiokafka://"):
        if url.startswith(scheme):
            url = url[len(scheme) :]
    return ",".join(part for part in url.replace(";", ",").split(",") if part)


def routing_key(value: bytes, identity_key: bytes) -> bytes | None:
    """Best-effort key for a raw touchpoint: its customer key, so one customer's events stay in order.

    A ``customer_id`` is the key; an event known only by identifiers is keyed by the customer key
    ingest derives from them (``id:<kind>:<keyed hash>`` under *identity_key*), never by a raw phone
    number or e-mail address. Keyless records are spread over partitions and ingested
    concurrently, which reorders a customer's events. Anything unparseable goes keyless.
    """
    return _key_and_time(value, identity_key)[0]


def _key_and_time(value: bytes, identity_key: bytes) -> tuple[bytes | None, int | None]:
    """The routing key of a raw touchpoint and its event time in epoch ms, each None when unreadable."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(document, dict):
        return None, None
    key = None
    customer = document.get("customer_id")
    identifiers = document.get("identifiers")
    if isinstance(customer, str):
        key = customer.strip().encode()
    elif isinstance(identifiers, dict):
        key = _identifier_key(identifiers, identity_key)
    stamp = None
    occurred = document.get("occurred_at")
    if isinstance(occurred, str):
        with suppress(ValueError):
            moment = datetime.fromisoformat(occurred.upper())
            if moment.utcoffset() is not None:
                stamp = round(moment.timestamp() * 1000)
    return key, stamp


def _identifier_key(identifiers: dict[Any, Any], identity_key: bytes) -> bytes | None:
    usable = {
        kind: normalise_identifier(kind, value)
        for kind, value in identifiers.items()
        if isinstance(kind, str) and isinstance(value, str) and value.strip()
    }
    try:
        return derived_customer_id(usable, identity_key).encode()
    except ValueError:  # no kind the contract knows: ingest refuses it anyway
        return None


#: ``produce`` confirms the delivery of what it sent before it takes this many records past the first it has
#: not confirmed: a record it tells is too large is one of the last this many it took.
UNCONFIRMED = 5000


@asynccontextmanager
async def producer(target: Connection | str, **options: object) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer, flushed and stopped on exit."""
    target = connection(target)
    client = AIOKafkaProducer(linger_ms=5, **{**target.client_options(), **options})
    await start_client(client, target)
    try:
        yield client
        await client.flush()
    finally:
        await client.stop()


async def produce(
    target: Connection | str,
    topic: str,
    records: Iterable[bytes],
    *,
    rate: float | None = None,
    on_sent: Callable[[bytes], None] | None = None,
    stop: asyncio.Event | None = None,
    event_time_stamps: bool = False,
    identity_key: bytes | None = None,
    on_too_large: Callable[[int, int], None] | None = None,
) -> int:
    """Send *records* to *topic*, keyed by customer where possible; paced to *rate* per second when given.

    A record known only by identifiers is keyed by the customer key derived under *identity_key*
    (the workers' ``TOUCHPOINT_IDENTITY_SALT``, so the raw record's key is the customer's key
    downstream); without one, under a random key of this call, which keeps one customer's events
    together for this run without revealing the identifier.
    With *event_time_stamps*, each record's Kafka timestamp is its event's ``occurred_at``, as a
    producer in the simulated world would stamp it: the simulator runs its clock faster than the
    wall clock, and the worker refuses events dated ahead of their record's timestamp.
    A record larger than Kafka takes in one (the producer's ``max_request_size``, or the broker's limit) is
    not sent: *on_too_large* hears its position among *records* (from 0) and its size, and the others are
    sent; without *on_too_large*, MessageSizeTooLargeError is raised.
    Returns how many were sent. Sends are pipelined; delivery is confirmed before returning.
    """
    sent = 0
    #: (position among records, size, delivery) of each record sent and not yet confirmed.
    pending: list[tuple[int, int, asyncio.Future[object]]] = []
    started = time.monotonic()
    key_of = identity_key or secrets.token_bytes(32)

    def too_large(position: int, size: int, error: errors.MessageSizeTooLargeError) -> None:
        if on_too_large is None:
            raise error
        on_too_large(position, size)

    async def confirmed() -> int:
        """How many of the pending records were delivered; the rest were too large."""
        delivered = 0
        outcomes = await asyncio.gather(*(future for _, _, future in pending), return_exceptions=True)
        for (position, size, _), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, errors.MessageSizeTooLargeError):
                too_large(position, size, outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                delivered += 1
        pending.clear()
        return delivered

    await ensure_topics(target, (topic,))
    async with producer(target) as client:
        for position, value in enumerate(records):
            if stop is not None and stop.is_set():
                break
            if pending and position - pending[0][0] + 1 >= UNCONFIRMED:
                sent += await confirmed()
            if rate:
                # Pace against the start, not the previous send, so jitter does not accumulate.
                delay = started + (sent + len(pending)) / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            key, stamp = _key_and_time(value, key_of)
            try:
                delivery = await client.send(
                    topic, value, key=key, timestamp_ms=stamp if event_time_stamps else None
                )
            except errors.MessageSizeTooLargeError as exc:
                too_large(position, len(value), exc)
                continue
            pending.append((position, len(value), delivery))
            if on_sent is not None:
                on_sent(value)
        sent += await confirmed()
    return sent


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


async def consume(
    target: Connection | str,
    topics: Iterable[str],
    *,
    from_beginning: bool = True,
    idle_timeout: float | None = None,
    stop: asyncio.Event | None = None,
    on_positioned: Callable[[], Awaitable[object]] | None = None,
) -> AsyncIterator[Record]:
    """Yield records of *topics* from every partition, without a consumer group.

    No group means no join delay and no committed offsets: a reader, not a member.
    Ends after *idle_timeout* seconds without a record, or when *stop* is set.
    *on_positioned* is awaited once every partition's starting offset is fixed: what it
    writes is read back, nothing written before it (with ``from_beginning=False``).
    """
    target = connection(target)
    names = list(topics)
    await ensure_topics(target, names)
    client = AIOKafkaConsumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        **target.client_options(),
    )
    await start_client(client, target)
    try:
        partitions: list[TopicPartition] = []
        for topic in names:
            ids = await _partitions_for(client, topic)
            partitions.extend(TopicPartition(topic, partition) for partition in sorted(ids))
        client.assign(partitions)
        if from_beginning:
            await client.seek_to_beginning(*partitions)
        else:
            await client.seek_to_end(*partitions)
        if on_positioned is not None:
            for partition in partitions:
                await client.position(partition)  # resolves the lazy seek now, before the caller writes
            await on_positioned()
        idle_since = time.monotonic()
        while stop is None or not stop.is_set():
            batches = await client.getmany(timeout_ms=200, max_records=2000)
            if not batches:
                if idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                    return
                continue
            idle_since = time.monotonic()
            for tp, messages in batches.items():
                for message in messages:
                    yield Record(
                        tp.topic, tp.partition, message.offset, message.key, message.value, message.timestamp
                    )
    finally:
        await client.stop()


async def _partitions_for(client: AIOKafkaConsumer, topic: str, wait: float = 10.0) -> set[int]:
    deadline = time.monotonic() + wait
    while True:
        with suppress(KafkaError):
            await refresh_metadata(client)
        ids = client.partitions_for_topic(topic)
        if ids:
            return set(ids)
        if time.monotonic() >= deadline:
            raise LookupError(f"topic {topic!r} does not exist on the broker")
        await asyncio.sleep(0.2)
