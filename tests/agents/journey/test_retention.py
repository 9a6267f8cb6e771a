"""What a customer's state keeps, and for how long: each bound exactly."""

from __future__ import annotations

from typing import Any

import pytest

from agents.alerts.sla import BREACHED, HANDLED, WARNED, Case
from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from agents.journey.retention import MAX_OPEN_COMPLAINTS, MAX_OPEN_INQUIRIES, forget_old

pytestmark = pytest.mark.unit

NOW = 1_800_000_000
RETAIN_DAYS = 30
HORIZON = NOW - RETAIN_DAYS * DAY


def by_age(count: int) -> dict[str, int]:
    """*count* keys, ``key-0`` the newest: the oldest is not the first by name."""
    return {f"key-{n}": NOW - n * 60 for n in range(count)}


def test_unresolved_issues_are_capped_forgetting_the_oldest_first() -> None:
    at_cap = CustomerState(complaints_open=by_age(MAX_OPEN_COMPLAINTS))
    forget_old(at_cap, NOW, RETAIN_DAYS)
    assert at_cap.complaints_open == by_age(MAX_OPEN_COMPLAINTS)
    over = CustomerState(complaints_open=by_age(MAX_OPEN_COMPLAINTS + 2))
    forget_old(over, NOW, RETAIN_DAYS)
    assert over.complaints_open == by_age(MAX_OPEN_COMPLAINTS)


def test_unanswered_conversations_are_capped_forgetting_the_oldest_first() -> None:
    at_cap = CustomerState(inquiries_open=by_age(MAX_OPEN_INQUIRIES))
    forget_old(at_cap, NOW, RETAIN_DAYS)
    assert at_cap.inquiries_open == by_age(MAX_OPEN_INQUIRIES)
    over = CustomerState(inquiries_open=by_age(MAX_OPEN_INQUIRIES + 2))
    forget_old(over, NOW, RETAIN_DAYS)
    assert over.inquiries_open == by_age(MAX_OPEN_INQUIRIES)


def case(deadline: int, flags: int) -> list[Any]:
    """A first-response case without a warning time, so only its deadline can age it."""
    return Case(deadline - 600, deadline, 0, "ev-1", flags, "chat", None, None).to_list()


def test_a_settled_case_goes_once_its_deadline_is_past_the_retention_and_a_pending_one_stays() -> None:
    state = CustomerState(
        inquiries_open={name: NOW for name in ("at-horizon", "before", "pending", "handled")},
        sla_cases={
            "at-horizon": case(HORIZON, BREACHED),
            "before": case(HORIZON - 1, BREACHED),
            "pending": case(HORIZON - DAY, WARNED),
            "handled": case(HORIZON - 1, HANDLED),
        },
    )
    forget_old(state, NOW, RETAIN_DAYS)
    assert sorted(state.sla_cases) == ["at-horizon", "pending"]


def test_a_settled_case_of_a_conversation_no_longer_remembered_goes_at_once() -> None:
    state = CustomerState(sla_cases={"forgotten": case(NOW, BREACHED), "waiting": case(NOW, 0)})
    forget_old(state, NOW, RETAIN_DAYS)
    assert list(state.sla_cases) == ["waiting"], "a pending case still fires first"


def test_a_cooldown_is_remembered_up_to_the_retention_and_a_snooze_until_it_ends() -> None:
    state = CustomerState(
        alert_last={"long_wait": HORIZON, "churn_risk": HORIZON - 1},
        snoozed={"long_wait": NOW, "churn_risk": NOW - 1},
    )
    forget_old(state, NOW, RETAIN_DAYS)
    assert state.alert_last == {"long_wait": HORIZON}
    assert state.snoozed == {"long_wait": NOW}
