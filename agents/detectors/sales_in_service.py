"""Selling during support (story 4): an offer made while the customer is waiting for service.

An ``offer`` (an agent's pitch or a campaign's push alike) raises a warning when, with the offer
applied, the customer has an open complaint (``state.complaints_open``) or an unanswered service
conversation (``state.inquiries_open``), either one from at or before the offer. An unanswered
conversation whose first-response case shows purchase intent (``sla.INTENT``: the customer asked about
price, a discount, stock or an order, or viewed products that day) is a sales conversation, not a
service one: an offer is a fair answer to it (story 1's lost sale was exactly such an offer, made by a
competitor). An unanswered question counts as an open service contact for three days (in its own
conversation, for as long as it is open): an offer weeks later is marketing, not selling into a
support contact. An open complaint counts at any age. Keeps no memory.

The alert clears once the service it interrupted is over: every complaint it names resolved and
every conversation it names answered (``auto:service_closed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from agents.alerts import sla
from agents.config import detector_settings
from agents.detectors.base import Context, EventOnly, Finding, describe_span
from agents.domain.alert import WARNING, Alert
from agents.domain.instants import local_time

__all__ = ["SalesInService"]

TYPE: Final = "sales_in_service"
#: Issues or conversations named in a summary; the details list them all.
_NAMED: Final = 3

ACTION: Final = (
    "Stop selling to this customer until the service case is closed: resolve the complaint or answer the "
    "open question first, apologise if the offer landed badly, and keep customers with open service "
    "cases out of campaigns."
)


#: How long an unanswered question keeps a customer "in a service contact".
SERVICE_CONTACT_SECONDS = 3 * 86_400


class SalesInService(EventOnly):
    """An offer made while a complaint is open or a service question is unanswered. No memory."""

    type: str = TYPE
    cleared_by: frozenset[str] = frozenset({"resolution", "reply"})

    def __init__(self, options: Mapping[str, Any]) -> None:
        detector_settings(TYPE, options)  # validates: there are no thresholds

    def clears(self, alert: Alert, context: Context) -> str | None:
        """Every complaint and conversation the alert names is resolved or answered now."""
        state = context.state
        issues = alert.details.get("open_issues", ())
        conversations = alert.details.get("open_conversations", ())
        if any(issue in state.complaints_open for issue in issues):
            return None
        if any(conversation in state.inquiries_open for conversation in conversations):
            return None
        return "service_closed"

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        """A warning for an offer made while service is pending; memory is always None."""
        event = context.event
        if event["type"] != "offer":
            return None, []
        state = context.state
        at = context.instant
        issues = sorted(issue for issue, opened in state.complaints_open.items() if opened <= at)
        conversations = sorted(
            conversation
            for conversation, asked in state.inquiries_open.items()
            if asked <= at
            and (at - asked <= SERVICE_CONTACT_SECONDS or conversation == event.get("conversation_id"))
            and not _purchase_intent(state.sla_cases.get(conversation))
        )
        if not issues and not conversations:
            return None, []
        return None, [self._finding(context, issues, conversations)]

    def _finding(self, context: Context, issues: list[str], conversations: list[str]) -> Finding:
        event = context.event
        state = context.state
        at = context.instant
        offer = (event.get("attributes") or {}).get("offer_id")
        parts: list[str] = []
        reasons: list[str] = []
        details: dict[str, Any] = {"offer_id": offer}
        if issues:
            latest = max(state.complaints_open[issue] for issue in issues)
            raised = f"raised {describe_span(at - latest)} earlier"
            if len(issues) > 1:
                parts.append(
                    f"their complaints about issues {_names(issues)} are still open (the latest {raised})"
                )
            else:
                parts.append(f"their complaint about issue {issues[0]} is still open ({raised})")
            reasons.append("offer_during_open_complaint")
            details["open_issues"] = issues
        if conversations:
            oldest = min(state.inquiries_open[conversation] for conversation in conversations)
            own = event.get("conversation_id") in conversations
            if len(conversations) > 1:
                asked = f"{len(conversations)} questions of theirs have waited up to"
            elif own:
                asked = "their question in this same conversation has waited"
            else:
                asked = "a question of theirs has waited"
            parts.append(f"{asked} {describe_span(at - oldest)} for an answer")
            reasons.append("offer_during_open_conversation")
            if own:
                reasons.append("same_conversation")
            details["open_conversations"] = conversations
        when = local_time(at, context.zone)
        summary = (
            f"Customer {context.customer_id} was made offer {offer} on {event['channel']} at {when} while "
            f"{' and '.join(parts)}: sold to during a service contact."
        )
        return Finding(
            severity=WARNING,
            evidence=(event["event_id"],),
            reasons=tuple(reasons),
            summary=summary,
            suggested_action=ACTION,
            occurred_at=at,
            detected_at=at,
            details=details,
            channel=event["channel"],
            location=event.get("location"),
        )


def _purchase_intent(case: list[Any] | None) -> bool:
    """Whether a conversation's first-response case (``sla.Case`` as a list) shows purchase intent."""
    return case is not None and bool(sla.Case.from_list(case).flags & sla.INTENT)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMED])
    return shown if len(names) <= _NAMED else f"{shown} and {len(names) - _NAMED} more"
