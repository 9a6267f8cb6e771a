"""The console's inbox: latest state per alert with its history, filters, counts, and nothing missed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import schemas
from streams.webconsole.inbox import Filters, Inbox

pytestmark = pytest.mark.unit

EXAMPLE = schemas.load_schema("alert")["examples"][0]


def _alert(number: int, **changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = copy.deepcopy(EXAMPLE)
    alert["alert_id"] = f"{changes.get('type', 'after_hours_unanswered')}/cust-{number}/{number:012x}"
    alert["customer_id"] = f"cust-{number}"
    alert.update(changes)
    return alert


def test_a_status_change_updates_the_alert_and_its_history_and_a_repeat_changes_nothing() -> None:
    inbox = Inbox()
    first = inbox.apply(_alert(1))
    assert first is not None
    assert first.seq == 1
    assert inbox.apply(_alert(1)) is None, "a redelivered record"
    acked = inbox.apply(
        _alert(
            1, status="acknowledged", status_changed_by="anna", status_changed_at="2026-01-05T19:04:00+00:00"
        )
    )
    assert acked is first
    assert acked.seq == 2
    assert [(c.status, c.by) for c in acked.history] == [("open", None), ("acknowledged", "anna")]
    assert len(inbox) == 1


def test_filters_select_by_type_severity_team_status_and_customer() -> None:
    inbox = Inbox()
    inbox.apply(_alert(1))
    inbox.apply(_alert(2, type="long_wait", severity="warning", location="team-phone"))
    inbox.apply(
        _alert(
            3,
            status="resolved",
            status_changed_at="2026-01-06T08:00:00+00:00",
            status_changed_by="auto:first_reply",
        )
    )

    def ids(**query: str) -> list[str]:
        return [e.alert["customer_id"] for e in inbox.select(Filters.from_query(query))]

    assert ids() == ["cust-1", "cust-2"], "active by default, critical first"
    assert ids(status="all") == ["cust-1", "cust-2", "cust-3"]
    assert ids(status="resolved") == ["cust-3"]
    assert ids(type="long_wait") == ["cust-2"]
    assert ids(severity="critical") == ["cust-1"]
    assert ids(team="team-phone") == ["cust-2"]
    assert ids(customer="cust-3", status="all") == ["cust-3"]
    assert ids(status="nonsense") == ids(), "an unknown status means the default"
    assert inbox.counts(Filters()) == {"critical": 1, "warning": 1, "info": 0}
    assert inbox.counts(Filters(team="team-phone")) == {"critical": 0, "warning": 1, "info": 0}
    assert inbox.facets() == {
        "type": ["after_hours_unanswered", "long_wait"],
        "team": ["team-phone", "team-support"],
    }


def test_a_page_rendered_at_a_position_gets_every_later_change_in_order() -> None:
    inbox = Inbox()
    inbox.apply(_alert(1))
    position = inbox.seq
    inbox.apply(_alert(2))
    inbox.apply(
        _alert(
            1, status="acknowledged", status_changed_by="anna", status_changed_at="2026-01-05T19:04:00+00:00"
        )
    )
    assert [e.alert["customer_id"] for e in inbox.since(position)] == ["cust-2", "cust-1"]


def test_pruning_drops_old_alerts_and_the_oldest_resolved_beyond_the_cap() -> None:
    inbox = Inbox(max_resolved=1)
    inbox.apply(_alert(1, detected_at="2026-01-01T00:00:00+00:00"))
    for number in (2, 3):
        inbox.apply(
            _alert(
                number,
                status="resolved",
                status_changed_at="2026-01-06T08:00:00+00:00",
                status_changed_by="x",
            )
        )
    inbox.apply(_alert(4))
    dropped = inbox.prune(before=1767225600.0 + 3600)  # 2026-01-01T01:00Z
    assert dropped == 2
    assert sorted(e.alert["customer_id"] for e in inbox.select(Filters(status="all"))) == ["cust-3", "cust-4"]
    assert inbox.for_customer("cust-1") == []
