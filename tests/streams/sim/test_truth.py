"""``touchpoint simulate --truth``: the situations the simulator created, beside the traffic it wrote."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from streams.cli import main

pytestmark = pytest.mark.unit

#: Every situation of the domain brief's stories the issue asks the simulator to record.
KINDS = {
    "after_hours_unanswered",  # an unanswered after-hours inquiry
    "first_response_breach",
    "repeat_contact_unresolved",  # an issue that keeps coming back
    "excessive_transfers",  # a transfer chain
    "long_wait",
    "sales_in_service",  # selling during service
    "service_recovery",  # a failed recovery
    "usage_pattern_change",  # a changed usage pattern (a stolen card)
    "advocate_opportunity",  # a would-be advocate
    "churn_risk",  # a churning customer
}


def simulate(tmp_path: Path, name: str, *extra: str) -> tuple[list[bytes], list[dict[str, Any]]]:
    traffic = tmp_path / f"{name}.jsonl"
    args = [
        "simulate",
        "--customers",
        "400",
        "--events",
        "20000",
        "--seed",
        "3",
        "--out",
        str(traffic),
        *extra,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    truth = tmp_path / f"{name}.truth.jsonl"
    situations = [orjson.loads(line) for line in truth.read_bytes().splitlines()] if truth.exists() else []
    return traffic.read_bytes().splitlines(), situations


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], list[dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("truth")
    records, situations = simulate(directory, "traffic", "--truth", str(directory / "traffic.truth.jsonl"))
    return directory, records, situations


def test_the_truth_names_every_kind_of_story_situation(
    run: tuple[Path, list[bytes], list[dict[str, Any]]],
) -> None:
    _, _, situations = run
    kinds = Counter(situation["situation"] for situation in situations)
    assert set(kinds) == KINDS, kinds


def test_each_situation_names_its_customer_and_events_of_the_traffic_and_when_it_became_true(
    run: tuple[Path, list[bytes], list[dict[str, Any]]],
) -> None:
    _, records, situations = run
    events: dict[str, dict[str, Any]] = {}
    for line in records:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # the simulator's malformed records
        if isinstance(event, dict) and "event_id" in event:
            events.setdefault(str(event["event_id"]), event)
    for situation in situations:
        assert situation["evidence"], situation
        named = [events[event_id] for event_id in situation["evidence"]]  # each one was written
        assert datetime.fromisoformat(situation["at"]).tzinfo is not None
        first = min(datetime.fromisoformat(event["occurred_at"]) for event in named)
        # (a store's till writes whole seconds, the simulated world keeps milliseconds)
        assert datetime.fromisoformat(situation["at"]) >= first - timedelta(seconds=1), situation
        owners = {event.get("customer_id") for event in named if "customer_id" in event}
        assert owners <= {situation["customer"]}, situation


def test_writing_the_truth_leaves_the_traffic_as_it_is(
    run: tuple[Path, list[bytes], list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, records, _ = run
    alone, none = simulate(tmp_path, "alone")
    assert alone == records
    assert none == []
