"""Repeated contacts about one unresolved issue (story 2: the television that kept breaking).

A *contact* is a complaint (any actor), or an inquiry or started call from the customer. Its *issue*
is ``attributes.issue_id`` when present, else ``topic:<topic>`` (lower-cased) for an inquiry or call
with ``attributes.topic`` whose conversation shows no purchase intent (``sla.INTENT``: asking about a
price or a discount is shopping, not a problem); anything else is not about an issue and is ignored.
Several events of one conversation (same ``conversation_id``) about the same issue are one contact; an
event without a conversation id is a contact of its own.

Contacts count while they lie within ``window_days`` of the latest instant the customer has reached.
When a contact brings the count for its issue to ``contacts`` (default 3; ``topic_contacts``, default 4,
for a topic: several questions about deliveries may well be about several deliveries, and measured
against the simulator's ground truth three of them raised mostly false alarms) the rule raises a warning;
with ``escalate_each_contact`` every further contact raises again, one level more severe (critical
from the fourth); without it, only the contact that reaches the threshold raises. A ``resolution`` of
the issue clears its contacts up to the resolution's instant (one carrying ``attributes.topic`` clears
that topic too), and a contact delivered late, older than its issue's latest resolution, is not
counted. The evidence is the newest ``contacts`` contacts' event ids, always including the one that
raised, so every escalation is a new alert; it supersedes the issue's previous alert.

The alert clears with a ``resolution`` of its issue (``auto:resolution``): of its ``issue_id``, or,
for a topic, one carrying that topic.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from agents.alerts import sla
from agents.config import detector_settings
from agents.detectors.base import Context, EventOnly, Finding, describe_span
from agents.domain.alert import CRITICAL, WARNING, Alert, raise_severity
from agents.domain.instants import DAY, iso, local_time
from agents.domain.state import CustomerState

__all__ = ["MAX_ISSUES", "RepeatContactUnresolved"]

TYPE: Final = "repeat_contact_unresolved"
#: Issues remembered per customer; beyond this the one contacted least recently is forgotten.
MAX_ISSUES: Final = 4
#: Contacts remembered per issue beyond the threshold: enough to escalate, and to say how many.
EXTRA_CONTACTS: Final = 3
_TOPIC: Final = "topic:"
#: What a contact of each kind is called in a summary.
_NOUNS: Final = {"complaint": "complaint", "inquiry": "message", "call_started": "call"}


class RepeatContactUnresolved(EventOnly):
    """Raises when a customer keeps coming back about the same issue and nobody resolves it.

    Memory: ``{issue: [[instant, event id, conversation marker], ...]}``, oldest first, the marker being
    the CRC-32 of the conversation id (0 without one). At most ``MAX_ISSUES`` issues and ``contacts +
    EXTRA_CONTACTS`` contacts per issue (``topic_contacts + EXTRA_CONTACTS`` for a topic), each forgotten once it leaves the window; None when empty.
    Typically one or two contacts: ``{"tv-1":[[1767607200,"ev-1",0]]}``, 35-70 bytes.
    """

    type = TYPE
    cleared_by: frozenset[str] = frozenset({"resolution"})

    def __init__(self, options: Mapping[str, Any]) -> None:
        settings = detector_settings(TYPE, options)
        self.contacts = int(settings["contacts"])
        self.topic_contacts = int(settings["topic_contacts"])
        self.window_days: int | float = settings["window_days"]
        self.window = round(self.window_days * DAY)
        self.escalate = bool(settings["escalate_each_contact"])

    def merge(self, memory: Any, other: Any, state: CustomerState) -> Any:
        """Both memories' contacts per issue, as one customer's (a contact counted once, by event id)."""
        issues: dict[str, list[list[Any]]] = {}
        for kept in (memory, other):
            for issue, entries in (kept if isinstance(kept, dict) else {}).items():
                known = issues.setdefault(issue, [])
                seen = {entry[1] for entry in known}
                known.extend(list(entry) for entry in entries if entry[1] not in seen)
        for issue, entries in issues.items():
            entries.sort(key=lambda entry: (entry[0], entry[1]))
            issues[issue] = entries[-self._keep(issue) :]
        while len(issues) > MAX_ISSUES:
            del issues[min(issues, key=lambda name: (issues[name][-1][0], name))]
        return issues or None

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        """Count a contact, clear a resolved issue, forget contacts that left the window."""
        event = context.event
        attributes: Mapping[str, Any] = event.get("attributes") or {}
        now = max(context.instant, context.state.last_seen)
        horizon = now - self.window
        issues: dict[str, list[list[Any]]] = {}
        for issue, entries in (memory if isinstance(memory, dict) else {}).items():
            kept = [entry for entry in entries if entry[0] >= horizon]
            if kept:
                issues[issue] = kept
        findings: list[Finding] = []
        if event["type"] == "resolution":
            self._resolve(issues, attributes, context.instant)
        else:
            issue = _issue(event, attributes, context.state)
            if issue is not None and context.instant >= horizon and not _resolved_after(context, issue):
                finding = self._contact(issues, issue, context)
                if finding is not None:
                    findings.append(finding)
        while len(issues) > MAX_ISSUES:
            del issues[min(issues, key=lambda name: (issues[name][-1][0], name))]
        return (issues or None), findings

    def clears(self, alert: Alert, context: Context) -> str | None:
        """A resolution of the alert's issue (or topic), at or after the alert, clears it."""
        if context.instant < alert.detected_at:
            return None  # a late resolution, older than the contact that raised the alert
        attributes: Mapping[str, Any] = context.event.get("attributes") or {}
        issue, topic = alert.details.get("issue_id"), alert.details.get("topic")
        if issue is not None and attributes.get("issue_id") == issue:
            return "resolution"
        named = attributes.get("topic")
        if topic is not None and isinstance(named, str) and named.strip().lower() == topic:
            return "resolution"
        return None

    def _resolve(self, issues: dict[str, list[list[Any]]], attributes: Mapping[str, Any], at: int) -> None:
        names = [attributes.get("issue_id")]
        topic = attributes.get("topic")
        if isinstance(topic, str) and topic.strip():
            names.append(_TOPIC + topic.strip().lower())
        for name in names:
            if isinstance(name, str) and name in issues:
                kept = [entry for entry in issues[name] if entry[0] > at]
                if kept:
                    issues[name] = kept
                else:
                    del issues[name]

    def _contact(self, issues: dict[str, list[list[Any]]], issue: str, context: Context) -> Finding | None:
        event = context.event
        event_id: str = event["event_id"]
        conversation = event.get("conversation_id")
        marker = zlib.crc32(conversation.encode()) if isinstance(conversation, str) else 0
        entries = list(issues.get(issue, []))
        if any(entry[1] == event_id or (marker and entry[2] == marker) for entry in entries):
            return None  # a redelivery, or another message of a contact already counted
        threshold = self._threshold(issue)
        keep = self._keep(issue)
        before = len(entries)
        entries.append([context.instant, event_id, marker])
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        saturated = len(entries) > keep
        issues[issue] = entries[-keep:]
        count = len(entries) if not saturated else keep
        if count < threshold or (not self.escalate and before >= threshold):
            return None
        finding = self._finding(issues[issue], issue, count, saturated, context)
        if count > threshold:
            # The escalation replaces the issue's alert of the contact before this one.
            kept = issues[issue]
            here = next(i for i, entry in enumerate(kept) if entry[1] == event_id)
            if here >= threshold:
                previous = tuple(entry[1] for entry in kept[here - threshold : here])
                finding = replace(finding, supersedes=(previous,))
        return finding

    def _keep(self, issue: str) -> int:
        """Contacts kept per issue: enough to count the repetition and the escalations after it."""
        return self._threshold(issue) + (EXTRA_CONTACTS if self.escalate else 0)

    def _threshold(self, issue: str) -> int:
        """Contacts that make a repetition: more for a topic, a weaker sign of one issue than an issue id."""
        return self.topic_contacts if issue.startswith(_TOPIC) else self.contacts

    def _finding(
        self, entries: list[list[Any]], issue: str, count: int, saturated: bool, context: Context
    ) -> Finding:
        event = context.event
        event_id: str = event["event_id"]
        threshold = self._threshold(issue)
        others = [entry for entry in entries if entry[1] != event_id][-(threshold - 1) :]
        chosen = sorted([*others, [context.instant, event_id]], key=lambda entry: (entry[0], entry[1]))
        severity = raise_severity(WARNING, count - threshold) if self.escalate else WARNING
        reasons = ["repeated_contacts", "unresolved_issue"]
        if count > threshold:
            reasons.append("escalated")
        first = min(entries[0][0], context.instant)
        latest = max(entries[-1][0], context.instant)
        is_topic = issue.startswith(_TOPIC)
        about = f"'{issue.removeprefix(_TOPIC)}'" if is_topic else f"issue {issue}"
        times = f"{'at least ' if saturated else ''}{count} times"
        when = local_time(context.instant, context.zone)
        summary = (
            f"Customer {context.customer_id} has contacted us {times} in {describe_span(latest - first)} about "
            f"{about} and it is still not resolved (this time a {_NOUNS[event['type']]} by "
            f"{event['channel']} on {when})."
        )
        action = (
            f"Give {about} one owner who calls the customer back today with the whole history, so they "
            "need not explain it again; fix the cause rather than the symptom (replace instead of "
            "repairing again if it keeps failing) and record the resolution."
        )
        if severity == CRITICAL:
            action = f"Escalate to a team lead today. {action}"
        details: dict[str, Any] = {
            "contacts": count,
            "window_days": self.window_days,
            "first_contact_at": iso(first),
        }
        details["topic" if is_topic else "issue_id"] = issue.removeprefix(_TOPIC) if is_topic else issue
        return Finding(
            severity=severity,
            evidence=tuple(entry[1] for entry in chosen),
            reasons=tuple(reasons),
            summary=summary,
            suggested_action=action,
            occurred_at=context.instant,
            detected_at=context.instant,
            details=details,
            channel=event["channel"],
            location=event.get("location"),
        )


def _issue(event: Mapping[str, Any], attributes: Mapping[str, Any], state: CustomerState) -> str | None:
    """The issue a contact is about, or None when the event is not a contact about an issue."""
    kind = event["type"]
    if kind != "complaint" and not (kind in ("inquiry", "call_started") and event["actor"] == "customer"):
        return None
    issue = attributes.get("issue_id")
    if isinstance(issue, str) and issue:
        return issue
    topic = attributes.get("topic")
    if kind == "complaint" or not isinstance(topic, str) or not topic.strip():
        return None
    conversation = event.get("conversation_id")
    case = state.sla_cases.get(conversation) if isinstance(conversation, str) else None
    if case is not None and sla.Case.from_list(case).flags & sla.INTENT:
        return None
    return _TOPIC + topic.strip().lower()


def _resolved_after(context: Context, issue: str) -> bool:
    """Whether *issue* was resolved at or after this contact (a late contact about a settled issue)."""
    resolved = context.state.recently_resolved.get(issue)
    return resolved is not None and resolved >= context.instant
