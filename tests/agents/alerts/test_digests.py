"""First-response warnings grouped per queue and interval, made where every partition's items meet.

The coordinator (agents/coordination/coordinator.py) gets each partition's warnings (``DueSoon``
items), the answers to them, and each partition's progress; it publishes an interval's digests only
once every partition's clock has passed the interval's end. Day 0 is Tuesday 6 January 2026.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from agents.alerts.digests import QUEUE, SETTLED, WarningDigests
from agents.config import config_from_mapping, default_config
from agents.coordination.coordinator import Coordinator
from agents.coordination.progress import Progress, encode_signals
from agents.domain.alert import FIRST_RESPONSE_DUE_SOON, OPEN, RESOLVED, Alert, DueSoon

pytestmark = pytest.mark.unit

MINUTE = 60
#: 10:00 UTC on Tuesday 6 January 2026 (11:00 in Berlin, support staffed).
T0 = int(datetime.fromisoformat("2026-01-06T10:00:00+00:00").timestamp())
INTERVAL = 5 * MINUTE


def item(
    customer: str,
    warn_minute: float,
    channel: str = "chat",
    location: str | None = "store-berlin-mitte",
    **extra: Any,
) -> DueSoon:
    warn_at = T0 + round(warn_minute * MINUTE)
    return DueSoon(
        item_id=f"first_response_due_soon/{customer}/{warn_minute}",
        customer_id=customer,
        channel=channel,
        location=location,
        evidence=f"ev-{customer}-{warn_minute}",
        asked_at=warn_at - 5 * MINUTE,
        warn_at=warn_at,
        deadline=warn_at + 10 * MINUTE,
        severity=extra.get("severity", "info"),
        reasons=extra.get("reasons", ("first_response_due_soon",)),
        topic=extra.get("topic"),
        stage="prospect",
        value_tier="bronze",
    )


def coordinator(partitions: int = 2) -> Coordinator:
    return Coordinator(default_config(), partitions)


def passed(hub: Coordinator, partition: int, minute: float) -> list[Alert]:
    return hub.passed(Progress(partition, T0 + round(minute * MINUTE))).alerts


def valid(alert: Alert) -> Alert:
    schemas.validator("alert")(orjson.loads(alert.encode()))
    return alert


def test_the_default_groups_warnings_into_five_minute_digests() -> None:
    assert default_config().sla.warning_digest_minutes == 5
    assert coordinator().digests is not None
    assert Coordinator(config_from_mapping({"sla": {"warning_digest_minutes": 0}}), 2).digests is None


def test_one_queues_warnings_from_every_partition_make_one_digest_once_every_partition_passed_the_interval() -> (
    None
):
    hub = coordinator()
    hub.due_soon(item("cust-1", 1))  # from partition 0
    hub.due_soon(
        item("cust-2", 3, severity="warning", reasons=("first_response_due_soon", "purchase_intent"))
    )
    assert passed(hub, 0, 6) == []  # partition 1 has not said it passed 10:05 yet: it may still warn
    [digest] = passed(hub, 1, 5)
    valid(digest)
    assert (digest.type, digest.status, digest.customer_id) == (
        FIRST_RESPONSE_DUE_SOON,
        OPEN,
        QUEUE + "chat:store-berlin-mitte",
    )
    assert digest.detected_at == T0 + INTERVAL
    assert digest.severity == "warning"  # the most urgent item's
    assert "purchase_intent" in digest.reasons
    assert [entry["customer_id"] for entry in digest.details["items"]] == [
        "cust-1",
        "cust-2",
    ]  # earliest deadline first
    assert set(digest.evidence) == {"ev-cust-1-1", "ev-cust-2-3"}
    assert "2 chat inquiries" in digest.summary


def test_each_queue_and_each_interval_has_its_own_digest() -> None:
    hub = coordinator(partitions=1)
    hub.due_soon(item("cust-1", 1))
    hub.due_soon(item("cust-2", 2, channel="email"))
    hub.due_soon(item("cust-3", 2, location="store-hamburg-altona"))
    hub.due_soon(item("cust-4", 7))
    first = passed(hub, 0, 5)
    assert sorted(d.customer_id for d in first) == [
        QUEUE + "chat:store-berlin-mitte",
        QUEUE + "chat:store-hamburg-altona",
        QUEUE + "email:store-berlin-mitte",
    ]
    [second] = passed(hub, 0, 10)
    assert [entry["customer_id"] for entry in second.details["items"]] == ["cust-4"]
    assert second.alert_id not in {d.alert_id for d in first}


def test_an_inquiry_answered_before_the_interval_ends_is_left_out_and_a_digest_of_none_is_not_sent() -> None:
    hub = coordinator(partitions=1)
    one, two = item("cust-1", 1), item("cust-2", 2)
    hub.due_soon(one)
    hub.due_soon(two)
    hub.answered(one.item_id, T0 + 4 * MINUTE)
    [digest] = passed(hub, 0, 5)
    assert [entry["customer_id"] for entry in digest.details["items"]] == ["cust-2"]

    hub.due_soon(item("cust-3", 6))
    hub.answered(item("cust-3", 6).item_id, T0 + 7 * MINUTE)
    assert [d for d in passed(hub, 0, 10) if d.status == OPEN] == []


def test_a_digest_ends_settled_at_its_last_deadline_and_says_how_many_were_answered_in_time() -> None:
    hub = coordinator(partitions=1)
    one, two = item("cust-1", 1), item("cust-2", 2)
    hub.due_soon(one)
    hub.due_soon(two)
    [digest] = passed(hub, 0, 5)
    hub.answered(one.item_id, T0 + 8 * MINUTE)  # before its 10:11 deadline
    assert passed(hub, 0, 11.9) == []
    [ended] = passed(hub, 0, 12)  # cust-2's deadline, the last
    valid(ended)
    assert (ended.alert_id, ended.status, ended.status_changed_by) == (digest.alert_id, RESOLVED, SETTLED)
    assert ended.status_changed_at == two.deadline
    assert (ended.details["answered_in_time"], ended.details["breached"]) == (1, 1)


def test_the_coordination_records_carry_the_same_digests_as_direct_calls() -> None:
    direct, by_records = coordinator(), coordinator()
    items = [item("cust-1", 1), item("cust-2", 3)]
    for partition, entry in enumerate(items):
        direct.due_soon(entry)
        for record in encode_signals(partition, [entry], [], None):
            by_records.apply(record)
    expected = [passed(direct, p, 5) for p in (0, 1)]
    got = [
        [
            alert
            for record in encode_signals(p, [], [], Progress(p, T0 + INTERVAL))
            for alert in by_records.apply(record).alerts
        ]
        for p in (0, 1)
    ]
    assert [[a.to_dict() for a in batch] for batch in got] == [
        [a.to_dict() for a in batch] for batch in expected
    ]


def test_the_coordinators_state_survives_a_restart_mid_interval() -> None:
    hub = coordinator()
    hub.due_soon(item("cust-1", 1))
    passed(hub, 0, 6)
    again = coordinator()
    again.load(orjson.loads(orjson.dumps(hub.to_json())))
    [digest] = passed(again, 1, 5)
    assert [entry["customer_id"] for entry in digest.details["items"]] == ["cust-1"]


def test_a_busy_queues_digest_lists_the_most_urgent_hundred_and_counts_them_all() -> None:
    from agents.alerts.digests import LISTED

    hub = coordinator(1)
    for number in range(5 * LISTED):
        hub.due_soon(item(f"cust-{number:04d}", 1 + number / (10 * LISTED)))
    (digest,) = passed(hub, 0, 5)
    valid(digest)
    assert digest.details["count"] == 5 * LISTED
    assert len(digest.details["items"]) == LISTED
    assert digest.details["items"][0]["customer_id"] == "cust-0000"
    assert len(digest.encode()) < 100_000


def test_a_digest_names_each_deadline_on_the_queues_clock_in_summer_time_too() -> None:
    # 10:00 UTC on Tuesday 7 July 2026 is 12:00 in Berlin (CEST, a four-letter zone name).
    summer = int(datetime.fromisoformat("2026-07-07T10:00:00+00:00").timestamp()) - T0
    hub = coordinator(1)
    hub.due_soon(item("cust-1", summer / MINUTE + 1))  # deadline 10:11 UTC
    [digest] = passed(hub, 0, summer / MINUTE + 5)
    assert "cust-1 by 12:11" in digest.summary


def test_a_digests_summary_says_what_waits_where_and_for_how_long() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 1, topic="discount"))  # deadline 10:11
    hub.due_soon(item("cust-2", 2))  # deadline 10:12
    [digest] = passed(hub, 0, 5)
    assert digest.summary == (
        "2 chat inquiries for store-berlin-mitte are waiting for a first answer due within 7 min: "
        "cust-1 by 11:11 (discount), cust-2 by 11:12."
    )
    assert digest.occurred_at == T0 - 4 * MINUTE  # when the first of them asked
    assert digest.details["deadline"] == "2026-01-06T10:11:00+00:00"
    assert digest.details["interval"] == {
        "start": "2026-01-06T10:00:00+00:00",
        "end": "2026-01-06T10:05:00+00:00",
    }
    assert digest.details["items"][0]["topic"] == "discount"

    hub.due_soon(item("cust-3", 6, location=None))
    [alone] = passed(hub, 0, 10)
    valid(alone)
    assert alone.summary.startswith(
        "1 chat inquiry with no team is waiting for a first answer due within 6 min: "
    )
    assert alone.customer_id == QUEUE + "chat:-"


def test_a_digest_names_the_five_most_urgent_and_counts_the_rest() -> None:
    hub = coordinator(1)
    for number in range(7):
        hub.due_soon(item(f"cust-{number}", 1 + number / 10))
    [digest] = passed(hub, 0, 5)
    named = digest.summary.split(": ", 1)[1]
    assert named.startswith(
        "cust-0 by 11:11, cust-1 by 11:11, cust-2 by 11:11, cust-3 by 11:11, cust-4 by 11:11"
    )
    assert named.endswith(" and 2 more.")
    assert "cust-5" not in named


def test_a_digest_is_as_severe_as_its_most_severe_item_and_keeps_their_reasons() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 1, severity="warning", reasons=("first_response_due_soon", "top_value_tier")))
    hub.due_soon(item("cust-2", 2, severity="info"))
    [digest] = passed(hub, 0, 5)
    assert digest.severity == "warning"
    assert digest.reasons == ("first_responses_due_soon", "top_value_tier")
    assert digest.details["items"][0]["reasons"] == ["first_response_due_soon", "top_value_tier"]


def test_a_warning_arriving_after_its_interval_was_published_joins_the_next_one() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 1))
    [first] = passed(hub, 0, 5)
    late = item("cust-2", 4)  # warned at 10:04, reported after 10:05 was published
    hub.due_soon(late)
    assert passed(hub, 0, 9.9) == []
    [second] = passed(hub, 0, 10)
    assert [entry["customer_id"] for entry in second.details["items"]] == ["cust-2"]
    assert second.details["interval"]["start"] == "2026-01-06T10:05:00+00:00"
    assert second.alert_id != first.alert_id


def test_an_inquiry_whose_deadline_passed_before_the_interval_ended_is_left_out() -> None:
    hub = coordinator(1)
    hurried = DueSoon.from_json({**item("cust-1", 1).to_json(), "deadline": T0 + 5 * MINUTE})
    hub.due_soon(hurried)  # due at the interval's very end: too late to warn about, a breach instead
    assert passed(hub, 0, 5) == []


def test_an_answer_for_an_inquiry_no_digest_holds_is_ignored_and_the_first_answer_counts() -> None:
    hub = coordinator(1)
    one, two = item("cust-1", 1), item("cust-2", 2)
    hub.answered(one.item_id, T0)  # before its warning reached the coordinator: nothing to attach to
    hub.due_soon(one)
    hub.due_soon(two)
    [digest] = passed(hub, 0, 5)
    assert [entry["customer_id"] for entry in digest.details["items"]] == ["cust-1", "cust-2"]
    hub.answered(one.item_id, one.deadline)  # in time, just
    hub.answered(one.item_id, one.deadline + MINUTE)  # a later answer does not undo it
    hub.answered(two.item_id, two.deadline + 1)  # one second late
    [ended] = passed(hub, 0, 12)
    assert (ended.details["answered_in_time"], ended.details["breached"]) == (1, 1)


def test_a_digests_end_is_the_same_after_a_restart_and_each_digest_ends_once() -> None:
    hub = coordinator(1)
    one, two = item("cust-1", 1), item("cust-2", 6)
    hub.due_soon(one)
    hub.due_soon(two)
    [first] = passed(hub, 0, 5)
    [second] = passed(hub, 0, 10)
    hub.answered(one.item_id, T0 + 9 * MINUTE)
    again = coordinator(1)
    again.load(orjson.loads(orjson.dumps(hub.to_json())))
    ended = passed(again, 0, 16)  # both deadlines (10:11 and 10:16) passed
    assert [(alert.alert_id, alert.status_changed_at) for alert in ended] == [
        (first.alert_id, one.deadline),
        (second.alert_id, two.deadline),
    ]
    # An end republishes the whole digest as it was published, resolved.
    for published, end in zip((first, second), ended, strict=True):
        valid(end)
        assert (end.status, end.status_changed_by) == (RESOLVED, SETTLED)
        kept = {key: value for key, value in end.to_dict().items() if not key.startswith("status")}
        shown = {key: value for key, value in published.to_dict().items() if not key.startswith("status")}
        assert {**kept, "details": {**kept["details"], "answered_in_time": 0, "breached": 0}} == {
            **shown,
            "details": {**shown["details"], "answered_in_time": 0, "breached": 0},
        }
    assert [alert.details["answered_in_time"] for alert in ended] == [1, 0]
    assert passed(again, 0, 30) == []


def test_a_digest_is_published_as_this_record() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 1, topic="discount"))
    hub.due_soon(item("cust-2", 2, severity="warning"))
    [digest] = passed(hub, 0, 5)
    record = orjson.loads(digest.encode())
    schemas.validator("alert")(record)
    alert_id = record.pop("alert_id")
    assert alert_id.startswith("first_response_due_soon/queue:chat:store-berlin-mitte/")
    assert record == {
        "schema_version": 1,
        "type": "first_response_due_soon",
        "severity": "warning",
        "status": "open",
        "customer_id": "queue:chat:store-berlin-mitte",
        "occurred_at": "2026-01-06T09:56:00+00:00",
        "detected_at": "2026-01-06T10:05:00+00:00",
        "summary": (
            "2 chat inquiries for store-berlin-mitte are waiting for a first answer due within 7 min: "
            "cust-1 by 11:11 (discount), cust-2 by 11:12."
        ),
        "reasons": ["first_responses_due_soon"],
        "evidence": ["ev-cust-1-1", "ev-cust-2-2"],
        "customer": {"stage": "", "value_tier": ""},  # about a queue, not a customer
        "suggested_action": (
            "Answer these now, the earliest deadline first: each one answered in time is a breach avoided. "
            "If the queue cannot keep up, move someone onto it."
        ),
        "channel": "chat",
        "location": "store-berlin-mitte",
        "status_changed_at": None,
        "status_changed_by": None,
        "details": {
            "digest": True,
            "interval": {"start": "2026-01-06T10:00:00+00:00", "end": "2026-01-06T10:05:00+00:00"},
            "deadline": "2026-01-06T10:11:00+00:00",
            "count": 2,
            "items": [
                {
                    "alert_id": "first_response_due_soon/cust-1/1",
                    "customer_id": "cust-1",
                    "evidence": ["ev-cust-1-1"],
                    "asked_at": "2026-01-06T09:56:00+00:00",
                    "deadline": "2026-01-06T10:11:00+00:00",
                    "topic": "discount",
                    "severity": "info",
                    "reasons": ["first_response_due_soon"],
                    "customer": {"stage": "prospect", "value_tier": "bronze"},
                },
                {
                    "alert_id": "first_response_due_soon/cust-2/2",
                    "customer_id": "cust-2",
                    "evidence": ["ev-cust-2-2"],
                    "asked_at": "2026-01-06T09:57:00+00:00",
                    "deadline": "2026-01-06T10:12:00+00:00",
                    "topic": None,
                    "severity": "warning",
                    "reasons": ["first_response_due_soon"],
                    "customer": {"stage": "prospect", "value_tier": "bronze"},
                },
            ],
        },
    }


def test_a_critical_item_makes_the_digest_critical() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 1, severity="warning"))
    hub.due_soon(item("cust-2", 2, severity="critical"))
    hub.due_soon(item("cust-3", 3, severity="info"))
    [digest] = passed(hub, 0, 5)
    assert digest.severity == "critical"


def test_exactly_five_inquiries_are_all_named_with_nothing_more() -> None:
    hub = coordinator(1)
    for number in range(5):
        hub.due_soon(item(f"cust-{number}", 1 + number / 10))
    [digest] = passed(hub, 0, 5)
    assert digest.summary.endswith("cust-4 by 11:11.")
    assert "more" not in digest.summary


def test_the_summary_says_how_many_minutes_until_the_last_deadline() -> None:
    hub = coordinator(1)
    hub.due_soon(DueSoon.from_json({**item("cust-1", 1).to_json(), "deadline": T0 + 65 * MINUTE}))
    [digest] = passed(hub, 0, 5)
    assert "due within 60 min:" in digest.summary


def test_an_inquiry_answered_exactly_as_the_interval_ends_is_left_out() -> None:
    hub = coordinator(1)
    one, two = item("cust-1", 1), item("cust-2", 2)
    hub.due_soon(one)
    hub.due_soon(two)
    hub.answered(one.item_id, T0 + INTERVAL)
    [digest] = passed(hub, 0, 5)
    assert [entry["customer_id"] for entry in digest.details["items"]] == ["cust-2"]


def test_an_answer_before_a_lagging_partition_lets_the_digest_out_still_counts_as_in_time() -> None:
    hub = coordinator(2)
    one, two = item("cust-1", 1), item("cust-2", 2)
    hub.due_soon(one)
    hub.due_soon(two)
    passed(hub, 0, 9)
    hub.answered(one.item_id, T0 + 6 * MINUTE)  # after 10:05, but partition 1 is still at 10:04
    [digest] = passed(hub, 1, 5)
    assert digest.details["count"] == 2  # unanswered when the interval ended
    passed(hub, 0, 20)
    [ended] = passed(hub, 1, 20)
    assert (ended.details["answered_in_time"], ended.details["breached"]) == (1, 1)


def test_once_a_digest_ends_nothing_is_kept_of_its_inquiries() -> None:
    hub = coordinator(1)
    one, two, three = item("cust-1", 1), item("cust-2", 2), item("cust-3", 3)
    for entry in (one, two, three):
        hub.due_soon(entry)
    hub.answered(one.item_id, T0 + 2 * MINUTE)  # answered before the digest: not on it
    [digest] = passed(hub, 0, 5)
    hub.answered(two.item_id, T0 + 8 * MINUTE)
    assert hub.digests is not None
    assert set(hub.digests.to_json()["answered"]) == {two.item_id}
    [ended] = passed(hub, 0, 15)
    assert ended.alert_id == digest.alert_id
    assert hub.digests.to_json() == {
        "pending": [],
        "answered": {},
        "published": {},
        "horizon": T0 + 15 * MINUTE,
    }


def test_the_digests_intervals_are_published_earliest_first_and_queue_by_queue() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 6, channel="email"))
    hub.due_soon(item("cust-2", 7, channel="chat"))
    hub.due_soon(item("cust-3", 2, channel="email"))
    hub.due_soon(item("cust-4", 3, channel="chat"))
    published = passed(hub, 0, 10)
    assert [(d.details["interval"]["start"][11:16], d.channel) for d in published] == [
        ("10:00", "chat"),
        ("10:00", "email"),
        ("10:05", "chat"),
        ("10:05", "email"),
    ]


def test_a_warning_for_the_interval_under_way_joins_it() -> None:
    hub = coordinator(1)
    assert passed(hub, 0, 9) == []  # the partition's clock is at 10:09: 10:05-10:10 is under way
    hub.due_soon(item("cust-1", 6))
    [digest] = passed(hub, 0, 10)
    assert digest.details["interval"]["start"] == "2026-01-06T10:05:00+00:00"


def test_after_a_restart_with_a_longer_interval_a_late_warning_joins_an_interval_of_the_new_length() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 1))
    passed(hub, 0, 5)  # 10:00-10:05 published
    longer = Coordinator(config_from_mapping({"sla": {"warning_digest_minutes": 10}}), 1)
    longer.load(orjson.loads(orjson.dumps(hub.to_json())))
    longer.due_soon(item("cust-2", 3))  # late for 10:00-10:05
    [digest] = [d for d in passed(longer, 0, 10) if d.status == OPEN]
    assert digest.details["interval"] == {
        "start": "2026-01-06T10:00:00+00:00",
        "end": "2026-01-06T10:10:00+00:00",
    }


def test_an_empty_document_loads_as_nothing_pending() -> None:
    digests = WarningDigests(INTERVAL, lambda channel, location: UTC)
    digests.load({})
    assert digests.to_json() == {"pending": [], "answered": {}, "published": {}, "horizon": 0}


def test_a_digests_times_are_on_the_clock_of_its_queues_calendar() -> None:
    config = config_from_mapping(
        {
            "calendars": {
                "new_york": {"timezone": "America/New_York", "hours": {}},
                "tokyo": {"timezone": "Asia/Tokyo", "hours": {}},
            },
            "calendar_selection": {"channels": {"chat": "new_york"}, "locations": {"team-tokyo": "tokyo"}},
        }
    )
    hub = Coordinator(config, 1)
    hub.due_soon(item("cust-1", 1, location=None))  # deadline 10:11 UTC
    hub.due_soon(item("cust-2", 1, location="team-tokyo"))
    by_queue = {d.customer_id: d.summary for d in hub.passed(Progress(0, T0 + INTERVAL)).alerts}
    assert "cust-1 by 05:11" in by_queue[QUEUE + "chat:-"]  # the chat channel's calendar
    assert "cust-2 by 19:11" in by_queue[QUEUE + "chat:team-tokyo"]  # the team's own


def test_after_a_restart_a_late_warning_still_joins_the_next_interval_not_the_one_published() -> None:
    hub = coordinator(1)
    hub.due_soon(item("cust-1", 1))
    [first] = passed(hub, 0, 5)
    again = coordinator(1)
    again.load(orjson.loads(orjson.dumps(hub.to_json())))
    again.due_soon(item("cust-2", 3))  # late for 10:00-10:05, published before the restart
    assert passed(again, 0, 6) == []
    [second] = passed(again, 0, 10)
    assert second.alert_id != first.alert_id  # never the published digest's id again
    assert second.details["interval"]["start"] == "2026-01-06T10:05:00+00:00"


def held(digests: WarningDigests) -> set[str]:
    """The items an interval or a published digest holds, read off the whole state as a document."""
    document = digests.to_json()
    pending = {entry["item_id"] for _, _, items in document["pending"] for entry in items}
    return pending | {item_id for _, items, _ in document["published"].values() for item_id in items}


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(["cust-1", "cust-2", "cust-3"]), st.integers(0, 30)),
        st.tuples(st.just("answer"), st.sampled_from(["cust-1", "cust-2", "cust-3"]), st.integers(0, 30)),
        st.tuples(st.just("advance"), st.integers(0, 45)),
        st.tuples(st.just("restart"), st.booleans()),
    ),
    max_size=50,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_an_answer_is_kept_exactly_when_an_interval_or_a_digest_holds_its_inquiry(
    steps: list[tuple[Any, ...]],
) -> None:
    # Whether a digest still needs an answer is looked up, not scanned for; whatever came before
    # (intervals published, digests ended, restarts from either form of the state), the answer is
    # kept exactly when the state holds its inquiry.
    digests = WarningDigests(INTERVAL, lambda channel, location: UTC)
    minutes: dict[str, int] = {}
    for step in steps:
        if step[0] == "add":
            minutes[step[1]] = step[2]
            digests.add(item(step[1], step[2]))
        elif step[0] == "answer" and step[1] in minutes:
            item_id = item(step[1], minutes[step[1]]).item_id
            expected = item_id in digests.answered or item_id in held(digests)
            digests.answer(item_id, T0 + step[2] * MINUTE)
            assert (item_id in digests.answered) == expected
        elif step[0] == "advance":
            digests.advance(T0 + step[1] * MINUTE)
        elif step[0] == "restart":
            again = WarningDigests(INTERVAL, lambda channel, location: UTC)
            if step[1]:
                again.load(orjson.loads(orjson.dumps(digests.to_json())))
            else:
                again.load(digests.bounded())
                again.restore(list(digests.records()))
            digests = again
        assert set(digests.answered) <= held(digests)
