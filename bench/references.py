"""The references the pipeline is measured against, on the same pre-produced raw topic.

* the ceiling: one aiokafka consumer, ``getmany`` + ``orjson.loads`` per record, no group,
  no state, no output: what a Python process can pull through the client at all;
* the naive stateful Faust app (bench/naive_faust.py) in its own process: one agent counting
  records per customer in a changelog-backed memory Table;
* Quix Streams (bench/quix_count.py) in its own process and its own virtualenv
  (bench/.venv-quix, made on first use): records counted per customer in its RocksDB state,
  each count sent to an output topic.

bench/pipeline_vs_references.py runs them beside the full pipeline in every run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from common import output_times
from harness import START_LIMIT_S, Span, Stream, cpu_times, measure

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


#: quixstreams' own virtualenv: its dependencies (confluent-kafka, rocksdict, pydantic, ...) stay
#: out of the project's, whose pins (faust-streaming, click) they need not agree with.
QUIX_VENV = HERE / ".venv-quix"
QUIX_REQUIREMENT = "quixstreams>=3,<4"
#: Where bench/quix_count.py sends its counts, and its consumer group.
QUIX_OUTPUT = "quix.counts"
QUIX_GROUP = "quix-count"
#: Configs the raw topic is created with for Quix: it derives its changelog topics' retention from the
#: input topic's retention.ms (a KeyError without it), and the embedded broker reports only the
#: configs a topic was created with. Kafka's defaults, spelled out; nothing else reads them.
QUIX_TOPIC_CONFIGS = {"retention.ms": str(7 * 24 * 3600 * 1000), "retention.bytes": "-1"}


def quix_python() -> tuple[Path, str]:
    """The Python of bench/.venv-quix and the quixstreams version in it; the virtualenv is made on first use.

    It is made again when its interpreter is not this one's: a build of the same Python version can
    be up to 30 % faster than another (docs/development.md#the-interpreter), and the ratios compare
    engines, not builds.
    """
    python = QUIX_VENV / "bin" / "python"
    probe = [
        str(python),
        "-c",
        "import importlib.metadata as m, os, sys;"
        " print(m.version('quixstreams')); print(os.path.realpath(sys._base_executable))",
    ]
    ours = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    found = subprocess.run(probe, capture_output=True, text=True) if python.exists() else None
    lines = found.stdout.split() if found is not None and found.returncode == 0 else []
    if len(lines) != 2 or lines[1] != ours:
        why = (
            "first use only; later runs reuse it"
            if not lines
            else f"it was made from {lines[-1]}, not {ours}"
        )
        print(f"making {QUIX_VENV} with {QUIX_REQUIREMENT} ({why})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(QUIX_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", QUIX_REQUIREMENT],
            check=True,
        )
        lines = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.split()
    return python, lines[0]


class _CpuSampler(threading.Thread):
    """CPU seconds of some processes, sampled against the wall clock, to read off at broker timestamps."""

    def __init__(self, pids: Sequence[int], others: Sequence[int | None], interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pids, self.others, self.interval = pids, others, interval
        #: (epoch seconds, user, system, CPU seconds of the others)
        self.samples: list[tuple[float, float, float, float]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            before = time.time()
            times = [cpu_times(p) for p in self.pids]
            other = sum(sum(cpu_times(p)) for p in self.others)
            at = (before + time.time()) / 2
            self.samples.append((at, sum(t[0] for t in times), sum(t[1] for t in times), other))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def at(self, instant: float) -> tuple[float, float, float]:
        """(user, system, others) at *instant*, interpolated between the samples either side."""
        later = next((i for i, s in enumerate(self.samples) if s[0] >= instant), len(self.samples) - 1)
        a, b = self.samples[max(later - 1, 0)], self.samples[later]
        share = (instant - a[0]) / (b[0] - a[0]) if b[0] > a[0] else 1.0
        share = min(max(share, 0.0), 1.0)
        user, system, other = (x + (y - x) * share for x, y in zip(a[1:], b[1:], strict=True))
        return user, system, other


async def _written(bootstrap: str, prefix: str) -> tuple[int, float]:
    """Records in the topics named *prefix*..., and the latest broker timestamp among them (epoch s)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        names = [t for t in await consumer.topics() if t.startswith(prefix)]
        partitions = [TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()]
        if not partitions:
            return 0, 0.0
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count, last, idle = 0, 0.0, 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=500, max_records=20000)
            idle = 0 if batch else idle + 1
            for messages in batch.values():
                count += len(messages)
                last = max([last, *(m.timestamp / 1000 for m in messages)])
        return count, last
    finally:
        await consumer.stop()


def quix(
    bootstrap: str,
    stream: Stream,
    data_dir: Path,
    broker_pid: int | None,
    *,
    partitions: int,
    time_limit: float = 900.0,
) -> tuple[Span, int]:
    """bench/quix_count.py over the whole raw topic, timed by broker timestamps; also its changelog records.

    The span runs from the first count sent to the last write of its state: Quix writes RocksDB
    and the changelog at each checkpoint (every 5 s by default), and once more as it stops, so a
    short run would leave its state writes out if it ended at the last count. Start-up, the group
    join and leaving the group are excluded. The CPU its process spent meanwhile is read off
    samples taken every 20 ms.
    """
    python, _ = quix_python()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "quix.log"
    command = [
        str(python),
        str(HERE / "quix_count.py"),
        "--broker",
        bootstrap,
        "--state-dir",
        str(data_dir / "state"),
        "--partitions",
        str(partitions),
        "--fetch-max-wait-ms",
        str(Settings().fetch_max_wait_ms),
        "--group",
        QUIX_GROUP,
        "--output",
        QUIX_OUTPUT,
        "--count",
        str(stream.records),
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    sampler = _CpuSampler([process.pid], [broker_pid])
    sampler.start()
    try:
        # It stops by itself after its last count (--count): wait for that, then read the counts back.
        try:
            code = process.wait(START_LIMIT_S + time_limit)
        except subprocess.TimeoutExpired:
            raise SystemExit(
                f"Quix Streams app: not done after {START_LIMIT_S + time_limit:.0f}s; see {log_path}"
            ) from None
        if code != 0:
            raise SystemExit(f"Quix Streams app exited with {code}; see {log_path}")
    finally:
        sampler.stop()
        if process.poll() is None:
            process.kill()
            process.wait()
    seen, first, last = asyncio.run(output_times(bootstrap, [QUIX_OUTPUT], stream.records, 120))
    if seen < stream.records:
        raise SystemExit(
            f"Quix Streams app: {seen:,} of {stream.records:,} counts in {QUIX_OUTPUT}; see {log_path}"
        )
    # Quix names its changelog topics changelog__<group>--<input topic>--<store>.
    changelog, written = asyncio.run(_written(bootstrap, f"changelog__{QUIX_GROUP}--"))
    finish = max(last, written)
    start, end = sampler.at(first), sampler.at(finish)
    span = Span(
        seen - 1,
        finish - first,
        end[0] + end[1] - start[0] - start[1],
        end[2] - start[2],
        end[1] - start[1],
    )
    return span, changelog
