"""Direct sends: the record as Faust would have produced it, the producer's future back, errors as Faust's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.exceptions import ProducerSendError

from streams.runtime.direct import DirectTopic

pytestmark = pytest.mark.unit


class AIOKafkaProducer:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.error = error

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, partition: int | None, timestamp_ms: int | None
    ) -> asyncio.Future[Any]:
        if self.error:
            raise self.error
        self.sent.append((topic, key, value, partition, timestamp_ms))
        return asyncio.get_running_loop().create_future()


class FaustProducer:
    def __init__(self, inner: AIOKafkaProducer) -> None:
        self.inner = inner

    def _ensure_producer(self) -> AIOKafkaProducer:
        return self.inner


class App:
    def __init__(self, inner: AIOKafkaProducer) -> None:
        self.producer = FaustProducer(inner)


class Topic:
    def get_topic_name(self) -> str:
        return "touchpoints.enriched"


async def test_a_send_hands_the_record_to_the_producer_and_returns_its_future() -> None:
    inner = AIOKafkaProducer()
    topic = DirectTopic(App(inner), Topic())  # type: ignore[arg-type]
    future = await topic.send(key=b"c1", value=b"{}", partition=2, timestamp=1767225600.25)
    assert inner.sent == [("touchpoints.enriched", b"c1", b"{}", 2, 1767225600250)]
    assert not future.done(), "the caller gets the acknowledgement's future, not a finished send"
    await topic.send(key=None, value=b"x")
    assert inner.sent[-1] == ("touchpoints.enriched", None, b"x", None, None), "no timestamp: the producer's"


async def test_the_name_is_the_faust_topics() -> None:
    faust_topic = Topic()
    topic = DirectTopic(App(AIOKafkaProducer()), faust_topic)  # type: ignore[arg-type]
    assert topic.get_topic_name() == "touchpoints.enriched"
    assert topic.topic is faust_topic  # type: ignore[comparison-overlap]


async def test_a_kafka_error_is_raised_as_fausts_producer_send_error() -> None:
    topic = DirectTopic(App(AIOKafkaProducer(KafkaTimeoutError())), Topic())  # type: ignore[arg-type]
    with pytest.raises(ProducerSendError, match=r"touchpoints\.enriched"):
        await topic.send(key=b"c1", value=b"{}")


async def test_a_record_over_the_request_size_is_counted_and_skipped_and_the_worker_goes_on() -> None:
    from aiokafka.errors import MessageSizeTooLargeError

    from streams import metrics

    counted = metrics.RECORDS_TOO_LARGE.labels("touchpoints.enriched")
    before = counted._value.get()
    topic = DirectTopic(App(AIOKafkaProducer(MessageSizeTooLargeError("too large"))), Topic())  # type: ignore[arg-type]
    future = await topic.send(key=b"c1", value=b"x" * 2_000_000)
    assert future.done()
    assert future.result() is None
    assert counted._value.get() == before + 1
