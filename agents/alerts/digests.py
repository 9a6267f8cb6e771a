"""First-response warnings, grouped: one digest per queue and interval on ``alerts.first_response_due_soon``.

A first-response case warns ``sla.warn_before_minutes`` before its deadline, but only when that
warning can lead somewhere: its channel is staffed at that moment (its calendar is open) and the
deadline is still ahead (agents/alerts/sla_cases.py). A supervisor does not want one record per
inquiry; with ``sla.warning_digest_minutes`` set (the default), each warning becomes a ``DueSoon``
item, and the items of one queue (channel and team) whose warning falls in one interval of event
time are published as one digest alert when the interval ends. The digest lists the inquiries
still unanswered at that moment whose deadline is still ahead, most urgent first; it closes
itself (``auto:settled``) at the last of their deadlines, when each has been answered or has
become a breach alert, and says how many were answered in time.

Customers of one queue live in every partition, so the digests are made where the items of all
partitions meet (agents/coordination/coordinator.py): an interval is published once every partition
has said its clock passed the interval's end, which makes the digests the same in replay and in
the live worker, however the partitions are spread over workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Final

import orjson

from agents.domain.alert import (
    FIRST_RESPONSE_DUE_SOON,
    RESOLVED,
    SEVERITIES,
    Alert,
    DueSoon,
    make_alert_id,
)
from agents.domain.instants import iso

__all__ = ["QUEUE", "SETTLED", "WarningDigests"]

#: How a digest ends: every inquiry on it was answered or has breached.
SETTLED: Final = "auto:settled"
#: Inquiries named in a digest's summary.
NAMED: Final = 5
#: Inquiries a digest lists in ``details.items`` (the most urgent; ``details.count`` says how many in
#: all): one record must stay far below Kafka's request size however busy a queue is.
LISTED: Final = 100
#: The prefix of a digest's ``customer_id``: a digest is about a queue, not a customer.
QUEUE: Final = "queue:"


@dataclass(slots=True)
class _Digest:
    """A published digest, kept until its last deadline to say how it ended."""

    alert: dict[str, Any]
    items: dict[str, int]  # item id -> deadline
    closes_at: int


@dataclass
class WarningDigests:
    """Items of every partition in, digests out: one per queue and interval, then their ends.

    *interval* is ``sla.warning_digest_minutes`` in seconds; *zone* gives the calendar zone of a
    queue's channel and team, for the times in a summary.
    """

    interval: int
    zone: Callable[[str, str | None], tzinfo]
    #: (queue, interval start) → item id → item, not published yet.
    pending: dict[tuple[str, int], dict[str, DueSoon]] = field(default_factory=dict)
    #: item id → when its inquiry was answered, for the items pending or published.
    answered: dict[str, int] = field(default_factory=dict)
    published: dict[str, _Digest] = field(default_factory=dict)
    #: Intervals ending at or before this have been published.
    horizon: int = 0
    #: item id → (the item, its JSON): what ``stored`` encoded last time, reused while the item is the same.
    _encoded: dict[str, tuple[DueSoon, orjson.Fragment]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def add(self, item: DueSoon) -> None:
        """An item; one late for its interval (published already) joins the next one."""
        start = max(item.warn_at - item.warn_at % self.interval, self.horizon)
        start -= start % self.interval
        self.pending.setdefault((item.queue, start), {})[item.item_id] = item

    def answer(self, item_id: str, at: int) -> None:
        """The inquiry of *item_id* got its first answer at *at*."""
        if item_id in self.answered:
            return
        if any(item_id in items for items in self.pending.values()) or any(
            item_id in digest.items for digest in self.published.values()
        ):
            self.answered[item_id] = at

    def advance(self, until: int) -> list[Alert]:
        """Publish every interval ending at or before *until*, and end the digests whose deadlines passed."""
        out: list[Alert] = []
        for queue, start in sorted(self.pending, key=lambda key: (key[1], key[0])):
            end = start + self.interval
            if end > until:
                continue
            items = self.pending.pop((queue, start))
            digest = self._digest(queue, start, end, items.values())
            listed = self.published[digest.alert_id].items if digest is not None else {}
            if digest is not None:
                out.append(digest)
            for item_id in items:
                if item_id not in listed:
                    self.answered.pop(item_id, None)
        self.horizon = max(self.horizon, until - until % self.interval)
        for alert_id, published in sorted(
            self.published.items(), key=lambda pair: (pair[1].closes_at, pair[0])
        ):
            if published.closes_at <= until:
                out.append(self._settle(published))
                del self.published[alert_id]
                for item_id in published.items:
                    self.answered.pop(item_id, None)
        return out

    def _digest(self, queue: str, start: int, end: int, items: Iterable[DueSoon]) -> Alert | None:
        still = sorted(
            (
                item
                for item in items
                if item.deadline > end and self.answered.get(item.item_id, end + 1) > end
            ),
            key=lambda item: (item.deadline, item.item_id),
        )
        if not still:
            return None
        first = still[0]
        channel, location = first.channel, first.location
        zone = self.zone(channel, location)
        severity = max((item.severity for item in still), key=SEVERITIES.index)
        reasons = ["first_responses_due_soon"]
        for reason in ("purchase_intent", "top_value_tier"):
            if any(reason in item.reasons for item in still):
                reasons.append(reason)
        team = f"for {location}" if location else "with no team"
        count = len(still)
        named = ", ".join(
            f"{item.customer_id} by {datetime.fromtimestamp(item.deadline, zone):%H:%M}"
            + (f" ({item.topic})" if item.topic else "")
            for item in still[:NAMED]
        )
        more = f" and {count - NAMED} more" if count > NAMED else ""
        summary = (
            f"{count} {channel} inquir{'y' if count == 1 else 'ies'} {team} "
            f"{'is' if count == 1 else 'are'} waiting for a first answer due within "
            f"{round((still[-1].deadline - end) / 60)} min: {named}{more}."
        )
        interval = (iso(start), iso(end))
        alert = Alert(
            alert_id=make_alert_id(FIRST_RESPONSE_DUE_SOON, QUEUE + queue, interval),
            type=FIRST_RESPONSE_DUE_SOON,
            severity=severity,
            customer_id=QUEUE + queue,
            occurred_at=min(item.asked_at for item in still),
            detected_at=end,
            summary=summary,
            reasons=tuple(reasons),
            evidence=tuple(item.evidence for item in still[:LISTED]),
            stage="",
            value_tier="",
            suggested_action=(
                "Answer these now, the earliest deadline first: each one answered in time is a breach "
                "avoided. If the queue cannot keep up, move someone onto it."
            ),
            channel=channel,
            location=location,
            details={
                "digest": True,
                "interval": {"start": interval[0], "end": interval[1]},
                "deadline": iso(still[0].deadline),
                "count": count,
                "items": [
                    {
                        "alert_id": item.item_id,
                        "customer_id": item.customer_id,
                        "evidence": [item.evidence],
                        "asked_at": iso(item.asked_at),
                        "deadline": iso(item.deadline),
                        "topic": item.topic,
                        "severity": item.severity,
                        "reasons": list(item.reasons),
                        "customer": {"stage": item.stage, "value_tier": item.value_tier},
                    }
                    for item in still[:LISTED]
                ],
            },
        )
        self.published[alert.alert_id] = _Digest(
            alert.to_dict(), {item.item_id: item.deadline for item in still}, still[-1].deadline
        )
        return alert

    def _settle(self, published: _Digest) -> Alert:
        document = published.alert
        answered = sum(
            1
            for item_id, deadline in published.items.items()
            if self.answered.get(item_id, deadline + 1) <= deadline
        )
        alert = _alert_from_dict(document)
        return alert.with_status(
            RESOLVED,
            published.closes_at,
            SETTLED,
            answered_in_time=answered,
            breached=len(published.items) - answered,
        )

    # --- durable form, for the worker's table ---------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        pending = [
            [queue, start, [item.to_json() for item in items.values()]]
            for (queue, start), items in sorted(self.pending.items())
        ]
        return self._document(pending)

    def stored(self) -> dict[str, Any]:
        """``to_json`` for ``orjson.dumps``, the same bytes: each pending item is encoded once, not per call.

        The coordinator stores its whole state after every record it applies, and all but a few of
        the pending items are the ones it stored the time before.
        """
        previous, encoded = self._encoded, {}
        pending = []
        for (queue, start), items in sorted(self.pending.items()):
            fragments = []
            for item_id, item in items.items():
                known = previous.get(item_id)
                if known is None or known[0] is not item:
                    known = (item, orjson.Fragment(orjson.dumps(item.to_json())))
                encoded[item_id] = known
                fragments.append(known[1])
            pending.append([queue, start, fragments])
        self._encoded = encoded
        return self._document(pending)

    def _document(self, pending: list[Any]) -> dict[str, Any]:
        return {
            "pending": pending,
            "answered": self.answered,
            "published": {
                alert_id: [digest.alert, digest.items, digest.closes_at]
                for alert_id, digest in self.published.items()
            },
            "horizon": self.horizon,
        }

    def load(self, document: dict[str, Any]) -> None:
        self.pending = {
            (queue, start): {item["item_id"]: DueSoon.from_json(item) for item in items}
            for queue, start, items in document.get("pending", ())
        }
        self.answered = dict(document.get("answered", {}))
        self.published = {
            alert_id: _Digest(alert, dict(items), closes_at)
            for alert_id, (alert, items, closes_at) in document.get("published", {}).items()
        }
        self.horizon = int(document.get("horizon", 0))


def _alert_from_dict(document: dict[str, Any]) -> Alert:
    """A published digest back from its record, to republish with its end (which sets its status)."""

    def instant(text: str) -> int:
        return int(datetime.fromisoformat(text).timestamp())

    return Alert(
        alert_id=document["alert_id"],
        type=document["type"],
        severity=document["severity"],
        customer_id=document["customer_id"],
        occurred_at=instant(document["occurred_at"]),
        detected_at=instant(document["detected_at"]),
        summary=document["summary"],
        reasons=tuple(document["reasons"]),
        evidence=tuple(document["evidence"]),
        stage=document["customer"]["stage"],
        value_tier=document["customer"]["value_tier"],
        suggested_action=document["suggested_action"],
        channel=document["channel"],
        location=document["location"],
        details=document["details"],
    )
