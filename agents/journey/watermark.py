"""How far a partition's event time has come, as no single customer can say alone.

Deadlines of every customer on a partition fire when the partition's event time
passes them. If that time were simply the newest event seen, one record dated
2099 would fire every pending deadline of the partition at once. Here it is the
newest time reached by at least ``quorum`` distinct customers: with the default
quorum of 2, a record can move the partition's time only up to a time another
customer has already reached, never beyond it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PartitionClock"]


class PartitionClock:
    """The newest event time that at least ``quorum`` distinct customers have reached.

    Keeps only the ``quorum`` customers with the latest clocks: exact, because a
    customer's clock only moves forward and the k-th latest clock never falls.

    >>> clock = PartitionClock(quorum=2)
    >>> clock.observe("anna", 100), clock.observe("anna", 4_000_000_000)
    (None, None)
    >>> clock.observe("ben", 200)
    200
    >>> clock.observe("carl", 150), clock.observe("ben", 300)
    (200, 300)
    """

    __slots__ = ("_quorum", "_top")

    def __init__(self, quorum: int = 2) -> None:
        if quorum < 1:
            raise ValueError(f"quorum must be at least 1, got {quorum}")
        self._quorum = quorum
        #: (instant, customer), latest first: at most quorum distinct customers.
        self._top: list[tuple[int, str | bytes]] = []

    @property
    def time(self) -> int | None:
        """The attested time, or None until ``quorum`` customers have been seen."""
        top: list[Any] = self._top  # as objects: see observe
        return top[-1][0] if len(top) == self._quorum else None

    def snapshot(self) -> list[tuple[int, str | bytes]]:
        """What the clock knows: the latest (instant, customer) of at most ``quorum`` customers."""
        return list(self._top)

    @classmethod
    def combined(cls, quorum: int, *snapshots: list[tuple[int, str | bytes]]) -> PartitionClock:
        """The clock of the events behind all of *snapshots* together (in any order, on any partitions).

        Exact: a customer among the ``quorum`` latest of the union is among them in the part where it
        reached its latest instant.

        >>> a, b = PartitionClock(2), PartitionClock(2)
        >>> a.observe("anna", 300), b.observe("ben", 200), b.observe("carl", 100)
        (None, None, 100)
        >>> PartitionClock.combined(2, a.snapshot(), b.snapshot()).time
        200
        """
        latest: dict[str | bytes, int] = {}
        for snapshot in snapshots:
            for instant, customer in snapshot:
                if instant > latest.get(customer, instant - 1):
                    latest[customer] = instant
        clock = cls(quorum)
        for customer, instant in latest.items():
            clock.observe(customer, instant)
        return clock

    def observe(self, customer: str | bytes, instant: int) -> int | None:
        """Count *customer*'s event at *instant*; return the attested time afterwards."""
        # The entries read as objects: typed as the tuples they are, the compiled core would unpack each one
        # read and pack it again, a new tuple and integer, wherever it is stored or returned.
        top: list[Any] = self._top
        for index in range(len(top)):
            entry = top[index]
            if entry[1] == customer:
                seen: int = entry[0]
                if instant > seen:
                    top[index] = (instant, customer)
                    _move_up(top, index)
                return self.time
        if len(top) < self._quorum:
            top.append((instant, customer))
        else:
            latest: int = top[-1][0]
            if instant <= latest:
                return self.time
            top[-1] = (instant, customer)
        _move_up(top, len(top) - 1)
        return self.time


def _move_up(top: list[Any], index: int) -> None:
    """Put the entry at *index*, whose instant only grew, where a stable sort latest-first puts it.

    The rest of *top* is in that order already, so the entry moves past the earlier instants before
    it and stays behind equal ones: what ``top.sort(key=…, reverse=True)`` did, without its call.
    """
    entry = top[index]
    while index > 0 and top[index - 1][0] < entry[0]:
        top[index] = top[index - 1]
        index -= 1
    top[index] = entry
