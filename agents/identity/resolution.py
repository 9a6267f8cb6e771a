"""The identity graph's decisions about one identifier: who claims it, and where its anonymous events go.

Decided per event, in the order the identifier's partition sees them (a streaming take on the limits,
priorities and blocked values of batch identity-resolution settings):

- The first customer to claim an identifier links it: its anonymous profile merges into that
  customer, and its later anonymous events go there.
- Another customer's claim never merges anything and never takes the identifier from the first:
  two known customers are never merged, and no single record, mistaken or hostile, can move what is
  already a customer's. It is recorded as a conflict on ``identity.conflicts``, and the identifier is
  *shared*; its anonymous events keep going to the first customer, whom an operator can split it
  from (docs/identity.md says why this and not a profile of its own).
- More customers within the kind's window than its limit allows (``identity.limits``, at least 2 by
  default, so that one record can never do it): the identifier is *over its limit* (a shop's demo
  tablet, a team mailbox). It stops routing to anyone and forms no profile: each of its anonymous
  conversations stands alone.
- An operator's split bars the customer: its claims never link the identifier again.
- An erased customer is forgotten: their claim goes (and the bar of a split from them), and with
  it, when they were the linked one, the profile merged into them. One claimant left links the
  identifier to it; none leaves it unlinked, so its anonymous events form a profile of their own again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from agents.domain.identity import (
    LINKED,
    OVER_LIMIT,
    SHARED,
    UNLINKED,
    Claim,
    Conflict,
    IdentityRecord,
    Split,
)
from agents.identity.keys import unlinkable_key

__all__ = ["ALREADY", "BARRED", "ClaimOutcome", "IdentityResolver", "KindLimit"]

#: Outcomes of a claim besides the statuses (LINKED, SHARED, OVER_LIMIT).
ALREADY: Final = "already"
BARRED: Final = "barred"


@dataclass(frozen=True, slots=True)
class KindLimit:
    """At most *customers* may claim an identifier of a kind within *window* seconds (None: ever)."""

    customers: int
    window: int | None


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """What one claim did: LINKED (the first claim: merge the profile), ALREADY, BARRED, SHARED or OVER_LIMIT."""

    outcome: str
    conflict: Conflict | None = None

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): compiled, this runs
    # natively, where the frozen dataclass's generated one runs interpreted.
    def __init__(
        self,
        outcome: str,
        conflict: Conflict | None = None,
    ) -> None:
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "conflict", conflict)

    @property
    def links(self) -> bool:
        return self.outcome == LINKED


class IdentityResolver:
    """The limits of one configuration, applied to identifiers' records."""

    def __init__(self, limits: Mapping[str, KindLimit], salt: bytes) -> None:
        self._limits = dict(limits)
        self._salt = salt

    def route(self, record: IdentityRecord, event: dict[str, Any]) -> str | None:
        """Where an anonymous touchpoint at *record*'s identifier goes; None: to the identifier's own profile."""
        status = record.status
        if status in (LINKED, SHARED):
            return record.first_claimant
        if status == OVER_LIMIT:
            return self.unlinkable(event)
        return None

    def unlinkable(self, event: dict[str, Any]) -> str:
        """Where ``route`` sends *event* from an identifier over its kind's limit (the key of its conversation's
        profile, or of its own)."""
        return unlinkable_key(event, self._salt)

    def over_limit_from(self, key: str) -> int:
        """How many customers must have claimed identifier *key* before it can be over its kind's limit."""
        return self._limit(key).customers + 1

    def _limit(self, key: str) -> KindLimit:
        return self._limits.get(key.split(":")[1], KindLimit(1, None))

    def claim(self, record: IdentityRecord, claim: Claim) -> ClaimOutcome:
        """Apply *claim* to *record* (mutated) and say what it did."""
        customer = claim.customer
        if customer in record.barred:
            return ClaimOutcome(BARRED)
        if customer in record.claimants:
            return ClaimOutcome(ALREADY)
        if record.status == OVER_LIMIT:
            return ClaimOutcome(OVER_LIMIT)  # recorded once, when it went over; nothing changes any more
        if record.status == UNLINKED:
            record.claimants[customer] = claim.at
            record.status = LINKED
            return ClaimOutcome(LINKED)
        record.claimants[customer] = claim.at
        limit = self._limit(claim.key)
        window = limit.window
        within = sum(1 for at in record.claimants.values() if window is None or abs(at - claim.at) <= window)
        record.status = OVER_LIMIT if within > limit.customers else SHARED
        conflict = Conflict(claim.key, tuple(record.claimants), claim.event_id, claim.at, record.status)
        while len(record.claimants) > limit.customers + 1:
            # Bounded: the first (linked) claimant stays, the oldest of the others goes.
            del record.claimants[list(record.claimants)[1]]
        return ClaimOutcome(record.status, conflict)

    @staticmethod
    def can_split(record: IdentityRecord, split: Split) -> bool:
        """Whether *split* names the customer this identifier was linked (and its profile merged) to."""
        return record.first_claimant == split.into and split.into not in record.barred

    @staticmethod
    def split(record: IdentityRecord, split: Split) -> bytes | None:
        """Unlink *record* from ``split.into`` and bar it; return the profile as it was at the merge, if any."""
        restored = record.merged
        del record.claimants[split.into]
        record.barred.append(split.into)
        _recount(record)
        record.merged, record.merged_event, record.merged_at = None, None, 0
        record.alerts = {}
        return restored

    @staticmethod
    def unlink(record: IdentityRecord, customer: str) -> bool:
        """Forget erased *customer* in *record* (mutated); False when the record never named them."""
        if customer not in record.claimants and customer not in record.barred:
            return False
        if record.first_claimant == customer:
            # The profile merged into them, and its alerts' new ids, were theirs.
            record.merged, record.merged_event, record.merged_at = None, None, 0
            record.alerts = {}
        record.claimants.pop(customer, None)
        record.barred = [barred for barred in record.barred if barred != customer]
        _recount(record)
        return True


def _recount(record: IdentityRecord) -> None:
    """The status of a linked or shared identifier after a claimant left: by who is left (over its limit stays)."""
    if record.status in (LINKED, SHARED):
        left = len(record.claimants)
        record.status = UNLINKED if left == 0 else LINKED if left == 1 else SHARED
