"""The live view of `touchpoint run`: example lines fit the terminal, and a log file keeps them whole."""

from __future__ import annotations

import io

import orjson
import pytest

from streams.cli import live_view
from streams.cli.live_view import LiveView
from streams.kafka import Record

pytestmark = pytest.mark.unit

SUMMARY = (
    "Customer cust-000042 asked on chat at Mon 05 Jan 19:30 CET about discount, after hours, and has "
    "had no reply for 30 min. They showed purchase intent."
)
MESSAGE = "payload is not JSON: unexpected end of data: line 1 column 116 (char 115) " + "x" * 60


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


ALERT_ID = "after_hours_unanswered/cust-000042/4f1c2a9be07d"


def alert() -> Record:
    value = {
        "alert_id": ALERT_ID,
        "type": "after_hours_unanswered",
        "severity": "critical",
        "status": "open",
        "summary": SUMMARY,
    }
    return Record("alerts.after_hours_unanswered", 0, 7, b"cust-000042", orjson.dumps(value), 0)


def dead_letter() -> Record:
    value = {
        "reason": "not_json",
        "message": MESSAGE,
        "source": {"topic": "touchpoints", "partition": 2, "offset": 892},
    }
    return Record("touchpoints.dead-letter", 0, 3, b"touchpoints:2:892", orjson.dumps(value), 0)


def shown(view: LiveView) -> list[str]:
    view.observe(alert())
    view.observe(dead_letter())
    view.tick()
    assert isinstance(view.out, io.StringIO)
    # The alert's header line (type, severity, status, id), its summary below it, the dead letter.
    return [line for line in view.out.getvalue().splitlines() if line.startswith(("  ⚠", "      ", "  ✗"))]


@pytest.mark.parametrize("width", [60, 100, 200])
def test_example_lines_are_cut_to_the_terminal_width_keeping_the_dead_letters_source(width: int) -> None:
    header, alert_line, dead_line = shown(LiveView(Terminal(), width=width))
    assert header == f"  ⚠ after_hours_unanswered [critical, open] {ALERT_ID}", "the id is never cut"
    full_alert = f"      {SUMMARY}"
    if len(full_alert) <= width:
        assert alert_line == full_alert
    else:
        assert alert_line == full_alert[: width - 1] + "…"
    full_dead = f"  ✗ dead-letter not_json   {MESSAGE} (touchpoints:2@892)"
    if len(full_dead) <= width:
        assert dead_line == full_dead
    else:
        assert len(dead_line) == width
        assert dead_line.endswith("… (touchpoints:2@892)")
        assert full_dead.startswith(dead_line.removesuffix("… (touchpoints:2@892)"))


def test_a_view_written_to_a_file_keeps_every_line_whole() -> None:
    _header, alert_line, dead_line = shown(LiveView(io.StringIO()))
    assert alert_line == f"      {SUMMARY}"
    assert dead_line == f"  ✗ dead-letter not_json   {MESSAGE} (touchpoints:2@892)"


def test_the_terminal_width_is_used_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "72")
    view = LiveView(Terminal())
    assert view.width == 72
    # Everything fits but an alert's id, which stays whole so that it can be copied.
    assert all(len(line) <= 72 for line in shown(view) if ALERT_ID not in line)


def test_a_workers_timer_tick_on_the_customer_topic_is_no_touchpoint_and_stops_nothing() -> None:
    from agents.journey.control import TICK_KEY, sign_tick

    view = LiveView(io.StringIO())
    view.observe(Record("touchpoints.by-customer", 0, 1, TICK_KEY, sign_tick(b"s" * 32, 0, 1.0e9), 0))
    view.observe(Record("touchpoints.by-customer", 0, 2, b"cust-1", orjson.dumps({"channel": "web"}), 0))
    touchpoint = {"channel": "web", "occurred_at": "2026-01-05T18:30:00+00:00"}
    view.observe(Record("touchpoints.by-customer", 0, 3, b"cust-1", orjson.dumps(touchpoint), 0))
    assert view.accepted == 2
    assert view.event_time is not None
    assert view.event_time.isoformat() == touchpoint["occurred_at"]


def touchpoint(customer: str, event_id: str, offset: int) -> Record:
    value = {
        "event_id": event_id,
        "customer_id": customer,
        "channel": "app",
        "occurred_at": "2026-01-05T19:30:00+00:00",
    }
    return Record("touchpoints.by-customer", 0, offset, customer.encode(), orjson.dumps(value), 0)


def test_a_touchpoint_sent_on_to_its_customer_is_counted_once() -> None:
    view = LiveView(io.StringIO())
    view.observe(touchpoint("id:device_id:1f2e", "ev-1", 1))
    view.observe(touchpoint("cust-000042", "ev-2", 2))
    # ev-1's identifier was linked to cust-000042: identity resolution sends it on under the customer.
    view.observe(touchpoint("cust-000042", "ev-1", 3))
    assert view.accepted == 2
    assert view.by_channel == {"app": 2}


def test_only_the_latest_event_ids_are_remembered() -> None:
    view = LiveView(io.StringIO())
    for number in range(live_view.COUNTED_IDS + 10):
        view.observe(touchpoint("cust-1", f"ev-{number}", number))
    assert view.accepted == live_view.COUNTED_IDS + 10
    assert len(view._counted) == live_view.COUNTED_IDS
    view.observe(touchpoint("cust-1", "ev-0", 0))  # forgotten long ago: counted again
    assert view.accepted == live_view.COUNTED_IDS + 11
