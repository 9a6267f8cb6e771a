"""A starting worker creates its topics before any of its clients names one, and checks those that exist;
an operator's command run before any worker creates what it names as the workers would.

Each test has a broker of its own: the topics' partition counts are what is under test. The embedded
broker, like Kafka with ``auto.create.topics.enable``, creates a topic a client asks about with its own
default partition count (four); the worker here runs with three.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams import topics
from streams.local.broker import EmbeddedBroker, die_with_parent
from tests.kafka_helpers import collect, create_topic, wait_for

pytestmark = pytest.mark.integration

PARTITIONS = 3
ROOT = Path(__file__).resolve().parents[2]


def start_worker(broker: EmbeddedBroker, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "streams.cli", "worker", "--broker", broker.url, "--web-port", "0",
                "--partitions", str(PARTITIONS), "--data-dir", str(tmp_path / "state"),
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
            cwd=ROOT,
        )  # fmt: skip
    return process, log_path


def ready(log_path: Path) -> bool:
    found = re.search(r"web server on http://127\.0\.0\.1:(\d+) ", log_path.read_text())
    if not found:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{found.group(1)}/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def describe(bootstrap: str) -> tuple[dict[str, int], dict[str, dict[str, str]]]:
    """Every topic's partition count, and the configuration each was created with."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        counts = {topic["topic"]: len(topic["partitions"]) for topic in await admin.describe_topics()}
        answers = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in counts]
        )
    finally:
        await admin.close()
    configs = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for answer in answers
        for resource in answer.resources
    }
    return counts, configs


def test_a_fresh_worker_creates_every_topic_with_its_own_partitions_and_retention(tmp_path: Path) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        process, log_path = start_worker(broker, tmp_path)
        try:
            wait_for("the worker to be ready", lambda: ready(log_path), timeout=120)
            counts, configs = asyncio.run(describe(broker.bootstrap))
        finally:
            process.terminate()
            process.wait(timeout=60)
    single = {topics.PROGRESS, topics.BEST_CUSTOMERS}
    expected = {name: 1 if name in single else PARTITIONS for name in topics.ALL}
    assert {name: counts.get(name) for name in topics.ALL} == expected
    # Compacted, one partition: the thresholds outlive any retention.
    assert configs[topics.BEST_CUSTOMERS]["cleanup.policy"] == "compact"
    for name in set(topics.ALL) - {topics.BEST_CUSTOMERS}:
        assert configs[name]["retention.ms"] == str(topics.retention_days(name) * topics.DAY_MS), name


@pytest.mark.parametrize("topic", [topics.BY_CUSTOMER, "touchpoint-customer_to_state-changelog"])
def test_a_worker_refuses_to_start_when_a_journey_input_has_another_partition_count(
    tmp_path: Path, topic: str
) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        asyncio.run(create_topic(broker.bootstrap, topic, PARTITIONS - 1))
        process, log_path = start_worker(broker, tmp_path)
        try:
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code != 0
    log = log_path.read_text()
    assert f"{topic} has {PARTITIONS - 1} partitions, but the worker's tables have {PARTITIONS}" in log
    assert "TOUCHPOINT_PARTITIONS" in log


def test_an_erasure_asked_for_before_any_worker_exists_leaves_topics_the_workers_start_on(
    tmp_path: Path,
) -> None:
    """On a fresh cluster an operator's first command used to let the broker create the journey input it
    wrote to, with the broker's partition count: every worker then refused to start. The command now
    creates what it names with the workers' layout, and the first worker applies the request."""
    customer = "c-asked-before-any-worker"
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        env = {**os.environ, "TOUCHPOINT_PARTITIONS": str(PARTITIONS)}
        cli = [sys.executable, "-m", "streams.cli"]
        erase = subprocess.run(
            [*cli, "erase", customer, "--reason", "ticket-1", "--wait", "1", "--broker", broker.url],
            env=env, cwd=ROOT, capture_output=True, timeout=120,
        )  # fmt: skip
        # Nobody confirms yet: the command says so, and the request stays on its topic.
        assert erase.returncode != 0, erase.stdout + erase.stderr
        simulate = subprocess.run(
            [*cli, "simulate", "--events", "20", "--broker", broker.url],
            env=env, cwd=ROOT, capture_output=True, timeout=120,
        )  # fmt: skip
        assert simulate.returncode == 0, simulate.stdout + simulate.stderr
        counts, configs = asyncio.run(describe(broker.bootstrap))
        named = (topics.ERASURE_REQUESTS, topics.ERASURES, topics.DEAD_LETTER, topics.RAW)
        assert {name: counts.get(name) for name in named} == dict.fromkeys(named, PARTITIONS)
        for name in named:
            assert configs[name]["retention.ms"] == str(topics.retention_days(name) * topics.DAY_MS), name

        process, log_path = start_worker(broker, tmp_path)
        try:
            wait_for("the worker to be ready", lambda: ready(log_path), timeout=120)
            confirmations = asyncio.run(
                collect(broker.bootstrap, topics.ERASURES, lambda key, _: key == customer.encode(), 1)
            )
        finally:
            process.terminate()
            process.wait(timeout=60)
    assert len(confirmations) == 1
