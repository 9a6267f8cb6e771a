"""Where the partitions meet: the best-customer threshold once every partition reported its boundary, and
digests once every partition's clock passed their interval, whatever order the reports come in.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

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


def test_a_coordinator_given_an_empty_table_forgets_what_it_kept_before() -> None:
    # A worker that owned the coordinator once and gets it again from a new, empty table.
    values = [float(value) for value in range(1, 201)]
    sides = buyers(values, 2)
    hub = Coordinator(default_config(), 2)
    hub.due_soon(warning("cust-1", T0 + MINUTE))
    for record in encode_signals(0, [], [], sides[0].passed(0, 5 * DAY + HOUR)):
        hub.apply(record)
    assert hub.population is not None
    assert hub.population.reports
    hub.restore([])
    assert hub.to_json() == Coordinator(default_config(), 2).to_json()


def test_a_coordinator_starts_from_an_empty_state() -> None:
    hub = Coordinator(default_config(), 1)
    hub.load({})
    assert hub.progress == {}
    hub.due_soon(warning("cust-1", T0 + MINUTE))
    [digest] = hub.passed(Progress(0, T0 + 5 * MINUTE)).alerts
    assert digest.details["count"] == 1


def kept(hub: Coordinator, table: dict[bytes, bytes]) -> list[tuple[bytes, bytes | None]]:
    """Keep *hub*'s changes in *table* as the worker keeps them in its table; return them."""
    changes = hub.changes()
    for key, value in changes:
        if value is None:
            del table[key]  # a tombstone only for a record that is kept
        else:
            table[key] = value
    return changes


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["warn", "rewarn", "answer", "pass", "keep", "restart"]),
            st.integers(0, 5),
            st.integers(0, 2 * HOUR),
        ),
        max_size=40,
    )
)
def test_the_kept_records_are_those_of_the_state_and_load_back_into_the_same_coordinator(
    steps: list[tuple[str, int, int]],
) -> None:
    # changes() says only what changed since it was last asked: whatever happened in between, the
    # records kept must be exactly those of the state now, and a restart must read back the same state.
    hub = Coordinator(default_config(), 2)
    table: dict[bytes, bytes] = {}
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
        elif action == "keep":  # the end of a batch
            kept(hub, table)
            assert table == dict(hub.records())
        else:
            kept(hub, table)
            again = Coordinator(default_config(), 2)
            again.restore(table.items())
            assert again.to_json() == hub.to_json()
            assert again.changes() == [], "nothing to write after a restart"
            hub = again
    kept(hub, table)
    assert table == dict(hub.records())
    assert hub.changes() == []


def test_only_the_records_of_what_changed_are_kept_and_a_finished_digest_leaves_no_record() -> None:
    hub = Coordinator(default_config(), 1)
    table: dict[bytes, bytes] = {}
    one, two = warning("cust-1", T0 + MINUTE), warning("cust-2", T0 + 2 * MINUTE)
    hub.due_soon(one)
    hub.due_soon(two)
    assert [key for key, _ in kept(hub, table)] == [
        b'pending/[1767693600,"chat:store-berlin-mitte","first_response_due_soon/cust-1/ev-cust-1"]',
        b'pending/[1767693600,"chat:store-berlin-mitte","first_response_due_soon/cust-2/ev-cust-2"]',
        b"state",
    ]
    hub.answered(one.item_id, T0 + 3 * MINUTE)
    assert [key for key, _ in kept(hub, table)] == [b'answered/["first_response_due_soon/cust-1/ev-cust-1"]']
    three = warning("cust-3", T0 + 3 * MINUTE)
    hub.due_soon(three)
    hub.answered(three.item_id, T0 + 4 * MINUTE)
    kept(hub, table)
    [digest] = hub.passed(Progress(0, T0 + 5 * MINUTE)).alerts
    changed = dict(kept(hub, table))
    listed = f'listed/["{digest.alert_id}","{two.item_id}"]'.encode()
    assert {key for key, value in changed.items() if value is not None} == {
        f'published/["{digest.alert_id}"]'.encode(),
        listed,
        b"state",
    }, "the digest lists cust-2 only"
    assert changed[listed] == str(two.deadline).encode()
    assert len([key for key, value in changed.items() if value is None]) == 5, (
        "three items no longer pending, two answers of inquiries the digest does not list"
    )
    hub.passed(Progress(0, T0 + 20 * MINUTE))  # past the last deadline: the digest ends
    kept(hub, table)
    assert list(table) == [b"state"]
    assert orjson.loads(table[b"state"]) == {
        "progress": {"0": T0 + 20 * MINUTE},
        "digests": {"horizon": T0 + 20 * MINUTE},
        "population": hub.to_json()["population"],
    }


def test_an_entry_that_came_and_went_between_two_batches_is_neither_written_nor_deleted() -> None:
    hub = Coordinator(default_config(), 1)
    hub.changes()
    item = warning("cust-1", T0 + MINUTE)
    hub.due_soon(item)
    hub.answered(item.item_id, T0 + 2 * MINUTE)
    assert hub.passed(Progress(0, T0 + 5 * MINUTE)).alerts == []
    assert [key for key, _ in hub.changes()] == [b"state"]


def test_a_state_kept_whole_in_one_record_still_loads_and_is_then_kept_a_record_per_entry() -> None:
    # What a worker kept before each entry had a record of its own: everything under b"state".
    whole = (Path(__file__).parent / "whole_state.json").read_bytes()
    same = Coordinator(default_config(), 1)
    one, two, three = (warning(f"cust-{n}", T0 + minute * MINUTE) for n, minute in ((1, 1), (2, 2), (3, 7)))
    same.due_soon(one)
    same.due_soon(two)
    same.passed(Progress(0, T0 + 5 * MINUTE))
    same.answered(one.item_id, T0 + 6 * MINUTE)
    same.due_soon(three)
    upgraded = Coordinator(default_config(), 1)
    upgraded.restore([(b"state", whole)])
    assert upgraded.to_json() == same.to_json()
    table = {b"state": whole}
    kept(upgraded, table)
    assert table == dict(same.records()), "every entry in its own record, the whole record replaced"
    assert len(table[b"state"]) < 200
    again = Coordinator(default_config(), 1)
    again.restore(table.items())
    assert again.to_json() == same.to_json()
    later = Progress(0, T0 + 30 * MINUTE)
    assert [a.to_dict() for a in again.passed(later).alerts] == [
        a.to_dict() for a in same.passed(later).alerts
    ]


def test_a_worker_stopped_while_keeping_an_old_whole_state_anew_loads_the_same_state() -> None:
    whole = (Path(__file__).parent / "whole_state.json").read_bytes()
    upgraded = Coordinator(default_config(), 1)
    upgraded.restore([(b"state", whole)])
    first_half = upgraded.changes()[:2]  # the whole record is kept last: it is still there
    again = Coordinator(default_config(), 1)
    again.restore([*((key, value) for key, value in first_half if value is not None), (b"state", whole)])
    assert again.to_json() == upgraded.to_json()


def test_a_worker_stopped_after_keeping_a_digest_of_an_old_whole_state_keeps_the_inquiries_it_lists() -> None:
    # The digest's own record made it, its listed inquiries' records did not: the whole record has them.
    whole = (Path(__file__).parent / "whole_state.json").read_bytes()
    upgraded = Coordinator(default_config(), 1)
    upgraded.restore([(b"state", whole)])
    assert upgraded.digests is not None
    assert any(digest.items for digest in upgraded.digests.published.values())
    published = [(key, value) for key, value in upgraded.changes() if value and key.startswith(b"published/")]
    assert published
    again = Coordinator(default_config(), 1)
    again.restore([*published, (b"state", whole)])
    assert again.to_json() == upgraded.to_json()


def test_entries_of_an_old_whole_state_that_end_before_they_are_kept_leave_no_tombstones() -> None:
    # They never had records of their own: there is nothing to delete.
    whole = (Path(__file__).parent / "whole_state.json").read_bytes()
    upgraded = Coordinator(default_config(), 1)
    upgraded.restore([(b"state", whole)])
    upgraded.passed(Progress(0, T0 + DAY))  # every interval published, every digest ended
    assert [key for key, value in upgraded.changes() if value is None] == []


def test_a_warning_sent_again_and_published_before_the_batch_ends_leaves_no_record() -> None:
    hub = Coordinator(default_config(), 1)
    table: dict[bytes, bytes] = {}
    item = warning("cust-1", T0 + MINUTE)
    hub.due_soon(item)
    kept(hub, table)
    hub.due_soon(dataclasses.replace(item, severity="warning"))
    assert len(hub.passed(Progress(0, T0 + 5 * MINUTE)).alerts) == 1
    kept(hub, table)
    assert not [key for key in table if key.startswith(b"pending/")]
    assert table == dict(hub.records())


def test_a_digest_published_again_after_a_worker_stopped_mid_write_deletes_the_inquiries_it_no_longer_lists() -> (
    None
):
    # The digest's records landed, the deletions of its interval's pending items only in part.
    hub = Coordinator(default_config(), 1)
    table: dict[bytes, bytes] = {}
    one, two = warning("cust-1", T0 + MINUTE), warning("cust-2", T0 + 2 * MINUTE)
    hub.due_soon(one)
    hub.due_soon(two)
    kept(hub, table)
    before = dict(table)
    [digest] = hub.passed(Progress(0, T0 + 5 * MINUTE)).alerts
    kept(hub, table)
    torn = {key: value for key, value in before.items() if b"cust-2" not in key}  # cust-2's deletion landed
    torn.update((key, value) for key, value in table.items() if key != b"state")
    again = Coordinator(default_config(), 1)
    again.restore(torn.items())
    [republished] = again.passed(Progress(0, T0 + 5 * MINUTE)).alerts
    assert republished.alert_id == digest.alert_id
    kept(again, torn)
    assert torn == dict(again.records())
    assert [key for key in torn if key.startswith(b"listed/")] == [
        f'listed/["{digest.alert_id}","{one.item_id}"]'.encode()
    ]


def test_an_answer_or_a_listed_inquiry_kept_without_its_item_or_digest_is_dropped_and_deleted() -> None:
    hub = Coordinator(default_config(), 1)
    stray = [
        (b'answered/["first_response_due_soon/cust-9/ev-cust-9"]', b"1767693700"),
        (
            b'listed/["first_response_due_soon/queue:chat:-/000000000000","first_response_due_soon/cust-9/ev-cust-9"]',
            b"1767694000",
        ),
        (
            b'listed/["first_response_due_soon/queue:chat:-/000000000000","first_response_due_soon/cust-8/ev-cust-8"]',
            b"1767694060",
        ),
    ]
    hub.restore([*stray, (b"state", b'{"progress":{},"digests":{"horizon":0},"population":null}')])
    assert hub.digests is not None
    assert (hub.digests.answered, hub.digests.published) == ({}, {})
    assert sorted(key for key, value in hub.changes() if value is None) == sorted(key for key, _ in stray)


def test_with_digests_switched_off_the_records_of_kept_digests_are_deleted() -> None:
    table: dict[bytes, bytes] = {}
    hub = Coordinator(default_config(), 1)
    hub.due_soon(warning("cust-1", T0 + MINUTE))
    kept(hub, table)
    off = Coordinator(config_from_mapping({"sla": {"warning_digest_minutes": 0}}), 1)
    off.restore(table.items())
    kept(off, table)
    assert list(table) == [b"state"]
