"""First-response SLAs, told as stories: who asked when, who answered, and what the on-call team is told.

Time is Berlin time (the built-in calendars' zone) in the first weeks of January 2026: Monday the 5th
is an ordinary working day, the 10th and 11th are the weekend. Support (chat, email …) is open
Mon–Fri 09:00–17:30; chat after hours is on call (30 min), email after hours counts from the next opening.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from agents.alerts import sla
from agents.alerts.closing import SUPERSEDED as AUTO_SUPERSEDED
from agents.alerts.closing import Closing
from agents.alerts.gating import AlertGate
from agents.alerts.sla import BREACHED, HANDLED, INTENT
from agents.alerts.sla_cases import AUTO_REPLY, FirstResponseCases
from agents.config import Config, config_from_mapping, default_config
from agents.domain.alert import (
    ACKNOWLEDGED,
    AFTER_HOURS_UNANSWERED,
    CRITICAL,
    FIRST_RESPONSE_BREACH,
    FIRST_RESPONSE_DUE_SOON,
    INFO,
    OPEN,
    RESOLVED,
    WARNING,
    Alert,
    DueSoon,
    make_alert_id,
    parse_alert_id,
)
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState
from agents.journey.retention import MAX_OPEN_INQUIRIES
from agents.journey.track import JourneyTracker
from tests.agents.journey.touchpoints import SALT, inquiry, purchase, reply, touchpoint

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULTS = default_config()
#: The rules these stories run under: the defaults, with one first_response_due_soon alert per inquiry
#: about its customer instead of a queue's digest (tests/agents/alerts/test_digests.py tells those).
PER_INQUIRY = {"sla": {"warning_digest_minutes": 0}}


def rules(**sections: Any) -> Config:
    """The stories' rules with *sections* laid over them (a section replaces its part, key by key)."""
    merged: dict[str, Any] = {"sla": dict(PER_INQUIRY["sla"])}
    for name, section in sections.items():
        merged[name] = {**merged.get(name, {}), **section}
    return config_from_mapping(merged)


def berlin(when: str) -> str:
    """``"2026-01-05 19:30"`` on Berlin's clock, as an RFC 3339 timestamp with Berlin's offset."""
    return datetime.fromisoformat(when).replace(tzinfo=BERLIN).isoformat()


def epoch(when: str) -> int:
    return int(datetime.fromisoformat(when).replace(tzinfo=BERLIN).timestamp())


def asks(when: str, conversation: str | None = "conv-1", **kw: Any) -> dict[str, Any]:
    """The customer asks something (on chat unless *channel* says otherwise) at *when*, Berlin time."""
    return inquiry(0, conversation, occurred_at=berlin(when), **kw)


def answers(when: str, conversation: str | None = "conv-1", **kw: Any) -> dict[str, Any]:
    """An agent (or *actor*) replies in the conversation at *when*, Berlin time."""
    return reply(0, conversation, occurred_at=berlin(when), **kw)


def views(when: str) -> dict[str, Any]:
    return touchpoint("page_view", 0, occurred_at=berlin(when), product_id="purifier-x")


def buys(when: str, amount: float) -> dict[str, Any]:
    return purchase(0, amount, occurred_at=berlin(when))


@dataclass
class Desk:
    """One customer and the journey worker's core, driven the way the live worker drives it.

    Each event is tracked, then time is advanced to the watermark (the newest event time less the
    allowed lateness); ``wait`` lets event time pass with nothing happening (the worker's sweep).
    Everything published is kept, in order, and checked against the alert contract on the way.
    """

    config: Config = field(default_factory=rules)
    customer_id: str = "cust-1"
    state: CustomerState | None = None
    published: list[Alert] = field(default_factory=list)
    suppressed: list[tuple[str, str]] = field(default_factory=list)
    acknowledged: list[tuple[Alert, int]] = field(default_factory=list)
    resolved: list[tuple[Alert, int]] = field(default_factory=list)
    watermark: int = 0

    def __post_init__(self) -> None:
        self.tracker = JourneyTracker(self.config, SALT)
        # These tests are about the SLA and lifecycle rules alone; the detectors have their own suite.
        self.tracker.detection.detectors = []
        self._lateness = int(self.config.deadlines.allowed_lateness_seconds)

    def send(self, *events: dict[str, Any]) -> Outputs:
        out = Outputs()
        for event in events:
            step = self.tracker.track(self.state, self.customer_id, event, 3)
            self.state = step.state
            self._keep(step, out)
            if not step.duplicate:
                self.watermark = max(self.watermark, step.instant)
                self._keep(
                    self.tracker.advance(self.state, self.customer_id, self.watermark - self._lateness), out
                )
        return out

    def wait(self, until: str | int) -> Outputs:
        """Let event time pass to *until* (Berlin time, or epoch seconds) with nothing happening."""
        out = Outputs()
        instant = until if isinstance(until, int) else epoch(until)
        self._keep(self.tracker.advance(self.current, self.customer_id, instant), out)
        return out

    def act(
        self,
        action: str,
        alert: Alert | str,
        when: str,
        by: str = "anna@support",
        received_at: float | None = None,
        **extra: str,
    ) -> Outputs:
        """An operator acts on an alert at *when* (Berlin time); *until* for a snooze, also Berlin time.

        *received_at*: the action record's broker timestamp (epoch seconds), None for none.
        """
        record: dict[str, Any] = {
            "schema_version": 1,
            "alert_id": alert if isinstance(alert, str) else alert.alert_id,
            "action": action,
            "by": by,
            "at": berlin(when),
        }
        record.update({key: berlin(value) for key, value in extra.items()})
        schemas.validator("alert_action")(record)
        out = Outputs()
        acted = self.tracker.act(self.current, self.customer_id, record, received_at)
        out.unknown_alert = acted.unknown_alert
        out.refused = acted.refused
        self._keep(acted, out)
        return out

    @property
    def current(self) -> CustomerState:
        assert self.state is not None, "no event tracked yet"
        return self.state

    def of_type(self, alert_type: str) -> list[Alert]:
        return [alert for alert in self.published if alert.type == alert_type]

    def raised(self) -> list[tuple[str, str]]:
        """(type, Berlin time detected) of every new alert, in order."""
        return [
            (alert.type, datetime.fromtimestamp(alert.detected_at, BERLIN).strftime("%Y-%m-%d %H:%M:%S"))
            for alert in self.published
            if alert.status == OPEN
        ]

    def _keep(self, outputs: Outputs, out: Outputs) -> None:
        validate = schemas.validator("alert")
        for alert in outputs.alerts:
            document = orjson.loads(alert.encode())
            validate(document)
            assert parse_alert_id(alert.alert_id) == (alert.type, self.customer_id)
        out.extend(outputs)
        self.published.extend(outputs.alerts)
        self.suppressed.extend(outputs.suppressed)
        self.acknowledged.extend(outputs.acknowledged)
        self.resolved.extend(outputs.resolved)


# --- story 1: the unanswered evening inquiry ---------------------------------------------------------------


def test_story_1_an_evening_discount_question_alerts_on_call_at_2000_with_no_warning_nobody_could_act_on() -> (
    None
):
    desk = Desk()
    question = asks("2026-01-05 19:30", topic="discount")
    desk.send(question)
    desk.wait("2026-01-05 19:59:59")
    # Support left at 17:30: a 19:50 warning would reach nobody who could still answer in time.
    assert desk.published == []

    desk.wait("2026-01-05 20:00")
    [breach] = desk.published
    assert breach.type == AFTER_HOURS_UNANSWERED
    assert breach.severity == WARNING  # purchase intent, but not one of the customers who matter most
    assert breach.status == OPEN
    assert (breach.occurred_at, breach.detected_at) == (epoch("2026-01-05 19:30"), epoch("2026-01-05 20:00"))
    assert breach.evidence == (question["event_id"],)
    assert breach.reasons == ("no_first_response", "after_hours", "purchase_intent")
    assert (breach.channel, breach.customer_id) == ("chat", "cust-1")
    assert breach.details == {"deadline": "2026-01-05T19:00:00+00:00", "topic": "discount"}
    assert "19:30" in breach.summary
    assert "after hours" in breach.summary
    assert "discount" in breach.summary
    assert breach.suggested_action

    desk.wait("2026-01-06 12:00")
    assert len(desk.published) == 1, "a breach is raised once"

    # The reply resolves the breach.
    desk.send(answers("2026-01-06 12:30"))
    assert [(a.type, a.status, a.status_changed_by) for a in desk.published] == [
        (AFTER_HOURS_UNANSWERED, OPEN, None),
        (AFTER_HOURS_UNANSWERED, RESOLVED, AUTO_REPLY),
    ]
    assert desk.published[-1].alert_id == breach.alert_id
    assert desk.current.alerts_open == {}


def test_a_question_while_support_is_staffed_warns_ten_minutes_ahead_and_the_breach_supersedes_it() -> None:
    desk = Desk()
    question = asks("2026-01-06 10:00", topic="discount")
    desk.send(question)
    desk.wait("2026-01-06 10:04:59")
    assert desk.published == []

    desk.wait("2026-01-06 10:05")
    [warning] = desk.published
    assert warning.type == FIRST_RESPONSE_DUE_SOON
    assert warning.severity == WARNING  # info, a warning for the purchase intent
    assert warning.detected_at == epoch("2026-01-06 10:05")
    assert warning.reasons == ("no_first_response", "purchase_intent")
    assert "deadline is in 10 min" in warning.summary

    desk.wait("2026-01-06 10:15")
    [_, superseded, breach] = desk.published
    # The breach supersedes the warning: it is closed at the deadline, the same alert otherwise.
    assert (superseded.alert_id, superseded.status, superseded.status_changed_by) == (
        warning.alert_id,
        RESOLVED,
        AUTO_SUPERSEDED,
    )
    assert superseded.status_changed_at == epoch("2026-01-06 10:15")
    assert (superseded.summary, superseded.severity, superseded.details) == (
        warning.summary,
        warning.severity,
        {**warning.details, "superseded_by": breach.alert_id},
    )
    assert desk.resolved == [(superseded, 10 * 60)]
    assert warning.alert_id not in desk.current.alerts_open
    assert (breach.type, breach.severity, breach.status) == (FIRST_RESPONSE_BREACH, WARNING, OPEN)

    desk.send(answers("2026-01-06 11:00"))
    assert [(a.type, a.status, a.status_changed_by) for a in desk.published] == [
        (FIRST_RESPONSE_DUE_SOON, OPEN, None),
        (FIRST_RESPONSE_DUE_SOON, RESOLVED, AUTO_SUPERSEDED),
        (FIRST_RESPONSE_BREACH, OPEN, None),
        (FIRST_RESPONSE_BREACH, RESOLVED, AUTO_REPLY),
    ]
    assert desk.current.alerts_open == {}


def test_alert_ids_are_deterministic_and_name_their_type_and_customer() -> None:
    question = asks("2026-01-06 10:00", topic="discount")
    first, second = Desk(), Desk()
    for desk in (first, second):
        desk.send(question)
        desk.wait("2026-01-06 11:00")
    assert [a.alert_id for a in first.published] == [a.alert_id for a in second.published]
    assert [a.encode() for a in first.published] == [a.encode() for a in second.published]
    ids = {alert.alert_id for alert in first.published}
    assert len(ids) == 2, "the warning and the breach are different alerts"
    assert {parse_alert_id(alert_id) for alert_id in ids} == {
        (FIRST_RESPONSE_DUE_SOON, "cust-1"),
        (FIRST_RESPONSE_BREACH, "cust-1"),
    }
    other = Desk(customer_id="cust-2")
    other.send(question)
    other.wait("2026-01-06 11:00")
    assert ids.isdisjoint(alert.alert_id for alert in other.published)


def test_first_response_alerts_satisfy_the_alert_contract_and_carry_the_facts() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00", topic="discount"))
    desk.wait("2026-01-06 10:15")
    validate = schemas.validator("alert")
    assert [(a.type, a.status) for a in desk.published] == [
        (FIRST_RESPONSE_DUE_SOON, OPEN),
        (FIRST_RESPONSE_DUE_SOON, RESOLVED),
        (FIRST_RESPONSE_BREACH, OPEN),
    ]
    for alert in desk.published:
        document = orjson.loads(alert.encode())
        validate(document)
        assert document["occurred_at"] == "2026-01-06T09:00:00+00:00"
        assert document["customer"] == {"stage": desk.current.stage, "value_tier": "bronze"}
        if alert.status == OPEN:
            assert document["status_changed_at"] is None
            assert document["status_changed_by"] is None
        else:  # the warning, superseded by the breach at the deadline
            assert document["status_changed_at"] == "2026-01-06T09:15:00+00:00"
            assert document["status_changed_by"] == AUTO_SUPERSEDED


# --- the reply --------------------------------------------------------------------------------------------


def test_a_reply_one_second_before_the_deadline_raises_no_breach_and_resolves_the_warning() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00", topic="discount"))
    desk.wait("2026-01-06 10:10")
    out = desk.send(answers("2026-01-06 10:14:59"))
    desk.wait("2026-01-06 12:00")
    [warning, settled] = desk.published
    assert (warning.type, warning.status) == (FIRST_RESPONSE_DUE_SOON, OPEN)
    assert (settled.alert_id, settled.status, settled.status_changed_by) == (
        warning.alert_id,
        RESOLVED,
        AUTO_REPLY,
    )
    assert settled.status_changed_at == epoch("2026-01-06 10:14:59")
    assert settled.details["response_seconds"] == 15 * 60 - 1
    assert out.resolved == [(settled, 10 * 60 - 1)]
    assert desk.of_type(FIRST_RESPONSE_BREACH) == []
    assert desk.current.sla_cases == {}
    assert desk.current.alerts_open == {}


def test_a_reply_one_second_after_the_deadline_resolves_the_breach_with_the_response_time() -> None:
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", topic="discount"))
    desk.wait("2026-01-05 20:00")
    desk.send(answers("2026-01-05 20:00:01"))
    [raised, settled] = desk.of_type(AFTER_HOURS_UNANSWERED)
    assert raised.status == OPEN
    assert settled.alert_id == raised.alert_id
    assert settled.status == RESOLVED
    assert settled.status_changed_by == "auto:first_reply"
    assert settled.status_changed_at == epoch("2026-01-05 20:00:01")
    assert settled.details == {**raised.details, "response_seconds": 30 * 60 + 1}
    assert (settled.summary, settled.severity, settled.evidence) == (
        raised.summary,
        raised.severity,
        raised.evidence,
    )
    assert (settled, 1) in desk.resolved
    assert desk.current.alerts_open == {}


def test_a_late_reply_delivered_with_the_deadline_already_passed_still_resolves_the_breach() -> None:
    # Nothing moves event time for this customer between the question and the reply: the reply's own
    # arrival carries the clock (less the allowed lateness) past the deadline first, so the breach is
    # raised and at once resolved.
    desk = Desk()
    desk.send(asks("2026-01-05 19:30"))
    out = desk.send(answers("2026-01-05 20:10"))
    assert [(a.type, a.status, a.status_changed_by) for a in out.alerts] == [
        (AFTER_HOURS_UNANSWERED, OPEN, None),
        (AFTER_HOURS_UNANSWERED, RESOLVED, AUTO_REPLY),
    ]
    assert out.alerts[-1].details["response_seconds"] == 40 * 60
    assert out.resolved == [(out.alerts[-1], 10 * 60)]
    assert desk.current.alerts_open == {}


@pytest.mark.parametrize(
    ("later_event", "breached"),
    [
        pytest.param("2026-01-05 20:00:01", False, id="the reply within the allowed lateness: in time"),
        pytest.param("2026-01-05 20:00:02", True, id="the reply later than the allowed lateness: a breach"),
    ],
)
def test_a_reply_in_time_delivered_after_a_later_event_counts_within_the_allowed_lateness(
    later_event: str, breached: bool
) -> None:
    # Deadline 20:00, allowed lateness 2 s: the agent's 19:59:59 reply comes in after a page view.
    assert DEFAULTS.deadlines.allowed_lateness_seconds == 2
    desk = Desk()
    desk.send(asks("2026-01-05 19:30"), views(later_event), answers("2026-01-05 19:59:59"))
    desk.wait("2026-01-06 12:00")
    if breached:
        assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-05 20:00:00")]
        return
    assert desk.published == [], "no breach, neither open nor resolved"
    assert desk.current.sla_cases == {}
    assert desk.current.alerts_open == {}


def test_a_reply_one_second_after_the_deadline_missed_it_even_within_the_allowed_lateness() -> None:
    # Nothing else happens: the reply itself is the first event past 20:00, and it is one second late.
    desk = Desk()
    desk.send(asks("2026-01-05 19:30"), answers("2026-01-05 20:00:01"))
    desk.wait("2026-01-06 12:00")
    assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-05 20:00:00")]
    breach = desk.of_type(AFTER_HOURS_UNANSWERED)
    assert [(a.status, a.status_changed_by) for a in breach] == [(OPEN, None), (RESOLVED, AUTO_REPLY)]
    assert breach[-1].details["response_seconds"] == 30 * 60 + 1
    assert desk.current.alerts_open == {}


# --- business hours and channel policies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "asked", "breach", "deadline", "warning"),
    [
        pytest.param(
            "chat", "2026-01-06 10:00", FIRST_RESPONSE_BREACH, "2026-01-06 10:15", "2026-01-06 10:05",
            id="chat on a Tuesday morning: 15 business minutes",
        ),
        pytest.param(
            "chat", "2026-01-09 17:25", FIRST_RESPONSE_BREACH, "2026-01-12 09:10", "2026-01-12 09:00",
            id="chat at 17:25 on a Friday: business time carries over the weekend",
        ),
        pytest.param(
            "chat", "2026-03-27 17:25", FIRST_RESPONSE_BREACH, "2026-03-30 09:10", "2026-03-30 09:00",
            id="chat at 17:25 on the Friday before the clocks go forward: 09:10 summer time",
        ),
        pytest.param(
            "chat", "2026-01-06 17:20", FIRST_RESPONSE_BREACH, "2026-01-07 09:05", "2026-01-07 09:00",
            id="chat just before closing: business time carries over the night, the warning waits for 09:00",
        ),
        pytest.param(
            "chat", "2026-01-05 19:30", AFTER_HOURS_UNANSWERED, "2026-01-05 20:00", None,
            id="chat in the evening: on call, 30 wall-clock minutes, no warning while closed",
        ),
        pytest.param(
            "chat", "2026-01-10 11:00", AFTER_HOURS_UNANSWERED, "2026-01-10 11:30", None,
            id="chat on a Saturday: on call",
        ),
        pytest.param(
            "email", "2026-01-06 10:00", FIRST_RESPONSE_BREACH, "2026-01-06 14:00", "2026-01-06 13:50",
            id="email on a Tuesday morning: 240 business minutes",
        ),
        pytest.param(
            "email", "2026-01-10 11:00", AFTER_HOURS_UNANSWERED, "2026-01-12 13:00", "2026-01-12 12:50",
            id="email on a Saturday: 240 minutes counted from Monday 09:00",
        ),
        pytest.param(
            "email", "2026-01-01 10:00", AFTER_HOURS_UNANSWERED, "2026-01-02 13:00", "2026-01-02 12:50",
            id="email on New Year's Day: a public holiday, counted from the next opening",
        ),
        pytest.param(
            "app", "2026-01-05 19:30", AFTER_HOURS_UNANSWERED, "2026-01-05 20:30", None,
            id="app in the evening: on call, 60 wall-clock minutes",
        ),
    ],
)  # fmt: skip
def test_the_deadline_follows_the_channels_policy_and_calendar(
    channel: str, asked: str, breach: str, deadline: str, warning: str | None
) -> None:
    desk = Desk()
    desk.send(asks(asked, channel=channel))
    desk.wait(epoch(deadline) - 1)
    warned = [] if warning is None else [(FIRST_RESPONSE_DUE_SOON, f"{warning}:00")]
    assert desk.raised() == warned
    desk.wait(deadline)
    assert desk.raised() == [*warned, (breach, f"{deadline}:00")]
    assert desk.published[-1].details["deadline"] == datetime.fromtimestamp(epoch(deadline), UTC).isoformat()


def test_an_inquiry_at_a_store_has_no_first_response_sla() -> None:
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", channel="store", topic="discount"))
    desk.wait("2026-01-07 12:00")
    assert desk.published == []
    assert desk.current.sla_cases == {}


def test_no_warning_when_warn_before_is_zero() -> None:
    desk = Desk(rules(sla={"warn_before_minutes": 0}))
    desk.send(asks("2026-01-05 19:30"))
    desk.wait("2026-01-05 21:00")
    assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-05 20:00:00")]


def test_no_warning_when_the_warning_time_would_come_before_the_question() -> None:
    desk = Desk(rules(sla={"warn_before_minutes": 45}))
    desk.send(asks("2026-01-05 19:30"))
    desk.wait("2026-01-05 21:00")
    assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-05 20:00:00")]


def test_a_calendar_that_never_opens_gives_an_after_hours_question_its_after_hours_target_in_wall_time() -> (
    None
):
    never_open = {
        "calendars": {"default": {"timezone": "Europe/Berlin", "hours": {}}},
        "calendar_selection": {"channels": {}},
        "sla": {
            **PER_INQUIRY["sla"],
            "channels": {
                "email": {
                    "target_minutes": 240,
                    "after_hours": "next_opening",
                    "after_hours_target_minutes": 30,
                }
            },
        },
    }
    desk = Desk(config_from_mapping(never_open))
    desk.send(asks("2026-01-06 10:00", channel="email"))
    [case] = desk.current.sla_cases.values()
    assert case[1] == epoch("2026-01-06 10:30")  # not the 240 min of business hours
    desk.wait("2026-01-06 18:00")
    # Never open: never staffed, so no warning either.
    assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-06 10:30:00")]
    assert desk.published[-1].details["deadline"] == "2026-01-06T09:30:00+00:00"
    assert "after_hours" in desk.published[-1].reasons


def test_the_channels_own_calendar_decides_whether_a_question_came_in_hours() -> None:
    evenings = rules(
        calendars={"chat_late": {"timezone": "Europe/Berlin", "hours": {"tue": ["09:00-22:00"]}}},
        calendar_selection={"channels": {"chat": "chat_late"}},
    )
    desk = Desk(evenings)
    desk.send(asks("2026-01-06 19:30"))  # support has left, the chat desk has not
    desk.wait("2026-01-06 21:00")
    assert desk.raised() == [
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 19:35:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 19:45:00"),
    ]


def test_a_calendar_that_never_opens_again_gives_a_question_in_its_last_hours_the_target_in_wall_time() -> (
    None
):
    tuesdays = [f"{day:%Y-%m-%d}" for day in (datetime(2026, 1, 13) + timedelta(weeks=n) for n in range(530))]
    closing_down = rules(
        calendars={
            "last_day": {"timezone": "Europe/Berlin", "hours": {"tue": ["09:00-17:30"]}, "closures": tuesdays}
        },
        calendar_selection={"channels": {"chat": "last_day"}},
        sla={"warn_before_minutes": 0},
    )
    desk = Desk(closing_down)
    desk.send(asks("2026-01-06 17:25"))  # 5 of its 15 minutes left before the chat desk closes for good
    [case] = desk.current.sla_cases.values()
    assert case[1] == epoch("2026-01-06 17:40")  # the 15-minute target, not the 30 minutes after hours


def test_with_digests_no_warning_when_the_next_opening_is_the_deadline_and_a_late_reply_answers_nothing() -> (
    None
):
    desk = Desk(config=config_from_mapping({}))
    desk.send(asks("2026-01-06 08:30"))  # on call: 30 minutes, due at 09:00 as support opens
    out = desk.wait("2026-01-06 09:00")
    assert out.due_soon == []
    assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-06 09:00:00")]
    late = desk.send(answers("2026-01-06 08:59"))  # stamped before the deadline, delivered after it
    assert [alert.status for alert in late.alerts] == [RESOLVED]
    assert late.answered == [], "no warning was queued, so none is answered"


# --- what opens and closes a case -------------------------------------------------------------------------


def test_several_questions_in_one_conversation_are_one_case_timed_from_the_first() -> None:
    desk = Desk()
    first = asks("2026-01-06 10:00")
    desk.send(first, asks("2026-01-06 10:06"), asks("2026-01-06 10:14"))
    desk.wait("2026-01-06 12:00")
    assert desk.raised() == [
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:05:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:15:00"),
    ]
    assert {alert.evidence for alert in desk.published} == {(first["event_id"],)}
    assert len(desk.current.sla_cases) == 1


@pytest.mark.parametrize(
    "second",
    [
        pytest.param("2026-01-06 10:00", id="in the same second"),
        pytest.param("2026-01-06 10:03", id="before the warning"),
    ],
)
def test_a_second_question_in_the_conversation_keeps_the_first_ones_clock_and_evidence(second: str) -> None:
    desk = Desk()
    first = asks("2026-01-06 10:00")
    desk.send(first, asks(second))
    desk.wait("2026-01-06 12:00")
    assert desk.raised() == [
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:05:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:15:00"),
    ]
    assert {alert.evidence for alert in desk.published} == {(first["event_id"],)}


def test_questions_in_different_conversations_are_different_cases() -> None:
    desk = Desk(rules(alerts={"cooldown_minutes": {"default": 0}}))
    desk.send(asks("2026-01-06 10:00", "conv-1"), asks("2026-01-06 10:01", "conv-2"))
    desk.wait("2026-01-06 12:00")
    assert [breach for breach in desk.raised() if breach[0] == FIRST_RESPONSE_BREACH] == [
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:15:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:16:00"),
    ]


def test_a_reply_without_a_question_does_nothing() -> None:
    desk = Desk()
    out = desk.send(answers("2026-01-06 10:00"))
    desk.wait("2026-01-07 12:00")
    assert (out.alerts, out.resolved, desk.published) == ([], [], [])
    assert desk.current.sla_cases == {}


@pytest.mark.parametrize(
    ("bots_count", "breaches"),
    [
        pytest.param(False, 1, id="a bot's reply is not a first response by default"),
        pytest.param(True, 0, id="a bot's reply counts when the rules say so"),
    ],
)
def test_a_bot_reply_counts_only_when_configured(bots_count: bool, breaches: int) -> None:
    desk = Desk(rules(sla={"bot_replies_count": bots_count}))
    desk.send(asks("2026-01-06 10:00"), answers("2026-01-06 10:01", actor="bot"))
    desk.wait("2026-01-06 12:00")
    assert len(desk.of_type(FIRST_RESPONSE_BREACH)) == breaches


@pytest.mark.parametrize(
    "follow_up",
    [
        pytest.param(answers("2026-01-06 10:01", actor="customer"), id="the customer's own reply"),
        pytest.param(answers("2026-01-06 10:01", actor="system"), id="a system message"),
        pytest.param(answers("2026-01-06 10:01", "conv-2"), id="a reply in another conversation"),
        pytest.param(asks("2026-01-06 10:01"), id="the customer asking again"),
    ],
)
def test_only_an_agents_reply_in_the_same_conversation_answers(follow_up: dict[str, Any]) -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00"), follow_up)
    desk.wait("2026-01-06 12:00")
    assert len(desk.of_type(FIRST_RESPONSE_BREACH)) == 1


def test_a_redelivered_question_changes_nothing() -> None:
    desk = Desk()
    question = asks("2026-01-06 10:00")
    desk.send(question)
    before = desk.current.encode()
    again = desk.tracker.track(desk.state, desk.customer_id, dict(question), 3)
    assert again.duplicate
    assert (again.alerts, again.suppressed) == ([], [])
    assert desk.current.encode() == before
    desk.wait("2026-01-06 12:00")
    assert len(desk.of_type(FIRST_RESPONSE_BREACH)) == 1


def test_a_late_question_older_than_the_reply_opens_no_case() -> None:
    desk = Desk()
    desk.send(answers("2026-01-06 10:05"), asks("2026-01-06 10:00"))
    desk.wait("2026-01-06 12:00")
    assert desk.published == []
    assert desk.current.sla_cases == {}


def test_a_late_earlier_question_restarts_the_clock_from_itself_while_nothing_was_raised() -> None:
    desk = Desk()
    later, earlier = asks("2026-01-06 10:03"), asks("2026-01-06 10:00")
    desk.send(later, earlier)
    desk.wait("2026-01-06 12:00")
    assert desk.raised() == [
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:05:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:15:00"),
    ]
    assert desk.published[-1].evidence == (earlier["event_id"],)


def test_once_a_warning_was_raised_a_late_earlier_question_leaves_the_clock_alone() -> None:
    desk = Desk()
    later = asks("2026-01-06 10:10")
    desk.send(later)
    desk.wait("2026-01-06 10:15")  # warned; the deadline is 10:25
    desk.send(asks("2026-01-06 10:02"))
    desk.wait("2026-01-06 12:00")
    assert desk.raised() == [
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:15:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:25:00"),
    ]
    assert {alert.evidence for alert in desk.published} == {(later["event_id"],)}


def test_once_the_breach_was_raised_a_late_earlier_question_raises_nothing_more() -> None:
    desk = Desk()
    later = asks("2026-01-05 19:40")
    desk.send(later)
    desk.wait("2026-01-05 20:10")  # on call: no warning, the breach at 20:10
    desk.send(asks("2026-01-05 19:30"))
    desk.wait("2026-01-06 12:00")
    assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-05 20:10:00")]
    assert {alert.evidence for alert in desk.published} == {(later["event_id"],)}


def test_a_question_still_waiting_behind_a_late_reply_gets_the_deadline_it_would_have_had() -> None:
    # The 10:05 reply answered the 10:00 question; the 19:30 one is after hours, whatever the delivery order.
    in_order, out_of_order = Desk(), Desk()
    in_order.send(asks("2026-01-06 10:00"), answers("2026-01-06 10:05"), asks("2026-01-06 19:30"))
    out_of_order.send(asks("2026-01-06 10:00"), asks("2026-01-06 19:30"), answers("2026-01-06 10:05"))
    for desk in (in_order, out_of_order):
        desk.wait("2026-01-07 12:00")
    expected = [(AFTER_HOURS_UNANSWERED, "2026-01-06 20:00:00")]
    assert in_order.raised()[-1:] == expected
    assert out_of_order.raised()[-1:] == expected
    evening = out_of_order.published[-1]
    assert evening.reasons == ("no_first_response", "after_hours")
    assert evening.occurred_at == epoch("2026-01-06 19:30")


# --- severity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spent", "topic", "severity", "top"),
    [
        pytest.param(4999.99, "discount", WARNING, False, id="gold asking about a discount: a warning"),
        pytest.param(5000.0, "discount", CRITICAL, True, id="platinum asking about a discount: critical"),
        pytest.param(5000.0, "repair", WARNING, True, id="platinum with a service question: a warning"),
    ],
)
def test_a_missed_deadline_is_critical_only_for_purchase_intent_from_the_top_value_tier(
    spent: float, topic: str, severity: str, top: bool
) -> None:
    desk = Desk()
    desk.send(buys("2026-01-03 12:00", spent), asks("2026-01-05 19:30", topic=topic))
    desk.wait("2026-01-05 20:00")
    [breach] = desk.published
    assert breach.value_tier == ("platinum" if top else "gold")
    assert breach.severity == severity
    assert ("top_value_tier" in breach.reasons) is top
    assert ("Top-tier customer" in breach.summary) is top


def test_a_best_customer_asking_with_purchase_intent_is_critical_like_the_top_tier() -> None:
    desk = Desk(rules(model={"best_customers": {"threshold": 100}}))
    desk.send(buys("2026-01-03 12:00", 300.0), buys("2026-01-04 12:00", 300.0))
    desk.send(asks("2026-01-05 19:30", topic="price"))
    desk.wait("2026-01-05 20:00")
    [breach] = desk.published
    assert desk.current.clv >= 100
    assert (breach.severity, "best_customer" in breach.reasons) == (CRITICAL, True)
    assert "best customer" in breach.summary


def test_a_best_customers_warning_names_them_and_stays_a_warning() -> None:
    desk = Desk(rules(model={"best_customers": {"threshold": 100}}))
    desk.send(buys("2026-01-03 12:00", 300.0), buys("2026-01-04 12:00", 300.0))
    desk.send(asks("2026-01-06 10:00", topic="price"))
    desk.wait("2026-01-06 10:05")
    [warning] = desk.published
    assert warning.type == FIRST_RESPONSE_DUE_SOON
    assert (warning.severity, warning.reasons) == (
        WARNING,
        ("no_first_response", "purchase_intent", "best_customer"),
    )
    assert warning.summary.endswith(" They showed purchase intent. A best customer (top decile by value).")


def test_a_warning_ahead_of_time_is_never_critical() -> None:
    desk = Desk()
    desk.send(buys("2026-01-03 12:00", 9000.0), asks("2026-01-06 10:00", topic="price"))
    desk.wait("2026-01-06 10:15")
    [warning, superseded, breach] = desk.published
    assert (warning.severity, breach.severity) == (WARNING, CRITICAL)
    assert (superseded.alert_id, superseded.status, superseded.severity) == (
        warning.alert_id,
        RESOLVED,
        WARNING,
    )
    everything = ("no_first_response", "purchase_intent", "top_value_tier")
    assert warning.reasons == everything
    assert breach.reasons == everything


@pytest.mark.parametrize(
    ("before", "topic", "intent"),
    [
        pytest.param([views("2026-01-05 15:00")], None, True, id="a product viewed the same day"),
        pytest.param([views("2026-01-04 15:00")], None, False, id="a product viewed the day before"),
        pytest.param([], None, False, id="nothing viewed"),
        pytest.param(
            [views("2026-01-05 15:00")],
            "delivery",
            False,
            id="a delivery question is service, whatever was viewed",
        ),
    ],
)
def test_products_viewed_the_same_day_show_purchase_intent_unless_the_question_says_otherwise(
    before: list[dict[str, Any]], topic: str | None, intent: bool
) -> None:
    desk = Desk()
    asked = asks("2026-01-05 19:30") if topic is None else asks("2026-01-05 19:30", topic=topic)
    desk.send(*before, asked)
    desk.wait("2026-01-05 20:00")
    breach = desk.published[-1]
    assert ("purchase_intent" in breach.reasons) is intent
    assert breach.severity == WARNING


@pytest.mark.parametrize("topic", ["discount", "Price", "STOCK", "availability"])
def test_asking_about_price_discount_stock_or_availability_shows_purchase_intent(topic: str) -> None:
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", topic=topic))
    desk.wait("2026-01-05 20:00")
    assert "purchase_intent" in desk.published[-1].reasons


@pytest.mark.parametrize("topic", ["order", "delivery", "return", "repair"])
def test_a_question_about_an_order_placed_or_a_repair_is_service_not_shopping(topic: str) -> None:
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", topic=topic))
    desk.wait("2026-01-05 20:00")
    assert "purchase_intent" not in desk.published[-1].reasons


def test_a_question_about_a_product_shows_purchase_intent() -> None:
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", topic="delivery", sku="purifier-x"))
    desk.wait("2026-01-05 20:00")
    assert "purchase_intent" in desk.published[-1].reasons


# --- cooldown ---------------------------------------------------------------------------------------------


def HOUR_COOLDOWN() -> Config:
    """A cooldown for after-hours alerts, which have none by default (each conversation is its own case)."""
    return rules(alerts={"cooldown_minutes": {"after_hours_unanswered": 60}})


@pytest.mark.parametrize(
    ("second_question", "raised"),
    [
        pytest.param("2026-01-05 19:45", False, id="15 min after the first breach: suppressed"),
        pytest.param("2026-01-05 20:29:59", False, id="59:59 min after: suppressed"),
        pytest.param("2026-01-05 20:30", True, id="60 min after: raised"),
    ],
)
def test_a_second_breach_of_the_same_type_within_the_cooldown_is_suppressed(
    second_question: str, raised: bool
) -> None:
    desk = Desk(HOUR_COOLDOWN())
    desk.send(asks("2026-01-05 19:30", "conv-1"))
    desk.wait("2026-01-05 20:00")
    desk.send(asks(second_question, "conv-2"))
    desk.wait("2026-01-06 00:00")
    assert len(desk.of_type(AFTER_HOURS_UNANSWERED)) == (2 if raised else 1)
    assert ((AFTER_HOURS_UNANSWERED, "cooldown") not in desk.suppressed) is raised


def test_a_suppressed_breach_is_not_raised_later_nor_resolved_by_its_reply() -> None:
    desk = Desk(HOUR_COOLDOWN())
    desk.send(asks("2026-01-05 19:30", "conv-1"), asks("2026-01-05 19:40", "conv-2"))
    desk.wait("2026-01-05 23:00")
    assert desk.suppressed == [(AFTER_HOURS_UNANSWERED, "cooldown")]
    out = desk.send(answers("2026-01-05 23:30", "conv-2"))
    assert (out.alerts, out.resolved) == ([], [])
    desk.wait("2026-01-06 12:00")
    assert len(desk.of_type(AFTER_HOURS_UNANSWERED)) == 1


@pytest.mark.parametrize(
    ("cooldowns", "breaches"),
    [
        pytest.param({"default": 0}, 2, id="no cooldown"),
        pytest.param({"after_hours_unanswered": 10}, 2, id="10 min for this type"),
        pytest.param({"default": 120}, 2, id="each unanswered conversation is its own case by default"),
        pytest.param({"after_hours_unanswered": 120}, 1, id="two hours for this type"),
        pytest.param({"first_response_breach": 120}, 2, id="another type's cooldown does not apply"),
    ],
)
def test_the_cooldown_comes_from_the_rules(cooldowns: dict[str, float], breaches: int) -> None:
    desk = Desk(rules(alerts={"cooldown_minutes": cooldowns}))
    desk.send(asks("2026-01-05 19:30", "conv-1"), asks("2026-01-05 20:00", "conv-2"))
    desk.wait("2026-01-06 00:00")
    assert len(desk.of_type(AFTER_HOURS_UNANSWERED)) == breaches  # at 20:00 and 20:30


# --- an operator owns the case -----------------------------------------------------------------------------

#: No cooldown, so every warning and breach of every case is raised and seen.
NO_COOLDOWN = {"cooldown_minutes": {"default": 0}}


def test_once_an_operator_acknowledges_the_warning_no_breach_follows_but_other_conversations_still_count() -> (
    None
):
    desk = Desk(rules(alerts=NO_COOLDOWN))
    desk.send(asks("2026-01-06 10:00", "conv-1"), asks("2026-01-06 10:02", "conv-2"))
    desk.wait("2026-01-06 10:05")
    [warning] = desk.of_type(FIRST_RESPONSE_DUE_SOON)
    desk.act("acknowledge", warning, "2026-01-06 10:06")
    desk.wait("2026-01-06 11:00")
    # conv-1 is someone's now: nothing more is raised for it; conv-2 still warns and breaches on its own clock.
    assert desk.raised() == [
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:05:00"),
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:07:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:17:00"),
    ]
    assert [alert.evidence for alert in desk.of_type(FIRST_RESPONSE_BREACH)] == [
        desk.of_type(FIRST_RESPONSE_DUE_SOON)[-1].evidence
    ]


def test_once_an_operator_resolves_the_warning_a_new_question_in_the_conversation_starts_a_new_case() -> None:
    desk = Desk(rules(alerts=NO_COOLDOWN))
    desk.send(asks("2026-01-06 10:00"))
    desk.wait("2026-01-06 10:05")
    desk.act("resolve", desk.of_type(FIRST_RESPONSE_DUE_SOON)[0], "2026-01-06 10:06")
    assert desk.current.sla_cases == {}
    desk.send(asks("2026-01-06 10:20"))
    desk.wait("2026-01-06 11:00")
    assert desk.raised() == [
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:05:00"),
        (FIRST_RESPONSE_DUE_SOON, "2026-01-06 10:25:00"),
        (FIRST_RESPONSE_BREACH, "2026-01-06 10:35:00"),
    ]


# --- replay -----------------------------------------------------------------------------------------------


def evening(desk: Desk, events: list[dict[str, Any]]) -> list[bytes]:
    """Story 1 with a second customer conversation and an operator, driven the same way each time."""
    desk.send(events[0])
    desk.wait("2026-01-05 19:55")
    desk.send(events[1])
    desk.wait("2026-01-05 20:00")
    desk.act("acknowledge", desk.of_type(AFTER_HOURS_UNANSWERED)[0], "2026-01-05 20:04")
    desk.wait("2026-01-05 21:30")
    desk.send(*events[2:])
    desk.wait("2026-01-06 12:00")
    return [alert.encode() for alert in desk.published]


def test_a_replay_publishes_the_same_bytes() -> None:
    events = [
        asks("2026-01-05 19:30", "conv-1", topic="discount"),
        views("2026-01-05 19:52"),
        asks("2026-01-05 21:00", "conv-2"),
        answers("2026-01-05 22:00", "conv-1"),
        answers("2026-01-05 22:10", "conv-2"),
    ]
    live, replayed = evening(Desk(), events), evening(Desk(), events)
    assert live == replayed
    assert len(live) >= 5


def test_a_status_change_republishes_the_same_text_as_the_original() -> None:
    desk = Desk()
    desk.send(buys("2026-01-03 12:00", 6000.0), asks("2026-01-06 10:00", topic="discount"))
    desk.wait("2026-01-06 10:15")
    [warning, superseded, breach] = desk.published
    assert superseded.status_changed_by == AUTO_SUPERSEDED
    assert (superseded.summary, superseded.suggested_action, superseded.reasons) == (
        warning.summary,
        warning.suggested_action,
        warning.reasons,
    )
    assert (superseded.occurred_at, superseded.detected_at) == (warning.occurred_at, warning.detected_at)
    acknowledged = desk.act("acknowledge", breach, "2026-01-06 10:19").alerts[0]
    resolved = desk.send(answers("2026-01-06 10:45")).alerts[0]
    for republished in (acknowledged, resolved):
        assert republished.alert_id == breach.alert_id
        assert (republished.summary, republished.suggested_action) == (
            breach.summary,
            breach.suggested_action,
        )
        assert (republished.severity, republished.reasons, republished.evidence) == (
            breach.severity,
            breach.reasons,
            breach.evidence,
        )
        assert (republished.occurred_at, republished.detected_at) == (breach.occurred_at, breach.detected_at)
        assert (republished.stage, republished.value_tier) == (breach.stage, breach.value_tier)


def test_the_kept_state_survives_the_changelog_between_raise_and_reply() -> None:
    desk = Desk()
    desk.send(asks("2026-01-05 19:30", topic="discount"))
    desk.wait("2026-01-05 20:00")
    breach = desk.published[-1]
    desk.state = CustomerState.decode(desk.current.encode())
    resolved = desk.send(answers("2026-01-05 20:30")).alerts[0]
    assert (resolved.summary, resolved.details["deadline"]) == (breach.summary, breach.details["deadline"])


# --- bounds -----------------------------------------------------------------------------------------------


def test_a_thousand_unanswered_questions_over_months_keep_the_state_bounded() -> None:
    desk = Desk()
    start = epoch("2026-01-05 08:00")
    for number in range(1000):
        # One question every 3 h 17 min, by day and by night, each in a new conversation.
        at = start + number * (3 * 3600 + 17 * 60)
        desk.send(inquiry(0, f"conv-{number}", occurred_at=datetime.fromtimestamp(at, BERLIN).isoformat()))
        assert_bounded(desk.current)
    state = desk.current
    horizon = state.last_seen - round(DEFAULTS.alerts.retain_days * 86_400)
    assert all(data[2] >= horizon for data in state.alerts_open.values())
    assert all(at >= horizon for at in state.alert_last.values())
    assert all(data[1] >= horizon for data in state.sla_cases.values())
    assert len(state.encode()) < 3_000
    assert len(desk.of_type(AFTER_HOURS_UNANSWERED)) + len(desk.of_type(FIRST_RESPONSE_BREACH)) > 900


def test_a_burst_of_new_conversations_keeps_the_cases_bounded_and_still_alerts() -> None:
    desk = Desk()
    start = epoch("2026-01-05 08:00")
    for number in range(1500):
        at = start + number * 60  # one new conversation a minute for a day and more
        desk.send(inquiry(0, f"conv-{number}", occurred_at=datetime.fromtimestamp(at, BERLIN).isoformat()))
        assert_bounded(desk.current)
    # The worst case: every bounded collection full. The dedupe window alone is 16 x 12 bytes (256 in base64).
    assert len(desk.current.encode()) < 5_200
    assert len(desk.of_type(FIRST_RESPONSE_BREACH)) > 5
    assert len(desk.of_type(AFTER_HOURS_UNANSWERED)) > 10


def assert_bounded(state: CustomerState) -> None:
    """What alerting keeps stays small however many conversations a customer opens."""
    assert len(state.alerts_open) <= DEFAULTS.alerts.max_open_per_customer
    assert len(state.inquiries_open) <= MAX_OPEN_INQUIRIES
    # Cases: those of the remembered conversations, and those still waiting for their deadline (not yet
    # passed by the watermark, the newest event time less the allowed lateness).
    forgotten = [
        data for conversation, data in state.sla_cases.items() if conversation not in state.inquiries_open
    ]
    watermark = state.last_seen - DEFAULTS.deadlines.allowed_lateness_seconds
    assert all(data[1] > watermark for data in forgotten)
    assert not any(data[4] & (BREACHED | HANDLED) for data in forgotten)


# --- properties -------------------------------------------------------------------------------------------

WEEK_MINUTES = 7 * 24 * 60
PROPERTY_START = epoch("2026-01-05 00:00")

steps = st.one_of(
    st.tuples(st.just("inquiry"), st.integers(0, WEEK_MINUTES), st.sampled_from(("conv-1", "conv-2", None)),
              st.sampled_from(("chat", "email", "app", "store")), st.sampled_from((None, "discount"))),
    st.tuples(st.just("reply"), st.integers(0, WEEK_MINUTES), st.sampled_from(("conv-1", "conv-2", None)),
              st.sampled_from(("chat", "email", "app")), st.sampled_from(("agent", "bot"))),
    st.tuples(st.just("page_view"), st.integers(0, WEEK_MINUTES), st.none(), st.just("web"), st.none()),
    st.tuples(st.just("advance"), st.integers(0, WEEK_MINUTES), st.none(), st.none(), st.none()),
    st.tuples(st.sampled_from(("acknowledge", "resolve", "snooze")), st.integers(0, 40),
              st.none(), st.none(), st.none()),
)  # fmt: skip
PROPERTY_RULES = rules(sla={"bot_replies_count": True})


def _local(minute: int) -> str:
    return datetime.fromtimestamp(PROPERTY_START + minute * 60, BERLIN).isoformat()


@settings(max_examples=120, deadline=None)
@given(st.lists(steps, min_size=1, max_size=40))
def test_any_week_of_questions_and_replies_gives_valid_alerts_each_raised_once(
    script: list[tuple[Any, ...]],
) -> None:
    desk = Desk(PROPERTY_RULES)
    for number, (kind, minute, conversation, channel, extra) in enumerate(script):
        if kind == "advance":
            if desk.state is not None:
                desk.wait(PROPERTY_START + minute * 60)
        elif kind in ("acknowledge", "resolve", "snooze"):
            if desk.published:
                target = desk.published[minute % len(desk.published)]
                at = max(desk.current.last_seen, target.detected_at)
                record = {
                    "schema_version": 1,
                    "alert_id": target.alert_id,
                    "action": kind,
                    "by": "anna@support",
                    "at": datetime.fromtimestamp(at, BERLIN).isoformat(),
                }
                if kind == "snooze":
                    record["until"] = datetime.fromtimestamp(at + 3600, BERLIN).isoformat()
                schemas.validator("alert_action")(record)
                desk._keep(desk.tracker.act(desk.current, desk.customer_id, record), Outputs())
        else:
            event = touchpoint(kind, 0, channel=channel, occurred_at=_local(minute), event_id=f"ev-{number}")
            if conversation is not None:
                event["conversation_id"] = conversation
            if kind == "reply":
                event["actor"] = extra
            elif kind == "inquiry" and extra is not None:
                event["attributes"] = {"topic": extra}
            schemas.validator("touchpoint")(event)
            desk.send(event)
    opened = [alert.alert_id for alert in desk.published if alert.status == OPEN]
    assert len(opened) == len(set(opened)), "an alert id was raised twice"
    settled: set[str] = set()
    for alert in desk.published:
        assert parse_alert_id(alert.alert_id) == (alert.type, desk.customer_id)
        assert alert.alert_id in opened, "a status change of an alert never raised"
        assert alert.alert_id not in settled, "a status change after the alert was resolved"
        if alert.status == RESOLVED:
            settled.add(alert.alert_id)
        assert alert.occurred_at <= alert.detected_at
        if alert.type != FIRST_RESPONSE_DUE_SOON:
            assert alert.details["deadline"] == datetime.fromtimestamp(alert.detected_at, UTC).isoformat()
    if desk.state is not None:
        state = desk.current
        assert len(state.alerts_open) <= PROPERTY_RULES.alerts.max_open_per_customer
        assert len(state.inquiries_open) <= MAX_OPEN_INQUIRIES


# --- what each alert says, word for word --------------------------------------------------------------------


def at_team(event: dict[str, Any], location: str = "team-support") -> dict[str, Any]:
    return {**event, "location": location}


def test_a_due_soon_warning_says_what_was_asked_and_when_the_deadline_falls_word_for_word() -> None:
    desk = Desk()
    desk.send(at_team(asks("2026-01-06 10:00", topic="discount")))
    desk.wait("2026-01-06 10:06")
    [warning] = desk.of_type(FIRST_RESPONSE_DUE_SOON)
    assert warning.summary == (
        "Customer cust-1 asked on chat at Tue 06 Jan 10:00 CET about discount; the first-response deadline "
        "is in 10 min. They showed purchase intent."
    )
    assert warning.suggested_action == "Answer now to stay within the first-response target."
    assert warning.location == "team-support"


def test_the_evening_inquiry_alerts_say_what_happened_and_what_to_do_word_for_word() -> None:
    desk = Desk()
    desk.send(at_team(asks("2026-01-05 19:30", topic="discount")))
    desk.wait("2026-01-05 21:00")
    assert desk.of_type(FIRST_RESPONSE_DUE_SOON) == [], "nobody is on shift to act on a warning"
    [breach] = desk.of_type(AFTER_HOURS_UNANSWERED)
    assert breach.summary == (
        "Customer cust-1 asked on chat at Mon 05 Jan 19:30 CET about discount, after hours, and has had no "
        "reply for 30 min. They showed purchase intent."
    )
    assert breach.suggested_action == (
        "Reply now, even briefly; if nobody can, contact the customer first thing at opening. "
        "Competitors answer evenings: say what you can offer."
    )
    assert breach.reasons == ("no_first_response", "after_hours", "purchase_intent")
    assert breach.location == "team-support"
    assert breach.details == {"deadline": "2026-01-05T19:00:00+00:00", "topic": "discount"}


def test_a_breach_in_opening_hours_says_how_long_without_after_hours_or_intent() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00", topic="invoice"))
    desk.wait("2026-01-06 11:00")
    [breach] = desk.of_type(FIRST_RESPONSE_BREACH)
    assert (
        breach.summary
        == "Customer cust-1 asked on chat at Tue 06 Jan 10:00 CET about invoice and has had no reply for 15 min."
    )
    assert breach.suggested_action == (
        "Reply now and apologise for the wait; check the queue for others waiting as long."
    )
    assert breach.reasons == ("no_first_response",)
    assert breach.severity == WARNING


def test_an_inquiry_without_a_topic_is_said_without_one() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00"))
    desk.wait("2026-01-06 11:00")
    [breach] = desk.of_type(FIRST_RESPONSE_BREACH)
    assert (
        breach.summary
        == "Customer cust-1 asked on chat at Tue 06 Jan 10:00 CET and has had no reply for 15 min."
    )
    assert "topic" not in breach.details


def test_a_top_tier_customer_is_named_as_such() -> None:
    config = config_from_mapping({"value_tiers": [{"name": "all", "min_value": 0}]})  # one tier: the top one
    desk = Desk(config=config)
    desk.send(asks("2026-01-06 10:00", topic="invoice"))
    desk.wait("2026-01-06 11:00")
    [breach] = desk.of_type(FIRST_RESPONSE_BREACH)
    assert breach.summary.endswith("has had no reply for 15 min. Top-tier customer.")
    assert breach.summary.startswith("Customer cust-1 asked on chat at Tue 06 Jan 10:00 CET")
    assert "top_value_tier" in breach.reasons


def test_the_location_picks_the_calendar_and_stays_on_the_case() -> None:
    config = config_from_mapping(
        {
            "calendars": {"night_desk": {"timezone": "Europe/Berlin", "hours": {"mon": ["18:00-23:00"]}}},
            "calendar_selection": {"locations": {"team-night": "night_desk"}},
        }
    )
    desk = Desk(config=config)
    desk.send(at_team(asks("2026-01-05 19:30"), "team-night"))
    [case] = desk.current.sla_cases.values()
    assert case[1] == epoch("2026-01-05 19:45"), "open at the night desk: the 15-minute target, not on call"
    desk.wait("2026-01-05 21:00")
    [breach] = desk.of_type(FIRST_RESPONSE_BREACH)
    assert breach.location == "team-night"


def test_after_hours_and_opening_hours_targets_are_kept_apart_under_next_opening() -> None:
    config = config_from_mapping(
        {"sla": {"channels": {"email": {"target_minutes": 60, "after_hours_target_minutes": 20}}}}
    )
    desk = Desk(config=config)
    desk.send(asks("2026-01-06 10:00", "mail-1", channel="email"))
    desk.send(asks("2026-01-06 19:00", "mail-2", channel="email"))
    cases = desk.current.sla_cases
    assert cases["mail-1"][1] == epoch("2026-01-06 11:00")
    assert cases["mail-2"][1] == epoch("2026-01-07 09:20")


def test_no_early_warning_when_it_would_fall_at_the_question_itself() -> None:
    config = config_from_mapping({"sla": {"channels": {"chat": {"target_minutes": 10}}}})
    desk = Desk(config=config)
    desk.send(asks("2026-01-06 10:00"))
    [case] = desk.current.sla_cases.values()
    assert case[2] == 0, (
        "the warning (10 min before a 10-minute deadline) would be the question's own instant"
    )
    desk.wait("2026-01-06 11:00")
    assert [kind for kind, _ in desk.raised()] == [FIRST_RESPONSE_BREACH]


# --- warnings as items of their queue's digest (sla.warning_digest_minutes, the default) -------------------


def test_with_digests_a_warning_is_an_item_of_its_queue_not_an_alert_about_the_customer() -> None:
    desk = Desk(config=config_from_mapping({}))
    desk.send(asks("2026-01-06 10:00", topic="discount"))
    desk.wait("2026-01-06 10:04:59")
    out = desk.wait("2026-01-06 10:05")
    assert desk.published == []
    [item] = out.due_soon
    assert item == DueSoon(
        item_id=make_alert_id(FIRST_RESPONSE_DUE_SOON, "cust-1", (item.evidence,)),
        customer_id="cust-1",
        channel="chat",
        location=None,
        evidence=item.evidence,
        asked_at=epoch("2026-01-06 10:00"),
        warn_at=epoch("2026-01-06 10:05"),
        deadline=epoch("2026-01-06 10:15"),
        severity=WARNING,
        reasons=("no_first_response", "purchase_intent"),
        topic="discount",
        stage=item.stage,
        value_tier=item.value_tier,
    )
    assert (item.stage, item.value_tier) == (desk.current.stage, desk.current.value_tier)
    # The breach is still an alert about the customer, and nothing open is left to supersede.
    desk.wait("2026-01-06 10:15")
    [breach] = desk.published
    assert breach.type == FIRST_RESPONSE_BREACH


def test_with_digests_a_reply_in_time_tells_the_digest_the_inquiry_was_answered() -> None:
    desk = Desk(config=config_from_mapping({}))
    desk.send(asks("2026-01-06 10:00"))
    [item] = desk.wait("2026-01-06 10:05").due_soon
    out = desk.send(answers("2026-01-06 10:14:59"))
    assert out.answered == [(item.item_id, epoch("2026-01-06 10:14:59"))]
    assert desk.published == []


@pytest.mark.parametrize(
    ("reply_at", "why"),
    [
        pytest.param("2026-01-06 10:04", "answered before the warning", id="before the warning"),
        pytest.param("2026-01-06 10:15", "answered at the deadline: a breach", id="at the deadline"),
    ],
)
def test_with_digests_only_an_inquiry_warned_about_and_answered_in_time_is_reported_answered(
    reply_at: str, why: str
) -> None:
    desk = Desk(config=config_from_mapping({}))
    desk.send(asks("2026-01-06 10:00"))
    desk.wait(reply_at)
    assert desk.send(answers(reply_at)).answered == [], why


def test_with_digests_a_warning_is_queued_once_however_often_the_clock_moves() -> None:
    desk = Desk(config=config_from_mapping({}))
    desk.send(asks("2026-01-06 10:00"))
    queued = [
        desk.wait(when).due_soon for when in ("2026-01-06 10:05", "2026-01-06 10:07", "2026-01-06 10:10")
    ]
    assert [len(items) for items in queued] == [1, 0, 0]


def test_with_digests_an_inquiry_with_no_warning_time_is_never_queued() -> None:
    desk = Desk(config=config_from_mapping({}))
    desk.send(asks("2026-01-05 19:30"))  # on call, with nobody to warn before the deadline at 20:00
    queued = [
        desk.wait(when).due_soon for when in ("2026-01-05 19:40", "2026-01-05 19:59", "2026-01-05 20:00")
    ]
    assert queued == [[], [], []]
    assert desk.raised() == [(AFTER_HOURS_UNANSWERED, "2026-01-05 20:00:00")]


def test_with_a_one_minute_digest_a_warning_is_still_an_item_of_its_queue() -> None:
    desk = Desk(config=config_from_mapping({"sla": {"warning_digest_minutes": 1}}))
    desk.send(asks("2026-01-06 10:00"))
    [item] = desk.wait("2026-01-06 10:05").due_soon
    assert item.warn_at == epoch("2026-01-06 10:05")
    assert desk.published == []


def test_without_digests_a_reply_reports_nothing_answered() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00"))
    desk.wait("2026-01-06 10:05")
    assert desk.send(answers("2026-01-06 10:10")).answered == []


def test_a_question_waiting_behind_a_late_reply_keeps_its_team_topic_and_purchase_intent() -> None:
    def question(when: str) -> dict[str, Any]:
        return at_team(asks(when, topic="discount"), "team-night")

    in_order, out_of_order = Desk(), Desk()
    in_order.send(question("2026-01-06 10:00"), answers("2026-01-06 10:05"), question("2026-01-06 19:30"))
    out_of_order.send(question("2026-01-06 10:00"), question("2026-01-06 19:30"), answers("2026-01-06 10:05"))
    evenings = []
    for desk in (in_order, out_of_order):
        desk.wait("2026-01-07 12:00")
        evenings.append(desk.published[-1])
    expected, got = evenings
    assert (got.type, got.location, got.reasons, got.severity, got.summary) == (
        expected.type,
        "team-night",
        ("no_first_response", "after_hours", "purchase_intent"),
        expected.severity,
        expected.summary,
    )
    assert "about discount" in got.summary


def test_a_reply_in_the_same_second_as_the_question_answers_it() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00"), answers("2026-01-06 10:00"))
    desk.wait("2026-01-06 12:00")
    assert desk.published == []
    assert desk.current.sla_cases == {}


def test_a_reply_exactly_at_the_deadline_delivered_before_the_clock_got_there_missed_it() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00"))
    desk.wait("2026-01-06 10:05")  # warned; the clock stands before the 10:15 deadline
    desk.send(answers("2026-01-06 10:15"))
    assert [(a.type, a.status) for a in desk.of_type(FIRST_RESPONSE_BREACH)] == [
        (FIRST_RESPONSE_BREACH, OPEN),
        (FIRST_RESPONSE_BREACH, RESOLVED),
    ]


def test_a_reply_at_the_deadline_delivered_before_the_warning_time_raises_the_breach_and_no_warning() -> None:
    # A quarter of an hour of allowed lateness: the clock still stands at 10:00 when the reply comes.
    desk = Desk(rules(deadlines={"allowed_lateness_seconds": 900}))
    desk.send(asks("2026-01-06 10:00"), answers("2026-01-06 10:15"))
    # Too late for a warning anyone could act on: only the breach, resolved by the reply.
    assert desk.raised() == [(FIRST_RESPONSE_BREACH, "2026-01-06 10:15:00")]
    assert [(a.type, a.status) for a in desk.published] == [
        (FIRST_RESPONSE_BREACH, OPEN),
        (FIRST_RESPONSE_BREACH, RESOLVED),
    ]


def test_a_cases_alerts_tell_the_time_on_the_clock_of_its_teams_or_channels_calendar() -> None:
    config = rules(
        calendars={
            "new_york": {
                "timezone": "America/New_York",
                "hours": {"tue": ["00:00-24:00"], "wed": ["00:00-24:00"]},
            },
            "tokyo": {"timezone": "Asia/Tokyo", "hours": {"tue": ["00:00-24:00"], "wed": ["00:00-24:00"]}},
        },
        calendar_selection={"channels": {"chat": "new_york"}, "locations": {"team-tokyo": "tokyo"}},
    )
    by_channel, by_team = Desk(config=config), Desk(config=config)
    by_channel.send(asks("2026-01-06 16:00"))  # 15:00 UTC: 10:00 in New York
    by_team.send(at_team(asks("2026-01-06 16:00"), "team-tokyo"))  # midnight in Tokyo
    for desk in (by_channel, by_team):
        desk.wait("2026-01-06 16:10")
    assert "at Tue 06 Jan 10:00 EST" in by_channel.published[0].summary
    assert "at Wed 07 Jan 00:00 JST" in by_team.published[0].summary


def test_a_status_change_tells_the_time_on_the_same_calendars_clock_as_the_alert_first_did() -> None:
    config = rules(
        calendars={
            "new_york": {"timezone": "America/New_York", "hours": {"tue": ["00:00-24:00"]}},
            "tokyo": {"timezone": "Asia/Tokyo", "hours": {"tue": ["00:00-24:00"], "wed": ["00:00-24:00"]}},
        },
        calendar_selection={"channels": {"chat": "new_york"}, "locations": {"team-tokyo": "tokyo"}},
    )
    by_channel, by_team = Desk(config=config), Desk(config=config)
    by_channel.send(asks("2026-01-06 16:00"))
    by_team.send(at_team(asks("2026-01-06 16:00"), "team-tokyo"))
    for desk, clock in ((by_channel, "Tue 06 Jan 10:00 EST"), (by_team, "Wed 07 Jan 00:00 JST")):
        desk.wait("2026-01-06 16:10")
        [first] = desk.published
        [acknowledged] = desk.act("acknowledge", first, "2026-01-06 16:11").alerts
        assert f"at {clock}" in acknowledged.summary
        assert (acknowledged.summary, acknowledged.suggested_action) == (
            first.summary,
            first.suggested_action,
        )


def test_long_waits_are_told_in_whole_minutes_word_for_word() -> None:
    desk = Desk(rules(sla={"warn_before_minutes": 120}))
    desk.send(asks("2026-01-06 10:00", channel="email"))  # 240 business minutes: by 14:00
    desk.wait("2026-01-06 15:00")
    warning, _, breach = desk.published
    assert warning.summary == (
        "Customer cust-1 asked on email at Tue 06 Jan 10:00 CET; the first-response deadline is in 120 min."
    )
    assert (
        breach.summary
        == "Customer cust-1 asked on email at Tue 06 Jan 10:00 CET and has had no reply for 240 min."
    )
    weekend = Desk(rules(sla={"warn_before_minutes": 0}))
    weekend.send(asks("2026-01-10 11:00", channel="email"))  # counted from Monday 09:00: by Monday 13:00
    weekend.wait("2026-01-12 14:00")
    [late] = weekend.published
    assert late.summary == (
        "Customer cust-1 asked on email at Sat 10 Jan 11:00 CET, after hours, and has had no reply for 3000 min."
    )


def test_a_warning_without_purchase_intent_is_only_information() -> None:
    desk = Desk()
    desk.send(asks("2026-01-06 10:00", topic="invoice"))
    desk.wait("2026-01-06 10:05")
    [warning] = desk.published
    assert (warning.type, warning.severity, warning.reasons) == (
        FIRST_RESPONSE_DUE_SOON,
        INFO,
        ("no_first_response",),
    )


def test_a_case_alert_calls_the_customer_a_best_customer_only_when_told() -> None:
    opened = epoch("2026-01-05 19:30")
    case = sla.Case(opened, opened + 1800, 0, "q-1", INTENT, "chat", None, "discount")
    breach = sla.case_alert(FIRST_RESPONSE_BREACH, "cust-1", case, opened + 1800, "active", "gold", False)
    assert (breach.severity, breach.reasons) == (WARNING, ("no_first_response", "purchase_intent"))
    best = sla.case_alert(
        FIRST_RESPONSE_BREACH, "cust-1", case, opened + 1800, "active", "gold", False, UTC, True
    )
    assert (best.severity, best.reasons[-1]) == (CRITICAL, "best_customer")


def test_a_detector_alert_kept_without_its_text_by_an_earlier_version_comes_back_with_a_plain_one() -> None:
    waited = Alert(
        alert_id=make_alert_id("long_wait", "cust-1", ("call-7",)),
        type="long_wait",
        severity=WARNING,
        customer_id="cust-1",
        occurred_at=epoch("2026-01-05 10:00"),
        detected_at=epoch("2026-01-05 10:25"),
        summary="Customer cust-1 waited 25 min in the phone queue.",
        reasons=("long_wait",),
        evidence=("call-7",),
        stage="active",
        value_tier="standard",
        suggested_action="Call cust-1 back.",
        channel="phone",
        status=ACKNOWLEDGED,
    )
    calendars = DEFAULTS.calendars
    assert sla.revive(waited.alert_id, "cust-1", waited.compact(), calendars) == waited
    old = sla.revive(waited.alert_id, "cust-1", waited.compact()[:11], calendars)
    assert (old.summary, old.suggested_action) == (
        "Long wait for customer cust-1.",
        "See the alert as it was first raised.",
    )
    assert old == replace(waited, summary=old.summary, suggested_action=old.suggested_action)


def test_with_digests_a_teams_warning_is_an_item_of_the_teams_queue() -> None:
    desk = Desk(config=config_from_mapping({}))
    desk.send(at_team(asks("2026-01-06 10:00")))
    [item] = desk.wait("2026-01-06 10:05").due_soon
    assert (item.location, item.queue) == ("team-support", "chat:team-support")


case_fields = st.builds(
    sla.Case,
    opened_at=st.integers(0, 2**31),
    deadline=st.integers(0, 2**31),
    warn_at=st.integers(0, 2**31) | st.just(0),
    event_id=st.text(max_size=4),
    flags=st.integers(0, 63),
    channel=st.sampled_from(["chat", "email", "phone"]),
    location=st.none() | st.just("store-1"),
    topic=st.none() | st.just("billing"),
)


@given(case_fields)
def test_a_case_in_its_list_form_is_due_when_the_case_is(case: sla.Case) -> None:
    assert sla.next_due(case.to_list()) == case.next_due()
    if case.flags & (BREACHED | HANDLED):
        assert case.next_due() is None
    elif case.warn_at and not case.flags & sla.WARNED:
        assert case.next_due() == case.warn_at
    else:
        assert case.next_due() == case.deadline


@given(st.lists(case_fields, max_size=5))
def test_a_customers_cases_next_need_attention_at_the_first_of_their_instants(cases: list[sla.Case]) -> None:
    config = default_config()
    gate = AlertGate(config.alerts, {}, Closing(config.alerts, config.calendars))
    first_response = FirstResponseCases(config.calendars, config.sla, config.top_tier, gate)
    state = CustomerState()
    for number, case in enumerate(cases):
        state.sla_cases[f"conversation-{number}"] = case.to_list()
    instants = [due for case in cases if (due := case.next_due()) is not None]
    assert first_response.due(state) == (min(instants) if instants else None)
