"""What the CLI prints from a topic can never drive the terminal of the person reading it."""

from __future__ import annotations

import io

import orjson
import pytest

from streams.cli.live_view import LiveView
from streams.cli.records import format_record
from streams.cli.terminal import safe
from streams.kafka import Record

pytestmark = pytest.mark.unit

HOSTILE = "cust\u001b[2J\u001b[31mPWNED\u009b31m\u202eevil\u200b"


def printable(text: str) -> bool:
    return not any(
        (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c in "\u202e\u200b" for c in text
    )


def test_control_bidi_and_invisible_characters_are_shown_as_escapes() -> None:
    shown = safe(HOSTILE)
    assert shown == "cust\\x1b[2J\\x1b[31mPWNED\\x9b31m\\u202eevil\\u200b"
    assert printable(shown)
    assert safe("plain text · with ünïcode") == "plain text · with ünïcode"


@pytest.mark.parametrize("pretty", [False, True])
def test_tail_escapes_hostile_keys_and_values(pretty: bool) -> None:
    value = orjson.dumps({"customer_id": HOSTILE, "note": "a\nb"})
    record = Record("touchpoints", 0, 7, HOSTILE.encode(), value, 0)
    line = format_record(record, pretty)
    assert printable(line)
    assert "\\x1b[2J" in line
    assert "\\u202e" in line


def test_the_run_view_escapes_what_it_shows_from_alerts_and_dead_letters() -> None:
    out = io.StringIO()
    view = LiveView(out)
    alert = {
        "type": "churn_risk",
        "severity": "warning",
        "status": "open",
        "summary": f"Customer {HOSTILE} left",
    }
    dead = {
        "reason": "schema",
        "message": HOSTILE,
        "source": {"topic": "touchpoints", "partition": 0, "offset": 1},
    }
    view.observe(Record("alerts.churn_risk", 0, 0, None, orjson.dumps(alert), 0))
    view.observe(Record("touchpoints.dead-letter", 0, 0, None, orjson.dumps(dead), 0))
    view.observe(Record("touchpoints.dead-letter", 0, 1, None, orjson.dumps(["not", "ours"]), 0))
    view.tick()
    text = out.getvalue()
    assert "PWNED" in text
    assert printable(text)
