"""Story 7, twenty seconds: a queue wait longer than the delight standard on a live channel.

A ``queue_wait`` whose ``attributes.wait_seconds`` is strictly above the
standard, on one of the configured live channels, raises a warning; one that
follows another long wait of the customer's within ``repeat_within_days`` (by
event time, the earlier one at most that long before) raises a critical alert.
A late event is judged against the long waits remembered before it, as the
ordered history would have judged it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from agents.config import detector_settings
from agents.detectors.base import Context, EventOnly, Finding
from agents.domain.alert import CRITICAL, WARNING
from agents.domain.instants import DAY, iso, local_time
from agents.domain.state import CustomerState

TYPE: Final = "long_wait"
#: Long waits remembered per customer, the newest ones: enough to see a repeat within the window.
MAX_WAITS: Final = 4


class LongWait(EventOnly):
    """A long queue wait on a live channel; a repeated one within the window is critical.

    Memory: the instants of the customer's recent long waits, ascending, at most
    ``MAX_WAITS``, each forgotten once the window after it has passed; None when
    empty (typically ``[1768208445]``, 12 bytes).
    """

    type: str = TYPE

    def __init__(self, options: Mapping[str, Any]) -> None:
        settings = detector_settings(TYPE, options)
        self.standard: int | float = settings["wait_seconds"]
        self.channels: frozenset[str] = frozenset(settings["channels"])
        self.window_days: int | float = settings["repeat_within_days"]
        self.window = round(self.window_days * DAY)

    def merge(self, memory: Any, other: Any, state: CustomerState) -> Any:
        """Both memories' long waits, as one customer's."""
        waits = sorted(
            {at for kept in (memory, other) if isinstance(kept, list) for at in kept if isinstance(at, int)}
        )
        return waits[-MAX_WAITS:] or None

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        event = context.event
        judged = event["type"] == "queue_wait" and event["channel"] in self.channels
        if memory is None and not judged:
            return None, []  # most customers, most events: no wait remembered, none to judge
        waits = (
            sorted(value for value in memory if isinstance(value, int)) if isinstance(memory, list) else []
        )
        findings: list[Finding] = []
        if judged:
            wait = (event.get("attributes") or {}).get("wait_seconds")
            if isinstance(wait, int | float) and wait > self.standard:
                earlier = [at for at in waits if 0 <= context.instant - at <= self.window]
                findings.append(self._finding(context, wait, earlier))
                waits = sorted([*waits, context.instant])
        now = max([context.instant, *waits])
        waits = [at for at in waits if now - at <= self.window][-MAX_WAITS:]
        return waits or None, findings

    def _finding(self, context: Context, wait: float, earlier: list[int]) -> Finding:
        event = context.event
        channel = event["channel"]
        at = local_time(context.instant, context.zone)
        summary = (
            f"Customer {context.customer_id} waited {_duration(wait)} in the {channel} queue at {at}, "
            f"over the {_duration(self.standard)} standard"
        )
        details: dict[str, Any] = {
            "wait_seconds": wait,
            "standard_seconds": self.standard,
            "long_waits_in_window": len(earlier) + 1,
            "window_days": self.window_days,
        }
        if event.get("conversation_id") is not None:
            details["conversation_id"] = event["conversation_id"]
        if earlier:
            severity = CRITICAL
            reasons: tuple[str, ...] = ("long_wait", "repeated_long_wait")
            details["previous_long_wait_at"] = iso(earlier[-1])
            summary += f", only {_gap(context.instant - earlier[-1])} after another long wait."
            action = (
                "Call the customer back today with a senior agent, apologise for the repeated waits and "
                f"give them a direct line or a callback slot; review the {channel} queue's staffing at "
                "these hours."
            )
        else:
            severity = WARNING
            reasons = ("long_wait",)
            summary += "."
            action = (
                "Call the customer back promptly and apologise for the wait; "
                f"check the {channel} queue's staffing at this hour."
            )
        return Finding(
            severity=severity,
            evidence=(event["event_id"],),
            reasons=reasons,
            summary=summary,
            suggested_action=action,
            occurred_at=context.instant,
            detected_at=context.instant,
            details=details,
            channel=channel,
            location=event.get("location"),
        )


def _gap(seconds: int) -> str:
    """A time between two events, readably: ``40 min``, ``5 h``, ``3 days``."""
    if seconds < 2 * 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * DAY:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / DAY)} days"


def _duration(seconds: float) -> str:
    """``45 s`` up to two minutes, then whole minutes (``12 min``)."""
    if seconds < 120:
        return f"{seconds:g} s"
    return f"{round(seconds / 60)} min"
