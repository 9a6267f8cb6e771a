"""Faust's aiokafka transport, adjusted for batches, held-back state writes and the embedded Tansu broker.

The consumer hands the records of the batch host's topics to the host, a fetch at a
time, before Faust makes a message of each (``streams.runtime.batches``), a rebalance
waits for a fetch being applied before it commits, and the records the host does not
apply while the partitions move are read again (``read_again``).

The producer's ``flush`` (Faust flushes before every offset commit and on
rebalance) also drains the app's ``StateWriter``s, so that no offset is
committed before the state changes of its events reach the changelog; see
``streams.runtime.state_writer``.

Three adjustments for Tansu, all harmless on Apache Kafka:

* Faust hard-codes ``fetch_max_wait_ms=1500``. Brokers that hold every fetch for
  its full max wait (the embedded Tansu does) then add up to 1.5 s to every hop;
  a shorter wait bounds latency at the cost of more, smaller fetch requests.
* Tansu 0.6 answers ListOffsets(LATEST) with *base offset of the last record
  batch + 1* instead of *last offset + 1*. Faust's table recovery takes its
  highwaters from that answer, stops at the start of the last batch and silently
  drops the rest of it. The worker consumer thread therefore checks each end
  offset by fetching the last record (see ``_ConsumerThread._highwaters``).
  The high watermark in Fetch responses is right on Tansu, so the lag Faust's
  monitor derives from it (``Consumer.highwater``) needs no fix.
* A Tansu fetch can show a hole in a partition's offsets, a batch numbered but
  not stored yet; the consumer reads up to the hole and fetches it again instead
  of moving past it (``streams.fetch_holes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import aiokafka
import faust
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as driver
from faust.types import TP

from streams import fetch_holes
from streams.runtime.batches import batch_host
from streams.runtime.faust_private import read_offset, set_fetch_max_wait
from streams.runtime.state_writer import drain_all

__all__ = ["Transport", "client_options", "read_to_end", "start_plain_consumer"]

#: Fetch wait of the end-offset probe: the most a broker may hold one probe fetch (Tansu can
#: hold fetches for the full wait). With a record at end - 1 it answers at once (a few ms).
PROBE_FETCH_WAIT_MS = 50
#: Give up on the probe (and keep the broker's end offsets) after this long.
PROBE_TIMEOUT_S = 10.0


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    _end_probe: aiokafka.AIOKafkaConsumer | None = None
    _end_probe_lock: asyncio.Lock | None = None

    async def seek_assigned(self, positions: Mapping[TP, int]) -> None:
        """Move each partition of *positions* that is assigned when the thread gets to it to its offset.

        In the consumer's thread, as its other calls: a partition assigned when asked may be gone by then.
        """
        await self.call_thread(self._seek_assigned_now, positions)

    async def _seek_assigned_now(self, positions: Mapping[TP, int]) -> None:
        assigned = self.assignment()
        for tp, offset in positions.items():
            if tp in assigned:
                self.seek(tp, offset)

    def _create_worker_consumer(self, transport: Any) -> Any:
        fetch_holes.install()
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its Fetcher, which happens after this.
        set_fetch_max_wait(consumer, self.app.settings.fetch_max_wait_ms)  # type: ignore[attr-defined]
        return consumer

    async def on_thread_stop(self) -> None:
        await super().on_thread_stop()
        await self._discard_end_probe()

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        """End offsets (last offset + 1) of *partitions*, exact even on Tansu.

        Used by table recovery (``Recovery._build_highwaters``) for active and
        standby changelog partitions.
        """
        ends: dict[TP, int] = dict(await super()._highwaters(partitions))
        if self.consumer.in_transaction:
            # These are last stable offsets from Fetch responses, not ListOffsets answers; a
            # read_uncommitted probe would overshoot them.
            return ends
        # Tansu reports base offset of the last batch + 1: fetch from end - 1 and see how far
        # the records really go. On Kafka that fetch returns just the last record.
        suspects = {tp: end for tp, end in ends.items() if end is not None and end > 0}
        if not suspects:
            return ends
        started = time.monotonic()
        probed = await self._probe_ends(suspects)
        elapsed_ms = (time.monotonic() - started) * 1000
        # Never lower an end offset: the probe can only prove that records exist.
        raised = {tp: (ends[tp], end) for tp, end in probed.items() if end > ends[tp]}
        for tp, (_, end) in raised.items():
            ends[tp] = end
        if raised:
            self.log.info(
                "Broker under-reported %d of %d end offsets, corrected in %.0f ms: %s",
                len(raised),
                len(suspects),
                elapsed_ms,
                ", ".join(
                    f"{tp.topic}[{tp.partition}] {old}->{new}" for tp, (old, new) in sorted(raised.items())
                ),
            )
        else:
            self.log.debug("Checked %d end offsets in %.0f ms", len(suspects), elapsed_ms)
        return ends

    async def _probe_ends(self, ends: Mapping[TP, int]) -> dict[TP, int]:
        """Return last offset + 1 of each partition in *ends* that holds records at ``end - 1`` or later.

        Partitions the probe could not read are left out, so callers keep the broker's value.
        """
        found: dict[TP, int] = {}
        if self._end_probe_lock is None:  # created here so that it belongs to the thread's loop
            self._end_probe_lock = asyncio.Lock()
        async with self._end_probe_lock:  # the method queue runs calls concurrently
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    await self._probe_ends_into(found, ends)
            except TimeoutError:
                self.log.warning(
                    "End-offset probe timed out after %.1fs; using the broker's end offsets for %s",
                    PROBE_TIMEOUT_S,
                    sorted(set(ends) - set(found)),
                )
            except Exception as exc:
                self.log.warning(
                    "End-offset probe failed (%r); using the broker's end offsets for %s",
                    exc,
                    sorted(set(ends) - set(found)),
                )
                await self._discard_end_probe()
        return found

    async def _probe_ends_into(self, found: dict[TP, int], ends: Mapping[TP, int]) -> None:
        probe = await self._ensure_end_probe()
        # Faust passes its own TP tuples; aiokafka's getmany insists on its TopicPartition.
        wanted = {TopicPartition(tp.topic, tp.partition): tp for tp in ends}
        starts = {atp: ends[tp] - 1 for atp, tp in wanted.items()}
        probe.assign(list(starts))
        try:
            for atp, offset in starts.items():
                probe.seek(atp, offset)
            # All partitions are fetched together: one round trip per leader, not per partition.
            pending = set(starts)
            while pending:
                fetched = await probe.getmany(*pending, timeout_ms=PROBE_FETCH_WAIT_MS * 10)
                for atp, records in fetched.items():
                    if records:
                        found[wanted[atp]] = max(record.offset for record in records) + 1
                        pending.discard(atp)
                for atp in list(pending):
                    # Moved past end - 1 without returning a record (say, a transaction marker):
                    # nothing to learn for this partition.
                    if await probe.position(atp) > starts[atp]:
                        pending.discard(atp)
        finally:
            probe.unsubscribe()  # an idle probe must not keep fetching in the background

    async def _ensure_end_probe(self) -> aiokafka.AIOKafkaConsumer:
        """The group-less consumer used by the probe, created on first use in the thread's loop."""
        if self._end_probe is not None:
            return self._end_probe
        probe = await start_plain_consumer(
            self.app,
            "end-probe",
            # end - 1 is out of range only if the partition was just truncated; its end then stands.
            auto_offset_reset="latest",
            fetch_max_wait_ms=PROBE_FETCH_WAIT_MS,
        )
        self._end_probe = probe
        return probe

    async def _discard_end_probe(self) -> None:
        probe, self._end_probe = self._end_probe, None
        if probe is not None:
            try:
                await probe.stop()
            except Exception as exc:
                self.log.warning("Could not stop the end-offset probe consumer: %r", exc)


def client_options(app: Any, purpose: str) -> dict[str, Any]:
    """Options of a plain aiokafka client for *app*: its brokers, client id, timeout, credentials and TLS."""
    conf = app.conf
    transport = cast(driver.Transport, app.transport)
    return {
        "bootstrap_servers": driver.server_list(transport.url, transport.default_port),
        "client_id": f"{conf.broker_client_id}-{purpose}",
        "request_timeout_ms": int(conf.broker_request_timeout * 1000.0),
        **driver.credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
    }


async def start_plain_consumer(app: Any, purpose: str, **options: Any) -> aiokafka.AIOKafkaConsumer:
    """A started group-less, non-committing consumer with the app's brokers, credentials and TLS.

    For reads Faust's consumer must not see (its fetches, offsets and flow control
    stay untouched); the caller assigns partitions and stops it.
    """
    conf = app.conf
    consumer = aiokafka.AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_uncommitted",
        max_partition_fetch_bytes=conf.consumer_max_fetch_size,
        check_crcs=conf.broker_check_crcs,
        **{**client_options(app, purpose), **options},
    )
    try:
        await consumer.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await consumer.stop()
        raise
    return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        self._reader = _ConsumerThread(self, loop=self.loop, beacon=self.beacon)
        return self._reader

    async def read_again(self, positions: Mapping[TP, int]) -> None:
        """Move each partition of *positions* still assigned back to its offset (records the batch host
        did not apply): the next fetch starts there."""
        await self._reader.seek_assigned(positions)

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:  # noqa: ASYNC109 - Faust's signature
        """Fetch records; the batch host applies those of its topics, Faust gets the rest."""
        host = batch_host(self.app)
        generation = self.app.consumer_generation_id
        records = await super()._getmany(active_partitions, timeout)
        if host is None or not records:
            return records
        return await host.deliver(self, records, generation)

    async def wait_empty(self) -> None:
        """Wait for the fetch the batch host is applying, then for Faust's own messages."""
        host = batch_host(self.app)
        if host is not None:
            await host.wait_idle()
        await super().wait_empty()


class _Producer(driver.Producer):
    async def flush(self) -> None:
        """Deliver everything buffered, including held-back state writes and what they send."""
        await super().flush()
        if await drain_all(self.app):
            await super().flush()


class Transport(driver.Transport):
    """aiokafka transport: drained state writes on flush, tunable fetch wait, exact end offsets."""

    Consumer = _Consumer
    Producer = _Producer


def read_to_end(app: faust.App, topic: str) -> Callable[[int], bool]:
    """``caught_up(partition)``: whether *app*'s consumer has read *topic*'s partition to its end.

    A partition with a backlog is not quiet, only slow: its own events will move it on.
    """

    def caught_up(partition: int) -> bool:
        tp = TP(topic, partition)
        consumer = app.consumer
        try:
            highwater = consumer.highwater(tp)
        except Exception:
            return False
        read = read_offset(consumer, tp)
        return highwater is not None and (read if read is not None else -1) >= highwater - 1

    return caught_up
