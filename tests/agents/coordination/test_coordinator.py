"""Where the partitions meet: the best-customer threshold once every partition reported its boundary, and
digests once every partition's clock passed their interval, whatever order the reports come in.
"""

from __future__ import annotations

import dataclasses
import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.config import config_from_mapping, default_config
from agents.coordination.coordinator import Coordinator
from agents.coordination.progress import PartitionProgress, Progress, encode_signals
from agents.domain.alert import DueSoon
from agents.models.population import ValueSketch

pytestmark = pytest.mark.unit

MINUTE = 60
HOUR = 3600
DAY = 86_400
ALPHA = 0.01
#: Tuesday 6 January 2026, 10:00 UTC (11:00 in Berlin): support is staffed.
T0 = 1_767_693_600


def warning(customer: str, warn_at: int, location: str | None = "store-berlin-mitte") -> DueSoon:
    return DueSoon(
        item_id=f"first_response_due_soon/{customer}/ev-{customer}",
        customer_id=customer,
        channel="chat",
        location=location,
        evidence=f"ev-{customer}",
        asked_at=warn_at - 5 * MINUTE,
        warn_at=warn_at,
        deadline=warn_at + 10 * MINUTE,
        severity="info",
        reasons=("first_response_due_soon",),
        topic=None,
        stage="prospect",
        value_tier="bronze",
    )


def buyers(values: list[float], partitions: int, seed: int = 1) -> list[PartitionProgress]:
    """Each partition's side, the values spread over them at random, every buyer's purchase on day 3."""
    sides = [PartitionProgress(default_config()) for _ in range(partitions)]
    draw = random.Random(seed)
    for number, value in enumerate(values):
        side = draw.randrange(partitions)
        sides[side].buyer(side, b"cust-%d" % number, 3 * DAY, ((3 * DAY + number, value),))
    return sides


def test_the_threshold_of_a_boundary_is_published_once_every_partition_reported_it() -> None:
    draw = random.Random(4)
    values = [round(draw.lognormvariate(4.0, 1.5), 2) for _ in range(300)]
    sides = buyers(values, 3)
    hub = Coordinator(default_config(), 3)
    published = []
    for partition in (2, 0, 1):
        report = sides[partition].passed(partition, 5 * DAY + HOUR)
        for record in encode_signals(partition, [], [], report):
            published.append(hub.apply(record).thresholds)
    assert published[:2] == [[], []]  # partition 1 may still have buyers at days 4 and 5
    thresholds = {boundary: (threshold, count) for boundary, threshold, count in published[2]}
    assert sorted(thresholds) == [4 * DAY, 5 * DAY]
    threshold, count = thresholds[5 * DAY]
    assert count == 300
    exact = sorted(values)[int(0.9 * 299)]
    assert threshold is not None
    assert abs(threshold - exact) <= ALPHA * exact


def test_with_a_fixed_threshold_the_coordinator_publishes_none() -> None:
    hub = Coordinator(config_from_mapping({"model": {"best_customers": {"threshold": 500}}}), 1)
    assert hub.population is None
    sketch = ValueSketch(ALPHA)
    sketch.add(700.0)
    assert hub.passed(Progress(0, 5 * DAY, {5 * DAY: sketch.to_json()}, empty_before=0)).thresholds == []
    assert hub.to_json()["population"] is None


def test_a_stale_report_does_not_hold_the_digests_back() -> None:
    hub = Coordinator(default_config(), 2)
    hub.due_soon(warning("cust-1", T0 + MINUTE))
    assert hub.passed(Progress(0, T0 + 7 * MINUTE)).alerts == []
    assert hub.passed(Progress(0, T0 + 2 * MINUTE)).alerts == []  # a late, older report of partition 0
    [digest] = hub.passed(Progress(1, T0 + 6 * MINUTE)).alerts  # both have passed 10:05
    assert digest.detected_at == T0 + 5 * MINUTE


def test_an_answer_on_the_channel_keeps_the_inquiry_off_the_digest() -> None:
    hub = Coordinator(default_config(), 1)
    one, two = warning("cust-1", T0 + MINUTE), warning("cust-2", T0 + 2 * MINUTE)
    for record in encode_signals(
        0, [one, two], [(one.item_id, T0 + 3 * MINUTE)], Progress(0, T0 + 5 * MINUTE)
    ):
        alerts = hub.apply(record).alerts
    [digest] = alerts
    assert [entry["customer_id"] for entry in digest.details["items"]] == ["cust-2"]


def test_a_digest_names_each_deadline_in_the_queues_own_time_zone() -> None:
    hub = Coordinator(default_config(), 1)
    hub.due_soon(warning("cust-1", T0 + MINUTE))  # deadline 10:11 UTC
    [digest] = hub.passed(Progress(0, T0 + 5 * MINUTE)).alerts
    assert "cust-1 by 11:11" in digest.summary  # Berlin's support calendar: UTC+1 in January


def test_without_digests_warnings_and_answers_are_ignored() -> None:
    hub = Coordinator(config_from_mapping({"sla": {"warning_digest_minutes": 0}}), 1)
    item = warning("cust-1", T0 + MINUTE)
    for record in encode_signals(0, [item], [(item.item_id, T0 + 2 * MINUTE)], Progress(0, T0 + HOUR)):
        assert hub.apply(record).alerts == []
    assert hub.to_json()["digests"] is None


@pytest.mark.parametrize(("minutes", "seconds"), [(2.5, 150), (1, 60), (0.5, 30)])
def test_a_short_or_fractional_digest_interval_is_kept_to_the_second(minutes: float, seconds: int) -> None:
    hub = Coordinator(config_from_mapping({"sla": {"warning_digest_minutes": minutes}}), 1)
    assert hub.digests is not None
    assert hub.digests.interval == seconds


def test_a_partition_whose_first_buyer_came_later_does_not_hold_an_earlier_boundary_back() -> None:
    hub = Coordinator(config_from_mapping({"model": {"best_customers": {"min_buyers": 1}}}), 2)
    late = PartitionProgress(default_config())
    late.buyer(1, b"newcomer", 30 * DAY, ((30 * DAY, 10.0),))
    for record in encode_signals(1, [], [], late.passed(1, 31 * DAY)):  # reports days 30 and 31 only
        assert hub.apply(record).thresholds == []
    early = PartitionProgress(default_config())
    early.buyer(0, b"regular", 3 * DAY, ((3 * DAY, 50.0),))
    published = [
        result
        for record in encode_signals(0, [], [], early.passed(0, 20 * DAY + HOUR))
        for result in hub.apply(record).thresholds
    ]
    assert [(boundary, count) for boundary, _, count in published] == [(19 * DAY, 1), (20 * DAY, 1)]


def test_the_coordinators_state_survives_a_restart_between_two_partitions_reports() -> None:
    values = [float(value) for value in range(1, 201)]
    sides = buyers(values, 2)
    hub = Coordinator(default_config(), 2)
    hub.due_soon(warning("cust-1", T0 + MINUTE))
    for record in encode_signals(0, [], [], sides[0].passed(0, 5 * DAY + HOUR)):
        hub.apply(record)
    hub.passed(Progress(0, T0 + 6 * MINUTE))
    again = Coordinator(default_config(), 2)
    again.load(orjson.loads(orjson.dumps(hub.to_json())))
    assert again.progress == {0: T0 + 6 * MINUTE}
    [(boundary, threshold, count)] = [
        result
        for record in encode_signals(1, [], [], sides[1].passed(1, 5 * DAY + HOUR))
        for result in again.apply(record).thresholds
        if result[0] == 5 * DAY
    ]
    assert (boundary, count) == (5 * DAY, 200)
    assert threshold is not None
    assert abs(threshold - 180.0) <= ALPHA * 180.0  # rank 179 of 1…200
    [digest] = again.passed(Progress(1, T0 + 5 * MINUTE)).alerts
    assert digest.customer_id == "queue:chat:store-berlin-mitte"


def test_a_coordinator_starts_from_an_empty_state() -> None:
    hub = Coordinator(default_config(), 1)
    hub.load({})
    assert hub.progress == {}
    hub.due_soon(warning("cust-1", T0 + MINUTE))
    [digest] = hub.passed(Progress(0, T0 + 5 * MINUTE)).alerts
    assert digest.details["count"] == 1


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["warn", "rewarn", "answer", "pass", "restart"]),
            st.integers(0, 5),
            st.integers(0, 2 * HOUR),
        ),
        max_size=40,
    )
)
def test_the_stored_state_is_the_json_of_the_state_after_every_record(
    steps: list[tuple[str, int, int]],
) -> None:
    # encode() reuses each pending item's JSON between calls: whatever happened since, its bytes must be
    # those of the state as it is now, and a restart must read back the same state.
    hub = Coordinator(default_config(), 2)
    for action, customer, offset in steps:
        name = f"cust-{customer}"
        if action == "warn":
            hub.due_soon(warning(name, T0 + offset))
        elif action == "rewarn":  # the same item id again, with other fields: never the old bytes
            hub.due_soon(dataclasses.replace(warning(name, T0 + offset), severity="warning", stage="repeat"))
        elif action == "answer":
            hub.answered(f"first_response_due_soon/{name}/ev-{name}", T0 + offset)
        elif action == "pass":
            hub.passed(Progress(customer % 2, T0 + offset))
        else:
            again = Coordinator(default_config(), 2)
            again.load(orjson.loads(hub.encode()))
            hub = again
        assert hub.encode() == orjson.dumps(hub.to_json())
