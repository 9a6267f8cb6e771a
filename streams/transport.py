"""Faust's aiokafka transport with a configurable fetch wait.

Faust hard-codes ``fetch_max_wait_ms=1500``. Brokers that hold every fetch for
its full max wait (the embedded Tansu does) then add up to 1.5 s to every hop;
a shorter wait bounds latency at the cost of more, smaller fetch requests.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its Fetcher, which happens after this.
        consumer._fetch_max_wait_ms = self.app.settings.fetch_max_wait_ms  # type: ignore[attr-defined]
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    """aiokafka transport whose worker consumer honours Settings.fetch_max_wait_ms."""

    Consumer = _Consumer
