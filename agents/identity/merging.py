"""An anonymous profile's state merged into its customer's, field by field, and taken back out by a split.

Every aggregate of a state is built so that the order its touchpoints arrive in does not matter
(agents/journey/folding.py): sums to the cent, latest-by-event-time scores, open items keyed by
their latest instant and closed by a later answer. Merging two states combines each the same way,
so touchpoints folded into an anonymous profile and merged into a customer give the customer the
state folding them into it directly gives: the order of a merge and of the touchpoints around it
does not change the result (tests/agents/identity/test_merge_properties.py holds it).

What cannot be combined here because it needs the rules (alerts, first-response cases closing,
detector memories, the stage) is done by the journey's tracker around these functions.

A split subtracts what the merge added, using the profile as it was at the merge and the customer's
ledger entry of that merge: sums and counts exactly; the earliest instants, latest scores and
purchase days as they were before the merge; open items that came from the profile are dropped.
Touchpoints routed to the customer through the link after the merge stay: nothing tells them apart
from the customer's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from agents.domain.dedupe_window import combined
from agents.domain.rounding import round_to
from agents.domain.state import CustomerState

__all__ = ["MAX_LEDGER", "Ledger", "combine", "subtract"]

#: Merges remembered per customer for a split; an older merge is split from the profile's snapshot alone.
MAX_LEDGER: Final = 8


@dataclass(slots=True)
class Ledger:
    """What the customer's state was before one merge, where a merge cannot simply be subtracted."""

    from_key: str
    at: int
    event_id: str
    #: Purchase days the merge added (the customer had none of them), and folded days it added.
    added_days: list[int] = field(default_factory=list)
    added_folded: int = 0
    first_seen: int = 0
    first_purchase: int = 0
    first_purchase_day: int = 0
    last_purchase: int = 0
    csat: list[int] | None = None
    nps: list[int] | None = None
    #: (alert id under the profile, alert id under the customer) of every alert that moved.
    alerts: list[list[str]] = field(default_factory=list)

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the dataclass's generated one runs interpreted.
    def __init__(
        self,
        from_key: str,
        at: int,
        event_id: str,
        added_days: list[int] | None = None,
        added_folded: int = 0,
        first_seen: int = 0,
        first_purchase: int = 0,
        first_purchase_day: int = 0,
        last_purchase: int = 0,
        csat: list[int] | None = None,
        nps: list[int] | None = None,
        alerts: list[list[str]] | None = None,
    ) -> None:
        self.from_key = from_key
        self.at = at
        self.event_id = event_id
        self.added_days = [] if added_days is None else added_days
        self.added_folded = added_folded
        self.first_seen = first_seen
        self.first_purchase = first_purchase
        self.first_purchase_day = first_purchase_day
        self.last_purchase = last_purchase
        self.csat = csat
        self.nps = nps
        self.alerts = [] if alerts is None else alerts

    def to_list(self) -> list[Any]:
        return [
            self.from_key,
            self.at,
            self.event_id,
            self.added_days,
            self.added_folded,
            self.first_seen,
            self.first_purchase,
            self.first_purchase_day,
            self.last_purchase,
            self.csat,
            self.nps,
            self.alerts,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> Ledger:
        return cls(*data)


def combine(
    into: CustomerState,
    merged: CustomerState,
    entry: Ledger,
    *,
    dedupe_window: int,
    answered_memory: int,
    max_purchase_days: int,
    half_life: float,
) -> None:
    """Add *merged* (a profile's state) to *into*; note in *entry* what a split needs to take it back."""
    new = into.events == 0
    entry.first_seen, entry.first_purchase = into.first_seen, into.first_purchase
    entry.first_purchase_day, entry.last_purchase = into.first_purchase_day, into.last_purchase
    entry.csat, entry.nps = into.csat, into.nps
    into.events += merged.events
    into.first_seen = merged.first_seen if new else _earliest(into.first_seen, merged.first_seen)
    into.last_seen = max(into.last_seen, merged.last_seen)
    for channel, (count, last) in merged.channels.items():
        mine = into.channels.get(channel)
        into.channels[channel] = [count, last] if mine is None else [mine[0] + count, max(mine[1], last)]

    into.purchase_count += merged.purchase_count
    into.purchase_value = _cents(into.purchase_value + merged.purchase_value)
    own = set(into.purchase_days)
    entry.added_days = [day for day in merged.purchase_days if day not in own]
    days = sorted(own | set(merged.purchase_days))
    entry.added_folded = merged.purchase_days_folded
    while len(days) > max_purchase_days:
        dropped = days.pop(0)
        entry.added_folded += 1
        if dropped in entry.added_days:
            entry.added_days.remove(dropped)
    into.purchase_days = days
    into.purchase_days_folded += entry.added_folded
    into.first_purchase = _earliest(into.first_purchase, merged.first_purchase)
    into.first_purchase_day = _earliest(into.first_purchase_day, merged.first_purchase_day)
    into.last_purchase = max(into.last_purchase, merged.last_purchase)
    into.unpriced_purchases += merged.unpriced_purchases
    into.refund_count += merged.refund_count
    into.refund_value = _cents(into.refund_value + merged.refund_value)

    into.complaints_total += merged.complaints_total
    into.complaints_resolved += merged.complaints_resolved
    _latest_of(into.recently_resolved, merged.recently_resolved, answered_memory)
    _latest_of(into.complaints_open, merged.complaints_open, None)
    _close_answered(into.complaints_open, into.recently_resolved)
    _latest_of(into.recently_answered, merged.recently_answered, answered_memory)
    _latest_of(into.inquiries_open, merged.inquiries_open, None)
    _close_answered(into.inquiries_open, into.recently_answered)

    if merged.csat is not None and (into.csat is None or merged.csat[1] > into.csat[1]):
        into.csat = list(merged.csat)
    if merged.nps is not None and (into.nps is None or merged.nps[1] > into.nps[1]):
        into.nps = list(merged.nps)
    _add_satisfaction(into, merged, half_life, 1.0)
    into.referrals += merged.referrals
    into.last_view_day = max(into.last_view_day, merged.last_view_day)

    # The dedupe memory: the profile's events first, being the older ones as a rule; the window keeps the newest.
    into.recent_events = combined(merged.recent_events, into.recent_events, dedupe_window)

    for conversation, case in merged.sla_cases.items():
        mine = into.sla_cases.get(conversation)
        if mine is None or case[0] < mine[0]:
            into.sla_cases[conversation] = list(case)  # the clock runs from the first unanswered inquiry
    for alert_type, at in merged.alert_last.items():
        into.alert_last[alert_type] = max(into.alert_last.get(alert_type, at), at)
    for alert_type, until in merged.snoozed.items():
        into.snoozed[alert_type] = max(into.snoozed.get(alert_type, until), until)


def subtract(into: CustomerState, merged: CustomerState, entry: Ledger | None, half_life: float) -> None:
    """Take from *into* what merging *merged* added (*entry*: the customer's ledger of that merge, if kept)."""
    into.events = max(0, into.events - merged.events)
    for channel, (count, _last) in merged.channels.items():
        mine = into.channels.get(channel)
        if mine is not None:
            if mine[0] <= count:
                del into.channels[channel]
            else:
                mine[0] -= count
    into.purchase_count = max(0, into.purchase_count - merged.purchase_count)
    into.purchase_value = _cents(max(0.0, into.purchase_value - merged.purchase_value))
    into.unpriced_purchases = max(0, into.unpriced_purchases - merged.unpriced_purchases)
    into.refund_count = max(0, into.refund_count - merged.refund_count)
    into.refund_value = _cents(max(0.0, into.refund_value - merged.refund_value))
    into.complaints_total = max(0, into.complaints_total - merged.complaints_total)
    into.complaints_resolved = max(0, into.complaints_resolved - merged.complaints_resolved)
    into.referrals = max(0, into.referrals - merged.referrals)
    if entry is not None:
        into.purchase_days = [day for day in into.purchase_days if day not in set(entry.added_days)]
        into.purchase_days_folded = max(0, into.purchase_days_folded - entry.added_folded)
        if entry.first_seen:
            into.first_seen = entry.first_seen
        if into.first_purchase == merged.first_purchase:
            into.first_purchase = entry.first_purchase
            into.first_purchase_day = entry.first_purchase_day
        if into.last_purchase == merged.last_purchase:
            into.last_purchase = entry.last_purchase
        if into.csat == merged.csat:
            into.csat = entry.csat
        if into.nps == merged.nps:
            into.nps = entry.nps
    if into.purchase_count == 0:
        into.first_purchase = into.first_purchase_day = into.last_purchase = 0
    for issue in merged.complaints_open:
        into.complaints_open.pop(issue, None)
    for conversation in merged.inquiries_open:
        into.inquiries_open.pop(conversation, None)
    for conversation, case in merged.sla_cases.items():
        own_case = into.sla_cases.get(conversation)
        if own_case is not None and own_case[3] == case[3]:
            del into.sla_cases[conversation]
    _add_satisfaction(into, merged, half_life, -1.0)


def _earliest(a: int, b: int) -> int:
    """The earlier of two instants where 0 means none."""
    return b if not a else a if not b else min(a, b)


def _cents(amount: float) -> float:
    return round_to(amount, 2)


def _latest_of(into: dict[str, int], other: dict[str, int], size: int | None) -> None:
    """*other*'s items into *into*, each at its latest instant; then only the *size* latest (None: all)."""
    for key, instant in other.items():
        into[key] = max(into.get(key, instant), instant)
    while size is not None and len(into) > size:
        del into[min(into, key=into.__getitem__)]


def _close_answered(opened: dict[str, int], answered: dict[str, int]) -> None:
    """Drop the open items an answer at or after their latest instant closes (as folding the answer does)."""
    for key in [key for key, instant in opened.items() if answered.get(key, -1) >= instant]:
        del opened[key]


def _add_satisfaction(into: CustomerState, other: CustomerState, half_life: float, sign: float) -> None:
    """Add (sign 1) or take back (-1) *other*'s time-decayed feedback, both at the later of the two instants."""
    if other.satisfaction_weight <= 0:
        return
    if into.satisfaction_weight <= 0 and sign > 0:
        into.satisfaction_sum = other.satisfaction_sum
        into.satisfaction_weight = other.satisfaction_weight
        into.satisfaction_at = other.satisfaction_at
        return
    at = max(into.satisfaction_at, other.satisfaction_at)
    mine = 0.5 ** ((at - into.satisfaction_at) / half_life)
    theirs = 0.5 ** ((at - other.satisfaction_at) / half_life)
    into.satisfaction_sum = into.satisfaction_sum * mine + sign * other.satisfaction_sum * theirs
    into.satisfaction_weight = into.satisfaction_weight * mine + sign * other.satisfaction_weight * theirs
    into.satisfaction_at = at
    if into.satisfaction_weight <= 1e-9:
        into.satisfaction_sum = into.satisfaction_weight = 0.0
