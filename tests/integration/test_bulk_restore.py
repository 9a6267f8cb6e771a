"""A bulk restore against the real broker: what it applies, and what it leaves to Faust's recovery.

The worker-level tests (test_changelog_recovery, test_failover) show restores that
finish. These drive ``BulkRecovery`` directly on a real app, table and broker, to
check the ways it can not finish: a partition whose end never comes (stalled), and
an interruption half-way (another rebalance). Each must leave Faust's start offsets
where Faust's own recovery can take over without losing or reordering anything.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TP

from streams import metrics
from streams.app import TouchpointApp
from streams.local.broker import EmbeddedBroker
from streams.runtime import recovery
from tests.kafka_helpers import create_topic

pytestmark = pytest.mark.integration

PARTITIONS = 4
KEYS_PER_PARTITION = 200


@pytest.fixture
def app_id() -> str:
    return f"restore-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def app_and_table(broker: EmbeddedBroker, tmp_path: Path, app_id: str) -> tuple[Any, Any]:
    app = TouchpointApp(
        app_id, broker=broker.url, store="memory://", autodiscover=False, datadir=str(tmp_path)
    )
    app.settings = SimpleNamespace(fetch_max_wait_ms=100, state_restore="bulk")  # type: ignore[assignment]
    table = app.Table("kv", partitions=PARTITIONS, default=None, key_type=bytes, value_type=bytes)
    return app, table


async def _fill_changelog(bootstrap: str, topic: str) -> dict[int, dict[bytes, bytes]]:
    """Every key of each partition written twice, the second value last; return the final values."""
    await create_topic(bootstrap, topic, PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    final: dict[int, dict[bytes, bytes]] = {p: {} for p in range(PARTITIONS)}
    try:
        for round_ in ("first", "final"):
            for partition in range(PARTITIONS):
                for number in range(KEYS_PER_PARTITION):
                    key = f"p{partition}-k{number}".encode()
                    value = f"{round_}-{partition}-{number}".encode()
                    await producer.send(topic, value, key=key, partition=partition)
                    final[partition][key] = value
        await producer.flush()
    finally:
        await producer.stop()
    return final


def _prepare(app: Any, table: Any) -> tuple[Any, dict[TP, int], list[TP]]:
    """The app's BulkRecovery, told the partitions are active and where they end (last offsets)."""
    restore = app.tables.recovery
    assert isinstance(restore, recovery.BulkRecovery)
    tps = [TP(table.changelog_topic.get_topic_name(), p) for p in range(PARTITIONS)]
    offsets: dict[TP, int] = {}
    for tp in tps:
        restore.tp_to_table[tp] = table
        restore.active_highwaters[tp] = 2 * KEYS_PER_PARTITION - 1
        offsets[tp] = -1
    return restore, offsets, tps


def _stored(table: Any) -> dict[bytes, Any]:
    return {key: value for key, value in table.data.data.items()}


def test_a_full_restore_applies_the_last_value_of_every_key_and_hands_faust_the_ends(
    broker: EmbeddedBroker, app_and_table: tuple[Any, Any]
) -> None:
    app, table = app_and_table
    final = asyncio.run(_fill_changelog(broker.bootstrap, table.changelog_topic.get_topic_name()))
    restore, offsets, tps = _prepare(app, table)
    keys_before = metrics.STATE_RESTORED_KEYS.labels("kv")._value.get()

    asyncio.run(restore._restore_in_bulk(set(tps), offsets))

    assert offsets == {tp: 2 * KEYS_PER_PARTITION - 1 for tp in tps}
    assert _stored(table) == {key: value for values in final.values() for key, value in values.items()}
    assert (
        metrics.STATE_RESTORED_KEYS.labels("kv")._value.get() - keys_before == PARTITIONS * KEYS_PER_PARTITION
    )


def test_a_partition_whose_end_never_comes_is_left_to_faust_and_the_others_are_done(
    broker: EmbeddedBroker,
    app_and_table: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, table = app_and_table
    asyncio.run(_fill_changelog(broker.bootstrap, table.changelog_topic.get_topic_name()))
    restore, offsets, tps = _prepare(app, table)
    stalled = tps[2]
    restore.active_highwaters[stalled] += 50  # records that never arrive
    monkeypatch.setattr(recovery, "STALL_TIMEOUT_S", 1.0)

    with caplog.at_level(logging.WARNING, logger="streams.runtime.recovery"):
        asyncio.run(restore._restore_in_bulk(set(tps), offsets))

    assert offsets[stalled] == -1, "Faust must read the stalled partition from where it was"
    assert all(offsets[tp] == 2 * KEYS_PER_PARTITION - 1 for tp in tps if tp != stalled)
    assert any(
        "stalled" in r.getMessage() and f"[{stalled.partition}]" in r.getMessage() for r in caplog.records
    )
    assert not any(key.startswith(b"p2-") for key in _stored(table)), (
        "nothing of the stalled partition applied"
    )


def test_an_interrupted_restore_keeps_the_partitions_it_finished_and_leaves_the_rest(
    broker: EmbeddedBroker,
    app_and_table: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, table = app_and_table
    final = asyncio.run(_fill_changelog(broker.bootstrap, table.changelog_topic.get_topic_name()))
    restore, offsets, tps = _prepare(app, table)
    applied: list[int] = []
    apply = recovery.apply_in_chunks

    async def apply_then_rebalance(target: Any, changes: Any) -> None:
        # Another rebalance cancels the restore while it applies its second partition.
        if applied:
            raise asyncio.CancelledError
        changes = list(changes)
        await apply(target, changes)
        applied.append(changes[0].message.partition)

    monkeypatch.setattr(recovery, "apply_in_chunks", apply_then_rebalance)
    with (
        caplog.at_level(logging.WARNING, logger="streams.runtime.recovery"),
        pytest.raises(asyncio.CancelledError),
    ):
        asyncio.run(restore._restore_in_bulk(set(tps), offsets))

    (done,) = applied
    interrupted = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
    assert len(interrupted) == 1
    assert all(f"[{tp.partition}]" in interrupted[0] for tp in tps if tp.partition != done)
    assert {tp.partition for tp in tps if offsets[tp] != -1} == {done}
    assert offsets[TP(tps[0].topic, done)] == 2 * KEYS_PER_PARTITION - 1
    assert _stored(table) == final[done]
