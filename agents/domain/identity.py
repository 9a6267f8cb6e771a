"""The identity graph's data: what is known of one identifier, and the records that move identity around.

An identifier (an e-mail, a phone number, a device …) is known only by its key
``id:<kind>:<keyed hash>``, never by its value. The same key names the anonymous profile of that
identifier, so the identifier's record (``IdentityRecord``) lives in that profile's state, on the
same partition: one owner, one write. Everything else here travels between partitions as records
on ``touchpoints.by-customer`` (``Claim``, ``MergeIn``, ``Unmerge``, ``Unlink``) or is published (``Merge`` on
``identity.merges``, ``Conflict`` on ``identity.conflicts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from agents.domain.instants import iso

__all__ = [
    "IDENTIFIER_STRENGTH",
    "LINKED",
    "OVER_LIMIT",
    "SHARED",
    "UNLINKED",
    "Claim",
    "Conflict",
    "Control",
    "Forward",
    "IdentityRecord",
    "Merge",
    "MergeIn",
    "Split",
    "Unlink",
    "Unmerge",
]

#: Identifier kinds, strongest first: a loyalty card is issued to one person; a device is shared.
IDENTIFIER_STRENGTH: Final[tuple[str, ...]] = ("loyalty_id", "email", "phone", "openid", "device_id")

#: What an identifier is: claimed by nobody yet; by one customer (its anonymous events go there); by
#: several (they still go to the first: a conflict was recorded); by more than its kind's limit allows
#: within the window (it routes to nobody and forms no profile: each conversation stands alone).
UNLINKED: Final = "unlinked"
LINKED: Final = "linked"
SHARED: Final = "shared"
OVER_LIMIT: Final = "over_limit"

#: Published on identity.merges: a profile merged into a customer, or an operator's split undoing it.
MERGE: Final = "merge"
SPLIT: Final = "split"


@dataclass(slots=True)
class IdentityRecord:
    """What the identity graph knows of one identifier, kept in the state under the identifier's key."""

    status: str = UNLINKED
    #: customer id → the event time of its first claim, in claim order; the first is the linked one.
    claimants: dict[str, int] = field(default_factory=dict)
    #: Customers an operator split this identifier from: their claims never link it again.
    barred: list[str] = field(default_factory=list)
    #: The anonymous profile as it was when merged into the first claimant (an encoded CustomerState), the
    #: event that caused the merge and its instant: what a split restores.
    merged: bytes | None = None
    merged_event: str | None = None
    merged_at: int = 0
    #: The merged profile's open alerts: their ids then → their ids under the customer.
    alerts: dict[str, str] = field(default_factory=dict)

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the dataclass's generated one runs interpreted.
    def __init__(
        self,
        status: str = UNLINKED,
        claimants: dict[str, int] | None = None,
        barred: list[str] | None = None,
        merged: bytes | None = None,
        merged_event: str | None = None,
        merged_at: int = 0,
        alerts: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.claimants = {} if claimants is None else claimants
        self.barred = [] if barred is None else barred
        self.merged = merged
        self.merged_event = merged_event
        self.merged_at = merged_at
        self.alerts = {} if alerts is None else alerts

    @property
    def first_claimant(self) -> str | None:
        return next(iter(self.claimants), None)

    def to_list(self) -> list[Any]:
        return [
            self.status,
            [[customer, at] for customer, at in self.claimants.items()],
            self.barred,
            self.merged,
            self.merged_event,
            self.merged_at,
            self.alerts,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> IdentityRecord:
        status, claimants, barred, merged, event, at, alerts = data
        return cls(status, {c: t for c, t in claimants}, list(barred), merged, event, at, dict(alerts))


@dataclass(frozen=True, slots=True)
class Merge:
    """A record of ``identity.merges`` (schemas/identity_merge.v1.json)."""

    action: str
    #: The merged-away key (``id:<kind>:<hash>``) and the customer it went into.
    from_key: str
    into: str
    #: The event that caused it (the claim's touchpoint), or None for an operator's split.
    event_id: str | None
    #: Its instant: the causing event's time, or the operator's.
    at: int
    #: (alert id under from_key, alert id under into) for every open alert that moved.
    alerts: tuple[tuple[str, str], ...] = ()
    by: str | None = None
    reason: str | None = None

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        action: str,
        from_key: str,
        into: str,
        event_id: str | None,
        at: int,
        alerts: tuple[tuple[str, str], ...] = (),
        by: str | None = None,
        reason: str | None = None,
    ) -> None:
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "from_key", from_key)
        object.__setattr__(self, "into", into)
        object.__setattr__(self, "event_id", event_id)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "alerts", alerts)
        object.__setattr__(self, "by", by)
        object.__setattr__(self, "reason", reason)

    def encode(self) -> bytes:
        document: dict[str, Any] = {
            "schema_version": 1,
            "action": self.action,
            "from": self.from_key,
            "into": self.into,
            "event_id": self.event_id,
            "at": iso(self.at),
            "alerts": [{"from": old, "into": new} for old, new in self.alerts],
        }
        if self.by is not None:
            document["by"] = self.by
        if self.reason is not None:
            document["reason"] = self.reason
        return orjson.dumps(document)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A record of ``identity.conflicts`` (schemas/identity_conflict.v1.json): an identifier two customers claim."""

    identifier: str
    #: Every customer that claimed it, first (the linked one) first; the last is the new claimant.
    customers: tuple[str, ...]
    event_id: str
    at: int
    #: SHARED or OVER_LIMIT: what the identifier is now; ``barred`` for a claim after a split.
    outcome: str

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "schema_version": 1,
                "identifier": self.identifier,
                "kind": self.identifier.split(":")[1],
                "customers": list(self.customers),
                "claimant": self.customers[-1],
                "event_id": self.event_id,
                "at": iso(self.at),
                "outcome": self.outcome,
            }
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """An event naming *customer* carried the identifier *key*: sent by ingest to the identifier's partition."""

    key: str
    customer: str
    event_id: str
    at: int

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        key: str,
        customer: str,
        event_id: str,
        at: int,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "customer", customer)
        object.__setattr__(self, "event_id", event_id)
        object.__setattr__(self, "at", at)


@dataclass(frozen=True, slots=True)
class MergeIn:
    """An anonymous profile's state, on its way into the customer that claimed its identifier."""

    into: str
    from_key: str
    event_id: str
    at: int
    #: The profile as it was at the merge (an encoded CustomerState).
    state: bytes

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        into: str,
        from_key: str,
        event_id: str,
        at: int,
        state: bytes,
    ) -> None:
        object.__setattr__(self, "into", into)
        object.__setattr__(self, "from_key", from_key)
        object.__setattr__(self, "event_id", event_id)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "state", state)


@dataclass(frozen=True, slots=True)
class Split:
    """An operator undoes the merge of *from_key* into *into* (schemas/identity_action.v1.json)."""

    from_key: str
    into: str
    by: str
    at: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Unmerge:
    """On its way to *into* after a split: take back what the merge of *from_key* brought."""

    into: str
    from_key: str
    #: The profile as it was at the merge (what the customer received then).
    state: bytes
    by: str
    at: int


@dataclass(frozen=True, slots=True)
class Unlink:
    """A customer was erased: on its way to identifier *key*, whose record must forget *customer*."""

    key: str
    customer: str
    #: The erasure's instant (epoch seconds).
    at: int


#: The records that move identity between partitions.
Control = Claim | MergeIn | Unmerge | Unlink


@dataclass(frozen=True, slots=True)
class Forward:
    """A record the journey sends on, to another key: a touchpoint routed to its customer, or a control record.

    *action*: an operator's alert action for an alert that moved with a merge, to its new id.
    """

    key: str
    touchpoint: dict[str, Any] | None = None
    control: Control | None = None
    action: dict[str, Any] | None = None

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        key: str,
        touchpoint: dict[str, Any] | None = None,
        control: Control | None = None,
        action: dict[str, Any] | None = None,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "touchpoint", touchpoint)
        object.__setattr__(self, "control", control)
        object.__setattr__(self, "action", action)
