"""An operator's request goes out even where the command cannot read every topic it watches for the answer.

A broker that enforces ACLs lists to a client only the topics its principal may describe: the privacy
office, allowed to write erasure requests and read their confirmations (docs/security.md), does not see
the dead letters. The embedded broker has no ACLs; a topic nobody created is unseen in the same way, and
these tests use that: a connection without the workers' partitions creates no topic.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams import topics
from streams.cli.common import request_and_await_answer
from streams.kafka import Connection
from streams.local.broker import EmbeddedBroker
from tests.kafka_helpers import collect, create_topic

pytestmark = pytest.mark.integration

KEY = b"cust-erased-by-the-privacy-office"
REQUEST = {"request_id": "r-1", "customer_id": KEY.decode(), "by": "privacy office", "reason": "ticket-9"}


async def request(bootstrap: str, wait: float) -> dict[str, Any] | None:
    # Bounded well past any slow machine, far short of *wait*: a request that waits out *wait* fails.
    return await asyncio.wait_for(
        request_and_await_answer(
            Connection(bootstrap),
            topics.ERASURE_REQUESTS,
            REQUEST,
            KEY,
            (topics.ERASURES,),
            lambda answer: answer.get("request_id") == REQUEST["request_id"],
            wait,
            asyncio.Event(),
        ),
        timeout=120,
    )


def sent_requests(bootstrap: str) -> list[dict[str, Any]]:
    found = asyncio.run(collect(bootstrap, topics.ERASURE_REQUESTS, lambda key, _: key == KEY, 1))
    return [orjson.loads(value) for _, value in found]


def test_a_request_goes_out_and_is_awaited_when_the_dead_letters_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        asyncio.run(create_topic(broker.bootstrap, topics.ERASURES, 1))
        answer = asyncio.run(request(broker.bootstrap, wait=2))
        requests = sent_requests(broker.bootstrap)
    assert answer is None  # no worker: nobody confirmed within the wait
    assert requests == [REQUEST]
    assert f"cannot read {topics.DEAD_LETTER}" in capsys.readouterr().err


def test_a_request_goes_out_without_waiting_when_no_answer_can_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        answer = asyncio.run(request(broker.bootstrap, wait=3600))
        requests = sent_requests(broker.bootstrap)
    assert answer is None
    assert requests == [REQUEST]
    assert f"cannot read {topics.ERASURES}, {topics.DEAD_LETTER}" in capsys.readouterr().err
