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

The worker keeps what grows with the open inquiries one record per entry (``records``): each
pending item, each answer, each published digest and each inquiry it listed, under a key naming
its kind and identity. ``changes`` says which of them changed since it was last asked, so a busy
queue's thousands of pending items are written once each, not with every record applied, and no
record grows with the queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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

__all__ = ["KINDS", "QUEUE", "SETTLED", "WarningDigests"]

#: How a digest ends: every inquiry on it was answered or has breached.
SETTLED: Final = "auto:settled"
#: Inquiries named in a digest's summary.
NAMED: Final = 5
#: Inquiries a digest lists in ``details.items`` (the most urgent; ``details.count`` says how many in
#: all): one record must stay far below Kafka's request size however busy a queue is.
LISTED: Final = 100
#: The prefix of a digest's ``customer_id``: a digest is about a queue, not a customer.
QUEUE: Final = "queue:"

#: The kinds of record the digests are kept in, each under ``<kind>/<JSON array of its identity>``:
#: ``pending/[interval start, queue, item id]`` → the item (``DueSoon.to_json``);
#: ``answered/[item id]`` → when its inquiry was answered;
#: ``published/[digest id]`` → ``[the digest as published, when it closes]``;
#: ``listed/[digest id, item id]`` → the deadline of an inquiry the digest listed.
#: A JSON array, not the parts joined by a separator: a team's name may hold any character.
PENDING: Final = "pending"
ANSWERED: Final = "answered"
PUBLISHED: Final = "published"
LISTED_ITEM: Final = "listed"
KINDS: Final = (PENDING, ANSWERED, PUBLISHED, LISTED_ITEM)
#: An entry of the kept state: its kind, then its identity.
_Entry = tuple[Any, ...]


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
    #: Entries changed since ``changes`` was last called → whether their record was kept then.
    _touched: dict[_Entry, bool] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: item id → how many places hold it (pending in an interval, listed in a published digest), so an
    #: answer learns whether a digest still needs it without scanning every interval and digest.
    _held: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._count_held()

    def add(self, item: DueSoon) -> None:
        """An item; one late for its interval (published already) joins the next one."""
        start = max(item.warn_at - item.warn_at % self.interval, self.horizon)
        start -= start % self.interval
        items = self.pending.setdefault((item.queue, start), {})
        known = item.item_id in items
        self._touch((PENDING, start, item.queue, item.item_id), known)
        if not known:
            self._hold(item.item_id)
        items[item.item_id] = item

    def answer(self, item_id: str, at: int) -> None:
        """The inquiry of *item_id* got its first answer at *at*."""
        if item_id in self.answered:
            return
        if item_id in self._held:
            self._touch((ANSWERED, item_id), False)
            self.answered[item_id] = at

    def advance(self, until: int) -> list[Alert]:
        """Publish every interval ending at or before *until*, and end the digests whose deadlines passed."""
        out: list[Alert] = []
        interval = self.interval
        # Every partition reports its progress after each record it applies, and most reports end no
        # interval and close no digest: then nothing is sorted (a scan, not a sort of every entry).
        due = [key for key in self.pending if key[1] + interval <= until]
        for queue, start in sorted(due, key=lambda key: (key[1], key[0])):
            end = start + interval
            items = self.pending.pop((queue, start))
            for item_id in items:
                self._touch((PENDING, start, queue, item_id), True)
                self._release(item_id)
            digest = self._digest(queue, start, end, items.values())
            listed = self.published[digest.alert_id].items if digest is not None else {}
            if digest is not None:
                out.append(digest)
            for item_id in items:
                if item_id not in listed:
                    self._forget_answer(item_id)
        self.horizon = max(self.horizon, until - until % self.interval)
        ended = [
            (alert_id, digest) for alert_id, digest in self.published.items() if digest.closes_at <= until
        ]
        for alert_id, published in sorted(ended, key=lambda pair: (pair[1].closes_at, pair[0])):
            out.append(self._settle(published))
            self._unpublish(alert_id)
            for item_id in published.items:
                self._forget_answer(item_id)
        return out

    def _forget_answer(self, item_id: str) -> None:
        if self.answered.pop(item_id, None) is not None:
            self._touch((ANSWERED, item_id), True)

    def _publish(self, alert_id: str, digest: _Digest) -> None:
        self._unpublish(alert_id)
        self.published[alert_id] = digest
        self._touch((PUBLISHED, alert_id), False)
        for item_id in digest.items:
            self._touch((LISTED_ITEM, alert_id, item_id), False)
            self._hold(item_id)

    def _unpublish(self, alert_id: str) -> None:
        digest = self.published.pop(alert_id, None)
        if digest is not None:
            self._touch((PUBLISHED, alert_id), True)
            for item_id in digest.items:
                self._touch((LISTED_ITEM, alert_id, item_id), True)
                self._release(item_id)

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
        self._publish(
            alert.alert_id,
            _Digest(alert.to_dict(), {item.item_id: item.deadline for item in still}, still[-1].deadline),
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
        """The whole state as one document (each interval's items by id, so equal states give equal documents).

        A worker before the state was kept a record per entry stored this, whole, in its one record.
        """
        pending = [
            [queue, start, [items[item_id].to_json() for item_id in sorted(items)]]
            for (queue, start), items in sorted(self.pending.items())
        ]
        return {
            "pending": pending,
            "answered": self.answered,
            "published": {
                alert_id: [digest.alert, digest.items, digest.closes_at]
                for alert_id, digest in self.published.items()
            },
            "horizon": self.horizon,
        }

    def bounded(self) -> dict[str, Any]:
        """What the digests keep beside their entries' records: a few numbers, whatever the queues hold."""
        return {"horizon": self.horizon}

    def records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) record of the entries kept now (see ``KINDS``)."""
        for entry in self._entries():
            value = self._value(entry)
            if value is not None:  # always: every entry of the state has its record
                yield _key(entry), value

    def changes(self) -> tuple[dict[bytes, bytes], list[bytes]]:
        """The records to write and the keys to delete since the last call: kept, they hold ``records()``.

        An entry that came and went between two calls is neither written nor deleted.
        """
        writes: dict[bytes, bytes] = {}
        deletes: list[bytes] = []
        for entry, kept in self._touched.items():
            value = self._value(entry)
            if value is not None:
                writes[_key(entry)] = value
            elif kept:
                deletes.append(_key(entry))
        self._touched = {}
        return writes, deletes

    def load(self, document: dict[str, Any]) -> None:
        """Start from *document* (``to_json``, or ``bounded`` beside the entries' records, see ``restore``).

        Entries read from the document are not kept as records yet: ``changes`` writes them all.
        """
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
        self._touched = dict.fromkeys(self._entries(), False)
        self._count_held()

    def restore(self, records: Iterable[tuple[bytes, bytes]]) -> None:
        """Add the entries of *records* (``records()`` as kept) to the state ``load`` started from.

        An answer or a listed inquiry whose item or digest is not there (never kept, or kept alone
        by a worker stopped mid-write) is left out, and its record is deleted at the next ``changes``.
        """
        by_kind: dict[str, list[tuple[list[Any], bytes]]] = {kind: [] for kind in KINDS}
        for key, value in records:
            kind, _, identity = key.decode().partition("/")
            if kind in by_kind:
                by_kind[kind].append((orjson.loads(identity), value))
        for (alert_id,), value in by_kind[PUBLISHED]:
            alert, closes_at = orjson.loads(value)
            known = self.published.get(alert_id)  # also in an old whole document: keep its inquiries
            self.published[alert_id] = _Digest(alert, {} if known is None else known.items, int(closes_at))
        for (alert_id, item_id), value in by_kind[LISTED_ITEM]:
            digest = self.published.get(alert_id)
            if digest is None:
                self._touch((LISTED_ITEM, alert_id, item_id), True)
                continue
            digest.items[item_id] = int(orjson.loads(value))
        for (start, queue, item_id), value in by_kind[PENDING]:
            self.pending.setdefault((queue, int(start)), {})[item_id] = DueSoon.from_json(orjson.loads(value))
        self._count_held()
        for (item_id,), value in by_kind[ANSWERED]:
            if item_id in self._held:
                self.answered[item_id] = int(orjson.loads(value))
            else:
                self._touch((ANSWERED, item_id), True)

    def _hold(self, item_id: str) -> None:
        self._held[item_id] = self._held.get(item_id, 0) + 1

    def _release(self, item_id: str) -> None:
        count = self._held[item_id] - 1
        if count:
            self._held[item_id] = count
        else:
            del self._held[item_id]

    def _count_held(self) -> None:
        """Count the places holding each item afresh (after the state was replaced or restored)."""
        self._held = {}
        for items in self.pending.values():
            for item_id in items:
                self._hold(item_id)
        for digest in self.published.values():
            for item_id in digest.items:
                self._hold(item_id)

    def _touch(self, entry: _Entry, kept: bool) -> None:
        """*entry* is about to change; *kept*: whether it is in the state now (so its record is kept)."""
        if entry not in self._touched:
            self._touched[entry] = kept

    def _entries(self) -> Iterator[_Entry]:
        for (queue, start), items in self.pending.items():
            for item_id in items:
                yield PENDING, start, queue, item_id
        for item_id in self.answered:
            yield ANSWERED, item_id
        for alert_id, digest in self.published.items():
            yield PUBLISHED, alert_id
            for item_id in digest.items:
                yield LISTED_ITEM, alert_id, item_id

    def _value(self, entry: _Entry) -> bytes | None:
        """The record of *entry* as the state is now; None if the state no longer has it."""
        kind = entry[0]
        if kind == PENDING:
            _, start, queue, item_id = entry
            item = self.pending.get((queue, start), {}).get(item_id)
            return None if item is None else orjson.dumps(item.to_json())
        if kind == ANSWERED:
            at = self.answered.get(entry[1])
            return None if at is None else orjson.dumps(at)
        digest = self.published.get(entry[1])
        if kind == PUBLISHED:
            return None if digest is None else orjson.dumps([digest.alert, digest.closes_at])
        deadline = None if digest is None else digest.items.get(entry[2])
        return None if deadline is None else orjson.dumps(deadline)


def _key(entry: _Entry) -> bytes:
    kind: str = entry[0]
    return kind.encode() + b"/" + orjson.dumps(entry[1:])


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
