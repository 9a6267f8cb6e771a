"""Generated touchpoint histories for the property tests: valid, normalised, a few customers over months."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from agents.config import config_from_mapping
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker
from tests.agents.journey.touchpoints import SALT, T0

CONFIG = config_from_mapping(
    {
        # Conversions stay exact to the cent, so totals can be compared exactly.
        "currency": {"base": "EUR", "rates": {"USD": 2.0}},
        # Remembers every conversation and issue a history can have: what is forgotten depends on the order;
        # and every event id of a customer (30 at most), so any redelivery is recognised.
        "state": {"answered_memory": 16, "dedupe_window": 32},
    }
)
TRACKER = JourneyTracker(CONFIG, SALT)
TRACKER.detection.detectors = []  # order-independence of the journey itself; detectors are tested on their own
CUSTOMERS = ("cust-a", "cust-b", "cust-c")
CHANNELS = ("app", "web", "phone", "chat", "store", "email", "social")
TYPES = (
    "visit", "page_view", "inquiry", "reply", "call_started", "call_ended", "queue_wait", "transfer",
    "purchase", "refund", "complaint", "resolution", "feedback", "offer", "referral", "identify",
)  # fmt: skip
ACTORS = ("customer", "agent", "bot", "system")
#: Half the events are of the types that open and close things, so that they meet often.
STATEFUL = ("purchase", "inquiry", "reply", "complaint", "resolution", "feedback")
#: The usual actor per type (any actor is possible, but inquiries count from customers, replies from agents).
ACTOR = {"reply": "agent", "resolution": "agent", "refund": "agent"}
#: Few conversations and issues, so that inquiries, replies, complaints and resolutions meet.
CONVERSATIONS = (None, "conv-1", "conv-2")
#: Channels whose events may lack a conversation id (the channel is then the conversation): with the ids
#: above, at most 5 conversations per customer, within every bound the tracker forgets beyond.
UNTHREADED = ("chat", "email", "phone")
ISSUES = ("issue-1", "issue-2")
ZONES = tuple(timezone(timedelta(hours=hours)) for hours in (0, 1, -5, 5.5, 8))
#: About four months, to the minute: long enough for lapsing, short enough for collisions of days.
SPAN_MINUTES = 120 * 24 * 60

money: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    amount=st.integers(0, 200_000).map(lambda cents: cents / 100),
    currency=st.sampled_from(("EUR", "USD", "GBP")),
)
ATTRIBUTES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "purchase": money,
    "refund": money,
    "queue_wait": st.builds(dict, wait_seconds=st.integers(0, 3600)),
    "transfer": st.builds(dict, transfer_kind=st.sampled_from(("warm", "cold"))),
    "complaint": st.builds(dict, issue_id=st.sampled_from(ISSUES)),
    "resolution": st.builds(dict, issue_id=st.sampled_from(ISSUES)),
    "feedback": st.one_of(
        st.builds(dict, csat=st.integers(1, 5)),
        st.builds(dict, nps=st.integers(0, 10)),
        st.builds(dict, csat=st.integers(1, 5), nps=st.integers(0, 10)),
    ),
    "offer": st.builds(dict, offer_id=st.just("offer-1")),
}


@st.composite
def histories(draw: st.DrawFn, dense: bool = False) -> list[dict[str, Any]]:
    """1..30 valid, normalised touchpoints of a few customers at distinct instants, in time order.

    *dense*: one customer and only the types that open and close things, so they meet in every history.
    """
    customers = CUSTOMERS[:1] if dense else CUSTOMERS
    kinds = st.sampled_from(STATEFUL) if dense else st.sampled_from(TYPES) | st.sampled_from(STATEFUL)
    count = draw(st.integers(1, 30))
    minutes = sorted(
        draw(st.lists(st.integers(0, SPAN_MINUTES), min_size=count, max_size=count, unique=True))
    )
    events = []
    for number, minute in enumerate(minutes):
        kind = draw(kinds)
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": f"ev-{number}",
            "occurred_at": (T0 + timedelta(minutes=minute))
            .astimezone(draw(st.sampled_from(ZONES)))
            .isoformat(),
            "customer_id": draw(st.sampled_from(customers)),
            "channel": draw(st.sampled_from(CHANNELS)),
            "type": kind,
            "actor": draw(st.sampled_from(ACTORS) | st.just(ACTOR.get(kind, "customer"))),
        }
        conversation = draw(st.sampled_from(CONVERSATIONS))
        if conversation is None and event["channel"] not in UNTHREADED:
            conversation = CONVERSATIONS[1]
        if conversation is not None:
            event["conversation_id"] = conversation
        if kind in ATTRIBUTES:
            event["attributes"] = draw(ATTRIBUTES[kind])
        events.append(event)
    return events


def replay(events: list[dict[str, Any]], tracker: JourneyTracker = TRACKER) -> dict[str, CustomerState]:
    states: dict[str, CustomerState] = {}
    for event in events:
        customer = event["customer_id"]
        step = tracker.track(states.get(customer), customer, event, 0)
        states[customer] = step.state
    return states


def instant_of(event: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(event["occurred_at"]).timestamp())
