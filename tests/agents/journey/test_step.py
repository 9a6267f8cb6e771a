"""The journey step of a partition: one touchpoint, then the deadlines its clock has passed, in order."""

from __future__ import annotations

import pytest

from agents.config import default_config
from agents.domain.alert import FIRST_RESPONSE_BREACH, OPEN
from agents.domain.refusal import CONFLICTING_DUPLICATE, UNKNOWN_ALERT
from agents.domain.state import CustomerState
from agents.journey.step import (
    ACTION,
    DEADLINE,
    DUPLICATE,
    TOUCHPOINT,
    WALL_CLOCK,
    WATERMARK,
    Change,
    JourneyStep,
)
from agents.journey.track import JourneyTracker
from tests.agents.journey.touchpoints import SALT, T0, inquiry, instant, visit

pytestmark = pytest.mark.unit

HOUR = 1 / 24


class Partition:
    """One partition's customers, written back after each change, as the worker and replay do."""

    def __init__(self) -> None:
        self.states: dict[bytes, CustomerState] = {}
        self.step = JourneyStep(JourneyTracker(default_config(), SALT), self.states.get)

    def send(self, event: dict[str, object]) -> tuple[Change, list[Change]]:
        change = self.step.touchpoint(str(event["customer_id"]).encode(), 0, event)
        if change.refused is None:
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
