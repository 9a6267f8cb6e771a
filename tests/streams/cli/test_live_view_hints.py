"""The `touchpoint run` terminal view shows alert ids and where to go next."""

from __future__ import annotations

import io

import orjson
import pytest

import schemas
from streams.cli.live_view import LiveView, next_steps
from streams.kafka import Record

pytestmark = pytest.mark.unit


def test_alert_lines_carry_the_alert_id_and_the_first_ones_come_with_next_steps() -> None:
    out = io.StringIO()
    view = LiveView(out, next_steps("kafka://127.0.0.1:9092", "http://127.0.0.1:6070"))
    alert = schemas.load_schema("alert")["examples"][0]
    view.observe(Record("alerts.after_hours_unanswered", 0, 0, b"cust-000042", orjson.dumps(alert), 0))
    view.tick()
    text = out.getvalue()
    assert "after_hours_unanswered/cust-000042/4f1c2a9be07d" in text
    assert "console: http://127.0.0.1:6070" in text
    assert "touchpoint tail alerts.after_hours_unanswered --broker kafka://127.0.0.1:9092" in text
    assert "touchpoint alerts ack|resolve|snooze ALERT_ID" in text
    view.observe(Record("alerts.after_hours_unanswered", 0, 1, b"cust-000042", orjson.dumps(alert), 0))
    view.tick()
    assert out.getvalue().count("console: http://") == 1, "the hints once, not every tick"
