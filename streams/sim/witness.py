"""Writing down the story situations as the journeys create them (the ground truth, streams/sim/truth.py).

Every check here reads what the simulator already decided (when the reply will come, whether the
issue gets resolved, how the customer feels) and draws no random number, so recording the truth
never changes the traffic.
"""

from __future__ import annotations

from typing import Any

from streams.sim.clock import DAY, MINUTE, TEAM_CLOSE, TEAM_DAYS, TEAM_OPEN, Clock
from streams.sim.customer import Customer
from streams.sim.truth import (
    ADVOCATE_EVERY_DAYS,
    ADVOCATE_SATISFACTION,
    DELIGHT_SECONDS,
    ON_CALL_MINUTES,
    PROMISED,
    PROMOTER_NPS,
    SERVICE_CONTACT_DAYS,
    UNHAPPY_CSAT,
    UNHAPPY_NPS,
    Truth,
)

#: Open complaints and service questions remembered per customer for the truth about offers.
_REMEMBERED = 8


class Witness:
    """Records each story situation in ``self.truth`` as the journey that creates it is played."""

    truth: Truth
    clock: Clock

    def _staffed(self, t: int) -> bool:
        raise NotImplementedError

    def _witness_first_response(
        self,
        c: Customer,
        inquiry: dict[str, Any],
        channel: str,
        asked: int,
        replied: int | None,
        service: bool,
    ) -> None:
        """A written question and when a person first answered it (None: never); *service*: not shopping."""
        staffed = self._staffed(asked)
        if channel == "chat" and not staffed:
            deadline = asked + ON_CALL_MINUTES * MINUTE
        else:
            promise = PROMISED[channel] * MINUTE
            deadline = self.clock.add_business(asked, promise, TEAM_DAYS, TEAM_OPEN, TEAM_CLOSE)
        if service:
            c.questions.append((asked, replied or 0, inquiry))
            del c.questions[:-_REMEMBERED]
        if replied is not None and replied <= deadline:
            return
        kind = "first_response_breach" if staffed else "after_hours_unanswered"
        details: dict[str, Any] = {"channel": channel, "conversation": inquiry.get("conversation_id")}
        if replied is not None:
            details["answered_after_minutes"] = round((replied - asked) / MINUTE)
        self.truth.record(c.cid, kind, deadline, [inquiry], **details)

    def _witness_complaint(self, c: Customer, complaint: dict[str, Any], at: int) -> None:
        """One more contact about the customer's open issue."""
        c.issue_events.append(complaint)
        issue = c.issue_id
        if issue not in c.complaints:
            c.complaints[issue] = [at, 0, complaint]
            while len(c.complaints) > _REMEMBERED:
                del c.complaints[next(iter(c.complaints))]
            c.issue_case = self.truth.record(
                c.cid, "service_recovery", at, [complaint], issue_id=issue, cause="complaint"
            )
        elif c.issue_case is not None:
            c.issue_case.events.append(complaint)  # every complaint about the issue is part of its failure
        if len(c.issue_events) == 3:
            c.issue_repeat = self.truth.record(
                c.cid, "repeat_contact_unresolved", at, c.issue_events[-3:], issue_id=issue
            )
        elif len(c.issue_events) > 3 and c.issue_repeat is not None:
            c.issue_repeat.events.append(complaint)  # and each further contact keeps it going

    def _witness_resolution(self, c: Customer, issue: str, at: int) -> None:
        opened = c.complaints.get(issue)
        if opened is not None and not opened[1]:
            opened[1] = at
        case = c.issue_case
        if case is not None and case.details.get("issue_id") == issue:
            hours = self.clock.business_hours(case.at, at, TEAM_DAYS, TEAM_OPEN, TEAM_CLOSE)
            case.details["recovered_within_hours"] = round(hours, 1)
            c.issue_case = None

    def _witness_feedback(
        self, c: Customer, feedback: dict[str, Any], at: int, scores: dict[str, Any]
    ) -> None:
        csat, nps = scores.get("csat"), scores.get("nps")
        low = (csat is not None and csat <= UNHAPPY_CSAT) or (nps is not None and nps <= UNHAPPY_NPS)
        if low:
            self.truth.record(c.cid, "service_recovery", at, [feedback], cause="unhappy_feedback")
        promoter = nps is not None and nps >= PROMOTER_NPS
        if (
            promoter
            and c.satisfaction >= ADVOCATE_SATISFACTION
            and len(c.purchase_days) >= 2
            and at - c.advocate_at >= ADVOCATE_EVERY_DAYS * DAY
        ):
            c.advocate_at = at
            self.truth.record(c.cid, "advocate_opportunity", at, [feedback], nps=nps)

    def _witness_offer(self, c: Customer, offer: dict[str, Any], at: int) -> None:
        """An offer: selling during service if a complaint is open or a service question waits."""
        complaints = [
            first_complaint
            for first, resolved, first_complaint in c.complaints.values()
            if first <= at and (not resolved or resolved > at)
        ]
        horizon = at - SERVICE_CONTACT_DAYS * DAY
        questions = [
            question
            for asked, answered, question in c.questions
            if horizon <= asked <= at and (not answered or answered > at)
        ]
        if complaints or questions:
            self.truth.record(
                c.cid,
                "sales_in_service",
                at,
                [offer],
                related=[*complaints, *questions],
                open_complaints=len(complaints),
                open_questions=len(questions),
            )

    def _witness_queue(self, c: Customer, wait: dict[str, Any], at: int, seconds: float) -> None:
        if seconds > DELIGHT_SECONDS:
            self.truth.record(c.cid, "long_wait", at, [wait], wait_seconds=seconds)

    def _witness_transfers(self, c: Customer, transfers: list[tuple[dict[str, Any], int, bool]]) -> None:
        """The transfers of one call: too many, or a cold one."""
        cold = [at for _, at, is_cold in transfers if is_cold]
        if len(transfers) < 2 and not cold:
            return
        at = min([*cold, transfers[1][1]] if len(transfers) >= 2 else cold)
        events = [event for event, _, _ in transfers]
        self.truth.record(
            c.cid, "excessive_transfers", at, events, transfers=len(transfers), cold=len(cold),
            conversation=events[0].get("conversation_id"),
        )  # fmt: skip

    def _witness_churn(self, c: Customer, at: int, why: str) -> None:
        if c.purchases:
            events = [c.last_purchase] if c.last_purchase is not None else []
            self.truth.record(c.cid, "churn_risk", at, events, cause=why, purchases=c.purchases)

    def _witness_misuse(self, c: Customer, purchases: list[dict[str, Any]], at: int, where: str) -> None:
        self.truth.record(c.cid, "usage_pattern_change", at, purchases, cause="card_misuse", where=where)
