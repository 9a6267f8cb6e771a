"""A customer lookup that comes before the producer knows the table's partitions is retried, not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.web import _knowing_partitions

pytestmark = pytest.mark.unit

CHANGELOG = "touchpoint-customers-changelog"


class Producer:
    """The aiokafka producer's one call the lookups make: its metadata for a topic."""

    def __init__(self, answers: list[Exception | set[int]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def partitions_for(self, topic: str) -> set[int]:
        self.asked.append(topic)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class FaustProducer:
    def __init__(self, producer: Producer) -> None:
        self._producer = producer

    def _ensure_producer(self) -> Producer:
        return self._producer


class App:
    def __init__(self, producer: Producer) -> None:
        self.producer = FaustProducer(producer)


class Topic:
    def get_topic_name(self) -> str:
        return CHANGELOG


class Table:
    changelog_topic = Topic()


async def serve(producer: Producer) -> TestClient[Any, Any]:
    async def customer(request: web.Request) -> web.Response:
        return web.json_response({"error": "unknown customer"}, status=404)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application(middlewares=[_knowing_partitions(App(producer), Table())])  # type: ignore[arg-type]
    application.router.add_get("/customers/{customer_id}", customer)
    application.router.add_get("/metrics", metrics)
    client = TestClient(TestServer(application, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_a_lookup_before_the_metadata_is_a_503_to_retry_and_later_ones_go_through() -> None:
    producer = Producer([TimeoutError("no metadata in time"), {0, 1, 2, 3}])
    client = await serve(producer)
    try:
        early = await client.get("/customers/c-1")
        assert early.status == 503
        assert early.headers["Retry-After"] == "1"
        assert "retry" in (await early.json())["error"]
        for _ in range(3):
            later = await client.get("/customers/c-1")
            assert later.status == 404
            assert await later.json() == {"error": "unknown customer"}
        # Asked until it knew, then never again.
        assert producer.asked == [CHANGELOG, CHANGELOG]
    finally:
        await client.close()


async def test_other_pages_never_wait_for_the_metadata() -> None:
    producer = Producer([])
    client = await serve(producer)
    try:
        response = await client.get("/metrics")
        assert response.status == 200
        assert producer.asked == []
    finally:
        await client.close()
