"""Apply one touchpoint to one customer's state: the journey agent's whole decision, pure.

``JourneyTracker.track`` is called for every event and ``advance`` when a
deadline comes due; both mutate the state they are given and return what to
publish. The live agent and ``touchpoint replay`` call exactly these.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from agents import lifecycle
from agents.alerts import sla
from agents.config import Config
from agents.detectors.base import Context, Finding
from agents.detectors.churn_risk import Models
from agents.detectors.registry import build_detectors
from agents.domain.alert import (
    ACKNOWLEDGED,
    CRITICAL,
    FIRST_RESPONSE_DUE_SOON,
    OPEN,
    RESOLVED,
    SLA_ALERT_TYPES,
    Alert,
    make_alert_id,
    raise_severity,
)
from agents.domain.instants import DAY, describe_duration, iso
from agents.domain.refusal import (
    CONFLICTING_DUPLICATE,
    FUTURE,
    STALE_ACTION,
    TOO_OLD,
    UNKNOWN_ALERT,
    Rejected,
)
from agents.domain.state import CustomerState
from agents.journey.outputs import ModelView, Transition, encode_enriched
from agents.models.customer import CustomerModel

INACTIVITY = "inactivity"
WIN_BACK = "win_back"
#: Who changed an alert's status when no person did.
AUTO_REPLY = "auto:first_reply"
AUTO_SUPERSEDED = "auto:superseded"
#: Unanswered conversations remembered per customer; the oldest beyond this are forgotten.
MAX_OPEN_INQUIRIES = 8
#: Unresolved issues remembered per customer; the oldest beyond this are forgotten.
MAX_OPEN_COMPLAINTS = 8


@dataclass(slots=True)
class Outputs:
    """What one call of the tracker asks the agent to publish and count."""

    transitions: list[Transition] = field(default_factory=list)
    #: New alerts and status changes of existing ones, in order.
    alerts: list[Alert] = field(default_factory=list)
    #: (alert type, why) for each alert not raised: cooldown, snoozed or inhibited.
    suppressed: list[tuple[str, str]] = field(default_factory=list)
    #: (alert, seconds from detection) for each acknowledgement and each resolution.
    acknowledged: list[tuple[Alert, int]] = field(default_factory=list)
    resolved: list[tuple[Alert, int]] = field(default_factory=list)
    #: An action named an alert this customer has no record of (already resolved or never raised).
    unknown_alert: bool = False
    #: Why the input was refused instead of applied, if it was: it belongs in the dead-letter topic.
    refused: Rejected | None = None

    def extend(self, other: Outputs) -> None:
        self.transitions.extend(other.transitions)
        self.alerts.extend(other.alerts)
        self.suppressed.extend(other.suppressed)
        self.acknowledged.extend(other.acknowledged)
        self.resolved.extend(other.resolved)


@dataclass(slots=True)
class Step(Outputs):
    """The outcome of tracking one event."""

    state: CustomerState = field(default_factory=CustomerState)
    duplicate: bool = False
    #: The enriched event to publish (None for a duplicate).
    enriched: bytes | None = None
    #: Amount in a currency without a configured rate.
    unpriced: bool = False
    #: The event's own instant (epoch seconds); the partition's watermark follows it.
    instant: int = 0


class JourneyTracker:
    """The pure core of the journey agent, configured once."""

    def __init__(self, config: Config, identity_salt: bytes) -> None:
        self.config = config
        self._salt = identity_salt
        # A key of its own for event-id digests (domain separation from the identity hashes).
        self._dedupe_key = hashlib.blake2b(b"touchpoint-dedupe|" + identity_salt, digest_size=32).digest()
        self._lifecycle = config.lifecycle
        self._window = config.state.dedupe_window
        self._memory = config.state.answered_memory
        self._max_days = config.state.max_purchase_days
        self._half_life = config.state.satisfaction_half_life_days * DAY
        self._tiers = [(tier.min_value, tier.name) for tier in reversed(config.value_tiers)]
        self._bots_answer = config.sla.bot_replies_count
        self._lateness = int(config.deadlines.allowed_lateness_seconds)
        self._skew = config.time.max_future_skew
        self._max_age = config.time.max_event_age
        self._max_snooze = round(config.alerts.max_snooze_minutes * 60)
        settings = config.model
        self.model = CustomerModel(
            settings.params,
            clv_periods=settings.clv_periods,
            clv_period_days=settings.clv_period_days,
            discount_rate=settings.discount_rate,
        )
        self._stages = (
            lifecycle.ModelStages(self.model, settings.at_risk_below, settings.lapsed_below)
            if settings.stages_from_model
            else None
        )
        self._tiers_from_clv = settings.tiers_from_clv
        self._detectors = build_detectors(
            config.detectors, models=Models(self.model, config.lifecycle, config.detectors)
        )
        self._inhibitions: dict[str, list[str]] = dict(config.detectors["inhibitions"])
        self._top_tier_boost: bool = config.detectors["top_tier_boost"]

    def track(
        self,
        state: CustomerState | None,
        customer_id: str,
        event: dict[str, Any],
        partition: int,
        received_at: float | None = None,
    ) -> Step:
        """Apply *event* (a normalised touchpoint) to *state* (None for a new customer).

        A redelivery is dropped (``duplicate``); the same event id with other content, or an event
        too far before the customer's history, is ``refused`` and changes nothing. So is one dated
        further ahead of *received_at* (its record's broker timestamp, epoch seconds) than the skew
        bound: ingest refuses those already, this catches records written past it.
        """
        marker = self.event_digest(event["event_id"])
        content = content_digest(event)
        occurred = datetime.fromisoformat(event["occurred_at"])
        instant = int(occurred.timestamp())
        if received_at is not None and instant - received_at > self._skew:
            message = (
                f"occurred_at {event['occurred_at']} is {describe_duration(instant - received_at)} ahead of "
                f"the record's timestamp {iso(int(received_at))} (at most {describe_duration(self._skew)})"
            )
            return Step(
                state=state or CustomerState(partition=partition),
                refused=Rejected(FUTURE, message, "occurred_at"),
            )
        if state is None:
            state = CustomerState(partition=partition)
        else:
            kept = state.recent_events.get(marker)
            if kept == content:
                return Step(state=state, duplicate=True)
            if kept is not None:
                message = (
                    f"event_id {event['event_id']!r} was already applied for this customer with other "
                    f"content (content digest {kept:08x}, this record {content:08x})"
                )
                details = {"kept_digest": f"{kept:08x}", "refused_digest": f"{content:08x}"}
                refused = Rejected(CONFLICTING_DUPLICATE, message, "event_id", details)
                return Step(state=state, refused=refused)
            if state.events and instant < state.first_seen - self._max_age:
                message = (
                    f"occurred_at {event['occurred_at']} is {describe_duration(state.first_seen - instant)} "
                    f"before this customer's first event ({iso(state.first_seen)}); at most "
                    f"{describe_duration(self._max_age)} earlier is applied (time.max_event_age_days)"
                )
                return Step(state=state, refused=Rejected(TOO_OLD, message, "occurred_at"))
        events = state.recent_events
        events[marker] = content
        if len(events) > self._window:
            del events[next(iter(events))]
        offset = occurred.utcoffset()
        local_day = (instant + (int(offset.total_seconds()) if offset else 0)) // DAY
        new_customer = state.events == 0
        # The customer's clock never runs backwards: a late event is applied "now", at the latest instant seen.
        now = instant if new_customer else max(state.last_seen, instant)
        step = Step(state=state, instant=instant)
        if not new_customer:
            # Only up to the allowed lateness: a reply a little late must still count as in time.
            step.extend(self.advance(state, customer_id, now - self._lateness))
        self._apply(state, customer_id, event, instant, local_day, step)
        state.events += 1
        state.first_seen = instant if new_customer else min(state.first_seen, instant)
        state.last_seen = now
        if event["type"] == "purchase":
            state.clv = _cents(self.model.clv(state))
        stage = lifecycle.classify(state, now, self._lifecycle, self._stages)
        if stage != state.stage:
            kind = event["type"]
            # A win-back is a purchase made after lapsing, not a late one from before.
            won_back = state.stage == lifecycle.LAPSED and kind == "purchase" and instant >= state.stage_since
            cause = WIN_BACK if won_back else kind
            step.transitions.append(
                Transition(customer_id, state.stage or None, stage, now, cause, event["event_id"])
            )
            state.stage, state.stage_since = stage, now
        state.value_tier = self._tier(state.clv if self._tiers_from_clv else state.net_value)
        if self._detectors:
            self._detect(state, customer_id, event, occurred, instant, local_day, step)
        self._forget_old(state, now)
        state.wake_at = self._next_wake(state, now)
        alive = self.model.p_alive_on(state, now // DAY)
        view = ModelView(alive, self.model.is_best_customer(state.clv)) if alive is not None else None
        step.enriched = encode_enriched(event, state, self._salt, view)
        return step

    def advance(self, state: CustomerState, customer_id: str, until: int) -> Outputs:
        """Fire every time-based change due at or before *until*, each at its own instant."""
        out = Outputs()
        while state.wake_at is not None and state.wake_at <= until:
            due = state.wake_at
            for conversation, data in list(state.sla_cases.items()):
                case = sla.Case.from_list(data)
                if self._fire_case(state, customer_id, case, due, out):
                    state.sla_cases[conversation] = case.to_list()
            for detector in self._detectors:
                memory = state.detector_memory.get(detector.type)
                when = detector.due(memory) if memory is not None else None
                if when is not None and when <= due:
                    memory, findings = detector.fire(memory, customer_id, due, state)
                    self._remember_detector(state, detector.type, memory)
                    for finding in findings:
                        self._raise(state, self._alert(detector.type, customer_id, finding, state), out)
            stage = lifecycle.classify(state, due, self._lifecycle, self._stages)
            if stage != state.stage:
                out.transitions.append(
                    Transition(customer_id, state.stage or None, stage, due, INACTIVITY, None)
                )
                state.stage, state.stage_since = stage, due
            state.wake_at = self._next_wake(state, due)
        return out

    def event_digest(self, event_id: str) -> int:
        """64 bits of a keyed BLAKE2b of *event_id*: the customer's dedupe memory compares these.

        Keyed, so nobody can craft two ids that collide; 64 bits, so chance collisions do not
        matter in practice (docs: delivery guarantees).
        """
        digest = hashlib.blake2b(event_id.encode(), digest_size=8, key=self._dedupe_key).digest()
        return int.from_bytes(digest, "big")

    def act(
        self,
        state: CustomerState | None,
        customer_id: str,
        action: dict[str, Any],
        received_at: float | None = None,
    ) -> Outputs:
        """Apply an operator's action (schemas/alert_action.v1.json) to one of the customer's alerts.

        *received_at* is the action record's broker timestamp (epoch seconds): an action whose ``at``
        is further from it than ``time.max_future_skew_seconds`` is refused as ``stale_action``.
        A snooze longer than ``alerts.max_snooze_minutes`` is clamped, and the alert says so.
        """
        out = Outputs()
        alert_id = action["alert_id"]
        at = int(datetime.fromisoformat(action["at"].upper()).timestamp())
        if received_at is not None and abs(at - received_at) > self._skew:
            side = "after" if at > received_at else "before"
            out.refused = Rejected(
                STALE_ACTION,
                f"action at {action['at']} is {describe_duration(at - received_at)} {side} its record's "
                f"timestamp {iso(int(received_at))} (at most {describe_duration(self._skew)})",
                "at",
            )
            return out
        data = None if state is None else state.alerts_open.get(alert_id)
        if state is None or data is None:
            out.unknown_alert = True
            out.refused = Rejected(
                UNKNOWN_ALERT,
                f"no open alert {alert_id!r} for this customer (never raised, already resolved or forgotten)",
                "alert_id",
            )
            return out
        alert = self._revive(alert_id, customer_id, data)
        by = action["by"]
        kind = action["action"]
        if kind == "resolve":
            updated = alert.with_status(RESOLVED, at, by)
            del state.alerts_open[alert_id]
            out.resolved.append((updated, at - alert.detected_at))
        else:
            details: dict[str, Any] = {}
            if kind == "snooze":
                requested = int(datetime.fromisoformat(action["until"].upper()).timestamp())
                until = min(requested, at + self._max_snooze)
                details["snoozed_until"] = action["until"] if until == requested else iso(until)
                if until < requested:
                    details["snooze_clamped_from"] = action["until"]
                state.snoozed[alert.type] = max(state.snoozed.get(alert.type, 0), until)
            updated = alert.with_status(ACKNOWLEDGED, at, by, **details)
            state.alerts_open[alert_id] = updated.compact()
            if alert.status == OPEN:
                out.acknowledged.append((updated, at - alert.detected_at))
        out.alerts.append(updated)
        # Someone owns the case now: nothing more is raised for it. A resolved case is closed, so a
        # new question in the same conversation starts a new case.
        for conversation, case_data in list(state.sla_cases.items()):
            if case_data[3] in alert.evidence:
                if kind == "resolve":
                    del state.sla_cases[conversation]
                    continue
                case = sla.Case.from_list(case_data)
                case.flags |= sla.HANDLED
                state.sla_cases[conversation] = case.to_list()
        state.wake_at = self._next_wake(state, state.last_seen)
        return out

    def _fire_case(
        self, state: CustomerState, customer_id: str, case: sla.Case, due: int, out: Outputs
    ) -> bool:
        changed = False
        if case.flags & (sla.BREACHED | sla.HANDLED):
            return False
        top_tier = state.value_tier == self.config.top_tier
        zone = self.config.calendars.for_touchpoint(case.channel, case.location).zone
        if case.warn_at and not case.flags & sla.WARNED and case.warn_at <= due:
            case.flags |= sla.WARNED
            warning = sla.case_alert(
                FIRST_RESPONSE_DUE_SOON,
                customer_id,
                case,
                case.warn_at,
                state.stage,
                state.value_tier,
                top_tier,
                zone,
            )
            self._raise(state, warning, out)
            changed = True
        if case.deadline <= due:
            case.flags |= sla.BREACHED
            breach = sla.case_alert(
                case.breach_type,
                customer_id,
                case,
                case.deadline,
                state.stage,
                state.value_tier,
                top_tier,
                zone,
            )
            if self._raise(state, breach, out):
                # The breach supersedes its early warning: close the warning so no consumer keeps it open.
                warning_id = make_alert_id(FIRST_RESPONSE_DUE_SOON, customer_id, (case.event_id,))
                kept = state.alerts_open.pop(warning_id, None)
                if kept is not None:
                    warning = self._revive(warning_id, customer_id, kept)
                    closed = warning.with_status(RESOLVED, case.deadline, AUTO_SUPERSEDED)
                    out.alerts.insert(len(out.alerts) - 1, closed)
                    out.resolved.append((closed, case.deadline - warning.detected_at))
            else:
                case.flags |= sla.SUPPRESSED
            changed = True
        return changed

    def _raise(self, state: CustomerState, alert: Alert, out: Outputs) -> bool:
        """Publish *alert* unless snoozed or within its type's cooldown for this customer."""
        if alert.alert_id in state.alerts_open:
            return True  # already raised: the same evidence gives the same alert
        if self._inhibited(state, alert.type):
            out.suppressed.append((alert.type, "inhibited"))
            return False
        if state.snoozed.get(alert.type, 0) > alert.detected_at:
            out.suppressed.append((alert.type, "snoozed"))
            return False
        last = state.alert_last.get(alert.type)
        cooldown = self.config.alerts.cooldown_seconds(alert.type)
        cooling = last is not None and 0 <= alert.detected_at - last < cooldown
        # An escalation to critical is always reported: the cooldown is against repetition, not worsening.
        if cooling and alert.severity != CRITICAL:
            out.suppressed.append((alert.type, "cooldown"))
            return False
        state.alert_last[alert.type] = alert.detected_at if last is None else max(last, alert.detected_at)
        state.alerts_open[alert.alert_id] = alert.compact(keep_text=alert.type not in SLA_ALERT_TYPES)
        while len(state.alerts_open) > self.config.alerts.max_open_per_customer:
            oldest = min(state.alerts_open, key=lambda key: state.alerts_open[key][2])
            del state.alerts_open[oldest]
        out.alerts.append(alert)
        return True

    def _detect(
        self,
        state: CustomerState,
        customer_id: str,
        event: dict[str, Any],
        occurred: datetime,
        instant: int,
        day: int,
        out: Outputs,
    ) -> None:
        zone = self.config.calendars.for_touchpoint(event["channel"], event.get("location")).zone
        context = Context(customer_id, event, instant, day, occurred.hour, state, self.config.calendars, zone)
        for detector in self._detectors:
            memory, findings = detector.observe(state.detector_memory.get(detector.type), context)
            self._remember_detector(state, detector.type, memory)
            for finding in findings:
                self._raise(state, self._alert(detector.type, customer_id, finding, state), out)

    def _remember_detector(self, state: CustomerState, detector_type: str, memory: Any) -> None:
        if memory is None or memory == {} or memory == []:
            state.detector_memory.pop(detector_type, None)
        else:
            state.detector_memory[detector_type] = memory

    def _alert(self, alert_type: str, customer_id: str, finding: Finding, state: CustomerState) -> Alert:
        severity, reasons, summary = finding.severity, finding.reasons, finding.summary
        if (
            self._top_tier_boost
            and state.value_tier == self.config.top_tier
            and "top_value_tier" not in reasons
        ):
            severity = raise_severity(severity)
            reasons = (*reasons, "top_value_tier")
            summary = f"{summary} Top-tier customer: severity raised."
        return Alert(
            alert_id=make_alert_id(alert_type, customer_id, finding.evidence),
            type=alert_type,
            severity=severity,
            customer_id=customer_id,
            occurred_at=finding.occurred_at,
            detected_at=finding.detected_at,
            summary=summary,
            reasons=reasons,
            evidence=finding.evidence,
            stage=state.stage,
            value_tier=state.value_tier,
            suggested_action=finding.suggested_action,
            channel=finding.channel,
            location=finding.location,
            details=finding.details,
        )

    def _inhibited(self, state: CustomerState, alert_type: str) -> bool:
        inhibitors = self._inhibitions.get(alert_type)
        if not inhibitors:
            return False
        if "complaint" in inhibitors and state.complaints_open:
            return True
        return any(alert_id.partition("/")[0] in inhibitors for alert_id in state.alerts_open)

    def _revive(self, alert_id: str, customer_id: str, data: list[Any]) -> Alert:
        alert = Alert.from_compact(alert_id, customer_id, data)
        if alert.summary:
            return alert  # a detector's alert keeps its text; SLA alerts rebuild theirs from the facts
        zone = self.config.calendars.for_touchpoint(alert.channel or "web", alert.location).zone
        return sla.describe(alert, zone)

    def _forget_old(self, state: CustomerState, now: int) -> None:
        """Bound what alerting keeps: old alerts and settled cases go, unanswered inquiries are capped."""
        horizon = now - round(self.config.alerts.retain_days * DAY)
        for alert_id in [key for key, data in state.alerts_open.items() if data[2] < horizon]:
            del state.alerts_open[alert_id]
        while len(state.complaints_open) > MAX_OPEN_COMPLAINTS:
            del state.complaints_open[min(state.complaints_open, key=state.complaints_open.__getitem__)]
        while len(state.inquiries_open) > MAX_OPEN_INQUIRIES:
            del state.inquiries_open[min(state.inquiries_open, key=state.inquiries_open.__getitem__)]
        settled = sla.BREACHED | sla.HANDLED
        # A settled case of a conversation no longer remembered goes too (a pending one still fires first).
        for conversation in [
            c
            for c, data in state.sla_cases.items()
            if data[4] & settled and (data[1] < horizon or c not in state.inquiries_open)
        ]:
            del state.sla_cases[conversation]
        for alert_type in [t for t, at in state.alert_last.items() if at < horizon]:
            del state.alert_last[alert_type]
        for alert_type in [t for t, until in state.snoozed.items() if until < now]:
            del state.snoozed[alert_type]

    def _next_wake(self, state: CustomerState, after: int) -> int | None:
        candidates = [lifecycle.next_stage_deadline(state, after, self._lifecycle, self._stages)]
        candidates.extend(sla.Case.from_list(data).next_due() for data in state.sla_cases.values())
        candidates.extend(
            detector.due(state.detector_memory[detector.type])
            for detector in self._detectors
            if detector.type in state.detector_memory
        )
        present = [instant for instant in candidates if instant is not None]
        return min(present) if present else None

    def _tier(self, value: float) -> str:
        for minimum, name in self._tiers:
            if value >= minimum:
                return name
        return self._tiers[-1][1]

    def _apply(
        self,
        state: CustomerState,
        customer_id: str,
        event: dict[str, Any],
        instant: int,
        day: int,
        step: Step,
    ) -> None:
        channel = state.channels.get(event["channel"])
        if channel is None:
            state.channels[event["channel"]] = [1, instant]
        else:
            channel[0] += 1
            channel[1] = max(channel[1], instant)
        kind = event["type"]
        attributes = event.get("attributes") or {}
        if kind == "purchase":
            self._purchase(state, attributes, instant, day, step)
        elif kind == "refund":
            state.refund_count += 1
            value = self.config.currency.to_base(attributes["amount"], attributes["currency"])
            if value is None:
                step.unpriced = True
            else:
                state.refund_value = _cents(state.refund_value + _cents(value))
        elif kind == "complaint":
            self._complaint(state, attributes["issue_id"], instant)
        elif kind == "resolution":
            self._resolution(state, attributes["issue_id"], instant)
        elif kind == "feedback":
            self._feedback(state, attributes, instant)
        elif kind == "inquiry" and event["actor"] == "customer":
            conversation = _conversation(event)
            answered_at = state.recently_answered.get(conversation)
            if answered_at is None or answered_at < instant:
                opened = state.inquiries_open.get(conversation)
                # The latest unanswered instant: only then is the open set independent of delivery order.
                state.inquiries_open[conversation] = instant if opened is None else max(opened, instant)
                self._open_case(state, conversation, event, instant, day)
        elif kind == "reply" and (
            event["actor"] == "agent" or (event["actor"] == "bot" and self._bots_answer)
        ):
            conversation = _conversation(event)
            opened = state.inquiries_open.get(conversation)
            if opened is not None and opened <= instant:
                del state.inquiries_open[conversation]
            _remember(state.recently_answered, conversation, instant, self._memory)
            self._close_case(state, customer_id, conversation, instant, step)
        elif kind == "page_view":
            state.last_view_day = max(state.last_view_day, day)
        elif kind == "referral":
            state.referrals += 1

    def _open_case(
        self, state: CustomerState, conversation: str, event: dict[str, Any], instant: int, day: int
    ) -> None:
        existing = state.sla_cases.get(conversation)
        if existing is not None:
            case = sla.Case.from_list(existing)
            if instant >= case.opened_at or case.flags & (sla.WARNED | sla.BREACHED | sla.HANDLED):
                return  # the clock runs from the first unanswered inquiry
        intent = sla.has_intent(event, state.last_view_day == day, self.config.sla)
        opened = sla.open_case(event, instant, self.config.calendars, self.config.sla, intent)
        if opened is not None:
            state.sla_cases[conversation] = opened.to_list()

    def _close_case(
        self, state: CustomerState, customer_id: str, conversation: str, instant: int, out: Outputs
    ) -> None:
        data = state.sla_cases.get(conversation)
        if data is None or data[0] > instant:
            return  # no case, or the reply predates it (a late inquiry)
        case = sla.Case.from_list(data)
        due = case.next_due()
        if due is not None and due <= instant:
            # Replied after a deadline the clock has not reached yet (within the allowed lateness): it still missed it.
            self._fire_case(state, customer_id, case, instant, out)
        del state.sla_cases[conversation]
        response = instant - case.opened_at
        for alert_type in (FIRST_RESPONSE_DUE_SOON, case.breach_type):
            alert_id = make_alert_id(alert_type, customer_id, (case.event_id,))
            kept = state.alerts_open.pop(alert_id, None)
            if kept is not None:
                alert = self._revive(alert_id, customer_id, kept)
                resolved = alert.with_status(RESOLVED, instant, AUTO_REPLY, response_seconds=response)
                out.alerts.append(resolved)
                out.resolved.append((resolved, instant - alert.detected_at))
        if conversation in state.inquiries_open:
            # Delivered out of order, an inquiry later than this reply is still waiting: a new case from it.
            # Its deadline follows the channel's policy at its own instant (business hours, after hours).
            later = state.inquiries_open[conversation]
            waiting = {
                "event_id": f"{case.event_id}+{later}",
                "channel": case.channel,
                "location": case.location,
                "attributes": {"topic": case.topic} if case.topic else {},
            }
            intent = bool(case.flags & sla.INTENT)
            follow_up = sla.open_case(waiting, later, self.config.calendars, self.config.sla, intent)
            if follow_up is not None:
                state.sla_cases[conversation] = follow_up.to_list()

    def _purchase(
        self, state: CustomerState, attributes: dict[str, Any], instant: int, day: int, step: Step
    ) -> None:
        state.purchase_count += 1
        value = self.config.currency.to_base(attributes["amount"], attributes["currency"])
        if value is None:
            state.unpriced_purchases += 1
            step.unpriced = True
        else:
            state.purchase_value = _cents(state.purchase_value + _cents(value))
        state.first_purchase = instant if state.first_purchase == 0 else min(state.first_purchase, instant)
        state.first_purchase_day = (
            day if state.first_purchase_day == 0 else min(state.first_purchase_day, day)
        )
        state.last_purchase = max(state.last_purchase, instant)
        days = state.purchase_days
        position = bisect.bisect_left(days, day)
        if position < len(days) and days[position] == day:
            return
        if position == 0 and state.purchase_days_folded:
            # Older than every day still listed: it may duplicate a folded day; count it as new.
            state.purchase_days_folded += 1
            return
        days.insert(position, day)
        if len(days) > self._max_days:
            del days[0]
            state.purchase_days_folded += 1

    def _complaint(self, state: CustomerState, issue: str, instant: int) -> None:
        state.complaints_total += 1
        resolved_at = state.recently_resolved.get(issue)
        if resolved_at is not None and resolved_at >= instant:
            return  # a late complaint about an issue already resolved after it
        opened = state.complaints_open.get(issue)
        # The latest complaint instant: only then is the open set independent of delivery order.
        state.complaints_open[issue] = instant if opened is None else max(opened, instant)

    def _resolution(self, state: CustomerState, issue: str, instant: int) -> None:
        opened = state.complaints_open.get(issue)
        if opened is not None and opened <= instant:
            del state.complaints_open[issue]
            state.complaints_resolved += 1
        elif issue not in state.recently_resolved:
            state.complaints_resolved += 1  # resolved before its complaint arrived (late complaint)
        _remember(state.recently_resolved, issue, instant, self._memory)

    def _feedback(self, state: CustomerState, attributes: dict[str, Any], instant: int) -> None:
        scores: list[float] = []
        csat = attributes.get("csat")
        if csat is not None:
            if state.csat is None or instant >= state.csat[1]:
                state.csat = [int(csat), instant]
            scores.append((csat - 1) / 4)
        nps = attributes.get("nps")
        if nps is not None:
            if state.nps is None or instant >= state.nps[1]:
                state.nps = [int(nps), instant]
            scores.append(nps / 10)
        # Time-decayed mean: weights halve every half-life, so the order feedback arrives in does not matter.
        if state.satisfaction_weight == 0:
            state.satisfaction_at = instant
        if instant > state.satisfaction_at:
            decay = 0.5 ** ((instant - state.satisfaction_at) / self._half_life)
            state.satisfaction_sum *= decay
            state.satisfaction_weight *= decay
            state.satisfaction_at = instant
        weight = 0.5 ** ((state.satisfaction_at - instant) / self._half_life)
        for score in scores:
            state.satisfaction_sum += weight * score
            state.satisfaction_weight += weight


def content_digest(event: dict[str, Any]) -> int:
    """32 bits of BLAKE2b of the event's canonical JSON: tells a redelivery from a conflicting one."""
    canonical = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(canonical, digest_size=4).digest(), "big")


def _cents(amount: float) -> float:
    # Money is kept to the cent, so sums are exact whatever order events arrive in, and survive the changelog.
    return round(amount, 2)


def _conversation(event: dict[str, Any]) -> str:
    # Without a conversation id, a channel is one running conversation.
    conversation: str | None = event.get("conversation_id")
    return conversation if conversation is not None else "channel:" + event["channel"]


def _remember(memory: dict[str, int], key: str, instant: int, size: int) -> None:
    memory[key] = max(memory.get(key, instant), instant)
    while len(memory) > size:
        del memory[min(memory, key=memory.__getitem__)]
