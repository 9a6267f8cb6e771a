"""The two references the pipeline is measured against, on the same pre-produced raw topic.

* the ceiling: one aiokafka consumer, ``getmany`` + ``orjson.loads`` per record, no group,
  no state, no output: what a Python process can pull through the client at all;
* the naive stateful Faust app (bench/naive_faust.py) in its own process: one agent counting
  records per customer in a changelog-backed memory Table.

bench/pipeline_vs_references.py runs both beside the full pipeline in every run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from harness import Span, Stream, measure

from streams import topics
from streams.local.broker import die_with_parent, free_port
from streams.runtime.faust_private import refresh_metadata
from streams.settings import Settings

HERE = Path(__file__).resolve().parent


async def _ceiling(bootstrap: str, expected: int) -> Span:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=Settings().fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        await refresh_metadata(consumer)
        partitions = [TopicPartition(topics.RAW, p) for p in consumer.partitions_for_topic(topics.RAW) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        first = first_cpu = 0.0
        first_batch = 0
        loads = orjson.loads
        deadline = time.monotonic() + 300
        while seen < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            if batch and not first:
                first, first_cpu = time.monotonic(), time.process_time()
                first_batch = sum(map(len, batch.values()))
            for messages in batch.values():
                for message in messages:
                    try:  # noqa: SIM105 - per record: cheaper than contextlib.suppress
                        loads(message.value)
                    except orjson.JSONDecodeError:
                        pass
                    seen += 1
        if seen < expected:
            raise SystemExit(f"ceiling: only {seen:,} of {expected:,} records")
        # The first batch was fetched before the clock started: count from the records after it.
        return Span(seen - first_batch, time.monotonic() - first, time.process_time() - first_cpu)
    finally:
        await consumer.stop()


def ceiling(bootstrap: str, stream: Stream) -> Span:
    """aiokafka getmany + orjson.loads over the whole raw topic, in this process."""
    return asyncio.run(_ceiling(bootstrap, stream.records))


class NaiveFaust:
    """bench/naive_faust.py as a child process."""

    def __init__(
        self,
        broker_url: str,
        data_dir: Path,
        table: bool = True,
        extra_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = data_dir / "naive.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            str(HERE / "naive_faust.py"),
            "--broker",
            broker_url,
            "--web-port",
            str(self.port),
            "--data-dir",
            str(data_dir),
        ]
        if not table:
            command.append("--no-table")
        command.extend(extra_args)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(extra_env or {})},
            preexec_fn=die_with_parent,
        )

    def count(self) -> float | None:
        if self.process.poll() is not None:
            raise SystemExit(f"the naive Faust app exited; see {self.log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as response:
                return float(json.loads(response.read())["count"])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def naive(
    broker_url: str,
    stream: Stream,
    data_dir: Path,
    broker_pid: int | None,
    table: bool = True,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Span:
    """The naive Faust app over the whole raw topic, measured like the worker (its own count, polled)."""
    app = NaiveFaust(broker_url, data_dir, table, extra_args, extra_env)
    try:
        return measure(
            app.count,
            [app.process.pid],
            stream.records,
            others=[broker_pid],
            what=f"naive Faust app (log {app.log_path})",
        )
    finally:
        app.stop()
