"""Story 3, transfers: a customer passed from agent to agent within one contact, or handed over cold.

Customers hate being passed on and having to explain themselves again. Best
practice is the warm hand-off: the first agent stays on the line and briefs the
next. Transfers are counted per contact (the event's ``conversation_id``; without
one, the channel and local day stand for the contact).

Per contact at most one alert is raised per step: a warning for the first cold
transfer below the threshold, a warning when the transfers reach the threshold
(one alert, with both reasons, when that transfer is also cold), and a critical
alert for the one transfer after that. Further transfers in the same contact
raise nothing more: someone already has a critical alert to act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from agents.config import detector_settings
from agents.detectors.base import Context, EventOnly, Finding
from agents.domain.alert import CRITICAL, WARNING
from agents.domain.instants import local_time
from agents.domain.state import CustomerState

TYPE: Final = "excessive_transfers"
#: Contacts remembered per customer, most recent last; older ones are forgotten.
MAX_CONTACTS: Final = 4
#: A contact with no transfer for this long is over: it is forgotten.
CONTACT_SECONDS: Final = 7 * 86_400
#: Flag of a memory entry: the cold-transfer warning below the threshold was raised for this contact.
COLD_RAISED: Final = 1

# One memory entry: [contact key, transfers, flags, latest transfer instant].
_KEY, _COUNT, _FLAGS, _LATEST = range(4)


class ExcessiveTransfers(EventOnly):
    """Too many transfers, or a cold one, within one contact.

    Memory: ``[[contact, transfers, flags, latest transfer instant], ...]``, most
    recently transferred last, at most ``MAX_CONTACTS`` entries, each forgotten a week after its latest
    transfer; None when empty (typically ``[["call-311",2,1,1768208590]]``, 30 bytes).
    """

    type: str = TYPE

    def __init__(self, options: Mapping[str, Any]) -> None:
        settings = detector_settings(TYPE, options)
        self.threshold: int = settings["transfers"]
        self.cold_alerts: bool = settings["cold_transfer_alerts"]

    def merge(self, memory: Any, other: Any, state: CustomerState) -> Any:
        """Both memories' contacts, as one customer's: a contact in both adds its transfers up."""
        contacts: dict[str, list[Any]] = {}
        for entry in [*_entries(memory), *_entries(other)]:
            mine = contacts.get(entry[_KEY])
            if mine is None:
                contacts[entry[_KEY]] = list(entry)
            else:
                mine[_COUNT] += entry[_COUNT]
                mine[_FLAGS] |= entry[_FLAGS]
                mine[_LATEST] = max(mine[_LATEST], entry[_LATEST])
        entries = sorted(contacts.values(), key=lambda entry: (entry[_LATEST], entry[_KEY]))
        return entries[-MAX_CONTACTS:] or None

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        if memory is None and context.event["type"] != "transfer":
            return None, []  # most customers, most events: nothing remembered, nothing to count
        entries = _entries(memory)
        now = max([context.instant, *(entry[_LATEST] for entry in entries)])
        entries = [entry for entry in entries if now - entry[_LATEST] < CONTACT_SECONDS]
        event = context.event
        if event["type"] != "transfer":
            return entries or None, []
        key = _contact(event, context.local_day)
        entry = next((entry for entry in entries if entry[_KEY] == key), None)
        if entry is None:
            entry = [key, 0, 0, context.instant]
        else:
            entries.remove(entry)
        entry[_COUNT] += 1
        entry[_LATEST] = max(entry[_LATEST], context.instant)
        entries.append(entry)
        del entries[:-MAX_CONTACTS]
        finding = self._judge(entry, context)
        return entries, [] if finding is None else [finding]

    def _judge(self, entry: list[Any], context: Context) -> Finding | None:
        """The finding for the transfer just counted in *entry*, if it crosses a step (marks *entry*)."""
        event = context.event
        kind: str = event["attributes"]["transfer_kind"]  # warm or cold: required on a transfer (the schema)
        cold = kind == "cold"
        count: int = entry[_COUNT]
        reasons: list[str] = []
        if count == self.threshold:
            severity = WARNING
            reasons.append("transfers_in_one_contact")
        elif count == self.threshold + 1:
            severity = CRITICAL
            reasons.extend(("transfers_in_one_contact", "escalated"))
        elif count < self.threshold and cold and self.cold_alerts and not entry[_FLAGS] & COLD_RAISED:
            severity = WARNING
            entry[_FLAGS] |= COLD_RAISED
        else:
            return None
        if cold:
            reasons.append("cold_transfer")
        channel = event["channel"]
        at = local_time(context.instant, context.zone)
        who = f"Customer {context.customer_id}"
        if count < self.threshold:
            summary = (
                f"{who} was transferred cold on {channel} at {at}: the next agent had no hand-over, "
                "so the customer had to explain the case again."
            )
            action = (
                "Brief the receiving agent on the case now so the customer repeats nothing, and have one "
                "agent own it to the end, calling the customer back if the call drops; hand over warm from "
                "now on: stay on the line and explain the case to the next agent."
            )
        else:
            still = "now " if severity == CRITICAL else ""
            summary = (
                f"{who} has {still}been passed through {count + 1} agents in one {channel} contact "
                f"({count} transfer{'s' if count != 1 else ''}, the latest {kind} at {at})."
            )
            action = (
                "Stop transferring: have one owner (a team lead if need be) take the case and call the "
                "customer back with its full history, so they repeat nothing; any further hand-off must "
                "be warm, the current agent briefing the next on the line."
            )
        details: dict[str, Any] = {
            "contact": entry[_KEY],
            "transfers": count,
            "agents": count + 1,
            "threshold": self.threshold,
            "transfer_kind": kind,
        }
        return Finding(
            severity=severity,
            evidence=(event["event_id"],),
            reasons=tuple(reasons),
            summary=summary,
            suggested_action=action,
            occurred_at=context.instant,
            detected_at=context.instant,
            details=details,
            channel=channel,
            location=event.get("location"),
        )


def _contact(event: dict[str, Any], local_day: int) -> str:
    """The contact a transfer belongs to: its conversation, else its channel on its local day."""
    conversation: str | None = event.get("conversation_id")
    return conversation if conversation is not None else f"{event['channel']}@{local_day}"


def _entries(memory: Any) -> list[list[Any]]:
    """A fresh copy of the remembered contacts; anything unreadable counts as nothing remembered."""
    if not isinstance(memory, list):
        return []
    return [
        list(entry)
        for entry in memory
        if isinstance(entry, list)
        and len(entry) == 4
        and isinstance(entry[_COUNT], int)
        and isinstance(entry[_LATEST], int)
    ]
