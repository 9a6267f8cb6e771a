"""Every private name of Faust, mode and aiokafka the product uses, in one place, with why.

The worker relies on a few internals that no public API offers: bulk changelog restore, held-back
state writes on RocksDB, the producer without Faust's per-message path, exact end offsets on the
embedded broker. An upgrade inside the pinned ranges may rename any of them; without a check,
bulk restore or the RocksDB write path could silently switch off. So each name is listed here
(``PRIVATE_NAMES``), a unit test (tests/streams/runtime/test_faust_private.py) asserts that each
still exists on the installed versions with the expected parameters, and another that the code
touches no private name that is not listed.

Reads and writes of private attributes go through the functions below; the overrides of private
methods are in the subclasses that need them (``streams.app``, ``streams.runtime.transport`` and
``streams.runtime.recovery``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # types only: the plain Kafka clients (CLI, console, notify bridge) load no Faust
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from faust.stores.base import SerializedStore
    from faust.types import TP, AppT, CollectionT, ConsumerT, TableT

__all__ = [
    "PRIVATE_NAMES",
    "PrivateName",
    "acknowledge_through",
    "changelog_sent",
    "committed_offset",
    "direct_producer",
    "durable_writer",
    "encoded_items",
    "has_changelog_event_callback",
    "read_offset",
    "refresh_metadata",
    "set_fetch_max_wait",
]

METHOD: Final = "method"
ATTRIBUTE: Final = "attribute"


@dataclass(frozen=True)
class PrivateName:
    """One private name: whose it is, what the product does with it, and why."""

    #: "package.module:Class" that defines it.
    owner: str
    name: str
    #: METHOD (called or overridden) or ATTRIBUTE (read or written).
    kind: str
    #: A method's parameter names, ``self`` first; None for an attribute.
    parameters: tuple[str, ...] | None
    #: The product's modules that use it.
    used_in: tuple[str, ...]
    why: str
    #: For an attribute set before the owner reads it: the "module:Class.method" that must still read it.
    read_by: str | None = None


PRIVATE_NAMES: Final = (
    PrivateName(
        "faust.app.base:App",
        "_new_transport",
        METHOD,
        ("self",),
        ("streams/app.py",),
        "Overridden to give the app our transport (fetch wait, exact end offsets, drained state "
        "writes before commits); Faust offers no setting for a transport class.",
    ),
    PrivateName(
        "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread",
        "_create_worker_consumer",
        METHOD,
        ("self", "transport"),
        ("streams/runtime/transport.py",),
        "Overridden to set the fetch wait on the worker's consumer: Faust hard-codes 1.5 s, which "
        "the embedded broker waits in full on every fetch.",
    ),
    PrivateName(
        "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread",
        "_highwaters",
        METHOD,
        ("self", "partitions"),
        ("streams/runtime/transport.py",),
        "Overridden to check each end offset by fetching the last record: the embedded broker "
        "reports the start of the last batch + 1, and table recovery would stop short.",
    ),
    PrivateName(
        "faust.transport.drivers.aiokafka:Consumer",
        "_new_consumer_thread",
        METHOD,
        ("self",),
        ("streams/runtime/transport.py",),
        "Overridden to use our consumer thread (the two overrides above).",
    ),
    PrivateName(
        "faust.tables.recovery:Recovery",
        "_build_offsets",
        METHOD,
        ("self", "consumer", "tps", "destination", "title"),
        ("streams/runtime/recovery.py",),
        "Overridden to restore the active changelog partitions in bulk right after Faust has "
        "taken their end offsets, before its record-by-record recovery starts.",
    ),
    PrivateName(
        "faust.tables.manager:TableManager",
        "_recovery",
        ATTRIBUTE,
        None,
        ("streams/runtime/recovery.py",),
        "The table manager's recovery service, made on first use: ours makes a BulkRecovery instead.",
        read_by="faust.tables.manager:TableManager.recovery",
    ),
    PrivateName(
        "faust.tables.base:Collection",
        "_on_changelog_event",
        ATTRIBUTE,
        None,
        ("streams/runtime/recovery.py",),
        "A table with a per-event changelog callback is restored record by record, as Faust "
        "would: a bulk restore would skip the callback.",
    ),
    PrivateName(
        "faust.tables.base:Collection",
        "_on_changelog_sent",
        METHOD,
        ("self", "fut"),
        ("streams/runtime/state_writer.py",),
        "Called for each changelog record the state writer sends itself, so RocksDB keeps its "
        "record of the changelog offsets its files hold, as for Faust's own writes.",
    ),
    PrivateName(
        "faust.stores.rocksdb:Store",
        "_db_for_partition",
        METHOD,
        ("self", "partition"),
        ("streams/runtime/state_writer.py",),
        "A held-back write goes to the RocksDB database of its partition: Faust's own Store._set "
        "takes the partition from the current event, which a release has none of.",
    ),
    PrivateName(
        "faust.stores.rocksdb:Store",
        "_key_index",
        ATTRIBUTE,
        None,
        ("streams/runtime/state_writer.py",),
        "RocksDB's key → partition index, kept up to date for the writes made past Store._set.",
        read_by="faust.stores.rocksdb:Store._get",
    ),
    PrivateName(
        "faust.serializers.codecs:Codec",
        "_dumps",
        METHOD,
        ("self", "s"),
        ("streams/tables.py",),
        "The customer-state codec implements it (and _loads), as Faust's guide to custom codecs says.",
    ),
    PrivateName(
        "faust.serializers.codecs:Codec",
        "_loads",
        METHOD,
        ("self", "s"),
        ("streams/tables.py",),
        "See _dumps.",
    ),
    PrivateName(
        "faust.stores.base:SerializedStore",
        "_iteritems",
        METHOD,
        ("self",),
        ("streams/runtime/state_writer.py",),
        "The walk over every customer after a rebalance reads the stored bytes: decoding each "
        "state would cost more than everything else the walk does.",
    ),
    PrivateName(
        "faust.transport.drivers.aiokafka:Producer",
        "_ensure_producer",
        METHOD,
        ("self",),
        ("streams/runtime/direct.py",),
        "Output records go straight to the aiokafka producer Faust flushes before each commit: "
        "Faust's per-message path costs five times as much CPU (bench/send_cost.py).",
    ),
    PrivateName(
        "faust.transport.consumer:Consumer",
        "_read_offset",
        ATTRIBUTE,
        None,
        ("streams/runtime/transport.py", "streams/runtime/faust_private.py"),
        "How far the worker has read a partition: only a partition read to its end is moved on "
        "by a wall-clock tick. The batch host moves it on for the records it applies, as Faust's "
        "message loop does for its own.",
    ),
    PrivateName(
        "faust.transport.consumer:ThreadDelegateConsumer",
        "_getmany",
        METHOD,
        ("self", "active_partitions", "timeout"),
        ("streams/runtime/transport.py",),
        "Overridden to take the records of the batch host's topics off each fetch before Faust "
        "makes a message of each: Faust's per-message path costs more than the product's own work.",
    ),
    PrivateName(
        "faust.transport.consumer:Consumer",
        "_acked",
        ATTRIBUTE,
        None,
        ("streams/runtime/faust_private.py",),
        "The offsets processed since the last commit, per partition: the batch host adds its records' "
        "offsets, a range at a time, where Faust's commit finds them (Consumer.ack takes one message).",
        read_by="faust.transport.consumer:Consumer._new_offset",
    ),
    PrivateName(
        "faust.transport.consumer:Consumer",
        "_acked_index",
        ATTRIBUTE,
        None,
        ("streams/runtime/faust_private.py",),
        "The set beside _acked that Faust keeps in step with it.",
        read_by="faust.transport.consumer:Consumer._new_offset",
    ),
    PrivateName(
        "faust.transport.consumer:Consumer",
        "_committed_offset",
        ATTRIBUTE,
        None,
        ("streams/worker_metrics.py",),
        "The committed offset of each owned partition, for the consumer-lag metric without an "
        "extra request to the broker.",
    ),
    PrivateName(
        "aiokafka.consumer.consumer:AIOKafkaConsumer",
        "_fetch_max_wait_ms",
        ATTRIBUTE,
        None,
        ("streams/runtime/transport.py",),
        "Set on the consumer Faust creates, before start() builds its fetcher from it.",
        read_by="aiokafka.consumer.consumer:AIOKafkaConsumer.start",
    ),
    PrivateName(
        "aiokafka.consumer.consumer:AIOKafkaConsumer",
        "_client",
        ATTRIBUTE,
        None,
        ("streams/kafka.py", "streams/webconsole/customers.py"),
        "Its force_metadata_update() makes a group-less consumer learn a topic created after it "
        "started; the consumer has no public way to ask.",
    ),
)


def read_offset(consumer: ConsumerT, tp: TP) -> int | None:
    """The offset of the last record *consumer* has read from *tp*, if any."""
    offset: int | None = consumer._read_offset.get(tp)  # type: ignore[attr-defined]
    return offset


def acknowledge_through(consumer: object, tp: TP, first: int, last: int) -> None:
    """Mark *tp*'s offsets up to *last* processed, from *first* or the offset after the last one read.

    *consumer* is Faust's (``faust.transport.consumer.Consumer``).

    Offsets the fetch skipped (a compacted or aborted range) are marked too, as Faust marks its
    gaps, so the commit moves past them. Offsets below the committed one are left out.
    """
    read = consumer._read_offset  # type: ignore[attr-defined]
    previous: int | None = read.get(tp)
    start = first if previous is None else min(first, previous + 1)
    committed: int | None = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]
    if committed is not None:
        start = max(start, committed)
    index: set[int] = consumer._acked_index[tp]  # type: ignore[attr-defined]
    offsets = [offset for offset in range(start, last + 1) if offset not in index]
    index.update(offsets)
    consumer._acked[tp].extend(offsets)  # type: ignore[attr-defined]
    read[tp] = last


def committed_offset(consumer: ConsumerT, tp: TP) -> int | None:
    """The offset *consumer* last loaded or committed for *tp*, while it owns *tp*."""
    offset: int | None = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]
    return offset


def set_fetch_max_wait(consumer: AIOKafkaConsumer, milliseconds: int) -> None:
    """The longest a fetch may wait for data; before ``start()``, which reads it."""
    consumer._fetch_max_wait_ms = milliseconds


async def refresh_metadata(consumer: AIOKafkaConsumer) -> None:
    """Ask the broker for the cluster's topics and partitions now."""
    await consumer._client.force_metadata_update()


def direct_producer(app: AppT) -> AIOKafkaProducer:
    """The aiokafka producer under Faust's, started: the one Faust flushes before each commit."""
    producer: AIOKafkaProducer = app.producer._ensure_producer()  # type: ignore[attr-defined]
    return producer


def changelog_sent(table: TableT[Any, Any]) -> Callable[[Any], None]:
    """*table*'s callback for a changelog record the broker has acknowledged."""
    callback: Callable[[Any], None] = table._on_changelog_sent  # type: ignore[attr-defined]
    return callback


def has_changelog_event_callback(table: CollectionT) -> bool:
    """Whether *table* runs a callback per changelog event (such a table restores record by record)."""
    return table._on_changelog_event is not None  # type: ignore[attr-defined]


def durable_writer(store: MutableMapping[bytes, Any]) -> Callable[[bytes, bytes | None, int], None] | None:
    """``write(key, encoded, partition)`` into RocksDB's database of the partition (None: delete the key);
    None for other stores."""
    if not hasattr(store, "_db_for_partition"):
        return None
    index = store._key_index  # type: ignore[attr-defined]
    database_of = store._db_for_partition

    def write(key: bytes, encoded: bytes | None, partition: int) -> None:
        if encoded is None:
            index.pop(key, None)
            database_of(partition).delete(key)
            return
        index[key] = partition
        database_of(partition).put(key, encoded)

    return write


def encoded_items(store: SerializedStore[Any, Any]) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, stored bytes) of *store*, without decoding the values."""
    return store._iteritems()
