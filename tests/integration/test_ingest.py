"""Ingest end to end: the real worker on the embedded broker, plain Kafka clients around it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams import topics
from streams.local.broker import EmbeddedBroker
from streams.local.supervisor import WorkerProcess
from tests.kafka_helpers import collect, produce

pytestmark = pytest.mark.integration

VALID_COUNT = 60


def _valid_events(run_id: str) -> list[dict[str, object]]:
    channels = ["app", "web", "phone", "chat", "store", "email", "social"]
    events: list[dict[str, object]] = []
    for number in range(VALID_COUNT):
        event: dict[str, object] = {
            "schema_version": 1,
            "event_id": f"{run_id}-{number}",
            "occurred_at": f"2026-01-05T{8 + number % 12:02d}:{number % 60:02d}:00+01:00",
            "channel": channels[number % len(channels)],
            "type": "page_view" if number % 3 else "inquiry",
            "actor": "customer",
        }
        if number % 5 == 0:
            event["identifiers"] = {"email": f" {run_id}.Shopper{number % 4}@Example.com "}
        else:
            event["customer_id"] = f"{run_id}-cust-{number % 7}"
        events.append(event)
    return events


def _malformed(run_id: str) -> list[tuple[bytes | None, str]]:
    base = {
        "schema_version": 1,
        "event_id": f"{run_id}-bad",
        "occurred_at": "2026-01-05T19:30:00+01:00",
        "customer_id": f"{run_id}-cust-x",
        "channel": "chat",
        "type": "inquiry",
        "actor": "customer",
    }
    return [
        (b"", "empty"),
        (None, "empty"),
        (b"   \t  ", "empty"),
        (b"\xff\xfe\x00binary", "not_utf8"),
        (b"not json at all " + run_id.encode(), "not_json"),
        (b"[1, 2, 3]", "not_object"),
        (b"42", "not_object"),
        (b"[" * 5000 + b"]" * 5000, "not_json"),
        (orjson.dumps({**base, "channel": "fax"}), "schema"),
        (orjson.dumps({**base, "occurred_at": "2026-01-05T19:30:00"}), "timestamp"),
        (orjson.dumps({**base, "occurred_at": "0001-01-01T00:00:00Z"}), "timestamp"),
        (orjson.dumps({key: value for key, value in base.items() if key != "customer_id"}), "schema"),
        (
            orjson.dumps({**base, "type": "purchase", "attributes": {"amount": "9.99", "currency": "EUR"}}),
            "schema",
        ),
        (b'{"padding": "' + b"x" * 70_000 + b'"}', "too_large"),
    ]


async def test_valid_and_malformed_records_are_split_exactly_between_by_customer_and_dead_letter(
    broker: EmbeddedBroker, worker: WorkerProcess, run_id: str, tmp_path: Path, repo_root: Path
) -> None:
    valid = [orjson.dumps(event) for event in _valid_events(run_id)]
    malformed = _malformed(run_id)
    records: list[bytes | None] = []
    for number, value in enumerate(valid):  # interleave, as real traffic would
        records.append(value)
        if number % 4 == 0 and malformed[number // 4 :]:
            records.append(malformed[number // 4][0])
    records.extend(value for value, _ in malformed[len(valid[::4]) :])
    positions = await produce(broker.bootstrap, topics.RAW, records)
    expected_reason_at = {
        positions[records.index(value) if value is not None else records.index(None)]: reason
        for value, reason in malformed
    }
    assert len(expected_reason_at) == len(malformed)

    forwarded = await collect(
        broker.bootstrap,
        topics.BY_CUSTOMER,
        lambda key, value: value is not None and run_id.encode() in value,
        count=len(valid),
    )
    assert len(forwarded) == len(valid), "every valid event forwarded exactly once"
    by_id = {orjson.loads(value)["event_id"]: (key, orjson.loads(value)) for key, value in forwarded}
    assert sorted(by_id) == sorted(f"{run_id}-{n}" for n in range(VALID_COUNT))
    for key, event in by_id.values():
        assert key == event["customer_id"].encode(), "keyed by customer"
    derived = [event for _, event in by_id.values() if "identifiers" in event]
    assert derived
    assert all(event["customer_id"].startswith("id:email:") for event in derived)
    assert all(
        event["identifiers"]["email"] == event["identifiers"]["email"].strip().lower() for event in derived
    )

    source_offsets = {f"{topics.RAW}:{p}:{o}".encode() for p, o in expected_reason_at}
    dead = await collect(
        broker.bootstrap, topics.DEAD_LETTER, lambda key, _value: key in source_offsets, count=len(malformed)
    )
    assert len(dead) == len(malformed), "every malformed record dead-lettered exactly once"
    for _key, value in dead:
        record = orjson.loads(value)
        source = record["source"]
        assert record["reason"] == expected_reason_at[(source["partition"], source["offset"])], record

    # The same file, replayed offline, splits the same way: same accepted bodies, same reasons.
    jsonl = tmp_path / "input.jsonl"
    jsonl.write_bytes(b"".join((value or b"") + b"\n" for value in records if value is not None))
    out = tmp_path / "replay"
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(jsonl), "--out", str(out)],
        check=True,
        cwd=repo_root,
    )
    replayed = (out / "by-customer.jsonl").read_bytes().splitlines()
    assert sorted(replayed) == sorted(value for _, value in forwarded)
    replay_reasons = sorted(
        orjson.loads(line)["reason"] for line in (out / "dead-letter.jsonl").read_bytes().splitlines()
    )
    # Empty lines cannot exist in a JSONL file and a null value is not a line: those two are live-only.
    live_only = {b"", None}
    assert replay_reasons == sorted(reason for value, reason in malformed if value not in live_only)


async def test_worker_metrics_count_accepted_events_and_dead_letters_by_reason(worker: WorkerProcess) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{worker.base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'touchpoint_events_total{channel="chat",type="inquiry"}' in text
    assert 'touchpoint_dead_letters_total{reason="not_json"}' in text
