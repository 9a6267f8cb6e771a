"""Table state restored from changelog topics in bulk: Faust's result without its per-record cost.

After every rebalance Faust's ``Recovery`` service reads each changelog partition
the worker now owns, from the last offset it applied up to the partition's end,
one record at a time through its stream machinery: a queue hand-off, an Event with
decoded key and value, a timed queue wait and bookkeeping for every record. That
is ~130 µs a record on the reference machine (``bench/recovery.py``): a million
customers keep their partitions standing still for minutes.

``BulkRecovery`` runs first, for the active partitions. A plain consumer reads
each range to its end (the end offsets Faust has just taken, exact on the
embedded broker too, see ``streams.runtime.transport``), keeps only the last record of
each key, and hands those to the table's store in offset order through the
store's own ``apply_changelog_batch``, so memory and RocksDB stores keep their
bookkeeping and RocksDB its persisted offsets. It then moves Faust's start
offsets to the end, and Faust's own pass finds nothing left to read.

Faust still does everything else: standby partitions, tables with an
``on_changelog_event`` callback (they must see every record), transactional
apps, and whatever a failed or interrupted bulk read did not finish. Faust
then starts where the bulk read's last completed step left off; the store can
already hold newer values of some keys, which is harmless because applying the
rest of the log in order ends in the same state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, MutableMapping, Set
from typing import Any

from aiokafka import TopicPartition
from faust.tables.manager import TableManager as FaustTableManager
from faust.tables.recovery import Recovery
from faust.types import TP

from streams import metrics
from streams.runtime.faust_private import has_changelog_event_callback
from streams.runtime.heap import collector_paused
from streams.runtime.transport import start_plain_consumer

__all__ = ["BulkRecovery", "LatestPerKey", "TableManager", "apply_in_chunks"]

log = logging.getLogger(__name__)

#: Keys handed to the store at once; the event loop runs (web requests, heartbeats) in between.
APPLY_CHUNK = 20_000
#: Give the bulk read up (Faust's own recovery carries on) after this long without a new record.
STALL_TIMEOUT_S = 30.0
#: Seconds between progress lines of a long restore.
PROGRESS_EVERY_S = 5.0


class _Message:
    """A changelog record as read: the ``event.message`` part of an Event, raw bytes."""

    __slots__ = ("headers", "key", "offset", "partition", "tp", "value")

    def __init__(self, tp: TP, offset: int, key: bytes | None, value: bytes | None) -> None:
        self.tp = tp
        self.partition = tp.partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = None


class _Decoding:
    """How records of one table's changelog become the keys and values its store holds."""

    __slots__ = ("_app", "_schema", "keep_encoded")

    def __init__(self, table: Any, app: Any) -> None:
        self._app = app
        self._schema = table.changelog_topic.schema
        #: The table's value type may ask for values in their encoded form, decoded on first read
        #: (see streams.tables): a restore then costs what reading does, and memory what the bytes do.
        self.keep_encoded = bool(getattr(table.value_type, "restore_encoded", False))

    def key(self, message: _Message) -> Any:
        return self._schema.loads_key(self._app, message)

    def value(self, message: _Message) -> Any:
        if self.keep_encoded:
            return message.value
        return self._schema.loads_value(self._app, message)


class _Change:
    """A changelog record shaped as the Event stores expect (``.key``, ``.value``, ``.message``).

    RocksDB stores take the raw bytes from ``message``; the memory store takes the
    decoded ``key`` and ``value``, decoded on access, so a record that a later one of
    the same key replaced is never decoded.
    """

    __slots__ = ("_decoding", "message")

    def __init__(self, message: _Message, decoding: _Decoding) -> None:
        self.message = message
        self._decoding = decoding

    @property
    def key(self) -> Any:
        return self._decoding.key(self.message)

    @property
    def value(self) -> Any:
        return self._decoding.value(self.message)


class LatestPerKey:
    """The last item seen for each key, iterated in the order those last items arrived.

    Fed a partition's records in offset order, the iteration order is offset order
    too, so any prefix of it covers every key whose last record lies at or before
    that prefix's last offset (what a RocksDB store's persisted offset claims).
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[Any, Any] = {}

    def add(self, key: Any, item: Any) -> None:
        # Removing first moves the key to the end: insertion order then follows the latest item.
        self._items.pop(key, None)
        self._items[key] = item

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Any:
        return iter(self._items.values())


class _Range:
    """What is left to read of one changelog partition, and the last record of each key read so far."""

    __slots__ = ("decoding", "end", "latest", "read", "start", "table")

    def __init__(self, table: Any, app: Any, start: int, end: int) -> None:
        self.table = table
        self.decoding = _Decoding(table, app)
        #: First and last offset to apply (Faust's "highwater" is the last offset, not the end).
        self.start = start
        self.end = end
        self.read = 0
        #: key → the aiokafka record; wrapped as an Event only if it is the key's last.
        self.latest = LatestPerKey()

    def changes(self, tp: TP) -> Iterator[_Change]:
        decoding = self.decoding
        for record in self.latest:
            yield _Change(_Message(tp, record.offset, record.key, record.value), decoding)


class _Stalled(Exception):
    pass


class BulkRecovery(Recovery):
    """Faust's Recovery, with the active changelog partitions restored in bulk before its own pass."""

    bulk: bool = True

    async def _build_offsets(self, consumer: Any, tps: set[TP], destination: Counter[TP], title: str) -> None:
        # Faust calls this for the active partitions right after taking their end offsets, and
        # decides afterwards from these offsets whether anything is left to read.
        await super()._build_offsets(consumer, tps, destination, title)
        if title == "active" and self.bulk and tps and not self.app.in_transaction:
            # Millions of objects that all survive (see streams.runtime.heap); restored states are freed by
            # reference counting when replaced, so keeping them out of later passes loses nothing.
            with collector_paused(freeze_survivors=True):
                await self._restore_in_bulk(set(tps), destination)

    def _ranges(self, tps: Iterable[TP], offsets: MutableMapping[TP, Any]) -> dict[TP, _Range]:
        ranges = {}
        for tp in tps:
            table: Any = self.tp_to_table.get(tp)
            end = self.active_highwaters.get(tp)
            applied = offsets.get(tp)
            start = (-1 if applied is None else applied) + 1
            # A table with an on_changelog_event callback must see every record: Faust's path.
            if table is None or end is None or end < start or has_changelog_event_callback(table):
                continue
            ranges[tp] = _Range(table, self.app, start, end)
        return ranges

    async def _restore_in_bulk(self, tps: Set[TP], offsets: MutableMapping[TP, Any]) -> None:
        pending = self._ranges(tps, offsets)
        if not pending:
            return
        started = time.monotonic()
        total = sum(r.end - r.start + 1 for r in pending.values())
        log.info(
            "Bulk restore: reading %d changelog records from %d partitions",
            total,
            len(pending),
        )
        done = records = keys = 0
        try:
            reader = await start_plain_consumer(
                self.app, "bulk-restore", auto_offset_reset="earliest", fetch_max_wait_ms=100
            )
        except Exception as exc:
            log.warning("Bulk restore unavailable (%r); Faust's per-record recovery reads everything", exc)
            return
        try:
            wanted = {TopicPartition(tp.topic, tp.partition): tp for tp in pending}
            reader.assign(list(wanted))
            for atp, tp in wanted.items():
                reader.seek(atp, pending[tp].start)
            progress_at = last_record_at = time.monotonic()
            while pending:
                fetched = await reader.getmany(*wanted, timeout_ms=1000)
                now = time.monotonic()
                for atp, messages in fetched.items():
                    restore = pending.get(wanted[atp])
                    if restore is None:
                        continue
                    end = restore.end
                    add = restore.latest.add
                    for message in messages:
                        if message.offset > end:
                            break
                        add(message.key, message)
                        restore.read += 1
                    last_record_at = now
                for atp, tp in list(wanted.items()):
                    restore = pending[tp]
                    if await reader.position(atp) <= restore.end:
                        continue
                    # The whole range is read: apply it, then tell Faust it is up to date.
                    reader.pause(atp)
                    await apply_in_chunks(restore.table, restore.changes(tp))
                    del wanted[atp], pending[tp]
                    offsets[tp] = restore.end
                    done += 1
                    records += restore.read
                    keys += len(restore.latest)
                    name = restore.table.name
                    metrics.STATE_RESTORED_RECORDS.labels(name).inc(restore.read)
                    metrics.STATE_RESTORED_KEYS.labels(name).inc(len(restore.latest))
                if now - last_record_at > STALL_TIMEOUT_S:
                    raise _Stalled(f"no record for {STALL_TIMEOUT_S:.0f}s")
                if now - progress_at >= PROGRESS_EVERY_S and pending:
                    progress_at = now
                    read = records + sum(r.read for r in pending.values())
                    log.info(
                        "Bulk restore: %d of %d records read (%.0f%%), %d of %d partitions applied",
                        read,
                        total,
                        100 * read / max(total, 1),
                        done,
                        done + len(pending),
                    )
        except _Stalled as exc:
            log.warning(
                "Bulk restore stalled (%s); Faust's per-record recovery reads partitions %s",
                exc,
                _names(pending),
            )
        except asyncio.CancelledError:
            # Another rebalance, a stop, or Faust's request timeout: finished partitions stay done.
            log.warning("Bulk restore interrupted; partitions %s left to Faust's recovery", _names(pending))
            raise
        except Exception as exc:
            log.warning(
                "Bulk restore failed (%r); Faust's per-record recovery reads partitions %s",
                exc,
                _names(pending),
            )
        finally:
            await reader.stop()
        seconds = time.monotonic() - started
        metrics.STATE_RESTORE_SECONDS.observe(seconds)
        log.info(
            "Bulk restore: %d records, %d keys from %d partitions in %.2fs (%.0f keys/s)",
            records,
            keys,
            done,
            seconds,
            keys / max(seconds, 1e-6),
        )


async def apply_in_chunks(table: Any, changes: Iterable[Any]) -> None:
    """Hand *changes* (changelog records as Events) to *table*'s store in order, a chunk at a time."""
    chunk: list[Any] = []
    for change in changes:
        chunk.append(change)
        if len(chunk) >= APPLY_CHUNK:
            table.apply_changelog_batch(chunk)
            chunk = []
            await asyncio.sleep(0)  # let the web server and the rest of the worker run
    if chunk:
        table.apply_changelog_batch(chunk)


def _names(ranges: Iterable[TP]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(ranges)) or "none"


class TableManager(FaustTableManager):
    """Faust's table manager with ``BulkRecovery``; ``app.settings.state_restore`` picks the path."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            recovery = BulkRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
            settings = getattr(self.app, "settings", None)
            recovery.bulk = getattr(settings, "state_restore", "bulk") == "bulk"
            self._recovery = recovery
        return self._recovery
