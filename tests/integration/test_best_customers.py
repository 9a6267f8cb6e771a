"""The population's best-customer threshold is the same with one worker, with two, and in replay.

Each journey partition sends the sketch of its buyers at every population boundary on
``journey.progress``; one coordinator merges them once every partition has reported and publishes
the thresholds on the compacted ``model.best-customers``. Since the merged sketch is exactly the
whole population's, however the partitions are spread over workers, the published thresholds
must not depend on the number of workers, and must equal what ``touchpoint replay`` computes in
one process. Each run has its own embedded broker: the topic names are fixed.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agents.config import load_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from agents.models.population import PopulationThreshold
from streams import topics
from streams.kafka import produce, producer
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.replay import replay
from streams.settings import Settings
from streams.sim import SimulationSpec, generate_events
from tests.integration.test_failover import shared_fairly
from tests.kafka_helpers import collect, sentinels, wait_for

pytestmark = pytest.mark.integration

RULES = """
[deadlines]
# Event time only. Ingest reads its partitions concurrently, so one by-customer partition can run ahead
# of another customer's next purchase: the clock that closes a boundary trails by the whole stream's span,
# so every purchase before a boundary is in its partition's sketch when the partition reports it.
wall_clock_sweep = false
allowed_lateness_seconds = 2592000
"""

APP_ID = "touchpoint-best"
#: boundary (epoch seconds, as text) → [threshold or None, current buyers]
Thresholds = dict[str, list[Any]]


class Recorded(PopulationThreshold):
    """Every threshold the replay learns (the tracker keeps only the latest few)."""

    def __init__(self, every: int, delay: int) -> None:
        super().__init__(every, delay)
        self.history: dict[int, float | None] = {}

    def learn(self, boundary: int, threshold: float | None) -> None:
        self.history[boundary] = threshold
        super().learn(boundary, threshold)


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], dict[int, float | None]]:
    """Simulator traffic of 300 customers, sentinels moving every partition's clock past it, and replay's thresholds."""
    directory = tmp_path_factory.mktemp("best-customers")
    rules = directory / "rules.toml"
    rules.write_text(RULES)
    timed = list(
        itertools.islice(generate_events(SimulationSpec(customers=300, seed=11, malformed_share=0.0)), 4000)
    )
    records = [record for _, record in timed]
    records += sentinels("sentinel", (timed[-1][0] + timedelta(days=32)).isoformat())
    source = directory / "traffic.jsonl"
    source.write_bytes(b"".join(record + b"\n" for record in records))
    salt = Settings.from_env().identity_key  # the workers' identity key (tests/conftest.py)
    config = load_config(rules)
    tracker = JourneyTracker(config, salt)
    best = tracker.config.model.best_customers
    recorded = Recorded(round(best.every_hours * 3600), round(best.effective_after_hours * 3600))
    tracker.best_customers = tracker.model.best_customers = recorded
    replay(
        source, directory / "replay", TouchpointDecoder(identity_salt=salt, identity=config.identity), tracker
    )
    return rules, records, recorded.history


def published(workers: int, rules: Path, records: list[bytes], last: int, tmp: Path) -> Thresholds:
    """Run *workers* workers on a broker of their own over *records*; every threshold they publish."""
    with EmbeddedBroker(log_path=tmp / "tansu.log") as broker:
        running = [
            WorkerProcess(
                broker.url,
                free_port(),
                tmp / f"worker-{number}",
                app_id=APP_ID,
                extra_args=["--config", str(rules)],
            ).start()
            for number in range(workers)
        ]
        try:
            for worker in running:
                worker.wait_ready()
            if workers > 1:
                # Both share the partitions before the traffic comes: no rebalance while it is applied.
                wait_for("the workers to split the partitions", lambda: shared_fairly(running, APP_ID), 120)
            # Keyed by customer, as producers do: each customer's touchpoints stay in order.
            asyncio.run(produce(broker.bootstrap, topics.RAW, records))
            wanted = str(last).encode()
            asyncio.run(collect(broker.bootstrap, topics.BEST_CUSTOMERS, lambda _, v: wanted in v, 1, 300))
            # Everything on the topic by now (the final drain reads to the end): the union of its records.
            every = asyncio.run(collect(broker.bootstrap, topics.BEST_CUSTOMERS, lambda _, v: True, 1, 60))
        finally:
            for worker in running:
                worker.stop()
    union: Thresholds = {}
    for key, value in every:
        assert key == b"threshold"
        union.update(orjson.loads(value))
    return union


def test_one_worker_and_two_publish_the_same_thresholds_as_replay(
    traffic: tuple[Path, list[bytes], dict[int, float | None]], tmp_path: Path
) -> None:
    rules, records, replayed = traffic
    known = {boundary: threshold for boundary, threshold in replayed.items() if threshold is not None}
    assert len(known) >= 7, "the stream spans a week or more of boundaries with a population"
    last = max(replayed)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = published(1, rules, records, last, tmp_path / "one")
    two = published(2, rules, records, last, tmp_path / "two")
    assert one == two
    thresholds = {int(boundary): threshold for boundary, (threshold, _) in one.items()}
    assert thresholds == {boundary: replayed[boundary] for boundary in thresholds}
    assert set(thresholds) >= set(itertools.islice(sorted(replayed, reverse=True), 14))


async def _publish_thresholds(bootstrap: str, document: Thresholds) -> None:
    """What an earlier coordinator left on the compacted thresholds topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topics.BEST_CUSTOMERS, 1, 1)])
    finally:
        await admin.close()
    async with producer(bootstrap) as client:
        await client.send_and_wait(topics.BEST_CUSTOMERS, orjson.dumps(document), key=b"threshold")


def test_a_starting_worker_knows_the_published_thresholds_before_it_applies_anything(tmp_path: Path) -> None:
    # The journey's rebuild after table recovery waits for the follower of the thresholds topic. Faust
    # starts an app's tasks only once recovery has completed, so a follower started as one never caught
    # up in time: every start waited out the journey's timeout (30 s), then judged without thresholds.
    boundary = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        asyncio.run(_publish_thresholds(broker.bootstrap, {str(boundary): [1234.5, 40]}))
        worker = WorkerProcess(broker.url, free_port(), tmp_path / "worker", app_id=APP_ID).start()
        try:
            worker.wait_ready()
            log = worker.log_path.read_text("utf-8", "replace")
            assert "thresholds were not read" not in log
            samples = worker.metrics()
            assert samples["touchpoint_best_customer_clv_threshold"] == 1234.5
            assert samples["touchpoint_best_customer_boundary_timestamp_seconds"] == boundary
        finally:
            worker.stop()
