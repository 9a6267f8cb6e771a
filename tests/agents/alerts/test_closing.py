"""Every alert ends: for each type, a story where its cause clears and the worker resolves it (``auto:…``),
and a near miss where it does not.

The stories run through the journey tracker with every detector on, the way the worker drives it:
each event first lets the customer's clock run to it (less the allowed lateness), ``wait`` lets event
time pass with nothing happening. Day 0 is Monday 5 January 2026, 10:00 UTC (11:00 in Berlin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest

import schemas
from agents.alerts.closing import DISPLACED, EXPIRED, SUPERSEDED, Closing, auto_reason
from agents.config import Config, config_from_mapping
from agents.domain.alert import ACKNOWLEDGED, OPEN, RESOLVED, Alert
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState
from agents.journey.track import JourneyTracker
from tests.agents.journey.touchpoints import (
    SALT,
    complaint,
    feedback,
    inquiry,
    instant,
    purchase,
    referral,
    reply,
    resolution,
    touchpoint,
)

pytestmark = pytest.mark.unit

#: The defaults, with a fixed best-customer threshold (the population's needs a population) and every
#: first-response warning as an alert about its customer (a queue's digest has its own tests).
RULES: dict[str, Any] = {
    "model": {"best_customers": {"threshold": 500}},
    "sla": {"warning_digest_minutes": 0},
}
HOUR = 1 / 24


@dataclass
class Story:
    """One customer, every detector, and everything published in order."""

    config: Config = field(default_factory=lambda: config_from_mapping(RULES))
    customer_id: str = "cust-1"
    state: CustomerState | None = None
    published: list[Alert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tracker = JourneyTracker(self.config, SALT)
        self._lateness = int(self.config.deadlines.allowed_lateness_seconds)

    def send(self, *events: dict[str, Any]) -> Story:
        for event in events:
            step = self.tracker.track(self.state, self.customer_id, event, 0)
            self.state = step.state
            self._keep(step)
            self._keep(self.tracker.advance(self.state, self.customer_id, step.instant - self._lateness))
        return self

    def wait(self, day: float) -> Story:
        assert self.state is not None
        self._keep(self.tracker.advance(self.state, self.customer_id, instant(day)))
        return self

    def act(self, action: str, alert: Alert, day: float, by: str = "anna@support") -> Outputs:
        assert self.state is not None
        record = {
            "schema_version": 1,
            "alert_id": alert.alert_id,
            "action": action,
            "by": by,
            "at": orjson.loads(orjson.dumps({"at": _iso(day)}))["at"],
        }
        schemas.validator("alert_action")(record)
        out = self.tracker.act(self.state, self.customer_id, record)
        self._keep(out)
        return out

    def raised(self, alert_type: str) -> list[Alert]:
        return [a for a in self.published if a.type == alert_type and a.status_changed_at is None]

    def last(self, alert: Alert) -> Alert:
        """The latest record published for *alert*."""
        return [a for a in self.published if a.alert_id == alert.alert_id][-1]

    def ends(self, alert_type: str) -> list[tuple[str, str | None]]:
        """(status, by) of the latest record of each alert of *alert_type*, in the order they were raised."""
        return [(self.last(a).status, self.last(a).status_changed_by) for a in self.raised(alert_type)]

    def _keep(self, outputs: Outputs) -> None:
        validate = schemas.validator("alert")
        for alert in outputs.alerts:
            validate(orjson.loads(alert.encode()))
        self.published.extend(outputs.alerts)


def _iso(day: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(instant(day), UTC).isoformat()


def calls(*days: float, issue: str = "tv-1") -> list[dict[str, Any]]:
    return [complaint(day, issue, channel="phone") for day in days]


def at_store(event: dict[str, Any], location: str) -> dict[str, Any]:
    event["location"] = location
    return event


def weekly_buyer(weeks: int = 8, amount: float = 40.0) -> list[dict[str, Any]]:
    return [purchase(7 * week, amount) for week in range(weeks)]


# --- each type: the cause clears -----------------------------------------------------------------------------

#: (alert type, the story up to the alert, what clears it, the resolution it gets).
CLEARED: list[tuple[str, Callable[[], list[dict[str, Any]]], Callable[[], list[dict[str, Any]]], str]] = [
    (
        "repeat_contact_unresolved",
        lambda: calls(0, 1, 2),
        lambda: [resolution(3, "tv-1")],
        "auto:resolution",
    ),
    (
        "service_recovery",
        lambda: [complaint(0, "tv-1")],
        lambda: [resolution(2 * HOUR, "tv-1")],
        "auto:resolution",
    ),
    (
        "service_recovery",
        lambda: [feedback(0, csat=1)],
        lambda: [feedback(1, csat=5)],
        "auto:recovered",
    ),
    (
        "sales_in_service",
        lambda: [
            complaint(0, "tv-1"),
            touchpoint("offer", 0.1, channel="email", actor="system", offer_id="o-1"),
        ],
        lambda: [resolution(1, "tv-1")],
        "auto:service_closed",
    ),
    (
        "sales_in_service",
        lambda: [
            inquiry(0, "conv-9", topic="repair"),
            touchpoint("offer", 0.1, channel="email", actor="system", offer_id="o-1"),
        ],
        lambda: [reply(0.2, "conv-9")],
        "auto:service_closed",
    ),
    (
        "advocate_opportunity",
        lambda: [purchase(-10), purchase(-5), feedback(0, nps=10)],
        lambda: [referral(1)],
        "auto:referral",
    ),
    (
        "advocate_opportunity",
        lambda: [purchase(-10), purchase(-5), feedback(0, nps=10)],
        lambda: [complaint(1, "tv-1")],
        "auto:complaint",
    ),
    (
        "churn_risk",
        lambda: weekly_buyer(),  # overdue two weeks after the last purchase, on day 63
        lambda: [touchpoint("visit", 69), purchase(70)],
        "auto:purchase",
    ),
    (
        "best_customer_at_risk",
        lambda: [*weekly_buyer(amount=300.0), complaint(50, "tv-1")],
        lambda: [resolution(50.5, "tv-1")],
        "auto:resolution",
    ),
    (
        "best_customer_at_risk",
        lambda: [*weekly_buyer(amount=300.0), feedback(50, csat=1)],
        lambda: [feedback(51, csat=4)],
        "auto:recovered",
    ),
    (
        "after_hours_unanswered",
        lambda: [touchpoint("inquiry", 0.4, channel="chat", conversation="c-1")],  # 20:36 in Berlin
        lambda: [reply(0.5, "c-1")],
        "auto:first_reply",
    ),
]


@pytest.mark.parametrize(
    ("alert_type", "story", "clears", "by"),
    CLEARED,
    ids=[f"{case[0]} {case[3]}" for case in CLEARED],
)
def test_when_the_cause_clears_the_worker_resolves_the_alert(
    alert_type: str,
    story: Callable[[], list[dict[str, Any]]],
    clears: Callable[[], list[dict[str, Any]]],
    by: str,
) -> None:
    told = Story().send(*story())
    first_clearing = clears()[-1]
    told.wait((instant_of(first_clearing) - instant(0)) / 86_400 - 1 / 86_400 * 60)
    [alert] = [a for a in told.raised(alert_type) if told.last(a).status == OPEN][:1]
    told.send(*clears())
    ended = told.last(alert)
    assert (ended.status, ended.status_changed_by) == (RESOLVED, by)
    assert ended.status_changed_at == instant_of(first_clearing)
    assert (ended.summary, ended.evidence, ended.severity) == (alert.summary, alert.evidence, alert.severity)
    assert alert.alert_id not in told.state.alerts_open  # type: ignore[union-attr]


def instant_of(event: dict[str, Any]) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(event["occurred_at"]).timestamp())


#: (alert type, the story up to the alert, what does not clear it).
NEAR_MISSES: list[tuple[str, Callable[[], list[dict[str, Any]]], Callable[[], list[dict[str, Any]]]]] = [
    ("repeat_contact_unresolved", lambda: calls(0, 1, 2), lambda: [resolution(3, "another-issue")]),
    ("service_recovery", lambda: [complaint(0, "tv-1")], lambda: [resolution(0.05, "another-issue")]),
    ("service_recovery", lambda: [feedback(0, csat=1)], lambda: [feedback(1, csat=3)]),
    (
        "sales_in_service",
        lambda: [
            complaint(0, "tv-1"),
            touchpoint("offer", 0.1, channel="email", actor="system", offer_id="o-1"),
        ],
        lambda: [reply(0.2, "conv-7")],
    ),
    (
        "advocate_opportunity",
        lambda: [purchase(-10), purchase(-5), feedback(0, nps=10)],
        lambda: [purchase(1)],
    ),
    ("churn_risk", lambda: weekly_buyer(), lambda: [touchpoint("visit", 70)]),
    (
        "best_customer_at_risk",
        lambda: [*weekly_buyer(amount=300.0), complaint(50, "tv-1")],
        lambda: [resolution(50.5, "tv-2")],
    ),
]


@pytest.mark.parametrize(
    ("alert_type", "story", "near_miss"),
    NEAR_MISSES,
    ids=[f"{case[0]} {i}" for i, case in enumerate(NEAR_MISSES)],
)
def test_a_near_miss_does_not_clear_the_alert(
    alert_type: str,
    story: Callable[[], list[dict[str, Any]]],
    near_miss: Callable[[], list[dict[str, Any]]],
) -> None:
    told = Story().send(*story())
    told.wait((instant_of(near_miss()[-1]) - instant(0)) / 86_400 - 1 / 1440)
    [alert] = [a for a in told.raised(alert_type) if told.last(a).status == OPEN][:1]
    told.send(*near_miss())
    assert told.last(alert).status == OPEN


# --- types with no clearing event expire ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert_type", "story", "hours"),
    [
        pytest.param(
            "long_wait",
            lambda: [touchpoint("queue_wait", 0, channel="phone", actor="system", wait_seconds=45.0)],
            24,
            id="a long wait: a day",
        ),
        pytest.param(
            "excessive_transfers",
            lambda: [
                touchpoint(
                    "transfer", 0, channel="phone", actor="agent", conversation="call-1", transfer_kind="cold"
                )
            ],
            24,
            id="a transfer chain: a day",
        ),
        pytest.param(
            "usage_pattern_change",
            lambda: [
                *(
                    at_store(touchpoint("visit", day / 10, channel="store"), "store-berlin-mitte")
                    for day in range(8)
                ),
                *(at_store(purchase(1 + day, 40.0), "store-berlin-mitte") for day in range(3)),
                at_store(purchase(5, 900.0), "store-hamburg-altona"),
            ],
            72,
            id="a changed usage pattern: three days",
        ),
    ],
)
def test_a_type_with_no_natural_clearing_event_expires_after_its_ttl(
    alert_type: str, story: Callable[[], list[dict[str, Any]]], hours: int
) -> None:
    told = Story().send(*story())
    [alert] = told.raised(alert_type)
    told.wait((alert.detected_at + hours * 3600 - 1 - instant(0)) / 86_400)
    assert told.last(alert).status == OPEN
    told.wait((alert.detected_at + hours * 3600 - instant(0)) / 86_400)
    ended = told.last(alert)
    assert (ended.status, ended.status_changed_by, ended.status_changed_at) == (
        RESOLVED,
        EXPIRED,
        alert.detected_at + hours * 3600,
    )
    assert told.state is not None
    assert told.state.alerts_open == {}


def test_the_ttl_of_a_type_comes_from_the_rules_and_applies_to_types_with_a_clearing_event_too() -> None:
    told = Story(config_from_mapping({**RULES, "alerts": {"expire_after_hours": {"service_recovery": 2}}}))
    told.send(complaint(0, "tv-1"))
    [warning] = told.raised("service_recovery")
    told.wait(2 * HOUR)
    assert (told.last(warning).status_changed_by, told.last(warning).status_changed_at) == (
        EXPIRED,
        instant(2 * HOUR),
    )


# --- superseded, displaced -----------------------------------------------------------------------------------


def test_a_recovery_escalation_supersedes_its_warning_and_both_end_with_the_resolution() -> None:
    told = Story().send(complaint(0, "tv-1"))
    told.wait(3)  # past 24 business hours
    [warning, escalation] = told.raised("service_recovery")
    assert escalation.severity == "critical"
    assert (told.last(warning).status, told.last(warning).status_changed_by) == (RESOLVED, SUPERSEDED)
    assert told.last(warning).details["superseded_by"] == escalation.alert_id
    told.send(resolution(3.5, "tv-1"))
    assert told.ends("service_recovery") == [(RESOLVED, SUPERSEDED), (RESOLVED, "auto:resolution")]


def test_each_repeat_contact_escalation_supersedes_the_one_before() -> None:
    told = Story().send(*calls(0, 1, 2, 3, 4))
    assert told.ends("repeat_contact_unresolved") == [
        (RESOLVED, SUPERSEDED),
        (RESOLVED, SUPERSEDED),
        (OPEN, None),
    ]
    told.send(resolution(5, "tv-1"))
    assert told.ends("repeat_contact_unresolved")[-1] == (RESOLVED, "auto:resolution")


def test_beyond_the_open_alerts_kept_per_customer_the_oldest_gives_way_and_says_so() -> None:
    told = Story(
        config_from_mapping(
            {**RULES, "alerts": {"max_open_per_customer": 2, "cooldown_minutes": {"default": 0}}}
        )
    )
    for day in range(3):
        told.send(touchpoint("queue_wait", day * HOUR, channel="phone", actor="system", wait_seconds=45.0))
    first, second, third = told.raised("long_wait")
    assert (told.last(first).status, told.last(first).status_changed_by) == (RESOLVED, DISPLACED)
    assert told.last(first).details["displaced_by"] == third.alert_id
    assert [told.last(a).status for a in (second, third)] == [OPEN, OPEN]


# --- operators' actions keep working -------------------------------------------------------------------------


def test_an_acknowledged_alert_still_ends_when_its_cause_clears() -> None:
    told = Story().send(*calls(0, 1, 2))
    [alert] = told.raised("repeat_contact_unresolved")
    told.act("acknowledge", alert, 2.1)
    assert told.last(alert).status == ACKNOWLEDGED
    told.send(resolution(3, "tv-1"))
    assert (told.last(alert).status, told.last(alert).status_changed_by) == (RESOLVED, "auto:resolution")


def test_resolving_a_detector_alert_after_acknowledging_it_republishes_it_with_its_text() -> None:
    # This used to fail: the acknowledgement kept the alert without its text, and the resolution rebuilt
    # it with the first-response wording, looking for a deadline a detector's alert does not have.
    told = Story().send(*calls(0, 1, 2))
    [alert] = told.raised("repeat_contact_unresolved")
    told.act("acknowledge", alert, 2.1)
    out = told.act("resolve", alert, 2.2, by="ben@support")
    [resolved] = out.alerts
    assert (resolved.status, resolved.status_changed_by) == (RESOLVED, "ben@support")
    assert (resolved.summary, resolved.suggested_action, resolved.details) == (
        alert.summary,
        alert.suggested_action,
        alert.details,
    )
    assert told.state is not None
    assert alert.alert_id not in told.state.alerts_open


def test_an_operator_resolving_first_leaves_nothing_for_the_clearing_to_do() -> None:
    told = Story().send(complaint(0, "tv-1"))
    [warning] = told.raised("service_recovery")
    told.act("resolve", warning, 0.1)
    before = len(told.published)
    told.send(resolution(0.2, "tv-1"))
    assert [a.alert_id for a in told.published[before:]] == []


# --- the clearing rules themselves, on a customer's open alerts ----------------------------------------------


def long_wait(customer: str, minute: int) -> Alert:
    """An open long-wait alert raised *minute* minutes after 10:00 UTC on day 0."""
    return Alert(
        alert_id=f"long_wait/{customer}/wait-{minute}",
        type="long_wait",
        severity="warning",
        customer_id=customer,
        occurred_at=instant(0) + 60 * minute,
        detected_at=instant(0) + 60 * minute,
        summary=f"Waited 45 s in the phone queue ({minute}).",
        reasons=("long_wait",),
        evidence=(f"wait-{minute}",),
        stage="active",
        value_tier="silver",
        suggested_action="Call back.",
        channel="phone",
    )


def closing(**alerts: Any) -> Closing:
    config = config_from_mapping({**RULES, "alerts": alerts})
    return Closing(config.alerts, config.calendars)


def holding(*alerts: Alert) -> CustomerState:
    state = CustomerState()
    for alert in alerts:
        state.alerts_open[alert.alert_id] = alert.compact()
    return state


def test_only_the_workers_own_ends_have_a_reason_and_a_plugins_reason_counts_as_other() -> None:
    assert auto_reason(EXPIRED) == "expired"
    assert auto_reason("auto:first_reply") == "first_reply"
    assert auto_reason("auto:vip_lounge_visit") == "other"  # a plug-in detector's own clearing
    assert auto_reason("anna@support") is None
    assert auto_reason("autoexpired") is None
    assert auto_reason(None) is None
    assert auto_reason("") is None


def test_alerts_expire_each_at_its_own_time_the_earliest_first_and_say_how_long_they_were_open() -> None:
    rules = closing(expire_after_hours={"long_wait": 2})
    early, late, fresh = long_wait("cust-1", 30), long_wait("cust-1", 5), long_wait("cust-1", 200)
    state = holding(early, late, fresh)
    assert rules.due(state) == late.detected_at + 2 * 3600
    out = Outputs()
    rules.expire_due(state, "cust-1", early.detected_at + 2 * 3600, out)  # exactly early's expiry
    assert [(a.alert_id, a.status, a.status_changed_by, a.status_changed_at) for a in out.alerts] == [
        (late.alert_id, RESOLVED, EXPIRED, late.detected_at + 7200),
        (early.alert_id, RESOLVED, EXPIRED, early.detected_at + 7200),
    ]
    assert [seconds for _, seconds in out.resolved] == [7200, 7200]
    assert out.alerts[0].summary == late.summary  # the whole alert, republished
    assert list(state.alerts_open) == [fresh.alert_id]
    assert rules.due(state) == fresh.detected_at + 7200
    assert rules.due(CustomerState()) is None


def test_each_type_expires_after_its_own_ttl_whichever_type_was_looked_at_first() -> None:
    rules = closing(expire_after_hours={"long_wait": 2, "churn_risk": 1, "default": 24})
    wait = long_wait("cust-1", 0)
    churn = replace(wait, alert_id="churn_risk/cust-1/wait-0", type="churn_risk")
    other = replace(wait, alert_id="vip_lounge/cust-1/wait-0", type="vip_lounge")  # a plug-in's type
    assert rules.due(holding(wait)) == wait.detected_at + 2 * 3600
    assert rules.due(holding(wait, churn)) == wait.detected_at + 3600
    assert rules.due(holding(other)) == wait.detected_at + 24 * 3600
    assert rules.due(holding(other, wait)) == wait.detected_at + 2 * 3600


def test_an_alert_never_supersedes_itself_and_only_open_alerts_are_superseded() -> None:
    rules = closing()
    old, new = long_wait("cust-1", 0), long_wait("cust-1", 30)
    state = holding(old, new)
    out = Outputs()
    rules.supersede(state, "cust-1", [new.alert_id, "long_wait/cust-1/gone", old.alert_id], new, out)
    [ended] = out.alerts
    assert (ended.alert_id, ended.status_changed_by, ended.status_changed_at) == (
        old.alert_id,
        SUPERSEDED,
        new.detected_at,
    )
    assert ended.details["superseded_by"] == new.alert_id
    assert out.resolved == [(ended, new.detected_at - old.detected_at)]
    assert list(state.alerts_open) == [new.alert_id]


def test_the_oldest_detected_gives_way_even_to_a_newcomer_detected_earlier_and_ties_go_by_id() -> None:
    rules = closing(max_open_per_customer=2)
    first, second = long_wait("cust-1", 5), long_wait("cust-1", 30)  # ids sort the other way round
    # Detected late (a backfilled wait): older than both, but it is the one coming in.
    newcomer = long_wait("cust-1", 1)
    state = holding(first, second, newcomer)
    out = Outputs()
    rules.make_room(state, newcomer, out)
    assert [(a.alert_id, a.status_changed_by, a.details["displaced_by"]) for a in out.alerts] == [
        (first.alert_id, DISPLACED, newcomer.alert_id)
    ]
    assert set(state.alerts_open) == {second.alert_id, newcomer.alert_id}
    # Two detected at the same instant: the smaller id gives way first.
    twin_a = long_wait("cust-2", 40)
    twin_b = replace(twin_a, alert_id="long_wait/cust-2/wait-39")
    state = holding(twin_a, twin_b, long_wait("cust-2", 50))
    out = Outputs()
    rules.make_room(state, long_wait("cust-2", 50), out)
    assert [a.alert_id for a in out.alerts] == ["long_wait/cust-2/wait-39"]
