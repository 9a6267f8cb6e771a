"""The reference stateful Faust app: one agent, one memory Table counting records per customer.

    python bench/naive_faust.py --broker kafka://127.0.0.1:9092 --web-port 6070 --data-dir /tmp/naive

It reads the raw `touchpoints` topic (keyed by customer) with the worker's Faust settings
(session timeout, fetch max wait via streams.runtime.transport, producer linger, partitions, earliest
offsets) and the worker's Worker class and log level, and nothing else: per record, orjson.loads and ``counts[key] += 1`` in a changelog-backed
memory Table. GET /count answers {"count": records processed}. With --no-table the agent only
counts in a local variable (Faust's per-record cost without a table). --sends N adds N output
records per record read (bench/send_cost.py uses it to price one send). --plain-faust runs it as
a plain Faust app would run: faust.Worker (root logger at DEBUG) and Faust's linger 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaProducer

import streams.worker
from streams import topics
from streams.kafka import bootstrap_servers
from streams.runtime.transport import Transport
from streams.settings import Settings

#: Where --sends writes: one record per send, the input record as it came.
OUTPUT = "naive.out"


class NaiveApp(faust.App):
    """A plain Faust app; only the transport is the worker's (fetch max wait for the embedded broker)."""

    settings: Settings

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)


def create_app(
    broker: str,
    web_port: int,
    data_dir: Path,
    table: bool,
    *,
    app_id: str | None = None,
    sends: int = 0,
    send_mode: str = "await",
    faust_defaults: bool = False,
) -> NaiveApp:
    settings = Settings(broker=broker, web_port=web_port, data_dir=data_dir)
    app = NaiveApp(
        app_id or ("naive-count" if table else "naive-count-no-table"),
        broker=broker,
        store="memory://",
        autodiscover=False,
        datadir=str(data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=web_port,
        # The worker's producer settings (getattr: older Settings have no linger field); plain: Faust's.
        producer_linger=0.0 if faust_defaults else getattr(settings, "producer_linger_ms", 0) / 1000,
    )
    app.settings = settings
    source = app.topic(
        topics.RAW, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    counts = app.Table("counts", default=int, partitions=settings.partitions) if table else None
    progress = {"count": 0}
    out = app.topic(OUTPUT, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    plain: list[AIOKafkaProducer] = []

    async def send(key: bytes, value: bytes) -> None:
        for _ in range(sends):
            if send_mode == "await":
                await out.send(key=key, value=value)
            elif send_mode == "soon":
                out.send_soon(key=key, value=value)
            else:
                await plain[0].send(OUTPUT, value, key=key)

    if sends and send_mode == "aiokafka":

        @app.task  # type: ignore[untyped-decorator]
        async def start_plain_producer() -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap_servers(broker), linger_ms=int(app.conf.producer_linger * 1000)
            )
            await producer.start()
            plain.append(producer)

    @app.agent(source, name="count_per_customer")
    async def count_per_customer(stream: Any) -> None:
        async for key, value in stream.items():
            try:  # noqa: SIM105 - per record: cheaper than contextlib.suppress
                orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
            if counts is not None:
                counts[key or b""] += 1
            if sends:
                await send(key or b"", value)
            progress["count"] += 1

    @app.page("/count")
    async def count_view(web: Any, request: Any) -> Any:
        return web.json(dict(progress))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", required=True)
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--no-table", action="store_true")
    parser.add_argument(
        "--app-id", default=None, help="consumer group and table namespace (default: naive-count[-no-table])"
    )
    parser.add_argument("--sends", type=int, default=0, help=f"records sent to {OUTPUT} per record read")
    parser.add_argument(
        "--send-mode",
        choices=("await", "soon", "aiokafka"),
        default="await",
        help="await topic.send(), topic.send_soon(), or a plain AIOKafkaProducer (no Faust)",
    )
    parser.add_argument(
        "--plain-faust",
        action="store_true",
        help="Faust's own defaults instead of the worker's: faust.Worker (root logger DEBUG), linger 0",
    )
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(
        args.broker,
        args.web_port,
        args.data_dir,
        table=not args.no_table,
        app_id=args.app_id,
        sends=args.sends,
        send_mode=args.send_mode,
        faust_defaults=args.plain_faust,
    )
    # The worker's own set-up (streams/worker.py): its Worker class, log level warning, quiet.
    worker_class = faust.Worker if args.plain_faust else getattr(streams.worker, "Worker", faust.Worker)
    worker = worker_class(app, loglevel="warning", quiet=True, workdir=str(args.data_dir))
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
