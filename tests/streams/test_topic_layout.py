"""One layout of the product's topics, for the workers and for every other client that names one."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from streams import topics
from streams.kafka import Connection, ensure_topics
from streams.settings import Settings

pytestmark = pytest.mark.unit


def test_the_workers_create_each_topic_as_the_product_s_layout_says(tmp_path: Path) -> None:
    from streams.app import create_app, topic_specs

    settings = Settings(
        broker="kafka://127.0.0.1:9092",
        data_dir=tmp_path,
        partitions=5,
        replication_factor=2,
        development=True,
    ).validated()
    workers = {spec.name: spec for spec in topic_specs(create_app(settings)) if spec.create}
    clients = topics.topic_specs(settings.partitions, settings.replication_factor)
    assert workers == clients


def test_the_journey_inputs_are_co_partitioned_and_the_coordinator_s_topics_have_one_partition() -> None:
    layout = topics.topic_specs(7)
    assert {name for name, spec in layout.items() if spec.copartitioned} == set(topics.JOURNEY_INPUTS)
    assert {name for name, spec in layout.items() if spec.partitions == 1} == set(topics.SINGLE_PARTITION)
    assert layout[topics.BEST_CUSTOMERS].config == {"cleanup.policy": "compact"}
    assert layout[topics.RAW].config["retention.ms"] == str(topics.retention_days(topics.RAW) * topics.DAY_MS)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_client_that_cannot_reach_the_brokers_goes_on_and_leaves_the_saying_to_its_own_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = Connection(f"127.0.0.1:{closed_port()}", partitions=3)
    with caplog.at_level(logging.DEBUG, logger="streams.kafka"):
        asyncio.run(ensure_topics(target, [topics.ACTIONS, "not-a-product-topic"]))
    ours = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records if r.name == "streams.kafka"]
    # Not a warning: the client's own connection fails next and says so in its one error line.
    assert ours == [("DEBUG", f"could not check the topics {topics.ACTIONS}")]


def test_a_client_without_the_workers_partitions_creates_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        asyncio.run(ensure_topics(f"127.0.0.1:{closed_port()}", [topics.ACTIONS]))
    # Not even a connection attempt (aiokafka logs each one that fails).
    assert [record for record in caplog.records if record.name.startswith(("streams", "aiokafka"))] == []
