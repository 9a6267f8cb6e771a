"""A command that lists the topics says which failed: reaching the broker, or the broker's listing."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import click
import pytest
from aiokafka import errors

from streams import kafka
from streams.cli.common import run_async
from streams.kafka import BrokerUnreachable, Connection, TopicsUnlisted, readable_topics

pytestmark = pytest.mark.unit


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_broker_nobody_answers_at_is_unreachable() -> None:
    target = Connection(f"127.0.0.1:{_closed_port()}")
    with pytest.raises(
        BrokerUnreachable, match=r"^cannot connect to Kafka at 127\.0\.0\.1:\d+ over PLAINTEXT: "
    ):
        asyncio.run(readable_topics(target, ["touchpoints"]))


@pytest.mark.parametrize(
    "failure",
    [errors.UnsupportedVersionError("no admin API"), errors.ClusterAuthorizationFailedError("not allowed")],
    ids=["no admin API", "not allowed"],
)
def test_a_broker_that_answers_but_does_not_list_its_topics_is_not_said_to_be_unreachable(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    async def refuse(_options: Any) -> dict[str, int]:
        raise failure

    monkeypatch.setattr(kafka, "listed_topics", refuse)
    target = Connection("127.0.0.1:9092")

    async def command(_stop: asyncio.Event) -> list[str]:
        return await readable_topics(target, ["touchpoints"])

    with pytest.raises(click.ClickException) as raised:
        run_async(command)
    message = raised.value.message
    assert message.startswith("Kafka at 127.0.0.1:9092 over PLAINTEXT answered but did not list its topics: ")
    assert type(failure).__name__ in message
    assert "cannot connect" not in message
    with pytest.raises(TopicsUnlisted):
        asyncio.run(readable_topics(target, ["touchpoints"]))
