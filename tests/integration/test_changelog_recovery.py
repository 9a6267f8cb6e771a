"""A table recovered from its changelog after a restart holds every key, on the embedded broker too.

Tansu reports a partition's end offset as the base offset of its last record
batch + 1. Faust's recovery stops at that offset, so without the correction in
``streams.runtime.transport`` a new worker silently loses the tail of every changelog
partition. Here one worker fills a table with 20,000 keys; a second worker, with
an empty data dir, must recover all of them from the changelog alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.local.broker import EmbeddedBroker, free_port
from tests.kafka_helpers import wait_for

pytestmark = pytest.mark.integration

KEYS = 20_000
PARTITIONS = 4
REPO_ROOT = Path(__file__).resolve().parents[2]

# The worker under test. It reads its configuration from the environment, counts
# the source records it processed itself, and serves its table's state on /state.
WORKER_APP = """
import os
from types import SimpleNamespace

import faust

from streams.app import TouchpointApp

app_id = os.environ["TEST_APP_ID"]
app = TouchpointApp(
    app_id,
    broker=os.environ["TEST_BROKER_URL"],
    store="memory://",
    autodiscover=False,
    datadir=os.environ["TEST_DATA_DIR"],
    topic_partitions=4,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6,
    broker_heartbeat_interval=2,
    web_enabled=True,
    web_bind="127.0.0.1",
    web_host="127.0.0.1",
    web_port=int(os.environ["TEST_WEB_PORT"]),
    # Batch changelog writes for a while, so that the last batch of every changelog
    # partition surely holds several records: that is the case the broker gets wrong.
    producer_linger=0.05,
)
# All the transport and the table manager read from Settings.
app.settings = SimpleNamespace(fetch_max_wait_ms=100, state_restore=os.environ["TEST_STATE_RESTORE"])
source = app.topic(
    f"{app_id}-source", key_type=str, value_type=str, key_serializer="raw", value_serializer="raw", partitions=4
)
table = app.Table("kv", default=None, partitions=4)
processed = 0


@app.agent(source)
async def write(stream):
    global processed
    async for key, value in stream.items():
        table[key] = value
        processed += 1


@app.page("/state")
async def state(web, request):
    recovery = app.tables.recovery
    if not recovery.completed.is_set() or recovery.in_recovery:
        return web.json({"ready": False})
    changelog = table.changelog_topic.get_topic_name()
    tps = sorted(tp for tp in app.consumer.assignment() if tp.topic == changelog)
    highwaters = await app.consumer.highwaters(*tps)  # what the patched transport reports now
    return web.json({
        "ready": True,
        "processed": processed,
        "items": dict(table.items()),
        "highwaters": {str(tp.partition): end for tp, end in highwaters.items()},
        # What this worker's recovery used; Faust stores end - 1 there.
        "recovery_highwaters": {str(tp.partition): hw for tp, hw in recovery.active_highwaters.items()},
    })


if __name__ == "__main__":
    app.main()
"""


class Worker:
    """One worker process of the test app, with its own web port and data dir."""

    def __init__(
        self, app_file: Path, broker: EmbeddedBroker, app_id: str, data_dir: Path, state_restore: str = "bulk"
    ) -> None:
        self.port = free_port()
        self.log_path = data_dir.with_suffix(".log")
        data_dir.mkdir(parents=True)
        env = {
            **os.environ,
            "TEST_APP_ID": app_id,
            "TEST_BROKER_URL": broker.url,
            "TEST_DATA_DIR": str(data_dir),
            "TEST_WEB_PORT": str(self.port),
            "TEST_STATE_RESTORE": state_restore,
            "PYTHONPATH": str(REPO_ROOT),
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(app_file), "worker", "--loglevel", "info"],
                cwd=data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def state(self) -> dict[str, Any] | None:
        if self.process.poll() is not None:
            pytest.fail(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/state", timeout=5) as response:
                state: dict[str, Any] = json.load(response)
                return state
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def ready_state(self) -> dict[str, Any] | None:
        state = self.state()
        return state if state is not None and state["ready"] else None

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running(worker: Worker) -> Iterator[Worker]:
    try:
        yield worker
    finally:
        worker.stop()


async def produce(bootstrap: str, topic: str, records: list[tuple[str, str]]) -> dict[int, int]:
    """Produce (key, value) *records* in order, with the producer's default batching; return end offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        sends = [await producer.send(topic, key=k.encode(), value=v.encode()) for k, v in records]
        ends: dict[int, int] = {}
        for metadata in await asyncio.gather(*sends):
            ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
        return ends
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()


async def read_to_end(
    bootstrap: str, topic: str, expected: int, timeout: float
) -> tuple[dict[str, str], dict[int, int], dict[int, int]]:
    """Read *topic* from the start until it holds *expected* records.

    Return the latest value per key, the true end offset (last offset + 1) per
    partition and the end offsets the broker reports through ListOffsets.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        items: dict[str, str] = {}
        true_ends: dict[int, int] = {}
        count = 0
        deadline = time.monotonic() + timeout
        while count < expected:
            if time.monotonic() > deadline:
                pytest.fail(f"{topic} holds only {count} of {expected} records after {timeout:.0f}s")
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                count += len(records)
                for record in records:
                    items[json.loads(record.key)] = json.loads(record.value)
                true_ends[tp.partition] = records[-1].offset + 1
        for tp in tps:  # caught up: the Fetch high watermark (right on Tansu) agrees
            assert consumer.highwater(tp) == true_ends.get(tp.partition, 0), tp
        reported = {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
        return items, true_ends, reported
    finally:
        await consumer.stop()


@pytest.mark.parametrize("state_restore", ["bulk", "per-record"])
def test_restarted_worker_recovers_every_key_of_a_table_from_its_changelog(
    broker: EmbeddedBroker, tmp_path: Path, state_restore: str
) -> None:
    app_id = f"recovery-{uuid.uuid4().hex[:8]}"
    app_file = tmp_path / "recovery_app.py"
    app_file.write_text(WORKER_APP)
    records = {f"key-{i:05d}": f"value-{i}-{uuid.uuid4().hex[:6]}" for i in range(KEYS)}
    # A quarter of the keys are written twice: recovery must end with the later value.
    earlier = [(key, f"earlier-{value}") for key, value in list(records.items())[::4]]

    changelog = f"{app_id}-kv-changelog"
    with running(Worker(app_file, broker, app_id, tmp_path / "first")) as first:
        wait_for("the first worker", first.ready_state, timeout=30)
        source_ends = asyncio.run(
            produce(broker.bootstrap, f"{app_id}-source", earlier + list(records.items()))
        )
        logged, true_ends, reported_ends = asyncio.run(
            read_to_end(broker.bootstrap, changelog, KEYS + len(earlier), timeout=30)
        )
        assert logged == records  # decoded from the changelog's JSON
        # The second worker must not reprocess the source: then whatever its table holds came
        # from the changelog. So wait until the first one has committed everything it read.
        wait_for(
            "the first worker to commit the whole source topic",
            lambda: asyncio.run(committed(broker.bootstrap, app_id, f"{app_id}-source")) == source_ends,
            timeout=30,
            interval=0.5,
        )
        assert first.stop() == 0, first.log_tail()
    # The broker quirk this test is about; without it the test would prove nothing.
    assert any(reported_ends[p] < true_ends[p] for p in true_ends), (reported_ends, true_ends)

    started = time.monotonic()
    with running(Worker(app_file, broker, app_id, tmp_path / "second", state_restore)) as second:
        state = wait_for("the second worker to recover", second.ready_state, timeout=30)
        print(
            f"second worker ready in {time.monotonic() - started:.1f}s, recovered {len(state['items'])} keys;"
            f" changelog ends {true_ends}, broker-reported {reported_ends}"
        )
        assert state["processed"] == 0, "the second worker reprocessed the source"
        assert len(state["items"]) == KEYS, f"lost {KEYS - len(state['items'])} keys in recovery"
        assert state["items"] == records
        assert {int(p): end for p, end in state["highwaters"].items()} == true_ends
        # Faust's recovery keeps end - 1 (the last offset) as its "highwater".
        assert {int(p): hw + 1 for p, hw in state["recovery_highwaters"].items()} == true_ends
        restores = [line for line in second.log_path.read_text().splitlines() if "Bulk restore:" in line]
        if state_restore == "bulk":
            assert any(
                f"{KEYS + len(earlier)} records, {KEYS} keys from 4 partitions" in r for r in restores
            ), restores
        else:
            assert restores == []
