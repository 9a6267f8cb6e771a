"""The journey step of a partition: one touchpoint, then the deadlines its clock has passed, in order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from agents.config import default_config
from agents.domain.alert import FIRST_RESPONSE_BREACH, OPEN, RESOLVED
from agents.domain.refusal import CONFLICTING_DUPLICATE, UNKNOWN_ALERT
from agents.domain.state import CustomerState, summarize
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.erasure import ERASED_BY
from agents.journey.step import (
    ACTION,
    DEADLINE,
    DUPLICATE,
    ERASURE,
    FORGOTTEN,
    TOUCHPOINT,
    WALL_CLOCK,
    WATERMARK,
    Change,
    JourneyStep,
)
from agents.journey.track import JourneyTracker
from streams.sim import SimulationSpec, generate
from tests.agents.journey.touchpoints import SALT, T0, inquiry, instant, purchase, visit

pytestmark = pytest.mark.unit

HOUR = 1 / 24
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Partition:
    """One partition's customers, written back after each change, as the worker and replay do."""

    def __init__(self) -> None:
        self.states: dict[bytes, CustomerState] = {}
        self.step = JourneyStep(JourneyTracker(default_config(), SALT), self.states.get)

    def send(self, event: dict[str, object]) -> tuple[Change, list[Change]]:
        change = self.step.touchpoint(str(event["customer_id"]).encode(), 0, event)
        if change.refused is None and change.cause != FORGOTTEN:
            self.states[change.key] = change.state
        return change, list(self.step.due(0))


def test_a_touchpoint_is_applied_and_enriched_and_a_new_customer_is_said_to_be_new() -> None:
    partition = Partition()
    change, fired = partition.send(inquiry(0, customer="cust-1"))
    assert (change.cause, change.known, change.refused) == (TOUCHPOINT, False, None)
    assert change.enriched.startswith(b'{"schema_version":1')
    assert (change.inquiries_opened, change.cases_opened) == (1, 1)
    assert fired == []


def test_one_customer_alone_cannot_fire_the_deadlines_of_others() -> None:
    partition = Partition()
    partition.send(inquiry(0, customer="cust-1"))
    # A record dated a day later moves its own customer's clock only.
    _, fired = partition.send(visit(1, customer="cust-2"))
    assert fired == []


def test_deadlines_fire_once_two_customers_have_reached_their_time() -> None:
    partition = Partition()
    partition.send(inquiry(0, customer="cust-1"))
    partition.send(visit(HOUR, customer="cust-2"))
    _, fired = partition.send(visit(HOUR, customer="cust-3"))
    assert [(change.key, change.cause, change.trigger) for change in fired] == [
        (b"cust-1", DEADLINE, WATERMARK)
    ]
    alerts = [(alert.type, alert.status) for alert in fired[0].outputs.alerts]
    assert alerts == [(FIRST_RESPONSE_BREACH, OPEN)]
    # The early warning went to its queue's digest, made where the partitions meet (agents/coordination/).
    [warning] = fired[0].outputs.due_soon
    assert warning.evidence == fired[0].outputs.alerts[0].evidence[0]
    assert fired[0].due is not None
    assert instant(0) < fired[0].due <= instant(HOUR)


def test_a_wall_clock_tick_fires_what_is_due_on_a_quiet_partition() -> None:
    partition = Partition()
    partition.send(inquiry(0, customer="cust-1"))
    assert partition.step.overdue(instant(0)) == []
    assert partition.step.overdue(instant(HOUR)) == [0]
    fired = list(partition.step.tick(0, instant(HOUR)))
    assert [(change.key, change.trigger) for change in fired] == [(b"cust-1", WALL_CLOCK)]
    assert partition.step.overdue(instant(HOUR)) == []


def test_a_redelivery_changes_nothing_and_a_conflicting_one_is_refused() -> None:
    partition = Partition()
    event = inquiry(0, customer="cust-1")
    partition.send(event)
    again, _ = partition.send(dict(event))
    assert (again.cause, again.outputs.alerts, again.enriched) == (DUPLICATE, [], b"")
    conflicting, _ = partition.send({**event, "channel": "email"})
    assert conflicting.refused is not None
    assert conflicting.refused.reason == CONFLICTING_DUPLICATE


def test_an_action_for_a_customer_without_state_is_refused() -> None:
    partition = Partition()
    action = {
        "schema_version": 1,
        "alert_id": "long_wait/cust-9/0123456789ab",
        "action": "acknowledge",
        "by": "ops",
        "at": T0.isoformat(),
    }
    change = partition.step.action(b"cust-9", 0, action)
    assert (change.cause, change.known) == (ACTION, False)
    assert change.refused is not None
    assert change.refused.reason == UNKNOWN_ALERT


def _erasure(customer: str, day: float) -> dict[str, object]:
    return {
        "schema_version": 1,
        "request_id": f"dsr-{customer}",
        "customer_id": customer,
        "requested_at": (T0 + timedelta(days=day)).isoformat(),
        "by": "privacy-office",
        "reason": "gdpr-art-17",
    }


class ErasingPartition(Partition):
    """A partition that also keeps its erasures, as the worker's table and replay's dictionary do."""

    def __init__(self) -> None:
        self.states = {}
        self.erased: dict[bytes, int] = {}
        self.step = JourneyStep(JourneyTracker(default_config(), SALT), self.states.get, self.erased.get)

    def erase(self, customer: str, day: float) -> Change:
        change = self.step.erase(customer.encode(), 0, _erasure(customer, day), instant(day))
        self.states.pop(change.key, None)
        if change.forget_until is not None:
            self.erased[change.key] = change.forget_until
        return change


def test_an_erasure_resolves_open_alerts_as_auto_erased_confirms_and_asks_for_the_state_to_go() -> None:
    partition = ErasingPartition()
    partition.send(inquiry(0, customer="cust-1"))
    partition.send(visit(HOUR, customer="cust-2"))
    partition.send(visit(HOUR, customer="cust-3"))  # the breach is raised: cust-1 has an open alert
    change = partition.erase("cust-1", 2 * HOUR)
    assert (change.cause, change.erased, change.known, change.forget_until) == (
        ERASURE,
        True,
        True,
        instant(2 * HOUR),
    )
    resolved = change.outputs.alerts
    assert [(alert.type, alert.status, alert.status_changed_by) for alert in resolved] == [
        (FIRST_RESPONSE_BREACH, RESOLVED, ERASED_BY)
    ]
    assert "cust-1" not in resolved[0].summary
    erasure = change.outputs.erasure
    assert erasure is not None
    assert (erasure.customer_id, erasure.by, erasure.found, erasure.alerts_resolved) == (
        "cust-1",
        "privacy-office",
        True,
        1,
    )
    assert (change.inquiries_opened, change.cases_opened) == (-1, -1)


def test_after_an_erasure_no_deadline_fires_and_older_touchpoints_are_forgotten_newer_ones_start_anew() -> (
    None
):
    partition = ErasingPartition()
    partition.send(inquiry(0, customer="cust-1"))
    partition.erase("cust-1", 0.5 * HOUR)
    partition.send(visit(HOUR, customer="cust-2"))
    _, fired = partition.send(visit(HOUR, customer="cust-3"))
    assert [change.key for change in fired] == [], "the erased customer's deadline is gone"
    late, _ = partition.send(visit(0.25 * HOUR, customer="cust-1"))
    assert (late.cause, late.outputs.transitions, late.enriched) == (FORGOTTEN, [], b"")
    assert b"cust-1" not in partition.states
    fresh, _ = partition.send(visit(2 * HOUR, customer="cust-1"))
    assert (fresh.cause, fresh.known) == (TOUCHPOINT, False)


def test_erasing_a_customer_without_state_still_confirms_it() -> None:
    change = ErasingPartition().erase("cust-404", 0)
    assert change.outputs.erasure is not None
    assert (change.outputs.erasure.found, change.outputs.alerts, change.known) == (False, [], False)


def test_a_partitions_clock_is_what_a_quorum_of_its_customers_attests_less_the_allowed_lateness() -> None:
    partition = Partition()
    step = partition.step
    assert (step.clock(0), step.pending(0), step.clock_snapshot(0)) == (None, None, [])
    first = step.touchpoint(b"cust-1", 0, inquiry(0, customer="cust-1"))
    partition.states[first.key] = first.state
    assert (step.clock(0), step.pending(0)) == (None, None), "one customer alone attests nothing"
    assert step.clock_snapshot(0) == [(instant(0), b"cust-1")]
    step.touchpoint(b"cust-2", 0, visit(HOUR, customer="cust-2"))
    lateness = int(default_config().deadlines.allowed_lateness_seconds)
    assert step.clock(0) == instant(0), "the second latest of two"
    assert step.pending(0) == instant(0) - lateness
    assert step.clock_snapshot(0) == [(instant(HOUR), b"cust-2"), (instant(0), b"cust-1")]
    assert step.clock(1) is None
    list(step.due(0))
    assert step.pending(0) is None, "fired: nothing pending until the clock moves again"


def test_the_coordinator_hears_once_of_each_instant_a_partitions_deadlines_have_fired_to() -> None:
    partition = Partition()
    step = partition.step
    assert step.report(0) is None, "no deadline fired yet"
    partition.send(inquiry(0, customer="cust-1"))
    list(step.tick(0, instant(HOUR)))
    report = step.report(0)
    assert report is not None
    assert (report.partition, report.until) == (0, instant(HOUR))
    assert step.report(0) is None, "nothing new since"
    list(step.tick(0, instant(HOUR) - 60))  # a tick behind the last one moves nothing back
    assert step.report(0) is None


def test_an_owned_partition_that_has_not_reported_yet_is_overdue_even_without_customers() -> None:
    partition = Partition()
    step = partition.step
    assert step.overdue(instant(0)) == []
    step.own({0, 3})
    assert step.overdue(instant(0)) == [0, 3]
    list(step.tick(3, instant(0)))
    assert step.report(3) is not None
    assert step.overdue(instant(0)) == [0], "partition 3 has reported up to now"
    step.own(set())
    assert step.overdue(instant(0)) == []


def test_after_a_rebalance_the_deadlines_are_forgotten_and_taken_up_from_the_table_again() -> None:
    partition = Partition()
    step = partition.step
    partition.send(inquiry(0, customer="cust-1"))
    wake_at = partition.states[b"cust-1"].wake_at
    assert wake_at is not None
    assert step.deadlines() == 1
    list(step.tick(0, instant(0)))
    assert step.report(0) is not None
    step.forget_deadlines()
    assert (step.deadlines(), step.overdue(instant(1)), step.report(0)) == (0, [], None)
    step.schedule(0, b"cust-1", wake_at)
    assert (step.deadlines(), step.overdue(wake_at - 1), step.overdue(wake_at)) == (1, [], [0])
    step.forget_deadlines()
    step.restore(b"cust-1", summarize(partition.states[b"cust-1"]))
    assert step.overdue(wake_at) == [0]
    [fired] = step.tick(0, wake_at)
    assert (fired.key, fired.cause, fired.due) == (b"cust-1", DEADLINE, wake_at)


def test_a_touchpoint_at_the_erasure_itself_is_forgotten_and_a_repeated_request_never_shortens_it() -> None:
    partition = ErasingPartition()
    partition.send(inquiry(0, customer="cust-1"))
    partition.erase("cust-1", HOUR)
    at_erasure, _ = partition.send(visit(HOUR, customer="cust-1"))
    assert (at_erasure.cause, at_erasure.known, at_erasure.state.events) == (FORGOTTEN, False, 0)
    assert partition.erase("cust-1", 0.5 * HOUR).forget_until == instant(HOUR), "an older request again"
    assert partition.erase("cust-1", 2 * HOUR).forget_until == instant(2 * HOUR)


def test_a_partition_reports_again_on_the_mark_itself() -> None:
    step = Partition().step
    step.own({3})
    list(step.tick(3, instant(0)))
    assert step.report(3) is not None
    mark = step.progress.next_mark(3)
    assert mark is not None
    assert (step.overdue(mark - 1), step.overdue(mark)) == ([], [3])


def test_a_deadline_whose_customer_is_gone_from_the_table_is_passed_over_and_the_next_still_fires() -> None:
    partition = Partition()
    step = partition.step
    partition.send(inquiry(0, customer="cust-1"))
    wake_at = partition.states[b"cust-1"].wake_at
    assert wake_at is not None
    step.schedule(0, b"cust-gone", wake_at - 60)
    assert step.scheduled(0) == {b"cust-gone": wake_at - 60, b"cust-1": wake_at}
    fired = list(step.tick(0, wake_at))
    assert [change.key for change in fired] == [b"cust-1"]
    assert b"cust-gone" not in step.scheduled(0)


def test_a_buyer_taken_up_from_the_table_counts_in_its_partitions_population_again() -> None:
    partition = Partition()
    step = partition.step
    partition.send(purchase(0, customer="cust-1"))
    state = partition.states[b"cust-1"]
    state.partition = 4
    summary = summarize(state)
    step.forget_deadlines()
    assert step.progress.buyers(4) == {}
    step.restore(b"cust-1", summary)
    assert step.progress.buyers(4) == {b"cust-1": (state.first_purchase, summary.clv_history)}
    assert summary.wake_at is not None, "a buyer's lapse is due some day"
    assert step.scheduled(4) == {b"cust-1": summary.wake_at}


def test_the_occurred_at_ingest_read_gives_the_same_changes_as_reading_it_from_the_event() -> None:
    # The worker's shortcut hands the journey ingest's parsed occurred_at and its epoch seconds; a
    # record read from by-customer has only its text; replay has its sorted row's microseconds. All
    # must lead to the same bytes.
    decoder = TouchpointDecoder(identity_salt=SALT)
    given, read, seconds = Partition(), Partition(), Partition()
    applied = 0
    for raw in itertools.islice(generate(SimulationSpec(customers=60, seed=3)), 3_000):
        first, second, third = decoder(raw), decoder(raw), decoder(raw)
        if not (isinstance(first, Accepted) and isinstance(second, Accepted) and isinstance(third, Accepted)):
            continue
        key = first.customer_id.encode()
        with_given = given.step.touchpoint(
            key, 0, first.event, None, first.occurred_at, first.occurred_seconds
        )
        from_text = read.step.touchpoint(key, 0, second.event)
        # As replay's rows keep it (streams/replay/sources.py), and hand it back.
        micros = (third.occurred_at - EPOCH) // timedelta(microseconds=1)
        from_row = seconds.step.touchpoint(key, 0, third.event, occurred_seconds=micros / 1_000_000)
        assert _fingerprint(with_given) == _fingerprint(from_text) == _fingerprint(from_row)
        for partition, change in ((given, with_given), (read, from_text), (seconds, from_row)):
            if change.refused is None and change.cause != FORGOTTEN:
                partition.states[change.key] = change.state
        due = [_fingerprint(c) for c in given.step.due(0)]
        assert (
            due
            == [_fingerprint(c) for c in read.step.due(0)]
            == [_fingerprint(c) for c in seconds.step.due(0)]
        )
        applied += with_given.cause == TOUCHPOINT
    assert applied > 2_000


def _fingerprint(change: Change) -> tuple[object, ...]:
    outputs = change.outputs
    return (
        change.cause,
        change.refused,
        change.state.encode(),
        change.enriched,
        [transition.encode() for transition in outputs.transitions],
        [alert.encode() for alert in outputs.alerts],
    )


def test_the_step_hands_the_tracker_the_occurred_at_it_is_given() -> None:
    event = inquiry(0, customer="cust-1")
    occurred = datetime.fromisoformat(str(event["occurred_at"]))
    change = Partition().step.touchpoint(
        b"cust-1", 0, {**event, "occurred_at": "not read"}, None, occurred, occurred.timestamp()
    )
    assert (change.cause, change.refused) == (TOUCHPOINT, None)
    assert change.state.last_seen == instant(0)
