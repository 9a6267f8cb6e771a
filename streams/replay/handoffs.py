"""Identity between processes: in a replay applied by several, which process hands what to which, and where.

Identity moves work between partitions within a touchpoint's turn (agents/journey/step.py). An
anonymous touchpoint at a linked identifier goes on to its customer; a customer's touchpoint claims
its identifiers, each in the identifier's partition, and a claim that links an anonymous profile
sends the profile on into the customer; an erasure unlinks the customer's identifiers. One process
applying every partition does each at once, before the next touchpoint. Processes applying some
partitions each must do the same at the same places, so each knows in advance where it hands work
to another, and where it must wait for another's.

Both follow from the records alone. Decoding sets aside the rows that matter to identity (an
identifier's own touchpoints, the touchpoints that claim identifiers: ``IdentityRow``), and every
process reads them merged, in the replay's order, through the same ``HandoffPlan``: who claimed
each identifier before each row, and whether it may hold an anonymous profile. Most of what moves
is certain from that alone: an identifier one customer claimed, and nobody erased since, sends
every touchpoint of its own on to that customer, so the customer's process applies it from its
own copy of the row, and nobody waits (``ROUTE``; the identifier's process checks that it went
there: ``HANDED``). What is not certain is a superset of what can happen: where the plan says a
process may receive, the sender always sends, an empty message if nothing moved; where it says
nothing, nothing may move (a hand-off it did not foresee stops the replay with an error rather
than let the outputs differ).

A turn has steps, so that the lines each process writes for it sort into one process's order
(``streams.replay.parts``): the touchpoint (``ROW_STEP``), where it went on to (``ROW_STEP + 1``), then
for each claim its identifier's step (``claim_step(i)``) and the profile merging in (the step after).
Each process waits only for messages from turns it has itself reached, so none waits for ever.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from multiprocessing.connection import Connection
from typing import Any, Final

import orjson

from agents.domain.identity import Claim, Control, Forward, MergeIn, Unlink, Unmerge
from agents.identity.keys import is_identifier_key
from agents.identity.resolution import IdentityResolver
from streams.partitioner import partition_for

__all__ = [
    "CLAIM",
    "HANDED",
    "RECEIVE",
    "ROUTE",
    "ROW_STEP",
    "SEND",
    "Handoff",
    "HandoffPlan",
    "Handoffs",
    "IdentityRow",
    "claim_step",
    "process_of",
]

#: (event time in µs, line number, partition, key, claims as (identifier key, customer, event id, at), and
#: the touchpoint if it is an identifier's own (b"" for one that claims)): a row of the replay that identity
#: may move work from.
IdentityRow = tuple[int, int, int, str, tuple[tuple[str, str, str, int], ...], bytes]

#: Kinds of hand-off: wait for *peer*'s message after step *step* and apply what it holds as the next step;
#: send what step *step* made for each of *peers* (an empty message if nothing); apply the claim of another
#: process's touchpoint here as step *step*, and send what it made to *peer* (-1: it can make nothing);
#: apply here, as the step after *step*, the touchpoint another process's identifier sends on to *customer*;
#: check that what step *step* sent on is that touchpoint, to *customer* of process *peer*, and let it go.
RECEIVE: Final = 0
SEND: Final = 1
CLAIM: Final = 2
ROUTE: Final = 3
HANDED: Final = 4
#: (event time µs, line number, step, kind, peer or peers or claim or touchpoint, peer of a CLAIM or customer):
#: one hand-off of a process.
Handoff = tuple[int, int, int, int, Any, Any]

#: The step of a touchpoint itself; where it went on to is the step after.
ROW_STEP: Final = 0


def process_of(partition: int, processes: int) -> int:
    """The process, of *processes*, that applies *partition*."""
    return partition % processes


def claim_step(index: int) -> int:
    """The step of a touchpoint's claim *index*; the profile merging in from it is the step after."""
    return 2 + 2 * index


class _Identifier:
    """What the plan knows of one identifier so far."""

    __slots__ = ("claimants", "owners", "profile", "settled")

    def __init__(self) -> None:
        #: The customers that have claimed it (none leave here), up to as many as can put it over its limit;
        #: a tuple, since most have one: a plan holds one of these for every identifier of the replay.
        self.claimants: tuple[str, ...] = ()
        #: Bit p set: a claimant's partition is applied by process p.
        self.owners = 0
        #: It may hold an anonymous profile: a touchpoint of its own may have stayed with it.
        self.profile = False
        #: Claimed and linked to someone for sure: its touchpoints go on to a claimant (or, over its limit,
        #: to a key of their own); an erasure of a claimant unsettles it.
        self.settled = False


#: (instant in epoch seconds, customer id, …): the replay's erasures (``streams.replay.shard.Erasure``).
_Erasure = tuple[int, str, int, dict[str, Any]]


class HandoffPlan:
    """The hand-offs of process *me* among *processes* (``process_of`` says which applies each partition)."""

    def __init__(
        self,
        partitions: int,
        processes: int,
        me: int,
        resolver: IdentityResolver,
        erasures: Sequence[_Erasure] = (),
    ) -> None:
        self._partitions = partitions
        self._processes = processes
        self._me = me
        self._resolver = resolver
        self._identifiers: dict[str, _Identifier] = {}
        self._erasures = sorted((instant, customer) for instant, customer, _, _ in erasures)
        self._erased = {customer for _, customer in self._erasures}
        self._next_erasure = 0
        #: Customer with an erasure still ahead → the identifiers they claimed.
        self._claimed: dict[str, set[str]] = {}

    def __call__(self, rows: Iterable[IdentityRow]) -> Iterator[Handoff]:
        """This process's hand-offs, in the replay's order, from every process's *rows* in that order."""
        me, processes = self._me, self._processes
        for micros, number, partition, key, claims, body in rows:
            self._erase_before(micros)
            owner = process_of(partition, processes)
            if body:
                identifier = self._identifier(key)
                customer = self._certain(key, identifier)
                if customer is not None:
                    # Linked to one customer for sure: the touchpoint goes on to them.
                    there = self._process_of_key(customer)
                    if there != owner:
                        if owner == me:
                            yield micros, number, ROW_STEP, HANDED, there, customer
                        elif there == me:
                            yield micros, number, ROW_STEP, ROUTE, body, customer
                elif identifier.claimants:
                    targets = identifier.owners
                    if len(identifier.claimants) >= self._resolver.over_limit_from(key):
                        # Over its limit, it sends the touchpoint to a key of its own (a conversation's, an event's).
                        targets |= 1 << self._process_of_key(self._resolver.unlinkable(orjson.loads(body)))
                    targets &= ~(1 << owner)
                    if targets:
                        if owner == me:
                            peers = tuple(p for p in range(processes) if targets >> p & 1)
                            yield micros, number, ROW_STEP, SEND, peers, None
                        elif targets >> me & 1:
                            yield micros, number, ROW_STEP, RECEIVE, owner, None
                if not identifier.settled:
                    identifier.profile = True
            for index, claim in enumerate(claims):
                identifier_key, customer = claim[0], claim[1]
                identifier = self._identifier(identifier_key)
                holder = self._process_of_key(identifier_key)
                merges = identifier.profile
                if holder != owner:
                    if holder == me:
                        yield micros, number, claim_step(index), CLAIM, claim, owner if merges else -1
                    elif owner == me and merges:
                        yield micros, number, claim_step(index), RECEIVE, holder, None
                claimants = identifier.claimants
                # Past its limit the count no longer matters: an identifier shared by thousands stays small.
                if customer not in claimants and len(claimants) < max(
                    2, self._resolver.over_limit_from(identifier_key)
                ):
                    identifier.claimants = (*claimants, customer)
                identifier.owners |= 1 << owner
                identifier.profile = False
                identifier.settled = True
                if customer in self._erased:
                    self._claimed.setdefault(customer, set()).add(identifier_key)

    def _identifier(self, key: str) -> _Identifier:
        identifier = self._identifiers.get(key)
        if identifier is None:
            identifier = self._identifiers[key] = _Identifier()
        return identifier

    def _process_of_key(self, key: str) -> int:
        return process_of(partition_for(key.encode(), self._partitions), self._processes)

    def _certain(self, key: str, identifier: _Identifier) -> str | None:
        """The one customer *key*'s touchpoints go on to for sure, if there is one: they alone claimed it, nobody
        erased them or it since, and one claimant is within its kind's limit."""
        if len(identifier.claimants) != 1 or not identifier.settled or key in self._erased:
            return None
        if self._resolver.over_limit_from(key) < 2:
            return None
        (customer,) = identifier.claimants
        return customer

    def _erase_before(self, micros: int) -> None:
        """Erasures dated before *micros* unlink their customers' identifiers: those may be linked to nobody."""
        erasures = self._erasures
        while self._next_erasure < len(erasures) and erasures[self._next_erasure][0] * 1_000_000 < micros:
            for identifier_key in self._claimed.pop(erasures[self._next_erasure][1], ()):
                self._identifiers[identifier_key].settled = False
            self._next_erasure += 1


def identity_row(
    micros: int,
    number: int,
    partition: int,
    key: str,
    claims: tuple[tuple[str, str, str, int], ...],
    body: bytes,
) -> IdentityRow | None:
    """The row the plan needs of a decoded touchpoint (*body*: its JSON), None if identity can move nothing from it."""
    if claims:
        return micros, number, partition, key, claims, b""
    if is_identifier_key(key):
        return micros, number, partition, key, (), body
    return None


_CONTROLS: Final[dict[str, type[Any]]] = {cls.__name__: cls for cls in (Claim, MergeIn, Unmerge, Unlink)}
_FIELDS: Final = {name: tuple(field.name for field in fields(cls)) for name, cls in _CONTROLS.items()}


def _encode(forward: Forward) -> tuple[Any, ...]:
    control = forward.control
    message = None
    if control is not None:
        name = type(control).__name__
        message = (name, tuple(getattr(control, field) for field in _FIELDS[name]))
    return forward.key, forward.touchpoint, message, forward.action


def _decode(item: tuple[Any, ...]) -> Forward:
    key, touchpoint, message, action = item
    control: Control | None = None
    if message is not None:
        control = _CONTROLS[message[0]](*message[1])
    return Forward(key, touchpoint, control, action)


class Handoffs:
    """Process *me*'s part of a replay's identity: its plan and its pipes to the others (*peers*: process → pipe)."""

    def __init__(
        self, me: int, processes: int, plan: Iterator[Handoff], peers: Mapping[int, Connection]
    ) -> None:
        self.me = me
        self.processes = processes
        self.plan = plan
        self._peers = dict(peers)
        #: Messages sent, for the summary.
        self.sent = 0

    def owns(self, partition: int) -> bool:
        return process_of(partition, self.processes) == self.me

    def owner(self, partition: int) -> int:
        return process_of(partition, self.processes)

    def others(self) -> tuple[int, ...]:
        return tuple(sorted(self._peers))

    def send(self, peer: int, forwards: Sequence[Forward]) -> None:
        self._peers[peer].send_bytes(marshal.dumps([_encode(forward) for forward in forwards]))
        self.sent += 1

    def receive(self, peer: int) -> list[Forward]:
        return [_decode(item) for item in marshal.loads(self._peers[peer].recv_bytes())]
