"""Alert delivery at a steady rate: from the worker raising an alert to the console showing it (server-sent
events) and to Alertmanager's webhook receiving it, in one run.

    .venv/bin/python bench/alert_delivery.py --rate 1000 --seconds 40

A fresh embedded broker; one worker with bench/deadline_lag.py's rules; `touchpoint console`
(loopback, no sign-in) followed by one live client reading ``/events``; `touchpoint notify`
posting to the real Alertmanager (Debian's binary) whose route sends `long_wait` alerts,
each in its own group with no group wait, to a webhook this script serves (every other
alert to a receiver with no integration, so the webhook measures the machinery, not a
notification policy). For --seconds the script sends --rate records per second to
`touchpoints` as bench/latency.py does: 10 per second a 5-minute phone queue wait that
raises `long_wait` at once, the rest simulator traffic restamped to now.

Raised: the Kafka timestamp of the alert record the worker sent (its send time). Reported,
p50 and p99 over the probes' alerts: raised → the console's live client received the row;
raised → the webhook received the notification; and, for context, the same from the
produce call of the touchpoint that raised it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from common import record
from deadline_lag import RULES
from harness import cpu_times, percentile, worker_config
from latency import LONG_WAIT, LONG_WAITS_PER_S, Run, _traffic

from streams.local.broker import EmbeddedBroker, free_port
from streams.local.services import ServiceProcess
from streams.local.supervisor import WorkerProcess
from streams.runtime.faust_private import refresh_metadata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' Alertmanager and webhook helpers
from tests.alertmanager_helpers import AlertmanagerProcess, WebhookReceiver, alertmanager_binary


def routing(webhook_url: str) -> str:
    return f"""
route:
  receiver: nowhere
  routes:
    - matchers: ['alertname="long_wait"']
      receiver: bench-webhook
      group_by: [alert_id]
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 1h
receivers:
  - name: nowhere
  - name: bench-webhook
    webhook_configs:
      - url: {webhook_url}
        send_resolved: false
"""


class Seen:
    def __init__(self) -> None:
        self.raised: dict[str, float] = {}  # alert id → Kafka timestamp of its first (open) record
        self.evidence: dict[str, str] = {}  # alert id → the probe event that raised it
        self.console: dict[str, float] = {}  # alert id → when the live client got its row


async def _follow_alerts(bootstrap: str, seen: Seen, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        for _ in range(100):
            await refresh_metadata(consumer)
            if consumer.partitions_for_topic(LONG_WAIT):
                break
            await asyncio.sleep(0.2)
        partitions = [TopicPartition(LONG_WAIT, p) for p in consumer.partitions_for_topic(LONG_WAIT) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while not stop.is_set():
            for messages in (await consumer.getmany(timeout_ms=100)).values():
                for message in messages:
                    alert = orjson.loads(message.value)
                    if alert["status"] == "open" and alert["alert_id"] not in seen.raised:
                        seen.raised[alert["alert_id"]] = message.timestamp / 1000
                        seen.evidence[alert["alert_id"]] = alert["evidence"][0]
    finally:
        await consumer.stop()


async def _follow_console(url: str, seen: Seen, stop: asyncio.Event) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{url}/events?type=long_wait&status=all") as response,
    ):
        event = ""
        async for raw in response.content:
            if stop.is_set():
                return
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "alert":
                change: dict[str, Any] = orjson.loads(line[6:])
                seen.console.setdefault(change["id"], time.time())


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:,.0f} ms"


async def _measure(
    bootstrap: str, console_url: str, hook: WebhookReceiver, rate: int, seconds: float, pid: int | None
) -> tuple[Run, Seen]:
    run, seen, stop = Run(), Seen(), asyncio.Event()
    followers = [
        asyncio.create_task(_follow_alerts(bootstrap, seen, stop)),
        asyncio.create_task(_follow_console(console_url, seen, stop)),
    ]
    try:
        await _traffic(bootstrap, run, rate, seconds, pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            webhook = {a["labels"]["alert_id"] for a in hook.alerts("firing")}
            probes = {a for a, e in seen.evidence.items() if e in run.sent_at}
            if len(probes) >= len(run.sent_at) and probes <= webhook and probes <= set(seen.console):
                break
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    return run, seen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=1000, help="records per second to the raw topic")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    binary = alertmanager_binary()
    if binary is None:
        raise SystemExit("needs Debian's prometheus-alertmanager: ./scripts/install-browser-and-alertmanager")
    with (
        tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp,
        EmbeddedBroker() as broker,
        WebhookReceiver() as hook,
    ):
        workdir = Path(tmp)
        rules = workdir / "rules.toml"
        rules.write_text(RULES)
        alertmanager = AlertmanagerProcess(binary, routing(hook.url), workdir / "alertmanager").start()
        worker = WorkerProcess(
            broker.url, free_port(), workdir / "worker", extra_args=["--config", str(rules)]
        )
        console_port, notify_port = free_port(), free_port()
        console = ServiceProcess(
            ["console", "--broker", broker.url, "--port", str(console_port), "--worker-url", worker.base_url],
            f"http://127.0.0.1:{console_port}/healthz",
            workdir / "console.log",
            env={"TOUCHPOINT_CONSOLE_USERS": "", "TOUCHPOINT_CONSOLE_TOKEN": ""},
        )
        notify = ServiceProcess(
            [
                "notify",
                "--broker",
                broker.url,
                "--alertmanager",
                alertmanager.url,
                "--web-port",
                str(notify_port),
            ],
            f"http://127.0.0.1:{notify_port}/ready",
            workdir / "notify.log",
        )
        try:
            worker.start().wait_ready()
            console.start().wait_ready()
            notify.start().wait_ready()
            cpu = [sum(cpu_times(p)) for p in (console.pid, notify.pid)]
            started = time.monotonic()
            run, seen = asyncio.run(
                _measure(
                    broker.bootstrap,
                    f"http://127.0.0.1:{console_port}",
                    hook,
                    args.rate,
                    args.seconds,
                    worker.pid,
                )
            )
            elapsed = time.monotonic() - started
            console_cores, notify_cores = (
                (sum(cpu_times(p)) - before) / elapsed
                for p, before in zip((console.pid, notify.pid), cpu, strict=True)
            )
        finally:
            notify.stop()
            console.stop()
            worker.stop()
            alertmanager.stop()
    arrived: dict[str, float] = {}
    for note_at, note in zip(hook.arrivals, hook.notifications, strict=True):
        for alert in note["alerts"]:
            arrived.setdefault(alert["labels"]["alert_id"], note_at)
    probes = [a for a, e in seen.evidence.items() if e in run.sent_at]
    to_console = [seen.console[a] - seen.raised[a] for a in probes if a in seen.console]
    to_webhook = [arrived[a] - seen.raised[a] for a in probes if a in arrived]
    e2e_console = [seen.console[a] - run.sent_at[seen.evidence[a]] for a in probes if a in seen.console]
    e2e_webhook = [arrived[a] - run.sent_at[seen.evidence[a]] for a in probes if a in arrived]
    achieved = run.sent / run.traffic_seconds
    text = (
        f"raised → console live client ({len(to_console)} of {len(probes)} alerts): p50 {_ms(to_console, 0.5)},"
        f" p99 {_ms(to_console, 0.99)}; raised → Alertmanager webhook ({len(to_webhook)}): p50"
        f" {_ms(to_webhook, 0.5)}, p99 {_ms(to_webhook, 0.99)}; from the touchpoint's produce: console p50"
        f" {_ms(e2e_console, 0.5)}, p99 {_ms(e2e_console, 0.99)}, webhook p50 {_ms(e2e_webhook, 0.5)}, p99"
        f" {_ms(e2e_webhook, 0.99)}; sent {achieved:,.0f} records/s; CPU over the run: worker"
        f" {run.worker_cores:.0%} of a core (traffic), console {console_cores:.0%}, notify {notify_cores:.0%}"
        f" (machine busy {run.machine_cores:.2f} of {os.cpu_count()} cores)"
    )
    print(text)
    if not args.no_record:
        record(
            "alert delivery",
            f"{args.rate:,} records/s for {args.seconds:.0f} s to touchpoints (simulator traffic restamped,"
            f" {LONG_WAITS_PER_S} long queue waits/s raising long_wait), 1 worker, 1 console with one live"
            f" client, 1 notify, Alertmanager 0.25 (long_wait: own group, group_wait 0s, webhook on loopback);"
            f" {worker_config()}",
            text,
            f"python bench/alert_delivery.py --rate {args.rate} --seconds {args.seconds:.0f}",
        )


if __name__ == "__main__":
    main()
