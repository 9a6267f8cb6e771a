"""The journey end to end: the real worker on the embedded broker agrees with the offline replay,
serves customer state over HTTP, and a new worker recovers that state (and its timers) from the changelog.

This module has its own broker and worker: it moves partition watermarks far into
the future, which must not disturb the tests sharing the session worker.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

import schemas
from agents.config import load_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams import topics
from streams.kafka import produce
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from streams.replay import replay
from streams.settings import Settings
from streams.sim import SimulationSpec, generate_events
from tests.kafka_helpers import collect
from tests.kafka_helpers import sentinels as watermark_sentinels

pytestmark = pytest.mark.integration

RULES = """
[deadlines]
# Event time only: the live worker must give exactly what the replay gives.
wall_clock_sweep = false
# The traffic is pre-produced as a backfill and ingest reads its four partitions concurrently, so one
# by-customer partition can run weeks of event time ahead of another customer's next event. The
# watermark must trail by more than that skew for live and replay to agree: the whole span here.
# Live traffic, produced as it happens, needs seconds.
allowed_lateness_seconds = 2592000
"""


@dataclass
class Replayed:
    enriched: list[bytes]
    transitions: list[bytes]
    alerts: list[bytes]

    def alerts_of(self, alert_type: str) -> list[bytes]:
        return [line for line in self.alerts if orjson.loads(line)["type"] == alert_type]


def _replay(tmp: Path, name: str, records: list[bytes], rules: Path) -> Replayed:
    source = tmp / f"{name}.jsonl"
    source.write_bytes(b"".join(record + b"\n" for record in records))
    settings = Settings.from_env()  # the workers' identity key (tests/conftest.py)
    config = load_config(rules)
    salt = settings.identity_key
    out = tmp / name
    replay(source, out, TouchpointDecoder(identity_salt=salt), JourneyTracker(config, salt))
    return Replayed(
        enriched=(out / "enriched.jsonl").read_bytes().splitlines(),
        transitions=(out / "transitions.jsonl").read_bytes().splitlines(),
        alerts=(out / "alerts.jsonl").read_bytes().splitlines(),
    )


@dataclass
class Journey:
    broker: EmbeddedBroker
    worker: WorkerProcess
    rules: Path
    tmp: Path
    traffic: list[bytes]
    sentinels: list[bytes]
    replayed: Replayed


def _start_worker(broker: EmbeddedBroker, data_dir: Path, rules: Path) -> WorkerProcess:
    worker = WorkerProcess(broker.url, free_port(), data_dir, extra_args=["--config", str(rules)]).start()
    worker.wait_ready()
    return worker


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    tmp = tmp_path_factory.mktemp("journey")
    rules = tmp / "rules.toml"
    rules.write_text(RULES)
    spec = SimulationSpec(customers=250, seed=11, malformed_share=0.0)
    timed = list(itertools.islice(generate_events(spec), 4000))
    traffic = [record for _, record in timed]
    end = (timed[-1][0] + timedelta(days=46 + 30)).isoformat()  # past the lateness: at_risk, not lapsed
    sentinels = watermark_sentinels("sentinel-a", end)
    replayed = _replay(tmp, "replay-a", traffic + sentinels, rules)
    with EmbeddedBroker(log_path=tmp / "broker.log") as broker:
        worker = _start_worker(broker, tmp / "worker-1", rules)
        state = Journey(broker, worker, rules, tmp, traffic, sentinels, replayed)
        try:
            yield state
        finally:
            state.worker.stop()


def _get(worker: WorkerProcess, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{worker.base_url}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _final_snapshots(enriched: list[bytes]) -> dict[str, dict[str, object]]:
    latest: dict[str, dict[str, object]] = {}
    for line in enriched:
        record = orjson.loads(line)
        latest[record["touchpoint"]["customer_id"]] = record["customer"]
    return latest


def _final_stages(transitions: list[bytes]) -> dict[str, str]:
    stages: dict[str, str] = {}
    for line in transitions:
        record = orjson.loads(line)
        stages[record["customer_id"]] = record["to"]
    return stages


async def test_live_worker_publishes_exactly_the_enriched_events_and_transitions_of_the_replay(
    journey: Journey,
) -> None:
    bootstrap = journey.broker.bootstrap
    expected = journey.replayed
    await produce(bootstrap, topics.RAW, journey.traffic)
    # Sentinels go last, once everything else is applied, so no watermark runs ahead of a customer's own events.
    main_count = len(expected.enriched) - len(journey.sentinels)
    await collect(bootstrap, topics.ENRICHED, lambda _k, _v: True, count=main_count, timeout=180)
    await produce(bootstrap, topics.RAW, journey.sentinels)

    enriched = await collect(bootstrap, topics.ENRICHED, lambda _k, _v: True, count=len(expected.enriched))
    transitions = await collect(
        bootstrap, topics.TRANSITIONS, lambda _k, _v: True, count=len(expected.transitions)
    )
    assert sorted(value for _, value in enriched) == sorted(expected.enriched)
    assert sorted(value for _, value in transitions) == sorted(expected.transitions)
    for key, value in enriched[:200]:
        record = orjson.loads(value)
        schemas.validator("enriched")(record)
        assert key == record["touchpoint"]["customer_id"].encode()
    causes = {orjson.loads(value)["cause"] for _, value in transitions}
    assert {"inactivity", "purchase"} <= causes, "time-based and event-based transitions both happened"
    await _assert_alerts_match(bootstrap, expected)


async def _assert_alerts_match(bootstrap: str, expected: Replayed) -> None:
    """Same alert records, ids and statuses on every alerts.<type> topic as in the replay's alerts.jsonl."""
    raised = {orjson.loads(line)["type"] for line in expected.alerts}
    assert raised == set(topics.ALERT_TYPES), (
        f"the simulated traffic raises every alert type; missing {set(topics.ALERT_TYPES) - raised}"
    )
    for alert_type in topics.ALERT_TYPES:
        wanted = expected.alerts_of(alert_type)
        live = await collect(
            bootstrap, topics.alert_topic(alert_type), lambda _k, _v: True, count=len(wanted)
        )
        got = sorted(value for _, value in live)
        only_live = sorted(set(got) - set(wanted))
        only_replay = sorted(set(wanted) - set(got))
        explain = [
            (
                orjson.loads(v),
                [
                    orjson.loads(w)
                    for w in wanted
                    if orjson.loads(w)["alert_id"] == orjson.loads(v)["alert_id"]
                ],
            )
            for v in only_live + only_replay
        ]
        assert (only_live, only_replay) == ([], []), f"{alert_type}: {explain}"
        assert got == sorted(wanted), alert_type
        for key, value in live:
            alert = orjson.loads(value)
            schemas.validator("alert")(alert)
            assert key == alert["customer_id"].encode()


async def test_customer_state_over_http_matches_the_replay_and_unknown_ids_are_404(journey: Journey) -> None:
    snapshots = _final_snapshots(journey.replayed.enriched)
    stages = _final_stages(journey.replayed.transitions)
    for customer_id, snapshot in snapshots.items():
        status, body = await asyncio.to_thread(_get, journey.worker, f"/customers/{customer_id}")
        assert status == 200, body
        assert body["purchase_count"] == snapshot["purchase_count"]
        assert body["events"] == snapshot["touchpoints"]
        assert len(body["inquiries_open"]) == snapshot["open_inquiries"]  # type: ignore[arg-type]
        assert body["stage"] == stages[customer_id]
    status, body = await asyncio.to_thread(_get, journey.worker, "/customers/nobody-at-all")
    assert status == 404
    assert body == {"error": "unknown customer", "customer_id": "nobody-at-all"}


async def test_a_new_worker_recovers_every_customer_and_every_timer_from_the_changelog(
    journey: Journey,
) -> None:
    customers = sorted(_final_snapshots(journey.replayed.enriched))
    before = {c: (await asyncio.to_thread(_get, journey.worker, f"/customers/{c}"))[1] for c in customers}
    assert journey.worker.stop() == 0
    journey.worker = await asyncio.to_thread(
        _start_worker, journey.broker, journey.tmp / "worker-2", journey.rules
    )
    after = {c: (await asyncio.to_thread(_get, journey.worker, f"/customers/{c}"))[1] for c in customers}
    differences = {
        customer: {k: (before[customer].get(k), v) for k, v in state.items() if before[customer].get(k) != v}
        for customer, state in after.items()
        if state != before[customer]
    }
    assert differences == {}

    # Timers survived too: a year later, everyone who ever bought lapses, exactly as the replay says.
    later = orjson.loads(journey.sentinels[0])["occurred_at"].replace("2026", "2027", 1)
    sentinels = watermark_sentinels("sentinel-b", later)
    replayed = _replay(
        journey.tmp, "replay-b", journey.traffic + journey.sentinels + sentinels, journey.rules
    )
    await produce(journey.broker.bootstrap, topics.RAW, sentinels, event_time_stamps=True)  # dated 2027
    transitions = await collect(
        journey.broker.bootstrap, topics.TRANSITIONS, lambda _k, _v: True, count=len(replayed.transitions)
    )
    assert sorted(value for _, value in transitions) == sorted(replayed.transitions)
    assert len(replayed.transitions) > len(journey.replayed.transitions), "the later sentinels fired timers"
    await _assert_alerts_match(journey.broker.bootstrap, replayed)
