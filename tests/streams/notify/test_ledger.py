"""The notify ledger: which alerts are still owed to Alertmanager, and which offset is safe to commit."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import schemas
from streams.notify.ledger import Ledger

pytestmark = pytest.mark.unit

P = ("alerts.after_hours_unanswered", 0)
EXAMPLE = schemas.load_schema("alert")["examples"][0]


def _alert(number: int, status: str = "open", detected: str = "2026-01-05T19:00:00+00:00") -> dict[str, Any]:
    alert: dict[str, Any] = copy.deepcopy(EXAMPLE)
    alert["alert_id"] = f"after_hours_unanswered/cust-{number}/{number:012x}"
    alert["customer_id"] = f"cust-{number}"
    alert["status"] = status
    alert["detected_at"] = detected
    return alert


def test_the_commit_offset_stays_at_the_oldest_alert_still_active() -> None:
    ledger = Ledger()
    ledger.assign(P)
    ledger.handled(P, 10, _alert(1))
    ledger.handled(P, 11, None)  # not an alert
    ledger.handled(P, 12, _alert(2))
    assert ledger.to_commit() == {P: 10}
    ledger.committed({P: 10})
    assert ledger.to_commit() == {}, "nothing moved"
    ledger.handled(P, 13, _alert(1, "acknowledged"))
    assert ledger.to_commit() == {P: 12}, "alert 1's latest record is now at 13; alert 2 at 12 is older"
    ledger.handled(P, 14, _alert(2, "resolved"))
    assert ledger.to_commit() == {P: 13}
    ledger.handled(P, 15, _alert(1, "resolved"))
    assert ledger.to_commit() == {P: 16}, "nothing active: past the last record"
    assert list(ledger.active()) == []


def test_re_reading_from_the_committed_offset_rebuilds_the_same_active_alerts() -> None:
    records = [
        (0, _alert(1)),
        (1, _alert(2)),
        (2, _alert(1, "resolved")),
        (3, _alert(3)),
        (4, _alert(2, "acknowledged")),
    ]
    first = Ledger()
    first.assign(P)
    for offset, alert in records:
        first.handled(P, offset, alert)
    committed = first.to_commit()[P]
    second = Ledger()
    second.assign(P)
    for offset, alert in records[committed:]:
        second.handled(P, offset, alert)
    assert sorted(a["alert_id"] for a in second.active()) == sorted(a["alert_id"] for a in first.active())
    assert {a["status"] for a in second.active()} == {"open", "acknowledged"}


def test_a_revoked_partition_is_forgotten_and_late_records_for_it_are_ignored() -> None:
    ledger = Ledger()
    ledger.assign(P)
    ledger.handled(P, 0, _alert(1))
    ledger.revoke(P)
    ledger.handled(P, 1, _alert(2))
    assert ledger.active_count() == 0
    assert ledger.to_commit() == {}


def test_alerts_detected_before_the_horizon_expire() -> None:
    ledger = Ledger()
    ledger.assign(P)
    ledger.handled(P, 0, _alert(1, detected="2026-01-01T00:00:00+00:00"))
    ledger.handled(P, 1, _alert(2, detected="2026-01-09T00:00:00+00:00"))
    expired = ledger.expire(before=1767830400.0)  # 2026-01-08
    assert [a["customer_id"] for a in expired] == ["cust-1"]
    assert [a["customer_id"] for a in ledger.active()] == ["cust-2"]
    assert ledger.to_commit() == {P: 1}
