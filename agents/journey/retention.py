"""What a customer's state keeps, and for how long: every collection is bounded.

Settled first-response cases and cooldown memories go after ``alerts.retain_days``; unanswered
conversations and unresolved issues are capped (the oldest forgotten first); snoozes end. Open
alerts are not forgotten here: each ends with its own clearing or expiry, published
(agents/alerts/closing.py), and ``alerts.max_open_per_customer`` bounds how many there are. With
every collection bounded, a customer's changelog record stays small.
"""

from __future__ import annotations

from typing import Final

from agents.alerts import sla
from agents.domain.instants import DAY
from agents.domain.rounding import round_whole
from agents.domain.state import CustomerState

__all__ = ["MAX_OPEN_COMPLAINTS", "MAX_OPEN_INQUIRIES", "forget_old"]

#: Unanswered conversations remembered per customer; the oldest beyond this are forgotten.
MAX_OPEN_INQUIRIES: Final = 8
#: Unresolved issues remembered per customer; the oldest beyond this are forgotten.
MAX_OPEN_COMPLAINTS: Final = 8


def forget_old(state: CustomerState, now: int, retain_days: float) -> None:
    """Bound what alerting keeps: settled cases go, unanswered inquiries are capped."""
    horizon = now - round_whole(retain_days * DAY)
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
