"""Streaming equivalence on CDNOW: the engine's per-customer (x, t_x, T) is the published summary, P(alive) the closed form.

The 2,357-customer CDNOW sample's transactions become touchpoint purchases. Offline,
``touchpoint replay --as-of 1997-09-30`` reads the whole file and must stop applying at the
calibration end; live, the calibration transactions go through the real worker on the
embedded broker and the lookup API is asked about the same day. Both must give, for every
customer, the published ``frequency``/``recency``/``T`` (weeks, 2 decimals in the file; our
own summary of the same transactions exactly) and a P(alive) equal to the vectorised closed
form to 1e-9.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from agents.models import bgnbd
from agents.models.history import Summary, load_history
from agents.models.params import DEFAULT_PARAMS
from streams import topics
from streams.cli import main
from streams.local.broker import EmbeddedBroker
from streams.local.supervisor import WorkerProcess
from tests.agents.models.conftest import Cdnow, cdnow, cdnow_csv  # noqa: F401 - fixtures used below
from tests.kafka_helpers import produce

pytestmark = pytest.mark.integration

CALIBRATION_END = date(1997, 9, 30)


def touchpoints(sample: Path, prefix: str, until: date | None = None) -> list[bytes]:
    """Every CDNOW transaction as a purchase touchpoint at noon UTC on its day, customer ``<prefix><id>``."""
    records = []
    for number, raw in enumerate(sample.read_text().splitlines()):
        fields = raw.split()
        if not fields:
            continue
        day = date(int(fields[2][:4]), int(fields[2][4:6]), int(fields[2][6:]))
        if until is not None and day > until:
            continue
        event = {
            "schema_version": 1,
            "event_id": f"{prefix}tx-{number}",
            "occurred_at": f"{day.isoformat()}T12:00:00+00:00",
            "customer_id": f"{prefix}{int(fields[1])}",
            "channel": "web",
            "type": "purchase",
            "actor": "customer",
            "attributes": {"amount": float(fields[4]), "currency": "EUR"},
        }
        records.append(orjson.dumps(event))
    return records


@pytest.fixture(scope="module")
def summary(cdnow_csv: Path) -> Summary:  # noqa: F811 - the imported fixture
    return load_history(cdnow_csv, calibration_end=CALIBRATION_END, unit="weeks").summary


@pytest.fixture(scope="module")
def published(cdnow: Cdnow) -> dict[str, dict[str, str]]:  # noqa: F811
    with cdnow.summary.open(newline="") as handle:
        return {row["ID"]: row for row in csv.DictReader(handle)}


def check(
    views: dict[str, dict[str, Any]], summary: Summary, published: dict[str, dict[str, str]], prefix: str
) -> None:
    assert len(views) == len(summary) == 2357
    expected_alive = bgnbd.p_alive(DEFAULT_PARAMS.purchases, summary.x, summary.t_x, summary.T)
    worst = 0.0
    for i, customer in enumerate(summary.customer_ids):
        view = views[prefix + customer]
        row = published[customer]
        assert view["x"] == int(row["frequency"]) == summary.x[i], customer
        assert (view["t_x"], view["T"]) == (summary.t_x[i], summary.T[i]), customer
        assert abs(view["t_x"] - float(row["recency"])) <= 0.005 + 1e-9, customer
        assert abs(view["T"] - float(row["T"])) <= 0.005 + 1e-9, customer
        worst = max(worst, abs(view["p_alive"] - float(expected_alive[i])))
    assert worst <= 1e-9, f"largest P(alive) difference {worst:.3e}"
    print(f"\n2,357 customers: x, t_x, T as published; largest P(alive) difference {worst:.1e}")


def test_replay_as_of_the_calibration_end_gives_the_published_summary_and_p_alive(
    cdnow: Cdnow,  # noqa: F811
    summary: Summary,
    published: dict[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    history = tmp_path / "cdnow.jsonl"
    everything = touchpoints(cdnow.sample, "")
    history.write_bytes(b"\n".join(everything) + b"\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["replay", str(history), "--out", str(out), "--as-of", CALIBRATION_END.isoformat()]
    )
    assert result.exit_code == 0, result.output
    views = {
        view["customer_id"]: view
        for view in map(orjson.loads, (out / "customers.jsonl").read_bytes().splitlines())
    }
    calibration = len(touchpoints(cdnow.sample, "", until=CALIBRATION_END))
    assert f"{len(everything) - calibration:,} later touchpoints not applied" in result.output
    assert all(view["as_of"] == "1997-09-30" for view in views.values())
    check(views, summary, published, "")


def _get(worker: WorkerProcess, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{worker.base_url}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_the_live_worker_gives_the_published_summary_and_p_alive(
    broker: EmbeddedBroker,
    worker: WorkerProcess,
    cdnow: Cdnow,  # noqa: F811
    summary: Summary,
    published: dict[str, dict[str, str]],
    run_id: str,
) -> None:
    prefix = f"{run_id}-"
    records = touchpoints(cdnow.sample, prefix, until=CALIBRATION_END)
    purchases: dict[str, int] = {}
    for record in records:
        customer = orjson.loads(record)["customer_id"]
        purchases[customer] = purchases.get(customer, 0) + 1
    await produce(broker.bootstrap, topics.RAW, records)

    def lookup(customer: str) -> dict[str, Any] | None:
        status, body = _get(worker, f"/customers/{customer}?as_of={CALIBRATION_END.isoformat()}")
        return body if status == 200 and body["purchase_count"] == purchases[customer] else None

    views: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 180
    while len(views) < len(purchases):
        for customer in sorted(set(purchases) - set(views)):
            body = await asyncio.to_thread(lookup, customer)
            if body is None:
                break  # not there yet: the stream is applied in order per partition, so wait a little
            views[customer] = body["model"]
        else:
            continue
        assert time.monotonic() < deadline, f"{len(views)} of {len(purchases)} customers applied in time"
        await asyncio.sleep(0.5)
    check(views, summary, published, prefix)
    status, refusal = await asyncio.to_thread(_get, worker, f"/customers/{prefix}1?as_of=1997-13-01")
    assert status == 400
    assert "as_of" in refusal["error"]
