"""The tracker's side of detectors: alerts from findings, top-tier boost, inhibition, timed escalation."""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from typing import Any

import pytest

import schemas
from agents.alerts.closing import Closing
from agents.alerts.gating import AlertGate
from agents.config import config_from_mapping
from agents.detectors.base import Context, Detector, EventOnly, Finding
from agents.domain.alert import Alert, parse_alert_id
from agents.domain.instants import DAY
from agents.domain.outputs import Outputs
from agents.domain.state import CustomerState
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.detection import Detection, finding_alert
from agents.journey.track import JourneyTracker
from streams.sim import SimulationSpec, generate

pytestmark = pytest.mark.unit

T0 = 1_767_600_000  # 2026-01-05, a Monday


def event(number: int, kind: str = "visit", at: int = T0, **extra: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "schema_version": 1,
        "event_id": f"ev-{number}",
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
        "customer_id": "cust-1",
        "channel": "web",
        "type": kind,
        "actor": "customer",
        **extra,
    }


class Stub:
    """Finds something on every page view; escalates one day later unless a purchase came."""

    type = "advocate_opportunity"  # a real type, so inhibitions and topics apply

    def __init__(self, options: Any = None) -> None:
        self.options = options

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        if context.event["type"] == "purchase":
            return None, []
        if context.event["type"] != "page_view":
            return memory, []
        finding = Finding(
            severity="info",
            evidence=(context.event["event_id"],),
            reasons=("stub",),
            summary=f"Customer {context.customer_id} looked.",
            suggested_action="Say hello.",
            occurred_at=context.instant,
            detected_at=context.instant,
        )
        return {"escalate_at": context.instant + DAY, "evidence": context.event["event_id"]}, [finding]

    def due(self, memory: Any) -> int | None:
        return memory.get("escalate_at") if memory else None

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        finding = Finding(
            severity="warning",
            evidence=(memory["evidence"], "escalated"),
            reasons=("stub", "escalated"),
            summary=f"Customer {customer_id} still looking.",
            suggested_action="Call.",
            occurred_at=now,
            detected_at=now,
        )
        return None, [finding]


def tracker_with_stub(config: Any = None) -> JourneyTracker:
    tracker = JourneyTracker(
        config or config_from_mapping({"alerts": {"cooldown_minutes": {"default": 0}}}), b"salt"
    )
    tracker.detection.detectors = [Stub()]
    return tracker


def test_a_finding_becomes_a_valid_alert_with_a_deterministic_id_and_the_customer_context() -> None:
    tracker = tracker_with_stub()
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    [alert] = step.alerts
    schemas.validator("alert")(alert.to_dict())
    assert parse_alert_id(alert.alert_id) == ("advocate_opportunity", "cust-1")
    assert (alert.stage, alert.value_tier, alert.summary) == ("prospect", "bronze", "Customer cust-1 looked.")
    again = tracker_with_stub().track(None, "cust-1", event(1, "page_view"), 0)
    assert again.alerts[0].alert_id == alert.alert_id


def test_a_top_tier_customer_gets_one_severity_level_more_and_the_summary_says_so() -> None:
    tracker = tracker_with_stub()
    state = tracker.track(
        None, "cust-1", event(1, "purchase", attributes={"amount": 6000, "currency": "EUR"}), 0
    ).state
    [alert] = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0).alerts
    assert alert.severity == "warning"
    assert "top_value_tier" in alert.reasons
    assert alert.summary.endswith("Top-tier customer: severity raised.")


def test_the_boost_can_be_switched_off() -> None:
    tracker = tracker_with_stub(
        config_from_mapping(
            {"detectors": {"top_tier_boost": False}, "alerts": {"cooldown_minutes": {"default": 0}}}
        )
    )
    state = tracker.track(
        None, "cust-1", event(1, "purchase", attributes={"amount": 6000, "currency": "EUR"}), 0
    ).state
    [alert] = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0).alerts
    assert alert.severity == "info"


def test_an_open_complaint_inhibits_an_advocate_opportunity_and_says_why() -> None:
    tracker = tracker_with_stub()
    state = tracker.track(None, "cust-1", event(1, "complaint", attributes={"issue_id": "tv"}), 0).state
    step = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0)
    assert step.alerts == []
    assert step.suppressed == [("advocate_opportunity", "inhibited")]
    resolved = tracker.track(
        step.state, "cust-1", event(3, "resolution", at=T0 + 120, attributes={"issue_id": "tv"}), 0
    )
    assert len(tracker.track(resolved.state, "cust-1", event(4, "page_view", at=T0 + 180), 0).alerts) == 1


def test_a_detector_deadline_fires_through_advance_at_its_instant_with_new_evidence() -> None:
    tracker = tracker_with_stub()
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    state = step.state
    assert state.wake_at == T0 + DAY
    assert tracker.advance(state, "cust-1", T0 + DAY - 1).alerts == []
    [escalation] = tracker.advance(state, "cust-1", T0 + DAY).alerts
    assert escalation.detected_at == T0 + DAY
    assert escalation.alert_id != step.alerts[0].alert_id
    assert "advocate_opportunity" not in state.detector_memory, "memory None is dropped"


def test_a_detector_alert_keeps_its_text_through_an_acknowledgement() -> None:
    tracker = tracker_with_stub()
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    [alert] = step.alerts
    action = {
        "schema_version": 1,
        "alert_id": alert.alert_id,
        "action": "acknowledge",
        "by": "anna",
        "at": "2026-01-05T09:00:00Z",
    }
    [acknowledged] = tracker.act(step.state, "cust-1", action).alerts
    assert (acknowledged.status, acknowledged.summary) == ("acknowledged", alert.summary)


def test_a_detector_alert_within_its_cooldown_is_suppressed_and_after_it_raised_again() -> None:
    tracker = tracker_with_stub(
        config_from_mapping({"alerts": {"cooldown_minutes": {"advocate_opportunity": 30}}})
    )
    step = tracker.track(None, "cust-1", event(1, "page_view"), 0)
    assert len(step.alerts) == 1
    within = tracker.track(step.state, "cust-1", event(2, "page_view", at=T0 + 29 * 60), 0)
    assert within.alerts == []
    assert within.suppressed == [("advocate_opportunity", "cooldown")]
    after = tracker.track(within.state, "cust-1", event(3, "page_view", at=T0 + 31 * 60), 0)
    assert len(after.alerts) == 1


def test_an_escalation_to_critical_is_never_held_back_by_the_cooldown() -> None:
    tracker = tracker_with_stub(
        config_from_mapping({"alerts": {"cooldown_minutes": {"default": 2 * 24 * 60}}})
    )
    state = tracker.track(
        None, "cust-1", event(1, "purchase", attributes={"amount": 6000, "currency": "EUR"}), 0
    ).state
    first = tracker.track(state, "cust-1", event(2, "page_view", at=T0 + 60), 0)
    assert [a.severity for a in first.alerts] == ["warning"]  # boosted from info
    escalated = tracker.advance(first.state, "cust-1", T0 + 60 + DAY)
    assert [a.severity for a in escalated.alerts] == ["critical"], (
        "warning boosted to critical passes the cooldown"
    )


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "under a minute"),
        (59, "under a minute"),
        (60, "1 minute"),
        (89, "1 minute"),
        (150, "2 minutes"),
        (3599, "60 minutes"),
        (3600, "1 hour"),
        (5400, "2 hours"),
        (86_399, "24 hours"),
        (86_400, "1 day"),
        (3 * 86_400 + 3600, "3 days"),
    ],
)
def test_a_span_between_two_events_reads_in_the_largest_whole_unit(seconds: int, said: str) -> None:
    from agents.detectors.base import describe_span

    assert describe_span(seconds) == said


def test_an_event_only_detector_never_schedules_and_fires_nothing() -> None:
    rule = EventOnly()
    assert rule.due({"anything": 1}) is None
    state = CustomerState()
    assert rule.fire({"kept": True}, "cust-1", T0, state) == ({"kept": True}, [])


# --- the detection's own rules: memories, merges, clearing ----------------------------------------------------


class Keeper:
    """Remembers the touchpoint types it saw, as given; clears its alerts on a 'resolution' of the same issue."""

    cleared_by = frozenset({"resolution"})

    def __init__(self, type: str, merges: bool = False) -> None:
        self.type = type
        self.asked: list[str] = []
        if merges:
            self.merge = lambda mine, theirs, state: sorted({*(mine or []), *theirs})

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        kind = context.event["type"]
        if kind == "purchase":
            return {}, []  # forgets everything: an empty memory
        if kind == "refund":
            return [], []
        return [*(memory or []), kind], []

    def due(self, memory: Any) -> int | None:
        return None

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        return memory, []

    def clears(self, alert: Alert, context: Context) -> str | None:
        self.asked.append(alert.alert_id)
        return "resolution" if context.event.get("attributes", {}).get("issue_id") == "tv" else None


def detection(*detectors: Any, boosted: str | None = None) -> Detection:
    config = config_from_mapping({})
    gate = AlertGate(config.alerts, {}, Closing(config.alerts, config.calendars))
    return Detection(detectors, config.calendars, boosted, gate)


def seen(run: Detection, state: CustomerState, kind: str, number: int = 1, **extra: Any) -> Outputs:
    from datetime import UTC, datetime

    touchpoint = event(number, kind, at=T0 + number, **extra)
    context = run.context(
        state, "cust-1", touchpoint, datetime.fromtimestamp(T0 + number, UTC), T0 + number, 0
    )
    out = Outputs()
    run.clear(context, out)
    run.observe(context, out)
    return out


def test_a_memory_emptied_or_given_up_leaves_the_customers_state() -> None:
    keeper = Keeper("long_wait")
    run = detection(keeper)
    state = CustomerState()
    seen(run, state, "visit")
    assert state.detector_memory == {"long_wait": ["visit"]}
    for emptying in ("purchase", "refund"):
        seen(run, state, "visit")
        seen(run, state, emptying)
        assert state.detector_memory == {}, emptying
    assert run.due(state) is None


class Reminder(EventOnly):
    """A plug-in built on the event-only base that escalates after all: *after* seconds past its first sight."""

    def __init__(self, type: str, after: int) -> None:
        self.type = type
        self.after = after

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        return memory if memory is not None else context.instant, []

    def due(self, memory: Any) -> int | None:
        return int(memory) + self.after


def test_the_customer_next_needs_the_clock_when_the_first_of_its_detectors_does_event_only_ones_never() -> (
    None
):
    keeper, soon, late = Keeper("long_wait"), Reminder("churn_risk", 60), Reminder("service_recovery", 3600)
    run = detection(keeper, late, soon)
    state = CustomerState()
    assert run.due(state) is None
    seen(run, state, "visit")
    assert run.due(state) == T0 + 1 + 60
    del state.detector_memory["churn_risk"]
    assert run.due(state) == T0 + 1 + 3600
    assert detection(keeper).due(state) is None


def test_a_merged_profiles_memory_is_folded_in_by_the_detectors_merge_or_kept_when_the_customer_has_none() -> (
    None
):
    folding, plain = Keeper("long_wait", merges=True), Keeper("excessive_transfers")
    run = detection(folding, plain)
    customer = CustomerState(detector_memory={"long_wait": ["visit"], "excessive_transfers": ["mine"]})
    profile = CustomerState(detector_memory={"long_wait": ["page_view"], "excessive_transfers": ["theirs"]})
    run.merge(customer, profile)
    assert customer.detector_memory == {"long_wait": ["page_view", "visit"], "excessive_transfers": ["mine"]}
    newcomer = CustomerState()
    run.merge(newcomer, profile)
    assert newcomer.detector_memory == {"long_wait": ["page_view"], "excessive_transfers": ["theirs"]}
    untouched = CustomerState(detector_memory={"long_wait": ["visit"]})
    run.merge(untouched, CustomerState())
    assert untouched.detector_memory == {"long_wait": ["visit"]}


def test_only_a_touchpoint_its_detector_is_cleared_by_is_shown_an_open_alert() -> None:
    keeper = Keeper("long_wait")
    run = detection(keeper)
    state = CustomerState()
    alert = run.alert(
        "long_wait",
        "cust-1",
        Finding("warning", ("ev-0",), ("long_wait",), "Waited.", "Call back.", T0, T0),
        state,
    )
    state.alerts_open[alert.alert_id] = alert.compact()
    state.alerts_open["repeat_contact_unresolved/cust-1/x"] = alert.compact()  # no such detector here
    seen(run, state, "visit", 1)
    assert keeper.asked == []  # a visit clears nothing: not even asked
    out = seen(run, state, "resolution", 2, attributes={"issue_id": "other"})
    assert (keeper.asked, out.alerts) == ([alert.alert_id], [])
    out = seen(run, state, "resolution", 3, attributes={"issue_id": "tv"})
    [ended] = out.alerts
    assert (ended.alert_id, ended.status_changed_by, ended.status_changed_at) == (
        alert.alert_id,
        "auto:resolution",
        T0 + 3,
    )
    assert list(state.alerts_open) == ["repeat_contact_unresolved/cust-1/x"]


def test_a_finding_already_about_a_top_tier_customer_is_not_raised_twice() -> None:
    state = CustomerState(value_tier="gold")
    finding = Finding("info", ("ev-1",), ("stub", "top_value_tier"), "Seen.", "Say hello.", T0, T0)
    alert = finding_alert("advocate_opportunity", "cust-1", finding, state, "gold")
    assert (alert.severity, alert.reasons, alert.summary) == ("info", ("stub", "top_value_tier"), "Seen.")
    boosted = finding_alert(
        "advocate_opportunity", "cust-1", replace(finding, reasons=("stub",)), state, "gold"
    )
    assert (boosted.severity, boosted.reasons) == ("warning", ("stub", "top_value_tier"))
    other_tier = finding_alert(
        "advocate_opportunity", "cust-1", replace(finding, reasons=("stub",)), state, "platinum"
    )
    assert other_tier.severity == "info"


def test_detectors_see_the_touchpoints_local_day_and_the_zone_of_its_location_else_its_channel() -> None:
    from datetime import UTC, datetime

    config = config_from_mapping(
        {
            "calendar_selection": {"locations": {"store-kolkata": "kolkata"}, "channels": {"chat": "ny"}},
            "calendars": {
                "kolkata": {"timezone": "Asia/Kolkata", "hours": {"mon": ["10:00-18:00"]}},
                "ny": {"timezone": "America/New_York", "hours": {"mon": ["09:00-17:00"]}},
            },
        }
    )
    gate = AlertGate(config.alerts, {}, Closing(config.alerts, config.calendars))
    run = Detection([], config.calendars, None, gate)
    occurred = datetime.fromtimestamp(T0, UTC)

    def zone_of(**where: Any) -> str:
        state, touchpoint = CustomerState(), {**event(1, at=T0), **where}
        context = run.context(state, "cust-1", touchpoint, occurred, T0, 20_458)
        assert (context.instant, context.local_day, context.local_hour) == (T0, 20_458, occurred.hour)
        # Made without its class's constructor, still the named tuple plug-ins are given, field for field.
        assert type(context) is Context
        made = Context("cust-1", touchpoint, T0, 20_458, occurred.hour, state, config.calendars, context.zone)
        assert context == made
        assert context._asdict() == made._asdict()
        return str(context.zone)

    assert zone_of(channel="store", location="store-kolkata") == "Asia/Kolkata"
    assert zone_of(channel="chat", location="store-kolkata") == "Asia/Kolkata", "the location wins"
    assert zone_of(channel="chat", location="elsewhere") == "America/New_York"
    assert zone_of(channel="chat") == "America/New_York"


def test_every_open_alert_a_touchpoint_clears_is_closed_whatever_comes_before_it() -> None:
    keeper = Keeper("long_wait")
    run = detection(keeper)
    state = CustomerState()
    finding = Finding("warning", ("ev-0",), ("long_wait",), "Waited.", "Call back.", T0, T0)
    alert = run.alert("long_wait", "cust-1", finding, state)
    state.alerts_open["repeat_contact_unresolved/cust-1/x"] = alert.compact()  # no such detector here
    state.alerts_open["excessive_transfers/cust-1/y"] = alert.compact()  # nor this one
    state.alerts_open[alert.alert_id] = alert.compact()
    out = seen(run, state, "resolution", 3, attributes={"issue_id": "tv"})
    assert [ended.alert_id for ended in out.alerts] == [alert.alert_id]


def test_a_profiles_memory_is_merged_for_every_detector_that_has_one_given_the_merged_state() -> None:
    given: list[CustomerState] = []
    folding = Keeper("long_wait", merges=True)
    late = Keeper("excessive_transfers", merges=True)

    def merge(mine: Any, theirs: Any, state: CustomerState) -> Any:
        given.append(state)
        return sorted({*(mine or []), *theirs})

    late.merge = merge
    run = detection(folding, late)
    customer = CustomerState(events=3)
    run.merge(customer, CustomerState(detector_memory={"excessive_transfers": ["theirs"]}))
    assert customer.detector_memory == {"excessive_transfers": ["theirs"]}
    assert given == [customer]


def test_an_alert_says_on_which_channel_and_where_its_finding_happened() -> None:
    finding = Finding(
        "info", ("ev-1",), ("stub",), "Seen.", "Say hello.", T0, T0, channel="store", location="store-hamburg"
    )
    alert = finding_alert("advocate_opportunity", "cust-1", finding, CustomerState(), None)
    assert (alert.channel, alert.location) == ("store", "store-hamburg")


class Twice(Stub):
    """Escalates a day after the page view, and once more a day after that."""

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        _, findings = super().fire(memory, customer_id, now, state)
        if memory.get("again"):
            return None, findings
        return {**memory, "escalate_at": now + DAY, "again": True}, findings


def test_an_escalation_names_its_customer_and_keeps_what_the_detector_remembers_for_the_next() -> None:
    tracker = tracker_with_stub()
    tracker.detection.detectors = [Twice()]
    state = tracker.track(None, "cust-1", event(1, "page_view"), 0).state
    [escalation] = tracker.advance(state, "cust-1", T0 + DAY).alerts
    assert escalation.summary == "Customer cust-1 still looking."
    assert state.detector_memory["advocate_opportunity"]["escalate_at"] == T0 + 2 * DAY
    assert state.wake_at == T0 + 2 * DAY


class _Watching:
    """A detector that checks its inner detector leaves the memory it is shown as it was."""

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.type = inner.type
        self.shown = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        before = copy.deepcopy(memory)
        result = self.inner.observe(memory, context)
        assert memory == before, f"{self.type} changed the memory it was shown"
        self.shown += memory is not None
        return result


def test_no_detector_changes_the_memory_it_is_shown() -> None:
    # The tracker keeps nothing new when a detector hands back the memory it was shown (the same object),
    # so a detector that changes its memory must return a new one: simulator traffic through every detector.
    tracker = JourneyTracker(config_from_mapping({}), b"salt")
    watching = [_Watching(detector) for detector in tracker.detection.detectors]
    tracker.detection.detectors = watching  # type: ignore[assignment]
    decoder = TouchpointDecoder(identity_salt=b"salt")
    states: dict[str, CustomerState] = {}
    for raw in itertools.islice(generate(SimulationSpec(customers=80, seed=11)), 6_000):
        accepted = decoder(raw)
        if not isinstance(accepted, Accepted):
            continue
        customer = accepted.customer_id
        step = tracker.track(states.get(customer), customer, accepted.event, 0)
        if step.refused is None:
            states[customer] = step.state
    assert len(watching) >= 9
    # Every detector was shown a memory of its own many times, but the one that keeps none.
    unshown = {detector.type: detector.shown for detector in watching if detector.shown < 40}
    assert unshown == {"sales_in_service": 0}
