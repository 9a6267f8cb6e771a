"""Story 1's rules and events, shared by the tests that need an SLA alert raised live and cleared by a reply.

Support is never open, so every chat inquiry is after hours, and on call must answer
within ON_CALL_SECONDS: an unanswered inquiry raises ``after_hours_unanswered`` a few
seconds after it is produced, and the agent's reply resolves it (``auto:first_reply``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

ON_CALL_SECONDS = 6
RULES = f"""
# Support is never open, so every inquiry is after hours; on call must answer within {ON_CALL_SECONDS} s.
[calendars.default]
timezone = "Europe/Berlin"
hours = {{}}

[calendar_selection]
channels = {{}}

[sla]
warn_before_minutes = 0

[sla.channels.chat]
target_minutes = 15
after_hours = "on_call"
on_call_minutes = {ON_CALL_SECONDS / 60}

[alerts.cooldown_minutes]
default = 0
"""
ALERT_TYPE = "after_hours_unanswered"


def event(customer: str, event_id: str, kind: str, actor: str, **extra: object) -> bytes:
    """A chat touchpoint of *customer* for team-support, stamped now."""
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "customer_id": customer,
            "channel": "chat",
            "type": kind,
            "actor": actor,
            "location": "team-support",
            **extra,
        }
    )


def unanswered_inquiry(customer: str, conversation: str = "conv-1") -> list[bytes]:
    """A product view, then a discount question on chat: purchase intent, so the alert is critical."""
    return [
        event(customer, f"{customer}-view", "page_view", "customer", attributes={"sku": "air-purifier-x2"}),
        event(
            customer,
            f"{customer}-ask-{conversation}",
            "inquiry",
            "customer",
            conversation_id=conversation,
            attributes={"topic": "discount"},
        ),
    ]


def agent_reply(customer: str, conversation: str = "conv-1") -> list[bytes]:
    return [
        event(customer, f"{customer}-reply-{conversation}", "reply", "agent", conversation_id=conversation)
    ]
