"""Service recovery after a failure (story 5: apology is never enough).

Three signals need the recovery playbook (acknowledge, apologise, propose a remedy, carry it out at once,
say what will change):

* a ``complaint`` (unless its issue was already resolved at or after it: a late delivery);
* a ``feedback`` with CSAT at or below ``max_csat`` or NPS at or below ``max_nps``;
* a ``refund`` while the customer has an open complaint, or within ``REFUND_WINDOW_DAYS`` after their
  latest complaint.

A complaint or low feedback opens a *case* for its subject (the complaint's issue; the feedback's
``attributes.issue_id``, else the customer's general satisfaction) and raises a warning. If the case is
not recovered within ``escalate_after_business_hours`` business hours, counted from the signal on the
calendar of its channel and location, ``fire`` raises a critical alert. A case is recovered by a
``resolution`` of its issue at or after it (any resolution recovers the general case) or by a later CSAT
of ``RECOVERED_CSAT`` or more.

One case, one warning and at most one escalation: a further complaint or low feedback about a subject
whose case is open raises nothing here (``repeat_contact_unresolved`` counts the repetition) and keeps
the first signal's clock; only low feedback after the case escalated raises a warning again, naming
the case (the customer's verdict on an escalated case is news for whoever owns it). A refund always raises its own warning (money handed
back is news for whoever owns the case), naming the case's first signal when there is one; a refund on
an issue with no case opens one, unless the issue is no longer open, as there is nothing left to
resolve. A refund after the issue was resolved raises nothing: it is the remedy, not a new failure.
An escalated case is kept, silent, until recovered or ``ESCALATED_DAYS`` after it opened.

A case's alerts clear when it is recovered: a ``resolution`` of its issue (any resolution for a
case tied to no issue) at or after the signal (``auto:resolution``), or a CSAT of
``RECOVERED_CSAT`` or more after it (``auto:recovered``). The escalation supersedes the warning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from agents.config import detector_settings
from agents.detectors.base import Context, Finding, describe_span
from agents.domain.alert import CRITICAL, WARNING, Alert
from agents.domain.instants import DAY, iso, local_time
from agents.domain.state import CustomerState

__all__ = ["ESCALATED_DAYS", "MAX_CASES", "RECOVERED_CSAT", "REFUND_WINDOW_DAYS", "ServiceRecovery"]

TYPE: Final = "service_recovery"
#: Cases remembered per customer; beyond this the oldest is forgotten (unescalated, it never escalates).
MAX_CASES: Final = 4
#: An escalated case is forgotten this long after it opened, if nobody recorded its recovery.
ESCALATED_DAYS: Final = 30
#: A refund this many days after a complaint still belongs to it.
REFUND_WINDOW_DAYS: Final = 14
#: A CSAT this high after a case opened means the customer feels recovered.
RECOVERED_CSAT: Final = 4
#: The subject of a case tied to no issue (low feedback that names none).
GENERAL: Final = ""
#: A case's escalation instant once it has escalated.
ESCALATED: Final = 0

PLAYBOOK: Final = (
    "Call the customer today and follow the recovery playbook: acknowledge what went wrong, apologise "
    "without excuses, propose a remedy, carry it out at once, and tell them what will change so it does "
    "not happen again; then record the resolution."
)


class ServiceRecovery:
    """A complaint, low feedback or refund after a complaint; critical if not recovered in time.

    Memory: ``{"c": {subject: [opened at, escalate at, event id, channel, location, what]}, "l": [instant,
    issue]}``. ``c`` holds the cases, *subject* being an issue id or ``""``, *escalate at* 0 once
    escalated, and *what* ``complaint``, ``refund`` or the low scores (``CSAT 2, NPS 3``); at most
    ``MAX_CASES``. ``l`` is the customer's latest complaint, kept ``REFUND_WINDOW_DAYS`` for a refund
    after it. Either is left out when empty; None when both are. Typically
    ``{"c":{"tv-1":[1767607200,1767861000,"ev-1","email",null,"complaint"]},"l":[1767607200,"tv-1"]}``
    while a complaint is open (about 100 bytes), ``{"l":[1767607200,"tv-1"]}`` for two weeks after.
    """

    type: str = TYPE
    cleared_by: frozenset[str] = frozenset({"resolution", "feedback"})

    def __init__(self, options: Mapping[str, Any]) -> None:
        settings = detector_settings(TYPE, options)
        self.max_csat: int = settings["max_csat"]
        self.max_nps: int = settings["max_nps"]
        self.hours: int | float = settings["escalate_after_business_hours"]

    def merge(self, memory: Any, other: Any, state: CustomerState) -> Any:
        """Both memories' cases, as one customer's: a subject open in both keeps its first signal's clock.

        A case the merged history shows recovered (a good CSAT or a resolution on the other side,
        after the case opened) ends here, as it would have had the two been one customer all along.
        """
        cases, latest = _load(memory)
        their_cases, their_latest = _load(other)
        for subject, case in their_cases.items():
            if subject not in cases or case[0] < cases[subject][0]:
                cases[subject] = case
        for subject in [subject for subject, case in cases.items() if _recovered(state, subject, case[0])]:
            del cases[subject]
        while len(cases) > MAX_CASES:
            del cases[min(cases, key=lambda subject: (cases[subject][0], subject))]
        if their_latest is not None and (latest is None or their_latest[0] > latest[0]):
            latest = their_latest
        return _dump(cases, latest)

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        """Open a case (with its warning) for a signal; close the cases a resolution or good CSAT recovers."""
        cases, latest = _load(memory)
        event = context.event
        kind = event["type"]
        attributes: Mapping[str, Any] = event.get("attributes") or {}
        at = context.instant
        now = max(at, context.state.last_seen)
        for subject in [name for name, case in cases.items() if case[1] == ESCALATED]:
            if now - cases[subject][0] > ESCALATED_DAYS * DAY:
                del cases[subject]
        findings: list[Finding] = []
        if kind == "resolution":
            issue = attributes.get("issue_id")
            for subject in [issue, GENERAL] if isinstance(issue, str) else [GENERAL]:
                case = cases.get(subject)
                if case is not None and case[0] <= at:
                    del cases[subject]
        elif kind == "feedback":
            csat, nps = attributes.get("csat"), attributes.get("nps")
            if isinstance(csat, int) and csat >= RECOVERED_CSAT:
                for subject in [subject for subject, case in cases.items() if case[0] <= at]:
                    del cases[subject]
            low = []
            if isinstance(csat, int) and csat <= self.max_csat:
                low.append(f"CSAT {csat}")
            if isinstance(nps, int) and nps <= self.max_nps:
                low.append(f"NPS {nps}")
            if low:
                issue = attributes.get("issue_id")
                subject = issue if isinstance(issue, str) and issue else GENERAL
                findings.extend(self._open(cases, subject, ", ".join(low), context))
        elif kind == "complaint":
            issue = attributes.get("issue_id")
            if isinstance(issue, str):
                resolved = context.state.recently_resolved.get(issue)
                if resolved is None or resolved < at:
                    findings.extend(self._open(cases, issue, "complaint", context))
                if latest is None or at >= latest[0]:
                    latest = [at, issue]
        elif kind == "refund":
            findings.extend(self._refund(cases, latest, context))
        while len(cases) > MAX_CASES:
            del cases[min(cases, key=lambda subject: (cases[subject][0], subject))]
        if latest is not None and now - latest[0] > REFUND_WINDOW_DAYS * DAY:
            latest = None
        return _dump(cases, latest), findings

    def due(self, memory: Any) -> int | None:
        """The earliest escalation instant of the cases not escalated yet."""
        cases, _ = _load(memory)
        pending = [case[1] for case in cases.values() if case[1] != ESCALATED]
        return min(pending) if pending else None

    def fire(
        self, memory: Any, customer_id: str, now: int, state: CustomerState
    ) -> tuple[Any, list[Finding]]:
        """Escalate every case whose instant has come, unless *state* shows it recovered meanwhile."""
        cases, latest = _load(memory)
        findings: list[Finding] = []
        for subject in sorted(cases, key=lambda name: (cases[name][1], name)):
            case = cases[subject]
            if case[1] == ESCALATED or case[1] > now:
                continue
            if _recovered(state, subject, case[0]):
                del cases[subject]
                continue
            findings.append(self._escalation(customer_id, subject, case))
            case[1] = ESCALATED
        return _dump(cases, latest), findings

    def clears(self, alert: Alert, context: Context) -> str | None:
        """The case is recovered: its issue resolved (any resolution for no issue), or a good CSAT since."""
        event = context.event
        attributes: Mapping[str, Any] = event.get("attributes") or {}
        if context.instant < alert.occurred_at:
            return None  # delivered late: older than the signal
        if event["type"] == "resolution":
            issue = alert.details.get("issue_id")
            return "resolution" if issue is None or attributes.get("issue_id") == issue else None
        csat = attributes.get("csat")
        if isinstance(csat, int) and csat >= RECOVERED_CSAT and context.instant > alert.occurred_at:
            return "recovered"
        return None

    def settled(self, alert: Alert, state: CustomerState) -> str | None:
        """After a merge: the case is recovered in the merged history (``clears``' reasons)."""
        subject = alert.details.get("issue_id")
        return _recovery(state, subject if isinstance(subject, str) else GENERAL, alert.occurred_at)

    def _open(self, cases: dict[str, list[Any]], subject: str, what: str, context: Context) -> list[Finding]:
        """Open the subject's case and warn; a subject with a case already raises nothing more."""
        case = cases.get(subject)
        if case is None:
            cases[subject] = self._case(context, what)
            return [self._warning(cases[subject], subject, what, context)]
        if case[1] == ESCALATED and what != "complaint" and context.instant > case[0]:
            return [self._warning(case, subject, what, context)]
        if case[1] != ESCALATED and context.instant < case[0]:
            cases[subject] = self._case(context, what)  # delivered late: the clock runs from the first signal
        return []

    def _case(self, context: Context, what: str) -> list[Any]:
        event = context.event
        deadline = self._deadline(context)
        return [context.instant, deadline, event["event_id"], event["channel"], event.get("location"), what]

    # --- findings ----------------------------------------------------------------------------------------

    def _warning(
        self,
        case: list[Any] | None,
        subject: str,
        what: str,
        context: Context,
        happened: str | None = None,
    ) -> Finding:
        """The warning for one signal about *subject*, whose case (if any) is *case*.

        *happened* is what the customer went through, as a predicate with its time; by default it is
        made from *what* and *subject*.
        """
        event = context.event
        at = context.instant
        channel = event["channel"]
        evidence: tuple[str, ...] = (event["event_id"],)
        if case is not None and case[2] != event["event_id"]:
            evidence = (case[2], event["event_id"])
        happened = happened or f"{_phrase(what, subject, channel)} on {local_time(at, context.zone)}"
        summary = f"Customer {context.customer_id} {happened}."
        details: dict[str, Any] = {}
        if subject:
            details["issue_id"] = subject
        if case is not None and case[1] == ESCALATED:
            summary += " The case has already been escalated."
        elif case is not None:
            summary += (
                f" Unless it is resolved by {local_time(case[1], context.zone)} "
                f"({self.hours:g} business hours), it escalates."
            )
            details["escalates_at"] = iso(case[1])
        for name in ("csat", "nps", "amount", "currency"):
            value = (event.get("attributes") or {}).get(name)
            if value is not None:
                details[name] = value
        return Finding(
            severity=WARNING,
            evidence=evidence,
            reasons=_reasons(what),
            summary=summary,
            suggested_action=PLAYBOOK,
            occurred_at=at,
            detected_at=at,
            details=details,
            channel=channel,
            location=event.get("location"),
        )

    def _refund(
        self, cases: dict[str, list[Any]], latest: list[Any] | None, context: Context
    ) -> list[Finding]:
        """The warning for a refund after a complaint; opens a case for the issue if it is open and has none."""
        state = context.state
        at = context.instant
        attributes: Mapping[str, Any] = context.event.get("attributes") or {}
        amount = attributes.get("amount")
        refunded = (
            f"was refunded {amount:.2f} {attributes.get('currency', '')}".rstrip()
            if isinstance(amount, int | float)
            else "was refunded"
        )
        refunded += f" by {context.event['channel']} on {local_time(at, context.zone)}"
        if state.complaints_open:
            issue = max(state.complaints_open, key=lambda name: (state.complaints_open[name], name))
            case = cases.get(issue)
            if case is None:
                case = cases[issue] = self._case(context, "refund")
            happened = f"{refunded} while their complaint about issue {issue} is still open"
            return [self._warning(case, issue, "refund", context, happened)]
        if latest is None or not 0 <= at - latest[0] <= REFUND_WINDOW_DAYS * DAY:
            return []
        complained, issue = latest
        resolved = state.recently_resolved.get(issue)
        if resolved is not None and complained <= resolved <= at:
            return []  # the issue was resolved: this refund is the remedy, not another failure
        happened = f"{refunded}, {describe_span(at - complained)} after complaining about issue {issue}"
        return [self._warning(cases.get(issue), issue, "refund", context, happened)]

    def _escalation(self, customer_id: str, subject: str, case: list[Any]) -> Finding:
        opened, deadline, event_id, channel, location, what = case
        summary = (
            f"Customer {customer_id} {_phrase(what, subject, channel)} {describe_span(deadline - opened)} ago, and it "
            f"is still not resolved after {self.hours:g} business hours."
        )
        details: dict[str, Any] = {"opened_at": iso(opened), "business_hours": self.hours}
        if subject:
            details["issue_id"] = subject
        return Finding(
            severity=CRITICAL,
            evidence=(event_id, "escalated"),
            reasons=(*_reasons(what), "not_recovered_in_time"),
            summary=summary,
            suggested_action=(
                f"Escalate to a team lead now: the customer has waited more than {self.hours:g} business "
                f"hours. {PLAYBOOK}"
            ),
            occurred_at=opened,
            detected_at=deadline,
            details=details,
            channel=channel,
            location=location,
            supersedes=((event_id,),),
        )

    def _deadline(self, context: Context) -> int:
        """The escalation instant: the configured business hours after the signal, on its calendar."""
        event = context.event
        calendar = context.calendars.for_touchpoint(event["channel"], event.get("location"))
        due = calendar.add_business_time(datetime.fromtimestamp(context.instant, UTC), self.hours * 3600)
        # A calendar that never opens: fall back to wall time rather than never escalating.
        return (
            math.ceil(due.timestamp()) if due is not None else context.instant + math.ceil(self.hours * 3600)
        )


def _load(memory: Any) -> tuple[dict[str, list[Any]], list[Any] | None]:
    """Fresh copies of the open cases and the latest complaint (memory from the changelog is never mutated)."""
    if not isinstance(memory, dict):
        return {}, None
    stored, latest = memory.get("c"), memory.get("l")
    cases = (
        {subject: list(case) for subject, case in stored.items() if isinstance(case, list) and len(case) == 6}
        if isinstance(stored, dict)
        else {}
    )
    return cases, list(latest) if isinstance(latest, list) and len(latest) == 2 else None


def _dump(cases: dict[str, list[Any]], latest: list[Any] | None) -> dict[str, Any] | None:
    memory: dict[str, Any] = {}
    if cases:
        memory["c"] = cases
    if latest is not None:
        memory["l"] = latest
    return memory or None


def _recovered(state: CustomerState, subject: str, opened: int) -> bool:
    """Whether *state* shows the case recovered after it opened (a signal this detector may have missed)."""
    return _recovery(state, subject, opened) is not None


def _recovery(state: CustomerState, subject: str, opened: int) -> str | None:
    """How *state* shows the case recovered after it opened (``clears``' reasons), or None.

    A CSAT counts only when strictly later: the feedback that opened a case may carry a good CSAT too.
    """
    if state.csat is not None and state.csat[0] >= RECOVERED_CSAT and state.csat[1] > opened:
        return "recovered"
    if subject:
        resolved = state.recently_resolved.get(subject)
        return "resolution" if resolved is not None and resolved >= opened else None
    return "resolution" if any(resolved >= opened for resolved in state.recently_resolved.values()) else None


def _phrase(what: str, subject: str, channel: str) -> str:
    """What the customer did, as a predicate: ``complained about issue tv-1 by email``."""
    if what == "complaint":
        return f"complained about issue {subject} by {channel}"
    if what == "refund":
        return f"was refunded by {channel} over issue {subject}"
    about = f" about issue {subject}" if subject else ""
    return f"gave {what}{about} by {channel}"


def _reasons(what: str) -> tuple[str, ...]:
    if what == "complaint":
        return ("complaint",)
    if what == "refund":
        return ("refund_after_complaint",)
    reasons = []
    if "CSAT" in what:
        reasons.append("low_csat")
    if "NPS" in what:
        reasons.append("low_nps")
    return tuple(reasons)
